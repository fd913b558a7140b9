//! Household load: daily rhythm, appliance events, temperature response, days away; and the two
//! electric-heating variants (direct heating that tracks temperature, night-storage heaters that
//! charge in the night-tariff hours only).
//!
//! Input: parameters drawn once per meter from the plan stream ([`HouseholdParams::draw`] ...),
//! the [`Calendar`], and the meter's load stream for per-slot noise and events. Output: average kW
//! per slot, added into a caller-owned buffer.
//! Invariants: the mean household load is about 0.45 kW (always-on 0.1-0.3 kW, DOMAIN.md ~0.2 kW,
//! plus activity and appliances; lognormal across homes); all clock-based behaviour uses the
//! local clock; heating vanishes when the air is warmer than the home's balance point.

use rand::Rng as _;
use rand_distr::StandardNormal;

use super::calendar::Calendar;
use super::load::add_block;
use super::seed::Rng;

/// Always-on load (fridge, standby, router): 0.1-0.3 kW (DOMAIN.md: "~0.2 kW").
pub const BASE_KW: (f64, f64) = (0.10, 0.30);
/// Activity scale: lognormal with this mean (kW) and log-sd across homes.
pub const SCALE_MEAN_KW: f64 = 0.15;
pub const SCALE_LOG_SD: f64 = 0.5;
/// Appliance events per hour at average activity, per kW of activity scale (about 2 a day for
/// an average home).
pub const EVENTS_PER_HOUR_PER_KW: f64 = 0.6;
/// Chance that a home is away once in a 30-day window, and the trip length in days.
pub const AWAY_CHANCE_PER_30_DAYS: f64 = 0.12;
pub const AWAY_DAYS: (u32, u32) = (2, 9);
/// Local hours of the heating day (thermostat comfort period); outside it, the setback applies.
pub const HEATING_DAY_MIN: (u32, u32) = (6 * 60, 23 * 60);
/// Night-tariff hours in which storage heaters charge: 7 hours from local midnight
/// (Economy 7-like; DOMAIN.md: "storage heaters run on night-tariff hours only").
pub const NIGHT_TARIFF_MIN: (u32, u32) = (0, 7 * 60);
/// Heat loss of an electrically heated home net of internal gains (kW per degree below the
/// balance point): 80-200 W/K, a flat to a small house. DOMAIN.md only says "large and steady in
/// winter"; at 5 C this gives 1-2 kW of heating on top of the household.
pub const HEAT_LOSS_KW_PER_C: (f64, f64) = (0.08, 0.20);
/// Frost-protection balance point while away (C).
pub const AWAY_BALANCE_C: f64 = 8.0;

/// An appliance run: power range (kW), duration range (minutes), relative frequency.
struct Appliance {
    kw: (f64, f64),
    minutes: (f64, f64),
    weight: f64,
}

/// Typical wattages and run times of common appliances (kettle, cooking, laundry, dishwasher,
/// electric shower).
const APPLIANCES: [Appliance; 5] = [
    Appliance {
        kw: (2.0, 3.0),
        minutes: (3.0, 5.0),
        weight: 0.45,
    },
    Appliance {
        kw: (1.5, 2.5),
        minutes: (20.0, 60.0),
        weight: 0.20,
    },
    Appliance {
        kw: (0.6, 1.2),
        minutes: (60.0, 120.0),
        weight: 0.15,
    },
    Appliance {
        kw: (1.0, 1.3),
        minutes: (60.0, 90.0),
        weight: 0.10,
    },
    Appliance {
        kw: (7.5, 10.0),
        minutes: (5.0, 12.0),
        weight: 0.10,
    },
];

fn uniform(r: &mut Rng, (lo, hi): (f64, f64)) -> f64 {
    lo + r.gen::<f64>() * (hi - lo)
}

/// One home's constants.
#[derive(Debug, Clone)]
pub struct HouseholdParams {
    pub base_kw: f64,
    pub scale_kw: f64,
    morning_h: f64,
    evening_h: f64,
    morning_amp: f64,
    evening_amp: f64,
    /// Weekday daytime occupancy (0.15 = out at work, 0.9 = at home).
    day_occupancy: f64,
    noise_sd: f64,
    events_per_hour: f64,
    cold_kw_per_c: f64,
    hot_kw_per_c: f64,
    /// Local day indices [from, to) when nobody is home.
    away: Option<(u32, u32)>,
}

