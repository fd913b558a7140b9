//! The load series of the load-drop analysis: a regional load CSV (long `timestamp,region,load`
//! or wide, one column per region, e.g. the Tetouan zones), and optional temperature (a column
//! of the same file or a `timestamp,temperature_c` weather file). Events and holidays: see
//! [`super::events`].
//!
//! Output: [`DailyLoad`], the mean load of each region and local day in MW (days under
//! [`MIN_DAY_COVERAGE`] of their intervals are `NaN`) on one contiguous calendar, and the daily
//! mean temperature. Timestamps without an offset are local time already (a regional series is
//! published in local clock time); timestamps with one are converted to `--tz`. Unparseable
//! rows or cells are skipped and counted by reason with the first few lines quoted, never fatal;
//! a missing file or column is fatal, with the columns found and a fix.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::ingest::time::parse_clock;
use crate::ingest::TimeFormat;
use chrono::{NaiveDate, NaiveDateTime};
use chrono_tz::Tz;

use crate::grid_analysis::GridAnalysisError;
use crate::ingest::long_csv::{find_column, header_strings, line_reader};

/// A day's mean is kept when at least this share of its intervals is present.
pub const MIN_DAY_COVERAGE: f64 = 0.8;
/// Bad lines quoted in the summary.
pub const EXAMPLES: usize = 5;

/// Unit of the load values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadUnit {
    Mw,
    Kw,
    W,
    /// Energy per interval.
    Mwh,
    Kwh,
}

impl LoadUnit {
    /// Factor to MW, and whether values are energy per interval.
    fn scale(self) -> (f64, bool) {
        match self {
            LoadUnit::Mw => (1.0, false),
            LoadUnit::Kw => (1e-3, false),
            LoadUnit::W => (1e-6, false),
            LoadUnit::Mwh => (1.0, true),
            LoadUnit::Kwh => (1e-3, true),
        }
    }
}

/// Timestamp layout.
#[derive(Debug, Clone, PartialEq)]
pub enum TimeLayout {
    /// ISO 8601 family: `YYYY-MM-DD[( |T)HH:MM[:SS[.f]]][Z|±HH:MM]`.
    Iso,
    /// A chrono layout (`%m/%d/%Y %H:%M`); a layout with a date only also works.
    Chrono(String),
}

impl TimeLayout {
    pub fn parse(s: &str) -> Self {
        if s.eq_ignore_ascii_case("iso") {
            TimeLayout::Iso
        } else {
            TimeLayout::Chrono(s.to_string())
        }
    }

    /// Local (naive) time of a field, read by ingest's timestamp reader
    /// ([`crate::ingest::time::parse_clock`]); a written offset is converted to `tz`.
    pub fn local(&self, s: &str, tz: Tz) -> Option<NaiveDateTime> {
        let format = match self {
            TimeLayout::Iso => TimeFormat::Iso,
            TimeLayout::Chrono(f) => TimeFormat::parse(f),
        };
        let (clock, offset) = parse_clock(s.as_bytes(), &format)?;
        match offset {
            None => chrono::DateTime::from_timestamp(clock, 0).map(|d| d.naive_utc()),
            Some(off) => chrono::DateTime::from_timestamp(clock - off, 0)
                .map(|d| d.with_timezone(&tz).naive_local()),
        }
    }
}

/// Column layout of the load file.
#[derive(Debug, Clone, PartialEq)]
pub enum Layout {
    Long {
        region_col: String,
        value_col: String,
    },
    /// (column, region name) pairs.
    Wide { cols: Vec<(String, String)> },
}

/// Where and how to read the load file.
#[derive(Debug, Clone)]
pub struct LoadSeriesSpec {
    pub path: PathBuf,
    pub time_col: String,
    pub time: TimeLayout,
    pub tz: Tz,
    pub layout: Layout,
    pub temp_col: Option<String>,
    pub unit: LoadUnit,
    pub delimiter: u8,
}

/// Daily regional load.
#[derive(Debug, Clone, Default)]
pub struct DailyLoad {
    /// Every local date from the first to the last reading.
    pub dates: Vec<NaiveDate>,
    pub regions: Vec<String>,
    /// Mean MW per region and day (`NaN` when under-covered).
    pub load_mw: Vec<Vec<f64>>,
    /// Share of each region-day's intervals present.
    pub coverage: Vec<Vec<f64>>,
    /// Interval of each region (seconds), inferred as the most common spacing.
    pub interval_secs: Vec<i64>,
    /// Daily mean temperature (°C), `NaN` unknown; empty without temperature.
    pub temp_c: Vec<f64>,
    pub rows_read: u64,
    /// Rows of the `--weather` file: (read, used); the rest are in `skipped` as `weather_*`.
    pub weather_rows: Option<(u64, u64)>,
    /// Skipped values by reason.
    pub skipped: BTreeMap<&'static str, u64>,
    /// The first skipped lines, quoted.
    pub examples: Vec<String>,
}

