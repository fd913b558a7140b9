//! The evidence of one suspect, derived from stored data only: its three charts, its rig
//! estimate with uncertainty, and its data-quality notes. [`RunData`] is a run directory
//! loaded once (report_data plus the run's own files); [`Evidence::of`] works on it per
//! suspect and is pure, so pages render in parallel and tests check the numbers directly.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use chrono::{TimeZone, Timelike};
use chrono_tz::Tz;

use super::data::{self, ReportData, Series, SuspectRecord};
use super::rundir::{self, FeatureTable, MeterQuality, RegisteredRow};
use super::ReportError;
use crate::features::steps::{DEVICES, FIT_TOLERANCE, HOME_UNIT_MAX_TOTAL_KW};
use crate::features::{baseload, Calendar};
use crate::grid::TimeGrid;
use crate::plot::meter_baseload::{BaseloadChart, StepLevels};
use crate::plot::meter_charts::LoadChart;
use crate::plot::meter_heatmap::Heatmap;

/// Candidate onset slots of the detection, in the order it prefers them: the step of a
/// continuous floor, the first "on" day (intermittent), the first "on" night (night-only).
pub const ONSET_FEATURES: [&str; 3] = ["onset_slot", "first_on_slot", "first_night_slot"];

/// Features read from `features.parquet` for the charts (the peer features are added).
pub const CHART_FEATURES: [&str; 7] = [
    "onset_slot",
    "first_on_slot",
    "first_night_slot",
    "step_before_kw",
    "base_after_kw",
    "growth_day",
    "growth_kw",
];

/// A run directory, loaded for the report.
#[derive(Debug)]
pub struct RunData {
    pub dir: PathBuf,
    pub run: crate::output::run_json::RunJson,
    pub data: ReportData,
    pub grid: TimeGrid,
    pub tz: Tz,
    /// The grid's calendar and local minute of day of each slot's start, in the run's zone and
    /// in every other zone of a suspect (a meter's dates and hours are local to it).
    pub zones: HashMap<Tz, ZoneCalendar>,
    pub series: HashMap<String, Series>,
    pub features: FeatureTable,
    /// meter id -> (tariff, feeder).
    pub segments: data::Segments,
    pub registered: Vec<RegisteredRow>,
    pub quality: HashMap<String, MeterQuality>,
}

impl RunData {
    /// Loads everything the report reads from `dir`.
    pub fn load(dir: &Path) -> Result<Self, ReportError> {
        Self::load_top(dir, 0)
    }

    /// Loads `dir` with the series of the top `pages` suspects only (0 = all): what a report
    /// capped at `pages` evidence pages draws.
    pub fn load_top(dir: &Path, pages: usize) -> Result<Self, ReportError> {
        let run = rundir::read_run_info(dir)?;
        let data = data::read_report_data(dir)?;
        let grid: TimeGrid = data.grid.into();
        let tz: Tz = data.tz.parse().map_err(|_| ReportError::Read {
            path: dir.join(data::DATA_DIR).join(data::SUSPECTS_JSON),
            source: format!("unknown time zone {:?}", data.tz).into(),
            fix: "re-run `gridsleuth run` with a valid --tz".into(),
        })?;
        let mut zones = HashMap::new();
        zones.insert(tz, ZoneCalendar::new(&grid, tz));
        for z in data.suspects.iter().filter_map(|s| s.tz.as_deref()) {
            let z: Tz = z.parse().map_err(|_| ReportError::Read {
                path: dir.join(data::DATA_DIR).join(data::SUSPECTS_JSON),
                source: format!("unknown time zone {z:?}").into(),
                fix: "re-run `gridsleuth run` to write the report data again".into(),
            })?;
            zones
                .entry(z)
                .or_insert_with(|| ZoneCalendar::new(&grid, z));
        }
        let series = if data.suspects.is_empty() {
            HashMap::new()
        } else {
            let top = if pages == 0 {
                data.suspects.len()
            } else {
                pages
            };
            let rows = data
                .suspects
                .iter()
                .take(top)
                .map(|s| s.present_slots as usize);
            data::read_series(dir, &grid, Some(rows.sum()))?
        };
        let mut names: Vec<&str> = super::peers::PEER_FEATURES.iter().map(|f| f.name).collect();
        names.extend(CHART_FEATURES);
        let features = rundir::read_features(dir, &names)?;
        let segments = data::read_segments(dir, &features)?;
        let registered = rundir::read_registered(dir)?;
        let ids: HashSet<&str> = data.suspects.iter().map(|s| s.meter_id.as_str()).collect();
        let quality = rundir::read_meter_quality(dir, &ids)?;
        Ok(RunData {
            dir: dir.to_path_buf(),
            run,
            data,
            grid,
            tz,
            zones,
            series,
            features,
            segments,
            registered,
            quality,
        })
    }

