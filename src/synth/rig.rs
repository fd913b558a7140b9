//! Mining rigs: the device catalogue of DOMAIN.md, a rig's plan (model, devices, onset, growth
//! steps, schedule, outages) and its load per slot.
//!
//! Input: the rig kind, the [`Calendar`], a plan RNG (constants) and a load RNG (per-slot noise).
//! Output: a [`RigPlan`] (everything `labels.csv` says about the rig) and, from
//! [`RigPlan::render`], average kW per slot added into a caller-owned buffer.
//! Invariants (DOMAIN.md "What a rig looks like"): the rig part is flat at
//! `devices x device_kw` with 1-3 % multiplicative noise per slot; onset and growth are steps on
//! slot boundaries; after an outage the load snaps back to the same level; load factor stays
//! above 0.9 for continuous rigs (outages are rare and short); slightly more power when hot.

use rand::Rng as _;
use rand_distr::{Distribution, Poisson, StandardNormal};

use super::calendar::Calendar;
use super::kinds::Kind;
use super::seed::Rng;

/// A device model with its wall power range (DOMAIN.md table) and its weight when a hidden rig
/// picks a model. DOMAIN.md gives no market shares; the weights favour the cheap second-hand S9
/// and the common S17/S19 families, which is what seizures of grey rigs report most.
#[derive(Debug, Clone, Copy)]
pub struct Device {
    pub model: &'static str,
    pub kw_min: f64,
    pub kw_max: f64,
    pub weight: f64,
}

const fn dev(model: &'static str, kw_min: f64, kw_max: f64, weight: f64) -> Device {
    Device {
        model,
        kw_min,
        kw_max,
        weight,
    }
}

/// ASICs and GPU rigs of full-size hidden rigs.
pub const RIG_DEVICES: [Device; 7] = [
    dev("Antminer S9", 1.32, 1.40, 0.25),
    dev("Antminer S17", 2.10, 2.50, 0.15),
    dev("Antminer S19", 3.25, 3.25, 0.15),
    dev("Antminer S19j Pro", 2.80, 3.10, 0.15),
    dev("Antminer S21", 3.50, 3.50, 0.05),
    dev("Whatsminer M30S++", 3.30, 3.50, 0.10),
    dev("GPU rig", 0.60, 2.40, 0.15),
];

/// Home units and small GPU rigs (`mining_small`: 0.6-1.5 kW per device). The Nano 3S
/// (0.14 kW) is left out: it sits inside normal household variation, not a detectable rig.
pub const SMALL_DEVICES: [Device; 2] = [
    dev("GPU rig", 0.60, 1.50, 0.6),
    dev("Avalon Mini 3", 0.80, 0.80, 0.4),
];

/// Modern ASICs of licensed (registered) sites.
pub const SITE_DEVICES: [Device; 4] = [
    dev("Antminer S19", 3.25, 3.25, 0.3),
    dev("Antminer S19j Pro", 2.80, 3.10, 0.3),
    dev("Antminer S21", 3.50, 3.50, 0.2),
    dev("Whatsminer M30S++", 3.30, 3.50, 0.2),
];

