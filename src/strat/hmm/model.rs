//! Owns: a trained Gaussian HMM with diagonal covariances over the standardised features
//! (start probabilities, transition matrix, per-state means and variances, the scaler, and
//! each state's learned label), and the forward filter that turns a stream of feature rows
//! into P(state_t | x_1..t). Never: allocates per step, assumes what a state index means
//! (labels come from training, D-14), or returns NaN.
//!
//! The filter is the normalised forward recursion: α_1 ∝ π ∘ b(x_1), α_t ∝ (α_{t−1} A) ∘
//! b(x_t), with b_j(x) the diagonal Gaussian density of state j. Emission densities are
//! taken in log space and shifted by their maximum before exponentiation, so a row far from
//! every state cannot underflow the whole vector; if the product still vanishes (the
//! predicted mass sits on states the row rules out) the filter restarts from π at that row.

use super::features::{Features, FEATURE_COUNT, FEATURE_NAMES};

/// Most states a model may have.
pub const MAX_STATES: usize = 8;
/// Variance floor of a state, in standardised units (hmmlearn's `min_covar`).
pub const STATE_VARIANCE_FLOOR: f64 = 1e-3;

/// What a state means, from its mean return in training.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StateLabel {
    /// Highest mean return.
    Bull,
    /// Lowest mean return.
    Bear,
    /// Every other state.
    Chop,
}

impl StateLabel {
    /// Name in the model file.
    pub const fn as_str(self) -> &'static str {
        match self {
            StateLabel::Bull => "bull",
            StateLabel::Bear => "bear",
            StateLabel::Chop => "chop",
        }
    }
}

/// Per-feature standardisation fitted on the training rows: z = (x − mean) / std.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scaler {
    pub mean: Features,
    /// Positive.
    pub std: Features,
}

impl Scaler {
    /// Standardises `x`.
    pub fn apply(&self, x: &Features) -> Features {
        let mut z = [0.0; FEATURE_COUNT];
        for d in 0..FEATURE_COUNT {
            z[d] = (x[d] - self.mean[d]) / self.std[d];
        }
        z
    }
}

/// Where and how a model was trained (informational; kept in the file).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainedOn {
    /// Input specs as given to `hmm-train`.
    pub inputs: Vec<String>,
    /// Feature rows trained on.
    pub rows: u64,
    /// Separate sequences (symbols, or stretches split by long gaps).
    pub sequences: u64,
    /// Row cadence in minutes.
    pub bar_minutes: u32,
    pub seed: u64,
    pub restarts: u32,
    pub max_iterations: u32,
    pub tolerance: f64,
}

/// A trained model. Built by training or by parsing a model file; every invariant
/// (shapes, probabilities summing to one, positive variances) holds.
#[derive(Clone, Debug, PartialEq)]
pub struct HmmModel {
    pub(crate) states: usize,
    pub(crate) labels: [StateLabel; MAX_STATES],
    pub(crate) start: [f64; MAX_STATES],
    /// Row-major: `trans[i][j]` = P(state j at t | state i at t − 1).
    pub(crate) trans: [[f64; MAX_STATES]; MAX_STATES],
    pub(crate) means: [Features; MAX_STATES],
    pub(crate) vars: [Features; MAX_STATES],
    /// −½ Σ_d ln(2π var_d) per state, cached.
    pub(crate) log_norm: [f64; MAX_STATES],
    pub(crate) scaler: Scaler,
    /// Feature names, in order (see [`FEATURE_NAMES`]).
    pub(crate) features: Vec<String>,
    /// Rolling window (rows) the features were computed over.
    pub(crate) window: usize,
    pub(crate) log_likelihood: f64,
    pub(crate) trained_on: TrainedOn,
}

