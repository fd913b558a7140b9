//! `gridsleuth synth`: a deterministic, labelled synthetic region (or rigs injected into real
//! readings), the ground truth detection is measured against.
//!
//! Input: [`SynthOptions`]. Output, into `--out DIR`: `readings.parquet` (or `readings.csv[.gz]`),
//! `meters.csv`, `feeders.csv`, `weather.csv`, `labels.csv`, `synth.json`; with `--inject-into`,
//! `readings.*`, `meters.csv`, `labels.csv`, `synth.json`. Returns a [`SynthSummary`].
//! Invariants: the same arguments give byte-identical data files whatever `--chunk-meters` and
//! `--threads` (every random draw comes from a stream seeded by (seed, purpose, index), see
//! `seed`); memory is bounded by one chunk of meters plus one f64 per feeder and slot; every
//! physical parameter traces to `../shared/DOMAIN.md` (or says why it is an assumption).
//!
//! Modules: `params` (flags -> validated settings), `seed` (random streams), `kinds` (labels,
//! population), `calendar` (local clock, weather), `household` / `business` / `load` (metered
//! loads), `rig` (device catalogue, rig plans and load), `meter` (one meter: plan, defects,
//! label), `write` (file formats), `region` and `inject` (the two drivers).

mod business;
mod calendar;
mod household;
mod inject;
mod kinds;
mod load;
mod meter;
mod params;
mod region;
mod rig;
mod seed;
mod write;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::ingest::ValueUnit;
use crate::output::console::ConsoleError;

/// The default `--mining-mix` (relative weights of the hidden rig kinds).
pub const DEFAULT_MINING_MIX: &str = kinds::MiningMix::DEFAULT_TEXT;

/// Options of `gridsleuth synth`, as given (validated by `params` before any work starts).
#[derive(Debug, Clone)]
pub struct SynthOptions {
    /// Output directory (created if missing; files in it are overwritten).
    pub out: PathBuf,
    /// Readings file format: parquet (Datetime[us, UTC], one row group per ~1.4 M rows of whole
    /// meters) or csv.
    pub format: String,
    /// Gzip the CSV readings (readings.csv.gz); only with --format csv.
    pub gzip: bool,
    /// Random seed. The same options and seed give byte-identical files.
    pub seed: u64,
    /// Meters generated per parallel batch (memory vs parallelism); never changes the output.
    pub chunk_meters: usize,
    /// Worker threads, 0 = one per core; never changes the output.
    pub threads: usize,

    /// Number of meters [default: 1000].
    pub meters: Option<usize>,
    /// Length of the window in days [default: 30].
    pub days: Option<u32>,
    /// Reading interval: 15m, 30m, 1h ... (must divide a day) [default: 30m].
    pub interval: Option<String>,
    /// First day, YYYY-MM-DD (local midnight in --tz) or a timestamp [default: 2024-03-01].
    pub start: Option<String>,
    /// IANA zone of the local clock that daily rhythms follow (timestamps are written in UTC);
    /// with --inject-into, also the zone of naive timestamps in the readings.
    pub tz: String,
    /// Meters per feeder (feeders take consecutive meter ids).
    pub meters_per_feeder: usize,

    /// Share of meters with a hidden (unregistered) rig.
    pub mining_share: f64,
    /// How hidden rigs split across kinds (relative weights of pure, mixed, night,
    /// intermittent, growth, small, bypass; missing kinds get 0).
    pub mining_mix: String,
    /// Share of meters that are registered (licensed) mining sites.
    pub registered_miner_share: f64,
    /// Share of meters on a commercial tariff (shops, offices).
    pub commercial_share: f64,
    /// Share of the commercial meters that are 24x7 refrigeration shops.
    pub commercial_24x7_share: f64,
    /// Share of meters that are grow-ops.
    pub grow_op_share: f64,
    /// Share of meters that are farms with pumps (agricultural tariff).
    pub agricultural_share: f64,
    /// Share of meters that are homes with direct electric heating.
    pub electric_heating_share: f64,
    /// Share of meters that are homes with night-storage heaters.
    pub storage_heating_share: f64,

    /// Technical losses proportional to the feeder load (share of the delivered energy).
    pub loss_share: f64,
    /// Load-squared losses: extra share at the feeder's mean load
    /// (losses = loss_share * P + loss_quadratic * P^2 / mean P).
    pub loss_quadratic: f64,
    /// Feeder-wide outages per feeder per 30 days (15 min to 3 h; every meter behind it reads 0).
    pub feeder_outages: f64,

    /// Share of readings missing at random.
    pub missing_share: f64,
    /// Share of meters with 1-3 whole days missing.
    pub gap_meter_share: f64,
    /// Share of meters with 1-3 estimated days (the day's total spread evenly over its
    /// intervals; listed in labels.csv `estimated_days`).
    pub estimated_meter_share: f64,

