//! `gridsleuth run` when the readings do not fit the memory budget: detection streams over
//! chunks of consecutive row groups (`model::chunked`) into one run directory, written
//! atomically like every run, with the files of the in-memory run.
//!
//! Pass 1 fits the model ([`chunked::fit_chunked`]; skipped with `--model`). Pass 2 reads each
//! chunk onto the model's grid, detects with the model, and appends the chunk's rows to the
//! outputs as it goes: `features.parquet` (one Parquet batch a chunk), `registered_miners.csv`,
//! `report_data/segments.csv`, and `scores.csv` without its ranks (a temporary file in the
//! staged folder). What it keeps across chunks is small: each meter's score (16 bytes, for the
//! ranks), the quality logs (records capped per reason), the grid's coverage sums, and each
//! flagged meter's finding, metadata and series (what `suspects.csv` and `report_data/` hold;
//! ~6 kB a flagged meter at 30 days half-hourly). At the end it ranks every meter as the
//! in-memory run does (score, then matrix order), writes `scores.csv` with the ranks, the
//! suspects in rank order, `data_quality.csv`, `ingest.json`, `run.json` (with the chunk count)
//! and `model.json`, then renders the report from the run directory.
//!
//! The meters file is read and checked once for both passes (`ParquetChunks::plan`); which of
//! its meters have no readings is noted after the last chunk. A chunk none of whose readings is
//! usable (all quarantined) adds only its readings log, and a run where no chunk has any fails
//! as the in-memory run does, leaving `data_quality.csv`.
//!
//! Not streamed (refused with a fix): the feeder balance (it sums every meter of a feeder) and
//! `--write-matrix`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use polars::prelude::*;

use super::{
    begin_output, commit_if_empty, run_json_of, write_err, write_file, AppError, Outcome,
    RunOptions, IN_MEMORY_BYTES_PER_READING,
};
use crate::detect::Detection;
use crate::ingest::quality::write_quality_csv;
use crate::ingest::{self, Ingested, MeterTable, MetersFile, QualityLog};
use crate::model::chunked::{self, ChunkedError, Chunks, ParquetChunks, Scored};
use crate::output::atomic::barrier;
use crate::output::console::ConsoleError;
use crate::output::run_dir;
use crate::output::run_json::{RunCounts, RUN_JSON};
use crate::output::summary::{DatasetCounts, GridTally, IngestReport};
use crate::report::data::{self as rdata, ReportData, Series, SuspectRecord};

/// `scores.csv` without ranks, while the chunks go by (inside the staged folder).
const PARTIAL_SCORES: &str = ".scores-unranked.csv";

/// A flagged meter, kept until every meter is ranked.
struct Kept {
    /// Index over the whole run (matrix order of the in-memory run).
    meter: usize,
    /// Its `suspects.csv` row (rank first, filled at the end).
    row: [String; 12],
    record: SuspectRecord,
    series: Series,
}

/// Refuses what a streamed run does not do.
fn refuse_unstreamed(args: &RunOptions) -> Result<(), ChunkedError> {
    let over = format!(
        "the readings take more than the memory budget of {} at {IN_MEMORY_BYTES_PER_READING} bytes a \
         reading, so `run` streams them in chunks of meters",
        ingest::budget::bytes_text(args.ingest.acc.budget.bytes)
    );
    if !args.ingest.feeders.is_empty() {
        return Err(ChunkedError::Chunks {
            what: format!("{over}, and the feeder balance needs every meter of a feeder at once"),
            fix: "run without the feeder files (drop `feeders` from the config, no --feeders) \
                  and balance the feeders with `gridsleuth balance`, or raise --memory-budget"
                .into(),
        });
    }
    if args.write_matrix {
        return Err(ChunkedError::Chunks {
            what: format!("{over}, and --write-matrix writes the whole matrix"),
            fix: "drop --write-matrix (or write it with `gridsleuth ingest`), or raise \
                  --memory-budget"
                .into(),
        });
    }
    Ok(())
}

