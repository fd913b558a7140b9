//! Small generators of real-world layouts, so that the format tests run on files the project
//! writes itself (no third-party data in the repository):
//!
//! - [`london_style`]: five households in the layout of the Low Carbon London smart-meter files
//!   (`LCLid,tstp,energy(kWh/hh)`, values padded with spaces, a UTC clock), January 2013.
//! - [`zones`]: hourly load of three distribution zones with temperature for `gridsleuth drop`,
//!   in the layout of the UCI Tetouan file (`DateTime` as `MM/DD/YYYY HH:MM` with its mixed zero
//!   padding, column names with double spaces), 2017, weekday, holiday and temperature effects,
//!   and an optional drop injected into Zone 1.
//!
//! Both are deterministic (a seeded splitmix64; no dependency on a random-number crate's
//! stream). `data-samples/drop/zones_hourly_2017.csv` is [`zones`] with the committed seed and
//! drop; a test checks it, and `GRIDSLEUTH_BLESS=1 cargo test --release --test integration
//! generated` writes it again.

use std::fmt::Write as _;
use std::path::Path;

use chrono::{Datelike, Duration, NaiveDate};

use crate::support::{self, arg};

/// splitmix64: a tiny, fully specified generator.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1).
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// Household ids of [`london_style`] (outside the range of the real LCL ids, MAC000002 ..
/// MAC005567).
pub const LONDON_IDS: [&str; 5] = [
    "MAC900001",
    "MAC900002",
    "MAC900003",
    "MAC900004",
    "MAC900005",
];

/// The value [`london_style`] writes for MAC900003 at 2013-01-15 18:30 (a spot check).
pub const LONDON_SPOT: &str = " 0.107 ";

/// Writes five households, January 2013 half-hourly (31 x 48 readings each, no gaps), one file
/// per home named by its id, into `dir`; returns the quoted glob `dir/*.csv`. Each home has a
/// base load, a morning and an evening peak, weekend mornings, appliance spikes and noise.
pub fn london_style(dir: &Path) -> String {
    std::fs::create_dir_all(dir).unwrap();
    let start = NaiveDate::from_ymd_opt(2013, 1, 1).unwrap();
    for (h, id) in LONDON_IDS.iter().enumerate() {
        let mut rng = Rng::new(2013 + h as u64);
        let base = 0.08 + 0.03 * h as f64;
        let evening = 0.35 + 0.1 * h as f64;
        let mut text = String::from("LCLid,tstp,energy(kWh/hh)\n");
        for d in 0..31 {
            let date = start + Duration::days(d);
            let weekend = date.weekday().number_from_monday() >= 6;
            for k in 0..48 {
                let hour = k as f64 / 2.0;
                let bump = |c: f64, w: f64| (-((hour - c) / w).powi(2)).exp();
                let morning = if weekend {
                    bump(9.5, 1.5)
                } else {
                    bump(7.5, 1.0)
                };
                let mut v =
                    base + 0.2 * morning + evening * bump(19.0, 2.0) + 0.02 * rng.normal().abs();
                if rng.uniform() < 0.04 {
                    v += 0.3 + 0.5 * rng.uniform(); // kettle, oven, washing machine
                }
                let mut value = format!(" {} ", (v * 1000.0).round() / 1000.0);
                if *id == "MAC900003" && d == 14 && k == 37 {
                    value = LONDON_SPOT.into();
                }
                writeln!(
                    text,
                    "{id},{date} {:02}:{:02}:00,{value}",
                    k / 2,
                    k % 2 * 30
                )
                .unwrap();
            }
        }
        std::fs::write(dir.join(format!("{id}.csv")), text).unwrap();
    }
    arg(&dir.join("*.csv"))
}

/// The header of the Tetouan layout (note the double spaces in two names).
pub const ZONES_HEADER: &str = "DateTime,Temperature,Humidity,Wind Speed,Zone 1 Power Consumption,Zone 2  Power Consumption,Zone 3  Power Consumption";

/// Seed, drop and event date of the committed `data-samples/drop/zones_hourly_2017.csv`.
pub const ZONES_SEED: u64 = 11;
pub const ZONES_DROP_MW: f64 = 1.5;
pub const ZONES_EVENT: &str = "2017-03-15";

/// The `DateTime` text of the Tetouan file: zero-padded `MM/DD/YYYY HH:MM` on days 1-12 of a
/// month, unpadded `M/D/YYYY H:MM` on the others.
fn tetouan_datetime(date: NaiveDate, hour: u32) -> String {
    if date.day() <= 12 {
        format!("{}", date.format("%m/%d/%Y")) + &format!(" {hour:02}:00")
    } else {
        format!("{}/{}/{} {hour}:00", date.month(), date.day(), date.year())
    }
}

