//! Inspection outcomes: `gridsleuth outcomes import visits.csv` ([`import`]), their effects on
//! the cases (applied by `cases::advance` each night), the field hit rate of past lists
//! ([`field_stats`]) and the calibration of score to the probability of a confirmed rig
//! ([`calibrate`]).
//!
//! The file: `case_id` or `meter_id` (one at least), `visit_date` (YYYY-MM-DD), `outcome`
//! (`mining_confirmed`, `no_mining`, `no_access`, `licensed`), and optional `found_kw`,
//! `devices`, `notes`; other columns are ignored (and named). Every bad row is reported with
//! the file, row, column and a fix; the good rows are imported (exit 1 when some were bad).
//! Importing the same visit twice (meter, date, outcome) records it once.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::cases::{OutcomeKind, Visit};
use super::{db, lock, NightlyError};
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
    let dbp = super::db_path(&opts.state);
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
        let date = match NaiveDate::parse_from_str(get(c_date), "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
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

/// Every recorded outcome, as the case rules take them.
pub fn visits(conn: &Connection) -> rusqlite::Result<Vec<Visit>> {
    let mut st = conn.prepare(
        "SELECT case_id, meter_id, visit_date, outcome FROM outcomes ORDER BY visit_date, id",
    )?;
    let rows = st.query_map([], |r| {
        Ok((
            r.get::<_, Option<String>>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
        ))
    })?;
    let mut out = Vec::new();
    for r in rows {
        let (case_id, meter_id, date, kind) = r?;
        if let (Ok(date), Some(kind)) = (
            NaiveDate::parse_from_str(&date, "%Y-%m-%d"),
            OutcomeKind::parse(&kind),
        ) {
            out.push(Visit {
                case_id,
                meter_id,
                date,
                kind,
            });
        }
    }
    Ok(out)
}

/// Hits among visits of one group (a score band or a week).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct HitRow {
    pub group: String,
    pub visits: usize,
    pub confirmed: usize,
    pub no_mining: usize,
    pub no_access: usize,
    /// confirmed / (confirmed + no_mining); `None` with neither.
    pub hit_rate: Option<f64>,
    pub confirmed_kw: f64,
}

/// The field record of past lists.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct FieldStats {
    pub by_band: Vec<HitRow>,
    pub by_week: Vec<HitRow>,
    pub total: HitRow,
    pub licensed: usize,
}

fn band(score: Option<f64>) -> String {
    match score {
        None => "no score".into(),
        Some(s) => {
            let lo = ((s * 10.0).floor() / 10.0).clamp(0.0, 0.9);
            format!("{lo:.1}-{:.1}", lo + 0.1)
        }
    }
}

/// Hit rate by score band (the case's score on its last night up to the visit) and by ISO week
/// of the visit, for the outcomes dated up to `night`.
pub fn field_stats(conn: &Connection, night: &str) -> rusqlite::Result<FieldStats> {
    let mut st = conn.prepare(
        "SELECT o.outcome, o.visit_date, o.found_kw,
            (SELECT n.score FROM case_nights n WHERE n.case_id = o.case_id AND n.score IS NOT NULL
               AND n.night <= o.visit_date ORDER BY n.night DESC LIMIT 1),
            (SELECT n.score FROM case_nights n WHERE n.case_id = o.case_id AND n.score IS NOT NULL
               ORDER BY n.night LIMIT 1)
         FROM outcomes o WHERE o.visit_date <= ?1 ORDER BY o.visit_date, o.id",
    )?;
    let rows = st.query_map(params![night], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Option<f64>>(2)?,
            r.get::<_, Option<f64>>(3)?,
            r.get::<_, Option<f64>>(4)?,
        ))
    })?;
    let mut bands: BTreeMap<String, HitRow> = BTreeMap::new();
    let mut weeks: BTreeMap<String, HitRow> = BTreeMap::new();
    let mut total = HitRow {
        group: "all".into(),
        ..HitRow::default()
    };
    let mut licensed = 0;
    for r in rows {
        let (kind, date, kw, score_before, score_first) = r?;
        if kind == "licensed" {
            licensed += 1;
            continue;
        }
        let week = NaiveDate::parse_from_str(&date, "%Y-%m-%d")
            .map(|d| {
                let w = d.iso_week();
                format!("{}-W{:02}", w.year(), w.week())
            })
            .unwrap_or(date.clone());
        let b = band(score_before.or(score_first));
        for row in [
            bands.entry(b.clone()).or_insert_with(|| HitRow {
                group: b.clone(),
                ..HitRow::default()
            }),
            weeks.entry(week.clone()).or_insert_with(|| HitRow {
                group: week.clone(),
                ..HitRow::default()
            }),
            &mut total,
        ] {
            row.visits += 1;
            match kind.as_str() {
                "mining_confirmed" => {
                    row.confirmed += 1;
                    row.confirmed_kw += kw.unwrap_or(0.0);
                }
                "no_mining" => row.no_mining += 1,
                _ => row.no_access += 1,
            }
            let judged = row.confirmed + row.no_mining;
            row.hit_rate = (judged > 0).then(|| row.confirmed as f64 / judged as f64);
        }
    }
    Ok(FieldStats {
        by_band: bands.into_values().rev().collect(),
        by_week: weeks.into_values().collect(),
        total,
        licensed,
    })
}

