//! Owns: the order side of the engine: the order manager and its state machine, venue
//! gateways and the paper venue behind one venue interface, the portfolio, reconciliation
//! and restart rebuild. Never: decides what to trade or bypasses the one funnel (risk rails →
//! order manager → venue) on the way to a venue.

pub mod binance;
pub mod manager;
pub mod metrics;
pub mod paper;
pub mod portfolio;
pub mod recovery;
pub mod reject;
pub mod stage;
pub mod venue;

pub use manager::{Ledger, OmsConfig, OrderManager};
pub use paper::{PaperConfig, PaperVenue};
pub use portfolio::{PairAssets, Portfolio, PortfolioLedger};
pub use stage::OmsStage;
pub use venue::{Venue, VenueCommand, VenueFill, VenueOrder, VenueReport};
