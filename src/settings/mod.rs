//! Settings: command-line flags + an optional TOML config file -> validated options for every
//! command, before any work starts (ripgrep's low-args -> high-args split).
//!
//! Input: the flags as plain structs ([`IngestFlags`], [`DetectFlags`], [`BalanceFlags`],
//! [`DropFlags`]; `crate::cli` converts the parsed command line into them) and the config file
//! ([`ConfigFile`], read once per command into [`Sources`]). Output: the options each library
//! command takes: [`IngestOptions`], [`crate::app::IngestCommandOptions`],
//! [`crate::app::RunOptions`], [`crate::grid_analysis::BalanceOptions`],
//! [`crate::grid_analysis::DropOptions`]; and, for `gridsleuth config`, the resolved file
//! ([`resolved_config`]).
//!
//! Invariants: a flag beats the config file, which beats the default. Every bad value is
//! rejected with the flag or key name, the value, and what would be valid (see [`check`] for
//! the ranges of the `[score]`, `[cluster]`, `[balance]` and `[drop]` keys). Nothing here
//! imports `cli`; the consumers of the options never import `settings` (but `synth` uses the
//! value parsers of [`values`]).

pub mod check;
pub mod file;
mod grid;
mod nightly;
pub mod values;

use std::path::{Path, PathBuf};

pub use file::{
    BalanceSection, ConfigFile, DropSection, FeedersSection, InputsSection, LimitsSection,
    Nem12Section, NightlySection, QualitySection, ReadingsSection, StampMark, TimeSection,
    WideSection,
};
use grid::{balance_from, drop_from};
pub use grid::{balance_options, drop_options, BalanceFlags, DropFlags};
pub use nightly::{nightly_options, outcomes_options, NightlyFlags};
pub use values::{expand_inputs, parse_bound, parse_delimiter, parse_interval, parse_tz};

use crate::app::{IngestCommandOptions, RunOptions};
use crate::grid_analysis::aggregate::GroupBy;
use crate::grid_analysis::balance::{BalanceConfig, LossFitSettings, LossModel};
use crate::grid_analysis::drop::DropConfig;
use crate::grid_analysis::load_series::{Layout, LoadSeriesSpec, LoadUnit, TimeLayout};
use crate::grid_analysis::{BalanceOptions, ChartSelection, DropInput, DropOptions};
use crate::ingest::{
    AccumulatorConfig, AmbiguousPolicy, GapPolicy, IngestOptions, LongFormat, Nem12Format,
    NullTokens, ReadingsFormat, TimeFormat, TimeSpec, ValueUnit, WideFormat,
};

/// A setting that cannot be used, with where it came from.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{key}: {message}")]
    Invalid { key: String, message: String },
    #[error("{key}: {value} {message}\n  fix: {fix}")]
    OutOfRange {
        key: String,
        value: String,
        message: String,
        fix: String,
    },
    #[error("config file {path}: cannot read it\n  fix: check the path given to --config")]
    ReadConfig {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config file {path}: not a valid gridsleuth config (unknown keys are errors)\n  fix: see README \"Configuration\" for every table and key")]
    ParseConfig {
        path: PathBuf,
        #[source]
        source: Box<toml::de::Error>,
    },
    #[error("no readings given\n  fix: pass --readings FILE (or a quoted glob), or set inputs.readings in the config file")]
    NoReadings,
    #[error("no input files match {pattern:?}\n  fix: check the path; quote globs so the shell does not expand them")]
    NoMatch { pattern: String },
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),
}

pub(crate) fn invalid(key: &str, message: impl Into<String>) -> SettingsError {
    SettingsError::Invalid {
        key: key.to_string(),
        message: message.into(),
    }
}

