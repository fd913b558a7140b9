//! `gridsleuth eval` end to end through the library: small `labels.csv` + run directories written
//! into temporary directories, the committed sample region's labels, the text and both JSON
//! outputs, and the errors for bad input (file, line/row and column named, with a fix).

use std::path::{Path, PathBuf};

use clap::Parser;
use gridsleuth::cli::tools::EvalArgs;
use gridsleuth::eval::{run_eval, EvalError, EvalOptions, EvalReport};

use super::support::sample;

/// Parses `EvalArgs` from flags exactly as clap does for the subcommand.
#[derive(Debug, Parser)]
struct Flags {
    #[command(flatten)]
    args: EvalArgs,
}

fn flags(argv: &[&str]) -> EvalOptions {
    Flags::try_parse_from(std::iter::once("eval").chain(argv.iter().copied()))
        .unwrap()
        .args
        .options()
}

const LABELS: &str = "\
meter_id,kind,is_mining,n_devices,device_kw,onset,rig_kw,model
M1,mining_pure,true,4,3.0,2024-03-01T00:00:00Z,12.0,s19
M2,commercial_24x7,false,0,0.0,,,
M3,mining_mixed,true,2,3.2,2024-03-05T12:00:00Z,6.4,s19
M4,household,false,0,0.0,,,
M5,mining_mixed,true,1,1.3,2024-03-01T00:00:00Z,1.3,s9
M6,household,false,0,0.0,,,
M7,household_storage_heating,false,0,0.0,,,
M8,household,false,0,0.0,,,
M9,mining_night,true,1,3.0,2024-03-09T06:00:00Z,3.0,s19
R1,registered_miner,true,12,3.2,2024-03-01T00:00:00Z,38.4,s19
";

/// As `gridsleuth run` writes it: every column, M8 missing (unscored), X9 not in the labels.
const SCORES: &str = "\
meter_id,score,rank,flagged,est_rig_kw,est_devices,onset,excess_kwh,registered_miner,top_reason
M1,9.000000,1,true,12.1,4,2024-03-01,4000.0,false,flat 24/7 load
M2,8.000000,2,true,30.2,,,900.0,false,flat 24/7 load
M3,7.000000,3,true,6.0,3,2024-03-08,1500.0,false,step up on 2024-03-08
M4,7.000000,4,false,,,,,false,
M5,5.000000,5,false,,,,,false,
M6,4.000000,6,false,,,,,false,
M7,3.000000,7,false,,,,,false,
M9,1.000000,8,false,,,,,false,
R1,7.500000,,false,38.0,12,,,true,registered miner
X9,0.500000,9,false,,,,,false,
";

fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p
}

/// A run directory with `scores.csv` (and `run.json` if given) and a labels file beside it.
fn setup(labels: &str, scores: &str, run_json: Option<&str>) -> (tempfile::TempDir, EvalOptions) {
    let d = tempfile::tempdir().unwrap();
    let run = d.path().join("run");
    std::fs::create_dir(&run).unwrap();
    write(&run, "scores.csv", scores);
    if let Some(j) = run_json {
        write(&run, "run.json", j);
    }
    let labels = write(d.path(), "labels.csv", labels);
    let args = flags(&[
        "--labels",
        labels.to_str().unwrap(),
        "--run",
        run.to_str().unwrap(),
    ]);
    (d, args)
}

fn eval_ok(args: &EvalOptions) -> (EvalReport, String) {
    let mut out = Vec::new();
    let r = run_eval(args, &mut out).unwrap_or_else(|e| panic!("{e}"));
    (r, String::from_utf8(out).unwrap())
}

