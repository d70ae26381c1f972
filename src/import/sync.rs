//! `--sync`: remove members the roster no longer lists (product spec §4), behind a guard.
//!
//! A truncated HR export looks exactly like a mass departure. So the whole plan is computed
//! first, and if any group would lose more than `--max-removals`, nothing at all is removed in
//! this run — additions still happen, the blocked removals are reported, and the run exits 1.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};

use crate::config::RemovalLimit;
use crate::import::Target;
use crate::import::context::RunContext;
use crate::import::{Fatal, MemberRole, Members};
use crate::outcome::{ResultRow, Status};
use crate::roster::{Role, UserKey};

/// A compact fingerprint of a username for the roster-side set: 8 bytes per roster row keeps
/// `--sync` on a million-row roster small. A collision can only spare a member from removal.
pub fn fingerprint(user: &UserKey) -> u64 {
    let mut hasher = DefaultHasher::new();
    user.hash(&mut hasher);
    hasher.finish()
}

/// One group's inputs to the plan.
pub struct SyncGroup<'a> {
    /// The group.
    pub target: Target,
    /// Its members as read at the start of the run.
    pub members: &'a Members,
    /// Fingerprints of every username the roster lists for it (valid rows and duplicates).
    pub roster: &'a HashSet<u64>,
    /// Roster rows for this group whose user is unknown — `invalid` rows, and `not_added` rows
    /// naming someone the run could not identify: whom they meant cannot be told, so nothing is
    /// removed.
    pub unknown_rows: u64,
}

/// A member to remove.
#[derive(Debug, Clone)]
pub struct Removal {
    /// Username as the portal spells it.
    pub username: String,
    /// Standing in the group.
    pub role: Role,
}

/// What `--sync` will do.
pub struct SyncPlan {
    /// Removals to carry out, per group (empty when the guard tripped or in a dry run).
    pub batches: Vec<(Target, Vec<Removal>)>,
    /// Rows already decided: `would_remove`, and `not_removed` rows blocked by the guard.
    pub rows: Vec<ResultRow>,
    /// Titles of the groups that exceeded the guard.
    pub tripped: Vec<String>,
}

/// Compute the removals for every group and apply the guard.
pub fn plan(ctx: &RunContext, groups: Vec<SyncGroup<'_>>) -> SyncPlan {
    let limit: RemovalLimit = ctx.plan.max_removals;
    let mut candidates: Vec<(Target, Vec<Removal>, Option<String>)> = Vec::new();
    let mut tripped = Vec::new();
    for group in groups {
        let removals: Vec<Removal> = group
            .members
            .iter()
            .filter(|(_, _, role)| match role {
                MemberRole::Owner => false,
                MemberRole::Admin => ctx.plan.sync_admins,
                MemberRole::Member => true,
            })
            .filter(|(key, _, _)| {
                **key != ctx.caller.key && !group.roster.contains(&fingerprint(key))
            })
            .map(|(_, name, role)| Removal {
                username: name.to_owned(),
                role: if role == MemberRole::Member {
                    Role::Member
                } else {
                    Role::Admin
                },
            })
            .collect();
        if removals.is_empty() {
            continue;
        }
        let allowed = limit.allowed(group.members.len() as u64);
        let blocked = if group.unknown_rows > 0 {
            Some(format!(
                "not removed: {} roster row(s) for this group are invalid or name a user the portal \
                 does not know; fix them before syncing",
                group.unknown_rows
            ))
        } else if removals.len() as u64 > allowed {
            tripped.push(group.target.title.clone());
            Some(format!(
                "sync guard: {} of {} members would be removed (limit {allowed})",
                removals.len(),
                group.members.len()
            ))
        } else {
            None
        };
        candidates.push((group.target, removals, blocked));
    }

    let mut plan = SyncPlan {
        batches: Vec::new(),
        rows: Vec::new(),
        tripped: tripped.clone(),
    };
    for (target, removals, blocked) in candidates {
        let decided = match blocked {
            Some(reason) => Some((Status::NotRemoved, reason)),
            None if !tripped.is_empty() => Some((
                Status::NotRemoved,
                format!(
                    "sync guard tripped for {}; nothing removed in this run",
                    tripped.join(", ")
                ),
            )),
            None if ctx.plan.dry_run => Some((Status::WouldRemove, String::new())),
            None => None,
        };
        match decided {
            Some((status, reason)) => plan.rows.extend(
                removals
                    .iter()
                    .map(|r| removal_row(&target, r, status, reason.clone())),
            ),
            None => plan.batches.push((target, removals)),
        }
    }
    plan
}

/// A results row for a removal (no roster line).
pub fn removal_row(
    target: &Target,
    removal: &Removal,
    status: Status,
    reason: impl Into<String>,
) -> ResultRow {
    ResultRow {
        line: None,
        group: target.title.clone(),
        group_id: Some(target.id.clone()),
        group_status: Some(target.status),
        username: removal.username.clone(),
        role: Some(removal.role),
        status,
        reason: reason.into(),
        portal_username: Some(removal.username.clone()),
    }
}

/// Send one removeUsers call and report each user.
pub async fn remove_chunk(
    ctx: &RunContext,
    target: &Target,
    removals: &[Removal],
) -> Result<Vec<ResultRow>, Fatal> {
    let names: Vec<String> = removals.iter().map(|r| r.username.clone()).collect();
    match ctx.client.remove_users(&target.id, &names).await {
        Ok(not_removed) => {
            let mut refused: HashSet<UserKey> =
                not_removed.iter().map(|u| UserKey::new(u)).collect();
            // A user reported as not removed who is gone now was removed by an earlier attempt
            // whose response was lost (retries make removeUsers look like it failed).
            if !refused.is_empty() {
                match ctx.client.group_members(&target.id).await {
                    Ok(now) => {
                        let now = Members::from_portal(&now);
                        refused.retain(|key| now.role_of(key.as_str()).is_some());
                    }
                    Err(e) => {
                        if let Some(fatal) = Fatal::from_portal(&e) {
                            return Err(fatal);
                        }
                    }
                }
            }
            Ok(removals
                .iter()
                .map(|r| {
                    if refused.contains(&UserKey::new(&r.username)) {
                        removal_row(
                            target,
                            r,
                            Status::NotRemoved,
                            "portal did not remove the user",
                        )
                    } else {
                        removal_row(target, r, Status::Removed, "")
                    }
                })
                .collect())
        }
        Err(e) => match Fatal::from_portal(&e) {
            Some(fatal) => Err(fatal),
            None => {
                let reason = format!("portal error: {e}");
                Ok(removals
                    .iter()
                    .map(|r| removal_row(target, r, Status::NotRemoved, reason.clone()))
                    .collect())
            }
        },
    }
}
