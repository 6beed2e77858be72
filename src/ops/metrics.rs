//! Owns: the metrics registry and the lock-free counter and gauge handles it hands out.
//! Never: allocates or locks when a handle is updated; registration happens at start-up only.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crossbeam::utils::CachePadded;

use super::latency::{self, LatencyCollector, LatencyRecorder, LatencySummary};
use super::prometheus;
use super::OpsError;

/// Counter incremented each time a latency recorder could not hand its histogram to the ops side.
const PUBLISH_DEFERRED_NAME: &str = "kestrel_latency_publish_deferred_total";
const PUBLISH_DEFERRED_HELP: &str =
    "Times a latency recorder found its hand-off ring full and kept accumulating locally";

/// Monotonic counter handle: clone it into any thread; updates are relaxed atomic adds.
#[derive(Clone)]
pub struct Counter {
    // Padded to its own cache line so two threads bumping neighbouring counters never share one.
    value: Arc<CachePadded<AtomicU64>>,
}

impl Counter {
    /// A counter not registered anywhere (for benches and components tested alone).
    pub fn new() -> Self {
        Self {
            value: Arc::new(CachePadded::new(AtomicU64::new(0))),
        }
    }

    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.value.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds `n`.
    #[inline]
    pub fn add(&self, n: u64) {
        self.value.fetch_add(n, Ordering::Relaxed);
    }

    /// Current value.
    #[inline]
    pub fn get(&self) -> u64 {
        self.value.load(Ordering::Relaxed)
    }
}

impl Default for Counter {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Counter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Counter").field(&self.get()).finish()
    }
}

/// Gauge handle holding an `f64` (as bits in an atomic); integer setters convert exactly up to 2^53.
#[derive(Clone)]
pub struct Gauge {
    bits: Arc<CachePadded<AtomicU64>>,
}

impl Default for Gauge {
    fn default() -> Self {
        Self::new()
    }
}

impl Gauge {
    /// A gauge not registered anywhere (for benches and components tested alone).
    pub fn new() -> Self {
        Self {
            bits: Arc::new(CachePadded::new(AtomicU64::new(0f64.to_bits()))),
        }
    }

    /// Sets an integer value (ring depth, state code).
    #[inline]
    pub fn set(&self, value: i64) {
        self.set_f64(value as f64);
    }

    /// Sets a floating-point value.
    #[inline]
    pub fn set_f64(&self, value: f64) {
        self.bits.store(value.to_bits(), Ordering::Relaxed);
    }

    /// Adds `delta` (negative to subtract); lock-free compare-and-swap loop.
    #[inline]
    pub fn add(&self, delta: i64) {
        self.add_f64(delta as f64);
    }

    /// Adds a floating-point `delta`.
    #[inline]
    pub fn add_f64(&self, delta: f64) {
        let mut current = self.bits.load(Ordering::Relaxed);
        loop {
            let next = (f64::from_bits(current) + delta).to_bits();
            match self.bits.compare_exchange_weak(
                current,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(seen) => current = seen,
            }
        }
    }

    /// Current value.
    #[inline]
    pub fn get(&self) -> f64 {
        f64::from_bits(self.bits.load(Ordering::Relaxed))
    }
}

impl fmt::Debug for Gauge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Gauge").field(&self.get()).finish()
    }
}

/// Prometheus metric type of a family.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum MetricKind {
    Counter,
    Gauge,
    Histogram,
}

impl MetricKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Histogram => "histogram",
        }
    }
}

/// The live value behind one series.
pub(crate) enum SeriesValue {
    Counter(Counter),
    Gauge(Gauge),
    // Ops-side only: the hot thread never sees this lock, it owns the recorder end of the rings.
    Histogram(Box<Mutex<LatencyCollector>>),
}

/// One labelled series of a family.
pub(crate) struct Series {
    /// Label pairs sorted by name; compared to detect duplicates and to order the output.
    pub(crate) labels: Vec<(String, String)>,
    /// Pre-escaped `a="x",b="y"` (empty without labels), built once at registration.
    pub(crate) label_text: String,
    pub(crate) value: SeriesValue,
}

