//! How a night ended, for the scheduler and for people: the exit status ([`NightStatus`]),
//! the one-line summary printed and kept in `runs.summary` ([`NightSummary`]), and the fatal
//! errors with their exit codes ([`NightlyError`]: 2, or 4 for a refused concurrent run).
//! Inputs: the counts and notes the night's steps gather; outputs: text, JSON, exit codes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::cases;

/// How a night ended (the exit status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NightStatus {
    /// Scored; every reading used (exit 0).
    Scored,
    /// Scored; some readings or files were quarantined or rejected (exit 1).
    ScoredWithQuarantine,
    /// Nothing new in the landing folder and the night already scored (exit 3).
    NoNewData,
}

/// The one-line summary (`--json`) and the folder's `nightly.json`.
#[derive(Debug, Clone, Serialize)]
pub struct NightSummary {
    pub status: NightStatus,
    pub night: Option<String>,
    pub window: Option<(String, String)>,
    pub run_dir: Option<String>,
    pub cases: BTreeMap<&'static str, usize>,
    pub suppressed: usize,
    pub files_new: usize,
    pub files_replaced: usize,
    pub files_rejected: usize,
    pub files_unchanged: usize,
    pub rows_read: u64,
    pub missing_days: Vec<String>,
    pub ranked_by: String,
    pub notes: Vec<String>,
    pub duration_secs: f64,
}

impl NightSummary {
    pub(super) fn empty() -> Self {
        NightSummary {
            status: NightStatus::NoNewData,
            night: None,
            window: None,
            run_dir: None,
            cases: cases::counts(&[]),
            suppressed: 0,
            files_new: 0,
            files_replaced: 0,
            files_rejected: 0,
            files_unchanged: 0,
            rows_read: 0,
            missing_days: Vec::new(),
            ranked_by: "score".into(),
            notes: Vec::new(),
            duration_secs: 0.0,
        }
    }

    /// Lines for people.
    pub fn text(&self) -> String {
        let mut s = String::new();
        match self.status {
            NightStatus::NoNewData => s.push_str("nightly: no new data"),
            _ => s.push_str(&format!(
                "nightly: night {} scored",
                self.night.as_deref().unwrap_or("?")
            )),
        }
        if let Some((a, b)) = &self.window {
            s.push_str(&format!(" (window {a} .. {b})"));
        }
        s.push('\n');
        s.push_str(&format!(
            "files: {} new, {} replaced, {} rejected, {} unchanged; {} rows read\n",
            self.files_new,
            self.files_replaced,
            self.files_rejected,
            self.files_unchanged,
            self.rows_read
        ));
        if self.status != NightStatus::NoNewData {
            let c = &self.cases;
            s.push_str(&format!(
                "cases: {} new, {} escalating, {} persisting, {} vanished, {} closed; {} suppressed (ranked by {})\n",
                c["new"], c["escalating"], c["persisting"], c["vanished"], c["closed"],
                self.suppressed, self.ranked_by
            ));
        }
        if !self.missing_days.is_empty() {
            s.push_str(&format!(
                "missing days (no readings): {}\n",
                self.missing_days.join(", ")
            ));
        }
        for n in &self.notes {
            s.push_str(&format!("note: {n}\n"));
        }
        if let Some(d) = &self.run_dir {
            s.push_str(&format!("wrote {d}\n"));
        }
        s
    }
}

/// A fatal nightly error (exit 2), or the lock held by another nightly (exit 4).
#[derive(Debug, thiserror::Error)]
pub enum NightlyError {
    #[error("another gridsleuth nightly is running on {state} (pid {holder}); this one did nothing\n  fix: wait for it to finish (the lock {lock} is released when it ends), or check the scheduler does not start two")]
    Locked {
        state: PathBuf,
        lock: PathBuf,
        holder: String,
    },
    #[error("{path}: state database error\n  fix: check the state folder is writable; a database from a newer gridsleuth needs that version")]
    Db {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("{path}: cannot read or write\n  fix: check the path and that the state and runs folders are writable")]
    Io {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(transparent)]
    App(Box<crate::app::AppError>),
    #[error("{0}")]
    Other(String),
    #[error("{file}: {count} bad rows, nothing imported\n  fix: correct the rows listed above and import the file again")]
    BadOutcomes { file: PathBuf, count: usize },
}

impl NightlyError {
    pub fn db(path: &Path, source: rusqlite::Error) -> Self {
        NightlyError::Db {
            path: path.to_path_buf(),
            source,
        }
    }
    pub fn io(path: &Path, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        NightlyError::Io {
            path: path.to_path_buf(),
            source: source.into(),
        }
    }
    /// The process exit code: 4 for a refused concurrent run, 2 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            NightlyError::Locked { .. } => 4,
            _ => 2,
        }
    }
}

impl From<crate::app::AppError> for NightlyError {
    fn from(e: crate::app::AppError) -> Self {
        NightlyError::App(Box::new(e))
    }
}
