//! The inspector report (issue 4): snapshot of the text an inspector reads on the committed
//! sample region, hostile metadata (escaped everywhere, file names that cannot leave the
//! report folder), the charts' onset marker at the detected date, re-rendering from the run
//! directory alone, and an index of 5,000 suspects with capped evidence pages.
//!
//! Snapshots live in `data-samples/report-snapshots/`; after an intended change of the report
//! (or of the detection), `GRIDSLEUTH_BLESS=1 cargo test --release --test integration report`
//! rewrites them, and the diff shows what an inspector will see differently.

use std::collections::HashMap;
use std::path::{Component, Path};
use std::process::Command as Process;

use clap::Parser;
use gridsleuth::cli::{Cli, Command};
use gridsleuth::report::{self, file_stem, Evidence, ReportData, ReportOptions, RunData};

use crate::support::{repo, sample};

/// Runs detection into `dir` through the library, exactly as `gridsleuth run ARGV -o DIR`,
/// and writes `report_data/` (which `run` itself writes too; writing it again is harmless).
fn run_into(dir: &Path, argv: &[&str]) {
    let out = dir.to_str().unwrap();
    let full: Vec<&str> = ["gridsleuth", "run", "-q"]
        .into_iter()
        .chain(argv.iter().copied())
        .chain(["-o", out])
        .collect();
    let cli = Cli::try_parse_from(full).unwrap();
    let Command::Run(args) = &cli.command else {
        unreachable!("`run` parses to Command::Run")
    };
    let opts = gridsleuth::settings::run_options(&args.ingest.flags(), &args.detect_flags(), false)
        .unwrap();
    gridsleuth::app::run_detect(&opts, true, &mut std::io::sink()).unwrap();
    let ing = gridsleuth::ingest::load(&opts.ingest).unwrap();
    let det = gridsleuth::detect::detect(&ing, &opts.detect).unwrap();
    report::write_report_data(dir, &ing, &det, opts.ingest.long.time.tz.name()).unwrap();
}

fn options(title: &str) -> ReportOptions {
    ReportOptions {
        title: Some(title.into()),
        ..ReportOptions::default()
    }
}

/// The text a reader sees: no scripts, styles or SVG; cells joined by ` | `, one block per
/// line; the version number replaced so a release does not change the snapshot.
fn text_of(html: &str) -> String {
    let mut s = html.to_string();
    for (open, close) in [
        ("<script", "</script>"),
        ("<style", "</style>"),
        ("<svg", "</svg>"),
    ] {
        while let Some(a) = s.find(open) {
            let b = s[a..].find(close).map_or(s.len(), |b| a + b + close.len());
            s.replace_range(a..b, "");
        }
    }
    for (tag, sep) in [("</td>", " | "), ("</th>", " | "), ("<br>", "\n")] {
        s = s.replace(tag, sep);
    }
    for tag in [
        "</tr>",
        "</li>",
        "</p>",
        "</h1>",
        "</h2>",
        "</div>",
        "</figcaption>",
        "<tr",
    ] {
        s = s.replace(tag, &format!("\n{tag}"));
    }
    let mut out = String::new();
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    let out = out
        .replace("&middot;", "·")
        .replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
        .replace(env!("CARGO_PKG_VERSION"), "{version}");
    out.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty() && l != "|")
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

fn snapshot(name: &str, actual: &str) {
    let path = repo().join("data-samples/report-snapshots").join(name);
    if std::env::var_os("GRIDSLEUTH_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "no snapshot {}: run with GRIDSLEUTH_BLESS=1",
            path.display()
        )
    });
    if expected != actual {
        let line = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
        panic!(
            "{name} differs from {} at line {}:\n  expected: {:?}\n  actual:   {:?}\n(GRIDSLEUTH_BLESS=1 rewrites it)",
            path.display(),
            line + 1,
            expected.lines().nth(line),
            actual.lines().nth(line)
        );
    }
}

