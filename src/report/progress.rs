//! Progress on stderr (product spec §7): an indicatif bar on a terminal (roster bytes read,
//! memberships done, rows per second); a plain log line every ~10 s otherwise (cron), with no
//! escape codes. Nothing important goes through the bar: indicatif silently drops `println`
//! output when stderr is not a terminal, so summaries and errors are logged instead.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::task::JoinHandle;

use super::{OutputOptions, ProgressWhen};
use crate::portal::ClientStats;

/// Reads the portal client's request figures on demand; set once the run has signed in. A
/// closure over the client keeps `report` from depending on the client itself.
pub type StatsSource = Box<dyn Fn() -> ClientStats + Send + Sync>;

/// What progress reads: roster bytes consumed, results rows done, and the client's statistics
/// once signed in (for requests per second and throttling).
#[derive(Clone)]
pub struct Counters {
    /// Roster bytes read so far.
    pub bytes_read: Arc<AtomicU64>,
    /// Roster size, when known (a file).
    pub total_bytes: Option<u64>,
    /// Results rows written so far.
    pub rows_done: Arc<AtomicU64>,
    /// Set once the run has signed in.
    pub stats: Arc<OnceLock<StatsSource>>,
}

impl Counters {
    fn message(&self, started: Instant) -> String {
        let secs = started.elapsed().as_secs_f64().max(0.001);
        let done = self.rows_done.load(Ordering::Relaxed);
        let mut text = format!("{done} rows done ({:.0}/s)", done as f64 / secs);
        if let Some(read_stats) = self.stats.get() {
            let stats = read_stats();
            let requests = stats.total_requests();
            text.push_str(&format!(
                ", {requests} requests ({:.1}/s)",
                requests as f64 / secs
            ));
            if stats.throttled > 0 {
                text.push_str(&format!(", throttled {}", stats.throttled));
            }
        }
        text
    }
}

/// How often the plain (non-terminal) progress line is written.
const PLAIN_INTERVAL: Duration = Duration::from_secs(10);

/// A running progress display; [`finish`](Progress::finish) removes it.
pub struct Progress {
    bar: Option<ProgressBar>,
    ticker: Option<JoinHandle<()>>,
}

impl Progress {
    /// Start showing progress: `bytes_read` of `total` roster bytes, `rows_done` results rows.
    pub fn start(output: OutputOptions, counters: Counters) -> Self {
        let total = counters.total_bytes;
        let terminal = std::io::stderr().is_terminal();
        let show_bar = match output.progress {
            ProgressWhen::Never => false,
            ProgressWhen::Always => true,
            ProgressWhen::Auto => terminal && !output.quiet,
        };
        let plain = output.progress == ProgressWhen::Auto && !terminal && !output.quiet;
        let started = Instant::now();
        if show_bar {
            let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr_with_hz(5));
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:30} {bytes}/{total_bytes} {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            let ticker = {
                let bar = bar.clone();
                tokio::spawn(async move {
                    loop {
                        bar.set_position(counters.bytes_read.load(Ordering::Relaxed));
                        bar.set_message(counters.message(started));
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                })
            };
            super::logging::set_active_bar(Some(bar.clone()));
            return Progress {
                bar: Some(bar),
                ticker: Some(ticker),
            };
        }
        if plain {
            let ticker = tokio::spawn(async move {
                let mut interval = tokio::time::interval(PLAIN_INTERVAL);
                interval.tick().await;
                loop {
                    interval.tick().await;
                    let read = counters.bytes_read.load(Ordering::Relaxed);
                    let of = total.map(|t| format!(" of {t}")).unwrap_or_default();
                    tracing::info!(
                        "progress: {read}{of} roster bytes read, {}",
                        counters.message(started)
                    );
                }
            });
            return Progress {
                bar: None,
                ticker: Some(ticker),
            };
        }
        Progress {
            bar: None,
            ticker: None,
        }
    }

    /// Stop and clear the display.
    pub fn finish(self) {
        if let Some(ticker) = self.ticker {
            ticker.abort();
        }
        if let Some(bar) = self.bar {
            super::logging::set_active_bar(None);
            bar.finish_and_clear();
        }
    }
}
