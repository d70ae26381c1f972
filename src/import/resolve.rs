//! Group resolution (product spec §4): turn a roster's group reference into a portal group and
//! its current members — by id, or by exact title among the groups of the caller's organization
//! — creating it when it does not exist.
//!
//! Search is fuzzy, lags behind writes and stops at 10,000 results, so it is never trusted
//! alone: titles are compared exactly client-side, groups the caller owns come from
//! `community/self` (not search-indexed), and groups this run created are remembered.

use std::collections::HashMap;
use std::time::Duration;

use crate::import::context::{Index, RunContext};
use crate::import::{Fatal, MemberRole, Members};
use crate::outcome::GroupStatus;
use crate::portal::{GroupPage, GroupSummary, NewGroup, PortalError};
use crate::roster::{GroupDefinition, GroupKey, GroupRef, TitleKey, UserKey};

/// How long a `COM_0044` ("you already have a group named …") may take to become findable.
const DUPLICATE_TITLE_PATIENCE: Duration = Duration::from_secs(60);
/// Between two looks for such a group.
const DUPLICATE_TITLE_POLL: Duration = Duration::from_secs(3);
/// The portal's page size cap for search.
const SEARCH_PAGE: u32 = 100;
/// Search stops returning results past this many; a larger organization cannot be swept.
const SEARCH_RESULTS_CAP: u64 = 10_000;

/// A group ready to receive members.
#[derive(Debug, Clone)]
pub struct ResolvedGroup {
    /// Portal id.
    pub id: String,
    /// Title as the portal spells it.
    pub title: String,
    /// `created`, `existing` or `would_create`.
    pub status: GroupStatus,
    /// Its current members (empty for a group a dry run would create).
    pub members: Members,
}

/// Why a group could not be resolved: a per-group failure (its rows are `failed`), or a
/// run-wide one.
#[derive(Debug)]
pub enum ResolveError {
    /// The group's rows fail with this reason; the run goes on.
    Group(String),
    /// The run stops.
    Fatal(Fatal),
}

impl From<PortalError> for ResolveError {
    fn from(error: PortalError) -> Self {
        match Fatal::from_portal(&error) {
            Some(fatal) => ResolveError::Fatal(fatal),
            None => ResolveError::Group(error.to_string()),
        }
    }
}

/// Resolve (and if needed create) the group a roster row names.
pub async fn resolve(ctx: &RunContext, group: &GroupRef) -> Result<ResolvedGroup, ResolveError> {
    match group {
        GroupRef::Id(id) => by_id(ctx, id).await,
        GroupRef::Title(title) => by_title(ctx, title, &group.key()).await,
    }
}

async fn by_id(ctx: &RunContext, id: &str) -> Result<ResolvedGroup, ResolveError> {
    let group = match ctx.client.group(id).await {
        // A roster exported from another portal names its groups by ids unknown here: the
        // title beside the id finds (or creates) the group instead.
        Err(e) if e.is_not_found() && let Some(title) = ctx.title_beside_id(id) => {
            // Said aloud: a mistyped id with a title beside it finds or creates the titled group.
            tracing::warn!(id, title = %title, "group id unknown to this portal (a roster exported from another portal?); using the title beside it");
            return by_title(ctx, &title, &GroupKey::Id(id.to_owned())).await;
        }
        other => other,
    }
    .map_err(|e| match Fatal::from_portal(&e) {
            Some(fatal) => ResolveError::Fatal(fatal),
            None => ResolveError::Group(format!(
                "group {id} does not exist or is not visible to {}: {e}",
                ctx.caller.username
            )),
        })?;
    existing(ctx, group).await
}

/// `defined_by`: the roster's key for the group, whose definition a created group gets.
async fn by_title(
    ctx: &RunContext,
    title: &str,
    defined_by: &GroupKey,
) -> Result<ResolvedGroup, ResolveError> {
    let key = TitleKey::new(title);
    if let Some(own) = ctx.known_own_group(&key) {
        return existing(ctx, own).await;
    }
    let titled = |index: &Index| index.get(&key).cloned().unwrap_or_default();
    let matches = match org_index(ctx, Sweep::IfCheaper).await? {
        Some(index) => titled(index),
        None => match search_exact(ctx, &key, title).await? {
            // Search alone never proves a group absent (a title of stop-words or punctuation
            // can match nothing): the sweep answers, once per run, when the org allows one.
            found if found.is_empty() => org_index(ctx, Sweep::Always)
                .await?
                .map(titled)
                .unwrap_or_default(),
            found => found,
        },
    };
    match pick(ctx, &matches, title)? {
        Some(group) => existing(ctx, group).await,
        None => create(ctx, title, &key, defined_by).await,
    }
}

