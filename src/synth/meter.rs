//! One meter of the synthetic region: its plan (metadata, load, rig, defect days), its generated
//! series, and its rows in `meters.csv` and `labels.csv`. Also the feeders' plans.
//!
//! Input: the meter index, its [`Kind`], the [`Calendar`], the feeders, the region settings and
//! the seed. Output: a [`MeterOutput`]: the readings as the meter-data system has them (rounded
//! to 1 Wh, `NaN` where missing, flat-filled on estimated days) and the energy the feeder meter
//! sees (the meter's true consumption, including missing slots, plus any bypassed rig).
//! Invariants: everything depends only on (seed, meter index) and the settings; the meter's
//! true energy is conserved in the feeder whatever the defects; a bypassed rig never reaches the
//! meter's readings.

use rand::Rng as _;

use super::calendar::Calendar;
use super::kinds::{Kind, Tariff};
use super::load::LoadParams;
use super::params::RegionSettings;
use super::rig::{log_uniform, subtract_span, RigPlan, Schedule};
use super::seed::{rng, Rng, Stream};
use super::write::{iso, round_wh};

/// Towns of the synthetic region with approximate centres: the Talgar district of the Almaty
/// region, where DOMAIN.md's 6,000-device gang ran, and its neighbours.
const TOWNS: [(&str, f64, f64); 6] = [
    ("Talgar", 43.303, 77.240),
    ("Esik", 43.356, 77.452),
    ("Kaskelen", 43.200, 76.620),
    ("Otegen Batyr", 43.420, 77.020),
    ("Boraldai", 43.350, 76.850),
    ("Bayserke", 43.480, 77.030),
];
const STREETS: [&str; 16] = [
    "Abay St",
    "Dostyk St",
    "Tole Bi St",
    "Gagarin St",
    "Satpayev St",
    "Zhambyl St",
    "Raiymbek Ave",
    "Kunaev St",
    "Mira St",
    "Shkolnaya St",
    "Sadovaya St",
    "Almaty St",
    "Lesnaya St",
    "Nauryz St",
    "Bereke St",
    "Tauelsizdik Ave",
];
/// Residential service capacities (kW) and how common they are.
const SERVICES_KW: [(f64, f64); 4] = [(6.0, 0.2), (9.0, 0.3), (12.0, 0.35), (15.0, 0.15)];
/// Feeder outage length (seconds), log-uniform: a short interruption to a few hours.
pub const FEEDER_OUTAGE_SECS: (f64, f64) = (15.0 * 60.0, 3.0 * 3600.0);

/// A feeder: where it is and when it was out.
#[derive(Debug, Clone)]
pub struct FeederPlan {
    pub id: String,
    town: usize,
    first_street: usize,
    lat: f64,
    lon: f64,
    /// (start, length) in seconds from the window start.
    pub outages: Vec<(i64, i64)>,
}

fn width(n: usize) -> usize {
    n.saturating_sub(1).to_string().len()
}

/// The feeders of a region of `n_feeders`.
pub fn plan_feeders(
    n_feeders: usize,
    cal: &Calendar,
    set: &RegionSettings,
    seed: u64,
) -> Vec<FeederPlan> {
    let w = width(n_feeders).max(4);
    let window = cal.grid.end() - cal.grid.start;
    (0..n_feeders)
        .map(|f| {
            let mut r = rng(seed, Stream::Feeder, f as u64);
            let town = r.gen_range(0..TOWNS.len());
            let (_, lat, lon) = TOWNS[town];
            let expected = set.feeder_outages_per_30_days * window as f64 / (30.0 * 86_400.0);
            let n = poisson(&mut r, expected);
            let mut outages: Vec<(i64, i64)> = (0..n)
                .map(|_| {
                    let len = log_uniform(&mut r, FEEDER_OUTAGE_SECS.0, FEEDER_OUTAGE_SECS.1);
                    ((r.gen::<f64>() * window as f64) as i64, len as i64)
                })
                .collect();
            outages.sort_unstable();
            FeederPlan {
                id: format!("F{f:0w$}"),
                town,
                first_street: r.gen_range(0..STREETS.len()),
                lat: lat + 0.03 * (r.gen::<f64>() - 0.5),
                lon: lon + 0.04 * (r.gen::<f64>() - 0.5),
                outages,
            }
        })
        .collect()
}

