//! The kinds of request the client sends. One enum names them for statistics, logs and error
//! messages, and says which HTTP method each uses and whether it changes portal state.

use std::fmt;

/// One kind of portal request (one per endpoint the client calls).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RequestKind {
    /// `POST generateToken`
    GenerateToken,
    /// `GET portals/self`
    PortalSelf,
    /// `GET community/self`
    CommunitySelf,
    /// `GET community/groups` (search)
    Search,
    /// `GET community/groups/{id}`
    Group,
    /// `GET community/groups/{id}/userList` (paged)
    Members,
    /// `POST community/createGroup`
    CreateGroup,
    /// `POST community/groups/{id}/addUsers`
    AddUsers,
    /// `POST community/groups/{id}/removeUsers`
    RemoveUsers,
    /// `GET community/users/{username}`
    User,
    /// `GET portals/self/users/search` (the organization's user directory)
    OrgUsers,
    /// `POST community/groups/{id}/reassign`
    Reassign,
    /// `POST community/groups/{id}/invite`
    Invite,
    /// `GET community/groups/{id}/invitations` (undocumented; may be absent)
    GroupInvitations,
}

impl RequestKind {
    /// Every kind, in a fixed order (the index of a kind in this array is its stats slot).
    pub const ALL: [RequestKind; 14] = [
        RequestKind::GenerateToken,
        RequestKind::PortalSelf,
        RequestKind::CommunitySelf,
        RequestKind::Search,
        RequestKind::Group,
        RequestKind::Members,
        RequestKind::CreateGroup,
        RequestKind::AddUsers,
        RequestKind::RemoveUsers,
        RequestKind::User,
        RequestKind::OrgUsers,
        RequestKind::Reassign,
        RequestKind::Invite,
        RequestKind::GroupInvitations,
    ];

    /// The name used in statistics and logs (`"portals/self"`, `"addUsers"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::GenerateToken => "generateToken",
            RequestKind::PortalSelf => "portals/self",
            RequestKind::CommunitySelf => "community/self",
            RequestKind::Search => "search",
            RequestKind::Group => "group",
            RequestKind::Members => "members",
            RequestKind::CreateGroup => "createGroup",
            RequestKind::AddUsers => "addUsers",
            RequestKind::RemoveUsers => "removeUsers",
            RequestKind::User => "user",
            RequestKind::OrgUsers => "portals/self/users",
            RequestKind::Reassign => "reassign",
            RequestKind::Invite => "invite",
            RequestKind::GroupInvitations => "invitations",
        }
    }

    /// Whether the request changes portal state (so a lost response leaves it ambiguous).
    /// `generateToken` issues a token but changes nothing the run cares about.
    pub fn is_write(self) -> bool {
        matches!(
            self,
            RequestKind::CreateGroup
                | RequestKind::AddUsers
                | RequestKind::RemoveUsers
                | RequestKind::Reassign
                | RequestKind::Invite
        )
    }

    /// Operations are form-encoded POSTs (the portal only accepts POST for them); resources
    /// are read with GET, their documented method.
    pub fn is_post(self) -> bool {
        self.is_write() || self == RequestKind::GenerateToken
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for RequestKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_in_index_order() {
        for (i, kind) in RequestKind::ALL.iter().enumerate() {
            assert_eq!(kind.index(), i);
        }
    }
}
