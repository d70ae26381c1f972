//! portal-sim conformance for the realism switches (`--realistic` and its parts) and for the
//! always-on behaviours of a strict portal: referer-bound tokens, other-org visibility, the
//! paged member list, the org directory, reassign and invitations.

use std::time::{Duration, Instant};

use crate::support::sim_client::{REFERER, Sim, config, decode, seed_names, start};
use bulk_groups::sim::{
    PrivilegesIn, REALISTIC_MEMBERS_CAP, SeedGroup, SimConfig, SimUser, ThrottleStatus, UserAccess,
};
use serde_json::{Value, json};

/// The test cast plus `seed` users `user000001…`.
fn seeded(seed: u32) -> SimConfig {
    SimConfig {
        seed_users: seed,
        ..config()
    }
}

/// The names of a JSON array of strings.
fn names(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect()
}

/// A group owned by the admin, with `users` as plain members (seed data).
fn with_group(mut c: SimConfig, users: &[&str]) -> SimConfig {
    c.initial_groups.push(SeedGroup {
        users: users.iter().map(|u| (*u).to_owned()).collect(),
        ..SeedGroup::new("Crew", "admin")
    });
    c
}

fn crew(s: &Sim) -> bulk_groups::sim::GroupState {
    s.sim.state().group("Crew").expect("Crew").clone()
}

// ----- referer-bound tokens ----------------------------------------------------------------

