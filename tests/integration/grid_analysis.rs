//! Grid analysis end to end through the library: the feeder energy balance on regions written
//! by `gridsleuth synth` (a known bypassed rig: found, dated within a day, sized within 10%;
//! heavy missing meter data: no false loss), and the load-drop analysis on generated zones in
//! the layout of the Tetouan file (`data-samples/drop/`, `generated::zones`) with and without
//! an injected drop (the real Tetouan zones: `shared_data`). Chart tests check chart
//! data (marker positions, levels, notes), not pixels; the PNG and SVG files are checked to
//! exist and parse as such.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;
use clap::Parser;
use gridsleuth::cli::grid::{BalanceArgs, DropArgs};
use gridsleuth::cli::{Cli, Command as Sub};
use gridsleuth::grid_analysis::balance_output::feeder_chart;
use gridsleuth::grid_analysis::drop::Verdict;
use gridsleuth::grid_analysis::drop_output::region_chart;
use gridsleuth::grid_analysis::events::{read_events, read_holidays};
use gridsleuth::grid_analysis::load_series::read_load;
use gridsleuth::grid_analysis::DropInput;
use gridsleuth::grid_analysis::{self, analyse, balance};
use gridsleuth::settings::{balance_options, drop_options};

use crate::support::{self, arg};

#[derive(Parser)]
struct BalanceCli {
    #[command(flatten)]
    a: BalanceArgs,
}

#[derive(Parser)]
struct DropCli {
    #[command(flatten)]
    a: DropArgs,
}

pub type Row = HashMap<String, String>;

fn read_csv(path: &Path) -> Vec<Row> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let h: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    r.records()
        .map(|rec| {
            h.iter()
                .cloned()
                .zip(rec.unwrap().iter().map(String::from))
                .collect()
        })
        .collect()
}

/// A 400-meter region (30 days unless `extra` says) on 4 feeders of 100 meters, by
/// `gridsleuth synth`.
pub fn synth_region(dir: &Path, seed: &str, extra: &[&str]) -> PathBuf {
    synth(dir, seed, extra)
}

fn synth(dir: &Path, seed: &str, extra: &[&str]) -> PathBuf {
    let out = dir.join("region");
    let o = arg(&out);
    let mut argv = vec!["gridsleuth", "synth", "--meters", "400"];
    if !extra.contains(&"--days") {
        argv.extend(["--days", "30"]);
    }
    argv.extend(["--meters-per-feeder", "100", "--seed", seed, "--out", &o]);
    argv.extend(extra);
    let cli = Cli::try_parse_from(argv).unwrap();
    let Sub::Synth(a) = cli.command else {
        unreachable!("`synth` parses to Command::Synth")
    };
    gridsleuth::synth::run_synth(&a.options(), &mut Vec::new()).unwrap();
    out
}

fn inputs(region: &Path) -> Vec<String> {
    inputs_with(region, "readings.parquet")
}

fn inputs_with(region: &Path, readings: &str) -> Vec<String> {
    let p = |f: &str| arg(&region.join(f));
    vec![
        "-r".into(),
        p(readings),
        "--meters".into(),
        p("meters.csv"),
        "--feeders".into(),
        p("feeders.csv"),
    ]
}

/// `gridsleuth balance` through the library; returns feeders.csv by feeder id and stdout.
fn run_balance(region: &Path, out: &Path) -> (HashMap<String, Row>, String) {
    run_balance_args(region, out, "readings.parquet", &[])
}

/// [`run_balance`] with the readings in `region/readings` and `extra` flags.
pub fn run_balance_args(
    region: &Path,
    out: &Path,
    readings: &str,
    extra: &[&str],
) -> (HashMap<String, Row>, String) {
    let o = arg(out);
    let mut argv: Vec<String> = vec!["balance".into()];
    argv.extend(inputs_with(region, readings));
    argv.extend(extra.iter().map(|s| s.to_string()));
    argv.extend(["-o".to_string(), o]);
    let a = BalanceCli::try_parse_from(&argv).unwrap().a;
    let mut text = Vec::new();
    let opts = balance_options(&a.ingest.flags(), &a.balance_flags(), false).unwrap();
    let s = grid_analysis::run_balance(&opts, &mut text).unwrap();
    assert!(!s.quarantined);
    let rows = read_csv(&out.join("feeders.csv"));
    let by_id = rows
        .into_iter()
        .map(|r| (r["feeder_id"].clone(), r))
        .collect();
    (by_id, String::from_utf8(text).unwrap())
}

