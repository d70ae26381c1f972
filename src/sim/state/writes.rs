//! Mutations, each with its rules: createGroup (title uniqueness, the group limit), update,
//! delete, addUsers/removeUsers (the 25-name cap, `--exact-case`, `--strict-chunks`), invite
//! and the invitee's answer, reassign (`--reassign-drops-owner`). Membership and the title
//! index change only through [`super::model`]'s functions, which keep their invariants.

use std::time::Instant;

use rand::Rng;
use serde_json::{Value, json};

use super::access::InvitationAction;
use super::model::{
    EmptyFields, GroupRole, Invitation, MAX_NAMES_PER_CALL, Portal, User, apply_properties,
    check_access, now_ms, title_key,
};
use super::views::{group_json, invitation_answer, success};
use crate::sim::wire::{ApiError, Params};

/// Lifetime of an invitation when `expiration` (minutes) is not given: one week, what the
/// Python client sends.
const DEFAULT_EXPIRATION_MIN: i64 = 10_080;

/// How the invitee answers an invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// `…/accept`: join in the invited role.
    Accept,
    /// `…/decline`: the invitation is gone, nothing else changes.
    Decline,
}

/// The error of a group limit reached by `username`, when `verb`ing.
fn at_group_limit(verb: &str, username: &str, limit: u32) -> ApiError {
    ApiError::bad_request(
        format!("Unable to {verb}."),
        format!("User '{username}' has reached the maximum number of groups ({limit})."),
    )
}

/// The error of a refused reassign, with `detail` saying why.
fn reassign_refused(detail: impl Into<String>) -> ApiError {
    ApiError::bad_request("Unable to reassign group.", detail)
}

impl Portal {
    fn at_limit(&self, u: &User) -> bool {
        u.memberships() >= u64::from(self.group_limit)
    }

    /// `community/createGroup`: the caller becomes owner; titles are unique per owner
    /// (case-insensitive, trailing whitespace trimmed); the owner must be below the group limit.
    pub fn create_group(&mut self, caller: Option<&str>, p: &Params) -> Result<Value, ApiError> {
        let me = self.signed_in(caller)?;
        let title = p.get("title").unwrap_or("").trim_end();
        if title.trim().is_empty() {
            return Err(ApiError::bad_request(
                "Unable to create group.",
                "'title' must be specified.",
            ));
        }
        let access = check_access("create", p.get("access").unwrap_or("private"))?;
        if self.titles.contains_key(&title_key(&me.username, title)) {
            return Err(ApiError::duplicate_title("create", title));
        }
        if self.at_limit(me) {
            return Err(at_group_limit(
                "create group",
                &me.username,
                self.group_limit,
            ));
        }
        let (owner, org_id) = (me.username.clone(), me.org_id.clone());
        let id = self.new_group(&owner, &org_id, title, &access, p);
        let g = &self.groups[&id];
        Ok(json!({"success": true, "group": group_json(g, self.user(&owner))}))
    }

    /// `…/update`: owner, managers and the org admin; a title change keeps per-owner
    /// uniqueness and restarts the search lag.
    pub fn update_group(
        &mut self,
        caller: Option<&str>,
        id: &str,
        p: &Params,
    ) -> Result<Value, ApiError> {
        let (id, _) = self.managed_group(caller, id)?;
        let g = &self.groups[&id];
        let (owner, old_title) = (g.owner.clone(), g.title.clone());
        let new_title = p
            .get("title")
            .map(str::trim_end)
            .filter(|t| !t.trim().is_empty());
        if let Some(t) = new_title
            && let Some(other) = self.titles.get(&title_key(&owner, t))
            && *other != id
        {
            return Err(ApiError::duplicate_title("update", t));
        }
        let access = match p.non_empty("access") {
            Some(a) => Some(check_access("update", a)?),
            None => None,
        };
        let empty = if p.flag("clearEmptyFields").unwrap_or(false) {
            EmptyFields::Clear
        } else {
            EmptyFields::Ignore
        };
        let lag = self.search_lag;
        let g = self.groups.get_mut(&id).expect("group checked above");
        if let Some(t) = new_title {
            g.title = t.to_owned();
            self.titles.remove(&title_key(&owner, &old_title));
            self.titles.insert(title_key(&owner, t), id.clone());
        }
        if let Some(a) = access {
            g.access = a;
        }
        apply_properties(g, p, empty);
        g.modified_ms = now_ms();
        g.searchable_at = Instant::now() + lag;
        Ok(success(&id))
    }

