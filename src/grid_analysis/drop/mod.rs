//! Regional load drop at enforcement events: how much load went away, with an honest interval.
//!
//! For each event and region (an interrupted time series, e.g. Bernal, Cummins & Gasparrini
//! 2017, "Interrupted time series regression for the evaluation of public health
//! interventions"): daily load is regressed on day type (weekday, holiday) and temperature
//! (heating and cooling degree-days, bases chosen by BIC on the pre-event days) over the
//! **pre-event period only**; the counterfactual for the post-event days is that model's
//! prediction, and the change is the mean of `load - prediction` after the event. Its variance is
//! that of a linear combination of AR(1) errors ([`super::regression::ar1_variance`]): both the
//! post-event noise and the error of the fitted coefficients, with the lag-one correlation of
//! the pre-event residuals. The change is given in MW and as a share of the pre-event level.
//!
//! With control regions, the same estimate on the treated-minus-control gap of loads relative to
//! their pre-event levels is a difference-in-differences: weather and calendar shocks common to
//! the regions cancel. The change-point is the split of the whole window (with the same
//! covariates) that minimises the residual sum of squares, so the data say when the drop
//! happened, to compare with the event's date.
//!
//! Input: [`DailyLoad`], events, holidays, [`DropConfig`]. Output: [`DropReport`].

use chrono::NaiveDate;

pub mod aggregate;
pub mod estimates;
pub mod events;
pub mod load_series;
pub mod model;
pub mod output;
/// Shared with the feeder balance (its load test of a residual step).
pub use super::regression;

use super::GridAnalysisError;
pub use estimates::{ChangePoint, DropConfig, Interval};
use events::Event;
use load_series::DailyLoad;
use model::{averaged, changepoint, rank_bases, rows, shift, Design};
use regression::normal_quantile;

/// Fewest pre-event days to fit on (a weekday profile needs weeks) and post-event days to judge.
pub const MIN_PRE_DAYS: usize = 21;
pub const MIN_POST_DAYS: usize = 7;
/// The model extrapolates when more than this share of the post-event days is warmer or colder
/// than every pre-event day.
pub const EXTRAPOLATED_SHARE: f64 = 0.2;

/// The fitted daily model.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ModelSummary {
    pub terms: Vec<String>,
    pub coefficients: Vec<f64>,
    pub heating_base_c: Option<f64>,
    pub cooling_base_c: Option<f64>,
    pub r2_pre: f64,
    /// Lag-one correlation of the pre-event residuals (AR(1)).
    pub rho: f64,
    /// Residual standard deviation (MW).
    pub sigma_mw: f64,
}

/// Difference-in-differences against the controls.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DidEstimate {
    pub controls: Vec<String>,
    /// Change of the treated region relative to the controls, share of its pre-event level.
    pub change_pct: Interval,
    pub change_mw: Interval,
    pub significant: bool,
}

/// What an estimate says, combining the interval with the change-point: a change the data
/// place weeks away from the event (a season, a network reconfiguration) is not the event's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The interval covers zero.
    NoSignificantChange,
    /// A significant fall, and the data's change-point agrees with the event date.
    DropAtEvent,
    /// A significant rise at the event date.
    RiseAtEvent,
    /// A significant change, but the data put the change-point elsewhere (or the other way).
    ChangeNotAtEvent,
}

impl Verdict {
    pub fn text(self) -> &'static str {
        match self {
            Verdict::NoSignificantChange => "no significant change",
            Verdict::DropAtEvent => "drop at the event",
            Verdict::RiseAtEvent => "rise at the event",
            Verdict::ChangeNotAtEvent => "a change, but not at the event date",
        }
    }

    pub(super) fn of(change: &Interval, cp: Option<&ChangePoint>) -> Self {
        if !change.excludes_zero() {
            return Verdict::NoSignificantChange;
        }
        let agrees =
            cp.is_some_and(|c| c.agrees && c.change_mw.signum() == change.estimate.signum());
        match (agrees, change.estimate < 0.0) {
            (false, _) => Verdict::ChangeNotAtEvent,
            (true, true) => Verdict::DropAtEvent,
            (true, false) => Verdict::RiseAtEvent,
        }
    }
}

/// Which part of the window a day is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Pre,
    Transition,
    Post,
}

/// One day of an event's window.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DayPoint {
    pub date: NaiveDate,
    pub period: Period,
    pub load_mw: f64,
    pub temp_c: f64,
    pub holiday: bool,
    /// The pre-event model's prediction (the counterfactual after the event).
    pub fitted_mw: f64,
    /// Load at the pre-event period's average conditions: level before + (load - fitted).
    pub normalised_mw: f64,
}