/// The parameters a model is built from (by training or a file).
#[derive(Clone, Debug)]
pub struct ModelParts {
    pub start: Vec<f64>,
    pub trans: Vec<Vec<f64>>,
    pub means: Vec<Features>,
    pub vars: Vec<Features>,
    pub labels: Vec<StateLabel>,
    pub scaler: Scaler,
    pub features: Vec<String>,
    pub window: usize,
    pub log_likelihood: f64,
    pub trained_on: TrainedOn,
}

/// Tolerance on a probability vector's sum.
pub const PROBABILITY_TOLERANCE: f64 = 1e-6;

impl HmmModel {
    /// Checks `parts` and builds the model; the error names the first problem.
    pub fn from_parts(parts: ModelParts) -> Result<Self, String> {
        let n = parts.start.len();
        if !(2..=MAX_STATES).contains(&n) {
            return Err(format!(
                "{n} states: between 2 and {MAX_STATES} are supported"
            ));
        }
        let shape = |name: &str, len: usize| {
            if len == n {
                Ok(())
            } else {
                Err(format!("{name} has {len} rows, not one per state ({n})"))
            }
        };
        shape("trans", parts.trans.len())?;
        shape("means", parts.means.len())?;
        shape("vars", parts.vars.len())?;
        shape("labels", parts.labels.len())?;
        if parts.features.len() != FEATURE_COUNT {
            return Err(format!(
                "features lists {} names, not {FEATURE_COUNT}",
                parts.features.len()
            ));
        }
        check_distribution("start", &parts.start)?;
        let mut model = HmmModel {
            states: n,
            labels: [StateLabel::Chop; MAX_STATES],
            start: [0.0; MAX_STATES],
            trans: [[0.0; MAX_STATES]; MAX_STATES],
            means: [[0.0; FEATURE_COUNT]; MAX_STATES],
            vars: [[1.0; FEATURE_COUNT]; MAX_STATES],
            log_norm: [0.0; MAX_STATES],
            scaler: parts.scaler,
            features: parts.features,
            window: parts.window,
            log_likelihood: parts.log_likelihood,
            trained_on: parts.trained_on,
        };
        for (i, row) in parts.trans.iter().enumerate() {
            if row.len() != n {
                return Err(format!("trans row {i} has {} entries, not {n}", row.len()));
            }
            check_distribution(&format!("trans row {i}"), row)?;
            model.trans[i][..n].copy_from_slice(row);
        }
        model.start[..n].copy_from_slice(&parts.start);
        model.labels[..n].copy_from_slice(&parts.labels);
        for j in 0..n {
            for d in 0..FEATURE_COUNT {
                let (mean, var) = (parts.means[j][d], parts.vars[j][d]);
                if !mean.is_finite() {
                    return Err(format!("means[{j}][{d}] is not a finite number"));
                }
                if !(var.is_finite() && var > 0.0) {
                    return Err(format!("vars[{j}][{d}] = {var} is not a positive variance"));
                }
            }
            model.means[j] = parts.means[j];
            model.vars[j] = parts.vars[j];
            model.log_norm[j] = -0.5
                * parts.vars[j]
                    .iter()
                    .map(|v| (2.0 * std::f64::consts::PI * v).ln())
                    .sum::<f64>();
        }
        for d in 0..FEATURE_COUNT {
            if !model.scaler.mean[d].is_finite() {
                return Err(format!("scaler.mean[{d}] is not a finite number"));
            }
            let std = model.scaler.std[d];
            if !(std.is_finite() && std > 0.0) {
                return Err(format!("scaler.std[{d}] = {std} is not positive"));
            }
        }
        let bulls = model
            .labels()
            .iter()
            .filter(|l| **l == StateLabel::Bull)
            .count();
        let bears = model
            .labels()
            .iter()
            .filter(|l| **l == StateLabel::Bear)
            .count();
        if bulls != 1 || bears != 1 {
            return Err(format!(
                "labels need exactly one bull and one bear state (found {bulls} and {bears})"
            ));
        }
        if model.window < super::features::MIN_WINDOW || model.window > super::features::MAX_WINDOW
        {
            return Err(format!(
                "window {} is outside {}..={}",
                model.window,
                super::features::MIN_WINDOW,
                super::features::MAX_WINDOW
            ));
        }
        if !model.log_likelihood.is_finite() {
            return Err("log_likelihood is not a finite number".into());
        }
        Ok(model)
    }

