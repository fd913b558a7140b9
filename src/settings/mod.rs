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
pub mod values;

use std::path::{Path, PathBuf};

pub use file::{
    BalanceSection, ConfigFile, DropSection, FeedersSection, InputsSection, Nem12Section,
    QualitySection, ReadingsSection, StampMark, TimeSection, WideSection,
};
pub use values::{expand_inputs, parse_bound, parse_delimiter, parse_interval, parse_tz};

use crate::app::{IngestCommandOptions, RunOptions};
use crate::grid_analysis::aggregate::GroupBy;
use crate::grid_analysis::balance::{BalanceConfig, LossModel};
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
}

/// Flags of `gridsleuth balance` (override the `[balance]` table).
#[derive(Debug, Clone, Default)]
pub struct BalanceFlags {
    pub loss_share: Option<f64>,
    pub loss_quadratic: Option<f64>,
    pub loss_fixed_kw: Option<f64>,
    pub min_step_kw: Option<f64>,
    pub min_step_t: Option<f64>,
    pub max_estimated_share: Option<f64>,
    pub charts: Option<ChartSelection>,
    pub write_slots: bool,
}

/// Flags of `gridsleuth drop` (the model flags override the `[drop]` table).
#[derive(Debug, Clone)]
pub struct DropFlags {
    pub load: Option<PathBuf>,
    pub meter_config: Option<PathBuf>,
    /// A config file for the `[drop]` table (with `--meter-config` and no `--config`, that
    /// file's `[drop]` table is used).
    pub config: Option<PathBuf>,
    pub group_by: GroupBy,
    pub events: PathBuf,
    pub controls: Vec<String>,
    pub holidays: Option<PathBuf>,
    pub weather: Option<PathBuf>,
    pub time_col: String,
    pub timestamp_format: String,
    pub tz: String,
    pub region_col: String,
    pub value_col: String,
    pub value_cols: Vec<String>,
    pub temp_col: Option<String>,
    pub unit: LoadUnit,
    pub delimiter: String,
    pub pre_days: Option<u32>,
    pub post_days: Option<u32>,
    pub transition_days: Option<u32>,
    pub confidence: Option<f64>,
    pub no_temperature: bool,
    pub changepoint_tolerance: Option<u32>,
    pub out: PathBuf,
    pub no_charts: bool,
}

impl Default for DropFlags {
    /// The flags' defaults (those of `gridsleuth drop --help`).
    fn default() -> Self {
        DropFlags {
            load: None,
            meter_config: None,
            config: None,
            group_by: GroupBy::Feeder,
            events: PathBuf::new(),
            controls: Vec::new(),
            holidays: None,
            weather: None,
            time_col: "timestamp".into(),
            timestamp_format: "iso".into(),
            tz: "UTC".into(),
            region_col: "region".into(),
            value_col: "load".into(),
            value_cols: Vec::new(),
            temp_col: None,
            unit: LoadUnit::Mw,
            delimiter: ",".into(),
            pre_days: None,
            post_days: None,
            transition_days: None,
            confidence: None,
            no_temperature: false,
            changepoint_tolerance: None,
            out: PathBuf::from("gridsleuth-out"),
            no_charts: false,
        }
    }
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
    let ingest = ingest_from(args, &src, show_progress)?;
    let tz = ingest.long.time.tz;
    let detect_cfg = detect_from(detect, &src.file, tz)?;
    let balance = balance_from(&BalanceFlags::default(), &src.file.balance, tz)?;
    Ok(RunOptions {
        ingest,
        out: args.out.clone(),
        write_matrix: args.write_matrix,
        detect: detect_cfg,
        balance,
        threads: detect.threads,
    })
}

