//! portal-sim conformance for the realism switches (`--realistic` and its parts) and for the
//! always-on behaviours of a strict portal: referer-bound tokens, other-org visibility, the
//! paged member list, the org directory, reassign and invitations.

mod sim_support;

use std::time::{Duration, Instant};

use bulk_groups::sim::{PrivilegesIn, REALISTIC_MEMBERS_CAP, SeedGroup, SimConfig, ThrottleStatus};
use serde_json::{Value, json};
use sim_support::{REFERER, Sim, config, decode, seed_names, start};

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
            assert_eq!(u["fullName"].as_str().is_some(), true);
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

async fn info(s: &Sim) -> sim_support::Reply {
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
        let r = info(&s).await;
        if r.status != 200 {
            tripped = Some((Instant::now(), r));
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
