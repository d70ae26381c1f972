//! Results file, summary, progress and logs (product spec §3, §7).

pub mod logging;
mod model;
mod outputs;
mod progress;
mod results;
mod summary;

pub use model::*;
pub use outputs::{OutputError, RunLock, check_writable};
pub use progress::{Counters, Progress};
pub use results::{
    Counts, RESULTS_HEADER, ResultsSender, ResultsTarget, ResultsTask, ResultsWriteError,
    ResultsWriter, encode_row,
};
pub use summary::{RosterInfo, SUMMARY_VERSION, Summary};
