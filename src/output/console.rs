//! Writing a command's summary to its output stream (stdout for the binary). A failed write is
//! an error the command returns ([`ConsoleError`]), not something to ignore: the binary's
//! writer (`cli::dispatch::Console`) already turns a closed pipe into success, so what reaches
//! here is a real failure (a full disk behind `> file`).

/// The output stream could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the summary to the output stream\n  fix: check where the output goes (a full disk, a closed file?)")]
pub struct ConsoleError(#[source] pub std::io::Error);