/// Outcomes of each class needed before a calibration is fitted.
pub const MIN_PER_CLASS: usize = 30;

/// The calibration of score to the probability of a confirmed rig.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Calibration {
    pub confirmed: usize,
    pub no_mining: usize,
    /// Fitted (enough outcomes of both classes among tonight's meters).
    pub fitted: bool,
    /// Cross-validated ROC AUC of the calibrated probability and of the raw score.
    pub cv_auc_calibrated: Option<f64>,
    pub cv_auc_score: Option<f64>,
    /// Whether it ranked tonight's cases (it beat the raw score).
    pub used: bool,
    pub inputs: Vec<String>,
    /// Per flagged meter tonight: its calibrated probability (when fitted).
    pub probability: BTreeMap<String, f64>,
    pub text: String,
}

const CAL_INPUTS: [&str; 8] = [
    "score",
    "rig_kw",
    "level",
    "flat",
    "steady",
    "no_rhythm",
    "not_heating",
    "peer",
];

fn cal_row(f: &crate::score::Finding) -> [f64; 8] {
    let e = &f.evidence;
    [
        f.score,
        f.rig_kw.ln_1p(),
        e.level,
        e.flat,
        e.steady,
        e.no_rhythm,
        e.not_heating,
        e.peer,
    ]
}

