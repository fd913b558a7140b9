//! One test per bad-input class of `data-samples/bad/` (its README lists the expected outcomes).
//! Quarantine classes are checked through the library and the binary: the reason, the file,
//! row and column of every record, and the reconciled counts. Fatal classes: exit code 2 and a
//! message naming the file (or flag), the column and the fix.

use gridsleuth::ingest::Reason::{self, *};

use crate::support::*;

const R: &str = "readings";

fn rows(file: &str, rows: &[u64], column: &str, meter: &str, reason: Reason) -> Vec<Rec> {
    rows.iter()
        .map(|&r| rec(R, file, Some(r), column, meter, reason, 1))
        .collect()
}

#[test]
fn clean_file_exits_0_with_nothing_quarantined() {
    let f = bad("clean.csv");
    let ing = load(&["-r", &f]);
    assert_eq!(counts(&ing.quality), (8, 8, 0, 0));
    assert_eq!(ids(&ing.matrix), ["M1", "M2"]);
    assert_eq!(ing.matrix.grid.n_slots, 4);
    let run = gridsleuth(&["-r", &f]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.dq().is_empty());
    assert_eq!(run.json_counts(R), (8, 8, 0, 0));
}

#[test]
fn bad_timestamp() {
    let f = bad("bad_timestamp.csv");
    let ing = check_quarantine(&Case {
        argv: &["-r", &f],
        counts: &[(R, 7, 4, 3, 0)],
        reasons: &[(BadTimestamp, 3)],
        records: rows(
            "bad_timestamp.csv",
            &[4, 5, 6],
            "timestamp",
            "M1",
            BadTimestamp,
        ),
    });
    let m = &ing.matrix;
    assert_eq!(m.grid.start, ts("2024-03-01T00:00:00Z"));
    assert_eq!(m.series("M1").unwrap(), [0.5f32, 0.6, 1.0, 1.1]);
}

#[test]
fn non_numeric_value() {
    let f = bad("non_numeric.csv");
    let ing = check_quarantine(&Case {
        argv: &["-r", &f],
        counts: &[(R, 6, 3, 3, 0)],
        reasons: &[(NonNumeric, 3)],
        records: rows("non_numeric.csv", &[3, 4, 5], "kwh", "M1", NonNumeric),
    });
    let m = &ing.matrix;
    assert!(val(m, "M1", "2024-03-01T00:30:00Z").is_nan());
    // A value padded with spaces is a value.
    assert_eq!(val(m, "M1", "2024-03-01T02:00:00Z"), 0.9f32);
}

#[test]
fn nan_and_inf_values_are_not_finite() {
    let f = bad("not_finite.csv");
    let ing = check_quarantine(&Case {
        argv: &["-r", &f],
        counts: &[(R, 6, 3, 3, 0)],
        reasons: &[(NotFinite, 3)],
        records: rows("not_finite.csv", &[3, 4, 5], "kwh", "M1", NotFinite),
    });
    let row = ing.matrix.series("M1").unwrap();
    assert_eq!(row[0], 0.5);
    assert!(row[1..4].iter().all(|v| v.is_nan()), "{row:?}");
    assert!(row.iter().all(|v| !v.is_infinite()));
}

#[test]
fn negative_value() {
    let f = bad("negative.csv");
    let ing = check_quarantine(&Case {
        argv: &["-r", &f],
        counts: &[(R, 4, 3, 1, 0)],
        reasons: &[(Negative, 1)],
        records: rows("negative.csv", &[3], "kwh", "M1", Negative),
    });
    let m = &ing.matrix;
    assert!(val(m, "M1", "2024-03-01T00:30:00Z").is_nan());
    // Zero is a real reading, not a missing one.
    assert_eq!(val(m, "M1", "2024-03-01T01:00:00Z"), 0.0);
    assert_eq!(m.coverage(0).present, 3);

    let allowed = load(&["-r", &f, "--allow-negative"]);
    assert_eq!(counts(&allowed.quality), (4, 4, 0, 0));
    assert_eq!(val(&allowed.matrix, "M1", "2024-03-01T00:30:00Z"), -0.2f32);
    assert_eq!(gridsleuth(&["-r", &f, "--allow-negative"]).code, 0);
}

