//! Detection on homes it was not tuned to (issue 12): local time per meter, mixed intervals,
//! outages, rigs that add devices, night rigs beside storage heating without weather, and spans
//! in words. Every region here is written by a small seeded generator of household load (a
//! floor, cycling fridge, morning and evening peaks in local time, appliance spikes, a daily
//! factor), so the tests know the answer; `gridsleuth run` is run on the CSV files as a user
//! would.

use std::fmt::Write as _;
use std::path::Path;

use chrono::{TimeZone, Timelike};
use chrono_tz::Tz;

use crate::support::run_raw;

/// A deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

const MIN15: i64 = 900;

/// One meter's 15-minute series (kW per slot) from `start` (UTC seconds) for `days` days.
struct Series {
    id: String,
    start: i64,
    kw: Vec<f64>,
}

/// A household's load in kW per 15 minutes, its daily rhythm in local time `tz`.
fn household(seed: u64, tz: Tz, start: i64, days: usize) -> Vec<f64> {
    let mut r = Rng::new(seed);
    let floor = 0.12 + 0.15 * r.next();
    let evening = 0.6 + 1.2 * r.next();
    let n = days * 96;
    let mut day_factor = 1.0;
    (0..n)
        .map(|s| {
            let t = start + s as i64 * MIN15;
            let local = tz.timestamp_opt(t, 0).unwrap();
            let h = f64::from(local.hour()) + f64::from(local.minute()) / 60.0;
            if s % 96 == 0 {
                day_factor = 0.75 + 0.5 * r.next();
            }
            let fridge = if r.next() < 0.4 { 0.09 } else { 0.0 };
            let morning = if (6.5..9.0).contains(&h) {
                0.5 * r.next()
            } else {
                0.0
            };
            let eve = if (17.0..22.5).contains(&h) {
                evening * (0.5 + r.next())
            } else {
                0.0
            };
            let spike = if (7.0..23.0).contains(&h) && r.next() < 0.03 {
                2.0
            } else {
                0.0
            };
            floor + fridge + day_factor * (morning + eve) + spike
        })
        .collect()
}

/// Adds `kw` with 2% noise where `on(slot, local hour)` holds.
fn add_rig(series: &mut [f64], seed: u64, tz: Tz, start: i64, on: impl Fn(usize, f64) -> f64) {
    let mut r = Rng::new(seed ^ 0xABCD);
    for (s, v) in series.iter_mut().enumerate() {
        let t = start + s as i64 * MIN15;
        let local = tz.timestamp_opt(t, 0).unwrap();
        let h = f64::from(local.hour()) + f64::from(local.minute()) / 60.0;
        let kw = on(s, h);
        if kw > 0.0 {
            *v += kw * (1.0 + 0.02 * (2.0 * r.next() - 1.0));
        }
    }
}

/// Writes `meter_id,timestamp,kwh` at `minutes` per reading (15-minute energy summed).
fn write_readings(path: &Path, meters: &[&Series], minutes: &[usize]) {
    let mut out = String::from("meter_id,timestamp,kwh\n");
    for (m, &mins) in meters.iter().zip(minutes) {
        let k = mins / 15;
        for (j, chunk) in m.kw.chunks(k).enumerate() {
            let t = m.start + (j * mins * 60) as i64;
            let ts = chrono::DateTime::from_timestamp(t, 0).unwrap();
            let kwh: f64 = chunk.iter().map(|kw| kw * 0.25).sum();
            writeln!(out, "{},{},{kwh:.4}", m.id, ts.format("%Y-%m-%dT%H:%M:%SZ")).unwrap();
        }
    }
    std::fs::write(path, out).unwrap();
}

/// `meter_id,feeder_id,tariff,lat,lon` for every meter.
fn write_meters(path: &Path, ids: &[&str], lat_lon: Option<(f64, f64)>) {
    let mut out = String::from("meter_id,feeder_id,tariff,lat,lon\n");
    for id in ids {
        let (lat, lon) = lat_lon.map_or((String::new(), String::new()), |(a, b)| {
            (a.to_string(), b.to_string())
        });
        writeln!(out, "{id},F1,residential,{lat},{lon}").unwrap();
    }
    std::fs::write(path, out).unwrap();
}

