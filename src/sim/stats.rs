//! Request accounting behind `GET /__sim/stats`: lock-free counters, one per figure and one
//! per [`Endpoint`], so that counting never contends with the state lock.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

/// Every ArcGIS endpoint the simulator tells apart; [`Endpoint::key`] is its `by_endpoint` key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `sharing/rest/info` (and `…/rest/info`).
    Info,
    /// `generateToken`.
    GenerateToken,
    /// `oauth2/token`.
    OAuthToken,
    /// `oauth2/authorize`.
    OAuthAuthorize,
    /// `sharing/oauth2/signin`.
    OAuthSignin,
    /// `portals/self`.
    PortalSelf,
    /// `portals/self/users`.
    PortalUsers,
    /// `portals/self/users/search`.
    PortalUserSearch,
    /// `community/self`.
    CommunitySelf,
    /// `community/users/{username}`.
    UserGet,
    /// `community/users` (user search with `q`).
    UserSearch,
    /// `community/users/{username}/invitations` and `…/invitations/{id}`.
    UserInvitations,
    /// `community/users/{username}/invitations/{id}/accept`.
    AcceptInvitation,
    /// `community/users/{username}/invitations/{id}/decline`.
    DeclineInvitation,
    /// `community/groups` (group search).
    GroupSearch,
    /// `community/groups/{id}`.
    GroupGet,
    /// `community/groups/{id}/users`.
    GroupUsers,
    /// `community/groups/{id}/userList`.
    GroupUserList,
    /// `community/createGroup`.
    CreateGroup,
    /// `community/groups/{id}/addUsers`.
    AddUsers,
    /// `community/groups/{id}/removeUsers`.
    RemoveUsers,
    /// `community/groups/{id}/invite`.
    Invite,
    /// `community/groups/{id}/reassign`.
    Reassign,
    /// `community/groups/{id}/invitations` (a group's pending invitations; undocumented).
    GroupInvitations,
    /// `community/groups/{id}/update`.
    Update,
    /// `community/groups/{id}/delete`.
    Delete,
    /// Anything else (probes such as `/arcgis/rest/services`, typos): answered 404.
    Other,
}

impl Endpoint {
    /// All endpoints, in `by_endpoint` order.
    pub const ALL: [Endpoint; 27] = [
        Endpoint::Info,
        Endpoint::GenerateToken,
        Endpoint::OAuthToken,
        Endpoint::OAuthAuthorize,
        Endpoint::OAuthSignin,
        Endpoint::PortalSelf,
        Endpoint::PortalUsers,
        Endpoint::PortalUserSearch,
        Endpoint::CommunitySelf,
        Endpoint::UserGet,
        Endpoint::UserSearch,
        Endpoint::UserInvitations,
        Endpoint::AcceptInvitation,
        Endpoint::DeclineInvitation,
        Endpoint::GroupSearch,
        Endpoint::GroupGet,
        Endpoint::GroupUsers,
        Endpoint::GroupUserList,
        Endpoint::CreateGroup,
        Endpoint::AddUsers,
        Endpoint::RemoveUsers,
        Endpoint::Invite,
        Endpoint::Reassign,
        Endpoint::GroupInvitations,
        Endpoint::Update,
        Endpoint::Delete,
        Endpoint::Other,
    ];

    /// The stable `by_endpoint` key (listed in the [module doc](super)).
    pub fn key(self) -> &'static str {
        match self {
            Endpoint::Info => "info",
            Endpoint::GenerateToken => "generateToken",
            Endpoint::OAuthToken => "oauth2/token",
            Endpoint::OAuthAuthorize => "oauth2/authorize",
            Endpoint::OAuthSignin => "oauth2/signin",
            Endpoint::PortalSelf => "portals/self",
            Endpoint::PortalUsers => "portals/self/users",
            Endpoint::PortalUserSearch => "portals/self/users/search",
            Endpoint::CommunitySelf => "community/self",
            Endpoint::UserGet => "community/users",
            Endpoint::UserSearch => "community/users/search",
            Endpoint::UserInvitations => "community/users/invitations",
            Endpoint::AcceptInvitation => "invitations/accept",
            Endpoint::DeclineInvitation => "invitations/decline",
            Endpoint::GroupSearch => "community/groups",
            Endpoint::GroupGet => "groups/get",
            Endpoint::GroupUsers => "groups/users",
            Endpoint::GroupUserList => "groups/userList",
            Endpoint::CreateGroup => "createGroup",
            Endpoint::AddUsers => "addUsers",
            Endpoint::RemoveUsers => "removeUsers",
            Endpoint::Invite => "invite",
            Endpoint::Reassign => "reassign",
            Endpoint::GroupInvitations => "groups/invitations",
            Endpoint::Update => "update",
            Endpoint::Delete => "delete",
            Endpoint::Other => "other",
        }
    }

    /// Operations that change the state: POST-only, subject to `--drop-rate`, counted in `writes`.
    pub fn is_write(self) -> bool {
        matches!(
            self,
            Endpoint::CreateGroup
                | Endpoint::AddUsers
                | Endpoint::RemoveUsers
                | Endpoint::Invite
                | Endpoint::Reassign
                | Endpoint::AcceptInvitation
                | Endpoint::DeclineInvitation
                | Endpoint::Update
                | Endpoint::Delete
        )
    }

    fn index(self) -> usize {
        Endpoint::ALL
            .iter()
            .position(|e| *e == self)
            .unwrap_or(Endpoint::ALL.len() - 1)
    }
}

