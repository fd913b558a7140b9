//! Reading the two inputs of `gridsleuth eval` and the run's window start.
//!
//! - `labels.csv` (ground truth, from gridsleuth's generator or the peers' `gen_region.py`) ->
//!   [`Label`]s in file order (the order breaks score ties, as in `metrics.py`). Required columns:
//!   `meter_id,kind,is_mining`; `n_devices,device_kw,onset` feed the breakdowns when present; any
//!   other column is ignored.
//! - `scores.csv` (written by `gridsleuth run`) -> [`Scored`] rows. Only `meter_id,score` are
//!   required (like `metrics.py`); `flagged,est_devices,onset` are read when present.
//! - `run.json` -> the grid's start instant (`grid.start`), if the file and key exist.
//!
//! Columns are found by name (exact, then case-insensitive) in any order. Cells are trimmed.
//! An empty or NaN score means "not scored" (ranked last, counted), as pandas reads it. Any other
//! bad cell is an [`EvalError::BadValue`] naming the file, line, data row and column, because a
//! silently skipped row would make our numbers differ from the peers'.

use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};

use super::error::EvalError;
use super::table::{for_each_row, parse_bool, parse_count, parse_f64, parse_instant, Table};
use crate::output::run_json::{RunJson, RunJsonError};

/// `kind` of a licensed mining site: legal, excluded from the ranking metrics.
pub const REGISTERED_KIND: &str = "registered_miner";
/// Kinds starting with one of these are rigs (`mining_pure`, `mining_night`, ... of gridsleuth's
/// generator; `rig_flat`, `rig_night`, ... of other labelled sets).
pub const RIG_KIND_PREFIXES: [&str; 2] = ["mining", "rig_"];

const LABELS_FIX: &str = "pass the labels.csv written with the region (meter_id,kind,is_mining,\
                          n_devices,device_kw,onset[,...])";
const SCORES_FIX: &str = "point --run at a directory written by `gridsleuth run` (its scores.csv \
                          has meter_id,score,rank,flagged,...)";

/// One meter's ground truth.
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    pub meter_id: String,
    /// `household`, `commercial_24x7`, `mining_pure`, `registered_miner`, ... (any string).
    pub kind: String,
    pub is_mining: bool,
    /// Devices in the rig (0 for non-miners); `None` when the column or cell is empty.
    pub n_devices: Option<u32>,
    /// Power of one device, kW.
    pub device_kw: Option<f64>,
    /// When the rig started drawing power.
    pub onset: Option<DateTime<Utc>>,
    /// Whether the onset is a dated step inside the window (`onset_mid` column: 1/0), when the
    /// labels say so; else the window start decides.
    pub onset_mid: Option<bool>,
}

impl Label {
    /// A licensed site: reported separately, never a positive or a negative.
    pub fn is_registered(&self) -> bool {
        self.kind == REGISTERED_KIND
    }
    /// A hidden miner: `is_mining` and not registered (the `metrics.py` definition).
    pub fn is_positive(&self) -> bool {
        self.is_mining && !self.is_registered()
    }
    /// Rig power `n_devices * device_kw`, kW, when both are known.
    pub fn rig_kw(&self) -> Option<f64> {
        Some(f64::from(self.n_devices?) * self.device_kw?)
    }
    /// `kind` and `is_mining` disagree (a `mining*` kind that is not mining, or a mining meter of
    /// another kind that is not registered).
    pub fn is_inconsistent(&self) -> bool {
        let rig_kind = RIG_KIND_PREFIXES.iter().any(|p| self.kind.starts_with(p));
        (rig_kind && !self.is_mining) || (self.is_positive() && !rig_kind)
    }
}

/// One row of `scores.csv`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scored {
    pub meter_id: String,
    /// Higher = more suspicious; `None` = not scored (ranked last).
    pub score: Option<f64>,
    /// The detector's own decision; `None` when scores.csv has no `flagged` column.
    pub flagged: Option<bool>,
    /// Estimated number of devices.
    pub est_devices: Option<u32>,
    /// Estimated onset day (UTC).
    pub onset: Option<NaiveDate>,
}

