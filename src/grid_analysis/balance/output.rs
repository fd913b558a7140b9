//! Writers of the energy balance: `feeders.csv` (one line per feeder, flagged first, largest
//! hidden load first), `balance_daily.csv` (feeder x local day), `balance_slots.csv` (optional,
//! feeder x slot), `balance.json` (settings, notes, every finding and step) and the chart data
//! of each feeder ([`feeder_chart`]: feeder input vs the sum of its meters above, the residual
//! with its daily mean, steps and levels below).
//!
//! Input: a [`BalanceReport`]. Output: bytes (CSV/JSON) and [`Chart`]s, so both are tested
//! without files; [`write_balance`] puts them in a directory. Column names live here only.

use std::path::{Path, PathBuf};

use super::{BalanceReport, FeederBalance};
use crate::grid_analysis::{write_file, GridAnalysisError};
use crate::plot::grid_charts::{
    bucket, render_png, render_svg, Anchor, Band, Chart, LegendAt, Level, Line, Marker, Note,
    Panel, BLUE, DARK, GREEN, GREY, ORANGE, PURPLE, RED,
};
use crate::report::FileNames;

/// Which feeders get a chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChartSelection {
    /// Every feeder.
    #[default]
    All,
    /// Flagged feeders only.
    Flagged,
    /// No charts.
    None,
}

/// `feeders.csv` header.
pub const FEEDERS_HEADER: [&str; 37] = [
    "feeder_id",
    "flagged",
    "hidden_kw",
    "est_devices",
    "device_model",
    "rig_likeness",
    "step_date",
    "step_time",
    "step_kw",
    "step_t",
    "step_load_kw",
    "residual_before_kw",
    "residual_after_kw",
    "added_cv",
    "added_diurnal_amp",
    "n_steps",
    "mean_input_kw",
    "mean_residual_kw",
    "residual_share",
    "input_mwh",
    "metered_mwh",
    "estimated_mwh",
    "losses_mwh",
    "residual_mwh",
    "loss_model",
    "loss_linear",
    "loss_quadratic_per_kw",
    "loss_quadratic_at_mean",
    "loss_fixed_kw",
    "loss_share",
    "estimated_share",
    "meters",
    "unread_meters",
    "days_used",
    "days_excluded",
    "candidates",
    "reasons",
];

/// `balance_daily.csv` header.
pub const DAILY_HEADER: [&str; 13] = [
    "feeder_id",
    "date",
    "slots",
    "usable_slots",
    "input_kwh",
    "read_kwh",
    "estimated_kwh",
    "losses_kwh",
    "residual_kwh",
    "residual_share",
    "mean_residual_kw",
    "used",
    "excluded_reason",
];

/// Points per line in a chart (a 90-day half-hourly series is bucketed to this).
pub const MAX_CHART_POINTS: usize = 1500;

use crate::output::csv_num as num;

/// Feeders in report order: flagged first, then by hidden kW, then id.
pub fn ranked(rep: &BalanceReport) -> Vec<&FeederBalance> {
    let mut v: Vec<&FeederBalance> = rep.feeders.iter().collect();
    v.sort_by(|a, b| {
        b.finding
            .flagged
            .cmp(&a.finding.flagged)
            .then(b.finding.hidden_kw.total_cmp(&a.finding.hidden_kw))
            .then_with(|| a.feeder_id.cmp(&b.feeder_id))
    });
    v
}

