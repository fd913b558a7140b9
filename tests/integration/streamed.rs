//! `run` over the memory budget streams (issue 10 part 2): on the sample region written as a
//! Parquet file of 8 row groups, a budget of two row groups' readings forces 4 chunks, and the
//! run directory equals the in-memory run's (scores, suspects, features, model, data quality,
//! the report's suspects), a negative reading in chunk 3 is quarantined and reconciles, and a
//! run killed mid-stream leaves no output.

use std::path::Path;

use polars::prelude::*;

use crate::support::*;

/// Which readings of a row group [`parquet_in_row_groups`] makes negative (quarantined).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Negative {
    First,
    All,
}

/// The sample's readings as Parquet with `parts` row groups, each holding whole meters; the
/// row groups named in `negative` get negative readings (quarantined).
pub fn parquet_in_row_groups(path: &Path, parts: usize, negative: &[(usize, Negative)]) {
    parquet_files(&[path.to_path_buf()], parts, negative);
}

/// [`parquet_in_row_groups`] over several files in meter order: row group `k` of `parts` goes
/// to file `k * files / parts`.
pub fn parquet_files(paths: &[std::path::PathBuf], parts: usize, negative: &[(usize, Negative)]) {
    let f = std::fs::File::open(sample("region/readings.parquet")).unwrap();
    let df = ParquetReader::new(f).finish().unwrap();
    let ids: Vec<String> = {
        let col = df.column("meter_id").unwrap().str().unwrap().clone();
        let mut v: Vec<String> = col.iter().flatten().map(String::from).collect();
        v.sort();
        v.dedup();
        v
    };
    let per = ids.len().div_ceil(parts);
    let mut writers: Vec<_> = paths
        .iter()
        .map(|p| {
            let out = std::fs::File::create(p).unwrap();
            Some(ParquetWriter::new(out).batched(df.schema()).unwrap())
        })
        .collect();
    let n_parts = ids.chunks(per).count();
    for (k, part) in ids.chunks(per).enumerate() {
        let (lo, hi) = (part[0].as_str(), part[part.len() - 1].as_str());
        let col = df.column("meter_id").unwrap().str().unwrap().clone();
        let mask: BooleanChunked = col.iter().map(|v| v.map(|v| v >= lo && v <= hi)).collect();
        let mut piece = df.filter(&mask).unwrap();
        if let Some(&(_, how)) = negative.iter().find(|(g, _)| *g == k) {
            let kwh = piece.column("kwh").unwrap().clone();
            let dtype = kwh.dtype().clone();
            let mut v: Vec<f64> = kwh
                .cast(&DataType::Float64)
                .unwrap()
                .f64()
                .unwrap()
                .iter()
                .map(|x| x.unwrap_or(f64::NAN))
                .collect();
            match how {
                Negative::First => v[0] = -1.0,
                Negative::All => v.iter_mut().for_each(|x| *x = -1.0),
            }
            let c = Column::new("kwh".into(), v).cast(&dtype).unwrap();
            piece.with_column(c).unwrap();
        }
        piece.rechunk_mut();
        let file = k * paths.len() / n_parts;
        writers[file].as_mut().unwrap().write_batch(&piece).unwrap();
    }
    for w in &mut writers {
        w.take().unwrap().finish().unwrap();
    }
}

/// The sample region's config without feeders (the balance is not streamed).
fn config(dir: &Path) -> String {
    let p = dir.join("region-nofeeders.toml");
    let s = |rel: &str| sample(rel).replace('\\', "/");
    std::fs::write(
        &p,
        format!(
            "[inputs]\nmeters = \"{}\"\nweather = \"{}\"\n\n[time]\ntz = \"UTC\"\ninterval = \
             \"30m\"\n\n[quality]\nmax_kw = 2000.0\n",
            s("region/meters.csv"),
            s("region/weather.csv")
        ),
    )
    .unwrap();
    arg(&p)
}

