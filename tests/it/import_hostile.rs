//! What the adversarial pass tried and the tool withstood, kept as regression tests: a portal
//! that answers with garbage, and roster cells that try to smuggle search syntax. Each run must
//! end with one results row per roster row and an honest exit code — never a panic or a hang.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::support::*;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::response::Response;
use bulk_groups::exit::Exit;
use bulk_groups::portal::PortalUrl;
use bulk_groups::sim::SeedGroup;

/// A reply the proxy sends instead of the portal's.
#[derive(Clone, Copy, Debug)]
enum Garbage {
    WrongType,
    TruncatedJson,
    HtmlPage,
    ErrorNotAnObject,
    EmptyBody,
}

impl Garbage {
    const ALL: [Garbage; 5] = [
        Garbage::WrongType,
        Garbage::TruncatedJson,
        Garbage::HtmlPage,
        Garbage::ErrorNotAnObject,
        Garbage::EmptyBody,
    ];

    fn reply(self) -> Response {
        let (content_type, body) = match self {
            Garbage::WrongType => ("application/json", r#"{"notAdded":"u0001","groups":7}"#),
            Garbage::TruncatedJson => ("application/json", r#"{"notAdded":["#),
            Garbage::HtmlPage => ("text/html", "<html><body>Welcome to nginx!</body></html>"),
            Garbage::ErrorNotAnObject => ("application/json", r#"{"error":"boom"}"#),
            Garbage::EmptyBody => ("application/json", ""),
        };
        Response::builder()
            .status(200)
            .header("content-type", content_type)
            .body(Body::from(body))
            .unwrap()
    }
}

struct Proxy {
    upstream: String,
    http: reqwest::Client,
    /// Requests whose path contains this are answered with `garbage`.
    corrupt: &'static str,
    garbage: Garbage,
    /// How many replies were corrupted (a case that corrupts nothing tests nothing).
    hits: AtomicU64,
}

/// Forwards everything to the simulator except the corrupted endpoint.
async fn forward(State(proxy): State<Arc<Proxy>>, request: Request) -> Response {
    let path = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    if path.contains(proxy.corrupt) {
        proxy.hits.fetch_add(1, Ordering::Relaxed);
        return proxy.garbage.reply();
    }
    let method = request.method().clone();
    let headers = request.headers().clone();
    let body = to_bytes(request.into_body(), 1 << 20).await.unwrap();
    let mut outgoing = proxy
        .http
        .request(method, format!("{}{path}", proxy.upstream))
        .body(body);
    for name in [
        "content-type",
        "referer",
        "x-esri-authorization",
        "authorization",
    ] {
        if let Some(value) = headers.get(name) {
            outgoing = outgoing.header(name, value.as_bytes());
        }
    }
    let reply = outgoing.send().await.unwrap();
    let mut response = Response::builder().status(reply.status().as_u16());
    if let Some(ct) = reply.headers().get("content-type") {
        response = response.header("content-type", ct.as_bytes());
    }
    response
        .body(Body::from(reply.bytes().await.unwrap()))
        .unwrap()
}

async fn start_proxy(
    upstream: &str,
    corrupt: &'static str,
    garbage: Garbage,
) -> (String, Arc<Proxy>) {
    let proxy = Arc::new(Proxy {
        upstream: upstream.trim_end_matches('/').to_owned(),
        http: reqwest::Client::new(),
        corrupt,
        garbage,
        hits: AtomicU64::new(0),
    });
    let app = axum::Router::new()
        .fallback(forward)
        .with_state(Arc::clone(&proxy));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, proxy)
}

/// Every roster data line has exactly one results row.
fn assert_every_line_once(rows: &[Res], lines: u64) {
    let seen: Vec<&str> = rows.iter().map(|r| r.line.as_str()).collect();
    let unique: BTreeSet<&str> = seen.iter().copied().collect();
    assert_eq!(seen.len(), unique.len(), "a line twice: {rows:?}");
    let expected: BTreeSet<String> = (2..2 + lines).map(|l| l.to_string()).collect();
    let got: BTreeSet<String> = unique.iter().map(|s| s.to_string()).collect();
    assert_eq!(got, expected, "{rows:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_replies_to_writes_and_reads_fail_rows_honestly() {
    let (text, users) = generated_roster(2, 30);
    let mut names: Vec<&str> = users.iter().map(String::as_str).collect();
    names.sort();
    for corrupt in [
        "/addUsers",
        "/community/groups?",
        "/createGroup",
        "/portals/self",
    ] {
        for garbage in Garbage::ALL {
            let sim = start_sim(sim_config(&names)).await;
            let (proxy, counter) = start_proxy(&sim.url, corrupt, garbage).await;
            let dir = Workdir::new();
            let roster = dir.write("r.csv", &text);
            let results = dir.path("r.results.csv");
            let mut config = import_config(&sim, &roster, &results);
            config.portal = PortalUrl::parse(&proxy).unwrap();
            config.client.retries = 1;
            let outcome = run_import(config).await;
            let case = format!("{corrupt} answered with {garbage:?}");
            assert!(
                counter.hits.load(Ordering::Relaxed) > 0,
                "{case}: never asked"
            );
            assert!(
                matches!(
                    outcome.exit,
                    Exit::Success | Exit::RowsNeedAttention | Exit::PortalUnavailable
                ),
                "{case}: {:?}",
                outcome.exit
            );
            let rows = read_results(&results);
            assert_every_line_once(&rows, 60);
            // Garbage is never taken for success: a row is `added` only if the portal has it.
            let state = sim.state();
            for row in rows.iter().filter(|r| r.status == "added") {
                let group = state.group(&row.group).expect("group of an added row");
                assert!(group.users.contains(&row.username), "{case}: {row:?}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_syntax_in_a_title_never_reaches_another_group() {
    let mut config = sim_config(&["a1", "a2", "prof"]);
    config.initial_groups.push(SeedGroup {
        access: "org".into(),
        users: vec!["a2".into()],
        ..SeedGroup::new("Other", "admin")
    });
    let sim = start_sim(config).await;
    let dir = Workdir::new();
    let hostile = r#""Lab"" OR title:""Other"" OR owner:admin""#;
    let roster = dir.write("r.csv", &format!("group,username\n{hostile},a1\n"));
    let results = dir.path("r.results.csv");
    let outcome = run_import(import_config(&sim, &roster, &results)).await;
    assert_exit(&outcome, Exit::Success);
    let state = sim.state();
    let other = state.group("Other").unwrap();
    assert_eq!(other.users, vec!["a2".to_owned()], "Other untouched");
    let created = state
        .groups
        .iter()
        .find(|g| g.title != "Other")
        .expect("a new group");
    assert_eq!(created.title, r#"Lab" OR title:"Other" OR owner:admin"#);
    assert_eq!(created.users, vec!["a1".to_owned()]);
}
