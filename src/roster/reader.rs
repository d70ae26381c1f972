//! The streaming roster reader: one [`Row`] per data record, in file order, in constant memory
//! apart from the duplicate-detection sets (product spec §2).
//!
//! Memory: per group, a hash set of 12-byte entries (a 64-bit SipHash of the username's
//! comparison key, plus the first line and role packed in 32 bits). A 1,000,000-membership
//! roster costs about 15–30 MB of sets. The hash is keyed randomly per run; two different
//! usernames of one group colliding on 64 bits (≈ n²/2⁶⁵, about 10⁻¹⁴ for 1,000 users) would make
//! the second a false `duplicate` — accepted for the memory it saves.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher, RandomState};
use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use super::definitions::{self, Definitions};
use super::dialect::{Dialect, delimiter_name};
use super::error::RosterError;
use super::header::{ColumnMap, Field, quoted_list, thousands};
use super::input::{self, Records, RosterOptions, Source};
use super::mapping::{ResolvedTemplate, RoleMap};
use super::model::{GroupRef, Membership, Role, Row, RowKind, UserKey};
use super::records::{MAX_RECORD_BYTES, MAX_RECORD_FIELDS, RawRecord};
use super::rules;

/// Counts of what the reader has produced so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RosterStats {
    /// Data rows (blank lines excluded).
    pub rows: u64,
    /// Valid rows seen for the first time (`RowKind::Membership`).
    pub memberships: u64,
    /// Of those, admins.
    pub admins: u64,
    /// Repeats of an earlier (group, username) pair.
    pub duplicates: u64,
    /// Rows that failed validation.
    pub invalid: u64,
}

/// 64-bit username hash, stored as two u32 so a set entry with its u32 payload is 12 bytes
/// (a `u64` key would pad the entry to 16).
#[derive(Clone, Copy, PartialEq, Eq)]
struct UserHash([u32; 2]);

impl Hash for UserHash {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64((u64::from(self.0[0]) << 32) | u64::from(self.0[1]));
    }
}

/// The key already is a strong hash: pass it through.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// First line (31 bits; 0 = beyond 2³¹) and admin flag (top bit) of a group's member.
type MemberSet = HashMap<UserHash, u32, BuildHasherDefault<PassThrough>>;

const ADMIN_BIT: u32 = 1 << 31;

/// Bound on the spelling cache: distinct spellings beyond it just take the slower path.
const MAX_SPELLINGS: usize = 100_000;

/// Reads a roster as a stream of [`Row`]s. See the module documentation.
///
/// The header is read by the constructors; iteration yields exactly one `Row` per data record
/// (blank lines and lines holding only delimiters/blanks are not records). An I/O error while
/// streaming ends the iteration early: check [`error`](Self::error) afterwards.
pub struct RosterReader {
    what: String,
    records: Records,
    rec: RawRecord,
    dialect: Dialect,
    /// The worksheet read, for a spreadsheet roster.
    sheet: Option<String>,
    columns: ColumnMap,
    /// `--group-title` and `--role-map`, and which columns are decoded.
    mapping: RowMapping,
    /// Definition columns present, precomputed for the per-row loop.
    definition_columns: Vec<(Field, usize)>,
    definitions: Definitions,
    /// Indexed like the definitions' groups.
    members: Vec<MemberSet>,
    dedup: bool,
    hasher: RandomState,
    scratch: Vec<u8>,
    /// The previous valid row's group cell and index: rosters are usually sorted by group, so
    /// this skips computing the group key (an allocation) for most rows.
    last_group: Option<(bool, String, usize)>,
    /// Group title cells exactly as spelled → group index: saves computing the title key
    /// (lower-casing, an allocation) for rosters whose rows interleave groups.
    spellings: HashMap<Box<str>, usize>,
    bytes: Arc<AtomicU64>,
    stats: RosterStats,
    error: Option<RosterError>,
    finished: bool,
}

/// What a read of the roster is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    /// The rows themselves: duplicates detected, problems logged.
    Rows,
    /// Only the group definitions, ahead of the rows pass: no duplicate tracking, and nothing
    /// logged (the rows pass logs it).
    Definitions,
}

impl RosterReader {
    /// Open a roster file or standard input and read its header (and the `--groups` file).
    pub fn open(source: &Source, options: &RosterOptions) -> Result<RosterReader, RosterError> {
        let input = Self::input(source)?;
        Self::build(input, source.path(), options, source.describe(), Pass::Rows)
    }

    /// Read a roster from any byte stream (tests, embedded samples) and read its header.
    pub fn from_reader(
        input: Box<dyn Read + Send>,
        options: &RosterOptions,
    ) -> Result<RosterReader, RosterError> {
        Self::build(input, None, options, "roster".to_owned(), Pass::Rows)
    }

    fn input(source: &Source) -> Result<Box<dyn Read + Send>, RosterError> {
        match source {
            Source::Path(p) => input::open_file(p, &source.describe()),
            Source::Stdin => Ok(Box::new(std::io::stdin())),
        }
    }

