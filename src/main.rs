//! The `gridsleuth` binary: parse arguments, run, map the result to an exit code.
//! 0 = clean, 1 = finished with quarantined readings, 2 = fatal error (printed with its causes
//! and one fix line). A closed stdout pipe is not an error.

use std::process::ExitCode;

use clap::Parser;
use gridsleuth::app::Outcome;
use gridsleuth::cli::{self, Cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match cli::run(&cli, &mut out) {
        Ok(Outcome::Clean) => ExitCode::from(0),
        Ok(Outcome::Quarantined) => ExitCode::from(1),
        Err(e) => {
            eprint!("{}", cli::error_report(&e));
            ExitCode::from(2)
        }
    }
}
