//! `bulk-groups validate`: an offline check of a roster, with no portal contact (product spec
//! §1). It reads the roster with the same [`RosterReader`] as `import`, so what it reports is
//! exactly what an import would see: every invalid and duplicate row with its line and reason,
//! the `--groups` file and definition conflicts, then a summary with the detected dialect.
//!
//! Verdict (exit code in `cmd`): 0 when no row is invalid (duplicates are reported but, as in `import`, are not
//! errors), 1 when some rows are invalid, 2 when the roster cannot be used at all (or has
//! fewer rows than `--min-rows`, which `import` refuses too).
//!
//! It also warns, once each, about username cells that are e-mail addresses or display names
//! (product spec §2.4) and says what `--match-by` will do with them.

use std::io::{self, Write};
use std::time::{Duration, Instant};

use crate::outcome::{Cause, Verdict};
use crate::roster::{
    Dialect, GroupRef, MatchBy, RosterError, RosterOptions, RosterReader, RosterStats, RowKind,
    Source, escape_controls, rules,
};

/// What `validate` holds a roster to beyond its rows: what `import` would.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checks {
    /// Fewer data rows than this is refused, as `import --min-rows` refuses it.
    pub min_rows: u64,
    /// How `import` will treat username cells (for the warnings).
    pub match_by: MatchBy,
}

/// How many username cells share a trait, and the first of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sighting {
    /// How many cells.
    pub count: u64,
    /// The first one's line.
    pub line: u64,
    /// The first one's value (control characters escaped, at most 80 characters).
    pub value: String,
}

impl Sighting {
    fn see(slot: &mut Option<Sighting>, line: u64, value: &str) {
        match slot {
            Some(s) => s.count += 1,
            None => {
                *slot = Some(Sighting {
                    count: 1,
                    line,
                    // A cell may be a megabyte long: the example is its start.
                    value: escape_controls(value).chars().take(80).collect(),
                })
            }
        }
    }
}

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
    /// The worksheet read, for a spreadsheet roster.
    pub sheet: Option<String>,
    /// What the roster was held to.
    pub checks: Checks,
    /// Username cells that look like e-mail addresses.
    pub email_usernames: Option<Sighting>,
    /// Username cells with spaces in them (display names, most likely).
    pub spaced_usernames: Option<Sighting>,
    /// Time spent reading.
    pub elapsed: Duration,
}

impl ValidateReport {
    /// Clean when no row is invalid; rows need attention otherwise (duplicates are not
    /// errors).
    pub fn verdict(&self) -> Verdict {
        if self.too_few_rows() {
            Cause::Unusable.into()
        } else if self.stats.invalid > 0 {
            Cause::RowsNeedAttention.into()
        } else {
            Verdict::default()
        }
    }

