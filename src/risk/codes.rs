//! Owns: the stable codes of the risk module — the reject code an `OrderUpdate` carries when
//! a rail refuses an intent (300–399, the range `oms::reject` reserves for risk), and the
//! cause codes of trading-state changes and breaker events (400–499). Never: changes a
//! published code's meaning; codes are journaled and exported, so they only ever get added.

/// Trading is halted (kill switch or a critical breach): no new orders until `resume`.
pub const HALTED: u16 = 300;
/// Reduce-only mode (soft breach): only orders that shrink a position pass.
pub const REDUCE_ONLY: u16 = 301;
/// The strategy is disabled by the operator.
pub const STRATEGY_DISABLED: u16 = 302;
/// The strategy runs dry: every rail passed, the order was not sent.
pub const DRY_RUN: u16 = 303;
/// The symbol's book is invalid (resyncing) or its market data is older than the limit.
pub const STALE_MARKET_DATA: u16 = 304;
/// The same order from the same strategy was just approved.
pub const DUPLICATE_INTENT: u16 = 305;
/// No price to value the order with (no book yet).
pub const NO_PRICE: u16 = 306;
/// Order notional below the minimum.
pub const NOTIONAL_TOO_SMALL: u16 = 307;
/// Order notional above the maximum.
pub const NOTIONAL_TOO_LARGE: u16 = 308;
/// Limit or trigger price outside the band around the book's mid.
pub const PRICE_BAND: u16 = 309;
/// Too many open orders (all symbols).
pub const MAX_OPEN_ORDERS: u16 = 310;
/// Too many open orders on the symbol.
pub const MAX_OPEN_ORDERS_SYMBOL: u16 = 311;
/// New-order rate over the window.
pub const ORDER_RATE: u16 = 312;
/// Cancel rate over the window.
pub const CANCEL_RATE: u16 = 313;
/// The symbol's exposure (position + open orders + this order) would pass its cap.
pub const EXPOSURE_SYMBOL_CAP: u16 = 314;
/// The venue's exposure would pass its cap.
pub const EXPOSURE_VENUE_CAP: u16 = 315;
/// The total gross exposure would pass its cap.
pub const EXPOSURE_TOTAL_CAP: u16 = 316;
/// The strategy's budget would be passed.
pub const STRATEGY_BUDGET: u16 = 317;
/// The notional does not fit the arithmetic (absurd price or quantity).
pub const NOTIONAL_OVERFLOW: u16 = 318;

/// Breaker and state-change causes (journaled in `TradingState` and `RiskEvent` records).
pub const CAUSE_EQUITY_FLOOR: u16 = 400;
pub const CAUSE_DRAWDOWN_TOTAL: u16 = 401;
pub const CAUSE_DRAWDOWN_DAILY: u16 = 402;
pub const CAUSE_VENUE_ERROR_RATE: u16 = 403;
pub const CAUSE_CONSECUTIVE_FAILURES: u16 = 404;
pub const CAUSE_MARKET_DATA_STALE: u16 = 405;
pub const CAUSE_LATENCY: u16 = 406;
/// The operator's kill switch.
pub const CAUSE_KILL_SWITCH: u16 = 420;
/// The operator's resume.
pub const CAUSE_OPERATOR_RESUME: u16 = 421;
/// Every soft breaker stayed clear for the recovery time.
pub const CAUSE_SOFT_RECOVERED: u16 = 422;
/// The high-water mark of equity moved (journaled so a restart keeps it).
pub const EVENT_HIGH_WATER_MARK: u16 = 430;
/// The operator reloaded the limits.
pub const EVENT_LIMITS_RELOADED: u16 = 431;
/// The operator changed a strategy's mode (`observed` = the new mode).
pub const EVENT_STRATEGY_MODE: u16 = 432;
/// The operator asked to flatten / cancel everything.
pub const EVENT_FLATTEN: u16 = 433;
pub const EVENT_CANCEL_ALL: u16 = 434;

/// A short stable name for a code (metrics labels, logs, JSON).
pub const fn name(code: u16) -> &'static str {
    match code {
        HALTED => "halted",
        REDUCE_ONLY => "reduce_only",
        STRATEGY_DISABLED => "strategy_disabled",
        DRY_RUN => "dry_run",
        STALE_MARKET_DATA => "stale_market_data",
        DUPLICATE_INTENT => "duplicate_intent",
        NO_PRICE => "no_price",
        NOTIONAL_TOO_SMALL => "notional_too_small",
        NOTIONAL_TOO_LARGE => "notional_too_large",
        PRICE_BAND => "price_band",
        MAX_OPEN_ORDERS => "max_open_orders",
        MAX_OPEN_ORDERS_SYMBOL => "max_open_orders_symbol",
        ORDER_RATE => "order_rate",
        CANCEL_RATE => "cancel_rate",
        EXPOSURE_SYMBOL_CAP => "exposure_symbol_cap",
        EXPOSURE_VENUE_CAP => "exposure_venue_cap",
        EXPOSURE_TOTAL_CAP => "exposure_total_cap",
        STRATEGY_BUDGET => "strategy_budget",
        NOTIONAL_OVERFLOW => "notional_overflow",
        CAUSE_EQUITY_FLOOR => "equity_floor",
        CAUSE_DRAWDOWN_TOTAL => "drawdown_total",
        CAUSE_DRAWDOWN_DAILY => "drawdown_daily",
        CAUSE_VENUE_ERROR_RATE => "venue_error_rate",
        CAUSE_CONSECUTIVE_FAILURES => "consecutive_failures",
        CAUSE_MARKET_DATA_STALE => "market_data_stale",
        CAUSE_LATENCY => "latency",
        CAUSE_KILL_SWITCH => "kill_switch",
        CAUSE_OPERATOR_RESUME => "operator_resume",
        CAUSE_SOFT_RECOVERED => "soft_recovered",
        EVENT_HIGH_WATER_MARK => "high_water_mark",
        EVENT_LIMITS_RELOADED => "limits_reloaded",
        EVENT_STRATEGY_MODE => "strategy_mode",
        EVENT_FLATTEN => "flatten",
        EVENT_CANCEL_ALL => "cancel_all",
        _ => "unknown",
    }
}

/// Every rail reject code, in check order (metrics register one series each).
pub const REJECT_CODES: [u16; 19] = [
    HALTED,
    REDUCE_ONLY,
    STRATEGY_DISABLED,
    DRY_RUN,
    STALE_MARKET_DATA,
    DUPLICATE_INTENT,
    NO_PRICE,
    NOTIONAL_TOO_SMALL,
    NOTIONAL_TOO_LARGE,
    PRICE_BAND,
    MAX_OPEN_ORDERS,
    MAX_OPEN_ORDERS_SYMBOL,
    ORDER_RATE,
    CANCEL_RATE,
    EXPOSURE_SYMBOL_CAP,
    EXPOSURE_VENUE_CAP,
    EXPOSURE_TOTAL_CAP,
    STRATEGY_BUDGET,
    NOTIONAL_OVERFLOW,
];
