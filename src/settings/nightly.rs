//! `gridsleuth nightly` and `gridsleuth outcomes import`: the config file (its `[nightly]`
//! table, and the rest as `run` reads it) + flags -> [`NightlyOptions`] and [`ImportOptions`].
//! The readings come from the landing folder: `[inputs] readings` and the `[time]` window are
//! not used (the window rolls); a window in the file is refused, so a stale one cannot narrow
//! the nights silently.

use std::path::{Path, PathBuf};

use super::{
    balance_from, check, detect_from, ingest_from, invalid, BalanceFlags, DetectFlags, IngestFlags,
    SettingsError, Sources,
};
use crate::app::RunOptions;
use crate::nightly::cases::CaseRules;
use crate::nightly::outcomes::ImportOptions;
use crate::nightly::NightlyOptions;

/// Flags of `gridsleuth nightly`.
#[derive(Debug, Clone, Default)]
pub struct NightlyFlags {
    pub config: PathBuf,
    /// Score the newest night again although nothing new arrived.
    pub rerun: bool,
    pub threads: Option<usize>,
}

fn rel(base: Option<&Path>, p: &Path) -> PathBuf {
    match base {
        Some(b) if p.is_relative() => b.join(p),
        _ => p.to_path_buf(),
    }
}

fn state_of(src: &Sources) -> PathBuf {
    let base = src.base.as_deref();
    src.file
        .nightly
        .state
        .as_ref()
        .map_or_else(|| rel(base, Path::new("state")), |p| rel(base, p))
}

/// `gridsleuth nightly --config FILE`.
pub fn nightly_options(flags: &NightlyFlags) -> Result<NightlyOptions, SettingsError> {
    let mut src = Sources::load(Some(&flags.config))?;
    let n = src.file.nightly.clone();
    check::nightly(&n)?;
    let landing = n.landing.clone().filter(|v| !v.is_empty()).ok_or_else(|| {
        invalid(
            "[nightly] landing",
            "no landing pattern: set landing = [\"landing/*.csv\"] (relative to the config file)",
        )
    })?;
    if src.file.time.start.is_some() || src.file.time.end.is_some() {
        return Err(invalid(
            "[time] start/end",
            "the nightly window rolls (the [nightly] window_days up to the newest complete day); \
             remove start and end from the config file",
        ));
    }
    let base = src.base.clone();
    let landing: Vec<String> = landing
        .iter()
        .map(|p| {
            let full = rel(base.as_deref(), Path::new(p));
            std::path::absolute(&full)
                .unwrap_or(full)
                .display()
                .to_string()
        })
        .collect();
    // The readings are the landing files, found each night.
    src.file.inputs.readings = Some(Vec::new());
    let ingest = ingest_from(&IngestFlags::default(), &src, false)?;
    let tz = ingest.long.time.tz;
    let detect = detect_from(
        &DetectFlags {
            threads: flags.threads,
            ..DetectFlags::default()
        },
        &src.file,
        tz,
    )?;
    let balance = balance_from(&BalanceFlags::default(), &src.file.balance, tz)?;
    let state = state_of(&src);
    let runs = n
        .runs
        .as_ref()
        .map_or_else(|| state.join("runs"), |p| rel(base.as_deref(), p));
    Ok(NightlyOptions {
        run: RunOptions {
            ingest,
            out: runs.clone(),
            write_matrix: false,
            detect,
            balance,
            threads: flags.threads,
            model: None,
        },
        landing,
        state,
        runs,
        window_days: n.window_days.unwrap_or(35),
        keep_runs: n.keep_runs.unwrap_or(30),
        complete_share: n.complete_share.unwrap_or(0.5),
        top_others: n.top_others.unwrap_or(50),
        rules: CaseRules {
            keep_vanished_nights: n.keep_vanished_nights.unwrap_or(7),
            escalate_share: n.escalate_share.unwrap_or(0.2),
            suppress_share: n.suppress_share.unwrap_or(0.25),
        },
        rerun: flags.rerun,
    })
}

/// `gridsleuth outcomes import FILE --config SITE`: the state folder of the config.
pub fn outcomes_options(config: &Path, file: &Path) -> Result<ImportOptions, SettingsError> {
    let src = Sources::load(Some(config))?;
    check::nightly(&src.file.nightly)?;
    Ok(ImportOptions {
        file: file.to_path_buf(),
        state: state_of(&src),
    })
}
