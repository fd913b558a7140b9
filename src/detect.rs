//! Detection: the stages after ingest, as one library call. Features (rayon) -> clustering
//! (linfa) -> scoring (rayon), each timed. Input: an [`Ingested`]; output: a [`Detection`] the
//! writers in `output::run_dir` turn into the run directory. Stages run one after the other:
//! polars (ingest) and rayon (here) each have a pool, and this machine has two cores.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono_tz::Tz;

use crate::cluster::{self, ClusterConfig, Clusters};
use crate::features::{self, Calendar, FeatureContext, MeterFeatures};
use crate::ingest::{Ingested, MeterInfo};
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
    pub calendar: Calendar,
    pub features: Vec<MeterFeatures>,
    pub clusters: Option<Clusters>,
    pub findings: Vec<Finding>,
    pub timings: Vec<(&'static str, Duration)>,
}

/// Segment ids (sorted names -> 0, 1, ...) of an optional per-meter attribute.
fn segments(
    meta: &[Option<&MeterInfo>],
    get: fn(&MeterInfo) -> Option<&String>,
) -> Vec<Option<u32>> {
    let names: BTreeMap<&String, u32> = {
        let mut set: Vec<&String> = meta.iter().filter_map(|m| m.and_then(get)).collect();
        set.sort();
        set.dedup();
        set.into_iter()
            .enumerate()
            .map(|(i, s)| (s, i as u32))
            .collect()
    };
    meta.iter()
        .map(|m| m.and_then(get).and_then(|s| names.get(s).copied()))
        .collect()
}

/// Runs features, clustering and scoring on ingested data.
pub fn detect(ing: &Ingested, cfg: &DetectConfig) -> Result<Detection, cluster::ClusterError> {
    let m = &ing.matrix;
    let mut timings = Vec::new();
    let t = Instant::now();
    let calendar = Calendar::new(&m.grid, cfg.tz.unwrap_or(chrono_tz::UTC));
    let meta: Vec<Option<&MeterInfo>> = (0..m.n_meters())
        .map(|i| {
            ing.meters
                .as_ref()
                .and_then(|(t, _)| t.get(&m.meter_ids()[i]))
        })
        .collect();
    let mut ctx = FeatureContext::new(m, &calendar);
    if let Some((w, _)) = &ing.weather {
        ctx = ctx.with_temperature(&w.temperature_c);
    }
    ctx.tariff = segments(&meta, |x| x.tariff.as_ref());
    ctx.feeder = segments(&meta, |x| x.feeder_id.as_ref());
    let features = features::compute(&ctx, true);
    drop(ctx);
    timings.push(("features", t.elapsed()));
    let t = Instant::now();
    let clusters = if m.n_meters() >= cfg.cluster.k.max(2) * 4 {
        Some(cluster::cluster(&features, &cfg.cluster)?)
    } else {
        None
    };
    timings.push(("cluster", t.elapsed()));
    let t = Instant::now();
    let findings = score::score_all(
        &features,
        clusters.as_ref(),
        &meta,
        &m.grid,
        &calendar,
        &cfg.score,
    );
    timings.push(("score", t.elapsed()));
    Ok(Detection {
        calendar,
        features,
        clusters,
        findings,
        timings,
    })
}
