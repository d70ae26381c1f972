//! `bulk-groups export` and `import --sync --backup` (product spec §10): the current memberships
//! of selected groups, written as a roster that `import` reads back unchanged.
//!
//! The file has every roster column (`group,group_id,username,role,owner` and the definition
//! columns, in the documented order), one row per member, the owner included: the owner's row
//! has role `admin` (an owner is a manager) and every row of a group names its owner in the
//! `owner` column — that is how owner rows are marked, in a column `import` understands. Read
//! back into the same portal, every row is `already_member` and nothing is reassigned (existing
//! groups never are); read into an empty portal, the groups are created from their definition
//! columns, the members added, and each group handed to its owner. `group_id` lets an undo find a
//! group that was renamed since; a roster from another portal falls back to the title when the id
//! is unknown there.
//!
//! Cells are written as they are, not neutralised for spreadsheets like the results file: a
//! title beginning with `-` must come back as the same title.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use futures::{StreamExt, TryStreamExt};

use crate::config::{ExportConfig, ExportSelection};
use crate::outcome::Cause;
use crate::portal::{GroupMembers, GroupSummary, PortalClient, PortalError};
use crate::report::{Counters, OutputError, Progress, check_writable, sibling_temp};
use crate::roster::{
    Field, GroupKey, GroupRef, RosterError, RosterOptions, Source, TitleKey, UserKey,
};

/// Search results per page (the portal's cap).
const PAGE: u32 = 100;
/// Member lists read at once (the client's request budget still applies).
const READS_IN_FLIGHT: usize = 8;

