//! The engine's main loop: one owner of all per-group state, fed by roster rows and by the
//! completions of the tasks it spawns (group resolution, addUsers chunks, removeUsers chunks).
//!
//! Nothing here awaits the portal directly, so in-flight requests are never starved by slow work
//! in the loop (the `buffer_unordered` footgun): tasks run on their own, the loop only moves rows
//! between states and hands finished rows to the results writer. Backpressure: the loop stops
//! reading the roster while too many rows wait for unresolved groups or too many tasks are out.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::{Id, JoinError, JoinSet};
use tokio_util::sync::CancellationToken;

use crate::import::Target;
use crate::import::context::RunContext;
use crate::import::export;
use crate::import::identity::{Named, Who};
use crate::import::lifecycle::{self, Handovers};
use crate::import::members::add_chunk;
use crate::import::resolve::{ResolveError, ResolvedGroup, resolve};
use crate::import::sync::{self, SyncGroup, fingerprint};
use crate::import::{Fatal, INTERRUPTED, Members, Pending, unworked_row};
use crate::outcome::{GroupStatus, ResultRow, Status};
use crate::report::ResultsSender;
use crate::roster::{GroupKey, GroupRef, MatchBy, Role, RowKind, TitleKey, UserKey};

/// Rows allowed to wait for unresolved groups before the loop stops reading the roster.
const MAX_WAITING_ROWS: usize = 50_000;
/// How long the roster may pause before partial chunks are sent anyway.
const IDLE_FLUSH: Duration = Duration::from_secs(1);
/// After an interrupt, how long in-flight requests may take to finish before they are abandoned.
const INTERRUPT_GRACE: Duration = Duration::from_secs(5);

/// How the engine ended.
#[derive(Debug, Default)]
pub struct EngineOutcome {
    /// A run-wide failure, if one stopped the run.
    pub fatal: Option<Fatal>,
    /// Whether an interrupt stopped the run.
    pub interrupted: bool,
    /// For a stdin roster cut short by an interrupt: the last line that was read.
    pub input_not_read_after_line: Option<u64>,
    /// Groups whose planned removals exceeded `--max-removals`.
    pub guard_tripped: Vec<String>,
}

enum GroupState {
    Resolving {
        display: String,
        waiting: Vec<Pending>,
    },
    Ready(Box<ReadyGroup>),
    Failed {
        display: String,
        id: Option<String>,
        reason: String,
    },
    /// Another spelling (title or id) of a group that resolved first under the key held here:
    /// a group is one group however its rows name it, so its rows go there.
    Alias(GroupKey),
}

struct ReadyGroup {
    target: Target,
    members: Members,
    /// Partial chunks, by role: members at index 0, admins at 1.
    chunks: [Vec<Pending>; 2],
    /// Whether rows also reach it under another spelling, whose repeats the roster reader
    /// (which dedups per spelling) cannot see.
    aliased: bool,
}

struct Group {
    state: GroupState,
    /// Fingerprints of the users the roster lists for this group, as resolved (kept for
    /// `--sync`, and when cells may name one user in two ways: then the second is a duplicate).
    roster: HashSet<u64>,
}

enum Done {
    Resolved {
        key: GroupKey,
        result: Result<ResolvedGroup, ResolveError>,
    },
    Rows(Result<Vec<ResultRow>, Fatal>),
}

