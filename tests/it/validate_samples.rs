//! `validate` on the shipped samples and on files: exactly the deliberate problems, the right
//! exit codes, `--groups` honoured, usage errors for unusable input.

use std::path::PathBuf;

use bulk_groups::cmd::{self, exit_for};
use bulk_groups::exit::Exit;
use bulk_groups::roster::{RosterError, RosterOptions, Source};
use bulk_groups::validate;

fn sample(name: &str) -> Source {
    Source::Path(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("samples")
            .join(name),
    )
}

fn run(source: &Source, options: &RosterOptions) -> (validate::ValidateReport, String) {
    let mut out = Vec::new();
    let report = validate::run(source, options, 1, &mut out).expect("readable");
    (report, String::from_utf8(out).unwrap())
}

#[test]
fn sample_roster_has_exactly_one_invalid_and_one_duplicate() {
    let (report, out) = run(&sample("roster.csv"), &RosterOptions::default());
    assert_eq!(report.stats.rows, 36);
    assert_eq!(report.stats.invalid, 1);
    assert_eq!(report.stats.duplicates, 1);
    assert_eq!(report.stats.memberships, 34);
    assert_eq!(report.stats.admins, 5);
    assert_eq!(report.groups, 4);
    assert_eq!(report.definition_conflicts, 0);
    assert_eq!(exit_for(&report.verdict()), Exit::RowsNeedAttention);
    let details: Vec<&str> = out.lines().take(2).collect();
    assert_eq!(
        details,
        [
            "line 9: invalid (username): username 'maria lopez' contains whitespace",
            "line 16: duplicate (GEOG 210 Intro to GIS - Fall 2025 / b.okonkwo_uni): duplicate of line 4",
        ]
    );
    assert!(
        out.contains("dialect:     utf-8, no BOM, delimiter ','"),
        "{out}"
    );
}

#[test]
fn sample_roster_with_groups_file() {
    let groups = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples/groups.csv");
    let options = RosterOptions {
        groups_file: Some(groups),
        ..Default::default()
    };
    let (report, _) = run(&sample("roster.csv"), &options);
    assert!(report.unused_file_groups.is_empty());
    assert_eq!(report.groups, 4);
}

#[test]
fn hr_export_is_clean_in_its_own_dialect() {
    let (report, out) = run(&sample("hr-export.csv"), &RosterOptions::default());
    assert_eq!(report.dialect.to_string(), "utf-8, BOM, delimiter ';'");
    assert_eq!(report.stats.rows, 8);
    assert_eq!(report.stats.invalid, 0);
    assert_eq!(report.stats.duplicates, 0);
    assert_eq!(report.stats.admins, 2);
    assert_eq!(report.groups, 3);
    assert_eq!(report.unknown_columns, ["Employee ID", "Job Title"]);
    assert_eq!(exit_for(&report.verdict()), Exit::Success);
    assert!(
        out.contains("ignored columns: 'Employee ID', 'Job Title'"),
        "{out}"
    );
}

#[test]
fn every_sample_username_exists_in_users_csv_except_the_deliberate_ones() {
    let users = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples/users.csv"),
    )
    .unwrap();
    let mut home = std::collections::HashSet::new();
    let mut other = std::collections::HashSet::new();
    let mut lines = users.lines();
    assert_eq!(
        lines.next(),
        Some("username,org,role,password,groups,access,email")
    );
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        if cells[1].is_empty() || cells[1] == "home" {
            home.insert(cells[0].to_owned());
        } else {
            other.insert((cells[0].to_owned(), cells[1].to_owned()));
        }
    }
    assert_eq!(
        other,
        [("r.silva_partner".to_owned(), "partner-org".to_owned())].into()
    );
    for name in ["roster.csv", "hr-export.csv"] {
        let reader =
            bulk_groups::roster::RosterReader::open(&sample(name), &RosterOptions::default())
                .unwrap();
        for row in reader {
            if let bulk_groups::roster::RowKind::Membership(m) = row.kind {
                let deliberate =
                    ["t.nakamura_uni", "r.silva_partner"].contains(&m.username.as_str());
                assert_eq!(
                    home.contains(&m.username),
                    !deliberate,
                    "{name}: {}",
                    m.username
                );
            }
        }
    }
}

#[test]
fn usage_errors() {
    let mut out = Vec::new();
    let err = validate::run(
        &sample("does-not-exist.csv"),
        &RosterOptions::default(),
        1,
        &mut out,
    )
    .unwrap_err();
    assert!(matches!(err, RosterError::Open { .. }), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.csv");
    std::fs::write(&path, "Title,username\nSales,ann\n").unwrap();
    let err =
        validate::run(&Source::Path(path), &RosterOptions::default(), 1, &mut out).unwrap_err();
    assert!(err.to_string().contains("no group column"), "{err}");
}

#[test]
fn cli_helper_applies_min_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.csv");
    std::fs::write(&path, "group,username\ng,a\n").unwrap();
    let source = Source::Path(path);
    assert_eq!(
        cmd::validate::run(&source, &RosterOptions::default(), 1),
        Exit::Success
    );
    assert_eq!(
        cmd::validate::run(&source, &RosterOptions::default(), 2),
        Exit::Usage
    );
}