#[test]
fn report_text_snapshot_on_the_sample_region() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    run_into(&dir, &["--config", &sample("region.toml")]);
    let summary = report::render(&dir, &options("sample region")).unwrap();
    assert_eq!(
        (summary.suspects, summary.pages, summary.pngs),
        (11, 11, 33)
    );
    assert_eq!(summary.chart_errors, 0);
    let index = std::fs::read_to_string(dir.join("report/index.html")).unwrap();
    snapshot("index.txt", &text_of(&index));
    let page = std::fs::read_to_string(dir.join("report/suspects/M000087.html")).unwrap();
    snapshot("suspect-M000087.txt", &text_of(&page));
    // Every chart is inline SVG and a PNG file; links resolve inside the folder.
    let page = page.replace("&#x2f;", "/");
    assert_eq!(page.matches("<svg class=\"chart\"").count(), 3);
    for kind in ["load", "heatmap", "baseload"] {
        let png = dir.join(format!("report/charts/M000087-{kind}.png"));
        assert!(std::fs::read(&png).unwrap().starts_with(b"\x89PNG"));
        assert!(page.contains(&format!("href=\"../charts/M000087-{kind}.png\"")));
    }
    // A second render gives the same bytes (deterministic, stale files cleared).
    report::render(&dir, &options("sample region")).unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.join("report/index.html")).unwrap(),
        index
    );
}

#[test]
fn charts_mark_the_onset_at_the_detected_date() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    run_into(&dir, &["--config", &sample("region.toml")]);
    let run = RunData::load(&dir).unwrap();
    let mut mid_window = 0;
    for s in &run.data.suspects {
        let ev = Evidence::of(&run, s);
        let onset = s.onset.clone().unwrap();
        let load = ev.load.onset.clone().unwrap();
        assert_eq!(load.date, onset, "{}: load chart marker", s.meter_id);
        let slot = ev.onset_slot.unwrap();
        assert_eq!(load.x, slot as f64);
        let cal = &run.zone_of(s).calendar;
        assert_eq!(cal.dates[cal.day[slot] as usize], onset);
        let base = ev.baseload.onset.clone().unwrap();
        assert_eq!(base.date, onset, "{}: baseload marker", s.meter_id);
        assert_eq!(ev.heatmap.onset_day.is_some(), s.onset_in_window);
        if s.onset_in_window {
            mid_window += 1;
            // The marked slot is one of the detection's onset candidates.
            let candidates: Vec<usize> = gridsleuth::report::evidence::ONSET_FEATURES
                .iter()
                .map(|n| run.features.get(&s.meter_id, n))
                .filter(|x| x.is_finite())
                .map(|x| x as usize)
                .collect();
            assert!(candidates.contains(&slot), "{}: {slot}", s.meter_id);
        } else {
            assert_eq!(slot, 0, "{}: running from the window start", s.meter_id);
        }
    }
    assert!(mid_window >= 5, "the sample has mid-window onsets");
    // M000087: "baseload rose 19 kW on 2024-03-04", the fourth day of the window.
    let s87 = run
        .data
        .suspects
        .iter()
        .find(|s| s.meter_id == "M000087")
        .expect("M000087 is a suspect");
    let ev = Evidence::of(&run, s87);
    assert_eq!(ev.load.onset.unwrap().label, "onset 2024-03-04");
    assert_eq!(ev.baseload.onset.unwrap().x, 3.0);
    assert_eq!(ev.baseload.levels.len(), 2, "before and after the step");
    let series = &run.series["M000087"].kwh;
    let slot = ev.onset_slot.unwrap();
    let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
    assert!(
        mean(&series[slot..]) > 10.0 * mean(&series[..slot]),
        "the step is at the rise"
    );
}

