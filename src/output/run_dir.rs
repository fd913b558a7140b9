//! The run directory: `scores.csv` (every meter), `suspects.csv` (flagged, in rank order),
//! `registered_miners.csv`, `features.parquet`, and `run.json` (inputs, counts, settings,
//! version, timings). Same inputs and seed give byte-identical files, `run.json`'s timings aside:
//! floats are printed with fixed precision and rows come in a fixed order.

use std::path::Path;

use polars::prelude::*;

use crate::detect::Detection;
use crate::features::FEATURE_NAMES;
use crate::grid::LoadMatrix;
use crate::ingest::MeterTable;

use super::csv_num as f;

/// Header of `scores.csv`.
pub const SCORES_HEADER: [&str; 11] = [
    "meter_id",
    "score",
    "rank",
    "flagged",
    "est_rig_kw",
    "est_devices",
    "onset",
    "excess_kwh",
    "registered_miner",
    "top_reason",
    "tz",
];

/// Column of the rank in `scores.csv`.
pub const SCORES_RANK_COLUMN: usize = 2;

/// `scores.csv`: `meter_id,score,rank,flagged,est_rig_kw,est_devices,onset,excess_kwh,
/// registered_miner,top_reason,tz` (onset dates are local dates in the meter's zone `tz`).
pub fn scores_csv(m: &LoadMatrix, d: &Detection) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(SCORES_HEADER)?;
    write_scores_rows(&mut w, m, d)?;
    w.flush()?;
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

/// The rows of `scores.csv` for the meters of `m`, in matrix order.
pub fn write_scores_rows<W: std::io::Write>(
    w: &mut csv::Writer<W>,
    m: &LoadMatrix,
    d: &Detection,
) -> Result<(), csv::Error> {
    for x in &d.findings {
        let has_rig = x.rig_kw > 0.0;
        let tz = d.zone_of(x.meter);
        w.write_record([
            &*m.meter_ids()[x.meter],
            &f(x.score, 6),
            &x.rank.map(|r| r.to_string()).unwrap_or_default(),
            if x.flagged { "true" } else { "false" },
            &f(x.rig_kw, 3),
            &x.devices
                .filter(|_| has_rig)
                .map(|n| n.to_string())
                .unwrap_or_default(),
            x.onset.as_deref().unwrap_or(""),
            &f(x.excess_kwh, 1),
            if x.registered_miner { "true" } else { "false" },
            x.reasons.first().map_or("", String::as_str),
            tz.name(),
        ])?;
    }
    Ok(())
}

/// Header of `suspects.csv`.
pub const SUSPECTS_HEADER: [&str; 12] = [
    "rank",
    "meter_id",
    "address",
    "feeder_id",
    "tariff",
    "score",
    "est_rig_kw",
    "est_devices",
    "device_model",
    "onset",
    "excess_kwh",
    "reasons",
];

/// `suspects.csv`: flagged meters in rank order, with metadata and all reasons.
pub fn suspects_csv(
    m: &LoadMatrix,
    d: &Detection,
    meters: Option<&MeterTable>,
) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(SUSPECTS_HEADER)?;
    let mut flagged: Vec<&crate::score::Finding> =
        d.findings.iter().filter(|x| x.flagged).collect();
    flagged.sort_by_key(|x| x.rank);
    for x in flagged {
        w.write_record(suspect_row(m, x, meters))?;
    }
    w.flush()?;
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

/// One row of `suspects.csv` (its rank first: [`Finding::rank`](crate::score::Finding)).
pub fn suspect_row(
    m: &LoadMatrix,
    x: &crate::score::Finding,
    meters: Option<&MeterTable>,
) -> [String; 12] {
    let id = &*m.meter_ids()[x.meter];
    let info = meters.and_then(|t| t.get(id));
    let s = |v: Option<&str>| v.unwrap_or("").to_string();
    [
        x.rank.map(|r| r.to_string()).unwrap_or_default(),
        id.to_string(),
        s(info.and_then(|i| i.address.as_deref())),
        s(info.and_then(|i| i.feeder_id.as_deref())),
        s(info.and_then(|i| i.tariff.as_deref())),
        f(x.score, 4),
        f(x.rig_kw, 2),
        x.devices.map(|n| n.to_string()).unwrap_or_default(),
        s(x.device_model),
        s(x.onset.as_deref()),
        f(x.excess_kwh, 0),
        x.reasons.join("; "),
    ]
}

