//! Owns: the order side's start-up wiring shared by `kestrel run`, `kestrel paper` and
//! `kestrel bench e2e` — instruments and rate limits from the venue's exchangeInfo, the
//! order manager and its portfolio rebuilt from the journal, the venue (Binance gateway or
//! paper venue) and the probe strategies. Never: trades before the journal rebuild and the
//! venue reconciliation have finished (the order stage refuses to), takes a starting cash
//! figure for a real venue (its balances come from reconciliation), or holds a secret.

pub mod config;
pub mod strategies;

use std::path::Path;

use anyhow::Context;

use crate::core::{AssetName, Instrument, Market, Qty, StrategyId, SymbolId, SymbolTable};
use crate::engine::stage::{Outbox, StrategyStage};
use crate::feed::binance::live::BinanceFeedConfig;
use crate::oms::binance::exchange_info::{parse_exchange_info, ExchangeInfo, RateLimit};
use crate::oms::binance::gateway::{BinanceGateway, GatewayConfig, GatewayKeys};
use crate::oms::binance::{InstrumentFamily, OrderSymbols};
use crate::oms::manager::{OmsConfig, OrderManager};
use crate::oms::paper::{PaperConfig, PaperVenue};
use crate::oms::portfolio::{PairAssets, PortfolioLedger};
use crate::oms::recovery::RebuildReport;
use crate::oms::{OmsStage, Venue};
use crate::ops::Registry;
use crate::risk::{RiskLimits, RiskRails, StrategyMode, Transition};
use crate::strat::{ProbeConfig, ProbeStrategy};

use self::config::{
    GatewayUrls, OrderAccount, OrderVenue, OrdersConfig, ProbeSettings, StrategyChoice,
};
use self::strategies::{configured_strategies, StrategySet, StrategySetup};

/// The venue's exchangeInfo (`/api/v3/exchangeInfo` or `/fapi/v1/exchangeInfo` under
/// `rest_base_url`), trusting `trusted_cert` when given.
pub fn fetch_exchange_info(
    rest_base_url: &str,
    trusted_cert: Option<&Path>,
    market: Market,
) -> anyhow::Result<ExchangeInfo> {
    let path = match market {
        Market::UsdmFutures => "/fapi/v1/exchangeInfo",
        Market::Spot | Market::Margin => "/api/v3/exchangeInfo",
    };
    let url = format!("{}{path}", rest_base_url.trim_end_matches('/'));
    let agent = crate::feed::binance::snapshot_fetch::build_agent(
        trusted_cert,
        std::time::Duration::from_secs(5),
    )
    .context("exchangeInfo HTTP client")?;
    let body = crate::feed::binance::snapshot_fetch::get_ok_body(&agent, &url, 64 << 20)?;
    parse_exchange_info(&body, market).with_context(|| format!("parsing {url}"))
}

/// The traded symbols' instruments, by the ids of `symbols` (the feed's table).
pub fn traded_instruments(
    info: &ExchangeInfo,
    symbols: &SymbolTable,
    names: &[String],
) -> anyhow::Result<Vec<(SymbolId, Instrument)>> {
    names
        .iter()
        .map(|name| {
            let id = symbols
                .get(name.as_bytes())
                .with_context(|| format!("{name} is not in the engine's symbol table"))?;
            let instrument = info
                .instruments
                .iter()
                .find(|i| i.symbol == *name)
                .with_context(|| format!("{name} is not in the venue's exchangeInfo"))?;
            Ok((id, instrument.clone()))
        })
        .collect()
}

/// Base and quote asset of an instrument.
pub fn pair_assets(instrument: &Instrument) -> anyhow::Result<PairAssets> {
    Ok(PairAssets {
        base: AssetName::new(&instrument.base_asset)
            .with_context(|| format!("{} base asset", instrument.symbol))?,
        quote: AssetName::new(&instrument.quote_asset)
            .with_context(|| format!("{} quote asset", instrument.symbol))?,
    })
}

