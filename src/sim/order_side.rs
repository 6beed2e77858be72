//! Owns: one market listener's order side as the threads share it: the venue state machine
//! behind a lock taken after the replayed books' lock, the simulator's clock, the API keys,
//! the user-data subscribers the venue's events go to, and the replay's hooks (depth diffs
//! and trades reach the venue as they are replayed). Never: parses requests or writes to
//! sockets.
//!
//! The simulator's clock is the wall clock plus `clock_skew_ms`, not the replay clock:
//! `/time` reports it, recvWindow is checked against it, and transact and event times use
//! it, so a client that syncs with `/time` signs valid timestamps at any replay speed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::core::clock::wall_ms;
use crate::core::{Price, Qty};

use super::auth::Keys;
use super::book::ExchangeBook;
use super::config::{FeeAsset, Market, OrderSideConfig};
use super::exchange::{
    symbol_rules, AccountSnapshot, CommissionAsset, Exchange, ExchangeSetup, Fees,
};
use super::faults::Faults;
use super::limits::RateLimiter;
use super::replay::MarketState;
use super::user_stream::UserStreams;
use super::wire::WireClock;
use super::SimError;

/// First order id of each market (distinct, so ids never collide across listeners).
const SPOT_FIRST_ORDER_ID: u64 = 1_000_001;
const FUTURES_FIRST_ORDER_ID: u64 = 8_000_000_001;

/// The replayed trade fields the venue needs.
#[derive(serde::Deserialize)]
struct TradeMsg {
    #[serde(rename = "s")]
    symbol: String,
    #[serde(rename = "p")]
    price: String,
    #[serde(rename = "q")]
    qty: String,
}

/// One market's order side.
pub(crate) struct OrderSide {
    pub market: Market,
    pub state: Arc<MarketState>,
    exchange: Mutex<Exchange>,
    pub users: UserStreams,
    pub keys: Keys,
    pub limiter: RateLimiter,
    pub faults: Arc<Faults>,
    pub wire: Arc<WireClock>,
    /// WS API orders by how they were authenticated.
    pub ws_order_auth: WsOrderAuth,
    clock_skew_ms: i64,
}

/// WS API orders placed, counted by how each was authenticated, and the session logons.
#[derive(Debug, Default)]
pub(crate) struct WsOrderAuth {
    /// Orders with their own `apiKey` and `signature`.
    pub signed: AtomicU64,
    /// Orders without a signature on a logged-on connection.
    pub session: AtomicU64,
    /// `session.logon` requests accepted.
    pub logons: AtomicU64,
}

/// A snapshot of [`WsOrderAuth`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WsOrderAuthCounts {
    pub signed_orders: u64,
    pub session_orders: u64,
    pub logons: u64,
}

impl WsOrderAuth {
    pub fn snapshot(&self) -> WsOrderAuthCounts {
        WsOrderAuthCounts {
            signed_orders: self.signed.load(Ordering::Acquire),
            session_orders: self.session.load(Ordering::Acquire),
            logons: self.logons.load(Ordering::Acquire),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A thread that panicked mid-request leaves the state as it was; keep serving.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl OrderSide {
    /// The order side of `state`'s market with `config`'s accounts.
    pub fn new(
        state: Arc<MarketState>,
        config: &OrderSideConfig,
        faults: Arc<Faults>,
        wire: Arc<WireClock>,
    ) -> Result<Self, SimError> {
        let futures = state.market == Market::UsdmFutures;
        let rules = symbol_rules(&state.exchange_info, futures)
            .map_err(|e| SimError::Config(format!("exchangeInfo of {:?}: {e}", state.market)))?;
        let setup = ExchangeSetup {
            futures,
            rules,
            spot_balances: config.spot_balances.clone(),
            margin_balances: config.margin_balances.clone(),
            futures_balances: config.futures_balances.clone(),
            spot_fees: Fees {
                maker: config.spot_maker_commission,
                taker: config.spot_taker_commission,
            },
            futures_fees: Fees {
                maker: config.futures_maker_commission,
                taker: config.futures_taker_commission,
            },
            commission_asset: match config.commission_asset {
                FeeAsset::Quote => CommissionAsset::Quote,
                FeeAsset::Bnb => CommissionAsset::Bnb,
            },
            bnb_price: config.bnb_price,
            leverage: config.futures_leverage,
            auto_borrow_repay: config.margin_auto_borrow_repay,
            first_order_id: if futures {
                FUTURES_FIRST_ORDER_ID
            } else {
                SPOT_FIRST_ORDER_ID
            },
        };
        let limiter = RateLimiter::new(&state.exchange_info, futures, config.enforce_rate_limits);
        Ok(Self {
            market: state.market,
            limiter,
            state,
            exchange: Mutex::new(Exchange::new(setup)),
            users: UserStreams::new(config.listen_key_validity_ms),
            keys: Keys::new(config.api_keys.clone()),
            faults,
            wire,
            ws_order_auth: WsOrderAuth::default(),
            clock_skew_ms: config.clock_skew_ms,
        })
    }

    /// The simulator's clock: wall ms plus the configured skew (server time, recvWindow).
    pub fn now_ms(&self) -> u64 {
        wall_ms().saturating_add_signed(self.clock_skew_ms)
    }

    /// Runs `f` on the venue with the replayed books, then sends the events it produced.
    /// Takes the books' lock, then the venue's (the replay's order too).
    pub fn with_exchange<R>(
        &self,
        f: impl FnOnce(&mut Exchange, &HashMap<String, ExchangeBook>) -> R,
    ) -> R {
        let books = lock(&self.state.books);
        self.with_exchange_locked(&books, f)
    }

    /// Like [`with_exchange`](Self::with_exchange) for a caller already holding the books.
    pub fn with_exchange_locked<R>(
        &self,
        books: &HashMap<String, ExchangeBook>,
        f: impl FnOnce(&mut Exchange, &HashMap<String, ExchangeBook>) -> R,
    ) -> R {
        let mut exchange = lock(&self.exchange);
        let result = f(&mut exchange, books);
        let events = exchange.take_events();
        self.users.dispatch(&events, &exchange);
        result
    }

    /// The replay applied a depth diff of `symbol` (the caller holds the books).
    pub fn on_depth(&self, symbol: &str, books: &HashMap<String, ExchangeBook>) {
        let now = self.now_ms();
        self.with_exchange_locked(books, |ex, books| ex.on_depth(symbol, books, now));
    }

    /// The replay sent a trade frame's payload (the caller holds the books).
    pub fn on_trade_frame(&self, payload: &str, books: &HashMap<String, ExchangeBook>) {
        let Ok(trade) = serde_json::from_str::<TradeMsg>(payload) else {
            return;
        };
        let (Ok(price), Ok(qty)) = (Price::parse(&trade.price), Qty::parse(&trade.qty)) else {
            return;
        };
        let now = self.now_ms();
        self.with_exchange_locked(books, |ex, books| {
            ex.on_trade(&trade.symbol, price, qty, books, now)
        });
    }

    /// Every account figure, for the control handle.
    pub fn snapshot(&self) -> AccountSnapshot {
        self.with_exchange(|ex, _| ex.snapshot())
    }
}