impl DailyLoad {
    pub fn region_index(&self, name: &str) -> Option<usize> {
        self.regions.iter().position(|r| r == name)
    }
    /// Day index of a date.
    pub fn day_of(&self, d: NaiveDate) -> Option<usize> {
        let first = *self.dates.first()?;
        let i = (d - first).num_days();
        (0..self.dates.len() as i64)
            .contains(&i)
            .then_some(i as usize)
    }
    pub fn any_skipped(&self) -> bool {
        self.skipped.values().any(|&n| n > 0)
    }
}

pub(super) fn column(
    path: &Path,
    headers: &[String],
    name: &str,
    what: &str,
) -> Result<usize, GridAnalysisError> {
    find_column(headers, name).ok_or_else(|| {
        GridAnalysisError::input(
            path,
            format!(
                "column {name:?} ({what}) not found; columns are: {}",
                headers.join(", ")
            ),
            "name the column with the matching option (--time-col, --region-col, --value-col, \
             --value-cols, --temp-col)",
        )
    })
}

struct Skips<'a> {
    out: &'a mut DailyLoad,
}

impl Skips<'_> {
    fn skip(&mut self, reason: &'static str, line: u64, field: &[u8]) {
        *self.out.skipped.entry(reason).or_default() += 1;
        if self.out.examples.len() < EXAMPLES {
            self.out.examples.push(format!(
                "line {line}: {reason}: {:?}",
                String::from_utf8_lossy(field)
            ));
        }
    }
}

