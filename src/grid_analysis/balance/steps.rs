//! Steps in a feeder's residual and what they mean: dated, sized, judged for rig-likeness,
//! turned into a hidden kW, a device count, candidate meters and sentences.
//!
//! Input: one feeder's slot series and day balances ([`mod@super`]). Output: the
//! [`ResidualStep`]s (binary segmentation of the daily mean residual over used days, each step
//! refined to the slot) and a [`FeederFinding`]. The load a step added is the residual after it
//! minus the residual's mean profile by local hour before it, so a load-shaped residual left by
//! an imperfect loss model does not count against the rig; the residual level before any step
//! (a rig running since before the window) is judged on the residual itself.
//!
//! Each step is also judged against what load changes alone would produce: over the two
//! segments around it, the residual is regressed on the metered load, its square and the step
//! (slot by slot, so the load's daily swing pins down how the residual follows the load). What
//! the step loses once the load terms stand beside it is the load-driven part
//! ([`ResidualStep::load_kw`]): a residual that rises because a cold spell raised the load (an
//! imperfect loss curve) is not a hidden load, while a bypassed rig's step does not depend on the
//! load at all.

use super::candidates::{candidates, Candidate};
use super::rig_shape::{rig_shape, RigShape};
use super::series::{Context, DayBalance, SlotSeries, SlotStatus};
use crate::features::steps::device_fit;
use crate::grid_analysis::changepoint::{refine_split, segment, MeanShift};
use crate::grid_analysis::regression::ols;

/// Days on each side of a step.
pub const MIN_SEGMENT_DAYS: usize = 2;
/// Steps searched per feeder (onset, growth, removal, ...).
pub const MAX_STEPS: usize = 4;
/// Noise floor of the daily mean residual: 50 W, or 0.2% of the feeder's mean input (meter
/// clocks and rounding), so a noiseless residual does not give an infinite t.
pub const SD_FLOOR_KW: f64 = 0.05;
pub const SD_FLOOR_SHARE: f64 = 0.002;
/// A rise counts as a hidden load only if at least this share of it (and at least
/// `min_step_kw`) is left once load changes are accounted for ([`ResidualStep::load_kw`]).
pub const MIN_UNEXPLAINED_SHARE: f64 = 0.5;

/// A step of the daily residual.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ResidualStep {
    /// Day index of the first day at the new level, and its local date.
    pub day: usize,
    pub date: String,
    /// Slot where the new level begins, and its start (Unix seconds, UTC).
    pub slot: usize,
    pub at: i64,
    /// Mean daily residual of the segments before and after (kW).
    pub before_kw: f64,
    pub after_kw: f64,
    pub t: f64,
    /// Shape of the load the step added (for rises).
    pub shape: Option<RigShape>,
    /// Change of the mean metered load at the step (kW, same segments).
    pub metered_change_kw: f64,
    /// The part of the step that load changes alone produce (kW): the step minus its size when
    /// fitted beside the metered load and its square. 0 when that fit is not possible.
    pub load_kw: f64,
}

impl ResidualStep {
    pub fn size_kw(&self) -> f64 {
        self.after_kw - self.before_kw
    }
    /// The step once load changes are accounted for.
    pub fn unexplained_kw(&self) -> f64 {
        self.size_kw() - self.load_kw
    }
    /// A rise that load changes alone explain (see [`MIN_UNEXPLAINED_SHARE`]).
    pub fn moves_with_load(&self, min_step_kw: f64) -> bool {
        let left = self.unexplained_kw();
        self.size_kw() > 0.0
            && (left < min_step_kw || left < MIN_UNEXPLAINED_SHARE * self.size_kw())
    }
}

/// The residual level before any step, judged as a load of its own.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BaseResidual {
    pub level_kw: f64,
    pub t: f64,
    pub days: usize,
    pub shape: Option<RigShape>,
}