fn eval_err(args: &EvalOptions) -> String {
    match run_eval(args, &mut Vec::new()) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn end_to_end_text_and_json() {
    let (d, mut args) = setup(LABELS, SCORES, None);
    let extra = d.path().join("metrics.json");
    args.json = Some(extra.clone());
    let (r, text) = eval_ok(&args);

    assert_eq!(
        (r.meters, r.positives, r.negatives, r.registered_miners),
        (10, 4, 5, 1)
    );
    assert_eq!((r.unscored_meters, r.scores_not_in_labels), (1, 1));
    // Positives 9, 7, 5, 1 vs negatives 8, 7, 4, 3 and M8 unscored (-inf): pairs won
    // 5 + 3.5 + 3 + 1 = 12.5 of 20.
    assert_eq!(r.roc_auc, Some(0.625));
    let f = r.flagged.as_ref().unwrap();
    assert_eq!((f.true_positives, f.false_positives), (2, 1));
    assert_eq!(f.false_positives_by_kind["commercial_24x7"], 1);
    assert_eq!(r.registered.flagged, Some(0));
    let on = r.onset.as_ref().unwrap();
    assert_eq!(on.window_start_source, "earliest onset in labels");
    assert_eq!((on.at_window_start.n, on.mid_window.n), (1, 1));
    assert_eq!(r.devices.as_ref().unwrap().within_1, Some(1.0));

    assert!(text.starts_with("gridsleuth eval: labels "), "{text}");
    assert!(
        text.contains("WARNING: 1 meter in labels had no score (ranked last)"),
        "{text}"
    );
    assert!(
        text.contains("note: 1 meter in scores.csv not in labels (ignored)"),
        "{text}"
    );
    assert!(text.contains("  ROC AUC   "), "{text}");
    assert!(
        text.contains("FPR 0.1%  FPR 0.5%  FPR 1%  flagged"),
        "{text}"
    );
    assert!(text.contains("  flagged: 0 (must be 0)"), "{text}");
    assert!(text.trim_end().ends_with("metrics.json"), "{text}");

    // The same JSON in the run directory and at --json, and it parses back.
    let in_run = std::fs::read_to_string(args.run.join("eval.json")).unwrap();
    assert_eq!(in_run, std::fs::read_to_string(&extra).unwrap());
    let v: serde_json::Value = serde_json::from_str(&in_run).unwrap();
    assert_eq!(v["positives"], 4);
    assert_eq!(v["roc_auc"], 0.625);
    assert_eq!(v["at_fpr"][2]["name"], "FPR 1%");
    assert_eq!(v["flagged"]["true_positives"], 2);
    assert!(v["labels_file"].as_str().unwrap().ends_with("labels.csv"));
}

#[test]
fn window_start_comes_from_run_json() {
    let run_json = r#"{"version": "0.1.0", "grid": {"start": "2024-02-28T00:00:00Z"}}"#;
    let (_d, args) = setup(LABELS, SCORES, Some(run_json));
    let (r, text) = eval_ok(&args);
    let on = r.onset.unwrap();
    assert_eq!(on.window_start_source, "run.json grid.start");
    assert_eq!(on.window_start.as_deref(), Some("2024-02-28T00:00:00Z"));
    // No true onset sits at that start: both flagged rigs are "mid-window".
    assert_eq!((on.at_window_start.n, on.mid_window.n), (0, 2));
    assert!(text.contains("(run.json grid.start)"), "{text}");
}

#[test]
fn minimal_scores_without_optional_columns() {
    // Only meter_id,score (like metrics.py): no flagged list, so no onset/device sections.
    let (_d, args) = setup(LABELS, "meter_id,score\nM1,1\nM3,0.5\nM4,0.7\n", None);
    let (r, text) = eval_ok(&args);
    assert!(r.flagged.is_none() && r.onset.is_none() && r.devices.is_none());
    assert_eq!(r.unscored_meters, 7);
    assert!(!text.contains("Onset of flagged"), "{text}");
    assert!(
        text.contains("flagged: - (scores.csv has no flagged column)"),
        "{text}"
    );
}

#[test]
fn committed_sample_labels() {
    // The sample region's labels (10 hidden miners, 2 registered) against an oracle that scores
    // each meter by its rig power: every hidden miner outranks every negative.
    let labels = sample("region/labels.csv");
    let body = std::fs::read_to_string(&labels).unwrap();
    let mut scores = String::from("meter_id,score\n");
    for line in body.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let kw: f64 = f[3].parse::<f64>().unwrap() * f[4].parse::<f64>().unwrap();
        scores.push_str(&format!("{},{kw}\n", f[0]));
    }
    let (_d, args) = setup(&body, &scores, None);
    let args = EvalOptions {
        labels: labels.into(),
        ..args
    };
    let (r, _) = eval_ok(&args);
    assert_eq!(
        (r.meters, r.positives, r.negatives, r.registered_miners),
        (200, 10, 188, 2)
    );
    assert_eq!(r.roc_auc, Some(1.0));
    // 1 up to rounding (scikit-learn also gives 0.9999999999999999 for 10 positives).
    assert!((r.average_precision.unwrap() - 1.0).abs() < 1e-12);
    assert_eq!(r.at_fpr[0].recall.rate, Some(1.0));
    // Registered miners draw the most: both sit in the top 10 of the full ranking.
    assert_eq!(r.registered.in_top_k[3].registered, 2);
}

