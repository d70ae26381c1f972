//! HTTP surface: the axum router, path normalisation, the per-request pipeline of the ArcGIS
//! API (count → admission → latency → injected failure → handler → drop) and the rendering of
//! replies (`f=json|pjson|html`, errors in HTTP 200 bodies or as statuses).
//!
//! The ArcGIS part is a single fallback handler with its own path matcher rather than one
//! axum route per endpoint, because every path must also work with repeated slashes
//! (`/sharing/rest//community/...`, as the Python client sends) and under a web-adaptor prefix
//! (`/arcgis/sharing/rest/...`); both are normalised before matching. `/__sim/state` and
//! `/__sim/stats` are plain axum routes, untouched by any knob and not counted.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::app::App;
use super::faults::{Verdict, failure_response};
use super::handlers;
use super::request::{Ctx, Reply, Route};
use super::stats::Endpoint;
use super::wire::{Params, html_page};

/// Largest request body read (form posts are tiny; this only bounds abuse).
const MAX_BODY: usize = 8 * 1024 * 1024;

/// The router of one instance.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/__sim/state", get(sim_state))
        .route("/__sim/stats", get(sim_stats))
        .fallback(arcgis)
        .with_state(app)
}

async fn sim_state(State(app): State<Arc<App>>) -> Response {
    axum::Json(app.snapshot()).into_response()
}

async fn sim_stats(State(app): State<Arc<App>>) -> Response {
    axum::Json(app.stats.snapshot()).into_response()
}

/// Collapses repeated slashes, strips a one-segment web-adaptor prefix and matches the rest.
/// Long only because it is one match: every ArcGIS path the simulator serves, in one table.
pub fn classify(path: &str) -> Route {
    let mut segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let mut prefix = String::new();
    if segs.len() >= 2
        && !segs[0].eq_ignore_ascii_case("sharing")
        && segs[1].eq_ignore_ascii_case("sharing")
    {
        prefix = format!("/{}", segs[0]);
        segs.remove(0);
    }
    let lower: Vec<String> = segs.iter().map(|s| s.to_ascii_lowercase()).collect();
    let l: Vec<&str> = lower.iter().map(String::as_str).collect();
    let arg = |i: usize| Some(segs[i].to_owned());
    let mut item = None;
    let (endpoint, arg) = match l.as_slice() {
        ["sharing", "rest", "info"] | ["sharing", "rest"] => (Endpoint::Info, None),
        ["sharing", "rest", "generatetoken"] | ["sharing", "generatetoken"] => {
            (Endpoint::GenerateToken, None)
        }
        ["sharing", "rest", "oauth2", "token"] | ["sharing", "oauth2", "token"] => {
            (Endpoint::OAuthToken, None)
        }
        ["sharing", "rest", "oauth2", "authorize"] | ["sharing", "oauth2", "authorize"] => {
            (Endpoint::OAuthAuthorize, None)
        }
        ["sharing", "oauth2", "signin"] | ["sharing", "rest", "oauth2", "signin"] => {
            (Endpoint::OAuthSignin, None)
        }
        ["sharing", "rest", "portals", "self"] => (Endpoint::PortalSelf, None),
        ["sharing", "rest", "portals", "self", "users"] => (Endpoint::PortalUsers, None),
        ["sharing", "rest", "portals", "self", "users", "search"] => {
            (Endpoint::PortalUserSearch, None)
        }
        ["sharing", "rest", "community", "self"] => (Endpoint::CommunitySelf, None),
        ["sharing", "rest", "community", "users"] => (Endpoint::UserSearch, None),
        ["sharing", "rest", "community", "users", _] => (Endpoint::UserGet, arg(4)),
        [
            "sharing",
            "rest",
            "community",
            "users",
            _,
            "invitations",
            rest @ ..,
        ] => {
            item = rest.first().map(|_| segs[6].to_owned());
            let endpoint = match rest {
                [] | [_] => Endpoint::UserInvitations,
                [_, "accept"] => Endpoint::AcceptInvitation,
                [_, "decline"] => Endpoint::DeclineInvitation,
                _ => Endpoint::Other,
            };
            (endpoint, arg(4))
        }
        ["sharing", "rest", "community", "groups"] => (Endpoint::GroupSearch, None),
        ["sharing", "rest", "community", "creategroup"] => (Endpoint::CreateGroup, None),
        ["sharing", "rest", "community", "groups", _] => (Endpoint::GroupGet, arg(4)),
        ["sharing", "rest", "community", "groups", _, op] => {
            let endpoint = match *op {
                "users" => Endpoint::GroupUsers,
                "userlist" => Endpoint::GroupUserList,
                "addusers" => Endpoint::AddUsers,
                "removeusers" => Endpoint::RemoveUsers,
                "invite" => Endpoint::Invite,
                "reassign" => Endpoint::Reassign,
                "invitations" => Endpoint::GroupInvitations,
                "update" => Endpoint::Update,
                "delete" => Endpoint::Delete,
                _ => Endpoint::Other,
            };
            (endpoint, arg(4))
        }
        _ => (Endpoint::Other, None),
    };
    Route {
        endpoint,
        arg,
        item,
        prefix,
    }
}

