//! Log setup and everything else a command writes to stderr (product spec §7).
//!
//! One [`Style`] for the whole of stderr, decided once by [`init`]: on a terminal plain lines
//! with colours; otherwise (cron, a file, the journal) no escape codes and an RFC 3339 timestamp
//! on every line, so an appended log can be read; with `--log-format json` one JSON object per
//! line and nothing else — the commands' own messages (a usage error, the end-of-run summary) go
//! through [`emit`] so they follow the style too. While a progress bar is drawn, log lines are
//! printed above it (through the bar) instead of tearing it.

use std::io::{IsTerminal, Write};
use std::sync::{Mutex, OnceLock, PoisonError};

use indicatif::ProgressBar;
use serde_json::{Map, Value};
use tracing::Level;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;

use super::OutputOptions;

/// The progress bar currently on screen, if any.
static ACTIVE_BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// The style chosen by the first [`init`].
static STYLE: OnceLock<Style> = OnceLock::new();

/// How lines on stderr look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// A terminal: plain lines, colours, no timestamps (someone is watching).
    Terminal,
    /// Not a terminal: each line starts with an RFC 3339 timestamp (seconds, UTC).
    Stamped,
    /// `--log-format json`: one JSON object per line, nothing else.
    Json,
}

impl Style {
    /// The style for these options, with stderr a terminal or not.
    pub fn new(output: &OutputOptions, terminal: bool) -> Style {
        match (output.json_logs, terminal) {
            (true, _) => Style::Json,
            (false, true) => Style::Terminal,
            (false, false) => Style::Stamped,
        }
    }
}

/// The style [`init`] chose (before any init: the one stderr itself calls for).
pub fn style() -> Style {
    *STYLE.get_or_init(|| {
        let default = OutputOptions {
            progress: super::ProgressWhen::Auto,
            quiet: false,
            verbosity: 0,
            json_logs: false,
        };
        Style::new(&default, std::io::stderr().is_terminal())
    })
}

/// Route log lines around `bar` while it is shown (`None` when it goes away).
pub fn set_active_bar(bar: Option<ProgressBar>) {
    *ACTIVE_BAR.lock().unwrap_or_else(PoisonError::into_inner) = bar;
}

/// Install the global subscriber. `RUST_LOG` overrides the level chosen by `-q`/`-v`.
pub fn init(output: &OutputOptions) {
    let style = *STYLE.get_or_init(|| Style::new(output, std::io::stderr().is_terminal()));
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
    let result = match style {
        Style::Json => builder
            .json()
            .with_timer(Rfc3339Seconds)
            .with_current_span(false)
            .try_init(),
        Style::Stamped => builder
            .with_ansi(false)
            .with_timer(Rfc3339Seconds)
            .try_init(),
        Style::Terminal => builder.with_ansi(true).without_time().try_init(),
    };
    // A second init (tests, demo inside a process that already logs) keeps the first subscriber.
    let _ = result;
}

/// Write a message of the command's own to stderr in the current [`style`]: `text` line by
/// line (stamped when not on a terminal), or in JSON mode one event with `message` and
/// `fields` (as `{"timestamp","level","fields":{"message",…}}`, the shape of the log events).
pub fn emit(level: Level, message: &str, text: &str, fields: Map<String, Value>) {
    let rendered = render(style(), &timestamp(), level, message, text, fields);
    write_around_bar(rendered.as_bytes());
}

/// A usage or run-wide error, as [`emit`] writes it: `error: …` in text.
pub fn error(message: &str) {
    emit(
        Level::ERROR,
        message,
        &format!("error: {message}"),
        Map::new(),
    );
}

/// What [`emit`] writes, at time `now`.
fn render(
    style: Style,
    now: &str,
    level: Level,
    message: &str,
    text: &str,
    fields: Map<String, Value>,
) -> String {
    match style {
        Style::Json => {
            let mut all = Map::new();
            all.insert("message".to_owned(), message.into());
            all.extend(fields);
            let event = serde_json::json!({
                "timestamp": now,
                "level": level.as_str(),
                "fields": all,
            });
            format!("{event}\n")
        }
        Style::Stamped => text.lines().map(|l| format!("{now} {l}\n")).collect(),
        Style::Terminal => text.lines().map(|l| format!("{l}\n")).collect(),
    }
}

/// Now, RFC 3339 in UTC to the second (`2026-05-04T02:00:13Z`).
fn timestamp() -> String {
    let now = time::OffsetDateTime::now_utc();
    let now = now.replace_nanosecond(0).unwrap_or(now);
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The log lines' timer: [`timestamp`].
struct Rfc3339Seconds;

impl FormatTime for Rfc3339Seconds {
    fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
        w.write_str(&timestamp())
    }
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
        write_around_bar(&self.0);
    }
}

/// Write `bytes` to stderr at once, with the progress bar (if any) lifted out of the way.
fn write_around_bar(bytes: &[u8]) {
    let write = || {
        let _ = std::io::stderr().lock().write_all(bytes);
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

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: &str = "2026-05-04T02:00:13Z";

    #[test]
    fn the_style_follows_the_format_and_the_terminal() {
        let mut output = OutputOptions {
            progress: super::super::ProgressWhen::Auto,
            quiet: false,
            verbosity: 0,
            json_logs: false,
        };
        assert_eq!(Style::new(&output, true), Style::Terminal);
        assert_eq!(Style::new(&output, false), Style::Stamped);
        output.json_logs = true;
        assert_eq!(Style::new(&output, true), Style::Json);
        assert_eq!(Style::new(&output, false), Style::Json);
    }

    #[test]
    fn text_is_stamped_line_by_line_off_a_terminal() {
        let text = "2 rows in 0.1 s: added 2\nexit code 0\n";
        let out = render(Style::Stamped, NOW, Level::INFO, "m", text, Map::new());
        assert_eq!(
            out,
            format!("{NOW} 2 rows in 0.1 s: added 2\n{NOW} exit code 0\n")
        );
        let out = render(Style::Terminal, NOW, Level::INFO, "m", text, Map::new());
        assert_eq!(out, text);
    }

    #[test]
    fn json_is_one_event_with_the_message_and_the_fields() {
        let mut fields = Map::new();
        fields.insert("exit_code".to_owned(), 1.into());
        let out = render(
            Style::Json,
            NOW,
            Level::ERROR,
            "no \"luck\"",
            "two\nlines",
            fields,
        );
        assert_eq!(out.lines().count(), 1);
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["timestamp"], NOW);
        assert_eq!(v["level"], "ERROR");
        assert_eq!(v["fields"]["message"], "no \"luck\"");
        assert_eq!(v["fields"]["exit_code"], 1);
    }

    #[test]
    fn timestamps_are_rfc3339_to_the_second() {
        let t = timestamp();
        assert_eq!(t.len(), NOW.len(), "{t}");
        assert!(t.ends_with('Z') && t.as_bytes()[10] == b'T', "{t}");
    }
}
