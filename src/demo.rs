//! `bulk-groups demo`: a real import of the bundled samples into a simulated portal started
//! in-process on a loopback port — the same code path as `import` (HTTP, sign-in, pacing,
//! results file), in seconds, with no account and no network.
//!
//! The samples are embedded, so the demo runs from any directory. Their invalid row, duplicate
//! row and two refused users are deliberate; the demo succeeds when the run's outcome is exactly
//! what the samples call for, which it works out from the samples themselves (`cmd` prints the
//! finding and picks the exit code).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::cli::ProgressWhen;
use crate::config::{ImportConfig, OutputConfig, PlanOptions};
use crate::import::RunReport;
use crate::outcome::Status;
use crate::portal::{ClientOptions, Credentials, PortalUrl};
use crate::report::ResultsTarget;
use crate::roster::{RosterOptions, RosterReader, RowKind, Source, UserKey};
use crate::sim::{RunningSim, SimConfig, SimUser, parse_users_csv};

/// The sample roster (see `samples/README.md`).
pub const SAMPLE_ROSTER: &str = include_str!("../samples/roster.csv");
/// Group definitions for the sample roster.
pub const SAMPLE_GROUPS: &str = include_str!("../samples/groups.csv");
/// The simulated portal's accounts.
pub const SAMPLE_USERS: &str = include_str!("../samples/users.csv");

/// What the demo did.
#[derive(Debug)]
pub struct DemoRun {
    /// The import of the samples.
    pub report: RunReport,
    /// The groups in the simulated portal afterwards, one line each.
    pub groups: Vec<String>,
    /// Where the results file went.
    pub results: PathBuf,
    /// Counts that differ from what the samples call for; empty when all is as expected.
    pub mismatches: Vec<String>,
}

/// Run the demo; the results file goes to `results` or a kept temporary directory. The error
/// is why the demo could not run at all.
pub async fn run(
    results: Option<PathBuf>,
    output: OutputConfig,
    cancel: CancellationToken,
) -> Result<DemoRun, String> {
    let users = parse_users_csv(SAMPLE_USERS)?;
    let dir = tempfile::Builder::new()
        .prefix("bulk-groups-demo-")
        .tempdir()
        .map_err(|e| e.to_string())?
        .keep();
    let roster = write(&dir, "roster.csv", SAMPLE_ROSTER)?;
    let groups = write(&dir, "groups.csv", SAMPLE_GROUPS)?;
    let results = match results {
        Some(path) => std::path::absolute(path).map_err(|e| e.to_string())?,
        None => dir.join("roster.results.csv"),
    };

    let sim = RunningSim::start(SimConfig {
        users: users.clone(),
        ..SimConfig::default()
    })
    .await
    .map_err(|e| format!("cannot start the simulated portal: {e}"))?;
    tracing::info!(
        "simulated portal listening on {} (admin / admin-password)",
        sim.url
    );
    let config = import_config(&sim.url, &roster, groups, &results, output)?;
    let report = crate::import::run(config, cancel).await;
    let state = sim.shutdown().await;
    let groups = state
        .groups
        .iter()
        .map(|group| {
            format!(
                "  {} — {} member(s), {} manager(s)",
                group.title,
                group.users.len(),
                group.admins.len()
            )
        })
        .collect();
    let expected = expected_counts(&roster, &users)?;
    let got = |status: &Status| {
        report
            .summary
            .counts
            .get(status.as_str())
            .copied()
            .unwrap_or(0)
    };
    let mismatches = expected
        .iter()
        .filter(|(status, n)| got(status) != *n)
        .map(|(status, n)| format!("{status}: expected {n}, got {}", got(status)))
        .collect();
    Ok(DemoRun {
        report,
        groups,
        results,
        mismatches,
    })
}

/// The import the demo runs: the samples into the simulated portal at `url`.
fn import_config(
    url: &str,
    roster: &Path,
    groups: PathBuf,
    results: &Path,
    output: OutputConfig,
) -> Result<ImportConfig, String> {
    Ok(ImportConfig {
        roster: Source::Path(roster.to_owned()),
        roster_options: RosterOptions {
            groups_file: Some(groups),
            ..RosterOptions::default()
        },
        results: ResultsTarget::Path(results.to_owned()),
        portal: PortalUrl::parse(url).map_err(|e| e.to_string())?,
        credentials: Credentials::Password {
            username: "admin".to_owned(),
            password: "admin-password".to_owned().into(),
        },
        client: ClientOptions {
            timeout: Duration::from_secs(10),
            ..ClientOptions::default()
        },
        plan: PlanOptions::default(),
        max_duration: None,
        summary_json: None,
        results_format: None,
        report: None,
        output: OutputConfig {
            progress: ProgressWhen::Never,
            ..output
        },
    })
}

fn write(dir: &Path, name: &str, text: &str) -> Result<PathBuf, String> {
    let path = dir.join(name);
    std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

/// What a first import of the samples into a fresh portal must report, worked out from the
/// samples: invalid and duplicate rows as the reader sees them; a membership for a user who is
/// not a home-org account is `not_added`; every other membership is `added`.
fn expected_counts(roster: &Path, users: &[SimUser]) -> Result<Vec<(Status, u64)>, String> {
    let home: HashSet<UserKey> = users
        .iter()
        .filter(|u| u.org.is_none())
        .map(|u| UserKey::new(&u.username))
        .collect();
    let reader = RosterReader::open(&Source::Path(roster.to_owned()), &RosterOptions::default())
        .map_err(|e| e.to_string())?;
    let mut counts = [
        (Status::Added, 0),
        (Status::NotAdded, 0),
        (Status::Duplicate, 0),
        (Status::Invalid, 0),
    ];
    for row in reader {
        let status = match row.kind {
            RowKind::Membership(m) if home.contains(&UserKey::new(&m.username)) => Status::Added,
            RowKind::Membership(_) => Status::NotAdded,
            RowKind::Duplicate { .. } => Status::Duplicate,
            RowKind::Invalid { .. } => Status::Invalid,
        };
        if let Some(slot) = counts.iter_mut().find(|(s, _)| *s == status) {
            slot.1 += 1;
        }
    }
    let mut expected = counts.to_vec();
    expected.extend([
        (Status::Failed, 0),
        (Status::NotAttempted, 0),
        (Status::AlreadyMember, 0),
    ]);
    Ok(expected)
}
