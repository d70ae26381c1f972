//! The roster's data model: what one validated row means. Shared by the reader (which produces
//! it), `validate` (which reports it) and the import engine (which acts on it).

use std::fmt;

/// A member's role in a group, normalised from the roster's `role` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A plain member (addUsers `users`).
    #[default]
    Member,
    /// A group manager (addUsers `admins`).
    Admin,
}

impl Role {
    /// The spelling used in the results file.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The key two group titles are compared by: trimmed, inner whitespace runs collapsed to one
/// space, lower-cased (product spec §2.2 "Identity").
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TitleKey(String);

impl TitleKey {
    /// Normalise a title into its comparison key.
    pub fn new(title: &str) -> Self {
        let mut key = String::with_capacity(title.len());
        for word in title.split_whitespace() {
            if !key.is_empty() {
                key.push(' ');
            }
            key.extend(word.chars().flat_map(char::to_lowercase));
        }
        TitleKey(key)
    }

    /// The normalised text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The key two usernames are compared by: trimmed and lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserKey(String);

impl UserKey {
    /// Normalise a username into its comparison key.
    pub fn new(username: &str) -> Self {
        UserKey(username.trim().to_lowercase())
    }

    /// The normalised text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Which group a row targets.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum GroupRef {
    /// An existing group by its 32-hex id (lower-cased); never created.
    Id(String),
    /// A group by title (trimmed, as written in the roster; inner whitespace collapsed).
    Title(String),
}

/// The identity of a group within one run: rows with equal keys belong to the same group.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GroupKey {
    /// Keyed by id.
    Id(String),
    /// Keyed by normalised title.
    Title(TitleKey),
}

impl GroupRef {
    /// The identity key of this reference.
    pub fn key(&self) -> GroupKey {
        match self {
            GroupRef::Id(id) => GroupKey::Id(id.clone()),
            GroupRef::Title(title) => GroupKey::Title(TitleKey::new(title)),
        }
    }

    /// What the results file shows in its `group` column before the group is resolved.
    pub fn display(&self) -> &str {
        match self {
            GroupRef::Id(id) => id,
            GroupRef::Title(title) => title,
        }
    }
}

/// `access` of a group to create.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Access {
    /// Only members (the default for groups this tool creates).
    #[default]
    Private,
    /// The organization.
    Org,
    /// Everyone.
    Public,
}

impl Access {
    /// The REST parameter value.
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Private => "private",
            Access::Org => "org",
            Access::Public => "public",
        }
    }
}

/// `sortField` of a group to create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortField {
    /// `title`
    Title,
    /// `owner`
    Owner,
    /// `avgrating`
    AvgRating,
    /// `numviews`
    NumViews,
    /// `created`
    Created,
    /// `modified`
    Modified,
}

impl SortField {
    /// The REST parameter value.
    pub fn as_str(self) -> &'static str {
        match self {
            SortField::Title => "title",
            SortField::Owner => "owner",
            SortField::AvgRating => "avgrating",
            SortField::NumViews => "numviews",
            SortField::Created => "created",
            SortField::Modified => "modified",
        }
    }
}

/// `sortOrder` of a group to create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    /// `asc`
    Asc,
    /// `desc`
    Desc,
}

impl SortOrder {
    /// The REST parameter value.
    pub fn as_str(self) -> &'static str {
        match self {
            SortOrder::Asc => "asc",
            SortOrder::Desc => "desc",
        }
    }
}

/// `membershipAccess` of a group to create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembershipAccess {
    /// `org`
    Org,
    /// `collaboration`
    Collaboration,
    /// `none`
    None,
}

impl MembershipAccess {
    /// The REST parameter value.
    pub fn as_str(self) -> &'static str {
        match self {
            MembershipAccess::Org => "org",
            MembershipAccess::Collaboration => "collaboration",
            MembershipAccess::None => "none",
        }
    }
}

/// Group-definition columns (product spec §2.2/§2.3). Every field is optional: `None` means the
/// column was absent or empty. Used only when a group is created; existing groups are never
/// modified.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupDefinition {
    /// `description`
    pub description: Option<String>,
    /// `snippet`
    pub snippet: Option<String>,
    /// `tags`, comma-separated as the portal takes them.
    pub tags: Option<String>,
    /// `access`
    pub access: Option<Access>,
    /// `is_invitation_only`
    pub is_invitation_only: Option<bool>,
    /// `is_view_only`
    pub is_view_only: Option<bool>,
    /// `sort_field`
    pub sort_field: Option<SortField>,
    /// `sort_order`
    pub sort_order: Option<SortOrder>,
    /// `membership_access`
    pub membership_access: Option<MembershipAccess>,
    /// `auto_join`
    pub auto_join: Option<bool>,
    /// `leaving_disallowed`
    pub leaving_disallowed: Option<bool>,
    /// `hidden_members`
    pub hidden_members: Option<bool>,
    /// `phone`
    pub phone: Option<String>,
}

/// One valid membership row: put `username` into `group` with `role`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// Which group.
    pub group: GroupRef,
    /// The username as written (trimmed).
    pub username: String,
    /// The normalised role.
    pub role: Role,
}

/// What the reader made of one data row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowKind {
    /// A valid membership, seen for the first time in this roster.
    Membership(Membership),
    /// A repeat of an earlier (group, username) pair; never sent. `reason` names the first line,
    /// and says so when the role differs ("the first row wins").
    Duplicate {
        /// The repeated membership, as written on this row.
        membership: Membership,
        /// Why it is a duplicate, for the results file.
        reason: String,
    },
    /// A row that failed validation. `group`/`username` are whatever could be read, for the
    /// results file; `reason` names the column.
    Invalid {
        /// The group cell as read (may be empty).
        group: String,
        /// The username cell as read (may be empty).
        username: String,
        /// The column at fault (`None` for row-level problems such as a ragged row).
        column: Option<String>,
        /// A sentence saying what is wrong and how to fix it.
        reason: String,
    },
}

/// One data row of the roster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The physical line on which the record starts (the header is line 1).
    pub line: u64,
    /// What the row means.
    pub kind: RowKind,
}