/// Everything pass 2 carries from chunk to chunk.
struct Streamed {
    dir: PathBuf,
    tz: String,
    scores: csv::Writer<std::fs::File>,
    registered: csv::Writer<std::fs::File>,
    segments: csv::Writer<std::fs::File>,
    features: Option<polars::io::parquet::write::BatchedWriter<std::fs::File>>,
    /// Per meter: its score and whether it is a registered miner (never ranked).
    score_of: Vec<(f64, bool)>,
    kept: Vec<Kept>,
    readings_log: Option<QualityLog>,
    /// The meters file (read once) and its log.
    meters: Option<(std::sync::Arc<MeterTable>, QualityLog)>,
    /// Meters-file rows (id order) seen with readings.
    meter_seen: Vec<bool>,
    weather_log: Option<QualityLog>,
    weather_slots_known: Option<usize>,
    tally: GridTally,
    grid: Option<crate::grid::TimeGrid>,
    ingest_timings: BTreeMap<&'static str, f64>,
    zero_copy: bool,
    stages: Vec<(&'static str, Duration)>,
    clusters: Option<crate::cluster::Clusters>,
    registered_miners: usize,
    over_contract: usize,
}

impl Streamed {
    fn new(dir: &Path, tz: &str, meters: Option<&MetersFile>) -> Result<Self, AppError> {
        let open = |p: PathBuf, header: &[&str]| -> Result<csv::Writer<std::fs::File>, AppError> {
            let mut w = csv::Writer::from_path(&p).map_err(|e| write_err(&p, e))?;
            if !header.is_empty() {
                w.write_record(header).map_err(|e| write_err(&p, e))?;
            }
            Ok(w)
        };
        let data = dir.join(rdata::DATA_DIR);
        std::fs::create_dir_all(&data).map_err(|e| write_err(&data, e))?;
        Ok(Streamed {
            dir: dir.to_path_buf(),
            tz: tz.to_string(),
            scores: open(dir.join(PARTIAL_SCORES), &[])?,
            registered: open(
                dir.join("registered_miners.csv"),
                &run_dir::REGISTERED_HEADER,
            )?,
            segments: open(data.join(rdata::SEGMENTS_CSV), &rdata::SEGMENTS_HEADER)?,
            features: None,
            score_of: Vec::new(),
            kept: Vec::new(),
            readings_log: None,
            meters: meters.map(|m| (std::sync::Arc::clone(&m.table), m.quality.clone())),
            meter_seen: vec![false; meters.map_or(0, |m| m.table.len())],
            weather_log: None,
            weather_slots_known: None,
            tally: GridTally::default(),
            grid: None,
            ingest_timings: BTreeMap::new(),
            zero_copy: true,
            stages: Vec::new(),
            clusters: None,
            registered_miners: 0,
            over_contract: 0,
        })
    }