/// The order manager and its portfolio for journal session `session`, rebuilt from the
/// journal in `journal_dir`. `funding` seeds balances before the replay (the paper venue's
/// starting account); a real venue passes none: reconciliation sets its balances.
pub fn rebuild_order_side(
    journal_dir: &Path,
    session: u32,
    oms: OmsConfig,
    symbols: &SymbolTable,
    traded: &[(SymbolId, Instrument)],
    funding: &[(AssetName, Qty)],
) -> anyhow::Result<(OrderManager<PortfolioLedger>, RebuildReport)> {
    rebuild_order_side_observed(
        journal_dir,
        session,
        oms,
        symbols,
        traded,
        funding,
        &mut |_| {},
    )
}

/// [`rebuild_order_side`], showing `observe` every fill and snapshot on the way (the
/// strategies resume from them).
pub fn rebuild_order_side_observed(
    journal_dir: &Path,
    session: u32,
    oms: OmsConfig,
    symbols: &SymbolTable,
    traded: &[(SymbolId, Instrument)],
    funding: &[(AssetName, Qty)],
    observe: &mut dyn FnMut(crate::oms::recovery::Replayed<'_>),
) -> anyhow::Result<(OrderManager<PortfolioLedger>, RebuildReport)> {
    let (mut manager, quotes, valuation) =
        fresh_order_side(session, oms, symbols, traded, funding)?;
    let report = crate::oms::recovery::rebuild_observed(
        journal_dir,
        &mut manager,
        symbols,
        |id| quotes.get(id.index()).copied().unwrap_or(valuation),
        observe,
    )
    .with_context(|| format!("rebuilding from journal {}", journal_dir.display()))?;
    Ok((manager, report))
}

/// The order side rebuilt from the journal with the strategies resumed from it: their
/// fills, their orders still open, their latest snapshots.
#[allow(clippy::too_many_arguments)]
pub fn rebuild_with_strategies(
    journal_dir: &Path,
    session: u32,
    oms: OmsConfig,
    symbols: &SymbolTable,
    traded: &[(SymbolId, Instrument)],
    funding: &[(AssetName, Qty)],
    strategy: &mut StrategySet,
) -> anyhow::Result<(
    OrderManager<PortfolioLedger>,
    RebuildReport,
    strategies::ResumeReport,
)> {
    let mut resume = strategies::Resume::default();
    let (manager, rebuilt) = rebuild_order_side_observed(
        journal_dir,
        session,
        oms,
        symbols,
        traded,
        funding,
        &mut |record| resume.observe(strategy, record),
    )?;
    let resumed = resume.finish(strategy, manager.open_orders());
    for (component, error) in &resumed.failed {
        eprintln!(
            "kestrel: strategy {component} starts fresh: its snapshot did not restore: {error}"
        );
    }
    Ok((manager, rebuilt, resumed))
}

/// A new order manager and portfolio for `traded`, funded with `funding`, with nothing
/// replayed (a backtest's start); also each symbol's quote asset (by symbol index) and the
/// valuation asset.
pub fn fresh_order_side(
    session: u32,
    oms: OmsConfig,
    symbols: &SymbolTable,
    traded: &[(SymbolId, Instrument)],
    funding: &[(AssetName, Qty)],
) -> anyhow::Result<(OrderManager<PortfolioLedger>, Vec<AssetName>, AssetName)> {
    let first = traded.first().context("no traded instrument")?;
    let valuation = pair_assets(&first.1)?.quote;
    let mut ledger = PortfolioLedger::new(oms.market, valuation);
    let mut instruments = vec![None; symbols.len()];
    let mut quotes = vec![valuation; symbols.len()];
    for (id, instrument) in traded {
        let assets = pair_assets(instrument)?;
        ledger.add_instrument(*id, assets);
        if let Some(slot) = instruments.get_mut(id.index()) {
            *slot = Some(instrument.clone());
        }
        if let Some(slot) = quotes.get_mut(id.index()) {
            *slot = assets.quote;
        }
    }
    for &(asset, qty) in funding {
        ledger.fund(asset, qty);
    }
    let manager = OrderManager::new(oms, session, instruments, ledger)?;
    Ok((manager, quotes, valuation))
}

/// The risk rails for the traded symbols and `strategies` (each in its mode: a dry-run
/// strategy's orders are checked and journaled, never sent), holding what the journal
/// replay found (the equity high-water mark, a halt still in force); the halt's transition
/// is for [`OmsStage::set_restored`].
pub fn risk_rails(
    limits: RiskLimits,
    symbols: &SymbolTable,
    traded: &[(SymbolId, Instrument)],
    strategies: &[(StrategyId, StrategyMode)],
    rebuilt: &RebuildReport,
) -> (RiskRails, Option<Transition>) {
    let wall_offset_ns =
        i128::from(crate::core::clock::wall_ns()) - i128::from(crate::core::clock::mono_ns());
    let mut rails = fresh_risk_rails(
        limits,
        symbols.len(),
        traded,
        strategies.iter().copied(),
        wall_offset_ns,
    );
    let restored = rails.restore(rebuilt.high_water_mark, rebuilt.halt_cause);
    (rails, restored)
}

/// Risk rails for `traded` and `strategies` (in their modes), on a clock `wall_offset_ns`
/// behind the wall clock, with nothing restored.
pub fn fresh_risk_rails(
    limits: RiskLimits,
    symbol_count: usize,
    traded: &[(SymbolId, Instrument)],
    strategies: impl IntoIterator<Item = (StrategyId, StrategyMode)>,
    wall_offset_ns: i128,
) -> RiskRails {
    let mut rails = RiskRails::new(limits, symbol_count, wall_offset_ns);
    for (id, _) in traded {
        rails.add_traded_symbol(*id, 0);
    }
    for (strategy, mode) in strategies {
        rails.add_strategy(strategy, mode);
    }
    rails
}

/// Where the Binance gateway connects and how it signs.
pub struct GatewaySetup<'a> {
    pub market: Market,
    pub urls: GatewayUrls,
    pub trusted_cert: Option<&'a Path>,
    pub keys: GatewayKeys,
    /// See `GatewayConfig::local_rate_limits`: off only against a simulator without limits.
    pub local_rate_limits: bool,
    /// Margin only: each symbol's isolated account instead of the cross account.
    pub isolated_margin: bool,
}

