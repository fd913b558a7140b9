//! Atomic run folders (issue 9): `run` killed with SIGKILL at each of its write steps leaves the
//! output folder exactly as the previous complete run, or (past the swap) exactly as the new
//! complete run; never a mix. The steps are the library's named barriers
//! (`output::atomic::barrier`): a first run lists them (`GRIDSLEUTH_BARRIER_TRACE`), then one
//! run per step is stopped there (`GRIDSLEUTH_BARRIER`) and killed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{bin_without_barriers, kill_at_barrier, sample};

fn bin() -> Command {
    bin_without_barriers()
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
    let mut cmd = bin();
    cmd.args(run_args(out, threshold));
    kill_at_barrier(cmd, step, ready);
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

/// Copies a folder tree (the state folder's backup).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        let t = to.join(e.file_name());
        let ft = e.file_type().unwrap();
        if ft.is_symlink() {
            let target = std::fs::read_link(&p).unwrap();
            std::os::unix::fs::symlink(target, &t).unwrap();
        } else if ft.is_dir() {
            copy_tree(&p, &t);
        } else {
            std::fs::copy(&p, &t).unwrap();
        }
    }
}

fn nightly_cmd(site: &Path) -> Command {
    let mut c = bin();
    c.args(["nightly", "--quiet", "--config"])
        .arg(site.join("site.toml"));
    c
}

fn db_rows(state: &Path) -> Vec<i64> {
    let c = rusqlite::Connection::open(state.join("gridsleuth.sqlite")).unwrap();
    let ok: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    [
        "runs",
        "files",
        "file_days",
        "scores",
        "cases",
        "case_nights",
    ]
    .iter()
    .map(|t| {
        c.query_row(&format!("SELECT COUNT(*) FROM {t}"), [], |r| r.get(0))
            .unwrap()
    })
    .collect()
}

#[test]
fn nightly_killed_at_every_write_step_leaves_the_previous_night_and_a_consistent_state() {
    let tmp = tempfile::tempdir().unwrap();
    let syn = tmp.path().join("syn");
    let st = bin()
        .args([
            "synth", "--quiet", "--meters", "80", "--days", "9", "--format", "csv", "--seed", "3",
            "-o",
        ])
        .arg(&syn)
        .status()
        .unwrap();
    assert!(st.success());
    let site = tmp.path().join("site");
    std::fs::create_dir_all(site.join("landing")).unwrap();
    std::fs::write(
        site.join("site.toml"),
        format!(
            "[inputs]\nmeters = \"{}\"\n[time]\ntz = \"UTC\"\ninterval = \"30m\"\n\
             [nightly]\nlanding = [\"landing/*.csv\"]\nwindow_days = 7\n",
            syn.join("meters.csv").display()
        ),
    )
    .unwrap();
    let text = std::fs::read_to_string(syn.join("readings.csv")).unwrap();
    let mut days: BTreeMap<String, String> = BTreeMap::new();
    for line in text.lines().skip(1) {
        let d = line.split(',').nth(1).unwrap()[..10].to_string();
        days.entry(d)
            .or_insert_with(|| "meter_id,timestamp,kwh\n".into())
            .push_str(&format!("{line}\n"));
    }
    let names: Vec<String> = days.keys().cloned().collect();
    let deliver = |i: usize| {
        std::fs::write(
            site.join("landing").join(format!("{}.csv", names[i])),
            &days[&names[i]],
        )
        .unwrap();
    };
    for i in 0..7 {
        deliver(i);
    }
    let st = nightly_cmd(&site).status().unwrap();
    assert!(st.code().is_some_and(|c| c <= 1));
    let state = site.join("state");
    let runs = state.join("runs");
    let night1 = names[6].clone();
    let night2 = names[7].clone();
    let first = snapshot(&runs.join(&night1));
    let backup = tmp.path().join("state.bak");
    copy_tree(&state, &backup);
    deliver(7);
    // The uninterrupted second night, and its steps.
    let trace = tmp.path().join("trace.txt");
    let st = nightly_cmd(&site)
        .env("GRIDSLEUTH_BARRIER_TRACE", &trace)
        .status()
        .unwrap();
    assert!(st.code().is_some_and(|c| c <= 1));
    let reference = snapshot(&runs.join(&night2));
    let reference_rows = db_rows(&state);
    let steps: Vec<String> = std::fs::read_to_string(&trace)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    for must in [
        "nightly:read-file",
        "nightly:blocks-written",
        "run:scores.csv",
        "nightly:cases-written",
        "nightly:folder-committed",
        "nightly:db-before-commit",
        "nightly:db-committed",
    ] {
        assert!(steps.iter().any(|s| s == must), "{must} not in {steps:?}");
    }
    let ready = tmp.path().join("ready");
    for step in &steps {
        std::fs::remove_dir_all(&state).unwrap();
        copy_tree(&backup, &state);
        kill_at_barrier(nightly_cmd(&site), step, &ready);
        // The previous night is intact; `latest` names a complete night.
        assert!(
            snapshot(&runs.join(&night1)) == first,
            "killed at {step}: night 1 changed"
        );
        let latest = std::fs::read_to_string(runs.join("LATEST")).unwrap();
        let latest = latest.trim();
        assert!(latest == night1 || latest == night2, "{latest}");
        if latest == night2 {
            assert!(
                snapshot(&runs.join(&night2)) == reference,
                "killed at {step}"
            );
        }
        db_rows(&state); // integrity
                         // The next nightly finishes the night exactly as the uninterrupted one did.
        let st = nightly_cmd(&site).status().unwrap();
        assert!(
            matches!(st.code(), Some(0 | 1 | 3)),
            "after a kill at {step}: {st:?}"
        );
        assert!(
            snapshot(&runs.join(&night2)) == reference,
            "after a kill at {step}: night 2 differs"
        );
        assert_eq!(db_rows(&state), reference_rows, "after a kill at {step}");
        assert_eq!(
            std::fs::read_to_string(runs.join("LATEST")).unwrap().trim(),
            night2,
            "after a kill at {step}"
        );
    }
}