/// All series sharing one metric name: one HELP and TYPE line in the exposition.
pub(crate) struct Family {
    pub(crate) help: String,
    pub(crate) kind: MetricKind,
    label_names: Vec<String>,
    /// Sorted by label values so the exposition order is deterministic.
    pub(crate) series: Vec<Series>,
}

/// Start-up registry of every metric; the ops thread renders it, hot threads keep only handles.
#[derive(Default)]
pub struct Registry {
    families: BTreeMap<String, Family>,
}

impl Registry {
    /// Empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a counter series; `name` must end in `_total`.
    pub fn counter(
        &mut self,
        name: &str,
        help: &str,
        labels: &[(&str, &str)],
    ) -> Result<Counter, OpsError> {
        let counter = Counter::new();
        self.insert(
            name,
            help,
            MetricKind::Counter,
            labels,
            SeriesValue::Counter(counter.clone()),
        )?;
        Ok(counter)
    }

    /// Registers a gauge series.
    pub fn gauge(
        &mut self,
        name: &str,
        help: &str,
        labels: &[(&str, &str)],
    ) -> Result<Gauge, OpsError> {
        let gauge = Gauge::new();
        self.insert(
            name,
            help,
            MetricKind::Gauge,
            labels,
            SeriesValue::Gauge(gauge.clone()),
        )?;
        Ok(gauge)
    }

    /// Registers a latency histogram series (`name` ends in `_seconds`, bounds in µs) and
    /// returns the recorder for the one thread that measures it.
    pub fn latency_histogram(
        &mut self,
        name: &str,
        help: &str,
        labels: &[(&str, &str)],
        bucket_bounds_us: &[u64],
    ) -> Result<LatencyRecorder, OpsError> {
        let existing = self.publish_deferred_counter(name);
        let deferred = existing.clone().unwrap_or_default();
        let (recorder, collector) = latency::channel(name, bucket_bounds_us, deferred.clone())?;
        self.insert(
            name,
            help,
            MetricKind::Histogram,
            labels,
            SeriesValue::Histogram(Box::new(Mutex::new(collector))),
        )?;
        if existing.is_none() {
            self.insert(
                PUBLISH_DEFERRED_NAME,
                PUBLISH_DEFERRED_HELP,
                MetricKind::Counter,
                &[("histogram", name)],
                SeriesValue::Counter(deferred),
            )?;
        }
        Ok(recorder)
    }

    /// Merges the histogram deltas published by hot threads into the cumulative histograms.
    pub fn collect(&self) {
        for series in self.families.values().flat_map(|f| f.series.iter()) {
            if let SeriesValue::Histogram(collector) = &series.value {
                lock(collector).collect();
            }
        }
    }