    /// The calendar of suspect `s`'s zone (the run's zone when it has none of its own).
    pub fn zone_of(&self, s: &SuspectRecord) -> &ZoneCalendar {
        s.tz.as_deref()
            .and_then(|z| z.parse::<Tz>().ok())
            .and_then(|z| self.zones.get(&z))
            .or_else(|| self.zones.get(&self.tz))
            .expect("the run's zone is always loaded")
    }

    /// The calendar of the run's zone.
    pub fn calendar(&self) -> &Calendar {
        &self.zones[&self.tz].calendar
    }
}

/// The grid's local calendar in one zone, and each slot's local minute of day.
#[derive(Debug)]
pub struct ZoneCalendar {
    pub calendar: Calendar,
    pub minute_of_day: Vec<u16>,
}

impl ZoneCalendar {
    /// The calendar of `grid` in zone `tz`.
    pub fn new(grid: &TimeGrid, tz: Tz) -> Self {
        ZoneCalendar {
            calendar: Calendar::new(grid, tz),
            minute_of_day: (0..grid.n_slots)
                .map(|s| {
                    tz.timestamp_opt(grid.slot_start(s), 0)
                        .single()
                        .map_or(0, |t| (t.hour() * 60 + t.minute()) as u16)
                })
                .collect(),
        }
    }

    /// First slot of local day `d`.
    fn first_slot_of_day(&self, d: usize) -> Option<usize> {
        self.calendar.day.iter().position(|&x| x as usize == d)
    }

    /// Day index of a local date.
    pub fn day_of_date(&self, date: &str) -> Option<usize> {
        self.calendar.dates.iter().position(|x| x == date)
    }
}

/// One catalogue reading of the rig power.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DeviceFit {
    pub model: &'static str,
    pub devices: u32,
    pub device_kw: f64,
    pub total_kw: f64,
    /// |estimate - total| in devices (0 = exact multiple, 0.5 = halfway).
    pub miss: f64,
}

/// The rig estimate and its uncertainty.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RigEstimate {
    pub kw: f64,
    /// 10th-90th percentile of the rig level over the days since the onset.
    pub range_kw: Option<(f64, f64)>,
    /// What the range was measured on, and over how many days.
    pub basis: String,
    /// The detection's fit (fewest devices within tolerance).
    pub fit: Option<DeviceFit>,
    /// Other catalogue models within [`FIT_TOLERANCE`], fewest devices first.
    pub alternatives: Vec<DeviceFit>,
    /// Device counts the range allows, from the largest to the smallest ASIC of the catalogue.
    pub count_range: Option<(u32, u32)>,
}

/// Fits of `kw` to each catalogue model (home units only for small totals, as the detection).
pub fn catalogue_fits(kw: f64) -> Vec<DeviceFit> {
    if !kw.is_finite() || kw <= 0.0 {
        return Vec::new();
    }
    let mut v: Vec<DeviceFit> = DEVICES
        .iter()
        .filter(|(_, d)| *d >= 1.0 || kw <= f64::from(HOME_UNIT_MAX_TOTAL_KW))
        .map(|&(model, d)| {
            let d = f64::from(d);
            let n = (kw / d).round().clamp(1.0, 10_000.0);
            DeviceFit {
                model,
                devices: n as u32,
                device_kw: d,
                total_kw: n * d,
                miss: (kw - n * d).abs() / d,
            }
        })
        .collect();
    v.sort_by(|a, b| a.devices.cmp(&b.devices).then(a.miss.total_cmp(&b.miss)));
    v
}

