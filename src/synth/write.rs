//! Output files: the readings writer (Parquet row groups or CSV, optionally gzip), and the column
//! names and formatting of `meters.csv`, `labels.csv`, `feeders.csv`, `weather.csv`.
//!
//! Input: meters in id order, each with its readings (kWh per slot, `NaN` = missing). Output:
//! long-form rows `meter_id,timestamp,kwh`, present slots only, sorted by meter then time.
//! Invariants: the bytes written depend only on the rows, never on how the caller batched them:
//! Parquet row groups hold a fixed number of meters derived from the grid
//! ([`meters_per_row_group`]), and gzip input is fed in fixed-size blocks. Values are rounded to
//! 1 Wh; timestamps are UTC (`Datetime[us, UTC]` in Parquet, `2024-03-01T00:30:00Z` in CSV).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use flate2::Compression;
use polars::prelude::*;

use crate::grid::TimeGrid;

/// `meters.csv` header (the ingest metadata contract). `tz` is the zone the meter's schedules
/// were simulated in (`--tz`), so the detection judges them in that clock whatever zone the
/// coordinates fall in.
pub const METERS_HEADER: [&str; 9] = [
    "meter_id",
    "address",
    "feeder_id",
    "tariff",
    "lat",
    "lon",
    "registered_miner",
    "contracted_kw",
    "tz",
];

/// `labels.csv` header: the first six columns are the contract shared with
/// `../shared/peers/gen_region.py`; the rest are ours.
pub const LABELS_HEADER: [&str; 20] = [
    "meter_id",
    "kind",
    "is_mining",
    "n_devices",
    "device_kw",
    "onset",
    "rig_kw",
    "model",
    "onset_kind",
    "n_devices_at_onset",
    "growth_at",
    "growth_devices",
    "night_only",
    "intermittent",
    "bypass",
    "outages",
    "tariff",
    "feeder_id",
    "estimated_days",
    "gap_days",
];

/// Target rows per Parquet row group (a half-hourly month of 1,000 meters, as
/// `output::matrix` writes); a group always holds whole meters.
pub const ROW_GROUP_ROWS: usize = 1_440_000;
/// Uncompressed bytes handed to gzip at a time (fixed, so the stream does not depend on batching).
const GZIP_BLOCK: usize = 1 << 16;

/// Meters per Parquet row group for a grid of `n_slots`.
pub fn meters_per_row_group(n_slots: usize) -> usize {
    (ROW_GROUP_ROWS / n_slots.max(1)).max(1)
}

/// kWh rounded to 1 Wh.
pub fn round_wh(kwh: f64) -> f64 {
    (kwh * 1000.0).round() / 1000.0
}