/// The single owner of one run's group state.
pub struct Engine {
    ctx: Arc<RunContext>,
    results: ResultsSender,
    rows_done: Arc<AtomicU64>,
    groups: HashMap<GroupKey, Group>,
    /// The key under which each resolved group id is `Ready`; other keys that resolve to the
    /// same id become aliases of it.
    by_id: HashMap<String, GroupKey>,
    /// Rows per group they name whose user is unknown — invalid rows, and rows naming someone
    /// who could not be resolved (only counted for `--sync`).
    unknown_by_group: HashMap<GroupKey, u64>,
    /// Groups that rows named someone who could not be resolved, by key, with their title: one
    /// of them never seen otherwise was not created, and the log says why.
    unreached: HashMap<GroupKey, String>,
    /// `not_added` rows per group id whose user the run could not identify (only for `--sync`).
    unidentified_by_id: HashMap<String, u64>,
    tasks: JoinSet<Done>,
    /// The rows each chunk task owns, to account for them if the task is abandoned.
    in_flight: HashMap<Id, Vec<ResultRow>>,
    max_tasks: usize,
    waiting_rows: usize,
    /// Rows in partial addUsers chunks.
    queued_rows: usize,
    input_closed: bool,
    /// Set once the run stops taking new work (interrupt or fatal error).
    stopping: bool,
    outcome: EngineOutcome,
    /// Created groups to hand to their owners once everything else is done to them.
    handovers: Handovers,
}

impl Engine {
    /// A new engine; `rows_done` counts roster rows whose result is final, for progress.
    pub fn new(
        ctx: Arc<RunContext>,
        results: ResultsSender,
        rows_done: Arc<AtomicU64>,
        concurrency: usize,
    ) -> Self {
        Engine {
            ctx,
            results,
            rows_done,
            groups: HashMap::new(),
            by_id: HashMap::new(),
            unknown_by_group: HashMap::new(),
            unreached: HashMap::new(),
            unidentified_by_id: HashMap::new(),
            tasks: JoinSet::new(),
            in_flight: HashMap::new(),
            // Enough queued work to keep every request slot busy, little enough to bound memory.
            max_tasks: concurrency.saturating_mul(2).max(4),
            waiting_rows: 0,
            queued_rows: 0,
            input_closed: false,
            stopping: false,
            outcome: EngineOutcome::default(),
            handovers: Handovers::default(),
        }
    }

    /// Process the whole roster, each row named by whom it means, then `--sync`, and account
    /// for every row on every exit path.
    pub async fn run(
        mut self,
        mut rows: mpsc::Receiver<Named>,
        stdin: bool,
        cancel: CancellationToken,
    ) -> EngineOutcome {
        let mut last_line = None;
        self.stream(&mut rows, &mut last_line, &cancel).await;
        if !self.stopping {
            self.say_which_groups_were_not_created();
        }
        if self.ctx.plan.sync
            && !self.stopping
            && self.outcome.fatal.is_none()
            && last_line.is_some()
        {
            let batches = self.sync();
            let batches = self.back_up(batches).await;
            self.spawn_removals(batches);
            self.drain_tasks(&cancel).await;
        }
        // Last: after a group is handed over the caller may no longer manage it.
        if !self.stopping && self.outcome.fatal.is_none() {
            self.hand_over();
            self.drain_tasks(&cancel).await;
        }
        if self.stopping {
            self.stop(&mut rows, stdin, last_line).await;
        }
        self.outcome
    }

    async fn stream(
        &mut self,
        rows: &mut mpsc::Receiver<Named>,
        last_line: &mut Option<u64>,
        cancel: &CancellationToken,
    ) {
        loop {
            if self.stopping || (self.input_closed && self.tasks.is_empty()) {
                return;
            }
            let can_read = !self.input_closed
                && self.waiting_rows < MAX_WAITING_ROWS
                && self.tasks.len() < self.max_tasks;
            tokio::select! {
                biased;
                _ = cancel.cancelled() => self.interrupt(),
                Some(done) = self.tasks.join_next_with_id(), if !self.tasks.is_empty() => self.on_done(done),
                // The roster has paused (a slow pipe on stdin): send the partial chunks now
                // instead of holding them until more rows or the end come. Never fires while
                // rows keep arriving, so a file costs no extra requests.
                _ = tokio::time::sleep(IDLE_FLUSH), if can_read && self.queued_rows > 0 => {
                    self.flush_all_chunks();
                }
                row = rows.recv(), if can_read => match row {
                    Some(named) => {
                        *last_line = Some(named.row.line);
                        self.on_row(named);
                    }
                    None => {
                        self.input_closed = true;
                        self.flush_all_chunks();
                    }
                },
            }
        }
    }

