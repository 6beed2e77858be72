//! Owns: thread topology, rings, wait strategies, pinning, start-up and shutdown. Never:
//! contains trading logic; it only moves messages between components.
//!
//! Layouts:
//! - `threads`: feed, strat, oms and persist each on their own thread, joined by bounded
//!   SPSC rings (`market`, `intents`, `exec`, `journal`, `capture`), for machines with a
//!   core per hot thread.
//! - `fused`: feed → strat → oms run as one loop (no hand-offs), persist apart; for machines
//!   with fewer cores than hot threads, where two spinners on one core cost ~4 ms a hand-off.
//! - `auto`: `threads` when every hot thread gets a core with one spare, else `fused`.
//!
//! The ops thread (metrics endpoint, later the control API) is never pinned.

pub mod affinity;
pub mod bench_e2e;
pub mod control;
mod fused;
pub mod journal_msg;
pub mod metrics;
pub mod paper;
pub mod persist_loop;
pub mod reload;
pub mod ring;
pub mod runner;
pub mod shutdown;
pub mod stage;
mod threaded;
pub mod trading;
pub mod wait;

pub use journal_msg::JournalMsg;
pub use runner::{
    run, Components, EngineError, RunReport, RunnerLatency, RunnerMetrics, TopologySettings,
};
pub use shutdown::Shutdown;
pub use wait::WaitStrategy;

use affinity::{AffinityError, CorePlan, HotThread};

/// How the hot stages are mapped to threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// One thread per stage.
    Threads,
    /// feed + strat + oms in one loop; persist apart.
    Fused,
    /// Chosen at start-up from the cores available.
    Auto,
}

impl Layout {
    /// Lower-case name used in config, logs and benchmark reports.
    pub const fn as_str(self) -> &'static str {
        match self {
            Layout::Threads => "threads",
            Layout::Fused => "fused",
            Layout::Auto => "auto",
        }
    }
}

/// Explicit core per hot thread (`[engine.cores]`); absent entries stay unpinned.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoreConfig {
    pub feed: Option<usize>,
    pub strat: Option<usize>,
    pub oms: Option<usize>,
    pub persist: Option<usize>,
    /// Core of the fused hot loop (layout `fused`).
    pub hot: Option<usize>,
}

/// Ring capacities (`[engine.rings]`), in messages (bytes for `capture_bytes`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RingConfig {
    pub market: usize,
    pub intents: usize,
    pub exec: usize,
    /// Fills and updates the order thread holds for the strategies while `exec` is full.
    pub exec_backlog: usize,
    pub journal: usize,
    pub capture_bytes: usize,
}

impl Default for RingConfig {
    fn default() -> Self {
        Self {
            market: 65_536,
            intents: 4_096,
            exec: 16_384,
            exec_backlog: 65_536,
            journal: 65_536,
            capture_bytes: 16 << 20,
        }
    }
}

/// Pinning policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PinPolicy {
    /// Pin per `[engine.cores]` when given, else one core each when there are enough.
    Auto,
    /// Never pin.
    Off,
}

/// The `[engine]` section.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineConfig {
    pub layout: Layout,
    pub wait: WaitStrategy,
    pub pin: PinPolicy,
    pub cores: CoreConfig,
    pub rings: RingConfig,
    /// Journal raw market frames (capture) for later replay.
    pub capture_frames: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            layout: Layout::Auto,
            wait: WaitStrategy::Auto,
            pin: PinPolicy::Auto,
            cores: CoreConfig::default(),
            rings: RingConfig::default(),
            capture_frames: true,
        }
    }
}

/// Hot threads of the threaded layout (persist counts: it runs all the time).
const THREADED: [HotThread; 4] = [
    HotThread::Feed,
    HotThread::Strat,
    HotThread::Oms,
    HotThread::Persist,
];
const FUSED: [HotThread; 2] = [HotThread::Fused, HotThread::Persist];

impl EngineConfig {
    /// Turns the config into concrete settings for a machine whose process may use
    /// `available_cores` (read once at start-up on `main`).
    pub fn resolve(&self, available_cores: &[usize]) -> Result<TopologySettings, AffinityError> {
        let usable = available_cores.len().max(1);
        let layout = match self.layout {
            Layout::Auto if usable > THREADED.len() => Layout::Threads,
            Layout::Auto => Layout::Fused,
            other => other,
        };
        let threads: &[HotThread] = match layout {
            Layout::Fused => &FUSED,
            _ => &THREADED,
        };
        // Spinning is only safe when every hot thread (persist included: it naps, but it
        // must get a core promptly when it wakes) has a core and one is left for the OS.
        // `spin_yield` costs nothing extra on a core nobody else wants.
        let wait = wait::resolve_wait(self.wait, usable, threads.len());
        let cores = match self.pin {
            PinPolicy::Off => CorePlan::unpinned(),
            PinPolicy::Auto => {
                let c = &self.cores;
                let requested: Vec<(HotThread, usize)> = [
                    (HotThread::Feed, c.feed),
                    (HotThread::Strat, c.strat),
                    (HotThread::Oms, c.oms),
                    (HotThread::Persist, c.persist),
                    (HotThread::Fused, c.hot),
                ]
                .into_iter()
                .filter(|(t, _)| threads.contains(t))
                .filter_map(|(t, core)| core.map(|core| (t, core)))
                .collect();
                if requested.is_empty() {
                    CorePlan::automatic(threads, available_cores)
                } else {
                    CorePlan::explicit(&requested, available_cores)?
                }
            }
        };
        Ok(TopologySettings {
            layout,
            wait,
            persist_wait: WaitStrategy::Park,
            cores,
            market_ring: self.rings.market,
            intent_ring: self.rings.intents,
            exec_ring: self.rings.exec,
            exec_backlog: self.rings.exec_backlog,
            journal_ring: self.rings.journal,
            capture_ring_bytes: self.rings.capture_bytes,
            capture_frames: self.capture_frames,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_fuses_and_shares_on_two_cores() {
        let s = EngineConfig::default().resolve(&[0, 1]).expect("valid");
        assert_eq!(s.layout, Layout::Fused);
        assert_eq!(s.wait, WaitStrategy::SpinYield);
        assert!(s.cores.is_unpinned());
    }

    #[test]
    fn auto_uses_threads_and_spins_on_a_big_box() {
        let s = EngineConfig::default()
            .resolve(&[0, 1, 2, 3, 4, 5, 6, 7])
            .expect("valid");
        assert_eq!(s.layout, Layout::Threads);
        assert_eq!(s.wait, WaitStrategy::Spin);
        assert_eq!(s.cores.core_for(HotThread::Feed), Some(1));
    }

    #[test]
    fn explicit_cores_are_checked() {
        let c = EngineConfig {
            layout: Layout::Threads,
            cores: CoreConfig {
                feed: Some(9),
                ..CoreConfig::default()
            },
            ..EngineConfig::default()
        };
        assert!(c.resolve(&[0, 1]).is_err());
    }
}
