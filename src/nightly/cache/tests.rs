//! The day cache's tests: files split, written, assembled back; overrides, damage, upgrades.

use std::fs::File;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use chrono_tz::Tz;
use polars::prelude::*;

use super::*;
use crate::grid::{LoadMatrix, TimeGrid};
use crate::nightly::db;

fn london() -> Tz {
    "Europe/London".parse().unwrap()
}

fn june(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 6, d).unwrap()
}

/// A state folder's database and an empty meter index.
fn state() -> (tempfile::TempDir, rusqlite::Connection, MeterIndex) {
    let dir = tempfile::tempdir().unwrap();
    let conn = db::open(&crate::nightly::db_path(dir.path())).unwrap();
    let index = MeterIndex::load(&conn).unwrap();
    (dir, conn, index)
}

fn write(
    b: &DayBlock,
    conn: &mut rusqlite::Connection,
    index: &mut MeterIndex,
    p: &Path,
) -> (NaiveDate, PathBuf) {
    let idx = index.register(conn, &b.ids).unwrap();
    write_block(b, &idx, p).unwrap();
    (b.day, p.to_path_buf())
}

fn same(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

/// Two meters over two local days (UTC+1: 23:00 UTC is local midnight), one reading
/// missing, one estimated.
fn two_days() -> (LoadMatrix, Vec<f32>) {
    let grid = TimeGrid {
        start: day_start(june(1), london()),
        interval_secs: 1800,
        n_slots: 96,
    };
    let ids: Vec<Box<str>> = vec!["a".into(), "b".into()];
    let mut values: Vec<f32> = (0..192).map(|i| i as f32 / 10.0).collect();
    values[5] = f32::NAN;
    let mut est = vec![0u64; 3];
    est[0] |= 1 << 7;
    est[1] |= 1 << (100 - 64);
    let m = LoadMatrix::from_parts(grid, ids, values.clone(), est).unwrap();
    (m, values)
}

#[test]
fn a_split_then_assembled_matrix_is_the_same_matrix() {
    let (m, values) = two_days();
    let days = split_days(&m, &[1800, 900], london()).unwrap();
    assert_eq!(days.len(), 2);
    assert_eq!(days[0].n_slots, 48);
    let (dir, mut conn, mut index) = state();
    let blocks: Vec<_> = days
        .iter()
        .map(|b| {
            let p = dir.path().join(block_rel(b.day, "0123456789abcdef0123"));
            write(b, &mut conn, &mut index, &p)
        })
        .collect();
    assert!(blocks[0]
        .1
        .to_string_lossy()
        .ends_with("/0123456789abcdef.day"));
    let (back, native) = assemble(&blocks, june(1), june(2), 1800, london(), &index).unwrap();
    assert_eq!(back.grid, m.grid);
    assert_eq!(native, vec![1800, 900]);
    assert!(same(back.values(), &values));
    for i in 0..2 {
        for s in 0..96 {
            assert_eq!(back.is_estimated(i, s), m.is_estimated(i, s), "{i} {s}");
        }
    }
    // The index reloaded from the database reads the blocks the same.
    let again = MeterIndex::load(&conn).unwrap();
    let (back2, _) = assemble(&blocks, june(1), june(2), 1800, london(), &again).unwrap();
    assert!(same(back2.values(), &values));
}

#[test]
fn a_block_reads_the_same_after_later_meters_are_numbered() {
    // Night 1 brings meter "m"; night 2 brings "a" and "z" (numbered after "m", sorted
    // around it). The matrix rows are in id order whatever the numbers.
    let (dir, mut conn, mut index) = state();
    let block = |day, ids: &[&str], v: f32| DayBlock {
        day,
        n_slots: 48,
        ids: ids.iter().map(|s| Box::from(*s)).collect(),
        native: vec![1800; ids.len()],
        values: (0..ids.len() * 48).map(|k| v + (k / 48) as f32).collect(),
        estimated: Vec::new(),
    };
    let b1 = block(june(1), &["m"], 1.0);
    let b2 = block(june(2), &["a", "m", "z"], 10.0);
    let p1 = write(&b1, &mut conn, &mut index, &dir.path().join("1.day"));
    let p2 = write(&b2, &mut conn, &mut index, &dir.path().join("2.day"));
    assert_eq!(index.id(0), Some("m"));
    let (m, _) = assemble(&[p1, p2], june(1), june(2), 1800, london(), &index).unwrap();
    let ids: Vec<&str> = m.meter_ids().iter().map(|s| &**s).collect();
    assert_eq!(ids, ["a", "m", "z"]);
    assert!(m.row(0)[..48].iter().all(|v| v.is_nan()));
    assert!(m.row(0)[48..].iter().all(|&v| v == 10.0));
    assert!(m.row(1)[..48].iter().all(|&v| v == 1.0));
    assert!(m.row(1)[48..].iter().all(|&v| v == 11.0));
    assert!(m.row(2)[48..].iter().all(|&v| v == 12.0));
    // A window of day 2 alone has no row for a meter only day 1 had ... and all three here.
    let (m2, _) = assemble(
        &[(june(2), dir.path().join("2.day"))],
        june(2),
        june(2),
        1800,
        london(),
        &index,
    )
    .unwrap();
    assert_eq!(m2.n_meters(), 3);
    let (m1, _) = assemble(
        &[(june(1), dir.path().join("1.day"))],
        june(1),
        june(1),
        1800,
        london(),
        &index,
    )
    .unwrap();
    assert_eq!(m1.n_meters(), 1);
}

#[test]
fn a_later_block_of_the_same_day_overrides_where_it_has_readings() {
    let (dir, mut conn, mut index) = state();
    let mut early = DayBlock {
        day: june(1),
        n_slots: 48,
        ids: vec!["a".into()],
        native: vec![1800],
        values: vec![1.0; 48],
        estimated: vec![true; 48],
    };
    let p1 = write(&early, &mut conn, &mut index, &dir.path().join("1.day"));
    early.values = vec![f32::NAN; 48];
    early.values[3] = 2.0;
    early.estimated = vec![false; 48];
    let p2 = write(&early, &mut conn, &mut index, &dir.path().join("2.day"));
    let (m, _) = assemble(&[p1, p2], june(1), june(1), 1800, london(), &index).unwrap();
    assert_eq!(m.row(0)[3], 2.0);
    assert!(!m.is_estimated(0, 3));
    assert_eq!(m.row(0)[4], 1.0);
    assert!(m.is_estimated(0, 4));
}

#[test]
fn a_damaged_block_is_an_error_naming_it() {
    let (dir, mut conn, mut index) = state();
    let (m, _) = two_days();
    let days = split_days(&m, &[1800, 1800], london()).unwrap();
    let p = dir.path().join("x.day");
    let blk = write(&days[0], &mut conn, &mut index, &p);
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() - 4]).unwrap();
    let e = assemble(
        std::slice::from_ref(&blk),
        june(1),
        june(1),
        1800,
        london(),
        &index,
    )
    .unwrap_err();
    let e = crate::settings::message_chain(&e);
    assert!(
        e.contains("x.day") && e.contains("damaged") && e.contains("fix:"),
        "{e}"
    );
    std::fs::write(&p, b"not a block at all, longer than a header").unwrap();
    let e = assemble(&[blk], june(1), june(1), 1800, london(), &index).unwrap_err();
    assert!(e.to_string().contains("not a gridsleuth day block"), "{e}");
}

