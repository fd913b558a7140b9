//! A weather proxy from the data itself: the common day-to-day signal of a meter's peers.
//!
//! Every heated home on a feeder draws more on the same cold days; a rig draws the same every
//! day. Without a weather file (the common case), the median over a peer group of each meter's
//! daily mean load (over its own typical day) tracks the weather that group shares, and a
//! meter's correlation with it separates heating from a rig (issue 12, DOMAIN.md).
//!
//! Peer group: the meter's feeder when it has at least [`MIN_PEERS`] meters, else the meters
//! that share its time zone and span (one region's meters on one calendar). Days are grid days
//! ([`super::View::grid_day`]), so meters of different spans line up by date.

use std::collections::BTreeMap;

use rayon::prelude::*;

use super::baseload::MIN_DAY_COVERAGE;
use super::{FeatureContext, View};
use crate::grid::LoadMatrix;

/// Meters a peer group needs (and a day needs present) for its median to be a signal.
pub const MIN_PEERS: usize = 5;
/// Days with both values a correlation needs.
pub const MIN_CORR_DAYS: usize = 7;
/// Meters of one group whose daily load makes its signal (an evenly spaced sample beyond).
pub const MAX_PROXY_METERS: usize = 256;
/// Relative day-to-day spread the proxy needs for a fit (mild weeks give nothing to follow).
pub const MIN_PROXY_SD: f64 = 0.03;
/// Meters whose typical day is below this (kW) are left out of the proxy (vacant homes).
const MIN_LEVEL_KW: f32 = 0.05;

/// A peer group's common signal: median normalised daily load per grid day.
#[derive(Debug, Clone, PartialEq)]
pub struct DayProxy {
    /// Grid day of `values[0]`.
    pub first_day: u32,
    /// `NaN` on days with under [`MIN_PEERS`] meters present.
    pub values: Vec<f32>,
}

impl DayProxy {
    /// Value on grid day `d`, `NaN` outside the proxy.
    pub fn at(&self, d: u32) -> f32 {
        d.checked_sub(self.first_day)
            .and_then(|k| self.values.get(k as usize).copied())
            .unwrap_or(f32::NAN)
    }

    /// How `x` (values on grid days `days`) moves with the proxy, from day to day: the Pearson
    /// correlation of consecutive-day changes, and the elasticity (relative change of `x` per
    /// relative change of the proxy). Changes, not levels, so a trend or a rig's step does not
    /// read as weather; the largest tenth of `x`'s changes (steps, outage days) are left out.
    /// A constant rig under a household keeps the household's correlation but only its share of
    /// the movement; a heated home moves as much as its neighbours or more. `NaN`s under
    /// [`MIN_CORR_DAYS`] pairs, when either side is constant or the proxy moves less than
    /// [`MIN_PROXY_SD`] (nothing to follow).
    pub fn fit(&self, days: &[u32], x: &[f32]) -> (f32, f32) {
        FIT_SCRATCH.with(|sc| {
            let (pairs, abs) = &mut *sc.borrow_mut();
            self.fit_in(days, x, pairs, abs)
        })
    }

    /// [`DayProxy::fit`] with scratch for the pairs and their absolute changes.
    fn fit_in(
        &self,
        days: &[u32],
        x: &[f32],
        pairs: &mut Vec<(f64, f64)>,
        abs: &mut Vec<f64>,
    ) -> (f32, f32) {
        let nan = (f32::NAN, f32::NAN);
        pairs.clear();
        let (mut level_x, mut level_p, mut n_level) = (0f64, 0f64, 0usize);
        for k in 1..x.len().min(days.len()) {
            let (p0, p1) = (self.at(days[k - 1]), self.at(days[k]));
            let (x0, x1) = (x[k - 1], x[k]);
            if days[k] != days[k - 1] + 1 || [p0, p1, x0, x1].iter().any(|v| v.is_nan()) {
                continue;
            }
            pairs.push((f64::from(p1 - p0), f64::from(x1 - x0)));
            level_x += f64::from(x1);
            level_p += f64::from(p1);
            n_level += 1;
        }
        if pairs.len() < MIN_CORR_DAYS {
            return nan;
        }
        let (mx, mp) = (level_x / n_level as f64, level_p / n_level as f64);
        abs.clear();
        abs.extend(pairs.iter().map(|p| p.1.abs()));
        // The value a sort would put there (values equal in `total_cmp` are equal bits).
        let at = (abs.len() * 9) / 10 - 1;
        let cut = *abs.select_nth_unstable_by(at, f64::total_cmp).1;
        let kept = pairs.iter().filter(|p| p.1.abs() <= cut);
        let mut p = crate::stats::Pairs::default();
        for &(a, b) in kept {
            p.add(a, b);
        }
        if p.n() < MIN_CORR_DAYS as f64 || mp <= 0.0 || mx <= 1e-6 {
            return nan;
        }
        let (vx, vy, cov) = p.moments();
        if vx <= 1e-12 || vy <= 1e-12 || vx.sqrt() / mp < MIN_PROXY_SD {
            return nan;
        }
        ((cov / (vx * vy).sqrt()) as f32, (cov / vx * mp / mx) as f32)
    }
}