/// `gridsleuth balance`: flags + config (read once) -> ingest and balance settings.
pub fn balance_options(
    args: &IngestFlags,
    flags: &BalanceFlags,
    show_progress: bool,
) -> Result<BalanceOptions, SettingsError> {
    let src = Sources::load(args.config.as_deref())?;
    let ingest = ingest_from(args, &src, show_progress)?;
    let balance = balance_from(flags, &src.file.balance, ingest.long.time.tz)?;
    Ok(BalanceOptions {
        ingest,
        out: args.out.clone(),
        balance,
        charts: flags.charts.unwrap_or_default(),
        write_slots: flags.write_slots,
    })
}

/// The `[balance]` settings, flags first; `tz` is the zone of local days (the ingest `--tz`).
fn balance_from(
    flags: &BalanceFlags,
    file: &BalanceSection,
    tz: chrono_tz::Tz,
) -> Result<BalanceConfig, SettingsError> {
    let d = BalanceConfig::default();
    let share = layered(
        flags.loss_share,
        "--loss-share",
        file.loss_share,
        "[balance] loss_share",
        d.loss.share(),
    );
    let quadratic = layered(
        flags.loss_quadratic,
        "--loss-quadratic",
        file.loss_quadratic,
        "[balance] loss_quadratic",
        d.loss.quadratic(),
    );
    let fixed = layered(
        flags.loss_fixed_kw,
        "--loss-fixed-kw",
        file.loss_fixed_kw,
        "[balance] loss_fixed_kw",
        d.loss.fixed_kw(),
    );
    let step_kw = layered(
        flags.min_step_kw,
        "--min-step-kw",
        file.min_step_kw,
        "[balance] min_step_kw",
        d.min_step_kw,
    );
    let step_t = layered(
        flags.min_step_t,
        "--min-step-t",
        file.min_step_t,
        "[balance] min_step_t",
        d.min_step_t,
    );
    let est = layered(
        flags.max_estimated_share,
        "--max-estimated-share",
        file.max_estimated_share,
        "[balance] max_estimated_share",
        d.max_day_estimated_share,
    );
    let rig = layered(
        None,
        "",
        file.min_rig_likeness,
        "[balance] min_rig_likeness",
        d.min_rig_likeness,
    );
    let max_loss = crate::grid_analysis::losses::MAX_LOSS_SHARE;
    check::share_upto(&share.1, share.0, max_loss, "0.03 for 3%")?;
    check::share_upto(&quadratic.1, quadratic.0, max_loss, "0.01")?;
    check::at_least_zero(
        &fixed.1,
        fixed.0,
        "the feeder transformers' no-load losses in kW, e.g. 0.5",
    )?;
    check::positive(&step_kw.1, step_kw.0, "a power in kW, e.g. 1.0")?;
    check::positive(&step_t.1, step_t.0, "a t statistic, e.g. 6")?;
    check::share_upto(&est.1, est.0, 1.0, "0.2")?;
    check::share_upto(&rig.1, rig.0, 1.0, "0.5")?;
    let loss =
        LossModel::new(share.0, quadratic.0, fixed.0).map_err(|e| SettingsError::Invalid {
            key: share.1.clone(),
            message: e.to_string(),
        })?;
    Ok(BalanceConfig {
        loss,
        tz,
        min_step_kw: step_kw.0,
        min_step_t: step_t.0,
        max_day_estimated_share: est.0,
        min_rig_likeness: rig.0,
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

/// `gridsleuth drop`: flags (+ the `[drop]` table) -> the input, the model and the outputs.
pub fn drop_options(args: &DropFlags) -> Result<DropOptions, SettingsError> {
    let tz = parse_tz("--tz", &args.tz)?;
    let delimiter = match args.delimiter.as_str() {
        "tab" | "\\t" => b'\t',
        d if d.len() == 1 => d.as_bytes()[0],
        d => {
            return Err(SettingsError::OutOfRange {
                key: "--delimiter".into(),
                value: format!("{d:?}"),
                message: "is not one character".into(),
                fix: "pass one character, e.g. --delimiter ';', or --delimiter tab".into(),
            })
        }
    };
    let layout = if args.value_cols.is_empty() {
        Layout::Long {
            region_col: args.region_col.clone(),
            value_col: args.value_col.clone(),
        }
    } else {
        let mut cols = Vec::new();
        for v in &args.value_cols {
            let (col, region) = match v.rsplit_once('=') {
                Some((c, r)) if !c.is_empty() && !r.trim().is_empty() => {
                    (c.to_string(), r.trim().to_string())
                }
                _ => (v.clone(), v.trim().to_string()),
            };
            cols.push((col, region));
        }
        Layout::Wide { cols }
    };
    // The [drop] table: from --config, else from --meter-config; each file read once.
    let meter_src = match &args.meter_config {
        Some(p) => Some(Sources::load(Some(p))?),
        None => None,
    };
    let drop_src = match (&args.config, &meter_src) {
        (Some(p), _) => Sources::load(Some(p))?.file.drop,
        (None, Some(m)) => m.file.drop.clone(),
        (None, None) => DropSection::default(),
    };
    let input =
        match (&args.load, meter_src) {
            (_, Some(src)) => {
                let flags = IngestFlags {
                    config: args.meter_config.clone(),
                    out: args.out.clone(),
                    ..IngestFlags::default()
                };
                DropInput::Meters {
                    ingest: Box::new(ingest_from(&flags, &src, false)?),
                    group_by: args.group_by,
                }
            }
            (Some(path), None) => DropInput::Series(LoadSeriesSpec {
                path: path.clone(),
                time_col: args.time_col.clone(),
                time: TimeLayout::parse(&args.timestamp_format),
                tz,
                layout,
                temp_col: args.temp_col.clone(),
                unit: args.unit,
                delimiter,
            }),
            (None, None) => return Err(SettingsError::OutOfRange {
                key: "--load".into(),
                value: "no load".into(),
                message: "given".into(),
                fix:
                    "pass --load FILE (a regional load CSV) or --meter-config FILE (meter readings)"
                        .into(),
            }),
        };
    let model = drop_from(args, &drop_src)?;
    Ok(DropOptions {
        input,
        model,
        events: args.events.clone(),
        holidays: args.holidays.clone(),
        weather: args.weather.clone(),
        out: args.out.clone(),
        charts: !args.no_charts,
    })
}

/// The `[drop]` model settings, flags first.
fn drop_from(args: &DropFlags, file: &DropSection) -> Result<DropConfig, SettingsError> {
    let d = DropConfig::default();
    let confidence = args.confidence.or(file.confidence).unwrap_or(d.confidence);
    if !(confidence > 0.5 && confidence < 1.0) {
        let key = if args.confidence.is_some() {
            "--confidence"
        } else {
            "[drop] confidence"
        };
        return Err(SettingsError::OutOfRange {
            key: key.into(),
            value: confidence.to_string(),
            message: "is not a level between 0.5 and 1".into(),
            fix: "pass e.g. --confidence 0.95".into(),
        });
    }
    Ok(DropConfig {
        pre_days: args.pre_days.or(file.pre_days).unwrap_or(d.pre_days),
        post_days: args.post_days.or(file.post_days).unwrap_or(d.post_days),
        transition_days: args
            .transition_days
            .or(file.transition_days)
            .unwrap_or(d.transition_days),
        confidence,
        temperature: !args.no_temperature && file.temperature.unwrap_or(d.temperature),
        changepoint_tolerance: args
            .changepoint_tolerance
            .or(file.changepoint_tolerance)
            .unwrap_or(d.changepoint_tolerance),
        controls: args.controls.clone(),
    })
}

/// The `[cluster]` and `[score]` tables with the detection flags applied, range-checked.
fn detect_from(
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
    })
}

/// Flags + the loaded config file -> options for the ingest stage.
fn ingest_from(
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
            format!("{max_kw} must be a positive number of kW"),
        ));
    }
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
    })
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
