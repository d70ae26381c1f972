//! Rosters as they come (product spec §2.4), through the command line: column mapping, title
//! templates and role maps (flags and `--profile`), binary files refused with a one-line message,
//! encoding errors in ignored columns, and `validate` agreeing with `import` on a header-only
//! roster.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::bulk_groups_cmd as bulk_groups;
use crate::support::*;
use bulk_groups::exit::Exit;
use bulk_groups::roster::{ColumnMapping, RoleMap, RosterOptions, TitleTemplate};

fn samples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples")
}

/// `bulk-groups <args>` run in `dir`, with an API key and a portal nothing listens on: any
/// portal contact would end in exit 4, not 2.
fn run_in(dir: &Path, args: &[&str]) -> Output {
    bulk_groups()
        .current_dir(dir)
        .args(args)
        .env("ARCGIS_API_KEY", "key")
        .env("ARCGIS_PORTAL", "http://127.0.0.1:9")
        .output()
        .expect("run bulk-groups")
}

fn code(output: &Output) -> i32 {
    output.status.code().expect("exit code")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// No raw control byte (ESC, NUL, BEL…) other than line ends reaches the terminal.
fn assert_printable(bytes: &[u8]) {
    let bad: Vec<u8> = bytes
        .iter()
        .copied()
        .filter(|&b| (b < 0x20 && b != b'\n') || b == 0x7f)
        .collect();
    assert!(bad.is_empty(), "control bytes {bad:?} in {:?}", text(bytes));
}

#[test]
fn binary_files_are_exit_2_with_one_line_naming_what_they_look_like() {
    let dir = Workdir::new();
    // Each one holds NULs, ESC and BEL in its first bytes, as real files do.
    let junk = b"\x00\x1b[2J\x07\x08\x0c\x9b";
    let cases: [(&str, &[u8], &str); 5] = [
        ("x.docx", b"PK\x03\x04\x14\x00\x06\x00", "a zip archive"),
        (
            "report.pdf",
            b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
            "a PDF document",
        ),
        (
            "roster.csv.gz",
            b"\x1f\x8b\x08\x00\x00\x00",
            "a gzip archive",
        ),
        ("a.out", b"\x7fELF\x02\x01\x01\x00", "an executable (ELF)"),
        (
            "data.csv",
            b"group,username\n",
            "binary data (it holds NUL bytes)",
        ),
    ];
    for (name, head, looks) in cases {
        let mut bytes = head.to_vec();
        bytes.extend_from_slice(junk);
        bytes.extend_from_slice(b"group,username\n\x00\x00");
        std::fs::write(dir.path(name), &bytes).unwrap();
        for command in ["validate", "import"] {
            let out = run_in(dir.dir.path(), &[command, name]);
            assert_eq!(code(&out), 2, "{command} {name}: {}", text(&out.stderr));
            // import adds its "nothing was done" line.
            assert_eq!(
                text(&out.stderr).lines().next().map(without_timestamp),
                Some(format!("error: '{name}' is not a CSV file (it looks like {looks})").as_str()),
                "{command} {name}"
            );
            assert_printable(&out.stderr);
            assert_printable(&out.stdout);
        }
    }
}

#[test]
fn control_characters_in_a_header_are_escaped_in_messages() {
    let dir = Workdir::new();
    dir.write("r.csv", "gr\x1b[31moup,us\x07er\ng,amy\n");
    let out = run_in(dir.dir.path(), &["validate", "r.csv"]);
    assert_eq!(code(&out), 2);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("'gr\\u{1b}[31moup', 'us\\u{7}er'"),
        "{stderr}"
    );
    assert_printable(&out.stderr);
}

