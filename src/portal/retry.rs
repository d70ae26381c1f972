//! The retry policy: when a failed call is sent again, and after how long.
//!
//! Decisions (product spec §5):
//! - Only retryable failures ([`super::PortalError::is_retryable`]) are retried. Faults
//!   (connection errors, timeouts, 5xx) at most `retries` times after the first attempt; then
//!   the call fails with `Unavailable`. Throttling (429, 403 "Too many requests", anything
//!   with `Retry-After`) spends no retries: the pacer holds the call through the pause or
//!   cool-off, and gives up only when nothing has succeeded for `pacing::STALL_LIMIT`
//!   (`Stalled`, exit 4 like `Unavailable`).
//! - Without `Retry-After`: exponential backoff with *full jitter* — a uniform random delay in
//!   `[0, min(cap, base × 2^(n-1))]` before retry `n` (base 250 ms, cap 30 s). Full jitter spreads
//!   the retries of many concurrent calls that failed together, which fixed or equal-jitter
//!   delays would send back in a herd.
//! - With `Retry-After` (429/503): the whole client pauses (see `pacing`), so the retried call
//!   just waits for the shared pause; no extra per-call delay. Delays above 120 s are capped: a
//!   nightly job must not sleep for hours on a misconfigured header.
//! - Token errors (498/499) are not counted against `retries`: the token is renewed and the
//!   call sent again; a token refused while within its lifetime is renewed only once.
//! - A 403 on a write after a write of the same kind succeeded in this run is retried once after
//!   a backoff delay (throttling has been reported to look like 403).
//!
//! Which calls are safe to resend: reads always; addUsers/removeUsers are idempotent (re-adding a
//! member comes back in `notAdded`, removing a non-member in `notRemoved`). createGroup is not
//! idempotent: when its response was lost, the retry may answer `COM_0044` (the group our lost
//! request created). Retrying is acceptable only because the engine treats `COM_0044` as "the
//! group exists" and resolves it from `community/self`; the error then reports
//! [`super::PortalError::follows_ambiguous_attempt`].

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::Rng;

/// The longest `Retry-After` the client honours.
pub const RETRY_AFTER_CAP: Duration = Duration::from_secs(120);

/// Backoff parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts after the first for a retryable failure.
    pub retries: u32,
    /// Upper bound of the first retry's delay.
    pub base: Duration,
    /// Upper bound of any delay.
    pub cap: Duration,
}

impl RetryPolicy {
    /// The default base (250 ms) and cap (30 s) with `retries` retries.
    pub fn new(retries: u32) -> Self {
        RetryPolicy {
            retries,
            base: Duration::from_millis(250),
            cap: Duration::from_secs(30),
        }
    }

    /// The upper bound of the delay before retry number `retry` (1-based):
    /// `min(cap, base × 2^(retry-1))`.
    pub fn ceiling(&self, retry: u32) -> Duration {
        let doublings = retry.saturating_sub(1).min(30);
        self.base.saturating_mul(1 << doublings).min(self.cap)
    }

    /// A full-jitter delay before retry number `retry` (1-based): uniform in `[0, ceiling]`.
    pub fn backoff(&self, retry: u32) -> Duration {
        let ceiling = self.ceiling(retry);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rand::rng().random_range(0..=nanos))
    }
}

/// Parses a `Retry-After` value: delay-seconds, or an HTTP-date (IMF-fixdate, e.g.
/// `Sun, 06 Nov 1994 08:49:37 GMT`) relative to `now`. Capped at [`RETRY_AFTER_CAP`]. `None` when
/// unparseable.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    let delay = if let Ok(secs) = value.parse::<u64>() {
        Duration::from_secs(secs)
    } else if let Ok(secs) = value.parse::<f64>() {
        // Not allowed by RFC 9110, but harmless to accept.
        Duration::try_from_secs_f64(secs).ok()?
    } else {
        let at = parse_imf_fixdate(value)?;
        at.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(delay.min(RETRY_AFTER_CAP))
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` → a time. Hand-written because no date crate with parsing
/// is among the dependencies and this is the only format HTTP servers send today.
fn parse_imf_fixdate(value: &str) -> Option<SystemTime> {
    let mut parts = value.split_whitespace();
    let _weekday = parts.next()?;
    let day: u64 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    if parts.next()? != "GMT" || !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = u64::try_from(days).ok()? * 86_400 + h * 3600 + m * 60 + s;
    Some(UNIX_EPOCH + Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings_double_from_base_up_to_cap() {
        let p = RetryPolicy::new(6);
        let ms = |n| p.ceiling(n).as_millis();
        assert_eq!([ms(1), ms(2), ms(3), ms(4)], [250, 500, 1000, 2000]);
        assert_eq!(ms(8), 30_000);
        assert_eq!(ms(100), 30_000);
        assert_eq!(ms(0), 250);
    }

    #[test]
    fn backoff_stays_within_bounds_and_varies() {
        let p = RetryPolicy::new(6);
        for retry in 1..12 {
            let mut seen = std::collections::HashSet::new();
            for _ in 0..200 {
                let d = p.backoff(retry);
                assert!(d <= p.ceiling(retry), "{d:?} > {:?}", p.ceiling(retry));
                seen.insert(d);
            }
            assert!(seen.len() > 100, "full jitter spreads delays");
        }
    }

    #[test]
    fn retry_after_seconds_and_cap() {
        let now = SystemTime::now();
        assert_eq!(parse_retry_after("1", now), Some(Duration::from_secs(1)));
        assert_eq!(
            parse_retry_after(" 30 ", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(parse_retry_after("0", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("86400", now), Some(RETRY_AFTER_CAP));
        assert_eq!(
            parse_retry_after("0.5", now),
            Some(Duration::from_millis(500))
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }

    #[test]
    fn retry_after_http_date() {
        let at = parse_imf_fixdate("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(
            at.duration_since(UNIX_EPOCH).unwrap().as_secs(),
            784_111_777
        );
        let now = at - Duration::from_secs(5);
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::from_secs(5))
        );
        // A date in the past means "now".
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", at + Duration::from_secs(9)),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Foo 1994 08:49:37 GMT", now),
            None
        );
    }
}
