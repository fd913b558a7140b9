//! The local calendar of a grid: for each slot, its local day, hour and weekday in the
//! configured time zone. Daily rhythm, night/day contrasts and onset dates are about local time
//! (a rig has no rhythm; households wake at 07:00 local, whatever UTC says).
//!
//! Built once per run (one entry per slot); kernels index it, never call the tz database.

use chrono::{Datelike, TimeZone, Timelike};
use chrono_tz::Tz;

use crate::grid::TimeGrid;

/// Local night (rigs on a night tariff, storage heaters): 00:00 to 06:00.
pub const NIGHT_HOURS: std::ops::Range<u32> = 0..6;
/// Local day (occupied homes, business hours): 10:00 to 18:00.
pub const DAY_HOURS: std::ops::Range<u32> = 10..18;

/// Class bit: the slot is in local night hours.
pub const NIGHT: u8 = 1;
/// Class bit: the slot is in local day hours.
pub const DAY: u8 = 2;
/// Class bit: the slot is on a Saturday or Sunday.
pub const WEEKEND: u8 = 4;

/// Per-slot local calendar.
#[derive(Debug, Clone)]
pub struct Calendar {
    /// Local day index of each slot (0 = the first local day touched by the grid).
    pub day: Vec<u32>,
    /// Local hour of each slot's start (0..24).
    pub hour: Vec<u8>,
    /// Local weekday of each slot (0 = Monday).
    pub weekday: Vec<u8>,
    /// Per-slot class bits ([`NIGHT`], [`DAY`], [`WEEKEND`]), so hot loops test a byte.
    pub class: Vec<u8>,
    /// Number of local days.
    pub n_days: usize,
    /// Local date of each day index, `YYYY-MM-DD`.
    pub dates: Vec<String>,
    /// Weekday of each day index (0 = Monday).
    pub day_weekday: Vec<u8>,
    /// Slots per full day (48 for half-hourly).
    pub slots_per_day: usize,
}

impl Calendar {
    pub fn new(grid: &TimeGrid, tz: Tz) -> Self {
        let n = grid.n_slots;
        let mut day = Vec::with_capacity(n);
        let mut hour = Vec::with_capacity(n);
        let mut weekday = Vec::with_capacity(n);
        let mut dates: Vec<String> = Vec::new();
        let mut day_weekday = Vec::new();
        let mut last_date = None;
        for s in 0..n {
            let t = grid.slot_start(s);
            let local = tz.timestamp_opt(t, 0).single().map(|d| d.naive_local());
            let local = local.unwrap_or_else(|| {
                chrono::DateTime::from_timestamp(t, 0)
                    .unwrap_or_default()
                    .naive_utc()
            });
            let date = local.date();
            if last_date != Some(date) {
                last_date = Some(date);
                dates.push(date.format("%Y-%m-%d").to_string());
                day_weekday.push(date.weekday().num_days_from_monday() as u8);
            }
            day.push((dates.len() - 1) as u32);
            hour.push(local.hour() as u8);
            weekday.push(date.weekday().num_days_from_monday() as u8);
        }
        let class = hour
            .iter()
            .zip(&weekday)
            .map(|(&h, &w)| {
                let h = u32::from(h);
                (if NIGHT_HOURS.contains(&h) { NIGHT } else { 0 })
                    | (if DAY_HOURS.contains(&h) { DAY } else { 0 })
                    | (if w >= 5 { WEEKEND } else { 0 })
            })
            .collect();
        Calendar {
            day,
            hour,
            weekday,
            class,
            n_days: dates.len(),
            dates,
            day_weekday,
            slots_per_day: grid.slots_per_day(),
        }
    }

    /// The calendar of slots `range` alone: day indices renumbered from the range's first day,
    /// dates and weekdays of those days only (a meter's own span of a longer grid).
    pub fn slice(&self, range: std::ops::Range<usize>) -> Calendar {
        let range = range.start.min(self.day.len())..range.end.min(self.day.len());
        if range.is_empty() {
            return Calendar {
                day: Vec::new(),
                hour: Vec::new(),
                weekday: Vec::new(),
                class: Vec::new(),
                n_days: 0,
                dates: Vec::new(),
                day_weekday: Vec::new(),
                slots_per_day: self.slots_per_day,
            };
        }
        let d0 = self.day[range.start];
        let d1 = self.day[range.end - 1] + 1;
        let days = d0 as usize..d1 as usize;
        Calendar {
            day: self.day[range.clone()].iter().map(|d| d - d0).collect(),
            hour: self.hour[range.clone()].to_vec(),
            weekday: self.weekday[range.clone()].to_vec(),
            class: self.class[range].to_vec(),
            n_days: days.len(),
            dates: self.dates[days.clone()].to_vec(),
            day_weekday: self.day_weekday[days].to_vec(),
            slots_per_day: self.slots_per_day,
        }
    }

    /// The slot range of each local day.
    pub fn day_ranges(&self) -> Vec<std::ops::Range<usize>> {
        let mut out = Vec::with_capacity(self.n_days);
        let mut start = 0;
        for s in 1..=self.day.len() {
            if s == self.day.len() || self.day[s] != self.day[start] {
                out.push(start..s);
                start = s;
            }
        }
        out
    }

    #[inline]
    pub fn is_night(&self, s: usize) -> bool {
        self.class[s] & NIGHT != 0
    }

    #[inline]
    pub fn is_day(&self, s: usize) -> bool {
        self.class[s] & DAY != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn london_summer_time_shifts_local_days() {
        // 2024-06-30T23:00Z is 2024-07-01 00:00 in London.
        let grid = TimeGrid {
            start: 1_719_788_400,
            interval_secs: 1800,
            n_slots: 96,
        };
        let c = Calendar::new(&grid, chrono_tz::Europe::London);
        assert_eq!(c.n_days, 2);
        assert_eq!(c.dates[0], "2024-07-01");
        assert_eq!(c.hour[0], 0);
        assert_eq!(c.day_ranges(), vec![0..48, 48..96]);
        assert!(c.is_night(0) && !c.is_night(12) && c.is_day(20));
        assert_eq!(c.day_weekday[0], 0, "2024-07-01 was a Monday");
    }

    #[test]
    fn partial_first_day_in_utc() {
        let grid = TimeGrid {
            start: 1_719_788_400,
            interval_secs: 1800,
            n_slots: 4,
        };
        let c = Calendar::new(&grid, chrono_tz::UTC);
        assert_eq!(c.dates, vec!["2024-06-30", "2024-07-01"]);
        assert_eq!(c.day_ranges(), vec![0..2, 2..4]);
    }
}
