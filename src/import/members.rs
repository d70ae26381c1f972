//! Adding one chunk of users to a group, and explaining every user the portal did not add.
//!
//! The portal answers addUsers with a bare `notAdded` list. Each name in it is explained with
//! follow-up reads: the group's members again (a user now present is `already_member`), then
//! the user (missing or invisible, another organization, or present in this one). A lost
//! response is settled the same way — by re-reading the members, never by guessing.

use std::collections::HashSet;

use futures::StreamExt;

use crate::import::context::RunContext;
use crate::import::{Fatal, Members, Pending};
use crate::report::{GroupStatus, ResultRow, Status};
use crate::roster::{Role, UserKey};

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
            username: row.username.clone(),
            role: Some(row.role),
            status,
            reason: reason.into(),
            portal_username: None,
        }
    }
}

/// Send one addUsers call for `rows` (all of one role) and return one results row per input row.
pub async fn add_chunk(
    ctx: &RunContext,
    target: &Target,
    role: Role,
    rows: &[Pending],
) -> Result<Vec<ResultRow>, Fatal> {
    let names: Vec<String> = rows.iter().map(|r| r.username.clone()).collect();
    match ctx.client.add_users(&target.id, role, &names).await {
        Ok(not_added) => {
            let refused: HashSet<UserKey> = not_added.iter().map(|u| UserKey::new(u)).collect();
            let (refused_rows, added_rows): (Vec<&Pending>, Vec<&Pending>) = rows
                .iter()
                .partition(|r| refused.contains(&UserKey::new(&r.username)));
            let mut out: Vec<ResultRow> = added_rows
                .iter()
                .map(|r| target.row(r, Status::Added, ""))
                .collect();
            if !refused_rows.is_empty() {
                out.extend(explain_not_added(ctx, target, &refused_rows).await?);
            }
            Ok(out)
        }
        Err(e) => {
            if let Some(fatal) = Fatal::from_portal(&e) {
                return Err(fatal);
            }
            if e.is_ambiguous() {
                return settle_lost_response(ctx, target, rows, &e.to_string()).await;
            }
            let reason = if e.is_permission() {
                format!("permission denied adding to this group: {e}")
            } else {
                format!("portal error: {e}")
            };
            Ok(rows
                .iter()
                .map(|r| target.row(r, Status::Failed, reason.clone()))
                .collect())
        }
    }
}

/// The response to an addUsers call was lost after the portal may have applied it: whoever is
/// now a member was added; the rest failed.
async fn settle_lost_response(
    ctx: &RunContext,
    target: &Target,
    rows: &[Pending],
    error: &str,
) -> Result<Vec<ResultRow>, Fatal> {
    let members = match read_members(ctx, target).await? {
        Some(members) => members,
        None => {
            let reason =
                format!("the portal did not answer and the outcome could not be checked: {error}");
            return Ok(rows
                .iter()
                .map(|r| target.row(r, Status::Failed, reason.clone()))
                .collect());
        }
    };
    Ok(rows
        .iter()
        .map(|r| match members.role_of(&r.username) {
            Some(_) => target.row(r, Status::Added, ""),
            None => target.row(
                r,
                Status::Failed,
                format!("the portal did not confirm the addition: {error}"),
            ),
        })
        .collect())
}

async fn read_members(ctx: &RunContext, target: &Target) -> Result<Option<Members>, Fatal> {
    match ctx.client.group_members(&target.id).await {
        Ok(m) => Ok(Some(Members::from_portal(&m))),
        // The chunk's write happened; an interrupt only stops the follow-up read.
        Err(e) if e.is_stopped() => Ok(None),
        Err(e) => match Fatal::from_portal(&e) {
            Some(fatal) => Err(fatal),
            None => Ok(None),
        },
    }
}

/// Lookups in flight at once while explaining one chunk's refusals (the shared request budget
/// still applies; this only bounds the per-chunk fan-out).
const LOOKUPS_PER_CHUNK: usize = 4;

/// Give every `notAdded` user a reason a help-desk person can act on.
async fn explain_not_added(
    ctx: &RunContext,
    target: &Target,
    rows: &[&Pending],
) -> Result<Vec<ResultRow>, Fatal> {
    let members = read_members(ctx, target).await?;
    let lookups: Vec<_> = rows
        .iter()
        .map(|row| explain_one(ctx, target, members.as_ref(), row))
        .collect();
    let explained: Vec<Result<ResultRow, Fatal>> = futures::stream::iter(lookups)
        .buffered(LOOKUPS_PER_CHUNK)
        .collect()
        .await;
    explained.into_iter().collect()
}

async fn explain_one(
    ctx: &RunContext,
    target: &Target,
    members: Option<&Members>,
    row: &Pending,
) -> Result<ResultRow, Fatal> {
    if let Some(role) = members.and_then(|m| m.role_of(&row.username)) {
        return Ok(target.row(row, Status::AlreadyMember, role.differs_reason(row.role)));
    }
    // `found` is the portal's spelling when the lookup found the user: without it the row names
    // someone this run could not identify, and `--sync` leaves its group alone.
    let (reason, found) = match ctx.client.user(&row.username).await {
        Ok(None) if ctx.caller.is_admin => ("user does not exist in this portal".to_owned(), None),
        Ok(None) => ("user does not exist in this portal or belongs to another organization and is not visible".to_owned(), None),
        Ok(Some(user)) if user.org_id.as_deref().is_some_and(|org| org != ctx.caller.org_id) => {
            ("user is in another organization".to_owned(), Some(user.username))
        }
        Ok(Some(user)) => ("portal did not add the user; the user exists in this organization — may be at the 512-group \
             limit, or its role cannot join this (shared update) group"
            .to_owned(), Some(user.username)),
        Err(e) if e.is_stopped() => ("portal did not add the user (not looked up: the run was interrupted)".to_owned(), None),
        Err(e) => match Fatal::from_portal(&e) {
            Some(fatal) => return Err(fatal),
            None => (format!("portal did not add the user, and looking the user up failed: {e}"), None),
        },
    };
    let mut result = target.row(row, Status::NotAdded, reason);
    result.portal_username = found;
    Ok(result)
}