/// The first nightly's block format, for the upgrade test.
fn write_parquet_block(b: &DayBlock, path: &Path) {
    let n = b.n_slots;
    let mut cols: Vec<Column> = vec![
        Column::new(
            "meter_id".into(),
            b.ids.iter().map(|s| &**s).collect::<Vec<&str>>(),
        ),
        Column::new("native_interval".into(), b.native.clone()),
    ];
    for k in 0..n {
        let v: Vec<f32> = (0..b.ids.len()).map(|i| b.values[i * n + k]).collect();
        cols.push(Column::new(format!("s{k}").into(), v));
    }
    if !b.estimated.is_empty() {
        for k in 0..n {
            let v: Vec<bool> = (0..b.ids.len()).map(|i| b.estimated[i * n + k]).collect();
            cols.push(Column::new(format!("e{k}").into(), v));
        }
    }
    let mut df = DataFrame::new_infer_height(cols).unwrap();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    ParquetWriter::new(File::create(path).unwrap())
        .finish(&mut df)
        .unwrap();
}

#[test]
fn parquet_blocks_of_the_first_nightly_are_converted_once() {
    let (dir, mut conn, mut index) = state();
    let (m, values) = two_days();
    let days = split_days(&m, &[1800, 1800], london()).unwrap();
    conn.execute(
        "INSERT INTO files (id, path, size, mtime, checksum, rows, status, night)
             VALUES (1, 'f.csv', 1, 1, 'abc', 192, 'ingested', '2024-06-02')",
        [],
    )
    .unwrap();
    for b in &days {
        let rel = format!("cache/{}/abc.parquet", b.day);
        write_parquet_block(b, &dir.path().join(&rel));
        conn.execute(
            "INSERT INTO file_days (file_id, day, block, meters, readings, last_slot_meters)
                 VALUES (1, ?1, ?2, 2, 96, 2)",
            rusqlite::params![b.day.to_string(), rel],
        )
        .unwrap();
    }
    assert_eq!(
        upgrade_parquet_blocks(&mut conn, dir.path(), &mut index).unwrap(),
        2
    );
    assert_eq!(
        upgrade_parquet_blocks(&mut conn, dir.path(), &mut index).unwrap(),
        0
    );
    let rows = db::day_blocks(&conn).unwrap();
    assert!(
        rows.iter().all(|r| r.block.ends_with("/abc.day")),
        "{rows:?}"
    );
    assert!(!dir.path().join("cache/2024-06-01/abc.parquet").exists());
    let blocks: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                NaiveDate::parse_from_str(&r.day, "%Y-%m-%d").unwrap(),
                dir.path().join(&r.block),
            )
        })
        .collect();
    let (back, _) = assemble(&blocks, june(1), june(2), 1800, london(), &index).unwrap();
    assert!(same(back.values(), &values));
    assert!(back.is_estimated(0, 7) && back.is_estimated(1, 4));
}
