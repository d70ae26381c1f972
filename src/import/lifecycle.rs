//! Handing a group this run created to the user its `owner` column names (product spec §10).
//!
//! An account that creates a group owns it, and every group it owns counts toward its own
//! 512-group limit: a university creating course groups each term fills its admin account
//! within a term or two. So once a created group's members are added, the group is reassigned
//! to its owner. Ordering: the engine hands groups over only after the roster is done and every
//! chunk of the group has come back — nothing the run still has to do to a group (additions,
//! invitations) comes after its reassignment, when the caller may no longer manage it. Created
//! groups are never synced, so removals never follow either.
//!
//! The owner must be a member of the group before it is reassigned: the owner's own roster row
//! adds them like any other row; when the roster has no row for them in that group, they are
//! added as a manager just before the reassignment, and that implicit addition is reported as a
//! results row of its own without a line (like removal rows). Either way that row carries the
//! outcome: reason `owner` when the group was handed over, `failed` with the portal's words
//! when it was not (exit 1). Existing groups are never reassigned; a group whose owner is the
//! caller needs no handing over.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::import::Target;
use crate::import::context::RunContext;
use crate::import::members::add_chunk;
use crate::import::{Fatal, Members, Pending};
use crate::outcome::{GroupStatus, ResultRow, Status};
use crate::roster::{Role, UserKey};

/// The reason on the owner's row of a group handed over.
pub const OWNER: &str = "owner";

/// One created group waiting to be handed to its owner.
#[derive(Debug)]
pub struct Handover {
    /// The group.
    pub target: Target,
    /// The owner as the roster names them.
    pub owner: String,
    /// The owner's roster row in this group, held back from the results until the handover
    /// settles it.
    pub row: Option<ResultRow>,
}

/// The created groups of a run that are to be handed over, by group id (by title for groups a
/// dry run would create, which have no id). Behind a lock only because the engine writes rows
/// through a shared reference; it is the engine's alone.
#[derive(Debug, Default)]
pub struct Handovers(Mutex<HashMap<String, Handover>>);

impl Handovers {
    /// Register `target` if this run created it (or would) and the roster names an owner who
    /// is not the caller.
    pub fn register(&self, ctx: &RunContext, target: &Target, owner: Option<String>) {
        let created = matches!(
            target.status,
            GroupStatus::Created | GroupStatus::WouldCreate
        );
        let Some(owner) = owner.filter(|o| created && UserKey::new(o) != ctx.caller.key) else {
            return;
        };
        self.lock().entry(group_key(target)).or_insert(Handover {
            target: target.clone(),
            owner,
            row: None,
        });
    }

    /// Hold back the owner's first roster row of a group to be handed over; every other row is
    /// given back to be written now.
    pub fn hold(&self, row: ResultRow) -> Option<ResultRow> {
        if row.line.is_none() || row.status == Status::Duplicate {
            return Some(row);
        }
        let mut handovers = self.lock();
        let key = row
            .group_id
            .clone()
            .filter(|id| !id.is_empty())
            .unwrap_or_else(|| title_key(&row.group));
        match handovers.get_mut(&key) {
            Some(h) if h.row.is_none() && names_owner(&row, &h.owner) => {
                h.row = Some(row);
                None
            }
            _ => Some(row),
        }
    }