    /// Wait for the tasks out (used after the roster is done).
    async fn drain_tasks(&mut self, cancel: &CancellationToken) {
        while !self.stopping && !self.tasks.is_empty() {
            tokio::select! {
                biased;
                _ = cancel.cancelled() => self.interrupt(),
                Some(done) = self.tasks.join_next_with_id() => self.on_done(done),
            }
        }
    }

    fn interrupt(&mut self) {
        tracing::warn!("interrupted: finishing requests in flight, then stopping");
        self.outcome.interrupted = true;
        self.stopping = true;
        self.ctx.client.stop_new_requests();
    }

    /// A group whose every row named someone who could not be resolved was never looked up
    /// nor created (its rows say why each person could not be added): say so once per group.
    fn say_which_groups_were_not_created(&self) {
        for (key, title) in &self.unreached {
            if !self.groups.contains_key(key) {
                tracing::warn!(
                    group = %title,
                    "group not created: none of its rows names someone who can be added"
                );
            }
        }
    }

    /// Stop the run for `fatal`; the status and reason of the rows it leaves unfinished.
    fn stop_for(&mut self, fatal: Fatal) -> (Status, String) {
        let status = if fatal.is_stopping() {
            Status::NotAttempted
        } else {
            Status::Failed
        };
        let reason = fatal.reason();
        self.fail_run(fatal);
        (status, reason)
    }

    fn fail_run(&mut self, fatal: Fatal) {
        if fatal.is_stopping() {
            self.stopping = true;
            return;
        }
        if self.outcome.fatal.is_none() {
            tracing::error!("{}", fatal.reason());
            self.outcome.fatal = Some(fatal);
        }
        self.stopping = true;
    }

    fn emit(&self, row: ResultRow) {
        // The owner's row of a group to be handed over waits for the handover.
        if let Some(row) = self.handovers.hold(row) {
            self.write(row);
        }
    }

    fn write(&self, row: ResultRow) {
        // Progress counts roster rows (out of the roster's total) once final, not removal rows.
        if row.line.is_some() {
            self.rows_done.fetch_add(1, Ordering::Relaxed);
        }
        self.results.send(row);
    }

    // ---- rows in -------------------------------------------------------------------------

