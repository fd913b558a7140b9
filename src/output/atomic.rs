//! Atomic output folders: a command writes into a temporary sibling folder
//! (`.NAME.gridsleuth-tmp-PID`) and [`StagedDir::commit`] puts it in place only once complete,
//! so the output folder is always either the previous complete run or the new complete run,
//! whenever the process dies (SIGKILL, power loss, a full disk).
//!
//! The swap: on Linux `renameat2(RENAME_EXCHANGE)` swaps the two folders in one step, then the
//! old one (now at the temporary name) is removed. Elsewhere (or on a file system without
//! exchange) the previous folder is first renamed aside to `.NAME.gridsleuth-old-PID`, the new
//! one renamed into place, and the old one removed; a process killed between those two renames
//! leaves only the aside folder, which the next [`StagedDir::begin`] on the same target renames
//! back before anything else. Leftovers of dead processes (their temporary and aside folders)
//! are removed by the next `begin`.
//!
//! [`barrier`] is the test hook: at each named write step a process can be stopped
//! (`GRIDSLEUTH_BARRIER=NAME`) and killed by a test, which then checks that the previous run is
//! intact (tests/integration/atomic_runs.rs).

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const TMP_TAG: &str = ".gridsleuth-tmp-";
const OLD_TAG: &str = ".gridsleuth-old-";

/// A folder being written: [`StagedDir::path`] until [`StagedDir::commit`] puts it at the
/// target. Dropped uncommitted (an error), it removes its temporary folder.
#[derive(Debug)]
pub struct StagedDir {
    target: PathBuf,
    tmp: PathBuf,
    committed: bool,
}

fn sibling(target: &Path, tag: &str, pid: u32) -> PathBuf {
    let name = target
        .file_name()
        .map_or_else(|| OsString::from("out"), OsString::from);
    let mut s = OsString::from(".");
    s.push(&name);
    s.push(format!("{tag}{pid}"));
    target.with_file_name(s)
}

/// Whether the process `pid` is alive (always true where that cannot be told, so nothing of a
/// running process is removed).
fn alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    let proc = Path::new("/proc");
    if !proc.is_dir() {
        return true;
    }
    proc.join(pid.to_string()).exists()
}

/// The target's leftovers: (path, is_aside, pid) of every `.NAME.gridsleuth-{tmp,old}-PID`.
fn leftovers(target: &Path) -> Vec<(PathBuf, bool, u32)> {
    let Some(name) = target.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return Vec::new();
    };
    let parent = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let Ok(entries) = std::fs::read_dir(&parent) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let f = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = f
            .strip_prefix('.')
            .and_then(|r| r.strip_prefix(name.as_str()))
        else {
            continue;
        };
        for (tag, aside) in [(TMP_TAG, false), (OLD_TAG, true)] {
            if let Some(pid) = rest.strip_prefix(tag).and_then(|p| p.parse::<u32>().ok()) {
                out.push((target.with_file_name(&f), aside, pid));
            }
        }
    }
    out.sort();
    out
}

/// Puts back a previous folder left aside by a process killed mid-swap, and removes the
/// leftovers of dead processes.
pub fn recover(target: &Path) -> std::io::Result<()> {
    for (p, aside, pid) in leftovers(target) {
        if alive(pid) {
            continue;
        }
        if aside && !target.exists() {
            std::fs::rename(&p, target)?;
        } else {
            std::fs::remove_dir_all(&p).or_else(|e| match e.kind() {
                std::io::ErrorKind::NotFound => Ok(()),
                _ => Err(e),
            })?;
        }
    }
    Ok(())
}

/// Hidden file in every folder written here: what marks a folder as ours to replace.
pub const MARKER: &str = ".gridsleuth";

/// Files of gridsleuth output folders written before the marker existed.
const KNOWN: [&str; 7] = [
    MARKER,
    "run.json",
    "ingest.json",
    "synth.json",
    "balance.json",
    "drop.json",
    "index.html",
];

