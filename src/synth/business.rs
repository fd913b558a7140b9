//! Non-household loads, most of them DOMAIN.md's hard negatives: shops and offices with business
//! hours, 24x7 refrigeration shops, grow-ops (lights on 12/12 or 18/6), agricultural pumps
//! (multi-hour blocks at fixed power), and the small flat base of premises that hold only a rig.
//!
//! Input: parameters drawn once per meter from the plan stream, the [`Calendar`], the meter's load
//! stream. Output: average kW per slot, added into a caller-owned buffer.
//! Invariants: clock-based behaviour uses the local clock; fixed-power equipment (pumps, lamps)
//! draws the same kW whenever it runs, only the schedule varies.

use rand::Rng as _;
use rand_distr::StandardNormal;

use super::calendar::Calendar;
use super::load::add_block;
use super::rig::log_uniform;
use super::seed::Rng;

fn uniform(r: &mut Rng, (lo, hi): (f64, f64)) -> f64 {
    lo + r.gen::<f64>() * (hi - lo)
}

fn sig(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn hour_of(cal: &Calendar, s: usize) -> f64 {
    f64::from(cal.minute_mid[s]) / 60.0
}

/// A shop or office: base load plus business hours (weekdays; some open on Saturday, a few on
/// Sunday), with heating/cooling in open hours.
#[derive(Debug, Clone)]
pub struct CommercialParams {
    pub base_kw: f64,
    pub business_kw: f64,
    open_h: f64,
    close_h: f64,
    saturday: bool,
    sunday: bool,
}

impl CommercialParams {
    pub fn draw(r: &mut Rng) -> Self {
        CommercialParams {
            base_kw: log_uniform(r, 0.3, 3.0),
            business_kw: log_uniform(r, 2.0, 40.0),
            open_h: uniform(r, (7.0, 9.5)),
            close_h: uniform(r, (17.0, 20.5)),
            saturday: r.gen_bool(0.6),
            sunday: r.gen_bool(0.25),
        }
    }

    pub fn peak_kw(&self) -> f64 {
        self.base_kw + self.business_kw * 1.3
    }

    pub fn render(&self, cal: &Calendar, r: &mut Rng, out: &mut [f64]) {
        for (s, o) in out.iter_mut().enumerate().take(cal.n_slots()) {
            let h = hour_of(cal, s);
            let (open, close, level) = match cal.weekday[s] {
                5 if self.saturday => (self.open_h, self.close_h - 3.0, 0.8),
                6 if self.sunday => (10.0, 16.0, 0.6),
                5 | 6 => (0.0, 0.0, 0.0),
                _ => (self.open_h, self.close_h, 1.0),
            };
            let open_share = level * sig((h - open) / 0.3) * sig((close - h) / 0.3);
            let hvac = 1.0 + 0.02 * (cal.temp(s, 18.0) - 18.0).abs();
            let noise = (0.08 * r.sample::<f64, _>(StandardNormal)).exp();
            *o += self.base_kw * (1.0 + 0.03 * r.sample::<f64, _>(StandardNormal)).max(0.0)
                + self.business_kw * open_share * hvac * noise;
        }
    }
}

/// A 24x7 refrigeration shop: flat refrigeration (2-15 kW) with compressor noise and defrost
/// cycles, more cooling when warm, plus long opening hours for lights and tills.
#[derive(Debug, Clone)]
pub struct ShopParams {
    pub refrigeration_kw: f64,
    pub store_kw: f64,
    defrost_every_min: u32,
    defrost_phase_min: u32,
    defrost_len_min: u32,
    /// Share of refrigeration added during defrost (electric heaters: +) or removed (off-cycle: -).
    defrost_delta: f64,
    open_h: f64,
    close_h: f64,
    always_open: bool,
}

impl ShopParams {
    pub fn draw(r: &mut Rng) -> Self {
        let every = [360, 480][r.gen_range(0..2)];
        ShopParams {
            refrigeration_kw: log_uniform(r, 2.0, 15.0),
            store_kw: log_uniform(r, 1.0, 10.0),
            defrost_every_min: every,
            defrost_phase_min: r.gen_range(0..every),
            defrost_len_min: r.gen_range(30..=40),
            defrost_delta: if r.gen_bool(0.6) {
                uniform(r, (0.15, 0.30))
            } else {
                -uniform(r, (0.30, 0.50))
            },
            open_h: uniform(r, (6.0, 7.0)),
            close_h: uniform(r, (22.0, 23.0)),
            always_open: r.gen_bool(0.3),
        }
    }

    pub fn peak_kw(&self) -> f64 {
        self.refrigeration_kw * 1.5 + self.store_kw * 1.2
    }

    /// Share of slot `s` spent defrosting (5-minute resolution).
    fn defrost_share(&self, cal: &Calendar, s: usize) -> f64 {
        let slot_min = (cal.grid.interval_secs / 60).max(1);
        let m0 = u32::from(cal.minute_start[s]);
        let steps = slot_min.div_ceil(5);
        let hits = (0..steps)
            .filter(|k| {
                let m = (m0 + k * 5 + 2) % 1440;
                (m + 1440 - self.defrost_phase_min) % self.defrost_every_min < self.defrost_len_min
            })
            .count();
        hits as f64 / f64::from(steps)
    }

    pub fn render(&self, cal: &Calendar, r: &mut Rng, out: &mut [f64]) {
        for (s, o) in out.iter_mut().enumerate().take(cal.n_slots()) {
            let t = cal.temp(s, 10.0);
            let cooling = (1.0 + 0.025 * (t - 10.0)).clamp(0.8, 1.5);
            let compressor = 1.0 + 0.04 * r.sample::<f64, _>(StandardNormal);
            let defrost = 1.0 + self.defrost_delta * self.defrost_share(cal, s);
            let fridge = self.refrigeration_kw * cooling * compressor * defrost;
            let h = hour_of(cal, s);
            let open = if self.always_open {
                0.6 + 0.4 * sig((h - self.open_h) / 0.3) * sig((self.close_h - h) / 0.3)
            } else {
                sig((h - self.open_h) / 0.3) * sig((self.close_h - h) / 0.3)
            };
            let store = self.store_kw * (0.15 + 0.85 * open);
            *o += (fridge + store * (1.0 + 0.05 * r.sample::<f64, _>(StandardNormal))).max(0.0);
        }
    }
}

/// A grow-op: lamps on a 12/12 (flowering) or 18/6 (vegetative) timer, some switching to 12/12
/// mid-window, with fans and dehumidifiers always on and extra cooling while the lamps are on.
#[derive(Debug, Clone)]
pub struct GrowParams {
    /// Lamp power: 2-16 lamps of 600 W.
    pub lights_kw: f64,
    on_from_min: u32,
    on_hours: u32,
    /// Slot from which the timer is 12/12 (vegetative -> flowering), if it changes.
    flower_from: Option<usize>,
    ancillary_kw: f64,
    cooling_kw: f64,
}

impl GrowParams {
    pub fn draw(cal: &Calendar, r: &mut Rng) -> Self {
        let lights_kw = 0.6 * f64::from(r.gen_range(2u32..=16));
        let on_hours = if r.gen_bool(0.6) { 12 } else { 18 };
        let flower_from = (on_hours == 18 && r.gen_bool(0.25))
            .then(|| (cal.n_slots() as f64 * uniform(r, (0.3, 0.7))) as usize);
        GrowParams {
            lights_kw,
            on_from_min: r.gen_range(0..48) * 30,
            on_hours,
            flower_from,
            ancillary_kw: lights_kw * uniform(r, (0.10, 0.20)),
            cooling_kw: lights_kw * uniform(r, (0.05, 0.15)),
        }
    }

    pub fn peak_kw(&self) -> f64 {
        self.lights_kw + self.ancillary_kw + self.cooling_kw
    }

    pub fn render(&self, cal: &Calendar, r: &mut Rng, out: &mut [f64]) {
        for (s, o) in out.iter_mut().enumerate().take(cal.n_slots()) {
            let hours = match self.flower_from {
                Some(f) if s >= f => 12,
                _ => self.on_hours,
            };
            let lit = cal.in_daily_window(s, self.on_from_min, hours * 60);
            let noise = 1.0 + 0.02 * r.sample::<f64, _>(StandardNormal);
            let lamps = if lit {
                self.lights_kw + self.cooling_kw
            } else {
                0.0
            };
            *o += (self.ancillary_kw + lamps) * noise;
        }
    }
}

/// A farm: small base load (more in daylight) and an irrigation or water pump run in blocks of
/// 2-8 hours at a fixed power, more often when it is warm.
#[derive(Debug, Clone)]
pub struct FarmParams {
    pub base_kw: f64,
    pub pump_kw: f64,
    two_blocks_chance: f64,
    night_chance: f64,
}

impl FarmParams {
    pub fn draw(r: &mut Rng) -> Self {
        FarmParams {
            base_kw: log_uniform(r, 0.3, 2.0),
            pump_kw: (log_uniform(r, 3.0, 30.0) * 2.0).round() / 2.0,
            two_blocks_chance: uniform(r, (0.1, 0.4)),
            night_chance: uniform(r, (0.4, 0.8)),
        }
    }

    pub fn peak_kw(&self) -> f64 {
        self.base_kw * 1.5 + self.pump_kw
    }

    pub fn render(&self, cal: &Calendar, r: &mut Rng, out: &mut [f64]) {
        for (s, o) in out.iter_mut().enumerate().take(cal.n_slots()) {
            let h = hour_of(cal, s);
            let daylight = 1.0 + 0.5 * sig((h - 7.0) / 0.5) * sig((19.0 - h) / 0.5);
            *o += self.base_kw * daylight * (0.1 * r.sample::<f64, _>(StandardNormal)).exp();
        }
        let slot_h = cal.hours();
        let mut pump = vec![0.0f64; out.len()];
        for (d, day) in cal.days.iter().enumerate() {
            let t = if day.mean_temp_c.is_nan() {
                12.0
            } else {
                f64::from(day.mean_temp_c)
            };
            let chance = (0.35 + 0.04 * (t - 12.0)).clamp(0.1, 0.9);
            if !r.gen_bool(chance) {
                continue;
            }
            let blocks = if r.gen_bool(self.two_blocks_chance) {
                2
            } else {
                1
            };
            for _ in 0..blocks {
                let start_h = if r.gen_bool(self.night_chance) {
                    uniform(r, (20.0, 28.0))
                } else {
                    uniform(r, (5.0, 9.0))
                };
                let len_h = uniform(r, (2.0, 8.0));
                add_block(
                    &mut pump,
                    cal.slot_at(d, start_h * 60.0),
                    len_h / slot_h,
                    self.pump_kw,
                );
            }
        }
        for (o, p) in out.iter_mut().zip(pump) {
            if p > 0.0 {
                // Two overlapping blocks are one pump running: cap at its power.
                *o += p.min(self.pump_kw) * (1.0 + 0.01 * r.sample::<f64, _>(StandardNormal));
            }
        }
    }
}

/// A flat base with a little noise: the router and lights of a rig-only premises, or the
/// offices and cooling of a registered mining site.
#[derive(Debug, Clone, Copy)]
pub struct FlatBase {
    pub kw: f64,
}

impl FlatBase {
    pub fn render(&self, cal: &Calendar, r: &mut Rng, out: &mut [f64]) {
        for o in out.iter_mut().take(cal.n_slots()) {
            *o += (self.kw * (1.0 + 0.05 * r.sample::<f64, _>(StandardNormal))).max(0.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::TimeGrid;
    use crate::synth::seed::{rng, Stream};

    fn cal() -> Calendar {
        let g = TimeGrid {
            start: 1_709_251_200, // 2024-03-01, a Friday
            interval_secs: 1800,
            n_slots: 14 * 48,
        };
        Calendar::new(g, chrono_tz::UTC, vec![12.0; 14 * 48])
    }

    #[test]
    fn shops_are_flat_with_refrigeration_floor() {
        let c = cal();
        let p = ShopParams::draw(&mut rng(1, Stream::Plan, 0));
        let mut kw = vec![0.0; c.n_slots()];
        p.render(&c, &mut rng(1, Stream::Load, 0), &mut kw);
        let min = kw.iter().cloned().fold(f64::INFINITY, f64::min);
        assert!(
            min > 0.4 * p.refrigeration_kw,
            "{min} vs {}",
            p.refrigeration_kw
        );
    }

    #[test]
    fn commercial_is_closed_at_night() {
        let c = cal();
        let p = CommercialParams::draw(&mut rng(2, Stream::Plan, 0));
        let mut kw = vec![0.0; c.n_slots()];
        p.render(&c, &mut rng(2, Stream::Load, 0), &mut kw);
        // Friday 03:00 vs 12:00.
        assert!(kw[6] < p.base_kw * 1.2 + 0.05 * p.business_kw);
        assert!(kw[24] > p.base_kw + 0.5 * p.business_kw);
    }

    #[test]
    fn grow_lights_are_a_square_wave() {
        let c = cal();
        let p = GrowParams::draw(&c, &mut rng(3, Stream::Plan, 0));
        let mut kw = vec![0.0; c.n_slots()];
        p.render(&c, &mut rng(3, Stream::Load, 0), &mut kw);
        let on = kw
            .iter()
            .filter(|&&v| v > p.ancillary_kw + 0.5 * p.lights_kw)
            .count();
        let share = on as f64 / kw.len() as f64;
        assert!((0.45..=0.8).contains(&share), "{share}");
    }

    #[test]
    fn pumps_run_in_blocks_at_fixed_power() {
        let c = cal();
        let p = FarmParams::draw(&mut rng(4, Stream::Plan, 0));
        let mut kw = vec![0.0; c.n_slots()];
        p.render(&c, &mut rng(4, Stream::Load, 0), &mut kw);
        let full = kw.iter().filter(|&&v| v > p.pump_kw * 0.98).count();
        assert!(full >= 4, "at least one multi-hour block at full power");
        assert!(kw.iter().all(|&v| v < p.pump_kw * 1.05 + p.base_kw * 3.0));
    }
}
