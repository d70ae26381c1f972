//! Group invitations: `community/groups/{id}/invite` creates them, the invitee lists them at
//! `community/users/{u}/invitations` (and `…/{invitationId}`) and answers with `…/accept` or
//! `…/decline` (REST "User Invitations"; shapes from arcgis-rest-js's `IInvitation`).
//! Invitations reach users of other orgs too — that is what `--invite-external` relies on.

use serde_json::{Value, json};

use super::{ApiError, Group, Params, Portal, User, now_ms};
use rand::Rng;

/// Lifetime of an invitation when `expiration` (minutes) is not given: one week, what the
/// Python client sends.
const DEFAULT_EXPIRATION_MIN: i64 = 10_080;

/// A pending invitation to one group.
#[derive(Debug, Clone)]
pub(super) struct Invitation {
    /// `G` + 32 hex digits, like the real ids.
    pub id: String,
    /// `group_member` or `group_admin`.
    pub role: String,
    /// Who invited.
    pub from: String,
    pub created_ms: i64,
    pub expires_ms: i64,
}

impl Invitation {
    fn pending(&self) -> bool {
        self.expires_ms > now_ms()
    }
}

fn answer(username: &str, group_id: &str, invitation_id: &str) -> Value {
    json!({"success": true, "username": username, "groupId": group_id, "id": invitation_id})
}

impl Portal {
    /// `…/invite`: owner, managers and the org admin. Every named account not yet in the
    /// group gets an invitation (another org's included); names that are already members or
    /// already invited, and unknown names, change nothing — the reply is `success` anyway, as
    /// documented.
    pub fn invite(
        &mut self,
        caller: Option<&str>,
        id: &str,
        p: &Params,
    ) -> Result<Value, ApiError> {
        let (id, me) = self.managed_group(caller, id)?;
        let from = me.username.clone();
        let role = match p.non_empty("role") {
            Some(r @ ("group_member" | "group_admin")) => r.to_owned(),
            None => "group_member".to_owned(),
            Some(other) => {
                return Err(ApiError::bad_request(
                    "Unable to invite users to group.",
                    format!("'role' must be group_member or group_admin (got '{other}')."),
                ));
            }
        };
        let minutes = p
            .non_empty("expiration")
            .and_then(|m| m.parse::<i64>().ok())
            .unwrap_or(DEFAULT_EXPIRATION_MIN);
        let names: Vec<String> = p
            .list("users")
            .iter()
            .filter_map(|n| self.user(n).map(|u| u.username.clone()))
            .collect();
        for name in names {
            let g = &self.groups[&id];
            if g.contains(&name) || g.invited.get(&name).is_some_and(Invitation::pending) {
                continue;
            }
            let invitation_id = format!("G{:032x}", self.rng.random::<u128>());
            let now = now_ms();
            let g = self.groups.get_mut(&id).expect("group checked above");
            g.invited.insert(
                name,
                Invitation {
                    id: invitation_id,
                    role: role.clone(),
                    from: from.clone(),
                    created_ms: now,
                    expires_ms: now + minutes.max(1) * 60_000,
                },
            );
        }
        Ok(json!({"success": true, "groupId": id}))
    }

    /// The invitee `username` as the caller may act for them: the user themselves, or (to
    /// read only) an administrator of their org.
    fn invitee(&self, caller: Option<&str>, username: &str, read: bool) -> Result<&User, ApiError> {
        let me = self.signed_in(caller)?;
        let u = self.user(username).ok_or_else(ApiError::user_not_found)?;
        if me.username == u.username || (read && me.is_admin_of(&u.org_id)) {
            Ok(u)
        } else {
            Err(ApiError::forbidden())
        }
    }

    /// Pending invitations of `username`, oldest first.
    fn invitations_of(&self, username: &str) -> Vec<(&Group, &Invitation)> {
        let mut list: Vec<(&Group, &Invitation)> = self
            .groups
            .values()
            .filter_map(|g| Some((g, g.invited.get(username)?)))
            .filter(|(_, i)| i.pending())
            .collect();
        list.sort_by_key(|(g, i)| (i.created_ms, g.seq));
        list
    }

    fn invitation_json(&self, username: &str, g: &Group, i: &Invitation) -> Value {
        json!({
            "id": i.id,
            "targetType": "group",
            "targetId": g.id,
            "received": i.created_ms,
            "accepted": false,
            "mustApprove": false,
            "email": null,
            "role": i.role,
            "type": "user",
            "dateAccepted": -1,
            "expiration": i.expires_ms,
            "created": i.created_ms,
            "username": username,
            "fromUsername": {"username": i.from},
            "groupId": g.id,
        })
    }

    /// `community/users/{u}/invitations` (`{"userInvitations": […]}`), or with an id the one
    /// invitation, with its `group`.
    pub fn user_invitations(
        &self,
        caller: Option<&str>,
        username: &str,
        invitation_id: Option<&str>,
    ) -> Result<Value, ApiError> {
        let u = self.invitee(caller, username, true)?;
        let list = self.invitations_of(&u.username);
        match invitation_id {
            None => Ok(json!({"userInvitations": list
                .iter()
                .map(|(g, i)| self.invitation_json(&u.username, g, i))
                .collect::<Vec<_>>()})),
            Some(wanted) => {
                let (g, i) = list
                    .iter()
                    .find(|(_, i)| i.id.eq_ignore_ascii_case(wanted))
                    .ok_or_else(invitation_not_found)?;
                let mut v = self.invitation_json(&u.username, g, i);
                v["group"] = self.group_json(g, None);
                Ok(v)
            }
        }
    }

    /// `…/invitations/{id}/accept` (the invitee joins in the invited role, if below the group
    /// limit) or `…/decline` (`accept` false): the invitee only.
    pub fn answer_invitation(
        &mut self,
        caller: Option<&str>,
        username: &str,
        invitation_id: &str,
        accept: bool,
    ) -> Result<Value, ApiError> {
        let u = self.invitee(caller, username, false)?;
        let (name, at_limit) = (
            u.username.clone(),
            u.memberships() >= u64::from(self.group_limit),
        );
        let (group_id, as_admin) = self
            .invitations_of(&name)
            .iter()
            .find(|(_, i)| i.id.eq_ignore_ascii_case(invitation_id))
            .map(|(g, i)| (g.id.clone(), i.role == "group_admin"))
            .ok_or_else(invitation_not_found)?;
        if accept && at_limit {
            return Err(ApiError::bad_request(
                "Unable to accept invitation.",
                format!(
                    "User '{name}' has reached the maximum number of groups ({}).",
                    self.group_limit
                ),
            ));
        }
        let g = self.groups.get_mut(&group_id).expect("group found above");
        let invitation = g.invited.remove(&name).expect("invitation found above");
        if accept {
            self.join(&group_id, &name, as_admin);
        }
        Ok(answer(&name, &group_id, &invitation.id))
    }
}

/// An invitation id the invitee does not have (or that expired).
fn invitation_not_found() -> ApiError {
    ApiError::bad_request(
        "Invitation does not exist or is inaccessible.",
        "The invitation may have expired, or been accepted or declined.",
    )
}