/// Refuses to replace a folder that is not a gridsleuth output folder (say `-o .` or a home
/// folder): an empty or missing folder, or one holding a gridsleuth output file, is fine.
fn check_replaceable(target: &Path) -> std::io::Result<()> {
    let bad_name = target.file_name().is_none()
        || target
            .components()
            .next_back()
            .is_some_and(|c| matches!(c, std::path::Component::ParentDir));
    if bad_name {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "an output folder needs a name of its own (not `.`, `..` or `/`): pass -o DIR",
        ));
    }
    let Ok(mut entries) = std::fs::read_dir(target) else {
        return Ok(()); // missing (or not a folder: the rename will say so)
    };
    if entries.next().is_none() || KNOWN.iter().any(|f| target.join(f).exists()) {
        return Ok(());
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AlreadyExists,
        "the folder exists and is not a gridsleuth output folder, and an output folder is \
         replaced whole: pass -o with a new folder, or empty this one",
    ))
}

impl StagedDir {
    /// Starts writing `target`: recovers its leftovers and makes an empty temporary sibling.
    pub fn begin(target: &Path) -> std::io::Result<Self> {
        if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        recover(target)?;
        check_replaceable(target)?;
        let tmp = sibling(target, TMP_TAG, std::process::id());
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp)?;
        }
        std::fs::create_dir_all(&tmp)?;
        std::fs::write(
            tmp.join(MARKER),
            "written by gridsleuth: replaced whole by its next run\n",
        )?;
        Ok(StagedDir {
            target: target.to_path_buf(),
            tmp,
            committed: false,
        })
    }

    /// Where to write.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// Where the folder goes.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// The name the folder will have (its report's title).
    pub fn name(&self) -> String {
        self.target.file_name().map_or_else(
            || "gridsleuth run".into(),
            |n| n.to_string_lossy().into_owned(),
        )
    }

    /// Puts the complete folder in place of the target (whatever the target held before).
    pub fn commit(mut self) -> std::io::Result<()> {
        barrier("commit:before-swap");
        if !self.target.exists() {
            std::fs::rename(&self.tmp, &self.target)?;
            self.committed = true;
            barrier("commit:done");
            return Ok(());
        }
        if exchange(&self.tmp, &self.target).is_ok() {
            // The previous folder is now at the temporary name.
            self.committed = true;
            barrier("commit:swapped");
            std::fs::remove_dir_all(&self.tmp)?;
        } else {
            let aside = sibling(&self.target, OLD_TAG, std::process::id());
            std::fs::rename(&self.target, &aside)?;
            barrier("commit:aside");
            std::fs::rename(&self.tmp, &self.target)?;
            self.committed = true;
            barrier("commit:swapped");
            std::fs::remove_dir_all(&aside)?;
        }
        barrier("commit:done");
        Ok(())
    }
}

impl Drop for StagedDir {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.tmp);
        }
    }
}

#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE).map_err(std::io::Error::from)
}

#[cfg(not(target_os = "linux"))]
fn exchange(_a: &Path, _b: &Path) -> std::io::Result<()> {
    Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
}

/// Writes a file atomically: a temporary sibling, flushed to disk, then renamed over `path`.
pub fn write_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut name = OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    name.push(format!("{TMP_TAG}{}", std::process::id()));
    let tmp = path.with_file_name(name);
    let r = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    r
}

#[derive(Debug)]
struct Hook {
    stop: Option<String>,
    ready: Option<PathBuf>,
    trace: Option<PathBuf>,
    abort: bool,
}

fn hook() -> &'static Hook {
    static HOOK: OnceLock<Hook> = OnceLock::new();
    HOOK.get_or_init(|| Hook {
        stop: std::env::var("GRIDSLEUTH_BARRIER")
            .ok()
            .filter(|s| !s.is_empty()),
        ready: std::env::var_os("GRIDSLEUTH_BARRIER_READY").map(PathBuf::from),
        trace: std::env::var_os("GRIDSLEUTH_BARRIER_TRACE").map(PathBuf::from),
        abort: std::env::var("GRIDSLEUTH_BARRIER_ACTION").is_ok_and(|a| a == "abort"),
    })
}