fn number(field: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(field).ok()?.trim();
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Reads the load file into daily means.
pub fn read_load(spec: &LoadSeriesSpec) -> Result<DailyLoad, GridAnalysisError> {
    let path = spec.path.as_path();
    let (mut rdr, line) = line_reader(path, spec.delimiter)?;
    let mut rec = csv::ByteRecord::new();
    let io = |e: csv::Error| GridAnalysisError::input(path, e.to_string(), "check the file is CSV");
    if !rdr.read_byte_record(&mut rec).map_err(io)? {
        return Err(GridAnalysisError::input(
            path,
            "the file is empty",
            "pass a CSV with a header",
        ));
    }
    let headers = header_strings(&rec);
    let c_time = column(path, &headers, &spec.time_col, "timestamps")?;
    let c_temp = match &spec.temp_col {
        Some(t) => Some(column(path, &headers, t, "temperature")?),
        None => None,
    };
    let mut regions: Vec<String> = Vec::new();
    let (c_region, value_cols) = match &spec.layout {
        Layout::Long {
            region_col,
            value_col,
        } => (
            Some(column(path, &headers, region_col, "region")?),
            vec![column(path, &headers, value_col, "load")?],
        ),
        Layout::Wide { cols } => {
            let mut v = Vec::new();
            for (c, r) in cols {
                v.push(column(path, &headers, c, "load")?);
                regions.push(r.clone());
            }
            (None, v)
        }
    };
    let mut out = DailyLoad::default();
    let mut points: Vec<Vec<(i64, f64)>> = vec![Vec::new(); regions.len()];
    let mut temps: Vec<(i64, f64)> = Vec::new();
    let mut index: BTreeMap<String, usize> = regions.iter().cloned().zip(0..).collect();
    while rdr.read_byte_record(&mut rec).map_err(io)? {
        if rec.len() == 1 && rec[0].is_empty() {
            continue;
        }
        out.rows_read += 1;
        let ln = line.get();
        let mut sk = Skips { out: &mut out };
        let field = |c: usize| rec.get(c).unwrap_or(b"");
        let Some(t) = std::str::from_utf8(field(c_time))
            .ok()
            .and_then(|s| spec.time.local(s, spec.tz))
        else {
            sk.skip("bad_timestamp", ln, field(c_time));
            continue;
        };
        let secs = t.and_utc().timestamp();
        if let Some(c) = c_temp {
            match number(field(c)) {
                Some(v) => temps.push((secs, v)),
                None => sk.skip("bad_temperature", ln, field(c)),
            }
        }
        for (k, &c) in value_cols.iter().enumerate() {
            let r = match c_region {
                Some(cr) => {
                    let name = String::from_utf8_lossy(field(cr)).trim().to_string();
                    if name.is_empty() {
                        sk.skip("missing_region", ln, field(cr));
                        continue;
                    }
                    let next = regions.len();
                    let r = *index.entry(name.clone()).or_insert(next);
                    if r == next {
                        regions.push(name);
                        points.push(Vec::new());
                    }
                    r
                }
                None => k,
            };
            match number(field(c)) {
                Some(v) => points[r].push((secs, v)),
                None => sk.skip("bad_value", ln, field(c)),
            }
        }
    }
    let all = points.iter().flatten().map(|p| p.0);
    let (Some(lo), Some(hi)) = (all.clone().min(), all.max()) else {
        return Err(GridAnalysisError::input(
            path,
            format!(
                "no usable load values ({} rows read; first skipped: {})",
                out.rows_read,
                out.examples.join("; ")
            ),
            "check --timestamp-format (e.g. '%m/%d/%Y %H:%M') and the value columns",
        ));
    };
    let day = |s: i64| s.div_euclid(86_400);
    let (d0, d1) = (day(lo), day(hi));
    let n_days = (d1 - d0 + 1) as usize;
    out.dates = (0..n_days)
        .filter_map(|i| chrono::DateTime::from_timestamp((d0 + i as i64) * 86_400, 0))
        .map(|d| d.date_naive())
        .collect();
    let (scale, energy) = spec.unit.scale();
    for pts in &mut points {
        pts.sort_by_key(|p| p.0);
        let before = pts.len();
        pts.dedup_by_key(|p| p.0);
        if pts.len() < before {
            *out.skipped.entry("duplicate_timestamp").or_default() += (before - pts.len()) as u64;
        }
        let interval = common_spacing(pts);
        let per_day = (86_400 / interval.max(1)).max(1) as f64;
        let to_mw = if energy {
            scale * 3600.0 / interval.max(1) as f64
        } else {
            scale
        };
        let mut acc = vec![(0.0f64, 0usize); n_days];
        for &(s, v) in pts.iter() {
            let b = &mut acc[(day(s) - d0) as usize];
            b.0 += v * to_mw;
            b.1 += 1;
        }
        out.coverage
            .push(acc.iter().map(|b| b.1 as f64 / per_day).collect());
        out.load_mw.push(
            acc.iter()
                .map(|&(s, n)| {
                    if n > 0 && n as f64 >= MIN_DAY_COVERAGE * per_day {
                        s / n as f64
                    } else {
                        f64::NAN
                    }
                })
                .collect(),
        );
        out.interval_secs.push(interval);
    }
    out.regions = regions;
    if c_temp.is_some() {
        out.temp_c = daily_mean(&temps, d0, n_days);
    }
    Ok(out)
}

/// The most common positive spacing of sorted timestamps (a day when there is none).
fn common_spacing(pts: &[(i64, f64)]) -> i64 {
    let mut counts: BTreeMap<i64, usize> = BTreeMap::new();
    for w in pts.windows(2) {
        let d = w[1].0 - w[0].0;
        if d > 0 {
            *counts.entry(d).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
        .map_or(86_400, |(d, _)| d)
}

fn daily_mean(v: &[(i64, f64)], d0: i64, n_days: usize) -> Vec<f64> {
    let mut acc = vec![(0.0, 0usize); n_days];
    for &(s, t) in v {
        let d = s.div_euclid(86_400) - d0;
        if (0..n_days as i64).contains(&d) {
            acc[d as usize].0 += t;
            acc[d as usize].1 += 1;
        }
    }
    acc.iter()
        .map(|&(s, n)| if n > 0 { s / n as f64 } else { f64::NAN })
        .collect()
}

/// Daily mean temperature from a `timestamp,temperature_c` file, on `load`'s calendar. A row
/// whose timestamp or temperature cannot be read is skipped and recorded in `load` like a bad
/// load row (`weather_bad_timestamp`, `weather_bad_temperature`, first lines quoted), and
/// `load.weather_rows` keeps (read, used), so read = used + skipped.
pub fn read_weather(
    path: &Path,
    time: &TimeLayout,
    tz: Tz,
    load: &mut DailyLoad,
) -> Result<Vec<f64>, GridAnalysisError> {
    let (mut rdr, lines) = line_reader(path, b',')?;
    let mut rec = csv::ByteRecord::new();
    let io = |e: csv::Error| GridAnalysisError::input(path, e.to_string(), "check the file is CSV");
    if !rdr.read_byte_record(&mut rec).map_err(io)? {
        return Err(GridAnalysisError::input(
            path,
            "the file is empty",
            "pass timestamp,temperature_c",
        ));
    }
    let headers = header_strings(&rec);
    let ct = column(path, &headers, "timestamp", "weather timestamps")?;
    let cv = column(path, &headers, "temperature_c", "temperature")?;
    let mut v = Vec::new();
    let mut read = 0u64;
    while rdr.read_byte_record(&mut rec).map_err(io)? {
        let line = lines.get();
        if rec.len() == 1 && rec[0].is_empty() {
            continue;
        }
        read += 1;
        let mut sk = Skips { out: load };
        let t = std::str::from_utf8(rec.get(ct).unwrap_or(b""))
            .ok()
            .and_then(|s| TimeLayout::Iso.local(s, tz).or_else(|| time.local(s, tz)));
        let Some(t) = t else {
            sk.skip("weather_bad_timestamp", line, rec.get(ct).unwrap_or(b""));
            continue;
        };
        let Some(x) = number(rec.get(cv).unwrap_or(b"")) else {
            sk.skip("weather_bad_temperature", line, rec.get(cv).unwrap_or(b""));
            continue;
        };
        v.push((t.and_utc().timestamp(), x));
    }
    load.weather_rows = Some((read, v.len() as u64));
    let d0 = load.dates.first().map_or(0, |d| {
        d.and_hms_opt(0, 0, 0)
            .map_or(0, |t| t.and_utc().timestamp() / 86_400)
    });
    Ok(daily_mean(&v, d0, load.dates.len()))
}

#[cfg(test)]
#[path = "load_series_tests.rs"]
mod tests;
