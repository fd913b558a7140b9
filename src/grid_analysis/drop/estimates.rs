//! The settings of the load-drop model and the value types its estimates are made of, shared
//! by the analysis ([`super`]) and the model ([`super::model`]): [`DropConfig`], [`Interval`],
//! [`ChangePoint`].

use chrono::NaiveDate;

/// Model and window settings.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DropConfig {
    pub pre_days: u32,
    pub post_days: u32,
    pub transition_days: u32,
    pub confidence: f64,
    pub temperature: bool,
    pub changepoint_tolerance: u32,
    pub controls: Vec<String>,
}

impl Default for DropConfig {
    fn default() -> Self {
        DropConfig {
            pre_days: 56,
            post_days: 28,
            transition_days: 0,
            confidence: 0.95,
            temperature: true,
            changepoint_tolerance: 7,
            controls: Vec::new(),
        }
    }
}

/// An estimate with its confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Interval {
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
    pub se: f64,
}

impl Interval {
    pub(crate) fn new(estimate: f64, se: f64, z: f64) -> Self {
        Interval {
            estimate,
            low: estimate - z * se,
            high: estimate + z * se,
            se,
        }
    }
    pub(crate) fn scaled(&self, k: f64) -> Self {
        Interval {
            estimate: self.estimate * k,
            low: self.low * k,
            high: self.high * k,
            se: self.se * k.abs(),
        }
    }
    /// The interval excludes zero.
    pub fn excludes_zero(&self) -> bool {
        self.low > 0.0 || self.high < 0.0
    }
    pub fn covers(&self, v: f64) -> bool {
        self.low <= v && v <= self.high
    }
}

/// When the data say the level changed.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ChangePoint {
    pub date: NaiveDate,
    pub change_mw: f64,
    pub t: f64,
    pub days_from_event: i64,
    /// Significant and within the tolerance of the event date.
    pub agrees: bool,
}
