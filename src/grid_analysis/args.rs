//! Options of `gridsleuth balance` and `gridsleuth drop` (clap), and their validation into a
//! [`BalanceConfig`] and a [`DropConfig`] + [`LoadSeriesSpec`] before any work starts.
//!
//! `balance` takes every `ingest` option (flattened [`IngestArgs`]: `-r`, `--meters`,
//! `--feeders`, `--weather`, `--config`, `-o`, ...) plus the loss model and step thresholds.
//! `drop` reads a regional load series, not meter readings, so it has its own input options.
//! Every bad value is rejected with the option, the value and a fix.

use std::path::PathBuf;

use super::aggregate::GroupBy;
use super::balance::{BalanceConfig, LossModel, DEFAULT_LOSS_QUADRATIC, DEFAULT_LOSS_SHARE};
use super::drop::DropConfig;
use super::load_series::{Layout, LoadSeriesSpec, LoadUnit, TimeLayout};
use super::GridAnalysisError;
use crate::cli::IngestArgs;

/// Which feeders get a chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChartSelection {
    /// Every feeder.
    #[default]
    All,
    /// Flagged feeders only.
    Flagged,
    /// No charts.
    None,
}

/// Options of `gridsleuth balance`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct BalanceArgs {
    #[command(flatten)]
    pub ingest: IngestArgs,
    /// Technical losses proportional to the load delivered (share) [default: 0.03].
    #[arg(long, value_name = "SHARE", help_heading = "Energy balance")]
    pub loss_share: Option<f64>,
    /// Load-squared (I^2 R) losses: the extra share at the feeder's mean load [default: 0.01].
    #[arg(long, value_name = "SHARE", help_heading = "Energy balance")]
    pub loss_quadratic: Option<f64>,
    /// Constant no-load (transformer core) losses per feeder, kW: flat 24/7 like a rig, so
    /// model them [default: 0].
    #[arg(long, value_name = "KW", help_heading = "Energy balance")]
    pub loss_fixed_kw: Option<f64>,
    /// Smallest residual step reported, kW [default: 1.0, about one Antminer S9].
    #[arg(long, value_name = "KW", help_heading = "Energy balance")]
    pub min_step_kw: Option<f64>,
    /// Smallest t statistic of a step of the daily residual [default: 6].
    #[arg(long, value_name = "T", help_heading = "Energy balance")]
    pub min_step_t: Option<f64>,
    /// Leave a day out of the step search when more than this share of its metered energy is
    /// estimated (missing readings) [default: 0.2].
    #[arg(long, value_name = "SHARE", help_heading = "Energy balance")]
    pub max_estimated_share: Option<f64>,
    /// Which feeders get a chart (PNG and SVG) [default: all].
    #[arg(long, value_enum, help_heading = "Energy balance")]
    pub charts: Option<ChartSelection>,
    /// Also write balance_slots.csv (every feeder and slot).
    #[arg(long, help_heading = "Energy balance")]
    pub write_slots: bool,
}

fn positive(option: &str, v: f64, fix: &str) -> Result<f64, GridAnalysisError> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(GridAnalysisError::option(
            option,
            format!("{v} must be a positive number"),
            fix,
        ))
    }
}

fn share(option: &str, v: f64) -> Result<f64, GridAnalysisError> {
    if v.is_finite() && (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(GridAnalysisError::option(
            option,
            format!("{v} is not a share between 0 and 1"),
            format!("pass a fraction, e.g. {option} 0.2"),
        ))
    }
}

impl BalanceArgs {
    /// Validated balance settings; `tz` is the zone of local days (the ingest `--tz`).
    pub fn config(&self, tz: chrono_tz::Tz) -> Result<BalanceConfig, GridAnalysisError> {
        let d = BalanceConfig::default();
        Ok(BalanceConfig {
            loss: LossModel::new(
                self.loss_share.unwrap_or(DEFAULT_LOSS_SHARE),
                self.loss_quadratic.unwrap_or(DEFAULT_LOSS_QUADRATIC),
                self.loss_fixed_kw.unwrap_or(0.0),
            )?,
            tz,
            min_step_kw: positive(
                "--min-step-kw",
                self.min_step_kw.unwrap_or(d.min_step_kw),
                "pass a power in kW, e.g. --min-step-kw 1.0",
            )?,
            min_step_t: positive(
                "--min-step-t",
                self.min_step_t.unwrap_or(d.min_step_t),
                "pass a t statistic, e.g. --min-step-t 6",
            )?,
            max_day_estimated_share: share(
                "--max-estimated-share",
                self.max_estimated_share
                    .unwrap_or(d.max_day_estimated_share),
            )?,
            min_rig_likeness: d.min_rig_likeness,
        })
    }
}