impl HouseholdParams {
    pub fn draw(cal: &Calendar, r: &mut Rng) -> Self {
        let mu = SCALE_MEAN_KW.ln() - SCALE_LOG_SD * SCALE_LOG_SD / 2.0;
        let scale_kw = (mu + SCALE_LOG_SD * r.sample::<f64, _>(StandardNormal)).exp();
        let n_days = cal.days.len() as u32;
        let away_chance = (AWAY_CHANCE_PER_30_DAYS * f64::from(n_days) / 30.0).min(0.5);
        let away = if n_days > 2 && r.gen_bool(away_chance) {
            let len = r.gen_range(AWAY_DAYS.0..=AWAY_DAYS.1).min(n_days - 1);
            let from = r.gen_range(0..n_days - len);
            Some((from, from + len))
        } else {
            None
        };
        HouseholdParams {
            base_kw: uniform(r, BASE_KW),
            scale_kw,
            morning_h: uniform(r, (6.3, 8.0)),
            evening_h: uniform(r, (17.5, 20.0)),
            morning_amp: uniform(r, (0.8, 1.8)),
            evening_amp: uniform(r, (1.6, 2.8)),
            day_occupancy: uniform(r, (0.15, 0.9)),
            noise_sd: uniform(r, (0.25, 0.45)),
            events_per_hour: EVENTS_PER_HOUR_PER_KW * scale_kw,
            cold_kw_per_c: uniform(r, (0.0, 0.015)),
            hot_kw_per_c: uniform(r, (0.0, 0.03)),
            away,
        }
    }

    fn is_away(&self, day: u32) -> bool {
        self.away.is_some_and(|(a, b)| (a..b).contains(&day))
    }

    /// Relative activity by local time, 5-minute steps, [weekday, weekend]; weekday mean 1.
    fn shape(&self) -> [[f32; 288]; 2] {
        let bump = |h: f64, c: f64, w: f64| {
            let d = (h - c + 36.0).rem_euclid(24.0) - 12.0;
            (-0.5 * (d / w).powi(2)).exp()
        };
        let sig = |x: f64| 1.0 / (1.0 + (-x).exp());
        let mut out = [[0f32; 288]; 2];
        for (weekend, row) in out.iter_mut().enumerate() {
            let (shift, occ) = if weekend == 1 {
                (1.5, self.day_occupancy.max(0.7))
            } else {
                (0.0, self.day_occupancy)
            };
            for (i, v) in row.iter_mut().enumerate() {
                let h = (i as f64 + 0.5) / 12.0;
                let day = occ * sig((h - 9.0) / 0.7) * sig((16.5 - h) / 0.7);
                let late = 0.5 * sig((h - 17.0) / 0.7) * sig((23.0 - h) / 0.5);
                *v = (0.2
                    + self.morning_amp * bump(h, self.morning_h + shift, 1.0 + shift / 3.0)
                    + day
                    + late
                    + self.evening_amp * bump(h, self.evening_h, 1.8)) as f32;
            }
        }
        let mean = out[0].iter().map(|&x| f64::from(x)).sum::<f64>() / 288.0;
        for row in &mut out {
            for v in row.iter_mut() {
                *v = (f64::from(*v) / mean) as f32;
            }
        }
        out
    }

