//! Template contexts: the numbers of the index and of each suspect page, formatted once here
//! (units, precision, thousands separators) so templates only lay text out. Every string from
//! input (ids, addresses, feeders, tariffs, reasons) stays a plain string: the templates'
//! autoescape turns it into text, never markup. Links are built from sanitised file stems.

use std::collections::BTreeMap;

use serde::Serialize;

use super::data::SuspectRecord;
use super::evidence::{DeviceFit, Evidence, RigEstimate, RunData};
use super::peers::PeerRow;

/// Formats an integer-ish quantity with thousands separators (`12,345`).
pub fn thousands(v: f64) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    let s = format!("{:.0}", v.abs());
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0.0 && out != "0" {
        out.insert(0, '-');
    }
    out
}

/// kW with one decimal under 100, none above.
pub fn kw(v: f64) -> String {
    if !v.is_finite() {
        "-".into()
    } else if v.abs() >= 100.0 {
        format!("{} kW", thousands(v))
    } else {
        format!("{v:.1} kW")
    }
}

pub fn pct(share: f64) -> String {
    if share.is_finite() {
        format!("{:.1}%", 100.0 * share)
    } else {
        "-".into()
    }
}

/// CSS class of a score: `hi` from 0.9, `mid` from 0.7, else `lo`.
pub fn score_class(score: f64) -> &'static str {
    if score >= 0.9 {
        "hi"
    } else if score >= 0.7 {
        "mid"
    } else {
        "lo"
    }
}

fn opt(s: &Option<String>) -> String {
    s.clone().unwrap_or_default()
}

/// `9 x Antminer S21` (empty when no fit).
pub fn devices_text(s: &SuspectRecord) -> String {
    match (s.devices, &s.device_model) {
        (Some(n), Some(m)) => format!("{n} x {m}"),
        _ => String::new(),
    }
}

/// A link to another page of the report (relative href from sanitised stems); `href` is
/// `None` for a suspect past the page cap (shown as text).
#[derive(Debug, Clone, Serialize)]
pub struct Link {
    pub href: Option<String>,
    pub text: String,
}

/// Feeders listed on the index (the most hidden kW first); the rest are summed in one row.
pub const MAX_FEEDER_ROWS: usize = 25;

/// One suspect in the index table (also the JSON row the table script sorts and filters).
#[derive(Debug, Clone, Serialize)]
pub struct SuspectRow {
    pub rank: usize,
    pub meter_id: String,
    /// Page of the suspect, relative to the index; `None` past the page cap.
    pub href: Option<String>,
    pub address: String,
    pub feeder: String,
    pub tariff: String,
    pub score: f64,
    pub kw: f64,
    pub devices: String,
    pub onset: String,
    pub excess_kwh: f64,
    pub reason: String,
    /// Display forms of the numbers (the script sorts on the numbers, shows these).
    pub score_text: String,
    pub kw_text: String,
    pub excess_text: String,
    pub score_class: &'static str,
}

impl SuspectRow {
    pub fn new(s: &SuspectRecord, href: Option<String>) -> Self {
        SuspectRow {
            rank: s.rank,
            meter_id: s.meter_id.clone(),
            href,
            address: opt(&s.address),
            feeder: opt(&s.feeder_id),
            tariff: opt(&s.tariff),
            score: (s.score * 1e4).round() / 1e4,
            kw: (s.rig_kw * 100.0).round() / 100.0,
            devices: devices_text(s),
            onset: opt(&s.onset),
            excess_kwh: s.excess_kwh.round(),
            reason: s.reasons.first().cloned().unwrap_or_default(),
            score_text: format!("{:.2}", s.score),
            kw_text: format!("{:.1}", s.rig_kw),
            excess_text: thousands(s.excess_kwh),
            score_class: score_class(s.score),
        }
    }
}

/// Totals of one feeder's suspects.
#[derive(Debug, Clone, Serialize)]
pub struct FeederRow {
    pub feeder: String,
    pub suspects: usize,
    pub kw: String,
    pub kwh: String,
    pub top: Option<Link>,
}

