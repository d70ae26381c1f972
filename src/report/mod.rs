//! Results file, summary, progress and logs (product spec §3, §7).

pub mod logging;
mod model;
mod progress;
mod results;
mod summary;

pub use model::*;
pub use progress::{Counters, Progress};
pub use results::{
    Counts, RESULTS_HEADER, ResultsSender, ResultsTarget, ResultsTask, ResultsWriter, encode_row,
};
pub use summary::{RosterInfo, SUMMARY_VERSION, Summary};
