//! Owns: the Gaussian hidden Markov model of the ensemble strategy (seed-spec §2.1.3) —
//! its features, the model with its learned state labels and forward filter, Baum-Welch
//! training, the versioned model file, and the `kestrel hmm-train` command. Never: trades;
//! the ensemble strategy reads the filter's probabilities.
//!
//! - [`features`]: the five features over a rolling window of 1-minute closes and volumes.
//! - [`model`]: [`HmmModel`] and [`Filter`] (P(state_t | x_1..t), not a one-row emission).
//! - [`train`]: Baum-Welch with seeded restarts and the bull / bear / chop labelling.
//! - [`file`]: the `kestrel-hmm` version 1 JSON file.
//! - [`command`]: `hmm-train` over the backtester's inputs.

pub mod command;
pub mod features;
pub mod file;
pub mod model;
pub mod train;

pub use command::{train_command, HmmTrainArgs, TrainReport};
pub use features::{FeatureWindow, Features, FEATURE_COUNT, FEATURE_NAMES};
pub use file::{ModelFileError, MODEL_FORMAT, MODEL_VERSION};
pub use model::{Filter, HmmModel, StateLabel, StateProbs, MAX_STATES};
pub use train::{fit, Fit, RestartReport, SplitMix64, TrainError, TrainOptions};