/// Suspects per feeder, most hidden kW first (suspects without a feeder last); past
/// [`MAX_FEEDER_ROWS`] feeders, one row sums the rest.
pub fn feeder_rows(
    suspects: &[SuspectRecord],
    href: &dyn Fn(&SuspectRecord) -> Option<String>,
) -> Vec<FeederRow> {
    struct Acc<'a> {
        n: usize,
        kw: f64,
        kwh: f64,
        top: &'a SuspectRecord,
    }
    let mut by: BTreeMap<Option<&str>, Acc<'_>> = BTreeMap::new();
    for s in suspects {
        let e = by.entry(s.feeder_id.as_deref()).or_insert(Acc {
            n: 0,
            kw: 0.0,
            kwh: 0.0,
            top: s,
        });
        e.n += 1;
        e.kw += s.rig_kw;
        e.kwh += s.excess_kwh;
        if s.rank < e.top.rank {
            e.top = s;
        }
    }
    let mut groups: Vec<(Option<&str>, Acc<'_>)> = by.into_iter().collect();
    groups.sort_by(|a, b| {
        a.0.is_none()
            .cmp(&b.0.is_none())
            .then(b.1.kw.total_cmp(&a.1.kw))
    });
    let row = |feeder: String, n: usize, k: f64, e: f64, top: Option<Link>| FeederRow {
        feeder,
        suspects: n,
        kw: kw(k),
        kwh: format!("{} kWh", thousands(e)),
        top,
    };
    let mut rows: Vec<FeederRow> = groups
        .iter()
        .take(MAX_FEEDER_ROWS)
        .map(|(f, a)| {
            row(
                f.map_or_else(|| "(no feeder)".to_string(), str::to_string),
                a.n,
                a.kw,
                a.kwh,
                Some(Link {
                    href: href(a.top),
                    text: format!("#{} {}", a.top.rank, a.top.meter_id),
                }),
            )
        })
        .collect();
    let rest = &groups[groups.len().min(MAX_FEEDER_ROWS)..];
    if !rest.is_empty() {
        let (n, k, e) = rest.iter().fold((0, 0.0, 0.0), |(n, k, e), (_, a)| {
            (n + a.n, k + a.kw, e + a.kwh)
        });
        rows.push(row(format!("{} other feeders", rest.len()), n, k, e, None));
    }
    rows
}

/// A fit as text: `2 x Antminer S19 = 6.5 kW (miss 0.09 device)`.
fn fit_text(f: &DeviceFit) -> String {
    format!(
        "{} x {} ({:.2} kW each) = {:.1} kW",
        f.devices, f.model, f.device_kw, f.total_kw
    )
}

/// The rig block of a suspect page.
#[derive(Debug, Clone, Serialize)]
pub struct RigContext {
    pub kw: String,
    /// `9 x Antminer S21`.
    pub devices: String,
    pub range: String,
    pub basis: String,
    pub fit: String,
    pub miss: String,
    pub alternatives: Vec<String>,
    pub count_range: String,
    pub excess: String,
}

impl RigContext {
    pub fn new(s: &SuspectRecord, r: &RigEstimate) -> Self {
        let miss = s.device_fit_err.or(r.fit.as_ref().map(|f| f.miss));
        RigContext {
            kw: kw(r.kw),
            devices: devices_text(s),
            range: r.range_kw.map_or_else(
                || "not measurable".into(),
                |(a, b)| format!("{} to {}", kw(a), kw(b)),
            ),
            basis: r.basis.clone(),
            fit: r
                .fit
                .as_ref()
                .map(fit_text)
                .unwrap_or_else(|| devices_text(s)),
            miss: miss.map_or_else(String::new, |m| {
                format!(
                    "the estimate is {:.0}% of one device away from this multiple{}",
                    100.0 * m,
                    if m <= f64::from(crate::features::steps::FIT_TOLERANCE) {
                        " (within the fit tolerance)"
                    } else {
                        " (outside the fit tolerance: no exact catalogue match)"
                    }
                )
            }),
            alternatives: r.alternatives.iter().map(fit_text).collect(),
            count_range: r.count_range.map_or_else(String::new, |(a, b)| {
                if a == b {
                    format!("{a}")
                } else {
                    format!("{a} to {b}")
                }
            }),
            excess: format!("{} kWh", thousands(s.excess_kwh)),
        }
    }
}

/// The inline SVG and PNG file of one chart.
#[derive(Debug, Clone, Serialize)]
pub struct ChartContext {
    pub svg: minijinja::Value,
    pub png: Option<String>,
    pub error: Option<String>,
}

/// Everything a suspect page shows.
#[derive(Debug, Clone, Serialize)]
pub struct SuspectContext {
    pub title: String,
    pub version: String,
    pub rank: usize,
    pub n_suspects: usize,
    pub meter_id: String,
    pub address: String,
    pub feeder: String,
    pub tariff: String,
    pub score: String,
    pub score_class: &'static str,
    pub headline: String,
    pub reasons: Vec<String>,
    pub onset: String,
    pub onset_text: String,
    pub rig: RigContext,
    pub load: ChartContext,
    pub heatmap: ChartContext,
    pub baseload: ChartContext,
    pub segment: String,
    pub peers: Vec<PeerRow>,
    pub meta: Vec<(String, String)>,
    pub map_href: Option<String>,
    pub quality: Vec<String>,
    pub quarantined: Vec<(String, u64, u64)>,
    pub prev: Option<Link>,
    pub next: Option<Link>,
    pub window: String,
    /// The meter's case and its history (nightly runs only).
    pub case: Option<minijinja::Value>,
}