/// Why an export did not complete.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The `--roster` selection cannot be read.
    #[error(transparent)]
    Roster(#[from] RosterError),
    /// The output cannot be written.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// The portal refused or failed.
    #[error("{0}")]
    Portal(#[from] PortalError),
    /// Some groups' members could not be read (a backup must be complete).
    #[error("{}", .0.join("; "))]
    Incomplete(Vec<String>),
}

impl ExportError {
    /// What it means for the command.
    pub fn cause(&self) -> Cause {
        match self {
            ExportError::Roster(_) => Cause::Unusable,
            ExportError::Output(e) => e.cause(),
            ExportError::Portal(e) if e.is_auth() || e.is_permission() => Cause::Auth,
            ExportError::Portal(e) if e.is_stopped() => Cause::Interrupted,
            ExportError::Portal(_) => Cause::PortalUnavailable,
            ExportError::Incomplete(_) => Cause::RowsNeedAttention,
        }
    }
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportReport {
    /// Groups written.
    pub groups: usize,
    /// Membership rows written.
    pub rows: u64,
    /// What could not be exported, one sentence each: a `--roster` or `--title` group that
    /// does not exist, a group whose members could not be read.
    pub problems: Vec<String>,
}

/// The whole `bulk-groups export`: check the output, sign in, select, read, write.
pub async fn run(config: &ExportConfig) -> Result<ExportReport, ExportError> {
    const WHAT: &str = "export file";
    if let Some(path) = &config.output {
        check_writable(WHAT, path)?;
    }
    let selection = match &config.selection {
        ExportSelection::Roster(path) => Selection::Named(roster_groups(path)?),
        ExportSelection::Titles(titles) => {
            Selection::Named(titles.iter().cloned().map(GroupRef::Title).collect())
        }
        ExportSelection::Owner(owner) => Selection::Owner(owner.clone()),
        ExportSelection::Tag(tag) => Selection::Tag(tag.clone()),
        ExportSelection::All => Selection::All,
    };
    let client = PortalClient::connect(
        config.portal.clone(),
        config.credentials.clone(),
        config.client.clone(),
    )
    .await?;
    let (portal, me) = tokio::try_join!(client.portal_self(), client.community_self())?;
    let org_id = me.org_id.clone().unwrap_or(portal.id);
    let (groups, missing) = select(&client, &org_id, &selection).await?;
    let mut problems: Vec<String> = missing
        .iter()
        .map(|name| format!("no group '{name}' in this organization"))
        .collect();
    let rows_done = Arc::new(AtomicU64::new(0));
    let stats = Arc::new(OnceLock::new());
    let stats_client = client.clone();
    let _ = stats.set(Box::new(move || stats_client.stats()) as crate::report::StatsSource);
    let progress = Progress::start(
        config.output_config.into(),
        Counters {
            // The members are counted as they are read: no total ahead.
            total_rows: None,
            rows_done: rows_done.clone(),
            stats,
        },
    );
    let read = read_members(&client, groups, |rows| {
        rows_done.fetch_add(rows as u64, Ordering::Relaxed);
    })
    .await;
    progress.finish();
    let (exports, unreadable) = read?;
    problems.extend(unreadable);
    for problem in &problems {
        tracing::warn!("{problem}");
    }
    let io = |path: PathBuf| {
        move |source| OutputError::Io {
            what: WHAT,
            path,
            source,
        }
    };
    let rows = match &config.output {
        Some(path) => write_file(&exports, path).map_err(io(path.clone()))?,
        None => write(&exports, std::io::stdout().lock()).map_err(io(PathBuf::from("-")))?,
    };
    Ok(ExportReport {
        groups: exports.len(),
        rows,
        problems,
    })
}

/// `import --sync --backup FILE`: write the current memberships of the groups `ids` (those the
/// run is about to remove members from) to `path`, read fresh from the portal, before the
/// first removal.
pub async fn back_up(
    client: &PortalClient,
    ids: &[String],
    path: &Path,
) -> Result<u64, ExportError> {
    let groups: Vec<GroupSummary> = futures::stream::iter(ids)
        .map(|id| client.group(id))
        .buffered(READS_IN_FLIGHT)
        .try_collect()
        .await?;
    let (exports, unreadable) = read_members(client, groups, |_| {}).await?;
    if !unreadable.is_empty() {
        return Err(ExportError::Incomplete(unreadable));
    }
    write_file(&exports, path).map_err(|source| {
        ExportError::Output(OutputError::Io {
            what: "backup file",
            path: path.to_owned(),
            source,
        })
    })
}

/// The groups a roster file names, by id or title, in order of first appearance.
fn roster_groups(path: &Path) -> Result<Vec<GroupRef>, RosterError> {
    let definitions =
        crate::roster::scan_definitions(&Source::Path(path.to_owned()), &RosterOptions::default())?;
    Ok(definitions
        .roster_groups()
        .map(|(key, title)| match key {
            GroupKey::Id(id) => GroupRef::Id(id.clone()),
            GroupKey::Title(_) => GroupRef::Title(title.to_owned()),
        })
        .collect())
}

/// Which groups to export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// The groups these references name (a roster's groups, `--title`).
    Named(Vec<GroupRef>),
    /// Groups this user owns (`--owner`).
    Owner(String),
    /// Groups with this tag (`--tag`).
    Tag(String),
    /// Every group of the organization (`--all`).
    All,
}

/// One group with its members, as exported.
#[derive(Debug, Clone)]
pub struct GroupExport {
    /// The group and its definition.
    pub group: GroupSummary,
    /// Its owner, managers and members.
    pub members: GroupMembers,
}

/// The groups `selection` names in the caller's organization `org_id` (sorted by title, then
/// id), and the references that named no group.
pub async fn select(
    client: &PortalClient,
    org_id: &str,
    selection: &Selection,
) -> Result<(Vec<GroupSummary>, Vec<String>), PortalError> {
    let mut missing = Vec::new();
    let mut groups = match selection {
        Selection::All => search(client, &format!("orgid:{org_id}"), org_id).await?,
        Selection::Owner(owner) => {
            let key = UserKey::new(owner);
            let query = format!("owner:{} AND orgid:{org_id}", quote(owner));
            let mut found = search(client, &query, org_id).await?;
            found.retain(|g| UserKey::new(&g.owner) == key);
            found
        }
        Selection::Tag(tag) => {
            let query = format!("tags:{} AND orgid:{org_id}", quote(tag));
            let mut found = search(client, &query, org_id).await?;
            // Search matches tags by word; the tag itself must be there.
            found.retain(|g| {
                g.definition
                    .tags
                    .iter()
                    .flatten()
                    .any(|t| t.trim().eq_ignore_ascii_case(tag.trim()))
            });
            found
        }
        Selection::Named(refs) => {
            let mut found = Vec::new();
            for group in refs {
                let named = match group {
                    GroupRef::Id(id) => match client.group(id).await {
                        Ok(g) => vec![g],
                        Err(e) if e.is_not_found() => Vec::new(),
                        Err(e) => return Err(e),
                    },
                    GroupRef::Title(title) => {
                        let key = TitleKey::new(title);
                        let query = format!("title:{} AND orgid:{org_id}", quote(title));
                        let mut hits = search(client, &query, org_id).await?;
                        hits.retain(|g| TitleKey::new(&g.title) == key);
                        hits
                    }
                };
                if named.is_empty() {
                    missing.push(group.display().to_owned());
                }
                found.extend(named);
            }
            found
        }
    };
    let mut seen = HashSet::new();
    groups.retain(|g| seen.insert(g.id.clone()));
    groups.sort_by(|a, b| {
        (TitleKey::new(&a.title).as_str(), &a.id).cmp(&(TitleKey::new(&b.title).as_str(), &b.id))
    });
    Ok((groups, missing))
}

/// A search value in double quotes (inner quotes dropped: they cannot be escaped).
fn quote(value: &str) -> String {
    format!("\"{}\"", value.replace('"', " "))
}

/// Every page of a group search, only groups of `org_id` kept.
async fn search(
    client: &PortalClient,
    query: &str,
    org_id: &str,
) -> Result<Vec<GroupSummary>, PortalError> {
    let mut out = Vec::new();
    let mut start = 1;
    loop {
        let page = client.search_groups(query, start, PAGE).await?;
        out.extend(
            page.results
                .into_iter()
                .filter(|g| g.org_id.as_deref().is_none_or(|o| o == org_id)),
        );
        if page.next_start <= 0 {
            return Ok(out);
        }
        start = page.next_start as u32;
    }
}

/// Read the members of every group (a few at a time), in the order given; `done` is called
/// after each group with the rows it adds. A group whose members cannot be read (not a member
/// nor an administrator of it, deleted meanwhile) is left out with a sentence saying so; only a
/// failure of the whole run (sign-in, the portal down, an interrupt) is an error.
pub async fn read_members(
    client: &PortalClient,
    groups: Vec<GroupSummary>,
    done: impl Fn(usize) + Sync,
) -> Result<(Vec<GroupExport>, Vec<String>), PortalError> {
    let done = &done;
    let read: Vec<Result<GroupExport, String>> = futures::stream::iter(groups)
        .map(|group| async move {
            match client.group_members(&group.id).await {
                Ok(members) => {
                    done(1 + members.admins.len() + members.users.len());
                    Ok(Ok(GroupExport { group, members }))
                }
                Err(e) if e.is_auth() || e.is_unavailable() || e.is_stopped() => Err(e),
                Err(e) => Ok(Err(format!(
                    "group '{}': its members could not be read: {e}",
                    group.title
                ))),
            }
        })
        .buffered(READS_IN_FLIGHT)
        .try_collect()
        .await?;
    let mut exports = Vec::with_capacity(read.len());
    let mut unreadable = Vec::new();
    for group in read {
        match group {
            Ok(export) => exports.push(export),
            Err(why) => unreadable.push(why),
        }
    }
    Ok((exports, unreadable))
}

/// The export's columns: every roster field, in the documented order.
fn header() -> Vec<&'static str> {
    Field::ALL.iter().map(|f| f.canonical()).collect()
}

