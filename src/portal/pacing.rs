//! The shared request budget: how many requests may be in flight, how fast they may start, and
//! how `--rate auto` finds the portal's limit. Every request of the run passes through one
//! `Pacer`; the decisions and their reasons are written down here.
//!
//! **Concurrency.** A tokio `Semaphore` with `concurrency` permits. A request takes its permit
//! *before* its rate slot, so the time it is sent is its slot time; taking the slot first would
//! let requests whose slots passed while they waited for a permit leave in a burst.
//!
//! **Rate.** Requests queue on a fair (FIFO) tokio mutex; only the request at the head of the
//! line waits for its slot, so requests start in arrival order and a changed rate or a new pause
//! applies to the very next request. The slot itself comes from one `governor` direct limiter
//! (GCRA), with two adaptations, each for a reason:
//! - governor's quotas are immutable, so a rate change (`--rate auto`) swaps in a new limiter,
//!   started as if a request had just gone (no burst at the swap);
//! - governor runs on `TokioClock` (tokio's clock, which tests can pause) and the head waits
//!   with a tokio timer on governor's `NotUntil` answer instead of `until_ready` (a poll loop on
//!   its own timer that needs jitter against thundering herds — moot with one waiter).
//!
//! Burst: 1 (smooth pacing; governor's default burst is the whole per-second quota, which a
//! portal counting requests in a sliding one-second window answers with 429s) — except that
//! from 20 req/s up it is 2. Every timer wakes a little late (≈1 ms); with a burst of 1 each
//! late wake-up is lost for good and at 100 req/s the rate drifts ~10 % low. A burst of 2
//! lets the limiter absorb that lateness; the one extra request it can release after an idle
//! spell fits in the 5 % headroom below (0.05 × N ≥ 1 from N = 20).
//!
//! **Fixed rate** (`--rate N`): a hard ceiling. Requests are paced at `N × 0.95`: a portal that
//! counts requests in a sliding one-second window sees request *k* and request *k−N* exactly one
//! second apart at `N`/s, so the smallest delay in transit makes the window hold N+1 and draws a
//! 429 (and a whole-client `Retry-After` pause). 5 % headroom (≈50 ms at 100/s) absorbs that
//! jitter. Measured against portal-sim (limit 100/s, 50 ms latency, 60 s): 94 % of the limit,
//! no 429.
//!
//! **Auto rate** (`--rate auto`), see `Aimd`: starts at 25 req/s and doubles every control
//! interval (max(250 ms, 2 × smoothed latency)) in which the rate was actually used (≥ 70 % of
//! its slots taken — a client held back by its concurrency limit, or idle, learns nothing about
//! the portal) and no congestion was seen (slow start). Congestion is an HTTP/JSON 429, a 503,
//! a timeout, other 5xx once they are ≥ 10 % of the last second's replies (isolated random
//! server errors are retried, not paced against), or the smoothed latency doubling over its
//! baseline (and by ≥ 50 ms, so millisecond noise on loopback does not count). On congestion the rate is cut to 0.7 × the
//! rate in use (floor 1 req/s), at most once per interval and only for requests sent after the
//! previous cut (replies to requests already in flight carry no news); that rate is remembered
//! as `w_max`. The first congestion ends slow start, which overshoots a windowed limit (the
//! window reveals the limit only once it is full): there `w_max` is what the portal actually
//! served over the last second, a measurement of its limit, and the rate resumes at 95 % of
//! it (the headroom of a fixed rate). After a cut (interval max(500 ms, 2 × latency)): +10 % of `w_max` per interval up to
//! 90 % of it (fast recovery),
//! then a tenth of the remaining gap (at least 0.1 % of `w_max`) per interval — a concave
//! approach that spends its time just under the limit — and past `w_max` a step that doubles
//! every interval (the limit may have moved; beyond 1.5 × `w_max`, slow start again). Each
//! congestion event against a portal answering 429 with `Retry-After: 1` costs a one-second
//! pause of the whole client, so events must be rare: measured against portal-sim (limit
//! 100/s, 50 ms latency) 83 % utilisation over 20 s (slow start included) and 86 % over 60 s,
//! with under 1 % of requests throttled.
//!
//! **Retry-After** (429/503): honoured up to 120 s by pausing the *whole* client: no request
//! starts before the pause ends; the request at the head of the line re-checks after its sleep.
//!
//! **Stopping** (an interrupt): requests that have not started yet — waiting for a permit, at
//! the head of the line or behind it — are refused at once; requests on the wire finish.

