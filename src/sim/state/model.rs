//! The portal's data — accounts, groups, invitations, the title index — and the invariants
//! every change must keep: a user's `groups` counts the groups of this portal they own, manage
//! or belong to; `titles` holds exactly one entry per group (owner and title, lower-cased);
//! the owner is in no other role of their group. Only the functions here touch those fields
//! together, so `writes` changes membership through [`Portal::join`] and
//! [`Portal::leave`] and never by hand.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::sim::config::{PrivilegesIn, SeedGroup, SimConfig, SimRole, SimUser, UserAccess};
use crate::sim::wire::{ApiError, Params};

/// Most names one addUsers/removeUsers call may carry (`users` and `admins` together).
pub const MAX_NAMES_PER_CALL: usize = 25;

/// Id of the home org (16 characters, like a real org id).
pub const HOME_ORG_ID: &str = "SimHomeOrg000001";

/// An account.
#[derive(Debug, Clone)]
pub struct User {
    /// Canonical spelling.
    pub username: String,
    /// 32 hex digits, derived from the username.
    pub id: String,
    /// `home` or the other org's name.
    pub org_name: String,
    /// The org's id.
    pub org_id: String,
    /// Role in the org.
    pub role: SimRole,
    pub(super) email: String,
    pub(super) idp_username: Option<String>,
    pub(super) access: UserAccess,
    pub(super) password: Option<String>,
    /// Memberships outside this simulator, counted toward the group limit.
    pub(super) extra_groups: u32,
    /// Groups of this simulator the user owns, manages or belongs to.
    pub(super) groups: u32,
    pub(super) created_ms: i64,
    pub(super) seq: u64,
}

impl User {
    pub(super) fn is_admin_of(&self, org_id: &str) -> bool {
        self.role == SimRole::OrgAdmin && self.org_id == org_id
    }

    pub(super) fn memberships(&self) -> u64 {
        u64::from(self.groups) + u64::from(self.extra_groups)
    }
}

/// The role a user joins a group in (addUsers' `users`/`admins`, an invitation's `role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupRole {
    /// A plain member (`group_member`).
    Member,
    /// A manager (`group_admin`).
    Admin,
}

impl GroupRole {
    /// The REST name (`group_member`, `group_admin`).
    pub fn as_str(self) -> &'static str {
        match self {
            GroupRole::Member => "group_member",
            GroupRole::Admin => "group_admin",
        }
    }
}

/// A group.
#[derive(Debug, Clone)]
pub(super) struct Group {
    pub id: String,
    pub title: String,
    pub owner: String,
    pub org_id: String,
    pub access: String,
    pub description: String,
    pub snippet: String,
    pub tags: Vec<String>,
    pub phone: String,
    pub sort_field: String,
    pub sort_order: String,
    pub is_invitation_only: bool,
    pub is_view_only: bool,
    pub auto_join: bool,
    pub is_open_data: bool,
    pub leaving_disallowed: bool,
    pub hidden_members: bool,
    pub membership_access: Option<String>,
    pub capabilities: Vec<String>,
    pub display_settings: Value,
    pub created_ms: i64,
    pub modified_ms: i64,
    /// Managers other than the owner.
    pub admins: BTreeSet<String>,
    /// Plain members.
    pub members: BTreeSet<String>,
    /// Invitations (canonical username → invitation), expired ones included.
    pub invited: HashMap<String, Invitation>,
    /// When each member or manager joined (epoch ms; the owner: creation).
    pub joined: HashMap<String, i64>,
    /// Search ignores the group until then (`--search-lag`).
    pub searchable_at: Instant,
    pub seq: u64,
}

impl Group {
    /// `owner`, `admin`, `member` or `none`: the REST `memberType` of `username`.
    pub fn member_type(&self, username: &str) -> &'static str {
        if self.owner == username {
            "owner"
        } else if self.admins.contains(username) {
            "admin"
        } else if self.members.contains(username) {
            "member"
        } else {
            "none"
        }
    }

    pub fn contains(&self, username: &str) -> bool {
        self.member_type(username) != "none"
    }

    /// The owner, then the other managers, then the plain members.
    pub fn everyone(&self) -> impl Iterator<Item = &String> {
        std::iter::once(&self.owner)
            .chain(&self.admins)
            .chain(&self.members)
    }
}

