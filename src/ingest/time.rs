//! Timestamp parsing and time-zone resolution.
//!
//! Input: the bytes of a timestamp field. Output: a [`Stamp`], an instant in UTC seconds, or both
//! candidate instants of a repeated (DST fall-back) local time, so that the accumulator can apply
//! the [`AmbiguousPolicy`] with knowledge of what the meter already has.
//!
//! Timestamps carrying an offset or `Z` are honoured as written. Naive timestamps are local time in
//! the configured IANA zone. The ISO-8601 family is parsed by a hand-written fast path (this runs
//! once per reading: 144 M times for a 100k-meter month); any other layout takes a chrono format.

use chrono::{NaiveDate, NaiveDateTime, Offset, TimeZone};
use chrono_tz::Tz;

use super::value::trim;
use crate::grid::UnixSecs;

/// What to do with a naive local time that occurs twice (the DST fall-back hour).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AmbiguousPolicy {
    /// First reading of a meter at that local time is the earlier instant, the second the later
    /// one (what a meter exporting local clock time actually means). Default.
    Sequential,
    /// Always the earlier instant (the first pass through the hour).
    Earliest,
    /// Always the later instant.
    Latest,
    /// Quarantine readings at ambiguous times.
    Reject,
}

/// What to do with a naive local time that does not exist (the DST spring-forward gap).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GapPolicy {
    /// Quarantine the reading: a local time inside the gap is an export error. Default.
    Reject,
    /// Move it forward by the gap length (02:30 -> 03:30 on a one-hour gap).
    ShiftForward,
}

/// A parsed timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stamp {
    At(UnixSecs),
    /// A repeated local time: the two candidate instants, earlier first.
    Ambiguous(UnixSecs, UnixSecs),
}

/// Why a timestamp could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeError {
    Unparseable,
    /// Local time inside a DST gap (rejected by policy).
    Gap,
    /// Repeated local time (rejected by policy).
    Ambiguous,
}

/// Timestamp layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeFormat {
    /// `YYYY-MM-DD[T ]HH:MM[:SS[.fff]][Z|±HH[:MM]]`, also `YYYY-MM-DD` alone.
    Iso,
    /// Seconds since the Unix epoch (UTC).
    EpochSecs,
    /// Milliseconds since the Unix epoch (UTC).
    EpochMillis,
    /// A chrono `strftime` layout; with `%z`/`%:z` the offset is honoured, else local time.
    Chrono { layout: String, has_offset: bool },
}

impl TimeFormat {
    /// `iso`, `epoch`, `epoch_ms`, or a chrono layout such as `%d/%m/%Y %H:%M`.
    pub fn parse(s: &str) -> Self {
        match s {
            "iso" | "" => TimeFormat::Iso,
            "epoch" | "epoch_s" => TimeFormat::EpochSecs,
            "epoch_ms" => TimeFormat::EpochMillis,
            layout => TimeFormat::Chrono {
                layout: layout.to_string(),
                has_offset: layout.contains("%z")
                    || layout.contains("%:z")
                    || layout.contains("%#z"),
            },
        }
    }
}

/// Turns timestamp fields into [`Stamp`]s: format + zone + DST policy, with a one-entry cache of
/// the zone offset of the last local hour (sorted data hits it almost always).
#[derive(Debug, Clone)]
pub struct TimeParser {
    format: TimeFormat,
    tz: Tz,
    utc: bool,
    ambiguous: AmbiguousPolicy,
    gap: GapPolicy,
    cache_hour: i64,
    cache: LocalOffsets,
}

#[derive(Debug, Clone, Copy)]
enum LocalOffsets {
    None,
    Single(i64),
    Ambiguous(i64, i64),
    /// In a gap: the offset before the transition (shift-forward uses it).
    Gap(i64),
}

impl TimeParser {
    pub fn new(format: TimeFormat, tz: Tz, ambiguous: AmbiguousPolicy, gap: GapPolicy) -> Self {
        TimeParser {
            format,
            utc: tz == chrono_tz::UTC,
            tz,
            ambiguous,
            gap,
            cache_hour: i64::MIN,
            cache: LocalOffsets::None,
        }
    }

    pub fn ambiguous_policy(&self) -> AmbiguousPolicy {
        self.ambiguous
    }

