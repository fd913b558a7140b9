//! The CSV plumbing of `gridsleuth eval`'s two inputs: a [`Table`] (header resolved, columns found
//! by name: exact, then case-insensitive), [`for_each_row`] (line and data-row numbers, meter ids
//! present and unique), the cell parsers, and [`Cell`], which turns a bad cell into an
//! [`EvalError::BadValue`] naming the file, line, data row and column.
//!
//! Cells are trimmed. "No value" follows pandas' `read_csv` (empty, `NaN`, `NA`, `null`, ...), so a
//! cell means the same here as in the peers' `metrics.py`.

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, Utc};

use super::error::EvalError;

/// Tokens pandas' `read_csv` reads as NaN (its default `na_values`, lower-cased): a score written
/// as one of these is "not scored", exactly as `metrics.py` sees it.
const NA_TOKENS: [&str; 10] = [
    "", "nan", "-nan", "na", "n/a", "#n/a", "<na>", "null", "none", "#na",
];

/// A CSV opened with its header resolved.
pub(super) struct Table {
    pub(super) reader: csv::Reader<std::io::BufReader<std::fs::File>>,
    pub(super) header: csv::StringRecord,
}

impl Table {
    pub(super) fn open(path: &Path, fix: &'static str) -> Result<Table, EvalError> {
        let file = std::fs::File::open(path).map_err(|source| EvalError::Open {
            path: path.to_path_buf(),
            source,
            fix,
        })?;
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(std::io::BufReader::new(file));
        let header = reader
            .headers()
            .map_err(|e| EvalError::csv(path, &e))?
            .clone();
        if header.is_empty() || (header.len() == 1 && header.get(0) == Some("")) {
            return Err(EvalError::EmptyFile {
                path: path.to_path_buf(),
                fix,
            });
        }
        Ok(Table { reader, header })
    }

    /// Index of `name`: exact match first, then trimmed and case-insensitive (ingest's
    /// column finder).
    pub(super) fn find(&self, name: &str) -> Option<usize> {
        let h: Vec<&str> = self.header.iter().collect();
        crate::ingest::long_csv::find_column(&h, name)
    }

    pub(super) fn require(
        &self,
        path: &Path,
        name: &'static str,
        fix: &'static str,
    ) -> Result<usize, EvalError> {
        self.find(name).ok_or_else(|| EvalError::MissingColumn {
            path: path.to_path_buf(),
            column: name,
            found: self.header.iter().collect::<Vec<_>>().join(","),
            fix,
        })
    }
}

/// Where a cell sits, for error messages.
pub(super) struct Cell<'a> {
    path: &'a Path,
    line: u64,
    row: u64,
    column: &'static str,
}

impl Cell<'_> {
    pub(super) fn bad(&self, value: &str, expected: &'static str, fix: &'static str) -> EvalError {
        EvalError::BadValue {
            path: self.path.to_path_buf(),
            line: self.line,
            row: self.row,
            column: self.column,
            value: value.to_string(),
            expected,
            fix,
        }
    }
}

pub(super) fn is_na(s: &str) -> bool {
    NA_TOKENS.iter().any(|t| s.eq_ignore_ascii_case(t))
}

pub(super) fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// A non-negative whole number, also written as a float (`3.0`, as pandas writes an int column
/// with gaps); empty = `None`.
pub(super) fn parse_count(s: &str) -> Result<Option<u32>, ()> {
    if is_na(s) {
        return Ok(None);
    }
    let v: f64 = s.parse().map_err(|_| ())?;
    if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= f64::from(u32::MAX) {
        Ok(Some(v as u32))
    } else {
        Err(())
    }
}

pub(super) fn parse_f64(s: &str) -> Result<Option<f64>, ()> {
    if is_na(s) {
        return Ok(None);
    }
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(Some(v)),
        _ => Err(()),
    }
}

/// `YYYY-MM-DDTHH:MM[:SS]Z` (any offset), a naive `YYYY-MM-DD[T ]HH:MM[:SS]` read as UTC, or a
/// bare date (its UTC midnight): ingest's ISO timestamp reader.
pub(crate) fn parse_instant(s: &str) -> Option<DateTime<Utc>> {
    let (clock, offset) =
        crate::ingest::time::parse_clock(s.as_bytes(), &crate::ingest::TimeFormat::Iso)?;
    DateTime::from_timestamp(clock - offset.unwrap_or(0), 0)
}

/// Calls `f(record, cell locator, meter_id)` for every data row, after checking that the meter
/// id is present and not repeated (a repeat makes the join ambiguous).
pub(super) fn for_each_row<'p>(
    path: &'p Path,
    t: &mut Table,
    c_id: usize,
    fix: &'static str,
    dup_fix: &'static str,
    mut f: impl FnMut(
        &csv::StringRecord,
        &dyn Fn(&'static str) -> Cell<'p>,
        &str,
    ) -> Result<(), EvalError>,
) -> Result<(), EvalError> {
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut rec = csv::StringRecord::new();
    let mut row = 0u64;
    while t
        .reader
        .read_record(&mut rec)
        .map_err(|e| EvalError::csv(path, &e))?
    {
        row += 1;
        let line = rec.position().map_or(row + 1, csv::Position::line);
        let at = |column| Cell {
            path,
            line,
            row,
            column,
        };
        let meter_id = rec.get(c_id).unwrap_or("");
        if meter_id.is_empty() {
            return Err(at("meter_id").bad(meter_id, "a meter id", fix));
        }
        if let Some(&first_line) = seen.get(meter_id) {
            return Err(EvalError::DuplicateMeter {
                path: path.to_path_buf(),
                line,
                row,
                meter_id: meter_id.to_string(),
                first_line,
                fix: dup_fix,
            });
        }
        seen.insert(meter_id.to_string(), line);
        f(&rec, &at, meter_id)?;
    }
    Ok(())
}
