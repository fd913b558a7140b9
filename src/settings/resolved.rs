//! `gridsleuth config`: every setting `run` would use for these flags and config file, as a
//! config file (paths absolute, every key filled in) that `--config` accepts back. Input: the
//! flags and the config file; output: a [`ConfigFile`].

use super::*;

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
