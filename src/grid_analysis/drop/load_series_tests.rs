//! Unit tests of the load-series reader: timestamp layouts, long and wide files, units and
//! coverage, bad cells.

use super::*;

#[test]
fn timestamps_in_the_wild() {
    let utc = chrono_tz::UTC;
    let tet = TimeLayout::parse("%m/%d/%Y %H:%M");
    let a = tet.local("1/20/2017 11:20", utc).unwrap();
    assert_eq!(
        tet.local("7/28/2017 7:00", utc).unwrap().to_string(),
        "2017-07-28 07:00:00"
    );
    let b = tet.local("01/20/2017 11:20", utc).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.to_string(), "2017-01-20 11:20:00");
    let iso = TimeLayout::Iso;
    assert_eq!(
        iso.local("2024-03-01", utc).unwrap().to_string(),
        "2024-03-01 00:00:00"
    );
    assert_eq!(
        iso.local("2024-03-01 10:30", utc).unwrap().to_string(),
        "2024-03-01 10:30:00"
    );
    // Offsets go to the zone: 23:30Z is 00:30 the next day in Paris (winter).
    let paris = chrono_tz::Europe::Paris;
    assert_eq!(
        iso.local("2024-01-01T23:30:00Z", paris)
            .unwrap()
            .to_string(),
        "2024-01-02 00:30:00"
    );
    assert!(iso.local("yesterday", utc).is_none());
    assert_eq!(
        TimeLayout::parse("%d.%m.%Y")
            .local("05.03.2024", utc)
            .unwrap()
            .to_string(),
        "2024-03-05 00:00:00"
    );
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn spec(path: PathBuf, layout: Layout) -> LoadSeriesSpec {
    LoadSeriesSpec {
        path,
        time_col: "timestamp".into(),
        time: TimeLayout::Iso,
        tz: chrono_tz::UTC,
        layout,
        temp_col: None,
        unit: LoadUnit::Kw,
        delimiter: b',',
    }
}

#[test]
fn long_and_wide_files_give_daily_means() {
    let dir = tempfile::tempdir().unwrap();
    let mut long = String::from("timestamp,region,load\n");
    let mut wide = String::from("timestamp,t,A,B\n");
    for h in 0..72 {
        let ts = format!("2024-03-{:02}T{:02}:00:00", 1 + h / 24, h % 24);
        long.push_str(&format!("{ts},A,{}\n{ts},B,{}\n", 1000 + h, 2000));
        wide.push_str(&format!("{ts},{},{},{}\n", h % 24, 1000 + h, 2000));
    }
    long.push_str("not a time,A,5\n2024-03-02T05:00:00,A,n/a\n");
    let l = read_load(&spec(
        write(dir.path(), "long.csv", &long),
        Layout::Long {
            region_col: "region".into(),
            value_col: "load".into(),
        },
    ))
    .unwrap();
    assert_eq!(l.regions, vec!["A", "B"]);
    assert_eq!(l.dates.len(), 3);
    assert!((l.load_mw[0][1] - (1000.0 + 35.5) / 1000.0).abs() < 1e-12);
    assert_eq!(l.interval_secs, vec![3600, 3600]);
    assert_eq!(l.skipped.get("bad_timestamp"), Some(&1));
    assert_eq!(l.skipped.get("bad_value"), Some(&1));
    assert!(l.any_skipped() && l.examples[0].contains("not a time"));
    let mut s = spec(
        write(dir.path(), "wide.csv", &wide),
        Layout::Wide {
            cols: vec![("A".into(), "zone a".into()), ("B".into(), "B".into())],
        },
    );
    s.temp_col = Some("t".into());
    let w = read_load(&s).unwrap();
    assert_eq!(w.regions, vec!["zone a", "B"]);
    assert_eq!(w.load_mw[0], l.load_mw[0]);
    assert!((w.temp_c[0] - 11.5).abs() < 1e-12);
    s.temp_col = Some("nope".into());
    let e = read_load(&s).unwrap_err().to_string();
    assert!(
        e.contains("\"nope\"") && e.contains("columns are: timestamp, t, A, B"),
        "{e}"
    );
}

#[test]
fn energy_units_and_coverage() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("timestamp,region,load\n");
    // Day 1 complete (48 half-hours of 500 kWh = 1 MW); day 2 only 10 half-hours.
    for k in 0..58 {
        let ts = 1_709_251_200 + k * 1800;
        let t = chrono::DateTime::from_timestamp(ts, 0)
            .unwrap()
            .format("%Y-%m-%dT%H:%M:%S");
        text.push_str(&format!("{t},R,500\n"));
    }
    let mut s = spec(
        write(dir.path(), "e.csv", &text),
        Layout::Long {
            region_col: "region".into(),
            value_col: "load".into(),
        },
    );
    s.unit = LoadUnit::Kwh;
    let l = read_load(&s).unwrap();
    assert!((l.load_mw[0][0] - 1.0).abs() < 1e-12);
    assert!(l.load_mw[0][1].is_nan());
    assert!((l.coverage[0][1] - 10.0 / 48.0).abs() < 1e-12);
}

#[test]
fn bad_weather_rows_are_recorded_and_reconcile() {
    let dir = tempfile::tempdir().unwrap();
    let load = DailyLoad {
        dates: vec![NaiveDate::from_ymd_opt(2024, 3, 1).unwrap()],
        ..DailyLoad::default()
    };
    let mut load = load;
    let w = write(
        dir.path(),
        "weather.csv",
        "timestamp,temperature_c\n2024-03-01T00:00:00Z,5\nnot a time,6\n2024-03-01T02:00:00Z,warm\n2024-03-01T03:00:00Z,7\n",
    );
    let t = read_weather(&w, &TimeLayout::Iso, chrono_tz::UTC, &mut load).unwrap();
    assert_eq!(t, vec![6.0]);
    assert_eq!(load.weather_rows, Some((4, 2)));
    assert_eq!(load.skipped["weather_bad_timestamp"], 1);
    assert_eq!(load.skipped["weather_bad_temperature"], 1);
    let skipped: u64 = load.skipped.values().sum();
    assert_eq!(4, 2 + skipped, "read = used + skipped");
    assert!(
        load.examples[0].starts_with("line 3: weather_bad_timestamp"),
        "{:?}",
        load.examples
    );
}
