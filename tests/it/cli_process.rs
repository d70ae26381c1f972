//! The `bulk-groups` binary as a scheduler runs it: exit codes and one-line errors, Ctrl-C,
//! and convergence after being killed at random points.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::bulk_groups_cmd as bulk_groups;
use crate::support::*;
use bulk_groups::sim::{RunningSim, SimConfig};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn import_cmd(sim: &RunningSim, roster: &Path, results: &Path) -> Command {
    let mut cmd = bulk_groups();
    cmd.arg("import")
        .arg(roster)
        .arg("--portal")
        .arg(&sim.url)
        .arg("--results")
        .arg(results)
        .args(["--username", "admin", "--progress", "never"])
        .env("ARCGIS_PASSWORD", "admin-password");
    cmd
}

fn signal(child: &Child, sig: &str) {
    let status = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
#[should_panic(expected = "results file")]
fn complete_rows_fails_when_the_results_file_is_missing() {
    complete_rows(&Workdir::new().path("never-written.csv"));
}

/// Waits until the child has installed its SIGINT and SIGTERM handlers (Linux: the `SigCgt`
/// mask in /proc), so a signal sent next is handled rather than killing it by default.
fn wait_for_signal_handlers(child: &Child) {
    const CAUGHT: u64 = (1 << (2 - 1)) | (1 << (15 - 1)); // SIGINT, SIGTERM
    let status = format!("/proc/{}/status", child.id());
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let text = std::fs::read_to_string(&status).unwrap();
        let mask = text
            .lines()
            .find_map(|l| l.strip_prefix("SigCgt:"))
            .map(|m| u64::from_str_radix(m.trim(), 16).unwrap())
            .unwrap();
        if mask & CAUGHT == CAUGHT {
            return;
        }
        assert!(Instant::now() < deadline, "no signal handlers after 15 s");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The seed for randomised test inputs: `BULK_GROUPS_TEST_SEED` or a fixed default, printed so
/// a failure can be reproduced by setting it.
fn test_seed() -> u64 {
    let seed = std::env::var("BULK_GROUPS_TEST_SEED")
        .map(|s| s.parse().expect("BULK_GROUPS_TEST_SEED is a u64"))
        .unwrap_or(12);
    eprintln!("BULK_GROUPS_TEST_SEED={seed}");
    seed
}

fn wait_with_deadline(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the process did not stop within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Rows of a results file that may end in a partial line (a killed run): complete lines only.
/// A missing file fails the test: "no rows" must never pass for "valid up to the last row".
fn complete_rows(path: &Path) -> Vec<csv::StringRecord> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("results file {}: {e}", path.display()));
    let complete = match text.rfind('\n') {
        Some(i) => &text[..=i],
        None => "",
    };
    let mut reader = csv::Reader::from_reader(complete.as_bytes());
    reader
        .records()
        .map(|r| r.expect("a killed run's file is valid CSV up to its last complete row"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_errors_are_one_clear_line_and_exit_2() {
    let dir = Workdir::new();
    let good = dir.write("r.csv", "group,username\nG,amy\n");
    let no_user_column = dir.write("bad.csv", "group,name\nG,amy\n");
    /// Arguments, environment, and a word the one-line error must contain.
    type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        (
            vec!["import", good.to_str().unwrap()],
            vec![],
            "no credentials",
        ),
        (
            vec![
                "import",
                good.to_str().unwrap(),
                "--portal",
                "http://portal.example.com",
            ],
            vec![("ARCGIS_API_KEY", "k")],
            "http",
        ),
        (
            vec!["import", good.to_str().unwrap(), "--portal", "not a url"],
            vec![("ARCGIS_API_KEY", "k")],
            "--portal",
        ),
        (
            vec![
                "import",
                no_user_column.to_str().unwrap(),
                "--portal",
                "http://127.0.0.1:9",
            ],
            vec![("ARCGIS_API_KEY", "k")],
            "username",
        ),
        (
            vec!["import", good.to_str().unwrap(), "--chunk-size", "30"],
            vec![("ARCGIS_API_KEY", "k")],
            "--chunk-size",
        ),
    ];
    for (args, env, needle) in cases {
        let mut cmd = bulk_groups();
        cmd.args(&args).current_dir(dir.dir.path());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("panicked") && !stderr.contains("backtrace"),
            "{stderr}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_reach_the_logs_at_any_verbosity() {
    let sim = start_sim(sim_config(&["amy"])).await;
    let dir = Workdir::new();
    let roster = dir.write("r.csv", "group,username\nG,amy\n");
    let results = dir.path("r.results.csv");
    let out = import_cmd(&sim, &roster, &results)
        .arg("-vv")
        .env("ARCGIS_PASSWORD", "admin-password")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("starting import"),
        "the start line: {stderr}"
    );
    assert!(
        stderr.contains("DEBUG") || stderr.contains("TRACE"),
        "the log is verbose: {stderr}"
    );
    assert!(
        !stderr.contains("admin-password"),
        "password leaked: {stderr}"
    );
    assert!(!stderr.contains("token="), "token leaked: {stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_stops_within_seconds_accounts_for_every_row_and_exits_130() {
    let scenario = Scenario::new(20, 40, |c| c.latency = Duration::from_millis(100)).await;
    let Scenario {
        sim,
        dir,
        roster,
        results,
        ..
    } = &scenario;
    let summary = dir.path("summary.json");
    let mut child = import_cmd(sim, roster, results)
        .args(["--rate", "10", "--summary-json"])
        .arg(&summary)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Let it get going, then interrupt.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !(results.exists() && complete_rows(results).len() >= 30) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    signal(&child, "INT");
    let interrupted = Instant::now();
    let status = wait_with_deadline(&mut child, Duration::from_secs(15));
    assert_eq!(status.code(), Some(130));
    assert!(
        interrupted.elapsed() < Duration::from_secs(10),
        "stopped in {:?}",
        interrupted.elapsed()
    );
    let rows = read_results(results);
    assert_eq!(by_line(&rows).len(), 800, "one row per roster row");
    let counts = status_counts(&rows);
    assert!(
        counts.get("not_attempted").copied().unwrap_or(0) > 0,
        "{counts:?}"
    );
    assert!(counts.get("added").copied().unwrap_or(0) > 0, "{counts:?}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    assert_eq!(v["exit_code"], 130);
}

on_both_portals! {
async fn killed_runs_converge_on_rerun(realism: Realism) {
    let scenario = Scenario::on(realism, 12, 40, |c| c.latency = Duration::from_millis(30)).await;
    let Scenario {
        sim,
        roster,
        results,
        users,
        ..
    } = &scenario;
    // Random kill points over the run: during sign-in, group creation and additions.
    let mut rng = StdRng::seed_from_u64(test_seed());
    let delays: Vec<u64> = (0..4).map(|_| rng.random_range(150..1500)).collect();
    eprintln!("kill points (ms): {delays:?}");
    for delay_ms in delays {
        let mut child = import_cmd(sim, roster, results)
            .args(["--rate", "40"])
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        signal(&child, "KILL");
        let _ = wait_with_deadline(&mut child, Duration::from_secs(10));
        // A run killed during sign-in has not created the file yet; any file there must be
        // valid CSV up to its last complete row (complete_rows panics otherwise).
        if results.exists() {
            complete_rows(results);
        }
    }
    let out = import_cmd(sim, roster, results).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = read_results(results);
    assert_eq!(by_line(&rows).len(), 480);
    let state = sim.state();
    for g in 1..=12 {
        let title = format!("Course {g:03}");
        assert_eq!(
            state.groups.iter().filter(|s| s.title == title).count(),
            1,
            "{title} created exactly once"
        );
        assert_eq!(&members_of(sim, &title).0, users);
    }
}
}

#[test]
fn demo_runs_end_to_end_and_prints_the_results_path_last() {
    let dir = Workdir::new();
    let out = bulk_groups()
        .arg("demo")
        .current_dir(dir.dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = stdout.lines().last().expect("some stdout");
    let path = Path::new(
        last.strip_prefix("results: ")
            .expect("last line names the results"),
    );
    assert!(path.is_absolute(), "{last}");
    let rows = read_results(path);
    assert!(rows.iter().any(|r| r.status == "added"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdin_roster_quiet_success_prints_nothing() {
    let sim = start_sim(sim_config(&["amy", "bob"])).await;
    let dir = Workdir::new();
    let results = dir.path("stdin.results.csv");
    let mut child = import_cmd(&sim, Path::new("-"), &results)
        .arg("-q")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"Group Name;User Name\nPiped;amy\nPiped;bob\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stderr.is_empty(),
        "-q prints nothing on success: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(members_of(&sim, "Piped").0, ["amy", "bob"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_stdin_records_where_reading_stopped() {
    let sim = start_sim(SimConfig {
        latency: Duration::from_millis(50),
        ..sim_config(&["amy", "bob"])
    })
    .await;
    let dir = Workdir::new();
    let results = dir.path("stdin.results.csv");
    let summary = dir.path("summary.json");
    let mut child = import_cmd(&sim, Path::new("-"), &results)
        .arg("--summary-json")
        .arg(&summary)
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    let mut stdin = child.stdin.take().unwrap();
    // A producer that wrote two rows and then hangs (an export still being written).
    stdin
        .write_all(b"group,username\nSlow,amy\nSlow,bob\n")
        .unwrap();
    stdin.flush().unwrap();
    // Rows already read are not held back while the pipe is idle: they reach the portal.
    let deadline = Instant::now() + Duration::from_secs(15);
    while sim.state().group("Slow").is_none_or(|g| g.users.len() < 2) {
        assert!(
            Instant::now() < deadline,
            "the rows read so far were not sent while stdin idled"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    signal(&child, "TERM");
    let status = wait_with_deadline(&mut child, Duration::from_secs(15));
    drop(stdin);
    assert_eq!(status.code(), Some(130));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    assert_eq!(v["input_not_read_after_line"], 3);
    let rows = by_line(&read_results(&results));
    assert_eq!(rows.len(), 2);
    assert!(rows.values().all(|r| r.status == "added"), "{rows:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_duration_behaves_like_sigterm() {
    let scenario = Scenario::new(10, 30, |c| c.latency = Duration::from_millis(100)).await;
    let Scenario {
        sim,
        roster,
        results,
        ..
    } = &scenario;
    let out = import_cmd(sim, roster, results)
        .args(["--rate", "5", "--max-duration", "2s"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = read_results(results);
    assert_eq!(by_line(&rows).len(), 300);
    assert!(rows.iter().any(|r| r.status == "not_attempted"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_portal_with_a_private_ca_and_json_logs() {
    let sim = start_sim(SimConfig {
        tls: true,
        ..sim_config(&["amy"])
    })
    .await;
    assert!(sim.url.starts_with("https://"), "{}", sim.url);
    let dir = Workdir::new();
    let ca = dir.write("ca.pem", sim.ca_pem.as_deref().expect("a TLS sim has a CA"));
    let roster = dir.write("r.csv", "group,username\nSecure,amy\n");
    let results = dir.path("r.results.csv");
    // Without the CA the certificate is refused (TLS is always verified)…
    let out = import_cmd(&sim, &roster, &results)
        .args(["--retries", "0"])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    // …with it, the import works; JSON logs are one object per line, no escape codes.
    let out = import_cmd(&sim, &roster, &results)
        .arg("--ca-cert")
        .arg(&ca)
        .args(["--log-format", "json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "no escape codes: {stderr}");
    let start_line = stderr
        .lines()
        .find(|l| l.starts_with('{') && l.contains("starting import"));
    assert!(start_line.is_some(), "{stderr}");
    for line in stderr.lines().filter(|l| l.starts_with('{')) {
        serde_json::from_str::<serde_json::Value>(line).expect("each log line is JSON");
    }
    assert_eq!(members_of(&sim, "Secure").0, ["amy"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupt_while_waiting_for_the_first_rows_exits_130_at_once() {
    let sim = start_sim(sim_config(&["amy"])).await;
    let dir = Workdir::new();
    let results = dir.path("stdin.results.csv");
    let mut child = import_cmd(&sim, Path::new("-"), &results)
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    use std::io::Write;
    // Nothing has arrived yet, then only the header: the run waits for rows before contacting
    // the portal, and an interrupt at either point ends it at once.
    wait_for_signal_handlers(&child);
    signal(&child, "INT");
    let status = wait_with_deadline(&mut child, Duration::from_secs(10));
    assert_eq!(status.code(), Some(130));

    let mut child = import_cmd(&sim, Path::new("-"), &results)
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin2 = child.stdin.take().unwrap();
    stdin2.write_all(b"group,username\n").unwrap();
    stdin2.flush().unwrap();
    wait_for_signal_handlers(&child);
    signal(&child, "INT");
    let status = wait_with_deadline(&mut child, Duration::from_secs(10));
    drop((stdin, stdin2));
    assert_eq!(status.code(), Some(130));
    assert_eq!(sim.stats().total, 0, "no portal contact");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_interrupt_while_stopping_still_accounts_for_every_row() {
    // Every request takes 1.5 s: the first interrupt lands while the group's lookup is on the
    // wire and no row is done yet, so the run must wait for it before it can stop.
    let scenario = Scenario::new(2, 20, |c| c.latency = Duration::from_millis(1500)).await;
    let Scenario {
        sim,
        roster,
        results,
        ..
    } = &scenario;
    let mut child = import_cmd(sim, roster, results)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_signal_handlers(&child);
    // Past sign-in (token, portals/self, community/self): the engine's first request is out.
    let deadline = Instant::now() + Duration::from_secs(30);
    while sim.stats().total < 4 {
        assert!(Instant::now() < deadline, "the run never got past sign-in");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    signal(&child, "INT");
    tokio::time::sleep(Duration::from_millis(200)).await;
    signal(&child, "INT");
    let status = wait_with_deadline(&mut child, Duration::from_secs(20));
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted again"), "{stderr}");
    let rows = read_results(results);
    assert_eq!(rows.len(), 40, "every row, not just the header");
    let lines: Vec<u64> = rows.iter().map(|r| r.line.parse().unwrap()).collect();
    assert!(lines.is_sorted(), "sorted by line: {lines:?}");
}
