//! `run.json`: what a run read, on which grid, with which settings, what it found and how long
//! each stage took. One struct, [`RunJson`], written by `gridsleuth run` and read back by the
//! report (`report::evidence`) and by `gridsleuth eval` (the window start).
//!
//! Invariants: keys are written in sorted order at every level (the struct goes through a
//! `serde_json::Value`, whose maps are sorted), so the file is byte-stable whatever the field
//! order here. Reading is lenient: a missing field is its default, so an older run directory
//! still renders; `settings.cluster` and `settings.score` are kept as recorded JSON because
//! their keys evolve between versions (readers pick what they need, e.g. the flag threshold).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::summary::{DatasetCounts, GridSummary};
use crate::cluster::ClusterMethod;

/// The file name in a run directory.
pub const RUN_JSON: &str = "run.json";

/// `run.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RunJson {
    /// gridsleuth's version.
    pub version: String,
    pub inputs: RunInputs,
    pub grid: GridSummary,
    pub datasets: Vec<DatasetCounts>,
    pub settings: RunSettings,
    /// `None` when clustering was skipped (too few meters).
    pub clusters: Option<ClusterSummary>,
    pub counts: RunCounts,
    /// Seconds per stage (`ingest`, `features`, `cluster`, `score`, `balance`, `write`; a
    /// streamed run adds `fit`, its first pass, and sums the others over its chunks).
    pub timings_secs: BTreeMap<String, f64>,
    /// Chunks of meters a streamed run went through (absent: the run held its whole matrix).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunks: Option<usize>,
}

/// The input files, as resolved.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RunInputs {
    pub readings: Vec<String>,
    pub meters: Option<String>,
    pub feeders: Vec<String>,
    pub weather: Option<String>,
}

/// The settings detection ran with.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RunSettings {
    /// Zone of local days.
    pub tz: String,
    /// The `[cluster]` table as used.
    pub cluster: serde_json::Value,
    /// The `[score]` table as used.
    pub score: serde_json::Value,
}

/// The clusters found. A number JSON cannot hold (NaN) is written as `null` and read back as
/// NaN.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClusterSummary {
    pub method: ClusterMethod,
    pub sizes: Vec<usize>,
    #[serde(deserialize_with = "nan_list")]
    pub rig_likeness: Vec<f64>,
    /// Names of the clustering inputs, in centroid column order.
    pub inputs: Vec<String>,
    #[serde(deserialize_with = "nan_rows")]
    pub centroids: Vec<Vec<f64>>,
}

fn nan_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
    let v: Vec<Option<f64>> = Deserialize::deserialize(d)?;
    Ok(v.into_iter().map(|x| x.unwrap_or(f64::NAN)).collect())
}

fn nan_rows<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Vec<f64>>, D::Error> {
    let v: Vec<Vec<Option<f64>>> = Deserialize::deserialize(d)?;
    Ok(v.into_iter()
        .map(|r| r.into_iter().map(|x| x.unwrap_or(f64::NAN)).collect())
        .collect())
}

/// What was found.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RunCounts {
    pub meters: usize,
    pub flagged: usize,
    pub registered_miners: usize,
    pub registered_over_contract: usize,
    /// Feeders balanced (`None`: no feeder balance in this run).
    pub feeders: Option<usize>,
    pub feeders_flagged: Option<usize>,
}

/// Why `run.json` could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RunJsonError {
    #[error("{path}: cannot read")]
    Read {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not valid JSON")]
    Syntax {
        path: std::path::PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path}: not a gridsleuth run.json")]
    Content {
        path: std::path::PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

impl RunJson {
    /// The flag threshold of the run, when recorded.
    pub fn flag_threshold(&self) -> Option<f64> {
        self.settings
            .score
            .get("flag_threshold")
            .and_then(serde_json::Value::as_f64)
    }

    /// The file's bytes: pretty JSON, keys sorted at every level.
    pub fn to_bytes(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec_pretty(&serde_json::to_value(self)?)
    }

    /// Parses the bytes of a `run.json`.
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Self, RunJsonError> {
        serde_json::from_slice(bytes).map_err(|source| {
            let path = path.to_path_buf();
            if source.is_data() {
                RunJsonError::Content { path, source }
            } else {
                RunJsonError::Syntax { path, source }
            }
        })
    }

    /// Reads `path`; `Ok(None)` when the file does not exist.
    pub fn read_if_present(path: &Path) -> Result<Option<Self>, RunJsonError> {
        match std::fs::read(path) {
            Ok(bytes) => Self::from_bytes(path, &bytes).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(RunJsonError::Read {
                path: path.to_path_buf(),
                source,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_sorted_and_it_reads_back() {
        let r = RunJson {
            version: "0.1.0".into(),
            timings_secs: [("write".to_string(), 0.5), ("ingest".to_string(), 1.0)].into(),
            ..RunJson::default()
        };
        let text = String::from_utf8(r.to_bytes().unwrap()).unwrap();
        let (c, v) = (
            text.find("\"counts\"").unwrap(),
            text.find("\"version\"").unwrap(),
        );
        assert!(c < v, "{text}");
        let back = RunJson::from_bytes(Path::new("run.json"), text.as_bytes()).unwrap();
        assert_eq!(back.version, "0.1.0");
        assert_eq!(back.timings_secs["write"], 0.5);
    }

    #[test]
    fn lenient_but_typed() {
        let p = Path::new("run.json");
        let r = RunJson::from_bytes(p, br#"{"grid": {"start": "2024-03-01T00:00:00Z"}}"#).unwrap();
        assert_eq!(r.grid.start, "2024-03-01T00:00:00Z");
        assert!(matches!(
            RunJson::from_bytes(p, br#"{"grid": {"start": 5}}"#),
            Err(RunJsonError::Content { .. })
        ));
        let c = br#"{"clusters": {"method": "kmeans", "sizes": [1], "rig_likeness": [null],
            "inputs": ["a"], "centroids": [[1.0, null]]}}"#;
        let r = RunJson::from_bytes(p, c).unwrap().clusters.unwrap();
        assert!(r.rig_likeness[0].is_nan() && r.centroids[0][1].is_nan());
        assert!(matches!(
            RunJson::from_bytes(p, b"{"),
            Err(RunJsonError::Syntax { .. })
        ));
    }
}
