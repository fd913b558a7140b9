//! Level and distribution of a meter's load: mean, spread, quantiles, flatness.
//!
//! Input: a row of average kW per slot (`NaN` = missing) and a scratch buffer. Output: plain
//! numbers. A rig's load is flat: coefficient of variation of a few percent, p10/p90 close to 1,
//! most slots near the median (DOMAIN.md: load factor > 0.9, CV a few % at 30 min).

/// A slot is "near the median" within this relative band.
pub const NEAR_MEDIAN_BAND: f32 = 0.10;

/// Distribution figures of one row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Level {
    pub present: usize,
    pub mean_kw: f32,
    pub max_kw: f32,
    pub cv: f32,
    pub p10_kw: f32,
    pub p50_kw: f32,
    pub p90_kw: f32,
    /// Share of present slots within ±10% of the median.
    pub near_median_share: f32,
}

/// Nearest-rank quantile position for `q` among `n` sorted values.
pub use crate::stats::rank;

/// The bits of `x` as an unsigned key whose integer order is [`f32::total_cmp`]'s order (the
/// sign bit flipped for positives, every bit for negatives). Selections compare these keys as
/// plain integers and give back the very same value ([`from_key`]): equal keys are equal bits.
#[inline]
pub fn key(x: f32) -> u32 {
    let b = x.to_bits();
    b ^ ((((b as i32) >> 31) as u32) | 0x8000_0000)
}

/// The value of a [`key`].
#[inline]
pub fn from_key(k: u32) -> f32 {
    let t = k ^ 0x8000_0000;
    f32::from_bits(t ^ (((t as i32) >> 31) as u32 >> 1))
}

/// Orders values stored as [`key`] bit patterns.
#[inline]
fn by_key(a: &f32, b: &f32) -> std::cmp::Ordering {
    a.to_bits().cmp(&b.to_bits())
}

/// Quantiles `qs` (ascending) of the present values, by successive selection (O(n) each,
/// each on the part of the buffer right of the previous one, on integer [`key`]s). `buf` is
/// overwritten.
pub fn quantiles<const K: usize>(buf: &mut Vec<f32>, row: &[f32], qs: [f64; K]) -> [f32; K] {
    buf.clear();
    buf.extend(
        row.iter()
            .filter(|v| !v.is_nan())
            .map(|&v| f32::from_bits(key(v))),
    );
    let n = buf.len();
    let mut out = [f32::NAN; K];
    if n == 0 {
        return out;
    }
    let mut lo = 0;
    for (k, q) in qs.iter().enumerate() {
        let r = rank(*q, n);
        if r >= lo {
            let (_, v, _) = buf[lo..].select_nth_unstable_by(r - lo, by_key);
            out[k] = from_key(v.to_bits());
            lo = r;
        } else {
            out[k] = out[k.saturating_sub(1)];
        }
    }
    out
}

/// Largest rank [`quantile_small`] handles in one pass (the daily floor of 5-minute data is
/// rank 14 of 288).
pub const SMALL_RANK_MAX: usize = 16;

/// The nearest-rank `q` quantile of the present values, in one pass without copying when the
/// rank is small (keeps the `rank + 1` smallest in a sorted stack array), else by selection in
/// `buf`. Same definition as [`quantiles`].
pub fn quantile_small(vals: &[f32], q: f64, buf: &mut Vec<f32>) -> f32 {
    let n = vals.iter().filter(|v| !v.is_nan()).count();
    if n == 0 {
        return f32::NAN;
    }
    let r = rank(q, n);
    if r >= SMALL_RANK_MAX {
        return quantiles(buf, vals, [q])[0];
    }
    let mut k = SmallK::new(r);
    for &v in vals {
        k.push(v);
    }
    k.get()
}

/// The `r`-th smallest (0-based) of values pushed one at a time, for `r < SMALL_RANK_MAX`:
/// keeps the `r + 1` smallest in a sorted stack array. `NaN` never enters.
#[derive(Debug, Clone, Copy)]
pub struct SmallK {
    best: [f32; SMALL_RANK_MAX],
    m: usize,
}

impl SmallK {
    #[inline]
    pub fn new(r: usize) -> Self {
        SmallK {
            best: [f32::INFINITY; SMALL_RANK_MAX],
            m: r.min(SMALL_RANK_MAX - 1) + 1,
        }
    }

