//! Group definitions (product spec §2.3): the description, tags, access… of groups to create.
//!
//! In the roster, definition columns may be repeated on every row of a group or given once: the
//! first non-empty value of each column wins, and a later different value is a warning naming
//! the line, the group, the column and both values. The optional `--groups` file (same columns,
//! one row per group, no `username`) wins over the roster; groups it lists that the roster
//! never mentions are ignored and reported once.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use super::error::RosterError;
use super::header::{ColumnMap, Field, escape_controls};
use super::input::{self, RosterOptions};
use super::model::{
    Access, GroupDefinition, GroupKey, GroupRef, MembershipAccess, SortField, SortOrder,
};
use super::records::RawRecord;
use super::rules;

/// Tags given to a created group whose definition has none.
pub const DEFAULT_TAGS: &str = "bulk-groups";

/// At most this many conflicts are kept for reports (all are counted).
const MAX_KEPT_CONFLICTS: usize = 1000;

/// A later roster value that differs from the first one (which wins).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefinitionConflict {
    /// The roster line of the differing value.
    pub line: u64,
    /// The group, as first written.
    pub group: String,
    /// The column, as written in the header.
    pub column: String,
    /// The value in force (the first one).
    pub kept: String,
    /// The differing, ignored value.
    pub ignored: String,
}

impl std::fmt::Display for DefinitionConflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {}: group '{}': {} '{}' differs from the first value '{}'; the first one is used",
            self.line,
            self.group,
            self.column,
            escape_controls(&self.ignored),
            escape_controls(&self.kept)
        )
    }
}

/// One parsed definition value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum DefValue<'a> {
    Text(Cow<'a, str>),
    Bool(bool),
    Access(Access),
    SortField(SortField),
    SortOrder(SortOrder),
    MembershipAccess(MembershipAccess),
}

impl DefValue<'_> {
    fn display(&self) -> String {
        match self {
            DefValue::Text(t) => t.to_string(),
            DefValue::Bool(b) => b.to_string(),
            DefValue::Access(a) => a.as_str().to_owned(),
            DefValue::SortField(s) => s.as_str().to_owned(),
            DefValue::SortOrder(s) => s.as_str().to_owned(),
            DefValue::MembershipAccess(m) => m.as_str().to_owned(),
        }
    }
}

/// Parse one definition cell (trimmed). `Ok(None)` for an empty cell.
pub(crate) fn parse_cell<'a>(
    field: Field,
    column: &str,
    cell: &'a str,
) -> Result<Option<DefValue<'a>>, String> {
    if cell.is_empty() {
        return Ok(None);
    }
    Ok(Some(match field {
        Field::Description | Field::Phone => DefValue::Text(Cow::Borrowed(cell)),
        Field::Owner => {
            rules::username(column, cell)?;
            DefValue::Text(Cow::Borrowed(cell))
        }
        Field::Snippet => {
            rules::snippet(column, cell)?;
            DefValue::Text(Cow::Borrowed(cell))
        }
        Field::Tags => match rules::tags(cell) {
            Some(tags) => DefValue::Text(tags),
            None => return Ok(None),
        },
        Field::Access => DefValue::Access(rules::access(column, cell)?),
        Field::SortField => DefValue::SortField(rules::sort_field(column, cell)?),
        Field::SortOrder => DefValue::SortOrder(rules::sort_order(column, cell)?),
        Field::MembershipAccess => {
            DefValue::MembershipAccess(rules::membership_access(column, cell)?)
        }
        Field::IsInvitationOnly
        | Field::IsViewOnly
        | Field::AutoJoin
        | Field::LeavingDisallowed
        | Field::HiddenMembers => DefValue::Bool(rules::boolean(column, cell)?),
        Field::Group | Field::GroupId | Field::Username | Field::Role => {
            unreachable!("{field} is not a definition column")
        }
    }))
}

fn get(def: &GroupDefinition, field: Field) -> Option<DefValue<'_>> {
    fn text(t: &Option<String>) -> Option<DefValue<'_>> {
        t.as_deref().map(|s| DefValue::Text(Cow::Borrowed(s)))
    }
    match field {
        Field::Owner => text(&def.owner),
        Field::Description => text(&def.description),
        Field::Snippet => text(&def.snippet),
        Field::Tags => text(&def.tags),
        Field::Phone => text(&def.phone),
        Field::Access => def.access.map(DefValue::Access),
        Field::IsInvitationOnly => def.is_invitation_only.map(DefValue::Bool),
        Field::IsViewOnly => def.is_view_only.map(DefValue::Bool),
        Field::SortField => def.sort_field.map(DefValue::SortField),
        Field::SortOrder => def.sort_order.map(DefValue::SortOrder),
        Field::MembershipAccess => def.membership_access.map(DefValue::MembershipAccess),
        Field::AutoJoin => def.auto_join.map(DefValue::Bool),
        Field::LeavingDisallowed => def.leaving_disallowed.map(DefValue::Bool),
        Field::HiddenMembers => def.hidden_members.map(DefValue::Bool),
        Field::Group | Field::GroupId | Field::Username | Field::Role => None,
    }
}

