//! Cron-grade behaviour: dry runs write nothing, `--sync` removes only what the roster dropped,
//! the removal guard protects against truncated exports, one run per results file, and the
//! JSON summary.

use crate::support::*;
use bulk_groups::config::RemovalLimit;
use bulk_groups::exit::Exit;
use bulk_groups::sim::SeedGroup;

fn users(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("p{i:03}")).collect()
}

fn roster_for(group: &str, members: &[String]) -> String {
    let mut text = String::from("group,username\n");
    for m in members {
        text.push_str(&format!("{group},{m}\n"));
    }
    text
}

/// A sim with `n` users, a team owned by admin holding all of them, a manager `boss`, and a
/// user `newbie` in no group.
async fn team_sim(realism: Realism, n: usize) -> (bulk_groups::sim::RunningSim, Vec<String>) {
    let all = users(n);
    let mut names: Vec<&str> = all.iter().map(String::as_str).collect();
    names.push("boss");
    names.push("newbie");
    let mut config = realism.apply(sim_config(&names));
    config.initial_groups.push(SeedGroup {
        users: all.clone(),
        admins: vec!["boss".into()],
        ..SeedGroup::new("Team", "admin")
    });
    (start_sim(config).await, all)
}

on_both_portals! {
async fn dry_run_makes_zero_writes_and_reports_the_plan(realism: Realism) {
    let (sim, all) = team_sim(realism, 10).await;
    let dir = Workdir::new();
    // keep 9 of 10, add 2 new users to a new group and one to Team
    let mut text = roster_for("Team", &all[..9]);
    text.push_str("Team,boss\nNew Group,p001\nNew Group,p002\nOther New,p003\n");
    let roster = dir.write("r.csv", &text);
    let results = dir.path("r.results.csv");
    let mut config = import_config(&sim, &roster, &results);
    config.plan.dry_run = true;
    config.plan.sync = true;
    let outcome = run_import(config).await;
    assert_exit(&outcome, Exit::Success);
    assert_eq!(sim.stats().writes, 0, "a dry run writes nothing");
    let rows = read_results(&results);
    let counts = status_counts(&rows);
    assert_eq!(counts.get("already_member"), Some(&10));
    assert_eq!(counts.get("would_add"), Some(&3));
    assert_eq!(outcome.summary.group_counts["would_create"], 2);
    assert_eq!(counts.get("would_remove"), Some(&1));
    assert!(
        rows.iter()
            .any(|r| r.group == "New Group" && r.group_status == "would_create")
    );
    let removal = rows.iter().find(|r| r.status == "would_remove").unwrap();
    assert_eq!(
        (removal.line.as_str(), removal.username.as_str()),
        ("", "p010")
    );
}
}

on_both_portals! {
async fn sync_removes_only_unlisted_plain_members_never_owner_or_managers(realism: Realism) {
    let (sim, all) = team_sim(realism, 20).await;
    let dir = Workdir::new();
    let roster = dir.write("r.csv", &roster_for("Team", &all[..18]));
    let results = dir.path("r.results.csv");
    let mut config = import_config(&sim, &roster, &results);
    config.plan.sync = true;
    let outcome = run_import(config).await;
    assert_exit(&outcome, Exit::Success);
    let rows = read_results(&results);
    let removed: Vec<&str> = rows
        .iter()
        .filter(|r| r.status == "removed")
        .map(|r| r.username.as_str())
        .collect();
    assert_eq!(removed.len(), 2);
    assert!(removed.contains(&"p019") && removed.contains(&"p020"));
    let (members, admins) = members_of(&sim, "Team");
    assert_eq!(members, all[..18]);
    assert_eq!(admins, ["boss"], "managers stay without --sync-admins");
    assert_eq!(sim.state().group("Team").unwrap().owner, "admin");
}
}

on_both_portals! {
async fn truncated_export_trips_the_guard_nothing_is_removed_and_exit_is_1(realism: Realism) {
    let (sim, all) = team_sim(realism, 40).await;
    let dir = Workdir::new();
    // Yesterday's full roster applied…
    let full = dir.write("full.csv", &roster_for("Team", &all));
    let results = dir.path("r.results.csv");
    let mut config = import_config(&sim, &full, &results);
    config.plan.sync = true;
    assert_exit(&run_import(config).await, Exit::Success);
    // …today's file cut in half, plus a newcomer who must still be added.
    let mut half = roster_for("Team", &all[..20]);
    half.push_str("Team,newbie\n");
    let half = dir.write("half.csv", &half);
    let mut config = import_config(&sim, &half, &results);
    config.plan.sync = true;
    let outcome = run_import(config).await;
    assert_exit(&outcome, Exit::RowsNeedAttention);
    assert_eq!(outcome.summary.guard_tripped, ["Team"]);
    let rows = read_results(&results);
    let blocked: Vec<&Res> = rows.iter().filter(|r| r.status == "not_removed").collect();
    assert_eq!(blocked.len(), 20);
    assert_eq!(
        blocked[0].reason,
        "sync guard: 20 of 42 members would be removed (limit 5)"
    );
    assert_eq!(
        members_of(&sim, "Team").0.len(),
        41,
        "nobody removed, the newcomer added"
    );
}
}

