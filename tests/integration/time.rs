//! Time: DST in Europe/London with naive local timestamps, meters finer than the grid, gaps.

use std::fmt::Write as _;
use std::path::PathBuf;

use gridsleuth::ingest::Reason;

use crate::support::*;

/// Writes `meter_id,timestamp,kwh` rows to `dir/name`.
fn write_csv(dir: &tempfile::TempDir, name: &str, rows: &[(&str, String, String)]) -> PathBuf {
    let mut s = String::from("meter_id,timestamp,kwh\n");
    for (m, t, v) in rows {
        writeln!(s, "{m},{t},{v}").unwrap();
    }
    let p = dir.path().join(name);
    std::fs::write(&p, s).unwrap();
    p
}

/// Half-hour local clock times `HH:MM` from `from` (inclusive) to `to` (exclusive), in hours.
fn half_hours(from: u32, to: u32) -> Vec<String> {
    (from * 2..to * 2)
        .map(|k| format!("{:02}:{:02}", k / 2, (k % 2) * 30))
        .collect()
}

/// Distinct, exactly representable values: (k + 1) / 8 kWh.
fn value(k: usize) -> f32 {
    (k + 1) as f32 * 0.125
}

fn day_rows(day: &str, clock: &[String]) -> Vec<(&'static str, String, String)> {
    clock
        .iter()
        .enumerate()
        .map(|(k, c)| ("M1", format!("{day} {c}:00"), value(k).to_string()))
        .collect()
}

#[test]
fn fall_back_day_sequential_50_readings_in_50_utc_slots() {
    // 2024-10-27: BST ends at 02:00 BST = 01:00 GMT, so 01:00 and 01:30 occur twice.
    let mut clock = half_hours(0, 2);
    clock.extend(half_hours(1, 24));
    assert_eq!(clock.len(), 50);
    let dir = tempfile::tempdir().unwrap();
    let p = write_csv(&dir, "fall_back.csv", &day_rows("2024-10-27", &clock));
    let f = arg(&p);
    let ing = load(&["-r", &f, "--tz", "Europe/London"]);
    assert_eq!(counts(&ing.quality), (50, 50, 0, 0));
    let m = &ing.matrix;
    // 00:00 BST = 2024-10-26T23:00Z .. 23:30 GMT = 23:30Z: 25 hours.
    assert_eq!(m.grid.start, ts("2024-10-26T23:00:00Z"));
    assert_eq!((m.grid.interval_secs, m.grid.n_slots), (1800, 50));
    let row = m.series("M1").unwrap();
    let want: Vec<f32> = (0..50).map(value).collect();
    assert_eq!(row, want, "readings land in file order, one per UTC slot");
    // The first 01:00 is BST (00:00Z), the second GMT (01:00Z).
    assert_eq!(val(m, "M1", "2024-10-27T00:00:00Z"), value(2));
    assert_eq!(val(m, "M1", "2024-10-27T00:30:00Z"), value(3));
    assert_eq!(val(m, "M1", "2024-10-27T01:00:00Z"), value(4));
    assert_eq!(val(m, "M1", "2024-10-27T01:30:00Z"), value(5));
    assert_eq!(m.coverage(0).present, 50);
    assert_eq!(gridsleuth(&["-r", &f, "--tz", "Europe/London"]).code, 0);

    // `earliest` puts both passes on the BST instants: the second pass conflicts.
    let early = load(&[
        "-r",
        &f,
        "--tz",
        "Europe/London",
        "--dst-ambiguous",
        "earliest",
    ]);
    assert_eq!(counts(&early.quality), (50, 48, 2, 0));
    assert_eq!(
        early
            .quality
            .quarantined_by_reason()
            .get(&Reason::ConflictingDuplicate),
        Some(&2)
    );
    assert!(val(&early.matrix, "M1", "2024-10-27T01:00:00Z").is_nan());
    assert_eq!(val(&early.matrix, "M1", "2024-10-27T00:00:00Z"), value(2));
    // `latest` puts both on the GMT instants.
    let late = load(&[
        "-r",
        &f,
        "--tz",
        "Europe/London",
        "--dst-ambiguous",
        "latest",
    ]);
    assert_eq!(counts(&late.quality), (50, 48, 2, 0));
    assert!(val(&late.matrix, "M1", "2024-10-27T00:00:00Z").is_nan());
    assert_eq!(val(&late.matrix, "M1", "2024-10-27T01:00:00Z"), value(2));
}