fn set(def: &mut GroupDefinition, field: Field, value: DefValue<'_>) {
    match (field, value) {
        (Field::Owner, DefValue::Text(t)) => def.owner = Some(t.into_owned()),
        (Field::Description, DefValue::Text(t)) => def.description = Some(t.into_owned()),
        (Field::Snippet, DefValue::Text(t)) => def.snippet = Some(t.into_owned()),
        (Field::Tags, DefValue::Text(t)) => def.tags = Some(t.into_owned()),
        (Field::Phone, DefValue::Text(t)) => def.phone = Some(t.into_owned()),
        (Field::Access, DefValue::Access(a)) => def.access = Some(a),
        (Field::IsInvitationOnly, DefValue::Bool(b)) => def.is_invitation_only = Some(b),
        (Field::IsViewOnly, DefValue::Bool(b)) => def.is_view_only = Some(b),
        (Field::SortField, DefValue::SortField(s)) => def.sort_field = Some(s),
        (Field::SortOrder, DefValue::SortOrder(s)) => def.sort_order = Some(s),
        (Field::MembershipAccess, DefValue::MembershipAccess(m)) => def.membership_access = Some(m),
        (Field::AutoJoin, DefValue::Bool(b)) => def.auto_join = Some(b),
        (Field::LeavingDisallowed, DefValue::Bool(b)) => def.leaving_disallowed = Some(b),
        (Field::HiddenMembers, DefValue::Bool(b)) => def.hidden_members = Some(b),
        (field, value) => unreachable!("{field} cannot hold {value:?}"),
    }
}

/// Field-by-field: `over` where it has a value, else `under`.
fn overlay(over: &GroupDefinition, under: &GroupDefinition) -> GroupDefinition {
    GroupDefinition {
        owner: over.owner.clone().or_else(|| under.owner.clone()),
        description: over
            .description
            .clone()
            .or_else(|| under.description.clone()),
        snippet: over.snippet.clone().or_else(|| under.snippet.clone()),
        tags: over.tags.clone().or_else(|| under.tags.clone()),
        access: over.access.or(under.access),
        is_invitation_only: over.is_invitation_only.or(under.is_invitation_only),
        is_view_only: over.is_view_only.or(under.is_view_only),
        sort_field: over.sort_field.or(under.sort_field),
        sort_order: over.sort_order.or(under.sort_order),
        membership_access: over.membership_access.or(under.membership_access),
        auto_join: over.auto_join.or(under.auto_join),
        leaving_disallowed: over.leaving_disallowed.or(under.leaving_disallowed),
        hidden_members: over.hidden_members.or(under.hidden_members),
        phone: over.phone.clone().or_else(|| under.phone.clone()),
    }
}

#[derive(Debug, Clone)]
struct Entry {
    key: GroupKey,
    /// The title (or id) as first written.
    title: String,
    /// The first roster line naming the group; `None` if only the `--groups` file lists it.
    first_line: Option<u64>,
    roster: GroupDefinition,
    file: Option<GroupDefinition>,
}

/// The group definitions of a run: roster values merged with the `--groups` file's.
#[derive(Debug, Clone, Default)]
pub struct Definitions {
    index: HashMap<GroupKey, usize>,
    entries: Vec<Entry>,
    conflicts: Vec<DefinitionConflict>,
    conflict_count: u64,
    /// (group index, field) pairs already warned about: one log line each, not one per row.
    warned: HashSet<(usize, Field)>,
    /// No logging (the scan pass; the streaming pass logs).
    quiet: bool,
    /// The title first written beside each `group_id`: the group to use when the id is unknown
    /// to the portal (a roster exported from another portal).
    titles_beside_ids: HashMap<GroupKey, String>,
}

impl Definitions {
    /// Definitions that log conflicts and unused `--groups` entries (the rows pass).
    pub(crate) fn logged() -> Definitions {
        Definitions::default()
    }