/// Reads `labels.csv`.
pub fn read_labels(path: &Path) -> Result<Vec<Label>, EvalError> {
    let mut t = Table::open(path, LABELS_FIX)?;
    let c_id = t.require(path, "meter_id", LABELS_FIX)?;
    let c_kind = t.require(path, "kind", LABELS_FIX)?;
    let c_mining = t.require(path, "is_mining", LABELS_FIX)?;
    let c_devices = t.find("n_devices");
    let c_kw = t.find("device_kw");
    let c_onset = t.find("onset");
    let c_onset_mid = t.find("onset_mid");

    let mut out = Vec::new();
    for_each_row(
        path,
        &mut t,
        c_id,
        LABELS_FIX,
        "keep one ground-truth row per meter",
        |rec, at, meter_id| {
            let get = |i: Option<usize>| i.and_then(|i| rec.get(i)).unwrap_or("");
            let kind = get(Some(c_kind));
            if kind.is_empty() {
                return Err(at("kind").bad(
                    kind,
                    "a meter kind (household, mining_pure, registered_miner, ...)",
                    LABELS_FIX,
                ));
            }
            let mining = get(Some(c_mining));
            let is_mining = parse_bool(mining).ok_or_else(|| {
                at("is_mining").bad(
                    mining,
                    "true or false",
                    "write is_mining as true/false (metrics.py counts anything else as false)",
                )
            })?;
            let devices = get(c_devices);
            let n_devices = parse_count(devices).map_err(|()| {
                at("n_devices").bad(
                    devices,
                    "a whole number of devices",
                    "write the rig's device count (0 for non-miners) or leave it empty",
                )
            })?;
            let kw = get(c_kw);
            let device_kw = parse_f64(kw).map_err(|()| {
                at("device_kw").bad(
                    kw,
                    "a finite number of kW",
                    "write one device's power in kW or leave it empty",
                )
            })?;
            let on = get(c_onset);
            let onset = if on.is_empty() {
                None
            } else {
                Some(parse_instant(on).ok_or_else(|| {
                    at("onset").bad(
                        on,
                        "a timestamp like 2024-03-01T00:00:00Z",
                        "write the onset as YYYY-MM-DDTHH:MM:SSZ, or leave it empty for non-miners",
                    )
                })?)
            };
            let mid = get(c_onset_mid);
            let onset_mid = if mid.is_empty() {
                None
            } else {
                Some(match mid {
                    "1" => Ok(true),
                    "0" => Ok(false),
                    m => parse_bool(m).ok_or(()),
                }
                .map_err(|()| {
                    at("onset_mid").bad(
                        mid,
                        "1 or 0",
                        "write onset_mid as 1 (a dated step inside the window) or 0, or leave it empty",
                    )
                })?)
            };
            out.push(Label {
                meter_id: meter_id.to_string(),
                kind: kind.to_string(),
                is_mining,
                n_devices,
                device_kw,
                onset,
                onset_mid,
            });
            Ok(())
        },
    )?;
    if out.is_empty() {
        return Err(EvalError::NoMeters {
            path: path.to_path_buf(),
        });
    }
    Ok(out)
}

/// Reads `scores.csv`. A repeated meter id is an error, as in `metrics.py`.
pub fn read_scores(path: &Path) -> Result<Vec<Scored>, EvalError> {
    let mut t = Table::open(path, SCORES_FIX)?;
    let c_id = t.require(path, "meter_id", SCORES_FIX)?;
    let c_score = t.require(path, "score", SCORES_FIX)?;
    let c_flagged = t.find("flagged");
    let c_devices = t.find("est_devices");
    let c_onset = t.find("onset");

    let mut out = Vec::new();
    for_each_row(
        path,
        &mut t,
        c_id,
        SCORES_FIX,
        "write one score per meter",
        |rec, at, meter_id| {
            let get = |i: Option<usize>| i.and_then(|i| rec.get(i)).unwrap_or("");
            let s = get(Some(c_score));
            let score = parse_f64(s).map_err(|()| {
                at("score").bad(
                s,
                "a finite number",
                "write a finite score (higher = more suspicious), or leave it empty for a meter \
                 that was not scored",
            )
            })?;
            let flagged = match c_flagged {
                None => None,
                Some(i) => {
                    let f = rec.get(i).unwrap_or("");
                    // An empty cell is "not flagged" (a meter the run could not score).
                    Some(if f.is_empty() {
                        false
                    } else {
                        parse_bool(f).ok_or_else(|| {
                            at("flagged").bad(f, "true or false", "write flagged as true/false")
                        })?
                    })
                }
            };
            let d = get(c_devices);
            let est_devices = parse_count(d).map_err(|()| {
                at("est_devices").bad(
                    d,
                    "a whole number of devices",
                    "write the estimated device count, or leave it empty",
                )
            })?;
            let on = get(c_onset);
            let onset = if on.is_empty() {
                None
            } else {
                Some(parse_instant(on).map(|t| t.date_naive()).ok_or_else(|| {
                    at("onset").bad(
                        on,
                        "a date like 2024-03-01",
                        "write the estimated onset as YYYY-MM-DD, or leave it empty",
                    )
                })?)
            };
            out.push(Scored {
                meter_id: meter_id.to_string(),
                score,
                flagged,
                est_devices,
                onset,
            });
            Ok(())
        },
    )?;
    Ok(out)
}

