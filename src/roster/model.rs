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

/// How the roster's `username` cells name people (`--match-by`, product spec §2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchBy {
    /// A portal username, unless no such user exists and the cell looks like an e-mail address;
    /// then the organization's directory is asked.
    #[default]
    Auto,
    /// Always a portal username; the directory is never read.
    Username,
    /// Always an e-mail address, resolved through the organization's directory.
    Email,
    /// Always an identity-provider (SAML) name, resolved through the organization's directory.
    Idp,
}

impl MatchBy {
    /// Every spelling `--match-by` accepts.
    pub const NAMES: [&'static str; 4] = ["auto", "username", "email", "idp"];
}

impl std::str::FromStr for MatchBy {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "auto" => Ok(MatchBy::Auto),
            "username" => Ok(MatchBy::Username),
            "email" => Ok(MatchBy::Email),
            "idp" => Ok(MatchBy::Idp),
            _ => Err(()),
        }
    }
}

/// The key two group titles are compared by: trimmed, inner whitespace runs collapsed to one
/// space, then [`fold`]ed (product spec §2.2 "Identity").
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
            fold_into(word, &mut key);
        }
        TitleKey(key)
    }

    /// The normalised text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The key two usernames are compared by: trimmed, then [`fold`]ed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserKey(String);

impl UserKey {
    /// Normalise a username into its comparison key.
    pub fn new(username: &str) -> Self {
        let mut key = String::with_capacity(username.len());
        fold_into(username.trim(), &mut key);
        UserKey(key)
    }

    /// The normalised text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The identity fold of titles and usernames: Unicode NFC (so `é` typed as one code point or as
/// `e` + combining accent is one name), then lower case — except for the characters whose
/// canonical form is *another letter* (KELVIN SIGN U+212A → `K`, OHM SIGN U+2126 → `Ω`, ANGSTROM
/// SIGN U+212B → `Å`, and other canonical singletons): NFC and `to_lowercase` would merge them
/// with an ordinary letter, so "kelvin lab" (K) would join "Kelvin Lab" (U+212A). Those are kept
/// as written. No compatibility folding (NFKC) either, for the same reason.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    fold_into(text, &mut out);
    out
}

fn fold_into(text: &str, out: &mut String) {
    use unicode_normalization::char::is_combining_mark;
    // Runs of ordinary text are normalised together (composition needs the neighbours); a kept
    // character ends a run.
    let mut run_start = 0;
    for (i, c) in text.char_indices() {
        if c.is_ascii() || is_combining_mark(c) || !changes_alone_under_nfc(c) {
            continue;
        }
        fold_run(&text[run_start..i], out);
        out.push(c);
        run_start = i + c.len_utf8();
    }
    fold_run(&text[run_start..], out);
}

fn fold_run(run: &str, out: &mut String) {
    use unicode_normalization::UnicodeNormalization;
    if run.is_ascii() {
        out.extend(run.chars().map(|c| c.to_ascii_lowercase()));
    } else {
        out.extend(run.nfc().flat_map(char::to_lowercase));
    }
}

/// Whether NFC maps `c`, alone, to something else: a canonical singleton (U+212A → `K`) or a
/// composition exclusion. Such a character is never what NFC produces, so it is kept distinct.
fn changes_alone_under_nfc(c: char) -> bool {
    use unicode_normalization::UnicodeNormalization;
    let mut nfc = std::iter::once(c).nfc();
    !(nfc.next() == Some(c) && nfc.next().is_none())
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
    /// `owner`: the user a group this run creates is handed to once set up.
    pub owner: Option<String>,
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

#[cfg(test)]
mod identity_tests {
    use super::*;
    use proptest::prelude::*;
    use unicode_normalization::UnicodeNormalization;

    #[test]
    fn nfc_and_nfd_spellings_are_one_title_and_one_user() {
        let nfc = "Caf\u{e9} Fran\u{e7}ais";
        let nfd = "Cafe\u{301} Franc\u{327}ais";
        assert_ne!(nfc, nfd);
        assert_eq!(TitleKey::new(nfc), TitleKey::new(nfd));
        assert_eq!(UserKey::new("jos\u{e9}"), UserKey::new("JOSE\u{301}"));
    }

    #[test]
    fn kelvin_ohm_and_angstrom_signs_stay_distinct_from_letters() {
        assert_ne!(
            TitleKey::new("kelvin lab"),
            TitleKey::new("\u{212A}elvin Lab")
        );
        assert_ne!(
            TitleKey::new("Kelvin Lab"),
            TitleKey::new("\u{212A}elvin Lab")
        );
        assert_eq!(
            TitleKey::new("\u{212A}ELVIN lab"),
            TitleKey::new("\u{212A}elvin LAB")
        );
        assert_ne!(UserKey::new("\u{2126}mega"), UserKey::new("\u{3a9}mega"));
        assert_ne!(UserKey::new("\u{212B}sa"), UserKey::new("\u{c5}sa"));
        assert_eq!(UserKey::new("\u{c5}SA"), UserKey::new("A\u{30a}sa"));
    }

    #[test]
    fn case_and_whitespace_still_fold() {
        assert_eq!(TitleKey::new("  GIS   101 \t"), TitleKey::new("gis 101"));
        assert_eq!(UserKey::new(" Amy.Lee "), UserKey::new("amy.lee"));
        assert_eq!(
            TitleKey::new("\u{3a3}\u{39f}\u{3a6}"),
            TitleKey::new("\u{3c3}\u{3bf}\u{3c6}")
        );
    }

    proptest! {
        #[test]
        fn nfc_and_nfd_of_any_text_share_a_key(s in "\\PC{0,24}") {
            let nfc: String = s.nfc().collect();
            let nfd: String = s.nfd().collect();
            prop_assert_eq!(TitleKey::new(&nfc), TitleKey::new(&nfd));
            prop_assert_eq!(UserKey::new(&nfc), UserKey::new(&nfd));
        }

        #[test]
        fn folding_is_idempotent(s in "\\PC{0,24}") {
            let once = fold(&s);
            prop_assert_eq!(fold(&once), once.clone());
            let title = TitleKey::new(&s);
            prop_assert_eq!(TitleKey::new(title.as_str()), title.clone());
        }

        #[test]
        fn ascii_keys_are_plain_lower_case(s in "[ -~]{0,24}") {
            let key = UserKey::new(&s);
            prop_assert_eq!(key.as_str(), s.trim().to_ascii_lowercase());
        }

        #[test]
        fn a_kept_sign_never_equals_the_letter_it_resembles(prefix in "[a-z]{0,5}", suffix in "[a-z]{0,5}") {
            for (sign, letter) in [('\u{212A}', 'k'), ('\u{2126}', '\u{3c9}'), ('\u{212B}', '\u{e5}')] {
                let with_sign = format!("{prefix}{sign}{suffix}");
                let with_letter = format!("{prefix}{letter}{suffix}");
                prop_assert_ne!(UserKey::new(&with_sign), UserKey::new(&with_letter));
                prop_assert_ne!(TitleKey::new(&with_sign), TitleKey::new(&with_letter));
            }
        }
    }
}
