//! Owns: fitting a Gaussian HMM with diagonal covariances to feature rows — Baum-Welch
//! (EM over the scaled forward-backward recursions) from several seeded random restarts,
//! the best log-likelihood kept — and labelling its states from their mean return. Never:
//! reads files or clocks; the same rows, options and seed give the same model bit for bit.
//!
//! - Rows are standardised with a scaler fitted on all of them (population mean and std per
//!   feature; a constant feature keeps std 1). Means and variances live in those units.
//! - Several sequences (symbols, stretches between long gaps) train one model: their
//!   expected counts are summed, their start states averaged.
//! - Initialisation per restart: means by k-means++ seeding on the rows (distinct, spread
//!   out), unit variances, uniform start probabilities, a random transition matrix weighted
//!   toward staying (diagonal + N, then normalised).
//! - An iteration is an E-step (whose log-likelihood is reported) then an M-step; it stops
//!   when the log-likelihood gained less than `tolerance` since the previous E-step
//!   (converged) or after `max_iterations` E-steps; the model returned is the one that
//!   E-step scored. Variances get [`STATE_VARIANCE_FLOOR`] added (hmmlearn's `min_covar`).
//! - Labels: the state with the highest mean of `last_return` is bull, the lowest bear,
//!   the rest chop (D-14: the seed assumed index 0 = bull).

use super::features::{Features, FEATURE_COUNT, FEATURE_NAMES};
use super::model::{
    HmmModel, ModelParts, Scaler, StateLabel, TrainedOn, MAX_STATES, STATE_VARIANCE_FLOOR,
};

/// Feature index the labels are learned from.
pub const RETURN_FEATURE: usize = 0;

/// How to train.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrainOptions {
    /// Hidden states (2..=8; the seed used 3).
    pub states: usize,
    /// Random restarts (at least 1).
    pub restarts: u32,
    /// Seed of the restarts' random initialisations.
    pub seed: u64,
    /// Most E-steps per restart (seed: 200).
    pub max_iterations: u32,
    /// Log-likelihood gain below which a restart has converged.
    pub tolerance: f64,
    /// Rolling window the rows were computed over (stored in the model).
    pub window: usize,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            states: 3,
            restarts: 5,
            seed: 42,
            max_iterations: 200,
            tolerance: 1e-2,
            window: 120,
        }
    }
}

/// How one restart went.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RestartReport {
    pub restart: u32,
    /// E-steps run.
    pub iterations: u32,
    /// Log-likelihood of the model it ended with (−∞ when it failed).
    pub log_likelihood: f64,
    pub converged: bool,
    /// The recursion vanished (a state with no mass anywhere); the restart was dropped.
    pub failed: bool,
}

/// A fitted model and how every restart went.
#[derive(Clone, Debug)]
pub struct Fit {
    pub model: HmmModel,
    pub restarts: Vec<RestartReport>,
    /// Index of the restart kept.
    pub best: usize,
}

/// Why training failed.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TrainError {
    #[error("{0} states: between 2 and {MAX_STATES} are supported")]
    States(usize),
    #[error("{rows} feature rows for {states} states: need at least {needed}")]
    TooFewRows {
        rows: usize,
        states: usize,
        needed: usize,
    },
    #[error("a feature row holds a non-finite value (sequence {sequence}, row {row})")]
    NonFinite { sequence: usize, row: usize },
    #[error("bad option: {0}")]
    Option(String),
    #[error("every restart failed (the recursion vanished)")]
    AllRestartsFailed,
    #[error("the trained model is invalid: {0}")]
    Invalid(String),
}

/// A small deterministic generator (splitmix64), for restarts and test data.
#[derive(Clone, Copy, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator from `seed`.
    pub const fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [0, n) (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_f64() * n as f64) as usize % n.max(1)
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.next_f64(); // (0, 1]: ln is finite
        let u2 = self.next_f64();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

/// Parameters being fitted, in standardised units.
#[derive(Clone, Copy)]
struct Params {
    n: usize,
    start: [f64; MAX_STATES],
    trans: [[f64; MAX_STATES]; MAX_STATES],
    means: [Features; MAX_STATES],
    vars: [Features; MAX_STATES],
}

