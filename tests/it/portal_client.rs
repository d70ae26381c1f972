//! The portal client against small scripted portals (tests/it/support/mock_portal.rs): what goes on the
//! wire (f=json, methods, token only in the header, Referer), how the three error forms are
//! classified, retries with Retry-After as a whole-client pause, token renewal (once on 498,
//! single flight, proactive), the concurrency cap, and ambiguous failures.

use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::support::mock_portal::{MockPortal, Reply, Seen, token_reply};
use bulk_groups::portal::{
    ClientOptions, Credentials, PortalClient, PortalError, PortalUrl, RateSetting,
};
use bulk_groups::portal::{NewGroup, Role};
use secrecy::SecretString;
use serde_json::json;

const PASSWORD: &str = "pa55-w0rd-SECRET";
const HOUR: Duration = Duration::from_secs(3600);

fn options() -> ClientOptions {
    ClientOptions {
        timeout: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(5),
        retries: 3,
        concurrency: NonZeroUsize::new(8).unwrap(),
        rate: RateSetting::Fixed(NonZeroU32::new(1000).unwrap()),
        ca_cert: None,
        ..ClientOptions::default()
    }
}

fn password() -> Credentials {
    Credentials::Password {
        username: "admin".into(),
        password: SecretString::from(PASSWORD),
    }
}

fn api_key(key: &str) -> Credentials {
    Credentials::Token(SecretString::from(key))
}

async fn connect_to(
    mock: &MockPortal,
    credentials: Credentials,
    options: ClientOptions,
) -> PortalClient {
    PortalClient::connect(PortalUrl::parse(&mock.url).unwrap(), credentials, options)
        .await
        .expect("connect")
}

fn self_reply() -> Reply {
    Reply::json(json!({
        "id": "ORG1", "portalName": "Mock", "portalMode": "multitenant",
        "user": {"username": "admin", "orgId": "ORG1", "role": "org_admin",
                 "privileges": ["portal:user:createGroup", "portal:admin:assignToGroups"]}
    }))
}

/// One `userList` page holding the whole group.
fn members_reply() -> Reply {
    Reply::json(
        json!({"owner": "admin", "total": 2, "start": 1, "num": 100, "nextStart": -1,
        "users": [{"username": "admin", "memberType": "owner"}, {"username": "u1", "memberType": "member"}]}),
    )
}

/// Every request the client sends follows the wire rules.
fn assert_wire_rules(seen: &[Seen]) {
    for s in seen {
        assert_eq!(s.param("f"), Some("json"), "{s:?}");
        assert!(!s.query.contains_key("token"), "token in query: {s:?}");
        assert!(!s.form.contains_key("token"), "token in form: {s:?}");
        assert_eq!(s.header("referer"), Some("bulk-groups"), "{s:?}");
        let post = matches!(
            s.endpoint.rsplit('/').next().unwrap(),
            "generateToken" | "createGroup" | "addUsers" | "removeUsers"
        );
        assert_eq!(s.method, if post { "POST" } else { "GET" }, "{s:?}");
        if post {
            assert!(
                s.raw_query.is_empty(),
                "nothing in the URL of a POST: {s:?}"
            );
            assert_eq!(
                s.header("content-type"),
                Some("application/x-www-form-urlencoded"),
                "{s:?}"
            );
        }
    }
}

