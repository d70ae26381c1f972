//! Simulator configuration: one field per `portal-sim` flag, plus the seed data tests inject
//! directly (pre-existing groups, extra users), and the `--users FILE` CSV parser.
//!
//! The binary turns clap arguments into a [`SimConfig`]; tests build one with struct-update
//! syntax over [`SimConfig::default()`], which has every fault and pacing knob off.

use std::net::SocketAddr;
use std::time::Duration;

/// Everything that shapes one simulator run. `Default` = all knobs off, admin
/// `admin`/`admin-password`, group limit 512, token lifetime 2 h, fixed seed.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// `--listen`: where the binary binds (the library's [`serve`](super::serve) takes a
    /// bound listener instead and ignores this).
    pub listen: SocketAddr,
    /// `--tls`: serve HTTPS with a freshly generated CA and server certificate.
    pub tls: bool,
    /// `--cert-out`: where to write the CA certificate (PEM) clients should trust.
    pub cert_out: Option<std::path::PathBuf>,
    /// `--tls-name`: extra subject alternative names for the server certificate.
    pub tls_names: Vec<String>,
    /// `--admin USER:PASSWORD`: user name of the home org's administrator.
    pub admin_username: String,
    /// `--admin USER:PASSWORD`: password of the home org's administrator.
    pub admin_password: String,
    /// `--users FILE`, already parsed (see [`parse_users_csv`]); tests may add users here.
    pub users: Vec<SimUser>,
    /// `--seed-users N`: also create `user000001` … `userN` (home org, `org_user`).
    pub seed_users: u32,
    /// `--group-limit N`: groups a user may belong to, owned ones included.
    pub group_limit: u32,
    /// `--latency`: added to every ArcGIS response.
    pub latency: Duration,
    /// `--jitter`: uniformly random extra latency in `[0, jitter]`.
    pub jitter: Duration,
    /// `--rate-limit N`: requests accepted per sliding one-second window (`None` = unlimited).
    pub rate_limit: Option<u32>,
    /// `--max-in-flight N`: concurrent requests accepted (`None` = unlimited).
    pub max_in_flight: Option<u32>,
    /// `--no-retry-after`: 429 replies carry no `Retry-After` header.
    pub no_retry_after: bool,
    /// `--fail-rate F`: fraction of requests answered 500/502/503 without being applied.
    pub fail_rate: f64,
    /// `--drop-rate F`: fraction of write requests applied, then the connection closed unanswered.
    pub drop_rate: f64,
    /// `--token-ttl`: lifetime of issued tokens (a client may ask for less, never more).
    pub token_ttl: Duration,
    /// `--search-lag`: a new or updated group stays invisible to search for this long.
    pub search_lag: Duration,
    /// `--errors-as-status`: error envelopes also set the HTTP status to the error code.
    pub errors_as_status: bool,
    /// `--state-out FILE`: the binary writes the final state there on shutdown.
    pub state_out: Option<std::path::PathBuf>,
    /// `--seed N`: seed of the RNG behind faults, jitter, ids and tokens.
    pub seed: u64,
    /// Groups that exist before the first request (tests only; no flag).
    pub initial_groups: Vec<SeedGroup>,
    /// `--legacy-members-cap N`: `groups/{id}/users` lists at most N names per role.
    pub legacy_members_cap: Option<u32>,
    /// `--strict-chunks`: one unknown username fails the whole addUsers call.
    pub strict_chunks: bool,
    /// `--exact-case`: addUsers/removeUsers accept only the portal's own spelling.
    pub exact_case: bool,
    /// `--privileges-in`: where the caller's `privileges` list appears.
    pub privileges_in: PrivilegesIn,
    /// `--cool-off`: once `--rate-limit` trips, every request is refused for this long
    /// (zero = no cool-off).
    pub cool_off: Duration,
    /// `--throttle-status`: HTTP status and JSON code of throttled replies.
    pub throttle_status: ThrottleStatus,
    /// `--reassign-drops-owner`: after reassign, the old owner is no longer a member.
    pub reassign_drops_owner: bool,
    /// `--no-group-invitations`: `community/groups/{id}/invitations` (undocumented) is not
    /// served, as on a portal without it.
    pub no_group_invitations: bool,
}

