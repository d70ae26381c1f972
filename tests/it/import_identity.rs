//! People named by e-mail address or identity-provider (SAML) name (product spec §2.4), and
//! `--check-users` (§1): resolution through the organization's directory, read once and only
//! when needed; unknown and ambiguous identifiers; callers who may not read the directory;
//! `--sync` with resolved and unresolved rows.

use crate::support::*;
use bulk_groups::config::ImportConfig;
use bulk_groups::exit::Exit;
use bulk_groups::portal::Credentials;
use bulk_groups::roster::MatchBy;
use bulk_groups::sim::{PrivilegesIn, RunningSim, SeedGroup, SimConfig, SimUser};

/// The directory read (`portals/self/users`) as the simulator counted it.
const DIRECTORY: &str = "portals/self/users";

fn person(username: &str, email: Option<&str>, idp: Option<&str>) -> SimUser {
    SimUser {
        password: Some(format!("pw-{username}")),
        email: email.map(Into::into),
        idp_username: idp.map(Into::into),
        ..SimUser::new(username)
    }
}

/// ann (ann@uni.edu, SAML `ann.saml`), bob and bob2 (both shared@uni.edu), a user whose
/// username is an e-mail address (dana@uni.edu), eve (whose e-mail is that same address), a
/// teacher who is no administrator, zed, and fay (whose SAML name looks like an e-mail).
fn people() -> Vec<SimUser> {
    vec![
        person("ann", Some("ann@uni.edu"), Some("ann.saml")),
        person("bob", Some("shared@uni.edu"), None),
        person("bob2", Some("Shared@Uni.edu"), None),
        person("dana@uni.edu", Some("dana@home.example"), None),
        person("eve", Some("dana@uni.edu"), None),
        person("teacher", None, None),
        person("zed", Some("zed@uni.edu"), None),
        person("fay", Some("fay@home.example"), Some("fay@sso.uni.edu")),
    ]
}

async fn sim_with(realism: Realism, tweak: impl FnOnce(&mut SimConfig)) -> RunningSim {
    let mut config = SimConfig {
        users: people(),
        ..SimConfig::default()
    };
    tweak(&mut config);
    start_sim(realism.apply(config)).await
}

fn directory_reads(sim: &RunningSim) -> u64 {
    sim.stats().by_endpoint[DIRECTORY]
}

fn endpoint(sim: &RunningSim, key: &str) -> u64 {
    sim.stats().by_endpoint[key]
}

/// An import of `text` as the admin; returns its outcome and rows keyed by line.
async fn import(
    sim: &RunningSim,
    text: &str,
    tweak: impl FnOnce(&mut ImportConfig),
) -> (RunOutcomeAndRows, Workdir) {
    let dir = Workdir::new();
    let roster = dir.write("r.csv", text);
    let results = dir.path("r.results.csv");
    let mut config = import_config(sim, &roster, &results);
    tweak(&mut config);
    let outcome = run_import(config).await;
    let rows = read_results(&results);
    (
        RunOutcomeAndRows {
            outcome,
            lines: by_line(&rows),
            rows,
        },
        dir,
    )
}

struct RunOutcomeAndRows {
    outcome: bulk_groups::cmd::import::RunOutcome,
    lines: std::collections::BTreeMap<u64, Res>,
    rows: Vec<Res>,
}

fn as_teacher(config: &mut ImportConfig) {
    config.credentials = Credentials::Password {
        username: "teacher".into(),
        password: "pw-teacher".to_owned().into(),
    };
}

