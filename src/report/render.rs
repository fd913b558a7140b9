//! Rendering: a loaded [`RunData`] -> the report folder. One minijinja environment (HTML
//! autoescape for every template, strict undefined values so a template typo fails the tests),
//! suspect pages in parallel (rayon; each draws its charts and writes its files), then the
//! index. A chart that cannot be drawn becomes a note on its page, not an abort.

use std::path::{Path, PathBuf};

use chrono::TimeZone;
use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value};
use rayon::prelude::*;
use serde::Serialize;

use super::evidence::{Evidence, RunData};
use super::filename::FileNames;
use super::pages::{self, ChartContext, FeederRow, Link, RigContext, SuspectContext, SuspectRow};
use super::peers::{PeerRow, Peers};
use super::{ReportError, ReportOptions};
use crate::plot::meter_charts::{ChartError, MeterChart};

/// Rows of the suspects table written into the HTML itself (what prints and what shows without
/// JavaScript); the script pages through all of them.
pub const INDEX_STATIC_ROWS: usize = 100;

const CSS: &str = include_str!("templates/style.css");
const JS: &str = include_str!("templates/index.js");

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportSummary {
    pub index: PathBuf,
    pub suspects: usize,
    pub pages: usize,
    pub pngs: usize,
    /// Charts that could not be drawn (noted on their pages).
    pub chart_errors: usize,
}

impl ReportSummary {
    /// One line for the terminal.
    pub fn text(&self) -> String {
        let mut s = format!(
            "report: {} ({} suspects, {} evidence pages, {} PNG charts)",
            self.index.display(),
            self.suspects,
            self.pages,
            self.pngs
        );
        if self.chart_errors > 0 {
            s.push_str(&format!(
                "; {} charts could not be drawn",
                self.chart_errors
            ));
        }
        s
    }
}

fn werr(path: &Path, e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> ReportError {
    ReportError::Write {
        path: path.to_path_buf(),
        source: e.into(),
    }
}

fn terr(name: &str, e: impl std::fmt::Display) -> ReportError {
    ReportError::Template {
        name: name.to_string(),
        message: format!("{e:#}"),
    }
}

/// JSON safe inside `<script type="application/json">`: `<`, `>`, `&` (only ever inside
/// strings) and the JS line separators become `\u` escapes, so no value can close the tag.
pub fn script_json<T: Serialize>(v: &T) -> Result<String, serde_json::Error> {
    Ok(serde_json::to_string(v)?
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029"))
}

/// The template environment.
pub fn environment() -> Result<Environment<'static>, ReportError> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    for (name, src) in [
        ("layout.html", include_str!("templates/layout.html")),
        ("index.html", include_str!("templates/index.html")),
        ("suspect.html", include_str!("templates/suspect.html")),
    ] {
        env.add_template(name, src).map_err(|e| terr(name, e))?;
    }
    env.add_global("css", Value::from_safe_string(CSS.to_string()));
    env.add_global("js", Value::from_safe_string(JS.to_string()));
    env.add_global("version", env!("CARGO_PKG_VERSION"));
    Ok(env)
}

/// Removes files with extension `ext` left in `dir` by an earlier render (only those: the
/// folder may be shared with other files).
fn clear_stale(dir: &Path, ext: &str) -> Result<(), ReportError> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_file() && p.extension().is_some_and(|x| x == ext) {
            std::fs::remove_file(&p).map_err(|e| werr(&p, e))?;
        }
    }
    Ok(())
}

/// Renders the report of the run directory `dir`.
pub fn render(dir: &Path, opts: &ReportOptions) -> Result<ReportSummary, ReportError> {
    render_data(&RunData::load_top(dir, opts.max_pages)?, opts)
}

/// A local instant as `YYYY-MM-DD HH:MM`.
fn local(run: &RunData, t: i64) -> String {
    run.tz
        .timestamp_opt(t, 0)
        .single()
        .map_or_else(String::new, |d| d.format("%Y-%m-%d %H:%M").to_string())
}

