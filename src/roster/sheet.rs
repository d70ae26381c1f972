//! Spreadsheet rosters (`.xlsx`, `.xlsm`, `.xls`, `.ods`; product spec §2.4), read with
//! `calamine` and handed to the reader as the same records a CSV gives: one record per
//! non-empty row, numbered as the spreadsheet numbers its rows, cells written as a person sees
//! them (`42`, not `42.0`; dates `2026-01-31`).
//!
//! Unlike a CSV, a workbook is read whole (its formats need random access), so its size is
//! capped: [`MAX_SPREADSHEET_BYTES`].

use std::io::{self, Cursor, Read};

use calamine::{Data, Range, Reader};

use super::records::RawRecord;

/// The largest spreadsheet read (it is held in memory, and expands several-fold once parsed).
pub(crate) const MAX_SPREADSHEET_BYTES: u64 = 64 << 20;

/// File extensions read as spreadsheets.
pub(crate) const EXTENSIONS: [&str; 4] = ["xlsx", "xlsm", "xls", "ods"];

/// The rows of one worksheet, as records.
pub(crate) struct SheetRows {
    range: Range<Data>,
    /// The next row of `range` to hand out.
    next: usize,
    /// The spreadsheet row number of `range`'s first row, minus one.
    first_row: u64,
    /// The header's width (its last non-empty cell), once the header is read.
    width: Option<usize>,
    /// The sheet read.
    pub(crate) name: String,
}

/// Read `input` whole (at most [`MAX_SPREADSHEET_BYTES`]) and open worksheet `sheet`: a name
/// (case-insensitive) or a 1-based position; the first sheet when `None`. The error is a
/// sentence for the user.
pub(crate) fn open(input: &mut dyn Read, sheet: Option<&str>) -> Result<SheetRows, String> {
    let bytes = read_capped(input, MAX_SPREADSHEET_BYTES)?;
    let mut book = calamine::open_workbook_auto_from_rs(Cursor::new(bytes))
        .map_err(|e| format!("not a spreadsheet calamine can read ({e})"))?;
    let names = book.sheet_names();
    let name = match sheet {
        None => names.first().cloned().ok_or("the workbook has no sheet")?,
        Some(wanted) => names
            .iter()
            .find(|n| n.to_lowercase() == wanted.trim().to_lowercase())
            .or_else(|| {
                let n: usize = wanted.trim().parse().ok()?;
                names.get(n.checked_sub(1)?)
            })
            .cloned()
            .ok_or_else(|| {
                format!(
                    "no sheet '{}' (by name or number); it has: {}",
                    super::header::escape_controls(wanted),
                    super::header::quoted_list(&names)
                )
            })?,
    };
    let range = book
        .worksheet_range(&name)
        .map_err(|e| format!("cannot read sheet '{name}': {e}"))?;
    Ok(SheetRows {
        first_row: range.start().map_or(0, |(row, _)| u64::from(row)),
        range,
        next: 0,
        width: None,
        name,
    })
}

/// All of `input`, unless it is longer than `cap` bytes.
fn read_capped(input: &mut dyn Read, cap: u64) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    input
        .take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > cap {
        return Err(format!(
            "it is larger than {} MiB; a spreadsheet is read whole, so save it as CSV (which is streamed)",
            cap >> 20
        ));
    }
    Ok(bytes)
}

impl SheetRows {
    /// The next non-empty row as a record; `Ok(false)` after the last one.
    pub(crate) fn read_record(&mut self, rec: &mut RawRecord) -> io::Result<bool> {
        let mut text = String::new();
        let (height, columns) = self.range.get_size();
        while self.next < height {
            let index = self.next;
            self.next += 1;
            let cell = |i: usize| self.range.get((index, i)).unwrap_or(&Data::Empty);
            let Some(filled) = (0..columns)
                .rposition(|i| !is_blank(cell(i)))
                .map(|l| l + 1)
            else {
                continue;
            };
            // The header sets the width; a row with a value beyond it stays wider (ragged).
            let width = *self.width.get_or_insert(filled);
            rec.clear();
            rec.line = self.first_row + index as u64 + 1;
            for i in 0..width.max(filled) {
                text.clear();
                cell_text(cell(i), &mut text);
                rec.push_field(text.as_bytes());
            }
            return Ok(true);
        }
        Ok(false)
    }
}

