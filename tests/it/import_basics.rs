//! The import engine against the in-process simulator: first run, idempotent re-run,
//! pre-existing groups, group_id targeting, admins, and explained refusals.

use crate::support::*;
use bulk_groups::exit::Exit;
use bulk_groups::sim::{SeedGroup, SimUser, UserAccess};

on_both_portals! {
async fn first_run_creates_groups_and_adds_everyone_then_rerun_writes_nothing(realism: Realism) {
    let (roster, users) = generated_roster(3, 30);
    let names: Vec<&str> = users.iter().map(String::as_str).collect();
    let sim = start_sim(realism.apply(sim_config(&names))).await;
    let dir = Workdir::new();
    let roster_path = dir.write("roster.csv", &roster);
    let results = dir.path("roster.results.csv");

    let outcome = run_import(import_config(&sim, &roster_path, &results)).await;
    assert_exit(&outcome, Exit::Success);
    let rows = read_results(&results);
    assert_eq!(rows.len(), 90);
    assert_eq!(by_line(&rows).len(), 90);
    assert!(
        rows.iter()
            .all(|r| r.status == "added" && r.group_status == "created"),
        "{rows:?}"
    );
    for g in 1..=3 {
        let (members, _) = members_of(&sim, &format!("Course {g:03}"));
        assert_eq!(members, users);
    }
    let stats = sim.stats();
    // minimum: 3 creates + ⌈30/25⌉ = 2 addUsers per group
    assert_eq!(
        stats.by_endpoint.get("createGroup").copied().unwrap_or(0),
        3
    );
    assert_eq!(stats.by_endpoint.get("addUsers").copied().unwrap_or(0), 6);
    let writes_before = stats.writes;

    let outcome = run_import(import_config(&sim, &roster_path, &results)).await;
    assert_exit(&outcome, Exit::Success);
    let rows = read_results(&results);
    assert_eq!(rows.len(), 90);
    assert!(
        rows.iter()
            .all(|r| r.status == "already_member" && r.group_status == "existing"),
        "{rows:?}"
    );
    assert_eq!(
        sim.stats().writes,
        writes_before,
        "a re-run makes zero write calls"
    );
}
}

on_both_portals! {
async fn existing_groups_ids_admins_and_refusals_are_reported_per_row(realism: Realism) {
    let mut config = realism.apply(sim_config(&["amy", "bob", "cat", "dan", "eve"]));
    config.users.push(SimUser {
        org: Some("partner-org".into()),
        ..SimUser::new("outsider")
    });
    // A partner whose profile is public: visible, without its organization.
    config.users.push(SimUser {
        org: Some("partner-org".into()),
        access: UserAccess::Public,
        ..SimUser::new("partner")
    });
    config.initial_groups.push(SeedGroup {
        users: vec!["amy".into()],
        ..SeedGroup::new("Existing Team", "admin")
    });
    let sim = start_sim(config).await;
    let existing_id = sim.state().group("Existing Team").unwrap().id.clone();

    let dir = Workdir::new();
    let roster = format!(
        "group,group_id,username,role\n\
         Existing Team,,amy,member\n\
         Existing Team,,bob,admin\n\
         ,{existing_id},cat,member\n\
         New Team,,dan,member\n\
         New Team,,ghost,member\n\
         New Team,,outsider,member\n\
         New Team,,DAN,member\n\
         New Team,,bad user,member\n\
         Existing Team,,amy,admin\n\
         New Team,,partner,member\n"
    );
    let roster_path = dir.write("r.csv", &roster);
    let results = dir.path("r.results.csv");
    let outcome = run_import(import_config(&sim, &roster_path, &results)).await;
    assert_exit(&outcome, Exit::RowsNeedAttention);

    let rows = by_line(&read_results(&results));
    let status = |line: u64| (rows[&line].status.as_str(), rows[&line].reason.as_str());
    assert_eq!(status(2), ("already_member", ""));
    assert_eq!(status(3), ("added", ""));
    assert_eq!(status(4), ("added", ""));
    assert_eq!(
        rows[&4].group, "Existing Team",
        "group_id rows show the portal's title"
    );
    assert_eq!(status(5), ("added", ""));
    let unseen = "user does not exist in this portal or belongs to another organization";
    let (ghost, outsider) = (status(6), status(7));
    assert_eq!((ghost.0, outsider.0), ("not_added", "not_added"));
    // Another organization's profile is hidden from this one, unless public.
    assert_eq!(outsider.1, unseen);
    assert_eq!(
        status(11),
        ("not_added", "user is in another organization")
    );
    match realism {
        Realism::Friendly => assert_eq!(ghost.1, unseen),
        // The unknown name failed its whole call (the others of the chunk were still added)
        // and carries the portal's message.
        Realism::Realistic => {
            assert!(ghost.1.starts_with(unseen), "{ghost:?}");
            assert!(ghost.1.contains("ghost"), "the portal's message: {ghost:?}");
        }
    }
    assert_eq!(status(8).0, "duplicate");
    assert_eq!(status(9).0, "invalid");
    assert_eq!(status(10).0, "duplicate");
    assert!(status(10).1.contains("role"), "{:?}", status(10));
    assert_eq!(rows[&2].group_status, "existing");
    assert_eq!(rows[&5].group_status, "created");
    assert_eq!(rows[&2].group_id, existing_id);

    let (users, admins) = members_of(&sim, "Existing Team");
    assert_eq!(users, ["amy", "cat"]);
    assert_eq!(admins, ["bob"]);
    let (users, _) = members_of(&sim, "New Team");
    assert_eq!(users, ["dan"]);
}
}

on_both_portals! {
async fn look_alike_titles_in_a_large_organization_are_compared_exactly(realism: Realism) {
    // 250 groups that share words with the roster's title: the organization is too large to
    // sweep for a one-group roster, so the fuzzy title query is paged and compared exactly.
    let mut config = realism.apply(sim_config(&["amy"]));
    config.users.push(SimUser {
        role: bulk_groups::sim::SimRole::OrgAdmin,
        ..SimUser::new("other")
    });
    for i in 0..250 {
        config
            .initial_groups
            .push(SeedGroup::new(format!("Course {i:03} Intro"), "other"));
    }
    config
        .initial_groups
        .push(SeedGroup::new("Course 007", "other"));
    let sim = start_sim(config).await;
    let exact_id = sim.state().group("Course 007").unwrap().id.clone();
    let dir = Workdir::new();
    let roster = dir.write("r.csv", "group,username\ncourse  007,amy\n");
    let results = dir.path("r.results.csv");
    assert_exit(
        &run_import(import_config(&sim, &roster, &results)).await,
        Exit::Success,
    );
    let rows = read_results(&results);
    assert_eq!(
        (rows[0].status.as_str(), rows[0].group_id.as_str()),
        ("added", exact_id.as_str())
    );
    let stats = sim.stats();
    assert_eq!(stats.by_endpoint["createGroup"], 0);
    // The organization's first page (its size), then the title query's three pages; no sweep
    // once the title query has found the group.
    assert_eq!(stats.by_endpoint["community/groups"], 4);
}
}
