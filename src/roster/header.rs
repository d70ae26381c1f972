//! Header names → roster fields (product spec §2.1/§2.2): names are matched case-insensitively,
//! ignoring spaces, `_` and `-`, with a fixed alias table. `title` is deliberately not an alias
//! of `group`: HR exports use "Title" for job titles.

use std::borrow::Cow;
use std::fmt;

/// A column the roster (or the `--groups` file) understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    /// `group` — the group title.
    Group,
    /// `group_id` — a 32-hex group id.
    GroupId,
    /// `username`
    Username,
    /// `role`
    Role,
    /// `owner` — who a group this run creates is handed to (a definition column).
    Owner,
    /// `description`
    Description,
    /// `snippet`
    Snippet,
    /// `tags`
    Tags,
    /// `access`
    Access,
    /// `is_invitation_only`
    IsInvitationOnly,
    /// `is_view_only`
    IsViewOnly,
    /// `sort_field`
    SortField,
    /// `sort_order`
    SortOrder,
    /// `membership_access`
    MembershipAccess,
    /// `auto_join`
    AutoJoin,
    /// `leaving_disallowed`
    LeavingDisallowed,
    /// `hidden_members`
    HiddenMembers,
    /// `phone`
    Phone,
}

impl Field {
    /// Every field, in documentation order.
    pub const ALL: [Field; 18] = [
        Field::Group,
        Field::GroupId,
        Field::Username,
        Field::Role,
        Field::Owner,
        Field::Description,
        Field::Snippet,
        Field::Tags,
        Field::Access,
        Field::IsInvitationOnly,
        Field::IsViewOnly,
        Field::SortField,
        Field::SortOrder,
        Field::MembershipAccess,
        Field::AutoJoin,
        Field::LeavingDisallowed,
        Field::HiddenMembers,
        Field::Phone,
    ];

    /// The documented column name.
    pub fn canonical(self) -> &'static str {
        self.names()[0]
    }

    /// The documented name followed by its aliases.
    pub fn names(self) -> &'static [&'static str] {
        match self {
            Field::Group => &["group", "group_title", "group_name"],
            Field::GroupId => &["group_id", "groupid"],
            Field::Username => &["username", "user", "user_name", "member", "login"],
            Field::Role => &["role", "member_type"],
            Field::Owner => &["owner", "group_owner"],
            Field::Description => &["description"],
            Field::Snippet => &["snippet"],
            Field::Tags => &["tags"],
            Field::Access => &["access"],
            Field::IsInvitationOnly => &["is_invitation_only"],
            Field::IsViewOnly => &["is_view_only"],
            Field::SortField => &["sort_field"],
            Field::SortOrder => &["sort_order"],
            Field::MembershipAccess => &["membership_access"],
            Field::AutoJoin => &["auto_join"],
            Field::LeavingDisallowed => &["leaving_disallowed"],
            Field::HiddenMembers => &["hidden_members"],
            Field::Phone => &["phone"],
        }
    }

    /// The field a header cell names, if any.
    pub fn from_header(name: &str) -> Option<Field> {
        let wanted = normalize(name);
        Field::ALL
            .into_iter()
            .find(|f| f.names().iter().any(|alias| normalize(alias) == wanted))
    }

    /// Whether this is a group-definition column (used only when a group is created).
    pub fn is_definition(self) -> bool {
        !matches!(
            self,
            Field::Group | Field::GroupId | Field::Username | Field::Role
        )
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.canonical())
    }
}

/// Items a logged or reported list shows before "… and N more".
const LIST_ITEMS: usize = 20;
/// Characters shown of one item: a header cell may be a megabyte long.
const ITEM_CHARS: usize = 80;

