//! The per-feeder series of the energy balance and its settings, shared by the balance
//! ([`super`]) and the step search ([`super::steps`]): [`BalanceConfig`], the slot series, the
//! day balances, and the context one feeder's computation reads.

use std::ops::Range;

use chrono_tz::Tz;

use super::loss_fit::LossFitSettings;
use super::losses::LossModel;
use crate::features::Calendar;
use crate::grid::LoadMatrix;

/// Days either side whose same-time readings estimate a missing one.
pub const PROFILE_DAYS: usize = 7;
/// A meter whose readings start this many days or more into the window is taken as connected
/// on its first reading (its earlier slots are zero, not estimated).
pub const LATE_START_DAYS: usize = 2;
/// Same-time readings needed for the local estimate (else the whole window is used).
pub const MIN_PROFILE_VALUES: usize = 2;
/// A slot whose estimated readings exceed this share of its metered load is excluded: the
/// balance would rest on estimates (e.g. a head-end outage of many meters at once).
pub const MAX_SLOT_ESTIMATED_SHARE: f64 = 0.5;
/// A day is used for step detection when at least this share of its slots is usable.
pub const MIN_DAY_USABLE_SHARE: f64 = 0.9;
/// Feeder input below this share of its median input is an outage: every meter behind it reads
/// zero too, and a rig's flatness must not be judged on it.
pub const OUTAGE_SHARE: f64 = 0.05;

/// Settings of the balance and of the step search.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BalanceConfig {
    /// The fixed loss model: every feeder's with `loss_fit.fit = false`, else the fallback of a
    /// feeder whose data cannot carry a fit.
    pub loss: LossModel,
    pub loss_fit: LossFitSettings,
    /// Zone of local days and hours.
    #[serde(serialize_with = "tz_name")]
    pub tz: Tz,
    /// Smallest step (kW) reported: about one S9 (1.36 kW, DOMAIN.md).
    pub min_step_kw: f64,
    /// Smallest |t| of a step of the daily residual.
    pub min_step_t: f64,
    /// Days whose estimated share of metered energy exceeds this are left out of the search.
    pub max_day_estimated_share: f64,
    /// A feeder is flagged when its hidden load is at least this rig-like.
    pub min_rig_likeness: f64,
}

fn tz_name<S: serde::Serializer>(tz: &Tz, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(tz.name())
}

impl Default for BalanceConfig {
    fn default() -> Self {
        BalanceConfig {
            loss: LossModel::default(),
            loss_fit: LossFitSettings::default(),
            tz: chrono_tz::UTC,
            min_step_kw: 1.0,
            min_step_t: 6.0,
            max_day_estimated_share: 0.2,
            min_rig_likeness: 0.5,
        }
    }
}

/// Why a slot is not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SlotStatus {
    Usable,
    NoInput,
    Outage,
    /// Estimates above [`MAX_SLOT_ESTIMATED_SHARE`] of the metered load.
    MostlyEstimated,
}

/// Per-slot series of one feeder (kW; `residual_kw` is `NaN` where not usable).
#[derive(Debug, Clone, Default)]
pub struct SlotSeries {
    pub input_kw: Vec<f32>,
    /// Read meter values.
    pub read_kw: Vec<f32>,
    /// Estimates of missing meter readings.
    pub estimated_kw: Vec<f32>,
    pub losses_kw: Vec<f32>,
    pub residual_kw: Vec<f32>,
    pub status: Vec<SlotStatus>,
}

/// One feeder and local day (energies over usable slots).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DayBalance {
    pub date: String,
    pub slots: usize,
    pub usable_slots: usize,
    pub input_kwh: f64,
    pub read_kwh: f64,
    pub estimated_kwh: f64,
    pub losses_kwh: f64,
    pub residual_kwh: f64,
    /// Mean residual over usable slots (kW), `NaN` without any.
    pub mean_residual_kw: f64,
    /// Used in the step search.
    pub used: bool,
    /// Why not, when not.
    pub excluded: Option<&'static str>,
}

/// Everything one feeder's computation reads.
pub(crate) struct Context<'a> {
    pub matrix: &'a LoadMatrix,
    pub cal: &'a Calendar,
    pub days: &'a [Range<usize>],
    pub cfg: &'a BalanceConfig,
}
