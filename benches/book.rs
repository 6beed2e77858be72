//! Filled in by the market-data work (issue 3).
fn main() {}