    fn build(
        input: Box<dyn Read + Send>,
        path: Option<&Path>,
        options: &RosterOptions,
        what: String,
        pass: Pass,
    ) -> Result<RosterReader, RosterError> {
        let quiet = pass == Pass::Definitions;
        let bytes = Arc::new(AtomicU64::new(0));
        let named = input::Named {
            what: &what,
            path,
            roster: true,
        };
        let opened = input::open(input, &named, options, bytes.clone())?;
        let mut columns = opened.columns;
        let title = match &options.group_title {
            Some(template) => {
                let resolved =
                    template
                        .resolve(&columns)
                        .map_err(|message| RosterError::MissingColumn {
                            what: what.clone(),
                            message,
                        })?;
                for i in resolved.columns() {
                    columns.use_column(i);
                }
                Some(resolved)
            }
            None => None,
        };
        let hint = if columns.width() == 1 && options.delimiter.is_none() {
            format!(
                " (the header has one column with delimiter {} detected; use --delimiter if that is wrong)",
                delimiter_name(opened.dialect.delimiter)
            )
        } else {
            String::new()
        };
        if !columns.has(Field::Username) {
            return Err(RosterError::MissingColumn {
                what,
                message: format!(
                    "no username column (accepted names: {}, or name one with --column username=HEADER); the header has: {}{hint}",
                    Field::Username.names().join(", "),
                    definitions::quote_list(&columns)
                ),
            });
        }
        if title.is_none() && !columns.has(Field::Group) && !columns.has(Field::GroupId) {
            return Err(RosterError::MissingColumn {
                what,
                message: format!(
                    "no group column (accepted names: {}, or {} for existing groups, or name one with --column group=HEADER, or build titles with --group-title; 'title' is deliberately not accepted); the header has: {}{hint}",
                    Field::Group.names().join(", "),
                    Field::GroupId.names().join(", "),
                    definitions::quote_list(&columns)
                ),
            });
        }
        let mut definitions = match pass {
            Pass::Rows => Definitions::logged(),
            Pass::Definitions => Definitions::quiet(),
        };
        if let Some(path) = &options.groups_file {
            definitions.load_groups_file(path, options)?;
        }
        if !quiet && !columns.unknown().is_empty() {
            tracing::warn!(
                "{what}: ignoring unknown column(s): {}",
                quoted_list(columns.unknown())
            );
        }
        let definition_columns: Vec<(Field, usize)> = columns.definition_columns().collect();
        let mapping = RowMapping::new(&columns, &definition_columns, title, options);
        Ok(RosterReader {
            what,
            records: opened.records,
            rec: RawRecord::default(),
            dialect: opened.dialect,
            sheet: opened.sheet,
            columns,
            mapping,
            definition_columns,
            definitions,
            members: Vec::new(),
            dedup: pass == Pass::Rows,
            hasher: RandomState::new(),
            scratch: Vec::new(),
            last_group: None,
            spellings: HashMap::new(),
            bytes,
            stats: RosterStats::default(),
            error: None,
            finished: false,
        })
    }

    /// The detected (or imposed) dialect.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The worksheet read, when the roster is a spreadsheet.
    pub fn sheet(&self) -> Option<&str> {
        self.sheet.as_deref()
    }

    /// A shared counter of roster bytes consumed so far (raw bytes, before decoding).
    pub fn bytes_read(&self) -> Arc<AtomicU64> {
        self.bytes.clone()
    }

    /// Group definitions merged from the rows read so far, `--groups` values winning.
    pub fn definitions(&self) -> &Definitions {
        &self.definitions
    }

    /// Consume the reader, keeping its definitions.
    pub fn into_definitions(self) -> Definitions {
        self.definitions
    }

    /// Header cells that name no known column (ignored, warned about once).
    pub fn unknown_columns(&self) -> &[String] {
        self.columns.unknown()
    }

    /// The header's column map.
    pub fn columns(&self) -> &ColumnMap {
        &self.columns
    }

    /// What was read so far.
    pub fn stats(&self) -> RosterStats {
        self.stats
    }

    /// The I/O error that ended the iteration early, if any.
    pub fn error(&self) -> Option<&RosterError> {
        self.error.as_ref()
    }

    /// Take the I/O error that ended the iteration early, if any.
    pub fn take_error(&mut self) -> Option<RosterError> {
        self.error.take()
    }

    /// Whether the whole input has been read (iteration returned `None` without error).
    pub fn is_finished(&self) -> bool {
        self.finished && self.error.is_none()
    }

