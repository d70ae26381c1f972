//! Sign-in and tokens: where a request's token comes from, the token table with expiry, and
//! the pages of the OAuth2 implicit flow the ArcGIS API for Python scrapes
//! (`reference/arcgis-rest.md` §2.3): `oauth2/authorize` serves an HTML page carrying a
//! one-line JSON object with `oauth_state`; `oauth2/signin` answers a 302 whose `Location`
//! fragment holds `access_token`, `expires_in` and the client's `state`.

use std::collections::HashMap;
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::http::HeaderMap;
use serde_json::json;

use super::config::Scheme;
use super::wire::{ApiError, Params};
use crate::text::escape_html;

/// Who is calling, once the token has been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// No token was presented.
    Anonymous,
    /// A valid app token (`oauth2/token` client credentials): signed in, but no user.
    App,
    /// A valid user token.
    User(String),
}

impl Caller {
    /// The username, for user tokens.
    pub fn username(&self) -> Option<&str> {
        match self {
            Caller::User(u) => Some(u),
            _ => None,
        }
    }
}

/// The token the request carries: `token` parameter (query or form), then
/// `X-Esri-Authorization: Bearer …`, then `Authorization: Bearer …`.
pub fn presented_token(headers: &HeaderMap, params: &Params) -> Option<String> {
    if let Some(t) = params.non_empty("token") {
        return Some(t.to_owned());
    }
    ["x-esri-authorization", "authorization"]
        .iter()
        .filter_map(|h| headers.get(*h)?.to_str().ok())
        .filter_map(|v| {
            let (scheme, rest) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        })
        .find(|t| !t.is_empty())
        .map(str::to_owned)
}

#[derive(Debug, Clone)]
struct TokenInfo {
    username: Option<String>,
    expires_at: Instant,
    /// `generateToken` with `client=referer`: the `Referer` every later request must carry.
    referer: Option<String>,
}

/// The `Referer` header of a request, if any.
pub fn presented_referer(headers: &HeaderMap) -> Option<&str> {
    headers.get("referer")?.to_str().ok()
}

/// A freshly issued token.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The token string.
    pub token: String,
    /// Seconds until it expires.
    pub expires_in: u64,
    /// Expiry as Unix epoch milliseconds (what `generateToken` reports).
    pub expires_ms: u128,
}

/// A pending `oauth2/authorize` request, waiting for its sign-in.
#[derive(Debug, Clone)]
struct PendingAuth {
    redirect_uri: String,
    state: Option<String>,
    expiration_min: Option<u64>,
    created: Instant,
}

/// The token table and the pending OAuth2 authorizations.
#[derive(Debug)]
pub struct Tokens {
    ttl: Duration,
    issued: RwLock<HashMap<String, TokenInfo>>,
    pending: Mutex<HashMap<String, PendingAuth>>,
}

impl Tokens {
    /// An empty table whose tokens live at most `ttl`.
    pub fn new(ttl: Duration) -> Tokens {
        Tokens {
            ttl,
            issued: RwLock::new(HashMap::new()),
            pending: Mutex::new(HashMap::new()),
        }
    }

    /// Checks a presented token: none → anonymous; unknown, expired, or bound to another
    /// referer than the request's `Referer` header (missing included) → 498, as the real
    /// portal answers a referer-bound token used from elsewhere.
    pub fn resolve(&self, token: Option<&str>, referer: Option<&str>) -> Result<Caller, ApiError> {
        let Some(token) = token else {
            return Ok(Caller::Anonymous);
        };
        let table = self.issued.read().unwrap_or_else(|e| e.into_inner());
        match table.get(token) {
            Some(info)
                if info.expires_at > Instant::now()
                    && info.referer.as_deref().is_none_or(|r| Some(r) == referer) =>
            {
                Ok(info.username.clone().map_or(Caller::App, Caller::User))
            }
            _ => Err(ApiError::invalid_token()),
        }
    }

    /// Records `token` for `username` (`None` = app token), bound to `referer` when given.
    /// The lifetime is the client's `expiration` (minutes) when given, never more than
    /// `--token-ttl`.
    pub fn issue(
        &self,
        token: String,
        username: Option<String>,
        expiration_min: Option<u64>,
        referer: Option<String>,
    ) -> Issued {
        let lifetime = expiration_min
            .map(|m| Duration::from_secs(m.saturating_mul(60)))
            .map_or(self.ttl, |d| d.min(self.ttl));
        let expires_ms = (SystemTime::now() + lifetime)
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        self.issued
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                token.clone(),
                TokenInfo {
                    username,
                    expires_at: Instant::now() + lifetime,
                    referer,
                },
            );
        Issued {
            token,
            expires_in: lifetime.as_secs(),
            expires_ms,
        }
    }

    /// Remembers an `oauth2/authorize` request under a fresh `oauth_state`.
    pub fn begin_authorize(&self, oauth_state: &str, p: &Params) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        // Abandoned authorizations (the Python client makes one per redirect-uri probe).
        pending.retain(|_, a| a.created.elapsed() < Duration::from_secs(3600));
        pending.insert(
            oauth_state.to_owned(),
            PendingAuth {
                redirect_uri: p.get("redirect_uri").unwrap_or("").to_owned(),
                state: p.get("state").map(str::to_owned),
                expiration_min: p.get("expiration").and_then(|e| e.trim().parse().ok()),
                created: Instant::now(),
            },
        );
    }

    /// Consumes the pending authorization `oauth_state`: `(redirect_uri, state, expiration)`.
    pub fn finish_authorize(
        &self,
        oauth_state: &str,
    ) -> Option<(String, Option<String>, Option<u64>)> {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending
            .remove(oauth_state)
            .map(|a| (a.redirect_uri, a.state, a.expiration_min))
    }
}

