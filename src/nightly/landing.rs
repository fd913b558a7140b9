//! The landing folder: tonight's new and changed files. Scans the `[nightly] landing`
//! patterns, tells a new or changed file from an unchanged or touched one (size, modified time,
//! then checksum), ingests each new file alone with the config's columns, zone and quality
//! rules, splits it into local days and writes its day blocks to the cache. Also records the
//! files and their blocks in the database and writes their quarantine (`landing_quality.csv`).
//! Inputs: the options, the state database, the meter index; outputs: [`NewFile`]s, block files,
//! the summary's file counts and notes.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use chrono_tz::Tz;
use rusqlite::params;

use super::{cache, db, NightSummary, NightlyError, NightlyOptions};
use crate::ingest::{self, IngestOptions, Ingested};
use crate::output::atomic::barrier;

/// A landing file read tonight.
pub(super) struct NewFile {
    pub(super) path: String,
    pub(super) size: i64,
    pub(super) mtime: i64,
    pub(super) checksum: String,
    pub(super) rows: u64,
    /// Replaces this earlier record (a re-delivery).
    pub(super) replaces: Option<i64>,
    pub(super) outcome: Result<Vec<(NaiveDate, String, cache::DayBlock)>, String>,
    pub(super) quality: Option<Vec<u8>>,
    pub(super) quarantined: u64,
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

/// Step 2 of a night: reads the new and changed landing files (see the module doc), writes
/// their day blocks, and counts them in `summary`. `interval` is the state's grid interval,
/// set from the first file read when not yet known.
pub(super) fn read_new_files(
    opts: &NightlyOptions,
    conn: &mut rusqlite::Connection,
    dbp: &Path,
    meter_index: &mut cache::MeterIndex,
    interval: &mut Option<u32>,
    summary: &mut NightSummary,
) -> Result<Vec<NewFile>, NightlyError> {
    let dberr = |e: rusqlite::Error| NightlyError::db(dbp, e);
    let state = &opts.state;
    let tz = opts.run.ingest.long.time.tz;
    let mut new_files: Vec<NewFile> = Vec::new();
    for p in landing_files(&opts.landing)? {
        let ps = p.display().to_string();
        let (size, mtime) = file_facts(&p)?;
        let cur = db::current_file(conn, &ps).map_err(dberr)?;
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
            if let Some(other) = db::file_with_checksum(conn, &sum).map_err(dberr)? {
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
        let (r, quality, quarantined) = ingest_file(&p, &opts.run.ingest, *interval, tz);
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
                    *interval = Some(ing.matrix.grid.interval_secs);
                } else if *interval != Some(ing.matrix.grid.interval_secs) {
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
                    let idx = meter_index.register(conn, &b.ids).map_err(dberr)?;
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
    Ok(new_files)
}

/// Records tonight's files and blocks (inside the night's transaction).
pub(super) fn record_files(
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
pub(super) fn record_files_only(
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
pub(super) fn write_landing_quality(
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
