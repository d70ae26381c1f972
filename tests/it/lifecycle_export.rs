//! `bulk-groups export` and `import --sync --backup` (product spec §10): an export is a roster
//! `import` reads back unchanged — into an empty portal it recreates the same memberships
//! (round trip), into the same portal after a sync it undoes the sync.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use crate::support::*;
use bulk_groups::cli::ProgressWhen;
use bulk_groups::config::{ExportConfig, ExportSelection, OutputConfig, RemovalLimit};
use bulk_groups::exit::Exit;
use bulk_groups::import::export::{ExportReport, run};
use bulk_groups::portal::{ClientOptions, Credentials, PortalUrl};
use bulk_groups::sim::{RunningSim, SeedGroup};

fn export_config(sim: &RunningSim, selection: ExportSelection, output: &Path) -> ExportConfig {
    ExportConfig {
        selection,
        output: Some(output.to_owned()),
        portal: PortalUrl::parse(&sim.url).unwrap(),
        credentials: Credentials::Password {
            username: "admin".into(),
            password: "admin-password".to_owned().into(),
        },
        client: ClientOptions {
            timeout: Duration::from_secs(10),
            ..ClientOptions::default()
        },
        output_config: OutputConfig {
            progress: ProgressWhen::Never,
            quiet: true,
            verbosity: 0,
            json_logs: false,
        },
    }
}

async fn export(sim: &RunningSim, selection: ExportSelection, output: &Path) -> ExportReport {
    run(&export_config(sim, selection, output))
        .await
        .expect("export succeeds")
}

/// An export's rows without the group ids (which differ between portals), as a set.
fn memberships(path: &Path) -> BTreeSet<Vec<String>> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let id = reader
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "group_id")
        .unwrap();
    reader
        .records()
        .map(|r| {
            r.unwrap()
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != id)
                .map(|(_, cell)| cell.to_owned())
                .collect()
        })
        .collect()
}

const PEOPLE: [&str; 6] = ["alice", "bob", "carol", "dave", "teacher", "ta"];

const SETUP: &str = "\
group,username,role,owner,description,tags,access,is_view_only
Course A,alice,member,teacher,\"Maps, 101\",\"gis,course\",org,true
Course A,teacher,admin,,,,,
Course A,ta,admin,,,,,
Course A,bob,member,,,,,
-Staff,carol,member,,staff room,,private,
-Staff,dave,admin,,,,,
";