    /// Appends a chunk's rows to the outputs and keeps what the end needs.
    fn add(&mut self, ing: Ingested, mut det: Detection) -> Result<(), AppError> {
        let dir = self.dir.clone();
        let first = self.score_of.len();
        let meters = ing.meters.as_ref().map(|(t, _)| &**t);
        // Ranks are the whole run's, set at the end.
        let records = rdata::suspect_records(&ing, &det, &self.tz);
        for f in &mut det.findings {
            f.rank = None;
        }
        let p = dir.join(PARTIAL_SCORES);
        run_dir::write_scores_rows(&mut self.scores, &ing.matrix, &det)
            .map_err(|e| write_err(&p, e))?;
        let p = dir.join("registered_miners.csv");
        run_dir::write_registered_rows(&mut self.registered, &ing.matrix, &det, meters)
            .map_err(|e| write_err(&p, e))?;
        let p = dir.join(rdata::DATA_DIR).join(rdata::SEGMENTS_CSV);
        rdata::write_segment_rows(&mut self.segments, &ing).map_err(|e| write_err(&p, e))?;
        let p = dir.join("features.parquet");
        let frame = run_dir::features_frame(&ing.matrix, &det).map_err(|e| write_err(&p, e))?;
        if self.features.is_none() {
            let file = std::fs::File::create(&p).map_err(|e| write_err(&p, e))?;
            let w = ParquetWriter::new(file)
                .with_compression(ParquetCompression::Zstd(None))
                .batched(frame.schema())
                .map_err(|e| write_err(&p, e))?;
            self.features = Some(w);
        }
        if let Some(w) = self.features.as_mut() {
            w.write_batch(&frame).map_err(|e| write_err(&p, e))?;
        }
        drop(frame);
        // The flagged meters: their suspects.csv rows, report records and series.
        let by_id: BTreeMap<&str, &crate::score::Finding> = det
            .findings
            .iter()
            .filter(|f| f.flagged)
            .map(|f| (&*ing.matrix.meter_ids()[f.meter], f))
            .collect();
        for record in records.suspects {
            let Some(f) = by_id.get(record.meter_id.as_str()) else {
                continue;
            };
            self.kept.push(Kept {
                meter: first + f.meter,
                row: run_dir::suspect_row(&ing.matrix, f, meters),
                series: rdata::series_of(&ing.matrix, f.meter),
                record,
            });
        }
        drop(by_id);
        self.score_of
            .extend(det.findings.iter().map(|f| (f.score, f.registered_miner)));
        self.registered_miners += det.findings.iter().filter(|f| f.registered_miner).count();
        self.over_contract += det.findings.iter().filter(|f| f.over_contract).count();
        for (name, d) in &det.timings {
            match self.stages.iter_mut().find(|(n, _)| n == name) {
                Some((_, t)) => *t += *d,
                None => self.stages.push((name, *d)),
            }
        }
        if self.clusters.is_none() {
            self.clusters = det.clusters.take();
        }
        // Ingest: the grid's sums and the quality logs over the chunks.
        self.tally.add(&ing.matrix, &ing.native_interval);
        self.grid = Some(ing.matrix.grid);
        for (name, d) in &ing.timings {
            *self.ingest_timings.entry(name).or_default() += d.as_secs_f64();
        }
        self.zero_copy &= ing.zero_copy;
        if let Some((table, _)) = &self.meters {
            for id in ing.matrix.meter_ids() {
                if let Some(r) = table.position(id) {
                    self.meter_seen[r] = true;
                }
            }
        }
        if let Some((w, q)) = &ing.weather {
            if self.weather_log.is_none() {
                self.weather_log = Some(q.clone());
                self.weather_slots_known =
                    Some(w.temperature_c.iter().filter(|v| !v.is_nan()).count());
            }
        }
        chunked::absorb(&mut self.readings_log, ing.quality);
        barrier("run:chunk");
        Ok(())
    }

