//! The `owner` column (product spec §10): a group the run creates is handed to its owner once
//! its members are added; existing groups never are; refusals are reported on the owner's row;
//! a dry run only says what would happen. Both simulated portals: the friendly one keeps the
//! old owner as a manager after a reassignment, the realistic one drops it.

use crate::support::*;
use bulk_groups::exit::Exit;
use bulk_groups::sim::{PrivilegesIn, SeedGroup, SimRole, SimUser};

const ROSTER: &str = "\
group,username,role,owner
Course A,alice,member,teacher
Course A,teacher,admin,
Course A,bob,member,
Course B,carol,member,Teacher2
Old Group,alice,member,teacher
";

async fn owner_sim(realism: Realism) -> bulk_groups::sim::RunningSim {
    let mut config = realism.apply(sim_config(&[
        "alice", "bob", "carol", "teacher", "teacher2",
    ]));
    config
        .initial_groups
        .push(SeedGroup::new("Old Group", "admin"));
    start_sim(config).await
}

on_both_portals! {
async fn created_groups_are_handed_to_their_owners_after_their_members(realism: Realism) {
    let sim = owner_sim(realism).await;
    let dir = Workdir::new();
    let roster = dir.write("r.csv", ROSTER);
    let results = dir.path("r.results.csv");
    let outcome = run_import(import_config(&sim, &roster, &results)).await;
    assert_exit(&outcome, Exit::Success);

    let state = sim.state();
    let a = state.group("Course A").unwrap();
    assert_eq!(a.owner, "teacher");
    assert_eq!(a.users, ["alice", "bob"], "members added before the handover");
    let b = state.group("Course B").unwrap();
    assert_eq!(b.owner, "teacher2", "an owner without a row is added (in the portal's spelling), then made owner");
    assert_eq!(b.users, ["carol"]);
    // Whether the old owner stays a manager is the portal's choice (the friendly sim keeps it,
    // the realistic one drops it); either way the caller ends outside the group, which no
    // longer counts toward its own 512-group limit.
    for group in [a, b] {
        assert!(
            !group.admins.iter().chain(&group.users).any(|m| m == "admin"),
            "{realism:?}: {group:?}"
        );
    }
    assert_eq!(state.group("Old Group").unwrap().owner, "admin", "existing groups are never reassigned");
    assert_eq!(sim.stats().by_endpoint["reassign"], 2);
    let left = if realism == Realism::Friendly { 2 } else { 0 };
    assert_eq!(sim.stats().by_endpoint["removeUsers"], left, "the caller leaves only where it stayed");

    let rows = read_results(&results);
    let lines = by_line(&rows);
    assert_eq!((lines[&3].status.as_str(), lines[&3].reason.as_str()), ("added", "owner"));
    assert_eq!(lines[&3].group_status, "created");
    assert_eq!(lines[&2].reason, "", "only the owner's row says owner");
    let implicit: Vec<&Res> = rows.iter().filter(|r| r.line.is_empty()).collect();
    assert_eq!(implicit.len(), 1, "{rows:#?}");
    let implicit = implicit[0];
    assert_eq!(
        (implicit.group.as_str(), implicit.username.as_str(), implicit.role.as_str()),
        ("Course B", "Teacher2", "admin")
    );
    assert_eq!((implicit.status.as_str(), implicit.reason.as_str()), ("added", "owner"));

    // A re-run changes nothing: the groups exist now, and existing groups are never reassigned.
    let writes = sim.stats().writes;
    let outcome = run_import(import_config(&sim, &roster, &results)).await;
    assert_exit(&outcome, Exit::Success);
    assert_eq!(sim.stats().writes, writes);
}
}

on_both_portals! {
async fn a_dry_run_says_who_would_own_and_reassigns_nothing(realism: Realism) {
    let sim = owner_sim(realism).await;
    let dir = Workdir::new();
    let roster = dir.write("r.csv", ROSTER);
    let results = dir.path("r.results.csv");
    let mut config = import_config(&sim, &roster, &results);
    config.plan.dry_run = true;
    let outcome = run_import(config).await;
    assert_exit(&outcome, Exit::Success);
    assert_eq!(sim.stats().writes, 0);
    let rows = read_results(&results);
    let owner_row = &by_line(&rows)[&3];
    assert_eq!(owner_row.status, "would_add");
    assert!(owner_row.reason.starts_with("owner"), "{owner_row:?}");
    let implicit = rows.iter().find(|r| r.line.is_empty()).expect("teacher2's row");
    assert_eq!((implicit.username.as_str(), implicit.status.as_str()), ("Teacher2", "would_add"));
}
}

on_both_portals! {
async fn a_refused_reassignment_is_reported_on_the_owners_row(realism: Realism) {
    // A caller who may create groups and add members to them, but not reassign (an org
    // administrator's privilege); its privileges are listed nowhere, so the run starts.
    let mut config = realism.apply(sim_config(&["alice", "teacher"]));
    config.users.push(SimUser {
        role: SimRole::OrgPublisher,
        password: Some("pw-lead".into()),
        ..SimUser::new("lead")
    });
    config.privileges_in = PrivilegesIn::None;
    let sim = start_sim(config).await;
    let dir = Workdir::new();
    let roster = dir.write(
        "r.csv",
        "group,username,role,owner\nCourse A,alice,member,teacher\nCourse A,teacher,admin,\n",
    );
    let results = dir.path("r.results.csv");
    let mut config = import_config(&sim, &roster, &results);
    config.credentials = bulk_groups::portal::Credentials::Password {
        username: "lead".into(),
        password: "pw-lead".to_owned().into(),
    };
    let outcome = run_import(config).await;
    assert_exit(&outcome, Exit::RowsNeedAttention);
    let group = sim.state().group("Course A").cloned().unwrap();
    assert_eq!(group.owner, "lead");
    assert_eq!(group.users, ["alice"]);
    let lines = by_line(&read_results(&results));
    assert_eq!(lines[&2].status, "added");
    assert_eq!(lines[&3].status, "failed");
    assert!(
        lines[&3].reason.contains("could not be handed to its owner"),
        "{:?}",
        lines[&3]
    );
}
}