    /// Every pending handover, taken out (so no later row is held for it).
    pub fn take_all(&self) -> Vec<Handover> {
        self.lock().drain().map(|(_, h)| h).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Handover>> {
        self.0.lock().expect("handovers lock")
    }
}

fn group_key(target: &Target) -> String {
    if target.id.is_empty() {
        title_key(&target.title)
    } else {
        target.id.clone()
    }
}

fn title_key(title: &str) -> String {
    format!("title:{}", crate::roster::TitleKey::new(title).as_str())
}

fn names_owner(row: &ResultRow, owner: &str) -> bool {
    let owner = UserKey::new(owner);
    UserKey::new(&row.username) == owner
        || row
            .portal_username
            .as_deref()
            .is_some_and(|p| UserKey::new(p) == owner)
}

/// Hand one group to its owner; returns the owner's row (held or implicit), settled.
pub async fn hand_over(ctx: &RunContext, handover: Handover) -> Result<Vec<ResultRow>, Fatal> {
    let Handover { target, owner, row } = handover;
    if target.status == GroupStatus::WouldCreate {
        tracing::info!(group = %target.title, owner = %owner, "dry run: the group would be handed to its owner");
        let mut row = row.unwrap_or_else(|| would_add_owner(&target, &owner));
        row.reason = format!("{OWNER}: the group would be handed to this user");
        return Ok(vec![row]);
    }
    let mut row = match row {
        Some(row) => row,
        None => add_owner(ctx, &target, &owner).await?,
    };
    if !matches!(row.status, Status::Added | Status::AlreadyMember) {
        append(
            &mut row,
            "the group was not handed to this user, who is not a member of it",
        );
        return Ok(vec![row]);
    }
    let name = row.portal_username.clone().unwrap_or_else(|| owner.clone());
    match ctx.client.reassign_group(&target.id, &name).await {
        Ok(()) => {
            tracing::info!(group = %target.title, owner = %name, "group handed to its owner");
            row.reason = OWNER.to_owned();
            leave_handed_over_group(ctx, &target).await?;
        }
        Err(e) => {
            if let Some(fatal) = Fatal::from_portal(&e) {
                return Err(fatal);
            }
            tracing::warn!(group = %target.title, owner = %name, error = %e, "group not handed to its owner");
            row.status = Status::Failed;
            row.reason = format!(
                "the group was created and its members added, but it could not be handed to its owner: {e}"
            );
        }
    }
    Ok(vec![row])
}

/// In a dry run, the row of an owner the roster does not list in the group: would be added as
/// a manager.
fn would_add_owner(target: &Target, owner: &str) -> ResultRow {
    ResultRow {
        line: None,
        group: target.title.clone(),
        group_id: (!target.id.is_empty()).then(|| target.id.clone()),
        group_status: Some(target.status),
        username: owner.to_owned(),
        role: Some(Role::Admin),
        status: Status::WouldAdd,
        reason: String::new(),
        portal_username: None,
    }
}

/// Add the owner as a manager, the way every roster row is added (refusals explained, the
/// portal's spelling tried); the row it yields has no line.
async fn add_owner(ctx: &RunContext, target: &Target, owner: &str) -> Result<ResultRow, Fatal> {
    let pending = Pending {
        // No roster line: line numbers start at 1 (the header), so 0 names none.
        line: 0,
        username: owner.to_owned(),
        role: Role::Admin,
        duplicate: None,
        named_as: None,
    };
    let mut rows = add_chunk(ctx, target, Role::Admin, std::slice::from_ref(&pending)).await?;
    let mut row = rows.pop().expect("one row per row sent");
    row.line = None;
    Ok(row)
}

fn append(row: &mut ResultRow, text: &str) {
    if row.reason.is_empty() {
        row.reason = text.to_owned();
    } else {
        row.reason = format!("{}; {text}", row.reason);
    }
}

/// After a handover the caller may or may not still be in the group (whether the old owner
/// stays a manager is undocumented). The point of handing a group over is that it stops
/// counting toward the caller's 512-group limit, so a caller still in it leaves it (an org
/// administrator can still add members to any group of the organization on the next run). The
/// slot is given back once the caller is known to be out; not knowing only costs the slot for
/// the rest of this run, and a failure to leave is a warning, not the group's failure: the group
/// did reach its owner.
async fn leave_handed_over_group(ctx: &RunContext, target: &Target) -> Result<(), Fatal> {
    let still_in = match ctx.client.group_members(&target.id).await {
        Ok(members) => Members::from_portal(&members)
            .role_of(&ctx.caller.username)
            .is_some(),
        Err(e) if e.is_stopped() => return Ok(()),
        Err(e) => return Fatal::from_portal(&e).map_or(Ok(()), Err),
    };
    if still_in {
        let me = std::slice::from_ref(&ctx.caller.username);
        match ctx.client.remove_users(&target.id, me).await {
            Ok(not_removed) if not_removed.is_empty() => {
                tracing::info!(group = %target.title, "left the group handed over, so it no longer counts toward this account's group limit");
            }
            Ok(_) => {
                tracing::warn!(group = %target.title, "the portal kept this account in the group it handed over; it still counts toward this account's group limit");
                return Ok(());
            }
            Err(e) if e.is_stopped() => return Ok(()),
            Err(e) => {
                if let Some(fatal) = Fatal::from_portal(&e) {
                    return Err(fatal);
                }
                tracing::warn!(group = %target.title, error = %e, "could not leave the group handed over; it still counts toward this account's group limit");
                return Ok(());
            }
        }
    }
    ctx.release_group_slot();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PlanOptions;
    use crate::import::context::Caller;
    use crate::import::context::test_support::admin_client;
    use crate::import::resolve::{ResolveError, resolve};
    use crate::roster::{Definitions, GroupRef, MatchBy};
    use crate::sim::{RunningSim, SimConfig, SimUser};

    /// The admin's context, allowed one more group than it has (none).
    async fn one_slot(sim: &RunningSim) -> RunContext {
        let client = admin_client(sim).await;
        let caller = Caller {
            key: UserKey::new("admin"),
            username: "admin".into(),
            org_id: crate::sim::HOME_ORG_ID.into(),
            is_admin: true,
        };
        let plan = PlanOptions {
            group_limit: 1,
            ..PlanOptions::default()
        };
        RunContext::new(
            client,
            caller,
            plan,
            MatchBy::default(),
            Definitions::logged(),
            None,
            Vec::new(),
        )
    }

    /// Create `title` and hand it to `teacher`; then whether one more group can be created.
    async fn second_group_after_a_handover(drops_owner: bool) -> Result<(), ResolveError> {
        let sim = RunningSim::start(SimConfig {
            users: vec![SimUser::new("teacher")],
            reassign_drops_owner: drops_owner,
            ..SimConfig::default()
        })
        .await
        .unwrap();
        let ctx = one_slot(&sim).await;
        let first = resolve(&ctx, &GroupRef::Title("First".into())).await?;
        let target = Target {
            id: first.id,
            title: first.title,
            status: first.status,
        };
        let rows = hand_over(
            &ctx,
            Handover {
                target,
                owner: "teacher".into(),
                row: None,
            },
        )
        .await
        .unwrap();
        assert_eq!(rows[0].reason, OWNER, "{rows:?}");
        let state = sim.state();
        let first = state.group("First").unwrap();
        assert_eq!(first.owner, "teacher");
        assert!(
            !first
                .admins
                .iter()
                .chain(&first.users)
                .any(|u| u == "admin"),
            "the caller left the group it handed over: {first:?}"
        );
        resolve(&ctx, &GroupRef::Title("Second".into()))
            .await
            .map(|_| ())
    }

    #[tokio::test]
    async fn a_group_handed_over_gives_the_callers_slot_back_whatever_the_portal_does_with_the_old_owner()
     {
        second_group_after_a_handover(true)
            .await
            .expect("the portal dropped the caller: its slot is free again");
        second_group_after_a_handover(false)
            .await
            .expect("the portal kept the caller as a manager: it left, its slot is free again");
    }
}
