//! The command line (clap): every clap type of the crate lives under `cli/`, and each converts
//! into the plain flags of [`crate::settings`] ([`IngestArgs::flags`] ...), which validates them
//! into the options the library commands take. [`run`] dispatches a parsed [`Cli`]; the library
//! never names clap.
//!
//! Modules: this file (the top-level parser, `ingest` and `run` options), [`grid`] (`balance`,
//! `drop`), [`tools`] (`report`, `synth`, `eval`), [`values`] (`ValueEnum` twins of library
//! enums), [`dispatch`] (running a command, stdout handling, error reports).

pub mod dispatch;
pub mod grid;
pub mod nightly;
pub mod tools;
pub mod values;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use dispatch::{error_report, run, CliError};
use values::{AmbiguousPolicy, GapPolicy, ReadingsFormat, StampMark, ValueUnit};

const EXIT_CODES: &str = "\
Exit codes:
  0  finished, every reading used
  1  finished, but some readings were quarantined (see data_quality.csv)
  2  fatal error (bad option, missing file or column, unreadable input)
  3  nightly: no new data
  4  nightly: another nightly holds the lock";

#[derive(Debug, Parser)]
#[command(
    name = "gridsleuth",
    version,
    about = "Find hidden crypto-mining rigs in electricity load data",
    after_help = EXIT_CODES
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Print only errors (no summary).
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Never show a progress bar (it is hidden anyway when stderr is not a terminal).
    #[arg(long, global = true)]
    pub no_progress: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load readings, check them, and report what was used and what was quarantined.
    #[command(
        visible_alias = "check",
        after_help = concat!(
"Examples:
  # The committed sample region
  gridsleuth ingest -r data-samples/region/readings.parquet --meters data-samples/region/meters.csv -o out

  # Your London smart-meter files as published (LCLid,tstp,energy(kWh/hh)), options only
  gridsleuth ingest -r 'london/*.csv' --meter-col LCLid --time-col tstp \\
      --value-col 'energy(kWh/hh)' --tz UTC -o out/london

  # Your NEM12 export (interval length and quality flags from the file)
  gridsleuth ingest -r nem12_export.csv --format nem12 -o out/nem12

  # A month of Parquet, written back as a matrix for notebooks
  gridsleuth ingest -r readings.parquet --start 2024-03-01 --end 2024-04-01 --write-matrix -o out

", "Exit codes:
  0  finished, every reading used
  1  finished, but some readings were quarantined (see data_quality.csv)
  2  fatal error (bad option, missing file or column, unreadable input)")
    )]
    Ingest(IngestArgs),
    /// Detect: ingest, features, clustering, scoring; writes the run directory.
    #[command(after_help = "Examples:
  gridsleuth run --config data-samples/region.toml -o out/sample
  gridsleuth run -r readings.parquet --meters meters.csv --weather weather.csv --tz Europe/London -o out/run

Writes into -o DIR: scores.csv (every meter), suspects.csv (flagged, ranked, with reasons),
registered_miners.csv, features.parquet, data_quality.csv, run.json.

Exit codes: 0 clean, 1 finished but readings were quarantined, 2 fatal error.")]
    Run(RunArgs),
    /// Fit the model a run scores with (peer levels and signals, clustering, settings) and
    /// write it to -o FILE, for `run --model FILE` on shards of the meters.
    #[command(after_help = "Examples:
  gridsleuth fit --config data-samples/region.toml -o model.json
  gridsleuth run --config data-samples/region.toml --model model.json -r shard-3.parquet -o out/shard-3

Takes the flags of `run`; -o is the model file (JSON, written whole or not at all). A run with
--model refuses a model of another format or fitted with other settings, and reads its
readings onto the model's time grid.

Exit codes: 0 clean, 1 finished but readings were quarantined, 2 fatal error.")]
    Fit(RunArgs),
    /// Render the inspector report (static HTML) of a run directory again, without recomputing.
    #[command(after_help = "Examples:
  gridsleuth report --run out/sample
  gridsleuth report --run out/big --max-pages 0 --no-png

