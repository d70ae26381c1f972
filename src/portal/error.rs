//! [`PortalError`]: every way a portal call can fail, classified once, here.
//!
//! The portal reports errors three ways and all three are handled by `classify_response`:
//! HTTP 200 with an `{"error":{...}}` body (the usual case), an HTTP error status with the same
//! JSON body, and an HTML page from a gateway (502/503). Call sites decide with the `is_*`
//! methods, never by matching message text.
//!
//! No variant holds a URL, a token or a password: transport errors are stored as text built from
//! `reqwest::Error::without_url()`, and the client never puts secrets in URLs anyway.

use std::time::Duration;

use serde_json::Value;

use super::kind::RequestKind;

/// The text the portal puts in `details` of a duplicate-title createGroup error (COM_0044).
const DUPLICATE_TITLE_TEXT: &str = "You already have a group named";
/// Message of the "no such user / group or not visible to you" errors.
const NOT_FOUND_TEXT: &str = "does not exist or is inaccessible";
/// Phrases (lower case) of an error reply that is about the request rate, whatever its code:
/// a 403 "Too many requests" is throttling, not a missing permission.
const RATE_LIMIT_TEXTS: [&str; 5] = [
    "too many requests",
    "rate limit",
    "request limit",
    "rate exceeded",
    "throttl",
];

/// A portal call that failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum PortalError {
    /// The portal answered with its JSON error envelope (in a 200 or an error status).
    #[error("{0}")]
    Api(Box<ApiError>),
    /// An HTTP error status without a JSON error envelope: a gateway's HTML page, a redirect,
    /// an empty body.
    #[error("{kind}: HTTP {status} from the portal{}", excerpt_suffix(.excerpt))]
    Http {
        /// Which request.
        kind: RequestKind,
        /// The HTTP status.
        status: u16,
        /// A short plain-text excerpt of the body (an HTML page's title) or a hint.
        excerpt: String,
        /// The `Retry-After` delay, when the reply had one.
        retry_after: Option<Duration>,
        /// The portal may have applied the write behind a failing gateway.
        ambiguous: bool,
    },
    /// No HTTP response: connection refused or reset, TLS failure, timeout.
    #[error("{kind}: {message}")]
    Transport {
        /// Which request.
        kind: RequestKind,
        /// What happened (from `reqwest::Error::without_url()` and its sources).
        message: String,
        /// The request timed out (connect or total).
        timeout: bool,
        /// The connection could not be established: the request was certainly not sent.
        connect: bool,
        /// A write request may have reached the portal and been applied.
        ambiguous: bool,
    },
    /// The portal's host name could not be resolved: a typo in the URL, or no DNS. Retried
    /// once only (`retries_allowed`): a resolver may fail for a moment, a
    /// misspelt name never resolves.
    #[error(
        "{kind}: the host name {host} could not be resolved ({message}); check the spelling of the portal URL (--portal or ARCGIS_PORTAL) and this machine's DNS"
    )]
    HostNotFound {
        /// Which request.
        kind: RequestKind,
        /// The host name that did not resolve.
        host: String,
        /// What the resolver said.
        message: String,
    },
    /// The server answered the TLS handshake in plain HTTP: the URL says https:// (or gives no
    /// scheme, which means https://) for a plain-HTTP port. Not retried.
    #[error("{kind}: the server at {server} speaks plain HTTP, not HTTPS; {}", plain_http_advice(.server, *.loopback))]
    PlainHttp {
        /// `host:port`.
        server: String,
        /// Which request.
        kind: RequestKind,
        /// The host is this machine (plain http:// is allowed there).
        loopback: bool,
    },
    /// The portal's TLS certificate was refused (unknown issuer, wrong name, expired). Not
    /// retried: it will not fix itself.
    #[error(
        "{kind}: the portal's TLS certificate is not trusted ({message}); if the portal uses a private certificate authority, pass its certificate with --ca-cert"
    )]
    Certificate {
        /// Which request.
        kind: RequestKind,
        /// What the TLS library said.
        message: String,
    },
    /// A success status whose body is not what the endpoint returns (HTML, missing fields).
    #[error("{kind}: unexpected response from the portal: {message}")]
    Decode {
        /// Which request.
        kind: RequestKind,
        /// What was wrong.
        message: String,
    },
    /// The request was not sent because the run is stopping (an interrupt); see
    /// [`crate::portal::PortalClient::stop_new_requests`].
    #[error("{kind}: not sent, the run is stopping")]
    Stopped {
        /// Which request.
        kind: RequestKind,
    },
    /// `generateToken` refused the credentials (or the account cannot use it).
    #[error("sign-in failed: {message}")]
    SignIn {
        /// The portal's message and details.
        message: String,
        /// The portal's error code, if any.
        code: Option<i64>,
    },
    /// A 498/499 token error that renewing cannot fix: a static token (API key) that expired or
    /// is invalid, or a freshly issued token that was refused too.
    #[error("{kind}: the portal rejected the token (code {code}): {}", token_advice(*.renewable))]
    TokenRejected {
        /// Which request.
        kind: RequestKind,
        /// 498 (invalid/expired) or 499 (required).
        code: i64,
        /// Whether the credentials were renewable (a password sign-in).
        renewable: bool,
    },
    /// Retries ran out on retryable failures (connection errors, timeouts, 5xx, 429): the
    /// portal is down or keeps failing.
    #[error("{kind}: the portal kept failing after {attempts} attempts; last error: {last}")]
    Unavailable {
        /// Which request.
        kind: RequestKind,
        /// How many times the request was sent.
        attempts: u32,
        /// Some attempt of a write may have been applied (see [`PortalError::is_ambiguous`]).
        ambiguous: bool,
        /// The last failure.
        last: Box<PortalError>,
    },
    /// Nothing has succeeded for a while (see [`crate::portal::pacing::STALL_LIMIT`]) while
    /// requests failed or were throttled: this one is given up, sent or not.
    #[error(
        "{kind}: given up: nothing has succeeded for {} s while the portal kept failing or refusing requests{}",
        .waited.as_secs(),
        last.as_ref().map(|e| format!("; last error: {e}")).unwrap_or_default()
    )]
    Stalled {
        /// Which request.
        kind: RequestKind,
        /// How long nothing had succeeded.
        waited: Duration,
        /// Some attempt of a write may have been applied.
        ambiguous: bool,
        /// The last failure of this request, if it was sent at all.
        last: Option<Box<PortalError>>,
    },
    /// The reply was larger than [`crate::portal::client::MAX_REPLY_BYTES`]: no real portal
    /// reply is near it, and reading on would let a broken server exhaust memory. Not retried.
    #[error("{kind}: the portal's reply exceeds {} MiB, the most this client reads", .cap / (1024 * 1024))]
    ReplyTooLarge {
        /// Which request.
        kind: RequestKind,
        /// The cap, in bytes.
        cap: u64,
    },
    /// The HTTP client could not be built (e.g. an unreadable `--ca-cert`).
    #[error("cannot set up the connection to the portal: {0}")]
    Setup(String),
}

