//! Owns: every order's life — the one funnel from intent to venue command (instrument
//! checks, sizing and rounding, client ids), the order state machine driven by venue
//! reports, idempotent retries, cancels, brackets (exchange-side stop-loss and take-profit
//! kept in step with the entry's fills, sibling cancelled when one side fills), fill
//! de-duplication, rebuilding from the journal and reconciliation with the venue.
//! Never: reads the clock, does I/O, or lets an order out before reconciliation finished.
//!
//! State machine (venue reports move it; anything else is counted and ignored):
//! ```text
//! PendingNew ─Accepted→ New ─Fill→ PartiallyFilled ─Fill→ Filled
//!     │                  │  └───────────┴─Cancel→ PendingCancel ─Canceled→ Canceled
//!     └─Rejected→ Rejected   └─Expired→ Expired
//! ```
//! A fill may arrive before its ack (the venue's streams are not ordered with the reply);
//! the fill then implies the ack. Rate-limit, timestamp and "unavailable" rejects of a new
//! order are retried with the same client id (so a request the venue did take is refused as
//! a duplicate, never placed twice); a lost ack is resolved by asking the venue.

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasherDefault;

/// A fixed hasher for the order table: the manager iterates it (bulk cancels, stop
/// tightening, reconciliation), and with the process-random default the order of those
/// commands would differ between two runs of the same backtest.
type FixedHash = BuildHasherDefault<std::collections::hash_map::DefaultHasher>;

use crate::core::ids::ClientOrderIdGen;
use crate::core::{
    ClientOrderId, ExecEvent, Fill, Instrument, IntentAction, Market, MarketEvent, MarketEventKind,
    Notional, OrderIntent, OrderRole, OrderStatus, OrderType, OrderUpdate, Price, Qty, StrategyId,
    SymbolId, TimeInForce,
};
use crate::engine::stage::{OrderOutputs, Outbox};
use crate::engine::JournalMsg;
use crate::risk::{Approved, ExposureBook};

use super::reject;
use super::venue::{
    LinkState, MarginParams, RejectKind, VenueCommand, VenueFill, VenueOpenOrder, VenueOrder,
    VenueReport,
};

/// Where fills, balances and positions go: the portfolio.
pub trait Ledger {
    /// Applies a new (already de-duplicated) fill; returns its fee in the quote currency.
    fn apply_fill(&mut self, fill: &VenueFill) -> Notional;
    /// The venue's balance of an asset (reconciliation or account stream); returns what it
    /// changed, so a difference can be journaled.
    fn set_balance(
        &mut self,
        asset: crate::core::AssetName,
        free: Qty,
        locked: Qty,
    ) -> super::portfolio::BalanceCorrection;
    /// The venue's position in a symbol (reconciliation or account stream).
    fn set_position(&mut self, symbol: SymbolId, qty: Qty, entry_price: Price);
    /// Marks a symbol at a price (book mid or mark price).
    fn mark(&mut self, symbol: SymbolId, price: Price);
    /// Equity, PnL and fees for the gauges (display only: decisions use the exact values).
    fn account(&self) -> super::metrics::AccountFigures;
    /// Exact equity in the valuation asset; `None` while anything held cannot be valued.
    fn equity_value(&self) -> Option<Notional> {
        None
    }
    /// Fills `rows` with the open positions; returns how many.
    fn position_rows(&self, _rows: &mut [crate::engine::control::PositionRow]) -> usize {
        0
    }
}

/// Fills kept for the operator's status, most recent last.
pub const RECENT_FILLS: usize = crate::engine::control::STATUS_FILLS;

/// Order manager settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OmsConfig {
    /// The market this manager's venue trades.
    pub market: Market,
    /// Most orders tracked at once (open and recently final); the table never grows past it.
    pub capacity: usize,
    /// A new order without an answer for this long is asked about (`QueryOrder`).
    pub ack_timeout_ns: u64,
    /// Retries of one request after rate-limit, timestamp or unavailable rejects.
    pub max_retries: u8,
    /// Wait before a retry when the venue gave no `retry_after`.
    pub retry_backoff_ns: u64,
    /// Margin parameters for every order (margin market only).
    pub margin: MarginParams,
    /// Where a spot stop leg's limit sits beyond its trigger, in bps of the trigger, when
    /// the instrument takes no stop-market (real BTCUSDT: `STOP_LOSS_LIMIT` only). Default
    /// 25: the slippage the system we replace accepted from a spot taker order
    /// (`SPOT_TAKER_MAX_SLIP_BPS`, seed-spec §8.7). Wider fills in a faster fall; narrower
    /// gives less away but leaves the stop resting unfilled when the price gaps past it.
    pub stop_limit_slippage_bps: u32,
}

impl Default for OmsConfig {
    fn default() -> Self {
        Self {
            market: Market::Spot,
            capacity: 4096,
            ack_timeout_ns: 5_000_000_000,
            max_retries: 3,
            retry_backoff_ns: 200_000_000,
            margin: MarginParams::default(),
            stop_limit_slippage_bps: 25,
        }
    }
}

/// What the manager counted (exported by the stage).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OmsCounters {
    pub intents: u64,
    pub orders_sent: u64,
    pub local_rejects: u64,
    pub venue_rejects: u64,
    pub fills: u64,
    pub duplicate_fills: u64,
    pub fills_unknown_order: u64,
    pub retries: u64,
    pub queries: u64,
    pub cancels_sent: u64,
    pub brackets_placed: u64,
    pub unprotected_fills: u64,
    pub stale_reports: u64,
    pub adopted_orders: u64,
    pub outbox_full: u64,
    /// Orders the venue never answered about, even after every status query.
    pub unanswered: u64,
}

/// Longest wait between attempts of a failing reconciliation.
const RECONCILE_RETRY_CAP_NS: u64 = 10_000_000_000;

/// Status queries sent about one unanswered order before it is reported as unanswered.
const MAX_STATUS_QUERIES: u8 = 3;

