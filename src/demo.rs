//! `bulk-groups demo` (placeholder until the demo lands).

use std::path::PathBuf;

use tokio_util::sync::CancellationToken;

use crate::config::OutputConfig;
use crate::exit::Exit;

/// Run the demo.
pub async fn run(_results: Option<PathBuf>, _output: OutputConfig, _cancel: CancellationToken) -> Exit {
    eprintln!("demo: not built yet");
    Exit::Usage
}