    /// `…/delete`: the owner or the org admin (managers may not delete).
    pub fn delete_group(&mut self, caller: Option<&str>, id: &str) -> Result<Value, ApiError> {
        let me = self.signed_in(caller)?;
        let g = self.visible_group(id, Some(me))?;
        if !(g.owner == me.username || me.is_admin_of(&g.org_id)) {
            return Err(ApiError::forbidden());
        }
        let id = g.id.clone();
        self.remove_group(&id);
        Ok(success(&id))
    }

    /// The account `name` designates in addUsers/removeUsers: any spelling, or under
    /// `--exact-case` only the portal's own.
    fn member_named(&self, name: &str) -> Option<&User> {
        self.user(name)
            .filter(|u| !self.exact_case || u.username == name)
    }

    /// `…/addUsers`: `users` join as members, `admins` as managers (members are promoted).
    /// Unknown users, users of another org, users at the group limit and users already in
    /// the group (in that role) come back in `notAdded`; under `--strict-chunks` one unknown
    /// name fails the whole call instead, before anything is applied.
    pub fn add_users(
        &mut self,
        caller: Option<&str>,
        id: &str,
        p: &Params,
    ) -> Result<Value, ApiError> {
        let (users, admins) = (p.list("users"), p.list("admins"));
        let (id, _) = self.managed_group(caller, id)?;
        if users.len() + admins.len() > MAX_NAMES_PER_CALL {
            return Err(ApiError::too_many_users());
        }
        if self.strict_chunks
            && let Some(unknown) = users
                .iter()
                .chain(&admins)
                .find(|n| self.member_named(n).is_none())
        {
            return Err(ApiError::unknown_user_in_call(unknown));
        }
        let mut not_added: Vec<String> = Vec::new();
        for (name, role) in users
            .iter()
            .map(|n| (n, GroupRole::Member))
            .chain(admins.iter().map(|n| (n, GroupRole::Admin)))
        {
            let g = &self.groups[&id];
            let Some(u) = self.member_named(name) else {
                not_added.push(name.clone());
                continue;
            };
            let eligible = u.org_id == g.org_id
                && match (g.member_type(&u.username), role) {
                    ("none", _) => !self.at_limit(u),
                    ("member", GroupRole::Admin) => true, // promotion
                    _ => false, // already in the group in that role (or owner)
                };
            if eligible {
                let canonical = u.username.clone();
                self.join(&id, &canonical, role);
            } else {
                not_added.push(name.clone());
            }
        }
        Ok(json!({"notAdded": not_added}))
    }

