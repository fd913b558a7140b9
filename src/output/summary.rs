//! The ingest summary: what was loaded, on which grid, what was quarantined and why.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::grid::LoadMatrix;
use crate::ingest::accumulate::fmt_instant;
use crate::ingest::{Ingested, QualityLog};

/// Counts of one dataset's quality log (in `ingest.json` and `run.json`; read back leniently:
/// a missing field is its default).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DatasetCounts {
    pub dataset: String,
    pub files: usize,
    pub read: u64,
    pub used: u64,
    pub quarantined: u64,
    pub exact_duplicates: u64,
    pub reconciles: bool,
    pub quarantined_by_reason: std::collections::BTreeMap<String, u64>,
    pub notes: Vec<String>,
}

impl DatasetCounts {
    pub fn of(q: &QualityLog) -> Self {
        DatasetCounts {
            dataset: q.dataset.to_string(),
            files: q.files().len(),
            read: q.readings_read,
            used: q.readings_used,
            quarantined: q.readings_quarantined(),
            exact_duplicates: q.exact_duplicates,
            reconciles: q.reconciles(),
            quarantined_by_reason: q
                .quarantined_by_reason()
                .iter()
                .map(|(r, n)| (r.to_string(), *n))
                .collect(),
            notes: q.notes.clone(),
        }
    }
}

/// Grid and coverage figures (in `ingest.json` and `run.json`; read back leniently).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct GridSummary {
    pub meters: usize,
    pub interval_minutes: u32,
    pub start: String,
    pub end: String,
    pub slots: usize,
    pub days: f64,
    pub present_share: f64,
    pub estimated_share: f64,
    pub min_meter_coverage: f64,
    pub meters_below_90pct: usize,
    pub aggregated_meters: usize,
}

impl GridSummary {
    pub fn of(m: &LoadMatrix, native_interval: &[u32]) -> Self {
        let mut t = GridTally::default();
        t.add(m, native_interval);
        t.summary(&m.grid)
    }
}

/// The sums behind a [`GridSummary`], added matrix by matrix: a streamed run adds each chunk's
/// meters and gets the summary of the whole matrix (integer sums, one division at the end).
#[derive(Debug, Clone, Default)]
pub struct GridTally {
    meters: usize,
    /// Slots from each meter's first reading to its last, summed.
    span_slots: u64,
    present_slots: u64,
    estimated_slots: u64,
    min_meter_coverage: f64,
    meters_below_90pct: usize,
    aggregated_meters: usize,
}

impl GridTally {
    /// Adds the meters of `m` (their native intervals `native_interval`).
    pub fn add(&mut self, m: &LoadMatrix, native_interval: &[u32]) {
        let n = m.grid.n_slots;
        if self.meters == 0 {
            self.min_meter_coverage = f64::INFINITY;
        }
        for i in 0..m.n_meters() {
            // Coverage is each meter's own: present slots over the slots from its first
            // reading to its last (a region mixing periods has meters of 35 days on a grid of
            // years).
            let row = m.row(i);
            let span = match (
                row.iter().position(|v| !v.is_nan()),
                row.iter().rposition(|v| !v.is_nan()),
            ) {
                (Some(a), Some(b)) => b + 1 - a,
                _ => n,
            };
            let cov = m.coverage(i);
            let share = cov.present_share(span);
            self.span_slots += span as u64;
            self.present_slots += u64::from(cov.present);
            self.estimated_slots += u64::from(cov.estimated);
            self.min_meter_coverage = self.min_meter_coverage.min(share);
            self.meters_below_90pct += usize::from(share < 0.9);
        }
        self.meters += m.n_meters();
        self.aggregated_meters += native_interval
            .iter()
            .filter(|&&iv| iv != m.grid.interval_secs)
            .count();
    }

    /// The summary of every meter added, on `grid`.
    pub fn summary(&self, grid: &crate::grid::TimeGrid) -> GridSummary {
        let total = self.span_slots.max(1) as f64;
        GridSummary {
            meters: self.meters,
            interval_minutes: grid.interval_secs / 60,
            start: fmt_instant(grid.start),
            end: fmt_instant(grid.end()),
            slots: grid.n_slots,
            days: (grid.end() - grid.start) as f64 / 86_400.0,
            present_share: self.present_slots as f64 / total,
            estimated_share: self.estimated_slots as f64 / total,
            min_meter_coverage: if self.meters == 0 {
                f64::INFINITY
            } else {
                self.min_meter_coverage
            }
            .min(1.0),
            meters_below_90pct: self.meters_below_90pct,
            aggregated_meters: self.aggregated_meters,
        }
    }
}

/// Everything `ingest.json` holds.
#[derive(Debug, Serialize)]
pub struct IngestReport {
    pub version: &'static str,
    pub grid: GridSummary,
    pub datasets: Vec<DatasetCounts>,
    pub feeders: Option<usize>,
    pub weather_slots_known: Option<usize>,
    pub timings_secs: std::collections::BTreeMap<&'static str, f64>,
    /// Whether the matrix was built in place from the streamed rows (no copy).
    pub matrix_built_in_place: bool,
}