/// Options of `gridsleuth drop`.
#[derive(Debug, Clone, clap::Args)]
pub struct DropArgs {
    /// Load series CSV: long (timestamp,region,load) or wide (one column per region, with
    /// --value-cols).
    #[arg(
        short,
        long,
        value_name = "FILE",
        help_heading = "Inputs",
        required_unless_present = "meter_config"
    )]
    pub load: Option<PathBuf>,
    /// Instead of --load: meter readings, meters and weather through a gridsleuth config file
    /// (as `run --config`), summed into regions by --group-by.
    #[arg(
        long,
        value_name = "FILE",
        help_heading = "Inputs",
        conflicts_with = "load"
    )]
    pub meter_config: Option<PathBuf>,
    /// With --meter-config: one region per feeder, per tariff, or all meters together.
    #[arg(long, value_enum, default_value = "feeder", help_heading = "Inputs")]
    pub group_by: GroupBy,
    /// Events CSV: date,region,label (region empty or * = every region but the controls).
    #[arg(short, long, value_name = "FILE", help_heading = "Inputs")]
    pub events: PathBuf,
    /// Control regions for a difference-in-differences estimate (repeatable).
    #[arg(long = "control", value_name = "REGION", help_heading = "Inputs")]
    pub controls: Vec<String>,
    /// Holidays CSV with a `date` column (YYYY-MM-DD); modelled as their own day type.
    #[arg(long, value_name = "FILE", help_heading = "Inputs")]
    pub holidays: Option<PathBuf>,
    /// Weather CSV (timestamp,temperature_c), when the load file has no temperature column.
    #[arg(long, value_name = "FILE", help_heading = "Inputs")]
    pub weather: Option<PathBuf>,

    /// Timestamp column [default: timestamp].
    #[arg(
        long,
        value_name = "NAME",
        default_value = "timestamp",
        help_heading = "Columns"
    )]
    pub time_col: String,
    /// Timestamp layout: iso, or a chrono layout such as '%m/%d/%Y %H:%M' (dates alone work).
    #[arg(
        long,
        value_name = "FMT",
        default_value = "iso",
        help_heading = "Columns"
    )]
    pub timestamp_format: String,
    /// Zone to read timestamps with an offset in (naive timestamps are local already).
    #[arg(
        long,
        value_name = "ZONE",
        default_value = "UTC",
        help_heading = "Columns"
    )]
    pub tz: String,
    /// Long form: region column.
    #[arg(
        long,
        value_name = "NAME",
        default_value = "region",
        help_heading = "Columns"
    )]
    pub region_col: String,
    /// Long form: load column.
    #[arg(
        long,
        value_name = "NAME",
        default_value = "load",
        help_heading = "Columns"
    )]
    pub value_col: String,
    /// Wide form: load columns, one region each, as COLUMN or COLUMN=REGION (repeatable).
    #[arg(long, num_args = 1.., value_name = "COL[=REGION]", help_heading = "Columns")]
    pub value_cols: Vec<String>,
    /// Temperature column (°C) in the load file.
    #[arg(long, value_name = "NAME", help_heading = "Columns")]
    pub temp_col: Option<String>,
    /// Unit of the load values: mw, kw, w (average power) or mwh, kwh (energy per interval).
    #[arg(long, value_enum, default_value = "mw", help_heading = "Columns")]
    pub unit: LoadUnit,
    /// Field delimiter, one character or 'tab'.
    #[arg(
        long,
        value_name = "CHAR",
        default_value = ",",
        help_heading = "Columns"
    )]
    pub delimiter: String,

    /// Days before an event the model is fitted on (0 = back to the previous event or start).
    #[arg(
        long,
        value_name = "DAYS",
        default_value_t = 56,
        help_heading = "Model"
    )]
    pub pre_days: u32,
    /// Days after an event that are compared (0 = up to the next event or the end).
    #[arg(
        long,
        value_name = "DAYS",
        default_value_t = 28,
        help_heading = "Model"
    )]
    pub post_days: u32,
    /// Days from the event date left out as a transition (raids take days).
    #[arg(long, value_name = "DAYS", default_value_t = 0, help_heading = "Model")]
    pub transition_days: u32,
    /// Confidence level of the intervals.
    #[arg(
        long,
        value_name = "LEVEL",
        default_value_t = 0.95,
        help_heading = "Model"
    )]
    pub confidence: f64,
    /// Ignore temperature even when given.
    #[arg(long, help_heading = "Model")]
    pub no_temperature: bool,
    /// A change-point this many days or fewer from the event agrees with it.
    #[arg(long, value_name = "DAYS", default_value_t = 7, help_heading = "Model")]
    pub changepoint_tolerance: u32,

    /// Output directory (drop_estimates.csv, drop_daily.csv, drop.json, charts/).
    #[arg(
        short,
        long,
        value_name = "DIR",
        default_value = "gridsleuth-out",
        help_heading = "Output"
    )]
    pub out: PathBuf,
    /// Write no charts.
    #[arg(long, help_heading = "Output")]
    pub no_charts: bool,
}

