//! Owns: `kestrel hmm-train` — reading recorded market data through the backtester's
//! inputs, resampling it to 1-minute rows per symbol, computing the features, training
//! the model and writing the model file with a convergence report. Never: runs in the
//! engine (it is an operator tool: it reads files and allocates freely).
//!
//! Rows: 1-minute closes and volumes, the cadence the strategy runs the filter on.
//! - 1-minute candles (freqtrade or REST klines JSON, vision kline archives) are taken as
//!   they are; their synthetic trade prints are not used again. Other timeframes are
//!   refused (the model would learn a cadence the strategy never sees).
//! - Trades (captures, journals, trade and aggTrade archives) are aggregated into
//!   1-minute bars by the engine's own `BarAggregator`: close = last trade, volume = Σ qty.
//! - A gap of missing minutes up to `window` long is filled with flat rows (the previous
//!   close, zero volume), as the live bar aggregator does; a longer gap starts a new
//!   sequence (the features would otherwise span hours of nothing).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Context};

use crate::backtest::input::spec::{open_inputs, InputKind, InputOptions, InputSpec};
use crate::backtest::input::{InputEvent, MarketInput};
use crate::book::{Bar, BarAggregator, MINUTE_MS};
use crate::core::{MarketEventKind, SymbolTable};

use super::features::{FeatureWindow, Features};
use super::model::{HmmModel, StateLabel, TrainedOn};
use super::train::{fit, RestartReport, TrainOptions, RETURN_FEATURE};

/// `kestrel hmm-train` arguments.
#[derive(Clone, Debug, PartialEq)]
pub struct HmmTrainArgs {
    /// Input specs (`[SYMBOL:][KIND[@QUALIFIER]:]PATH`, as `kestrel backtest --data`).
    pub data: Vec<String>,
    /// Extra symbols for inputs that name none (captures publish every symbol of the table).
    pub symbols: Vec<String>,
    /// Model file to write.
    pub out: PathBuf,
    pub states: usize,
    pub restarts: u32,
    pub seed: u64,
    pub iterations: u32,
    pub tolerance: f64,
    /// Rolling feature window in rows (minutes).
    pub window: usize,
}

impl Default for HmmTrainArgs {
    fn default() -> Self {
        let options = TrainOptions::default();
        Self {
            data: Vec::new(),
            symbols: Vec::new(),
            out: PathBuf::from("model.json"),
            states: options.states,
            restarts: options.restarts,
            seed: options.seed,
            iterations: options.max_iterations,
            tolerance: options.tolerance,
            window: options.window,
        }
    }
}

/// Where one symbol's rows came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeriesSummary {
    pub symbol: String,
    /// 1-minute rows read (candles, or trade bars with at least one trade).
    pub rows: u64,
    /// From candles (else from trades).
    pub from_candles: bool,
    /// Missing minutes filled with flat rows.
    pub filled_minutes: u64,
    /// Gaps longer than the window (each starts a new sequence).
    pub splits: u64,
}

/// What training did.
#[derive(Clone, Debug)]
pub struct TrainReport {
    pub model: HmmModel,
    pub restarts: Vec<RestartReport>,
    pub best: usize,
    pub series: Vec<SeriesSummary>,
    /// Feature rows trained on.
    pub rows: u64,
    pub sequences: u64,
    pub out: PathBuf,
}

