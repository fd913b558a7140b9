//! Atomic run folders (issue 9): `run` killed with SIGKILL at each of its write steps leaves the
//! output folder exactly as the previous complete run, or (past the swap) exactly as the new
//! complete run; never a mix. The steps are the library's named barriers
//! (`output::atomic::barrier`): a first run lists them (`GRIDSLEUTH_BARRIER_TRACE`), then one
//! run per step is stopped there (`GRIDSLEUTH_BARRIER`) and killed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::sample;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gridsleuth"));
    c.env_remove("GRIDSLEUTH_BARRIER")
        .env_remove("GRIDSLEUTH_BARRIER_TRACE")
        .env_remove("GRIDSLEUTH_BARRIER_READY")
        .env_remove("GRIDSLEUTH_BARRIER_ACTION");
    c
}

/// `run` on the sample region into `out`; `threshold` changes who is flagged, so two runs
/// differ in every output file.
fn run_args(out: &Path, threshold: &str) -> Vec<String> {
    vec![
        "run".into(),
        "--quiet".into(),
        "--config".into(),
        sample("region.toml"),
        "--flag-threshold".into(),
        threshold.into(),
        "-o".into(),
        out.display().to_string(),
    ]
}

/// Every file under `dir` (relative path -> bytes), `run.json` and `ingest.json` without their
/// timings.
pub fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(base: &Path, d: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                let rel = p.strip_prefix(base).unwrap().display().to_string();
                let mut bytes = std::fs::read(&p).unwrap();
                if rel.ends_with("run.json") || rel.ends_with("ingest.json") {
                    let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                    v.as_object_mut().unwrap().remove("timings_secs");
                    v.as_object_mut().unwrap().remove("timings");
                    bytes = v.to_string().into_bytes();
                }
                out.insert(rel, bytes);
            }
        }
    }
    let mut m = BTreeMap::new();
    walk(dir, dir, &mut m);
    m
}

fn run_complete(out: &Path, threshold: &str) {
    let st = bin().args(run_args(out, threshold)).status().expect("runs");
    assert!(st.code().is_some_and(|c| c <= 1), "run failed: {st:?}");
}

/// Runs until `step`, kills the process there (SIGKILL), and returns.
fn kill_at(out: &Path, threshold: &str, step: &str, ready: &Path) {
    let _ = std::fs::remove_file(ready);
    let mut child = bin()
        .args(run_args(out, threshold))
        .env("GRIDSLEUTH_BARRIER", step)
        .env("GRIDSLEUTH_BARRIER_READY", ready)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawns");
    let t0 = Instant::now();
    while !ready.exists() {
        if let Some(st) = child.try_wait().unwrap() {
            panic!("the run ended ({st:?}) before step {step}");
        }
        assert!(
            t0.elapsed() < Duration::from_secs(300),
            "step {step} not reached"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
}

fn leftovers(parent: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(parent)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .contains(".gridsleuth-")
        })
        .collect()
}

#[test]
fn run_killed_at_every_write_step_leaves_a_complete_run() {
    let tmp = tempfile::tempdir().unwrap();
    // Reference outputs of both settings, in folders of the same name (the report's title).
    let (ref_a, ref_b) = (tmp.path().join("a/out"), tmp.path().join("b/out"));
    run_complete(&ref_a, "0.5");
    // The steps of a run over an existing folder (a first run has no swap).
    run_complete(&ref_b, "0.3");
    let trace = tmp.path().join("trace.txt");
    let st = bin()
        .args(run_args(&ref_b, "0.3"))
        .env("GRIDSLEUTH_BARRIER_TRACE", &trace)
        .status()
        .unwrap();
    assert!(st.code().is_some_and(|c| c <= 1));
    let (a, b) = (snapshot(&ref_a), snapshot(&ref_b));
    assert_ne!(a, b, "the two settings must give different runs");
    let steps: Vec<String> = std::fs::read_to_string(&trace)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    for must in [
        "run:scores.csv",
        "run:features.parquet",
        "run:run.json",
        "report:pages",
        "report:index",
        "commit:before-swap",
        "commit:swapped",
    ] {
        assert!(steps.iter().any(|s| s == must), "{must} not in {steps:?}");
    }

    let out = tmp.path().join("c/out");
    run_complete(&out, "0.5");
    assert_eq!(snapshot(&out), a);
    let ready = tmp.path().join("ready");
    for step in &steps {
        kill_at(&out, "0.3", step, &ready);
        let now = snapshot(&out);
        let swapped = matches!(step.as_str(), "commit:swapped" | "commit:done");
        if swapped {
            assert!(now == b, "killed at {step}: not the new complete run");
        } else {
            assert!(now == a, "killed at {step}: the previous run is not intact");
        }
        // Back to the first settings for the next step.
        run_complete(&out, "0.5");
        assert!(
            snapshot(&out) == a,
            "the run after a kill at {step} is not complete"
        );
        assert!(
            leftovers(out.parent().unwrap()).is_empty(),
            "leftovers after a kill at {step}: {:?}",
            leftovers(out.parent().unwrap())
        );
    }
}
