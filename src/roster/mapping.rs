//! Rosters as they come (product spec §2.4): `--column FIELD=HEADER`, `--group-title TEMPLATE`
//! and `--role-map VALUE=ROLE,…`. Parsed here from their command-line (or profile) spelling;
//! applied to a header by [`ColumnMap::mapped`](super::ColumnMap::mapped) and to each row by the
//! reader.

use super::header::{ColumnMap, Field, escape_controls, quoted_list};
use super::model::Role;
use super::rules;

/// `--column FIELD=HEADER`: read `field` from the column whose header is `header` (exact text,
/// case-insensitive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnMapping {
    /// The roster field.
    pub field: Field,
    /// The header text, as given.
    pub header: String,
}

impl ColumnMapping {
    /// Parse `FIELD=HEADER`; FIELD is any column name or alias the roster understands.
    pub fn parse(spec: &str) -> Result<ColumnMapping, String> {
        let (field, header) = spec
            .split_once('=')
            .ok_or_else(|| format!("--column {spec:?}: expected FIELD=HEADER"))?;
        ColumnMapping::new(field, header)
    }

    /// A mapping from its two halves (the profile's `[column]` table gives them apart).
    pub fn new(field: &str, header: &str) -> Result<ColumnMapping, String> {
        let field = Field::from_header(field).ok_or_else(|| {
            let names: Vec<&str> = Field::ALL.iter().map(|f| f.canonical()).collect();
            format!(
                "--column {field:?}: not a roster field; use one of {}",
                names.join(", ")
            )
        })?;
        let header = header.trim();
        if header.is_empty() {
            return Err(format!("--column {field}=: the header text is empty"));
        }
        Ok(ColumnMapping {
            field,
            header: header.to_owned(),
        })
    }
}

/// One piece of a `--group-title` template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplatePart {
    /// Literal text.
    Text(String),
    /// `{Header}`: the cell of the column with this header.
    Column(String),
}

/// `--group-title '{Course} {Section} - Spring 2026'`: a group title built from other columns.
/// `{{` and `}}` are literal braces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TitleTemplate {
    source: String,
    parts: Vec<TemplatePart>,
}

impl TitleTemplate {
    /// Parse a template; it must name at least one column.
    pub fn parse(template: &str) -> Result<TitleTemplate, String> {
        let bad = |why: &str| format!("--group-title {template:?}: {why}");
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut chars = template.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    text.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    text.push('}');
                }
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some('{') | None => {
                                return Err(bad("a '{' is not closed (write {{ for a brace)"));
                            }
                            Some(c) => name.push(c),
                        }
                    }
                    let name = name.trim();
                    if name.is_empty() {
                        return Err(bad("{} names no column"));
                    }
                    if !text.is_empty() {
                        parts.push(TemplatePart::Text(std::mem::take(&mut text)));
                    }
                    parts.push(TemplatePart::Column(name.to_owned()));
                }
                '}' => return Err(bad("a '}' has no '{' (write }} for a brace)")),
                c => text.push(c),
            }
        }
        if !text.is_empty() {
            parts.push(TemplatePart::Text(text));
        }
        if !parts.iter().any(|p| matches!(p, TemplatePart::Column(_))) {
            return Err(bad(
                "it names no column; use {Header} placeholders, e.g. '{Course} {Section}'",
            ));
        }
        Ok(TitleTemplate {
            source: template.to_owned(),
            parts,
        })
    }

    /// The pieces, in order.
    pub fn parts(&self) -> &[TemplatePart] {
        &self.parts
    }

    /// The template as given.
    pub fn as_str(&self) -> &str {
        &self.source
    }
}

/// A template whose placeholders are columns of one header.
#[derive(Debug, Clone)]
pub(crate) struct ResolvedTemplate {
    parts: Vec<Resolved>,
}

#[derive(Debug, Clone)]
enum Resolved {
    Text(String),
    /// The column index and its header as written.
    Column(usize, String),
}

impl TitleTemplate {
    /// Find each placeholder's column in `columns` (exact header text, case-insensitive); an
    /// unknown one is a sentence naming it and the header.
    pub(crate) fn resolve(&self, columns: &ColumnMap) -> Result<ResolvedTemplate, String> {
        let parts = self
            .parts
            .iter()
            .map(|part| match part {
                TemplatePart::Text(text) => Ok(Resolved::Text(text.clone())),
                TemplatePart::Column(name) => ColumnMap::find(columns.names(), name)
                    .map(|i| Resolved::Column(i, columns.column_name(i).to_owned()))
                    .ok_or_else(|| {
                        format!(
                            "--group-title: the header has no column '{}' for {{{}}}; it has: {}",
                            escape_controls(name),
                            escape_controls(name),
                            quoted_list(columns.names())
                        )
                    }),
            })
            .collect::<Result<_, _>>()?;
        Ok(ResolvedTemplate { parts })
    }
}

