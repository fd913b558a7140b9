//! Stray timestamps: the window comes from the data's dense span, not from its extremes.
//!
//! Every export carries the odd reading dated 1990-01-01 or 2999-01-01. Sized from its extremes,
//! one such reading makes the grid 34 (or 975) years long. Instead, when no window is given,
//! [`Accumulator::quarantine_strays`] groups readings that lie close in time ([`Cluster`]s: runs
//! with gaps of at most [`MERGE_GAP_SECS`]), takes the group holding the most readings as the
//! bulk and extends it, on each side, to the farthest group that is dense enough to be data:
//! the readings it would add must fill at least [`MIN_DENSITY`] of one meter's slots over the
//! time it adds (a day of one meter's readings per 500 days). A meter with a month of readings
//! and another day seven months later keeps both; one reading 34 years away, a lone reading three
//! weeks after its meter's last, or a hundred readings from a meter clock reset to 1970, are
//! strays.
//!
//! This is done overall (the bulk of the whole region, so the grid does not stretch) and then
//! for each meter within it (so a meter's own stray reading does not stretch its own span, which
//! its features are judged on). Strays are quarantined as `stray_timestamp` with the file and
//! row where it is known (readings that arrived far beyond their meter's row, held apart while
//! reading) and a fix: set `--start/--end` if they are real. With `--start/--end` nothing is
//! stray: the window says which dates are real.

use rayon::prelude::*;

use super::*;

/// Readings this close (or closer) belong to one group.
pub const MERGE_GAP_SECS: i64 = 86_400;
/// A far group is kept when its readings fill this share of one meter's slots over the days it
/// adds to the span (gap included).
pub const MIN_DENSITY: f64 = 0.002;

/// Readings close in time: the first and last reading's instant and how many.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cluster {
    pub lo: i64,
    pub hi: i64,
    pub count: u64,
}

/// Sorts `pieces` and merges those within [`MERGE_GAP_SECS`] of each other.
pub(crate) fn merge(mut pieces: Vec<Cluster>) -> Vec<Cluster> {
    pieces.sort_unstable_by_key(|c| (c.lo, c.hi));
    let mut out: Vec<Cluster> = Vec::with_capacity(pieces.len().min(16));
    for c in pieces {
        match out.last_mut() {
            Some(last) if c.lo - last.hi <= MERGE_GAP_SECS => {
                last.hi = last.hi.max(c.hi);
                last.count += c.count;
            }
            _ => out.push(c),
        }
    }
    out
}

/// The clusters kept (an index range into `clusters`, sorted and merged): the largest one and,
/// each side, the farthest one such that everything up to it holds at least [`MIN_DENSITY`] of
/// `per_day` readings a day over the time it adds. `None` for no clusters.
pub(crate) fn dense(clusters: &[Cluster], per_day: f64) -> Option<(usize, usize)> {
    let bulk = (0..clusters.len()).max_by(|&a, &b| {
        clusters[a].count.cmp(&clusters[b].count).then(b.cmp(&a)) // the earliest of equals
    })?;
    let enough = |count: u64, added_secs: i64| {
        let days = (added_secs as f64 / 86_400.0).max(1.0);
        count as f64 >= MIN_DENSITY * per_day * days
    };
    // From the edge kept so far, the nearest cluster such that the readings up to it are dense
    // enough over the time they add; a stray in between does not hide a month beyond it, and a
    // month kept does not lend its readings to a stray beyond it.
    let (mut a, mut b) = (bulk, bulk);
    let mut sum = 0u64;
    for k in bulk + 1..clusters.len() {
        sum += clusters[k].count;
        if enough(sum, clusters[k].hi - clusters[b].hi) {
            b = k;
            sum = 0;
        }
    }
    sum = 0;
    for k in (0..bulk).rev() {
        sum += clusters[k].count;
        if enough(sum, clusters[a].lo - clusters[k].lo) {
            a = k;
            sum = 0;
        }
    }
    Some((a, b))
}

/// `2024-03-01 .. 2024-03-15` (dates of the first and last reading).
fn dates(lo: i64, hi: i64) -> String {
    let d = |t: i64| fmt_instant(t).chars().take(10).collect::<String>();
    format!("{} .. {}", d(lo), d(hi))
}