fn base_args(config: &str, pq: &str) -> Vec<String> {
    [
        "run",
        "--no-progress",
        "--config",
        config,
        "-r",
        pq,
        "--start",
        "2024-03-01",
        "--end",
        "2024-03-15",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn run_with(argv: &[String]) -> (i32, String, String) {
    let v: Vec<&str> = argv.iter().map(String::as_str).collect();
    run_raw(&v)
}

/// `base` streamed under a 600K budget with the model of the in-memory run `full`, into `out`.
fn streamed_with_model(base: &[String], full: &Path, out: &Path) -> (i32, String, String) {
    let mut c = base.to_vec();
    c.extend([
        "--memory-budget".into(),
        "600K".into(),
        "--model".into(),
        arg(&full.join("model.json")),
        "-o".into(),
        arg(out),
    ]);
    run_with(&c)
}

fn read(dir: &Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn frame(dir: &Path, rel: &str) -> DataFrame {
    let f = std::fs::File::open(dir.join(rel)).unwrap();
    ParquetReader::new(f).finish().unwrap()
}

fn json(dir: &Path, rel: &str) -> serde_json::Value {
    serde_json::from_str(&read(dir, rel)).unwrap()
}

/// Runs `base` in memory (folder `a/run`) and streamed under a 600 kB budget (`b/run`: two
/// of the sample's row groups a chunk); checks the exit codes, the chunk count and that the run
/// directories are the same (see [`assert_same_run`]). Returns both folders and consoles.
fn both_runs(
    tmp: &Path,
    base: &[String],
    code: i32,
    chunks: usize,
) -> [(std::path::PathBuf, String); 2] {
    // Folders of one name: the report's title.
    let (full, streamed) = (tmp.join("a/run"), tmp.join("b/run"));
    let mut a = base.to_vec();
    a.extend(["-o".into(), arg(&full)]);
    let (got, out_full, err) = run_with(&a);
    assert_eq!(got, code, "in memory: {err}");
    let mut b = base.to_vec();
    // 600 kB at 16 bytes a reading: two row groups (about 33,500 readings) a chunk.
    b.extend([
        "--memory-budget".into(),
        "600K".into(),
        "-o".into(),
        arg(&streamed),
    ]);
    let (got, out_streamed, err) = run_with(&b);
    assert_eq!(got, code, "streamed: {err}");
    assert!(
        out_streamed.contains(&format!("streamed: {chunks} chunks")),
        "{out_streamed}"
    );
    assert!(!out_full.contains("streamed"), "{out_full}");
    assert_same_run(&full, &out_full, &streamed, &out_streamed, chunks);
    [(full, out_full), (streamed, out_streamed)]
}

/// The streamed run directory `streamed` equals the in-memory run's `full`: every file (byte
/// for byte, Parquet row for row, the report's pages), ingest.json and run.json but for the
/// timings and the chunk count, and the top of the console.
fn assert_same_run(
    full: &Path,
    out_full: &str,
    streamed: &Path,
    out_streamed: &str,
    chunks: usize,
) {
    for rel in [
        "scores.csv",
        "suspects.csv",
        "registered_miners.csv",
        "model.json",
        "data_quality.csv",
        "report_data/suspects.json",
        "report_data/segments.csv",
    ] {
        assert_eq!(read(streamed, rel), read(full, rel), "{rel}");
    }
    for rel in ["features.parquet", "report_data/series.parquet"] {
        let (x, y) = (frame(streamed, rel), frame(full, rel));
        assert!(x.equals_missing(&y), "{rel}: {x:?}\n{y:?}");
    }
    assert!(read(full, "suspects.csv").lines().count() > 2);
    let (ij_s, ij_f) = (json(streamed, "ingest.json"), json(full, "ingest.json"));
    for key in ["datasets", "grid", "feeders", "weather_slots_known"] {
        assert_eq!(ij_s[key], ij_f[key], "ingest.json {key}");
    }
    assert_eq!(ij_s["datasets"][0]["reconciles"], true);
    let (rj_s, rj_f) = (json(streamed, "run.json"), json(full, "run.json"));
    for key in [
        "counts", "clusters", "grid", "datasets", "settings", "inputs",
    ] {
        assert_eq!(rj_s[key], rj_f[key], "run.json {key}");
    }
    assert_eq!(rj_s["chunks"], chunks);
    assert!(rj_f.get("chunks").is_none());
    assert!(rj_s["timings_secs"]["fit"].is_number());
    // The report: the same suspects, the same pages.
    let pages = |d: &Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(d.join("report/suspects"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert!(!pages(full).is_empty());
    assert_eq!(pages(streamed), pages(full));
    let report = |d: &Path| {
        let mut m = crate::atomic_runs::snapshot(&d.join("report"));
        m.retain(|k, _| !k.ends_with(".png"));
        m
    };
    let (rs, rf) = (report(streamed), report(full));
    assert_eq!(rs.keys().collect::<Vec<_>>(), rf.keys().collect::<Vec<_>>());
    for (k, v) in &rf {
        assert!(rs[k] == *v, "report/{k} differs");
    }
    // The console's top suspects.
    let top = |s: &str| -> Vec<String> {
        s.lines()
            .filter(|l| l.trim_start().starts_with('#'))
            .map(str::to_string)
            .collect()
    };
    assert!(!top(out_full).is_empty());
    assert_eq!(top(out_streamed), top(out_full));
    // The same files (no temporary one left).
    assert_eq!(names(streamed), names(full));
}

fn names(d: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn a_streamed_run_in_four_chunks_equals_the_in_memory_run() {
    let tmp = tempfile::tempdir().unwrap();
    let pq = tmp.path().join("readings.parquet");
    // A negative reading in row group 6: chunk 3 of 4.
    parquet_in_row_groups(&pq, 8, &[(6, Negative::First)]);
    let config = config(tmp.path());
    let base = base_args(&config, &arg(&pq));
    let [(full, _), (streamed, _)] = both_runs(tmp.path(), &base, 1, 4);
    // The quarantined reading, once, and the counts reconcile.
    let dq = read(&streamed, "data_quality.csv");
    assert_eq!(dq.matches(",negative,").count(), 1, "{dq}");
    assert_eq!(
        json(&streamed, "ingest.json")["datasets"][0]["quarantined"],
        1
    );
    // With the model given, pass 1 is skipped and the run is the same.
    let with_model = tmp.path().join("c/run");
    let (code, out_model, err) = streamed_with_model(&base, &full, &with_model);
    assert_eq!(code, 1, "{err}");
    assert!(out_model.contains("streamed: 4 chunks"), "{out_model}");
    for rel in [
        "scores.csv",
        "suspects.csv",
        "model.json",
        "data_quality.csv",
    ] {
        assert_eq!(read(&with_model, rel), read(&full, rel), "--model: {rel}");
    }
}

#[test]
fn a_chunk_whose_readings_are_all_quarantined_does_not_stop_a_streamed_run() {
    let tmp = tempfile::tempdir().unwrap();
    let pq = tmp.path().join("readings.parquet");
    // Every reading of row groups 2 and 3 (chunk 1 of 4, 50 meters) negative.
    parquet_in_row_groups(&pq, 8, &[(2, Negative::All), (3, Negative::All)]);
    let config = config(tmp.path());
    let base = base_args(&config, &arg(&pq));
    let [(full, _), (streamed, _)] = both_runs(tmp.path(), &base, 1, 4);
    // Its meters: quarantined, in the meters file without readings, not scored.
    let ij = json(&streamed, "ingest.json");
    let readings = &ij["datasets"][0];
    assert!(
        readings["quarantined"].as_u64().unwrap() > 10_000,
        "{readings}"
    );
    assert_eq!(readings["reconciles"], true);
    assert_eq!(ij["grid"]["meters"], 150);
    let notes = ij["datasets"][1]["notes"].to_string();
    assert!(
        notes.contains("50 meters in the meters file have no usable readings"),
        "{notes}"
    );
    assert_eq!(read(&full, "scores.csv").lines().count(), 151);
    // With the model given (pass 1 skipped), the same.
    let with_model = tmp.path().join("c/run");
    let (code, _, err) = streamed_with_model(&base, &full, &with_model);
    assert_eq!(code, 1, "{err}");
    for rel in ["scores.csv", "suspects.csv", "data_quality.csv"] {
        assert_eq!(read(&with_model, rel), read(&full, rel), "--model: {rel}");
    }
}

#[test]
fn a_streamed_run_without_any_usable_reading_fails_as_the_in_memory_run() {
    let tmp = tempfile::tempdir().unwrap();
    let pq = tmp.path().join("readings.parquet");
    let all: Vec<(usize, Negative)> = (0..8).map(|k| (k, Negative::All)).collect();
    parquet_in_row_groups(&pq, 8, &all);
    let config = config(tmp.path());
    let base = base_args(&config, &arg(&pq));
    let (full, streamed) = (tmp.path().join("a/run"), tmp.path().join("b/run"));
    let mut a = base.clone();
    a.extend(["-o".into(), arg(&full)]);
    let (code, _, err_full) = run_with(&a);
    assert_eq!(code, 2, "{err_full}");
    let mut b = base.clone();
    b.extend([
        "--memory-budget".into(),
        "600K".into(),
        "-o".into(),
        arg(&streamed),
    ]);
    let (code, _, err) = run_with(&b);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no usable readings"), "{err}");
    assert_eq!(err, err_full.replace(&arg(&full), &arg(&streamed)));
    // The record of why, as the in-memory run leaves it.
    assert_eq!(names(&streamed), names(&full));
    assert_eq!(
        read(&streamed, "data_quality.csv"),
        read(&full, "data_quality.csv")
    );
}

#[test]
fn a_streamed_run_reads_several_parquet_files_in_meter_order() {
    let tmp = tempfile::tempdir().unwrap();
    let files: Vec<std::path::PathBuf> = (0..3)
        .map(|i| tmp.path().join(format!("part-{i}.parquet")))
        .collect();
    // Row groups 0-2, 3-5 and 6-7 in three files; a negative reading in row group 4.
    parquet_files(&files, 8, &[(4, Negative::First)]);
    let config = config(tmp.path());
    let mut base = base_args(&config, &arg(&files[0]));
    base.extend(["-r".into(), arg(&files[1]), arg(&files[2])]);
    // A chunk does not span two files: 2 + 2 + 1 chunks.
    let [_, (streamed, _)] = both_runs(tmp.path(), &base, 1, 5);
    let dq = read(&streamed, "data_quality.csv");
    assert_eq!(dq.matches(",negative,").count(), 1, "{dq}");
    // Files whose meters interleave cannot be streamed: refused with the fix.
    let mixed = tmp.path().join("mixed.parquet");
    parquet_in_row_groups(&mixed, 8, &[]);
    let mut c = base_args(&config, &arg(&mixed));
    c.extend([
        "-r".into(),
        arg(&files[0]),
        "--memory-budget".into(),
        "600K".into(),
        "-o".into(),
        arg(&tmp.path().join("mixed-run")),
    ]);
    let (code, _, err) = run_with(&c);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("comes at or before meter"), "{err}");
    assert!(err.contains("each meter in one file"), "{err}");
    assert!(!tmp.path().join("mixed-run").exists());
}

#[test]
fn a_csv_run_over_the_budget_says_how_to_stream_it() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("o");
    let mut a = base_args(&config(tmp.path()), &sample("region/readings.csv.gz"));
    a.extend([
        "--memory-budget".into(),
        "600K".into(),
        "-o".into(),
        arg(&out),
    ]);
    let (code, _, err) = run_with(&a);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("over the memory budget"), "{err}");
    assert!(
        err.contains("convert the readings to Parquet sorted by meter"),
        "{err}"
    );
    assert!(!out.exists());
}

#[test]
fn a_streamed_run_refuses_the_feeder_balance_and_write_matrix_with_a_fix() {
    let tmp = tempfile::tempdir().unwrap();
    let pq = tmp.path().join("readings.parquet");
    parquet_in_row_groups(&pq, 8, &[]);
    let mut a = base_args(&sample("region.toml"), &arg(&pq));
    a.extend([
        "--memory-budget".into(),
        "600K".into(),
        "-o".into(),
        arg(&tmp.path().join("o")),
    ]);
    let (code, _, err) = run_with(&a);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("the feeder balance needs every meter"),
        "{err}"
    );
    assert!(err.contains("fix:"), "{err}");
    let mut b = base_args(&config(tmp.path()), &arg(&pq));
    b.extend([
        "--memory-budget".into(),
        "600K".into(),
        "--write-matrix".into(),
        "-o".into(),
        arg(&tmp.path().join("o")),
    ]);
    let (code, _, err) = run_with(&b);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--write-matrix writes the whole matrix"),
        "{err}"
    );
    assert!(!tmp.path().join("o").exists());
}

#[test]
fn a_streamed_run_killed_mid_stream_leaves_no_output() {
    let tmp = tempfile::tempdir().unwrap();
    let pq = tmp.path().join("readings.parquet");
    parquet_in_row_groups(&pq, 8, &[]);
    let out = tmp.path().join("out");
    let mut a = base_args(&config(tmp.path()), &arg(&pq));
    a.extend([
        "--memory-budget".into(),
        "600K".into(),
        "-q".into(),
        "-o".into(),
        arg(&out),
    ]);
    let bin = || {
        let mut c = bin_without_barriers();
        c.args(&a);
        c
    };
    // The streamed run's steps.
    let trace = tmp.path().join("trace.txt");
    let st = bin()
        .env("GRIDSLEUTH_BARRIER_TRACE", &trace)
        .status()
        .unwrap();
    assert!(st.code().is_some_and(|c| c <= 1));
    let steps = std::fs::read_to_string(&trace).unwrap();
    assert_eq!(
        steps.lines().filter(|l| *l == "run:chunk").count(),
        4,
        "{steps}"
    );
    // The meters file is read and checked once, not once a chunk and pass.
    assert_eq!(
        steps.lines().filter(|l| *l == "ingest:meters-file").count(),
        1,
        "{steps}"
    );
    let complete = crate::atomic_runs::snapshot(&out);
    std::fs::remove_dir_all(&out).unwrap();
    let ready = tmp.path().join("ready");
    for step in [
        "run:fit",
        "run:chunk",
        "run:chunks-written",
        "run:scores.csv",
        "run:report_data",
    ] {
        assert!(steps.lines().any(|l| l == step), "{step} not in {steps}");
        kill_at_barrier(bin(), step, &ready);
        assert!(
            !out.exists(),
            "killed at {step}: a half-written run directory"
        );
        // The next run sweeps the killed run's staging folder and completes.
        let st = bin().status().unwrap();
        assert!(st.code().is_some_and(|c| c <= 1));
        assert!(
            crate::atomic_runs::snapshot(&out) == complete,
            "after a kill at {step}"
        );
        let left: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains(".gridsleuth-"))
            .map(|e| e.path())
            .collect();
        assert!(
            left.is_empty(),
            "leftovers after a kill at {step}: {left:?}"
        );
        std::fs::remove_dir_all(&out).unwrap();
    }
}