/// [`DayProxy::fit`]'s scratch: the day-to-day pairs and their absolute changes.
type FitScratch = (Vec<(f64, f64)>, Vec<f64>);

thread_local! {
    /// [`DayProxy::fit`]'s scratch, one per worker thread.
    static FIT_SCRATCH: std::cell::RefCell<FitScratch> =
        const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

/// A peer group: a feeder of at least [`MIN_PEERS`] meters (by segment id), else the meters of
/// one time zone (zone id) and span (grid slots `lo..hi`: [`super::View`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum GroupKey {
    Feeder(u32),
    Span { zone: u16, lo: usize, hi: usize },
}

/// Every peer group's proxy, and each meter's group (`None` without a group big enough).
#[derive(Debug, Clone, Default)]
pub struct Proxies {
    pub series: Vec<DayProxy>,
    pub group: Vec<Option<u32>>,
    /// Every group of at least [`MIN_PEERS`] meters and its proxy (`None` when its days were
    /// too few): what a model keeps so that a subset of the meters finds the same group.
    pub groups: Vec<(GroupKey, Option<u32>)>,
}

/// Each meter's peer group when the groups are known (from a model): its feeder's when
/// `feeder_group` knows its feeder, else its zone and span's. `None` without one.
pub fn group_of(
    ctx: &FeatureContext<'_>,
    views: &[View],
    of: &[u32],
    i: usize,
    feeder_group: &dyn Fn(u32) -> Option<Option<u32>>,
    span_group: &dyn Fn(GroupKey) -> Option<u32>,
) -> Option<u32> {
    if let Some(g) = ctx.feeder[i].and_then(feeder_group) {
        return g;
    }
    span_group(span_key(&views[of[i] as usize]))
}

/// A meter's daily means over their median (its typical day), straight from its row, on its
/// view's days; empty when it has under [`MIN_CORR_DAYS`] covered days or its typical day is
/// below [`MIN_LEVEL_KW`] (left out of its group's signal).
pub fn normalised_daily(m: &LoadMatrix, v: &View, i: usize) -> Vec<f32> {
    let hours = m.grid.interval_hours() as f32;
    let full = m.grid.slots_per_day().max(1) as f32;
    let row = &m.row(i)[v.offset..v.offset + v.len()];
    let mut daily: Vec<f32> = v
        .days
        .iter()
        .map(|r| {
            let (n, sum) = row[r.clone()]
                .iter()
                .filter(|x| !x.is_nan())
                .fold((0usize, 0f64), |(n, s), &x| (n + 1, s + f64::from(x)));
            if (n as f32) < MIN_DAY_COVERAGE * full || n == 0 {
                f32::NAN
            } else {
                (sum / n as f64) as f32 / hours
            }
        })
        .collect();
    let mut finite: Vec<f32> = daily.iter().copied().filter(|x| !x.is_nan()).collect();
    if finite.len() < MIN_CORR_DAYS {
        return Vec::new();
    }
    let k = finite.len() / 2;
    let med = *finite.select_nth_unstable_by(k, f32::total_cmp).1;
    if med < MIN_LEVEL_KW {
        return Vec::new();
    }
    daily.iter_mut().for_each(|x| *x /= med);
    daily
}

/// Each meter's peer group: its feeder (`feeder[i]`) when that feeder has at least
/// [`MIN_PEERS`] meters, else its zone and span (`span(i)`).
pub fn group_keys(feeder: &[Option<u32>], span: &dyn Fn(usize) -> GroupKey) -> Vec<GroupKey> {
    let mut feeder_size: BTreeMap<u32, usize> = BTreeMap::new();
    for f in feeder.iter().flatten() {
        *feeder_size.entry(*f).or_default() += 1;
    }
    (0..feeder.len())
        .map(|i| match feeder[i] {
            Some(f) if feeder_size.get(&f).copied().unwrap_or(0) >= MIN_PEERS => {
                GroupKey::Feeder(f)
            }
            _ => span(i),
        })
        .collect()
}

/// The members of each group (in matrix order), and the meters whose daily load makes their
/// group's signal: a median over a few hundred meters tracks the weather as well as one over
/// the whole region, so large groups contribute an evenly spaced sample (in id order) of at
/// most [`MAX_PROXY_METERS`].
pub fn members_and_sample(keys: &[GroupKey]) -> (BTreeMap<GroupKey, Vec<usize>>, Vec<usize>) {
    let mut members: BTreeMap<GroupKey, Vec<usize>> = BTreeMap::new();
    for (i, k) in keys.iter().enumerate() {
        members.entry(*k).or_default().push(i);
    }
    let sampled = members
        .values()
        .filter(|ms| ms.len() >= MIN_PEERS)
        .flat_map(|ms| {
            let step = ms.len().div_ceil(MAX_PROXY_METERS).max(1);
            ms.iter().step_by(step).copied().collect::<Vec<_>>()
        })
        .collect();
    (members, sampled)
}

