//! Log setup: everything goes to stderr through `tracing`; colours only on a terminal (a cron
//! log must not fill with escape codes); `--log-format json` gives one object per line. While a
//! progress bar is drawn, log lines are printed above it (through the bar) instead of tearing it.

use std::io::{IsTerminal, Write};
use std::sync::{Mutex, PoisonError};

use indicatif::ProgressBar;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use super::OutputOptions;

/// The progress bar currently on screen, if any.
static ACTIVE_BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Route log lines around `bar` while it is shown (`None` when it goes away).
pub fn set_active_bar(bar: Option<ProgressBar>) {
    *ACTIVE_BAR.lock().unwrap_or_else(PoisonError::into_inner) = bar;
}

/// Install the global subscriber. `RUST_LOG` overrides the level chosen by `-q`/`-v`.
pub fn init(output: &OutputOptions) {
    let default = match (output.quiet, output.verbosity) {
        (true, _) => "error",
        (false, 0) => "info",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    // Dependencies stay quiet unless asked: their debug output is noise for an administrator,
    // and with -q nothing at all may print when the run succeeds.
    let directive = match (output.quiet, output.verbosity) {
        (true, _) => format!("off,bulk_groups={default}"),
        (false, v) if v >= 2 => default.to_owned(),
        (false, _) => format!("warn,bulk_groups={default}"),
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(directive));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(StderrAroundBar)
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

/// Writes each log event to stderr in one piece, suspending the progress bar around it.
struct StderrAroundBar;

impl<'a> MakeWriter<'a> for StderrAroundBar {
    type Writer = EventBuffer;

    fn make_writer(&'a self) -> Self::Writer {
        EventBuffer(Vec::with_capacity(256))
    }
}

/// One event's text, written out when the event is complete (on drop).
struct EventBuffer(Vec<u8>);

impl Write for EventBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for EventBuffer {
    fn drop(&mut self) {
        let write = || {
            let _ = std::io::stderr().lock().write_all(&self.0);
        };
        match ACTIVE_BAR
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
        {
            Some(bar) => bar.suspend(write),
            None => write(),
        }
    }
}