#[tokio::test]
async fn sign_in_sends_the_token_only_in_the_header() {
    let mock = MockPortal::start(|s, _| match s.endpoint.as_str() {
        "generateToken" => token_reply("tok-AAA", HOUR),
        _ if s.bearer() != Some("tok-AAA") => Reply::error(499, "Token Required"),
        "portals/self" => self_reply(),
        "community/self" => Reply::json(json!({
            "username": "admin", "orgId": "ORG1", "role": "org_admin", "privileges": [],
            "groups": [{"id": "g1", "title": "One", "owner": "admin"}]
        })),
        "community/groups" => Reply::json(json!({
            "total": 1, "start": 1, "num": 1, "nextStart": -1,
            "results": [{"id": "g1", "title": "One", "owner": "admin", "orgId": "ORG1", "access": "org"}]
        })),
        "community/createGroup" => Reply::json(json!({
            "success": true, "group": {"id": "g2", "title": s.param("title").unwrap(), "owner": "admin"}
        })),
        e if e.ends_with("/addUsers") => {
            let names = s.param("users").or(s.param("admins")).unwrap_or_default();
            let not_added: Vec<&str> = names.split(',').filter(|n| *n == "ghost").collect();
            Reply::json(json!({ "notAdded": not_added }))
        }
        e if e.ends_with("/removeUsers") => Reply::json(json!({"notRemoved": []})),
        e if e.ends_with("/userList") => members_reply(),
        e if e.starts_with("community/groups/") => {
            Reply::json(json!({"id": "g1", "title": "One", "owner": "admin"}))
        }
        "community/users/someone@example.com" => {
            Reply::json(json!({"username": "someone@example.com", "orgId": "ORG1", "role": "org_user"}))
        }
        e if e.starts_with("community/users/") => Reply::json(json!({"error": {
            "code": 400, "messageCode": "COM_0018",
            "message": "User does not exist or is inaccessible.", "details": []}})),
        _ => Reply::html(404, "<html>not here</html>"),
    })
    .await;
    let client = connect_to(&mock, password(), options()).await;

    let portal = client.portal_self().await.unwrap();
    assert_eq!(portal.id, "ORG1");
    assert_eq!(portal.user.unwrap().username, "admin");
    let me = client.community_self().await.unwrap();
    assert_eq!(me.groups[0].id, "g1");
    let page = client
        .search_groups(r#"title:"One" AND orgid:ORG1"#, 1, 100)
        .await
        .unwrap();
    assert_eq!((page.total, page.next_start), (1, -1));
    assert_eq!(page.results[0].access.as_deref(), Some("org"));
    assert_eq!(client.group("g1").await.unwrap().title, "One");
    assert_eq!(client.group_members("g1").await.unwrap().users, ["u1"]);
    let definition = NewGroup {
        access: Some("private"),
        tags: Some("bulk-groups".into()),
        ..Default::default()
    };
    let created = client.create_group("Team & Co", &definition).await.unwrap();
    assert_eq!(
        (created.id.as_str(), created.title.as_str()),
        ("g2", "Team & Co")
    );
    let names = vec!["u2".to_owned(), "ghost".to_owned()];
    assert_eq!(
        client.add_users("g2", Role::Member, &names).await.unwrap(),
        ["ghost"]
    );
    assert_eq!(
        client
            .add_users("g2", Role::Admin, &names[..1])
            .await
            .unwrap(),
        Vec::<String>::new()
    );
    assert!(client.remove_users("g2", &names).await.unwrap().is_empty());
    let user = client.user("someone@example.com").await.unwrap().unwrap();
    assert_eq!(user.org_id.as_deref(), Some("ORG1"));
    assert_eq!(client.user("nobody").await.unwrap(), None);

    let seen = mock.seen();
    assert_wire_rules(&seen);
    let sign_in = &seen[0];
    assert_eq!(sign_in.endpoint, "generateToken");
    assert_eq!(
        sign_in.form.get("username").map(String::as_str),
        Some("admin")
    );
    assert_eq!(
        sign_in.form.get("password").map(String::as_str),
        Some(PASSWORD)
    );
    assert_eq!(
        sign_in.form.get("client").map(String::as_str),
        Some("referer")
    );
    assert_eq!(
        sign_in.form.get("referer").map(String::as_str),
        Some("bulk-groups")
    );
    assert_eq!(
        sign_in.form.get("expiration").map(String::as_str),
        Some("60")
    );
    assert_eq!(sign_in.bearer(), None);
    for s in &seen[1..] {
        assert_eq!(s.bearer(), Some("tok-AAA"), "{s:?}");
    }
    let search = seen
        .iter()
        .find(|s| s.endpoint == "community/groups")
        .unwrap();
    assert_eq!(search.param("q"), Some(r#"title:"One" AND orgid:ORG1"#));
    assert_eq!(
        (search.param("start"), search.param("num")),
        (Some("1"), Some("100"))
    );
    let create = seen
        .iter()
        .find(|s| s.endpoint == "community/createGroup")
        .unwrap();
    assert_eq!(create.param("title"), Some("Team & Co"));
    assert_eq!(create.param("access"), Some("private"));
    assert_eq!(create.param("tags"), Some("bulk-groups"));
    let adds: Vec<&Seen> = seen
        .iter()
        .filter(|s| s.endpoint.ends_with("/addUsers"))
        .collect();
    assert_eq!(
        adds[0].form.get("users").map(String::as_str),
        Some("u2,ghost")
    );
    assert!(!adds[0].form.contains_key("admins"));
    assert_eq!(adds[1].form.get("admins").map(String::as_str), Some("u2"));
    assert!(!adds[1].form.contains_key("users"));

    let stats = client.stats();
    assert_eq!(stats.requests["generateToken"], 1);
    assert_eq!(stats.requests["addUsers"], 2);
    assert_eq!(stats.requests["user"], 2);
    assert_eq!(stats.total_requests(), seen.len() as u64);
    assert_eq!((stats.retries, stats.throttled), (0, 0));
}

#[tokio::test]
async fn path_segments_are_encoded() {
    let mock = MockPortal::start(|_, _| members_reply()).await;
    let client = connect_to(&mock, api_key("k"), options()).await;
    client.group_members("a/../b c").await.unwrap();
    assert_eq!(
        mock.seen()[0].endpoint,
        "community/groups/a%2F..%2Fb%20c/userList"
    );
    // Nothing but the ordinary request for an empty chunk.
    assert!(
        client
            .add_users("g", Role::Member, &[])
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(mock.seen().len(), 1);
}

#[tokio::test]
async fn bad_credentials_fail_at_connect() {
    let mock = MockPortal::start(|_, _| {
        Reply::json(
            json!({"error": {"code": 400, "message": "Unable to generate token.",
            "details": ["Invalid username or password."]}}),
        )
    })
    .await;
    let err = PortalClient::connect(PortalUrl::parse(&mock.url).unwrap(), password(), options())
        .await
        .unwrap_err();
    assert!(err.is_auth(), "{err:?}");
    assert!(
        err.to_string().contains("Invalid username or password."),
        "{err}"
    );
    assert!(!err.to_string().contains(PASSWORD));
    assert_eq!(
        mock.count("generateToken"),
        1,
        "a refused password is not retried"
    );
}

#[tokio::test]
async fn errors_in_200_bodies_and_in_statuses_classify_alike() {
    let forbidden = json!({"error": {"code": 403, "message": "You do not have permissions to access this resource or perform this operation.", "details": []}});
    let duplicate = json!({"error": {"code": 400, "messageCode": "COM_0044", "message": "Unable to create group.",
        "details": ["You already have a group named 'X'. Try a different name."]}});
    for as_status in [false, true] {
        let (f, d) = (forbidden.clone(), duplicate.clone());
        let mock = MockPortal::start(move |s, _| {
            let (status, body) = if s.endpoint.ends_with("createGroup") {
                (400, d.clone())
            } else {
                (403, f.clone())
            };
            Reply::status_json(if as_status { status } else { 200 }, body)
        })
        .await;
        let client = connect_to(&mock, api_key("k"), options()).await;
        let err = client.group("g1").await.unwrap_err();
        assert!(
            err.is_permission() && !err.is_retryable() && !err.is_auth(),
            "{err:?}"
        );
        let err = client
            .create_group("X", &NewGroup::default())
            .await
            .unwrap_err();
        assert!(err.is_duplicate_title(), "{err:?}");
        assert_eq!(err.message_code(), Some("COM_0044"));
        assert_eq!(mock.seen().len(), 2, "neither is retried");
    }
}

#[tokio::test]
async fn throttling_with_retry_after_pauses_the_whole_client() {
    let mock = MockPortal::start(|s, i| match s.endpoint.as_str() {
        "community/groups" if i < 2 => Reply::status_json(
            429,
            json!({"error": {"code": 429, "message": "Too many requests.", "details": []}}),
        )
        .with_header("retry-after", "1"),
        "community/groups" => Reply::json(json!({"total": 0, "nextStart": -1, "results": []})),
        _ => members_reply(),
    })
    .await;
    let client = connect_to(&mock, api_key("k"), options()).await;
    let started = Instant::now();
    let search = tokio::spawn({
        let client = client.clone();
        async move { client.search_groups("x", 1, 10).await }
    });
    // Another request issued while the first is paused must wait for the same pause.
    tokio::time::sleep(Duration::from_millis(300)).await;
    client.group_members("g").await.unwrap();
    let other_done = started.elapsed();
    search.await.unwrap().unwrap();
    let total = started.elapsed();

    assert!(
        other_done >= Duration::from_millis(900),
        "other request waited {other_done:?}"
    );
    assert!(
        total >= Duration::from_millis(1900),
        "two Retry-After: 1 pauses, took {total:?}"
    );
    let stats = client.stats();
    assert_eq!(stats.throttled, 2);
    assert_eq!(stats.retries, 2);
    assert_eq!(stats.requests["search"], 3);
}

#[tokio::test]
async fn gateway_html_pages_are_retried() {
    let mock = MockPortal::start(|_, i| match i {
        0 => Reply::html(
            502,
            "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
        ),
        1 => Reply::html(
            503,
            "<html><body><h1>503 Service Unavailable</h1></body></html>",
        ),
        _ => Reply::json(json!({"notAdded": []})),
    })
    .await;
    let client = connect_to(&mock, api_key("k"), options()).await;
    let not_added = client
        .add_users("g", Role::Member, &["u".into()])
        .await
        .unwrap();
    assert!(not_added.is_empty());
    assert_eq!(client.stats().retries, 2);
    assert_eq!(mock.seen().len(), 3);
}

#[tokio::test]
async fn exhausted_retries_are_unavailable_and_writes_behind_a_gateway_are_ambiguous() {
    let mock = MockPortal::start(|s, _| {
        if s.endpoint.ends_with("addUsers") {
            Reply::html(502, "<html><title>Bad Gateway</title></html>")
        } else {
            Reply::html(503, "<html><title>Service Unavailable</title></html>")
        }
    })
    .await;
    let client = connect_to(
        &mock,
        api_key("k"),
        ClientOptions {
            retries: 2,
            ..options()
        },
    )
    .await;
    let err = client.group("g").await.unwrap_err();
    assert!(err.is_unavailable() && !err.is_ambiguous(), "{err:?}");
    assert_eq!(err.code(), Some(503));
    assert!(err.to_string().contains("after 3 attempts"), "{err}");
    let err = client
        .add_users("g", Role::Member, &["u".into()])
        .await
        .unwrap_err();
    assert!(err.is_unavailable() && err.is_ambiguous(), "{err:?}");
    assert_eq!(mock.seen().len(), 6);
}

#[tokio::test]
async fn connection_refused_is_unavailable_not_ambiguous() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let client = PortalClient::connect(
        PortalUrl::parse(&url).unwrap(),
        api_key("k"),
        ClientOptions {
            retries: 1,
            ..options()
        },
    )
    .await
    .unwrap();
    let err = client
        .add_users("g", Role::Member, &["u".into()])
        .await
        .unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    assert!(
        !err.is_ambiguous(),
        "never connected, so never applied: {err:?}"
    );
    assert!(
        !err.to_string().contains("http://"),
        "no URL in errors: {err}"
    );
    assert_eq!(client.stats().requests["addUsers"], 2);
}

/// A server that reads each request and closes the connection without answering: the portal
/// may have applied it (like portal-sim's --drop-rate).
async fn black_hole() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                use tokio::io::AsyncReadExt;
                let mut buf = vec![0u8; 8192];
                let _ = socket.read(&mut buf).await;
                drop(socket);
            });
        }
    });
    url
}

