//! The model: every quantity a meter's score depends on beyond its own readings and metadata,
//! fitted on a whole population and kept in one small file, so that any subset of the meters
//! (a shard, a chunk, tonight's new meters) is scored exactly as the whole run scores it.
//!
//! What it holds (see [`Model`]): the time grid (slots and days are grid indices), the
//! resolved detection settings (zone, `[cluster]`, `[score]`: thresholds and weights), the peer
//! levels (median mean load per tariff and per feeder, median daily floor per tariff), the
//! peer groups' day-to-day signals (the weather proxy of `features::proxy`, with the groups
//! themselves: which feeders were big enough to be one), and the clustering (standardisation,
//! the fitted KMeans or mixture, each cluster's rig-likeness, size and median inputs).
//! Per-meter work (a meter's features, its cluster, its score) reads only its own row, its
//! metadata and this.
//!
//! `gridsleuth fit` writes it; `gridsleuth run --model FILE` scores with it; every run uses one
//! (fitted on its own meters when none is given), so a run with a model fitted on the same
//! meters equals a run without. Rank is the one output over the scored set: a shard ranks its
//! own meters.
//!
//! The file is JSON ([`MODEL_FORMAT`] names its layout; a model of another format is refused).
//! `NaN` is written as `null`.

pub mod chunked;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::cluster::{ClusterConfig, ClusterModel};
use crate::features::proxy::{GroupKey, Proxies};
use crate::features::{DayProxy, PeerLevels, SegmentMedians};
use crate::grid::TimeGrid;
use crate::score::ScoreConfig;

/// Version of the model file's layout. Raised whenever a field is added, removed or changes
/// meaning.
pub const MODEL_FORMAT: u32 = 1;

/// The model's name in a run directory (the model the run scored with).
pub const MODEL_FILE: &str = "model.json";

/// The settings a model was fitted with; a run that scores with it must resolve the same.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSettings {
    /// Zone of local days and hours (`--tz`).
    pub tz: String,
    /// Whether a weather file was given (temperature features).
    pub weather: bool,
    pub cluster: ClusterConfig,
    pub score: ScoreConfig,
}

/// See the module documentation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Model {
    /// [`MODEL_FORMAT`] of the program that wrote it.
    pub format: u32,
    /// gridsleuth version that wrote it.
    pub gridsleuth_version: String,
    pub settings: ModelSettings,
    /// The time grid of the readings it was fitted on: a run with the model reads its readings
    /// onto this grid.
    pub grid: TimeGrid,
    /// Meters it was fitted on.
    pub meters: usize,
    /// Median levels per tariff and per feeder (`None` = meters without one).
    pub tariff_levels: Vec<SegmentLevel>,
    pub feeder_levels: Vec<SegmentLevel>,
    /// Every peer group of at least `features::proxy::MIN_PEERS` meters and its signal.
    pub peer_groups: Vec<PeerGroup>,
    /// `None` when too few meters were fitted for clustering.
    pub cluster: Option<ClusterModel>,
}

/// Median levels of one segment (tariff or feeder).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentLevel {
    /// Segment name; `None` for the meters without one.
    pub segment: Option<String>,
    /// Median mean load (kW).
    pub mean_kw: Option<f32>,
    /// Median daily floor (kW; tariffs only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_kw: Option<f32>,
}

/// A peer group, by name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum PeerGroupKey {
    /// A feeder with enough meters.
    Feeder(String),
    /// Meters of one time zone whose readings span grid slots `lo..hi`.
    Span { tz: String, lo: usize, hi: usize },
}

/// A peer group and its common day-to-day signal (`None`: too few days to have one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerGroup {
    pub key: PeerGroupKey,
    pub signal: Option<StoredProxy>,
}

/// A [`DayProxy`] as stored (`None` for `NaN`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredProxy {
    pub first_day: u32,
    pub values: Vec<Option<f32>>,
}

