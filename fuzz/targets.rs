//! Fuzz targets: each takes the bytes of one input file, runs one reader of gridsleuth on it the
//! way a run would, and checks what must hold whatever the input (counts reconcile, the matrix
//! has its shape, a config that is accepted prints back to itself). A panic, an abort or a hang
//! is a finding; an error returned is not (bad input is allowed to be refused, with a message).
//!
//! Shared by the fuzzer (`fuzz/main.rs`, run by `benches/fuzz.sh`) and by the regression test
//! (`tests/integration/fuzz.rs`), which runs every input under `fuzz/regressions/` and the
//! seeds through them.

#![allow(dead_code, clippy::manual_is_multiple_of)]

use std::path::{Path, PathBuf};

use gridsleuth::grid::TimeGrid;
use gridsleuth::ingest::{
    self, long_csv, meta, nem12, weather, wide, Accumulator, AccumulatorConfig, AmbiguousPolicy,
    GapPolicy, LongFormat, MemoryBudget, Nem12Format, Progress, TimeFormat, TimeSpec, ValueUnit,
    WideFormat,
};
use gridsleuth::settings::{self, DetectFlags, IngestFlags};

/// Memory the readers may take under the fuzzer: an input asking for more is refused with a
/// budget error (the behaviour under test), not allocated.
pub const FUZZ_BUDGET: u64 = 256 << 20;

/// The targets, by name.
pub const TARGETS: [&str; 8] = [
    "long_csv", "parquet", "nem12", "wide", "meters", "feeders", "weather", "config",
];

/// The seed folders of a target, relative to the repository: data-samples/bad, the fixtures,
/// and for the feeders and weather readers the same classes in their layouts (fuzz/seeds/).
pub fn seed_dirs(target: &str) -> Vec<&'static str> {
    match target {
        "long_csv" => vec!["data-samples/bad"],
        "parquet" => vec!["fuzz/seeds/parquet"],
        "nem12" => vec!["tests/fixtures/nem12"],
        "wide" => vec!["tests/fixtures/wide"],
        "meters" => vec!["data-samples/bad"],
        "feeders" => vec!["fuzz/seeds/feeders"],
        "weather" => vec!["fuzz/seeds/weather"],
        "config" => vec!["fuzz/seeds/config"],
        _ => vec![],
    }
}

/// Seed files of `target` (sorted), with the few single files that suit it.
pub fn seeds(root: &Path, target: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for d in seed_dirs(target) {
        if let Ok(rd) = std::fs::read_dir(root.join(d)) {
            for e in rd.flatten() {
                let p = e.path();
                let is_md = p.extension().is_some_and(|x| x == "md");
                if p.is_file() && !is_md {
                    out.push(p);
                }
            }
        }
    }
    let extra: &[&str] = match target {
        "meters" => &["data-samples/region/meters.csv"],
        "weather" => &["data-samples/region/weather.csv"],
        "config" => &["data-samples/region.toml"],
        "nem12" => &["data-samples/bad/clean.csv"],
        "wide" => &["data-samples/bad/clean.csv"],
        _ => &[],
    };
    out.extend(extra.iter().map(|p| root.join(p)));
    out.sort();
    out
}

/// What an input did, as words (the outcome, the grid's shape, each quarantine reason, each
/// error): an input that shows a word never seen before is kept in the corpus.
pub type Signature = String;

