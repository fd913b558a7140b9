//! `gridsleuth ingest` ([`run_ingest`]) and `gridsleuth run` ([`run_detect`]) as library
//! functions: each takes validated options ([`IngestCommandOptions`], [`RunOptions`]; made by
//! `crate::settings` from flags and the config file, or built directly by a scheduler) and
//! returns an [`Outcome`] or an [`AppError`]. `crate::cli` dispatches the parsed command line
//! here and to the other commands' library functions; `main.rs` maps the result to an exit code.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::detect::DetectConfig;
use crate::grid_analysis::BalanceConfig;
use crate::ingest::{self, quality::write_quality_csv, IngestOptions, Ingested, QualityLog};
use crate::output::atomic::{barrier, StagedDir};
use crate::output::console::ConsoleError;
use crate::output::run_dir;
use crate::output::run_json::{
    ClusterSummary, RunCounts, RunInputs, RunJson, RunSettings, RUN_JSON,
};
use crate::output::summary::IngestReport;

mod stream;

/// Validated options of `gridsleuth ingest`.
#[derive(Debug, Clone)]
pub struct IngestCommandOptions {
    pub ingest: IngestOptions,
    /// Output folder (data_quality.csv, ingest.json, matrix.parquet).
    pub out: PathBuf,
    /// Also write the matrix as long-form Parquet.
    pub write_matrix: bool,
}

/// Validated options of `gridsleuth run`.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub ingest: IngestOptions,
    /// The run directory.
    pub out: PathBuf,
    /// Also write the matrix as long-form Parquet.
    pub write_matrix: bool,
    pub detect: DetectConfig,
    /// The feeder balance, run when feeders and meters' feeder ids are given.
    pub balance: BalanceConfig,
    /// Worker threads of the global pool (`None` = all cores; only the first call in a process
    /// configures it).
    pub threads: Option<usize>,
    /// Score with this model (`run --model FILE`: read and checked against these settings by
    /// `crate::settings`) instead of fitting one on the run's meters.
    pub model: Option<ModelInput>,
}

/// A model given to `run`, and where it was read from.
#[derive(Debug, Clone)]
pub struct ModelInput {
    pub path: PathBuf,
    pub model: crate::model::Model,
}

/// How a finished command went (the exit status).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything used: exit 0.
    Clean,
    /// Finished, but readings were quarantined: exit 1.
    Quarantined,
    /// `nightly`: nothing new to score: exit 3.
    NoNewData,
}

impl Outcome {
    /// The process exit code.
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Clean => 0,
            Outcome::Quarantined => 1,
            Outcome::NoNewData => 3,
        }
    }
}

