//! Results file, summary, progress and logs (product spec §3, §7).

mod model;
mod results;

pub use model::*;
pub use results::{
    Counts, RESULTS_HEADER, ResultsSender, ResultsTarget, ResultsTask, ResultsWriter, encode_row,
};