    #[inline]
    pub fn push(&mut self, v: f32) {
        let m = self.m;
        // `v < best[m - 1]` is false for NaN, so missing values never enter.
        if v < self.best[m - 1] {
            let mut i = m - 1;
            while i > 0 && self.best[i - 1] > v {
                self.best[i] = self.best[i - 1];
                i -= 1;
            }
            self.best[i] = v;
        }
    }

    /// The `r`-th smallest, `NaN` if fewer than `r + 1` values were pushed.
    #[inline]
    pub fn get(&self) -> f32 {
        let v = self.best[self.m - 1];
        if v == f32::INFINITY {
            f32::NAN
        } else {
            v
        }
    }
}

/// The `r`-th smallest (0-based) of values pushed one at a time, like [`SmallK`], for `r < 4`
/// (the daily, night and day floors of half-hourly and hourly data) and without branches on
/// the data: which values enter is unpredictable early in a day, and a mispredicted branch per
/// entering value cost more than the selects. Keeps the `r + 1` smallest in the last places of
/// four, behind `-inf` padding that every value sorts after, so a push is four comparisons and
/// a shift by selects; the same value as [`SmallK`] bit for bit (ties keep the first pushed).
#[derive(Debug, Clone, Copy)]
pub struct Small4 {
    b: [f32; 4],
}

impl Small4 {
    /// Largest rank handled.
    pub const MAX_RANK: usize = 3;

    #[inline]
    pub fn new(r: usize) -> Self {
        let m = r.min(Self::MAX_RANK) + 1;
        let mut b = [f32::INFINITY; 4];
        b[..4 - m].fill(f32::NEG_INFINITY);
        Small4 { b }
    }

    #[inline]
    pub fn push(&mut self, v: f32) {
        let b = self.b;
        // The kept values are sorted, so `gt` is false up to the insertion place and true
        // after; all false (also for NaN) leaves them as they are.
        let gt = [b[0] > v, b[1] > v, b[2] > v, b[3] > v];
        let pick = |shift: bool, place: bool, keep: f32, prev: f32| {
            if shift {
                prev
            } else if place {
                v
            } else {
                keep
            }
        };
        self.b = [
            if gt[0] { v } else { b[0] },
            pick(gt[0], gt[1], b[1], b[0]),
            pick(gt[1], gt[2], b[2], b[1]),
            pick(gt[2], gt[3], b[3], b[2]),
        ];
    }

    /// The `r`-th smallest, `NaN` if fewer than `r + 1` values were pushed.
    #[inline]
    pub fn get(&self) -> f32 {
        if self.b[3] == f32::INFINITY {
            f32::NAN
        } else {
            self.b[3]
        }
    }
}

/// Bits of the histogram digit of [`select_keys`] (1,024 buckets).
const RADIX_BITS: u32 = 10;
/// Up to this many keys, [`select_keys`] selects directly.
const RADIX_MIN: usize = 256;

/// The keys (as `u32`) of ranks `ranks` (ascending, each under `len`) among the [`key`]s stored
/// as bits in `buf[start..start + len]`; `buf` past its length is scratch (restored). Large
/// sets go by a histogram of the keys' high bits above the smallest (1,024 buckets spanning
/// the keys' range): each rank's bucket is found from the counts, only that bucket's keys are
/// copied out, and the rank is selected among them (by the same histogram again while there
/// are many). The k-th smallest key is one value whatever the method: the results are those of
/// `select_nth_unstable` on the whole set, bit for bit.
fn select_keys<const K: usize>(
    buf: &mut Vec<f32>,
    start: usize,
    len: usize,
    ranks: [usize; K],
) -> [u32; K] {
    let mut out = [0u32; K];
    if len <= RADIX_MIN {
        // Successive selections, each on the part right of the one before.
        let seg = &mut buf[start..start + len];
        let mut lo = 0;
        for (i, &r) in ranks.iter().enumerate() {
            let (_, v, _) = seg[lo..].select_nth_unstable_by(r - lo, by_key);
            out[i] = v.to_bits();
            lo = r;
        }
        return out;
    }
    let (lo, hi) = buf[start..start + len]
        .iter()
        .fold((u32::MAX, 0u32), |(l, h), k| {
            (l.min(k.to_bits()), h.max(k.to_bits()))
        });
    if lo == hi {
        return [lo; K];
    }
    let shift = (32 - (hi - lo).leading_zeros()).saturating_sub(RADIX_BITS);
    let bucket = |k: f32| ((k.to_bits() - lo) >> shift) as usize;
    let mut hist = [0u32; 1 << RADIX_BITS];
    for &k in &buf[start..start + len] {
        hist[bucket(k)] += 1;
    }
    // Each rank's bucket and how many keys lie in the buckets below it.
    let (mut at, mut below) = ([0usize; K], [0usize; K]);
    let (mut acc, mut i) = (0usize, 0usize);
    for (b, &c) in hist.iter().enumerate() {
        let c = c as usize;
        while i < K && ranks[i] < acc + c {
            (at[i], below[i]) = (b, acc);
            i += 1;
        }
        if i == K {
            break;
        }
        acc += c;
    }
    // The keys of each distinct target bucket, copied past the end of `buf` in slot order.
    let base = buf.len();
    let mut map = [0u8; 1 << RADIX_BITS];
    let (mut seg_start, mut seg_of, mut n_seg) = ([0usize; K], [0usize; K], 0usize);
    let mut end = base;
    for i in 0..K {
        if i > 0 && at[i] == at[i - 1] {
            seg_of[i] = seg_of[i - 1];
            continue;
        }
        seg_start[n_seg] = end;
        end += hist[at[i]] as usize;
        map[at[i]] = (n_seg + 1) as u8;
        seg_of[i] = n_seg;
        n_seg += 1;
    }
    buf.resize(end, 0.0);
    let mut fill = seg_start;
    for idx in start..start + len {
        let k = buf[idx];
        let m = map[bucket(k)];
        if m != 0 {
            let j = usize::from(m - 1);
            buf[fill[j]] = k;
            fill[j] += 1;
        }
    }
    for i in 0..K {
        let j = seg_of[i];
        let [v] = select_keys(
            buf,
            seg_start[j],
            hist[at[i]] as usize,
            [ranks[i] - below[i]],
        );
        out[i] = v;
    }
    buf.truncate(base);
    out
}

