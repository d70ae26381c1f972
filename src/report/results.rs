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
//! - RFC 4180: CRLF line ends, fields quoted only when they hold `"`, the delimiter, CR or LF;
//!   cells starting with `=`, `+`, `-`, `@`, TAB or CR are prefixed with `'` so a spreadsheet
//!   does not run them as formulas. [`ResultsFormat`]: plain CSV, or for Excel a UTF-8 BOM and
//!   the roster's delimiter (Excel reads a BOM-less file as the local code page and splits on
//!   the local list separator, `;` in much of Europe).
//! - **Sorted at the end**: while the run works, rows go to the file in completion order (a
//!   crash leaves every finished row on disk). For each row the writer keeps only where it went
//!   — line, offset, length: 16 bytes — and when the channel closes it copies the rows in line
//!   order (removal rows last, by group then username) into a sibling temporary file and renames
//!   that over the results: readers see either the whole unsorted file or the whole sorted one.
//!   Standard output cannot be rewritten, so `--results -` stays in completion order.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use crate::outcome::{GroupStatus, ResultRow};
use crate::report::outputs;
use crate::report::tally::Tally;

/// The results file's header line (without line end), as plain CSV.
pub const RESULTS_HEADER: &str =
    "line,group,group_id,group_status,username,role,status,reason,portal_username";

/// Longest time a received row may stay unflushed while rows keep arriving.
const FLUSH_INTERVAL: Duration = Duration::from_secs(1);

/// The UTF-8 byte-order mark Excel needs to read a CSV file as UTF-8.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Where results go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResultsTarget {
    /// A file, truncated at start.
    Path(PathBuf),
    /// Standard output (`--results -`).
    Stdout,
}

/// `--results-format`: what the user asked for; [`ResultsFormat::choose`] settles the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultsStyle {
    /// RFC 4180 CSV: UTF-8 without BOM, `,`.
    Csv,
    /// For Excel: UTF-8 with BOM, the roster's delimiter.
    Excel,
}

/// The bytes of the results file: BOM or not, and the delimiter. Line ends are CRLF either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResultsFormat {
    bom: bool,
    delimiter: u8,
}

impl ResultsFormat {
    /// Plain RFC 4180 CSV.
    pub const CSV: ResultsFormat = ResultsFormat {
        bom: false,
        delimiter: b',',
    };

    /// The format for a roster read with `roster_bom` and `roster_delimiter` (a `spreadsheet`
    /// reads as `,` without BOM): as asked, or by default Excel's when the roster came from
    /// Excel (a BOM, a `;` delimiter, or a spreadsheet file) — it goes back to it — else plain
    /// CSV.
    pub fn choose(
        asked: Option<ResultsStyle>,
        roster_bom: bool,
        roster_delimiter: u8,
        spreadsheet: bool,
    ) -> Self {
        let from_excel = spreadsheet || roster_bom || roster_delimiter == b';';
        match asked {
            Some(ResultsStyle::Excel) => ResultsFormat {
                bom: true,
                delimiter: roster_delimiter,
            },
            None if from_excel => ResultsFormat {
                bom: true,
                delimiter: roster_delimiter,
            },
            Some(ResultsStyle::Csv) | None => ResultsFormat::CSV,
        }
    }

    /// The style this format is (for messages and the summary).
    pub fn style(self) -> ResultsStyle {
        if self.bom {
            ResultsStyle::Excel
        } else {
            ResultsStyle::Csv
        }
    }

    /// BOM (if any) and the header line, CRLF-terminated.
    fn header(self) -> Vec<u8> {
        let mut out = Vec::new();
        if self.bom {
            out.extend_from_slice(BOM);
        }
        out.extend(
            RESULTS_HEADER
                .bytes()
                .map(|b| if b == b',' { self.delimiter } else { b }),
        );
        out.extend_from_slice(b"\r\n");
        out
    }
}

impl Default for ResultsFormat {
    fn default() -> Self {
        ResultsFormat::CSV
    }
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

/// Writing the results failed (disk full, I/O error): the first error, and the tally of every
/// row sent, written or not — what the run did is still known.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct ResultsWriteError {
    /// Every row sent to the writer, counted (boxed: a tally is large for an error).
    pub tally: Box<Tally>,
    /// The first write or flush error.
    #[source]
    pub error: io::Error,
}

type Done = Result<Tally, ResultsWriteError>;

/// The writer thread; await [`finish`](Self::finish) after dropping every [`ResultsSender`].
#[derive(Debug)]
pub struct ResultsTask {
    done: oneshot::Receiver<Done>,
}