/// q-quantile (nearest rank) of finite values.
fn quantile(v: &mut [f64], q: f64) -> Option<f64> {
    crate::stats::quantile_mut(v, q)
}

impl RigEstimate {
    /// `levels` are the candidate daily levels since the onset (daily floors, night floors):
    /// the one whose median is nearest the estimate plus `base` measures the spread.
    pub fn new(s: &SuspectRecord, levels: &[(&str, Vec<f64>)], base: f64) -> Self {
        let kw = s.rig_kw;
        let best = levels
            .iter()
            .filter_map(|(name, v)| {
                let mut v: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
                let med = quantile(&mut v, 0.5)?;
                // Off days of an intermittent rig are not the rig's level.
                v.retain(|x| *x >= med / 2.0);
                Some((name, v, med))
            })
            .min_by(|a, b| {
                ((a.2 - base) - kw)
                    .abs()
                    .total_cmp(&((b.2 - base) - kw).abs())
            });
        let (range_kw, basis) = match best {
            Some((name, mut v, med)) if v.len() >= 3 && kw > 0.0 => {
                let lo = quantile(&mut v, 0.1).unwrap_or(med);
                let hi = quantile(&mut v, 0.9).unwrap_or(med);
                (
                    Some(((kw + lo - med).max(0.0), kw + hi - med)),
                    format!("10th-90th percentile of the {name} over {} days", v.len()),
                )
            }
            Some((_, v, _)) => (
                None,
                format!("{} days: too few to measure a spread", v.len()),
            ),
            None => (None, "no complete day to measure a spread".into()),
        };
        let fits = catalogue_fits(kw);
        let fit = s.device_model.as_ref().and_then(|m| {
            fits.iter()
                .find(|f| f.model == m.as_str() && Some(f.devices) == s.devices)
                .cloned()
        });
        let alternatives = fits
            .iter()
            .filter(|f| f.miss <= f64::from(FIT_TOLERANCE) && Some(*f) != fit.as_ref())
            .take(4)
            .cloned()
            .collect();
        let asic = |pick: fn(f64, f64) -> f64| {
            DEVICES
                .iter()
                .map(|d| f64::from(d.1))
                .filter(|d| *d >= 1.0)
                .fold(f64::NAN, pick)
        };
        let count_range = range_kw.filter(|r| r.1 >= 1.0).map(|(lo, hi)| {
            let lo_n = (lo / asic(f64::max)).round().max(1.0) as u32;
            let hi_n = (hi / asic(f64::min)).round().max(1.0) as u32;
            (lo_n, hi_n.max(lo_n))
        });
        RigEstimate {
            kw,
            range_kw,
            basis,
            fit,
            alternatives,
            count_range,
        }
    }
}

/// Gaps and estimates in a suspect's series, plus its quarantined readings.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct QualityNotes {
    pub present_share: f64,
    pub missing_slots: usize,
    pub gaps: usize,
    pub longest_gap_hours: f64,
    pub estimated_slots: usize,
    /// Local dates with estimated slots (at most ten).
    pub estimated_dates: Vec<String>,
    pub estimated_days: usize,
    /// (reason, records, readings) from `data_quality.csv`.
    pub quarantined: Vec<(String, u64, u64)>,
}

