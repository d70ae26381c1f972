//! Where a roster comes from (`Source`), the options that shape how it is read
//! (`RosterOptions`), and the byte pipeline shared by the roster and the `--groups` file:
//! count → strip BOM → decode → detect delimiter → tokenize → header.

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use super::dialect::{self, CountingReader, DecodingReader, Dialect, Encoding};
use super::error::RosterError;
use super::header::{ColumnMap, Field, escape_controls, thousands};
use super::mapping::{ColumnMapping, RoleMap, TitleTemplate};
use super::model::MatchBy;
use super::records::{MAX_RECORD_FIELDS, RawRecord, RecordReader};
use super::sheet::{self, SheetRows};
use super::sniff::{self, SNIFF_BYTES};

/// Where the roster is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A file.
    Path(PathBuf),
    /// Standard input (`-` on the command line).
    Stdin,
}

impl Source {
    /// `-` → [`Source::Stdin`], anything else a path.
    pub fn from_arg(arg: &str) -> Source {
        if arg == "-" {
            Source::Stdin
        } else {
            Source::Path(PathBuf::from(arg))
        }
    }

    /// The path, for a file source.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Source::Path(p) => Some(p),
            Source::Stdin => None,
        }
    }

    /// How messages name this source: `roster 'x.csv'` or `roster (standard input)`.
    pub(crate) fn describe(&self) -> String {
        match self {
            Source::Path(p) => format!("roster {}", quote_path(p)),
            Source::Stdin => "roster (standard input)".to_owned(),
        }
    }
}

impl fmt::Display for Source {
    /// The path, or `-` for standard input.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Path(p) => write!(f, "{}", p.display()),
            Source::Stdin => f.write_str("-"),
        }
    }
}

/// `'x.csv'`, control characters escaped (a file name may hold any byte but `/` and NUL).
pub(crate) fn quote_path(path: &Path) -> String {
    format!("'{}'", escape_controls(&path.display().to_string()))
}

/// How to read a roster (`--delimiter`, `--encoding`, `--groups`, `--sheet`) and how to map its
/// columns (`--column`, `--group-title`, `--role-map`; product spec §2.4).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RosterOptions {
    /// The field delimiter; `None` = detect from the header line among `,` `;` TAB `|`.
    pub delimiter: Option<u8>,
    /// The encoding (never guessed).
    pub encoding: Encoding,
    /// An optional CSV of group definitions whose values win over the roster's.
    pub groups_file: Option<PathBuf>,
    /// How `username` cells name people.
    pub match_by: MatchBy,
    /// Fields read from columns named explicitly, whatever their headers.
    pub columns: Vec<ColumnMapping>,
    /// The group title built from other columns (instead of a `group` column).
    pub group_title: Option<TitleTemplate>,
    /// The roster's own role values → roles.
    pub role_map: RoleMap,
    /// The worksheet of a spreadsheet roster (name or 1-based number); the first when `None`.
    pub sheet: Option<String>,
}

/// Which input [`open`] reads, and whether the roster's mapping applies to it.
pub(crate) struct Named<'a> {
    /// How errors name it: `roster 'x.csv'`, `groups file 'g.csv'`.
    pub(crate) what: &'a str,
    /// The file, when it is one (its extension says "spreadsheet").
    pub(crate) path: Option<&'a Path>,
    /// The roster itself (`--column` and `--sheet` apply), not the `--groups` file.
    pub(crate) roster: bool,
}

/// The records of an input: CSV text, or the rows of a worksheet.
pub(crate) enum Records {
    /// A CSV (streamed).
    Csv(RecordReader),
    /// A spreadsheet (read whole).
    Sheet(SheetRows),
}

impl Records {
    /// The next non-empty record; `Ok(false)` at the end.
    pub(crate) fn read_record(&mut self, rec: &mut RawRecord) -> std::io::Result<bool> {
        match self {
            Records::Csv(csv) => csv.read_record(rec),
            Records::Sheet(sheet) => sheet.read_record(rec),
        }
    }
}

/// An opened input with its header read.
pub(crate) struct Opened {
    pub(crate) records: Records,
    pub(crate) dialect: Dialect,
    pub(crate) columns: ColumnMap,
    /// The worksheet read, for a spreadsheet.
    pub(crate) sheet: Option<String>,
}

/// Open a file for the pipeline.
pub(crate) fn open_file(path: &Path, what: &str) -> Result<Box<dyn Read + Send>, RosterError> {
    match File::open(path) {
        Ok(f) => Ok(Box::new(f)),
        Err(source) => Err(RosterError::Open {
            what: what.to_owned(),
            source,
        }),
    }
}

