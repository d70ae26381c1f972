//! The portal's in-memory state — orgs, users, groups — and every rule that changes or reveals
//! it: permissions, the group limit, title uniqueness, the 25-name cap, visibility, search lag.
//!
//! Concerns with their own rules live in submodules: `directory` (who sees which accounts),
//! `members` (listing and changing a group's members), `reassign`, `invitations`.
//!
//! Everything here is synchronous and runs under one short `std::sync::Mutex` lock held by the
//! caller ([`super::server`]); nothing awaits while holding it. Operations return the JSON
//! document of the response or an [`ApiError`], so the HTTP layer only formats.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::config::{PrivilegesIn, SeedGroup, SimConfig, SimRole, SimUser, UserAccess};
use super::search::{Doc, Page, Query};
use super::wire::{ApiError, Params};

mod directory;
mod invitations;
mod members;
mod reassign;

pub use directory::Listing;
use invitations::Invitation;

/// Most names one addUsers/removeUsers call may carry (`users` and `admins` together).
pub const MAX_NAMES_PER_CALL: usize = 25;

/// Id of the home org (16 characters, like a real org id).
pub const HOME_ORG_ID: &str = "SimHomeOrg000001";

/// The `GET /__sim/state` document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateSnapshot {
    /// Every group, in creation order.
    pub groups: Vec<GroupState>,
    /// Every account, admin first, then in creation order.
    pub users: Vec<UserState>,
}

impl StateSnapshot {
    /// The first group whose title equals `title` exactly.
    pub fn group(&self, title: &str) -> Option<&GroupState> {
        self.groups.iter().find(|g| g.title == title)
    }
}

/// One group in [`StateSnapshot`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupState {
    /// 32 lowercase hex digits.
    pub id: String,
    /// Title as stored (trailing whitespace trimmed).
    pub title: String,
    /// Owner's username.
    pub owner: String,
    /// `private`, `org` or `public`.
    pub access: String,
    /// Managers, the owner first, then the others sorted.
    pub admins: Vec<String>,
    /// Plain members (not admins), sorted.
    pub users: Vec<String>,
}

/// One account in [`StateSnapshot`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserState {
    /// Username.
    pub username: String,
    /// `home`, or the name of the other org.
    pub org: String,
    /// `org_user`, `org_publisher` or `org_admin`.
    pub role: String,
}

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
    email: String,
    idp_username: Option<String>,
    access: UserAccess,
    password: Option<String>,
    /// Memberships outside this simulator, counted toward the group limit.
    extra_groups: u32,
    /// Groups of this simulator the user owns, manages or belongs to.
    groups: u32,
    created_ms: i64,
    seq: u64,
}

impl User {
    fn is_admin_of(&self, org_id: &str) -> bool {
        self.role == SimRole::OrgAdmin && self.org_id == org_id
    }

    fn memberships(&self) -> u64 {
        u64::from(self.groups) + u64::from(self.extra_groups)
    }
}

/// A group.
#[derive(Debug, Clone)]
struct Group {
    id: String,
    title: String,
    owner: String,
    org_id: String,
    access: String,
    description: String,
    snippet: String,
    tags: Vec<String>,
    phone: String,
    sort_field: String,
    sort_order: String,
    is_invitation_only: bool,
    is_view_only: bool,
    auto_join: bool,
    is_open_data: bool,
    leaving_disallowed: bool,
    hidden_members: bool,
    membership_access: Option<String>,
    capabilities: Vec<String>,
    display_settings: Value,
    created_ms: i64,
    modified_ms: i64,
    /// Managers other than the owner.
    admins: BTreeSet<String>,
    /// Plain members.
    members: BTreeSet<String>,
    /// Invitations (canonical username → invitation), expired ones included.
    invited: HashMap<String, Invitation>,
    /// When each member or manager joined (epoch ms; the owner: creation).
    joined: HashMap<String, i64>,
    /// Search ignores the group until then (`--search-lag`).
    searchable_at: Instant,
    seq: u64,
}

impl Group {
    fn member_type(&self, username: &str) -> &'static str {
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

    fn contains(&self, username: &str) -> bool {
        self.member_type(username) != "none"
    }
}

