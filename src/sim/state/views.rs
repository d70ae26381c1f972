//! The JSON shapes the API returns (reference §2, arcgis-rest-js's interfaces) and the typed
//! `GET /__sim/state` document. Nothing here decides anything: reads and writes decide, these
//! functions only render what they decided.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::access::AccountView;
use super::model::{Group, HOME_ORG_ID, Invitation, Portal, User};
use crate::sim::config::{Scheme, SimRole};
use crate::sim::search::Page;

/// The `GET /__sim/state` document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateSnapshot {
    /// Every group, in creation order.
    pub groups: Vec<GroupState>,
    /// Every account, admin first, then in creation order.
    pub users: Vec<UserState>,
}

impl StateSnapshot {
    /// The first group whose title equals `title` exactly.
    pub fn group(&self, title: &str) -> Option<&GroupState> {
        self.groups.iter().find(|g| g.title == title)
    }
}

/// One group in [`StateSnapshot`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupState {
    /// 32 lowercase hex digits.
    pub id: String,
    /// Title as stored (trailing whitespace trimmed).
    pub title: String,
    /// Owner's username.
    pub owner: String,
    /// `private`, `org` or `public`.
    pub access: String,
    /// Managers, the owner first, then the others sorted.
    pub admins: Vec<String>,
    /// Plain members (not admins), sorted.
    pub users: Vec<String>,
}

impl GroupState {
    pub(super) fn of(g: &Group) -> GroupState {
        GroupState {
            id: g.id.clone(),
            title: g.title.clone(),
            owner: g.owner.clone(),
            access: g.access.clone(),
            admins: std::iter::once(&g.owner)
                .chain(&g.admins)
                .cloned()
                .collect(),
            users: g.members.iter().cloned().collect(),
        }
    }
}

/// One account in [`StateSnapshot`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserState {
    /// Username.
    pub username: String,
    /// `home`, or the name of the other org.
    pub org: String,
    /// `org_user`, `org_publisher` or `org_admin`.
    pub role: String,
}

impl UserState {
    pub(super) fn of(u: &User) -> UserState {
        UserState {
            username: u.username.clone(),
            org: u.org_name.clone(),
            role: u.role.as_str().to_owned(),
        }
    }
}

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

/// Privileges reported for each role (see the module doc of [`crate::sim`] for the choice).
fn privileges(role: SimRole) -> Vec<&'static str> {
    let mut p = vec![
        "portal:user:createGroup",
        "portal:user:joinGroup",
        "portal:user:joinNonOrgGroup",
        "portal:user:viewOrgGroups",
        "portal:user:viewOrgItems",
        "portal:user:viewOrgUsers",
        "portal:user:createItem",
        "portal:user:shareToGroup",
        "portal:user:shareToOrg",
        "portal:user:shareToPublic",
    ];
    if matches!(role, SimRole::OrgPublisher | SimRole::OrgAdmin) {
        p.extend([
            "portal:publisher:publishFeatures",
            "portal:publisher:publishTiles",
        ]);
    }
    if role == SimRole::OrgAdmin {
        p.extend([
            "portal:admin:viewUsers",
            "portal:admin:updateUsers",
            "portal:admin:viewGroups",
            "portal:admin:updateGroups",
            "portal:admin:deleteGroups",
            "portal:admin:reassignGroups",
            "portal:admin:assignToGroups",
            "portal:admin:manageEnterpriseGroups",
            "portal:admin:createUpdateCapableGroup",
        ]);
    }
    p
}

/// A group as the caller sees it (`userMembership` only for a signed-in caller).
pub(super) fn group_json(g: &Group, caller: Option<&User>) -> Value {
    let mut v = json!({
        "id": g.id,
        "title": g.title,
        "isInvitationOnly": g.is_invitation_only,
        "owner": g.owner,
        "description": g.description,
        "snippet": g.snippet,
        "tags": g.tags,
        "typeKeywords": [],
        "phone": g.phone,
        "sortField": g.sort_field,
        "sortOrder": g.sort_order,
        "isViewOnly": g.is_view_only,
        "isFav": false,
        "thumbnail": null,
        "created": g.created_ms,
        "modified": g.modified_ms,
        "access": g.access,
        "capabilities": g.capabilities,
        "isReadOnly": false,
        "protected": false,
        "autoJoin": g.auto_join,
        "notificationsEnabled": false,
        "provider": null,
        "providerGroupName": null,
        "leavingDisallowed": g.leaving_disallowed,
        "hiddenMembers": g.hidden_members,
        "displaySettings": g.display_settings,
        "isOpenData": g.is_open_data,
        "orgId": g.org_id,
    });
    if let Some(m) = &g.membership_access {
        v["membershipAccess"] = json!(m);
    }
    if let Some(u) = caller {
        v["userMembership"] = json!({
            "username": u.username,
            "memberType": g.member_type(&u.username),
            "applications": 0,
        });
    }
    v
}

