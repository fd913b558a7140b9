//! The state database (`STATE/gridsleuth.sqlite`, SQLite bundled with rusqlite: nothing to
//! install). Versioned migrations: [`MIGRATIONS`]`[i]` takes the schema from version `i` to
//! `i + 1`; the version is SQLite's `user_version`, so an older state folder is upgraded in
//! place on open, inside one transaction, and a newer one is refused.
//!
//! Tables: `runs` (one row per night scored), `files` (every landing file seen: path, size,
//! modified time, checksum, rows, status), `file_days` (the cached day blocks a file brought),
//! `scores` (per night: the suspects and the top others), `cases` (identity: id, meter, onset,
//! night opened), `case_nights` (each case's state, score and kW per night), `outcomes`
//! (inspection visits), `events` (re-deliveries, missing days, rejected files), `meta`,
//! `meter_index` (the day cache's meter numbers, see `cache::MeterIndex`).

use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::NightlyError;

/// Schema migrations, in order; never edit one that has shipped, append a new one.
pub const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
     CREATE TABLE runs (
        night TEXT PRIMARY KEY,
        window_start TEXT NOT NULL,
        window_end TEXT NOT NULL,
        started_at TEXT NOT NULL,
        duration_secs REAL NOT NULL,
        files_new INTEGER NOT NULL,
        rows_read INTEGER NOT NULL,
        run_dir TEXT NOT NULL,
        summary TEXT NOT NULL);
     CREATE TABLE files (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL,
        size INTEGER NOT NULL,
        mtime INTEGER NOT NULL,
        checksum TEXT NOT NULL,
        rows INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('ingested', 'replaced', 'rejected', 'duplicate')),
        detail TEXT NOT NULL DEFAULT '',
        night TEXT NOT NULL);
     CREATE INDEX files_path ON files(path);
     CREATE TABLE file_days (
        file_id INTEGER NOT NULL REFERENCES files(id),
        day TEXT NOT NULL,
        block TEXT NOT NULL,
        meters INTEGER NOT NULL,
        readings INTEGER NOT NULL,
        last_slot_meters INTEGER NOT NULL,
        PRIMARY KEY (file_id, day));
     CREATE TABLE scores (
        night TEXT NOT NULL,
        meter_id TEXT NOT NULL,
        rank INTEGER,
        score REAL NOT NULL,
        kw REAL NOT NULL,
        devices INTEGER,
        onset TEXT,
        flagged INTEGER NOT NULL,
        PRIMARY KEY (night, meter_id));
     CREATE TABLE cases (
        case_id TEXT PRIMARY KEY,
        meter_id TEXT NOT NULL,
        onset TEXT,
        opened TEXT NOT NULL);
     CREATE INDEX cases_meter ON cases(meter_id);
     CREATE TABLE case_nights (
        case_id TEXT NOT NULL REFERENCES cases(case_id),
        night TEXT NOT NULL,
        state TEXT NOT NULL,
        flagged INTEGER NOT NULL,
        score REAL,
        kw REAL,
        devices INTEGER,
        rank INTEGER,
        nights_flagged INTEGER NOT NULL,
        max_kw REAL NOT NULL,
        max_devices INTEGER,
        vanished_on TEXT,
        closed_on TEXT,
        closed_reason TEXT,
        no_access_on TEXT,
        note TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (case_id, night));
     CREATE TABLE outcomes (
        id INTEGER PRIMARY KEY,
        case_id TEXT,
        meter_id TEXT NOT NULL,
        visit_date TEXT NOT NULL,
        outcome TEXT NOT NULL CHECK (outcome IN ('mining_confirmed', 'no_mining', 'no_access', 'licensed')),
        found_kw REAL,
        devices INTEGER,
        notes TEXT NOT NULL DEFAULT '',
        source TEXT NOT NULL,
        source_row INTEGER NOT NULL,
        UNIQUE (meter_id, visit_date, outcome));
     CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        night TEXT NOT NULL,
        kind TEXT NOT NULL,
        detail TEXT NOT NULL);",
    // 2: the day cache's meter index (blocks in the matrix's layout name meters by number).
    "CREATE TABLE meter_index (
        idx INTEGER PRIMARY KEY,
        meter_id TEXT NOT NULL UNIQUE);",
];

/// Opens (creating) the database and brings its schema up to date.
pub fn open(path: &std::path::Path) -> Result<Connection, NightlyError> {
    let mut conn = Connection::open(path).map_err(|e| NightlyError::db(path, e))?;
    conn.busy_timeout(std::time::Duration::from_secs(30))
        .map_err(|e| NightlyError::db(path, e))?;
    migrate(&mut conn).map_err(|e| NightlyError::db(path, e))?;
    Ok(conn)
}

/// The schema version this build writes.
pub fn latest_version() -> i64 {
    MIGRATIONS.len() as i64
}

fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if v > latest_version() {
        return Err(rusqlite::Error::InvalidParameterName(format!(
            "the state database has schema version {v}, newer than this gridsleuth's {} \
             (use a newer gridsleuth)",
            latest_version()
        )));
    }
    let tx = conn.transaction()?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(v as usize) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
    }
    tx.commit()
}