impl ResultsTask {
    /// Wait until every sender is dropped and the file is flushed (and sorted); the tally of
    /// rows written.
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
            tally: Box::default(),
            error: io::Error::other("results writer thread panicked"),
        }
    }
}

/// Creates the results file and its writer thread.
pub struct ResultsWriter;

impl ResultsWriter {
    /// Truncate/create the target, write the header, start the writer thread. Errors (cannot
    /// create the file) happen here, before any work. A file is sorted by line at the end.
    pub fn create(
        target: ResultsTarget,
        format: ResultsFormat,
    ) -> io::Result<(ResultsSender, ResultsTask)> {
        match target {
            ResultsTarget::Path(path) => {
                // Read access too: the rows are copied back out of it, sorted, at the end.
                let file = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .open(&path)?;
                let out = start(file, format)?;
                spawn(move |rx| {
                    let mut index = Index::default();
                    let (tally, written) = write_loop(rx, out, format, Some(&mut index));
                    if let Ok(file) = &written
                        && let Err(e) = index.rewrite_sorted(file, &path, format)
                    {
                        // The file is complete, only not in line order: say so and go on.
                        tracing::warn!(
                            "could not sort the results file {} by line ({e}); it is complete, in completion order",
                            path.display()
                        );
                    }
                    finished(tally, written.map(drop))
                })
            }
            ResultsTarget::Stdout => Self::create_with(Box::new(io::stdout()), format),
        }
    }

    /// Like [`create`](Self::create) over any writer (standard output, tests); rows stay in
    /// completion order.
    pub fn create_with(
        out: Box<dyn Write + Send>,
        format: ResultsFormat,
    ) -> io::Result<(ResultsSender, ResultsTask)> {
        let out = start(out, format)?;
        spawn(move |rx| {
            let (tally, written) = write_loop(rx, out, format, None);
            finished(tally, written.map(drop))
        })
    }
}

/// Buffer `out` and write the header (on disk before any work starts).
fn start<W: Write>(out: W, format: ResultsFormat) -> io::Result<BufWriter<W>> {
    let mut out = BufWriter::with_capacity(64 * 1024, out);
    out.write_all(&format.header())?;
    out.flush()?;
    Ok(out)
}

fn spawn(
    work: impl FnOnce(mpsc::UnboundedReceiver<ResultRow>) -> Done + Send + 'static,
) -> io::Result<(ResultsSender, ResultsTask)> {
    let (tx, rx) = mpsc::unbounded_channel();
    let (done_tx, done) = oneshot::channel();
    std::thread::Builder::new()
        .name("results-writer".to_owned())
        .spawn(move || {
            let _ = done_tx.send(work(rx));
        })?;
    Ok((ResultsSender { tx }, ResultsTask { done }))
}

fn finished(tally: Tally, result: io::Result<()>) -> Done {
    match result {
        Ok(()) => Ok(tally),
        Err(error) => Err(ResultsWriteError {
            tally: Box::new(tally),
            error,
        }),
    }
}

/// Write every row received until the channel closes; the tally, and the inner writer back
/// (or the first error: then the remaining rows are only counted).
fn write_loop<W: Write>(
    mut rx: mpsc::UnboundedReceiver<ResultRow>,
    mut out: BufWriter<W>,
    format: ResultsFormat,
    mut index: Option<&mut Index>,
) -> (Tally, io::Result<W>) {
    let mut tally = Tally::default();
    let mut line = Vec::with_capacity(256);
    let mut error: Option<io::Error> = None;
    let mut last_flush = Instant::now();
    let mut offset = format.header().len() as u64;
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
        tally.add(&row);
        if error.is_some() {
            continue;
        }
        line.clear();
        encode_row_as(&row, format, &mut line);
        if let Err(e) = out.write_all(&line) {
            error = Some(e);
            continue;
        }
        if let Some(index) = index.as_deref_mut() {
            index.push(&row, offset, line.len());
        }
        offset += line.len() as u64;
        if last_flush.elapsed() >= FLUSH_INTERVAL {
            if let Err(e) = out.flush() {
                error = Some(e);
            }
            last_flush = Instant::now();
        }
    }
    let result = match error {
        Some(e) => Err(e),
        None => out.into_inner().map_err(|e| e.into_error()),
    };
    (tally, result)
}

