//! Grid analysis: what single meters cannot show.
//!
//! Two analyses (DOMAIN.md, "Beyond the single meter"):
//! - **Feeder energy balance** ([`mod@balance`]): energy into each feeder minus the sum of its
//!   meters minus technical losses ([`balance::losses`]), per slot and per local day, with
//!   missing meter readings estimated from the meter's own profile (never counted as losses;
//!   [`balance::series`]); steps in the daily residual ([`changepoint`], [`balance::steps`])
//!   dated to the slot, sized, and judged for rig-likeness ([`balance::rig_shape`]: flat
//!   24/7), with the hidden kW, a device count and candidate meters ([`balance::candidates`]).
//!   Input: an [`Ingested`](crate::ingest::Ingested) with feeders and meters metadata. Output:
//!   a [`BalanceReport`], written by [`balance::output`] (`feeders.csv`, `balance_daily.csv`,
//!   `balance.json`, per-feeder charts).
//! - **Regional load drop** ([`mod@drop`]): daily regional load (a CSV,
//!   [`drop::load_series`], or meter readings grouped by feeder or tariff,
//!   [`drop::aggregate`]) normalised for weekday, holidays and temperature by a regression
//!   fitted on the pre-event period ([`drop::model`], [`regression`]); the change at each
//!   event ([`drop::events`]) in MW and % with a confidence interval under AR(1) errors
//!   ([`drop::estimates`]), a difference-in-differences estimate against control regions, a
//!   change-point date from the data and a verdict combining them. Output: [`DropReport`],
//!   written by [`drop::output`] (`drop_estimates.csv`, `drop_daily.csv`, `drop.json`,
//!   per-region charts).
//!
//! Imports run one way: [`commands`] -> `balance`, `drop` -> [`changepoint`], [`regression`]
//! and this module's errors; inside `balance`, `mod.rs` -> `loss_fit`, `steps` -> `series`,
//! `candidates`, `rig_shape`, `losses`; inside `drop`, `mod.rs` -> `model` -> `estimates`, `regression`, `load_series`.
//! [`commands`] holds the two subcommands (`gridsleuth balance`, `gridsleuth drop`), their
//! options ([`BalanceOptions`], [`DropOptions`], validated by `crate::settings`) and the call
//! `run` makes when feeders are given.
//! Kernels take plain slices; files are read only by `ingest` (balance, `--meter-config`) and
//! [`drop::load_series`] / [`drop::events`] (drop); charts are drawn by
//! `crate::plot::grid_charts` from chart data built here, so tests check chart data, not pixels.

pub mod balance;
pub mod changepoint;
pub mod commands;
pub mod drop;
pub mod regression;

// The flat paths of before the split into `balance/` and `drop/`, kept for callers.
pub use balance::output as balance_output;
pub use balance::steps as feeder_steps;
pub use balance::{candidates, losses, rig_shape};
pub use drop::model as drop_model;
pub use drop::output as drop_output;
pub use drop::{aggregate, events, load_series};

use std::path::{Path, PathBuf};

pub use balance::output::ChartSelection;
pub use balance::{balance, balance_parts, BalanceConfig, BalanceReport, FeederBalance, LossModel};
pub use commands::{
    balance_for_run, run_balance, run_drop, BalanceOptions, CommandSummary, DropInput, DropOptions,
};
pub use drop::{analyse, DropConfig, DropReport, EventEstimate};

/// A fatal error of the grid analyses (exit 2). Each names the option, file, line or column at
/// fault and says how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum GridAnalysisError {
    #[error(transparent)]
    Ingest(#[from] crate::ingest::IngestError),
    #[error("{option}: {message}\n  fix: {fix}")]
    Option {
        option: String,
        message: String,
        fix: String,
    },
    #[error("{path}: {message}\n  fix: {fix}")]
    Input {
        path: PathBuf,
        message: String,
        fix: String,
    },
    #[error("{path}: line {line}: {message}\n  fix: {fix}")]
    Line {
        path: PathBuf,
        line: u64,
        message: String,
        fix: String,
    },
    #[error("energy balance: {message}\n  fix: {fix}")]
    Balance { message: String, fix: String },
    #[error("{path}: cannot write\n  fix: check that the output directory is writable (-o DIR)")]
    Write {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(transparent)]
    Console(#[from] crate::output::console::ConsoleError),
    #[error("{path}: cannot draw the chart: {message}")]
    Chart { path: PathBuf, message: String },
}

impl GridAnalysisError {
    pub(crate) fn option(option: &str, message: impl Into<String>, fix: impl Into<String>) -> Self {
        GridAnalysisError::Option {
            option: option.to_string(),
            message: message.into(),
            fix: fix.into(),
        }
    }

    pub(crate) fn input(path: &Path, message: impl Into<String>, fix: impl Into<String>) -> Self {
        GridAnalysisError::Input {
            path: path.to_path_buf(),
            message: message.into(),
            fix: fix.into(),
        }
    }

    pub(crate) fn write(
        path: &Path,
        e: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        GridAnalysisError::Write {
            path: path.to_path_buf(),
            source: e.into(),
        }
    }
}

/// Writes `bytes` to `path`, creating its directory.
pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> Result<(), GridAnalysisError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| GridAnalysisError::write(dir, e))?;
    }
    std::fs::write(path, bytes).map_err(|e| GridAnalysisError::write(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_stems_are_readable_and_unique() {
        // Was `file_stem`: the same readable names, and no two regions on one file.
        let f = crate::report::FileNames::readable(["F0001", "Zone 1/Power", "Zone 1", "Zone_1"]);
        assert_eq!(f.stem("F0001"), "F0001");
        assert_eq!(f.stem("Zone 1/Power"), "Zone_1_Power");
        assert_ne!(f.stem("Zone 1"), f.stem("Zone_1"));
    }

    #[test]
    fn public_types_are_send_sync() {
        fn check<T: Send + Sync>() {}
        check::<BalanceReport>();
        check::<DropReport>();
        check::<GridAnalysisError>();
    }
}
