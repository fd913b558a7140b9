//! Property tests: the matrix does not depend on the order readings arrive in, and the fast ISO
//! timestamp parser agrees with chrono.

use gridsleuth::ingest::accumulate::{Accumulator, AccumulatorConfig, PushUnit};
use gridsleuth::ingest::time::parse_iso;
use gridsleuth::ingest::{RowLoc, Stamp};
use proptest::prelude::*;

const T0: i64 = 1_709_251_200; // 2024-03-01T00:00:00Z

/// Meters (1-4), each with a random subset of 96 half-hour slots and values, plus a permutation.
fn region() -> impl Strategy<Value = (Vec<(String, i64, f64)>, Vec<usize>)> {
    prop::collection::vec((0usize..4, 0i64..96, 0u32..5000), 10..200).prop_flat_map(|raw| {
        // Keep one reading per (meter, slot): the first one drawn.
        let mut seen = std::collections::HashSet::new();
        let rows: Vec<(String, i64, f64)> = raw
            .into_iter()
            .filter(|(m, s, _)| seen.insert((*m, *s)))
            .map(|(m, s, v)| (format!("M{m}"), T0 + s * 1800, f64::from(v) / 1000.0))
            .collect();
        let n = rows.len();
        (Just(rows), Just((0..n).collect::<Vec<_>>()).prop_shuffle())
    })
}

fn build(
    rows: &[(String, i64, f64)],
    order: &[usize],
) -> Option<(Vec<String>, Vec<u32>, i64, usize)> {
    let cfg = AccumulatorConfig {
        interval_secs: Some(1800),
        ..AccumulatorConfig::default()
    };
    let mut acc = Accumulator::new(cfg);
    for (k, &i) in order.iter().enumerate() {
        let (m, t, v) = &rows[i];
        acc.quality.readings_read += 1;
        acc.push(
            m,
            Stamp::At(*t),
            *v,
            PushUnit::Kwh,
            false,
            RowLoc {
                file: 0,
                row: k as u64 + 2,
            },
        );
    }
    let f = acc.finish().ok()?;
    assert!(f.quality.reconciles());
    let m = f.matrix;
    let ids = m.meter_ids().iter().map(|s| s.to_string()).collect();
    let bits = m.values().iter().map(|v| v.to_bits()).collect();
    Some((ids, bits, m.grid.start, m.grid.n_slots))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn matrix_is_independent_of_reading_order((rows, shuffled) in region()) {
        let sorted: Vec<usize> = (0..rows.len()).collect();
        let a = build(&rows, &sorted);
        let b = build(&rows, &shuffled);
        prop_assert_eq!(&a, &b);
        // Every reading is in its slot with its value; everything else is NaN.
        let (ids, bits, start, n) = a.expect("some readings");
        let present = bits.iter().filter(|b| !f32::from_bits(**b).is_nan()).count();
        prop_assert_eq!(present, rows.len());
        for (m, t, v) in &rows {
            let r = ids.iter().position(|id| id == m).expect("meter kept");
            let s = ((t - start) / 1800) as usize;
            prop_assert!(s < n);
            prop_assert_eq!(f32::from_bits(bits[r * n + s]), *v as f32);
        }
    }

    #[test]
    fn iso_parser_agrees_with_chrono(secs in -2_000_000_000i64..4_000_000_000, off_q in -48i64..56, style in 0u8..4) {
        let off = off_q * 900;
        let dt = chrono::DateTime::from_timestamp(secs, 0).expect("in range")
            .with_timezone(&chrono::FixedOffset::east_opt(off as i32).expect("offset"));
        let text = match style {
            0 => dt.format("%Y-%m-%dT%H:%M:%S%:z").to_string(),
            1 => dt.format("%Y-%m-%d %H:%M:%S%z").to_string(),
            2 => dt.naive_local().format("%Y-%m-%dT%H:%M:%S.123").to_string(),
            _ => dt.with_timezone(&chrono::Utc).format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        };
        let (naive, parsed_off) = parse_iso(text.as_bytes()).expect("parses");
        match style {
            2 => prop_assert_eq!(naive, secs + off),
            3 => prop_assert_eq!((naive, parsed_off), (secs, Some(0))),
            _ => prop_assert_eq!(naive - parsed_off.expect("offset"), secs),
        }
    }
}
