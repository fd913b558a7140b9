//! `gridsleuth nightly`: the scheduled run. Each night it picks up the new files of a landing
//! folder, keeps a rolling window of days ending at the newest complete day, scores it, carries
//! the cases over from the night before, and writes a dated run folder plus a `latest` link.
//!
//! Modules: [`db`] (the SQLite state and its migrations), [`cache`] (the per-day columnar
//! blocks), [`cases`] (the case rules), [`outcomes`] (inspection visits: import, effects, field
//! hit rate, calibration), [`lock`] (one nightly at a time).
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
pub mod cases;
pub mod db;
pub mod lock;
pub mod outcomes;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::NaiveDate;
use chrono_tz::Tz;
use rusqlite::params;
use serde::Serialize;

use crate::app::RunOptions;
use crate::ingest::{self, IngestOptions, Ingested, MeterTable, QualityLog};
use crate::output::atomic::{barrier, StagedDir};
use crate::output::console::ConsoleError;
use cases::{CaseNight, CaseRules, Flag, State};

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

/// How a night ended (the exit status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NightStatus {
    /// Scored; every reading used (exit 0).
    Scored,
    /// Scored; some readings or files were quarantined or rejected (exit 1).
    ScoredWithQuarantine,
    /// Nothing new in the landing folder and the night already scored (exit 3).
    NoNewData,
}

/// The one-line summary (`--json`) and the folder's `nightly.json`.
#[derive(Debug, Clone, Serialize)]
pub struct NightSummary {
    pub status: NightStatus,
    pub night: Option<String>,
    pub window: Option<(String, String)>,
    pub run_dir: Option<String>,
    pub cases: BTreeMap<&'static str, usize>,
    pub suppressed: usize,
    pub files_new: usize,
    pub files_replaced: usize,
    pub files_rejected: usize,
    pub files_unchanged: usize,
    pub rows_read: u64,
    pub missing_days: Vec<String>,
    pub ranked_by: String,
    pub notes: Vec<String>,
    pub duration_secs: f64,
}

impl NightSummary {
    fn empty() -> Self {
        NightSummary {
            status: NightStatus::NoNewData,
            night: None,
            window: None,
            run_dir: None,
            cases: cases::counts(&[]),
            suppressed: 0,
            files_new: 0,
            files_replaced: 0,
            files_rejected: 0,
            files_unchanged: 0,
            rows_read: 0,
            missing_days: Vec::new(),
            ranked_by: "score".into(),
            notes: Vec::new(),
            duration_secs: 0.0,
        }
    }

    /// Lines for people.
    pub fn text(&self) -> String {
        let mut s = String::new();
        match self.status {
            NightStatus::NoNewData => s.push_str("nightly: no new data"),
            _ => s.push_str(&format!(
                "nightly: night {} scored",
                self.night.as_deref().unwrap_or("?")
            )),
        }
        if let Some((a, b)) = &self.window {
            s.push_str(&format!(" (window {a} .. {b})"));
        }
        s.push('\n');
        s.push_str(&format!(
            "files: {} new, {} replaced, {} rejected, {} unchanged; {} rows read\n",
            self.files_new,
            self.files_replaced,
            self.files_rejected,
            self.files_unchanged,
            self.rows_read
        ));
        if self.status != NightStatus::NoNewData {
            let c = &self.cases;
            s.push_str(&format!(
                "cases: {} new, {} escalating, {} persisting, {} vanished, {} closed; {} suppressed (ranked by {})\n",
                c["new"], c["escalating"], c["persisting"], c["vanished"], c["closed"],
                self.suppressed, self.ranked_by
            ));
        }
        if !self.missing_days.is_empty() {
            s.push_str(&format!(
                "missing days (no readings): {}\n",
                self.missing_days.join(", ")
            ));
        }
        for n in &self.notes {
            s.push_str(&format!("note: {n}\n"));
        }
        if let Some(d) = &self.run_dir {
            s.push_str(&format!("wrote {d}\n"));
        }
        s
    }
}