/// The portal's JSON error envelope, `{"error":{"code","messageCode","message","details"}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// Which request.
    pub kind: RequestKind,
    /// The HTTP status it came with (usually 200).
    pub http_status: u16,
    /// `error.code` (400, 403, 498, …).
    pub code: Option<i64>,
    /// `error.messageCode` (`COM_0044`, `ORG_3100`, …).
    pub message_code: Option<String>,
    /// `error.message`.
    pub message: String,
    /// `error.details`, as text.
    pub details: Vec<String>,
    /// The `Retry-After` delay, when the reply had one.
    pub retry_after: Option<Duration>,
    /// An earlier attempt of this same call failed ambiguously (its write may have been
    /// applied). With createGroup this makes a COM_0044 most likely our own earlier success.
    pub after_ambiguous: bool,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)?;
        let mut details = self
            .details
            .iter()
            .filter(|d| !d.is_empty() && **d != self.message);
        if let Some(first) = details.next() {
            write!(f, " ({first}")?;
            for d in details {
                write!(f, "; {d}")?;
            }
            f.write_str(")")?;
        }
        match (self.code, &self.message_code) {
            (Some(code), Some(mc)) => write!(f, " [code {code}, {mc}]"),
            (Some(code), None) => write!(f, " [code {code}]"),
            (None, Some(mc)) => write!(f, " [{mc}]"),
            (None, None) => Ok(()),
        }
    }
}

fn excerpt_suffix(excerpt: &str) -> String {
    if excerpt.is_empty() {
        String::new()
    } else {
        format!(": {excerpt}")
    }
}

fn plain_http_advice(server: &str, loopback: bool) -> String {
    if loopback {
        format!(
            "for a portal on this machine give http://{server} (a portal URL without a scheme means https://)"
        )
    } else {
        "check the port in the portal URL (plain http:// is accepted only for this machine)"
            .to_owned()
    }
}

fn token_advice(renewable: bool) -> &'static str {
    if renewable {
        "a freshly issued token was refused too; check the account and the portal's sign-in settings"
    } else {
        "token expired or invalid; get a new one"
    }
}

fn names_rate_limit(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    RATE_LIMIT_TEXTS.iter().any(|t| lower.contains(t))
}

