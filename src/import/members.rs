//! Adding one chunk of users to a group, and explaining every user the portal did not add.
//!
//! The portal answers addUsers with a bare `notAdded` list — or, stricter portals, with an
//! error for the whole call because of one name in it. Such a call is split in halves and
//! each half sent again, recursively, until the names it fails over are isolated: the other
//! rows still end `added`, at O(bad × log 25) extra calls.
//!
//! Every refused name is then explained with follow-up reads: the group's members again (a
//! user now present is `already_member`), then the user — looked up, and when the profile
//! hides its organization, searched in the organization's directory. A user of this
//! organization whom the roster spelled differently from the portal is sent once more in the
//! portal's spelling before it is reported. A lost response is settled the same way as a
//! refusal — by re-reading the members, never by guessing.
//!
//! With `--invite-external`, a refused user of another organization (or one the portal does not
//! show) is invited instead of reported (`invite`); a dry run with it looks every user up to
//! tell `would_add` from `would_invite`.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;

use futures::{StreamExt, TryStreamExt};

use crate::import::context::RunContext;
use crate::import::invite;
use crate::import::{Fatal, INTERRUPTED, Members, Pending, Target};
use crate::outcome::{ResultRow, Status};
use crate::portal::client::MAX_PAGE_SIZE;
use crate::portal::{self, PortalError};
use crate::roster::{Role, UserKey};

/// Send `rows` (all of one role) to the group and return one results row per input row.
pub async fn add_chunk(
    ctx: &RunContext,
    target: &Target,
    role: Role,
    rows: &[Pending],
) -> Result<Vec<ResultRow>, Fatal> {
    // Only a dry run with `--invite-external` sends rows here (to tell would_add from
    // would_invite).
    if ctx.plan.dry_run {
        return plan_chunk(ctx, target, role, rows).await;
    }
    let mut out = Vec::with_capacity(rows.len());
    let mut refused = Vec::new();
    for sent in send(ctx, target, role, rows.to_vec()).await? {
        match sent {
            Sent::Added(row) => out.push(target.row(&row, Status::Added, "")),
            Sent::Refused { row, message } => refused.push(Refusal { row, message }),
            Sent::Done(result) => out.push(result),
        }
    }
    if !refused.is_empty() {
        out.extend(explain(ctx, target, role, refused).await?);
    }
    Ok(out)
}

/// A dry run with `--invite-external`: each user looked up, so users of another organization
/// are `would_invite` (or `invited`, pending) and the rest `would_add`. No write.
async fn plan_chunk(
    ctx: &RunContext,
    target: &Target,
    role: Role,
    rows: &[Pending],
) -> Result<Vec<ResultRow>, Fatal> {
    let identified: Vec<(Pending, Identity)> = futures::stream::iter(rows.to_vec())
        .map(|row| async move {
            let identity = identify(ctx, &row.username).await?;
            Ok::<_, Fatal>((row, identity))
        })
        .buffered(LOOKUPS_PER_CHUNK)
        .try_collect()
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    let mut external = Vec::new();
    for (row, identity) in identified {
        if identity.is_external() {
            external.push(identity.invitee(row, ctx.caller.is_admin));
        } else {
            let mut result = target.row(&row, Status::WouldAdd, "");
            result.portal_username = identity.portal_username().map(str::to_owned);
            out.push(result);
        }
    }
    out.extend(invite::invite(ctx, target, role, external).await?);
    Ok(out)
}