on_both_portals! {
async fn e_mails_resolve_to_one_member_or_say_none_or_several(realism: Realism) {
    let sim = sim_with(realism, |_| {}).await;
    let roster = "group,username\nClass,ann@uni.edu\nClass,nobody@uni.edu\nClass,shared@uni.edu\nClass,ANN@UNI.EDU\n";
    let (run, _dir) = import(&sim, roster, |_| {}).await;
    assert_exit(&run.outcome, Exit::RowsNeedAttention);
    let ann = &run.lines[&2];
    assert_eq!(
        (ann.status.as_str(), ann.username.as_str(), ann.portal_username.as_str()),
        ("added", "ann@uni.edu", "ann")
    );
    assert_eq!(run.lines[&3].status, "not_added");
    assert_eq!(
        run.lines[&3].reason,
        "no member of this organization has the e-mail 'nobody@uni.edu'"
    );
    assert_eq!(run.lines[&3].portal_username, "");
    assert_eq!(run.lines[&4].status, "not_added");
    assert_eq!(
        run.lines[&4].reason,
        "2 members have the e-mail 'shared@uni.edu'; use the username"
    );
    // The same address in other letters is the same person: a duplicate, not a second add.
    assert_eq!(run.lines[&5].status, "duplicate");
    assert_eq!(members_of(&sim, "Class").0, ["ann"]);
    assert_eq!(directory_reads(&sim), 1, "one page holds the whole directory");
    assert_eq!(endpoint(&sim, "addUsers"), 1, "unresolved rows are never sent");
}
}

on_both_portals! {
async fn identity_provider_names_resolve_with_match_by_idp(realism: Realism) {
    let sim = sim_with(realism, |_| {}).await;
    let roster = "group,username\nClass,ANN.saml\nClass,ghost.saml\n";
    let (run, _dir) = import(&sim, roster, |c| c.roster_options.match_by = MatchBy::Idp).await;
    assert_exit(&run.outcome, Exit::RowsNeedAttention);
    assert_eq!(
        (run.lines[&2].status.as_str(), run.lines[&2].portal_username.as_str()),
        ("added", "ann")
    );
    assert_eq!(
        run.lines[&3].reason,
        "no member of this organization has the identity-provider name 'ghost.saml'"
    );
    assert_eq!(members_of(&sim, "Class").0, ["ann"]);
}
}

on_both_portals! {
async fn match_by_email_resolves_even_cells_that_are_usernames(realism: Realism) {
    let sim = sim_with(realism, |_| {}).await;
    // With --match-by email, "dana@uni.edu" is eve's e-mail, not the user named so.
    let roster = "group,username\nClass,dana@uni.edu\n";
    let (run, _dir) = import(&sim, roster, |c| c.roster_options.match_by = MatchBy::Email).await;
    assert_exit(&run.outcome, Exit::Success);
    assert_eq!(run.lines[&2].portal_username, "eve");
    assert_eq!(members_of(&sim, "Class").0, ["eve"]);
}
}

on_both_portals! {
async fn auto_leaves_real_usernames_alone(realism: Realism) {
    let sim = sim_with(realism, |_| {}).await;
    // No cell looks like an e-mail address: the directory is never read.
    let (run, _dir) = import(&sim, "group,username\nClass,ann\nClass,bob\n", |_| {}).await;
    assert_exit(&run.outcome, Exit::Success);
    assert_eq!(directory_reads(&sim), 0);
    assert!(run.rows.iter().all(|r| r.status == "added"));
    // A username that looks like an e-mail address stays that user, although another member
    // has it as e-mail.
    let (run, _dir) = import(&sim, "group,username\nOther,dana@uni.edu\n", |_| {}).await;
    assert_exit(&run.outcome, Exit::Success);
    assert_eq!(run.lines[&2].portal_username, "dana@uni.edu");
    assert_eq!(members_of(&sim, "Other").0, ["dana@uni.edu"]);
    assert_eq!(directory_reads(&sim), 1);
    // An address no member has as e-mail may be a SAML name.
    let (run, _dir) = import(&sim, "group,username\nThird,FAY@sso.uni.edu\n", |_| {}).await;
    assert_eq!(run.lines[&2].portal_username, "fay");
}
}

