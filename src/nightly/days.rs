//! The nightly's calendar days, one home: a day's name (`YYYY-MM-DD`) read back, the day
//! after, `n` days back, and where a local day starts in the site's zone. Inputs: dates,
//! day names, instants; outputs: dates and instants. Used by the window, the day cache,
//! retention and the case rows.

use chrono::{Days, NaiveDate, TimeZone};
use chrono_tz::Tz;

/// A day's name (`YYYY-MM-DD`, as folders, blocks and rows are named) read back.
pub fn parse_day(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

/// The day `n` days before `d` (`d` itself past the calendar's start).
pub fn sub_days(d: NaiveDate, n: u32) -> NaiveDate {
    d.checked_sub_days(Days::new(u64::from(n))).unwrap_or(d)
}

/// Local midnight of `day` in `tz`, as a UTC instant (the first instant of the day when
/// midnight falls in a DST gap).
pub fn day_start(day: NaiveDate, tz: Tz) -> i64 {
    let mut t = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    for _ in 0..4 {
        if let Some(d) = tz.from_local_datetime(&t).earliest() {
            return d.timestamp();
        }
        t += chrono::Duration::minutes(30);
    }
    tz.from_utc_datetime(&t).timestamp()
}

/// The local date of the instant `t`.
pub fn local_day(t: i64, tz: Tz) -> NaiveDate {
    tz.timestamp_opt(t, 0)
        .single()
        .map_or_else(NaiveDate::default, |d| d.date_naive())
}

/// The day after `d` (`d` itself at the calendar's end).
pub fn next_day(d: NaiveDate) -> NaiveDate {
    d.checked_add_days(Days::new(1)).unwrap_or(d)
}
