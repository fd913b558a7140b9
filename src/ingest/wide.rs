//! Wide-form readings: one row per meter and local day, one column per interval.
//!
//! Input: a CSV (optionally gzip) whose header names an id column, a date column and optionally an
//! "estimated" flag column ([`WideFormat`]); every column *after* the last of those is an interval
//! column, in time order. Their count N must split a day evenly (48 = 30 min, 96 = 15 min,
//! 24 = 60 min), else the file is rejected as malformed. Output: one [`Accumulator::push`] per
//! interval cell, stamped with the interval start: local midnight of the row's date plus
//! `k * 1440 / N` minutes, resolved in the configured zone with its DST policy (on a
//! spring-forward day the cells inside the gap are quarantined as `dst_gap` under the default
//! policy; on a fall-back day the repeated hour appears once and resolves like any repeated time).
//!
//! Invariants: every interval cell of every non-blank row is counted once in `readings_read` and
//! then pushed or rejected; a row with a bad date or no id is one record for its N readings; a
//! short row is one `short_row` record for the missing cells, its present cells are read. A flag
//! value the reader does not recognise keeps the row but marks it estimated (an unproven actual is
//! not evidence) and is reported in the log notes.

use std::path::Path;

use chrono::{Datelike, NaiveDate};

use super::accumulate::Accumulator;
use super::error::IngestError;
use super::long_csv::{csv_err, header_strings, line_reader, required, time_reason};
use super::quality::{Reason, RowLoc};
use super::time::days_from_civil;
use super::value::{parse_value, trim};
use super::{Progress, WideFormat};

/// Minutes in a (non-DST) day: the interval columns must divide it evenly.
const MINUTES_PER_DAY: usize = 1440;

/// Rows between progress updates.
const PROGRESS_EVERY: u64 = 1024;

/// Things worth telling the user that reject nothing.
#[derive(Debug, Default)]
struct Notes {
    unknown_flags: u64,
    first_unknown: Option<(u64, String)>,
    extra_fields: u64,
    first_extra: u64,
}

