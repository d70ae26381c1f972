//! The response shapes the client reads, as serde types. Only the fields the tool uses are
//! declared; everything else the portal sends is ignored. Fields the portal may omit are
//! `Option` or defaulted, except where a missing field would make the tool misreport (the
//! `notAdded`/`notRemoved` lists are required: without them a reply says nothing about who was
//! added).

use serde::{Deserialize, Serialize};

/// `portals/self`: the organization as the caller sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct PortalSelf {
    /// The organization id (used to narrow searches with `orgid:`). Empty when anonymous.
    #[serde(default)]
    pub id: String,
    /// `portalName`, e.g. "ArcGIS Online".
    #[serde(default, rename = "portalName")]
    pub name: Option<String>,
    /// `portalMode`: `multitenant` (ArcGIS Online) or `singletenant` (Enterprise).
    #[serde(default, rename = "portalMode")]
    pub mode: Option<String>,
    /// The signed-in user (absent for API keys without a user).
    #[serde(default)]
    pub user: Option<UserInfo>,
}

/// A user as `community/users/{u}` and `portals/self`'s `user` describe it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct UserInfo {
    /// The username.
    pub username: String,
    /// `orgId`: the user's organization (absent for users of no or another visible org).
    #[serde(default, rename = "orgId")]
    pub org_id: Option<String>,
    /// `role`: `org_admin`, `org_publisher`, `org_user` (or a custom role's base).
    #[serde(default)]
    pub role: Option<String>,
    /// Privileges such as `portal:user:createGroup`, `portal:admin:assignToGroups`. `None`
    /// when the reply has no list at all (some API keys and Enterprise versions): that is no
    /// evidence either way, unlike a list that lacks a privilege.
    #[serde(default)]
    pub privileges: Option<Vec<String>>,
}

/// `community/self`: the caller, with every group it owns or belongs to (not search-indexed, so
/// it is current right after a createGroup).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct SelfInfo {
    /// The caller (the same fields as any user).
    #[serde(flatten)]
    pub user: UserInfo,
    /// The caller's groups.
    #[serde(default)]
    pub groups: Vec<GroupSummary>,
}

impl std::ops::Deref for SelfInfo {
    type Target = UserInfo;

    fn deref(&self) -> &UserInfo {
        &self.user
    }
}

/// A group as search results, `community/groups/{id}` and createGroup describe it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct GroupSummary {
    /// The 32-hex group id.
    pub id: String,
    /// The title.
    #[serde(default)]
    pub title: String,
    /// The owner's username.
    #[serde(default)]
    pub owner: String,
    /// `orgId` of the group's organization.
    #[serde(default, rename = "orgId")]
    pub org_id: Option<String>,
    /// `private`, `org` or `public`.
    #[serde(default)]
    pub access: Option<String>,
    /// The rest of the group's definition, as `export` writes it back (absent fields are the
    /// portal's defaults).
    #[serde(flatten)]
    pub definition: GroupFields,
}

/// A group's definition fields beyond its title and access, in the portal's spelling; every one
/// optional, since search results and createGroup replies carry different subsets.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupFields {
    /// `description`
    #[serde(default)]
    pub description: Option<String>,
    /// `snippet`
    #[serde(default)]
    pub snippet: Option<String>,
    /// `tags`
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// `phone`
    #[serde(default)]
    pub phone: Option<String>,
    /// `isInvitationOnly`
    #[serde(default)]
    pub is_invitation_only: Option<bool>,
    /// `isViewOnly`
    #[serde(default)]
    pub is_view_only: Option<bool>,
    /// `sortField`
    #[serde(default)]
    pub sort_field: Option<String>,
    /// `sortOrder`
    #[serde(default)]
    pub sort_order: Option<String>,
    /// `membershipAccess`
    #[serde(default)]
    pub membership_access: Option<String>,
    /// `autoJoin`
    #[serde(default)]
    pub auto_join: Option<bool>,
    /// `leavingDisallowed`
    #[serde(default)]
    pub leaving_disallowed: Option<bool>,
    /// `hiddenMembers`
    #[serde(default)]
    pub hidden_members: Option<bool>,
}

/// One page of a group search.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct GroupPage {
    /// Total matches (the portal stops at 10,000).
    #[serde(default)]
    pub total: u64,
    /// `nextStart`: the `start` of the next page, `-1` after the last page.
    #[serde(default = "last_page", rename = "nextStart")]
    pub next_start: i64,
    /// The groups on this page.
    #[serde(default)]
    pub results: Vec<GroupSummary>,
}

fn last_page() -> i64 {
    -1
}

/// A group's owner, managers and members, assembled from every page of
/// `community/groups/{id}/userList`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupMembers {
    /// The owner.
    pub owner: String,
    /// Group managers (the owner may be listed here too).
    pub admins: Vec<String>,
    /// Plain members.
    pub users: Vec<String>,
}

impl GroupMembers {
    /// Add one `userList` entry.
    pub(crate) fn push(&mut self, entry: MemberEntry) {
        match entry.member_type {
            MemberType::Owner => self.owner = entry.username,
            MemberType::Admin => self.admins.push(entry.username),
            MemberType::Member => self.users.push(entry.username),
        }
    }
}

/// One page of `community/groups/{id}/userList`.
#[derive(Deserialize)]
pub(crate) struct MemberPage {
    /// The owner (the entries list the owner too, as `memberType: owner`).
    #[serde(default)]
    pub owner: Option<String>,
    /// `nextStart`: `-1` after the last page.
    #[serde(default = "last_page", rename = "nextStart")]
    pub next_start: i64,
    /// The members on this page. Required: a page without it says nothing about who is in.
    pub users: Vec<MemberEntry>,
}