    /// Parses one field (surrounding spaces allowed).
    pub fn parse(&mut self, field: &[u8]) -> Result<Stamp, TimeError> {
        match parse_clock(field, &self.format).ok_or(TimeError::Unparseable)? {
            (instant_clock, Some(off)) => Ok(Stamp::At(instant_clock - off)),
            (naive, None) => self.localize(naive),
        }
    }

    /// Resolves a naive local time (as seconds of a UTC clock) in the configured zone.
    pub fn localize(&mut self, naive: i64) -> Result<Stamp, TimeError> {
        if self.utc {
            return Ok(Stamp::At(naive));
        }
        let hour = naive.div_euclid(3600);
        if hour != self.cache_hour {
            self.cache = local_offsets(self.tz, naive);
            self.cache_hour = hour;
        }
        match self.cache {
            LocalOffsets::Single(off) => Ok(Stamp::At(naive - off)),
            LocalOffsets::Ambiguous(a, b) => {
                // Earlier instant has the larger offset (summer time).
                let (early, late) = (naive - a.max(b), naive - a.min(b));
                match self.ambiguous {
                    AmbiguousPolicy::Sequential => Ok(Stamp::Ambiguous(early, late)),
                    AmbiguousPolicy::Earliest => Ok(Stamp::At(early)),
                    AmbiguousPolicy::Latest => Ok(Stamp::At(late)),
                    AmbiguousPolicy::Reject => Err(TimeError::Ambiguous),
                }
            }
            LocalOffsets::Gap(before) => match self.gap {
                GapPolicy::Reject => Err(TimeError::Gap),
                // With the pre-transition offset, 02:30 (winter, +0) becomes 02:30Z = 03:30 local
                // summer time: shifted forward by the gap.
                GapPolicy::ShiftForward => Ok(Stamp::At(naive - before)),
            },
            LocalOffsets::None => Err(TimeError::Unparseable),
        }
    }
}

/// Offsets (seconds east of UTC) valid for a naive local time in `tz`. Per hour: DST transitions
/// in every IANA zone happen on whole or half hours at most once per hour bucket in practice;
/// the cache is keyed by the local hour so a 30-minute-offset gap is still found per reading.
fn local_offsets(tz: Tz, naive: i64) -> LocalOffsets {
    let Some(ndt) = chrono::DateTime::from_timestamp(naive, 0).map(|d| d.naive_utc()) else {
        return LocalOffsets::None;
    };
    match tz.offset_from_local_datetime(&ndt) {
        chrono::LocalResult::Single(o) => {
            LocalOffsets::Single(i64::from(o.fix().local_minus_utc()))
        }
        chrono::LocalResult::Ambiguous(a, b) => LocalOffsets::Ambiguous(
            i64::from(a.fix().local_minus_utc()),
            i64::from(b.fix().local_minus_utc()),
        ),
        chrono::LocalResult::None => {
            // The offset in force just before the gap: look 3 hours earlier.
            let before = ndt - chrono::Duration::hours(3);
            match tz.offset_from_local_datetime(&before) {
                chrono::LocalResult::Single(o) => {
                    LocalOffsets::Gap(i64::from(o.fix().local_minus_utc()))
                }
                _ => LocalOffsets::None,
            }
        }
    }
}

fn parse_int(b: &[u8]) -> Option<i64> {
    std::str::from_utf8(b).ok()?.parse().ok()
}

fn digits(b: &[u8]) -> Option<i64> {
    if b.is_empty() {
        return None;
    }
    let mut v = 0i64;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(c - b'0');
    }
    Some(v)
}

/// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant, "chrono-Compatible Low-Level
/// Date Algorithms", days_from_civil).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// Reads a written timestamp in `format`: (the written clock as seconds of a UTC clock, the
/// offset in seconds east of UTC when one is written; epoch forms are instants, offset 0).
/// Surrounding spaces are allowed. The one timestamp reader of the crate: [`TimeParser`]
/// (ingest) adds the zone and DST policies; the drop command's load and weather readers and
/// eval's readers use it directly.
pub fn parse_clock(field: &[u8], format: &TimeFormat) -> Option<(i64, Option<i64>)> {
    let field = trim(field);
    match format {
        TimeFormat::Iso => parse_iso(field),
        TimeFormat::EpochSecs => parse_int(field).map(|t| (t, Some(0))),
        TimeFormat::EpochMillis => parse_int(field).map(|ms| (ms.div_euclid(1000), Some(0))),
        TimeFormat::Chrono { layout, has_offset } => {
            let s = std::str::from_utf8(field).ok()?;
            if *has_offset {
                chrono::DateTime::parse_from_str(s, layout).ok().map(|d| {
                    let off = i64::from(d.offset().local_minus_utc());
                    (d.timestamp() + off, Some(off))
                })
            } else {
                let naive = NaiveDateTime::parse_from_str(s, layout)
                    .or_else(|_| {
                        NaiveDate::parse_from_str(s, layout)
                            .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default())
                    })
                    .ok()?;
                Some((naive.and_utc().timestamp(), None))
            }
        }
    }
}