    fn on_row(&mut self, Named { row, who }: Named) {
        if let RowKind::Invalid { group, .. } = &row.kind {
            if self.ctx.plan.sync {
                for key in keys_named_by(group) {
                    *self.unknown_by_group.entry(key).or_default() += 1;
                }
            }
            self.emit(unworked_row(row, Status::Invalid, ""));
            return;
        }
        if let Who::Fatal(fatal) = who {
            let (status, reason) = self.stop_for(fatal);
            self.emit(unworked_row(row, status, &reason));
            return;
        }
        let (membership, duplicate) = match row.kind {
            RowKind::Membership(m) => (m, None),
            RowKind::Duplicate { membership, reason } => (membership, Some(reason)),
            RowKind::Invalid { .. } => unreachable!("handled above"),
        };
        let mut pending = Pending {
            line: row.line,
            username: membership.username,
            role: membership.role,
            duplicate,
            named_as: None,
        };
        let mut key = membership.group.key();
        match who {
            Who::User(username) => {
                pending.named_as = Some(std::mem::replace(&mut pending.username, username));
            }
            // Nobody to add: the row never reaches its group (which is not created for it).
            Who::Unresolved(reason) => {
                let (status, reason) = match pending.duplicate.take() {
                    Some(duplicate) => (Status::Duplicate, duplicate),
                    None => (Status::NotAdded, reason),
                };
                let display = membership.group.display();
                if !self.groups.contains_key(&key) {
                    self.unreached
                        .entry(key.clone())
                        .or_insert_with(|| display.to_owned());
                }
                if self.ctx.plan.sync && status == Status::NotAdded {
                    *self.unknown_by_group.entry(key).or_default() += 1;
                }
                self.emit(unresolved_row(&pending, display, status, &reason));
                return;
            }
            Who::AsWritten | Who::Fatal(_) => {}
        }
        if let Some(Group {
            state: GroupState::Alias(canonical),
            ..
        }) = self.groups.get(&key)
        {
            key = canonical.clone();
        }
        // Cells that may name one user two ways (an e-mail and a username) are compared as
        // resolved; `--sync` needs the roster's users anyway.
        let track_users = self.ctx.plan.sync || self.ctx.match_by != MatchBy::Username;
        let group = match self.groups.get_mut(&key) {
            Some(group) => group,
            None => {
                self.spawn_resolve(key.clone(), membership.group.clone());
                self.groups.entry(key.clone()).or_insert(Group {
                    state: GroupState::Resolving {
                        display: membership.group.display().to_owned(),
                        waiting: Vec::new(),
                    },
                    roster: HashSet::new(),
                })
            }
        };
        if track_users
            && !group
                .roster
                .insert(fingerprint(&UserKey::new(&pending.username)))
            && pending.duplicate.is_none()
        {
            pending.duplicate = Some(format!(
                "names the same user ({}) as an earlier row for this group; the first row wins",
                pending.username
            ));
        }
        match &mut group.state {
            GroupState::Resolving { waiting, .. } => {
                waiting.push(pending);
                self.waiting_rows += 1;
            }
            GroupState::Ready(_) => self.place(&key, pending),
            GroupState::Failed {
                display,
                id,
                reason,
            } => {
                let row = failed_group_row(&pending, display, id.clone(), reason);
                self.emit(row);
            }
            GroupState::Alias(_) => unreachable!("aliases were followed above"),
        }
    }

    /// Decide a row of a resolved group: report it now, or queue it for an addUsers chunk.
    fn place(&mut self, key: &GroupKey, row: Pending) {
        // A dry run that may invite sends its rows to the chunk tasks, which look users up to
        // tell `would_add` from `would_invite`.
        let dry_run = self.ctx.plan.dry_run && !self.ctx.plan.invite_external;
        let chunk_size = self.ctx.plan.chunk_size;
        let stopping = self.stopping;
        let Some(Group {
            state: GroupState::Ready(group),
            ..
        }) = self.groups.get_mut(key)
        else {
            unreachable!("place() is only called for resolved groups")
        };
        let queued_twice = || {
            if !group.aliased {
                return None;
            }
            let user = UserKey::new(&row.username);
            group
                .chunks
                .iter()
                .flatten()
                .find(|queued| UserKey::new(&queued.username) == user)
                .map(|first| {
                    format!(
                        "repeats line {} (the same group under another name)",
                        first.line
                    )
                })
        };
        let decided = if let Some(reason) = &row.duplicate {
            Some(group.target.row(&row, Status::Duplicate, reason.clone()))
        } else if let Some(reason) = queued_twice() {
            Some(group.target.row(&row, Status::Duplicate, reason))
        } else if let Some(standing) = group.members.role_of(&row.username) {
            Some(group.target.row(
                &row,
                Status::AlreadyMember,
                standing.differs_reason(row.role),
            ))
        } else if dry_run {
            Some(group.target.row(&row, Status::WouldAdd, ""))
        } else if stopping {
            Some(group.target.row(&row, Status::NotAttempted, INTERRUPTED))
        } else {
            None
        };
        if let Some(result) = decided {
            self.emit(result);
            return;
        }
        let role = row.role;
        let chunk = &mut group.chunks[role_index(role)];
        chunk.push(row);
        self.queued_rows += 1;
        if chunk.len() >= chunk_size {
            let rows = std::mem::take(chunk);
            let target = group.target.clone();
            self.spawn_add(target, role, rows);
        }
    }

    fn flush_all_chunks(&mut self) {
        let keys: Vec<GroupKey> = self.groups.keys().cloned().collect();
        for key in keys {
            self.flush_chunks(&key);
        }
    }