impl Doc for Group {
    fn keyword(&self, field: &str) -> Option<&str> {
        match field {
            "id" => Some(&self.id),
            "owner" => Some(&self.owner),
            "orgid" => Some(&self.org_id),
            "access" => Some(&self.access),
            _ => None,
        }
    }

    fn text(&self, field: &str) -> Option<String> {
        match field {
            "title" => Some(self.title.clone()),
            "tags" => Some(self.tags.join(" ")),
            "description" => Some(self.description.clone()),
            "snippet" => Some(self.snippet.clone()),
            "typekeywords" => Some(String::new()),
            _ => None,
        }
    }

    fn all_text(&self) -> String {
        format!(
            "{} {} {} {} {}",
            self.title,
            self.tags.join(" "),
            self.snippet,
            self.description,
            self.owner
        )
    }
}

impl Doc for User {
    fn keyword(&self, field: &str) -> Option<&str> {
        match field {
            "id" => Some(&self.id),
            "username" => Some(&self.username),
            "orgid" => Some(&self.org_id),
            "email" => Some(&self.email),
            "idpusername" => self.idp_username.as_deref(),
            _ => None,
        }
    }

    fn text(&self, field: &str) -> Option<String> {
        match field {
            "fullname" | "firstname" => Some(self.username.clone()),
            _ => None,
        }
    }

    fn all_text(&self) -> String {
        self.username.clone()
    }
}

/// The whole portal.
#[derive(Debug)]
pub struct Portal {
    group_limit: u32,
    search_lag: Duration,
    /// `--legacy-members-cap`.
    legacy_members_cap: Option<u32>,
    /// `--strict-chunks`.
    strict_chunks: bool,
    /// `--exact-case`.
    exact_case: bool,
    /// `--privileges-in`.
    privileges_in: PrivilegesIn,
    /// `--reassign-drops-owner`.
    reassign_drops_owner: bool,
    admin_username: String,
    /// Keyed by lower-cased username: usernames are unique case-insensitively.
    users: HashMap<String, User>,
    groups: HashMap<String, Group>,
    /// (lower-cased owner, lower-cased trimmed title) → group id: the uniqueness rule.
    titles: HashMap<(String, String), String>,
    rng: StdRng,
    next_seq: u64,
}

fn now_ms() -> i64 {
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

/// Privileges reported for each role (see the module doc of [`super`] for the choice).
pub fn privileges(role: SimRole) -> Vec<&'static str> {
    let mut p = vec![
        "portal:user:createGroup",
        "portal:user:joinGroup",
        "portal:user:joinNonOrgGroup",
        "portal:user:viewOrgGroups",
        "portal:user:viewOrgItems",
        "portal:user:viewOrgUsers",
        "portal:user:createItem",
        "portal:user:shareToGroup",
        "portal:user:shareToOrg",
        "portal:user:shareToPublic",
    ];
    if matches!(role, SimRole::OrgPublisher | SimRole::OrgAdmin) {
        p.extend([
            "portal:publisher:publishFeatures",
            "portal:publisher:publishTiles",
        ]);
    }
    if role == SimRole::OrgAdmin {
        p.extend([
            "portal:admin:viewUsers",
            "portal:admin:updateUsers",
            "portal:admin:viewGroups",
            "portal:admin:updateGroups",
            "portal:admin:deleteGroups",
            "portal:admin:reassignGroups",
            "portal:admin:assignToGroups",
            "portal:admin:manageEnterpriseGroups",
            "portal:admin:createUpdateCapableGroup",
        ]);
    }
    p
}