/// A fatal error (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Ingest(#[from] ingest::IngestError),
    #[error("{path}: cannot write\n  fix: check that the output directory is writable (-o DIR)")]
    Write {
        path: std::path::PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(transparent)]
    Cluster(#[from] crate::cluster::ClusterError),
    #[error(transparent)]
    Synth(#[from] crate::synth::SynthError),
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
    #[error(transparent)]
    Eval(#[from] crate::eval::EvalError),
    #[error(transparent)]
    GridAnalysis(#[from] crate::grid_analysis::GridAnalysisError),
    #[error(transparent)]
    Console(#[from] ConsoleError),
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),
    #[error(transparent)]
    Chunked(#[from] crate::model::chunked::ChunkedError),
}

fn write_err(path: &Path, e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> AppError {
    AppError::Write {
        path: path.to_path_buf(),
        source: e.into(),
    }
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), AppError> {
    std::fs::write(path, bytes).map_err(|e| write_err(path, e))
}

fn quality_logs(ing: &Ingested) -> Vec<&QualityLog> {
    let mut logs = vec![&ing.quality];
    if let Some((_, q)) = &ing.meters {
        logs.push(q);
    }
    if let Some(f) = &ing.feeders {
        logs.push(&f.quality);
    }
    if let Some((_, q)) = &ing.weather {
        logs.push(q);
    }
    logs
}

/// Writes data_quality.csv and ingest.json; returns the report.
fn write_ingest_outputs(
    ing: &Ingested,
    out: &Path,
    write_matrix: bool,
) -> Result<IngestReport, AppError> {
    std::fs::create_dir_all(out).map_err(|e| write_err(out, e))?;
    let dq = out.join("data_quality.csv");
    write_quality_csv(&quality_logs(ing), &dq).map_err(|e| write_err(&dq, e))?;
    let report = IngestReport::of(ing);
    let json_path = out.join("ingest.json");
    let json = serde_json::to_vec_pretty(&report).map_err(|e| write_err(&json_path, e))?;
    write_file(&json_path, &json)?;
    if write_matrix {
        let p = out.join("matrix.parquet");
        crate::output::matrix::write_matrix_parquet(&ing.matrix, &p)
            .map_err(|e| write_err(&p, e))?;
    }
    Ok(report)
}

/// Loads into a staged folder (see [`commit_if_empty`]); `run` says how its readings could
/// stream when they are over the budget ([`not_streamed`]).
fn load_staged(
    opts: &IngestOptions,
    staged: StagedDir,
    run: bool,
) -> Result<(Ingested, StagedDir), AppError> {
    let loaded = ingest::load(opts).map_err(|e| if run { not_streamed(opts, e) } else { e });
    match loaded {
        Ok(ing) => Ok((ing, staged)),
        Err(e) => Err(commit_if_empty(staged, e.into())),
    }
}

/// A run that ends with no usable readings still leaves the record of why: the staged folder,
/// holding only `data_quality.csv`, is committed before the error is returned. Other errors
/// leave nothing (the staged folder is dropped).
fn commit_if_empty(staged: StagedDir, e: AppError) -> AppError {
    let AppError::Ingest(ingest::IngestError::Empty { what, mut quality }) = e else {
        return e;
    };
    quality.sort();
    let dq = staged.path().join("data_quality.csv");
    if let Err(e) = write_quality_csv(&[&quality], &dq) {
        return write_err(&dq, e);
    }
    let target = staged.target().to_path_buf();
    if let Err(e) = staged.commit() {
        return write_err(&target, e);
    }
    ingest::IngestError::Empty { what, quality }.into()
}

/// Starts writing an output folder (see [`crate::output::atomic`]).
pub fn begin_output(out: &Path) -> Result<StagedDir, AppError> {
    StagedDir::begin(out).map_err(|e| write_err(out, e))
}

/// Puts a complete output folder in place.
pub fn commit_output(staged: StagedDir) -> Result<(), AppError> {
    let target = staged.target().to_path_buf();
    staged.commit().map_err(|e| write_err(&target, e))
}

/// `gridsleuth ingest`.
pub fn run_ingest(
    args: &IngestCommandOptions,
    quiet: bool,
    out: &mut dyn Write,
) -> Result<Outcome, AppError> {
    let (ing, staged) = load_staged(&args.ingest, begin_output(&args.out)?, false)?;
    let report = write_ingest_outputs(&ing, staged.path(), args.write_matrix)?;
    commit_output(staged)?;
    if !quiet {
        let records: usize = quality_logs(&ing)
            .iter()
            .map(|l| l.issues().len() + l.unlisted().len())
            .sum();
        write!(out, "{}", report.text()).map_err(ConsoleError)?;
        writeln!(
            out,
            "wrote {} ({records} records), {}",
            args.out.join("data_quality.csv").display(),
            args.out.join("ingest.json").display()
        )
        .map_err(ConsoleError)?;
    }
    Ok(if report.any_quarantined() {
        Outcome::Quarantined
    } else {
        Outcome::Clean
    })
}

/// What [`write_run`] produced.
#[derive(Debug)]
pub struct RunWritten {
    pub report: IngestReport,
    pub detection: crate::detect::Detection,
    pub balance: Option<crate::grid_analysis::balance::BalanceReport>,
    pub flagged: usize,
}

/// Detects on loaded readings and writes the run files into `dir` (the staged folder): the
/// ingest outputs, scores.csv, suspects.csv, registered_miners.csv, features.parquet, the
/// balance files when feeders are given, run.json and report_data/. Not the report itself.
pub fn write_run(
    ing: &Ingested,
    args: &RunOptions,
    dir: &Path,
    t_ingest: std::time::Duration,
) -> Result<RunWritten, AppError> {
    let opts = &args.ingest;
    let dcfg = &args.detect;
    let report = write_ingest_outputs(ing, dir, args.write_matrix)?;
    barrier("run:ingest-outputs");
    let det = crate::detect::detect_with(ing, dcfg, args.model.as_ref().map(|m| &m.model))?;
    let t_write = Instant::now();
    let meters = ing.meters.as_ref().map(|(t, _)| &**t);
    let csv = |r: Result<Vec<u8>, csv::Error>, name: &str| -> Result<(), AppError> {
        let p = dir.join(name);
        write_file(&p, &r.map_err(|e| write_err(&p, e))?)?;
        barrier(&format!("run:{name}"));
        Ok(())
    };
    csv(run_dir::scores_csv(&ing.matrix, &det), "scores.csv")?;
    csv(
        run_dir::suspects_csv(&ing.matrix, &det, meters),
        "suspects.csv",
    )?;
    csv(
        run_dir::registered_csv(&ing.matrix, &det, meters),
        "registered_miners.csv",
    )?;
    let fp = dir.join("features.parquet");
    run_dir::write_features_parquet(&ing.matrix, &det, &fp).map_err(|e| write_err(&fp, e))?;
    barrier("run:features.parquet");
    // Feeder energy balance when feeders are given (bypassed rigs only the feeder sees).
    let t_balance = Instant::now();
    let balance =
        crate::grid_analysis::balance_for_run(ing, &args.balance, dir, &mut std::io::sink())?;
    let t_balance = t_balance.elapsed();
    let flagged = det.findings.iter().filter(|f| f.flagged).count();
    let mut timings: Vec<(&str, f64)> = vec![("ingest", t_ingest.as_secs_f64())];
    timings.extend(det.timings.iter().map(|(k, d)| (*k, d.as_secs_f64())));
    if balance.is_some() {
        timings.push(("balance", t_balance.as_secs_f64()));
    }
    timings.push(("write", t_write.elapsed().as_secs_f64()));
    let rj = dir.join(RUN_JSON);
    let counts = RunCounts {
        meters: ing.matrix.n_meters(),
        flagged,
        registered_miners: det.findings.iter().filter(|f| f.registered_miner).count(),
        registered_over_contract: det.findings.iter().filter(|f| f.over_contract).count(),
        feeders: balance.as_ref().map(|b| b.feeders.len()),
        feeders_flagged: balance
            .as_ref()
            .map(|b| b.feeders.iter().filter(|f| f.finding.flagged).count()),
    };
    let run_json = run_json_of(
        args,
        &report,
        det.clusters.as_ref(),
        counts,
        &timings,
        None,
        &rj,
    )?;
    write_file(&rj, &run_json.to_bytes().map_err(|e| write_err(&rj, e))?)?;
    barrier("run:run.json");
    crate::report::write_report_data(dir, ing, &det, opts.long.time.tz.name())?;
    barrier("run:report_data");
    // The model scored with: `run --model DIR/model.json` scores any subset of these meters
    // (or new ones on this grid) the same way.
    det.model.write(&dir.join(crate::model::MODEL_FILE))?;
    barrier("run:model.json");
    Ok(RunWritten {
        report,
        detection: det,
        balance,
        flagged,
    })
}

/// `run.json` of a run with `args` (see [`RunJson`]); `rj` is where it goes (named in errors).
fn run_json_of(
    args: &RunOptions,
    report: &IngestReport,
    clusters: Option<&crate::cluster::Clusters>,
    counts: RunCounts,
    timings: &[(&str, f64)],
    chunks: Option<usize>,
    rj: &Path,
) -> Result<RunJson, AppError> {
    let (opts, dcfg) = (&args.ingest, &args.detect);
    Ok(RunJson {
        version: env!("CARGO_PKG_VERSION").to_string(),
        inputs: RunInputs {
            readings: opts
                .readings
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
            meters: opts.meters.as_ref().map(|p| p.display().to_string()),
            feeders: opts
                .feeders
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
            weather: opts.weather.as_ref().map(|p| p.display().to_string()),
        },
        grid: report.grid.clone(),
        datasets: report.datasets.clone(),
        settings: RunSettings {
            tz: opts.long.time.tz.name().to_string(),
            cluster: serde_json::to_value(&dcfg.cluster).map_err(|e| write_err(rj, e))?,
            score: serde_json::to_value(&dcfg.score).map_err(|e| write_err(rj, e))?,
        },
        clusters: clusters.map(|c| ClusterSummary {
            method: c.method,
            sizes: c.sizes.clone(),
            rig_likeness: c.rig_likeness.clone(),
            inputs: crate::cluster::INPUTS
                .iter()
                .map(ToString::to_string)
                .collect(),
            centroids: c.centroids.iter().map(|r| r.to_vec()).collect(),
        }),
        counts,
        timings_secs: timings.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        chunks,
    })
}

/// Bytes a reading takes while its chunk is ingested and detected (the accumulator's rows and
/// index, the matrix, per-worker scratch): sizes the chunks of a streamed `fit` or `run` under
/// the memory budget. Measured: a 1M-meter run of 1.44 G readings peaks at 7.0 GB, about 5
/// bytes a reading with its outputs; 16 leaves room for the page cache and other processes.
pub const BYTES_PER_READING: u64 = 16;

/// Bytes a reading takes in an in-memory `fit` or `run`, to decide whether it streams: above
/// the ~5 measured (see [`BYTES_PER_READING`]) and the ~4 the ingest's own budget checks count
/// (a row cell and its share of the index), so a run that stays in memory is never refused by
/// them; below 16, so a region whose matrix fits (1M meters x 30 days half-hourly: 5.8 GB, 7 GB
/// at peak, under 75% of 24 GB) is read once, not twice.
pub const IN_MEMORY_BYTES_PER_READING: u64 = 8;

/// A streamed `fit`'s or `run`'s chunks of at most the budget at [`BYTES_PER_READING`], when
/// the readings (Parquet, one file or several, no `--row-groups`) take more than the memory
/// budget at [`IN_MEMORY_BYTES_PER_READING`]; `None` when they fit in memory, or are not
/// Parquet (CSV, wide and NEM12 files have no row groups to read a chunk of meters from: they
/// are read in memory, and a read over the budget says so, see [`not_streamed`]).
fn stream_chunks(
    opts: &IngestOptions,
) -> Result<Option<crate::model::chunked::ParquetChunks>, AppError> {
    if opts.readings.is_empty() || opts.row_groups.is_some() || !all_parquet(opts) {
        return Ok(None);
    }
    let mut rows = 0usize;
    for path in &opts.readings {
        rows = rows.saturating_add(ingest::long_parquet::row_group_rows(path)?.iter().sum());
    }
    let budget = opts.acc.budget.bytes;
    if (rows as u64).saturating_mul(IN_MEMORY_BYTES_PER_READING) <= budget {
        return Ok(None);
    }
    let max_rows = usize::try_from(budget / BYTES_PER_READING).unwrap_or(usize::MAX);
    Ok(Some(crate::model::chunked::ParquetChunks::plan(
        opts, max_rows,
    )?))
}

/// Whether every readings file is read as Parquet.
fn all_parquet(opts: &IngestOptions) -> bool {
    match opts.format {
        ingest::ReadingsFormat::Parquet => true,
        ingest::ReadingsFormat::Auto => opts.readings.iter().all(|p| {
            matches!(
                ingest::detect_format(p),
                Ok(ingest::ReadingsFormat::Parquet)
            )
        }),
        _ => false,
    }
}

/// An in-memory `fit` or `run` over its memory budget: when its readings could not stream (not
/// Parquet, or `--row-groups`), the fix says how they could.
fn not_streamed(opts: &IngestOptions, e: ingest::IngestError) -> ingest::IngestError {
    let ingest::IngestError::OverBudget(mut b) = e else {
        return e;
    };
    if opts.row_groups.is_some() {
        b.fix.push_str(
            "; or read fewer row groups at once (--row-groups: a shard of meters, scored with \
             `run --model`)",
        );
    } else if !all_parquet(opts) {
        b.fix.push_str(
            "; or convert the readings to Parquet sorted by meter (e.g. with polars: \
             pl.scan_csv(\"readings.csv\").sort(\"meter_id\", \"timestamp\")\
             .sink_parquet(\"readings.parquet\", row_group_size=1_000_000)): `fit` and `run` \
             stream Parquet readings over the budget in chunks of row groups, but read CSV, \
             wide and NEM12 files whole",
        );
    }
    ingest::IngestError::OverBudget(b)
}

/// `gridsleuth fit`: fits the model (peer levels and signals, the clustering, the settings) on
/// every meter and writes it to `args.out` (a file, atomically). When the readings do not fit
/// the memory budget, fits in a first pass over chunks of meters (`model::chunked`), with the
/// same result. Writes nothing else: scoring with it is `run --model`.
pub fn run_fit(args: &RunOptions, quiet: bool, out: &mut dyn Write) -> Result<Outcome, AppError> {
    if let Some(n) = args.threads {
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global();
    }
    let (model, text, quarantined) = match stream_chunks(&args.ingest)? {
        Some(mut chunks) => {
            let f = crate::model::chunked::fit_chunked(&mut chunks, &args.detect)?;
            let text = format!(
                "streamed: {} chunks of row groups (the readings take more than the memory budget \
                 of {} at {IN_MEMORY_BYTES_PER_READING} bytes a reading)\n",
                f.chunks,
                ingest::budget::bytes_text(args.ingest.acc.budget.bytes)
            );
            (f.model, text, f.quarantined)
        }
        None => {
            let ing = ingest::load(&args.ingest).map_err(|e| not_streamed(&args.ingest, e))?;
            let report = IngestReport::of(&ing);
            let det = crate::detect::detect(&ing, &args.detect)?;
            (det.model, report.text(), report.any_quarantined())
        }
    };
    model.write(&args.out)?;
    if !quiet {
        write!(out, "{text}").map_err(ConsoleError)?;
        writeln!(
            out,
            "fitted a model on {} meters ({} peer groups, {} clusters); wrote {}",
            model.meters,
            model.peer_groups.len(),
            model.cluster.as_ref().map_or(0, |c| c.sizes.len()),
            args.out.display()
        )
        .map_err(ConsoleError)?;
    }
    Ok(if quarantined {
        Outcome::Quarantined
    } else {
        Outcome::Clean
    })
}

/// `gridsleuth run`.
pub fn run_detect(
    args: &RunOptions,
    quiet: bool,
    out: &mut dyn Write,
) -> Result<Outcome, AppError> {
    if let Some(n) = args.threads {
        // Only the first call configures the global pool; later ones keep it.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global();
    }
    // Over the memory budget: detection streams over chunks of meters (`app::stream`).
    if let Some(chunks) = stream_chunks(&args.ingest)? {
        return stream::run_streamed(args, chunks, quiet, out);
    }
    let t0 = Instant::now();
    let (ing, staged) = load_staged(&args.ingest, begin_output(&args.out)?, true)?;
    let t_ingest = t0.elapsed();
    let written = write_run(&ing, args, staged.path(), t_ingest)?;
    let RunWritten {
        report,
        detection: det,
        balance,
        flagged,
    } = written;
    if !quiet {
        write!(out, "{}", report.text()).map_err(ConsoleError)?;
        writeln!(
            out,
            "scored {} meters: {flagged} flagged",
            ing.matrix.n_meters()
        )
        .map_err(ConsoleError)?;
        let mut top: Vec<&crate::score::Finding> =
            det.findings.iter().filter(|f| f.flagged).collect();
        top.sort_by_key(|f| f.rank);
        for f in top.iter().take(10) {
            writeln!(
                out,
                "  #{:<3} {:<12} score {:.2}  ~{:.1} kW  {}",
                f.rank.unwrap_or(0),
                ing.matrix.meter_ids()[f.meter],
                f.score,
                f.rig_kw,
                f.reasons.first().map_or("", String::as_str)
            )
            .map_err(ConsoleError)?;
        }
        if let Some(b) = &balance {
            write!(out, "{}", crate::grid_analysis::commands::balance_text(b))
                .map_err(ConsoleError)?;
        }
    }
    // The report reads the run directory, not the matrix: free it first (the peak stays the
    // detection's). The detection's million small allocations (findings, their reasons) are
    // freed on another thread while the report renders (at 1M meters, about a second).
    drop(ing);
    let freeing = std::thread::spawn(move || drop((det, balance)));
    let done = finish_run(staged, quiet, out, report.any_quarantined());
    // A panic while freeing is not the run's outcome: the run is written and committed.
    let _ = freeing.join();
    done
}

/// The last steps of a run, in memory or streamed: the report rendered from the staged run
/// directory, the directory committed into place, what was written said (unless `quiet`), and
/// the outcome.
pub(crate) fn finish_run(
    staged: StagedDir,
    quiet: bool,
    out: &mut dyn Write,
    any_quarantined: bool,
) -> Result<Outcome, AppError> {
    let target = staged.target().to_path_buf();
    let ropts = crate::report::ReportOptions {
        title: Some(staged.name()),
        ..crate::report::ReportOptions::default()
    };
    let mut rendered = crate::report::render(staged.path(), &ropts)?;
    // Said where it will be, not where it was written.
    rendered.index = target.join("report").join("index.html");
    barrier("run:report");
    commit_output(staged)?;
    if !quiet {
        writeln!(out, "wrote {}", target.display()).map_err(ConsoleError)?;
        writeln!(out, "{}", rendered.text()).map_err(ConsoleError)?;
    }
    Ok(if any_quarantined {
        Outcome::Quarantined
    } else {
        Outcome::Clean
    })
}
