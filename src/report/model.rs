//! The results file's data model (product spec §3): one [`ResultRow`] per roster data row, plus
//! one per removal under `--sync`.

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
    /// The row failed validation.
    Invalid,
    /// The row could not be completed (group failure, portal failure, permission).
    Failed,
    /// The run stopped (interrupt, fatal error) before reaching the row.
    NotAttempted,
}

impl Status {
    /// Every status, in the documented order.
    pub const ALL: [Status; 11] = [
        Status::Added,
        Status::AlreadyMember,
        Status::Duplicate,
        Status::NotAdded,
        Status::Removed,
        Status::NotRemoved,
        Status::WouldAdd,
        Status::WouldRemove,
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
/// `line,group,group_id,group_status,username,role,status,reason`.
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
