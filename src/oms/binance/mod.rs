//! Owns: Binance's order-side wire formats (spot, margin and USDⓈ-M), parsed into core types.
//! Never: leaks Binance JSON shapes or key names outside this folder, or does I/O.
//!
//! The codec is pure, for the gateway transport to drive:
//! - requests: [`request::BinanceOrderCodec`] turns a [`Request`] (built from a
//!   `VenueCommand`) into a signed REST request or WebSocket API frame in one reused buffer,
//!   after the local filter check (`endpoints`, `management_endpoints`, [`params`], [`wire`],
//!   [`sign`], `order_prefix`);
//! - replies: [`response`] (and `reconcile_reply`) read REST and WebSocket API answers
//!   against the request they answer; [`user_data`] reads the account streams; both push
//!   `VenueReport`s;
//! - bookkeeping the transport consults: [`rate_limit`] and [`server_time`];
//! - [`exchange_info`]: instruments and rate limits, for [`symbols::OrderSymbols`].

mod decode;
mod endpoints;
pub mod exchange_info;
pub mod gateway;
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
    TriggerPriceSource, WsRequest, RECONCILE_PAGE,
};
pub use sign::{Ed25519Signer, HmacSigner, PrefixedHmacSigner, SignError};
pub use symbols::{InstrumentFamily, OrderSymbol, OrderSymbols, OrderSymbolsError};
