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
//! from 25 req/s up it is 2. Every timer wakes a little late (≈1 ms); with a burst of 1 each
//! late wake-up is lost for good and at 100 req/s the rate drifts ~10 % low. A burst of 2
//! lets the limiter absorb that lateness; the one extra request it can release after an idle
//! spell fits in the 4 % headroom below (0.04 × N ≥ 1 from N = 25).
//!
//! **Fixed rate** (`--rate N`): a hard ceiling. Requests are paced at `N × 0.96`: a portal that
//! counts requests in a sliding one-second window sees request *k* and request *k−N* exactly one
//! second apart at `N`/s, so the smallest delay in transit makes the window hold N+1 and draws a
//! 429 (and a whole-client `Retry-After` pause). 4 % headroom (≈40 ms at 100/s) absorbs that
//! jitter (5 % measured 94 % of the limit, under the 95 % target; 3 % drew a 429 in one run
//! of three on a loaded machine). Measured against portal-sim
//! (limit 100/s, 50 ms latency, 20 s, on a loaded 2-core machine): 95.8 % and 95.9 % of the
//! limit, no 429.
//!
//! **What a reply says** (product spec §5, "congestion is not the same as a fault"); the
//! client classifies each reply into a `Signal`:
//! - *congestion*: a 429 or an error naming a rate or request limit, with `Retry-After`; a 503
//!   with `Retry-After`; the smoothed latency of one kind of request doubling over that kind's
//!   baseline (and by ≥ 50 ms, so millisecond noise on loopback does not count; per kind,
//!   because endpoints differ in cost: a directory page that always takes 40 ms is not a
//!   congested addUsers); timeouts in a burst (3 in the window);
//! - *a wall*: throttling without `Retry-After` (a bare 429, a 403 about too many requests) —
//!   congestion, and possibly a cool-off (below);
//! - *a fault*: an isolated 500/502/504, a 503 without `Retry-After`, a dropped connection, a
//!   lone timeout — retried by the request, never paced against;
//! - anything else (ordinary 4xx answers included) is normal service.
//!
//! **Faults are judged over a window of requests, not of seconds**: the last 40 replies. Only
//! when faults make ≥ 25 % of a window (of at least 20 replies) are they congestion, and then
//! they can cut the rate no lower than the *fault floor*, half of max(the most good replies
//! the portal ever served in one second, 25). Judged per second, a lower rate makes each fault
//! a larger share and cuts the rate again (measured before this rule: 3 % 5xx + 1 % dropped
//! made runs 3.8× to 38× slower); per request, the share does not depend on the rate, and the
//! floor keeps even a real burst of faults from spiralling.
//!
//! **Auto rate** (`--rate auto`), see `Aimd`: starts at 25 req/s and doubles every control
//! interval (max(250 ms, 2 × smoothed latency)) in which the rate was actually used (≥ 70 % of
//! its slots taken — a client held back by its concurrency limit, or idle, learns nothing about
//! the portal) and no congestion was seen (slow start). On congestion the rate is cut to 0.7 ×
//! the rate in use (floor 1 req/s, or the fault floor for faults), at most once per interval
//! and only for requests sent after the previous cut (replies to requests already in flight
//! carry no news); that rate is remembered as `w_max`. The first congestion ends slow start,
//! which overshoots a windowed limit (the window reveals the limit only once it is full):
//! there `w_max` is what the portal actually served over the last second, a measurement of its
//! limit, and the rate resumes at 96 % of it (the headroom of a fixed rate). After a cut
//! (interval max(500 ms, 2 × latency)): +10 % of `w_max` per interval up to 90 % of it (fast
//! recovery), then a tenth of the remaining gap (at least 0.1 % of `w_max`) per interval — a
//! concave approach that spends its time just under the limit — and past `w_max` a step that
//! doubles every interval (the limit may have moved; beyond 1.5 × `w_max`, slow start again).
//! Each congestion event against a portal answering 429 with `Retry-After: 1` costs a
//! one-second pause of the whole client, so events must be rare. Measured against portal-sim
//! (limit 100/s, 50 ms latency, 20 s, slow start included; `portal_pacing_bench`): 85.3 – 85.7 %
//! utilisation with 0.9 % of requests throttled; with 3 % of replies 5xx and 1 % of writes
//! dropped, 79.2 % and 79.5 % (78.4 – 80.6 % over six runs while the headroom was tuned), under
//! 1 % throttled — just short of the 80 % target. The cost is the faults' own share of the
//! limit (≈ 3.5 % of requests) and their retries, not a lower rate: the rate climbs to the limit
//! as in the clean run.
//!
//! **Retry-After** (429/503): honoured up to 120 s by pausing the *whole* client: no request
//! starts before the pause ends. Requests waiting out a pause do not spend their retries.
//!
//! **Cool-offs.** Some portals answer a tripped limit by refusing *everything* for tens of
//! seconds, without `Retry-After`. On a wall the whole client pauses and sends **one** probe
//! after 1 s, then after 2, 4, 8 … (at most 30 s) while probes are refused; the first probe
//! answered ends the pause. A probe refused means a real cool-off (a single bare 429 costs
//! just the one-second pause): from then on the rate stays at most 90 % of the rate that
//! tripped it (what the portal served over the second before, or the pacing rate if lower),
//! fixed or auto, for the rest of the run. Requests held by a cool-off do not spend retries.
//!
//! **Giving up** (spec §5): from the first failure after the last success, if nothing succeeds
//! for max(2 min, 3 × the longest `Retry-After` honoured) (`STALL_LIMIT`), every request
//! waiting for its turn, a pause, a probe or a retry is refused: the run ends with exit 4 and
//! every row accounted for. The clock starts at a failure, not at the last success, so that an
//! idle spell (a slow roster pipe) is not mistaken for a stalled portal.
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
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::kind::RequestKind;