/// A model that cannot be read or used.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{path}: cannot read the model\n  fix: check the path given to --model (written by `gridsleuth fit`)")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a gridsleuth model: {message}\n  fix: give a file written by `gridsleuth fit -o FILE`")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: model format {found}, this gridsleuth (version {version}) reads format {expected}\n  fix: fit the model again with this version (`gridsleuth fit ... -o {path}`)")]
    Format {
        path: PathBuf,
        found: u32,
        expected: u32,
        version: &'static str,
    },
    #[error("{path}: the model was fitted with other settings than this run's:\n{}\n  fix: run with the model's settings (`gridsleuth config` prints a run's), or fit a model with these", differences.join("\n"))]
    Settings {
        path: PathBuf,
        differences: Vec<String>,
    },
    #[error("{path}: cannot write the model\n  fix: check that the folder exists and is writable")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn nan_none(x: f32) -> Option<f32> {
    (!x.is_nan()).then_some(x)
}

/// What [`Model::build`] needs to name a run's segments and zones.
#[derive(Debug, Clone, Copy)]
pub struct Names<'a> {
    /// Tariff and feeder names by segment id (the ids of `FeatureContext::tariff`/`feeder`).
    pub tariffs: &'a [String],
    pub feeders: &'a [String],
    /// Zones by zone id.
    pub zones: &'a [Tz],
}

impl Model {
    /// The model of a run's population: its levels, peer groups and clustering.
    pub fn build(
        settings: ModelSettings,
        grid: TimeGrid,
        meters: usize,
        levels: &PeerLevels,
        proxies: &Proxies,
        names: Names<'_>,
        cluster: Option<ClusterModel>,
    ) -> Model {
        let seg = |medians: &SegmentMedians, other: Option<&SegmentMedians>, list: &[String]| {
            medians
                .iter()
                .map(|(k, v)| SegmentLevel {
                    segment: k.map(|k| list[k as usize].clone()),
                    mean_kw: nan_none(*v),
                    base_kw: other.and_then(|o| o.get(k)).copied().and_then(nan_none),
                })
                .collect()
        };
        let peer_groups = proxies
            .groups
            .iter()
            .map(|(key, g)| PeerGroup {
                key: match *key {
                    GroupKey::Feeder(f) => PeerGroupKey::Feeder(names.feeders[f as usize].clone()),
                    GroupKey::Span { zone, lo, hi } => PeerGroupKey::Span {
                        tz: names.zones[zone as usize].name().to_string(),
                        lo,
                        hi,
                    },
                },
                signal: g.map(|g| {
                    let p = &proxies.series[g as usize];
                    StoredProxy {
                        first_day: p.first_day,
                        values: p.values.iter().map(|x| nan_none(*x)).collect(),
                    }
                }),
            })
            .collect();
        Model {
            format: MODEL_FORMAT,
            gridsleuth_version: env!("CARGO_PKG_VERSION").to_string(),
            settings,
            grid,
            meters,
            tariff_levels: seg(
                &levels.tariff_mean_kw,
                Some(&levels.tariff_base_kw),
                names.tariffs,
            ),
            feeder_levels: seg(&levels.feeder_mean_kw, None, names.feeders),
            peer_groups,
            cluster,
        }
    }

    /// The peer levels under a run's segment ids (`names` of that run): a segment the model
    /// does not know has no level (its meters' ratios are `NaN`, as for a segment without one).
    pub fn peer_levels(&self, names: Names<'_>) -> PeerLevels {
        fn ids(list: &[String]) -> BTreeMap<&str, u32> {
            list.iter()
                .enumerate()
                .map(|(i, s)| (s.as_str(), i as u32))
                .collect()
        }
        let (t_ids, f_ids) = (ids(names.tariffs), ids(names.feeders));
        let mut out = PeerLevels::default();
        let id = |m: &BTreeMap<&str, u32>, s: &Option<String>| -> Option<Option<u32>> {
            match s {
                None => Some(None),
                Some(s) => m.get(s.as_str()).map(|&i| Some(i)),
            }
        };
        for l in &self.tariff_levels {
            if let Some(k) = id(&t_ids, &l.segment) {
                out.tariff_mean_kw.insert(k, l.mean_kw.unwrap_or(f32::NAN));
                out.tariff_base_kw.insert(k, l.base_kw.unwrap_or(f32::NAN));
            }
        }
        for l in &self.feeder_levels {
            if let Some(k) = id(&f_ids, &l.segment) {
                out.feeder_mean_kw.insert(k, l.mean_kw.unwrap_or(f32::NAN));
            }
        }
        out
    }

