//! Options of the tools around the pipeline (clap): `gridsleuth report`, `gridsleuth synth`,
//! `gridsleuth eval`, each converting into the plain options its library function takes
//! ([`crate::report::ReportOptions`], [`crate::synth::SynthOptions`],
//! [`crate::eval::EvalOptions`]).

use std::path::PathBuf;

use clap::Args;

use super::values::ValueUnit;
use crate::eval::EvalOptions;
use crate::report::ReportOptions;
use crate::synth::SynthOptions;

/// Options of `gridsleuth report`.
#[derive(Debug, Clone, Default, Args)]
pub struct ReportArgs {
    /// Run directory written by `gridsleuth run -o DIR`.
    #[arg(long = "run", value_name = "DIR")]
    pub run: PathBuf,
    /// Output folder [default: DIR/report].
    #[arg(short, long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Write evidence pages for the top N suspects only; 0 = every suspect. The index lists
    /// all suspects either way [default: 250].
    #[arg(long, value_name = "N")]
    pub max_pages: Option<usize>,
    /// Inline SVG charts only, no PNG files (faster on large runs).
    #[arg(long)]
    pub no_png: bool,
    /// Title of the pages [default: the run directory's name].
    #[arg(long, value_name = "TEXT")]
    pub title: Option<String>,
}

impl ReportArgs {
    /// The rendering options these arguments ask for.
    pub fn options(&self) -> ReportOptions {
        ReportOptions {
            out: self.out.clone(),
            max_pages: self.max_pages.unwrap_or(crate::report::DEFAULT_MAX_PAGES),
            png: !self.no_png,
            title: self.title.clone(),
        }
    }
}

