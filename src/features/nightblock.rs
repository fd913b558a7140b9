//! The daily block of "on" hours of a night-only load, and how a rig's differs from storage
//! heating's and a heat pump's: a rig never draws more than its level inside the block
//! ([`on_block_excess`]) and holds it through every hour ([`block_fill`]).

use super::baseload::by_hour;
use super::level::quantiles;
use super::Calendar;

/// How far any hour of the daily block of "on" hours rises above the block's typical level:
/// per local hour, the median load over the slots from `from`; the hours above half the highest
/// median form the block; returns (highest - median of the block's hours) / that median, and the
/// block's hours. A rig on a night tariff never draws more than its level (its partly-on edge
/// hours draw less); a storage heater with the immersion heater at the end of the off-peak
/// window on most nights, or a bakery's ovens, rise within the block. (A lower quartile per hour,
/// tried to leave out a household living on top of a rig, also left out immersion heaters that
/// skip a fifth of the nights: the peers' region lost a tenth of its recall.) `NaN` under three
/// on-hours.
pub fn on_block_excess(
    kw: &[f32],
    cal: &Calendar,
    from: usize,
    hours: &mut [Vec<f32>; 24],
    buf: &mut Vec<f32>,
) -> (f32, [bool; 24]) {
    let mut block = [false; 24];
    by_hour(kw, cal, from, f32::NEG_INFINITY, hours);
    let mut med = [f32::NAN; 24];
    for (h, v) in hours.iter().enumerate() {
        if v.len() >= 3 {
            med[h] = quantiles(buf, v, [0.5])[0];
        }
    }
    let top = med
        .iter()
        .copied()
        .filter(|x| !x.is_nan())
        .fold(f32::NAN, f32::max);
    if top.is_nan() || top <= 0.0 {
        return (f32::NAN, block);
    }
    let mut kept = [0f32; 24];
    let mut n = 0;
    for (h, x) in med.iter().copied().enumerate() {
        if x > 0.5 * top {
            kept[n] = x;
            n += 1;
            block[h] = true;
        }
    }
    let kept = &mut kept[..n];
    if kept.len() < 3 {
        return (f32::NAN, block);
    }
    let k = kept.len() / 2;
    let typical = *kept.select_nth_unstable_by(k, f32::total_cmp).1;
    ((top - typical) / typical, block)
}

/// Days (with at least three readings in the block's inner hours) [`block_fill`] needs.
pub const BLOCK_FILL_MIN_DAYS: usize = 3;

/// How fully a load holds the level of its daily block of "on" hours (`block`, by local hour,
/// from [`on_block_excess`]) hour by hour: per local day from `days[from_day]`, over the
/// block's inner hours (both neighbours in the block: its edges are partly on), the lowest
/// reading over the median reading; the median over days. A rig holds its level through every
/// hour it is on (1-3% noise, a household only adds): near 1. A heat pump's compressor cycles
/// and a storage heater charges only part of its window on a mild night: well below. `NaN`
/// with under [`BLOCK_FILL_MIN_DAYS`] days of three inner readings.
pub fn block_fill(
    kw: &[f32],
    cal: &Calendar,
    days: &[std::ops::Range<usize>],
    from_day: usize,
    block: &[bool; 24],
    buf: &mut Vec<f32>,
    out: &mut Vec<f32>,
) -> f32 {
    let inner: [bool; 24] =
        std::array::from_fn(|h| block[h] && block[(h + 23) % 24] && block[(h + 1) % 24]);
    out.clear();
    for r in days.iter().skip(from_day) {
        buf.clear();
        buf.extend(
            r.clone()
                .filter(|&s| inner[usize::from(cal.hour[s]).min(23)] && !kw[s].is_nan())
                .map(|s| kw[s]),
        );
        if buf.len() < 3 {
            continue;
        }
        let low = buf.iter().copied().fold(f32::INFINITY, f32::min);
        let k = buf.len() / 2;
        let mid = *buf.select_nth_unstable_by(k, f32::total_cmp).1;
        if mid > 0.0 {
            out.push(low / mid);
        }
    }
    if out.len() < BLOCK_FILL_MIN_DAYS {
        return f32::NAN;
    }
    let k = out.len() / 2;
    *out.select_nth_unstable_by(k, f32::total_cmp).1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::TimeGrid;

    #[test]
    fn a_rig_holds_its_night_block_and_a_heat_pump_does_not() {
        // Hourly, 14 days, UTC: a household at 0.2 kW with an evening at 0.5 kW.
        let grid = TimeGrid {
            start: 1_709_251_200,
            interval_secs: 3600,
            n_slots: 24 * 14,
        };
        let cal = Calendar::new(&grid, chrono_tz::UTC);
        let days = cal.day_ranges();
        let house = |s: usize| {
            if (18..22).contains(&(s % 24)) {
                0.5
            } else {
                0.2
            }
        };
        let night = |s: usize| !(6..22).contains(&(s % 24));
        // A 3 kW rig 22:00-06:00, with a household that is up late on some nights.
        let rig: Vec<f32> = (0..grid.n_slots)
            .map(|s| {
                let late = if s % 24 == 23 && (s / 24) % 3 == 0 {
                    1.5
                } else {
                    0.0
                };
                house(s) + if night(s) { 3.0 + late } else { 0.0 }
            })
            .collect();
        // A heat pump on the night tariff: its compressor cycling, at full power in some
        // hours and a quarter of it in others, not by the clock.
        let pump: Vec<f32> = (0..grid.n_slots)
            .map(|s| {
                let full = (s + s / 24) % 2 == 0;
                house(s)
                    + if !night(s) {
                        0.0
                    } else if full {
                        4.0
                    } else {
                        1.0
                    }
            })
            .collect();
        let (mut hours, mut buf, mut out) = (Default::default(), Vec::new(), Vec::new());
        let (excess, block) = on_block_excess(&rig, &cal, 0, &mut hours, &mut buf);
        assert!(
            excess.abs() < 0.05,
            "the late nights are the household's: {excess}"
        );
        assert_eq!(
            (0..24).filter(|&h| block[h]).collect::<Vec<_>>(),
            vec![0, 1, 2, 3, 4, 5, 22, 23]
        );
        let fill = block_fill(&rig, &cal, &days, 0, &block, &mut buf, &mut out);
        assert!(fill > 0.95, "{fill}");
        let (_, block) = on_block_excess(&pump, &cal, 0, &mut hours, &mut buf);
        let fill = block_fill(&pump, &cal, &days, 0, &block, &mut buf, &mut out);
        assert!(fill < 0.5, "{fill}");
        // Too few days: unknown.
        let fill = block_fill(&rig, &cal, &days, 12, &block, &mut buf, &mut out);
        assert!(fill.is_nan(), "{fill}");
    }
}
