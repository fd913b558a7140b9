//! The config file (`--config gridsleuth.toml`): one table per concern, every key optional,
//! unknown keys rejected. The same struct, with every key filled in, is what
//! `gridsleuth config` prints (so its output is a config file `--config` accepts back).
//!
//! Paths in the file are relative to the file; the printed, resolved form has them absolute.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::SettingsError;
use crate::ingest::{AmbiguousPolicy, GapPolicy, ReadingsFormat, ValueUnit};

/// The config file. `None` = not given (a flag or the default decides).
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
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
    pub cluster: crate::cluster::ClusterConfig,
    #[serde(default)]
    pub score: crate::score::ScoreConfig,
    #[serde(default)]
    pub balance: BalanceSection,
    #[serde(default)]
    pub drop: DropSection,
    #[serde(default)]
    pub nightly: NightlySection,
    #[serde(default)]
    pub limits: LimitsSection,
}

/// What the run may use.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSection {
    /// Memory that input-sized allocations may take together: `8G`, `512M`, `60%` (of the
    /// memory this process may use) [default: 75%].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_budget: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct InputsSection {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readings: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meters: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feeders: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weather: Option<PathBuf>,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReadingsSection {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<ReadingsFormat>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meter_col: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_col: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_col: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<ValueUnit>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub null_tokens: Option<Vec<String>>,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TimeSection {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tz: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp_format: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst_ambiguous: Option<AmbiguousPolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst_gap: Option<GapPolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamps_mark: Option<StampMark>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WideSection {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_col: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_col: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_format: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_col: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Nem12Section {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tz: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct QualitySection {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_kw: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_negative: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_unknown_meters: Option<bool>,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FeedersSection {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feeder_col: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_col: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_col: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<ValueUnit>,
}

/// The feeder energy balance (`gridsleuth balance`, and `run` when feeders are given); the
/// flags of `balance` override it. Defaults: see `grid_analysis::BalanceConfig`.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BalanceSection {
    /// The fixed loss model (`loss_share`, `loss_quadratic`; used when `loss_fit = false` and
    /// as the fallback of a feeder with too little data): losses proportional to the load
    /// delivered (share, 0..=0.3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss_share: Option<f64>,
    /// Load-squared losses: the extra share at the feeder's mean load (0..=0.3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss_quadratic: Option<f64>,
    /// Constant no-load losses per feeder, kW (>= 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss_fixed_kw: Option<f64>,
    /// Fit each feeder's loss curve (true), or use the fixed model above everywhere (false).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss_fit: Option<bool>,
    /// Upper bound of fitted losses, share of the feeder's input (0..=0.3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss_fit_max_share: Option<f64>,
    /// Fewest used days to fit a feeder's curve on; fewer: the fixed model (>= 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss_fit_min_days: Option<u32>,
    /// Smallest residual step reported, kW (> 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_step_kw: Option<f64>,
    /// Smallest t statistic of a step of the daily residual (> 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_step_t: Option<f64>,
    /// Days with more than this share of estimated metered energy are left out (0..=1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_estimated_share: Option<f64>,
    /// A feeder is flagged when its hidden load is at least this rig-like (0..=1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_rig_likeness: Option<f64>,
}

/// The regional load-drop model (`gridsleuth drop`); its flags override it.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DropSection {
    /// Days before an event the model is fitted on (0 = back to the previous event or start).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pre_days: Option<u32>,
    /// Days after an event that are compared (0 = up to the next event or the end).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub post_days: Option<u32>,
    /// Days from the event date left out as a transition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transition_days: Option<u32>,
    /// Confidence level of the intervals (0.5 < level < 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
    /// Use temperature when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<bool>,
    /// A change-point this many days or fewer from the event agrees with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changepoint_tolerance: Option<u32>,
}

/// `gridsleuth nightly` (and `outcomes import`): the landing folder, the state folder, the
/// rolling window, retention and the case rules. Ranges: see `settings::check::nightly`.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NightlySection {
    /// Landing file patterns (globs), relative to the config file; any format `ingest` reads.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub landing: Option<Vec<String>>,
    /// The state folder (database, day cache, lock, logs) [default: `state` beside the file].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<PathBuf>,
    /// Where the dated run folders go [default: `STATE/runs`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runs: Option<PathBuf>,
    /// Days in the rolling window, ending at the newest complete day [default: 35; 1..=366].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_days: Option<u32>,
    /// Run folders kept; older ones are removed [default: 30; >= 1].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_runs: Option<usize>,
    /// Nights a vanished (or closed) case stays on the list [default: 7; >= 1].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_vanished_nights: Option<u32>,
    /// A case escalates when its kW rises by more than this share of its maximum [default: 0.2].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escalate_share: Option<f64>,
    /// After a no-mining visit the meter stays suppressed while its kW is within this share of
    /// the level then and no device was added [default: 0.25].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppress_share: Option<f64>,
    /// A day is complete when its last interval has readings for this share of its meters
    /// [default: 0.5].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub complete_share: Option<f64>,
    /// Unflagged meters whose scores are kept per night besides the suspects [default: 50].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_others: Option<usize>,
}

/// Whether timestamps label the start or the end of their interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StampMark {
    Start,
    End,
}

impl ConfigFile {
    /// Reads and parses `path` (unknown keys are errors).
    pub fn load(path: &Path) -> Result<Self, SettingsError> {
        let text = std::fs::read_to_string(path).map_err(|source| SettingsError::ReadConfig {
            path: path.to_path_buf(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| SettingsError::ParseConfig {
            path: path.to_path_buf(),
            source: Box::new(source),
        })
    }

    /// The file as TOML text (every table present, unset keys left out).
    pub fn to_toml(&self) -> Result<String, SettingsError> {
        toml::to_string(self).map_err(|e| SettingsError::Invalid {
            key: "config".into(),
            message: format!("cannot be written as TOML: {e}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_file_rejects_unknown_keys() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "[readings]\nmeter_colum = 'x'\n").unwrap();
        let e = super::super::message_chain(&ConfigFile::load(&p).unwrap_err());
        assert!(e.contains("meter_colum"), "{e}");
        std::fs::write(&p, "[balance]\nloss_shares = 0.1\n").unwrap();
        assert!(ConfigFile::load(&p).is_err());
    }

    #[test]
    fn a_full_file_round_trips() {
        let mut f = ConfigFile::default();
        f.time.tz = Some("Europe/London".into());
        f.balance.loss_share = Some(0.04);
        f.drop.temperature = Some(false);
        let text = f.to_toml().unwrap();
        let back: ConfigFile = toml::from_str(&text).unwrap();
        assert_eq!(back.to_toml().unwrap(), text);
    }
}