#[test]
fn the_sis_export_validates_with_flags_or_with_its_profile() {
    let sis = samples().join("sis-export.csv");
    let sis = sis.to_str().unwrap();
    let flags = [
        "validate",
        sis,
        "--column",
        "username=Student Email",
        "--group-title",
        "{Course} {Section} - Spring 2026",
        "--role-map",
        "Student=member,Instructor=admin,TA=admin",
    ];
    let profile = samples().join("sis.toml");
    let with_profile = ["validate", sis, "--profile", profile.to_str().unwrap()];
    for args in [&flags[..], &with_profile[..]] {
        let out = run_in(&samples(), args);
        let stdout = text(&out.stdout);
        assert_eq!(code(&out), 0, "{args:?}: {stdout}{}", text(&out.stderr));
        assert!(stdout.contains("groups:      2\n"), "{stdout}");
        assert!(stdout.contains("memberships: 9 (3 admins)\n"), "{stdout}");
        assert!(
            stdout.contains("ignored columns: 'Full Name'\n"),
            "{stdout}"
        );
        assert!(
            stdout.contains("warning: 9 username cell(s) look like e-mail addresses, not portal usernames (first: line 2, 'prof.okafor@uni.example.edu'); with --match-by auto they will be looked up in the organization's directory when no such username exists"),
            "{stdout}"
        );
        assert!(stdout.contains("result: OK"), "{stdout}");
    }
    // Without the mapping the export is unusable, and the message lists its header.
    let out = run_in(&samples(), &["validate", sis]);
    assert_eq!(code(&out), 2);
    assert!(
        text(&out.stderr).contains("'Course', 'Section', 'Student Email', 'Role', 'Full Name'"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn flags_win_over_the_profile() {
    let dir = Workdir::new();
    let sis = samples().join("sis-export.csv");
    let profile = samples().join("sis.toml");
    let base = [
        "validate",
        sis.to_str().unwrap(),
        "--profile",
        profile.to_str().unwrap(),
    ];
    let mut args = base.to_vec();
    args.extend(["--role-map", "TA=member", "--match-by", "username"]);
    let out = run_in(dir.dir.path(), &args);
    let stdout = text(&out.stdout);
    assert_eq!(code(&out), 0, "{stdout}");
    assert!(stdout.contains("memberships: 9 (2 admins)\n"), "{stdout}");
    assert!(
        stdout.contains("will be sent as usernames and fail"),
        "{stdout}"
    );

    // A flag's title template with a column the header lacks: exit 2 before anything is read.
    let mut args = base.to_vec();
    args.extend(["--group-title", "{Course} {Term}"]);
    let out = run_in(dir.dir.path(), &args);
    assert_eq!(code(&out), 2);
    assert!(
        text(&out.stderr).contains("--group-title: the header has no column 'Term' for {Term}"),
        "{}",
        text(&out.stderr)
    );

    // import stops the same way, before any portal contact (the portal is unreachable: 4).
    args[0] = "import";
    let out = run_in(dir.dir.path(), &args);
    assert_eq!(code(&out), 2, "{}", text(&out.stderr));

    // An unknown key in a profile is exit 2 naming it.
    let bad = dir.write("bad.toml", "group_title = '{Course}'\nrolemap = 'x'\n");
    let out = run_in(
        dir.dir.path(),
        &[
            "validate",
            sis.to_str().unwrap(),
            "--profile",
            bad.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&out), 2);
    assert!(
        text(&out.stderr).contains("line 2: unknown field `rolemap`"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn validate_and_import_agree_on_a_header_only_roster() {
    let dir = Workdir::new();
    dir.write("empty.csv", "group,username,role\n");
    let out = run_in(dir.dir.path(), &["validate", "empty.csv"]);
    assert_eq!(code(&out), 2, "{}", text(&out.stdout));
    assert!(!text(&out.stdout).contains("OK"), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("fewer than --min-rows 1; an import refuses it (exit 2)"),
        "{}",
        text(&out.stdout)
    );
    // import refuses it the same way, before any portal contact (the portal is unreachable).
    let out = run_in(dir.dir.path(), &["import", "empty.csv"]);
    assert_eq!(code(&out), 2, "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("--min-rows"),
        "{}",
        text(&out.stderr)
    );
    // --min-rows 0 accepts it in validate, as in import.
    let out = run_in(
        dir.dir.path(),
        &["validate", "empty.csv", "--min-rows", "0"],
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stdout));
}

#[test]
fn an_encoding_error_in_an_ignored_column_leaves_the_row_valid() {
    let dir = Workdir::new();
    // Windows-1252 accents (é = 0xE9) read as UTF-8, only in the ignored `Full Name` column.
    std::fs::write(
        dir.path("export.csv"),
        b"group,username,Full Name\nGEOG 101,rene_uni,Ren\xe9 Dub\xe9\nGEOG 101,amy_uni,Amy\n",
    )
    .unwrap();
    let out = run_in(dir.dir.path(), &["validate", "export.csv"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("memberships: 2"),
        "{}",
        text(&out.stdout)
    );
    // The same byte in a used column is still an invalid row, naming the column.
    std::fs::write(
        dir.path("bad.csv"),
        b"group,username,Full Name\nG\xe9O 101,rene_uni,Rene\n",
    )
    .unwrap();
    let out = run_in(dir.dir.path(), &["validate", "bad.csv"]);
    assert_eq!(code(&out), 1);
    assert!(
        text(&out.stdout).contains("line 2: invalid (group): not valid UTF-8"),
        "{}",
        text(&out.stdout)
    );
}

#[tokio::test]
async fn a_mapped_export_imports_without_a_script() {
    let sim = start_sim(sim_config(&["amy_uni", "bob_uni", "cy_uni"])).await;
    let dir = Workdir::new();
    let roster = dir.write(
        "export.csv",
        "Course,Section,Login,Enrollment Role,Full Name\n\
         GEOG 101,A,amy_uni,Instructor,Amy Lee\n\
         GEOG 101,A,bob_uni,Student,Bob Roe\n\
         GEOG 101,,cy_uni,Student,Cy Poe\n\
         GEOG 101,B,cy_uni,Auditor,Cy Poe\n",
    );
    let results = dir.path("export.results.csv");
    let mut config = import_config(&sim, &roster, &results);
    config.roster_options = RosterOptions {
        columns: vec![
            ColumnMapping::parse("username=login").unwrap(),
            ColumnMapping::parse("role=Enrollment Role").unwrap(),
        ],
        group_title: Some(TitleTemplate::parse("{Course} {Section} - Spring 2026").unwrap()),
        role_map: RoleMap::parse("Student=member,Instructor=admin").unwrap(),
        ..RosterOptions::default()
    };
    let outcome = run_import(config).await;
    assert_exit(&outcome, Exit::RowsNeedAttention);
    let rows = by_line(&read_results(&results));
    let got: Vec<(u64, &str, &str, &str)> = rows
        .iter()
        .map(|(line, r)| (*line, r.group.as_str(), r.role.as_str(), r.status.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (2, "GEOG 101 A - Spring 2026", "admin", "added"),
            (3, "GEOG 101 A - Spring 2026", "member", "added"),
            (4, "", "", "invalid"),
            (5, "", "", "invalid"),
        ]
    );
    assert!(
        rows[&4].reason.contains("Section is empty"),
        "{:?}",
        rows[&4]
    );
    assert!(rows[&5].reason.contains("'Auditor'"), "{:?}", rows[&5]);
    let (members, admins) = members_of(&sim, "GEOG 101 A - Spring 2026");
    assert_eq!(
        (members, admins),
        (vec!["bob_uni".to_owned()], vec!["amy_uni".to_owned()])
    );
}
