//! The ingest stage's settings: [`IngestFlags`] + the `[inputs]`, `[readings]`, `[time]`,
//! `[wide]`, `[nem12]`, `[quality]` and `[limits]` tables -> [`IngestOptions`] (inputs expanded,
//! columns, zone and timestamp rules, the accumulator's checks, the memory budget, the row
//! groups of a shard). Used by every command that reads readings (`ingest`, `run`, `fit`,
//! `config`, `nightly`).

use super::*;

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