impl IngestReport {
    pub fn of(ing: &Ingested) -> Self {
        let mut datasets = vec![DatasetCounts::of(&ing.quality)];
        if let Some((_, q)) = &ing.meters {
            datasets.push(DatasetCounts::of(q));
        }
        if let Some(f) = &ing.feeders {
            datasets.push(DatasetCounts::of(&f.quality));
        }
        if let Some((_, q)) = &ing.weather {
            datasets.push(DatasetCounts::of(q));
        }
        IngestReport {
            version: env!("CARGO_PKG_VERSION"),
            grid: GridSummary::of(&ing.matrix, &ing.native_interval),
            datasets,
            feeders: ing.feeders.as_ref().map(|f| f.matrix.n_meters()),
            weather_slots_known: ing
                .weather
                .as_ref()
                .map(|(w, _)| w.temperature_c.iter().filter(|v| !v.is_nan()).count()),
            timings_secs: ing
                .timings
                .iter()
                .map(|(k, d)| (*k, d.as_secs_f64()))
                .collect(),
            matrix_built_in_place: ing.zero_copy,
        }
    }

    /// Any reading quarantined in any dataset.
    pub fn any_quarantined(&self) -> bool {
        self.datasets.iter().any(|d| d.quarantined > 0)
    }

    /// The human summary printed by `gridsleuth ingest`.
    pub fn text(&self) -> String {
        let g = &self.grid;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "grid: {} meters x {} slots of {} min, {} .. {} ({:.1} days)",
            g.meters, g.slots, g.interval_minutes, g.start, g.end, g.days
        );
        let _ = writeln!(
            s,
            "coverage: {:.1}% of slots present (each meter from its first reading to its last), {:.1}% estimated; lowest meter {:.1}%, {} meters below 90%{}",
            100.0 * g.present_share,
            100.0 * g.estimated_share,
            100.0 * g.min_meter_coverage,
            g.meters_below_90pct,
            if g.aggregated_meters > 0 { format!("; {} finer meters summed into the grid", g.aggregated_meters) } else { String::new() }
        );
        for d in &self.datasets {
            let _ = writeln!(
                s,
                "{}: {} read = {} used + {} quarantined + {} exact duplicates ({} files){}",
                d.dataset,
                d.read,
                d.used,
                d.quarantined,
                d.exact_duplicates,
                d.files,
                if d.reconciles {
                    ""
                } else {
                    "  [COUNTS DO NOT RECONCILE: please report]"
                }
            );
            for (reason, n) in &d.quarantined_by_reason {
                let _ = writeln!(s, "  {reason:<24} {n:>12}");
            }
            for note in &d.notes {
                let _ = writeln!(s, "  note: {note}");
            }
        }
        if let Some(f) = self.feeders {
            let _ = writeln!(s, "feeder series on the grid: {f}");
        }
        if let Some(w) = self.weather_slots_known {
            let _ = writeln!(s, "weather: temperature known for {w} of {} slots", g.slots);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::TimeGrid;

    #[test]
    fn a_tally_over_parts_is_the_summary_of_the_whole() {
        let grid = TimeGrid {
            start: 1_700_000_000,
            interval_secs: 1800,
            n_slots: 6,
        };
        let nan = f32::NAN;
        let rows: [[f32; 6]; 4] = [
            [1.0; 6],
            [nan, 1.0, nan, 1.0, 1.0, nan],
            [nan, nan, nan, nan, nan, 2.0],
            [0.5, 0.5, 0.5, 0.5, nan, 0.5],
        ];
        let matrix = |ids: &[&str], rows: &[[f32; 6]]| {
            let values = rows.iter().flatten().copied().collect();
            let ids = ids.iter().map(|s| Box::<str>::from(*s)).collect();
            LoadMatrix::from_parts(grid, ids, values, Vec::new()).unwrap()
        };
        let whole = matrix(&["a", "b", "c", "d"], &rows);
        let native = [1800, 900, 1800, 1800];
        let want = GridSummary::of(&whole, &native);
        let mut t = GridTally::default();
        t.add(&matrix(&["a", "b"], &rows[..2]), &native[..2]);
        t.add(&matrix(&["c", "d"], &rows[2..]), &native[2..]);
        let got = t.summary(&grid);
        assert_eq!(
            serde_json::to_string(&got).unwrap(),
            serde_json::to_string(&want).unwrap()
        );
        assert_eq!(got.meters, 4);
        assert_eq!(got.aggregated_meters, 1);
        assert_eq!(got.meters_below_90pct, 2);
        assert!((got.present_share - 15.0 / 17.0).abs() < 1e-12);
    }
}