/// The largest of the values that are not `NaN` (`-inf` if none), eight lanes at a time; a
/// zero may come back with either sign.
fn largest(v: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; 8];
    let chunks = v.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for l in 0..8 {
            // `NaN > x` is false: missing values never enter.
            acc[l] = if c[l] > acc[l] { c[l] } else { acc[l] };
        }
    }
    for (l, &x) in rest.iter().enumerate() {
        acc[l] = if x > acc[l] { x } else { acc[l] };
    }
    acc.iter()
        .fold(f32::NEG_INFINITY, |m, &x| if x > m { x } else { m })
}

/// Computes [`Level`]; `buf` is scratch.
pub fn level(kw: &[f32], buf: &mut Vec<f32>) -> Level {
    level_and_sum(kw, kw, buf).0
}

/// [`level`] of `kw`, and the sum of the present values of `raw` (as long as `kw`) in slot
/// order, as `raw.iter().filter(..).map(f64::from).sum::<f64>()` gives it (from -0.0; a
/// missing value adds -0.0, which leaves any sum bitwise unchanged): the features' energy
/// total rides along the level's pass as one more chain of additions.
pub fn level_and_sum(kw: &[f32], raw: &[f32], buf: &mut Vec<f32>) -> (Level, f64) {
    let (mut sum, mut sumsq) = (0f64, 0f64);
    let mut raw_sum = -0.0f64;
    buf.clear();
    buf.reserve(kw.len());
    for (&v, &r) in kw.iter().zip(raw) {
        raw_sum += if r.is_nan() { -0.0 } else { f64::from(r) };
        if !v.is_nan() {
            buf.push(f32::from_bits(key(v)));
            sum += f64::from(v);
            sumsq += f64::from(v) * f64::from(v);
        }
    }
    // The largest value in a pass of its own, off the chain of additions above: the same
    // value as `f32::max` over the present values in slot order unless it is a zero, whose
    // sign `f32::max` takes from the order (then folded as such).
    let top = largest(kw);
    let max = if top == 0.0 {
        kw.iter()
            .filter(|v| !v.is_nan())
            .fold(f32::NEG_INFINITY, |m, &v| m.max(v))
    } else {
        top
    };
    (level_of(kw, buf, sum, sumsq, max), raw_sum)
}