/// How a stray is described: outside the region's bulk, or outside its meter's own.
#[derive(Debug, Clone)]
struct BulkTexts {
    region: (i64, i64),
    region_text: String,
    /// Dates of the meter's own bulk (empty when none of it is kept).
    own_text: String,
}

impl BulkTexts {
    fn of(&self, t: i64) -> String {
        if t < self.region.0 || t > self.region.1 || self.own_text.is_empty() {
            format!("the bulk of the readings ({})", self.region_text)
        } else {
            format!("the bulk of this meter's readings ({})", self.own_text)
        }
    }
}

/// The present (non-NaN) cells of `cells[range]` as clusters of readings at most
/// [`MERGE_GAP_SECS`] apart, `t(j)` the instant of cell `j` (increasing, consecutive cells at
/// most a merge gap apart). Runs of present cells and of missing ones are skipped whole, so a
/// month of half-hours is a few tight scans, not a step per cell.
fn present_runs(
    cells: &[f32],
    range: std::ops::Range<usize>,
    t: &dyn Fn(usize) -> i64,
) -> Vec<Cluster> {
    let end = range.end.min(cells.len());
    let mut out: Vec<Cluster> = Vec::new();
    let mut j = range.start;
    while j < end {
        // A run of present cells [j, k).
        let mut k = j;
        while k < end && !cells[k].is_nan() {
            k += 1;
        }
        if k > j {
            let (lo, hi, n) = (t(j), t(k - 1), (k - j) as u64);
            match out.last_mut() {
                Some(c) if lo - c.hi <= MERGE_GAP_SECS => {
                    c.hi = hi;
                    c.count += n;
                }
                _ => out.push(Cluster { lo, hi, count: n }),
            }
        }
        // The missing cells after it.
        j = k;
        while j < end && cells[j].is_nan() {
            j += 1;
        }
    }
    out
}

impl Accumulator {
    /// A meter's readings (its row and its far list) as merged clusters.
    fn meter_clusters(&self, m: &Meter) -> Vec<Cluster> {
        let iv = i64::from(m.interval.unwrap_or(1));
        let mark = if self.cfg.stamps_mark_end { iv } else { 0 };
        // Far readings count once per instant (a stray day repeated 90 times is still a day).
        let mut far: Vec<i64> = m.far.iter().map(|p| p.instant() - mark).collect();
        far.sort_unstable();
        far.dedup();
        let mut pieces: Vec<Cluster> = far
            .into_iter()
            .map(|t| Cluster {
                lo: t,
                hi: t,
                count: 1,
            })
            .collect();
        if let (Some(r), true) = (m.row, m.used > 0 && m.min_slot <= m.max_slot) {
            let t = |n: i64| m.phase + n * iv;
            if m.used as i64 == m.max_slot - m.min_slot + 1 {
                // Every slot between the first and last reading is filled: one run.
                pieces.push(Cluster {
                    lo: t(m.min_slot),
                    hi: t(m.max_slot),
                    count: m.used,
                });
            } else {
                let cells = &self.arena[r.start..r.start + r.len];
                let first = (m.min_slot - r.base).max(0) as usize;
                let last = ((m.max_slot - r.base) as usize).min(r.len.saturating_sub(1));
                if iv <= MERGE_GAP_SECS {
                    pieces.extend(present_runs(cells, first..last + 1, &|j| {
                        t(r.base + j as i64)
                    }));
                } else {
                    // Slots further apart than a merge gap: every reading its own piece.
                    for (j, v) in cells.iter().enumerate().take(last + 1).skip(first) {
                        if !v.is_nan() {
                            let tj = t(r.base + j as i64);
                            pieces.push(Cluster {
                                lo: tj,
                                hi: tj,
                                count: 1,
                            });
                        }
                    }
                }
            }
        }
        merge(pieces)
    }