/// `grid.start` of `DIR/run.json`: `Ok(None)` when the file or the key is absent.
pub fn read_window_start(run_json: &Path) -> Result<Option<DateTime<Utc>>, EvalError> {
    const FIX: &str = "re-run `gridsleuth run`, or remove run.json to use the earliest labelled \
                       onset as the window start";
    let run = match RunJson::read_if_present(run_json) {
        Ok(Some(r)) => r,
        Ok(None) => return Ok(None),
        Err(RunJsonError::Read { source, .. }) => {
            return Err(EvalError::Open {
                path: run_json.to_path_buf(),
                source,
                fix: FIX,
            })
        }
        Err(e) => {
            let message = match &e {
                RunJsonError::Syntax { source, .. } => format!("not valid JSON: {source}"),
                RunJsonError::Content { source, .. } => {
                    format!("not a gridsleuth run.json: {source}")
                }
                RunJsonError::Read { .. } => e.to_string(),
            };
            return Err(EvalError::RunJson {
                path: run_json.to_path_buf(),
                message,
                fix: FIX,
            });
        }
    };
    let s = run.grid.start;
    if s.is_empty() {
        return Ok(None);
    }
    parse_instant(&s)
        .map(Some)
        .ok_or_else(|| EvalError::RunJson {
            path: run_json.to_path_buf(),
            message: format!("grid.start {s:?} is not a timestamp"),
            fix: FIX,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, body: &str) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, body).unwrap();
        p
    }

    #[test]
    fn labels_any_column_order_extra_columns_and_padding() {
        let d = tempfile::tempdir().unwrap();
        let p = write(
            d.path(),
            "labels.csv",
            "model,onset,meter_id,kind,is_mining,n_devices,device_kw,tariff\n\
             s19, 2024-03-05T12:30:00Z ,M1,mining_pure,TRUE,3,3.25,res\n\
             ,,M2,household,false,0,0.0,res\n\
             ,,M3,grow_op,False,,,\n",
        );
        let l = read_labels(&p).unwrap();
        assert_eq!(l.len(), 3);
        assert_eq!(l[0].meter_id, "M1");
        assert!(l[0].is_positive());
        assert_eq!(l[0].n_devices, Some(3));
        assert_eq!(l[0].rig_kw(), Some(9.75));
        assert_eq!(
            l[0].onset,
            Some(parse_instant("2024-03-05T12:30:00Z").unwrap())
        );
        assert!(!l[1].is_mining && l[1].onset.is_none());
        assert_eq!(l[2].n_devices, None);
        assert_eq!(l[2].rig_kw(), None);
    }

    #[test]
    fn labels_bad_cells_name_line_row_and_column() {
        let d = tempfile::tempdir().unwrap();
        let p = write(
            d.path(),
            "labels.csv",
            "meter_id,kind,is_mining,n_devices,device_kw,onset\n\
             M1,household,false,0,0,\n\
             M2,household,yes,0,0,\n",
        );
        let e = read_labels(&p).unwrap_err().to_string();
        assert!(
            e.contains("labels.csv: line 3 (data row 2), column \"is_mining\""),
            "{e}"
        );
        assert!(e.contains("fix:"), "{e}");

        let p = write(
            d.path(),
            "l2.csv",
            "meter_id,kind,is_mining,n_devices\nM1,mining_pure,true,2.5\n",
        );
        let e = read_labels(&p).unwrap_err().to_string();
        assert!(e.contains("column \"n_devices\""), "{e}");

        let p = write(d.path(), "l3.csv", "meter_id,is_mining\nM1,true\n");
        let e = read_labels(&p).unwrap_err().to_string();
        assert!(e.contains("required column \"kind\" not found; columns are: meter_id,is_mining"));

        let p = write(
            d.path(),
            "l4.csv",
            "meter_id,kind,is_mining\nM1,a,true\nM1,b,false\n",
        );
        let e = read_labels(&p).unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("first on line 2"), "{e}");

        let p = write(d.path(), "l5.csv", "meter_id,kind,is_mining\n");
        assert!(matches!(read_labels(&p), Err(EvalError::NoMeters { .. })));
        let p = write(d.path(), "l6.csv", "");
        assert!(matches!(read_labels(&p), Err(EvalError::EmptyFile { .. })));
        assert!(matches!(
            read_labels(&d.path().join("absent.csv")),
            Err(EvalError::Open { .. })
        ));
    }

    #[test]
    fn scores_only_id_and_score_required_and_na_means_unscored() {
        let d = tempfile::tempdir().unwrap();
        let p = write(
            d.path(),
            "scores.csv",
            "Meter_ID,Score\nA,1.5\nB,\nC,NaN\nD,-2e-3\n",
        );
        let s = read_scores(&p).unwrap();
        let got: Vec<_> = s.iter().map(|r| r.score).collect();
        assert_eq!(got, vec![Some(1.5), None, None, Some(-0.002)]);
        assert!(s.iter().all(|r| r.flagged.is_none() && r.onset.is_none()));
    }

    #[test]
    fn scores_full_columns() {
        let d = tempfile::tempdir().unwrap();
        let p = write(
            d.path(),
            "scores.csv",
            "meter_id,score,rank,flagged,est_rig_kw,est_devices,onset,excess_kwh,\
             registered_miner,top_reason\n\
             A,9.5,1,true,6.4,2,2024-03-04,800,false,\"flat, 24/7\"\n\
             B,0.1,,false,,,,,false,\n",
        );
        let s = read_scores(&p).unwrap();
        assert_eq!(s[0].flagged, Some(true));
        assert_eq!(s[0].est_devices, Some(2));
        assert_eq!(s[0].onset, NaiveDate::from_ymd_opt(2024, 3, 4));
        assert_eq!(s[1].flagged, Some(false));
        assert_eq!(s[1].est_devices, None);
    }

    #[test]
    fn scores_bad_cells() {
        let d = tempfile::tempdir().unwrap();
        for (body, col) in [
            ("meter_id,score\nA,1\nB,high\n", "score"),
            ("meter_id,score\nA,1\nB,inf\n", "score"),
            ("meter_id,score,flagged\nA,1,maybe\n", "flagged"),
            ("meter_id,score,onset\nA,1,04/03/2024\n", "onset"),
            ("meter_id,score,est_devices\nA,1,-1\n", "est_devices"),
        ] {
            let p = write(d.path(), "scores.csv", body);
            let e = read_scores(&p).unwrap_err().to_string();
            assert!(e.contains(&format!("column {col:?}")), "{e}");
            assert!(e.contains("scores.csv: line ") && e.contains("fix:"), "{e}");
        }
        let p = write(d.path(), "scores.csv", "meter_id,score\nA,1\nA,2\n");
        assert!(matches!(
            read_scores(&p),
            Err(EvalError::DuplicateMeter { line: 3, .. })
        ));
        let p = write(d.path(), "scores.csv", "meter_id,score\nA,1,extra\n");
        assert!(matches!(read_scores(&p), Err(EvalError::Csv { .. })));
    }

    #[test]
    fn window_start_from_run_json() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("run.json");
        assert_eq!(read_window_start(&p).unwrap(), None);
        std::fs::write(&p, r#"{"grid": {"start": "2024-03-01T00:00:00Z"}}"#).unwrap();
        assert_eq!(
            read_window_start(&p).unwrap(),
            parse_instant("2024-03-01T00:00:00Z")
        );
        std::fs::write(&p, r#"{"version": "0.1.0"}"#).unwrap();
        assert_eq!(read_window_start(&p).unwrap(), None);
        std::fs::write(&p, r#"{"grid": {"start": 5}}"#).unwrap();
        assert!(matches!(
            read_window_start(&p),
            Err(EvalError::RunJson { .. })
        ));
        std::fs::write(&p, "{").unwrap();
        assert!(matches!(
            read_window_start(&p),
            Err(EvalError::RunJson { .. })
        ));
    }

    #[test]
    fn instants() {
        let z = parse_instant("2024-03-01T00:00:00Z").unwrap();
        assert_eq!(parse_instant("2024-03-01"), Some(z));
        assert_eq!(parse_instant("2024-03-01 00:00:00"), Some(z));
        assert_eq!(parse_instant("2024-03-01T01:00:00+01:00"), Some(z));
        assert_eq!(parse_instant("March 1"), None);
    }
}
