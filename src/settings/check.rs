//! Range checks of the numeric settings: every `[score]` and `[cluster]` key, the `[balance]`
//! keys. A value out of range is refused with the key (or flag), the value, the rule it breaks
//! and a fix: a typo in a threshold must not silently change who is flagged.
//!
//! The rules: an evidence ramp starts below where it is full (`*_from < *_full`); powers, t
//! statistics and ratios of physical quantities are positive; shares, weights and duty cycles
//! lie in [0, 1]; correlations lie in [-1, 1]; counts are at least 1.

use super::SettingsError;
use crate::cluster::ClusterConfig;
use crate::score::ScoreConfig;

fn refuse(key: &str, v: impl Compact, message: String, fix: String) -> SettingsError {
    SettingsError::OutOfRange {
        key: key.to_string(),
        value: v.compact(),
        message,
        fix,
    }
}

/// A value as it is shown in a refusal: numbers compactly (`1e300`, not 301 digits).
trait Compact {
    fn compact(&self) -> String;
}

impl Compact for f64 {
    fn compact(&self) -> String {
        crate::numfmt::compact(*self)
    }
}

macro_rules! compact_int {
    ($($t:ty),*) => {$(impl Compact for $t {
        fn compact(&self) -> String {
            self.to_string()
        }
    })*};
}
compact_int!(usize, u32, u64, i64);

/// A finite number > 0.
pub fn positive(key: &str, v: f64, example: &str) -> Result<f64, SettingsError> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(refuse(
            key,
            v,
            "must be a positive number".into(),
            format!("set {key} to {example}"),
        ))
    }
}

/// A finite number >= 0.
pub fn at_least_zero(key: &str, v: f64, example: &str) -> Result<f64, SettingsError> {
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(refuse(
            key,
            v,
            "must be a number >= 0".into(),
            format!("set {key} to {example}"),
        ))
    }
}

/// A share in [0, `max`].
pub fn share_upto(key: &str, v: f64, max: f64, example: &str) -> Result<f64, SettingsError> {
    if v.is_finite() && (0.0..=max).contains(&v) {
        Ok(v)
    } else {
        Err(refuse(
            key,
            v,
            format!("is not a share between 0 and {max}"),
            format!("set {key} to a fraction, e.g. {example}"),
        ))
    }
}

/// A count of at least 1.
pub fn count_at_least_one(key: &str, v: usize, example: &str) -> Result<usize, SettingsError> {
    if v >= 1 {
        Ok(v)
    } else {
        Err(refuse(
            key,
            v,
            "must be at least 1".into(),
            format!("set {key} to e.g. {example}"),
        ))
    }
}

/// A share in (0, `max`].
pub fn share_above_zero(key: &str, v: f64, max: f64, example: &str) -> Result<f64, SettingsError> {
    if v.is_finite() && v > 0.0 && v <= max {
        Ok(v)
    } else {
        Err(refuse(
            key,
            v,
            format!("is not a share above 0 and at most {max}"),
            format!("set {key} to a fraction, e.g. {example}"),
        ))
    }
}

/// A value in [lo, hi].
fn within(key: &str, v: f64, lo: f64, hi: f64) -> Result<f64, SettingsError> {
    if v.is_finite() && (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(refuse(
            key,
            v,
            format!("must be in [{lo}, {hi}]"),
            format!("set {key} to a value between {lo} and {hi}"),
        ))
    }
}

/// An evidence ramp: `from` strictly below `full` (both checked by the caller for range).
fn ramp(table: &str, from: (&str, f64), full: (&str, f64)) -> Result<(), SettingsError> {
    if from.1 < full.1 {
        Ok(())
    } else {
        Err(refuse(
            &format!("{table} {}", full.0),
            full.1,
            format!(
                "must be greater than {} ({}): the evidence is full only above where it starts",
                from.0,
                crate::numfmt::compact(from.1)
            ),
            format!("raise {} or lower {}", full.0, from.0),
        ))
    }
}