/// `YYYY-MM-DDTHH:MM:SSZ` of a Unix time.
pub fn iso(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// Appends `kwh` (already rounded to 1 Wh) as a decimal with 3 places.
pub fn push_kwh(buf: &mut Vec<u8>, kwh: f64) {
    let wh = (kwh * 1000.0).round() as i64;
    let (sign, wh) = if wh < 0 { ("-", -wh) } else { ("", wh) };
    let _ = write!(buf, "{sign}{}.{:03}", wh / 1000, wh % 1000);
}

/// A write error with its path.
#[derive(Debug)]
pub struct WriteFailure {
    pub path: PathBuf,
    pub message: String,
}

fn fail(path: &Path, e: impl std::fmt::Display) -> WriteFailure {
    WriteFailure {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Feeds the inner writer in blocks of exactly [`GZIP_BLOCK`] bytes.
struct Blocks<W: Write> {
    inner: W,
    buf: Vec<u8>,
}

impl<W: Write> Blocks<W> {
    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.buf.extend_from_slice(bytes);
        if self.buf.len() >= GZIP_BLOCK {
            let full = self.buf.len() / GZIP_BLOCK * GZIP_BLOCK;
            for block in self.buf[..full].chunks(GZIP_BLOCK) {
                self.inner.write_all(block)?;
            }
            self.buf.drain(..full);
        }
        Ok(())
    }
    fn finish(mut self) -> std::io::Result<W> {
        self.inner.write_all(&self.buf)?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

enum Sink {
    Parquet {
        writer: Box<polars::io::parquet::write::BatchedWriter<File>>,
        ids: Vec<(String, usize)>,
        ts_us: Vec<i64>,
        kwh: Vec<f64>,
        meters_per_group: usize,
    },
    Csv(Blocks<BufWriter<File>>),
    CsvGz(Blocks<GzEncoder<BufWriter<File>>>),
}

/// Streams long-form readings to one file.
pub struct ReadingsWriter {
    path: PathBuf,
    sink: Sink,
    grid: TimeGrid,
    /// `YYYY-MM-DDTHH:MM:SSZ,` per slot, for CSV.
    stamps: Vec<String>,
    pub rows: u64,
}

impl std::fmt::Debug for ReadingsWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadingsWriter")
            .field("path", &self.path)
            .field("rows", &self.rows)
            .finish()
    }
}

/// The readings file name for a format.
pub fn readings_name(csv: bool, gzip: bool) -> &'static str {
    match (csv, gzip) {
        (false, _) => "readings.parquet",
        (true, false) => "readings.csv",
        (true, true) => "readings.csv.gz",
    }
}

impl ReadingsWriter {
    pub fn create(dir: &Path, csv: bool, gzip: bool, grid: TimeGrid) -> Result<Self, WriteFailure> {
        let path = dir.join(readings_name(csv, gzip));
        let file = File::create(&path).map_err(|e| fail(&path, e))?;
        let header = b"meter_id,timestamp,kwh\n";
        let sink = if !csv {
            let schema = Schema::from_iter([
                Field::new("meter_id".into(), DataType::String),
                Field::new(
                    "timestamp".into(),
                    DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC)),
                ),
                Field::new("kwh".into(), DataType::Float64),
            ]);
            let writer = Box::new(
                ParquetWriter::new(file)
                    .with_compression(ParquetCompression::Zstd(None))
                    .batched(&schema)
                    .map_err(|e| fail(&path, e))?,
            );
            Sink::Parquet {
                writer,
                ids: Vec::new(),
                ts_us: Vec::new(),
                kwh: Vec::new(),
                meters_per_group: meters_per_row_group(grid.n_slots),
            }
        } else if gzip {
            let gz = GzEncoder::new(BufWriter::new(file), Compression::default());
            let mut b = Blocks {
                inner: gz,
                buf: Vec::with_capacity(2 * GZIP_BLOCK),
            };
            b.write_all(header).map_err(|e| fail(&path, e))?;
            Sink::CsvGz(b)
        } else {
            let mut b = Blocks {
                inner: BufWriter::new(file),
                buf: Vec::with_capacity(2 * GZIP_BLOCK),
            };
            b.write_all(header).map_err(|e| fail(&path, e))?;
            Sink::Csv(b)
        };
        let stamps = if csv {
            (0..grid.n_slots)
                .map(|s| format!("{},", iso(grid.slot_start(s))))
                .collect()
        } else {
            Vec::new()
        };
        Ok(ReadingsWriter {
            path,
            sink,
            grid,
            stamps,
            rows: 0,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one meter's readings (kWh per slot, `NaN` = missing). Meters must come in id order.
    pub fn push(&mut self, id: &str, readings: &[f64]) -> Result<(), WriteFailure> {
        let present = readings.iter().filter(|v| !v.is_nan()).count();
        self.rows += present as u64;
        let flush = match &mut self.sink {
            Sink::Parquet {
                ids,
                ts_us,
                kwh,
                meters_per_group,
                ..
            } => {
                ids.push((id.to_string(), present));
                for (s, &v) in readings.iter().enumerate() {
                    if !v.is_nan() {
                        ts_us.push(self.grid.slot_start(s) * 1_000_000);
                        kwh.push(v);
                    }
                }
                ids.len() >= *meters_per_group
            }
            Sink::Csv(b) => {
                let bytes = csv_rows(id, readings, &self.stamps);
                b.write_all(&bytes).map_err(|e| fail(&self.path, e))?;
                false
            }
            Sink::CsvGz(b) => {
                let bytes = csv_rows(id, readings, &self.stamps);
                b.write_all(&bytes).map_err(|e| fail(&self.path, e))?;
                false
            }
        };
        if flush {
            self.flush_group()?;
        }
        Ok(())
    }

    fn flush_group(&mut self) -> Result<(), WriteFailure> {
        let Sink::Parquet {
            writer,
            ids,
            ts_us,
            kwh,
            ..
        } = &mut self.sink
        else {
            return Ok(());
        };
        if ids.is_empty() {
            return Ok(());
        }
        let id_col = StringChunked::from_iter_values(
            "meter_id".into(),
            ids.iter()
                .flat_map(|(id, n)| std::iter::repeat_n(id.as_str(), *n)),
        );
        let ts = Int64Chunked::from_vec("timestamp".into(), std::mem::take(ts_us))
            .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC));
        let kwh = Float64Chunked::from_vec("kwh".into(), std::mem::take(kwh));
        ids.clear();
        let df = DataFrame::new_infer_height(vec![
            id_col.into_column(),
            ts.into_column(),
            kwh.into_column(),
        ])
        .map_err(|e| fail(&self.path, e))?;
        writer.write_batch(&df).map_err(|e| fail(&self.path, e))
    }

    /// Writes what is buffered and closes the file.
    pub fn finish(mut self) -> Result<u64, WriteFailure> {
        self.flush_group()?;
        let path = self.path.clone();
        match self.sink {
            Sink::Parquet { writer, .. } => {
                writer.finish().map_err(|e| fail(&path, e))?;
            }
            Sink::Csv(b) => {
                b.finish().map_err(|e| fail(&path, e))?;
            }
            Sink::CsvGz(b) => {
                let gz = b.finish().map_err(|e| fail(&path, e))?;
                let mut inner = gz.finish().map_err(|e| fail(&path, e))?;
                inner.flush().map_err(|e| fail(&path, e))?;
            }
        }
        Ok(self.rows)
    }
}

