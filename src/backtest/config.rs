//! Owns: the `kestrel backtest` settings file — the market and instruments, the starting
//! account, the simulated venue's fill, fee, latency and queue models, the loop's cadences,
//! the strategies (`[probe]`, the default strategy of `kestrel paper`) and the risk rails
//! (`[risk]`, the live section) — and the `[sweep]` grid. Never: reads data files (the
//! input does) or holds a default that differs from `kestrel paper`'s without saying so.

use std::path::{Path, PathBuf};

use crate::core::{Market, Qty, Ratio};
use crate::engine::trading::config::ProbeSettings;
use crate::feed::binance::BinanceMarket;
use crate::oms::paper::{BeyondVisibleDepth, PaperConfig, QueueModel, TradeFillRule};
use crate::risk::RiskLimits;

use super::driver::LoopSettings;

/// The whole file.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BacktestConfig {
    #[serde(default)]
    pub backtest: BacktestSection,
    /// The probe strategy (`strategy = "probe"`: `kestrel paper --probe`'s qty 0.01,
    /// bracket 10 bps).
    #[serde(default = "paper_probe")]
    pub probe: ProbeSettings,
    /// The strategies (`strategy = "strategies"`, the default; without the section: the
    /// embedded example config's, as `kestrel paper` runs them).
    #[serde(default = "paper_strategies")]
    pub strategies: crate::strat::StrategiesConfig,
    /// The live `[risk]` section (default: the embedded example config's, as `kestrel paper`
    /// runs without `--config`).
    #[serde(default = "paper_risk")]
    pub risk: RiskLimits,
    /// Parameter grid: dotted keys of this file → lists of values (`kestrel backtest --sweep`).
    #[serde(default)]
    pub sweep: toml::Table,
}

impl Default for BacktestConfig {
    fn default() -> Self {
        Self {
            backtest: BacktestSection::default(),
            probe: paper_probe(),
            strategies: paper_strategies(),
            risk: paper_risk(),
            sweep: toml::Table::new(),
        }
    }
}

/// `kestrel paper`'s probe: its command-line defaults.
fn paper_probe() -> ProbeSettings {
    ProbeSettings {
        qty: Qty::from_raw(10_000_000_000_000_000), // 0.01
        bracket_bps: 10,
        ..ProbeSettings::default()
    }
}

/// The `[strategies]` of the embedded example configuration (`kestrel paper`'s default).
fn paper_strategies() -> crate::strat::StrategiesConfig {
    crate::config::Config::embedded_default().map_or_else(|_| Default::default(), |c| c.strategies)
}

/// The `[risk]` of the embedded example configuration (`kestrel paper`'s default).
fn paper_risk() -> RiskLimits {
    crate::config::Config::embedded_default().map_or_else(|_| RiskLimits::default(), |c| c.risk)
}

/// What market orders do past the visible levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BeyondDepth {
    /// Fill at the last visible price moved `slippage_ticks` further.
    Slippage,
    /// Expire the rest.
    Expire,
}

/// When a trade fills a resting limit (queue model `off`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TradeFill {
    Through,
    Touch,
}

/// Where a resting limit order stands in its price level's queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueChoice {
    /// No queue: fills on trades through the price (or at it with `trade_fill = "touch"`).
    Off,
    /// hftbacktest's risk-averse model: cancels never move us up.
    RiskAverse,
    /// hftbacktest's power-probabilistic model with exponent `queue_power`.
    Probabilistic,
}

/// What trades in a backtest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BacktestStrategy {
    /// The `[strategies]` section behind the dispatcher (`kestrel paper`'s default).
    Strategies,
    /// One probe per symbol (`[probe]`; `kestrel paper --probe`).
    Probe,
}

