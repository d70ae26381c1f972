//! The ArcGIS portal REST client (product spec §1 "Connection and credentials", §5 "Talking to
//! the portal").
//!
//! - [`url`]: the portal URL forms users paste, normalised to a REST root.
//! - [`credentials`]: API key / token or username + password, as secrets.
//! - `auth`: the token, its renewal (single flight) and the header it travels in.
//! - [`client`]: [`PortalClient`], one function per endpoint; the request/retry loop.
//! - [`error`]: [`PortalError`] and the classification of the portal's three error forms.
//! - [`request`]: the request types ([`NewGroup`], [`Role`]), so the client never imports `roster`.
//! - [`wire`]: the response types.
//! - [`retry`]: the backoff policy and `Retry-After`.
//! - [`pacing`]: the shared request budget (concurrency, fixed or adaptive rate, pauses).
//! - [`stats`]: request counters for the summary.
//!
//! The client only speaks HTTP and classifies errors; what to do about them (per-row failure,
//! exit code) is the engine's decision, made with the `PortalError::is_*` methods.

mod auth;
pub mod client;
pub mod credentials;
pub mod error;
pub mod kind;
pub mod pacing;
pub mod request;
pub mod retry;
pub mod stats;
pub mod url;
pub mod wire;

pub use client::{ClientOptions, MAX_USERS_PER_CALL, PortalClient};
pub use credentials::Credentials;
pub use error::{ApiError, PortalError};
pub use kind::RequestKind;
pub use pacing::RateSetting;
pub use request::{NewGroup, Role};
pub use stats::ClientStats;
pub use url::{PortalUrl, PortalUrlError};
pub use wire::{
    GroupFields, GroupMembers, GroupPage, GroupSummary, PortalSelf, SelfInfo, UserInfo, UserPage,
};