/// Parses ISO-8601-like timestamps. Returns (seconds of the written clock as if UTC, offset in
/// seconds east of UTC if one was written). Fractional seconds are truncated.
pub fn parse_iso(b: &[u8]) -> Option<(i64, Option<i64>)> {
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, mo, d) = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) {
        return None;
    }
    let mut secs = days_from_civil(y, mo, d) * 86_400;
    let mut rest = &b[10..];
    if rest.is_empty() {
        return Some((secs, None));
    }
    if rest[0] != b'T' && rest[0] != b' ' {
        return None;
    }
    rest = &rest[1..];
    if rest.len() < 5 || rest[2] != b':' {
        return None;
    }
    let (h, mi) = (digits(&rest[0..2])?, digits(&rest[3..5])?);
    let mut s = 0;
    rest = &rest[5..];
    if rest.len() >= 3 && rest[0] == b':' {
        s = digits(&rest[1..3])?;
        rest = &rest[3..];
        if !rest.is_empty() && (rest[0] == b'.' || rest[0] == b',') {
            let n = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
            if n == 0 {
                return None;
            }
            rest = &rest[1 + n..];
        }
    }
    if h > 24 || mi > 59 || s > 60 || (h == 24 && (mi > 0 || s > 0)) {
        return None;
    }
    secs += h * 3600 + mi * 60 + s;
    let rest = trim(rest);
    let offset = match rest {
        [] => None,
        b"Z" | b"z" | b"UTC" | b"+00" => Some(0),
        [sign @ (b'+' | b'-'), tail @ ..] => {
            let (oh, om) = match tail.len() {
                2 => (digits(tail)?, 0),
                4 => (digits(&tail[0..2])?, digits(&tail[2..4])?),
                5 if tail[2] == b':' => (digits(&tail[0..2])?, digits(&tail[3..5])?),
                _ => return None,
            };
            if oh > 18 || om > 59 {
                return None;
            }
            let off = oh * 3600 + om * 60;
            Some(if *sign == b'-' { -off } else { off })
        }
        _ => return None,
    };
    Some((secs, offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp()
    }

    #[test]
    fn iso_variants() {
        let t = utc("2013-01-01T00:30:00Z");
        assert_eq!(parse_iso(b"2013-01-01 00:30:00"), Some((t, None)));
        assert_eq!(parse_iso(b"2013-01-01T00:30"), Some((t, None)));
        assert_eq!(parse_iso(b"2013-01-01T00:30:00.0000000"), Some((t, None)));
        assert_eq!(parse_iso(b"2013-01-01T00:30:00Z"), Some((t, Some(0))));
        assert_eq!(
            parse_iso(b"2013-01-01T02:30:00+02:00"),
            Some((t + 7200, Some(7200)))
        );
        assert_eq!(
            parse_iso(b"2013-01-01T02:30:00+0200"),
            Some((t + 7200, Some(7200)))
        );
        assert_eq!(
            parse_iso(b"2013-01-01T00:30:00-05"),
            Some((t, Some(-18000)))
        );
        assert_eq!(parse_iso(b"2013-01-01"), Some((t - 1800, None)));
        for bad in [
            &b"2013-02-30 00:00"[..],
            b"2013-13-01",
            b"2013/01/01 00:00",
            b"yesterday",
            b"2013-01-01 25:00",
            b"2013-01-01 00:00:00+0x:00",
            b"",
        ] {
            assert_eq!(parse_iso(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn civil_days_match_chrono() {
        for (y, m, d) in [
            (1970, 1, 1),
            (2000, 2, 29),
            (2013, 12, 31),
            (1969, 12, 31),
            (2100, 3, 1),
        ] {
            let c = NaiveDate::from_ymd_opt(y as i32, m, d).unwrap();
            let want = c
                .signed_duration_since(NaiveDate::from_ymd_opt(1970, 1, 1).unwrap())
                .num_days();
            assert_eq!(days_from_civil(y, i64::from(m), i64::from(d)), want);
        }
    }

    #[test]
    fn offsets_are_honoured_whatever_the_zone() {
        let mut p = TimeParser::new(
            TimeFormat::Iso,
            chrono_tz::Europe::London,
            AmbiguousPolicy::Sequential,
            GapPolicy::Reject,
        );
        assert_eq!(
            p.parse(b"2024-07-01T12:00:00+03:00"),
            Ok(Stamp::At(utc("2024-07-01T09:00:00Z")))
        );
        // Naive summer time in London is UTC+1.
        assert_eq!(
            p.parse(b" 2024-07-01 12:00:00 "),
            Ok(Stamp::At(utc("2024-07-01T11:00:00Z")))
        );
    }

    #[test]
    fn dst_fall_back_and_spring_forward_in_london() {
        let tz = chrono_tz::Europe::London;
        let mut p = TimeParser::new(
            TimeFormat::Iso,
            tz,
            AmbiguousPolicy::Sequential,
            GapPolicy::Reject,
        );
        // 2024-10-27 01:30 happens twice: 00:30Z (BST) and 01:30Z (GMT).
        assert_eq!(
            p.parse(b"2024-10-27 01:30:00"),
            Ok(Stamp::Ambiguous(
                utc("2024-10-27T00:30:00Z"),
                utc("2024-10-27T01:30:00Z")
            ))
        );
        // 2024-03-31 01:30 does not exist.
        assert_eq!(p.parse(b"2024-03-31 01:30:00"), Err(TimeError::Gap));
        let mut shift = TimeParser::new(
            TimeFormat::Iso,
            tz,
            AmbiguousPolicy::Earliest,
            GapPolicy::ShiftForward,
        );
        assert_eq!(
            shift.parse(b"2024-03-31 01:30:00"),
            Ok(Stamp::At(utc("2024-03-31T01:30:00Z")))
        );
        assert_eq!(
            shift.parse(b"2024-10-27 01:30:00"),
            Ok(Stamp::At(utc("2024-10-27T00:30:00Z")))
        );
        let mut late = TimeParser::new(
            TimeFormat::Iso,
            tz,
            AmbiguousPolicy::Latest,
            GapPolicy::Reject,
        );
        assert_eq!(
            late.parse(b"2024-10-27 01:30:00"),
            Ok(Stamp::At(utc("2024-10-27T01:30:00Z")))
        );
        let mut rej = TimeParser::new(
            TimeFormat::Iso,
            tz,
            AmbiguousPolicy::Reject,
            GapPolicy::Reject,
        );
        assert_eq!(rej.parse(b"2024-10-27 01:30:00"), Err(TimeError::Ambiguous));
    }

    #[test]
    fn chrono_layouts_and_epochs() {
        let mut p = TimeParser::new(
            TimeFormat::parse("%m/%d/%Y %H:%M"),
            chrono_tz::UTC,
            AmbiguousPolicy::Sequential,
            GapPolicy::Reject,
        );
        assert_eq!(
            p.parse(b"01/02/2017 00:10"),
            Ok(Stamp::At(utc("2017-01-02T00:10:00Z")))
        );
        assert_eq!(p.parse(b"13/02/2017 00:10"), Err(TimeError::Unparseable));
        let mut e = TimeParser::new(
            TimeFormat::parse("epoch_ms"),
            chrono_tz::UTC,
            AmbiguousPolicy::Sequential,
            GapPolicy::Reject,
        );
        assert_eq!(e.parse(b"1000000"), Ok(Stamp::At(1000)));
        let mut d = TimeParser::new(
            TimeFormat::parse("%Y%m%d"),
            chrono_tz::UTC,
            AmbiguousPolicy::Sequential,
            GapPolicy::Reject,
        );
        assert_eq!(
            d.parse(b"20171124"),
            Ok(Stamp::At(utc("2017-11-24T00:00:00Z")))
        );
    }
}
