//! `bulk-groups validate`: an offline check of a roster, with no portal contact (product spec
//! §1). It reads the roster with the same [`RosterReader`] as `import`, so what it reports is
//! exactly what an import would see: every invalid and duplicate row with its line and reason,
//! the `--groups` file and definition conflicts, then a summary with the detected dialect.
//!
//! Exit: 0 when no row is invalid (duplicates are reported but, as in `import`, are not
//! errors), 1 when some rows are invalid, 2 when the roster cannot be used at all (or has
//! fewer rows than `--min-rows`).

use std::io::{self, Write};
use std::time::{Duration, Instant};

use crate::exit::Exit;
use crate::roster::{
    Dialect, GroupRef, RosterError, RosterOptions, RosterReader, RosterStats, RowKind, Source,
};

/// What `validate` found.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidateReport {
    /// The roster, as named in messages (path or `-`).
    pub source: String,
    /// Detected encoding, BOM and delimiter.
    pub dialect: Dialect,
    /// Rows, memberships, admins, duplicates, invalid.
    pub stats: RosterStats,
    /// Distinct groups named by valid rows.
    pub groups: usize,
    /// Later definition values that differ from the first (all counted).
    pub definition_conflicts: u64,
    /// Header cells that name no known column.
    pub unknown_columns: Vec<String>,
    /// Groups the `--groups` file defines that the roster never names.
    pub unused_file_groups: Vec<String>,
    /// Time spent reading.
    pub elapsed: Duration,
}

impl ValidateReport {
    /// `Success` when no row is invalid, `RowsNeedAttention` otherwise.
    pub fn exit(&self) -> Exit {
        if self.stats.invalid > 0 {
            Exit::RowsNeedAttention
        } else {
            Exit::Success
        }
    }

    /// Data rows per second of reading.
    pub fn rows_per_second(&self) -> f64 {
        self.stats.rows as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Read the whole roster offline, print every invalid and duplicate row and a summary to
/// `out`. Errors are the run-wide ones (unreadable roster, missing column, bad groups file):
/// usage errors, exit 2.
pub fn run(
    source: &Source,
    options: &RosterOptions,
    out: &mut dyn Write,
) -> Result<ValidateReport, RosterError> {
    let reader = RosterReader::open(source, options)?;
    check(reader, &source.to_string(), out)
}

/// [`run`] over an already opened reader (embedded samples, tests). `name` labels the roster.
pub fn check(
    mut reader: RosterReader,
    name: &str,
    out: &mut dyn Write,
) -> Result<ValidateReport, RosterError> {
    let started = Instant::now();
    let mut out = Printer {
        out: io::BufWriter::with_capacity(64 * 1024, out),
        broken: false,
    };
    for row in reader.by_ref() {
        match &row.kind {
            RowKind::Membership(_) => {}
            RowKind::Invalid { column, reason, .. } => match column {
                Some(column) => out.line(format_args!(
                    "line {}: invalid ({column}): {reason}",
                    row.line
                )),
                None => out.line(format_args!("line {}: invalid: {reason}", row.line)),
            },
            RowKind::Duplicate { membership, reason } => {
                let group = match &membership.group {
                    GroupRef::Id(id) => id,
                    GroupRef::Title(title) => title,
                };
                out.line(format_args!(
                    "line {}: duplicate ({group} / {}): {reason}",
                    row.line, membership.username
                ))
            }
        }
    }
    if let Some(error) = reader.take_error() {
        return Err(error);
    }
    let elapsed = started.elapsed();
    let definitions = reader.definitions();
    for conflict in definitions.conflicts() {
        out.line(format_args!("definition conflict: {conflict}"));
    }
    let more = definitions.conflict_count() - definitions.conflicts().len() as u64;
    if more > 0 {
        out.line(format_args!("definition conflict: … and {more} more"));
    }
    let report = ValidateReport {
        source: name.to_owned(),
        dialect: reader.dialect(),
        stats: reader.stats(),
        groups: definitions.roster_group_count(),
        definition_conflicts: definitions.conflict_count(),
        unknown_columns: reader.unknown_columns().to_vec(),
        unused_file_groups: definitions
            .unused_file_groups()
            .into_iter()
            .map(str::to_owned)
            .collect(),
        elapsed,
    };
    write_summary(&report, &mut out);
    out.flush();
    Ok(report)
}

fn write_summary(r: &ValidateReport, out: &mut Printer<'_>) {
    let s = &r.stats;
    let quoted = crate::roster::quoted_list::<&String>;
    out.line(format_args!("roster:      {}", r.source));
    out.line(format_args!("dialect:     {}", r.dialect));
    out.line(format_args!("rows:        {}", s.rows));
    out.line(format_args!("groups:      {}", r.groups));
    out.line(format_args!(
        "memberships: {} ({} admins)",
        s.memberships, s.admins
    ));
    out.line(format_args!("duplicates:  {}", s.duplicates));
    out.line(format_args!("invalid:     {}", s.invalid));
    if r.definition_conflicts > 0 {
        out.line(format_args!(
            "definition conflicts: {} (the first value of each column is used)",
            r.definition_conflicts
        ));
    }
    if !r.unknown_columns.is_empty() {
        out.line(format_args!(
            "ignored columns: {}",
            quoted(&r.unknown_columns)
        ));
    }
    if !r.unused_file_groups.is_empty() {
        out.line(format_args!(
            "groups file: {} group(s) not in the roster, ignored: {}",
            r.unused_file_groups.len(),
            quoted(&r.unused_file_groups)
        ));
    }
    out.line(format_args!(
        "checked in {:.2} s ({:.0} rows/s)",
        r.elapsed.as_secs_f64(),
        r.rows_per_second()
    ));
    match s.invalid {
        0 => out.line(format_args!("result: OK, the roster is ready to import")),
        1 => out.line(format_args!(
            "result: 1 invalid row; an import reports it as 'invalid' and exits 1"
        )),
        n => out.line(format_args!(
            "result: {n} invalid rows; an import reports them as 'invalid' and exits 1"
        )),
    }
}

/// Writes report lines; a closed stdout (`validate … | head`) stops the printing, not the check.
struct Printer<'a> {
    out: io::BufWriter<&'a mut dyn Write>,
    broken: bool,
}

impl Printer<'_> {
    fn line(&mut self, args: std::fmt::Arguments<'_>) {
        if !self.broken && (self.out.write_fmt(args).is_err() || self.out.write_all(b"\n").is_err())
        {
            self.broken = true;
        }
    }