/// Fits a logistic regression of confirmed-vs-no-mining on the visited meters' evidence (as
/// tonight's run sees them) when both classes have [`MIN_PER_CLASS`] outcomes, and compares it
/// to the raw score by 5-fold cross-validated ROC AUC. `None` when no outcome is recorded.
pub fn calibrate(
    conn: &Connection,
    _dir: &Path,
    ing: &crate::ingest::Ingested,
    det: &crate::detect::Detection,
) -> rusqlite::Result<Option<Calibration>> {
    let mut st = conn.prepare(
        "SELECT meter_id, outcome FROM outcomes WHERE outcome IN ('mining_confirmed', 'no_mining')
         ORDER BY id",
    )?;
    let labelled: Vec<(String, bool)> = st
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)? == "mining_confirmed",
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    if labelled.is_empty() {
        return Ok(None);
    }
    let confirmed = labelled.iter().filter(|(_, y)| *y).count();
    let no_mining = labelled.len() - confirmed;
    let mut cal = Calibration {
        confirmed,
        no_mining,
        fitted: false,
        cv_auc_calibrated: None,
        cv_auc_score: None,
        used: false,
        inputs: CAL_INPUTS.iter().map(ToString::to_string).collect(),
        probability: BTreeMap::new(),
        text: String::new(),
    };
    let m = &ing.matrix;
    let by_meter: BTreeMap<usize, &crate::score::Finding> =
        det.findings.iter().map(|f| (f.meter, f)).collect();
    let mut x: Vec<[f64; 8]> = Vec::new();
    let mut y: Vec<bool> = Vec::new();
    for (id, label) in &labelled {
        if let Some(f) = m.meter_index(id).and_then(|i| by_meter.get(&i)) {
            x.push(cal_row(f));
            y.push(*label);
        }
    }
    let (pos, neg) = (
        y.iter().filter(|v| **v).count(),
        y.iter().filter(|v| !**v).count(),
    );
    if pos < MIN_PER_CLASS || neg < MIN_PER_CLASS {
        cal.text = format!(
            "not fitted: {confirmed} confirmed and {no_mining} no-mining outcomes ({pos} and {neg} \
             among tonight's meters); {MIN_PER_CLASS} of each are needed. Tonight's list is ranked \
             by score."
        );
        return Ok(Some(cal));
    }
    let fit = |xs: &[[f64; 8]],
               ys: &[bool]|
     -> Option<(Scaler, linfa_logistic::FittedLogisticRegression<f64, usize>)> {
        use linfa::traits::Fit;
        let sc = Scaler::of(xs);
        let arr = sc.array(xs);
        let t = ndarray::Array1::from_iter(ys.iter().map(|&b| usize::from(b)));
        let ds = linfa::Dataset::new(arr, t);
        linfa_logistic::LogisticRegression::default()
            .alpha(1.0)
            .max_iterations(200)
            .fit(&ds)
            .ok()
            .map(|m| (sc, m))
    };
    // 5-fold cross-validation (folds by position: deterministic).
    let mut cv = vec![f64::NAN; x.len()];
    for k in 0..5 {
        let train: Vec<usize> = (0..x.len()).filter(|i| i % 5 != k).collect();
        let test: Vec<usize> = (0..x.len()).filter(|i| i % 5 == k).collect();
        let xs: Vec<[f64; 8]> = train.iter().map(|&i| x[i]).collect();
        let ys: Vec<bool> = train.iter().map(|&i| y[i]).collect();
        if let Some((sc, model)) = fit(&xs, &ys) {
            let xt: Vec<[f64; 8]> = test.iter().map(|&i| x[i]).collect();
            let p = p_confirmed(&model, &sc.array(&xt));
            for (j, &i) in test.iter().enumerate() {
                cv[i] = p[j];
            }
        }
    }
    let raw: Vec<f64> = x.iter().map(|r| r[0]).collect();
    cal.cv_auc_score = crate::eval::ranking::roc_auc(&y, &raw);
    if cv.iter().all(|v| v.is_finite()) {
        cal.cv_auc_calibrated = crate::eval::ranking::roc_auc(&y, &cv);
    }
    if let Some((sc, model)) = fit(&x, &y) {
        cal.fitted = true;
        let flagged: Vec<&crate::score::Finding> =
            det.findings.iter().filter(|f| f.flagged).collect();
        let rows: Vec<[f64; 8]> = flagged.iter().map(|f| cal_row(f)).collect();
        if !rows.is_empty() {
            let p = p_confirmed(&model, &sc.array(&rows));
            for (f, p) in flagged.iter().zip(p.iter()) {
                cal.probability
                    .insert(m.meter_ids()[f.meter].to_string(), *p);
            }
        }
    }
    cal.used = cal.fitted
        && matches!((cal.cv_auc_calibrated, cal.cv_auc_score), (Some(c), Some(s)) if c > s);
    cal.text = format!(
        "fitted on {} outcomes ({pos} confirmed, {neg} no mining); cross-validated ROC AUC {} \
         calibrated vs {} raw score: tonight's cases are ranked by {}.",
        x.len(),
        cal.cv_auc_calibrated
            .map_or("-".into(), |v| format!("{v:.3}")),
        cal.cv_auc_score.map_or("-".into(), |v| format!("{v:.3}")),
        if cal.used {
            "the calibrated probability"
        } else {
            "score"
        }
    );
    Ok(Some(cal))
}

/// The fitted probability of a confirmed rig. linfa-logistic's `predict_probabilities` gives
/// the probability of its *positive* class, which is the more frequent label of the training
/// rows (not label 1): with more no-mining outcomes than confirmed ones it is the probability of
/// no mining, and a cross-validation fold can differ from the next.
fn p_confirmed(
    model: &linfa_logistic::FittedLogisticRegression<f64, usize>,
    x: &ndarray::Array2<f64>,
) -> ndarray::Array1<f64> {
    let p = model.predict_probabilities(x);
    if model.labels().pos.class == 1 {
        p
    } else {
        p.mapv(|v| 1.0 - v)
    }
}

/// Standardisation of the calibration inputs (mean 0, sd 1 on the training rows).
struct Scaler {
    mean: [f64; 8],
    sd: [f64; 8],
}

impl Scaler {
    fn of(xs: &[[f64; 8]]) -> Scaler {
        let n = xs.len().max(1) as f64;
        let mut mean = [0.0; 8];
        let mut sd = [0.0; 8];
        for j in 0..8 {
            mean[j] = xs.iter().map(|r| r[j]).sum::<f64>() / n;
            let var = xs.iter().map(|r| (r[j] - mean[j]).powi(2)).sum::<f64>() / n;
            sd[j] = if var > 1e-12 { var.sqrt() } else { 1.0 };
        }
        Scaler { mean, sd }
    }
    fn array(&self, xs: &[[f64; 8]]) -> ndarray::Array2<f64> {
        ndarray::Array2::from_shape_fn((xs.len(), 8), |(i, j)| {
            let v = (xs[i][j] - self.mean[j]) / self.sd[j];
            if v.is_finite() {
                v
            } else {
                0.0
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_are_tenths() {
        assert_eq!(band(Some(0.73)), "0.7-0.8");
        assert_eq!(band(Some(1.0)), "0.9-1.0");
        assert_eq!(band(None), "no score");
    }

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
