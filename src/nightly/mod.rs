//! `gridsleuth nightly`: the scheduled run. Each night it picks up the new files of a landing
//! folder, keeps a rolling window of days ending at the newest complete day, scores it, carries
//! the cases over from the night before, and writes a dated run folder plus a `latest` link.
//!
//! Modules, one a step or a store: [`summary`] (how a night ended: status, summary, errors,
//! exit codes), [`landing`] (step 2: the landing folder's new files, their blocks and records),
//! [`window`] (step 3-4: the blocks in force, the night, the window's inputs), [`cache`] (the
//! per-day columnar blocks and the window's matrix), [`days`] (calendar days), [`case_store`]
//! (cases as the database holds them), [`cases`] (the case rules), [`run_folder`] (the night's
//! `nightly.json` and `cases.csv`), [`transaction`] (step 5: the night's rows), [`retention`]
//! (the `latest` pointer, old run folders), [`db`] (the SQLite state and its migrations),
//! [`outcomes`] (inspection visits: import, effects, field hit rate, calibration), [`lock`] (one
//! nightly at a time). This file runs a night's steps in order.
//!
//! A night, in order (each step safe to kill: see the module docs of `output::atomic`):
//! 1. Take the lock (`STATE/nightly.lock`); a second nightly is refused.
//! 2. Scan the landing pattern; a file is read only when its path is new or its size, modified
//!    time and then checksum changed. Each is ingested alone (the config's columns, zone and
//!    quality rules) and split into local days, written as blocks under `STATE/cache/`.
//! 3. The night is the newest complete day (a day whose last interval has readings for at
//!    least `complete_share` of its meters); the window is the `window_days` days up to it.
//!    Nothing new and that night already scored: "no new data" (exit 3).
//! 4. The window's matrix is assembled from the blocks, scored as `run` scores, and the run
//!    folder `RUNS/NIGHT` written (staged, swapped in whole) with the cases, their history and
//!    the report.
//! 5. One database transaction records the files, blocks, scores, cases and the run; then
//!    `latest` is pointed at the folder and old folders and blocks are pruned.
//!
//! Re-running a night (a corrected file, or `--rerun`) replaces its rows and its folder:
//! the same inputs give the same folder and the same rows.

pub mod cache;
mod case_store;
pub mod cases;
mod days;
pub mod db;
mod landing;
pub mod lock;
pub mod outcomes;
mod retention;
mod run_folder;
mod summary;
mod transaction;
mod window;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::app::RunOptions;
use crate::output::atomic::{barrier, StagedDir};
use crate::output::console::ConsoleError;
use cases::CaseRules;
use days::{next_day, parse_day, sub_days};

pub use case_store::HistoryPoint;
pub use retention::point_latest;
pub use run_folder::NIGHTLY_JSON;
pub use summary::{NightStatus, NightSummary, NightlyError};

/// Validated options of `gridsleuth nightly` (made by `crate::settings` from the config's
/// `[nightly]` table and the rest of the file, as `run` reads it).
#[derive(Debug, Clone)]
pub struct NightlyOptions {
    /// Ingest, detection and balance settings; `run.ingest.readings` is ignored (the landing
    /// folder gives them), `run.out` too (the runs folder does).
    pub run: RunOptions,
    /// Landing file patterns (absolute; globs).
    pub landing: Vec<String>,
    pub state: PathBuf,
    pub runs: PathBuf,
    pub window_days: u32,
    pub keep_runs: usize,
    pub complete_share: f64,
    pub top_others: usize,
    pub rules: CaseRules,
    /// Score the newest night again even when nothing new arrived.
    pub rerun: bool,
}

/// The database file in the state folder.
pub fn db_path(state: &Path) -> PathBuf {
    state.join("gridsleuth.sqlite")
}

/// Logs of the nightly go to `STATE/logs/nightly.log.YYYY-MM-DD` while `f` runs.
fn with_log<T>(state: &Path, f: impl FnOnce() -> T) -> T {
    let appender = tracing_appender::rolling::daily(state.join("logs"), "nightly.log");
    let sub = tracing_subscriber::fmt()
        .with_writer(std::sync::Mutex::new(appender))
        .with_ansi(false)
        .with_target(false)
        .finish();
    tracing::subscriber::with_default(sub, f)
}