/// What a feeder's balance says.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FeederFinding {
    pub mean_input_kw: f64,
    pub mean_residual_kw: f64,
    /// Residual energy over input energy, used days.
    pub residual_share: f64,
    /// Estimated share of the metered energy (missing readings), usable slots.
    pub estimated_share: f64,
    pub days_used: usize,
    pub days_excluded: usize,
    /// Index into the feeder's steps of the largest rig-like rise (else the largest rise).
    pub main_step: Option<usize>,
    pub base: Option<BaseResidual>,
    /// Rig-like hidden load: the rig-like rises, plus a rig-like base level (kW).
    pub hidden_kw: f64,
    pub device_model: Option<&'static str>,
    pub devices: Option<u32>,
    pub rig_likeness: f64,
    pub flagged: bool,
    pub candidates: Vec<Candidate>,
    pub reasons: Vec<String>,
}

fn is_rig(shape: Option<&RigShape>, min: f64) -> bool {
    shape.is_some_and(|s| s.rig_likeness >= min)
}

/// Slots of the used days in `d0..d1`.
fn used_slots<'a>(
    days: &'a [DayBalance],
    ctx: &'a Context<'_>,
    d0: usize,
    d1: usize,
) -> impl Iterator<Item = usize> + 'a {
    (d0..d1.min(days.len()))
        .filter(|&d| days[d].used)
        .flat_map(|d| ctx.days[d].clone())
}

/// Steps and the finding of one feeder.
pub(crate) fn judge(
    slots: &SlotSeries,
    days: &[DayBalance],
    rows: &[usize],
    unread: &[String],
    late: &[String],
    ctx: &Context<'_>,
) -> (Vec<ResidualStep>, FeederFinding) {
    let used: Vec<&DayBalance> = days.iter().filter(|d| d.used).collect();
    let hours = ctx.matrix.grid.interval_hours();
    let (mut ikwh, mut rkwh) = (0.0, 0.0);
    for d in &used {
        ikwh += d.input_kwh;
        rkwh += d.residual_kwh;
    }
    let (mut read, mut est, mut n_usable, mut i_sum) = (0.0, 0.0, 0usize, 0.0);
    for s in 0..slots.status.len() {
        if slots.status[s] == SlotStatus::Usable {
            read += f64::from(slots.read_kw[s]);
            est += f64::from(slots.estimated_kw[s]);
            i_sum += f64::from(slots.input_kw[s]);
            n_usable += 1;
        }
    }
    let mean_input_kw = i_sum / n_usable.max(1) as f64;
    let used_slot_count: usize = used.iter().map(|d| d.usable_slots).sum();
    let mut f = FeederFinding {
        mean_input_kw,
        mean_residual_kw: rkwh / (used_slot_count.max(1) as f64 * hours),
        residual_share: if ikwh > 0.0 { rkwh / ikwh } else { f64::NAN },
        estimated_share: if read + est > 0.0 {
            est / (read + est)
        } else {
            0.0
        },
        days_used: used.len(),
        days_excluded: days.len() - used.len(),
        main_step: None,
        base: None,
        hidden_kw: 0.0,
        device_model: None,
        devices: None,
        rig_likeness: 0.0,
        flagged: false,
        candidates: Vec::new(),
        reasons: Vec::new(),
    };
    let found = search(slots, days, ctx);
    let (daily, floor, shifts) = (found.daily, found.floor, found.shifts);
    let at_slot = found.at_slot;
    let residual: Vec<f64> = slots.residual_kw.iter().map(|&v| f64::from(v)).collect();
    let metered: Vec<f64> = slots
        .read_kw
        .iter()
        .zip(&slots.estimated_kw)
        .map(|(r, e)| f64::from(*r) + f64::from(*e))
        .collect();
    let cuts: Vec<usize> = shifts.iter().map(|s| s.at).collect();
    let mut steps = Vec::with_capacity(shifts.len());
    for (k, sh) in shifts.iter().enumerate() {
        let prev = if k == 0 { 0 } else { cuts[k - 1] };
        let next = cuts.get(k + 1).copied().unwrap_or(days.len());
        let slot = at_slot[k];
        let from = if k == 0 { 0 } else { at_slot[k - 1] };
        let to = at_slot.get(k + 1).copied().unwrap_or(residual.len());
        let before_kw = mean_over(&residual, from..slot).unwrap_or(sh.before);
        let after_kw = mean_over(&residual, slot..to).unwrap_or(sh.after);
        let metered_change_kw = mean_over(&metered, slot..to).unwrap_or(f64::NAN)
            - mean_over(&metered, from..slot).unwrap_or(f64::NAN);
        let around = used_slots(days, ctx, prev, next).filter(|&s| s >= from && s < to);
        let load_kw = step_beside_load(&residual, &metered, around, slot)
            .map_or(0.0, |d| (after_kw - before_kw) - d);
        let shape = (after_kw > before_kw).then(|| {
            let before = used_slots(days, ctx, prev, sh.at).filter(|&s| s < slot);
            let prof = hour_profile(&residual, &ctx.cal.hour, before);
            let mut added = vec![f64::NAN; residual.len()];
            let partial = slot..ctx.days[sh.at].start.max(slot);
            for s in used_slots(days, ctx, sh.at, next).chain(partial) {
                let base = prof[usize::from(ctx.cal.hour[s]).min(23)].unwrap_or(before_kw);
                added[s] = residual[s] - base;
            }
            rig_shape(&added, &ctx.cal.hour)
        });
        let day = ctx.cal.day.get(slot).map_or(sh.at, |&d| d as usize);
        steps.push(ResidualStep {
            day,
            date: ctx.cal.dates.get(day).cloned().unwrap_or_default(),
            slot,
            at: ctx.matrix.grid.slot_start(slot),
            before_kw,
            after_kw,
            t: sh.t,
            shape: shape.flatten(),
            metered_change_kw,
            load_kw,
        });
    }
    // The level before any step.
    let first_cut = cuts.first().copied().unwrap_or(days.len());
    let base_days: Vec<f64> = daily[..first_cut]
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    if !base_days.is_empty() {
        let n = base_days.len() as f64;
        let m = base_days.iter().sum::<f64>() / n;
        let sd = (base_days.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (n - 1.0).max(1.0))
            .sqrt()
            .max(floor);
        let mut only = vec![f64::NAN; residual.len()];
        for s in used_slots(days, ctx, 0, first_cut) {
            only[s] = residual[s];
        }
        f.base = Some(BaseResidual {
            level_kw: m,
            t: m / (sd / n.sqrt()),
            days: base_days.len(),
            shape: rig_shape(&only, &ctx.cal.hour),
        });
    }
    conclude(&mut f, &steps, rows, unread, late, ctx);
    (steps, f)
}

