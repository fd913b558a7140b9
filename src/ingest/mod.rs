//! Ingest: input files -> [`LoadMatrix`] + meter metadata + feeder/weather series + the
//! data-quality log. The only stage that reads files (and, with `output/`, touches polars).
//!
//! Readers (`long_csv`, `long_parquet`, `wide`, `nem12`) parse rows and call
//! [`Accumulator::push`]; the accumulator checks, places and finally builds the matrix. Readers
//! quarantine what they cannot parse; the accumulator quarantines what does not fit (window,
//! interval, duplicates, range). Counts reconcile in each [`QualityLog`].

pub mod accumulate;
pub mod budget;
pub mod error;
pub mod long_csv;
pub mod long_parquet;
pub mod meta;
pub mod nem12;
pub mod quality;
pub mod time;
pub mod value;
pub mod weather;
pub mod wide;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono_tz::Tz;

pub use accumulate::{Accumulator, AccumulatorConfig, PushUnit};
pub use budget::{BudgetError, MemoryBudget};
pub use error::IngestError;
pub use meta::{MeterInfo, MeterTable};
pub use quality::{QualityLog, Reason, RowLoc};
pub use time::{AmbiguousPolicy, GapPolicy, Stamp, TimeFormat, TimeParser};
pub use value::{NullTokens, ValueUnit, DEFAULT_NULL_TOKENS};
pub use weather::Weather;

use crate::grid::LoadMatrix;

/// Layout of long-form readings (`meter_id,timestamp,kwh` by default).
#[derive(Debug, Clone)]
pub struct LongFormat {
    pub meter_col: String,
    pub time_col: String,
    pub value_col: String,
    pub unit: ValueUnit,
    pub delimiter: u8,
    pub time: TimeSpec,
    pub nulls: NullTokens,
}

/// How timestamps are read: layout, zone for naive times, DST policies.
#[derive(Debug, Clone)]
pub struct TimeSpec {
    pub format: TimeFormat,
    pub tz: Tz,
    pub ambiguous: AmbiguousPolicy,
    pub gap: GapPolicy,
}

impl Default for TimeSpec {
    fn default() -> Self {
        TimeSpec {
            format: TimeFormat::Iso,
            tz: chrono_tz::UTC,
            ambiguous: AmbiguousPolicy::Sequential,
            gap: GapPolicy::Reject,
        }
    }
}

impl TimeSpec {
    pub fn parser(&self) -> TimeParser {
        TimeParser::new(self.format.clone(), self.tz, self.ambiguous, self.gap)
    }
}

impl LongFormat {
    pub fn time_parser(&self) -> TimeParser {
        self.time.parser()
    }
}

impl Default for LongFormat {
    fn default() -> Self {
        LongFormat {
            meter_col: "meter_id".into(),
            time_col: "timestamp".into(),
            value_col: "kwh".into(),
            unit: ValueUnit::Kwh,
            delimiter: b',',
            time: TimeSpec::default(),
            nulls: NullTokens::default(),
        }
    }
}

/// Layout of wide readings: one row per meter and day, one column per interval.
#[derive(Debug, Clone)]
pub struct WideFormat {
    pub id_col: String,
    pub date_col: String,
    /// chrono layout of the date column (e.g. `%Y-%m-%d`, `%d/%m/%y`).
    pub date_format: String,
    /// Optional column saying the whole row is estimated (`Yes`/`Y`/`true`/`1`/`E`).
    pub estimated_col: Option<String>,
    pub unit: ValueUnit,
    pub delimiter: u8,
    /// Zone and DST policy for the local day and its interval start times.
    pub time: TimeSpec,
    pub nulls: NullTokens,
}

impl Default for WideFormat {
    fn default() -> Self {
        WideFormat {
            id_col: "meter_id".into(),
            date_col: "date".into(),
            date_format: "%Y-%m-%d".into(),
            estimated_col: None,
            unit: ValueUnit::Kwh,
            delimiter: b',',
            time: TimeSpec::default(),
            nulls: NullTokens::default(),
        }
    }
}

/// NEM12 options.
#[derive(Debug, Clone)]
pub struct Nem12Format {
    /// Zone of NEM12 interval dates; AEMO's market time is AEST (UTC+10, no DST), hence
    /// `Australia/Brisbane` by default.
    pub tz: Tz,
}

impl Default for Nem12Format {
    fn default() -> Self {
        Nem12Format {
            tz: chrono_tz::Australia::Brisbane,
        }
    }
}

/// Which reader to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadingsFormat {
    /// By extension and content: `.parquet`/`.pq` Parquet, NEM12 by its 100/200 records,
    /// anything else long-form CSV (gzip allowed).
    Auto,
    Csv,
    Parquet,
    Wide,
    Nem12,
}