/// One cell of a group's row for a definition field.
fn definition_cell(group: &GroupSummary, field: Field) -> String {
    let d = &group.definition;
    let flag = |b: Option<bool>| b.map(|b| b.to_string()).unwrap_or_default();
    let text = |t: &Option<String>| t.clone().unwrap_or_default();
    match field {
        Field::Owner => group.owner.clone(),
        Field::Description => text(&d.description),
        Field::Snippet => text(&d.snippet),
        Field::Tags => d.tags.as_ref().map(|t| t.join(",")).unwrap_or_default(),
        Field::Access => group.access.clone().unwrap_or_default(),
        Field::IsInvitationOnly => flag(d.is_invitation_only),
        Field::IsViewOnly => flag(d.is_view_only),
        Field::SortField => text(&d.sort_field),
        Field::SortOrder => text(&d.sort_order),
        Field::MembershipAccess => text(&d.membership_access),
        Field::AutoJoin => flag(d.auto_join),
        Field::LeavingDisallowed => flag(d.leaving_disallowed),
        Field::HiddenMembers => flag(d.hidden_members),
        Field::Phone => text(&d.phone),
        Field::Group | Field::GroupId | Field::Username | Field::Role => String::new(),
    }
}

/// Write `groups` as a roster to `out`: the owner first, then managers, then members, each
/// sorted. Returns the number of rows.
pub fn write(groups: &[GroupExport], out: impl Write) -> std::io::Result<u64> {
    let mut csv = csv::Writer::from_writer(out);
    csv.write_record(header())?;
    let mut rows = 0;
    for export in groups {
        let group = &export.group;
        let members = &export.members;
        let owner = UserKey::new(&members.owner);
        let mut admins: Vec<&String> = members
            .admins
            .iter()
            .filter(|a| UserKey::new(a) != owner)
            .collect();
        admins.sort();
        let mut users: Vec<&String> = members.users.iter().collect();
        users.sort();
        let people = std::iter::once((&members.owner, "admin"))
            .filter(|(o, _)| !o.is_empty())
            .chain(admins.into_iter().map(|a| (a, "admin")))
            .chain(users.into_iter().map(|u| (u, "member")));
        for (username, role) in people {
            let record = Field::ALL.iter().map(|&field| match field {
                Field::Group => group.title.clone(),
                Field::GroupId => group.id.clone(),
                Field::Username => username.clone(),
                Field::Role => role.to_owned(),
                definition => definition_cell(group, definition),
            });
            csv.write_record(record)?;
            rows += 1;
        }
    }
    csv.flush()?;
    Ok(rows)
}

