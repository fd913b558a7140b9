//! The matrix as long-form Parquet for analysts: `meter_id, timestamp (UTC), kwh, estimated`,
//! present slots only (a missing slot is an absent row, never a zero), in matrix order.
//! Written in row groups of [`METERS_PER_GROUP`] meters, so memory stays bounded.

use std::path::Path;

use polars::prelude::*;

use crate::grid::LoadMatrix;

/// Meters per Parquet row group (~1.4 M rows for a half-hourly month).
pub const METERS_PER_GROUP: usize = 1000;

fn chunk_frame(m: &LoadMatrix, meters: std::ops::Range<usize>) -> PolarsResult<DataFrame> {
    let mut ids: Vec<&str> = Vec::new();
    let mut ts: Vec<i64> = Vec::new();
    let mut kwh: Vec<f32> = Vec::new();
    let mut est: Vec<bool> = Vec::new();
    for i in meters {
        let id = &*m.meter_ids()[i];
        for (s, &v) in m.row(i).iter().enumerate() {
            if v.is_nan() {
                continue;
            }
            ids.push(id);
            ts.push(m.grid.slot_start(s) * 1000);
            kwh.push(v);
            est.push(m.is_estimated(i, s));
        }
    }
    let ts = Int64Chunked::from_vec("timestamp".into(), ts)
        .into_datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC))
        .into_series();
    DataFrame::new_infer_height(vec![
        Column::new("meter_id".into(), ids),
        ts.into_column(),
        Column::new("kwh".into(), kwh),
        Column::new("estimated".into(), est),
    ])
}

/// Writes `m` to `path`.
pub fn write_matrix_parquet(m: &LoadMatrix, path: &Path) -> PolarsResult<()> {
    let file = std::fs::File::create(path)?;
    let first = chunk_frame(m, 0..m.n_meters().min(METERS_PER_GROUP))?;
    let mut w = ParquetWriter::new(file)
        .with_compression(ParquetCompression::Zstd(None))
        .batched(first.schema())?;
    w.write_batch(&first)?;
    let mut start = METERS_PER_GROUP;
    while start < m.n_meters() {
        let end = (start + METERS_PER_GROUP).min(m.n_meters());
        w.write_batch(&chunk_frame(m, start..end)?)?;
        start = end;
    }
    w.finish()?;
    Ok(())
}