#[tokio::test]
async fn lost_responses_make_writes_ambiguous() {
    let url = black_hole().await;
    let client = PortalClient::connect(
        PortalUrl::parse(&url).unwrap(),
        api_key("k"),
        ClientOptions {
            retries: 1,
            ..options()
        },
    )
    .await
    .unwrap();
    let err = client
        .add_users("g", Role::Member, &["u".into()])
        .await
        .unwrap_err();
    assert!(err.is_unavailable() && err.is_ambiguous(), "{err:?}");
    let err = client
        .create_group("T", &NewGroup::default())
        .await
        .unwrap_err();
    assert!(err.is_ambiguous(), "{err:?}");
    let err = client.group("g").await.unwrap_err();
    assert!(err.is_unavailable() && !err.is_ambiguous(), "{err:?}");
}

#[tokio::test]
async fn a_timeout_after_sending_is_ambiguous() {
    let mock = MockPortal::start(|_, _| {
        Reply::json(json!({"notAdded": []})).after(Duration::from_secs(5))
    })
    .await;
    let client = connect_to(
        &mock,
        api_key("k"),
        ClientOptions {
            timeout: Duration::from_millis(300),
            retries: 0,
            ..options()
        },
    )
    .await;
    let err = client
        .add_users("g", Role::Member, &["u".into()])
        .await
        .unwrap_err();
    assert!(err.is_unavailable() && err.is_ambiguous(), "{err:?}");
    match err {
        PortalError::Unavailable { last, .. } => {
            assert!(
                matches!(*last, PortalError::Transport { timeout: true, .. }),
                "{last:?}"
            )
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn duplicate_title_after_a_lost_create_is_flagged() {
    // First createGroup: applied, then the gateway fails; the retry meets COM_0044.
    let mock = MockPortal::start(|_, i| match i {
        0 => Reply::html(504, "<html><title>Gateway Timeout</title></html>"),
        _ => Reply::json(json!({"error": {"code": 400, "messageCode": "COM_0044",
            "message": "Unable to create group.",
            "details": ["You already have a group named 'T'. Try a different name."]}})),
    })
    .await;
    let client = connect_to(&mock, api_key("k"), options()).await;
    let err = client
        .create_group("T", &NewGroup::default())
        .await
        .unwrap_err();
    assert!(
        err.is_duplicate_title() && err.follows_ambiguous_attempt(),
        "{err:?}"
    );
}

#[tokio::test]
async fn invalid_token_is_renewed_once_then_the_call_retried() {
    let mock = MockPortal::start(|s, i| match s.endpoint.as_str() {
        "generateToken" => token_reply(&format!("tok-{i}"), HOUR),
        _ if s.bearer() == Some("tok-0") => Reply::error(498, "Invalid token."),
        _ => members_reply(),
    })
    .await;
    let client = connect_to(&mock, password(), options()).await;
    client.group_members("g").await.unwrap();
    assert_eq!(mock.count("generateToken"), 2);
    let members: Vec<Seen> = mock
        .seen()
        .into_iter()
        .filter(|s| s.endpoint.ends_with("/userList"))
        .collect();
    assert_eq!(members.len(), 2);
    assert_eq!(members[1].bearer(), Some("tok-1"));
    let stats = client.stats();
    assert_eq!((stats.requests["generateToken"], stats.retries), (2, 1));
    // The new token stays in use.
    client.group_members("g").await.unwrap();
    assert_eq!(mock.count("generateToken"), 2);
}

#[tokio::test]
async fn a_token_refused_after_renewal_is_an_auth_error() {
    let mock = MockPortal::start(|s, i| match s.endpoint.as_str() {
        "generateToken" => token_reply(&format!("tok-{i}"), HOUR),
        _ => Reply::status_json(
            498,
            json!({"error": {"code": 498, "message": "Invalid token.", "details": []}}),
        ),
    })
    .await;
    let client = connect_to(&mock, password(), options()).await;
    let err = client.group("g").await.unwrap_err();
    assert!(err.is_auth(), "{err:?}");
    assert_eq!(mock.count("generateToken"), 2, "renewed exactly once");
    assert_eq!(mock.count("community/groups/g"), 2);
}

#[tokio::test]
async fn an_expired_api_key_is_an_auth_error_without_renewal() {
    let mock = MockPortal::start(|_, _| Reply::error(498, "Invalid token.")).await;
    let client = connect_to(&mock, api_key("THE-API-KEY"), options()).await;
    let err = client.portal_self().await.unwrap_err();
    assert!(err.is_auth(), "{err:?}");
    assert_eq!(err.code(), Some(498));
    assert!(
        err.to_string()
            .contains("token expired or invalid; get a new one"),
        "{err}"
    );
    assert!(!err.to_string().contains("THE-API-KEY"));
    assert_eq!(mock.count("generateToken"), 0);
    assert_eq!(mock.seen().len(), 1);
}

/// Read the members of `n` groups (`g0` …) at once, each on its own task; all must succeed.
async fn read_members_at_once(client: &PortalClient, n: usize) {
    let reads = (0..n).map(|i| {
        let client = client.clone();
        tokio::spawn(async move { client.group_members(&format!("g{i}")).await })
    });
    for read in reads.collect::<Vec<_>>() {
        read.await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn one_renewal_serves_every_request_in_flight() {
    // Every request with the first token is rejected; 20 of them in flight at once.
    let mock = MockPortal::start(|s, i| match s.endpoint.as_str() {
        "generateToken" => token_reply(&format!("tok-{i}"), HOUR).after(Duration::from_millis(50)),
        _ if s.bearer() == Some("tok-0") => {
            Reply::error(498, "Invalid token.").after(Duration::from_millis(20))
        }
        _ => members_reply(),
    })
    .await;
    let client = connect_to(&mock, password(), options()).await;
    read_members_at_once(&client, 20).await;
    assert_eq!(
        mock.count("generateToken"),
        2,
        "sign-in plus exactly one renewal"
    );
}

#[tokio::test]
async fn tokens_near_expiry_are_renewed_before_use_by_one_renewal() {
    // 2 s tokens: renewed when less than 20 % (0.4 s) remains.
    let mock = MockPortal::start(|s, i| match s.endpoint.as_str() {
        "generateToken" => token_reply(&format!("tok-{i}"), Duration::from_secs(2))
            .after(Duration::from_millis(50)),
        _ => members_reply(),
    })
    .await;
    let client = connect_to(&mock, password(), options()).await;
    client.group_members("g").await.unwrap();
    tokio::time::sleep(Duration::from_millis(1700)).await;
    read_members_at_once(&client, 10).await;
    assert_eq!(mock.count("generateToken"), 2);
    let tokens: Vec<Option<String>> = mock
        .seen()
        .iter()
        .filter(|s| s.endpoint.ends_with("/userList"))
        .map(|s| s.bearer().map(str::to_owned))
        .collect();
    assert_eq!(tokens[0].as_deref(), Some("tok-0"));
    assert!(
        tokens[1..].iter().all(|t| t.as_deref() == Some("tok-1")),
        "{tokens:?}"
    );
}

#[tokio::test]
async fn concurrency_is_capped_server_side() {
    let mock = MockPortal::start(|_, _| members_reply().after(Duration::from_millis(40))).await;
    let client = connect_to(
        &mock,
        api_key("k"),
        ClientOptions {
            concurrency: NonZeroUsize::new(3).unwrap(),
            ..options()
        },
    )
    .await;
    read_members_at_once(&client, 24).await;
    let max = mock.max_in_flight();
    assert!(max <= 3, "max in flight {max}");
    assert!(max >= 2, "requests do overlap: {max}");
}

#[tokio::test]
async fn a_fixed_rate_spaces_requests() {
    let mock = MockPortal::start(|_, _| members_reply()).await;
    let client = connect_to(
        &mock,
        api_key("k"),
        ClientOptions {
            rate: RateSetting::Fixed(NonZeroU32::new(20).unwrap()),
            ..options()
        },
    )
    .await;
    read_members_at_once(&client, 21).await;
    let seen = mock.seen();
    let span = seen.last().unwrap().at - seen[0].at;
    // 20 intervals at 19.2 req/s (20 with 4 % headroom) ≈ 1.04 s; never a burst.
    assert!(span >= Duration::from_millis(950), "{span:?}");
    let rate = client.stats().current_rate.unwrap();
    assert!((rate - 19.2).abs() < 1e-9, "{rate}");
}

#[tokio::test]
async fn forbidden_write_after_earlier_success_is_retried_once() {
    let calls = Arc::new(AtomicUsize::new(0));
    let mock = MockPortal::start({
        let calls = Arc::clone(&calls);
        move |_, _| match calls.fetch_add(1, Ordering::SeqCst) {
            0 | 2 => Reply::json(json!({"notAdded": []})),
            _ => Reply::error(
                403,
                "You do not have permissions to access this resource or perform this operation.",
            ),
        }
    })
    .await;
    let client = connect_to(&mock, api_key("k"), options()).await;
    let u = vec!["u".to_owned()];
    client.add_users("g", Role::Member, &u).await.unwrap();
    // 403 then success: the one retry saves it.
    client.add_users("g", Role::Member, &u).await.unwrap();
    // 403 twice: a permission failure after exactly one retry.
    let err = client.add_users("g", Role::Member, &u).await.unwrap_err();
    assert!(err.is_permission() && !err.is_auth(), "{err:?}");
    assert_eq!(mock.seen().len(), 5);

    // Without an earlier success of that kind, a 403 is final at once.
    let mock = MockPortal::start(|_, _| Reply::error(403, "You do not have permissions.")).await;
    let client = connect_to(&mock, api_key("k"), options()).await;
    let err = client.remove_users("g", &u).await.unwrap_err();
    assert!(err.is_permission());
    assert_eq!(mock.seen().len(), 1);
}

#[tokio::test]
async fn html_instead_of_json_is_reported_as_a_wrong_url() {
    let mock = MockPortal::start(|s, _| {
        if s.endpoint.starts_with("community/users/") {
            Reply::html(404, "<html><title>404 Not Found</title></html>")
        } else {
            Reply::html(200, "<html><body>Portal home</body></html>")
        }
    })
    .await;
    let client = connect_to(&mock, api_key("k"), options()).await;
    let err = client.portal_self().await.unwrap_err();
    assert!(matches!(err, PortalError::Decode { .. }), "{err:?}");
    assert!(err.to_string().contains("check the portal URL"), "{err}");
    // A web server's 404 page is not "no such user".
    let err = client.user("someone").await.unwrap_err();
    assert_eq!(err.code(), Some(404));
    assert_eq!(mock.seen().len(), 2);
}

#[tokio::test]
async fn an_unparseable_ca_certificate_is_a_setup_error() {
    let err = PortalClient::connect(
        PortalUrl::parse("https://portal.example.com/portal").unwrap(),
        api_key("k"),
        ClientOptions {
            ca_cert: Some(b"not a certificate".to_vec()),
            ..options()
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(err, PortalError::Setup(_)), "{err:?}");
}

/// A server on 127.0.0.1 whose every reply is a 200 with a body that never ends (chunked, no
/// length), or that announces `content_length` bytes. Counts the requests it answered.
async fn endless_server(content_length: Option<u64>) -> (String, Arc<AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let served = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&served);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let count = Arc::clone(&count);
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                count.fetch_add(1, Ordering::SeqCst);
                let framing = match content_length {
                    Some(n) => format!("Content-Length: {n}"),
                    None => "Transfer-Encoding: chunked".to_owned(),
                };
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{framing}\r\n\r\n"
                );
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = "x".repeat(64 * 1024);
                let frame = match content_length {
                    Some(_) => chunk,
                    None => format!("{:x}\r\n{chunk}\r\n", chunk.len()),
                };
                // Until the client hangs up.
                while socket.write_all(frame.as_bytes()).await.is_ok() {}
            });
        }
    });
    (url, served)
}

