//! "Nothing lost": `--sync` never removes a user the roster lists, however the roster names the
//! group, and never syncs a group whose rows it could not fully understand (product spec §4).

use crate::support::*;
use bulk_groups::config::RemovalLimit;
use bulk_groups::exit::Exit;
use bulk_groups::sim::SeedGroup;

/// A sim whose group `G` (owned by admin) holds `members` plain members `m01…`; also a user
/// `newbie` in no group.
async fn sim_with_group(members: usize) -> (bulk_groups::sim::RunningSim, Vec<String>, String) {
    let all: Vec<String> = (1..=members).map(|i| format!("m{i:02}")).collect();
    let mut names: Vec<&str> = all.iter().map(String::as_str).collect();
    names.push("newbie");
    let mut config = sim_config(&names);
    config.initial_groups.push(SeedGroup {
        users: all.clone(),
        ..SeedGroup::new("G", "admin")
    });
    let sim = start_sim(config).await;
    let id = sim.state().group("G").expect("seeded").id.clone();
    (sim, all, id)
}

/// Import `roster` into `sim` with `--sync` under `limit`; the outcome and the results rows.
async fn sync_import(
    sim: &bulk_groups::sim::RunningSim,
    roster: &str,
    limit: RemovalLimit,
) -> (bulk_groups::cmd::import::RunOutcome, Vec<Res>) {
    let dir = Workdir::new();
    let roster = dir.write("r.csv", roster);
    let results = dir.path("r.results.csv");
    let mut config = import_config(sim, &roster, &results);
    config.plan.sync = true;
    config.plan.max_removals = limit;
    let outcome = run_import(config).await;
    (outcome, read_results(&results))
}

/// A `group,username` roster putting every one of `users` (as given) in `G`.
fn roster_of<'a>(users: impl IntoIterator<Item = &'a str>) -> String {
    std::iter::once("group,username\n".to_owned())
        .chain(users.into_iter().map(|u| format!("G,{u}\n")))
        .collect()
}