fn is_retryable_status(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504)
}

impl PortalError {
    /// A transient failure worth retrying: connection errors, timeouts, HTTP 429/500/502/503/504,
    /// JSON error code 429/503. False for [`PortalError::Unavailable`]: the client has already
    /// retried (see [`PortalError::is_unavailable`]).
    pub fn is_retryable(&self) -> bool {
        match self {
            PortalError::Transport { .. } | PortalError::HostNotFound { .. } => true,
            PortalError::Http { status, .. } => is_retryable_status(*status),
            PortalError::Api(api) => {
                is_retryable_status(api.http_status)
                    || matches!(api.code, Some(429 | 503))
                    || self.is_throttled()
            }
            _ => false,
        }
    }

    /// How many of the `configured` retries this failure deserves: one for a host name that
    /// did not resolve (seven attempts would only delay the message by a minute), all of
    /// them otherwise.
    pub(crate) fn retries_allowed(&self, configured: u32) -> u32 {
        match self {
            PortalError::HostNotFound { .. } => configured.min(1),
            _ => configured,
        }
    }

    /// The portal said "too many requests": HTTP 429, error code 429, or an error reply whose
    /// message names a rate or request limit (some portals throttle with a 403).
    pub fn is_throttled(&self) -> bool {
        match self {
            PortalError::Http {
                status, excerpt, ..
            } => *status == 429 || (*status == 403 && names_rate_limit(excerpt)),
            PortalError::Api(api) => {
                api.http_status == 429
                    || api.code == Some(429)
                    || names_rate_limit(&api.message)
                    || api.details.iter().any(|d| names_rate_limit(d))
            }
            _ => false,
        }
    }

    /// Authentication failed for the run as a whole: bad credentials, an expired or invalid
    /// static token (498 on an API key), or a token refused right after renewal.
    pub fn is_auth(&self) -> bool {
        matches!(
            self,
            PortalError::SignIn { .. } | PortalError::TokenRejected { .. }
        )
    }

    /// The caller may not do this (403, unless the reply is about too many requests).
    pub fn is_permission(&self) -> bool {
        let forbidden = match self {
            PortalError::Http { status, .. } => *status == 403,
            PortalError::Api(api) => api.code == Some(403) || api.http_status == 403,
            _ => false,
        };
        forbidden && !self.is_throttled()
    }

    /// createGroup refused a title the caller already owns (`COM_0044`, or the details text
    /// "You already have a group named"). After an ambiguous attempt of the same call this is
    /// most likely the group our own lost request created
    /// (see [`PortalError::follows_ambiguous_attempt`]).
    pub fn is_duplicate_title(&self) -> bool {
        match self {
            PortalError::Api(api) => {
                api.message_code.as_deref() == Some("COM_0044")
                    || api.details.iter().any(|d| d.contains(DUPLICATE_TITLE_TEXT))
                    || api.message.contains(DUPLICATE_TITLE_TEXT)
            }
            _ => false,
        }
    }

    /// The user or group does not exist or is not visible to the caller.
    pub fn is_not_found(&self) -> bool {
        match self {
            PortalError::Api(api) => {
                api.code == Some(404)
                    || api.http_status == 404
                    || api.message.contains(NOT_FOUND_TEXT)
                    || api.details.iter().any(|d| d.contains(NOT_FOUND_TEXT))
            }
            PortalError::Http { status, .. } => *status == 404,
            _ => false,
        }
    }