    /// Definitions that log nothing (the scan ahead of the rows pass, which logs).
    pub(crate) fn quiet() -> Definitions {
        Definitions {
            quiet: true,
            ..Definitions::default()
        }
    }

    /// The definition to create the group with: the `--groups` file's values, then the
    /// roster's, then the defaults (`access=private`, `tags=bulk-groups`).
    pub fn get(&self, key: &GroupKey) -> GroupDefinition {
        let mut def = self.explicit(key);
        def.access.get_or_insert(Access::Private);
        def.tags.get_or_insert_with(|| DEFAULT_TAGS.to_owned());
        def
    }

    /// The values actually given (groups file over roster), without defaults.
    pub fn explicit(&self, key: &GroupKey) -> GroupDefinition {
        match self.index.get(key).map(|&i| &self.entries[i]) {
            Some(Entry {
                file: Some(file),
                roster,
                ..
            }) => overlay(file, roster),
            Some(entry) => entry.roster.clone(),
            None => GroupDefinition::default(),
        }
    }

    /// The group's title (or id) as first written, if known.
    pub fn title(&self, key: &GroupKey) -> Option<&str> {
        self.index.get(key).map(|&i| self.entries[i].title.as_str())
    }

    /// The first roster line naming the group (`None` if the roster never names it).
    pub fn first_line(&self, key: &GroupKey) -> Option<u64> {
        self.index
            .get(key)
            .and_then(|&i| self.entries[i].first_line)
    }

    /// The groups the roster names (valid rows only), in order of first appearance, with their
    /// titles as first written.
    pub fn roster_groups(&self) -> impl Iterator<Item = (&GroupKey, &str)> {
        self.entries
            .iter()
            .filter(|e| e.first_line.is_some())
            .map(|e| (&e.key, e.title.as_str()))
    }

    /// Number of groups the roster names.
    pub fn roster_group_count(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| e.first_line.is_some())
            .count()
    }

    /// Groups the `--groups` file lists but the roster (so far) never names: ignored.
    pub fn unused_file_groups(&self) -> Vec<&str> {
        self.entries
            .iter()
            .filter(|e| e.first_line.is_none() && e.file.is_some())
            .map(|e| e.title.as_str())
            .collect()
    }

    /// Conflicting later values (at most the first 1,000 are kept; see
    /// [`conflict_count`](Self::conflict_count)).
    pub fn conflicts(&self) -> &[DefinitionConflict] {
        &self.conflicts
    }

    /// How many conflicting later values the roster had in total.
    pub fn conflict_count(&self) -> u64 {
        self.conflict_count
    }

    /// Record the title a row gives beside the group id `key` (the first one wins).
    pub(crate) fn note_title_beside_id(&mut self, key: &GroupKey, title: String) {
        self.titles_beside_ids.entry(key.clone()).or_insert(title);
    }

    /// The title first written beside the group id `key`, if any.
    pub fn title_beside_id(&self, key: &GroupKey) -> Option<&str> {
        self.titles_beside_ids.get(key).map(String::as_str)
    }

    /// The index of a roster group, created on first sight.
    pub(crate) fn roster_group(&mut self, key: &GroupKey, title: &str, line: u64) -> usize {
        if let Some(&i) = self.index.get(key) {
            let entry = &mut self.entries[i];
            if entry.first_line.is_none() {
                entry.first_line = Some(line);
                title.clone_into(&mut entry.title);
            }
            return i;
        }
        self.push(key.clone(), title, Some(line))
    }

    fn push(&mut self, key: GroupKey, title: &str, first_line: Option<u64>) -> usize {
        let i = self.entries.len();
        self.index.insert(key.clone(), i);
        self.entries.push(Entry {
            key,
            title: title.to_owned(),
            first_line,
            roster: GroupDefinition::default(),
            file: None,
        });
        i
    }

    /// Merge one roster value into group `group`: first value wins, a different later value is
    /// a conflict.
    pub(crate) fn merge(
        &mut self,
        group: usize,
        field: Field,
        column: &str,
        value: DefValue<'_>,
        line: u64,
    ) {
        let entry = &mut self.entries[group];
        let ignored = match get(&entry.roster, field) {
            None => {
                set(&mut entry.roster, field, value);
                return;
            }
            Some(kept) if kept == value => return,
            Some(kept) => kept.display(),
        };
        let conflict = DefinitionConflict {
            line,
            group: entry.title.clone(),
            column: column.to_owned(),
            kept: ignored,
            ignored: value.display(),
        };
        self.conflict_count += 1;
        if !self.quiet && self.warned.insert((group, field)) {
            tracing::warn!(
                line,
                group = %conflict.group,
                column,
                "{conflict} (further differing values of this column for this group are not logged)"
            );
        }
        if self.conflicts.len() < MAX_KEPT_CONFLICTS {
            self.conflicts.push(conflict);
        }
    }

    /// Log, once, the `--groups` file's groups the roster never named.
    pub(crate) fn report_unused(&self) {
        let unused = self.unused_file_groups();
        if !self.quiet && !unused.is_empty() {
            tracing::warn!(
                count = unused.len(),
                "the groups file lists {} group(s) the roster never names; ignored: {}",
                unused.len(),
                super::header::quoted_list(&unused)
            );
        }
    }

    /// Read the `--groups` file into this (empty) set of definitions.
    pub(crate) fn load_groups_file(
        &mut self,
        path: &Path,
        options: &RosterOptions,
    ) -> Result<(), RosterError> {
        let what = format!("groups file {}", input::quote_path(path));
        let file = input::open_file(path, &what)?;
        let named = input::Named {
            what: &what,
            path: Some(path),
            roster: false,
        };
        let mut opened = input::open(file, &named, options, Arc::new(AtomicU64::new(0)))?;
        let columns = &opened.columns;
        check_groups_header(columns, &what)?;
        if !self.quiet {
            warn_ignored_columns(columns, &what);
        }
        let mut rec = RawRecord::default();
        let mut seen: HashMap<GroupKey, u64> = HashMap::new();
        loop {
            match opened.records.read_record(&mut rec) {
                Ok(true) => {}
                Ok(false) => break,
                Err(source) => return Err(RosterError::Read { what, source }),
            }
            let line = rec.line;
            let bad = |reason: String| RosterError::GroupsFile {
                what: what.clone(),
                line,
                reason,
            };
            let Some((group, def)) = groups_file_row(columns, &rec).map_err(bad)? else {
                continue;
            };
            let key = group.key();
            if let Some(first) = seen.insert(key.clone(), line) {
                return Err(bad(format!(
                    "group '{}' is already defined on line {first}; define each group once",
                    group.display()
                )));
            }
            let i = self.push(key, group.display(), None);
            self.entries[i].file = Some(def);
        }
        Ok(())
    }
}