const EVIL_ID: &str = "../../evil<script>alert(1)</script>";
const QUOTE_ID: &str = "a/b \"c\" 'd' & e";
const EVIL_ADDRESS: &str =
    "<script>alert(\"addr\")</script> & \"Quote\" 'Apos' <img src=x onerror=alert(1)>";
const EVIL_FEEDER: &str = "F1\"><script>alert(2)</script>";

/// A 14-day region of 40 households with a daily rhythm and three flat 6.5 kW rigs whose ids
/// and metadata are hostile.
fn hostile_inputs(dir: &Path) {
    let mut seed: u64 = 7;
    let mut noise = move || {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        ((seed >> 33) as f64 / f64::from(1u32 << 31)) - 0.5
    };
    let rigs = [EVIL_ID, QUOTE_ID, "CON"];
    let homes: Vec<String> = (0..40).map(|i| format!("H{i:03}")).collect();
    let mut r = csv::Writer::from_path(dir.join("readings.csv")).unwrap();
    r.write_record(["meter_id", "timestamp", "kwh"]).unwrap();
    let start = chrono::DateTime::parse_from_rfc3339("2024-03-01T00:00:00Z").unwrap();
    for slot in 0..14 * 48 {
        let t = (start + chrono::Duration::minutes(30 * slot)).format("%Y-%m-%dT%H:%M:%SZ");
        let hour = (slot % 48) / 2;
        for h in &homes {
            let bump = match hour {
                7..=8 => 0.4,
                17..=21 => 0.8,
                _ => 0.0,
            };
            let v = (0.15 + bump + 0.1 * noise()).max(0.02) * 0.5;
            r.write_record([h.as_str(), &t.to_string(), &format!("{v:.4}")])
                .unwrap();
        }
        for id in rigs {
            let v = (6.5 * (1.0 + 0.02 * noise()) + 0.2) * 0.5;
            r.write_record([id, &t.to_string(), &format!("{v:.4}")])
                .unwrap();
        }
    }
    r.flush().unwrap();
    let mut m = csv::Writer::from_path(dir.join("meters.csv")).unwrap();
    m.write_record(["meter_id", "address", "feeder_id", "tariff", "lat", "lon"])
        .unwrap();
    for (i, h) in homes.iter().enumerate() {
        m.write_record([
            h.as_str(),
            &format!("{i} Main St"),
            "F1",
            "residential",
            "52.1",
            "-0.6",
        ])
        .unwrap();
    }
    for id in rigs {
        m.write_record([id, EVIL_ADDRESS, EVIL_FEEDER, "residential", "52.2", "-0.7"])
            .unwrap();
    }
    m.flush().unwrap();
}

fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

