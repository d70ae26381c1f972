//! One function per ArcGIS endpoint: check the method and the token as that endpoint
//! requires, call the state, wrap the result. Synchronous on purpose — the state lock is taken
//! and released inside each call, never held across an await.

use axum::http::{Method, StatusCode};
use serde_json::json;

use super::auth::{self, Caller, presented_referer, presented_token};
use super::request::{Ctx, Outcome};
use super::state::{Answer, Listing};
use super::stats::Endpoint;
use super::wire::ApiError;

/// How an endpoint treats tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Auth {
    /// Tokens are not looked at (info, sign-in endpoints).
    Ignore,
    /// Anonymous is fine; a bad token is still 498 (public reads).
    Optional,
    /// No token → 499; bad token → 498.
    Required,
}

fn auth_of(endpoint: Endpoint) -> Auth {
    match endpoint {
        Endpoint::Info
        | Endpoint::GenerateToken
        | Endpoint::OAuthToken
        | Endpoint::OAuthAuthorize
        | Endpoint::OAuthSignin
        | Endpoint::Other => Auth::Ignore,
        Endpoint::PortalSelf | Endpoint::GroupSearch | Endpoint::GroupGet => Auth::Optional,
        _ => Auth::Required,
    }
}

fn post_only(endpoint: Endpoint) -> bool {
    endpoint.is_write() || matches!(endpoint, Endpoint::GenerateToken | Endpoint::OAuthSignin)
}

/// Serves one ArcGIS request.
pub fn handle(ctx: &Ctx<'_>) -> Outcome {
    let endpoint = ctx.route.endpoint;
    if post_only(endpoint) && *ctx.method != Method::POST {
        return Outcome::read(Err(ApiError::method_not_supported()));
    }
    let caller = match auth_of(endpoint) {
        Auth::Ignore => Caller::Anonymous,
        policy => {
            let token = presented_token(ctx.headers, ctx.params);
            if token.is_none() && policy == Auth::Required {
                return Outcome::read(Err(ApiError::token_required()));
            }
            match ctx
                .app
                .tokens
                .resolve(token.as_deref(), presented_referer(ctx.headers))
            {
                Ok(c) => c,
                Err(e) => return Outcome::read(Err(e)),
            }
        }
    };
    let me = caller.username();
    let arg = ctx.route.arg.as_deref().unwrap_or("");
    let item = ctx.route.item.as_deref();
    let p = ctx.params;
    let app = ctx.app;
    if endpoint.is_write() {
        let mut portal = app.portal();
        let result = match endpoint {
            Endpoint::CreateGroup => portal.create_group(me, p),
            Endpoint::AddUsers => portal.add_users(me, arg, p),
            Endpoint::RemoveUsers => portal.remove_users(me, arg, p),
            Endpoint::Invite => portal.invite(me, arg, p),
            Endpoint::Reassign => portal.reassign(me, arg, p),
            Endpoint::AcceptInvitation => {
                portal.answer_invitation(me, arg, item.unwrap_or(""), Answer::Accept)
            }
            Endpoint::DeclineInvitation => {
                portal.answer_invitation(me, arg, item.unwrap_or(""), Answer::Decline)
            }
            Endpoint::Update => portal.update_group(me, arg, p),
            _ => portal.delete_group(me, arg),
        };
        return Outcome::written(result);
    }
    match endpoint {
        Endpoint::Info => Outcome::read(Ok(info(ctx))),
        Endpoint::GenerateToken => Outcome::read(generate_token(ctx)),
        Endpoint::OAuthToken => Outcome::read(oauth_token(ctx)),
        Endpoint::OAuthAuthorize => authorize(ctx),
        Endpoint::OAuthSignin => signin(ctx),
        Endpoint::PortalSelf => {
            Outcome::read(Ok(app.portal().portal_self(me, "sim", app.config.scheme())))
        }
        Endpoint::PortalUsers => Outcome::read(app.portal().org_users(me, p, Listing::List)),
        Endpoint::PortalUserSearch => Outcome::read(app.portal().org_users(me, p, Listing::Search)),
        Endpoint::CommunitySelf => Outcome::read(app.portal().community_self(me)),
        Endpoint::UserGet => Outcome::read(app.portal().user_get(me, arg)),
        Endpoint::UserSearch => Outcome::read(app.portal().search_users(me, p)),
        Endpoint::UserInvitations => Outcome::read(app.portal().user_invitations(me, arg, item)),
        Endpoint::GroupSearch => Outcome::read(Ok(app.portal().search_groups(me, p))),
        Endpoint::GroupGet => Outcome::read(app.portal().group_get(me, arg)),
        Endpoint::GroupUsers => Outcome::read(app.portal().group_users(me, arg)),
        Endpoint::GroupUserList => Outcome::read(app.portal().group_user_list(me, arg, p)),
        Endpoint::GroupInvitations if !app.config.no_group_invitations => {
            Outcome::read(app.portal().group_invitations(me, arg))
        }
        _ => Outcome::read(Err(ApiError::not_found())),
    }
}

/// `sharing/rest/info`: where tokens come from (the Python client reads `authInfo`).
fn info(ctx: &Ctx<'_>) -> serde_json::Value {
    let base = format!("{}{}", ctx.origin, ctx.route.prefix);
    json!({
        "owningSystemUrl": base,
        "authInfo": {
            "tokenServicesUrl": format!("{base}/sharing/rest/generateToken"),
            "isTokenBasedSecurity": true,
        },
        "currentVersion": "2025.1",
        "fullVersion": "2025.1.0",
    })
}

