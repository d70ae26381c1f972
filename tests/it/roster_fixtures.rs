//! Real-world roster shapes (tests/fixtures/roster/): Excel exports, European semicolon files,
//! Windows-1252, multi-line quoted cells, HR-style headers, CR-only line ends, `--groups`.

use std::path::PathBuf;

use bulk_groups::roster::{
    Access, Encoding, GroupKey, GroupRef, Role, RosterError, RosterOptions, RosterReader, Row,
    RowKind, Source, TitleKey, scan_definitions,
};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/roster")
        .join(name)
}

fn read(name: &str, options: &RosterOptions) -> (RosterReader, Vec<Row>) {
    let mut reader = RosterReader::open(&Source::Path(fixture(name)), options).expect("opens");
    let rows: Vec<Row> = reader.by_ref().collect();
    assert!(reader.is_finished());
    (reader, rows)
}

/// (line, username, role) of memberships; (line, "invalid"/"duplicate", reason) otherwise.
fn summary(rows: &[Row]) -> Vec<(u64, String, String)> {
    rows.iter()
        .map(|r| match &r.kind {
            RowKind::Membership(m) => (r.line, m.username.clone(), m.role.to_string()),
            RowKind::Duplicate { reason, .. } => (r.line, "duplicate".into(), reason.clone()),
            RowKind::Invalid { reason, .. } => (r.line, "invalid".into(), reason.clone()),
        })
        .collect()
}

fn s(line: u64, a: &str, b: &str) -> (u64, String, String) {
    (line, a.to_owned(), b.to_owned())
}

fn title(t: &str) -> GroupKey {
    GroupKey::Title(TitleKey::new(t))
}

#[test]
fn excel_csv_utf8_with_bom() {
    let (reader, rows) = read("excel-utf8-bom.csv", &RosterOptions::default());
    let d = reader.dialect();
    assert_eq!(d.to_string(), "utf-8, BOM, delimiter ','");
    assert_eq!(
        summary(&rows),
        [
            s(2, "jose.garcia", "admin"),
            s(3, "zoë.müller", "member"),
            s(4, "francois_l", "member"),
            s(5, "jose.garcia", "member"),
        ]
    );
    match &rows[0].kind {
        RowKind::Membership(m) => assert_eq!(m.group, GroupRef::Title("Géographie 101".into())),
        other => panic!("{other:?}"),
    }
    let def = reader.definitions().get(&title("géographie 101"));
    assert_eq!(
        def.description.as_deref(),
        Some("Intro course, autumn term")
    );
    assert_eq!(def.access, Some(Access::Private), "default access");
}

