//! Shared helpers: sample paths, loading through the library exactly as the binary parses its
//! flags, running the binary into a temporary directory, and reading its outputs back.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use gridsleuth::cli::{Cli, Command as Sub, IngestArgs};
use gridsleuth::grid::LoadMatrix;
use gridsleuth::ingest::quality::QUALITY_HEADER;
use gridsleuth::ingest::{Ingested, QualityLog, Reason};

/// The crate root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `data-samples/bad/NAME` as a string argument.
pub fn bad(name: &str) -> String {
    sample(&format!("bad/{name}"))
}

/// `data-samples/REL` as a string argument.
pub fn sample(rel: &str) -> String {
    repo().join("data-samples").join(rel).display().to_string()
}

/// The folder holding real third-party data beside the checkout: `$GRIDSLEUTH_SHARED_DIR` if
/// set, else `../shared` relative to the crate root. The product repository does not ship that
/// data (`data-samples/` holds only generated and hand-written files).
pub fn shared_dir() -> PathBuf {
    std::env::var_os("GRIDSLEUTH_SHARED_DIR")
        .map_or_else(|| repo().join("../shared"), PathBuf::from)
}

/// `<shared>/data/SUB` for a test on real data, or `None` when it is not there: the test then
/// returns early and reports itself with `SKIPPED: TEST: reason` on stderr (written past the
/// test harness's capture, so it shows in `cargo test` output). With
/// `GRIDSLEUTH_REQUIRE_SHARED=1` (set by `.ci/run` when `../shared/data` exists) a missing
/// folder fails the test instead.
pub fn shared_data(test: &str, sub: &str) -> Option<PathBuf> {
    let p = shared_dir().join("data").join(sub);
    if p.is_dir() {
        return Some(p);
    }
    let reason = format!(
        "{} is not there (real third-party data, not in this repository)",
        p.display()
    );
    if std::env::var("GRIDSLEUTH_REQUIRE_SHARED").is_ok_and(|v| v == "1") {
        panic!("{test}: {reason}, and GRIDSLEUTH_REQUIRE_SHARED=1 says it must be");
    }
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "SKIPPED: {test}: {reason}");
    None
}

/// A path as a string argument.
pub fn arg(p: &Path) -> String {
    p.display().to_string()
}

/// Parses `gridsleuth ingest ARGV` exactly as the binary does.
pub fn args(argv: &[&str]) -> IngestArgs {
    let cli = Cli::try_parse_from(["gridsleuth", "ingest"].iter().chain(argv))
        .unwrap_or_else(|e| panic!("cannot parse {argv:?}: {e}"));
    match cli.command {
        Sub::Ingest(a) => a,
        #[allow(unreachable_patterns)]
        _ => unreachable!("`ingest` parses to Command::Ingest"),
    }
}

/// `settings::resolve_ingest` + `ingest::load`; a fatal error as its message.
pub fn try_load(a: &IngestArgs) -> Result<Ingested, String> {
    let opts =
        gridsleuth::settings::resolve_ingest(&a.flags(), false).map_err(|e| e.to_string())?;
    gridsleuth::ingest::load(&opts).map_err(|e| e.to_string())
}

/// Loads `gridsleuth ingest ARGV` through the library; panics on a fatal error.
pub fn load(argv: &[&str]) -> Ingested {
    try_load(&args(argv)).unwrap_or_else(|e| panic!("gridsleuth ingest {argv:?} failed: {e}"))
}

/// (read, used, quarantined, exact duplicates) of a log, after checking that they reconcile.
pub fn counts(q: &QualityLog) -> (u64, u64, u64, u64) {
    let c = (
        q.readings_read,
        q.readings_used,
        q.readings_quarantined(),
        q.exact_duplicates,
    );
    assert!(
        q.reconciles(),
        "{}: read {} != used {} + quarantined {} + duplicates {}",
        q.dataset,
        c.0,
        c.1,
        c.2,
        c.3
    );
    c
}