    /// Send a group's partial chunks (the roster is done, no more rows will fill them).
    fn flush_chunks(&mut self, key: &GroupKey) {
        if self.stopping {
            return;
        }
        let Some(Group {
            state: GroupState::Ready(group),
            ..
        }) = self.groups.get_mut(key)
        else {
            return;
        };
        let target = group.target.clone();
        let batches: Vec<(Role, Vec<Pending>)> = [Role::Member, Role::Admin]
            .into_iter()
            .map(|role| (role, std::mem::take(&mut group.chunks[role_index(role)])))
            .filter(|(_, rows)| !rows.is_empty())
            .collect();
        for (role, rows) in batches {
            self.spawn_add(target.clone(), role, rows);
        }
    }

    // ---- tasks out -----------------------------------------------------------------------

    fn spawn_resolve(&mut self, key: GroupKey, group: GroupRef) {
        let ctx = Arc::clone(&self.ctx);
        self.tasks.spawn(async move {
            let result = resolve(&ctx, &group).await;
            Done::Resolved { key, result }
        });
    }

    fn spawn_add(&mut self, target: Target, role: Role, rows: Vec<Pending>) {
        self.queued_rows -= rows.len();
        let ctx = Arc::clone(&self.ctx);
        let owned = rows
            .iter()
            .map(|r| target.row(r, Status::NotAttempted, ""))
            .collect();
        let handle = self
            .tasks
            .spawn(async move { Done::Rows(add_chunk(&ctx, &target, role, &rows).await) });
        self.in_flight.insert(handle.id(), owned);
    }

    fn spawn_remove(&mut self, target: Target, removals: Vec<sync::Removal>) {
        let ctx = Arc::clone(&self.ctx);
        let owned = removals
            .iter()
            .map(|r| sync::removal_row(&target, r, Status::NotRemoved, ""))
            .collect();
        let handle = self
            .tasks
            .spawn(async move { Done::Rows(sync::remove_chunk(&ctx, &target, &removals).await) });
        self.in_flight.insert(handle.id(), owned);
    }

    fn on_done(&mut self, done: Result<(Id, Done), JoinError>) {
        let (id, done) = match done {
            Ok(done) => done,
            Err(e) => {
                // A task panicked or was aborted: its rows must still be accounted for.
                let reason = if e.is_panic() {
                    format!("internal error: {e}")
                } else {
                    INTERRUPTED.to_owned()
                };
                let status = if e.is_panic() {
                    Status::Failed
                } else {
                    Status::NotAttempted
                };
                self.abandon(e.id(), status, &reason);
                return;
            }
        };
        match done {
            Done::Rows(Ok(rows)) => {
                self.in_flight.remove(&id);
                if self.ctx.plan.sync {
                    for row in rows.iter().filter(|r| names_unidentified_user(r)) {
                        if let Some(id) = &row.group_id {
                            *self.unidentified_by_id.entry(id.clone()).or_default() += 1;
                        }
                    }
                }
                rows.into_iter().for_each(|r| self.emit(r));
            }
            Done::Rows(Err(fatal)) => {
                let (status, reason) = self.stop_for(fatal);
                self.abandon(id, status, &reason);
            }
            Done::Resolved { key, result } => self.on_resolved(key, result),
        }
    }

    fn abandon(&mut self, id: Id, status: Status, reason: &str) {
        for mut row in self.in_flight.remove(&id).unwrap_or_default() {
            row.status = status;
            row.reason = reason.to_owned();
            self.emit(row);
        }
    }

