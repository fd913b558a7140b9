//! `--inject-into`: real readings with rigs added to a share of the meters, labelled. This is
//! how detection quality is measured on real homes (e.g. the London files).
//!
//! Input: readings loaded through the normal ingest path (`settings::resolve_ingest` +
//! `ingest::load`, so every ingest format and column option works), the rig mix and share.
//! Output: `readings.*` (same long form as a region), `labels.csv`, `meters.csv`.
//! Invariants: a missing slot stays missing (no rig energy is injected into a gap); meters without
//! a rig are written unchanged (to 1 Wh) with kind `household`; the injected meters and their rigs
//! depend only on (seed, meter index in id order). Kinds that cannot live in a real home's
//! readings are not injected: `mining_pure` (the home is there) and `mining_bypass` (invisible in
//! meter data, and there is no feeder here).

use std::collections::BTreeMap;
use std::path::PathBuf;

use rand::Rng as _;
use rayon::prelude::*;

use super::calendar::Calendar;
use super::kinds::Kind;
use super::meter::Label;
use super::params::{InjectSettings, Resolved};
use super::rig::RigPlan;
use super::seed::{rng, Stream};
use super::write::{round_wh, ReadingsWriter, Table, WriteFailure, LABELS_HEADER, METERS_HEADER};
use super::SynthError;
use crate::ingest::ValueUnit;
use crate::settings::IngestFlags;

/// Counts of a finished injection.
#[derive(Debug, Default)]
pub struct InjectCounts {
    pub meters: usize,
    pub slots: usize,
    pub interval_secs: u32,
    pub start: i64,
    pub kinds: BTreeMap<String, u64>,
    pub readings: u64,
    pub missing: u64,
    pub injected_kwh: f64,
    pub input_quarantined: u64,
    pub files: Vec<PathBuf>,
}

fn write_err(e: WriteFailure) -> SynthError {
    SynthError::Write {
        path: e.path,
        source: e.message.into(),
    }
}

fn injectable(k: Kind) -> bool {
    !matches!(k, Kind::MiningPure | Kind::MiningBypass)
}

/// Loads the readings, injects, writes.
pub fn run_inject(
    res: &Resolved,
    inj: &InjectSettings,
    unit: Option<ValueUnit>,
    pool: &rayon::ThreadPool,
) -> Result<InjectCounts, SynthError> {
    if inj
        .mining_mix
        .draw(&mut rng(0, Stream::Plan, 0), injectable)
        .is_none()
    {
        return Err(SynthError::Option {
            option: "--mining-mix".into(),
            message: "no rig kind that can be injected (pure and bypass rigs cannot be added to \
                      a real home's readings)"
                .into(),
            fix: "give weight to mixed, night, intermittent, growth or small".into(),
        });
    }
    let ia = IngestFlags {
        readings: inj.readings.clone(),
        meter_col: inj.meter_col.clone(),
        time_col: inj.time_col.clone(),
        value_col: inj.value_col.clone(),
        unit,
        tz: Some(res.settings.tz.clone()),
        out: res.out.clone(),
        ..IngestFlags::default()
    };
    let opts = crate::settings::resolve_ingest(&ia, false).map_err(|e| SynthError::Inject {
        source: Box::new(e),
    })?;
    let ing = crate::ingest::load(&opts).map_err(|e| SynthError::Inject {
        source: Box::new(e),
    })?;
    let m = &ing.matrix;
    let (n, grid) = (m.n_meters(), m.grid);
    let cal = Calendar::new(grid, res.tz, Vec::new());
    let hours = cal.hours();
    let seed = res.settings.seed;

    // Exactly round(share * n) meters, chosen by a seeded shuffle of the ids' order.
    let n_inj = ((inj.share * n as f64).round() as usize).min(n);
    let mut order: Vec<usize> = (0..n).collect();
    let mut r = rng(seed, Stream::InjectSelect, 0);
    for i in (1..n).rev() {
        order.swap(i, r.gen_range(0..=i));
    }
    let mut chosen = vec![false; n];
    for &i in &order[..n_inj] {
        chosen[i] = true;
    }

    let mut counts = InjectCounts {
        meters: n,
        slots: grid.n_slots,
        interval_secs: grid.interval_secs,
        start: grid.start,
        input_quarantined: ing.quality.readings_quarantined(),
        ..InjectCounts::default()
    };
    let dir = &res.out;
    let mut readings =
        ReadingsWriter::create(dir, res.csv, res.settings.gzip, grid).map_err(write_err)?;
    let mut meters = Table::create(dir.join("meters.csv"), &METERS_HEADER).map_err(write_err)?;
    let mut labels = Table::create(dir.join("labels.csv"), &LABELS_HEADER).map_err(write_err)?;
    let mut start = 0;
    while start < n {
        let end = (start + res.settings.chunk_meters).min(n);
        let chunk: Vec<(Kind, Option<RigPlan>, Vec<f64>, f64)> = pool.install(|| {
            (start..end)
                .into_par_iter()
                .map(|i| {
                    let row = m.row(i);
                    let mut out: Vec<f64> = row
                        .iter()
                        .map(|&v| {
                            if v.is_nan() {
                                f64::NAN
                            } else {
                                round_wh(f64::from(v))
                            }
                        })
                        .collect();
                    if !chosen[i] {
                        return (Kind::Household, None, out, 0.0);
                    }
                    let mut pr = rng(seed, Stream::Plan, i as u64);
                    let kind = inj
                        .mining_mix
                        .draw(&mut pr, injectable)
                        .unwrap_or(Kind::MiningMixed);
                    let rig = RigPlan::draw(kind, &cal, &mut pr);
                    let mut kw = vec![0.0f64; grid.n_slots];
                    rig.render(&cal, &mut rng(seed, Stream::Load, i as u64), &mut kw);
                    let mut added = 0.0;
                    for ((o, &v), k) in out.iter_mut().zip(row).zip(&kw) {
                        if !v.is_nan() {
                            *o = round_wh(f64::from(v) + k * hours);
                            added += k * hours;
                        }
                    }
                    (kind, Some(rig), out, added)
                })
                .collect()
        });
        for (j, (kind, rig, out, added)) in chunk.into_iter().enumerate() {
            let id = &*m.meter_ids()[start + j];
            *counts.kinds.entry(kind.as_str().to_string()).or_default() += 1;
            counts.injected_kwh += added;
            counts.missing += out.iter().filter(|v| v.is_nan()).count() as u64;
            let label = Label {
                id,
                kind,
                rig: rig.as_ref(),
                tariff: "",
                feeder_id: "",
                estimated_days: &[],
                gap_days: &[],
            };
            labels.row(label.record(&cal)).map_err(write_err)?;
            meters
                .row([id, "", "", "", "", "", "false", "", res.tz.name()])
                .map_err(write_err)?;
            readings.push(id, &out).map_err(write_err)?;
        }
        start = end;
    }
    let rpath = readings.path().to_path_buf();
    counts.readings = readings.finish().map_err(write_err)?;
    counts.files = vec![
        rpath,
        meters.finish().map_err(write_err)?,
        labels.finish().map_err(write_err)?,
    ];
    Ok(counts)
}
