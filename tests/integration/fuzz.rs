//! The fuzzer's regressions: every input under `fuzz/regressions/TARGET/` (each a crash the
//! fuzzer once found, see fuzz/README.md) and every seed runs through its target without a
//! panic. The targets are the fuzzer's own (`fuzz/targets.rs`), so a regression is replayed
//! exactly as it was found.

#[path = "../../fuzz/targets.rs"]
mod targets;

use std::path::Path;

fn replay(target: &str, files: &[std::path::PathBuf]) -> usize {
    let dir = tempfile::tempdir().unwrap();
    for f in files {
        let data = std::fs::read(f).unwrap();
        let outcome = std::panic::catch_unwind(|| targets::run(target, &data, dir.path()));
        assert!(
            outcome.is_ok(),
            "{target}: {} panics (replay it with the fuzz example)",
            f.display()
        );
    }
    files.len()
}

#[test]
fn every_regression_and_seed_runs_clean() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut total = 0;
    for t in targets::TARGETS {
        let mut files = targets::seeds(root, t);
        if let Ok(rd) = std::fs::read_dir(root.join("fuzz/regressions").join(t)) {
            let mut reg: Vec<_> = rd.flatten().map(|e| e.path()).collect();
            reg.sort();
            files.extend(reg);
        }
        total += replay(t, &files);
    }
    assert!(total > 20, "only {total} inputs replayed");
}

#[test]
fn the_kept_corpus_runs_clean() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for t in targets::TARGETS {
        if let Ok(rd) = std::fs::read_dir(root.join("fuzz/corpus").join(t)) {
            let mut files: Vec<_> = rd.flatten().map(|e| e.path()).collect();
            files.sort();
            replay(t, &files);
        }
    }
}