/// Runs `gridsleuth run` and returns scores.csv rows keyed by meter id and the run directory.
fn run(dir: &Path, readings: &Path, meters: Option<&Path>) -> Vec<csv::StringRecord> {
    let mut argv = vec![
        "run".to_string(),
        "-q".into(),
        "--no-progress".into(),
        "-r".into(),
        readings.to_string_lossy().into_owned(),
        "-o".into(),
        dir.to_string_lossy().into_owned(),
    ];
    if let Some(m) = meters {
        argv.extend(["--meters".into(), m.to_string_lossy().into_owned()]);
    }
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let (code, out, err) = run_raw(&argv);
    assert_eq!(code, 0, "run failed: {out}\n{err}");
    csv::Reader::from_path(dir.join("scores.csv"))
        .unwrap()
        .records()
        .map(|r| r.unwrap())
        .collect()
}

/// (score, rank, flagged, onset, top_reason, tz) of `id`.
fn row<'a>(
    rows: &'a [csv::StringRecord],
    id: &str,
) -> (f64, usize, bool, &'a str, &'a str, &'a str) {
    let r = rows
        .iter()
        .find(|r| &r[0] == id)
        .unwrap_or_else(|| panic!("{id} scored"));
    (
        r[1].parse().unwrap(),
        r[2].parse().unwrap(),
        &r[3] == "true",
        &r[6],
        &r[9],
        &r[10],
    )
}

fn utc(s: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp()
}

/// One household `id` in zone `tz` from `start` (a rig is added on top by the test).
fn home(id: &str, seed: u64, tz: Tz, start: i64, days: usize) -> Series {
    Series {
        id: id.into(),
        start,
        kw: household(seed, tz, start, days),
    }
}

/// Homes `H00..` in zone `tz` from `start`.
fn homes(n: usize, tz: Tz, start: i64, days: usize, seed: u64) -> Vec<Series> {
    (0..n)
        .map(|i| home(&format!("H{i:02}"), seed + i as u64, tz, start, days))
        .collect()
}

#[test]
fn sydney_night_rig_given_in_utc_is_found_with_its_local_onset() {
    let tmp = keep_tmp();
    let tz: Tz = "Australia/Sydney".parse().unwrap();
    // Local midnight of 2024-03-01 in Sydney (UTC+11): 2024-02-29T13:00Z. 28 days, before
    // the April DST change.
    let start = utc("2024-02-29T13:00:00Z");
    let days = 28;
    let mut all = homes(12, tz, start, days, 100);
    let mut rig = home("R1", 999, tz, start, days);
    // 3.3 kW from 21:30 to 07:00 local, from the night of 2024-03-10 (local) on.
    let onset = utc("2024-03-10T10:30:00Z"); // 21:30 local
    add_rig(&mut rig.kw, 1, tz, start, |s, h| {
        let t = start + s as i64 * MIN15;
        if t >= onset && !(7.0..21.5).contains(&h) {
            3.3
        } else {
            0.0
        }
    });
    all.push(rig);
    let refs: Vec<&Series> = all.iter().collect();
    let readings = tmp.path().join("readings.csv");
    write_readings(&readings, &refs, &vec![30; refs.len()]);
    let ids: Vec<&str> = all.iter().map(|s| s.id.as_str()).collect();
    let meters = tmp.path().join("meters.csv");
    write_meters(&meters, &ids, Some((-33.87, 151.21)));
    let rows = run(&tmp.path().join("run"), &readings, Some(&meters));
    let (score, rank, flagged, onset_date, reason, zone) = row(&rows, "R1");
    assert_eq!(zone, "Australia/Sydney", "zone from lat/lon");
    assert!(
        flagged && rank == 1,
        "night rig: score {score}, rank {rank}: {reason}"
    );
    assert!(reason.contains("every night"), "{reason}");
    // Its first full night on is local 2024-03-11 00:00-06:00 (it began at 21:30 on the 10th);
    // in UTC those hours are 13:00-19:00 of the 10th.
    assert!(
        ["2024-03-10", "2024-03-11"].contains(&onset_date),
        "onset {onset_date} in local dates"
    );
    for h in ids.iter().filter(|i| i.starts_with('H')) {
        assert!(!row(&rows, h).2, "{h} flagged");
    }
    // The report draws the suspect in its own zone too.
    let data = gridsleuth::report::data::read_report_data(&tmp.path().join("run")).unwrap();
    let r1 = data.suspects.iter().find(|s| s.meter_id == "R1").unwrap();
    assert_eq!(r1.tz.as_deref(), Some("Australia/Sydney"));
    // The same readings judged in UTC (no coordinates, no --tz): the rig runs 10:30-20:00 UTC,
    // a daytime load to a UTC clock, and the night form cannot see it.
    write_meters(&meters, &ids, None);
    let rows_utc = run(&tmp.path().join("run-utc"), &readings, Some(&meters));
    let (score_utc, ..) = row(&rows_utc, "R1");
    assert!(score_utc < score, "UTC {score_utc} vs local {score}");
}