/// One match: use it. Several: prefer the one the caller owns; otherwise refuse to guess.
fn pick(
    ctx: &RunContext,
    matches: &[GroupSummary],
    title: &str,
) -> Result<Option<GroupSummary>, ResolveError> {
    match matches {
        [] => Ok(None),
        [one] => Ok(Some(one.clone())),
        several => {
            let mut owned = several
                .iter()
                .filter(|g| UserKey::new(&g.owner) == ctx.caller.key);
            match (owned.next(), owned.next()) {
                (Some(mine), None) => Ok(Some(mine.clone())),
                _ => Err(ResolveError::Group(format!(
                    "{} groups are titled '{title}'; use group_id",
                    several.len()
                ))),
            }
        }
    }
}

/// When to sweep the organization's groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sweep {
    /// Only when one paged sweep (100 a page) costs no more requests than a title query per
    /// roster group — always for an organization with at most 100 groups. Title queries are
    /// fuzzy, so in an organization whose titles share words (as course rosters do) each one
    /// can take several pages; the sweep never does.
    IfCheaper,
    /// Whenever the organization can be swept at all (search stops at 10,000 results): a title
    /// query found nothing, and that is not proof.
    Always,
}

/// The organization's groups by title, from one paged sweep made at most once per run; `None`
/// when `when` does not call for it (yet) or the organization is too large to sweep.
async fn org_index(ctx: &RunContext, when: Sweep) -> Result<Option<&Index>, ResolveError> {
    if let Some(index) = ctx.org_index.get() {
        return Ok(index.as_ref());
    }
    let first = ctx
        .org_first_page
        .get_or_try_init(|| async {
            ctx.client
                .search_groups(&org_query(ctx), 1, SEARCH_PAGE)
                .await
        })
        .await?;
    let pages = first.total.div_ceil(u64::from(SEARCH_PAGE));
    let sweepable = first.total <= SEARCH_RESULTS_CAP;
    let cheaper = pages <= 1
        || ctx
            .roster_groups
            .is_some_and(|groups| pages <= groups as u64);
    if sweepable && !cheaper && when == Sweep::IfCheaper {
        tracing::debug!(
            groups = first.total,
            "organization too large to sweep cheaply; looking titles up one by one"
        );
        return Ok(None);
    }
    let index = ctx
        .org_index
        .get_or_try_init(|| async {
            if sweepable {
                sweep_org(ctx, first.clone()).await.map(Some)
            } else {
                tracing::debug!(groups = first.total, "organization too large to sweep");
                Ok(None)
            }
        })
        .await?;
    Ok(index.as_ref())
}

fn org_query(ctx: &RunContext) -> String {
    format!("orgid:{}", ctx.caller.org_id)
}

/// Every group of the caller's organization, by title, from `first` on.
async fn sweep_org(ctx: &RunContext, first: GroupPage) -> Result<Index, ResolveError> {
    let query = org_query(ctx);
    let mut index: Index = HashMap::new();
    // Pages can overlap when groups are created while we page.
    let mut seen = std::collections::HashSet::new();
    let mut page = first;
    loop {
        for group in page.results {
            if group
                .org_id
                .as_deref()
                .is_none_or(|org| org == ctx.caller.org_id)
                && seen.insert(group.id.clone())
            {
                index
                    .entry(TitleKey::new(&group.title))
                    .or_default()
                    .push(group);
            }
        }
        if page.next_start <= 0 {
            break;
        }
        page = ctx
            .client
            .search_groups(&query, page.next_start as u32, SEARCH_PAGE)
            .await?;
    }
    tracing::debug!(
        groups = index.values().map(Vec::len).sum::<usize>(),
        "swept the organization's groups"
    );
    Ok(index)
}

