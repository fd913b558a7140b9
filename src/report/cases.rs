//! The nightly sections of the report, from the run folder's `nightly.json` (written by
//! `gridsleuth nightly`; absent for a plain `run`, and then there are no such sections): the
//! index's case list grouped by state (new tonight first) with each case's score and kW over
//! the past nights as a small chart, the field record of past lists (hit rate by score band and
//! by week, confirmed kW), the calibration, suppressed meters and missing days; and a suspect
//! page's case history.

use std::path::Path;

use minijinja::Value;
use serde_json::Value as Json;

use crate::plot::case_history::{history_svg, HistoryPoint};

/// `nightly.json` of the run folder, when there is one.
pub fn load(dir: &Path) -> Option<Json> {
    let bytes = std::fs::read(dir.join("nightly.json")).ok()?;
    serde_json::from_slice(&bytes).ok()
}

const GROUPS: [(&str, &str); 5] = [
    ("new", "New tonight"),
    ("escalating", "Escalating (more kW or more devices)"),
    ("persisting", "Persisting"),
    ("vanished", "Vanished (no longer flagged)"),
    ("closed", "Closed by an inspection outcome"),
];

fn s(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        Json::Null => String::new(),
        other => other.to_string(),
    }
}

fn num(v: &Json, decimals: usize) -> String {
    v.as_f64()
        .map_or_else(|| "-".to_string(), |x| format!("{x:.decimals$}"))
}

fn points(n: &Json, case_id: &str) -> Vec<HistoryPoint> {
    n["history"][case_id]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| HistoryPoint {
                    score: p["score"].as_f64(),
                    kw: p["kw"].as_f64(),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn spark(n: &Json, case_id: &str, w: u32, h: u32) -> Value {
    let pts = points(n, case_id);
    Value::from_safe_string(history_svg(&pts, w, h).unwrap_or_default())
}

/// The index's nightly section: groups of cases, field record, calibration, notes.
pub fn index_section(n: &Json, href: &dyn Fn(&str) -> Option<String>) -> Value {
    let cases = n["cases"].as_array().cloned().unwrap_or_default();
    let prob = &n["calibration"]["probability"];
    let used = n["calibration"]["used"].as_bool().unwrap_or(false);
    let groups: Vec<Value> = GROUPS
        .iter()
        .map(|(state, label)| {
            let mut rows: Vec<&Json> = cases.iter().filter(|c| c["state"] == *state).collect();
            if used {
                rows.sort_by(|a, b| {
                    let p = |c: &Json| prob[s(&c["meter_id"])].as_f64().unwrap_or(-1.0);
                    p(b).total_cmp(&p(a))
                });
            }
            let rows: Vec<Value> = rows
                .iter()
                .map(|c| {
                    let id = s(&c["case_id"]);
                    let meter = s(&c["meter_id"]);
                    let since = match *state {
                        "vanished" => format!("vanished {}", s(&c["vanished_on"])),
                        "closed" => format!(
                            "{} on {}",
                            s(&c["closed_reason"]).replace('_', " "),
                            s(&c["closed_on"])
                        ),
                        _ => format!("since {}", s(&c["opened"])),
                    };
                    minijinja::context! {
                        case_id => id.clone(), meter_id => meter.clone(), href => href(&meter),
                        score => num(&c["score"], 2), kw => num(&c["kw"], 1),
                        max_kw => num(&c["max_kw"], 1), nights => s(&c["nights_flagged"]),
                        since => since, note => s(&c["note"]),
                        no_access => s(&c["no_access_on"]),
                        probability => prob[&meter].as_f64().map(|p| format!("{p:.2}")),
                        chart => spark(n, &id, 150, 34),
                    }
                })
                .collect();
            minijinja::context! { state => *state, label => *label, rows => rows }
        })
        .collect();
    let hit = |rows: &Json| -> Vec<Value> {
        rows.as_array()
            .map(|a| {
                a.iter()
                    .map(|r| {
                        minijinja::context! {
                            group => s(&r["group"]), visits => s(&r["visits"]),
                            confirmed => s(&r["confirmed"]), no_mining => s(&r["no_mining"]),
                            no_access => s(&r["no_access"]),
                            hit_rate => r["hit_rate"].as_f64().map_or_else(|| "-".into(), |h| format!("{:.0}%", 100.0 * h)),
                            kw => num(&r["confirmed_kw"], 1),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let f = &n["field"];
    minijinja::context! {
        night => s(&n["night"]),
        window => format!("{} to {}", s(&n["window"][0]), s(&n["window"][1])),
        groups => groups,
        counts => GROUPS.iter().map(|(st, _)| (st.to_string(), cases.iter().filter(|c| c["state"] == *st).count())).collect::<Vec<_>>(),
        by_band => hit(&f["by_band"]),
        by_week => hit(&f["by_week"]),
        total => hit(&Json::Array(vec![f["total"].clone()])),
        licensed => s(&f["licensed"]),
        any_outcomes => f["total"]["visits"].as_u64().unwrap_or(0) > 0,
        calibration => n["calibration"]["text"].as_str().map(String::from),
        ranked_by => s(&n["ranked_by"]),
        suppressed => n["suppressed"].as_array().map(|a| a.iter().map(|x| minijinja::context! {
            meter_id => s(&x["meter_id"]), visit => s(&x["visit"]),
            level => num(&x["level_kw"], 1), kw => num(&x["kw"], 1),
        }).collect::<Vec<_>>()).unwrap_or_default(),
        missing_days => n["missing_days"].as_array().map(|a| a.iter().map(s).collect::<Vec<_>>()).unwrap_or_default(),
        notes => n["notes"].as_array().map(|a| a.iter().map(s).collect::<Vec<_>>()).unwrap_or_default(),
    }
}

/// A suspect page's case: its id, state and history (night by night).
pub fn suspect_section(n: &Json, meter_id: &str) -> Option<Value> {
    let cases = n["cases"].as_array()?;
    let c = cases
        .iter()
        .filter(|c| c["meter_id"] == meter_id)
        .find(|c| c["state"] != "expired")?;
    let id = s(&c["case_id"]);
    let nights: Vec<Value> = n["history"][&id]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| {
                    minijinja::context! {
                        night => s(&p["night"]), state => s(&p["state"]),
                        score => num(&p["score"], 2), kw => num(&p["kw"], 1),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    Some(minijinja::context! {
        case_id => id.clone(), state => s(&c["state"]), opened => s(&c["opened"]),
        nights_flagged => s(&c["nights_flagged"]), note => s(&c["note"]),
        no_access => s(&c["no_access_on"]),
        chart => spark(n, &id, 480, 110), nights => nights,
    })
}
