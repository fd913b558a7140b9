//! `gridsleuth outcomes import visits.csv`: checks each row of the inspectors' file (every bad
//! row reported with the file, row, column and a fix; other columns named and ignored) and
//! records the good rows in one transaction, under the nightly lock; a visit imported twice is
//! recorded once. Inputs: the file, the state folder; outputs: `outcomes` rows, the summary.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::nightly::cases::OutcomeKind;
use crate::nightly::days::parse_day;
use crate::nightly::{db, lock, NightlyError};
use crate::output::console::ConsoleError;

/// Options of `gridsleuth outcomes import`.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub file: PathBuf,
    pub state: PathBuf,
}

/// A rejected row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadRow {
    pub file: String,
    pub row: u64,
    pub column: String,
    pub problem: String,
    pub fix: String,
}

impl std::fmt::Display for BadRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: row {}, column {}: {}\n  fix: {}",
            self.file, self.row, self.column, self.problem, self.fix
        )
    }
}

/// What an import did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportSummary {
    pub rows: usize,
    pub imported: usize,
    pub already: usize,
    pub bad: Vec<BadRow>,
    pub notes: Vec<String>,
}

impl ImportSummary {
    pub fn text(&self) -> String {
        let mut s = String::new();
        for b in &self.bad {
            s.push_str(&format!("{b}\n"));
        }
        for n in &self.notes {
            s.push_str(&format!("note: {n}\n"));
        }
        s.push_str(&format!(
            "outcomes: {} rows, {} imported, {} already imported, {} rejected\n",
            self.rows,
            self.imported,
            self.already,
            self.bad.len()
        ));
        s
    }
}

/// A checked row.
struct Row {
    line: u64,
    case_id: Option<String>,
    meter_id: String,
    date: NaiveDate,
    kind: OutcomeKind,
    found_kw: Option<f64>,
    devices: Option<i64>,
    notes: String,
}

/// `gridsleuth outcomes import`: validates the file, records the good rows in one transaction
/// (under the nightly lock). Fails (exit 2) when the file cannot be used at all.
pub fn import(opts: &ImportOptions, out: &mut dyn Write) -> Result<ImportSummary, NightlyError> {
    std::fs::create_dir_all(&opts.state).map_err(|e| NightlyError::io(&opts.state, e))?;
    let _lock = lock::Lock::take(&opts.state)?;
    let dbp = crate::nightly::db_path(&opts.state);
    let mut conn = db::open(&dbp)?;
    let (rows, mut summary) = read(&opts.file, &conn).map_err(|e| NightlyError::db(&dbp, e))?;
    if rows.is_empty() && !summary.bad.is_empty() {
        write!(out, "{}", summary.text()).map_err(io_out)?;
        return Err(NightlyError::BadOutcomes {
            file: opts.file.clone(),
            count: summary.bad.len(),
        });
    }
    let tx = conn.transaction().map_err(|e| NightlyError::db(&dbp, e))?;
    let source = opts.file.display().to_string();
    for r in &rows {
        let n = tx
            .execute(
                "INSERT OR IGNORE INTO outcomes (case_id, meter_id, visit_date, outcome, found_kw,
                    devices, notes, source, source_row) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    r.case_id,
                    r.meter_id,
                    r.date.to_string(),
                    r.kind.as_str(),
                    r.found_kw,
                    r.devices,
                    r.notes,
                    source,
                    r.line as i64
                ],
            )
            .map_err(|e| NightlyError::db(&dbp, e))?;
        if n == 0 {
            summary.already += 1;
        } else {
            summary.imported += 1;
        }
    }
    tx.commit().map_err(|e| NightlyError::db(&dbp, e))?;
    write!(out, "{}", summary.text()).map_err(io_out)?;
    Ok(summary)
}

fn io_out(e: std::io::Error) -> NightlyError {
    NightlyError::from(crate::app::AppError::from(ConsoleError(e)))
}