#[test]
fn the_same_home_at_15_30_and_60_minutes_scores_alike() {
    let tmp = keep_tmp();
    let tz = chrono_tz::UTC;
    let start = utc("2024-01-08T00:00:00Z");
    let days = 28;
    let hs = homes(10, tz, start, days, 200);
    let mut base = household(777, tz, start, days);
    // Two 3.25 kW devices from day 9, 14:00.
    add_rig(&mut base, 2, tz, start, |s, _| {
        if s >= 9 * 96 + 56 {
            6.5
        } else {
            0.0
        }
    });
    let mut scores = Vec::new();
    for mins in [15usize, 30, 60] {
        let rig = Series {
            id: "R".into(),
            start,
            kw: base.clone(),
        };
        let mut refs: Vec<&Series> = hs.iter().collect();
        refs.push(&rig);
        let readings = tmp.path().join(format!("r{mins}.csv"));
        write_readings(&readings, &refs, &vec![mins; refs.len()]);
        let rows = run(&tmp.path().join(format!("run{mins}")), &readings, None);
        let (score, rank, flagged, onset, ..) = row(&rows, "R");
        assert!(
            flagged && rank == 1,
            "{mins} min: score {score} rank {rank}"
        );
        assert_eq!(onset, "2024-01-17", "{mins} min");
        scores.push(score);
    }
    let spread = scores.iter().cloned().fold(f64::MIN, f64::max)
        - scores.iter().cloned().fold(f64::MAX, f64::min);
    assert!(spread <= 0.1, "scores at 15/30/60 min: {scores:?}");
    // All three in one region of 30-minute homes: none is quarantined, all score the same.
    let rigs: Vec<Series> = ["R15", "R30", "R60"]
        .iter()
        .map(|id| Series {
            id: (*id).into(),
            start,
            kw: base.clone(),
        })
        .collect();
    let mut refs: Vec<&Series> = hs.iter().collect();
    refs.extend(rigs.iter());
    let mut mins = vec![30; hs.len()];
    mins.extend([15, 30, 60]);
    let readings = tmp.path().join("mixed.csv");
    write_readings(&readings, &refs, &mins);
    let rows = run(&tmp.path().join("mixed"), &readings, None);
    let s: Vec<f64> = ["R15", "R30", "R60"]
        .iter()
        .map(|id| row(&rows, id).0)
        .collect();
    assert!(
        s.iter().all(|x| (x - s[0]).abs() < 0.02 && *x >= 0.5),
        "mixed region: {s:?}"
    );
}

#[test]
fn a_rig_switched_by_the_day_at_six_pm_is_found_from_its_first_run() {
    let tmp = keep_tmp();
    let tz = chrono_tz::UTC;
    let start = utc("2024-01-01T00:00:00Z");
    let days = 35;
    let hs = homes(12, tz, start, days, 700);
    let mut rig = home("RSWITCH", 777, tz, start, days);
    // 2.5 kW for 24 hours from 18:00, every other day from the evening of day 20
    // (2024-01-21): no calendar day is ever whole, and it is off half its days.
    add_rig(&mut rig.kw, 5, tz, start, |s, _| {
        let from_onset = s as i64 - (20 * 96 + 72);
        if from_onset >= 0 && (from_onset / 96) % 2 == 0 {
            2.5
        } else {
            0.0
        }
    });
    let mut refs: Vec<&Series> = hs.iter().collect();
    refs.push(&rig);
    let readings = tmp.path().join("readings.csv");
    write_readings(&readings, &refs, &vec![30; refs.len()]);
    let rows = run(&tmp.path().join("run"), &readings, None);
    let (score, rank, flagged, onset, reason, _) = row(&rows, "RSWITCH");
    assert!(
        flagged && rank == 1,
        "switched rig: score {score}, rank {rank}: {reason}"
    );
    assert!(reason.contains("on some days"), "{reason}");
    assert_eq!(onset, "2024-01-21", "{reason}");
    for h in hs.iter().map(|s| s.id.as_str()) {
        assert!(!row(&rows, h).2, "{h} flagged");
    }
}

