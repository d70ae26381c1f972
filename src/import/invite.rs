//! `--invite-external` (product spec §10): users of another organization cannot be added to a
//! group directly, so they are invited instead (`community/groups/{id}/invite`, the roster's
//! role, the portal's default expiration). The row is `invited` until they accept; once they
//! have, the next run finds them in the group (`already_member`).
//!
//! A re-run must not invite twice while an invitation is pending. No documented endpoint lists
//! a group's pending invitations; the client reads `community/groups/{id}/invitations` where a
//! portal serves it and then also confirms that an invitation it sent exists. Where the listing
//! is refused or unknown it invites again, relying on the documented behaviour that inviting an
//! already-invited user still succeeds and changes nothing (reference §2.15).

use std::collections::HashSet;

use crate::import::Target;
use crate::import::context::RunContext;
use crate::import::{Fatal, Pending};
use crate::outcome::{ResultRow, Status};
use crate::portal;
use crate::roster::{Role, UserKey};

/// The reason on a row whose user was just invited.
pub const SENT: &str = "invitation sent; the user must accept it";
/// The reason on a row whose user already has a pending invitation.
pub const PENDING: &str = "invitation pending; the user must accept it";

/// A row whose user belongs to another organization (or is not visible), to be invited.
pub struct External {
    /// The roster row.
    pub row: Pending,
    /// The portal's spelling of the user, when the portal showed it.
    pub portal_username: Option<String>,
    /// What the row says if no invitation can be sent.
    pub not_added: String,
}

impl External {
    fn name(&self) -> &str {
        self.portal_username
            .as_deref()
            .unwrap_or(&self.row.username)
    }

    fn result(&self, target: &Target, status: Status, reason: impl Into<String>) -> ResultRow {
        let mut row = target.row(&self.row, status, reason);
        row.portal_username = self.portal_username.clone();
        row
    }
}

/// Invite the users of `externals` (all of `role`, at most one chunk) who have no pending
/// invitation; one results row each.
pub async fn invite(
    ctx: &RunContext,
    target: &Target,
    role: Role,
    externals: Vec<External>,
) -> Result<Vec<ResultRow>, Fatal> {
    let pending = pending_invitations(ctx, target).await?;
    let (waiting, to_invite): (Vec<External>, Vec<External>) = externals
        .into_iter()
        .partition(|e| pending.as_ref().is_some_and(|p| p.contains(&key(e.name()))));
    let mut out: Vec<ResultRow> = waiting
        .iter()
        .map(|e| e.result(target, Status::Invited, PENDING))
        .collect();
    if to_invite.is_empty() {
        return Ok(out);
    }
    if ctx.plan.dry_run {
        out.extend(
            to_invite
                .iter()
                .map(|e| e.result(target, Status::WouldInvite, "")),
        );
        return Ok(out);
    }
    let names: Vec<String> = to_invite.iter().map(|e| e.name().to_owned()).collect();
    if let Err(e) = ctx
        .client
        .invite(&target.id, portal_role(role), &names)
        .await
    {
        if let Some(fatal) = Fatal::from_portal(&e) {
            return Err(fatal);
        }
        let reason = |x: &External| format!("{}; the invitation failed: {e}", x.not_added);
        out.extend(
            to_invite
                .iter()
                .map(|x| x.result(target, Status::NotAdded, reason(x))),
        );
        return Ok(out);
    }
    // Where the listing exists, an invitation it does not show was not made (the portal
    // answers success for names it ignores, an unknown user's among them).
    let confirmed = match pending {
        Some(_) => pending_invitations(ctx, target).await?,
        None => None,
    };
    out.extend(to_invite.iter().map(|x| match &confirmed {
        Some(listed) if !listed.contains(&key(x.name())) => x.result(
            target,
            Status::NotAdded,
            format!("{}; the portal made no invitation", x.not_added),
        ),
        _ => x.result(target, Status::Invited, SENT),
    }));
    Ok(out)
}

/// The group's pending invitees, or `None` when the portal does not say (no listing, or a
/// group a dry run would create).
async fn pending_invitations(
    ctx: &RunContext,
    target: &Target,
) -> Result<Option<HashSet<UserKey>>, Fatal> {
    if target.id.is_empty() {
        return Ok(None);
    }
    match ctx.client.group_invitations(&target.id).await {
        Ok(names) => Ok(Some(names.iter().map(|n| key(n)).collect())),
        Err(e) if e.is_stopped() => Err(Fatal::Stopping),
        Err(e) => match Fatal::from_portal(&e) {
            Some(fatal) => Err(fatal),
            None => {
                tracing::debug!(group = %target.title, error = %e, "the portal does not list the group's pending invitations");
                Ok(None)
            }
        },
    }
}

fn key(name: &str) -> UserKey {
    UserKey::new(name)
}

fn portal_role(role: Role) -> portal::Role {
    match role {
        Role::Member => portal::Role::Member,
        Role::Admin => portal::Role::Admin,
    }
}
