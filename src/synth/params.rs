//! `SynthOptions` -> validated settings, before any work starts (the same split as
//! `crate::settings` for ingest).
//!
//! Input: the parsed flags. Output: [`Resolved`]: the serialisable [`Settings`] (recorded in
//! `synth.json`), the time zone and, for a region, its [`TimeGrid`].
//! Invariants: every share is in [0, 1] and the population shares sum to at most 1; counts are
//! positive; the grid is a whole number of intervals; options that only apply to one mode are
//! rejected in the other. Every error names the option, the value and a fix.

use std::path::PathBuf;

use chrono_tz::Tz;

use super::kinds::{MiningMix, PopulationShares};
use super::{SynthError, SynthOptions};
use crate::grid::TimeGrid;
use crate::ingest::TimeSpec;
use crate::settings;

/// Defaults of the region options that are `Option`s in `SynthOptions` (so that giving them with
/// `--inject-into` can be rejected).
pub const DEFAULT_METERS: usize = 1000;
pub const DEFAULT_DAYS: u32 = 30;
pub const DEFAULT_INTERVAL: &str = "30m";
pub const DEFAULT_START: &str = "2024-03-01";
/// Longest window: ten years.
pub const MAX_DAYS: u32 = 3660;

/// The region's settings.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RegionSettings {
    pub meters: usize,
    pub days: u32,
    pub interval_secs: u32,
    pub start: String,
    pub shares: PopulationShares,
    pub meters_per_feeder: usize,
    pub loss_share: f64,
    pub loss_quadratic: f64,
    pub feeder_outages_per_30_days: f64,
    pub missing_share: f64,
    pub gap_meter_share: f64,
    pub estimated_meter_share: f64,
}

/// `--inject-into` settings.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InjectSettings {
    pub readings: Vec<String>,
    pub share: f64,
    pub mining_mix: MiningMix,
    pub meter_col: Option<String>,
    pub time_col: Option<String>,
    pub value_col: Option<String>,
}

/// Everything that shaped the output (`synth.json` "settings").
#[derive(Debug, Clone, serde::Serialize)]
pub struct Settings {
    pub mode: &'static str,
    pub seed: u64,
    pub tz: String,
    pub format: String,
    pub gzip: bool,
    /// Execution only: these two never change the output bytes.
    pub chunk_meters: usize,
    pub threads: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<RegionSettings>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inject: Option<InjectSettings>,
}

/// Validated settings plus the derived values the generator needs.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub settings: Settings,
    pub tz: Tz,
    /// The region's grid (`None` with `--inject-into`: the readings define it).
    pub grid: Option<TimeGrid>,
    pub csv: bool,
    pub out: PathBuf,
}

fn bad(option: &str, message: impl Into<String>, fix: impl Into<String>) -> SynthError {
    SynthError::Option {
        option: option.to_string(),
        message: message.into(),
        fix: fix.into(),
    }
}

/// A share in [0, 1].
fn share(option: &str, v: f64) -> Result<f64, SynthError> {
    if v.is_finite() && (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(bad(
            option,
            format!("{v} is not a share between 0 and 1"),
            format!("pass a fraction, e.g. {option} 0.01 for 1%"),
        ))
    }
}

/// A settings error re-labelled as a synth option error (the message already names the option).
fn from_settings(option: &str, e: settings::SettingsError, fix: &str) -> SynthError {
    let text = e.to_string();
    let message = text
        .strip_prefix(&format!("{option}: "))
        .unwrap_or(&text)
        .to_string();
    bad(option, message, fix)
}