/// Reads and checks the file against the cases recorded.
fn read(path: &Path, conn: &Connection) -> rusqlite::Result<(Vec<Row>, ImportSummary)> {
    let mut summary = ImportSummary::default();
    let file = path.display().to_string();
    let bad = |row: u64, column: &str, problem: String, fix: &str| BadRow {
        file: file.clone(),
        row,
        column: column.to_string(),
        problem,
        fix: fix.to_string(),
    };
    let mut rdr = match csv::ReaderBuilder::new().flexible(true).from_path(path) {
        Ok(r) => r,
        Err(e) => {
            summary.bad.push(bad(
                0,
                "-",
                format!("cannot read the file: {e}"),
                "check the path given to `outcomes import`",
            ));
            return Ok((Vec::new(), summary));
        }
    };
    let headers: Vec<String> = match rdr.headers() {
        Ok(h) => h.iter().map(|s| s.trim().to_ascii_lowercase()).collect(),
        Err(e) => {
            summary.bad.push(bad(
                1,
                "-",
                format!("no header: {e}"),
                "the first line names the columns",
            ));
            return Ok((Vec::new(), summary));
        }
    };
    let col = |name: &str| headers.iter().position(|h| h == name);
    let known = [
        "case_id",
        "meter_id",
        "visit_date",
        "outcome",
        "found_kw",
        "devices",
        "notes",
    ];
    let (c_case, c_meter, c_date, c_out) = (
        col("case_id"),
        col("meter_id"),
        col("visit_date"),
        col("outcome"),
    );
    let (c_kw, c_dev, c_notes) = (col("found_kw"), col("devices"), col("notes"));
    let mut missing = Vec::new();
    if c_case.is_none() && c_meter.is_none() {
        missing.push("case_id or meter_id");
    }
    if c_date.is_none() {
        missing.push("visit_date");
    }
    if c_out.is_none() {
        missing.push("outcome");
    }
    if !missing.is_empty() {
        summary.bad.push(bad(
            1,
            &missing.join(", "),
            format!(
                "missing column(s): {} (header: {})",
                missing.join(", "),
                headers.join(",")
            ),
            "the header needs case_id or meter_id, visit_date and outcome \
             (optional: found_kw, devices, notes)",
        ));
        return Ok((Vec::new(), summary));
    }
    let extra: Vec<&String> = headers
        .iter()
        .filter(|h| !known.contains(&h.as_str()))
        .collect();
    if !extra.is_empty() {
        summary.notes.push(format!(
            "columns ignored: {}",
            extra
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let mut case_q = conn.prepare("SELECT meter_id FROM cases WHERE case_id = ?1")?;
    let mut meter_q = conn.prepare(
        "SELECT case_id FROM cases WHERE meter_id = ?1 AND opened <= ?2 ORDER BY opened DESC, case_id DESC LIMIT 1",
    )?;
    let mut rows = Vec::new();
    for (k, rec) in rdr.records().enumerate() {
        let line = k as u64 + 2;
        summary.rows += 1;
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                summary.bad.push(bad(
                    line,
                    "-",
                    format!("unreadable row: {e}"),
                    "fix the quoting of this row",
                ));
                continue;
            }
        };
        let get = |c: Option<usize>| c.and_then(|i| rec.get(i)).map(str::trim).unwrap_or("");
        let mut errs = Vec::new();
        let date = match parse_day(get(c_date)) {
            Some(d) => Some(d),
            None => {
                errs.push(bad(
                    line,
                    "visit_date",
                    format!("{:?} is not a date", get(c_date)),
                    "write the date as YYYY-MM-DD",
                ));
                None
            }
        };
        let kind = match OutcomeKind::parse(&get(c_out).to_ascii_lowercase()) {
            Some(k) => Some(k),
            None => {
                errs.push(bad(
                    line,
                    "outcome",
                    format!("{:?} is not an outcome", get(c_out)),
                    "use one of mining_confirmed, no_mining, no_access, licensed",
                ));
                None
            }
        };
        let found_kw = match get(c_kw) {
            "" => None,
            s => match s.parse::<f64>() {
                Ok(v) if v.is_finite() && v >= 0.0 => Some(v),
                _ => {
                    errs.push(bad(
                        line,
                        "found_kw",
                        format!("{s:?} is not a number of kW >= 0"),
                        "write the kW found, e.g. 3.2, or leave it empty",
                    ));
                    None
                }
            },
        };
        let devices = match get(c_dev) {
            "" => None,
            s => match s.parse::<i64>() {
                Ok(v) if v >= 0 => Some(v),
                _ => {
                    errs.push(bad(
                        line,
                        "devices",
                        format!("{s:?} is not a count"),
                        "write a whole number of devices, or leave it empty",
                    ));
                    None
                }
            },
        };
        let case_given = get(c_case).to_string();
        let meter_given = get(c_meter).to_string();
        let mut case_id = None;
        let mut meter_id = meter_given.clone();
        if !case_given.is_empty() {
            match case_q.query_row(params![case_given], |r| r.get::<_, String>(0)).optional()? {
                Some(m) => {
                    if !meter_given.is_empty() && m != meter_given {
                        errs.push(bad(line, "meter_id", format!("case {case_given} is meter {m}, not {meter_given}"), "give the case's meter, or only the case_id"));
                    }
                    meter_id = m;
                    case_id = Some(case_given.clone());
                }
                None => errs.push(bad(line, "case_id", format!("no case {case_given:?}"), "copy the case_id from cases.csv of a nightly run folder, or give meter_id instead")),
            }
        } else if meter_given.is_empty() {
            errs.push(bad(
                line,
                "meter_id",
                "neither case_id nor meter_id is given".into(),
                "give the case_id (cases.csv) or the meter_id",
            ));
        } else if let Some(d) = date {
            case_id = meter_q
                .query_row(params![meter_given, d.to_string()], |r| {
                    r.get::<_, String>(0)
                })
                .optional()?;
            if case_id.is_none() && kind != Some(OutcomeKind::Licensed) {
                summary.notes.push(format!(
                    "{file}: row {line}: meter {meter_given} had no case on {d}: recorded, no case to act on"
                ));
            }
        }
        if !errs.is_empty() {
            summary.bad.extend(errs);
            continue;
        }
        if let (Some(date), Some(kind)) = (date, kind) {
            rows.push(Row {
                line,
                case_id,
                meter_id,
                date,
                kind,
                found_kw,
                devices,
                notes: get(c_notes).to_string(),
            });
        }
    }
    Ok((rows, summary))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nightly::db;

    #[test]
    fn bad_rows_name_file_row_column_and_fix() {
        let d = tempfile::tempdir().unwrap();
        let conn = db::open(&d.path().join("s.sqlite")).unwrap();
        conn.execute(
            "INSERT INTO cases (case_id, meter_id, onset, opened) VALUES ('m1@2024-03-01', 'm1', '2024-03-01', '2024-03-05')",
            [],
        )
        .unwrap();
        let p = d.path().join("visits.csv");
        std::fs::write(
            &p,
            "case_id,meter_id,visit_date,outcome,found_kw,devices,notes,inspector\n\
             m1@2024-03-01,,2024-03-07,mining_confirmed,3.2,2,ok,jo\n\
             ,m1,07/03/2024,no_mining,,,,jo\n\
             nope,,2024-03-07,no_mining,,,,jo\n\
             ,m1,2024-03-08,mined,,,,jo\n\
             ,m1,2024-03-08,no_access,-1,x,,jo\n\
             ,m9,2024-03-08,licensed,,,,jo\n",
        )
        .unwrap();
        let (rows, s) = read(&p, &conn).unwrap();
        assert_eq!(rows.len(), 2, "{:?}", s.bad);
        assert_eq!(rows[0].case_id.as_deref(), Some("m1@2024-03-01"));
        let cols: Vec<(u64, &str)> = s.bad.iter().map(|b| (b.row, b.column.as_str())).collect();
        assert_eq!(
            cols,
            vec![
                (3, "visit_date"),
                (4, "case_id"),
                (5, "outcome"),
                (6, "found_kw"),
                (6, "devices")
            ]
        );
        assert!(s
            .bad
            .iter()
            .all(|b| b.file.ends_with("visits.csv") && !b.fix.is_empty()));
        assert!(s.notes.iter().any(|n| n.contains("inspector")));
    }
}
