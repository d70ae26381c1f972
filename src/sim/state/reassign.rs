//! `community/groups/{id}/reassign`: an org administrator hands a group to another member of
//! the org (reference §2.18, §9). The new owner leaves any other role in the group; the old
//! owner stays a manager, or, under `--reassign-drops-owner`, leaves the group — the real
//! portal's choice is not documented, so both are testable.

use serde_json::{Value, json};

use super::{ApiError, Params, Portal};

/// The error of a refused reassign, with `detail` saying why.
fn refused(detail: impl Into<String>) -> ApiError {
    ApiError::bad_request("Unable to reassign group.", detail)
}

impl Portal {
    /// `…/reassign` with `targetUsername`: org administrators only (403 otherwise); the target
    /// must be a user of the group's org, below the group limit unless already in the group,
    /// and own no group of the same title (titles are unique per owner).
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
            .ok_or_else(|| refused("'targetUsername' must be specified."))?;
        let target = self
            .user(name)
            .filter(|u| u.org_id == g.org_id)
            .ok_or_else(|| {
                refused(format!(
                    "User '{name}' is not a member of the organization."
                ))
            })?;
        let (id, old, new) = (g.id.clone(), g.owner.clone(), target.username.clone());
        if old == new {
            return Ok(json!({"success": true, "groupId": id}));
        }
        let new_key = (new.to_lowercase(), g.title.to_lowercase());
        if self.titles.contains_key(&new_key) {
            return Err(refused(format!(
                "User '{new}' already has a group named '{}'.",
                g.title
            )));
        }
        let joins = !g.contains(&new);
        if joins && target.memberships() >= u64::from(self.group_limit) {
            return Err(refused(format!(
                "User '{new}' has reached the maximum number of groups ({}).",
                self.group_limit
            )));
        }
        let drop_old = self.reassign_drops_owner;
        let g = self.groups.get_mut(&id).expect("group checked above");
        g.admins.remove(&new);
        g.members.remove(&new);
        g.owner = new.clone();
        let now = super::now_ms();
        g.joined.entry(new.clone()).or_insert(now);
        if drop_old {
            g.joined.remove(&old);
        } else {
            g.admins.insert(old.clone());
        }
        let old_key = (old.to_lowercase(), g.title.to_lowercase());
        self.titles.remove(&old_key);
        self.titles.insert(new_key, id.clone());
        if joins && let Some(u) = self.users.get_mut(&new.to_lowercase()) {
            u.groups += 1;
        }
        if drop_old && let Some(u) = self.users.get_mut(&old.to_lowercase()) {
            u.groups -= 1;
        }
        Ok(json!({"success": true, "groupId": id}))
    }
}
