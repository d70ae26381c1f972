//! Request counters for the run summary (product spec §3 `requests`, `retries`, `throttled`).
//! Lock-free atomics: every request bumps one, from any task.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use super::kind::RequestKind;

/// A snapshot of what the client has sent so far.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct ClientStats {
    /// HTTP requests actually sent, retries included, by kind (`"addUsers"`, `"search"`, …).
    /// Kinds never sent are absent.
    pub requests: BTreeMap<String, u64>,
    /// Requests that were re-sends of an earlier attempt (backoff retries, the resend after a
    /// token renewal, the one 403 retry).
    pub retries: u64,
    /// Replies that said "too many requests" (HTTP 429 or error code 429).
    pub throttled: u64,
    /// The pacing rate now, in requests per second.
    pub current_rate: Option<f64>,
    /// Cool-offs: the portal kept refusing every request after a pause, so the client paused
    /// and probed until it answered again.
    pub cool_offs: u64,
}

impl ClientStats {
    /// All requests sent, every kind together.
    pub fn total_requests(&self) -> u64 {
        self.requests.values().sum()
    }
}

/// The live counters behind [`ClientStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    requests: [AtomicU64; RequestKind::ALL.len()],
    retries: AtomicU64,
    throttled: AtomicU64,
}

impl Counters {
    pub(crate) fn sent(&self, kind: RequestKind) {
        self.requests[kind.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn retried(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn throttled(&self) {
        self.throttled.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self, current_rate: Option<f64>, cool_offs: u64) -> ClientStats {
        let requests = RequestKind::ALL
            .iter()
            .filter_map(|kind| {
                let n = self.requests[kind.index()].load(Ordering::Relaxed);
                (n > 0).then(|| (kind.as_str().to_owned(), n))
            })
            .collect();
        ClientStats {
            requests,
            retries: self.retries.load(Ordering::Relaxed),
            throttled: self.throttled.load(Ordering::Relaxed),
            current_rate,
            cool_offs,
        }
    }
}