    fn on_resolved(&mut self, key: GroupKey, result: Result<ResolvedGroup, ResolveError>) {
        let Some(group) = self.groups.get_mut(&key) else {
            return;
        };
        let GroupState::Resolving { display, waiting } = &mut group.state else {
            return;
        };
        let waiting = std::mem::take(waiting);
        let shown = std::mem::take(display);
        self.waiting_rows -= waiting.len();
        match result {
            Ok(resolved) => {
                tracing::debug!(group = %resolved.title, id = %resolved.id, status = %resolved.status, "group resolved");
                // A group a dry run would create has no id yet, and no other name.
                if !resolved.id.is_empty() {
                    if let Some(canonical) = self.by_id.get(&resolved.id).cloned() {
                        self.merge_alias(key, canonical, waiting);
                        return;
                    }
                    self.by_id.insert(resolved.id.clone(), key.clone());
                }
                let target = Target {
                    id: resolved.id,
                    title: resolved.title,
                    status: resolved.status,
                };
                self.handovers
                    .register(&self.ctx, &target, self.ctx.definition(&key).owner);
                group.state = GroupState::Ready(Box::new(ReadyGroup {
                    target,
                    members: resolved.members,
                    chunks: [Vec::new(), Vec::new()],
                    aliased: false,
                }));
                for row in waiting {
                    self.place(&key, row);
                }
                if self.input_closed {
                    self.flush_chunks(&key);
                }
            }
            Err(ResolveError::Group(reason)) => {
                tracing::warn!("group '{shown}': {reason}");
                let id = match &key {
                    GroupKey::Id(id) => Some(id.clone()),
                    GroupKey::Title(_) => None,
                };
                let failed: Vec<ResultRow> = waiting
                    .iter()
                    .map(|row| failed_group_row(row, &shown, id.clone(), &reason))
                    .collect();
                group.state = GroupState::Failed {
                    display: shown,
                    id,
                    reason,
                };
                failed.into_iter().for_each(|row| self.emit(row));
            }
            Err(ResolveError::Fatal(fatal)) => {
                // Put the rows back; the stop phase accounts for them.
                self.waiting_rows += waiting.len();
                group.state = GroupState::Resolving {
                    display: shown,
                    waiting,
                };
                self.fail_run(fatal);
            }
        }
    }

    /// `key` resolved to a group already `Ready` under `canonical` (the same group named by
    /// title on some rows and by id on others): its rows, waiting and future, go there, and so
    /// does its part of the roster — so `--sync` sees every user the roster lists for the group.
    fn merge_alias(&mut self, key: GroupKey, canonical: GroupKey, waiting: Vec<Pending>) {
        let Some(alias) = self.groups.get_mut(&key) else {
            return;
        };
        alias.state = GroupState::Alias(canonical.clone());
        let roster = std::mem::take(&mut alias.roster);
        let Some(Group {
            state: GroupState::Ready(ready),
            roster: canonical_roster,
        }) = self.groups.get_mut(&canonical)
        else {
            unreachable!("by_id only names Ready groups")
        };
        ready.aliased = true;
        canonical_roster.extend(roster);
        for row in waiting {
            self.place(&canonical, row);
        }
        if self.input_closed {
            self.flush_chunks(&canonical);
        }
    }

    /// The group id a key stands for, once resolved (directly for an id).
    fn resolved_id<'a>(&'a self, key: &'a GroupKey) -> Option<&'a str> {
        let key = match self.groups.get(key).map(|g| &g.state) {
            Some(GroupState::Alias(canonical)) => canonical,
            _ => key,
        };
        match self.groups.get(key).map(|g| &g.state) {
            Some(GroupState::Ready(ready)) => Some(&ready.target.id),
            _ => match key {
                GroupKey::Id(id) => Some(id),
                GroupKey::Title(_) => None,
            },
        }
    }

    // ---- sync ----------------------------------------------------------------------------