/// Renders a loaded run.
pub fn render_data(run: &RunData, opts: &ReportOptions) -> Result<ReportSummary, ReportError> {
    let out = opts.out.clone().unwrap_or_else(|| run.dir.join("report"));
    let suspects = &run.data.suspects;
    let names = FileNames::new(suspects.iter().map(|s| s.meter_id.as_str()))?;
    let (pages_dir, charts_dir) = (out.join("suspects"), out.join("charts"));
    for d in [&out, &pages_dir, &charts_dir] {
        std::fs::create_dir_all(d).map_err(|e| werr(d, e))?;
    }
    clear_stale(&pages_dir, "html")?;
    clear_stale(&charts_dir, "png")?;
    let n_pages = if opts.max_pages == 0 {
        suspects.len()
    } else {
        suspects.len().min(opts.max_pages)
    };
    let env = environment()?;
    let nightly = super::cases::load(&run.dir);
    let title = opts.title.clone().unwrap_or_else(|| {
        run.dir
            .canonicalize()
            .unwrap_or_else(|_| run.dir.clone())
            .file_name()
            .map_or_else(
                || "gridsleuth run".into(),
                |n| n.to_string_lossy().into_owned(),
            )
    });
    let window = format!(
        "{} to {} ({}), {:.1} days",
        local(run, run.grid.start),
        local(run, run.grid.end()),
        run.tz.name(),
        (run.grid.end() - run.grid.start) as f64 / 86_400.0
    );
    // Peer rows first: each segment's features sorted once (in parallel) and shared.
    let mut peers = Peers::new(&run.features, &run.segments);
    let segs: Vec<Option<String>> = suspects[..n_pages]
        .iter()
        .map(|s| peers.segment(&s.meter_id))
        .collect();
    let mut distinct = segs.clone();
    distinct.sort();
    distinct.dedup();
    peers.prepare(&distinct);
    let peer_rows: Vec<(String, Vec<PeerRow>)> = suspects[..n_pages]
        .iter()
        .zip(segs)
        .map(|(s, seg)| {
            let rows = peers.rows(&s.meter_id, seg.as_deref());
            let label = seg.map_or_else(|| "all meters".to_string(), |t| format!("tariff \"{t}\""));
            (label, rows)
        })
        .collect();
    let link = |i: usize| -> Option<Link> {
        let s = suspects.get(i).filter(|_| i < n_pages)?;
        Some(Link {
            href: Some(format!("{}.html", names.stem(&s.meter_id))),
            text: format!("#{} {}", s.rank, s.meter_id),
        })
    };
    let results: Vec<Result<(usize, usize), ReportError>> = (0..n_pages)
        .into_par_iter()
        .map(|i| {
            let s = &suspects[i];
            let stem = names.stem(&s.meter_id);
            let ev = Evidence::of(run, s);
            let mut pngs = 0;
            let mut errors = 0;
            let mut chart = |svg: Result<String, ChartError>,
                             png: &dyn Fn(&Path) -> Result<(), ChartError>,
                             kind: &str| {
                let mut c = ChartContext {
                    svg: Value::from_safe_string(String::new()),
                    png: None,
                    error: None,
                };
                match svg {
                    Ok(svg) => c.svg = Value::from_safe_string(svg),
                    Err(e) => {
                        errors += 1;
                        c.error = Some(format!("{e}"));
                    }
                }
                if opts.png && c.error.is_none() {
                    let file = format!("{stem}-{kind}.png");
                    match png(&charts_dir.join(&file)) {
                        Ok(()) => {
                            pngs += 1;
                            c.png = Some(format!("../charts/{file}"));
                        }
                        Err(e) => {
                            errors += 1;
                            c.error = Some(format!("{e}"));
                        }
                    }
                }
                c
            };
            let load = chart(ev.load.svg(), &|p| ev.load.png(p), "load");
            let heatmap = chart(ev.heatmap.svg(), &|p| ev.heatmap.png(p), "heatmap");
            let baseload = chart(ev.baseload.svg(), &|p| ev.baseload.png(p), "baseload");
            let (segment, peers) = peer_rows[i].clone();
            let ctx = SuspectContext {
                title: title.clone(),
                version: env!("CARGO_PKG_VERSION").into(),
                rank: s.rank,
                n_suspects: suspects.len(),
                meter_id: s.meter_id.clone(),
                address: s.address.clone().unwrap_or_default(),
                feeder: s.feeder_id.clone().unwrap_or_default(),
                tariff: s.tariff.clone().unwrap_or_default(),
                score: format!("{:.2}", s.score),
                score_class: pages::score_class(s.score),
                headline: s.reasons.first().cloned().unwrap_or_default(),
                reasons: s.reasons.clone(),
                onset: s.onset.clone().unwrap_or_default(),
                onset_text: match (&s.onset, s.onset_in_window) {
                    (Some(d), true) => format!("step on {d}"),
                    (Some(_), false) => "running at the window start".into(),
                    (None, _) => "none detected".into(),
                },
                rig: RigContext::new(s, &ev.rig),
                load,
                heatmap,
                baseload,
                segment,
                peers,
                meta: pages::meta_rows(s),
                map_href: match (s.lat, s.lon) {
                    (Some(a), Some(b)) => Some(format!(
                        "https://www.openstreetmap.org/?mlat={a:.6}&mlon={b:.6}#map=18/{a:.6}/{b:.6}"
                    )),
                    _ => None,
                },
                quality: pages::quality_lines(&ev, run),
                quarantined: ev.quality.quarantined.clone(),
                prev: i.checked_sub(1).and_then(link),
                next: link(i + 1),
                window: window.clone(),
                case: nightly
                    .as_ref()
                    .and_then(|n| super::cases::suspect_section(n, &s.meter_id)),
            };
            let html = env
                .get_template("suspect.html")
                .and_then(|t| t.render(Value::from_serialize(&ctx)))
                .map_err(|e| terr("suspect.html", e))?;
            let p = pages_dir.join(format!("{stem}.html"));
            std::fs::write(&p, html).map_err(|e| werr(&p, e))?;
            Ok((pngs, errors))
        })
        .collect();
    let (mut pngs, mut chart_errors) = (0, 0);
    for r in results {
        let (p, e) = r?;
        pngs += p;
        chart_errors += e;
    }
    crate::output::atomic::barrier("report:pages");
    // Pages are written for the first `n_pages` suspects in the stored (rank) order.
    let paged: std::collections::HashSet<&str> = suspects[..n_pages]
        .iter()
        .map(|s| s.meter_id.as_str())
        .collect();
    let href = |s: &super::SuspectRecord| -> Option<String> {
        paged
            .contains(s.meter_id.as_str())
            .then(|| format!("suspects/{}.html", names.stem(&s.meter_id)))
    };
    let rows: Vec<SuspectRow> = suspects
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let h = (i < n_pages).then(|| format!("suspects/{}.html", names.stem(&s.meter_id)));
            SuspectRow::new(s, h)
        })
        .collect();
    let index = index_context(
        run,
        (&title, &window),
        &rows,
        pages::feeder_rows(suspects, &href),
        n_pages,
        opts,
        nightly.as_ref().map(|n| {
            super::cases::index_section(n, &|m: &str| {
                paged
                    .contains(m)
                    .then(|| format!("suspects/{}.html", names.stem(m)))
            })
        }),
    )?;
    let html = env
        .get_template("index.html")
        .and_then(|t| t.render(index))
        .map_err(|e| terr("index.html", e))?;
    let p = out.join("index.html");
    std::fs::write(&p, html).map_err(|e| werr(&p, e))?;
    crate::output::atomic::barrier("report:index");
    Ok(ReportSummary {
        index: p,
        suspects: suspects.len(),
        pages: n_pages,
        pngs,
        chart_errors,
    })
}