/// The messages of an error and of every source below it, joined by ": " (for tests and logs
/// that want the whole chain on one line).
pub fn message_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// Ingest flags as given (unvalidated; `None`, empty or `false` = not given).
#[derive(Debug, Clone, Default)]
pub struct IngestFlags {
    pub readings: Vec<String>,
    pub format: Option<ReadingsFormat>,
    pub meters: Option<PathBuf>,
    pub feeders: Vec<String>,
    pub weather: Option<PathBuf>,
    pub config: Option<PathBuf>,
    pub meter_col: Option<String>,
    pub time_col: Option<String>,
    pub value_col: Option<String>,
    pub unit: Option<ValueUnit>,
    pub delimiter: Option<String>,
    pub null: Vec<String>,
    pub tz: Option<String>,
    pub timestamp_format: Option<String>,
    pub dst_ambiguous: Option<AmbiguousPolicy>,
    pub dst_gap: Option<GapPolicy>,
    pub timestamps_mark: Option<StampMark>,
    pub interval: Option<String>,
    pub start: Option<String>,
    pub end: Option<String>,
    pub wide_id_col: Option<String>,
    pub wide_date_col: Option<String>,
    pub wide_date_format: Option<String>,
    pub wide_estimated_col: Option<String>,
    pub nem12_tz: Option<String>,
    pub max_kw: Option<f64>,
    pub allow_negative: bool,
    pub keep_unknown_meters: bool,
    /// Memory budget (`8G`, `512M`, `60%`).
    pub memory_budget: Option<String>,
    /// Parquet row groups `A..B` to read (a shard of meters).
    pub row_groups: Option<String>,
    /// Output directory.
    pub out: PathBuf,
    pub write_matrix: bool,
}

/// Detection flags of `gridsleuth run` (override the `[cluster]` and `[score]` tables).
#[derive(Debug, Clone, Default)]
pub struct DetectFlags {
    pub seed: Option<u64>,
    pub clusters: Option<usize>,
    pub cluster_method: Option<String>,
    pub flag_threshold: Option<f64>,
    pub threads: Option<usize>,
    /// Score with this model file (`run --model`).
    pub model: Option<PathBuf>,
}

/// The config file of a command, read once, and the folder its relative paths start from.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    pub file: ConfigFile,
    pub base: Option<PathBuf>,
}

impl Sources {
    /// Reads `path` (no file = every key unset).
    pub fn load(path: Option<&Path>) -> Result<Self, SettingsError> {
        Ok(match path {
            Some(p) => Sources {
                file: ConfigFile::load(p)?,
                base: p.parent().map(Path::to_path_buf),
            },
            None => Sources::default(),
        })
    }
}

/// Flags + config -> options for the ingest stage (reads the config file).
pub fn resolve_ingest(
    args: &IngestFlags,
    show_progress: bool,
) -> Result<IngestOptions, SettingsError> {
    ingest_from(args, &Sources::load(args.config.as_deref())?, show_progress)
}

/// `gridsleuth ingest`: flags + config -> the command's options.
pub fn ingest_command(
    args: &IngestFlags,
    show_progress: bool,
) -> Result<IngestCommandOptions, SettingsError> {
    Ok(IngestCommandOptions {
        ingest: resolve_ingest(args, show_progress)?,
        out: args.out.clone(),
        write_matrix: args.write_matrix,
    })
}

/// `gridsleuth run`: flags + config (read once) -> ingest, detection and balance settings.
pub fn run_options(
    args: &IngestFlags,
    detect: &DetectFlags,
    show_progress: bool,
) -> Result<RunOptions, SettingsError> {
    let src = Sources::load(args.config.as_deref())?;
    let mut ingest = ingest_from(args, &src, show_progress)?;
    let tz = ingest.long.time.tz;
    let detect_cfg = detect_from(detect, &src.file, tz)?;
    let balance = balance_from(&BalanceFlags::default(), &src.file.balance, tz)?;
    let model = match &detect.model {
        Some(path) => Some(model_input(path, &mut ingest, &detect_cfg)?),
        None => None,
    };
    Ok(RunOptions {
        ingest,
        out: args.out.clone(),
        write_matrix: args.write_matrix,
        detect: detect_cfg,
        balance,
        threads: detect.threads,
        model,
    })
}

