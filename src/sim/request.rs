//! What one ArcGIS request is to a handler and what a handler gives back: the matched
//! [`Route`], the [`Ctx`] a handler reads, the [`Outcome`] it returns. Below both
//! `routes` (which builds a `Ctx` and renders an `Outcome`) and `handlers`
//! (which turns one into the other), so neither imports the other's types.

use axum::http::{HeaderMap, Method, StatusCode};
use serde_json::Value;

use super::app::App;
use super::stats::Endpoint;
use super::wire::{ApiError, Params};

/// A matched ArcGIS path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Which endpoint.
    pub endpoint: Endpoint,
    /// The group id or username in the path, when there is one.
    pub arg: Option<String>,
    /// The invitation id in `community/users/{u}/invitations/{id}[/accept|/decline]`.
    pub item: Option<String>,
    /// The web-adaptor prefix the request used (`""` or e.g. `/arcgis`).
    pub prefix: String,
}

/// What a handler produced.
#[derive(Debug)]
pub enum Reply {
    /// A JSON document or an error envelope, rendered per `f` and `--errors-as-status`.
    Api(Result<Value, ApiError>),
    /// A ready HTML page (OAuth2 pages).
    Html(StatusCode, String),
    /// A 302 (OAuth2 sign-in).
    Redirect(String),
}

/// A handler's reply plus whether a write reached the state (for `writes` and `--drop-rate`).
#[derive(Debug)]
pub struct Outcome {
    /// The reply.
    pub reply: Reply,
    /// True when a write operation was executed against the state.
    pub wrote: bool,
}

impl Outcome {
    /// The result of a request that changed nothing.
    pub fn read(result: Result<Value, ApiError>) -> Outcome {
        Outcome {
            reply: Reply::Api(result),
            wrote: false,
        }
    }

    /// The result of a write executed against the state, whatever it decided.
    pub fn written(result: Result<Value, ApiError>) -> Outcome {
        Outcome {
            reply: Reply::Api(result),
            wrote: true,
        }
    }

    /// A ready HTML page.
    pub fn page(status: StatusCode, html: String) -> Outcome {
        Outcome {
            reply: Reply::Html(status, html),
            wrote: false,
        }
    }

    /// A 302 to `location`.
    pub fn redirect(location: String) -> Outcome {
        Outcome {
            reply: Reply::Redirect(location),
            wrote: false,
        }
    }
}

/// What a handler sees of the request.
#[derive(Debug)]
pub struct Ctx<'a> {
    /// The instance.
    pub app: &'a App,
    /// The matched route.
    pub route: &'a Route,
    /// GET, POST, …
    pub method: &'a Method,
    /// Request headers.
    pub headers: &'a HeaderMap,
    /// Query and form parameters.
    pub params: &'a Params,
    /// `scheme://host[:port]` as the client addressed us (for links in replies).
    pub origin: String,
}
