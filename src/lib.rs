//! gridsleuth finds hidden crypto-mining rigs in electricity load data.
//!
//! The pipeline: **ingest** streams readings (long CSV/Parquet, wide, NEM12) into a
//! [`grid::LoadMatrix`], meters x time slots of kWh on one UTC grid, quarantining every bad
//! reading with its reason in a [`ingest::QualityLog`] whose counts reconcile. Later stages
//! (features, clustering, scoring, reports) read the matrix, never the files.
//!
//! Modules, in pipeline order:
//! - [`settings`]: flags + TOML config -> validated options (the only place settings resolve).
//! - [`ingest`]: readers, time zones and DST, the streaming accumulator, data quality.
//! - [`grid`]: [`grid::LoadMatrix`] and [`grid::TimeGrid`].
//! - [`output`]: summary text/JSON, matrix Parquet.
//! - [`app`]: the subcommands, usable without the binary.
//! - [`cli`]: clap definitions.

pub mod app;
pub mod cli;
pub mod cluster;
pub mod detect;
pub mod eval;
pub mod features;
pub mod grid;
pub mod grid_analysis;
pub mod ingest;
pub mod output;
pub mod plot;
pub mod report;
pub mod score;
pub mod settings;
pub mod synth;