/// Expected counts of one E-step.
struct Stats {
    log_likelihood: f64,
    start: [f64; MAX_STATES],
    trans: [[f64; MAX_STATES]; MAX_STATES],
    weight: [f64; MAX_STATES],
    sum: [Features; MAX_STATES],
    sum_sq: [Features; MAX_STATES],
}

/// Per-row work buffers, sized to the longest sequence once.
struct Buffers {
    emit: Vec<[f64; MAX_STATES]>,
    alpha: Vec<[f64; MAX_STATES]>,
    beta: Vec<[f64; MAX_STATES]>,
    scale: Vec<f64>,
}

/// Fits a model to `sequences` of raw feature rows.
pub fn fit(
    sequences: &[Vec<Features>],
    options: &TrainOptions,
    trained_on: TrainedOn,
) -> Result<Fit, TrainError> {
    let n = options.states;
    if !(2..=MAX_STATES).contains(&n) {
        return Err(TrainError::States(n));
    }
    if options.restarts == 0 || options.max_iterations == 0 {
        return Err(TrainError::Option(
            "restarts and iterations must be at least 1".into(),
        ));
    }
    if !(options.tolerance.is_finite() && options.tolerance >= 0.0) {
        return Err(TrainError::Option(format!(
            "tolerance {} is not a non-negative number",
            options.tolerance
        )));
    }
    for (s, seq) in sequences.iter().enumerate() {
        if let Some(row) = seq.iter().position(|x| x.iter().any(|v| !v.is_finite())) {
            return Err(TrainError::NonFinite { sequence: s, row });
        }
    }
    let rows: usize = sequences.iter().map(Vec::len).sum();
    let needed = 10 * n;
    if rows < needed {
        return Err(TrainError::TooFewRows {
            rows,
            states: n,
            needed,
        });
    }
    let scaler = fit_scaler(sequences, rows);
    let data: Vec<Vec<Features>> = sequences
        .iter()
        .filter(|s| !s.is_empty())
        .map(|s| s.iter().map(|x| scaler.apply(x)).collect())
        .collect();
    let longest = data.iter().map(Vec::len).max().unwrap_or(0);
    let mut buffers = Buffers {
        emit: vec![[0.0; MAX_STATES]; longest],
        alpha: vec![[0.0; MAX_STATES]; longest],
        beta: vec![[0.0; MAX_STATES]; longest],
        scale: vec![0.0; longest],
    };
    let mut rng = SplitMix64::new(options.seed);
    let mut reports = Vec::with_capacity(options.restarts as usize);
    let mut best: Option<(usize, Params, f64)> = None;
    for restart in 0..options.restarts {
        let mut params = initial_params(&data, n, &mut rng);
        let mut report = RestartReport {
            restart,
            iterations: 0,
            log_likelihood: f64::NEG_INFINITY,
            converged: false,
            failed: false,
        };
        let mut previous = f64::NEG_INFINITY;
        loop {
            let Some(stats) = expect(&params, &data, &mut buffers) else {
                report.failed = true;
                break;
            };
            report.iterations += 1;
            report.log_likelihood = stats.log_likelihood;
            if report.iterations > 1 && stats.log_likelihood - previous < options.tolerance {
                report.converged = true;
                break;
            }
            if report.iterations >= options.max_iterations {
                break;
            }
            previous = stats.log_likelihood;
            maximise(&mut params, &stats, data.len());
        }
        if !report.failed && best.as_ref().is_none_or(|b| report.log_likelihood > b.2) {
            best = Some((reports.len(), params, report.log_likelihood));
        }
        reports.push(report);
    }
    let (best_index, params, log_likelihood) = best.ok_or(TrainError::AllRestartsFailed)?;
    let model = build_model(&params, scaler, log_likelihood, options, trained_on)?;
    Ok(Fit {
        model,
        restarts: reports,
        best: best_index,
    })
}