    /// Quarantines readings far outside the dense span of the data (overall, then per meter;
    /// see the module docs) among the `keep` meters, and places the far readings inside it.
    /// Meters left with no reading are dropped from `keep`. Without a window only.
    pub(super) fn quarantine_strays(&mut self, keep: &mut [bool], grid_iv: u32) {
        let clusters: Vec<Vec<Cluster>> = self
            .meters
            .par_iter()
            .enumerate()
            .map(|(k, m)| {
                if keep[k] {
                    self.meter_clusters(m)
                } else {
                    Vec::new()
                }
            })
            .collect();
        // Overall: the union of every meter's clusters.
        let all = merge(clusters.iter().flatten().copied().collect());
        let per_day = 86_400.0 / f64::from(grid_iv.max(60));
        let Some((a, b)) = dense(&all, per_day) else {
            return;
        };
        let (g_lo, g_hi) = (all[a].lo, all[b].hi);
        let texts = BulkTexts {
            region: (g_lo, g_hi),
            region_text: dates(g_lo, g_hi),
            own_text: String::new(),
        };
        let mut strays = 0u64;
        let mut example: Option<(RowLoc, i64)> = None;
        for (k, own) in clusters.iter().enumerate() {
            let in_region = |c: &Cluster| c.lo >= g_lo && c.hi <= g_hi;
            if !keep[k]
                || (own.len() <= 1 && self.meters[k].far.is_empty() && own.iter().all(in_region))
            {
                continue;
            }
            let inside: Vec<Cluster> = own.iter().copied().filter(in_region).collect();
            let miv = self.meters[k].interval.unwrap_or(grid_iv).max(60);
            let kept = dense(&inside, 86_400.0 / f64::from(miv))
                .map(|(a, b)| (inside[a].lo, inside[b].hi));
            let texts = BulkTexts {
                own_text: kept.map(|(lo, hi)| dates(lo, hi)).unwrap_or_default(),
                ..texts.clone()
            };
            let (n, first) = self.apply_kept(k, kept, &texts);
            strays += n;
            if example.is_none() {
                example = first;
            }
            if kept.is_none() {
                keep[k] = false;
            }
        }
        if strays > 0 {
            let eg = example
                .map(|(loc, t)| {
                    format!(
                        " (e.g. {} line {}: {})",
                        self.quality.file(loc.file).display(),
                        loc.row,
                        fmt_instant(t)
                    )
                })
                .unwrap_or_default();
            self.quality.notes.push(format!(
                "{strays} readings far outside the bulk of the data ({}) or of their meter's were \
                 quarantined as stray_timestamp{eg}; set --start/--end if they are real",
                texts.region_text
            ));
        }
    }