/// Hidden rigs have 1-10 devices skewed small (DOMAIN.md): P(n) proportional to n^-1.5, mean
/// about 2.5 devices.
pub const DEVICE_COUNT_EXPONENT: f64 = 1.5;
/// Registered sites: 20-120 devices (they are "larger rigs" run as a business).
pub const SITE_DEVICES_RANGE: (u32, u32) = (20, 120);
/// Per-slot multiplicative noise of a rig, drawn per rig (DOMAIN.md: CV "a few percent").
pub const NOISE_SD_RANGE: (f64, f64) = (0.01, 0.03);
/// Rig outages (mains trips, reboots, pool or network failures) per day of operation: about one
/// a month, so the load factor stays above 0.9.
pub const OUTAGES_PER_DAY: f64 = 1.0 / 30.0;
/// Outage length, log-uniform: minutes to hours.
pub const OUTAGE_SECS_RANGE: (f64, f64) = (5.0 * 60.0, 4.0 * 3600.0);
/// Above this temperature the fans draw more ...
pub const HOT_FROM_C: f64 = 20.0;
/// ... by this share per degree (DOMAIN.md: "slightly more power in hot weather").
pub const HOT_SHARE_PER_C: f64 = 0.005;
/// Night-tariff window of `mining_night` rigs: 7 hours (an Economy-7-like tariff) starting at one
/// of these local times (minutes after midnight).
pub const NIGHT_STARTS_MIN: [u32; 5] = [23 * 60, 23 * 60 + 30, 0, 30, 60];
pub const NIGHT_LEN_MIN: u32 = 7 * 60;
/// `mining_intermittent`: on blocks of 6 h - 4 days, off blocks of 3 h - 2 days (log-uniform).
pub const ON_BLOCK_H: (f64, f64) = (6.0, 96.0);
pub const OFF_BLOCK_H: (f64, f64) = (3.0, 48.0);
/// `mining_growth`: devices are added in steps 7-14 days apart (scaled down in windows shorter
/// than 30 days), DOMAIN.md: "a second step weeks later".
pub const GROWTH_GAP_DAYS: (f64, f64) = (7.0, 14.0);

/// When the rig draws power.
#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    /// 24/7.
    Continuous,
    /// Only inside a local daily window (night tariff).
    Night { from_min: u32, len_min: u32 },
    /// On blocks `[start, end)` in slots, off in between.
    Intermittent { on: Vec<(usize, usize)> },
}

/// Devices switched on at a slot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    pub slot: usize,
    pub devices: u32,
}

/// Everything about one rig that is fixed before its load is drawn.
#[derive(Debug, Clone)]
pub struct RigPlan {
    pub model: &'static str,
    pub device_kw: f64,
    /// Onset first, then growth steps, in slot order.
    pub steps: Vec<Step>,
    pub schedule: Schedule,
    pub noise_sd: f64,
    /// (start, length) in seconds from the window start.
    pub outages: Vec<(i64, i64)>,
    /// The rig is wired around the meter: only the feeder sees it.
    pub bypass: bool,
    pub onset_at_start: bool,
}

fn pick<'a>(r: &mut Rng, devices: &'a [Device]) -> &'a Device {
    let total: f64 = devices.iter().map(|d| d.weight).sum();
    let mut u = r.gen::<f64>() * total;
    for d in devices {
        if u < d.weight {
            return d;
        }
        u -= d.weight;
    }
    &devices[devices.len() - 1]
}

/// A device count in `lo..=hi`, P(n) proportional to n^-[`DEVICE_COUNT_EXPONENT`].
pub fn skewed_count(r: &mut Rng, lo: u32, hi: u32) -> u32 {
    let w = |n: u32| f64::from(n).powf(-DEVICE_COUNT_EXPONENT);
    let total: f64 = (lo..=hi).map(w).sum();
    let mut u = r.gen::<f64>() * total;
    for n in lo..=hi {
        if u < w(n) {
            return n;
        }
        u -= w(n);
    }
    hi
}

/// Log-uniform draw in [lo, hi].
pub fn log_uniform(r: &mut Rng, lo: f64, hi: f64) -> f64 {
    (lo.ln() + r.gen::<f64>() * (hi.ln() - lo.ln())).exp()
}

