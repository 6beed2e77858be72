//! Owns: the start-up decision of which hot thread runs on which core. Never: pins `main`
//! (threads spawned later would inherit its one-core mask) or re-reads the core list after
//! start-up (`core_affinity` only sees the calling thread's current mask).

use std::collections::BTreeMap;

/// The engine's hot threads, in pipeline order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HotThread {
    Feed,
    Strat,
    Oms,
    Persist,
    /// feed + strat + oms in one loop (the fused layout).
    Fused,
}

impl HotThread {
    /// Thread name, as shown by `top -H` and in logs.
    pub const fn name(self) -> &'static str {
        match self {
            HotThread::Feed => "kestrel-feed",
            HotThread::Strat => "kestrel-strat",
            HotThread::Oms => "kestrel-oms",
            HotThread::Persist => "kestrel-persist",
            HotThread::Fused => "kestrel-hot",
        }
    }
}

/// Which core (if any) each hot thread is pinned to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CorePlan {
    pins: BTreeMap<HotThread, usize>,
}

/// Why the configured pinning cannot be honoured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AffinityError {
    #[error("engine.cores.{thread}: core {core} is not in this process's CPU set {available:?}")]
    CoreUnavailable {
        thread: &'static str,
        core: usize,
        available: Vec<usize>,
    },
    #[error("engine.cores: core {core} is given to both {first} and {second}")]
    CoreShared {
        core: usize,
        first: &'static str,
        second: &'static str,
    },
}

impl CorePlan {
    /// No pinning at all.
    pub fn unpinned() -> Self {
        Self::default()
    }

    /// Pins exactly as configured, checking each core is in the process's CPU set and used once.
    pub fn explicit(
        requested: &[(HotThread, usize)],
        available: &[usize],
    ) -> Result<Self, AffinityError> {
        let mut pins = BTreeMap::new();
        let mut owner: BTreeMap<usize, HotThread> = BTreeMap::new();
        for &(thread, core) in requested {
            if !available.contains(&core) {
                return Err(AffinityError::CoreUnavailable {
                    thread: thread.name(),
                    core,
                    available: available.to_vec(),
                });
            }
            if let Some(first) = owner.insert(core, thread) {
                return Err(AffinityError::CoreShared {
                    core,
                    first: first.name(),
                    second: thread.name(),
                });
            }
            pins.insert(thread, core);
        }
        Ok(Self { pins })
    }

    /// Automatic plan: one core each, leaving the first available core to the OS, the ops
    /// thread and `main`; unpinned when there are not enough cores for that.
    pub fn automatic(threads: &[HotThread], available: &[usize]) -> Self {
        if available.len() <= threads.len() {
            return Self::unpinned();
        }
        let pins = threads
            .iter()
            .copied()
            .zip(available.iter().skip(1).copied())
            .collect();
        Self { pins }
    }

    /// The core for `thread`, if it is pinned.
    pub fn core_for(&self, thread: HotThread) -> Option<usize> {
        self.pins.get(&thread).copied()
    }

    /// True when no thread is pinned.
    pub fn is_unpinned(&self) -> bool {
        self.pins.is_empty()
    }

    /// The pinned threads and their cores, in pipeline order.
    pub fn pins(&self) -> impl Iterator<Item = (HotThread, usize)> + '_ {
        self.pins.iter().map(|(&thread, &core)| (thread, core))
    }
}

/// The cores this process may run on, read once at start-up on `main` before any pinning.
pub fn available_cores() -> Vec<usize> {
    core_affinity::get_core_ids()
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.id)
        .collect()
}

/// Pins the calling thread to `core`; false if the OS refused.
pub fn pin_current_thread(core: usize) -> bool {
    core_affinity::set_for_current(core_affinity::CoreId { id: core })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn automatic_plan_leaves_a_core_for_the_os_or_does_not_pin() {
        let hot = [
            HotThread::Feed,
            HotThread::Strat,
            HotThread::Oms,
            HotThread::Persist,
        ];
        assert!(CorePlan::automatic(&hot, &[0, 1]).is_unpinned());
        let plan = CorePlan::automatic(&hot, &[0, 1, 2, 3, 4, 5]);
        assert_eq!(plan.core_for(HotThread::Feed), Some(1));
        assert_eq!(plan.core_for(HotThread::Persist), Some(4));
    }

    #[test]
    fn explicit_plan_rejects_missing_and_shared_cores() {
        let err = CorePlan::explicit(&[(HotThread::Feed, 7)], &[0, 1]).expect_err("core 7 absent");
        assert!(err.to_string().contains("engine.cores.kestrel-feed"));
        let err = CorePlan::explicit(&[(HotThread::Feed, 1), (HotThread::Oms, 1)], &[0, 1])
            .expect_err("core 1 used twice");
        assert!(matches!(err, AffinityError::CoreShared { core: 1, .. }));
        let ok = CorePlan::explicit(&[(HotThread::Feed, 1)], &[0, 1]).expect("valid plan");
        assert_eq!(ok.core_for(HotThread::Feed), Some(1));
    }
}
