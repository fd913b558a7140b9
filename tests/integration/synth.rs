//! `gridsleuth synth`: determinism, the label vocabulary, round trip through ingest, physics
//! checks computed from the written files (feeder balance, rig flatness, estimated days), and
//! `--inject-into` on London-style homes (`generated::london_style`). Regions are small (300-5,000 meters x 3-14 days).

use std::collections::HashMap;
use std::path::Path;

use clap::Parser;
use gridsleuth::cli::tools::SynthArgs;
use gridsleuth::cli::{Cli, Command as Sub};
use gridsleuth::grid::LoadMatrix;
use gridsleuth::synth::{run_synth, SynthSummary};

use crate::support::{self, arg, counts, logs, run_raw};

/// Parses `gridsleuth synth ARGV` exactly as the binary does.
fn synth_args(argv: &[&str]) -> SynthArgs {
    let cli = Cli::try_parse_from(["gridsleuth", "synth"].iter().chain(argv))
        .unwrap_or_else(|e| panic!("cannot parse {argv:?}: {e}"));
    match cli.command {
        Sub::Synth(a) => a,
        _ => unreachable!("`synth` parses to Command::Synth"),
    }
}

/// Runs `synth ARGV --out DIR` through the library.
fn synth(dir: &Path, argv: &[&str]) -> SynthSummary {
    let o = arg(dir);
    let mut full = argv.to_vec();
    full.extend_from_slice(&["--out", &o]);
    let mut text = Vec::new();
    let s = run_synth(&synth_args(&full).options(), &mut text)
        .unwrap_or_else(|e| panic!("synth {argv:?} failed: {e}"));
    assert!(String::from_utf8(text).unwrap().contains("rows/s"));
    s
}

type Row = HashMap<String, String>;

fn read_csv(path: &Path) -> (Vec<String>, Vec<Row>) {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|rec| {
            let rec = rec.unwrap();
            header
                .iter()
                .cloned()
                .zip(rec.iter().map(String::from))
                .collect()
        })
        .collect();
    (header, rows)
}

fn labels(dir: &Path) -> Vec<Row> {
    read_csv(&dir.join("labels.csv")).1
}

/// Loads a generated region through ingest (readings, meters, feeders, weather).
fn load_region(dir: &Path) -> gridsleuth::ingest::Ingested {
    let p = |f: &str| arg(&dir.join(f));
    let readings = if dir.join("readings.parquet").exists() {
        p("readings.parquet")
    } else {
        p("readings.csv")
    };
    support::load(&[
        "-r",
        &readings,
        "--meters",
        &p("meters.csv"),
        "--feeders",
        &p("feeders.csv"),
        "--weather",
        &p("weather.csv"),
    ])
}

fn slot_of(m: &LoadMatrix, iso: &str) -> usize {
    let t = chrono::DateTime::parse_from_rfc3339(iso)
        .unwrap()
        .timestamp();
    m.grid.slot_of(t).unwrap()
}

fn mean_kw(v: &[f32], hours: f64) -> f64 {
    let present: Vec<f64> = v
        .iter()
        .filter(|x| !x.is_nan())
        .map(|&x| f64::from(x))
        .collect();
    present.iter().sum::<f64>() / present.len() as f64 / hours
}

#[test]
fn synth_is_byte_identical_across_chunks_and_threads() {
    let tmp = tempfile::tempdir().unwrap();
    let base = ["--meters", "300", "--days", "7", "--seed", "11"];
    let runs = [("a", "7", "1"), ("b", "1000", "2"), ("c", "64", "0")];
    for (sub, chunk, threads) in runs {
        let mut argv = base.to_vec();
        argv.extend_from_slice(&["--chunk-meters", chunk, "--threads", threads]);
        synth(&tmp.path().join(sub), &argv);
    }
    for f in [
        "readings.parquet",
        "meters.csv",
        "labels.csv",
        "feeders.csv",
        "weather.csv",
    ] {
        let a = std::fs::read(tmp.path().join("a").join(f)).unwrap();
        for sub in ["b", "c"] {
            let b = std::fs::read(tmp.path().join(sub).join(f)).unwrap();
            assert!(a == b, "{f} differs between chunk/thread settings ({sub})");
        }
    }
    // CSV + gzip too, and another seed gives other data.
    for (sub, chunk) in [("gz1", "5"), ("gz2", "999")] {
        let mut argv = base.to_vec();
        argv.extend_from_slice(&["--format", "csv", "--gzip", "--chunk-meters", chunk]);
        synth(&tmp.path().join(sub), &argv);
    }
    let gz = |s: &str| std::fs::read(tmp.path().join(s).join("readings.csv.gz")).unwrap();
    assert_eq!(gz("gz1"), gz("gz2"));
    synth(
        &tmp.path().join("seed2"),
        &["--meters", "300", "--days", "7", "--seed", "12"],
    );
    let f = |s: &str| std::fs::read(tmp.path().join(s).join("readings.parquet")).unwrap();
    assert_ne!(f("a"), f("seed2"));
}

