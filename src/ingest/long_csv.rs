//! Long-form readings from CSV (optionally gzip): one row per meter and timestamp.
//!
//! Streams records with one reused `ByteRecord` (no per-row allocation) into the
//! [`Accumulator`]; only the configured three columns are looked at. Column names, delimiter,
//! timestamp layout, unit and null tokens come from [`LongFormat`].

use std::cell::Cell;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::rc::Rc;

use super::accumulate::Accumulator;
use super::error::IngestError;
use super::quality::{Reason, RowLoc};
use super::time::TimeError;
use super::value::{parse_value, trim};
use super::{LongFormat, Progress};

/// Opens a file, transparently gunzipping `.gz` files (by magic bytes, not only by name).
pub fn open_maybe_gz(path: &Path) -> Result<Box<dyn Read>, IngestError> {
    let mut f = std::fs::File::open(path).map_err(|e| IngestError::open(path, e))?;
    let mut magic = [0u8; 2];
    let n = read_up_to(&mut f, &mut magic).map_err(|e| IngestError::open(path, e))?;
    use std::io::Seek;
    f.seek(std::io::SeekFrom::Start(0))
        .map_err(|e| IngestError::open(path, e))?;
    let buffered = BufReader::with_capacity(1 << 20, f);
    if n == 2 && magic == [0x1f, 0x8b] {
        Ok(Box::new(BufReader::with_capacity(
            1 << 20,
            flate2::bufread::MultiGzDecoder::new(buffered),
        )))
    } else {
        Ok(Box::new(buffered))
    }
}

fn read_up_to(f: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Feeds a CSV reader one line per `read` call and counts lines, so the line a record starts on
/// is known exactly: `csv`'s own record positions count the `\n` of a CRLF terminator, and any
/// blank lines skipped, against the record *before*. A record is returned when its terminator is
/// seen, which is in the last line fed, so after `read_byte_record` the counter holds its line
/// (the last line of a record with quoted line breaks).
pub(crate) struct LineCounted {
    inner: BufReader<Box<dyn Read>>,
    line: Rc<Cell<u64>>,
    at_start: bool,
    /// Bytes of the current line so far (a record is held whole: see [`MAX_LINE_BYTES`]).
    line_bytes: usize,
}

/// The longest line read (64 MiB): a record is held in memory whole, so a file without line
/// breaks (a binary file, a wrong delimiter of lines) must not become one allocation of its size.
/// A wide export of 1440 one-minute columns is under 20 kB a line.
pub const MAX_LINE_BYTES: usize = 64 << 20;

impl LineCounted {
    /// Wraps `input`; the returned counter reads the current 1-based line.
    pub(crate) fn new(input: Box<dyn Read>) -> (Self, Rc<Cell<u64>>) {
        let line = Rc::new(Cell::new(0));
        let inner = BufReader::with_capacity(1 << 16, input);
        (
            LineCounted {
                inner,
                line: Rc::clone(&line),
                at_start: true,
                line_bytes: 0,
            },
            line,
        )
    }
}

impl Read for LineCounted {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let buf = self.inner.fill_buf()?;
        if buf.is_empty() || out.is_empty() {
            return Ok(0);
        }
        if self.at_start {
            self.line.set(self.line.get() + 1);
            self.line_bytes = 0;
        }
        let end = buf
            .iter()
            .position(|&b| b == b'\n')
            .map_or(buf.len(), |i| i + 1);
        let n = end.min(out.len());
        self.line_bytes += n;
        if self.line_bytes > MAX_LINE_BYTES {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "line longer than {} MiB (is this a text file with line breaks?)",
                    MAX_LINE_BYTES >> 20
                ),
            ));
        }
        out[..n].copy_from_slice(&buf[..n]);
        self.at_start = buf[n - 1] == b'\n';
        self.inner.consume(n);
        Ok(n)
    }
}

/// A CSV reader over a (possibly gzip) file that knows the exact line of each record.
pub(crate) fn line_reader(
    path: &Path,
    delimiter: u8,
) -> Result<(csv::Reader<LineCounted>, Rc<Cell<u64>>), IngestError> {
    let (input, line) = LineCounted::new(open_maybe_gz(path)?);
    let rdr = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(1 << 16)
        .from_reader(input);
    Ok((rdr, line))
}

/// Finds `name` among `headers` (exact, then trimmed and case-insensitive). The crate's one
/// column finder: ingest's readers, the drop command's load and weather readers and eval's
/// readers all use it.
pub fn find_column<S: AsRef<str>>(headers: &[S], name: &str) -> Option<usize> {
    headers.iter().position(|h| h.as_ref() == name).or_else(|| {
        headers
            .iter()
            .position(|h| h.as_ref().trim().eq_ignore_ascii_case(name.trim()))
    })
}

/// The header line of a CSV as strings (BOM stripped).
pub fn header_strings(rec: &csv::ByteRecord) -> Vec<String> {
    rec.iter()
        .enumerate()
        .map(|(i, h)| {
            let h = if i == 0 {
                h.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(h)
            } else {
                h
            };
            String::from_utf8_lossy(h).into_owned()
        })
        .collect()
}

