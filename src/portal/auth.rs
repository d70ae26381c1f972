//! The token: issued by `generateToken` (password sign-in) or given (API key / ready token),
//! sent in the `X-Esri-Authorization` header, and renewed by one renewal shared by every request
//! in flight.
//!
//! Renewal rules (product spec §1): a token is renewed when less than min(5 min, 20 % of its
//! lifetime) remains — proactively, before a request would use it — and once more when the
//! portal rejects it (498/499). Both go through [`Auth::renew`], a single flight: the first
//! caller takes a tokio mutex and calls `generateToken`; callers queued behind it find a newer
//! generation when they get the lock and use it, or, if that renewal failed, get its error
//! instead of trying again (a bad password must not be tried once per request in flight).

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};
use tokio::time::Instant;

use super::credentials::Credentials;
use super::error::PortalError;
use super::wire::TokenReply;

/// The `expiration` (minutes) asked of `generateToken`.
pub(crate) const TOKEN_MINUTES: u64 = 60;
/// Renew when less than this remains (or 20 % of the lifetime, whichever is less).
const RENEW_MARGIN: Duration = Duration::from_secs(300);
/// When a proactive renewal fails transiently, keep the still-valid token and try again after
/// this long.
const RENEW_RETRY: Duration = Duration::from_secs(30);

/// One token and when to renew it.
pub(crate) struct Token {
    secret: SecretString,
    /// Increases with every renewal; a 498 names the generation it rejected.
    pub(crate) generation: u64,
    /// `None` for static tokens (never renewed).
    renew_at: Option<Instant>,
    expires_at: Option<Instant>,
}

impl Token {
    /// The `X-Esri-Authorization` header value, marked sensitive so that hyper/reqwest never
    /// print it in debug output.
    pub(crate) fn header_value(&self) -> Result<HeaderValue, PortalError> {
        let mut value = HeaderValue::from_str(&format!("Bearer {}", self.secret.expose_secret()))
            .map_err(|_| PortalError::SignIn {
                message: "the token contains characters that cannot be sent in an HTTP header (a line break?)"
                    .to_owned(),
                code: None,
            })?;
        value.set_sensitive(true);
        Ok(value)
    }

    fn due(&self, now: Instant) -> bool {
        self.renew_at.is_some_and(|at| now >= at)
    }

    /// Good to send at `now`: at most halfway from its renewal time to its expiry, so that
    /// it is still within its lifetime when the request arrives.
    pub(crate) fn sendable_at(&self, now: Instant) -> bool {
        match (self.renew_at, self.expires_at) {
            (Some(renew), Some(expires)) => now < renew + (expires - renew) / 2,
            _ => true,
        }
    }

    /// Within its lifetime at `at`, as far as the client knows (static tokens always are).
    pub(crate) fn live_at(&self, at: Instant) -> bool {
        self.expires_at.is_none_or(|expires| at < expires)
    }

    /// Builds a token from `generateToken`'s reply.
    fn issued(reply: TokenReply, generation: u64, now: Instant) -> Token {
        let requested = Duration::from_secs(TOKEN_MINUTES * 60);
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        // `expires` is epoch milliseconds on the portal's clock. A missing value, or one already
        // in the past (clock skew), falls back to the lifetime we asked for; a 498 will still
        // trigger renewal if that guess is wrong.
        let lifetime = reply
            .expires
            .map(|ms| ms.saturating_sub(now_ms))
            .filter(|ms| *ms > 0)
            .map_or(requested, |ms| Duration::from_millis(ms as u64));
        let margin = RENEW_MARGIN.min(lifetime / 5);
        Token {
            secret: SecretString::from(reply.token),
            generation,
            renew_at: Some(now + (lifetime - margin)),
            expires_at: Some(now + lifetime),
        }
    }
}

/// Why a renewal is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RenewReason {
    /// The token is close to expiry.
    Due,
    /// The portal rejected the token (498/499).
    Rejected,
}

