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

//!
//! Modules: [`error`] (the error and its message), [`ingest`] (readings settings), [`run`]
//! (detection settings, `run --model`), [`resolved`] (the file `gridsleuth config` prints),
//! `grid` (the balance and drop commands), `nightly` (`nightly` and `outcomes import`),
//! [`check`] (ranges), [`file`] (the config file's tables), [`values`] (value parsers). This
//! file holds what they share: the loaded config file ([`Sources`]) and the flag > file >
//! default rule.

pub mod check;
mod error;
pub mod file;
mod grid;
mod ingest;
mod nightly;
mod resolved;
mod run;
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

pub(crate) use error::invalid;
pub use error::{message_chain, SettingsError};
pub(crate) use ingest::ingest_from;
pub use ingest::{ingest_command, resolve_ingest, IngestFlags, DEFAULT_MEMORY_BUDGET};
pub use resolved::resolved_config;
pub(crate) use run::detect_from;
pub use run::{run_options, DetectFlags};

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
