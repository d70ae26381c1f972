//! The client's own request types, so `portal` never imports `roster`: the engine translates
//! a roster's group definition and role into these.

/// Which addUsers list a name goes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A plain member (`users=`).
    Member,
    /// A group manager (`admins=`).
    Admin,
}

impl Role {
    /// The addUsers form field for this role.
    pub(crate) fn field(self) -> &'static str {
        match self {
            Role::Member => "users",
            Role::Admin => "admins",
        }
    }

    /// The invite `role` value for this role.
    pub(crate) fn invitation_role(self) -> &'static str {
        match self {
            Role::Member => "group_member",
            Role::Admin => "group_admin",
        }
    }
}

/// The optional createGroup fields, in the portal's spelling; `None` leaves the portal's
/// default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewGroup {
    /// `description`.
    pub description: Option<String>,
    /// `snippet`.
    pub snippet: Option<String>,
    /// `tags`, comma-separated.
    pub tags: Option<String>,
    /// `phone`.
    pub phone: Option<String>,
    /// `access` (`private`, `org`, `public`).
    pub access: Option<&'static str>,
    /// `sortField`.
    pub sort_field: Option<&'static str>,
    /// `sortOrder`.
    pub sort_order: Option<&'static str>,
    /// `membershipAccess`.
    pub membership_access: Option<&'static str>,
    /// `isInvitationOnly`.
    pub is_invitation_only: Option<bool>,
    /// `isViewOnly`.
    pub is_view_only: Option<bool>,
    /// `autoJoin`.
    pub auto_join: Option<bool>,
    /// `leavingDisallowed`.
    pub leaving_disallowed: Option<bool>,
    /// `hiddenMembers`.
    pub hidden_members: Option<bool>,
}