#[tokio::test]
async fn a_referer_bound_token_needs_that_referer() {
    let s = start(config()).await;
    let bound = s.token("alice", "alice-pw").await; // client=referer, referer=REFERER
    let self_with = |referer: Option<&'static str>, token: String| {
        let mut req = s
            .http
            .get(s.rest("community/self"))
            .query(&[("f", "json"), ("token", token.as_str())]);
        if let Some(r) = referer {
            req = req.header(reqwest::header::REFERER, r);
        }
        async move { decode(req.send().await.unwrap()).await }
    };
    assert_eq!(
        self_with(Some(REFERER), bound.clone()).await.body["username"],
        "alice"
    );
    let invalid = json!({"error":{"code":498,"message":"Invalid token.","details":[]}});
    assert_eq!(
        self_with(Some("http://elsewhere"), bound.clone())
            .await
            .body,
        invalid
    );
    // No Referer at all is another referer too.
    let bare = reqwest::Client::builder().no_proxy().build().unwrap();
    let r = bare
        .get(s.rest("community/self"))
        .query(&[("f", "json"), ("token", bound.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(decode(r).await.body, invalid);

    // A token issued without client=referer is not bound.
    let free = s
        .post(
            "generateToken",
            None,
            &[("username", "alice"), ("password", "alice-pw")],
        )
        .await
        .body["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = bare
        .get(s.rest("community/self"))
        .query(&[("f", "json"), ("token", free.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(decode(r).await.body["username"], "alice");

    // client=referer without a referer is refused.
    let r = s
        .post(
            "generateToken",
            None,
            &[
                ("username", "alice"),
                ("password", "alice-pw"),
                ("client", "referer"),
            ],
        )
        .await;
    assert_eq!(r.body["error"]["message"], "Unable to generate token.");
}

// ----- --strict-chunks and --exact-case ----------------------------------------------------

#[tokio::test]
async fn without_strict_chunks_an_unknown_name_is_only_not_added() {
    let s = start(with_group(config(), &[])).await;
    let t = s.admin().await;
    let id = crew(&s).id;
    let r = s.add_users(&t, &id, "alice,ghost,bob").await;
    assert_eq!(r.body, json!({"notAdded": ["ghost"]}));
    assert_eq!(crew(&s).users, ["alice", "bob"]);
}

#[tokio::test]
async fn strict_chunks_fail_the_whole_call_and_apply_nothing() {
    let s = start(with_group(
        SimConfig {
            strict_chunks: true,
            ..config()
        },
        &[],
    ))
    .await;
    let t = s.admin().await;
    let id = crew(&s).id;
    let r = s.add_users(&t, &id, "alice,ghost,bob").await;
    assert_eq!(r.error_code(), Some(400), "{}", r.text);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("'ghost'"),
        "{}",
        r.text
    );
    assert_eq!(
        r.body["error"]["details"],
        json!(["User 'ghost' does not exist or is inaccessible."])
    );
    assert!(crew(&s).users.is_empty(), "nothing applied");
    assert_eq!(
        s.sim.stats().writes,
        1,
        "the refused call still reached the state"
    );
    // Refusals other than "does not exist" stay per user.
    let r = s.add_users(&t, &id, "alice,outsider").await;
    assert_eq!(r.body, json!({"notAdded": ["outsider"]}));
    assert_eq!(crew(&s).users, ["alice"]);
}

#[tokio::test]
async fn exact_case_accepts_only_the_portals_spelling() {
    let s = start(with_group(
        SimConfig {
            exact_case: true,
            ..config()
        },
        &["bob"],
    ))
    .await;
    let t = s.admin().await;
    let id = crew(&s).id;
    let r = s.add_users(&t, &id, "ALICE,carol").await;
    assert_eq!(r.body, json!({"notAdded": ["ALICE"]}));
    let r = s
        .post(
            &format!("community/groups/{id}/removeUsers"),
            Some(&t),
            &[("users", "Bob,carol")],
        )
        .await;
    assert_eq!(r.body, json!({"notRemoved": ["Bob"]}));
    assert_eq!(crew(&s).users, ["bob"]);

    // Without the switch, any spelling names the account.
    let s = start(with_group(config(), &["bob"])).await;
    let t = s.admin().await;
    let id = crew(&s).id;
    assert_eq!(
        s.add_users(&t, &id, "ALICE").await.body,
        json!({"notAdded": []})
    );
    assert_eq!(crew(&s).users, ["alice", "bob"]);
}

#[tokio::test]
async fn exact_case_with_strict_chunks_fails_the_whole_call() {
    let s = start(with_group(
        SimConfig {
            exact_case: true,
            strict_chunks: true,
            ..config()
        },
        &[],
    ))
    .await;
    let t = s.admin().await;
    let id = crew(&s).id;
    let r = s.add_users(&t, &id, "bob,Alice").await;
    assert_eq!(r.error_code(), Some(400));
    assert!(r.text.contains("'Alice'"), "{}", r.text);
    assert!(crew(&s).users.is_empty());
}

// ----- --legacy-members-cap and userList -----------------------------------------------------

/// Adds `user000001…user{n}` to the group in calls of 25.
async fn fill(s: &Sim, token: &str, id: &str, n: usize) {
    for from in (1..=n).step_by(25) {
        let r = s
            .add_users(token, id, &seed_names(from, 25.min(n + 1 - from)))
            .await;
        assert_eq!(r.body, json!({"notAdded": []}), "{}", r.text);
    }
}

#[tokio::test]
async fn legacy_members_cap_truncates_each_role_silently() {
    let s = start(with_group(
        SimConfig {
            legacy_members_cap: Some(100),
            ..seeded(125)
        },
        &[],
    ))
    .await;
    let t = s.admin().await;
    let id = crew(&s).id;
    fill(&s, &t, &id, 125).await;
    let r = s
        .get(&format!("community/groups/{id}/users"), Some(&t), &[])
        .await;
    assert_eq!(names(&r.body["users"]).len(), 100);
    assert_eq!(names(&r.body["admins"]), ["admin"]);
    assert!(r.body.get("error").is_none() && r.body.get("total").is_none());
    // The state, and userList, still have everyone.
    assert_eq!(crew(&s).users.len(), 125);
    let list = s
        .get(&format!("community/groups/{id}/userList"), Some(&t), &[])
        .await;
    assert_eq!(list.body["total"], 126);
}

#[tokio::test]
async fn user_list_pages_over_250_members() {
    let s = start(with_group(seeded(250), &[])).await;
    let t = s.admin().await;
    let id = crew(&s).id;
    fill(&s, &t, &id, 250).await;
    let path = format!("community/groups/{id}/userList");
    let mut seen = Vec::new();
    let mut start_at = 1;
    let mut pages = 0;
    while start_at != -1 {
        let page = s
            .get(
                &path,
                Some(&t),
                &[("start", &start_at.to_string()), ("num", "500")],
            )
            .await
            .body;
        assert_eq!(page["total"], 251);
        assert_eq!(page["num"], 100, "num is capped at 100");
        for u in page["users"].as_array().unwrap() {
            assert!(u["joined"].as_i64().unwrap() > 0);
            assert!(u["fullName"].is_string());
            seen.push((
                u["username"].as_str().unwrap().to_owned(),
                u["memberType"].as_str().unwrap().to_owned(),
            ));
        }
        start_at = page["nextStart"].as_i64().unwrap();
        pages += 1;
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 251);
    assert_eq!(seen[0], ("admin".to_owned(), "owner".to_owned()));
    assert!(seen[1..].iter().all(|(_, t)| t == "member"));
    let mut unique: Vec<&String> = seen.iter().map(|(u, _)| u).collect();
    unique.dedup();
    assert_eq!(unique.len(), 251);
}

// ----- --privileges-in -----------------------------------------------------------------------

#[tokio::test]
async fn privileges_appear_where_configured() {
    for (place, in_portal, in_community) in [
        (PrivilegesIn::Both, true, true),
        (PrivilegesIn::PortalsSelf, true, false),
        (PrivilegesIn::CommunitySelf, false, true),
        (PrivilegesIn::None, false, false),
    ] {
        let s = start(SimConfig {
            privileges_in: place,
            ..config()
        })
        .await;
        let t = s.admin().await;
        let portal = s.get("portals/self", Some(&t), &[]).await.body;
        let community = s.get("community/self", Some(&t), &[]).await.body;
        assert_eq!(portal["user"]["username"], "admin");
        assert_eq!(community["username"], "admin");
        assert_eq!(
            portal["user"]["privileges"].is_array(),
            in_portal,
            "{place:?}"
        );
        assert_eq!(
            community["privileges"].is_array(),
            in_community,
            "{place:?}"
        );
        assert_eq!(portal["user"]["role"], "org_admin", "the role stays");
    }
}

// ----- --cool-off and --throttle-status ------------------------------------------------------

async fn info(s: &Sim) -> crate::support::sim_client::Reply {
    s.get("info", None, &[]).await
}

#[tokio::test]
async fn cool_off_refuses_everything_for_its_duration_then_accepts() {
    let cool_off = Duration::from_millis(300);
    let s = start(SimConfig {
        rate_limit: Some(3),
        cool_off,
        ..config()
    })
    .await;
    // Trip the limit.
    let mut tripped = None;
    for _ in 0..50 {
        // Taken before sending: the cool-off starts after this instant.
        let sent = Instant::now();
        let r = info(&s).await;
        if r.status != 200 {
            tripped = Some((sent, r));
            break;
        }
    }
    let (tripped_at, r) = tripped.expect("the rate limit trips");
    assert_eq!(r.status, 429);
    assert_eq!(r.error_code(), Some(429));
    assert!(
        r.headers.get("retry-after").is_none(),
        "a cool-off names no time"
    );
    // Every request is refused until the cool-off is over, any endpoint.
    let r = s.post("community/self", None, &[]).await;
    if tripped_at.elapsed() < cool_off {
        assert_eq!(r.status, 429);
    }
    // Then accepted again (polled; the bound only guards against a hang).
    let accepted_at = loop {
        let r = info(&s).await;
        if r.status == 200 {
            break Instant::now();
        }
        assert!(
            tripped_at.elapsed() < Duration::from_secs(20),
            "never accepted again"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        accepted_at - tripped_at >= cool_off,
        "refused for the whole cool-off"
    );
    assert!(s.sim.stats().throttled_429 >= 2);
    // /__sim/ is never throttled.
    let stats = s
        .http
        .get(format!("{}/__sim/stats", s.sim.url))
        .send()
        .await;
    assert_eq!(stats.unwrap().status(), 200);
}

#[tokio::test]
async fn without_cool_off_the_next_second_is_accepted_with_retry_after() {
    let s = start(SimConfig {
        rate_limit: Some(2),
        ..config()
    })
    .await;
    let replies = [info(&s).await, info(&s).await, info(&s).await];
    let throttled = replies.iter().find(|r| r.status != 200).expect("throttled");
    assert_eq!(throttled.headers["retry-after"], "1");
}

#[tokio::test]
async fn throttle_status_403_says_too_many_requests() {
    let s = start(SimConfig {
        rate_limit: Some(1),
        throttle_status: ThrottleStatus::Forbidden,
        ..config()
    })
    .await;
    let mut replies = Vec::new();
    for _ in 0..3 {
        replies.push(info(&s).await);
    }
    let r = replies.iter().find(|r| r.status != 200).expect("throttled");
    assert_eq!(r.status, 403);
    assert_eq!(r.error_code(), Some(403));
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Too many requests"),
        "{}",
        r.text
    );
    assert!(r.headers.get("retry-after").is_none());
    assert!(s.sim.stats().throttled_429 >= 1, "counted as throttled");
}

// ----- --realistic -------------------------------------------------------------------------

#[test]
fn realistic_sets_every_switch_to_its_harder_variant() {
    let c = SimConfig {
        cool_off: Duration::from_secs(60),
        ..SimConfig::default()
    }
    .realistic();
    assert_eq!(c.legacy_members_cap, Some(REALISTIC_MEMBERS_CAP));
    assert!(c.strict_chunks && c.exact_case && c.reassign_drops_owner);
    assert_eq!(c.privileges_in, PrivilegesIn::PortalsSelf);
    assert_eq!(c.throttle_status, ThrottleStatus::Forbidden);
    assert_eq!(c.cool_off, Duration::from_secs(60), "--cool-off is its own");
    let d = SimConfig::default();
    assert!(d.legacy_members_cap.is_none() && !d.strict_chunks && !d.exact_case);
    assert_eq!(
        (d.privileges_in, d.throttle_status),
        (PrivilegesIn::Both, ThrottleStatus::TooManyRequests)
    );
}

// ----- other-org visibility and the org directory --------------------------------------------

/// The test cast plus: `partner` (another org, public profile, can sign in), `hidden` (home,
/// private profile), `ann` (home, with e-mail and SAML name), and 150 seed users.
fn directory_config() -> SimConfig {
    let mut c = seeded(150);
    c.users.extend([
        SimUser {
            org: Some("elsewhere".to_owned()),
            access: UserAccess::Public,
            password: Some("partner-pw".to_owned()),
            ..SimUser::new("partner")
        },
        SimUser {
            access: UserAccess::Private,
            ..SimUser::new("hidden")
        },
        SimUser {
            email: Some("ann@uni.edu".to_owned()),
            idp_username: Some("ann.idp@uni.edu".to_owned()),
            ..SimUser::new("ann")
        },
    ]);
    c
}

#[tokio::test]
async fn other_orgs_see_only_public_profiles_without_org_role_or_email() {
    let s = start(directory_config()).await;
    let (admin, alice) = (s.admin().await, s.token("alice", "alice-pw").await);
    let user = |token: String, name: &'static str| {
        let s = &s;
        async move {
            s.get(&format!("community/users/{name}"), Some(&token), &[])
                .await
        }
    };
    let not_found = "User does not exist or is inaccessible.";
    // Another org's `org` profile: invisible even to the org admin.
    let r = user(admin.clone(), "outsider").await;
    assert_eq!(r.body["error"]["message"], not_found);
    // Another org's public profile: the anonymous view.
    let partner = user(alice.clone(), "partner").await.body;
    assert_eq!(partner["username"], "partner");
    for field in ["orgId", "role", "email", "privileges", "groups"] {
        assert!(partner.get(field).is_none(), "{field}: {partner}");
    }
    // Its own org's admin sees everything.
    let xadmin = s.token("xadmin", "x-pw").await;
    let full = user(xadmin.clone(), "outsider").await.body;
    assert_eq!(full["role"], "org_user");
    assert!(full["orgId"].as_str().is_some_and(|o| o.len() == 16));
    // A private profile: only the user and their org's admin.
    assert_eq!(
        user(alice.clone(), "hidden").await.body["error"]["message"],
        not_found
    );
    assert_eq!(
        user(admin.clone(), "hidden").await.body["username"],
        "hidden"
    );
    // The same org sees an `org` profile without e-mail; the admin with it.
    let ann = user(alice.clone(), "ann").await.body;
    assert_eq!(
        (ann["orgId"].as_str(), ann.get("email")),
        (Some(bulk_groups::sim::HOME_ORG_ID), None)
    );
    assert_eq!(
        user(admin.clone(), "ann").await.body["email"],
        "ann@uni.edu"
    );
    // User search applies the same rule.
    let found = s
        .get(
            "community/users",
            Some(&alice),
            &[("q", "outsider OR partner")],
        )
        .await
        .body;
    let usernames: Vec<&str> = found["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(usernames, ["partner"]);
}

#[tokio::test]
async fn the_org_directory_pages_and_searches_by_email_and_idp_username() {
    let s = start(directory_config()).await;
    let t = s.admin().await;
    // 150 seed users + admin, alice, bob, carol, nearly_full, hidden, ann (not the other org).
    let mut seen = Vec::new();
    let mut start_at = 1;
    while start_at != -1 {
        let page = s
            .get(
                "portals/self/users",
                Some(&t),
                &[("start", &start_at.to_string()), ("num", "1000")],
            )
            .await
            .body;
        assert_eq!(page["total"], 157);
        assert_eq!(page["num"], 100);
        for u in page["users"].as_array().unwrap() {
            assert_eq!(u["orgId"], bulk_groups::sim::HOME_ORG_ID);
            for field in ["username", "email", "fullName", "role"] {
                assert!(u[field].is_string(), "{field}: {u}");
            }
            assert!(u.get("idpUsername").is_some());
            seen.push(u["username"].as_str().unwrap().to_owned());
        }
        start_at = page["nextStart"].as_i64().unwrap();
    }
    assert_eq!(seen.len(), 157);
    assert!(!seen.iter().any(|u| u == "outsider" || u == "partner"));

    let search = |q: &'static str| {
        let (s, t) = (&s, t.clone());
        async move {
            s.get("portals/self/users/search", Some(&t), &[("q", q)])
                .await
                .body
        }
    };
    let by_email = search("email:user000042@example.edu").await;
    assert_eq!(by_email["total"], 1);
    assert_eq!(by_email["results"][0]["username"], "user000042");
    assert_eq!(by_email["results"][0]["email"], "user000042@example.edu");
    let by_idp = search("idpUsername:ann.idp@uni.edu").await;
    assert_eq!(by_idp["results"][0]["username"], "ann");
    assert_eq!(by_idp["results"][0]["idpUsername"], "ann.idp@uni.edu");
    assert_eq!(search("email:nobody@example.edu").await["total"], 0);
}

#[tokio::test]
async fn the_org_directory_is_for_org_admins_only() {
    let s = start(directory_config()).await;
    let alice = s.token("alice", "alice-pw").await;
    for path in ["portals/self/users", "portals/self/users/search"] {
        let r = s
            .get(path, Some(&alice), &[("q", "email:ann@uni.edu")])
            .await;
        assert_eq!(
            r.body,
            json!({"error":{"code":403,"message":"You do not have permissions to access this resource or perform this operation.","details":[]}}),
            "{path}"
        );
    }
}

// ----- reassign --------------------------------------------------------------------------

async fn reassign(
    s: &Sim,
    token: &str,
    id: &str,
    target: &str,
) -> crate::support::sim_client::Reply {
    s.post(
        &format!("community/groups/{id}/reassign"),
        Some(token),
        &[("targetUsername", target)],
    )
    .await
}

#[tokio::test]
async fn reassign_keeps_the_old_owner_as_a_manager_by_default() {
    let s = start(with_group(config(), &["bob"])).await;
    let t = s.admin().await;
    let id = crew(&s).id;
    let r = reassign(&s, &t, &id, "bob").await;
    assert_eq!(r.body, json!({"success": true, "groupId": id}));
    let g = crew(&s);
    assert_eq!(
        (g.owner.as_str(), g.admins.clone()),
        ("bob", vec!["bob".to_owned(), "admin".to_owned()])
    );
    assert!(g.users.is_empty());
    let list = s
        .get(&format!("community/groups/{id}/userList"), Some(&t), &[])
        .await
        .body;
    assert_eq!(list["owner"], "bob");
    assert_eq!(s.sim.stats().writes, 1);
    assert_eq!(s.sim.stats().by_endpoint["reassign"], 1);
}

#[tokio::test]
async fn reassign_drops_owner_removes_the_old_owner() {
    let s = start(with_group(
        SimConfig {
            reassign_drops_owner: true,
            ..config()
        },
        &[],
    ))
    .await;
    let t = s.admin().await;
    let id = crew(&s).id;
    let r = reassign(&s, &t, &id, "carol").await;
    assert_eq!(r.body["success"], true, "{}", r.text);
    let g = crew(&s);
    assert_eq!(
        (g.owner.as_str(), g.admins.clone()),
        ("carol", vec!["carol".to_owned()])
    );
    // The old owner is out: the group is gone from its community/self.
    let me = s.get("community/self", Some(&t), &[]).await.body;
    assert!(me["groups"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn reassign_is_for_org_admins_and_targets_the_org() {
    let s = start(with_group(config(), &["alice"])).await;
    let admin = s.admin().await;
    let id = crew(&s).id;
    // A plain user (even a member) may not.
    let alice = s.token("alice", "alice-pw").await;
    assert_eq!(
        reassign(&s, &alice, &id, "alice").await.error_code(),
        Some(403)
    );
    for target in ["outsider", "ghost"] {
        let r = reassign(&s, &admin, &id, target).await;
        assert_eq!(
            r.body["error"]["message"], "Unable to reassign group.",
            "{target}"
        );
        assert!(r.text.contains(target));
    }
    assert_eq!(crew(&s).owner, "admin");
    // Titles stay unique per owner.
    s.create_group(&alice, "Crew", "org").await;
    let r = reassign(&s, &admin, &id, "alice").await;
    assert_eq!(
        r.body["error"]["details"],
        json!(["User 'alice' already has a group named 'Crew'."])
    );
    assert_eq!(crew(&s).owner, "admin");
    // GET is refused like every operation.
    let r = s
        .get(
            &format!("community/groups/{id}/reassign"),
            Some(&admin),
            &[("targetUsername", "alice")],
        )
        .await;
    assert_eq!(r.error_code(), Some(405));
}

// ----- invitations ------------------------------------------------------------------------

#[tokio::test]
async fn invitations_reach_other_orgs_and_are_accepted_by_the_invitee() {
    let s = start(with_group(directory_config(), &[])).await;
    let admin = s.admin().await;
    let id = crew(&s).id;
    let invite = |users: &'static str| {
        let (s, admin, id) = (&s, admin.clone(), id.clone());
        async move {
            s.post(
                &format!("community/groups/{id}/invite"),
                Some(&admin),
                &[
                    ("users", users),
                    ("role", "group_member"),
                    ("expiration", "1440"),
                ],
            )
            .await
        }
    };
    assert_eq!(
        invite("partner").await.body,
        json!({"success": true, "groupId": id})
    );
    // A re-run invites again: still success, still one invitation.
    assert_eq!(invite("partner").await.body["success"], true);
    assert_eq!(s.sim.stats().writes, 2);

    let partner = s.token("partner", "partner-pw").await;
    let mine = s
        .get("community/users/partner/invitations", Some(&partner), &[])
        .await
        .body;
    let list = mine["userInvitations"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{mine}");
    let inv = &list[0];
    assert_eq!(
        (inv["groupId"].as_str(), inv["targetId"].as_str()),
        (Some(id.as_str()), Some(id.as_str()))
    );
    assert_eq!(
        (inv["role"].as_str(), inv["targetType"].as_str()),
        (Some("group_member"), Some("group"))
    );
    assert_eq!(inv["fromUsername"]["username"], "admin");
    let inv_id = inv["id"].as_str().unwrap().to_owned();
    assert!(inv_id.starts_with('G') && inv_id.len() == 33);
    assert!(
        crew(&s).users.is_empty(),
        "an invitation is not a membership"
    );
    // Somebody else cannot read or accept it.
    let alice = s.token("alice", "alice-pw").await;
    let path = format!("community/users/partner/invitations/{inv_id}");
    assert_eq!(
        s.get(&path, Some(&alice), &[]).await.error_code(),
        Some(403)
    );
    assert_eq!(
        s.post(&format!("{path}/accept"), Some(&alice), &[])
            .await
            .error_code(),
        Some(403)
    );
    // One invitation, with its group.
    let one = s.get(&path, Some(&partner), &[]).await.body;
    assert_eq!(one["group"]["id"], id.as_str());

    let r = s.post(&format!("{path}/accept"), Some(&partner), &[]).await;
    assert_eq!(
        r.body,
        json!({"success": true, "username": "partner", "groupId": id, "id": inv_id})
    );
    assert_eq!(crew(&s).users, ["partner"]);
    let after = s
        .get("community/users/partner/invitations", Some(&partner), &[])
        .await
        .body;
    assert_eq!(after, json!({"userInvitations": []}));
    // Members are not invited again.
    invite("partner").await;
    let again = s
        .get("community/users/partner/invitations", Some(&partner), &[])
        .await
        .body;
    assert_eq!(again, json!({"userInvitations": []}));
    assert_eq!(s.sim.stats().by_endpoint["invitations/accept"], 2);
}

#[tokio::test]
async fn a_groups_pending_invitations_are_listed_for_those_who_may_invite() {
    let s = start(with_group(directory_config(), &["alice"])).await;
    let admin = s.admin().await;
    let id = crew(&s).id;
    let path = format!("community/groups/{id}/invitations");
    assert_eq!(
        s.get(&path, Some(&admin), &[]).await.body,
        json!({"invitations": []})
    );
    s.post(
        &format!("community/groups/{id}/invite"),
        Some(&admin),
        &[("users", "partner,nobody_at_all"), ("role", "group_admin")],
    )
    .await;
    let listed = s.get(&path, Some(&admin), &[]).await.body;
    let list = listed["invitations"].as_array().unwrap();
    assert_eq!(list.len(), 1, "unknown names make no invitation: {listed}");
    assert_eq!(
        (list[0]["username"].as_str(), list[0]["role"].as_str()),
        (Some("partner"), Some("group_admin"))
    );
    assert_eq!(list[0]["groupId"], id.as_str());
    // Only those who may invite read it, not a plain member.
    let alice = s.token("alice", "alice-pw").await;
    assert_eq!(
        s.get(&path, Some(&alice), &[]).await.error_code(),
        Some(403)
    );
    // Accepted: no longer pending.
    let partner = s.token("partner", "partner-pw").await;
    let inv = s
        .get("community/users/partner/invitations", Some(&partner), &[])
        .await
        .body["userInvitations"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    s.post(
        &format!("community/users/partner/invitations/{inv}/accept"),
        Some(&partner),
        &[],
    )
    .await;
    assert_eq!(
        s.get(&path, Some(&admin), &[]).await.body,
        json!({"invitations": []})
    );
    assert_eq!(s.sim.stats().by_endpoint["groups/invitations"], 4);
}

#[tokio::test]
async fn without_the_group_invitations_listing_the_path_is_unknown() {
    let s = start(with_group(
        SimConfig {
            no_group_invitations: true,
            ..directory_config()
        },
        &[],
    ))
    .await;
    let admin = s.admin().await;
    let id = crew(&s).id;
    let r = s
        .get(
            &format!("community/groups/{id}/invitations"),
            Some(&admin),
            &[],
        )
        .await;
    assert!(r.body["error"].is_object(), "{}", r.text);
    assert!(r.body.get("invitations").is_none());
}

#[tokio::test]
async fn a_declined_invitation_joins_nobody() {
    let s = start(with_group(config(), &[])).await;
    let admin = s.admin().await;
    let id = crew(&s).id;
    s.post(
        &format!("community/groups/{id}/invite"),
        Some(&admin),
        &[("users", "bob"), ("role", "group_admin")],
    )
    .await;
    let bad_role = s
        .post(
            &format!("community/groups/{id}/invite"),
            Some(&admin),
            &[("users", "carol"), ("role", "owner")],
        )
        .await;
    assert_eq!(bad_role.error_code(), Some(400));
    let bob = s.token("bob", "bob-pw").await;
    let list = s
        .get("community/users/bob/invitations", Some(&bob), &[])
        .await
        .body;
    assert_eq!(list["userInvitations"][0]["role"], "group_admin");
    let inv_id = list["userInvitations"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("community/users/bob/invitations/{inv_id}");
    assert_eq!(
        s.post(&format!("{path}/decline"), Some(&bob), &[])
            .await
            .body["success"],
        true
    );
    assert_eq!(crew(&s).admins, ["admin"]);
    let r = s.post(&format!("{path}/accept"), Some(&bob), &[]).await;
    assert_eq!(r.error_code(), Some(400), "gone once declined");
}

#[tokio::test]
async fn reassign_respects_the_targets_group_limit() {
    let mut c = with_group(
        SimConfig {
            group_limit: 1,
            ..config()
        },
        &["alice"],
    );
    c.initial_groups.push(SeedGroup::new("Bob's", "bob"));
    let s = start(c).await;
    let admin = s.admin().await;
    let id = crew(&s).id;
    let r = reassign(&s, &admin, &id, "bob").await;
    assert_eq!(r.body["error"]["message"], "Unable to reassign group.");
    assert!(r.text.contains("maximum number of groups"), "{}", r.text);
    assert_eq!(crew(&s).owner, "admin");
    // A target already in the group (alice, at the limit with it) takes no new slot.
    let r = reassign(&s, &admin, &id, "alice").await;
    assert_eq!(r.body["success"], true, "{}", r.text);
    assert_eq!(crew(&s).owner, "alice");
}
