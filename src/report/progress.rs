//! Progress on stderr (product spec §7): roster rows whose result is final, out of the rows in
//! the roster (counted before the run; unknown for stdin), with the percentage, an ETA from the
//! recent rate, requests per second and throttled replies.
//!
//! On a terminal an indicatif spinner line whose text — bar included — is rendered here, so
//! the whole line provably fits 80 columns. Otherwise (cron) a plain log line every ~10 s,
//! `progress: 6550/12000 rows (54 %), 260 rows/s, ETA 21 s, 18 req/s, 0 throttled`, with no
//! escape codes; with JSON logs the same as a JSON event with the figures as fields, never a
//! bar. Nothing important goes through the bar: indicatif silently drops `println` output when
//! stderr is not a terminal, so summaries and errors are logged instead.

use std::collections::VecDeque;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{OutputOptions, ProgressWhen};
use crate::portal::ClientStats;

/// Reads the portal client's request figures on demand; set once the run has signed in. A
/// closure over the client keeps `report` from depending on the client itself.
pub type StatsSource = Box<dyn Fn() -> ClientStats + Send + Sync>;

/// What progress reads.
#[derive(Clone)]
pub struct Counters {
    /// Data rows in the roster, counted before the run (`None` for stdin).
    pub total_rows: Option<u64>,
    /// Roster rows whose result is final (removal rows are not roster rows).
    pub rows_done: Arc<AtomicU64>,
    /// Set once the run has signed in.
    pub stats: Arc<OnceLock<StatsSource>>,
}

/// How often the plain (non-terminal) progress line is written.
const PLAIN_INTERVAL: Duration = Duration::from_secs(10);
/// How often the terminal line is redrawn.
const BAR_INTERVAL: Duration = Duration::from_millis(200);
/// Rates (and so the ETA) are measured over this much of the recent past.
const RATE_WINDOW: Duration = Duration::from_secs(10);
/// The terminal line never exceeds this many columns, spinner included.
pub const LINE_WIDTH: usize = 80;
/// The bar's width, brackets included; narrower when the figures need the room, none below
/// [`MIN_BAR`].
const MAX_BAR: usize = 22;
const MIN_BAR: usize = 8;

/// The progress figures at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Figures {
    done: u64,
    total: Option<u64>,
    rows_per_second: f64,
    requests_per_second: f64,
    throttled: u64,
}

impl Figures {
    /// Whole percent done (rounded down: 100 % only when all is done).
    fn percent(&self) -> Option<u64> {
        self.total.map(|total| match total {
            0 => 100,
            t => self.done.min(t) * 100 / t,
        })
    }

    /// Seconds left at the recent rate; `None` without a total or a rate.
    fn eta_seconds(&self) -> Option<u64> {
        let left = self.total?.saturating_sub(self.done);
        if left == 0 {
            return Some(0);
        }
        (self.rows_per_second > 0.0).then(|| (left as f64 / self.rows_per_second).ceil() as u64)
    }

    fn eta(&self) -> String {
        self.eta_seconds().map_or_else(|| "?".to_owned(), duration)
    }

    /// `6550/12000 rows (54 %)`, or `6550 rows` for stdin.
    fn rows(&self) -> String {
        match (self.total, self.percent()) {
            (Some(total), Some(percent)) => format!("{}/{total} rows ({percent} %)", self.done),
            _ => format!("{} rows", self.done),
        }
    }

    /// The cron line: `progress: 6550/12000 rows (54 %), 260 rows/s, ETA 21 s, 18 req/s, 0
    /// throttled` (stdin: no total, percentage or ETA).
    fn plain(&self) -> String {
        let eta = match self.total {
            Some(_) => format!(", ETA {}", self.eta()),
            None => String::new(),
        };
        format!(
            "progress: {}, {} rows/s{eta}, {} req/s, {} throttled",
            self.rows(),
            rate(self.rows_per_second),
            rate(self.requests_per_second),
            self.throttled
        )
    }