/// Whether `oauth2/authorize` accepts this `redirect_uri` (any https URL, or the
/// out-of-band URN); the Python client probes candidates until one is accepted.
pub fn redirect_uri_ok(uri: &str) -> bool {
    uri.starts_with("https://") || uri == "urn:ietf:wg:oauth:2.0:oob"
}

/// The sign-in page of `oauth2/authorize`. The JSON object sits alone on one line and no
/// other line has braces: the Python client extracts it with the regex `\{.*\}`.
pub fn authorize_page(
    oauth_state: &str,
    p: &Params,
    signin_path: &str,
    error: Option<&str>,
) -> String {
    let info = json!({
        "oauth_state": oauth_state,
        "client_id": p.get("client_id").unwrap_or(""),
        "response_type": p.get("response_type").unwrap_or("token"),
        "redirect_uri": p.get("redirect_uri").unwrap_or(""),
        "locale": p.get("locale").unwrap_or("en-US"),
        "appTitle": "portal-sim",
        "persistOption": false,
    });
    let error = error.map_or(String::new(), |e| {
        format!("<p class=\"error\">{}</p>\n", escape_html(e))
    });
    format!(
        "<!DOCTYPE html>\n<html><head><title>Sign In</title></head>\n<body>\n\
         <script type=\"text/javascript\">\nvar oAuthInfo = {info};\n</script>\n{error}\
         <form method=\"post\" action=\"{action}\">\n\
         <input type=\"hidden\" name=\"oauth_state\" value=\"{state}\">\n\
         <label>Username <input name=\"username\"></label>\n\
         <label>Password <input name=\"password\" type=\"password\"></label>\n\
         <button type=\"submit\">Sign In</button>\n</form>\n</body></html>\n",
        action = escape_html(signin_path),
        state = escape_html(oauth_state),
    )
}

/// The `Location` of a successful sign-in: the token travels in the URL fragment.
pub fn signin_location(
    redirect_uri: &str,
    issued: &Issued,
    username: &str,
    state: Option<&str>,
    scheme: Scheme,
) -> String {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let mut location = format!(
        "{redirect_uri}#access_token={}&expires_in={}&username={}&ssl={}&persist=false",
        enc(&issued.token),
        issued.expires_in,
        enc(username),
        scheme.is_tls(),
    );
    if let Some(state) = state {
        location.push_str("&state=");
        location.push_str(&enc(state));
    }
    location
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn token_sources_and_expiry() {
        let tokens = Tokens::new(Duration::from_secs(3600));
        tokens.issue("t1".into(), Some("alice".into()), None, None);
        let expired = tokens.issue("t2".into(), Some("bob".into()), Some(0), None);
        assert_eq!(expired.expires_in, 0);
        assert_eq!(
            tokens.resolve(Some("t1"), None),
            Ok(Caller::User("alice".into()))
        );
        assert_eq!(tokens.resolve(Some("t2"), None).unwrap_err().code, 498);
        assert_eq!(tokens.resolve(Some("nope"), None).unwrap_err().code, 498);
        assert_eq!(tokens.resolve(None, None), Ok(Caller::Anonymous));

        tokens.issue("t3".into(), Some("carl".into()), None, Some("app".into()));
        assert_eq!(
            tokens.resolve(Some("t3"), Some("app")),
            Ok(Caller::User("carl".into()))
        );
        for other in [None, Some("App"), Some("elsewhere")] {
            assert_eq!(tokens.resolve(Some("t3"), other).unwrap_err().code, 498);
        }

        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_static("Bearer abc"));
        assert_eq!(
            presented_token(&headers, &Params::default()).as_deref(),
            Some("abc")
        );
        headers.insert(
            "x-esri-authorization",
            HeaderValue::from_static("Bearer xyz"),
        );
        assert_eq!(
            presented_token(&headers, &Params::default()).as_deref(),
            Some("xyz")
        );
        let p = Params::parse(Some("token=q"), b"");
        assert_eq!(presented_token(&headers, &p).as_deref(), Some("q"));
    }

    #[test]
    fn authorize_page_has_one_json_line() {
        let p = Params::parse(Some("client_id=pythonapi&redirect_uri=https://h"), b"");
        let page = authorize_page("S1", &p, "/sharing/oauth2/signin", None);
        let lines: Vec<&str> = page.lines().filter(|l| l.contains('{')).collect();
        assert_eq!(lines.len(), 1);
        let json_text = &lines[0][lines[0].find('{').unwrap()..=lines[0].rfind('}').unwrap()];
        let v: serde_json::Value = serde_json::from_str(json_text).unwrap();
        assert_eq!(v["oauth_state"], "S1");
    }
}
