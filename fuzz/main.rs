//! A mutation fuzzer for gridsleuth's readers on the stable toolchain (cargo-fuzz needs nightly).
//!
//! ```sh
//! cargo run --release --example fuzz -- TARGET [--seconds N] [--seed S] [--max-len BYTES]
//!     [--timeout SECS] [--work DIR]
//! cargo run --release --example fuzz -- TARGET --replay FILE     (one input, with its panic)
//! ```
//!
//! Starts from the target's seeds (data-samples/bad, the fixtures) and its kept corpus
//! (`fuzz/corpus/TARGET/`), and mutates them: bytes, lines, numbers and timestamps from a
//! dictionary of what real exports get wrong (1e300, NaN, 1990-01-01, 2999-01-01, DST hours,
//! NEM12 records, TOML tables), splices of two inputs. Without coverage counters on stable, an
//! input joins the corpus when its outcome signature is new (which error, which quarantine
//! reasons, the grid's shape: see `targets.rs`). Each input runs with a watchdog; a panic is
//! minimised and written to `fuzz/crashes/TARGET/`, a hang (over `--timeout`) too, and the
//! fuzzer exits 1. An abort (an allocation failure) ends the process: the input is in
//! `WORK/TARGET/input` (`--work`, default `fuzz/out`), which `benches/fuzz.sh` copies to the
//! crashes folder.
//!
//! Every crash found becomes a regression input in `fuzz/regressions/TARGET/`, run by
//! `tests/integration/fuzz.rs` with `cargo test`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod targets;

use std::collections::BTreeSet;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

const COMMON: &[&str] = &[
    "1e300",
    "-1e300",
    "1e-300",
    "NaN",
    "inf",
    "-0",
    "0",
    "-1",
    "0.5",
    "4294967296",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551616",
    "1990-01-01T00:00:00Z",
    "2999-01-01T00:00:00Z",
    "1970-01-01",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "10000-01-01",
    "2024-03-31 01:30:00",
    "2024-10-27 01:30:00",
    "2024-02-29",
    "2023-02-29",
    "2024-03-01T00:00:00+14:00",
    "2024-03-01T00:00:00-12",
    "T24:00",
    "Z",
    ",",
    ";",
    "\"",
    "\"\"",
    "\r\n",
    "\n",
    "\n\n",
    "\r",
    "\u{feff}",
    "é",
    "\u{0}",
    "NA",
    "null",
    "-",
    "   ",
    "\t",
    "M1",
    "M2",
    "meter_id",
    "timestamp",
    "kwh",
    "date",
    "feeder_id",
    "temperature_c",
    "true",
    "maybe",
    "Europe/London",
    "Mars/Base",
    "1709251200",
    "253402300800",
    "-62135596801",
];
const NEM12: &[&str] = &[
    "100,NEM12,",
    "200,",
    "300,",
    "400,1,48,A,,",
    "400,0,0,A",
    "400,48,1,E52",
    "500,O,S01,",
    "900\n",
    ",E1,",
    ",B1,",
    ",KWH,",
    ",WH,",
    ",MWH,",
    ",KVARH,",
    ",5,",
    ",15,",
    ",30,",
    ",1,",
    ",0,",
    ",7,",
    ",1440,",
    ",V,",
    ",A,",
    ",N,",
    ",E52,",
    "20240101",
    "29990101",
    "19900101",
    "99999999",
    "2.01811E+13",
    "100,NEM13,",
];
const WIDE: &[&str] = &[
    "NMI",
    "DATE",
    "ESTIMATED?",
    "Yes",
    "E",
    "22/6/19",
    "31/2/20",
    "2019-06-22",
    "0.7",
    ",,,,",
];
const TOML: &[&str] = &[
    "[score]\n",
    "[cluster]\n",
    "[balance]\n",
    "[drop]\n",
    "[time]\n",
    "[limits]\n",
    "[quality]\n",
    "[inputs]\n",
    "[readings]\n",
    "[wide]\n",
    "[nem12]\n",
    "[feeders]\n",
    "memory_budget = \"1G\"\n",
    "memory_budget = \"0%\"\n",
    "memory_budget = \"1e30\"\n",
    "k = 0\n",
    "k = 65\n",
    "n_runs = 0\n",
    "max_fit_meters = 0\n",
    "= 1e300\n",
    "= -1\n",
    "= nan\n",
    "= inf\n",
    "= -inf\n",
    "= 0\n",
    "= 1\n",
    "= 18446744073709551615\n",
    "= true\n",
    "= \"x\"\n",
    "= []\n",
    "interval = \"7m\"\n",
    "interval = \"0m\"\n",
    "interval = \"9999999999h\"\n",
    "tz = \"Mars/Base\"\n",
    "start = \"2024-01-01\"\n",
    "end = \"2023-01-01\"\n",
    "end = \"2999-01-01\"\n",
    "timestamp_format = \"%Q\"\n",
    "delimiter = \"\"\n",
    "delimiter = \"ab\"\n",
    "delimiter = \"tab\"\n",
    "max_kw = 0\n",
    "confidence = 1\n",
    "pre_days = 4294967295\n",
    "loss_share = 0.6\n",
    "flag_threshold = 2\n",
    "level_from_kw = 0.9\n",
    "level_full_kw = 0.25\n",
    "format = \"nem12\"\n",
    "unit = \"w\"\n",
    "null_tokens = [\"\"]\n",
    "method = \"gmm\"\n",
];

