//! Settings: command-line flags + an optional TOML config file -> validated [`IngestOptions`].
//!
//! Resolution happens here and only here, before any work starts (ripgrep's low-args -> high-args
//! split). A flag beats the config file, which beats the default. Every bad value is rejected
//! with the flag or key name, the value, and what would be valid.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::cli::IngestArgs;
use crate::ingest::{
    AccumulatorConfig, AmbiguousPolicy, GapPolicy, IngestOptions, LongFormat, Nem12Format,
    NullTokens, ReadingsFormat, TimeFormat, TimeSpec, ValueUnit, WideFormat,
};

/// A setting that cannot be used, with where it came from.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{key}: {message}")]
    Invalid { key: String, message: String },
    #[error("config file {path}: {message}")]
    ConfigFile { path: PathBuf, message: String },
    #[error("no readings given\n  fix: pass --readings FILE (or a quoted glob), or set inputs.readings in the config file")]
    NoReadings,
    #[error("no input files match {pattern:?}\n  fix: check the path; quote globs so the shell does not expand them")]
    NoMatch { pattern: String },
}

fn invalid(key: &str, message: impl Into<String>) -> SettingsError {
    SettingsError::Invalid {
        key: key.to_string(),
        message: message.into(),
    }
}

/// The config file (`--config gridsleuth.toml`). Paths are relative to the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default)]
    pub inputs: InputsSection,
    #[serde(default)]
    pub readings: ReadingsSection,
    #[serde(default)]
    pub time: TimeSection,
    #[serde(default)]
    pub wide: WideSection,
    #[serde(default)]
    pub nem12: Nem12Section,
    #[serde(default)]
    pub quality: QualitySection,
    #[serde(default)]
    pub feeders: FeedersSection,
    #[serde(default)]
    pub score: crate::score::ScoreConfig,
    #[serde(default)]
    pub cluster: crate::cluster::ClusterConfig,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputsSection {
    pub readings: Option<Vec<String>>,
    pub meters: Option<PathBuf>,
    pub feeders: Option<Vec<String>>,
    pub weather: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadingsSection {
    pub format: Option<ReadingsFormat>,
    pub meter_col: Option<String>,
    pub time_col: Option<String>,
    pub value_col: Option<String>,
    pub unit: Option<ValueUnit>,
    pub delimiter: Option<String>,
    pub null_tokens: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeSection {
    pub tz: Option<String>,
    pub timestamp_format: Option<String>,
    pub dst_ambiguous: Option<AmbiguousPolicy>,
    pub dst_gap: Option<GapPolicy>,
    pub timestamps_mark: Option<StampMark>,
    pub interval: Option<String>,
    pub start: Option<String>,
    pub end: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WideSection {
    pub id_col: Option<String>,
    pub date_col: Option<String>,
    pub date_format: Option<String>,
    pub estimated_col: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nem12Section {
    pub tz: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QualitySection {
    pub max_kw: Option<f64>,
    pub allow_negative: Option<bool>,
    pub keep_unknown_meters: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedersSection {
    pub feeder_col: Option<String>,
    pub time_col: Option<String>,
    pub value_col: Option<String>,
    pub unit: Option<ValueUnit>,
}

/// Whether timestamps label the start or the end of their interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum StampMark {
    Start,
    End,
}

impl ConfigFile {
    pub fn load(path: &Path) -> Result<Self, SettingsError> {
        let text = std::fs::read_to_string(path).map_err(|e| SettingsError::ConfigFile {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        toml::from_str(&text).map_err(|e| SettingsError::ConfigFile {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }
}

/// Parses an IANA zone name.
pub fn parse_tz(key: &str, s: &str) -> Result<chrono_tz::Tz, SettingsError> {
    s.parse::<chrono_tz::Tz>().map_err(|_| {
        invalid(
            key,
            format!("{s:?} is not an IANA time zone (e.g. UTC, Europe/London, Asia/Almaty)"),
        )
    })
}

/// `30m`, `30min`, `1h`, `900s`, or plain minutes `30`. Must divide a day and be >= 1 minute.
pub fn parse_interval(key: &str, s: &str) -> Result<u32, SettingsError> {
    let t = s.trim().to_ascii_lowercase();
    let (num, mult) = if let Some(n) = t.strip_suffix("min") {
        (n, 60)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60)
    } else if let Some(n) = t.strip_suffix('h') {
        (n, 3600)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1)
    } else {
        (t.as_str(), 60)
    };
    let v: u32 = num
        .trim()
        .parse()
        .map_err(|_| invalid(key, format!("{s:?} is not a duration like 30m, 1h, 900s")))?;
    let secs = v
        .checked_mul(mult)
        .ok_or_else(|| invalid(key, format!("{s:?} is too long")))?;
    if secs < 60 || 86_400 % secs != 0 {
        return Err(invalid(key, format!("{s:?}: the interval must be at least 1 minute and divide a day (5m, 10m, 15m, 30m, 1h ...)")));
    }
    Ok(secs)
}

/// A window bound: `YYYY-MM-DD` (local midnight in `tz`) or a timestamp (offset honoured).
pub fn parse_bound(key: &str, s: &str, time: &TimeSpec) -> Result<i64, SettingsError> {
    let mut p = TimeSpec {
        format: TimeFormat::Iso,
        ..time.clone()
    }
    .parser();
    match p.parse(s.as_bytes()) {
        Ok(crate::ingest::Stamp::At(t)) | Ok(crate::ingest::Stamp::Ambiguous(t, _)) => Ok(t),
        Err(_) => Err(invalid(key, format!("{s:?} is not a date (YYYY-MM-DD) or timestamp (YYYY-MM-DDTHH:MM[:SS][Z|+HH:MM]) in {}", time.tz))),
    }
}

fn parse_delimiter(key: &str, s: &str) -> Result<u8, SettingsError> {
    match s {
        "\\t" | "tab" | "\t" => Ok(b'\t'),
        s if s.len() == 1 && s.is_ascii() => Ok(s.as_bytes()[0]),
        _ => Err(invalid(
            key,
            format!("{s:?} must be one ASCII character (or 'tab')"),
        )),
    }
}

/// Expands paths and globs, in argument order, each glob's matches sorted.
pub fn expand_inputs(
    patterns: &[String],
    base: Option<&Path>,
) -> Result<Vec<PathBuf>, SettingsError> {
    let mut out = Vec::new();
    for pat in patterns {
        let full = match base {
            Some(b) if Path::new(pat).is_relative() => b.join(pat).to_string_lossy().into_owned(),
            _ => pat.clone(),
        };
        if Path::new(&full).exists() {
            out.push(PathBuf::from(&full));
            continue;
        }
        let has_glob = full.contains(['*', '?', '[']);
        if !has_glob {
            // Let ingest report a missing file with its own message.
            out.push(PathBuf::from(&full));
            continue;
        }
        let mut matches: Vec<PathBuf> = glob::glob(&full)
            .map_err(|e| invalid("--readings", format!("bad glob {pat:?}: {e}")))?
            .filter_map(Result::ok)
            .filter(|p| p.is_file())
            .collect();
        if matches.is_empty() {
            return Err(SettingsError::NoMatch {
                pattern: pat.clone(),
            });
        }
        matches.sort();
        out.extend(matches);
    }
    Ok(out)
}

/// Flags + config -> options for the ingest stage.
pub fn resolve_ingest(
    args: &IngestArgs,
    show_progress: bool,
) -> Result<IngestOptions, SettingsError> {
    let (cfg, base) = match &args.config {
        Some(p) => (ConfigFile::load(p)?, p.parent().map(Path::to_path_buf)),
        None => (ConfigFile::default(), None),
    };
    let base = base.as_deref();
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

/// Flags + config -> detection settings (the `[score]` and `[cluster]` tables; flags win).
pub fn resolve_detect(
    args: &crate::cli::RunArgs,
    tz: chrono_tz::Tz,
) -> Result<crate::detect::DetectConfig, SettingsError> {
    let cfg = match &args.ingest.config {
        Some(p) => ConfigFile::load(p)?,
        None => ConfigFile::default(),
    };
    let mut cluster = cfg.cluster;
    let mut score = cfg.score;
    if let Some(s) = args.seed {
        cluster.seed = s;
    }
    if let Some(k) = args.clusters {
        cluster.k = k;
    }
    if cluster.k == 0 || cluster.k > 64 {
        return Err(invalid(
            "--clusters",
            format!("{} must be between 1 and 64", cluster.k),
        ));
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
    if !(0.0..=1.0).contains(&score.flag_threshold) {
        return Err(invalid(
            "--flag-threshold",
            format!("{} must be in [0, 1]", score.flag_threshold),
        ));
    }
    Ok(crate::detect::DetectConfig {
        tz: Some(tz),
        cluster,
        score,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("k", "30m").ok(), Some(1800));
        assert_eq!(parse_interval("k", "15min").ok(), Some(900));
        assert_eq!(parse_interval("k", "1h").ok(), Some(3600));
        assert_eq!(parse_interval("k", "30").ok(), Some(1800));
        assert!(parse_interval("k", "7m").is_err(), "does not divide a day");
        assert!(parse_interval("k", "10s").is_err());
        let e = parse_interval("--interval", "abc").unwrap_err().to_string();
        assert!(e.contains("--interval") && e.contains("abc"), "{e}");
    }

    #[test]
    fn zones_and_bounds() {
        assert!(parse_tz("--tz", "Mars/Olympus")
            .unwrap_err()
            .to_string()
            .contains("IANA"));
        let time = TimeSpec {
            tz: parse_tz("--tz", "Europe/London").unwrap(),
            ..TimeSpec::default()
        };
        // Local midnight in summer time is 23:00 UTC the day before.
        assert_eq!(
            parse_bound("--start", "2024-07-01", &time).unwrap(),
            1_719_788_400
        );
        assert!(parse_bound("--start", "July", &time).is_err());
    }

    #[test]
    fn config_file_rejects_unknown_keys() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "[readings]\nmeter_colum = 'x'\n").unwrap();
        let e = ConfigFile::load(&p).unwrap_err().to_string();
        assert!(e.contains("meter_colum"), "{e}");
    }
}
