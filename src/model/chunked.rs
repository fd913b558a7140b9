//! Detection in chunks of meters, for inputs whose matrix does not fit the memory budget: the
//! model is fitted in a first pass over the chunks from per-meter summaries, then each chunk is
//! scored with it, so memory holds one chunk's rows at a time and the result equals the
//! in-memory run (a test checks it at four chunks).
//!
//! Pass 1 ([`fit_chunked`]) keeps per meter only what the model needs: its own features
//! (everything but the peer ratios and the peer-signal fits; ~300 bytes), its tariff, feeder,
//! zone and span, and its normalised daily load (4 bytes a day) for the peer signals. From these
//! it computes exactly what the in-memory run computes: the peer levels, the peer groups and
//! their signals (on the same evenly spaced sample), the clustering (standardised on every
//! meter, fitted on the same seeded sample). Pass 2 ([`detect_chunks`]) reads each chunk again
//! and runs `detect::detect_with` with the model.
//!
//! A chunk source ([`Chunks`]) gives whole meters on one grid, in meter-id order, each meter in
//! one chunk, or a chunk without usable readings ([`Chunk::Empty`], its log only):
//! [`ParquetChunks`] reads consecutive row groups of Parquet files sorted by meter (as
//! `gen_region.py` and most exports write them; several files: each meter in one file, the
//! files in meter order), with the meters file read once; the passes refuse chunks that overlap.

use std::collections::BTreeMap;
use std::ops::Range;

use chrono_tz::Tz;

use crate::cluster::ClusterModel;
use crate::detect::{clusters_fit, DetectConfig, Detection, Prepared};
use crate::features::proxy::{self, GroupKey, Proxies};
use crate::features::{self, Calendar, MeterFeatures, PeerLevels, View};
use crate::grid::TimeGrid;
use crate::ingest::{IngestError, IngestOptions, Ingested, MetersFile, QualityLog};

use super::{Model, Names};

/// A failure of a chunked run.
#[derive(Debug, thiserror::Error)]
pub enum ChunkedError {
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error(transparent)]
    Cluster(#[from] crate::cluster::ClusterError),
    #[error("{what}\n  fix: {fix}")]
    Chunks { what: String, fix: String },
}

fn chunk_error(what: String) -> ChunkedError {
    ChunkedError::Chunks {
        what,
        fix: "streamed runs need the readings sorted by meter with no meter across row groups \
              (several files: each meter in one file, the files in meter order) and one fixed \
              window (--start/--end, --interval): sort the readings by meter, or raise \
              --memory-budget so the run fits in memory"
            .into(),
    }
}

/// A chunk as read: its meters, or none when every reading of it was quarantined or left out
/// (its quality log, which the run's still counts).
#[derive(Debug)]
pub enum Chunk {
    Meters(Box<Ingested>),
    Empty(QualityLog),
}

/// Whole meters in chunks, in meter-id order.
pub trait Chunks {
    /// Number of chunks.
    fn count(&self) -> usize;
    /// Loads chunk `k` (every reading of its meters, on the run's grid).
    fn load(&mut self, k: usize) -> Result<Chunk, ChunkedError>;
}

/// Chunks of consecutive row groups of Parquet readings sorted by meter, in one file or in
/// several (a chunk never spans two files), with the meters file read once for all.
#[derive(Debug, Clone)]
pub struct ParquetChunks {
    pub ingest: IngestOptions,
    /// Per chunk: the file (index in `ingest.readings`) and its row groups.
    pub groups: Vec<(usize, Range<usize>)>,
    meters: Option<MetersFile>,
}

impl ParquetChunks {
    /// Plans chunks of at most `max_rows` readings (at least one row group each) over the row
    /// groups of the Parquet files of `ingest`, file after file, and reads the meters file.
    pub fn plan(ingest: &IngestOptions, max_rows: usize) -> Result<Self, ChunkedError> {
        if ingest.acc.window.is_none() || ingest.acc.interval_secs.is_none() {
            return Err(chunk_error(
                "a streamed run needs its window and interval given".into(),
            ));
        }
        let mut groups = Vec::new();
        for (f, path) in ingest.readings.iter().enumerate() {
            let rows = crate::ingest::long_parquet::row_group_rows(path)?;
            let (mut start, mut acc) = (0usize, 0usize);
            for (g, &n) in rows.iter().enumerate() {
                if g > start && acc + n > max_rows {
                    groups.push((f, start..g));
                    start = g;
                    acc = 0;
                }
                acc += n;
            }
            if start < rows.len() {
                groups.push((f, start..rows.len()));
            }
        }
        Ok(ParquetChunks {
            ingest: ingest.clone(),
            groups,
            meters: crate::ingest::read_meters_file(ingest)?,
        })
    }

    /// The meters file, read once.
    pub fn meters(&self) -> Option<&MetersFile> {
        self.meters.as_ref()
    }
}

impl Chunks for ParquetChunks {
    fn count(&self) -> usize {
        self.groups.len()
    }