#[derive(Debug)]
struct Args {
    target: String,
    seconds: f64,
    seed: u64,
    max_len: usize,
    timeout: Duration,
    root: PathBuf,
    /// Where each input is written for the target to read (`--work`, else fuzz/out/TARGET).
    work: Option<PathBuf>,
    /// Run this one input and print its outcome (a panic shows its backtrace).
    replay: Option<PathBuf>,
}

fn parse_args() -> Args {
    let mut a = std::env::args().skip(1);
    let target = a.next().unwrap_or_else(|| {
        eprintln!(
            "usage: fuzz TARGET [--seconds N] [--seed S] [--max-len BYTES] [--timeout SECS]\n\
             targets: {}",
            targets::TARGETS.join(" ")
        );
        std::process::exit(2)
    });
    let mut args = Args {
        target,
        seconds: 10.0,
        seed: 1,
        max_len: 1 << 16,
        timeout: Duration::from_secs(10),
        root: PathBuf::from(env!("CARGO_MANIFEST_DIR")),
        work: None,
        replay: None,
    };
    while let Some(flag) = a.next() {
        let v = a.next().unwrap_or_default();
        match flag.as_str() {
            "--seconds" => args.seconds = v.parse().expect("--seconds N"),
            "--seed" => args.seed = v.parse().expect("--seed S"),
            "--max-len" => args.max_len = v.parse().expect("--max-len BYTES"),
            "--timeout" => args.timeout = Duration::from_secs_f64(v.parse().expect("--timeout")),
            "--work" => args.work = Some(PathBuf::from(v)),
            "--replay" => args.replay = Some(PathBuf::from(v)),
            other => panic!("unknown option {other}"),
        }
    }
    if !targets::TARGETS.contains(&args.target.as_str()) {
        eprintln!(
            "unknown target {:?}; targets: {}",
            args.target,
            targets::TARGETS.join(" ")
        );
        std::process::exit(2);
    }
    args
}

fn dictionary(target: &str) -> Vec<&'static str> {
    let mut d = COMMON.to_vec();
    match target {
        "nem12" => d.extend_from_slice(NEM12),
        "wide" => d.extend_from_slice(WIDE),
        "config" => d.extend_from_slice(TOML),
        _ => {}
    }
    d
}