/// One tracked order.
#[derive(Debug, Clone, Copy)]
struct Order {
    state: OrderUpdate,
    market: Market,
    /// Bracket prices an entry asked for (zero: none).
    stop_loss: Price,
    take_profit: Price,
    /// The entry's bracket orders (stop, take-profit; zero when none).
    bracket: [ClientOrderId; 2],
    /// Quantity the live bracket protects.
    protected_qty: Qty,
    /// The bracket must be replaced once the old one is gone.
    rebracket: bool,
    /// Monotonic ns the last request for this order went out.
    sent_ns: u64,
    /// When a retry is due (0: none).
    retry_at_ns: u64,
    retries: u8,
    /// Status queries sent since the last answer.
    queries: u8,
    /// Listed by the venue during the current reconciliation.
    listed: bool,
    cause_recv_ns: u64,
    /// A venue trade id below every trade of this order: the symbol's highest known trade
    /// id when the order was created (the venue numbers trades in time order). While the
    /// order is open, reconciliation asks for trades after this, not after the highest id
    /// seen: fills of different orders can arrive (and be journaled) out of id order, and
    /// one lost in a crash must still be fetched.
    trade_floor: u64,
    /// The OCO list this order is a leg of (zero: none).
    oco_list: ClientOrderId,
    /// Of the filled quantity the venue listed when it was adopted during the running
    /// reconciliation, the part no fill has brought yet. `filled_qty` already counts it, so
    /// the fills that reconciliation's trades bring for it are not added again; a fill
    /// beyond it (made after the venue's snapshot) is. Zero once reconciliation is done.
    listed_unmatched: Qty,
}

impl Order {
    /// A freshly tracked order in `state`, last sent at `sent_ns`, with no bracket, retry
    /// or query history.
    fn new(
        state: OrderUpdate,
        market: Market,
        sent_ns: u64,
        cause_recv_ns: u64,
        trade_floor: u64,
    ) -> Self {
        Self {
            state,
            market,
            stop_loss: Price::ZERO,
            take_profit: Price::ZERO,
            bracket: [ClientOrderId::default(); 2],
            protected_qty: Qty::ZERO,
            rebracket: false,
            sent_ns,
            retry_at_ns: 0,
            retries: 0,
            queries: 0,
            listed: false,
            cause_recv_ns,
            trade_floor,
            oco_list: ClientOrderId::default(),
            listed_unmatched: Qty::ZERO,
        }
    }

    fn is_open(&self) -> bool {
        !self.state.status.is_final()
    }
}

/// Per-symbol facts the manager needs.
#[derive(Debug, Clone, Default)]
struct SymbolState {
    instrument: Option<Instrument>,
    /// Last book mid or trade price: the reference for market-order notional checks.
    reference: Price,
    /// Reconciled with the venue since the last start or reconnect.
    reconciled: bool,
    /// Highest venue trade id seen (reconciliation asks for trades after it).
    last_trade_id: u64,
    /// When the next attempt of a failed reconciliation is due (0: none waiting).
    reconcile_retry_at_ns: u64,
    /// Failed reconciliations in a row (the retry wait doubles with each).
    reconcile_failures: u32,
}

/// The order manager: intents and venue reports in; venue commands, order updates, fills
/// and journal records out.
pub struct OrderManager<L> {
    config: OmsConfig,
    ids: ClientOrderIdGen,
    orders: HashMap<ClientOrderId, Order, FixedHash>,
    symbols: Vec<SymbolState>,
    seen_trades: HashSet<(SymbolId, u64)>,
    ledger: L,
    counters: OmsCounters,
    /// Final orders kept for late reports, oldest first; pruned when the table is full.
    finished: std::collections::VecDeque<ClientOrderId>,
    /// The timer's scan of the order table for retries and ack timeouts is skipped before
    /// this time: the earliest deadline the last scan found. Anything that can set an
    /// earlier one (an order update, a retry scheduled) resets it to 0.
    next_order_scan_ns: u64,
    /// Live OCO lists: list id → [stop leg, take-profit leg].
    oco_lists: HashMap<ClientOrderId, [ClientOrderId; 2], FixedHash>,
    /// What the risk rails count: open quantities and positions, kept in step here, where
    /// every order update and fill passes.
    exposure: ExposureBook,
    /// Symbols to close at market once their last open order is gone (a flatten).
    flatten_pending: Vec<bool>,
    /// The last fills, a ring; `fills_seen` counts every fill ever kept.
    recent_fills: [Fill; RECENT_FILLS],
    fills_seen: usize,
}

impl<L: Ledger> OrderManager<L> {
    /// A manager for `symbols` (index = `SymbolId`) with their instruments, issuing ids of
    /// journal session `session`. Trading waits for [`OrderManager::start_reconcile`] to finish.
    pub fn new(
        config: OmsConfig,
        session: u32,
        instruments: Vec<Option<Instrument>>,
        ledger: L,
    ) -> Result<Self, crate::core::ids::IdError> {
        let capacity = config.capacity.max(16);
        let symbol_count = instruments.len();
        Ok(Self {
            exposure: ExposureBook::new(symbol_count, capacity),
            flatten_pending: vec![false; symbol_count],
            next_order_scan_ns: 0,
            recent_fills: [Fill::default(); RECENT_FILLS],
            fills_seen: 0,
            ids: ClientOrderIdGen::new(session)?,
            orders: HashMap::with_capacity_and_hasher(capacity, FixedHash::default()),
            symbols: instruments
                .into_iter()
                .map(|instrument| SymbolState {
                    instrument,
                    ..SymbolState::default()
                })
                .collect(),
            seen_trades: HashSet::with_capacity(capacity * 4),
            ledger,
            counters: OmsCounters::default(),
            finished: std::collections::VecDeque::with_capacity(capacity),
            oco_lists: HashMap::with_capacity_and_hasher(capacity / 2, FixedHash::default()),
            config,
        })
    }

    /// Counters so far.
    pub fn counters(&self) -> &OmsCounters {
        &self.counters
    }

