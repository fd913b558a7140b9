//! Detection throughput: each feature kernel on one meter-month, and the whole stages
//! (features, clustering, scoring) on in-memory regions swept over meter counts.
//!
//! The region is generated in memory (30 days half-hourly; households with a daily rhythm,
//! 1.5% rigs), so the bench measures the kernels, not file reading. Whole-pipeline figures at
//! 100k and 1M meters with peak memory and the Python peers come from benches/detect_scale.sh.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use gridsleuth::cluster::{self, ClusterConfig};
use gridsleuth::features::{self, baseload, level, rhythm, steps, Calendar, FeatureContext};
use gridsleuth::grid::{LoadMatrix, TimeGrid};
use gridsleuth::score::{self, ScoreConfig};

const DAYS: usize = 30;
const SLOTS: usize = DAYS * 48;

/// Deterministic pseudo-random in [0, 1).
fn rnd(a: u64, b: u64) -> f32 {
    let mut x = a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    (x >> 40) as f32 / (1u64 << 24) as f32
}

fn region(meters: usize) -> LoadMatrix {
    let grid = TimeGrid {
        start: 1_704_067_200,
        interval_secs: 1800,
        n_slots: SLOTS,
    };
    let ids: Vec<Box<str>> = (0..meters).map(|i| format!("M{i:07}").into()).collect();
    let mut values = Vec::with_capacity(meters * SLOTS);
    for m in 0..meters as u64 {
        let rig = if m % 67 == 0 {
            3.25 * (1 + m % 3) as f32
        } else {
            0.0
        };
        let onset = if m % 2 == 0 {
            0
        } else {
            (m as usize * 7) % SLOTS
        };
        for s in 0..SLOTS {
            let h = (s % 48) as f32 / 2.0;
            let peak = if (17.0..22.0).contains(&h) { 0.8 } else { 0.0 };
            let kw = 0.15
                + peak * rnd(m, s as u64)
                + 0.2 * rnd(s as u64, m)
                + if s >= onset { rig } else { 0.0 };
            values.push(kw * 0.5);
        }
    }
    LoadMatrix::from_parts(grid, ids, values, vec![]).expect("region")
}

fn bench_kernels(c: &mut Criterion) {
    let m = region(200);
    let cal = Calendar::new(&m.grid, chrono_tz::UTC);
    let days = cal.day_ranges();
    let row: Vec<f32> = m.row(67).iter().map(|v| v * 2.0).collect();
    let mut g = c.benchmark_group("kernel (one meter-month)");
    let (mut buf, mut daily, mut nights, mut days_kw) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    g.bench_function("level", |b| b.iter(|| level::level(&row, &mut buf)));
    // The shared pass over the row (day counts and sums, the rhythm's slot sums), then the
    // floors and the rhythm on it, as `features` runs them.
    let mut stats = baseload::DayStats::default();
    g.bench_function("day stats", |b| b.iter(|| stats.compute(&row, &cal, &days)));
    // (computed again, for benches run on their own with a filter)
    stats.compute(&row, &cal, &days);
    let mut bs = baseload::BaseScratch::default();
    g.bench_function("baseload", |b| {
        b.iter(|| {
            baseload::baseload_with(
                &row,
                &cal,
                &days,
                &stats,
                [&mut daily, &mut nights, &mut days_kw],
                &mut bs,
            )
        })
    });
    let mut hourly = Vec::new();
    g.bench_function("rhythm", |b| {
        b.iter(|| rhythm::rhythm_with(&row, &cal, 0, Some((&days, &stats)), &mut hourly))
    });
    g.bench_function("steps", |b| b.iter(|| steps::best_step(&daily)));
    // The kernels of issue 12's features (each on the same meter-month).
    g.bench_function("step cuts", |b| b.iter(|| steps::step_cuts(&daily)));
    let raw = m.row(67);
    g.bench_function("flat-line share", |b| {
        b.iter(|| features::flatline_share(raw, 0.5))
    });
    let (mut hours, mut buf2) = (std::array::from_fn(|_| Vec::new()), Vec::new());
    g.bench_function("floor profile", |b| {
        b.iter(|| baseload::floor_profile_range(&row, &cal, 0, 0.5, &mut hours, &mut buf2))
    });
    let ctx = FeatureContext::new(&m, &cal);
    let view = ctx.view_of(67);
    g.bench_function("peer daily means", |b| {
        b.iter(|| features::proxy::normalised_daily(&m, &view, 67))
    });
    let proxy = features::DayProxy {
        first_day: 0,
        values: (0..DAYS).map(|d| 1.0 + 0.1 * rnd(d as u64, 7)).collect(),
    };
    let day_means: Vec<f32> = (0..DAYS).map(|d| 3.0 + 0.2 * rnd(d as u64, 9)).collect();
    g.bench_function("peer fit", |b| {
        b.iter(|| proxy.fit(&view.grid_day, &day_means))
    });
    // Outage masking on a rig's row (meter 67) and on a household's (meter 1).
    let home: Vec<f32> = m.row(1).iter().map(|v| v * 2.0).collect();
    let mut masked = Vec::new();
    g.bench_function("outage mask (rig)", |b| {
        b.iter(|| features::outage::mask_outages(&row, 0.5, DAYS, &mut masked))
    });
    g.bench_function("outage mask (household)", |b| {
        b.iter(|| features::outage::mask_outages(&home, 0.5, DAYS, &mut masked))
    });
    let mut sc = features::Scratch::default();
    g.bench_function("all features", |b| {
        b.iter(|| features::meter_features(&ctx, 67, &mut sc))
    });
    g.finish();
}

fn bench_stages(c: &mut Criterion) {
    let mut g = c.benchmark_group("stage");
    g.sample_size(10);
    for meters in [10_000usize, 100_000] {
        let m = region(meters);
        let cal = Calendar::new(&m.grid, chrono_tz::UTC);
        g.throughput(Throughput::Elements((meters * SLOTS) as u64));
        let ctx = FeatureContext::new(&m, &cal);
        g.bench_with_input(BenchmarkId::new("features", meters), &ctx, |b, ctx| {
            b.iter(|| features::compute(ctx, true))
        });
        let feats = features::compute(&ctx, true);
        let cfg = ClusterConfig::default();
        g.bench_with_input(BenchmarkId::new("cluster", meters), &feats, |b, f| {
            b.iter(|| cluster::cluster(f, &cfg).expect("cluster"))
        });
        let clusters = cluster::cluster(&feats, &cfg).expect("cluster");
        let meta = vec![None; meters];
        g.bench_with_input(BenchmarkId::new("score", meters), &feats, |b, f| {
            b.iter(|| {
                score::score_all(
                    f,
                    Some(&clusters),
                    &meta,
                    &m.grid,
                    &[&cal],
                    &vec![0; meters],
                    &ScoreConfig::default(),
                )
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench_kernels, bench_stages);
criterion_main!(benches);
