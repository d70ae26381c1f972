//! `portal-sim`: a stateful, in-memory ArcGIS portal speaking the subset of the sharing REST
//! API that `bulk-groups` and the ArcGIS API for Python use (`spec/portal-sim.md`, shapes and
//! texts from `reference/arcgis-rest.md`). It shares no types with `src/portal`: it implements
//! the published contract on its own, so a client bug cannot hide behind a shared struct.
//!
//! # Layout
//!
//! | module | role |
//! |---|---|
//! | `config` | [`SimConfig`] (one field per flag), [`SimUser`], [`SeedGroup`], [`parse_users_csv`] |
//! | `server` | [`serve`], [`SimServer`], [`RunningSim`]: listener + config → HTTP or TLS server |
//! | `routes` | router, path normalisation, the request pipeline, `f` and error rendering |
//! | `handlers` | one function per endpoint: method and token policy, then the state call |
//! | `state` | orgs, users, groups and every rule (permissions, limits, uniqueness, search lag) |
//! | `search` | the fuzzy query language of `community/groups` |
//! | `auth` | token sources, the token table, the OAuth2 pages the Python client scrapes |
//! | `faults` | latency, jitter, rate limit, in-flight cap, injected 5xx, drop decisions |
//! | `conn` | the connection kill switch behind `--drop-rate` |
//! | `stats` | lock-free counters and [`StatsSnapshot`] |
//! | `tls` | the generated CA and server certificate |
//! | `wire` | the error envelope and its exact texts; request parameters |
//!
//! # Endpoints and `by_endpoint` keys
//!
//! Served under `/sharing/rest/…` and `/<prefix>/sharing/rest/…` (e.g. `/arcgis`), repeated
//! slashes collapsed. Every key is always present in `/__sim/stats` `by_endpoint`:
//!
//! | key | path (relative to `sharing/rest` unless noted) |
//! |---|---|
//! | `info` | `info` |
//! | `generateToken` | `generateToken` (POST) |
//! | `oauth2/token` | `oauth2/token` (client credentials → app token) |
//! | `oauth2/authorize` | `oauth2/authorize` |
//! | `oauth2/signin` | `/sharing/oauth2/signin` (POST) |
//! | `portals/self` | `portals/self` |
//! | `portals/self/users` | `portals/self/users`, `portals/self/users/search` |
//! | `community/self` | `community/self` |
//! | `community/users` | `community/users/{username}` |
//! | `community/users/search` | `community/users` (with `q`) |
//! | `community/groups` | `community/groups` (search) |
//! | `groups/get` | `community/groups/{id}` |
//! | `groups/users` | `community/groups/{id}/users` |
//! | `groups/userList` | `community/groups/{id}/userList` |
//! | `createGroup` | `community/createGroup` (POST) |
//! | `addUsers` | `community/groups/{id}/addUsers` (POST) |
//! | `removeUsers` | `community/groups/{id}/removeUsers` (POST) |
//! | `invite` | `community/groups/{id}/invite` (POST) |
//! | `update` | `community/groups/{id}/update` (POST) |
//! | `delete` | `community/groups/{id}/delete` (POST) |
//! | `other` | anything else (answered 404 in the error envelope) |
//!
//! # Counting
//!
//! `total` and `by_endpoint` count every ArcGIS request received, throttled and failed ones
//! included. `writes` counts write requests that passed authentication and were executed
//! against the state, whatever the outcome (a COM_0044 counts; a 499, 429 or injected 5xx does
//! not), dropped responses included. `max_in_flight` is the most ArcGIS requests in progress
//! at once, counted on arrival (so requests then refused by `--max-in-flight` count too: the
//! figure measures the client's concurrency). `/__sim/*` is never counted.
//!
//! # Choices where the reference says UNVERIFIED
//!
//! - addUsers: unknown users, users of another org, users at the group limit and users already
//!   in the group (as member, or as admin/owner when added as admin) are `notAdded`; a member
//!   listed in `admins` is promoted. `users` + `admins` > 25 → ORG_3100. removeUsers: owner,
//!   unknown users and non-members are `notRemoved`; > 25 → ORG_3100.
//! - Usernames resolve case-insensitively (sign-in itself is case-sensitive); titles are unique
//!   per owner case-insensitively after trimming trailing whitespace (also on update).
//! - The group limit counts owned, managed and joined groups plus the users file's `groups`;
//!   createGroup at the limit → code 400 "Unable to create group." with a details line.
//! - "Group does not exist or is inaccessible." has no messageCode; "User does not exist or is
//!   inaccessible." carries `COM_0018` (third-party report); GET on a POST-only operation →
//!   code 405 "Method not supported.".
//! - Visibility: public groups to everyone, `org` groups to the org, private groups to their
//!   members and the org admin; invisible groups are "does not exist or is inaccessible".
//!   `…/users` is for members and managers (403 otherwise). Group managers may update but not
//!   delete. App tokens (client credentials) have no user: group operations → 403.
//! - `--search-lag` hides a group from `community/groups` after createGroup and update (not
//!   after membership changes); `community/self` and `community/groups/{id}` never lag.
//! - Tokens: `generateToken` honours `expiration` (default 60 min), the sign-in flow honours its
//!   `expiration`; `--token-ttl` caps every token.
//! - `portals/self` reports `portalName` "ArcGIS Online", `portalMode` "multitenant", org id
//!   [`HOME_ORG_ID`] (other orgs get `SimOrg` + 10 hex digits of their name's hash).
//!
//! # Privileges
//!
//! Every role: `portal:user:createGroup`, `portal:user:joinGroup`,
//! `portal:user:joinNonOrgGroup`, `portal:user:viewOrgGroups`, `portal:user:viewOrgItems`,
//! `portal:user:viewOrgUsers`, `portal:user:createItem`, `portal:user:shareToGroup`,
//! `portal:user:shareToOrg`, `portal:user:shareToPublic`. `org_publisher` and `org_admin` add
//! `portal:publisher:publishFeatures`, `portal:publisher:publishTiles`. `org_admin` adds
//! `portal:admin:viewUsers`, `portal:admin:updateUsers`, `portal:admin:viewGroups`,
//! `portal:admin:updateGroups`, `portal:admin:deleteGroups`, `portal:admin:reassignGroups`,
//! `portal:admin:assignToGroups`, `portal:admin:manageEnterpriseGroups`,
//! `portal:admin:createUpdateCapableGroup` (real privilege names; the Python client treats any
//! `:admin:` privilege as admin).
//!
//! # Deliberate deviations from the real portal
//!
//! - `generateToken` also answers over plain HTTP, so tests run without TLS on loopback.
//! - `--group-limit` can be raised above 512 for large benchmarks.
//! - Invitations are recorded but never accepted; `reassign`, items and content are absent.

mod auth;
mod config;
mod conn;
mod faults;
mod handlers;
mod multipart;
mod routes;
mod search;
mod server;
mod state;
mod stats;
mod tls;
mod wire;

pub use config::{
    DEFAULT_SEED, PrivilegesIn, REALISTIC_MEMBERS_CAP, SeedGroup, SimConfig, SimRole, SimUser,
    ThrottleStatus, UserAccess, parse_users_csv,
};
pub use server::{RunningSim, SimServer, serve};
pub use state::{GroupState, HOME_ORG_ID, MAX_NAMES_PER_CALL, StateSnapshot, UserState};
pub use stats::StatsSnapshot;