/// Validates `args`.
pub fn resolve(args: &SynthOptions) -> Result<Resolved, SynthError> {
    let tz = settings::parse_tz("--tz", &args.tz)
        .map_err(|e| from_settings("--tz", e, "use an IANA name such as UTC or Europe/London"))?;
    let csv = match args.format.as_str() {
        "parquet" => false,
        "csv" => true,
        other => {
            return Err(bad(
                "--format",
                format!("{other:?} is not an output format"),
                "use --format parquet or --format csv",
            ))
        }
    };
    if args.gzip && !csv {
        return Err(bad(
            "--gzip",
            "only CSV readings can be gzipped (Parquet is already compressed)",
            "add --format csv, or drop --gzip",
        ));
    }
    if args.chunk_meters == 0 {
        return Err(bad(
            "--chunk-meters",
            "0 meters per batch",
            "use at least 1 (default 1000)",
        ));
    }
    let mining_mix = MiningMix::parse(&args.mining_mix).map_err(|m| {
        bad(
            "--mining-mix",
            m,
            format!("use kind=weight pairs, e.g. {}", MiningMix::DEFAULT_TEXT),
        )
    })?;
    let mut settings = Settings {
        mode: "region",
        seed: args.seed,
        tz: args.tz.clone(),
        format: args.format.clone(),
        gzip: args.gzip,
        chunk_meters: args.chunk_meters,
        threads: args.threads,
        region: None,
        inject: None,
    };
    if !args.inject_into.is_empty() {
        let region_only = [
            ("--meters", args.meters.is_some()),
            ("--days", args.days.is_some()),
            ("--interval", args.interval.is_some()),
            ("--start", args.start.is_some()),
        ];
        if let Some((opt, _)) = region_only.iter().find(|(_, given)| *given) {
            return Err(bad(
                opt,
                "does not apply with --inject-into (the readings define the meters and the window)",
                format!("drop {opt}, or drop --inject-into to generate a region"),
            ));
        }
        settings.mode = "inject";
        settings.inject = Some(InjectSettings {
            readings: args.inject_into.clone(),
            share: share("--inject-share", args.inject_share)?,
            mining_mix,
            meter_col: args.meter_col.clone(),
            time_col: args.time_col.clone(),
            value_col: args.value_col.clone(),
        });
        return Ok(Resolved {
            settings,
            tz,
            grid: None,
            csv,
            out: args.out.clone(),
        });
    }
    for (opt, given) in [
        ("--meter-col", args.meter_col.is_some()),
        ("--time-col", args.time_col.is_some()),
        ("--value-col", args.value_col.is_some()),
        ("--unit", args.unit.is_some()),
    ] {
        if given {
            return Err(bad(
                opt,
                "only applies with --inject-into (it names a column of the readings to inject into)",
                format!("add --inject-into FILES, or drop {opt}"),
            ));
        }
    }
    let meters = args.meters.unwrap_or(DEFAULT_METERS);
    if meters == 0 {
        return Err(bad("--meters", "0 meters", "use at least 1"));
    }
    let days = args.days.unwrap_or(DEFAULT_DAYS);
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(bad(
            "--days",
            format!("{days} days is outside 1..={MAX_DAYS}"),
            "use a window of 1 day to 10 years, e.g. --days 30",
        ));
    }
    let interval_text = args.interval.as_deref().unwrap_or(DEFAULT_INTERVAL);
    let interval_secs = settings::parse_interval("--interval", interval_text)
        .map_err(|e| from_settings("--interval", e, "use 15m, 30m or 1h"))?;
    let start_text = args.start.as_deref().unwrap_or(DEFAULT_START);
    let time = TimeSpec {
        tz,
        ..TimeSpec::default()
    };
    let start = settings::parse_bound("--start", start_text, &time).map_err(|e| {
        from_settings(
            "--start",
            e,
            "use a date such as 2024-03-01 (local midnight in --tz)",
        )
    })?;
    let shares = PopulationShares {
        registered_miner: share("--registered-miner-share", args.registered_miner_share)?,
        mining: share("--mining-share", args.mining_share)?,
        mining_mix,
        commercial: share("--commercial-share", args.commercial_share)?,
        commercial_24x7: share("--commercial-24x7-share", args.commercial_24x7_share)?,
        grow_op: share("--grow-op-share", args.grow_op_share)?,
        agricultural: share("--agricultural-share", args.agricultural_share)?,
        electric_heating: share("--electric-heating-share", args.electric_heating_share)?,
        storage_heating: share("--storage-heating-share", args.storage_heating_share)?,
    };
    if shares.total() > 1.0 + 1e-9 {
        return Err(bad(
            "--mining-share",
            format!(
                "the population shares (mining, registered miner, commercial, grow-op, \
                 agricultural, electric and storage heating) add up to {:.4} > 1",
                shares.total()
            ),
            "lower some of the --*-share options; households are the remainder",
        ));
    }
    if args.meters_per_feeder == 0 {
        return Err(bad(
            "--meters-per-feeder",
            "0 meters per feeder",
            "use at least 1 (default 200)",
        ));
    }
    let loss = |opt: &str, v: f64| {
        if v.is_finite() && (0.0..=0.5).contains(&v) {
            Ok(v)
        } else {
            Err(bad(
                opt,
                format!("{v} is not a loss share in [0, 0.5]"),
                "technical losses are a few percent, e.g. 0.03",
            ))
        }
    };
    let outages = args.feeder_outages;
    if !(outages.is_finite() && (0.0..=100.0).contains(&outages)) {
        return Err(bad(
            "--feeder-outages",
            format!("{outages} outages per feeder per 30 days is outside [0, 100]"),
            "use a small rate such as 0.5",
        ));
    }
    settings.region = Some(RegionSettings {
        meters,
        days,
        interval_secs,
        start: crate::synth::write::iso(start),
        shares,
        meters_per_feeder: args.meters_per_feeder,
        loss_share: loss("--loss-share", args.loss_share)?,
        loss_quadratic: loss("--loss-quadratic", args.loss_quadratic)?,
        feeder_outages_per_30_days: outages,
        missing_share: share("--missing-share", args.missing_share)?,
        gap_meter_share: share("--gap-meter-share", args.gap_meter_share)?,
        estimated_meter_share: share("--estimated-meter-share", args.estimated_meter_share)?,
    });
    let grid = TimeGrid {
        start,
        interval_secs,
        n_slots: (u64::from(days) * 86_400 / u64::from(interval_secs)) as usize,
    };
    Ok(Resolved {
        settings,
        tz,
        grid: Some(grid),
        csv,
        out: args.out.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::super::{SynthError, SynthOptions, SynthSummary};
    use super::*;

    /// The options of `gridsleuth synth ARGV` (only the flags these tests use).
    fn parse(argv: &[&str]) -> SynthOptions {
        let mut o = SynthOptions::default();
        let mut it = argv.iter();
        while let Some(&flag) = it.next() {
            if flag == "--gzip" {
                o.gzip = true;
                continue;
            }
            let v = *it.next().unwrap();
            match flag {
                "-o" => o.out = v.into(),
                "--mining-share" => o.mining_share = v.parse().unwrap(),
                "--days" => o.days = Some(v.parse().unwrap()),
                "--interval" => o.interval = Some(v.into()),
                "--start" => o.start = Some(v.into()),
                "--tz" => o.tz = v.into(),
                "--mining-mix" => o.mining_mix = v.into(),
                "--commercial-share" => o.commercial_share = v.parse().unwrap(),
                "--electric-heating-share" => o.electric_heating_share = v.parse().unwrap(),
                "--inject-into" => o.inject_into.push(v.into()),
                "--meters" => o.meters = Some(v.parse().unwrap()),
                "--meter-col" => o.meter_col = Some(v.into()),
                "--chunk-meters" => o.chunk_meters = v.parse().unwrap(),
                "--loss-share" => o.loss_share = v.parse().unwrap(),
                other => panic!("flag {other} not handled by the test parser"),
            }
        }
        o
    }

    fn err(argv: &[&str]) -> String {
        resolve(&parse(argv)).unwrap_err().to_string()
    }

    #[test]
    fn bad_options_name_the_option_and_a_fix() {
        for (argv, option) in [
            (vec!["-o", "x", "--mining-share", "1.5"], "--mining-share"),
            (vec!["-o", "x", "--days", "0"], "--days"),
            (vec!["-o", "x", "--interval", "7m"], "--interval"),
            (vec!["-o", "x", "--start", "yesterday"], "--start"),
            (vec!["-o", "x", "--tz", "Mars/Base"], "--tz"),
            (vec!["-o", "x", "--gzip"], "--gzip"),
            (vec!["-o", "x", "--mining-mix", "asic=1"], "--mining-mix"),
            (
                vec![
                    "-o",
                    "x",
                    "--commercial-share",
                    "0.9",
                    "--electric-heating-share",
                    "0.5",
                ],
                "--mining-share",
            ),
            (
                vec!["-o", "x", "--inject-into", "a.csv", "--meters", "5"],
                "--meters",
            ),
            (vec!["-o", "x", "--meter-col", "LCLid"], "--meter-col"),
            (vec!["-o", "x", "--chunk-meters", "0"], "--chunk-meters"),
            (vec!["-o", "x", "--loss-share", "2"], "--loss-share"),
        ] {
            let e = err(&argv);
            assert!(e.starts_with(option), "{argv:?}: {e}");
            assert!(e.contains("fix:"), "{argv:?}: {e}");
        }
    }

    #[test]
    fn defaults_resolve() {
        let r = resolve(&parse(&["-o", "x"])).unwrap();
        let g = r.grid.unwrap();
        assert_eq!(
            (g.n_slots, g.interval_secs, g.start),
            (1440, 1800, 1_709_251_200)
        );
        let set = r.settings.region.unwrap();
        assert_eq!(set.meters, 1000);
        assert!(
            (set.shares.total() - 0.1655).abs() < 1e-9,
            "{}",
            set.shares.total()
        );
    }

    #[test]
    fn public_types_are_send_sync() {
        fn check<T: Send + Sync>() {}
        check::<SynthOptions>();
        check::<SynthSummary>();
        check::<SynthError>();
    }
}