fn mutate(rng: &mut Xoshiro256PlusPlus, input: &[u8], other: &[u8], dict: &[&str]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..rng.gen_range(1..=4) {
        let len = v.len();
        let at =
            |rng: &mut Xoshiro256PlusPlus, n: usize| if n == 0 { 0 } else { rng.gen_range(0..=n) };
        match rng.gen_range(0..12) {
            0 if len > 0 => {
                let i = rng.gen_range(0..len);
                v[i] ^= 1 << rng.gen_range(0..8);
            }
            1 if len > 0 => {
                let i = rng.gen_range(0..len);
                v[i] = *b",\n\"\r0123456789-:.eTZ \x00\xff"
                    .get(rng.gen_range(0..22))
                    .unwrap_or(&b'0');
            }
            2 | 3 => {
                let tok = dict[rng.gen_range(0..dict.len())].as_bytes();
                let i = at(rng, len);
                v.splice(i..i, tok.iter().copied());
            }
            4 if len > 0 => {
                let i = rng.gen_range(0..len);
                let n = rng.gen_range(1..=16).min(len - i);
                v.drain(i..i + n);
            }
            5 if len > 0 => {
                let i = rng.gen_range(0..len);
                let n = rng.gen_range(1..=64).min(len - i);
                let chunk: Vec<u8> = v[i..i + n].to_vec();
                let j = at(rng, len);
                v.splice(j..j, chunk);
            }
            6 | 7 => {
                // Line edits: repeat, delete or swap lines.
                let mut lines: Vec<Vec<u8>> =
                    v.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
                let n = lines.len();
                let i = rng.gen_range(0..n);
                match rng.gen_range(0..4) {
                    0 => {
                        let times = if rng.gen_bool(0.2) {
                            rng.gen_range(2..200)
                        } else {
                            1
                        };
                        let l = lines[i].clone();
                        for _ in 0..times {
                            lines.insert(i, l.clone());
                        }
                    }
                    1 if n > 1 => {
                        lines.remove(i);
                    }
                    _ => {
                        let j = rng.gen_range(0..n);
                        lines.swap(i, j);
                    }
                }
                v = lines.join(&b'\n');
            }
            8 => {
                // Replace a run of digits (a number, a date part) with a dictionary token.
                if let Some(start) = (0..len)
                    .map(|k| (k + at(rng, len)) % len.max(1))
                    .find(|&k| v.get(k).is_some_and(u8::is_ascii_digit))
                {
                    let end = (start..len)
                        .find(|&k| !(v[k].is_ascii_digit() || v[k] == b'.'))
                        .unwrap_or(len);
                    let tok = dict[rng.gen_range(0..dict.len())].as_bytes();
                    v.splice(start..end, tok.iter().copied());
                }
            }
            9 if !other.is_empty() => {
                // Splice: a prefix of this input, a suffix of another.
                let i = at(rng, len);
                let j = rng.gen_range(0..other.len());
                v.truncate(i);
                v.extend_from_slice(&other[j..]);
            }
            10 if len > 0 => {
                v.truncate(rng.gen_range(0..len));
            }
            _ => {
                // An extra field separator.
                let k = at(rng, len);
                v.insert(k, b',');
            }
        }
    }
    v
}

fn hash_name(data: &[u8]) -> String {
    format!("{:016x}", targets::fnv1a(data))
}

/// Runs one input, turning a panic into its message.
fn run_one(target: &str, data: &[u8], dir: &Path) -> Result<String, String> {
    std::panic::catch_unwind(AssertUnwindSafe(|| targets::run(target, data, dir))).map_err(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_string()))
            .unwrap_or_else(|| "panic".into())
    })
}

/// Shrinks a panicking input: removes chunks (halving their size) while it still panics with
/// the same message.
fn minimise(target: &str, data: &[u8], msg: &str, dir: &Path, budget: Duration) -> Vec<u8> {
    let t0 = Instant::now();
    let mut best = data.to_vec();
    let mut chunk = best.len() / 2;
    while chunk >= 1 && t0.elapsed() < budget {
        let mut i = 0;
        let mut shrunk = false;
        while i < best.len() && t0.elapsed() < budget {
            let mut cand = best.clone();
            cand.drain(i..(i + chunk).min(cand.len()));
            if run_one(target, &cand, dir).err().as_deref() == Some(msg) {
                best = cand;
                shrunk = true;
            } else {
                i += chunk;
            }
        }
        if !shrunk {
            chunk /= 2;
        }
    }
    best
}

