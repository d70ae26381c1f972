//! What a stricter, independent portal does that a friendly simulator may not (product spec §4
//! "What a real portal does…"): one test per way the tool used to fail against one. Each runs
//! against the simulator with the matching realism switch; where the real behaviour is
//! UNVERIFIED, both simulated behaviours are tested.

use std::time::Duration;

use crate::support::mock_portal::{MockPortal, Reply, token_reply};
use crate::support::*;
use bulk_groups::exit::Exit;
use bulk_groups::portal::Credentials;
use bulk_groups::sim::{
    PrivilegesIn, REALISTIC_MEMBERS_CAP, SeedGroup, SimConfig, SimUser, UserAccess,
};
use serde_json::json;

/// The reason for a user an org administrator cannot find.
const UNSEEN: &str = "user does not exist in this portal or belongs to another organization";

fn roster_of(group: &str, users: &[String]) -> String {
    let mut text = String::from("group,username\n");
    for u in users {
        text.push_str(&format!("{group},{u}\n"));
    }
    text
}

fn names(prefix: &str, n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("{prefix}{i:03}")).collect()
}

/// Privileges listed only in `portals/self`'s `user` (or only in `community/self`) are enough.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn privileges_listed_in_only_one_place_are_enough() {
    for place in [PrivilegesIn::PortalsSelf, PrivilegesIn::CommunitySelf] {
        let sim = start_sim(SimConfig {
            privileges_in: place,
            ..sim_config(&["amy"])
        })
        .await;
        let dir = Workdir::new();
        let roster = dir.write("r.csv", "group,username\nG,amy\n");
        let results = dir.path("r.results.csv");
        let outcome = run_import(import_config(&sim, &roster, &results)).await;
        assert_exit(&outcome, Exit::Success);
        assert_eq!(members_of(&sim, "G").0, ["amy"], "{place:?}");
    }
}

/// No privileges list anywhere (some API keys): no evidence, so the run goes on; a write the
/// portal then refuses is a failure of its rows, not of the run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn privileges_listed_nowhere_are_no_reason_to_stop() {
    let mut config = SimConfig {
        privileges_in: PrivilegesIn::None,
        ..sim_config(&["amy", "bob"])
    };
    // amy is a plain member: she may read its members, not add any.
    config.initial_groups.push(SeedGroup {
        users: vec!["amy".into()],
        ..SeedGroup::new("Admins Only", "admin")
    });
    let sim = start_sim(config).await;
    let admins_only = sim.state().group("Admins Only").unwrap().id.clone();
    let dir = Workdir::new();
    let results = dir.path("r.results.csv");

    // The administrator: everything done.
    let roster = dir.write("r.csv", "group,username\nNew,bob\n");
    assert_exit(
        &run_import(import_config(&sim, &roster, &results)).await,
        Exit::Success,
    );
    assert_eq!(members_of(&sim, "New").0, ["bob"]);

    // A plain user: may create and fill its own group, not one it does not manage.
    let roster = dir.write(
        "amy.csv",
        &format!("group,group_id,username\nAmy's,,bob\n,{admins_only},bob\n"),
    );
    let mut config = import_config(&sim, &roster, &results);
    config.credentials = Credentials::Password {
        username: "amy".into(),
        password: "pw-amy".to_owned().into(),
    };
    let outcome = run_import(config).await;
    assert_exit(&outcome, Exit::RowsNeedAttention);
    let rows = by_line(&read_results(&results));
    assert_eq!(rows[&2].status, "added");
    assert_eq!(rows[&3].status, "failed");
    assert!(rows[&3].reason.contains("permission"), "{:?}", rows[&3]);
    assert_eq!(members_of(&sim, "Amy's").0, ["bob"]);
}

/// Users of another organization are usually invisible: "not found" is no proof that an
/// account does not exist, and a public profile carries no `orgId`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_of_other_organizations_are_reported_as_the_portal_shows_them() {
    let partners = |privileges_in| {
        let mut config = SimConfig {
            privileges_in,
            ..sim_config(&["amy"])
        };
        for (name, access) in [("hidden", UserAccess::Org), ("public", UserAccess::Public)] {
            config.users.push(SimUser {
                org: Some("partner-org".into()),
                access,
                ..SimUser::new(name)
            });
        }
        config
    };
    let dir = Workdir::new();
    let results = dir.path("r.results.csv");

    // An org administrator sees every user of its organization and its directory.
    let sim = start_sim(partners(PrivilegesIn::Both)).await;
    let roster = dir.write("r.csv", "group,username\nG,hidden\nG,public\nG,ghost\n");
    assert_exit(
        &run_import(import_config(&sim, &roster, &results)).await,
        Exit::RowsNeedAttention,
    );
    let rows = by_line(&read_results(&results));
    assert_eq!(rows[&2].reason, UNSEEN);
    assert_eq!(rows[&3].reason, "user is in another organization");
    assert_eq!(rows[&4].reason, UNSEEN);

    // A plain user sees neither (no privileges listed: the portal decides what it may do).
    let sim = start_sim(partners(PrivilegesIn::None)).await;
    let roster = dir.write("amy.csv", "group,username\nAmy's,hidden\nAmy's,public\n");
    let mut config = import_config(&sim, &roster, &results);
    config.credentials = Credentials::Password {
        username: "amy".into(),
        password: "pw-amy".to_owned().into(),
    };
    assert_exit(&run_import(config).await, Exit::RowsNeedAttention);
    let rows = by_line(&read_results(&results));
    assert_eq!(rows[&2].reason, format!("{UNSEEN} and is not visible"));
    assert!(
        rows[&3].reason.contains("does not show its organization"),
        "{:?}",
        rows[&3]
    );
}