/// The quality logs in `data_quality.csv` order: readings, meters, feeders, weather.
pub fn logs(ing: &Ingested) -> Vec<&QualityLog> {
    let mut v = vec![&ing.quality];
    if let Some((_, q)) = &ing.meters {
        v.push(q);
    }
    if let Some(f) = &ing.feeders {
        v.push(&f.quality);
    }
    if let Some((_, q)) = &ing.weather {
        v.push(q);
    }
    v
}

/// The log of one dataset.
pub fn log<'a>(ing: &'a Ingested, dataset: &str) -> &'a QualityLog {
    logs(ing)
        .into_iter()
        .find(|q| q.dataset == dataset)
        .unwrap_or_else(|| panic!("no {dataset} log"))
}

/// One data-quality record, as comparable between the library and `data_quality.csv`
/// (the file by its name only; `row` is `None` for a whole-meter record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rec {
    pub dataset: String,
    pub file: String,
    pub row: Option<u64>,
    pub column: String,
    pub meter_id: String,
    pub reason: String,
    pub readings: u64,
}

/// Builds an expected [`Rec`].
pub fn rec(
    dataset: &str,
    file: &str,
    row: Option<u64>,
    column: &str,
    meter_id: &str,
    reason: Reason,
    readings: u64,
) -> Rec {
    Rec {
        dataset: dataset.into(),
        file: file.into(),
        row,
        column: column.into(),
        meter_id: meter_id.into(),
        reason: reason.as_str().into(),
        readings,
    }
}

fn file_name(p: &str) -> String {
    Path::new(p)
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
}

/// The records of the library's logs, in `data_quality.csv` order.
pub fn records(ing: &Ingested) -> Vec<Rec> {
    let mut out = Vec::new();
    for q in logs(ing) {
        for i in q.issues() {
            out.push(Rec {
                dataset: q.dataset.into(),
                file: file_name(&q.file(i.file).display().to_string()),
                row: (i.row != 0).then_some(i.row),
                column: i.column.into(),
                meter_id: i.meter_id.clone(),
                reason: i.reason.as_str().into(),
                readings: i.readings,
            });
        }
    }
    out
}

/// Quarantined readings per reason, over every dataset.
pub fn reasons(ing: &Ingested) -> BTreeMap<Reason, u64> {
    let mut m = BTreeMap::new();
    for q in logs(ing) {
        for (r, n) in q.quarantined_by_reason() {
            *m.entry(*r).or_default() += n;
        }
    }
    m
}

/// A finished run of the binary.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub out: tempfile::TempDir,
}

/// Runs the binary with `ARGV` as given (no `-o` added).
pub fn run_raw(argv: &[&str]) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_gridsleuth"))
        .args(argv)
        .current_dir(repo())
        .output()
        .expect("run gridsleuth");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Runs `gridsleuth ingest ARGV --no-progress -o TMP`.
pub fn gridsleuth(argv: &[&str]) -> Run {
    let out = tempfile::tempdir().expect("tempdir");
    let o = arg(out.path());
    let mut full = vec!["ingest"];
    full.extend_from_slice(argv);
    full.extend_from_slice(&["--no-progress", "-o", &o]);
    let (code, stdout, stderr) = run_raw(&full);
    Run {
        code,
        stdout,
        stderr,
        out,
    }
}

impl Run {
    pub fn path(&self, name: &str) -> PathBuf {
        self.out.path().join(name)
    }

    /// `data_quality.csv`, after checking its header.
    pub fn dq(&self) -> Vec<Rec> {
        let p = self.path("data_quality.csv");
        let mut r = csv::Reader::from_path(&p)
            .unwrap_or_else(|e| panic!("{}: {e}\nstderr: {}", p.display(), self.stderr));
        let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
        assert_eq!(header, QUALITY_HEADER, "data_quality.csv header");
        r.records()
            .map(|rec| {
                let rec = rec.unwrap();
                Rec {
                    dataset: rec[0].into(),
                    file: file_name(&rec[1]),
                    row: (!rec[2].is_empty()).then(|| rec[2].parse().unwrap()),
                    column: rec[3].into(),
                    meter_id: rec[4].into(),
                    reason: rec[5].into(),
                    readings: rec[6].parse().unwrap(),
                }
            })
            .collect()
    }