/// A fatal nightly error (exit 2), or the lock held by another nightly (exit 4).
#[derive(Debug, thiserror::Error)]
pub enum NightlyError {
    #[error("another gridsleuth nightly is running on {state} (pid {holder}); this one did nothing\n  fix: wait for it to finish (the lock {lock} is released when it ends), or check the scheduler does not start two")]
    Locked {
        state: PathBuf,
        lock: PathBuf,
        holder: String,
    },
    #[error("{path}: state database error\n  fix: check the state folder is writable; a database from a newer gridsleuth needs that version")]
    Db {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("{path}: cannot read or write\n  fix: check the path and that the state and runs folders are writable")]
    Io {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(transparent)]
    App(Box<crate::app::AppError>),
    #[error("{0}")]
    Other(String),
    #[error("{file}: {count} bad rows, nothing imported\n  fix: correct the rows listed above and import the file again")]
    BadOutcomes { file: PathBuf, count: usize },
}

impl NightlyError {
    pub fn db(path: &Path, source: rusqlite::Error) -> Self {
        NightlyError::Db {
            path: path.to_path_buf(),
            source,
        }
    }
    pub fn io(path: &Path, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        NightlyError::Io {
            path: path.to_path_buf(),
            source: source.into(),
        }
    }
    /// The process exit code: 4 for a refused concurrent run, 2 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            NightlyError::Locked { .. } => 4,
            _ => 2,
        }
    }
}

impl From<crate::app::AppError> for NightlyError {
    fn from(e: crate::app::AppError) -> Self {
        NightlyError::App(Box::new(e))
    }
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

/// A day block in force: (file order, block path relative to the state folder, meters, meters
/// with a reading in the day's last slot, landing file).
type Block = (i64, String, i64, i64, String);

/// A landing file read tonight.
struct NewFile {
    path: String,
    size: i64,
    mtime: i64,
    checksum: String,
    rows: u64,
    /// Replaces this earlier record (a re-delivery).
    replaces: Option<i64>,
    outcome: Result<Vec<(NaiveDate, String, cache::DayBlock)>, String>,
    quality: Option<Vec<u8>>,
    quarantined: u64,
}

fn file_facts(p: &Path) -> Result<(i64, i64), NightlyError> {
    let md = std::fs::metadata(p).map_err(|e| NightlyError::io(p, e))?;
    let mtime = md
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as i64);
    Ok((md.len() as i64, mtime))
}

fn checksum(p: &Path) -> Result<String, NightlyError> {
    let mut h = blake3::Hasher::new();
    let f = std::fs::File::open(p).map_err(|e| NightlyError::io(p, e))?;
    h.update_reader(f).map_err(|e| NightlyError::io(p, e))?;
    Ok(h.finalize().to_hex().to_string())
}

fn landing_files(patterns: &[String]) -> Result<Vec<PathBuf>, NightlyError> {
    let mut v = BTreeSet::new();
    for pat in patterns {
        let g = glob::glob(pat).map_err(|e| {
            NightlyError::Other(format!("[nightly] landing {pat:?}: bad pattern: {e}"))
        })?;
        for p in g.flatten() {
            if p.is_file() {
                v.insert(p);
            }
        }
    }
    Ok(v.into_iter().collect())
}

/// A landing file ingested alone: its readings and day blocks (or why not), its quality CSV
/// and the readings it quarantined.
type FileRead = (
    Result<(Ingested, Vec<cache::DayBlock>), String>,
    Option<Vec<u8>>,
    u64,
);

/// Ingests one landing file alone and splits it into day blocks.
fn ingest_file(p: &Path, template: &IngestOptions, interval: Option<u32>, tz: Tz) -> FileRead {
    let mut o = template.clone();
    o.readings = vec![p.to_path_buf()];
    o.feeders = Vec::new();
    o.weather = None;
    o.acc.window = None;
    o.show_progress = false;
    if interval.is_some() {
        o.acc.interval_secs = interval;
    }
    match ingest::load(&o) {
        Ok(ing) => {
            let q = crate::ingest::quality::quality_csv(&[&ing.quality]).ok();
            let quarantined = ing.quality.readings_quarantined();
            match cache::split_days(&ing.matrix, &ing.native_interval, tz) {
                Ok(days) => (Ok((ing, days)), q, quarantined),
                Err(e) => (Err(e), q, quarantined),
            }
        }
        Err(ingest::IngestError::Empty { quality, .. }) => {
            let q = crate::ingest::quality::quality_csv(&[&quality]).ok();
            let n = quality.readings_quarantined();
            (
                Err("no usable readings (see landing_quality.csv)".into()),
                q,
                n,
            )
        }
        Err(e) => (Err(crate::settings::message_chain(&e)), None, 0),
    }
}