/// Local `YYYY-MM-DD HH:MM` of a Unix time.
pub fn local_time(rep: &BalanceReport, t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| {
            d.with_timezone(&rep.config.tz)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

/// `feeders.csv`.
pub fn feeders_csv(rep: &BalanceReport) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(FEEDERS_HEADER)?;
    for fb in ranked(rep) {
        let f = &fb.finding;
        let step = f.main_step.and_then(|i| fb.steps.get(i));
        let shape = step
            .and_then(|s| s.shape)
            .or(f.base.as_ref().and_then(|b| b.shape));
        let sum = |g: fn(&super::DayBalance) -> f64| {
            fb.days.iter().filter(|d| d.used).map(g).sum::<f64>() / 1000.0
        };
        let cands: Vec<String> = f.candidates.iter().map(|c| c.text(&rep.dates)).collect();
        w.write_record([
            fb.feeder_id.clone(),
            f.flagged.to_string(),
            num(f.hidden_kw, 2),
            f.devices.map_or(String::new(), |n| n.to_string()),
            f.device_model.unwrap_or("").to_string(),
            num(f.rig_likeness, 3),
            step.map_or(String::new(), |s| s.date.clone()),
            step.map_or(String::new(), |s| local_time(rep, s.at)),
            step.map_or(String::new(), |s| num(s.size_kw(), 2)),
            step.map_or(String::new(), |s| num(s.t, 1)),
            step.map_or(String::new(), |s| num(s.load_kw, 2)),
            step.map_or(String::new(), |s| num(s.before_kw, 2)),
            step.map_or(String::new(), |s| num(s.after_kw, 2)),
            shape.map_or(String::new(), |s| num(s.cv, 3)),
            shape.map_or(String::new(), |s| num(s.diurnal_amp, 3)),
            fb.steps.len().to_string(),
            num(f.mean_input_kw, 2),
            num(f.mean_residual_kw, 2),
            num(f.residual_share, 4),
            num(sum(|d| d.input_kwh), 3),
            num(sum(|d| d.read_kwh + d.estimated_kwh), 3),
            num(sum(|d| d.estimated_kwh), 3),
            num(sum(|d| d.losses_kwh), 3),
            num(sum(|d| d.residual_kwh), 3),
            fb.losses.source.name().to_string(),
            num(fb.losses.curve.linear, 5),
            num(fb.losses.curve.quadratic_per_kw, 7),
            num(fb.losses.quadratic_at_mean, 5),
            num(fb.losses.curve.fixed_kw, 3),
            num(fb.losses.share, 4),
            num(f.estimated_share, 4),
            fb.meter_rows.len().to_string(),
            fb.unread_meters.len().to_string(),
            f.days_used.to_string(),
            f.days_excluded.to_string(),
            cands.join("; "),
            f.reasons.join("; "),
        ])?;
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

/// `balance_daily.csv`, feeders in id order.
pub fn daily_csv(rep: &BalanceReport) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(DAILY_HEADER)?;
    for fb in &rep.feeders {
        for d in &fb.days {
            let share = if d.input_kwh > 0.0 {
                d.residual_kwh / d.input_kwh
            } else {
                f64::NAN
            };
            w.write_record([
                fb.feeder_id.clone(),
                d.date.clone(),
                d.slots.to_string(),
                d.usable_slots.to_string(),
                num(d.input_kwh, 3),
                num(d.read_kwh, 3),
                num(d.estimated_kwh, 3),
                num(d.losses_kwh, 3),
                num(d.residual_kwh, 3),
                num(share, 4),
                num(d.mean_residual_kw, 3),
                d.used.to_string(),
                d.excluded.unwrap_or("").to_string(),
            ])?;
        }
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

/// `balance_slots.csv`: every feeder and slot (kW), feeders in id order.
pub fn slots_csv(rep: &BalanceReport) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "feeder_id",
        "timestamp",
        "status",
        "input_kw",
        "read_kw",
        "estimated_kw",
        "losses_kw",
        "residual_kw",
    ])?;
    for fb in &rep.feeders {
        let s = &fb.slots;
        for i in 0..s.status.len() {
            let ts = chrono::DateTime::from_timestamp(rep.grid.slot_start(i), 0)
                .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
                .unwrap_or_default();
            let status = serde_json::to_value(s.status[i])
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default();
            let f = |v: f32| num(f64::from(v), 3);
            w.write_record([
                fb.feeder_id.clone(),
                ts,
                status,
                f(s.input_kw[i]),
                f(s.read_kw[i]),
                f(s.estimated_kw[i]),
                f(s.losses_kw[i]),
                f(s.residual_kw[i]),
            ])?;
        }
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

/// `balance.json`.
pub fn balance_json(rep: &BalanceReport) -> serde_json::Value {
    serde_json::json!({
        "grid": rep.grid,
        "settings": rep.config,
        "coverage_policy": "missing meter readings are estimated from the same meter's readings at the same \
            time of day on the 7 days either side (else the whole window) and reported as estimated_kwh, \
            except before the first reading of a meter that starts 2 or more days into the window (taken as \
            connected then); \
            slots whose metered load is over half estimated, feeder outages and slots without feeder input \
            are excluded; days under 90% usable or over max_day_estimated_share estimated are left out of \
            the step search",
        "notes": rep.notes,
        "counts": {
            "feeders": rep.feeders.len(),
            "flagged": rep.feeders.iter().filter(|f| f.finding.flagged).count(),
        },
        "feeders": ranked(rep).iter().map(|fb| serde_json::json!({
            "feeder_id": fb.feeder_id,
            "meters": fb.meter_rows.len(),
            "unread_meters": fb.unread_meters,
            "late_meters": fb.late_meters,
            "losses": fb.losses,
            "finding": fb.finding,
            "steps": fb.steps,
        })).collect::<Vec<_>>(),
    })
}

/// The chart of one feeder: input vs the sum of its meters, and the residual with its steps.
pub fn feeder_chart(rep: &BalanceReport, fb: &FeederBalance) -> Chart {
    let g = rep.grid;
    let series = |v: &[f32]| -> Vec<(i64, f64)> {
        bucket(
            &v.iter()
                .enumerate()
                .map(|(s, &x)| (g.slot_start(s), f64::from(x)))
                .collect::<Vec<_>>(),
            MAX_CHART_POINTS,
        )
    };
    let metered: Vec<f32> = fb
        .slots
        .read_kw
        .iter()
        .zip(&fb.slots.estimated_kw)
        .map(|(a, b)| a + b)
        .collect();
    let mut top = Panel {
        y_label: "kW".into(),
        weight: 3,
        legend: LegendAt::LowerRight,
        ..Panel::default()
    };
    top.lines.push(Line {
        name: "feeder input".into(),
        color: BLUE,
        width: 2,
        points: series(&fb.slots.input_kw),
    });
    top.lines.push(Line {
        name: "sum of its meters (read + estimated)".into(),
        color: ORANGE,
        width: 2,
        points: series(&metered),
    });
    if fb.finding.estimated_share > 0.0 {
        top.lines.push(Line {
            name: "estimated (missing readings)".into(),
            color: GREY,
            width: 1,
            points: series(&fb.slots.estimated_kw),
        });
    }
    let mut bottom = Panel {
        y_label: "unmetered kW".into(),
        weight: 2,
        zero_line: true,
        legend: LegendAt::LowerRight,
        ..Panel::default()
    };
    bottom.lines.push(Line {
        name: format!(
            "residual after technical losses ({})",
            fb.losses.source.name().replace('_', " ")
        ),
        color: (170, 170, 200),
        width: 1,
        points: series(&fb.slots.residual_kw),
    });
    let mut daily = Vec::new();
    for (d, r) in fb.days.iter().zip(&rep.day_ranges) {
        let y = if d.used { d.mean_residual_kw } else { f64::NAN };
        daily.push((g.slot_start(r.start), y));
        daily.push((g.slot_start(r.end) - 1, y));
        if !d.used {
            bottom.bands.push(Band {
                x0: g.slot_start(r.start),
                x1: g.slot_start(r.end),
                color: GREY,
            });
            top.bands.push(Band {
                x0: g.slot_start(r.start),
                x1: g.slot_start(r.end),
                color: GREY,
            });
        }
    }
    bottom.lines.push(Line {
        name: "daily mean residual".into(),
        color: DARK,
        width: 2,
        points: daily,
    });
    let f = &fb.finding;
    for (k, st) in fb.steps.iter().enumerate() {
        let rig = st
            .shape
            .is_some_and(|s| s.rig_likeness >= rep.config.min_rig_likeness);
        bottom.markers.push(Marker {
            x: st.at,
            label: format!("step {:+.1} kW {}", st.size_kw(), local_time(rep, st.at)),
            color: if rig { RED } else { PURPLE },
            dashed: !rig,
        });
        if f.main_step == Some(k) {
            let from = k.checked_sub(1).map_or(g.start, |j| fb.steps[j].at);
            let to = fb.steps.get(k + 1).map_or(g.end(), |n| n.at);
            bottom.levels.push(Level {
                x0: from,
                x1: st.at,
                y: st.before_kw,
                label: format!("before {:.1} kW", st.before_kw),
                color: GREEN,
                label_below: false,
            });
            bottom.levels.push(Level {
                x0: st.at,
                x1: to,
                y: st.after_kw,
                label: format!("after {:.1} kW", st.after_kw),
                color: RED,
                label_below: st.after_kw < st.before_kw,
            });
        }
    }
    if let Some(b) = f.base.as_ref().filter(|b| {
        f.flagged
            && b.level_kw >= rep.config.min_step_kw
            && b.shape
                .is_some_and(|s| s.rig_likeness >= rep.config.min_rig_likeness)
    }) {
        let to = fb.steps.first().map_or(g.end(), |s| s.at);
        bottom.levels.push(Level {
            x0: g.start,
            x1: to,
            y: b.level_kw,
            label: format!("flat {:.1} kW from the start", b.level_kw),
            color: RED,
            label_below: false,
        });
    }
    let mut notes = Vec::new();
    if f.flagged {
        let dev = match (f.devices, f.device_model) {
            (Some(n), Some(m)) => format!(": about {n} x {m}"),
            _ => String::new(),
        };
        notes.push(format!(
            "hidden flat load {:.1} kW (rig-likeness {:.2}){dev}",
            f.hidden_kw, f.rig_likeness
        ));
    }
    notes.push(format!(
        "residual {:.1}% of input after technical losses; {:.1}% of metered energy estimated",
        100.0 * f.residual_share,
        100.0 * f.estimated_share
    ));
    notes.push(fb.losses.text());
    if f.days_excluded > 0 {
        notes.push(format!(
            "grey: {} days left out (coverage)",
            f.days_excluded
        ));
    }
    bottom.notes = notes
        .into_iter()
        .map(|text| Note {
            text,
            color: DARK,
            anchor: Anchor::TopLeft,
        })
        .collect();
    let headline = match f.main_step.and_then(|i| fb.steps.get(i)) {
        Some(st) if f.flagged => format!(
            "unmetered {:+.1} kW since {} - FLAGGED",
            st.size_kw(),
            local_time(rep, st.at)
        ),
        _ if f.flagged => format!("unmetered flat {:.1} kW all window - FLAGGED", f.hidden_kw),
        _ => "no hidden flat load".to_string(),
    };
    Chart {
        title: format!(
            "Feeder {} ({} meters): {headline}",
            fb.feeder_id,
            fb.meter_rows.len()
        ),
        width: 1400,
        height: 820,
        x_range: (g.start, g.end()),
        panels: vec![top, bottom],
    }
}

/// Writes every balance file into `dir`; charts per `charts`. Returns the files written.
pub fn write_balance(
    rep: &BalanceReport,
    dir: &Path,
    charts: ChartSelection,
    slots: bool,
) -> Result<Vec<PathBuf>, GridAnalysisError> {
    let mut files = Vec::new();
    let mut put = |name: &str, bytes: Result<Vec<u8>, String>| -> Result<(), GridAnalysisError> {
        let p = dir.join(name);
        write_file(&p, &bytes.map_err(|e| GridAnalysisError::write(&p, e))?)?;
        files.push(p);
        Ok(())
    };
    put("feeders.csv", feeders_csv(rep).map_err(|e| e.to_string()))?;
    put(
        "balance_daily.csv",
        daily_csv(rep).map_err(|e| e.to_string()),
    )?;
    if slots {
        put(
            "balance_slots.csv",
            slots_csv(rep).map_err(|e| e.to_string()),
        )?;
    }
    put(
        "balance.json",
        serde_json::to_vec_pretty(&balance_json(rep)).map_err(|e| e.to_string()),
    )?;
    let names = FileNames::readable(rep.feeders.iter().map(|f| f.feeder_id.as_str()));
    for fb in &rep.feeders {
        let want = match charts {
            ChartSelection::All => true,
            ChartSelection::Flagged => fb.finding.flagged,
            ChartSelection::None => false,
        };
        if !want {
            continue;
        }
        let chart = feeder_chart(rep, fb);
        let stem = format!("feeder_{}", names.stem(&fb.feeder_id));
        let png = dir.join("charts").join(format!("{stem}.png"));
        if let Some(d) = png.parent() {
            std::fs::create_dir_all(d).map_err(|e| GridAnalysisError::write(d, e))?;
        }
        render_png(&chart, &png).map_err(|e| GridAnalysisError::Chart {
            path: png.clone(),
            message: e.0,
        })?;
        let svg_path = dir.join("charts").join(format!("{stem}.svg"));
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
