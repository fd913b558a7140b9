//! AEMO NEM12 (MDFF) interval data: the Australian meter-data exchange format.
//!
//! Input: a NEM12 file (optionally gzip, CRLF or LF): `100` header (optional: files in the wild
//! often lack it), `200` NMI data details (NMI, suffix, UOM, interval length), `300` one day of
//! interval values followed by the quality method, `400` per-interval-range quality of the
//! preceding `V` (variable) `300`, `500` B2B details (ignored), `900` end. Output: one
//! [`Accumulator::push`] per interval value, stamped with the interval start (local midnight of
//! the interval date in [`Nem12Format::tz`], AEST by default, plus `k * IntervalLength`).
//!
//! Invariants: every value of a `300` record counts once in `readings_read` and is then pushed or
//! rejected. Fields are located by the interval count of the `200` record, so trailing metadata
//! (and Excel-mangled dates such as `2.01811E+13`) never shift the values. Quality: `A` actual;
//! `E`, `S`, `F` pushed with `estimated = true` (flatness built from estimates is not evidence);
//! `N` rejected as `null_value`; `V` takes its flags from the `400` records that follow, and an
//! interval no `400` covers (or an unknown quality letter) is kept but marked estimated and
//! reported in the notes. Only import channels (NMI suffix `E*`) in KWH/WH/MWH become meters: the
//! first is named by its NMI, further ones `NMI_E2`...; other channels are `unsupported_channel`.
//! A `300` before any `200` is fatal; a `300` with the wrong number of values is `short_row`.

use std::path::Path;

use rustc_hash::{FxHashMap, FxHashSet};

use super::accumulate::{Accumulator, PushUnit};
use super::error::IngestError;
use super::long_csv::{csv_err, line_reader, time_reason};
use super::quality::{Reason, RowLoc};
use super::time::{days_from_civil, AmbiguousPolicy, GapPolicy, TimeFormat, TimeParser};
use super::value::{parse_value, trim, NullTokens};
use super::{Nem12Format, Progress};

/// Minutes in a day: the interval length must divide it.
const MINUTES_PER_DAY: u32 = 1440;

/// Records between progress updates.
const PROGRESS_EVERY: u64 = 4096;

/// Quality of one interval value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flag {
    Actual,
    /// Estimated, substituted or final substituted.
    Estimated,
    /// Null data: no value.
    Null,
    /// No recognised flag (a `V` interval no `400` covers, an unknown letter): kept as estimated.
    Unknown,
}

/// Reads a quality method (`A`, `E52`, `S14`, `F53`, `N`, `V`): `None` for `V`.
fn quality_flag(field: &[u8]) -> Option<Flag> {
    match trim(field).first().map(u8::to_ascii_uppercase) {
        Some(b'A') => Some(Flag::Actual),
        Some(b'E' | b'S' | b'F') => Some(Flag::Estimated),
        Some(b'N') => Some(Flag::Null),
        Some(b'V') => None,
        _ => Some(Flag::Unknown),
    }
}

/// Whether a field looks like a quality method: one of `AESFNV` and at most two digits.
fn is_quality(field: &[u8]) -> bool {
    match trim(field) {
        [c, rest @ ..] => {
            b"AESFNVaesfnv".contains(c) && rest.len() <= 2 && rest.iter().all(u8::is_ascii_digit)
        }
        [] => false,
    }
}

/// Counts the values of a `300` record and finds its quality field. The expected count `n` is
/// tried first (the values end where the quality method starts); otherwise the first field that
/// looks like a quality method ends the values, else the last non-empty field does.
fn locate(rec: &csv::ByteRecord, n: usize) -> (usize, Option<usize>) {
    if n > 0 && rec.get(2 + n).is_some_and(is_quality) {
        return (n, Some(2 + n));
    }
    if let Some(q) = (2..rec.len()).find(|&i| is_quality(&rec[i])) {
        return (q - 2, Some(q));
    }
    let last = (2..rec.len()).rev().find(|&i| !trim(&rec[i]).is_empty());
    (last.map_or(0, |i| i - 1), None)
}

