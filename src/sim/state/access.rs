//! Who may see and change what — the rules reads and writes share, each decided once here:
//! the caller behind a token, which groups a caller sees and manages, how much of an account
//! a caller sees (reference §9), and who may act on a user's invitations.

use super::model::{Group, Portal, User};
use crate::sim::config::UserAccess;
use crate::sim::wire::ApiError;

/// How much of an account a caller sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AccountView {
    /// Everything, `groups` included: the user themselves and their org's administrators.
    Full,
    /// The rest of their org, when the account is not `private`: no `email`, `idpUsername`.
    Org,
    /// Other orgs, when the account is `public`: the anonymous view.
    Anonymous,
}

/// What the caller wants to do with a user's invitations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum InvitationAction {
    /// List or read them: the invitee or an administrator of their org.
    Read,
    /// Accept or decline one: the invitee only.
    Answer,
}

impl Portal {
    /// The user behind the caller's token, if any.
    pub(super) fn caller<'a>(&'a self, caller: Option<&str>) -> Option<&'a User> {
        caller.and_then(|c| self.user(c))
    }

    /// The caller's user, or 403 for an app token (signed in, but without user rights).
    pub(super) fn signed_in<'a>(&'a self, caller: Option<&str>) -> Result<&'a User, ApiError> {
        self.caller(caller).ok_or_else(ApiError::forbidden)
    }

    /// Public groups to everyone, `org` groups to the org, private groups to their members
    /// and the org admin (members of another org see the groups they are in).
    pub(super) fn can_see(&self, g: &Group, caller: Option<&User>) -> bool {
        match (g.access.as_str(), caller) {
            ("public", _) => true,
            (_, None) => false,
            ("org", Some(u)) => u.org_id == g.org_id || g.contains(&u.username),
            (_, Some(u)) => g.contains(&u.username) || u.is_admin_of(&g.org_id),
        }
    }

    /// The owner, the managers and the org admin manage a group.
    pub(super) fn can_manage(g: &Group, u: &User) -> bool {
        g.owner == u.username || g.admins.contains(&u.username) || u.is_admin_of(&g.org_id)
    }

    /// The group `id` as the caller may see it, or "does not exist or is inaccessible".
    pub(super) fn visible_group(
        &self,
        id: &str,
        caller: Option<&User>,
    ) -> Result<&Group, ApiError> {
        self.groups
            .get(&id.to_ascii_lowercase())
            .filter(|g| self.can_see(g, caller))
            .ok_or_else(ApiError::group_not_found)
    }

    /// The id of group `id` and the caller, when the caller may manage it (403 otherwise).
    pub(super) fn managed_group(
        &self,
        caller: Option<&str>,
        id: &str,
    ) -> Result<(String, &User), ApiError> {
        let me = self.signed_in(caller)?;
        let g = self.visible_group(id, Some(me))?;
        if !Self::can_manage(g, me) {
            return Err(ApiError::forbidden());
        }
        Ok((g.id.clone(), me))
    }

    /// How much of `u` `me` sees, or `None` when `me` may not see it at all.
    pub(super) fn account_view(me: Option<&User>, u: &User) -> Option<AccountView> {
        if me.is_some_and(|m| m.username == u.username || m.is_admin_of(&u.org_id)) {
            return Some(AccountView::Full);
        }
        let same_org = me.is_some_and(|m| m.org_id == u.org_id);
        match (same_org, u.access) {
            (true, UserAccess::Org | UserAccess::Public) => Some(AccountView::Org),
            (false, UserAccess::Public) => Some(AccountView::Anonymous),
            _ => None,
        }
    }

    /// The invitee `username` as the caller may act for them in `action`.
    pub(super) fn invitee(
        &self,
        caller: Option<&str>,
        username: &str,
        action: InvitationAction,
    ) -> Result<&User, ApiError> {
        let me = self.signed_in(caller)?;
        let u = self.user(username).ok_or_else(ApiError::user_not_found)?;
        let reads_for = action == InvitationAction::Read && me.is_admin_of(&u.org_id);
        if me.username == u.username || reads_for {
            Ok(u)
        } else {
            Err(ApiError::forbidden())
        }
    }
}