/// Mean of the finite values of `x[r]`.
fn mean_over(x: &[f64], r: std::ops::Range<usize>) -> Option<f64> {
    let (s, n) = x[r]
        .iter()
        .filter(|v| v.is_finite())
        .fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| s / n as f64)
}

/// The residual's daily means (`NaN` on unused days), its noise floor, and its steps, each with
/// the slot it starts on.
pub(crate) struct Search {
    pub daily: Vec<f64>,
    pub floor: f64,
    pub shifts: Vec<MeanShift>,
    pub at_slot: Vec<usize>,
}

/// Binary segmentation of the daily mean residual, each step refined to its slot.
pub(crate) fn search(slots: &SlotSeries, days: &[DayBalance], ctx: &Context<'_>) -> Search {
    let cfg = ctx.cfg;
    let (mut i_sum, mut n_usable) = (0.0, 0usize);
    for s in 0..slots.status.len() {
        if slots.status[s] == SlotStatus::Usable {
            i_sum += f64::from(slots.input_kw[s]);
            n_usable += 1;
        }
    }
    let mean_input_kw = i_sum / n_usable.max(1) as f64;
    let daily: Vec<f64> = days
        .iter()
        .map(|d| if d.used { d.mean_residual_kw } else { f64::NAN })
        .collect();
    let floor = SD_FLOOR_KW.max(SD_FLOOR_SHARE * mean_input_kw);
    let shifts = segment(
        &daily,
        MIN_SEGMENT_DAYS,
        cfg.min_step_t,
        cfg.min_step_kw,
        MAX_STEPS,
        floor,
    );
    let residual: Vec<f64> = slots.residual_kw.iter().map(|&v| f64::from(v)).collect();
    // Each step to its slot, then its levels re-measured between neighbouring steps' slots: a
    // partial onset day would otherwise drag the level before up.
    let at_slot: Vec<usize> = shifts
        .iter()
        .map(|sh| {
            let lo = ctx.days[sh.at.saturating_sub(1)].start;
            refine_split(&residual, lo, ctx.days[sh.at].end, sh.before, sh.after).unwrap_or(lo)
        })
        .collect();
    Search {
        daily,
        floor,
        shifts,
        at_slot,
    }
}