fn fit_scaler(sequences: &[Vec<Features>], rows: usize) -> Scaler {
    let mut mean = [0.0; FEATURE_COUNT];
    for x in sequences.iter().flatten() {
        for d in 0..FEATURE_COUNT {
            mean[d] += x[d];
        }
    }
    mean.iter_mut().for_each(|m| *m /= rows as f64);
    let mut var = [0.0; FEATURE_COUNT];
    for x in sequences.iter().flatten() {
        for d in 0..FEATURE_COUNT {
            var[d] += (x[d] - mean[d]).powi(2);
        }
    }
    let mut std = [1.0; FEATURE_COUNT];
    for d in 0..FEATURE_COUNT {
        let s = (var[d] / rows as f64).sqrt();
        if s.is_finite() && s > 1e-15 * (1.0 + mean[d].abs()) {
            std[d] = s;
        }
    }
    Scaler { mean, std }
}

fn initial_params(data: &[Vec<Features>], n: usize, rng: &mut SplitMix64) -> Params {
    let rows: Vec<&Features> = data.iter().flatten().collect();
    let mut means = [[0.0; FEATURE_COUNT]; MAX_STATES];
    means[0] = *rows[rng.below(rows.len())];
    let mut nearest = vec![f64::INFINITY; rows.len()];
    for k in 1..n {
        let mut total = 0.0;
        for (i, x) in rows.iter().enumerate() {
            nearest[i] = nearest[i].min(distance2(x, &means[k - 1]));
            total += nearest[i];
        }
        let pick = if total > 0.0 && total.is_finite() {
            let mut target = rng.next_f64() * total;
            let mut chosen = rows.len() - 1;
            for (i, d) in nearest.iter().enumerate() {
                if target < *d {
                    chosen = i;
                    break;
                }
                target -= d;
            }
            chosen
        } else {
            rng.below(rows.len())
        };
        means[k] = *rows[pick];
        // Identical rows everywhere: spread the seeds so the states can separate.
        for v in means[k].iter_mut() {
            *v += 1e-3 * rng.normal();
        }
    }
    let mut trans = [[0.0; MAX_STATES]; MAX_STATES];
    for (i, row) in trans.iter_mut().enumerate().take(n) {
        for (j, slot) in row.iter_mut().enumerate().take(n) {
            *slot = rng.next_f64() + if i == j { n as f64 } else { 0.0 };
        }
        let sum: f64 = row[..n].iter().sum();
        row[..n].iter_mut().for_each(|p| *p /= sum);
    }
    let mut start = [0.0; MAX_STATES];
    start[..n].iter_mut().for_each(|p| *p = 1.0 / n as f64);
    Params {
        n,
        start,
        trans,
        means,
        vars: [[1.0; FEATURE_COUNT]; MAX_STATES],
    }
}