#[test]
fn a_rig_with_ten_outages_scores_as_high_as_without() {
    let tmp = keep_tmp();
    let tz = chrono_tz::UTC;
    let start = utc("2024-02-05T00:00:00Z");
    let days = 30;
    let hs = homes(10, tz, start, days, 300);
    let home = household(555, tz, start, days);
    let mut clean = Series {
        id: "RCLEAN".into(),
        start,
        kw: home.clone(),
    };
    add_rig(&mut clean.kw, 3, tz, start, |_, _| 3.3);
    // Ten outages of 1-6 hours (the rig at 0 W, the household on), then the same level.
    let mut r = Rng::new(42);
    let outages: Vec<(usize, usize)> = (0..10)
        .map(|k| {
            let at = (k * 3 + 1) * 96 + (r.next() * 60.0) as usize;
            (at, at + 4 + (r.next() * 20.0) as usize)
        })
        .collect();
    let mut out = Series {
        id: "ROUT".into(),
        start,
        kw: home,
    };
    add_rig(&mut out.kw, 3, tz, start, |s, _| {
        if outages.iter().any(|&(a, b)| (a..b).contains(&s)) {
            0.0
        } else {
            3.3
        }
    });
    let mut refs: Vec<&Series> = hs.iter().collect();
    refs.extend([&clean, &out]);
    let readings = tmp.path().join("readings.csv");
    write_readings(&readings, &refs, &vec![30; refs.len()]);
    let rows = run(&tmp.path().join("run"), &readings, None);
    let (s_clean, _, f_clean, ..) = row(&rows, "RCLEAN");
    let (s_out, _, f_out, _, reason, _) = row(&rows, "ROUT");
    assert!(f_clean && f_out, "both flagged: {s_clean} {s_out}");
    assert!(
        s_out >= s_clean - 0.05,
        "with outages {s_out}, without {s_clean}: {reason}"
    );
}

#[test]
fn a_rig_that_adds_devices_reports_both_steps() {
    let tmp = keep_tmp();
    let tz = chrono_tz::UTC;
    let start = utc("2024-03-04T00:00:00Z");
    let days = 28;
    let hs = homes(10, tz, start, days, 400);
    let mut rig = home("R2", 4242, tz, start, days);
    // Two S19 (3.25 kW) from 2024-03-09 11:00, two more from 2024-03-19 15:00.
    add_rig(&mut rig.kw, 4, tz, start, |s, _| {
        let first = 5 * 96 + 44;
        let second = 15 * 96 + 60;
        if s >= second {
            13.0
        } else if s >= first {
            6.5
        } else {
            0.0
        }
    });
    let mut refs: Vec<&Series> = hs.iter().collect();
    refs.push(&rig);
    let readings = tmp.path().join("readings.csv");
    write_readings(&readings, &refs, &vec![30; refs.len()]);
    let dir = tmp.path().join("run");
    let rows = run(&dir, &readings, None);
    let (score, rank, flagged, onset, reason, _) = row(&rows, "R2");
    assert!(flagged && rank == 1, "{score} {rank}");
    assert_eq!(onset, "2024-03-09");
    assert!(
        reason.contains("2024-03-09") && reason.contains("2024-03-19"),
        "both steps dated: {reason}"
    );
    // The rig's size is the last level: four devices.
    let est: f64 = rows.iter().find(|r| &r[0] == "R2").unwrap()[4]
        .parse()
        .unwrap();
    assert!((est - 13.0).abs() < 1.3, "rig kW {est}");
}