    /// The terminal text after the spinner, at most `width` columns: a bar (when there is a
    /// total and room for it), then the rows, the ETA, requests/s and throttled. The rows done
    /// are padded to the total's width so the bar keeps its size as they grow.
    fn terminal(&self, width: usize) -> String {
        let digits = self.total.unwrap_or(0).to_string().len();
        let text = match (self.total, self.percent()) {
            (Some(total), Some(percent)) => format!(
                "{:>digits$}/{total} rows ({percent} %), ETA {}, {} req/s, {} throttled",
                self.done,
                self.eta(),
                rate(self.requests_per_second),
                self.throttled
            ),
            _ => format!(
                "{} done, {} rows/s, {} req/s, {} throttled",
                self.rows(),
                rate(self.rows_per_second),
                rate(self.requests_per_second),
                self.throttled
            ),
        };
        let room = width.saturating_sub(text.chars().count() + 1);
        let text = match self.percent() {
            Some(percent) if room >= MIN_BAR => {
                format!("{} {text}", bar(percent, room.min(MAX_BAR)))
            }
            _ => text,
        };
        // Figures too wide for any sensible terminal are cut rather than wrapped.
        text.chars().take(width).collect()
    }
}

/// `[#########---------]` of `width` columns, brackets included.
fn bar(percent: u64, width: usize) -> String {
    let inner = width.saturating_sub(2);
    let filled = (inner as u64 * percent.min(100) / 100) as usize;
    format!("[{}{}]", "#".repeat(filled), "-".repeat(inner - filled))
}

/// A rate as people read it: whole numbers, one decimal below 10.
fn rate(per_second: f64) -> String {
    if per_second < 9.95 {
        format!("{per_second:.1}")
    } else {
        format!("{per_second:.0}")
    }
}

/// `21 s`, `4 min 10 s`, `3 h 20 min`; `> 99 h` beyond.
fn duration(seconds: u64) -> String {
    match seconds {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min {} s", s / 60, s % 60),
        s if s < 100 * 3600 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        _ => "> 99 h".to_owned(),
    }
}

/// Rows and requests per second over the last [`RATE_WINDOW`], from samples of the counters.
#[derive(Debug, Default)]
struct Recent {
    /// (time since start, rows done, requests sent), oldest first.
    samples: VecDeque<(Duration, u64, u64)>,
}

impl Recent {
    /// Record a sample; the rates since the oldest sample kept.
    fn sample(&mut self, at: Duration, rows: u64, requests: u64) -> (f64, f64) {
        self.samples.push_back((at, rows, requests));
        // Keep one sample at least a window old, so the rate spans the whole window.
        while self.samples.len() > 2 && at.saturating_sub(self.samples[1].0) >= RATE_WINDOW {
            self.samples.pop_front();
        }
        let (from, rows0, requests0) = self.samples[0];
        let seconds = at.saturating_sub(from).as_secs_f64();
        if seconds == 0.0 {
            return (0.0, 0.0);
        }
        (
            rows.saturating_sub(rows0) as f64 / seconds,
            requests.saturating_sub(requests0) as f64 / seconds,
        )
    }
}

/// Samples [`Counters`] into [`Figures`].
struct Meter {
    counters: Counters,
    started: Instant,
    recent: Recent,
}

impl Meter {
    fn new(counters: Counters) -> Self {
        let mut meter = Meter {
            counters,
            started: Instant::now(),
            recent: Recent::default(),
        };
        meter.read();
        meter
    }

    fn read(&mut self) -> Figures {
        let done = self.counters.rows_done.load(Ordering::Relaxed);
        let stats = self.counters.stats.get().map(|read| read());
        let requests = stats.as_ref().map_or(0, ClientStats::total_requests);
        let (rows_per_second, requests_per_second) =
            self.recent.sample(self.started.elapsed(), done, requests);
        Figures {
            done,
            total: self.counters.total_rows,
            rows_per_second,
            requests_per_second,
            throttled: stats.map_or(0, |s| s.throttled),
        }
    }
}

/// What to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Bar,
    Lines,
    Off,
}

impl Mode {
    fn new(output: &OutputOptions, terminal: bool) -> Mode {
        match output.progress {
            ProgressWhen::Never => Mode::Off,
            ProgressWhen::Auto if output.quiet => Mode::Off,
            // Everything on stderr is JSON then: figures as events, never a bar.
            _ if output.json_logs || !terminal => Mode::Lines,
            _ => Mode::Bar,
        }
    }
}