/// Where one row went in the completion-order file: its line, and its offset and length packed
/// in one word (offset above [`LEN_BITS`], length below), so the index costs 16 bytes a row.
/// A row too long for the length bits (a portal message of megabytes in its reason) is stored
/// with length 0 and its end found again when it is copied.
#[derive(Debug, Clone, Copy)]
struct Placed {
    line: u64,
    at: u64,
}

/// Bits of [`Placed::at`] that hold the row's length: rows up to 16 MiB.
const LEN_BITS: u32 = 24;

impl Placed {
    /// `None` when the offset does not fit (a results file beyond a terabyte): then the file is
    /// left in completion order.
    fn new(line: u64, offset: u64, len: usize) -> Option<Placed> {
        if offset >= 1 << (64 - LEN_BITS) {
            return None;
        }
        let len = u64::try_from(len)
            .ok()
            .filter(|&len| len < 1 << LEN_BITS)
            .unwrap_or(0);
        Some(Placed {
            line,
            at: offset << LEN_BITS | len,
        })
    }

    fn offset(self) -> u64 {
        self.at >> LEN_BITS
    }

    /// The row's length, when it fitted.
    fn len(self) -> Option<usize> {
        match self.at & ((1 << LEN_BITS) - 1) {
            0 => None,
            len => Some(len as usize),
        }
    }

    /// Read the row back from `file` into `buf`.
    fn read(self, file: &File, buf: &mut Vec<u8>) -> io::Result<()> {
        match self.len() {
            Some(len) => {
                buf.resize(len, 0);
                file.read_exact_at(buf, self.offset())
            }
            None => read_record_at(file, self.offset(), buf),
        }
    }
}

/// Read the record starting at `offset` up to and including the CRLF that ends it: the first
/// CRLF outside quotes, as [`encode_row_as`] quotes every cell holding CR, LF or `"`.
fn read_record_at(file: &File, mut offset: u64, buf: &mut Vec<u8>) -> io::Result<()> {
    buf.clear();
    let mut chunk = vec![0; 64 * 1024];
    let mut quoted = false;
    loop {
        let n = file.read_at(&mut chunk, offset)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "a results row has no end",
            ));
        }
        for &b in &chunk[..n] {
            buf.push(b);
            match b {
                b'"' => quoted = !quoted,
                b'\n' if !quoted && buf.ends_with(b"\r\n") => return Ok(()),
                _ => {}
            }
        }
        offset += n as u64;
    }
}

/// Where every row went, to copy them out in order at the end: 16 bytes per roster row
/// (a 1,000,000-row roster: 16 MB), plus the sort keys of removal rows.
#[derive(Debug, Default)]
struct Index {
    rows: Vec<Placed>,
    removals: Vec<(String, String, Placed)>,
    /// A row could not be placed: the file stays in completion order.
    unplaceable: bool,
}

impl Index {
    fn push(&mut self, row: &ResultRow, offset: u64, len: usize) {
        let Some(placed) = Placed::new(row.line.unwrap_or(0), offset, len) else {
            self.unplaceable = true;
            return;
        };
        match row.line {
            Some(_) => self.rows.push(placed),
            None => self
                .removals
                .push((row.group.clone(), row.username.clone(), placed)),
        }
    }

    /// Copy the rows of `file` (at `path`) in line order, removal rows last by group then
    /// username, into a sibling temporary file and rename it over `path`. Nothing to do when
    /// they are in order already.
    fn rewrite_sorted(mut self, file: &File, path: &Path, format: ResultsFormat) -> io::Result<()> {
        if self.unplaceable {
            return Err(io::Error::other("the file is too large to sort"));
        }
        let in_order = self.rows.is_sorted_by_key(|p| p.line)
            && self
                .removals
                .is_sorted_by(|a, b| (&a.0, &a.1) <= (&b.0, &b.1));
        if in_order {
            return Ok(());
        }
        self.rows.sort_unstable_by_key(|p| p.line);
        self.removals
            .sort_unstable_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        let (temp, sorted) = outputs::sibling_temp(path)?;
        let copied = (|| {
            let mut out = BufWriter::with_capacity(64 * 1024, sorted);
            out.write_all(&format.header())?;
            let mut buf = Vec::new();
            let removals = self.removals.iter().map(|(_, _, placed)| placed);
            for placed in self.rows.iter().chain(removals) {
                placed.read(file, &mut buf)?;
                out.write_all(&buf)?;
            }
            out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            std::fs::rename(&temp, path)
        })();
        if copied.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        copied
    }
}

/// Append one plain-CSV record (with CRLF) for `row` to `out`.
pub fn encode_row(row: &ResultRow, out: &mut Vec<u8>) {
    encode_row_as(row, ResultsFormat::CSV, out);
}

