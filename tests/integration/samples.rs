//! The London smart-meter layout through options only (on a London-style export the tests
//! write, `generated::london_style`; the real homes are read in `shared_data`), and the sample
//! region with its meters, feeders and weather (`data-samples/region.toml`).

use gridsleuth::cli::IngestArgs;

use crate::generated::{london_style, LONDON_IDS, LONDON_SPOT};
use crate::support::*;

#[test]
fn london_layout_loads_with_options_only() {
    let dir = tempfile::tempdir().unwrap();
    let glob = london_style(dir.path());
    let a = IngestArgs {
        readings: vec![glob.clone()],
        meter_col: Some("LCLid".into()),
        time_col: Some("tstp".into()),
        value_col: Some("energy(kWh/hh)".into()),
        ..IngestArgs::default()
    };
    let ing = try_load(&a).unwrap();
    assert_eq!(counts(&ing.quality), (7440, 7440, 0, 0));
    assert_eq!(ing.quality.files().len(), 5);
    let m = &ing.matrix;
    assert_eq!(ids(m), LONDON_IDS);
    assert_eq!(m.grid.start, ts("2013-01-01T00:00:00Z"));
    assert_eq!((m.grid.interval_secs, m.grid.n_slots), (1800, 1488));

    // Spot check: the row of MAC900003 at 2013-01-15 18:30, as written (padded) in the file.
    let text = std::fs::read_to_string(dir.path().join("MAC900003.csv")).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("MAC900003,2013-01-15 18:30:00,"))
        .expect("spot-check row");
    let raw = line.rsplit(',').next().unwrap();
    assert_eq!(raw, LONDON_SPOT);
    let want = raw.trim().parse::<f64>().unwrap() as f32;
    assert_eq!(val(m, "MAC900003", "2013-01-15T18:30:00Z"), want);
    assert_eq!(m.series("MAC900003").unwrap()[14 * 48 + 37], 0.107f32);

    // The same through the binary, flags as in the README.
    let run = gridsleuth(&[
        "-r",
        &glob,
        "--meter-col",
        "LCLid",
        "--time-col",
        "tstp",
        "--value-col",
        "energy(kWh/hh)",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json_counts("readings"), (7440, 7440, 0, 0));
    assert_eq!(run.json()["grid"]["slots"], 1488);
}

#[test]
fn region_feeders_and_weather_load_on_the_meters_grid() {
    let ing = load(&["--config", &sample("region.toml")]);
    let m = &ing.matrix;
    assert_eq!(m.n_meters(), 200);
    assert_eq!((m.grid.interval_secs, m.grid.n_slots), (1800, 672));
    assert_eq!(counts(&ing.quality), (134_122, 134_122, 0, 0));
    assert_eq!(counts(log(&ing, "meters")), (200, 200, 0, 0));

    // Feeders: on the very same grid.
    let feeders = ing.feeders.as_ref().expect("feeders");
    assert_eq!(counts(&feeders.quality), (672, 672, 0, 0));
    assert_eq!(feeders.matrix.grid, m.grid);
    assert_eq!(ids(&feeders.matrix), ["F0000"]);
    assert_eq!(feeders.matrix.coverage(0).present, 672);
    assert_eq!(
        val(&feeders.matrix, "F0000", "2024-03-01T00:30:00Z"),
        116.315
    );

    // Weather: hourly readings on the half-hour grid, half-hours interpolated.
    let (weather, wq) = ing.weather.as_ref().expect("weather");
    assert_eq!(counts(wq), (336, 336, 0, 0));
    let t = &weather.temperature_c;
    assert_eq!(t.len(), m.grid.n_slots);
    assert_eq!(t[0], 4.2f32, "2024-03-01T00:00Z as read");
    assert_eq!(t[2], 3.5f32, "01:00Z as read");
    // An empty slot is interpolated at its start (00:30 for the 00:30 slot: half way), the
    // instant a slot holding a reading is labelled by.
    let at_midpoint = |a: f32, b: f32| a + (b - a) * 0.5;
    assert!(
        (t[1] - at_midpoint(4.2, 3.5)).abs() < 1e-5,
        "00:30Z interpolated: {}",
        t[1]
    );
    // Every slot but the last (after the last reading, 2024-03-14T23:00Z) is known.
    assert_eq!(t.iter().filter(|v| !v.is_nan()).count(), 671);
    assert!(t[671].is_nan());
    for s in (1..671).step_by(2) {
        let want = at_midpoint(t[s - 1], t[s + 1]);
        assert!((t[s] - want).abs() < 1e-4, "slot {s}: {} vs {want}", t[s]);
    }
    // The meters metadata came along.
    let (table, _) = ing.meters.as_ref().expect("meters");
    assert_eq!(table.len(), 200);
    assert_eq!(
        table.get("M000000").unwrap().feeder_id.as_deref(),
        Some("F0000")
    );
}
