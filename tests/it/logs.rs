//! stderr as a scheduler's log sees it (product spec §7): not a terminal, so every line is
//! timestamped, no escape codes, a plain progress line every ~10 s; with `--log-format json`
//! every line is a JSON object, the end-of-run summary included.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::support::bulk_groups_cmd;
use crate::support::*;
use bulk_groups::sim::RunningSim;

fn import_cmd(sim: &RunningSim, roster: &Path, results: &Path) -> Command {
    let mut cmd = bulk_groups_cmd();
    cmd.arg("import")
        .arg(roster)
        .args(["--portal", &sim.url, "--username", "admin"])
        .arg("--results")
        .arg(results)
        .env("ARCGIS_PASSWORD", "admin-password");
    cmd
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).expect("stderr is UTF-8")
}

/// The figures of a `progress: 6/11 rows (54 %), 0.6 rows/s, ETA 9 s, 1.0 req/s, 0 throttled`
/// line: rows done, total and percentage; `None` when the line has another shape.
fn progress_figures(line: &str) -> Option<(u64, u64, u64)> {
    let rest = line.split_once("progress: ")?.1;
    let (done, rest) = rest.split_once('/')?;
    let (total, rest) = rest.split_once(" rows (")?;
    let (percent, rest) = rest.split_once(" %), ")?;
    let (rows_rate, rest) = rest.split_once(" rows/s, ETA ")?;
    let (_eta, rest) = rest.split_once(", ")?;
    let (req_rate, rest) = rest.split_once(" req/s, ")?;
    let throttled = rest.strip_suffix(" throttled")?;
    let number = |s: &str| s.parse::<f64>().is_ok();
    (number(rows_rate) && number(req_rate) && throttled.parse::<u64>().is_ok()).then_some(())?;
    Some((
        done.parse().ok()?,
        total.parse().ok()?,
        percent.parse().ok()?,
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cron_log_has_timestamps_a_plain_progress_line_and_no_escape_codes() {
    let users = [
        "amy", "bo", "cy", "di", "ed", "flo", "gus", "hal", "ivy", "jo", "kim",
    ];
    let sim = start_sim(sim_config(&users)).await;
    let dir = Workdir::new();
    let roster = |group: &str| -> String {
        std::iter::once("group,username\n".to_owned())
            .chain(users.iter().map(|u| format!("{group},{u}\n")))
            .collect()
    };
    // One request per second, one membership per request: each run outlasts the first
    // progress interval (10 s). The JSON run goes at the same time, into another group.
    let spawn = |name: &str, extra: &[&str]| {
        let roster = dir.write(&format!("{name}.csv"), &roster(name));
        import_cmd(&sim, &roster, &dir.path(&format!("{name}.results.csv")))
            .args(["--rate", "1", "--chunk-size", "1"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let plain = spawn("Night", &[]);
    let json = spawn(
        "Night JSON",
        &["--log-format", "json", "-q", "--progress", "always"],
    );
    let (plain, json) = (
        plain.wait_with_output().unwrap(),
        json.wait_with_output().unwrap(),
    );

    let text = stderr(&plain);
    assert_eq!(plain.status.code(), Some(0), "{text}");
    assert!(!text.contains('\u{1b}'), "no escape codes: {text}");
    for line in text.lines() {
        assert_ne!(without_timestamp(line), line, "not timestamped: {line:?}");
    }
    let progress: Vec<(u64, u64, u64)> = text.lines().filter_map(progress_figures).collect();
    assert!(!progress.is_empty(), "no progress line: {text}");
    for (done, total, percent) in progress {
        assert_eq!(total, users.len() as u64, "{text}");
        assert_eq!(percent, done * 100 / total, "{text}");
    }
    // The summary is stamped too.
    assert!(text.lines().any(|l| l.ends_with(" exit code 0")), "{text}");

    // JSON, quiet, progress forced: only the progress events, each with its figures.
    let text = stderr(&json);
    assert_eq!(json.status.code(), Some(0), "{text}");
    let events = json_lines(&text);
    assert!(!events.is_empty(), "no progress event: {text}");
    for event in events {
        let fields = &event["fields"];
        let message = fields["message"].as_str().unwrap();
        assert!(progress_figures(message).is_some(), "{message}");
        assert_eq!(fields["rows_total"], users.len(), "{event}");
        assert!(fields["rows_done"].is_u64() && fields["requests_per_second"].is_f64());
    }
}

/// Every line of `text` as JSON; fails on any line that is not.
fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l:?}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_put_nothing_but_json_on_stderr_the_summary_included() {
    let sim = start_sim(sim_config(&["amy", "bo"])).await;
    let dir = Workdir::new();
    // A warning (unknown column), an invalid row and a user the portal refuses: some of each
    // kind of line a run writes.
    let roster = dir.write(
        "r.csv",
        "group,username,shoe size\nLab,amy,40\nLab,bo,41\n,nobody,42\nLab,ghost,43\n",
    );
    let out = import_cmd(&sim, &roster, &dir.path("r.results.csv"))
        .args(["--log-format", "json", "--progress", "always"])
        .output()
        .unwrap();
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let events = json_lines(&text);
    assert!(events.len() > 2, "{text}");
    let summaries: Vec<&Value> = events
        .iter()
        .filter(|e| e["fields"]["message"] == "run summary")
        .collect();
    assert_eq!(summaries.len(), 1, "one summary event: {text}");
    let summary = &summaries[0]["fields"];
    assert_eq!(summary["exit_code"], 1);
    assert_eq!(summary["counts"]["added"], 2);
    assert_eq!(summary["counts"]["invalid"], 1);
    assert_eq!(summary["roster"]["rows"], 4);
    assert!(
        summary["results"]
            .as_str()
            .unwrap()
            .ends_with("r.results.csv")
    );
    assert!(
        events
            .iter()
            .all(|e| e["timestamp"].is_string() && e["level"].is_string())
    );

    // A usage error (no credentials) is JSON too.
    let out = bulk_groups_cmd()
        .args(["import", "r.csv", "--log-format", "json"])
        .current_dir(dir.dir.path())
        .output()
        .unwrap();
    assert_one_json_usage_error(&out, "credentials");
}

/// `out` exited 2 with one JSON error event on stderr whose message contains `needle`.
fn assert_one_json_usage_error(out: &Output, needle: &str) {
    let text = stderr(out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    let events = json_lines(&text);
    assert_eq!(events.len(), 1, "{text}");
    assert_eq!(events[0]["level"], "ERROR");
    assert!(
        events[0]["fields"]["message"]
            .as_str()
            .unwrap()
            .contains(needle),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_says_nothing_about_speed() {
    let sim = start_sim(sim_config(&["amy"])).await;
    let dir = Workdir::new();
    let roster = dir.write("r.csv", "group,username\nLab,amy\n");
    let out = import_cmd(&sim, &roster, &dir.path("plan.csv"))
        .arg("--dry-run")
        .output()
        .unwrap();
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("would_add 1"), "{text}");
    assert!(!text.contains("memberships/s"), "{text}");
}

#[test]
fn the_demo_keeps_to_json_too() {
    let dir = Workdir::new();
    let out = bulk_groups_cmd()
        .args(["demo", "--log-format", "json", "--results"])
        .arg(dir.path("demo.results.csv"))
        .output()
        .unwrap();
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let messages: Vec<String> = json_lines(&text)
        .iter()
        .map(|e| e["fields"]["message"].as_str().unwrap().to_owned())
        .collect();
    for expected in ["run summary", "groups in the simulated portal afterwards"] {
        assert!(messages.iter().any(|m| m == expected), "{text}");
    }
}

#[test]
fn a_command_line_clap_refuses_is_json_too_under_json_logs() {
    let out = bulk_groups_cmd()
        .args(["import", "r.csv", "--log-format", "json", "--no-such-flag"])
        .output()
        .unwrap();
    assert_one_json_usage_error(&out, "--no-such-flag");
    // Without it, clap's own message as before.
    let out = bulk_groups_cmd()
        .args(["import", "r.csv", "--no-such-flag"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).starts_with("error: unexpected argument"));
}
