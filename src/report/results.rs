//! The results file writer (product spec §3): a single owner of the file, fed through a channel.
//!
//! Design:
//! - **Unbounded** tokio mpsc channel. [`ResultsSender::send`] never blocks and never fails, so
//!   it can be called from async tasks and from synchronous code alike (a bounded channel's
//!   `blocking_send` panics inside a runtime, its async `send` needs an `.await` everywhere).
//!   The queue only grows if the disk is slower than the portal, which it is not.
//! - A **dedicated thread** does the blocking file writes, so no runtime worker ever waits on
//!   the disk. It does not even need a runtime: [`ResultsWriter::create`] works anywhere;
//!   [`ResultsTask::finish`] is awaited (or [`ResultsTask::finish_blocking`] from sync code).
//! - **Flushing**: everything received is flushed as soon as the channel is momentarily empty,
//!   and at least once a second under a continuous stream, and when the channel closes. Each row
//!   is handed to the buffer in one `write_all`, and `BufWriter` never splits a write smaller
//!   than its buffer across flushes, so a killed process leaves whole rows only.
//! - If a write fails, the thread keeps draining and counting the channel (so senders never
//!   notice) and `finish` returns the error with the counts of every row sent: no row is lost
//!   silently, and the summary can still say what was done on the portal.
//! - RFC 4180: CRLF line ends, fields quoted only when they hold `"`, `,`, CR or LF; cells
//!   starting with `=`, `+`, `-`, `@`, TAB or CR are prefixed with `'` so a spreadsheet does not
//!   run them as formulas.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use crate::outcome::{Counts, GroupStatus, ResultRow};

/// The results file's header line (without line end).
pub const RESULTS_HEADER: &str =
    "line,group,group_id,group_status,username,role,status,reason,portal_username";

/// Longest time a received row may stay unflushed while rows keep arriving.
const FLUSH_INTERVAL: Duration = Duration::from_secs(1);

/// Where results go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResultsTarget {
    /// A file, truncated at start.
    Path(PathBuf),
    /// Standard output (`--results -`).
    Stdout,
}

/// The sending side: cheap to clone, never blocks, never drops a row (see the module docs).
#[derive(Debug, Clone)]
pub struct ResultsSender {
    tx: mpsc::UnboundedSender<ResultRow>,
}

impl ResultsSender {
    /// Queue one row for writing, in arrival order.
    pub fn send(&self, row: ResultRow) {
        // The receiver lives until every sender is dropped (the writer thread drains the channel
        // even after an I/O error), so this cannot fail while `self` exists.
        if self.tx.send(row).is_err() {
            tracing::error!("results writer is gone; a results row was not written");
        }
    }
}

/// Writing the results failed (disk full, I/O error): the first error, and the counts of every
/// row sent, written or not — what the run did is still known.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct ResultsWriteError {
    /// Every row sent to the writer, counted (boxed: `Counts` is large for an error).
    pub counts: Box<Counts>,
    /// The first write or flush error.
    #[source]
    pub error: io::Error,
}

type Done = Result<Counts, ResultsWriteError>;

/// The writer thread; await [`finish`](Self::finish) after dropping every [`ResultsSender`].
#[derive(Debug)]
pub struct ResultsTask {
    done: oneshot::Receiver<Done>,
}

impl ResultsTask {
    /// Wait until every sender is dropped and the file is flushed; the counts of rows written.
    pub async fn finish(self) -> Done {
        self.done.await.unwrap_or_else(|_| Err(Self::panicked()))
    }

    /// [`finish`](Self::finish) for synchronous callers (not from inside a runtime).
    pub fn finish_blocking(self) -> Done {
        self.done
            .blocking_recv()
            .unwrap_or_else(|_| Err(Self::panicked()))
    }

    fn panicked() -> ResultsWriteError {
        ResultsWriteError {
            counts: Box::default(),
            error: io::Error::other("results writer thread panicked"),
        }
    }
}

/// Creates the results file and its writer thread.
pub struct ResultsWriter;

impl ResultsWriter {
    /// Truncate/create the target, write the header, start the writer thread. Errors (cannot
    /// create the file) happen here, before any work.
    pub fn create(target: ResultsTarget) -> io::Result<(ResultsSender, ResultsTask)> {
        let out: Box<dyn Write + Send> = match &target {
            ResultsTarget::Path(path) => Box::new(File::create(path)?),
            ResultsTarget::Stdout => Box::new(io::stdout()),
        };
        Self::create_with(out)
    }

    /// Like [`create`](Self::create) over any writer (tests, in-memory).
    pub fn create_with(out: Box<dyn Write + Send>) -> io::Result<(ResultsSender, ResultsTask)> {
        let mut out = BufWriter::with_capacity(64 * 1024, out);
        out.write_all(RESULTS_HEADER.as_bytes())?;
        out.write_all(b"\r\n")?;
        out.flush()?;
        let (tx, rx) = mpsc::unbounded_channel();
        let (done_tx, done) = oneshot::channel();
        std::thread::Builder::new()
            .name("results-writer".to_owned())
            .spawn(move || {
                let _ = done_tx.send(write_loop(rx, out));
            })?;
        Ok((ResultsSender { tx }, ResultsTask { done }))
    }
}

