//! `run` over the memory budget streams (issue 10 part 2): on the sample region written as a
//! Parquet file of 8 row groups, a budget of two row groups' readings forces 4 chunks, and the
//! run directory equals the in-memory run's (scores, suspects, features, model, data quality,
//! the report's suspects), a negative reading in chunk 3 is quarantined and reconciles, and a
//! run killed mid-stream leaves no output.

use std::path::Path;

use polars::prelude::*;

use crate::support::*;

/// The sample's readings as Parquet with `parts` row groups, each holding whole meters; with
/// `negative_in`, the first reading of that row group is made negative (quarantined).
pub fn parquet_in_row_groups(path: &Path, parts: usize, negative_in: Option<usize>) {
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
    let out = std::fs::File::create(path).unwrap();
    let mut w = ParquetWriter::new(out).batched(df.schema()).unwrap();
    for (k, part) in ids.chunks(per).enumerate() {
        let (lo, hi) = (part[0].as_str(), part[part.len() - 1].as_str());
        let col = df.column("meter_id").unwrap().str().unwrap().clone();
        let mask: BooleanChunked = col.iter().map(|v| v.map(|v| v >= lo && v <= hi)).collect();
        let mut piece = df.filter(&mask).unwrap();
        if negative_in == Some(k) {
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
            v[0] = -1.0;
            let c = Column::new("kwh".into(), v).cast(&dtype).unwrap();
            piece.with_column(c).unwrap();
        }
        piece.rechunk_mut();
        w.write_batch(&piece).unwrap();
    }
    w.finish().unwrap();
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

#[test]
fn a_streamed_run_in_four_chunks_equals_the_in_memory_run() {
    let tmp = tempfile::tempdir().unwrap();
    let pq = tmp.path().join("readings.parquet");
    // A negative reading in row group 6: chunk 3 of 4.
    parquet_in_row_groups(&pq, 8, Some(6));
    let config = config(tmp.path());
    let base = base_args(&config, &arg(&pq));
    // Folders of one name: the report's title.
    let (full, streamed) = (tmp.path().join("a/run"), tmp.path().join("b/run"));
    let mut a = base.clone();
    a.extend(["-o".into(), arg(&full)]);
    let (code, out_full, err) = run_with(&a);
    assert_eq!(code, 1, "a reading is quarantined: {err}");
    let mut b = base.clone();
    // 600 kB at 16 bytes a reading: two row groups (about 33,500 readings) a chunk.
    b.extend([
        "--memory-budget".into(),
        "600K".into(),
        "-o".into(),
        arg(&streamed),
    ]);
    let (code, out_streamed, err) = run_with(&b);
    assert_eq!(code, 1, "{err}");
    assert!(
        out_streamed.contains("streamed: 4 chunks"),
        "{out_streamed}"
    );
    assert!(!out_full.contains("streamed"), "{out_full}");

    for rel in [
        "scores.csv",
        "suspects.csv",
        "registered_miners.csv",
        "model.json",
        "data_quality.csv",
        "report_data/suspects.json",
        "report_data/segments.csv",
    ] {
        assert_eq!(read(&streamed, rel), read(&full, rel), "{rel}");
    }
    for rel in ["features.parquet", "report_data/series.parquet"] {
        let (x, y) = (frame(&streamed, rel), frame(&full, rel));
        assert!(x.equals_missing(&y), "{rel}: {x:?}\n{y:?}");
    }
    assert!(read(&full, "suspects.csv").lines().count() > 2);
    // The quarantined reading, once, and the counts reconcile.
    let dq = read(&streamed, "data_quality.csv");
    assert_eq!(dq.matches(",negative,").count(), 1, "{dq}");
    let (ij_s, ij_f) = (json(&streamed, "ingest.json"), json(&full, "ingest.json"));
    for key in ["datasets", "grid", "feeders", "weather_slots_known"] {
        assert_eq!(ij_s[key], ij_f[key], "ingest.json {key}");
    }
    let readings = &ij_s["datasets"][0];
    assert_eq!(readings["quarantined"], 1);
    assert_eq!(readings["reconciles"], true);
    let (rj_s, rj_f) = (json(&streamed, "run.json"), json(&full, "run.json"));
    for key in [
        "counts", "clusters", "grid", "datasets", "settings", "inputs",
    ] {
        assert_eq!(rj_s[key], rj_f[key], "run.json {key}");
    }
    assert_eq!(rj_s["chunks"], 4);
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
    assert!(!pages(&full).is_empty());
    assert_eq!(pages(&streamed), pages(&full));
    let report = |d: &Path| {
        let mut m = crate::atomic_runs::snapshot(&d.join("report"));
        m.retain(|k, _| !k.ends_with(".png"));
        m
    };
    let (rs, rf) = (report(&streamed), report(&full));
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
    assert!(!top(&out_full).is_empty());
    assert_eq!(top(&out_streamed), top(&out_full));
    // With the model given, pass 1 is skipped and the run is the same.
    let with_model = tmp.path().join("c/run");
    let mut c = base.clone();
    c.extend([
        "--memory-budget".into(),
        "600K".into(),
        "--model".into(),
        arg(&full.join("model.json")),
        "-o".into(),
        arg(&with_model),
    ]);
    let (code, out_model, err) = run_with(&c);
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
    // The same files (no temporary one left).
    let names = |d: &Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names(&streamed), names(&full));
}

#[test]
fn a_streamed_run_refuses_the_feeder_balance_and_write_matrix_with_a_fix() {
    let tmp = tempfile::tempdir().unwrap();
    let pq = tmp.path().join("readings.parquet");
    parquet_in_row_groups(&pq, 8, None);
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
    parquet_in_row_groups(&pq, 8, None);
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