/// Append one record (with CRLF) for `row` to `out`, in `format`.
fn encode_row_as(row: &ResultRow, format: ResultsFormat, out: &mut Vec<u8>) {
    let d = format.delimiter;
    if let Some(line) = row.line {
        out.extend_from_slice(line.to_string().as_bytes());
    }
    out.push(d);
    push_cell(out, &row.group, d);
    out.push(d);
    push_cell(out, row.group_id.as_deref().unwrap_or(""), d);
    out.push(d);
    out.extend_from_slice(
        row.group_status
            .map(GroupStatus::as_str)
            .unwrap_or("")
            .as_bytes(),
    );
    out.push(d);
    push_cell(out, &row.username, d);
    out.push(d);
    out.extend_from_slice(row.role.map(|r| r.as_str()).unwrap_or("").as_bytes());
    out.push(d);
    out.extend_from_slice(row.status.as_str().as_bytes());
    out.push(d);
    push_cell(out, &row.reason, d);
    out.push(d);
    push_cell(out, row.portal_username.as_deref().unwrap_or(""), d);
    out.extend_from_slice(b"\r\n");
}

/// One cell: neutralised if a spreadsheet would read it as a formula, quoted only if needed.
fn push_cell(out: &mut Vec<u8>, cell: &str, delimiter: u8) {
    let formula = matches!(
        cell.as_bytes().first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
    );
    let quote = cell
        .bytes()
        .any(|b| matches!(b, b'"' | b'\r' | b'\n') || b == delimiter);
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
    use crate::outcome::{Counts, Status};
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
    fn excel_format_has_a_bom_the_roster_delimiter_and_quotes_on_it() {
        let excel = ResultsFormat::choose(None, false, b';', false);
        assert_eq!(excel.style(), ResultsStyle::Excel);
        assert!(excel.header().starts_with(b"\xEF\xBB\xBFline;group;"));
        let mut out = Vec::new();
        encode_row_as(&row("A; B, C", "zoë", Status::Added, ""), excel, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "7;\"A; B, C\";;;zoë;member;added;;\r\n"
        );
    }

    #[test]
    fn the_default_format_follows_the_roster() {
        let csv = ResultsFormat::CSV;
        assert_eq!(ResultsFormat::choose(None, false, b',', false), csv);
        assert_eq!(ResultsFormat::choose(None, false, b'\t', false), csv);
        assert_eq!(
            ResultsFormat::choose(None, true, b',', false).style(),
            ResultsStyle::Excel
        );
        assert_eq!(
            ResultsFormat::choose(None, false, b';', false).style(),
            ResultsStyle::Excel
        );
        assert_eq!(
            ResultsFormat::choose(Some(ResultsStyle::Csv), true, b';', false),
            csv
        );
        let asked = ResultsFormat::choose(Some(ResultsStyle::Excel), false, b'|', false);
        assert_eq!(
            ResultsFormat::choose(None, false, b',', true).style(),
            ResultsStyle::Excel,
            "a spreadsheet roster came from Excel"
        );
        assert_eq!(asked.header()[3..8], *b"line|");
    }

    #[test]
    fn an_index_entry_is_16_bytes() {
        // 1,000,000 rows must sort within the import's memory target (spec §8).
        assert_eq!(std::mem::size_of::<Placed>(), 16);
    }

    #[test]
    fn rows_are_read_back_whole_whatever_their_length() {
        let mut rows = Vec::new();
        let mut long = row("G", "u", Status::NotAdded, "");
        long.reason = format!("\"quoted\"\r\n{}", "x".repeat(1 << LEN_BITS));
        for r in [
            row("A, B", "u", Status::Added, ""),
            long,
            row("C", "v", Status::Added, ""),
        ] {
            let mut bytes = Vec::new();
            encode_row(&r, &mut bytes);
            rows.push(bytes);
        }
        let mut file = tempfile::tempfile().unwrap();
        let mut offset = 0;
        let mut placed = Vec::new();
        for bytes in &rows {
            file.write_all(bytes).unwrap();
            placed.push(Placed::new(7, offset, bytes.len()).unwrap());
            offset += bytes.len() as u64;
        }
        assert_eq!(placed[1].len(), None, "too long for the length bits");
        let mut buf = Vec::new();
        for (p, bytes) in placed.iter().zip(&rows) {
            p.read(&file, &mut buf).unwrap();
            assert_eq!(&buf, bytes);
        }
        assert!(Placed::new(1, 1 << (64 - LEN_BITS), 10).is_none());
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