/// The estimate of one event in one region.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EventEstimate {
    pub event: Event,
    pub region: String,
    pub pre_start: NaiveDate,
    pub pre_end: NaiveDate,
    pub post_start: NaiveDate,
    pub post_end: NaiveDate,
    pub n_pre: usize,
    pub n_post: usize,
    pub level_before_mw: f64,
    pub level_after_mw: f64,
    pub change_mw: Interval,
    /// As a share of the pre-event level (-0.05 = 5% less).
    pub change_pct: Interval,
    pub significant: bool,
    pub verdict: Verdict,
    pub did: Option<DidEstimate>,
    pub changepoint: Option<ChangePoint>,
    pub model: ModelSummary,
    /// Post-event mean temperature outside the pre-event range: the model extrapolates.
    pub temperature_extrapolated: bool,
    pub daily: Vec<DayPoint>,
}

/// Every estimate, and the events that could not be estimated and why.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DropReport {
    pub config: DropConfig,
    pub regions: Vec<String>,
    pub estimates: Vec<EventEstimate>,
    pub skipped: Vec<String>,
}

/// Runs every event in every region it applies to.
pub fn analyse(
    load: &DailyLoad,
    events: &[Event],
    holidays: &[NaiveDate],
    cfg: &DropConfig,
) -> Result<DropReport, GridAnalysisError> {
    for c in &cfg.controls {
        if load.region_index(c).is_none() {
            return Err(GridAnalysisError::option("--control", format!("region {c:?} is not in the load file; regions are: {}", load.regions.join(", ")), "name a region of the load file (a --value-cols name, or a value of the region column)"));
        }
    }
    let mut report = DropReport {
        config: cfg.clone(),
        regions: load.regions.clone(),
        estimates: Vec::new(),
        skipped: Vec::new(),
    };
    let z = normal_quantile(1.0 - (1.0 - cfg.confidence) / 2.0);
    for (ri, region) in load.regions.iter().enumerate() {
        if cfg.controls.contains(region) {
            continue;
        }
        let mine: Vec<&Event> = events
            .iter()
            .filter(|e| e.region.as_ref().is_none_or(|r| r == region))
            .collect();
        for (k, ev) in mine.iter().enumerate() {
            let prev = k.checked_sub(1).map(|j| mine[j].date);
            let next = mine.get(k + 1).map(|e| e.date);
            match estimate(load, ri, ev, prev, next, holidays, cfg, z) {
                Ok(e) => report.estimates.push(e),
                Err(why) => report
                    .skipped
                    .push(format!("{} {} ({}): {why}", ev.date, region, ev.label)),
            }
        }
    }
    for ev in events {
        if let Some(r) = &ev.region {
            if load.region_index(r).is_none() {
                return Err(GridAnalysisError::option("--events", format!("event {} names region {r:?}, which is not in the load file; regions are: {}", ev.date, load.regions.join(", ")), "use a region name of the load file, or * for every region"));
            }
        }
    }
    Ok(report)
}

