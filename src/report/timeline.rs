//! The run's request counters sampled once a second, for the HTML report's chart of requests/s
//! and throttled requests over time (product spec §7).
//!
//! It reads the same source as the progress display (the client's statistics, set once the run
//! has signed in) but keeps its own task, so neither depends on the other's timing. A sample is
//! 24 bytes: a ten-hour run keeps under 1 MB.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

use super::progress::StatsSource;

/// How often the counters are read.
pub const SAMPLE_INTERVAL: Duration = Duration::from_secs(1);

/// The cumulative counters at one moment of the run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Seconds since the sampler started.
    pub at: f64,
    /// Requests sent so far, retries included.
    pub requests: u64,
    /// Replies that said "slow down" so far.
    pub throttled: u64,
}

/// Samples the counters until [`finish`](Timeline::finish).
pub struct Timeline {
    samples: Arc<Mutex<Vec<Sample>>>,
    task: JoinHandle<()>,
    stats: Arc<OnceLock<StatsSource>>,
    started: Instant,
}

impl Timeline {
    /// Start sampling `stats` (nothing is recorded until it is set) on the current runtime.
    pub fn start(stats: Arc<OnceLock<StatsSource>>) -> Timeline {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let started = Instant::now();
        let task = tokio::spawn({
            let (samples, stats) = (samples.clone(), stats.clone());
            async move {
                let mut tick = tokio::time::interval(SAMPLE_INTERVAL);
                tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    if let Some(sample) = read(&stats, started) {
                        samples.lock().expect("timeline lock").push(sample);
                    }
                }
            }
        });
        Timeline {
            samples,
            task,
            stats,
            started,
        }
    }

    /// Stop sampling; every sample, the counters at the end last. An end that comes soon
    /// after the last tick replaces that tick's sample, so no interval is so short that its
    /// rate means nothing.
    pub fn finish(self) -> Vec<Sample> {
        self.task.abort();
        let mut samples = std::mem::take(&mut *self.samples.lock().expect("timeline lock"));
        if let Some(end) = read(&self.stats, self.started) {
            // Ticks are a whole interval apart, so the one before stays far enough away.
            let half = SAMPLE_INTERVAL.as_secs_f64() / 2.0;
            if samples.last().is_some_and(|last| end.at - last.at < half) {
                samples.pop();
            }
            samples.push(end);
        }
        samples
    }
}

fn read(stats: &OnceLock<StatsSource>, started: Instant) -> Option<Sample> {
    let stats = stats.get()?();
    Some(Sample {
        at: started.elapsed().as_secs_f64(),
        requests: stats.total_requests(),
        throttled: stats.throttled,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::portal::ClientStats;
    use std::sync::atomic::{AtomicU64, Ordering};

    #[tokio::test(start_paused = true)]
    async fn samples_once_a_second_from_sign_in_to_the_end() {
        let sent = Arc::new(AtomicU64::new(0));
        let stats: Arc<OnceLock<StatsSource>> = Arc::new(OnceLock::new());
        let timeline = Timeline::start(stats.clone());
        // Not signed in yet: nothing to sample.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let source = sent.clone();
        let _ = stats.set(Box::new(move || {
            let mut s = ClientStats::default();
            s.requests
                .insert("addUsers".into(), source.load(Ordering::Relaxed));
            s.throttled = 1;
            s
        }));
        for _ in 0..3 {
            sent.fetch_add(10, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        // Ends 0.2 s after the tick at 6 s: that sample gives way to the end's.
        tokio::time::sleep(Duration::from_millis(700)).await;
        sent.fetch_add(1, Ordering::Relaxed);
        let samples = timeline.finish();
        let at: Vec<u64> = samples
            .iter()
            .map(|s| (s.at * 1000.0).round() as u64)
            .collect();
        assert_eq!(at, [3000, 4000, 5000, 6200], "{samples:?}");
        let requests: Vec<u64> = samples.iter().map(|s| s.requests).collect();
        assert_eq!(requests, [10, 20, 30, 31]);
        assert!(samples.iter().all(|s| s.throttled == 1));
    }
}
