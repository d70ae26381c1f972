//! Results file, summary, progress and logs (product spec §3, §7).

mod advice;
mod html;
pub mod logging;
mod options;
mod outputs;
mod progress;
mod results;
mod summary;
mod tally;
mod timeline;

// The outcome types are re-exported so `report::Status` etc. keep working for callers.
pub use crate::outcome::{Counts, GroupStatus, ResultRow, Status};
pub use advice::Advice;
pub use html::Page;
pub use options::{OutputOptions, ProgressWhen};
pub(crate) use outputs::sibling_temp;
pub use outputs::{OutputError, RunLock, check_writable};
pub use progress::{Counters, Progress, StatsSource};
pub use results::{
    RESULTS_HEADER, ResultsFormat, ResultsSender, ResultsStyle, ResultsTarget, ResultsTask,
    ResultsWriteError, ResultsWriter, encode_row,
};
pub use summary::{RosterInfo, SUMMARY_VERSION, Summary};
pub use tally::{GroupSummary, Problem, SAMPLES_PER_PROBLEM, Tally};
pub use timeline::{SAMPLE_INTERVAL, Sample, Timeline};