    /// A chunk without usable readings: only its readings log counts.
    fn add_empty(&mut self, quality: QualityLog) {
        chunked::absorb(&mut self.readings_log, quality);
        barrier("run:chunk");
    }
}

/// Ranks as the in-memory run does (`score::score_all`): unregistered meters by score, highest
/// first, ties by matrix order; 0 for registered miners.
fn ranks(score_of: &[(f64, bool)]) -> Vec<u32> {
    let mut order: Vec<u32> = (0..score_of.len() as u32)
        .filter(|&i| !score_of[i as usize].1)
        .collect();
    order.sort_by(|&a, &b| {
        score_of[b as usize]
            .0
            .total_cmp(&score_of[a as usize].0)
            .then(a.cmp(&b))
    });
    let mut rank = vec![0u32; score_of.len()];
    for (r, &i) in order.iter().enumerate() {
        rank[i as usize] = r as u32 + 1;
    }
    rank
}

/// Writes `scores.csv` from the unranked rows at `partial` (matrix order), with `rank`.
fn write_ranked_scores(partial: &Path, rank: &[u32], path: &Path) -> Result<(), AppError> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(partial)
        .map_err(|e| write_err(partial, e))?;
    let mut w = csv::Writer::from_path(path).map_err(|e| write_err(path, e))?;
    w.write_record(run_dir::SCORES_HEADER)
        .map_err(|e| write_err(path, e))?;
    let mut row = csv::ByteRecord::new();
    let mut i = 0usize;
    let mut out = csv::ByteRecord::new();
    while r
        .read_byte_record(&mut row)
        .map_err(|e| write_err(partial, e))?
    {
        out.clear();
        for (j, field) in row.iter().enumerate() {
            if j == run_dir::SCORES_RANK_COLUMN {
                match rank.get(i).copied().filter(|&x| x > 0) {
                    Some(x) => out.push_field(x.to_string().as_bytes()),
                    None => out.push_field(b""),
                }
            } else {
                out.push_field(field);
            }
        }
        w.write_byte_record(&out).map_err(|e| write_err(path, e))?;
        i += 1;
    }
    w.flush().map_err(|e| write_err(path, e))?;
    std::fs::remove_file(partial).map_err(|e| write_err(partial, e))?;
    Ok(())
}

/// `gridsleuth run` over `chunks` (see the module documentation).
pub(super) fn run_streamed(
    args: &RunOptions,
    mut chunks: ParquetChunks,
    quiet: bool,
    out: &mut dyn Write,
) -> Result<Outcome, AppError> {
    refuse_unstreamed(args)?;
    let staged = begin_output(&args.out)?;
    let written = match write_streamed(args, &mut chunks, staged.path()) {
        Ok(w) => w,
        Err(e) => return Err(commit_if_empty(staged, e)),
    };
    if !quiet {
        written.say(args, out)?;
    }
    super::finish_run(staged, quiet, out, written.report.any_quarantined())
}

/// What a streamed run says on the console.
struct Written {
    report: IngestReport,
    chunks: usize,
    flagged: usize,
    /// The first ten suspects in rank order.
    top: Vec<SuspectRecord>,
}

impl Written {
    fn say(&self, args: &RunOptions, out: &mut dyn Write) -> Result<(), AppError> {
        let Written {
            report,
            chunks,
            flagged,
            top,
        } = self;
        write!(out, "{}", report.text()).map_err(ConsoleError)?;
        writeln!(
            out,
            "streamed: {chunks} chunks of row groups (the readings take more than the memory \
             budget of {} at {IN_MEMORY_BYTES_PER_READING} bytes a reading)",
            ingest::budget::bytes_text(args.ingest.acc.budget.bytes)
        )
        .map_err(ConsoleError)?;
        writeln!(
            out,
            "scored {} meters: {flagged} flagged",
            report.grid.meters
        )
        .map_err(ConsoleError)?;
        for r in top {
            writeln!(
                out,
                "  #{:<3} {:<12} score {:.2}  ~{:.1} kW  {}",
                r.rank,
                r.meter_id,
                r.score,
                r.rig_kw,
                r.reasons.first().map_or("", String::as_str)
            )
            .map_err(ConsoleError)?;
        }
        Ok(())
    }
}

/// A chunked run's error as the in-memory run gives it (no usable readings is an ingest error).
fn app_error(e: ChunkedError) -> AppError {
    match e {
        ChunkedError::Ingest(e) => AppError::Ingest(e),
        e => AppError::Chunked(e),
    }
}