/// `run --model FILE`: reads the model, refuses one of another format or fitted with other
/// settings, and puts the readings on the model's grid (its window and interval; a window or
/// interval given that differs from it is refused).
fn model_input(
    path: &Path,
    ingest: &mut IngestOptions,
    detect: &crate::detect::DetectConfig,
) -> Result<crate::app::ModelInput, SettingsError> {
    let model = crate::model::Model::read(path)?;
    model.check_settings(path, &detect.model_settings(ingest.weather.is_some()))?;
    let g = model.grid;
    let window = (g.start, g.end());
    let refuse = |key: &str, what: String| SettingsError::OutOfRange {
        key: key.into(),
        value: what,
        message: format!("differs from the grid of the model {}", path.display()),
        fix: "leave it out: a run with --model reads its readings onto the model's grid".into(),
    };
    if let Some(w) = ingest.acc.window {
        if w != window {
            return Err(refuse(
                "--start/--end",
                format!("{}..{} (unix seconds)", w.0, w.1),
            ));
        }
    }
    if let Some(iv) = ingest.acc.interval_secs {
        if iv != g.interval_secs {
            return Err(refuse("--interval", format!("{} s", iv)));
        }
    }
    ingest.acc.window = Some(window);
    ingest.acc.interval_secs = Some(g.interval_secs);
    Ok(crate::app::ModelInput {
        path: path.to_path_buf(),
        model,
    })
}

/// A value from a flag, else the config file, else the default, with the name it is reported
/// under when it is out of range (the flag, or the `[table] key`).
fn layered<T: Copy>(
    flag: Option<T>,
    flag_name: &str,
    file: Option<T>,
    key: &str,
    default: T,
) -> (T, String) {
    match (flag, file) {
        (Some(v), _) => (v, flag_name.to_string()),
        (None, Some(v)) => (v, key.to_string()),
        (None, None) => (default, key.to_string()),
    }
}

/// The `[cluster]` and `[score]` tables with the detection flags applied, range-checked.
pub(crate) fn detect_from(
    args: &DetectFlags,
    file: &ConfigFile,
    tz: chrono_tz::Tz,
) -> Result<crate::detect::DetectConfig, SettingsError> {
    let mut cluster = file.cluster.clone();
    let mut score = file.score.clone();
    if let Some(s) = args.seed {
        cluster.seed = s;
    }
    if let Some(k) = args.clusters {
        cluster.k = k;
    }
    if let Some(m) = &args.cluster_method {
        cluster.method = match m.as_str() {
            "kmeans" => crate::cluster::ClusterMethod::Kmeans,
            "gmm" => crate::cluster::ClusterMethod::Gmm,
            other => {
                return Err(invalid(
                    "--cluster-method",
                    format!("{other:?} is not kmeans or gmm"),
                ))
            }
        };
    }
    if let Some(t) = args.flag_threshold {
        score.flag_threshold = t;
    }
    check::cluster(&cluster, args.clusters.is_some())?;
    check::score(&score, args.flag_threshold.is_some())?;
    Ok(crate::detect::DetectConfig {
        tz: Some(tz),
        cluster,
        score,
    })
}

