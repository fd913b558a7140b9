//! The region driver: weather, population, feeders, then meters in chunks, generated in parallel
//! and written in order, then the feeder series.
//!
//! Input: validated [`RegionSettings`], the grid, zone and seed, a rayon pool. Output: the files
//! of a region in the output directory and the counts for the summary.
//! Invariants: memory is one chunk of meters (plus one in the writer) and one f64 per feeder
//! and slot; feeder sums are added in meter order, so they, like every file, do not depend on
//! `--chunk-meters` or `--threads`. Feeder input = sum of its meters' true consumption (missing
//! readings included) + bypassed rigs + technical losses
//! `loss_share * P + loss_quadratic * P^2 / mean(P)` (I^2 R losses grow with the square of the
//! load; normalised by the feeder's mean load, `loss_quadratic` is the extra share at average
//! load).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::sync_channel;

use rayon::prelude::*;

use super::calendar::{Calendar, HourlyWeather};
use super::kinds::{assign_kinds, Kind};
use super::meter::{generate, plan_feeders, FeederPlan, MeterOutput, MeterPlan};
use super::params::{RegionSettings, Resolved};
use super::write::{
    iso, push_kwh, round_wh, ReadingsWriter, Table, WriteFailure, LABELS_HEADER, METERS_HEADER,
};
use super::SynthError;
use crate::grid::TimeGrid;

/// Counts of a finished region.
#[derive(Debug, Default)]
pub struct RegionCounts {
    pub kinds: BTreeMap<String, u64>,
    pub feeders: usize,
    pub readings: u64,
    pub missing: u64,
    pub estimated: u64,
    pub bypass_kwh: f64,
    pub feeder_rows: u64,
    pub weather_rows: u64,
    pub files: Vec<PathBuf>,
}

fn write_err(e: WriteFailure) -> SynthError {
    SynthError::Write {
        path: e.path,
        source: e.message.into(),
    }
}

/// What the writer thread gets of a meter (the feeder series stays with the generator).
struct ToWrite {
    plan: MeterPlan,
    readings: Vec<f64>,
}

/// Writes meters.csv, labels.csv and readings, in meter order, from a channel of chunks.
fn writer_loop(
    rx: std::sync::mpsc::Receiver<Vec<ToWrite>>,
    dir: &Path,
    csv: bool,
    gzip: bool,
    cal: &Calendar,
    feeders: &[FeederPlan],
) -> Result<(u64, Vec<PathBuf>), WriteFailure> {
    let mut readings = ReadingsWriter::create(dir, csv, gzip, cal.grid)?;
    let mut meters = Table::create(dir.join("meters.csv"), &METERS_HEADER)?;
    let mut labels = Table::create(dir.join("labels.csv"), &LABELS_HEADER)?;
    for chunk in rx {
        for m in chunk {
            meters.row(m.plan.meter_record(feeders, cal.tz.name()))?;
            labels.row(m.plan.label(feeders).record(cal))?;
            readings.push(&m.plan.id, &m.readings)?;
        }
    }
    let path = readings.path().to_path_buf();
    let rows = readings.finish()?;
    Ok((rows, vec![path, meters.finish()?, labels.finish()?]))
}