/// A groups file must name its groups.
fn check_groups_header(columns: &ColumnMap, what: &str) -> Result<(), RosterError> {
    if !columns.has(Field::Group) && !columns.has(Field::GroupId) {
        return Err(RosterError::MissingColumn {
            what: what.to_owned(),
            message: format!(
                "no group column (accepted names: {}, or {}); the header has: {}",
                Field::Group.names().join(", "),
                Field::GroupId.canonical(),
                quote_list(columns)
            ),
        });
    }
    Ok(())
}

/// A membership's columns (and unknown ones) in a groups file are ignored, with a warning.
fn warn_ignored_columns(columns: &ColumnMap, what: &str) {
    let ignored: Vec<&str> = [Field::Username, Field::Role]
        .into_iter()
        .filter(|f| columns.has(*f))
        .map(|f| columns.name(f))
        .chain(columns.unknown().iter().map(String::as_str))
        .collect();
    if !ignored.is_empty() {
        tracing::warn!(
            "{what}: ignoring columns that are not group definitions: {}",
            super::header::quoted_list(ignored)
        );
    }
}

/// One row of a groups file: the group it defines and the definition, `None` for a blank row,
/// or why the row is unusable.
fn groups_file_row(
    columns: &ColumnMap,
    rec: &RawRecord,
) -> Result<Option<(GroupRef, GroupDefinition)>, String> {
    if rec.data.iter().all(|b| *b == b' ' || *b == b'\t') && !rec.unterminated_quote {
        return Ok(None);
    }
    if rec.unterminated_quote || rec.truncated {
        return Err("a quoted field is never closed (unbalanced \")".to_owned());
    }
    if rec.len() != columns.width() {
        return Err(format!(
            "the row has {} fields but the header has {}",
            rec.len(),
            columns.width()
        ));
    }
    let mut cells = Vec::with_capacity(rec.len());
    for i in 0..rec.len() {
        match std::str::from_utf8(rec.field(i)) {
            Ok(s) => cells.push(s.trim()),
            Err(_) => return Err(rules::NOT_UTF8.to_owned()),
        }
    }
    let cell = |f: Field| columns.get(f).map(|i| cells[i]).unwrap_or("");
    let group = match (cell(Field::GroupId), cell(Field::Group)) {
        ("", "") => return Err("no group named on this row".to_owned()),
        ("", title) => GroupRef::Title(rules::group_title(columns.name(Field::Group), title)?),
        (id, _) => GroupRef::Id(rules::group_id(columns.name(Field::GroupId), id)?),
    };
    let mut def = GroupDefinition::default();
    for (field, i) in columns.definition_columns() {
        if let Some(value) = parse_cell(field, columns.column_name(i), cells[i])? {
            set(&mut def, field, value);
        }
    }
    Ok(Some((group, def)))
}