/// Finds a required column. `others` are the other columns this reader looks for, so the
/// suggested fix names a column none of them claims.
pub(crate) fn required(
    path: &Path,
    headers: &[String],
    name: &str,
    flag: &str,
    others: &[&str],
) -> Result<usize, IngestError> {
    find_column(headers, name).ok_or_else(|| missing_column(path, headers, name, flag, others))
}

/// The error for a missing column, suggesting the first header no other option claims.
pub(crate) fn missing_column(
    path: &Path,
    headers: &[String],
    name: &str,
    flag: &str,
    others: &[&str],
) -> IngestError {
    let claimed = |h: &String| {
        others
            .iter()
            .any(|o| h.trim().eq_ignore_ascii_case(o.trim()))
    };
    let fix = match headers.iter().find(|h| !claimed(h)) {
        Some(h) => format!("name the column with {flag} (e.g. {flag} '{h}')"),
        None => format!("add a {name:?} column or name it with {flag}"),
    };
    IngestError::MissingColumn {
        path: path.to_path_buf(),
        column: name.to_string(),
        found: headers.join(", "),
        fix,
    }
}

/// Stamp errors -> quarantine reasons.
pub(crate) fn time_reason(e: &TimeError) -> (Reason, &'static str) {
    match e {
        TimeError::Unparseable => (
            Reason::BadTimestamp,
            "unreadable timestamp; set --timestamp-format (e.g. '%d/%m/%Y %H:%M')",
        ),
        TimeError::Gap => (
            Reason::DstGap,
            "local time does not exist (DST spring-forward); see --dst-gap",
        ),
        TimeError::Ambiguous => (
            Reason::DstAmbiguous,
            "local time occurs twice (DST fall-back); see --dst-ambiguous",
        ),
    }
}

/// Streams one CSV file of long-form readings into `acc`.
pub fn read_long_csv(
    path: &Path,
    fmt: &LongFormat,
    acc: &mut Accumulator,
    progress: &Progress,
) -> Result<(), IngestError> {
    let file_idx = acc.quality.add_file(path);
    let (mut rdr, line_no) = line_reader(path, fmt.delimiter)?;
    let mut rec = csv::ByteRecord::new();
    let has_header = rdr
        .read_byte_record(&mut rec)
        .map_err(|e| csv_err(path, &e, line_no.get()))?;
    if !has_header {
        return Err(IngestError::EmptyFile {
            path: path.to_path_buf(),
        });
    }
    let headers = header_strings(&rec);
    let names = [
        fmt.meter_col.as_str(),
        fmt.time_col.as_str(),
        fmt.value_col.as_str(),
    ];
    let c_meter = required(path, &headers, &fmt.meter_col, "--meter-col", &names)?;
    let c_time = required(path, &headers, &fmt.time_col, "--time-col", &names)?;
    let c_value = required(path, &headers, &fmt.value_col, "--value-col", &names)?;
    let need = c_meter.max(c_time).max(c_value) + 1;
    let mut parser = fmt.time_parser();
    let (scale, unit) = fmt.unit.scale();
    let mut last_pos = 0u64;
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_err(path, &e, line_no.get())),
        }
        if acc.failed() {
            break; // over the memory budget: load() reports it
        }
        let line = line_no.get();
        let loc = RowLoc {
            file: file_idx,
            row: line,
        };
        acc.quality.readings_read += 1;
        if rec.len() < need {
            if rec.len() == 1 && rec[0].is_empty() {
                // A blank line is not a reading.
                acc.quality.readings_read -= 1;
                continue;
            }
            acc.quality.reject(
                loc,
                "",
                "",
                Reason::ShortRow,
                format!("{} fields, need at least {need}", rec.len()),
                1,
            );
            continue;
        }
        let meter = String::from_utf8_lossy(trim(&rec[c_meter]));
        let stamp = match parser.parse(&rec[c_time]) {
            Ok(s) => s,
            Err(e) => {
                let (reason, hint) = time_reason(&e);
                let raw = String::from_utf8_lossy(&rec[c_time]);
                acc.quality.reject(
                    loc,
                    "timestamp",
                    &meter,
                    reason,
                    format!("{raw:?}: {hint}"),
                    1,
                );
                continue;
            }
        };
        match parse_value(&rec[c_value], &fmt.nulls) {
            Ok(v) => acc.push(&meter, stamp, v * scale, unit, false, loc),
            Err(reason) => {
                let raw = String::from_utf8_lossy(&rec[c_value]);
                acc.quality.reject(
                    loc,
                    acc.config().value_column,
                    &meter,
                    reason,
                    format!("{raw:?}"),
                    1,
                );
            }
        }
        if line & 0xFFFF == 0 {
            let pos = rec.position().map_or(0, |p| p.byte());
            progress.inc(pos.saturating_sub(last_pos));
            last_pos = pos;
        }
    }
    Ok(())
}

pub(crate) fn csv_err(path: &Path, e: &csv::Error, line: u64) -> IngestError {
    IngestError::Malformed {
        path: path.to_path_buf(),
        line,
        message: e.to_string(),
        fix: "check the delimiter (--delimiter) and quoting; a gzip file must be complete".into(),
    }
}
