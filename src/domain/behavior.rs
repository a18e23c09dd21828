//! The four behaviours of the UserBehavior log, in funnel order.

/// Behaviour codes, stored as the DuckDB enum in this order (the funnel's order: view, favourite,
/// add to cart, buy). A behaviour's code is its index here.
pub const BEHAVIORS: [&str; 4] = ["pv", "fav", "cart", "buy"];

/// The code of behaviour `name` (exact, lower case), if it is one of [`BEHAVIORS`].
pub fn code(name: &str) -> Option<usize> {
    BEHAVIORS.iter().position(|b| *b == name)
}
