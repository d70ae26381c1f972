//! [`PortalClient`]: one function per endpoint, over one `reqwest::Client`, one token, one
//! request budget.
//!
//! Every request: `f=json`; operations (generateToken, createGroup, addUsers, removeUsers) are
//! form-encoded POSTs, resources are GETs with a query string (their documented method; nothing
//! secret is ever in the URL); the token only in the `X-Esri-Authorization: Bearer` header; the
//! `Referer` header the token was issued for; redirects are not followed (a redirect could carry
//! the token header to another host). Each request passes through the shared pacer and the
//! retry loop in `PortalClient::call`.

use std::future::Future;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use reqwest::header::{ACCEPT, HeaderValue, LOCATION, REFERER, RETRY_AFTER};
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tracing::{debug, warn};
use url::Url;

use super::auth::{Auth, RenewReason, TOKEN_MINUTES, Token};
use super::credentials::Credentials;
use super::error::{PortalError, classify_response};
use super::kind::RequestKind;
use super::pacing::{Pacer, RateSetting, Refused, STALL_LIMIT, Signal};
use super::request::{NewGroup, Role};
use super::retry::{RetryPolicy, parse_retry_after};
use super::stats::{ClientStats, Counters};
use super::url::PortalUrl;
use super::wire::{
    AddUsersReply, CreateGroupReply, GroupMembers, GroupPage, GroupSummary, InvitationsReply,
    MemberPage, PortalSelf, RemoveUsersReply, SelfInfo, SuccessReply, TokenReply, UserInfo,
    UserPage,
};

/// The referer the token is bound to (`generateToken` with `client=referer`), sent as the
/// `Referer` header on every request.
pub const REFERER_VALUE: &str = "bulk-groups";
/// The header that carries the token.
pub const AUTH_HEADER: &str = "X-Esri-Authorization";
/// The portal's documented cap on usernames per addUsers/removeUsers call: the one place the
/// 25-name limit lives (`--chunk-size` is checked against it).
pub const MAX_USERS_PER_CALL: usize = 25;
/// The largest `num` a search page may ask for.
pub const MAX_PAGE_SIZE: u32 = 100;
/// Directory pages requested at once (the pacing and the concurrency cap still apply).
const DIRECTORY_PAGES_IN_FLIGHT: usize = 16;
/// The largest reply body read (64 MiB): far above any real portal reply (a page of 100
/// users or groups is tens of KiB), low enough that a broken server cannot exhaust memory.
pub const MAX_REPLY_BYTES: u64 = 64 * 1024 * 1024;
/// Idle pooled connections are dropped after this: well under the keep-alive of common
/// proxies and load balancers (60–75 s), so a request never races a server-side close.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(20);

/// Whether a request carries the run's token (every call but `generateToken`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signing {
    /// Signed with the current token, taken when the request leaves the pacer.
    Token,
    /// Sent without a token.
    Anonymous,
}

/// How the client connects and paces itself.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Whole-request deadline (connect to end of body).
    pub timeout: Duration,
    /// Connect-phase deadline.
    pub connect_timeout: Duration,
    /// Attempts after the first for a retryable failure.
    pub retries: u32,
    /// Requests in flight at most.
    pub concurrency: NonZeroUsize,
    /// Request rate ceiling, or adaptive.
    pub rate: RateSetting,
    /// Extra trusted CA certificates (PEM; several may be concatenated), for portals behind a
    /// private CA. The system's trust store stays in use.
    pub ca_cert: Option<Vec<u8>>,
    /// Give up (exit 4) when nothing has succeeded for this long while requests fail or are
    /// throttled — or 3 × the longest `Retry-After` honoured, if longer. Default
    /// [`STALL_LIMIT`] (2 min).
    pub stall_limit: Duration,
}

impl Default for ClientOptions {
    /// The CLI defaults: 60 s / 10 s timeouts, 6 retries, 16 in flight, `auto` rate, 2 min
    /// stall limit.
    fn default() -> Self {
        ClientOptions {
            timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            retries: 6,
            concurrency: NonZeroUsize::new(16).expect("16 is not zero"),
            rate: RateSetting::Auto,
            ca_cert: None,
            stall_limit: STALL_LIMIT,
        }
    }
}

/// The portal REST client. Cheap to clone (an `Arc` inside); all clones share the connection
/// pool, the token, the request budget and the statistics.
#[derive(Clone)]
pub struct PortalClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    url: PortalUrl,
    credentials: Credentials,
    auth: Auth,
    pacer: Pacer,
    retry: RetryPolicy,
    counters: Counters,
    /// Per kind: a request of this kind has succeeded in this run (for the 403 rule).
    succeeded: [AtomicBool; RequestKind::ALL.len()],
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

