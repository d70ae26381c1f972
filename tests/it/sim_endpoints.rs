//! portal-sim conformance, endpoint by endpoint: response shapes, error codes and texts,
//! limits and permissions, as `reference/arcgis-rest.md` pins them.

use crate::support::sim_client::{Sim, config, seed_names, start};
use bulk_groups::sim::{HOME_ORG_ID, SeedGroup, SimConfig};
use serde_json::json;

async fn sim() -> Sim {
    start(config()).await
}

#[tokio::test]
async fn info_and_generate_token() {
    let s = sim().await;
    let info = s.get("info", None, &[]).await;
    assert_eq!(info.body["authInfo"]["isTokenBasedSecurity"], true);
    assert!(
        info.body["authInfo"]["tokenServicesUrl"]
            .as_str()
            .unwrap()
            .ends_with("/sharing/rest/generateToken")
    );

    let ok = s
        .post(
            "generateToken",
            None,
            &[
                ("username", "alice"),
                ("password", "alice-pw"),
                ("expiration", "60"),
            ],
        )
        .await;
    assert!(ok.body["token"].as_str().unwrap().len() >= 32);
    let expires = ok.body["expires"].as_i64().unwrap();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert!((now_ms + 50 * 60_000..now_ms + 70 * 60_000).contains(&expires));
    assert_eq!(ok.body["ssl"], false);

    for (user, pw) in [
        ("alice", "wrong"),
        ("ALICE", "alice-pw"),
        ("carol", ""),
        ("nobody", "x"),
    ] {
        let bad = s
            .post(
                "generateToken",
                None,
                &[("username", user), ("password", pw)],
            )
            .await;
        assert_eq!(
            bad.body,
            json!({"error":{"code":400,"message":"Unable to generate token.","details":["Invalid username or password."]}}),
            "{user}"
        );
    }
    assert_eq!(s.sim.stats().tokens_issued, 1);
}

#[tokio::test]
async fn token_transport_and_498_vs_499() {
    let s = sim().await;
    let t = s.token("alice", "alice-pw").await;
    // Missing → 499 GWM_0003; unknown → 498.
    let missing = s.post("community/self", None, &[]).await;
    assert_eq!(
        missing.body,
        json!({"error":{"code":499,"messageCode":"GWM_0003","message":"Token Required","details":["Token Required"]}})
    );
    let unknown = s.post("community/self", Some("bogus"), &[]).await;
    assert_eq!(
        unknown.body,
        json!({"error":{"code":498,"message":"Invalid token.","details":[]}})
    );
    assert_eq!(
        (missing.status.as_u16(), unknown.status.as_u16()),
        (200, 200)
    );
    // A bad token is 498 even where anonymous access is fine.
    let anon_ok = s.get("portals/self", None, &[]).await;
    assert!(anon_ok.body.get("user").is_none());
    assert_eq!(
        s.get("portals/self", Some("bogus"), &[]).await.error_code(),
        Some(498)
    );

    // token form field, query parameter, X-Esri-Authorization, Authorization: Bearer.
    assert_eq!(
        s.post("community/self", Some(&t), &[]).await.body["username"],
        "alice"
    );
    assert_eq!(
        s.get("community/self", Some(&t), &[]).await.body["username"],
        "alice"
    );
    let by_query = s
        .http
        .get(s.rest("community/self"))
        .query(&[("f", "json"), ("token", &t)])
        .send()
        .await
        .unwrap();
    assert_eq!(
        crate::support::sim_client::decode(by_query).await.body["username"],
        "alice"
    );
    let by_auth = s
        .http
        .get(s.rest("community/self"))
        .query(&[("f", "json")])
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(
        crate::support::sim_client::decode(by_auth).await.body["username"],
        "alice"
    );
}