/// A path or glob as an absolute string (relative ones start at the current directory), so a
/// printed config works from anywhere.
fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// `gridsleuth config`: every setting `run` would use for these flags and config file, as a
/// config file (paths absolute, every key filled in) that `--config` accepts back. Fails
/// exactly when `run` would refuse the settings.
pub fn resolved_config(
    args: &IngestFlags,
    detect: &DetectFlags,
) -> Result<ConfigFile, SettingsError> {
    let run = run_options(args, detect, false)?;
    let src = Sources::load(args.config.as_deref())?;
    let f = &src.file;
    let from_file = |p: &str| match &src.base {
        Some(b) if Path::new(p).is_relative() => b.join(p),
        _ => PathBuf::from(p),
    };
    let patterns = |flags: &[String], file: &Option<Vec<String>>| -> Option<Vec<String>> {
        let list: Vec<PathBuf> = if !flags.is_empty() {
            flags.iter().map(PathBuf::from).collect()
        } else {
            file.as_ref()?.iter().map(|p| from_file(p)).collect()
        };
        Some(
            list.iter()
                .map(|p| absolute(p).display().to_string())
                .collect(),
        )
    };
    let file_path = |flag: &Option<PathBuf>, file: &Option<PathBuf>| {
        flag.clone()
            .or_else(|| file.as_ref().map(|p| from_file(&p.to_string_lossy())))
            .map(|p| absolute(&p))
    };
    let feeders = patterns(&args.feeders, &f.inputs.feeders).filter(|v| !v.is_empty());
    let or_s = |flag: &Option<String>, file: &Option<String>, default: &str| {
        Some(
            flag.clone()
                .or_else(|| file.clone())
                .unwrap_or_else(|| default.to_string()),
        )
    };
    let nulls = if !args.null.is_empty() {
        args.null.clone()
    } else {
        f.readings.null_tokens.clone().unwrap_or_else(|| {
            crate::ingest::DEFAULT_NULL_TOKENS
                .iter()
                .map(ToString::to_string)
                .collect()
        })
    };
    let b = &run.balance;
    let d = drop_from(&DropFlags::default(), &f.drop)?;
    Ok(ConfigFile {
        inputs: InputsSection {
            readings: patterns(&args.readings, &f.inputs.readings),
            meters: file_path(&args.meters, &f.inputs.meters),
            feeders,
            weather: file_path(&args.weather, &f.inputs.weather),
        },
        readings: ReadingsSection {
            format: Some(run.ingest.format),
            meter_col: Some(run.ingest.long.meter_col.clone()),
            time_col: Some(run.ingest.long.time_col.clone()),
            value_col: Some(run.ingest.long.value_col.clone()),
            unit: Some(run.ingest.long.unit),
            delimiter: or_s(&args.delimiter, &f.readings.delimiter, ","),
            null_tokens: Some(nulls),
        },
        time: TimeSection {
            tz: Some(run.ingest.long.time.tz.name().to_string()),
            timestamp_format: or_s(&args.timestamp_format, &f.time.timestamp_format, "iso"),
            dst_ambiguous: Some(run.ingest.long.time.ambiguous),
            dst_gap: Some(run.ingest.long.time.gap),
            timestamps_mark: Some(if run.ingest.acc.stamps_mark_end {
                StampMark::End
            } else {
                StampMark::Start
            }),
            interval: or_s(&args.interval, &f.time.interval, "auto"),
            start: args.start.clone().or_else(|| f.time.start.clone()),
            end: args.end.clone().or_else(|| f.time.end.clone()),
        },
        wide: WideSection {
            id_col: Some(run.ingest.wide.id_col.clone()),
            date_col: Some(run.ingest.wide.date_col.clone()),
            date_format: Some(run.ingest.wide.date_format.clone()),
            estimated_col: run.ingest.wide.estimated_col.clone(),
        },
        nem12: Nem12Section {
            tz: Some(run.ingest.nem12.tz.name().to_string()),
        },
        quality: QualitySection {
            max_kw: Some(run.ingest.acc.max_kw),
            allow_negative: Some(run.ingest.acc.allow_negative),
            keep_unknown_meters: Some(!run.ingest.require_known_meters),
        },
        feeders: FeedersSection {
            feeder_col: Some(run.ingest.feeder_format.meter_col.clone()),
            time_col: Some(run.ingest.feeder_format.time_col.clone()),
            value_col: Some(run.ingest.feeder_format.value_col.clone()),
            unit: Some(run.ingest.feeder_format.unit),
        },
        cluster: run.detect.cluster.clone(),
        score: run.detect.score.clone(),
        balance: BalanceSection {
            loss_share: Some(b.loss.share()),
            loss_quadratic: Some(b.loss.quadratic()),
            loss_fixed_kw: Some(b.loss.fixed_kw()),
            loss_fit: Some(b.loss_fit.fit),
            loss_fit_max_share: Some(b.loss_fit.max_share),
            loss_fit_min_days: Some(b.loss_fit.min_days as u32),
            min_step_kw: Some(b.min_step_kw),
            min_step_t: Some(b.min_step_t),
            max_estimated_share: Some(b.max_day_estimated_share),
            min_rig_likeness: Some(b.min_rig_likeness),
        },
        drop: DropSection {
            pre_days: Some(d.pre_days),
            post_days: Some(d.post_days),
            transition_days: Some(d.transition_days),
            confidence: Some(d.confidence),
            temperature: Some(d.temperature),
            changepoint_tolerance: Some(d.changepoint_tolerance),
        },
        nightly: f.nightly.clone(),
        limits: LimitsSection {
            memory_budget: Some(
                args.memory_budget
                    .clone()
                    .or_else(|| f.limits.memory_budget.clone())
                    .unwrap_or_else(|| DEFAULT_MEMORY_BUDGET.into()),
            ),
        },
    })
}

