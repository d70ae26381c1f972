//! Hardening against what an adversarial pass found: secrets in the portal URL, output files
//! that are links or cannot be written, exit codes that must tell "busy" (5) from "broken" (2),
//! a results file that fails part way, and roster lines built to exhaust memory or the logs.
//! Faults are real: links, missing directories, a file-size limit (`ulimit -f`) that makes the
//! kernel refuse writes, and the simulator to count portal contact.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::bulk_groups_cmd as bulk_groups;
use crate::support::*;
use bulk_groups::exit::Exit;
use bulk_groups::report::RunLock;

const SECRET: &str = "SECRET-pw-4711";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn summary_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("summary written"))
        .expect("summary is JSON")
}

// ---- 1. credentials in the portal URL ------------------------------------------------------

#[test]
fn portal_url_credentials_are_refused_and_never_shown_anywhere() {
    let dir = Workdir::new();
    let roster = dir.write("r.csv", "group,username\nG,amy\n");
    let portal = format!("https://svc:{SECRET}@org.maps.arcgis.com");
    let outputs: [&[&str]; 4] = [&[], &["-vv"], &["--log-format", "json", "-v"], &["-q"]];
    for (i, extra) in outputs.iter().enumerate() {
        let summary = dir.path(&format!("s{i}.json"));
        let out = bulk_groups()
            .current_dir(dir.dir.path())
            .arg("import")
            .arg(&roster)
            .arg("--summary-json")
            .arg(&summary)
            .args(*extra)
            .env("ARCGIS_PORTAL", &portal)
            .env("ARCGIS_API_KEY", "k")
            .output()
            .unwrap();
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {stderr}");
        assert!(
            stderr.contains("remove the user:password part"),
            "{extra:?}: {stderr}"
        );
        let json = std::fs::read_to_string(&summary).unwrap();
        for (what, content) in [
            ("stdout", text(&out.stdout)),
            ("stderr", stderr.clone()),
            ("summary", json.clone()),
        ] {
            assert!(!content.contains(SECRET), "{extra:?}: {what}: {content}");
        }
        let json = summary_json(&summary);
        assert_eq!(json["portal"], "https://***@org.maps.arcgis.com");
        assert!(json["error"].as_str().unwrap().contains("user:password"));
    }
    // No results file, no lock file: nothing else could hold it.
    let mut names: Vec<String> = std::fs::read_dir(dir.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".json"))
        .collect();
    names.sort();
    assert_eq!(names, ["r.csv"]);

    // The flag form, and --help with the variable set.
    let out = bulk_groups()
        .args(["import", "r.csv", "--portal", &portal])
        .current_dir(dir.dir.path())
        .env("ARCGIS_API_KEY", "k")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!text(&out.stderr).contains(SECRET), "{}", text(&out.stderr));
    let help = bulk_groups()
        .args(["import", "--help"])
        .env("ARCGIS_PORTAL", &portal)
        .output()
        .unwrap();
    assert!(help.status.success());
    assert!(
        !text(&help.stdout).contains(SECRET),
        "{}",
        text(&help.stdout)
    );
}

// ---- 5. configuration that could never work is exit 2, before any portal contact ------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_ca_certificates_and_zero_timeouts_are_usage_errors() {
    let sim = start_sim(sim_config(&["amy"])).await;
    let dir = Workdir::new();
    dir.write("r.csv", "group,username\nG,amy\n");
    dir.write("words.pem", "this is not a certificate\n");
    dir.write(
        "mangled.pem",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    );
    let cases: [(&[&str], &str); 6] = [
        (&["--ca-cert", "words.pem"], "words.pem"),
        (&["--ca-cert", "mangled.pem"], "mangled.pem"),
        (&["--ca-cert", "missing.pem"], "missing.pem"),
        (&["--ca-cert", "."], "--ca-cert"),
        (&["--timeout", "0s"], "--timeout"),
        (&["--connect-timeout", "0s"], "--connect-timeout"),
    ];
    for (args, needle) in cases {
        let out = bulk_groups()
            .current_dir(dir.dir.path())
            .args([
                "import",
                "r.csv",
                "--portal",
                &sim.url,
                "--progress",
                "never",
            ])
            .args(args)
            .env("ARCGIS_API_KEY", "k")
            .output()
            .unwrap();
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
    assert_eq!(sim.stats().total, 0, "no portal contact");
}