fn main() {
    let args = parse_args();
    let t = args.target.as_str();
    let corpus_dir = args.root.join("fuzz/corpus").join(t);
    let crash_dir = args.root.join("fuzz/crashes").join(t);
    let work = args
        .work
        .clone()
        .unwrap_or_else(|| args.root.join("fuzz/out"))
        .join(t);
    std::fs::create_dir_all(&corpus_dir).unwrap();
    std::fs::create_dir_all(&work).unwrap();
    if let Some(file) = &args.replay {
        let data = std::fs::read(file).expect("read the input to replay");
        println!("{}", targets::run(t, &data, &work));
        return;
    }
    std::panic::set_hook(Box::new(|_| {})); // findings are reported below, once

    let mut corpus: Vec<Vec<u8>> = Vec::new();
    for p in targets::seeds(&args.root, t) {
        if let Ok(b) = std::fs::read(&p) {
            corpus.push(b.into_iter().take(args.max_len).collect());
        }
    }
    let n_seeds = corpus.len();
    let mut kept = 0usize;
    if let Ok(rd) = std::fs::read_dir(&corpus_dir) {
        let mut files: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        files.sort();
        for p in files {
            if let Ok(b) = std::fs::read(&p) {
                corpus.push(b);
                kept += 1;
            }
        }
    }
    if corpus.is_empty() {
        corpus.push(Vec::new());
    }

    // Watchdog: an input running longer than --timeout is a hang.
    let started = Arc::new(AtomicU64::new(0));
    let epoch = Instant::now();
    {
        let started = Arc::clone(&started);
        let timeout = args.timeout;
        let (input, crash_dir) = (work.join("input"), crash_dir.clone());
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_millis(250));
            let s = started.load(Ordering::Relaxed);
            if s > 0 && epoch.elapsed().as_millis() as u64 - s > timeout.as_millis() as u64 {
                let data = std::fs::read(&input).unwrap_or_default();
                std::fs::create_dir_all(&crash_dir).ok();
                let out = crash_dir.join(format!("hang-{}", hash_name(&data)));
                std::fs::write(&out, &data).ok();
                eprintln!(
                    "HANG: an input ran over {timeout:?}; written to {}",
                    out.display()
                );
                std::process::exit(1);
            }
        });
    }

    let mut signatures: BTreeSet<String> = BTreeSet::new();
    for c in &corpus {
        match run_one(t, c, &work) {
            Ok(sig) => {
                learn(&mut signatures, &sig);
            }
            Err(msg) => report_crash(t, c, &msg, &work, &crash_dir),
        }
    }
    let dict = dictionary(t);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(args.seed);
    let deadline = Instant::now() + Duration::from_secs_f64(args.seconds);
    let (mut execs, mut added) = (0u64, 0usize);
    while Instant::now() < deadline {
        let a = &corpus[rng.gen_range(0..corpus.len())];
        let b = &corpus[rng.gen_range(0..corpus.len())];
        let mut input = mutate(&mut rng, a, b, &dict);
        input.truncate(args.max_len);
        started.store(epoch.elapsed().as_millis().max(1) as u64, Ordering::Relaxed);
        let outcome = run_one(t, &input, &work);
        started.store(0, Ordering::Relaxed);
        execs += 1;
        match outcome {
            Ok(sig) => {
                if learn(&mut signatures, &sig) {
                    std::fs::write(corpus_dir.join(hash_name(&input)), &input).unwrap();
                    corpus.push(input);
                    added += 1;
                }
            }
            Err(msg) => report_crash(t, &input, &msg, &work, &crash_dir),
        }
    }
    let listing: Vec<&str> = signatures.iter().map(String::as_str).collect();
    std::fs::write(work.join("signatures.txt"), listing.join("\n")).ok();
    println!(
        "fuzz {t}: {execs} inputs in {:.0} s ({:.0}/s), 0 crashes, 0 hangs; corpus {} seeds + {} kept + {added} new, {} outcome words",
        args.seconds,
        execs as f64 / args.seconds.max(1e-9),
        n_seeds,
        kept,
        signatures.len()
    );
}

/// Adds the words of a signature; `true` when one was new.
fn learn(seen: &mut BTreeSet<String>, sig: &str) -> bool {
    let mut new = false;
    for w in sig.split_whitespace() {
        new |= seen.insert(w.to_string());
    }
    new
}

fn report_crash(t: &str, input: &[u8], msg: &str, work: &Path, crash_dir: &Path) -> ! {
    let small = minimise(t, input, msg, work, Duration::from_secs(60));
    std::fs::create_dir_all(crash_dir).unwrap();
    let out = crash_dir.join(format!("crash-{}", hash_name(&small)));
    std::fs::write(&out, &small).unwrap();
    std::fs::write(
        crash_dir.join(format!("crash-{}-full", hash_name(input))),
        input,
    )
    .unwrap();
    eprintln!(
        "CRASH in {t}: {msg}\n  minimised input ({} bytes, from {}) written to {}",
        small.len(),
        input.len(),
        out.display()
    );
    std::process::exit(1);
}
