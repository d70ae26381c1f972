//! Fault and pacing knobs: latency and jitter, the sliding-window rate limit and its
//! `--cool-off`, the in-flight cap, the throttled reply (`--throttle-status`), injected 5xx
//! and dropped writes. Decisions only; [`super::routes`] applies them in a
//! fixed order (in-flight cap → rate limit → latency → 5xx → handler → drop) to every ArcGIS
//! request and to nothing under `/__sim/`.
//!
//! One seeded RNG drives every random draw, so a run is reproducible for a given `--seed`
//! (up to the interleaving of concurrent requests).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::config::{SimConfig, ThrottleStatus};
use super::wire::{ApiError, gateway_page};

/// What the gate decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Serve it.
    Proceed,
    /// Answer the throttled reply (`--rate-limit` or `--max-in-flight`).
    Throttle,
    /// Answer the throttled reply without `Retry-After`: the `--cool-off` after the rate
    /// limit tripped (a real cooling-off period names no time).
    CoolOff,
}

/// The knobs, their RNG and the rate-limit window.
#[derive(Debug)]
pub struct Faults {
    latency: Duration,
    jitter: Duration,
    rate_limit: Option<u32>,
    max_in_flight: Option<u32>,
    fail_rate: f64,
    drop_rate: f64,
    retry_after: bool,
    cool_off: Duration,
    throttle_status: ThrottleStatus,
    rng: Mutex<StdRng>,
    /// The rate limit's state.
    window: Mutex<Window>,
}

/// The sliding window of the rate limit and the end of the current cool-off.
#[derive(Debug, Default)]
struct Window {
    /// Arrival times of the requests accepted during the last second.
    arrivals: VecDeque<Instant>,
    /// Every request is refused until then (`--cool-off`).
    cooling_until: Option<Instant>,
}

impl Faults {
    /// The knobs of `config`.
    pub fn new(config: &SimConfig) -> Faults {
        Faults {
            latency: config.latency,
            jitter: config.jitter,
            rate_limit: config.rate_limit,
            max_in_flight: config.max_in_flight,
            fail_rate: config.fail_rate.clamp(0.0, 1.0),
            drop_rate: config.drop_rate.clamp(0.0, 1.0),
            retry_after: !config.no_retry_after,
            cool_off: config.cool_off,
            throttle_status: config.throttle_status,
            rng: Mutex::new(StdRng::seed_from_u64(config.seed)),
            window: Mutex::new(Window::default()),
        }
    }

    fn roll(&self, probability: f64) -> bool {
        probability > 0.0 && {
            let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
            rng.random_bool(probability)
        }
    }

    /// Admission: `concurrent` is the number of requests in flight, this one included.
    pub fn admit(&self, concurrent: u64) -> Verdict {
        self.admit_at(concurrent, Instant::now())
    }

    /// [`Self::admit`] at a given instant (unit tests drive the clock).
    fn admit_at(&self, concurrent: u64, now: Instant) -> Verdict {
        let mut window = self.window.lock().unwrap_or_else(|e| e.into_inner());
        if window.cooling_until.is_some_and(|until| now < until) {
            return Verdict::CoolOff;
        }
        window.cooling_until = None;
        if self
            .max_in_flight
            .is_some_and(|max| concurrent > u64::from(max))
        {
            return Verdict::Throttle;
        }
        if let Some(limit) = self.rate_limit {
            while window
                .arrivals
                .front()
                .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
            {
                window.arrivals.pop_front();
            }
            if window.arrivals.len() >= limit as usize {
                if self.cool_off.is_zero() {
                    return Verdict::Throttle;
                }
                // The penalty replaces the window: once it is over, a full second's budget.
                window.arrivals.clear();
                window.cooling_until = Some(now + self.cool_off);
                return Verdict::CoolOff;
            }
            window.arrivals.push_back(now);
        }
        Verdict::Proceed
    }

    /// The delay to add to this response (`--latency` plus a uniform draw of `--jitter`).
    pub fn delay(&self) -> Duration {
        if self.jitter.is_zero() {
            return self.latency;
        }
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        self.latency + self.jitter.mul_f64(rng.random::<f64>())
    }

    /// `Some(status)` when `--fail-rate` strikes: 500, 502 or 503, equally likely.
    pub fn injected_failure(&self) -> Option<u16> {
        if !self.roll(self.fail_rate) {
            return None;
        }
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        Some([500, 502, 503][rng.random_range(0..3)])
    }

    /// Whether `--drop-rate` strikes this (already applied) write.
    pub fn should_drop(&self) -> bool {
        self.roll(self.drop_rate)
    }

    /// The throttled reply: HTTP status and JSON error code per `--throttle-status` (429 by
    /// default), "Too many requests" in the message; `Retry-After: 1` only on a 429 outside
    /// a cool-off, unless `--no-retry-after`.
    pub fn throttle_response(&self, verdict: Verdict) -> Response {
        let code = self.throttle_status.code();
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::TOO_MANY_REQUESTS);
        let mut response =
            (status, axum::Json(ApiError::throttled(code).to_json())).into_response();
        if self.retry_after
            && verdict == Verdict::Throttle
            && self.throttle_status == ThrottleStatus::TooManyRequests
        {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

/// The reply of an injected failure: a JSON error for 500, a proxy's HTML page for 502/503.
pub fn failure_response(status: u16) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status == 500 {
        (code, axum::Json(ApiError::internal().to_json())).into_response()
    } else {
        (
            code,
            [(header::CONTENT_TYPE, "text/html")],
            gateway_page(status),
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_window_and_in_flight_cap() {
        let faults = Faults::new(&SimConfig {
            rate_limit: Some(3),
            max_in_flight: Some(2),
            ..SimConfig::default()
        });
        assert_eq!(faults.admit(3), Verdict::Throttle);
        let accepted = (0..10)
            .filter(|_| faults.admit(1) == Verdict::Proceed)
            .count();
        assert_eq!(accepted, 3);
    }

    #[test]
    fn cool_off_refuses_everything_then_grants_a_fresh_window() {
        let faults = Faults::new(&SimConfig {
            rate_limit: Some(2),
            cool_off: Duration::from_millis(300),
            ..SimConfig::default()
        });
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        assert_eq!(faults.admit_at(1, at(0)), Verdict::Proceed);
        assert_eq!(faults.admit_at(1, at(1)), Verdict::Proceed);
        assert_eq!(faults.admit_at(1, at(2)), Verdict::CoolOff, "trips");
        assert_eq!(faults.admit_at(1, at(150)), Verdict::CoolOff);
        assert_eq!(faults.admit_at(1, at(301)), Verdict::CoolOff);
        // Over at 302 ms, although the tripping second is not: the window starts afresh.
        assert_eq!(faults.admit_at(1, at(302)), Verdict::Proceed);
        assert_eq!(faults.admit_at(1, at(303)), Verdict::Proceed);
        assert_eq!(faults.admit_at(1, at(304)), Verdict::CoolOff, "trips again");
    }

    #[test]
    fn rates_are_seeded_and_roughly_right() {
        let config = SimConfig {
            fail_rate: 0.3,
            ..SimConfig::default()
        };
        let draw = || {
            let f = Faults::new(&config);
            (0..1000).map(|_| f.injected_failure()).collect::<Vec<_>>()
        };
        let a = draw();
        assert_eq!(a, draw());
        let failed = a.iter().flatten().count();
        assert!((200..400).contains(&failed), "{failed}");
        assert!(!Faults::new(&SimConfig::default()).should_drop());
    }
}
