//! Helpers shared by the portal-sim conformance tests (`sim_*` modules): start a simulator
//! in-process on port 0 with a fixed cast of users, and speak to it with reqwest as a client
//! would (form POSTs, `f=json`, tokens in the `token` field or a header).

use bulk_groups::sim::{RunningSim, SimConfig, SimRole, SimUser};
use reqwest::StatusCode;
use serde_json::Value;

/// The cast: admin (home org admin), alice and bob (home users who can sign in), carol (home
/// user without password), nearly_full (one slot below a limit of 512), outsider (another org),
/// xadmin (admin of the other org, can sign in).
pub fn users() -> Vec<SimUser> {
    let user = |name: &str, pw: Option<&str>| SimUser {
        password: pw.map(str::to_owned),
        ..SimUser::new(name)
    };
    vec![
        user("alice", Some("alice-pw")),
        user("bob", Some("bob-pw")),
        user("carol", None),
        SimUser {
            groups: 511,
            ..SimUser::new("nearly_full")
        },
        SimUser {
            org: Some("elsewhere".to_owned()),
            ..SimUser::new("outsider")
        },
        SimUser {
            org: Some("elsewhere".to_owned()),
            role: SimRole::OrgAdmin,
            password: Some("x-pw".to_owned()),
            ..SimUser::new("xadmin")
        },
    ]
}

/// The default test configuration: [`users`], everything else default.
pub fn config() -> SimConfig {
    SimConfig {
        users: users(),
        ..SimConfig::default()
    }
}

/// The referer [`Sim::token`] binds its tokens to; [`client`] sends it on every request.
pub const REFERER: &str = "http://localhost";

/// A loopback client that ignores proxy variables and sends `Referer: REFERER`.
pub fn client() -> reqwest::Client {
    client_builder().build().expect("client")
}

/// [`client`]'s settings, for a test that adds its own (a load test's pool size).
pub fn client_builder() -> reqwest::ClientBuilder {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::REFERER,
        reqwest::header::HeaderValue::from_static(REFERER),
    );
    reqwest::Client::builder()
        .no_proxy()
        .default_headers(headers)
        .timeout(std::time::Duration::from_secs(30))
}

/// A simulator by its URL plus a client: the one handle for a simulator started in-process
/// ([`start`]) and for a `portal-sim` process or a URL from the environment.
pub struct SimAt {
    /// `http(s)://127.0.0.1:<port>`.
    pub url: String,
    /// The client.
    pub http: reqwest::Client,
}

/// An in-process simulator; its requests go through the [`SimAt`] it derefs to.
pub struct Sim {
    /// The running simulator.
    pub sim: RunningSim,
    at: SimAt,
}

impl std::ops::Deref for Sim {
    type Target = SimAt;
    fn deref(&self) -> &SimAt {
        &self.at
    }
}

/// Starts a simulator with `config`.
pub async fn start(config: SimConfig) -> Sim {
    let sim = RunningSim::start(config).await.expect("start simulator");
    let at = SimAt {
        url: sim.url.clone(),
        http: client(),
    };
    Sim { sim, at }
}

/// The decoded reply: HTTP status, headers and JSON body (`Value::Null` if not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    /// `error.code`, if the body is an error envelope.
    pub fn error_code(&self) -> Option<i64> {
        self.body["error"]["code"].as_i64()
    }

    /// `error.messageCode`, if any.
    pub fn message_code(&self) -> Option<&str> {
        self.body["error"]["messageCode"].as_str()
    }
}

pub async fn decode(response: reqwest::Response) -> Reply {
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
        text,
    }
}

impl SimAt {
    /// `<portal>/sharing/rest/<path>`.
    pub fn rest(&self, path: &str) -> String {
        format!("{}/sharing/rest/{}", self.url, path)
    }

    /// POST `path` with `f=json`, the token (if any) in the form, and `form`.
    pub async fn post(&self, path: &str, token: Option<&str>, form: &[(&str, &str)]) -> Reply {
        let mut fields: Vec<(&str, &str)> = vec![("f", "json")];
        if let Some(t) = token {
            fields.push(("token", t));
        }
        fields.extend_from_slice(form);
        decode(
            self.http
                .post(self.rest(path))
                .form(&fields)
                .send()
                .await
                .expect("request"),
        )
        .await
    }

    /// GET `path` with `f=json` and the token (if any) in `X-Esri-Authorization`.
    pub async fn get(&self, path: &str, token: Option<&str>, query: &[(&str, &str)]) -> Reply {
        let mut req = self
            .http
            .get(self.rest(path))
            .query(&[("f", "json")])
            .query(query);
        if let Some(t) = token {
            req = req.header("X-Esri-Authorization", format!("Bearer {t}"));
        }
        decode(req.send().await.expect("request")).await
    }

    /// A token for `username` via generateToken.
    pub async fn token(&self, username: &str, password: &str) -> String {
        let r = self
            .post(
                "generateToken",
                None,
                &[
                    ("username", username),
                    ("password", password),
                    ("client", "referer"),
                    ("referer", REFERER),
                ],
            )
            .await;
        r.body["token"]
            .as_str()
            .unwrap_or_else(|| panic!("no token for {username}: {}", r.text))
            .to_owned()
    }

    /// The admin's token.
    pub async fn admin(&self) -> String {
        self.token("admin", "admin-password").await
    }

    /// Creates a group and returns its id (panics on error).
    pub async fn create_group(&self, token: &str, title: &str, access: &str) -> String {
        let r = self
            .post(
                "community/createGroup",
                Some(token),
                &[("title", title), ("access", access), ("tags", "test")],
            )
            .await;
        assert_eq!(r.body["success"], true, "createGroup {title}: {}", r.text);
        r.body["group"]["id"].as_str().expect("id").to_owned()
    }

    /// addUsers with `users=` and returns the reply.
    pub async fn add_users(&self, token: &str, id: &str, users: &str) -> Reply {
        self.post(
            &format!("community/groups/{id}/addUsers"),
            Some(token),
            &[("users", users)],
        )
        .await
    }
}

/// `n` distinct usernames `user000001…` (matching `--seed-users`), comma-separated.
pub fn seed_names(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("user{i:06}"))
        .collect::<Vec<_>>()
        .join(",")
}
