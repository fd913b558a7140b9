//! Writers of the load-drop analysis: `drop_estimates.csv` (one line per event and region, the
//! change in MW and % with its interval, the difference-in-differences, the change-point),
//! `drop_daily.csv` (every day of every event window: load, temperature, the pre-event model's
//! prediction, the normalised load), `drop.json` (settings, inputs, skipped events and lines,
//! every estimate with its model) and the chart data of each region ([`region_chart`]).
//!
//! Input: a [`DropReport`] and its [`DailyLoad`]. Output: bytes and [`Chart`]s (tested without
//! files); [`write_drop`] puts them in a directory. Percentages in the CSVs are percent.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use super::load_series::DailyLoad;
use super::{DropReport, EventEstimate, Period};
use crate::grid_analysis::{write_file, GridAnalysisError};
use crate::plot::grid_charts::{
    render_png, render_svg, Anchor, Band, Chart, LegendAt, Level, Line, Marker, Note, Panel, BLUE,
    DARK, GREEN, GREY, ORANGE, PURPLE, RED,
};
use crate::report::FileNames;

/// `drop_estimates.csv` header.
pub const ESTIMATES_HEADER: [&str; 38] = [
    "region",
    "event_date",
    "label",
    "verdict",
    "pre_start",
    "pre_end",
    "post_start",
    "post_end",
    "n_pre",
    "n_post",
    "level_before_mw",
    "level_after_mw",
    "change_mw",
    "change_mw_low",
    "change_mw_high",
    "change_pct",
    "change_pct_low",
    "change_pct_high",
    "significant",
    "did_controls",
    "did_change_mw",
    "did_change_mw_low",
    "did_change_mw_high",
    "did_change_pct",
    "did_change_pct_low",
    "did_change_pct_high",
    "did_significant",
    "changepoint_date",
    "changepoint_change_mw",
    "changepoint_t",
    "changepoint_days_from_event",
    "changepoint_agrees",
    "r2_pre",
    "rho",
    "sigma_mw",
    "heating_base_c",
    "cooling_base_c",
    "temperature_extrapolated",
];

/// Days of context shown either side of the event windows in a chart.
pub const CHART_MARGIN_DAYS: i64 = 14;

use crate::output::csv_num as num;

fn secs(d: NaiveDate) -> i64 {
    d.and_hms_opt(0, 0, 0)
        .map_or(0, |t| t.and_utc().timestamp())
}