#[test]
fn synth_every_label_kind_appears_in_5000_meters() {
    let tmp = tempfile::tempdir().unwrap();
    let s = synth(tmp.path(), &["--meters", "5000", "--days", "3"]);
    let (header, rows) = read_csv(&tmp.path().join("labels.csv"));
    assert_eq!(
        header[..6],
        [
            "meter_id",
            "kind",
            "is_mining",
            "n_devices",
            "device_kw",
            "onset"
        ]
    );
    assert_eq!(rows.len(), 5000);
    let kinds = [
        "household",
        "household_electric_heating",
        "household_storage_heating",
        "commercial",
        "commercial_24x7",
        "grow_op",
        "agricultural",
        "registered_miner",
        "mining_pure",
        "mining_mixed",
        "mining_night",
        "mining_intermittent",
        "mining_growth",
        "mining_small",
        "mining_bypass",
    ];
    let mut seen: HashMap<&str, u64> = HashMap::new();
    let (_, meters) = read_csv(&tmp.path().join("meters.csv"));
    let meter_by_id: HashMap<&str, &Row> =
        meters.iter().map(|m| (m["meter_id"].as_str(), m)).collect();
    for r in &rows {
        let kind = kinds
            .iter()
            .find(|k| **k == r["kind"])
            .unwrap_or_else(|| panic!("unknown kind {}", r["kind"]));
        *seen.entry(kind).or_default() += 1;
        let mining = kind.starts_with("mining_") || *kind == "registered_miner";
        assert_eq!(r["is_mining"], mining.to_string(), "{r:?}");
        let meta = meter_by_id[r["meter_id"].as_str()];
        assert_eq!(
            meta["registered_miner"],
            (*kind == "registered_miner").to_string()
        );
        assert!(["residential", "commercial", "agricultural"].contains(&meta["tariff"].as_str()));
        if !mining {
            assert_eq!((r["n_devices"].as_str(), r["onset"].as_str()), ("0", ""));
            continue;
        }
        let n: u32 = r["n_devices"].parse().unwrap();
        let kw: f64 = r["device_kw"].parse().unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(&r["onset"]).is_ok(),
            "{r:?}"
        );
        assert!(r["onset"].ends_with('Z') && r["onset"].len() == 20, "{r:?}");
        // DOMAIN.md catalogue: 0.6-3.5 kW per device; hidden rigs 1-10 devices.
        assert!((0.6..=3.5).contains(&kw), "{r:?}");
        match *kind {
            "registered_miner" => assert!(n >= 20),
            "mining_small" => assert!(n <= 2 && kw <= 1.5, "{r:?}"),
            _ => assert!((1..=10).contains(&n), "{r:?}"),
        }
        assert_eq!(r["bypass"], (*kind == "mining_bypass").to_string());
        assert_eq!(r["night_only"], (*kind == "mining_night").to_string());
        if *kind == "mining_growth" {
            assert!(
                !r["growth_at"].is_empty() && !r["growth_devices"].is_empty(),
                "{r:?}"
            );
        }
    }
    for k in kinds {
        assert!(
            seen.get(k).copied().unwrap_or(0) > 0,
            "no {k} in 5000 meters"
        );
        assert_eq!(s.kinds[k], seen[k], "summary count of {k}");
    }
    // Default shares: ~1.5% hidden miners, 0.05% registered.
    assert_eq!(s.hidden_miners, 75);
    assert!(s.registered_miners >= 2);
}