/// Hourly load of three zones, 2017-01-01 00:00 .. 2017-12-30 23:00 local (364 days), in kW,
/// with temperature, written to `path` in the Tetouan layout. Daily levels (MW): Zone 1 32,
/// Zone 2 21, Zone 3 18, scaled by weekday (Sunday -7%, Saturday -3%) and holidays (-10%, from
/// `data-samples/drop/holidays_morocco_2017.csv`), plus heating below 13 °C and cooling above
/// 24 °C (daily mean temperature, about 12 °C in January and 25 °C in August), a weather-spell noise common to the zones (AR(1), rho 0.6)
/// and a zone's own noise; an evening-peaked daily profile; `drop_mw` removed from Zone 1 from
/// local midnight of `from` on.
pub fn zones(path: &Path, seed: u64, drop_mw: f64, from: &str) {
    let holidays: Vec<NaiveDate> =
        std::fs::read_to_string(support::sample("drop/holidays_morocco_2017.csv"))
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| NaiveDate::parse_from_str(&l[..10], "%Y-%m-%d").unwrap())
            .collect();
    let from = NaiveDate::parse_from_str(from, "%Y-%m-%d").unwrap();
    let start = NaiveDate::from_ymd_opt(2017, 1, 1).unwrap();
    let base = [32.0, 21.0, 18.0];
    let heat = [0.15, 0.10, 0.08]; // MW per degree below 13 °C
    let cool = [0.60, 0.40, 0.35]; // MW per degree above 24 °C
    let profile = |h: f64| {
        0.78 + 0.45 * (-((h - 20.5) / 2.5_f64).powi(2)).exp()
            + 0.15 * (-((h - 12.5) / 3.0_f64).powi(2)).exp()
    };
    let mean_profile = (0..24).map(|h| profile(h as f64)).sum::<f64>() / 24.0;
    let mut rng = Rng::new(seed);
    let (mut spell, mut t_spell) = (0.0, 0.0);
    let mut text = String::from(ZONES_HEADER);
    text.push('\n');
    for d in 0..364 {
        let date = start + Duration::days(d);
        let doy = f64::from(date.ordinal());
        t_spell = 0.7 * t_spell + 0.8 * rng.normal();
        let t_mean = 18.5 + 6.5 * (std::f64::consts::TAU * (doy - 120.0) / 365.0).sin() + t_spell;
        spell = 0.6 * spell + 0.35 * rng.normal();
        let wd = match date.weekday().number_from_monday() {
            7 => 0.93,
            6 => 0.97,
            _ => 1.0,
        };
        let hol = if holidays.contains(&date) { 0.9 } else { 1.0 };
        let mut level = [0.0; 3];
        for z in 0..3 {
            level[z] = base[z] * wd * hol
                + heat[z] * (13.0 - t_mean).max(0.0)
                + cool[z] * (t_mean - 24.0).max(0.0)
                + spell * base[z] / base[0]
                + 0.2 * rng.normal();
            if z == 0 && date >= from {
                level[z] -= drop_mw;
            }
        }
        for h in 0..24 {
            let t = t_mean + 4.0 * (std::f64::consts::TAU * (h as f64 - 9.0) / 24.0).sin();
            let humidity = 72.0 - 1.5 * (t - t_mean) + 3.0 * rng.normal();
            let wind = 0.08 + 0.01 * rng.uniform();
            write!(
                text,
                "{},{t:.3},{humidity:.2},{wind:.3}",
                tetouan_datetime(date, h)
            )
            .unwrap();
            let p = profile(h as f64) / mean_profile;
            for lv in level {
                let kw = 1000.0 * lv * p * (1.0 + 0.005 * rng.normal());
                write!(text, ",{kw:.1}").unwrap();
            }
            text.push('\n');
        }
    }
    std::fs::write(path, text).unwrap();
}

#[test]
fn committed_drop_sample_is_the_generator_output() {
    let committed = support::repo().join("data-samples/drop/zones_hourly_2017.csv");
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("zones.csv");
    zones(&fresh, ZONES_SEED, ZONES_DROP_MW, ZONES_EVENT);
    if std::env::var_os("GRIDSLEUTH_BLESS").is_some() {
        std::fs::copy(&fresh, &committed).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&fresh).unwrap();
    let have = std::fs::read_to_string(&committed).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (GRIDSLEUTH_BLESS=1 writes it)",
            committed.display()
        )
    });
    let (want, have): (Vec<&str>, Vec<&str>) = (want.lines().collect(), have.lines().collect());
    assert_eq!(want.len(), have.len(), "line count");
    // Numbers may differ in the last digit where a platform's libm rounds differently.
    for (i, (w, h)) in want.iter().zip(&have).enumerate() {
        for (a, b) in w.split(',').zip(h.split(',')) {
            let same = a == b
                || matches!((a.parse::<f64>(), b.parse::<f64>()), (Ok(x), Ok(y)) if (x - y).abs() <= 0.11);
            assert!(
                same,
                "line {}: {a:?} vs {b:?} (GRIDSLEUTH_BLESS=1 rewrites the sample)",
                i + 1
            );
        }
    }
}

#[test]
fn generated_layouts_look_like_the_real_ones() {
    let dir = tempfile::tempdir().unwrap();
    let glob = london_style(&dir.path().join("london"));
    assert!(glob.ends_with("*.csv"));
    let text = std::fs::read_to_string(dir.path().join("london/MAC900001.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("LCLid,tstp,energy(kWh/hh)"));
    let first = lines.next().unwrap();
    assert!(
        first.starts_with("MAC900001,2013-01-01 00:00:00, 0."),
        "{first}"
    );
    assert!(first.ends_with(' '), "padded: {first:?}");
    assert_eq!(text.lines().count(), 1 + 31 * 48);

    let z = dir.path().join("zones.csv");
    zones(&z, 1, 0.0, "2017-03-15");
    let text = std::fs::read_to_string(&z).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], ZONES_HEADER);
    assert_eq!(lines.len(), 1 + 364 * 24);
    assert!(lines[1].starts_with("01/01/2017 00:00,"), "{}", lines[1]);
    let jul28 = lines.iter().find(|l| l.starts_with("7/28/2017 7:00,"));
    assert!(jul28.is_some(), "unpadded dates after the 12th");
    assert!(lines.last().unwrap().starts_with("12/30/2017 23:00,"));
}