/// The header cells, quoted, for messages.
pub(crate) fn quote_list(columns: &ColumnMap) -> String {
    super::header::quoted_list((0..columns.width()).map(|i| columns.column_name(i)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roster::model::TitleKey;

    fn key(t: &str) -> GroupKey {
        GroupKey::Title(TitleKey::new(t))
    }

    #[test]
    fn first_value_wins_and_conflicts_are_recorded() {
        let mut d = Definitions::quiet();
        let g = d.roster_group(&key("GIS 101"), "GIS 101", 2);
        d.merge(g, Field::Access, "access", DefValue::Access(Access::Org), 2);
        d.merge(g, Field::Access, "access", DefValue::Access(Access::Org), 3);
        d.merge(
            g,
            Field::Access,
            "Access",
            DefValue::Access(Access::Public),
            4,
        );
        assert_eq!(d.get(&key("gis  101")).access, Some(Access::Org));
        assert_eq!(d.conflict_count(), 1);
        let c = &d.conflicts()[0];
        assert_eq!(
            (c.line, c.kept.as_str(), c.ignored.as_str()),
            (4, "org", "public")
        );
        assert_eq!(
            c.to_string(),
            "line 4: group 'GIS 101': Access 'public' differs from the first value 'org'; the first one is used"
        );
    }

    #[test]
    fn conflicting_values_are_shown_without_control_characters() {
        let mut d = Definitions::quiet();
        let g = d.roster_group(&key("g"), "g", 2);
        let text = |t: &'static str| DefValue::Text(t.into());
        d.merge(
            g,
            Field::Description,
            "description",
            text("Line one\nline two"),
            2,
        );
        d.merge(
            g,
            Field::Description,
            "description",
            text("\u{1b}[31mred"),
            3,
        );
        assert_eq!(
            d.conflicts()[0].to_string(),
            "line 3: group 'g': description '\\u{1b}[31mred' differs from the first value 'Line one\\u{a}line two'; the first one is used"
        );
    }

    #[test]
    fn defaults_apply_only_when_absent() {
        let mut d = Definitions::quiet();
        let g = d.roster_group(&key("a"), "a", 2);
        assert_eq!(d.get(&key("a")).access, Some(Access::Private));
        assert_eq!(d.get(&key("a")).tags.as_deref(), Some(DEFAULT_TAGS));
        assert_eq!(d.explicit(&key("a")).tags, None);
        d.merge(g, Field::Tags, "tags", DefValue::Text("x,y".into()), 3);
        assert_eq!(d.get(&key("a")).tags.as_deref(), Some("x,y"));
        assert_eq!(d.get(&key("unknown")).access, Some(Access::Private));
    }

    #[test]
    fn owner_is_a_username_column() {
        assert_eq!(Field::from_header("Group Owner"), Some(Field::Owner));
        assert!(Field::Owner.is_definition());
        assert_eq!(
            parse_cell(Field::Owner, "owner", "jsmith"),
            Ok(Some(DefValue::Text("jsmith".into())))
        );
        let bad = parse_cell(Field::Owner, "Group Owner", "J Smith").unwrap_err();
        assert!(bad.contains("Group Owner"), "{bad}");
    }

    #[test]
    fn cells_parse_to_values() {
        assert_eq!(
            parse_cell(Field::Access, "access", "PUBLIC"),
            Ok(Some(DefValue::Access(Access::Public)))
        );
        assert_eq!(
            parse_cell(Field::AutoJoin, "auto_join", "yes"),
            Ok(Some(DefValue::Bool(true)))
        );
        assert_eq!(parse_cell(Field::Tags, "tags", " , "), Ok(None));
        assert_eq!(parse_cell(Field::Description, "description", ""), Ok(None));
        assert!(parse_cell(Field::SortOrder, "sort_order", "up").is_err());
    }
}