    /// Copies the last fills into `out`, oldest first; returns how many.
    pub fn recent_fills(&self, out: &mut [Fill]) -> usize {
        let kept = self.fills_seen.min(RECENT_FILLS).min(out.len());
        for (i, slot) in out.iter_mut().take(kept).enumerate() {
            *slot = self.recent_fills[(self.fills_seen - kept + i) % RECENT_FILLS];
        }
        kept
    }

    /// Open quantities and positions, for the risk rails.
    pub fn exposure(&self) -> &ExposureBook {
        &self.exposure
    }

    /// The portfolio.
    pub fn ledger(&self) -> &L {
        &self.ledger
    }

    /// The portfolio, mutably (for the stage's marks and reports).
    pub fn ledger_mut(&mut self) -> &mut L {
        &mut self.ledger
    }

    /// The latest state of an order, if tracked.
    pub fn order(&self, id: ClientOrderId) -> Option<&OrderUpdate> {
        self.orders.get(&id).map(|o| &o.state)
    }

    /// Every open order's latest state.
    pub fn open_orders(&self) -> impl Iterator<Item = &OrderUpdate> {
        self.orders
            .values()
            .filter(|o| o.is_open())
            .map(|o| &o.state)
    }

    /// The highest venue trade id seen for `symbol` (journal and live).
    pub fn last_trade_id(&self, symbol: SymbolId) -> u64 {
        self.symbols
            .get(symbol.index())
            .map_or(0, |s| s.last_trade_id)
    }

    /// The trade id reconciliation of `symbol` asks for trades after: the highest seen, or
    /// the floor of the oldest open order when lower (its fills may be missing).
    pub fn reconcile_since(&self, symbol: SymbolId) -> u64 {
        self.orders
            .values()
            .filter(|o| o.is_open() && o.state.symbol == symbol)
            .map(|o| o.trade_floor)
            .fold(self.last_trade_id(symbol), u64::min)
    }

    /// True once every traded symbol has been reconciled with the venue.
    pub fn is_reconciled(&self) -> bool {
        self.symbols
            .iter()
            .all(|s| s.instrument.is_none() || s.reconciled)
    }

    /// Rebuilds state from journal records of earlier sessions, in journal order: the last
    /// update of each order wins, every fill goes to the ledger once.
    pub fn recover_update(&mut self, update: &OrderUpdate) {
        let was_open = self
            .orders
            .get(&update.client_order_id)
            .is_none_or(Order::is_open);
        if was_open && update.status.is_final() {
            self.finished.push_back(update.client_order_id);
        }
        let market = self.config.market;
        // The trades replayed so far happened before this order was created.
        let floor = self.last_trade_id(update.symbol);
        let entry = self
            .orders
            .entry(update.client_order_id)
            .or_insert_with(|| Order::new(*update, market, 0, 0, floor));
        entry.state = *update;
        self.next_order_scan_ns = 0;
        self.exposure.on_update(update);
        // A bracket order names its entry: restore the link both ways (a final leg too: its
        // entry was protected, and a trip its bracket closed is not bracketed again).
        if update.parent.0 != 0 {
            if let Some(parent) = self.orders.get_mut(&update.parent) {
                let slot = usize::from(update.role == OrderRole::TakeProfit);
                if parent.bracket[slot] != update.client_order_id {
                    parent.bracket[slot] = update.client_order_id;
                    parent.protected_qty = update.qty;
                }
                let [stop, take] = parent.bracket;
                self.recover_oco_list(stop, take);
            }
        }
    }

    /// Links the legs of a spot bracket back to their OCO list (the journal records the legs,
    /// not the list). `place_bracket` draws the stop's id, the take-profit's and the list's
    /// one after another, so the list id is the one after the take-profit's.
    fn recover_oco_list(&mut self, stop: ClientOrderId, take: ClientOrderId) {
        if self.config.market == Market::UsdmFutures || stop.0 == 0 || take.0 != stop.0 + 1 {
            return;
        }
        let list = ClientOrderId(take.0 + 1);
        let unlinked = [stop, take]
            .iter()
            .all(|id| self.orders.get(id).is_some_and(|o| o.oco_list.0 == 0));
        if !unlinked || list.session() != stop.session() {
            return;
        }
        for id in [stop, take] {
            if let Some(leg) = self.orders.get_mut(&id) {
                leg.oco_list = list;
            }
        }
        self.oco_lists.insert(list, [stop, take]);
    }

    /// Restores an entry's bracket prices from its intent (journal replay).
    pub fn recover_bracket_prices(&mut self, entry: ClientOrderId, stop: Price, take: Price) {
        if let Some(order) = self.orders.get_mut(&entry) {
            order.stop_loss = stop;
            order.take_profit = take;
        }
    }

    /// Replays a journaled fill into the ledger (and the duplicate filter).
    pub fn recover_fill(&mut self, fill: &Fill, quote_asset: crate::core::AssetName) {
        if !self.seen_trades.insert((fill.symbol, fill.venue_trade_id)) {
            return;
        }
        self.exposure.on_fill(fill);
        if let Some(s) = self.symbols.get_mut(fill.symbol.index()) {
            s.last_trade_id = s.last_trade_id.max(fill.venue_trade_id);
        }
        let venue_fill = VenueFill {
            client_order_id: fill.client_order_id,
            symbol: fill.symbol,
            market: self.config.market,
            side: fill.side,
            price: fill.price,
            qty: fill.qty,
            fee: Qty::from_raw(fill.fee.raw()),
            fee_asset: quote_asset,
            venue_trade_id: fill.venue_trade_id,
            venue_order_id: 0,
            is_maker: fill.is_maker,
            venue_ts_ms: 0,
        };
        self.ledger.apply_fill(&venue_fill);
    }