on_both_portals! {
async fn a_username_and_an_e_mail_of_one_person_in_one_group_are_one_row(realism: Realism) {
    let sim = sim_with(realism, |_| {}).await;
    let roster = "group,username\nClass,ann\nClass,ann@uni.edu\nLab,zed@uni.edu\nLab,ZED\n";
    let (run, _dir) = import(&sim, roster, |_| {}).await;
    assert_exit(&run.outcome, Exit::Success);
    let statuses: Vec<&str> = run.lines.values().map(|r| r.status.as_str()).collect();
    assert_eq!(statuses, ["added", "duplicate", "added", "duplicate"]);
    assert!(run.lines[&3].reason.contains("same user (ann)"), "{}", run.lines[&3].reason);
    assert_eq!(endpoint(&sim, "addUsers"), 2, "one call per group, each user once");
}
}

/// `bulk-groups import` of `roster` (text) run as a process against `sim`, signed in as
/// `account` (username, password), with `extra` arguments; for what it says on stderr. The
/// directory holds `r.csv` and its results `r.results.csv`.
async fn import_by_binary(
    sim: &RunningSim,
    roster: &str,
    (username, password): (&str, &str),
    extra: &[&str],
) -> (std::process::Output, Workdir) {
    let dir = Workdir::new();
    let mut cmd = bulk_groups_cmd();
    cmd.arg("import")
        .arg(dir.write("r.csv", roster))
        .args(["--portal", &sim.url, "--results"])
        .arg(dir.path("r.results.csv"))
        .args(["--username", username, "--progress", "never"])
        .args(extra)
        .env("ARCGIS_PASSWORD", password);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    (out, dir)
}

/// A caller who may not read the directory: told once, and cells are taken as written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_view_users_privilege_one_warning_and_cells_are_usernames() {
    let sim = sim_with(Realism::Friendly, |c| c.privileges_in = PrivilegesIn::None).await;
    let (out, dir) = import_by_binary(
        &sim,
        "group,username\nClass,ann@uni.edu\nClass,zed@uni.edu\nClass,bob\n",
        ("teacher", "pw-teacher"),
        &[],
    )
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr
            .matches("may not read the organization's user directory")
            .count(),
        1,
        "{stderr}"
    );
    assert_eq!(directory_reads(&sim), 1, "asked once, refused once");
    let rows = read_results(&dir.path("r.results.csv"));
    let lines = by_line(&rows);
    assert_eq!(lines[&4].status, "added");
    for line in [2, 3] {
        // Sent as usernames: the portal knows no such user.
        assert_eq!(lines[&line].status, "not_added");
        assert!(
            lines[&line].reason.starts_with("user does not exist"),
            "{}",
            lines[&line].reason
        );
    }
}

on_both_portals! {
async fn check_users_writes_nothing_for_unknown_users_and_creates_no_group_for_them(realism: Realism) {
    let sim = sim_with(realism, |_| {}).await;
    let roster = "group,username\nKnown,ann\nKnown,ghost\nKnown,nobody@uni.edu\nGhosts,ghost\nGhosts,ghost2\n";
    let (run, _dir) = import(&sim, roster, |c| c.plan.check_users = true).await;
    assert_exit(&run.outcome, Exit::RowsNeedAttention);
    assert_eq!(
        (run.lines[&2].status.as_str(), run.lines[&2].portal_username.as_str()),
        ("added", "ann")
    );
    for line in [3, 5, 6] {
        let row = &run.lines[&line];
        assert_eq!(row.status, "not_added");
        assert_eq!(
            row.reason,
            "user does not exist in this portal or belongs to another organization"
        );
        assert_eq!((row.group_id.as_str(), row.group_status.as_str()), ("", ""));
    }
    assert_eq!(
        run.lines[&4].reason,
        "no member of this organization has the e-mail 'nobody@uni.edu'"
    );
    let titles: Vec<String> = sim.state().groups.iter().map(|g| g.title.clone()).collect();
    assert_eq!(titles, ["Known"], "a group nobody could join is not created");
    let stats = sim.stats();
    assert_eq!(stats.writes, 2, "one createGroup, one addUsers naming ann only");
    assert_eq!(stats.by_endpoint["addUsers"], 1);
    assert_eq!(directory_reads(&sim), 1, "the check is the directory, read once");
    assert_eq!(stats.by_endpoint["community/users"], 0, "no lookups one by one");
}
}

