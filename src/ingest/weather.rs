//! Weather: `timestamp,temperature_c` onto the meters' grid.
//!
//! Readings inside a slot are averaged; slots between readings are filled by linear
//! interpolation when the gap is at most [`MAX_GAP_SECS`] (hourly weather on a half-hourly grid is
//! the common case); longer gaps stay `NaN`. Temperatures outside [`MIN_C`, `MAX_C`] are
//! quarantined as implausible.

use std::path::Path;

use super::error::IngestError;
use super::long_csv::{csv_err, header_strings, line_reader, required, time_reason};
use super::quality::{QualityLog, Reason, RowLoc};
use super::time::Stamp;
use super::value::{parse_value, trim, NullTokens};
use super::TimeSpec;
use crate::grid::TimeGrid;

/// Interpolate across gaps up to 3 hours (weather stations report hourly or better).
pub const MAX_GAP_SECS: i64 = 3 * 3600;
/// Coldest and hottest air temperatures on record are about -89 C and +57 C.
pub const MIN_C: f64 = -90.0;
pub const MAX_C: f64 = 60.0;

/// Temperature per grid slot, `NaN` where unknown.
#[derive(Debug, Clone)]
pub struct Weather {
    pub temperature_c: Vec<f32>,
}

/// Reads a weather file onto `grid`.
pub fn read_weather(
    path: &Path,
    time: &TimeSpec,
    grid: &TimeGrid,
) -> Result<(Weather, QualityLog), IngestError> {
    let mut q = QualityLog::new("weather");
    let file = q.add_file(path);
    let (mut rdr, line_no) = line_reader(path, b',')?;
    let mut rec = csv::ByteRecord::new();
    if !rdr
        .read_byte_record(&mut rec)
        .map_err(|e| csv_err(path, &e, line_no.get()))?
    {
        return Err(IngestError::EmptyFile {
            path: path.to_path_buf(),
        });
    }
    let headers = header_strings(&rec);
    let c_t = required(
        path,
        &headers,
        "timestamp",
        "a 'timestamp' header in the weather file",
        &[],
    )?;
    let c_v = required(
        path,
        &headers,
        "temperature_c",
        "a 'temperature_c' header in the weather file",
        &[],
    )?;
    let mut parser = time.parser();
    let nulls = NullTokens::default();
    let mut points: Vec<(i64, f64)> = Vec::new();
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_err(path, &e, line_no.get())),
        }
        if rec.len() == 1 && rec[0].is_empty() {
            continue;
        }
        let loc = RowLoc {
            file,
            row: line_no.get(),
        };
        q.readings_read += 1;
        if rec.len() <= c_t.max(c_v) {
            q.reject(
                loc,
                "",
                "",
                Reason::ShortRow,
                format!("{} fields", rec.len()),
                1,
            );
            continue;
        }
        let t = match parser.parse(&rec[c_t]) {
            Ok(Stamp::At(t)) | Ok(Stamp::Ambiguous(t, _)) => t,
            Err(e) => {
                let (r, hint) = time_reason(&e);
                q.reject(
                    loc,
                    "timestamp",
                    "",
                    r,
                    format!("{:?}: {hint}", String::from_utf8_lossy(trim(&rec[c_t]))),
                    1,
                );
                continue;
            }
        };
        match parse_value(&rec[c_v], &nulls) {
            Ok(v) if (MIN_C..=MAX_C).contains(&v) => {
                q.readings_used += 1;
                // Only points that can reach the grid are kept (the file may cover decades).
                if t >= grid.start - MAX_GAP_SECS && t <= grid.end() + MAX_GAP_SECS {
                    points.push((t, v));
                }
            }
            Ok(v) => q.reject(
                loc,
                "temperature_c",
                "",
                Reason::AbovePhysicalMax,
                format!(
                    "{} C is outside [{MIN_C}, {MAX_C}]",
                    crate::numfmt::compact(v)
                ),
                1,
            ),
            Err(r) => q.reject(
                loc,
                "temperature_c",
                "",
                r,
                format!("{:?}", String::from_utf8_lossy(&rec[c_v])),
                1,
            ),
        }
    }
    points.sort_by_key(|p| p.0);
    Ok((
        Weather {
            temperature_c: onto_grid(&points, grid),
        },
        q,
    ))
}

/// Slot means, then linear interpolation over short gaps. `points` sorted by time.
pub fn onto_grid(points: &[(i64, f64)], grid: &TimeGrid) -> Vec<f32> {
    let n = grid.n_slots;
    let mut sum = vec![0f64; n];
    let mut cnt = vec![0u32; n];
    for &(t, v) in points {
        if let Some(s) = grid.slot_of(t) {
            sum[s] += v;
            cnt[s] += 1;
        }
    }
    let mut out: Vec<f32> = (0..n)
        .map(|s| {
            if cnt[s] > 0 {
                (sum[s] / f64::from(cnt[s])) as f32
            } else {
                f32::NAN
            }
        })
        .collect();
    // Interpolate at each empty slot's start: a reading is taken to hold at its instant, and a
    // slot holding a reading is labelled by its start, so both conventions agree.
    let mid = |s: usize| grid.slot_start(s);
    let mut j = 0usize;
    for (s, o) in out.iter_mut().enumerate() {
        if !o.is_nan() {
            continue;
        }
        let t = mid(s);
        while j + 1 < points.len() && points[j + 1].0 <= t {
            j += 1;
        }
        if j + 1 < points.len() && points[j].0 <= t && points[j + 1].0 > t {
            let (t0, v0) = points[j];
            let (t1, v1) = points[j + 1];
            if t1 - t0 <= MAX_GAP_SECS {
                *o = (v0 + (v1 - v0) * (t - t0) as f64 / (t1 - t0) as f64) as f32;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hourly_weather_fills_half_hour_grid() {
        let grid = TimeGrid {
            start: 0,
            interval_secs: 1800,
            n_slots: 6,
        };
        let pts = [(0, 10.0), (3600, 12.0), (7200, 14.0)];
        let w = onto_grid(&pts, &grid);
        assert_eq!(w[0], 10.0);
        assert!((w[1] - 11.0).abs() < 1e-6, "{}", w[1]);
        assert_eq!(w[2], 12.0);
        assert_eq!(w[4], 14.0);
        assert!(w[5].is_nan(), "no reading after the last one");
    }

    #[test]
    fn long_gaps_stay_missing() {
        let grid = TimeGrid {
            start: 0,
            interval_secs: 3600,
            n_slots: 10,
        };
        let w = onto_grid(&[(0, 1.0), (9 * 3600, 2.0)], &grid);
        assert!(w[1..9].iter().all(|v| v.is_nan()));
    }
}
