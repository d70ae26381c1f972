//! Roster input (product spec §2). Pure, synchronous, streaming.
//!
//! - `dialect`: BOM, `--encoding`, delimiter detection;
//! - `records`: the CSV tokenizer (physical line numbers);
//! - `header`: header aliases → [`ColumnMap`];
//! - `rules`: per-cell validation;
//! - `definitions`: group definitions and the `--groups` file;
//! - `reader`: [`RosterReader`], the streaming iterator of [`Row`]s, and [`scan_definitions`].

mod definitions;
mod dialect;
mod error;
mod header;
mod input;
mod model;
mod reader;
mod records;
pub mod rules;

pub use definitions::{DEFAULT_TAGS, DefinitionConflict, Definitions};
pub use dialect::{DELIMITER_CANDIDATES, Dialect, Encoding, delimiter_name, parse_delimiter};
pub use error::RosterError;
pub use header::{ColumnMap, Field, quoted_list};
pub use input::{RosterOptions, Source};
pub use model::*;
pub use reader::{RosterReader, RosterStats, Scan, scan, scan_definitions};