    /// Starts reconciliation of every traded symbol: trading is refused until the venue has
    /// answered each with `ReconcileDone`.
    pub fn start_reconcile(&mut self, commands: &mut Outbox<VenueCommand>) {
        let market = self.config.market;
        for order in self.orders.values_mut() {
            order.listed = false;
        }
        for index in 0..self.symbols.len() {
            let symbol = SymbolId(index as u32);
            let since_trade_id = self.reconcile_since(symbol);
            let s = &mut self.symbols[index];
            if s.instrument.is_none() {
                continue;
            }
            s.reconciled = false;
            s.reconcile_retry_at_ns = 0;
            let command = VenueCommand::Reconcile {
                symbol,
                market,
                since_trade_id,
            };
            if commands.push(command).is_err() {
                self.counters.outbox_full += 1;
            }
        }
    }

    /// Market data: keeps the reference price of each symbol and marks the ledger.
    pub fn on_market(&mut self, event: &MarketEvent) {
        let price = match &event.kind {
            MarketEventKind::BookTicker(t) => mid(t.bid_price, t.ask_price),
            MarketEventKind::Book(top) if top.valid && top.bid_count > 0 && top.ask_count > 0 => {
                mid(top.bids[0].price, top.asks[0].price)
            }
            MarketEventKind::Trade(t) => t.price,
            MarketEventKind::Book(_) => return,
        };
        if let Some(s) = self.symbols.get_mut(event.symbol.index()) {
            if price.is_positive() {
                s.reference = price;
                self.ledger.mark(event.symbol, price);
            }
        }
    }

    /// A strategy's intent, approved by the risk rails.
    pub fn on_intent(
        &mut self,
        approved: &Approved<OrderIntent>,
        now_ns: u64,
        commands: &mut Outbox<VenueCommand>,
        out: &mut OrderOutputs,
    ) {
        let intent = approved.get();
        self.counters.intents += 1;
        self.journal(
            out,
            JournalMsg::Intent {
                event_ns: now_ns,
                intent: *intent,
            },
        );
        match intent.action {
            IntentAction::New => self.place_entry(intent, now_ns, commands, out),
            IntentAction::Cancel => {
                let open = self
                    .orders
                    .get(&intent.target)
                    .is_some_and(|o| o.is_open() && o.state.strategy == intent.strategy);
                if open {
                    self.cancel(intent.target, now_ns, commands, out);
                } else {
                    self.counters.local_rejects += 1;
                    let mut update = rejected_intent(intent, reject::CANCEL_UNKNOWN_ORDER);
                    update.client_order_id = intent.target;
                    self.emit(out, now_ns, update);
                }
            }
            IntentAction::CancelAll => {
                let targets: [ClientOrderId; 64] = self.open_ids(intent.strategy, intent.symbol);
                for id in targets.into_iter().take_while(|id| id.0 != 0) {
                    self.cancel(id, now_ns, commands, out);
                }
            }
            IntentAction::Rebracket => {
                if let Err(code) = self.move_bracket(intent, now_ns, commands, out) {
                    self.counters.local_rejects += 1;
                    self.emit(out, now_ns, rejected_intent(intent, code));
                }
            }
        }
    }

    /// Periodic call: due retries and ack timeouts.
    pub fn on_timer(
        &mut self,
        now_ns: u64,
        commands: &mut Outbox<VenueCommand>,
        out: &mut OrderOutputs,
    ) {
        self.flatten_due(now_ns, commands, out);
        let market = self.config.market;
        for index in 0..self.symbols.len() {
            let due = self.symbols[index].reconcile_retry_at_ns;
            if due == 0 || now_ns < due {
                continue;
            }
            self.symbols[index].reconcile_retry_at_ns = 0;
            let symbol = SymbolId(index as u32);
            let again = VenueCommand::Reconcile {
                symbol,
                market,
                since_trade_id: self.reconcile_since(symbol),
            };
            if commands.push(again).is_err() {
                self.counters.outbox_full += 1;
            }
        }
        if now_ns < self.next_order_scan_ns {
            return;
        }
        let timeout = self.config.ack_timeout_ns;
        let mut due: [(ClientOrderId, bool); 32] = [(ClientOrderId::default(), false); 32];
        let mut n = 0;
        let mut next_deadline = u64::MAX;
        for (id, order) in &self.orders {
            if n == due.len() {
                // More are due than one pass takes: scan again on the next call.
                next_deadline = 0;
                break;
            }
            if order.retry_at_ns != 0 && now_ns < order.retry_at_ns {
                next_deadline = next_deadline.min(order.retry_at_ns);
            }
            let retry = order.retry_at_ns != 0 && now_ns >= order.retry_at_ns;
            // A new order or a cancel without an answer: ask, again after each timeout, up
            // to the budget; a venue that never answers leaves the order pending (it may
            // exist) and says so once in the journal.
            let waiting = matches!(
                order.state.status,
                OrderStatus::PendingNew | OrderStatus::PendingCancel
            );
            let asks = waiting && order.retry_at_ns == 0 && order.queries <= MAX_STATUS_QUERIES;
            let unanswered = asks && now_ns.saturating_sub(order.sent_ns) >= timeout;
            if asks && !unanswered {
                next_deadline = next_deadline.min(order.sent_ns.saturating_add(timeout));
            }
            if retry || unanswered {
                due[n] = (*id, retry);
                n += 1;
            }
        }
        // What this pass sends or queries gets new deadlines: look again next time then.
        self.next_order_scan_ns = if n > 0 { 0 } else { next_deadline };
        for &(id, retry) in &due[..n] {
            if retry && self.orders.get(&id).is_some_and(|o| o.oco_list.0 != 0) {
                self.retry_oco(id, now_ns, commands);
                continue;
            }
            let Some(order) = self.orders.get_mut(&id) else {
                continue;
            };
            order.sent_ns = now_ns;
            let command = if retry {
                order.retry_at_ns = 0;
                self.counters.retries += 1;
                VenueCommand::Place(venue_order(order, self.config.margin))
            } else {
                order.queries += 1;
                if order.queries > MAX_STATUS_QUERIES {
                    self.counters.unanswered += 1;
                    self.journal(
                        out,
                        JournalMsg::note(
                            now_ns,
                            "venue never answered about an order; left pending",
                        ),
                    );
                    continue;
                }
                self.counters.queries += 1;
                VenueCommand::QueryOrder {
                    client_order_id: id,
                    symbol: order.state.symbol,
                    market: order.market,
                }
            };
            if commands.push(command).is_err() {
                self.counters.outbox_full += 1;
            }
        }
    }

