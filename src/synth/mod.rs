//! `gridsleuth synth`: being implemented (this commit keeps main building; see the next one).
use std::path::PathBuf;

/// Options of `gridsleuth synth`.
#[derive(Debug, Clone, clap::Args)]
pub struct SynthArgs {
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, serde::Serialize)]
pub struct SynthSummary {}

#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("gridsleuth synth is not available in this build")]
    Unavailable,
}

pub fn run_synth(_a: &SynthArgs, _o: &mut dyn std::io::Write) -> Result<SynthSummary, SynthError> {
    Err(SynthError::Unavailable)
}