fn distance2(a: &Features, b: &Features) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// The E-step over every sequence; `None` when the forward recursion vanished.
// Index loops over states (i, j), rows (t) and features (d) follow the textbook
// recursions; iterator chains over four parallel arrays would hide them.
#[allow(clippy::needless_range_loop)]
fn expect(params: &Params, data: &[Vec<Features>], buf: &mut Buffers) -> Option<Stats> {
    let n = params.n;
    let mut stats = Stats {
        log_likelihood: 0.0,
        start: [0.0; MAX_STATES],
        trans: [[0.0; MAX_STATES]; MAX_STATES],
        weight: [0.0; MAX_STATES],
        sum: [[0.0; FEATURE_COUNT]; MAX_STATES],
        sum_sq: [[0.0; FEATURE_COUNT]; MAX_STATES],
    };
    let mut log_norm = [0.0; MAX_STATES];
    for (j, slot) in log_norm.iter_mut().enumerate().take(n) {
        *slot = -0.5
            * params.vars[j]
                .iter()
                .map(|v| (2.0 * std::f64::consts::PI * v).ln())
                .sum::<f64>();
    }
    for seq in data {
        let t_len = seq.len();
        // Emissions, each row shifted by its largest log-density.
        for (t, x) in seq.iter().enumerate() {
            let mut log_b = [f64::NEG_INFINITY; MAX_STATES];
            for j in 0..n {
                let quad: f64 = (0..FEATURE_COUNT)
                    .map(|d| (x[d] - params.means[j][d]).powi(2) / params.vars[j][d])
                    .sum();
                log_b[j] = log_norm[j] - 0.5 * quad;
            }
            let max = log_b[..n].iter().copied().fold(f64::NEG_INFINITY, f64::max);
            for j in 0..n {
                buf.emit[t][j] = (log_b[j] - max).exp();
            }
            stats.log_likelihood += max;
        }
        // Forward, normalised per row.
        for t in 0..t_len {
            let mut row = [0.0; MAX_STATES];
            for j in 0..n {
                let prior = if t == 0 {
                    params.start[j]
                } else {
                    (0..n)
                        .map(|i| buf.alpha[t - 1][i] * params.trans[i][j])
                        .sum()
                };
                row[j] = prior * buf.emit[t][j];
            }
            let c: f64 = row[..n].iter().sum();
            if !(c.is_finite() && c > 0.0) {
                return None;
            }
            row[..n].iter_mut().for_each(|v| *v /= c);
            buf.alpha[t] = row;
            buf.scale[t] = c;
            stats.log_likelihood += c.ln();
        }
        // Backward with the forward scales.
        buf.beta[t_len - 1] = [1.0; MAX_STATES];
        for t in (0..t_len - 1).rev() {
            let mut row = [0.0; MAX_STATES];
            for (i, slot) in row.iter_mut().enumerate().take(n) {
                *slot = (0..n)
                    .map(|j| params.trans[i][j] * buf.emit[t + 1][j] * buf.beta[t + 1][j])
                    .sum::<f64>()
                    / buf.scale[t + 1];
            }
            buf.beta[t] = row;
        }
        // Expected counts.
        for t in 0..t_len {
            let mut gamma = [0.0; MAX_STATES];
            for j in 0..n {
                gamma[j] = buf.alpha[t][j] * buf.beta[t][j];
            }
            let g_sum: f64 = gamma[..n].iter().sum();
            if !(g_sum.is_finite() && g_sum > 0.0) {
                return None;
            }
            for j in 0..n {
                let g = gamma[j] / g_sum;
                if t == 0 {
                    stats.start[j] += g;
                }
                stats.weight[j] += g;
                for d in 0..FEATURE_COUNT {
                    stats.sum[j][d] += g * seq[t][d];
                    stats.sum_sq[j][d] += g * seq[t][d] * seq[t][d];
                }
            }
            if t + 1 < t_len {
                let denom = buf.scale[t + 1];
                for i in 0..n {
                    for j in 0..n {
                        stats.trans[i][j] += buf.alpha[t][i]
                            * params.trans[i][j]
                            * buf.emit[t + 1][j]
                            * buf.beta[t + 1][j]
                            / denom;
                    }
                }
            }
        }
    }
    stats.log_likelihood.is_finite().then_some(stats)
}

/// The M-step; a state that got no weight keeps its old parameters.
fn maximise(params: &mut Params, stats: &Stats, sequences: usize) {
    let n = params.n;
    let start_total: f64 = stats.start[..n].iter().sum();
    if start_total > 0.0 && sequences > 0 {
        for j in 0..n {
            params.start[j] = stats.start[j] / start_total;
        }
    }
    for i in 0..n {
        let row_total: f64 = stats.trans[i][..n].iter().sum();
        if row_total > 0.0 && row_total.is_finite() {
            for j in 0..n {
                params.trans[i][j] = stats.trans[i][j] / row_total;
            }
        }
    }
    for j in 0..n {
        let w = stats.weight[j];
        if !(w > 1e-10 && w.is_finite()) {
            continue;
        }
        for d in 0..FEATURE_COUNT {
            let mean = stats.sum[j][d] / w;
            let var = (stats.sum_sq[j][d] / w - mean * mean).max(0.0);
            params.means[j][d] = mean;
            params.vars[j][d] = var + STATE_VARIANCE_FLOOR;
        }
    }
}