/// The memory budget when none is given: a share of the memory this process may use.
pub const DEFAULT_MEMORY_BUDGET: &str = "75%";

/// `--memory-budget`, else `[limits] memory_budget`, else [`DEFAULT_MEMORY_BUDGET`].
fn memory_budget(
    args: &IngestFlags,
    cfg: &ConfigFile,
) -> Result<crate::ingest::MemoryBudget, SettingsError> {
    let (text, key) = match (&args.memory_budget, &cfg.limits.memory_budget) {
        (Some(v), _) => (v.as_str(), "--memory-budget"),
        (None, Some(v)) => (v.as_str(), "[limits] memory_budget"),
        (None, None) => (DEFAULT_MEMORY_BUDGET, "[limits] memory_budget"),
    };
    crate::ingest::budget::parse_budget(text).ok_or_else(|| SettingsError::OutOfRange {
        key: key.into(),
        value: format!("{text:?}"),
        message: "is not a memory size".into(),
        fix: format!(
            "give bytes with a unit (8G, 512M, 1.5T) or a share of the memory this process may \
             use (60%); this machine allows {}",
            crate::ingest::budget::bytes_text(crate::ingest::budget::available_memory())
        ),
    })
}

/// Flags + the loaded config file -> options for the ingest stage.
pub(crate) fn ingest_from(
    args: &IngestFlags,
    src: &Sources,
    show_progress: bool,
) -> Result<IngestOptions, SettingsError> {
    let cfg = &src.file;
    let base = src.base.as_deref();
    let rel = |p: &PathBuf| match base {
        Some(b) if p.is_relative() => b.join(p),
        _ => p.clone(),
    };

    let readings = if !args.readings.is_empty() {
        expand_inputs(&args.readings, None)?
    } else if let Some(r) = &cfg.inputs.readings {
        expand_inputs(r, base)?
    } else {
        return Err(SettingsError::NoReadings);
    };
    let feeders = if !args.feeders.is_empty() {
        expand_inputs(&args.feeders, None)?
    } else if let Some(f) = &cfg.inputs.feeders {
        expand_inputs(f, base)?
    } else {
        Vec::new()
    };

    let tz_s = args
        .tz
        .clone()
        .or(cfg.time.tz.clone())
        .unwrap_or_else(|| "UTC".into());
    let tz = parse_tz("--tz", &tz_s)?;
    let time = TimeSpec {
        format: TimeFormat::parse(
            args.timestamp_format
                .as_deref()
                .or(cfg.time.timestamp_format.as_deref())
                .unwrap_or("iso"),
        ),
        tz,
        ambiguous: args
            .dst_ambiguous
            .or(cfg.time.dst_ambiguous)
            .unwrap_or(AmbiguousPolicy::Sequential),
        gap: args
            .dst_gap
            .or(cfg.time.dst_gap)
            .unwrap_or(GapPolicy::Reject),
    };
    let nulls = match args.null.is_empty() {
        false => NullTokens::new(&args.null),
        true => cfg
            .readings
            .null_tokens
            .as_ref()
            .map_or_else(NullTokens::default, |t| NullTokens::new(t)),
    };
    let delimiter = parse_delimiter(
        "--delimiter",
        args.delimiter
            .as_deref()
            .or(cfg.readings.delimiter.as_deref())
            .unwrap_or(","),
    )?;
    let long = LongFormat {
        meter_col: args
            .meter_col
            .clone()
            .or(cfg.readings.meter_col.clone())
            .unwrap_or_else(|| "meter_id".into()),
        time_col: args
            .time_col
            .clone()
            .or(cfg.readings.time_col.clone())
            .unwrap_or_else(|| "timestamp".into()),
        value_col: args
            .value_col
            .clone()
            .or(cfg.readings.value_col.clone())
            .unwrap_or_else(|| "kwh".into()),
        unit: args.unit.or(cfg.readings.unit).unwrap_or(ValueUnit::Kwh),
        delimiter,
        time: time.clone(),
        nulls: nulls.clone(),
    };
    let wide = WideFormat {
        id_col: args
            .wide_id_col
            .clone()
            .or(cfg.wide.id_col.clone())
            .unwrap_or_else(|| "meter_id".into()),
        date_col: args
            .wide_date_col
            .clone()
            .or(cfg.wide.date_col.clone())
            .unwrap_or_else(|| "date".into()),
        date_format: args
            .wide_date_format
            .clone()
            .or(cfg.wide.date_format.clone())
            .unwrap_or_else(|| "%Y-%m-%d".into()),
        estimated_col: args
            .wide_estimated_col
            .clone()
            .or(cfg.wide.estimated_col.clone()),
        unit: long.unit,
        delimiter,
        time: time.clone(),
        nulls,
    };
    let nem12 = Nem12Format {
        tz: match args.nem12_tz.as_deref().or(cfg.nem12.tz.as_deref()) {
            Some(s) => parse_tz("--nem12-tz", s)?,
            None => Nem12Format::default().tz,
        },
    };
    let interval_secs = match args.interval.as_deref().or(cfg.time.interval.as_deref()) {
        None | Some("auto") => None,
        Some(s) => Some(parse_interval("--interval", s)?),
    };
    let start = args
        .start
        .as_deref()
        .or(cfg.time.start.as_deref())
        .map(|s| parse_bound("--start", s, &time))
        .transpose()?;
    let end = args
        .end
        .as_deref()
        .or(cfg.time.end.as_deref())
        .map(|s| parse_bound("--end", s, &time))
        .transpose()?;
    let window = match (start, end) {
        (Some(s), Some(e)) if e > s => Some((s, e)),
        (Some(_), Some(_)) => return Err(invalid("--end", "must be after --start")),
        (None, None) => None,
        _ => {
            return Err(invalid(
                "--start/--end",
                "give both ends of the window, or neither",
            ))
        }
    };
    if let (Some((s, e)), Some(iv)) = (window, interval_secs) {
        if (e - s) % i64::from(iv) != 0 {
            return Err(invalid(
                "--end",
                format!(
                    "the window must be a whole number of {}-minute intervals",
                    iv / 60
                ),
            ));
        }
    }
    let max_kw = args.max_kw.or(cfg.quality.max_kw).unwrap_or(2000.0);
    if !(max_kw > 0.0 && max_kw.is_finite()) {
        return Err(invalid(
            "--max-kw",
            format!(
                "{} must be a positive number of kW",
                crate::numfmt::compact(max_kw)
            ),
        ));
    }
    let budget = memory_budget(args, cfg)?;
    let mark = args
        .timestamps_mark
        .or(cfg.time.timestamps_mark)
        .unwrap_or(StampMark::Start);
    let acc = AccumulatorConfig {
        interval_secs,
        window,
        max_kw,
        allow_negative: args.allow_negative || cfg.quality.allow_negative.unwrap_or(false),
        stamps_mark_end: mark == StampMark::End,
        known_meters: None,
        value_column: "kwh",
        budget,
    };
    let feeder_format = LongFormat {
        meter_col: cfg
            .feeders
            .feeder_col
            .clone()
            .unwrap_or_else(|| "feeder_id".into()),
        time_col: cfg
            .feeders
            .time_col
            .clone()
            .unwrap_or_else(|| "timestamp".into()),
        value_col: cfg
            .feeders
            .value_col
            .clone()
            .unwrap_or_else(|| "kwh".into()),
        unit: cfg.feeders.unit.unwrap_or(ValueUnit::Kwh),
        delimiter: b',',
        time: time.clone(),
        nulls: NullTokens::default(),
    };
    Ok(IngestOptions {
        readings,
        format: args
            .format
            .or(cfg.readings.format)
            .unwrap_or(ReadingsFormat::Auto),
        long,
        wide,
        nem12,
        acc,
        meters: args.meters.clone().or(cfg.inputs.meters.as_ref().map(rel)),
        require_known_meters: !(args.keep_unknown_meters
            || cfg.quality.keep_unknown_meters.unwrap_or(false)),
        feeders,
        feeder_format,
        weather: args
            .weather
            .clone()
            .or(cfg.inputs.weather.as_ref().map(rel)),
        weather_time: time,
        show_progress,
        row_groups: args
            .row_groups
            .as_deref()
            .map(|s| parse_row_groups("--row-groups", s))
            .transpose()?,
    })
}