    /// Sends the OCO list `leg` belongs to again, once for both legs.
    fn retry_oco(&mut self, leg: ClientOrderId, now_ns: u64, commands: &mut Outbox<VenueCommand>) {
        let Some((list, legs)) = self.oco_request(leg) else {
            return;
        };
        let due = legs
            .iter()
            .any(|id| self.orders.get(id).is_some_and(|o| o.retry_at_ns != 0));
        let Some(oco) = self.oco_of(list).filter(|_| due) else {
            return;
        };
        for id in legs {
            if let Some(order) = self.orders.get_mut(&id) {
                order.retry_at_ns = 0;
                order.sent_ns = now_ns;
            }
        }
        self.counters.retries += 1;
        if commands.push(VenueCommand::PlaceOco(oco)).is_err() {
            self.counters.outbox_full += 1;
        }
    }

    /// A venue report.
    pub fn on_report(
        &mut self,
        report: &VenueReport,
        now_ns: u64,
        commands: &mut Outbox<VenueCommand>,
        out: &mut OrderOutputs,
    ) {
        match *report {
            VenueReport::Accepted {
                client_order_id,
                venue_order_id,
                ..
            } => {
                let Some(order) = self.orders.get_mut(&client_order_id) else {
                    self.counters.stale_reports += 1;
                    return;
                };
                order.state.venue_order_id = venue_order_id;
                order.retry_at_ns = 0;
                order.queries = 0;
                if order.state.status == OrderStatus::PendingNew {
                    order.state.status = OrderStatus::New;
                    let update = order.state;
                    self.emit(out, now_ns, update);
                }
            }
            VenueReport::Rejected {
                client_order_id,
                reject,
            } => self.on_rejected(client_order_id, reject, now_ns, commands, out),
            VenueReport::Fill(fill) => self.on_fill(&fill, now_ns, commands, out),
            VenueReport::Canceled {
                client_order_id, ..
            } => self.finish(
                client_order_id,
                OrderStatus::Canceled,
                now_ns,
                commands,
                out,
            ),
            VenueReport::Expired {
                client_order_id, ..
            } => self.finish(client_order_id, OrderStatus::Expired, now_ns, commands, out),
            VenueReport::Triggered { .. } => {}
            VenueReport::CancelRejected {
                client_order_id,
                reject,
            } => {
                // The order is still working (or already done: its fill or cancel follows).
                if let Some(order) = self.orders.get_mut(&client_order_id) {
                    if order.state.status == OrderStatus::PendingCancel {
                        order.state.status = if order.state.filled_qty.is_positive() {
                            OrderStatus::PartiallyFilled
                        } else {
                            OrderStatus::New
                        };
                        if reject.kind == RejectKind::UnknownOrder {
                            // The venue no longer has it: ask what became of it.
                            let query = VenueCommand::QueryOrder {
                                client_order_id,
                                symbol: order.state.symbol,
                                market: order.market,
                            };
                            if commands.push(query).is_err() {
                                self.counters.outbox_full += 1;
                            }
                        }
                    }
                }
            }
            VenueReport::StatusUnknown { client_order_id } => {
                let legs = match self.oco_request(client_order_id) {
                    // An OCO whose outcome is unknown: ask about each leg.
                    Some((list, legs)) if list == client_order_id => legs,
                    _ => [client_order_id, ClientOrderId::default()],
                };
                for order in legs.iter().filter_map(|id| self.orders.get(id)) {
                    let client_order_id = order.state.client_order_id;
                    self.counters.queries += 1;
                    let query = VenueCommand::QueryOrder {
                        client_order_id,
                        symbol: order.state.symbol,
                        market: order.market,
                    };
                    if commands.push(query).is_err() {
                        self.counters.outbox_full += 1;
                    }
                }
            }
            VenueReport::OpenOrder(open) => self.on_open_order(&open, now_ns, out),
            VenueReport::ResolvedOrder { order, status } => {
                self.on_resolved_order(&order, status, now_ns, commands, out)
            }
            VenueReport::Balance {
                asset,
                free,
                locked,
            } => {
                let correction = self.ledger.set_balance(asset, free, locked);
                if correction.before != correction.after {
                    self.journal(out, balance_note(now_ns, &correction));
                }
            }
            VenueReport::Position {
                symbol,
                qty,
                entry_price,
            } => {
                self.ledger.set_position(symbol, qty, entry_price);
                self.exposure.set_position(symbol, qty);
            }
            VenueReport::ReconcileDone { symbol, ok } => {
                if let Some(s) = self.symbols.get_mut(symbol.index()) {
                    s.reconciled = ok;
                }
                // Fills from now on were made after the venue's listing.
                for order in self.orders.values_mut() {
                    if order.state.symbol == symbol {
                        order.listed_unmatched = Qty::ZERO;
                    }
                }
                if ok {
                    // Orders we think open that the venue did not list: ask what became of
                    // each (filled or cancelled while we were away, or never received).
                    for (id, order) in &mut self.orders {
                        if order.is_open() && !order.listed && order.state.symbol == symbol {
                            self.counters.queries += 1;
                            let query = VenueCommand::QueryOrder {
                                client_order_id: *id,
                                symbol,
                                market: order.market,
                            };
                            if commands.push(query).is_err() {
                                self.counters.outbox_full += 1;
                            }
                        }
                    }
                    // After the queries: the bracket's new legs are not asked about.
                    self.bracket_unprotected_entries(symbol, now_ns, commands, out);
                }
                if !ok {
                    // Retried after a wait that doubles with each failure: a venue that
                    // refuses (a rate-limit window, an outage) is not asked again at once,
                    // and the journal gets one note per attempt, not a flood.
                    let backoff = self.config.retry_backoff_ns;
                    if let Some(s) = self.symbols.get_mut(symbol.index()) {
                        let wait = backoff
                            .saturating_mul(1 << s.reconcile_failures.min(16))
                            .clamp(1, RECONCILE_RETRY_CAP_NS.max(backoff));
                        s.reconcile_failures = s.reconcile_failures.saturating_add(1);
                        s.reconcile_retry_at_ns = now_ns.saturating_add(wait);
                    }
                    self.journal(
                        out,
                        JournalMsg::note(now_ns, "reconciliation incomplete; retrying"),
                    );
                } else if let Some(s) = self.symbols.get_mut(symbol.index()) {
                    s.reconcile_failures = 0;
                    s.reconcile_retry_at_ns = 0;
                }
            }
            VenueReport::Link(LinkState::Up) => self.start_reconcile(commands),
            VenueReport::Link(LinkState::Down) => {
                for s in &mut self.symbols {
                    s.reconciled = false;
                }
            }
            VenueReport::Link(LinkState::Timeout) => {}
        }
    }

