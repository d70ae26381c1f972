//! Properties of the roster reader:
//! - arbitrary bytes never panic it (UTF-8 and Windows-1252);
//! - records written by the csv crate (any delimiter, any line end, blank lines between them)
//!   come back as exactly one `Row` per non-blank record, at the physical line where the
//!   record starts, with the same cell contents.

use std::io::Cursor;

use bulk_groups::roster::{Encoding, GroupRef, RosterOptions, RosterReader, RowKind};
use proptest::prelude::*;

fn options(encoding: Encoding) -> RosterOptions {
    RosterOptions {
        encoding,
        ..Default::default()
    }
}

/// Bytes biased towards the ones CSV cares about.
fn csv_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::sample::select(b"ab ,;|\t\"\r\n".to_vec()),
            1 => any::<u8>(),
            1 => prop::sample::select(vec![0xC3u8, 0xA9, 0xFF, 0xEF, 0xBB, 0xBF]),
        ],
        0..600,
    )
}

/// A cell: mostly printable, sometimes with delimiters, quotes, line ends, blanks, non-ASCII.
fn cell() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            6 => prop::sample::select(vec!['a', 'b', 'Z', '1', '.', '_', '@']),
            1 => prop::sample::select(vec![',', ';', '|', '\t', '"', '\r', '\n', ' ', 'é', '€', '=']),
        ],
        0..8,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

fn trim_blank(s: &str) -> &str {
    s.trim()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(body in csv_bytes(), header in 0usize..3, cp1252 in any::<bool>()) {
        let head: &[u8] = match header {
            0 => b"group,username,role\n",
            1 => b"\xEF\xBB\xBFGroup Name;User Name;Role;access\r\n",
            _ => b"",
        };
        let mut input = head.to_vec();
        input.extend_from_slice(&body);
        let encoding = if cp1252 { Encoding::Windows1252 } else { Encoding::Utf8 };
        if let Ok(reader) = RosterReader::from_reader(Box::new(Cursor::new(input)), &options(encoding)) {
            let mut last = 0;
            for row in reader {
                prop_assert!(row.line > last, "lines increase");
                last = row.line;
            }
        }
    }

    #[test]
    fn one_row_per_record_at_its_physical_line(
        records in prop::collection::vec(
            (cell(), cell(), prop::sample::select(vec!["", "admin", "member"]), 0usize..3, 0usize..3),
            0..25,
        ),
        delimiter in prop::sample::select(vec![b',', b';', b'\t', b'|']),
        terminator in prop::sample::select(vec![&b"\n"[..], &b"\r\n"[..], &b"\r"[..]]),
    ) {
        let term = match terminator {
            b"\r\n" => csv::Terminator::CRLF,
            t => csv::Terminator::Any(t[0]),
        };
        let mut input = Vec::new();
        let mut expected = Vec::new(); // (line, group, username) of non-blank records
        let write = |fields: &[&str], out: &mut Vec<u8>| {
            let mut w = csv::WriterBuilder::new()
                .delimiter(delimiter)
                .terminator(term)
                .quote_style(csv::QuoteStyle::Necessary)
                .from_writer(Vec::new());
            w.write_record(fields).unwrap();
            out.extend_from_slice(&w.into_inner().unwrap());
        };
        write(&["group", "username", "role"], &mut input);
        for (group, user, role, blanks, width) in &records {
            for _ in 0..*blanks {
                input.extend_from_slice(terminator);
            }
            let line = 1 + count_lines(&input);
            let mut fields = vec![group.as_str(), user.as_str(), role];
            match width {
                0 => {}
                1 => { fields.pop(); }
                _ => fields.push("extra"),
            }
            write(&fields, &mut input);
            let blank = fields.iter().all(|f| f.bytes().all(|b| b == b' ' || b == b'\t'));
            if !blank {
                expected.push((line, group.clone(), user.clone(), fields.len() == 3));
            }
        }
        let reader = RosterReader::from_reader(
            Box::new(Cursor::new(input.clone())),
            &RosterOptions { delimiter: Some(delimiter), ..Default::default() },
        ).unwrap();
        let rows: Vec<_> = reader.collect();
        prop_assert_eq!(rows.len(), expected.len(), "input: {:?}", String::from_utf8_lossy(&input));
        for (row, (line, group, user, full)) in rows.iter().zip(&expected) {
            prop_assert_eq!(row.line, *line, "input: {:?}", String::from_utf8_lossy(&input));
            match &row.kind {
                RowKind::Membership(m) | RowKind::Duplicate { membership: m, .. } => {
                    prop_assert!(*full, "a ragged row must be invalid");
                    prop_assert_eq!(&m.username, trim_blank(user));
                    let collapsed = group.split_whitespace().collect::<Vec<_>>().join(" ");
                    prop_assert_eq!(&m.group, &GroupRef::Title(collapsed));
                }
                RowKind::Invalid { username, .. } => {
                    if *full {
                        prop_assert_eq!(username.as_str(), trim_blank(user));
                    }
                }
            }
        }
    }
}

/// Physical lines ended so far: `\r\n`, `\r` and `\n` each end one line.
fn count_lines(bytes: &[u8]) -> u64 {
    let mut n = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\r' => {
                n += 1;
                if bytes.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
            }
            b'\n' => n += 1,
            _ => {}
        }
        i += 1;
    }
    n
}