/// A pending invitation to one group.
#[derive(Debug, Clone)]
pub(super) struct Invitation {
    /// `G` + 32 hex digits, like the real ids.
    pub id: String,
    /// The role the invitee joins in.
    pub role: GroupRole,
    /// Who invited.
    pub from: String,
    pub created_ms: i64,
    pub expires_ms: i64,
}

impl Invitation {
    pub fn pending(&self) -> bool {
        self.expires_ms > now_ms()
    }
}

/// The whole portal.
#[derive(Debug)]
pub struct Portal {
    pub(super) group_limit: u32,
    pub(super) search_lag: Duration,
    /// `--legacy-members-cap`.
    pub(super) legacy_members_cap: Option<u32>,
    /// `--strict-chunks`.
    pub(super) strict_chunks: bool,
    /// `--exact-case`.
    pub(super) exact_case: bool,
    /// `--privileges-in`.
    pub(super) privileges_in: PrivilegesIn,
    /// `--reassign-drops-owner`.
    pub(super) reassign_drops_owner: bool,
    pub(super) admin_username: String,
    /// Keyed by lower-cased username: usernames are unique case-insensitively.
    pub(super) users: HashMap<String, User>,
    pub(super) groups: HashMap<String, Group>,
    /// (lower-cased owner, lower-cased trimmed title) → group id: the uniqueness rule.
    pub(super) titles: HashMap<(String, String), String>,
    pub(super) rng: StdRng,
    next_seq: u64,
}

pub(super) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// FNV-1a: a stable hash for ids derived from names (ids must not depend on `--seed` order).
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn org_id_for(name: Option<&str>) -> String {
    match name {
        None => HOME_ORG_ID.to_owned(),
        Some(n) => format!("SimOrg{:010x}", fnv(&n.to_lowercase()) & 0xff_ffff_ffff),
    }
}

/// The key of the title index: titles are unique per owner, case-insensitively.
pub(super) fn title_key(owner: &str, title: &str) -> (String, String) {
    (owner.to_lowercase(), title.to_lowercase())
}

fn parse_tags(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A group's `access` as stored (`private`, `org`, `public`), or the error of `verb`.
pub(super) fn check_access(verb: &str, access: &str) -> Result<String, ApiError> {
    let a = access.trim().to_ascii_lowercase();
    match a.as_str() {
        "private" | "org" | "public" => Ok(a),
        // Older clients still send "account" for org-wide access.
        "account" => Ok("org".to_owned()),
        _ => Err(ApiError::bad_request(
            format!("Unable to {verb} group."),
            format!("'access' must be one of private, org, public (got '{access}')."),
        )),
    }
}

/// What an empty optional parameter of createGroup/update does (`clearEmptyFields`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum EmptyFields {
    /// Leaves the field as it is.
    Ignore,
    /// Clears a text field.
    Clear,
}

/// Copies the optional group parameters of createGroup/update onto `g`.
pub(super) fn apply_properties(g: &mut Group, p: &Params, empty: EmptyFields) {
    let clear = empty == EmptyFields::Clear;
    let text = |key: &str, field: &mut String| {
        if let Some(v) = p.get(key)
            && (clear || !v.trim().is_empty())
        {
            *field = v.to_owned();
        }
    };
    text("description", &mut g.description);
    text("snippet", &mut g.snippet);
    text("phone", &mut g.phone);
    text("sortField", &mut g.sort_field);
    text("sortOrder", &mut g.sort_order);
    if let Some(t) = p.get("tags")
        && (clear || !t.trim().is_empty())
    {
        g.tags = parse_tags(t);
    }
    if let Some(c) = p.get("capabilities") {
        g.capabilities = parse_tags(c);
    }
    let flag = |key: &str, field: &mut bool| {
        if let Some(v) = p.flag(key) {
            *field = v;
        }
    };
    flag("isInvitationOnly", &mut g.is_invitation_only);
    flag("isViewOnly", &mut g.is_view_only);
    flag("autoJoin", &mut g.auto_join);
    flag("isOpenData", &mut g.is_open_data);
    flag("leavingDisallowed", &mut g.leaving_disallowed);
    flag("hiddenMembers", &mut g.hidden_members);
    if let Some(m) = p.non_empty("membershipAccess") {
        g.membership_access = Some(m.to_owned());
    }
    if let Some(d) = p.non_empty("displaySettings")
        && let Ok(v) = serde_json::from_str::<Value>(d)
    {
        g.display_settings = v;
    }
}

