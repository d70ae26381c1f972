//! The import engine (product spec §4): streams the roster, resolves each group as it first
//! appears, diffs the roster against the group's current members, adds only the missing users in
//! chunks, explains every refusal, optionally removes members the roster no longer lists, and
//! emits exactly one results row per roster row.
//!
//! - [`run`]: one whole `bulk-groups import` — lock, preflight, engine, summary, exit code.
//! - `identity`: whom each row's username cell names (`--match-by`, the organization's
//!   directory, `--check-users`), settled before the engine diffs its group.
//! - `engine`: the single-owner main loop (rows in, tasks out, results out).
//! - `resolve`: group lookup and creation. `members`: addUsers and `notAdded` diagnosis.
//! - `sync`: the removal plan and its guard. `context`: what all tasks share.
//! - `lifecycle`: handing created groups to their owners. `invite`: `--invite-external`.
//! - [`export`]: current memberships as a roster (`bulk-groups export`, `--backup`).

mod context;
mod engine;
pub mod export;
mod identity;
mod invite;
mod lifecycle;
mod members;
mod resolve;
mod run;
mod sync;

use std::collections::HashMap;

pub use context::Caller;
pub use run::{RunReport, run};

use crate::outcome::{Cause, GroupStatus, ResultRow, Status};
use crate::portal::{GroupMembers, PortalError};
use crate::roster::{Role, Row, RowKind, UserKey};

/// Where a chunk goes.
#[derive(Debug, Clone)]
pub struct Target {
    /// Group id.
    pub id: String,
    /// Group title (for the results file).
    pub title: String,
    /// `created` or `existing`.
    pub status: GroupStatus,
}

impl Target {
    /// A results row for `row` in this group.
    pub fn row(&self, row: &Pending, status: Status, reason: impl Into<String>) -> ResultRow {
        ResultRow {
            line: Some(row.line),
            group: self.title.clone(),
            group_id: Some(self.id.clone()),
            group_status: Some(self.status),
            username: row.written().to_owned(),
            role: Some(row.role),
            status,
            reason: reason.into(),
            portal_username: row.portal_username(),
        }
    }
}

/// A roster row waiting for its group (or its chunk).
#[derive(Debug, Clone)]
pub struct Pending {
    /// Roster line.
    pub line: u64,
    /// The username sent and compared: as written, or the portal's spelling of the user the
    /// row was resolved to.
    pub username: String,
    /// Requested role.
    pub role: Role,
    /// `Some(reason)` for a duplicate row: reported as `duplicate`, never sent.
    pub duplicate: Option<String>,
    /// The roster's cell, when the run resolved it to `username` (through the organization's
    /// directory or a user lookup).
    pub named_as: Option<String>,
}

impl Pending {
    /// The username cell as the roster wrote it (the results' `username`).
    pub fn written(&self) -> &str {
        self.named_as.as_deref().unwrap_or(&self.username)
    }

    /// The portal's spelling of the user, when the run resolved the cell to it.
    pub fn portal_username(&self) -> Option<String> {
        self.named_as.is_some().then(|| self.username.clone())
    }
}

/// The reason on rows an interrupt left unfinished.
pub(crate) const INTERRUPTED: &str = "run interrupted";

/// A results row for a roster row the run never worked on (it stopped first): invalid rows stay
/// `invalid` with their own reason; the others get `status` and `reason`.
pub(crate) fn unworked_row(row: Row, status: Status, reason: &str) -> ResultRow {
    let (group, username, role, status, reason) = match row.kind {
        RowKind::Membership(m) | RowKind::Duplicate { membership: m, .. } => (
            m.group.display().to_owned(),
            m.username,
            Some(m.role),
            status,
            reason.to_owned(),
        ),
        RowKind::Invalid {
            group,
            username,
            reason,
            ..
        } => (group, username, None, Status::Invalid, reason),
    };
    ResultRow {
        line: Some(row.line),
        group,
        group_id: None,
        group_status: None,
        username,
        role,
        status,
        reason,
        portal_username: None,
    }
}

/// A run-wide failure: the run stops and every unfinished row is `failed` with this reason.
/// It keeps the portal error that caused it (its text is the reason's tail).
#[derive(Debug, Clone)]
pub enum Fatal {
    /// Authentication or permission failure of the run as a whole (exit 3).
    Auth(PortalError),
    /// The portal could not be reached or kept failing (exit 4).
    Unavailable(PortalError),
    /// Not a failure: the run is stopping (an interrupt) and the request was never sent. The
    /// rows it carried are `not_attempted`.
    Stopping,
}