    /// Plan `--sync`: report the rows already decided, return the removals to make.
    fn sync(&mut self) -> Vec<(Target, Vec<sync::Removal>)> {
        // Rows that keep a group out of the sync, by group id however they named it.
        let mut unknown_rows: HashMap<&str, u64> = HashMap::new();
        for (key, n) in &self.unknown_by_group {
            if let Some(id) = self.resolved_id(key) {
                *unknown_rows.entry(id).or_default() += n;
            }
        }
        for (id, n) in &self.unidentified_by_id {
            *unknown_rows.entry(id).or_default() += n;
        }
        let inputs: Vec<SyncGroup<'_>> = self
            .groups
            .values()
            .filter_map(|group| match &group.state {
                GroupState::Ready(ready) if ready.target.status == GroupStatus::Existing => {
                    Some(SyncGroup {
                        target: ready.target.clone(),
                        members: &ready.members,
                        roster: &group.roster,
                        unknown_rows: unknown_rows
                            .get(ready.target.id.as_str())
                            .copied()
                            .unwrap_or(0),
                    })
                }
                _ => None,
            })
            .collect();
        let plan = sync::plan(&self.ctx, inputs);
        if !plan.tripped.is_empty() {
            tracing::warn!(groups = %plan.tripped.join(", "), "sync guard tripped: no member removed in this run");
        }
        self.outcome.guard_tripped = plan.tripped;
        for row in plan.rows {
            self.emit(row);
        }
        plan.batches
    }

    /// `--backup FILE`: the memberships of the groups about to lose members, written before the
    /// first removal (a run that removes nobody leaves the file alone). If it cannot be
    /// written, nothing is removed.
    async fn back_up(
        &mut self,
        batches: Vec<(Target, Vec<sync::Removal>)>,
    ) -> Vec<(Target, Vec<sync::Removal>)> {
        let Some(path) = self.ctx.plan.backup.clone() else {
            return batches;
        };
        if batches.is_empty() {
            return batches;
        }
        let ids: Vec<String> = batches.iter().map(|(t, _)| t.id.clone()).collect();
        let error = match export::back_up(&self.ctx.client, &ids, &path).await {
            Ok(rows) => {
                tracing::info!(path = %path.display(), groups = ids.len(), rows, "backup written");
                return batches;
            }
            Err(export::ExportError::Portal(e)) => match Fatal::from_portal(&e) {
                Some(fatal) => {
                    self.fail_run(fatal);
                    e.to_string()
                }
                None => e.to_string(),
            },
            Err(e) => e.to_string(),
        };
        tracing::error!("backup failed, nothing removed: {error}");
        let reason = format!("not removed: the backup could not be written: {error}");
        for (target, removals) in batches {
            for removal in &removals {
                self.emit(sync::removal_row(
                    &target,
                    removal,
                    Status::NotRemoved,
                    reason.clone(),
                ));
            }
        }
        Vec::new()
    }

    fn spawn_removals(&mut self, batches: Vec<(Target, Vec<sync::Removal>)>) {
        let chunk_size = self.ctx.plan.chunk_size;
        for (target, removals) in batches {
            for chunk in removals.chunks(chunk_size) {
                self.spawn_remove(target.clone(), chunk.to_vec());
            }
        }
    }

    /// Hand every created group with an owner over (one task each).
    fn hand_over(&mut self) {
        for handover in self.handovers.take_all() {
            let ctx = Arc::clone(&self.ctx);
            let owned = handover.row.iter().cloned().collect();
            let handle = self
                .tasks
                .spawn(async move { Done::Rows(lifecycle::hand_over(&ctx, handover).await) });
            self.in_flight.insert(handle.id(), owned);
        }
    }

    // ---- stopping ------------------------------------------------------------------------