    /// Turn the current record into a row; `None` for a blank record.
    // Longer than most (≈90 lines): the checks are in `check`/`check_shape`/`repeat`; what is
    // left is one linear pass over a record's cells, read top to bottom in spec order.
    fn process(&mut self) -> Option<Row> {
        let rec = &self.rec;
        let line = rec.line;
        if !rec.unterminated_quote
            && !rec.truncated
            && !rec.too_many_fields
            && rec.data.iter().all(|&b| b == b' ' || b == b'\t')
        {
            return None;
        }
        self.stats.rows += 1;
        if !rec.data.is_ascii() && as_text(rec).is_err() {
            mask_unused(&mut self.rec, &self.mapping.used);
        }
        let rec = &self.rec;
        let columns = &self.columns;
        let checked = match check(
            rec,
            columns,
            &self.definition_columns,
            &self.mapping,
            self.dialect.delimiter,
        ) {
            Ok(checked) => checked,
            Err(invalid) => {
                self.stats.invalid += 1;
                return Some(invalid.row(rec, columns));
            }
        };
        let Checked {
            group,
            raw_group: raw,
            username,
            role,
            text,
        } = checked;
        let cell = |i: usize| text[rec.range(i)].trim();

        // The row is valid: find its group, merge its definitions, check for a repeat.
        let by_id = matches!(group, GroupRef::Id(_));
        let index = match &self.last_group {
            Some((last_by_id, last_raw, index)) if *last_by_id == by_id && *last_raw == raw => {
                *index
            }
            _ => {
                let index = match self.spellings.get(&*raw) {
                    Some(&index) if !by_id => index,
                    _ => {
                        let index =
                            self.definitions
                                .roster_group(&group.key(), group.display(), line);
                        if !by_id && self.spellings.len() < MAX_SPELLINGS {
                            self.spellings.insert((*raw).into(), index);
                        }
                        index
                    }
                };
                match &mut self.last_group {
                    Some((last_by_id, last_raw, last_index)) => {
                        *last_by_id = by_id;
                        raw.as_ref().clone_into(last_raw);
                        *last_index = index;
                    }
                    slot @ None => *slot = Some((by_id, raw.into_owned(), index)),
                }
                index
            }
        };
        if by_id
            && let Some(title) = columns.get(Field::Group).map(cell)
            && let Ok(title) = rules::group_title(columns.name(Field::Group), title)
        {
            self.definitions.note_title_beside_id(&group.key(), title);
        }
        for &(f, i) in &self.definition_columns {
            if let Ok(Some(value)) = definitions::parse_cell(f, columns.column_name(i), cell(i)) {
                self.definitions
                    .merge(index, f, columns.column_name(i), value, line);
            }
        }
        let membership = Membership {
            group,
            username: username.to_owned(),
            role,
        };
        if self.dedup
            && let Some(reason) = self.repeat(index, &membership, line)
        {
            self.stats.duplicates += 1;
            return Some(Row {
                line,
                kind: RowKind::Duplicate { membership, reason },
            });
        }
        self.stats.memberships += 1;
        if role == Role::Admin {
            self.stats.admins += 1;
        }
        Some(Row {
            line,
            kind: RowKind::Membership(membership),
        })
    }

    /// Record `membership` (at `line`) in its group's set, or, when the pair is already there,
    /// the reason it is a duplicate.
    fn repeat(&mut self, index: usize, membership: &Membership, line: u64) -> Option<String> {
        let role = membership.role;
        if self.members.len() <= index {
            self.members.resize_with(index + 1, MemberSet::default);
        }
        let hash = user_hash(&self.hasher, &mut self.scratch, &membership.username);
        let packed = if line < u64::from(ADMIN_BIT) {
            line as u32
        } else {
            0
        } | if role == Role::Admin { ADMIN_BIT } else { 0 };
        match self.members[index].entry(hash) {
            std::collections::hash_map::Entry::Occupied(first) => {
                let first = *first.get();
                let first_line = first & !ADMIN_BIT;
                let first_role = if first & ADMIN_BIT != 0 {
                    Role::Admin
                } else {
                    Role::Member
                };
                let mut reason = if first_line == 0 {
                    "duplicate of an earlier line".to_owned()
                } else {
                    format!("duplicate of line {first_line}")
                };
                if first_role != role {
                    reason.push_str(&format!(
                        " (role differs: {role} here, {first_role} there; the first row wins)"
                    ));
                }
                Some(reason)
            }
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(packed);
                None
            }
        }
    }
}

/// A record that passed every check, its cells borrowed from the record.
struct Checked<'a> {
    group: GroupRef,
    /// The cell the group came from (id or title), as spelled; the title built by
    /// `--group-title`.
    raw_group: Cow<'a, str>,
    username: &'a str,
    role: Role,
    /// The whole record as text.
    text: &'a str,
}

/// Why a record is invalid: the column at fault, if one is, and the reason.
struct Invalid {
    column: Option<String>,
    reason: String,
}

impl Invalid {
    fn whole_row(reason: String) -> Self {
        Invalid {
            column: None,
            reason,
        }
    }

    fn column(column: impl Into<String>, reason: String) -> Self {
        Invalid {
            column: Some(column.into()),
            reason,
        }
    }

    /// The invalid row, with the group and username cells as far as they can be read.
    fn row(self, rec: &RawRecord, columns: &ColumnMap) -> Row {
        let lossy = |f: Field| {
            columns
                .get(f)
                .filter(|&i| i < rec.len())
                .map(|i| String::from_utf8_lossy(rec.field(i)).trim().to_owned())
                .unwrap_or_default()
        };
        let mut group = lossy(Field::Group);
        if group.is_empty() {
            group = lossy(Field::GroupId);
        }
        Row {
            line: rec.line,
            kind: RowKind::Invalid {
                group,
                username: lossy(Field::Username),
                column: self.column,
                reason: self.reason,
            },
        }
    }
}