    /// Collects, then renders every metric in Prometheus text format 0.0.4.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        self.render_into(&mut out);
        out
    }

    /// Collects, then appends the Prometheus text exposition to `out` (lets the caller reuse it).
    pub fn render_into(&self, out: &mut String) {
        self.collect();
        prometheus::render(self.families.iter(), out);
    }

    /// The sum of every counter or gauge series of family `name` (None when not registered
    /// or a histogram): for status lines and summaries, not for decisions.
    pub fn sample(&self, name: &str) -> Option<f64> {
        let family = self.families.get(name)?;
        let mut sum = None;
        for series in &family.series {
            let value = match &series.value {
                SeriesValue::Counter(c) => c.get() as f64,
                SeriesValue::Gauge(g) => g.get(),
                SeriesValue::Histogram(_) => return None,
            };
            sum = Some(sum.unwrap_or(0.0) + value);
        }
        sum
    }

    /// Collects, then summarises the latency histogram `name` over all its series.
    pub fn latency_quantiles(&self, name: &str) -> Option<LatencySummary> {
        self.latency_quantiles_where(name, None)
    }

    /// Like [`Registry::latency_quantiles`], over the series with label `key` = `value`.
    pub fn latency_quantiles_labeled(
        &self,
        name: &str,
        key: &str,
        value: &str,
    ) -> Option<LatencySummary> {
        self.latency_quantiles_where(name, Some((key, value)))
    }

    fn latency_quantiles_where(
        &self,
        name: &str,
        label: Option<(&str, &str)>,
    ) -> Option<LatencySummary> {
        let family = self.families.get(name)?;
        let collectors: Vec<&Mutex<LatencyCollector>> = family
            .series
            .iter()
            .filter(|series| {
                label.is_none_or(|(key, value)| {
                    series.labels.iter().any(|(k, v)| k == key && v == value)
                })
            })
            .filter_map(|series| match &series.value {
                SeriesValue::Histogram(collector) => Some(collector.as_ref()),
                _ => None,
            })
            .collect();
        let (first, rest) = collectors.split_first()?;
        let mut merged = {
            let mut collector = lock(first);
            collector.collect();
            collector.snapshot()
        };
        for collector in rest {
            let mut collector = lock(collector);
            collector.collect();
            collector.merge_into(&mut merged);
        }
        Some(merged.summary())
    }

    /// The deferred-publish counter already shared by the series of histogram family `name`.
    fn publish_deferred_counter(&self, name: &str) -> Option<Counter> {
        let family = self.families.get(PUBLISH_DEFERRED_NAME)?;
        family.series.iter().find_map(|series| match &series.value {
            SeriesValue::Counter(counter) if series.labels.first()?.1 == name => {
                Some(counter.clone())
            }
            _ => None,
        })
    }

    fn insert(
        &mut self,
        name: &str,
        help: &str,
        kind: MetricKind,
        labels: &[(&str, &str)],
        value: SeriesValue,
    ) -> Result<(), OpsError> {
        prometheus::validate_metric_name(name, kind)?;
        let mut sorted: Vec<(String, String)> = Vec::with_capacity(labels.len());
        for (label, label_value) in labels {
            prometheus::validate_label_name(name, label, kind)?;
            sorted.push(((*label).to_owned(), (*label_value).to_owned()));
        }
        sorted.sort();
        if let Some(pair) = sorted.windows(2).find(|pair| pair[0].0 == pair[1].0) {
            return Err(OpsError::InvalidLabelName {
                metric: name.to_owned(),
                label: pair[0].0.clone(),
                reason: "given twice",
            });
        }
        let label_names: Vec<String> = sorted.iter().map(|(n, _)| n.clone()).collect();
        let family = self
            .families
            .entry(name.to_owned())
            .or_insert_with(|| Family {
                help: help.to_owned(),
                kind,
                label_names: label_names.clone(),
                series: Vec::new(),
            });
        if family.kind != kind {
            return Err(conflict(
                name,
                format!(
                    "already a {}, not a {}",
                    family.kind.as_str(),
                    kind.as_str()
                ),
            ));
        }
        if family.help != help {
            return Err(conflict(name, format!("help differs: {:?}", family.help)));
        }
        if family.label_names != label_names {
            return Err(conflict(
                name,
                format!(
                    "label names {:?} differ from {:?}",
                    label_names, family.label_names
                ),
            ));
        }
        let label_text = prometheus::label_text(&sorted);
        match family.series.binary_search_by(|s| s.labels.cmp(&sorted)) {
            Ok(_) => Err(OpsError::Duplicate {
                name: name.to_owned(),
                labels: label_text,
            }),
            Err(at) => {
                family.series.insert(
                    at,
                    Series {
                        labels: sorted,
                        label_text,
                        value,
                    },
                );
                Ok(())
            }
        }
    }
}

fn conflict(name: &str, reason: String) -> OpsError {
    OpsError::Conflict {
        name: name.to_owned(),
        reason,
    }
}

