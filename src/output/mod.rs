//! Outputs of a run directory: the ingest summary (text for people, JSON for scripts), the
//! data-quality CSV (in `ingest::quality`), and the matrix as Parquet for analysts. Writers return
//! bytes or strings where practical so they are tested as text.

pub mod atomic;
pub mod console;
pub mod matrix;

/// A number for a CSV cell: fixed decimals (byte-stable output), `-0` printed as `0`, empty
/// when not finite.
pub fn csv_num(v: f64, decimals: usize) -> String {
    if v.is_finite() {
        format!("{:.decimals$}", v + 0.0)
    } else {
        String::new()
    }
}

pub mod run_dir;
pub mod run_json;
pub mod summary;