/// Parses a positive number of minutes.
fn minutes(value: Option<&str>) -> Option<u64> {
    value.and_then(|v| v.trim().parse().ok())
}

/// `generateToken` (also over plain HTTP: a deliberate deviation, see the module doc).
fn generate_token(ctx: &Ctx<'_>) -> Result<serde_json::Value, ApiError> {
    let p = ctx.params;
    let (username, password) = (
        p.get("username").unwrap_or(""),
        p.get("password").unwrap_or(""),
    );
    // `client=referer` binds the token to `referer` (required then, as documented).
    let referer = match p.get("client") {
        Some(c) if c.eq_ignore_ascii_case("referer") => Some(
            p.non_empty("referer")
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "Unable to generate token.",
                        "'referer' must be specified.",
                    )
                })?
                .to_owned(),
        ),
        _ => None,
    };
    let mut portal = ctx.app.portal();
    let user = portal
        .check_password(username, password)
        .ok_or_else(ApiError::bad_credentials)?;
    let token = portal.random_token();
    drop(portal);
    let issued = ctx.app.tokens.issue(
        token,
        Some(user),
        minutes(p.get("expiration")).or(Some(60)),
        referer,
    );
    ctx.app.stats.token_issued();
    Ok(
        json!({"token": issued.token, "expires": issued.expires_ms as u64, "ssl": ctx.app.config.tls}),
    )
}

/// `oauth2/token`: client-credentials app tokens (any non-empty id and secret).
fn oauth_token(ctx: &Ctx<'_>) -> Result<serde_json::Value, ApiError> {
    let p = ctx.params;
    let grant = p.get("grant_type").unwrap_or("");
    if grant != "client_credentials" {
        return Err(ApiError::bad_request(
            "Unable to generate token.",
            format!(
                "Unsupported grant_type '{grant}'. This simulator issues client_credentials tokens only."
            ),
        ));
    }
    if p.non_empty("client_id").is_none() || p.non_empty("client_secret").is_none() {
        return Err(ApiError::bad_request(
            "Unable to generate token.",
            "Invalid client_id or client_secret.",
        ));
    }
    let token = ctx.app.portal().random_token();
    let issued = ctx
        .app
        .tokens
        .issue(token, None, minutes(p.get("expiration")), None);
    ctx.app.stats.token_issued();
    Ok(
        json!({"access_token": issued.token, "expires_in": issued.expires_in, "ssl": ctx.app.config.tls}),
    )
}

/// `oauth2/authorize`: the sign-in page with `oauth_state`.
fn authorize(ctx: &Ctx<'_>) -> Outcome {
    let p = ctx.params;
    let redirect_uri = p.get("redirect_uri").unwrap_or("");
    if !auth::redirect_uri_ok(redirect_uri) {
        return Outcome::page(
            StatusCode::BAD_REQUEST,
            "<!DOCTYPE html>\n<html><body><p>Invalid redirect_uri</p></body></html>\n".to_owned(),
        );
    }
    let oauth_state = ctx.app.portal().random_token();
    ctx.app.tokens.begin_authorize(&oauth_state, p);
    let signin = format!("{}/sharing/oauth2/signin", ctx.route.prefix);
    Outcome::page(
        StatusCode::OK,
        auth::authorize_page(&oauth_state, p, &signin, None),
    )
}

/// `oauth2/signin`: checks the credentials of a pending authorization and redirects to its
/// `redirect_uri` with the token in the fragment.
fn signin(ctx: &Ctx<'_>) -> Outcome {
    let p = ctx.params;
    let oauth_state = p.get("oauth_state").unwrap_or("");
    let Some((redirect_uri, state, expiration)) = ctx.app.tokens.finish_authorize(oauth_state)
    else {
        return Outcome::page(
            StatusCode::BAD_REQUEST,
            "<!DOCTYPE html>\n<html><body><p>Invalid or expired oauth_state.</p></body></html>\n"
                .to_owned(),
        );
    };
    let mut portal = ctx.app.portal();
    let user = portal.check_password(
        p.get("username").unwrap_or(""),
        p.get("password").unwrap_or(""),
    );
    let Some(user) = user else {
        // Like the real page: 200, the form again, an error message, no Location. The
        // authorization stays usable for another attempt.
        let retry_state = portal.random_token();
        drop(portal);
        let mut again = p.clone();
        again.0.insert("redirect_uri".to_owned(), redirect_uri);
        if let Some(s) = state {
            again.0.insert("state".to_owned(), s);
        }
        ctx.app.tokens.begin_authorize(&retry_state, &again);
        let signin = format!("{}/sharing/oauth2/signin", ctx.route.prefix);
        return Outcome::page(
            StatusCode::OK,
            auth::authorize_page(
                &retry_state,
                &again,
                &signin,
                Some("Invalid username or password."),
            ),
        );
    };
    let token = portal.random_token();
    drop(portal);
    let expiration = minutes(p.get("expiration")).or(expiration);
    let issued = ctx
        .app
        .tokens
        .issue(token, Some(user.clone()), expiration, None);
    ctx.app.stats.token_issued();
    Outcome::redirect(auth::signin_location(
        &redirect_uri,
        &issued,
        &user,
        state.as_deref(),
        ctx.app.config.scheme(),
    ))
}
