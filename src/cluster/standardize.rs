//! Robust standardisation: centre on the median, scale by the MAD (x 1.4826, which makes it a
//! consistent estimator of the standard deviation for normal data; Rousseeuw & Croux 1993).
//! A column whose MAD is 0 (over half the meters identical, common for flags) falls back to
//! the standard deviation, then to 1. Missing values become the centre (z = 0); z is clipped to
//! ±[`Z_CLIP`] so a single absurd meter cannot drag a centroid.

pub use crate::stats::MAD_TO_SD;
/// Clip standardised values to this magnitude.
pub const Z_CLIP: f64 = 8.0;

/// Per-column centre and scale.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Robust<const K: usize> {
    #[serde(with = "serde_arrays")]
    pub centre: [f64; K],
    #[serde(with = "serde_arrays")]
    pub scale: [f64; K],
}

/// serde for `[f64; K]` of any `K` (serde's own impls need a literal length).
mod serde_arrays {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer, const K: usize>(a: &[f64; K], s: S) -> Result<S::Ok, S::Error> {
        a.as_slice().serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>, const K: usize>(
        d: D,
    ) -> Result<[f64; K], D::Error> {
        let v = Vec::<f64>::deserialize(d)?;
        let n = v.len();
        v.try_into()
            .map_err(|_| serde::de::Error::invalid_length(n, &"one value per column"))
    }
}

/// Median of a column; an empty column (no finite value) is centred at 0.
fn median(v: &mut [f64]) -> f64 {
    crate::stats::median_mut(v).unwrap_or(0.0)
}

impl<const K: usize> Robust<K> {
    pub fn fit(rows: &[[f64; K]]) -> Self {
        let mut centre = [0f64; K];
        let mut scale = [1f64; K];
        let mut col = Vec::with_capacity(rows.len());
        for j in 0..K {
            col.clear();
            col.extend(rows.iter().map(|r| r[j]).filter(|v| v.is_finite()));
            let c = median(&mut col);
            let mad = crate::stats::mad(&col, c).unwrap_or(0.0) * MAD_TO_SD;
            let s = if mad > 1e-9 {
                mad
            } else {
                let n = col.len().max(1) as f64;
                let m = col.iter().sum::<f64>() / n;
                let sd = (col.iter().map(|v| (v - m).powi(2)).sum::<f64>() / n).sqrt();
                if sd > 1e-9 {
                    sd
                } else {
                    1.0
                }
            };
            centre[j] = c;
            scale[j] = s;
        }
        Robust { centre, scale }
    }

    pub fn transform(&self, x: &[f64; K]) -> [f64; K] {
        let mut z = [0f64; K];
        for j in 0..K {
            z[j] = if x[j].is_finite() {
                ((x[j] - self.centre[j]) / self.scale[j]).clamp(-Z_CLIP, Z_CLIP)
            } else {
                0.0
            };
        }
        z
    }

    pub fn inverse(&self, z: &[f64; K]) -> [f64; K] {
        let mut x = [0f64; K];
        for j in 0..K {
            x[j] = z[j] * self.scale[j] + self.centre[j];
        }
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_mad_with_degenerate_columns() {
        let rows: Vec<[f64; 3]> = (0..101)
            .map(|i| [i as f64, if i < 60 { 0.0 } else { 1.0 }, f64::NAN])
            .collect();
        let r = Robust::fit(&rows);
        assert_eq!(r.centre[0], 50.0);
        assert!((r.scale[0] - 25.0 * MAD_TO_SD).abs() < 1e-9);
        assert!(
            r.scale[1] > 0.4 && r.scale[1] < 0.6,
            "MAD 0 -> sd: {}",
            r.scale[1]
        );
        assert_eq!(r.scale[2], 1.0);
        let z = r.transform(&[1e9, 0.0, f64::NAN]);
        assert_eq!(z[0], Z_CLIP);
        assert_eq!(z[2], 0.0);
        let back = r.inverse(&r.transform(&[60.0, 1.0, 0.0]));
        assert!((back[0] - 60.0).abs() < 1e-9);
    }
}