/// Groups of the caller's organization whose title is exactly `key`, via a narrowed title query.
async fn search_exact(
    ctx: &RunContext,
    key: &TitleKey,
    title: &str,
) -> Result<Vec<GroupSummary>, ResolveError> {
    let query = format!(
        "title:\"{}\" AND orgid:{}",
        title.replace('"', " "),
        ctx.caller.org_id
    );
    let mut found: HashMap<String, GroupSummary> = HashMap::new();
    let mut start = 1;
    loop {
        let page = ctx.client.search_groups(&query, start, SEARCH_PAGE).await?;
        for group in page.results {
            let same_org = group
                .org_id
                .as_deref()
                .is_none_or(|org| org == ctx.caller.org_id);
            if same_org && TitleKey::new(&group.title) == *key {
                found.insert(group.id.clone(), group);
            }
        }
        if page.next_start <= 0 {
            break;
        }
        start = page.next_start as u32;
    }
    Ok(found.into_values().collect())
}

async fn create(
    ctx: &RunContext,
    title: &str,
    key: &TitleKey,
    defined_by: &GroupKey,
) -> Result<ResolvedGroup, ResolveError> {
    if !ctx.take_group_slot() {
        return Err(ResolveError::Group(format!(
            "group could not be created: {} already belongs to {} groups (owned ones included), the portal's limit",
            ctx.caller.username, ctx.plan.group_limit
        )));
    }
    if ctx.plan.dry_run {
        return Ok(ResolvedGroup {
            id: String::new(),
            title: title.to_owned(),
            status: GroupStatus::WouldCreate,
            members: Members::default(),
        });
    }
    let definition = ctx.definition(defined_by);
    match ctx
        .client
        .create_group(title, &new_group(&definition))
        .await
    {
        Ok(group) => {
            ctx.remember_created(&group);
            let mut members = Members::default();
            members.insert(&group.owner, MemberRole::Owner);
            Ok(ResolvedGroup {
                id: group.id,
                title: group.title,
                status: GroupStatus::Created,
                members,
            })
        }
        // The caller already owns a group with this title: made by an earlier (perhaps killed)
        // run, by someone at the same time, or by our own retry after a lost response.
        Err(e) if e.is_duplicate_title() => {
            let group = find_own_after_duplicate(ctx, key, title).await?;
            existing(ctx, group).await
        }
        Err(e) => Err(match Fatal::from_portal(&e) {
            Some(fatal) => ResolveError::Fatal(fatal),
            None => ResolveError::Group(format!("group could not be created: {e}")),
        }),
    }
}

/// After `COM_0044`: the caller's own group list first (not search-indexed), then the title
/// search until it catches up, for up to a minute.
async fn find_own_after_duplicate(
    ctx: &RunContext,
    key: &TitleKey,
    title: &str,
) -> Result<GroupSummary, ResolveError> {
    let deadline = tokio::time::Instant::now() + DUPLICATE_TITLE_PATIENCE;
    loop {
        let me = ctx.client.community_self().await?;
        let own = me
            .groups
            .into_iter()
            .find(|g| TitleKey::new(&g.title) == *key && UserKey::new(&g.owner) == ctx.caller.key);
        if let Some(group) = own {
            return Ok(group);
        }
        let matches = search_exact(ctx, key, title).await?;
        if let Some(group) = matches
            .into_iter()
            .find(|g| UserKey::new(&g.owner) == ctx.caller.key)
        {
            return Ok(group);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(ResolveError::Group(format!(
                "group could not be created: the portal says {} already has a group titled '{title}', but it could not be found within {} s",
                ctx.caller.username,
                DUPLICATE_TITLE_PATIENCE.as_secs()
            )));
        }
        tokio::time::sleep(DUPLICATE_TITLE_POLL).await;
    }
}

/// An existing group: read its members once.
async fn existing(ctx: &RunContext, group: GroupSummary) -> Result<ResolvedGroup, ResolveError> {
    let members =
        ctx.client
            .group_members(&group.id)
            .await
            .map_err(|e| match Fatal::from_portal(&e) {
                Some(fatal) => ResolveError::Fatal(fatal),
                None => ResolveError::Group(format!(
                    "could not read the members of group '{}': {e}",
                    group.title
                )),
            })?;
    Ok(ResolvedGroup {
        id: group.id,
        title: group.title,
        status: GroupStatus::Existing,
        members: Members::from_portal(&members),
    })
}