#[tokio::test]
async fn portal_self_and_users() {
    let s = sim().await;
    let t = s.admin().await;
    let me = s.get("portals/self", Some(&t), &[]).await.body;
    assert_eq!(me["id"], HOME_ORG_ID);
    assert_eq!(me["portalMode"], "multitenant");
    assert_eq!(me["portalName"], "ArcGIS Online");
    assert_eq!(me["user"]["username"], "admin");
    assert_eq!(me["user"]["role"], "org_admin");
    let privileges: Vec<&str> = me["user"]["privileges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    for p in [
        "portal:admin:viewUsers",
        "portal:admin:assignToGroups",
        "portal:admin:updateGroups",
        "portal:user:createGroup",
        "portal:user:joinGroup",
    ] {
        assert!(privileges.contains(&p), "{p}");
    }

    let alice = s.get("community/users/alice", Some(&t), &[]).await.body;
    assert_eq!(alice["username"], "alice");
    assert_eq!(alice["orgId"], HOME_ORG_ID);
    assert_eq!(alice["role"], "org_user");
    assert_eq!(alice["id"].as_str().unwrap().len(), 32);
    let alice_privs = alice["privileges"].as_array().unwrap();
    assert!(alice_privs.contains(&json!("portal:user:viewOrgUsers")));
    assert!(
        !alice_privs
            .iter()
            .any(|p| p.as_str().unwrap().contains(":admin:"))
    );

    // A user of another org whose profile is not public is invisible (sim_realism has more).
    let outsider = s.get("community/users/outsider", Some(&t), &[]).await;
    assert_eq!(
        outsider.body["error"]["message"],
        "User does not exist or is inaccessible."
    );

    let missing = s.get("community/users/nobody", Some(&t), &[]).await;
    assert_eq!(missing.error_code(), Some(400));
    assert_eq!(
        missing.body["error"]["message"],
        "User does not exist or is inaccessible."
    );

    // portals/self/users: paged, own org only.
    let page = s
        .get("portals/self/users", Some(&t), &[("num", "2")])
        .await
        .body;
    assert_eq!(page["total"], 5); // admin, alice, bob, carol, nearly_full
    assert_eq!(page["users"].as_array().unwrap().len(), 2);
    assert_eq!(page["nextStart"], 3);
    let last = s
        .get(
            "portals/self/users",
            Some(&t),
            &[("start", "5"), ("num", "2")],
        )
        .await
        .body;
    assert_eq!(last["nextStart"], -1);
}