/// The current `200` record.
#[derive(Debug)]
struct Channel {
    line: u64,
    nmi: String,
    /// Meter id, or why the channel's readings are rejected (reason, column, detail).
    target: Result<String, (Reason, &'static str, String)>,
    /// Values per day (0 when the interval length is unusable).
    n: usize,
    step: i64,
    factor: f64,
}

/// One `300` record's values, held until its `400` records are read.
#[derive(Debug)]
struct Day {
    active: bool,
    loc: RowLoc,
    meter: String,
    midnight: i64,
    step: i64,
    values: Vec<Result<f64, (Reason, String)>>,
    flags: Vec<Flag>,
}

/// Things worth telling the user that reject nothing: (count, first line).
#[derive(Debug, Default)]
struct Notes {
    unflagged: (u64, u64),
    stray_400: (u64, u64),
    bad_400: (u64, u64),
    unknown: (u64, u64),
}

fn note(n: &mut (u64, u64), line: u64) {
    if n.0 == 0 {
        n.1 = line;
    }
    n.0 += 1;
}

#[derive(Debug)]
struct Reader<'a> {
    path: &'a Path,
    file: u32,
    acc: &'a mut Accumulator,
    parser: TimeParser,
    nulls: NullTokens,
    channel: Option<Channel>,
    /// (NMI, suffix) -> meter id of import channels seen so far.
    ids: FxHashMap<(String, String), String>,
    /// NMIs whose plain id is taken by their first import channel.
    named: FxHashSet<String>,
    day: Day,
    notes: Notes,
}

/// Streams one NEM12 file into `acc`.
pub fn read_nem12(
    path: &Path,
    fmt: &Nem12Format,
    acc: &mut Accumulator,
    progress: &Progress,
) -> Result<(), IngestError> {
    let file = acc.quality.add_file(path);
    let (mut rdr, line_no) = line_reader(path, b',')?;
    let mut r = Reader {
        path,
        file,
        acc,
        parser: TimeParser::new(
            TimeFormat::Iso,
            fmt.tz,
            AmbiguousPolicy::Sequential,
            GapPolicy::Reject,
        ),
        nulls: NullTokens::default(),
        channel: None,
        ids: FxHashMap::default(),
        named: FxHashSet::default(),
        day: Day {
            active: false,
            loc: RowLoc { file, row: 0 },
            meter: String::new(),
            midnight: 0,
            step: 0,
            values: Vec::new(),
            flags: Vec::new(),
        },
        notes: Notes::default(),
    };
    let mut rec = csv::ByteRecord::new();
    let (mut records, mut last_pos) = (0u64, 0u64);
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_err(path, &e, line_no.get())),
        }
        if rec.iter().all(|f| trim(f).is_empty()) {
            continue; // a blank line (or one of bare commas) is not a record
        }
        if r.acc.failed() {
            break; // over the memory budget: load() reports it
        }
        let line = line_no.get();
        let kind = trim(rec.get(0).unwrap_or_default());
        if kind != b"400" {
            r.flush();
        }
        match kind {
            b"100"
                if rec
                    .get(1)
                    .is_some_and(|v| trim(v).eq_ignore_ascii_case(b"NEM13")) =>
            {
                return Err(IngestError::Malformed {
                    path: path.to_path_buf(),
                    line,
                    message: "NEM13 (accumulation meter reads) is not interval data".into(),
                    fix: "export interval data as NEM12".into(),
                })
            }
            b"100" | b"500" | b"900" => {}
            b"200" => r.record_200(&rec, line),
            b"300" => r.record_300(&rec, line)?,
            b"400" => r.record_400(&rec, line),
            _ => note(&mut r.notes.unknown, line),
        }
        records += 1;
        if records % PROGRESS_EVERY == 0 {
            let pos = rec.position().map_or(0, |p| p.byte());
            progress.inc(pos.saturating_sub(last_pos));
            last_pos = pos;
        }
    }
    r.flush();
    progress.inc(rdr.position().byte().saturating_sub(last_pos));
    r.finish_notes();
    Ok(())
}

