//! Roster input (product spec §2). Pure, synchronous, streaming.

mod model;

pub use model::*;