/// The index page's context.
/// Flagged feeders of the energy balance (`feeders.csv` of the run directory, written by `run`
/// when feeder data is given): id, hidden kW, since, rig-likeness, its loss curve, reasons, and a link to its
/// chart when one was drawn. Missing or unreadable file: no section (the run had no
/// feeders).
fn balance_feeders(dir: &Path) -> Vec<Value> {
    let Ok(mut rdr) = csv::Reader::from_path(dir.join("feeders.csv")) else {
        return Vec::new();
    };
    let Ok(headers) = rdr.headers().cloned() else {
        return Vec::new();
    };
    let col = |name: &str| headers.iter().position(|h| h == name);
    let (Some(id), Some(flagged)) = (col("feeder_id"), col("flagged")) else {
        return Vec::new();
    };
    let (kw, date, like, why) = (
        col("hidden_kw"),
        col("step_date"),
        col("rig_likeness"),
        col("reasons"),
    );
    let get = |r: &csv::StringRecord, c: Option<usize>| {
        c.and_then(|c| r.get(c)).unwrap_or("").to_string()
    };
    let (model, linear, quadratic, share) = (
        col("loss_model"),
        col("loss_linear"),
        col("loss_quadratic_per_kw"),
        col("loss_share"),
    );
    // "fitted: 3.0% x P + 0.00100/kW x P^2 = 3.6% of input" (empty for an older feeders.csv).
    let losses = |r: &csv::StringRecord| -> String {
        let num = |c| get(r, c).parse::<f64>().ok();
        match (num(linear), num(quadratic), num(share)) {
            (Some(a), Some(b), Some(s)) => format!(
                "{}: {:.1}% x P + {b:.5}/kW x P\u{b2} = {:.1}% of input",
                get(r, model).replace('_', " "),
                100.0 * a,
                100.0 * s
            ),
            _ => String::new(),
        }
    };
    let rows: Vec<csv::StringRecord> = rdr.records().filter_map(Result::ok).collect();
    // The chart names the balance gave every feeder (one safe file-name function).
    let names = FileNames::readable(rows.iter().map(|r| r.get(id).unwrap_or("")));
    rows.iter()
        .filter(|r| r.get(flagged) == Some("true"))
        .map(|r| {
            let feeder = get(r, Some(id));
            let chart = format!("charts/feeder_{}.png", names.stem(&feeder));
            let href = dir.join(&chart).is_file().then(|| format!("../{chart}"));
            minijinja::context! {
                feeder => feeder, kw => get(r, kw), since => get(r, date),
                likeness => get(r, like), losses => losses(r), reasons => get(r, why),
                chart => href,
            }
        })
        .collect()
}

