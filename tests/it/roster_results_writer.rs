//! The results writer end to end: header, arrival order, quoting and neutralisation read back
//! by the csv crate, many senders, idle flushing (a killed run leaves valid CSV), counts.

use std::time::Duration;

use bulk_groups::report::{
    GroupStatus, RESULTS_HEADER, ResultRow, ResultsFormat, ResultsTarget, ResultsWriter, Status,
};
use bulk_groups::roster::Role;

fn row(line: u64, username: &str, status: Status, reason: &str) -> ResultRow {
    ResultRow {
        line: Some(line),
        group: "GIS 101, \"Fall\"".to_owned(),
        group_id: Some("0123456789abcdef0123456789abcdef".to_owned()),
        group_status: Some(GroupStatus::Created),
        username: username.to_owned(),
        role: Some(Role::Member),
        status,
        reason: reason.to_owned(),
        portal_username: None,
    }
}

fn read_back(path: &std::path::Path) -> Vec<Vec<String>> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(path)
        .unwrap();
    r.records()
        .map(|rec| rec.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

#[tokio::test]
async fn writes_header_rows_in_order_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.results.csv");
    std::fs::write(&path, "stale content that must be truncated\n".repeat(100)).unwrap();
    let (tx, task) =
        ResultsWriter::create(ResultsTarget::Path(path.clone()), ResultsFormat::CSV).unwrap();
    tx.send(row(2, "alice", Status::Added, ""));
    tx.send(row(
        3,
        "=HYPERLINK(\"x\")",
        Status::NotAdded,
        "user does not exist in this portal",
    ));
    tx.send(row(4, "bob", Status::Invalid, "-5 is not a username"));
    drop(tx);
    let counts = task.finish().await.unwrap().counts;
    assert_eq!(counts.total(), 3);
    assert_eq!(counts.get(Status::Added), 1);
    assert_eq!(counts.attention_rows(), 2);
    assert_eq!(counts.groups(GroupStatus::Created), 1);

    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with(&format!("{RESULTS_HEADER}\r\n")), "{text}");
    assert!(text.ends_with("\r\n"));
    let rows = read_back(&path);
    assert_eq!(rows.len(), 4);
    assert_eq!(
        rows[1],
        [
            "2",
            "GIS 101, \"Fall\"",
            "0123456789abcdef0123456789abcdef",
            "created",
            "alice",
            "member",
            "added",
            "",
            ""
        ]
    );
    assert_eq!(rows[2][4], "'=HYPERLINK(\"x\")");
    assert_eq!(rows[3][7], "'-5 is not a username");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_senders_lose_no_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.csv");
    let (tx, task) =
        ResultsWriter::create(ResultsTarget::Path(path.clone()), ResultsFormat::CSV).unwrap();
    let mut handles = Vec::new();
    for t in 0..8u64 {
        let tx = tx.clone();
        handles.push(tokio::spawn(async move {
            for i in 0..2_000u64 {
                tx.send(row(t * 10_000 + i, "u", Status::Added, ""));
                if i % 500 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        }));
    }
    // Synchronous code can send too.
    let sync_tx = tx.clone();
    std::thread::spawn(move || {
        sync_tx.send(row(
            999_999,
            "sync",
            Status::Duplicate,
            "duplicate of line 1",
        ))
    })
    .join()
    .unwrap();
    drop(tx);
    for h in handles {
        h.await.unwrap();
    }
    let counts = task.finish().await.unwrap().counts;
    assert_eq!(counts.total(), 16_001);
    let rows = read_back(&path);
    assert_eq!(rows.len(), 16_002);
    let mut lines: Vec<u64> = rows[1..].iter().map(|r| r[0].parse().unwrap()).collect();
    lines.sort_unstable();
    lines.dedup();
    assert_eq!(lines.len(), 16_001, "no row twice, none lost");
}

#[test]
fn rows_are_on_disk_while_the_run_is_still_going() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.csv");
    let (tx, task) =
        ResultsWriter::create(ResultsTarget::Path(path.clone()), ResultsFormat::CSV).unwrap();
    tx.send(row(2, "alice", Status::Added, ""));
    tx.send(row(3, "bob", Status::Added, "multi\nline"));
    // The writer flushes as soon as it is idle; give it a moment, then read the file as a
    // reader would after `kill -9`.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let rows = read_back(&path);
        if rows.len() == 3 {
            assert_eq!(rows[2][7], "multi\nline");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "rows not flushed: {rows:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(tx);
    assert_eq!(task.finish_blocking().unwrap().counts.total(), 2);
}

#[test]
fn unwritable_target_fails_at_create() {
    let dir = tempfile::tempdir().unwrap();
    let err = ResultsWriter::create(
        ResultsTarget::Path(dir.path().join("no/such/dir/r.csv")),
        ResultsFormat::CSV,
    )
    .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
}

#[test]
fn write_errors_surface_at_finish() {
    struct Failing;
    impl std::io::Write for Failing {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if buf.starts_with(b"line,") {
                Ok(buf.len())
            } else {
                Err(std::io::Error::other("disk full"))
            }
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let (tx, task) = ResultsWriter::create_with(Box::new(Failing), ResultsFormat::CSV).unwrap();
    for i in 0..10 {
        tx.send(row(i, "u", Status::Added, ""));
    }
    drop(tx);
    let err = task.finish_blocking().unwrap_err();
    assert_eq!(err.to_string(), "disk full");
    // Every row sent is still counted: the summary must say what was done on the portal.
    assert_eq!(err.tally.counts.total(), 10);
    assert_eq!(err.tally.counts.get(Status::Added), 10);
}