/// The Binance order gateway for the traded instruments.
pub fn binance_gateway(
    setup: &GatewaySetup<'_>,
    symbols: &SymbolTable,
    traded: &[(SymbolId, Instrument)],
    rate_limits: &[RateLimit],
) -> anyhow::Result<BinanceGateway> {
    let family = match setup.market {
        Market::UsdmFutures => InstrumentFamily::UsdmFutures,
        Market::Spot | Market::Margin => InstrumentFamily::Spot,
    };
    let instruments: Vec<Instrument> = traded.iter().map(|(_, i)| i.clone()).collect();
    let order_symbols = OrderSymbols::new(family, symbols, &instruments)?;
    let mut config = GatewayConfig {
        ws_api_url: setup.urls.ws_api_url.clone(),
        rest_base_url: setup.urls.rest_base_url.clone(),
        user_stream_base_url: setup.urls.user_stream_url.clone(),
        trusted_cert: setup.trusted_cert.map(Path::to_path_buf),
        local_rate_limits: setup.local_rate_limits,
        ..GatewayConfig::for_host(setup.market, "localhost", false)
    };
    config.codec.isolated_margin = setup.isolated_margin;
    Ok(BinanceGateway::new(
        config,
        &setup.keys,
        order_symbols,
        rate_limits,
    )?)
}

/// The paper venue holding what the rebuilt manager holds: its balances, the orders that
/// were open when the last run stopped, and trade ids continuing after the last journaled.
pub fn paper_venue(
    manager: &OrderManager<PortfolioLedger>,
    traded: &[(SymbolId, Instrument)],
) -> anyhow::Result<PaperVenue> {
    paper_venue_with(PaperConfig::default(), manager, traded)
}

/// [`paper_venue`] with the given fill, fee, latency and queue models (the backtester's).
pub fn paper_venue_with(
    config: PaperConfig,
    manager: &OrderManager<PortfolioLedger>,
    traded: &[(SymbolId, Instrument)],
) -> anyhow::Result<PaperVenue> {
    let mut venue = PaperVenue::new(config, traded)?;
    for balance in manager.ledger().portfolio().balances() {
        venue.fund(balance.wallet, balance.asset, balance.qty);
    }
    let last_trade = traded
        .iter()
        .map(|(id, _)| manager.last_trade_id(*id))
        .max()
        .unwrap_or(0);
    venue.continue_ids_after(last_trade);
    for command in manager.open_venue_commands() {
        venue.submit(&command, 0);
    }
    Ok(venue)
}