#[test]
fn hostile_metadata_is_escaped_and_file_names_stay_inside() {
    let tmp = tempfile::tempdir().unwrap();
    let inputs = tmp.path().join("inputs");
    std::fs::create_dir_all(&inputs).unwrap();
    hostile_inputs(&inputs);
    let dir = tmp.path().join("run");
    let (readings, meters) = (inputs.join("readings.csv"), inputs.join("meters.csv"));
    let (r, m) = (readings.to_str().unwrap(), meters.to_str().unwrap());
    run_into(&dir, &["-r", r, "--meters", m]);
    let summary = report::render(&dir, &options("hostile")).unwrap();
    let data: ReportData = report::data::read_report_data(&dir).unwrap();
    let flagged: Vec<&str> = data.suspects.iter().map(|s| s.meter_id.as_str()).collect();
    let rigs = [EVIL_ID, QUOTE_ID, "CON"];
    assert!(rigs.iter().all(|id| flagged.contains(id)), "{flagged:?}");
    assert_eq!(summary.pages, flagged.len());

    // Nothing was written outside the run directory; every file name is plain.
    let mut top: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    top.sort();
    assert_eq!(top, ["inputs", "run"]);
    let report_dir = dir.join("report");
    let files = files_under(&report_dir);
    for f in &files {
        let rel = f.strip_prefix(&report_dir).unwrap();
        let plain = |c: Component<'_>| matches!(c, Component::Normal(_));
        assert!(rel.components().all(plain), "{rel:?}");
        let name = f.file_name().unwrap().to_string_lossy();
        let ok = |c: char| c.is_ascii_alphanumeric() || "._-".contains(c);
        assert!(name.chars().all(ok), "odd file name {name:?}");
    }
    assert!(
        file_stem("CON").starts_with("CON."),
        "a Windows device name"
    );

    // No markup from the metadata survives in any page; only the report's own scripts.
    let index_path = report_dir.join("index.html");
    let index = std::fs::read_to_string(&index_path).unwrap();
    for f in files
        .iter()
        .filter(|f| f.extension().is_some_and(|x| x == "html"))
    {
        let html = std::fs::read_to_string(f).unwrap();
        for bad in ["<script>alert", "<img", "\"><script", "</script> &"] {
            assert!(!html.contains(bad), "{}: contains {bad:?}", f.display());
        }
        let scripts = if *f == index_path { 3 } else { 1 };
        assert_eq!(html.matches("<script").count(), scripts, "{}", f.display());
    }
    // Each rig's page exists under its sanitised name and shows the metadata as text
    // (minijinja also escapes `/` as `&#x2f;`, which browsers read back as `/`).
    let unslash = |p: &Path| std::fs::read_to_string(p).unwrap().replace("&#x2f;", "/");
    for id in rigs {
        let stem = file_stem(id);
        assert!(!stem.contains('/') && !stem.contains(".."), "{stem}");
        assert!(report_dir.join(format!("charts/{stem}-load.png")).is_file());
        let page = unslash(&report_dir.join(format!("suspects/{stem}.html")));
        assert!(page.contains("&lt;script&gt;alert(&quot;addr&quot;)&lt;/script&gt;"));
        assert!(page.contains("&lt;img src=x onerror=alert(1)&gt;"));
        assert!(page.contains("F1&quot;&gt;&lt;script&gt;alert(2)"));
    }
    let evil_page = format!("suspects/{}.html", file_stem(EVIL_ID));
    let unslashed = unslash(&index_path);
    assert!(unslashed.contains(&format!("href=\"{evil_page}\"")));
    assert!(unslashed.contains("../../evil&lt;script&gt;alert(1)&lt;"));
    // The table's JSON cannot close its script tag and round-trips the raw strings.
    let a = index.find("id=\"suspect-data\">").unwrap() + "id=\"suspect-data\">".len();
    let json = &index[a..a + index[a..].find("</script>").unwrap()];
    assert!(!json.contains('<') && !json.contains('>'));
    let rows: Vec<HashMap<String, serde_json::Value>> = serde_json::from_str(json).unwrap();
    let evil = rows.iter().find(|r| r["meter_id"] == EVIL_ID).unwrap();
    assert_eq!(evil["address"], EVIL_ADDRESS);
    assert_eq!(evil["feeder"], EVIL_FEEDER);
    assert_eq!(evil["href"], evil_page.as_str());

    // Re-rendering needs the run directory only: the inputs may be gone.
    std::fs::remove_dir_all(&inputs).unwrap();
    report::render(&dir, &options("hostile")).unwrap();
    assert_eq!(std::fs::read_to_string(&index_path).unwrap(), index);
}