fn spring_forward_clock() -> Vec<String> {
    // 2024-03-31: GMT ends at 01:00 GMT = 02:00 BST; 01:00 and 01:30 do not exist.
    let mut clock = half_hours(0, 1);
    clock.extend(half_hours(2, 24));
    clock
}

#[test]
fn spring_forward_day_46_readings_in_46_utc_slots() {
    let clock = spring_forward_clock();
    assert_eq!(clock.len(), 46);
    let dir = tempfile::tempdir().unwrap();
    let p = write_csv(&dir, "spring.csv", &day_rows("2024-03-31", &clock));
    let ing = load(&["-r", &arg(&p), "--tz", "Europe/London"]);
    assert_eq!(counts(&ing.quality), (46, 46, 0, 0));
    let m = &ing.matrix;
    assert_eq!(m.grid.start, ts("2024-03-31T00:00:00Z"));
    assert_eq!((m.grid.interval_secs, m.grid.n_slots), (1800, 46));
    assert_eq!(m.grid.end(), ts("2024-03-31T23:00:00Z"));
    let row = m.series("M1").unwrap();
    let want: Vec<f32> = (0..46).map(value).collect();
    assert_eq!(row, want);
    assert_eq!(m.coverage(0).present, 46);
    // 00:30 GMT = 00:30Z, then 02:00 BST = 01:00Z follows directly.
    assert_eq!(val(m, "M1", "2024-03-31T00:30:00Z"), value(1));
    assert_eq!(val(m, "M1", "2024-03-31T01:00:00Z"), value(2));
    assert_eq!(val(m, "M1", "2024-03-31T22:30:00Z"), value(45));
}

#[test]
fn spring_forward_export_with_nonexistent_times_is_dst_gap() {
    // A wrong export that includes 01:00 and 01:30 local (lines 4 and 5).
    let mut rows = day_rows("2024-03-31", &spring_forward_clock());
    rows.insert(2, ("M1", "2024-03-31 01:00:00".into(), "9.5".into()));
    rows.insert(3, ("M1", "2024-03-31 01:30:00".into(), "9.75".into()));
    assert_eq!(rows.len(), 48);
    let dir = tempfile::tempdir().unwrap();
    let p = write_csv(&dir, "spring_gap.csv", &rows);
    let f = arg(&p);
    let ing = check_quarantine(&Case {
        argv: &["-r", &f, "--tz", "Europe/London"],
        counts: &[("readings", 48, 46, 2, 0)],
        reasons: &[(Reason::DstGap, 2)],
        records: vec![
            rec(
                "readings",
                "spring_gap.csv",
                Some(4),
                "timestamp",
                "M1",
                Reason::DstGap,
                1,
            ),
            rec(
                "readings",
                "spring_gap.csv",
                Some(5),
                "timestamp",
                "M1",
                Reason::DstGap,
                1,
            ),
        ],
    });
    let m = &ing.matrix;
    assert_eq!(m.grid.start, ts("2024-03-31T00:00:00Z"));
    assert_eq!(m.grid.n_slots, 46);
    let want: Vec<f32> = (0..46).map(value).collect();
    assert_eq!(
        m.series("M1").unwrap(),
        want,
        "the rejected times left no trace"
    );
}