/// Everything ingest needs, already validated (see `settings`).
#[derive(Debug, Clone)]
pub struct IngestOptions {
    pub readings: Vec<PathBuf>,
    pub format: ReadingsFormat,
    pub long: LongFormat,
    pub wide: WideFormat,
    pub nem12: Nem12Format,
    pub acc: AccumulatorConfig,
    pub meters: Option<PathBuf>,
    /// Quarantine readings of meters absent from the meters file.
    pub require_known_meters: bool,
    pub feeders: Vec<PathBuf>,
    pub feeder_format: LongFormat,
    pub weather: Option<PathBuf>,
    pub weather_time: TimeSpec,
    pub show_progress: bool,
    /// Parquet readings: read only these row groups of each file (one chunk of meters of a
    /// streamed run, `crate::model::chunked`); `None` = all.
    pub row_groups: Option<std::ops::Range<usize>>,
}

/// Feeder/substation load on the meters' grid.
#[derive(Debug)]
pub struct FeederLoad {
    pub matrix: LoadMatrix,
    pub quality: QualityLog,
}

/// The result of ingest.
#[derive(Debug)]
pub struct Ingested {
    pub matrix: LoadMatrix,
    pub quality: QualityLog,
    /// Native interval (seconds) of each matrix row before aggregation to the grid.
    pub native_interval: Vec<u32>,
    /// The meters file and its log (shared: a streamed run's chunks hold one table read once).
    pub meters: Option<(Arc<MeterTable>, QualityLog)>,
    pub feeders: Option<FeederLoad>,
    pub weather: Option<(Weather, QualityLog)>,
    /// Whether the matrix was built in place (no copy) from the streamed rows.
    pub zero_copy: bool,
    pub timings: Vec<(&'static str, Duration)>,
}

/// A progress bar over input bytes, hidden when stderr is not a terminal.
#[derive(Debug)]
pub struct Progress(indicatif::ProgressBar);

impl Progress {
    pub fn new(total_bytes: u64, show: bool) -> Self {
        use std::io::IsTerminal;
        if !show || !std::io::stderr().is_terminal() {
            return Progress(indicatif::ProgressBar::hidden());
        }
        let bar = indicatif::ProgressBar::new(total_bytes);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} reading {bytes}/{total_bytes} [{bar:30}] {bytes_per_sec}, eta {eta}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        Progress(bar)
    }
    pub fn hidden() -> Self {
        Progress(indicatif::ProgressBar::hidden())
    }
    pub fn inc(&self, bytes: u64) {
        self.0.inc(bytes);
    }
    pub fn finish(&self) {
        self.0.finish_and_clear();
    }
}

/// Detects the reader for one file under `Auto`.
pub fn detect_format(path: &Path) -> Result<ReadingsFormat, IngestError> {
    let name = path.to_string_lossy().to_ascii_lowercase();
    if name.ends_with(".parquet") || name.ends_with(".pq") {
        return Ok(ReadingsFormat::Parquet);
    }
    use std::io::BufRead;
    let rdr = long_csv::open_maybe_gz(path)?;
    let mut lines = std::io::BufReader::new(rdr);
    let mut line = String::new();
    for _ in 0..5 {
        line.clear();
        match lines.read_line(&mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(_) => return Ok(ReadingsFormat::Csv),
        }
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        if t.starts_with("100,NEM12") || t.starts_with("200,") {
            return Ok(ReadingsFormat::Nem12);
        }
        break;
    }
    Ok(ReadingsFormat::Csv)
}

fn read_one(
    path: &Path,
    format: ReadingsFormat,
    opts: &IngestOptions,
    long: &LongFormat,
    acc: &mut Accumulator,
    progress: &Progress,
    row_groups: Option<std::ops::Range<usize>>,
) -> Result<(), IngestError> {
    let format = match format {
        ReadingsFormat::Auto => detect_format(path)?,
        f => f,
    };
    if row_groups.is_some() && format != ReadingsFormat::Parquet {
        return Err(IngestError::Read {
            path: path.to_path_buf(),
            message: "--row-groups reads a shard of a Parquet file; this file is not Parquet\n  \
                      fix: convert the readings to Parquet sorted by meter, or leave out --row-groups"
                .into(),
        });
    }
    match format {
        ReadingsFormat::Parquet => {
            long_parquet::read_long_parquet_groups(path, long, acc, progress, row_groups)
        }
        ReadingsFormat::Csv | ReadingsFormat::Auto => {
            long_csv::read_long_csv(path, long, acc, progress)
        }
        ReadingsFormat::Wide => wide::read_wide(path, &opts.wide, acc, progress),
        ReadingsFormat::Nem12 => nem12::read_nem12(path, &opts.nem12, acc, progress),
    }
}