#[test]
fn synth_region_loads_through_ingest_with_nothing_quarantined() {
    let tmp = tempfile::tempdir().unwrap();
    let s = synth(
        tmp.path(),
        &["--meters", "400", "--days", "14", "--tz", "Europe/London"],
    );
    let ing = load_region(tmp.path());
    for q in logs(&ing) {
        let (read, used, quarantined, dups) = counts(q);
        assert_eq!((quarantined, dups), (0, 0), "{}: {read} read", q.dataset);
        assert_eq!(read, used);
    }
    assert_eq!(ing.matrix.n_meters(), 400);
    assert_eq!(ing.matrix.grid.n_slots, 14 * 48);
    assert_eq!(ing.matrix.present_slots(), s.readings_written);
    let feeders = ing.feeders.as_ref().unwrap();
    assert_eq!(feeders.matrix.n_meters(), 2);
    let (w, _) = ing.weather.as_ref().unwrap();
    assert!(
        w.temperature_c.iter().all(|t| !t.is_nan()),
        "weather covers every slot"
    );
    // The CSV form holds the same readings.
    let csv_dir = tmp.path().join("csv");
    synth(
        &csv_dir,
        &[
            "--meters",
            "400",
            "--days",
            "14",
            "--tz",
            "Europe/London",
            "--format",
            "csv",
        ],
    );
    let ing_csv = load_region(&csv_dir);
    assert_eq!(ing_csv.matrix.values().len(), ing.matrix.values().len());
    for (a, b) in ing.matrix.values().iter().zip(ing_csv.matrix.values()) {
        assert!(a == b || (a.is_nan() && b.is_nan()));
    }
}

/// Delivered power P from the feeder input F, inverting F = P (1 + s) + q P^2 / mean(P).
fn delivered_kw(input_kw: &[f64], s: f64, q: f64) -> Vec<f64> {
    let mut mean = input_kw.iter().sum::<f64>() / input_kw.len() as f64 / (1.0 + s + q);
    let mut p = Vec::new();
    for _ in 0..20 {
        let a = q / mean;
        p = input_kw
            .iter()
            .map(|&f| (-(1.0 + s) + ((1.0 + s).powi(2) + 4.0 * a * f).sqrt()) / (2.0 * a))
            .collect();
        mean = p.iter().sum::<f64>() / p.len() as f64;
    }
    p
}

#[test]
fn synth_feeder_balance_shows_bypassed_rigs_only() {
    let tmp = tempfile::tempdir().unwrap();
    synth(
        tmp.path(),
        &[
            "--meters",
            "2000",
            "--days",
            "14",
            "--meters-per-feeder",
            "100",
            "--mining-share",
            "0.004",
            "--mining-mix",
            "bypass=1",
            "--seed",
            "5",
        ],
    );
    let ing = load_region(tmp.path());
    let m = &ing.matrix;
    let hours = m.grid.interval_hours();
    let n = m.grid.n_slots;
    let (table, _) = ing.meters.as_ref().unwrap();
    let f = &ing.feeders.as_ref().unwrap().matrix;
    let mut metered: HashMap<String, Vec<f64>> = HashMap::new();
    for (i, id) in m.meter_ids().iter().enumerate() {
        let feeder = table.get(id).unwrap().feeder_id.clone().unwrap();
        let acc = metered.entry(feeder).or_insert_with(|| vec![0.0; n]);
        for (a, &v) in acc.iter_mut().zip(m.row(i)) {
            if !v.is_nan() {
                *a += f64::from(v);
            }
        }
    }
    let mut bypass: HashMap<String, Vec<(f64, usize)>> = HashMap::new();
    for r in labels(tmp.path()).iter().filter(|r| r["bypass"] == "true") {
        let onset = slot_of(m, &r["onset"]);
        bypass
            .entry(r["feeder_id"].clone())
            .or_default()
            .push((r["rig_kw"].parse().unwrap(), onset));
    }
    assert!(
        bypass.len() >= 3 && bypass.len() < 20,
        "{} feeders with bypass",
        bypass.len()
    );
    for fi in 0..f.n_meters() {
        let fid = f.meter_ids()[fi].to_string();
        let input_kw: Vec<f64> = f.row(fi).iter().map(|&v| f64::from(v) / hours).collect();
        let p = delivered_kw(&input_kw, 0.03, 0.01);
        let residual_kw: Vec<f64> = p
            .iter()
            .zip(&metered[&fid])
            .map(|(p, mtr)| p - mtr / hours)
            .collect();
        let total: f64 = p.iter().sum();
        let r_total: f64 = residual_kw.iter().sum();
        let rigs = bypass.get(&fid).cloned().unwrap_or_default();
        let expected: f64 = rigs.iter().map(|(kw, on)| kw * (n - on) as f64).sum();
        // Missing readings (0.2% at random, a few whole days) leave a small positive residual.
        assert!(
            (r_total - expected).abs() < 0.05 * expected + 0.01 * total,
            "{fid}: residual {:.1} kW-slots, bypassed rigs {:.1}, feeder {:.1}",
            r_total,
            expected,
            total
        );
        if let [(kw, on)] = rigs[..] {
            if on > n / 10 {
                let before = residual_kw[..on].iter().sum::<f64>() / on as f64;
                let after = residual_kw[on..].iter().sum::<f64>() / (n - on) as f64;
                assert!(
                    ((after - before) / kw - 1.0).abs() < 0.2,
                    "{fid}: step {before} -> {after} vs {kw} kW"
                );
            }
        }
    }
}