/// The slots where the residual's steps begin (the segments of the loss fit).
pub(crate) fn step_slots(slots: &SlotSeries, days: &[DayBalance], ctx: &Context<'_>) -> Vec<usize> {
    search(slots, days, ctx).at_slot
}

/// The step at `slot` fitted beside the metered load: least squares of the residual on
/// `[1, m, m^2, after]` over `around` (`m` the metered load, centred and scaled). `None` when
/// the fit is not possible (too few slots, or the step column collinear with the load).
fn step_beside_load(
    residual: &[f64],
    metered: &[f64],
    around: impl Iterator<Item = usize>,
    slot: usize,
) -> Option<f64> {
    let idx: Vec<usize> = around
        .filter(|&s| residual[s].is_finite() && metered[s].is_finite())
        .collect();
    let (n_before, n_after) = (
        idx.iter().filter(|&&s| s < slot).count(),
        idx.iter().filter(|&&s| s >= slot).count(),
    );
    if n_before < 8 || n_after < 8 {
        return None;
    }
    let n = idx.len() as f64;
    let mean = idx.iter().map(|&s| metered[s]).sum::<f64>() / n;
    let sd = (idx
        .iter()
        .map(|&s| (metered[s] - mean).powi(2))
        .sum::<f64>()
        / n)
        .sqrt();
    if sd.is_nan() || sd <= 0.0 {
        return None;
    }
    let x: Vec<Vec<f64>> = idx
        .iter()
        .map(|&s| {
            let m = (metered[s] - mean) / sd;
            vec![1.0, m, m * m, if s >= slot { 1.0 } else { 0.0 }]
        })
        .collect();
    let y: Vec<f64> = idx.iter().map(|&s| residual[s]).collect();
    let fit = ols(&x, &y)?;
    fit.kept[3].then(|| fit.beta[3])
}

/// Median residual per local hour over `slots` (`None` for hours never seen): robust, like
/// [`rig_shape`], to a few wild slots (a badly estimated missing reading of a large meter).
fn hour_profile(r: &[f64], hour: &[u8], slots: impl Iterator<Item = usize>) -> [Option<f64>; 24] {
    let mut acc: Vec<Vec<f64>> = vec![Vec::new(); 24];
    for s in slots {
        if r[s].is_finite() {
            acc[usize::from(hour[s]).min(23)].push(r[s]);
        }
    }
    let mut out = [None; 24];
    for (o, v) in out.iter_mut().zip(acc.iter_mut()) {
        if !v.is_empty() {
            let mid = v.len() / 2;
            v.select_nth_unstable_by(mid, f64::total_cmp);
            *o = Some(v[mid]);
        }
    }
    out
}

