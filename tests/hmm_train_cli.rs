//! `kestrel hmm-train` on the real freqtrade 1-minute candles: it prints a convergence
//! report for every restart, writes a model file that parses back with its learned labels,
//! is deterministic for a seed, and refuses too little data with a clear error.

#[allow(dead_code)] // Only `real_data_dir` is used here.
mod common;

use std::process::Command;

mod cli_support;
use cli_support::KESTREL;

use kestrel::strat::hmm::{HmmModel, StateLabel, FEATURE_NAMES};

#[test]
fn hmm_train_writes_a_model_that_parses_back_and_reports_every_restart() {
    let Some(real) = common::real_data_dir("hmm-train CLI") else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("kestrel-hmm-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let candles = real.join("freqtrade/UNITTEST_BTC-1m.json");
    let train = |out: &str| {
        Command::new(KESTREL)
            .args(["hmm-train", "--data"])
            .arg(&candles)
            .args([
                "--restarts",
                "2",
                "--iterations",
                "60",
                "--seed",
                "7",
                "--out",
            ])
            .arg(dir.join(out))
            .output()
            .expect("runs kestrel")
    };
    let output = train("a.json");
    let stdout = String::from_utf8_lossy(&output.stdout);
    eprintln!("{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success());
    // The symbol comes from the file name (UNITTEST_BTC → UNITTESTBTC).
    assert!(
        stdout.contains("UNITTESTBTC: 13681 one-minute rows from candles"),
        "{stdout}"
    );
    assert!(stdout.contains("restart  iterations  log-likelihood     converged"));
    assert_eq!(
        stdout
            .lines()
            .filter(|l| l.starts_with("0 ") || l.starts_with("1 "))
            .count(),
        2
    );
    assert!(stdout.contains("best: restart "));
    let model = HmmModel::load(&dir.join("a.json")).expect("the model parses back");
    assert_eq!(model.states(), 3);
    assert_eq!(model.window(), 120);
    assert!(model
        .feature_names()
        .iter()
        .map(String::as_str)
        .eq(FEATURE_NAMES));
    let bull = model.state_of(StateLabel::Bull).expect("a bull state");
    let bear = model.state_of(StateLabel::Bear).expect("a bear state");
    assert!(model.raw_mean(bull)[0] > model.raw_mean(bear)[0]);
    assert_eq!(model.trained_on().rows, 13_681 + 717 - 2);

    // Same seed, same file, byte for byte.
    assert!(train("b.json").status.success());
    assert_eq!(
        std::fs::read(dir.join("a.json")).expect("a"),
        std::fs::read(dir.join("b.json")).expect("b")
    );

    // Six minutes of trades are too few rows.
    let capture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/binance_spot_btcusdt_20240808.gz");
    let output = Command::new(KESTREL)
        .args(["hmm-train", "--symbol", "BTCUSDT", "--data"])
        .arg(&capture)
        .arg("--out")
        .arg(dir.join("d.json"))
        .output()
        .expect("runs kestrel");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("feature rows for 3 states"), "{stderr}");
    std::fs::remove_dir_all(&dir).expect("cleanup");
}