fn parse_day(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

fn sub_days(d: NaiveDate, n: u32) -> NaiveDate {
    d.checked_sub_days(chrono::Days::new(u64::from(n)))
        .unwrap_or(d)
}

fn night(opts: &NightlyOptions) -> Result<NightSummary, NightlyError> {
    let t0 = Instant::now();
    let state = &opts.state;
    let dbp = db_path(state);
    let mut conn = db::open(&dbp)?;
    let dberr = |e: rusqlite::Error| NightlyError::db(&dbp, e);
    let tz = opts.run.ingest.long.time.tz;
    let mut summary = NightSummary::empty();
    repair_latest(&conn, &opts.runs).map_err(dberr)?;
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
    let mut new_files: Vec<NewFile> = Vec::new();
    for p in landing_files(&opts.landing)? {
        let ps = p.display().to_string();
        let (size, mtime) = file_facts(&p)?;
        let cur = db::current_file(&conn, &ps).map_err(dberr)?;
        if let Some(c) = &cur {
            if c.size == size && c.mtime == mtime {
                summary.files_unchanged += 1;
                continue;
            }
        }
        let sum = checksum(&p)?;
        if let Some(c) = &cur {
            if c.checksum == sum {
                // Touched, same content: remember the new facts, nothing to read.
                conn.execute(
                    "UPDATE files SET size = ?1, mtime = ?2 WHERE id = ?3",
                    params![size, mtime, c.id],
                )
                .map_err(dberr)?;
                summary.files_unchanged += 1;
                continue;
            }
        }
        if cur.is_none() {
            if let Some(other) = db::file_with_checksum(&conn, &sum).map_err(dberr)? {
                summary.notes.push(format!(
                    "{ps} has the same content as {other}: not read again"
                ));
                new_files.push(NewFile {
                    path: ps,
                    size,
                    mtime,
                    checksum: sum,
                    rows: 0,
                    replaces: None,
                    outcome: Err(format!("duplicate of {other}")),
                    quality: None,
                    quarantined: 0,
                });
                continue;
            }
        }
        barrier("nightly:read-file");
        let (r, quality, quarantined) = ingest_file(&p, &opts.run.ingest, interval, tz);
        let mut nf = NewFile {
            path: ps.clone(),
            size,
            mtime,
            checksum: sum.clone(),
            rows: 0,
            replaces: cur
                .as_ref()
                .filter(|c| c.status != "rejected")
                .map(|c| c.id),
            outcome: Err(String::new()),
            quality,
            quarantined,
        };
        match r {
            Ok((ing, days)) => {
                nf.rows = ing.quality.readings_read;
                if interval.is_none() {
                    interval = Some(ing.matrix.grid.interval_secs);
                } else if interval != Some(ing.matrix.grid.interval_secs) {
                    nf.outcome = Err(format!(
                        "its readings are on a {}-minute grid, the state folder's is {} minutes",
                        ing.matrix.grid.interval_secs / 60,
                        interval.unwrap_or(0) / 60
                    ));
                    new_files.push(nf);
                    continue;
                }
                let mut blocks = Vec::new();
                for b in days {
                    let rel = cache::block_rel(b.day, &sum);
                    let idx = meter_index.register(&mut conn, &b.ids).map_err(dberr)?;
                    cache::write_block(&b, &idx, &state.join(&rel))?;
                    blocks.push((b.day, rel, b));
                }
                barrier("nightly:blocks-written");
                nf.outcome = Ok(blocks);
            }
            Err(e) => nf.outcome = Err(e),
        }
        tracing::info!(file = %nf.path, rows = nf.rows, ok = nf.outcome.is_ok(), "landing file read");
        new_files.push(nf);
    }
    summary.files_new = new_files
        .iter()
        .filter(|f| f.outcome.is_ok() && f.replaces.is_none())
        .count();
    summary.files_replaced = new_files
        .iter()
        .filter(|f| f.outcome.is_ok() && f.replaces.is_some())
        .count();
    summary.files_rejected = new_files.iter().filter(|f| f.outcome.is_err()).count();
    summary.rows_read = new_files.iter().map(|f| f.rows).sum();
    for f in &new_files {
        if let Err(e) = &f.outcome {
            if !e.starts_with("duplicate of") {
                summary.notes.push(format!("{}: rejected: {e}", f.path));
            }
        }
        if f.replaces.is_some() && f.outcome.is_ok() {
            summary.notes.push(format!(
                "{}: re-delivered with new content; its days replaced",
                f.path
            ));
        }
    }

    // 3. Day blocks in force after tonight's files, the night and the window.
    let replaced: BTreeSet<i64> = new_files.iter().filter_map(|f| f.replaces).collect();
    let mut days: BTreeMap<NaiveDate, Vec<Block>> = BTreeMap::new();
    for r in db::day_blocks(&conn).map_err(dberr)? {
        if replaced.contains(&r.file_id) {
            continue;
        }
        if let Some(d) = parse_day(&r.day) {
            days.entry(d).or_default().push((
                r.file_id,
                r.block,
                r.meters,
                r.last_slot_meters,
                r.path,
            ));
        }
    }
    for (k, f) in new_files.iter().enumerate() {
        if let Ok(bl) = &f.outcome {
            for (d, rel, b) in bl {
                // Tonight's files come after every recorded one.
                days.entry(*d).or_default().push((
                    i64::MAX - (new_files.len() - k) as i64,
                    rel.clone(),
                    b.ids.len() as i64,
                    b.last_slot_meters(),
                    f.path.clone(),
                ));
            }
        }
    }
    let complete = |blocks: &Vec<Block>| {
        blocks
            .iter()
            .any(|(_, _, m, last, _)| *m > 0 && *last as f64 >= opts.complete_share * *m as f64)
    };
    let newest = days
        .iter()
        .rev()
        .find(|(_, b)| complete(b))
        .map(|(d, _)| *d);
    let last = db::last_night(&conn).map_err(dberr)?;
    let anything_new = !new_files.is_empty();
    let Some(night) = newest else {
        summary
            .notes
            .push("no complete day in the landing files yet".into());
        summary.duration_secs = t0.elapsed().as_secs_f64();
        record_files_only(
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
    let mut d = first;
    while d <= night {
        if !days.contains_key(&d) {
            summary.missing_days.push(d.to_string());
        }
        d = cache::next_day(d);
    }
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
        let next = cache::next_day(night);
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
    let blocks: Vec<(NaiveDate, PathBuf)> = days
        .range(first..=night)
        .flat_map(|(d, bl)| {
            let mut bl = bl.clone();
            bl.sort();
            bl.into_iter()
                .map(move |(_, rel, _, _, _)| (*d, state.join(rel)))
        })
        .collect();
    let iv = interval.unwrap_or(1800);
    let t_ingest = Instant::now();
    let (matrix, native) = cache::assemble(&blocks, first, night, iv, tz, &meter_index)?;
    let visits = outcomes::visits(&conn).map_err(dberr)?;
    let licensed: BTreeSet<String> = visits
        .iter()
        .filter(|v| v.kind == cases::OutcomeKind::Licensed && v.date <= night)
        .map(|v| v.meter_id.clone())
        .collect();
    let ing = window_ingested(matrix, native, &opts.run.ingest, &licensed)?;
    let t_ingest = t_ingest.elapsed();
    tracing::info!(
        secs = t_ingest.as_secs_f64(),
        blocks = blocks.len(),
        meters = ing.matrix.n_meters(),
        "window assembled from the day cache"
    );
    let mut run_opts = opts.run.clone();
    // run.json and the report name the landing files behind the window's blocks.
    let sources: BTreeSet<PathBuf> = days
        .range(first..=night)
        .flat_map(|(_, bl)| bl.iter().map(|b| PathBuf::from(&b.4)))
        .collect();
    run_opts.ingest.readings = sources.into_iter().collect();
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
    let mut ranked: Vec<&crate::score::Finding> = det.findings.iter().collect();
    ranked.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.meter.cmp(&b.meter)));
    let mut kept: Vec<ScoreRow> = Vec::new();
    let mut others = 0;
    for f in ranked {
        if f.flagged || others < opts.top_others {
            others += usize::from(!f.flagged);
            kept.push(ScoreRow {
                meter_id: ids[f.meter].to_string(),
                rank: f.rank.map(|r| r as i64),
                score: f.score,
                kw: f.rig_kw,
                devices: f.devices,
                onset: f.onset.clone(),
                flagged: f.flagged,
            });
        }
    }
    let flags: Vec<Flag> = det
        .findings
        .iter()
        .filter(|f| f.flagged)
        .map(|f| Flag {
            meter_id: ids[f.meter].to_string(),
            score: f.score,
            kw: f.rig_kw,
            devices: f.devices,
            onset: f.onset.clone(),
            rank: f.rank,
        })
        .collect();
    let prev = previous_cases(&conn, &night_s).map_err(dberr)?;
    let tonight = cases::advance(night, &prev, &flags, &visits, &opts.rules);
    summary.cases = cases::counts(&tonight.cases);
    summary.suppressed = tonight.suppressed.len();
    summary.night = Some(night_s.clone());
    let history = case_history(&conn, &night_s, &tonight.cases).map_err(dberr)?;
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
    write_landing_quality(&conn, state, &new_files, &dir).map_err(dberr)?;
    let nightly = NightlyFile {
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
    let bytes = serde_json::to_vec_pretty(&nightly).map_err(|e| NightlyError::io(&dir, e))?;
    std::fs::write(dir.join(NIGHTLY_JSON), bytes).map_err(|e| NightlyError::io(&dir, e))?;
    std::fs::write(dir.join("cases.csv"), cases_csv(&tonight.cases))
        .map_err(|e| NightlyError::io(&dir, e))?;
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
    let tx = conn.transaction().map_err(dberr)?;
    if let Some(iv) = interval {
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('interval_secs', ?1)",
            params![iv.to_string()],
        )
        .map_err(dberr)?;
    }
    record_files(&tx, &new_files, &night_s).map_err(dberr)?;
    // A re-run of this night (or of an earlier one) replaces its rows.
    tx.execute("DELETE FROM scores WHERE night >= ?1", params![night_s])
        .map_err(dberr)?;
    tx.execute(
        "DELETE FROM case_nights WHERE night >= ?1",
        params![night_s],
    )
    .map_err(dberr)?;
    tx.execute(
        "DELETE FROM cases WHERE opened >= ?1 AND case_id NOT IN (SELECT case_id FROM case_nights)",
        params![night_s],
    )
    .map_err(dberr)?;
    tx.execute("DELETE FROM runs WHERE night >= ?1", params![night_s])
        .map_err(dberr)?;
    tx.execute(
        "DELETE FROM events WHERE night >= ?1 AND kind = 'missing_day'",
        params![night_s],
    )
    .map_err(dberr)?;
    for f in &kept {
        tx.execute(
            "INSERT INTO scores (night, meter_id, rank, score, kw, devices, onset, flagged)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![night_s, f.meter_id, f.rank, f.score, f.kw, f.devices, f.onset, f.flagged],
        )
        .map_err(dberr)?;
    }
    for c in &tonight.cases {
        tx.execute(
            "INSERT OR IGNORE INTO cases (case_id, meter_id, onset, opened) VALUES (?1, ?2, ?3, ?4)",
            params![c.case_id, c.meter_id, c.onset, c.opened.to_string()],
        )
        .map_err(dberr)?;
        tx.execute(
            "INSERT INTO case_nights (case_id, night, state, flagged, score, kw, devices, rank,
                nights_flagged, max_kw, max_devices, vanished_on, closed_on, closed_reason,
                no_access_on, note)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
            params![
                c.case_id,
                night_s,
                c.state.as_str(),
                c.flagged,
                c.score,
                c.kw,
                c.devices,
                c.rank.map(|r| r as i64),
                c.nights_flagged,
                c.max_kw,
                c.max_devices,
                c.vanished_on.map(|d| d.to_string()),
                c.closed_on.map(|d| d.to_string()),
                c.closed_reason,
                c.no_access_on.map(|d| d.to_string()),
                c.note
            ],
        )
        .map_err(dberr)?;
    }
    for m in &summary.missing_days {
        db::event(&tx, &night_s, "missing_day", m).map_err(dberr)?;
    }
    let summary_json = serde_json::to_string(&summary).unwrap_or_default();
    tx.execute(
        "INSERT INTO runs (night, window_start, window_end, started_at, duration_secs, files_new,
            rows_read, run_dir, summary) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            night_s,
            first.to_string(),
            night_s,
            chrono::Utc::now().to_rfc3339(),
            summary.duration_secs,
            (summary.files_new + summary.files_replaced) as i64,
            summary.rows_read as i64,
            target.display().to_string(),
            summary_json
        ],
    )
    .map_err(dberr)?;
    barrier("nightly:db-before-commit");
    tx.commit().map_err(dberr)?;
    barrier("nightly:db-committed");

    // 6. The latest pointer, retention, cache pruning.
    point_latest(&opts.runs, &night_s).map_err(|e| NightlyError::io(&opts.runs, e))?;
    prune_runs(&opts.runs, opts.keep_runs, &night_s);
    let referenced: BTreeSet<String> = db::day_blocks(&conn)
        .map_err(dberr)?
        .into_iter()
        .map(|r| r.block)
        .collect();
    cache::prune(state, first, &referenced);
    Ok(summary)
}