/// One unknown name fails a whole addUsers call (`--strict-chunks`): the call is split until
/// that name is isolated, every other row is added, only that row carries the portal's message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_unknown_name_fails_only_its_own_row() {
    let users = names("s", 16);
    let known: Vec<&str> = users
        .iter()
        .map(String::as_str)
        .filter(|u| *u != "s009")
        .collect();
    let sim = start_sim(SimConfig {
        strict_chunks: true,
        ..sim_config(&known)
    })
    .await;
    let dir = Workdir::new();
    let roster = dir.write("r.csv", &roster_of("Strict", &users));
    let results = dir.path("r.results.csv");
    assert_exit(
        &run_import(import_config(&sim, &roster, &results)).await,
        Exit::RowsNeedAttention,
    );
    let rows = read_results(&results);
    let bad: Vec<&Res> = rows.iter().filter(|r| r.status != "added").collect();
    assert_eq!(bad.len(), 1, "{:?}", status_counts(&rows));
    assert_eq!(
        (bad[0].username.as_str(), bad[0].status.as_str()),
        ("s009", "not_added")
    );
    assert!(bad[0].reason.starts_with(UNSEEN), "{:?}", bad[0]);
    assert!(
        bad[0].reason.contains("does not exist or is inaccessible"),
        "the portal's message: {:?}",
        bad[0]
    );
    assert_eq!(members_of(&sim, "Strict").0.len(), 15);
    // One failed call, then halves: at most 2 calls per level of a 16-name chunk.
    let calls = sim.stats().by_endpoint["addUsers"];
    assert!(calls <= 1 + 2 * 4, "{calls} addUsers calls");
}

/// A group of 150 whose deprecated `…/users` listing stops at 100: a re-run of the fully
/// applied roster writes nothing and reports every row `already_member` — with that switch
/// alone, and under `--realistic`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rerun_with_150_member_groups_writes_nothing() {
    for realism in [Realism::Friendly, Realism::Realistic] {
        let scenario = Scenario::on(realism, 2, 150, |c| {
            c.legacy_members_cap = Some(REALISTIC_MEMBERS_CAP);
        })
        .await;
        assert_exit(&run_import(scenario.config()).await, Exit::Success);
        let writes = scenario.sim.stats().writes;

        let outcome = run_import(scenario.config()).await;
        assert_exit(&outcome, Exit::Success);
        let rows = read_results(&scenario.results);
        assert_eq!(rows.len(), 300);
        assert!(
            rows.iter().all(|r| r.status == "already_member"),
            "{realism:?}: {:?}",
            status_counts(&rows)
        );
        let stats = scenario.sim.stats();
        assert_eq!(stats.writes, writes, "zero writes");
        assert_eq!(
            stats.by_endpoint["groups/users"], 0,
            "the legacy list is not read"
        );
    }
}

/// A large group (its legacy listing capped) and lost addUsers responses: the re-reads that
/// settle them see every member.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_responses_in_large_groups_are_settled_from_the_whole_member_list() {
    let old = names("m", 150);
    let new = names("n", 50);
    let all: Vec<&str> = old.iter().chain(&new).map(String::as_str).collect();
    let mut config = SimConfig {
        drop_rate: 0.5,
        seed: 7,
        legacy_members_cap: Some(REALISTIC_MEMBERS_CAP),
        ..sim_config(&all)
    };
    config.initial_groups.push(SeedGroup {
        users: old.clone(),
        ..SeedGroup::new("Big", "admin")
    });
    let sim = start_sim(config).await;
    let dir = Workdir::new();
    let roster = dir.write("r.csv", &roster_of("Big", &new));
    let results = dir.path("r.results.csv");
    assert_exit(
        &run_import(import_config(&sim, &roster, &results)).await,
        Exit::Success,
    );
    assert!(sim.stats().dropped > 0, "{:?}", sim.stats());
    assert_eq!(members_of(&sim, "Big").0.len(), 200);
}

/// `--sync` plans from every member of a large group, not the first 100.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_sees_every_member_of_a_large_group() {
    let all = names("m", 150);
    let mut config = SimConfig {
        legacy_members_cap: Some(REALISTIC_MEMBERS_CAP),
        ..sim_config(&all.iter().map(String::as_str).collect::<Vec<_>>())
    };
    config.initial_groups.push(SeedGroup {
        users: all.clone(),
        ..SeedGroup::new("Big", "admin")
    });
    let sim = start_sim(config).await;
    let dir = Workdir::new();
    // The last five, alphabetically, left.
    let roster = dir.write("r.csv", &roster_of("Big", &all[..145]));
    let results = dir.path("r.results.csv");
    let mut config = import_config(&sim, &roster, &results);
    config.plan.sync = true;
    assert_exit(&run_import(config).await, Exit::Success);
    assert_eq!(members_of(&sim, "Big").0, all[..145]);
}

