//! Owns: the flags through which threads agree to stop in order (intake first, journal
//! last) and the SIGINT/SIGTERM hook that raises them. Never: exits the process itself.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Shared stop and progress flags of one engine run.
#[derive(Debug, Default)]
pub struct Shutdown {
    stop: Arc<AtomicBool>,
    failed: AtomicBool,
    feed_done: AtomicBool,
    strat_done: AtomicBool,
    oms_done: AtomicBool,
    persist_done: AtomicBool,
    joined: AtomicBool,
}

/// A pipeline stage that reports completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Feed,
    Strat,
    Oms,
    Persist,
}

impl Shutdown {
    /// Fresh flags.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Installs SIGINT and SIGTERM handlers that request an orderly stop; a second signal
    /// while stopping ends the process at once (exit 130), for an operator who means it.
    pub fn install_signal_handlers(&self) -> std::io::Result<()> {
        for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            signal_hook::flag::register_conditional_shutdown(signal, 130, Arc::clone(&self.stop))?;
            signal_hook::flag::register(signal, Arc::clone(&self.stop))?;
        }
        Ok(())
    }

    /// Asks the engine to stop taking input and drain.
    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::Release);
    }

    /// True once a stop was requested (signal, operator or a failed thread).
    #[inline]
    pub fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// Marks the run failed (a thread panicked or hit a fatal error) and requests a stop.
    pub fn fail(&self) {
        self.failed.store(true, Ordering::Release);
        self.request_stop();
    }

    /// True when some thread failed; producers stop waiting on full rings then.
    #[inline]
    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }

    /// The flag producers watch to abandon a back-pressure wait.
    #[inline]
    pub fn abort_flag(&self) -> &AtomicBool {
        &self.failed
    }

    /// Records that `stage` has drained and exited its loop.
    pub fn mark_done(&self, stage: Stage) {
        self.flag(stage).store(true, Ordering::Release);
    }

    /// True once `stage` has drained and exited its loop.
    #[inline]
    pub fn is_done(&self, stage: Stage) -> bool {
        self.flag(stage).load(Ordering::Acquire)
    }

    /// Records that every pipeline thread has been joined (the ops thread may leave).
    pub fn mark_joined(&self) {
        self.joined.store(true, Ordering::Release);
    }

    /// True once every pipeline thread has been joined.
    #[inline]
    pub fn is_joined(&self) -> bool {
        self.joined.load(Ordering::Acquire)
    }

    fn flag(&self, stage: Stage) -> &AtomicBool {
        match stage {
            Stage::Feed => &self.feed_done,
            Stage::Strat => &self.strat_done,
            Stage::Oms => &self.oms_done,
            Stage::Persist => &self.persist_done,
        }
    }
}
