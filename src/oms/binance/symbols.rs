//! Owns: the symbols one Binance order codec may trade: wire name, filters and decimals per
//! `SymbolId`, and the reverse lookup for parsing replies. Never: grows after construction.
//!
//! One table serves one `exchangeInfo`: the spot one (spot and margin orders, which share
//! the spot filters) or the USDⓈ-M one. Only instruments interned in the engine's
//! `SymbolTable` are kept: the engine cannot name the others.

use crate::core::instrument::{Instrument, Market};
use crate::core::symbol::{SymbolId, SymbolName, SymbolTable};

/// Which `exchangeInfo` a table was built from.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum InstrumentFamily {
    /// `/api/v3/exchangeInfo`: spot and margin orders.
    Spot,
    /// `/fapi/v1/exchangeInfo`: USDⓈ-M futures orders.
    UsdmFutures,
}

impl InstrumentFamily {
    /// True when orders for `market` use this family's instruments.
    pub const fn serves(self, market: Market) -> bool {
        matches!(
            (self, market),
            (InstrumentFamily::Spot, Market::Spot | Market::Margin)
                | (InstrumentFamily::UsdmFutures, Market::UsdmFutures)
        )
    }
}

/// Why a symbol table could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderSymbolsError {
    /// An instrument of the other family was handed in.
    #[error("instrument {symbol} is a {market:?} instrument, not {family:?}")]
    WrongFamily {
        symbol: String,
        market: Market,
        family: InstrumentFamily,
    },
    /// A name that would need percent-encoding (the codec never encodes).
    #[error("symbol {0:?} is not plain ASCII letters and digits")]
    UnsafeName(String),
}

/// One tradable symbol as the codec needs it.
#[derive(Clone, Debug)]
pub struct OrderSymbol {
    /// Wire name.
    pub name: SymbolName,
    /// Filters and decimals from `exchangeInfo`.
    pub instrument: Instrument,
}

/// Symbols by `SymbolId`, for one instrument family.
#[derive(Clone, Debug)]
pub struct OrderSymbols {
    family: InstrumentFamily,
    by_id: Vec<Option<OrderSymbol>>,
    names: SymbolTable,
}

impl OrderSymbols {
    /// Keeps the instruments whose names `table` interned, indexed by their ids.
    pub fn new(
        family: InstrumentFamily,
        table: &SymbolTable,
        instruments: &[Instrument],
    ) -> Result<Self, OrderSymbolsError> {
        let mut by_id: Vec<Option<OrderSymbol>> = vec![None; table.len()];
        for instrument in instruments {
            if !family.serves(instrument.market) {
                return Err(OrderSymbolsError::WrongFamily {
                    symbol: instrument.symbol.clone(),
                    market: instrument.market,
                    family,
                });
            }
            let Some(id) = table.get(instrument.symbol.as_bytes()) else {
                continue;
            };
            if !instrument.symbol.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(OrderSymbolsError::UnsafeName(instrument.symbol.clone()));
            }
            let name = table
                .inline_name(id)
                .ok_or_else(|| OrderSymbolsError::UnsafeName(instrument.symbol.clone()))?;
            by_id[id.index()] = Some(OrderSymbol {
                name,
                instrument: instrument.clone(),
            });
        }
        Ok(Self {
            family,
            by_id,
            names: table.clone(),
        })
    }

    /// The family the table serves.
    pub fn family(&self) -> InstrumentFamily {
        self.family
    }

    /// The symbol behind `id`, if the codec may trade it.
    #[inline]
    pub fn get(&self, id: SymbolId) -> Option<&OrderSymbol> {
        self.by_id.get(id.index()).and_then(Option::as_ref)
    }

    /// One past the largest id the table can hold (the engine's symbol count).
    pub fn id_bound(&self) -> usize {
        self.by_id.len()
    }

    /// The id of a wire name (for replies), if the engine interned it.
    #[inline]
    pub fn id_of(&self, name: &str) -> Option<SymbolId> {
        self.names.get(name.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_interned_symbols_and_refuses_the_other_family() {
        let mut table = SymbolTable::new();
        let btc = table.intern("BTCUSDT").expect("valid");
        let eth = table.intern("ETHUSDT").expect("valid");
        let instruments = [
            Instrument::new("BTCUSDT", Market::Spot, "BTC", "USDT"),
            Instrument::new("LTCBTC", Market::Spot, "LTC", "BTC"),
        ];
        let symbols = OrderSymbols::new(InstrumentFamily::Spot, &table, &instruments)
            .expect("spot instruments");
        assert_eq!(symbols.get(btc).map(|s| s.name.as_str()), Some("BTCUSDT"));
        assert!(symbols.get(eth).is_none(), "no instrument for ETHUSDT");
        assert!(symbols.get(SymbolId(99)).is_none());
        assert_eq!(symbols.id_of("ETHUSDT"), Some(eth));
        let futures = [Instrument::new(
            "BTCUSDT",
            Market::UsdmFutures,
            "BTC",
            "USDT",
        )];
        assert!(matches!(
            OrderSymbols::new(InstrumentFamily::Spot, &table, &futures),
            Err(OrderSymbolsError::WrongFamily { .. })
        ));
    }
}