/// The seed used when `--seed` is not given, so that runs are reproducible by default.
pub const DEFAULT_SEED: u64 = 0x5EED_A4C6_1500_0001;

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls: false,
            cert_out: None,
            tls_names: Vec::new(),
            admin_username: "admin".to_owned(),
            admin_password: "admin-password".to_owned(),
            users: Vec::new(),
            seed_users: 0,
            group_limit: 512,
            latency: Duration::ZERO,
            jitter: Duration::ZERO,
            rate_limit: None,
            max_in_flight: None,
            no_retry_after: false,
            fail_rate: 0.0,
            drop_rate: 0.0,
            token_ttl: Duration::from_secs(2 * 3600),
            search_lag: Duration::ZERO,
            errors_as_status: false,
            state_out: None,
            seed: DEFAULT_SEED,
            initial_groups: Vec::new(),
            legacy_members_cap: None,
            strict_chunks: false,
            exact_case: false,
            privileges_in: PrivilegesIn::Both,
            cool_off: Duration::ZERO,
            throttle_status: ThrottleStatus::TooManyRequests,
            reassign_drops_owner: false,
            no_group_invitations: false,
        }
    }
}

/// The members cap `--realistic` applies to `groups/{id}/users`.
pub const REALISTIC_MEMBERS_CAP: u32 = 100;

impl SimConfig {
    /// The scheme `--tls` selects.
    pub fn scheme(&self) -> Scheme {
        if self.tls {
            Scheme::Https
        } else {
            Scheme::Http
        }
    }

    /// `--realistic`: every realism switch at once, each at the variant that is harder for a
    /// client (see "Realism switches" in the [module doc](super)). `--cool-off` takes a value
    /// and stays as it is.
    pub fn realistic(self) -> SimConfig {
        SimConfig {
            legacy_members_cap: Some(REALISTIC_MEMBERS_CAP),
            strict_chunks: true,
            exact_case: true,
            privileges_in: PrivilegesIn::PortalsSelf,
            throttle_status: ThrottleStatus::Forbidden,
            reassign_drops_owner: true,
            no_group_invitations: true,
            ..self
        }
    }
}

/// Where the caller's `privileges` list appears (`--privileges-in`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PrivilegesIn {
    /// Only in `portals/self`'s `user`.
    PortalsSelf,
    /// Only in `community/self`.
    CommunitySelf,
    /// In both (the default).
    #[default]
    Both,
    /// In neither.
    None,
}

impl PrivilegesIn {
    /// Parses the flag value (`portals-self`, `community-self`, `both`, `none`).
    pub fn parse(s: &str) -> Result<PrivilegesIn, String> {
        match s {
            "portals-self" => Ok(PrivilegesIn::PortalsSelf),
            "community-self" => Ok(PrivilegesIn::CommunitySelf),
            "both" => Ok(PrivilegesIn::Both),
            "none" => Ok(PrivilegesIn::None),
            _ => Err("expected portals-self, community-self, both or none".to_owned()),
        }
    }

    /// Whether `portals/self` lists them.
    pub fn in_portals_self(self) -> bool {
        matches!(self, PrivilegesIn::PortalsSelf | PrivilegesIn::Both)
    }

    /// Whether `community/self` lists them.
    pub fn in_community_self(self) -> bool {
        matches!(self, PrivilegesIn::CommunitySelf | PrivilegesIn::Both)
    }
}

/// How the simulator serves (`--tls`): what its URLs and the `ssl` / `allSSL` properties say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Plain HTTP.
    Http,
    /// HTTPS.
    Https,
}

impl Scheme {
    /// `http` or `https`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    /// Whether replies say `ssl: true`.
    pub fn is_tls(self) -> bool {
        self == Scheme::Https
    }
}

/// How throttled requests are answered (`--throttle-status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ThrottleStatus {
    /// HTTP 429 with JSON code 429 (the default).
    #[default]
    TooManyRequests,
    /// HTTP 403 with JSON code 403 and "Too many requests" in the message, as bursts of
    /// writes have been reported to get (reference §9).
    Forbidden,
}

