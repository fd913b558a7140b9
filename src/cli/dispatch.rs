//! Running a parsed command line: flags -> [`crate::settings`] -> the library command, with
//! stdout watched and errors reported the one way `main` prints them.
//!
//! Stdout: commands write their summaries to a [`Console`]. A closed pipe
//! (`gridsleuth run ... | head`) silences the rest of the output and is not an error (as in
//! ripgrep); any other write failure (a full disk behind `> file`) is reported once the command
//! has finished, as exit 2.
//!
//! Errors: [`error_report`] prints the message of the error and of every source below it, once
//! each, then one `fix:` line (the innermost one: the most specific).

use std::io::{self, Write};

use super::{Cli, Command};
use crate::app::{self, AppError, Outcome};
use crate::settings::{self, SettingsError};

/// A fatal error of a command line (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    App(Box<AppError>),
    #[error(transparent)]
    Nightly(Box<crate::nightly::NightlyError>),
    #[error("cannot write to standard output\n  fix: check where the output is redirected (a full disk?)")]
    Stdout(#[source] io::Error),
}

impl From<crate::nightly::NightlyError> for CliError {
    fn from(e: crate::nightly::NightlyError) -> Self {
        CliError::Nightly(Box::new(e))
    }
}

impl CliError {
    /// The process exit code: 4 for a nightly refused by the lock, 2 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Nightly(e) => e.exit_code(),
            _ => 2,
        }
    }
}

impl From<AppError> for CliError {
    fn from(e: AppError) -> Self {
        CliError::App(Box::new(e))
    }
}

impl From<crate::grid_analysis::GridAnalysisError> for CliError {
    fn from(e: crate::grid_analysis::GridAnalysisError) -> Self {
        CliError::App(Box::new(e.into()))
    }
}

/// Stdout for commands: a closed pipe swallows the rest of the output; any other error is kept
/// for [`run`] to report.
#[derive(Debug)]
pub struct Console<'a, W: Write + ?Sized> {
    inner: &'a mut W,
    closed: bool,
    failure: Option<io::Error>,
}

impl<'a, W: Write + ?Sized> Console<'a, W> {
    pub fn new(inner: &'a mut W) -> Self {
        Console {
            inner,
            closed: false,
            failure: None,
        }
    }

    /// The first write error that was not a closed pipe.
    pub fn into_failure(self) -> Option<io::Error> {
        self.failure
    }

    fn handle<T>(&mut self, r: io::Result<T>, ok: T) -> io::Result<T> {
        match r {
            Ok(v) => Ok(v),
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(ok)
            }
            Err(e) => {
                let kind = e.kind();
                let text = e.to_string();
                if self.failure.is_none() {
                    self.failure = Some(e);
                }
                Err(io::Error::new(kind, text))
            }
        }
    }
}

impl<W: Write + ?Sized> Write for Console<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.closed {
            return Ok(buf.len());
        }
        let r = self.inner.write(buf);
        self.handle(r, buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        let r = self.inner.flush();
        self.handle(r, ())
    }
}

/// Runs a parsed command line, writing its summary to `out`.
pub fn run(cli: &Cli, out: &mut dyn Write) -> Result<Outcome, CliError> {
    let mut console = Console::new(out);
    let result = dispatch(cli, &mut console);
    let _ = console.flush();
    if let Some(e) = console.into_failure() {
        // A failed command's own error says more than the stdout failure.
        result?;
        return Err(CliError::Stdout(e));
    }
    result
}

fn outcome(quarantined: bool) -> Outcome {
    if quarantined {
        Outcome::Quarantined
    } else {
        Outcome::Clean
    }
}