fn poisson(r: &mut Rng, mean: f64) -> usize {
    match rand_distr::Poisson::new(mean) {
        Ok(p) => r.sample::<f64, _>(p) as usize,
        Err(_) => 0,
    }
}

/// Everything fixed about a meter before its series is drawn.
#[derive(Debug, Clone)]
pub struct MeterPlan {
    pub index: usize,
    pub id: String,
    pub kind: Kind,
    pub feeder: usize,
    pub tariff: Tariff,
    pub address: String,
    pub lat: f64,
    pub lon: f64,
    pub contracted_kw: f64,
    pub load: LoadParams,
    pub rig: Option<RigPlan>,
    /// Local day indices with no readings at all.
    pub gap_days: Vec<u32>,
    /// Local day indices whose readings are the day's total spread evenly.
    pub estimated_days: Vec<u32>,
}

fn round_up(x: f64, step: f64) -> f64 {
    (x / step).ceil().max(1.0) * step
}

fn pick_days(r: &mut Rng, n_days: usize, avoid: &[u32]) -> Vec<u32> {
    let want = r.gen_range(1..=3usize);
    let mut out: Vec<u32> = Vec::new();
    for _ in 0..want * 4 {
        if out.len() == want || n_days == 0 {
            break;
        }
        let d = r.gen_range(0..n_days) as u32;
        if !out.contains(&d) && !avoid.contains(&d) {
            out.push(d);
        }
    }
    out.sort_unstable();
    out
}

impl MeterPlan {
    pub fn draw(
        index: usize,
        n_meters: usize,
        kind: Kind,
        cal: &Calendar,
        feeders: &[FeederPlan],
        set: &RegionSettings,
        seed: u64,
    ) -> Self {
        let mut r = rng(seed, Stream::Plan, index as u64);
        let feeder = (index / set.meters_per_feeder).min(feeders.len().saturating_sub(1));
        let fp = &feeders[feeder];
        let street = STREETS[(fp.first_street + r.gen_range(0..4)) % STREETS.len()];
        let address = format!("{} {street}, {}", r.gen_range(1..=180), TOWNS[fp.town].0);
        let lat = fp.lat + 0.008 * (r.gen::<f64>() - 0.5);
        let lon = fp.lon + 0.011 * (r.gen::<f64>() - 0.5);
        let tariff = match kind {
            Kind::Commercial | Kind::Commercial24x7 | Kind::RegisteredMiner => Tariff::Commercial,
            Kind::Agricultural => Tariff::Agricultural,
            // DOMAIN.md: rigs hide in business and agricultural accounts; grow-ops often sit in
            // homes ("residential tariff sometimes").
            Kind::MiningPure | Kind::GrowOp => match r.gen::<f64>() {
                u if u < 0.5 => Tariff::Residential,
                u if u < 0.8 => Tariff::Commercial,
                _ => Tariff::Agricultural,
            },
            _ => Tariff::Residential,
        };
        let load = LoadParams::draw(kind, cal, &mut r);
        let rig = kind.is_mining().then(|| RigPlan::draw(kind, cal, &mut r));
        let service = {
            let mut u = r.gen::<f64>();
            let mut kw = SERVICES_KW[SERVICES_KW.len() - 1].0;
            for (s, w) in SERVICES_KW {
                if u < w {
                    kw = s;
                    break;
                }
                u -= w;
            }
            kw
        };
        let contracted_kw = match (kind, tariff) {
            (Kind::RegisteredMiner, _) => {
                let rig_kw = rig.as_ref().map_or(0.0, RigPlan::rig_kw);
                round_up((rig_kw + load.peak_kw()) * 1.2, 10.0)
            }
            (Kind::HouseholdElectricHeating | Kind::HouseholdStorageHeating, _) => {
                service.max(12.0)
            }
            (Kind::MiningPure, Tariff::Residential) => service,
            (Kind::MiningPure, _) => round_up(log_uniform(&mut r, 15.0, 60.0), 5.0),
            (_, Tariff::Residential) => service.max(round_up(load.peak_kw() * 1.25, 3.0)),
            _ => round_up(load.peak_kw() * 1.25, 5.0),
        };
        let n_days = cal.days.len();
        let gap_days = if r.gen_bool(set.gap_meter_share) {
            pick_days(&mut r, n_days, &[])
        } else {
            Vec::new()
        };
        let estimated_days = if r.gen_bool(set.estimated_meter_share) {
            pick_days(&mut r, n_days, &gap_days)
        } else {
            Vec::new()
        };
        MeterPlan {
            index,
            id: format!("M{index:0w$}", w = width(n_meters).max(6)),
            kind,
            feeder,
            tariff,
            address,
            lat,
            lon,
            contracted_kw,
            load,
            rig,
            gap_days,
            estimated_days,
        }
    }