/// How fast the client may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateSetting {
    /// A hard ceiling in requests per second, paced smoothly (with 4 % headroom).
    Fixed(NonZeroU32),
    /// Adapt to the portal (AIMD).
    Auto,
}

/// Headroom under a fixed rate (see the module doc).
const FIXED_HEADROOM: f64 = 0.96;

/// Without a success for this long while requests fail or are refused, the run gives up
/// (product spec §5; longer when the portal asked for long `Retry-After` pauses).
pub const STALL_LIMIT: Duration = Duration::from_secs(120);

/// What a reply says about the portal's load (classified in `PortalClient::note_failure`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    /// A reply that reflects normal service (including ordinary 4xx errors); its latency counts.
    Ok,
    /// Throttling the portal announced with a `Retry-After` (429, a reply naming a rate limit,
    /// 503 with `Retry-After`): a congestion event; the pause itself comes through
    /// [`Pacer::pause`].
    Congestion,
    /// Throttling without a `Retry-After` (429 alone, a 403 about too many requests): a
    /// congestion event, and possibly a cool-off — the whole client pauses and probes.
    Wall,
    /// An isolated server error (500, 502, 504, 503 without `Retry-After`) or a dropped
    /// connection: retried, paced against only when faults fill the window of replies.
    Fault,
    /// No reply in time: congestion when timeouts come in a burst, else a fault.
    Timeout,
    /// Nothing to learn (token errors, undecodable or oversized replies, certificates).
    Neutral,
}

/// Why the pacer refused to let a request go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The run is stopping (an interrupt).
    Stopped,
    /// Nothing has succeeded for this long: the portal keeps refusing or failing.
    Stalled(Duration),
}

/// The right to send one request now; holds a concurrency permit until dropped. Hand it back
/// through [`Pacer::feedback`] with what the reply said.
pub(crate) struct Turn<'a> {
    pacer: &'a Pacer,
    _permit: OwnedSemaphorePermit,
    /// When the request was released (for latency and for the AIMD epoch rule).
    pub sent_at: Instant,
    /// This request is the one probe of a cool-off.
    probe: bool,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        // A probe dropped without a reply (cancelled, not sent) must not hold the others
        // forever: the next request becomes the probe.
        if self.probe {
            let mut s = self.pacer.lock();
            if let Some(wall) = &mut s.wall {
                wall.probing = false;
                wall.probe_at = Instant::now();
            }
            drop(s);
            self.pacer.changed.notify_waiters();
        }
    }
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

/// From this rate up, a burst of 2 absorbs timer lateness, and its one extra request fits in
/// the fixed rate's headroom (see the module doc).
const BURST_TWO_FROM: f64 = 1.0 / (1.0 - FIXED_HEADROOM);

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

/// The first wait before a cool-off probe; it doubles after each refused probe.
const PROBE_FIRST: Duration = Duration::from_secs(1);
/// The longest wait between two probes.
const PROBE_MAX: Duration = Duration::from_secs(30);
/// After a cool-off, the rate stays at most this share of the rate that tripped it.
const COOL_OFF_RESUME: f64 = 0.9;

/// The shared budget of one client (see the module doc).
pub(crate) struct Pacer {
    /// Cancelled when the run stops taking new work.
    stopped: CancellationToken,
    permits: Arc<Semaphore>,
    /// Head of the line: tokio's mutex is fair (FIFO), so requests start in arrival order and
    /// only the one at the head waits for a slot.
    head: tokio::sync::Mutex<()>,
    /// Woken when a cool-off starts or ends, a probe is released, or a pause is set.
    changed: Notify,
    /// See [`STALL_LIMIT`].
    stall_limit: Duration,
    state: Mutex<State>,
}

struct State {
    /// The slot limiter for `limiter_rate`; `None` until the first request (which goes at once).
    limiter: Option<Limiter>,
    limiter_rate: f64,
    /// No request starts before this (Retry-After).
    pause_until: Option<Instant>,
    /// The longest `Retry-After` honoured so far.
    longest_pause: Duration,
    /// A cool-off in progress: requests wait while single probes test the portal.
    wall: Option<Wall>,
    /// When the last cool-off ended: walls reported by requests sent before are old news.
    wall_ended: Option<Instant>,
    cool_offs: u64,
    /// Times of good replies in the last second: what the portal actually served.
    served: VecDeque<Instant>,
    /// The first failure since the last success (`None` while things go well).
    failing_since: Option<Instant>,
    control: Control,
}

/// A cool-off: the portal refuses everything without saying for how long.
struct Wall {
    /// The probe may leave at this time.
    probe_at: Instant,
    /// The wait before the next probe if this one is refused too.
    next_wait: Duration,
    /// The probe is on the wire; everyone else waits for its reply.
    probing: bool,
    /// What the portal served over the second before the wall (or the pacing rate, if less).
    trip_rate: f64,
    /// A probe was refused: a real cool-off, not a single 429 without `Retry-After`.
    confirmed: bool,
}

enum Control {
    Fixed { rate: f64 },
    Auto(Box<Aimd>),
}

impl Control {
    fn rate(&self) -> f64 {
        match self {
            Control::Fixed { rate } => *rate,
            Control::Auto(aimd) => aimd.rate(),
        }
    }

    /// Never faster than `ceiling` from now on (after a cool-off).
    fn cap(&mut self, ceiling: f64) {
        match self {
            Control::Fixed { rate } => *rate = rate.min(ceiling),
            Control::Auto(aimd) => aimd.cap(ceiling),
        }
    }
}

/// What the request at the head of the line does next.
enum Decision {
    Go {
        probe: bool,
    },
    /// Wait until then (`None`: until something changes).
    Wait(Option<Instant>),
    Refuse(Refused),
}

impl State {
    /// When the run gives up if nothing succeeds meanwhile.
    fn stall_at(&self, stall_limit: Duration) -> Option<Instant> {
        let limit = stall_limit.max(self.longest_pause * 3);
        self.failing_since.map(|since| since + limit)
    }

