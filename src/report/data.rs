//! `report_data/`: what the report needs that the rest of the run directory does not hold, so
//! `gridsleuth report --run DIR` re-renders without reading the inputs or detecting again.
//! Written by [`write_report_data`] right after the run directory (`run` calls it):
//!
//! - `suspects.json`: the grid, the zone, and every flagged meter in rank order with its whole
//!   finding (all reasons, device fit and its miss, onset and whether it is inside the window),
//!   its metadata and its coverage counts ([`ReportData`], `format` = [`FORMAT`]).
//! - `series.parquet`: the flagged meters' readings, laid out as `matrix.parquet`
//!   (`meter_id, timestamp (UTC), kwh, estimated`, present slots only) but in rank order, so
//!   a report capped at N pages reads the first N meters' rows only.
//! - `segments.csv`: `meter_id,tariff,feeder_id` of every meter with metadata, so a suspect is
//!   placed among its tariff's meters in `features.parquet`.
//!
//! At 1M meters with 1% flagged this is ~14 M series rows (~40 MB of Parquet) and a 25 MB CSV.
//! Everything else comes from the run directory's own files (see [`super::rundir`]).

use std::collections::HashMap;
use std::path::Path;

use polars::prelude::*;

use super::rundir::FeatureTable;
use super::{read_err, ReportError};
use crate::detect::Detection;
use crate::grid::{LoadMatrix, TimeGrid};
use crate::ingest::Ingested;

/// The folder inside the run directory.
pub const DATA_DIR: &str = "report_data";
pub const SUSPECTS_JSON: &str = "suspects.json";
pub const SERIES_PARQUET: &str = "series.parquet";
pub const SEGMENTS_CSV: &str = "segments.csv";
/// Version of the `report_data/` layout; a reader refuses other versions with a fix.
pub const FORMAT: u32 = 1;

/// The grid of the run, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GridSpec {
    /// Unix seconds of the first slot's start.
    pub start: i64,
    pub interval_secs: u32,
    pub n_slots: usize,
}

impl From<GridSpec> for TimeGrid {
    fn from(g: GridSpec) -> Self {
        TimeGrid {
            start: g.start,
            interval_secs: g.interval_secs,
            n_slots: g.n_slots,
        }
    }
}

/// One flagged meter: its finding and metadata.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SuspectRecord {
    pub meter_id: String,
    pub rank: usize,
    pub score: f64,
    pub rig_kw: f64,
    pub devices: Option<u32>,
    pub device_model: Option<String>,
    /// Relative miss of the device fit (0 = an exact multiple of the model's kW).
    pub device_fit_err: Option<f64>,
    /// Local date `YYYY-MM-DD` (the window start when the rig ran from the start).
    pub onset: Option<String>,
    pub onset_in_window: bool,
    pub excess_kwh: f64,
    pub reasons: Vec<String>,
    pub address: Option<String>,
    pub feeder_id: Option<String>,
    pub tariff: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub contracted_kw: Option<f64>,
    pub present_slots: u32,
    pub estimated_slots: u32,
    /// The meter's own interval before aggregation to the grid.
    pub native_interval_secs: Option<u32>,
    /// The meter's IANA zone (its dates and hours in the report are local to it); absent in
    /// report data written before meters had zones of their own: the run's zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tz: Option<String>,
}

/// `suspects.json`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReportData {
    pub format: u32,
    pub grid: GridSpec,
    /// IANA zone of local days and onset dates.
    pub tz: String,
    pub suspects: Vec<SuspectRecord>,
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