impl Portal {
    /// Builds the initial state from the configuration (admin, users file, seed users, seed
    /// groups). Fails on a seed group that names an unknown user.
    pub fn new(config: &SimConfig) -> Result<Portal, String> {
        let mut portal = Portal {
            group_limit: config.group_limit,
            search_lag: config.search_lag,
            legacy_members_cap: config.legacy_members_cap,
            strict_chunks: config.strict_chunks,
            exact_case: config.exact_case,
            privileges_in: config.privileges_in,
            reassign_drops_owner: config.reassign_drops_owner,
            admin_username: config.admin_username.clone(),
            users: HashMap::new(),
            groups: HashMap::new(),
            titles: HashMap::new(),
            rng: StdRng::seed_from_u64(config.seed ^ 0x57A7_E000),
            next_seq: 0,
        };
        portal.add_user(&SimUser {
            username: config.admin_username.clone(),
            org: None,
            role: SimRole::OrgAdmin,
            password: Some(config.admin_password.clone()),
            ..SimUser::new(config.admin_username.clone())
        });
        for u in &config.users {
            portal.add_user(u);
        }
        for n in 1..=config.seed_users {
            portal.add_user(&SimUser {
                email: Some(format!("user{n:06}@example.edu")),
                ..SimUser::new(format!("user{n:06}"))
            });
        }
        for g in &config.initial_groups {
            portal.seed_group(g)?;
        }
        Ok(portal)
    }

    fn seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    fn add_user(&mut self, u: &SimUser) {
        let key = u.username.to_lowercase();
        if u.username.is_empty() || self.users.contains_key(&key) {
            return;
        }
        let seq = self.seq();
        let id = format!("{:016x}{:016x}", fnv(&key), fnv(&format!("{key}#")));
        self.users.insert(
            key,
            User {
                username: u.username.clone(),
                id,
                org_name: u.org.clone().unwrap_or_else(|| "home".to_owned()),
                org_id: org_id_for(u.org.as_deref()),
                role: u.role,
                email: u
                    .email
                    .clone()
                    .unwrap_or_else(|| format!("{}@example.invalid", u.username)),
                idp_username: u.idp_username.clone(),
                access: u.access,
                password: u.password.clone(),
                extra_groups: u.groups,
                groups: 0,
                created_ms: now_ms(),
                seq,
            },
        );
    }

    fn seed_group(&mut self, g: &SeedGroup) -> Result<(), String> {
        let owner = self
            .user(&g.owner)
            .ok_or_else(|| format!("seed group {:?}: unknown owner {:?}", g.title, g.owner))?;
        let (owner_name, org_id) = (owner.username.clone(), owner.org_id.clone());
        let access = check_access("create", &g.access).map_err(|e| e.details.join(""))?;
        let id = self.new_group(
            &owner_name,
            &org_id,
            g.title.trim_end(),
            &access,
            &Params::default(),
        );
        for (names, role) in [(&g.admins, GroupRole::Admin), (&g.users, GroupRole::Member)] {
            for name in names {
                let canonical = self
                    .user(name)
                    .map(|u| u.username.clone())
                    .ok_or_else(|| format!("seed group {:?}: unknown user {name:?}", g.title))?;
                self.join(&id, &canonical, role);
            }
        }
        Ok(())
    }

