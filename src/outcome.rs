//! The outcome of a run (product spec §3): one [`ResultRow`] per roster data row, plus one per
//! removal under `--sync`, and their [`Counts`]. It sits below both `import` (which produces
//! rows) and `report` (which writes and summarises them), so neither reaches into the other.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use crate::roster::Role;

/// What happened to one membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The portal added the user.
    Added,
    /// The user was already in the group; nothing was sent.
    AlreadyMember,
    /// A repeat of an earlier roster row; nothing was sent.
    Duplicate,
    /// The portal refused to add the user (`notAdded`); the reason says why.
    NotAdded,
    /// `--sync` removed the user.
    Removed,
    /// `--sync` did not remove the user (portal refusal or the removal guard).
    NotRemoved,
    /// `--dry-run`: would be added.
    WouldAdd,
    /// `--dry-run --sync`: would be removed.
    WouldRemove,
    /// `--invite-external`: a user of another organization was invited (or an invitation is
    /// pending); they join once they accept.
    Invited,
    /// `--dry-run --invite-external`: would be invited.
    WouldInvite,
    /// The row failed validation.
    Invalid,
    /// The row could not be completed (group failure, portal failure, permission).
    Failed,
    /// The run stopped (interrupt, fatal error) before reaching the row.
    NotAttempted,
}

impl Status {
    /// Every status, in the documented order.
    pub const ALL: [Status; 13] = [
        Status::Added,
        Status::AlreadyMember,
        Status::Duplicate,
        Status::NotAdded,
        Status::Removed,
        Status::NotRemoved,
        Status::WouldAdd,
        Status::WouldRemove,
        Status::Invited,
        Status::WouldInvite,
        Status::Invalid,
        Status::Failed,
        Status::NotAttempted,
    ];

    /// The spelling used in the results file.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Added => "added",
            Status::AlreadyMember => "already_member",
            Status::Duplicate => "duplicate",
            Status::NotAdded => "not_added",
            Status::Removed => "removed",
            Status::NotRemoved => "not_removed",
            Status::WouldAdd => "would_add",
            Status::WouldRemove => "would_remove",
            Status::Invited => "invited",
            Status::WouldInvite => "would_invite",
            Status::Invalid => "invalid",
            Status::Failed => "failed",
            Status::NotAttempted => "not_attempted",
        }
    }

    /// Whether a row with this status makes the run exit 1 (product spec §6).
    pub fn needs_attention(self) -> bool {
        matches!(
            self,
            Status::Invalid
                | Status::NotAdded
                | Status::NotRemoved
                | Status::Failed
                | Status::NotAttempted
        )
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened to a group, the same on every row of that group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupStatus {
    /// This run created it.
    Created,
    /// It existed already.
    Existing,
    /// `--dry-run`: it would be created.
    WouldCreate,
    /// It could not be resolved or created.
    Failed,
}

impl GroupStatus {
    /// Every group status, in the documented order.
    pub const ALL: [GroupStatus; 4] = [
        GroupStatus::Created,
        GroupStatus::Existing,
        GroupStatus::WouldCreate,
        GroupStatus::Failed,
    ];

    /// The spelling used in the results file.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupStatus::Created => "created",
            GroupStatus::Existing => "existing",
            GroupStatus::WouldCreate => "would_create",
            GroupStatus::Failed => "failed",
        }
    }
}

impl fmt::Display for GroupStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One line of the results file. Column order:
/// `line,group,group_id,group_status,username,role,status,reason,portal_username`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultRow {
    /// Roster line where the record starts; `None` for removal rows.
    pub line: Option<u64>,
    /// Group title (or the id as written when the group never resolved).
    pub group: String,
    /// The portal's group id, once known.
    pub group_id: Option<String>,
    /// What happened to the group; `None` when it was never resolved.
    pub group_status: Option<GroupStatus>,
    /// Username as written in the roster (or as the portal spells it, for removals).
    pub username: String,
    /// Normalised role; `None` when the row was too broken to tell.
    pub role: Option<Role>,
    /// What happened.
    pub status: Status,
    /// Empty on success; otherwise a sentence a help-desk person can act on.
    pub reason: String,
    /// The portal's own spelling of the user the row resolved to, when the run learned it
    /// (product spec §3). A `not_added` row without it names someone the run could not
    /// identify — which keeps `--sync` away from that row's group.
    pub portal_username: Option<String>,
}