/// `'a', 'b', … and 9,998 more`: a list for logs and messages whose length is bounded however
/// many items (and however long each) the input holds.
pub fn quoted_list<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> String {
    let mut out = String::new();
    let mut more = 0usize;
    for (i, item) in items.into_iter().enumerate() {
        if i >= LIST_ITEMS {
            more += 1;
            continue;
        }
        if i > 0 {
            out.push_str(", ");
        }
        let item = escape_controls(item.as_ref());
        out.push('\'');
        match item.char_indices().nth(ITEM_CHARS) {
            Some((cut, _)) => {
                out.push_str(&item[..cut]);
                out.push('…');
            }
            None => out.push_str(&item),
        }
        out.push('\'');
    }
    if more > 0 {
        out.push_str(&format!(" … and {} more", thousands(more)));
    }
    out
}

/// `text` with every control character written as an escape (`\u{1b}`), so that no raw byte
/// of a roster (a binary file read as text, an ESC in a header) reaches a terminal or a log.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| {
                if c.is_control() {
                    format!("\\u{{{:x}}}", u32::from(c))
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// `9998` → `9,998`.
pub(crate) fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The comparison form of a header name: lower case, without whitespace, `_`, `-` (and without
/// a stray U+FEFF, which some tools leave when a BOM is duplicated).
pub(crate) fn normalize(name: &str) -> String {
    name.chars()
        .filter(|c| !c.is_whitespace() && *c != '_' && *c != '-' && *c != '\u{feff}')
        .flat_map(char::to_lowercase)
        .collect()
}

/// Which column index holds which field, as decided from a header line.
#[derive(Debug, Clone)]
pub struct ColumnMap {
    index: [Option<usize>; Field::ALL.len()],
    names: Vec<String>,
    unknown: Vec<String>,
    /// The column index of each `unknown` entry.
    unknown_index: Vec<usize>,
}

/// Two header cells that name the same field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DuplicateColumn {
    pub(crate) field: Field,
    pub(crate) first: String,
    pub(crate) second: String,
}

impl ColumnMap {
    /// Map header cells (already trimmed) to fields. Unknown names are collected, not errors.
    #[cfg(test)]
    pub(crate) fn new(cells: Vec<String>) -> Result<ColumnMap, DuplicateColumn> {
        ColumnMap::mapped(cells, &[])
    }

    /// Map header cells to fields, `mapped` (field, column index) pairs first (`--column`):
    /// a mapped field and a mapped cell take no part in alias matching.
    pub(crate) fn mapped(
        cells: Vec<String>,
        mapped: &[(Field, usize)],
    ) -> Result<ColumnMap, DuplicateColumn> {
        let mut index = [None; Field::ALL.len()];
        for &(field, i) in mapped {
            index[field.index()] = Some(i);
        }
        let mut unknown = Vec::new();
        let mut unknown_index = Vec::new();
        for (i, cell) in cells.iter().enumerate() {
            if mapped.iter().any(|&(_, m)| m == i) {
                continue;
            }
            match Field::from_header(cell).filter(|f| !mapped.iter().any(|(m, _)| m == f)) {
                Some(field) => {
                    if let Some(first) = index[field.index()] {
                        let first: usize = first;
                        return Err(DuplicateColumn {
                            field,
                            first: cells[first].clone(),
                            second: cell.clone(),
                        });
                    }
                    index[field.index()] = Some(i);
                }
                None => {
                    unknown_index.push(i);
                    unknown.push(if cell.is_empty() {
                        format!("(unnamed column {})", i + 1)
                    } else {
                        cell.clone()
                    });
                }
            }
        }
        Ok(ColumnMap {
            index,
            names: cells,
            unknown,
            unknown_index,
        })
    }

    /// The column whose header is `header` (exact text, case-insensitive), for `--column` and
    /// `--group-title` placeholders.
    pub(crate) fn find(cells: &[String], header: &str) -> Option<usize> {
        let wanted = header.trim().to_lowercase();
        cells.iter().position(|c| c.to_lowercase() == wanted)
    }

    /// The header cells, as written (control characters escaped).
    pub(crate) fn names(&self) -> &[String] {
        &self.names
    }

    /// Column `i` is used although it names no field (a `--group-title` placeholder): it is not
    /// reported as ignored.
    pub(crate) fn use_column(&mut self, i: usize) {
        if let Some(at) = self.unknown_index.iter().position(|&u| u == i) {
            self.unknown_index.remove(at);
            self.unknown.remove(at);
        }
    }

    /// The column index of `field`, if the header has it.
    #[inline]
    pub fn get(&self, field: Field) -> Option<usize> {
        self.index[field.index()]
    }

    /// Whether the header has `field`.
    pub fn has(&self, field: Field) -> bool {
        self.get(field).is_some()
    }

    /// The header cell naming `field`, as written in the file (for messages); the canonical
    /// name when the header lacks it.
    pub fn name(&self, field: Field) -> &str {
        match self.get(field) {
            Some(i) => &self.names[i],
            None => field.canonical(),
        }
    }

    /// The header cell of column `i`, as written.
    pub fn column_name(&self, i: usize) -> &str {
        self.names.get(i).map(String::as_str).unwrap_or("")
    }

    /// Number of columns in the header.
    pub fn width(&self) -> usize {
        self.names.len()
    }

    /// Header cells that name no known field (ignored).
    pub fn unknown(&self) -> &[String] {
        &self.unknown
    }

    /// The definition columns present, with their indices.
    pub(crate) fn definition_columns(&self) -> impl Iterator<Item = (Field, usize)> + '_ {
        Field::ALL
            .into_iter()
            .filter(|f| f.is_definition())
            .filter_map(|f| self.get(f).map(|i| (f, i)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(cells: &[&str]) -> Result<ColumnMap, DuplicateColumn> {
        ColumnMap::new(cells.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn aliases_match_ignoring_case_spaces_underscores_dashes() {
        for (name, field) in [
            ("Group Name", Field::Group),
            ("GROUP_TITLE", Field::Group),
            ("group", Field::Group),
            ("Group-ID", Field::GroupId),
            ("groupid", Field::GroupId),
            ("User Name", Field::Username),
            ("user", Field::Username),
            ("Member", Field::Username),
            ("LOGIN", Field::Username),
            ("Member Type", Field::Role),
            ("Is Invitation Only", Field::IsInvitationOnly),
            ("sort-order", Field::SortOrder),
            ("Phone", Field::Phone),
        ] {
            assert_eq!(Field::from_header(name), Some(field), "{name}");
        }
    }

    #[test]
    fn title_is_not_a_group_alias() {
        assert_eq!(Field::from_header("Title"), None);
        assert_eq!(Field::from_header("Job Title"), None);
    }

    #[test]
    fn two_columns_for_one_field_are_refused() {
        let err = map(&["group", "Group Name", "username"]).unwrap_err();
        assert_eq!(err.field, Field::Group);
        assert_eq!(err.first, "group");
        assert_eq!(err.second, "Group Name");
    }

    #[test]
    fn lists_are_bounded_with_a_count() {
        assert_eq!(quoted_list(["a", "b"]), "'a', 'b'");
        assert_eq!(quoted_list(Vec::<String>::new()), "");
        let many: Vec<String> = (0..10_018).map(|i| i.to_string()).collect();
        let text = quoted_list(&many);
        assert!(text.starts_with("'0', '1', "), "{text}");
        assert!(text.ends_with("'19' … and 9,998 more"), "{text}");
        let long = "x".repeat(1 << 20);
        assert_eq!(quoted_list([&long]).len(), 80 + "''…".len());
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn unknown_columns_are_collected() {
        let m = map(&[
            "Employee ID",
            "User Name",
            "Group Name",
            "Role",
            "Job Title",
            "",
        ])
        .unwrap();
        assert_eq!(
            m.unknown(),
            ["Employee ID", "Job Title", "(unnamed column 6)"]
        );
        assert_eq!(m.get(Field::Username), Some(1));
        assert_eq!(m.name(Field::Group), "Group Name");
        assert_eq!(m.name(Field::Tags), "tags");
        assert_eq!(m.width(), 6);
    }
}