fn total_bytes(paths: &[PathBuf]) -> u64 {
    paths
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

fn finish_error(e: accumulate::FinishError, what: &str) -> IngestError {
    match e {
        accumulate::FinishError::NoData { quality } => IngestError::Empty {
            what: what.into(),
            quality,
        },
        accumulate::FinishError::OverBudget(b) => IngestError::OverBudget(b),
        other => IngestError::Other(other.to_string()),
    }
}

/// The meters file read and validated once: its table, its log and, when readings of meters
/// outside it are quarantined, the set of its ids. [`load`] reads it itself; a streamed run
/// reads it once ([`read_meters_file`]) and loads every chunk with it ([`load_chunk`]).
#[derive(Debug, Clone)]
pub struct MetersFile {
    pub table: Arc<MeterTable>,
    pub quality: QualityLog,
    known: Option<Arc<rustc_hash::FxHashSet<Box<str>>>>,
}

/// Reads the meters file of `opts`, if any (within its memory budget).
pub fn read_meters_file(opts: &IngestOptions) -> Result<Option<MetersFile>, IngestError> {
    let Some(p) = &opts.meters else {
        return Ok(None);
    };
    let (table, quality) = meta::read_meters_within(p, opts.acc.budget)?;
    // Traced: a streamed run reads the file once, whatever its chunks (a test counts it).
    crate::output::atomic::barrier("ingest:meters-file");
    let known = opts
        .require_known_meters
        .then(|| Arc::new(table.ids().map(Into::into).collect()));
    Ok(Some(MetersFile {
        table: Arc::new(table),
        quality,
        known,
    }))
}

/// Runs the whole ingest stage.
pub fn load(opts: &IngestOptions) -> Result<Ingested, IngestError> {
    let t0 = Instant::now();
    let meters = read_meters_file(opts)?;
    load_with(opts, meters.as_ref(), true, t0)
}

/// One chunk of the readings of `opts` (its `row_groups`), with the meters file read once. The
/// meters log carries no note on meters without readings: over a streamed run, which meters have
/// none is known only after the last chunk (`app::stream` makes that note).
pub fn load_chunk(
    opts: &IngestOptions,
    meters: Option<&MetersFile>,
) -> Result<Ingested, IngestError> {
    load_with(opts, meters, false, Instant::now())
}

fn load_with(
    opts: &IngestOptions,
    meters: Option<&MetersFile>,
    note_missing: bool,
    t0: Instant,
) -> Result<Ingested, IngestError> {
    let mut timings = Vec::new();
    let mut cfg = opts.acc.clone();
    if let Some(m) = meters {
        cfg.known_meters.clone_from(&m.known);
    }
    let mut acc = Accumulator::new(cfg);
    let progress = Progress::new(total_bytes(&opts.readings), opts.show_progress);
    for path in &opts.readings {
        read_one(
            path,
            opts.format,
            opts,
            &opts.long,
            &mut acc,
            &progress,
            opts.row_groups.clone(),
        )?;
        if let Some(e) = acc.take_error() {
            return Err(IngestError::OverBudget(e));
        }
    }
    progress.finish();
    let finished = acc.finish().map_err(|e| finish_error(e, "readings"))?;
    let mut quality = finished.quality;
    quality.sort();
    timings.push(("read_readings", t0.elapsed()));
    let matrix = finished.matrix;

    let meters = meters.map(|m| {
        let mut q = m.quality.clone();
        if note_missing {
            m.table.note_missing(&matrix, &mut q);
        }
        (Arc::clone(&m.table), q)
    });

    let t1 = Instant::now();
    let feeders = if opts.feeders.is_empty() {
        None
    } else {
        let mut cfg = AccumulatorConfig {
            interval_secs: Some(matrix.grid.interval_secs),
            window: Some((matrix.grid.start, matrix.grid.end())),
            // A feeder carries many customers: no per-customer physical maximum.
            max_kw: f64::INFINITY,
            value_column: "kwh",
            ..opts.acc.clone()
        };
        cfg.known_meters = None;
        let mut facc = Accumulator::new(cfg);
        facc.quality.dataset = "feeders";
        for path in &opts.feeders {
            read_one(
                path,
                ReadingsFormat::Auto,
                opts,
                &opts.feeder_format,
                &mut facc,
                &Progress::hidden(),
                None,
            )?;
            if let Some(e) = facc.take_error() {
                return Err(IngestError::OverBudget(e));
            }
        }
        let f = facc.finish().map_err(|e| finish_error(e, "feeders"))?;
        let mut q = f.quality;
        q.sort();
        Some(FeederLoad {
            matrix: f.matrix,
            quality: q,
        })
    };
    let weather = match &opts.weather {
        Some(p) => Some(weather::read_weather(p, &opts.weather_time, &matrix.grid)?),
        None => None,
    };
    if feeders.is_some() || weather.is_some() {
        timings.push(("read_feeders_weather", t1.elapsed()));
    }
    Ok(Ingested {
        matrix,
        quality,
        native_interval: finished.native_interval,
        meters,
        feeders,
        weather,
        zero_copy: finished.zero_copy,
        timings,
    })
}