/// Streams one wide CSV file into `acc`.
pub fn read_wide(
    path: &Path,
    fmt: &WideFormat,
    acc: &mut Accumulator,
    progress: &Progress,
) -> Result<(), IngestError> {
    let file_idx = acc.quality.add_file(path);
    let (mut rdr, line_no) = line_reader(path, fmt.delimiter)?;
    let mut rec = csv::ByteRecord::new();
    if !rdr
        .read_byte_record(&mut rec)
        .map_err(|e| csv_err(path, &e, line_no.get()))?
    {
        return Err(IngestError::EmptyFile {
            path: path.to_path_buf(),
        });
    }
    let header_line = line_no.get();
    let mut headers = header_strings(&rec);
    // A trailing delimiter on the header line is not an interval column.
    while headers.last().is_some_and(|h| h.trim().is_empty()) {
        headers.pop();
    }
    let names = [
        fmt.id_col.as_str(),
        fmt.date_col.as_str(),
        fmt.estimated_col.as_deref().unwrap_or(""),
    ];
    let c_id = required(path, &headers, &fmt.id_col, "--wide-id-col", &names)?;
    let c_date = required(path, &headers, &fmt.date_col, "--wide-date-col", &names)?;
    let c_est = match &fmt.estimated_col {
        Some(name) => Some(required(
            path,
            &headers,
            name,
            "--wide-estimated-col",
            &names,
        )?),
        None => None,
    };
    let first = c_id.max(c_date).max(c_est.unwrap_or(0)) + 1;
    let n = headers.len().saturating_sub(first);
    if n == 0 || !MINUTES_PER_DAY.is_multiple_of(n) {
        return Err(IngestError::Malformed {
            path: path.to_path_buf(),
            line: header_line,
            message: format!(
                "{n} interval columns after {:?}; a day of 1440 minutes does not split into {n} equal intervals \
                 (48 = 30 min, 96 = 15 min, 24 = 60 min)",
                headers[first - 1]
            ),
            fix: "put the id, date and estimated columns before the interval columns and drop other columns \
                  after them; exports with 46/50 columns on DST days must be converted to long form"
                .into(),
        });
    }
    let step = (MINUTES_PER_DAY / n * 60) as i64;
    let mut parser = fmt.time.parser();
    let (scale, unit) = fmt.unit.scale();
    let value_col = acc.config().value_column;
    let mut notes = Notes::default();
    let (mut rows, mut last_pos) = (0u64, 0u64);
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_err(path, &e, line_no.get())),
        }
        if rec.iter().all(|f| trim(f).is_empty()) {
            continue; // a blank line (or one of bare delimiters) holds no reading
        }
        if acc.failed() {
            break; // over the memory budget: load() reports it
        }
        let line = line_no.get();
        let loc = RowLoc {
            file: file_idx,
            row: line,
        };
        acc.quality.readings_read += n as u64;
        let nr = n as u64;
        let meter = String::from_utf8_lossy(trim(rec.get(c_id).unwrap_or_default()));
        if rec.len() < first {
            let detail = format!(
                "{} fields; the interval columns start at field {}",
                rec.len(),
                first + 1
            );
            acc.quality
                .reject(loc, "", &meter, Reason::ShortRow, detail, nr);
            continue;
        }
        if meter.is_empty() {
            acc.quality.reject(
                loc,
                "meter_id",
                "",
                Reason::MissingMeterId,
                "empty meter id",
                nr,
            );
            continue;
        }
        let raw_date = trim(&rec[c_date]);
        let Some(day) = parse_date(raw_date, &fmt.date_format) else {
            let detail = format!(
                "date {:?} does not match {:?}; set --date-format",
                String::from_utf8_lossy(raw_date),
                fmt.date_format
            );
            acc.quality
                .reject(loc, "date", &meter, Reason::BadTimestamp, detail, nr);
            continue;
        };
        let estimated = match c_est {
            None => false,
            Some(c) => {
                let raw = trim(&rec[c]);
                estimated_flag(raw).unwrap_or_else(|| {
                    notes.unknown_flags += 1;
                    if notes.first_unknown.is_none() {
                        notes.first_unknown =
                            Some((line, String::from_utf8_lossy(raw).into_owned()));
                    }
                    true
                })
            }
        };
        let midnight = days_from_civil(
            i64::from(day.year()),
            i64::from(day.month()),
            i64::from(day.day()),
        ) * 86_400;
        let present = rec.len().min(first + n) - first;
        for k in 0..present {
            let stamp = match parser.localize(midnight + k as i64 * step) {
                Ok(s) => s,
                Err(e) => {
                    let (reason, hint) = time_reason(&e);
                    let detail = format!("{day} {:?}: {hint}", headers[first + k]);
                    acc.quality
                        .reject(loc, "timestamp", &meter, reason, detail, 1);
                    continue;
                }
            };
            let cell = &rec[first + k];
            match parse_value(cell, &fmt.nulls) {
                Ok(v) => acc.push(&meter, stamp, v * scale, unit, estimated, loc),
                Err(reason) => {
                    let detail = format!(
                        "{:?} in column {:?}",
                        String::from_utf8_lossy(cell),
                        headers[first + k]
                    );
                    acc.quality
                        .reject(loc, value_col, &meter, reason, detail, 1);
                }
            }
        }
        if present < n {
            let detail = format!(
                "row has {present} of {n} interval values; columns {:?} to {:?} are missing",
                headers[first + present],
                headers[first + n - 1]
            );
            acc.quality.reject(
                loc,
                value_col,
                &meter,
                Reason::ShortRow,
                detail,
                (n - present) as u64,
            );
        }
        if rec.iter().skip(first + n).any(|f| !trim(f).is_empty()) {
            notes.extra_fields += 1;
            if notes.first_extra == 0 {
                notes.first_extra = line;
            }
        }
        rows += 1;
        if rows % PROGRESS_EVERY == 0 {
            let pos = rec.position().map_or(0, |p| p.byte());
            progress.inc(pos.saturating_sub(last_pos));
            last_pos = pos;
        }
    }
    progress.inc(rdr.position().byte().saturating_sub(last_pos));
    let file = path.display();
    if let Some((line, raw)) = notes.first_unknown {
        acc.quality.notes.push(format!(
            "{file}: {} rows had an unrecognised estimated flag (first: line {line}, {raw:?}); \
             their readings were kept and marked estimated",
            notes.unknown_flags
        ));
    }
    if notes.extra_fields > 0 {
        acc.quality.notes.push(format!(
            "{file}: {} rows had non-empty fields beyond the last header column (first: line {}); ignored",
            notes.extra_fields, notes.first_extra
        ));
    }
    Ok(())
}

/// Parses a date cell with `layout` (chrono accepts numbers without zero padding, `22/6/19` for
/// `%d/%m/%y`), tolerating a time part the layout does not mention (`2020-10-01 00:00`).
fn parse_date(raw: &[u8], layout: &str) -> Option<NaiveDate> {
    let s = std::str::from_utf8(raw).ok()?;
    match NaiveDate::parse_and_remainder(s, layout) {
        Ok((d, "")) => Some(d),
        Ok((d, rest)) if rest.starts_with([' ', 'T']) => Some(d),
        _ => None,
    }
}