    /// Instead of a region: add rigs to these real readings (files or quoted globs, any format
    /// `gridsleuth ingest` reads).
    pub inject_into: Vec<String>,
    /// Share of the meters that get a rig (kinds from --mining-mix, except pure and bypass).
    pub inject_share: f64,
    /// Meter id column of the readings [default: meter_id].
    pub meter_col: Option<String>,
    /// Timestamp column [default: timestamp].
    pub time_col: Option<String>,
    /// Value column [default: kwh].
    pub value_col: Option<String>,
    /// Unit of the value column [default: kwh].
    pub unit: Option<ValueUnit>,
}

impl Default for SynthOptions {
    /// The defaults of `gridsleuth synth --help` (the output folder left empty).
    fn default() -> Self {
        SynthOptions {
            out: PathBuf::new(),
            format: "parquet".into(),
            gzip: false,
            seed: 1,
            chunk_meters: 1000,
            threads: 0,
            meters: None,
            days: None,
            interval: None,
            start: None,
            tz: "UTC".into(),
            meters_per_feeder: 200,
            mining_share: 0.015,
            mining_mix: kinds::MiningMix::DEFAULT_TEXT.into(),
            registered_miner_share: 0.0005,
            commercial_share: 0.04,
            commercial_24x7_share: 0.2,
            grow_op_share: 0.005,
            agricultural_share: 0.005,
            electric_heating_share: 0.06,
            storage_heating_share: 0.04,
            loss_share: 0.03,
            loss_quadratic: 0.01,
            feeder_outages: 0.5,
            missing_share: 0.002,
            gap_meter_share: 0.01,
            estimated_meter_share: 0.01,
            inject_into: Vec::new(),
            inject_share: 0.1,
            meter_col: None,
            time_col: None,
            value_col: None,
            unit: None,
        }
    }
}

/// What a run produced (also the "summary" of `synth.json`).
#[derive(Debug, serde::Serialize)]
pub struct SynthSummary {
    /// `region` or `inject`.
    pub mode: String,
    pub meters: usize,
    pub feeders: usize,
    pub slots: usize,
    pub interval_secs: u32,
    pub start: String,
    pub end: String,
    /// Meters per label kind (every kind listed, zeros included).
    pub kinds: BTreeMap<String, u64>,
    /// Meters with a hidden rig (`is_mining` and not registered).
    pub hidden_miners: u64,
    pub registered_miners: u64,
    pub readings_written: u64,
    /// Slots absent from the readings (random misses and whole missing days).
    pub readings_missing: u64,
    /// Slots flat-filled by estimation.
    pub readings_estimated: u64,
    /// Energy of bypassed rigs (in the feeders, not in any meter), kWh.
    pub bypass_kwh: f64,
    /// Energy added to real readings by `--inject-into`, kWh.
    pub injected_kwh: f64,
    /// Readings of the `--inject-into` input that ingest quarantined (not carried over).
    pub input_quarantined: u64,
    pub feeder_rows: u64,
    pub weather_rows: u64,
    pub files: Vec<String>,
    pub elapsed_secs: f64,
    pub rows_per_sec: f64,
}