/// What one addUsers exchange did with one row.
enum Sent {
    Added(Pending),
    /// In `notAdded`, or isolated as a name the whole call failed over (with the portal's
    /// message).
    Refused {
        row: Pending,
        message: Option<String>,
    },
    /// Settled otherwise: a lost response read back, a failure that is not about names.
    Done(ResultRow),
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One addUsers call for `rows`. A call the portal fails as a whole over the names in it is
/// split in halves, each sent on its own, recursively (boxed: the future contains itself).
/// The addUsers list a roster role goes in.
fn portal_role(role: Role) -> portal::Role {
    match role {
        Role::Member => portal::Role::Member,
        Role::Admin => portal::Role::Admin,
    }
}

fn send<'a>(
    ctx: &'a RunContext,
    target: &'a Target,
    role: Role,
    mut rows: Vec<Pending>,
) -> BoxFuture<'a, Result<Vec<Sent>, Fatal>> {
    Box::pin(async move {
        let names: Vec<String> = rows.iter().map(|r| r.username.clone()).collect();
        let error = match ctx
            .client
            .add_users(&target.id, portal_role(role), &names)
            .await
        {
            Ok(not_added) => {
                let refused: HashSet<UserKey> = not_added.iter().map(|u| UserKey::new(u)).collect();
                return Ok(rows
                    .into_iter()
                    .map(|row| {
                        if refused.contains(&UserKey::new(&row.username)) {
                            Sent::Refused { row, message: None }
                        } else {
                            Sent::Added(row)
                        }
                    })
                    .collect());
            }
            Err(e) => e,
        };
        let done = |status, reason: &str| {
            rows.iter()
                .map(|r| Sent::Done(target.row(r, status, reason)))
                .collect()
        };
        if error.is_stopped() {
            return Ok(done(Status::NotAttempted, INTERRUPTED));
        }
        if let Some(fatal) = Fatal::from_portal(&error) {
            return Err(fatal);
        }
        if error.is_ambiguous() {
            let settled = settle_lost_response(ctx, target, &rows, &error.to_string()).await?;
            return Ok(settled.into_iter().map(Sent::Done).collect());
        }
        if error.is_permission() {
            return Ok(done(
                Status::Failed,
                &format!("permission denied adding to this group: {error}"),
            ));
        }
        if !fails_over_names(&error) {
            return Ok(done(Status::Failed, &format!("portal error: {error}")));
        }
        if rows.len() == 1 {
            let row = rows.pop().expect("one row");
            let message = Some(error.to_string());
            return Ok(vec![Sent::Refused { row, message }]);
        }
        tracing::debug!(
            group = %target.title,
            names = rows.len(),
            error = %error,
            "addUsers failed as a whole; splitting the chunk to isolate the names it fails over"
        );
        let second = rows.split_off(rows.len() / 2);
        let (a, b) = tokio::try_join!(
            send(ctx, target, role, rows),
            send(ctx, target, role, second)
        )?;
        Ok(a.into_iter().chain(b).collect())
    })
}

/// The portal's own error reply to the whole call (not a transport or gateway failure; token,
/// throttling and permission errors are dealt with before): a stricter portal's way of
/// refusing one of the names in it.
fn fails_over_names(error: &PortalError) -> bool {
    matches!(error, PortalError::Api(_))
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

/// A row the portal did not add, with the portal's message when a whole call failed over it.
struct Refusal {
    row: Pending,
    message: Option<String>,
}

/// Who a refused user is, as far as the portal shows the caller. The usernames are the
/// portal's spelling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Identity {
    /// A member of the caller's organization.
    InOrg(String),
    /// The portal shows the user in another organization.
    OtherOrg(String),
    /// Not found, or not visible to the caller (other organizations' profiles usually are not).
    Unseen,
    /// Could not be told, and why (the user may have been seen).
    Undetermined {
        why: String,
        username: Option<String>,
    },
}

impl Identity {
    /// The portal's spelling of the user, when the portal showed the user at all.
    fn portal_username(&self) -> Option<&str> {
        match self {
            Identity::InOrg(name) | Identity::OtherOrg(name) => Some(name),
            Identity::Undetermined { username, .. } => username.as_deref(),
            Identity::Unseen => None,
        }
    }

    /// The portal's spelling, for a user of this organization whom `roster` spells otherwise.
    fn respelling(&self, roster: &str) -> Option<&str> {
        match self {
            Identity::InOrg(name) if name != roster => Some(name),
            _ => None,
        }
    }

