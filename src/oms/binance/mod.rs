//! Owns: Binance's order-side wire formats (spot, margin and USDⓈ-M), parsed into core types.
//! Never: leaks Binance JSON shapes or key names outside this folder.

pub mod exchange_info;
pub mod sign;
