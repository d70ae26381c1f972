//! Secrets never reach the logs: every tracing event at TRACE level during a sign-in, a token
//! renewal, a retried request and a failing request is captured and searched for the password
//! and the tokens. Also checks `Debug` output of credentials and client, and error texts.
//!
//! Its own test crate (the one exception to `tests/it`), because it captures tracing through a
//! thread-local subscriber: tracing caches each callsite's interest process-wide, and a callsite
//! first reached by another test's thread while this subscriber is being installed can stay
//! disabled for it — so, among the parallel tests of `tests/it`, this test lost events about one
//! run in three. A process of its own has no other threads.

#[allow(dead_code)] // the mock portal serves many tests in `tests/it`; this one uses a part
#[path = "../it/support/mock_portal.rs"]
mod mock_portal;

use std::io::Write;
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bulk_groups::portal::{ClientOptions, Credentials, PortalClient, PortalUrl, RateSetting};
use mock_portal::{MockPortal, Reply, token_reply};
use secrecy::SecretString;
use serde_json::json;

const PASSWORD: &str = "correct-horse-battery-staple";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

// current_thread runtime (the default): the mock server's tasks and the client run on this
// thread, so the thread-local subscriber sees every event.
#[tokio::test]
async fn no_secret_in_trace_logs_errors_or_debug_output() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(captured.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let mock = MockPortal::start(|s, i| match s.endpoint.as_str() {
        "generateToken" => token_reply(&format!("secret-token-{i}"), Duration::from_secs(3600)),
        _ if s.bearer() == Some("secret-token-0") => Reply::error(498, "Invalid token."),
        "community/groups" if i < 2 => Reply::status_json(
            429,
            json!({"error": {"code": 429, "message": "Too many requests.", "details": []}}),
        ),
        "community/groups" => Reply::json(json!({"total": 0, "nextStart": -1, "results": []})),
        "portals/self" => Reply::html(503, "<html><title>Service Unavailable</title></html>"),
        _ => Reply::json(json!({"owner": "admin", "nextStart": -1, "users": []})),
    })
    .await;
    let credentials = Credentials::Password {
        username: "admin".into(),
        password: SecretString::from(PASSWORD),
    };
    let client = PortalClient::connect(
        PortalUrl::parse(&mock.url).unwrap(),
        credentials.clone(),
        ClientOptions {
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            retries: 2,
            concurrency: NonZeroUsize::new(4).unwrap(),
            rate: RateSetting::Fixed(NonZeroU32::new(1000).unwrap()),
            ca_cert: None,
            ..ClientOptions::default()
        },
    )
    .await
    .unwrap();
    client.group_members("g").await.unwrap(); // 498 → renewal → retry
    client.search_groups("q", 1, 10).await.unwrap(); // 429 twice → retries
    let err = client.portal_self().await.unwrap_err(); // 503 until retries run out

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("portal request"), "capture works:\n{logs}");
    assert!(logs.contains("retrying"), "retries are logged:\n{logs}");
    let texts = [
        logs,
        err.to_string(),
        format!("{err:?}"),
        format!("{credentials:?}"),
        format!("{client:?}"),
    ];
    for text in &texts {
        for secret in [PASSWORD, "secret-token-0", "secret-token-1"] {
            assert!(!text.contains(secret), "{secret} leaked into:\n{text}");
        }
    }
    // The tokens really were in use (so their absence above means something).
    let bearers: Vec<String> = mock
        .seen()
        .iter()
        .filter_map(|s| s.bearer().map(str::to_owned))
        .collect();
    assert!(bearers.iter().any(|b| b == "secret-token-1"), "{bearers:?}");
}