// ---- 4. links and the lock -----------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_paths_that_are_symbolic_links_are_refused_before_any_portal_contact() {
    let s = Scenario::new(1, 3, |_| {}).await;
    let victim = s.dir.write("victim.txt", "keep me\n");
    let link = s.dir.path("link");
    let dangling = s.dir.path("dangling");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    std::os::unix::fs::symlink(s.dir.path("nowhere"), &dangling).unwrap();

    let mut cases = Vec::new();
    for target in [&link, &dangling] {
        let mut results_link = s.config();
        results_link.results = bulk_groups::report::ResultsTarget::Path(target.clone());
        cases.push(("results", results_link));
        let mut summary_link = s.config();
        summary_link.summary_json = Some(target.clone());
        cases.push(("summary", summary_link));
    }
    for (what, config) in cases {
        let outcome = run_import(config).await;
        assert_exit(&outcome, Exit::Usage);
        let error = outcome.summary.error.clone().unwrap_or_default();
        assert!(error.contains("symbolic link"), "{what}: {error}");
    }
    // The lock file itself as a link.
    let lock = s.dir.path("roster.results.csv.lock");
    std::os::unix::fs::symlink(&victim, &lock).unwrap();
    let outcome = run_import(s.config()).await;
    assert_exit(&outcome, Exit::Usage);
    std::fs::remove_file(&lock).unwrap();

    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me\n");
    assert!(std::fs::symlink_metadata(&dangling).unwrap().is_symlink());
    assert!(!s.dir.path("nowhere").exists());
    assert_eq!(s.sim.stats().total, 0, "no portal contact");
    // And with plain paths the same run works.
    assert_exit(&run_import(s.config()).await, Exit::Success);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_spellings_of_one_results_file_contend_for_one_lock() {
    let s = Scenario::new(1, 3, |_| {}).await;
    std::fs::create_dir(s.dir.path("state")).unwrap();
    std::os::unix::fs::symlink(s.dir.path("state"), s.dir.path("state-link")).unwrap();
    let held = RunLock::acquire(&s.dir.path("state/r.csv")).unwrap();
    for spelling in [
        "state/../state/r.csv",
        "state-link/r.csv",
        "./state/./r.csv",
    ] {
        let mut config = s.config();
        config.results = bulk_groups::report::ResultsTarget::Path(s.dir.path(spelling));
        assert_exit(&run_import(config).await, Exit::Locked);
    }
    assert_eq!(s.sim.stats().total, 0);
    drop(held);
    let mut config = s.config();
    config.results = bulk_groups::report::ResultsTarget::Path(s.dir.path("state-link/r.csv"));
    assert_exit(&run_import(config).await, Exit::Success);
}