impl QualityNotes {
    fn new(series: &Series, cal: &Calendar, hours: f64, q: Option<&MeterQuality>) -> Self {
        let n = series.kwh.len();
        let missing = series.kwh.iter().filter(|v| v.is_nan()).count();
        let (mut gaps, mut longest, mut run) = (0usize, 0usize, 0usize);
        for v in &series.kwh {
            if v.is_nan() {
                run += 1;
                gaps += usize::from(run == 1);
                longest = longest.max(run);
            } else {
                run = 0;
            }
        }
        let mut days: Vec<u32> = (0..n)
            .filter(|&s| series.estimated.get(s).copied().unwrap_or(false))
            .filter_map(|s| cal.day.get(s).copied())
            .collect();
        days.dedup();
        QualityNotes {
            present_share: if n == 0 {
                0.0
            } else {
                (n - missing) as f64 / n as f64
            },
            missing_slots: missing,
            gaps,
            longest_gap_hours: longest as f64 * hours,
            estimated_slots: series.estimated.iter().filter(|e| **e).count(),
            estimated_days: days.len(),
            estimated_dates: days
                .iter()
                .take(10)
                .filter_map(|&d| cal.dates.get(d as usize).cloned())
                .collect(),
            quarantined: q
                .map(|m| m.iter().map(|(r, (a, b))| (r.clone(), *a, *b)).collect())
                .unwrap_or_default(),
        }
    }
}

/// Everything a suspect page shows besides its finding.
#[derive(Debug, Clone)]
pub struct Evidence {
    pub load: LoadChart,
    pub heatmap: Heatmap,
    pub baseload: BaseloadChart,
    pub rig: RigEstimate,
    pub quality: QualityNotes,
    /// Onset slot the charts mark (its local date is the finding's onset).
    pub onset_slot: Option<usize>,
}