/// The `[score]` table (`--flag-threshold` named as the flag when it was given).
pub fn score(s: &ScoreConfig, threshold_from_flag: bool) -> Result<(), SettingsError> {
    let k = |name: &str| format!("[score] {name}");
    let threshold_key = if threshold_from_flag {
        "--flag-threshold".to_string()
    } else {
        k("flag_threshold")
    };
    if !(0.0..=1.0).contains(&s.flag_threshold) {
        return Err(refuse(
            &threshold_key,
            s.flag_threshold,
            "must be in [0, 1]".into(),
            format!("set {threshold_key} to a score between 0 and 1, e.g. 0.5"),
        ));
    }
    // Physical quantities: positive.
    for (name, v, example) in [
        ("level_from_kw", s.level_from_kw, "0.25"),
        ("level_full_kw", s.level_full_kw, "0.9"),
        ("step_min_kw", s.step_min_kw, "0.4"),
        ("step_min_t", s.step_min_t, "5.0"),
        ("peer_from", s.peer_from, "1.3"),
        ("peer_full", s.peer_full, "2.5"),
        ("household_floor_kw", s.household_floor_kw, "0.2"),
        ("profile_from_kw", s.profile_from_kw, "0.8"),
        ("profile_span_kw", s.profile_span_kw, "2.0"),
        ("step_level_from_kw", s.step_level_from_kw, "0.3"),
        ("step_level_full_kw", s.step_level_full_kw, "0.6"),
        ("peer_floor_from", s.peer_floor_from, "2.0"),
        ("peer_floor_full", s.peer_floor_full, "4.0"),
    ] {
        positive(&k(name), v, example)?;
    }
    // Shares, weights, duty cycles: [0, 1].
    for (name, v) in [
        ("flat_from", s.flat_from),
        ("flat_full", s.flat_full),
        ("cluster_weight", s.cluster_weight),
        ("partial_form_weight", s.partial_form_weight),
        (
            "night_without_weather_weight",
            s.night_without_weather_weight,
        ),
        ("intermittent_contrast", s.intermittent_contrast),
        ("night_duty_from", s.night_duty_from),
        ("night_duty_full", s.night_duty_full),
        ("schedule_crisp_from", s.schedule_crisp_from),
        ("schedule_crisp_full", s.schedule_crisp_full),
        ("profile_share", s.profile_share),
        ("off_days_from", s.off_days_from),
        ("off_days_full", s.off_days_full),
        ("block_fill_from", s.block_fill_from),
        ("block_fill_full", s.block_fill_full),
    ] {
        within(&k(name), v, 0.0, 1.0)?;
    }
    // Correlations: [-1, 1].
    for (name, v) in [
        ("regular_from", s.regular_from),
        ("regular_full", s.regular_full),
        ("heating_corr_from", s.heating_corr_from),
        ("heating_corr_full", s.heating_corr_full),
        ("proxy_corr_from", s.proxy_corr_from),
        ("proxy_corr_full", s.proxy_corr_full),
    ] {
        within(&k(name), v, -1.0, 1.0)?;
    }
    // Non-negative strengths and relative changes.
    for (name, v, example) in [
        ("rhythm_from", s.rhythm_from, "0.15"),
        ("rhythm_full", s.rhythm_full, "0.4"),
        ("jitter_from", s.jitter_from, "0.03"),
        ("jitter_full", s.jitter_full, "0.15"),
        ("proxy_elasticity_from", s.proxy_elasticity_from, "0.5"),
        ("proxy_elasticity_full", s.proxy_elasticity_full, "1.0"),
        ("night_jitter_from", s.night_jitter_from, "0.04"),
        ("night_jitter_full", s.night_jitter_full, "0.12"),
        ("on_block_excess_from", s.on_block_excess_from, "0.2"),
        ("on_block_excess_full", s.on_block_excess_full, "0.4"),
        ("heating_wander_from", s.heating_wander_from, "0.03"),
        ("heating_wander_full", s.heating_wander_full, "0.06"),
        ("step_uniform_t_from", s.step_uniform_t_from, "15"),
        ("step_uniform_t_full", s.step_uniform_t_full, "40"),
    ] {
        at_least_zero(&k(name), v, example)?;
    }
    for (from, full) in [
        (
            ("level_from_kw", s.level_from_kw),
            ("level_full_kw", s.level_full_kw),
        ),
        (
            ("step_level_from_kw", s.step_level_from_kw),
            ("step_level_full_kw", s.step_level_full_kw),
        ),
        (
            ("off_days_from", s.off_days_from),
            ("off_days_full", s.off_days_full),
        ),
        (
            ("heating_wander_from", s.heating_wander_from),
            ("heating_wander_full", s.heating_wander_full),
        ),
        (
            ("step_uniform_t_from", s.step_uniform_t_from),
            ("step_uniform_t_full", s.step_uniform_t_full),
        ),
        (("flat_from", s.flat_from), ("flat_full", s.flat_full)),
        (
            ("rhythm_from", s.rhythm_from),
            ("rhythm_full", s.rhythm_full),
        ),
        (
            ("regular_from", s.regular_from),
            ("regular_full", s.regular_full),
        ),
        (
            ("jitter_from", s.jitter_from),
            ("jitter_full", s.jitter_full),
        ),
        (
            ("heating_corr_from", s.heating_corr_from),
            ("heating_corr_full", s.heating_corr_full),
        ),
        (("peer_from", s.peer_from), ("peer_full", s.peer_full)),
        (
            ("peer_floor_from", s.peer_floor_from),
            ("peer_floor_full", s.peer_floor_full),
        ),
        (
            ("night_duty_from", s.night_duty_from),
            ("night_duty_full", s.night_duty_full),
        ),
        (
            ("block_fill_from", s.block_fill_from),
            ("block_fill_full", s.block_fill_full),
        ),
        (
            ("proxy_corr_from", s.proxy_corr_from),
            ("proxy_corr_full", s.proxy_corr_full),
        ),
        (
            ("proxy_elasticity_from", s.proxy_elasticity_from),
            ("proxy_elasticity_full", s.proxy_elasticity_full),
        ),
        (
            ("night_jitter_from", s.night_jitter_from),
            ("night_jitter_full", s.night_jitter_full),
        ),
        (
            ("on_block_excess_from", s.on_block_excess_from),
            ("on_block_excess_full", s.on_block_excess_full),
        ),
        (
            ("schedule_crisp_from", s.schedule_crisp_from),
            ("schedule_crisp_full", s.schedule_crisp_full),
        ),
    ] {
        ramp("[score]", from, full)?;
    }
    Ok(())
}