/// The `GET /__sim/stats` document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsSnapshot {
    /// Every ArcGIS request received (rejected, failed and dropped ones included).
    pub total: u64,
    /// Write operations that reached the state, dropped responses included.
    pub writes: u64,
    /// Throttled requests (`--rate-limit`, `--max-in-flight`, `--cool-off`), whatever their
    /// `--throttle-status`.
    pub throttled_429: u64,
    /// Requests answered 500/502/503 by `--fail-rate`.
    pub faults_5xx: u64,
    /// Writes applied whose connection was then closed unanswered (`--drop-rate`).
    pub dropped: u64,
    /// Most ArcGIS requests ever in progress at once (rejected ones included).
    pub max_in_flight: u64,
    /// Tokens issued by generateToken, oauth2/token and the oauth2 sign-in.
    pub tokens_issued: u64,
    /// Requests received per endpoint (every key always present).
    pub by_endpoint: BTreeMap<String, u64>,
}

/// Live counters; cheap to bump from any task.
#[derive(Debug, Default)]
pub struct Stats {
    total: AtomicU64,
    writes: AtomicU64,
    throttled: AtomicU64,
    faults: AtomicU64,
    dropped: AtomicU64,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
    tokens: AtomicU64,
    by_endpoint: [AtomicU64; Endpoint::ALL.len()],
}

/// Keeps a request counted as in flight until dropped.
pub struct InFlight<'a> {
    stats: &'a Stats,
    /// How many requests were in flight when this one arrived (itself included).
    pub concurrent: u64,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.stats.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Stats {
    /// Counts a received request and marks it in flight until the guard drops.
    pub fn arrive(&self, endpoint: Endpoint) -> InFlight<'_> {
        self.total.fetch_add(1, Ordering::Relaxed);
        self.by_endpoint[endpoint.index()].fetch_add(1, Ordering::Relaxed);
        let concurrent = self.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.max_in_flight.fetch_max(concurrent, Ordering::Relaxed);
        InFlight {
            stats: self,
            concurrent,
        }
    }

    /// A write reached the state.
    pub fn write(&self) {
        self.writes.fetch_add(1, Ordering::Relaxed);
    }

    /// A request was answered 429.
    pub fn throttled(&self) {
        self.throttled.fetch_add(1, Ordering::Relaxed);
    }

    /// A request was answered with an injected 5xx.
    pub fn fault(&self) {
        self.faults.fetch_add(1, Ordering::Relaxed);
    }

    /// A response was dropped.
    pub fn dropped(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// A token was issued.
    pub fn token_issued(&self) {
        self.tokens.fetch_add(1, Ordering::Relaxed);
    }

    /// The current figures.
    pub fn snapshot(&self) -> StatsSnapshot {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        StatsSnapshot {
            total: get(&self.total),
            writes: get(&self.writes),
            throttled_429: get(&self.throttled),
            faults_5xx: get(&self.faults),
            dropped: get(&self.dropped),
            max_in_flight: get(&self.max_in_flight),
            tokens_issued: get(&self.tokens),
            by_endpoint: Endpoint::ALL
                .iter()
                .map(|e| (e.key().to_owned(), get(&self.by_endpoint[e.index()])))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_in_flight_is_tracked() {
        let keys: std::collections::HashSet<_> = Endpoint::ALL.iter().map(|e| e.key()).collect();
        assert_eq!(keys.len(), Endpoint::ALL.len());
        let stats = Stats::default();
        {
            let _a = stats.arrive(Endpoint::AddUsers);
            let b = stats.arrive(Endpoint::Info);
            assert_eq!(b.concurrent, 2);
        }
        let _c = stats.arrive(Endpoint::Info);
        let snap = stats.snapshot();
        assert_eq!((snap.total, snap.max_in_flight), (3, 2));
        assert_eq!(snap.by_endpoint["info"], 2);
        assert_eq!(snap.by_endpoint["delete"], 0);
    }
}