on_both_portals! {
async fn check_users_leaves_users_of_other_organizations_to_invite_external(realism: Realism) {
    let sim = sim_with(realism, |c| {
        c.users.push(SimUser {
            org: Some("partner-org".into()),
            ..SimUser::new("partner")
        });
    })
    .await;
    let roster = "group,username\nJoint,ann@uni.edu\nJoint,partner\n";
    let (run, _dir) = import(&sim, roster, |c| {
        c.plan.check_users = true;
        c.plan.invite_external = true;
    })
    .await;
    assert_exit(&run.outcome, Exit::Success);
    assert_eq!(run.lines[&2].status, "added");
    assert_eq!(run.lines[&3].status, "invited");
    assert_eq!(sim.stats().by_endpoint["invite"], 1);
}
}

/// `--check-users` for a caller who may not read the directory: each user is looked up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_users_without_the_directory_looks_each_user_up_once() {
    let sim = sim_with(Realism::Friendly, |c| c.privileges_in = PrivilegesIn::None).await;
    let roster = "group,username\nMine,ann\nMine,ghost\nMine,ANN\nOther,ghost\nOther,zed\n";
    let (run, _dir) = import(&sim, roster, |c| {
        as_teacher(c);
        c.plan.check_users = true;
    })
    .await;
    assert_exit(&run.outcome, Exit::RowsNeedAttention);
    let statuses: Vec<&str> = run.lines.values().map(|r| r.status.as_str()).collect();
    assert_eq!(
        statuses,
        ["added", "not_added", "duplicate", "not_added", "added"]
    );
    assert_eq!(
        run.lines[&3].reason,
        "user does not exist in this portal or belongs to another organization and is not visible"
    );
    assert_eq!(
        endpoint(&sim, "community/users"),
        3,
        "ann, ghost and zed, once each"
    );
    assert_eq!(
        sim.stats().by_endpoint["addUsers"],
        2,
        "ghost is never sent"
    );
}

/// A team owned by the admin with plain members ann, p1, p2 and zed.
async fn team_sim(realism: Realism) -> RunningSim {
    sim_with(realism, |c| {
        c.users.push(person("p1", None, None));
        c.users.push(person("p2", None, None));
        c.initial_groups.push(SeedGroup {
            users: ["ann", "p1", "p2", "zed"].map(String::from).to_vec(),
            ..SeedGroup::new("Team", "admin")
        });
    })
    .await
}

on_both_portals! {
async fn sync_keeps_a_member_the_roster_names_by_e_mail(realism: Realism) {
    let sim = team_sim(realism).await;
    let roster = "group,username\nTeam,p1\nTeam,p2\nTeam,ANN@uni.edu\n";
    let (run, _dir) = import(&sim, roster, |c| c.plan.sync = true).await;
    assert_exit(&run.outcome, Exit::Success);
    assert_eq!(
        (run.lines[&4].status.as_str(), run.lines[&4].portal_username.as_str()),
        ("already_member", "ann")
    );
    let removed: Vec<&str> = run
        .rows
        .iter()
        .filter(|r| r.status == "removed")
        .map(|r| r.username.as_str())
        .collect();
    assert_eq!(removed, ["zed"]);
    assert_eq!(members_of(&sim, "Team").0, ["ann", "p1", "p2"]);
}
}