    fn place_entry(
        &mut self,
        intent: &OrderIntent,
        now_ns: u64,
        commands: &mut Outbox<VenueCommand>,
        out: &mut OrderOutputs,
    ) {
        match self.prepare(intent) {
            Ok((price, qty)) => {
                let Ok(id) = self.ids.next_id() else {
                    self.local_reject(intent, reject::IDS_EXHAUSTED, now_ns, out);
                    return;
                };
                let state = OrderUpdate {
                    client_order_id: id,
                    strategy: intent.strategy,
                    symbol: intent.symbol,
                    side: intent.side,
                    status: OrderStatus::PendingNew,
                    order_type: intent.order_type,
                    time_in_force: intent.time_in_force,
                    role: OrderRole::Entry,
                    reduce_only: intent.reduce_only,
                    price: if is_stop(intent.order_type) {
                        Price::ZERO
                    } else {
                        price
                    },
                    trigger_price: if is_stop(intent.order_type) {
                        price
                    } else {
                        Price::ZERO
                    },
                    qty,
                    ..OrderUpdate::default()
                };
                let order = Order {
                    stop_loss: intent.stop_loss,
                    take_profit: intent.take_profit,
                    ..Order::new(
                        state,
                        self.config.market,
                        now_ns,
                        intent.cause_recv_ns,
                        self.last_trade_id(intent.symbol),
                    )
                };
                self.send_new(order, now_ns, commands, out);
            }
            Err(code) => self.local_reject(intent, code, now_ns, out),
        }
    }

    /// Checks an intent against the instrument and rounds it; the venue's own rules, locally.
    fn prepare(&self, intent: &OrderIntent) -> Result<(Price, Qty), u16> {
        let s = self
            .symbols
            .get(intent.symbol.index())
            .ok_or(reject::UNKNOWN_INSTRUMENT)?;
        let instrument = s.instrument.as_ref().ok_or(reject::UNKNOWN_INSTRUMENT)?;
        if !s.reconciled {
            return Err(reject::NOT_RECONCILED);
        }
        if self.open_count() >= self.config.capacity {
            return Err(reject::TOO_MANY_ORDERS);
        }
        let qty = instrument.round_qty_down(intent.qty);
        if !qty.is_positive() {
            return Err(reject::QTY_ROUNDS_TO_ZERO);
        }
        let is_market = intent.order_type == OrderType::Market;
        if !is_market && !intent.price.is_positive() {
            return Err(reject::BAD_INTENT);
        }
        let price = if is_market {
            Price::ZERO
        } else {
            // Limits rest passively; stops must not trigger later than asked.
            let passive = !is_stop(intent.order_type);
            instrument.round_price(intent.price, intent.side, passive)
        };
        let reference = if is_market || is_stop(intent.order_type) {
            if !s.reference.is_positive() {
                return Err(reject::NO_REFERENCE_PRICE);
            }
            s.reference
        } else {
            price
        };
        let checked_price = if is_market { reference } else { price };
        instrument
            .check_order(
                is_market || is_stop(intent.order_type),
                intent.side,
                checked_price,
                qty,
                reference,
            )
            .map_err(|e| e.code())?;
        Ok((price, qty))
    }

    fn send_new(
        &mut self,
        order: Order,
        now_ns: u64,
        commands: &mut Outbox<VenueCommand>,
        out: &mut OrderOutputs,
    ) {
        let id = order.state.client_order_id;
        if self.orders.len() >= self.config.capacity {
            self.prune();
        }
        let command = VenueCommand::Place(venue_order(&order, self.config.margin));
        self.orders.insert(id, order);
        self.counters.orders_sent += 1;
        self.emit(out, now_ns, order.state);
        if commands.push(command).is_err() {
            self.counters.outbox_full += 1;
        }
    }

    fn local_reject(
        &mut self,
        intent: &OrderIntent,
        code: u16,
        now_ns: u64,
        out: &mut OrderOutputs,
    ) {
        self.counters.local_rejects += 1;
        self.emit(out, now_ns, rejected_intent(intent, code));
    }