    /// The `meters.csv` row.
    pub fn meter_record(&self, feeders: &[FeederPlan], tz: &str) -> [String; 9] {
        [
            self.id.clone(),
            self.address.clone(),
            feeders
                .get(self.feeder)
                .map_or(String::new(), |f| f.id.clone()),
            self.tariff.as_str().to_string(),
            format!("{:.6}", self.lat),
            format!("{:.6}", self.lon),
            (self.kind == Kind::RegisteredMiner).to_string(),
            format!("{:.1}", self.contracted_kw),
            tz.to_string(),
        ]
    }
}

/// What `labels.csv` says about one meter.
#[derive(Debug, Clone, Copy)]
pub struct Label<'a> {
    pub id: &'a str,
    pub kind: Kind,
    pub rig: Option<&'a RigPlan>,
    pub tariff: &'a str,
    pub feeder_id: &'a str,
    pub estimated_days: &'a [u32],
    pub gap_days: &'a [u32],
}

impl Label<'_> {
    /// The row, in `write::LABELS_HEADER` order.
    pub fn record(&self, cal: &Calendar) -> Vec<String> {
        let Label {
            id,
            kind,
            rig,
            tariff,
            feeder_id,
            estimated_days,
            gap_days,
        } = *self;
        let at = |slot: usize| iso(cal.grid.slot_start(slot));
        let days = |d: &[u32]| {
            d.iter()
                .filter_map(|&i| cal.days.get(i as usize))
                .map(|d| d.date.format("%Y-%m-%d").to_string())
                .collect::<Vec<_>>()
                .join(";")
        };
        let join = |v: Vec<String>| v.join(";");
        let mut row = vec![
            id.to_string(),
            kind.as_str().to_string(),
            kind.is_mining().to_string(),
        ];
        match rig {
            Some(p) => row.extend([
                p.n_devices().to_string(),
                format!("{:.3}", p.device_kw),
                at(p.onset_slot()),
                format!("{:.3}", p.rig_kw()),
                p.model.to_string(),
                if p.onset_at_start { "start" } else { "step" }.to_string(),
                p.steps.first().map_or(0, |s| s.devices).to_string(),
                join(p.steps.iter().skip(1).map(|s| at(s.slot)).collect()),
                join(
                    p.steps
                        .iter()
                        .skip(1)
                        .map(|s| s.devices.to_string())
                        .collect(),
                ),
                matches!(p.schedule, Schedule::Night { .. }).to_string(),
                matches!(p.schedule, Schedule::Intermittent { .. }).to_string(),
                p.bypass.to_string(),
                p.outages.len().to_string(),
            ]),
            None => row.extend([
                "0".to_string(),
                "0.000".to_string(),
                String::new(),
                "0.000".to_string(),
                String::new(),
                String::new(),
                "0".to_string(),
                String::new(),
                String::new(),
                "false".to_string(),
                "false".to_string(),
                "false".to_string(),
                "0".to_string(),
            ]),
        }
        row.extend([
            tariff.to_string(),
            feeder_id.to_string(),
            days(estimated_days),
            days(gap_days),
        ]);
        row
    }
}

/// A generated meter.
#[derive(Debug)]
pub struct MeterOutput {
    pub plan: MeterPlan,
    /// kWh per slot in the meter data (1 Wh resolution), `NaN` where missing.
    pub readings: Vec<f64>,
    /// kWh per slot through the feeder: true metered consumption plus any bypassed rig.
    pub feeder_kwh: Vec<f64>,
    pub bypass_kwh: f64,
    pub missing: u64,
    pub estimated: u64,
}