impl ResolvedTemplate {
    /// The columns the template reads.
    pub(crate) fn columns(&self) -> impl Iterator<Item = usize> + '_ {
        self.parts.iter().filter_map(|p| match p {
            Resolved::Column(i, _) => Some(*i),
            Resolved::Text(_) => None,
        })
    }

    /// The title for one row, given its (trimmed) cells; an empty placeholder is a reason naming
    /// it, and its column's header.
    pub(crate) fn render<'c>(
        &self,
        cell: impl Fn(usize) -> &'c str,
    ) -> Result<String, (&str, String)> {
        let mut title = String::new();
        for part in &self.parts {
            match part {
                Resolved::Text(text) => title.push_str(text),
                Resolved::Column(i, name) => {
                    let value = cell(*i);
                    if value.is_empty() {
                        return Err((
                            name,
                            format!(
                                "{name} is empty, and --group-title needs it for the group title"
                            ),
                        ));
                    }
                    title.push_str(value);
                }
            }
        }
        Ok(title)
    }
}

/// `--role-map Student=member,Instructor=admin`: roster role values (case-insensitive) → roles.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleMap {
    /// (value as given, role); later entries for the same value replace earlier ones.
    entries: Vec<(String, Role)>,
}

impl RoleMap {
    /// Parse `VALUE=ROLE,…`; ROLE is `member` or `admin` (or their aliases).
    pub fn parse(spec: &str) -> Result<RoleMap, String> {
        let mut map = RoleMap::default();
        for pair in spec.split(',').filter(|p| !p.trim().is_empty()) {
            let (value, role) = pair
                .split_once('=')
                .ok_or_else(|| format!("--role-map {pair:?}: expected VALUE=ROLE"))?;
            map.insert(value, role)?;
        }
        Ok(map)
    }

    /// Add (or replace) one entry.
    pub fn insert(&mut self, value: &str, role: &str) -> Result<(), String> {
        let value = value.trim();
        if value.is_empty() {
            return Err(format!("--role-map ={role}: the value is empty"));
        }
        // An empty role means `member` in a roster cell, but in a map it is a slip.
        let role = Some(role.trim())
            .filter(|r| !r.is_empty())
            .and_then(|r| rules::role("--role-map", r).ok())
            .ok_or_else(|| {
                format!("--role-map {value}={role}: the role must be member or admin")
            })?;
        self.entries.retain(|(v, _)| !v.eq_ignore_ascii_case(value));
        self.entries.push((value.to_owned(), role));
        Ok(())
    }

    /// Entries of `other` replace this map's entries for the same values.
    pub fn overlay(&mut self, other: &RoleMap) {
        for (value, role) in &other.entries {
            self.entries.retain(|(v, _)| !v.eq_ignore_ascii_case(value));
            self.entries.push((value.clone(), *role));
        }
    }

    /// The role a cell maps to, if the map names it.
    pub fn get(&self, value: &str) -> Option<Role> {
        self.entries
            .iter()
            .find(|(v, _)| v.eq_ignore_ascii_case(value))
            .map(|&(_, role)| role)
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The mapped values, as given.
    pub fn values(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(v, _)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_mappings_name_a_field_and_a_header() {
        let m = ColumnMapping::parse("username=Student Email").unwrap();
        assert_eq!(
            (m.field, m.header.as_str()),
            (Field::Username, "Student Email")
        );
        assert_eq!(
            ColumnMapping::parse("Group_ID= Section Id ").unwrap().field,
            Field::GroupId
        );
        assert!(
            ColumnMapping::parse("username")
                .unwrap_err()
                .contains("FIELD=HEADER")
        );
        assert!(
            ColumnMapping::parse("title=Course")
                .unwrap_err()
                .contains("not a roster field")
        );
        assert!(
            ColumnMapping::parse("username= ")
                .unwrap_err()
                .contains("empty")
        );
    }

    #[test]
    fn templates_split_into_text_and_columns() {
        let t = TitleTemplate::parse("{Course} {Section} - Spring 2026").unwrap();
        assert_eq!(
            t.parts(),
            [
                TemplatePart::Column("Course".into()),
                TemplatePart::Text(" ".into()),
                TemplatePart::Column("Section".into()),
                TemplatePart::Text(" - Spring 2026".into()),
            ]
        );
        let t = TitleTemplate::parse("{{lab}} { Course }").unwrap();
        assert_eq!(
            t.parts(),
            [
                TemplatePart::Text("{lab} ".into()),
                TemplatePart::Column("Course".into())
            ]
        );
        for bad in ["no columns", "{Course", "Course}", "{}", "{a{b}"] {
            assert!(TitleTemplate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn role_maps_are_case_insensitive_and_check_roles() {
        let map = RoleMap::parse("Student=member, Instructor=admin,TA=Manager").unwrap();
        assert_eq!(map.get("student"), Some(Role::Member));
        assert_eq!(map.get("INSTRUCTOR"), Some(Role::Admin));
        assert_eq!(map.get("ta"), Some(Role::Admin));
        assert_eq!(map.get("Guest"), None);
        assert!(
            RoleMap::parse("Student=boss")
                .unwrap_err()
                .contains("member or admin")
        );
        assert!(RoleMap::parse("Student=").is_err());
        assert!(RoleMap::parse("Student").is_err());
        let mut profile = RoleMap::parse("TA=member,Student=member").unwrap();
        profile.overlay(&RoleMap::parse("ta=admin").unwrap());
        assert_eq!(profile.get("TA"), Some(Role::Admin));
        assert_eq!(profile.get("Student"), Some(Role::Member));
    }
}