fn index_context(
    run: &RunData,
    (title, window): (&str, &str),
    rows: &[SuspectRow],
    feeders: Vec<FeederRow>,
    n_pages: usize,
    opts: &ReportOptions,
    nightly: Option<Value>,
) -> Result<Value, ReportError> {
    let info = &run.run;
    let g = &info.grid;
    let quarantined: u64 = info.datasets.iter().map(|d| d.quarantined).sum();
    let read: u64 = info.datasets.iter().map(|d| d.read).sum();
    let summary: Vec<(&str, String)> = vec![
        ("Region", title.to_string()),
        ("Window", window.to_string()),
        (
            "Interval",
            format!(
                "{} min",
                g.interval_minutes.max(run.grid.interval_secs / 60)
            ),
        ),
        (
            "Meters scored",
            pages::thousands(info.counts.meters.max(g.meters) as f64),
        ),
        (
            "Data coverage",
            format!(
                "{} of slots present, {} estimated",
                pages::pct(g.present_share),
                pages::pct(g.estimated_share)
            ),
        ),
        (
            "Lowest meter coverage",
            format!(
                "{} ({} meters below 90%)",
                pages::pct(g.min_meter_coverage),
                g.meters_below_90pct
            ),
        ),
        (
            "Rows quarantined",
            format!(
                "{} of {} read",
                pages::thousands(quarantined as f64),
                pages::thousands(read as f64)
            ),
        ),
        (
            "Flag threshold",
            info.flag_threshold()
                .map_or_else(|| "-".into(), |t| format!("score >= {t:.2}")),
        ),
    ];
    let total_kw: f64 = run.data.suspects.iter().map(|s| s.rig_kw).sum();
    let total_kwh: f64 = run.data.suspects.iter().map(|s| s.excess_kwh).sum();
    let mut registered = run.registered.clone();
    registered.sort_by(|a, b| {
        b.over_contract
            .cmp(&a.over_contract)
            .then(a.meter_id.cmp(&b.meter_id))
    });
    let fmt_kw = |v: Option<f64>| v.map_or_else(|| "-".to_string(), pages::kw);
    let registered: Vec<Value> = registered
        .iter()
        .map(|r| {
            minijinja::context! {
                meter_id => r.meter_id, address => r.address, contracted => fmt_kw(r.contracted_kw),
                mean => fmt_kw(r.mean_kw), p90 => fmt_kw(r.p90_kw), over => r.over_contract,
                notes => r.notes.split("; ").skip(1).collect::<Vec<_>>().join("; "),
            }
        })
        .collect();
    let datasets: Vec<Value> = info
        .datasets
        .iter()
        .map(|d| {
            minijinja::context! {
                name => d.dataset, files => d.files, read => pages::thousands(d.read as f64),
                used => pages::thousands(d.used as f64), quarantined => pages::thousands(d.quarantined as f64),
                duplicates => pages::thousands(d.exact_duplicates as f64),
                reasons => d.quarantined_by_reason.iter().map(|(r, n)| (r.clone(), pages::thousands(*n as f64))).collect::<Vec<_>>(),
                notes => d.notes,
            }
        })
        .collect();
    let balance = balance_feeders(&run.dir);
    let mut feeder_names: Vec<&str> = rows
        .iter()
        .map(|r| r.feeder.as_str())
        .filter(|f| !f.is_empty())
        .collect();
    feeder_names.sort();
    feeder_names.dedup();
    let json = script_json(&rows).map_err(|e| terr("index.html", e))?;
    let inputs: Vec<String> = info
        .inputs
        .readings
        .iter()
        .chain(&info.inputs.meters)
        .chain(&info.inputs.feeders)
        .chain(&info.inputs.weather)
        .map(|p| {
            Path::new(p)
                .file_name()
                .map_or_else(|| p.clone(), |n| n.to_string_lossy().into_owned())
        })
        .collect();
    Ok(minijinja::context! {
        title => title,
        summary => summary,
        inputs => inputs,
        n_suspects => rows.len(),
        n_suspects_text => pages::thousands(rows.len() as f64),
        total_kw => pages::kw(total_kw),
        total_kwh => format!("{} kWh", pages::thousands(total_kwh)),
        feeders => feeders,
        rows => rows.iter().take(INDEX_STATIC_ROWS).collect::<Vec<_>>(),
        rows_json => Value::from_safe_string(json),
        feeder_names => feeder_names,
        n_pages => n_pages,
        capped => n_pages < rows.len(),
        max_pages_option => opts.max_pages,
        balance => balance,
        registered => registered,
        n_over => run.registered.iter().filter(|r| r.over_contract).count(),
        datasets => datasets,
        quarantined => pages::thousands(quarantined as f64),
        nightly => nightly,
    })
}
