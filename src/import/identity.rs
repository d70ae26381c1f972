//! Who a roster's `username` cell names (product spec §2.4, §1 `--check-users`).
//!
//! Real exports name people by e-mail address or by their identity provider's (SAML) name, not
//! by portal username. This stage sits between the roster reader and the engine and settles, row
//! by row and in roster order, whom each cell means — before the engine diffs a group's members,
//! so rows compare (and are sent) by the user they resolve to:
//!
//! - `--match-by username`: the cell as written. `email` / `idp`: always through the
//!   organization's directory. `auto`: the cell as written, unless it looks like an e-mail
//!   address and no member has it as username; then through the directory.
//! - The directory (`portals/self/users`) is read once per run, 100 a page, and only when some
//!   cell needs it (or `--check-users` does). It is held compactly: about 100 bytes a member.
//!   A caller who may not read it (no "view users" privilege) is told once, and cells are taken
//!   as written.
//! - `--check-users` (and a dry run once the directory has been read anyway): every user is
//!   known before any write — through the directory when it can be read, else by looking each
//!   user up (`community/users/{u}`, once per user, concurrently). A row naming nobody that can
//!   be added is `not_added` at once and never reaches its group, so a group none of whose rows
//!   can be added is never looked up or created.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use tokio::sync::{OnceCell, mpsc};

use crate::import::Fatal;
use crate::import::context::RunContext;
use crate::import::members::{Identity, identify};
use crate::portal::{PortalClient, PortalError, UserInfo};
use crate::roster::rules::looks_like_email;
use crate::roster::{MatchBy, Row, RowKind, UserKey};

/// Rows being named at once (only user lookups take time; the order of rows is kept).
const ROWS_IN_FLIGHT: usize = 16;

/// Whom a row's cell names.
#[derive(Debug, Clone)]
pub enum Who {
    /// Send the cell as written (a username, or the directory could not tell).
    AsWritten,
    /// This user, in the portal's spelling.
    User(String),
    /// Nobody that can be added: the row is `not_added` with this reason, and nothing is sent.
    Unresolved(String),
    /// The run must stop (a run-wide failure, or an interrupt, while finding out).
    Fatal(Fatal),
}

/// A roster row with whom it names.
#[derive(Debug)]
pub struct Named {
    /// The row as read.
    pub row: Row,
    /// Whom its `username` cell names.
    pub who: Who,
}

/// Name every row (`head` first, then `rows`) on a task of its own; the engine reads the
/// returned channel. The task stops when the engine drops the receiver.
pub fn spawn(
    ctx: Arc<RunContext>,
    head: Vec<Row>,
    rows: mpsc::Receiver<Row>,
) -> mpsc::Receiver<Named> {
    let (tx, named_rx) = mpsc::channel(ROWS_IN_FLIGHT * 4);
    let resolver = Arc::new(Resolver::new(ctx));
    let rest = futures::stream::unfold(rows, |mut rows| async move {
        rows.recv().await.map(|row| (row, rows))
    });
    tokio::spawn(async move {
        let named = futures::stream::iter(head)
            .chain(rest)
            .map(|row| {
                let resolver = Arc::clone(&resolver);
                async move {
                    let who = resolver.name(&row).await;
                    Named { row, who }
                }
            })
            .buffered(ROWS_IN_FLIGHT);
        let mut named = std::pin::pin!(named);
        while let Some(named) = named.next().await {
            if tx.send(named).await.is_err() {
                return;
            }
        }
    });
    named_rx
}

/// What the directory knows a person by, besides the username.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Email,
    Idp,
}

impl Field {
    /// How reasons name it.
    fn noun(self) -> &'static str {
        match self {
            Field::Email => "e-mail",
            Field::Idp => "identity-provider name",
        }
    }

    /// What a directory lookup by this field found, as the row's fate.
    fn who(self, cell: &str, found: Found<'_>) -> Who {
        let noun = self.noun();
        match found {
            Found::One(username) => Who::User(username.to_owned()),
            Found::None => Who::Unresolved(format!(
                "no member of this organization has the {noun} '{cell}'"
            )),
            Found::Many(n) => Who::Unresolved(format!(
                "{n} members have the {noun} '{cell}'; use the username"
            )),
        }
    }
}

