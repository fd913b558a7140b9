//! The generation clock: the UTC slot grid seen through the local clock of `--tz`, and the
//! synthetic weather that drives heating, pumping and rig fans.
//!
//! Input: a [`TimeGrid`] (UTC, regular), an IANA zone, the run seed. Output: a [`Calendar`] with,
//! per slot, the local minute of day, weekday and local day index, and per local day its first
//! slot and mean temperature; and [`HourlyWeather`] (what `weather.csv` holds).
//! Invariants: timestamps are UTC everywhere; only daily rhythms read the local clock, so DST
//! days simply have 46 or 50 half-hour slots. The temperature a load model sees is exactly the
//! one written to `weather.csv` (rounded to 0.1 C), put on the slots the way ingest does it.
//!
//! Climate: DOMAIN.md has no climate figures. The defaults are London-like normals (daily mean
//! about 5 C in mid-January, about 19 C in mid-July), because the real homes the detector is
//! measured on (`--inject-into` the London files) live in that climate.

use chrono::{DateTime, Datelike, NaiveDate, Timelike};
use chrono_tz::Tz;
use rand::Rng as _;
use rand_distr::StandardNormal;

use super::seed::{rng, Stream};
use crate::grid::TimeGrid;

/// Annual mean air temperature (C).
pub const ANNUAL_MEAN_C: f64 = 12.0;
/// Half the difference between the warmest and coldest months (C).
pub const SEASONAL_AMPLITUDE_C: f64 = 6.9;
/// Day of year with the coldest normal (mid-January).
pub const COLDEST_DAY_OF_YEAR: f64 = 15.0;
/// Half the normal day-night range (C); the warmest hour is 15:00 local.
pub const DIURNAL_AMPLITUDE_C: f64 = 3.5;
/// Local hour of the daily maximum.
pub const WARMEST_HOUR: f64 = 15.0;
/// Standard deviation of the weather-system anomaly (C): fronts and spells of several days.
pub const ANOMALY_SD_C: f64 = 3.0;
/// Correlation time of the anomaly (hours): weather systems last about two days.
pub const ANOMALY_TAU_HOURS: f64 = 48.0;
/// Hour-to-hour jitter on top (C).
pub const JITTER_SD_C: f64 = 0.3;

/// Hourly temperatures from the window start, rounded to 0.1 C (the `weather.csv` rows).
#[derive(Debug, Clone)]
pub struct HourlyWeather {
    pub start: i64,
    pub temperature_c: Vec<f32>,
}

impl HourlyWeather {
    /// Generates one value per hour from the grid's start to its end, both included (the value
    /// at the end lets the last slots interpolate).
    pub fn generate(grid: &TimeGrid, tz: Tz, seed: u64) -> Self {
        let hours = ((grid.end() - grid.start).max(0) as u64).div_ceil(3600) as usize + 1;
        let mut r = rng(seed, Stream::Weather, 0);
        let phi = (-1.0 / ANOMALY_TAU_HOURS).exp();
        let innovation = ANOMALY_SD_C * (1.0 - phi * phi).sqrt();
        let mut anomaly = ANOMALY_SD_C * r.sample::<f64, _>(StandardNormal);
        let mut out = Vec::with_capacity(hours);
        for h in 0..hours {
            let t = grid.start + h as i64 * 3600;
            let (doy, local_hour) = match DateTime::from_timestamp(t, 0) {
                Some(utc) => {
                    let local = utc.with_timezone(&tz);
                    (
                        f64::from(utc.ordinal0()) + f64::from(utc.hour()) / 24.0,
                        f64::from(local.hour()) + f64::from(local.minute()) / 60.0,
                    )
                }
                None => (0.0, 0.0),
            };
            let seasonal = ANNUAL_MEAN_C
                - SEASONAL_AMPLITUDE_C
                    * (std::f64::consts::TAU * (doy - COLDEST_DAY_OF_YEAR) / 365.25).cos();
            let diurnal = DIURNAL_AMPLITUDE_C
                * (std::f64::consts::TAU * (local_hour - WARMEST_HOUR) / 24.0).cos();
            let jitter = JITTER_SD_C * r.sample::<f64, _>(StandardNormal);
            let c = seasonal + diurnal + anomaly + jitter;
            out.push(((c * 10.0).round() / 10.0) as f32);
            anomaly = phi * anomaly + innovation * r.sample::<f64, _>(StandardNormal);
        }
        HourlyWeather {
            start: grid.start,
            temperature_c: out,
        }
    }