pub fn f(r: &Row, k: &str) -> f64 {
    r[k].parse().unwrap_or(f64::NAN)
}

#[test]
fn balance_finds_dates_and_sizes_bypassed_rigs() {
    let dir = tempfile::tempdir().unwrap();
    let region = synth(
        dir.path(),
        "1",
        &["--mining-share", "0.005", "--mining-mix", "bypass=1"],
    );
    let (feeders, text) = run_balance(&region, &dir.path().join("out"));
    let rigs: Vec<Row> = read_csv(&region.join("labels.csv"))
        .into_iter()
        .filter(|r| r["kind"] == "mining_bypass")
        .collect();
    assert!(
        rigs.iter().any(|r| r["onset_kind"] == "step"),
        "seed 1 has a mid-window rig"
    );
    for rig in &rigs {
        let row = &feeders[&rig["feeder_id"]];
        let truth = f(rig, "rig_kw");
        assert_eq!(row["flagged"], "true", "{rig:?}\n{row:?}");
        if rig["onset_kind"] == "step" {
            let onset = NaiveDateTime::parse_from_str(&rig["onset"], "%Y-%m-%dT%H:%M:%SZ").unwrap();
            let found = NaiveDateTime::parse_from_str(&row["step_time"], "%Y-%m-%d %H:%M").unwrap();
            let hours = (found - onset).num_minutes().abs() as f64 / 60.0;
            assert!(hours < 24.0, "dated {found}, onset {onset}");
            let err = (f(row, "step_kw") - truth).abs() / truth;
            assert!(err < 0.1, "step {} kW vs rig {truth} kW", row["step_kw"]);
            eprintln!(
                "{}: step at {found} (onset {onset}), {} kW vs {truth} kW",
                rig["feeder_id"], row["step_kw"]
            );
        }
        let err = (f(row, "hidden_kw") - truth).abs() / truth;
        assert!(
            err < 0.1,
            "hidden {} kW vs rig {truth} kW",
            row["hidden_kw"]
        );
        assert!(f(row, "rig_likeness") >= 0.5);
    }
    let with_rig: Vec<&str> = rigs.iter().map(|r| r["feeder_id"].as_str()).collect();
    for (id, row) in &feeders {
        if !with_rig.contains(&id.as_str()) {
            assert_eq!(row["flagged"], "false", "{row:?}");
        }
    }
    assert!(text.contains("balance: 4 feeders, 2 flagged"), "{text}");
}

#[test]
fn missing_meter_data_is_not_a_loss() {
    let dir = tempfile::tempdir().unwrap();
    // No rigs; 5% of readings missing at random, 30% of meters with 1-3 whole days missing,
    // 10% with estimated days.
    let extra = [
        "--mining-share",
        "0",
        "--missing-share",
        "0.05",
        "--gap-meter-share",
        "0.3",
        "--estimated-meter-share",
        "0.1",
    ];
    let region = synth(dir.path(), "2", &extra);
    let out = dir.path().join("out");
    let (feeders, _) = run_balance(&region, &out);
    assert_eq!(feeders.len(), 4);
    for row in feeders.values() {
        assert_eq!(row["flagged"], "false", "{row:?}");
        assert_eq!(row["n_steps"], "0", "{row:?}");
        assert!(f(row, "residual_share").abs() < 0.005, "{row:?}");
        assert!(f(row, "estimated_share") > 0.04, "{row:?}");
    }
    // Taking the missing readings as zero would have shown a 4-7% loss on every feeder.
    let daily = read_csv(&out.join("balance_daily.csv"));
    let sum = |k: &str| {
        daily
            .iter()
            .map(|r| f(r, k))
            .filter(|v| v.is_finite())
            .sum::<f64>()
    };
    assert!(sum("estimated_kwh") / sum("input_kwh") > 0.04);
}