/// Header of `registered_miners.csv`.
pub const REGISTERED_HEADER: [&str; 7] = [
    "meter_id",
    "address",
    "contracted_kw",
    "mean_kw",
    "p90_kw",
    "over_contract",
    "notes",
];

/// `registered_miners.csv`: licensed miners, with any drawing over their contracted capacity.
pub fn registered_csv(
    m: &LoadMatrix,
    d: &Detection,
    meters: Option<&MeterTable>,
) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(REGISTERED_HEADER)?;
    write_registered_rows(&mut w, m, d, meters)?;
    w.flush()?;
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

/// The rows of `registered_miners.csv` for the meters of `m`, in matrix order.
pub fn write_registered_rows<W: std::io::Write>(
    w: &mut csv::Writer<W>,
    m: &LoadMatrix,
    d: &Detection,
    meters: Option<&MeterTable>,
) -> Result<(), csv::Error> {
    for x in d.findings.iter().filter(|x| x.registered_miner) {
        let id = &*m.meter_ids()[x.meter];
        let info = meters.and_then(|t| t.get(id));
        let feat = &d.features[x.meter];
        w.write_record([
            id,
            info.and_then(|i| i.address.as_deref()).unwrap_or(""),
            &info
                .and_then(|i| i.contracted_kw)
                .map(|c| f(c, 1))
                .unwrap_or_default(),
            &f(f64::from(feat.mean_kw), 2),
            &f(f64::from(feat.p90_kw), 2),
            if x.over_contract { "true" } else { "false" },
            &x.reasons.join("; "),
        ])?;
    }
    Ok(())
}

/// `features.parquet`: meter_id, every feature, cluster, cluster rig-likeness, score.
pub fn write_features_parquet(m: &LoadMatrix, d: &Detection, path: &Path) -> PolarsResult<()> {
    let mut df = features_frame(m, d)?;
    let file = std::fs::File::create(path)?;
    ParquetWriter::new(file)
        .with_compression(ParquetCompression::Zstd(None))
        .finish(&mut df)?;
    Ok(())
}

/// The rows of `features.parquet` for the meters of `m` (a streamed run writes each chunk's as
/// a batch).
pub fn features_frame(m: &LoadMatrix, d: &Detection) -> PolarsResult<DataFrame> {
    let mut cols: Vec<Column> = vec![
        Column::new(
            "meter_id".into(),
            m.meter_ids().iter().map(|s| &**s).collect::<Vec<&str>>(),
        ),
        Column::new(
            "tz".into(),
            (0..m.n_meters())
                .map(|i| d.zone_of(i).name())
                .collect::<Vec<&str>>(),
        ),
    ];
    for (j, name) in FEATURE_NAMES.iter().enumerate() {
        let v: Vec<f32> = d.features.iter().map(|f| f.values()[j]).collect();
        cols.push(Column::new((*name).into(), v));
    }
    if let Some(c) = &d.clusters {
        cols.push(Column::new(
            "cluster".into(),
            c.assignment.iter().map(|&a| a as u32).collect::<Vec<u32>>(),
        ));
        cols.push(Column::new(
            "cluster_rig_likeness".into(),
            (0..m.n_meters())
                .map(|i| c.meter_rig_likeness(i))
                .collect::<Vec<f64>>(),
        ));
    }
    // The evidence behind each score: the form judged and every term of the product.
    cols.push(Column::new(
        "form".into(),
        d.findings
            .iter()
            .map(|x| x.evidence.form.name())
            .collect::<Vec<&str>>(),
    ));
    type Term = fn(&crate::score::Evidence) -> f64;
    let terms: [(&str, Term); 8] = [
        ("ev_rig_kw", |e| e.rig_kw),
        ("ev_level", |e| e.level),
        ("ev_flat", |e| e.flat),
        ("ev_steady", |e| e.steady),
        ("ev_no_rhythm", |e| e.no_rhythm),
        ("ev_not_heating", |e| e.not_heating),
        ("ev_peer", |e| e.peer),
        ("ev_trust", |e| e.trust),
    ];
    for (name, get) in terms {
        cols.push(Column::new(
            name.into(),
            d.findings
                .iter()
                .map(|x| get(&x.evidence))
                .collect::<Vec<f64>>(),
        ));
    }
    cols.push(Column::new(
        "score".into(),
        d.findings.iter().map(|x| x.score).collect::<Vec<f64>>(),
    ));
    DataFrame::new_infer_height(cols)
}
