//! `portal-sim`: a stateful, in-memory ArcGIS portal speaking the subset of the sharing REST
//! API that `bulk-groups` and the ArcGIS API for Python use (`spec/portal-sim.md`, shapes and
//! texts from `reference/arcgis-rest.md`). It shares no types with `src/portal`: it implements
//! the published contract on its own, so a client bug cannot hide behind a shared struct.
//!
//! # Layout
//!
//! | module | role |
//! |---|---|
//! | `config` | [`SimConfig`] (one field per flag; [`SimConfig::realistic`]), [`SimUser`], [`SeedGroup`], [`parse_users_csv`] |
//! | `server` | [`serve`], [`SimServer`], [`RunningSim`]: listener + config → HTTP or TLS server |
//! | `routes` | router, path normalisation, the request pipeline, `f` and error rendering |
//! | `handlers` | one function per endpoint: method and token policy, then the state call |
//! | `request` | what routes hands a handler and gets back: `Route`, `Ctx`, `Outcome`, `Reply` (below both) |
//! | `app` | one instance's shared parts: config, state, tokens, counters, fault knobs (below `request`) |
//! | `state` | orgs, users, groups, invitations and every rule (permissions, limits, uniqueness, search lag); by concern in `state/`: `model` (data, invariants), `views` (JSON shapes), `access` (who sees and changes what), `reads`, `writes` |
//! | `search` | the fuzzy query language of `community/groups` |
//! | `auth` | token sources, the token table, the OAuth2 pages the Python client scrapes |
//! | `faults` | latency, jitter, rate limit and cool-off, in-flight cap, throttled replies, injected 5xx, drop decisions |
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
//! | `portals/self/users` | `portals/self/users` |
//! | `portals/self/users/search` | `portals/self/users/search` |
//! | `community/self` | `community/self` |
//! | `community/users` | `community/users/{username}` |
//! | `community/users/search` | `community/users` (with `q`) |
//! | `community/users/invitations` | `community/users/{username}/invitations[/{id}]` |
//! | `invitations/accept` | `community/users/{username}/invitations/{id}/accept` (POST) |
//! | `invitations/decline` | `community/users/{username}/invitations/{id}/decline` (POST) |
//! | `community/groups` | `community/groups` (search) |
//! | `groups/get` | `community/groups/{id}` |
//! | `groups/users` | `community/groups/{id}/users` |
//! | `groups/userList` | `community/groups/{id}/userList` |
//! | `createGroup` | `community/createGroup` (POST) |
//! | `addUsers` | `community/groups/{id}/addUsers` (POST) |
//! | `removeUsers` | `community/groups/{id}/removeUsers` (POST) |
//! | `invite` | `community/groups/{id}/invite` (POST) |
//! | `reassign` | `community/groups/{id}/reassign` (POST) |
//! | `groups/invitations` | `community/groups/{id}/invitations` (a group's pending invitations) |
//! | `update` | `community/groups/{id}/update` (POST) |
//! | `delete` | `community/groups/{id}/delete` (POST) |
//! | `other` | anything else (answered 404 in the error envelope) |
//!
//! # Counting
//!
//! `total` and `by_endpoint` count every ArcGIS request received, throttled and failed ones
//! included. `writes` counts write requests (createGroup, addUsers, removeUsers, invite,
//! reassign, invitation accept/decline, update, delete) that passed authentication and were
//! executed against the state, whatever the outcome (a COM_0044 or a `--strict-chunks`
//! refusal counts; a 499, a throttled reply or an injected 5xx does not), dropped responses
//! included. `throttled_429` counts every throttled reply, whatever `--throttle-status`. `max_in_flight` is the most ArcGIS requests in progress
//! at once, counted on arrival (so requests then refused by `--max-in-flight` count too: the
//! figure measures the client's concurrency). `/__sim/*` is never counted.
//!
//! # Choices where the reference says UNVERIFIED
//!
//! - addUsers: unknown users, users of another org, users at the group limit and users already
//!   in the group (as member, or as admin/owner when added as admin) are `notAdded`; a member
//!   listed in `admins` is promoted. `users` + `admins` > 25 → ORG_3100. removeUsers: owner,
//!   unknown users and non-members are `notRemoved`; > 25 → ORG_3100.
//! - Usernames resolve case-insensitively (sign-in itself is case-sensitive) unless
//!   `--exact-case`; titles are unique per owner case-insensitively after trimming trailing
//!   whitespace (also on update and reassign).
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
//! - Accounts (reference §9): `community/users/{u}` and the `community/users` search show an
//!   account in full to itself and its org's admins; to the rest of its org unless `private`,
//!   without `email`/`idpUsername`; to other orgs only when `public`, without `orgId`, `role`,
//!   `email`, `privileges`, `groups` (the anonymous view). Otherwise "User does not exist or
//!   is inaccessible.". `privileges` in `community/users/{u}` are not affected by
//!   `--privileges-in`.
//! - Org directory: `portals/self/users` answers `users`, `portals/self/users/search` answers
//!   `results` and `query` (arcgis-rest-js's user-search mock); both page with `num` ≤ 100,
//!   org admins only (anyone else: the 403 envelope). `q` fields `email:` and `idpUsername:`
//!   match exactly; bare words fuzzily.
//! - Tokens from `generateToken` with `client=referer` require `referer` and are bound to it:
//!   a request whose `Referer` header is not exactly that string (or is missing) gets 498
//!   "Invalid token.". Other tokens (OAuth sign-in, app tokens, other `client` values) are
//!   not bound.
//! - `userList` entries carry the time each member joined (the owner: the group's creation).
//! - reassign: org admins of the group's org only (403 otherwise); the target must be a user
//!   of that org (else 400 "Unable to reassign group." naming it), below the group limit
//!   unless already in the group, and without a group of that title. Reply
//!   `{success, groupId}`.
//! - invite: owner, managers, org admin; users of any org; already-members, pending invitees
//!   and unknown names change nothing, the reply is `{success, groupId}` regardless;
//!   `expiration` in minutes (default 10080); invitation ids `G` + 32 hex digits. The invitee
//!   (or, to read, their org's admin) lists `community/users/{u}/invitations`
//!   (`{"userInvitations": […]}`, arcgis-rest-js's `IInvitation` shape) and answers with
//!   `…/{id}/accept` (joins in the invited role; reply `{success, username, groupId, id}`) or
//!   `…/decline`. There is no documented listing of a group's pending invitations; the
//!   simulator serves one at `community/groups/{id}/invitations` (`{"invitations": […]}`,
//!   the same entries, pending ones only; owner, managers and org admin) so that a client can
//!   avoid inviting twice, and `--no-group-invitations` (in `--realistic`) answers it like an
//!   unknown path, as a portal without it would.
//!
//! # Realism switches
//!
//! Friendly defaults, and one switch per thing a real portal may do instead (`--realistic`
//! = [`SimConfig::realistic`], every switch at the variant that is harder for a client):
//!
//! | switch | effect | `--realistic` |
//! |---|---|---|
//! | `--legacy-members-cap N` | `…/users` lists at most N names in `admins` and in `users`, silently (`userList` is complete) | 100 |
//! | `--strict-chunks` | an addUsers call naming an account that does not exist (or, with `--exact-case`, not in the portal's spelling) fails as a whole, nothing applied: `{"error":{"code":400,"message":"Unable to add users to group: user 'x' does not exist or is inaccessible.","details":["User 'x' does not exist or is inaccessible."]}}`. No public source shows the real reply; this is code 400 like every other refused group operation, naming the user in both places. Other refusals (another org, group limit, already a member) stay `notAdded`; removeUsers is unaffected | on |
//! | `--exact-case` | addUsers/removeUsers match only the portal's own spelling; another spelling is `notAdded`/`notRemoved` | on |
//! | `--privileges-in` | where the caller's `privileges` appear: `portals/self`'s `user`, `community/self`, both (default), none | `portals-self`: the documented place (reference §2.5); a client reading only `community/self` breaks |
//! | `--throttle-status 429\|403` | status and JSON code of throttled replies; the 403 says "Too many requests. Try again later." and has no `Retry-After` (reported bursts of 403, reference §9) | 403: indistinguishable from a permission error by status alone |
//! | `--cool-off D` | when `--rate-limit` trips, every request is refused for D, without `Retry-After`; then a fresh one-second window | not set (takes a value) |
//! | `--reassign-drops-owner` | after reassign the old owner leaves the group (default: stays a manager); UNVERIFIED which is real | on: a client relying on the old owner's membership breaks |
//! | `--no-group-invitations` | `community/groups/{id}/invitations` is not served (no documented endpoint lists a group's pending invitations) | on: a client relying on the listing breaks |
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
//! - Items and content are absent; invitations are to usernames only (no e-mail invitations).

mod app;
mod auth;
mod config;
mod conn;
mod faults;
mod handlers;
mod multipart;
mod request;
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