impl std::fmt::Debug for PortalClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortalClient")
            .field("url", &self.inner.url.to_string())
            .finish_non_exhaustive()
    }
}

impl PortalClient {
    /// Builds the client. With [`Credentials::Password`] it signs in now (`generateToken`), so
    /// bad credentials fail here with an [`PortalError::is_auth`] error.
    pub async fn connect(
        url: PortalUrl,
        credentials: Credentials,
        options: ClientOptions,
    ) -> Result<PortalClient, PortalError> {
        let client = PortalClient::build(url, credentials, options)?;
        client.sign_in().await?;
        Ok(client)
    }

    /// Builds the client without contacting the portal; [`sign_in`](Self::sign_in) next. Kept
    /// apart from [`connect`](Self::connect) so a caller can still read [`stats`](Self::stats)
    /// after a failed sign-in (the requests it cost are part of the run's account).
    pub fn build(
        url: PortalUrl,
        credentials: Credentials,
        options: ClientOptions,
    ) -> Result<PortalClient, PortalError> {
        let mut builder = reqwest::Client::builder()
            .timeout(options.timeout)
            .connect_timeout(options.connect_timeout)
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .pool_max_idle_per_host(options.concurrency.get())
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("bulk-groups/", env!("CARGO_PKG_VERSION")));
        if url.is_loopback() {
            // Loopback is never proxied, whatever HTTP(S)_PROXY says; other hosts follow the
            // environment (HTTPS_PROXY, NO_PROXY).
            builder = builder.no_proxy();
        } else {
            builder = builder.https_only(true);
        }
        if let Some(pem) = &options.ca_cert {
            let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| {
                PortalError::Setup(format!(
                    "the CA certificate is not valid PEM: {}",
                    e.without_url()
                ))
            })?;
            if certs.is_empty() {
                return Err(PortalError::Setup(
                    "the CA certificate file holds no PEM certificate".to_owned(),
                ));
            }
            builder = builder.tls_certs_merge(certs);
        }
        let http = builder
            .build()
            .map_err(|e| PortalError::Setup(e.without_url().to_string()))?;
        if let Credentials::Token(secret) = &credentials
            && secret.expose_secret().trim().is_empty()
        {
            return Err(PortalError::SignIn {
                message: "the token is empty".to_owned(),
                code: None,
            });
        }
        let client = PortalClient {
            inner: Arc::new(Inner {
                http,
                auth: Auth::new(&credentials),
                credentials,
                pacer: Pacer::new(options.concurrency, options.rate, options.stall_limit),
                retry: RetryPolicy::new(options.retries),
                counters: Counters::default(),
                succeeded: Default::default(),
                url,
            }),
        };
        Ok(client)
    }

    /// Sign in now (password), or check that the static token fits in a header.
    pub async fn sign_in(&self) -> Result<(), PortalError> {
        self.inner
            .auth
            .token(|| self.fetch_token())
            .await?
            .header_value()?;
        Ok(())
    }

    /// Stop sending: requests that have not started yet fail at once with
    /// [`PortalError::Stopped`] (also those waiting for a rate slot or a retry), while requests
    /// already on the wire finish. Used on an interrupt so the run ends within seconds.
    pub fn stop_new_requests(&self) {
        self.inner.pacer.stop();
    }

    /// The portal this client talks to.
    pub fn portal_url(&self) -> &PortalUrl {
        &self.inner.url
    }

    /// What the client has sent so far.
    pub fn stats(&self) -> ClientStats {
        self.inner.counters.snapshot(
            Some(self.inner.pacer.current_rate()),
            self.inner.pacer.cool_offs(),
        )
    }

    /// `portals/self`: the organization (its id narrows group searches) and the caller.
    pub async fn portal_self(&self) -> Result<PortalSelf, PortalError> {
        self.get(RequestKind::PortalSelf, &["portals", "self"], &[])
            .await
    }

    /// `community/self`: the caller, its privileges and every group it owns or belongs to.
    pub async fn community_self(&self) -> Result<SelfInfo, PortalError> {
        self.get(RequestKind::CommunitySelf, &["community", "self"], &[])
            .await
    }

    /// One page of `community/groups` for `query` (e.g. `title:"X" AND orgid:abc`), sorted by
    /// title. `start` is 1-based; `num` is clamped to 1..=100.
    pub async fn search_groups(
        &self,
        query: &str,
        start: u32,
        num: u32,
    ) -> Result<GroupPage, PortalError> {
        debug_assert!(num <= MAX_PAGE_SIZE, "num {num} > {MAX_PAGE_SIZE}");
        let start = start.max(1).to_string();
        let num = num.clamp(1, MAX_PAGE_SIZE).to_string();
        let params = [
            ("q", query),
            ("start", start.as_str()),
            ("num", num.as_str()),
            ("sortField", "title"),
            ("sortOrder", "asc"),
        ];
        self.get(RequestKind::Search, &["community", "groups"], &params)
            .await
    }

    /// `community/groups/{id}`.
    pub async fn group(&self, group_id: &str) -> Result<GroupSummary, PortalError> {
        self.get(RequestKind::Group, &["community", "groups", group_id], &[])
            .await
    }

    /// The owner, managers and members of a group, from every page of
    /// `community/groups/{id}/userList` (100 a page, until `nextStart` is -1). The older
    /// `…/users` listing is deprecated and silently truncated on large groups by some portals,
    /// so it is never read. Pages are sorted by join date: members added while we page land on
    /// the last page instead of shifting earlier ones.
    pub async fn group_members(&self, group_id: &str) -> Result<GroupMembers, PortalError> {
        let num = MAX_PAGE_SIZE.to_string();
        let mut members = GroupMembers::default();
        let mut start: i64 = 1;
        loop {
            let start_text = start.to_string();
            let params = [
                ("start", start_text.as_str()),
                ("num", num.as_str()),
                ("sortField", "joined"),
                ("sortOrder", "asc"),
            ];
            let page: MemberPage = self
                .get(
                    RequestKind::Members,
                    &["community", "groups", group_id, "userList"],
                    &params,
                )
                .await?;
            if members.owner.is_empty()
                && let Some(owner) = page.owner
            {
                members.owner = owner;
            }
            page.users.into_iter().for_each(|entry| members.push(entry));
            if page.next_start <= 0 {
                return Ok(members);
            }
            if page.next_start <= start {
                return Err(PortalError::Decode {
                    kind: RequestKind::Members,
                    message: format!(
                        "the member list does not advance (nextStart {} after start {start})",
                        page.next_start
                    ),
                });
            }
            start = page.next_start;
        }
    }

    /// One page of the organization's user directory, `portals/self/users/search` (org
    /// administrators only; others get a permission error). `start` is 1-based; `num` is
    /// clamped to 1..=100.
    pub async fn search_org_users(
        &self,
        query: &str,
        start: u32,
        num: u32,
    ) -> Result<UserPage, PortalError> {
        let start = start.max(1).to_string();
        let num = num.clamp(1, MAX_PAGE_SIZE).to_string();
        let params = [
            ("q", query),
            ("start", start.as_str()),
            ("num", num.as_str()),
        ];
        self.get(
            RequestKind::OrgUsers,
            &["portals", "self", "users", "search"],
            &params,
        )
        .await
    }

    /// One page of the organization's user directory, `portals/self/users` (every member, in
    /// username order so pages read concurrently neither overlap nor skip; org administrators
    /// only, others get a permission error). `start` is 1-based; `num` is clamped to 1..=100.
    pub async fn org_users(&self, start: u32, num: u32) -> Result<UserPage, PortalError> {
        let start = start.max(1).to_string();
        let num = num.clamp(1, MAX_PAGE_SIZE).to_string();
        let params = [
            ("start", start.as_str()),
            ("num", num.as_str()),
            ("sortField", "username"),
            ("sortOrder", "asc"),
        ];
        self.get(
            RequestKind::OrgUsers,
            &["portals", "self", "users"],
            &params,
        )
        .await
    }

    /// Every member of the organization's user directory, handed to `each` a page at a time
    /// (so the caller keeps only what it needs): 100 a page, the first page's `total` telling
    /// how many more to request, concurrently — ⌈members / 100⌉ requests in all. A reply
    /// without `total` is followed page by page through `nextStart`.
    pub async fn org_directory(
        &self,
        mut each: impl FnMut(Vec<UserInfo>),
    ) -> Result<(), PortalError> {
        let page = MAX_PAGE_SIZE;
        let first = self.org_users(1, page).await?;
        let total = first.total;
        let mut next = first.next_start;
        each(first.users);
        if next > 0 && total > 0 {
            let starts = (u64::from(page) + 1..=total)
                .step_by(page as usize)
                .map(|start| u32::try_from(start).unwrap_or(u32::MAX));
            let mut pages = futures::stream::iter(starts)
                .map(|start| self.org_users(start, page))
                .buffer_unordered(DIRECTORY_PAGES_IN_FLIGHT);
            while let Some(more) = pages.next().await {
                each(more?.users);
            }
            return Ok(());
        }
        while next > 0 {
            let more = self
                .org_users(u32::try_from(next).unwrap_or(u32::MAX), page)
                .await?;
            each(more.users);
            next = if more.next_start > next {
                more.next_start
            } else {
                -1
            };
        }
        Ok(())
    }

    /// `community/createGroup` with `title` and every field `definition` sets (defaults such as
    /// `access=private` and tags are the caller's business). Not idempotent: see the retry
    /// module for why retrying it is still acceptable (the engine handles `COM_0044`).
    pub async fn create_group(
        &self,
        title: &str,
        definition: &NewGroup,
    ) -> Result<GroupSummary, PortalError> {
        let params = create_group_params(title, definition);
        let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let value = self
            .call(
                RequestKind::CreateGroup,
                self.endpoint(&["community", "createGroup"]),
                &params,
            )
            .await?;
        let reply: CreateGroupReply = decode(RequestKind::CreateGroup, value)?;
        match reply.group {
            Some(group) if reply.success && !group.id.is_empty() => Ok(group),
            _ => Err(PortalError::Decode {
                kind: RequestKind::CreateGroup,
                message: "the reply has no `success: true` and group id".to_owned(),
            }),
        }
    }

    /// `community/groups/{id}/addUsers`: members go in `users=`, managers in `admins=`. At most
    /// 25 names (checked in debug builds; the portal refuses more with ORG_3100). Returns
    /// `notAdded`. Idempotent, so retried when a response is lost; an error with
    /// [`PortalError::is_ambiguous`] means the outcome is unknown.
    pub async fn add_users(
        &self,
        group_id: &str,
        role: Role,
        usernames: &[String],
    ) -> Result<Vec<String>, PortalError> {
        let field = role.field();
        let Some(value) = self
            .membership_call(RequestKind::AddUsers, group_id, field, usernames)
            .await?
        else {
            return Ok(Vec::new());
        };
        Ok(decode::<AddUsersReply>(RequestKind::AddUsers, value)?.not_added)
    }

    /// `community/groups/{id}/removeUsers` (at most 25 names). Returns `notRemoved`.
    pub async fn remove_users(
        &self,
        group_id: &str,
        usernames: &[String],
    ) -> Result<Vec<String>, PortalError> {
        let Some(value) = self
            .membership_call(RequestKind::RemoveUsers, group_id, "users", usernames)
            .await?
        else {
            return Ok(Vec::new());
        };
        Ok(decode::<RemoveUsersReply>(RequestKind::RemoveUsers, value)?.not_removed)
    }

    /// `community/groups/{id}/reassign` with `targetUsername`: hand the group to that user of
    /// the organization (org administrators only). What becomes of the old owner's membership
    /// is not documented; callers must not rely on either outcome.
    pub async fn reassign_group(&self, group_id: &str, username: &str) -> Result<(), PortalError> {
        let url = self.endpoint(&["community", "groups", group_id, "reassign"]);
        let value = self
            .call(RequestKind::Reassign, url, &[("targetUsername", username)])
            .await?;
        expect_success(RequestKind::Reassign, value)
    }

    /// `community/groups/{id}/invite`: invite `usernames` (at most 25) in `role`, with the
    /// portal's default expiration. Already-members and already-invited users still make it
    /// answer success (reference §2.15), so a repeat changes nothing.
    pub async fn invite(
        &self,
        group_id: &str,
        role: Role,
        usernames: &[String],
    ) -> Result<(), PortalError> {
        debug_assert!(usernames.len() <= MAX_USERS_PER_CALL);
        if usernames.is_empty() {
            return Ok(());
        }
        let names = usernames.join(",");
        let url = self.endpoint(&["community", "groups", group_id, "invite"]);
        let params = [("users", names.as_str()), ("role", role.invitation_role())];
        let value = self.call(RequestKind::Invite, url, &params).await?;
        expect_success(RequestKind::Invite, value)
    }

    /// The usernames a group's pending invitations name, from
    /// `community/groups/{id}/invitations`. No documented endpoint lists them: a portal may
    /// refuse or not know this one, so an error here means "cannot tell", not "none".
    pub async fn group_invitations(&self, group_id: &str) -> Result<Vec<String>, PortalError> {
        let reply: InvitationsReply = self
            .get(
                RequestKind::GroupInvitations,
                &["community", "groups", group_id, "invitations"],
                &[],
            )
            .await?;
        Ok(reply.invitations.into_iter().map(|i| i.username).collect())
    }

    /// addUsers or removeUsers with `field=name,name,…`; `None` (nothing sent) for no names.
    async fn membership_call(
        &self,
        kind: RequestKind,
        group_id: &str,
        field: &str,
        usernames: &[String],
    ) -> Result<Option<Value>, PortalError> {
        debug_assert!(
            usernames.len() <= MAX_USERS_PER_CALL,
            "{} takes at most {MAX_USERS_PER_CALL} names, got {}",
            kind.as_str(),
            usernames.len()
        );
        debug_assert!(usernames.iter().all(|u| !u.contains(',')));
        if usernames.is_empty() {
            return Ok(None);
        }
        let names = usernames.join(",");
        // The operation's path segment is its kind's name (`addUsers`, `removeUsers`).
        let url = self.endpoint(&["community", "groups", group_id, kind.as_str()]);
        self.call(kind, url, &[(field, names.as_str())])
            .await
            .map(Some)
    }

    /// `community/users/{username}`; `None` when the user does not exist or is not visible to
    /// the caller ("User does not exist or is inaccessible.", or a 400/404 error for it).
    pub async fn user(&self, username: &str) -> Result<Option<UserInfo>, PortalError> {
        match self
            .get(RequestKind::User, &["community", "users", username], &[])
            .await
        {
            Ok(user) => Ok(Some(user)),
            // Only the portal's own error envelope: a gateway's or web server's 404 page means
            // a wrong URL, not a missing user.
            Err(err @ PortalError::Api(_))
                if err.is_not_found() || matches!(err.code(), Some(400 | 404)) =>
            {
                Ok(None)
            }
            Err(err) => Err(err),
        }
    }

    /// `<rest root>/<segments…>`, each segment percent-encoded (a group id or username can
    /// never add path components).
    fn endpoint(&self, segments: &[&str]) -> Url {
        let mut url = self.inner.url.rest_root().clone();
        url.path_segments_mut()
            .expect("an http(s) URL has a path")
            .pop_if_empty()
            .extend(segments);
        url
    }

    async fn get<T: DeserializeOwned>(
        &self,
        kind: RequestKind,
        segments: &[&str],
        params: &[(&str, &str)],
    ) -> Result<T, PortalError> {
        let value = self.call(kind, self.endpoint(segments), params).await?;
        decode(kind, value)
    }

    /// `generateToken` for the password credentials (boxed: it runs inside [`Self::call`]'s
    /// token step, and a future cannot contain itself).
    fn fetch_token(&self) -> BoxFuture<'_, Result<TokenReply, PortalError>> {
        Box::pin(async move {
            let Credentials::Password { username, password } = &self.inner.credentials else {
                unreachable!("static tokens are never renewed");
            };
            let expiration = TOKEN_MINUTES.to_string();
            // The only place the password is exposed: the form of this one request.
            let params = [
                ("username", username.as_str()),
                ("password", password.expose_secret()),
                ("client", "referer"),
                ("referer", REFERER_VALUE),
                ("expiration", expiration.as_str()),
            ];
            let url = self.endpoint(&["generateToken"]);
            match self
                .attempts(RequestKind::GenerateToken, &url, &params)
                .await
            {
                Ok(value) => decode(RequestKind::GenerateToken, value),
                Err(PortalError::Api(api)) => {
                    let mut message = api.message.clone();
                    for detail in api.details.iter().filter(|d| **d != api.message) {
                        message.push(' ');
                        message.push_str(detail);
                    }
                    Err(PortalError::SignIn {
                        message,
                        code: api.code,
                    })
                }
                Err(err) => Err(err),
            }
        })
    }

    /// Sends one authenticated call, with a token per attempt and retries (see `retry`).
    async fn call(
        &self,
        kind: RequestKind,
        url: Url,
        params: &[(&str, &str)],
    ) -> Result<Value, PortalError> {
        self.attempts_with(kind, &url, params, Signing::Token).await
    }

    /// Anonymous attempts (generateToken).
    async fn attempts(
        &self,
        kind: RequestKind,
        url: &Url,
        params: &[(&str, &str)],
    ) -> Result<Value, PortalError> {
        self.attempts_with(kind, url, params, Signing::Anonymous)
            .await
    }

    /// Sends a request until it succeeds, fails for good, retries run out, or the run stops or
    /// stalls. Throttled replies do not spend retries: waiting them out is the pacer's job
    /// (pauses, cool-off probes), bounded by its stall deadline. A token error renews the
    /// token; a token refused while within its lifetime is renewed once, then the call fails.
    // ≈85 lines: one loop deciding every retry of one request in one place (retryable,
    // throttled, token, 403-after-success, ambiguous) — split, the decisions would scatter.
    async fn attempts_with(
        &self,
        kind: RequestKind,
        url: &Url,
        params: &[(&str, &str)],
        signing: Signing,
    ) -> Result<Value, PortalError> {
        let policy = self.inner.retry;
        let mut retries_used = 0u32;
        let mut forbidden_retry_used = false;
        let mut token_renewed = false;
        let mut ambiguous = false;
        let mut last: Option<PortalError> = None;
        loop {
            let attempt = match self.send_once(kind, url, params, signing).await {
                Ok(attempt) => attempt,
                Err(refused) => return Err(refusal(kind, refused, ambiguous, last)),
            };
            let err = match attempt.outcome {
                Ok(value) => {
                    self.inner.succeeded[kind.index()].store(true, Ordering::Relaxed);
                    return Ok(value);
                }
                Err(err) => err,
            };
            if err.is_token_error()
                && let Some(sent) = attempt.token
            {
                self.renew_rejected(kind, &err, sent, &mut token_renewed)
                    .await?;
                self.inner.counters.retried();
                continue;
            }
            ambiguous |= err.is_ambiguous();
            let delay = if err.is_retryable() {
                if err.is_throttled() || err.retry_after().is_some() {
                    // The pacer holds this request until the pause or cool-off is over.
                    debug!(kind = kind.as_str(), reason = %err, "throttled; sending again when the portal allows");
                    Duration::ZERO
                } else {
                    if retries_used >= err.retries_allowed(policy.retries) {
                        warn!(kind = kind.as_str(), attempts = retries_used + 1, error = %err, "giving up");
                        return Err(PortalError::Unavailable {
                            kind,
                            attempts: retries_used + 1,
                            ambiguous,
                            last: Box::new(err),
                        });
                    }
                    retries_used += 1;
                    let delay = policy.backoff(retries_used);
                    warn!(
                        kind = kind.as_str(),
                        retry = retries_used,
                        of = policy.retries,
                        delay_ms = delay.as_millis() as u64,
                        reason = %err,
                        "retrying"
                    );
                    delay
                }
            } else if err.is_permission()
                && kind.is_write()
                && !forbidden_retry_used
                && self.inner.succeeded[kind.index()].load(Ordering::Relaxed)
            {
                // Throttling has been reported to look like 403 after a run of writes: one more
                // try after a backoff before it counts as a permission failure.
                forbidden_retry_used = true;
                let delay = policy.backoff(retries_used + 1).max(policy.base);
                warn!(
                    kind = kind.as_str(),
                    delay_ms = delay.as_millis() as u64,
                    "403 after earlier successes; retrying once"
                );
                delay
            } else {
                return Err(err.mark_after_ambiguous(ambiguous));
            };
            if let Err(refused) = self.inner.pacer.sleep(delay).await {
                return Err(refusal(kind, refused, ambiguous, Some(err)));
            }
            self.inner.counters.retried();
            last = Some(err);
        }
    }

    /// After a 498/499 for the token `sent`: renews it, or fails when renewing cannot help.
    /// Only a token the portal should still have accepted counts as refused (once renewed,
    /// a second refusal is final); one that outlived its lifetime on the way is just renewed.
    async fn renew_rejected(
        &self,
        kind: RequestKind,
        err: &PortalError,
        sent: SentToken,
        renewed: &mut bool,
    ) -> Result<(), PortalError> {
        let renewable = self.inner.auth.renewable();
        if sent.live && (!renewable || *renewed) {
            warn!(kind = kind.as_str(), error = %err, "token rejected");
            return Err(PortalError::TokenRejected {
                kind,
                code: err.code().unwrap_or(498),
                renewable,
            });
        }
        *renewed |= sent.live;
        debug!(kind = kind.as_str(), "token rejected; renewing");
        self.inner
            .auth
            .renew(Some(sent.generation), RenewReason::Rejected, || {
                self.fetch_token()
            })
            .await?;
        Ok(())
    }

    /// One HTTP exchange through the pacer, classified. The token (with [`Signing::Token`]) is
    /// taken after the request's turn comes, so waiting in line or backing off can never make
    /// it stale; `Err` when the pacer refused to send.
    async fn send_once(
        &self,
        kind: RequestKind,
        url: &Url,
        params: &[(&str, &str)],
        signing: Signing,
    ) -> Result<Attempt, Refused> {
        let failed = |err| {
            Ok(Attempt {
                outcome: Err(err),
                token: None,
            })
        };
        let (turn, token) = loop {
            // Renewed here, outside the line, when due (a renewal needs a turn of its own).
            if signing == Signing::Token
                && let Err(err) = self.inner.auth.token(|| self.fetch_token()).await
            {
                return failed(err);
            }
            let turn = self.inner.pacer.acquire().await?;
            // The newest token now: it may have been renewed while this request waited.
            let token = (signing == Signing::Token)
                .then(|| self.inner.auth.current())
                .flatten();
            if token.as_ref().is_none_or(|t| t.sendable_at(turn.sent_at)) {
                break (turn, token);
            }
            // Grown too old while the request waited for its turn: renew, queue again.
        };
        let auth_header = match token.as_deref().map(Token::header_value).transpose() {
            Ok(header) => header,
            Err(err) => return failed(err),
        };
        self.inner.counters.sent(kind);
        let (status, outcome) = self.exchange(kind, url, params, auth_header).await;
        let sent_at = turn.sent_at;
        let signal = match &outcome {
            Ok(_) => Signal::Ok,
            Err(err) => self.note_failure(err),
        };
        self.inner.pacer.feedback(turn, kind, signal);
        debug!(
            kind = kind.as_str(),
            status = status.unwrap_or(0),
            elapsed_ms = sent_at.elapsed().as_millis() as u64,
            ok = outcome.is_ok(),
            "portal request"
        );
        Ok(Attempt {
            outcome,
            token: token.map(|t| SentToken {
                generation: t.generation,
                live: t.live_at(sent_at),
            }),
        })
    }

    /// The HTTP request itself: the reply's status (if one came) and what it amounts to.
    async fn exchange(
        &self,
        kind: RequestKind,
        url: &Url,
        params: &[(&str, &str)],
        auth_header: Option<HeaderValue>,
    ) -> (Option<u16>, Result<Value, PortalError>) {
        let mut form: Vec<(&str, &str)> = Vec::with_capacity(params.len() + 1);
        form.push(("f", "json"));
        form.extend_from_slice(params);
        let http = &self.inner.http;
        let mut request = if kind.is_post() {
            http.post(url.clone()).form(&form)
        } else {
            http.get(url.clone()).query(&form)
        };
        request = request
            .header(REFERER, REFERER_VALUE)
            .header(ACCEPT, "application/json");
        if let Some(value) = auth_header {
            request = request.header(AUTH_HEADER, value);
        }
        match request.send().await {
            Err(err) => (None, Err(PortalError::from_reqwest(kind, err))),
            Ok(response) => {
                let status = response.status().as_u16();
                let headers = response.headers();
                let retry_after = headers
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| parse_retry_after(v, SystemTime::now()));
                let location = headers
                    .get(LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let outcome = match read_body(kind, response).await {
                    Ok(body) => {
                        classify_response(kind, status, retry_after, location.as_deref(), &body)
                    }
                    Err(err) => Err(err),
                };
                (Some(status), outcome)
            }
        }
    }

    /// Counts and applies what a failed reply says about the portal's load (product spec §5:
    /// congestion is not the same as a fault).
    fn note_failure(&self, err: &PortalError) -> Signal {
        if err.is_throttled() {
            self.inner.counters.throttled();
        }
        let unavailable = err.code() == Some(503) || err.http_status() == Some(503);
        let overloaded = err.is_throttled() || err.http_status().is_some_and(|s| s >= 500);
        let retry_after = err.retry_after().filter(|_| overloaded || unavailable);
        if let Some(delay) = retry_after {
            // Applied to the shared budget: the whole client waits, not just this request.
            warn!(
                delay_ms = delay.as_millis() as u64,
                "portal asked to slow down (Retry-After); pausing all requests"
            );
            self.inner.pacer.pause(delay);
        }
        match err {
            PortalError::Transport { timeout: true, .. } => Signal::Timeout,
            // A dropped or refused connection: retried like a server error.
            PortalError::Transport { .. } => Signal::Fault,
            // Not about the portal's load: nothing to pace against.
            PortalError::Certificate { .. }
            | PortalError::HostNotFound { .. }
            | PortalError::PlainHttp { .. }
            | PortalError::Decode { .. }
            | PortalError::ReplyTooLarge { .. } => Signal::Neutral,
            _ if err.is_token_error() => Signal::Neutral,
            _ if err.is_throttled() && retry_after.is_none() => Signal::Wall,
            _ if err.is_throttled() || (unavailable && retry_after.is_some()) => Signal::Congestion,
            _ if err.is_retryable() => Signal::Fault,
            _ => Signal::Ok,
        }
    }
}