/// A landing file as recorded.
#[derive(Debug, Clone)]
pub struct FileRow {
    pub id: i64,
    pub path: String,
    pub size: i64,
    pub mtime: i64,
    pub checksum: String,
    pub status: String,
}

/// The latest ingested (or rejected) record of `path`.
pub fn current_file(conn: &Connection, path: &str) -> rusqlite::Result<Option<FileRow>> {
    conn.query_row(
        "SELECT id, path, size, mtime, checksum, status FROM files
         WHERE path = ?1 AND status IN ('ingested', 'rejected', 'duplicate')
         ORDER BY id DESC LIMIT 1",
        params![path],
        |r| {
            Ok(FileRow {
                id: r.get(0)?,
                path: r.get(1)?,
                size: r.get(2)?,
                mtime: r.get(3)?,
                checksum: r.get(4)?,
                status: r.get(5)?,
            })
        },
    )
    .optional()
}

/// An ingested file with this checksum (another name for the same content).
pub fn file_with_checksum(conn: &Connection, checksum: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT path FROM files WHERE checksum = ?1 AND status = 'ingested' LIMIT 1",
        params![checksum],
        |r| r.get(0),
    )
    .optional()
}

/// A cached day block of an ingested file.
#[derive(Debug, Clone, PartialEq)]
pub struct DayRow {
    pub file_id: i64,
    pub day: String,
    pub block: String,
    pub meters: i64,
    pub readings: i64,
    pub last_slot_meters: i64,
    /// The landing file the block came from.
    pub path: String,
}

/// Every day block of the files still in force, oldest file first (a later file's readings
/// win where two overlap).
pub fn day_blocks(conn: &Connection) -> rusqlite::Result<Vec<DayRow>> {
    let mut st = conn.prepare(
        "SELECT d.file_id, d.day, d.block, d.meters, d.readings, d.last_slot_meters, f.path
         FROM file_days d JOIN files f ON f.id = d.file_id
         WHERE f.status = 'ingested' ORDER BY d.day, d.file_id",
    )?;
    let rows = st.query_map([], |r| {
        Ok(DayRow {
            file_id: r.get(0)?,
            day: r.get(1)?,
            block: r.get(2)?,
            meters: r.get(3)?,
            readings: r.get(4)?,
            last_slot_meters: r.get(5)?,
            path: r.get(6)?,
        })
    })?;
    rows.collect()
}

/// The meter index, by number.
pub fn meter_index(conn: &Connection) -> rusqlite::Result<Vec<(u32, Box<str>)>> {
    let mut st = conn.prepare("SELECT idx, meter_id FROM meter_index ORDER BY idx")?;
    let rows = st.query_map([], |r| {
        Ok((
            r.get::<_, u32>(0)?,
            Box::<str>::from(r.get_ref(1)?.as_str()?),
        ))
    })?;
    rows.collect()
}

/// Numbers `ids` from `first` on, in one transaction.
pub fn insert_meter_index<'a>(
    conn: &mut Connection,
    first: u32,
    ids: impl Iterator<Item = &'a str>,
) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    {
        let mut st = tx.prepare("INSERT INTO meter_index (idx, meter_id) VALUES (?1, ?2)")?;
        for (k, id) in ids.enumerate() {
            st.execute(params![first + k as u32, id])?;
        }
    }
    tx.commit()
}

/// The (day, block) of every block still in the first nightly's Parquet format.
pub fn parquet_blocks(conn: &Connection) -> rusqlite::Result<Vec<(String, String)>> {
    let mut st = conn.prepare(
        "SELECT DISTINCT day, block FROM file_days WHERE block LIKE '%.parquet' ORDER BY block",
    )?;
    let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

/// The newest night scored, if any.
pub fn last_night(conn: &Connection) -> rusqlite::Result<Option<(String, String)>> {
    conn.query_row(
        "SELECT night, run_dir FROM runs ORDER BY night DESC LIMIT 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
}

/// Inserts an event row.
pub fn event(tx: &Transaction<'_>, night: &str, kind: &str, detail: &str) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO events (night, kind, detail) VALUES (?1, ?2, ?3)",
        params![night, kind, detail],
    )?;
    Ok(())
}

/// Number of rows of `table` (tests and the summary).
pub fn count(conn: &Connection, table: &str) -> rusqlite::Result<i64> {
    conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_run_once_and_set_the_version() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("s.sqlite");
        let c = open(&p).unwrap();
        let v: i64 = c
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, latest_version());
        drop(c);
        // Re-opening does not re-run them (CREATE TABLE would fail).
        let c = open(&p).unwrap();
        assert_eq!(count(&c, "runs").unwrap(), 0);
        c.pragma_update(None, "user_version", 99).unwrap();
        drop(c);
        let e = crate::settings::message_chain(&open(&p).unwrap_err());
        assert!(e.contains("newer than this gridsleuth"), "{e}");
    }
}
