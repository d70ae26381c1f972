//! One whole `bulk-groups import`: check the output paths, read the roster's head, take the
//! lock, sign in and check the caller, run the engine, and turn what happened into a summary
//! and a typed [`Verdict`] (`cmd` maps it to the exit code and writes the JSON summary and the
//! report). Every path goes through [`finish`] so the results file is always written.
//!
//! The lock file is created only once the run is going to start — after the output paths are
//! checked and the roster has passed its header and `--min-rows` — and never removed. Removing
//! it at the end would race: a second run that opened the file just before the unlink would
//! lock the orphaned inode while a third created and locked a new one, and both would run.
//! Created late, it never appears for a run that never started (a missing roster, a bad
//! header, a truncated export); left in place, it is harmless, since only a held lock counts.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::ImportConfig;
use crate::import::context::{Caller, RunContext, StreamedDefinitions};
use crate::import::engine::{Engine, EngineOutcome};
use crate::import::identity;
use crate::import::{Fatal, INTERRUPTED, unworked_row};
use crate::outcome::{Cause, Status, Verdict};
use crate::portal::{PortalClient, PortalError, RequestKind};
use crate::report::{
    Counters, OutputError, Problem, Progress, ResultsFormat, ResultsSender, ResultsTarget,
    ResultsWriter, RunLock, Sample, Summary, Tally, Timeline, check_writable,
};
use crate::roster::{
    self, Definitions, Dialect, MatchBy, RosterError, RosterReader, Row, RowKind, Source, UserKey,
};

/// Rows read ahead of the engine; small, so memory stays flat and backpressure reaches the file.
const ROW_CHANNEL: usize = 1024;
/// Privileges the caller needs, with what each one is for.
const REQUIRED_PRIVILEGES: [(&str, &str); 2] = [
    ("portal:user:createGroup", "create groups"),
    ("portal:admin:assignToGroups", "assign members to groups"),
];

/// The privilege that lets the caller see every user of the organization.
const VIEW_USERS_PRIVILEGE: &str = "portal:admin:viewUsers";

/// The caller's privileges: the union of every list the portal gave, or `None` when it gave
/// none (some API keys and Enterprise versions list privileges nowhere).
#[derive(Debug, PartialEq, Eq)]
struct Privileges(Option<Vec<String>>);

impl Privileges {
    fn union<'a>(lists: impl IntoIterator<Item = Option<&'a [String]>>) -> Self {
        let mut all: Option<Vec<String>> = None;
        for list in lists.into_iter().flatten() {
            all.get_or_insert_with(Vec::new)
                .extend(list.iter().cloned());
        }
        Privileges(all)
    }

    /// What the caller lacks, by purpose; `None` when there is no list to judge by. Only a
    /// list that is present and lacks a privilege is evidence.
    fn missing(&self) -> Option<Vec<&'static str>> {
        let have = self.0.as_ref()?;
        Some(
            REQUIRED_PRIVILEGES
                .iter()
                .filter(|(p, _)| !have.iter().any(|h| h == p))
                .map(|(_, what)| *what)
                .collect(),
        )
    }

    fn has(&self, privilege: &str) -> bool {
        self.0.iter().flatten().any(|p| p == privilege)
    }
}

/// How an import ended.
#[derive(Debug)]
pub struct RunReport {
    /// Why the run did not end cleanly, if it did not.
    pub verdict: Verdict,
    /// What happened, as the JSON summary shows it (all but the exit code, which `cmd` sets).
    pub summary: Summary,
    /// Where the results went (`-` for stdout); `None` when the run stopped before writing any
    /// (lock held, unusable roster, `--min-rows`).
    pub results: Option<String>,
    /// The rows that need attention, by kind of problem (for the report).
    pub problems: Vec<Problem>,
    /// The request counters once a second (for the report's chart).
    pub timeline: Vec<Sample>,
}