#[test]
fn a_night_rig_ranks_above_storage_heated_homes_without_weather() {
    let tmp = keep_tmp();
    let tz: Tz = "Europe/London".parse().unwrap();
    let start = utc("2024-01-08T00:00:00Z");
    let days = 28;
    // A shared cold signal (the weather of the street), day by day.
    let mut w = Rng::new(7);
    let mut cold = 0.5;
    let cold_by_day: Vec<f64> = (0..days)
        .map(|_| {
            cold = (cold + 0.35 * (w.next() - 0.5)).clamp(0.0, 1.0);
            cold
        })
        .collect();
    // Twelve storage-heated homes: a 3-6 kW element charging up to 06:00 local for 2-8 hours,
    // as long as the cold asks (each home's own share of it), plus the household.
    let mut all: Vec<Series> = (0..12)
        .map(|i| {
            let mut r = Rng::new(900 + i);
            let element = 3.0 + 3.0 * r.next();
            let mut kw = household(600 + i, tz, start, days);
            let hours: Vec<f64> = cold_by_day
                .iter()
                .map(|c| 2.0 + 6.0 * (c * (0.85 + 0.3 * r.next())).min(1.0))
                .collect();
            add_rig(&mut kw, 50 + i, tz, start, |s, h| {
                // The night that ends at 06:00 on local day d charges by day d's cold.
                let d = (s / 96).min(days - 1);
                let from = 6.0 - hours[d];
                let on = if from >= 0.0 {
                    (from..6.0).contains(&h)
                } else {
                    h < 6.0 || h >= 24.0 + from
                };
                if on {
                    element
                } else {
                    0.0
                }
            });
            Series {
                id: format!("S{i:02}"),
                start,
                kw,
            }
        })
        .collect();
    // A 3.3 kW rig on the night tariff, 00:30-07:30 local, every night.
    let mut rig = home("RN", 6000, tz, start, days);
    add_rig(&mut rig.kw, 5, tz, start, |_, h| {
        if (0.5..7.5).contains(&h) {
            3.3
        } else {
            0.0
        }
    });
    all.push(rig);
    let refs: Vec<&Series> = all.iter().collect();
    let readings = tmp.path().join("readings.csv");
    write_readings(&readings, &refs, &vec![30; refs.len()]);
    let ids: Vec<&str> = all.iter().map(|s| s.id.as_str()).collect();
    let meters = tmp.path().join("meters.csv");
    write_meters(&meters, &ids, Some((51.5, -0.12)));
    let rows = run(&tmp.path().join("run"), &readings, Some(&meters));
    let (score, rank, flagged, _, reason, _) = row(&rows, "RN");
    assert!(
        flagged && rank == 1,
        "night rig score {score}, rank {rank}: {reason}"
    );
    for id in ids.iter().filter(|i| i.starts_with('S')) {
        let (s, ..) = row(&rows, id);
        assert!(s < score, "storage heater {id} {s} vs rig {score}");
    }
}

#[test]
fn reasons_state_the_meters_own_span() {
    let tmp = keep_tmp();
    let tz = chrono_tz::UTC;
    let start = utc("2024-05-06T00:00:00Z");
    let days = 35;
    let mut all = homes(8, tz, start, days, 500);
    // One home read a year earlier: the run's grid spans more than a year.
    let early = utc("2023-05-01T00:00:00Z");
    all.push(Series {
        id: "OLD".into(),
        start: early,
        kw: household(501, tz, early, days),
    });
    let mut rig = home("RF", 502, tz, start, days);
    add_rig(&mut rig.kw, 6, tz, start, |_, _| 3.0);
    all.push(rig);
    let refs: Vec<&Series> = all.iter().collect();
    let readings = tmp.path().join("readings.csv");
    write_readings(&readings, &refs, &vec![30; refs.len()]);
    let dir = tmp.path().join("run");
    let rows = run(&dir, &readings, None);
    let (score, _, flagged, onset, reason, _) = row(&rows, "RF");
    assert!(flagged, "{score}: {reason}");
    assert!(reason.contains("all its 35 days"), "{reason}");
    assert_eq!(onset, "2024-05-06", "running from its own first reading");
}

/// A temporary directory, kept when GRIDSLEUTH_KEEP_TEST_DIRS is set (to look at a failure).
fn keep_tmp() -> tempfile::TempDir {
    let keep = std::env::var_os("GRIDSLEUTH_KEEP_TEST_DIRS").is_some();
    let t = tempfile::Builder::new()
        .prefix("gs-detection")
        .disable_cleanup(keep)
        .tempdir()
        .unwrap();
    if keep {
        eprintln!("kept {}", t.path().display());
    }
    t
}