#[test]
fn quarter_hours_are_summed_into_half_hours_never_partially() {
    // Q1: 15-minute readings 00:00 .. 02:45, value (k+1)/8 at quarter k; 00:45 (k=3) missing,
    // 01:15 (k=5) negative (quarantined). M30: 30-minute readings over the same span.
    let mut rows = Vec::new();
    for k in 0..12usize {
        if k == 3 {
            continue;
        }
        let t = format!("2024-03-01T{:02}:{:02}:00Z", k / 4, (k % 4) * 15);
        let v = if k == 5 {
            "-1".to_string()
        } else {
            value(k).to_string()
        };
        rows.push(("Q1", t, v));
    }
    for j in 0..6usize {
        let t = format!("2024-03-01T{:02}:{:02}:00Z", j / 2, (j % 2) * 30);
        rows.push(("M30", t, "0.5".to_string()));
    }
    let dir = tempfile::tempdir().unwrap();
    let p = write_csv(&dir, "quarters.csv", &rows);
    let ing = load(&["-r", &arg(&p), "--interval", "30m"]);
    assert_eq!(counts(&ing.quality), (17, 16, 1, 0));
    let m = &ing.matrix;
    assert_eq!(ids(m), ["M30", "Q1"]);
    assert_eq!(ing.native_interval, [1800, 900]);
    assert_eq!(m.grid.start, ts("2024-03-01T00:00:00Z"));
    assert_eq!((m.grid.interval_secs, m.grid.n_slots), (1800, 6));
    let q = m.series("Q1").unwrap();
    assert_eq!(q[0], value(0) + value(1), "00:00 = 00:00 + 00:15");
    assert!(q[1].is_nan(), "00:30 lacks 00:45: missing, not {}", q[1]);
    assert!(
        q[2].is_nan(),
        "01:00 lacks 01:15 (quarantined): missing, not {}",
        q[2]
    );
    assert_eq!(q[3], value(6) + value(7));
    assert_eq!(q[4], value(8) + value(9));
    assert_eq!(q[5], value(10) + value(11));
    assert_eq!(m.coverage(m.meter_index("Q1").unwrap()).present, 4);
    assert_eq!(m.series("M30").unwrap(), [0.5f32; 6]);
    assert!(
        ing.quality.notes.iter().any(|n| n.contains("Q1")),
        "partial slots are noted: {:?}",
        ing.quality.notes
    );
}

#[test]
fn gaps_stay_nan_and_coverage_counts_present_slots() {
    // M1: a full day of half-hours. G1: from slot 2 to slot 45, without slots 10..15 and 30,
    // and a real zero at slot 20.
    let mut rows = Vec::new();
    let stamp = |s: usize| format!("2024-03-01T{:02}:{:02}:00Z", s / 2, (s % 2) * 30);
    for s in 0..48usize {
        rows.push(("M1", stamp(s), "0.25".to_string()));
    }
    let missing = |s: usize| !(2..=45).contains(&s) || (10..15).contains(&s) || s == 30;
    for s in (0..48usize).filter(|&s| !missing(s)) {
        let v = if s == 20 { 0.0 } else { value(s) };
        rows.push(("G1", stamp(s), v.to_string()));
    }
    let dir = tempfile::tempdir().unwrap();
    let p = write_csv(&dir, "gaps.csv", &rows);
    let ing = load(&["-r", &arg(&p)]);
    assert_eq!(counts(&ing.quality), (48 + 38, 86, 0, 0));
    let m = &ing.matrix;
    assert_eq!(m.grid.n_slots, 48);
    let gi = m.meter_index("G1").unwrap();
    let g = m.row(gi);
    assert_eq!(g.len(), 48);
    for (s, &v) in g.iter().enumerate() {
        if missing(s) {
            assert!(v.is_nan(), "slot {s} has no reading: NaN, not {v}");
        } else if s == 20 {
            assert_eq!(v, 0.0, "a zero reading is kept as zero");
        } else {
            assert_eq!(v, value(s), "slot {s}");
        }
    }
    assert_eq!(m.coverage(gi).present, 38);
    assert_eq!(m.coverage(m.meter_index("M1").unwrap()).present, 48);
    assert_eq!(m.present_slots(), 86);
    // The summary sees the same present slots, over the meter's own span: G1 reads from slot 2
    // to slot 45 (44 slots), 38 of them present.
    let run = gridsleuth(&["-r", &arg(&p)]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let j = run.json();
    let min = j["grid"]["min_meter_coverage"].as_f64().unwrap();
    assert!((min - 38.0 / 44.0).abs() < 1e-9, "{min}");
    assert_eq!(j["grid"]["meters_below_90pct"], 1);
}
