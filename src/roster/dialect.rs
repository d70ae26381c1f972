//! The byte-level decisions taken before any CSV parsing (product spec §2.1): the UTF-8 BOM,
//! the `--encoding` transcoding, delimiter detection from the header line, and the byte counter
//! that feeds the progress bar.
//!
//! The encoding is never guessed: `utf-8` unless the user says `windows-1252`. Rows that are not
//! valid UTF-8 are reported per row by the reader, not here.

use std::fmt;
use std::io::{self, Read};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The character encoding of a roster (`--encoding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Encoding {
    /// UTF-8, with or without a BOM (the default).
    #[default]
    Utf8,
    /// Windows-1252 ("ANSI" exports of Western-European Excel); decoded to UTF-8 as read.
    Windows1252,
}

impl Encoding {
    /// The spelling used on the command line and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Utf8 => "utf-8",
            Encoding::Windows1252 => "windows-1252",
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Encoding {
    type Err = String;

    /// Accepts `utf-8` and `windows-1252` (case-insensitive), plus the common spellings
    /// `utf8`, `cp1252` and `win1252`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "utf-8" | "utf8" => Ok(Encoding::Utf8),
            "windows-1252" | "windows1252" | "cp1252" | "win1252" => Ok(Encoding::Windows1252),
            other => Err(format!(
                "unknown encoding '{other}': use utf-8 or windows-1252"
            )),
        }
    }
}

/// What was detected (or imposed) about a roster's bytes; shown in the start line and reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Dialect {
    /// Whether the input started with a UTF-8 byte-order mark (stripped, not a line).
    pub bom: bool,
    /// The field delimiter.
    pub delimiter: u8,
    /// The encoding the input was decoded with.
    pub encoding: Encoding,
}

impl Dialect {
    /// The delimiter as a human reads it: `','`, `';'`, `'|'` or `TAB`.
    pub fn delimiter_name(&self) -> String {
        delimiter_name(self.delimiter)
    }
}

/// A delimiter as a human reads it: `','`, `';'`, `'|'` or `TAB`.
pub fn delimiter_name(delimiter: u8) -> String {
    match delimiter {
        b'\t' => "TAB".to_owned(),
        d if d.is_ascii_graphic() || d == b' ' => format!("'{}'", d as char),
        d => format!("0x{d:02x}"),
    }
}

impl fmt::Display for Dialect {
    /// e.g. `utf-8, BOM, delimiter ';'` or `windows-1252, no BOM, delimiter TAB`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}, {}, delimiter {}",
            self.encoding,
            if self.bom { "BOM" } else { "no BOM" },
            self.delimiter_name()
        )
    }
}

/// The delimiters detection chooses among, in tie-break order.
pub const DELIMITER_CANDIDATES: [u8; 4] = [b',', b';', b'\t', b'|'];

/// Parse a `--delimiter` value: a single ASCII character, or `tab` / `\t` for TAB.
/// Quotes, CR, LF and alphanumerics are refused (they cannot work as delimiters).
pub fn parse_delimiter(s: &str) -> Result<u8, String> {
    let byte = match s {
        "\\t" | "\t" => b'\t',
        t if t.eq_ignore_ascii_case("tab") => b'\t',
        t if t.len() == 1 && t.is_ascii() => t.as_bytes()[0],
        _ => {
            return Err(format!(
                "delimiter must be a single ASCII character or 'tab', got '{s}'"
            ));
        }
    };
    if byte == b'"' || byte == b'\r' || byte == b'\n' || byte.is_ascii_alphanumeric() {
        return Err(format!("'{s}' cannot be used as a delimiter"));
    }
    Ok(byte)
}

/// Pick the delimiter of a header line: the candidate occurring most often outside quotes
/// (ties go to the earlier candidate in [`DELIMITER_CANDIDATES`]; none at all means `,`).
/// `head` may run past the header line; scanning stops at its first line terminator outside
/// quotes.
pub(crate) fn detect_delimiter(head: &[u8]) -> u8 {
    let mut counts = [0usize; DELIMITER_CANDIDATES.len()];
    let mut in_quotes = false;
    for &b in head {
        match b {
            b'"' => in_quotes = !in_quotes,
            b'\r' | b'\n' if !in_quotes => break,
            _ if !in_quotes => {
                if let Some(i) = DELIMITER_CANDIDATES.iter().position(|&c| c == b) {
                    counts[i] += 1;
                }
            }
            _ => {}
        }
    }
    let mut best = 0;
    for i in 1..counts.len() {
        if counts[i] > counts[best] {
            best = i;
        }
    }
    DELIMITER_CANDIDATES[best]
}

/// Counts the raw bytes read from the input into a shared counter (the progress bar's "bytes of
/// the roster read").
pub(crate) struct CountingReader<R> {
    inner: R,
    counter: Arc<AtomicU64>,
}

impl<R> CountingReader<R> {
    pub(crate) fn new(inner: R, counter: Arc<AtomicU64>) -> Self {
        CountingReader { inner, counter }
    }
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        // Relaxed: the counter is a progress indication, nothing synchronises on it.
        self.counter.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Read up to three bytes and strip a UTF-8 BOM. Returns whether a BOM was present and a reader
/// that yields everything after it (the peeked bytes included when they were not a BOM).
pub(crate) fn strip_bom(
    mut input: Box<dyn Read + Send>,
) -> io::Result<(bool, Box<dyn Read + Send>)> {
    let mut head = [0u8; 3];
    let mut n = 0;
    while n < head.len() {
        match input.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    if n == 3 && head == [0xEF, 0xBB, 0xBF] {
        Ok((true, input))
    } else {
        Ok((
            false,
            Box::new(io::Cursor::new(head[..n].to_vec()).chain(input)),
        ))
    }
}

/// Transcodes a Windows-1252 byte stream to UTF-8 on the fly (encoding_rs), so that the rest of
/// the reader only ever sees UTF-8. Windows-1252 decoding cannot fail: every byte maps.
pub(crate) struct DecodingReader<R> {
    inner: R,
    decoder: encoding_rs::Decoder,
    input: Box<[u8]>,
    in_start: usize,
    in_end: usize,
    output: Box<[u8]>,
    out_start: usize,
    out_end: usize,
    eof: bool,
    finished: bool,
}

impl<R: Read> DecodingReader<R> {
    pub(crate) fn windows_1252(inner: R) -> Self {
        DecodingReader {
            inner,
            // No BOM sniffing: the encoding is what the user said (a UTF-8 BOM was already
            // stripped by `strip_bom`).
            decoder: encoding_rs::WINDOWS_1252.new_decoder_without_bom_handling(),
            input: vec![0; 32 * 1024].into_boxed_slice(),
            in_start: 0,
            in_end: 0,
            // Worst case 3 output bytes per input byte.
            output: vec![0; 96 * 1024 + 16].into_boxed_slice(),
            out_start: 0,
            out_end: 0,
            eof: false,
            finished: false,
        }
    }
}

impl<R: Read> Read for DecodingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.out_start < self.out_end {
                let n = buf.len().min(self.out_end - self.out_start);
                buf[..n].copy_from_slice(&self.output[self.out_start..self.out_start + n]);
                self.out_start += n;
                return Ok(n);
            }
            if self.finished {
                return Ok(0);
            }
            if self.in_start == self.in_end && !self.eof {
                match self.inner.read(&mut self.input) {
                    Ok(0) => self.eof = true,
                    Ok(n) => {
                        self.in_start = 0;
                        self.in_end = n;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            }
            let (result, read, written, _) = self.decoder.decode_to_utf8(
                &self.input[self.in_start..self.in_end],
                &mut self.output,
                self.eof,
            );
            self.in_start += read;
            self.out_start = 0;
            self.out_end = written;
            if self.eof
                && self.in_start == self.in_end
                && result == encoding_rs::CoderResult::InputEmpty
            {
                self.finished = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_candidate() {
        assert_eq!(detect_delimiter(b"group,username,role\n"), b',');
        assert_eq!(detect_delimiter(b"Group Name;User Name;Role\r\n"), b';');
        assert_eq!(detect_delimiter(b"group\tusername\n"), b'\t');
        assert_eq!(detect_delimiter(b"group|username|role"), b'|');
    }

    #[test]
    fn detection_ignores_quoted_text_and_later_lines() {
        assert_eq!(detect_delimiter(b"\"a,b,c\";user;role\nx,y,z,w,v\n"), b';');
        assert_eq!(detect_delimiter(b"username\na;b;c;d\n"), b',');
    }

    #[test]
    fn detection_breaks_ties_in_candidate_order() {
        assert_eq!(detect_delimiter(b"a,b;c\n"), b',');
        assert_eq!(detect_delimiter(b"a|b;c\n"), b';');
    }

    #[test]
    fn parses_delimiter_option() {
        assert_eq!(parse_delimiter(";"), Ok(b';'));
        assert_eq!(parse_delimiter("tab"), Ok(b'\t'));
        assert_eq!(parse_delimiter("\\t"), Ok(b'\t'));
        assert!(parse_delimiter("\"").is_err());
        assert!(parse_delimiter("ab").is_err());
        assert!(parse_delimiter("a").is_err());
    }

    #[test]
    fn encoding_from_str() {
        assert_eq!("UTF-8".parse::<Encoding>(), Ok(Encoding::Utf8));
        assert_eq!(
            "windows-1252".parse::<Encoding>(),
            Ok(Encoding::Windows1252)
        );
        assert!("latin9".parse::<Encoding>().is_err());
    }

    #[test]
    fn dialect_display() {
        let d = Dialect {
            bom: true,
            delimiter: b';',
            encoding: Encoding::Utf8,
        };
        assert_eq!(d.to_string(), "utf-8, BOM, delimiter ';'");
        let d = Dialect {
            bom: false,
            delimiter: b'\t',
            encoding: Encoding::Windows1252,
        };
        assert_eq!(d.to_string(), "windows-1252, no BOM, delimiter TAB");
    }

    #[test]
    fn strips_bom_only_when_present() {
        let (bom, mut r) = strip_bom(Box::new(&b"\xEF\xBB\xBFab"[..])).unwrap();
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert!(bom);
        assert_eq!(s, "ab");
        let (bom, mut r) = strip_bom(Box::new(&b"ab"[..])).unwrap();
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert!(!bom);
        assert_eq!(s, "ab");
    }

    #[test]
    fn decodes_windows_1252_across_small_reads() {
        let bytes: Vec<u8> = b"Ren\xe9e;Jos\xe9 \x80 M\xfcller".repeat(5000);
        let mut r = DecodingReader::windows_1252(&bytes[..]);
        let mut out = Vec::new();
        let mut small = [0u8; 7];
        loop {
            let n = r.read(&mut small).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&small[..n]);
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "Renée;José € Müller".repeat(5000)
        );
    }
}