    fn load(&mut self, k: usize) -> Result<Chunk, ChunkedError> {
        let (f, groups) = &self.groups[k];
        let mut opts = self.ingest.clone();
        opts.readings = vec![self.ingest.readings[*f].clone()];
        opts.row_groups = Some(groups.clone());
        match crate::ingest::load_chunk(&opts, self.meters.as_ref()) {
            Ok(ing) => Ok(Chunk::Meters(Box::new(ing))),
            Err(IngestError::Empty { quality, .. }) => Ok(Chunk::Empty(*quality)),
            Err(e) => Err(e.into()),
        }
    }
}

/// The error of a run none of whose chunks had usable readings: the in-memory run's, with the
/// log over every chunk.
pub fn no_usable_readings(quality: Option<QualityLog>) -> ChunkedError {
    match quality {
        Some(mut quality) => {
            quality.sort();
            ChunkedError::Ingest(IngestError::Empty {
                what: "readings".into(),
                quality: Box::new(quality),
            })
        }
        None => chunk_error("no chunk of readings".into()),
    }
}

/// Folds a chunk's readings log into the run's.
pub fn absorb(log: &mut Option<QualityLog>, q: QualityLog) {
    match log.as_mut() {
        Some(l) => l.absorb(q),
        None => *log = Some(q),
    }
}

/// Checks that chunk `ing` follows the previous ones: same grid, meter ids after theirs.
fn check_chunk(
    k: usize,
    ing: &Ingested,
    grid: &mut Option<TimeGrid>,
    last_id: &mut Option<Box<str>>,
) -> Result<(), ChunkedError> {
    let m = &ing.matrix;
    match grid {
        Some(g) if *g != m.grid => {
            return Err(chunk_error(format!(
                "chunk {k} of the readings lies on another time grid than chunk 0"
            )))
        }
        Some(_) => {}
        None => *grid = Some(m.grid),
    }
    if let (Some(prev), Some(first)) = (last_id.as_ref(), m.meter_ids().first()) {
        if first <= prev {
            return Err(chunk_error(format!(
                "meter {first} of chunk {k} comes at or before meter {prev} of an earlier chunk"
            )));
        }
    }
    if let Some(l) = m.meter_ids().last() {
        *last_id = Some(l.clone());
    }
    Ok(())
}

/// Interns names in order of first appearance.
#[derive(Debug, Default)]
struct Interner<T: Ord + Clone> {
    ids: BTreeMap<T, u32>,
    names: Vec<T>,
}

impl<T: Ord + Clone> Interner<T> {
    fn id(&mut self, x: &T) -> u32 {
        if let Some(&i) = self.ids.get(x) {
            return i;
        }
        let i = self.names.len() as u32;
        self.ids.insert(x.clone(), i);
        self.names.push(x.clone());
        i
    }
}

/// What [`fit_chunked`] fitted.
#[derive(Debug)]
pub struct ChunkedFit {
    pub model: Model,
    /// Chunks read.
    pub chunks: usize,
    /// Whether any chunk quarantined readings (see `run` on the chunk for which).
    pub quarantined: bool,
}