/// A poisoned collector only means a scrape panicked midway; its counts are still valid.
fn lock(collector: &Mutex<LatencyCollector>) -> std::sync::MutexGuard<'_, LatencyCollector> {
    collector.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_cross_threads_and_the_registry_is_shareable() {
        fn clone_send_sync<T: Clone + Send + Sync>() {}
        fn send_sync<T: Send + Sync>() {}
        fn send<T: Send>() {}
        clone_send_sync::<Counter>();
        clone_send_sync::<Gauge>();
        send_sync::<Registry>();
        send::<LatencyRecorder>();
        assert!(std::mem::align_of::<CachePadded<AtomicU64>>() >= 64);
    }

    #[test]
    fn counter_hammered_by_threads_has_exact_total() {
        let mut registry = Registry::new();
        let counter = registry
            .counter("hammer_total", "test", &[])
            .expect("valid registration");
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let counter = counter.clone();
                std::thread::spawn(move || {
                    for _ in 0..100_000 {
                        counter.inc();
                    }
                    counter.add(5);
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("hammer thread finished");
        }
        assert_eq!(counter.get(), 400_020);
        assert!(registry.render().contains("hammer_total 400020\n"));
    }

    #[test]
    fn sample_sums_a_familys_series() {
        let mut registry = Registry::new();
        let a = registry
            .counter("sampled_total", "test", &[("k", "a")])
            .expect("valid registration");
        let b = registry
            .counter("sampled_total", "test", &[("k", "b")])
            .expect("valid registration");
        a.add(2);
        b.add(3);
        assert_eq!(registry.sample("sampled_total"), Some(5.0));
        assert_eq!(registry.sample("missing_total"), None);
    }

    #[test]
    fn gauge_set_add_and_float_values() {
        let mut registry = Registry::new();
        let gauge = registry.gauge("depth", "test", &[]).expect("valid");
        gauge.set(10);
        gauge.add(-3);
        assert_eq!(gauge.get(), 7.0);
        gauge.set_f64(0.25);
        gauge.add_f64(0.5);
        assert_eq!(gauge.get(), 0.75);
    }

    #[test]
    fn duplicate_name_and_labels_is_an_error() {
        let mut registry = Registry::new();
        let labels = [("venue", "binance")];
        registry
            .counter("orders_total", "orders", &labels)
            .expect("first registration");
        let err = registry
            .counter("orders_total", "orders", &labels)
            .expect_err("second registration must fail");
        assert!(matches!(err, OpsError::Duplicate { .. }), "{err}");
        assert!(err.to_string().contains("venue=\"binance\""), "{err}");
        registry
            .counter("orders_total", "orders", &[("venue", "bybit")])
            .expect("other label value is a new series");
    }

    #[test]
    fn conflicting_kind_help_or_label_names_are_errors() {
        let mut registry = Registry::new();
        registry
            .counter("x_total", "help", &[("a", "1")])
            .expect("first");
        registry.gauge("y_seconds", "help", &[]).expect("gauge");
        let kind = registry.latency_histogram("y_seconds", "help", &[], &[1]);
        assert!(matches!(kind, Err(OpsError::Conflict { .. })));
        let help = registry.counter("x_total", "other", &[("a", "2")]);
        assert!(matches!(help, Err(OpsError::Conflict { .. })));
        let names = registry.counter("x_total", "help", &[("b", "2")]);
        assert!(matches!(names, Err(OpsError::Conflict { .. })));
        let twice = registry.counter("z_total", "help", &[("a", "1"), ("a", "2")]);
        assert!(matches!(twice, Err(OpsError::InvalidLabelName { .. })));
    }

    #[test]
    fn families_render_once_with_series_in_label_order() {
        let mut registry = Registry::new();
        let bybit = registry
            .counter("orders_submitted_total", "Orders", &[("venue", "bybit")])
            .expect("valid");
        let binance = registry
            .counter("orders_submitted_total", "Orders", &[("venue", "binance")])
            .expect("valid");
        registry.gauge("a_gauge", "First by name", &[]).expect("ok");
        bybit.add(2);
        binance.inc();
        let text = registry.render();
        assert_eq!(
            text,
            "# HELP a_gauge First by name\n# TYPE a_gauge gauge\na_gauge 0\n\
             # HELP orders_submitted_total Orders\n# TYPE orders_submitted_total counter\n\
             orders_submitted_total{venue=\"binance\"} 1\n\
             orders_submitted_total{venue=\"bybit\"} 2\n"
        );
    }
}
