//! Fatal errors of `gridsleuth eval`: the evaluation cannot go on. Each names the file (and the
//! line, data row and column where it applies) and says how to fix it.
//!
//! Unlike ingest, eval has no quarantine: a ground-truth or scores file with a bad cell would give
//! numbers that silently differ from the peers' `metrics.py`, so a bad cell stops the run.

use std::path::PathBuf;

/// Why `gridsleuth eval` could not produce a report.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error(transparent)]
    Console(#[from] crate::output::console::ConsoleError),
    #[error("{path}: cannot open\n  fix: {fix}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
        fix: &'static str,
    },
    #[error("{path}: the file is empty (no header line)\n  fix: {fix}")]
    EmptyFile { path: PathBuf, fix: &'static str },
    #[error("{path}: required column {column:?} not found; columns are: {found}\n  fix: {fix}")]
    MissingColumn {
        path: PathBuf,
        column: &'static str,
        found: String,
        fix: &'static str,
    },
    #[error(
        "{path}: line {line} (data row {row}), column {column:?}: {value:?} is not {expected}\n  \
         fix: {fix}"
    )]
    BadValue {
        path: PathBuf,
        /// Line in the file (the header is line 1).
        line: u64,
        /// 1-based data row (the header does not count).
        row: u64,
        column: &'static str,
        value: String,
        expected: &'static str,
        fix: &'static str,
    },
    #[error(
        "{path}: line {line} (data row {row}), column \"meter_id\": meter {meter_id:?} is \
         repeated (first on line {first_line})\n  fix: {fix}"
    )]
    DuplicateMeter {
        path: PathBuf,
        line: u64,
        row: u64,
        meter_id: String,
        first_line: u64,
        fix: &'static str,
    },
    #[error(
        "{path}: not readable as CSV: {message}\n  fix: check that the file is a complete, \
         comma-separated CSV with one header line"
    )]
    Csv { path: PathBuf, message: String },
    #[error(
        "{path}: no meters (only a header)\n  fix: pass the labels.csv written with the region \
         (gridsleuth's generator or gen_region.py)"
    )]
    NoMeters { path: PathBuf },
    #[error("{path}: {message}\n  fix: {fix}")]
    RunJson {
        path: PathBuf,
        message: String,
        fix: &'static str,
    },
    #[error(
        "{path}: cannot write: {message}\n  fix: check that the directory exists and is writable"
    )]
    Write { path: PathBuf, message: String },
}

impl EvalError {
    pub(crate) fn csv(path: &std::path::Path, e: &csv::Error) -> Self {
        EvalError::Csv {
            path: path.to_path_buf(),
            message: e.to_string(),
        }
    }

    pub(crate) fn write(path: &std::path::Path, e: impl std::fmt::Display) -> Self {
        EvalError::Write {
            path: path.to_path_buf(),
            message: e.to_string(),
        }
    }
}