/// Names one row at a time; shared by the rows in flight.
struct Resolver {
    ctx: Arc<RunContext>,
    /// Whether some row needed the directory.
    wanted: AtomicBool,
    /// Read at most once: `None` inside when the caller may not read it.
    directory: OnceCell<Result<Option<Directory>, Fatal>>,
    /// `--check-users` without the directory: one lookup per user, shared by its rows.
    lookups: Mutex<HashMap<UserKey, Arc<OnceCell<Who>>>>,
}

impl Resolver {
    fn new(ctx: Arc<RunContext>) -> Self {
        Resolver {
            ctx,
            wanted: AtomicBool::new(false),
            directory: OnceCell::new(),
            lookups: Mutex::new(HashMap::new()),
        }
    }

    async fn name(&self, row: &Row) -> Who {
        let cell = match &row.kind {
            RowKind::Membership(m) | RowKind::Duplicate { membership: m, .. } => &m.username,
            RowKind::Invalid { .. } => return Who::AsWritten,
        };
        self.who(cell).await.unwrap_or_else(Who::Fatal)
    }

    async fn who(&self, cell: &str) -> Result<Who, Fatal> {
        let match_by = self.ctx.match_by;
        let needs_directory = self.ctx.plan.check_users
            || match match_by {
                MatchBy::Username => false,
                MatchBy::Email | MatchBy::Idp => true,
                MatchBy::Auto => looks_like_email(cell),
            };
        // Once an earlier row asked for the directory, later rows use it too (their usernames
        // in the portal's spelling; a dry run checks them). Set before the first wait, so rows
        // are told in roster order.
        if needs_directory {
            self.wanted.store(true, Ordering::Relaxed);
        }
        let directory = if self.wanted.load(Ordering::Relaxed) {
            self.directory().await?
        } else {
            None
        };
        let Some(directory) = directory else {
            return if self.ctx.plan.check_users {
                self.looked_up(cell).await
            } else {
                Ok(Who::AsWritten)
            };
        };
        Ok(match match_by {
            MatchBy::Email => Field::Email.who(cell, directory.find(Field::Email, cell)),
            MatchBy::Idp => Field::Idp.who(cell, directory.find(Field::Idp, cell)),
            MatchBy::Username | MatchBy::Auto => {
                if let Some(username) = directory.username(cell) {
                    Who::User(username.to_owned())
                } else if match_by == MatchBy::Auto && looks_like_email(cell) {
                    // A SAML name often is an e-mail address: asked when no e-mail matches.
                    let by_idp = || directory.find(Field::Idp, cell);
                    match directory.find(Field::Email, cell) {
                        Found::None if by_idp() != Found::None => Field::Idp.who(cell, by_idp()),
                        by_email => Field::Email.who(cell, by_email),
                    }
                } else if self.ctx.plan.check_users || self.ctx.plan.dry_run {
                    // The directory lists every member: the cell names nobody of this org.
                    self.outsider(Identity::Unseen.reason(true))
                } else {
                    Who::AsWritten
                }
            }
        })
    }

    /// A username that names nobody of this organization: `not_added` for `reason` — unless
    /// `--invite-external` invites such users (the portal then says who they are).
    fn outsider(&self, reason: String) -> Who {
        if self.ctx.plan.invite_external {
            Who::AsWritten
        } else {
            Who::Unresolved(reason)
        }
    }

    /// The directory, read on first need; `None` when the caller may not read it.
    async fn directory(&self) -> Result<Option<&Directory>, Fatal> {
        let read = self
            .directory
            .get_or_init(|| async {
                let error = match Directory::read(&self.ctx.client).await {
                    Ok(directory) => return Ok(Some(directory)),
                    Err(e) => e,
                };
                if let Some(fatal) = Fatal::from_portal(&error) {
                    return Err(fatal);
                }
                let why = if error.is_permission() {
                    "this account may not read the organization's user directory (the administrator privilege to view users)"
                        .to_owned()
                } else {
                    format!("the organization's user directory could not be read: {error}")
                };
                tracing::warn!(
                    caller = %self.ctx.caller.username,
                    "{why}: e-mail addresses and identity-provider names in the roster are taken as usernames"
                );
                Ok(None)
            })
            .await;
        match read {
            Ok(directory) => Ok(directory.as_ref()),
            Err(fatal) => Err(fatal.clone()),
        }
    }