/// A row of `scores`.
struct ScoreRow {
    meter_id: String,
    rank: Option<i64>,
    score: f64,
    kw: f64,
    devices: Option<u32>,
    onset: Option<String>,
    flagged: bool,
}

/// The run folder's nightly file: cases, their history, outcomes.
pub const NIGHTLY_JSON: &str = "nightly.json";

#[derive(Debug, Serialize)]
struct NightlyFile<'a> {
    night: String,
    window: (String, String),
    missing_days: Vec<String>,
    cases: &'a [CaseNight],
    /// Per case: (night, state, score, kW) for the nights it has rows, oldest first.
    history: &'a BTreeMap<String, Vec<HistoryPoint>>,
    suppressed: &'a [cases::Suppressed],
    field: &'a outcomes::FieldStats,
    calibration: Option<&'a outcomes::Calibration>,
    ranked_by: String,
    notes: Vec<String>,
}

/// One night of a case's history.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct HistoryPoint {
    pub night: String,
    pub state: String,
    pub score: Option<f64>,
    pub kw: Option<f64>,
}

fn cases_csv(cases: &[CaseNight]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record([
        "case_id",
        "meter_id",
        "state",
        "opened",
        "onset",
        "nights_flagged",
        "score",
        "est_rig_kw",
        "devices",
        "max_kw",
        "vanished_on",
        "closed_on",
        "closed_reason",
        "no_access_on",
        "note",
    ]);
    let o = |d: Option<NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
    for c in cases.iter().filter(|c| c.state != State::Expired) {
        let _ = w.write_record([
            c.case_id.as_str(),
            &c.meter_id,
            c.state.as_str(),
            &c.opened.to_string(),
            c.onset.as_deref().unwrap_or(""),
            &c.nights_flagged.to_string(),
            &c.score
                .map(|s| crate::output::csv_num(s, 4))
                .unwrap_or_default(),
            &c.kw
                .map(|s| crate::output::csv_num(s, 2))
                .unwrap_or_default(),
            &c.devices.map(|d| d.to_string()).unwrap_or_default(),
            &crate::output::csv_num(c.max_kw, 2),
            &o(c.vanished_on),
            &o(c.closed_on),
            c.closed_reason.as_deref().unwrap_or(""),
            &o(c.no_access_on),
            &c.note,
        ]);
    }
    let _ = w.flush();
    w.into_inner().unwrap_or_default()
}

