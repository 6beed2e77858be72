//! Owns: the Prometheus text exposition format 0.0.4 (naming rules, escaping, rendering).
//! Never: touches hot-thread state other than through atomic loads and merged histograms.

use std::fmt::Write as _;

use super::metrics::{Family, MetricKind, SeriesValue};
use super::OpsError;

/// Suffixes the exposition reserves for histogram and summary series.
const RESERVED_SUFFIXES: [&str; 3] = ["_bucket", "_sum", "_count"];

/// Checks a metric name against Prometheus' grammar and the lint rules of `promtool check
/// metrics`, so whatever registers cleanly also lints cleanly.
pub(crate) fn validate_metric_name(name: &str, kind: MetricKind) -> Result<(), OpsError> {
    let invalid = |reason| OpsError::InvalidMetricName {
        name: name.to_owned(),
        reason,
    };
    // Lower-case snake case only: promtool flags camelCase, and ':' is for recording rules.
    check_snake_case(name).map_err(invalid)?;
    if RESERVED_SUFFIXES.iter().any(|s| name.ends_with(s)) {
        return Err(invalid(
            "the suffixes _bucket, _sum and _count are reserved for histogram series",
        ));
    }
    match kind {
        MetricKind::Counter if !name.ends_with("_total") => {
            Err(invalid("counter names must end in _total"))
        }
        MetricKind::Histogram if !name.ends_with("_seconds") => Err(invalid(
            "latency histograms are exported in seconds, so names must end in _seconds",
        )),
        MetricKind::Gauge if name.ends_with("_total") => {
            Err(invalid("_total is reserved for counters"))
        }
        _ => Ok(()),
    }
}

/// Checks a label name: snake case, not `__`-prefixed, `le` not on histograms.
pub(crate) fn validate_label_name(
    metric: &str,
    label: &str,
    kind: MetricKind,
) -> Result<(), OpsError> {
    let invalid = |reason| OpsError::InvalidLabelName {
        metric: metric.to_owned(),
        label: label.to_owned(),
        reason,
    };
    check_snake_case(label).map_err(invalid)?;
    if label.starts_with("__") {
        return Err(invalid("names starting with __ are reserved by Prometheus"));
    }
    if kind == MetricKind::Histogram && label == "le" {
        return Err(invalid("le is the histogram bucket label"));
    }
    Ok(())
}

fn check_snake_case(name: &str) -> Result<(), &'static str> {
    let mut chars = name.chars();
    match chars.next() {
        None => return Err("empty"),
        Some(c) if !(c.is_ascii_lowercase() || c == '_') => {
            return Err("must start with a lower-case ASCII letter or _")
        }
        Some(_) => {}
    }
    if chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
        Ok(())
    } else {
        Err("may contain only lower-case ASCII letters, digits and _")
    }
}

/// Renders sorted label pairs as `a="x",b="y"` with values escaped.
pub(crate) fn label_text(labels: &[(String, String)]) -> String {
    let mut out = String::new();
    for (i, (name, value)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(name);
        out.push_str("=\"");
        escape_label_value(value, &mut out);
        out.push('"');
    }
    out
}

/// Label values escape backslash, double quote and line feed.
fn escape_label_value(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Help text escapes backslash and line feed only.
fn escape_help(help: &str, out: &mut String) {
    for c in help.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Prometheus float syntax: `+Inf`, `-Inf`, `NaN`, otherwise Rust's shortest round-trip form.
fn push_f64(value: f64, out: &mut String) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        let _ = write!(out, "{value}");
    }
}

/// Exact decimal seconds for a whole number of microseconds (`1` → `0.000001`, `2500000` → `2.5`).
pub(crate) fn push_us_as_seconds(us: u64, out: &mut String) {
    let whole = us / 1_000_000;
    let frac = us % 1_000_000;
    let _ = write!(out, "{whole}");
    if frac != 0 {
        let digits = format!("{frac:06}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
}

/// Appends the whole exposition for `families` (already in name order) to `out`.
pub(crate) fn render<'a>(
    families: impl Iterator<Item = (&'a String, &'a Family)>,
    out: &mut String,
) {
    for (name, family) in families {
        let _ = write!(out, "# HELP {name} ");
        escape_help(&family.help, out);
        let _ = writeln!(out, "\n# TYPE {name} {}", family.kind.as_str());
        for series in &family.series {
            match &series.value {
                SeriesValue::Counter(counter) => {
                    push_sample_name(name, "", &series.label_text, out);
                    let _ = writeln!(out, " {}", counter.get());
                }
                SeriesValue::Gauge(gauge) => {
                    push_sample_name(name, "", &series.label_text, out);
                    out.push(' ');
                    push_f64(gauge.get(), out);
                    out.push('\n');
                }
                SeriesValue::Histogram(collector) => {
                    let collector = collector
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    render_histogram(name, &series.label_text, &collector.buckets(), out);
                }
            }
        }
    }
}

/// Cumulative bucket counts of one histogram series, ready to render.
pub(crate) struct HistogramBuckets<'a> {
    /// Upper bounds in µs with the cumulative count of values at or below each.
    pub(crate) bounds_us: &'a [u64],
    pub(crate) cumulative: Vec<u64>,
    pub(crate) count: u64,
    pub(crate) sum_seconds: f64,
}

