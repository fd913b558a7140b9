//! What real exports contain (issue 14): a stray timestamp does not size the grid or a meter's
//! span (the same region with and without it scores identically), an input asking for more
//! memory than the budget stops with a message (exit 2, no abort), and numbers print compactly.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use gridsleuth::ingest::Reason;

use crate::support::{arg, check_fatal, gridsleuth, load, reasons, run_raw, sample};

/// The sample region's readings as CSV lines (header first).
fn region_lines() -> Vec<String> {
    let f = std::fs::File::open(sample("region/readings.csv.gz")).unwrap();
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(f)
        .read_to_string(&mut text)
        .unwrap();
    text.lines().map(str::to_string).collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    let mut f = std::fs::File::create(path).unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
}

/// `gridsleuth run` on the sample region with `readings` instead of its own; the run folder.
fn run_region(readings: &Path, out: &Path) -> (i32, String) {
    let (code, _, err) = run_raw(&[
        "run",
        "-q",
        "--no-progress",
        "--config",
        &sample("region.toml"),
        "-r",
        &arg(readings),
        "-o",
        &arg(out),
    ]);
    (code, err)
}

fn read(dir: &Path, f: &str) -> Vec<u8> {
    std::fs::read(dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"))
}

#[test]
fn a_stray_row_leaves_the_scores_identical() {
    let dir = tempfile::tempdir().unwrap();
    let lines = region_lines();
    let header = &lines[0];
    assert!(header.starts_with("meter_id,timestamp,kwh"), "{header}");
    let clean = dir.path().join("clean.csv");
    write_lines(&clean, &lines);
    // 1990 inside a meter's run (in the middle of the file), 2999 at the top of the file for
    // the first meter, and a meter whose only reading is from 1990 (not in the meters file, so
    // quarantined as unknown first).
    let first_meter = lines[1].split(',').next().unwrap().to_string();
    let mid = lines.len() / 2;
    let mid_meter = lines[mid].split(',').next().unwrap().to_string();
    type Insert = (usize, String, &'static str);
    let cases: [(&str, Vec<Insert>); 2] = [
        (
            "1990",
            vec![(
                mid,
                format!("{mid_meter},1990-01-01T00:00:00Z,0.5"),
                "stray_timestamp",
            )],
        ),
        (
            "2999",
            vec![
                (
                    1,
                    format!("{first_meter},2999-01-01T00:00:00Z,0.5"),
                    "stray_timestamp",
                ),
                (
                    lines.len(),
                    "M_STRAY,1990-01-01T00:00:00Z,0.5".to_string(),
                    "unknown_meter",
                ),
            ],
        ),
    ];
    let base = dir.path().join("clean");
    let (code, err) = run_region(&clean, &base);
    assert_eq!(code, 0, "{err}");
    for (name, inserts) in cases {
        let mut with = lines.clone();
        let mut rows = Vec::new();
        for (at, row, _) in inserts.iter().rev() {
            with.insert(*at, row.clone());
        }
        // Line numbers of the inserted rows in the written file (header = line 1).
        for (k, (at, _, reason)) in inserts.iter().enumerate() {
            rows.push((at + 1 + k, *reason));
        }
        let path = dir.path().join(format!("stray{name}.csv"));
        write_lines(&path, &with);
        let out = dir.path().join(name);
        let (code, err) = run_region(&path, &out);
        assert_eq!(code, 1, "{name}: quarantined readings: exit 1\n{err}");
        for f in [
            "scores.csv",
            "suspects.csv",
            "registered_miners.csv",
            "features.parquet",
            "feeders.csv",
            "balance_daily.csv",
        ] {
            assert!(
                read(&base, f) == read(&out, f),
                "{name}: {f} differs from the clean run"
            );
        }
        let dq = String::from_utf8(read(&out, "data_quality.csv")).unwrap();
        for (row, reason) in rows {
            assert!(
                dq.lines().any(|l| l.contains(&format!(",{row},"))
                    && l.contains(reason)
                    && (reason != "stray_timestamp" || l.contains("set --start/--end"))),
                "{name}: line {row} not quarantined as {reason}:\n{dq}"
            );
        }
    }
}

#[test]
fn a_meters_own_stray_reading_does_not_stretch_its_span() {
    // Meter A reads 60 days; meter B 20 days, then one stray reading on day 55 (inside the
    // region's span, far from B's own readings). B's row ends on day 20.
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("meter_id,timestamp,kwh\n");
    let t0 = chrono::NaiveDate::from_ymd_opt(2024, 1, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    let stamp = |k: i64| {
        (t0 + chrono::Duration::minutes(30 * k))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    };
    for k in 0..60 * 48 {
        csv += &format!("A,{},0.4\n", stamp(k));
    }
    for k in 0..20 * 48 {
        csv += &format!("B,{},0.3\n", stamp(k));
    }
    csv += &format!("B,{},0.3\n", stamp(55 * 48 + 10));
    let path = dir.path().join("own.csv");
    std::fs::write(&path, csv).unwrap();
    let ing = load(&["-r", &arg(&path)]);
    assert_eq!(reasons(&ing).get(&Reason::StrayTimestamp), Some(&1));
    let b = ing.matrix.series("B").unwrap();
    let last = b.iter().rposition(|v| !v.is_nan()).unwrap();
    assert_eq!(last, 20 * 48 - 1, "B's span ends with its own readings");
    assert_eq!(
        ing.matrix.grid.n_slots,
        60 * 48,
        "the region keeps A's 60 days"
    );
    // With a window the dates are the user's: nothing is stray.
    let ing = load(&[
        "-r",
        &arg(&path),
        "--start",
        "2024-01-01",
        "--end",
        "2024-03-01",
    ]);
    assert_eq!(reasons(&ing).get(&Reason::StrayTimestamp), None);
}

#[test]
fn a_month_of_data_months_away_is_not_a_stray() {
    // Two files of separate months (a meter's history with a gap): both are data.
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("meter_id,timestamp,kwh\n");
    for (month, days) in [(1, 31), (6, 30)] {
        for d in 1..=days {
            for h in 0..24 {
                csv += &format!("M1,2024-{month:02}-{d:02}T{h:02}:00:00Z,0.5\n");
            }
        }
    }
    let path = dir.path().join("two_months.csv");
    std::fs::write(&path, csv).unwrap();
    let ing = load(&["-r", &arg(&path)]);
    assert_eq!(ing.quality.readings_quarantined(), 0);
    assert_eq!(ing.quality.readings_used, (31 + 30) * 24);
}

fn budget_fatal(argv: &[&str], needles: &[&str]) {
    let err = check_fatal(argv, needles);
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("over the memory budget"), "{err}");
    assert!(err.contains("fix: "), "{err}");
}

#[test]
fn a_grid_over_the_memory_budget_stops_with_a_message() {
    let readings = sample("region/readings.parquet");
    // The sample's 200 meters x 672 slots (0.5 MB) under a 100 kB budget.
    budget_fatal(
        &["-r", &readings, "--memory-budget", "100k"],
        &["memory budget of 102 kB", "--memory-budget"],
    );
    // Real dates from 1990 (a window says they are): 200 meters x 34 years of half-hours,
    // 0.95 GB, refused before it is allocated.
    budget_fatal(
        &[
            "-r",
            &readings,
            "--start",
            "1990-01-01",
            "--end",
            "2024-03-15",
            "--memory-budget",
            "64M",
        ],
        &["--start/--end"],
    );
    // The same within the budget: the grid is the dense span.
    let run = gridsleuth(&["-r", &readings, "--memory-budget", "64M"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // A bad budget is a settings error.
    check_fatal(
        &["-r", &readings, "--memory-budget", "lots"],
        &["--memory-budget", "is not a memory size"],
    );
}

#[test]
fn huge_values_print_compactly() {
    let dir = tempfile::tempdir().unwrap();
    let path: PathBuf = dir.path().join("huge.csv");
    std::fs::write(
        &path,
        "meter_id,timestamp,kwh\nM1,2024-03-01T00:00:00Z,1e300\nM1,2024-03-01T00:30:00Z,-1e300\n\
         M1,2024-03-01T01:00:00Z,0.5\nM1,2024-03-01T01:30:00Z,0.5\n",
    )
    .unwrap();
    let run = gridsleuth(&["-r", &arg(&path), "--interval", "30m"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let dq = std::fs::read_to_string(run.path("data_quality.csv")).unwrap();
    assert!(
        dq.contains("1e300 kWh in 30 min = 2e300 kW average"),
        "{dq}"
    );
    assert!(dq.contains("value -1e300"), "{dq}");
    assert!(
        !dq.contains("000000000000"),
        "a number printed in full: {dq}"
    );
}