impl Fatal {
    /// What this failure means for the run as a whole.
    pub fn cause(&self) -> Cause {
        match self {
            Fatal::Auth(_) => Cause::Auth,
            Fatal::Unavailable(_) => Cause::PortalUnavailable,
            Fatal::Stopping => Cause::Interrupted,
        }
    }

    /// The run-wide failure a portal error amounts to, if any.
    pub fn from_portal(error: &PortalError) -> Option<Fatal> {
        if error.is_stopped() {
            Some(Fatal::Stopping)
        } else if error.is_auth() {
            Some(Fatal::Auth(error.clone()))
        } else if error.is_unavailable() {
            Some(Fatal::Unavailable(error.clone()))
        } else {
            None
        }
    }

    /// Whether this is the interrupt, not a failure.
    pub fn is_stopping(&self) -> bool {
        matches!(self, Fatal::Stopping)
    }

    /// The reason written on the rows it leaves unfinished.
    pub fn reason(&self) -> String {
        match self {
            Fatal::Auth(e) => format!("run stopped: authentication failed: {e}"),
            Fatal::Unavailable(e) => format!("run stopped: the portal kept failing: {e}"),
            Fatal::Stopping => INTERRUPTED.to_owned(),
        }
    }
}

/// A member's standing in a group, as the portal reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberRole {
    /// The group's owner (also a manager; never removed).
    Owner,
    /// A group manager.
    Admin,
    /// A plain member.
    Member,
}

impl MemberRole {
    /// The `already_member` reason when the roster asks for another role (roles are never
    /// changed by this tool).
    pub fn differs_reason(self, wanted: Role) -> String {
        let portal = match self {
            MemberRole::Owner => "owner",
            MemberRole::Admin => "admin",
            MemberRole::Member => "member",
        };
        let same = matches!(
            (self, wanted),
            (MemberRole::Member, Role::Member)
                | (MemberRole::Admin | MemberRole::Owner, Role::Admin)
        );
        if same {
            String::new()
        } else {
            format!("role differs (portal: {portal}); not changed")
        }
    }
}

/// A group's current members, keyed case-insensitively.
#[derive(Debug, Clone, Default)]
pub struct Members(HashMap<UserKey, (String, MemberRole)>);

impl Members {
    /// From the portal's `owner`/`admins`/`users` lists (the owner is also listed as an admin).
    pub fn from_portal(members: &GroupMembers) -> Self {
        let mut out = Members::default();
        for user in &members.users {
            out.insert(user, MemberRole::Member);
        }
        for admin in &members.admins {
            out.insert(admin, MemberRole::Admin);
        }
        out.insert(&members.owner, MemberRole::Owner);
        out
    }

    /// Record `username` with `role` (a later call for the same user wins).
    pub fn insert(&mut self, username: &str, role: MemberRole) {
        if !username.is_empty() {
            self.0
                .insert(UserKey::new(username), (username.to_owned(), role));
        }
    }

    /// The user's standing, if a member.
    pub fn role_of(&self, username: &str) -> Option<MemberRole> {
        self.0.get(&UserKey::new(username)).map(|(_, role)| *role)
    }

    /// How many members, the owner included.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every member: key, portal spelling, standing.
    pub fn iter(&self) -> impl Iterator<Item = (&UserKey, &str, MemberRole)> {
        self.0
            .iter()
            .map(|(k, (name, role))| (k, name.as_str(), *role))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_from_portal_lists_owner_once_as_owner() {
        let m = Members::from_portal(&GroupMembers {
            owner: "Boss".into(),
            admins: vec!["boss".into(), "Deputy".into()],
            users: vec!["amy".into()],
        });
        assert_eq!(m.len(), 3);
        assert_eq!(m.role_of("BOSS"), Some(MemberRole::Owner));
        assert_eq!(m.role_of("deputy"), Some(MemberRole::Admin));
        assert_eq!(m.role_of("Amy"), Some(MemberRole::Member));
        assert_eq!(m.role_of("zed"), None);
    }

    #[test]
    fn role_difference_reasons() {
        assert_eq!(MemberRole::Member.differs_reason(Role::Member), "");
        assert_eq!(MemberRole::Owner.differs_reason(Role::Admin), "");
        assert_eq!(
            MemberRole::Member.differs_reason(Role::Admin),
            "role differs (portal: member); not changed"
        );
        assert_eq!(
            MemberRole::Admin.differs_reason(Role::Member),
            "role differs (portal: admin); not changed"
        );
    }
}
