//! The same readings give the same matrix whatever the format (CSV.gz or Parquet), the row order
//! or the file order.

use std::io::Read;
use std::path::Path;

use crate::support::*;

const CSV: &str = "region/readings.csv.gz";
const PARQUET: &str = "region/readings.parquet";

/// The header and data lines of the gzip CSV sample.
fn region_lines() -> (String, Vec<String>) {
    let f = std::fs::File::open(sample(CSV)).unwrap();
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(f)
        .read_to_string(&mut text)
        .unwrap();
    let mut lines = text.lines().map(String::from);
    let header = lines.next().unwrap();
    (header, lines.filter(|l| !l.is_empty()).collect())
}

/// Fisher-Yates with xorshift64*: a fixed permutation for a fixed seed.
fn shuffle<T>(v: &mut [T], seed: u64) {
    let mut x = seed.max(1);
    for i in (1..v.len()).rev() {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        let r = x.wrapping_mul(0x2545_F491_4F6C_DD1D);
        v.swap(i, (r % (i as u64 + 1)) as usize);
    }
}

fn write_lines(path: &Path, header: &str, lines: &[String]) {
    let mut s = String::with_capacity(lines.len() * 40);
    s.push_str(header);
    s.push('\n');
    for l in lines {
        s.push_str(l);
        s.push('\n');
    }
    std::fs::write(path, s).unwrap();
}

#[test]
fn csv_gz_and_parquet_give_identical_matrices() {
    let a = load(&["-r", &sample(CSV)]);
    let b = load(&["-r", &sample(PARQUET)]);
    assert_eq!(counts(&a.quality), counts(&b.quality));
    assert_eq!(counts(&a.quality), (134_122, 134_122, 0, 0));
    assert_same_matrix(&a.matrix, &b.matrix, "csv.gz vs parquet");
    let m = &a.matrix;
    assert_eq!(m.n_meters(), 200);
    assert_eq!(m.grid.start, ts("2024-03-01T00:00:00Z"));
    assert_eq!((m.grid.interval_secs, m.grid.n_slots), (1800, 672));
    // The sample has gaps: NaN positions are part of the comparison.
    let missing = m.values().iter().filter(|v| v.is_nan()).count();
    assert_eq!(missing, 200 * 672 - 134_122);
    assert_eq!(m.present_slots(), 134_122);
    assert_eq!(a.native_interval, b.native_interval);
}

#[test]
fn meter_blocks_in_shuffled_order_and_split_files_give_identical_matrix() {
    // Each meter's rows stay in time order, but meters come in a shuffled order, split over
    // three files given in reverse order.
    let (header, lines) = region_lines();
    let mut blocks: Vec<Vec<String>> = Vec::new();
    for l in lines {
        let id = l.split(',').next().unwrap().to_string();
        match blocks.last_mut() {
            Some(b) if b[0].starts_with(&format!("{id},")) => b.push(l),
            _ => blocks.push(vec![l]),
        }
    }
    assert_eq!(blocks.len(), 200, "the sample is sorted by meter");
    shuffle(&mut blocks, 42);
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for (k, chunk) in blocks.chunks(70).enumerate() {
        let p = dir.path().join(format!("part{k}.csv"));
        let rows: Vec<String> = chunk.iter().flatten().cloned().collect();
        write_lines(&p, &header, &rows);
        paths.push(arg(&p));
    }
    paths.reverse();
    let mut argv = vec!["-r"];
    argv.extend(paths.iter().map(String::as_str));
    let shuffled = load(&argv);
    let original = load(&["-r", &sample(CSV)]);
    assert_eq!(counts(&shuffled.quality), (134_122, 134_122, 0, 0));
    assert_same_matrix(&original.matrix, &shuffled.matrix, "shuffled meter order");
}

#[test]
fn shuffled_rows_give_identical_matrix() {
    let (header, mut lines) = region_lines();
    shuffle(&mut lines, 20_240_301);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("shuffled.csv");
    write_lines(&p, &header, &lines);
    let shuffled = load(&["-r", &arg(&p)]);
    let original = load(&["-r", &sample(CSV)]);
    assert_eq!(counts(&shuffled.quality), (134_122, 134_122, 0, 0));
    assert_same_matrix(&original.matrix, &shuffled.matrix, "shuffled rows");
}

#[test]
fn matrix_parquet_round_trips_to_the_same_matrix() {
    // `--write-matrix` writes meter_id, timestamp (UTC), kwh: readable as long-form input.
    let run = gridsleuth(&["-r", &sample(PARQUET), "--write-matrix"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let p = run.path("matrix.parquet");
    let bytes = std::fs::read(&p).unwrap();
    assert!(bytes.len() > 8, "matrix.parquet is empty");
    assert_eq!(&bytes[..4], b"PAR1");
    assert_eq!(&bytes[bytes.len() - 4..], b"PAR1");
    let back = load(&["-r", &arg(&p)]);
    let original = load(&["-r", &sample(PARQUET)]);
    assert_eq!(counts(&back.quality), (134_122, 134_122, 0, 0));
    assert_same_matrix(&original.matrix, &back.matrix, "matrix.parquet round trip");
}