#[test]
fn european_semicolon_crlf_export() {
    let (reader, rows) = read("semicolon-crlf-eu.csv", &RosterOptions::default());
    assert_eq!(reader.dialect().to_string(), "utf-8, no BOM, delimiter ';'");
    assert_eq!(reader.unknown_columns(), ["Credits"]);
    assert_eq!(
        summary(&rows),
        [
            s(
                2,
                "invalid",
                "Member Type 'Mitglied' is not one of member, admin (or manager)"
            ),
            s(3, "jonas.weber", "admin"),
            s(5, "lena.fischer", "member"),
        ]
    );
    match &rows[0].kind {
        RowKind::Invalid {
            group,
            username,
            column,
            ..
        } => {
            assert_eq!(
                (group.as_str(), username.as_str()),
                ("Vermessung I", "anna.schmidt")
            );
            assert_eq!(column.as_deref(), Some("Member Type"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        reader.definitions().get(&title("Vermessung II")).access,
        Some(Access::Public)
    );
}

#[test]
fn windows_1252_needs_the_encoding_option() {
    let options = RosterOptions {
        encoding: Encoding::Windows1252,
        ..Default::default()
    };
    let (reader, rows) = read("windows-1252.csv", &options);
    assert_eq!(
        reader.dialect().to_string(),
        "windows-1252, no BOM, delimiter ';'"
    );
    assert_eq!(
        summary(&rows),
        [
            s(2, "rene.dupre", "member"),
            s(3, "helene.lefevre", "member"),
            s(4, "jurgen.muller", "member")
        ]
    );
    match &rows[2].kind {
        RowKind::Membership(m) => {
            assert_eq!(m.group, GroupRef::Title("Übungsgruppe Müller".into()))
        }
        other => panic!("{other:?}"),
    }
    let def = reader.definitions().get(&title("cours de géographie"));
    assert_eq!(def.description.as_deref(), Some("Frais: 10 €"));

    // Read as UTF-8 (the default), every accented row is invalid — with the hint — and nothing
    // crashes.
    let (_, rows) = read("windows-1252.csv", &RosterOptions::default());
    let reasons: Vec<_> = summary(&rows);
    assert_eq!(reasons.len(), 3);
    for (_, kind, reason) in reasons {
        assert_eq!(kind, "invalid");
        assert_eq!(reason, "not valid UTF-8 (try --encoding windows-1252)");
    }
}

#[test]
fn multi_line_quoted_description_keeps_physical_lines() {
    let (reader, rows) = read("multiline-description.csv", &RosterOptions::default());
    assert_eq!(
        summary(&rows),
        [
            s(2, "ada", "member"),
            s(5, "grace", "member"),
            s(7, "linus", "member")
        ]
    );
    let def = reader.definitions().get(&title("Field Methods"));
    assert_eq!(
        def.description.as_deref(),
        Some("Line one of the description,\nline two with \"quotes\",\nline three.")
    );
    assert_eq!(def.tags.as_deref(), Some("fieldwork"));
}

#[test]
fn hr_style_header_group_name_user_name() {
    let (reader, rows) = read("group-name-user-name.csv", &RosterOptions::default());
    assert!(reader.unknown_columns().is_empty());
    assert_eq!(
        summary(&rows),
        [
            s(2, "m.jones", "admin"),
            s(3, "k.lee", "member"),
            s(4, "duplicate", "duplicate of line 3")
        ]
    );
}

#[test]
fn cr_only_line_ends() {
    let (_, rows) = read("cr-only.csv", &RosterOptions::default());
    assert_eq!(
        summary(&rows),
        [
            s(3, "alice", "member"),
            s(4, "bob", "member"),
            s(6, "carol", "member")
        ]
    );
}

#[test]
fn groups_file_wins_and_reports_unused_groups() {
    let options = RosterOptions {
        groups_file: Some(fixture("groups-for-excel.csv")),
        ..Default::default()
    };
    let (reader, rows) = read("excel-utf8-bom.csv", &options);
    assert_eq!(rows.len(), 4);
    let defs = reader.definitions();
    let def = defs.get(&title("Géographie 101"));
    assert_eq!(
        def.description.as_deref(),
        Some("Official description from the groups file")
    );
    assert_eq!(def.access, Some(Access::Public));
    assert_eq!(def.tags.as_deref(), Some("geo,course"));
    assert_eq!(def.snippet.as_deref(), Some("Intro geography"));
    // A group the groups file does not define still gets the defaults.
    assert_eq!(
        defs.get(&title("Cartographie avancée")).tags.as_deref(),
        Some("bulk-groups")
    );
    assert_eq!(defs.unused_file_groups(), ["Unused Group"]);
    assert_eq!(defs.roster_group_count(), 2);
}

#[test]
fn scan_definitions_sees_later_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.csv");
    std::fs::write(
        &path,
        "group,username,role,access\ng,a,admin,\ng,b,,\ng,c,,public\n",
    )
    .unwrap();
    let defs = scan_definitions(&Source::Path(path), &RosterOptions::default()).unwrap();
    assert_eq!(defs.get(&title("g")).access, Some(Access::Public));
    assert_eq!(defs.first_line(&title("g")), Some(2));
    // Standard input cannot be read twice: only the groups file's definitions.
    let defs = scan_definitions(&Source::Stdin, &RosterOptions::default()).unwrap();
    assert_eq!(defs.roster_group_count(), 0);
}

#[test]
fn explicit_delimiter_overrides_detection() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.csv");
    // Two '|' and two ',' in the header: detection would pick ','; the user says '|'.
    std::fs::write(
        &path,
        "group|username|notes, remarks, more\nA|u1|one, two, three\n",
    )
    .unwrap();
    let options = RosterOptions {
        delimiter: Some(b'|'),
        ..Default::default()
    };
    let (mut reader, rows) = {
        let mut reader = RosterReader::open(&Source::Path(path), &options).unwrap();
        let rows: Vec<Row> = reader.by_ref().collect();
        (reader, rows)
    };
    assert_eq!(summary(&rows), [s(2, "u1", "member")]);
    assert!(reader.take_error().is_none());
}

#[test]
fn missing_file_is_a_usage_error() {
    let err = RosterReader::open(
        &Source::Path(fixture("nope.csv")),
        &RosterOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, RosterError::Open { .. }), "{err}");
    assert!(err.to_string().starts_with("cannot open roster '"), "{err}");
    let options = RosterOptions {
        groups_file: Some(fixture("nope.csv")),
        ..Default::default()
    };
    let err = RosterReader::open(&Source::Path(fixture("cr-only.csv")), &options).unwrap_err();
    assert!(
        err.to_string().starts_with("cannot open groups file '"),
        "{err}"
    );
}

#[test]
fn bad_groups_file_rows_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let groups = dir.path().join("groups.csv");
    std::fs::write(&groups, "group,access\nA,private\nB,secret\n").unwrap();
    let options = RosterOptions {
        groups_file: Some(groups.clone()),
        ..Default::default()
    };
    let err = RosterReader::open(&Source::Path(fixture("cr-only.csv")), &options).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "groups file '{}' line 3: access 'secret' is not one of private, org, public",
            groups.display()
        )
    );
    std::fs::write(&groups, "group,access\nA,private\na,org\n").unwrap();
    let err = RosterReader::open(&Source::Path(fixture("cr-only.csv")), &options).unwrap_err();
    assert!(
        err.to_string().contains("already defined on line 2"),
        "{err}"
    );
}

#[test]
fn roles_normalise() {
    let (_, rows) = read("group-name-user-name.csv", &RosterOptions::default());
    match &rows[0].kind {
        RowKind::Membership(m) => assert_eq!(m.role, Role::Admin),
        other => panic!("{other:?}"),
    }
}