Writes DIR/report/index.html (summary, totals by feeder, ranked suspects, registered miners,
data quality), DIR/report/suspects/<meter>.html and DIR/report/charts/<meter>-*.png.
Open index.html in a browser: the folder works offline.")]
    Report(tools::ReportArgs),
    /// Feeder energy balance: unmetered load per feeder, steps dated and sized, rig-likeness.
    #[command(after_help = "Examples:
  gridsleuth balance --config data-samples/region.toml -o out/balance
  gridsleuth balance -r readings.parquet --meters meters.csv --feeders feeders.csv \\
      --loss-share 0.04 --loss-quadratic 0 -o out/balance

Writes into -o DIR: feeders.csv (one line per feeder, flagged first), balance_daily.csv,
balance.json, charts/feeder_<id>.png and .svg, data_quality.csv, ingest.json.

Exit codes: 0 clean, 1 finished but readings were quarantined, 2 fatal error.")]
    Balance(grid::BalanceArgs),
    /// Regional load drop at enforcement events, normalised for weekday, holidays, temperature.
    #[command(after_help = "Examples:
  gridsleuth drop --load data-samples/drop/zones_hourly_2017.csv --events data-samples/drop/events.csv \\
      --time-col DateTime --timestamp-format '%m/%d/%Y %H:%M' --unit kw --temp-col Temperature \\
      --value-cols 'Zone 1 Power Consumption=Zone 1' 'Zone 3  Power Consumption=Zone 3' \\
      --holidays data-samples/drop/holidays_morocco_2017.csv --control 'Zone 3' -o out/drop
  gridsleuth drop --meter-config region.toml --group-by feeder --events events.csv -o out/drop

Writes into -o DIR: drop_estimates.csv, drop_daily.csv, drop.json, charts/drop_<region>.png and .svg.

Exit codes: 0 clean, 1 finished but load values were skipped, 2 fatal error.")]
    Drop(grid::DropArgs),
    /// Generate a labelled synthetic region, or inject rigs into real readings.
    Synth(tools::SynthArgs),
    /// Score a run directory against labels (ROC AUC, precision@k, recall at fixed FPR ...).
    Eval(tools::EvalArgs),
    /// Scheduled run: new landing files, a rolling window, cases carried over night to night.
    #[command(after_help = nightly::NIGHTLY_HELP)]
    Nightly(nightly::NightlyArgs),
    /// Inspection outcomes for the nightly cases.
    Outcomes(nightly::OutcomesArgs),
    /// Print the settings `run` would use (flags + config file + defaults) as a config file.
    #[command(after_help = "Examples:
  gridsleuth config --config data-samples/region.toml
  gridsleuth config --config nightly.toml --tz Europe/London > resolved.toml
  gridsleuth run --config resolved.toml -o out/night

Prints TOML that --config accepts back: every key filled in, paths absolute. Bad settings are
refused exactly as `run` refuses them (exit 2).")]
    Config(RunArgs),
}

/// Options of `gridsleuth run`: the ingest options plus detection settings.
#[derive(Debug, Clone, Default, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub ingest: IngestArgs,
    /// Seed of every random step (k-means initialisation, sampling) [default: 42].
    #[arg(long, help_heading = "Detection")]
    pub seed: Option<u64>,
    /// Number of clusters [default: 8].
    #[arg(long, help_heading = "Detection")]
    pub clusters: Option<usize>,
    /// Clustering method: kmeans or gmm [default: kmeans].
    #[arg(long, value_name = "METHOD", help_heading = "Detection")]
    pub cluster_method: Option<String>,
    /// Flag meters scoring at least this [default: 0.5].
    #[arg(long, value_name = "SCORE", help_heading = "Detection")]
    pub flag_threshold: Option<f64>,
    /// Worker threads for features and scoring [default: all cores].
    #[arg(long, help_heading = "Detection")]
    pub threads: Option<usize>,
    /// Score with this model (written by `gridsleuth fit`, or a run's model.json) instead of
    /// fitting one on these meters: any subset of the meters scores as in the whole run.
    #[arg(long, value_name = "FILE", help_heading = "Detection")]
    pub model: Option<PathBuf>,
}