/// Run one import to the end. `cancel` is the interrupt (SIGINT/SIGTERM); `--max-duration`
/// triggers it too.
pub async fn run(config: ImportConfig, cancel: CancellationToken) -> RunReport {
    let started = Instant::now();
    let mut summary = Summary::new(
        config.portal.to_string(),
        describe(&config.roster),
        config.plan.dry_run,
    );
    let results = match &config.results {
        ResultsTarget::Path(p) => p.display().to_string(),
        ResultsTarget::Stdout => "-".to_owned(),
    };
    let deadline = config.max_duration.map(|limit| {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(limit).await;
            tracing::warn!("--max-duration reached");
            cancel.cancel();
        })
    });
    let outcome = attempt(&config, &cancel, &mut summary).await;
    if let Some(deadline) = deadline {
        deadline.abort();
    }
    finish(outcome, summary, results, started)
}

/// What the run came to before the summary is written.
struct Attempt {
    verdict: Verdict,
    error: Option<String>,
    /// The rows accounted for; `None` when the run stopped before writing any.
    tally: Option<Tally>,
    /// Writing the results file failed part way (the counts still hold every row).
    results_error: Option<std::io::Error>,
    /// The client, once built (its statistics count the requests of a failed sign-in too).
    client: Option<PortalClient>,
    engine: EngineOutcome,
    timeline: Vec<Sample>,
}

impl Attempt {
    fn early(stop: EarlyStop) -> Self {
        Attempt {
            verdict: stop.cause().into(),
            error: Some(stop.to_string()),
            tally: None,
            results_error: None,
            client: None,
            engine: EngineOutcome::default(),
            timeline: Vec::new(),
        }
    }
}

/// The run, start to end. Longer than most functions on purpose: its steps share guards that
/// must live exactly as long as they do (the lock, the results writer, the progress display,
/// the reader thread), so it reads top to bottom as the run goes; the roster's opening is
/// [`open_roster`], the preflight [`preflight`] and the work the engine's.
async fn attempt(
    config: &ImportConfig,
    cancel: &CancellationToken,
    summary: &mut Summary,
) -> Attempt {
    // Every file problem is exit 2 here, before the lock and any portal contact.
    if let Err(e) = check_files(config) {
        return Attempt::early(e.into());
    }
    let stdin = config.roster == Source::Stdin;
    let RosterHead {
        dialect,
        definitions,
        streamed_definitions,
        total_rows,
        match_by,
        spreadsheet,
        head,
        mut rows,
        reader_thread,
    } = match open_roster(config, cancel, summary).await {
        Ok(head) => head,
        Err(stop) => return Attempt::early(stop),
    };
    // One run per results file: the lock comes before the results file is truncated, and only
    // once the run is going to start (see the module docs).
    let _lock = match &config.results {
        ResultsTarget::Path(path) => match RunLock::acquire(path) {
            Ok(lock) => Some(lock),
            Err(e) => return Attempt::early(EarlyStop::Output(e)),
        },
        ResultsTarget::Stdout => None,
    };

    let format = ResultsFormat::choose(
        config.results_format,
        dialect.bom,
        dialect.delimiter,
        spreadsheet,
    );
    let (results, writer) = match ResultsWriter::create(config.results.clone(), format) {
        Ok(w) => w,
        Err(source) => {
            return Attempt::early(EarlyStop::Output(OutputError::Io {
                what: "results file",
                path: results_path(&config.results),
                source,
            }));
        }
    };

    let rows_done = Arc::new(AtomicU64::new(0));
    let signed_in = Arc::new(OnceLock::new());
    let progress = Progress::start(
        config.output.into(),
        Counters {
            total_rows,
            rows_done: rows_done.clone(),
            stats: signed_in.clone(),
        },
    );
    let timeline = Timeline::start(signed_in.clone());

    // Sign in and check who we are, before any write. The client's statistics are read from
    // here on, so even a failed sign-in counts its requests.
    let built = PortalClient::build(
        config.portal.clone(),
        config.credentials.clone(),
        config.client.clone(),
    );
    let client = built.as_ref().ok().cloned();
    if let Some(client) = &client {
        let stats_client = client.clone();
        let _ = signed_in.set(Box::new(move || stats_client.stats()));
    }
    let preflight = tokio::select! {
        biased;
        _ = cancel.cancelled() => Err(PreflightError::Interrupted),
        result = preflight(config, built) => result,
    };
    let (verdict, error, engine) = match preflight {
        Ok((client, caller, caller_groups)) => {
            tracing::info!(
                portal = %config.portal,
                org = %caller.org_id,
                caller = %caller.username,
                roster = %summary.roster.path,
                sha256 = summary.roster.sha256.as_deref().unwrap_or("-"),
                dialect = %dialect,
                "starting import"
            );
            summary.org_id = Some(caller.org_id.clone());
            summary.caller = Some(caller.username.clone());
            let ctx = Arc::new(RunContext::new(
                client.clone(),
                caller,
                config.plan.clone(),
                match_by,
                definitions,
                streamed_definitions,
                caller_groups,
            ));
            let concurrency = config.client.concurrency.get();
            // Whom each row names is settled before the engine diffs its group.
            let named = identity::spawn(Arc::clone(&ctx), head, rows);
            let engine = Engine::new(ctx, results.clone(), rows_done.clone(), concurrency);
            let outcome = engine.run(named, stdin, cancel.clone()).await;
            (Verdict::default(), None, outcome)
        }
        Err(e) => {
            let (cause, status, reason) = e.classify();
            account_unstarted(&results, head, &mut rows, status, &reason).await;
            (cause.into(), Some(e.to_string()), EngineOutcome::default())
        }
    };
    drop(results);
    progress.finish();
    let timeline = timeline.finish();
    let read_error = join_reader(reader_thread).await;
    let (tally, results_error) = match writer.finish().await {
        Ok(tally) => (tally, None),
        Err(e) => (*e.tally, Some(e.error)),
    };
    let error =
        error.or(read_error.map(|e| format!("the roster could not be read to the end: {e}")));
    Attempt {
        verdict,
        error,
        tally: Some(tally),
        results_error,
        client,
        engine,
        timeline,
    }
}