/// How rows are read beyond the header's own fields (product spec §2.4).
struct RowMapping {
    /// `--group-title`, its placeholders resolved.
    title: Option<ResolvedTemplate>,
    /// `--role-map`.
    role_map: RoleMap,
    /// The columns decoded, by index: an encoding error anywhere else is ignored.
    used: Vec<bool>,
}

impl RowMapping {
    fn new(
        columns: &ColumnMap,
        definition_columns: &[(Field, usize)],
        title: Option<ResolvedTemplate>,
        options: &RosterOptions,
    ) -> RowMapping {
        let mut used = vec![false; columns.width()];
        let roster_columns = [Field::Group, Field::GroupId, Field::Username, Field::Role]
            .into_iter()
            .filter_map(|f| columns.get(f));
        let template_columns = title.iter().flat_map(|t| t.columns());
        for i in roster_columns
            .chain(definition_columns.iter().map(|&(_, i)| i))
            .chain(template_columns)
        {
            used[i] = true;
        }
        RowMapping {
            title,
            role_map: options.role_map.clone(),
            used,
        }
    }
}

/// Replace with `?` the bytes of every column the reader does not use that is not valid UTF-8:
/// only the columns it uses are decoded, so an accent in an ignored `Full Name` column cannot
/// make a row invalid. The used columns are left as they are (and reported).
fn mask_unused(rec: &mut RawRecord, used: &[bool]) {
    for i in 0..rec.len() {
        let range = rec.range(i);
        if !used.get(i).copied().unwrap_or(false)
            && std::str::from_utf8(&rec.data[range.clone()]).is_err()
        {
            rec.data[range].fill(b'?');
        }
    }
}

/// Every check of one record, in order; the first failure makes the row invalid.
fn check<'a>(
    rec: &'a RawRecord,
    columns: &ColumnMap,
    definition_columns: &[(Field, usize)],
    mapping: &RowMapping,
    delimiter: u8,
) -> Result<Checked<'a>, Invalid> {
    let text = check_shape(rec, columns, delimiter)?;
    let cell = |i: usize| text[rec.range(i)].trim();
    let field = |f: Field| columns.get(f).map(cell).unwrap_or("");
    let name = |f: Field| columns.name(f).to_owned();

    // group_id wins over group: the title cell is then only informative.
    let id_cell = field(Field::GroupId);
    let title_cell = field(Field::Group);
    let (group, raw_group) = if !id_cell.is_empty() {
        let id = rules::group_id(columns.name(Field::GroupId), id_cell)
            .map_err(|reason| Invalid::column(name(Field::GroupId), reason))?;
        (GroupRef::Id(id), Cow::Borrowed(id_cell))
    } else if let Some(template) = &mapping.title {
        let built = template
            .render(cell)
            .map_err(|(column, reason)| Invalid::column(column, reason))?;
        let title = rules::group_title("the group title built by --group-title", &built)
            .map_err(|reason| Invalid::column("--group-title", reason))?;
        (GroupRef::Title(title), Cow::Owned(built))
    } else if title_cell.is_empty() && columns.has(Field::Group) && columns.has(Field::GroupId) {
        return Err(Invalid::column(
            name(Field::Group),
            format!(
                "{} and {} are both empty",
                columns.name(Field::Group),
                columns.name(Field::GroupId)
            ),
        ));
    } else if !columns.has(Field::Group) {
        return Err(Invalid::column(
            name(Field::GroupId),
            format!("{} is empty", columns.name(Field::GroupId)),
        ));
    } else {
        let title = rules::group_title(columns.name(Field::Group), title_cell)
            .map_err(|reason| Invalid::column(name(Field::Group), reason))?;
        (GroupRef::Title(title), Cow::Borrowed(title_cell))
    };
    let username = field(Field::Username);
    rules::username(columns.name(Field::Username), username)
        .map_err(|reason| Invalid::column(name(Field::Username), reason))?;
    let role_cell = field(Field::Role);
    let role = match mapping.role_map.get(role_cell) {
        Some(role) => role,
        None => rules::role(columns.name(Field::Role), role_cell).map_err(|reason| {
            let reason = if mapping.role_map.is_empty() {
                reason
            } else {
                format!(
                    "{reason}, and not in --role-map ({})",
                    mapping.role_map.values().collect::<Vec<_>>().join(", ")
                )
            };
            Invalid::column(name(Field::Role), reason)
        })?,
    };
    for &(f, i) in definition_columns {
        definitions::parse_cell(f, columns.column_name(i), cell(i))
            .map_err(|reason| Invalid::column(columns.column_name(i), reason))?;
    }
    Ok(Checked {
        group,
        raw_group,
        username,
        role,
        text,
    })
}