impl TrainReport {
    /// The convergence report, as printed by the command.
    pub fn render(&self) -> String {
        let mut text = String::new();
        for s in &self.series {
            text.push_str(&format!(
                "{}: {} one-minute rows from {}, {} missing minutes filled, {} long gaps\n",
                s.symbol,
                s.rows,
                if s.from_candles { "candles" } else { "trades" },
                s.filled_minutes,
                s.splits
            ));
        }
        text.push_str(&format!(
            "{} feature rows in {} sequences, {} states\n",
            self.rows,
            self.sequences,
            self.model.states()
        ));
        text.push_str("restart  iterations  log-likelihood     converged\n");
        for r in &self.restarts {
            text.push_str(&format!(
                "{:<8} {:<11} {:<18} {}\n",
                r.restart,
                r.iterations,
                if r.failed {
                    "failed".to_string()
                } else {
                    format!("{:.3}", r.log_likelihood)
                },
                if r.converged { "yes" } else { "no" }
            ));
        }
        text.push_str(&format!(
            "best: restart {} (log-likelihood {:.3})\n",
            self.best,
            self.model.log_likelihood()
        ));
        for (j, label) in self.model.labels().iter().enumerate() {
            let raw = self.model.raw_mean(j);
            text.push_str(&format!(
                "state {j}: {:<4} mean return {:+.6} %/min, volatility {:.6}, stay {:.3}\n",
                label.as_str(),
                raw[RETURN_FEATURE] * 100.0,
                raw[1],
                self.model.transition_row(j)[j]
            ));
        }
        text.push_str(&format!("wrote {}\n", self.out.display()));
        text
    }
}

/// One symbol's rows as read.
#[derive(Default)]
struct Collected {
    candle_rows: Vec<(u64, f64, f64)>,
    trade_rows: Vec<(u64, f64, f64)>,
    aggregator: Option<BarAggregator>,
}

fn row_of(bar: &Bar) -> (u64, f64, f64) {
    (bar.open_time_ms, bar.close.to_f64(), bar.volume.to_f64())
}

/// Runs `kestrel hmm-train`.
pub fn train_command(args: HmmTrainArgs) -> anyhow::Result<TrainReport> {
    if args.data.is_empty() {
        bail!("no --data given");
    }
    let specs: Vec<InputSpec> = args
        .data
        .iter()
        .map(|text| InputSpec::parse(text).with_context(|| format!("--data {text:?}")))
        .collect::<anyhow::Result<_>>()?;
    let mut table = SymbolTable::new();
    for name in &args.symbols {
        table
            .intern(&name.to_ascii_uppercase())
            .with_context(|| format!("--symbol {name:?}"))?;
    }
    for spec in &specs {
        let name = match (&spec.symbol, spec.resolved_kind()) {
            (Some(symbol), _) => Some(symbol.clone()),
            (None, InputKind::Candles | InputKind::Vision) => spec
                .path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.split('-').next())
                .map(|s| s.to_ascii_uppercase().replace('_', "")),
            (None, _) => None,
        };
        if let Some(name) = name {
            table
                .intern(&name)
                .with_context(|| format!("symbol of {}", spec.path.display()))?;
        }
    }
    if table.is_empty() {
        bail!("no symbol: name it in the spec (SYMBOL:capture:PATH) or with --symbol");
    }
    let mut input = open_inputs(&specs, &table, &InputOptions::default())?;
    let mut collected: BTreeMap<u32, Collected> = BTreeMap::new();
    while let Some(item) = input.next_item()? {
        match item.event {
            InputEvent::Bar(bar) => {
                if bar.timeframe_min != 1 {
                    bail!(
                        "{}-minute candles: the HMM trains on 1-minute rows (give 1m candles \
                         or trades)",
                        bar.timeframe_min
                    );
                }
                let slot = collected.entry(bar.symbol.0).or_default();
                slot.candle_rows.push(row_of(&bar));
            }
            InputEvent::Market(event) => {
                let MarketEventKind::Trade(print) = event.kind else {
                    continue;
                };
                let slot = collected.entry(event.symbol.0).or_default();
                if slot.aggregator.is_none() {
                    slot.aggregator = Some(BarAggregator::new(event.symbol, &[])?);
                }
                if let Some(aggregator) = slot.aggregator.as_mut() {
                    let rows = &mut slot.trade_rows;
                    aggregator.on_trade(&print, event.exch_ts_ms, &mut |bar: &Bar| {
                        if bar.trade_count > 0 {
                            rows.push(row_of(bar));
                        }
                    });
                }
            }
        }
    }
    let mut sequences: Vec<Vec<Features>> = Vec::new();
    let mut series = Vec::new();
    for (symbol, slot) in collected {
        let from_candles = !slot.candle_rows.is_empty();
        let rows = if from_candles {
            slot.candle_rows
        } else {
            slot.trade_rows
        };
        if rows.is_empty() {
            continue;
        }
        let name = table
            .name(crate::core::SymbolId(symbol))
            .unwrap_or("?")
            .to_string();
        let (summary, mut seqs) = feature_sequences(&name, &rows, from_candles, args.window);
        series.push(summary);
        sequences.append(&mut seqs);
    }
    let rows: usize = sequences.iter().map(Vec::len).sum();
    let options = TrainOptions {
        states: args.states,
        restarts: args.restarts,
        seed: args.seed,
        max_iterations: args.iterations,
        tolerance: args.tolerance,
        window: args.window,
    };
    let trained_on = TrainedOn {
        inputs: args.data.clone(),
        rows: rows as u64,
        sequences: sequences.len() as u64,
        bar_minutes: 1,
        seed: args.seed,
        restarts: args.restarts,
        max_iterations: args.iterations,
        tolerance: args.tolerance,
    };
    let fitted = fit(&sequences, &options, trained_on).context("training")?;
    fitted
        .model
        .save(&args.out)
        .with_context(|| format!("writing {}", args.out.display()))?;
    debug_assert!(fitted.model.state_of(StateLabel::Bull).is_some());
    Ok(TrainReport {
        model: fitted.model,
        restarts: fitted.restarts,
        best: fitted.best,
        series,
        rows: rows as u64,
        sequences: sequences.len() as u64,
        out: args.out,
    })
}