/// Every property of an account as its owner or an org admin sees it (without `groups`).
pub(super) fn user_json(u: &User) -> Value {
    json!({
        "username": u.username,
        "id": u.id,
        "fullName": u.username,
        "firstName": u.username,
        "lastName": "",
        "description": null,
        "email": u.email,
        "idpUsername": u.idp_username,
        "tags": [],
        "culture": "en",
        "region": "",
        "units": "english",
        "thumbnail": null,
        "access": u.access.as_str(),
        "created": u.created_ms,
        "modified": u.created_ms,
        "provider": "arcgis",
        "orgId": u.org_id,
        "role": u.role.as_str(),
        "privileges": privileges(u.role),
        "level": "2",
        "disabled": false,
        "storageUsage": 0,
        "storageQuota": 2_199_023_255_552_u64,
        "mfaEnabled": false,
        "userType": "creatorUT",
    })
}

/// `u` as `view` shows it (without `groups`).
pub(super) fn account_json(u: &User, view: AccountView) -> Value {
    match view {
        AccountView::Full => user_json(u),
        AccountView::Org => without(user_json(u), &["email", "idpUsername"]),
        AccountView::Anonymous => without(user_json(u), &PRIVATE_FIELDS),
    }
}

/// `v` without the properties in `fields`.
fn without(mut v: Value, fields: &[&str]) -> Value {
    if let Some(o) = v.as_object_mut() {
        for field in fields {
            o.remove(*field);
        }
    }
    v
}

/// `v` without its `privileges` (`--privileges-in` leaves them out of that place).
pub(super) fn without_privileges(v: Value) -> Value {
    without(v, &["privileges"])
}

/// `portals/self` without its `user` (the caller, added by the read).
pub(super) fn portal_self_json(org_id: &str, url_key: &str, scheme: Scheme) -> Value {
    json!({
        "id": org_id,
        "name": "Simulated Organization",
        "urlKey": url_key,
        "customBaseUrl": "",
        "portalName": "ArcGIS Online",
        "portalMode": "multitenant",
        "portalHostname": "",
        "isPortal": false,
        "allSSL": scheme.is_tls(),
        "currentVersion": "2025.1",
        "access": "private",
        "culture": "en",
        "region": "WO",
        "units": "english",
        "supportsOAuth": true,
        "canSearchPublic": true,
        "canSharePublic": true,
        "subscriptionInfo": {"type": "In House", "state": "active", "maxUsers": 100_000},
        "helperServices": {},
    })
}

/// The org id `portals/self` reports to `me` (the home org to anonymous callers).
pub(super) fn org_id_of(me: Option<&User>) -> &str {
    me.map_or(HOME_ORG_ID, |u| u.org_id.as_str())
}

/// The paging properties every listing carries, for `total` items.
pub(super) fn paged(page: &Page, total: usize, next: i64) -> Value {
    json!({"total": total, "start": page.start, "num": page.num, "nextStart": next})
}

/// The reply of a group operation that answers with the group's id only.
pub(super) fn success(group_id: &str) -> Value {
    json!({"success": true, "groupId": group_id})
}

/// The reply of an invitation's accept or decline.
pub(super) fn invitation_answer(username: &str, group_id: &str, invitation_id: &str) -> Value {
    json!({"success": true, "username": username, "groupId": group_id, "id": invitation_id})
}

/// One invitation of `username` to `g` (arcgis-rest-js's `IInvitation`).
pub(super) fn invitation_json(username: &str, g: &Group, i: &Invitation) -> Value {
    json!({
        "id": i.id,
        "targetType": "group",
        "targetId": g.id,
        "received": i.created_ms,
        "accepted": false,
        "mustApprove": false,
        "email": null,
        "role": i.role.as_str(),
        "type": "user",
        "dateAccepted": -1,
        "expiration": i.expires_ms,
        "created": i.created_ms,
        "username": username,
        "fromUsername": {"username": i.from},
        "groupId": g.id,
    })
}

/// One `userList` entry.
pub(super) fn user_list_entry(username: &str, member_type: &str, joined: i64) -> Value {
    json!({"username": username, "fullName": username, "memberType": member_type, "thumbnail": null, "joined": joined})
}

impl Portal {
    /// `v` (a [`user_json`] of `u`) plus every group `u` owns or belongs to.
    pub(super) fn with_groups(&self, u: &User, mut v: Value) -> Value {
        let mut groups: Vec<&Group> = self
            .groups
            .values()
            .filter(|g| g.contains(&u.username))
            .collect();
        groups.sort_by_key(|g| g.seq);
        v["groups"] = groups.iter().map(|g| group_json(g, Some(u))).collect();
        v
    }
}