/// Options of `gridsleuth synth`.
#[derive(Debug, Clone, Args)]
pub struct SynthArgs {
    /// Output directory (created if missing; files in it are overwritten).
    #[arg(short, long, value_name = "DIR", help_heading = "Output")]
    pub out: PathBuf,
    /// Readings file format: parquet (Datetime[us, UTC], one row group per ~1.4 M rows of whole
    /// meters) or csv.
    #[arg(long, value_name = "FORMAT", default_value = "parquet",
          value_parser = ["parquet", "csv"], help_heading = "Output")]
    pub format: String,
    /// Gzip the CSV readings (readings.csv.gz); only with --format csv.
    #[arg(long, help_heading = "Output")]
    pub gzip: bool,
    /// Random seed. The same options and seed give byte-identical files.
    #[arg(long, value_name = "N", default_value_t = 1, help_heading = "Output")]
    pub seed: u64,
    /// Meters generated per parallel batch (memory vs parallelism); never changes the output.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1000,
        help_heading = "Output"
    )]
    pub chunk_meters: usize,
    /// Worker threads, 0 = one per core; never changes the output.
    #[arg(long, value_name = "N", default_value_t = 0, help_heading = "Output")]
    pub threads: usize,

    /// Number of meters [default: 1000].
    #[arg(long, value_name = "N", help_heading = "Region")]
    pub meters: Option<usize>,
    /// Length of the window in days [default: 30].
    #[arg(long, value_name = "N", help_heading = "Region")]
    pub days: Option<u32>,
    /// Reading interval: 15m, 30m, 1h ... (must divide a day) [default: 30m].
    #[arg(long, value_name = "DUR", help_heading = "Region")]
    pub interval: Option<String>,
    /// First day, YYYY-MM-DD (local midnight in --tz) or a timestamp [default: 2024-03-01].
    #[arg(long, value_name = "WHEN", help_heading = "Region")]
    pub start: Option<String>,
    /// IANA zone of the local clock that daily rhythms follow (timestamps are written in UTC);
    /// with --inject-into, also the zone of naive timestamps in the readings.
    #[arg(
        long,
        value_name = "ZONE",
        default_value = "UTC",
        help_heading = "Region"
    )]
    pub tz: String,
    /// Meters per feeder (feeders take consecutive meter ids).
    #[arg(long, value_name = "N", default_value_t = 200, help_heading = "Region")]
    pub meters_per_feeder: usize,

    /// Share of meters with a hidden (unregistered) rig.
    #[arg(
        long,
        value_name = "SHARE",
        default_value_t = 0.015,
        help_heading = "Population"
    )]
    pub mining_share: f64,
    /// How hidden rigs split across kinds (relative weights of pure, mixed, night,
    /// intermittent, growth, small, bypass; missing kinds get 0).
    #[arg(
        long,
        value_name = "KIND=W,...",
        default_value = crate::synth::DEFAULT_MINING_MIX,
        help_heading = "Population"
    )]
    pub mining_mix: String,
    /// Share of meters that are registered (licensed) mining sites.
    #[arg(
        long,
        value_name = "SHARE",
        default_value_t = 0.0005,
        help_heading = "Population"
    )]
    pub registered_miner_share: f64,
    /// Share of meters on a commercial tariff (shops, offices).
    #[arg(
        long,
        value_name = "SHARE",
        default_value_t = 0.04,
        help_heading = "Population"
    )]
    pub commercial_share: f64,
    /// Share of the commercial meters that are 24x7 refrigeration shops.
    #[arg(
        long,
        value_name = "SHARE",
        default_value_t = 0.2,
        help_heading = "Population"
    )]
    pub commercial_24x7_share: f64,
    /// Share of meters that are grow-ops.
    #[arg(
        long,
        value_name = "SHARE",
        default_value_t = 0.005,
        help_heading = "Population"
    )]
    pub grow_op_share: f64,
    /// Share of meters that are farms with pumps (agricultural tariff).
    #[arg(
        long,
        value_name = "SHARE",
        default_value_t = 0.005,
        help_heading = "Population"
    )]
    pub agricultural_share: f64,
    /// Share of meters that are homes with direct electric heating.
    #[arg(
        long,
        value_name = "SHARE",
        default_value_t = 0.06,
        help_heading = "Population"
    )]
    pub electric_heating_share: f64,
    /// Share of meters that are homes with night-storage heaters.
    #[arg(
        long,
        value_name = "SHARE",
        default_value_t = 0.04,
        help_heading = "Population"
    )]
    pub storage_heating_share: f64,

    /// Technical losses proportional to the feeder load (share of the delivered energy).
    #[arg(
        long,
        value_name = "SHARE",
        default_value_t = 0.03,
        help_heading = "Feeders"
    )]
    pub loss_share: f64,
    /// Load-squared losses: extra share at the feeder's mean load
    /// (losses = loss_share * P + loss_quadratic * P^2 / mean P).
    #[arg(
        long,
        value_name = "SHARE",
        default_value_t = 0.01,
        help_heading = "Feeders"
    )]
    pub loss_quadratic: f64,
    /// Feeder-wide outages per feeder per 30 days (15 min to 3 h; every meter behind it reads 0).
    #[arg(
        long,
        value_name = "RATE",
        default_value_t = 0.5,
        help_heading = "Feeders"
    )]
    pub feeder_outages: f64,

    /// Share of readings missing at random.
    #[arg(
        long,
        value_name = "SHARE",
        default_value_t = 0.002,
        help_heading = "Data defects"
    )]
    pub missing_share: f64,
    /// Share of meters with 1-3 whole days missing.
    #[arg(
        long,
        value_name = "SHARE",
        default_value_t = 0.01,
        help_heading = "Data defects"
    )]
    pub gap_meter_share: f64,
    /// Share of meters with 1-3 estimated days (the day's total spread evenly over its
    /// intervals; listed in labels.csv `estimated_days`).
    #[arg(
        long,
        value_name = "SHARE",
        default_value_t = 0.01,
        help_heading = "Data defects"
    )]
    pub estimated_meter_share: f64,

    /// Instead of a region: add rigs to these real readings (files or quoted globs, any format
    /// `gridsleuth ingest` reads).
    #[arg(long, num_args = 1.., value_name = "PATH", help_heading = "Inject into real readings")]
    pub inject_into: Vec<String>,
    /// Share of the meters that get a rig (kinds from --mining-mix, except pure and bypass).
    #[arg(
        long,
        value_name = "SHARE",
        default_value_t = 0.1,
        help_heading = "Inject into real readings"
    )]
    pub inject_share: f64,
    /// Meter id column of the readings [default: meter_id].
    #[arg(long, value_name = "NAME", help_heading = "Inject into real readings")]
    pub meter_col: Option<String>,
    /// Timestamp column [default: timestamp].
    #[arg(long, value_name = "NAME", help_heading = "Inject into real readings")]
    pub time_col: Option<String>,
    /// Value column [default: kwh].
    #[arg(long, value_name = "NAME", help_heading = "Inject into real readings")]
    pub value_col: Option<String>,
    /// Unit of the value column [default: kwh].
    #[arg(long, value_enum, help_heading = "Inject into real readings")]
    pub unit: Option<ValueUnit>,
}

