//! Results file, summary, progress and logs (product spec §3, §7).

mod model;

pub use model::*;