/// One member in a `userList` page.
#[derive(Deserialize)]
pub(crate) struct MemberEntry {
    pub username: String,
    /// An unknown member type fails the decode: guessing could make `--sync` remove a manager.
    #[serde(rename = "memberType")]
    pub member_type: MemberType,
}

/// A member's standing as `userList` spells it.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum MemberType {
    Owner,
    Admin,
    Member,
}

/// One page of the organization's user directory (`portals/self/users/search`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct UserPage {
    /// Total matches.
    #[serde(default)]
    pub total: u64,
    /// `nextStart`: the `start` of the next page, `-1` after the last page.
    #[serde(default = "last_page", rename = "nextStart")]
    pub next_start: i64,
    /// The users on this page (every one a member of the caller's organization). The list
    /// is `users` in `portals/self/users` and `results` in its `/search`, like every search.
    #[serde(default, alias = "results")]
    pub users: Vec<UserInfo>,
}

/// `generateToken`'s reply.
#[derive(Deserialize)]
pub(crate) struct TokenReply {
    pub token: String,
    /// Epoch milliseconds.
    #[serde(default)]
    pub expires: Option<i64>,
}

/// createGroup's reply: `{"success":true,"group":{...}}`.
#[derive(Deserialize)]
pub(crate) struct CreateGroupReply {
    #[serde(default)]
    pub success: bool,
    pub group: Option<GroupSummary>,
}

/// addUsers' reply.
#[derive(Deserialize)]
pub(crate) struct AddUsersReply {
    #[serde(rename = "notAdded")]
    pub not_added: Vec<String>,
}

/// The reply of reassign and invite: `{"success": true, "groupId": "…"}`.
#[derive(Deserialize)]
pub(crate) struct SuccessReply {
    #[serde(default)]
    pub success: bool,
}

/// A group's pending invitations (`community/groups/{id}/invitations`, undocumented): each
/// entry names its invitee in `username` (arcgis-rest-js's `IInvitation` shape).
#[derive(Deserialize)]
pub(crate) struct InvitationsReply {
    pub invitations: Vec<InvitationEntry>,
}

/// One pending invitation.
#[derive(Deserialize)]
pub(crate) struct InvitationEntry {
    pub username: String,
}

/// removeUsers' reply.
#[derive(Deserialize)]
pub(crate) struct RemoveUsersReply {
    #[serde(rename = "notRemoved")]
    pub not_removed: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_page_from_the_reference_mock() {
        let page: GroupPage = serde_json::from_str(
            r#"{"query":"* AND owner:dcadmin","total":358,"start":1,"num":1,"nextStart":2,
                "results":[{"id":"981213ddd719410ab5ef973afd56263a","title":"Street Maps","owner":"jsmith",
                "orgId":"org1","access":"public","tags":["a"]}]}"#,
        )
        .unwrap();
        assert_eq!(page.total, 358);
        assert_eq!(page.next_start, 2);
        assert_eq!(page.results[0].owner, "jsmith");
        assert_eq!(page.results[0].org_id.as_deref(), Some("org1"));
        let empty: GroupPage = serde_json::from_str(r#"{"results":[]}"#).unwrap();
        assert_eq!(empty.next_start, -1);
    }

    #[test]
    fn portal_self_and_user() {
        let p: PortalSelf = serde_json::from_str(
            r#"{"id":"0123456789ABCDEF","portalName":"ArcGIS Online","portalMode":"multitenant",
                "user":{"username":"admin","orgId":"0123456789ABCDEF","role":"org_admin",
                "privileges":["portal:admin:assignToGroups"]}}"#,
        )
        .unwrap();
        assert_eq!(p.id, "0123456789ABCDEF");
        assert_eq!(p.mode.as_deref(), Some("multitenant"));
        assert_eq!(p.user.unwrap().privileges.map(|p| p.len()), Some(1));
        let key: UserInfo = serde_json::from_str(r#"{"username":"app"}"#).unwrap();
        assert_eq!(key.privileges, None, "no list is not an empty list");
    }

    #[test]
    fn user_list_page_from_the_reference_shape() {
        let page: MemberPage = serde_json::from_str(
            r#"{"owner":"jsmith","total":3,"start":1,"num":100,"nextStart":-1,"users":[
                {"username":"jsmith","fullName":"J","memberType":"owner","joined":1},
                {"username":"pwright","memberType":"admin","joined":2},
                {"username":"mjohnson","memberType":"member","joined":3}]}"#,
        )
        .unwrap();
        let mut members = GroupMembers::default();
        page.users.into_iter().for_each(|e| members.push(e));
        assert_eq!(members.owner, "jsmith");
        assert_eq!(members.admins, ["pwright"]);
        assert_eq!(members.users, ["mjohnson"]);
        assert!(
            serde_json::from_str::<MemberPage>(
                r#"{"users":[{"username":"x","memberType":"boss"}]}"#
            )
            .is_err(),
            "an unknown member type is not guessed"
        );
    }

    #[test]
    fn add_users_requires_not_added() {
        assert!(serde_json::from_str::<AddUsersReply>("{}").is_err());
        let r: AddUsersReply = serde_json::from_str(r#"{"notAdded":["drohner"]}"#).unwrap();
        assert_eq!(r.not_added, ["drohner"]);
    }
}
