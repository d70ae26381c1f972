//! Spreadsheet rosters (product spec §2.4): `samples/roster.xlsx` (written by
//! `scripts/make-roster-xlsx.py`) read directly, with the spreadsheet's row numbers, cells as a
//! person sees them, `--sheet`, and an import end to end.

use std::path::PathBuf;

use crate::support::bulk_groups_cmd as bulk_groups;
use crate::support::*;
use bulk_groups::exit::Exit;
use bulk_groups::roster::{
    ColumnMapping, GroupKey, GroupRef, RosterOptions, RosterReader, RowKind, Source, TitleKey,
};

const GEOG: &str = "GEOG 210 Intro to GIS - Fall 2025";

fn xlsx() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples/roster.xlsx")
}

fn validate(args: &[&str]) -> (i32, String, String) {
    let out = bulk_groups()
        .arg("validate")
        .args(args)
        .output()
        .expect("run bulk-groups");
    (
        out.status.code().expect("exit code"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn rows_keep_the_spreadsheets_numbers_and_cells_read_as_shown() {
    let options = RosterOptions {
        // Mapped only to see how the reader writes a date and an integer cell.
        columns: vec![
            ColumnMapping::parse("description=Start Date").unwrap(),
            ColumnMapping::parse("phone=Student ID").unwrap(),
        ],
        ..RosterOptions::default()
    };
    let mut reader = RosterReader::open(&Source::Path(xlsx()), &options).unwrap();
    assert_eq!(reader.sheet(), Some("Roster"));
    let rows: Vec<_> = reader.by_ref().collect();
    // Row 5 is empty: skipped, but counted.
    let lines: Vec<u64> = rows.iter().map(|r| r.line).collect();
    assert_eq!(lines, [2, 3, 4, 6, 7]);
    match &rows[3].kind {
        RowKind::Membership(m) => {
            assert_eq!(
                m.group,
                GroupRef::Title("2026".into()),
                "an integer, not 2026.0"
            );
            assert_eq!(m.username, "c.dubois_uni");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(&rows[4].kind, RowKind::Invalid { column: Some(c), .. } if c == "username"),
        "{:?}",
        rows[4]
    );
    let geog = reader
        .definitions()
        .get(&GroupKey::Title(TitleKey::new(GEOG)));
    assert_eq!(geog.description.as_deref(), Some("2025-09-01"));
    let cohort = reader
        .definitions()
        .get(&GroupKey::Title(TitleKey::new("2026")));
    assert_eq!(cohort.description.as_deref(), Some("2026-01-31"));
    assert_eq!(cohort.phone.as_deref(), Some("100233"));
}

#[test]
fn validate_reads_the_xlsx_with_its_row_numbers() {
    let path = xlsx();
    let (code, stdout, stderr) = validate(&[path.to_str().unwrap()]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stdout.starts_with(
            "line 7: invalid (username): username 'maria lopez' contains whitespace\n"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("sheet:       'Roster'\n"), "{stdout}");
    assert!(stdout.contains("rows:        5\n"), "{stdout}");
    assert!(stdout.contains("memberships: 4 (1 admins)\n"), "{stdout}");
}

#[test]
fn sheets_are_chosen_by_name_or_number() {
    let path = xlsx();
    let path = path.to_str().unwrap();
    for sheet in ["Staff", "staff", "2"] {
        let (code, stdout, stderr) = validate(&[path, "--sheet", sheet]);
        assert_eq!(code, 0, "{sheet}: {stdout}{stderr}");
        assert!(stdout.contains("sheet:       'Staff'\n"), "{stdout}");
        assert!(stdout.contains("memberships: 1 (1 admins)\n"), "{stdout}");
    }
    let (code, _, stderr) = validate(&[path, "--sheet", "Grades"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("no sheet 'Grades' (by name or number); it has: 'Roster', 'Staff'"),
        "{stderr}"
    );
    // A CSV roster has no sheets: --sheet is a mistake to say, not to ignore.
    let dir = Workdir::new();
    let csv = dir.write("r.csv", "group,username\nG,amy\n");
    let (code, _, stderr) = validate(&[csv.to_str().unwrap(), "--sheet", "Staff"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--sheet applies to spreadsheet rosters"),
        "{stderr}"
    );
}

#[test]
fn a_broken_spreadsheet_is_exit_2_without_its_bytes() {
    let dir = Workdir::new();
    let path = dir.path("broken.xlsx");
    std::fs::write(&path, b"PK\x03\x04\x00\x1b[2J\x07 not a workbook \x00\x00").unwrap();
    let (code, _, stderr) = validate(&[path.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("broken.xlsx"), "{stderr}");
    assert!(stderr.contains("not a spreadsheet"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        !stderr.bytes().any(|b| b < 0x20 && b != b'\n'),
        "{stderr:?}"
    );
}

#[tokio::test]
async fn an_xlsx_roster_imports_end_to_end() {
    let sim = start_sim(sim_config(&[
        "prof.okafor_uni",
        "a.alvarez_uni",
        "b.okonkwo_uni",
        "c.dubois_uni",
    ]))
    .await;
    let dir = Workdir::new();
    let results = dir.path("roster.results.csv");
    let outcome = run_import(import_config(&sim, &xlsx(), &results)).await;
    assert_exit(&outcome, Exit::RowsNeedAttention);
    let rows = by_line(&read_results(&results));
    let got: Vec<(u64, &str, &str)> = rows
        .iter()
        .map(|(line, r)| (*line, r.group.as_str(), r.status.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (2, GEOG, "added"),
            (3, GEOG, "added"),
            (4, GEOG, "added"),
            (6, "2026", "added"),
            (7, "2026", "invalid"),
        ]
    );
    assert_eq!(members_of(&sim, "2026").0, ["c.dubois_uni"]);
    // It came from Excel, so the results go back to it: UTF-8 with a BOM.
    let bytes = std::fs::read(&results).unwrap();
    assert!(
        bytes.starts_with(b"\xEF\xBB\xBFline,group,"),
        "{:?}",
        &bytes[..12]
    );
}

#[test]
fn xls_and_ods_read_like_xlsx() {
    // Written by scripts/make-spreadsheet-fixtures.py: row 4 is empty.
    for name in ["legacy.xls", "libreoffice.ods"] {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/roster")
            .join(name);
        let options = RosterOptions {
            columns: vec![ColumnMapping::parse("phone=Student ID").unwrap()],
            ..RosterOptions::default()
        };
        let mut reader = RosterReader::open(&Source::Path(path), &options).unwrap();
        let rows: Vec<(u64, String)> = reader
            .by_ref()
            .map(|row| match row.kind {
                RowKind::Membership(m) => {
                    (row.line, format!("{} / {}", m.group.display(), m.username))
                }
                other => panic!("{name}: {other:?}"),
            })
            .collect();
        assert_eq!(
            rows,
            [
                (2, "GIS 101 / amy".to_owned()),
                (3, "GIS 101 / bob".to_owned()),
                (5, "2026 / cy".to_owned()),
            ],
            "{name}"
        );
        let cohort = reader
            .definitions()
            .get(&GroupKey::Title(TitleKey::new("2026")));
        assert_eq!(cohort.phone.as_deref(), Some("100233"), "{name}");
    }
}