fn is_blank(cell: &Data) -> bool {
    match cell {
        Data::Empty => true,
        Data::String(s) => s.trim().is_empty(),
        _ => false,
    }
}

/// A cell as a person sees it: integers without `.0`, 15 significant digits (as spreadsheet
/// programs show), booleans `TRUE`/`FALSE`, dates `2026-01-31` (with ` 08:30:00` when they have
/// a time of day), durations and times of day `08:30:00`.
fn cell_text(cell: &Data, out: &mut String) {
    use std::fmt::Write;
    match cell {
        Data::Empty => {}
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => out.push_str(s),
        Data::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Data::Float(f) => {
            // Round to 15 significant digits, then print the shortest form: 0.1 + 0.2 is 0.3.
            let shown: f64 = format!("{f:.14e}").parse().unwrap_or(*f);
            let _ = write!(out, "{shown}");
        }
        Data::Bool(b) => out.push_str(if *b { "TRUE" } else { "FALSE" }),
        Data::Error(e) => {
            let _ = write!(out, "{e}");
        }
        Data::DateTime(dt) => {
            let serial = dt.as_f64();
            if dt.is_duration() || (0.0..1.0).contains(&serial) {
                let seconds = (serial * 86_400.0).round() as i64;
                let _ = write!(
                    out,
                    "{:02}:{:02}:{:02}",
                    seconds / 3600,
                    seconds / 60 % 60,
                    seconds % 60
                );
            } else {
                let (y, mo, d, h, mi, s, _) = dt.to_ymd_hms_milli();
                let _ = write!(out, "{y:04}-{mo:02}-{d:02}");
                if (h, mi, s) != (0, 0, 0) {
                    let _ = write!(out, " {h:02}:{mi:02}:{s:02}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use calamine::{CellErrorType, ExcelDateTime, ExcelDateTimeType};

    fn text(cell: Data) -> String {
        let mut out = String::new();
        cell_text(&cell, &mut out);
        out
    }

    #[test]
    fn cells_read_as_a_person_sees_them() {
        assert_eq!(text(Data::Float(42.0)), "42");
        assert_eq!(text(Data::Float(0.1 + 0.2)), "0.3");
        assert_eq!(text(Data::Float(2.5)), "2.5");
        assert_eq!(text(Data::Int(-7)), "-7");
        assert_eq!(text(Data::Bool(true)), "TRUE");
        assert_eq!(text(Data::Error(CellErrorType::NA)), "#N/A");
        let date = |v, kind| Data::DateTime(ExcelDateTime::new(v, kind, false));
        // 46053 is 2026-01-31 in the 1900 date system.
        assert_eq!(
            text(date(46053.0, ExcelDateTimeType::DateTime)),
            "2026-01-31"
        );
        assert_eq!(
            text(date(46053.25, ExcelDateTimeType::DateTime)),
            "2026-01-31 06:00:00"
        );
        assert_eq!(text(date(0.5, ExcelDateTimeType::DateTime)), "12:00:00");
        assert_eq!(text(date(1.5, ExcelDateTimeType::TimeDelta)), "36:00:00");
        assert_eq!(text(Data::DateTimeIso("2026-01-31".into())), "2026-01-31");
    }

    #[test]
    fn the_size_cap_is_a_sentence() {
        let cap = 2 << 20;
        assert_eq!(
            read_capped(&mut io::repeat(b'x').take(cap), cap)
                .unwrap()
                .len(),
            cap as usize
        );
        let err = read_capped(&mut io::repeat(b'x').take(cap + 1), cap).unwrap_err();
        assert_eq!(
            err,
            "it is larger than 2 MiB; a spreadsheet is read whole, so save it as CSV (which is streamed)"
        );
    }

    #[test]
    fn garbage_is_not_a_spreadsheet() {
        let err = open(&mut &b"PK\x03\x04 not really"[..], None)
            .err()
            .unwrap();
        assert!(err.contains("not a spreadsheet"), "{err}");
    }
}
