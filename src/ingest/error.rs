//! Fatal ingest errors: the run cannot go on. Each names the file (and column or line where it
//! applies) and says how to fix it. Bad *rows* are never errors: they are quarantined.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{path}: cannot open\n  fix: check the path; globs like 'data/*.csv' must be quoted")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no input files match {pattern:?}\n  fix: check the path or glob pattern")]
    NoFiles { pattern: String },
    #[error("{path}: the file is empty (no header line)\n  fix: remove it from the inputs or re-export it")]
    EmptyFile { path: PathBuf },
    #[error("{path}: required column {column:?} not found; columns are: {found}\n  fix: {fix}")]
    MissingColumn {
        path: PathBuf,
        column: String,
        found: String,
        fix: String,
    },
    #[error("{path}: column {column:?} has type {dtype}, expected {expected}\n  fix: {fix}")]
    ColumnType {
        path: PathBuf,
        column: String,
        dtype: String,
        expected: String,
        fix: String,
    },
    #[error("{path}: line {line}: {message}\n  fix: {fix}")]
    Malformed {
        path: PathBuf,
        line: u64,
        message: String,
        fix: String,
    },
    #[error("{path}: not a readable Parquet file\n  fix: check that the file is complete and really Parquet (use --format csv for CSV)")]
    Parquet {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("{path}: read error: {message}")]
    Read { path: PathBuf, message: String },
    #[error("{what}: no usable readings ({} read, {} quarantined)\n  fix: see data_quality.csv for why each reading was rejected; check --tz, --start/--end, --interval and the column options", quality.readings_read, quality.readings_quarantined())]
    Empty {
        what: String,
        /// The log of every rejected reading, so it can still be written out.
        quality: Box<super::quality::QualityLog>,
    },
    /// An allocation the input asks for would exceed the memory budget.
    #[error(transparent)]
    OverBudget(#[from] super::budget::BudgetError),
    #[error("{0}")]
    Other(String),
}

impl IngestError {
    pub fn open(path: &std::path::Path, source: std::io::Error) -> Self {
        IngestError::Open {
            path: path.to_path_buf(),
            source,
        }
    }
}