#[test]
fn feeder_chart_data_marks_the_step_and_levels() {
    let dir = tempfile::tempdir().unwrap();
    let region = synth(
        dir.path(),
        "1",
        &["--mining-share", "0.005", "--mining-mix", "bypass=1"],
    );
    let argv: Vec<String> = inputs(&region);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let ing = support::load(&argv);
    let rep = balance(&ing, &grid_analysis::BalanceConfig::default()).unwrap();
    let fb = rep.feeders.iter().find(|f| f.feeder_id == "F0001").unwrap();
    let st = &fb.steps[fb.finding.main_step.unwrap()];
    let c = feeder_chart(&rep, fb);
    assert!(
        c.title
            .starts_with("Feeder F0001 (100 meters): unmetered +")
            && c.title.ends_with("FLAGGED")
    );
    assert_eq!(c.x_range, (rep.grid.start, rep.grid.end()));
    let (top, bottom) = (&c.panels[0], &c.panels[1]);
    assert_eq!(top.lines[0].name, "feeder input");
    assert_eq!(top.lines[0].points.len(), rep.grid.n_slots);
    assert!(top.lines[1].name.starts_with("sum of its meters"));
    assert_eq!(bottom.markers.len(), fb.steps.len());
    assert_eq!(bottom.markers[0].x, st.at);
    assert!(bottom.markers[0]
        .label
        .starts_with(&format!("step {:+.1} kW 2024-03-16", st.size_kw())));
    let (before, after) = (&bottom.levels[0], &bottom.levels[1]);
    assert_eq!((before.x1, after.x0), (st.at, st.at));
    assert_eq!((before.y, after.y), (st.before_kw, st.after_kw));
    assert_eq!(bottom.bands.len(), fb.finding.days_excluded);
    assert!(bottom.notes[0].text.starts_with("hidden flat load"));
    let quiet = rep.feeders.iter().find(|f| f.feeder_id == "F0000").unwrap();
    let c0 = feeder_chart(&rep, quiet);
    assert!(c0.title.ends_with("no hidden flat load") && c0.panels[1].levels.is_empty());
    // The files: one PNG and one SVG per feeder.
    let out = dir.path().join("out");
    run_balance(&region, &out);
    let png = std::fs::read(out.join("charts/feeder_F0001.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    let svg = std::fs::read_to_string(out.join("charts/feeder_F0001.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("Feeder F0001"));
}

/// The Tetouan-layout file `src` with `mw` subtracted from Zone 1 from `from` on (local time).
pub fn with_drop(src: &Path, dir: &Path, from: &str, mw: f64) -> PathBuf {
    let from = NaiveDateTime::parse_from_str(&format!("{from} 00:00"), "%Y-%m-%d %H:%M").unwrap();
    let mut r = csv::Reader::from_path(src).unwrap();
    let out = dir.join("zones_injected.csv");
    let mut w = csv::Writer::from_path(&out).unwrap();
    w.write_record(r.headers().unwrap()).unwrap();
    for rec in r.records() {
        let mut rec: Vec<String> = rec.unwrap().iter().map(String::from).collect();
        let t = NaiveDateTime::parse_from_str(&rec[0], "%m/%d/%Y %H:%M").unwrap();
        if t >= from {
            let v: f64 = rec[4].parse().unwrap();
            rec[4] = format!("{:.3}", v - mw * 1000.0);
        }
        w.write_record(&rec).unwrap();
    }
    w.flush().unwrap();
    out
}

/// `gridsleuth drop` on a Tetouan-layout file with one event on Zone 1 (and Zone 3 as control),
/// the Moroccan holidays of 2017.
pub fn drop_args(load: &Path, dir: &Path, date: &str) -> DropArgs {
    let ev = dir.join("events.csv");
    std::fs::write(&ev, format!("date,region,label\n{date},Zone 1,raid\n")).unwrap();
    let (l, e, o) = (arg(load), arg(&ev), arg(&dir.join("out")));
    let h = support::sample("drop/holidays_morocco_2017.csv");
    let argv = [
        "drop",
        "--load",
        &l,
        "--events",
        &e,
        "--holidays",
        &h,
        "--time-col",
        "DateTime",
        "--timestamp-format",
        "%m/%d/%Y %H:%M",
        "--value-cols",
        "Zone 1 Power Consumption=Zone 1",
        "Zone 2  Power Consumption=Zone 2",
        "Zone 3  Power Consumption=Zone 3",
        "--temp-col",
        "Temperature",
        "--unit",
        "kw",
        "--control",
        "Zone 3",
        "-o",
        &o,
    ];
    DropCli::try_parse_from(argv).unwrap().a
}

const EVENT: &str = crate::generated::ZONES_EVENT;
const DROP_MW: f64 = crate::generated::ZONES_DROP_MW;

/// The committed sample: generated zones with 1.5 MW removed from Zone 1 from 2017-03-15.
fn drop_sample() -> PathBuf {
    support::repo().join("data-samples/drop/zones_hourly_2017.csv")
}

/// Runs `drop` (see [`drop_args`]) and returns Zone 1's row of drop_estimates.csv and stdout.
pub fn zone1_estimate(load: &Path, dir: &Path, date: &str) -> (Row, String) {
    let args = drop_args(load, dir, date);
    let mut text = Vec::new();
    grid_analysis::run_drop(&drop_options(&args.flags()).unwrap(), &mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    let rows = read_csv(&dir.join("out/drop_estimates.csv"));
    let z1: Vec<&Row> = rows.iter().filter(|r| r["region"] == "Zone 1").collect();
    assert_eq!(z1.len(), 1, "{text}");
    (z1[0].clone(), text)
}

/// The checks of a recovered drop of `mw` MW at the event.
pub fn assert_drop_recovered(r: &Row, mw: f64, text: &str) {
    let (est, lo, hi) = (
        f(r, "change_mw"),
        f(r, "change_mw_low"),
        f(r, "change_mw_high"),
    );
    assert!(
        (est + mw).abs() < 0.5,
        "estimated {est} MW for -{mw} MW\n{text}"
    );
    assert!(lo <= -mw && -mw <= hi, "CI {lo}..{hi} misses -{mw}\n{text}");
    assert_eq!(r["verdict"], "drop at the event", "{text}");
    assert!(f(r, "changepoint_days_from_event").abs() <= 3.0, "{r:?}");
    let (dl, dh) = (f(r, "did_change_mw_low"), f(r, "did_change_mw_high"));
    assert!(dl <= -mw && -mw <= dh, "DiD CI {dl}..{dh}");
}

#[test]
fn injected_drop_is_recovered() {
    let dir = tempfile::tempdir().unwrap();
    let (r, text) = zone1_estimate(&drop_sample(), dir.path(), EVENT);
    eprintln!("{text}");
    assert_drop_recovered(&r, DROP_MW, &text);
    assert!(dir.path().join("out/charts/drop_Zone_1.png").exists());
    assert!(dir.path().join("out/charts/drop_Zone_1.svg").exists());
}

#[test]
fn zones_without_a_drop_report_none() {
    let dir = tempfile::tempdir().unwrap();
    let load = dir.path().join("zones.csv");
    crate::generated::zones(&load, crate::generated::ZONES_SEED, 0.0, EVENT);
    let (r, text) = zone1_estimate(&load, dir.path(), EVENT);
    assert_eq!(r["verdict"], "no significant change", "{r:?}\n{text}");
    assert_eq!(r["did_significant"], "false", "{r:?}");
}

#[test]
fn drop_chart_data_shows_levels_events_and_the_drop() {
    let dir = tempfile::tempdir().unwrap();
    let args = drop_args(&drop_sample(), dir.path(), EVENT);
    let opts = drop_options(&args.flags()).unwrap();
    let (input, cfg) = (opts.input, opts.model);
    let DropInput::Series(spec) = input else {
        panic!("--load is a series")
    };
    let daily = read_load(&spec).unwrap();
    assert_eq!(daily.dates.len(), 364);
    assert_eq!(daily.interval_secs, vec![3600; 3]);
    let events = read_events(&args.events).unwrap();
    let holidays = read_holidays(args.holidays.as_deref().unwrap()).unwrap();
    let rep = analyse(&daily, &events, &holidays, &cfg).unwrap();
    let e = &rep.estimates[0];
    assert_eq!(e.verdict, Verdict::DropAtEvent);
    let c = region_chart(&rep, &daily, "Zone 1").unwrap();
    let top = &c.panels[0];
    let ev = chrono::NaiveDate::from_ymd_opt(2017, 3, 15).unwrap();
    let ev_secs = ev.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp();
    assert_eq!(top.markers[0].x, ev_secs);
    assert_eq!(top.markers[0].label, "raid 2017-03-15");
    assert_eq!(top.levels[0].y, e.level_before_mw);
    assert_eq!(top.levels[1].y, e.level_after_mw);
    assert_eq!(top.levels[0].x1, ev_secs);
    assert_eq!(top.levels[1].x0, ev_secs);
    assert!(top.notes.iter().any(
        |n| n.text.starts_with("raid 2017-03-15: -1.") && n.text.contains("drop at the event")
    ));
    // The drop annotated: a bar from the level before to the level after, labelled MW and %.
    let bar = top
        .lines
        .iter()
        .find(|l| l.name.is_empty() && l.points.len() == 2)
        .unwrap();
    assert_eq!(
        (bar.points[0].1, bar.points[1].1),
        (e.level_before_mw, e.level_after_mw)
    );
    assert!(bar.points[0].0 > ev_secs);
    let label = format!(
        "{:+.2} MW ({:+.1}%)",
        e.change_mw.estimate,
        100.0 * e.change_pct.estimate
    );
    assert!(
        top.notes.iter().any(|n| n.text == label),
        "{label} in {:?}",
        top.notes
    );
    assert_eq!(top.lines[0].name, "daily load (raw)");
    assert!(top.lines.iter().any(|l| l
        .name
        .starts_with("normalised (weekday, holidays, temperature)")));
    assert_eq!(c.panels[1].lines[0].name, "temperature");
    assert!(c.title.starts_with("Zone 1: -1."));
}

#[test]
fn run_includes_the_balance_when_feeders_are_given() {
    // The committed sample: one feeder carrying a bypassed 6 x 3.25 kW rig from 2024-03-07.
    let ing = support::load(&["--config", &support::sample("region.toml")]);
    let dir = tempfile::tempdir().unwrap();
    let cfg = grid_analysis::BalanceConfig::default();
    let mut text = Vec::new();
    let rep = grid_analysis::balance_for_run(&ing, &cfg, dir.path(), &mut text)
        .unwrap()
        .unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(text.starts_with("balance: 1 feeders, 1 flagged"), "{text}");
    let fb = &rep.feeders[0];
    let st = &fb.steps[fb.finding.main_step.unwrap()];
    assert_eq!(st.date, "2024-03-07");
    assert!(
        (15.0..21.0).contains(&fb.finding.hidden_kw),
        "{}",
        fb.finding.hidden_kw
    );
    let rows = read_csv(&dir.path().join("feeders.csv"));
    assert_eq!(
        (rows[0]["feeder_id"].as_str(), rows[0]["flagged"].as_str()),
        ("F0000", "true")
    );
    assert!(dir.path().join("charts/feeder_F0000.png").exists());
    // Without feeder series there is nothing to balance.
    let argv: Vec<String> = vec!["-r".into(), support::sample("region/readings.parquet")];
    let plain = support::load(&argv.iter().map(String::as_str).collect::<Vec<_>>());
    let none = grid_analysis::balance_for_run(&plain, &cfg, dir.path(), &mut Vec::new()).unwrap();
    assert!(none.is_none());
}

#[test]
fn drop_runs_on_meter_readings_grouped_by_feeder() {
    use gridsleuth::grid_analysis::aggregate::{daily_from_ingest, GroupBy};
    // Aggregation: the committed sample summed over all meters is the matrix's energy per day.
    let ing = support::load(&["--config", &support::sample("region.toml")]);
    let all = daily_from_ingest(&ing, GroupBy::All, chrono_tz::UTC);
    assert_eq!(all.regions, vec!["all"]);
    assert_eq!(all.dates.len(), 14);
    // Within 1% of the naive mean of the present readings (0.2% of them are missing).
    let m = &ing.matrix;
    let present: f64 = m
        .values()
        .iter()
        .filter(|v| !v.is_nan())
        .map(|v| f64::from(*v))
        .sum();
    let naive_mw = present / (14.0 * 24.0) / 1000.0;
    let mean_mw = all.load_mw[0].iter().sum::<f64>() / 14.0;
    assert!(
        (mean_mw / naive_mw - 1.0).abs() < 0.01,
        "{mean_mw} vs {naive_mw}"
    );
    assert_eq!(all.temp_c.len(), 14);
    // End to end: a 60-day synthetic region, one event on every feeder.
    let dir = tempfile::tempdir().unwrap();
    let region = synth(dir.path(), "4", &["--days", "60"]);
    let toml = dir.path().join("region.toml");
    std::fs::write(
        &toml,
        "[inputs]\nreadings = [\"region/readings.parquet\"]\nmeters = \"region/meters.csv\"\n\
         weather = \"region/weather.csv\"\n",
    )
    .unwrap();
    assert!(region.join("weather.csv").exists());
    let ev = dir.path().join("events.csv");
    std::fs::write(&ev, "date,region,label\n2024-04-10,*,raid\n").unwrap();
    let (t, e, o) = (arg(&toml), arg(&ev), arg(&dir.path().join("out")));
    let argv = [
        "drop",
        "--meter-config",
        &t,
        "--events",
        &e,
        "-o",
        &o,
        "--no-charts",
    ];
    let a = DropCli::try_parse_from(argv).unwrap().a;
    let mut text = Vec::new();
    grid_analysis::run_drop(&drop_options(&a.flags()).unwrap(), &mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(text.starts_with("load: 4 regions x 60 days"), "{text}");
    let rows = read_csv(&dir.path().join("out/drop_estimates.csv"));
    let regions: Vec<&str> = rows.iter().map(|r| r["region"].as_str()).collect();
    assert_eq!(regions, vec!["F0000", "F0001", "F0002", "F0003"]);
}