    /// Whether the user is, or may be, of another organization: someone `--invite-external`
    /// invites.
    fn is_external(&self) -> bool {
        matches!(self, Identity::OtherOrg(_) | Identity::Unseen)
    }

    /// `row`'s user, to be invited.
    fn invitee(&self, row: Pending, caller_is_admin: bool) -> invite::External {
        invite::External {
            not_added: self.reason(caller_is_admin),
            portal_username: self.portal_username().map(str::to_owned),
            row,
        }
    }

    /// The `not_added` reason (product spec §3).
    pub(crate) fn reason(&self, caller_is_admin: bool) -> String {
        match self {
            Identity::InOrg(_) => "portal did not add the user; the user exists in this organization — may be at the \
                 512-group limit, or its role cannot join this (shared update) group"
                .to_owned(),
            Identity::OtherOrg(_) => "user is in another organization".to_owned(),
            // An administrator sees every user of the organization: unseen means missing here,
            // or in an organization whose profiles the caller cannot see.
            Identity::Unseen if caller_is_admin => {
                "user does not exist in this portal or belongs to another organization".to_owned()
            }
            Identity::Unseen => "user does not exist in this portal or belongs to another organization and is not visible".to_owned(),
            Identity::Undetermined { why, .. } => format!("portal did not add the user; {why}"),
        }
    }
}

/// Give every refused row a result: `already_member` if it is in the group now, `added` if a
/// retry in the portal's spelling took it, else `not_added` with a reason.
async fn explain(
    ctx: &RunContext,
    target: &Target,
    role: Role,
    refused: Vec<Refusal>,
) -> Result<Vec<ResultRow>, Fatal> {
    let members = read_members(ctx, target).await?;
    let mut out = Vec::new();
    let mut unexplained = Vec::new();
    for refusal in refused {
        match members
            .as_ref()
            .and_then(|m| m.role_of(&refusal.row.username))
        {
            Some(standing) => out.push(target.row(
                &refusal.row,
                Status::AlreadyMember,
                standing.differs_reason(refusal.row.role),
            )),
            None => unexplained.push(refusal),
        }
    }
    let identified: Vec<(Refusal, Identity)> = futures::stream::iter(unexplained)
        .map(|refusal| async move {
            let identity = identify(ctx, &refusal.row.username).await?;
            Ok::<_, Fatal>((refusal, identity))
        })
        .buffered(LOOKUPS_PER_CHUNK)
        .try_collect()
        .await?;

    let mut respelled = Vec::new();
    let mut settled = Vec::new();
    for (refusal, identity) in identified {
        match identity.respelling(&refusal.row.username) {
            Some(spelling) => respelled.push(Respelled {
                sent: Pending {
                    username: spelling.to_owned(),
                    ..refusal.row.clone()
                },
                refusal,
                identity,
            }),
            None => settled.push((refusal, identity)),
        }
    }
    if !respelled.is_empty() {
        let (results, refused_again) = send_respelled(ctx, target, role, respelled).await?;
        out.extend(results);
        settled.extend(refused_again);
    }
    if ctx.plan.invite_external {
        let (external, other): (Vec<_>, Vec<_>) =
            settled.into_iter().partition(|(_, id)| id.is_external());
        settled = other;
        let external = external
            .into_iter()
            .map(|(refusal, identity)| identity.invitee(refusal.row, ctx.caller.is_admin))
            .collect();
        out.extend(invite::invite(ctx, target, role, external).await?);
    }
    out.extend(settled.into_iter().map(|(refusal, identity)| {
        let mut reason = identity.reason(ctx.caller.is_admin);
        if let Some(message) = refusal.message {
            reason.push_str("; the portal said: ");
            reason.push_str(&message);
        }
        // Without the portal's spelling the row names someone this run could not identify,
        // and `--sync` leaves its group alone.
        let mut result = target.row(&refusal.row, Status::NotAdded, reason);
        result.portal_username = identity.portal_username().map(str::to_owned);
        result
    }));
    Ok(out)
}

