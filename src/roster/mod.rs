//! Roster input (product spec §2). Pure, synchronous, streaming.
//!
//! - `dialect`: BOM, `--encoding`, delimiter detection;
//! - `records`: the CSV tokenizer (physical line numbers);
//! - `sniff`: what a file that is not a CSV looks like; `sheet`: spreadsheet rosters;
//! - `header`: header aliases → [`ColumnMap`];
//! - `mapping`: `--column`, `--group-title`, `--role-map` (rosters as they come, §2.4);
//! - `rules`: per-cell validation;
//! - `definitions`: group definitions and the `--groups` file;
//! - `reader`: [`RosterReader`], the streaming iterator of [`Row`]s, and [`scan_definitions`].

mod definitions;
mod dialect;
mod error;
mod header;
mod input;
mod mapping;
mod model;
mod reader;
mod records;
pub mod rules;
mod sheet;
mod sniff;

pub use definitions::{DEFAULT_TAGS, DefinitionConflict, Definitions};
pub use dialect::{DELIMITER_CANDIDATES, Dialect, Encoding, delimiter_name, parse_delimiter};
pub use error::RosterError;
pub use header::{ColumnMap, Field, escape_controls, quoted_list};
pub use input::{RosterOptions, Source};
pub use mapping::{ColumnMapping, RoleMap, TemplatePart, TitleTemplate};
pub use model::*;
pub use reader::{RosterReader, RosterStats, Scan, scan, scan_definitions};
