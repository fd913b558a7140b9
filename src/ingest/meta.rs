//! Meter metadata: `meter_id,address,feeder_id,tariff,lat,lon,registered_miner,contracted_kw`.
//!
//! Only `meter_id` is required; other columns are optional and may appear in any order. Bad
//! fields quarantine the row (with file, line, column and a fix) rather than abort; a repeated
//! meter id keeps the first row. Registered (licensed) miners are legal and are never suspects.

use std::collections::HashMap;
use std::path::Path;

use super::error::IngestError;
use super::long_csv::{csv_err, find_column, header_strings, line_reader, required};
use super::quality::{QualityLog, Reason, RowLoc};
use super::value::trim;
use crate::grid::LoadMatrix;

/// One meter's metadata.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct MeterInfo {
    pub meter_id: String,
    pub address: Option<String>,
    pub feeder_id: Option<String>,
    pub tariff: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    /// A licensed mining site: never a suspect, reported separately.
    pub registered_miner: bool,
    /// Contracted capacity in kW, if known.
    pub contracted_kw: Option<f64>,
    /// The meter's IANA time zone, from a `tz` (or `time_zone`) column, if given.
    #[serde(skip)]
    pub tz: Option<chrono_tz::Tz>,
}

/// All meters' metadata, sorted by id.
#[derive(Debug, Clone, Default)]
pub struct MeterTable {
    rows: Vec<MeterInfo>,
    index: HashMap<String, usize>,
}

impl MeterTable {
    pub fn from_rows(mut rows: Vec<MeterInfo>) -> Self {
        rows.sort_by(|a, b| a.meter_id.cmp(&b.meter_id));
        let index = rows
            .iter()
            .enumerate()
            .map(|(i, r)| (r.meter_id.clone(), i))
            .collect();
        MeterTable { rows, index }
    }
    pub fn get(&self, id: &str) -> Option<&MeterInfo> {
        self.index.get(id).map(|&i| &self.rows[i])
    }
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.rows.iter().map(|r| r.meter_id.as_str())
    }
    pub fn rows(&self) -> &[MeterInfo] {
        &self.rows
    }
    pub fn len(&self) -> usize {
        self.rows.len()
    }
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
    /// Notes metadata meters that have no readings in the matrix.
    pub fn note_missing(&self, matrix: &LoadMatrix, q: &mut QualityLog) {
        if let Some(note) =
            self.missing_note(|k| matrix.meter_index(&self.rows[k].meter_id).is_some())
        {
            q.notes.push(note);
        }
    }

    /// The note on metadata meters without readings: `has(k)` says whether the meter of row `k`
    /// (in id order) has readings. `None` when every meter has.
    pub fn missing_note(&self, has: impl Fn(usize) -> bool) -> Option<String> {
        let missing: Vec<&str> = (0..self.rows.len())
            .filter(|&k| !has(k))
            .map(|k| self.rows[k].meter_id.as_str())
            .collect();
        if missing.is_empty() {
            return None;
        }
        let shown: Vec<&str> = missing.iter().take(5).copied().collect();
        Some(format!(
            "{} meters in the meters file have no usable readings (e.g. {})",
            missing.len(),
            shown.join(", ")
        ))
    }

    /// Row (in id order) of meter `id`.
    pub fn position(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "" | "0" | "false" | "no" | "n" | "f" => Some(false),
        "1" | "true" | "yes" | "y" | "t" => Some(true),
        _ => None,
    }
}

/// Reads the meters file; returns the table and its quality log.
pub fn read_meters(path: &Path) -> Result<(MeterTable, QualityLog), IngestError> {
    read_meters_within(path, super::budget::MemoryBudget::default())
}

/// Bytes a meter's metadata takes, besides its strings.
const META_ROW_BYTES: u64 = (std::mem::size_of::<MeterInfo>() + 64) as u64;