    /// Whether the roster has fewer data rows than `--min-rows` (`import` refuses it, exit 2).
    pub fn too_few_rows(&self) -> bool {
        self.stats.rows < self.checks.min_rows
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
    min_rows: u64,
    out: &mut dyn Write,
) -> Result<ValidateReport, RosterError> {
    let reader = RosterReader::open(source, options)?;
    let checks = Checks {
        min_rows,
        match_by: options.match_by,
    };
    check(reader, &source.to_string(), checks, out)
}

/// [`run`] over an already opened reader (embedded samples, tests). `name` labels the roster.
pub fn check(
    mut reader: RosterReader,
    name: &str,
    checks: Checks,
    out: &mut dyn Write,
) -> Result<ValidateReport, RosterError> {
    let started = Instant::now();
    let mut out = Printer {
        out: io::BufWriter::with_capacity(64 * 1024, out),
        broken: false,
    };
    let (mut email_usernames, mut spaced_usernames) = (None, None);
    for row in reader.by_ref() {
        let username = match &row.kind {
            RowKind::Membership(m) | RowKind::Duplicate { membership: m, .. } => &m.username,
            RowKind::Invalid { username, .. } => username,
        };
        if rules::looks_like_email(username) {
            Sighting::see(&mut email_usernames, row.line, username);
        } else if username.contains(' ') {
            Sighting::see(&mut spaced_usernames, row.line, username);
        }
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
        sheet: reader.sheet().map(str::to_owned),
        checks,
        email_usernames,
        spaced_usernames,
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
    match &r.sheet {
        Some(sheet) => out.line(format_args!("sheet:       '{sheet}'")),
        None => out.line(format_args!("dialect:     {}", r.dialect)),
    }
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
    write_username_warnings(r, out);
    if r.too_few_rows() {
        out.line(format_args!(
            "result: {} data row(s), fewer than --min-rows {}; an import refuses it (exit 2)",
            s.rows, r.checks.min_rows
        ));
        return;
    }
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

/// One warning each about e-mail addresses and display names in the username column, saying what
/// `--match-by` will do with them.
fn write_username_warnings(r: &ValidateReport, out: &mut Printer<'_>) {
    if let Some(s) = &r.email_usernames {
        let fate = match r.checks.match_by {
            MatchBy::Auto => {
                "with --match-by auto they will be looked up in the organization's directory when no such username exists"
            }
            MatchBy::Username => {
                "with --match-by username they will be sent as usernames and fail; use --match-by auto or email"
            }
            MatchBy::Email => {
                "with --match-by email they will be resolved to usernames through the organization's directory"
            }
            MatchBy::Idp => {
                "with --match-by idp they will be resolved to usernames through the organization's directory, as identity-provider names"
            }
        };
        out.line(format_args!(
            "warning: {} username cell(s) look like e-mail addresses, not portal usernames (first: line {}, '{}'); {fate}",
            s.count, s.line, s.value
        ));
    }
    if let Some(s) = &r.spaced_usernames {
        out.line(format_args!(
            "warning: {} username cell(s) hold spaces, like display names (first: line {}, '{}'); no --match-by resolves display names, so these rows are invalid: point --column username=HEADER at a column of usernames or e-mail addresses",
            s.count, s.line, s.value
        ));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn check_bytes(input: &[u8]) -> (ValidateReport, String) {
        check_with(input, CHECKS)
    }

    const CHECKS: Checks = Checks {
        min_rows: 1,
        match_by: MatchBy::Auto,
    };

    fn check_with(input: &[u8], checks: Checks) -> (ValidateReport, String) {
        let reader = RosterReader::from_reader(
            Box::new(io::Cursor::new(input.to_vec())),
            &RosterOptions::default(),
        )
        .unwrap();
        let mut out = Vec::new();
        let report = check(reader, "test.csv", checks, &mut out).unwrap();
        (report, String::from_utf8(out).unwrap())
    }

    #[test]
    fn clean_roster_exits_0() {
        let (report, out) = check_bytes(b"group,username,role\ng,alice,admin\ng,bob,\nh,bob,\n");
        assert_eq!(report.verdict(), Verdict::default());
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
        assert_eq!(report.verdict(), Verdict::default());
        assert!(
            out.starts_with("line 3: duplicate (g / Alice): duplicate of line 2\n"),
            "{out}"
        );
    }

    #[test]
    fn invalid_rows_exit_1_with_line_column_reason() {
        let (report, out) = check_bytes(b"group,username\ng,john smith\ng,a,b\n");
        assert_eq!(report.verdict(), Cause::RowsNeedAttention.into());
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
        assert_eq!(report.verdict(), Verdict::default());
    }

    #[test]
    fn a_header_only_roster_is_not_ok() {
        let (report, out) = check_bytes(b"group,username\n");
        assert_eq!(report.verdict(), Cause::Unusable.into());
        assert!(
            out.contains(
                "result: 0 data row(s), fewer than --min-rows 1; an import refuses it (exit 2)"
            ),
            "{out}"
        );
        assert!(!out.contains("OK"), "{out}");
        let (report, _) = check_with(
            b"group,username\n",
            Checks {
                min_rows: 0,
                ..CHECKS
            },
        );
        assert_eq!(report.verdict(), Verdict::default());
    }

    #[test]
    fn e_mail_usernames_are_warned_about_once_with_what_match_by_does() {
        let input = b"group,username\ng,amy@example.edu\ng,bob\ng,cy@example.edu\n";
        let (report, out) = check_bytes(input);
        assert_eq!(
            report.email_usernames,
            Some(Sighting {
                count: 2,
                line: 2,
                value: "amy@example.edu".into()
            })
        );
        let warnings: Vec<&str> = out.lines().filter(|l| l.starts_with("warning")).collect();
        assert_eq!(
            warnings,
            [
                "warning: 2 username cell(s) look like e-mail addresses, not portal usernames (first: line 2, 'amy@example.edu'); with --match-by auto they will be looked up in the organization's directory when no such username exists"
            ]
        );
        let (_, out) = check_with(
            input,
            Checks {
                match_by: MatchBy::Username,
                ..CHECKS
            },
        );
        assert!(out.contains("will be sent as usernames and fail"), "{out}");
        let (_, out) = check_with(
            input,
            Checks {
                match_by: MatchBy::Email,
                ..CHECKS
            },
        );
        assert!(out.contains("will be resolved to usernames"), "{out}");
    }

    #[test]
    fn display_names_are_warned_about() {
        let (report, out) = check_bytes(b"group,username\ng,Amy Lee\ng,Bob Roe\ng,cy\n");
        assert_eq!(
            report.spaced_usernames.map(|s| (s.count, s.line)),
            Some((2, 2))
        );
        assert!(
            out.contains("warning: 2 username cell(s) hold spaces, like display names (first: line 2, 'Amy Lee')"),
            "{out}"
        );
        let (report, out) = check_bytes(b"group,username\ng,amy\n");
        assert_eq!(
            (report.email_usernames, report.spaced_usernames),
            (None, None)
        );
        assert!(!out.contains("warning"), "{out}");
    }
}