impl RigPlan {
    /// Draws the rig of a meter of `kind` (a mining kind) on `cal`.
    pub fn draw(kind: Kind, cal: &Calendar, r: &mut Rng) -> RigPlan {
        let n = cal.n_slots();
        let slots_per_day = cal.grid.slots_per_day().max(1);
        let (device, count) = match kind {
            Kind::RegisteredMiner => {
                let (lo, hi) = SITE_DEVICES_RANGE;
                let c = log_uniform(r, f64::from(lo), f64::from(hi)).round() as u32;
                (pick(r, &SITE_DEVICES), c.clamp(lo, hi))
            }
            Kind::MiningSmall => (pick(r, &SMALL_DEVICES), skewed_count(r, 1, 2)),
            // DOMAIN.md: bigger setups (two or more ASICs exceed a household service) bypass.
            Kind::MiningBypass => (pick(r, &RIG_DEVICES), skewed_count(r, 2, 10)),
            // At least two devices, so that capacity can grow in steps.
            Kind::MiningGrowth => (pick(r, &RIG_DEVICES), skewed_count(r, 2, 10)),
            _ => (pick(r, &RIG_DEVICES), skewed_count(r, 1, 10)),
        };
        let kw = device.kw_min + r.gen::<f64>() * (device.kw_max - device.kw_min);
        let device_kw = (kw * 100.0).round() / 100.0;
        let frac_slot = |r: &mut Rng, lo: f64, hi: f64| {
            ((lo + r.gen::<f64>() * (hi - lo)) * n as f64).floor() as usize
        };
        let onset_at_start = kind == Kind::RegisteredMiner || r.gen_bool(0.5);
        let onset = match (onset_at_start, kind) {
            (true, _) => 0,
            (false, Kind::MiningGrowth) => frac_slot(r, 0.05, 0.25),
            // Mid-window step, leaving a before and an after to compare.
            (false, _) => frac_slot(r, 0.15, 0.75),
        }
        .min(n.saturating_sub(1));
        let steps = if kind == Kind::MiningGrowth {
            growth_steps(r, onset, count, n, slots_per_day)
        } else {
            vec![Step {
                slot: onset,
                devices: count,
            }]
        };
        let schedule = match kind {
            Kind::MiningNight => Schedule::Night {
                from_min: NIGHT_STARTS_MIN[r.gen_range(0..NIGHT_STARTS_MIN.len())],
                len_min: NIGHT_LEN_MIN,
            },
            Kind::MiningIntermittent => Schedule::Intermittent {
                on: on_blocks(r, onset, n, cal.hours()),
            },
            _ => Schedule::Continuous,
        };
        let noise_sd = NOISE_SD_RANGE.0 + r.gen::<f64>() * (NOISE_SD_RANGE.1 - NOISE_SD_RANGE.0);
        let start_secs = onset as i64 * i64::from(cal.grid.interval_secs);
        let end_secs = cal.grid.end() - cal.grid.start;
        let days_on = (end_secs - start_secs) as f64 / 86_400.0;
        let k = match Poisson::new(OUTAGES_PER_DAY * days_on) {
            Ok(p) => p.sample(r) as usize,
            Err(_) => 0,
        };
        let mut outages: Vec<(i64, i64)> = (0..k)
            .map(|_| {
                let len = log_uniform(r, OUTAGE_SECS_RANGE.0, OUTAGE_SECS_RANGE.1) as i64;
                let at = start_secs + (r.gen::<f64>() * (end_secs - start_secs) as f64) as i64;
                (at, len)
            })
            .collect();
        outages.sort_unstable();
        RigPlan {
            model: device.model,
            device_kw,
            steps,
            schedule,
            noise_sd,
            outages,
            bypass: kind == Kind::MiningBypass,
            onset_at_start,
        }
    }

    /// Devices at the end of the window.
    pub fn n_devices(&self) -> u32 {
        self.steps.iter().map(|s| s.devices).sum()
    }

    /// Nameplate power at the end of the window (kW).
    pub fn rig_kw(&self) -> f64 {
        f64::from(self.n_devices()) * self.device_kw
    }

    pub fn onset_slot(&self) -> usize {
        self.steps.first().map_or(0, |s| s.slot)
    }