impl Evidence {
    /// The evidence of suspect `s` (an empty series when it has none stored).
    pub fn of(run: &RunData, s: &SuspectRecord) -> Self {
        let empty = Series {
            kwh: vec![f32::NAN; run.grid.n_slots],
            estimated: vec![false; run.grid.n_slots],
        };
        let series = run.series.get(&s.meter_id).unwrap_or(&empty);
        let zone = run.zone_of(s);
        let cal = &zone.calendar;
        let hours = run.grid.interval_hours();
        let feat = |name: &str| f64::from(run.features.get(&s.meter_id, name));
        // The onset slot: the first of the detection's candidates (the floor's step, the first
        // "on" day, the first "on" night) that lies on the onset date, else the first slot of
        // that date (the window start for rigs running from the start).
        let onset_day = s.onset.as_deref().and_then(|d| zone.day_of_date(d));
        let on_day = |slot: f64| {
            slot.is_finite()
                && slot >= 0.0
                && cal.day.get(slot as usize).map(|&x| x as usize) == onset_day
        };
        let step_slot = feat("onset_slot");
        let is_step = s.onset_in_window && on_day(step_slot);
        let onset_slot = ONSET_FEATURES
            .iter()
            .map(|n| feat(n))
            .find(|&x| s.onset_in_window && on_day(x))
            .map(|x| x as usize)
            .or_else(|| onset_day.and_then(|d| zone.first_slot_of_day(d)));
        let floor_after = feat("base_after_kw");
        let kw: Vec<f32> = series.kwh.iter().map(|v| v / hours as f32).collect();
        let days = cal.day_ranges();
        let (mut daily, mut nights, mut day_floors) = (Vec::new(), Vec::new(), Vec::new());
        let (mut buf, mut tmp) = (Vec::new(), Vec::new());
        baseload::baseload(
            &kw,
            cal,
            &days,
            &mut daily,
            &mut nights,
            &mut day_floors,
            &mut buf,
            &mut tmp,
        );
        let from = onset_day.unwrap_or(0);
        let since =
            |v: &[f32]| -> Vec<f64> { v.iter().skip(from).map(|&x| f64::from(x)).collect() };
        let before = feat("step_before_kw");
        let base = if is_step && before.is_finite() {
            before
        } else {
            0.0
        };
        let rig = RigEstimate::new(
            s,
            &[
                ("daily floor", since(&daily)),
                ("night floor", since(&nights)),
            ],
            base,
        );
        // Capacity added later: the floor holds its present level from that day on.
        let growth = Some((feat("growth_day"), feat("growth_kw")))
            .filter(|(d, k)| is_step && d.is_finite() && *d > 0.0 && k.is_finite() && *k > 0.0)
            .map(|(d, k)| (d as usize, k));
        let floor_from = match growth {
            Some((d, _)) => days.get(d).map_or(0, |r| r.start),
            None => onset_slot.unwrap_or(0),
        };
        let step = StepLevels {
            onset_day,
            in_window: is_step,
            before_kw: Some(before),
            after_kw: Some(floor_after),
            growth,
        };
        Evidence {
            load: LoadChart::new(
                &series.kwh,
                hours,
                &cal.day,
                &cal.dates,
                onset_slot,
                s.onset_in_window,
                Some((floor_from, floor_after)),
            ),
            heatmap: Heatmap::new(
                &series.kwh,
                hours,
                &cal.day,
                &zone.minute_of_day,
                &cal.dates,
                onset_day.filter(|_| s.onset_in_window),
            ),
            baseload: BaseloadChart::new(daily, &cal.dates, &step),
            rig,
            quality: QualityNotes::new(series, cal, hours, run.quality.get(&s.meter_id)),
            onset_slot,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kw: f64, model: Option<&str>, n: Option<u32>) -> SuspectRecord {
        SuspectRecord {
            meter_id: "M1".into(),
            rig_kw: kw,
            devices: n,
            device_model: model.map(str::to_string),
            onset: Some("2024-03-04".into()),
            onset_in_window: true,
            ..SuspectRecord::default()
        }
    }

    #[test]
    fn range_comes_from_the_level_nearest_the_estimate() {
        let floors: Vec<f64> = (0..10)
            .map(|d| 6.3 + 0.1 * f64::from(d % 3) - 0.1)
            .collect();
        let nights = vec![9.0; 10];
        let r = RigEstimate::new(
            &record(6.2, Some("Antminer S19"), Some(2)),
            &[("daily floor", floors), ("night floor", nights)],
            0.1,
        );
        let (lo, hi) = r.range_kw.unwrap();
        assert!(lo < 6.2 && hi > 6.2 && hi - lo < 0.5, "{lo}..{hi}");
        assert!(r.basis.contains("daily floor over 10 days"));
        let fit = r.fit.unwrap();
        assert_eq!((fit.model, fit.devices), ("Antminer S19", 2));
        assert!((fit.total_kw - 6.5).abs() < 1e-6);
        assert!(r.alternatives.iter().all(|a| a.miss <= 0.12));
        let (a, b) = r.count_range.unwrap();
        assert!(a <= 2 && b >= 2);
    }

    #[test]
    fn too_few_days_give_no_range() {
        let r = RigEstimate::new(
            &record(3.0, None, None),
            &[("daily floor", vec![3.1, 3.0])],
            0.0,
        );
        assert_eq!(r.range_kw, None);
        assert!(r.basis.contains("too few"));
        assert!(catalogue_fits(f64::NAN).is_empty());
        // Home units only explain small totals.
        assert!(catalogue_fits(10.0).iter().all(|f| f.device_kw >= 1.0));
        assert!(catalogue_fits(1.6).iter().any(|f| f.device_kw < 1.0));
    }

    #[test]
    fn quality_notes_count_gaps_and_estimates() {
        let grid = TimeGrid {
            start: 1_709_251_200,
            interval_secs: 1800,
            n_slots: 96,
        };
        let cal = Calendar::new(&grid, chrono_tz::UTC);
        let mut kwh = vec![1.0f32; 96];
        kwh[5..9].iter_mut().for_each(|v| *v = f32::NAN);
        kwh[60] = f32::NAN;
        let mut estimated = vec![false; 96];
        estimated[70] = true;
        let q = QualityNotes::new(&Series { kwh, estimated }, &cal, 0.5, None);
        assert_eq!((q.missing_slots, q.gaps, q.estimated_slots), (5, 2, 1));
        assert!((q.longest_gap_hours - 2.0).abs() < 1e-9);
        assert_eq!(q.estimated_dates, vec!["2024-03-02".to_string()]);
    }
}