/// Generates one meter's series.
pub fn generate(
    plan: MeterPlan,
    cal: &Calendar,
    feeders: &[FeederPlan],
    set: &RegionSettings,
    seed: u64,
) -> MeterOutput {
    let n = cal.n_slots();
    let hours = cal.hours();
    let mut r = rng(seed, Stream::Load, plan.index as u64);
    let mut metered = vec![0.0f64; n];
    plan.load.render(cal, &mut r, &mut metered);
    let mut bypass = Vec::new();
    if let Some(rig) = &plan.rig {
        if rig.bypass {
            bypass = vec![0.0f64; n];
            rig.render(cal, &mut r, &mut bypass);
        } else {
            rig.render(cal, &mut r, &mut metered);
        }
    }
    // A feeder outage cuts everything behind it, rigs included (they snap back after).
    if let Some(f) = feeders.get(plan.feeder) {
        if !f.outages.is_empty() {
            let mut up = vec![1.0f64; n];
            for &(at, len) in &f.outages {
                subtract_span(&mut up, at, at + len, i64::from(cal.grid.interval_secs));
            }
            for (s, u) in up.iter().enumerate() {
                metered[s] *= u;
                if let Some(b) = bypass.get_mut(s) {
                    *b *= u;
                }
            }
        }
    }
    let mut feeder_kwh: Vec<f64> = metered.iter().map(|kw| kw * hours).collect();
    let mut bypass_kwh = 0.0;
    for (f, b) in feeder_kwh.iter_mut().zip(&bypass) {
        *f += b * hours;
        bypass_kwh += b * hours;
    }
    let mut readings: Vec<f64> = metered.iter().map(|kw| round_wh(kw * hours)).collect();
    let (mut missing, mut estimated) = (0u64, 0u64);
    let mut defect_day = vec![false; cal.days.len()];
    for &d in &plan.gap_days {
        if let Some(day) = cal.days.get(d as usize) {
            readings[day.first_slot..day.first_slot + day.n_slots].fill(f64::NAN);
            missing += day.n_slots as u64;
            defect_day[d as usize] = true;
        }
    }
    for &d in &plan.estimated_days {
        if let Some(day) = cal.days.get(d as usize) {
            let range = day.first_slot..day.first_slot + day.n_slots;
            let total: f64 = metered[range.clone()].iter().sum::<f64>() * hours;
            readings[range].fill(round_wh(total / day.n_slots as f64));
            estimated += day.n_slots as u64;
            defect_day[d as usize] = true;
        }
    }
    // Randomly missing readings: geometric gaps between misses (one draw per miss, not per slot).
    let p = set.missing_share;
    if p > 0.0 {
        let mut rm = rng(seed, Stream::Missing, plan.index as u64);
        let log_q = (1.0 - p).ln();
        let mut s = 0usize;
        loop {
            let skip = if p >= 1.0 {
                0.0
            } else {
                (rm.gen::<f64>().max(f64::MIN_POSITIVE).ln() / log_q).floor()
            };
            if skip.is_nan() || skip >= (n - s.min(n)) as f64 {
                break;
            }
            s += skip as usize;
            if !defect_day[cal.day[s] as usize] {
                readings[s] = f64::NAN;
                missing += 1;
            }
            s += 1;
            if s >= n {
                break;
            }
        }
    }
    MeterOutput {
        plan,
        readings,
        feeder_kwh,
        bypass_kwh,
        missing,
        estimated,
    }
}

impl MeterPlan {
    /// The meter's label.
    pub fn label<'a>(&'a self, feeders: &'a [FeederPlan]) -> Label<'a> {
        Label {
            id: &self.id,
            kind: self.kind,
            rig: self.rig.as_ref(),
            tariff: self.tariff.as_str(),
            feeder_id: feeders.get(self.feeder).map_or("", |f| f.id.as_str()),
            estimated_days: &self.estimated_days,
            gap_days: &self.gap_days,
        }
    }
}