/// `gridsleuth nightly`.
pub fn run_nightly(
    opts: &NightlyOptions,
    out: &mut dyn Write,
) -> Result<NightSummary, NightlyError> {
    std::fs::create_dir_all(&opts.state).map_err(|e| NightlyError::io(&opts.state, e))?;
    let _lock = lock::Lock::take(&opts.state)?;
    with_log(&opts.state, || {
        tracing::info!(state = %opts.state.display(), "nightly started");
        let r = night(opts);
        match &r {
            Ok(s) => tracing::info!(
                status = ?s.status,
                night = s.night.as_deref().unwrap_or(""),
                files_new = s.files_new,
                rows = s.rows_read,
                secs = s.duration_secs,
                "nightly finished"
            ),
            Err(e) => tracing::error!("nightly failed: {}", crate::settings::message_chain(e)),
        }
        r
    })
    .and_then(|s| {
        write!(out, "{}", s.text())
            .map_err(|e| NightlyError::from(crate::app::AppError::from(ConsoleError(e))))?;
        Ok(s)
    })
}

fn night(opts: &NightlyOptions) -> Result<NightSummary, NightlyError> {
    let t0 = Instant::now();
    let state = &opts.state;
    let dbp = db_path(state);
    let mut conn = db::open(&dbp)?;
    let dberr = |e: rusqlite::Error| NightlyError::db(&dbp, e);
    let tz = opts.run.ingest.long.time.tz;
    let mut summary = NightSummary::empty();
    retention::repair_latest(&conn, &opts.runs).map_err(dberr)?;
    let mut meter_index = cache::MeterIndex::load(&conn).map_err(dberr)?;
    cache::upgrade_parquet_blocks(&mut conn, state, &mut meter_index)?;

    // The grid interval: configured, else the first file's, kept in the database.
    let stored_iv: Option<u32> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'interval_secs'",
            [],
            |r| r.get::<_, String>(0),
        )
        .ok()
        .and_then(|s| s.parse().ok());
    let mut interval = opts.run.ingest.acc.interval_secs.or(stored_iv);
    if let (Some(a), Some(b)) = (opts.run.ingest.acc.interval_secs, stored_iv) {
        if a != b {
            return Err(NightlyError::Other(format!(
                "[time] interval is {} min but the state folder's cache is on {} min\n  fix: \
                 keep the interval of the state folder, or start a new state folder",
                a / 60,
                b / 60
            )));
        }
    }

    // 2. New and changed landing files.
    let new_files = landing::read_new_files(
        opts,
        &mut conn,
        &dbp,
        &mut meter_index,
        &mut interval,
        &mut summary,
    )?;

    // 3. Day blocks in force after tonight's files, the night and the window.
    let days = window::days_in_force(&conn, &new_files).map_err(dberr)?;
    let newest = window::newest_complete(&days, opts.complete_share);
    let last = db::last_night(&conn).map_err(dberr)?;
    let anything_new = !new_files.is_empty();
    let Some(night) = newest else {
        summary
            .notes
            .push("no complete day in the landing files yet".into());
        summary.duration_secs = t0.elapsed().as_secs_f64();
        landing::record_files_only(
            &mut conn,
            &dbp,
            &new_files,
            last.as_ref().map(|l| l.0.as_str()),
        )?;
        return Ok(summary);
    };
    let night_s = night.to_string();
    let first = sub_days(night, opts.window_days.saturating_sub(1));
    summary.window = Some((first.to_string(), night_s.clone()));
    summary.missing_days = window::missing_days(&days, first, night);
    if let Some((ln, _)) = &last {
        if let Some(lnd) = parse_day(ln) {
            if night < lnd {
                summary.notes.push(format!(
                    "the newest complete day {night} is older than the last night scored, {ln}"
                ));
            }
        }
    }
    let already = last.as_ref().is_some_and(|(n, _)| *n == night_s);
    if !anything_new && already && !opts.rerun {
        summary.night = Some(night_s.clone());
        summary.run_dir = None;
        let next = next_day(night);
        if !days.contains_key(&next) {
            summary.notes.push(format!(
                "no file for {next} yet: the night after {night_s} is missing"
            ));
        }
        summary.duration_secs = t0.elapsed().as_secs_f64();
        return Ok(summary);
    }
    if !anything_new && !already && last.is_some() && !opts.rerun {
        // Recovered: the files were recorded but the night not (killed before its commit).
        summary.notes.push(format!(
            "night {night_s} had not been scored: scoring it now"
        ));
    }

    // 4. The window's matrix and the run.
    let blocks = window::window_blocks(&days, first, night, state);
    let iv = interval.unwrap_or(1800);
    let t_ingest = Instant::now();
    let (matrix, native) = cache::assemble(&blocks, first, night, iv, tz, &meter_index)?;
    let visits = outcomes::visits(&conn).map_err(dberr)?;
    let licensed: BTreeSet<String> = visits
        .iter()
        .filter(|v| v.kind == cases::OutcomeKind::Licensed && v.date <= night)
        .map(|v| v.meter_id.clone())
        .collect();
    let ing = window::window_ingested(matrix, native, &opts.run.ingest, &licensed)?;
    let t_ingest = t_ingest.elapsed();
    tracing::info!(
        secs = t_ingest.as_secs_f64(),
        blocks = blocks.len(),
        meters = ing.matrix.n_meters(),
        "window assembled from the day cache"
    );
    let mut run_opts = opts.run.clone();
    // run.json and the report name the landing files behind the window's blocks.
    run_opts.ingest.readings = window::window_sources(&days, first, night);
    run_opts.ingest.feeders = Vec::new();
    let target = opts.runs.join(&night_s);
    let staged = StagedDir::begin(&target).map_err(|e| NightlyError::io(&target, e))?;
    let dir = staged.path().to_path_buf();
    let t_run = Instant::now();
    let written = crate::app::write_run(&ing, &run_opts, &dir, t_ingest)?;
    tracing::info!(
        secs = t_run.elapsed().as_secs_f64(),
        "window scored, run files written"
    );
    barrier("nightly:run-files");
    let det = &written.detection;
    let ids = ing.matrix.meter_ids();

    // Scores: the flagged and the top others.
    let kept = transaction::score_rows(&det.findings, ids, opts.top_others);
    let flags = case_store::flags(&det.findings, ids);
    let prev = case_store::previous_cases(&conn, &night_s).map_err(dberr)?;
    let tonight = cases::advance(night, &prev, &flags, &visits, &opts.rules);
    summary.cases = cases::counts(&tonight.cases);
    summary.suppressed = tonight.suppressed.len();
    summary.night = Some(night_s.clone());
    let history = case_store::case_history(&conn, &night_s, &tonight.cases).map_err(dberr)?;
    let field = outcomes::field_stats(&conn, &night_s).map_err(dberr)?;
    let calibration = outcomes::calibrate(&conn, &dir, &ing, det).map_err(dberr)?;
    summary.ranked_by = calibration.as_ref().filter(|c| c.used).map_or_else(
        || "score".to_string(),
        |_| "calibrated probability".to_string(),
    );
    let quarantined = new_files
        .iter()
        .any(|f| f.quarantined > 0 || f.outcome.is_err());
    summary.status = if quarantined {
        NightStatus::ScoredWithQuarantine
    } else {
        NightStatus::Scored
    };
    summary.run_dir = Some(target.display().to_string());
    // Landing quality of the window's files and tonight's.
    landing::write_landing_quality(&conn, state, &new_files, &dir).map_err(dberr)?;
    let nightly = run_folder::NightlyFile {
        night: night_s.clone(),
        window: (first.to_string(), night_s.clone()),
        missing_days: summary.missing_days.clone(),
        cases: &tonight.cases,
        history: &history,
        suppressed: &tonight.suppressed,
        field: &field,
        calibration: calibration.as_ref(),
        ranked_by: summary.ranked_by.clone(),
        notes: summary.notes.clone(),
    };
    nightly.write(&dir)?;
    barrier("nightly:cases-written");
    drop((ing, written));
    let ropts = crate::report::ReportOptions {
        title: Some(format!("night {night_s}")),
        ..crate::report::ReportOptions::default()
    };
    let t_report = Instant::now();
    crate::report::render(&dir, &ropts)
        .map_err(|e| NightlyError::from(crate::app::AppError::from(e)))?;
    tracing::info!(secs = t_report.elapsed().as_secs_f64(), "report rendered");
    barrier("nightly:report");
    staged.commit().map_err(|e| NightlyError::io(&target, e))?;
    barrier("nightly:folder-committed");

    // 5. One transaction for the night.
    summary.duration_secs = t0.elapsed().as_secs_f64();
    transaction::record_night(
        &mut conn,
        &dbp,
        interval,
        &new_files,
        &night_s,
        first,
        &kept,
        &tonight.cases,
        &summary,
        &target,
    )?;

    // 6. The latest pointer, retention, cache pruning.
    point_latest(&opts.runs, &night_s).map_err(|e| NightlyError::io(&opts.runs, e))?;
    retention::prune_runs(&opts.runs, opts.keep_runs, &night_s);
    let referenced: BTreeSet<String> = db::day_blocks(&conn)
        .map_err(dberr)?
        .into_iter()
        .map(|r| r.block)
        .collect();
    cache::prune(state, first, &referenced);
    Ok(summary)
}