#[test]
fn five_thousand_suspects_keep_a_paged_index_and_capped_pages() {
    use gridsleuth::report::data::{GridSpec, SuspectRecord, FORMAT};
    let grid = GridSpec {
        start: 1_709_251_200,
        interval_secs: 1800,
        n_slots: 30 * 48,
    };
    let tz = chrono_tz::UTC;
    let suspects: Vec<SuspectRecord> = (0..5000)
        .map(|i| SuspectRecord {
            meter_id: format!("M{i:06}"),
            rank: i + 1,
            score: 1.0 - i as f64 / 10_000.0,
            rig_kw: 3.25 * (1 + i % 9) as f64,
            devices: Some((1 + i % 9) as u32),
            device_model: Some("Antminer S19".into()),
            onset: Some("2024-03-01".into()),
            excess_kwh: 2340.0,
            reasons: vec![format!("never below {} kW", 3 * (1 + i % 9))],
            address: Some(format!("{i} High St")),
            feeder_id: Some(format!("F{:02}", i % 40)),
            tariff: Some("residential".into()),
            present_slots: 1440,
            ..SuspectRecord::default()
        })
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    // The browser check (.ci/browser-check.sh) keeps this report to load it in Chromium.
    let out = std::env::var_os("GRIDSLEUTH_KEEP_BIG_REPORT")
        .map_or_else(|| tmp.path().to_path_buf(), std::path::PathBuf::from);
    let g: gridsleuth::grid::TimeGrid = grid.into();
    let run = RunData {
        dir: out.clone(),
        run: Default::default(),
        data: ReportData {
            format: FORMAT,
            grid,
            tz: "UTC".into(),
            suspects,
        },
        grid: g,
        tz,
        zones: HashMap::from([(tz, report::evidence::ZoneCalendar::new(&g, tz))]),
        series: HashMap::new(),
        features: report::rundir::FeatureTable::default(),
        segments: Default::default(),
        registered: Vec::new(),
        quality: HashMap::new(),
    };
    let t = std::time::Instant::now();
    let opts = ReportOptions {
        max_pages: 20,
        png: false,
        ..options("big")
    };
    let s = report::render_data(&run, &opts).unwrap();
    eprintln!(
        "5,000 suspects, 20 pages: {:.2} s",
        t.elapsed().as_secs_f64()
    );
    assert_eq!((s.suspects, s.pages, s.pngs), (5000, 20, 0));
    let index = std::fs::read_to_string(out.join("report/index.html")).unwrap();
    assert!(index.contains("Evidence pages exist for the top 20 of 5000 suspects"));
    assert_eq!(
        index.matches("\"rank\":").count(),
        5000,
        "every suspect in the table data"
    );
    let table = &index[index.find("<table id=\"suspects\"").unwrap()..];
    let tbody = &table[table.find("<tbody>").unwrap()..];
    let tbody = &tbody[..tbody.find("</tbody>").unwrap()];
    assert_eq!(
        tbody.matches("<tr>").count(),
        report::render::INDEX_STATIC_ROWS
    );
    assert!(index.len() < 4_000_000, "index is {} bytes", index.len());
    assert_eq!(
        std::fs::read_dir(out.join("report/suspects"))
            .unwrap()
            .count(),
        20
    );
    // Rows past the cap have no link.
    assert!(index.contains("\"meter_id\":\"M000020\",\"href\":null"));
}

fn gridsleuth(args: &[&str]) -> (i32, String, String) {
    let out = Process::new(env!("CARGO_BIN_EXE_gridsleuth"))
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn run_writes_the_report_and_report_renders_it_again() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let d = dir.to_str().unwrap();
    let (code, out, err) = gridsleuth(&["run", "--config", &sample("region.toml"), "-o", d]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("report: ") && out.contains("11 evidence pages"),
        "{out}"
    );
    assert!(dir.join("report/index.html").is_file());
    assert!(dir.join("report_data/suspects.json").is_file());
    std::fs::remove_dir_all(dir.join("report")).unwrap();
    let (code, out, err) = gridsleuth(&["report", "--run", d, "--max-pages", "3", "--no-png"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("11 suspects, 3 evidence pages, 0 PNG charts"),
        "{out}"
    );
    assert_eq!(
        std::fs::read_dir(dir.join("report/suspects"))
            .unwrap()
            .count(),
        3
    );
    let (code, _, err) = gridsleuth(&["report", "--run", tmp.path().to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("run.json") && err.contains("fix:"), "{err}");
}