/// The roster opened and streaming on its own thread, its first rows read ahead.
struct RosterHead {
    dialect: Dialect,
    definitions: Definitions,
    streamed_definitions: Option<StreamedDefinitions>,
    /// Data rows in the roster file (`None` for stdin).
    total_rows: Option<u64>,
    /// How this roster's `username` cells name people, `auto` settled where the file allows.
    match_by: MatchBy,
    /// The roster is a spreadsheet (it came from Excel, or something like it).
    spreadsheet: bool,
    head: Vec<Row>,
    rows: mpsc::Receiver<Row>,
    reader_thread: std::thread::JoinHandle<Option<String>>,
}

/// Open the roster, scan its definitions, start the reader thread and read the rows
/// `--min-rows` asks for, recording the roster's dialect and hash in the summary.
async fn open_roster(
    config: &ImportConfig,
    cancel: &CancellationToken,
    summary: &mut Summary,
) -> Result<RosterHead, EarlyStop> {
    // The roster's header and the definitions: a usage error here means nothing happened.
    // Reading the header blocks (a stdin pipe may be slow to start): off the async threads, and
    // an interrupt meanwhile ends the run at once.
    let open = tokio::task::spawn_blocking({
        let (source, options) = (config.roster.clone(), config.roster_options.clone());
        move || RosterReader::open(&source, &options)
    });
    let reader = tokio::select! {
        biased;
        _ = cancel.cancelled() => {
            return Err(EarlyStop::Interrupted("header"));
        }
        opened = open => match opened {
            Ok(Ok(reader)) => reader,
            Ok(Err(e)) => return Err(EarlyStop::Roster(e)),
            Err(e) => return Err(EarlyStop::Reader(e)),
        },
    };
    let dialect = reader.dialect();
    let spreadsheet = reader.sheet().is_some();
    summary.roster.set_dialect(&dialect);
    summary.roster.sha256 = match &config.roster {
        Source::Path(path) => sha256_file(path).ok(),
        Source::Stdin => None,
    };
    let roster::Scan {
        definitions,
        rows: total_rows,
        email_like_usernames,
    } = roster::scan(&config.roster, &config.roster_options).map_err(EarlyStop::Roster)?;
    // `auto` only ever resolves cells that look like e-mail addresses: a file without one is
    // read by username, and the engine keeps no per-group sets of whom the rows resolved to.
    let match_by = match config.roster_options.match_by {
        MatchBy::Auto if !email_like_usernames => MatchBy::Username,
        asked => asked,
    };
    let stdin = config.roster == Source::Stdin;
    let (rows_tx, mut rows) = mpsc::channel(ROW_CHANNEL);
    let streamed_definitions = stdin.then(StreamedDefinitions::default);
    let reader_thread = spawn_reader(reader, rows_tx, streamed_definitions.clone());

    // --min-rows: a truncated or empty export stops here, before any portal contact.
    let mut head = Vec::new();
    while (head.len() as u64) < config.plan.min_rows.max(1) {
        let next = tokio::select! {
            biased;
            _ = cancel.cancelled() => {
                return Err(EarlyStop::Interrupted("first rows"));
            }
            next = rows.recv() => next,
        };
        match next {
            Some(row) => head.push(row),
            None => break,
        }
    }
    if (head.len() as u64) < config.plan.min_rows {
        summary.roster.rows = head.len() as u64;
        return Err(EarlyStop::TooFewRows {
            rows: head.len(),
            min_rows: config.plan.min_rows,
        });
    }
    Ok(RosterHead {
        dialect,
        definitions,
        streamed_definitions,
        total_rows,
        match_by,
        spreadsheet,
        head,
        rows,
        reader_thread,
    })
}