    /// `ingest.json`.
    pub fn json(&self) -> serde_json::Value {
        let p = self.path("ingest.json");
        let text = std::fs::read_to_string(&p)
            .unwrap_or_else(|e| panic!("{}: {e}\nstderr: {}", p.display(), self.stderr));
        serde_json::from_str(&text).unwrap()
    }

    /// (read, used, quarantined, exact duplicates) of one dataset in `ingest.json`, after
    /// checking that they reconcile and that the file says so.
    pub fn json_counts(&self, dataset: &str) -> (u64, u64, u64, u64) {
        let j = self.json();
        let d = j["datasets"]
            .as_array()
            .expect("datasets")
            .iter()
            .find(|d| d["dataset"] == dataset)
            .unwrap_or_else(|| panic!("no dataset {dataset} in ingest.json: {j}"));
        let n = |k: &str| d[k].as_u64().unwrap_or_else(|| panic!("{k} in {d}"));
        let c = (
            n("read"),
            n("used"),
            n("quarantined"),
            n("exact_duplicates"),
        );
        assert_eq!(c.0, c.1 + c.2 + c.3, "{dataset} counts reconcile: {d}");
        assert_eq!(d["reconciles"], true, "{d}");
        let by_reason: u64 = d["quarantined_by_reason"]
            .as_object()
            .expect("quarantined_by_reason")
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum();
        assert_eq!(by_reason, c.2, "{dataset}: reasons sum to quarantined: {d}");
        c
    }
}

/// A quarantine case: the same arguments through the library and the binary.
#[derive(Debug)]
pub struct Case<'a> {
    /// `gridsleuth ingest` arguments (without `-o`).
    pub argv: &'a [&'a str],
    /// (dataset, read, used, quarantined, exact duplicates).
    pub counts: &'a [(&'a str, u64, u64, u64, u64)],
    /// Quarantined readings per reason, over all datasets.
    pub reasons: &'a [(Reason, u64)],
    /// Every `data_quality.csv` record, in order.
    pub records: Vec<Rec>,
}

/// Checks a quarantine case through the library (counts, reasons, records) and the binary
/// (exit code 1, `data_quality.csv`, `ingest.json`); returns the library's result.
pub fn check_quarantine(case: &Case<'_>) -> Ingested {
    let ing = load(case.argv);
    for &(ds, read, used, quarantined, dups) in case.counts {
        assert_eq!(
            counts(log(&ing, ds)),
            (read, used, quarantined, dups),
            "{ds} (read, used, quarantined, exact duplicates)"
        );
    }
    let want: BTreeMap<Reason, u64> = case.reasons.iter().copied().collect();
    assert_eq!(reasons(&ing), want, "quarantined by reason");
    assert_eq!(records(&ing), case.records, "data-quality records");

    let run = gridsleuth(case.argv);
    assert_eq!(
        run.code, 1,
        "exit code with quarantined readings\nstdout: {}\nstderr: {}",
        run.stdout, run.stderr
    );
    assert_eq!(run.dq(), case.records, "data_quality.csv");
    for &(ds, read, used, quarantined, dups) in case.counts {
        assert_eq!(
            run.json_counts(ds),
            (read, used, quarantined, dups),
            "ingest.json {ds}"
        );
    }
    for r in case.reasons {
        assert!(
            run.stdout.contains(r.0.as_str()),
            "the summary names {}: {}",
            r.0,
            run.stdout
        );
    }
    ing
}

