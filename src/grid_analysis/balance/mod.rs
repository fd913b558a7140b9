//! Feeder energy balance: what a feeder delivers that its meters do not record.
//!
//! For each feeder and slot: input `I` (the feeder/substation meter), the sum of its customer
//! meters `M` (read values, plus an estimate for each missing reading), the technical losses of
//! the feeder's [`LossCurve`] (fitted to its own data jointly with the residual's steps,
//! [`loss_fit`]; the fixed [`LossModel`] when the data cannot carry a fit or when configured), and
//! the residual `R = I - losses - M` (kW). Per local day: the energies and the
//! mean residual. Then [`steps`] finds steps in the daily residual and judges them.
//!
//! Coverage: a missing meter reading is estimated from the same meter's own readings at the same
//! time of day on the nearest days ([`PROFILE_DAYS`] either side, else the whole window), never
//! taken as zero, so it cannot show up as a loss. The exception is a meter whose first reading
//! comes [`LATE_START_DAYS`] or more into the window: it is taken as connected then (a new
//! connection, or the new meter of a replacement), since estimating its absence would invent load
//! before it existed and make a false rise in the residual when it starts. Slots where estimates
//! exceed [`MAX_SLOT_ESTIMATED_SHARE`] of the metered load, slots without feeder input and feeder
//! outages are excluded; days with under [`MIN_DAY_USABLE_SHARE`] of slots usable, or whose
//! estimated share exceeds `max_day_estimated_share`, are kept in `balance_daily.csv` but left
//! out of the step search, and the report says how many and why.
//!
//! Input: the meters' [`LoadMatrix`], the [`MeterTable`] (its `feeder_id` column) and the feeder
//! matrix on the same grid. Output: a [`BalanceReport`], feeders in id order.
//! Invariants: energies are summed in f64 in meter-id order (deterministic, thread-independent).

use std::collections::BTreeMap;
use std::ops::Range;

use rayon::prelude::*;

pub mod candidates;
pub mod loss_fit;
pub mod losses;
pub mod output;
pub mod rig_shape;
pub mod series;
pub mod steps;

use super::GridAnalysisError;
use crate::features::Calendar;
use crate::grid::{LoadMatrix, TimeGrid};
use crate::ingest::{Ingested, MeterTable};
pub use loss_fit::{FeederLosses, LossFitSettings, LossSource};
pub use losses::{
    LossCurve, LossModel, DEFAULT_LOSS_QUADRATIC, DEFAULT_LOSS_SHARE, MAX_LOSS_SHARE,
};
use series::Context;
pub use series::{
    BalanceConfig, DayBalance, SlotSeries, SlotStatus, LATE_START_DAYS, MAX_SLOT_ESTIMATED_SHARE,
    MIN_DAY_USABLE_SHARE, MIN_PROFILE_VALUES, OUTAGE_SHARE, PROFILE_DAYS,
};
use steps::{judge, FeederFinding, ResidualStep};

/// The balance of one feeder.
#[derive(Debug, Clone)]
pub struct FeederBalance {
    pub feeder_id: String,
    /// Matrix rows of its meters, in id order.
    pub meter_rows: Vec<usize>,
    /// Meters the metadata puts on this feeder that have no readings at all.
    pub unread_meters: Vec<String>,
    /// Meters taken as connected on their first reading, [`LATE_START_DAYS`] or more into the
    /// window.
    pub late_meters: Vec<String>,
    pub slots: SlotSeries,
    /// Its technical losses: the fitted curve, or the fixed model.
    pub losses: FeederLosses,
    pub days: Vec<DayBalance>,
    /// Steps of the daily residual, in date order.
    pub steps: Vec<ResidualStep>,
    pub finding: FeederFinding,
}

/// The balance of every feeder.
#[derive(Debug, Clone)]
pub struct BalanceReport {
    pub grid: TimeGrid,
    pub config: BalanceConfig,
    /// Local date of each day index.
    pub dates: Vec<String>,
    pub day_ranges: Vec<Range<usize>>,
    /// Local hour of each slot.
    pub hours: Vec<u8>,
    pub feeders: Vec<FeederBalance>,
    /// What was left out and why (meters without a feeder, feeders without meters, ...).
    pub notes: Vec<String>,
}

/// The balance of an ingest with feeders and meters metadata.
pub fn balance(ing: &Ingested, cfg: &BalanceConfig) -> Result<BalanceReport, GridAnalysisError> {
    let Some(feeders) = &ing.feeders else {
        return Err(GridAnalysisError::Balance {
            message: "no feeder series were given".into(),
            fix: "pass --feeders FILE (feeder_id,timestamp,kwh), or inputs.feeders in the config"
                .into(),
        });
    };
    let Some((meters, _)) = &ing.meters else {
        return Err(GridAnalysisError::Balance {
            message: "no meters metadata: which meters are on which feeder is unknown".into(),
            fix: "pass --meters FILE with a feeder_id column".into(),
        });
    };
    balance_parts(&ing.matrix, meters, &feeders.matrix, cfg)
}