use std::collections::VecDeque;
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How fast the client may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateSetting {
    /// A hard ceiling in requests per second, paced smoothly (with 5 % headroom).
    Fixed(NonZeroU32),
    /// Adapt to the portal (AIMD).
    Auto,
}

/// Headroom under a fixed rate (see the module doc).
const FIXED_HEADROOM: f64 = 0.95;

/// What a reply says about the portal's load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    /// A reply that reflects normal service (including ordinary 4xx errors); its latency counts.
    Ok,
    /// Throttling or overload: 429, 503, a timeout.
    Congestion,
    /// Another server error (500, 502, 504): congestion when they come in numbers (see
    /// `Aimd::FAULT_SHARE`), otherwise an isolated fault that retries absorb.
    Fault,
    /// Nothing to learn (connection refused or reset, token errors).
    Neutral,
}

/// The right to send one request now; holds a concurrency permit until dropped.
pub(crate) struct Turn {
    _permit: OwnedSemaphorePermit,
    /// When the request was released (for latency and for the AIMD epoch rule).
    pub sent_at: Instant,
}

/// governor's clock on tokio's time: pacing decisions follow tokio's clock, which tests can
/// pause and advance.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TokioClock;

impl Clock for TokioClock {
    type Instant = std::time::Instant;

    fn now(&self) -> Self::Instant {
        Instant::now().into_std()
    }
}

type Limiter = RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<std::time::Instant>>;

/// From this rate up, a burst of 2 absorbs timer lateness (see the module doc).
const BURST_TWO_FROM: f64 = 20.0;

/// A limiter releasing one request every `1/rate` seconds, as if one had just been released.
fn limiter_for(rate: f64) -> Limiter {
    let rate = rate.max(Aimd::MIN);
    let burst = if rate >= BURST_TWO_FROM { 2 } else { 1 };
    let burst = NonZeroU32::new(burst).expect("1 or 2");
    let quota = Quota::with_period(Duration::from_secs_f64(1.0 / rate))
        .expect("a positive period")
        .allow_burst(burst);
    let limiter = RateLimiter::direct_with_clock(quota, TokioClock);
    // Start "full": the next request waits one period, so swapping limiters makes no burst.
    let _ = limiter.check_n(burst);
    limiter
}

/// The shared budget of one client (see the module doc).
pub(crate) struct Pacer {
    /// Cancelled when the run stops taking new work.
    stopped: CancellationToken,
    permits: Arc<Semaphore>,
    /// Head of the line: tokio's mutex is fair (FIFO), so requests start in arrival order and
    /// only the one at the head waits for a slot.
    head: tokio::sync::Mutex<()>,
    state: Mutex<State>,
}

struct State {
    /// The slot limiter for `limiter_rate`; `None` until the first request (which goes at once).
    limiter: Option<Limiter>,
    limiter_rate: f64,
    /// No request starts before this (Retry-After).
    pause_until: Option<Instant>,
    control: Control,
}

enum Control {
    Fixed { rate: f64 },
    Auto(Aimd),
}

impl Control {
    fn rate(&self) -> f64 {
        match self {
            Control::Fixed { rate } => *rate,
            Control::Auto(aimd) => aimd.rate(),
        }
    }
}

