//! Owns: the HMM model file — versioned JSON written by `kestrel hmm-train` and read by the
//! engine (and its hot reload) — and its validation. Never: accepts a file whose shapes,
//! probabilities or variances are wrong; every error names the field.
//!
//! ```json
//! {"format": "kestrel-hmm", "version": 1,
//!  "states": 3, "labels": ["bear", "chop", "bull"],
//!  "features": ["last_return", "return_std_20", "vwap_deviation",
//!               "price_zscore_30", "volume_spike_20"],
//!  "window": 120,
//!  "start": [p, …], "trans": [[p, …], …],
//!  "means": [[…5…], …], "vars": [[…5…], …],
//!  "scaler": {"mean": […5…], "std": […5…]},
//!  "log_likelihood": -1234.5,
//!  "trained_on": {"inputs": [...], "rows": 13000, "sequences": 1, "bar_minutes": 1,
//!                 "seed": 42, "restarts": 5, "max_iterations": 200, "tolerance": 0.01}}
//! ```
//!
//! Means and variances are in standardised units (the scaler's); probabilities must sum to
//! one within [`PROBABILITY_TOLERANCE`](super::model::PROBABILITY_TOLERANCE); variances and
//! scaler deviations must be positive; exactly one state is bull and one bear.

use std::path::Path;

use super::features::Features;
use super::model::{HmmModel, ModelParts, Scaler, StateLabel, TrainedOn};

/// The `format` field.
pub const MODEL_FORMAT: &str = "kestrel-hmm";
/// The only `version` this build reads and writes.
pub const MODEL_VERSION: u32 = 1;