on_both_portals! {
async fn sync_is_blocked_by_an_e_mail_nobody_has(realism: Realism) {
    let sim = team_sim(realism).await;
    let roster = "group,username\nTeam,p1\nTeam,p2\nTeam,ann\nTeam,zed.typo@uni.edu\n";
    let (run, _dir) = import(&sim, roster, |c| c.plan.sync = true).await;
    assert_exit(&run.outcome, Exit::RowsNeedAttention);
    assert_eq!(run.lines[&5].status, "not_added");
    let blocked: Vec<&Res> = run.rows.iter().filter(|r| r.line.is_empty()).collect();
    assert_eq!(blocked.len(), 1);
    assert_eq!(
        (blocked[0].username.as_str(), blocked[0].status.as_str()),
        ("zed", "not_removed")
    );
    assert!(blocked[0].reason.contains("1 roster row(s)"), "{}", blocked[0].reason);
    assert_eq!(members_of(&sim, "Team").0, ["ann", "p1", "p2", "zed"]);
    assert_eq!(sim.stats().by_endpoint["removeUsers"], 0);
}
}

on_both_portals! {
async fn a_dry_run_that_reads_the_directory_checks_every_user(realism: Realism) {
    let sim = sim_with(realism, |_| {}).await;
    let roster = "group,username\nClass,ann@uni.edu\nClass,ghost\nClass,zed\n";
    let (run, _dir) = import(&sim, roster, |c| c.plan.dry_run = true).await;
    assert_exit(&run.outcome, Exit::RowsNeedAttention);
    let statuses: Vec<&str> = run.lines.values().map(|r| r.status.as_str()).collect();
    assert_eq!(statuses, ["would_add", "not_added", "would_add"]);
    assert_eq!(run.lines[&4].portal_username, "zed");
    assert_eq!(sim.stats().writes, 0);
}
}

on_both_portals! {
async fn a_directory_of_thousands_is_read_in_one_request_per_hundred(realism: Realism) {
    let sim = sim_with(realism, |c| c.seed_users = 2_450).await;
    // The admin, the people above and the seeded users.
    let members = 1 + people().len() as u64 + 2_450;
    let roster = "group,username\nBig,user000007@example.edu\nBig,USER002450@example.edu\n";
    let (run, _dir) = import(&sim, roster, |_| {}).await;
    assert_exit(&run.outcome, Exit::Success);
    assert_eq!(directory_reads(&sim), members.div_ceil(100));
    assert_eq!(members_of(&sim, "Big").0, ["user000007", "user002450"]);
    assert!(run.rows.iter().all(|r| r.status == "added"));
}
}

mod directory_paging {
    use crate::support::mock_portal::{MockPortal, Reply, Seen};
    use bulk_groups::portal::{Credentials, PortalClient, PortalUrl};
    use serde_json::json;

    /// A directory of `members` users, served 100 a page from `start`; `with_total: false`
    /// leaves `total` out of the reply.
    fn directory_page(s: &Seen, members: u64, with_total: bool) -> Reply {
        let start: u64 = s.param("start").unwrap().parse().unwrap();
        let num: u64 = s.param("num").unwrap().parse().unwrap();
        let end = (start + num - 1).min(members);
        let users: Vec<_> = (start..=end)
            .map(|i| json!({"username": format!("u{i:04}"), "email": format!("u{i}@x.edu")}))
            .collect();
        let next = if end < members { end as i64 + 1 } else { -1 };
        let mut reply = json!({"start": start, "num": num, "nextStart": next, "users": users});
        if with_total {
            reply["total"] = json!(members);
        }
        Reply::json(reply)
    }

