//! Owns: rebuilding the order manager and its portfolio from the journal after a restart —
//! every order's last journaled state, every fill exactly once, each entry's bracket prices,
//! the trading halt and equity high-water mark the risk rails left — before reconciliation
//! with the venue settles what happened while the engine was down — and showing the
//! strategy side what it needs to resume (each fill with its strategy, the strategies'
//! state snapshots).
//! Never: writes to the journal or trusts a symbol id across sessions (names are mapped to
//! this session's ids; a name no longer traded is counted and skipped).

use std::path::Path;

use crate::core::{
    AssetName, Fill, IntentAction, Notional, OrderRole, OrderStatus, SymbolId, SymbolTable,
};
use crate::persist::payload::{JournalEntry, TradingMode};
use crate::persist::{JournalError, JournalReader};
use crate::risk::codes;

use super::manager::{Ledger, OrderManager};

/// What a rebuild found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RebuildReport {
    /// Order updates replayed.
    pub updates: u64,
    /// Fills replayed.
    pub fills: u64,
    /// Orders still open after the replay (to be confirmed by reconciliation).
    pub open_orders: usize,
    /// Records of symbols this session does not trade.
    pub foreign_symbols: u64,
    /// The cause of the halt the last trading-state record left in force (`None`: trading
    /// was not halted); it holds until an operator resumes, restarts included.
    pub halt_cause: Option<u16>,
    /// The highest equity high-water mark journaled.
    pub high_water_mark: Notional,
}

/// A journal record the strategy side resumes from, shown during a rebuild.
#[derive(Debug, Clone, Copy)]
pub enum Replayed<'a> {
    /// A fill of a traded symbol (symbol id of this session).
    Fill(&'a Fill),
    /// A component's state snapshot (later ones supersede earlier ones).
    Snapshot { component: &'a str, body: &'a [u8] },
}

/// Replays the journal in `dir` into `manager`. `quote_asset` names the currency fills'
/// fees were converted to (the symbol's quote asset).
pub fn rebuild<L: Ledger>(
    dir: &Path,
    manager: &mut OrderManager<L>,
    symbols: &SymbolTable,
    quote_asset: impl Fn(SymbolId) -> AssetName,
) -> Result<RebuildReport, JournalError> {
    rebuild_observed(dir, manager, symbols, quote_asset, &mut |_| {})
}

/// [`rebuild`], showing `observe` every fill and snapshot in journal order.
pub fn rebuild_observed<L: Ledger>(
    dir: &Path,
    manager: &mut OrderManager<L>,
    symbols: &SymbolTable,
    quote_asset: impl Fn(SymbolId) -> AssetName,
    observe: &mut dyn FnMut(Replayed<'_>),
) -> Result<RebuildReport, JournalError> {
    let mut report = RebuildReport::default();
    let mut reader = JournalReader::open(dir, 0)?;
    // The manager journals a new-order intent and its entry's PendingNew update back to back.
    let mut last_new_intent = None;
    while let Some(record) = reader.next() {
        let entry = record?.decode()?;
        match entry {
            JournalEntry::Intent { symbol, intent } => {
                let Some(id) = symbols.get(symbol.as_bytes()) else {
                    report.foreign_symbols += 1;
                    continue;
                };
                last_new_intent = (intent.action == IntentAction::New).then_some((id, intent));
            }
            JournalEntry::Update { symbol, mut update } => {
                let Some(id) = symbols.get(symbol.as_bytes()) else {
                    report.foreign_symbols += 1;
                    continue;
                };
                update.symbol = id;
                if update.client_order_id.0 == 0 {
                    // A local reject: never became an order.
                    continue;
                }
                report.updates += 1;
                manager.recover_update(&update);
                let is_new_entry =
                    update.role == OrderRole::Entry && update.status == OrderStatus::PendingNew;
                if let Some((intent_symbol, intent)) = last_new_intent.take() {
                    if is_new_entry
                        && intent_symbol == id
                        && intent.strategy == update.strategy
                        && intent.side == update.side
                    {
                        manager.recover_bracket_prices(
                            update.client_order_id,
                            intent.stop_loss,
                            intent.take_profit,
                        );
                    }
                }
            }
            JournalEntry::Fill { symbol, mut fill } => {
                let Some(id) = symbols.get(symbol.as_bytes()) else {
                    report.foreign_symbols += 1;
                    continue;
                };
                fill.symbol = id;
                report.fills += 1;
                manager.recover_fill(&fill, quote_asset(id));
                observe(Replayed::Fill(&fill));
            }
            JournalEntry::Snapshot {
                component, body, ..
            } => observe(Replayed::Snapshot {
                component: &component,
                body: &body,
            }),
            JournalEntry::TradingState { change, .. } => {
                report.halt_cause = (change.to == TradingMode::Halted).then_some(change.cause_code);
            }
            JournalEntry::Risk { event, .. } if event.code == codes::EVENT_HIGH_WATER_MARK => {
                report.high_water_mark = report.high_water_mark.max(event.observed);
            }
            _ => {}
        }
    }
    report.open_orders = manager.open_orders().count();
    Ok(report)
}
