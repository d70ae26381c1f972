//! A scriptable mock portal for the portal client's integration tests: an axum server on
//! 127.0.0.1:0 that records every request (method, path, query, form, headers, arrival time)
//! and answers with whatever the test's closure says. In-flight requests are counted
//! server-side so tests can check the client's concurrency cap.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// One request as the mock saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// Path relative to `/sharing/rest/` (e.g. `community/groups/abc/addUsers`).
    pub endpoint: String,
    pub query: HashMap<String, String>,
    pub form: HashMap<String, String>,
    pub headers: HashMap<String, String>,
    pub raw_query: String,
    pub at: Instant,
}

impl Seen {
    /// A parameter from the query or the form.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.form
            .get(name)
            .or_else(|| self.query.get(name))
            .map(String::as_str)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    pub fn bearer(&self) -> Option<&str> {
        self.header("x-esri-authorization")
            .and_then(|v| v.strip_prefix("Bearer "))
    }
}

/// A reply: status, extra headers, body, and a delay before it is sent.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
    pub delay: Duration,
}

impl Reply {
    pub fn json(body: serde_json::Value) -> Reply {
        Reply::status_json(200, body)
    }

    pub fn status_json(status: u16, body: serde_json::Value) -> Reply {
        Reply {
            status,
            headers: vec![("content-type", "application/json".into())],
            body: body.to_string(),
            delay: Duration::ZERO,
        }
    }

    pub fn html(status: u16, body: &str) -> Reply {
        Reply {
            status,
            headers: vec![("content-type", "text/html".into())],
            body: body.to_owned(),
            delay: Duration::ZERO,
        }
    }

    /// `{"error":{"code":code,"message":message,"details":[]}}` in a 200.
    pub fn error(code: i64, message: &str) -> Reply {
        Reply::json(serde_json::json!({"error":{"code":code,"message":message,"details":[]}}))
    }

    pub fn with_header(mut self, name: &'static str, value: &str) -> Reply {
        self.headers.push((name, value.to_owned()));
        self
    }

    pub fn after(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }
}

type Script = dyn Fn(&Seen, usize) -> Reply + Send + Sync;

pub struct Mock {
    script: Box<Script>,
    pub seen: Mutex<Vec<Seen>>,
    in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
}

/// A running mock portal.
pub struct MockPortal {
    /// The portal URL to give the client (a web-adaptor style prefix, plain HTTP on loopback).
    pub url: String,
    pub mock: Arc<Mock>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for MockPortal {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl MockPortal {
    /// Starts a mock whose replies come from `script(request, index of this request among the
    /// requests to the same endpoint)`.
    pub async fn start(
        script: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static,
    ) -> MockPortal {
        let mock = Arc::new(Mock {
            script: Box::new(script),
            seen: Mutex::new(Vec::new()),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        });
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&mock));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        MockPortal {
            url: format!("http://{addr}/arcgis"),
            mock,
            server,
        }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.mock.seen.lock().unwrap().clone()
    }

    pub fn count(&self, endpoint: &str) -> usize {
        self.seen()
            .iter()
            .filter(|s| s.endpoint == endpoint)
            .count()
    }

    pub fn max_in_flight(&self) -> usize {
        self.mock.max_in_flight.load(Ordering::SeqCst)
    }
}

fn parse_pairs(text: &str) -> HashMap<String, String> {
    url::form_urlencoded::parse(text.as_bytes())
        .into_owned()
        .collect()
}

async fn handle(
    State(mock): State<Arc<Mock>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = mock.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    mock.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let raw_query = uri.query().unwrap_or_default().to_owned();
    let endpoint = uri
        .path()
        .split_once("/sharing/rest/")
        .map(|(_, rest)| rest.to_owned())
        .unwrap_or_else(|| uri.path().to_owned());
    let seen = Seen {
        method: method.to_string(),
        endpoint: endpoint.clone(),
        query: parse_pairs(&raw_query),
        form: parse_pairs(&String::from_utf8_lossy(&body)),
        headers: headers
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("?").to_owned()))
            .collect(),
        raw_query,
        at: Instant::now(),
    };
    let index = {
        let mut all = mock.seen.lock().unwrap();
        let index = all.iter().filter(|s| s.endpoint == endpoint).count();
        all.push(seen.clone());
        index
    };
    let reply = (mock.script)(&seen, index);
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    mock.in_flight.fetch_sub(1, Ordering::SeqCst);
    let mut response = (StatusCode::from_u16(reply.status).unwrap(), reply.body).into_response();
    for (name, value) in reply.headers {
        response.headers_mut().insert(name, value.parse().unwrap());
    }
    response
}

/// `generateToken`'s success reply for `token`, valid for `ttl`.
pub fn token_reply(token: &str, ttl: Duration) -> Reply {
    let expires = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        + ttl.as_millis() as u64;
    Reply::json(serde_json::json!({"token": token, "expires": expires, "ssl": false}))
}
