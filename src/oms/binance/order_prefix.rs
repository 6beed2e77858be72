//! Owns: REST order signing states hashed ahead over their constant prefix
//! (`newOrderRespType`, `recvWindow`, `side`, `symbol`, `type`), one per symbol, side and
//! order type. Never: changes after the codec is built, or signs a payload not starting with
//! its own prefix.
//!
//! REST signs the bytes as sent, in any parameter order (protocols.md §1.2), so a placement
//! can lead with the params that only depend on what is traded. At 64 bytes or more the
//! prefix fills a SHA-256 block that is then hashed once here instead of once per order:
//! one compression of the four a typical spot order costs.

use super::endpoints::book_order_type;
use super::params::{Param, ParamError, ParamSet};
use super::request::CodecConfig;
use super::sign::{HmacSigner, PrefixedHmacSigner};
use super::symbols::{InstrumentFamily, OrderSymbols};
use super::wire::WireBuf;
use crate::core::{Market, OrderType, Side, SymbolId};

/// The params a prefix holds.
pub(crate) const PREFIX_PARAMS: [Param; 5] = [
    Param::NewOrderRespType,
    Param::RecvWindow,
    Param::Side,
    Param::Symbol,
    Param::Type,
];

/// Order types with a book placement (futures stops go to the Algo Service instead).
const ORDER_TYPES: [OrderType; 5] = [
    OrderType::Market,
    OrderType::Limit,
    OrderType::LimitMaker,
    OrderType::StopMarket,
    OrderType::TakeProfitMarket,
];

const KINDS: usize = 2 * ORDER_TYPES.len();

/// Shortest prefix worth keeping: one full SHA-256 block.
const MIN_PREFIX_LEN: usize = 64;

fn kind_index(side: Side, order_type: OrderType) -> usize {
    let side_index = match side {
        Side::Buy => 0,
        Side::Sell => 1,
    };
    let type_index = match order_type {
        OrderType::Market => 0,
        OrderType::Limit => 1,
        OrderType::LimitMaker => 2,
        OrderType::StopMarket => 3,
        OrderType::TakeProfitMarket => 4,
    };
    side_index * ORDER_TYPES.len() + type_index
}

/// Prefixed signers by symbol, side and order type.
pub(crate) struct OrderPrefixes {
    by_symbol: Vec<[Option<PrefixedHmacSigner>; KINDS]>,
}

impl OrderPrefixes {
    /// Every prefix of every symbol in `symbols` long enough to save a block.
    pub(crate) fn new(
        symbols: &OrderSymbols,
        signer: &HmacSigner,
        config: &CodecConfig,
    ) -> Result<Self, ParamError> {
        let market = match symbols.family() {
            InstrumentFamily::Spot => Market::Spot,
            InstrumentFamily::UsdmFutures => Market::UsdmFutures,
        };
        let mut params = ParamSet::default();
        let mut text = WireBuf::with_capacity(256);
        let mut by_symbol = Vec::with_capacity(symbols.id_bound());
        for index in 0..symbols.id_bound() {
            let mut kinds: [Option<PrefixedHmacSigner>; KINDS] = std::array::from_fn(|_| None);
            let Some(entry) = symbols.get(SymbolId(index as u32)) else {
                by_symbol.push(kinds);
                continue;
            };
            for side in [Side::Buy, Side::Sell] {
                for order_type in ORDER_TYPES {
                    let algo = market == Market::UsdmFutures
                        && matches!(
                            order_type,
                            OrderType::StopMarket | OrderType::TakeProfitMarket
                        );
                    if algo {
                        continue;
                    }
                    params.clear();
                    params.trusted_text(
                        Param::NewOrderRespType,
                        config.response_type.as_str(market),
                    )?;
                    if config.recv_window_ms > 0 {
                        params.integer(Param::RecvWindow, u64::from(config.recv_window_ms))?;
                    }
                    params.trusted_text(Param::Side, side.as_str())?;
                    params.trusted_text(Param::Symbol, entry.name.as_str())?;
                    params.trusted_text(Param::Type, book_order_type(market, order_type))?;
                    text.clear();
                    params.write_query(&mut text)?;
                    text.push(b'&')?;
                    if text.as_bytes().len() >= MIN_PREFIX_LEN {
                        kinds[kind_index(side, order_type)] =
                            Some(signer.with_prefix(text.as_bytes()));
                    }
                }
            }
            by_symbol.push(kinds);
        }
        Ok(Self { by_symbol })
    }

    /// The prefixed signer of a book placement, if its prefix was long enough to keep.
    #[inline]
    pub(crate) fn get(
        &self,
        symbol: SymbolId,
        side: Side,
        order_type: OrderType,
    ) -> Option<&PrefixedHmacSigner> {
        self.by_symbol
            .get(symbol.index())?
            .get(kind_index(side, order_type))?
            .as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{Instrument, SymbolTable};

    fn prefixes(family: InstrumentFamily, market: Market, recv_window_ms: u32) -> OrderPrefixes {
        let mut table = SymbolTable::new();
        table.intern("BTCUSDT").expect("valid name");
        let symbols = OrderSymbols::new(
            family,
            &table,
            &[Instrument::new("BTCUSDT", market, "BTC", "USDT")],
        )
        .expect("one instrument");
        let config = CodecConfig {
            recv_window_ms,
            ..CodecConfig::default()
        };
        let signer = HmacSigner::new(b"secret").expect("non-empty");
        OrderPrefixes::new(&symbols, &signer, &config).expect("short names fit")
    }

    #[test]
    fn prefixes_hold_the_constant_params_and_only_when_they_fill_a_block() {
        let spot = prefixes(InstrumentFamily::Spot, Market::Spot, 5_000);
        let limit = spot
            .get(SymbolId(0), Side::Sell, OrderType::Limit)
            .expect("73 bytes fill a block");
        assert_eq!(
            limit.prefix(),
            b"newOrderRespType=ACK&recvWindow=5000&side=SELL&symbol=BTCUSDT&type=LIMIT&"
        );
        assert!(spot
            .get(SymbolId(1), Side::Sell, OrderType::Limit)
            .is_none());
        let short = prefixes(InstrumentFamily::Spot, Market::Spot, 0);
        assert!(
            short
                .get(SymbolId(0), Side::Buy, OrderType::Market)
                .is_none(),
            "57 bytes save no block"
        );
        let futures = prefixes(InstrumentFamily::UsdmFutures, Market::UsdmFutures, 5_000);
        assert!(futures
            .get(SymbolId(0), Side::Buy, OrderType::Limit)
            .is_some());
        assert!(
            futures
                .get(SymbolId(0), Side::Sell, OrderType::StopMarket)
                .is_none(),
            "futures stops go to the Algo Service"
        );
    }
}