    /// Retries were exhausted on connection errors, timeouts or 5xx, or nothing has succeeded
    /// for too long: the portal is down, keeps failing or throttles everything (exit 4).
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            PortalError::Unavailable { .. } | PortalError::Stalled { .. }
        )
    }

    /// The request was never sent because the run is stopping.
    pub fn is_stopped(&self) -> bool {
        matches!(self, PortalError::Stopped { .. })
    }

    /// A write may have been applied although no (successful) response arrived: the connection
    /// closed or timed out after the request was sent, or a gateway failed in front of it. The
    /// caller settles it by reading the state back.
    pub fn is_ambiguous(&self) -> bool {
        match self {
            PortalError::Transport { ambiguous, .. }
            | PortalError::Http { ambiguous, .. }
            | PortalError::Unavailable { ambiguous, .. }
            | PortalError::Stalled { ambiguous, .. } => *ambiguous,
            _ => false,
        }
    }

    /// This final error came after an earlier ambiguous attempt of the same call (e.g. a
    /// createGroup whose first response was lost, then COM_0044 on the retry).
    pub fn follows_ambiguous_attempt(&self) -> bool {
        match self {
            PortalError::Api(api) => api.after_ambiguous,
            PortalError::Unavailable { ambiguous, .. } | PortalError::Stalled { ambiguous, .. } => {
                *ambiguous
            }
            _ => false,
        }
    }

    /// The portal's error code (`error.code`), else the HTTP status of an error reply.
    pub fn code(&self) -> Option<i64> {
        match self {
            PortalError::Api(api) => api.code.or(Some(i64::from(api.http_status))),
            PortalError::Http { status, .. } => Some(i64::from(*status)),
            PortalError::TokenRejected { code, .. } => Some(*code),
            PortalError::SignIn { code, .. } => *code,
            PortalError::Unavailable { last, .. } => last.code(),
            PortalError::Stalled { last, .. } => last.as_ref().and_then(|e| e.code()),
            _ => None,
        }
    }

    /// The portal's `messageCode` (`COM_0044`, `ORG_3100`, …), when it sent one.
    pub fn message_code(&self) -> Option<&str> {
        match self {
            PortalError::Api(api) => api.message_code.as_deref(),
            PortalError::Unavailable { last, .. } => last.message_code(),
            PortalError::Stalled { last, .. } => last.as_ref().and_then(|e| e.message_code()),
            _ => None,
        }
    }

    /// The `Retry-After` delay the reply carried.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            PortalError::Api(api) => api.retry_after,
            PortalError::Http { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The request this error belongs to (`None` for set-up and sign-in errors).
    pub fn kind(&self) -> Option<RequestKind> {
        match self {
            PortalError::Api(api) => Some(api.kind),
            PortalError::Http { kind, .. }
            | PortalError::Transport { kind, .. }
            | PortalError::HostNotFound { kind, .. }
            | PortalError::PlainHttp { kind, .. }
            | PortalError::Certificate { kind, .. }
            | PortalError::Decode { kind, .. }
            | PortalError::Stopped { kind }
            | PortalError::TokenRejected { kind, .. }
            | PortalError::Unavailable { kind, .. }
            | PortalError::Stalled { kind, .. }
            | PortalError::ReplyTooLarge { kind, .. } => Some(*kind),
            PortalError::SignIn { .. } | PortalError::Setup(_) => None,
        }
    }

    /// The HTTP status of an error reply (`None` when no reply arrived).
    pub fn http_status(&self) -> Option<u16> {
        match self {
            PortalError::Api(api) => Some(api.http_status),
            PortalError::Http { status, .. } => Some(*status),
            PortalError::Unavailable { last, .. } => last.http_status(),
            PortalError::Stalled { last, .. } => last.as_ref().and_then(|e| e.http_status()),
            _ => None,
        }
    }

    /// A 498/499 reply: the token is invalid, expired or missing.
    pub(crate) fn is_token_error(&self) -> bool {
        match self {
            PortalError::Api(api) => {
                matches!(api.code, Some(498 | 499)) || matches!(api.http_status, 498 | 499)
            }
            PortalError::Http { status, .. } => matches!(status, 498 | 499),
            _ => false,
        }
    }

    /// Records that an earlier attempt of the same call was ambiguous.
    pub(crate) fn mark_after_ambiguous(mut self, earlier_ambiguous: bool) -> Self {
        if earlier_ambiguous && let PortalError::Api(api) = &mut self {
            api.after_ambiguous = true;
        }
        self
    }

    /// Turns a `reqwest` error into a transport error, without the URL (only its host and
    /// port are kept, to name the server that could not be reached).
    pub(crate) fn from_reqwest(kind: RequestKind, err: reqwest::Error) -> PortalError {
        let timeout = err.is_timeout();
        let connect = err.is_connect();
        // Only the host and port of the URL are kept, to name the server.
        let server = err.url().and_then(|url| {
            let host = url.host_str()?;
            let address = match url.port_or_known_default() {
                Some(port) => format!("{host}:{port}"),
                None => host.to_owned(),
            };
            Some((host.to_owned(), address, url.host()?.to_owned()))
        });
        let err = err.without_url();
        if connect && let Some((host, address, parsed)) = &server {
            if let Some(message) = dns_failure(&err) {
                return PortalError::HostNotFound {
                    kind,
                    host: host.clone(),
                    message,
                };
            }
            if speaks_plain_http(&err) {
                return PortalError::PlainHttp {
                    kind,
                    server: address.clone(),
                    loopback: super::url::is_loopback_host(parsed),
                };
            }
        }
        let mut message = err.to_string();
        let mut source = std::error::Error::source(&err);
        while let Some(cause) = source {
            let text = cause.to_string();
            if !message.contains(&text) {
                message.push_str(": ");
                message.push_str(&text);
            }
            source = cause.source();
        }
        if connect && let Some(at) = message.find("invalid peer certificate") {
            return PortalError::Certificate {
                kind,
                message: message[at..].to_owned(),
            };
        }
        if connect && let Some((_, address, _)) = &server {
            message = format!("cannot connect to {address}: {message}");
        }
        PortalError::Transport {
            kind,
            message,
            timeout,
            connect,
            // Not connected means not sent. Otherwise the request may have reached the portal.
            ambiguous: kind.is_write() && !connect,
        }
    }
}