/// Every group's signal from its members, each meter's grid days (`days(i)`) and the sampled
/// meters' [`normalised_daily`] loads (`norm(i)`, `None` for the others).
pub fn assemble<'a>(
    n: usize,
    members: BTreeMap<GroupKey, Vec<usize>>,
    days: &dyn Fn(usize) -> &'a [u32],
    norm: &dyn Fn(usize) -> Option<&'a [f32]>,
) -> Proxies {
    let mut out = Proxies {
        series: Vec::new(),
        group: vec![None; n],
        groups: Vec::new(),
    };
    for (gkey, ms) in members {
        if ms.len() < MIN_PEERS {
            continue;
        }
        out.groups.push((gkey, None));
        let lo = ms.iter().filter_map(|&i| days(i).first()).min().copied();
        let hi = ms.iter().filter_map(|&i| days(i).last()).max().copied();
        let (Some(lo), Some(hi)) = (lo, hi) else {
            continue;
        };
        let mut per_day: Vec<Vec<f32>> = vec![Vec::new(); (hi - lo + 1) as usize];
        for &i in &ms {
            let Some(v) = norm(i) else { continue };
            for (&d, &x) in days(i).iter().zip(v) {
                if !x.is_nan() {
                    per_day[(d - lo) as usize].push(x);
                }
            }
        }
        let values: Vec<f32> = per_day
            .into_iter()
            .map(|mut v| {
                if v.len() < MIN_PEERS {
                    return f32::NAN;
                }
                let k = v.len() / 2;
                *v.select_nth_unstable_by(k, f32::total_cmp).1
            })
            .collect();
        if values.iter().filter(|x| !x.is_nan()).count() < MIN_CORR_DAYS {
            continue;
        }
        let g = out.series.len() as u32;
        if let Some(last) = out.groups.last_mut() {
            last.1 = Some(g);
        }
        out.series.push(DayProxy {
            first_day: lo,
            values,
        });
        for &i in &ms {
            out.group[i] = Some(g);
        }
    }
    out
}

/// The span group key of a view.
pub fn span_key(v: &View) -> GroupKey {
    GroupKey::Span {
        zone: v.zone,
        lo: v.offset,
        hi: v.offset + v.len(),
    }
}

/// Builds the proxies of a run: one pass over the matrix for the daily means.
pub fn peer_proxy(ctx: &FeatureContext<'_>, views: &[View], of: &[u32], parallel: bool) -> Proxies {
    let m = ctx.matrix;
    let n = m.n_meters();
    let keys = group_keys(&ctx.feeder, &|i| span_key(&views[of[i] as usize]));
    let (members, sampled) = members_and_sample(&keys);
    let one = |i: usize| normalised_daily(m, &views[of[i] as usize], i);
    let norm_of: Vec<Vec<f32>> = if parallel {
        sampled.par_iter().map(|&i| one(i)).collect()
    } else {
        sampled.iter().map(|&i| one(i)).collect()
    };
    let mut norm: Vec<Option<Vec<f32>>> = vec![None; n];
    for (i, v) in sampled.into_iter().zip(norm_of) {
        norm[i] = Some(v);
    }
    assemble(n, members, &|i| &views[of[i] as usize].grid_day, &|i| {
        norm[i].as_deref()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn correlation_lines_up_by_grid_day() {
        let p = DayProxy {
            first_day: 10,
            values: (0..20).map(|d| (d % 5) as f32).collect(),
        };
        let days: Vec<u32> = (12..30).collect();
        let same: Vec<f32> = days
            .iter()
            .map(|d| ((d - 10) % 5) as f32 * 2.0 + 1.0)
            .collect();
        let (c, e) = p.fit(&days, &same);
        assert!((c - 1.0).abs() < 1e-6, "{c}");
        // x = 2p + 1: a relative change of the proxy moves x by about 2 mean(p) / mean(x).
        assert!(e > 0.5 && e < 1.0, "{e}");
        let flat = vec![3.0; days.len()];
        assert!(p.fit(&days, &flat).0.is_nan());
        // A constant rig that steps up once, on a household that follows the proxy a little:
        // the step is not weather.
        let step: Vec<f32> = days
            .iter()
            .map(|&d| if d < 20 { 2.0 } else { 4.0 } + 0.05 * ((d - 10) % 5) as f32)
            .collect();
        let (c, e) = p.fit(&days, &step);
        assert!(c > 0.9 && e < 0.1, "{c} {e}");
        assert!(p.at(9).is_nan() && p.at(30).is_nan());
    }
}
