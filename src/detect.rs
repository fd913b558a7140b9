//! Detection: the stages after ingest, as one library call. Features (rayon) -> clustering
//! (linfa) -> scoring (rayon), each timed. Input: an [`Ingested`] and optionally a [`Model`];
//! output: a [`Detection`] the writers in `output::run_dir` turn into the run directory, and the
//! model it scored with. Stages run one after the other: polars (ingest) and rayon (here) each
//! have a pool, and this machine has two cores.
//!
//! Global quantities (peer signals and levels, the clustering) come from the model when one is
//! given, else are fitted on the run's own meters into one: a meter's result depends only on
//! its row, its metadata and the model (see [`crate::model`]).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono_tz::Tz;
use rayon::prelude::*;

use crate::cluster::{self, ClusterConfig, ClusterModel, Clusters};
use crate::features::{self, Calendar, FeatureContext, MeterFeatures, PeerLevels};
use crate::ingest::{Ingested, MeterInfo};
use crate::model::{Model, ModelSettings, Names};
use crate::score::{self, Finding, ScoreConfig};

/// Detection settings.
#[derive(Debug, Clone, Default)]
pub struct DetectConfig {
    /// Zone of local days and hours (rhythm, night floors, onset dates).
    pub tz: Option<Tz>,
    pub cluster: ClusterConfig,
    pub score: ScoreConfig,
}