/// A running progress display; [`finish`](Progress::finish) removes it.
pub struct Progress {
    bar: Option<ProgressBar>,
    ticker: Option<JoinHandle<()>>,
}

impl Progress {
    /// Start showing progress of `counters`, as `output` and stderr call for.
    pub fn start(output: OutputOptions, counters: Counters) -> Self {
        let mut meter = Meter::new(counters);
        match Mode::new(&output, std::io::stderr().is_terminal()) {
            Mode::Bar => {
                let bar =
                    ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(5));
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                let ticker = tokio::spawn({
                    let bar = bar.clone();
                    async move {
                        loop {
                            // The spinner takes two columns.
                            bar.set_message(meter.read().terminal(LINE_WIDTH - 2));
                            bar.tick();
                            tokio::time::sleep(BAR_INTERVAL).await;
                        }
                    }
                });
                super::logging::set_active_bar(Some(bar.clone()));
                Progress {
                    bar: Some(bar),
                    ticker: Some(ticker),
                }
            }
            Mode::Lines => {
                let ticker = tokio::spawn(every_interval(meter, |f| log_line(&f)));
                Progress {
                    bar: None,
                    ticker: Some(ticker),
                }
            }
            Mode::Off => Progress {
                bar: None,
                ticker: None,
            },
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

/// Every [`PLAIN_INTERVAL`] (the first after one interval), the figures to `emit`.
async fn every_interval(mut meter: Meter, emit: impl Fn(Figures)) {
    let mut interval = tokio::time::interval(PLAIN_INTERVAL);
    interval.tick().await;
    loop {
        interval.tick().await;
        emit(meter.read());
    }
}

/// One progress line in the log's style ([`super::logging::emit`], so `-q` with
/// `--progress always` keeps it): the plain text, with the figures as fields in JSON.
fn log_line(figures: &Figures) {
    let line = figures.plain();
    let fields = [
        ("rows_done", json!(figures.done)),
        ("rows_total", json!(figures.total)),
        ("rows_per_second", json!(figures.rows_per_second)),
        ("eta_seconds", json!(figures.eta_seconds())),
        ("requests_per_second", json!(figures.requests_per_second)),
        ("throttled", json!(figures.throttled)),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect();
    super::logging::emit(tracing::Level::INFO, &line, &line, fields);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn figures(done: u64, total: Option<u64>) -> Figures {
        Figures {
            done,
            total,
            rows_per_second: 260.0,
            requests_per_second: 18.0,
            throttled: 0,
        }
    }

    #[test]
    fn the_plain_line_has_the_cron_shape() {
        assert_eq!(
            figures(6550, Some(12000)).plain(),
            "progress: 6550/12000 rows (54 %), 260 rows/s, ETA 21 s, 18 req/s, 0 throttled"
        );
        // stdin: no total, no percentage, no ETA.
        assert_eq!(
            figures(6550, None).plain(),
            "progress: 6550 rows, 260 rows/s, 18 req/s, 0 throttled"
        );
        // No rate yet: the ETA is unknown, not infinite.
        let idle = Figures {
            rows_per_second: 0.0,
            requests_per_second: 0.4,
            ..figures(0, Some(10))
        };
        assert_eq!(
            idle.plain(),
            "progress: 0/10 rows (0 %), 0.0 rows/s, ETA ?, 0.4 req/s, 0 throttled"
        );
    }

    #[test]
    fn percent_and_eta_are_of_the_roster_total() {
        let f = figures(11999, Some(12000));
        assert_eq!(f.percent(), Some(99), "100 % only when all is done");
        assert_eq!(figures(12000, Some(12000)).eta_seconds(), Some(0));
        assert_eq!(figures(0, Some(0)).percent(), Some(100));
        assert_eq!(figures(5, None).eta_seconds(), None);
        assert_eq!(duration(59), "59 s");
        assert_eq!(duration(250), "4 min 10 s");
        assert_eq!(duration(3 * 3600 + 20 * 60), "3 h 20 min");
        assert_eq!(duration(1000 * 3600), "> 99 h");
    }

    #[test]
    fn the_terminal_line_fits_80_columns_whatever_the_figures() {
        let huge = Figures {
            done: 9_999_999,
            total: Some(10_000_000),
            rows_per_second: 0.001,
            requests_per_second: 99_999.0,
            throttled: 9_999_999,
        };
        for f in [
            figures(6550, Some(12000)),
            figures(0, Some(1)),
            figures(6550, None),
            huge,
            Figures {
                total: None,
                ..huge
            },
        ] {
            let line = format!("⠁ {}", f.terminal(LINE_WIDTH - 2));
            assert!(
                line.chars().count() <= LINE_WIDTH,
                "{} columns: {line}",
                line.chars().count()
            );
        }
        // The bar takes the room the figures leave, 54 % of it filled; the rows done are
        // padded to the total's width, so the bar keeps its place as they grow.
        assert_eq!(
            figures(6550, Some(12000)).terminal(LINE_WIDTH - 2),
            "[##########---------]  6550/12000 rows (54 %), ETA 21 s, 18 req/s, 0 throttled"
        );
        assert_eq!(
            figures(1200, Some(12000)).terminal(LINE_WIDTH - 2),
            "[#------------------]  1200/12000 rows (10 %), ETA 42 s, 18 req/s, 0 throttled"
        );
        let stdin = figures(6550, None).terminal(LINE_WIDTH - 2);
        assert_eq!(stdin, "6550 rows done, 260 rows/s, 18 req/s, 0 throttled");
    }

    #[test]
    fn rates_are_over_the_recent_window() {
        let mut recent = Recent::default();
        let s = Duration::from_secs;
        assert_eq!(recent.sample(s(0), 0, 0), (0.0, 0.0));
        // Slow at first, fast later: after a window the early pace no longer counts.
        assert_eq!(recent.sample(s(10), 100, 10), (10.0, 1.0));
        assert_eq!(recent.sample(s(20), 2100, 210), (200.0, 20.0));
        assert_eq!(recent.sample(s(25), 3100, 310), (200.0, 20.0));
    }

    #[test]
    fn the_mode_follows_the_options_and_the_terminal() {
        let output = |progress, quiet, json_logs| OutputOptions {
            progress,
            quiet,
            verbosity: 0,
            json_logs,
        };
        use ProgressWhen::*;
        assert_eq!(Mode::new(&output(Auto, false, false), true), Mode::Bar);
        assert_eq!(Mode::new(&output(Auto, false, false), false), Mode::Lines);
        assert_eq!(Mode::new(&output(Auto, false, true), true), Mode::Lines);
        assert_eq!(Mode::new(&output(Auto, true, false), true), Mode::Off);
        assert_eq!(Mode::new(&output(Always, true, false), true), Mode::Bar);
        assert_eq!(Mode::new(&output(Never, false, false), true), Mode::Off);
    }

    #[tokio::test(start_paused = true)]
    async fn plain_lines_come_every_ten_seconds_with_the_recent_rate() {
        let rows_done = Arc::new(AtomicU64::new(0));
        let counters = Counters {
            total_rows: Some(1000),
            rows_done: rows_done.clone(),
            stats: Arc::new(OnceLock::new()),
        };
        let seen = Arc::new(Mutex::new(Vec::new()));
        let ticker = tokio::spawn(every_interval(Meter::new(counters), {
            let seen = seen.clone();
            move |f| seen.lock().unwrap().push(f.plain())
        }));
        rows_done.store(300, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(9_900)).await;
        assert!(
            seen.lock().unwrap().is_empty(),
            "nothing before ten seconds"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        rows_done.store(500, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_secs(10)).await;
        ticker.abort();
        assert_eq!(
            *seen.lock().unwrap(),
            [
                "progress: 300/1000 rows (30 %), 30 rows/s, ETA 24 s, 0.0 req/s, 0 throttled",
                "progress: 500/1000 rows (50 %), 20 rows/s, ETA 25 s, 0.0 req/s, 0 throttled",
            ]
        );
    }
}
