//! Shared helpers for the import tests: a simulated portal on port 0, roster files in a temp
//! dir, an in-process import with test-friendly settings, and the results file parsed back.

pub mod mock_portal;
pub mod sim_client;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bulk_groups::cli::ProgressWhen;
use bulk_groups::cmd::import::{self, RunOutcome};
use bulk_groups::config::{ImportConfig, OutputConfig, PlanOptions};
use bulk_groups::exit::Exit;
use bulk_groups::portal::{ClientOptions, Credentials, PortalUrl, RateSetting};
use bulk_groups::report::ResultsTarget;
use bulk_groups::roster::{RosterOptions, Source};
use bulk_groups::sim::{RunningSim, SimConfig, SimUser};
use tokio_util::sync::CancellationToken;

/// Which simulated portal a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Realism {
    /// The simulator's defaults: a portal that makes no trouble beyond the faults a test asks for.
    Friendly,
    /// `portal-sim --realistic`: every realism switch at its harder variant (capped legacy
    /// member lists, whole-call addUsers failures, exact-case usernames, privileges only in
    /// `portals/self`, 403 throttling, other-org profiles hidden).
    Realistic,
}

impl Realism {
    /// `config` as this portal runs it.
    pub fn apply(self, config: SimConfig) -> SimConfig {
        match self {
            Realism::Friendly => config,
            Realism::Realistic => config.realistic(),
        }
    }
}

/// Defines a test that runs against both simulated portals, as two tests `<name>::friendly`
/// and `<name>::realistic` sharing one body that takes the [`Realism`].
macro_rules! on_both_portals {
    ($(#[$meta:meta])* async fn $name:ident($realism:ident: Realism) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            $(#[$meta])*
            async fn run($realism: Realism) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn friendly() {
                run(Realism::Friendly).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn realistic() {
                run(Realism::Realistic).await
            }
        }
    };
}
pub(crate) use on_both_portals;

/// A simulator config with `users` as home-org users (passwords `pw-<name>`).
pub fn sim_config(users: &[&str]) -> SimConfig {
    SimConfig {
        users: users
            .iter()
            .map(|u| SimUser {
                password: Some(format!("pw-{u}")),
                ..SimUser::new(*u)
            })
            .collect(),
        ..SimConfig::default()
    }
}

/// Start a simulator.
pub async fn start_sim(config: SimConfig) -> RunningSim {
    RunningSim::start(config).await.expect("simulator starts")
}

/// A temp dir holding a roster.
pub struct Workdir {
    pub dir: tempfile::TempDir,
}

impl Workdir {
    pub fn new() -> Self {
        Workdir {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).expect("write file");
        path
    }
}

/// An import config against `sim` as its admin, fast retries and no progress output.
pub fn import_config(sim: &RunningSim, roster: &Path, results: &Path) -> ImportConfig {
    import_config_at(&sim.url, roster, results)
}

/// The same against the portal at `url` (a scripted mock).
pub fn import_config_at(url: &str, roster: &Path, results: &Path) -> ImportConfig {
    ImportConfig {
        roster: Source::Path(roster.to_owned()),
        roster_options: RosterOptions::default(),
        results: ResultsTarget::Path(results.to_owned()),
        portal: PortalUrl::parse(url).expect("portal url"),
        credentials: Credentials::Password {
            username: "admin".into(),
            password: "admin-password".to_owned().into(),
        },
        client: ClientOptions {
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(2),
            retries: 6,
            concurrency: std::num::NonZeroUsize::new(8).unwrap(),
            rate: RateSetting::Auto,
            ca_cert: None,
            ..ClientOptions::default()
        },
        plan: PlanOptions::default(),
        max_duration: None,
        summary_json: None,
        results_format: None,
        report: None,
        output: OutputConfig {
            progress: ProgressWhen::Never,
            quiet: true,
            verbosity: 0,
            json_logs: false,
        },
    }
}

/// Run an import to the end.
pub async fn run_import(config: ImportConfig) -> RunOutcome {
    import::run(config, CancellationToken::new()).await
}

/// One parsed results row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Res {
    pub line: String,
    pub group: String,
    pub group_id: String,
    pub group_status: String,
    pub username: String,
    pub role: String,
    pub status: String,
    pub reason: String,
    pub portal_username: String,
}

/// Parse a results file; checks the header.
pub fn read_results(path: &Path) -> Vec<Res> {
    let mut reader = csv::Reader::from_path(path).expect("results file");
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        header,
        [
            "line",
            "group",
            "group_id",
            "group_status",
            "username",
            "role",
            "status",
            "reason",
            "portal_username"
        ]
    );
    reader
        .records()
        .map(|r| {
            let r = r.expect("valid CSV row");
            Res {
                line: r[0].into(),
                group: r[1].into(),
                group_id: r[2].into(),
                group_status: r[3].into(),
                username: r[4].into(),
                role: r[5].into(),
                status: r[6].into(),
                reason: r[7].into(),
                portal_username: r[8].into(),
            }
        })
        .collect()
}