#[test]
fn value_above_physical_max() {
    let f = bad("above_max.csv");
    let ing = check_quarantine(&Case {
        argv: &["-r", &f],
        counts: &[(R, 5, 3, 2, 0)],
        reasons: &[(AbovePhysicalMax, 2)],
        records: rows("above_max.csv", &[4, 5], "kwh", "M1", AbovePhysicalMax),
    });
    // 1000 kWh in 30 min is exactly 2000 kW: at the limit, kept.
    assert_eq!(val(&ing.matrix, "M1", "2024-03-01T00:30:00Z"), 1000.0);
    assert!(val(&ing.matrix, "M1", "2024-03-01T01:00:00Z").is_nan());
    let detail = &ing.quality.issues()[0].detail;
    assert!(
        detail.contains("1000.5 kWh in 30 min = 2001 kW average") && detail.contains("--max-kw"),
        "{detail}"
    );
    // The limit is --max-kw: 1000.5 kWh in 30 min = 2001 kW passes at 2001.
    let raised = load(&["-r", &f, "--max-kw", "2001"]);
    assert_eq!(counts(&raised.quality), (5, 4, 1, 0));
    assert_eq!(val(&raised.matrix, "M1", "2024-03-01T01:00:00Z"), 1000.5f32);
}

#[test]
fn conflicting_duplicate_is_quarantined_and_exact_duplicate_counted() {
    let f = bad("duplicates.csv");
    let ing = check_quarantine(&Case {
        argv: &["-r", &f],
        counts: &[(R, 6, 4, 1, 1)],
        reasons: &[(ConflictingDuplicate, 1)],
        records: rows("duplicates.csv", &[6], "kwh", "M1", ConflictingDuplicate),
    });
    // The first value is kept.
    assert_eq!(
        ing.matrix.series("M1").unwrap(),
        [0.5f32, 0.6, 0.7, 0.8],
        "first values kept"
    );
}