    /// Looks a user up case-insensitively.
    pub fn user(&self, username: &str) -> Option<&User> {
        self.users.get(&username.to_lowercase())
    }

    /// Creates a group owned by `owner` (canonical, checked by the caller) and returns its id.
    pub(super) fn new_group(
        &mut self,
        owner: &str,
        org_id: &str,
        title: &str,
        access: &str,
        p: &Params,
    ) -> String {
        let id = loop {
            let bytes: [u8; 16] = self.rng.random();
            let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            if !self.groups.contains_key(&id) {
                break id;
            }
        };
        let now = now_ms();
        let seq = self.seq();
        let mut group = Group {
            id: id.clone(),
            title: title.to_owned(),
            owner: owner.to_owned(),
            org_id: org_id.to_owned(),
            access: access.to_owned(),
            description: String::new(),
            snippet: String::new(),
            tags: Vec::new(),
            phone: String::new(),
            sort_field: "title".to_owned(),
            sort_order: "asc".to_owned(),
            is_invitation_only: false,
            is_view_only: false,
            auto_join: false,
            is_open_data: false,
            leaving_disallowed: false,
            hidden_members: false,
            membership_access: None,
            capabilities: Vec::new(),
            display_settings: json!({"itemTypes": ""}),
            created_ms: now,
            modified_ms: now,
            admins: BTreeSet::new(),
            members: BTreeSet::new(),
            invited: HashMap::new(),
            joined: HashMap::from([(owner.to_owned(), now)]),
            searchable_at: Instant::now() + self.search_lag,
            seq,
        };
        apply_properties(&mut group, p, EmptyFields::Ignore);
        self.titles.insert(title_key(owner, title), id.clone());
        self.groups.insert(id.clone(), group);
        self.count_group(owner, 1);
        id
    }

    /// Adds `username` (canonical) to group `id` in `role`, or moves them to it; the owner
    /// stays owner. A pending invitation of theirs is used up.
    pub(super) fn join(&mut self, id: &str, username: &str, role: GroupRole) {
        let Some(g) = self.groups.get_mut(id) else {
            return;
        };
        if g.owner == username {
            return;
        }
        let was_in = g.members.remove(username) | g.admins.remove(username);
        match role {
            GroupRole::Admin => g.admins.insert(username.to_owned()),
            GroupRole::Member => g.members.insert(username.to_owned()),
        };
        g.invited.remove(username);
        g.joined.entry(username.to_owned()).or_insert_with(now_ms);
        if !was_in {
            self.count_group(username, 1);
        }
    }

    /// Takes `username` (canonical) out of group `id` as member or manager; false when they
    /// held neither role (the owner cannot leave).
    pub(super) fn leave(&mut self, id: &str, username: &str) -> bool {
        let Some(g) = self.groups.get_mut(id) else {
            return false;
        };
        let left = g.members.remove(username) | g.admins.remove(username);
        if left {
            g.joined.remove(username);
            self.count_group(username, -1);
        }
        left
    }

    /// Removes group `id` with its title entry and everyone's membership count.
    pub(super) fn remove_group(&mut self, id: &str) {
        let Some(g) = self.groups.remove(id) else {
            return;
        };
        self.titles.remove(&title_key(&g.owner, &g.title));
        for name in g.everyone() {
            self.count_group(name, -1);
        }
    }

    /// Adjusts `username`'s count of groups of this portal by `delta`.
    pub(super) fn count_group(&mut self, username: &str, delta: i32) {
        if let Some(u) = self.users.get_mut(&username.to_lowercase()) {
            u.groups = u.groups.saturating_add_signed(delta);
        }
    }

    /// Draws a random token (the state's RNG is seeded, so tokens are reproducible too).
    pub fn random_token(&mut self) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        (0..86)
            .map(|_| ALPHABET[self.rng.random_range(0..ALPHABET.len())] as char)
            .collect()
    }
}