fn io_err(path: &Path, e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> ReportError {
    ReportError::Write {
        path: path.to_path_buf(),
        source: e.into(),
    }
}

/// The flagged meters of a detection, in rank order.
pub fn suspect_records(ing: &Ingested, det: &Detection, tz: &str) -> ReportData {
    let m = &ing.matrix;
    let mut flagged: Vec<&crate::score::Finding> =
        det.findings.iter().filter(|f| f.flagged).collect();
    flagged.sort_by_key(|f| (f.rank, f.meter));
    let suspects = flagged
        .iter()
        .map(|f| {
            let id = &*m.meter_ids()[f.meter];
            let info = ing.meters.as_ref().and_then(|(t, _)| t.get(id));
            let cov = m.coverage(f.meter);
            SuspectRecord {
                meter_id: id.to_string(),
                rank: f.rank.unwrap_or(0),
                score: f.score,
                rig_kw: f.rig_kw,
                devices: f.devices,
                device_model: f.device_model.map(str::to_string),
                device_fit_err: finite(f.device_fit_err),
                onset: f.onset.clone(),
                onset_in_window: f.onset_in_window,
                excess_kwh: f.excess_kwh,
                reasons: f.reasons.clone(),
                address: info.and_then(|i| i.address.clone()),
                feeder_id: info.and_then(|i| i.feeder_id.clone()),
                tariff: info.and_then(|i| i.tariff.clone()),
                lat: info.and_then(|i| i.lat).and_then(finite),
                lon: info.and_then(|i| i.lon).and_then(finite),
                contracted_kw: info.and_then(|i| i.contracted_kw).and_then(finite),
                present_slots: cov.present,
                estimated_slots: cov.estimated,
                native_interval_secs: ing.native_interval.get(f.meter).copied(),
                tz: Some(det.zone_of(f.meter).name().to_string()),
            }
        })
        .collect();
    ReportData {
        format: FORMAT,
        grid: GridSpec {
            start: m.grid.start,
            interval_secs: m.grid.interval_secs,
            n_slots: m.grid.n_slots,
        },
        tz: tz.to_string(),
        suspects,
    }
}

/// Meters per Parquet row group of `series.parquet`.
pub const SERIES_METERS_PER_GROUP: usize = 1000;

/// Meter `i`'s series as stored in `series.parquet`.
pub fn series_of(m: &LoadMatrix, i: usize) -> Series {
    let row = m.row(i);
    Series {
        kwh: row.to_vec(),
        estimated: (0..row.len()).map(|s| m.is_estimated(i, s)).collect(),
    }
}

/// The present slots of `rows` (meter id and series), in that order, as a
/// `matrix.parquet`-like frame.
fn series_frame(grid: &TimeGrid, rows: &[(&str, &Series)]) -> PolarsResult<DataFrame> {
    let (mut ids, mut ts, mut kwh, mut est) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for &(id, series) in rows {
        for (s, &v) in series.kwh.iter().enumerate().filter(|(_, v)| !v.is_nan()) {
            ids.push(id);
            ts.push(grid.slot_start(s) * 1000);
            kwh.push(v);
            est.push(series.estimated.get(s).copied().unwrap_or(false));
        }
    }
    let ts = Int64Chunked::from_vec("timestamp".into(), ts)
        .into_datetime(TimeUnit::Milliseconds, Some(polars::prelude::TimeZone::UTC))
        .into_series();
    DataFrame::new_infer_height(vec![
        Column::new("meter_id".into(), ids),
        ts.into_column(),
        Column::new("kwh".into(), kwh),
        Column::new("estimated".into(), est),
    ])
}

/// Row groups of `series.parquet` built and compressed at once, in parallel (each on its own
/// core), then written in order.
const SERIES_GROUPS_AT_ONCE: usize = 4;

/// Writes the series of `rows` in that order (rank order: the top suspects' rows come first, so
/// a capped report reads a prefix of the file), one row group per
/// [`SERIES_METERS_PER_GROUP`] meters. The row groups are encoded in parallel a few at a time
/// and written in order: the same bytes as encoding them one after the other.
fn write_series_parquet(
    grid: &TimeGrid,
    rows: &[(&str, &Series)],
    path: &Path,
) -> PolarsResult<()> {
    use rayon::prelude::*;
    let file = std::fs::File::create(path)?;
    let groups: Vec<&[(&str, &Series)]> = rows.chunks(SERIES_METERS_PER_GROUP).collect();
    let first = series_frame(grid, groups.first().copied().unwrap_or(&[]))?;
    let w = ParquetWriter::new(file)
        .with_compression(ParquetCompression::Zstd(None))
        .batched(first.schema())?;
    if groups.len() <= 1 {
        let mut w = w;
        w.write_batch(&first)?;
        w.finish()?;
        return Ok(());
    }
    drop(first);
    for batch in groups.chunks(SERIES_GROUPS_AT_ONCE) {
        let encoded: Vec<PolarsResult<Vec<_>>> = batch
            .par_iter()
            .map(|g| {
                let frame = series_frame(grid, g)?;
                w.encode_and_compress(&frame)
                    .collect::<PolarsResult<Vec<_>>>()
            })
            .collect();
        for rg in encoded {
            w.write_row_groups(rg?)?;
        }
    }
    w.finish()?;
    Ok(())
}

/// Writes `DIR/report_data/` (see the module doc). `tz` is the run's zone name.
pub fn write_report_data(
    dir: &Path,
    ing: &Ingested,
    det: &Detection,
    tz: &str,
) -> Result<(), ReportError> {
    let data = suspect_records(ing, det, tz);
    let series: Vec<(usize, Series)> = data
        .suspects
        .iter()
        .filter_map(|s| ing.matrix.meter_index(&s.meter_id))
        .map(|i| (i, series_of(&ing.matrix, i)))
        .collect();
    let rows: Vec<(&str, &Series)> = series
        .iter()
        .map(|(i, s)| (&*ing.matrix.meter_ids()[*i], s))
        .collect();
    write_suspects(dir, &data, &rows)?;
    let p = dir.join(DATA_DIR).join(SEGMENTS_CSV);
    let mut w = csv::Writer::from_path(&p).map_err(|e| io_err(&p, e))?;
    w.write_record(SEGMENTS_HEADER).map_err(|e| io_err(&p, e))?;
    write_segment_rows(&mut w, ing).map_err(|e| io_err(&p, e))?;
    w.flush().map_err(|e| io_err(&p, e))?;
    Ok(())
}

/// Writes `suspects.json` and `series.parquet` into `DIR/report_data/` (created): `data` and
/// the series of its suspects, in its (rank) order.
pub fn write_suspects(
    dir: &Path,
    data: &ReportData,
    series: &[(&str, &Series)],
) -> Result<(), ReportError> {
    let out = dir.join(DATA_DIR);
    std::fs::create_dir_all(&out).map_err(|e| io_err(&out, e))?;
    let p = out.join(SUSPECTS_JSON);
    let json = serde_json::to_vec_pretty(data).map_err(|e| io_err(&p, e))?;
    std::fs::write(&p, json).map_err(|e| io_err(&p, e))?;
    let p = out.join(SERIES_PARQUET);
    write_series_parquet(&data.grid.into(), series, &p).map_err(|e| io_err(&p, e))?;
    Ok(())
}

/// Header of `segments.csv`.
pub const SEGMENTS_HEADER: [&str; 3] = ["meter_id", "tariff", "feeder_id"];

/// The rows of `segments.csv` for the meters of `ing` with metadata, in matrix order.
pub fn write_segment_rows<W: std::io::Write>(
    w: &mut csv::Writer<W>,
    ing: &Ingested,
) -> Result<(), csv::Error> {
    if let Some((table, _)) = &ing.meters {
        for id in ing.matrix.meter_ids() {
            if let Some(info) = table.get(id) {
                w.write_record([
                    &**id,
                    info.tariff.as_deref().unwrap_or(""),
                    info.feeder_id.as_deref().unwrap_or(""),
                ])?;
            }
        }
    }
    Ok(())
}

/// One meter's series on the grid.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    /// kWh per slot, `NaN` where missing.
    pub kwh: Vec<f32>,
    pub estimated: Vec<bool>,
}

