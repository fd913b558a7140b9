//! Options of `gridsleuth balance` and `gridsleuth drop` (clap), and their conversion into the
//! plain flags of [`crate::settings`], which validates them.
//!
//! `balance` takes every `ingest` option (flattened [`IngestArgs`]: `-r`, `--meters`,
//! `--feeders`, `--weather`, `--config`, `-o`, ...) plus the loss model and step thresholds (the
//! config file's `[balance]` table). `drop` reads a regional load series, not meter readings, so
//! it has its own input options; its model options can come from a `[drop]` table.

use std::path::PathBuf;

use clap::Args;

use super::values::{ChartSelection, GroupBy, LoadUnit};
use super::IngestArgs;
use crate::settings::{BalanceFlags, DropFlags};

/// Options of `gridsleuth balance`.
#[derive(Debug, Clone, Default, Args)]
pub struct BalanceArgs {
    #[command(flatten)]
    pub ingest: IngestArgs,
    /// Fixed loss model (used with --fixed-losses, and for a feeder with too little data to fit
    /// its own curve): losses proportional to the load delivered (share) [default: 0.03].
    #[arg(long, value_name = "SHARE", help_heading = "Energy balance")]
    pub loss_share: Option<f64>,
    /// Load-squared (I^2 R) losses: the extra share at the feeder's mean load [default: 0.01].
    #[arg(long, value_name = "SHARE", help_heading = "Energy balance")]
    pub loss_quadratic: Option<f64>,
    /// Constant no-load (transformer core) losses per feeder, kW: flat 24/7 like a rig, so
    /// model them [default: 0].
    #[arg(long, value_name = "KW", help_heading = "Energy balance")]
    pub loss_fixed_kw: Option<f64>,
    /// Use the fixed loss model (--loss-share, --loss-quadratic, --loss-fixed-kw) on every
    /// feeder instead of fitting each feeder's loss curve to its own data ([balance] loss_fit).
    #[arg(long, help_heading = "Energy balance")]
    pub fixed_losses: bool,
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

impl BalanceArgs {
    /// The balance flags (the ingest ones: [`IngestArgs::flags`]).
    pub fn balance_flags(&self) -> BalanceFlags {
        BalanceFlags {
            loss_share: self.loss_share,
            loss_quadratic: self.loss_quadratic,
            loss_fixed_kw: self.loss_fixed_kw,
            fixed_losses: self.fixed_losses,
            min_step_kw: self.min_step_kw,
            min_step_t: self.min_step_t,
            max_estimated_share: self.max_estimated_share,
            charts: self.charts.map(Into::into),
            write_slots: self.write_slots,
        }
    }
}

/// Options of `gridsleuth drop`.
#[derive(Debug, Clone, Args)]
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
    /// A gridsleuth config file whose `[drop]` table sets the model options below (flags win);
    /// with --meter-config and no --config, that file's `[drop]` table is used.
    #[arg(long, value_name = "FILE", help_heading = "Inputs")]
    pub config: Option<PathBuf>,
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

    /// Days before an event the model is fitted on (0 = back to the previous event or start) [default: 56].
    #[arg(long, value_name = "DAYS", help_heading = "Model")]
    pub pre_days: Option<u32>,
    /// Days after an event that are compared (0 = up to the next event or the end) [default: 28].
    #[arg(long, value_name = "DAYS", help_heading = "Model")]
    pub post_days: Option<u32>,
    /// Days from the event date left out as a transition (raids take days) [default: 0].
    #[arg(long, value_name = "DAYS", help_heading = "Model")]
    pub transition_days: Option<u32>,
    /// Confidence level of the intervals [default: 0.95].
    #[arg(long, value_name = "LEVEL", help_heading = "Model")]
    pub confidence: Option<f64>,
    /// Ignore temperature even when given.
    #[arg(long, help_heading = "Model")]
    pub no_temperature: bool,
    /// A change-point this many days or fewer from the event agrees with it [default: 7].
    #[arg(long, value_name = "DAYS", help_heading = "Model")]
    pub changepoint_tolerance: Option<u32>,

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

impl DropArgs {
    /// The flags as the settings layer takes them.
    pub fn flags(&self) -> DropFlags {
        DropFlags {
            load: self.load.clone(),
            meter_config: self.meter_config.clone(),
            config: self.config.clone(),
            group_by: self.group_by.into(),
            events: self.events.clone(),
            controls: self.controls.clone(),
            holidays: self.holidays.clone(),
            weather: self.weather.clone(),
            time_col: self.time_col.clone(),
            timestamp_format: self.timestamp_format.clone(),
            tz: self.tz.clone(),
            region_col: self.region_col.clone(),
            value_col: self.value_col.clone(),
            value_cols: self.value_cols.clone(),
            temp_col: self.temp_col.clone(),
            unit: self.unit.into(),
            delimiter: self.delimiter.clone(),
            pre_days: self.pre_days,
            post_days: self.post_days,
            transition_days: self.transition_days,
            confidence: self.confidence,
            no_temperature: self.no_temperature,
            changepoint_tolerance: self.changepoint_tolerance,
            out: self.out.clone(),
            no_charts: self.no_charts,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid_analysis::load_series::{Layout, LoadUnit as Unit};
    use crate::grid_analysis::DropInput;
    use crate::settings::{balance_options, drop_options};
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

    fn balance_err(argv: &[&str]) -> String {
        let b = B::try_parse_from(argv).unwrap();
        balance_options(&b.a.ingest.flags(), &b.a.balance_flags(), false)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn balance_options_are_validated() {
        let b = B::try_parse_from(["b", "-r", "x.csv", "--loss-share", "0.05"]).unwrap();
        let cfg = balance_options(&b.a.ingest.flags(), &b.a.balance_flags(), false)
            .unwrap()
            .balance;
        assert_eq!(cfg.loss.share(), 0.05);
        let e = balance_err(&["b", "-r", "x.csv", "--max-estimated-share", "1.5"]);
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
        let opts = drop_options(&D::try_parse_from(argv).unwrap().a.flags()).unwrap();
        let (input, cfg) = (opts.input, opts.model);
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
        assert_eq!((spec.delimiter, spec.unit), (b'\t', Unit::Kw));
        assert_eq!((cfg.pre_days, cfg.post_days), (56, 28));
        let bad = D::try_parse_from(["d", "-l", "l", "-e", "e", "--confidence", "1.2"]).unwrap();
        assert!(drop_options(&bad.a.flags())
            .unwrap_err()
            .to_string()
            .contains("--confidence"));
        let bad = D::try_parse_from(["d", "-l", "l", "-e", "e", "--delimiter", ";;"]).unwrap();
        assert!(drop_options(&bad.a.flags())
            .unwrap_err()
            .to_string()
            .contains("--delimiter"));
    }
}
