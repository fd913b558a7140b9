//! The feeder balance and the regional drop: their flags, and flags + the `[balance]` and
//! `[drop]` tables -> validated options.

use super::*;

/// Flags of `gridsleuth balance` (override the `[balance]` table).
#[derive(Debug, Clone, Default)]
pub struct BalanceFlags {
    pub loss_share: Option<f64>,
    pub loss_quadratic: Option<f64>,
    pub loss_fixed_kw: Option<f64>,
    /// `--fixed-losses`: the fixed model on every feeder (no fit).
    pub fixed_losses: bool,
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
pub(super) fn balance_from(
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
    let fit = if flags.fixed_losses {
        false
    } else {
        file.loss_fit.unwrap_or(d.loss_fit.fit)
    };
    let fit_share = layered(
        None,
        "",
        file.loss_fit_max_share,
        "[balance] loss_fit_max_share",
        d.loss_fit.max_share,
    );
    let fit_days = file
        .loss_fit_min_days
        .map_or(d.loss_fit.min_days, |v| v as usize);
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
    check::share_above_zero(&fit_share.1, fit_share.0, max_loss, "0.15")?;
    check::count_at_least_one("[balance] loss_fit_min_days", fit_days, "7")?;
    let loss =
        LossModel::new(share.0, quadratic.0, fixed.0).map_err(|e| SettingsError::Invalid {
            key: share.1.clone(),
            message: e.to_string(),
        })?;
    Ok(BalanceConfig {
        loss,
        loss_fit: LossFitSettings {
            fit,
            max_share: fit_share.0,
            min_days: fit_days,
        },
        tz,
        min_step_kw: step_kw.0,
        min_step_t: step_t.0,
        max_day_estimated_share: est.0,
        min_rig_likeness: rig.0,
    })
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
pub(super) fn drop_from(args: &DropFlags, file: &DropSection) -> Result<DropConfig, SettingsError> {
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