/// Results keyed by roster line (panics on a line reported twice).
pub fn by_line(rows: &[Res]) -> BTreeMap<u64, Res> {
    let mut out = BTreeMap::new();
    for row in rows.iter().filter(|r| !r.line.is_empty()) {
        let line: u64 = row.line.parse().expect("numeric line");
        assert!(
            out.insert(line, row.clone()).is_none(),
            "line {line} reported twice"
        );
    }
    out
}

/// Status → count.
pub fn status_counts(rows: &[Res]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for row in rows {
        *out.entry(row.status.clone()).or_default() += 1;
    }
    out
}

/// The sorted member usernames (plain members and admins, owner excluded) of a sim group.
pub fn members_of(sim: &RunningSim, title: &str) -> (Vec<String>, Vec<String>) {
    let state = sim.state();
    let group = state
        .group(title)
        .unwrap_or_else(|| panic!("group {title} exists"));
    let mut users = group.users.clone();
    let mut admins: Vec<String> = group
        .admins
        .iter()
        .filter(|a| **a != group.owner)
        .cloned()
        .collect();
    users.sort();
    admins.sort();
    (users, admins)
}

/// A roster of `groups` × `members` rows over users `u0001…`, and those user names.
pub fn generated_roster(groups: usize, members: usize) -> (String, Vec<String>) {
    let users: Vec<String> = (1..=members).map(|i| format!("u{i:04}")).collect();
    let mut text = String::from("group,username,role\n");
    for g in 1..=groups {
        for u in &users {
            text.push_str(&format!("Course {g:03},{u},member\n"));
        }
    }
    (text, users)
}

/// Expect an exit code, with the summary in the failure message.
pub fn assert_exit(outcome: &RunOutcome, exit: Exit) {
    assert_eq!(outcome.exit, exit, "summary: {:#?}", outcome.summary);
}

/// A generated roster (`groups` × `members`) written to a temp dir, and a simulator holding its
/// users, configured further by `tweak`.
pub struct Scenario {
    pub sim: RunningSim,
    pub dir: Workdir,
    pub roster: PathBuf,
    pub results: PathBuf,
    pub users: Vec<String>,
}

impl Scenario {
    /// On the friendly simulator.
    pub async fn new(groups: usize, members: usize, tweak: impl FnOnce(&mut SimConfig)) -> Self {
        Scenario::on(Realism::Friendly, groups, members, tweak).await
    }

    /// On the simulator `realism` describes (`tweak` applies after it).
    pub async fn on(
        realism: Realism,
        groups: usize,
        members: usize,
        tweak: impl FnOnce(&mut SimConfig),
    ) -> Self {
        let (text, users) = generated_roster(groups, members);
        let names: Vec<&str> = users.iter().map(String::as_str).collect();
        let mut config = realism.apply(sim_config(&names));
        tweak(&mut config);
        let sim = start_sim(config).await;
        let dir = Workdir::new();
        let roster = dir.write("roster.csv", &text);
        let results = dir.path("roster.results.csv");
        Scenario {
            sim,
            dir,
            roster,
            results,
            users,
        }
    }

    /// The in-process import config for this scenario.
    pub fn config(&self) -> ImportConfig {
        import_config(&self.sim, &self.roster, &self.results)
    }
}

/// `line` without the RFC 3339 time (`2026-05-04T02:00:13Z `) that starts every stderr line
/// when stderr is not a terminal (product spec §7); unchanged when it has none.
pub fn without_timestamp(line: &str) -> &str {
    let stamped = line.len() > 21
        && line.is_char_boundary(21)
        && line[..21].bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            10 => b == b'T',
            13 | 16 => b == b':',
            19 => b == b'Z',
            20 => b == b' ',
            _ => b.is_ascii_digit(),
        });
    if stamped { &line[21..] } else { line }
}

/// The `bulk-groups` binary with none of the caller's ArcGIS or logging environment, no colour.
pub fn bulk_groups_cmd() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_bulk-groups"));
    for var in [
        "ARCGIS_API_KEY",
        "ARCGIS_TOKEN",
        "ARCGIS_TOKEN_FILE",
        "ARCGIS_USERNAME",
        "ARCGIS_PASSWORD",
        "ARCGIS_PORTAL",
        "RUST_LOG",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("NO_COLOR", "1");
    cmd
}