    /// Adds the rig's average kW per slot into `out_kw` (one value per slot of `cal`).
    pub fn render(&self, cal: &Calendar, r: &mut Rng, out_kw: &mut [f64]) {
        let n = cal.n_slots().min(out_kw.len());
        let mut up = vec![1.0f64; n];
        let slot_secs = i64::from(cal.grid.interval_secs);
        for &(at, len) in &self.outages {
            subtract_span(&mut up, at, at + len, slot_secs);
        }
        if let Schedule::Intermittent { on } = &self.schedule {
            let mut mask = vec![0.0f64; n];
            for &(a, b) in on {
                for m in &mut mask[a.min(n)..b.min(n)] {
                    *m = 1.0;
                }
            }
            for (u, m) in up.iter_mut().zip(mask) {
                *u *= m;
            }
        }
        let mut devices = 0u32;
        let mut next = 0;
        for s in 0..n {
            while next < self.steps.len() && self.steps[next].slot <= s {
                devices += self.steps[next].devices;
                next += 1;
            }
            if devices == 0 || up[s] <= 0.0 {
                continue;
            }
            if let Schedule::Night { from_min, len_min } = self.schedule {
                if !cal.in_daily_window(s, from_min, len_min) {
                    continue;
                }
            }
            let hot = 1.0 + HOT_SHARE_PER_C * (cal.temp(s, HOT_FROM_C) - HOT_FROM_C).max(0.0);
            let noise = 1.0 + self.noise_sd * r.sample::<f64, _>(StandardNormal);
            out_kw[s] += f64::from(devices) * self.device_kw * hot * noise.max(0.0) * up[s];
        }
    }
}

/// Onset plus one or two growth steps, the total being `count` devices.
fn growth_steps(r: &mut Rng, onset: usize, count: u32, n: usize, per_day: usize) -> Vec<Step> {
    let scale = (n as f64 / (30.0 * per_day as f64)).min(1.0);
    let gap = |r: &mut Rng| {
        let d = GROWTH_GAP_DAYS.0 + r.gen::<f64>() * (GROWTH_GAP_DAYS.1 - GROWTH_GAP_DAYS.0);
        ((d * scale * per_day as f64) as usize).max(1)
    };
    let mut slots = Vec::new();
    let mut at = onset;
    let want = if count >= 3 && r.gen_bool(0.4) { 2 } else { 1 };
    // The last step must leave a day (or a tenth of the window) to be seen.
    let tail = per_day.min(n / 10).max(1);
    for _ in 0..want {
        let next = at + gap(r);
        if next + tail > n {
            break;
        }
        slots.push(next);
        at = next;
    }
    if slots.is_empty() {
        // Too short a window for week-long gaps: one step halfway through what is left.
        slots.push((onset + (n - onset) / 2).clamp(onset + 1, n.max(onset + 1)));
    }
    let mut left = count;
    let first = (count / (slots.len() as u32 + 1)).max(1);
    let mut steps = vec![Step {
        slot: onset,
        devices: first,
    }];
    left -= first;
    for (i, s) in slots.iter().enumerate() {
        let remaining_steps = (slots.len() - i) as u32;
        let d = if remaining_steps == 1 {
            left
        } else {
            (left / remaining_steps).max(1)
        };
        if d == 0 {
            break;
        }
        steps.push(Step {
            slot: *s,
            devices: d,
        });
        left -= d;
    }
    steps
}

/// On blocks from `onset` to `n`, alternating with off blocks; starts on.
fn on_blocks(r: &mut Rng, onset: usize, n: usize, slot_hours: f64) -> Vec<(usize, usize)> {
    let slots = |r: &mut Rng, (lo, hi): (f64, f64)| {
        ((log_uniform(r, lo, hi) / slot_hours).round() as usize).max(1)
    };
    let mut out = Vec::new();
    let mut at = onset;
    while at < n {
        let end = (at + slots(r, ON_BLOCK_H)).min(n);
        out.push((at, end));
        at = end + slots(r, OFF_BLOCK_H);
    }
    out
}