fn dispatch(cli: &Cli, out: &mut dyn Write) -> Result<Outcome, CliError> {
    let mut sink = io::sink();
    let progress = !cli.no_progress;
    let quiet_out: &mut dyn Write = if cli.quiet { &mut sink } else { out };
    match &cli.command {
        Command::Ingest(args) => {
            let opts = settings::ingest_command(&args.flags(), progress)?;
            Ok(app::run_ingest(&opts, cli.quiet, quiet_out)?)
        }
        Command::Run(args) => {
            let opts = settings::run_options(&args.ingest.flags(), &args.detect_flags(), progress)?;
            Ok(app::run_detect(&opts, cli.quiet, quiet_out)?)
        }
        Command::Fit(args) => {
            if args.model.is_some() {
                return Err(settings::SettingsError::Invalid {
                    key: "--model".into(),
                    message: "fit writes a model (-o FILE); it does not read one".into(),
                }
                .into());
            }
            let opts = settings::run_options(&args.ingest.flags(), &args.detect_flags(), progress)?;
            Ok(app::run_fit(&opts, cli.quiet, quiet_out)?)
        }
        Command::Report(args) => {
            crate::report::run_report(&args.run, &args.options(), quiet_out)
                .map_err(AppError::from)?;
            Ok(Outcome::Clean)
        }
        Command::Balance(args) => {
            let opts =
                settings::balance_options(&args.ingest.flags(), &args.balance_flags(), progress)?;
            let s = crate::grid_analysis::run_balance(&opts, quiet_out)?;
            Ok(outcome(s.quarantined))
        }
        Command::Drop(args) => {
            let opts = settings::drop_options(&args.flags())?;
            let s = crate::grid_analysis::run_drop(&opts, quiet_out)?;
            Ok(outcome(s.quarantined))
        }
        Command::Synth(args) => {
            crate::synth::run_synth(&args.options(), quiet_out).map_err(AppError::from)?;
            Ok(Outcome::Clean)
        }
        Command::Eval(args) => {
            crate::eval::run_eval(&args.options(), quiet_out).map_err(AppError::from)?;
            Ok(Outcome::Clean)
        }
        Command::Nightly(args) => {
            let opts = settings::nightly_options(&args.flags())?;
            // With --json the one JSON line is the whole of stdout.
            let text_out: &mut dyn Write = if args.json { &mut sink } else { quiet_out };
            let s = crate::nightly::run_nightly(&opts, text_out)?;
            if args.json {
                let line = serde_json::to_string(&s).unwrap_or_default();
                writeln!(out, "{line}").map_err(CliError::Stdout)?;
            }
            Ok(match s.status {
                crate::nightly::NightStatus::Scored => Outcome::Clean,
                crate::nightly::NightStatus::ScoredWithQuarantine => Outcome::Quarantined,
                crate::nightly::NightStatus::NoNewData => Outcome::NoNewData,
            })
        }
        Command::Outcomes(args) => match &args.command {
            super::nightly::OutcomesCommand::Import { file, config } => {
                let opts = settings::outcomes_options(config, file)?;
                let s = crate::nightly::outcomes::import(&opts, quiet_out)?;
                Ok(outcome(!s.bad.is_empty()))
            }
        },
        Command::Config(args) => {
            // The resolved settings are this command's product: printed even with --quiet.
            let file = settings::resolved_config(&args.ingest.flags(), &args.detect_flags())?;
            let text = file.to_toml()?;
            out.write_all(text.as_bytes()).map_err(CliError::Stdout)?;
            Ok(Outcome::Clean)
        }
    }
}

/// Splits `message\n  fix: what to do` into its two parts.
fn split_fix(text: &str) -> (&str, Option<&str>) {
    match text.find("\n  fix: ") {
        Some(i) => (&text[..i], Some(&text[i + "\n  fix: ".len()..])),
        None => (text, None),
    }
}

/// The text `main` prints for a fatal error: `error: ` and the message, a `caused by:` line per
/// source below it (a message already quoted above is not repeated), and one `fix:` line, the
/// innermost error's.
pub fn error_report(e: &(dyn std::error::Error + 'static)) -> String {
    let mut messages: Vec<String> = Vec::new();
    let mut fix: Option<String> = None;
    let mut cur = Some(e);
    while let Some(err) = cur {
        let text = err.to_string();
        let (message, f) = split_fix(&text);
        let message = message.trim_end();
        // An error that already quotes its source's message is not repeated by the source.
        if !message.is_empty() && !messages.iter().any(|m| m.contains(message)) {
            messages.push(message.to_string());
        }
        if let Some(f) = f {
            fix = Some(f.to_string());
        }
        cur = err.source();
    }
    let mut s = format!("error: {}\n", messages.join("\n  caused by: "));
    if let Some(f) = fix {
        s.push_str(&format!("  fix: {f}\n"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Broken(io::ErrorKind);

    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::from(self.0))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_pipe_is_not_a_failure_but_a_full_disk_is() {
        let mut pipe = Broken(io::ErrorKind::BrokenPipe);
        let mut c = Console::new(&mut pipe);
        writeln!(c, "hello").unwrap();
        writeln!(c, "again").unwrap();
        assert!(c.into_failure().is_none());
        let mut disk = Broken(io::ErrorKind::StorageFull);
        let mut c = Console::new(&mut disk);
        assert!(writeln!(c, "hello").is_err());
        assert_eq!(
            c.into_failure().map(|e| e.kind()),
            Some(io::ErrorKind::StorageFull)
        );
    }

    #[derive(Debug, thiserror::Error)]
    #[error("inner problem\n  fix: the specific fix")]
    struct Inner;

    #[derive(Debug, thiserror::Error)]
    #[error("outer problem\n  fix: a generic fix")]
    struct Outer(#[source] Inner);

    #[test]
    fn the_chain_is_printed_once_with_one_fix() {
        let r = error_report(&Outer(Inner));
        assert_eq!(
            r,
            "error: outer problem\n  caused by: inner problem\n  fix: the specific fix\n"
        );
        assert_eq!(r.matches("fix:").count(), 1);
    }
}