    /// Keeps meter `k`'s readings within `kept` (instants; `None` = none): quarantines the rest
    /// of its row and of its far list, places its far readings inside. Returns the readings
    /// quarantined and the location of the first with a known row.
    fn apply_kept(
        &mut self,
        k: usize,
        kept: Option<(i64, i64)>,
        texts: &BulkTexts,
    ) -> (u64, Option<(RowLoc, i64)>) {
        let (lo, hi) = kept.unwrap_or((i64::MAX, i64::MIN));
        let inside = |t: i64| t >= lo && t <= hi;
        let fix =
            "quarantined so it does not stretch the grid and the meter's span; if it is real, \
                   set --start/--end to a window that includes it";
        let mut quarantined = 0u64;
        let mut example = None;
        // The row: cells outside.
        let m = &self.meters[k];
        let iv = i64::from(m.interval.unwrap_or(1));
        let id = m.id.clone();
        let first_loc = RowLoc::unpack(m.first_loc);
        let used_before = m.used;
        let mut out_of_row: Vec<i64> = Vec::new();
        if let Some(r) = m.row {
            if m.used > 0 && m.min_slot <= m.max_slot {
                let (phase, base, start) = (m.phase, r.base, r.start);
                let first = (m.min_slot - base).max(0) as usize;
                let last = ((m.max_slot - base) as usize).min(r.len.saturating_sub(1));
                if !(inside(phase + m.min_slot * iv) && inside(phase + m.max_slot * iv)) {
                    for j in first..=last {
                        let c = start + j;
                        let t = phase + (base + j as i64) * iv;
                        if !self.arena[c].is_nan() && !inside(t) {
                            self.arena[c] = f32::NAN;
                            out_of_row.push(base + j as i64);
                        }
                    }
                }
            }
        }
        if !out_of_row.is_empty() {
            let n = out_of_row.len() as u64;
            let (t0, t1) = (
                self.meters[k].phase + out_of_row[0] * iv,
                self.meters[k].phase + out_of_row[out_of_row.len() - 1] * iv,
            );
            // Only a meter's single reading has a known row (its first).
            let loc = if n == used_before && n == 1 {
                first_loc
            } else {
                RowLoc {
                    file: first_loc.file,
                    row: 0,
                }
            };
            let when = if n == 1 {
                fmt_instant(t0)
            } else {
                format!(
                    "{n} readings from {} to {}",
                    fmt_instant(t0),
                    fmt_instant(t1)
                )
            };
            let detail = format!("{when} far outside {}; {fix}", texts.of(t0));
            self.quality
                .reject(loc, "timestamp", &id, Reason::StrayTimestamp, detail, n);
            self.quality.unuse(n);
            if loc.row > 0 {
                example = Some((loc, t0));
            }
            quarantined += n;
            let meter = &mut self.meters[k];
            meter.used -= n;
            let phase = meter.phase;
            meter.estimated.retain(|&s| inside(phase + s * iv));
            if meter.used == 0 {
                // Nothing of the row is kept: far readings kept start a row of their own
                // instead of stretching this one over the years between.
                meter.row = None;
                meter.last_t = i64::MIN / 2;
                meter.last_n = 0;
                meter.min_slot = i64::MAX;
                meter.max_slot = i64::MIN;
            } else {
                meter.min_slot = (lo - meter.phase).div_euclid(iv).max(meter.min_slot);
                meter.max_slot = (hi - meter.phase).div_euclid(iv).min(meter.max_slot);
            }
        }
        // The far list: outside quarantined with its row, inside placed.
        let far = std::mem::take(&mut self.meters[k].far);
        let mark = if self.cfg.stamps_mark_end { iv } else { 0 };
        for p in far {
            // The slot-start instant, as for the row's cells.
            let t = p.instant() - mark;
            if inside(t) {
                self.place_with(k, p, true);
                continue;
            }
            let loc = RowLoc::unpack(p.loc);
            let detail = format!("{} far outside {}; {fix}", fmt_instant(t), texts.of(t));
            self.quality
                .reject(loc, "timestamp", &id, Reason::StrayTimestamp, detail, 1);
            if example.is_none() {
                example = Some((loc, t));
            }
            quarantined += 1;
        }
        (quarantined, example)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The per-cell reference `present_runs` replaced: each present cell joins the last
    /// cluster when within a merge gap of it.
    fn runs_cell_by_cell(cells: &[f32], t: &dyn Fn(usize) -> i64) -> Vec<Cluster> {
        let mut out: Vec<Cluster> = Vec::new();
        for (j, v) in cells.iter().enumerate() {
            if v.is_nan() {
                continue;
            }
            let tj = t(j);
            match out.last_mut() {
                Some(c) if tj - c.hi <= MERGE_GAP_SECS => {
                    c.hi = tj;
                    c.count += 1;
                }
                _ => out.push(Cluster {
                    lo: tj,
                    hi: tj,
                    count: 1,
                }),
            }
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn present_runs_equal_the_cell_by_cell_clusters(
            mask in proptest::collection::vec(0u8..8, 0..400),
            iv in proptest::sample::select(vec![300i64, 1800, 3600, 21_600, 86_400]),
        ) {
            // Mostly present, with missing runs of every length (some longer than a day).
            let mut cells: Vec<f32> = Vec::new();
            for m in mask {
                match m {
                    0 => cells.extend(std::iter::repeat_n(f32::NAN, 60)),
                    1 => cells.push(f32::NAN),
                    _ => cells.push(m as f32),
                }
            }
            let t = |j: usize| 1_000_000 + j as i64 * iv;
            let got = present_runs(&cells, 0..cells.len(), &t);
            let want = runs_cell_by_cell(&cells, &t);
            proptest::prop_assert_eq!(got, want);
        }
    }

    fn c(lo_day: i64, hi_day: i64, count: u64) -> Cluster {
        Cluster {
            lo: lo_day * 86_400,
            hi: hi_day * 86_400,
            count,
        }
    }

    #[test]
    fn the_bulk_extends_to_dense_groups_only() {
        let month = c(0, 30, 1440);
        // One reading 34 years before, one 975 years after: strays.
        let all = merge(vec![c(-12_400, -12_400, 1), month, c(356_000, 356_000, 1)]);
        assert_eq!(dense(&all, 48.0), Some((1, 1)));
        // A month five months later is data; a stray beyond it is not.
        let all = merge(vec![month, c(150, 180, 1440), c(5000, 5000, 1)]);
        assert_eq!(dense(&all, 48.0), Some((0, 1)));
        // A stray between two months does not shield the second month.
        let all = merge(vec![month, c(60, 60, 1), c(150, 180, 1440)]);
        assert_eq!(dense(&all, 48.0), Some((0, 2)));
        // A lone reading 8 days after is kept, 20 days after is a stray; a day 7 months after
        // is data.
        assert_eq!(dense(&merge(vec![month, c(38, 38, 1)]), 48.0), Some((0, 1)));
        assert_eq!(dense(&merge(vec![month, c(50, 50, 1)]), 48.0), Some((0, 0)));
        assert_eq!(
            dense(&merge(vec![c(0, 2, 96), c(210, 211, 48)]), 48.0),
            Some((0, 1))
        );
        // A hundred readings of a clock reset to 1970, before data of 2024.
        let all = merge(vec![c(0, 2, 100), c(19_800, 19_830, 1440)]);
        assert_eq!(dense(&all, 48.0), Some((1, 1)));
        // Whole meters in other years (the devset: 35-day windows 2013-2025) are data.
        let all = merge(vec![c(0, 35, 840), c(3650, 3685, 840 * 3)]);
        assert_eq!(dense(&all, 24.0), Some((0, 1)));
        assert_eq!(dense(&[], 48.0), None);
    }

    fn push_half_hours(acc: &mut Accumulator, id: &str, start: i64, n: i64, row0: u64) {
        for k in 0..n {
            let loc = RowLoc {
                file: 0,
                row: row0 + k as u64,
            };
            acc.quality.readings_read += 1;
            acc.push(
                id,
                Stamp::At(start + k * 1800),
                0.5,
                PushUnit::Kwh,
                false,
                loc,
            );
        }
    }

    #[test]
    fn a_meter_whose_first_readings_are_strays_does_not_stretch_its_row() {
        // A clock reset: M1's first 48 readings are dated 1970, then 30 days of 2024 follow
        // (for M2 too). The 1970 block gives way when the 2024 readings outnumber it: the arena
        // never spans 54 years, and the block ends quarantined.
        let t2024 = 1_709_251_200;
        let mut acc = Accumulator::new(AccumulatorConfig::default());
        acc.quality.add_file(std::path::Path::new("r.csv"));
        push_half_hours(&mut acc, "M1", 0, 48, 2);
        push_half_hours(&mut acc, "M1", t2024, 1440, 50);
        push_half_hours(&mut acc, "M2", t2024, 1440, 2000);
        assert!(acc.arena.capacity() < 8 * 1440, "{}", acc.arena.capacity());
        let f = acc.finish().unwrap();
        assert!(f.quality.reconciles());
        assert_eq!(f.matrix.grid.n_slots, 1440);
        assert_eq!(f.matrix.grid.start, t2024);
        assert_eq!(
            f.quality
                .quarantined_by_reason()
                .get(&Reason::StrayTimestamp),
            Some(&48)
        );
        assert_eq!(f.matrix.coverage(0).present, 1440);
    }

    #[test]
    fn merging_joins_close_pieces() {
        let m = merge(vec![c(5, 6, 10), c(0, 1, 10), c(2, 3, 1), c(10, 10, 1)]);
        assert_eq!(m, vec![c(0, 3, 11), c(5, 6, 10), c(10, 10, 1)]);
    }
}