#[test]
fn missing_score_column_names_file_column_and_fix() {
    let (_d, args) = setup(LABELS, "meter_id,rank\nM1,1\n", None);
    let e = eval_err(&args);
    assert!(
        e.contains("scores.csv: required column \"score\" not found"),
        "{e}"
    );
    assert!(e.contains("columns are: meter_id,rank"), "{e}");
    assert!(
        e.contains("fix: point --run at a directory written by"),
        "{e}"
    );

    let (_d, args) = setup("meter_id,kind\nM1,household\n", SCORES, None);
    let e = eval_err(&args);
    assert!(
        e.contains("labels.csv: required column \"is_mining\""),
        "{e}"
    );
}

#[test]
fn non_numeric_score_names_file_row_and_column() {
    let scores = "meter_id,score\nM1,9\nM2,8\nM3,high\n";
    let (_d, args) = setup(LABELS, scores, None);
    let mut out = Vec::new();
    let err = run_eval(&args, &mut out).unwrap_err();
    match &err {
        EvalError::BadValue {
            path,
            line,
            row,
            column,
            value,
            ..
        } => {
            assert!(path.ends_with("run/scores.csv"));
            assert_eq!(
                (*line, *row, *column, value.as_str()),
                (4, 3, "score", "high")
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    let e = err.to_string();
    assert!(
        e.contains(
            "scores.csv: line 4 (data row 3), column \"score\": \"high\" is not a finite number"
        ),
        "{e}"
    );
    assert!(e.contains("fix: "), "{e}");
    // Nothing was written.
    assert!(out.is_empty());
    assert!(!args.run.join("eval.json").exists());
}

#[test]
fn other_bad_inputs() {
    // A bad is_mining on labels row 2.
    let labels = "meter_id,kind,is_mining\nM1,household,false\nM2,mining_pure,1\n";
    let (_d, args) = setup(labels, SCORES, None);
    let e = eval_err(&args);
    assert!(
        e.contains("labels.csv: line 3 (data row 2), column \"is_mining\": \"1\""),
        "{e}"
    );
    // A repeated meter in scores.csv.
    let (_d, args) = setup(LABELS, "meter_id,score\nM1,1\nM2,2\nM1,3\n", None);
    let e = eval_err(&args);
    assert!(
        e.contains("line 4") && e.contains("\"M1\" is repeated (first on line 2)"),
        "{e}"
    );
    // No scores.csv in the run directory.
    let (d, mut args) = setup(LABELS, SCORES, None);
    args.run = d.path().join("nowhere");
    let e = eval_err(&args);
    assert!(e.contains("nowhere/scores.csv: cannot open"), "{e}");
    // A broken run.json.
    let (_d, args) = setup(LABELS, SCORES, Some("{\"grid\": "));
    let e = eval_err(&args);
    assert!(e.contains("run.json: not valid JSON"), "{e}");
}
