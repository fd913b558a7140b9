//! Long-form readings from Parquet, streamed one row-group slice at a time.
//!
//! Only the three configured columns are decoded, and at most [`BATCH_ROWS`] rows are in memory
//! at once, so a 144 M-row file costs one batch, not the whole table. Accepted column types:
//! meter id as string or integer; timestamp as Datetime (any unit; with a zone it is an instant,
//! without one it is local time in `--tz`), Date, or string (parsed like CSV); value as any
//! numeric type.

use std::path::Path;

use polars::prelude::*;

use super::accumulate::Accumulator;
use super::error::IngestError;
use super::long_csv::{find_column, missing_column, time_reason};
use super::quality::{Reason, RowLoc};
use super::time::Stamp;
use super::{LongFormat, Progress};

/// Upper bound on rows decoded at once (row groups larger than this are read in slices).
pub const BATCH_ROWS: usize = 1 << 20;

fn perr(path: &Path, e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> IngestError {
    IngestError::Parquet {
        path: path.to_path_buf(),
        source: e.into(),
    }
}

enum TimeCol {
    /// Integer instants in `div` units per second; `local`: naive (apply --tz).
    Int {
        div: i64,
        local: bool,
    },
    Date,
    Text,
}

/// Streams one Parquet file of long-form readings into `acc`.
///
/// The Parquet decoder (polars) trusts the file's metadata: a corrupt file whose column chunks
/// point past its end makes it panic. That panic is caught and reported as an unreadable file
/// (exit 2 with the fix), as for any other corrupt file; the fuzzer found it (fuzz/README.md).
pub fn read_long_parquet(
    path: &Path,
    fmt: &LongFormat,
    acc: &mut Accumulator,
    progress: &Progress,
) -> Result<(), IngestError> {
    read_long_parquet_groups(path, fmt, acc, progress, None)
}

/// Rows of each row group of a Parquet file (from its footer).
pub fn row_group_rows(path: &Path) -> Result<Vec<usize>, IngestError> {
    let file = std::fs::File::open(path).map_err(|e| IngestError::open(path, e))?;
    let mut reader = ParquetReader::new(file);
    let metadata = reader.get_metadata().map_err(|e| perr(path, e))?;
    Ok(metadata.row_groups.iter().map(|rg| rg.num_rows()).collect())
}

/// [`read_long_parquet`] of the row groups `groups` only (`None` = all): one chunk of the
/// meters of a file sorted by meter. Row numbers in data-quality records stay the file's.
pub fn read_long_parquet_groups(
    path: &Path,
    fmt: &LongFormat,
    acc: &mut Accumulator,
    progress: &Progress,
    groups: Option<std::ops::Range<usize>>,
) -> Result<(), IngestError> {
    let file_idx = acc.quality.add_file(path);
    let file = std::fs::File::open(path).map_err(|e| IngestError::open(path, e))?;
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        read_opened(path, file, file_idx, fmt, acc, progress, groups)
    }))
    .unwrap_or_else(|panic| {
        let msg = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_string()))
            .unwrap_or_else(|| "no message".into());
        Err(perr(
            path,
            format!("the Parquet decoder failed on this file ({msg}); it is corrupt or cut short"),
        ))
    })
}

