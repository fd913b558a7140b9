//! Tests on real third-party data, read from `../shared/data` beside the checkout (or
//! `$GRIDSLEUTH_SHARED_DIR/data`). The repository does not ship that data; each test returns
//! early with `SKIPPED: <test>: <reason>` on stderr when its folder is absent, and fails
//! instead when `GRIDSLEUTH_REQUIRE_SHARED=1` (`.ci/run` sets it when `../shared/data` exists).
//!
//! - London homes (Low Carbon London, `london-households/`): the five homes of January 2013
//!   the format tests used to ship load with options only, as do all 25 homes over 2013; rigs
//!   injected into the five rank first.
//! - NEM12 exports (`nem12-samples/`, from the R package gravitas): the two NEM12 files load
//!   with their quality flags, the wide retailer export with options only.
//! - Tetouan zones (UCI dataset 849, `tetouan-zones/`, 10-minute): the drop estimates the
//!   README documents, untouched and with 1.5 MW removed from Zone 1 from 2017-03-15.

use std::path::{Path, PathBuf};

use crate::grid_analysis::{assert_drop_recovered, f, with_drop, zone1_estimate};
use crate::support::{arg, counts, gridsleuth, ids, load, shared_data, ts, val};

/// The five homes and the month the repository used to carry as `data-samples/london/`.
const FIVE_HOMES: [&str; 5] = [
    "MAC000128",
    "MAC000131",
    "MAC000135",
    "MAC000140",
    "MAC000147",
];

/// Writes the January 2013 rows of [`FIVE_HOMES`] (unedited lines) into `dir`; returns the glob.
fn january_extract(homes: &Path, dir: &Path) -> String {
    std::fs::create_dir_all(dir).unwrap();
    for id in FIVE_HOMES {
        let text = std::fs::read_to_string(homes.join(format!("{id}.csv"))).unwrap();
        let mut lines = text.lines();
        let mut out = String::from(lines.next().unwrap());
        out.push('\n');
        for l in lines.filter(|l| {
            l.split(',')
                .nth(1)
                .is_some_and(|t| t.starts_with("2013-01"))
        }) {
            out.push_str(l);
            out.push('\n');
        }
        std::fs::write(dir.join(format!("{id}.csv")), out).unwrap();
    }
    arg(&dir.join("*.csv"))
}

const LONDON_COLS: [&str; 6] = [
    "--meter-col",
    "LCLid",
    "--time-col",
    "tstp",
    "--value-col",
    "energy(kWh/hh)",
];

#[test]
fn real_london_homes_load_with_options_only() {
    let Some(homes) = shared_data(
        "real_london_homes_load_with_options_only",
        "london-households",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let glob = january_extract(&homes, dir.path());
    let mut argv = vec!["-r", glob.as_str()];
    argv.extend_from_slice(&LONDON_COLS);
    let ing = load(&argv);
    assert_eq!(counts(&ing.quality), (7440, 7440, 0, 0));
    let m = &ing.matrix;
    assert_eq!(ids(m), FIVE_HOMES);
    assert_eq!(m.grid.start, ts("2013-01-01T00:00:00Z"));
    assert_eq!((m.grid.interval_secs, m.grid.n_slots), (1800, 1488));
    // Spot check: MAC000135 at 2013-01-15 18:30 is written " 0.107 " (padded).
    let text = std::fs::read_to_string(dir.path().join("MAC000135.csv")).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("MAC000135,2013-01-15 18:30:00,"))
        .expect("spot-check row");
    assert_eq!(line.rsplit(',').next(), Some(" 0.107 "));
    assert_eq!(val(m, "MAC000135", "2013-01-15T18:30:00Z"), 0.107f32);
    // The binary, flags as in the README.
    let run = gridsleuth(&argv);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json_counts("readings"), (7440, 7440, 0, 0));

    // All 25 homes over the whole of 2013, as published.
    let all = arg(&homes.join("*.csv"));
    let mut argv = vec!["-r", all.as_str()];
    argv.extend_from_slice(&LONDON_COLS);
    let ing = load(&argv);
    let (read, used, quarantined, dups) = counts(&ing.quality);
    assert_eq!(ing.quality.files().len(), 25);
    assert_eq!(ing.matrix.n_meters(), 25);
    assert_eq!(ing.matrix.grid.start, ts("2013-01-01T00:00:00Z"));
    assert_eq!(ing.matrix.grid.interval_secs, 1800);
    assert_eq!(
        (read, used, quarantined, dups),
        LONDON_ALL_COUNTS,
        "(read, used, quarantined, exact duplicates) of the 25 homes"
    );
}

/// (read, used, quarantined, exact duplicates) of the 25 London homes over 2013.
const LONDON_ALL_COUNTS: (u64, u64, u64, u64) = (349_595, 349_595, 0, 0);

