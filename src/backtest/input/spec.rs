//! Owns: naming the backtest's input files — what each is (detected from its path or
//! forced), for which symbol, market and timeframe — and opening them all as one merged,
//! windowed stream. Never: reads data itself (each kind's reader does).
//!
//! A spec as text is `[SYMBOL:][KIND[@QUALIFIER]:]PATH`:
//!
//! - `PATH` alone: the kind is detected — a directory is a `journal`, a name ending in
//!   `.csv` or `.csv.gz` is a `vision` archive, `.json` or `.json.gz` is `candles`, anything
//!   else is a `capture` (hftbacktest-style `<recv_ns> <frame>` lines, plain or gzip).
//! - `KIND:PATH` forces the kind (`capture`, `journal`, `vision`, `candles`, or `auto`).
//! - `SYMBOL:KIND:PATH` also sets the symbol (`BTCUSDT:candles:UNITTEST_BTC-1m.json`; for a
//!   capture it restricts the published events to that symbol and receives its snapshots).
//! - The qualifier is the market of a capture or journal (`capture@usdm`, `journal@spot`)
//!   or the timeframe of candles (`candles@1h`).
//!
//! The text is split on the first two `:` only when the parts are a kind (and a symbol), so
//! paths with colons work in the `PATH` form when their first part is not a kind name.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};

use crate::core::SymbolTable;
use crate::feed::binance::vision::interval_minutes;
use crate::feed::binance::BinanceMarket;

use super::candles::CandleFileInput;
use super::capture::{guess_capture_market, CaptureInput};
use super::merge::MergedInput;
use super::vision::VisionInput;
use super::MarketInput;

/// What an input file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputKind {
    /// hftbacktest-style capture: `<recv_ns> <raw JSON>` lines, plain or gzip.
    Capture,
    /// A journal directory with `MarketFrame` records.
    Journal,
    /// A data.binance.vision CSV archive (`.csv` / `.csv.gz`).
    Vision,
    /// Candle JSON (freqtrade or Binance REST klines).
    Candles,
}

impl InputKind {
    /// The kind named `name` (`capture`, `journal`, `vision`, `candles`).
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "capture" => InputKind::Capture,
            "journal" => InputKind::Journal,
            "vision" => InputKind::Vision,
            "candles" => InputKind::Candles,
            _ => return None,
        })
    }

    /// The kind a path is taken for when none is forced (see the module doc).
    pub fn detect(path: &Path) -> Self {
        if path.is_dir() {
            return InputKind::Journal;
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        let name = name.strip_suffix(".gz").unwrap_or(&name);
        if name.ends_with(".csv") {
            InputKind::Vision
        } else if name.ends_with(".json") {
            InputKind::Candles
        } else {
            InputKind::Capture
        }
    }

    /// Name used in specs.
    pub const fn as_str(self) -> &'static str {
        match self {
            InputKind::Capture => "capture",
            InputKind::Journal => "journal",
            InputKind::Vision => "vision",
            InputKind::Candles => "candles",
        }
    }
}

/// One input file and what is known about it up front.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputSpec {
    pub path: PathBuf,
    /// Forced kind; detected from the path when `None`.
    pub kind: Option<InputKind>,
    /// Symbol (as the venue names it); from the file name or, for captures, every symbol of
    /// the table when `None`.
    pub symbol: Option<String>,
    /// Market of a capture or journal; `InputOptions::market` or a guess when `None`.
    pub market: Option<BinanceMarket>,
    /// Candle timeframe in minutes; from the file name or rows when `None`.
    pub timeframe_min: Option<u32>,
}

impl InputSpec {
    /// A spec of `path` with everything detected.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            kind: None,
            symbol: None,
            market: None,
            timeframe_min: None,
        }
    }

    /// Parses `[SYMBOL:][KIND[@QUALIFIER]:]PATH` (see the module doc).
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let parts: Vec<&str> = text.splitn(3, ':').collect();
        let is_kind = |part: &str| {
            let name = part.split('@').next().unwrap_or("");
            name == "auto" || InputKind::from_name(name).is_some()
        };
        let (symbol, kind, path) = match parts.as_slice() {
            [symbol, kind, path] if is_kind(kind) => (Some(*symbol), Some(*kind), *path),
            [kind, _, _] if is_kind(kind) => (None, Some(*kind), &text[kind.len() + 1..]),
            [kind, path] if is_kind(kind) => (None, Some(*kind), *path),
            _ => (None, None, text),
        };
        if path.is_empty() {
            bail!("input spec {text:?} has no path");
        }
        let mut spec = InputSpec::new(path);
        if let Some(symbol) = symbol {
            if symbol.is_empty() {
                bail!("input spec {text:?} has an empty symbol");
            }
            spec.symbol = Some(symbol.to_ascii_uppercase());
        }
        if let Some(kind) = kind {
            let (name, qualifier) = match kind.split_once('@') {
                Some((name, q)) => (name, Some(q)),
                None => (kind, None),
            };
            spec.kind = InputKind::from_name(name);
            match (spec.kind, qualifier) {
                (_, None) => {}
                (Some(InputKind::Capture | InputKind::Journal), Some(q)) => {
                    spec.market = Some(match q {
                        "spot" => BinanceMarket::Spot,
                        "usdm" => BinanceMarket::Usdm,
                        _ => bail!("input spec {text:?}: market {q:?} is neither spot nor usdm"),
                    });
                }
                (Some(InputKind::Candles), Some(q)) => {
                    spec.timeframe_min = Some(interval_minutes(q).ok_or_else(|| {
                        anyhow!("input spec {text:?}: {q:?} is not a timeframe (1m, 4h, 1d…)")
                    })?);
                }
                (_, Some(q)) => bail!("input spec {text:?}: {name} takes no qualifier {q:?}"),
            }
        }
        Ok(spec)
    }

    /// The kind: forced, or detected from the path.
    pub fn resolved_kind(&self) -> InputKind {
        self.kind.unwrap_or_else(|| InputKind::detect(&self.path))
    }
}