/// Splits `rows` (1-minute, ascending) at long gaps, fills short ones and computes the
/// features of each stretch.
fn feature_sequences(
    symbol: &str,
    rows: &[(u64, f64, f64)],
    from_candles: bool,
    window: usize,
) -> (SeriesSummary, Vec<Vec<Features>>) {
    let mut summary = SeriesSummary {
        symbol: symbol.to_string(),
        rows: rows.len() as u64,
        from_candles,
        filled_minutes: 0,
        splits: 0,
    };
    let mut sequences = Vec::new();
    let mut current: Vec<Features> = Vec::new();
    let mut features = FeatureWindow::new(window);
    let mut previous: Option<(u64, f64)> = None;
    for &(open_ms, close, volume) in rows {
        if let Some((last_ms, last_close)) = previous {
            let missing = (open_ms.saturating_sub(last_ms) / MINUTE_MS).saturating_sub(1);
            if missing as usize > window {
                summary.splits += 1;
                sequences.push(std::mem::take(&mut current));
                features.clear();
            } else {
                for _ in 0..missing {
                    features.push(last_close, Some(0.0));
                    if let Some(f) = features.features() {
                        current.push(f);
                    }
                }
                summary.filled_minutes += missing;
            }
        }
        if features.push(close, Some(volume)) {
            if let Some(f) = features.features() {
                current.push(f);
            }
            previous = Some((open_ms, close));
        }
    }
    sequences.push(current);
    sequences.retain(|s| !s.is_empty());
    (summary, sequences)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_gaps_are_filled_and_long_gaps_split_the_sequence() {
        let minute = MINUTE_MS;
        let mut rows = Vec::new();
        for i in 0..40u64 {
            rows.push((i * minute, 100.0 + i as f64, 1.0));
        }
        // 3 missing minutes, then 40 more rows, then a 100-minute hole and 10 rows.
        for i in 43..83u64 {
            rows.push((i * minute, 100.0 + i as f64, 1.0));
        }
        for i in 185..195u64 {
            rows.push((i * minute, 100.0 + i as f64, 1.0));
        }
        let (summary, sequences) = feature_sequences("X", &rows, true, 30);
        assert_eq!(summary.filled_minutes, 3);
        assert_eq!(summary.splits, 1);
        assert_eq!(summary.rows, 90);
        assert_eq!(sequences.len(), 2);
        // First stretch: 83 rows incl. filled, features from the third.
        assert_eq!(sequences[0].len(), 83 - 2);
        assert_eq!(sequences[1].len(), 10 - 2);
        // A filled minute repeats the close with zero volume: zero return.
        assert_eq!(sequences[0][40 - 2][0], 0.0);
    }
}