/// Metadata rows of a suspect page.
pub fn meta_rows(s: &SuspectRecord) -> Vec<(String, String)> {
    let mut m = vec![
        ("Meter".to_string(), s.meter_id.clone()),
        ("Address".to_string(), opt(&s.address)),
        ("Feeder".to_string(), opt(&s.feeder_id)),
        ("Tariff".to_string(), opt(&s.tariff)),
    ];
    if let (Some(lat), Some(lon)) = (s.lat, s.lon) {
        m.push(("Coordinates".into(), format!("{lat:.6}, {lon:.6}")));
    }
    if let Some(c) = s.contracted_kw {
        let note = if c > 0.0 && s.rig_kw > c {
            format!(" (the estimated rig alone is {:.1}x this)", s.rig_kw / c)
        } else {
            String::new()
        };
        m.push(("Contracted capacity".into(), format!("{}{note}", kw(c))));
    }
    if let Some(iv) = s.native_interval_secs {
        m.push(("Meter interval".into(), format!("{} min", iv / 60)));
    }
    m
}

/// Data-quality sentences of a suspect page.
pub fn quality_lines(e: &Evidence, run: &RunData) -> Vec<String> {
    let q = &e.quality;
    let mut v = vec![format!(
        "{} of the window's slots have a reading ({} missing).",
        pct(q.present_share),
        thousands(q.missing_slots as f64)
    )];
    if q.gaps > 0 {
        v.push(format!(
            "{} gap(s) in the readings; the longest lasts {:.1} hours.",
            q.gaps, q.longest_gap_hours
        ));
    }
    if q.estimated_slots > 0 {
        v.push(format!(
            "{} slot(s) on {} day(s) are estimated or substituted by the meter-data system ({}{}); \
             flatness built from estimates is not evidence.",
            q.estimated_slots,
            q.estimated_days,
            q.estimated_dates.join(", "),
            if q.estimated_days > q.estimated_dates.len() { ", ..." } else { "" }
        ));
    } else {
        v.push("No estimated or substituted readings.".into());
    }
    if q.quarantined.is_empty() {
        v.push("No readings of this meter were quarantined.".into());
    }
    if run.grid.n_slots == 0 {
        v.push("The run's grid is empty.".into());
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_format_for_reading() {
        assert_eq!(thousands(36_001.4), "36,001");
        assert_eq!(thousands(-1_234_567.0), "-1,234,567");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(f64::NAN), "-");
        assert_eq!((kw(31.33), kw(158.7)), ("31.3 kW".into(), "159 kW".into()));
        assert_eq!(score_class(0.95), "hi");
        assert_eq!(score_class(0.55), "lo");
    }

    #[test]
    fn feeders_past_the_cap_are_summed_in_one_row() {
        let suspects: Vec<SuspectRecord> = (0..MAX_FEEDER_ROWS + 6)
            .map(|i| SuspectRecord {
                meter_id: format!("M{i}"),
                rank: i + 1,
                rig_kw: 100.0 - i as f64,
                excess_kwh: 1000.0,
                feeder_id: (i > 0).then(|| format!("F{i:02}")),
                ..SuspectRecord::default()
            })
            .collect();
        let href =
            |s: &SuspectRecord| (s.rank <= 3).then(|| format!("suspects/{}.html", s.meter_id));
        let rows = feeder_rows(&suspects, &href);
        assert_eq!(rows.len(), MAX_FEEDER_ROWS + 1);
        assert_eq!(rows[0].feeder, "F01", "most kW first");
        assert_eq!(
            rows[0].top.as_ref().unwrap().href.as_deref(),
            Some("suspects/M1.html")
        );
        assert!(
            rows[5].top.as_ref().unwrap().href.is_none(),
            "past the page cap: text only"
        );
        let last = &rows[MAX_FEEDER_ROWS];
        assert_eq!(last.feeder, "6 other feeders");
        assert_eq!((last.suspects, last.kwh.as_str()), (6, "6,000 kWh"));
        // The meter without a feeder is counted with the rest, never ahead of real feeders.
        assert!(rows.iter().all(|r| r.feeder != "(no feeder)"));
    }
}