/// Roster rows naming `G` by title for the first half of `users` and by id for the rest.
fn mixed_roster(id: &str, users: &[String]) -> String {
    let mut text = String::from("group,group_id,username\n");
    for (i, u) in users.iter().enumerate() {
        if i % 2 == 0 {
            text.push_str(&format!("G,,{u}\n"));
        } else {
            text.push_str(&format!(",{id},{u}\n"));
        }
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_named_by_title_and_by_id_is_one_group_and_sync_keeps_every_listed_member() {
    let (sim, all, id) = sim_with_group(10).await;
    let dir = Workdir::new();
    // Every member is listed, half by title, half by id; newbie is new (by id).
    let mut listed = all.clone();
    listed.push("newbie".into());
    let roster = dir.write("r.csv", &mixed_roster(&id, &listed));
    let results = dir.path("r.results.csv");
    let mut config = import_config(&sim, &roster, &results);
    config.plan.sync = true;
    config.plan.max_removals = RemovalLimit::Percent(100);
    let outcome = run_import(config).await;
    assert_exit(&outcome, Exit::Success);
    let (members, _) = members_of(&sim, "G");
    assert_eq!(
        members.len(),
        11,
        "nobody the roster lists was removed: {members:?}"
    );
    assert!(members.contains(&"newbie".to_owned()));
    let rows = read_results(&results);
    assert!(
        rows.iter()
            .all(|r| r.status != "removed" && r.status != "not_removed"),
        "no removal was even planned: {rows:?}"
    );
    assert!(
        rows.iter().all(|r| r.group_id == id),
        "one group id for every row"
    );

    // The next run changes nothing: zero writes, every row already a member.
    let writes = sim.stats().writes;
    let mut config = import_config(&sim, &roster, &results);
    config.plan.sync = true;
    config.plan.max_removals = RemovalLimit::Percent(100);
    assert_exit(&run_import(config).await, Exit::Success);
    assert_eq!(sim.stats().writes, writes);
    assert_eq!(
        status_counts(&read_results(&results)).get("already_member"),
        Some(&11)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_issue_repro_two_spellings_two_users() {
    let (sim, all, id) = sim_with_group(2).await;
    let dir = Workdir::new();
    let text = format!("group,group_id,username\nG,,{}\n,{id},{}\n", all[0], all[1]);
    let roster = dir.write("r.csv", &text);
    let results = dir.path("r.results.csv");
    let mut config = import_config(&sim, &roster, &results);
    config.plan.sync = true;
    assert_exit(&run_import(config).await, Exit::Success);
    assert_eq!(members_of(&sim, "G").0, all);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_user_under_both_spellings_is_sent_once() {
    let (sim, _, id) = sim_with_group(0).await;
    let dir = Workdir::new();
    // The id row may be planned before or after the title rows resolve; either way the second
    // mention of newbie is no second membership.
    let text = format!("group,group_id,username\nG,,newbie\n,{id},newbie\n");
    let roster = dir.write("r.csv", &text);
    let results = dir.path("r.results.csv");
    let outcome = run_import(import_config(&sim, &roster, &results)).await;
    assert_exit(&outcome, Exit::Success);
    assert_eq!(members_of(&sim, "G").0, vec!["newbie".to_owned()]);
    let rows = read_results(&results);
    assert_eq!(rows.len(), 2);
    let statuses: Vec<&str> = rows.iter().map(|r| r.status.as_str()).collect();
    assert!(statuses.contains(&"added"), "{rows:?}");
    assert!(
        statuses
            .iter()
            .all(|s| ["added", "already_member", "duplicate"].contains(s)),
        "{rows:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_row_naming_the_group_by_id_blocks_the_sync_of_its_title_rows() {
    let (sim, all, id) = sim_with_group(10).await;
    // Title rows list 8 of 10 (2 would go), plus an invalid row that names G by id.
    let mut text = String::from("group,group_id,username\n");
    for u in &all[..8] {
        text.push_str(&format!("G,,{u}\n"));
    }
    text.push_str(&format!(",{id},not a username\n"));
    let (outcome, rows) = sync_import(&sim, &text, RemovalLimit::Percent(10)).await;
    assert_exit(&outcome, Exit::RowsNeedAttention);
    assert_eq!(members_of(&sim, "G").0.len(), 10, "nothing removed");
    let blocked: Vec<_> = rows.iter().filter(|r| r.status == "not_removed").collect();
    assert_eq!(blocked.len(), 2, "{rows:?}");
    assert!(
        blocked[0].reason.contains("invalid"),
        "{}",
        blocked[0].reason
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_roster_of_unknown_identities_never_empties_a_small_group() {
    let (sim, all, _) = sim_with_group(5).await;
    // Every cell an e-mail address no username matches: every row not_added.
    let emails: Vec<String> = all.iter().map(|u| format!("{u}@example.edu")).collect();
    let roster = roster_of(emails.iter().map(String::as_str));
    let (outcome, rows) = sync_import(&sim, &roster, RemovalLimit::Percent(10)).await;
    assert_exit(&outcome, Exit::RowsNeedAttention);
    assert_eq!(members_of(&sim, "G").0, all, "all five kept");
    assert_eq!(status_counts(&rows).get("not_added"), Some(&5));
    assert_eq!(status_counts(&rows).get("removed"), None);
    assert!(
        rows.iter()
            .filter(|r| r.status == "not_removed")
            .all(|r| r.reason.contains("does not know")),
        "{rows:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_not_added_user_who_exists_does_not_block_the_sync() {
    // A user the portal refuses but the lookup finds (at the group limit) is known: the rest
    // of the group syncs.
    let mut config = sim_config(&["m01", "m02", "m03"]);
    config.users.push(bulk_groups::sim::SimUser {
        groups: 512,
        ..bulk_groups::sim::SimUser::new("busy")
    });
    config.initial_groups.push(SeedGroup {
        users: vec!["m01".into(), "m02".into(), "m03".into()],
        ..SeedGroup::new("G", "admin")
    });
    let sim = start_sim(config).await;
    let dir = Workdir::new();
    let roster = dir.write("r.csv", "group,username\nG,m01\nG,m02\nG,busy\n");
    let results = dir.path("r.results.csv");
    let mut config = import_config(&sim, &roster, &results);
    config.plan.sync = true;
    let outcome = run_import(config).await;
    assert_exit(&outcome, Exit::RowsNeedAttention);
    assert_eq!(
        members_of(&sim, "G").0,
        vec!["m01".to_owned(), "m02".to_owned()]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_and_zero_percent_mean_no_removals() {
    for limit in [RemovalLimit::Count(0), RemovalLimit::Percent(0)] {
        let (sim, all, _) = sim_with_group(6).await;
        let roster = roster_of(all[..5].iter().map(String::as_str));
        let (outcome, rows) = sync_import(&sim, &roster, limit).await;
        assert_exit(&outcome, Exit::RowsNeedAttention);
        assert_eq!(
            members_of(&sim, "G").0.len(),
            6,
            "{limit:?} removed someone"
        );
        let blocked = rows.iter().find(|r| r.status == "not_removed").unwrap();
        assert!(blocked.reason.contains("(limit 0)"), "{}", blocked.reason);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nfc_and_nfd_spellings_of_a_title_are_one_group_and_the_kelvin_sign_is_not_a_k() {
    let mut config = sim_config(&["a1", "a2", "a3", "prof"]);
    config.initial_groups.push(SeedGroup {
        access: "org".into(),
        ..SeedGroup::new("\u{212A}elvin Lab", "prof")
    });
    let sim = start_sim(config).await;
    let dir = Workdir::new();
    let text = "group,username\nCaf\u{e9} Lab,a1\nCafe\u{301} Lab,a2\nkelvin lab,a3\n";
    let roster = dir.write("r.csv", text);
    let results = dir.path("r.results.csv");
    let outcome = run_import(import_config(&sim, &roster, &results)).await;
    assert_exit(&outcome, Exit::Success);
    assert_eq!(
        outcome.summary.group_counts["created"], 2,
        "Café Lab once, kelvin lab"
    );
    let state = sim.state();
    let kelvin = state.group("\u{212A}elvin Lab").unwrap();
    assert!(
        kelvin.users.is_empty(),
        "a3 did not join prof's group: {kelvin:?}"
    );
    assert_eq!(state.groups.len(), 3);
}