/// `[backtest]`.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BacktestSection {
    /// `strategies` (default) or `probe`.
    pub strategy: BacktestStrategy,
    /// `spot` or `usdm`: the instruments' market and the captures' book-sync rule.
    pub market: BinanceMarket,
    /// exchangeInfo body with the instruments' filters (default: the bundled file of the
    /// market, relative to the crate root or the working directory).
    pub exchange_info: Option<PathBuf>,
    /// Traded symbols (each needs market data in the inputs).
    pub symbols: Vec<String>,
    /// Quote-asset cash the account starts with (spot: USDT; futures: margin wallet).
    pub starting_cash: Qty,
    /// Venue → engine delay of market data.
    pub feed_latency_us: u64,
    /// Engine → venue delay of each order command.
    pub order_entry_latency_us: u64,
    /// Venue → engine delay of each order report.
    pub order_report_latency_us: u64,
    /// A kestrel journal whose order round trips replace the constant order latencies.
    pub recorded_latency: Option<PathBuf>,
    pub maker_fee: Ratio,
    pub taker_fee: Ratio,
    pub beyond_visible_depth: BeyondDepth,
    pub slippage_ticks: u32,
    pub trade_fill: TradeFill,
    /// Queue position model of resting limit orders.
    pub queue_model: QueueChoice,
    /// Exponent of the probabilistic queue model (hftbacktest's examples use 2 or 3).
    pub queue_power: u32,
    /// Equity and mark sampling cadence for the reports.
    pub sample_every_ms: u64,
    /// Strategy timer and order-stage poll cadence (live: 1 ms).
    pub timer_every_us: u64,
}

impl Default for BacktestSection {
    /// The paper venue's defaults, so a backtest and `kestrel paper` agree unless told not to.
    fn default() -> Self {
        let paper = PaperConfig::default();
        Self {
            strategy: BacktestStrategy::Strategies,
            market: BinanceMarket::Spot,
            exchange_info: None,
            symbols: vec!["BTCUSDT".to_owned()],
            starting_cash: Qty::from_int(10_000),
            feed_latency_us: 0,
            order_entry_latency_us: paper.entry_latency_ns / 1_000,
            order_report_latency_us: paper.report_latency_ns / 1_000,
            recorded_latency: None,
            maker_fee: paper.maker_fee_rate,
            taker_fee: paper.taker_fee_rate,
            beyond_visible_depth: BeyondDepth::Slippage,
            slippage_ticks: 1,
            trade_fill: TradeFill::Through,
            queue_model: QueueChoice::Off,
            queue_power: 3,
            sample_every_ms: 1_000,
            timer_every_us: 1_000,
        }
    }
}

/// A settings file as a table (a sweep edits it before it is checked).
pub fn read_table(path: &Path) -> anyhow::Result<toml::Table> {
    Ok(crate::config::load_toml(path)?)
}

impl BacktestSection {
    /// The engine's market of the traded instruments.
    pub fn engine_market(&self) -> Market {
        match self.market {
            BinanceMarket::Spot => Market::Spot,
            BinanceMarket::Usdm => Market::UsdmFutures,
        }
    }
}