/// Settings shared by all inputs of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InputOptions {
    /// Market of captures and journals whose spec does not say; guessed from the capture's
    /// diff-depth frames when `None`.
    pub market: Option<BinanceMarket>,
    /// Items before this time (ns since the UTC epoch) are left out (captures are still
    /// applied to their books from their start).
    pub from_ns: u64,
    /// Items at or after this time end each input (exclusive bound).
    pub to_ns: u64,
}

impl Default for InputOptions {
    fn default() -> Self {
        Self {
            market: None,
            from_ns: 0,
            to_ns: u64::MAX,
        }
    }
}

/// Opens one spec.
pub fn open_input(
    spec: &InputSpec,
    table: &SymbolTable,
    options: &InputOptions,
) -> anyhow::Result<Box<dyn MarketInput>> {
    let path = &spec.path;
    let symbol = spec.symbol.as_deref();
    Ok(match spec.resolved_kind() {
        kind @ (InputKind::Capture | InputKind::Journal) => {
            let market = match spec.market.or(options.market) {
                Some(market) => market,
                None => guess_capture_market(path)?.ok_or_else(|| {
                    anyhow!(
                        "{}: cannot tell spot from usdm (no depth update near the start): \
                         give the market (capture@usdm:PATH or the run's market)",
                        path.display()
                    )
                })?,
            };
            let symbol = symbol
                .map(|s| {
                    table.get(s.as_bytes()).ok_or_else(|| {
                        anyhow!(
                            "{}: symbol {s:?} is not in the run's symbol table",
                            path.display()
                        )
                    })
                })
                .transpose()?;
            Box::new(CaptureInput::open(
                path,
                kind == InputKind::Journal,
                market,
                symbol,
                table,
            )?)
        }
        InputKind::Vision => Box::new(VisionInput::open(path, symbol, table)?),
        InputKind::Candles => Box::new(CandleFileInput::open(
            path,
            symbol,
            spec.timeframe_min,
            table,
        )?),
    })
}

/// Opens every spec and merges them in time order (ties: spec order, then file order),
/// keeping items in `[options.from_ns, options.to_ns)`.
pub fn open_inputs(
    specs: &[InputSpec],
    table: &SymbolTable,
    options: &InputOptions,
) -> anyhow::Result<MergedInput> {
    if specs.is_empty() {
        bail!("no input files");
    }
    if options.from_ns >= options.to_ns {
        bail!(
            "empty time window: from {} ns is not before to {} ns",
            options.from_ns,
            options.to_ns
        );
    }
    let mut inputs = Vec::with_capacity(specs.len());
    for spec in specs {
        let input = open_input(spec, table, options).with_context(|| {
            format!(
                "opening {} input {}",
                spec.resolved_kind().as_str(),
                spec.path.display()
            )
        })?;
        inputs.push((spec.path.display().to_string(), input));
    }
    Ok(MergedInput::new(inputs, options.from_ns, options.to_ns))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_symbol_kind_and_qualifier() {
        let spec = InputSpec::parse("BTCUSDT:candles@1h:data/x.json").expect("valid spec");
        assert_eq!(spec.symbol.as_deref(), Some("BTCUSDT"));
        assert_eq!(spec.kind, Some(InputKind::Candles));
        assert_eq!(spec.timeframe_min, Some(60));
        assert_eq!(spec.path, PathBuf::from("data/x.json"));

        let spec = InputSpec::parse("capture@usdm:a:b.gz").expect("valid spec");
        assert_eq!(spec.kind, Some(InputKind::Capture));
        assert_eq!(spec.market, Some(BinanceMarket::Usdm));
        assert_eq!(spec.path, PathBuf::from("a:b.gz"));

        let spec = InputSpec::parse("ethusdt:auto:f.csv").expect("valid spec");
        assert_eq!(spec.symbol.as_deref(), Some("ETHUSDT"));
        assert_eq!(spec.kind, None);
        assert_eq!(spec.resolved_kind(), InputKind::Vision);

        let spec = InputSpec::parse("c:/tmp/f.gz").expect("valid spec");
        assert_eq!(spec.path, PathBuf::from("c:/tmp/f.gz"));

        assert!(InputSpec::parse("capture@perp:f.gz").is_err());
        assert!(InputSpec::parse("candles@7x:f.json").is_err());
        assert!(InputSpec::parse("vision@1h:f.csv").is_err());
        assert!(InputSpec::parse("capture:").is_err());
    }

    #[test]
    fn kinds_are_detected_from_the_path() {
        assert_eq!(
            InputKind::detect(Path::new("BTCUSDT-1m-2026-09-15.csv.gz")),
            InputKind::Vision
        );
        assert_eq!(InputKind::detect(Path::new("a.CSV")), InputKind::Vision);
        assert_eq!(
            InputKind::detect(Path::new("UNITTEST_BTC-1m.json")),
            InputKind::Candles
        );
        assert_eq!(
            InputKind::detect(Path::new("binance_spot_btcusdt_20240808.gz")),
            InputKind::Capture
        );
        assert_eq!(InputKind::detect(Path::new("src")), InputKind::Journal);
    }
}