fn write_loop(
    mut rx: mpsc::UnboundedReceiver<ResultRow>,
    mut out: BufWriter<Box<dyn Write + Send>>,
) -> Done {
    let mut counts = Counts::default();
    let mut line = Vec::with_capacity(256);
    let mut error: Option<io::Error> = None;
    let mut last_flush = Instant::now();
    loop {
        let row = match rx.try_recv() {
            Ok(row) => row,
            Err(mpsc::error::TryRecvError::Empty) => {
                // Idle: put everything received on disk before waiting.
                if error.is_none()
                    && let Err(e) = out.flush()
                {
                    error = Some(e);
                }
                last_flush = Instant::now();
                match rx.blocking_recv() {
                    Some(row) => row,
                    None => break,
                }
            }
            Err(mpsc::error::TryRecvError::Disconnected) => break,
        };
        counts.add(&row);
        if error.is_some() {
            continue;
        }
        line.clear();
        encode_row(&row, &mut line);
        if let Err(e) = out.write_all(&line) {
            error = Some(e);
            continue;
        }
        if last_flush.elapsed() >= FLUSH_INTERVAL {
            if let Err(e) = out.flush() {
                error = Some(e);
            }
            last_flush = Instant::now();
        }
    }
    if error.is_none()
        && let Err(e) = out.flush()
    {
        error = Some(e);
    }
    match error {
        Some(error) => Err(ResultsWriteError {
            counts: Box::new(counts),
            error,
        }),
        None => Ok(counts),
    }
}

/// Append one CSV record (with CRLF) for `row` to `out`.
pub fn encode_row(row: &ResultRow, out: &mut Vec<u8>) {
    if let Some(line) = row.line {
        out.extend_from_slice(line.to_string().as_bytes());
    }
    out.push(b',');
    push_cell(out, &row.group);
    out.push(b',');
    push_cell(out, row.group_id.as_deref().unwrap_or(""));
    out.push(b',');
    out.extend_from_slice(
        row.group_status
            .map(GroupStatus::as_str)
            .unwrap_or("")
            .as_bytes(),
    );
    out.push(b',');
    push_cell(out, &row.username);
    out.push(b',');
    out.extend_from_slice(row.role.map(|r| r.as_str()).unwrap_or("").as_bytes());
    out.push(b',');
    out.extend_from_slice(row.status.as_str().as_bytes());
    out.push(b',');
    push_cell(out, &row.reason);
    out.push(b',');
    push_cell(out, row.portal_username.as_deref().unwrap_or(""));
    out.extend_from_slice(b"\r\n");
}

/// One cell: neutralised if a spreadsheet would read it as a formula, quoted only if needed.
fn push_cell(out: &mut Vec<u8>, cell: &str) {
    let formula = matches!(
        cell.as_bytes().first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
    );
    let quote = cell
        .bytes()
        .any(|b| matches!(b, b'"' | b',' | b'\r' | b'\n'));
    if quote {
        out.push(b'"');
    }
    if formula {
        out.push(b'\'');
    }
    for &b in cell.as_bytes() {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    if quote {
        out.push(b'"');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Status;
    use crate::roster::Role;

    fn row(group: &str, username: &str, status: Status, reason: &str) -> ResultRow {
        ResultRow {
            line: Some(7),
            group: group.to_owned(),
            group_id: None,
            group_status: None,
            username: username.to_owned(),
            role: Some(Role::Member),
            status,
            reason: reason.to_owned(),
            portal_username: None,
        }
    }

    fn encode(r: &ResultRow) -> String {
        let mut v = Vec::new();
        encode_row(r, &mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn plain_row() {
        assert_eq!(
            encode(&row("GIS 101", "alice", Status::Added, "")),
            "7,GIS 101,,,alice,member,added,,\r\n"
        );
    }

    #[test]
    fn quoting_only_when_needed() {
        assert_eq!(
            encode(&row("A, B", "al\"ice", Status::NotAdded, "line1\nline2")),
            "7,\"A, B\",,,\"al\"\"ice\",member,not_added,\"line1\nline2\",\r\n"
        );
    }

    #[test]
    fn formulas_are_neutralised() {
        for (cell, expected) in [
            ("=cmd()", "'=cmd()"),
            ("+1", "'+1"),
            ("-1", "'-1"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "\"'\rx\""),
            ("=a,b", "\"'=a,b\""),
            ("a=b", "a=b"),
        ] {
            let line = encode(&row(cell, "u", Status::Added, ""));
            assert_eq!(
                line,
                format!("7,{expected},,,u,member,added,,\r\n"),
                "{cell:?}"
            );
        }
    }

    #[test]
    fn removal_row_has_empty_line_and_full_group_fields() {
        let r = ResultRow {
            line: None,
            group: "G".into(),
            group_id: Some("0123456789abcdef0123456789abcdef".into()),
            group_status: Some(GroupStatus::Existing),
            username: "bob".into(),
            role: None,
            status: Status::Removed,
            reason: String::new(),
            portal_username: Some("Bob".into()),
        };
        assert_eq!(
            encode(&r),
            ",G,0123456789abcdef0123456789abcdef,existing,bob,,removed,,Bob\r\n"
        );
    }

    #[test]
    fn counts() {
        let mut c = Counts::default();
        let mut r = row("G", "a", Status::Added, "");
        r.group_status = Some(GroupStatus::Created);
        c.add(&r);
        c.add(&r);
        let mut other = row("g", "b", Status::Failed, "x");
        other.group_status = Some(GroupStatus::Created);
        c.add(&other);
        c.add(&row("H", "c", Status::Invalid, "x"));
        assert_eq!(c.total(), 4);
        assert_eq!(c.get(Status::Added), 2);
        assert_eq!(c.attention_rows(), 2);
        assert!(c.needs_attention());
        assert_eq!(c.group_rows(GroupStatus::Created), 3);
        assert_eq!(c.groups(GroupStatus::Created), 1);
        assert_eq!(c.by_status().len(), Status::ALL.len());
        assert!(!Counts::default().needs_attention());
    }
}