    fn flush(&mut self) {
        if !self.broken && self.out.flush().is_err() {
            self.broken = true;
        }
    }
}

/// The whole `validate` command for the CLI: report to stdout, errors to stderr, and the exit
/// code (`--min-rows` included: fewer data rows than `min_rows` is a usage error).
pub fn cli(source: &Source, options: &RosterOptions, min_rows: u64) -> Exit {
    let stdout = io::stdout();
    let mut lock = stdout.lock();
    match run(source, options, &mut lock) {
        Ok(report) if report.stats.rows < min_rows => {
            eprintln!(
                "error: {} has {} data row(s), fewer than --min-rows {min_rows} (a truncated or empty export?)",
                report.source, report.stats.rows
            );
            Exit::Usage
        }
        Ok(report) => report.exit(),
        Err(error) => {
            eprintln!("error: {error}");
            error.exit()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_bytes(input: &[u8]) -> (ValidateReport, String) {
        let reader = RosterReader::from_reader(
            Box::new(io::Cursor::new(input.to_vec())),
            &RosterOptions::default(),
        )
        .unwrap();
        let mut out = Vec::new();
        let report = check(reader, "test.csv", &mut out).unwrap();
        (report, String::from_utf8(out).unwrap())
    }

    #[test]
    fn clean_roster_exits_0() {
        let (report, out) = check_bytes(b"group,username,role\ng,alice,admin\ng,bob,\nh,bob,\n");
        assert_eq!(report.exit(), Exit::Success);
        assert_eq!(report.groups, 2);
        assert_eq!(report.stats.admins, 1);
        assert!(out.contains("memberships: 3 (1 admins)"), "{out}");
        assert!(
            out.contains("dialect:     utf-8, no BOM, delimiter ','"),
            "{out}"
        );
        assert!(out.contains("result: OK"), "{out}");
    }

    #[test]
    fn duplicates_alone_exit_0_and_are_listed() {
        let (report, out) = check_bytes(b"group,username\ng,alice\ng,Alice\n");
        assert_eq!(report.exit(), Exit::Success);
        assert!(
            out.starts_with("line 3: duplicate (g / Alice): duplicate of line 2\n"),
            "{out}"
        );
    }

    #[test]
    fn invalid_rows_exit_1_with_line_column_reason() {
        let (report, out) = check_bytes(b"group,username\ng,john smith\ng,a,b\n");
        assert_eq!(report.exit(), Exit::RowsNeedAttention);
        assert_eq!(report.stats.invalid, 2);
        let lines: Vec<&str> = out.lines().take(2).collect();
        assert_eq!(
            lines,
            [
                "line 2: invalid (username): username 'john smith' contains whitespace",
                "line 3: invalid: the row has 3 fields but the header has 2 (is there an unquoted ',' in a cell?)"
            ]
        );
        assert!(out.contains("result: 2 invalid rows"), "{out}");
    }

    #[test]
    fn conflicts_are_reported() {
        let (report, out) = check_bytes(b"group,username,access\ng,a,org\ng,b,public\n");
        assert_eq!(report.definition_conflicts, 1);
        assert!(out.contains("definition conflict: line 3: group 'g': access 'public' differs from the first value 'org'"), "{out}");
        assert_eq!(report.exit(), Exit::Success);
    }
}