/// Pass 1: fits the model on every meter of `chunks`, holding one chunk's rows at a time.
pub fn fit_chunked(
    chunks: &mut dyn Chunks,
    cfg: &DetectConfig,
) -> Result<ChunkedFit, ChunkedError> {
    let default_tz = cfg.tz.unwrap_or(chrono_tz::UTC);
    let mut feats: Vec<MeterFeatures> = Vec::new();
    let (mut tariffs, mut feeders) = (Interner::<String>::default(), Interner::default());
    // Zones in order of first appearance, the run's own first (as `detect::meter_zones`).
    let mut zones: Vec<Tz> = vec![default_tz];
    let mut tariff_of: Vec<Option<u32>> = Vec::new();
    let mut feeder_of: Vec<Option<u32>> = Vec::new();
    let mut span_of: Vec<(u16, usize, usize)> = Vec::new();
    let mut norm: Vec<Vec<f32>> = Vec::new();
    let (mut grid, mut last_id) = (None, None);
    let mut temperature: Option<Vec<f32>> = None;
    let mut weather = false;
    let mut quarantined = false;
    // The readings logs of chunks without usable readings, for the error when none has any.
    let mut empty_log: Option<QualityLog> = None;
    for k in 0..chunks.count() {
        let ing = match chunks.load(k)? {
            Chunk::Meters(ing) => ing,
            Chunk::Empty(q) => {
                quarantined |= q.readings_quarantined() > 0;
                absorb(&mut empty_log, q);
                continue;
            }
        };
        check_chunk(k, &ing, &mut grid, &mut last_id)?;
        quarantined |= crate::output::summary::IngestReport::of(&ing).any_quarantined();
        if feats.is_empty() {
            // The first chunk with meters.
            weather = ing.weather.is_some();
            temperature = ing.weather.as_ref().map(|(w, _)| w.temperature_c.clone());
        }
        let p = Prepared::of(&ing, cfg);
        let ctx = p.context(&ing);
        let (views, of) = ctx.views();
        let n = ing.matrix.n_meters();
        let none = Proxies {
            series: Vec::new(),
            group: vec![None; n],
            groups: Vec::new(),
        };
        feats.extend(features::compute_own(&ctx, &views, &of, &none, true));
        let zone_ids: Vec<u32> = p
            .zones
            .iter()
            .map(|z| match zones.iter().position(|x| x == z) {
                Some(i) => i as u32,
                None => {
                    zones.push(*z);
                    (zones.len() - 1) as u32
                }
            })
            .collect();
        for i in 0..n {
            tariff_of.push(p.tariff[i].map(|t| tariffs.id(&p.tariff_names[t as usize])));
            feeder_of.push(p.feeder[i].map(|f| feeders.id(&p.feeder_names[f as usize])));
            let v = &views[of[i] as usize];
            span_of.push((
                zone_ids[v.zone as usize] as u16,
                v.offset,
                v.offset + v.len(),
            ));
            norm.push(proxy::normalised_daily(&ing.matrix, v, i));
        }
    }
    let Some(grid) = grid else {
        return Err(no_usable_readings(empty_log));
    };
    let n = feats.len();
    // Segment ids as the in-memory run numbers them: sorted names.
    let sorted = |it: &Interner<String>, of: &[Option<u32>]| -> (Vec<String>, Vec<Option<u32>>) {
        let mut names = it.names.clone();
        names.sort();
        let rank: BTreeMap<&String, u32> = names
            .iter()
            .enumerate()
            .map(|(i, s)| (s, i as u32))
            .collect();
        let remap: Vec<u32> = it.names.iter().map(|s| rank[s]).collect();
        let ids = of.iter().map(|x| x.map(|i| remap[i as usize])).collect();
        (names, ids)
    };
    let (tariff_names, tariff) = sorted(&tariffs, &tariff_of);
    let (feeder_names, feeder) = sorted(&feeders, &feeder_of);
    drop((tariff_of, feeder_of));
    let levels = PeerLevels::of(&feats, &tariff, &feeder);
    levels.apply(&mut feats, &tariff, &feeder);
    let cluster = if clusters_fit(n, &cfg.cluster) {
        Some(ClusterModel::fit(&feats, &cfg.cluster)?)
    } else {
        None
    };
    drop(feats);
    // Peer signals: the same groups, sample and medians as `features::peer_proxy`.
    let calendars: Vec<Calendar> = zones.iter().map(|z| Calendar::new(&grid, *z)).collect();
    let mut views: BTreeMap<(u16, usize, usize), View> = BTreeMap::new();
    for &(z, lo, hi) in &span_of {
        views.entry((z, lo, hi)).or_insert_with(|| {
            View::new(&calendars[z as usize], z, lo..hi, temperature.as_deref())
        });
    }
    let keys = proxy::group_keys(&feeder, &|i| {
        let (zone, lo, hi) = span_of[i];
        GroupKey::Span { zone, lo, hi }
    });
    let (members, sampled) = proxy::members_and_sample(&keys);
    let mut in_sample = vec![false; n];
    for i in sampled {
        in_sample[i] = true;
    }
    let proxies = proxy::assemble(n, members, &|i| &views[&span_of[i]].grid_day, &|i| {
        in_sample[i].then(|| norm[i].as_slice())
    });
    let model = Model::build(
        cfg.model_settings(weather),
        grid,
        n,
        &levels,
        &proxies,
        Names {
            tariffs: &tariff_names,
            feeders: &feeder_names,
            zones: &zones,
        },
        cluster,
    );
    Ok(ChunkedFit {
        model,
        chunks: chunks.count(),
        quarantined,
    })
}

/// A chunk of pass 2: its meters and their detection, or its log when it had no usable
/// readings.
#[derive(Debug)]
pub enum Scored {
    Meters(Box<(Ingested, Detection)>),
    Empty(QualityLog),
}

/// Pass 2: scores every chunk with `model`, handing each chunk and its detection to `sink` in
/// order (which writes its outputs and drops them). A chunk's ranks are its own: a streamed run
/// ranks over all chunks at the end.
pub fn detect_chunks<E: From<ChunkedError>>(
    chunks: &mut dyn Chunks,
    cfg: &DetectConfig,
    model: &Model,
    sink: &mut dyn FnMut(usize, Scored) -> Result<(), E>,
) -> Result<(), E> {
    let (mut grid, mut last_id) = (Some(model.grid), None);
    for k in 0..chunks.count() {
        let ing = match chunks.load(k)? {
            Chunk::Meters(ing) => ing,
            Chunk::Empty(q) => {
                sink(k, Scored::Empty(q))?;
                continue;
            }
        };
        check_chunk(k, &ing, &mut grid, &mut last_id)?;
        let det = crate::detect::detect_with(&ing, cfg, Some(model)).map_err(ChunkedError::from)?;
        sink(k, Scored::Meters(Box::new((*ing, det))))?;
    }
    Ok(())
}