/// The balance from its parts (what [`balance`] calls; usable without files).
pub fn balance_parts(
    matrix: &LoadMatrix,
    meters: &MeterTable,
    feeders: &LoadMatrix,
    cfg: &BalanceConfig,
) -> Result<BalanceReport, GridAnalysisError> {
    let grid = matrix.grid;
    if feeders.grid.interval_secs != grid.interval_secs {
        return Err(GridAnalysisError::Balance {
            message: format!(
                "feeder series are at {} s, meters at {} s",
                feeders.grid.interval_secs, grid.interval_secs
            ),
            fix: "give both on one grid (--interval)".into(),
        });
    }
    let mut notes = Vec::new();
    let mut by_feeder: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mut no_feeder = 0usize;
    for (i, id) in matrix.meter_ids().iter().enumerate() {
        match meters.get(id).and_then(|m| m.feeder_id.as_deref()) {
            Some(f) if !f.is_empty() => by_feeder.entry(f).or_default().push(i),
            _ => no_feeder += 1,
        }
    }
    let mut unread: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for m in meters.rows() {
        if let Some(f) = m.feeder_id.as_deref() {
            if matrix.meter_index(&m.meter_id).is_none() {
                unread.entry(f).or_default().push(m.meter_id.clone());
            }
        }
    }
    if no_feeder > 0 {
        notes.push(format!(
            "{no_feeder} meters with readings have no feeder_id in the meters file: left out of \
             every balance"
        ));
    }
    let missing: Vec<&str> = by_feeder
        .keys()
        .copied()
        .filter(|f| feeders.meter_index(f).is_none())
        .collect();
    if !missing.is_empty() {
        notes.push(format!(
            "{} feeders of the meters file have no feeder series (e.g. {}): not balanced",
            missing.len(),
            missing
                .iter()
                .take(5)
                .copied()
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let lonely: Vec<&str> = feeders
        .meter_ids()
        .iter()
        .map(|f| &**f)
        .filter(|f| !by_feeder.contains_key(f))
        .collect();
    if !lonely.is_empty() {
        notes.push(format!(
            "{} feeder series have no meters with readings (e.g. {}): not balanced",
            lonely.len(),
            lonely
                .iter()
                .take(5)
                .copied()
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let cal = Calendar::new(&grid, cfg.tz);
    let days = cal.day_ranges();
    let ctx = Context {
        matrix,
        cal: &cal,
        days: &days,
        cfg,
    };
    let work: Vec<(&str, Vec<f32>, &Vec<usize>)> = by_feeder
        .iter()
        .filter_map(|(f, rows)| {
            let fi = feeders.meter_index(f)?;
            Some((*f, aligned(feeders, fi, &grid), rows))
        })
        .collect();
    let balanced: Vec<FeederBalance> = work
        .par_iter()
        .map(|(f, input, rows)| {
            let unread_meters = unread.get(f).cloned().unwrap_or_default();
            feeder_balance(f, input, rows, unread_meters, &ctx)
        })
        .collect();
    Ok(BalanceReport {
        grid,
        config: cfg.clone(),
        dates: cal.dates.clone(),
        day_ranges: days.clone(),
        hours: cal.hour.clone(),
        feeders: balanced,
        notes,
    })
}

/// Row `fi` of the feeder matrix on the meters' grid (`NaN` outside the feeder's own span).
fn aligned(feeders: &LoadMatrix, fi: usize, grid: &TimeGrid) -> Vec<f32> {
    let row = feeders.row(fi);
    (0..grid.n_slots)
        .map(|s| {
            feeders
                .grid
                .slot_of(grid.slot_start(s))
                .map_or(f32::NAN, |k| row[k])
        })
        .collect()
}

/// Adds one meter's row (kWh) into `read` and `est` (kWh), estimating each missing slot from the
/// same time of day on nearby days. Returns whether the meter starts late (see
/// [`LATE_START_DAYS`]); its slots before the first reading are then left at zero.
fn add_meter(row: &[f32], spd: usize, read: &mut [f64], est: &mut [f64]) -> bool {
    let n = row.len();
    let first = row.iter().position(|v| !v.is_nan()).unwrap_or(n);
    let late = first >= LATE_START_DAYS * spd;
    let mut whole_mean: Option<f64> = None;
    for s in (if late { first } else { 0 })..n {
        let v = row[s];
        if !v.is_nan() {
            read[s] += f64::from(v);
            continue;
        }
        let same_time = |k: usize| {
            [s.checked_sub(k * spd), Some(s + k * spd).filter(|&t| t < n)]
                .into_iter()
                .flatten()
                .map(|t| row[t])
                .filter(|v| !v.is_nan())
        };
        let (mut sum, mut cnt) = (0.0, 0usize);
        for k in 1..=PROFILE_DAYS {
            for x in same_time(k) {
                sum += f64::from(x);
                cnt += 1;
            }
        }
        if cnt < MIN_PROFILE_VALUES {
            for k in PROFILE_DAYS + 1..=n / spd.max(1) + 1 {
                for x in same_time(k) {
                    sum += f64::from(x);
                    cnt += 1;
                }
            }
        }
        est[s] += if cnt > 0 {
            sum / cnt as f64
        } else {
            *whole_mean.get_or_insert_with(|| {
                let (t, c) = row
                    .iter()
                    .filter(|v| !v.is_nan())
                    .fold((0.0, 0usize), |(t, c), v| (t + f64::from(*v), c + 1));
                if c > 0 {
                    t / c as f64
                } else {
                    0.0
                }
            })
        };
    }
    late
}

/// The balance of one feeder.
fn feeder_balance(
    feeder_id: &str,
    input_kwh: &[f32],
    rows: &[usize],
    unread_meters: Vec<String>,
    ctx: &Context<'_>,
) -> FeederBalance {
    let grid = ctx.matrix.grid;
    let (n, hours) = (grid.n_slots, grid.interval_hours());
    let mut read = vec![0.0f64; n];
    let mut est = vec![0.0f64; n];
    let mut late_meters = Vec::new();
    for &i in rows {
        if add_meter(ctx.matrix.row(i), grid.slots_per_day(), &mut read, &mut est) {
            late_meters.push(ctx.matrix.meter_ids()[i].to_string());
        }
    }
    let input_kw: Vec<f64> = input_kwh.iter().map(|&v| f64::from(v) / hours).collect();
    let mut present: Vec<f64> = input_kw.iter().copied().filter(|v| v.is_finite()).collect();
    let outage_below = OUTAGE_SHARE * crate::stats::median_mut(&mut present).unwrap_or(f64::NAN);
    let mut slots = SlotSeries::default();
    let mut metered_kw = Vec::with_capacity(n);
    for s in 0..n {
        let (i, r, e) = (input_kw[s], read[s] / hours, est[s] / hours);
        let status = if !i.is_finite() {
            SlotStatus::NoInput
        } else if i < outage_below {
            SlotStatus::Outage
        } else if e > MAX_SLOT_ESTIMATED_SHARE * (r + e) {
            SlotStatus::MostlyEstimated
        } else {
            SlotStatus::Usable
        };
        metered_kw.push(r + e);
        slots.input_kw.push(i as f32);
        slots.read_kw.push(r as f32);
        slots.estimated_kw.push(e as f32);
        slots.status.push(status);
    }
    let (losses, days) = fit_losses(&mut slots, &input_kw, &metered_kw, ctx, hours);
    let (steps, finding) = judge(&slots, &days, rows, &unread_meters, &late_meters, ctx);
    FeederBalance {
        feeder_id: feeder_id.to_string(),
        meter_rows: rows.to_vec(),
        unread_meters,
        late_meters,
        slots,
        losses,
        days,
        steps,
        finding,
    }
}

/// Fills the losses and residual of `slots` with `curve`.
fn apply_curve(slots: &mut SlotSeries, input_kw: &[f64], metered_kw: &[f64], curve: &LossCurve) {
    slots.losses_kw.clear();
    slots.residual_kw.clear();
    for (s, (&i, &m)) in input_kw.iter().zip(metered_kw).enumerate() {
        let p = curve.delivered_kw(i);
        slots.losses_kw.push((i - p) as f32);
        slots
            .residual_kw
            .push(if slots.status[s] == SlotStatus::Usable {
                (p - m) as f32
            } else {
                f32::NAN
            });
    }
}

/// Rounds of fitting the curve and searching the residual's steps (the steps are the fit's
/// segments): the search on the first fit's residual usually gives the final steps already.
pub const FIT_ROUNDS: usize = 4;

/// The feeder's loss curve (fitted jointly with the residual's steps, or the fixed model), its
/// losses and residual written into `slots`, and the day balances under it.
fn fit_losses(
    slots: &mut SlotSeries,
    input_kw: &[f64],
    metered_kw: &[f64],
    ctx: &Context<'_>,
    hours: f64,
) -> (FeederLosses, Vec<DayBalance>) {
    let cfg = ctx.cfg;
    let fixed = cfg.loss.curve(input_kw);
    apply_curve(slots, input_kw, metered_kw, &fixed);
    let mut days = day_balances(slots, ctx, hours);
    let mut fallback = None;
    let mut source = LossSource::Fixed;
    let used_days = days.iter().filter(|d| d.used).count();
    let mut curve = fixed;
    if cfg.loss_fit.fit && used_days < cfg.loss_fit.min_days {
        source = LossSource::FixedFallback;
        fallback = Some(format!(
            "only {used_days} days usable, the fit needs {}",
            cfg.loss_fit.min_days
        ));
    } else if cfg.loss_fit.fit {
        let mut fit_slot = vec![false; input_kw.len()];
        for (d, r) in days.iter().zip(ctx.days) {
            if d.used {
                for s in r.clone() {
                    fit_slot[s] = slots.status[s] == SlotStatus::Usable;
                }
            }
        }
        let mut cuts: Vec<usize> = Vec::new();
        for _ in 0..FIT_ROUNDS {
            match loss_fit::fit_curve(
                input_kw,
                metered_kw,
                &fit_slot,
                &cuts,
                cfg.loss.fixed_kw(),
                cfg.loss_fit.max_share,
                cfg.min_step_kw,
            ) {
                Ok(f) => {
                    curve = f.curve;
                    source = if f.at_bound {
                        LossSource::FittedAtBound
                    } else {
                        LossSource::Fitted
                    };
                }
                Err(why) => {
                    source = LossSource::FixedFallback;
                    fallback = Some(why.text().to_string());
                    curve = fixed;
                    break;
                }
            }
            apply_curve(slots, input_kw, metered_kw, &curve);
            days = day_balances(slots, ctx, hours);
            let next = steps::step_slots(slots, &days, ctx);
            if next == cuts {
                break;
            }
            cuts = next;
        }
        if source == LossSource::FixedFallback {
            apply_curve(slots, input_kw, metered_kw, &fixed);
            days = day_balances(slots, ctx, hours);
        }
    }
    let (mut li, mut ll, mut lp, mut nslots) = (0.0, 0.0, 0.0, 0usize);
    for (d, r) in days.iter().zip(ctx.days) {
        if d.used {
            li += d.input_kwh;
            ll += d.losses_kwh;
            for s in r.clone() {
                if slots.status[s] == SlotStatus::Usable {
                    lp += input_kw[s] - f64::from(slots.losses_kw[s]);
                    nslots += 1;
                }
            }
        }
    }
    let mean_delivered = lp / nslots.max(1) as f64;
    let losses = FeederLosses {
        curve,
        source,
        fallback,
        share: if li > 0.0 { ll / li } else { f64::NAN },
        quadratic_at_mean: curve.quadratic_per_kw * mean_delivered,
    };
    (losses, days)
}

/// Daily energies over usable slots, and whether each day is used.
fn day_balances(slots: &SlotSeries, ctx: &Context<'_>, hours: f64) -> Vec<DayBalance> {
    ctx.days
        .iter()
        .enumerate()
        .map(|(d, r)| {
            let mut b = DayBalance {
                date: ctx.cal.dates.get(d).cloned().unwrap_or_default(),
                slots: r.len(),
                usable_slots: 0,
                input_kwh: 0.0,
                read_kwh: 0.0,
                estimated_kwh: 0.0,
                losses_kwh: 0.0,
                residual_kwh: 0.0,
                mean_residual_kw: f64::NAN,
                used: false,
                excluded: None,
            };
            for s in r.clone() {
                if slots.status[s] != SlotStatus::Usable {
                    continue;
                }
                b.usable_slots += 1;
                b.input_kwh += f64::from(slots.input_kw[s]) * hours;
                b.read_kwh += f64::from(slots.read_kw[s]) * hours;
                b.estimated_kwh += f64::from(slots.estimated_kw[s]) * hours;
                b.losses_kwh += f64::from(slots.losses_kw[s]) * hours;
                b.residual_kwh += f64::from(slots.residual_kw[s]) * hours;
            }
            if b.usable_slots > 0 {
                b.mean_residual_kw = b.residual_kwh / (b.usable_slots as f64 * hours);
            }
            let metered = b.read_kwh + b.estimated_kwh;
            // A partial first or last day of the grid is judged on its own slots.
            let full = ctx.cal.slots_per_day.min(r.len()).max(1);
            b.excluded = if (b.usable_slots as f64) < MIN_DAY_USABLE_SHARE * full as f64 {
                Some("under 90% of slots usable (no feeder input, outage or mostly estimated)")
            } else if metered > 0.0 && b.estimated_kwh > ctx.cfg.max_day_estimated_share * metered {
                Some("too much of the metered energy estimated (missing readings)")
            } else {
                None
            };
            b.used = b.excluded.is_none();
            b
        })
        .collect()
}

#[cfg(test)]
mod tests;