    fn on_fill(
        &mut self,
        fill: &VenueFill,
        now_ns: u64,
        commands: &mut Outbox<VenueCommand>,
        out: &mut OrderOutputs,
    ) {
        if !self.seen_trades.insert((fill.symbol, fill.venue_trade_id)) {
            self.counters.duplicate_fills += 1;
            return;
        }
        if let Some(s) = self.symbols.get_mut(fill.symbol.index()) {
            s.last_trade_id = s.last_trade_id.max(fill.venue_trade_id);
        }
        let fee = self.ledger.apply_fill(fill);
        self.counters.fills += 1;
        let strategy = self
            .orders
            .get(&fill.client_order_id)
            .map_or(StrategyId::default(), |o| o.state.strategy);
        let kept = Fill {
            client_order_id: fill.client_order_id,
            strategy,
            symbol: fill.symbol,
            side: fill.side,
            price: fill.price,
            qty: fill.qty,
            fee,
            venue_trade_id: fill.venue_trade_id,
            is_maker: fill.is_maker,
        };
        self.exposure.on_fill(&kept);
        self.recent_fills[self.fills_seen % RECENT_FILLS] = kept;
        self.fills_seen += 1;
        let Some(order) = self.orders.get_mut(&fill.client_order_id) else {
            // A fill of an order we do not track (an operator's manual order): the ledger
            // has it; journal it so the books reconcile.
            self.counters.fills_unknown_order += 1;
            let record = kept; // no order: no strategy
            self.journal(
                out,
                JournalMsg::Fill {
                    event_ns: now_ns,
                    fill: record,
                },
            );
            return;
        };
        if fill.venue_order_id != 0 {
            order.state.venue_order_id = fill.venue_order_id;
        }
        order.retry_at_ns = 0;
        // A fill the venue's listing of an adopted order already counted adds nothing.
        let counted = fill.qty.min(order.listed_unmatched);
        order.listed_unmatched = order.listed_unmatched.saturating_sub(counted);
        let added = fill.qty.saturating_sub(counted);
        order.state.filled_qty = order.state.filled_qty.saturating_add(added);
        if !order.state.status.is_final() {
            order.state.status = if order.state.filled_qty >= order.state.qty {
                OrderStatus::Filled
            } else if order.state.status == OrderStatus::PendingCancel {
                OrderStatus::PendingCancel
            } else {
                OrderStatus::PartiallyFilled
            };
        }
        let record = kept; // its strategy is the order's
        let update = order.state;
        let role = update.role;
        let parent = update.parent;
        self.journal(
            out,
            JournalMsg::Fill {
                event_ns: now_ns,
                fill: record,
            },
        );
        if out.exec.push(ExecEvent::Fill(record)).is_err() {
            self.counters.outbox_full += 1;
        }
        self.emit(out, now_ns, update);
        if update.status.is_final() {
            self.finished.push_back(update.client_order_id);
        }
        match role {
            OrderRole::Entry => {
                self.keep_bracket_in_step(update.client_order_id, now_ns, commands, out)
            }
            OrderRole::StopLoss | OrderRole::TakeProfit if update.status == OrderStatus::Filled => {
                self.cancel_sibling(parent, update.client_order_id, now_ns, commands, out)
            }
            _ => {}
        }
    }

    fn cancel(
        &mut self,
        id: ClientOrderId,
        now_ns: u64,
        commands: &mut Outbox<VenueCommand>,
        out: &mut OrderOutputs,
    ) {
        let Some(order) = self.orders.get_mut(&id) else {
            return;
        };
        if !order.is_open() || order.state.status == OrderStatus::PendingCancel {
            return;
        }
        order.state.status = OrderStatus::PendingCancel;
        order.sent_ns = now_ns;
        order.queries = 0;
        let command = VenueCommand::Cancel {
            client_order_id: id,
            symbol: order.state.symbol,
            market: order.market,
        };
        let update = order.state;
        self.counters.cancels_sent += 1;
        self.emit(out, now_ns, update);
        if commands.push(command).is_err() {
            self.counters.outbox_full += 1;
        }
    }

    fn finish(
        &mut self,
        id: ClientOrderId,
        status: OrderStatus,
        now_ns: u64,
        commands: &mut Outbox<VenueCommand>,
        out: &mut OrderOutputs,
    ) {
        let Some(order) = self.orders.get_mut(&id) else {
            self.counters.stale_reports += 1;
            return;
        };
        if order.state.status.is_final() {
            self.counters.stale_reports += 1;
            return;
        }
        order.state.status = status;
        let update = order.state;
        self.emit(out, now_ns, update);
        self.finished.push_back(id);
        self.after_leg_final(&update, now_ns, commands, out);
    }

    /// Reconciliation: an order the venue holds.
    fn on_open_order(&mut self, open: &VenueOpenOrder, now_ns: u64, out: &mut OrderOutputs) {
        let known = open.client_order_id.and_then(|id| self.orders.get_mut(&id));
        if let Some(order) = known {
            // The venue's view wins: quantities filled while we were away arrive as fills.
            order.listed = true;
            order.state.venue_order_id = open.venue_order_id;
            let status = if open.filled_qty.is_positive() {
                OrderStatus::PartiallyFilled
            } else {
                OrderStatus::New
            };
            if order.state.status != status {
                order.state.status = status;
                let update = order.state;
                self.emit(out, now_ns, update);
            }
            return;
        }
        // Not ours (or from a journal we lost): adopt it so exposure and cancels see it.
        self.counters.adopted_orders += 1;
        let id = open.tracked_id();
        let status = if open.filled_qty.is_positive() {
            OrderStatus::PartiallyFilled
        } else {
            OrderStatus::New
        };
        let state = adopted_state(open, status, OrderRole::External);
        let floor = self.last_trade_id(open.symbol);
        let mut order = Order::new(state, open.market, now_ns, 0, floor);
        order.listed = true;
        order.listed_unmatched = open.filled_qty;
        self.orders.insert(id, order);
        self.emit(out, now_ns, state);
    }

