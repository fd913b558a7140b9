//! Clustering: robust standardisation of a few shape features, KMeans (linfa, seeded) or a
//! Gaussian mixture, and the rig-likeness of each cluster read off its centroid.
//!
//! Input: `&[MeterFeatures]`. Output: per meter its cluster and that cluster's rig-likeness in
//! [0, 1]. This is the only module that touches linfa/ndarray types (ndarray 0.16, as linfa
//! needs; polars uses another version). Every random step takes the configured seed.

pub mod standardize;

use linfa::prelude::*;
use linfa_clustering::{GaussianMixtureModel, KMeans};
use ndarray::Array2;
use rand::seq::index::sample;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256Plus;

use crate::features::MeterFeatures;
use standardize::Robust;

/// Clustering settings.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// Number of clusters.
    pub k: usize,
    /// `kmeans` or `gmm` (a Gaussian mixture; falls back to KMeans if it fails).
    pub method: ClusterMethod,
    /// KMeans restarts (linfa's default of 10 costs 10x; k-means++ initialisation on
    /// well-separated features rarely needs more than one).
    pub n_runs: usize,
    pub max_iterations: u64,
    /// Fit on at most this many meters (seeded sample), then assign every meter: centroids of
    /// 8 clusters in 8 dimensions are well estimated from 20,000 points, and the fit costs
    /// O(sample x k x iterations) instead of O(meters x k x iterations).
    pub max_fit_meters: usize,
    pub seed: u64,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            k: 8,
            method: ClusterMethod::Kmeans,
            n_runs: 1,
            max_iterations: 100,
            max_fit_meters: 20_000,
            seed: 42,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClusterMethod {
    Kmeans,
    Gmm,
}

/// Names of the clustering inputs, in column order.
pub const INPUTS: [&str; 8] = [
    "ln_floor_kw",
    "flat_share",
    "cv",
    "diurnal_amp",
    "acf_day",
    "ln_night_day_ratio",
    "ln_peer_tariff_base_ratio",
    "temp_corr",
];

/// The clustering inputs of one meter (transformed to roughly symmetric scales; `NaN` allowed).
pub fn inputs(f: &MeterFeatures) -> [f64; 8] {
    let floor = f64::from(f.base_after_kw.max(0.0));
    let flat = if f.mean_after_kw > 0.0 {
        f64::from(f.base_after_kw / f.mean_after_kw)
    } else {
        f64::NAN
    };
    [
        (1.0 + floor).ln(),
        flat.clamp(0.0, 1.5),
        f64::from(f.cv).clamp(0.0, 5.0),
        f64::from(f.diurnal_amp_after).clamp(0.0, 10.0),
        f64::from(f.acf_day_after),
        f64::from(f.night_day_ratio).max(1e-3).ln().clamp(-5.0, 5.0),
        f64::from(f.peer_tariff_base_ratio)
            .max(1e-3)
            .ln()
            .clamp(-5.0, 5.0),
        f64::from(f.temp_corr),
    ]
}

/// Rig-likeness of a point in input units: a floor of at least a device (~0.6 kW), most of the
/// load in that floor, no daily rhythm. Each term in [0, 1]; their product.
pub fn rig_likeness(x: &[f64; 8]) -> f64 {
    let ramp = crate::stats::ramp;
    let level = ramp(x[0], (1.0f64 + 0.3).ln(), (1.0f64 + 1.0).ln());
    let flat = ramp(x[1], 0.45, 0.8);
    let no_rhythm = 1.0 - ramp(x[3], 0.6, 2.0);
    level * flat * no_rhythm
}

/// Cluster assignment of every meter and its cluster's rig-likeness.
#[derive(Debug, Clone)]
pub struct Clusters {
    pub assignment: Vec<usize>,
    /// Per cluster: rig-likeness of its centroid and size (of the population the clustering
    /// was fitted on).
    pub rig_likeness: Vec<f64>,
    pub sizes: Vec<usize>,
    /// Per cluster, the median of its members' inputs (for run.json and reports).
    pub centroids: Vec<[f64; 8]>,
    /// What actually ran (`gmm` may fall back to `kmeans`).
    pub method: ClusterMethod,
}