/// The checks that make every file problem a usage error before the lock is taken.
fn check_files(config: &ImportConfig) -> Result<(), FileError> {
    if let ResultsTarget::Path(path) = &config.results {
        check_writable("results file", path)?;
    }
    if let Some(path) = &config.summary_json {
        check_writable("summary file", path)?;
    }
    if let Some(path) = &config.plan.backup {
        check_writable("backup file", path)?;
    }
    if let Some(path) = &config.report {
        check_writable("report file", path)?;
    }
    if let Source::Path(path) = &config.roster {
        std::fs::File::open(path).map_err(|source| RosterError::Open {
            what: config.roster.describe(),
            source,
        })?;
    }
    Ok(())
}

/// A file problem found before the run starts.
#[derive(Debug, thiserror::Error)]
enum FileError {
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error(transparent)]
    Roster(#[from] RosterError),
}

/// Why the run stopped before any portal contact; nothing was done.
#[derive(Debug, thiserror::Error)]
enum EarlyStop {
    #[error(transparent)]
    Files(#[from] FileError),
    /// The lock is held, or the results file cannot be created.
    #[error(transparent)]
    Output(OutputError),
    #[error(transparent)]
    Roster(RosterError),
    /// The thread reading the roster's header panicked or was cancelled.
    #[error("reading the roster failed: {0}")]
    Reader(tokio::task::JoinError),
    /// Interrupted while waiting for the roster's header or first rows.
    #[error("interrupted before the roster's {0} arrived; nothing was done")]
    Interrupted(&'static str),
    #[error(
        "the roster has {rows} data row(s), fewer than --min-rows {min_rows} (a truncated or empty export?); nothing was done"
    )]
    TooFewRows { rows: usize, min_rows: u64 },
}

impl EarlyStop {
    fn cause(&self) -> Cause {
        match self {
            EarlyStop::Files(FileError::Output(e)) | EarlyStop::Output(e) => e.cause(),
            EarlyStop::Interrupted(_) => Cause::Interrupted,
            EarlyStop::Files(FileError::Roster(_))
            | EarlyStop::Roster(_)
            | EarlyStop::Reader(_)
            | EarlyStop::TooFewRows { .. } => Cause::Unusable,
        }
    }
}

/// The results path as messages name it (`-` for stdout).
fn results_path(target: &ResultsTarget) -> PathBuf {
    match target {
        ResultsTarget::Path(p) => p.clone(),
        ResultsTarget::Stdout => PathBuf::from("-"),
    }
}