    /// Reconciliation: an order a trade named that nobody here knew by its venue id,
    /// reported after its fills. The venue's status and filled quantity win. One we do not
    /// track is adopted and journaled: ours (sent by a session killed before it journaled
    /// the order) as an entry of no known strategy, an operator's as `External`.
    fn on_resolved_order(
        &mut self,
        found: &VenueOpenOrder,
        status: OrderStatus,
        now_ns: u64,
        commands: &mut Outbox<VenueCommand>,
        out: &mut OrderOutputs,
    ) {
        let id = found.tracked_id();
        if let Some(order) = self.orders.get_mut(&id) {
            if !order.is_open() {
                return;
            }
            order.state.venue_order_id = found.venue_order_id;
            order.listed |= !status.is_final();
            let before = order.state;
            order.state.filled_qty = found.filled_qty;
            if status.is_final() || order.state.status != OrderStatus::PendingCancel {
                order.state.status = status;
            }
            let update = order.state;
            if update != before {
                self.emit(out, now_ns, update);
            }
            if update.status.is_final() {
                self.finished.push_back(id);
                self.after_leg_final(&update, now_ns, commands, out);
            }
            return;
        }
        self.counters.adopted_orders += 1;
        let role = if found.client_order_id.is_some() {
            OrderRole::Entry
        } else {
            OrderRole::External
        };
        let state = adopted_state(found, status, role);
        if self.orders.len() >= self.config.capacity {
            self.prune();
        }
        let floor = self.last_trade_id(found.symbol);
        let mut order = Order::new(state, found.market, now_ns, 0, floor);
        order.listed = !status.is_final();
        self.orders.insert(id, order);
        if status.is_final() {
            self.finished.push_back(id);
        }
        self.emit(out, now_ns, state);
    }

    fn open_count(&self) -> usize {
        self.orders.len() - self.finished.len().min(self.orders.len())
    }

    /// Up to 64 open order ids of `strategy` on `symbol` (zero-terminated).
    fn open_ids(&self, strategy: StrategyId, symbol: SymbolId) -> [ClientOrderId; 64] {
        let mut ids = [ClientOrderId::default(); 64];
        let matching = self.orders.iter().filter(|(_, o)| {
            o.is_open() && o.state.strategy == strategy && o.state.symbol == symbol
        });
        for (slot, (id, _)) in ids.iter_mut().zip(matching) {
            *slot = *id;
        }
        // In placement order (ids grow), whatever the table's layout.
        let n = ids.iter().take_while(|id| id.0 != 0).count();
        ids[..n].sort_unstable();
        ids
    }

    /// Forgets the oldest final orders to make room (their late reports become stale).
    fn prune(&mut self) {
        let target = self.config.capacity / 2;
        while self.orders.len() > target {
            let Some(id) = self.finished.pop_front() else {
                break;
            };
            if self.orders.get(&id).is_some_and(|o| !o.is_open()) {
                if let Some(order) = self.orders.remove(&id) {
                    self.oco_lists.remove(&order.oco_list);
                }
            }
        }
    }

    /// Journals a record for the stage (risk events, state changes), counting a full outbox.
    pub fn record(&mut self, out: &mut OrderOutputs, msg: JournalMsg) {
        self.journal(out, msg);
    }

    fn emit(&mut self, out: &mut OrderOutputs, now_ns: u64, update: OrderUpdate) {
        self.next_order_scan_ns = 0;
        self.exposure.on_update(&update);
        self.journal(
            out,
            JournalMsg::Update {
                event_ns: now_ns,
                update,
            },
        );
        if out.exec.push(ExecEvent::Update(update)).is_err() {
            self.counters.outbox_full += 1;
        }
    }

    fn journal(&mut self, out: &mut OrderOutputs, msg: JournalMsg) {
        if out.journal.push(msg).is_err() {
            self.counters.outbox_full += 1;
        }
    }
}

/// The state of an order adopted from the venue's listing (no strategy, no bracket).
fn adopted_state(found: &VenueOpenOrder, status: OrderStatus, role: OrderRole) -> OrderUpdate {
    OrderUpdate {
        client_order_id: found.tracked_id(),
        strategy: StrategyId::default(),
        symbol: found.symbol,
        side: found.side,
        status,
        filled_qty: found.filled_qty,
        venue_order_id: found.venue_order_id,
        reject_code: 0,
        order_type: found.order_type,
        time_in_force: TimeInForce::Gtc,
        role,
        reduce_only: found.reduce_only,
        price: found.price,
        trigger_price: found.trigger_price,
        qty: found.qty,
        parent: ClientOrderId::default(),
    }
}

/// The journal note of a balance the venue corrected: `balance USDT: 100 -> 99.5`
/// (formatted on the stack: reports arrive on the order thread).
fn balance_note(now_ns: u64, correction: &super::portfolio::BalanceCorrection) -> JournalMsg {
    use std::io::Write;
    let mut text = [0u8; crate::engine::journal_msg::NOTE_MAX];
    let mut cursor = std::io::Cursor::new(&mut text[..]);
    // A note longer than the buffer is cut; the figures come first.
    let _ = write!(
        cursor,
        "balance {}: {} -> {}",
        correction.asset, correction.before, correction.after
    );
    let len = cursor.position() as usize;
    JournalMsg::note(
        now_ns,
        std::str::from_utf8(&text[..len]).unwrap_or("balance corrected"),
    )
}

fn mid(bid: Price, ask: Price) -> Price {
    if !bid.is_positive() || !ask.is_positive() {
        return Price::ZERO;
    }
    bid.midpoint(ask)
}

const fn is_stop(order_type: OrderType) -> bool {
    matches!(
        order_type,
        OrderType::StopMarket | OrderType::TakeProfitMarket
    )
}

fn rejected_intent(intent: &OrderIntent, code: u16) -> OrderUpdate {
    OrderUpdate {
        client_order_id: ClientOrderId::default(),
        strategy: intent.strategy,
        symbol: intent.symbol,
        side: intent.side,
        status: OrderStatus::Rejected,
        reject_code: code,
        order_type: intent.order_type,
        time_in_force: intent.time_in_force,
        reduce_only: intent.reduce_only,
        price: intent.price,
        qty: intent.qty,
        ..OrderUpdate::default()
    }
}

fn venue_order(order: &Order, margin: MarginParams) -> VenueOrder {
    let s = &order.state;
    VenueOrder {
        client_order_id: s.client_order_id,
        symbol: s.symbol,
        market: order.market,
        side: s.side,
        order_type: s.order_type,
        time_in_force: s.time_in_force,
        price: s.price,
        trigger_price: s.trigger_price,
        qty: s.qty,
        reduce_only: s.reduce_only,
        margin,
    }
}

mod bracket;
mod breach;
mod rejects;
#[cfg(test)]
mod tests;
