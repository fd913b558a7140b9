//! Ingest throughput: long-form Parquet and CSV of a generated region, swept over meter counts.
//!
//! The data are written once per size into a temporary directory (30 days, half-hourly, sorted
//! by meter then time, as a meter-data system exports them). Whole-pipeline figures at 100k and
//! 1M meters, with peak memory and the polars read floor side by side, come from
//! `benches/ingest_scale.sh`.

use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use gridsleuth::ingest::{self, IngestOptions, ReadingsFormat};
use polars::prelude::*;

const DAYS: i64 = 30;
const SLOTS: i64 = DAYS * 48;
const START: i64 = 1_704_067_200; // 2024-01-01T00:00:00Z

/// A household-like series: base load, evening peak, deterministic noise.
fn value(meter: i64, slot: i64) -> f64 {
    let h = (slot % 48) as f64 / 2.0;
    let x = (meter.wrapping_mul(2_654_435_761) ^ slot.wrapping_mul(40_503)) as u64;
    let noise = (x % 1000) as f64 / 10_000.0;
    let peak = if (17.0..21.0).contains(&h) { 0.4 } else { 0.0 };
    ((0.1 + peak + noise) * 1000.0).round() / 1000.0
}

fn write_region(dir: &Path, meters: i64) -> (PathBuf, PathBuf) {
    let mut ids = Vec::new();
    let mut ts = Vec::new();
    let mut kwh = Vec::new();
    for m in 0..meters {
        for s in 0..SLOTS {
            ids.push(format!("M{m:07}"));
            ts.push((START + s * 1800) * 1_000_000);
            kwh.push(value(m, s));
        }
    }
    let csv_path = dir.join(format!("r{meters}.csv"));
    let mut csv = String::from("meter_id,timestamp,kwh\n");
    for i in 0..ids.len() {
        let t = chrono::DateTime::from_timestamp(ts[i] / 1_000_000, 0).unwrap_or_default();
        csv.push_str(&format!(
            "{},{},{}\n",
            ids[i],
            t.format("%Y-%m-%dT%H:%M:%SZ"),
            kwh[i]
        ));
    }
    std::fs::write(&csv_path, csv).expect("write csv");
    let ts = Int64Chunked::from_vec("timestamp".into(), ts)
        .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
        .into_series();
    let mut df = DataFrame::new_infer_height(vec![
        Column::new("meter_id".into(), ids),
        ts.into_column(),
        Column::new("kwh".into(), kwh),
    ])
    .expect("frame");
    let pq_path = dir.join(format!("r{meters}.parquet"));
    let f = std::fs::File::create(&pq_path).expect("create parquet");
    ParquetWriter::new(f)
        .with_row_group_size(Some(1 << 20))
        .finish(&mut df)
        .expect("write parquet");
    (csv_path, pq_path)
}

fn options(path: &Path, format: ReadingsFormat) -> IngestOptions {
    let args = gridsleuth::settings::IngestFlags {
        readings: vec![path.display().to_string()],
        format: Some(format),
        ..Default::default()
    };
    gridsleuth::settings::resolve_ingest(&args, false).expect("settings")
}

fn bench_ingest(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut group = c.benchmark_group("ingest");
    group.sample_size(10);
    for meters in [1_000i64, 10_000] {
        let (csv, pq) = write_region(dir.path(), meters);
        group.throughput(Throughput::Elements((meters * SLOTS) as u64));
        let pq_opts = options(&pq, ReadingsFormat::Parquet);
        group.bench_with_input(BenchmarkId::new("parquet", meters), &pq_opts, |b, o| {
            b.iter(|| ingest::load(o).expect("load"))
        });
        let csv_opts = options(&csv, ReadingsFormat::Csv);
        group.bench_with_input(BenchmarkId::new("csv", meters), &csv_opts, |b, o| {
            b.iter(|| ingest::load(o).expect("load"))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_ingest);
criterion_main!(benches);