/// Checks a fatal case: the library returns an error and the binary exits 2, both with every
/// needle in the message. Returns the binary's stderr.
pub fn check_fatal(argv: &[&str], needles: &[&str]) -> String {
    let err = match try_load(&args(argv)) {
        Ok(_) => panic!("gridsleuth ingest {argv:?} should fail"),
        Err(e) => e,
    };
    for n in needles {
        assert!(err.contains(n), "library error should mention {n:?}: {err}");
    }
    let run = gridsleuth(argv);
    assert_eq!(
        run.code, 2,
        "fatal exit code\nstdout: {}\nstderr: {}",
        run.stdout, run.stderr
    );
    assert!(run.stderr.starts_with("error: "), "{}", run.stderr);
    for n in needles {
        assert!(
            run.stderr.contains(n),
            "stderr should mention {n:?}: {}",
            run.stderr
        );
    }
    run.stderr
}

/// Seconds since the epoch of an RFC 3339 timestamp.
pub fn ts(s: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{s}: {e}"))
        .timestamp()
}

/// Value of `meter` at the slot starting at `at` (RFC 3339).
pub fn val(m: &LoadMatrix, meter: &str, at: &str) -> f32 {
    let row = m
        .series(meter)
        .unwrap_or_else(|| panic!("no meter {meter} in {:?}", m.meter_ids()));
    let s = m
        .grid
        .slot_of(ts(at))
        .unwrap_or_else(|| panic!("{at} is not on the grid {:?}", m.grid));
    assert_eq!(m.grid.slot_start(s), ts(at), "{at} is a slot start");
    row[s]
}

/// Meter ids as strings.
pub fn ids(m: &LoadMatrix) -> Vec<String> {
    m.meter_ids().iter().map(|s| s.to_string()).collect()
}

/// Asserts two matrices are identical: ids, grid, every value bit for bit (NaN where NaN).
pub fn assert_same_matrix(a: &LoadMatrix, b: &LoadMatrix, what: &str) {
    assert_eq!(ids(a), ids(b), "{what}: meter ids");
    assert_eq!(a.grid, b.grid, "{what}: grid");
    assert_eq!(a.values().len(), b.values().len(), "{what}: shape");
    let n = a.grid.n_slots;
    for (k, (x, y)) in a.values().iter().zip(b.values()).enumerate() {
        let same = (x.is_nan() && y.is_nan()) || x.to_bits() == y.to_bits();
        assert!(
            same,
            "{what}: meter {} slot {} differs: {x} vs {y}",
            a.meter_ids()[k / n],
            k % n
        );
    }
    for i in 0..a.n_meters() {
        assert_eq!(a.coverage(i), b.coverage(i), "{what}: coverage of row {i}");
    }
}

/// The binary with no barrier variables inherited (`output::atomic::barrier`).
pub fn bin_without_barriers() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gridsleuth"));
    c.env_remove("GRIDSLEUTH_BARRIER")
        .env_remove("GRIDSLEUTH_BARRIER_TRACE")
        .env_remove("GRIDSLEUTH_BARRIER_READY")
        .env_remove("GRIDSLEUTH_BARRIER_ACTION");
    c
}

/// Runs `cmd` until it reaches the library's barrier `step` (`GRIDSLEUTH_BARRIER`; it says so
/// by creating `ready`), kills it there with SIGKILL and waits for it. Panics if it ends before
/// the step or does not reach it within five minutes.
pub fn kill_at_barrier(mut cmd: Command, step: &str, ready: &Path) {
    let _ = std::fs::remove_file(ready);
    let mut child = cmd
        .env("GRIDSLEUTH_BARRIER", step)
        .env("GRIDSLEUTH_BARRIER_READY", ready)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawns");
    let t0 = Instant::now();
    while !ready.exists() {
        if let Some(st) = child.try_wait().unwrap() {
            panic!("the process ended ({st:?}) before step {step}");
        }
        assert!(
            t0.elapsed() < Duration::from_secs(300),
            "step {step} not reached"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
}