    async fn read(members: u64, with_total: bool) -> (Vec<String>, MockPortal) {
        let mock = MockPortal::start(move |s, _| match s.endpoint.as_str() {
            "portals/self/users" => directory_page(s, members, with_total),
            _ => Reply::html(404, "<html>not here</html>"),
        })
        .await;
        let client = PortalClient::connect(
            PortalUrl::parse(&mock.url).unwrap(),
            Credentials::Token("key".to_owned().into()),
            crate::support::import_config_at(&mock.url, "r".as_ref(), "x".as_ref()).client,
        )
        .await
        .unwrap();
        let mut names = Vec::new();
        client
            .org_directory(|users| names.extend(users.into_iter().map(|u| u.username)))
            .await
            .unwrap();
        names.sort();
        (names, mock)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_member_once_in_one_request_per_hundred() {
        let (names, mock) = read(1_234, true).await;
        assert_eq!(names.len(), 1_234);
        names.windows(2).for_each(|w| assert!(w[0] < w[1], "{w:?}"));
        assert_eq!(mock.count("portals/self/users"), 13);
        let seen = mock.seen();
        assert!(seen.iter().all(|s| s.param("num") == Some("100")));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn without_total_the_pages_are_followed_one_by_one() {
        let (names, mock) = read(250, false).await;
        assert_eq!(names.len(), 250);
        assert_eq!(mock.count("portals/self/users"), 3);
    }
}

/// Issue 13's example: the student-information-system export, e-mails and all, imports with one
/// command line (its profile) into a portal holding the sample users.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sis_export_imports_by_e_mail_with_its_profile() {
    let samples = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples");
    let users = std::fs::read_to_string(samples.join("users.csv")).unwrap();
    let sim = start_sim(SimConfig {
        users: bulk_groups::sim::parse_users_csv(&users).unwrap(),
        ..SimConfig::default()
    })
    .await;
    let dir = Workdir::new();
    let results = dir.path("sis.results.csv");
    let (url, out_path) = (sim.url.clone(), results.clone());
    let out = tokio::task::spawn_blocking(move || {
        bulk_groups_cmd()
            .current_dir(&samples)
            .args(["import", "sis-export.csv", "--profile", "sis.toml"])
            .args([
                "--portal",
                &url,
                "--username",
                "admin",
                "--progress",
                "never",
            ])
            .arg("--results")
            .arg(&out_path)
            .env("ARCGIS_PASSWORD", "admin-password")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = read_results(&results);
    assert_eq!(rows.len(), 9);
    assert!(rows.iter().all(|r| r.status == "added"), "{rows:?}");
    let ana = rows
        .iter()
        .find(|r| r.username == "a.alvarez@uni.example.edu")
        .unwrap();
    assert_eq!(ana.portal_username, "a.alvarez_uni");
    let (members, admins) = members_of(&sim, "GEOG 101 A - Spring 2026");
    assert_eq!(members, ["a.alvarez_uni", "c.dubois_uni", "e.haddad_uni"]);
    assert_eq!(admins, ["prof.okafor_uni", "ta.mbeki_uni"]);
    assert_eq!(directory_reads(&sim), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_nobody_could_join_is_named_as_not_created() {
    let sim = sim_with(Realism::Friendly, |_| {}).await;
    let (out, _dir) = import_by_binary(
        &sim,
        "group,username\nKnown,ann\nGhosts,ghost\nGhosts,nobody@uni.edu\n",
        ("admin", "admin-password"),
        &["--check-users"],
    )
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let said: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("group not created"))
        .collect();
    assert_eq!(said.len(), 1, "{stderr}");
    assert!(said[0].contains("Ghosts"), "{stderr}");
}

on_both_portals! {
async fn an_owner_named_by_e_mail_like_the_rows_gets_the_group(realism: Realism) {
    let sim = sim_with(realism, |_| {}).await;
    let roster = "group,username,role,owner\nCourse,zed@uni.edu,admin,zed@uni.edu\nCourse,ann@uni.edu,member,\n";
    let (run, _dir) = import(&sim, roster, |_| {}).await;
    assert_exit(&run.outcome, Exit::Success);
    let owner_row = &run.lines[&2];
    assert_eq!(
        (owner_row.status.as_str(), owner_row.reason.as_str(), owner_row.portal_username.as_str()),
        ("added", "owner", "zed")
    );
    let state = sim.state();
    let course = state.group("Course").unwrap();
    assert_eq!(course.owner, "zed");
    assert_eq!(course.users, ["ann"]);
}
}