#[test]
fn unknown_meter() {
    let f = bad("unknown_meter.csv");
    let meters = bad("unknown_meter_meters.csv");
    let ing = check_quarantine(&Case {
        argv: &["-r", &f, "--meters", &meters],
        counts: &[(R, 5, 3, 2, 0), ("meters", 1, 1, 0, 0)],
        reasons: &[(UnknownMeter, 2)],
        records: rows("unknown_meter.csv", &[5, 6], "meter_id", "M9", UnknownMeter),
    });
    assert_eq!(ids(&ing.matrix), ["M1"]);
    // --keep-unknown-meters keeps them.
    let kept = load(&["-r", &f, "--meters", &meters, "--keep-unknown-meters"]);
    assert_eq!(counts(&kept.quality), (5, 5, 0, 0));
    assert_eq!(ids(&kept.matrix), ["M1", "M9"]);
    let run = gridsleuth(&["-r", &f, "--meters", &meters, "--keep-unknown-meters"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn outside_window() {
    let f = bad("outside_window.csv");
    let ing = check_quarantine(&Case {
        argv: &["-r", &f, "--start", "2024-03-01", "--end", "2024-03-02"],
        counts: &[(R, 6, 4, 2, 0)],
        reasons: &[(OutsideWindow, 2)],
        records: rows(
            "outside_window.csv",
            &[2, 7],
            "timestamp",
            "M1",
            OutsideWindow,
        ),
    });
    // The window fixes the grid: one day of 48 half-hours; the end is exclusive.
    let g = ing.matrix.grid;
    assert_eq!(
        (g.start, g.interval_secs, g.n_slots),
        (ts("2024-03-01T00:00:00Z"), 1800, 48)
    );
    assert_eq!(ing.matrix.coverage(0).present, 4);
    assert_eq!(val(&ing.matrix, "M1", "2024-03-01T23:30:00Z"), 0.8);
}

#[test]
fn coarser_meter_fits_the_auto_grid_and_is_quarantined_on_a_finer_one() {
    let f = bad("wrong_interval.csv");
    let records = vec![rec(
        R,
        "wrong_interval.csv",
        None,
        "timestamp",
        "H1",
        WrongInterval,
        8,
    )];
    // Asked for a 30-minute grid, the hourly meter does not fit it.
    {
        let extra = &["--interval", "30m"][..];
        let mut argv = vec!["-r", f.as_str()];
        argv.extend_from_slice(extra);
        let ing = check_quarantine(&Case {
            argv: &argv,
            counts: &[(R, 24, 16, 8, 0)],
            reasons: &[(WrongInterval, 8)],
            records: records.clone(),
        });
        assert_eq!(ids(&ing.matrix), ["M1", "M2"]);
        assert_eq!(ing.matrix.grid.interval_secs, 1800);
        let detail = &ing.quality.issues()[0].detail;
        assert!(detail.contains("--interval 60m"), "the fix: {detail}");
    }
    // On the hourly grid it suggests, every meter fits: the half-hourly ones are summed. And
    // that is the grid chosen without --interval: a region mixing meter generations keeps
    // every meter, on the coarsest interval (up to an hour).
    for argv in [&["-r", &f, "--interval", "60m"][..], &["-r", &f]] {
        let hourly = load(argv);
        assert_eq!(counts(&hourly.quality), (24, 24, 0, 0));
        assert_eq!(ids(&hourly.matrix), ["H1", "M1", "M2"]);
        assert_eq!(hourly.matrix.grid.interval_secs, 3600);
        let m1 = hourly.matrix.series("M1").unwrap();
        for (k, want) in [1.1f32, 1.5, 1.9, 2.3].iter().enumerate() {
            assert!((m1[k] - want).abs() < 1e-6, "{m1:?}");
        }
        assert!(m1[4..].iter().all(|v| v.is_nan()), "{m1:?}");
        assert_eq!(
            hourly.matrix.series("H1").unwrap(),
            [1.0f32, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7]
        );
    }
}

#[test]
fn off_lattice_timestamp_is_off_interval() {
    let f = bad("off_interval.csv");
    let ing = check_quarantine(&Case {
        argv: &["-r", &f],
        counts: &[(R, 6, 5, 1, 0)],
        reasons: &[(OffInterval, 1)],
        records: rows("off_interval.csv", &[3], "timestamp", "M1", OffInterval),
    });
    assert_eq!(ing.matrix.grid.interval_secs, 1800);
    assert_eq!(
        ing.matrix.series("M1").unwrap(),
        [0.5f32, 0.6, 0.7, 0.8, 0.9]
    );
}

#[test]
fn dst_ambiguous_rejected_by_policy() {
    let f = bad("dst_ambiguous.csv");
    let ing = check_quarantine(&Case {
        argv: &[
            "-r",
            &f,
            "--tz",
            "Europe/London",
            "--dst-ambiguous",
            "reject",
        ],
        counts: &[(R, 8, 4, 4, 0)],
        reasons: &[(DstAmbiguous, 4)],
        records: rows(
            "dst_ambiguous.csv",
            &[4, 5, 6, 7],
            "timestamp",
            "M1",
            DstAmbiguous,
        ),
    });
    // 00:00 BST = 23:00Z the day before; 02:00 GMT = 02:00Z. The repeated hour stays missing.
    let m = &ing.matrix;
    assert_eq!(m.grid.start, ts("2024-10-26T23:00:00Z"));
    assert_eq!(m.grid.n_slots, 8);
    assert_eq!(val(m, "M1", "2024-10-26T23:30:00Z"), 0.11);
    assert_eq!(val(m, "M1", "2024-10-27T02:00:00Z"), 0.16);
    for t in ["00:00", "00:30", "01:00", "01:30"] {
        assert!(val(m, "M1", &format!("2024-10-27T{t}:00Z")).is_nan(), "{t}");
    }
    // The default policy (sequential) uses all eight.
    let seq = load(&["-r", &f, "--tz", "Europe/London"]);
    assert_eq!(counts(&seq.quality), (8, 8, 0, 0));
}

#[test]
fn dst_gap_rejected_by_default() {
    let f = bad("dst_gap.csv");
    let ing = check_quarantine(&Case {
        argv: &["-r", &f, "--tz", "Europe/London"],
        counts: &[(R, 6, 4, 2, 0)],
        reasons: &[(DstGap, 2)],
        records: rows("dst_gap.csv", &[4, 5], "timestamp", "M1", DstGap),
    });
    // 02:00 local (BST) is 01:00Z: four consecutive UTC half-hours, nothing missing.
    let m = &ing.matrix;
    assert_eq!(m.grid.start, ts("2024-03-31T00:00:00Z"));
    assert_eq!(m.series("M1").unwrap(), [0.10f32, 0.11, 0.14, 0.15]);
}

#[test]
fn null_tokens_are_null_value() {
    let f = bad("null_values.csv");
    let ing = check_quarantine(&Case {
        argv: &["-r", &f],
        counts: &[(R, 11, 5, 6, 0)],
        reasons: &[(NullValue, 6)],
        records: rows(
            "null_values.csv",
            &[5, 6, 7, 8, 9, 10],
            "kwh",
            "M1",
            NullValue,
        ),
    });
    let row = ing.matrix.series("M1").unwrap();
    assert_eq!(row.len(), 11);
    assert!(row[3..9].iter().all(|v| v.is_nan()), "{row:?}");
    assert_eq!(ing.matrix.coverage(0).present, 5);
}

#[test]
fn missing_meter_id() {
    let f = bad("missing_meter_id.csv");
    let ing = check_quarantine(&Case {
        argv: &["-r", &f],
        counts: &[(R, 6, 4, 2, 0)],
        reasons: &[(MissingMeterId, 2)],
        records: rows(
            "missing_meter_id.csv",
            &[4, 5],
            "meter_id",
            "",
            MissingMeterId,
        ),
    });
    assert_eq!(ids(&ing.matrix), ["M1"], "no meter with an empty id");
}

#[test]
fn short_row() {
    let f = bad("short_row.csv");
    let ing = check_quarantine(&Case {
        argv: &["-r", &f],
        // The blank line is not a reading.
        counts: &[(R, 5, 3, 2, 0)],
        reasons: &[(ShortRow, 2)],
        records: rows("short_row.csv", &[3, 4], "", "", ShortRow),
    });
    assert_eq!(ing.matrix.coverage(0).present, 3);
}

#[test]
fn bad_and_duplicate_metadata_rows() {
    let f = bad("clean.csv");
    let meters = bad("bad_meters.csv");
    let ing = check_quarantine(&Case {
        argv: &["-r", &f, "--meters", &meters],
        counts: &[(R, 8, 8, 0, 0), ("meters", 5, 2, 3, 0)],
        reasons: &[(BadMetadata, 2), (DuplicateMetadata, 1)],
        records: vec![
            rec(
                "meters",
                "bad_meters.csv",
                Some(4),
                "lat",
                "M3",
                BadMetadata,
                1,
            ),
            rec(
                "meters",
                "bad_meters.csv",
                Some(5),
                "registered_miner",
                "M4",
                BadMetadata,
                1,
            ),
            rec(
                "meters",
                "bad_meters.csv",
                Some(6),
                "meter_id",
                "M1",
                DuplicateMetadata,
                1,
            ),
        ],
    });
    let (table, _) = ing.meters.as_ref().unwrap();
    assert_eq!(table.ids().collect::<Vec<_>>(), ["M1", "M2"]);
    let m1 = table.get("M1").unwrap();
    assert_eq!(
        m1.address.as_deref(),
        Some("1 High Street, Oakhurst"),
        "first row kept"
    );
    assert!(!table.get("M2").unwrap().registered_miner);
    assert_eq!(m1.lat, Some(52.27));
}

// ---- fatal classes: exit 2 ------------------------------------------------------------------

#[test]
fn fatal_missing_file() {
    let f = bad("does_not_exist.csv");
    check_fatal(&["-r", &f], &["does_not_exist.csv", "cannot open", "fix:"]);
    // A missing meters file too.
    let r = bad("clean.csv");
    check_fatal(
        &["-r", &r, "--meters", &bad("no_meters.csv")],
        &["no_meters.csv", "cannot open"],
    );
    // A glob that matches nothing.
    check_fatal(
        &["-r", &bad("nothing-*.csv")],
        &["no input files match", "nothing-*.csv", "fix:"],
    );
}

#[test]
fn fatal_missing_required_column() {
    let f = bad("missing_column.csv");
    check_fatal(
        &["-r", &f],
        &[
            "missing_column.csv",
            "required column \"kwh\" not found",
            "meter_id, timestamp, energy_kwh",
            "fix:",
            "--value-col",
        ],
    );
    // Naming the column fixes it.
    let ing = load(&["-r", &f, "--value-col", "energy_kwh"]);
    assert_eq!(counts(&ing.quality), (2, 2, 0, 0));
    // A missing meter column names its flag.
    check_fatal(
        &["-r", &f, "--meter-col", "LCLid"],
        &["missing_column.csv", "\"LCLid\"", "--meter-col"],
    );
}

#[test]
fn missing_column_hint_suggests_an_unmatched_column() {
    let f = bad("missing_column.csv");
    let err = try_load(&args(&["-r", &f])).err().unwrap();
    assert!(err.contains("--value-col 'energy_kwh'"), "{err}");
}

#[test]
fn fatal_empty_file() {
    let f = bad("empty.csv");
    check_fatal(
        &["-r", &f],
        &["empty.csv", "the file is empty (no header line)", "fix:"],
    );
}

#[test]
fn fatal_header_only_file_has_no_usable_readings() {
    let f = bad("header_only.csv");
    check_fatal(
        &["-r", &f],
        &["no usable readings", "0 read, 0 quarantined", "fix:"],
    );
}

#[test]
fn fatal_when_every_reading_is_quarantined() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("all_bad.csv");
    std::fs::write(
        &p,
        "meter_id,timestamp,kwh\nM1,2024-03-01T00:00:00Z,-1\nM1,yesterday,0.5\n",
    )
    .unwrap();
    check_fatal(
        &["-r", &arg(&p)],
        &[
            "no usable readings",
            "2 read, 2 quarantined",
            "data_quality.csv",
        ],
    );
}

#[test]
fn no_usable_readings_still_writes_data_quality_csv() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("all_bad.csv");
    std::fs::write(
        &p,
        "meter_id,timestamp,kwh\nM1,2024-03-01T00:00:00Z,-1\nM1,yesterday,0.5\n",
    )
    .unwrap();
    let run = gridsleuth(&["-r", &arg(&p)]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(
        run.dq(),
        vec![
            rec(R, "all_bad.csv", Some(2), "kwh", "M1", Negative, 1),
            rec(
                R,
                "all_bad.csv",
                Some(3),
                "timestamp",
                "M1",
                BadTimestamp,
                1
            ),
        ]
    );
}

#[test]
fn fatal_single_reading_without_interval_is_too_few_readings() {
    // One timestamp cannot tell a meter's interval: fatal without --interval, with the reading
    // accounted for in data_quality.csv; --interval places it.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("one.csv");
    std::fs::write(&p, "meter_id,timestamp,kwh\nM1,2024-03-01T00:00:00Z,0.5\n").unwrap();
    let f = arg(&p);
    check_fatal(
        &["-r", &f],
        &["no usable readings", "1 read, 1 quarantined", "--interval"],
    );
    let run = gridsleuth(&["-r", &f]);
    assert_eq!(
        run.dq(),
        vec![rec(
            R,
            "one.csv",
            Some(2),
            "timestamp",
            "M1",
            TooFewReadings,
            1
        )]
    );
    let ing = load(&["-r", &f, "--interval", "30m"]);
    assert_eq!(counts(&ing.quality), (1, 1, 0, 0));
    assert_eq!(ing.matrix.grid.n_slots, 1);
}

#[test]
fn fatal_unreadable_parquet() {
    let f = bad("not_parquet.parquet");
    check_fatal(
        &["-r", &f],
        &[
            "not_parquet.parquet",
            "not a readable Parquet file",
            "fix:",
            "--format csv",
        ],
    );
    // The hint works: it is a CSV.
    let ing = load(&["-r", &f, "--format", "csv"]);
    assert_eq!(counts(&ing.quality), (2, 2, 0, 0));
}

#[test]
fn fatal_bad_time_zone() {
    let f = bad("clean.csv");
    check_fatal(
        &["-r", &f, "--tz", "Mars/Base"],
        &["--tz", "Mars/Base", "IANA"],
    );
}

#[test]
fn fatal_bad_interval() {
    let f = bad("clean.csv");
    check_fatal(
        &["-r", &f, "--interval", "7m"],
        &["--interval", "7m", "divide a day"],
    );
    check_fatal(
        &["-r", &f, "--interval", "half-hour"],
        &["--interval", "half-hour"],
    );
}

#[test]
fn fatal_window_needs_both_ends() {
    let f = bad("clean.csv");
    check_fatal(
        &["-r", &f, "--start", "2024-03-01"],
        &["--start/--end", "both ends"],
    );
    check_fatal(
        &["-r", &f, "--start", "2024-03-02", "--end", "2024-03-01"],
        &["--end", "after --start"],
    );
    check_fatal(
        &["-r", &f, "--start", "March", "--end", "2024-03-02"],
        &["--start", "March"],
    );
}

#[test]
fn fatal_other_bad_option_values() {
    let f = bad("clean.csv");
    check_fatal(&["-r", &f, "--max-kw=-5"], &["--max-kw", "-5"]);
    check_fatal(&["-r", &f, "--max-kw", "0"], &["--max-kw", "positive"]);
    check_fatal(&["-r", &f, "--delimiter", ";;"], &["--delimiter", ";;"]);
    check_fatal(
        &["-r", &f, "--nem12-tz", "Nowhere"],
        &["--nem12-tz", "Nowhere"],
    );
}

#[test]
fn stray_timestamps_do_not_size_the_grid() {
    let f = bad("stray_timestamp.csv");
    let ing = check_quarantine(&Case {
        argv: &["-r", &f],
        counts: &[(R, 10, 8, 2, 0)],
        reasons: &[(StrayTimestamp, 2)],
        records: rows(
            "stray_timestamp.csv",
            &[2, 6],
            "timestamp",
            "M1",
            StrayTimestamp,
        ),
    });
    let g = ing.matrix.grid;
    assert_eq!((g.start, g.n_slots), (ts("2024-03-01T00:00:00Z"), 4));
    assert_eq!(ing.matrix.series("M1").unwrap(), [0.5f32, 0.6, 0.7, 0.8]);
    let detail = &ing.quality.issues()[0].detail;
    assert!(
        detail.starts_with(
            "2999-01-01T00:00:00Z far outside the bulk of the readings (2024-03-01 .. 2024-03-01)"
        ) && detail.contains("set --start/--end"),
        "{detail}"
    );
    // A window that includes them says they are real (and the grid is as long as it says).
    let ing = load(&["-r", &f, "--start", "1990-01-01", "--end", "2024-03-02"]);
    assert_eq!(counts(&ing.quality), (10, 9, 1, 0));
    assert_eq!(reasons(&ing).get(&OutsideWindow), Some(&1));
}
