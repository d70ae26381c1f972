//! What a file that is not a CSV looks like, from its first bytes (product spec §2.4): a roster
//! that is really a zip archive, a PDF or an executable is refused with a one-line message that
//! names what it looks like, instead of being "parsed" into a header of raw bytes.

/// How many leading bytes are examined, at most.
pub(crate) const SNIFF_BYTES: usize = 1024;

/// The longest signature: fewer bytes than this are only examined at the end of the input.
pub(crate) const SIGNATURE_BYTES: usize = 8;

/// What the start of a file looks like, when it is not text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Binary {
    /// `PK\x03\x04`: `.xlsx`, `.xlsm`, `.ods`, `.docx`, `.zip`…
    Zip,
    /// An OLE compound document: `.xls`, `.doc`, `.msg`…
    Ole,
    /// Anything else that is not text.
    Other(&'static str),
}

impl Binary {
    /// Whether a spreadsheet may be inside (a zip or OLE container).
    pub(crate) fn may_be_spreadsheet(self) -> bool {
        matches!(self, Binary::Zip | Binary::Ole)
    }

    /// How messages name it: `a zip archive`.
    pub(crate) fn looks_like(self) -> &'static str {
        match self {
            Binary::Zip => "a zip archive",
            Binary::Ole => "an Office document in the old binary format",
            Binary::Other(what) => what,
        }
    }
}

/// Known signatures, checked in order. (A Windows executable's `MZ` is left to the NUL test: a
/// header may well start with those two letters.)
const SIGNATURES: [(&[u8], Binary); 11] = [
    (b"PK\x03\x04", Binary::Zip),
    (b"PK\x05\x06", Binary::Zip),
    (b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", Binary::Ole),
    (b"%PDF-", Binary::Other("a PDF document")),
    (b"\x1F\x8B", Binary::Other("a gzip archive")),
    (b"BZh", Binary::Other("a bzip2 archive")),
    (b"\xFD7zXZ\x00", Binary::Other("an xz archive")),
    (b"7z\xBC\xAF\x27\x1C", Binary::Other("a 7-Zip archive")),
    (b"\x7FELF", Binary::Other("an executable (ELF)")),
    (b"\x89PNG", Binary::Other("a PNG image")),
    (b"\xFF\xD8\xFF", Binary::Other("a JPEG image")),
];

/// What `head` (the first bytes of a file) looks like, if it is not text.
pub(crate) fn sniff(head: &[u8]) -> Option<Binary> {
    if let Some(&(_, kind)) = SIGNATURES.iter().find(|(sig, _)| head.starts_with(sig)) {
        return Some(kind);
    }
    if head.starts_with(b"\xFF\xFE") || head.starts_with(b"\xFE\xFF") {
        return Some(UTF16);
    }
    if !head.contains(&0) {
        return None;
    }
    // ASCII text as UTF-16 without a BOM: every other byte is NUL.
    let pairs = || head.chunks_exact(2).take(64);
    let utf16 = head.len() >= 4
        && (pairs().all(|p| p[1] == 0 && p[0] != 0) || pairs().all(|p| p[0] == 0 && p[1] != 0));
    Some(if utf16 {
        UTF16
    } else {
        Binary::Other("binary data (it holds NUL bytes)")
    })
}

const UTF16: Binary =
    Binary::Other("UTF-16 text; save it as CSV UTF-8, or CSV with --encoding windows-1252");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_formats_are_recognised() {
        assert_eq!(sniff(b"PK\x03\x04\x14\x00"), Some(Binary::Zip));
        assert_eq!(
            sniff(b"%PDF-1.7\n").map(Binary::looks_like),
            Some("a PDF document")
        );
        assert_eq!(
            sniff(b"\x7FELF\x02\x01").map(Binary::looks_like),
            Some("an executable (ELF)")
        );
        assert_eq!(
            sniff(b"\x1F\x8B\x08\x00").map(Binary::looks_like),
            Some("a gzip archive")
        );
        assert!(sniff(b"group,username\n\0").is_some());
        assert!(
            sniff(b"\xFF\xFEg\0r\0")
                .unwrap()
                .looks_like()
                .contains("UTF-16")
        );
        assert_eq!(sniff(b"g\0r\0o\0u\0p\0,\0"), Some(UTF16));
        assert_eq!(sniff(b"\0g\0r\0o\0u\0p"), Some(UTF16));
        assert_eq!(
            sniff(b"gr\0\0up"),
            Some(Binary::Other("binary data (it holds NUL bytes)"))
        );
    }

    #[test]
    fn text_is_not_binary() {
        assert_eq!(sniff(b"group,username\nGIS,amy\n"), None);
        assert_eq!(sniff(b"\xEF\xBB\xBFgroup;user\n"), None);
        assert_eq!(sniff(b"Gruppe;Benutzer\nK\xfcche;m\xfcller\n"), None);
        assert_eq!(sniff(b""), None);
        // Signatures only count at the very start.
        assert_eq!(sniff(b"group\nBZh\n"), None);
    }
}