impl Clusters {
    pub fn meter_rig_likeness(&self, i: usize) -> f64 {
        self.rig_likeness[self.assignment[i]]
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("clustering failed: {0}")]
    Fit(String),
}

/// The fitted clustering: what assigns any meter to a cluster without the others (the
/// standardisation, the fitted KMeans or mixture) and what describes each cluster (fitted on
/// the whole population: rig-likeness, size and median inputs of its members).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ClusterModel {
    pub robust: Robust<8>,
    pub fitted: Fitted,
    pub rig_likeness: Vec<f64>,
    pub sizes: Vec<usize>,
    /// Per cluster, the median of its members' raw inputs (`None` for a column without any).
    pub centroids: Vec<[Option<f64>; 8]>,
}

/// The fitted model of [`ClusterMethod`] that ran (`gmm` may fall back to `kmeans`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fitted {
    Kmeans(KMeans<f64, linfa_nn::distance::L2Dist>),
    Gmm(Box<GaussianMixtureModel<f64>>),
}

impl Fitted {
    fn method(&self) -> ClusterMethod {
        match self {
            Fitted::Kmeans(_) => ClusterMethod::Kmeans,
            Fitted::Gmm(_) => ClusterMethod::Gmm,
        }
    }
    fn predict(&self, z: &Array2<f64>) -> Vec<usize> {
        match self {
            Fitted::Kmeans(m) => m.predict(z).to_vec(),
            Fitted::Gmm(m) => m.predict(z).to_vec(),
        }
    }
}

fn to_array(
    rows: &mut dyn Iterator<Item = &[f64; 8]>,
    len: usize,
) -> Result<Array2<f64>, ClusterError> {
    Array2::from_shape_vec((len, 8), rows.flat_map(|r| r.iter().copied()).collect())
        .map_err(|e| ClusterError::Fit(e.to_string()))
}

impl ClusterModel {
    /// Standardises, fits on a seeded sample, assigns everyone and describes the clusters.
    pub fn fit(features: &[MeterFeatures], cfg: &ClusterConfig) -> Result<Self, ClusterError> {
        let raw: Vec<[f64; 8]> = features.iter().map(inputs).collect();
        Self::fit_inputs(&raw, cfg)
    }