fn build_model(
    params: &Params,
    scaler: Scaler,
    log_likelihood: f64,
    options: &TrainOptions,
    trained_on: TrainedOn,
) -> Result<HmmModel, TrainError> {
    let n = params.n;
    let labels = label_states(&params.means[..n]);
    // Renormalise: the sums drift from 1 by rounding over many rows.
    let normalise = |row: &[f64]| -> Vec<f64> {
        let sum: f64 = row.iter().sum();
        row.iter().map(|p| p / sum).collect()
    };
    HmmModel::from_parts(ModelParts {
        start: normalise(&params.start[..n]),
        trans: (0..n).map(|i| normalise(&params.trans[i][..n])).collect(),
        means: params.means[..n].to_vec(),
        vars: params.vars[..n].to_vec(),
        labels,
        scaler,
        features: FEATURE_NAMES.iter().map(|s| s.to_string()).collect(),
        window: options.window,
        log_likelihood,
        trained_on,
    })
    .map_err(TrainError::Invalid)
}

/// Bull for the highest mean return, bear for the lowest, chop for the rest (ties: the
/// lower index wins bull, the higher bear, so two states always get both labels).
pub fn label_states(means: &[Features]) -> Vec<StateLabel> {
    let mut labels = vec![StateLabel::Chop; means.len()];
    if means.is_empty() {
        return labels;
    }
    let mut bull = 0;
    let mut bear = means.len() - 1;
    for (j, m) in means.iter().enumerate() {
        if m[RETURN_FEATURE] > means[bull][RETURN_FEATURE] {
            bull = j;
        }
    }
    for (j, m) in means.iter().enumerate().rev() {
        if j != bull && (bear == bull || m[RETURN_FEATURE] < means[bear][RETURN_FEATURE]) {
            bear = j;
        }
    }
    labels[bull] = StateLabel::Bull;
    if bear != bull {
        labels[bear] = StateLabel::Bear;
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strat::hmm::model::Filter;

    /// A known 3-state process in raw feature units.
    struct Truth {
        means: [Features; 3],
        stds: [Features; 3],
        trans: [[f64; 3]; 3],
    }

    fn truth() -> Truth {
        Truth {
            // bear, chop, bull — deliberately not in the seed's assumed order.
            means: [
                [-0.002, 0.0015, -0.004, -1.2, 2.0],
                [0.0, 0.0005, 0.0, 0.0, 1.0],
                [0.0025, 0.001, 0.005, 1.5, 1.6],
            ],
            stds: [
                [0.0006, 0.0003, 0.0015, 0.35, 0.4],
                [0.0003, 0.0001, 0.0008, 0.3, 0.2],
                [0.0006, 0.0002, 0.0015, 0.35, 0.3],
            ],
            trans: [[0.95, 0.03, 0.02], [0.02, 0.96, 0.02], [0.02, 0.03, 0.95]],
        }
    }

    fn sample(truth: &Truth, len: usize, rng: &mut SplitMix64) -> (Vec<Features>, Vec<usize>) {
        let mut state = rng.below(3);
        let mut rows = Vec::with_capacity(len);
        let mut states = Vec::with_capacity(len);
        for _ in 0..len {
            let mut x = [0.0; 5];
            for (d, value) in x.iter_mut().enumerate() {
                *value = truth.means[state][d] + truth.stds[state][d] * rng.normal();
            }
            rows.push(x);
            states.push(state);
            let u = rng.next_f64();
            let mut acc = 0.0;
            for (j, p) in truth.trans[state].iter().enumerate() {
                acc += p;
                if u < acc {
                    state = j;
                    break;
                }
            }
        }
        (rows, states)
    }

    #[test]
    fn training_recovers_a_known_three_state_model_and_labels_bull_by_return() {
        let truth = truth();
        let mut rng = SplitMix64::new(2024);
        let mut sequences = Vec::new();
        let mut true_states = Vec::new();
        for _ in 0..3 {
            let (rows, states) = sample(&truth, 2000, &mut rng);
            sequences.push(rows);
            true_states.push(states);
        }
        let options = TrainOptions {
            states: 3,
            restarts: 4,
            seed: 7,
            max_iterations: 200,
            tolerance: 1e-4,
            window: 120,
        };
        let fit = fit(&sequences, &options, TrainedOn::default()).expect("trains");
        assert_eq!(fit.restarts.len(), 4);
        assert!(fit.restarts[fit.best].converged, "{:?}", fit.restarts);
        let best_ll = fit.restarts[fit.best].log_likelihood;
        assert!(fit.restarts.iter().all(|r| r.log_likelihood <= best_ll));
        let model = &fit.model;
        // Match each true state to the fitted state nearest in standardised units.
        for (k, true_mean) in truth.means.iter().enumerate() {
            let z = model.scaler().apply(true_mean);
            let j = (0..3)
                .min_by(|&a, &b| {
                    distance2(&z, model.mean(a)).total_cmp(&distance2(&z, model.mean(b)))
                })
                .expect("three states");
            let raw = model.raw_mean(j);
            for d in 0..5 {
                let error = (raw[d] - true_mean[d]).abs();
                assert!(
                    error < 0.1 * truth.stds[k][d],
                    "state {k} feature {d}: fitted {} vs true {} (std {})",
                    raw[d],
                    true_mean[d],
                    truth.stds[k][d]
                );
            }
            let want = match k {
                0 => StateLabel::Bear,
                1 => StateLabel::Chop,
                _ => StateLabel::Bull,
            };
            assert_eq!(
                model.labels()[j],
                want,
                "true state {k} is fitted state {j}"
            );
        }
        // The filter tracks the hidden state: the bull/bear/chop label of its argmax is
        // right on most rows of a fresh sample.
        let (rows, states) = sample(&truth, 1000, &mut SplitMix64::new(99));
        let mut filter = Filter::new();
        let mut right = 0;
        for (x, s) in rows.iter().zip(&states) {
            let p = filter.step(model, x);
            let argmax = (0..3).max_by(|&a, &b| p[a].total_cmp(&p[b])).expect("3");
            let label = model.labels()[argmax];
            let want = [StateLabel::Bear, StateLabel::Chop, StateLabel::Bull][*s];
            right += usize::from(label == want);
        }
        assert!(right > 950, "{right} of 1000 rows labelled right");
    }

    #[test]
    fn same_seed_same_model_and_bad_input_is_refused() {
        let mut rng = SplitMix64::new(5);
        let (rows, _) = sample(&truth(), 300, &mut rng);
        let options = TrainOptions {
            restarts: 2,
            max_iterations: 20,
            ..TrainOptions::default()
        };
        let a = fit(std::slice::from_ref(&rows), &options, TrainedOn::default()).expect("trains");
        let b = fit(std::slice::from_ref(&rows), &options, TrainedOn::default()).expect("trains");
        assert_eq!(a.model, b.model);
        assert_eq!(a.restarts, b.restarts);

        let few = vec![rows[..5].to_vec()];
        assert!(matches!(
            fit(&few, &options, TrainedOn::default()),
            Err(TrainError::TooFewRows { rows: 5, .. })
        ));
        let mut bad = rows.clone();
        bad[17][2] = f64::NAN;
        assert_eq!(
            fit(&[bad], &options, TrainedOn::default()).expect_err("refused"),
            TrainError::NonFinite {
                sequence: 0,
                row: 17
            }
        );
        let one_state = TrainOptions {
            states: 1,
            ..options
        };
        assert_eq!(
            fit(&[rows], &one_state, TrainedOn::default()).expect_err("refused"),
            TrainError::States(1)
        );
    }

    #[test]
    fn constant_rows_train_without_nan() {
        let rows = vec![[0.0, 1e-6, 0.0, 0.0, 1.0]; 200];
        let fit = fit(&[rows], &TrainOptions::default(), TrainedOn::default()).expect("trains");
        assert!(fit.model.log_likelihood().is_finite());
        let labels = fit.model.labels();
        assert_eq!(labels.iter().filter(|l| **l == StateLabel::Bull).count(), 1);
        assert_eq!(labels.iter().filter(|l| **l == StateLabel::Bear).count(), 1);
    }

    #[test]
    fn labels_follow_the_return_mean_not_the_index() {
        let m = |r: f64| [r, 0.0, 0.0, 0.0, 0.0];
        assert_eq!(
            label_states(&[m(0.1), m(-0.3), m(0.5)]),
            vec![StateLabel::Chop, StateLabel::Bear, StateLabel::Bull]
        );
        assert_eq!(
            label_states(&[m(0.0), m(0.0)]),
            vec![StateLabel::Bull, StateLabel::Bear]
        );
    }
}