/// The client's token state (see the module doc).
pub(crate) struct Auth {
    renewable: bool,
    current: RwLock<Option<Arc<Token>>>,
    /// The single-flight gate; holds the error of the last failed renewal.
    gate: tokio::sync::Mutex<Option<PortalError>>,
    /// Renewal attempts finished so far (to tell whether one finished while a caller waited).
    completed: AtomicU64,
}

impl Auth {
    pub(crate) fn new(credentials: &Credentials) -> Auth {
        let current = match credentials {
            Credentials::Token(secret) => Some(Arc::new(Token {
                secret: SecretString::from(secret.expose_secret().trim().to_owned()),
                generation: 0,
                renew_at: None,
                expires_at: None,
            })),
            Credentials::Password { .. } => None,
        };
        Auth {
            renewable: credentials.is_renewable(),
            current: RwLock::new(current),
            gate: tokio::sync::Mutex::new(None),
            completed: AtomicU64::new(0),
        }
    }

    /// Whether the token can be renewed (password sign-in).
    pub(crate) fn renewable(&self) -> bool {
        self.renewable
    }

    /// The latest token, as it is (no renewal).
    pub(crate) fn current(&self) -> Option<Arc<Token>> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn store(&self, token: Arc<Token>) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(token);
    }

    /// The token to send now, renewing it first when it is due (or signing in when there is
    /// none yet). `fetch` calls `generateToken`.
    pub(crate) async fn token<F, Fut>(&self, fetch: F) -> Result<Arc<Token>, PortalError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<TokenReply, PortalError>>,
    {
        match self.current() {
            Some(token) if !token.due(Instant::now()) => Ok(token),
            Some(token) => {
                self.renew(Some(token.generation), RenewReason::Due, fetch)
                    .await
            }
            None => self.renew(None, RenewReason::Due, fetch).await,
        }
    }

    /// Renews the token of generation `stale` (`None`: there is none yet) unless someone else
    /// already did. Only for renewable credentials.
    pub(crate) async fn renew<F, Fut>(
        &self,
        stale: Option<u64>,
        reason: RenewReason,
        fetch: F,
    ) -> Result<Arc<Token>, PortalError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<TokenReply, PortalError>>,
    {
        let completed_before = self.completed.load(Ordering::SeqCst);
        let mut last_failure = self.gate.lock().await;
        let now = Instant::now();
        if let Some(token) = self.current() {
            let newer = stale.is_none_or(|g| token.generation > g);
            let extended = reason == RenewReason::Due && !token.due(now);
            if newer || extended {
                return Ok(token);
            }
        }
        if let Some(err) = last_failure.as_ref()
            && (err.is_auth() || self.completed.load(Ordering::SeqCst) != completed_before)
        {
            // A renewal failed while we waited: share its outcome. A refused password is final:
            // trying it again per request could lock the account.
            return Err(err.clone());
        }
        let outcome = fetch().await;
        self.completed.fetch_add(1, Ordering::SeqCst);
        match outcome {
            Ok(reply) => {
                let generation = self.current().map_or(1, |t| t.generation + 1);
                let token = Arc::new(Token::issued(reply, generation, Instant::now()));
                self.store(Arc::clone(&token));
                *last_failure = None;
                tracing::debug!(generation, "portal token issued");
                Ok(token)
            }
            Err(err) => {
                *last_failure = Some(err.clone());
                // A proactive renewal that failed for a transient reason: the current token is
                // still valid for a while, so keep using it and try again later.
                if reason == RenewReason::Due
                    && !err.is_auth()
                    && let Some(token) = self.current()
                    && let Some(expires_at) = token.expires_at
                    && expires_at.saturating_duration_since(now) > RENEW_RETRY * 2
                {
                    tracing::warn!(error = %err, "token renewal failed; the current token is still valid, trying again later");
                    let kept = Arc::new(Token {
                        secret: token.secret.clone(),
                        generation: token.generation,
                        renew_at: Some(now + RENEW_RETRY),
                        expires_at: token.expires_at,
                    });
                    self.store(Arc::clone(&kept));
                    return Ok(kept);
                }
                Err(err)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    fn reply(token: &str, lifetime: Duration) -> TokenReply {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        TokenReply {
            token: token.to_owned(),
            expires: Some(now_ms + lifetime.as_millis() as i64),
        }
    }

    fn password() -> Credentials {
        Credentials::Password {
            username: "admin".into(),
            password: SecretString::from("pw"),
        }
    }

    #[tokio::test]
    async fn renewal_margin_is_the_smaller_of_5_minutes_and_20_percent() {
        let now = Instant::now();
        let hour = Token::issued(reply("t", Duration::from_secs(3600)), 1, now);
        let at = hour.renew_at.unwrap() - now;
        assert!(
            at > Duration::from_secs(3290) && at <= Duration::from_secs(3300),
            "{at:?}"
        );
        let short = Token::issued(reply("t", Duration::from_secs(10)), 1, now);
        let at = short.renew_at.unwrap() - now;
        assert!(
            at > Duration::from_millis(7900) && at <= Duration::from_secs(8),
            "{at:?}"
        );
        // Clock skew (expiry in the past) falls back to the requested lifetime.
        let skewed = Token::issued(
            TokenReply {
                token: "t".into(),
                expires: Some(1),
            },
            1,
            now,
        );
        assert!(skewed.renew_at.unwrap() - now > Duration::from_secs(3000));
    }

    #[tokio::test]
    async fn static_token_is_never_renewed() {
        let auth = Auth::new(&Credentials::Token(SecretString::from(" key\n")));
        assert!(!auth.renewable());
        let t = auth
            .token(|| async { panic!("must not fetch") })
            .await
            .unwrap();
        assert_eq!(t.secret.expose_secret(), "key");
        assert_eq!(t.header_value().unwrap().to_str().unwrap(), "Bearer key");
        assert!(t.header_value().unwrap().is_sensitive());
    }

    #[tokio::test]
    async fn concurrent_renewals_share_one_fetch() {
        let auth = Arc::new(Auth::new(&password()));
        let fetches = Arc::new(AtomicU32::new(0));
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let auth = Arc::clone(&auth);
            let fetches = Arc::clone(&fetches);
            tasks.push(tokio::spawn(async move {
                auth.token(|| async move {
                    fetches.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    Ok(reply("t1", Duration::from_secs(3600)))
                })
                .await
                .map(|t| t.generation)
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap().unwrap(), 1);
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);

        // Rejections of generation 1 by many requests: one renewal to generation 2.
        let mut tasks = Vec::new();
        for _ in 0..10 {
            let auth = Arc::clone(&auth);
            let fetches = Arc::clone(&fetches);
            tasks.push(tokio::spawn(async move {
                auth.renew(Some(1), RenewReason::Rejected, || async move {
                    fetches.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    Ok(reply("t2", Duration::from_secs(3600)))
                })
                .await
                .map(|t| t.generation)
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap().unwrap(), 2);
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_failed_sign_in_is_shared_not_repeated() {
        let auth = Arc::new(Auth::new(&password()));
        let fetches = Arc::new(AtomicU32::new(0));
        let mut tasks = Vec::new();
        for _ in 0..10 {
            let auth = Arc::clone(&auth);
            let fetches = Arc::clone(&fetches);
            tasks.push(tokio::spawn(async move {
                auth.token(|| async move {
                    fetches.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    Err(PortalError::SignIn {
                        message: "Invalid username or password.".into(),
                        code: Some(400),
                    })
                })
                .await
                .map(|_| ())
            }));
        }
        for t in tasks {
            assert!(t.await.unwrap().unwrap_err().is_auth());
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn transient_failure_of_a_due_renewal_keeps_the_valid_token() {
        let auth = Auth::new(&password());
        let first = Token::issued(reply("t1", Duration::from_secs(3600)), 1, Instant::now());
        auth.store(Arc::new(Token {
            renew_at: Some(Instant::now()),
            ..first
        }));
        let kept = auth
            .token(|| async { Err(PortalError::Setup("network down".into())) })
            .await
            .unwrap();
        assert_eq!(kept.generation, 1);
        assert!(!kept.due(Instant::now()));
    }
}
