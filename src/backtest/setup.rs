//! Owns: building one backtest from its settings — instruments from an exchangeInfo file,
//! the order manager and portfolio funded with the starting cash, the risk rails on
//! simulated time, the paper venue with the configured models, the strategies — the same
//! wiring `kestrel paper` does, minus sockets and journal. Never: reads market data or the
//! clock.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::core::{Instrument, SymbolId, SymbolTable};
use crate::engine::stage::StrategyStage;
use crate::engine::trading::strategies::{mode_of, StrategySet};
use crate::engine::trading::{
    fresh_order_side, fresh_risk_rails, pair_assets, paper_venue_with, traded_instruments, Probes,
};
use crate::feed::binance::BinanceMarket;
use crate::oms::binance::exchange_info::parse_exchange_info;
use crate::oms::manager::OmsConfig;
use crate::oms::paper::PaperConfig;
use crate::oms::OmsStage;

use super::config::{BacktestConfig, BacktestStrategy};
use super::driver::{symbol_metas, Backtest, SimulatedVenue};
use super::recording::{Recording, StrategyMeta};

/// Instruments and the symbol table a run trades with.
#[derive(Debug, Clone)]
pub struct Instruments {
    pub symbols: SymbolTable,
    pub traded: Vec<(SymbolId, Instrument)>,
}

/// The bundled exchangeInfo of a market.
pub fn bundled_exchange_info(market: BinanceMarket) -> PathBuf {
    PathBuf::from(match market {
        BinanceMarket::Spot => "data/binance_spot_exchange_info_btcusdt.json",
        BinanceMarket::Usdm => "data/binance_usdm_exchange_info_btcusdt.json",
    })
}

/// A relative path as given when it exists from the working directory, else from the crate
/// root (so the bundled defaults work from anywhere inside a checkout).
pub fn resolve(path: &Path) -> PathBuf {
    if path.is_absolute() || path.exists() {
        return path.to_path_buf();
    }
    let from_root = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    if from_root.exists() {
        from_root
    } else {
        path.to_path_buf()
    }
}

/// Reads the instruments of `config`'s symbols.
pub fn load_instruments(config: &BacktestConfig) -> anyhow::Result<Instruments> {
    let b = &config.backtest;
    let path = resolve(
        &b.exchange_info
            .clone()
            .unwrap_or_else(|| bundled_exchange_info(b.market)),
    );
    let body =
        std::fs::read(&path).with_context(|| format!("reading exchangeInfo {}", path.display()))?;
    let info = parse_exchange_info(&body, b.engine_market())
        .with_context(|| format!("parsing exchangeInfo {}", path.display()))?;
    let mut symbols = SymbolTable::new();
    for name in &b.symbols {
        symbols
            .intern(name)
            .with_context(|| format!("backtest.symbols: {name:?}"))?;
    }
    let traded = traded_instruments(&info, &symbols, &b.symbols)
        .with_context(|| format!("instruments from {}", path.display()))?;
    Ok(Instruments { symbols, traded })
}

/// The strategies `config` runs: the `[strategies]` section behind the dispatcher (as
/// `kestrel paper` runs them), or one probe per traded symbol (ids 1, 2, …). With
/// `bars_from_data` the strategies take closed bars from the data (candle inputs), not from
/// trades.
pub fn strategies(
    config: &BacktestConfig,
    instruments: &Instruments,
    bars_from_data: bool,
) -> anyhow::Result<(StrategySet, Vec<StrategyMeta>)> {
    let ids: Vec<SymbolId> = instruments.traded.iter().map(|(id, _)| *id).collect();
    if config.backtest.strategy == BacktestStrategy::Strategies {
        // Model paths: relative to the working directory, else to the crate root (the
        // shipped example's).
        let model = Path::new(&config.strategies.ensemble.model_path);
        let base_dir = if model.is_relative() && !model.exists() {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        } else {
            PathBuf::from(".")
        };
        let built = config.strategies.build(
            &instruments.symbols,
            &instruments.traded,
            config.backtest.engine_market(),
            bars_from_data,
            &base_dir,
        )?;
        let dispatcher = built.dispatcher;
        let metas = dispatcher
            .strategies()
            .into_iter()
            .map(|(id, name, dry_run)| StrategyMeta {
                id,
                name: name.to_owned(),
                mode: mode_of(dry_run),
            })
            .collect();
        return Ok((StrategySet::Dispatcher(Box::new(dispatcher)), metas));
    }
    let probes = Probes::new(Some(&config.probe), &ids);
    let metas = instruments
        .traded
        .iter()
        .enumerate()
        .map(|(index, (_, instrument))| StrategyMeta {
            id: crate::core::StrategyId(index as u16 + 1),
            name: format!("probe:{}", instrument.symbol),
            mode: crate::risk::StrategyMode::Enabled,
        })
        .collect();
    Ok((StrategySet::Probes(probes), metas))
}

/// A ready backtest of `config` on `instruments`; `inputs` are named in the report. With
/// `bars_from_data`, see [`strategies`].
pub fn build(
    config: &BacktestConfig,
    instruments: &Instruments,
    inputs: &[String],
    bars_from_data: bool,
) -> anyhow::Result<Backtest<StrategySet>> {
    let (strategy, strategy_metas) = strategies(config, instruments, bars_from_data)?;
    build_with(
        config,
        config.paper(),
        instruments,
        inputs,
        strategy,
        strategy_metas,
    )
}

/// [`build`] with another strategy stage and paper venue settings (benchmarks: models the
/// settings file does not name); `strategy_metas` name its strategy ids (each gets enabled
/// on the risk rails and listed in the report).
pub fn build_with<G: StrategyStage>(
    config: &BacktestConfig,
    paper: PaperConfig,
    instruments: &Instruments,
    inputs: &[String],
    strategy: G,
    strategy_metas: Vec<StrategyMeta>,
) -> anyhow::Result<Backtest<G>> {
    let b = &config.backtest;
    let market = b.engine_market();
    let first = instruments.traded.first().context("no traded instrument")?;
    let quote = pair_assets(&first.1)?.quote;
    let oms = OmsConfig {
        market,
        ..OmsConfig::default()
    };
    let (manager, _, valuation) = fresh_order_side(
        1,
        oms,
        &instruments.symbols,
        &instruments.traded,
        &[(quote, b.starting_cash)],
    )?;
    let mut paper = paper_venue_with(paper, &manager, &instruments.traded)?;
    if let Some(journal) = &b.recorded_latency {
        let journal = resolve(journal);
        let samples = super::latency::recorded_round_trips(&journal)
            .with_context(|| format!("backtest.recorded_latency {}", journal.display()))?;
        paper
            .set_recorded_latency(samples)
            .context("backtest.recorded_latency")?;
    }
    // Simulated time is UTC epoch ns already: no offset to the wall clock.
    let rails = fresh_risk_rails(
        config.risk,
        instruments.symbols.len(),
        &instruments.traded,
        strategy_metas.iter().map(|meta| (meta.id, meta.mode)),
        0,
    );
    let orders = OmsStage::new(manager, SimulatedVenue::new(paper), rails);
    let mut recording = Recording {
        symbols: symbol_metas(&instruments.traded),
        strategies: strategy_metas,
        account_asset: valuation.as_str().to_owned(),
        ..Recording::default()
    };
    recording.meta.inputs = inputs.to_vec();
    recording.meta.settings = config.describe();
    Ok(Backtest::new(
        strategy,
        orders,
        config.loop_settings(),
        recording,
        instruments.symbols.len(),
    ))
}