/// Why the run could not start working.
#[derive(Debug, thiserror::Error)]
enum PreflightError {
    #[error("{0}")]
    Portal(#[from] PortalError),
    #[error("{0}")]
    Privileges(String),
    #[error("interrupted")]
    Interrupted,
}

impl PreflightError {
    /// What it means for the run, and the status and reason for every row.
    fn classify(&self) -> (Cause, Status, String) {
        match self {
            PreflightError::Interrupted => (
                Cause::Interrupted,
                Status::NotAttempted,
                INTERRUPTED.to_owned(),
            ),
            PreflightError::Privileges(e) => {
                (Cause::Auth, Status::Failed, format!("run stopped: {e}"))
            }
            PreflightError::Portal(e) => match Fatal::from_portal(e) {
                Some(Fatal::Stopping) => (
                    Cause::Interrupted,
                    Status::NotAttempted,
                    Fatal::Stopping.reason(),
                ),
                Some(fatal) => (fatal.cause(), Status::Failed, fatal.reason()),
                None if e.is_permission() => {
                    (Cause::Auth, Status::Failed, format!("run stopped: {e}"))
                }
                None => (
                    Cause::PortalUnavailable,
                    Status::Failed,
                    format!("run stopped: {e}"),
                ),
            },
        }
    }
}

/// Sign in with the `client` just built, read `portals/self` and `community/self`, check the
/// privileges.
async fn preflight(
    config: &ImportConfig,
    client: Result<PortalClient, PortalError>,
) -> Result<(PortalClient, Caller, Vec<crate::portal::GroupSummary>), PreflightError> {
    let client = client?;
    client.sign_in().await?;
    // Independent reads: one round trip instead of two.
    let (portal, me) = tokio::try_join!(client.portal_self(), client.community_self())?;
    let org_id = me.org_id.clone().unwrap_or_else(|| portal.id.clone());
    tracing::debug!(
        portal = %config.portal,
        name = portal.name.as_deref().unwrap_or("-"),
        org = %org_id,
        caller = %me.username,
        role = me.role.as_deref().unwrap_or("-"),
        "signed in"
    );
    // Privileges may be listed in community/self, in portals/self's `user`, in both or nowhere.
    let portal_user = portal.user.as_ref();
    let privileges = Privileges::union([
        me.privileges.as_deref(),
        portal_user.and_then(|u| u.privileges.as_deref()),
    ]);
    match privileges.missing() {
        Some(missing) if !missing.is_empty() => {
            return Err(PreflightError::Privileges(format!(
                "{} lacks the privileges to {}; use an administrator account or an API key with the Groups admin privileges",
                me.username,
                missing.join(" and ")
            )));
        }
        Some(_) => {}
        None => tracing::warn!(
            caller = %me.username,
            "the portal lists no privileges for the caller; going on — a write it refuses is reported on its rows"
        ),
    }
    let role = me
        .role
        .as_deref()
        .or(portal_user.and_then(|u| u.role.as_deref()));
    let caller = Caller {
        key: UserKey::new(&me.username),
        is_admin: role == Some("org_admin") || privileges.has(VIEW_USERS_PRIVILEGE),
        username: me.user.username,
        org_id,
    };
    Ok((client, caller, me.groups))
}

/// Report every row when the run stopped before the engine started.
async fn account_unstarted(
    results: &ResultsSender,
    head: Vec<Row>,
    rows: &mut mpsc::Receiver<Row>,
    status: Status,
    reason: &str,
) {
    for row in head {
        results.send(unworked_row(row, status, reason));
    }
    if status == Status::NotAttempted {
        // Interrupted: a file is read to the end (fast); stdin is not waited for.
        while let Ok(row) = rows.try_recv() {
            results.send(unworked_row(row, status, reason));
        }
        rows.close();
    }
    while let Some(row) = rows.recv().await {
        results.send(unworked_row(row, status, reason));
    }
}

/// Stream the roster on its own thread (blocking reads, possibly of a stdin that never ends);
/// it stops when the engine drops the receiving side. Returns a read error, if one cut it short.
///
/// A roster on stdin cannot be pre-scanned for group definitions, so the thread records each
/// group's definition as known when its first row is read, before handing the row on.
fn spawn_reader(
    mut reader: RosterReader,
    rows: mpsc::Sender<Row>,
    streamed: Option<StreamedDefinitions>,
) -> std::thread::JoinHandle<Option<String>> {
    std::thread::Builder::new()
        .name("roster-reader".to_owned())
        .spawn(move || {
            while let Some(row) = reader.next() {
                if let (Some(streamed), RowKind::Membership(m)) = (&streamed, &row.kind) {
                    streamed.record(m.group.key(), || reader.definitions().get(&m.group.key()));
                }
                if rows.blocking_send(row).is_err() {
                    return None;
                }
            }
            reader.take_error().map(|e| e.to_string())
        })
        .expect("spawn the roster reader thread")
}

/// The reader thread's result. After an interrupt on stdin the thread may be blocked on a read
/// that never returns; it is then left behind (the process exit ends it).
async fn join_reader(thread: std::thread::JoinHandle<Option<String>>) -> Option<String> {
    for _ in 0..20 {
        if thread.is_finished() {
            return thread.join().ok().flatten();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    None
}

fn describe(source: &Source) -> String {
    match source {
        Source::Path(p) => p.display().to_string(),
        Source::Stdin => "-".to_owned(),
    }
}

fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(format!("{:x}", hasher.finalize()))
}

/// Gather every cause and fill the summary (all but its exit code).
fn finish(attempt: Attempt, mut summary: Summary, results: String, started: Instant) -> RunReport {
    let Attempt {
        mut verdict,
        mut error,
        tally,
        results_error,
        client,
        engine,
        timeline,
    } = attempt;
    let counts = tally.as_ref().map(|t| &t.counts);
    if engine.interrupted {
        verdict.add(Cause::Interrupted);
    }
    if let Some(fatal) = &engine.fatal {
        verdict.add(fatal.cause());
        error.get_or_insert_with(|| fatal.reason());
    }
    if let Some(counts) = counts
        && (counts.needs_attention() || !engine.guard_tripped.is_empty())
    {
        verdict.add(Cause::RowsNeedAttention);
    }
    if let Some(client) = &client {
        let stats = client.stats();
        summary.requests = stats.requests.clone();
        summary.retries = stats.retries;
        summary.throttled = stats.throttled;
    }
    if let Some(e) = results_error {
        let (cause, message) = results_failure(&e, &results, &summary.requests);
        verdict.add(cause);
        error = Some(join_errors(Some(message), error));
    }
    // A run-wide error is never a clean run.
    if error.is_some() && verdict.is_clean() {
        verdict.add(Cause::RowsNeedAttention);
    }
    summary.elapsed_seconds = (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
    summary.error = error;
    summary.guard_tripped = engine.guard_tripped;
    summary.input_not_read_after_line = engine.input_not_read_after_line;
    if let Some(tally) = &tally {
        summary.set_tally(tally);
    }
    RunReport {
        verdict,
        summary,
        results: tally.is_some().then_some(results),
        problems: tally.map(|t| t.problems()).unwrap_or_default(),
        timeline,
    }
}

/// The cause and message for a results file that failed part way. The counts still say what
/// was done on the portal; unusable (exit 2) only if nothing was written to it (exit 2 means
/// exactly that), otherwise rows need attention, because the results are the record of what
/// changed.
fn results_failure(
    error: &std::io::Error,
    path: &str,
    requests: &std::collections::BTreeMap<String, u64>,
) -> (Cause, String) {
    let writes: u64 = RequestKind::ALL
        .iter()
        .filter(|kind| kind.is_write())
        .filter_map(|kind| requests.get(kind.as_str()))
        .sum();
    let cause = if writes == 0 {
        Cause::Unusable
    } else {
        Cause::RowsNeedAttention
    };
    let message = format!(
        "writing the results file {path} failed: {error}; the file is incomplete, but the counts are what was done on the portal ({writes} write requests); run the same command again to complete it"
    );
    (cause, message)
}

/// Two run-wide errors as one text, the first first.
fn join_errors(first: Option<String>, second: Option<String>) -> String {
    match (first, second) {
        (Some(a), Some(b)) => format!("{a}; {b}"),
        (a, b) => a.or(b).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn privileges_are_the_union_and_only_a_present_list_is_evidence() {
        let create = list(&["portal:user:createGroup"]);
        let assign = list(&["portal:admin:assignToGroups"]);
        // Split across community/self and portals/self: together they suffice.
        let split = Privileges::union([Some(create.as_slice()), Some(assign.as_slice())]);
        assert_eq!(split.missing(), Some(vec![]));
        // Only one place lists them (either one).
        let one = Privileges::union([None, Some([create.clone(), assign].concat().as_slice())]);
        assert_eq!(one.missing(), Some(vec![]));
        // A list that lacks one: positive evidence.
        let lacking = Privileges::union([Some(create.as_slice()), None]);
        assert_eq!(lacking.missing(), Some(vec!["assign members to groups"]));
        // No list anywhere: no evidence.
        assert_eq!(Privileges::union([None, None]).missing(), None);
        assert!(!Privileges::union([None, None]).has(VIEW_USERS_PRIVILEGE));
    }
}