/// The createGroup fields a roster definition sets, in the portal's spelling.
fn new_group(d: &GroupDefinition) -> NewGroup {
    NewGroup {
        description: d.description.clone(),
        snippet: d.snippet.clone(),
        tags: d.tags.clone(),
        phone: d.phone.clone(),
        access: d.access.map(|a| a.as_str()),
        sort_field: d.sort_field.map(|f| f.as_str()),
        sort_order: d.sort_order.map(|o| o.as_str()),
        membership_access: d.membership_access.map(|m| m.as_str()),
        is_invitation_only: d.is_invitation_only,
        is_view_only: d.is_view_only,
        auto_join: d.auto_join,
        leaving_disallowed: d.leaving_disallowed,
        hidden_members: d.hidden_members,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::PlanOptions;
    use crate::import::context::Caller;
    use crate::import::context::test_support::admin_client;
    use crate::roster::{Access, MembershipAccess, SortField, SortOrder};

    #[test]
    fn new_group_carries_every_definition_field_in_portal_spelling() {
        assert_eq!(new_group(&GroupDefinition::default()), NewGroup::default());
        let full = new_group(&GroupDefinition {
            owner: Some("teacher".into()),
            description: Some("d".into()),
            snippet: Some("s".into()),
            tags: Some("a,b".into()),
            access: Some(Access::Org),
            is_invitation_only: Some(true),
            is_view_only: Some(false),
            sort_field: Some(SortField::NumViews),
            sort_order: Some(SortOrder::Desc),
            membership_access: Some(MembershipAccess::Collaboration),
            auto_join: Some(false),
            leaving_disallowed: Some(true),
            hidden_members: Some(false),
            phone: Some("555".into()),
        });
        let expected = NewGroup {
            description: Some("d".into()),
            snippet: Some("s".into()),
            tags: Some("a,b".into()),
            phone: Some("555".into()),
            access: Some("org"),
            sort_field: Some("numviews"),
            sort_order: Some("desc"),
            membership_access: Some("collaboration"),
            is_invitation_only: Some(true),
            is_view_only: Some(false),
            auto_join: Some(false),
            leaving_disallowed: Some(true),
            hidden_members: Some(false),
        };
        assert_eq!(full, expected);
    }
    use crate::roster::{Definitions, MatchBy};
    use crate::sim::{RunningSim, SimConfig};

    /// A context whose view of the caller's groups is stale (read before another run created
    /// the group), against a portal whose search lags: createGroup answers COM_0044.
    async fn stale_context(sim: &RunningSim) -> RunContext {
        let client = admin_client(sim).await;
        let me = client.community_self().await.unwrap();
        let caller = Caller {
            key: UserKey::new(&me.username),
            username: me.user.username,
            org_id: me.user.org_id.unwrap(),
            is_admin: true,
        };
        RunContext::new(
            client,
            caller,
            PlanOptions::default(),
            MatchBy::default(),
            Definitions::logged(),
            None,
            Vec::new(),
        )
    }

    #[tokio::test]
    async fn duplicate_title_resolves_to_the_callers_existing_group() {
        let sim = RunningSim::start(SimConfig {
            search_lag: Duration::from_secs(60),
            ..SimConfig::default()
        })
        .await
        .unwrap();
        let ctx = stale_context(&sim).await;
        // Another run (same account) creates the group after our context was built.
        let other = stale_context(&sim).await;
        let first = resolve(&other, &GroupRef::Title("Race Group".into()))
            .await
            .unwrap();
        assert_eq!(first.status, GroupStatus::Created);

        let second = resolve(&ctx, &GroupRef::Title("Race Group".into()))
            .await
            .unwrap();
        assert_eq!(second.status, GroupStatus::Existing);
        assert_eq!(second.id, first.id);
        assert_eq!(
            sim.stats().by_endpoint.get("createGroup").copied(),
            Some(2),
            "the second create hit COM_0044"
        );
        assert_eq!(sim.state().groups.len(), 1);
    }

    #[tokio::test]
    async fn group_limit_fails_creation_before_any_write() {
        let sim = RunningSim::start(SimConfig::default()).await.unwrap();
        let mut ctx = stale_context(&sim).await;
        ctx = RunContext::new(
            ctx.client.clone(),
            ctx.caller.clone(),
            PlanOptions {
                group_limit: 1,
                ..PlanOptions::default()
            },
            MatchBy::default(),
            Definitions::logged(),
            None,
            Vec::new(),
        );
        assert_eq!(
            resolve(&ctx, &GroupRef::Title("One".into()))
                .await
                .unwrap()
                .status,
            GroupStatus::Created
        );
        match resolve(&ctx, &GroupRef::Title("Two".into())).await {
            Err(ResolveError::Group(reason)) => assert!(reason.contains("limit"), "{reason}"),
            other => panic!("expected a group failure, got {other:?}"),
        }
        assert_eq!(sim.state().groups.len(), 1);
    }
}