/// Everything detection produced.
#[derive(Debug)]
pub struct Detection {
    /// The grid's calendar in the run's zone (`--tz`, else UTC): zone 0.
    pub calendar: Calendar,
    /// Every other zone of the run's meters (zone `z` is `zones[z]`, its calendar
    /// `calendar_of(z)`), and each meter's zone.
    pub zones: Vec<Tz>,
    pub other_calendars: Vec<Calendar>,
    pub meter_zone: Vec<u16>,
    pub features: Vec<MeterFeatures>,
    pub clusters: Option<Clusters>,
    pub findings: Vec<Finding>,
    pub timings: Vec<(&'static str, Duration)>,
    /// The model scored with (given, or fitted on these meters).
    pub model: Model,
}

impl Detection {
    /// Calendar of zone `z`.
    pub fn calendar_of(&self, z: u16) -> &Calendar {
        match z {
            0 => &self.calendar,
            z => &self.other_calendars[z as usize - 1],
        }
    }
    /// Zone of meter `i`.
    pub fn zone_of(&self, i: usize) -> Tz {
        self.zones[self.meter_zone.get(i).copied().unwrap_or(0) as usize]
    }
}

/// Each meter's time zone: its `tz` in the meters file, else the zone at its lat/lon (offline
/// boundaries, tzf-rs), else `default`. Returns the distinct zones (`default` first) and each
/// meter's index into them.
pub fn meter_zones(meta: &[Option<&MeterInfo>], default: Tz) -> (Vec<Tz>, Vec<u16>) {
    // Meters to look up, by position at ~100 m: meters of one street share a lookup (at the
    // first one's coordinates). The distinct positions are looked up in parallel.
    let mut first: HashMap<(i64, i64), usize> = HashMap::new();
    let mut points: Vec<(f64, f64)> = Vec::new();
    let mut point_of: Vec<Option<usize>> = Vec::with_capacity(meta.len());
    for m in meta {
        let p = m.filter(|m| m.tz.is_none()).and_then(|m| {
            let (lat, lon) = (m.lat?, m.lon?);
            let key = ((lat * 1e3).round() as i64, (lon * 1e3).round() as i64);
            Some(*first.entry(key).or_insert_with(|| {
                points.push((lat, lon));
                points.len() - 1
            }))
        });
        point_of.push(p);
    }
    let found: Vec<Tz> = if points.is_empty() {
        Vec::new()
    } else {
        // Queried in place (3 ms to open, against 90 ms to expand the polygons of a
        // `DefaultFinder`); the same answers, slower only for points near a border.
        let finder = tzf_rs::EmbeddedFinder::new();
        points
            .par_iter()
            .map(|&(lat, lon)| {
                finder
                    .get_tz_name(lon, lat)
                    .parse::<Tz>()
                    .unwrap_or(default)
            })
            .collect()
    };
    let mut zones = vec![default];
    let of_meter = meta
        .iter()
        .zip(&point_of)
        .map(|(m, p)| {
            let tz = match (m.and_then(|m| m.tz), p) {
                (Some(tz), _) => tz,
                (None, Some(k)) => found[*k],
                (None, None) => default,
            };
            match zones.iter().position(|z| *z == tz) {
                Some(k) => k as u16,
                None => {
                    zones.push(tz);
                    (zones.len() - 1) as u16
                }
            }
        })
        .collect();
    (zones, of_meter)
}

/// Segment names (sorted) and each meter's segment id (index into them) of an optional
/// per-meter attribute.
fn segments(
    meta: &[Option<&MeterInfo>],
    get: fn(&MeterInfo) -> Option<&String>,
) -> (Vec<String>, Vec<Option<u32>>) {
    // Distinct names first (a hash set: a region has few tariffs and feeders, many meters).
    let distinct: std::collections::HashSet<&String> =
        meta.iter().filter_map(|m| m.and_then(get)).collect();
    let mut set: Vec<&String> = distinct.into_iter().collect();
    set.sort();
    let names: HashMap<&String, u32> = set
        .iter()
        .enumerate()
        .map(|(i, s)| (*s, i as u32))
        .collect();
    let ids = meta
        .iter()
        .map(|m| m.and_then(get).and_then(|s| names.get(s).copied()))
        .collect();
    (set.into_iter().cloned().collect(), ids)
}

impl DetectConfig {
    /// The settings a model records (and a run scoring with one must match).
    pub fn model_settings(&self, weather: bool) -> ModelSettings {
        ModelSettings {
            tz: self.tz.unwrap_or(chrono_tz::UTC).name().to_string(),
            weather,
            cluster: self.cluster.clone(),
            score: self.score.clone(),
        }
    }
}

/// What the stages read of a run besides the matrix: calendars and zones, each meter's
/// metadata, tariff and feeder segments.
#[derive(Debug)]
pub(crate) struct Prepared<'a> {
    pub calendar: Calendar,
    pub zones: Vec<Tz>,
    pub other_calendars: Vec<Calendar>,
    pub meter_zone: Vec<u16>,
    pub meta: Vec<Option<&'a MeterInfo>>,
    pub tariff_names: Vec<String>,
    pub tariff: Vec<Option<u32>>,
    pub feeder_names: Vec<String>,
    pub feeder: Vec<Option<u32>>,
}

impl<'a> Prepared<'a> {
    pub fn of(ing: &'a Ingested, cfg: &DetectConfig) -> Self {
        let m = &ing.matrix;
        let default_tz = cfg.tz.unwrap_or(chrono_tz::UTC);
        let calendar = Calendar::new(&m.grid, default_tz);
        let meta: Vec<Option<&MeterInfo>> = (0..m.n_meters())
            .into_par_iter()
            .map(|i| {
                ing.meters
                    .as_ref()
                    .and_then(|(t, _)| t.get(&m.meter_ids()[i]))
            })
            .collect();
        let (zones, meter_zone) = meter_zones(&meta, default_tz);
        let other_calendars: Vec<Calendar> = zones[1..]
            .iter()
            .map(|z| Calendar::new(&m.grid, *z))
            .collect();
        let (tariff_names, tariff) = segments(&meta, |x| x.tariff.as_ref());
        let (feeder_names, feeder) = segments(&meta, |x| x.feeder_id.as_ref());
        Prepared {
            calendar,
            zones,
            other_calendars,
            meter_zone,
            meta,
            tariff_names,
            tariff,
            feeder_names,
            feeder,
        }
    }

