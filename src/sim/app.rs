//! One simulator instance's shared parts — configuration, portal state, tokens, counters,
//! fault knobs, connection kill switches — as the HTTP layer and the handlers both see them.
//! It sits below `request`, `handlers` and `routes` so that each of
//! them can reach the instance without importing the others.

use std::sync::{Arc, Mutex};

use super::auth::Tokens;
use super::config::SimConfig;
use super::conn::KillRegistry;
use super::faults::Faults;
use super::state::{Portal, StateSnapshot};
use super::stats::Stats;

/// Everything one simulator instance shares between requests.
#[derive(Debug)]
pub struct App {
    /// The configuration it was started with.
    pub config: SimConfig,
    /// Orgs, users, groups. Locked briefly by each request; never across an await.
    pub portal: Mutex<Portal>,
    /// Issued tokens and pending OAuth2 authorizations.
    pub tokens: Tokens,
    /// Counters behind `/__sim/stats`.
    pub stats: Stats,
    /// The fault knobs.
    pub faults: Faults,
    /// Connection kill switches for `--drop-rate`.
    pub kills: Arc<KillRegistry>,
}

impl App {
    /// A fresh instance for `config`; fails on inconsistent seed data.
    pub fn new(config: SimConfig) -> Result<App, String> {
        Ok(App {
            portal: Mutex::new(Portal::new(&config)?),
            tokens: Tokens::new(config.token_ttl),
            stats: Stats::default(),
            faults: Faults::new(&config),
            kills: Arc::new(KillRegistry::default()),
            config,
        })
    }

    /// Locks the portal state (a poisoned lock is still usable: state changes are atomic).
    pub fn portal(&self) -> std::sync::MutexGuard<'_, Portal> {
        self.portal.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current state document.
    pub fn snapshot(&self) -> StateSnapshot {
        self.portal().snapshot()
    }
}