/// `drop_estimates.csv`.
pub fn estimates_csv(rep: &DropReport) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(ESTIMATES_HEADER)?;
    for e in &rep.estimates {
        let d = e.did.as_ref();
        let cp = e.changepoint.as_ref();
        let opt = |v: Option<f64>, k: usize| v.map_or(String::new(), |x| num(x, k));
        w.write_record([
            e.region.clone(),
            e.event.date.to_string(),
            e.event.label.clone(),
            e.verdict.text().to_string(),
            e.pre_start.to_string(),
            e.pre_end.to_string(),
            e.post_start.to_string(),
            e.post_end.to_string(),
            e.n_pre.to_string(),
            e.n_post.to_string(),
            num(e.level_before_mw, 4),
            num(e.level_after_mw, 4),
            num(e.change_mw.estimate, 4),
            num(e.change_mw.low, 4),
            num(e.change_mw.high, 4),
            num(100.0 * e.change_pct.estimate, 3),
            num(100.0 * e.change_pct.low, 3),
            num(100.0 * e.change_pct.high, 3),
            e.significant.to_string(),
            d.map_or(String::new(), |d| d.controls.join(";")),
            opt(d.map(|d| d.change_mw.estimate), 4),
            opt(d.map(|d| d.change_mw.low), 4),
            opt(d.map(|d| d.change_mw.high), 4),
            opt(d.map(|d| 100.0 * d.change_pct.estimate), 3),
            opt(d.map(|d| 100.0 * d.change_pct.low), 3),
            opt(d.map(|d| 100.0 * d.change_pct.high), 3),
            d.map_or(String::new(), |d| d.significant.to_string()),
            cp.map_or(String::new(), |c| c.date.to_string()),
            opt(cp.map(|c| c.change_mw), 4),
            opt(cp.map(|c| c.t), 2),
            cp.map_or(String::new(), |c| c.days_from_event.to_string()),
            cp.map_or(String::new(), |c| c.agrees.to_string()),
            num(e.model.r2_pre, 4),
            num(e.model.rho, 3),
            num(e.model.sigma_mw, 4),
            opt(e.model.heating_base_c, 1),
            opt(e.model.cooling_base_c, 1),
            e.temperature_extrapolated.to_string(),
        ])?;
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

/// `drop_daily.csv`.
pub fn daily_csv(rep: &DropReport) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "region",
        "event_date",
        "date",
        "period",
        "load_mw",
        "temp_c",
        "holiday",
        "fitted_mw",
        "normalised_mw",
    ])?;
    for e in &rep.estimates {
        for p in &e.daily {
            let period = match p.period {
                Period::Pre => "pre",
                Period::Transition => "transition",
                Period::Post => "post",
            };
            w.write_record([
                e.region.clone(),
                e.event.date.to_string(),
                p.date.to_string(),
                period.to_string(),
                num(p.load_mw, 4),
                num(p.temp_c, 2),
                p.holiday.to_string(),
                num(p.fitted_mw, 4),
                num(p.normalised_mw, 4),
            ])?;
        }
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

/// `drop.json` (estimates without their daily points, which are in drop_daily.csv).
pub fn drop_json(rep: &DropReport, load: &DailyLoad) -> serde_json::Value {
    let estimates: Vec<serde_json::Value> = rep
        .estimates
        .iter()
        .filter_map(|e| {
            let mut v = serde_json::to_value(e).ok()?;
            if let Some(o) = v.as_object_mut() {
                o.remove("daily");
            }
            Some(v)
        })
        .collect();
    let mut json = serde_json::json!({
        "settings": rep.config,
        "input": {
            "regions": load.regions,
            "first_date": load.dates.first().map(ToString::to_string),
            "last_date": load.dates.last().map(ToString::to_string),
            "interval_secs": load.interval_secs,
            "rows_read": load.rows_read,
            "skipped": load.skipped,
            "skipped_examples": load.examples,
            "temperature": !load.temp_c.is_empty(),
        },
        "skipped_events": rep.skipped,
        "estimates": estimates,
    });
    // Only with --weather, so a run without one writes the same file as before.
    if let (Some((read, used)), Some(input)) = (load.weather_rows, json.get_mut("input")) {
        if let Some(o) = input.as_object_mut() {
            o.insert("weather_rows_read".into(), read.into());
            o.insert("weather_rows_used".into(), used.into());
        }
    }
    json
}

/// One sentence per estimate, for the chart and the terminal.
pub fn headline(e: &EventEstimate, confidence: f64) -> String {
    let c = &e.change_mw;
    let mut s = format!(
        "{} {}: {:+.2} MW ({:+.1}%), {:.0}% CI {:+.2} to {:+.2} MW: {}",
        e.event.label,
        e.event.date,
        c.estimate,
        100.0 * e.change_pct.estimate,
        100.0 * confidence,
        c.low,
        c.high,
        e.verdict.text()
    );
    if let Some(d) = &e.did {
        s.push_str(&format!(
            "; vs controls {:+.2} MW ({:+.1}%, CI {:+.1} to {:+.1}%)",
            d.change_mw.estimate,
            100.0 * d.change_pct.estimate,
            100.0 * d.change_pct.low,
            100.0 * d.change_pct.high
        ));
    }
    s
}

/// The chart of one region: raw and normalised daily load around its events.
pub fn region_chart(rep: &DropReport, load: &DailyLoad, region: &str) -> Option<Chart> {
    let ri = load.region_index(region)?;
    let ests: Vec<&EventEstimate> = rep
        .estimates
        .iter()
        .filter(|e| e.region == region)
        .collect();
    let first = ests.iter().map(|e| e.pre_start).min()?;
    let last = ests.iter().map(|e| e.post_end).max()?;
    let lo = secs(first) - CHART_MARGIN_DAYS * 86_400;
    let hi = secs(last) + (CHART_MARGIN_DAYS + 1) * 86_400;
    let x_range = (
        lo.max(load.dates.first().map_or(lo, |d| secs(*d))),
        hi.min(load.dates.last().map_or(hi, |d| secs(*d) + 86_400)),
    );
    let inside = |t: i64| t >= x_range.0 && t < x_range.1;
    let mid = |d: NaiveDate| secs(d) + 43_200;
    let raw: Vec<(i64, f64)> = load
        .dates
        .iter()
        .zip(&load.load_mw[ri])
        .map(|(d, v)| (mid(*d), *v))
        .filter(|p| inside(p.0))
        .collect();
    let mut top = Panel {
        y_label: "MW (daily mean)".into(),
        weight: 3,
        legend: LegendAt::LowerLeft,
        ..Panel::default()
    };
    top.lines.push(Line {
        name: "daily load (raw)".into(),
        color: GREY,
        width: 1,
        points: raw,
    });
    let mut norm = Vec::new();
    for e in &ests {
        norm.extend(e.daily.iter().map(|p| (mid(p.date), p.normalised_mw)));
        norm.push((mid(e.post_end), f64::NAN));
        let ev = secs(e.event.date);
        top.markers.push(Marker {
            x: ev,
            label: format!("{} {}", e.event.label, e.event.date),
            color: RED,
            dashed: false,
        });
        let fell = e.level_after_mw < e.level_before_mw;
        top.levels.push(Level {
            x0: secs(e.pre_start),
            x1: ev,
            y: e.level_before_mw,
            label: format!("before {:.2} MW", e.level_before_mw),
            color: GREEN,
            label_below: !fell,
        });
        top.levels.push(Level {
            x0: secs(e.post_start),
            x1: secs(e.post_end) + 86_400,
            y: e.level_after_mw,
            label: format!("after {:.2} MW", e.level_after_mw),
            color: ORANGE,
            label_below: fell,
        });
        // The change itself: a bar from the level before to the level after, 60% into the
        // post-event window (clear of the event and change-point lines), labelled in MW and %.
        let bar = secs(e.post_start) + (secs(e.post_end) - secs(e.post_start)) * 3 / 5;
        top.lines.push(Line {
            name: String::new(),
            color: DARK,
            width: 3,
            points: vec![(bar, e.level_before_mw), (bar, e.level_after_mw)],
        });
        top.notes.push(Note {
            text: format!(
                "{:+.2} MW ({:+.1}%)",
                e.change_mw.estimate,
                100.0 * e.change_pct.estimate
            ),
            color: DARK,
            anchor: Anchor::Data(
                bar + 86_400,
                (e.level_before_mw + e.level_after_mw) / 2.0
                    + (e.level_before_mw - e.level_after_mw).abs() * 0.25,
            ),
        });
        if e.post_start > e.event.date {
            top.bands.push(Band {
                x0: ev,
                x1: secs(e.post_start),
                color: GREY,
            });
        }
        if let Some(cp) = e.changepoint.as_ref().filter(|c| c.t.abs() >= 2.0) {
            top.markers.push(Marker {
                x: secs(cp.date),
                label: "change-point".into(),
                color: PURPLE,
                dashed: true,
            });
        }
        top.notes.push(Note {
            text: headline(e, rep.config.confidence),
            color: DARK,
            anchor: Anchor::TopLeft,
        });
    }
    top.lines.push(Line {
        name: "normalised (weekday, holidays, temperature)".into(),
        color: BLUE,
        width: 2,
        points: norm,
    });
    let mut panels = vec![top];
    if !load.temp_c.is_empty() {
        let t: Vec<(i64, f64)> = load
            .dates
            .iter()
            .zip(&load.temp_c)
            .map(|(d, v)| (mid(*d), *v))
            .filter(|p| inside(p.0))
            .collect();
        panels.push(Panel {
            y_label: "°C".into(),
            weight: 1,
            lines: vec![Line {
                name: "temperature".into(),
                color: ORANGE,
                width: 1,
                points: t,
            }],
            legend: LegendAt::UpperLeft,
            ..Panel::default()
        });
    }
    let title = match ests.as_slice() {
        [e] => format!(
            "{region}: {:+.2} MW ({:+.1}%) after {} on {}",
            e.change_mw.estimate,
            100.0 * e.change_pct.estimate,
            e.event.label,
            e.event.date
        ),
        _ => format!("{region}: daily load around {} events", ests.len()),
    };
    Some(Chart {
        title,
        width: 1400,
        height: 760,
        x_range,
        panels,
    })
}

/// Writes every drop file into `dir` (charts unless `no_charts`). Returns the files written.
pub fn write_drop(
    rep: &DropReport,
    load: &DailyLoad,
    dir: &Path,
    no_charts: bool,
) -> Result<Vec<PathBuf>, GridAnalysisError> {
    let mut files = Vec::new();
    let mut put = |name: &str, bytes: Result<Vec<u8>, String>| -> Result<(), GridAnalysisError> {
        let p = dir.join(name);
        write_file(&p, &bytes.map_err(|e| GridAnalysisError::write(&p, e))?)?;
        files.push(p);
        Ok(())
    };
    put(
        "drop_estimates.csv",
        estimates_csv(rep).map_err(|e| e.to_string()),
    )?;
    put("drop_daily.csv", daily_csv(rep).map_err(|e| e.to_string()))?;
    put(
        "drop.json",
        serde_json::to_vec_pretty(&drop_json(rep, load)).map_err(|e| e.to_string()),
    )?;
    if no_charts {
        return Ok(files);
    }
    let charts = dir.join("charts");
    std::fs::create_dir_all(&charts).map_err(|e| GridAnalysisError::write(&charts, e))?;
    let names = FileNames::readable(rep.regions.iter().map(String::as_str));
    for region in &rep.regions {
        let Some(chart) = region_chart(rep, load, region) else {
            continue;
        };
        let stem = format!("drop_{}", names.stem(region));
        let png = charts.join(format!("{stem}.png"));
        render_png(&chart, &png).map_err(|e| GridAnalysisError::Chart {
            path: png.clone(),
            message: e.0,
        })?;
        let svg_path = charts.join(format!("{stem}.svg"));
        let svg = render_svg(&chart).map_err(|e| GridAnalysisError::Chart {
            path: svg_path.clone(),
            message: e.0,
        })?;
        write_file(&svg_path, svg.as_bytes())?;
        files.push(png);
        files.push(svg_path);
    }
    Ok(files)
}