/// Hidden load, flag, devices, candidates and reasons.
fn conclude(
    f: &mut FeederFinding,
    steps: &[ResidualStep],
    rows: &[usize],
    unread: &[String],
    late: &[String],
    ctx: &Context<'_>,
) {
    let cfg = ctx.cfg;
    let min = cfg.min_rig_likeness;
    let rises: Vec<usize> = (0..steps.len())
        .filter(|&i| steps[i].size_kw() > 0.0)
        .collect();
    let rig_rises: Vec<usize> = rises
        .iter()
        .copied()
        .filter(|&i| {
            is_rig(steps[i].shape.as_ref(), min) && !steps[i].moves_with_load(cfg.min_step_kw)
        })
        .collect();
    let largest = |v: &[usize]| {
        v.iter()
            .copied()
            .max_by(|&a, &b| steps[a].size_kw().total_cmp(&steps[b].size_kw()))
    };
    f.main_step = largest(&rig_rises).or_else(|| largest(&rises));
    f.hidden_kw = rig_rises.iter().map(|&i| steps[i].size_kw()).sum();
    let base_rig = f.base.as_ref().is_some_and(|b| {
        b.level_kw >= cfg.min_step_kw && b.t >= cfg.min_step_t && is_rig(b.shape.as_ref(), min)
    });
    if base_rig {
        f.hidden_kw += f.base.as_ref().map_or(0.0, |b| b.level_kw);
    }
    f.rig_likeness = f
        .main_step
        .and_then(|i| steps[i].shape)
        .or_else(|| f.base.as_ref().and_then(|b| b.shape))
        .map_or(0.0, |s| s.rig_likeness);
    f.flagged = f.hidden_kw >= cfg.min_step_kw;
    if f.flagged {
        if let Some((model, n, _)) = device_fit(f.hidden_kw as f32) {
            f.device_model = Some(model);
            f.devices = Some(n);
        }
    }
    if let Some(i) = f.main_step {
        f.candidates = candidates(ctx.matrix, rows, ctx.days, steps[i].day);
    }
    let dt = |st: &ResidualStep| {
        chrono::DateTime::from_timestamp(st.at, 0)
            .map(|d| {
                d.with_timezone(&cfg.tz)
                    .format("%Y-%m-%d %H:%M")
                    .to_string()
            })
            .unwrap_or_else(|| st.date.clone())
    };
    let mut reasons = Vec::new();
    for st in steps {
        let verb = if st.size_kw() > 0.0 { "rose" } else { "fell" };
        let mut s = format!(
            "residual {verb} {:.1} kW on {} and stayed (from {:.1} to {:.1} kW, t {:.0})",
            st.size_kw().abs(),
            dt(st),
            st.before_kw,
            st.after_kw,
            st.t.abs()
        );
        if let Some(sh) = &st.shape {
            s.push_str(&shape_text(sh, min));
        }
        if st.moves_with_load(cfg.min_step_kw) {
            s.push_str(&format!(
                "; moved with the metered load ({:+.1} kW): load changes alone give {:.1} kW of \
                 it, not a hidden load",
                st.metered_change_kw, st.load_kw
            ));
        }
        reasons.push(s);
    }
    if let Some(b) = f.base.as_ref().filter(|_| base_rig) {
        let mut s = format!(
            "a {:.1} kW unmetered residual from the start of the window (t {:.0})",
            b.level_kw, b.t
        );
        if let Some(sh) = &b.shape {
            s.push_str(&shape_text(sh, min));
        }
        reasons.push(s);
    }
    if let (Some(m), Some(n)) = (f.device_model, f.devices) {
        reasons.push(format!("{:.1} kW hidden: about {n} x {m}", f.hidden_kw));
    }
    for c in f.candidates.iter().take(5) {
        reasons.push(c.text(&ctx.cal.dates));
    }
    if !unread.is_empty() {
        reasons.push(format!(
            "{} meters on this feeder have no readings: their use is inside the residual",
            unread.len()
        ));
    }
    if !late.is_empty() {
        reasons.push(format!(
            "{} meters first read {}+ days into the window, taken as connected then (e.g. {})",
            late.len(),
            super::series::LATE_START_DAYS,
            late[0]
        ));
    }
    if f.days_excluded > 0 {
        reasons.push(format!(
            "{} of {} days left out of the step search (coverage)",
            f.days_excluded,
            f.days_excluded + f.days_used
        ));
    }
    f.reasons = reasons;
}

fn shape_text(sh: &RigShape, min: f64) -> String {
    let verdict = if sh.rig_likeness >= min {
        "flat 24/7 like a rig"
    } else {
        "not rig-like"
    };
    format!(
        "; {verdict}: CV {:.0}%, daily swing {:.0}% of its level",
        100.0 * sh.cv.min(9.99),
        100.0 * sh.diurnal_amp.min(9.99)
    )
}
