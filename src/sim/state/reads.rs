//! Queries: every endpoint that reads the state and changes nothing — the caller
//! (`portals/self`, `community/self`), group search and lookup, a group's members, accounts
//! and the org directory, a user's invitations, the `/__sim/state` snapshot. Who may see what
//! is decided in [`super::access`]; the shapes come from [`super::views`].

use std::time::Instant;

use serde_json::{Value, json};

use super::access::{AccountView, InvitationAction};
use super::model::{Group, Invitation, Portal, User};
use super::views::{
    GroupState, StateSnapshot, UserState, account_json, group_json, invitation_json, org_id_of,
    paged, portal_self_json, user_json, user_list_entry, without_privileges,
};
use crate::sim::config::{Scheme, SimRole};
use crate::sim::search::{Doc, Page, Query};
use crate::sim::wire::{ApiError, Params};

/// Whether a listing is `portals/self/users` (reply key `users`) or its `/search`
/// (reply key `results` plus `query`, like every search resource).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    /// `portals/self/users`.
    List,
    /// `portals/self/users/search`.
    Search,
}

impl Doc for Group {
    fn keyword(&self, field: &str) -> Option<&str> {
        match field {
            "id" => Some(&self.id),
            "owner" => Some(&self.owner),
            "orgid" => Some(&self.org_id),
            "access" => Some(&self.access),
            _ => None,
        }
    }

    fn text(&self, field: &str) -> Option<String> {
        match field {
            "title" => Some(self.title.clone()),
            "tags" => Some(self.tags.join(" ")),
            "description" => Some(self.description.clone()),
            "snippet" => Some(self.snippet.clone()),
            "typekeywords" => Some(String::new()),
            _ => None,
        }
    }

    fn all_text(&self) -> String {
        format!(
            "{} {} {} {} {}",
            self.title,
            self.tags.join(" "),
            self.snippet,
            self.description,
            self.owner
        )
    }
}

impl Doc for User {
    fn keyword(&self, field: &str) -> Option<&str> {
        match field {
            "id" => Some(&self.id),
            "username" => Some(&self.username),
            "orgid" => Some(&self.org_id),
            "email" => Some(&self.email),
            "idpusername" => self.idp_username.as_deref(),
            _ => None,
        }
    }

    fn text(&self, field: &str) -> Option<String> {
        match field {
            "fullname" | "firstname" => Some(self.username.clone()),
            _ => None,
        }
    }

    fn all_text(&self) -> String {
        self.username.clone()
    }
}

impl Portal {
    /// The canonical username when `username`/`password` are valid credentials
    /// (the username is case-sensitive at sign-in, like the real `generateToken`).
    pub fn check_password(&self, username: &str, password: &str) -> Option<String> {
        let u = self.user(username)?;
        (u.username == username && u.password.as_deref() == Some(password))
            .then(|| u.username.clone())
    }

    /// `portals/self`; the caller's `privileges` as `--privileges-in` says.
    pub fn portal_self(&self, caller: Option<&str>, url_key: &str, scheme: Scheme) -> Value {
        let me = self.caller(caller);
        let mut v = portal_self_json(org_id_of(me), url_key, scheme);
        if let Some(u) = me {
            let user = user_json(u);
            v["user"] = if self.privileges_in.in_portals_self() {
                user
            } else {
                without_privileges(user)
            };
        }
        v
    }

    /// `community/self`: the caller with every group they own or belong to (no search lag).
    pub fn community_self(&self, caller: Option<&str>) -> Result<Value, ApiError> {
        let me = self.signed_in(caller)?;
        let v = self.with_groups(me, user_json(me));
        Ok(if self.privileges_in.in_community_self() {
            v
        } else {
            without_privileges(v)
        })
    }