    /// [`ClusterModel::fit`] on each meter's [`inputs`].
    pub fn fit_inputs(raw: &[[f64; 8]], cfg: &ClusterConfig) -> Result<Self, ClusterError> {
        let n = raw.len();
        let robust = Robust::fit(raw);
        let z: Vec<[f64; 8]> = raw.iter().map(|x| robust.transform(x)).collect();
        let k = cfg.k.clamp(1, n.max(1));
        let mut rng = Xoshiro256Plus::seed_from_u64(cfg.seed);
        let fit_rows: Vec<usize> = if n > cfg.max_fit_meters {
            let mut v = sample(&mut rng, n, cfg.max_fit_meters).into_vec();
            v.sort_unstable();
            v
        } else {
            (0..n).collect()
        };
        let fit_data = to_array(&mut fit_rows.iter().map(|&i| &z[i]), fit_rows.len())?;
        let kmeans = |rng: Xoshiro256Plus| -> Result<Fitted, ClusterError> {
            KMeans::params_with_rng(k, rng)
                .n_runs(cfg.n_runs.max(1))
                .max_n_iterations(cfg.max_iterations)
                .tolerance(1e-4)
                .fit(&DatasetBase::from(fit_data.clone()))
                .map(Fitted::Kmeans)
                .map_err(|e| ClusterError::Fit(e.to_string()))
        };
        let fitted = match cfg.method {
            ClusterMethod::Kmeans => kmeans(rng)?,
            ClusterMethod::Gmm => {
                let gmm = GaussianMixtureModel::params_with_rng(k, rng.clone())
                    .n_runs(cfg.n_runs.max(1) as u64)
                    .max_n_iterations(cfg.max_iterations)
                    .fit(&DatasetBase::from(fit_data.clone()));
                match gmm {
                    Ok(model) => Fitted::Gmm(Box::new(model)),
                    Err(_) => kmeans(rng)?,
                }
            }
        };
        let kk = match &fitted {
            Fitted::Kmeans(m) => m.centroids().nrows(),
            Fitted::Gmm(m) => m.means().nrows(),
        };
        let assignment = fitted.predict(&to_array(&mut z.iter(), n)?);
        // Describe each cluster by the median of its members' raw inputs: mapping a centroid
        // back through the clipped standardisation would understate far-out clusters (rigs sit
        // at the clip).
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); kk];
        for (i, &a) in assignment.iter().enumerate() {
            if a < kk {
                members[a].push(i);
            }
        }
        let centroids: Vec<[f64; 8]> = members
            .iter()
            .map(|rows| {
                let mut c = [f64::NAN; 8];
                let mut col = Vec::with_capacity(rows.len());
                for (j, v) in c.iter_mut().enumerate() {
                    col.clear();
                    col.extend(rows.iter().map(|&i| raw[i][j]).filter(|x| x.is_finite()));
                    if !col.is_empty() {
                        let k = col.len() / 2;
                        *v = *col.select_nth_unstable_by(k, |a, b| a.total_cmp(b)).1;
                    }
                }
                c
            })
            .collect();
        Ok(ClusterModel {
            robust,
            rig_likeness: centroids.iter().map(rig_likeness).collect(),
            sizes: members.iter().map(Vec::len).collect(),
            centroids: centroids
                .iter()
                .map(|c| c.map(|x| x.is_finite().then_some(x)))
                .collect(),
            fitted,
        })
    }

    /// Assigns each meter (any subset of the population or another one) to its cluster.
    pub fn assign(&self, features: &[MeterFeatures]) -> Result<Clusters, ClusterError> {
        let z: Vec<[f64; 8]> = features
            .iter()
            .map(|f| self.robust.transform(&inputs(f)))
            .collect();
        let assignment = self.fitted.predict(&to_array(&mut z.iter(), z.len())?);
        Ok(Clusters {
            assignment,
            rig_likeness: self.rig_likeness.clone(),
            sizes: self.sizes.clone(),
            centroids: self
                .centroids
                .iter()
                .map(|c| c.map(|x| x.unwrap_or(f64::NAN)))
                .collect(),
            method: self.fitted.method(),
        })
    }
}

/// Fits the clustering on `features` and assigns them ([`ClusterModel::fit`], then
/// [`ClusterModel::assign`]).
pub fn cluster(features: &[MeterFeatures], cfg: &ClusterConfig) -> Result<Clusters, ClusterError> {
    ClusterModel::fit(features, cfg)?.assign(features)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feat(floor: f32, mean: f32, amp: f32) -> MeterFeatures {
        let mut f = crate::features::tests_support::blank();
        f.base_after_kw = floor;
        f.mean_after_kw = mean;
        f.diurnal_amp_after = amp;
        f.cv = if floor >= mean * 0.9 { 0.03 } else { 1.0 };
        f.acf_day_after = if amp > 1.0 { 0.8 } else { 0.0 };
        f.night_day_ratio = 1.0;
        f.peer_tariff_base_ratio = floor / 0.2;
        f.temp_corr = 0.0;
        f
    }

    #[test]
    fn rigs_form_a_rig_like_cluster_and_it_is_deterministic() {
        let mut v = Vec::new();
        for i in 0..400 {
            let j = (i % 7) as f32 * 0.01;
            v.push(feat(0.15 + j, 0.45 + j, 2.5 + j));
        }
        for i in 0..40 {
            let j = (i % 5) as f32 * 0.1;
            v.push(feat(3.2 + j, 3.4 + j, 0.1));
        }
        let cfg = ClusterConfig {
            k: 3,
            ..Default::default()
        };
        let a = cluster(&v, &cfg).unwrap();
        let b = cluster(&v, &cfg).unwrap();
        assert_eq!(a.assignment, b.assignment);
        assert!(
            a.meter_rig_likeness(420) > 0.8,
            "{:?} {:?} {:?}",
            a.rig_likeness,
            a.sizes,
            a.centroids
        );
        assert!(a.meter_rig_likeness(0) < 0.1);
        let g = cluster(
            &v,
            &ClusterConfig {
                method: ClusterMethod::Gmm,
                ..cfg
            },
        )
        .unwrap();
        assert_eq!(g.assignment.len(), 440);
    }
}