impl RunArgs {
    /// The detection flags (the ingest ones: [`IngestArgs::flags`]).
    pub fn detect_flags(&self) -> crate::settings::DetectFlags {
        crate::settings::DetectFlags {
            seed: self.seed,
            clusters: self.clusters,
            cluster_method: self.cluster_method.clone(),
            flag_threshold: self.flag_threshold,
            threads: self.threads,
            model: self.model.clone(),
        }
    }
}

/// Options of `gridsleuth ingest` (also used by later stages that load readings).
#[derive(Debug, Clone, Default, Args)]
pub struct IngestArgs {
    /// Readings files or quoted globs (CSV, CSV.gz, Parquet, wide CSV, NEM12).
    #[arg(short, long, num_args = 1.., value_name = "PATH", help_heading = "Inputs")]
    pub readings: Vec<String>,
    /// Reader to use [default: auto: by extension and content].
    #[arg(long, value_enum, help_heading = "Inputs")]
    pub format: Option<ReadingsFormat>,
    /// Meters metadata CSV: meter_id[,address,feeder_id,tariff,lat,lon,registered_miner,contracted_kw].
    #[arg(long, value_name = "FILE", help_heading = "Inputs")]
    pub meters: Option<PathBuf>,
    /// Feeder/substation load (feeder_id,timestamp,kwh), put on the meters' grid.
    #[arg(long, num_args = 1.., value_name = "PATH", help_heading = "Inputs")]
    pub feeders: Vec<String>,
    /// Weather CSV (timestamp,temperature_c).
    #[arg(long, value_name = "FILE", help_heading = "Inputs")]
    pub weather: Option<PathBuf>,
    /// TOML config file; flags override it. See README "Configuration".
    #[arg(short, long, value_name = "FILE", help_heading = "Inputs")]
    pub config: Option<PathBuf>,