#[tokio::test]
async fn create_group_shape_and_community_self() {
    let s = sim().await;
    let t = s.token("alice", "alice-pw").await;
    let r = s
        .post(
            "community/createGroup",
            Some(&t),
            &[
                ("title", "Field Crew  "),
                ("description", "d"),
                ("snippet", "s"),
                ("tags", "a, b"),
                ("access", "org"),
                ("isInvitationOnly", "true"),
            ],
        )
        .await;
    assert_eq!(r.body["success"], true);
    let g = &r.body["group"];
    let id = g["id"].as_str().unwrap();
    assert_eq!(id.len(), 32);
    assert!(
        id.chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    assert_eq!(g["title"], "Field Crew"); // trailing whitespace trimmed
    assert_eq!(g["owner"], "alice");
    assert_eq!(g["access"], "org");
    assert_eq!(g["tags"], json!(["a", "b"]));
    assert_eq!(g["isInvitationOnly"], true);
    assert!(g["created"].as_i64().unwrap() > 0);

    let got = s
        .get(&format!("community/groups/{id}"), Some(&t), &[])
        .await
        .body;
    assert_eq!(got["id"], id);
    assert_eq!(got["userMembership"]["memberType"], "owner");

    let me = s.get("community/self", Some(&t), &[]).await.body;
    assert_eq!(me["username"], "alice");
    let groups = me["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0]["id"], id);

    let users = s
        .get(&format!("community/groups/{id}/users"), Some(&t), &[])
        .await
        .body;
    assert_eq!(
        users,
        json!({"owner":"alice","admins":["alice"],"users":[]})
    );
}

#[tokio::test]
async fn duplicate_titles_are_per_owner_case_insensitive_and_trimmed() {
    let s = sim().await;
    let alice = s.token("alice", "alice-pw").await;
    let bob = s.token("bob", "bob-pw").await;
    s.create_group(&alice, "Public Place Manager", "private")
        .await;
    for title in [
        "Public Place Manager",
        "public place manager",
        "Public Place Manager \t ",
    ] {
        let r = s
            .post("community/createGroup", Some(&alice), &[("title", title)])
            .await;
        let trimmed = title.trim_end();
        assert_eq!(
            r.body,
            json!({"error":{"code":400,"messageCode":"COM_0044","message":"Unable to create group.",
                   "details":[format!("You already have a group named '{trimmed}'. Try a different name.")]}}),
            "{title:?}"
        );
    }
    // Another owner may use the same title.
    s.create_group(&bob, "Public Place Manager", "private")
        .await;
    assert_eq!(s.sim.state().groups.len(), 2);
}

#[tokio::test]
async fn add_users_not_added_categories() {
    let s = start(SimConfig {
        initial_groups: vec![SeedGroup {
            users: vec!["bob".into()],
            ..SeedGroup::new("Crew", "admin")
        }],
        ..config()
    })
    .await;
    let t = s.admin().await;
    let id = s.sim.state().groups[0].id.clone();
    let r = s
        .add_users(&t, &id, "alice,nobody,outsider,nearly_full,bob,admin")
        .await;
    // alice joins; nearly_full takes its last slot (511 + 1 = 512).
    assert_eq!(
        r.body,
        json!({"notAdded":["nobody","outsider","bob","admin"]})
    );
    let g = s.sim.state().groups[0].clone();
    assert_eq!(g.admins, vec!["admin"]);
    assert_eq!(g.users, vec!["alice", "bob", "nearly_full"]);

    // At the limit now: another group refuses nearly_full.
    let other = s.create_group(&t, "Other", "private").await;
    let r = s.add_users(&t, &other, "nearly_full").await;
    assert_eq!(r.body, json!({"notAdded":["nearly_full"]}));

    // Adding again is idempotent: already-members come back in notAdded.
    let r = s.add_users(&t, &id, "alice").await;
    assert_eq!(r.body, json!({"notAdded":["alice"]}));

    // admins: a member is promoted; the owner is notAdded.
    let r = s
        .post(
            &format!("community/groups/{id}/addUsers"),
            Some(&t),
            &[("admins", "alice,admin")],
        )
        .await;
    assert_eq!(r.body, json!({"notAdded":["admin"]}));
    let g = s.sim.state().groups[0].clone();
    assert_eq!(g.admins, vec!["admin", "alice"]);
    assert_eq!(g.users, vec!["bob", "nearly_full"]);
    let users = s
        .get(&format!("community/groups/{id}/users"), Some(&t), &[])
        .await
        .body;
    assert_eq!(users["admins"], json!(["admin", "alice"]));
    assert_eq!(users["users"], json!(["bob", "nearly_full"]));
}

#[tokio::test]
async fn twenty_five_name_cap_on_add_and_remove() {
    let s = start(SimConfig {
        seed_users: 30,
        ..config()
    })
    .await;
    let t = s.admin().await;
    let id = s.create_group(&t, "Big", "private").await;
    let ok = s.add_users(&t, &id, &seed_names(1, 25)).await;
    assert_eq!(ok.body, json!({"notAdded":[]}));

    let cap = json!({"error":{"code":400,"messageCode":"ORG_3100","message":"Exceeded maximum number of users allowed per call.","details":[]}});
    let over = s.add_users(&t, &id, &seed_names(1, 26)).await;
    assert_eq!(over.body, cap);
    // users + admins together count.
    let mixed = s
        .post(
            &format!("community/groups/{id}/addUsers"),
            Some(&t),
            &[
                ("users", &seed_names(26, 5)),
                ("admins", &seed_names(1, 21)),
            ],
        )
        .await;
    assert_eq!(mixed.body, cap);
    let remove = s
        .post(
            &format!("community/groups/{id}/removeUsers"),
            Some(&t),
            &[("users", &seed_names(1, 26))],
        )
        .await;
    assert_eq!(remove.body, cap);
    assert_eq!(s.sim.state().groups[0].users.len(), 25);
}

#[tokio::test]
async fn remove_users_keeps_the_owner() {
    let s = sim().await;
    let t = s.admin().await;
    let id = s.create_group(&t, "G", "private").await;
    s.add_users(&t, &id, "alice,bob").await;
    let r = s
        .post(
            &format!("community/groups/{id}/removeUsers"),
            Some(&t),
            &[("users", "alice,admin,carol,nobody")],
        )
        .await;
    assert_eq!(r.body, json!({"notRemoved":["admin","carol","nobody"]}));
    let g = &s.sim.state().groups[0];
    assert_eq!(
        (g.admins.clone(), g.users.clone()),
        (vec!["admin".into()], vec!["bob".into()])
    );
}

#[tokio::test]
async fn permissions_plain_user_vs_org_admin() {
    let s = sim().await;
    let admin = s.admin().await;
    let alice = s.token("alice", "alice-pw").await;
    let bob = s.token("bob", "bob-pw").await;
    let xadmin = s.token("xadmin", "x-pw").await;
    let forbidden = json!({"error":{"code":403,"message":"You do not have permissions to access this resource or perform this operation.","details":[]}});

    // Alice's org-visible group: bob can see it but not act on it; the org admin can.
    let id = s.create_group(&alice, "Alice's", "org").await;
    let path = format!("community/groups/{id}/addUsers");
    assert_eq!(
        s.post(&path, Some(&bob), &[("users", "carol")]).await.body,
        forbidden
    );
    assert_eq!(
        s.post(&path, Some(&admin), &[("users", "carol")])
            .await
            .body,
        json!({"notAdded":[]})
    );
    // Once bob manages the group he may add users.
    s.post(&path, Some(&alice), &[("admins", "bob")]).await;
    assert_eq!(
        s.post(&path, Some(&bob), &[("users", "admin")]).await.body,
        json!({"notAdded":[]})
    );
    // Managers cannot delete; the owner can update and delete.
    let del = format!("community/groups/{id}/delete");
    assert_eq!(s.post(&del, Some(&bob), &[]).await.body, forbidden);

    // Private group of the admin: invisible to a plain user; the other org's admin can't act.
    let private = s.create_group(&admin, "Secret", "private").await;
    let missing = s
        .get(&format!("community/groups/{private}"), Some(&bob), &[])
        .await;
    assert_eq!(
        missing.body["error"]["message"],
        "Group does not exist or is inaccessible."
    );
    assert_eq!(
        s.post(
            &format!("community/groups/{private}/addUsers"),
            Some(&xadmin),
            &[("users", "alice")]
        )
        .await
        .body["error"]["message"],
        "Group does not exist or is inaccessible."
    );
    let public = s.create_group(&admin, "Open", "public").await;
    assert_eq!(
        s.post(
            &format!("community/groups/{public}/addUsers"),
            Some(&xadmin),
            &[("users", "alice")]
        )
        .await
        .body,
        forbidden
    );
    // Group members list: members yes, others 403.
    assert_eq!(
        s.get(&format!("community/groups/{public}/users"), Some(&bob), &[])
            .await
            .body,
        forbidden
    );
    // Unknown group id.
    let unknown = s
        .post(
            "community/groups/0123456789abcdef0123456789abcdef/addUsers",
            Some(&admin),
            &[("users", "alice")],
        )
        .await;
    assert_eq!(unknown.error_code(), Some(400));
    assert_eq!(
        unknown.body["error"]["message"],
        "Group does not exist or is inaccessible."
    );
    // Writes need POST.
    assert_eq!(
        s.get(&path, Some(&admin), &[]).await.error_code(),
        Some(405)
    );
}

#[tokio::test]
async fn group_limit_applies_to_create() {
    let s = start(SimConfig {
        group_limit: 2,
        ..config()
    })
    .await;
    let t = s.token("alice", "alice-pw").await;
    s.create_group(&t, "One", "private").await;
    s.create_group(&t, "Two", "private").await;
    let r = s
        .post("community/createGroup", Some(&t), &[("title", "Three")])
        .await;
    assert_eq!(r.error_code(), Some(400));
    assert_eq!(r.body["error"]["message"], "Unable to create group.");
}

#[tokio::test]
async fn invite_update_delete() {
    let s = sim().await;
    let t = s.admin().await;
    let id = s.create_group(&t, "Before", "private").await;
    s.create_group(&t, "Taken", "private").await;
    let base = format!("community/groups/{id}");

    let inv = s
        .post(
            &format!("{base}/invite"),
            Some(&t),
            &[
                ("users", "alice"),
                ("role", "group_member"),
                ("expiration", "1440"),
            ],
        )
        .await;
    assert_eq!(inv.body, json!({"success":true,"groupId":id}));

    let upd = s
        .post(
            &format!("{base}/update"),
            Some(&t),
            &[
                ("title", "After"),
                ("access", "public"),
                ("description", "new"),
            ],
        )
        .await;
    assert_eq!(upd.body, json!({"success":true,"groupId":id}));
    let g = s.get(&base, Some(&t), &[]).await.body;
    assert_eq!(
        (
            g["title"].as_str(),
            g["access"].as_str(),
            g["description"].as_str()
        ),
        (Some("After"), Some("public"), Some("new"))
    );
    let dup = s
        .post(&format!("{base}/update"), Some(&t), &[("title", "taken")])
        .await;
    assert_eq!(dup.message_code(), Some("COM_0044"));
    // The old title is free again.
    s.create_group(&t, "Before", "private").await;

    let del = s.post(&format!("{base}/delete"), Some(&t), &[]).await;
    assert_eq!(del.body, json!({"success":true,"groupId":id}));
    assert_eq!(
        s.get(&base, Some(&t), &[]).await.body["error"]["message"],
        "Group does not exist or is inaccessible."
    );
    assert_eq!(s.sim.stats().writes, 7);
}

#[tokio::test]
async fn fuzzy_search_paging_and_visibility() {
    let s = sim().await;
    let t = s.admin().await;
    let exact = s.create_group(&t, "Field Crew North", "org").await;
    s.create_group(&t, "Crew Room", "org").await;
    s.create_group(&t, "North Star", "org").await;
    s.create_group(&t, "Office", "org").await;
    s.create_group(&t, "Crew Private", "private").await;

    let q = format!(r#"title:"Field Crew North" accountid:{HOME_ORG_ID}"#);
    let r = s
        .post("community/groups", Some(&t), &[("q", &q)])
        .await
        .body;
    // Look-alikes come back too; the exact title ranks first.
    assert_eq!(r["total"], 4, "{r}");
    assert_eq!(r["results"][0]["id"], exact);
    let titles: Vec<&str> = r["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["title"].as_str().unwrap())
        .collect();
    assert!(titles.contains(&"Crew Room") && titles.contains(&"North Star"));
    assert!(!titles.contains(&"Office"));

    // owner: and id: and AND.
    let by_id = s
        .get(
            "community/groups",
            Some(&t),
            &[("q", &format!("id:{exact}"))],
        )
        .await
        .body;
    assert_eq!(by_id["total"], 1);
    let none = s
        .get(
            "community/groups",
            Some(&t),
            &[("q", "title:crew AND owner:alice")],
        )
        .await
        .body;
    assert_eq!(none["total"], 0);
    assert_eq!(none["nextStart"], -1);

    // Visibility: bob (same org) sees org groups, not the admin's private one; anonymous
    // sees none of them.
    let bob = s.token("bob", "bob-pw").await;
    let r = s
        .get("community/groups", Some(&bob), &[("q", "crew")])
        .await
        .body;
    assert_eq!(r["total"], 2);
    let r = s.get("community/groups", None, &[("q", "crew")]).await.body;
    assert_eq!(r["total"], 0);
    let r = s
        .get("community/groups", Some(&t), &[("q", "crew")])
        .await
        .body;
    assert_eq!(r["total"], 3);
}

#[tokio::test]
async fn search_paging_next_start_and_num_cap() {
    let s = sim().await;
    let t = s.admin().await;
    for i in 0..105 {
        s.create_group(&t, &format!("Team {i:03}"), "org").await;
    }
    let page = |start: &'static str, num: &'static str| {
        let s = &s;
        let t = t.clone();
        async move {
            s.get(
                "community/groups",
                Some(&t),
                &[("q", "title:team"), ("start", start), ("num", num)],
            )
            .await
            .body
        }
    };
    let first = page("1", "").await;
    assert_eq!(first["results"].as_array().unwrap().len(), 10); // default num
    let first = page("1", "40").await;
    assert_eq!(
        (
            first["total"].as_i64(),
            first["start"].as_i64(),
            first["nextStart"].as_i64()
        ),
        (Some(105), Some(1), Some(41))
    );
    let capped = page("1", "1000").await;
    assert_eq!(capped["results"].as_array().unwrap().len(), 100);
    assert_eq!(capped["num"], 100);
    assert_eq!(capped["nextStart"], 101);
    let last = page("101", "100").await;
    assert_eq!(last["results"].as_array().unwrap().len(), 5);
    assert_eq!(last["nextStart"], -1);
    // Paging walks every group exactly once.
    let mut seen = std::collections::HashSet::new();
    let mut start = 1;
    while start > 0 {
        let p = s
            .get(
                "community/groups",
                Some(&t),
                &[
                    ("q", "title:team"),
                    ("start", &start.to_string()),
                    ("num", "30"),
                ],
            )
            .await
            .body;
        for g in p["results"].as_array().unwrap() {
            assert!(seen.insert(g["id"].as_str().unwrap().to_owned()));
        }
        start = p["nextStart"].as_i64().unwrap();
    }
    assert_eq!(seen.len(), 105);
}

#[tokio::test]
async fn search_lag_hides_new_groups_for_a_while() {
    let s = start(SimConfig {
        search_lag: std::time::Duration::from_millis(1500),
        ..config()
    })
    .await;
    let t = s.admin().await;
    let started = std::time::Instant::now();
    let id = s.create_group(&t, "Laggy Group", "org").await;
    let q = [("q", "title:\"Laggy Group\"")];
    let hidden = s.get("community/groups", Some(&t), &q).await.body;
    if started.elapsed() < std::time::Duration::from_millis(1200) {
        assert_eq!(hidden["total"], 0, "visible too early");
    }
    // Not lagging: the group itself and the owner's list.
    assert_eq!(
        s.get(&format!("community/groups/{id}"), Some(&t), &[])
            .await
            .body["id"],
        id
    );
    let me = s.get("community/self", Some(&t), &[]).await.body;
    assert_eq!(me["groups"][0]["id"], id);
    // Visible eventually.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let r = s.get("community/groups", Some(&t), &q).await.body;
        if r["total"] == 1 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never became visible");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(started.elapsed() >= std::time::Duration::from_millis(1500));
}

#[tokio::test]
async fn errors_as_status_and_html_default() {
    let s = start(SimConfig {
        errors_as_status: true,
        ..config()
    })
    .await;
    let t = s.admin().await;
    assert_eq!(
        s.post("community/self", None, &[]).await.status.as_u16(),
        499
    );
    assert_eq!(
        s.post("community/self", Some("bogus"), &[])
            .await
            .status
            .as_u16(),
        498
    );
    s.create_group(&t, "Same", "private").await;
    let dup = s
        .post("community/createGroup", Some(&t), &[("title", "Same")])
        .await;
    assert_eq!(dup.status.as_u16(), 400);
    assert_eq!(dup.message_code(), Some("COM_0044"));
    let ok = s.post("community/self", Some(&t), &[]).await;
    assert_eq!(ok.status.as_u16(), 200);

    // No f → an HTML page, as the real API does.
    let html = s.http.get(s.rest("portals/self")).send().await.unwrap();
    assert!(
        html.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(html.text().await.unwrap().contains("<html"));
    let pjson = s
        .http
        .get(s.rest("portals/self"))
        .query(&[("f", "pjson")])
        .send()
        .await
        .unwrap();
    let text = pjson.text().await.unwrap();
    assert!(text.contains('\n') && serde_json::from_str::<serde_json::Value>(&text).is_ok());
}

#[tokio::test]
async fn web_adaptor_prefix_and_double_slashes() {
    let s = sim().await;
    let t = s.admin().await;
    let id = s.create_group(&t, "Slashes", "private").await;
    for path in [
        format!("/arcgis/sharing/rest/community/groups/{id}/users"),
        format!("/sharing/rest//community/groups/{id}/users"),
        format!("//arcgis//sharing/rest/community//groups/{id}/users/"),
    ] {
        let r = s
            .http
            .post(format!("{}{path}", s.sim.url))
            .form(&[("f", "json"), ("token", &t)])
            .send()
            .await
            .unwrap();
        assert_eq!(
            crate::support::sim_client::decode(r).await.body["owner"],
            "admin",
            "{path}"
        );
    }
}

#[tokio::test]
async fn oauth_implicit_flow_like_the_python_client() {
    let s = sim().await;
    let authorize = s
        .http
        .get(s.rest("oauth2/authorize"))
        .query(&[
            ("response_type", "token"),
            ("client_id", "pythonapi"),
            ("redirect_uri", "https://127.0.0.1:1"),
            ("state", "xyz"),
            ("expiration", "600"),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line = authorize.lines().find(|l| l.contains('{')).unwrap();
    let json_text = &line[line.find('{').unwrap()..=line.rfind('}').unwrap()];
    let info: serde_json::Value = serde_json::from_str(json_text).unwrap();
    let oauth_state = info["oauth_state"].as_str().unwrap();

    let no_redirects = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let signin = no_redirects
        .post(format!("{}/sharing/oauth2/signin", s.sim.url))
        .form(&[
            ("oauth_state", oauth_state),
            ("username", "alice"),
            ("password", "alice-pw"),
            ("expiration", "600"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signin.status().as_u16(), 302);
    let location = signin.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("https://127.0.0.1:1#access_token="),
        "{location}"
    );
    assert!(location.contains("&state=xyz"));
    let fragment = location.split_once('#').unwrap().1;
    let token = fragment
        .split('&')
        .find_map(|kv| kv.strip_prefix("access_token="))
        .unwrap();
    let expires_in: u64 = fragment
        .split('&')
        .find_map(|kv| kv.strip_prefix("expires_in="))
        .unwrap()
        .parse()
        .unwrap();
    assert!(expires_in > 300);
    assert_eq!(
        s.get("community/self", Some(token), &[]).await.body["username"],
        "alice"
    );

    // App tokens: signed in but no user rights.
    let app = s
        .post(
            "oauth2/token",
            None,
            &[
                ("client_id", "id"),
                ("client_secret", "secret"),
                ("grant_type", "client_credentials"),
            ],
        )
        .await;
    let app_token = app.body["access_token"].as_str().unwrap();
    assert!(app.body["expires_in"].as_u64().unwrap() > 0);
    let r = s
        .post(
            "community/createGroup",
            Some(app_token),
            &[("title", "App")],
        )
        .await;
    assert_eq!(r.error_code(), Some(403));
    assert_eq!(s.sim.stats().tokens_issued, 2);
}

#[tokio::test]
async fn state_and_stats_documents() {
    let s = sim().await;
    let t = s.admin().await;
    let id = s.create_group(&t, "Doc", "public").await;
    s.add_users(&t, &id, "alice").await;
    let state: serde_json::Value = s
        .http
        .get(format!("{}/__sim/state", s.sim.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        state["groups"],
        json!([{"id": id, "title":"Doc","owner":"admin","access":"public","admins":["admin"],"users":["alice"]}])
    );
    assert_eq!(
        state["users"][0],
        json!({"username":"admin","org":"home","role":"org_admin"})
    );
    assert_eq!(
        state["users"][5],
        json!({"username":"outsider","org":"elsewhere","role":"org_user"})
    );
    assert_eq!(state, serde_json::to_value(s.sim.state()).unwrap());

    let stats: serde_json::Value = s
        .http
        .get(format!("{}/__sim/stats", s.sim.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // generateToken + createGroup + addUsers; /__sim/* not counted.
    assert_eq!(stats["total"], 3);
    assert_eq!(stats["writes"], 2);
    assert_eq!(stats["by_endpoint"]["addUsers"], 1);
    assert_eq!(stats["by_endpoint"]["createGroup"], 1);
    assert_eq!(stats["by_endpoint"]["generateToken"], 1);
    for key in [
        "total",
        "writes",
        "throttled_429",
        "faults_5xx",
        "dropped",
        "max_in_flight",
        "tokens_issued",
    ] {
        assert!(stats[key].is_u64(), "{key}");
    }
    assert_eq!(stats, serde_json::to_value(s.sim.stats()).unwrap());
    let final_state = s.sim.shutdown().await;
    assert_eq!(final_state.groups[0].users, vec!["alice"]);
}