fn read_opened(
    path: &Path,
    file: std::fs::File,
    file_idx: u32,
    fmt: &LongFormat,
    acc: &mut Accumulator,
    progress: &Progress,
    groups: Option<std::ops::Range<usize>>,
) -> Result<(), IngestError> {
    let file_bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut reader = ParquetReader::new(file);
    let schema = reader.schema().map_err(|e| perr(path, e))?;
    let headers: Vec<String> = schema.iter_names().map(|n| n.to_string()).collect();
    let names = [
        fmt.meter_col.as_str(),
        fmt.time_col.as_str(),
        fmt.value_col.as_str(),
    ];
    let col = |name: &str, flag: &str| -> Result<String, IngestError> {
        find_column(&headers, name)
            .map(|i| headers[i].clone())
            .ok_or_else(|| missing_column(path, &headers, name, flag, &names))
    };
    let c_meter = col(&fmt.meter_col, "--meter-col")?;
    let c_time = col(&fmt.time_col, "--time-col")?;
    let c_value = col(&fmt.value_col, "--value-col")?;
    let metadata = reader.get_metadata().map_err(|e| perr(path, e))?.clone();
    check_pages(path, &metadata, &[&c_meter, &c_time, &c_value])?;
    let total_rows = metadata.num_rows;
    // Slices aligned to row groups, each at most BATCH_ROWS.
    // (row group, offset in it, rows, offset in the file)
    let mut slices = Vec::new();
    let mut offset = 0usize;
    for (g, rg) in metadata.row_groups.iter().enumerate() {
        let n = rg.num_rows();
        let mut done = if groups.as_ref().is_some_and(|r| !r.contains(&g)) {
            n
        } else {
            0
        };
        while done < n {
            let len = (n - done).min(BATCH_ROWS);
            slices.push((g, done, len, offset + done));
            done += len;
        }
        offset += n;
    }
    // Decode the next slice on a second thread while this one is placed: the two halves of
    // the work take similar time, so the wall time approaches the slower of the two.
    let columns = vec![c_meter.clone(), c_time.clone(), c_value.clone()];
    let (tx, rx) =
        std::sync::mpsc::sync_channel::<(usize, usize, Result<DataFrame, IngestError>)>(1);
    std::thread::scope(|scope| {
        let metadata = &metadata;
        let columns = &columns;
        scope.spawn(move || {
            // polars' slice reader visits every row group before the slice (slice k costs
            // O(k): quadratic over a file), so each read sees a footer holding one row group;
            // column chunks carry absolute file offsets, so the file itself is unchanged.
            let mut base = (**metadata).clone();
            base.row_groups = Vec::new();
            for (g, in_rg, len, start) in slices {
                let mut one = base.clone();
                one.row_groups = vec![metadata.row_groups[g].clone()];
                one.num_rows = metadata.row_groups[g].num_rows();
                let df = decode_slice(path, columns, &std::sync::Arc::new(one), in_rg, len);
                if tx.send((start, len, df)).is_err() {
                    break;
                }
            }
        });
        place_batches(
            rx, path, file_idx, &c_meter, &c_time, &c_value, fmt, acc, progress, file_bytes,
            total_rows,
        )
    })
}

/// Checks every page header of `columns` before polars decodes them: polars sizes its buffers
/// from the value counts of a page header (a negative count becomes 2^64 - 1 values, an
/// allocation of 2^61 bytes that aborts the process, as the fuzzer found). A count below zero or
/// above its row group's rows, a negative or runaway page size, or a page running past its column
/// chunk is a corrupt file. Only the headers are read (a few kB per page of about 1 MB).
fn check_pages(
    path: &Path,
    metadata: &polars::io::parquet::read::FileMetadata,
    columns: &[&str],
) -> Result<(), IngestError> {
    use polars_parquet_format::thrift::protocol::TCompactInputProtocol;
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path).map_err(|e| IngestError::open(path, e))?;
    let file_len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let corrupt = |what: String| perr(path, format!("corrupt page header: {what}"));
    let mut buf = Vec::new();
    for (g, rg) in metadata.row_groups.iter().enumerate() {
        let rows = rg.num_rows() as i64;
        for name in columns {
            let Some(idxs) = rg.columns_idxs_under_root_iter(name) else {
                continue;
            };
            for &ci in idxs {
                let Some(chunk) = rg.parquet_columns().get(ci) else {
                    return Err(corrupt(format!("row group {g} lists a missing column")));
                };
                let range = chunk.byte_range();
                if range.end > file_len || range.start > range.end {
                    return Err(corrupt(format!(
                        "column {name:?} of row group {g} lies at bytes {}..{}, past the end of the \
                         file ({file_len} bytes)",
                        range.start, range.end
                    )));
                }
                let total = chunk.num_values();
                let (mut pos, mut seen) = (range.start, 0i64);
                while pos < range.end && seen < total {
                    // A header is a few dozen bytes; statistics can make it longer.
                    let mut header = None;
                    for want in [8usize << 10, 1 << 20, 16 << 20] {
                        let n = (range.end - pos).min(want as u64) as usize;
                        buf.resize(n, 0);
                        file.seek(SeekFrom::Start(pos))
                            .and_then(|_| file.read_exact(&mut buf))
                            .map_err(|e| perr(path, e))?;
                        let mut cursor = std::io::Cursor::new(&buf[..]);
                        let mut prot = TCompactInputProtocol::new(&mut cursor, n);
                        if let Ok(h) =
                            polars_parquet_format::PageHeader::read_from_in_protocol(&mut prot)
                        {
                            header = Some((h, cursor.position()));
                            break;
                        }
                        if n < want {
                            break; // the whole rest of the chunk did not hold a header
                        }
                    }
                    let Some((h, header_len)) = header else {
                        return Err(corrupt(format!(
                            "column {name:?} of row group {g}: no readable page header at byte {pos}"
                        )));
                    };
                    let values = [
                        h.data_page_header.as_ref().map(|d| i64::from(d.num_values)),
                        h.data_page_header_v2
                            .as_ref()
                            .map(|d| i64::from(d.num_values)),
                        h.data_page_header_v2
                            .as_ref()
                            .map(|d| i64::from(d.num_rows)),
                        h.data_page_header_v2
                            .as_ref()
                            .map(|d| i64::from(d.num_nulls)),
                        h.dictionary_page_header
                            .as_ref()
                            .map(|d| i64::from(d.num_values)),
                    ];
                    let bad_count = values
                        .iter()
                        .flatten()
                        .any(|&v| v < 0 || v > rows.max(total));
                    let sizes_bad = h.compressed_page_size < 0
                        || h.uncompressed_page_size < 0
                        || pos + header_len + h.compressed_page_size as u64 > range.end;
                    if bad_count || sizes_bad {
                        return Err(corrupt(format!(
                            "column {name:?} of row group {g}, page at byte {pos}: {} values, {} bytes \
                             ({} uncompressed) in a row group of {rows} rows and a chunk ending at byte {}",
                            values.iter().flatten().next().copied().unwrap_or(0),
                            h.compressed_page_size,
                            h.uncompressed_page_size,
                            range.end
                        )));
                    }
                    if let Some(d) = &h.data_page_header {
                        seen += i64::from(d.num_values);
                    }
                    if let Some(d) = &h.data_page_header_v2 {
                        seen += i64::from(d.num_values);
                    }
                    pos += header_len + h.compressed_page_size as u64;
                }
            }
        }
    }
    Ok(())
}

