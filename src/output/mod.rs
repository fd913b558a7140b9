//! Outputs of a run directory: the ingest summary (text for people, JSON for scripts), the
//! data-quality CSV (in `ingest::quality`), and the matrix as Parquet for analysts. Writers return
//! bytes or strings where practical so they are tested as text.

pub mod matrix;
pub mod run_dir;
pub mod summary;