    fn stalled(&self, now: Instant, stall_limit: Duration) -> Option<Refused> {
        let since = self.failing_since?;
        let at = self.stall_at(stall_limit)?;
        (now >= at).then(|| Refused::Stalled(now - since))
    }

    fn decide(&mut self, now: Instant, stall_limit: Duration) -> Decision {
        if let Some(refused) = self.stalled(now, stall_limit) {
            return Decision::Refuse(refused);
        }
        let stall_at = self.stall_at(stall_limit);
        let wait = |until: Instant| Decision::Wait(Some(stall_at.map_or(until, |s| s.min(until))));
        if let Some(until) = self.pause_until.filter(|until| *until > now) {
            return wait(until);
        }
        if let Some(wall) = &mut self.wall {
            if wall.probing {
                return Decision::Wait(stall_at);
            }
            if wall.probe_at > now {
                return wait(wall.probe_at);
            }
            wall.probing = true;
            return Decision::Go { probe: true };
        }
        let rate = self.control.rate();
        match &self.limiter {
            None => {
                self.limiter = Some(limiter_for(rate));
                self.limiter_rate = rate;
                Decision::Go { probe: false }
            }
            Some(limiter) if self.limiter_rate == rate => match limiter.check() {
                Ok(()) => Decision::Go { probe: false },
                Err(not_until) => wait(now + not_until.wait_time_from(TokioClock.now())),
            },
            // The rate changed since the last request: a fresh limiter, and wait one period
            // at the new rate.
            Some(_) => {
                self.limiter = Some(limiter_for(rate));
                self.limiter_rate = rate;
                wait(now + Duration::from_secs_f64(1.0 / rate))
            }
        }
    }

    /// A reply said "throttled" without saying for how long.
    fn hit_wall(&mut self, now: Instant, sent_at: Instant) {
        if self.wall.is_some() || self.wall_ended.is_some_and(|ended| sent_at < ended) {
            return;
        }
        prune_older_than_a_second(&mut self.served, now);
        let served = self.served.len() as f64;
        let rate = self.control.rate();
        let trip_rate = if served >= Aimd::MIN {
            served.min(rate)
        } else {
            rate
        };
        tracing::warn!(
            "the portal refuses requests without a Retry-After; pausing all requests and probing with one"
        );
        self.wall = Some(Wall {
            probe_at: now + PROBE_FIRST,
            next_wait: PROBE_FIRST * 2,
            probing: false,
            trip_rate,
            confirmed: false,
        });
    }

    /// The probe of a cool-off came back with `signal`.
    fn probe_answered(&mut self, now: Instant, signal: Signal) {
        let Some(wall) = &mut self.wall else { return };
        if signal != Signal::Wall {
            tracing::info!("the portal answers again; resuming");
            self.wall = None;
            self.wall_ended = Some(now);
            return;
        }
        if !wall.confirmed {
            // Refused again after a pause: a cool-off. Stay below the rate that tripped it.
            wall.confirmed = true;
            self.cool_offs += 1;
            let ceiling = (wall.trip_rate * COOL_OFF_RESUME).max(Aimd::MIN);
            self.control.cap(ceiling);
            tracing::warn!(
                resume_rate = ceiling,
                "the portal is in a cool-off; probing at growing intervals"
            );
        }
        wall.probing = false;
        wall.probe_at = now + wall.next_wait;
        wall.next_wait = (wall.next_wait * 2).min(PROBE_MAX);
    }
}