fn parse_tags(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

fn check_access(verb: &str, access: &str) -> Result<String, ApiError> {
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

/// What addUsers/removeUsers/invite did: the names the call could not apply.
pub type NotApplied = Vec<String>;

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
        for (names, admin) in [(&g.admins, true), (&g.users, false)] {
            for name in names {
                let canonical = self
                    .user(name)
                    .map(|u| u.username.clone())
                    .ok_or_else(|| format!("seed group {:?}: unknown user {name:?}", g.title))?;
                self.join(&id, &canonical, admin);
            }
        }
        Ok(())
    }

    /// Looks a user up case-insensitively.
    pub fn user(&self, username: &str) -> Option<&User> {
        self.users.get(&username.to_lowercase())
    }

    /// The canonical username when `username`/`password` are valid credentials
    /// (the username is case-sensitive at sign-in, like the real `generateToken`).
    pub fn check_password(&self, username: &str, password: &str) -> Option<String> {
        let u = self.user(username)?;
        (u.username == username && u.password.as_deref() == Some(password))
            .then(|| u.username.clone())
    }

    fn new_group(
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
        apply_properties(&mut group, p, false);
        self.titles
            .insert((owner.to_lowercase(), title.to_lowercase()), id.clone());
        self.groups.insert(id.clone(), group);
        if let Some(u) = self.users.get_mut(&owner.to_lowercase()) {
            u.groups += 1;
        }
        id
    }

    /// Adds `username` (canonical, not yet in the group) as admin or member.
    fn join(&mut self, id: &str, username: &str, admin: bool) {
        let Some(g) = self.groups.get_mut(id) else {
            return;
        };
        if g.owner == username {
            return;
        }
        let was_in = g.members.remove(username) | g.admins.remove(username);
        if admin {
            g.admins.insert(username.to_owned());
        } else {
            g.members.insert(username.to_owned());
        }
        g.invited.remove(username);
        g.joined.entry(username.to_owned()).or_insert_with(now_ms);
        if !was_in && let Some(u) = self.users.get_mut(&username.to_lowercase()) {
            u.groups += 1;
        }
    }

    fn caller<'a>(&'a self, caller: Option<&str>) -> Option<&'a User> {
        caller.and_then(|c| self.user(c))
    }

    fn signed_in<'a>(&'a self, caller: Option<&str>) -> Result<&'a User, ApiError> {
        // A token without a user (an app token) is signed in but has no user rights.
        self.caller(caller).ok_or_else(ApiError::forbidden)
    }

    fn can_see(&self, g: &Group, caller: Option<&User>) -> bool {
        match (g.access.as_str(), caller) {
            ("public", _) => true,
            (_, None) => false,
            ("org", Some(u)) => u.org_id == g.org_id || g.contains(&u.username),
            (_, Some(u)) => g.contains(&u.username) || u.is_admin_of(&g.org_id),
        }
    }

    fn can_manage(g: &Group, u: &User) -> bool {
        g.owner == u.username || g.admins.contains(&u.username) || u.is_admin_of(&g.org_id)
    }

    /// The group `id` as the caller may see it, or "does not exist or is inaccessible".
    fn visible_group(&self, id: &str, caller: Option<&User>) -> Result<&Group, ApiError> {
        self.groups
            .get(&id.to_ascii_lowercase())
            .filter(|g| self.can_see(g, caller))
            .ok_or_else(ApiError::group_not_found)
    }

    fn group_json(&self, g: &Group, caller: Option<&User>) -> Value {
        let mut v = json!({
            "id": g.id,
            "title": g.title,
            "isInvitationOnly": g.is_invitation_only,
            "owner": g.owner,
            "description": g.description,
            "snippet": g.snippet,
            "tags": g.tags,
            "typeKeywords": [],
            "phone": g.phone,
            "sortField": g.sort_field,
            "sortOrder": g.sort_order,
            "isViewOnly": g.is_view_only,
            "isFav": false,
            "thumbnail": null,
            "created": g.created_ms,
            "modified": g.modified_ms,
            "access": g.access,
            "capabilities": g.capabilities,
            "isReadOnly": false,
            "protected": false,
            "autoJoin": g.auto_join,
            "notificationsEnabled": false,
            "provider": null,
            "providerGroupName": null,
            "leavingDisallowed": g.leaving_disallowed,
            "hiddenMembers": g.hidden_members,
            "displaySettings": g.display_settings,
            "isOpenData": g.is_open_data,
            "orgId": g.org_id,
        });
        if let Some(m) = &g.membership_access {
            v["membershipAccess"] = json!(m);
        }
        if let Some(u) = caller {
            v["userMembership"] = json!({
                "username": u.username,
                "memberType": g.member_type(&u.username),
                "applications": 0,
            });
        }
        v
    }

    /// Every property of an account as its owner or an org admin sees it (without `groups`).
    fn user_json(&self, u: &User) -> Value {
        json!({
            "username": u.username,
            "id": u.id,
            "fullName": u.username,
            "firstName": u.username,
            "lastName": "",
            "description": null,
            "email": u.email,
            "idpUsername": u.idp_username,
            "tags": [],
            "culture": "en",
            "region": "",
            "units": "english",
            "thumbnail": null,
            "access": u.access.as_str(),
            "created": u.created_ms,
            "modified": u.created_ms,
            "provider": "arcgis",
            "orgId": u.org_id,
            "role": u.role.as_str(),
            "privileges": privileges(u.role),
            "level": "2",
            "disabled": false,
            "storageUsage": 0,
            "storageQuota": 2_199_023_255_552_u64,
            "mfaEnabled": false,
            "userType": "creatorUT",
        })
    }

    /// `v` (a [`Self::user_json`] of `u`) plus every group `u` owns or belongs to.
    fn with_groups(&self, u: &User, mut v: Value) -> Value {
        let mut groups: Vec<&Group> = self
            .groups
            .values()
            .filter(|g| g.contains(&u.username))
            .collect();
        groups.sort_by_key(|g| g.seq);
        v["groups"] = groups.iter().map(|g| self.group_json(g, Some(u))).collect();
        v
    }

    /// `v` without its `privileges` unless `listed` (`--privileges-in`).
    fn privileges_if(listed: bool, mut v: Value) -> Value {
        if !listed && let Some(o) = v.as_object_mut() {
            o.remove("privileges");
        }
        v
    }

    // ----- endpoints -------------------------------------------------------------------

    /// `portals/self`.
    pub fn portal_self(&self, caller: Option<&str>, url_key: &str, all_ssl: bool) -> Value {
        let me = self.caller(caller);
        let org_id = me.map_or(HOME_ORG_ID, |u| u.org_id.as_str());
        let mut v = json!({
            "id": org_id,
            "name": "Simulated Organization",
            "urlKey": url_key,
            "customBaseUrl": "",
            "portalName": "ArcGIS Online",
            "portalMode": "multitenant",
            "portalHostname": "",
            "isPortal": false,
            "allSSL": all_ssl,
            "currentVersion": "2025.1",
            "access": "private",
            "culture": "en",
            "region": "WO",
            "units": "english",
            "supportsOAuth": true,
            "canSearchPublic": true,
            "canSharePublic": true,
            "subscriptionInfo": {"type": "In House", "state": "active", "maxUsers": 100_000},
            "helperServices": {},
        });
        if let Some(u) = me {
            v["user"] =
                Self::privileges_if(self.privileges_in.in_portals_self(), self.user_json(u));
        }
        v
    }

    /// `community/self`: the caller with every group they own or belong to (no search lag).
    pub fn community_self(&self, caller: Option<&str>) -> Result<Value, ApiError> {
        let me = self.signed_in(caller)?;
        let v = self.with_groups(me, self.user_json(me));
        Ok(Self::privileges_if(
            self.privileges_in.in_community_self(),
            v,
        ))
    }

    /// `community/groups`: fuzzy search over the groups the caller may see, minus those still
    /// inside their `--search-lag` window.
    pub fn search_groups(&self, caller: Option<&str>, p: &Params) -> Value {
        let me = self.caller(caller);
        let q_text = p.get("q").unwrap_or("");
        let query = Query::parse(q_text);
        let filter = p.non_empty("filter").map(Query::parse_exact);
        let member_only = p
            .get("searchUserAccess")
            .is_some_and(|v| v.eq_ignore_ascii_case("groupMember"));
        let now = Instant::now();
        let mut hits: Vec<(u32, &Group)> = self
            .groups
            .values()
            .filter(|g| g.searchable_at <= now && self.can_see(g, me))
            .filter(|g| !member_only || me.is_some_and(|u| g.contains(&u.username)))
            .filter(|g| filter.as_ref().is_none_or(|f| f.score(*g).is_some()))
            .filter_map(|g| query.score(g).map(|s| (s, g)))
            .collect();
        let desc = p
            .get("sortOrder")
            .is_some_and(|o| o.eq_ignore_ascii_case("desc"));
        match p.get("sortField").map(str::to_ascii_lowercase).as_deref() {
            Some("title") => hits.sort_by_cached_key(|(_, g)| (g.title.to_lowercase(), g.seq)),
            Some("owner") => hits.sort_by_cached_key(|(_, g)| (g.owner.to_lowercase(), g.seq)),
            Some("created") => hits.sort_by_key(|(_, g)| (g.created_ms, g.seq)),
            Some("modified") => hits.sort_by_key(|(_, g)| (g.modified_ms, g.seq)),
            // Relevance: best score first (hence the reversal), then title.
            _ => {
                hits.sort_by_cached_key(|(s, g)| (u32::MAX - s, g.title.to_lowercase(), g.seq));
            }
        }
        if desc {
            hits.reverse();
        }
        let page = Page::from_params(p.get("start"), p.get("num"), 10);
        let (range, next) = page.window(hits.len());
        json!({
            "query": q_text,
            "total": hits.len(),
            "start": page.start,
            "num": page.num,
            "nextStart": next,
            "results": hits[range].iter().map(|(_, g)| self.group_json(g, me)).collect::<Vec<_>>(),
        })
    }

    /// `community/groups/{id}`.
    pub fn group_get(&self, caller: Option<&str>, id: &str) -> Result<Value, ApiError> {
        let me = self.caller(caller);
        let g = self.visible_group(id, me)?;
        Ok(self.group_json(g, me))
    }

    /// `community/createGroup`: the caller becomes owner; titles are unique per owner
    /// (case-insensitive, trailing whitespace trimmed); the owner must be below the group limit.
    pub fn create_group(&mut self, caller: Option<&str>, p: &Params) -> Result<Value, ApiError> {
        let me = self.signed_in(caller)?;
        let title = p.get("title").unwrap_or("").trim_end();
        if title.trim().is_empty() {
            return Err(ApiError::bad_request(
                "Unable to create group.",
                "'title' must be specified.",
            ));
        }
        let access = check_access("create", p.get("access").unwrap_or("private"))?;
        if self
            .titles
            .contains_key(&(me.username.to_lowercase(), title.to_lowercase()))
        {
            return Err(ApiError::duplicate_title("create", title));
        }
        if me.memberships() >= u64::from(self.group_limit) {
            return Err(ApiError::bad_request(
                "Unable to create group.",
                format!(
                    "User '{}' has reached the maximum number of groups ({}).",
                    me.username, self.group_limit
                ),
            ));
        }
        let (owner, org_id) = (me.username.clone(), me.org_id.clone());
        let id = self.new_group(&owner, &org_id, title, &access, p);
        let g = &self.groups[&id];
        Ok(json!({"success": true, "group": self.group_json(g, self.user(&owner))}))
    }

    fn managed_group(&self, caller: Option<&str>, id: &str) -> Result<(String, &User), ApiError> {
        let me = self.signed_in(caller)?;
        let g = self.visible_group(id, Some(me))?;
        if !Self::can_manage(g, me) {
            return Err(ApiError::forbidden());
        }
        Ok((g.id.clone(), me))
    }

    /// `…/update`: owner, managers and the org admin; a title change keeps per-owner
    /// uniqueness and restarts the search lag.
    pub fn update_group(
        &mut self,
        caller: Option<&str>,
        id: &str,
        p: &Params,
    ) -> Result<Value, ApiError> {
        let (id, _) = self.managed_group(caller, id)?;
        let g = &self.groups[&id];
        let owner_key = g.owner.to_lowercase();
        let old_title = g.title.clone();
        let new_title = p
            .get("title")
            .map(str::trim_end)
            .filter(|t| !t.trim().is_empty());
        if let Some(t) = new_title
            && let Some(other) = self.titles.get(&(owner_key.clone(), t.to_lowercase()))
            && *other != id
        {
            return Err(ApiError::duplicate_title("update", t));
        }
        let access = match p.non_empty("access") {
            Some(a) => Some(check_access("update", a)?),
            None => None,
        };
        let lag = self.search_lag;
        let g = self.groups.get_mut(&id).expect("group checked above");
        if let Some(t) = new_title {
            g.title = t.to_owned();
            self.titles
                .remove(&(owner_key.clone(), old_title.to_lowercase()));
            self.titles
                .insert((owner_key, t.to_lowercase()), id.clone());
        }
        if let Some(a) = access {
            g.access = a;
        }
        apply_properties(g, p, p.flag("clearEmptyFields").unwrap_or(false));
        g.modified_ms = now_ms();
        g.searchable_at = Instant::now() + lag;
        Ok(json!({"success": true, "groupId": id}))
    }

    /// `…/delete`: the owner or the org admin (managers may not delete).
    pub fn delete_group(&mut self, caller: Option<&str>, id: &str) -> Result<Value, ApiError> {
        let me = self.signed_in(caller)?;
        let g = self.visible_group(id, Some(me))?;
        if !(g.owner == me.username || me.is_admin_of(&g.org_id)) {
            return Err(ApiError::forbidden());
        }
        let id = g.id.clone();
        let g = self.groups.remove(&id).expect("group checked above");
        self.titles
            .remove(&(g.owner.to_lowercase(), g.title.to_lowercase()));
        for name in std::iter::once(&g.owner).chain(&g.admins).chain(&g.members) {
            if let Some(u) = self.users.get_mut(&name.to_lowercase()) {
                u.groups -= 1;
            }
        }
        Ok(json!({"success": true, "groupId": id}))
    }

    /// The `GET /__sim/state` document.
    pub fn snapshot(&self) -> StateSnapshot {
        let mut groups: Vec<&Group> = self.groups.values().collect();
        groups.sort_by_key(|g| g.seq);
        let mut users: Vec<&User> = self.users.values().collect();
        users.sort_by_key(|u| (u.username != self.admin_username, u.seq));
        StateSnapshot {
            groups: groups
                .into_iter()
                .map(|g| GroupState {
                    id: g.id.clone(),
                    title: g.title.clone(),
                    owner: g.owner.clone(),
                    access: g.access.clone(),
                    admins: std::iter::once(&g.owner)
                        .chain(&g.admins)
                        .cloned()
                        .collect(),
                    users: g.members.iter().cloned().collect(),
                })
                .collect(),
            users: users
                .into_iter()
                .map(|u| UserState {
                    username: u.username.clone(),
                    org: u.org_name.clone(),
                    role: u.role.as_str().to_owned(),
                })
                .collect(),
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

/// Copies the optional group parameters of createGroup/update onto `g`. With `clear`, empty
/// strings clear text fields; otherwise empty parameters are ignored.
fn apply_properties(g: &mut Group, p: &Params, clear: bool) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    fn portal(users: &[&str], limit: u32) -> Portal {
        Portal::new(&SimConfig {
            users: users.iter().map(|u| SimUser::new(*u)).collect(),
            group_limit: limit,
            ..SimConfig::default()
        })
        .unwrap()
    }

    #[test]
    fn create_add_remove_delete_keep_counts() {
        let mut p = portal(&["a", "b"], 2);
        let v = p
            .create_group(
                Some("admin"),
                &params(&[("title", "G1 "), ("access", "org")]),
            )
            .unwrap();
        let id = v["group"]["id"].as_str().unwrap().to_owned();
        assert_eq!(id.len(), 32);
        assert_eq!(v["group"]["title"], "G1");
        let dup = p.create_group(Some("admin"), &params(&[("title", "g1")]));
        assert_eq!(dup.unwrap_err().message_code, Some("COM_0044"));
        let v = p
            .add_users(
                Some("admin"),
                &id,
                &params(&[("users", "a,A,zz"), ("admins", "b")]),
            )
            .unwrap();
        assert_eq!(v["notAdded"], json!(["A", "zz"]));
        assert_eq!(p.user("a").unwrap().groups, 1);
        let v = p
            .remove_users(Some("admin"), &id, &params(&[("users", "a,admin,zz")]))
            .unwrap();
        assert_eq!(v["notRemoved"], json!(["admin", "zz"]));
        assert_eq!(p.user("a").unwrap().groups, 0);
        p.delete_group(Some("admin"), &id).unwrap();
        assert_eq!(p.user("b").unwrap().groups, 0);
        assert_eq!(p.user("admin").unwrap().groups, 0);
        assert!(p.snapshot().groups.is_empty());
    }
}
