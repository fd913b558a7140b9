//! Retention and the `latest` pointer: points `RUNS/latest` (and `RUNS/LATEST`) at a night's
//! folder, repairs the pointer after a night killed between its commit and its pointer, and
//! keeps the newest `keep_runs` dated run folders, and removes the day-cache blocks no window
//! uses any more. Inputs: the runs folder, the night, the database's last night, the blocks
//! still referenced; outputs: the pointer files, removed old folders and blocks.

use std::collections::BTreeSet;
use std::path::Path;

use chrono::NaiveDate;

use super::days::parse_day;
use super::db;

/// Points `RUNS/latest` at the night's folder (a symbolic link replaced atomically) and writes
/// `RUNS/LATEST` (the night, for tools that do not follow links).
pub fn point_latest(runs: &Path, night: &str) -> std::io::Result<()> {
    crate::output::atomic::write_file(&runs.join("LATEST"), format!("{night}\n").as_bytes())?;
    #[cfg(unix)]
    {
        let tmp = runs.join(".latest.tmp");
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(night, &tmp)?;
        std::fs::rename(&tmp, runs.join("latest"))?;
    }
    Ok(())
}

/// Points `latest` at the newest night recorded (after a night killed between its commit and
/// its pointer).
pub(super) fn repair_latest(conn: &rusqlite::Connection, runs: &Path) -> rusqlite::Result<()> {
    if let Some((night, _)) = db::last_night(conn)? {
        let current = std::fs::read_to_string(runs.join("LATEST")).unwrap_or_default();
        if current.trim() != night && runs.join(&night).is_dir() {
            let _ = point_latest(runs, &night);
        }
    }
    Ok(())
}

/// Keeps the newest `keep` dated run folders (never tonight's).
pub(super) fn prune_runs(runs: &Path, keep: usize, tonight: &str) {
    let Ok(entries) = std::fs::read_dir(runs) else {
        return;
    };
    let mut dated: Vec<String> = entries
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| parse_day(n).is_some())
        .collect();
    dated.sort();
    let n = dated.len();
    for name in dated.into_iter().take(n.saturating_sub(keep.max(1))) {
        if name != tonight {
            tracing::info!(folder = %name, "retention: run folder removed");
            let _ = std::fs::remove_dir_all(runs.join(name));
        }
    }
}

/// Removes day-cache folders before `keep_from` and blocks no longer referenced (also
/// `cache::prune`).
pub fn prune_blocks(state: &Path, keep_from: NaiveDate, referenced: &BTreeSet<String>) {
    let cache = state.join("cache");
    let Ok(days) = std::fs::read_dir(&cache) else {
        return;
    };
    for d in days.flatten() {
        let name = d.file_name().to_string_lossy().into_owned();
        match parse_day(&name) {
            Some(day) if day < keep_from => {
                let _ = std::fs::remove_dir_all(d.path());
            }
            Some(_) => {
                let Ok(files) = std::fs::read_dir(d.path()) else {
                    continue;
                };
                for f in files.flatten() {
                    let rel = format!("cache/{name}/{}", f.file_name().to_string_lossy());
                    if !referenced.contains(&rel) {
                        let _ = std::fs::remove_file(f.path());
                    }
                }
            }
            None => {}
        }
    }
}
