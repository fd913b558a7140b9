//! A suspect against its segment peers: for each feature an inspector can read, where the meter
//! sits among the meters of its tariff (all meters when the tariff is unknown or has fewer
//! than [`MIN_PEERS`]). DOMAIN.md: "judge flatness against peers of the same tariff class".
//!
//! Input: the [`FeatureTable`] of every meter and each meter's tariff; output: one
//! [`PeerRow`] per [`PEER_FEATURES`] entry. Each segment's values are sorted once and shared by
//! its suspects, so 5,000 suspects among 1M meters cost one sort per feature and segment plus a
//! binary search per suspect.

use std::collections::HashMap;

use super::rundir::FeatureTable;

/// Fewer peers than this and the tariff is not a segment worth a percentile.
pub const MIN_PEERS: usize = 5;

/// How a feature is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Kw,
    Share,
    Ratio,
    Corr,
}

/// A feature shown on a suspect page: column name, label, unit, what a rig looks like.
#[derive(Debug, Clone, Copy)]
pub struct PeerFeature {
    pub name: &'static str,
    pub label: &'static str,
    pub unit: Unit,
    pub rig_hint: &'static str,
}

/// The features compared with peers, in page order.
pub const PEER_FEATURES: [PeerFeature; 10] = [
    PeerFeature {
        name: "mean_kw",
        label: "Mean load",
        unit: Unit::Kw,
        rig_hint: "one ASIC draws 1.3-3.5 kW, 24 h a day",
    },
    PeerFeature {
        name: "base_after_kw",
        label: "Daily floor since the onset",
        unit: Unit::Kw,
        rig_hint: "a household's floor is 0.1-0.3 kW",
    },
    PeerFeature {
        name: "peer_tariff_ratio",
        label: "Mean load / tariff median",
        unit: Unit::Ratio,
        rig_hint: ">= 2x comparable premises (Irkutsk)",
    },
    PeerFeature {
        name: "near_median_after",
        label: "Slots within 10% of the median",
        unit: Unit::Share,
        rig_hint: "flat: most slots near the median",
    },
    PeerFeature {
        name: "night_floor_kw",
        label: "Night floor (00-06 local)",
        unit: Unit::Kw,
        rig_hint: "night-tariff rigs lift it too",
    },
    PeerFeature {
        name: "diurnal_amp_after",
        label: "Daily profile amplitude",
        unit: Unit::Ratio,
        rig_hint: "no daily rhythm: near 0",
    },
    PeerFeature {
        name: "acf_day_after",
        label: "Day-to-day repeat (24 h autocorrelation)",
        unit: Unit::Corr,
        rig_hint: "no schedule on top",
    },
    PeerFeature {
        name: "night_day_ratio",
        label: "Night / day load",
        unit: Unit::Ratio,
        rig_hint: "about 1: same day and night",
    },
    PeerFeature {
        name: "base_jitter_after",
        label: "Floor wander, day to day",
        unit: Unit::Share,
        rig_hint: "steady (~1%); heating wanders",
    },
    PeerFeature {
        name: "temp_corr",
        label: "Correlation with temperature",
        unit: Unit::Corr,
        rig_hint: "none; heating tracks the cold",
    },
];

/// One feature of one suspect against its segment.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PeerRow {
    pub label: &'static str,
    pub value: String,
    pub median: String,
    /// Mid-rank percentile in [0, 100]; `None` when the value or the segment is missing.
    pub percentile: Option<f64>,
    /// `97th`, or `-`.
    pub percentile_text: String,
    pub peers: usize,
    pub hint: &'static str,
}

/// Formats a feature value.
pub fn fmt_value(v: f32, unit: Unit) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    match unit {
        Unit::Kw if v.abs() >= 10.0 => format!("{v:.1} kW"),
        Unit::Kw => format!("{v:.2} kW"),
        Unit::Share => format!("{:.0}%", 100.0 * v),
        Unit::Ratio => format!("{v:.2}"),
        Unit::Corr => format!("{v:+.2}"),
    }
}

/// `1st`, `2nd`, `3rd`, `4th`, `11th`, `21st`, ...
pub fn ordinal(n: u32) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// Mid-rank percentile of `v` in ascending `sorted`: the share below plus half the ties.
pub fn percentile(sorted: &[f32], v: f32) -> Option<f64> {
    if sorted.is_empty() || !v.is_finite() {
        return None;
    }
    let below = sorted.partition_point(|x| *x < v);
    let upto = sorted.partition_point(|x| *x <= v);
    Some(100.0 * (below as f64 + (upto - below) as f64 / 2.0) / sorted.len() as f64)
}

/// Sorted feature values per segment, built on demand.
#[derive(Debug)]
pub struct Peers<'a> {
    table: &'a FeatureTable,
    /// Row -> segment name (`None`: no tariff).
    segment_of: Vec<Option<&'a str>>,
    /// Meters per segment.
    sizes: HashMap<&'a str, usize>,
    cache: HashMap<(Option<String>, usize), Vec<f32>>,
}