/// Where the daily regional load of `drop` comes from.
#[derive(Debug, Clone)]
pub enum DropInput {
    /// A regional load CSV.
    Series(LoadSeriesSpec),
    /// Meter readings through a config file, grouped into regions.
    Meters { config: PathBuf, group_by: GroupBy },
}

impl DropArgs {
    /// The input and the model settings.
    pub fn resolve(&self) -> Result<(DropInput, DropConfig), GridAnalysisError> {
        let tz = crate::settings::parse_tz("--tz", &self.tz)?;
        let delimiter = match self.delimiter.as_str() {
            "tab" | "\\t" => b'\t',
            d if d.len() == 1 => d.as_bytes()[0],
            d => {
                return Err(GridAnalysisError::option(
                    "--delimiter",
                    format!("{d:?} is not one character"),
                    "pass one character, e.g. --delimiter ';', or --delimiter tab",
                ))
            }
        };
        let layout = if self.value_cols.is_empty() {
            Layout::Long {
                region_col: self.region_col.clone(),
                value_col: self.value_col.clone(),
            }
        } else {
            let mut cols = Vec::new();
            for v in &self.value_cols {
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
        let input = match (&self.load, &self.meter_config) {
            (_, Some(config)) => DropInput::Meters {
                config: config.clone(),
                group_by: self.group_by,
            },
            (Some(path), None) => DropInput::Series(LoadSeriesSpec {
                path: path.clone(),
                time_col: self.time_col.clone(),
                time: TimeLayout::parse(&self.timestamp_format),
                tz,
                layout,
                temp_col: self.temp_col.clone(),
                unit: self.unit,
                delimiter,
            }),
            (None, None) => return Err(GridAnalysisError::option(
                "--load",
                "no load given",
                "pass --load FILE (a regional load CSV) or --meter-config FILE (meter readings)",
            )),
        };
        if !(self.confidence > 0.5 && self.confidence < 1.0) {
            return Err(GridAnalysisError::option(
                "--confidence",
                format!("{} is not a level between 0.5 and 1", self.confidence),
                "pass e.g. --confidence 0.95",
            ));
        }
        let cfg = DropConfig {
            pre_days: self.pre_days,
            post_days: self.post_days,
            transition_days: self.transition_days,
            confidence: self.confidence,
            temperature: !self.no_temperature,
            changepoint_tolerance: self.changepoint_tolerance,
            controls: self.controls.clone(),
        };
        Ok((input, cfg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    #[derive(Debug, Parser)]
    struct B {
        #[command(flatten)]
        a: BalanceArgs,
    }

    #[derive(Debug, Parser)]
    struct D {
        #[command(flatten)]
        a: DropArgs,
    }

    #[test]
    fn option_definitions_are_consistent() {
        B::command().debug_assert();
        D::command().debug_assert();
    }

    #[test]
    fn balance_options_are_validated() {
        let b = B::try_parse_from(["b", "-r", "x.csv", "--loss-share", "0.05"]).unwrap();
        let cfg = b.a.config(chrono_tz::UTC).unwrap();
        assert_eq!(cfg.loss.share(), 0.05);
        let bad = B::try_parse_from(["b", "--max-estimated-share", "1.5"]).unwrap();
        let e = bad.a.config(chrono_tz::UTC).unwrap_err().to_string();
        assert!(e.starts_with("--max-estimated-share: 1.5"), "{e}");
    }

    #[test]
    fn drop_columns_and_settings() {
        let argv = [
            "d",
            "--load",
            "l.csv",
            "--events",
            "e.csv",
            "--value-cols",
            "Zone 1 Power=Zone 1",
            "B",
            "--delimiter",
            "tab",
            "--unit",
            "kw",
        ];
        let (input, cfg) = D::try_parse_from(argv).unwrap().a.resolve().unwrap();
        let DropInput::Series(spec) = input else {
            panic!("a load file is a series")
        };
        assert_eq!(
            spec.layout,
            Layout::Wide {
                cols: vec![
                    ("Zone 1 Power".into(), "Zone 1".into()),
                    ("B".into(), "B".into())
                ]
            }
        );
        assert_eq!((spec.delimiter, spec.unit), (b'\t', LoadUnit::Kw));
        assert_eq!((cfg.pre_days, cfg.post_days), (56, 28));
        let bad = D::try_parse_from(["d", "-l", "l", "-e", "e", "--confidence", "1.2"]).unwrap();
        assert!(bad
            .a
            .resolve()
            .unwrap_err()
            .to_string()
            .contains("--confidence"));
        let bad = D::try_parse_from(["d", "-l", "l", "-e", "e", "--delimiter", ";;"]).unwrap();
        assert!(bad
            .a
            .resolve()
            .unwrap_err()
            .to_string()
            .contains("--delimiter"));
    }
}
