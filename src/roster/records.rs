//! A small RFC 4180 tokenizer that knows physical line numbers.
//!
//! Why not `csv::Reader`: its `Position::line()` counts only `\n` bytes and is taken before
//! skipped blank lines, so it is wrong for CR-only files, off by one after CRLF blank lines and
//! wrong after blank lines in general (checked against csv 1.4; see the tests below). The spec
//! needs the physical line on which each record starts, so this tokenizer counts every line
//! terminator itself: `\r\n`, `\n` and a lone `\r` each end one line, inside quotes too.
//!
//! Semantics (compatible with the csv crate on well-formed input; see the property test):
//! - empty lines are skipped;
//! - a `"` at the start of a field (after optional spaces/tabs) opens a quoted field; `""`
//!   inside it is a literal quote; text after the closing quote is kept literally (lenient);
//! - a quoted field still open at end of input ends the record, flagged `unterminated_quote`;
//! - a record longer than [`MAX_RECORD_BYTES`] keeps being scanned to its end but its content is
//!   dropped (flagged `truncated`), so one runaway quote cannot make memory grow with the file;
//! - likewise a record of more than [`MAX_RECORD_FIELDS`] fields keeps no field boundaries beyond
//!   that (flagged `too_many_fields`): a line of commas holds no bytes but one offset per field.
//!
//! Bytes are not interpreted beyond the delimiter, `"`, CR and LF: UTF-8 validation is the
//! reader's business, per row.

use std::io::{self, Read};

/// A record larger than this is reported as invalid instead of being held in memory.
pub(crate) const MAX_RECORD_BYTES: usize = 1 << 20;

/// A record with more fields than this is reported as invalid (a header: refused). Far above
/// any real export's width, far below what would cost memory (8 bytes per field).
pub(crate) const MAX_RECORD_FIELDS: usize = 10_000;

const BUF_SIZE: usize = 64 * 1024;

/// One record: its fields (as byte ranges of one buffer) and where it starts.
#[derive(Debug, Default)]
pub(crate) struct RawRecord {
    /// All field contents, concatenated.
    pub(crate) data: Vec<u8>,
    /// End offset in `data` of each field.
    pub(crate) ends: Vec<usize>,
    /// The physical line on which the record starts (1-based).
    pub(crate) line: u64,
    /// A quoted field was still open at end of input.
    pub(crate) unterminated_quote: bool,
    /// The record exceeded [`MAX_RECORD_BYTES`]; its content is incomplete.
    pub(crate) truncated: bool,
    /// The record had more than [`MAX_RECORD_FIELDS`] fields; only the first ones are kept.
    pub(crate) too_many_fields: bool,
}

impl RawRecord {
    pub(crate) fn clear(&mut self) {
        self.data.clear();
        self.ends.clear();
        self.unterminated_quote = false;
        self.truncated = false;
        self.too_many_fields = false;
    }

    /// Number of fields.
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    /// The byte range of field `i` within `data`.
    pub(crate) fn range(&self, i: usize) -> std::ops::Range<usize> {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        start..self.ends[i]
    }

    /// Append a whole field (records that do not come from CSV text: spreadsheets).
    pub(crate) fn push_field(&mut self, bytes: &[u8]) {
        self.push(bytes);
        self.end_field();
    }

    /// The raw bytes of field `i`.
    pub(crate) fn field(&self, i: usize) -> &[u8] {
        &self.data[self.range(i)]
    }

    #[inline]
    fn push(&mut self, bytes: &[u8]) {
        if self.data.len() + bytes.len() <= MAX_RECORD_BYTES {
            self.data.extend_from_slice(bytes);
        } else {
            self.truncated = true;
        }
    }

