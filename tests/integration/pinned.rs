//! Pinned outputs: `run` and `balance` on the committed sample region and `drop` on a regional
//! series this test writes (a formula, no randomness), each reduced to a hash of its output
//! files. A refactoring must leave these unchanged; a deliberate change of what a command
//! computes updates them (run with `GRIDSLEUTH_PRINT_PINS=1` to print the new values).

use std::fmt::Write as _;
use std::path::Path;

use crate::support::{arg, run_raw, sample};

/// FNV-1a, 64 bit: stable across Rust versions and platforms (std's hasher is not promised to be).
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// `file hash` lines of `files` in `dir`.
fn pins(dir: &Path, files: &[&str]) -> String {
    let mut s = String::new();
    for f in files {
        let bytes = std::fs::read(dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        writeln!(s, "{f} {:016x}", fnv1a(&bytes)).unwrap();
    }
    s
}

fn check(what: &str, got: &str, want: &str) {
    if std::env::var_os("GRIDSLEUTH_PRINT_PINS").is_some() {
        eprintln!("{what}:\n{got}");
    }
    assert_eq!(
        got, want,
        "{what}: the outputs changed. If that is intended (what the command computes changed), \
         update the pins; a refactoring must not change them"
    );
}

#[test]
fn run_on_the_sample_region_is_pinned() {
    let dir = tempfile::tempdir().unwrap();
    let o = arg(dir.path());
    let (code, _, err) = run_raw(&[
        "run",
        "-q",
        "--no-progress",
        "--config",
        &sample("region.toml"),
        "-o",
        &o,
    ]);
    assert_eq!(code, 0, "{err}");
    let got = pins(
        dir.path(),
        &[
            "scores.csv",
            "suspects.csv",
            "registered_miners.csv",
            "data_quality.csv",
            "features.parquet",
            "feeders.csv",
            "balance_daily.csv",
        ],
    );
    check("run", &got, RUN_PINS);
}

#[test]
fn balance_on_the_sample_region_is_pinned() {
    let dir = tempfile::tempdir().unwrap();
    let o = arg(dir.path());
    let (code, _, err) = run_raw(&[
        "balance",
        "-q",
        "--no-progress",
        "--config",
        &sample("region.toml"),
        "-o",
        &o,
    ]);
    assert_eq!(code, 0, "{err}");
    let got = pins(
        dir.path(),
        &[
            "feeders.csv",
            "balance_daily.csv",
            "balance.json",
            "data_quality.csv",
        ],
    );
    check("balance", &got, BALANCE_PINS);
}

/// Two regions, hourly, 2021-01-01 .. 2021-05-20 (140 days): a daily and weekly rhythm, a
/// temperature response, a deterministic wobble, and North 1.5 MW lower from 2021-04-01.
fn write_regional_series(dir: &Path) -> (String, String) {
    let mut csv = String::from("timestamp,North,South,temperature\n");
    let start = chrono::NaiveDate::from_ymd_opt(2021, 1, 1).unwrap();
    let mut wobble: u64 = 12_345;
    for day in 0..140_i64 {
        let date = start + chrono::Duration::days(day);
        let weekend = matches!(
            chrono::Datelike::weekday(&date),
            chrono::Weekday::Sat | chrono::Weekday::Sun
        );
        for hour in 0..24 {
            wobble = wobble
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let noise = ((wobble >> 33) % 1000) as f64 / 1000.0 - 0.5;
            let t = 8.0
                + 10.0 * (std::f64::consts::TAU * (day as f64 - 20.0) / 365.0).sin()
                + 4.0 * (std::f64::consts::TAU * (f64::from(hour) - 9.0) / 24.0).sin();
            let daily = 3.0 * (std::f64::consts::TAU * (f64::from(hour) - 14.0) / 24.0).sin();
            let base = 30.0 + daily - if weekend { 2.0 } else { 0.0 } - 0.15 * t + noise;
            let north = base - if day >= 90 { 1.5 } else { 0.0 };
            let south = base * 0.8 + 0.5 * noise;
            writeln!(csv, "{date}T{hour:02}:00:00,{north:.3},{south:.3},{t:.2}").unwrap();
        }
    }
    let load = dir.join("load.csv");
    std::fs::write(&load, csv).unwrap();
    let events = dir.join("events.csv");
    std::fs::write(&events, "date,region,label\n2021-04-01,North,raid\n").unwrap();
    (arg(&load), arg(&events))
}

#[test]
fn drop_on_a_written_regional_series_is_pinned() {
    let dir = tempfile::tempdir().unwrap();
    let (load, events) = write_regional_series(dir.path());
    let out = dir.path().join("out");
    let (code, stdout, err) = run_raw(&[
        "drop",
        "--load",
        &load,
        "--events",
        &events,
        "--value-cols",
        "North",
        "South",
        "--temp-col",
        "temperature",
        "--control",
        "South",
        "-o",
        &arg(&out),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("North"), "{stdout}");
    let got = pins(&out, &["drop_estimates.csv", "drop_daily.csv", "drop.json"]);
    check("drop", &got, DROP_PINS);
}

// Run pins: the detection of issue 12 as of its latest scoring change (segmented floor wander,
// off days, stepped small floors, cluster evidence off, flat lines); drop as at 4429cb5, before
// the issue-8 refactoring, and unchanged by the refactoring; feeders.csv, balance_daily.csv and
// balance.json re-pinned by issue 15 (each feeder's loss curve fitted: new columns, and the
// sample feeder's rig measured as 18.2 kW instead of 17.4 kW under the fixed model).
const RUN_PINS: &str = "\
scores.csv 26e0ccdddea4eff1
suspects.csv a6a71e6674f1a335
registered_miners.csv 31b4f2ccf45810d8
data_quality.csv f7bafa2da96a3a26
features.parquet 62b0fbe6ce61b775
feeders.csv c380576dc5fae788
balance_daily.csv 3efa9bde7776e11a
";
const BALANCE_PINS: &str = "\
feeders.csv c380576dc5fae788
balance_daily.csv 3efa9bde7776e11a
balance.json cb4fae20805aba59
data_quality.csv f7bafa2da96a3a26
";
const DROP_PINS: &str = "\
drop_estimates.csv 1e572f8c48ff5b99
drop_daily.csv 45d352120d35e303
drop.json 28c8cd14d3fe2db8
";