    /// Temperature per slot: the mean of the hourly values inside the slot, else linear
    /// interpolation at the slot start (as `ingest::weather` puts hourly weather on a grid).
    pub fn on_slots(&self, grid: &TimeGrid) -> Vec<f32> {
        let n = self.temperature_c.len();
        let at = |h: usize| self.temperature_c[h.min(n.saturating_sub(1))];
        (0..grid.n_slots)
            .map(|s| {
                if n == 0 {
                    return f32::NAN;
                }
                let t0 = grid.slot_start(s) - self.start;
                let t1 = t0 + i64::from(grid.interval_secs);
                let first = t0.div_euclid(3600) + i64::from(t0.rem_euclid(3600) != 0);
                let inside: Vec<f32> = (first.max(0)..)
                    .take_while(|h| h * 3600 < t1 && (*h as usize) < n)
                    .map(|h| at(h as usize))
                    .collect();
                if !inside.is_empty() {
                    return inside.iter().sum::<f32>() / inside.len() as f32;
                }
                let h = t0.div_euclid(3600).max(0) as usize;
                let f = (t0.rem_euclid(3600)) as f32 / 3600.0;
                at(h) * (1.0 - f) + at(h + 1) * f
            })
            .collect()
    }
}

/// One local calendar day inside the window.
#[derive(Debug, Clone)]
pub struct Day {
    pub date: NaiveDate,
    pub first_slot: usize,
    pub n_slots: usize,
    /// Mean slot temperature of the day (NaN without weather).
    pub mean_temp_c: f32,
}

/// The grid seen through the local clock, plus temperature per slot.
#[derive(Debug, Clone)]
pub struct Calendar {
    pub grid: TimeGrid,
    /// Local minute of day at each slot's midpoint (daily load shapes).
    pub minute_mid: Vec<u16>,
    /// Local minute of day at each slot's start (tariff windows).
    pub minute_start: Vec<u16>,
    /// Local weekday of each slot's midpoint, 0 = Monday.
    pub weekday: Vec<u8>,
    /// Local day index (into `days`) of each slot's start.
    pub day: Vec<u32>,
    pub days: Vec<Day>,
    /// Air temperature per slot (C); NaN when unknown (`--inject-into`).
    pub temp_c: Vec<f32>,
    /// The zone of every local time above (written to meters.csv as `tz`).
    pub tz: Tz,
}

fn local(t: i64, tz: Tz) -> Option<DateTime<Tz>> {
    DateTime::from_timestamp(t, 0).map(|u| u.with_timezone(&tz))
}

impl Calendar {
    /// Builds the calendar; `temp_c` must have one value per slot (or be empty: unknown).
    pub fn new(grid: TimeGrid, tz: Tz, temp_c: Vec<f32>) -> Self {
        let n = grid.n_slots;
        let temp_c = if temp_c.len() == n {
            temp_c
        } else {
            vec![f32::NAN; n]
        };
        let half = i64::from(grid.interval_secs) / 2;
        let (mut minute_mid, mut minute_start) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let (mut weekday, mut day) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let mut days: Vec<Day> = Vec::new();
        for s in 0..n {
            let t = grid.slot_start(s);
            let (start, mid) = (local(t, tz), local(t + half, tz));
            let minute = |d: &Option<DateTime<Tz>>| {
                d.as_ref()
                    .map_or(0, |d| (d.hour() * 60 + d.minute()) as u16)
            };
            minute_start.push(minute(&start));
            minute_mid.push(minute(&mid));
            weekday.push(mid.map_or(0, |d| d.weekday().num_days_from_monday() as u8));
            let date = start.map_or(NaiveDate::MIN, |d| d.date_naive());
            if days.last().map(|d| d.date) != Some(date) {
                days.push(Day {
                    date,
                    first_slot: s,
                    n_slots: 0,
                    mean_temp_c: f32::NAN,
                });
            }
            let i = days.len() - 1;
            days[i].n_slots += 1;
            day.push(i as u32);
        }
        for d in &mut days {
            let temps = &temp_c[d.first_slot..d.first_slot + d.n_slots];
            d.mean_temp_c = temps.iter().sum::<f32>() / temps.len().max(1) as f32;
        }
        Calendar {
            grid,
            minute_mid,
            minute_start,
            weekday,
            day,
            days,
            temp_c,
            tz,
        }
    }