impl Reader<'_> {
    fn record_200(&mut self, rec: &csv::ByteRecord, line: u64) {
        let field =
            |i: usize| String::from_utf8_lossy(trim(rec.get(i).unwrap_or_default())).into_owned();
        let (nmi, suffix, uom, length) =
            (field(1), field(4).to_ascii_uppercase(), field(7), field(8));
        let minutes = length
            .parse::<u32>()
            .ok()
            .filter(|&m| m > 0 && MINUTES_PER_DAY.is_multiple_of(m));
        let n = minutes.map_or(0, |m| (MINUTES_PER_DAY / m) as usize);
        let factor = match uom.to_ascii_uppercase().as_str() {
            "KWH" => Some(1.0),
            "WH" => Some(1e-3),
            "MWH" => Some(1e3),
            _ => None,
        };
        let at = format!("200 record at line {line}");
        let target = if nmi.is_empty() {
            Err((Reason::BadMetadata, "nmi", format!("{at} has no NMI")))
        } else if !suffix.starts_with('E') {
            let detail = format!(
                "{at}: NMI suffix {suffix:?} ({uom}) is not an import (consumption) channel; only E* channels are read"
            );
            Err((Reason::UnsupportedChannel, "nmi_suffix", detail))
        } else if factor.is_none() {
            let detail = format!("{at}: UOM {uom:?} is not energy in KWH, WH or MWH");
            Err((Reason::UnsupportedChannel, "uom", detail))
        } else if minutes.is_none() {
            let detail = format!(
                "{at}: interval length {length:?} does not divide a day (5, 15 or 30 minutes)"
            );
            Err((Reason::WrongInterval, "interval_length", detail))
        } else {
            let key = (nmi.clone(), suffix.clone());
            let id = match self.ids.get(&key) {
                Some(id) => id.clone(),
                None => {
                    let id = if self.named.insert(nmi.clone()) {
                        nmi.clone()
                    } else {
                        format!("{nmi}_{suffix}")
                    };
                    self.ids.insert(key, id.clone());
                    id
                }
            };
            Ok(id)
        };
        self.channel = Some(Channel {
            line,
            nmi,
            target,
            n,
            step: i64::from(minutes.unwrap_or(0)) * 60,
            factor: factor.unwrap_or(1.0),
        });
    }

    fn record_300(&mut self, rec: &csv::ByteRecord, line: u64) -> Result<(), IngestError> {
        let Some(ch) = &self.channel else {
            return Err(IngestError::Malformed {
                path: self.path.to_path_buf(),
                line,
                message: "300 (interval data) record before any 200 (NMI data details) record".into(),
                fix: "the file must give each NMI's 200 record before its 300 records; check that the file is \
                      complete and was not cut or sorted"
                    .into(),
            });
        };
        let loc = RowLoc {
            file: self.file,
            row: line,
        };
        let (count, q_idx) = locate(rec, ch.n);
        let q = &mut self.acc.quality;
        q.readings_read += count as u64;
        let meter = match &ch.target {
            Ok(id) => id,
            Err((reason, column, detail)) => {
                q.reject(loc, column, &ch.nmi, *reason, detail.clone(), count as u64);
                return Ok(());
            }
        };
        if count != ch.n {
            let detail = format!(
                "{count} interval values; the 200 record at line {} says {}-minute intervals, {} values a day",
                ch.line,
                ch.step / 60,
                ch.n
            );
            q.reject(loc, "", meter, Reason::ShortRow, detail, count as u64);
            return Ok(());
        }
        let raw_date = trim(rec.get(1).unwrap_or_default());
        let Some(midnight) = parse_yyyymmdd(raw_date) else {
            let detail = format!(
                "interval date {:?} is not YYYYMMDD",
                String::from_utf8_lossy(raw_date)
            );
            q.reject(
                loc,
                "interval_date",
                meter,
                Reason::BadTimestamp,
                detail,
                count as u64,
            );
            return Ok(());
        };
        let flag = match q_idx {
            Some(i) => quality_flag(&rec[i]),
            None => Some(Flag::Unknown),
        };
        let d = &mut self.day;
        d.loc = loc;
        d.meter.clear();
        d.meter.push_str(meter);
        d.midnight = midnight;
        d.step = ch.step;
        d.values.clear();
        for f in rec.iter().skip(2).take(count) {
            let v = parse_value(f, &self.nulls)
                .map(|v| v * ch.factor)
                .map_err(|reason| (reason, String::from_utf8_lossy(f).into_owned()));
            d.values.push(v);
        }
        d.flags.clear();
        d.flags.resize(count, flag.unwrap_or(Flag::Unknown));
        d.active = true;
        if flag.is_some() {
            self.flush();
        }
        Ok(())
    }

    /// `400,StartInterval,EndInterval,QualityMethod,...`: flags of the pending `V` day.
    fn record_400(&mut self, rec: &csv::ByteRecord, line: u64) {
        if !self.day.active {
            note(&mut self.notes.stray_400, line);
            return;
        }
        let num = |i: usize| {
            std::str::from_utf8(trim(rec.get(i)?))
                .ok()?
                .parse::<usize>()
                .ok()
        };
        let n = self.day.flags.len();
        match (num(1), num(2)) {
            (Some(s), Some(e)) if 1 <= s && s <= e && e <= n => {
                let flag = rec.get(3).and_then(quality_flag).unwrap_or(Flag::Unknown);
                self.day.flags[s - 1..e].fill(flag);
            }
            _ => note(&mut self.notes.bad_400, line),
        }
    }

    /// Pushes or rejects every value of the pending day.
    fn flush(&mut self) {
        let d = &mut self.day;
        if !d.active {
            return;
        }
        d.active = false;
        let col = self.acc.config().value_column;
        let mut nulls = 0u64;
        for (k, (value, &flag)) in d.values.iter().zip(&d.flags).enumerate() {
            match flag {
                Flag::Null => {
                    nulls += 1;
                    continue;
                }
                Flag::Unknown => note(&mut self.notes.unflagged, d.loc.row),
                Flag::Actual | Flag::Estimated => {}
            }
            let value = match value {
                Ok(v) => *v,
                Err((reason, raw)) => {
                    let detail = format!("interval {}: {raw:?}", k + 1);
                    self.acc
                        .quality
                        .reject(d.loc, col, &d.meter, *reason, detail, 1);
                    continue;
                }
            };
            let stamp = match self.parser.localize(d.midnight + k as i64 * d.step) {
                Ok(s) => s,
                Err(e) => {
                    let (reason, hint) = time_reason(&e);
                    let detail = format!("interval {}: {hint}", k + 1);
                    self.acc
                        .quality
                        .reject(d.loc, "interval_date", &d.meter, reason, detail, 1);
                    continue;
                }
            };
            let estimated = flag != Flag::Actual;
            self.acc
                .push(&d.meter, stamp, value, PushUnit::Kwh, estimated, d.loc);
        }
        if nulls > 0 {
            self.acc.quality.reject(
                d.loc,
                col,
                &d.meter,
                Reason::NullValue,
                "NEM12 quality N",
                nulls,
            );
        }
    }

    fn finish_notes(self) {
        let file = self.path.display();
        let n = &self.notes;
        let mut say = |(count, line): (u64, u64), what: &str| {
            if count > 0 {
                self.acc
                    .quality
                    .notes
                    .push(format!("{file}: {count} {what} (first: line {line})"));
            }
        };
        say(
            n.unflagged,
            "readings had no recognised quality flag; kept and marked estimated",
        );
        say(
            n.stray_400,
            "400 records did not follow a usable V-quality 300 record; ignored",
        );
        say(
            n.bad_400,
            "400 records had an unusable interval range; their intervals count as unflagged",
        );
        say(n.unknown, "records of unknown type were ignored");
    }
}

/// `YYYYMMDD` -> naive seconds of local midnight, `None` when not a valid date.
fn parse_yyyymmdd(b: &[u8]) -> Option<i64> {
    if b.len() != 8 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let num =
        |r: std::ops::Range<usize>| b[r].iter().fold(0i64, |a, &c| a * 10 + i64::from(c - b'0'));
    let (y, m, d) = (num(0..4), num(4..6), num(6..8));
    chrono::NaiveDate::from_ymd_opt(y as i32, m as u32, d as u32)?;
    Some(days_from_civil(y, m, d) * 86_400)
}

#[cfg(test)]
mod tests;