/// The resolver's message when `err` is a failed host-name lookup. The HTTP stack reports it
/// only as text (its connect error type is private): a `dns error` in the chain, whose last
/// cause is what the resolver said.
fn dns_failure(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    let chain: Vec<String> = causes(err).map(ToString::to_string).collect();
    chain
        .iter()
        .any(|text| text.starts_with("dns error"))
        .then(|| chain.last().cloned().unwrap_or_default())
}

/// Whether `err` is a TLS handshake that got something other than TLS back: the first byte
/// of the reply was no TLS record type, as with an HTTP server's `HTTP/1.1 400` answer.
fn speaks_plain_http(err: &(dyn std::error::Error + 'static)) -> bool {
    causes(err).any(|e| {
        matches!(
            e.downcast_ref::<rustls::Error>(),
            Some(rustls::Error::InvalidMessage(
                rustls::InvalidMessage::InvalidContentType
            ))
        )
    })
}

/// `err` and every error behind it: its sources, and the errors wrapped in an `io::Error`
/// (whose `source` skips the wrapped error itself; the TLS stack wraps its error twice).
fn causes<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(err), |e| match e.downcast_ref::<std::io::Error>() {
        Some(io) => io
            .get_ref()
            .map(|inner| inner as &(dyn std::error::Error + 'static)),
        None => e.source(),
    })
}

/// Classifies one HTTP reply: `Ok` with the JSON body, or the error it carries.
///
/// `location` is the `Location` header (used in the message for 3xx replies, which are not
/// followed because a redirect could carry the token header to another host).
pub(crate) fn classify_response(
    kind: RequestKind,
    status: u16,
    retry_after: Option<Duration>,
    location: Option<&str>,
    body: &str,
) -> Result<Value, PortalError> {
    let trimmed = body.trim_start();
    let json = if trimmed.starts_with('{') {
        serde_json::from_str::<Value>(trimmed).ok()
    } else {
        None
    };
    if let Some(value) = json {
        if let Some(api) = api_error(kind, status, retry_after, &value) {
            return Err(PortalError::Api(Box::new(api)));
        }
        if status < 300 {
            return Ok(value);
        }
    }
    if (300..400).contains(&status) {
        let target = location.unwrap_or("?");
        return Err(PortalError::Http {
            kind,
            status,
            excerpt: format!(
                "redirected to {target}; give that address (or its portal root) as the portal URL"
            ),
            retry_after,
            ambiguous: false,
        });
    }
    if status >= 400 {
        // A gateway's page: the portal itself never answered. Behind a 502/504/500 page a write
        // may or may not have been applied; a 503 or 429 means it was turned away.
        let ambiguous = kind.is_write() && status >= 500 && status != 503;
        return Err(PortalError::Http {
            kind,
            status,
            excerpt: text_excerpt(body),
            retry_after,
            ambiguous,
        });
    }
    Err(PortalError::Decode {
        kind,
        message: if trimmed.starts_with('<') {
            "the portal answered with an HTML page instead of JSON; check the portal URL".to_owned()
        } else if trimmed.is_empty() {
            "empty response".to_owned()
        } else {
            format!("not JSON: {}", text_excerpt(body))
        },
    })
}

/// Extracts the error envelope from a JSON body: `{"error":{...}}`, or the ArcGIS Server style
/// `{"status":"error","messages":[...],"code":N}`.
fn api_error(
    kind: RequestKind,
    status: u16,
    retry_after: Option<Duration>,
    value: &Value,
) -> Option<ApiError> {
    let (code, message_code, message, details) = if let Some(err) = value.get("error") {
        let details = match err.get("details") {
            Some(Value::Array(items)) => items.iter().map(value_text).collect(),
            Some(Value::Null) | None => Vec::new(),
            Some(other) => vec![value_text(other)],
        };
        (
            err.get("code").and_then(value_int),
            err.get("messageCode")
                .and_then(Value::as_str)
                .map(str::to_owned),
            err.get("message").map(value_text).unwrap_or_default(),
            details,
        )
    } else if value.get("status").and_then(Value::as_str) == Some("error") {
        let messages: Vec<String> = match value.get("messages") {
            Some(Value::Array(items)) => items.iter().map(value_text).collect(),
            _ => Vec::new(),
        };
        (
            value.get("code").and_then(value_int),
            None,
            messages.first().cloned().unwrap_or_default(),
            messages.into_iter().skip(1).collect(),
        )
    } else {
        return None;
    };
    let message = if message.is_empty() {
        details
            .first()
            .cloned()
            .unwrap_or_else(|| "error without a message".to_owned())
    } else {
        message
    };
    Some(ApiError {
        kind,
        http_status: status,
        code,
        message_code,
        message,
        details,
        retry_after,
        after_ambiguous: false,
    })
}

fn value_int(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A short, single-line, plain-text excerpt of a body for error messages: an HTML page's
/// `<title>` if it has one, else its text with tags removed, at most 120 characters.
fn text_excerpt(body: &str) -> String {
    let lower = body.to_ascii_lowercase();
    let source = match (lower.find("<title>"), lower.find("</title>")) {
        (Some(start), Some(end)) if end > start + 7 => &body[start + 7..end],
        _ => body,
    };
    let mut text = String::new();
    let mut in_tag = false;
    for c in source.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                text.push(' ');
            }
            _ if in_tag => {}
            c if c.is_control() || c.is_whitespace() => text.push(' '),
            c => text.push(c),
        }
    }
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.chars().count() > 120 {
        let cut: String = collapsed.chars().take(117).collect();
        format!("{cut}...")
    } else {
        collapsed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RequestKind::*;

    fn err(kind: RequestKind, status: u16, body: &str) -> PortalError {
        classify_response(kind, status, None, None, body).unwrap_err()
    }

    #[test]
    fn success_body_passes_through() {
        let v = classify_response(AddUsers, 200, None, None, r#"{"notAdded":[]}"#).unwrap();
        assert_eq!(v["notAdded"], serde_json::json!([]));
    }

    #[test]
    fn invalid_token_in_200_body() {
        let e = err(
            AddUsers,
            200,
            r#"{"error":{"code":498,"message":"Invalid token.","details":[]}}"#,
        );
        assert!(e.is_token_error());
        assert_eq!(e.code(), Some(498));
        assert!(!e.is_retryable());
        assert!(
            !e.is_auth(),
            "498 becomes an auth error only when renewal cannot help"
        );
    }

    #[test]
    fn token_required_499() {
        let e = err(
            Group,
            200,
            r#"{"error":{"code":499,"message":"Token Required","messageCode":"GWM_0003","details":["Token Required"]}}"#,
        );
        assert!(e.is_token_error());
        assert_eq!(e.message_code(), Some("GWM_0003"));
        assert_eq!(e.to_string(), "group: Token Required [code 499, GWM_0003]");
    }

    #[test]
    fn token_error_as_http_status() {
        let e = err(
            Search,
            498,
            r#"{"error":{"code":498,"message":"Invalid token.","details":[]}}"#,
        );
        assert!(e.is_token_error());
        assert!(err(Search, 498, "<html>expired</html>").is_token_error());
    }

    #[test]
    fn forbidden() {
        let e = err(
            AddUsers,
            200,
            r#"{"error":{"code":403,"message":"You do not have permissions to access this resource or perform this operation.","details":[]}}"#,
        );
        assert!(e.is_permission());
        assert!(!e.is_retryable());
        assert!(!e.is_auth());
        assert!(err(AddUsers, 403, "<html>Forbidden</html>").is_permission());
    }

    #[test]
    fn bad_credentials_body() {
        let e = err(
            GenerateToken,
            200,
            r#"{"error":{"code":400,"message":"Unable to generate token.","details":["Invalid username or password."]}}"#,
        );
        assert_eq!(e.code(), Some(400));
        assert_eq!(
            e.to_string(),
            "generateToken: Unable to generate token. (Invalid username or password.) [code 400]"
        );
    }

    #[test]
    fn too_many_users_org_3100() {
        let e = err(
            AddUsers,
            200,
            r#"{"error":{"code":400,"messageCode":"ORG_3100","message":"Exceeded maximum number of users allowed per call.","details":[]}}"#,
        );
        assert_eq!(e.message_code(), Some("ORG_3100"));
        assert!(!e.is_retryable());
        assert!(!e.is_duplicate_title());
    }

    #[test]
    fn duplicate_title_com_0044() {
        let body = r#"{"error":{"code":400,"messageCode":"COM_0044","message":"Unable to create group.","details":["You already have a group named 'Public Place Manager'. Try a different name."]}}"#;
        let e = err(CreateGroup, 200, body);
        assert!(e.is_duplicate_title());
        assert!(!e.follows_ambiguous_attempt());
        assert!(
            e.clone()
                .mark_after_ambiguous(true)
                .follows_ambiguous_attempt()
        );
        // Without the messageCode, the details text is enough.
        let e = err(
            CreateGroup,
            200,
            r#"{"error":{"code":400,"message":"Unable to create group.","details":["You already have a group named 'X'. Try a different name."]}}"#,
        );
        assert!(e.is_duplicate_title());
    }

    #[test]
    fn not_found_messages() {
        let e = err(
            User,
            200,
            r#"{"error":{"code":400,"messageCode":"COM_0018","message":"User does not exist or is inaccessible.","details":[]}}"#,
        );
        assert!(e.is_not_found());
        let e = err(
            Group,
            200,
            r#"{"error":{"code":400,"message":"Group does not exist or is inaccessible.","details":[]}}"#,
        );
        assert!(e.is_not_found());
    }

    #[test]
    fn gateway_html_502_page() {
        let page = "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n<body><h1>Bad Gateway</h1><p>The proxy server received an invalid response.</p></body></html>";
        let e = err(AddUsers, 502, page);
        assert!(e.is_retryable());
        assert!(
            e.is_ambiguous(),
            "a write behind a failing gateway may have been applied"
        );
        assert_eq!(e.code(), Some(502));
        assert_eq!(
            e.to_string(),
            "addUsers: HTTP 502 from the portal: 502 Bad Gateway"
        );
        let e = err(Search, 502, page);
        assert!(e.is_retryable());
        assert!(!e.is_ambiguous(), "reads are never ambiguous");
        let e = err(
            AddUsers,
            503,
            "<html><body>Service Unavailable</body></html>",
        );
        assert!(e.is_retryable());
        assert!(!e.is_ambiguous());
        assert!(e.to_string().ends_with(": Service Unavailable"), "{e}");
    }

    #[test]
    fn http_429_with_retry_after_and_json_body() {
        let e = classify_response(
            AddUsers,
            429,
            Some(Duration::from_secs(3)),
            None,
            r#"{"error":{"code":429,"message":"Too many requests.","details":[]}}"#,
        )
        .unwrap_err();
        assert!(e.is_retryable());
        assert!(e.is_throttled());
        assert!(!e.is_ambiguous());
        assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
        // JSON code 429 in a 200 reply counts too; so does 503.
        let e = err(
            Search,
            200,
            r#"{"error":{"code":429,"message":"Rate limit exceeded","details":[]}}"#,
        );
        assert!(e.is_retryable() && e.is_throttled());
        let e = err(
            Search,
            200,
            r#"{"error":{"code":503,"message":"Service unavailable","details":[]}}"#,
        );
        assert!(e.is_retryable() && !e.is_throttled());
        // 500 with a JSON body: retryable by status, not ambiguous (the portal itself answered).
        let e = err(
            AddUsers,
            500,
            r#"{"error":{"code":500,"message":"Internal error","details":[]}}"#,
        );
        assert!(e.is_retryable() && !e.is_ambiguous());
        // ... but a JSON code 500 inside a 200 reply is a definitive answer.
        let e = err(
            Search,
            200,
            r#"{"error":{"code":500,"message":"Query failed","details":[]}}"#,
        );
        assert!(!e.is_retryable());
    }

    #[test]
    fn a_403_about_too_many_requests_is_throttling_not_a_permission_error() {
        let e = err(
            AddUsers,
            403,
            r#"{"error":{"code":403,"message":"Too many requests. Try again later.","details":[]}}"#,
        );
        assert!(e.is_throttled() && e.is_retryable(), "{e:?}");
        assert!(!e.is_permission());
        // In a 200 body, and as a gateway's page, alike.
        let e = err(
            Search,
            200,
            r#"{"error":{"code":403,"message":"Too many requests","details":[]}}"#,
        );
        assert!(e.is_throttled() && !e.is_permission());
        let e = err(
            Search,
            403,
            "<html><title>403 Too Many Requests</title></html>",
        );
        assert!(e.is_throttled() && !e.is_permission());
        // Any error naming a rate or request limit is throttling.
        let e = err(
            Search,
            200,
            r#"{"error":{"code":400,"message":"Request limit exceeded.","details":[]}}"#,
        );
        assert!(e.is_throttled() && e.is_retryable());
        // The documented permission error stays one.
        let e = err(
            AddUsers,
            403,
            r#"{"error":{"code":403,"message":"You do not have permissions to access this resource or perform this operation.","details":[]}}"#,
        );
        assert!(e.is_permission() && !e.is_throttled() && !e.is_retryable());
    }

    #[test]
    fn stalled_and_oversized_replies_classify() {
        let last = err(
            Search,
            429,
            r#"{"error":{"code":429,"message":"Too many requests."}}"#,
        );
        let e = PortalError::Stalled {
            kind: Search,
            waited: Duration::from_secs(120),
            ambiguous: false,
            last: Some(Box::new(last)),
        };
        assert!(e.is_unavailable() && !e.is_retryable());
        assert_eq!(e.code(), Some(429));
        assert_eq!(
            e.to_string(),
            "search: given up: nothing has succeeded for 120 s while the portal kept failing or refusing requests; last error: search: Too many requests. [code 429]"
        );
        let e = PortalError::ReplyTooLarge {
            kind: Search,
            cap: 64 * 1024 * 1024,
        };
        assert!(!e.is_retryable() && !e.is_unavailable());
        assert_eq!(
            e.to_string(),
            "search: the portal's reply exceeds 64 MiB, the most this client reads"
        );
    }

    #[test]
    fn arcgis_server_style_error() {
        let e = err(
            Group,
            200,
            r#"{"status":"error","messages":["Token Expired."],"code":498}"#,
        );
        assert!(e.is_token_error());
        assert_eq!(e.to_string(), "group: Token Expired. [code 498]");
    }

    #[test]
    fn html_with_success_status_is_a_decode_error() {
        let e = err(
            PortalSelf,
            200,
            "<html><body>ArcGIS Portal Directory</body></html>",
        );
        assert!(matches!(e, PortalError::Decode { .. }));
        assert!(e.to_string().contains("check the portal URL"), "{e}");
        assert!(!e.is_retryable());
    }

    #[test]
    fn redirects_are_not_followed() {
        let e = classify_response(
            PortalSelf,
            301,
            None,
            Some("https://other.example.com/portal/sharing/rest/portals/self"),
            "",
        )
        .unwrap_err();
        assert!(!e.is_retryable());
        assert!(
            e.to_string()
                .contains("redirected to https://other.example.com/"),
            "{e}"
        );
    }

    #[test]
    fn error_code_as_string_and_details_objects() {
        let e = err(
            Search,
            200,
            r#"{"error":{"code":"400","message":"","details":[{"a":1}]}}"#,
        );
        assert_eq!(e.code(), Some(400));
        assert_eq!(e.to_string(), r#"search: {"a":1} [code 400]"#);
    }

    #[test]
    fn unavailable_wraps_the_last_failure() {
        let last = err(AddUsers, 502, "<html><title>Bad Gateway</title></html>");
        let e = PortalError::Unavailable {
            kind: AddUsers,
            attempts: 7,
            ambiguous: last.is_ambiguous(),
            last: Box::new(last),
        };
        assert!(e.is_unavailable());
        assert!(!e.is_retryable());
        assert!(e.is_ambiguous());
        assert_eq!(e.code(), Some(502));
        assert_eq!(
            e.to_string(),
            "addUsers: the portal kept failing after 7 attempts; last error: addUsers: HTTP 502 from the portal: Bad Gateway"
        );
    }

    #[test]
    fn connection_errors_name_the_host_and_say_what_to_check() {
        let dns = PortalError::HostNotFound {
            kind: PortalSelf,
            host: "arcgsi.com".to_owned(),
            message: "Name or service not known".to_owned(),
        };
        assert!(dns.is_retryable());
        assert_eq!(dns.retries_allowed(6), 1, "retried once, not six times");
        assert_eq!(dns.retries_allowed(0), 0);
        assert!(
            dns.to_string()
                .contains("host name arcgsi.com could not be resolved")
        );
        let remote = PortalError::PlainHttp {
            kind: PortalSelf,
            server: "portal.example.com:8080".to_owned(),
            loopback: false,
        };
        assert!(!remote.is_retryable());
        assert_eq!(
            remote.to_string(),
            "portals/self: the server at portal.example.com:8080 speaks plain HTTP, not HTTPS; check the port in the portal URL (plain http:// is accepted only for this machine)"
        );
        let local = PortalError::PlainHttp {
            kind: PortalSelf,
            server: "127.0.0.1:8080".to_owned(),
            loopback: true,
        };
        assert!(
            local.to_string().contains("give http://127.0.0.1:8080"),
            "{local}"
        );
        let other = err(Search, 502, "<html>Bad Gateway</html>");
        assert_eq!(other.retries_allowed(6), 6);
    }

    #[test]
    fn excerpts_are_short_and_single_line() {
        let long = format!("<p>{}</p>\n<p>more</p>", "x".repeat(300));
        let text = text_excerpt(&long);
        assert!(text.chars().count() <= 120);
        assert!(!text.contains('\n'));
    }
}