    /// The peer groups' signals and each meter's group, for a run's meters: a meter belongs to
    /// its feeder's group when the model has one for its feeder, else to its zone and span's.
    pub fn proxies(
        &self,
        ctx: &crate::features::FeatureContext<'_>,
        views: &[crate::features::View],
        of: &[u32],
        names: Names<'_>,
    ) -> Proxies {
        let mut series = Vec::new();
        let mut feeder: BTreeMap<&str, Option<u32>> = BTreeMap::new();
        let mut span: BTreeMap<(&str, usize, usize), Option<u32>> = BTreeMap::new();
        for g in &self.peer_groups {
            let idx = g.signal.as_ref().map(|s| {
                series.push(DayProxy {
                    first_day: s.first_day,
                    values: s.values.iter().map(|x| x.unwrap_or(f32::NAN)).collect(),
                });
                (series.len() - 1) as u32
            });
            match &g.key {
                PeerGroupKey::Feeder(f) => {
                    feeder.insert(f.as_str(), idx);
                }
                PeerGroupKey::Span { tz, lo, hi } => {
                    span.insert((tz.as_str(), *lo, *hi), idx);
                }
            }
        }
        let feeder_group = |f: u32| feeder.get(names.feeders[f as usize].as_str()).copied();
        let span_group = |k: GroupKey| match k {
            GroupKey::Span { zone, lo, hi } => span
                .get(&(names.zones[zone as usize].name(), lo, hi))
                .copied()
                .flatten(),
            GroupKey::Feeder(_) => None,
        };
        let group = (0..ctx.matrix.n_meters())
            .map(|i| {
                crate::features::proxy::group_of(ctx, views, of, i, &feeder_group, &span_group)
            })
            .collect();
        Proxies {
            series,
            group,
            groups: Vec::new(),
        }
    }

    /// The settings keys on which `run` disagrees with the model, as `key: model X, run Y`.
    pub fn differences(&self, run: &ModelSettings) -> Vec<String> {
        let mut out = Vec::new();
        let m = serde_json::to_value(&self.settings).unwrap_or_default();
        let r = serde_json::to_value(run).unwrap_or_default();
        diff("", &m, &r, &mut out);
        out
    }

    /// Refuses a run whose settings differ from the model's.
    pub fn check_settings(&self, path: &Path, run: &ModelSettings) -> Result<(), ModelError> {
        let differences = self.differences(run);
        if differences.is_empty() {
            Ok(())
        } else {
            Err(ModelError::Settings {
                path: path.to_path_buf(),
                differences,
            })
        }
    }

    /// Reads a model file, refusing one of another [`MODEL_FORMAT`].
    pub fn read(path: &Path) -> Result<Model, ModelError> {
        let bytes = std::fs::read(path).map_err(|source| ModelError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let parse = |message: String| ModelError::Parse {
            path: path.to_path_buf(),
            message,
        };
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| parse(e.to_string()))?;
        let found = value
            .get("format")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| parse("no \"format\" number".into()))?;
        if found != u64::from(MODEL_FORMAT) {
            return Err(ModelError::Format {
                path: path.to_path_buf(),
                found: u32::try_from(found).unwrap_or(u32::MAX),
                expected: MODEL_FORMAT,
                version: env!("CARGO_PKG_VERSION"),
            });
        }
        serde_json::from_value(value).map_err(|e| parse(e.to_string()))
    }

    /// The model as JSON.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).unwrap_or_default();
        v.push(b'\n');
        v
    }

    /// Writes the model atomically (whole or not at all).
    pub fn write(&self, path: &Path) -> Result<(), ModelError> {
        crate::output::atomic::write_file(path, &self.to_bytes()).map_err(|source| {
            ModelError::Write {
                path: path.to_path_buf(),
                source,
            }
        })
    }
}

