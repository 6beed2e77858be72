//! Owns: strategies — the components that turn market events and their own fills into order
//! intents. Never: talks to a venue, reads the clock or sizes an order past the risk rails;
//! every intent goes through the order stage's one funnel.

pub mod indicators;
pub mod probe;

pub use probe::{ProbeConfig, ProbeStrategy};