impl BacktestConfig {
    /// Checks a parsed settings table. A `[probe]` section that sets only some keys takes
    /// the others from `kestrel paper`'s probe (not from the probe's own defaults), so a
    /// sweep over one probe key changes only that key.
    pub fn from_table(mut table: toml::Table) -> anyhow::Result<Self> {
        if let Some(toml::Value::Table(probe)) = table.get_mut("probe") {
            let paper = paper_probe();
            probe
                .entry("qty")
                .or_insert_with(|| toml::Value::String(paper.qty.to_string()));
            probe
                .entry("bracket_bps")
                .or_insert(toml::Value::Integer(paper.bracket_bps));
        }
        let config: Self = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| anyhow::anyhow!("{e}"))?;
        config.validate()?;
        Ok(config)
    }

    /// Rejects settings that cannot run, naming the key.
    pub fn validate(&self) -> anyhow::Result<()> {
        let b = &self.backtest;
        anyhow::ensure!(
            !b.symbols.is_empty(),
            "backtest.symbols: no symbol to trade"
        );
        anyhow::ensure!(
            b.starting_cash.is_positive(),
            "backtest.starting_cash: must be positive"
        );
        anyhow::ensure!(
            b.sample_every_ms > 0,
            "backtest.sample_every_ms: must be positive"
        );
        anyhow::ensure!(
            b.timer_every_us > 0,
            "backtest.timer_every_us: must be positive"
        );
        for (key, rate) in [("maker_fee", b.maker_fee), ("taker_fee", b.taker_fee)] {
            anyhow::ensure!(
                rate.raw() >= 0 && rate < Ratio::ONE,
                "backtest.{key}: must be in [0, 1)"
            );
        }
        self.risk
            .validate()
            .map_err(|(key, why)| anyhow::anyhow!("risk.{key}: {why}"))?;
        if self.backtest.strategy == BacktestStrategy::Strategies {
            self.strategies
                .validate()
                .map_err(|(key, why)| anyhow::anyhow!("{key}: {why}"))?;
        }
        Ok(())
    }

    /// The paper venue's settings.
    pub fn paper(&self) -> PaperConfig {
        let b = &self.backtest;
        PaperConfig {
            maker_fee_rate: b.maker_fee,
            taker_fee_rate: b.taker_fee,
            entry_latency_ns: b.order_entry_latency_us.saturating_mul(1_000),
            report_latency_ns: b.order_report_latency_us.saturating_mul(1_000),
            beyond_visible_depth: match b.beyond_visible_depth {
                BeyondDepth::Slippage => BeyondVisibleDepth::FillWithSlippage {
                    ticks: b.slippage_ticks,
                },
                BeyondDepth::Expire => BeyondVisibleDepth::ExpireRemainder,
            },
            trade_fill: match b.trade_fill {
                TradeFill::Through => TradeFillRule::ThroughOnly,
                TradeFill::Touch => TradeFillRule::Touch,
            },
            queue_model: match b.queue_model {
                QueueChoice::Off => QueueModel::Off,
                QueueChoice::RiskAverse => QueueModel::RiskAverse,
                QueueChoice::Probabilistic => QueueModel::Probabilistic {
                    power: b.queue_power,
                },
            },
            max_pending_commands: 4096,
            ..PaperConfig::default()
        }
    }

    /// The loop's settings.
    pub fn loop_settings(&self) -> LoopSettings {
        let b = &self.backtest;
        LoopSettings {
            feed_latency_ns: b.feed_latency_us.saturating_mul(1_000),
            timer_every_ns: b.timer_every_us.saturating_mul(1_000),
            sample_every_ns: b.sample_every_ms.saturating_mul(1_000_000),
            ..LoopSettings::default()
        }
    }

    /// `key = value` lines for the report header, in a fixed order.
    pub fn describe(&self) -> Vec<(String, String)> {
        let b = &self.backtest;
        let latency = match &b.recorded_latency {
            Some(path) => format!("recorded from {}", path.display()),
            None => format!(
                "entry {} µs, report {} µs",
                b.order_entry_latency_us, b.order_report_latency_us
            ),
        };
        vec![
            ("market".into(), b.market.as_str().to_owned()),
            ("symbols".into(), b.symbols.join(",")),
            ("starting_cash".into(), b.starting_cash.to_string()),
            ("feed_latency_us".into(), b.feed_latency_us.to_string()),
            ("order_latency".into(), latency),
            ("maker_fee".into(), b.maker_fee.to_string()),
            ("taker_fee".into(), b.taker_fee.to_string()),
            (
                "beyond_visible_depth".into(),
                format!("{:?}", self.paper().beyond_visible_depth),
            ),
            (
                "trade_fill".into(),
                format!("{:?}", b.trade_fill).to_lowercase(),
            ),
            (
                "queue_model".into(),
                match b.queue_model {
                    QueueChoice::Off => "off".to_owned(),
                    QueueChoice::RiskAverse => "risk_averse".to_owned(),
                    QueueChoice::Probabilistic => {
                        format!("probabilistic (power {})", b.queue_power)
                    }
                },
            ),
            (
                "probe".into(),
                format!(
                    "qty {} bracket {} bps cooldown {} events every_tick {}",
                    self.probe.qty,
                    self.probe.bracket_bps,
                    self.probe.cooldown_events,
                    self.probe.every_tick
                ),
            ),
        ]
    }
}