// ---- 6. only contention is exit 5; every file problem is exit 2 up front ---------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_problems_are_exit_2_naming_the_path_and_the_os_error() {
    let s = Scenario::new(1, 3, |_| {}).await;

    // The lock file cannot be opened (here: a directory is in its way).
    let lock = s.dir.path("roster.results.csv.lock");
    std::fs::create_dir(&lock).unwrap();
    let outcome = run_import(s.config()).await;
    assert_exit(&outcome, Exit::Usage);
    let error = outcome.summary.error.clone().unwrap();
    assert!(error.contains(&*lock.to_string_lossy()), "{error}");
    assert!(error.contains("os error"), "{error}");
    std::fs::remove_dir(&lock).unwrap();

    // The results file's directory does not exist.
    let mut config = s.config();
    let missing = s.dir.path("no-such-dir/r.csv");
    config.results = bulk_groups::report::ResultsTarget::Path(missing.clone());
    let outcome = run_import(config).await;
    assert_exit(&outcome, Exit::Usage);
    let error = outcome.summary.error.clone().unwrap();
    assert!(error.contains(&*missing.to_string_lossy()), "{error}");
    assert!(error.contains("No such file or directory"), "{error}");

    // The summary's directory does not exist: refused now, not discovered after the work.
    let mut config = s.config();
    let summary = s.dir.path("no-such-dir/summary.json");
    config.summary_json = Some(summary.clone());
    let outcome = run_import(config).await;
    assert_exit(&outcome, Exit::Usage);
    let error = outcome.summary.error.clone().unwrap();
    assert!(error.contains(&*summary.to_string_lossy()), "{error}");

    assert_eq!(s.sim.stats().total, 0, "no portal contact");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_never_started_leaves_no_lock_file() {
    let s = Scenario::new(1, 3, |_| {}).await;
    let mut config = s.config();
    config.roster = bulk_groups::roster::Source::Path(s.dir.path("missing.csv"));
    let outcome = run_import(config).await;
    assert_exit(&outcome, Exit::Usage);
    assert!(outcome.summary.error.unwrap().contains("missing.csv"));
    let names: Vec<String> = std::fs::read_dir(s.dir.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["roster.csv"]);
}

// ---- 3 and 6. the kernel refusing writes part way: `ulimit -f` -----------------------------