/// Each case's latest row before `night`.
fn previous_cases(conn: &rusqlite::Connection, night: &str) -> rusqlite::Result<Vec<CaseNight>> {
    let mut st = conn.prepare(
        "SELECT n.case_id, c.meter_id, c.onset, c.opened, n.night, n.state, n.flagged, n.score,
                n.kw, n.devices, n.rank, n.nights_flagged, n.max_kw, n.max_devices, n.vanished_on,
                n.closed_on, n.closed_reason, n.no_access_on, n.note
         FROM case_nights n JOIN cases c ON c.case_id = n.case_id
         WHERE n.night = (SELECT MAX(m.night) FROM case_nights m
                          WHERE m.case_id = n.case_id AND m.night < ?1)
         ORDER BY n.case_id",
    )?;
    let d = |s: Option<String>| s.as_deref().and_then(parse_day);
    let rows = st.query_map(params![night], |r| {
        Ok(CaseNight {
            case_id: r.get(0)?,
            meter_id: r.get(1)?,
            onset: r.get(2)?,
            opened: d(r.get(3)?).unwrap_or_default(),
            night: d(r.get(4)?).unwrap_or_default(),
            state: State::parse(&r.get::<_, String>(5)?).unwrap_or(State::Expired),
            flagged: r.get(6)?,
            score: r.get(7)?,
            kw: r.get(8)?,
            devices: r.get(9)?,
            rank: r.get::<_, Option<i64>>(10)?.map(|x| x as usize),
            nights_flagged: r.get(11)?,
            max_kw: r.get(12)?,
            max_devices: r.get(13)?,
            vanished_on: d(r.get(14)?),
            closed_on: d(r.get(15)?),
            closed_reason: r.get(16)?,
            no_access_on: d(r.get(17)?),
            note: r.get(18)?,
        })
    })?;
    rows.collect()
}

