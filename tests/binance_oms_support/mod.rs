//! Shared by the `binance_oms_*` tests: decimal, asset and client-id literals, and the
//! nautilus Binance fixtures under `../shared/data/real`.

use kestrel::core::{AssetName, ClientOrderId, Market, Price, Qty, SymbolId, SymbolTable};
use kestrel::oms::binance::{InstrumentFamily, OrderSymbols};

use crate::common;

pub fn p(text: &str) -> Price {
    Price::parse(text).expect("test literal is a valid decimal")
}

pub fn q(text: &str) -> Qty {
    Qty::parse(text).expect("test literal is a valid decimal")
}

pub fn a(code: &str) -> AssetName {
    AssetName::new(code).expect("test literal is an asset code")
}

pub fn ours(text: &str) -> ClientOrderId {
    ClientOrderId::parse(text).expect("test literal is a kestrel id")
}

/// `nautilus/binance/<market>/<folder>/<name>`, or `None` after saying why `test` skips.
pub fn nautilus_fixture(test: &str, market: &str, folder: &str, name: &str) -> Option<String> {
    let dir = common::real_data_dir(test)?;
    let path = dir
        .join("nautilus/binance")
        .join(market)
        .join(folder)
        .join(name);
    Some(std::fs::read_to_string(&path).expect("fixture listed in the data README"))
}

/// The fixtures' symbols interned, with spot and USDⓈ-M tables (no filters: the reply and
/// event parsers only need names).
pub struct Symbols {
    pub table: SymbolTable,
    pub spot: OrderSymbols,
    pub futures: OrderSymbols,
}

impl Symbols {
    pub fn new() -> Self {
        let mut table = SymbolTable::new();
        for name in [
            "BTCUSDT", "LTCBTC", "BNBBTC", "ETHUSDT", "ETHBTC", "BNBUSDT",
        ] {
            table.intern(name).expect("valid name");
        }
        Self {
            spot: OrderSymbols::new(InstrumentFamily::Spot, &table, &[]).expect("empty is valid"),
            futures: OrderSymbols::new(InstrumentFamily::UsdmFutures, &table, &[])
                .expect("empty is valid"),
            table,
        }
    }

    pub fn id(&self, name: &str) -> SymbolId {
        self.table.get(name.as_bytes()).expect("interned in new()")
    }

    pub fn of(&self, market: Market) -> &OrderSymbols {
        match market {
            Market::UsdmFutures => &self.futures,
            Market::Spot | Market::Margin => &self.spot,
        }
    }
}
