//! Reading the run directory's own files for the report: `run.json` (window, coverage, counts,
//! inputs), `registered_miners.csv`, `data_quality.csv` (per-meter notes) and
//! `features.parquet` (each suspect's features and its tariff peers). Only the columns and
//! rows the report uses are kept; unknown or missing `run.json` fields read as defaults, so an
//! older run directory still renders.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use polars::prelude::*;

use super::{read_err, ReportError};
use crate::output::run_json::{RunJson, RUN_JSON};

/// Reads `run.json` (the one struct `gridsleuth run` writes).
pub fn read_run_info(dir: &Path) -> Result<RunJson, ReportError> {
    let p = dir.join(RUN_JSON);
    let bytes = std::fs::read(&p).map_err(|e| ReportError::Read {
        path: p.clone(),
        source: e.into(),
        fix: "point --run at a directory written by `gridsleuth run -o DIR`".into(),
    })?;
    RunJson::from_bytes(&p, &bytes).map_err(|e| read_err(&p, e))
}

/// One row of `registered_miners.csv`.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(default)]
pub struct RegisteredRow {
    pub meter_id: String,
    pub address: String,
    pub contracted_kw: Option<f64>,
    pub mean_kw: Option<f64>,
    pub p90_kw: Option<f64>,
    pub over_contract: bool,
    pub notes: String,
}

/// Reads `registered_miners.csv` (empty when absent: runs without metadata have none).
pub fn read_registered(dir: &Path) -> Result<Vec<RegisteredRow>, ReportError> {
    let p = dir.join("registered_miners.csv");
    if !p.exists() {
        return Ok(Vec::new());
    }
    let mut r = csv::Reader::from_path(&p).map_err(|e| read_err(&p, e))?;
    r.deserialize()
        .map(|row| row.map_err(|e| read_err(&p, e)))
        .collect()
}

/// Quarantined readings of one meter by reason: (records, readings).
pub type MeterQuality = BTreeMap<String, (u64, u64)>;

/// Streams `data_quality.csv` and keeps the records of `meters`.
pub fn read_meter_quality(
    dir: &Path,
    meters: &HashSet<&str>,
) -> Result<HashMap<String, MeterQuality>, ReportError> {
    let p = dir.join("data_quality.csv");
    let mut out: HashMap<String, MeterQuality> = HashMap::new();
    if !p.exists() || meters.is_empty() {
        return Ok(out);
    }
    let mut r = csv::Reader::from_path(&p).map_err(|e| read_err(&p, e))?;
    let headers = r.headers().map_err(|e| read_err(&p, e))?.clone();
    let idx = |name: &str| headers.iter().position(|h| h == name);
    let (Some(c_meter), Some(c_reason)) = (idx("meter_id"), idx("reason")) else {
        return Err(read_err(&p, "no meter_id or reason column"));
    };
    let c_readings = idx("readings");
    let mut rec = csv::StringRecord::new();
    while r.read_record(&mut rec).map_err(|e| read_err(&p, e))? {
        let Some(id) = rec.get(c_meter).filter(|id| meters.contains(id)) else {
            continue;
        };
        let reason = rec.get(c_reason).unwrap_or("").to_string();
        let readings = c_readings
            .and_then(|c| rec.get(c))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(1);
        let e = out
            .entry(id.to_string())
            .or_default()
            .entry(reason)
            .or_default();
        e.0 += 1;
        e.1 += readings;
    }
    Ok(out)
}

/// Selected columns of `features.parquet`, by meter.
#[derive(Debug, Clone, Default)]
pub struct FeatureTable {
    pub names: Vec<String>,
    pub ids: Vec<String>,
    /// `columns[j][row]`, `NaN` where missing.
    pub columns: Vec<Vec<f32>>,
    /// Meter id -> row, when the ids are not in ascending order (else a binary search: no
    /// second copy of a million ids).
    index: Option<HashMap<String, usize>>,
}

impl FeatureTable {
    /// A table from columns (`columns[j]` has one value per id).
    pub fn new(names: Vec<String>, ids: Vec<String>, columns: Vec<Vec<f32>>) -> Self {
        let index = (!ids.windows(2).all(|w| w[0] < w[1])).then(|| {
            ids.iter()
                .enumerate()
                .map(|(i, s)| (s.clone(), i))
                .collect()
        });
        FeatureTable {
            names,
            ids,
            columns,
            index,
        }
    }

    /// Row of a meter.
    pub fn row(&self, id: &str) -> Option<usize> {
        match &self.index {
            Some(index) => index.get(id).copied(),
            None => self.ids.binary_search_by(|x| x.as_str().cmp(id)).ok(),
        }
    }

    /// Feature `name` of meter `id` (`NaN` when either is unknown).
    pub fn get(&self, id: &str, name: &str) -> f32 {
        match (self.row(id), self.names.iter().position(|n| n == name)) {
            (Some(r), Some(j)) => self.columns[j][r],
            _ => f32::NAN,
        }
    }
}

/// Reads `names` (those present) and `meter_id` from `features.parquet`.
pub fn read_features(dir: &Path, names: &[&str]) -> Result<FeatureTable, ReportError> {
    let p = dir.join("features.parquet");
    let file = std::fs::File::open(&p).map_err(|e| read_err(&p, e))?;
    let mut reader = ParquetReader::new(file);
    let schema = reader.schema().map_err(|e| read_err(&p, e))?;
    let mut present: Vec<String> = Vec::new();
    for n in names {
        // Each column once (polars refuses a frame with a repeated name).
        if schema.contains(n) && n != &"meter_id" && !present.iter().any(|p| p == n) {
            present.push(n.to_string());
        }
    }
    let mut cols = vec!["meter_id".to_string()];
    cols.extend(present.iter().cloned());
    let df = reader
        .with_columns(Some(cols))
        .finish()
        .map_err(|e| read_err(&p, e))?;
    let ids: Vec<String> = df
        .column("meter_id")
        .and_then(|c| c.cast(&DataType::String))
        .map_err(|e| read_err(&p, e))?
        .str()
        .map_err(|e| read_err(&p, e))?
        .iter()
        .map(|s| s.unwrap_or("").to_string())
        .collect();
    let mut columns = Vec::with_capacity(present.len());
    for name in &present {
        let c = df
            .column(name)
            .and_then(|c| c.cast(&DataType::Float32))
            .map_err(|e| read_err(&p, e))?;
        let v: Vec<f32> = c
            .f32()
            .map_err(|e| read_err(&p, e))?
            .iter()
            .map(|x| x.unwrap_or(f32::NAN))
            .collect();
        columns.push(v);
    }
    Ok(FeatureTable::new(present, ids, columns))
}