on_both_portals! {
async fn absolute_removal_limit_and_sync_admins(realism: Realism) {
    let (sim, all) = team_sim(realism, 10).await;
    let dir = Workdir::new();
    let roster = dir.write("r.csv", &roster_for("Team", &all[..7]));
    let results = dir.path("r.results.csv");
    let mut config = import_config(&sim, &roster, &results);
    config.plan.sync = true;
    config.plan.sync_admins = true;
    config.plan.max_removals = RemovalLimit::Count(4);
    let outcome = run_import(config).await;
    assert_exit(&outcome, Exit::Success);
    let (members, admins) = members_of(&sim, "Team");
    assert_eq!(members, all[..7]);
    assert!(
        admins.is_empty(),
        "--sync-admins removed the unlisted manager"
    );
}
}

on_both_portals! {
async fn a_second_run_on_the_same_results_file_exits_5(realism: Realism) {
    let (sim, all) = team_sim(realism, 3).await;
    let dir = Workdir::new();
    let roster = dir.write("r.csv", &roster_for("Team", &all));
    let results = dir.path("r.results.csv");
    let lock_path = dir.path("r.results.csv.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .unwrap();
    assert!(fs4::fs_std::FileExt::try_lock_exclusive(&lock).unwrap());
    std::fs::write(&results, "previous results\n").unwrap();
    let outcome = run_import(import_config(&sim, &roster, &results)).await;
    assert_exit(&outcome, Exit::Locked);
    assert_eq!(
        std::fs::read_to_string(&results).unwrap(),
        "previous results\n",
        "the other run's file is untouched"
    );
    assert_eq!(sim.stats().total, 0);
    drop(lock);
    // The lock file left behind (as by a killed run) does not block the next run.
    assert_exit(
        &run_import(import_config(&sim, &roster, &results)).await,
        Exit::Success,
    );
}
}

on_both_portals! {
async fn summary_json_is_written_with_counts_and_requests(realism: Realism) {
    let (sim, all) = team_sim(realism, 3).await;
    let dir = Workdir::new();
    let mut text = roster_for("Team", &all);
    text.push_str("Other,p001\nOther,bad name\n");
    let roster = dir.write("r.csv", &text);
    let results = dir.path("r.results.csv");
    let summary_path = dir.path("summary.json");
    let mut config = import_config(&sim, &roster, &results);
    config.summary_json = Some(summary_path.clone());
    let outcome = run_import(config).await;
    assert_exit(&outcome, Exit::RowsNeedAttention);
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary_path).unwrap()).unwrap();
    assert_eq!(v["exit_code"], 1);
    assert_eq!(v["counts"]["already_member"], 3);
    assert_eq!(v["counts"]["added"], 1);
    assert_eq!(v["counts"]["invalid"], 1);
    assert_eq!(v["group_counts"]["created"], 1);
    assert_eq!(v["group_counts"]["existing"], 1);
    assert_eq!(v["roster"]["rows"], 5);
    assert_eq!(v["roster"]["delimiter"], ",");
    assert_eq!(v["caller"], "admin");
    assert_eq!(v["requests"]["createGroup"], 1);
    assert!(v["roster"]["sha256"].as_str().unwrap().len() == 64);
}
}

on_both_portals! {
async fn min_rows_stops_a_truncated_export_before_any_portal_contact(realism: Realism) {
    let (sim, all) = team_sim(realism, 3).await;
    let dir = Workdir::new();
    let roster = dir.write("r.csv", &roster_for("Team", &all));
    let results = dir.path("r.results.csv");
    let mut config = import_config(&sim, &roster, &results);
    config.plan.min_rows = 100;
    config.plan.sync = true;
    let outcome = run_import(config).await;
    assert_exit(&outcome, Exit::Usage);
    assert_eq!(sim.stats().total, 0);
    let empty = dir.write("empty.csv", "group,username\n");
    let mut config = import_config(&sim, &empty, &results);
    config.plan.sync = true;
    assert_exit(&run_import(config).await, Exit::Usage);
    assert_eq!(sim.stats().total, 0);
}
}