    /// `…/removeUsers`: members and managers leave; the owner, unknown users and non-members
    /// come back in `notRemoved`.
    pub fn remove_users(
        &mut self,
        caller: Option<&str>,
        id: &str,
        p: &Params,
    ) -> Result<Value, ApiError> {
        let names = [p.list("users"), p.list("admins")].concat();
        let (id, _) = self.managed_group(caller, id)?;
        if names.len() > MAX_NAMES_PER_CALL {
            return Err(ApiError::too_many_users());
        }
        let mut not_removed: Vec<String> = Vec::new();
        for name in &names {
            let canonical = self.member_named(name).map(|u| u.username.clone());
            if !canonical.is_some_and(|c| self.leave(&id, &c)) {
                not_removed.push(name.clone());
            }
        }
        Ok(json!({"notRemoved": not_removed}))
    }

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
            None | Some("group_member") => GroupRole::Member,
            Some("group_admin") => GroupRole::Admin,
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
                    role,
                    from: from.clone(),
                    created_ms: now,
                    expires_ms: now + minutes.max(1) * 60_000,
                },
            );
        }
        Ok(success(&id))
    }

    /// `…/invitations/{id}/accept` (the invitee joins in the invited role, if below the group
    /// limit) or `…/decline`: the invitee only.
    pub fn answer_invitation(
        &mut self,
        caller: Option<&str>,
        username: &str,
        invitation_id: &str,
        answer: Answer,
    ) -> Result<Value, ApiError> {
        let u = self.invitee(caller, username, InvitationAction::Answer)?;
        let (name, at_limit) = (u.username.clone(), self.at_limit(u));
        let (group_id, role) = self
            .invitations_of(&name)
            .iter()
            .find(|(_, i)| i.id.eq_ignore_ascii_case(invitation_id))
            .map(|(g, i)| (g.id.clone(), i.role))
            .ok_or_else(ApiError::invitation_not_found)?;
        if answer == Answer::Accept && at_limit {
            return Err(at_group_limit("accept invitation", &name, self.group_limit));
        }
        let g = self.groups.get_mut(&group_id).expect("group found above");
        let invitation = g.invited.remove(&name).expect("invitation found above");
        if answer == Answer::Accept {
            self.join(&group_id, &name, role);
        }
        Ok(invitation_answer(&name, &group_id, &invitation.id))
    }

    /// `…/reassign` with `targetUsername`: org administrators only (403 otherwise); the target
    /// must be a user of the group's org, below the group limit unless already in the group,
    /// and own no group of the same title (titles are unique per owner). The new owner leaves
    /// any other role in the group; the old owner stays a manager, or, under
    /// `--reassign-drops-owner`, leaves the group — the real portal's choice is not
    /// documented, so both are testable.
    pub fn reassign(
        &mut self,
        caller: Option<&str>,
        id: &str,
        p: &Params,
    ) -> Result<Value, ApiError> {
        let me = self.signed_in(caller)?;
        let g = self.visible_group(id, Some(me))?;
        if !me.is_admin_of(&g.org_id) {
            return Err(ApiError::forbidden());
        }
        let name = p
            .non_empty("targetUsername")
            .ok_or_else(|| reassign_refused("'targetUsername' must be specified."))?;
        let target = self
            .user(name)
            .filter(|u| u.org_id == g.org_id)
            .ok_or_else(|| {
                reassign_refused(format!(
                    "User '{name}' is not a member of the organization."
                ))
            })?;
        let (id, old, new) = (g.id.clone(), g.owner.clone(), target.username.clone());
        if old == new {
            return Ok(success(&id));
        }
        if self.titles.contains_key(&title_key(&new, &g.title)) {
            return Err(reassign_refused(format!(
                "User '{new}' already has a group named '{}'.",
                g.title
            )));
        }
        let joins = !g.contains(&new);
        if joins && self.at_limit(target) {
            return Err(at_group_limit("reassign group", &new, self.group_limit));
        }
        self.hand_over(&id, &old, &new);
        Ok(success(&id))
    }

    /// Makes `new` the owner of group `id` instead of `old` (both canonical, checked by
    /// [`Self::reassign`]), with `--reassign-drops-owner` deciding where `old` goes.
    fn hand_over(&mut self, id: &str, old: &str, new: &str) {
        let drop_old = self.reassign_drops_owner;
        let g = self.groups.get_mut(id).expect("group checked by reassign");
        let joins = !g.contains(new);
        g.admins.remove(new);
        g.members.remove(new);
        g.owner = new.to_owned();
        g.joined.entry(new.to_owned()).or_insert_with(now_ms);
        if drop_old {
            g.joined.remove(old);
        } else {
            g.admins.insert(old.to_owned());
        }
        let title = g.title.clone();
        self.titles.remove(&title_key(old, &title));
        self.titles.insert(title_key(new, &title), id.to_owned());
        if joins {
            self.count_group(new, 1);
        }
        if drop_old {
            self.count_group(old, -1);
        }
    }
}