fn reason_words(q: &ingest::QualityLog) -> String {
    q.quarantined_by_reason()
        .keys()
        .map(|r| format!("r:{}", r.as_str()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `target` on `data`, using `dir` for its files. Panics on a finding.
pub fn run(target: &str, data: &[u8], dir: &Path) -> Signature {
    let input = dir.join("input");
    std::fs::write(&input, data).expect("write the input");
    let variant = fnv1a(data);
    match target {
        "long_csv" => long_csv_target(&input, variant),
        "parquet" => parquet_target(&input, variant),
        "nem12" => nem12_target(&input),
        "wide" => wide_target(&input, variant),
        "meters" => meters_target(&input),
        "feeders" => feeders_target(&input, dir),
        "weather" => weather_target(&input, variant),
        "config" => config_target(&input, dir),
        other => panic!("unknown fuzz target {other:?}"),
    }
}

/// FNV-1a: picks the option set of an input (the same input always gets the same options).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn acc_config(variant: u64) -> AccumulatorConfig {
    let day = 86_400;
    let t0 = 1_709_251_200; // 2024-03-01T00:00:00Z
    AccumulatorConfig {
        interval_secs: match variant % 5 {
            0 => Some(1800),
            1 => Some(3600),
            _ => None,
        },
        window: (variant % 7 == 0).then_some((t0, t0 + 2 * day)),
        max_kw: if variant % 11 == 0 { 1.0 } else { 2000.0 },
        allow_negative: variant % 3 == 0,
        stamps_mark_end: variant % 13 == 0,
        budget: MemoryBudget { bytes: FUZZ_BUDGET },
        ..AccumulatorConfig::default()
    }
}

fn time_spec(variant: u64) -> TimeSpec {
    TimeSpec {
        format: match (variant >> 8) % 6 {
            0 => TimeFormat::EpochSecs,
            1 => TimeFormat::parse("%d/%m/%Y %H:%M"),
            _ => TimeFormat::Iso,
        },
        tz: if (variant >> 12) % 3 == 0 {
            chrono_tz::Europe::London
        } else {
            chrono_tz::UTC
        },
        ambiguous: match (variant >> 16) % 4 {
            0 => AmbiguousPolicy::Earliest,
            1 => AmbiguousPolicy::Reject,
            _ => AmbiguousPolicy::Sequential,
        },
        gap: if (variant >> 20) % 2 == 0 {
            GapPolicy::Reject
        } else {
            GapPolicy::ShiftForward
        },
    }
}

/// Finishes `acc` and checks what must hold of any outcome.
fn finish(acc: Accumulator) -> Signature {
    match acc.finish() {
        Ok(f) => {
            let q = &f.quality;
            assert!(
                q.reconciles(),
                "counts do not reconcile: read {} used {} quarantined {} duplicates {}",
                q.readings_read,
                q.readings_used,
                q.readings_quarantined(),
                q.exact_duplicates
            );
            let m = &f.matrix;
            assert_eq!(f.native_interval.len(), m.n_meters());
            let present: u64 = (0..m.n_meters())
                .map(|i| u64::from(m.coverage(i).present))
                .sum();
            assert!(present <= q.readings_used, "more cells than readings used");
            format!(
                "ok m{}-i{} {}",
                m.n_meters().min(3),
                m.grid.interval_secs,
                reason_words(q)
            )
        }
        Err(e) => {
            if let ingest::accumulate::FinishError::NoData { quality } = &e {
                assert!(quality.reconciles(), "counts do not reconcile (no data)");
            }
            format!(
                "finish-error:{}",
                first_word(&e.to_string()).replace(' ', "_")
            )
        }
    }
}

fn first_word(s: &str) -> String {
    s.split([':', '\n'])
        .next()
        .unwrap_or("")
        .chars()
        .take(40)
        .collect()
}

fn err_sig(e: &ingest::IngestError) -> Signature {
    // The variant, not the path or line (those differ per input).
    let dbg = format!("{e:?}");
    format!("error:{}", dbg.split([' ', '(', '{']).next().unwrap_or(""))
}

fn long_csv_target(input: &Path, variant: u64) -> Signature {
    let fmt = LongFormat {
        unit: match (variant >> 24) % 5 {
            0 => ValueUnit::Kw,
            1 => ValueUnit::Wh,
            _ => ValueUnit::Kwh,
        },
        time: time_spec(variant),
        ..LongFormat::default()
    };
    let mut acc = Accumulator::new(acc_config(variant));
    match long_csv::read_long_csv(input, &fmt, &mut acc, &Progress::hidden()) {
        Ok(()) => finish(acc),
        Err(e) => err_sig(&e),
    }
}

fn parquet_target(input: &Path, variant: u64) -> Signature {
    let fmt = LongFormat {
        time: time_spec(variant),
        ..LongFormat::default()
    };
    let mut acc = Accumulator::new(acc_config(variant));
    match ingest::long_parquet::read_long_parquet(input, &fmt, &mut acc, &Progress::hidden()) {
        Ok(()) => finish(acc),
        Err(e) => err_sig(&e),
    }
}

fn nem12_target(input: &Path) -> Signature {
    let mut acc = Accumulator::new(acc_config(2));
    match nem12::read_nem12(
        input,
        &Nem12Format::default(),
        &mut acc,
        &Progress::hidden(),
    ) {
        Ok(()) => finish(acc),
        Err(e) => err_sig(&e),
    }
}

fn wide_target(input: &Path, variant: u64) -> Signature {
    let fmt = WideFormat {
        id_col: if variant % 2 == 0 { "meter_id" } else { "NMI" }.into(),
        date_col: if variant % 2 == 0 { "date" } else { "DATE" }.into(),
        date_format: if variant % 2 == 0 {
            "%Y-%m-%d"
        } else {
            "%d/%m/%y"
        }
        .into(),
        estimated_col: (variant % 2 == 1).then(|| "ESTIMATED?".into()),
        time: time_spec(variant),
        ..WideFormat::default()
    };
    let mut acc = Accumulator::new(acc_config(variant));
    match wide::read_wide(input, &fmt, &mut acc, &Progress::hidden()) {
        Ok(()) => finish(acc),
        Err(e) => err_sig(&e),
    }
}

fn meters_target(input: &Path) -> Signature {
    match meta::read_meters_within(input, MemoryBudget { bytes: FUZZ_BUDGET }) {
        Ok((table, q)) => {
            assert!(q.reconciles(), "meters: counts do not reconcile");
            assert_eq!(table.len() as u64, q.readings_used);
            for r in table.rows() {
                assert!(table.get(&r.meter_id).is_some());
            }
            format!("ok-{} {}", table.len().min(3), reason_words(&q))
        }
        Err(e) => err_sig(&e),
    }
}

/// A clean region of two meters on feeder F1 over two days, half-hourly.
fn region_files(dir: &Path) -> (PathBuf, PathBuf) {
    let readings = dir.join("readings.csv");
    let meters = dir.join("meters.csv");
    if !readings.exists() {
        let mut r = String::from("meter_id,timestamp,kwh\n");
        for m in ["M1", "M2"] {
            for k in 0..96 {
                let (h, mi) = ((k / 2) % 24, (k % 2) * 30);
                let d = 1 + k / 48;
                r += &format!("{m},2024-03-0{d}T{h:02}:{mi:02}:00Z,0.{}\n", 2 + k % 7);
            }
        }
        std::fs::write(&readings, r).expect("write readings");
        std::fs::write(
            &meters,
            "meter_id,feeder_id,tariff\nM1,F1,residential\nM2,F1,residential\n",
        )
        .expect("write meters");
    }
    (readings, meters)
}

fn ingest_flags(dir: &Path) -> IngestFlags {
    let (readings, meters) = region_files(dir);
    IngestFlags {
        readings: vec![readings.display().to_string()],
        meters: Some(meters),
        memory_budget: Some(format!("{FUZZ_BUDGET}")),
        out: dir.join("out"),
        ..IngestFlags::default()
    }
}

fn feeders_target(input: &Path, dir: &Path) -> Signature {
    let flags = IngestFlags {
        feeders: vec![input.display().to_string()],
        ..ingest_flags(dir)
    };
    let opts = settings::resolve_ingest(&flags, false).expect("the fixed settings are valid");
    let ing = match ingest::load(&opts) {
        Ok(ing) => ing,
        Err(e) => return err_sig(&e),
    };
    let feeders = ing.feeders.as_ref().expect("feeders were given");
    assert!(
        feeders.quality.reconciles(),
        "feeders: counts do not reconcile"
    );
    assert_eq!(
        feeders.matrix.grid, ing.matrix.grid,
        "feeders off the meters' grid"
    );
    let bal = gridsleuth::grid_analysis::balance(
        &ing,
        &gridsleuth::grid_analysis::BalanceConfig::default(),
    );
    format!(
        "ok-f{} {} balance-{}",
        feeders.matrix.n_meters().min(3),
        reason_words(&feeders.quality),
        match bal {
            Ok(r) => format!("ok-{}", r.feeders.len().min(3)),
            Err(e) => format!("error:{}", first_word(&e.to_string()).replace(' ', "_")),
        }
    )
}

fn weather_target(input: &Path, variant: u64) -> Signature {
    let grid = TimeGrid {
        start: 1_709_251_200,
        interval_secs: if variant % 2 == 0 { 1800 } else { 3600 },
        n_slots: 96,
    };
    match weather::read_weather(input, &time_spec(variant), &grid) {
        Ok((w, q)) => {
            assert!(q.reconciles(), "weather: counts do not reconcile");
            assert_eq!(w.temperature_c.len(), grid.n_slots);
            assert!(
                w.temperature_c
                    .iter()
                    .all(|t| t.is_nan() || (-90.0..=60.0).contains(t)),
                "a temperature outside the plausible range reached the grid"
            );
            let known = w.temperature_c.iter().filter(|t| !t.is_nan()).count();
            format!(
                "ok-{} q{} {}",
                known.min(2),
                q.readings_quarantined().min(2),
                reason_words(&q)
            )
        }
        Err(e) => err_sig(&e),
    }
}

fn config_target(input: &Path, dir: &Path) -> Signature {
    // Readings and feeders from the flags, so a fuzzed glob never walks the file system.
    let (readings, _) = region_files(dir);
    let flags = IngestFlags {
        readings: vec![readings.display().to_string()],
        feeders: vec![readings.display().to_string()],
        config: Some(input.to_path_buf()),
        out: dir.join("out"),
        ..IngestFlags::default()
    };
    let detect = DetectFlags::default();
    let resolved = match settings::resolved_config(&flags, &detect) {
        Ok(c) => c,
        Err(e) => {
            let _ = settings::balance_options(&flags, &Default::default(), false);
            return format!("refused:{}", first_word(&e.to_string()).replace(' ', "_"));
        }
    };
    // What `gridsleuth config` prints is accepted back and prints the same again.
    let text = resolved
        .to_toml()
        .expect("a resolved config prints as TOML");
    let again = dir.join("resolved.toml");
    std::fs::write(&again, &text).expect("write the resolved config");
    let flags2 = IngestFlags {
        config: Some(again),
        ..flags
    };
    let back = settings::resolved_config(&flags2, &detect)
        .unwrap_or_else(|e| panic!("the printed config is refused: {e}\n{text}"));
    assert_eq!(
        back.to_toml().expect("prints"),
        text,
        "the printed config does not print back to itself"
    );
    "accepted".into()
}