    pub fn n_slots(&self) -> usize {
        self.grid.n_slots
    }

    /// Slot length in hours.
    pub fn hours(&self) -> f64 {
        self.grid.interval_hours()
    }

    /// Whether the slot's local start lies in the daily window [`from_min`, `from_min + len_min`)
    /// (wrapping past midnight).
    pub fn in_daily_window(&self, s: usize, from_min: u32, len_min: u32) -> bool {
        let m = u32::from(self.minute_start[s]);
        (m + 1440 - from_min % 1440) % 1440 < len_min
    }

    /// Fractional slot at `local_min` minutes after local midnight of day `d` (may be negative or
    /// past the end when the window starts or ends inside the day; callers clip).
    pub fn slot_at(&self, d: usize, local_min: f64) -> f64 {
        let Some(day) = self.days.get(d) else {
            return f64::NAN;
        };
        let slot_min = f64::from(self.grid.interval_secs) / 60.0;
        let first_min = f64::from(self.minute_start[day.first_slot]);
        day.first_slot as f64 + (local_min - first_min) / slot_min
    }

    /// Temperature of slot `s`, with `fallback` when unknown.
    pub fn temp(&self, s: usize, fallback: f64) -> f64 {
        let t = self.temp_c[s];
        if t.is_nan() {
            fallback
        } else {
            f64::from(t)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(days: usize, interval: u32, start: i64) -> TimeGrid {
        TimeGrid {
            start,
            interval_secs: interval,
            n_slots: days * 86_400 / interval as usize,
        }
    }

    #[test]
    fn weather_is_seasonal_and_deterministic() {
        // 2024-01-01 and 2024-07-01, UTC.
        let jan = grid(30, 1800, 1_704_067_200);
        let jul = grid(30, 1800, 1_719_792_000);
        let wj = HourlyWeather::generate(&jan, chrono_tz::UTC, 3);
        let wl = HourlyWeather::generate(&jul, chrono_tz::UTC, 3);
        assert_eq!(wj.temperature_c.len(), 721);
        let mean = |w: &HourlyWeather| w.temperature_c.iter().sum::<f32>() / 720.0;
        assert!(
            mean(&wj) < 10.0 && mean(&wl) > 14.0,
            "{} {}",
            mean(&wj),
            mean(&wl)
        );
        let again = HourlyWeather::generate(&jan, chrono_tz::UTC, 3);
        assert_eq!(wj.temperature_c, again.temperature_c);
    }

    #[test]
    fn slots_take_the_hourly_value_or_interpolate() {
        let g = grid(1, 1800, 0);
        let w = HourlyWeather {
            start: 0,
            temperature_c: (0..24).map(|h| h as f32).collect(),
        };
        let s = w.on_slots(&g);
        assert_eq!(s[0], 0.0);
        assert_eq!(s[1], 0.5);
        assert_eq!(s[2], 1.0);
        let g2 = grid(1, 7200, 0);
        assert_eq!(w.on_slots(&g2)[0], 0.5, "mean of 00:00 and 01:00");
    }

    #[test]
    fn local_days_follow_dst() {
        // Europe/London 2024-03-31 has 23 hours: 46 half-hour slots.
        let tz: Tz = "Europe/London".parse().unwrap();
        let g = grid(3, 1800, 1_711_756_800); // 2024-03-30T00:00Z = local midnight (GMT)
        let c = Calendar::new(g, tz, Vec::new());
        assert_eq!(c.days[1].n_slots, 46);
        assert_eq!(c.days[0].n_slots, 48);
        assert_eq!(c.minute_start[48 + 2], 120, "01:00 UTC is 02:00 BST");
        assert!(c.in_daily_window(0, 23 * 60, 8 * 60));
        assert!(!c.in_daily_window(0, 60, 60));
        assert_eq!(c.weekday[0], 5, "2024-03-30 is a Saturday");
        assert_eq!(c.slot_at(0, 60.0), 2.0);
        // A window opening at noon: local 01:00 of its first day lies before it.
        let noon = grid(2, 1800, 1_711_756_800 + 12 * 3600);
        assert_eq!(Calendar::new(noon, tz, Vec::new()).slot_at(0, 60.0), -22.0);
    }
}