#[tokio::test]
async fn endless_reply_bodies_are_cut_at_the_cap_and_not_retried() {
    for content_length in [None, Some(100 * 1024 * 1024 * 1024)] {
        let (url, served) = endless_server(content_length).await;
        let client = PortalClient::connect(
            PortalUrl::parse(&url).unwrap(),
            api_key("k"),
            ClientOptions {
                timeout: Duration::from_secs(120),
                ..options()
            },
        )
        .await
        .unwrap();
        let err = client.portal_self().await.unwrap_err();
        assert!(
            matches!(err, PortalError::ReplyTooLarge { cap, .. } if cap == 64 * 1024 * 1024),
            "{content_length:?}: {err:?}"
        );
        assert!(!err.is_retryable() && !err.is_unavailable());
        assert!(err.to_string().contains("exceeds 64 MiB"), "{err}");
        assert_eq!(served.load(Ordering::SeqCst), 1, "not retried");
    }
}

/// A mock whose member lists are refused with `refusal` for the first `refused_for`.
async fn cool_off_portal(refusal: fn() -> Reply, refused_for: Duration) -> MockPortal {
    let started = Instant::now();
    MockPortal::start(move |_, _| {
        if started.elapsed() < refused_for {
            refusal()
        } else {
            members_reply()
        }
    })
    .await
}