/// Counts of the rows written, per status and per group status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    status: [u64; Status::ALL.len()],
    group_status_rows: [u64; GroupStatus::ALL.len()],
    groups: [u64; GroupStatus::ALL.len()],
    seen_groups: HashSet<(GroupStatus, String)>,
}

impl Counts {
    /// Count one row.
    pub fn add(&mut self, row: &ResultRow) {
        self.status[status_index(row.status)] += 1;
        if let Some(gs) = row.group_status {
            let i = group_status_index(gs);
            self.group_status_rows[i] += 1;
            // A group is identified by its id once known, else by its title (a group a dry run
            // would create has no id yet).
            let key = match row.group_id.as_deref().filter(|id| !id.is_empty()) {
                Some(id) => id.to_ascii_lowercase(),
                None => crate::roster::TitleKey::new(&row.group).as_str().to_owned(),
            };
            if self.seen_groups.insert((gs, key)) {
                self.groups[i] += 1;
            }
        }
    }

    /// Rows with `status`.
    pub fn get(&self, status: Status) -> u64 {
        self.status[status_index(status)]
    }

    /// Rows whose group has `group_status`.
    pub fn group_rows(&self, group_status: GroupStatus) -> u64 {
        self.group_status_rows[group_status_index(group_status)]
    }

    /// Distinct groups (by id, else title) seen with `group_status`.
    pub fn groups(&self, group_status: GroupStatus) -> u64 {
        self.groups[group_status_index(group_status)]
    }

    /// All rows written.
    pub fn total(&self) -> u64 {
        self.status.iter().sum()
    }

    /// Rows whose status makes the run exit 1 (`invalid`, `not_added`, `not_removed`,
    /// `failed`, `not_attempted`).
    pub fn attention_rows(&self) -> u64 {
        Status::ALL
            .iter()
            .filter(|s| s.needs_attention())
            .map(|s| self.get(*s))
            .sum()
    }

    /// Whether any row needs attention (exit 1).
    pub fn needs_attention(&self) -> bool {
        self.attention_rows() > 0
    }

    /// Every status → rows (zeros included), for the JSON summary.
    pub fn by_status(&self) -> BTreeMap<&'static str, u64> {
        Status::ALL
            .iter()
            .map(|s| (s.as_str(), self.get(*s)))
            .collect()
    }

    /// Every group status → distinct groups (zeros included), for the JSON summary.
    pub fn by_group_status(&self) -> BTreeMap<&'static str, u64> {
        GroupStatus::ALL
            .iter()
            .map(|g| (g.as_str(), self.groups(*g)))
            .collect()
    }
}

fn status_index(status: Status) -> usize {
    Status::ALL
        .iter()
        .position(|s| *s == status)
        .expect("every status is in ALL")
}

fn group_status_index(gs: GroupStatus) -> usize {
    GroupStatus::ALL
        .iter()
        .position(|g| *g == gs)
        .expect("every group status is in ALL")
}

/// One reason a command did not end cleanly. Producers say what happened; only `cmd` turns
/// causes into an exit code (and applies the precedence when several hold).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cause {
    /// SIGINT, SIGTERM or `--max-duration`.
    Interrupted,
    /// Another run holds the lock for this results file.
    Locked,
    /// The input or a file is unusable; nothing was written to the portal.
    Unusable,
    /// Authentication or permission failure of the run as a whole.
    Auth,
    /// The portal could not be reached or kept failing.
    PortalUnavailable,
    /// Some rows need attention, or a run-wide problem was reported after work began.
    RowsNeedAttention,
}

/// Every [`Cause`] that holds at the end of a command; empty means a clean run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict(std::collections::BTreeSet<Cause>);

impl Verdict {
    /// Record that `cause` holds.
    pub fn add(&mut self, cause: Cause) {
        self.0.insert(cause);
    }

    /// Whether `cause` holds.
    pub fn has(&self, cause: Cause) -> bool {
        self.0.contains(&cause)
    }

    /// Whether no cause holds.
    pub fn is_clean(&self) -> bool {
        self.0.is_empty()
    }

    /// The causes that hold.
    pub fn causes(&self) -> impl Iterator<Item = Cause> + '_ {
        self.0.iter().copied()
    }
}

impl From<Cause> for Verdict {
    fn from(cause: Cause) -> Self {
        let mut verdict = Verdict::default();
        verdict.add(cause);
        verdict
    }
}

impl FromIterator<Cause> for Verdict {
    fn from_iter<I: IntoIterator<Item = Cause>>(causes: I) -> Self {
        Verdict(causes.into_iter().collect())
    }
}