/// [`Level`] from the present values' keys in `buf` and their sums.
fn level_of(kw: &[f32], buf: &mut Vec<f32>, sum: f64, sumsq: f64, max: f32) -> Level {
    let n = buf.len();
    if n == 0 {
        return Level {
            present: 0,
            mean_kw: f32::NAN,
            max_kw: f32::NAN,
            cv: f32::NAN,
            p10_kw: f32::NAN,
            p50_kw: f32::NAN,
            p90_kw: f32::NAN,
            near_median_share: f32::NAN,
        };
    }
    let mean = sum / n as f64;
    let var = (sumsq / n as f64 - mean * mean).max(0.0);
    let [p10, p50, p90] =
        select_keys(buf, 0, n, [rank(0.10, n), rank(0.50, n), rank(0.90, n)]).map(from_key);
    let band = (p50 * NEAR_MEDIAN_BAND).abs();
    let near = kw
        .iter()
        .filter(|v| !v.is_nan() && (**v - p50).abs() <= band)
        .count();
    Level {
        present: n,
        mean_kw: mean as f32,
        max_kw: max,
        cv: if mean > 0.0 {
            (var.sqrt() / mean) as f32
        } else {
            f32::NAN
        },
        p10_kw: p10,
        p50_kw: p50,
        p90_kw: p90,
        near_median_share: near as f32 / n as f32,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// A seeded random row with gaps.
    /// Values a selector must order exactly: ties, both zeros, missing values, infinities.
    pub(crate) const SPECIAL: [f32; 7] = [
        0.0,
        -0.0,
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        1.0,
        -1.0,
    ];

    pub(crate) fn random_row(seed: u64, n: usize) -> Vec<f32> {
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
        (0..n)
            .map(|_| {
                if rng.gen_bool(0.05) {
                    f32::NAN
                } else {
                    rng.gen_range(0.0..5.0)
                }
            })
            .collect()
    }

    fn naive_quantile(row: &[f32], q: f64) -> f32 {
        let mut v: Vec<f32> = row.iter().copied().filter(|x| !x.is_nan()).collect();
        v.sort_by(f32::total_cmp);
        v[((q * (v.len() - 1) as f64).round()) as usize]
    }

    #[test]
    fn level_and_sum_gives_the_iterator_sum_bit_for_bit() {
        let rows: Vec<Vec<f32>> = vec![
            random_row(3, 500),
            vec![f32::NAN; 7],
            vec![],
            vec![0.0, -0.0, f32::NAN, -0.0],
            vec![-0.0, f32::NAN],
            vec![1.5, -1.5, f32::NAN, 2.25],
        ];
        let mut buf = Vec::new();
        for raw in rows {
            let kw: Vec<f32> = raw.iter().map(|v| v / 0.5).collect();
            let want = raw
                .iter()
                .filter(|x| !x.is_nan())
                .map(|&x| f64::from(x))
                .sum::<f64>();
            let (lv, got) = level_and_sum(&kw, &raw, &mut buf);
            assert_eq!(got.to_bits(), want.to_bits(), "{raw:?}");
            // The same level (compared as text: `NaN` fields are never equal).
            assert_eq!(format!("{lv:?}"), format!("{:?}", level(&kw, &mut buf)));
        }
    }

    #[test]
    fn small4_equals_smallk_bit_for_bit() {
        let special = SPECIAL;
        for seed in 0..300u64 {
            let row = random_row(seed, 1 + (seed as usize * 7) % 60);
            let row: Vec<f32> = row
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    if (i as u64 + seed).is_multiple_of(5) {
                        special[(i + seed as usize) % special.len()]
                    } else {
                        (v * 2.0).round() / 2.0
                    }
                })
                .collect();
            for r in 0..=Small4::MAX_RANK {
                let (mut a, mut b) = (SmallK::new(r), Small4::new(r));
                for &v in &row {
                    a.push(v);
                    b.push(v);
                }
                assert_eq!(a.get().to_bits(), b.get().to_bits(), "{row:?} r={r}");
            }
        }
    }

    #[test]
    fn select_keys_equal_a_sort() {
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(5);
        let mut buf = Vec::new();
        for case in 0..200usize {
            let n = 1 + (case * 97) % 3000;
            // Spread, concentrated (a flat rig with an outage), tied, signed, zeros of both signs.
            let vals: Vec<f32> = (0..n)
                .map(|i| match case % 5 {
                    0 => rng.gen_range(0.0..5.0),
                    1 => {
                        if i % 300 == 7 {
                            0.0
                        } else {
                            3.25 + rng.gen_range(-0.05..0.05)
                        }
                    }
                    2 => (rng.gen_range(0..4) as f32) * 0.5,
                    3 => rng.gen_range(-3.0..3.0),
                    _ => [0.0, -0.0, 1.0, f32::INFINITY, f32::NEG_INFINITY][i % 5],
                })
                .collect();
            let mut sorted: Vec<u32> = vals.iter().map(|&v| key(v)).collect();
            sorted.sort_unstable();
            let ranks = [rank(0.1, n), rank(0.5, n), rank(0.9, n)];
            buf.clear();
            buf.extend(vals.iter().map(|&v| f32::from_bits(key(v))));
            let got = select_keys(&mut buf, 0, n, ranks);
            assert_eq!(got, ranks.map(|r| sorted[r]), "case {case}");
            assert_eq!(buf.len(), n);
        }
    }

    #[test]
    fn max_is_f32_max_in_slot_order_bit_for_bit() {
        let mut rows: Vec<Vec<f32>> = vec![
            vec![-0.0, 0.0],
            vec![0.0, -0.0, f32::NAN],
            vec![-1.0, -0.0, -2.0],
            vec![f32::NEG_INFINITY, f32::NAN],
            vec![f32::NAN; 3],
        ];
        rows.extend((0..20).map(|seed| random_row(seed, 1 + seed as usize * 31)));
        let mut buf = Vec::new();
        for row in rows {
            let want = row
                .iter()
                .filter(|v| !v.is_nan())
                .fold(f32::NEG_INFINITY, |m, &v| m.max(v));
            let got = level(&row, &mut buf).max_kw;
            if want == f32::NEG_INFINITY && got.is_nan() {
                continue; // no present value: the level is NaN throughout
            }
            assert_eq!(got.to_bits(), want.to_bits(), "{row:?}");
        }
    }

    #[test]
    fn keys_order_like_total_cmp_and_give_back_the_same_bits() {
        let mut v = vec![
            0.0f32,
            -0.0,
            1.5,
            -1.5,
            f32::MIN_POSITIVE,
            -f32::MIN_POSITIVE,
            1e-45,
            -1e-45,
            f32::MAX,
            f32::MIN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            0.1,
            0.3,
            -7.25,
        ];
        for x in &v {
            assert_eq!(from_key(key(*x)).to_bits(), x.to_bits());
        }
        let mut by_keys = v.clone();
        by_keys.sort_by_key(|x| key(*x));
        v.sort_by(f32::total_cmp);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&by_keys), bits(&v));
    }

    #[test]
    fn matches_naive_reference() {
        for seed in 0..50 {
            let row = random_row(seed, 1 + (seed as usize * 37) % 1500);
            if row.iter().all(|v| v.is_nan()) {
                continue;
            }
            let mut buf = Vec::new();
            let l = level(&row, &mut buf);
            let vals: Vec<f64> = row
                .iter()
                .filter(|v| !v.is_nan())
                .map(|&v| f64::from(v))
                .collect();
            let mean = vals.iter().sum::<f64>() / vals.len() as f64;
            let sd =
                (vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / vals.len() as f64).sqrt();
            assert!((f64::from(l.mean_kw) - mean).abs() < 1e-4);
            assert!((f64::from(l.cv) - sd / mean).abs() < 1e-3, "seed {seed}");
            assert_eq!(l.p10_kw, naive_quantile(&row, 0.1));
            assert_eq!(l.p50_kw, naive_quantile(&row, 0.5));
            assert_eq!(l.p90_kw, naive_quantile(&row, 0.9));
            let med = naive_quantile(&row, 0.5);
            let near = vals
                .iter()
                .filter(|v| (**v as f32 - med).abs() <= med * 0.1)
                .count();
            assert!((l.near_median_share - near as f32 / vals.len() as f32).abs() < 1e-6);
        }
    }

    #[test]
    fn small_rank_quantile_matches_selection() {
        let mut buf = Vec::new();
        for seed in 0..200 {
            let row = random_row(seed, 1 + (seed as usize * 13) % 400);
            for q in [0.0, 0.05, 0.1, 0.5] {
                let a = quantile_small(&row, q, &mut buf);
                let b = quantiles(&mut buf, &row, [q])[0];
                assert!(
                    a == b || (a.is_nan() && b.is_nan()),
                    "seed {seed} q {q}: {a} vs {b}"
                );
            }
        }
        assert_eq!(
            quantile_small(&[3.0, 1.0, 2.0, 1.0], 0.34, &mut buf),
            1.0,
            "ties"
        );
    }

    #[test]
    fn flat_load_is_flat_and_empty_row_is_nan() {
        let mut buf = Vec::new();
        let l = level(&[3.25; 48], &mut buf);
        assert!(l.cv.abs() < 1e-6 && l.near_median_share == 1.0 && l.p10_kw == l.p90_kw);
        assert!(level(&[f32::NAN; 4], &mut buf).mean_kw.is_nan());
    }
}
