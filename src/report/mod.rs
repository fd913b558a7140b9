//! The inspector report: a static HTML folder an inspector opens by double-click, that makes the
//! case for or against each address. `gridsleuth run` writes it into `DIR/report/`;
//! `gridsleuth report --run DIR` renders it again from the run directory alone.
//!
//! ```text
//! DIR/report/index.html              run summary, totals by feeder, ranked suspects (sort and
//!                                    filter in the page, no server), registered miners, data quality
//! DIR/report/suspects/<stem>.html    one page per suspect: charts, reasons, rig estimate with its
//!                                    uncertainty, features vs tariff peers, metadata, data quality
//! DIR/report/charts/<stem>-{load,heatmap,baseload}.png   the same charts for case files
//! ```
//!
//! Inputs: the run directory's files plus `report_data/` (see [`data`]), written by
//! [`write_report_data`]; nothing is recomputed but per-suspect presentation (daily floors,
//! percentiles). Output: plain files, no network, no CDN; CSS and JS are inline.
//!
//! Invariants: every input string reaches HTML through minijinja's HTML autoescape (templates)
//! or `textContent` (the table script), and the JSON in the page escapes `<`, `>`, `&`; every
//! file name comes from [`filename`], so a meter id cannot leave the report folder. Pages are
//! written for the top [`DEFAULT_MAX_PAGES`] suspects unless `--max-pages` says otherwise; the
//! index lists every suspect and pages its table 100 rows at a time, so 5,000 suspects stay
//! responsive.

pub mod cases;
pub mod data;
pub mod evidence;
pub mod filename;
pub mod pages;
pub mod peers;
pub mod render;
pub mod rundir;

use std::io::Write;

use crate::output::console::ConsoleError;
use std::path::{Path, PathBuf};

pub use data::{write_report_data, ReportData, SuspectRecord};
pub use evidence::{Evidence, RunData};
pub use filename::{file_stem, FileNames};
pub use render::{render, render_data, ReportSummary};

/// Evidence pages written by default: the inspectors' working list, and a bounded run time
/// (each page draws three PNGs) on nightly runs that flag thousands.
pub const DEFAULT_MAX_PAGES: usize = 250;

/// Why the report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{path}: cannot read\n  fix: {fix}")]
    Read {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
        fix: String,
    },
    #[error("{path}: cannot write\n  fix: check that the folder is writable")]
    Write {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("report template {name}: {message} (a bug: please report it)")]
    Template { name: String, message: String },
    #[error(transparent)]
    Console(#[from] crate::output::console::ConsoleError),
    #[error("{0}\n  fix: rename one of the meters in the meters file")]
    Names(#[from] filename::NameCollision),
}

/// A run-directory file that cannot be read or parsed: re-running `run` writes it again.
pub(crate) fn read_err(
    path: &std::path::Path,
    e: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> ReportError {
    ReportError::Read {
        path: path.to_path_buf(),
        source: e.into(),
        fix: "re-run `gridsleuth run` to write the run directory again".into(),
    }
}

/// How to render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportOptions {
    /// Output folder; `None` = `DIR/report`.
    pub out: Option<PathBuf>,
    /// Evidence pages for the top N suspects; 0 = every suspect.
    pub max_pages: usize,
    /// Write PNG files beside the inline SVG.
    pub png: bool,
    /// Title of every page; `None` = the run directory's name.
    pub title: Option<String>,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            out: None,
            max_pages: DEFAULT_MAX_PAGES,
            png: true,
            title: None,
        }
    }
}

/// `gridsleuth report`: renders the report of an existing run directory and says where it is.
pub fn run_report(
    run: &Path,
    opts: &ReportOptions,
    out: &mut dyn Write,
) -> Result<ReportSummary, ReportError> {
    // Rendered into a staged sibling of the report folder, swapped in once complete.
    let target = opts.out.clone().unwrap_or_else(|| run.join("report"));
    let staged =
        crate::output::atomic::StagedDir::begin(&target).map_err(|e| ReportError::Write {
            path: target.clone(),
            source: e.into(),
        })?;
    let staged_opts = ReportOptions {
        out: Some(staged.path().to_path_buf()),
        ..opts.clone()
    };
    let mut summary = render(run, &staged_opts)?;
    staged.commit().map_err(|e| ReportError::Write {
        path: target.clone(),
        source: e.into(),
    })?;
    summary.index = target.join("index.html");
    writeln!(out, "{}", summary.text()).map_err(ConsoleError)?;
    Ok(summary)
}