/// Leaf differences between two JSON values, as `[table] key: model X, run Y`.
fn diff(at: &str, a: &serde_json::Value, b: &serde_json::Value, out: &mut Vec<String>) {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let name = if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                diff(
                    &name,
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                    out,
                );
            }
        }
        _ if a != b => {
            let name = match at.split_once('.') {
                Some((t, k)) => format!("[{t}] {k}"),
                None => at.to_string(),
            };
            out.push(format!("  {name}: model {a}, this run {b}"));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> ModelSettings {
        ModelSettings {
            tz: "UTC".into(),
            weather: false,
            cluster: ClusterConfig::default(),
            score: ScoreConfig::default(),
        }
    }

    fn model() -> Model {
        let levels = PeerLevels {
            tariff_mean_kw: [(None, 0.4), (Some(0), f32::NAN)].into_iter().collect(),
            tariff_base_kw: [(None, 0.1), (Some(0), 0.2)].into_iter().collect(),
            feeder_mean_kw: [(Some(0), 0.5)].into_iter().collect(),
        };
        let proxies = Proxies {
            series: vec![DayProxy {
                first_day: 3,
                values: vec![1.0, f32::NAN, 0.9],
            }],
            group: vec![],
            groups: vec![
                (GroupKey::Feeder(0), None),
                (
                    GroupKey::Span {
                        zone: 0,
                        lo: 0,
                        hi: 48,
                    },
                    Some(0),
                ),
            ],
        };
        let grid = TimeGrid {
            start: 0,
            interval_secs: 1800,
            n_slots: 48,
        };
        let names = Names {
            tariffs: &["flat".to_string()],
            feeders: &["F1".to_string()],
            zones: &[chrono_tz::UTC],
        };
        Model::build(settings(), grid, 10, &levels, &proxies, names, None)
    }

    #[test]
    fn round_trips_with_nan_as_null() {
        let m = model();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("model.json");
        m.write(&p).unwrap();
        let back = Model::read(&p).unwrap();
        assert_eq!(back.to_bytes(), m.to_bytes());
        assert_eq!(back.tariff_levels[1].mean_kw, None);
        let sig = back.peer_groups[1].signal.as_ref().unwrap();
        assert_eq!(sig.values, vec![Some(1.0), None, Some(0.9)]);
        // Levels map back by name, to another run's ids; unknown names have no level.
        let names = Names {
            tariffs: &["other".to_string(), "flat".to_string()],
            feeders: &[],
            zones: &[chrono_tz::UTC],
        };
        let l = back.peer_levels(names);
        assert_eq!(l.tariff_base_kw.get(&Some(1)), Some(&0.2));
        assert_eq!(l.tariff_mean_kw.get(&None), Some(&0.4));
        assert!(!l.tariff_mean_kw.contains_key(&Some(0)));
        assert!(l.feeder_mean_kw.is_empty());
    }

    #[test]
    fn refuses_another_format_and_other_settings() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("model.json");
        let mut v = serde_json::to_value(model()).unwrap();
        v["format"] = serde_json::json!(MODEL_FORMAT + 1);
        std::fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
        let e = Model::read(&p).unwrap_err().to_string();
        assert!(
            e.contains(&format!("model format {}", MODEL_FORMAT + 1)),
            "{e}"
        );
        assert!(e.contains("fix: fit the model again"), "{e}");
        std::fs::write(&p, b"{\"a\": 1}").unwrap();
        let e = Model::read(&p).unwrap_err().to_string();
        assert!(e.contains("not a gridsleuth model"), "{e}");

        let m = model();
        let mut run = settings();
        assert!(m.check_settings(&p, &run).is_ok());
        run.score.flag_threshold = 0.6;
        run.tz = "Europe/London".into();
        let e = m.check_settings(&p, &run).unwrap_err().to_string();
        assert!(
            e.contains("[score] flag_threshold: model 0.5, this run 0.6"),
            "{e}"
        );
        assert!(
            e.contains("tz: model \"UTC\", this run \"Europe/London\""),
            "{e}"
        );
    }
}
