//! Who can see which accounts: `community/users/{u}`, the `community/users` search and the
//! org directory `portals/self/users` (`/search`). One rule decides visibility
//! ([`Portal::user_view`]), as the real portal's (reference §9): the user and their org's
//! administrators see everything; the rest of the org sees accounts that are not `private`,
//! without e-mail; other orgs see only `public` accounts, in the anonymous view (no `orgId`,
//! `role`, `email`).

use serde_json::{Value, json};

use super::{ApiError, Params, Portal, Query, User};
use crate::sim::config::{SimRole, UserAccess};
use crate::sim::search::Page;

/// Properties the anonymous (other-org) view of a public account leaves out.
const PRIVATE_FIELDS: [&str; 12] = [
    "orgId",
    "role",
    "email",
    "idpUsername",
    "privileges",
    "level",
    "userType",
    "disabled",
    "storageUsage",
    "storageQuota",
    "mfaEnabled",
    "groups",
];

/// Whether a listing is `portals/self/users` (reply key `users`) or its `/search`
/// (reply key `results` plus `query`, like every search resource).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    /// `portals/self/users`.
    List,
    /// `portals/self/users/search`.
    Search,
}

/// Whether `me` sees all of `u`: `u` themselves, or an administrator of `u`'s org.
fn sees_all(me: Option<&User>, u: &User) -> bool {
    me.is_some_and(|m| m.username == u.username || m.is_admin_of(&u.org_id))
}

impl Portal {
    /// `u` as `me` may see it, or `None` when `me` may not see it at all.
    fn user_view(&self, me: Option<&User>, u: &User) -> Option<Value> {
        let mut v = self.user_json(u);
        if sees_all(me, u) {
            return Some(v);
        }
        let same_org = me.is_some_and(|m| m.org_id == u.org_id);
        let hidden: &[&str] = match (same_org, u.access) {
            (true, UserAccess::Org | UserAccess::Public) => &["email", "idpUsername"],
            (false, UserAccess::Public) => &PRIVATE_FIELDS,
            _ => return None,
        };
        if let Some(o) = v.as_object_mut() {
            for field in hidden {
                o.remove(*field);
            }
        }
        Some(v)
    }

    /// `community/users/{username}`: [`Self::user_view`]; `groups` only for the user
    /// themselves or their org admin. Invisible accounts are "does not exist".
    pub fn user_get(&self, caller: Option<&str>, username: &str) -> Result<Value, ApiError> {
        let me = self.caller(caller);
        let u = self.user(username).ok_or_else(ApiError::user_not_found)?;
        let v = self.user_view(me, u).ok_or_else(ApiError::user_not_found)?;
        Ok(if sees_all(me, u) {
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
        let list: Vec<Value> = users[range].iter().map(|u| self.user_json(u)).collect();
        let mut v = json!({
            "total": users.len(),
            "start": page.start,
            "num": page.num,
            "nextStart": next,
        });
        match listing {
            Listing::List => v["users"] = json!(list),
            Listing::Search => {
                v["query"] = json!(p.get("q").unwrap_or(""));
                v["results"] = json!(list);
            }
        }
        Ok(v)
    }

    /// `community/users` with `q`: user search across orgs, paged, as [`Self::user_view`]
    /// allows.
    pub fn search_users(&self, caller: Option<&str>, p: &Params) -> Result<Value, ApiError> {
        let me = Some(self.signed_in(caller)?);
        let q = Query::parse(p.get("q").unwrap_or(""));
        let mut users: Vec<(&User, Value)> = self
            .users
            .values()
            .filter(|u| q.score(*u).is_some())
            .filter_map(|u| Some((u, self.user_view(me, u)?)))
            .collect();
        users.sort_by_key(|(u, _)| u.username.to_lowercase());
        let page = Page::from_params(p.get("start"), p.get("num"), 10);
        let (range, next) = page.window(users.len());
        Ok(json!({
            "query": p.get("q").unwrap_or(""),
            "total": users.len(),
            "start": page.start,
            "num": page.num,
            "nextStart": next,
            "results": users[range].iter().map(|(_, v)| v).collect::<Vec<_>>(),
        }))
    }
}