    /// Number of states.
    pub fn states(&self) -> usize {
        self.states
    }

    /// Each state's label.
    pub fn labels(&self) -> &[StateLabel] {
        &self.labels[..self.states]
    }

    /// Start probabilities.
    pub fn start(&self) -> &[f64] {
        &self.start[..self.states]
    }

    /// Transition row of state `i`.
    pub fn transition_row(&self, i: usize) -> &[f64] {
        &self.trans[i][..self.states]
    }

    /// Mean of `state` in standardised units.
    pub fn mean(&self, state: usize) -> &Features {
        &self.means[state]
    }

    /// Variances of `state` in standardised units.
    pub fn variance(&self, state: usize) -> &Features {
        &self.vars[state]
    }

    /// Mean of `state` in the features' own units (de-standardised).
    pub fn raw_mean(&self, state: usize) -> Features {
        let mut raw = [0.0; FEATURE_COUNT];
        for (d, value) in raw.iter_mut().enumerate() {
            *value = self.means[state][d] * self.scaler.std[d] + self.scaler.mean[d];
        }
        raw
    }

    /// The scaler.
    pub fn scaler(&self) -> &Scaler {
        &self.scaler
    }

    /// Feature names the model was trained on.
    pub fn feature_names(&self) -> &[String] {
        &self.features
    }

    /// True when the model's features are this build's [`FEATURE_NAMES`], in order.
    pub fn has_current_features(&self) -> bool {
        self.features.iter().map(String::as_str).eq(FEATURE_NAMES)
    }

    /// Rolling window the features were computed over.
    pub fn window(&self) -> usize {
        self.window
    }

    /// Training log-likelihood.
    pub fn log_likelihood(&self) -> f64 {
        self.log_likelihood
    }

    /// Training provenance.
    pub fn trained_on(&self) -> &TrainedOn {
        &self.trained_on
    }

    /// The state labelled `label` (the first one for `Chop`).
    pub fn state_of(&self, label: StateLabel) -> Option<usize> {
        self.labels().iter().position(|l| *l == label)
    }

    /// ln b_j(z) for every state, z standardised.
    pub(crate) fn log_emissions(&self, z: &Features, out: &mut [f64; MAX_STATES]) {
        for (j, slot) in out.iter_mut().enumerate().take(self.states) {
            let quad: f64 = (0..FEATURE_COUNT)
                .map(|d| (z[d] - self.means[j][d]).powi(2) / self.vars[j][d])
                .sum();
            *slot = self.log_norm[j] - 0.5 * quad;
        }
    }
}

fn check_distribution(name: &str, p: &[f64]) -> Result<(), String> {
    if let Some((i, v)) = p
        .iter()
        .enumerate()
        .find(|(_, v)| !(v.is_finite() && **v >= 0.0 && **v <= 1.0 + PROBABILITY_TOLERANCE))
    {
        return Err(format!("{name}[{i}] = {v} is not a probability"));
    }
    let sum: f64 = p.iter().sum();
    if (sum - 1.0).abs() > PROBABILITY_TOLERANCE {
        return Err(format!("{name} sums to {sum}, not 1"));
    }
    Ok(())
}

/// State probabilities; entries past the model's state count are zero.
pub type StateProbs = [f64; MAX_STATES];

/// The forward filter of one stream of rows.
#[derive(Clone, Copy, Debug)]
pub struct Filter {
    alpha: StateProbs,
    started: bool,
    /// Times the recursion vanished and restarted from the start probabilities.
    restarts: u64,
}

