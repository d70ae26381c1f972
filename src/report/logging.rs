//! Log setup: everything goes to stderr through `tracing`; colours only on a terminal (a cron
//! log must not fill with escape codes); `--log-format json` gives one object per line.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::OutputConfig;

/// Install the global subscriber. `RUST_LOG` overrides the level chosen by `-q`/`-v`.
pub fn init(output: &OutputConfig) {
    let default = match (output.quiet, output.verbosity) {
        (true, _) => "error",
        (false, 0) => "info",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    // Dependencies stay quiet unless asked: their debug output is noise for an administrator.
    let directive = if output.verbosity >= 2 {
        default.to_owned()
    } else {
        format!("warn,bulk_groups={default}")
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(directive));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let result = if output.json_logs {
        builder.json().with_current_span(false).try_init()
    } else {
        builder
            .with_ansi(std::io::stderr().is_terminal())
            .without_time()
            .try_init()
    };
    // A second init (tests, demo inside a process that already logs) keeps the first subscriber.
    let _ = result;
}