    /// Account for every unfinished row after an interrupt or a fatal error.
    async fn stop(
        &mut self,
        rows: &mut mpsc::Receiver<Named>,
        stdin: bool,
        mut last_line: Option<u64>,
    ) {
        let (status, reason) = match &self.outcome.fatal {
            Some(fatal) => (Status::Failed, fatal.reason()),
            None => (Status::NotAttempted, INTERRUPTED.to_owned()),
        };
        if self.outcome.fatal.is_none() {
            // Interrupted: let requests already on the wire finish, briefly.
            let deadline = tokio::time::Instant::now() + INTERRUPT_GRACE;
            while !self.tasks.is_empty() && self.outcome.fatal.is_none() {
                match tokio::time::timeout_at(deadline, self.tasks.join_next_with_id()).await {
                    Ok(Some(done)) => self.on_done(done),
                    Ok(None) | Err(_) => break,
                }
            }
        }
        self.tasks.abort_all();
        while let Some(done) = self.tasks.join_next_with_id().await {
            match done {
                Err(e) if e.is_cancelled() => self.abandon(e.id(), status, &reason),
                other => self.on_done(other),
            }
        }
        let leftovers: Vec<ResultRow> = self
            .groups
            .values_mut()
            .flat_map(|group| match &mut group.state {
                GroupState::Resolving { display, waiting } => {
                    let display = display.clone();
                    std::mem::take(waiting)
                        .into_iter()
                        .map(|p| unresolved_row(&p, &display, status, &reason))
                        .collect::<Vec<_>>()
                }
                GroupState::Ready(ready) => {
                    let target = ready.target.clone();
                    ready
                        .chunks
                        .iter_mut()
                        .flat_map(std::mem::take)
                        .map(|p| target.row(&p, status, reason.clone()))
                        .collect()
                }
                GroupState::Failed { .. } | GroupState::Alias(_) => Vec::new(),
            })
            .collect();
        leftovers.into_iter().for_each(|r| self.emit(r));
        // Owners' rows held for a handover that will not happen now.
        for handover in self.handovers.take_all() {
            handover.row.into_iter().for_each(|r| self.write(r));
        }

        // The rest of the roster: a file is read to the end (fast) so every row is reported;
        // stdin may never end, so an interrupt stops there and records where.
        if stdin && self.outcome.fatal.is_none() {
            while let Ok(Named { row, .. }) = rows.try_recv() {
                last_line = Some(row.line);
                self.emit(unworked_row(row, status, &reason));
            }
            rows.close();
            self.outcome.input_not_read_after_line = Some(last_line.unwrap_or(1));
        } else {
            while let Some(Named { row, .. }) = rows.recv().await {
                self.emit(unworked_row(row, status, &reason));
            }
        }
    }
}

/// A `not_added` (or `invited`) row whose user the run could not identify (the lookup found no
/// such user, or could not be made): the roster may mean a current member under another name.
fn names_unidentified_user(row: &ResultRow) -> bool {
    matches!(row.status, Status::NotAdded | Status::Invited) && row.portal_username.is_none()
}

fn role_index(role: Role) -> usize {
    match role {
        Role::Member => 0,
        Role::Admin => 1,
    }
}

/// The group keys an invalid row's group cell could refer to.
fn keys_named_by(cell: &str) -> Vec<GroupKey> {
    let mut keys = Vec::new();
    if !cell.trim().is_empty() {
        keys.push(GroupKey::Title(TitleKey::new(cell)));
        let id = cell.trim().to_ascii_lowercase();
        if id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
            keys.push(GroupKey::Id(id));
        }
    }
    keys
}

fn failed_group_row(row: &Pending, display: &str, id: Option<String>, reason: &str) -> ResultRow {
    ResultRow {
        line: Some(row.line),
        group: display.to_owned(),
        group_id: id,
        group_status: Some(GroupStatus::Failed),
        username: row.written().to_owned(),
        role: Some(row.role),
        status: if row.duplicate.is_some() {
            Status::Duplicate
        } else {
            Status::Failed
        },
        reason: row.duplicate.clone().unwrap_or_else(|| reason.to_owned()),
        portal_username: row.portal_username(),
    }
}

fn unresolved_row(row: &Pending, display: &str, status: Status, reason: &str) -> ResultRow {
    ResultRow {
        line: Some(row.line),
        group: display.to_owned(),
        group_id: None,
        group_status: None,
        username: row.written().to_owned(),
        role: Some(row.role),
        status,
        reason: reason.to_owned(),
        portal_username: row.portal_username(),
    }
}