    /// The feature kernels' context.
    pub fn context<'b>(&'b self, ing: &'b Ingested) -> FeatureContext<'b> {
        let mut cals: Vec<&Calendar> = vec![&self.calendar];
        cals.extend(self.other_calendars.iter());
        let mut ctx = FeatureContext::new(&ing.matrix, &self.calendar)
            .with_zones(cals, self.meter_zone.clone());
        if let Some((w, _)) = &ing.weather {
            ctx = ctx.with_temperature(&w.temperature_c);
        }
        ctx.tariff = self.tariff.clone();
        ctx.feeder = self.feeder.clone();
        ctx
    }
}

/// Whether a population of `n` meters is clustered.
pub(crate) fn clusters_fit(n: usize, cfg: &ClusterConfig) -> bool {
    n >= cfg.k.max(2) * 4
}

/// Runs features, clustering and scoring on ingested data, fitting the model on its meters.
pub fn detect(ing: &Ingested, cfg: &DetectConfig) -> Result<Detection, cluster::ClusterError> {
    detect_with(ing, cfg, None)
}

/// Runs features, clustering and scoring on ingested data with `model` (any subset of the
/// meters it was fitted on, or others on its grid), else fitting one on these meters. The
/// caller checks that the model's settings are `cfg`'s ([`Model::check_settings`]).
pub fn detect_with(
    ing: &Ingested,
    cfg: &DetectConfig,
    model: Option<&Model>,
) -> Result<Detection, cluster::ClusterError> {
    let mut timings = Vec::new();
    let t = Instant::now();
    let m = &ing.matrix;
    let p = Prepared::of(ing, cfg);
    let Prepared {
        calendar,
        zones,
        other_calendars,
        meter_zone,
        meta,
        tariff_names,
        feeder_names,
        ..
    } = &p;
    let ctx = p.context(ing);
    let names = Names {
        tariffs: tariff_names,
        feeders: feeder_names,
        zones,
    };
    let (views, of) = ctx.views();
    let proxies = match model {
        Some(md) => md.proxies(&ctx, &views, &of, names),
        None => features::peer_proxy(&ctx, &views, &of, true),
    };
    let mut features = features::compute_own(&ctx, &views, &of, &proxies, true);
    let levels = match model {
        Some(md) => md.peer_levels(names),
        None => PeerLevels::of(&features, &ctx.tariff, &ctx.feeder),
    };
    levels.apply(&mut features, &ctx.tariff, &ctx.feeder);
    drop((ctx, views, of));
    timings.push(("features", t.elapsed()));
    let t = Instant::now();
    let fitted;
    let cluster_model = match model {
        Some(md) => md.cluster.as_ref(),
        None => {
            fitted = if clusters_fit(m.n_meters(), &cfg.cluster) {
                Some(ClusterModel::fit(&features, &cfg.cluster)?)
            } else {
                None
            };
            fitted.as_ref()
        }
    };
    let clusters = match cluster_model {
        Some(c) if m.n_meters() > 0 => Some(c.assign(&features)?),
        _ => None,
    };
    let model = match model {
        Some(md) => md.clone(),
        None => Model::build(
            cfg.model_settings(ing.weather.is_some()),
            m.grid,
            m.n_meters(),
            &levels,
            &proxies,
            names,
            cluster_model.cloned(),
        ),
    };
    timings.push(("cluster", t.elapsed()));
    let t = Instant::now();
    let all_cals: Vec<&Calendar> = std::iter::once(calendar)
        .chain(other_calendars.iter())
        .collect();
    let findings = score::score_all(
        &features,
        clusters.as_ref(),
        meta,
        &m.grid,
        &all_cals,
        meter_zone,
        &cfg.score,
    );
    drop(all_cals);
    timings.push(("score", t.elapsed()));
    let Prepared {
        calendar,
        zones,
        other_calendars,
        meter_zone,
        ..
    } = p;
    Ok(Detection {
        calendar,
        zones,
        other_calendars,
        meter_zone,
        features,
        clusters,
        findings,
        timings,
        model,
    })
}
