//! What every task of one import run shares: the portal client, who the caller is, the plan
//! options, the group definitions and the bookkeeping that must be global to the run (groups
//! this run created, the caller's remaining group slots).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

use crate::config::PlanOptions;
use crate::portal::{GroupPage, GroupSummary, PortalClient};
use std::sync::Arc;

use crate::roster::{Definitions, GroupDefinition, GroupKey, MatchBy, TitleKey, UserKey};

/// Group definitions recorded by the roster thread as each group first appears (stdin rosters,
/// which cannot be pre-scanned).
#[derive(Debug, Clone, Default)]
pub struct StreamedDefinitions(Arc<Mutex<HashMap<GroupKey, GroupDefinition>>>);

impl StreamedDefinitions {
    /// Record `key`'s definition unless already known.
    pub fn record(&self, key: GroupKey, definition: impl FnOnce() -> GroupDefinition) {
        self.0
            .lock()
            .expect("definitions lock")
            .entry(key)
            .or_insert_with(definition);
    }

    fn get(&self, key: &GroupKey) -> Option<GroupDefinition> {
        self.0.lock().expect("definitions lock").get(key).cloned()
    }
}

/// The signed-in account, as read once before any write.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Username as the portal spells it.
    pub username: String,
    /// Its comparison key.
    pub key: UserKey,
    /// The caller's organization id.
    pub org_id: String,
    /// Whether the caller is an org administrator (sees every user of the org).
    pub is_admin: bool,
}

/// Shared, read-mostly state of one run.
pub struct RunContext {
    /// The portal.
    pub client: PortalClient,
    /// Who we are.
    pub caller: Caller,
    /// What the run does.
    pub plan: PlanOptions,
    /// How the roster's `username` cells name people.
    pub match_by: MatchBy,
    /// Group definitions for groups this run creates (a pre-scan of a roster file).
    definitions: Definitions,
    /// For a stdin roster: definitions as each group first appeared.
    streamed_definitions: Option<StreamedDefinitions>,
    /// Groups the caller owns, by title key, as `community/self` listed them at start. Not
    /// search-indexed, so never lagging: the cheapest exact lookup there is.
    owned_groups: HashMap<TitleKey, GroupSummary>,
    /// Groups the caller may still join or create (the portal's per-user limit counts owned
    /// groups too). Goes negative when exhausted.
    group_slots: AtomicI64,
    /// Groups this run created, by title key: search lags behind writes, memory does not.
    created: Mutex<HashMap<TitleKey, GroupSummary>>,
    /// How many groups the roster names (`None` when unknown: a stdin roster).
    pub roster_groups: Option<usize>,
    /// The first page of the organization's groups: its `total` says what a sweep costs.
    pub org_first_page: tokio::sync::OnceCell<GroupPage>,
    /// The organization's groups by title, from one paged sweep, once one was made (`None`
    /// inside when the organization is too large to sweep).
    pub org_index: tokio::sync::OnceCell<Option<Index>>,
}

/// Groups by title key.
pub type Index = HashMap<TitleKey, Vec<GroupSummary>>;

impl RunContext {
    /// Build the context from what the preflight read.
    pub fn new(
        client: PortalClient,
        caller: Caller,
        plan: PlanOptions,
        match_by: MatchBy,
        definitions: Definitions,
        streamed_definitions: Option<StreamedDefinitions>,
        caller_groups: Vec<GroupSummary>,
    ) -> Self {
        let roster_groups = streamed_definitions
            .is_none()
            .then(|| definitions.roster_group_count());
        let slots = i64::from(plan.group_limit) - caller_groups.len() as i64;
        let owned_groups = caller_groups
            .into_iter()
            .filter(|g| UserKey::new(&g.owner) == caller.key)
            .map(|g| (TitleKey::new(&g.title), g))
            .collect();
        RunContext {
            client,
            caller,
            plan,
            match_by,
            definitions,
            streamed_definitions,
            owned_groups,
            group_slots: AtomicI64::new(slots),
            created: Mutex::new(HashMap::new()),
            roster_groups,
            org_first_page: tokio::sync::OnceCell::new(),
            org_index: tokio::sync::OnceCell::new(),
        }
    }

    /// The definition to create the group `key` with.
    pub fn definition(&self, key: &GroupKey) -> GroupDefinition {
        self.streamed_definitions
            .as_ref()
            .and_then(|s| s.get(key))
            .unwrap_or_else(|| self.definitions.get(key))
    }

    /// The title the roster gives beside group id `id`, for when the portal does not know the
    /// id (a roster file only: a stdin roster is not pre-scanned).
    pub fn title_beside_id(&self, id: &str) -> Option<String> {
        self.definitions
            .title_beside_id(&GroupKey::Id(id.to_owned()))
            .map(str::to_owned)
    }

    /// A group the caller owned at start, or created in this run, with exactly this title.
    pub fn known_own_group(&self, title: &TitleKey) -> Option<GroupSummary> {
        if let Some(group) = self.owned_groups.get(title) {
            return Some(group.clone());
        }
        self.created
            .lock()
            .expect("created-groups lock")
            .get(title)
            .cloned()
    }

    /// Remember a group this run created.
    pub fn remember_created(&self, group: &GroupSummary) {
        self.created
            .lock()
            .expect("created-groups lock")
            .insert(TitleKey::new(&group.title), group.clone());
    }

    /// Take one of the caller's group slots; `false` when the per-user group limit is reached.
    pub fn take_group_slot(&self) -> bool {
        self.group_slots.fetch_sub(1, Ordering::SeqCst) > 0
    }

    /// Give a group slot back: the caller left a group it had (a created group handed to its
    /// owner).
    pub fn release_group_slot(&self) {
        self.group_slots.fetch_add(1, Ordering::SeqCst);
    }
}

/// What the import's unit tests share.
#[cfg(test)]
pub(crate) mod test_support {
    use crate::portal::{ClientOptions, Credentials, PortalClient, PortalUrl};
    use crate::sim::RunningSim;

    /// A client signed in to `sim` as its default org administrator.
    pub(crate) async fn admin_client(sim: &RunningSim) -> PortalClient {
        PortalClient::connect(
            PortalUrl::parse(&sim.url).unwrap(),
            Credentials::Password {
                username: "admin".into(),
                password: "admin-password".to_owned().into(),
            },
            ClientOptions::default(),
        )
        .await
        .unwrap()
    }
}