/// Lowers `avail` (1 = fully available per slot) by the share of each slot that lies in
/// `[from, to)` seconds after the window start.
pub fn subtract_span(avail: &mut [f64], from: i64, to: i64, slot_secs: i64) {
    if to <= from || slot_secs <= 0 {
        return;
    }
    let first = from.div_euclid(slot_secs).max(0);
    let last = (to - 1).div_euclid(slot_secs);
    for s in first..=last {
        let Some(a) = usize::try_from(s).ok().and_then(|s| avail.get_mut(s)) else {
            continue;
        };
        let (s0, s1) = (s * slot_secs, (s + 1) * slot_secs);
        let overlap = (to.min(s1) - from.max(s0)).max(0) as f64 / slot_secs as f64;
        *a = (*a - overlap).max(0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::TimeGrid;
    use crate::synth::seed::{rng, Stream};

    fn cal(days: usize) -> Calendar {
        let g = TimeGrid {
            start: 1_709_251_200,
            interval_secs: 1800,
            n_slots: days * 48,
        };
        Calendar::new(g, chrono_tz::UTC, vec![10.0; days * 48])
    }

    #[test]
    fn catalogue_matches_domain_table() {
        for d in RIG_DEVICES
            .iter()
            .chain(&SMALL_DEVICES)
            .chain(&SITE_DEVICES)
        {
            assert!(
                d.kw_min >= 0.6 && d.kw_max <= 3.5 && d.kw_min <= d.kw_max,
                "{d:?}"
            );
        }
        for d in SMALL_DEVICES {
            assert!(d.kw_max <= 1.5);
        }
    }

    #[test]
    fn continuous_rig_is_flat_at_nameplate() {
        let c = cal(30);
        for i in 0..50 {
            let mut r = rng(9, Stream::Plan, i);
            let p = RigPlan::draw(Kind::MiningPure, &c, &mut r);
            let mut kw = vec![0.0; c.n_slots()];
            p.render(&c, &mut rng(9, Stream::Load, i), &mut kw);
            let on = &kw[p.onset_slot()..];
            let mean = on.iter().sum::<f64>() / on.len() as f64;
            // Noise averages out; outages (about one a month, up to 4 h) cost a few percent.
            assert!(
                (mean / p.rig_kw() - 1.0).abs() < 0.06,
                "{mean} vs {}",
                p.rig_kw()
            );
            let max = on.iter().cloned().fold(0.0, f64::max);
            assert!(mean / max > 0.9, "load factor {}", mean / max);
            assert!(kw[..p.onset_slot()].iter().all(|&x| x == 0.0));
            assert!((1..=10).contains(&p.n_devices()));
        }
    }

    #[test]
    fn growth_has_two_or_more_steps_summing_to_the_count() {
        for days in [2, 14, 30, 60] {
            let c = cal(days);
            for i in 0..40 {
                let p = RigPlan::draw(Kind::MiningGrowth, &c, &mut rng(1, Stream::Plan, i));
                assert!(p.steps.len() >= 2, "{days} days: {:?}", p.steps);
                assert!(p.steps.windows(2).all(|w| w[0].slot < w[1].slot));
                assert!(p
                    .steps
                    .iter()
                    .all(|s| s.devices > 0 && s.slot < c.n_slots()));
            }
        }
    }

    #[test]
    fn night_rig_runs_only_at_night() {
        let c = cal(7);
        let p = RigPlan {
            schedule: Schedule::Night {
                from_min: 0,
                len_min: NIGHT_LEN_MIN,
            },
            ..RigPlan::draw(Kind::MiningPure, &c, &mut rng(2, Stream::Plan, 0))
        };
        let mut kw = vec![0.0; c.n_slots()];
        p.render(&c, &mut rng(2, Stream::Load, 0), &mut kw);
        let mut on_at_night = 0;
        for (s, v) in kw.iter().enumerate().skip(p.onset_slot()) {
            if s % 48 >= 14 {
                assert_eq!(*v, 0.0, "slot {s} is outside 00:00-07:00");
            } else if *v > 0.0 {
                on_at_night += 1;
            }
        }
        let nights = (c.n_slots() - p.onset_slot()) / 48;
        assert!(on_at_night >= nights * 14 * 9 / 10, "{on_at_night}");
    }

    #[test]
    fn spans_subtract_partial_slots() {
        let mut a = vec![1.0; 4];
        subtract_span(&mut a, 900, 4500, 1800);
        assert_eq!(a, vec![0.5, 0.0, 0.5, 1.0]);
        subtract_span(&mut a, -100, 100, 1800);
        assert!((a[0] - (0.5 - 100.0 / 1800.0)).abs() < 1e-12);
        subtract_span(&mut a, 7000, 99_999, 1800);
        assert!(a[3] < 1.0);
    }
}