/// The history of tonight's cases: their recorded nights before tonight, then tonight.
fn case_history(
    conn: &rusqlite::Connection,
    night: &str,
    tonight: &[CaseNight],
) -> rusqlite::Result<BTreeMap<String, Vec<HistoryPoint>>> {
    let mut out: BTreeMap<String, Vec<HistoryPoint>> = BTreeMap::new();
    let mut st = conn.prepare(
        "SELECT night, state, score, kw FROM case_nights WHERE case_id = ?1 AND night < ?2
         ORDER BY night",
    )?;
    for c in tonight.iter().filter(|c| c.state != State::Expired) {
        let mut v: Vec<HistoryPoint> = st
            .query_map(params![c.case_id, night], |r| {
                Ok(HistoryPoint {
                    night: r.get(0)?,
                    state: r.get(1)?,
                    score: r.get(2)?,
                    kw: r.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        v.push(HistoryPoint {
            night: night.to_string(),
            state: c.state.as_str().to_string(),
            score: c.score,
            kw: c.kw,
        });
        out.insert(c.case_id.clone(), v);
    }
    Ok(out)
}

/// The window as `Ingested`: the assembled matrix, the meters table (licensed meters added to
/// the registered list), the weather on the window's grid. Its quality log counts the cached
/// readings as read and used (the landing files' own quarantine is in landing_quality.csv).
fn window_ingested(
    matrix: crate::grid::LoadMatrix,
    native: Vec<u32>,
    o: &IngestOptions,
    licensed: &BTreeSet<String>,
) -> Result<Ingested, NightlyError> {
    let mut quality = QualityLog::new("readings");
    let present = matrix.present_slots();
    quality.readings_read = present;
    quality.readings_used = present;
    let meters = match &o.meters {
        Some(p) => {
            let (t, q) = ingest::meta::read_meters(p)
                .map_err(|e| NightlyError::from(crate::app::AppError::from(e)))?;
            let mut rows: Vec<crate::ingest::MeterInfo> = t.rows().to_vec();
            for r in &mut rows {
                if licensed.contains(&r.meter_id) {
                    r.registered_miner = true;
                }
            }
            for m in licensed {
                if t.get(m).is_none() {
                    rows.push(crate::ingest::MeterInfo {
                        meter_id: m.clone(),
                        registered_miner: true,
                        ..Default::default()
                    });
                }
            }
            let t = MeterTable::from_rows(rows);
            let mut q = q;
            t.note_missing(&matrix, &mut q);
            Some((t, q))
        }
        None if !licensed.is_empty() => Some((
            MeterTable::from_rows(
                licensed
                    .iter()
                    .map(|m| crate::ingest::MeterInfo {
                        meter_id: m.clone(),
                        registered_miner: true,
                        ..Default::default()
                    })
                    .collect(),
            ),
            QualityLog::new("meters"),
        )),
        None => None,
    };
    let weather = match &o.weather {
        Some(p) => Some(
            ingest::weather::read_weather(p, &o.weather_time, &matrix.grid)
                .map_err(|e| NightlyError::from(crate::app::AppError::from(e)))?,
        ),
        None => None,
    };
    Ok(Ingested {
        matrix,
        quality,
        native_interval: native,
        meters,
        feeders: None,
        weather,
        zero_copy: false,
        timings: Vec::new(),
    })
}

/// Records tonight's files and blocks (inside the night's transaction).
fn record_files(
    tx: &rusqlite::Transaction<'_>,
    files: &[NewFile],
    night: &str,
) -> rusqlite::Result<()> {
    for f in files {
        if let Some(old) = f.replaces {
            if f.outcome.is_ok() {
                tx.execute(
                    "UPDATE files SET status = 'replaced' WHERE id = ?1",
                    params![old],
                )?;
                db::event(
                    tx,
                    night,
                    "replaced",
                    &format!("{} (file {old}) re-delivered", f.path),
                )?;
            }
        }
        let (status, detail) = match &f.outcome {
            Ok(_) => ("ingested", String::new()),
            Err(e) if e.starts_with("duplicate of") => ("duplicate", e.clone()),
            Err(e) => ("rejected", e.clone()),
        };
        tx.execute(
            "INSERT INTO files (path, size, mtime, checksum, rows, status, detail, night)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                f.path,
                f.size,
                f.mtime,
                f.checksum,
                f.rows as i64,
                status,
                detail,
                night
            ],
        )?;
        let id = tx.last_insert_rowid();
        if status == "rejected" {
            db::event(tx, night, "rejected", &format!("{}: {detail}", f.path))?;
        }
        if let Ok(blocks) = &f.outcome {
            for (d, rel, b) in blocks {
                tx.execute(
                    "INSERT INTO file_days (file_id, day, block, meters, readings, last_slot_meters)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![
                        id,
                        d.to_string(),
                        rel,
                        b.ids.len() as i64,
                        b.readings(),
                        b.last_slot_meters()
                    ],
                )?;
            }
        }
        // Keep the file's quality log beside its blocks.
    }
    Ok(())
}

/// Records files when no night could be scored (no complete day yet).
fn record_files_only(
    conn: &mut rusqlite::Connection,
    dbp: &Path,
    files: &[NewFile],
    night: Option<&str>,
) -> Result<(), NightlyError> {
    let tx = conn.transaction().map_err(|e| NightlyError::db(dbp, e))?;
    record_files(&tx, files, night.unwrap_or("")).map_err(|e| NightlyError::db(dbp, e))?;
    tx.commit().map_err(|e| NightlyError::db(dbp, e))
}

/// `landing_quality.csv` in the run folder: the quarantined readings of the landing files read
/// tonight (earlier nights' are in their own folders). Also kept in `STATE/quality/`.
fn write_landing_quality(
    _conn: &rusqlite::Connection,
    state: &Path,
    files: &[NewFile],
    dir: &Path,
) -> rusqlite::Result<()> {
    let mut text = String::new();
    for f in files {
        let Some(q) = &f.quality else { continue };
        let s = String::from_utf8_lossy(q);
        let mut lines = s.lines();
        let header = lines.next().unwrap_or("");
        if text.is_empty() {
            text.push_str(header);
            text.push('\n');
        }
        for l in lines {
            text.push_str(l);
            text.push('\n');
        }
        let qdir = state.join("quality");
        if std::fs::create_dir_all(&qdir).is_ok() {
            let _ = crate::output::atomic::write_file(
                &qdir.join(format!("{}.csv", &f.checksum[..16.min(f.checksum.len())])),
                q,
            );
        }
    }
    if text.is_empty() {
        text =
            String::from_utf8_lossy(&crate::ingest::quality::quality_csv(&[]).unwrap_or_default())
                .into_owned();
    }
    let _ = std::fs::write(dir.join("landing_quality.csv"), text);
    Ok(())
}

/// Points `RUNS/latest` at the night's folder (a symbolic link replaced atomically) and writes
/// `RUNS/LATEST` (the night, for tools that do not follow links).
pub fn point_latest(runs: &Path, night: &str) -> std::io::Result<()> {
    crate::output::atomic::write_file(&runs.join("LATEST"), format!("{night}\n").as_bytes())?;
    #[cfg(unix)]
    {
        let tmp = runs.join(".latest.tmp");
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(night, &tmp)?;
        std::fs::rename(&tmp, runs.join("latest"))?;
    }
    Ok(())
}

/// Points `latest` at the newest night recorded (after a night killed between its commit and
/// its pointer).
fn repair_latest(conn: &rusqlite::Connection, runs: &Path) -> rusqlite::Result<()> {
    if let Some((night, _)) = db::last_night(conn)? {
        let current = std::fs::read_to_string(runs.join("LATEST")).unwrap_or_default();
        if current.trim() != night && runs.join(&night).is_dir() {
            let _ = point_latest(runs, &night);
        }
    }
    Ok(())
}

/// Keeps the newest `keep` dated run folders (never tonight's).
fn prune_runs(runs: &Path, keep: usize, tonight: &str) {
    let Ok(entries) = std::fs::read_dir(runs) else {
        return;
    };
    let mut dated: Vec<String> = entries
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| parse_day(n).is_some())
        .collect();
    dated.sort();
    let n = dated.len();
    for name in dated.into_iter().take(n.saturating_sub(keep.max(1))) {
        if name != tonight {
            tracing::info!(folder = %name, "retention: run folder removed");
            let _ = std::fs::remove_dir_all(runs.join(name));
        }
    }
}
