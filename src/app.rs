//! The subcommands as library functions: each takes parsed arguments and returns an [`Outcome`]
//! or an error; `main.rs` only maps these to exit codes.

use std::io::Write;

use crate::cli::{Cli, Command, IngestArgs};
use crate::ingest::{self, quality::write_quality_csv};
use crate::output::summary::IngestReport;
use crate::settings::{self, SettingsError};

/// How a finished command went (the exit status).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything used: exit 0.
    Clean,
    /// Finished, but readings were quarantined: exit 1.
    Quarantined,
}

/// A fatal error (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    Ingest(#[from] ingest::IngestError),
    #[error("{path}: cannot write: {message}\n  fix: check that the output directory is writable (-o DIR)")]
    Write {
        path: std::path::PathBuf,
        message: String,
    },
}

fn write_err(path: &std::path::Path, e: impl std::fmt::Display) -> AppError {
    AppError::Write {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Runs a parsed command line.
pub fn run(cli: &Cli, out: &mut dyn Write) -> Result<Outcome, AppError> {
    match &cli.command {
        Command::Ingest(args) => run_ingest(args, cli.quiet, !cli.no_progress, out),
    }
}

/// `gridsleuth ingest`.
pub fn run_ingest(
    args: &IngestArgs,
    quiet: bool,
    progress: bool,
    out: &mut dyn Write,
) -> Result<Outcome, AppError> {
    let opts = settings::resolve_ingest(args, progress)?;
    let ing = match ingest::load(&opts) {
        Ok(ing) => ing,
        Err(ingest::IngestError::Empty { what, mut quality }) => {
            quality.sort();
            // Still write the log, so the user can see why every reading was rejected.
            std::fs::create_dir_all(&args.out).map_err(|e| write_err(&args.out, e))?;
            let dq = args.out.join("data_quality.csv");
            write_quality_csv(&[&quality], &dq).map_err(|e| write_err(&dq, e))?;
            return Err(ingest::IngestError::Empty { what, quality }.into());
        }
        Err(e) => return Err(e.into()),
    };
    std::fs::create_dir_all(&args.out).map_err(|e| write_err(&args.out, e))?;
    let mut logs = vec![&ing.quality];
    if let Some((_, q)) = &ing.meters {
        logs.push(q);
    }
    if let Some(f) = &ing.feeders {
        logs.push(&f.quality);
    }
    if let Some((_, q)) = &ing.weather {
        logs.push(q);
    }
    let dq = args.out.join("data_quality.csv");
    write_quality_csv(&logs, &dq).map_err(|e| write_err(&dq, e))?;
    let report = IngestReport::of(&ing);
    let json_path = args.out.join("ingest.json");
    let json = serde_json::to_vec_pretty(&report).map_err(|e| write_err(&json_path, e))?;
    std::fs::write(&json_path, json).map_err(|e| write_err(&json_path, e))?;
    if args.write_matrix {
        let p = args.out.join("matrix.parquet");
        crate::output::matrix::write_matrix_parquet(&ing.matrix, &p)
            .map_err(|e| write_err(&p, e))?;
    }
    if !quiet {
        let records: usize = logs.iter().map(|l| l.issues().len()).sum();
        let _ = write!(out, "{}", report.text());
        let _ = writeln!(
            out,
            "wrote {} ({records} records), {}",
            dq.display(),
            json_path.display()
        );
        if args.write_matrix {
            let _ = writeln!(out, "wrote {}", args.out.join("matrix.parquet").display());
        }
    }
    Ok(if report.any_quarantined() {
        Outcome::Quarantined
    } else {
        Outcome::Clean
    })
}