impl Pacer {
    /// A pacer allowing `concurrency` requests in flight at `rate`.
    pub(crate) fn new(concurrency: NonZeroUsize, rate: RateSetting) -> Self {
        let control = match rate {
            RateSetting::Fixed(n) => Control::Fixed {
                rate: f64::from(n.get()) * FIXED_HEADROOM,
            },
            RateSetting::Auto => Control::Auto(Aimd::new(Instant::now())),
        };
        Pacer {
            stopped: CancellationToken::new(),
            permits: Arc::new(Semaphore::new(concurrency.get())),
            head: tokio::sync::Mutex::new(()),
            state: Mutex::new(State {
                limiter: None,
                limiter_rate: 0.0,
                pause_until: None,
                control,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the numbers inconsistent in a way that
        // matters more than stopping the run would.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Refuse every request that has not started yet (an interrupt): waiting ones return
    /// `None` at once; requests already on the wire are not affected.
    pub(crate) fn stop(&self) {
        self.stopped.cancel();
    }

    /// Sleep for `delay`, or until the pacer is stopped; `false` when stopped.
    pub(crate) async fn sleep(&self, delay: Duration) -> bool {
        tokio::select! {
            _ = self.stopped.cancelled() => false,
            _ = tokio::time::sleep(delay) => true,
        }
    }

    /// Waits for a concurrency permit, then for this request's turn at the current rate;
    /// `None` once the pacer is stopped.
    pub(crate) async fn acquire(&self) -> Option<Turn> {
        tokio::select! {
            biased;
            _ = self.stopped.cancelled() => None,
            turn = self.acquire_turn() => Some(turn),
        }
    }

    async fn acquire_turn(&self) -> Turn {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .expect("the pacer's semaphore is never closed");
        let _head = self.head.lock().await;
        loop {
            // Re-decided after every sleep: the rate may have changed and a pause begun.
            let now = Instant::now();
            let wake = {
                let mut s = self.lock();
                let rate = s.control.rate();
                match s.pause_until.filter(|until| *until > now) {
                    Some(until) => Some(until),
                    None => match &s.limiter {
                        None => None,
                        Some(limiter) if s.limiter_rate == rate => limiter
                            .check()
                            .err()
                            .map(|not_until| now + not_until.wait_time_from(TokioClock.now())),
                        // The rate changed since the last request: a fresh limiter, and wait
                        // one period at the new rate.
                        Some(_) => {
                            s.limiter = Some(limiter_for(rate));
                            s.limiter_rate = rate;
                            Some(now + Duration::from_secs_f64(1.0 / rate))
                        }
                    },
                }
            };
            match wake {
                Some(wake) => tokio::time::sleep_until(wake).await,
                None => {
                    let mut s = self.lock();
                    if s.limiter.is_none() {
                        let rate = s.control.rate();
                        s.limiter = Some(limiter_for(rate));
                        s.limiter_rate = rate;
                    }
                    if let Control::Auto(aimd) = &mut s.control {
                        aimd.on_send(now);
                    }
                    return Turn {
                        _permit: permit,
                        sent_at: now,
                    };
                }
            }
        }
    }

    /// Pauses every request of the client for `delay` from now (Retry-After).
    pub(crate) fn pause(&self, delay: Duration) {
        let mut s = self.lock();
        let until = Instant::now() + delay;
        if s.pause_until.is_none_or(|current| until > current) {
            s.pause_until = Some(until);
        }
    }

    /// Reports how a request sent at `sent_at` went.
    pub(crate) fn feedback(&self, sent_at: Instant, latency: Duration, signal: Signal) {
        let mut s = self.lock();
        if let Control::Auto(aimd) = &mut s.control {
            aimd.on_reply(Instant::now(), sent_at, latency, signal);
        }
    }

    /// The current pacing rate in requests per second.
    pub(crate) fn current_rate(&self) -> f64 {
        self.lock().control.rate()
    }
}

fn prune_older_than_a_second(times: &mut VecDeque<Instant>, now: Instant) {
    while times
        .front()
        .is_some_and(|t| now.duration_since(*t) > Duration::from_secs(1))
    {
        times.pop_front();
    }
}

/// The `--rate auto` controller (see the module doc). Pure: time comes in as arguments.
#[derive(Debug, Clone)]
pub(crate) struct Aimd {
    rate: f64,
    /// The rate at the last congestion event; `None` while still in slow start.
    w_max: Option<f64>,
    interval_start: Instant,
    sent_in_interval: u32,
    /// The send rate measured over the last complete interval.
    measured: Option<f64>,
    last_decrease: Option<Instant>,
    /// Times of good replies in the last second: what the portal actually served.
    delivered: VecDeque<Instant>,
    /// Times of server errors (500/502/504) in the last second.
    faults: VecDeque<Instant>,
    /// The current step above `w_max` (doubles each interval without congestion).
    probe_step: f64,
    /// Smoothed latency of good replies (seconds) and its baseline.
    latency: Option<f64>,
    baseline: Option<f64>,
    samples: u32,
}

impl Aimd {
    pub(crate) const START: f64 = 25.0;
    pub(crate) const MIN: f64 = 1.0;
    pub(crate) const MAX: f64 = 10_000.0;
    pub(crate) const SLOW_START: f64 = 2.0;
    pub(crate) const DECREASE: f64 = 0.7;
    pub(crate) const RECOVERY_STEP: f64 = 0.1;
    pub(crate) const PROBE_STEP: f64 = 0.001;
    pub(crate) const APPROACH: f64 = 0.1;
    pub(crate) const RECOVERY_TARGET: f64 = 0.9;
    /// Share of server errors among the last second's replies that counts as congestion.
    pub(crate) const FAULT_SHARE: f64 = 0.1;
    const UTILISED: f64 = 0.7;
    const MIN_INTERVAL: Duration = Duration::from_millis(500);
    const SLOW_START_INTERVAL: Duration = Duration::from_millis(250);
    const LATENCY_ALPHA: f64 = 0.3;
    const LATENCY_MIN_EXCESS: f64 = 0.05;
    const LATENCY_MIN_SAMPLES: u32 = 10;

    pub(crate) fn new(now: Instant) -> Self {
        Aimd {
            rate: Self::START,
            w_max: None,
            interval_start: now,
            sent_in_interval: 0,
            measured: None,
            last_decrease: None,
            delivered: VecDeque::new(),
            faults: VecDeque::new(),
            probe_step: 0.0,
            latency: None,
            baseline: None,
            samples: 0,
        }
    }

    pub(crate) fn rate(&self) -> f64 {
        self.rate
    }

    /// The control interval: long enough for replies to the interval's requests to arrive.
    fn interval(&self) -> Duration {
        let two_rtt = Duration::from_secs_f64(2.0 * self.latency.unwrap_or(0.0));
        let floor = if self.w_max.is_none() {
            Self::SLOW_START_INTERVAL
        } else {
            Self::MIN_INTERVAL
        };
        floor.max(two_rtt)
    }

    pub(crate) fn on_send(&mut self, _now: Instant) {
        self.sent_in_interval = self.sent_in_interval.saturating_add(1);
    }

    pub(crate) fn on_reply(
        &mut self,
        now: Instant,
        sent_at: Instant,
        latency: Duration,
        signal: Signal,
    ) {
        match signal {
            Signal::Congestion => self.decrease(now, sent_at),
            Signal::Fault => {
                // A portal that fails the odd request at random is not overloaded: slowing
                // down for each would crawl (measured: 5 % random 500s held the rate near
                // 1 req/s). Server errors count as congestion once they are a real share of
                // the replies of the last second.
                self.faults.push_back(now);
                prune_older_than_a_second(&mut self.faults, now);
                prune_older_than_a_second(&mut self.delivered, now);
                let faults = self.faults.len() as f64;
                let replies = faults + self.delivered.len() as f64;
                if faults >= 2.0 && faults >= Self::FAULT_SHARE * replies {
                    self.decrease(now, sent_at);
                } else {
                    self.maybe_increase(now);
                }
            }
            Signal::Neutral => self.maybe_increase(now),
            Signal::Ok => {
                self.delivered.push_back(now);
                if self.observe_latency(latency.as_secs_f64()) {
                    self.decrease(now, sent_at);
                } else {
                    self.maybe_increase(now);
                }
            }
        }
    }

    /// Updates the smoothed latency; true when it has doubled over the baseline.
    fn observe_latency(&mut self, secs: f64) -> bool {
        let smoothed = match self.latency {
            None => secs,
            Some(prev) => prev + Self::LATENCY_ALPHA * (secs - prev),
        };
        self.latency = Some(smoothed);
        self.samples = self.samples.saturating_add(1);
        let baseline = self.baseline.map_or(smoothed, |b| b.min(smoothed));
        self.baseline = Some(baseline);
        self.samples >= Self::LATENCY_MIN_SAMPLES
            && smoothed > 2.0 * baseline
            && smoothed - baseline >= Self::LATENCY_MIN_EXCESS
    }

    fn decrease(&mut self, now: Instant, sent_at: Instant) {
        if let Some(last) = self.last_decrease
            && (sent_at < last || now.duration_since(last) < self.interval())
        {
            return;
        }
        // When the limiter was not what held the client back, cut from the rate actually used.
        let mut basis = match self.measured {
            Some(m) if m < Self::UTILISED * self.rate => m,
            _ => self.rate,
        };
        let mut factor = Self::DECREASE;
        if self.w_max.is_none() {
            // The first congestion ends slow start, which overshoots: a portal that counts
            // requests over a window reveals its limit only after the window has filled, when
            // the rate may be twice that. What it served over the last second is the better
            // estimate of its limit.
            while self
                .delivered
                .front()
                .is_some_and(|t| now.duration_since(*t) > Duration::from_secs(1))
            {
                self.delivered.pop_front();
            }
            let served = self.delivered.len() as f64;
            if served >= Self::MIN && served <= basis {
                // A measurement of the limit rather than a guess: resume just under it (the
                // portal's Retry-After pause has emptied its window meanwhile) instead of
                // cutting to 70 % and spending seconds climbing back.
                basis = served;
                factor = FIXED_HEADROOM;
            }
        }
        self.w_max = Some(basis);
        self.probe_step = 0.0;
        self.rate = (basis * factor).clamp(Self::MIN, Self::MAX);
        self.last_decrease = Some(now);
        // Latency that triggered (or accompanied) this decrease becomes the new reference, so
        // only a further doubling triggers again; the baseline comes back down by itself.
        if let (Some(latency), Some(baseline)) = (self.latency, self.baseline) {
            self.baseline = Some(baseline.max(latency / 2.0));
        }
        self.start_interval(now);
    }

    fn maybe_increase(&mut self, now: Instant) {
        let elapsed = now.duration_since(self.interval_start);
        if elapsed < self.interval() {
            return;
        }
        let secs = elapsed.as_secs_f64();
        let measured = f64::from(self.sent_in_interval) / secs;
        self.measured = Some(measured);
        if measured >= Self::UTILISED * self.rate {
            self.rate = match self.w_max {
                None => self.rate * Self::SLOW_START,
                Some(w_max) if self.rate < Self::RECOVERY_TARGET * w_max => {
                    self.rate + (Self::RECOVERY_STEP * w_max).max(0.5)
                }
                Some(w_max) if self.rate < w_max => {
                    // Concave approach: a tenth of the remaining gap, at least a small step.
                    self.rate + ((w_max - self.rate) * Self::APPROACH).max(Self::PROBE_STEP * w_max)
                }
                Some(w_max) => {
                    // Past the last congestion point without trouble: the limit may have moved,
                    // so the probe accelerates (doubling steps, like CUBIC's convex phase).
                    self.probe_step = if self.probe_step > 0.0 {
                        self.probe_step * 2.0
                    } else {
                        (Self::PROBE_STEP * w_max).max(0.05)
                    };
                    self.rate + self.probe_step
                }
            }
            .clamp(Self::MIN, Self::MAX);
            // Far above the last congestion point: the portal's limit has moved; ramp again.
            if self.w_max.is_some_and(|w| self.rate > 1.5 * w) {
                self.w_max = None;
            }
        }
        self.start_interval(now);
    }

    fn start_interval(&mut self, now: Instant) {
        self.interval_start = now;
        self.sent_in_interval = 0;
        while self
            .delivered
            .front()
            .is_some_and(|t| now.duration_since(*t) > Duration::from_secs(1))
        {
            self.delivered.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Runs one fully used interval of `len` and returns the new rate.
    fn busy_interval(aimd: &mut Aimd, now: &mut Instant, len: Duration) -> f64 {
        let sends = (aimd.rate() * len.as_secs_f64()).ceil() as u32;
        for _ in 0..sends {
            aimd.on_send(*now);
        }
        *now += len;
        aimd.on_reply(*now, *now - ms(10), ms(10), Signal::Ok);
        aimd.rate()
    }

    #[tokio::test(start_paused = true)]
    async fn slow_start_multiplies_each_used_interval() {
        let mut now = Instant::now();
        let mut aimd = Aimd::new(now);
        assert_eq!(aimd.rate(), Aimd::START);
        let r1 = busy_interval(&mut aimd, &mut now, ms(250));
        let r2 = busy_interval(&mut aimd, &mut now, ms(250));
        assert!((r1 - 2.0 * Aimd::START).abs() < 1e-9, "{r1}");
        assert!((r2 - 4.0 * Aimd::START).abs() < 1e-9, "{r2}");
    }

    #[tokio::test(start_paused = true)]
    async fn no_growth_when_the_rate_is_not_used_or_interval_not_over() {
        let mut now = Instant::now();
        let mut aimd = Aimd::new(now);
        // Interval not over yet.
        now += ms(100);
        aimd.on_reply(now, now, ms(10), Signal::Ok);
        assert_eq!(aimd.rate(), Aimd::START);
        // A whole interval with a single request: the client is not rate-bound.
        aimd.on_send(now);
        now += ms(600);
        aimd.on_reply(now, now, ms(10), Signal::Ok);
        assert_eq!(aimd.rate(), Aimd::START);
    }

    #[tokio::test(start_paused = true)]
    async fn congestion_decreases_then_recovers_fast_then_approaches_slowly() {
        let mut now = Instant::now();
        let mut aimd = Aimd::new(now);
        aimd.rate = 100.0;
        aimd.on_reply(now, now, ms(10), Signal::Congestion);
        assert!((aimd.rate() - 70.0).abs() < 1e-9);
        assert_eq!(aimd.w_max, Some(100.0));
        // Recovery: +10 % of w_max per interval while below 90 %.
        let r = busy_interval(&mut aimd, &mut now, ms(500));
        assert!((r - 80.0).abs() < 1e-9, "{r}");
        let r = busy_interval(&mut aimd, &mut now, ms(500));
        assert!((r - 90.0).abs() < 1e-9, "{r}");
        // Approach: a tenth of the remaining gap per interval...
        let r = busy_interval(&mut aimd, &mut now, ms(500));
        assert!((r - 91.0).abs() < 1e-9, "{r}");
        // ... but at least 0.1 % of w_max.
        aimd.rate = 99.95;
        let r = busy_interval(&mut aimd, &mut now, ms(500));
        assert!((r - 100.05).abs() < 1e-9, "{r}");
        // Past w_max the probe doubles its step each interval.
        let steps: Vec<f64> = (0..4)
            .map(|_| {
                let before = aimd.rate();
                busy_interval(&mut aimd, &mut now, ms(500)) - before
            })
            .collect();
        for pair in steps.windows(2) {
            assert!((pair[1] - 2.0 * pair[0]).abs() < 1e-9, "{steps:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn slow_start_overshoot_resumes_just_under_what_the_portal_served() {
        let mut now = Instant::now();
        let mut aimd = Aimd::new(now);
        aimd.rate = 320.0;
        // The portal served 100 requests in the last second, then said 429.
        for i in 0..100 {
            aimd.delivered.push_back(now + ms(i * 10));
        }
        now += ms(1000);
        aimd.on_reply(now, now - ms(50), ms(50), Signal::Congestion);
        assert_eq!(aimd.w_max, Some(100.0));
        assert!((aimd.rate() - 95.0).abs() < 1e-9, "{}", aimd.rate());
    }

    #[tokio::test(start_paused = true)]
    async fn one_decrease_per_event() {
        let mut now = Instant::now();
        let mut aimd = Aimd::new(now);
        aimd.rate = 100.0;
        let before = now;
        now += ms(50);
        aimd.on_reply(now, before, ms(50), Signal::Congestion);
        assert!((aimd.rate() - 70.0).abs() < 1e-9);
        // Replies to requests sent before the decrease carry no news.
        now += ms(600);
        aimd.on_reply(now, before + ms(10), ms(50), Signal::Congestion);
        assert!((aimd.rate() - 70.0).abs() < 1e-9);
        // Within the same interval, later requests don't decrease again either.
        let mut aimd2 = aimd.clone();
        aimd2.on_reply(now - ms(500), now - ms(520), ms(10), Signal::Congestion);
        assert!((aimd2.rate() - 70.0).abs() < 1e-9);
        // A request sent after the decrease, an interval later: a new event.
        aimd.on_reply(now, now - ms(20), ms(20), Signal::Congestion);
        assert!((aimd.rate() - 49.0).abs() < 1e-9);
    }

    #[tokio::test(start_paused = true)]
    async fn decrease_starts_from_the_used_rate_and_has_a_floor() {
        let mut now = Instant::now();
        let mut aimd = Aimd::new(now);
        aimd.rate = 200.0;
        aimd.measured = Some(20.0);
        aimd.on_reply(now, now, ms(10), Signal::Congestion);
        assert!((aimd.rate() - 14.0).abs() < 1e-9);
        for _ in 0..50 {
            now += ms(600);
            aimd.on_reply(now, now, ms(10), Signal::Congestion);
        }
        assert_eq!(aimd.rate(), Aimd::MIN);
    }

    #[tokio::test(start_paused = true)]
    async fn latency_doubling_is_congestion_but_small_noise_is_not() {
        let mut now = Instant::now();
        let mut aimd = Aimd::new(now);
        aimd.rate = 50.0;
        // Loopback noise: 1 ms → 3 ms is a tripling but only 2 ms.
        for i in 0..30 {
            now += ms(5);
            let lat = if i < 15 { ms(1) } else { ms(3) };
            aimd.on_reply(now, now - lat, lat, Signal::Ok);
        }
        assert!(aimd.rate() >= 50.0, "{}", aimd.rate());
        // 50 ms → 150 ms: congestion.
        let mut aimd = Aimd::new(now);
        aimd.rate = 50.0;
        for i in 0..40 {
            now += ms(5);
            let lat = if i < 20 { ms(50) } else { ms(150) };
            aimd.on_reply(now, now - ms(1), lat, Signal::Ok);
        }
        assert!(aimd.rate() < 50.0, "{}", aimd.rate());
    }

    #[tokio::test(start_paused = true)]
    async fn isolated_server_errors_do_not_slow_down_but_a_burst_does() {
        let mut now = Instant::now();
        let mut aimd = Aimd::new(now);
        aimd.rate = 50.0;
        // 1 fault among ~50 replies in a second: retried, not paced against.
        for i in 0..50 {
            now += ms(20);
            let signal = if i == 25 { Signal::Fault } else { Signal::Ok };
            aimd.on_reply(now, now - ms(10), ms(10), signal);
        }
        assert!(aimd.rate() >= 50.0, "{}", aimd.rate());
        // A burst: 5 faults among 10 replies.
        for i in 0..10 {
            now += ms(20);
            let signal = if i % 2 == 0 {
                Signal::Fault
            } else {
                Signal::Ok
            };
            aimd.on_reply(now, now - ms(10), ms(10), signal);
        }
        assert!(aimd.rate() < 50.0, "{}", aimd.rate());
    }

    #[tokio::test(start_paused = true)]
    async fn limit_moved_far_up_restarts_slow_start() {
        let mut now = Instant::now();
        let mut aimd = Aimd::new(now);
        aimd.rate = 160.0;
        aimd.w_max = Some(100.0);
        busy_interval(&mut aimd, &mut now, ms(500));
        assert_eq!(aimd.w_max, None);
    }

    #[tokio::test(start_paused = true)]
    async fn fixed_rate_is_smooth_with_headroom() {
        let pacer = Pacer::new(
            NonZeroUsize::new(100).unwrap(),
            RateSetting::Fixed(NonZeroU32::new(10).unwrap()),
        );
        let start = Instant::now();
        let mut times = Vec::new();
        for _ in 0..11 {
            times.push(pacer.acquire().await.unwrap().sent_at - start);
        }
        assert_eq!(times[0], Duration::ZERO, "no wait for the first request");
        let spacing = Duration::from_secs_f64(1.0 / 9.5);
        for pair in times.windows(2) {
            let gap = pair[1] - pair[0];
            assert!(gap + ms(2) >= spacing && gap <= spacing + ms(2), "{gap:?}");
        }
        assert!((pacer.current_rate() - 9.5).abs() < 1e-9);
    }

    #[tokio::test(start_paused = true)]
    async fn pause_holds_every_request() {
        let pacer = Arc::new(Pacer::new(
            NonZeroUsize::new(10).unwrap(),
            RateSetting::Fixed(NonZeroU32::new(1000).unwrap()),
        ));
        let start = Instant::now();
        drop(pacer.acquire().await.unwrap());
        pacer.pause(Duration::from_secs(3));
        let mut tasks = Vec::new();
        for _ in 0..5 {
            let pacer = Arc::clone(&pacer);
            tasks.push(tokio::spawn(async move {
                pacer.acquire().await.unwrap().sent_at
            }));
        }
        for t in tasks {
            let sent = t.await.unwrap();
            assert!(sent - start >= Duration::from_secs(3));
            assert!(sent - start < Duration::from_millis(3100));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_set_while_waiting_moves_the_slot() {
        let pacer = Arc::new(Pacer::new(
            NonZeroUsize::new(10).unwrap(),
            RateSetting::Fixed(NonZeroU32::new(1).unwrap()),
        ));
        let start = Instant::now();
        drop(pacer.acquire().await.unwrap());
        // The next slot is ~1.05 s away; a 5 s pause arrives meanwhile.
        let waiter = {
            let pacer = Arc::clone(&pacer);
            tokio::spawn(async move { pacer.acquire().await.unwrap().sent_at })
        };
        tokio::time::sleep(ms(100)).await;
        pacer.pause(Duration::from_secs(5));
        let sent = waiter.await.unwrap();
        assert!(
            sent - start >= Duration::from_millis(5100),
            "{:?}",
            sent - start
        );
    }

    #[tokio::test(start_paused = true)]
    async fn concurrency_is_capped() {
        let pacer = Pacer::new(
            NonZeroUsize::new(2).unwrap(),
            RateSetting::Fixed(NonZeroU32::new(1000).unwrap()),
        );
        let a = pacer.acquire().await.unwrap();
        let _b = pacer.acquire().await.unwrap();
        let third = tokio::time::timeout(Duration::from_secs(1), pacer.acquire()).await;
        assert!(third.is_err(), "a third request must wait for a permit");
        drop(a);
        let third = tokio::time::timeout(Duration::from_secs(1), pacer.acquire()).await;
        assert!(third.is_ok());
    }
}