/// Write `groups` to `path` atomically: a sibling temporary file, synced, renamed into place.
pub fn write_file(groups: &[GroupExport], path: &Path) -> std::io::Result<u64> {
    let (temp, file) = sibling_temp(path)?;
    let written = (|| {
        let mut out = std::io::BufWriter::new(file);
        let rows = write(groups, &mut out)?;
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&temp, path)?;
        Ok(rows)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::portal::GroupFields;

    #[test]
    fn owner_first_then_managers_then_members_with_every_roster_column() {
        let group = GroupSummary {
            id: "0123456789abcdef0123456789abcdef".into(),
            title: "-Course, A".into(),
            owner: "teacher".into(),
            access: Some("org".into()),
            definition: GroupFields {
                tags: Some(vec!["a".into(), "b".into()]),
                is_view_only: Some(true),
                ..GroupFields::default()
            },
            ..GroupSummary::default()
        };
        let members = GroupMembers {
            owner: "teacher".into(),
            admins: vec!["teacher".into(), "ta".into()],
            users: vec!["zed".into(), "amy".into()],
        };
        let mut out = Vec::new();
        let rows = write(&[GroupExport { group, members }], &mut out).unwrap();
        assert_eq!(rows, 4);
        let text = String::from_utf8(out).unwrap();
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let header: Vec<String> = reader
            .headers()
            .unwrap()
            .iter()
            .map(str::to_owned)
            .collect();
        assert_eq!(
            header[..6],
            [
                "group",
                "group_id",
                "username",
                "role",
                "owner",
                "description"
            ]
        );
        assert_eq!(header.len(), Field::ALL.len());
        let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        // Not neutralised: import must read the same title back.
        assert_eq!(&records[0][0], "-Course, A");
        let cell = |r: &csv::StringRecord, name: &str| {
            r[header.iter().position(|h| h == name).unwrap()].to_owned()
        };
        assert_eq!(cell(&records[0], "tags"), "a,b");
        assert_eq!(cell(&records[0], "is_view_only"), "true");
        assert_eq!(cell(&records[0], "access"), "org");
        let people: Vec<(String, String, String)> = records
            .iter()
            .map(|r| (cell(r, "username"), cell(r, "role"), cell(r, "owner")))
            .collect();
        let row = |u: &str, r: &str| (u.to_owned(), r.to_owned(), "teacher".to_owned());
        assert_eq!(
            people,
            [
                row("teacher", "admin"),
                row("ta", "admin"),
                row("amy", "member"),
                row("zed", "member")
            ]
        );
    }
}
