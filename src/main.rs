//! The `gridsleuth` binary: parse arguments, run, map the result to an exit code.
//! 0 = clean, 1 = finished with quarantined readings, 2 = fatal error (printed with its causes
//! and one fix line), 3 = nightly found no new data, 4 = another nightly holds the lock. A closed stdout pipe is not an error.

use std::process::ExitCode;

use clap::Parser;
use gridsleuth::cli::{self, Cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match cli::run(&cli, &mut out) {
        Ok(o) => ExitCode::from(o.exit_code()),
        Err(e) => {
            eprint!("{}", cli::error_report(&e));
            ExitCode::from(e.exit_code())
        }
    }
}