#[allow(clippy::too_many_arguments)]
fn estimate(
    load: &DailyLoad,
    ri: usize,
    ev: &Event,
    prev: Option<NaiveDate>,
    next: Option<NaiveDate>,
    holidays: &[NaiveDate],
    cfg: &DropConfig,
    z: f64,
) -> Result<EventEstimate, String> {
    let n = load.dates.len() as i64;
    let first = *load.dates.first().ok_or("no days")?;
    let idx = |d: NaiveDate| (d - first).num_days();
    let e = idx(ev.date);
    if e <= 0 || e >= n {
        return Err("the event date is outside the load series (or on its first day)".into());
    }
    let tr = i64::from(cfg.transition_days);
    let mut pre_start = 0i64;
    if cfg.pre_days > 0 {
        pre_start = pre_start.max(e - i64::from(cfg.pre_days));
    }
    if let Some(p) = prev {
        pre_start = pre_start.max(idx(p) + tr);
    }
    let post_start = e + tr;
    let mut post_end = n; // exclusive
    if cfg.post_days > 0 {
        post_end = post_end.min(post_start + i64::from(cfg.post_days));
    }
    if let Some(nx) = next {
        post_end = post_end.min(idx(nx));
    }
    let (ps, pe, qs, qe) = (
        pre_start.max(0) as usize,
        e as usize,
        post_start.min(n) as usize,
        post_end.max(post_start).min(n) as usize,
    );
    let y = &load.load_mw[ri];
    let base = Design {
        load,
        holidays,
        heat: None,
        cool: None,
        use_temp: cfg.temperature,
    };
    let models = rank_bases(&base, y, ps..pe);
    let (heat, cool) = models.first().map_or((None, None), |m| m.0);
    let design = Design { heat, cool, ..base };
    let pre = rows(&design, y, ps..pe);
    let post = rows(&design, y, qs..qe);
    if pre.len() < MIN_PRE_DAYS || post.len() < MIN_POST_DAYS {
        return Err(format!("{} usable days before and {} after (need {MIN_PRE_DAYS} and {MIN_POST_DAYS}); widen --pre-days/--post-days", pre.len(), post.len()));
    }
    let sh = shift(&pre, &post, z).ok_or("the pre-event model cannot be fitted")?;
    let change = averaged(&models, &base, y, ps..pe, qs..qe, z).unwrap_or(sh.change);
    let level = sh.level_before;
    let change_pct = change.scaled(1.0 / level);
    let temps = |r: &[(usize, Vec<f64>, f64)]| {
        r.iter()
            .filter_map(|p| load.temp_c.get(p.0).copied())
            .filter(|t| t.is_finite())
            .collect::<Vec<f64>>()
    };
    let (tp, tq) = (temps(&pre), temps(&post));
    let (tmin, tmax) = tp
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &t| {
            (a.min(t), b.max(t))
        });
    let outside = tq.iter().filter(|&&t| t < tmin || t > tmax).count();
    let extrapolated = load.temp_c.iter().any(|t| t.is_finite())
        && cfg.temperature
        && outside as f64 > EXTRAPOLATED_SHARE * tq.len().max(1) as f64;
    let did = did(load, ri, &design, cfg, ps..pe, qs..qe, z);
    let changepoint = changepoint(&design, y, ps..qe, e as usize, cfg, &load.dates, sh.rho);
    let ypre: Vec<f64> = pre.iter().map(|p| p.2).collect();
    let daily = (ps..qe)
        .filter_map(|d| {
            let x = design.row(d)?;
            let fitted = sh.fit.predict(&x);
            Some(DayPoint {
                date: load.dates[d],
                period: if d < pe {
                    Period::Pre
                } else if d < qs {
                    Period::Transition
                } else {
                    Period::Post
                },
                load_mw: y[d],
                temp_c: load.temp_c.get(d).copied().unwrap_or(f64::NAN),
                holiday: x[7] > 0.0,
                fitted_mw: fitted,
                normalised_mw: level + y[d] - fitted,
            })
        })
        .collect();
    let day = |i: usize| load.dates[i.min(load.dates.len() - 1)];
    Ok(EventEstimate {
        event: ev.clone(),
        region: load.regions[ri].clone(),
        pre_start: day(ps),
        pre_end: day(pe - 1),
        post_start: day(qs),
        post_end: day(qe.saturating_sub(1)),
        n_pre: pre.len(),
        n_post: post.len(),
        level_before_mw: level,
        level_after_mw: level + change.estimate,
        significant: change.excludes_zero(),
        verdict: Verdict::of(&change, changepoint.as_ref()),
        change_mw: change,
        change_pct,
        did,
        changepoint,
        model: ModelSummary {
            terms: design.terms(),
            r2_pre: sh.fit.r2(&ypre),
            sigma_mw: sh.fit.sigma2().sqrt(),
            coefficients: sh.fit.beta,
            heating_base_c: heat,
            cooling_base_c: cool,
            rho: sh.rho,
        },
        temperature_extrapolated: extrapolated,
        daily,
    })
}

/// Difference in differences on the gap of relative loads, treated minus mean of the controls.
fn did(
    load: &DailyLoad,
    ri: usize,
    design: &Design<'_>,
    cfg: &DropConfig,
    pre: std::ops::Range<usize>,
    post: std::ops::Range<usize>,
    z: f64,
) -> Option<DidEstimate> {
    let controls: Vec<usize> = cfg
        .controls
        .iter()
        .filter_map(|c| load.region_index(c))
        .filter(|&c| c != ri)
        .collect();
    if controls.is_empty() {
        return None;
    }
    let pre_mean = |r: usize| {
        let v: Vec<f64> = pre
            .clone()
            .map(|d| load.load_mw[r][d])
            .filter(|v| v.is_finite())
            .collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    };
    let lt = pre_mean(ri)?;
    let lc: Vec<f64> = controls
        .iter()
        .map(|&c| pre_mean(c))
        .collect::<Option<_>>()?;
    let gap: Vec<f64> = (0..load.dates.len())
        .map(|d| {
            let c = controls
                .iter()
                .zip(&lc)
                .map(|(&c, l)| load.load_mw[c][d] / l)
                .sum::<f64>()
                / controls.len() as f64;
            load.load_mw[ri][d] / lt - c
        })
        .collect();
    let sh = shift(&rows(design, &gap, pre), &rows(design, &gap, post), z)?;
    Some(DidEstimate {
        controls: controls.iter().map(|&c| load.regions[c].clone()).collect(),
        significant: sh.change.excludes_zero(),
        change_mw: sh.change.scaled(lt),
        change_pct: sh.change,
    })
}

#[cfg(test)]
mod tests;