/// The record as text, if it is whole, UTF-8 and as wide as the header.
fn check_shape<'a>(
    rec: &'a RawRecord,
    columns: &ColumnMap,
    delimiter: u8,
) -> Result<&'a str, Invalid> {
    if rec.truncated {
        return Err(Invalid::whole_row(format!(
            "the row is longer than {} MiB; is a quote (\") unbalanced?",
            MAX_RECORD_BYTES >> 20
        )));
    }
    if rec.too_many_fields {
        return Err(Invalid::whole_row(format!(
            "the row has more than {} fields; is a quote (\") unbalanced or --delimiter wrong?",
            thousands(MAX_RECORD_FIELDS)
        )));
    }
    if rec.unterminated_quote {
        return Err(Invalid::whole_row("a quoted field starting on this line is never closed (unbalanced \"); the rest of the file was read as part of it".to_owned()));
    }
    let text = as_text(rec)
        .map_err(|i| Invalid::column(columns.column_name(i), rules::NOT_UTF8.to_owned()))?;
    if rec.len() != columns.width() {
        return Err(Invalid::whole_row(format!(
            "the row has {} fields but the header has {} (is there an unquoted {} in a cell?)",
            rec.len(),
            columns.width(),
            delimiter_name(delimiter)
        )));
    }
    Ok(text)
}

impl Iterator for RosterReader {
    type Item = Row;

    fn next(&mut self) -> Option<Row> {
        if self.finished {
            return None;
        }
        loop {
            match self.records.read_record(&mut self.rec) {
                Ok(true) => {
                    if let Some(row) = self.process() {
                        return Some(row);
                    }
                }
                Ok(false) => {
                    self.finished = true;
                    self.definitions.report_unused();
                    return None;
                }
                Err(source) => {
                    tracing::error!("cannot read {}: {source}", self.what);
                    self.error = Some(RosterError::Read {
                        what: self.what.clone(),
                        source,
                    });
                    self.finished = true;
                    return None;
                }
            }
        }
    }
}

impl std::fmt::Debug for RosterReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RosterReader")
            .field("what", &self.what)
            .field("dialect", &self.dialect)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// The record as one `&str` whose field ranges are all valid, or the index of the first field
/// that is not valid UTF-8. One validation pass over the whole record, then a char-boundary
/// check per field end (a valid whole with a field boundary inside a character means a field
/// on its own is invalid).
fn as_text(rec: &RawRecord) -> Result<&str, usize> {
    if let Ok(text) = std::str::from_utf8(&rec.data)
        && rec.ends.iter().all(|&e| text.is_char_boundary(e))
    {
        return Ok(text);
    }
    Err((0..rec.len())
        .find(|&i| std::str::from_utf8(rec.field(i)).is_err())
        .unwrap_or(0))
}

/// The username's comparison key ([`UserKey`]), hashed without allocating for ASCII names.
fn user_hash(state: &RandomState, scratch: &mut Vec<u8>, username: &str) -> UserHash {
    let mut h = state.build_hasher();
    if username.is_ascii() {
        scratch.clear();
        scratch.extend(username.bytes().map(|b| b.to_ascii_lowercase()));
        h.write(scratch);
    } else {
        h.write(UserKey::new(username).as_str().as_bytes());
    }
    let v = h.finish();
    UserHash([(v >> 32) as u32, v as u32])
}

/// What a fast pass over a roster ahead of the import found ([`scan`]).
#[derive(Debug)]
pub struct Scan {
    /// The group definitions of the whole file.
    pub definitions: Definitions,
    /// Its data rows, as the reader will yield them (`None` for standard input, which cannot
    /// be read twice): the total that progress counts against.
    pub rows: Option<u64>,
    /// Whether some username cell looks like an e-mail address (assumed for standard input):
    /// only then can `--match-by auto` name one person in two ways.
    pub email_like_usernames: bool,
}

/// A fast full pass over a roster FILE that only collects group definitions (no duplicate sets,
/// no logging), so a definition given once on a later row still applies when the import
/// creates the group at its first row. For standard input (which cannot be read twice) it
/// returns the `--groups` file's definitions only; the streaming reader's
/// [`RosterReader::definitions`] then fill in as rows arrive.
pub fn scan_definitions(
    source: &Source,
    options: &RosterOptions,
) -> Result<Definitions, RosterError> {
    scan(source, options).map(|scan| scan.definitions)
}