/// How the client asked for the reply (`f`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `f=json`.
    Json,
    /// `f=pjson`: indented JSON.
    PrettyJson,
    /// `f=html` or no `f`: the real API's default.
    Html,
}

impl Format {
    fn of(params: &Params) -> Format {
        match params.get("f").map(str::to_ascii_lowercase).as_deref() {
            Some("json") => Format::Json,
            Some("pjson") => Format::PrettyJson,
            _ => Format::Html,
        }
    }
}

async fn arcgis(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let route = classify(request.uri().path());
    let in_flight = app.stats.arrive(route.endpoint);
    let verdict = app.faults.admit(in_flight.concurrent);
    if verdict != Verdict::Proceed {
        drop(in_flight);
        app.stats.throttled();
        pause(&app).await;
        return app.faults.throttle_response(verdict);
    }
    pause(&app).await;
    if let Some(status) = app.faults.injected_failure() {
        app.stats.fault();
        return failure_response(status);
    }

    let (parts, body) = request.into_parts();
    let body: Bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return StatusCode::PAYLOAD_TOO_LARGE.into_response(),
    };
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let params = if content_type.starts_with("multipart/form-data") {
        let mut p = Params::parse(parts.uri.query(), b"");
        p.0.extend(super::multipart::fields(content_type, &body));
        p
    } else {
        Params::parse(parts.uri.query(), &body)
    };
    let scheme = app.config.scheme().as_str();
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let ctx = Ctx {
        app: &app,
        route: &route,
        method: &parts.method,
        headers: &parts.headers,
        params: &params,
        origin: format!("{scheme}://{host}"),
    };
    let outcome = handlers::handle(&ctx);
    if outcome.wrote {
        app.stats.write();
        if app.faults.should_drop() {
            app.stats.dropped();
            app.kills.kill(peer);
        }
    }
    drop(in_flight);
    render(&app, &route, Format::of(&params), outcome.reply)
}

async fn pause(app: &App) {
    let delay = app.faults.delay();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
}

fn render(app: &App, route: &Route, format: Format, reply: Reply) -> Response {
    let (status, body) = match reply {
        Reply::Html(status, page) => {
            return (
                status,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                page,
            )
                .into_response();
        }
        Reply::Redirect(location) => {
            return (StatusCode::FOUND, [(header::LOCATION, location)]).into_response();
        }
        Reply::Api(Ok(v)) => (StatusCode::OK, v),
        Reply::Api(Err(e)) => {
            let status = if app.config.errors_as_status {
                StatusCode::from_u16(e.code).unwrap_or(StatusCode::BAD_REQUEST)
            } else {
                StatusCode::OK
            };
            (status, e.to_json())
        }
    };
    match format {
        Format::Json => (
            status,
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            serde_json::to_string(&body).unwrap_or_default(),
        )
            .into_response(),
        Format::PrettyJson => (
            status,
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            serde_json::to_string_pretty(&body).unwrap_or_default(),
        )
            .into_response(),
        Format::Html => (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            html_page(route.endpoint.key(), &body),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalised() {
        let r = classify("/arcgis/sharing/rest//community/groups/ABC/addUsers");
        assert_eq!(r.endpoint, Endpoint::AddUsers);
        assert_eq!(r.arg.as_deref(), Some("ABC"));
        assert_eq!(r.prefix, "/arcgis");
        assert_eq!(classify("/sharing/rest/info/").endpoint, Endpoint::Info);
        assert_eq!(
            classify("/sharing/oauth2/signin").endpoint,
            Endpoint::OAuthSignin
        );
        assert_eq!(
            classify("/sharing/rest/community/users/bob").arg.as_deref(),
            Some("bob")
        );
        assert_eq!(classify("/rest/services").endpoint, Endpoint::Other);
        assert_eq!(
            classify("/sharing/rest/community/createGroup").endpoint,
            Endpoint::CreateGroup
        );
        let r = classify("/sharing/rest/community/users/Bob/invitations/G12/accept");
        assert_eq!(r.endpoint, Endpoint::AcceptInvitation);
        assert_eq!(
            (r.arg.as_deref(), r.item.as_deref()),
            (Some("Bob"), Some("G12"))
        );
        let r = classify("/sharing/rest/community/users/bob/invitations");
        assert_eq!((r.endpoint, r.item), (Endpoint::UserInvitations, None));
        assert_eq!(
            classify("/sharing/rest/community/groups/g1/reassign").endpoint,
            Endpoint::Reassign
        );
        assert_eq!(
            classify("/sharing/rest/community/groups/g1/invitations").endpoint,
            Endpoint::GroupInvitations
        );
    }
}