    /// `community/groups`: fuzzy search over the groups the caller may see, minus those still
    /// inside their `--search-lag` window.
    pub fn search_groups(&self, caller: Option<&str>, p: &Params) -> Value {
        let me = self.caller(caller);
        let q_text = p.get("q").unwrap_or("");
        let query = Query::parse(q_text);
        let filter = p.non_empty("filter").map(Query::parse_exact);
        let member_only = p
            .get("searchUserAccess")
            .is_some_and(|v| v.eq_ignore_ascii_case("groupMember"));
        let now = Instant::now();
        let mut hits: Vec<(u32, &Group)> = self
            .groups
            .values()
            .filter(|g| g.searchable_at <= now && self.can_see(g, me))
            .filter(|g| !member_only || me.is_some_and(|u| g.contains(&u.username)))
            .filter(|g| filter.as_ref().is_none_or(|f| f.score(*g).is_some()))
            .filter_map(|g| query.score(g).map(|s| (s, g)))
            .collect();
        let desc = p
            .get("sortOrder")
            .is_some_and(|o| o.eq_ignore_ascii_case("desc"));
        match p.get("sortField").map(str::to_ascii_lowercase).as_deref() {
            Some("title") => hits.sort_by_cached_key(|(_, g)| (g.title.to_lowercase(), g.seq)),
            Some("owner") => hits.sort_by_cached_key(|(_, g)| (g.owner.to_lowercase(), g.seq)),
            Some("created") => hits.sort_by_key(|(_, g)| (g.created_ms, g.seq)),
            Some("modified") => hits.sort_by_key(|(_, g)| (g.modified_ms, g.seq)),
            // Relevance: best score first (hence the reversal), then title.
            _ => {
                hits.sort_by_cached_key(|(s, g)| (u32::MAX - s, g.title.to_lowercase(), g.seq));
            }
        }
        if desc {
            hits.reverse();
        }
        let page = Page::from_params(p.get("start"), p.get("num"), 10);
        let (range, next) = page.window(hits.len());
        let mut v = paged(&page, hits.len(), next);
        v["query"] = json!(q_text);
        v["results"] = hits[range].iter().map(|(_, g)| group_json(g, me)).collect();
        v
    }

    /// `community/groups/{id}`.
    pub fn group_get(&self, caller: Option<&str>, id: &str) -> Result<Value, ApiError> {
        let me = self.caller(caller);
        let g = self.visible_group(id, me)?;
        Ok(group_json(g, me))
    }

    /// The group `id` when the caller may list its members: members and those who may
    /// manage it (403 otherwise).
    fn listable_group(&self, caller: Option<&str>, id: &str) -> Result<&Group, ApiError> {
        let me = self.caller(caller);
        let g = self.visible_group(id, me)?;
        if me.is_some_and(|u| g.contains(&u.username) || Self::can_manage(g, u)) {
            Ok(g)
        } else {
            Err(ApiError::forbidden())
        }
    }

    /// `community/groups/{id}/users`: owner, admins (owner included), plain members.
    pub fn group_users(&self, caller: Option<&str>, id: &str) -> Result<Value, ApiError> {
        let g = self.listable_group(caller, id)?;
        // `--legacy-members-cap`: each list silently stops at the cap.
        let cap = self.legacy_members_cap.map_or(usize::MAX, |n| n as usize);
        let admins: Vec<&str> = std::iter::once(g.owner.as_str())
            .chain(g.admins.iter().map(String::as_str))
            .take(cap)
            .collect();
        let users: Vec<&String> = g.members.iter().take(cap).collect();
        Ok(json!({"owner": g.owner, "admins": admins, "users": users}))
    }

    /// `community/groups/{id}/userList`: the paged member list, with the time each joined.
    pub fn group_user_list(
        &self,
        caller: Option<&str>,
        id: &str,
        p: &Params,
    ) -> Result<Value, ApiError> {
        let g = self.listable_group(caller, id)?;
        let wanted = p.get("memberType").map(str::to_ascii_lowercase);
        let all: Vec<(&String, &str)> = g
            .everyone()
            .map(|u| (u, g.member_type(u)))
            .filter(|(_, t)| match wanted.as_deref() {
                Some("admin") => *t != "member",
                Some("member") => *t == "member",
                _ => true,
            })
            .collect();
        let page = Page::from_params(p.get("start"), p.get("num"), 25);
        let (range, next) = page.window(all.len());
        let mut v = paged(&page, all.len(), next);
        v["owner"] = json!(g.owner);
        v["users"] = all[range]
            .iter()
            .map(|(u, t)| user_list_entry(u, t, g.joined.get(*u).copied().unwrap_or(g.created_ms)))
            .collect();
        Ok(v)
    }

    /// `community/users/{username}`: as [`Self::account_view`] allows; `groups` only in the
    /// full view. Invisible accounts are "does not exist".
    pub fn user_get(&self, caller: Option<&str>, username: &str) -> Result<Value, ApiError> {
        let me = self.caller(caller);
        let u = self.user(username).ok_or_else(ApiError::user_not_found)?;
        let view = Self::account_view(me, u).ok_or_else(ApiError::user_not_found)?;
        let v = account_json(u, view);
        Ok(if view == AccountView::Full {
            self.with_groups(u, v)
        } else {
            v
        })
    }

