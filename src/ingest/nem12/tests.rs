//! Tests of the NEM12 reader on the hand-written files in `tests/fixtures/nem12/` and on small
//! files written here. (The real exports in `../shared/data/nem12-samples` are read by the
//! integration tests, `tests/integration/shared_data.rs`.)
#![allow(clippy::unwrap_used)]
use std::io::Write;

use super::*;
use crate::ingest::accumulate::{AccumulatorConfig, Finished};

fn utc(s: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp()
}

fn sample(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/nem12")
        .join(name)
}

fn load(path: &Path) -> Finished {
    let mut acc = Accumulator::new(AccumulatorConfig::default());
    read_nem12(path, &Nem12Format::default(), &mut acc, &Progress::hidden()).unwrap();
    let f = acc.finish().unwrap();
    assert!(f.quality.reconciles());
    f
}

fn temp(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

/// `300,date,v x n,quality,,,20240102030405,`
fn day(date: &str, n: usize, v: &str, quality: &str) -> String {
    format!(
        "300,{date},{},{quality},,,20240102030405,\r\n",
        vec![v; n].join(",")
    )
}

fn header_200(nmi: &str, suffix: &str, uom: &str, minutes: u32) -> String {
    format!("200,{nmi},E1B1,1,{suffix},N1,SER1,{uom},{minutes},20240401\r\n")
}

#[test]
fn bare_file_v_days_take_their_flags_from_400_records() {
    let f = load(&sample("bare_crlf.csv"));
    let q = &f.quality;
    // 4 days x 48, no 100/900 records, a blank first line, CRLF.
    assert_eq!(q.readings_read, 4 * 48);
    assert_eq!(q.readings_used, 4 * 48);
    assert_eq!(q.readings_quarantined(), 0);
    assert!(q.notes.is_empty(), "{:?}", q.notes);
    let m = &f.matrix;
    assert_eq!(m.meter_ids(), ["M9".into()]);
    // Brisbane (UTC+10) midnight of 2017-11-27 to the end of 2017-11-30.
    assert_eq!(m.grid.start, utc("2017-11-26T14:00:00Z"));
    assert_eq!(m.grid.end(), utc("2017-11-30T14:00:00Z"));
    // Line 5 is `300,20171129,...,V` and lines 6-8 `400,1,43,A` `400,44,44,A,89` `400,45,48,A,79`:
    // every 400 record says A (actual, with an event reason code), so the V day holds no
    // estimate. Interval 44 (21:30 local) is 0.181 kWh.
    let s = m.grid.slot_of(utc("2017-11-29T11:30:00Z")).unwrap();
    assert_eq!(m.row(0)[s], 0.181);
    assert!(!m.is_estimated(0, s));
    assert_eq!(m.coverage(0).estimated, 0);
    assert!(!m.has_estimates());
}

#[test]
fn excel_mangled_trailing_fields_are_ignored() {
    let f = load(&sample("excel_mangled.csv"));
    let q = &f.quality;
    assert_eq!(q.readings_read, 3 * 48);
    assert_eq!(q.readings_used, 3 * 48);
    let m = &f.matrix;
    assert_eq!(m.meter_ids(), ["6400000001".into()]);
    assert_eq!(m.grid.interval_secs, 1800);
    assert_eq!(m.grid.start, utc("2018-11-15T14:00:00Z"));
    assert_eq!(m.grid.end(), utc("2018-11-18T14:00:00Z"));
    // 2018-11-17 interval 18 (08:30 local) is 0.063 kWh.
    let s = m.grid.slot_of(utc("2018-11-16T22:30:00Z")).unwrap();
    assert_eq!(m.row(0)[s], 0.063);
}

/// `full.csv`: 100, 200, 300, 400, 500 and 900 records; NMI0000001 with an import channel E1
/// (6 days: A, E52, S53, F52, N, V), an export B1, a second import E2 and a reactive Q1; a
/// second NMI in Wh.
#[test]
fn full_file_every_record_channel_and_quality_method() {
    let f = load(&sample("full.csv"));
    let q = &f.quality;
    // E1 6 x 48, B1 2 x 48, E2 6 x 48, Q1 48, NMI0000002 6 x 48.
    assert_eq!(q.readings_read, 1008);
    let by = q.quarantined_by_reason();
    assert_eq!(by.get(&Reason::NullValue), Some(&(48 + 2)));
    assert_eq!(by.get(&Reason::UnsupportedChannel), Some(&(2 * 48 + 48)));
    assert_eq!(q.readings_used, 1008 - 50 - 144);
    assert!(q.notes.is_empty(), "{:?}", q.notes);
    let issues: Vec<(u64, Reason, u64)> = q
        .issues()
        .iter()
        .map(|i| (i.row, i.reason, i.readings))
        .collect();
    assert_eq!(
        issues,
        [
            (7, Reason::NullValue, 48),
            (8, Reason::NullValue, 2),
            (17, Reason::UnsupportedChannel, 48),
            (18, Reason::UnsupportedChannel, 48),
            (27, Reason::UnsupportedChannel, 48),
        ]
    );
    let m = &f.matrix;
    assert_eq!(
        m.meter_ids(),
        [
            "NMI0000001".into(),
            "NMI0000001_E2".into(),
            "NMI0000002".into()
        ]
    );
    assert_eq!(m.grid.interval_secs, 1800);
    assert_eq!(m.grid.start, utc("2023-12-31T14:00:00Z"));
    assert_eq!(m.grid.n_slots, 6 * 48);
    // Estimated: the E, S and F days, and intervals 11-30 (E, S, F) of the V day.
    let est: Vec<usize> = (0..m.grid.n_slots)
        .filter(|&s| m.is_estimated(0, s))
        .collect();
    let want: Vec<usize> = (48..4 * 48).chain(5 * 48 + 10..5 * 48 + 30).collect();
    assert_eq!(est, want);
    assert_eq!(m.coverage(0).estimated, 3 * 48 + 20);
    // The N day and the V day's N intervals 31-32 stay missing.
    let row = m.row(0);
    assert!(row[4 * 48..5 * 48].iter().all(|v| v.is_nan()));
    assert!(row[5 * 48 + 30].is_nan() && row[5 * 48 + 31].is_nan());
    assert!(!row[5 * 48 + 32].is_nan());
    // 2024-01-01 interval 19 (09:00 local) is 0.431 kWh, actual.
    let s = m.grid.slot_of(utc("2023-12-31T23:00:00Z")).unwrap();
    assert_eq!(row[s], 0.431);
    assert!(!m.is_estimated(0, s));
    // The second import channel and the Wh meter: all actual, Wh read as kWh.
    assert_eq!(m.series("NMI0000001_E2").unwrap()[0], 0.3);
    assert_eq!(m.series("NMI0000002").unwrap()[0], 0.15);
    assert_eq!(m.coverage(1).estimated, 0);
    assert_eq!(m.coverage(2).estimated, 0);
    assert_eq!(m.coverage(2).present, 6 * 48);
}

#[test]
fn export_and_second_import_channels() {
    let mut text = String::from("100,NEM12,200405011135,MDA1,Ret1\r\n");
    text += &header_200("N1", "E1", "KWH", 30);
    text += &day("20240101", 48, "1", "A");
    text += &header_200("N1", "B1", "KWH", 30);
    text += &day("20240101", 48, "1", "A");
    text += &header_200("N1", "E2", "KWH", 30);
    text += &day("20240101", 48, "2", "A");
    text += &header_200("N1", "Q1", "KVARH", 30);
    text += &day("20240101", 48, "1", "A");
    text += "900\r\n";
    let file = temp(&text);
    let f = load(file.path());
    let q = &f.quality;
    assert_eq!(q.readings_read, 4 * 48);
    assert_eq!(
        q.quarantined_by_reason().get(&Reason::UnsupportedChannel),
        Some(&96)
    );
    let rejected: Vec<(u64, u64)> = q.issues().iter().map(|i| (i.row, i.readings)).collect();
    assert_eq!(rejected, [(5, 48), (9, 48)]);
    assert!(
        q.issues()[0].detail.contains("\"B1\""),
        "{}",
        q.issues()[0].detail
    );
    assert!(
        q.issues()[1].detail.contains("KVARH"),
        "{}",
        q.issues()[1].detail
    );
    assert_eq!(f.matrix.meter_ids(), ["N1".into(), "N1_E2".into()]);
    assert_eq!(f.matrix.series("N1_E2").unwrap()[0], 2.0);
}

#[test]
fn fifteen_minute_channel_in_wh() {
    let text = header_200("N1", "E1", "WH", 15)
        + &day("20240101", 96, "250", "A")
        + &day("20240102", 96, "250", "A");
    let file = temp(&text);
    let f = load(file.path());
    assert_eq!(f.quality.readings_used, 192);
    assert_eq!(f.matrix.grid.interval_secs, 900);
    assert_eq!(f.matrix.grid.n_slots, 192);
    assert_eq!(f.matrix.row(0)[5], 0.25);
}

#[test]
fn estimated_null_and_variable_days() {
    let mut text = header_200("N1", "E1", "KWH", 30);
    text += &day("20240101", 48, "1", "A");
    text += &day("20240102", 48, "1", "E52"); // all estimated
    text += &day("20240103", 48, "0", "N"); // null: rejected
    text += &day("20240104", 48, "1", "V");
    text += "400,1,10,A,,\r\n400,11,20,S14,,\r\n\r\n400,21,24,N,,\r\n400,25,48,A,79,\r\n";
    text += &day("20240105", 48, "1", "V"); // no 400 records: unflagged, kept as estimated
    let file = temp(&text);
    let f = load(file.path());
    let q = &f.quality;
    assert_eq!(q.readings_read, 5 * 48);
    assert_eq!(
        q.quarantined_by_reason().get(&Reason::NullValue),
        Some(&(48 + 4))
    );
    let nulls: Vec<(u64, u64, &str)> = q
        .issues()
        .iter()
        .map(|i| (i.row, i.readings, i.detail.as_str()))
        .collect();
    assert_eq!(
        nulls,
        [(4, 48, "NEM12 quality N"), (5, 4, "NEM12 quality N")]
    );
    let m = &f.matrix;
    let est: Vec<usize> = (0..m.grid.n_slots)
        .filter(|&s| m.is_estimated(0, s))
        .collect();
    let want: Vec<usize> = (48..96)
        .chain(3 * 48 + 10..3 * 48 + 20)
        .chain(4 * 48..5 * 48)
        .collect();
    assert_eq!(est, want);
    assert_eq!(m.coverage(0).estimated, 48 + 10 + 48);
    assert!(m.row(0)[2 * 48].is_nan() && m.row(0)[3 * 48 + 20].is_nan());
    assert!(
        q.notes
            .iter()
            .any(|n| n.contains("48 readings had no recognised quality flag")
                && n.contains("line 11"))
    );
}

#[test]
fn wrong_value_count_is_a_short_row() {
    let mut text = header_200("N1", "E1", "KWH", 30);
    text += &day("20240101", 48, "1", "A");
    text += &day("20240102", 47, "1", "A");
    text += &day("20240103", 49, "1", "A");
    text += &day("2024013", 48, "1", "A");
    let file = temp(&text);
    let f = load(file.path());
    let q = &f.quality;
    assert_eq!(q.readings_read, 48 + 47 + 49 + 48);
    assert_eq!(
        q.quarantined_by_reason().get(&Reason::ShortRow),
        Some(&(47 + 49))
    );
    assert_eq!(
        q.quarantined_by_reason().get(&Reason::BadTimestamp),
        Some(&48)
    );
    assert!(q.issues()[0]
        .detail
        .starts_with("47 interval values; the 200 record at line 1 says 30-minute"));
}

#[test]
fn interval_data_before_any_200_is_fatal() {
    let file = temp(&format!(
        "100,NEM12,200405011135,MDA1,Ret1\n{}",
        day("20240101", 48, "1", "A")
    ));
    let mut acc = Accumulator::new(AccumulatorConfig::default());
    let err = read_nem12(
        file.path(),
        &Nem12Format::default(),
        &mut acc,
        &Progress::hidden(),
    )
    .unwrap_err();
    assert!(
        matches!(err, IngestError::Malformed { line: 2, .. }),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("line 2: 300 (interval data) record before any 200"),
        "{err}"
    );
}

#[test]
fn locate_finds_values_by_count() {
    let rec = csv::ByteRecord::from(vec![
        "300",
        "20240101",
        "1",
        "NA",
        "2",
        "A",
        "",
        "",
        "2.01811E+13",
    ]);
    assert_eq!(locate(&rec, 3), (3, Some(5)));
    assert_eq!(locate(&rec, 4), (3, Some(5)));
    let rec = csv::ByteRecord::from(vec!["300", "20240101", "1", "2", "", ""]);
    assert_eq!(locate(&rec, 2), (2, None));
}