impl Pacer {
    /// A pacer allowing `concurrency` requests in flight at `rate`, giving up after
    /// `stall_limit` without a success (see [`STALL_LIMIT`]).
    pub(crate) fn new(concurrency: NonZeroUsize, rate: RateSetting, stall_limit: Duration) -> Self {
        let control = match rate {
            RateSetting::Fixed(n) => Control::Fixed {
                rate: f64::from(n.get()) * FIXED_HEADROOM,
            },
            RateSetting::Auto => Control::Auto(Box::new(Aimd::new(Instant::now()))),
        };
        Pacer {
            stopped: CancellationToken::new(),
            permits: Arc::new(Semaphore::new(concurrency.get())),
            head: tokio::sync::Mutex::new(()),
            changed: Notify::new(),
            stall_limit,
            state: Mutex::new(State {
                limiter: None,
                limiter_rate: 0.0,
                pause_until: None,
                longest_pause: Duration::ZERO,
                wall: None,
                wall_ended: None,
                cool_offs: 0,
                served: VecDeque::new(),
                failing_since: None,
                control,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the numbers inconsistent in a way that
        // matters more than stopping the run would.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Refuse every request that has not started yet (an interrupt): waiting ones are refused
    /// at once; requests already on the wire are not affected.
    pub(crate) fn stop(&self) {
        self.stopped.cancel();
    }

    /// Sleep for `delay` (a retry's backoff), unless the run stops or stalls meanwhile.
    pub(crate) async fn sleep(&self, delay: Duration) -> Result<(), Refused> {
        let end = Instant::now() + delay;
        loop {
            let now = Instant::now();
            let stall_at = {
                let s = self.lock();
                if let Some(refused) = s.stalled(now, self.stall_limit) {
                    return Err(refused);
                }
                s.stall_at(self.stall_limit)
            };
            if now >= end {
                return Ok(());
            }
            let wake = stall_at.map_or(end, |at| at.min(end));
            tokio::select! {
                biased;
                _ = self.stopped.cancelled() => return Err(Refused::Stopped),
                _ = tokio::time::sleep_until(wake) => {}
            }
        }
    }

    /// Waits for a concurrency permit, then for this request's turn: after any pause or
    /// cool-off, at the current rate. Refused once the pacer is stopped or the run stalled.
    pub(crate) async fn acquire(&self) -> Result<Turn<'_>, Refused> {
        tokio::select! {
            biased;
            _ = self.stopped.cancelled() => Err(Refused::Stopped),
            turn = self.acquire_turn() => turn,
        }
    }

    async fn acquire_turn(&self) -> Result<Turn<'_>, Refused> {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .expect("the pacer's semaphore is never closed");
        let _head = self.head.lock().await;
        loop {
            // Registered before deciding, so that a change made meanwhile still wakes us.
            let changed = self.changed.notified();
            let now = Instant::now();
            // Re-decided after every wait: the rate may have changed, a pause or cool-off begun.
            let decision = self.lock().decide(now, self.stall_limit);
            match decision {
                Decision::Refuse(refused) => return Err(refused),
                Decision::Wait(until) => match until {
                    Some(until) => tokio::select! {
                        _ = tokio::time::sleep_until(until) => {}
                        _ = changed => {}
                    },
                    None => changed.await,
                },
                Decision::Go { probe } => {
                    if let Control::Auto(aimd) = &mut self.lock().control {
                        aimd.on_send(now);
                    }
                    return Ok(Turn {
                        pacer: self,
                        _permit: permit,
                        sent_at: now,
                        probe,
                    });
                }
            }
        }
    }

    /// Pauses every request of the client for `delay` from now (Retry-After).
    pub(crate) fn pause(&self, delay: Duration) {
        let mut s = self.lock();
        let until = Instant::now() + delay;
        s.longest_pause = s.longest_pause.max(delay);
        if s.pause_until.is_none_or(|current| until > current) {
            s.pause_until = Some(until);
        }
        drop(s);
        self.changed.notify_waiters();
    }

    /// Reports how the request of `kind` sent with `turn` went.
    pub(crate) fn feedback(&self, mut turn: Turn<'_>, kind: RequestKind, signal: Signal) {
        let now = Instant::now();
        let sent_at = turn.sent_at;
        let was_probe = std::mem::replace(&mut turn.probe, false);
        drop(turn);
        let mut s = self.lock();
        match signal {
            Signal::Ok => {
                s.failing_since = None;
                s.served.push_back(now);
                prune_older_than_a_second(&mut s.served, now);
            }
            Signal::Neutral => {}
            _ => {
                s.failing_since.get_or_insert(now);
            }
        }
        let wall_before = s.wall.is_some();
        if was_probe {
            s.probe_answered(now, signal);
        } else if signal == Signal::Wall {
            s.hit_wall(now, sent_at);
        }
        let wall_after = s.wall.is_some();
        // A probe only asks whether the wall is still there; its refusals are not new
        // congestion events (each would cut the rate again).
        if !was_probe && let Control::Auto(aimd) = &mut s.control {
            aimd.on_reply(kind, now, sent_at, now - sent_at, signal);
        }
        drop(s);
        if was_probe || wall_before != wall_after {
            self.changed.notify_waiters();
        }
    }

    /// The current pacing rate in requests per second.
    pub(crate) fn current_rate(&self) -> f64 {
        self.lock().control.rate()
    }

    /// Cool-offs seen so far (probes refused after a pause).
    pub(crate) fn cool_offs(&self) -> u64 {
        self.lock().cool_offs
    }
}

/// One step of the exponential smoothing of latencies.
fn smooth(previous: Option<f64>, secs: f64) -> f64 {
    match previous {
        None => secs,
        Some(prev) => prev + Aimd::LATENCY_ALPHA * (secs - prev),
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

/// One reply in the window of recent replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Good,
    Fault,
    Timeout,
}

/// The `--rate auto` controller (see the module doc). Pure: time comes in as arguments.
#[derive(Debug, Clone)]
pub(crate) struct Aimd {
    rate: f64,
    /// The highest rate allowed (lowered after a cool-off).
    ceiling: f64,
    /// The rate at the last congestion event; `None` while still in slow start.
    w_max: Option<f64>,
    interval_start: Instant,
    sent_in_interval: u32,
    /// The send rate measured over the last complete interval.
    measured: Option<f64>,
    last_decrease: Option<Instant>,
    /// Times of good replies in the last second: what the portal actually served.
    delivered: VecDeque<Instant>,
    /// The most good replies ever seen in one second (the base of the fault floor).
    peak_served: f64,
    /// The last `WINDOW` replies: faults are judged by their share of requests, not of time.
    recent: VecDeque<Outcome>,
    /// The current step above `w_max` (doubles each interval without congestion).
    probe_step: f64,
    /// Smoothed latency of all good replies (seconds): the round trip the control interval
    /// waits for.
    latency: Option<f64>,
    /// Smoothed latency and baseline of good replies per kind of request: congestion shows as
    /// one kind's latency doubling, not as a slower kind coming along.
    by_kind: [Latency; RequestKind::ALL.len()],
}

/// The smoothed latency of one kind of request (seconds) and its baseline.
#[derive(Debug, Clone, Copy, Default)]
struct Latency {
    smoothed: Option<f64>,
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
    /// Replies in the window that faults are judged over.
    pub(crate) const WINDOW: usize = 40;
    /// Share of faults (server errors, dropped connections, timeouts) in a full window that
    /// counts as a burst.
    pub(crate) const FAULT_SHARE: f64 = 0.25;
    /// Timeouts in the window that count as congestion whatever their share.
    pub(crate) const TIMEOUT_BURST: usize = 3;
    /// Faults alone never take the rate below this share of max(peak served, START).
    pub(crate) const FAULT_FLOOR: f64 = 0.5;
    const UTILISED: f64 = 0.7;
    const MIN_INTERVAL: Duration = Duration::from_millis(500);
    const SLOW_START_INTERVAL: Duration = Duration::from_millis(250);
    const LATENCY_ALPHA: f64 = 0.3;
    const LATENCY_MIN_EXCESS: f64 = 0.05;
    const LATENCY_MIN_SAMPLES: u32 = 10;

    pub(crate) fn new(now: Instant) -> Self {
        Aimd {
            rate: Self::START,
            ceiling: Self::MAX,
            w_max: None,
            interval_start: now,
            sent_in_interval: 0,
            measured: None,
            last_decrease: None,
            delivered: VecDeque::new(),
            peak_served: 0.0,
            recent: VecDeque::with_capacity(Self::WINDOW),
            probe_step: 0.0,
            latency: None,
            by_kind: [Latency::default(); RequestKind::ALL.len()],
        }
    }

    pub(crate) fn rate(&self) -> f64 {
        self.rate
    }

    /// Never faster than `ceiling` from now on.
    fn cap(&mut self, ceiling: f64) {
        self.ceiling = self.ceiling.min(ceiling).max(Self::MIN);
        self.rate = self.rate.min(self.ceiling);
        self.w_max = Some(self.w_max.map_or(self.ceiling, |w| w.min(self.ceiling)));
    }

    /// The lowest rate faults alone can bring the controller to.
    fn fault_floor(&self) -> f64 {
        Self::FAULT_FLOOR * self.peak_served.max(Self::START)
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
        kind: RequestKind,
        now: Instant,
        sent_at: Instant,
        latency: Duration,
        signal: Signal,
    ) {
        match signal {
            Signal::Congestion | Signal::Wall => {
                self.decrease(now, sent_at, Self::MIN);
            }
            Signal::Fault | Signal::Timeout => {
                let outcome = if signal == Signal::Timeout {
                    Outcome::Timeout
                } else {
                    Outcome::Fault
                };
                self.remember(outcome);
                let timeouts = self.count(Outcome::Timeout);
                let faults = timeouts + self.count(Outcome::Fault);
                // Judged over the last WINDOW replies, not the last second: a lower rate does
                // not make each fault a larger share, so faults cannot spiral the rate down.
                let burst = self.recent.len() >= Self::WINDOW / 2
                    && faults as f64 >= Self::FAULT_SHARE * self.recent.len() as f64;
                let decreased = if timeouts >= Self::TIMEOUT_BURST {
                    self.decrease(now, sent_at, Self::MIN)
                } else if burst {
                    self.decrease(now, sent_at, self.fault_floor())
                } else {
                    false
                };
                if decreased {
                    self.recent.clear();
                } else {
                    self.maybe_increase(now);
                }
            }
            Signal::Neutral => self.maybe_increase(now),
            Signal::Ok => {
                self.remember(Outcome::Good);
                self.delivered.push_back(now);
                prune_older_than_a_second(&mut self.delivered, now);
                self.peak_served = self.peak_served.max(self.delivered.len() as f64);
                if self.observe_latency(kind, latency.as_secs_f64()) {
                    self.decrease(now, sent_at, Self::MIN);
                } else {
                    self.maybe_increase(now);
                }
            }
        }
    }

    fn remember(&mut self, outcome: Outcome) {
        if self.recent.len() == Self::WINDOW {
            self.recent.pop_front();
        }
        self.recent.push_back(outcome);
    }

    fn count(&self, outcome: Outcome) -> usize {
        self.recent.iter().filter(|o| **o == outcome).count()
    }

    /// Updates the smoothed latencies; true when `kind`'s has doubled over its baseline.
    fn observe_latency(&mut self, kind: RequestKind, secs: f64) -> bool {
        self.latency = Some(smooth(self.latency, secs));
        let track = &mut self.by_kind[kind.index()];
        let smoothed = smooth(track.smoothed, secs);
        track.smoothed = Some(smoothed);
        track.samples = track.samples.saturating_add(1);
        let baseline = track.baseline.map_or(smoothed, |b| b.min(smoothed));
        track.baseline = Some(baseline);
        track.samples >= Self::LATENCY_MIN_SAMPLES
            && smoothed > 2.0 * baseline
            && smoothed - baseline >= Self::LATENCY_MIN_EXCESS
    }

    /// A congestion event: cut the rate, but not below `floor` (nor raise it to the floor).
    /// False when the event was already answered (see the module doc's epoch rule).
    fn decrease(&mut self, now: Instant, sent_at: Instant, floor: f64) -> bool {
        if let Some(last) = self.last_decrease
            && (sent_at < last || now.duration_since(last) < self.interval())
        {
            return false;
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
            prune_older_than_a_second(&mut self.delivered, now);
            let served = self.delivered.len() as f64;
            if served >= Self::MIN && served <= basis {
                // A measurement of the limit rather than a guess: resume just under it (the
                // portal's Retry-After pause has emptied its window meanwhile) instead of
                // cutting to 70 % and spending seconds climbing back.
                basis = served;
                factor = FIXED_HEADROOM;
            }
        }
        self.w_max = Some(basis.min(self.ceiling));
        self.probe_step = 0.0;
        let floor = floor.min(self.rate);
        self.rate = (basis * factor).max(floor).clamp(Self::MIN, self.ceiling);
        self.last_decrease = Some(now);
        // Latency that triggered (or accompanied) this decrease becomes the new reference, so
        // only a further doubling triggers again; the baseline comes back down by itself.
        for track in &mut self.by_kind {
            if let (Some(latency), Some(baseline)) = (track.smoothed, track.baseline) {
                track.baseline = Some(baseline.max(latency / 2.0));
            }
        }
        self.start_interval(now);
        true
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
            .clamp(Self::MIN, self.ceiling);
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
        prune_older_than_a_second(&mut self.delivered, now);
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
        aimd.on_reply(
            RequestKind::AddUsers,
            *now,
            *now - ms(10),
            ms(10),
            Signal::Ok,
        );
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
        aimd.on_reply(RequestKind::AddUsers, now, now, ms(10), Signal::Ok);
        assert_eq!(aimd.rate(), Aimd::START);
        // A whole interval with a single request: the client is not rate-bound.
        aimd.on_send(now);
        now += ms(600);
        aimd.on_reply(RequestKind::AddUsers, now, now, ms(10), Signal::Ok);
        assert_eq!(aimd.rate(), Aimd::START);
    }

    #[tokio::test(start_paused = true)]
    async fn congestion_decreases_then_recovers_fast_then_approaches_slowly() {
        let mut now = Instant::now();
        let mut aimd = Aimd::new(now);
        aimd.rate = 100.0;
        aimd.on_reply(RequestKind::AddUsers, now, now, ms(10), Signal::Congestion);
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
        aimd.on_reply(
            RequestKind::AddUsers,
            now,
            now - ms(50),
            ms(50),
            Signal::Congestion,
        );
        assert_eq!(aimd.w_max, Some(100.0));
        assert!((aimd.rate() - 96.0).abs() < 1e-9, "{}", aimd.rate());
    }

    #[tokio::test(start_paused = true)]
    async fn one_decrease_per_event() {
        let mut now = Instant::now();
        let mut aimd = Aimd::new(now);
        aimd.rate = 100.0;
        let before = now;
        now += ms(50);
        aimd.on_reply(
            RequestKind::AddUsers,
            now,
            before,
            ms(50),
            Signal::Congestion,
        );
        assert!((aimd.rate() - 70.0).abs() < 1e-9);
        // Replies to requests sent before the decrease carry no news.
        now += ms(600);
        aimd.on_reply(
            RequestKind::AddUsers,
            now,
            before + ms(10),
            ms(50),
            Signal::Congestion,
        );
        assert!((aimd.rate() - 70.0).abs() < 1e-9);
        // Within the same interval, later requests don't decrease again either.
        let mut aimd2 = aimd.clone();
        aimd2.on_reply(
            RequestKind::AddUsers,
            now - ms(500),
            now - ms(520),
            ms(10),
            Signal::Congestion,
        );
        assert!((aimd2.rate() - 70.0).abs() < 1e-9);
        // A request sent after the decrease, an interval later: a new event.
        aimd.on_reply(
            RequestKind::AddUsers,
            now,
            now - ms(20),
            ms(20),
            Signal::Congestion,
        );
        assert!((aimd.rate() - 49.0).abs() < 1e-9);
    }

    #[tokio::test(start_paused = true)]
    async fn decrease_starts_from_the_used_rate_and_has_a_floor() {
        let mut now = Instant::now();
        let mut aimd = Aimd::new(now);
        aimd.rate = 200.0;
        aimd.measured = Some(20.0);
        aimd.on_reply(RequestKind::AddUsers, now, now, ms(10), Signal::Congestion);
        assert!((aimd.rate() - 14.0).abs() < 1e-9);
        for _ in 0..50 {
            now += ms(600);
            aimd.on_reply(RequestKind::AddUsers, now, now, ms(10), Signal::Congestion);
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
            aimd.on_reply(RequestKind::AddUsers, now, now - lat, lat, Signal::Ok);
        }
        assert!(aimd.rate() >= 50.0, "{}", aimd.rate());
        // 50 ms → 150 ms: congestion.
        let mut aimd = Aimd::new(now);
        aimd.rate = 50.0;
        for i in 0..40 {
            now += ms(5);
            let lat = if i < 20 { ms(50) } else { ms(150) };
            aimd.on_reply(RequestKind::AddUsers, now, now - ms(1), lat, Signal::Ok);
        }
        assert!(aimd.rate() < 50.0, "{}", aimd.rate());
    }

    #[tokio::test(start_paused = true)]
    async fn a_slower_kind_of_request_is_not_congestion_but_its_own_doubling_is() {
        let mut now = Instant::now();
        let mut aimd = Aimd::new(now);
        aimd.rate = 50.0;
        // addUsers at 2 ms, then directory pages at a steady 150 ms alongside them.
        for i in 0..60 {
            now += ms(5);
            let (kind, lat) = if i < 20 || i % 2 == 0 {
                (RequestKind::AddUsers, ms(2))
            } else {
                (RequestKind::OrgUsers, ms(150))
            };
            aimd.on_reply(kind, now, now - ms(1), lat, Signal::Ok);
        }
        assert!(aimd.rate() >= 50.0, "{}", aimd.rate());
        // The directory pages themselves slowing to 450 ms: congestion.
        for _ in 0..20 {
            now += ms(5);
            aimd.on_reply(RequestKind::OrgUsers, now, now - ms(1), ms(450), Signal::Ok);
        }
        assert!(aimd.rate() < 50.0, "{}", aimd.rate());
    }

    /// Replies at a steady 50 ms latency, one every `gap`, `signal_of(i)` for the i-th.
    fn replies(
        aimd: &mut Aimd,
        now: &mut Instant,
        n: usize,
        gap: Duration,
        signal_of: impl Fn(usize) -> Signal,
    ) -> f64 {
        let mut lowest = aimd.rate();
        for i in 0..n {
            *now += gap;
            aimd.on_send(*now);
            aimd.on_reply(
                RequestKind::AddUsers,
                *now,
                *now - ms(50),
                ms(50),
                signal_of(i),
            );
            lowest = lowest.min(aimd.rate());
        }
        lowest
    }

    #[tokio::test(start_paused = true)]
    async fn isolated_faults_at_steady_latency_do_not_lower_the_rate() {
        let mut now = Instant::now();
        let mut aimd = Aimd::new(now);
        aimd.rate = 10.0;
        aimd.w_max = Some(12.0);
        // 3 % server errors and 1 % dropped connections, 2 000 replies at 10 a second (two
        // of them, replies 40 and 50, within one second).
        let lowest = replies(&mut aimd, &mut now, 2000, ms(100), |i| {
            if i % 33 == 7 || i % 100 == 50 {
                Signal::Fault
            } else {
                Signal::Ok
            }
        });
        assert_eq!(lowest, 10.0, "never paced against isolated faults");
        assert!(aimd.rate() >= 12.0, "kept ramping: {}", aimd.rate());
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_burst_lowers_the_rate() {
        let mut now = Instant::now();
        let mut aimd = Aimd::new(now);
        aimd.rate = 50.0;
        aimd.w_max = Some(60.0);
        replies(&mut aimd, &mut now, 100, ms(20), |_| Signal::Ok);
        let before = aimd.rate();
        replies(&mut aimd, &mut now, 10, ms(20), |_| Signal::Congestion);
        assert!(
            aimd.rate() <= before * Aimd::DECREASE + 1e-9,
            "{before} -> {}",
            aimd.rate()
        );
        // The same goes for throttling without Retry-After.
        let before = aimd.rate();
        now += ms(600);
        aimd.on_reply(
            RequestKind::AddUsers,
            now,
            now - ms(50),
            ms(50),
            Signal::Wall,
        );
        assert!(aimd.rate() < before, "{before} -> {}", aimd.rate());
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_of_faults_lowers_the_rate_but_not_below_the_floor() {
        let mut now = Instant::now();
        let mut aimd = Aimd::new(now);
        aimd.rate = 100.0;
        aimd.w_max = Some(100.0);
        // One second at 100 good replies per second: the floor is 50.
        replies(&mut aimd, &mut now, 100, ms(10), |_| Signal::Ok);
        assert_eq!(aimd.fault_floor(), 50.0);
        let before = aimd.rate();
        // Half the replies fail, for a long time.
        let lowest = replies(&mut aimd, &mut now, 3000, ms(10), |i| {
            if i % 2 == 0 {
                Signal::Fault
            } else {
                Signal::Ok
            }
        });
        assert!(lowest < before, "a burst of faults is congestion");
        assert!(lowest >= 50.0, "faults alone stop at the floor: {lowest}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_ramp_is_not_talked_into_a_spiral_by_random_faults() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let mut now = Instant::now();
        let mut aimd = Aimd::new(now);
        aimd.rate = 5.0;
        aimd.w_max = Some(5.0);
        // Requests go out at the controller's rate (a slow ramp from 5 req/s) and 5 % of the
        // replies are server errors. Judged over the last second, each fault at 5 req/s is a
        // 20 % share; judged over a window of requests it stays 5 %.
        let mut lowest = aimd.rate();
        for _ in 0..3000 {
            let gap = Duration::from_secs_f64(1.0 / aimd.rate());
            now += gap;
            aimd.on_send(now);
            let signal = if rng.random_bool(0.05) {
                Signal::Fault
            } else {
                Signal::Ok
            };
            aimd.on_reply(RequestKind::AddUsers, now, now - ms(50), ms(50), signal);
            lowest = lowest.min(aimd.rate());
        }
        assert_eq!(lowest, 5.0, "never cut");
        assert!(aimd.rate() > 20.0, "ramped up: {}", aimd.rate());
    }

    #[tokio::test(start_paused = true)]
    async fn timeouts_in_a_burst_are_congestion_but_one_is_not() {
        let mut now = Instant::now();
        let mut aimd = Aimd::new(now);
        aimd.rate = 50.0;
        aimd.w_max = Some(60.0);
        let lowest = replies(&mut aimd, &mut now, 40, ms(20), |i| {
            if i == 20 { Signal::Timeout } else { Signal::Ok }
        });
        assert_eq!(lowest, 50.0);
        let before = aimd.rate();
        replies(&mut aimd, &mut now, 3, ms(20), |_| Signal::Timeout);
        assert!(aimd.rate() < before, "{before} -> {}", aimd.rate());
    }

    fn fixed(rate: u32) -> RateSetting {
        RateSetting::Fixed(NonZeroU32::new(rate).unwrap())
    }

    /// A fixed 100/s pacer with 8 slots and the default stall limit, as most tests want it.
    fn fixed_pacer_at_100() -> Arc<Pacer> {
        Arc::new(Pacer::new(
            NonZeroUsize::new(8).unwrap(),
            fixed(100),
            STALL_LIMIT,
        ))
    }

    #[tokio::test(start_paused = true)]
    async fn a_cool_off_pauses_everyone_and_probes_with_one_request_at_growing_intervals() {
        let pacer = fixed_pacer_at_100();
        // Forty good replies over the last second, then the limit trips a 10 s cool-off in
        // which every request is refused without Retry-After.
        for _ in 0..40 {
            let turn = pacer.acquire().await.unwrap();
            pacer.feedback(turn, RequestKind::AddUsers, Signal::Ok);
            tokio::time::sleep(ms(25)).await;
        }
        let tripped = Instant::now();
        let cool_off_ends = tripped + Duration::from_secs(10);
        // (seconds after the trip, was a probe, was refused) for every request sent.
        let log = Arc::new(Mutex::new(Vec::new()));
        let requests: Vec<_> = (0..6)
            .map(|_| {
                let (pacer, log) = (Arc::clone(&pacer), Arc::clone(&log));
                tokio::spawn(async move {
                    loop {
                        let turn = pacer.acquire().await.unwrap();
                        let refused = Instant::now() < cool_off_ends;
                        let at = (turn.sent_at - tripped).as_secs_f64();
                        log.lock().unwrap().push((at, turn.probe, refused));
                        let signal = if refused { Signal::Wall } else { Signal::Ok };
                        pacer.feedback(turn, RequestKind::AddUsers, signal);
                        if !refused {
                            return;
                        }
                    }
                })
            })
            .collect();
        for r in requests {
            r.await.unwrap();
        }
        let log = log.lock().unwrap().clone();
        // The first request meets the wall; then one probe at a time, 1, 2, 4, 8 s apart.
        let probes: Vec<(f64, bool)> = log
            .iter()
            .filter(|(_, probe, _)| *probe)
            .map(|(at, _, refused)| (*at, *refused))
            .collect();
        assert_eq!(
            probes,
            [(1.0, true), (3.0, true), (7.0, true), (15.0, false)],
            "{log:?}"
        );
        let refused_plain = log.iter().filter(|(_, probe, refused)| !probe && *refused);
        assert_eq!(
            refused_plain.count(),
            1,
            "only the request that met the wall: {log:?}"
        );
        assert!(
            log.iter()
                .all(|(at, probe, _)| *probe || *at == 0.0 || *at >= 15.0)
        );
        assert_eq!(pacer.cool_offs(), 1);
        let rate = pacer.current_rate();
        assert!(
            (30.0..40.0).contains(&rate),
            "resumed below the 40/s that tripped it: {rate}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_single_429_without_retry_after_costs_one_probe_not_a_cool_off() {
        let pacer = fixed_pacer_at_100();
        let turn = pacer.acquire().await.unwrap();
        pacer.feedback(turn, RequestKind::AddUsers, Signal::Wall);
        let probe = pacer.acquire().await.unwrap();
        assert!(probe.probe);
        pacer.feedback(probe, RequestKind::AddUsers, Signal::Ok);
        assert_eq!(pacer.cool_offs(), 0);
        assert!((pacer.current_rate() - 96.0).abs() < 1e-9);
        // A late 429 to a request sent before the probe succeeded is old news.
        let turn = pacer.acquire().await.unwrap();
        assert!(!turn.probe);
    }

    #[tokio::test(start_paused = true)]
    async fn a_probe_dropped_unanswered_lets_the_next_request_probe() {
        let pacer = fixed_pacer_at_100();
        let turn = pacer.acquire().await.unwrap();
        pacer.feedback(turn, RequestKind::AddUsers, Signal::Wall);
        let probe = pacer.acquire().await.unwrap();
        drop(probe);
        let next = pacer.acquire().await.unwrap();
        assert!(next.probe);
    }

    #[tokio::test(start_paused = true)]
    async fn nothing_succeeding_for_the_stall_limit_refuses_waiting_and_retrying_requests() {
        let pacer = fixed_pacer_at_100();
        // Idle time is not a stall: ten quiet minutes, then a request goes at once.
        tokio::time::sleep(Duration::from_secs(600)).await;
        let turn = pacer.acquire().await.unwrap();
        // From the first failure on, the clock runs; a 40 s Retry-After stretches the limit
        // to max(2 min, 3 × 40 s) = 2 min; a 50 s one to 150 s.
        let failed_at = Instant::now();
        pacer.feedback(turn, RequestKind::AddUsers, Signal::Wall);
        pacer.pause(Duration::from_secs(50));
        // Requests against a portal that refuses everything, sent again until refused.
        let waiting: Vec<_> = (0..3)
            .map(|_| {
                let pacer = Arc::clone(&pacer);
                tokio::spawn(async move {
                    loop {
                        match pacer.acquire().await {
                            Ok(turn) => pacer.feedback(turn, RequestKind::AddUsers, Signal::Wall),
                            Err(refused) => return refused,
                        }
                    }
                })
            })
            .collect();
        let backing_off = {
            let pacer = Arc::clone(&pacer);
            tokio::spawn(async move { pacer.sleep(Duration::from_secs(600)).await })
        };
        let refused = backing_off.await.unwrap().unwrap_err();
        assert_eq!(refused, Refused::Stalled(Duration::from_secs(150)));
        assert_eq!(failed_at.elapsed(), Duration::from_secs(150));
        for t in waiting {
            assert_eq!(t.await.unwrap(), Refused::Stalled(Duration::from_secs(150)));
        }
        assert!(matches!(pacer.acquire().await, Err(Refused::Stalled(_))));
    }

    #[tokio::test(start_paused = true)]
    async fn a_success_resets_the_stall_clock() {
        let pacer = Pacer::new(NonZeroUsize::new(8).unwrap(), fixed(100), STALL_LIMIT);
        let turn = pacer.acquire().await.unwrap();
        pacer.feedback(turn, RequestKind::AddUsers, Signal::Fault);
        tokio::time::sleep(Duration::from_secs(100)).await;
        let turn = pacer.acquire().await.unwrap();
        pacer.feedback(turn, RequestKind::AddUsers, Signal::Ok);
        let turn = pacer.acquire().await.unwrap();
        pacer.feedback(turn, RequestKind::AddUsers, Signal::Fault);
        tokio::time::sleep(Duration::from_secs(100)).await;
        assert!(
            pacer.acquire().await.is_ok(),
            "100 s since the last failure began"
        );
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
        let pacer = Pacer::new(NonZeroUsize::new(100).unwrap(), fixed(10), STALL_LIMIT);
        let start = Instant::now();
        let mut times = Vec::new();
        for _ in 0..11 {
            times.push(pacer.acquire().await.unwrap().sent_at - start);
        }
        assert_eq!(times[0], Duration::ZERO, "no wait for the first request");
        let spacing = Duration::from_secs_f64(1.0 / 9.6);
        for pair in times.windows(2) {
            let gap = pair[1] - pair[0];
            assert!(gap + ms(2) >= spacing && gap <= spacing + ms(2), "{gap:?}");
        }
        assert!((pacer.current_rate() - 9.6).abs() < 1e-9);
    }

    #[tokio::test(start_paused = true)]
    async fn pause_holds_every_request() {
        let pacer = Arc::new(Pacer::new(
            NonZeroUsize::new(10).unwrap(),
            fixed(1000),
            STALL_LIMIT,
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
            fixed(1),
            STALL_LIMIT,
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
        let pacer = Pacer::new(NonZeroUsize::new(2).unwrap(), fixed(1000), STALL_LIMIT);
        let a = pacer.acquire().await.unwrap();
        let _b = pacer.acquire().await.unwrap();
        let third = tokio::time::timeout(Duration::from_secs(1), pacer.acquire()).await;
        assert!(third.is_err(), "a third request must wait for a permit");
        drop(a);
        let third = tokio::time::timeout(Duration::from_secs(1), pacer.acquire()).await;
        assert!(third.is_ok());
    }
}