    /// `portals/self/users` and `/search`: the caller's org, paged, sorted by username, `q`
    /// over `username`, `email`, `idpUsername`, `fullname`. Org administrators only.
    pub fn org_users(
        &self,
        caller: Option<&str>,
        p: &Params,
        listing: Listing,
    ) -> Result<Value, ApiError> {
        let me = self.signed_in(caller)?;
        if me.role != SimRole::OrgAdmin {
            return Err(ApiError::forbidden());
        }
        let mut users: Vec<&User> = self
            .users
            .values()
            .filter(|u| u.org_id == me.org_id)
            .collect();
        if let Some(q) = p.non_empty("q") {
            let q = Query::parse(q);
            users.retain(|u| q.score(*u).is_some());
        }
        users.sort_by_key(|u| u.username.to_lowercase());
        let page = Page::from_params(p.get("start"), p.get("num"), 10);
        let (range, next) = page.window(users.len());
        let list: Vec<Value> = users[range].iter().map(|u| user_json(u)).collect();
        let mut v = paged(&page, users.len(), next);
        match listing {
            Listing::List => v["users"] = json!(list),
            Listing::Search => {
                v["query"] = json!(p.get("q").unwrap_or(""));
                v["results"] = json!(list);
            }
        }
        Ok(v)
    }

    /// `community/users` with `q`: user search across orgs, paged, as
    /// [`Self::account_view`] allows (never with `groups`).
    pub fn search_users(&self, caller: Option<&str>, p: &Params) -> Result<Value, ApiError> {
        let me = Some(self.signed_in(caller)?);
        let q = Query::parse(p.get("q").unwrap_or(""));
        let mut users: Vec<(&User, AccountView)> = self
            .users
            .values()
            .filter(|u| q.score(*u).is_some())
            .filter_map(|u| Some((u, Self::account_view(me, u)?)))
            .collect();
        users.sort_by_key(|(u, _)| u.username.to_lowercase());
        let page = Page::from_params(p.get("start"), p.get("num"), 10);
        let (range, next) = page.window(users.len());
        let mut v = paged(&page, users.len(), next);
        v["query"] = json!(p.get("q").unwrap_or(""));
        v["results"] = users[range]
            .iter()
            .map(|(u, view)| account_json(u, *view))
            .collect();
        Ok(v)
    }

    /// Pending invitations of `username`, oldest first.
    pub(super) fn invitations_of(&self, username: &str) -> Vec<(&Group, &Invitation)> {
        let mut list: Vec<(&Group, &Invitation)> = self
            .groups
            .values()
            .filter_map(|g| Some((g, g.invited.get(username)?)))
            .filter(|(_, i)| i.pending())
            .collect();
        list.sort_by_key(|(g, i)| (i.created_ms, g.seq));
        list
    }

    /// `community/groups/{id}/invitations`: the group's pending invitations
    /// (`{"invitations": […]}`, each in the invitee-side shape), for those who may invite
    /// (owner, managers, org admin). Undocumented on the real portal; `--no-group-invitations`
    /// turns it off.
    pub fn group_invitations(&self, caller: Option<&str>, id: &str) -> Result<Value, ApiError> {
        let (id, _) = self.managed_group(caller, id)?;
        let g = &self.groups[&id];
        let mut pending: Vec<(&String, &Invitation)> =
            g.invited.iter().filter(|(_, i)| i.pending()).collect();
        pending.sort_by_key(|(name, i)| (i.created_ms, name.as_str()));
        Ok(json!({"invitations": pending
            .iter()
            .map(|(name, i)| invitation_json(name, g, i))
            .collect::<Vec<_>>()}))
    }

    /// `community/users/{u}/invitations` (`{"userInvitations": […]}`), or with an id the one
    /// invitation, with its `group`.
    pub fn user_invitations(
        &self,
        caller: Option<&str>,
        username: &str,
        invitation_id: Option<&str>,
    ) -> Result<Value, ApiError> {
        let u = self.invitee(caller, username, InvitationAction::Read)?;
        let list = self.invitations_of(&u.username);
        match invitation_id {
            None => Ok(json!({"userInvitations": list
                .iter()
                .map(|(g, i)| invitation_json(&u.username, g, i))
                .collect::<Vec<_>>()})),
            Some(wanted) => {
                let (g, i) = list
                    .iter()
                    .find(|(_, i)| i.id.eq_ignore_ascii_case(wanted))
                    .ok_or_else(ApiError::invitation_not_found)?;
                let mut v = invitation_json(&u.username, g, i);
                v["group"] = group_json(g, None);
                Ok(v)
            }
        }
    }

    /// The `GET /__sim/state` document.
    pub fn snapshot(&self) -> StateSnapshot {
        let mut groups: Vec<&Group> = self.groups.values().collect();
        groups.sort_by_key(|g| g.seq);
        let mut users: Vec<&User> = self.users.values().collect();
        users.sort_by_key(|u| (u.username != self.admin_username, u.seq));
        StateSnapshot {
            groups: groups.into_iter().map(GroupState::of).collect(),
            users: users.into_iter().map(UserState::of).collect(),
        }
    }
}