impl Default for Filter {
    fn default() -> Self {
        Self::new()
    }
}

impl Filter {
    /// A filter before its first row.
    pub const fn new() -> Self {
        Self {
            alpha: [0.0; MAX_STATES],
            started: false,
            restarts: 0,
        }
    }

    /// Forgets the past (a new model, a gap the filter should not bridge).
    pub fn reset(&mut self) {
        self.alpha = [0.0; MAX_STATES];
        self.started = false;
    }

    /// True once a row was seen.
    pub fn is_started(&self) -> bool {
        self.started
    }

    /// Times the recursion restarted (see the module doc).
    pub fn restarts(&self) -> u64 {
        self.restarts
    }

    /// The last filtered probabilities (all zero before the first row).
    pub fn probabilities(&self) -> StateProbs {
        self.alpha
    }

    /// Takes one raw (not standardised) feature row and returns P(state_t | x_1..t).
    pub fn step(&mut self, model: &HmmModel, features: &Features) -> StateProbs {
        let n = model.states;
        let z = model.scaler.apply(features);
        let mut log_b = [0.0; MAX_STATES];
        model.log_emissions(&z, &mut log_b);
        let max = log_b[..n].iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mut b = [0.0; MAX_STATES];
        for (value, log) in b.iter_mut().zip(&log_b).take(n) {
            *value = (log - max).exp();
        }
        let mut next = [0.0; MAX_STATES];
        if self.started {
            for (j, slot) in next.iter_mut().enumerate().take(n) {
                let predicted: f64 = (0..n).map(|i| self.alpha[i] * model.trans[i][j]).sum();
                *slot = predicted * b[j];
            }
        }
        let mut sum: f64 = next[..n].iter().sum();
        if !(sum.is_finite() && sum > 0.0) {
            if self.started {
                self.restarts += 1;
            }
            for j in 0..n {
                next[j] = model.start[j] * b[j];
            }
            sum = next[..n].iter().sum();
        }
        if !(sum.is_finite() && sum > 0.0) {
            // Only when π gives zero mass to every state the row allows: uniform.
            for slot in next.iter_mut().take(n) {
                *slot = 1.0;
            }
            sum = n as f64;
        }
        for slot in next.iter_mut().take(n) {
            *slot /= sum;
        }
        self.alpha = next;
        self.started = true;
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two states, features standardised with the identity scaler; only the first feature
    /// separates them (means 0 and 1, variance 1 everywhere).
    pub(crate) fn two_state_model() -> HmmModel {
        HmmModel::from_parts(ModelParts {
            start: vec![0.6, 0.4],
            trans: vec![vec![0.7, 0.3], vec![0.4, 0.6]],
            means: vec![[0.0; 5], [1.0, 0.0, 0.0, 0.0, 0.0]],
            vars: vec![[1.0; 5], [1.0; 5]],
            labels: vec![StateLabel::Bear, StateLabel::Bull],
            scaler: Scaler {
                mean: [0.0; 5],
                std: [1.0; 5],
            },
            features: FEATURE_NAMES.iter().map(|s| s.to_string()).collect(),
            window: 120,
            log_likelihood: -1.0,
            trained_on: TrainedOn::default(),
        })
        .expect("valid model")
    }

    #[test]
    fn filtered_probabilities_match_a_forward_pass_worked_by_hand() {
        // Observations x1 = 0, x2 = 1, x3 = 2 on the first feature. Only the ratio of the
        // two densities matters: b1/b0 = exp(-(x-1)²/2 + x²/2) = exp(x - 1/2).
        //   e(0) = exp(-0.5) = 0.6065306597, e(1) = exp(0.5) = 1.6487212707,
        //   e(2) = exp(1.5) = 4.4816890703.
        // t=1: (0.6·1, 0.4·0.6065306597) = (0.6, 0.2426122639), sum 0.8426122639
        //      α1 = (0.7120713, 0.2879287)
        // t=2: predicted = (0.7120713·0.7 + 0.2879287·0.4, 0.7120713·0.3 + 0.2879287·0.6)
        //               = (0.6136214, 0.3863786)
        //      × (1, 1.6487212707) = (0.6136214, 0.6370307), sum 1.2506521
        //      α2 = (0.4906412, 0.5093588)
        // t=3: predicted = (0.4906412·0.7 + 0.5093588·0.4, 0.4906412·0.3 + 0.5093588·0.6)
        //               = (0.5471923, 0.4528077)
        //      × (1, 4.4816890703) = (0.5471923, 2.0293462), sum 2.5765385
        //      α3 = (0.2123752, 0.7876248)
        let model = two_state_model();
        let mut filter = Filter::new();
        let expected = [
            [0.712_071_3, 0.287_928_7],
            [0.490_641_2, 0.509_358_8],
            [0.212_375_2, 0.787_624_8],
        ];
        for (x, want) in [0.0, 1.0, 2.0].into_iter().zip(expected) {
            let probs = filter.step(&model, &[x, 0.0, 0.0, 0.0, 0.0]);
            assert!((probs[0] - want[0]).abs() < 1e-6, "{probs:?} vs {want:?}");
            assert!((probs[1] - want[1]).abs() < 1e-6, "{probs:?} vs {want:?}");
            assert!(probs[2..].iter().all(|p| *p == 0.0));
        }
        assert_eq!(model.state_of(StateLabel::Bull), Some(1));
    }

    #[test]
    fn a_row_far_from_every_state_neither_underflows_nor_yields_nan() {
        let model = two_state_model();
        let mut filter = Filter::new();
        for x in [1e6, -1e6, f64::MAX / 1e10, 0.0] {
            let probs = filter.step(&model, &[x, x, x, x, x]);
            let sum: f64 = probs.iter().sum();
            assert!(
                probs.iter().all(|p| p.is_finite() && *p >= 0.0),
                "{probs:?}"
            );
            assert!((sum - 1.0).abs() < 1e-12);
        }
        filter.reset();
        assert!(!filter.is_started());
        assert_eq!(filter.probabilities(), [0.0; MAX_STATES]);
    }

    #[test]
    fn bad_parts_are_refused_with_the_reason() {
        let good = || ModelParts {
            start: vec![0.5, 0.5],
            trans: vec![vec![0.5, 0.5], vec![0.5, 0.5]],
            means: vec![[0.0; 5], [1.0; 5]],
            vars: vec![[1.0; 5], [1.0; 5]],
            labels: vec![StateLabel::Bull, StateLabel::Bear],
            scaler: Scaler {
                mean: [0.0; 5],
                std: [1.0; 5],
            },
            features: FEATURE_NAMES.iter().map(|s| s.to_string()).collect(),
            window: 120,
            log_likelihood: 0.0,
            trained_on: TrainedOn::default(),
        };
        assert!(HmmModel::from_parts(good()).is_ok());
        let err = |parts: ModelParts| HmmModel::from_parts(parts).expect_err("refused");
        let mut p = good();
        p.trans[1] = vec![0.5, 0.4];
        assert!(err(p).contains("trans row 1 sums to"));
        let mut p = good();
        p.vars[0][3] = 0.0;
        assert!(err(p).contains("vars[0][3]"));
        let mut p = good();
        p.labels = vec![StateLabel::Bull, StateLabel::Bull];
        assert!(err(p).contains("one bull and one bear"));
        let mut p = good();
        p.means.pop();
        assert!(err(p).contains("means has 1 rows"));
        let mut p = good();
        p.start = vec![1.5, -0.5];
        assert!(err(p).contains("start[0]"));
        let mut p = good();
        p.scaler.std[2] = -1.0;
        assert!(err(p).contains("scaler.std[2]"));
    }
}