    /// Meter id column [default: meter_id].
    #[arg(long, value_name = "NAME", help_heading = "Columns (long form)")]
    pub meter_col: Option<String>,
    /// Timestamp column [default: timestamp].
    #[arg(long, value_name = "NAME", help_heading = "Columns (long form)")]
    pub time_col: Option<String>,
    /// Value column [default: kwh].
    #[arg(long, value_name = "NAME", help_heading = "Columns (long form)")]
    pub value_col: Option<String>,
    /// Unit of the value column [default: kwh (energy per interval)].
    #[arg(long, value_enum, help_heading = "Columns (long form)")]
    pub unit: Option<ValueUnit>,
    /// Field delimiter, one character or 'tab' [default: ,].
    #[arg(long, value_name = "CHAR", help_heading = "Columns (long form)")]
    pub delimiter: Option<String>,
    /// Tokens meaning "no value" (repeatable) [default: NA N/A null Null NULL -].
    #[arg(
        long = "null",
        value_name = "TOKEN",
        help_heading = "Columns (long form)"
    )]
    pub null: Vec<String>,

    /// IANA zone of naive timestamps; offsets and Z are always honoured [default: UTC].
    #[arg(long, value_name = "ZONE", help_heading = "Time")]
    pub tz: Option<String>,
    /// Timestamp layout: iso, epoch, epoch_ms, or a chrono layout like '%d/%m/%Y %H:%M'.
    #[arg(long, value_name = "FMT", help_heading = "Time")]
    pub timestamp_format: Option<String>,
    /// Repeated local hour (DST fall-back) [default: sequential].
    #[arg(long, value_enum, help_heading = "Time")]
    pub dst_ambiguous: Option<AmbiguousPolicy>,
    /// Skipped local hour (DST spring-forward) [default: reject].
    #[arg(long, value_enum, help_heading = "Time")]
    pub dst_gap: Option<GapPolicy>,
    /// Whether a timestamp labels its interval's start or end [default: start].
    #[arg(long, value_enum, help_heading = "Time")]
    pub timestamps_mark: Option<StampMark>,
    /// Grid interval (15m, 30m, 1h); finer meters are summed into it [default: auto, the most
    /// common meter interval].
    #[arg(long, value_name = "DUR", help_heading = "Time")]
    pub interval: Option<String>,
    /// Window start (YYYY-MM-DD local midnight, or a timestamp); readings before are quarantined.
    #[arg(long, value_name = "WHEN", help_heading = "Time")]
    pub start: Option<String>,
    /// Window end, exclusive.
    #[arg(long, value_name = "WHEN", help_heading = "Time")]
    pub end: Option<String>,

    /// Wide form: meter id column [default: meter_id].
    #[arg(long, value_name = "NAME", help_heading = "Wide form and NEM12")]
    pub wide_id_col: Option<String>,
    /// Wide form: date column [default: date].
    #[arg(long, value_name = "NAME", help_heading = "Wide form and NEM12")]
    pub wide_date_col: Option<String>,
    /// Wide form: chrono layout of the date [default: %Y-%m-%d].
    #[arg(long, value_name = "FMT", help_heading = "Wide form and NEM12")]
    pub wide_date_format: Option<String>,
    /// Wide form: column flagging an estimated day (Yes/No).
    #[arg(long, value_name = "NAME", help_heading = "Wide form and NEM12")]
    pub wide_estimated_col: Option<String>,
    /// NEM12: zone of interval dates [default: Australia/Brisbane, AEMO market time].
    #[arg(long, value_name = "ZONE", help_heading = "Wide form and NEM12")]
    pub nem12_tz: Option<String>,

    /// Readings above this average power are quarantined [default: 2000 kW].
    #[arg(long, value_name = "KW", help_heading = "Data quality")]
    pub max_kw: Option<f64>,
    /// Accept negative values (net export) instead of quarantining them.
    #[arg(long, help_heading = "Data quality")]
    pub allow_negative: bool,
    /// Keep readings of meters missing from --meters (quarantined by default).
    #[arg(long, help_heading = "Data quality")]
    pub keep_unknown_meters: bool,

    /// Memory that the grid and other input-sized data may take: 8G, 512M, or 60% of what this
    /// process may use; beyond it the run stops with what is too large (exit 2) [default: 75%].
    #[arg(long, value_name = "SIZE", help_heading = "Resources")]
    pub memory_budget: Option<String>,
    /// Parquet readings sorted by meter: read only row groups A..B (end exclusive) of each
    /// file, a shard of whole meters (with `run --model`: score the shard with a fitted model).
    #[arg(long, value_name = "A..B", help_heading = "Resources")]
    pub row_groups: Option<String>,

    /// Output directory (data_quality.csv, ingest.json, matrix.parquet).
    #[arg(
        short,
        long,
        value_name = "DIR",
        default_value = "gridsleuth-out",
        help_heading = "Output"
    )]
    pub out: PathBuf,
    /// Also write the matrix as long-form Parquet (meter_id, timestamp, kwh, estimated).
    #[arg(long, help_heading = "Output")]
    pub write_matrix: bool,
}

impl IngestArgs {
    /// The flags as the settings layer takes them.
    pub fn flags(&self) -> crate::settings::IngestFlags {
        crate::settings::IngestFlags {
            readings: self.readings.clone(),
            format: self.format.map(Into::into),
            meters: self.meters.clone(),
            feeders: self.feeders.clone(),
            weather: self.weather.clone(),
            config: self.config.clone(),
            meter_col: self.meter_col.clone(),
            time_col: self.time_col.clone(),
            value_col: self.value_col.clone(),
            unit: self.unit.map(Into::into),
            delimiter: self.delimiter.clone(),
            null: self.null.clone(),
            tz: self.tz.clone(),
            timestamp_format: self.timestamp_format.clone(),
            dst_ambiguous: self.dst_ambiguous.map(Into::into),
            dst_gap: self.dst_gap.map(Into::into),
            timestamps_mark: self.timestamps_mark.map(Into::into),
            interval: self.interval.clone(),
            start: self.start.clone(),
            end: self.end.clone(),
            wide_id_col: self.wide_id_col.clone(),
            wide_date_col: self.wide_date_col.clone(),
            wide_date_format: self.wide_date_format.clone(),
            wide_estimated_col: self.wide_estimated_col.clone(),
            nem12_tz: self.nem12_tz.clone(),
            max_kw: self.max_kw,
            allow_negative: self.allow_negative,
            keep_unknown_meters: self.keep_unknown_meters,
            memory_budget: self.memory_budget.clone(),
            row_groups: self.row_groups.clone(),
            out: self.out.clone(),
            write_matrix: self.write_matrix,
        }
    }
}