/// Generates the region into `res.out`.
pub fn run_region(
    res: &Resolved,
    set: &RegionSettings,
    grid: TimeGrid,
    pool: &rayon::ThreadPool,
) -> Result<RegionCounts, SynthError> {
    let (tz, seed, dir) = (res.tz, res.settings.seed, res.out.as_path());
    let (csv, gzip, chunk_meters) = (res.csv, res.settings.gzip, res.settings.chunk_meters);
    let mut counts = RegionCounts::default();
    let weather = HourlyWeather::generate(&grid, tz, seed);
    counts.weather_rows = weather.temperature_c.len() as u64;
    let cal = Calendar::new(grid, tz, weather.on_slots(&grid));
    let wpath = dir.join("weather.csv");
    let mut wt = Table::create(wpath, &["timestamp", "temperature_c"]).map_err(write_err)?;
    for (h, t) in weather.temperature_c.iter().enumerate() {
        wt.row([iso(weather.start + h as i64 * 3600), format!("{t:.1}")])
            .map_err(write_err)?;
    }
    let wpath = wt.finish().map_err(write_err)?;

    let n = set.meters;
    let kinds = pool.install(|| assign_kinds(&set.shares, n, seed));
    let n_feeders = n.div_ceil(set.meters_per_feeder);
    counts.feeders = n_feeders;
    let feeders = plan_feeders(n_feeders, &cal, set, seed);
    let n_slots = grid.n_slots;
    let mut feeder_kwh = vec![0.0f64; n_feeders * n_slots];

    let (tx, rx) = sync_channel::<Vec<ToWrite>>(1);
    let written = std::thread::scope(|scope| {
        let writer = scope.spawn(|| writer_loop(rx, dir, csv, gzip, &cal, &feeders));
        let mut start = 0;
        while start < n {
            let end = (start + chunk_meters).min(n);
            let outputs: Vec<MeterOutput> = pool.install(|| {
                (start..end)
                    .into_par_iter()
                    .map(|i| {
                        let plan = MeterPlan::draw(i, n, kinds[i], &cal, &feeders, set, seed);
                        generate(plan, &cal, &feeders, set, seed)
                    })
                    .collect()
            });
            let mut chunk = Vec::with_capacity(outputs.len());
            for m in outputs {
                // In meter order: the sums do not depend on chunking.
                let f = m.plan.feeder;
                for (acc, v) in feeder_kwh[f * n_slots..(f + 1) * n_slots]
                    .iter_mut()
                    .zip(&m.feeder_kwh)
                {
                    *acc += v;
                }
                *counts
                    .kinds
                    .entry(m.plan.kind.as_str().to_string())
                    .or_default() += 1;
                counts.missing += m.missing;
                counts.estimated += m.estimated;
                counts.bypass_kwh += m.bypass_kwh;
                chunk.push(ToWrite {
                    plan: m.plan,
                    readings: m.readings,
                });
            }
            if tx.send(chunk).is_err() {
                // The writer stopped on an error; it is reported by join below.
                break;
            }
            start = end;
        }
        drop(tx);
        writer.join()
    });
    let (rows, files) = match written {
        Ok(r) => r.map_err(write_err)?,
        Err(_) => {
            return Err(SynthError::Write {
                path: dir.to_path_buf(),
                source: "the writer thread panicked".into(),
            })
        }
    };
    counts.readings = rows;
    counts.files.extend(files);
    counts.files.push(wpath);
    let fpath = dir.join("feeders.csv");
    counts.feeder_rows =
        write_feeders(&fpath, &feeders, &feeder_kwh, &cal, set).map_err(write_err)?;
    counts.files.push(fpath);
    for k in Kind::ALL {
        counts.kinds.entry(k.as_str().to_string()).or_default();
    }
    Ok(counts)
}

/// Technical losses (kW) of a feeder delivering `p_kw`, whose mean delivery is `mean_kw`.
pub fn losses_kw(p_kw: f64, mean_kw: f64, loss_share: f64, loss_quadratic: f64) -> f64 {
    let quadratic = if mean_kw > 0.0 {
        loss_quadratic * p_kw * p_kw / mean_kw
    } else {
        0.0
    };
    loss_share * p_kw + quadratic
}

fn write_feeders(
    path: &Path,
    feeders: &[FeederPlan],
    kwh: &[f64],
    cal: &Calendar,
    set: &RegionSettings,
) -> Result<u64, WriteFailure> {
    let n_slots = cal.n_slots();
    let hours = cal.hours();
    let stamps: Vec<String> = (0..n_slots).map(|s| iso(cal.grid.slot_start(s))).collect();
    let mut t = Table::create(path.to_path_buf(), &["feeder_id", "timestamp", "kwh"])?;
    let mut buf = Vec::new();
    for (f, fp) in feeders.iter().enumerate() {
        let row = &kwh[f * n_slots..(f + 1) * n_slots];
        let mean_kw = row.iter().sum::<f64>() / (n_slots.max(1) as f64 * hours);
        for (s, &delivered) in row.iter().enumerate() {
            let p_kw = delivered / hours;
            let input =
                (p_kw + losses_kw(p_kw, mean_kw, set.loss_share, set.loss_quadratic)) * hours;
            buf.clear();
            push_kwh(&mut buf, round_wh(input));
            t.row([fp.id.as_bytes(), stamps[s].as_bytes(), &buf])?;
        }
    }
    let rows = t.rows;
    t.finish()?;
    Ok(rows)
}
