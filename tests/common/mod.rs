//! Shared by the tests that read the real captures under `../shared/data/real`.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;
use serde_json::Value;

/// The real-data folder, or `None` after printing why the calling test skips.
pub fn real_data_dir(test: &str) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/real");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!(
            "SKIP {test}: real captures not found at {} (they live in shared/data/real)",
            dir.display()
        );
        None
    }
}

/// Raw bodies of the recorded HTTP responses in a cryptofeed `.jsonl.gz` capture whose
/// URL contains `url_part`, in file order.
pub fn http_bodies(capture: &Path, url_part: &str) -> Vec<String> {
    let file = File::open(capture).expect("the capture listed in the data README is readable");
    let mut bodies = Vec::new();
    for line in BufReader::new(GzDecoder::new(file)).lines() {
        let line = line.expect("the capture decompresses to text lines");
        let record: Value = serde_json::from_str(&line).expect("every capture line is JSON");
        let is_match = record["t"] == "http"
            && record["url"]
                .as_str()
                .is_some_and(|url| url.contains(url_part));
        if is_match {
            let body = record["data"]
                .as_str()
                .expect("an http record carries its body as text");
            bodies.push(body.to_string());
        }
    }
    bodies
}
