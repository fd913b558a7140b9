//! `gridsleuth run` end to end on the committed samples: the run directory, byte-identical
//! reruns, registered miners kept out of the suspects, rigs injected into London-style homes
//! found first (the real homes: `shared_data`), and a quality floor on the sample region
//! measured by `gridsleuth eval`.

use std::path::Path;
use std::process::Command;

use crate::support::{repo, sample};

fn gridsleuth(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gridsleuth"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("run gridsleuth");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn run_region(dir: &Path) {
    let (code, _, err) = gridsleuth(&[
        "run",
        "-q",
        "--config",
        &sample("region.toml"),
        "-o",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
}

fn csv_rows(path: &Path) -> Vec<csv::StringRecord> {
    let mut r = csv::Reader::from_path(path).unwrap();
    r.records().map(|x| x.unwrap()).collect()
}

#[test]
fn same_inputs_give_byte_identical_outputs() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    run_region(&a);
    run_region(&b);
    for f in [
        "scores.csv",
        "suspects.csv",
        "registered_miners.csv",
        "features.parquet",
        "data_quality.csv",
    ] {
        let (x, y) = (
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
        );
        assert!(!x.is_empty(), "{f} is empty");
        assert!(x == y, "{f} differs between two runs");
    }
    // run.json differs in timings only.
    let ja: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a.join("run.json")).unwrap()).unwrap();
    let jb: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.join("run.json")).unwrap()).unwrap();
    for key in [
        "counts", "settings", "clusters", "grid", "datasets", "inputs",
    ] {
        assert_eq!(ja[key], jb[key], "run.json {key}");
    }
    assert!(ja["timings_secs"]["features"].as_f64().unwrap() >= 0.0);
}

#[test]
fn run_directory_ranks_explains_and_keeps_licensed_miners_apart() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("r");
    run_region(&dir);
    let scores = csv_rows(&dir.join("scores.csv"));
    assert_eq!(scores.len(), 200, "every meter scored");
    let suspects = csv_rows(&dir.join("suspects.csv"));
    assert!(!suspects.is_empty());
    let mut last_rank = 0usize;
    for s in &suspects {
        let rank: usize = s[0].parse().unwrap();
        assert!(rank > last_rank, "suspects in rank order");
        last_rank = rank;
        assert!(
            s[6].parse::<f64>().unwrap() > 0.5,
            "estimated rig kW: {s:?}"
        );
        assert!(!s[9].is_empty(), "onset date: {s:?}");
        assert!(s[11].contains("kW"), "reasons in plain words: {s:?}");
    }
    // The two licensed miners of the sample (labels.csv kind registered_miner).
    let labels = csv_rows(Path::new(&sample("region/labels.csv")));
    let registered: Vec<&str> = labels
        .iter()
        .filter(|l| &l[1] == "registered_miner")
        .map(|l| l.get(0).unwrap())
        .collect();
    assert_eq!(registered.len(), 2);
    for id in &registered {
        assert!(
            suspects.iter().all(|s| &s[1] != *id),
            "{id} is licensed: never a suspect"
        );
        let row = scores.iter().find(|r| &r[0] == *id).unwrap();
        assert_eq!((&row[1], &row[2], &row[3]), ("0.000000", "", "false"));
    }
    let reg = csv_rows(&dir.join("registered_miners.csv"));
    assert_eq!(reg.len(), 2);
}

#[test]
fn sample_region_quality_floor() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("r");
    run_region(&dir);
    let (code, out, err) = gridsleuth(&[
        "eval",
        "--labels",
        &sample("region/labels.csv"),
        "--run",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let e: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("eval.json")).unwrap()).unwrap();
    let auc = e["roc_auc"].as_f64().unwrap();
    assert!(auc >= 0.97, "ROC AUC {auc} on the sample region\n{out}");
    assert_eq!(e["registered"]["flagged"].as_u64(), Some(0), "{out}");
}

#[test]
fn rigs_injected_into_london_style_homes_rank_first() {
    let tmp = tempfile::tempdir().unwrap();
    let homes = crate::generated::london_style(&tmp.path().join("homes"));
    injected_rigs_rank_first(&homes);
}

/// Injects rigs into 40% of five London-layout homes `glob` with `synth --inject-into`, runs
/// the detection, and checks that both injected rigs rank first.
pub fn injected_rigs_rank_first(glob: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let inj = tmp.path().join("inj");
    let (code, _, err) = gridsleuth(&[
        "synth",
        "-q",
        "--inject-into",
        glob,
        "--meter-col",
        "LCLid",
        "--time-col",
        "tstp",
        "--value-col",
        "energy(kWh/hh)",
        "--inject-share",
        "0.4",
        "--seed",
        "3",
        "-o",
        inj.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let run = tmp.path().join("run");
    let (code, _, err) = gridsleuth(&[
        "run",
        "-q",
        "-r",
        inj.join("readings.parquet").to_str().unwrap(),
        "-o",
        run.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let labels = csv_rows(&inj.join("labels.csv"));
    let rigs: Vec<String> = labels
        .iter()
        .filter(|l| &l[2] == "true")
        .map(|l| l[0].to_string())
        .collect();
    assert_eq!(rigs.len(), 2, "40% of 5 homes");
    let scores = csv_rows(&run.join("scores.csv"));
    for id in &rigs {
        let row = scores.iter().find(|r| &r[0] == id.as_str()).unwrap();
        let rank: usize = row[2].parse().unwrap();
        assert!(rank <= rigs.len(), "injected rig {id} ranked {rank}");
    }
}