/// A named write step (test hook; free when the variables are unset).
///
/// - `GRIDSLEUTH_BARRIER_TRACE=FILE`: each step appends its name to FILE.
/// - `GRIDSLEUTH_BARRIER=NAME`: at step NAME the process creates `GRIDSLEUTH_BARRIER_READY`
///   (when set) and sleeps until killed, or aborts at once with `GRIDSLEUTH_BARRIER_ACTION=abort`.
pub fn barrier(name: &str) {
    let h = hook();
    if let Some(t) = &h.trace {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(t)
        {
            let _ = writeln!(f, "{name}");
        }
    }
    if h.stop.as_deref() == Some(name) {
        if h.abort {
            std::process::abort();
        }
        if let Some(r) = &h.ready {
            let _ = std::fs::write(r, name);
        }
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(p: &Path) -> String {
        std::fs::read_to_string(p).unwrap()
    }

    #[test]
    fn commit_replaces_the_whole_folder() {
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("run");
        let s = StagedDir::begin(&target).unwrap();
        std::fs::write(s.path().join("a.csv"), "one").unwrap();
        std::fs::write(s.path().join("old-only.csv"), "x").unwrap();
        s.commit().unwrap();
        assert_eq!(read(&target.join("a.csv")), "one");
        let s = StagedDir::begin(&target).unwrap();
        std::fs::write(s.path().join("a.csv"), "two").unwrap();
        // Until the commit the previous run is untouched.
        assert_eq!(read(&target.join("a.csv")), "one");
        s.commit().unwrap();
        assert_eq!(read(&target.join("a.csv")), "two");
        assert!(!target.join("old-only.csv").exists());
        let names: Vec<_> = std::fs::read_dir(d.path()).unwrap().flatten().collect();
        assert_eq!(names.len(), 1, "no leftovers: {names:?}");
    }

    #[test]
    fn an_uncommitted_folder_is_removed_and_the_previous_kept() {
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("run");
        std::fs::create_dir_all(&target).unwrap();
        std::fs::write(target.join("a.csv"), "prev").unwrap();
        std::fs::write(target.join(MARKER), "").unwrap();
        {
            let s = StagedDir::begin(&target).unwrap();
            std::fs::write(s.path().join("a.csv"), "half").unwrap();
        }
        assert_eq!(read(&target.join("a.csv")), "prev");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_foreign_folder_is_not_replaced() {
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("docs");
        std::fs::create_dir_all(&target).unwrap();
        std::fs::write(target.join("thesis.tex"), "mine").unwrap();
        let e = StagedDir::begin(&target).unwrap_err();
        assert!(
            e.to_string().contains("not a gridsleuth output folder"),
            "{e}"
        );
        assert!(StagedDir::begin(Path::new(".")).is_err());
        assert_eq!(read(&target.join("thesis.tex")), "mine");
    }

    #[test]
    fn a_folder_left_aside_by_a_dead_process_is_put_back() {
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("run");
        // Pids no process has: as if killed between the two renames.
        let aside = sibling(&target, OLD_TAG, u32::MAX - 1);
        std::fs::create_dir_all(&aside).unwrap();
        std::fs::write(aside.join("a.csv"), "prev").unwrap();
        std::fs::write(aside.join("run.json"), "{}").unwrap();
        let dead_tmp = sibling(&target, TMP_TAG, u32::MAX - 2);
        std::fs::create_dir_all(&dead_tmp).unwrap();
        let s = StagedDir::begin(&target).unwrap();
        assert_eq!(read(&target.join("a.csv")), "prev");
        assert!(!dead_tmp.exists());
        drop(s);
    }

    #[test]
    fn write_file_replaces_whole() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.json");
        write_file(&p, b"1").unwrap();
        write_file(&p, b"22").unwrap();
        assert_eq!(read(&p), "22");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }
}