    /// `--check-users` without the directory: look the user up (once per user).
    async fn looked_up(&self, cell: &str) -> Result<Who, Fatal> {
        let cell_key = UserKey::new(cell);
        let once = Arc::clone(
            self.lookups
                .lock()
                .expect("lookups lock")
                .entry(cell_key)
                .or_default(),
        );
        let who = once
            .get_or_init(|| async {
                match identify(&self.ctx, cell).await {
                    Ok(Identity::InOrg(username)) => Who::User(username),
                    Ok(unknown @ (Identity::OtherOrg(_) | Identity::Unseen)) => {
                        self.outsider(unknown.reason(self.ctx.caller.is_admin))
                    }
                    // Could not be told: the portal decides, and its refusal is explained.
                    Ok(Identity::Undetermined { .. }) => Who::AsWritten,
                    Err(fatal) => Who::Fatal(fatal),
                }
            })
            .await;
        match who {
            Who::Fatal(fatal) => Err(fatal.clone()),
            who => Ok(who.clone()),
        }
    }
}

/// What a directory lookup found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Found<'a> {
    None,
    /// Exactly one member: its username.
    One(&'a str),
    /// This many members share the value.
    Many(usize),
}

/// The organization's members, as compact as a lookup by username, e-mail and identity-provider
/// name allows: each index is one string of keys and a sorted list of (key span, member).
#[derive(Debug, Default)]
struct Directory {
    /// Usernames as the portal spells them, back to back; member `i` ends at `name_ends[i]`.
    names: String,
    name_ends: Vec<u32>,
    by_username: Index,
    by_email: Index,
    by_idp: Index,
}

impl Directory {
    /// Read every member (⌈members / 100⌉ requests).
    async fn read(client: &PortalClient) -> Result<Directory, PortalError> {
        let mut directory = Directory::default();
        client
            .org_directory(|users| directory.extend(users))
            .await?;
        directory.seal();
        tracing::info!(
            members = directory.len(),
            "read the organization's user directory"
        );
        Ok(directory)
    }

    #[cfg(test)]
    fn from_users(users: impl IntoIterator<Item = UserInfo>) -> Directory {
        let mut directory = Directory::default();
        directory.extend(users);
        directory.seal();
        directory
    }

    /// How many members.
    fn len(&self) -> usize {
        self.name_ends.len()
    }

    fn extend(&mut self, users: impl IntoIterator<Item = UserInfo>) {
        for user in users {
            let member = u32::try_from(self.name_ends.len()).expect("fewer than 4 billion members");
            self.names.push_str(&user.username);
            self.name_ends
                .push(u32::try_from(self.names.len()).expect("directory under 4 GiB"));
            self.by_username.push(&user.username, member);
            for (index, value) in [
                (&mut self.by_email, user.email),
                (&mut self.by_idp, user.idp_username),
            ] {
                if let Some(value) = value.filter(|v| !v.trim().is_empty()) {
                    index.push(&value, member);
                }
            }
        }
    }

    fn seal(&mut self) {
        for index in [&mut self.by_username, &mut self.by_email, &mut self.by_idp] {
            index.seal();
        }
    }

    fn name(&self, member: u32) -> &str {
        let i = member as usize;
        let start = if i == 0 { 0 } else { self.name_ends[i - 1] };
        &self.names[start as usize..self.name_ends[i] as usize]
    }

    /// The portal's spelling of the member whose username is `cell` (compared as usernames
    /// are, product spec §2.2).
    fn username(&self, cell: &str) -> Option<&str> {
        self.by_username.members(cell).next().map(|m| self.name(m))
    }

