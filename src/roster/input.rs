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
use super::header::{ColumnMap, thousands};
use super::model::MatchBy;
use super::records::{MAX_RECORD_FIELDS, RawRecord, RecordReader};

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
            Source::Path(p) => format!("roster '{}'", p.display()),
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

/// How to read a roster (`--delimiter`, `--encoding`, `--groups`).
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
}

/// An opened input with its header read.
pub(crate) struct Opened {
    pub(crate) records: RecordReader,
    pub(crate) dialect: Dialect,
    pub(crate) columns: ColumnMap,
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

/// Run the byte pipeline over `input` and read the header. `what` names the input in errors.
pub(crate) fn open(
    input: Box<dyn Read + Send>,
    options: &RosterOptions,
    counter: Arc<AtomicU64>,
    what: &str,
) -> Result<Opened, RosterError> {
    let read_err = |source| RosterError::Read {
        what: what.to_owned(),
        source,
    };
    let counted: Box<dyn Read + Send> = Box::new(CountingReader::new(input, counter));
    let (bom, rest) = dialect::strip_bom(counted).map_err(read_err)?;
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
    let mut header = RawRecord::default();
    if !records.read_record(&mut header).map_err(read_err)? {
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
    let cells = (0..header.len())
        .map(|i| String::from_utf8_lossy(header.field(i)).trim().to_owned())
        .collect();
    let columns = ColumnMap::new(cells).map_err(|d| RosterError::DuplicateColumn {
        what: what.to_owned(),
        field: d.field.canonical().to_owned(),
        first: d.first,
        second: d.second,
    })?;
    Ok(Opened {
        records,
        dialect: Dialect {
            bom,
            delimiter,
            encoding: options.encoding,
        },
        columns,
    })
}
