//! Owns: the order side of the engine: venue order gateways and the venue facts orders need.
//! Never: decides what to trade or bypasses the risk checker on the way to a venue.

pub mod binance;
pub mod paper;
pub mod portfolio;
pub mod venue;

pub use paper::{PaperConfig, PaperVenue};
pub use portfolio::{PairAssets, Portfolio};
pub use venue::{Venue, VenueCommand, VenueFill, VenueOrder, VenueReport};