    fn end_field(&mut self) {
        if self.ends.len() < MAX_RECORD_FIELDS {
            self.ends.push(self.data.len());
        } else {
            self.too_many_fields = true;
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a field, nothing read yet.
    StartField,
    /// In an unquoted field (or after a closing quote, if `quoted` is set).
    Unquoted,
    /// Inside quotes.
    Quoted,
    /// Just read a `"` inside quotes: either `""` or the closing quote.
    QuoteInQuoted,
}

/// Streams records out of a byte source, counting physical lines.
pub(crate) struct RecordReader {
    inner: Box<dyn Read + Send>,
    buf: Box<[u8]>,
    pos: usize,
    end: usize,
    eof: bool,
    /// The physical line the next unread byte is on.
    line: u64,
    /// The last byte consumed was a CR: a following LF belongs to the same line terminator.
    after_cr: bool,
    delimiter: u8,
}

impl RecordReader {
    pub(crate) fn new(inner: Box<dyn Read + Send>) -> Self {
        RecordReader {
            inner,
            buf: vec![0; BUF_SIZE].into_boxed_slice(),
            pos: 0,
            end: 0,
            eof: false,
            line: 1,
            after_cr: false,
            delimiter: b',',
        }
    }

    pub(crate) fn set_delimiter(&mut self, delimiter: u8) {
        self.delimiter = delimiter;
    }

    /// Buffer the start of the input until it holds a line terminator (or the buffer is full, or
    /// the input ends) and return it, without consuming anything: for delimiter detection.
    pub(crate) fn peek_head(&mut self) -> io::Result<&[u8]> {
        while !self.eof
            && self.end < self.buf.len()
            && !self.buf[self.pos..self.end]
                .iter()
                .any(|&b| b == b'\n' || b == b'\r')
        {
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(&self.buf[self.pos..self.end])
    }

    /// Make sure at least one unread byte is buffered; `false` at end of input.
    #[inline]
    fn fill(&mut self) -> io::Result<bool> {
        if self.pos < self.end {
            return Ok(true);
        }
        while !self.eof {
            match self.inner.read(&mut self.buf) {
                Ok(0) => self.eof = true,
                Ok(n) => {
                    self.pos = 0;
                    self.end = n;
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(false)
    }

    /// Count one terminator byte (CR, or LF not preceded by CR).
    #[inline]
    fn count_terminator(&mut self, b: u8) {
        if b == b'\r' || !self.after_cr {
            self.line += 1;
        }
        self.after_cr = b == b'\r';
    }

    /// Read the next non-empty record into `rec`. `Ok(false)` at end of input.
    // One function on purpose (≈120 lines): it is the byte-at-a-time state machine (quotes,
    // terminators, the byte and field caps) behind `validate`'s millions of rows per second;
    // split, its state would be threaded through calls on the hottest loop of the program.
    pub(crate) fn read_record(&mut self, rec: &mut RawRecord) -> io::Result<bool> {
        rec.clear();
        // Skip blank lines (every terminator still counts).
        loop {
            if !self.fill()? {
                return Ok(false);
            }
            let b = self.buf[self.pos];
            if b == b'\r' || b == b'\n' {
                self.count_terminator(b);
                self.pos += 1;
            } else {
                break;
            }
        }
        self.after_cr = false;
        rec.line = self.line;

        let delim = self.delimiter;
        let mut state = State::StartField;
        // Whether the current field was quoted (disables re-opening quotes after leading blanks).
        let mut quoted = false;
        let mut field_start = 0usize;
        loop {
            if !self.fill()? {
                if state == State::Quoted {
                    rec.unterminated_quote = true;
                }
                rec.end_field();
                return Ok(true);
            }
            match state {
                State::StartField | State::Unquoted => {
                    // Copy the run of ordinary bytes in one go.
                    let chunk = &self.buf[self.pos..self.end];
                    let run = chunk
                        .iter()
                        .position(|&b| b == delim || b == b'\r' || b == b'\n' || b == b'"')
                        .unwrap_or(chunk.len());
                    if run > 0 {
                        rec.push(&chunk[..run]);
                        self.pos += run;
                        state = State::Unquoted;
                        continue;
                    }
                    let b = self.buf[self.pos];
                    self.pos += 1;
                    if b == delim {
                        rec.end_field();
                        field_start = rec.data.len();
                        quoted = false;
                        state = State::StartField;
                    } else if b == b'\r' || b == b'\n' {
                        rec.end_field();
                        self.count_terminator(b);
                        return Ok(true);
                    } else {
                        // A quote: opens a quoted field if only blanks precede it in this field.
                        let blank_so_far = !quoted
                            && !rec.truncated
                            && rec.data[field_start..]
                                .iter()
                                .all(|&c| c == b' ' || c == b'\t');
                        if blank_so_far {
                            rec.data.truncate(field_start);
                            quoted = true;
                            state = State::Quoted;
                        } else {
                            rec.push(b"\"");
                            state = State::Unquoted;
                        }
                    }
                }
                State::Quoted => {
                    let chunk = &self.buf[self.pos..self.end];
                    let run = chunk
                        .iter()
                        .position(|&b| b == b'"' || b == b'\r' || b == b'\n')
                        .unwrap_or(chunk.len());
                    if run > 0 {
                        rec.push(&chunk[..run]);
                        self.pos += run;
                        self.after_cr = false;
                        continue;
                    }
                    let b = self.buf[self.pos];
                    self.pos += 1;
                    if b == b'"' {
                        self.after_cr = false;
                        state = State::QuoteInQuoted;
                    } else {
                        rec.push(&[b]);
                        self.count_terminator(b);
                    }
                }
                State::QuoteInQuoted => {
                    let b = self.buf[self.pos];
                    self.pos += 1;
                    if b == b'"' {
                        rec.push(b"\"");
                        state = State::Quoted;
                    } else if b == delim {
                        rec.end_field();
                        field_start = rec.data.len();
                        quoted = false;
                        state = State::StartField;
                    } else if b == b'\r' || b == b'\n' {
                        rec.end_field();
                        self.count_terminator(b);
                        return Ok(true);
                    } else {
                        // Text after a closing quote: kept literally, as the csv crate does.
                        rec.push(&[b]);
                        state = State::Unquoted;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (line, fields) of every record.
    fn parse(input: &[u8], delim: u8) -> Vec<(u64, Vec<String>)> {
        let mut r = RecordReader::new(Box::new(io::Cursor::new(input.to_vec())));
        r.set_delimiter(delim);
        let mut rec = RawRecord::default();
        let mut out = Vec::new();
        while r.read_record(&mut rec).unwrap() {
            let fields = (0..rec.len())
                .map(|i| String::from_utf8_lossy(rec.field(i)).into_owned())
                .collect();
            out.push((rec.line, fields));
        }
        out
    }

    fn lines(input: &str) -> Vec<u64> {
        parse(input.as_bytes(), b',')
            .into_iter()
            .map(|(l, _)| l)
            .collect()
    }

    #[test]
    fn physical_lines_lf_crlf_cr() {
        assert_eq!(lines("h1,h2\na,b\n\n\nc,d\n"), [1, 2, 5]);
        assert_eq!(lines("h1,h2\r\na,b\r\n\r\nc,d\r\n"), [1, 2, 4]);
        assert_eq!(lines("h1,h2\ra,b\r\rc,d\r"), [1, 2, 4]);
        // Mixed terminators, no final terminator.
        assert_eq!(lines("h\r\na\rb\nc\n\rd"), [1, 2, 3, 4, 6]);
    }

    #[test]
    fn physical_lines_count_newlines_inside_quotes() {
        assert_eq!(lines("h1,h2\n\"x\ny\",b\nc,d\n"), [1, 2, 4]);
        assert_eq!(lines("h1,h2\r\n\"x\r\n\r\ny\",b\r\nc,d\r\n"), [1, 2, 5]);
        assert_eq!(lines("h1,h2\r\"x\r\ry\",b\rc,d"), [1, 2, 5]);
    }

    #[test]
    fn leading_blank_lines_move_the_header() {
        assert_eq!(lines("\n\r\nh\na\n"), [3, 4]);
    }

    #[test]
    fn quoting_rules() {
        let recs = parse(b"a,\"b,c\",\"say \"\"hi\"\"\"\n  \"q\" ,x\"y\n", b',');
        assert_eq!(recs[0].1, ["a", "b,c", "say \"hi\""]);
        assert_eq!(recs[1].1, ["q ", "x\"y"]);
    }

    #[test]
    fn empty_fields_and_trailing_delimiter() {
        let recs = parse(b"a,,b,\n,\n", b',');
        assert_eq!(recs[0].1, ["a", "", "b", ""]);
        assert_eq!(recs[1].1, ["", ""]);
    }

    #[test]
    fn unterminated_quote_is_flagged() {
        let mut r = RecordReader::new(Box::new(io::Cursor::new(b"a,\"b\nc,d\n".to_vec())));
        let mut rec = RawRecord::default();
        assert!(r.read_record(&mut rec).unwrap());
        assert!(rec.unterminated_quote);
        assert_eq!(rec.field(1), b"b\nc,d\n");
        assert!(!r.read_record(&mut rec).unwrap());
    }

    #[test]
    fn huge_record_is_truncated_not_buffered() {
        let mut input = b"h\n\"".to_vec();
        input.extend(std::iter::repeat_n(b'x', MAX_RECORD_BYTES + 10));
        input.extend_from_slice(b"\"\nnext\n");
        let mut r = RecordReader::new(Box::new(io::Cursor::new(input)));
        let mut rec = RawRecord::default();
        assert!(r.read_record(&mut rec).unwrap());
        assert!(r.read_record(&mut rec).unwrap());
        assert!(rec.truncated);
        assert!(rec.data.len() <= MAX_RECORD_BYTES);
        assert!(r.read_record(&mut rec).unwrap());
        assert_eq!(rec.field(0), b"next");
        assert_eq!(rec.line, 3);
    }

    #[test]
    fn a_line_of_commas_keeps_a_bounded_number_of_fields() {
        /// `h\n`, then `n` commas, then `\nnext\n`, generated as read (nothing held).
        struct Commas(u64);
        impl Read for Commas {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let tail = b"\nnext\n";
                if self.0 == u64::MAX {
                    return Ok(0);
                }
                if self.0 == 0 {
                    buf[..tail.len()].copy_from_slice(tail);
                    self.0 = u64::MAX;
                    return Ok(tail.len());
                }
                let n = (buf.len() as u64).min(self.0) as usize;
                buf[..n].fill(b',');
                self.0 -= n as u64;
                Ok(n)
            }
        }
        let mut r = RecordReader::new(Box::new(
            io::Cursor::new(b"h\n".to_vec()).chain(Commas(20 * MAX_RECORD_FIELDS as u64)),
        ));
        let mut rec = RawRecord::default();
        assert!(r.read_record(&mut rec).unwrap());
        assert!(!rec.too_many_fields);
        assert!(r.read_record(&mut rec).unwrap());
        assert!(rec.too_many_fields);
        assert_eq!(rec.len(), MAX_RECORD_FIELDS);
        assert!(
            rec.ends.capacity() <= 2 * MAX_RECORD_FIELDS,
            "memory is bounded"
        );
        assert!(r.read_record(&mut rec).unwrap());
        assert!(!rec.too_many_fields, "the flag is per record");
        assert_eq!((rec.line, rec.field(0)), (3, &b"next"[..]));
    }

    #[test]
    fn csv_crate_line_positions_are_not_physical() {
        // Documents why this module exists: csv 1.4 reports line 1 for every record of a
        // CR-only file.
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(&b"h\ra\rb\r"[..]);
        let mut rec = csv::ByteRecord::new();
        let mut csv_lines = Vec::new();
        while r.read_byte_record(&mut rec).unwrap() {
            csv_lines.push(rec.position().unwrap().line());
        }
        assert_eq!(csv_lines, [1, 1, 1]);
        assert_eq!(lines("h\ra\rb\r"), [1, 2, 3]);
    }

    #[test]
    fn small_reads_give_the_same_records() {
        struct OneByte(Vec<u8>, usize);
        impl Read for OneByte {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.1 >= self.0.len() || buf.is_empty() {
                    return Ok(0);
                }
                buf[0] = self.0[self.1];
                self.1 += 1;
                Ok(1)
            }
        }
        let input = b"h1;h2\r\n\"a;\"\"x\r\n\";b\r\n\r\nc;d\r".to_vec();
        let mut r = RecordReader::new(Box::new(OneByte(input.clone(), 0)));
        r.set_delimiter(b';');
        let mut rec = RawRecord::default();
        let mut got = Vec::new();
        while r.read_record(&mut rec).unwrap() {
            got.push((rec.line, rec.data.clone(), rec.ends.clone()));
        }
        let whole = parse(&input, b';');
        assert_eq!(got.len(), whole.len());
        assert_eq!(got.iter().map(|g| g.0).collect::<Vec<_>>(), [1, 2, 5]);
    }
}