impl ThrottleStatus {
    /// Parses the flag value (`429` or `403`).
    pub fn parse(s: &str) -> Result<ThrottleStatus, String> {
        match s {
            "429" => Ok(ThrottleStatus::TooManyRequests),
            "403" => Ok(ThrottleStatus::Forbidden),
            _ => Err("expected 429 or 403".to_owned()),
        }
    }

    /// The HTTP status (and JSON `error.code`).
    pub fn code(self) -> u16 {
        match self {
            ThrottleStatus::TooManyRequests => 429,
            ThrottleStatus::Forbidden => 403,
        }
    }
}

/// An account of the simulated portal (besides the admin, which comes from `--admin`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimUser {
    /// Login name; unique case-insensitively.
    pub username: String,
    /// `None` = the home org; `Some(name)` = another org of that name.
    pub org: Option<String>,
    /// Role in its org.
    pub role: SimRole,
    /// Lets tests sign in as this user; `None` = the account cannot sign in.
    pub password: Option<String>,
    /// Memberships the user already has elsewhere, counted toward the group limit.
    pub groups: u32,
    /// E-mail address; `None` = `<username>@example.invalid`.
    pub email: Option<String>,
    /// The identity provider's name for the account (SAML logins); `None` = built-in account.
    pub idp_username: Option<String>,
    /// Profile visibility; decides whether other orgs can see the account.
    pub access: UserAccess,
}

/// Profile visibility of an account (`access` of `community/users/{u}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UserAccess {
    /// Only the user and their org's administrators.
    Private,
    /// The user's org (the default).
    #[default]
    Org,
    /// Everyone; other orgs get the anonymous view (no `orgId`, `role`, `email`).
    Public,
}

impl UserAccess {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            UserAccess::Private => "private",
            UserAccess::Org => "org",
            UserAccess::Public => "public",
        }
    }

    /// Parses a wire name; an empty string means `org`.
    pub fn parse(s: &str) -> Option<UserAccess> {
        match s.trim().to_ascii_lowercase().as_str() {
            "private" => Some(UserAccess::Private),
            "" | "org" => Some(UserAccess::Org),
            "public" => Some(UserAccess::Public),
            _ => None,
        }
    }
}

impl SimUser {
    /// A home-org `org_user` without password or outside memberships.
    pub fn new(username: impl Into<String>) -> Self {
        SimUser {
            username: username.into(),
            org: None,
            role: SimRole::OrgUser,
            password: None,
            groups: 0,
            email: None,
            idp_username: None,
            access: UserAccess::Org,
        }
    }
}

/// The three built-in ArcGIS roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SimRole {
    /// `org_user`: may create and join groups, nothing administrative.
    OrgUser,
    /// `org_publisher`: a user who may also publish content (same group rights here).
    OrgPublisher,
    /// `org_admin`: may act on every group of the org.
    OrgAdmin,
}

impl SimRole {
    /// The wire name (`org_user`, `org_publisher`, `org_admin`).
    pub fn as_str(self) -> &'static str {
        match self {
            SimRole::OrgUser => "org_user",
            SimRole::OrgPublisher => "org_publisher",
            SimRole::OrgAdmin => "org_admin",
        }
    }

    /// Parses a wire name; an empty string means `org_user`.
    pub fn parse(s: &str) -> Option<SimRole> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "org_user" | "user" => Some(SimRole::OrgUser),
            "org_publisher" | "publisher" => Some(SimRole::OrgPublisher),
            "org_admin" | "admin" => Some(SimRole::OrgAdmin),
            _ => None,
        }
    }
}

/// A group that exists when the simulator starts (tests use it to set up "already there" cases).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedGroup {
    /// Title, stored as given (trailing whitespace trimmed, like createGroup).
    pub title: String,
    /// Owner's username; must be a known user (the admin or one of `users`).
    pub owner: String,
    /// `private`, `org` or `public`.
    pub access: String,
    /// Group managers besides the owner.
    pub admins: Vec<String>,
    /// Plain members.
    pub users: Vec<String>,
}

