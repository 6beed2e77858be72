//! Owns: the summary of simulated order latencies — nearest-rank percentiles and a histogram
//! on 1-2-5 bucket edges from 1 µs to 100 s. Never: interpolates (every figure is a recorded
//! value or a count) or depends on anything but the values.

use serde::Serialize;

/// Bucket lower edges in ns: 0, then 1-2-5 steps from 1 µs to 100 s.
pub fn bucket_edges_ns() -> Vec<u64> {
    let mut edges = vec![0];
    let mut decade: u64 = 1_000;
    while decade <= 100_000_000_000 {
        for factor in [1, 2, 5] {
            let edge = decade * factor;
            if edge <= 100_000_000_000 {
                edges.push(edge);
            }
        }
        decade *= 10;
    }
    edges
}

/// One histogram bucket: values in `[from_ns, to_ns)` (`to_ns` null for the last).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LatencyBucket {
    pub from_ns: u64,
    pub to_ns: Option<u64>,
    pub count: u64,
}

/// Order round-trip latencies of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LatencySummary {
    pub count: u64,
    pub min_ns: Option<u64>,
    pub p50_ns: Option<u64>,
    pub p90_ns: Option<u64>,
    pub p99_ns: Option<u64>,
    pub max_ns: Option<u64>,
    /// From the first to the last non-empty bucket.
    pub histogram: Vec<LatencyBucket>,
}

/// Nearest-rank percentile of sorted values: the value at rank ⌈p/100 · n⌉.
fn percentile(sorted: &[u64], percent: u64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len() as u64;
    let rank = (percent * n).div_ceil(100).max(1);
    sorted.get((rank - 1) as usize).copied()
}

impl LatencySummary {
    /// Summarises `latencies_ns` (any order).
    pub fn of(latencies_ns: &[u64]) -> Self {
        let mut sorted = latencies_ns.to_vec();
        sorted.sort_unstable();
        let edges = bucket_edges_ns();
        let mut counts = vec![0u64; edges.len()];
        for &value in &sorted {
            // Last edge ≤ value; edges[0] is 0 so there always is one.
            let slot = edges.partition_point(|&edge| edge <= value) - 1;
            counts[slot] += 1;
        }
        let first = counts.iter().position(|&c| c > 0);
        let last = counts.iter().rposition(|&c| c > 0);
        let histogram = match (first, last) {
            (Some(first), Some(last)) => (first..=last)
                .map(|i| LatencyBucket {
                    from_ns: edges[i],
                    to_ns: edges.get(i + 1).copied(),
                    count: counts[i],
                })
                .collect(),
            _ => Vec::new(),
        };
        Self {
            count: sorted.len() as u64,
            min_ns: sorted.first().copied(),
            p50_ns: percentile(&sorted, 50),
            p90_ns: percentile(&sorted, 90),
            p99_ns: percentile(&sorted, 99),
            max_ns: sorted.last().copied(),
            histogram,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_follow_one_two_five_and_cover_every_value() {
        let edges = bucket_edges_ns();
        assert_eq!(&edges[..5], &[0, 1_000, 2_000, 5_000, 10_000]);
        assert_eq!(edges.last(), Some(&100_000_000_000));
        let summary = LatencySummary::of(&[1_500, 1_999, 2_000, 250_000, 0, 200_000_000_000]);
        assert_eq!(summary.count, 6);
        let total: u64 = summary.histogram.iter().map(|b| b.count).sum();
        assert_eq!(total, 6);
        assert_eq!(
            summary.histogram[0],
            LatencyBucket {
                from_ns: 0,
                to_ns: Some(1_000),
                count: 1
            }
        );
        assert_eq!(summary.histogram[1].count, 2, "1.5 µs and 1.999 µs");
        assert_eq!(summary.histogram[2].count, 1, "2 µs opens the next bucket");
        let last = summary.histogram.last().expect("non-empty");
        assert_eq!(
            (last.from_ns, last.to_ns, last.count),
            (100_000_000_000, None, 1)
        );
    }

    #[test]
    fn percentiles_are_nearest_rank_values() {
        let values: Vec<u64> = (1..=200).map(|v| v * 1_000).collect();
        let summary = LatencySummary::of(&values);
        assert_eq!(summary.p50_ns, Some(100_000));
        assert_eq!(summary.p90_ns, Some(180_000));
        assert_eq!(summary.p99_ns, Some(198_000));
        assert_eq!(
            (summary.min_ns, summary.max_ns),
            (Some(1_000), Some(200_000))
        );
        let empty = LatencySummary::of(&[]);
        assert_eq!((empty.count, empty.p50_ns), (0, None));
        assert!(empty.histogram.is_empty());
    }
}
