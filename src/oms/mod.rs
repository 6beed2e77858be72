//! Owns: the order side of the engine: venue order gateways and the venue facts orders need.
//! Never: decides what to trade or bypasses the risk checker on the way to a venue.

pub mod binance;
pub mod manager;
pub mod metrics;
pub mod recovery;
pub mod reject;
pub mod stage;
pub mod venue;

pub use manager::{Ledger, OmsConfig, OrderManager};
pub use stage::OmsStage;
pub use venue::{Venue, VenueCommand, VenueFill, VenueOrder, VenueReport};