/// Reads `suspects.json`.
pub fn read_report_data(dir: &Path) -> Result<ReportData, ReportError> {
    let p = dir.join(DATA_DIR).join(SUSPECTS_JSON);
    let bytes = std::fs::read(&p).map_err(|e| ReportError::Read {
        path: p.clone(),
        source: e.into(),
        fix: "is this a run directory? `gridsleuth run -o DIR` writes report_data/ beside \
              suspects.csv; re-run it with this version"
            .into(),
    })?;
    let data: ReportData = serde_json::from_slice(&bytes).map_err(|e| read_err(&p, e))?;
    if data.format != FORMAT {
        return Err(read_err(
            &p,
            format!(
                "layout version {} (this gridsleuth reads {FORMAT})",
                data.format
            ),
        ));
    }
    Ok(data)
}

/// Reads `series.parquet` into one [`Series`] per meter (slots off the grid are ignored); with
/// `rows`, only its first `rows` rows (the top suspects: the file is in rank order).
pub fn read_series(
    dir: &Path,
    grid: &TimeGrid,
    rows: Option<usize>,
) -> Result<HashMap<String, Series>, ReportError> {
    let p = dir.join(DATA_DIR).join(SERIES_PARQUET);
    let file = std::fs::File::open(&p).map_err(|e| read_err(&p, e))?;
    let mut reader = ParquetReader::new(file);
    let total = reader.num_rows().map_err(|e| read_err(&p, e))?;
    let df = reader
        .with_slice(Some((0, rows.unwrap_or(total).min(total))))
        .finish()
        .map_err(|e| read_err(&p, e))?;
    let col = |name: &str| df.column(name).map_err(|e| read_err(&p, e));
    let ids = col("meter_id")?.str().map_err(|e| read_err(&p, e))?.clone();
    let ts = col("timestamp")?
        .cast(&DataType::Int64)
        .map_err(|e| read_err(&p, e))?;
    let ts = ts.i64().map_err(|e| read_err(&p, e))?;
    let kwh = col("kwh")?
        .cast(&DataType::Float32)
        .map_err(|e| read_err(&p, e))?;
    let kwh = kwh.f32().map_err(|e| read_err(&p, e))?;
    let est = col("estimated")?
        .bool()
        .map_err(|e| read_err(&p, e))?
        .clone();
    let mut out: HashMap<String, Series> = HashMap::new();
    let n = grid.n_slots;
    for (((id, t), v), e) in ids.iter().zip(ts.iter()).zip(kwh.iter()).zip(est.iter()) {
        let (Some(id), Some(t), Some(v)) = (id, t, v) else {
            continue;
        };
        let Some(s) = grid.slot_of(t.div_euclid(1000)) else {
            continue;
        };
        let series = out.entry(id.to_string()).or_insert_with(|| Series {
            kwh: vec![f32::NAN; n],
            estimated: vec![false; n],
        });
        series.kwh[s] = v;
        series.estimated[s] = e.unwrap_or(false);
    }
    Ok(out)
}

