//! The files a run writes, as the people and schedulers who read them see them: the results
//! sorted by line when the run ends (completion order while it works), Excel's format checked
//! byte by byte, the JSON summary after early stops, and every file problem — permission,
//! missing directory, read-only file system, link — being exit 2 before any portal contact
//! (never 5, which tells a scheduler "another run is busy").
//!
//! Permissions are real: as root (which ignores permission bits) the binary runs without the
//! capabilities that bypass them (`setpriv`); a read-only file system is a read-only bind mount
//! in a private mount namespace (`unshare`).

use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use crate::support::bulk_groups_cmd as bulk_groups;
use crate::support::*;
use bulk_groups::exit::Exit;
use bulk_groups::portal::Credentials;
use bulk_groups::report::{
    GroupStatus, ResultRow, ResultsFormat, ResultsTarget, ResultsWriter, Status,
};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn summary_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("summary written"))
        .expect("summary is JSON")
}

fn file_names(dir: &Workdir) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn result_row(line: Option<u64>, group: &str, username: &str, status: Status) -> ResultRow {
    ResultRow {
        line,
        group: group.to_owned(),
        group_id: Some("0123456789abcdef0123456789abcdef".to_owned()),
        group_status: Some(GroupStatus::Existing),
        username: username.to_owned(),
        role: None,
        status,
        reason: String::new(),
        portal_username: None,
    }
}

/// (line, group, username) of each row of a results file, in file order.
fn order(path: &Path) -> Vec<(String, String, String)> {
    read_results(path)
        .into_iter()
        .map(|r| (r.line, r.group, r.username))
        .collect()
}

// ---- results sorted at the end --------------------------------------------------------------

#[test]
fn the_file_is_in_completion_order_while_running_and_sorted_by_line_at_the_end() {
    let dir = Workdir::new();
    let path = dir.path("r.csv");
    let (tx, task) =
        ResultsWriter::create(ResultsTarget::Path(path.clone()), ResultsFormat::CSV).unwrap();
    let sent = [
        result_row(Some(9), "G", "i", Status::Invalid),
        result_row(None, "B", "zed", Status::Removed),
        result_row(Some(3), "G", "c", Status::Added),
        result_row(None, "A", "yan", Status::Removed),
        result_row(Some(17), "G", "q", Status::Added),
        result_row(None, "A", "xia", Status::NotRemoved),
        result_row(Some(2), "G", "b", Status::Added),
    ];
    for row in &sent {
        tx.send(row.clone());
    }
    // While the run works: on disk in completion order (what a crash leaves).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while read_results(&path).len() < sent.len() {
        assert!(std::time::Instant::now() < deadline, "rows not flushed");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let lines: Vec<String> = order(&path).into_iter().map(|r| r.0).collect();
    assert_eq!(lines, ["9", "", "3", "", "17", "", "2"]);

    drop(tx);
    task.finish_blocking().unwrap();
    let sorted: Vec<(String, String, String)> = order(&path);
    let expected = [
        ("2", "G", "b"),
        ("3", "G", "c"),
        ("9", "G", "i"),
        ("17", "G", "q"),
        ("", "A", "xia"),
        ("", "A", "yan"),
        ("", "B", "zed"),
    ]
    .map(|(l, g, u)| (l.to_owned(), g.to_owned(), u.to_owned()));
    assert_eq!(sorted, expected);
    assert_eq!(file_names(&dir), ["r.csv"], "no temporary file left");
}