/// A fatal `synth` error (exit 2). Each names the option or file and a fix.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("{option}: {message}\n  fix: {fix}")]
    Option {
        option: String,
        message: String,
        fix: String,
    },
    #[error(
        "{path}: cannot write\n  fix: check that --out is a writable directory with free space"
    )]
    Write {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("--inject-into: cannot load the readings\n  fix: check the paths and the column options (--meter-col, --time-col, --value-col, --unit, --tz)")]
    Inject {
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(transparent)]
    Console(#[from] crate::output::console::ConsoleError),
    #[error("--threads: cannot start {threads} worker threads\n  fix: use fewer threads, or 0 for one per core")]
    Threads {
        threads: usize,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

fn list_kinds(kinds: &BTreeMap<String, u64>, keep: impl Fn(&str) -> bool) -> String {
    let parts: Vec<String> = kinds
        .iter()
        .filter(|(k, &v)| v > 0 && keep(k))
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(", ")
    }
}

impl SynthSummary {
    /// The summary printed on stdout.
    pub fn text(&self) -> String {
        let mut t = String::new();
        let minutes = self.interval_secs / 60;
        if self.mode == "region" {
            t += &format!(
                "synth: region of {} meters on {} feeders x {} slots of {minutes} min, {} .. {}\n",
                self.meters, self.feeders, self.slots, self.start, self.end
            );
        } else {
            t += &format!(
                "synth: rigs injected into {} real meters x {} slots of {minutes} min, {} .. {}\n",
                self.meters, self.slots, self.start, self.end
            );
        }
        let hidden = |k: &str| k.starts_with("mining_");
        t += &format!(
            "kinds: {}\n",
            list_kinds(&self.kinds, |k| !hidden(k) && k != "registered_miner")
        );
        t += &format!(
            "hidden miners: {} ({}); registered miners: {}\n",
            self.hidden_miners,
            list_kinds(&self.kinds, hidden),
            self.registered_miners
        );
        t += &format!(
            "readings: {} written, {} slots missing, {} estimated",
            self.readings_written, self.readings_missing, self.readings_estimated
        );
        if self.mode == "region" {
            t += &format!(
                "; bypassed rigs drew {:.1} kWh (feeders only)\n",
                self.bypass_kwh
            );
        } else {
            t += &format!(
                "; rigs added {:.1} kWh; {} input readings quarantined\n",
                self.injected_kwh, self.input_quarantined
            );
        }
        t += &format!("wrote {}\n", self.files.join(", "));
        t += &format!(
            "{} rows in {:.1} s ({:.0} rows/s)\n",
            self.readings_written, self.elapsed_secs, self.rows_per_sec
        );
        t
    }
}

/// Runs `gridsleuth synth`: writes the files, prints the summary on `out`, returns it.
pub fn run_synth(args: &SynthOptions, out: &mut dyn Write) -> Result<SynthSummary, SynthError> {
    let t0 = Instant::now();
    let mut res = params::resolve(args)?;
    // Written into a staged sibling folder, put in place once complete (output::atomic).
    let target = res.out.clone();
    let staged =
        crate::output::atomic::StagedDir::begin(&target).map_err(|e| SynthError::Write {
            path: target.clone(),
            source: e.into(),
        })?;
    res.out = staged.path().to_path_buf();
    let dir = target.clone();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build()
        .map_err(|e| SynthError::Threads {
            threads: args.threads,
            source: e.into(),
        })?;
    let mut summary = match (&res.settings.region, &res.settings.inject, res.grid) {
        (Some(set), _, Some(grid)) => {
            let c = region::run_region(&res, set, grid, &pool)?;
            SynthSummary {
                mode: "region".into(),
                meters: set.meters,
                feeders: c.feeders,
                slots: grid.n_slots,
                interval_secs: grid.interval_secs,
                start: write::iso(grid.start),
                end: write::iso(grid.end()),
                hidden_miners: 0,
                registered_miners: 0,
                kinds: c.kinds,
                readings_written: c.readings,
                readings_missing: c.missing,
                readings_estimated: c.estimated,
                bypass_kwh: (c.bypass_kwh * 1000.0).round() / 1000.0,
                injected_kwh: 0.0,
                input_quarantined: 0,
                feeder_rows: c.feeder_rows,
                weather_rows: c.weather_rows,
                files: c.files.iter().map(|p| p.display().to_string()).collect(),
                elapsed_secs: 0.0,
                rows_per_sec: 0.0,
            }
        }
        (_, Some(inj), _) => {
            let c = inject::run_inject(&res, inj, args.unit, &pool)?;
            let mut kinds = c.kinds;
            for k in kinds::Kind::ALL {
                kinds.entry(k.as_str().to_string()).or_default();
            }
            let grid = crate::grid::TimeGrid {
                start: c.start,
                interval_secs: c.interval_secs,
                n_slots: c.slots,
            };
            SynthSummary {
                mode: "inject".into(),
                meters: c.meters,
                feeders: 0,
                slots: c.slots,
                interval_secs: c.interval_secs,
                start: write::iso(grid.start),
                end: write::iso(grid.end()),
                hidden_miners: 0,
                registered_miners: 0,
                kinds,
                readings_written: c.readings,
                readings_missing: c.missing,
                readings_estimated: 0,
                bypass_kwh: 0.0,
                injected_kwh: (c.injected_kwh * 1000.0).round() / 1000.0,
                input_quarantined: c.input_quarantined,
                feeder_rows: 0,
                weather_rows: 0,
                files: c.files.iter().map(|p| p.display().to_string()).collect(),
                elapsed_secs: 0.0,
                rows_per_sec: 0.0,
            }
        }
        _ => {
            return Err(SynthError::Option {
                option: "--inject-into".into(),
                message: "neither a region nor an injection was configured".into(),
                fix: "pass --meters N (region) or --inject-into FILES".into(),
            })
        }
    };
    // The files as they will be named once the folder is in place.
    for f in &mut summary.files {
        if let Ok(rest) = Path::new(f.as_str()).strip_prefix(staged.path()) {
            *f = target.join(rest).display().to_string();
        }
    }
    summary.hidden_miners = summary
        .kinds
        .iter()
        .filter(|(k, _)| k.starts_with("mining_"))
        .map(|(_, v)| v)
        .sum();
    summary.registered_miners = summary.kinds.get("registered_miner").copied().unwrap_or(0);
    let json_path = dir.join("synth.json");
    summary.files.push(json_path.display().to_string());
    summary.elapsed_secs = t0.elapsed().as_secs_f64();
    summary.rows_per_sec = summary.readings_written as f64 / summary.elapsed_secs.max(1e-9);
    let json = serde_json::json!({ "settings": res.settings, "summary": summary });
    let bytes = serde_json::to_vec_pretty(&json).map_err(|e| SynthError::Write {
        path: json_path.clone(),
        source: e.into(),
    })?;
    let staged_json = staged.path().join("synth.json");
    std::fs::write(&staged_json, bytes).map_err(|e| SynthError::Write {
        path: json_path.clone(),
        source: e.into(),
    })?;
    staged.commit().map_err(|e| SynthError::Write {
        path: target.clone(),
        source: e.into(),
    })?;
    out.write_all(summary.text().as_bytes())
        .map_err(ConsoleError)?;
    Ok(summary)
}