/// Each meter's tariff from `segments.csv`, by row of the run's [`FeatureTable`] (the peers'
/// segments); tariff names interned.
#[derive(Debug, Clone, Default)]
pub struct Segments {
    pub tariffs: Vec<String>,
    /// Per feature-table row: index into `tariffs`; `None` without a row or a tariff.
    pub tariff_of: Vec<Option<u32>>,
}

impl Segments {
    /// The tariff of feature-table row `row`.
    pub fn tariff(&self, row: usize) -> Option<&str> {
        let t = (*self.tariff_of.get(row)?)?;
        Some(self.tariffs[t as usize].as_str())
    }
}

/// Reads `segments.csv` onto the rows of `table`: both are in meter order, so each id is found
/// by walking forward (a binary search or hash lookup when not), with no string kept per meter.
/// Empty fields are no tariff; a repeated id keeps its last row; ids not in `table` are skipped.
pub fn read_segments(dir: &Path, table: &FeatureTable) -> Result<Segments, ReportError> {
    let p = dir.join(DATA_DIR).join(SEGMENTS_CSV);
    let mut r = csv::Reader::from_path(&p).map_err(|e| read_err(&p, e))?;
    let mut out = Segments {
        tariffs: Vec::new(),
        tariff_of: vec![None; table.ids.len()],
    };
    let mut ids: HashMap<String, u32> = HashMap::new();
    let mut rec = csv::ByteRecord::new();
    let mut cur = 0usize;
    while r.read_byte_record(&mut rec).map_err(|e| read_err(&p, e))? {
        let field = |i: usize| -> Result<&str, ReportError> {
            std::str::from_utf8(rec.get(i).unwrap_or_default()).map_err(|e| read_err(&p, e))
        };
        let (id, tariff) = (field(0)?, field(1)?);
        if rec.is_empty() {
            continue;
        }
        while cur < table.ids.len() && table.ids[cur].as_str() < id {
            cur += 1;
        }
        let row = match table.ids.get(cur) {
            Some(x) if x == id => Some(cur),
            _ => table.row(id),
        };
        let Some(row) = row else {
            continue;
        };
        out.tariff_of[row] = if tariff.is_empty() {
            None
        } else if let Some(&t) = ids.get(tariff) {
            Some(t)
        } else {
            let t = out.tariffs.len() as u32;
            ids.insert(tariff.to_string(), t);
            out.tariffs.push(tariff.to_string());
            Some(t)
        };
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_row_groups_encoded_in_parallel_are_the_bytes_of_one_after_the_other() {
        let grid = TimeGrid {
            start: 1_700_000_000,
            interval_secs: 1800,
            n_slots: 12,
        };
        // More meters than one batch of row groups holds, some slots missing or estimated.
        let n = SERIES_METERS_PER_GROUP * (SERIES_GROUPS_AT_ONCE + 1) + 7;
        let ids: Vec<String> = (0..n).map(|i| format!("M{i:06}")).collect();
        let series: Vec<Series> = (0..n)
            .map(|i| Series {
                kwh: (0..12)
                    .map(|s| {
                        if (i + s) % 5 == 0 {
                            f32::NAN
                        } else {
                            (i * 12 + s) as f32
                        }
                    })
                    .collect(),
                estimated: (0..12).map(|s| (i + s) % 7 == 0).collect(),
            })
            .collect();
        let rows: Vec<(&str, &Series)> = ids.iter().map(String::as_str).zip(&series).collect();
        let tmp = tempfile::tempdir().unwrap();
        let got = tmp.path().join("parallel.parquet");
        write_series_parquet(&grid, &rows, &got).unwrap();
        // One row group after the other, as a batched writer writes them.
        let want = tmp.path().join("sequential.parquet");
        let groups: Vec<&[(&str, &Series)]> = rows.chunks(SERIES_METERS_PER_GROUP).collect();
        let first = series_frame(&grid, groups[0]).unwrap();
        let mut w = ParquetWriter::new(std::fs::File::create(&want).unwrap())
            .with_compression(ParquetCompression::Zstd(None))
            .batched(first.schema())
            .unwrap();
        for g in &groups {
            w.write_batch(&series_frame(&grid, g).unwrap()).unwrap();
        }
        w.finish().unwrap();
        assert_eq!(std::fs::read(&got).unwrap(), std::fs::read(&want).unwrap());
    }
}