fn csv_rows(id: &str, readings: &[f64], stamps: &[String]) -> Vec<u8> {
    let mut out = Vec::with_capacity(readings.len() * (id.len() + 28));
    for (v, stamp) in readings.iter().zip(stamps) {
        if v.is_nan() {
            continue;
        }
        out.extend_from_slice(id.as_bytes());
        out.push(b',');
        out.extend_from_slice(stamp.as_bytes());
        push_kwh(&mut out, *v);
        out.push(b'\n');
    }
    out
}

/// A CSV file written row by row (`meters.csv`, `labels.csv`, `feeders.csv`, `weather.csv`).
pub struct Table {
    path: PathBuf,
    w: csv::Writer<BufWriter<File>>,
    pub rows: u64,
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table").field("path", &self.path).finish()
    }
}

impl Table {
    pub fn create(path: PathBuf, header: &[&str]) -> Result<Self, WriteFailure> {
        let file = File::create(&path).map_err(|e| fail(&path, e))?;
        let mut w = csv::Writer::from_writer(BufWriter::new(file));
        w.write_record(header).map_err(|e| fail(&path, e))?;
        Ok(Table { path, w, rows: 0 })
    }

    pub fn row<I, T>(&mut self, fields: I) -> Result<(), WriteFailure>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        self.rows += 1;
        self.w.write_record(fields).map_err(|e| fail(&self.path, e))
    }

    pub fn finish(mut self) -> Result<PathBuf, WriteFailure> {
        self.w.flush().map_err(|e| fail(&self.path, e))?;
        Ok(self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kwh_formatting() {
        let mut b = Vec::new();
        for v in [0.0, 0.001, 1.5, 12.345, round_wh(0.12349)] {
            push_kwh(&mut b, v);
            b.push(b' ');
        }
        assert_eq!(
            String::from_utf8(b).unwrap(),
            "0.000 0.001 1.500 12.345 0.123 "
        );
        assert_eq!(iso(1_709_253_000), "2024-03-01T00:30:00Z");
    }

    #[test]
    fn csv_gz_round_trips_and_skips_missing() {
        use std::io::Read;
        let dir = tempfile::tempdir().unwrap();
        let g = TimeGrid {
            start: 1_709_251_200,
            interval_secs: 1800,
            n_slots: 3,
        };
        let mut w = ReadingsWriter::create(dir.path(), true, true, g).unwrap();
        w.push("M1", &[0.5, f64::NAN, 0.25]).unwrap();
        assert_eq!(w.finish().unwrap(), 2);
        let f = File::open(dir.path().join("readings.csv.gz")).unwrap();
        let mut text = String::new();
        flate2::read::GzDecoder::new(f)
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(
            text,
            "meter_id,timestamp,kwh\nM1,2024-03-01T00:00:00Z,0.500\nM1,2024-03-01T01:00:00Z,0.250\n"
        );
    }
}