#[test]
fn results_on_a_stream_stay_in_completion_order() {
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let out = Shared::default();
    let (tx, task) = ResultsWriter::create_with(Box::new(out.clone()), ResultsFormat::CSV).unwrap();
    tx.send(result_row(Some(5), "G", "e", Status::Added));
    tx.send(result_row(Some(2), "G", "b", Status::Added));
    drop(tx);
    task.finish_blocking().unwrap();
    let written = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = written.lines().skip(1).map(|l| &l[..1]).collect();
    assert_eq!(lines, ["5", "2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_writes_its_results_in_roster_order_with_removals_last() {
    let s = Scenario::new(1, 6, |c| c.latency = std::time::Duration::from_millis(20)).await;
    assert_exit(&run_import(s.config()).await, Exit::Success);
    // Line 3 needs a group created and an addUsers call; lines 2 and 4 are settled from the
    // member list at once, and line 5 is invalid: completion order is not line order.
    let roster = s.dir.write(
        "second.csv",
        "group,username\nCourse 001,u0002\nCourse 002,u0001\nCourse 001,u0001\nCourse 002,bad user\n",
    );
    let mut config = import_config(&s.sim, &roster, &s.results);
    config.plan.sync = true;
    config.plan.max_removals = bulk_groups::config::RemovalLimit::Percent(100);
    let outcome = run_import(config).await;
    assert_exit(&outcome, Exit::RowsNeedAttention);
    let rows = order(&s.results);
    let expected = [
        ("2", "Course 001", "u0002"),
        ("3", "Course 002", "u0001"),
        ("4", "Course 001", "u0001"),
        ("5", "Course 002", "bad user"),
        ("", "Course 001", "u0003"),
        ("", "Course 001", "u0004"),
        ("", "Course 001", "u0005"),
        ("", "Course 001", "u0006"),
    ]
    .map(|(l, g, u)| (l.to_owned(), g.to_owned(), u.to_owned()));
    assert_eq!(rows, expected);
}

// ---- --results-format -----------------------------------------------------------------------

/// A one-row roster of `roster_bytes` imported with `extra` arguments; the results' bytes.
async fn results_bytes(roster_bytes: &[u8], extra: &[&str]) -> Vec<u8> {
    let sim = start_sim(sim_config(&["zoë.müller"])).await;
    let dir = Workdir::new();
    let roster = dir.path("roster.csv");
    std::fs::write(&roster, roster_bytes).unwrap();
    let results = dir.path("out.csv");
    let out = bulk_groups()
        .arg("import")
        .arg(&roster)
        .args([
            "--portal",
            &sim.url,
            "--username",
            "admin",
            "--progress",
            "never",
        ])
        .arg("--results")
        .arg(&results)
        .args(extra)
        .env("ARCGIS_PASSWORD", "admin-password")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    std::fs::read(&results).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_roster_from_excel_gets_results_excel_reads_byte_for_byte() {
    let title = "Géographie für Anfänger";
    let user = "zoë.müller";
    let excel_roster = format!("\u{FEFF}group;username\r\n{title};{user}\r\n");
    let bytes = results_bytes(excel_roster.as_bytes(), &[]).await;
    assert!(bytes.starts_with(b"\xEF\xBB\xBFline;group;group_id;group_status;username;role;status;reason;portal_username\r\n"));
    let body = &bytes[3..];
    // Every line ends in CRLF; no bare LF.
    assert!(body.ends_with(b"\r\n"));
    assert_eq!(
        body.windows(2).filter(|w| w == b"\r\n").count(),
        body.iter().filter(|b| **b == b'\n').count()
    );
    // The accented title and username exactly as UTF-8, between `;` delimiters.
    let row = format!("\r\n2;{title};");
    let at = body
        .windows(row.len())
        .position(|w| w == row.as_bytes())
        .expect("the row");
    assert!(body[at..].starts_with("\r\n2;G\u{e9}ographie f\u{fc}r Anf\u{e4}nger;".as_bytes()));
    assert!(
        body.windows(b"G\xC3\xA9ographie f\xC3\xBCr Anf\xC3\xA4nger".len())
            .any(|w| w == b"G\xC3\xA9ographie f\xC3\xBCr Anf\xC3\xA4nger")
    );
    assert!(
        text(body).contains(&format!(";{user};member;added;;")),
        "{}",
        text(body)
    );

    // Asked for plain CSV: no BOM, commas.
    let csv = results_bytes(excel_roster.as_bytes(), &["--results-format", "csv"]).await;
    assert!(csv.starts_with(b"line,group,group_id,"));
    assert!(text(&csv).contains(&format!("2,{title},")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_roster_gets_plain_csv_unless_excel_is_asked_for() {
    let roster = "group,username\nGIS,zoë.müller\n".as_bytes();
    let plain = results_bytes(roster, &[]).await;
    assert!(plain.starts_with(b"line,group,"), "{}", text(&plain));
    let excel = results_bytes(roster, &["--results-format", "excel"]).await;
    assert!(
        excel.starts_with(b"\xEF\xBB\xBFline,group,"),
        "the roster's delimiter"
    );
    assert!(excel.ends_with(b"\r\n"));
}

// ---- the JSON summary -----------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_summary_lists_every_group_with_its_counts() {
    let s = Scenario::new(2, 3, |_| {}).await;
    let roster = s.dir.write(
        "with-problems.csv",
        "group,username\nCourse 001,u0001\nCourse 001,nobody\nCourse 002,u0002\nCourse 002,bad user\n",
    );
    let summary = s.dir.path("summary.json");
    let mut config = import_config(&s.sim, &roster, &s.results);
    config.summary_json = Some(summary.clone());
    assert_exit(&run_import(config).await, Exit::RowsNeedAttention);
    let json = summary_json(&summary);
    let groups = json["groups"].as_array().expect("groups array");
    assert_eq!(groups.len(), 2, "{json:#}");
    let one = &groups[0];
    assert_eq!(one["title"], "Course 001");
    assert_eq!(one["status"], "created");
    assert_eq!(one["id"].as_str().unwrap().len(), 32);
    assert_eq!(one["counts"]["added"], 1);
    assert_eq!(one["counts"]["not_added"], 1);
    assert_eq!(one["counts"].as_object().unwrap().len(), Status::ALL.len());
    let two = &groups[1];
    assert_eq!(two["title"], "Course 002");
    assert_eq!(two["counts"]["added"], 1);
    assert_eq!(
        two["counts"]["invalid"], 1,
        "the invalid row counts with its group"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_min_rows_trips_the_summary_counts_the_rows_the_error_names() {
    let s = Scenario::new(1, 87, |_| {}).await;
    let summary = s.dir.path("summary.json");
    let mut config = s.config();
    config.plan.min_rows = 500;
    config.summary_json = Some(summary.clone());
    let outcome = run_import(config).await;
    assert_exit(&outcome, Exit::Usage);
    let json = summary_json(&summary);
    assert!(
        json["error"].as_str().unwrap().contains("87 data row"),
        "{json:#}"
    );
    assert_eq!(json["roster"]["rows"], 87);
    assert_eq!(s.sim.stats().total, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_failed_sign_in_the_summary_counts_the_requests_sent() {
    let s = Scenario::new(1, 3, |_| {}).await;
    let summary = s.dir.path("summary.json");
    let mut config = s.config();
    config.credentials = Credentials::Password {
        username: "admin".into(),
        password: "wrong-password".to_owned().into(),
    };
    config.summary_json = Some(summary.clone());
    assert_exit(&run_import(config).await, Exit::Auth);
    let json = summary_json(&summary);
    let sent = s.sim.stats().total;
    assert!(sent >= 1);
    let requests = json["requests"].as_object().unwrap();
    assert!(requests["generateToken"].as_u64().unwrap() >= 1, "{json:#}");
    assert_eq!(
        requests.values().map(|n| n.as_u64().unwrap()).sum::<u64>(),
        sent,
        "{json:#}"
    );
}

// ---- the lock: created only once the run starts ---------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_that_never_started_leave_no_lock_file() {
    let s = Scenario::new(1, 3, |_| {}).await;
    let no_username = s.dir.write("no-username.csv", "group,name\nG,amy\n");
    let empty = s.dir.write("empty.csv", "group,username\n");
    for roster in [no_username, empty] {
        let config = import_config(&s.sim, &roster, &s.results);
        assert_exit(&run_import(config).await, Exit::Usage);
    }
    assert_eq!(
        file_names(&s.dir),
        ["empty.csv", "no-username.csv", "roster.csv"]
    );
    assert_eq!(s.sim.stats().total, 0);
    // A run that starts takes the lock (the file stays, unlocked, afterwards).
    assert_exit(&run_import(s.config()).await, Exit::Success);
    assert!(s.dir.path("roster.results.csv.lock").exists());
}

// ---- file problems: exit 2 up front, at least 1 at the end ---------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unusable_report_path_is_exit_2_before_any_portal_contact() {
    let s = Scenario::new(1, 3, |_| {}).await;
    let link = s.dir.path("link.html");
    std::os::unix::fs::symlink(s.dir.path("elsewhere.html"), &link).unwrap();
    let missing = s.dir.path("no-such-dir/report.html");
    let directory = s.dir.path("a-directory");
    std::fs::create_dir(&directory).unwrap();
    for (path, says) in [
        (&link, "symbolic link"),
        (&missing, "No such file or directory"),
        (&directory, "directory"),
    ] {
        let mut config = s.config();
        config.report = Some(path.clone());
        let outcome = run_import(config).await;
        assert_exit(&outcome, Exit::Usage);
        let error = outcome.summary.error.unwrap();
        assert!(error.contains(&*path.to_string_lossy()), "{error}");
        assert!(error.contains(says), "{error}");
    }
    assert_eq!(s.sim.stats().total, 0, "no portal contact");
    assert!(!s.results.exists());
}

/// Whether this process runs as root (which ignores permission bits).
fn running_as_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// `bulk-groups import` for scenario `s`, with `extra` arguments, subject to permission bits:
/// as root, without the capabilities that bypass them.
fn import_without_privileges(s: &Scenario, extra: &[&str]) -> Output {
    let binary = env!("CARGO_BIN_EXE_bulk-groups");
    let mut cmd = if running_as_root() {
        let mut cmd = Command::new("setpriv");
        cmd.args(["--bounding-set", "-dac_override,-dac_read_search", "--"])
            .arg(binary);
        cmd
    } else {
        Command::new(binary)
    };
    for var in [
        "ARCGIS_API_KEY",
        "ARCGIS_TOKEN",
        "ARCGIS_TOKEN_FILE",
        "RUST_LOG",
    ] {
        cmd.env_remove(var);
    }
    cmd.arg("import")
        .arg(&s.roster)
        .args([
            "--portal",
            &s.sim.url,
            "--username",
            "admin",
            "--progress",
            "never",
        ])
        .args(extra)
        .env("ARCGIS_PASSWORD", "admin-password")
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unwritable_directories_and_lock_files_are_exit_2_never_5() {
    let s = Scenario::new(1, 3, |_| {}).await;
    let locked_dir = s.dir.path("read-only-dir");
    std::fs::create_dir(&locked_dir).unwrap();
    std::fs::set_permissions(&locked_dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    let in_locked = |name: &str| locked_dir.join(name).to_string_lossy().into_owned();
    let writable = s.dir.path("ok.csv").to_string_lossy().into_owned();
    // A lock file left by another account, which this one cannot open for writing.
    let foreign_lock = s.dir.path("foreign.csv.lock");
    std::fs::write(&foreign_lock, "").unwrap();
    std::fs::set_permissions(&foreign_lock, std::fs::Permissions::from_mode(0o444)).unwrap();
    let foreign = s.dir.path("foreign.csv").to_string_lossy().into_owned();

    let cases: Vec<(Vec<String>, String)> = vec![
        (
            vec!["--results".into(), in_locked("r.csv")],
            in_locked("r.csv"),
        ),
        (
            vec![
                "--results".into(),
                writable.clone(),
                "--summary-json".into(),
                in_locked("s.json"),
            ],
            in_locked("s.json"),
        ),
        (
            vec![
                "--results".into(),
                writable.clone(),
                "--report".into(),
                in_locked("r.html"),
            ],
            in_locked("r.html"),
        ),
        (
            vec!["--results".into(), foreign.clone()],
            foreign_lock.to_string_lossy().into_owned(),
        ),
    ];
    for (args, path) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = import_without_privileges(&s, &args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(&path), "names {path}: {stderr}");
        assert!(stderr.contains("Permission denied"), "{stderr}");
    }
    assert_eq!(s.sim.stats().total, 0, "no portal contact");
    assert!(!s.dir.path("ok.csv").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_file_system_is_exit_2_naming_the_path() {
    let s = Scenario::new(1, 3, |_| {}).await;
    let state = s.dir.path("state");
    std::fs::create_dir(&state).unwrap();
    // A private mount namespace (as an unprivileged user too, through a user namespace) with
    // `state` bind-mounted read-only.
    let probe = Command::new("unshare")
        .args(["-rm", "sh", "-c", "mount --bind -o ro \"$0\" \"$0\""])
        .arg(&state)
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: no mount namespaces here (unshare -rm)");
        return;
    }
    let in_state = |name: &str| state.join(name).to_string_lossy().into_owned();
    let writable = s.dir.path("ok.csv").to_string_lossy().into_owned();
    for (flag, path) in [
        ("--results", in_state("r.csv")),
        ("--summary-json", in_state("s.json")),
        ("--report", in_state("r.html")),
    ] {
        let mut args = vec!["--results", &writable, flag, &path];
        if flag == "--results" {
            args.drain(..2);
        }
        let out = Command::new("unshare")
            .args([
                "-rm",
                "sh",
                "-c",
                "mount --bind -o ro \"$0\" \"$0\" && shift && exec \"$@\"",
            ])
            .arg(&state)
            .arg("--")
            .arg(env!("CARGO_BIN_EXE_bulk-groups"))
            .arg("import")
            .arg(&s.roster)
            .args(["--portal", &s.sim.url, "--username", "admin"])
            .args(["--progress", "never"])
            .args(&args)
            .env("ARCGIS_PASSWORD", "admin-password")
            .env_remove("ARCGIS_API_KEY")
            .env_remove("ARCGIS_TOKEN")
            .output()
            .unwrap();
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag}: {stderr}");
        assert!(stderr.contains(&path), "{stderr}");
        assert!(stderr.contains("Read-only file system"), "{stderr}");
    }
    assert_eq!(s.sim.stats().total, 0, "no portal contact");
    assert!(!s.dir.path("ok.csv").exists());
}

/// `bulk-groups import` for `s` under a file-size limit of `blocks` × 512 bytes, SIGXFSZ
/// ignored so an oversized write fails with EFBIG instead of killing the process.
fn import_with_file_size_limit(blocks: u32, s: &Scenario, extra: &[&str]) -> Output {
    Command::new("/bin/sh")
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; ulimit -f {blocks}; exec \"$0\" \"$@\""
        ))
        .arg(env!("CARGO_BIN_EXE_bulk-groups"))
        .arg("import")
        .arg(&s.roster)
        .args([
            "--portal",
            &s.sim.url,
            "--username",
            "admin",
            "--progress",
            "never",
        ])
        .arg("--results")
        .arg(&s.results)
        .args(extra)
        .env_remove("ARCGIS_API_KEY")
        .env_remove("ARCGIS_TOKEN")
        .env_remove("RUST_LOG")
        .env("ARCGIS_PASSWORD", "admin-password")
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_that_cannot_be_written_at_the_end_makes_the_exit_code_at_least_1() {
    let s = Scenario::new(1, 1, |_| {}).await;
    let report: PathBuf = s.dir.path("report.html");
    let summary = s.dir.path("summary.json");
    // 2,560 bytes: the results (~150 bytes) and the summary (~1,600) fit, the HTML page (over
    // 3,000) does not; the summary is written after it and says so.
    let out = import_with_file_size_limit(
        5,
        &s,
        &[
            "--report",
            report.to_str().unwrap(),
            "--summary-json",
            summary.to_str().unwrap(),
        ],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("report file"), "{stderr}");
    assert!(stderr.contains(&*report.to_string_lossy()), "{stderr}");
    assert!(stderr.contains("File too large"), "{stderr}");
    assert!(!report.exists(), "no partial report in place");
    let json = summary_json(&summary);
    assert_eq!(json["exit_code"], 1);
    assert!(json["error"].as_str().unwrap().contains("report file"));
    assert_eq!(read_results(&s.results).len(), 1);
}