/// Usernames spelled differently from the portal (`User000001` for `user000001`): each is sent
/// once more in the portal's spelling. Whether the portal refuses the other spelling in
/// `notAdded` or by failing the whole call is UNVERIFIED: both are tested.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roster_spellings_are_sent_again_as_the_portal_spells_them() {
    for strict in [false, true] {
        let sim = start_sim(SimConfig {
            seed_users: 60,
            exact_case: true,
            strict_chunks: strict,
            ..SimConfig::default()
        })
        .await;
        let users: Vec<String> = (1..=60)
            .map(|i| match i % 3 {
                0 => format!("User{i:06}"),
                _ => format!("user{i:06}"),
            })
            .collect();
        let dir = Workdir::new();
        let roster = dir.write("r.csv", &roster_of("Cased", &users));
        let results = dir.path("r.results.csv");
        let outcome = run_import(import_config(&sim, &roster, &results)).await;
        assert_exit(&outcome, Exit::Success);
        let rows = read_results(&results);
        assert!(
            rows.iter().all(|r| r.status == "added"),
            "strict {strict}: {:?}",
            status_counts(&rows)
        );
        assert_eq!(members_of(&sim, "Cased").0.len(), 60);
        // And the re-run knows them all.
        let outcome = run_import(import_config(&sim, &roster, &results)).await;
        assert_exit(&outcome, Exit::Success);
        assert!(
            read_results(&results)
                .iter()
                .all(|r| r.status == "already_member")
        );
    }
}

/// A title search that finds nothing (a title of stop-words may match nothing in a real
/// portal's index) is not proof: the org sweep finds the existing group, nothing is created.
/// A scripted portal, because the simulator's search has no stop-words.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_title_search_miss_is_confirmed_by_the_org_sweep() {
    const TARGET: &str = "0123456789abcdef0123456789abcdef";
    let privileges = json!(["portal:user:createGroup", "portal:admin:assignToGroups"]);
    let mock = MockPortal::start(move |s, _| {
        let me = json!({"username": "admin", "orgId": "ORG1", "role": "org_admin",
            "privileges": privileges.clone()});
        match s.endpoint.as_str() {
            "generateToken" => token_reply("tok", Duration::from_secs(3600)),
            "portals/self" => Reply::json(json!({"id": "ORG1", "user": me})),
            "community/self" => Reply::json(json!({"groups": [], "username": "admin",
                "orgId": "ORG1", "role": "org_admin", "privileges": me["privileges"]})),
            // The index knows no word of the title…
            "community/groups" if s.param("q").unwrap_or("").contains("title:") => {
                Reply::json(json!({"total": 0, "nextStart": -1, "results": []}))
            }
            // …but the organization's groups include it: 150 of them, 100 a page.
            "community/groups" => {
                let start: usize = s.param("start").unwrap().parse().unwrap();
                let all: Vec<serde_json::Value> = (0..149)
                    .map(|i| {
                        json!({"id": format!("{i:032x}"), "title": format!("Filler {i}"),
                        "owner": "other", "orgId": "ORG1"})
                    })
                    .chain([
                        json!({"id": TARGET, "title": "The Of And", "owner": "other",
                        "orgId": "ORG1"}),
                    ])
                    .collect();
                let page: Vec<_> = all.iter().skip(start - 1).take(100).cloned().collect();
                let next = if start + 100 <= all.len() {
                    start as i64 + 100
                } else {
                    -1
                };
                Reply::json(json!({"total": all.len(), "nextStart": next, "results": page}))
            }
            e if e.ends_with("/userList") => Reply::json(json!({"owner": "other",
                "nextStart": -1, "users": [{"username": "other", "memberType": "owner"}]})),
            e if e.ends_with("/addUsers") => Reply::json(json!({"notAdded": []})),
            "community/createGroup" => Reply::json(json!({"success": true,
                "group": {"id": "f".repeat(32), "title": "The Of And", "owner": "admin"}})),
            _ => Reply::html(404, "<html>not here</html>"),
        }
    })
    .await;
    let dir = Workdir::new();
    let roster = dir.write("r.csv", "group,username\nThe Of And,amy\n");
    let results = dir.path("r.results.csv");
    let outcome = run_import(import_config_at(&mock.url, &roster, &results)).await;
    assert_exit(&outcome, Exit::Success);
    let rows = read_results(&results);
    assert_eq!(
        (
            rows[0].status.as_str(),
            rows[0].group_status.as_str(),
            rows[0].group_id.as_str()
        ),
        ("added", "existing", TARGET)
    );
    assert_eq!(mock.count("community/createGroup"), 0);
}
