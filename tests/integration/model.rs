//! A model that shards share (issue 10): `gridsleuth fit` on the sample region, then
//! `run --model` on three disjoint shards of its meters, concatenated, equals one `run` on all of
//! them (every score, flag, estimate, onset and reason; ranks are each shard's own); a model of
//! another format or other settings is refused.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use crate::support::*;

const CONFIG: &str = "region.toml";

/// The sample's CSV lines by meter (header, then each meter's lines in file order).
fn lines_by_meter() -> (String, BTreeMap<String, Vec<String>>) {
    let f = std::fs::File::open(sample("region/readings.csv.gz")).unwrap();
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(f)
        .read_to_string(&mut text)
        .unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap().to_string();
    let mut by: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for l in lines.filter(|l| !l.is_empty()) {
        let id = l.split(',').next().unwrap().to_string();
        by.entry(id).or_default().push(l.to_string());
    }
    (header, by)
}

/// Rows of the run file `name` by meter id, without the rank (a shard ranks its own meters).
fn rows_by_meter(dir: &Path, name: &str) -> BTreeMap<String, Vec<String>> {
    let mut r = csv::Reader::from_path(dir.join(name)).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    let rank = header.iter().position(|h| h == "rank").unwrap();
    let id = header.iter().position(|h| h == "meter_id").unwrap();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            let row: Vec<String> = rec
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != rank)
                .map(|(_, v)| v.to_string())
                .collect();
            (rec[id].to_string(), row)
        })
        .collect()
}

/// `scores.csv` rows by meter id, without the rank.
fn scores(dir: &Path) -> BTreeMap<String, Vec<String>> {
    rows_by_meter(dir, "scores.csv")
}

/// `suspects.csv` rows by meter id, without the rank.
fn suspects(dir: &Path) -> BTreeMap<String, Vec<String>> {
    rows_by_meter(dir, "suspects.csv")
}

fn run_ok(argv: &[&str]) -> String {
    let (code, stdout, stderr) = run_raw(argv);
    assert!(code == 0 || code == 1, "{argv:?}: exit {code}\n{stderr}");
    stdout
}

#[test]
fn three_shards_scored_with_one_model_equal_one_run() {
    let tmp = tempfile::tempdir().unwrap();
    let t = |p: &str| arg(&tmp.path().join(p));
    let config = sample(CONFIG);
    let (header, by) = lines_by_meter();
    assert_eq!(by.len(), 200);
    // Three disjoint shards (every third meter), each its own readings file.
    for k in 0..3 {
        let mut s = header.clone();
        s.push('\n');
        for (_, lines) in by.iter().skip(k).step_by(3) {
            for l in lines {
                s.push_str(l);
                s.push('\n');
            }
        }
        std::fs::write(tmp.path().join(format!("shard{k}.csv")), s).unwrap();
    }
    let q = ["-q", "--no-progress"];
    let with = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = q.iter().map(|s| s.to_string()).collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let call = |v: Vec<String>| {
        let r: Vec<&str> = v.iter().map(String::as_str).collect();
        run_ok(&r)
    };
    call(with(&["run", "--config", &config, "-o", &t("full")]));
    call(with(&["fit", "--config", &config, "-o", &t("model.json")]));
    for k in 0..3 {
        call(with(&[
            "run",
            "--config",
            &config,
            "-r",
            &t(&format!("shard{k}.csv")),
            "--model",
            &t("model.json"),
            "-o",
            &t(&format!("s{k}")),
        ]));
    }
    let full = scores(&tmp.path().join("full"));
    let mut shards: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut flagged: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for k in 0..3 {
        let d = tmp.path().join(format!("s{k}"));
        let s = scores(&d);
        assert_eq!(s.len(), by.keys().skip(k).step_by(3).count());
        shards.extend(s);
        flagged.extend(suspects(&d));
        // Each shard's run directory holds the model it scored with: the fitted one.
        assert_eq!(
            std::fs::read_to_string(d.join("model.json")).unwrap(),
            std::fs::read_to_string(tmp.path().join("model.json")).unwrap()
        );
    }
    assert_eq!(shards.len(), 200);
    assert_eq!(full, shards, "scores.csv: one run vs three shards");
    let full_suspects = suspects(&tmp.path().join("full"));
    assert!(!full_suspects.is_empty(), "the sample has suspects");
    assert_eq!(
        full_suspects, flagged,
        "suspects.csv: one run vs three shards"
    );
    // The model `fit` writes is the one a run fits on the same meters.
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("full/model.json")).unwrap(),
        std::fs::read_to_string(tmp.path().join("model.json")).unwrap()
    );
}