/// `A..B` (row groups A up to B, exclusive; A < B).
fn parse_row_groups(key: &str, s: &str) -> Result<std::ops::Range<usize>, SettingsError> {
    let bad = || SettingsError::OutOfRange {
        key: key.into(),
        value: s.into(),
        message: "is not a range of row groups".into(),
        fix: "give A..B with A < B, e.g. 0..100 (the first 100 row groups)".into(),
    };
    let (a, b) = s.split_once("..").ok_or_else(bad)?;
    let (a, b): (usize, usize) = (
        a.trim().parse().map_err(|_| bad())?,
        b.trim().parse().map_err(|_| bad())?,
    );
    if a >= b {
        return Err(bad());
    }
    Ok(a..b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, body: &str) -> PathBuf {
        let p = dir.join("c.toml");
        std::fs::write(&p, body).unwrap();
        p
    }

    fn run_err(body: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let flags = IngestFlags {
            readings: vec!["r.csv".into()],
            config: Some(write(dir.path(), body)),
            ..IngestFlags::default()
        };
        run_options(&flags, &DetectFlags::default(), false)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn score_ranges_name_the_key_the_value_and_a_fix() {
        let e = run_err("[score]\nlevel_from_kw = 0.9\nlevel_full_kw = 0.9\n");
        assert!(e.starts_with("[score] level_full_kw: 0.9"), "{e}");
        assert!(e.contains("fix:"), "{e}");
        let e = run_err("[score]\nstep_min_kw = -1\n");
        assert!(e.starts_with("[score] step_min_kw: -1"), "{e}");
        let e = run_err("[score]\ncluster_weight = 1.5\n");
        assert!(e.starts_with("[score] cluster_weight: 1.5"), "{e}");
        let e = run_err("[cluster]\nn_runs = 0\n");
        assert!(e.starts_with("[cluster] n_runs: 0"), "{e}");
        let e = run_err("[balance]\nmin_step_kw = 0\n");
        assert!(e.starts_with("[balance] min_step_kw: 0"), "{e}");
    }

    #[test]
    fn balance_table_and_flags() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "[balance]\nloss_share = 0.05\nmin_step_kw = 2.0\n",
        );
        let flags = IngestFlags {
            readings: vec!["r.csv".into()],
            config: Some(p),
            ..IngestFlags::default()
        };
        let b = balance_options(
            &flags,
            &BalanceFlags {
                min_step_kw: Some(3.0),
                ..BalanceFlags::default()
            },
            false,
        )
        .unwrap()
        .balance;
        assert_eq!((b.loss.share(), b.min_step_kw), (0.05, 3.0));
        let r = run_options(&flags, &DetectFlags::default(), false).unwrap();
        assert_eq!((r.balance.loss.share(), r.balance.min_step_kw), (0.05, 2.0));
    }

    #[test]
    fn defaults_are_what_the_stages_default_to() {
        let flags = IngestFlags {
            readings: vec!["r.csv".into()],
            ..IngestFlags::default()
        };
        let r = run_options(&flags, &DetectFlags::default(), false).unwrap();
        let d = BalanceConfig::default();
        assert_eq!(r.balance.loss_fit, d.loss_fit);
        assert_eq!(
            (
                r.balance.loss.share(),
                r.balance.loss.quadratic(),
                r.balance.loss.fixed_kw(),
                r.balance.min_step_kw,
                r.balance.min_step_t,
                r.balance.max_day_estimated_share,
                r.balance.min_rig_likeness
            ),
            (
                d.loss.share(),
                d.loss.quadratic(),
                d.loss.fixed_kw(),
                d.min_step_kw,
                d.min_step_t,
                d.max_day_estimated_share,
                d.min_rig_likeness
            )
        );
        assert_eq!(
            serde_json::to_string(&r.detect.score).unwrap(),
            serde_json::to_string(&crate::score::ScoreConfig::default()).unwrap()
        );
    }
}
