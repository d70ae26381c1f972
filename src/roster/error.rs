//! Run-wide input errors: the roster (or `--groups` file) cannot be used at all. Per-row problems
//! are not errors — they are `invalid` rows (`RowKind::Invalid`). Every `RosterError` is a usage
//! error (exit 2), raised before any portal contact.

use std::io;

/// Why a roster or groups file cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum RosterError {
    /// The file could not be opened.
    #[error("cannot open {what}: {source}")]
    Open {
        /// Which file, e.g. `roster 'x.csv'`.
        what: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// Reading failed (before or while streaming).
    #[error("cannot read {what}: {source}")]
    Read {
        /// Which file.
        what: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The file is binary and not a spreadsheet: a zip archive, a PDF, an executable…
    #[error("{name} is not a CSV file (it looks like {looks})")]
    NotCsv {
        /// The file, quoted (`'x.docx'`), or `standard input`.
        name: String,
        /// What it looks like: `a zip archive`.
        looks: &'static str,
    },
    /// A spreadsheet that cannot be read (or whose `--sheet` does not exist).
    #[error("{what}: {message}")]
    Spreadsheet {
        /// Which file.
        what: String,
        /// What is wrong.
        message: String,
    },
    /// The input has no header line at all.
    #[error("{what} is empty: it has no header line")]
    Empty {
        /// Which file.
        what: String,
    },
    /// A required column is missing.
    #[error("{what}: {message}")]
    MissingColumn {
        /// Which file.
        what: String,
        /// Which column is missing, what names are accepted and what the header has.
        message: String,
    },
    /// The header has more columns than any roster could need (a runaway line of delimiters).
    #[error(
        "{what}: the header has more than {max} columns; is this a roster, and is --delimiter right?"
    )]
    TooManyColumns {
        /// Which file.
        what: String,
        /// The cap.
        max: String,
    },
    /// Two header cells map to the same field.
    #[error("{what}: columns '{first}' and '{second}' both mean '{field}'; keep only one of them")]
    DuplicateColumn {
        /// Which file.
        what: String,
        /// The field both name.
        field: String,
        /// The first header cell.
        first: String,
        /// The second header cell.
        second: String,
    },
    /// A row of the `--groups` file is unusable (groups-file problems are configuration
    /// errors, not per-row results).
    #[error("{what} line {line}: {reason}")]
    GroupsFile {
        /// Which file.
        what: String,
        /// Physical line of the bad row.
        line: u64,
        /// What is wrong.
        reason: String,
    },
}