on_both_portals! {
async fn export_then_import_into_an_empty_portal_then_export_gives_the_same_memberships(realism: Realism) {
    let dir = Workdir::new();
    let first = start_sim(realism.apply(sim_config(&PEOPLE))).await;
    let setup = dir.write("setup.csv", SETUP);
    let outcome = run_import(import_config(&first, &setup, &dir.path("setup.results.csv"))).await;
    assert_exit(&outcome, Exit::Success);

    let exported = dir.path("export.csv");
    let report = export(&first, ExportSelection::All, &exported).await;
    assert_eq!(report.groups, 2);
    assert!(report.problems.is_empty());

    // Into an empty portal with the same people: the ids in the file are unknown there, so the
    // groups are found (created) by title and handed to their owners.
    let second = start_sim(realism.apply(sim_config(&PEOPLE))).await;
    let results = dir.path("export.results.csv");
    let outcome = run_import(import_config(&second, &exported, &results)).await;
    assert_exit(&outcome, Exit::Success);
    assert_eq!(second.state().group("Course A").unwrap().owner, "teacher");

    let again = dir.path("again.csv");
    export(&second, ExportSelection::All, &again).await;
    let before = memberships(&exported);
    // The caller ends outside the groups it handed over, whichever way the portal treats the
    // old owner: the people of SETUP are the whole story.
    assert_eq!(before.len(), 7, "{before:#?}");
    assert_eq!(memberships(&again), before);

    // And back into the first portal: nothing to do.
    let writes = first.stats().writes;
    let outcome = run_import(import_config(&first, &exported, &results)).await;
    assert_exit(&outcome, Exit::Success);
    assert_eq!(first.stats().writes, writes);
    assert!(read_results(&results).iter().all(|r| r.status == "already_member"));
}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selections_by_owner_tag_title_and_roster() {
    let mut config = sim_config(&PEOPLE);
    config.initial_groups.extend([
        SeedGroup {
            users: vec!["alice".into()],
            ..SeedGroup::new("Owned By Teacher", "teacher")
        },
        SeedGroup::new("Teacher Notes", "admin"),
    ]);
    let sim = start_sim(config).await;
    let dir = Workdir::new();
    let setup = dir.write("setup.csv", SETUP);
    run_import(import_config(&sim, &setup, &dir.path("s.results.csv"))).await;
    let out = dir.path("out.csv");
    let groups = |path: &Path| -> BTreeSet<String> {
        memberships(path)
            .into_iter()
            .map(|row| row[0].clone())
            .collect()
    };
    let set = |titles: &[&str]| {
        titles
            .iter()
            .map(|t| t.to_string())
            .collect::<BTreeSet<_>>()
    };

    export(&sim, ExportSelection::Owner("teacher".into()), &out).await;
    assert_eq!(groups(&out), set(&["Course A", "Owned By Teacher"]));
    export(&sim, ExportSelection::Tag("course".into()), &out).await;
    assert_eq!(groups(&out), set(&["Course A"]));
    let report = export(
        &sim,
        ExportSelection::Titles(vec!["-staff".into(), "No Such Group".into()]),
        &out,
    )
    .await;
    assert_eq!(
        groups(&out),
        set(&["-Staff"]),
        "exact titles, compared like import does"
    );
    assert_eq!(
        report.problems,
        ["no group 'No Such Group' in this organization"]
    );
    export(&sim, ExportSelection::Roster(setup), &out).await;
    assert_eq!(groups(&out), set(&["Course A", "-Staff"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_whose_members_cannot_be_read_is_left_out_and_said_so() {
    // A plain user sees the organization's org-access groups but may list the members only of
    // those it belongs to.
    let mut config = sim_config(&PEOPLE);
    config.initial_groups.push(SeedGroup {
        access: "org".into(),
        ..SeedGroup::new("Org Notice Board", "admin")
    });
    let sim = start_sim(config).await;
    let dir = Workdir::new();
    let setup = dir.write("setup.csv", SETUP);
    run_import(import_config(&sim, &setup, &dir.path("s.results.csv"))).await;
    let out = dir.path("out.csv");
    let mut config = export_config(&sim, ExportSelection::All, &out);
    config.credentials = Credentials::Password {
        username: "alice".into(),
        password: "pw-alice".to_owned().into(),
    };
    let report = run(&config).await.expect("the export runs");
    assert_eq!(report.groups, 1, "Course A, which alice is in");
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert!(
        report.problems[0].contains("Org Notice Board"),
        "{:?}",
        report.problems
    );
    assert_eq!(
        memberships(&out).len(),
        4,
        "Course A's people; the caller left it"
    );
}

fn team(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("p{i:02}")).collect()
}

fn roster(members: &[String]) -> String {
    let mut text = String::from("group,username,role\nTeam,boss,admin\n");
    for m in members {
        text.push_str(&format!("Team,{m},member\n"));
    }
    text
}

on_both_portals! {
async fn a_sync_with_a_backup_is_undone_by_importing_the_backup(realism: Realism) {
    let people = team(12);
    let mut names: Vec<&str> = people.iter().map(String::as_str).collect();
    names.push("boss");
    let sim = start_sim(realism.apply(sim_config(&names))).await;
    let dir = Workdir::new();
    let results = dir.path("r.results.csv");
    let a = dir.write("a.csv", &roster(&people));
    assert_exit(&run_import(import_config(&sim, &a, &results)).await, Exit::Success);
    let before = members_of(&sim, "Team");

    // Sync to a roster that keeps four of twelve: eight removals, backed up first.
    let b = dir.write("b.csv", &roster(&people[..4]));
    let backup = dir.path("bk.csv");
    let mut config = import_config(&sim, &b, &results);
    config.plan.sync = true;
    config.plan.max_removals = RemovalLimit::Percent(100);
    config.plan.backup = Some(backup.clone());
    assert_exit(&run_import(config).await, Exit::Success);
    assert_eq!(members_of(&sim, "Team").0, people[..4]);
    let saved = memberships(&backup);
    assert!(saved.iter().any(|row| row[1] == "p12"), "the backup holds who was removed");

    // Undo.
    let mut config = import_config(&sim, &backup, &dir.path("undo.results.csv"));
    config.plan.sync = true;
    config.plan.max_removals = RemovalLimit::Percent(100);
    assert_exit(&run_import(config).await, Exit::Success);
    assert_eq!(members_of(&sim, "Team"), before);
}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unwritable_backup_stops_the_run_before_any_portal_contact() {
    let sim = start_sim(sim_config(&["alice"])).await;
    let dir = Workdir::new();
    let roster = dir.write("r.csv", "group,username\nTeam,alice\n");
    let mut config = import_config(&sim, &roster, &dir.path("r.results.csv"));
    config.plan.sync = true;
    config.plan.backup = Some(dir.path("no/such/dir/bk.csv"));
    let outcome = run_import(config).await;
    assert_exit(&outcome, Exit::Usage);
    assert!(
        outcome
            .summary
            .error
            .as_deref()
            .unwrap_or("")
            .contains("backup file")
    );
    assert_eq!(sim.stats().total, 0);
}

/// The command as a scheduler runs it: stdout by default, a file with `--output`, exit 1 when a
/// named group does not exist, exit 2 without a selection or with an unwritable output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_command_writes_stdout_or_a_file_and_says_so_in_its_exit_code() {
    let sim = start_sim(sim_config(&PEOPLE)).await;
    let dir = Workdir::new();
    let setup = dir.write("setup.csv", SETUP);
    run_import(import_config(&sim, &setup, &dir.path("s.results.csv"))).await;
    let url = sim.url.clone();
    let dir_path = dir.dir.path().to_owned();
    let run = move |args: &[&str]| {
        let mut cmd = bulk_groups_cmd();
        cmd.arg("export")
            .args(args)
            .args([
                "--portal",
                &url,
                "--username",
                "admin",
                "--progress",
                "never",
            ])
            .env("ARCGIS_PASSWORD", "admin-password")
            .current_dir(&dir_path);
        cmd.output().expect("bulk-groups runs")
    };
    let (stdout, file, missing, none, unwritable) = tokio::task::spawn_blocking(move || {
        (
            run(&["--title", "Course A"]),
            run(&["--all", "--output", "all.csv"]),
            run(&["--title", "Course A", "--title", "Nope"]),
            run(&[]),
            run(&["--all", "--output", "no/such/dir/x.csv"]),
        )
    })
    .await
    .unwrap();
    assert_eq!(stdout.status.code(), Some(0));
    let text = String::from_utf8(stdout.stdout).unwrap();
    assert!(
        text.starts_with("group,group_id,username,role,owner"),
        "{text}"
    );
    assert_eq!(
        text.lines().count(),
        1 + 4,
        "header, Course A's people (the caller left the group it handed over)"
    );
    assert_eq!(file.status.code(), Some(0));
    assert_eq!(
        memberships(&dir.path("all.csv")).len(),
        7,
        "SETUP's seven memberships"
    );
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("Nope"));
    assert_eq!(none.status.code(), Some(2));
    assert_eq!(unwritable.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unwritable.stderr).contains("no/such/dir/x.csv"));
}