    /// Adds the home's load (kW per slot) into `out`.
    pub fn render(&self, cal: &Calendar, r: &mut Rng, out: &mut [f64]) {
        let shape = self.shape();
        let hours = cal.hours();
        let half_var = self.noise_sd * self.noise_sd / 2.0;
        for (s, o) in out.iter_mut().enumerate().take(cal.n_slots()) {
            let base = self.base_kw * (1.0 + 0.05 * r.sample::<f64, _>(StandardNormal));
            *o += base.max(0.0);
            if self.is_away(cal.day[s]) {
                continue;
            }
            let weekend = usize::from(cal.weekday[s] >= 5);
            let a = f64::from(shape[weekend][usize::from(cal.minute_mid[s] / 5).min(287)]);
            let z: f64 = r.sample(StandardNormal);
            *o += self.scale_kw * a * (self.noise_sd * z - half_var).exp();
            let t = cal.temp(s, 15.0);
            *o +=
                self.cold_kw_per_c * (14.0 - t).max(0.0) + self.hot_kw_per_c * (t - 22.0).max(0.0);
        }
        // Appliance events, started in proportion to activity.
        for s in 0..cal.n_slots().min(out.len()) {
            if self.is_away(cal.day[s]) {
                continue;
            }
            let weekend = usize::from(cal.weekday[s] >= 5);
            let a = f64::from(shape[weekend][usize::from(cal.minute_mid[s] / 5).min(287)]);
            if r.gen::<f64>() >= self.events_per_hour * a * hours {
                continue;
            }
            let total: f64 = APPLIANCES.iter().map(|x| x.weight).sum();
            let mut u = r.gen::<f64>() * total;
            let app = APPLIANCES
                .iter()
                .find(|x| {
                    let hit = u < x.weight;
                    u -= x.weight;
                    hit
                })
                .unwrap_or(&APPLIANCES[0]);
            let kw = uniform(r, app.kw);
            let dur_h = uniform(r, app.minutes) / 60.0;
            add_block(out, s as f64 + r.gen::<f64>(), dur_h / hours, kw);
        }
    }
}

/// Direct electric heating: heat loss coefficient times heating degrees, with a night setback.
#[derive(Debug, Clone)]
pub struct HeatingParams {
    /// kW per degree below the balance point (whole-home heat loss net of gains).
    pub kw_per_c: f64,
    pub balance_day_c: f64,
    pub setback_c: f64,
    pub max_kw: f64,
}

impl HeatingParams {
    pub fn draw(r: &mut Rng) -> Self {
        HeatingParams {
            kw_per_c: uniform(r, HEAT_LOSS_KW_PER_C),
            balance_day_c: uniform(r, (15.0, 17.5)),
            setback_c: uniform(r, (2.0, 5.0)),
            max_kw: uniform(r, (6.0, 12.0)).round(),
        }
    }

    pub fn render(&self, home: &HouseholdParams, cal: &Calendar, r: &mut Rng, out: &mut [f64]) {
        let (from, to) = HEATING_DAY_MIN;
        for (s, o) in out.iter_mut().enumerate().take(cal.n_slots()) {
            let balance = if home.is_away(cal.day[s]) {
                AWAY_BALANCE_C
            } else if cal.in_daily_window(s, from, to - from) {
                self.balance_day_c
            } else {
                self.balance_day_c - self.setback_c
            };
            let degrees = (balance - cal.temp(s, balance)).max(0.0);
            if degrees > 0.0 {
                let cycling = 1.0 + 0.15 * r.sample::<f64, _>(StandardNormal);
                *o += (self.kw_per_c * degrees * cycling).clamp(0.0, self.max_kw);
            }
        }
    }
}

/// Night-storage heaters (charged at full input power in the night-tariff window, as much as the
/// day's heat demand needs) and an immersion water heater on the same cheap hours.
#[derive(Debug, Clone)]
pub struct StorageParams {
    pub kw_per_c: f64,
    pub balance_c: f64,
    /// Total heater input power (2-4 heaters of 1.7-3.4 kW).
    pub input_kw: f64,
    /// Charging starts this long after the window opens (hours).
    pub start_offset_h: f64,
    pub immersion_kw: f64,
}

impl StorageParams {
    pub fn draw(r: &mut Rng) -> Self {
        StorageParams {
            kw_per_c: uniform(r, HEAT_LOSS_KW_PER_C),
            balance_c: uniform(r, (15.0, 17.0)),
            input_kw: (uniform(r, (4.0, 10.0)) * 10.0).round() / 10.0,
            start_offset_h: [0.0, 0.5][r.gen_range(0..2)],
            immersion_kw: 3.0,
        }
    }

