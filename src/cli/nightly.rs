//! `gridsleuth nightly` and `gridsleuth outcomes import` (clap side).

use std::path::PathBuf;

use clap::{Args, Subcommand};

pub const NIGHTLY_HELP: &str = "Examples:
  gridsleuth nightly --config site.toml
  gridsleuth nightly --config site.toml --json      # one JSON line for the scheduler

Reads the new files of [nightly] landing, keeps a rolling window ([nightly] window_days) ending at
the newest complete day, scores it, and writes RUNS/YYYY-MM-DD (run files, cases.csv,
nightly.json, report/) and points RUNS/latest at it. State (database, day cache, lock, logs) is in
[nightly] state. See README \"Nightly operations\".

Exit codes:
  0  a night was scored, every reading used
  1  a night was scored, but readings were quarantined or a landing file was rejected
  2  fatal error (bad config, unreadable state; see the log in STATE/logs/)
  3  no new data: nothing new in the landing folder and the newest night is already scored
  4  another nightly holds the lock on the state folder: this one did nothing";

/// Options of `gridsleuth nightly`.
#[derive(Debug, Clone, Args)]
pub struct NightlyArgs {
    /// The site's config file: [nightly] (landing, state, window ...) and the tables `run` reads.
    #[arg(short, long, value_name = "FILE")]
    pub config: PathBuf,
    /// Print the summary as one JSON line on stdout (also with --quiet).
    #[arg(long)]
    pub json: bool,
    /// Score the newest night again even when nothing new arrived (same inputs, same outputs).
    #[arg(long)]
    pub rerun: bool,
    /// Worker threads for features and scoring [default: all cores].
    #[arg(long)]
    pub threads: Option<usize>,
}

impl NightlyArgs {
    pub fn flags(&self) -> crate::settings::NightlyFlags {
        crate::settings::NightlyFlags {
            config: self.config.clone(),
            rerun: self.rerun,
            threads: self.threads,
        }
    }
}

/// `gridsleuth outcomes ...`.
#[derive(Debug, Clone, Args)]
pub struct OutcomesArgs {
    #[command(subcommand)]
    pub command: OutcomesCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum OutcomesCommand {
    /// Record inspection visits: case_id or meter_id, visit_date, outcome
    /// (mining_confirmed, no_mining, no_access, licensed), found_kw, devices, notes.
    #[command(after_help = "Examples:
  gridsleuth outcomes import visits.csv --config site.toml

Bad rows are listed with file, row, column and a fix; the good rows are recorded (once: the same
meter, date and outcome again is not a second visit). The next nightly applies them: confirmed
closes the case, no_mining closes it and suppresses the meter until its signature changes,
no_access marks it, licensed adds the meter to the registered list.

Exit codes: 0 every row recorded, 1 some rows rejected, 2 nothing usable or fatal error,
4 a nightly holds the lock.")]
    Import {
        /// The visits CSV.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// The site's config file (its [nightly] state folder).
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
    },
}