/// [`scan_definitions`], counting the data rows on the way.
pub fn scan(source: &Source, options: &RosterOptions) -> Result<Scan, RosterError> {
    if let Source::Stdin = source {
        let mut definitions = Definitions::quiet();
        if let Some(path) = &options.groups_file {
            definitions.load_groups_file(path, options)?;
        }
        return Ok(Scan {
            definitions,
            rows: None,
            email_like_usernames: true,
        });
    }
    let mut reader = RosterReader::build(
        RosterReader::input(source)?,
        source.path(),
        options,
        source.describe(),
        Pass::Definitions,
    )?;
    let mut email_like_usernames = false;
    for row in reader.by_ref() {
        if let RowKind::Membership(m) | RowKind::Duplicate { membership: m, .. } = &row.kind {
            email_like_usernames |= rules::looks_like_email(&m.username);
        }
    }
    match reader.take_error() {
        Some(e) => Err(e),
        None => Ok(Scan {
            rows: Some(reader.stats().rows),
            definitions: reader.into_definitions(),
            email_like_usernames,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roster::dialect::Encoding;
    use crate::roster::mapping::{ColumnMapping, TitleTemplate};
    use crate::roster::model::{Access, GroupKey, TitleKey};

    #[test]
    fn a_scan_counts_the_rows_and_sees_e_mail_like_usernames() {
        let scan_of = |text: &str| {
            let file = tempfile::NamedTempFile::new().unwrap();
            std::fs::write(file.path(), text).unwrap();
            scan(
                &Source::Path(file.path().to_owned()),
                &RosterOptions::default(),
            )
            .unwrap()
        };
        let plain = scan_of("group,username\nG,amy\nG,bob\n");
        assert_eq!(plain.rows, Some(2));
        assert!(!plain.email_like_usernames);
        let mixed = scan_of("group,username\nG,amy\nG,bob@uni.edu\n");
        assert!(mixed.email_like_usernames);
        assert!(
            scan(&Source::Stdin, &RosterOptions::default())
                .unwrap()
                .email_like_usernames
        );
    }

    fn read(input: &[u8]) -> Vec<Row> {
        read_with(input, &RosterOptions::default())
    }

    fn read_with(input: &[u8], options: &RosterOptions) -> Vec<Row> {
        let reader =
            RosterReader::from_reader(Box::new(std::io::Cursor::new(input.to_vec())), options)
                .expect("header");
        reader.collect()
    }

    fn reason(row: &Row) -> &str {
        match &row.kind {
            RowKind::Invalid { reason, .. } | RowKind::Duplicate { reason, .. } => reason,
            RowKind::Membership(_) => "",
        }
    }

    fn invalid_column(row: &Row) -> Option<&str> {
        match &row.kind {
            RowKind::Invalid { column, .. } => column.as_deref(),
            _ => None,
        }
    }

    #[test]
    fn valid_rows_become_memberships() {
        let rows = read(b"group,username,role\nGIS 101,alice,\nGIS  101,Bob,Manager\n");
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[1],
            Row {
                line: 3,
                kind: RowKind::Membership(Membership {
                    group: GroupRef::Title("GIS 101".into()),
                    username: "Bob".into(),
                    role: Role::Admin,
                })
            }
        );
    }

    #[test]
    fn fields_are_trimmed() {
        let rows = read(b"group;username\n  GIS 101 ;  alice \n");
        match &rows[0].kind {
            RowKind::Membership(m) => {
                assert_eq!(m.username, "alice");
                assert_eq!(m.group, GroupRef::Title("GIS 101".into()));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn duplicates_name_the_first_line_and_role_difference() {
        let rows =
            read(b"group,username,role\ng,alice,member\ng,ALICE,member\nG,alice,admin\nh,alice,\n");
        assert_eq!(rows.len(), 4);
        assert_eq!(reason(&rows[1]), "duplicate of line 2");
        assert_eq!(
            reason(&rows[2]),
            "duplicate of line 2 (role differs: admin here, member there; the first row wins)"
        );
        assert!(matches!(rows[3].kind, RowKind::Membership(_)));
    }

    #[test]
    fn duplicates_are_found_across_interleaved_groups() {
        let rows = read(b"group,username\na,u1\nb,u1\na,u2\nb,u1\na,u1\n");
        let reasons: Vec<&str> = rows.iter().map(reason).collect();
        assert_eq!(
            reasons,
            ["", "", "", "duplicate of line 3", "duplicate of line 2"]
        );
    }

    #[test]
    fn group_id_wins_over_title() {
        let id = "0123456789abcdef0123456789ABCDEF";
        let input = format!("group,group_id,username\nSome title,{id},alice\nSome title,,bob\n");
        let rows = read(input.as_bytes());
        match &rows[0].kind {
            RowKind::Membership(m) => assert_eq!(m.group, GroupRef::Id(id.to_lowercase())),
            other => panic!("{other:?}"),
        }
        match &rows[1].kind {
            RowKind::Membership(m) => assert_eq!(m.group, GroupRef::Title("Some title".into())),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_rule_names_its_column() {
        let input = "Group Name;User Name;Role;Access;Auto Join;group_id\n\
                     ;alice;;;;\n\
                     g;john smith;;;;\n\
                     g;a,b;;;;\n\
                     g;alice;owner;;;\n\
                     g;alice;;secret;;\n\
                     g;alice;;;maybe;\n\
                     g;alice;;;;xyz\n";
        let rows = read(input.as_bytes());
        let got: Vec<(Option<&str>, &str)> = rows
            .iter()
            .map(|r| (invalid_column(r), reason(r)))
            .collect();
        assert_eq!(
            got,
            [
                (Some("Group Name"), "Group Name and group_id are both empty"),
                (
                    Some("User Name"),
                    "User Name 'john smith' contains whitespace"
                ),
                (
                    Some("User Name"),
                    "User Name 'a,b' contains a comma, which usernames cannot contain"
                ),
                (
                    Some("Role"),
                    "Role 'owner' is not one of member, admin (or manager)"
                ),
                (
                    Some("Access"),
                    "Access 'secret' is not one of private, org, public"
                ),
                (
                    Some("Auto Join"),
                    "Auto Join 'maybe' is not one of true, false, yes, no, 1, 0"
                ),
                (
                    Some("group_id"),
                    "group_id 'xyz' is not a group id (32 hexadecimal characters)"
                ),
            ]
        );
    }

    #[test]
    fn ragged_rows_are_invalid_and_keep_what_can_be_read() {
        let rows = read(b"group,username\ng,alice,extra\ng\ng,bob\n");
        assert_eq!(rows.len(), 3);
        assert_eq!(
            reason(&rows[0]),
            "the row has 3 fields but the header has 2 (is there an unquoted ',' in a cell?)"
        );
        match &rows[1].kind {
            RowKind::Invalid {
                group,
                username,
                column,
                ..
            } => {
                assert_eq!(
                    (group.as_str(), username.as_str(), column),
                    ("g", "", &None)
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(rows[2].kind, RowKind::Membership(_)));
    }

    #[test]
    fn invalid_utf8_is_one_invalid_row() {
        let rows = read(b"group,username\ng,al\xffice\ng,bob\n");
        assert_eq!(rows.len(), 2);
        assert_eq!(reason(&rows[0]), rules::NOT_UTF8);
        assert_eq!(invalid_column(&rows[0]), Some("username"));
        assert!(matches!(rows[1].kind, RowKind::Membership(_)));
    }

    #[test]
    fn utf8_split_across_fields_is_caught() {
        // "\xc3" ends field 1 and "\xa9" starts field 2: the concatenation is valid "é".
        let rows = read(b"group,username\ng\xc3,\xa9x\n");
        assert_eq!(reason(&rows[0]), rules::NOT_UTF8);
        assert_eq!(invalid_column(&rows[0]), Some("group"));
    }

    #[test]
    fn windows_1252_decodes() {
        let options = RosterOptions {
            encoding: Encoding::Windows1252,
            ..Default::default()
        };
        let rows = read_with(b"group;username\nCours de g\xe9ographie;rene\n", &options);
        match &rows[0].kind {
            RowKind::Membership(m) => {
                assert_eq!(m.group, GroupRef::Title("Cours de géographie".into()))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn blank_and_delimiter_only_lines_are_not_rows() {
        let rows = read(b"group,username\n\n  \n,\ng,alice\n");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].line, 5);
    }

    #[test]
    fn unterminated_quote_is_invalid() {
        let rows = read(b"group,username\n\"g,alice\ng,bob\n");
        assert_eq!(rows.len(), 1);
        assert!(reason(&rows[0]).contains("never closed"));
    }

    #[test]
    fn header_errors() {
        let open = |s: &[u8]| {
            RosterReader::from_reader(
                Box::new(std::io::Cursor::new(s.to_vec())),
                &RosterOptions::default(),
            )
        };
        let e = open(b"group,title\n").unwrap_err().to_string();
        assert!(e.contains("no username column"), "{e}");
        let e = open(b"Title,username\n").unwrap_err().to_string();
        assert!(
            e.contains("no group column") && e.contains("'Title'"),
            "{e}"
        );
        let e = open(b"group,user,login\n").unwrap_err().to_string();
        assert!(
            e.contains("columns 'user' and 'login' both mean 'username'"),
            "{e}"
        );
        let e = open(b"").unwrap_err().to_string();
        assert!(e.contains("empty"), "{e}");
        let e = open(b"group username\n").unwrap_err().to_string();
        assert!(e.contains("--delimiter"), "{e}");
        assert!(open(b"groupid,username\n").is_ok());
    }

    #[test]
    fn definitions_first_value_wins() {
        let input = b"group,username,description,access\ng,a,,\ng,b,First,org\ng,c,Second,\n";
        let mut reader = RosterReader::from_reader(
            Box::new(std::io::Cursor::new(input.to_vec())),
            &RosterOptions::default(),
        )
        .unwrap();
        for _ in reader.by_ref() {}
        let key = GroupKey::Title(TitleKey::new("G"));
        let def = reader.definitions().get(&key);
        assert_eq!(def.description.as_deref(), Some("First"));
        assert_eq!(def.access, Some(Access::Org));
        assert_eq!(def.tags.as_deref(), Some("bulk-groups"));
        assert_eq!(reader.definitions().conflict_count(), 1);
        assert_eq!(reader.definitions().conflicts()[0].line, 4);
    }

    #[test]
    fn stats_count_rows() {
        let mut reader = RosterReader::from_reader(
            Box::new(std::io::Cursor::new(
                b"group,username,role\ng,a,admin\ng,a,\ng,,\n\ng,b,\n".to_vec(),
            )),
            &RosterOptions::default(),
        )
        .unwrap();
        for _ in reader.by_ref() {}
        assert_eq!(
            reader.stats(),
            RosterStats {
                rows: 4,
                memberships: 2,
                admins: 1,
                duplicates: 1,
                invalid: 1
            }
        );
        assert!(reader.is_finished());
    }

    fn sis_options() -> RosterOptions {
        RosterOptions {
            columns: vec![ColumnMapping::parse("username=student email").unwrap()],
            group_title: Some(TitleTemplate::parse("{Course} {Section} - Spring 2026").unwrap()),
            role_map: RoleMap::parse("Student=member,Instructor=admin,TA=admin").unwrap(),
            ..RosterOptions::default()
        }
    }

    const SIS: &[u8] = b"Course,Section,Student Email,Role,Full Name\n\
        GEOG 101,A,amy@example.edu,Student,Amy Lee\n\
        GEOG 101,A,bob@example.edu,instructor,Bob Roe\n\
        GEOG 101,,cy@example.edu,TA,Cy Poe\n\
        GEOG 101,A,dee@example.edu,Auditor,Dee Fox\n";

    #[test]
    fn an_sis_export_maps_columns_titles_and_roles() {
        let rows = read_with(SIS, &sis_options());
        let membership = |row: &Row| match &row.kind {
            RowKind::Membership(m) => m.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            membership(&rows[0]),
            Membership {
                group: GroupRef::Title("GEOG 101 A - Spring 2026".into()),
                username: "amy@example.edu".into(),
                role: Role::Member,
            }
        );
        assert_eq!(membership(&rows[1]).role, Role::Admin);
        assert_eq!(invalid_column(&rows[2]), Some("Section"));
        assert_eq!(
            reason(&rows[2]),
            "Section is empty, and --group-title needs it for the group title"
        );
        assert_eq!(invalid_column(&rows[3]), Some("Role"));
        assert_eq!(
            reason(&rows[3]),
            "Role 'Auditor' is not one of member, admin (or manager), and not in --role-map (Student, Instructor, TA)"
        );
    }

    #[test]
    fn placeholder_columns_are_not_reported_as_ignored() {
        let reader =
            RosterReader::from_reader(Box::new(std::io::Cursor::new(SIS.to_vec())), &sis_options())
                .unwrap();
        assert_eq!(reader.unknown_columns(), ["Full Name"]);
    }

    #[test]
    fn unknown_mapped_headers_stop_before_any_row() {
        let open = |options: &RosterOptions| {
            RosterReader::from_reader(Box::new(std::io::Cursor::new(SIS.to_vec())), options)
                .unwrap_err()
                .to_string()
        };
        let mut options = sis_options();
        options.group_title = Some(TitleTemplate::parse("{Course} {Sectoin}").unwrap());
        let e = open(&options);
        assert!(
            e.contains("--group-title: the header has no column 'Sectoin' for {Sectoin}"),
            "{e}"
        );
        let mut options = sis_options();
        options.columns = vec![ColumnMapping::parse("username=E-mail").unwrap()];
        let e = open(&options);
        assert!(e.contains("--column username='E-mail'"), "{e}");
        assert!(e.contains("'Student Email'"), "{e}");
    }

    #[test]
    fn a_mapped_column_beats_the_alias_of_its_field() {
        let options = RosterOptions {
            columns: vec![ColumnMapping::parse("username=Login Email").unwrap()],
            ..RosterOptions::default()
        };
        let rows = read_with(b"group,user,Login Email\ng,u1,u1@x.org\n", &options);
        match &rows[0].kind {
            RowKind::Membership(m) => assert_eq!(m.username, "u1@x.org"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn encoding_errors_in_ignored_columns_do_not_matter() {
        // Windows-1252 accents read as UTF-8: in `Full Name` (ignored) the row stays valid; in
        // `group` (used) it is invalid, naming the column.
        let rows = read(b"group,username,Full Name\ng,rene,Ren\xe9 Dub\xe9\ng\xe9,amy,Amy\n");
        assert!(matches!(rows[0].kind, RowKind::Membership(_)), "{rows:?}");
        assert_eq!(reason(&rows[1]), rules::NOT_UTF8);
        assert_eq!(invalid_column(&rows[1]), Some("group"));
    }

    #[test]
    fn binary_files_are_refused_without_their_bytes() {
        let open = |bytes: &[u8]| {
            RosterReader::from_reader(
                Box::new(std::io::Cursor::new(bytes.to_vec())),
                &RosterOptions::default(),
            )
            .unwrap_err()
            .to_string()
        };
        assert_eq!(
            open(b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00"),
            "standard input is not a CSV file (it looks like a zip archive)"
        );
        assert_eq!(
            open(b"%PDF-1.4\n%\xe2\xe3\n"),
            "standard input is not a CSV file (it looks like a PDF document)"
        );
        // A text header with control characters: escaped in the message.
        let e = open(b"gr\x1b[31moup,us\x07er\n");
        assert!(e.contains("'gr\\u{1b}[31moup', 'us\\u{7}er'"), "{e}");
        assert!(!e.chars().any(char::is_control), "{e:?}");
    }

    #[test]
    fn bytes_read_counts_raw_bytes() {
        let input = b"\xEF\xBB\xBFgroup,username\ng,a\n".to_vec();
        let len = input.len() as u64;
        let mut reader = RosterReader::from_reader(
            Box::new(std::io::Cursor::new(input)),
            &RosterOptions::default(),
        )
        .unwrap();
        let counter = reader.bytes_read();
        for _ in reader.by_ref() {}
        assert_eq!(counter.load(std::sync::atomic::Ordering::Relaxed), len);
        assert!(reader.dialect().bom);
    }
}