/// [`read_meters`], refusing a file whose rows would exceed `budget`.
pub fn read_meters_within(
    path: &Path,
    budget: super::budget::MemoryBudget,
) -> Result<(MeterTable, QualityLog), IngestError> {
    let mut q = QualityLog::new("meters");
    let file = q.add_file(path);
    let (mut rdr, line_no) = line_reader(path, b',')?;
    let mut rec = csv::ByteRecord::new();
    if !rdr
        .read_byte_record(&mut rec)
        .map_err(|e| csv_err(path, &e, line_no.get()))?
    {
        return Err(IngestError::EmptyFile {
            path: path.to_path_buf(),
        });
    }
    let headers = header_strings(&rec);
    let c_id = required(
        path,
        &headers,
        "meter_id",
        "a 'meter_id' header in the meters file",
        &[],
    )?;
    let col = |n: &str| find_column(&headers, n);
    let (c_addr, c_feeder, c_tariff) = (col("address"), col("feeder_id"), col("tariff"));
    let (c_lat, c_lon, c_reg, c_kw) = (
        col("lat"),
        col("lon"),
        col("registered_miner"),
        col("contracted_kw"),
    );
    let c_tz = col("tz")
        .or_else(|| col("time_zone"))
        .or_else(|| col("timezone"));
    let mut rows: Vec<MeterInfo> = Vec::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_err(path, &e, line_no.get())),
        }
        let line = line_no.get();
        let loc = RowLoc { file, row: line };
        let text = |c: Option<usize>| -> Option<String> {
            c.and_then(|c| rec.get(c))
                .map(|b| String::from_utf8_lossy(trim(b)).into_owned())
                .filter(|s| !s.is_empty())
        };
        if rec.len() == 1 && rec[0].is_empty() {
            continue;
        }
        q.readings_read += 1;
        let Some(id) = text(Some(c_id)) else {
            q.reject(
                loc,
                "meter_id",
                "",
                Reason::MissingMeterId,
                "empty meter_id",
                1,
            );
            continue;
        };
        if let Some(first) = seen.get(&id) {
            q.reject(
                loc,
                "meter_id",
                &id,
                Reason::DuplicateMetadata,
                format!("meter listed again (first on line {first}); first row kept"),
                1,
            );
            continue;
        }
        let mut bad: Option<(&'static str, String)> = None;
        let mut num = |c: Option<usize>, name: &'static str, lo: f64, hi: f64| -> Option<f64> {
            let s = text(c)?;
            match s.parse::<f64>() {
                Ok(v) if v.is_finite() && (lo..=hi).contains(&v) => Some(v),
                _ => {
                    bad.get_or_insert((name, format!("{s:?} is not a number in [{lo}, {hi}]")));
                    None
                }
            }
        };
        let lat = num(c_lat, "lat", -90.0, 90.0);
        let lon = num(c_lon, "lon", -180.0, 180.0);
        let contracted_kw = num(c_kw, "contracted_kw", 0.0, 1e6);
        let tz = match text(c_tz) {
            None => None,
            Some(z) => match z.parse::<chrono_tz::Tz>() {
                Ok(tz) => Some(tz),
                Err(_) => {
                    bad.get_or_insert((
                        "tz",
                        format!("{z:?} is not an IANA time zone (e.g. Europe/London)"),
                    ));
                    None
                }
            },
        };
        let reg_text = text(c_reg).unwrap_or_default();
        let registered_miner = match parse_bool(&reg_text) {
            Some(b) => b,
            None => {
                bad.get_or_insert((
                    "registered_miner",
                    format!("{reg_text:?} is not true/false/yes/no/1/0"),
                ));
                false
            }
        };
        if let Some((column, detail)) = bad {
            q.reject(
                loc,
                column,
                &id,
                Reason::BadMetadata,
                format!("{detail}; fix the meters file"),
                1,
            );
            continue;
        }
        seen.insert(id.clone(), line);
        q.readings_used += 1;
        if rows.len().is_multiple_of(1 << 16) {
            let bytes = rows.len() as u64 * (META_ROW_BYTES + 2 * id.len() as u64 + 64);
            budget.check(
                bytes,
                || format!("{}: the metadata of {} meters", path.display(), rows.len()),
                "check that this is the meters file (one row per meter), or raise --memory-budget",
            )?;
        }
        rows.push(MeterInfo {
            meter_id: id,
            address: text(c_addr),
            feeder_id: text(c_feeder),
            tariff: text(c_tariff),
            lat,
            lon,
            registered_miner,
            contracted_kw,
            tz,
        });
    }
    Ok((MeterTable::from_rows(rows), q))
}