/// Why a model file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ModelFileError {
    #[error("model file {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("model file is not valid JSON of the model format: {0}")]
    Json(String),
    #[error("model file format is {0:?}, not \"kestrel-hmm\"")]
    Format(String),
    #[error("model file version {0} is not supported (this build reads version 1)")]
    Version(u32),
    #[error("model file says {declared} states but holds {actual}")]
    StateCount { declared: usize, actual: usize },
    #[error("model file: {0}")]
    Invalid(String),
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ScalerFile {
    mean: Features,
    std: Features,
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelFile {
    format: String,
    version: u32,
    states: usize,
    labels: Vec<StateLabel>,
    features: Vec<String>,
    window: usize,
    start: Vec<f64>,
    trans: Vec<Vec<f64>>,
    means: Vec<Features>,
    vars: Vec<Features>,
    scaler: ScalerFile,
    log_likelihood: f64,
    trained_on: TrainedOn,
}

/// Only the header, read first so a newer version fails on its version, not its fields.
#[derive(serde::Deserialize)]
struct Header {
    format: String,
    version: u32,
}

impl HmmModel {
    /// Parses and validates a model file's bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self, ModelFileError> {
        let header: Header =
            serde_json::from_slice(bytes).map_err(|e| ModelFileError::Json(e.to_string()))?;
        if header.format != MODEL_FORMAT {
            return Err(ModelFileError::Format(header.format));
        }
        if header.version != MODEL_VERSION {
            return Err(ModelFileError::Version(header.version));
        }
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let file: ModelFile = serde_path_to_error::deserialize(&mut de)
            .map_err(|e| ModelFileError::Json(format!("{}: {}", e.path(), e.inner())))?;
        if file.start.len() != file.states {
            return Err(ModelFileError::StateCount {
                declared: file.states,
                actual: file.start.len(),
            });
        }
        HmmModel::from_parts(ModelParts {
            start: file.start,
            trans: file.trans,
            means: file.means,
            vars: file.vars,
            labels: file.labels,
            scaler: Scaler {
                mean: file.scaler.mean,
                std: file.scaler.std,
            },
            features: file.features,
            window: file.window,
            log_likelihood: file.log_likelihood,
            trained_on: file.trained_on,
        })
        .map_err(ModelFileError::Invalid)
    }

    /// Reads and validates the model file at `path`.
    pub fn load(path: &Path) -> Result<Self, ModelFileError> {
        let bytes = std::fs::read(path).map_err(|source| ModelFileError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&bytes)
    }

    /// The model file's JSON (pretty, one field per line).
    pub fn to_json(&self) -> String {
        let n = self.states;
        let file = ModelFile {
            format: MODEL_FORMAT.into(),
            version: MODEL_VERSION,
            states: n,
            labels: self.labels().to_vec(),
            features: self.features.clone(),
            window: self.window,
            start: self.start().to_vec(),
            trans: (0..n).map(|i| self.transition_row(i).to_vec()).collect(),
            means: self.means[..n].to_vec(),
            vars: self.vars[..n].to_vec(),
            scaler: ScalerFile {
                mean: self.scaler.mean,
                std: self.scaler.std,
            },
            log_likelihood: self.log_likelihood,
            trained_on: self.trained_on.clone(),
        };
        // Every field is a plain number, string or list: serialisation cannot fail, and
        // serde_json writes f64 in the shortest form that reads back to the same bits.
        serde_json::to_string_pretty(&file).unwrap_or_default()
    }

    /// Writes the model file to `path` (via a temporary file renamed over it, so a
    /// watcher never reads half a file).
    pub fn save(&self, path: &Path) -> Result<(), ModelFileError> {
        let io = |source| ModelFileError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut temp = path.as_os_str().to_owned();
        temp.push(".tmp");
        let temp = std::path::PathBuf::from(temp);
        std::fs::write(&temp, self.to_json()).map_err(io)?;
        std::fs::rename(&temp, path).map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strat::hmm::features::FEATURE_NAMES;

    fn model() -> HmmModel {
        HmmModel::from_parts(ModelParts {
            start: vec![0.2, 0.3, 0.5],
            trans: vec![
                vec![0.9, 0.05, 0.05],
                vec![0.1, 0.8, 0.1],
                vec![0.15, 0.05, 0.8],
            ],
            means: vec![[0.1, -0.2, 0.3, 0.4, 0.5], [-1.0; 5], [1.0 / 3.0; 5]],
            vars: vec![[0.5; 5], [1.25; 5], [0.001; 5]],
            labels: vec![StateLabel::Chop, StateLabel::Bear, StateLabel::Bull],
            scaler: Scaler {
                mean: [1e-5, 2e-3, 0.0, -0.1, 1.0],
                std: [1e-3, 1e-4, 2e-3, 1.0, 0.7],
            },
            features: FEATURE_NAMES.iter().map(|s| s.to_string()).collect(),
            window: 120,
            log_likelihood: -12345.678,
            trained_on: TrainedOn {
                inputs: vec!["BTCUSDT:candles:x.json".into()],
                rows: 100,
                sequences: 1,
                bar_minutes: 1,
                seed: 42,
                restarts: 5,
                max_iterations: 200,
                tolerance: 0.01,
            },
        })
        .expect("valid")
    }

    #[test]
    fn a_model_round_trips_through_its_file_bit_for_bit() {
        let m = model();
        let json = m.to_json();
        assert!(json.contains("\"format\": \"kestrel-hmm\""));
        assert!(json.contains("\"labels\": [\n    \"chop\",\n    \"bear\",\n    \"bull\""));
        let back = HmmModel::parse(json.as_bytes()).expect("parses");
        assert_eq!(back, m);

        let dir = std::env::temp_dir().join(format!("kestrel-hmm-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("model.json");
        m.save(&path).expect("writes");
        assert_eq!(HmmModel::load(&path).expect("reads"), m);
        std::fs::remove_dir_all(&dir).expect("cleanup");
        assert!(matches!(
            HmmModel::load(&path),
            Err(ModelFileError::Io { .. })
        ));
    }

    fn edit(change: impl FnOnce(&mut serde_json::Value)) -> String {
        let mut value: serde_json::Value = serde_json::from_str(&model().to_json()).expect("json");
        change(&mut value);
        match HmmModel::parse(value.to_string().as_bytes()) {
            Ok(_) => panic!("accepted an invalid file"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn invalid_files_are_refused_with_the_field_named() {
        let e = edit(|v| v["format"] = "pickle".into());
        assert!(e.contains("format is \"pickle\""), "{e}");
        let e = edit(|v| v["version"] = 2.into());
        assert!(e.contains("version 2"), "{e}");
        let e = edit(|v| v["states"] = 4.into());
        assert!(e.contains("says 4 states but holds 3"), "{e}");
        let e = edit(|v| v["trans"][1][0] = 0.5.into());
        assert!(e.contains("trans row 1 sums to"), "{e}");
        let e = edit(|v| v["start"][0] = 0.3.into());
        assert!(e.contains("start sums to"), "{e}");
        let e = edit(|v| v["vars"][2][4] = (-0.1).into());
        assert!(e.contains("vars[2][4]"), "{e}");
        let e = edit(|v| v["scaler"]["std"][1] = 0.into());
        assert!(e.contains("scaler.std[1]"), "{e}");
        let e = edit(|v| v["means"][0] = serde_json::json!([1, 2, 3]));
        assert!(e.contains("means[0]"), "{e}");
        let e = edit(|v| v["labels"][0] = "bull".into());
        assert!(e.contains("one bull and one bear"), "{e}");
        let e = edit(|v| v["labels"][0] = "sideways".into());
        assert!(e.contains("labels[0]"), "{e}");
        let e = edit(|v| v["trans"][2] = serde_json::json!([0.5, 0.5]));
        assert!(e.contains("trans row 2 has 2 entries"), "{e}");
        let e = edit(|v| v["extra"] = 1.into());
        assert!(e.contains("extra"), "{e}");
        let e = edit(|v| {
            v.as_object_mut().expect("object").remove("scaler");
        });
        assert!(e.contains("scaler"), "{e}");
        assert!(HmmModel::parse(b"not json").is_err());
        assert!(HmmModel::parse(b"").is_err());
    }
}
