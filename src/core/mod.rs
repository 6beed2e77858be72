//! Owns: the vocabulary every other module speaks: exact decimals, symbols, instruments and
//! their exchange filters, ids, the clock, and the small `Copy` messages threads exchange.
//! Never: does I/O (beyond parsing text handed to it), spawns threads or knows a venue's wire format.

pub mod clock;
pub mod decimal;
pub mod event;
pub mod ids;
pub mod instrument;
pub mod symbol;

pub use decimal::{DecimalError, Notional, Price, Qty, Ratio, WideNotional};
pub use event::{
    BookTicker, BookTop, DepthDiff, DepthSnapshot, ExecEvent, Fill, IntentAction, Level,
    MarketEvent, MarketEventKind, OrderIntent, OrderRole, OrderStatus, OrderType, OrderUpdate,
    Side, TimeInForce, TradePrint, BOOK_TOP_LEVELS,
};
pub use ids::{ClientOrderId, StrategyId};
pub use instrument::{
    ExchangeFilter, FilterReject, Instrument, InstrumentStatus, LotSizeFilter, Market,
    NotionalFilter, OrderKind, OrderKinds, PercentPriceFilter, PriceFilter,
};
pub use symbol::{AssetName, SymbolId, SymbolTable};