/// One probe per traded symbol (strategy ids 1, 2, …); none when `settings` is `None`.
pub struct Probes(Vec<ProbeStrategy>);

impl Probes {
    /// Probes on `symbols` with `settings`, or no strategy at all.
    pub fn new(settings: Option<&ProbeSettings>, symbols: &[SymbolId]) -> Self {
        let Some(settings) = settings else {
            return Self(Vec::new());
        };
        Self(
            symbols
                .iter()
                .enumerate()
                .map(|(index, &symbol)| {
                    ProbeStrategy::new(ProbeConfig {
                        strategy: StrategyId(index as u16 + 1),
                        symbol,
                        qty: settings.qty,
                        bracket_bps: settings.bracket_bps,
                        cooldown_events: settings.cooldown_events,
                        every_tick: settings.every_tick,
                        tick_on_trades: false,
                    })
                })
                .collect(),
        )
    }
}

impl From<Vec<ProbeStrategy>> for Probes {
    fn from(probes: Vec<ProbeStrategy>) -> Self {
        Self(probes)
    }
}

impl Probes {
    /// Each probe's id and mode (all enabled).
    pub fn modes(&self) -> Vec<(StrategyId, StrategyMode)> {
        (1..=self.0.len())
            .map(|i| (StrategyId(i as u16), StrategyMode::Enabled))
            .collect()
    }

    /// Strategies run (ids `1..=len`).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when no strategy runs.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl StrategyStage for Probes {
    fn on_market(
        &mut self,
        event: &crate::core::MarketEvent,
        intents: &mut Outbox<crate::core::OrderIntent>,
    ) {
        for probe in &mut self.0 {
            probe.on_market(event, intents);
        }
    }

    fn on_exec(
        &mut self,
        event: &crate::core::ExecEvent,
        intents: &mut Outbox<crate::core::OrderIntent>,
    ) {
        for probe in &mut self.0 {
            probe.on_exec(event, intents);
        }
    }

    fn on_timer(&mut self, now_ns: u64, intents: &mut Outbox<crate::core::OrderIntent>) {
        for probe in &mut self.0 {
            probe.on_timer(now_ns, intents);
        }
    }
}

/// The order stage `kestrel run` trades through.
pub enum TradingStage {
    Binance(Box<OmsStage<BinanceGateway, PortfolioLedger>>),
    Paper(Box<OmsStage<PaperVenue, PortfolioLedger>>),
}

impl TradingStage {
    /// Joins the stage to the operator's control API.
    pub fn attach_control(&mut self, endpoint: crate::engine::control::ControlEndpoint) {
        match self {
            TradingStage::Binance(stage) => stage.attach_control(endpoint),
            TradingStage::Paper(stage) => stage.attach_control(endpoint),
        }
    }
}

/// The order side of a trading run, ready for the runner.
pub struct TradingSide {
    pub strategy: StrategySet,
    /// Watches the strategies' model files (the ops thread polls it).
    pub watcher: Option<crate::engine::reload::FileWatcher>,
    pub stage: TradingStage,
    /// What the journal replay found.
    pub rebuilt: RebuildReport,
    /// Venue label of the metrics (`binance-spot`, `binance-usdm`, `paper`).
    pub venue_label: &'static str,
}