/// Both passes over `chunks`, every file of the run directory `dir` but the report.
fn write_streamed(
    args: &RunOptions,
    chunks: &mut ParquetChunks,
    dir: &Path,
) -> Result<Written, AppError> {
    let tz = args.ingest.long.time.tz.name().to_string();
    let t_fit = Instant::now();
    let model = match &args.model {
        Some(m) => m.model.clone(),
        None => {
            chunked::fit_chunked(chunks, &args.detect)
                .map_err(app_error)?
                .model
        }
    };
    let t_fit = t_fit.elapsed();
    barrier("run:fit");
    let dir = dir.to_path_buf();
    let mut s = Streamed::new(&dir, &tz, chunks.meters())?;
    let mut t_chunk = Instant::now();
    let (mut t_ingest, mut t_append) = (Duration::ZERO, Duration::ZERO);
    chunked::detect_chunks(chunks, &args.detect, &model, &mut |_, chunk| {
        let t = Instant::now();
        match chunk {
            Scored::Meters(b) => {
                let (ing, det) = *b;
                let detect: Duration = det.timings.iter().map(|(_, d)| *d).sum();
                t_ingest += t_chunk.elapsed().saturating_sub(detect);
                s.add(ing, det)?;
            }
            Scored::Empty(q) => {
                t_ingest += t_chunk.elapsed();
                s.add_empty(q);
            }
        }
        t_append += t.elapsed();
        t_chunk = Instant::now();
        Ok::<(), AppError>(())
    })
    .map_err(|e| match e {
        AppError::Chunked(e) => app_error(e),
        e => e,
    })?;
    let n_chunks = chunks.count();
    let t_write = Instant::now();
    let Streamed {
        scores,
        registered,
        segments,
        features,
        score_of,
        mut kept,
        readings_log,
        meters,
        meter_seen,
        weather_log,
        weather_slots_known,
        tally,
        grid,
        ingest_timings,
        zero_copy,
        stages,
        clusters,
        registered_miners,
        over_contract,
        ..
    } = s;
    let Some(grid) = grid else {
        // No chunk had usable readings (with --model: pass 1 would have said so).
        return Err(app_error(chunked::no_usable_readings(readings_log)));
    };
    let close = |mut w: csv::Writer<std::fs::File>, p: PathBuf| -> Result<(), AppError> {
        w.flush().map_err(|e| write_err(&p, e))
    };
    close(scores, dir.join(PARTIAL_SCORES))?;
    close(registered, dir.join("registered_miners.csv"))?;
    close(
        segments,
        dir.join(rdata::DATA_DIR).join(rdata::SEGMENTS_CSV),
    )?;
    if let Some(w) = features {
        let p = dir.join("features.parquet");
        w.finish().map_err(|e| write_err(&p, e))?;
    }
    barrier("run:chunks-written");
    // Ingest outputs over every chunk.
    let mut logs: Vec<QualityLog> = Vec::new();
    if let Some(mut q) = readings_log {
        // One log over the whole file: the order of the in-memory run's.
        q.sort();
        logs.push(q);
    }
    if let Some((table, mut q)) = meters {
        // Which meters of the file have no readings is known only now, over every chunk.
        q.notes.extend(table.missing_note(|r| meter_seen[r]));
        logs.push(q);
    }
    logs.extend(weather_log);
    let report = IngestReport {
        version: env!("CARGO_PKG_VERSION"),
        grid: tally.summary(&grid),
        datasets: logs.iter().map(DatasetCounts::of).collect(),
        feeders: None,
        weather_slots_known,
        timings_secs: ingest_timings,
        matrix_built_in_place: zero_copy,
    };
    let dq = dir.join("data_quality.csv");
    let refs: Vec<&QualityLog> = logs.iter().collect();
    write_quality_csv(&refs, &dq).map_err(|e| write_err(&dq, e))?;
    let ij = dir.join("ingest.json");
    write_file(
        &ij,
        &serde_json::to_vec_pretty(&report).map_err(|e| write_err(&ij, e))?,
    )?;
    drop(refs);
    drop(logs);
    barrier("run:ingest-outputs");
    // Ranks over the whole run.
    let rank = ranks(&score_of);
    drop(score_of);
    write_ranked_scores(&dir.join(PARTIAL_SCORES), &rank, &dir.join("scores.csv"))?;
    barrier("run:scores.csv");
    kept.sort_by_key(|k| rank[k.meter]);
    for k in &mut kept {
        let r = rank[k.meter] as usize;
        k.row[0] = r.to_string();
        k.record.rank = r;
    }
    let p = dir.join("suspects.csv");
    let mut w = csv::Writer::from_path(&p).map_err(|e| write_err(&p, e))?;
    w.write_record(run_dir::SUSPECTS_HEADER)
        .map_err(|e| write_err(&p, e))?;
    for k in &kept {
        w.write_record(&k.row).map_err(|e| write_err(&p, e))?;
    }
    w.flush().map_err(|e| write_err(&p, e))?;
    drop(w);
    barrier("run:suspects.csv");
    let flagged = kept.len();
    let mut stage_secs: Vec<(&str, f64)> = vec![
        ("fit", t_fit.as_secs_f64()),
        ("ingest", t_ingest.as_secs_f64()),
    ];
    stage_secs.extend(stages.iter().map(|(k, d)| (*k, d.as_secs_f64())));
    // Appending each chunk's rows, then the files written at the end.
    stage_secs.push(("write", (t_append + t_write.elapsed()).as_secs_f64()));
    let counts = RunCounts {
        meters: report.grid.meters,
        flagged,
        registered_miners,
        registered_over_contract: over_contract,
        feeders: None,
        feeders_flagged: None,
    };
    let rj = dir.join(RUN_JSON);
    let run_json = run_json_of(
        args,
        &report,
        clusters.as_ref(),
        counts,
        &stage_secs,
        Some(n_chunks),
        &rj,
    )?;
    write_file(&rj, &run_json.to_bytes().map_err(|e| write_err(&rj, e))?)?;
    barrier("run:run.json");
    let data = ReportData {
        format: rdata::FORMAT,
        grid: rdata::GridSpec {
            start: grid.start,
            interval_secs: grid.interval_secs,
            n_slots: grid.n_slots,
        },
        tz: tz.clone(),
        suspects: kept.iter().map(|k| k.record.clone()).collect(),
    };
    let series: Vec<(&str, &Series)> = kept
        .iter()
        .map(|k| (k.record.meter_id.as_str(), &k.series))
        .collect();
    rdata::write_suspects(&dir, &data, &series)?;
    drop(series);
    barrier("run:report_data");
    model.write(&dir.join(crate::model::MODEL_FILE))?;
    barrier("run:model.json");
    Ok(Written {
        report,
        chunks: n_chunks,
        flagged,
        top: kept.into_iter().take(10).map(|k| k.record).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_as_score_all_ranks() {
        // Highest score first, ties by matrix order, registered miners unranked.
        let s = [
            (0.2, false),
            (0.9, false),
            (0.0, true),
            (0.9, false),
            (f64::NAN, false),
        ];
        // (NaN orders as `f64::total_cmp` puts it, above every score, as in `score_all`.)
        assert_eq!(ranks(&s), vec![4, 2, 0, 3, 1]);
        let tmp = tempfile::tempdir().unwrap();
        let partial = tmp.path().join("p.csv");
        let tail = ",false,0.000,,,0.0,false,,UTC";
        std::fs::write(&partial, format!("M1,0.2,{tail}\nM2,0.9,{tail}\n")).unwrap();
        let out = tmp.path().join("scores.csv");
        write_ranked_scores(&partial, &[2, 0], &out).unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        let mut lines = text.lines();
        assert!(lines.next().unwrap().starts_with("meter_id,score,rank,"));
        assert_eq!(
            lines.map(str::to_string).collect::<Vec<_>>(),
            [format!("M1,0.2,2{tail}"), format!("M2,0.9,{tail}")]
        );
        assert!(!partial.exists());
    }
}