impl SeedGroup {
    /// A private group with no other members.
    pub fn new(title: impl Into<String>, owner: impl Into<String>) -> Self {
        SeedGroup {
            title: title.into(),
            owner: owner.into(),
            access: "private".to_owned(),
            admins: Vec::new(),
            users: Vec::new(),
        }
    }
}

/// Parses the `--users FILE` format: CSV with a header, columns matched by name
/// (case-insensitive); only `username` is required. `org` empty or `home` = home org; `role`
/// `org_user` (default) / `org_publisher` / `org_admin`; `password`; `groups` (a count);
/// `email`; `idp_username`; `access` (`private`, `org` default, `public`).
/// Blank usernames are skipped; errors name the line.
pub fn parse_users_csv(text: &str) -> Result<Vec<SimUser>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| format!("users file: {e}"))?
        .clone();
    let column = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let username_col =
        column("username").ok_or_else(|| "users file: no `username` column".to_owned())?;
    let (org_col, role_col, password_col, groups_col) = (
        column("org"),
        column("role"),
        column("password"),
        column("groups"),
    );
    let (email_col, idp_col, access_col) =
        (column("email"), column("idp_username"), column("access"));
    let mut users = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| format!("users file: {e}"))?;
        let line = record.position().map_or(0, |p| p.line());
        let field = |col: Option<usize>| col.and_then(|c| record.get(c)).unwrap_or("");
        let username = field(Some(username_col));
        if username.is_empty() {
            continue;
        }
        let org = match field(org_col) {
            "" => None,
            o if o.eq_ignore_ascii_case("home") => None,
            o => Some(o.to_owned()),
        };
        let role = SimRole::parse(field(role_col))
            .ok_or_else(|| format!("users file line {line}: unknown role {:?}", field(role_col)))?;
        let optional = |col: Option<usize>| {
            Some(field(col))
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let access = UserAccess::parse(field(access_col)).ok_or_else(|| {
            format!(
                "users file line {line}: unknown access {:?}",
                field(access_col)
            )
        })?;
        let groups = match field(groups_col) {
            "" => 0,
            g => g
                .parse()
                .map_err(|_| format!("users file line {line}: `groups` is not a count: {g:?}"))?,
        };
        users.push(SimUser {
            username: username.to_owned(),
            org,
            role,
            password: optional(password_col),
            groups,
            email: optional(email_col),
            idp_username: optional(idp_col),
            access,
        });
    }
    Ok(users)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_columns_by_name() {
        let users = parse_users_csv(
            "role,username,org,groups,password\n\
             org_admin,boss,,0,pw\n\
             ,alice,home,,\n\
             org_publisher,bob,other,511,\n\
             ,,,,\n",
        )
        .unwrap();
        assert_eq!(users.len(), 3);
        assert_eq!(users[0].role, SimRole::OrgAdmin);
        assert_eq!(users[0].password.as_deref(), Some("pw"));
        assert_eq!(users[1].org, None);
        assert_eq!(users[1].role, SimRole::OrgUser);
        assert_eq!(users[2].org.as_deref(), Some("other"));
        assert_eq!(users[2].groups, 511);
        assert_eq!(users[2].access, UserAccess::Org);
    }

    #[test]
    fn directory_columns() {
        let users = parse_users_csv(
            "username,email,idp_username,access\n\
             ann,ann@uni.edu,ann.idp,public\n\
             ben,,,private\n",
        )
        .unwrap();
        assert_eq!(users[0].email.as_deref(), Some("ann@uni.edu"));
        assert_eq!(users[0].idp_username.as_deref(), Some("ann.idp"));
        assert_eq!(users[0].access, UserAccess::Public);
        assert_eq!(
            (users[1].email.as_ref(), users[1].access),
            (None, UserAccess::Private)
        );
        assert!(parse_users_csv("username,access\nx,friends\n").is_err());
    }

    #[test]
    fn username_only_and_errors() {
        assert_eq!(
            parse_users_csv("username\nmember_username1\n").unwrap(),
            vec![SimUser::new("member_username1")]
        );
        assert!(parse_users_csv("name\nx\n").is_err());
        assert!(parse_users_csv("username,role\nx,boss\n").is_err());
        assert!(parse_users_csv("username,groups\nx,many\n").is_err());
    }
}