/// A refused row whose user the portal spells differently from the roster.
struct Respelled {
    /// The row as sent again: in the portal's spelling.
    sent: Pending,
    refusal: Refusal,
    identity: Identity,
}

/// Users of this organization whom the roster spelled differently: sent once more, as the
/// portal spells them (one call for the chunk's names). Returns the rows settled by it, and
/// the refusals left for diagnosis.
async fn send_respelled(
    ctx: &RunContext,
    target: &Target,
    role: Role,
    respelled: Vec<Respelled>,
) -> Result<(Vec<ResultRow>, Vec<(Refusal, Identity)>), Fatal> {
    let retry: Vec<Pending> = respelled.iter().map(|r| r.sent.clone()).collect();
    let mut by_line: HashMap<u64, Respelled> =
        respelled.into_iter().map(|r| (r.sent.line, r)).collect();
    let mut results = Vec::new();
    let mut refused = Vec::new();
    for sent in send(ctx, target, role, retry).await? {
        let line = match &sent {
            Sent::Added(row) | Sent::Refused { row, .. } => row.line,
            Sent::Done(result) => result.line.expect("a roster row"),
        };
        let Respelled {
            refusal, identity, ..
        } = by_line.remove(&line).expect("each row is sent once");
        match sent {
            Sent::Added(row) => {
                let mut result = target.row(&refusal.row, Status::Added, "");
                result.portal_username = Some(row.username);
                results.push(result);
            }
            Sent::Refused { message, .. } => refused.push((
                Refusal {
                    message: message.or(refusal.message),
                    ..refusal
                },
                identity,
            )),
            // The results show the roster's spelling, and the portal's beside it.
            Sent::Done(mut result) => {
                result.portal_username = Some(result.username);
                result.username = refusal.row.username;
                results.push(result);
            }
        }
    }
    Ok((results, refused))
}

/// Look the user up; a visible profile without `orgId` (the public view of another
/// organization's user) is checked against the caller's organization directory.
pub(crate) async fn identify(ctx: &RunContext, username: &str) -> Result<Identity, Fatal> {
    let user = match ctx.client.user(username).await {
        Ok(Some(user)) => user,
        Ok(None) => return Ok(Identity::Unseen),
        Err(e) => return lookup_failed(&e),
    };
    match user.org_id.as_deref() {
        Some(org) if org == ctx.caller.org_id => Ok(Identity::InOrg(user.username)),
        Some(_) => Ok(Identity::OtherOrg(user.username)),
        None => in_directory(ctx, user.username).await,
    }
}

/// Whether the organization's directory lists `username` (needs the org-admin "view users"
/// privilege; without it the organization stays undetermined).
async fn in_directory(ctx: &RunContext, username: String) -> Result<Identity, Fatal> {
    let query = format!("username:\"{}\"", username.replace('"', " "));
    match ctx.client.search_org_users(&query, 1, MAX_PAGE_SIZE).await {
        Ok(page) => {
            let key = UserKey::new(&username);
            Ok(page
                .users
                .into_iter()
                .find(|u| UserKey::new(&u.username) == key)
                .map_or(Identity::OtherOrg(username), |u| Identity::InOrg(u.username)))
        }
        Err(e) if e.is_permission() => Ok(Identity::Undetermined {
            why: "its profile does not show its organization, and this account cannot read the organization's directory"
                .to_owned(),
            username: Some(username),
        }),
        Err(e) => lookup_failed(&e),
    }
}

fn lookup_failed(error: &PortalError) -> Result<Identity, Fatal> {
    let why = if error.is_stopped() {
        "not looked up: the run was interrupted".to_owned()
    } else if let Some(fatal) = Fatal::from_portal(error) {
        return Err(fatal);
    } else {
        format!("looking the user up failed: {error}")
    };
    Ok(Identity::Undetermined {
        why,
        username: None,
    })
}