/// The `[cluster]` table (`--clusters` named as the flag when it was given).
pub fn cluster(c: &ClusterConfig, k_from_flag: bool) -> Result<(), SettingsError> {
    let k_key = if k_from_flag {
        "--clusters"
    } else {
        "[cluster] k"
    };
    if c.k == 0 || c.k > 64 {
        return Err(refuse(
            k_key,
            c.k,
            "must be between 1 and 64".into(),
            format!("set {k_key} to a small number of clusters, e.g. 8"),
        ));
    }
    for (name, v, example) in [
        ("n_runs", c.n_runs as u64, "1"),
        ("max_iterations", c.max_iterations, "100"),
        ("max_fit_meters", c.max_fit_meters as u64, "20000"),
    ] {
        if v == 0 {
            let key = format!("[cluster] {name}");
            return Err(refuse(
                &key,
                v,
                "must be at least 1".into(),
                format!("set {key} to e.g. {example}"),
            ));
        }
    }
    Ok(())
}

/// The `[nightly]` table's numbers.
pub fn nightly(n: &super::file::NightlySection) -> Result<(), SettingsError> {
    if let Some(w) = n.window_days {
        within("[nightly] window_days", f64::from(w), 1.0, 366.0)?;
    }
    if let Some(k) = n.keep_runs {
        within("[nightly] keep_runs", k as f64, 1.0, 1e6)?;
    }
    if let Some(k) = n.keep_vanished_nights {
        within("[nightly] keep_vanished_nights", f64::from(k), 1.0, 366.0)?;
    }
    if let Some(v) = n.escalate_share {
        positive("[nightly] escalate_share", v, "0.2")?;
    }
    if let Some(v) = n.suppress_share {
        positive("[nightly] suppress_share", v, "0.25")?;
    }
    if let Some(v) = n.complete_share {
        if v <= 0.0 {
            return Err(refuse(
                "[nightly] complete_share",
                v,
                "must be above 0".into(),
                "set [nightly] complete_share to a fraction, e.g. 0.5".into(),
            ));
        }
        share_upto("[nightly] complete_share", v, 1.0, "0.5")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_pass() {
        score(&ScoreConfig::default(), false).unwrap();
        cluster(&ClusterConfig::default(), false).unwrap();
    }

    #[test]
    fn a_flat_ramp_names_its_full_key() {
        let s = ScoreConfig {
            level_from_kw: 0.9,
            level_full_kw: 0.9,
            ..ScoreConfig::default()
        };
        let e = score(&s, false).unwrap_err().to_string();
        assert!(e.starts_with("[score] level_full_kw: 0.9 must be greater than level_from_kw"));
        assert!(e.contains("fix:"), "{e}");
    }

    #[test]
    fn flags_are_named_as_flags() {
        let s = ScoreConfig {
            flag_threshold: 1.5,
            ..ScoreConfig::default()
        };
        let e = score(&s, true).unwrap_err().to_string();
        assert!(e.starts_with("--flag-threshold: 1.5"), "{e}");
        let c = ClusterConfig {
            k: 0,
            ..ClusterConfig::default()
        };
        let e = cluster(&c, true).unwrap_err().to_string();
        assert!(e.starts_with("--clusters: 0"), "{e}");
    }
}
