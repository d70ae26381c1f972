//! `--report FILE.html` end to end: what a run's page says (groups, problems with what to do,
//! the chart, the roster's hash), that runs which stop early still write one, that a run
//! turned away by another run's lock does not, and that the page renders in a real headless
//! browser (`scripts/report-screenshot.sh`, when `/usr/bin/chromium` is installed).

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::support::*;
use bulk_groups::exit::Exit;
use bulk_groups::portal::{Credentials, RateSetting};
use bulk_groups::report::RunLock;

const BROWSER: &str = "/usr/bin/chromium";

/// A roster of 3 groups × `members` plus a user the portal does not know and an invalid row.
fn roster_with_problems(s: &Scenario, members: usize) -> PathBuf {
    let mut text = String::from("group,username\n");
    for g in 1..=3 {
        for u in s.users.iter().take(members) {
            text.push_str(&format!("Course {g:03},{u}\n"));
        }
    }
    text.push_str("Course 002,nobody.here\nCourse 003,display name\n");
    s.dir.write("problems.csv", &text)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_shows_groups_problems_with_what_to_do_and_the_run() {
    // A short latency so the run spans a few of the once-a-second samples of the chart.
    let s = Scenario::new(3, 30, |c| c.latency = Duration::from_millis(250)).await;
    let roster = roster_with_problems(&s, 30);
    let report = s.dir.path("run.html");
    let mut config = import_config(&s.sim, &roster, &s.results);
    config.report = Some(report.clone());
    config.client.rate =
        bulk_groups::portal::RateSetting::Fixed(std::num::NonZeroU32::new(4).unwrap());
    let outcome = run_import(config).await;
    assert_exit(&outcome, Exit::RowsNeedAttention);
    let html = read(&report);
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("Exit code <b>1</b>"));
    assert!(html.contains("2 of 92 rows need attention"), "{html}");
    for group in ["Course 001", "Course 002", "Course 003"] {
        assert!(html.contains(group), "{group}");
    }
    // Problems grouped by what to do, with the rows.
    assert!(html.contains("user does not exist or is not visible — 1 row"));
    assert!(html.contains("invalid roster row — 1 row"));
    assert!(html.contains("nobody.here"));
    assert!(html.contains("fix the row in the roster"));
    // The chart and the run's metadata.
    assert!(html.contains("<svg class=\"chart\""), "a chart: {html}");
    assert!(html.contains("<polyline class=\"requests\""));
    let sha = format!("{:x}", Sha256::digest(std::fs::read(&roster).unwrap()));
    assert!(html.contains(&sha));
    assert!(html.contains("<th>portal</th><td>http://127.0.0.1:"));
    assert!(html.contains("<th>caller</th><td>admin</td>"));
    assert!(!html.contains("<script"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_stops_early_writes_its_report_and_a_locked_run_does_not() {
    let s = Scenario::new(1, 3, |_| {}).await;
    let report = s.dir.path("run.html");
    let mut config = s.config();
    config.report = Some(report.clone());
    config.credentials = Credentials::Password {
        username: "admin".into(),
        password: "wrong".to_owned().into(),
    };
    assert_exit(&run_import(config).await, Exit::Auth);
    let html = read(&report);
    assert!(html.contains("Exit code <b>3</b>"), "{html}");
    assert!(html.contains("authentication or permission failure"));

    // Another run holds the lock: that run owns the report; this one leaves it alone.
    std::fs::remove_file(&report).unwrap();
    let held = RunLock::acquire(&s.results).unwrap();
    let mut config = s.config();
    config.report = Some(report.clone());
    assert_exit(&run_import(config).await, Exit::Locked);
    assert!(!report.exists());
    drop(held);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_renders_in_a_headless_browser() {
    if !Path::new(BROWSER).exists() {
        eprintln!("skipped: no browser ({BROWSER} is not installed)");
        return;
    }
    // A portal limited to 6 requests a second and a client told to send 10: the chart shows
    // the rate and the throttled replies.
    let s = Scenario::new(4, 60, |c| {
        c.latency = Duration::from_millis(50);
        c.rate_limit = Some(6);
    })
    .await;
    let roster = roster_with_problems(&s, 60);
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-html");
    std::fs::create_dir_all(&out_dir).unwrap();
    let report = out_dir.join("report.html");
    let mut config = import_config(&s.sim, &roster, &s.results);
    config.report = Some(report.clone());
    config.client.rate = RateSetting::Fixed(NonZeroU32::new(10).unwrap());
    assert_exit(&run_import(config).await, Exit::RowsNeedAttention);

    let png = out_dir.join("report.png");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/report-screenshot.sh");
    let out = Command::new(script)
        .arg(&report)
        .arg(&png)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&png).unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    // 1200 × 1600 of a rendered page, not an empty or error page.
    assert!(bytes.len() > 20_000, "{} bytes", bytes.len());
    eprintln!("screenshot: {}", png.display());
}