#[tokio::test]
async fn a_cool_off_is_waited_out_with_single_probes_and_spends_no_retries() {
    let too_many_403 = || {
        Reply::status_json(
            403,
            json!({"error": {"code": 403, "message": "Too many requests. Try again later.", "details": []}}),
        )
    };
    let bare_429 = || {
        Reply::status_json(
            429,
            json!({"error": {"code": 429, "message": "Too many requests.", "details": []}}),
        )
    };
    for refusal in [too_many_403 as fn() -> Reply, bare_429] {
        // Refused for 2.5 s: the request meets the wall, the probe after 1 s is refused too
        // (a cool-off), the next one 2 s later gets through.
        let mock = cool_off_portal(refusal, Duration::from_millis(2500)).await;
        let client = connect_to(
            &mock,
            api_key("k"),
            ClientOptions {
                retries: 1,
                ..options()
            },
        )
        .await;
        let mut calls = Vec::new();
        for n in 0..4 {
            let client = client.clone();
            calls.push(tokio::spawn(async move {
                client.group_members(&format!("g{n}")).await
            }));
        }
        for call in calls {
            call.await.unwrap().expect("waited out, not failed");
        }
        let stats = client.stats();
        assert_eq!(stats.cool_offs, 1, "{stats:?}");
        // Whatever was in flight meets the wall; then one probe at ~1 s (refused) and one at
        // ~3 s (through), and only then the rest: nothing else is sent against the wall.
        let seen = mock.seen();
        let first = seen[0].at;
        let during = seen
            .iter()
            .filter(|s| {
                (Duration::from_millis(500)..Duration::from_millis(2500)).contains(&(s.at - first))
            })
            .count();
        assert_eq!(during, 1, "one probe while refused: {stats:?}");
        assert_eq!(seen.len() as u64 - stats.throttled, 4, "{stats:?}");
    }
}