impl<'a> Peers<'a> {
    /// `segments`: the tariff of each row of `table` (missing: unknown).
    pub fn new(table: &'a FeatureTable, segments: &'a super::data::Segments) -> Self {
        let segment_of: Vec<Option<&'a str>> =
            (0..table.ids.len()).map(|r| segments.tariff(r)).collect();
        let mut sizes = HashMap::new();
        for s in segment_of.iter().flatten() {
            *sizes.entry(*s).or_default() += 1;
        }
        Peers {
            table,
            segment_of,
            sizes,
            cache: HashMap::new(),
        }
    }

    /// Feature `j`'s finite values in `segment` (`None` = all meters), ascending. An unstable
    /// sort gives the same slice as a stable one: values equal under `total_cmp` are the same
    /// bits.
    fn sort_values(
        table: &FeatureTable,
        seg_of: &[Option<&str>],
        segment: Option<&str>,
        j: usize,
    ) -> Vec<f32> {
        let mut v: Vec<f32> = table.columns[j]
            .iter()
            .zip(seg_of)
            .filter(|(x, s)| x.is_finite() && (segment.is_none() || **s == segment))
            .map(|(x, _)| *x)
            .collect();
        v.sort_unstable_by(f32::total_cmp);
        v
    }

    fn sorted(&mut self, segment: Option<&str>, j: usize) -> &[f32] {
        let key = (segment.map(str::to_string), j);
        let (table, seg_of) = (self.table, &self.segment_of);
        self.cache
            .entry(key)
            .or_insert_with(|| Self::sort_values(table, seg_of, segment, j))
    }

    /// Sorts, in parallel, every feature of each of `segments` (`None` = all meters) not sorted
    /// yet: what [`Peers::rows`] then reads for suspects in those segments.
    pub fn prepare(&mut self, segments: &[Option<String>]) {
        use rayon::prelude::*;
        let mut keys: Vec<(Option<String>, usize)> = Vec::new();
        for seg in segments {
            for f in &PEER_FEATURES {
                if let Some(j) = self.table.names.iter().position(|n| n == f.name) {
                    let key = (seg.clone(), j);
                    if !self.cache.contains_key(&key) && !keys.contains(&key) {
                        keys.push(key);
                    }
                }
            }
        }
        let (table, seg_of) = (self.table, &self.segment_of);
        let sorted: Vec<Vec<f32>> = keys
            .par_iter()
            .map(|(seg, j)| Self::sort_values(table, seg_of, seg.as_deref(), *j))
            .collect();
        self.cache.extend(keys.into_iter().zip(sorted));
    }

    /// The segment a meter is compared in: its tariff when it has enough meters.
    pub fn segment(&self, id: &str) -> Option<String> {
        let row = self.table.row(id)?;
        let seg = self.segment_of[row]?;
        let n = self.sizes.get(seg).copied().unwrap_or(0);
        (n >= MIN_PEERS).then(|| seg.to_string())
    }

    /// The rows of one meter within `segment` (`None` = all meters).
    pub fn rows(&mut self, id: &str, segment: Option<&str>) -> Vec<PeerRow> {
        PEER_FEATURES
            .iter()
            .map(|f| {
                let j = self.table.names.iter().position(|n| n == f.name);
                let v = self.table.get(id, f.name);
                let (pct, median, n) = match j {
                    Some(j) => {
                        let s = self.sorted(segment, j);
                        let med = s.get(s.len() / 2).copied().unwrap_or(f32::NAN);
                        (percentile(s, v), med, s.len())
                    }
                    None => (None, f32::NAN, 0),
                };
                PeerRow {
                    label: f.label,
                    value: fmt_value(v, f.unit),
                    median: fmt_value(median, f.unit),
                    percentile: pct.map(|p| (p * 10.0).round() / 10.0),
                    percentile_text: pct.map_or_else(|| "-".into(), |p| ordinal(p.round() as u32)),
                    peers: n,
                    hint: f.rig_hint,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_is_mid_rank() {
        let s = [1.0, 2.0, 2.0, 3.0];
        assert_eq!(percentile(&s, 0.5), Some(0.0));
        assert_eq!(percentile(&s, 2.0), Some(50.0));
        assert_eq!(percentile(&s, 9.0), Some(100.0));
        assert_eq!(percentile(&s, f32::NAN), None);
        assert_eq!(percentile(&[], 1.0), None);
    }

    #[test]
    fn ordinals() {
        let o: Vec<String> = [0, 1, 2, 3, 4, 11, 12, 13, 21, 22, 100]
            .iter()
            .map(|&n| ordinal(n))
            .collect();
        assert_eq!(
            o,
            ["0th", "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "100th"]
        );
    }

    #[test]
    fn values_print_in_their_unit() {
        assert_eq!(fmt_value(31.33, Unit::Kw), "31.3 kW");
        assert_eq!(fmt_value(0.123, Unit::Kw), "0.12 kW");
        assert_eq!(fmt_value(0.97, Unit::Share), "97%");
        assert_eq!(fmt_value(-0.14, Unit::Corr), "-0.14");
        assert_eq!(fmt_value(f32::NAN, Unit::Ratio), "-");
    }
}