/// Run the byte pipeline over `input` and read the header: a spreadsheet (by its extension,
/// or a zip/OLE container that holds one) goes to [`sheet`], any other binary file is refused,
/// and text goes through BOM, decoding, delimiter detection and the tokenizer.
pub(crate) fn open(
    input: Box<dyn Read + Send>,
    named: &Named<'_>,
    options: &RosterOptions,
    counter: Arc<AtomicU64>,
) -> Result<Opened, RosterError> {
    let what = named.what;
    let read_err = |source| RosterError::Read {
        what: what.to_owned(),
        source,
    };
    let mut counted = CountingReader::new(input, counter);
    let head = read_head(&mut counted).map_err(read_err)?;
    let binary = sniff::sniff(&head);
    let mut input = std::io::Cursor::new(head).chain(counted);
    let spreadsheet_name = named.path.is_some_and(|p| {
        p.extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| sheet::EXTENSIONS.iter().any(|x| e.eq_ignore_ascii_case(x)))
    });
    if spreadsheet_name || binary.is_some_and(sniff::Binary::may_be_spreadsheet) {
        // A zip or OLE file that holds no workbook is what it looks like; a file named as a
        // spreadsheet that cannot be read says why.
        let not_a_workbook = binary.filter(|_| !spreadsheet_name);
        return open_spreadsheet(&mut input, not_a_workbook, named, options);
    }
    if let Some(binary) = binary {
        return Err(not_csv(named, binary));
    }
    if named.roster && options.sheet.is_some() {
        // Said, not ignored: the user believes they are reading some other sheet.
        return Err(RosterError::Spreadsheet {
            what: what.to_owned(),
            message: "is a text (CSV) file; --sheet applies to spreadsheet rosters (.xlsx, .xlsm, .xls, .ods)".to_owned(),
        });
    }
    let (bom, rest) = dialect::strip_bom(Box::new(input)).map_err(read_err)?;
    let decoded: Box<dyn Read + Send> = match options.encoding {
        Encoding::Utf8 => rest,
        Encoding::Windows1252 => Box::new(DecodingReader::windows_1252(rest)),
    };
    let mut records = RecordReader::new(decoded);
    let delimiter = match options.delimiter {
        Some(d) => d,
        None => dialect::detect_delimiter(records.peek_head().map_err(read_err)?),
    };
    records.set_delimiter(delimiter);
    let dialect = Dialect {
        bom,
        delimiter,
        encoding: options.encoding,
    };
    header(Records::Csv(records), dialect, named, options, None)
}

/// The refusal of a binary file that is not a spreadsheet.
fn not_csv(named: &Named<'_>, binary: sniff::Binary) -> RosterError {
    RosterError::NotCsv {
        name: named
            .path
            .map_or_else(|| "standard input".to_owned(), quote_path),
        looks: binary.looks_like(),
    }
}

/// Open a workbook's sheet and read its header. `not_a_workbook`: what the file looks like,
/// when it was only tried as a spreadsheet because it is a zip or OLE container.
fn open_spreadsheet(
    input: &mut dyn Read,
    not_a_workbook: Option<sniff::Binary>,
    named: &Named<'_>,
    options: &RosterOptions,
) -> Result<Opened, RosterError> {
    let sheet = if named.roster {
        options.sheet.as_deref()
    } else {
        None
    };
    match sheet::open(input, sheet) {
        Ok(rows) => {
            let name = rows.name.clone();
            // Cells are text already; this is what results written "like the roster" use.
            let dialect = Dialect {
                bom: false,
                delimiter: b',',
                encoding: Encoding::Utf8,
            };
            header(Records::Sheet(rows), dialect, named, options, Some(name))
        }
        Err(message) => Err(match not_a_workbook {
            Some(binary) => not_csv(named, binary),
            None => RosterError::Spreadsheet {
                what: named.what.to_owned(),
                message,
            },
        }),
    }
}

/// The start of the input for [`sniff`]: what the first reads deliver, up to [`SNIFF_BYTES`],
/// and at least the longest signature unless the input ends first. It does not wait for a
/// whole KiB: a roster piped in slowly must start flowing with its first line.
fn read_head(input: &mut dyn Read) -> std::io::Result<Vec<u8>> {
    let mut head = vec![0; SNIFF_BYTES];
    let mut len = 0;
    while len < sniff::SIGNATURE_BYTES {
        match input.read(&mut head[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    head.truncate(len);
    Ok(head)
}

/// Read the header record and map its cells to fields (`--column` first, for the roster).
fn header(
    mut records: Records,
    dialect: Dialect,
    named: &Named<'_>,
    options: &RosterOptions,
    sheet: Option<String>,
) -> Result<Opened, RosterError> {
    let what = named.what;
    let mut header = RawRecord::default();
    let read = records
        .read_record(&mut header)
        .map_err(|source| RosterError::Read {
            what: what.to_owned(),
            source,
        })?;
    if !read {
        return Err(RosterError::Empty {
            what: what.to_owned(),
        });
    }
    if header.too_many_fields {
        return Err(RosterError::TooManyColumns {
            what: what.to_owned(),
            max: thousands(MAX_RECORD_FIELDS),
        });
    }
    // The header is decoded leniently: a mangled unknown column must not stop the run, and a
    // mangled required column shows up as missing (with the header quoted in the message).
    // Control characters are escaped once, here, so no message can carry them.
    let cells: Vec<String> = (0..header.len())
        .map(|i| {
            let cell = String::from_utf8_lossy(header.field(i));
            escape_controls(cell.trim()).into_owned()
        })
        .collect();
    let mut mapped: Vec<(Field, usize)> = Vec::new();
    for mapping in options.columns.iter().filter(|_| named.roster) {
        let i = ColumnMap::find(&cells, &mapping.header).ok_or_else(|| {
            RosterError::MissingColumn {
                what: what.to_owned(),
                message: format!(
                    "--column {}='{}': the header has no such column (the text must match, case aside); it has: {}",
                    mapping.field,
                    escape_controls(&mapping.header),
                    super::header::quoted_list(&cells)
                ),
            }
        })?;
        mapped.push((mapping.field, i));
    }
    let columns = ColumnMap::mapped(cells, &mapped).map_err(|d| RosterError::DuplicateColumn {
        what: what.to_owned(),
        field: d.field.canonical().to_owned(),
        first: d.first,
        second: d.second,
    })?;
    Ok(Opened {
        records,
        dialect,
        columns,
        sheet,
    })
}