#[test]
fn synth_mining_pure_is_flat_at_nameplate_after_onset() {
    let tmp = tempfile::tempdir().unwrap();
    synth(
        tmp.path(),
        &[
            "--meters",
            "1000",
            "--days",
            "14",
            "--mining-share",
            "0.03",
            "--mining-mix",
            "pure=1",
        ],
    );
    let ing = load_region(tmp.path());
    let m = &ing.matrix;
    let hours = m.grid.interval_hours();
    let pure: Vec<Row> = labels(tmp.path())
        .into_iter()
        .filter(|r| r["kind"] == "mining_pure")
        .collect();
    assert_eq!(pure.len(), 30);
    for r in &pure {
        let n: f64 = r["n_devices"].parse().unwrap();
        let kw: f64 = r["device_kw"].parse().unwrap();
        let row = m.series(&r["meter_id"]).unwrap();
        let after = &row[slot_of(m, &r["onset"])..];
        let mean = mean_kw(after, hours);
        assert!(
            (mean / (n * kw) - 1.0).abs() < 0.05,
            "{}: {mean} kW vs {n} x {kw}",
            r["meter_id"]
        );
        // CV at 30 min, outages (snap-back dips) left out: a few percent.
        let mut on: Vec<f64> = after
            .iter()
            .filter(|v| !v.is_nan())
            .map(|&v| f64::from(v))
            .collect();
        on.sort_by(f64::total_cmp);
        let median = on[on.len() / 2];
        on.retain(|&v| v > 0.5 * median);
        let mu = on.iter().sum::<f64>() / on.len() as f64;
        let sd = (on.iter().map(|v| (v - mu).powi(2)).sum::<f64>() / on.len() as f64).sqrt();
        assert!(sd / mu < 0.05, "{}: CV {}", r["meter_id"], sd / mu);
        let max = after
            .iter()
            .filter(|v| !v.is_nan())
            .fold(0f32, |a, &b| a.max(b));
        assert!(mean * hours / f64::from(max) > 0.9, "load factor");
    }
}

#[test]
fn synth_estimated_days_are_flat_and_gap_days_absent() {
    let tmp = tempfile::tempdir().unwrap();
    synth(
        tmp.path(),
        &[
            "--meters",
            "300",
            "--days",
            "10",
            "--estimated-meter-share",
            "0.2",
            "--gap-meter-share",
            "0.2",
        ],
    );
    let ing = load_region(tmp.path());
    let m = &ing.matrix;
    let (mut estimated, mut gaps) = (0, 0);
    for r in labels(tmp.path()) {
        let row = m.series(&r["meter_id"]).unwrap();
        let day = |d: &str| {
            let s = slot_of(m, &format!("{d}T00:00:00Z"));
            &row[s..s + 48]
        };
        for d in r["estimated_days"].split(';').filter(|d| !d.is_empty()) {
            let v = day(d);
            assert!(
                v.iter().all(|x| *x == v[0]),
                "{} {d} is not flat: {v:?}",
                r["meter_id"]
            );
            estimated += 1;
        }
        for d in r["gap_days"].split(';').filter(|d| !d.is_empty()) {
            assert!(
                day(d).iter().all(|x| x.is_nan()),
                "{} {d} has readings",
                r["meter_id"]
            );
            gaps += 1;
        }
    }
    assert!(
        estimated > 60 && gaps > 60,
        "{estimated} estimated days, {gaps} gap days"
    );
}