impl SynthArgs {
    /// The options as the library takes them.
    pub fn options(&self) -> SynthOptions {
        SynthOptions {
            out: self.out.clone(),
            format: self.format.clone(),
            gzip: self.gzip,
            seed: self.seed,
            chunk_meters: self.chunk_meters,
            threads: self.threads,
            meters: self.meters,
            days: self.days,
            interval: self.interval.clone(),
            start: self.start.clone(),
            tz: self.tz.clone(),
            meters_per_feeder: self.meters_per_feeder,
            mining_share: self.mining_share,
            mining_mix: self.mining_mix.clone(),
            registered_miner_share: self.registered_miner_share,
            commercial_share: self.commercial_share,
            commercial_24x7_share: self.commercial_24x7_share,
            grow_op_share: self.grow_op_share,
            agricultural_share: self.agricultural_share,
            electric_heating_share: self.electric_heating_share,
            storage_heating_share: self.storage_heating_share,
            loss_share: self.loss_share,
            loss_quadratic: self.loss_quadratic,
            feeder_outages: self.feeder_outages,
            missing_share: self.missing_share,
            gap_meter_share: self.gap_meter_share,
            estimated_meter_share: self.estimated_meter_share,
            inject_into: self.inject_into.clone(),
            inject_share: self.inject_share,
            meter_col: self.meter_col.clone(),
            time_col: self.time_col.clone(),
            value_col: self.value_col.clone(),
            unit: self.unit.map(Into::into),
        }
    }
}

/// Options of `gridsleuth eval`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "Examples:
  # Score a run of the committed sample region against its ground truth
  gridsleuth eval --labels data-samples/region/labels.csv --run out/sample

  # Also keep the metrics elsewhere for a notebook
  gridsleuth eval --labels region/labels.csv --run out/nightly --json metrics/2024-03-15.json")]
pub struct EvalArgs {
    /// Ground truth: meter_id,kind,is_mining,n_devices,device_kw,onset[,...] (gridsleuth's
    /// generator or the peers' gen_region.py).
    #[arg(long, value_name = "FILE")]
    pub labels: PathBuf,
    /// Run directory written by `gridsleuth run`: reads DIR/scores.csv (and DIR/run.json's
    /// grid.start if present), writes DIR/eval.json.
    #[arg(long, value_name = "DIR")]
    pub run: PathBuf,
    /// Also write the report as JSON here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Leave meters of this label kind out of every metric (repeatable), e.g. `mining_bypass`:
    /// rigs that bypass the meter are invisible in its readings and are the feeder balance's
    /// job. The report says what was left out.
    #[arg(long = "exclude-kind", value_name = "KIND")]
    pub exclude_kinds: Vec<String>,
}

impl EvalArgs {
    /// The options as the library takes them.
    pub fn options(&self) -> EvalOptions {
        EvalOptions {
            labels: self.labels.clone(),
            run: self.run.clone(),
            json: self.json.clone(),
            exclude_kinds: self.exclude_kinds.clone(),
        }
    }
}