    /// The members whose `field` is `cell` (case-insensitively).
    fn find(&self, field: Field, cell: &str) -> Found<'_> {
        let index = match field {
            Field::Email => &self.by_email,
            Field::Idp => &self.by_idp,
        };
        // Members added while pages were read can shift someone onto two pages.
        let mut names: Vec<(UserKey, &str)> = index
            .members(cell)
            .map(|m| (UserKey::new(self.name(m)), self.name(m)))
            .collect();
        names.sort_unstable();
        names.dedup_by(|a, b| a.0 == b.0);
        match names.as_slice() {
            [] => Found::None,
            [(_, one)] => Found::One(one),
            several => Found::Many(several.len()),
        }
    }
}

/// Keys (folded as usernames are) back to back in one string, and (key, member) pairs sorted
/// by key once every member is in: 12 bytes and the key's own bytes per entry.
#[derive(Debug, Default)]
struct Index {
    keys: String,
    /// Where each key ends in `keys`, in the order they were pushed.
    ends: Vec<u32>,
    /// (key's push position, member), sorted by key by [`Index::seal`].
    entries: Vec<(u32, u32)>,
}

impl Index {
    fn push(&mut self, value: &str, member: u32) {
        let position = u32::try_from(self.ends.len()).expect("fewer than 4 billion keys");
        self.keys.push_str(UserKey::new(value).as_str());
        self.ends
            .push(u32::try_from(self.keys.len()).expect("directory under 4 GiB"));
        self.entries.push((position, member));
    }

    fn key(&self, position: u32) -> &str {
        let i = position as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.keys[start as usize..self.ends[i] as usize]
    }

    fn seal(&mut self) {
        let mut entries = std::mem::take(&mut self.entries);
        entries.sort_unstable_by(|a, b| self.key(a.0).cmp(self.key(b.0)));
        self.entries = entries;
    }

    /// The members whose key is `value`'s.
    fn members(&self, value: &str) -> impl Iterator<Item = u32> + '_ {
        let key = UserKey::new(value);
        let from = self
            .entries
            .partition_point(|&(p, _)| self.key(p) < key.as_str());
        self.entries[from..]
            .iter()
            .take_while(move |&&(p, _)| self.key(p) == key.as_str())
            .map(|&(_, member)| member)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(username: &str, email: Option<&str>, idp: Option<&str>) -> UserInfo {
        UserInfo {
            username: username.into(),
            email: email.map(Into::into),
            idp_username: idp.map(Into::into),
            ..UserInfo::default()
        }
    }

    #[test]
    fn finds_by_username_email_and_idp_case_insensitively() {
        let d = Directory::from_users([
            user("Ann_uni", Some("Ann@Uni.edu"), Some("ann.idp")),
            user("bob", Some("shared@uni.edu"), None),
            user("bob2", Some("SHARED@uni.edu"), None),
            user("cy", None, Some("CY@idp")),
        ]);
        assert_eq!(d.len(), 4);
        assert_eq!(d.username("ann_UNI"), Some("Ann_uni"));
        assert_eq!(d.username("ann@uni.edu"), None);
        assert_eq!(d.find(Field::Email, "ann@uni.EDU"), Found::One("Ann_uni"));
        assert_eq!(d.find(Field::Email, "shared@uni.edu"), Found::Many(2));
        assert_eq!(d.find(Field::Email, "nobody@uni.edu"), Found::None);
        assert_eq!(d.find(Field::Idp, "cy@IDP"), Found::One("cy"));
        assert_eq!(d.find(Field::Idp, "ann.idp"), Found::One("Ann_uni"));
    }

    #[test]
    fn a_member_listed_twice_is_one_match() {
        let d = Directory::from_users([
            user("ann", Some("a@u.edu"), None),
            user("ann", Some("a@u.edu"), None),
        ]);
        assert_eq!(d.find(Field::Email, "a@u.edu"), Found::One("ann"));
    }

    #[test]
    fn reasons_name_the_value_and_the_count() {
        let who = |found| match Field::Email.who("x@u.edu", found) {
            Who::Unresolved(reason) => reason,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            who(Found::None),
            "no member of this organization has the e-mail 'x@u.edu'"
        );
        assert_eq!(
            who(Found::Many(2)),
            "2 members have the e-mail 'x@u.edu'; use the username"
        );
        assert!(matches!(
            Field::Idp.who("x", Found::None),
            Who::Unresolved(r) if r == "no member of this organization has the identity-provider name 'x'"
        ));
    }
}