/// London-style homes with holes: every 50th reading and a 15-hour block removed from each file.
fn gappy_london(dir: &Path) -> String {
    let src = dir.with_extension("complete");
    crate::generated::london_style(&src);
    std::fs::create_dir_all(dir).unwrap();
    for e in std::fs::read_dir(&src).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_none_or(|x| x != "csv") {
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap();
        let kept: Vec<&str> = text
            .lines()
            .enumerate()
            .filter(|(i, _)| *i == 0 || (i % 50 != 7 && !(200..230).contains(i)))
            .map(|(_, l)| l)
            .collect();
        std::fs::write(dir.join(p.file_name().unwrap()), kept.join("\n") + "\n").unwrap();
    }
    arg(&dir.join("*.csv"))
}

#[test]
fn synth_inject_into_london_adds_rigs_and_keeps_gaps() {
    let tmp = tempfile::tempdir().unwrap();
    let london = gappy_london(&tmp.path().join("london"));
    let out = tmp.path().join("out");
    let cols = [
        "--meter-col",
        "LCLid",
        "--time-col",
        "tstp",
        "--value-col",
        "energy(kWh/hh)",
    ];
    let mut argv = vec!["--inject-into", london.as_str()];
    argv.extend_from_slice(&cols);
    argv.extend_from_slice(&[
        "--inject-share",
        "0.6",
        "--mining-mix",
        "mixed=1",
        "--seed",
        "3",
    ]);
    let s = synth(&out, &argv);
    assert_eq!((s.meters, s.hidden_miners), (5, 3));
    assert!(s.readings_missing > 5 * 50, "the input has gaps");
    let mut orig_argv = vec!["-r", london.as_str()];
    orig_argv.extend_from_slice(&cols);
    let orig = support::load(&orig_argv).matrix;
    let inj = support::load(&["-r", &arg(&out.join("readings.parquet"))]).matrix;
    assert_eq!(orig.present_slots(), inj.present_slots());
    assert_eq!(orig.meter_ids(), inj.meter_ids());
    assert_eq!(orig.grid, inj.grid);
    let hours = orig.grid.interval_hours();
    let rows = labels(&out);
    let mut checked = 0;
    for r in &rows {
        let (a, b) = (
            orig.series(&r["meter_id"]).unwrap(),
            inj.series(&r["meter_id"]).unwrap(),
        );
        for (x, y) in a.iter().zip(b) {
            assert_eq!(
                x.is_nan(),
                y.is_nan(),
                "a gap must stay a gap, and only gaps"
            );
        }
        if r["kind"] == "household" {
            assert!(
                a.iter().zip(b).all(|(x, y)| x == y || x.is_nan()),
                "untouched"
            );
            continue;
        }
        assert_eq!(r["kind"], "mining_mixed");
        let rig_kw: f64 = r["rig_kw"].parse().unwrap();
        let on = slot_of(&orig, &r["onset"]);
        let diff: Vec<f32> = a.iter().zip(b).map(|(x, y)| y - x).collect();
        assert!(
            diff[..on].iter().all(|d| d.is_nan() || d.abs() < 1e-6),
            "nothing before onset"
        );
        let added = mean_kw(&diff[on..], hours);
        assert!(
            (added / rig_kw - 1.0).abs() < 0.1,
            "{}: +{added} kW vs rig {rig_kw}",
            r["meter_id"]
        );
        // The brief's check on the injected series alone: after - before ~ rig kW.
        if on > 48 {
            let step = mean_kw(&b[on..], hours) - mean_kw(&b[..on], hours);
            assert!(
                (step / rig_kw - 1.0).abs() < 0.1,
                "{}: step {step} vs {rig_kw}",
                r["meter_id"]
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 3);
}

#[test]
fn synth_cli_help_and_bad_options() {
    let (code, stdout, _) = run_raw(&["synth", "--help"]);
    assert_eq!(code, 0);
    for opt in [
        "--meters",
        "--mining-share",
        "--mining-mix",
        "--inject-into",
        "--loss-quadratic",
        "--chunk-meters",
    ] {
        assert!(stdout.contains(opt), "--help lacks {opt}");
    }
    let tmp = tempfile::tempdir().unwrap();
    let o = arg(tmp.path());
    let (code, _, stderr) = run_raw(&["synth", "--out", &o, "--mining-share", "2"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("--mining-share") && stderr.contains("fix:"),
        "{stderr}"
    );
    let (code, stdout, stderr) = run_raw(&["synth", "--out", &o, "--meters", "50", "--days", "2"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("rows/s"), "{stdout}");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("synth.json")).unwrap()).unwrap();
    assert_eq!(json["settings"]["region"]["meters"], 50);
    assert_eq!(json["summary"]["meters"], 50);
}