/// Builds the order side `[orders]` describes for `kestrel run`: instruments from the
/// venue, manager and portfolio rebuilt from the journal, the risk rails with `limits`, the
/// venue and the strategy. The order stage reconciles with the venue (open orders, trades
/// since the last journaled one, balances) before it lets any order out.
#[allow(clippy::too_many_arguments)]
pub fn prepare_trading(
    orders: &OrdersConfig,
    strategies_config: &crate::strat::StrategiesConfig,
    limits: RiskLimits,
    feed: &BinanceFeedConfig,
    journal_dir: &Path,
    session: u32,
    symbols: &SymbolTable,
    registry: &mut Registry,
) -> anyhow::Result<TradingSide> {
    let market = orders.market(feed);
    let names = orders.traded_symbols(feed);
    let urls = orders.gateway_urls(market);
    let (info_base, info_cert) = match orders.venue {
        OrderVenue::Binance => (urls.rest_base_url.as_str(), orders.trusted_cert.as_deref()),
        OrderVenue::Paper => (feed.rest_base_url.as_str(), feed.trusted_cert.as_deref()),
    };
    let info = fetch_exchange_info(info_base, info_cert, market)?;
    let traded = traded_instruments(&info, symbols, &names)?;
    let ids: Vec<SymbolId> = traded.iter().map(|(id, _)| *id).collect();
    let label = match (orders.venue, market) {
        (OrderVenue::Paper, _) => "paper",
        (OrderVenue::Binance, Market::UsdmFutures) => "binance-usdm",
        (OrderVenue::Binance, Market::Margin) => "binance-margin",
        (OrderVenue::Binance, Market::Spot) => "binance-spot",
    };
    let (mut strategy, watcher) = match orders.strategy {
        StrategyChoice::Strategies => {
            let setup = StrategySetup {
                config: strategies_config,
                symbols,
                traded: &traded,
                market,
                base_dir: Path::new("."),
                venue_label: label,
                klines_from: Some((feed.rest_base_url.as_str(), feed.trusted_cert.as_deref())),
            };
            let (set, watcher, warm) = configured_strategies(&setup, registry)?;
            eprintln!(
                "kestrel: strategies: {} running, {} closed bars of warm-up{}",
                set.len(),
                warm.bars,
                if warm.failed.is_empty() {
                    String::new()
                } else {
                    format!(", warm-up fetches failed: {:?}", warm.failed)
                }
            );
            (set, watcher)
        }
        StrategyChoice::Probe => (
            StrategySet::Probes(Probes::new(Some(&orders.probe), &ids)),
            None,
        ),
        StrategyChoice::None => (StrategySet::Probes(Probes::new(None, &ids)), None),
    };
    let oms = orders.oms.oms_config(market);
    let (stage, rebuilt, venue_label) = match orders.venue {
        OrderVenue::Binance => {
            let keys = if orders.simex_test_keys {
                GatewayKeys::simex_test()
            } else {
                GatewayKeys::from_env()?
            };
            let setup = GatewaySetup {
                market,
                urls,
                trusted_cert: orders.trusted_cert.as_deref(),
                keys,
                local_rate_limits: true,
                isolated_margin: orders.account == OrderAccount::IsolatedMargin,
            };
            let mut gateway = binance_gateway(&setup, symbols, &traded, &info.rate_limits)?;
            gateway.attach_metrics(registry)?;
            let (manager, rebuilt, _) = rebuild_with_strategies(
                journal_dir,
                session,
                oms,
                symbols,
                &traded,
                &[],
                &mut strategy,
            )?;
            let (rails, restored) =
                risk_rails(limits, symbols, &traded, &strategy.modes(), &rebuilt);
            let mut stage = OmsStage::new(manager, gateway, rails);
            stage.set_restored(restored);
            stage.attach_metrics(registry, label)?;
            (TradingStage::Binance(Box::new(stage)), rebuilt, label)
        }
        OrderVenue::Paper => {
            let mut funding = Vec::with_capacity(orders.paper_balances.len());
            for (asset, qty) in &orders.paper_balances {
                let name = AssetName::new(asset)
                    .with_context(|| format!("orders.paper_balances: asset {asset:?}"))?;
                funding.push((name, *qty));
            }
            let (manager, rebuilt, _) = rebuild_with_strategies(
                journal_dir,
                session,
                oms,
                symbols,
                &traded,
                &funding,
                &mut strategy,
            )?;
            let venue = paper_venue(&manager, &traded)?;
            let (rails, restored) =
                risk_rails(limits, symbols, &traded, &strategy.modes(), &rebuilt);
            let mut stage = OmsStage::new(manager, venue, rails);
            stage.set_restored(restored);
            stage.attach_metrics(registry, "paper")?;
            (TradingStage::Paper(Box::new(stage)), rebuilt, "paper")
        }
    };
    Ok(TradingSide {
        strategy,
        watcher,
        stage,
        rebuilt,
        venue_label,
    })
}