/// What one attempt came to, and with which token.
struct Attempt {
    outcome: Result<Value, PortalError>,
    token: Option<SentToken>,
}

/// The token an attempt carried.
#[derive(Debug, Clone, Copy)]
struct SentToken {
    generation: u64,
    /// Within its lifetime when the request left.
    live: bool,
}

/// The error for a request the pacer would not send (again).
fn refusal(
    kind: RequestKind,
    refused: Refused,
    ambiguous: bool,
    last: Option<PortalError>,
) -> PortalError {
    match refused {
        Refused::Stopped => PortalError::Stopped { kind },
        Refused::Stalled(waited) => {
            warn!(
                kind = kind.as_str(),
                waited_s = waited.as_secs(),
                "nothing has succeeded for too long; giving up"
            );
            PortalError::Stalled {
                kind,
                waited,
                ambiguous,
                last: last.map(Box::new),
            }
        }
    }
}

/// Reads a reply body of at most [`MAX_REPLY_BYTES`], counting as it streams: a server that
/// sends without end fails the request instead of filling memory.
async fn read_body(
    kind: RequestKind,
    mut response: reqwest::Response,
) -> Result<String, PortalError> {
    let too_large = PortalError::ReplyTooLarge {
        kind,
        cap: MAX_REPLY_BYTES,
    };
    if response
        .content_length()
        .is_some_and(|n| n > MAX_REPLY_BYTES)
    {
        return Err(too_large);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| PortalError::from_reqwest(kind, e))?
    {
        if (body.len() + chunk.len()) as u64 > MAX_REPLY_BYTES {
            return Err(too_large);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8(body)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

/// Parses a success body into the endpoint's reply type.
fn decode<T: DeserializeOwned>(kind: RequestKind, value: Value) -> Result<T, PortalError> {
    serde_json::from_value(value).map_err(|e| PortalError::Decode {
        kind,
        message: e.to_string(),
    })
}

/// A `{"success": true, …}` reply, or a decode error saying it was not one.
fn expect_success(kind: RequestKind, value: Value) -> Result<(), PortalError> {
    if decode::<SuccessReply>(kind, value)?.success {
        Ok(())
    } else {
        Err(PortalError::Decode {
            kind,
            message: "the reply has no `success: true`".to_owned(),
        })
    }
}

/// The createGroup form: `title` plus every definition field that is set.
fn create_group_params(title: &str, d: &NewGroup) -> Vec<(&'static str, String)> {
    let mut params = vec![("title", title.to_owned())];
    let mut text = |name: &'static str, value: Option<&str>| {
        if let Some(value) = value {
            params.push((name, value.to_owned()));
        }
    };
    text("description", d.description.as_deref());
    text("snippet", d.snippet.as_deref());
    text("tags", d.tags.as_deref());
    text("phone", d.phone.as_deref());
    text("access", d.access);
    text("sortField", d.sort_field);
    text("sortOrder", d.sort_order);
    text("membershipAccess", d.membership_access);
    let flag = |b: bool| if b { "true" } else { "false" };
    text("isInvitationOnly", d.is_invitation_only.map(flag));
    text("isViewOnly", d.is_view_only.map(flag));
    text("autoJoin", d.auto_join.map(flag));
    text("leavingDisallowed", d.leaving_disallowed.map(flag));
    text("hiddenMembers", d.hidden_members.map(flag));
    params
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_group_sends_every_given_field_and_nothing_else() {
        let bare = create_group_params("Team A", &NewGroup::default());
        assert_eq!(bare, [("title", "Team A".to_owned())]);
        let full = NewGroup {
            description: Some("d".into()),
            snippet: Some("s".into()),
            tags: Some("a,b".into()),
            access: Some("org"),
            is_invitation_only: Some(true),
            is_view_only: Some(false),
            sort_field: Some("numviews"),
            sort_order: Some("desc"),
            membership_access: Some("collaboration"),
            auto_join: Some(false),
            leaving_disallowed: Some(true),
            hidden_members: Some(false),
            phone: Some("555".into()),
        };
        let params = create_group_params("T", &full);
        let get = |k: &str| {
            params
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(params.len(), 14);
        assert_eq!(get("access"), Some("org"));
        assert_eq!(get("tags"), Some("a,b"));
        assert_eq!(get("sortField"), Some("numviews"));
        assert_eq!(get("sortOrder"), Some("desc"));
        assert_eq!(get("membershipAccess"), Some("collaboration"));
        assert_eq!(get("isInvitationOnly"), Some("true"));
        assert_eq!(get("isViewOnly"), Some("false"));
        assert_eq!(get("leavingDisallowed"), Some("true"));
    }
}