/// `bulk-groups import` under a file-size limit of `blocks` (of 512 bytes, dash's unit), with
/// SIGXFSZ ignored so an oversized write fails with EFBIG instead of killing the process.
fn import_with_file_size_limit(blocks: u32, s: &Scenario, extra: &[&str]) -> Output {
    Command::new("/bin/sh")
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; ulimit -f {blocks}; exec \"$0\" \"$@\""
        ))
        .arg(env!("CARGO_BIN_EXE_bulk-groups"))
        .arg("import")
        .arg(&s.roster)
        .arg("--portal")
        .arg(&s.sim.url)
        .arg("--results")
        .arg(&s.results)
        .args(["--username", "admin", "--progress", "never"])
        .args(extra)
        .env_remove("ARCGIS_API_KEY")
        .env_remove("ARCGIS_TOKEN")
        .env_remove("RUST_LOG")
        .env("ARCGIS_PASSWORD", "admin-password")
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_results_file_that_fails_part_way_is_reported_and_a_rerun_repairs_it() {
    let s = Scenario::new(1, 400, |_| {}).await;
    let summary = s.dir.path("summary.json");
    let summary_arg = summary.to_str().unwrap();

    // 16 blocks: the header and some rows fit, 400 rows (~20 KB) do not; the summary does.
    let out = import_with_file_size_limit(16, &s, &["--summary-json", summary_arg]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let results = s.results.to_string_lossy().into_owned();
    assert!(stderr.contains(&results), "names the file: {stderr}");
    assert!(stderr.contains("File too large"), "the OS error: {stderr}");
    assert!(!stderr.contains("nothing was done"), "{stderr}");
    let json = summary_json(&summary);
    assert_eq!(json["exit_code"], 1);
    assert_eq!(json["counts"]["added"], 400, "{json:#}");
    assert_eq!(json["group_counts"]["created"], 1, "{json:#}");
    assert!(json["error"].as_str().unwrap().contains(&results));
    assert!(std::fs::metadata(&s.results).unwrap().len() <= 16 * 512);
    assert_eq!(members_of(&s.sim, "Course 001").0.len(), 400);

    // The re-run writes nothing to the portal and completes the results.
    let outcome = run_import(s.config()).await;
    assert_exit(&outcome, Exit::Success);
    let rows = read_results(&s.results);
    assert_eq!(rows.len(), 400);
    assert!(rows.iter().all(|r| r.status == "already_member"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_results_file_that_fails_when_nothing_was_written_to_the_portal_is_exit_2() {
    let s = Scenario::new(1, 400, |_| {}).await;
    let out = import_with_file_size_limit(16, &s, &["--dry-run"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("File too large"), "{stderr}");
    assert_eq!(s.sim.stats().writes, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_summary_that_cannot_be_written_at_the_end_makes_the_exit_code_at_least_1() {
    let s = Scenario::new(1, 1, |_| {}).await;
    let summary = s.dir.path("summary.json");
    // One block: the header and one row fit in the results, the JSON summary does not.
    let out = import_with_file_size_limit(1, &s, &["--summary-json", summary.to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("summary file"), "{stderr}");
    assert!(stderr.contains("File too large"), "{stderr}");
    assert_eq!(read_results(&s.results).len(), 1);
    assert!(!summary.exists(), "no partial summary in place");
}

// ---- 2. roster lines built to exhaust memory or the logs -----------------------------------

fn validate(dir: &Workdir, roster: &str) -> Output {
    bulk_groups()
        .current_dir(dir.dir.path())
        .args(["validate", roster])
        .output()
        .unwrap()
}

#[test]
fn a_row_of_more_fields_than_the_cap_is_one_invalid_row() {
    let dir = Workdir::new();
    let commas = ",".repeat(100_000);
    dir.write(
        "r.csv",
        &format!("group,username\nG,amy\n{commas}\nG,{commas}x\nG,bob\n"),
    );
    let out = validate(&dir, "r.csv");
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    for line in [3, 4] {
        assert!(
            stdout.contains(&format!(
                "line {line}: invalid: the row has more than 10,000 fields"
            )),
            "{stdout}"
        );
    }
    assert!(stdout.contains("rows:        4"), "{stdout}");
    assert!(stdout.contains("invalid:     2"), "{stdout}");
}

#[test]
fn a_header_of_more_columns_than_the_cap_is_a_usage_error() {
    let dir = Workdir::new();
    dir.write(
        "r.csv",
        &format!("group,username{}\nG,amy\n", ",".repeat(20_000)),
    );
    let out = validate(&dir, "r.csv");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("more than 10,000 columns"), "{stderr}");
    assert!(stderr.len() < 1_000, "{stderr}");
}

#[test]
fn logged_lists_of_columns_are_truncated_with_a_count() {
    let dir = Workdir::new();
    let unnamed = ",".repeat(9_000);
    let long_name = "n".repeat(100_000);
    dir.write(
        "r.csv",
        &format!("group,username,{long_name}{unnamed}\nG,amy,{unnamed}\n"),
    );
    let out = validate(&dir, "r.csv");
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("… and 8,981 more"), "{stdout}");
    for line in stdout.lines().chain(stderr.lines()) {
        assert!(line.len() < 2_000, "a {}-byte line", line.len());
    }
    // Groups a --groups file lists but the roster never names: logged and reported, bounded.
    let groups: String = (0..100).map(|i| format!("Unused {i},private\n")).collect();
    dir.write("groups.csv", &format!("group,access\nG,org\n{groups}"));
    dir.write("plain.csv", "group,username\nG,amy\n");
    let out = bulk_groups()
        .current_dir(dir.dir.path())
        .args(["validate", "plain.csv", "--groups", "groups.csv"])
        .output()
        .unwrap();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("'Unused 19' … and 80 more"), "{stdout}");
    assert!(stderr.contains("'Unused 19' … and 80 more"), "{stderr}");
    assert!(!stderr.contains("Unused 20"), "{stderr}");

    // A header without a username column quotes the header, bounded too.
    dir.write(
        "bad.csv",
        &format!("group,{long_name}{unnamed}\nG,x{unnamed}\n"),
    );
    let out = validate(&dir, "bad.csv");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no username column"), "{stderr}");
    assert!(stderr.contains("… and 8,982 more"), "{stderr}");
    assert!(stderr.len() < 2_000, "{} bytes", stderr.len());
}