#[test]
fn a_model_with_other_settings_or_format_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("model.json");
    let config = sample(CONFIG);
    run_ok(&["fit", "-q", "--config", &config, "-o", &arg(&model)]);
    let out = arg(&tmp.path().join("out"));
    let m = arg(&model);
    let (code, _, err) = run_raw(&[
        "run",
        "-q",
        "--config",
        &config,
        "--model",
        &m,
        "--flag-threshold",
        "0.7",
        "-o",
        &out,
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("fitted with other settings")
            && err.contains("[score] flag_threshold: model 0.5, this run 0.7"),
        "{err}"
    );
    let (code, _, err) = run_raw(&[
        "run",
        "-q",
        "--config",
        &config,
        "--model",
        &m,
        "--start",
        "2024-03-02",
        "--end",
        "2024-03-10",
        "-o",
        &out,
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("differs from the grid of the model"), "{err}");
    let text = std::fs::read_to_string(&model).unwrap();
    std::fs::write(&model, text.replacen("\"format\": 1", "\"format\": 99", 1)).unwrap();
    let (code, _, err) = run_raw(&["run", "-q", "--config", &config, "--model", &m, "-o", &out]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("model format 99"), "{err}");
    assert!(
        !tmp.path().join("out").exists(),
        "nothing written on refusal"
    );
}

fn parquet_in_row_groups(path: &Path, parts: usize) {
    super::streamed::parquet_in_row_groups(path, parts, &[]);
}

#[test]
fn four_chunks_equal_the_in_memory_run() {
    use gridsleuth::model::chunked::{self, Chunks, ParquetChunks};
    let tmp = tempfile::tempdir().unwrap();
    let pq = tmp.path().join("readings.parquet");
    parquet_in_row_groups(&pq, 8);
    let rows = gridsleuth::ingest::long_parquet::row_group_rows(&pq).unwrap();
    assert_eq!(rows.len(), 8, "one row group per 25 meters");
    let flags = gridsleuth::settings::IngestFlags {
        config: Some(sample(CONFIG).into()),
        readings: vec![arg(&pq)],
        start: Some("2024-03-01".into()),
        end: Some("2024-03-15".into()),
        ..Default::default()
    };
    let opts = gridsleuth::settings::run_options(
        &flags,
        &gridsleuth::settings::DetectFlags::default(),
        false,
    )
    .unwrap();
    let ing = gridsleuth::ingest::load(&opts.ingest).unwrap();
    let det = gridsleuth::detect::detect(&ing, &opts.detect).unwrap();
    // A budget of two row groups' readings: four chunks of 50 meters.
    let mut chunks = ParquetChunks::plan(&opts.ingest, rows[0] + rows[1]).unwrap();
    assert!(chunks.count() >= 4, "{} chunks", chunks.count());
    let model = chunked::fit_chunked(&mut chunks, &opts.detect)
        .unwrap()
        .model;
    assert_eq!(
        String::from_utf8(model.to_bytes()).unwrap(),
        String::from_utf8(det.model.to_bytes()).unwrap(),
        "the model fitted in chunks is the in-memory run's"
    );
    let mut ids: Vec<String> = Vec::new();
    let mut feats = Vec::new();
    let mut findings = Vec::new();
    let mut clusters = Vec::new();
    chunked::detect_chunks(&mut chunks, &opts.detect, &model, &mut |_, chunk| {
        let chunked::Scored::Meters(b) = chunk else {
            panic!("a chunk without meters");
        };
        let (ing, d) = *b;
        ids.extend(ing.matrix.meter_ids().iter().map(|s| s.to_string()));
        feats.extend(d.features);
        clusters.extend(d.clusters.map(|c| c.assignment).unwrap_or_default());
        findings.extend(d.findings);
        Ok::<(), chunked::ChunkedError>(())
    })
    .unwrap();
    let want: Vec<String> = ing
        .matrix
        .meter_ids()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(ids, want);
    let bits = |v: &[gridsleuth::features::MeterFeatures]| -> Vec<u32> {
        v.iter()
            .flat_map(|f| f.values())
            .map(f32::to_bits)
            .collect()
    };
    assert_eq!(bits(&feats), bits(&det.features), "features");
    assert_eq!(clusters, det.clusters.unwrap().assignment, "clusters");
    assert_eq!(findings.len(), det.findings.len());
    let key = |f: &gridsleuth::score::Finding| {
        (
            f.score.to_bits(),
            f.flagged,
            f.rig_kw.to_bits(),
            f.onset.clone(),
            f.reasons.clone(),
            f.excess_kwh.to_bits(),
        )
    };
    for (a, b) in findings.iter().zip(&det.findings) {
        assert_eq!(key(a), key(b), "meter {}", want[b.meter]);
    }
    assert!(det.findings.iter().any(|f| f.flagged));
}

#[test]
fn a_streamed_fit_and_row_group_shards_equal_one_run() {
    let tmp = tempfile::tempdir().unwrap();
    let t = |p: &str| arg(&tmp.path().join(p));
    let pq = t("readings.parquet");
    parquet_in_row_groups(Path::new(&pq), 8);
    let config = sample(CONFIG);
    let base = [
        "-q",
        "--no-progress",
        "--config",
        &config,
        "-r",
        &pq,
        "--start",
        "2024-03-01",
        "--end",
        "2024-03-15",
    ];
    let with = |cmd: &str, extra: &[&str]| {
        let mut v = vec![cmd];
        v.extend_from_slice(&base);
        v.extend_from_slice(extra);
        run_ok(&v)
    };
    with("run", &["-o", &t("full")]);
    // 600 kB at 16 bytes a reading: two row groups (about 33,500 readings) a chunk.
    let (code, stdout, stderr) = run_raw(&[
        "fit",
        "--no-progress",
        "--config",
        &config,
        "-r",
        &pq,
        "--start",
        "2024-03-01",
        "--end",
        "2024-03-15",
        "--memory-budget",
        "600K",
        "-o",
        &t("model.json"),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("streamed: 4 chunks"), "{stdout}");
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("model.json")).unwrap(),
        std::fs::read_to_string(tmp.path().join("full/model.json")).unwrap(),
        "the streamed fit is the in-memory run's model"
    );
    let mut shards = BTreeMap::new();
    let mut flagged = BTreeMap::new();
    for k in [0, 2, 4, 6] {
        let dir = format!("shard{k}");
        let groups = format!("{k}..{}", k + 2);
        with(
            "run",
            &[
                "--model",
                &t("model.json"),
                "--row-groups",
                &groups,
                "-o",
                &t(&dir),
            ],
        );
        let s = scores(&tmp.path().join(&dir));
        assert_eq!(s.len(), 50, "25 meters a row group");
        shards.extend(s);
        flagged.extend(suspects(&tmp.path().join(&dir)));
    }
    assert_eq!(scores(&tmp.path().join("full")), shards);
    assert_eq!(suspects(&tmp.path().join("full")), flagged);
    // --row-groups is for Parquet readings only.
    let (code, _, err) = run_raw(&[
        "run",
        "-q",
        "--config",
        &config,
        "--row-groups",
        "0..2",
        "-r",
        &sample("region/readings.csv.gz"),
        "-o",
        &t("csv"),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--row-groups reads a shard of a Parquet file"),
        "{err}"
    );
}