    pub fn render(&self, home: &HouseholdParams, cal: &Calendar, r: &mut Rng, out: &mut [f64]) {
        let hours = cal.hours();
        let window_h = f64::from(NIGHT_TARIFF_MIN.1 - NIGHT_TARIFF_MIN.0) / 60.0;
        for (d, day) in cal.days.iter().enumerate() {
            // The charge controller reads the day's temperature (a perfect forecast).
            let t = if day.mean_temp_c.is_nan() {
                self.balance_c
            } else {
                f64::from(day.mean_temp_c)
            };
            let balance = if home.is_away(d as u32) {
                AWAY_BALANCE_C
            } else {
                self.balance_c
            };
            let need_kwh = self.kw_per_c * 24.0 * (balance - t).max(0.0);
            let open_min = f64::from(NIGHT_TARIFF_MIN.0) + 60.0 * self.start_offset_h;
            let start = cal.slot_at(d, open_min);
            let charge_h = (need_kwh / self.input_kw).min(window_h - self.start_offset_h);
            if charge_h > 0.0 {
                add_block(out, start, charge_h / hours, self.input_kw);
            }
            if !home.is_away(d as u32) && r.gen_bool(0.8) {
                let at = start + uniform(r, (0.0, 4.0)) / hours;
                add_block(out, at, uniform(r, (0.5, 2.0)) / hours, self.immersion_kw);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::TimeGrid;
    use crate::synth::seed::{rng, Stream};

    fn cal(temp: f32) -> Calendar {
        let g = TimeGrid {
            start: 1_709_251_200,
            interval_secs: 1800,
            n_slots: 28 * 48,
        };
        Calendar::new(g, chrono_tz::UTC, vec![temp; 28 * 48])
    }

    fn mean(v: &[f64]) -> f64 {
        v.iter().sum::<f64>() / v.len() as f64
    }

    #[test]
    fn homes_average_0_3_to_0_5_kw_with_evening_peak() {
        let c = cal(12.0);
        let mut means = Vec::new();
        let mut by_hour = [0.0f64; 24];
        for i in 0..300 {
            let p = HouseholdParams::draw(&c, &mut rng(4, Stream::Plan, i));
            let mut kw = vec![0.0; c.n_slots()];
            p.render(&c, &mut rng(4, Stream::Load, i), &mut kw);
            means.push(mean(&kw));
            for (s, v) in kw.iter().enumerate() {
                by_hour[(s % 48) / 2] += v;
            }
        }
        let m = mean(&means);
        assert!((0.3..=0.5).contains(&m), "mean {m}");
        assert!(by_hour[19] > 1.8 * by_hour[3], "{by_hour:?}");
    }

    #[test]
    fn heating_tracks_temperature_and_vanishes_when_warm() {
        let mut r = rng(5, Stream::Plan, 0);
        let home = HouseholdParams::draw(&cal(0.0), &mut r);
        let heat = HeatingParams::draw(&mut r);
        let run = |t: f32| {
            let c = cal(t);
            let mut kw = vec![0.0; c.n_slots()];
            heat.render(&home, &c, &mut rng(5, Stream::Load, 0), &mut kw);
            mean(&kw)
        };
        assert!(run(0.0) > run(8.0) && run(8.0) > 0.3);
        assert_eq!(run(22.0), 0.0);
    }

    #[test]
    fn storage_heaters_charge_only_at_night() {
        let c = cal(3.0);
        let mut r = rng(6, Stream::Plan, 0);
        let home = HouseholdParams::draw(&c, &mut r);
        let store = StorageParams::draw(&mut r);
        let mut kw = vec![0.0; c.n_slots()];
        store.render(&home, &c, &mut rng(6, Stream::Load, 0), &mut kw);
        let night: f64 = kw
            .iter()
            .enumerate()
            .filter(|(s, _)| s % 48 < 14)
            .map(|x| x.1)
            .sum();
        assert!(night > 0.0);
        let day: f64 = kw
            .iter()
            .enumerate()
            .filter(|(s, _)| s % 48 >= 14)
            .map(|x| x.1)
            .sum();
        assert_eq!(day, 0.0);
    }
}