fn decode_slice(
    path: &Path,
    columns: &[String],
    metadata: &polars::io::parquet::metadata::FileMetadataRef,
    start: usize,
    len: usize,
) -> Result<DataFrame, IngestError> {
    let file = std::fs::File::open(path).map_err(|e| IngestError::open(path, e))?;
    let mut r = ParquetReader::new(file)
        .with_columns(Some(columns.to_vec()))
        .with_slice(Some((start, len)))
        .read_parallel(ParallelStrategy::Columns);
    r.set_metadata(metadata.clone());
    r.finish().map_err(|e| perr(path, e))
}

/// Consumes decoded batches (dropping `rx` on error stops the decoder).
#[allow(clippy::too_many_arguments)]
fn place_batches(
    rx: std::sync::mpsc::Receiver<(usize, usize, Result<DataFrame, IngestError>)>,
    path: &Path,
    file_idx: u32,
    c_meter: &str,
    c_time: &str,
    c_value: &str,
    fmt: &LongFormat,
    acc: &mut Accumulator,
    progress: &Progress,
    file_bytes: u64,
    total_rows: usize,
) -> Result<(), IngestError> {
    let mut parser = fmt.time_parser();
    let (scale, unit) = fmt.unit.scale();
    let value_col_name = acc.config().value_column;
    for (start, len, df) in rx {
        if acc.failed() {
            break; // over the memory budget: load() reports it
        }
        let df = df?;
        let meters = df.column(c_meter).map_err(|e| perr(path, e))?;
        let meters = match meters.dtype() {
            DataType::String => meters.clone(),
            dt if dt.is_integer() => meters.cast(&DataType::String).map_err(|e| perr(path, e))?,
            dt => {
                return Err(type_err(
                    path,
                    c_meter,
                    dt,
                    "string or integer",
                    "--meter-col",
                ))
            }
        };
        let meters = meters.str().map_err(|e| perr(path, e))?;
        let times = df.column(c_time).map_err(|e| perr(path, e))?;
        let (time_kind, times) = match times.dtype() {
            DataType::Datetime(tu, tz) => {
                let div = match tu {
                    TimeUnit::Nanoseconds => 1_000_000_000,
                    TimeUnit::Microseconds => 1_000_000,
                    TimeUnit::Milliseconds => 1_000,
                };
                let c = times.cast(&DataType::Int64).map_err(|e| perr(path, e))?;
                (
                    TimeCol::Int {
                        div,
                        local: tz.is_none(),
                    },
                    c,
                )
            }
            DataType::Date => (
                TimeCol::Date,
                times
                    .cast(&DataType::Int32)
                    .map_err(|e| perr(path, e))?
                    .cast(&DataType::Int64)
                    .map_err(|e| perr(path, e))?,
            ),
            DataType::String => (TimeCol::Text, times.clone()),
            dt => {
                return Err(type_err(
                    path,
                    c_time,
                    dt,
                    "datetime, date or string",
                    "--time-col",
                ))
            }
        };
        let values = df.column(c_value).map_err(|e| perr(path, e))?;
        if !values.dtype().is_primitive_numeric() {
            return Err(type_err(
                path,
                c_value,
                values.dtype(),
                "numeric",
                "--value-col",
            ));
        }
        let values = values.cast(&DataType::Float64).map_err(|e| perr(path, e))?;
        let values = values.f64().map_err(|e| perr(path, e))?;
        let ints = match time_kind {
            TimeCol::Text => None,
            _ => Some(times.i64().map_err(|e| perr(path, e))?),
        };
        let texts = match time_kind {
            TimeCol::Text => Some(times.str().map_err(|e| perr(path, e))?),
            _ => None,
        };
        // Fast path: one chunk, no nulls, UTC instants, string ids: whole runs of one meter.
        if let (TimeCol::Int { div, local: false }, Some(ints)) = (&time_kind, ints) {
            let ids = meters.rechunk();
            let ints = ints.rechunk();
            let vals = values.rechunk();
            if let (Some(id_arr), Ok(ts), Ok(vs)) = (
                (ids.chunks().len() == 1 && !ids.has_nulls())
                    .then(|| ids.downcast_iter().next())
                    .flatten(),
                ints.cont_slice(),
                vals.cont_slice(),
            ) {
                acc.quality.readings_read += ts.len() as u64;
                let views = id_arr.views();
                let mut i = 0;
                while i < ts.len() {
                    let v0 = views[i];
                    let mut j = i + 1;
                    while j < ts.len() && views[j] == v0 {
                        j += 1;
                    }
                    let id = id_arr.value(i);
                    acc.push_run(
                        id,
                        &ts[i..j],
                        *div,
                        &vs[i..j],
                        scale,
                        unit,
                        file_idx,
                        (start + i + 1) as u64,
                    );
                    i = j;
                }
                if total_rows > 0 {
                    progress.inc((file_bytes as u128 * len as u128 / total_rows as u128) as u64);
                }
                continue;
            }
        }
        let mut int_iter = ints.map(|c| c.iter());
        let mut text_iter = texts.map(|c| c.iter());
        for (i, (meter, value)) in meters.iter().zip(values.iter()).enumerate() {
            let loc = RowLoc {
                file: file_idx,
                row: (start + i + 1) as u64,
            };
            acc.quality.readings_read += 1;
            let t_int = int_iter.as_mut().and_then(|it| it.next()).flatten();
            let t_text = text_iter.as_mut().and_then(|it| it.next()).flatten();
            let meter = meter.unwrap_or("");
            let stamp = match (&time_kind, t_int, t_text) {
                (TimeCol::Int { div, local }, Some(v), _) => {
                    let secs = v.div_euclid(*div);
                    if *local {
                        parser.localize(secs)
                    } else {
                        Ok(Stamp::At(secs))
                    }
                }
                (TimeCol::Date, Some(days), _) => parser.localize(days * 86_400),
                (TimeCol::Text, _, Some(s)) => parser.parse(s.as_bytes()),
                _ => Err(super::time::TimeError::Unparseable),
            };
            let stamp = match stamp {
                Ok(s) => s,
                Err(e) => {
                    let (reason, hint) = time_reason(&e);
                    acc.quality.reject(loc, "timestamp", meter, reason, hint, 1);
                    continue;
                }
            };
            match value {
                Some(v) if v.is_finite() => acc.push(meter, stamp, v * scale, unit, false, loc),
                Some(v) => acc.quality.reject(
                    loc,
                    value_col_name,
                    meter,
                    Reason::NotFinite,
                    format!("value {}", crate::numfmt::compact(v)),
                    1,
                ),
                None => {
                    acc.quality
                        .reject(loc, value_col_name, meter, Reason::NullValue, "null", 1)
                }
            }
        }
        if total_rows > 0 {
            progress.inc((file_bytes as u128 * len as u128 / total_rows as u128) as u64);
        }
    }
    Ok(())
}

fn type_err(path: &Path, column: &str, dt: &DataType, expected: &str, flag: &str) -> IngestError {
    IngestError::ColumnType {
        path: path.to_path_buf(),
        column: column.to_string(),
        dtype: dt.to_string(),
        expected: expected.to_string(),
        fix: format!("point {flag} at the right column or cast it when exporting"),
    }
}