#[test]
fn rigs_injected_into_real_london_homes_rank_first() {
    let Some(homes) = shared_data(
        "rigs_injected_into_real_london_homes_rank_first",
        "london-households",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let glob = january_extract(&homes, dir.path());
    crate::run::injected_rigs_rank_first(&glob);
}

fn utc(s: &str) -> i64 {
    ts(s)
}

#[test]
fn real_nem12_exports_load_with_their_flags() {
    let Some(dir) = shared_data("real_nem12_exports_load_with_their_flags", "nem12-samples") else {
        return;
    };
    let p = |f: &str| arg(&dir.join(f));

    // meter01: no 100/900 records, a blank first line, CRLF; 1034 days, 31 of them V with 91
    // 400 records, all A (with reason codes 79/89).
    let f01 = p("nem12_meter01.csv");
    let ing = load(&["-r", &f01, "--format", "nem12"]);
    assert_eq!(counts(&ing.quality), (1034 * 48, 1034 * 48, 0, 0));
    assert!(ing.quality.notes.is_empty(), "{:?}", ing.quality.notes);
    let m = &ing.matrix;
    assert_eq!(ids(m), ["M1"]);
    // Brisbane (UTC+10) midnight of 2017-11-24 to the end of 2020-09-22.
    assert_eq!(m.grid.start, utc("2017-11-23T14:00:00Z"));
    assert_eq!(m.grid.end(), utc("2020-09-22T14:00:00Z"));
    // Line 8 is `300,20171129,...,V`, lines 9-11 `400,1,43,A` `400,44,44,A,89` `400,45,48,A`:
    // interval 44 (21:30 local) is 0.181 kWh, actual.
    let s = m.grid.slot_of(utc("2017-11-29T11:30:00Z")).unwrap();
    assert_eq!(m.row(0)[s], 0.181);
    assert!(!m.is_estimated(0, s));
    assert_eq!(m.coverage(0).estimated, 0);
    assert!(!m.has_estimates());
    // Auto-detected from its 200/300 records, through the binary.
    let run = gridsleuth(&["-r", &f01]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json_counts("readings"), (49_632, 49_632, 0, 0));

    // meter02: Excel-mangled trailing update times (`2.01811E+13`); 681 days, all A.
    let ing = load(&["-r", &p("nem12_meter02.csv"), "--format", "nem12"]);
    assert_eq!(counts(&ing.quality), (681 * 48, 681 * 48, 0, 0));
    let m = &ing.matrix;
    assert_eq!(ids(m), ["6407368186"]);
    assert_eq!(m.grid.interval_secs, 1800);
    assert_eq!(m.grid.start, utc("2018-11-15T14:00:00Z"));
    assert_eq!(m.grid.end(), utc("2020-09-28T14:00:00Z"));
    // 2018-11-17 interval 18 (08:30 local) is 0.063 kWh.
    let s = m.grid.slot_of(utc("2018-11-16T22:30:00Z")).unwrap();
    assert_eq!(m.row(0)[s], 0.063);
    assert!(!m.has_estimates());

    // meter03: not NEM12 but a wide retailer export; 465 days, all `ESTIMATED? = No`.
    let ing = load(&[
        "-r",
        &p("nem12_meter03.csv"),
        "--format",
        "wide",
        "--wide-id-col",
        "NMI",
        "--wide-date-col",
        "DATE",
        "--wide-date-format",
        "%d/%m/%y",
        "--wide-estimated-col",
        "ESTIMATED?",
    ]);
    assert_eq!(counts(&ing.quality), (465 * 48, 465 * 48, 0, 0));
    let m = &ing.matrix;
    assert_eq!(ids(m), ["6001260509"]);
    assert_eq!(m.grid.interval_secs, 1800);
    assert_eq!(m.grid.start, utc("2019-06-22T00:00:00Z"));
    assert_eq!(m.grid.end(), utc("2020-09-29T00:00:00Z"));
    let row = m.series("6001260509").unwrap();
    // Line 2: 22/6/19, values 0.7, 0.688, 0.444, 0.056 ...
    assert_eq!(row[0], 0.7);
    assert_eq!(row[3], 0.056);
    assert!(!m.has_estimates());
}

/// The published 10-minute file of the UCI Tetouan dataset.
fn tetouan_file(dir: &Path) -> PathBuf {
    dir.join("tetuan_city_power_consumption.csv")
}

#[test]
fn real_tetouan_zones_give_the_documented_drop_estimates() {
    let Some(dir) = shared_data(
        "real_tetouan_zones_give_the_documented_drop_estimates",
        "tetouan-zones",
    ) else {
        return;
    };
    let src = tetouan_file(&dir);
    // Untouched, with a placebo event on 2017-03-15 (README): no significant change, +0.05 MW,
    // 95% CI -0.53 to +0.62 MW.
    let tmp = tempfile::tempdir().unwrap();
    let (r, text) = zone1_estimate(&src, tmp.path(), "2017-03-15");
    eprintln!("{text}");
    assert_eq!(r["verdict"], "no significant change", "{r:?}\n{text}");
    assert_eq!(r["did_significant"], "false", "{r:?}");
    let near = |k: &str, want: f64| {
        assert!(
            (f(&r, k) - want).abs() <= 0.015,
            "{k} = {} MW, documented {want}\n{text}",
            f(&r, k)
        );
    };
    near("change_mw", 0.05);
    near("change_mw_low", -0.53);
    near("change_mw_high", 0.62);

    // 1.5 MW removed from Zone 1 from 2017-03-15 (README): -1.45 MW (-4.7%), CI -2.03 to
    // -0.88 MW, the change-point 2 days from the event.
    let tmp = tempfile::tempdir().unwrap();
    let injected = with_drop(&src, tmp.path(), "2017-03-15", 1.5);
    let (r, text) = zone1_estimate(&injected, tmp.path(), "2017-03-15");
    eprintln!("{text}");
    assert_drop_recovered(&r, 1.5, &text);
    let near = |k: &str, want: f64, tol: f64| {
        assert!(
            (f(&r, k) - want).abs() <= tol,
            "{k} = {}, documented {want}\n{text}",
            f(&r, k)
        );
    };
    near("change_mw", -1.45, 0.015);
    near("change_pct", -4.7, 0.15);
    near("change_mw_low", -2.03, 0.015);
    near("change_mw_high", -0.88, 0.015);
    near("changepoint_days_from_event", 2.0, 0.0);
}