/// Reads an "estimated" cell: `Some(true)` estimated/substituted, `Some(false)` actual, `None`
/// not a flag this reader knows.
fn estimated_flag(raw: &[u8]) -> Option<bool> {
    let s = std::str::from_utf8(raw).ok()?.trim().to_ascii_lowercase();
    match s.as_str() {
        "yes" | "y" | "true" | "1" | "e" | "est" | "estimated" | "s" | "substituted" => Some(true),
        "" | "no" | "n" | "false" | "0" | "a" | "actual" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::ingest::accumulate::{AccumulatorConfig, Finished};
    use crate::ingest::time::GapPolicy;
    use crate::ingest::TimeSpec;

    fn utc(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp()
    }

    fn sample(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/wide")
            .join(name)
    }

    fn load(path: &Path, fmt: &WideFormat) -> Finished {
        let mut acc = Accumulator::new(AccumulatorConfig::default());
        read_wide(path, fmt, &mut acc, &Progress::hidden()).unwrap();
        let f = acc.finish().unwrap();
        assert!(f.quality.reconciles());
        f
    }

    fn temp(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    fn day_row(id: &str, date: &str, n: usize, v: f64) -> String {
        let vals: Vec<String> = (0..n).map(|_| v.to_string()).collect();
        format!("{id},{date},{}\n", vals.join(","))
    }

    fn header(n: usize) -> String {
        let cols: Vec<String> = (0..n).map(|k| format!("i{k}")).collect();
        format!("meter_id,date,{}\n", cols.join(","))
    }

    #[test]
    fn non_padded_dates_parse() {
        assert_eq!(
            parse_date(b"22/6/19", "%d/%m/%y"),
            NaiveDate::from_ymd_opt(2019, 6, 22)
        );
        assert_eq!(
            parse_date(b"1/10/20", "%d/%m/%y"),
            NaiveDate::from_ymd_opt(2020, 10, 1)
        );
        assert_eq!(
            parse_date(b"2020-10-01 00:00", "%Y-%m-%d"),
            NaiveDate::from_ymd_opt(2020, 10, 1)
        );
        assert_eq!(
            parse_date(b"2020-10-01T00:00", "%Y-%m-%d"),
            NaiveDate::from_ymd_opt(2020, 10, 1)
        );
        assert_eq!(parse_date(b"2020-10-01x", "%Y-%m-%d"), None);
        assert_eq!(parse_date(b"31/2/20", "%d/%m/%y"), None);
    }

    #[test]
    fn wide_retailer_export_loads_with_options_only() {
        let fmt = WideFormat {
            id_col: "NMI".into(),
            date_col: "DATE".into(),
            date_format: "%d/%m/%y".into(),
            estimated_col: Some("ESTIMATED?".into()),
            ..WideFormat::default()
        };
        let f = load(&sample("retailer_export.csv"), &fmt);
        let q = &f.quality;
        assert_eq!(q.readings_read, 12 * 48);
        assert_eq!(q.readings_used, 12 * 48);
        assert_eq!(q.readings_quarantined(), 0);
        let m = &f.matrix;
        assert_eq!(m.meter_ids(), ["6000000001".into()]);
        assert_eq!(m.grid.interval_secs, 1800);
        assert_eq!(m.grid.start, utc("2019-06-22T00:00:00Z"));
        assert_eq!(m.grid.end(), utc("2019-07-04T00:00:00Z"));
        let row = m.series("6000000001").unwrap();
        // Line 2: 22/6/19, values 0.7, 0.688, 0.444, 0.056 ...
        assert_eq!(row[0], 0.7);
        let s = m.grid.slot_of(utc("2019-06-22T01:30:00Z")).unwrap();
        assert_eq!(row[s], 0.056);
        assert!(!m.has_estimates());
    }

    #[test]
    fn bad_date_null_cell_and_short_row_are_quarantined() {
        let mut text = header(24);
        text += &day_row("M1", "2024-01-01", 24, 1.0);
        text += &day_row("M1", "2024-13-01", 24, 1.0); // line 3: bad date
        let mut nul = day_row("M1", "2024-01-02", 24, 1.0);
        nul = nul.replacen(",1,", ",NA,", 1); // line 4: first value null
        text += &nul;
        text += "M1,2024-01-03,1,1,1,1,1\n"; // line 5: 5 of 24
        text += "\n";
        text += &day_row("M1", "2024-01-04", 24, 1.0);
        let file = temp(&text);
        let f = load(file.path(), &WideFormat::default());
        let q = &f.quality;
        assert_eq!(q.readings_read, 5 * 24);
        let by = q.quarantined_by_reason();
        assert_eq!(by.get(&Reason::BadTimestamp), Some(&24));
        assert_eq!(by.get(&Reason::NullValue), Some(&1));
        assert_eq!(by.get(&Reason::ShortRow), Some(&19));
        assert_eq!(q.readings_used, 24 + 23 + 5 + 24);
        let rows: Vec<(u64, Reason, u64)> = q
            .issues()
            .iter()
            .map(|i| (i.row, i.reason, i.readings))
            .collect();
        assert_eq!(
            rows,
            [
                (3, Reason::BadTimestamp, 24),
                (4, Reason::NullValue, 1),
                (5, Reason::ShortRow, 19)
            ]
        );
        let row = f.matrix.series("M1").unwrap();
        assert_eq!(f.matrix.grid.interval_secs, 3600);
        assert!(row[24].is_nan(), "the null slot stays missing");
        assert_eq!(row[25], 1.0);
    }

    #[test]
    fn spring_forward_day_in_london_rejects_the_gap() {
        let mut text = header(48);
        text += &day_row("M1", "2024-03-30", 48, 0.5);
        text += &day_row("M1", "2024-03-31", 48, 0.5);
        text += &day_row("M1", "2024-10-27", 48, 0.5);
        let file = temp(&text);
        let fmt = WideFormat {
            time: TimeSpec {
                tz: chrono_tz::Europe::London,
                gap: GapPolicy::Reject,
                ..TimeSpec::default()
            },
            ..WideFormat::default()
        };
        let f = load(file.path(), &fmt);
        let q = &f.quality;
        assert_eq!(q.readings_read, 3 * 48);
        assert_eq!(q.quarantined_by_reason().get(&Reason::DstGap), Some(&2));
        assert_eq!(q.readings_quarantined(), 2);
        // 01:00 and 01:30 local do not exist on 2024-03-31; 02:00 local is 01:00Z.
        let g = &f.matrix.grid;
        let row = f.matrix.series("M1").unwrap();
        assert!(row[g.slot_of(utc("2024-03-31T00:30:00Z")).unwrap()] == 0.5);
        assert!(row[g.slot_of(utc("2024-03-31T01:00:00Z")).unwrap()] == 0.5);
        // Fall-back: 48 columns hold 01:00-01:59 local once; it is the first pass (BST, 00:xxZ),
        // the second pass (01:xxZ) has no column and stays missing, 02:00 local is 02:00Z.
        assert!(row[g.slot_of(utc("2024-10-27T00:30:00Z")).unwrap()] == 0.5);
        assert!(row[g.slot_of(utc("2024-10-27T01:30:00Z")).unwrap()].is_nan());
        assert!(row[g.slot_of(utc("2024-10-27T02:00:00Z")).unwrap()] == 0.5);
    }

    #[test]
    fn estimated_column_marks_rows_and_unknown_flags_are_noted() {
        let mut text = String::from("id,date,est,a,b,c,d\n");
        text +=
            "M1,2024-01-01,Actual,1,1,1,1\nM1,2024-01-02,E,1,1,1,1\nM1,2024-01-03,maybe,1,1,1,1\n";
        let file = temp(&text);
        let fmt = WideFormat {
            id_col: "id".into(),
            estimated_col: Some("est".into()),
            ..WideFormat::default()
        };
        let f = load(file.path(), &fmt);
        assert_eq!(f.matrix.grid.interval_secs, 6 * 3600);
        assert_eq!(f.matrix.coverage(0).estimated, 8);
        assert!(
            !f.matrix.is_estimated(0, 3)
                && f.matrix.is_estimated(0, 4)
                && f.matrix.is_estimated(0, 11)
        );
        assert!(f
            .quality
            .notes
            .iter()
            .any(|n| n.contains("line 4") && n.contains("maybe")));
    }

    #[test]
    fn fatal_layout_errors_name_the_problem() {
        let mut acc = Accumulator::new(AccumulatorConfig::default());
        let file = temp("meter_id,date,a,b,c,d,e,f,g\nM1,2024-01-01,1,1,1,1,1,1,1\n");
        let err = read_wide(
            file.path(),
            &WideFormat::default(),
            &mut acc,
            &Progress::hidden(),
        )
        .unwrap_err();
        assert!(
            matches!(err, IngestError::Malformed { line: 1, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("7 interval columns"), "{err}");
        let file = temp("NMI,day,a,b\n");
        let err = read_wide(
            file.path(),
            &WideFormat::default(),
            &mut acc,
            &Progress::hidden(),
        )
        .unwrap_err();
        assert!(
            matches!(err, IngestError::MissingColumn { ref column, .. } if column == "meter_id"),
            "{err}"
        );
        let file = temp("");
        let err = read_wide(
            file.path(),
            &WideFormat::default(),
            &mut acc,
            &Progress::hidden(),
        )
        .unwrap_err();
        assert!(matches!(err, IngestError::EmptyFile { .. }), "{err}");
    }
}