fn render_histogram(name: &str, labels: &str, buckets: &HistogramBuckets<'_>, out: &mut String) {
    let separator = if labels.is_empty() { "" } else { "," };
    for (bound_us, cumulative) in buckets.bounds_us.iter().zip(&buckets.cumulative) {
        let _ = write!(out, "{name}_bucket{{{labels}{separator}le=\"");
        push_us_as_seconds(*bound_us, out);
        let _ = writeln!(out, "\"}} {cumulative}");
    }
    let _ = writeln!(
        out,
        "{name}_bucket{{{labels}{separator}le=\"+Inf\"}} {}",
        buckets.count
    );
    push_sample_name(name, "_sum", labels, out);
    out.push(' ');
    push_f64(buckets.sum_seconds, out);
    out.push('\n');
    push_sample_name(name, "_count", labels, out);
    let _ = writeln!(out, " {}", buckets.count);
}

fn push_sample_name(name: &str, suffix: &str, labels: &str, out: &mut String) {
    out.push_str(name);
    out.push_str(suffix);
    if !labels.is_empty() {
        out.push('{');
        out.push_str(labels);
        out.push('}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_escape_backslash_quote_and_newline() {
        let labels = vec![("path".to_owned(), "C:\\x \"q\"\nend".to_owned())];
        assert_eq!(label_text(&labels), r#"path="C:\\x \"q\"\nend""#);
    }

    #[test]
    fn help_escapes_backslash_and_newline_but_not_quotes() {
        let mut out = String::new();
        escape_help("a \\ \"b\"\nc", &mut out);
        assert_eq!(out, "a \\\\ \"b\"\\nc");
    }

    #[test]
    fn invalid_metric_names_are_rejected_with_reason() {
        for (name, kind) in [
            ("", MetricKind::Gauge),
            ("9lives", MetricKind::Gauge),
            ("camelCase", MetricKind::Gauge),
            ("with:colon", MetricKind::Gauge),
            ("spaced name", MetricKind::Gauge),
            ("orders", MetricKind::Counter),
            ("depth_total", MetricKind::Gauge),
            ("latency_us", MetricKind::Histogram),
            ("queue_count", MetricKind::Gauge),
        ] {
            let err = validate_metric_name(name, kind).expect_err(name);
            assert!(err.to_string().contains(name), "{err}");
        }
        validate_metric_name("orders_total", MetricKind::Counter).expect("valid counter");
        validate_metric_name("x_latency_seconds", MetricKind::Histogram).expect("valid");
    }

    #[test]
    fn invalid_label_names_are_rejected() {
        let gauge = MetricKind::Gauge;
        assert!(validate_label_name("m", "__name", gauge).is_err());
        assert!(validate_label_name("m", "Venue", gauge).is_err());
        assert!(validate_label_name("m", "ve-nue", gauge).is_err());
        assert!(validate_label_name("m", "le", MetricKind::Histogram).is_err());
        validate_label_name("m", "venue", gauge).expect("valid");
    }

    #[test]
    fn floats_and_second_bounds_use_prometheus_syntax() {
        let mut out = String::new();
        for v in [f64::INFINITY, f64::NEG_INFINITY, f64::NAN, 1.0, 0.5] {
            push_f64(v, &mut out);
            out.push(' ');
        }
        assert_eq!(out, "+Inf -Inf NaN 1 0.5 ");
        let mut out = String::new();
        for us in [1, 20, 1000, 100_000, 2_500_000, 0] {
            push_us_as_seconds(us, &mut out);
            out.push(' ');
        }
        assert_eq!(out, "0.000001 0.00002 0.001 0.1 2.5 0 ");
    }
}
