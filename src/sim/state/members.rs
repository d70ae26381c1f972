//! A group's members: the legacy `…/users` listing (with `--legacy-members-cap`), the paged
//! `…/userList`, and the two membership operations `…/addUsers` and `…/removeUsers` with their
//! 25-name cap, `--exact-case` and `--strict-chunks`.

use serde_json::{Value, json};

use super::{ApiError, MAX_NAMES_PER_CALL, NotApplied, Page, Params, Portal, User};

impl Portal {
    /// `community/groups/{id}/users`: owner, admins (owner included), plain members.
    /// Only for members and those who may manage the group.
    pub fn group_users(&self, caller: Option<&str>, id: &str) -> Result<Value, ApiError> {
        let me = self.caller(caller);
        let g = self.visible_group(id, me)?;
        let allowed = me.is_some_and(|u| g.contains(&u.username) || Self::can_manage(g, u));
        if !allowed {
            return Err(ApiError::forbidden());
        }
        // `--legacy-members-cap`: each list silently stops at the cap.
        let cap = self.legacy_members_cap.map_or(usize::MAX, |n| n as usize);
        let admins: Vec<&str> = std::iter::once(g.owner.as_str())
            .chain(g.admins.iter().map(String::as_str))
            .take(cap)
            .collect();
        let users: Vec<&String> = g.members.iter().take(cap).collect();
        Ok(json!({"owner": g.owner, "admins": admins, "users": users}))
    }

    /// `community/groups/{id}/userList`: the paged member list.
    pub fn group_user_list(
        &self,
        caller: Option<&str>,
        id: &str,
        p: &Params,
    ) -> Result<Value, ApiError> {
        let me = self.caller(caller);
        let g = self.visible_group(id, me)?;
        if !me.is_some_and(|u| g.contains(&u.username) || Self::can_manage(g, u)) {
            return Err(ApiError::forbidden());
        }
        let wanted = p.get("memberType").map(str::to_ascii_lowercase);
        let all: Vec<(&str, &str)> = std::iter::once((g.owner.as_str(), "owner"))
            .chain(g.admins.iter().map(|a| (a.as_str(), "admin")))
            .chain(g.members.iter().map(|m| (m.as_str(), "member")))
            .filter(|(_, t)| match wanted.as_deref() {
                Some("admin") => *t != "member",
                Some("member") => *t == "member",
                _ => true,
            })
            .collect();
        let page = Page::from_params(p.get("start"), p.get("num"), 25);
        let (range, next) = page.window(all.len());
        let users: Vec<Value> = all[range]
            .iter()
            .map(|(u, t)| {
                let joined = g.joined.get(*u).copied().unwrap_or(g.created_ms);
                json!({"username": u, "fullName": u, "memberType": t, "thumbnail": null, "joined": joined})
            })
            .collect();
        Ok(json!({
            "owner": g.owner, "total": all.len(), "start": page.start, "num": page.num,
            "nextStart": next, "users": users,
        }))
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
        let mut not_added: NotApplied = Vec::new();
        for (name, as_admin) in users
            .iter()
            .map(|n| (n, false))
            .chain(admins.iter().map(|n| (n, true)))
        {
            let g = &self.groups[&id];
            let Some(u) = self.member_named(name) else {
                not_added.push(name.clone());
                continue;
            };
            let current = g.member_type(&u.username);
            let eligible = u.org_id == g.org_id
                && match (current, as_admin) {
                    ("none", _) => u.memberships() < u64::from(self.group_limit),
                    ("member", true) => true, // promotion
                    _ => false,               // already in the group in that role (or owner)
                };
            if eligible {
                let canonical = u.username.clone();
                self.join(&id, &canonical, as_admin);
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
        let mut not_removed: NotApplied = Vec::new();
        for name in &names {
            let canonical = self.member_named(name).map(|u| u.username.clone());
            let g = self.groups.get_mut(&id).expect("group checked above");
            let removed = canonical
                .as_ref()
                .is_some_and(|c| g.members.remove(c) | g.admins.remove(c));
            if let Some(c) = canonical.as_ref().filter(|_| removed) {
                g.joined.remove(c);
            }
            match canonical.filter(|_| removed) {
                Some(c) => {
                    if let Some(u) = self.users.get_mut(&c.to_lowercase()) {
                        u.groups -= 1;
                    }
                }
                None => not_removed.push(name.clone()),
            }
        }
        Ok(json!({"notRemoved": not_removed}))
    }
}
