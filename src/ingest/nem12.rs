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
            .filter(|&m| m > 0 && MINUTES_PER_DAY % m == 0);
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
#[allow(clippy::unwrap_used)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::ingest::accumulate::{AccumulatorConfig, Finished};

    fn utc(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp()
    }

    fn sample(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("data-samples/nem12")
            .join(name)
    }

    fn load(path: &Path) -> Finished {
        let mut acc = Accumulator::new(AccumulatorConfig::default());
        read_nem12(path, &Nem12Format::default(), &mut acc, &Progress::hidden()).unwrap();
        let f = acc.finish().unwrap();
        assert!(f.quality.reconciles());
        f
    }

    fn temp(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    /// `300,date,v x n,quality,,,20240102030405,`
    fn day(date: &str, n: usize, v: &str, quality: &str) -> String {
        format!(
            "300,{date},{},{quality},,,20240102030405,\r\n",
            vec![v; n].join(",")
        )
    }

    fn header_200(nmi: &str, suffix: &str, uom: &str, minutes: u32) -> String {
        format!("200,{nmi},E1B1,1,{suffix},N1,SER1,{uom},{minutes},20240401\r\n")
    }

    #[test]
    fn meter01_v_days_take_their_flags_from_400_records() {
        let f = load(&sample("nem12_meter01.csv"));
        let q = &f.quality;
        // 1034 days x 48, no 100/900 records, a blank first line, CRLF.
        assert_eq!(q.readings_read, 1034 * 48);
        assert_eq!(q.readings_used, 1034 * 48);
        assert_eq!(q.readings_quarantined(), 0);
        assert!(q.notes.is_empty(), "{:?}", q.notes);
        let m = &f.matrix;
        assert_eq!(m.meter_ids(), ["M1".into()]);
        // Brisbane (UTC+10) midnight of 2017-11-24 to the end of 2020-09-22.
        assert_eq!(m.grid.start, utc("2017-11-23T14:00:00Z"));
        assert_eq!(m.grid.end(), utc("2020-09-22T14:00:00Z"));
        // Line 8 is `300,20171129,...,V` and lines 9-11 `400,1,43,A` `400,44,44,A,89` `400,45,48,A`:
        // every 400 record of this file says A (actual, with an event reason code), so the V days
        // hold no estimate. Interval 44 (21:30 local) is 0.181 kWh.
        let s = m.grid.slot_of(utc("2017-11-29T11:30:00Z")).unwrap();
        assert_eq!(m.row(0)[s], 0.181);
        assert!(!m.is_estimated(0, s));
        assert_eq!(m.coverage(0).estimated, 0);
        assert!(!m.has_estimates());
    }

    #[test]
    fn meter02_excel_mangled_trailing_fields_are_ignored() {
        let f = load(&sample("nem12_meter02.csv"));
        let q = &f.quality;
        assert_eq!(q.readings_read, 681 * 48);
        assert_eq!(q.readings_used, 681 * 48);
        let m = &f.matrix;
        assert_eq!(m.meter_ids(), ["6407368186".into()]);
        assert_eq!(m.grid.interval_secs, 1800);
        assert_eq!(m.grid.start, utc("2018-11-15T14:00:00Z"));
        assert_eq!(m.grid.end(), utc("2020-09-28T14:00:00Z"));
        // 2018-11-17 interval 18 (08:30 local) is 0.063 kWh.
        let s = m.grid.slot_of(utc("2018-11-16T22:30:00Z")).unwrap();
        assert_eq!(m.row(0)[s], 0.063);
    }

    #[test]
    fn export_and_second_import_channels() {
        let mut text = String::from("100,NEM12,200405011135,MDA1,Ret1\r\n");
        text += &header_200("N1", "E1", "KWH", 30);
        text += &day("20240101", 48, "1", "A");
        text += &header_200("N1", "B1", "KWH", 30);
        text += &day("20240101", 48, "1", "A");
        text += &header_200("N1", "E2", "KWH", 30);
        text += &day("20240101", 48, "2", "A");
        text += &header_200("N1", "Q1", "KVARH", 30);
        text += &day("20240101", 48, "1", "A");
        text += "900\r\n";
        let file = temp(&text);
        let f = load(file.path());
        let q = &f.quality;
        assert_eq!(q.readings_read, 4 * 48);
        assert_eq!(
            q.quarantined_by_reason().get(&Reason::UnsupportedChannel),
            Some(&96)
        );
        let rejected: Vec<(u64, u64)> = q.issues().iter().map(|i| (i.row, i.readings)).collect();
        assert_eq!(rejected, [(5, 48), (9, 48)]);
        assert!(
            q.issues()[0].detail.contains("\"B1\""),
            "{}",
            q.issues()[0].detail
        );
        assert!(
            q.issues()[1].detail.contains("KVARH"),
            "{}",
            q.issues()[1].detail
        );
        assert_eq!(f.matrix.meter_ids(), ["N1".into(), "N1_E2".into()]);
        assert_eq!(f.matrix.series("N1_E2").unwrap()[0], 2.0);
    }

    #[test]
    fn fifteen_minute_channel_in_wh() {
        let text = header_200("N1", "E1", "WH", 15)
            + &day("20240101", 96, "250", "A")
            + &day("20240102", 96, "250", "A");
        let file = temp(&text);
        let f = load(file.path());
        assert_eq!(f.quality.readings_used, 192);
        assert_eq!(f.matrix.grid.interval_secs, 900);
        assert_eq!(f.matrix.grid.n_slots, 192);
        assert_eq!(f.matrix.row(0)[5], 0.25);
    }

    #[test]
    fn estimated_null_and_variable_days() {
        let mut text = header_200("N1", "E1", "KWH", 30);
        text += &day("20240101", 48, "1", "A");
        text += &day("20240102", 48, "1", "E52"); // all estimated
        text += &day("20240103", 48, "0", "N"); // null: rejected
        text += &day("20240104", 48, "1", "V");
        text += "400,1,10,A,,\r\n400,11,20,S14,,\r\n\r\n400,21,24,N,,\r\n400,25,48,A,79,\r\n";
        text += &day("20240105", 48, "1", "V"); // no 400 records: unflagged, kept as estimated
        let file = temp(&text);
        let f = load(file.path());
        let q = &f.quality;
        assert_eq!(q.readings_read, 5 * 48);
        assert_eq!(
            q.quarantined_by_reason().get(&Reason::NullValue),
            Some(&(48 + 4))
        );
        let nulls: Vec<(u64, u64, &str)> = q
            .issues()
            .iter()
            .map(|i| (i.row, i.readings, i.detail.as_str()))
            .collect();
        assert_eq!(
            nulls,
            [(4, 48, "NEM12 quality N"), (5, 4, "NEM12 quality N")]
        );
        let m = &f.matrix;
        let est: Vec<usize> = (0..m.grid.n_slots)
            .filter(|&s| m.is_estimated(0, s))
            .collect();
        let want: Vec<usize> = (48..96)
            .chain(3 * 48 + 10..3 * 48 + 20)
            .chain(4 * 48..5 * 48)
            .collect();
        assert_eq!(est, want);
        assert_eq!(m.coverage(0).estimated, 48 + 10 + 48);
        assert!(m.row(0)[2 * 48].is_nan() && m.row(0)[3 * 48 + 20].is_nan());
        assert!(q
            .notes
            .iter()
            .any(|n| n.contains("48 readings had no recognised quality flag")
                && n.contains("line 11")));
    }

    #[test]
    fn wrong_value_count_is_a_short_row() {
        let mut text = header_200("N1", "E1", "KWH", 30);
        text += &day("20240101", 48, "1", "A");
        text += &day("20240102", 47, "1", "A");
        text += &day("20240103", 49, "1", "A");
        text += &day("2024013", 48, "1", "A");
        let file = temp(&text);
        let f = load(file.path());
        let q = &f.quality;
        assert_eq!(q.readings_read, 48 + 47 + 49 + 48);
        assert_eq!(
            q.quarantined_by_reason().get(&Reason::ShortRow),
            Some(&(47 + 49))
        );
        assert_eq!(
            q.quarantined_by_reason().get(&Reason::BadTimestamp),
            Some(&48)
        );
        assert!(q.issues()[0]
            .detail
            .starts_with("47 interval values; the 200 record at line 1 says 30-minute"));
    }

    #[test]
    fn interval_data_before_any_200_is_fatal() {
        let file = temp(&format!(
            "100,NEM12,200405011135,MDA1,Ret1\n{}",
            day("20240101", 48, "1", "A")
        ));
        let mut acc = Accumulator::new(AccumulatorConfig::default());
        let err = read_nem12(
            file.path(),
            &Nem12Format::default(),
            &mut acc,
            &Progress::hidden(),
        )
        .unwrap_err();
        assert!(
            matches!(err, IngestError::Malformed { line: 2, .. }),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains("line 2: 300 (interval data) record before any 200"),
            "{err}"
        );
    }

    #[test]
    fn locate_finds_values_by_count() {
        let rec = csv::ByteRecord::from(vec![
            "300",
            "20240101",
            "1",
            "NA",
            "2",
            "A",
            "",
            "",
            "2.01811E+13",
        ]);
        assert_eq!(locate(&rec, 3), (3, Some(5)));
        assert_eq!(locate(&rec, 4), (3, Some(5)));
        let rec = csv::ByteRecord::from(vec!["300", "20240101", "1", "2", "", ""]);
        assert_eq!(locate(&rec, 2), (2, None));
    }
}
