//! Owns: Binance's order-side wire formats (spot, margin and USDⓈ-M), parsed into core types.
//! Never: leaks Binance JSON shapes or key names outside this folder, or does I/O.
//!
//! The codec is pure: [`request::BinanceOrderCodec`] turns venue commands into signed REST
//! requests and WebSocket API frames; the response and user-data parsers turn replies back
//! into `VenueReport`s; [`rate_limit`] and [`server_time`] are the bookkeeping the transport
//! consults. The transport (sockets, HTTP) is built on top of these.

mod decode;
mod endpoints;
pub mod exchange_info;
mod management_endpoints;
mod order_prefix;
pub mod params;
pub mod rate_limit;
mod reconcile_reply;
pub mod request;
pub mod response;
pub mod server_time;
pub mod sign;
pub mod symbols;
pub mod user_data;
pub mod wire;

pub use decode::{classify_error, ParseError, ParseErrorKind, ReportSink, Verdict};
pub use request::{
    BinanceOrderCodec, BuildError, CodecConfig, CodecError, HttpMethod, ListenKeyAction,
    OrderResponseType, OrderRoute, Request, RequestCost, RestRequest, SymbolScope,
    TriggerPriceSource, WsRequest,
};
pub use sign::{Ed25519Signer, HmacSigner, PrefixedHmacSigner, SignError};
pub use symbols::{InstrumentFamily, OrderSymbol, OrderSymbols, OrderSymbolsError};
