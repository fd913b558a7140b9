//! The technical-loss model of the feeder balance: what a feeder loses in its cables and
//! transformers between the feeder meter and its customers, so that only the rest of the gap
//! counts as unmetered load.
//!
//! Input: the feeder's input per slot (kW). Output: the power delivered to customers per slot
//! ([`LossModel::delivered_kw`]), the inverse of `input = P + losses(P)`.

use crate::grid_analysis::GridAnalysisError;

/// Technical losses of a feeder delivering `P` kW to its customers (metered or not):
/// `fixed_kw + share * P + quadratic * P^2 / mean(P)`. `share` is the load-proportional part,
/// `quadratic` the extra I^2 R share at average load (it grows with the square of the load), and
/// `fixed_kw` the no-load (transformer core) losses, which are flat 24/7 like a rig and must be
/// modelled, not flagged. DOMAIN.md: technical losses are "typically a few %".
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct LossModel {
    share: f64,
    quadratic: f64,
    fixed_kw: f64,
}

/// The default loss shares: 3% proportional + 1% load-squared at average load (a typical
/// distribution feeder's 4% in all; the shares `gridsleuth synth` uses by default).
pub const DEFAULT_LOSS_SHARE: f64 = 0.03;
pub const DEFAULT_LOSS_QUADRATIC: f64 = 0.01;
/// Highest loss share accepted: distribution losses above 30% are theft, not physics.
pub const MAX_LOSS_SHARE: f64 = 0.3;

impl Default for LossModel {
    fn default() -> Self {
        LossModel {
            share: DEFAULT_LOSS_SHARE,
            quadratic: DEFAULT_LOSS_QUADRATIC,
            fixed_kw: 0.0,
        }
    }
}

impl LossModel {
    /// Validates the shares (each in [0, [`MAX_LOSS_SHARE`]]) and the fixed part (>= 0 kW).
    pub fn new(share: f64, quadratic: f64, fixed_kw: f64) -> Result<Self, GridAnalysisError> {
        for (opt, v) in [("--loss-share", share), ("--loss-quadratic", quadratic)] {
            if !(v.is_finite() && (0.0..=MAX_LOSS_SHARE).contains(&v)) {
                return Err(GridAnalysisError::option(
                    opt,
                    format!("{v} is not a loss share between 0 and {MAX_LOSS_SHARE}"),
                    format!("pass a fraction, e.g. {opt} 0.03 for 3%"),
                ));
            }
        }
        if !(fixed_kw.is_finite() && fixed_kw >= 0.0) {
            return Err(GridAnalysisError::option(
                "--loss-fixed-kw",
                format!("{fixed_kw} is not a power in kW >= 0"),
                "pass the feeder transformers' no-load losses in kW, e.g. --loss-fixed-kw 0.5",
            ));
        }
        Ok(LossModel {
            share,
            quadratic,
            fixed_kw,
        })
    }
    pub fn share(&self) -> f64 {
        self.share
    }
    pub fn quadratic(&self) -> f64 {
        self.quadratic
    }
    pub fn fixed_kw(&self) -> f64 {
        self.fixed_kw
    }

    /// Losses (kW) when delivering `p_kw`, the mean delivery being `mean_kw`.
    pub fn losses_kw(&self, p_kw: f64, mean_kw: f64) -> f64 {
        let q = if mean_kw > 0.0 {
            self.quadratic * p_kw * p_kw / mean_kw
        } else {
            0.0
        };
        self.fixed_kw + self.share * p_kw + q
    }

    /// Power delivered to customers per slot, solving `I = P + losses(P)` for `P` (the mean
    /// delivery is found by fixed-point iteration). `NaN` input stays `NaN`.
    pub fn delivered_kw(&self, input_kw: &[f64]) -> Vec<f64> {
        let curve = self.curve(input_kw);
        input_kw.iter().map(|&i| curve.delivered_kw(i)).collect()
    }

    /// This model as one feeder's [`LossCurve`]: the load-squared share is taken at the mean
    /// delivery that solves `I = P + losses(P)` over the feeder's finite inputs.
    pub fn curve(&self, input_kw: &[f64]) -> LossCurve {
        let at = |mean: f64| LossCurve {
            fixed_kw: self.fixed_kw,
            linear: self.share,
            quadratic_per_kw: if self.quadratic > 0.0 && mean > 0.0 {
                self.quadratic / mean
            } else {
                0.0
            },
        };
        let a = 1.0 + self.share;
        let (sum, n) = input_kw
            .iter()
            .filter(|v| v.is_finite())
            .fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
        let mut mean = if n > 0 {
            (sum / n as f64 - self.fixed_kw) / (a + self.quadratic)
        } else {
            0.0
        };
        for _ in 0..50 {
            let c = at(mean);
            let next = input_kw
                .iter()
                .filter(|v| v.is_finite())
                .map(|&i| c.delivered_kw(i))
                .sum::<f64>()
                / n.max(1) as f64;
            let done = (next - mean).abs() <= 1e-12 * mean.abs().max(1.0);
            mean = next;
            if done {
                break;
            }
        }
        at(mean)
    }
}

/// One feeder's loss curve in absolute terms: `losses(P) = fixed_kw + linear * P +
/// quadratic_per_kw * P^2` (kW, `P` the power delivered to its customers in kW). Fitted per
/// feeder ([`super::loss_fit`]), or the fixed [`LossModel`] at the feeder's mean load.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct LossCurve {
    pub fixed_kw: f64,
    pub linear: f64,
    /// kW of losses per kW^2 delivered (the I^2 R term: `R / V^2` of the feeder).
    pub quadratic_per_kw: f64,
}

impl LossCurve {
    /// Losses (kW) when delivering `p_kw`.
    pub fn losses_kw(&self, p_kw: f64) -> f64 {
        self.fixed_kw + self.linear * p_kw + self.quadratic_per_kw * p_kw * p_kw
    }

    /// The power delivered when the feeder takes `input_kw`: the root of
    /// `input = P + losses(P)` (`NaN` stays `NaN`; input below the no-load losses gives a
    /// negative delivery, kept linear so it shows in the residual rather than vanishing).
    pub fn delivered_kw(&self, input_kw: f64) -> f64 {
        let a = 1.0 + self.linear;
        let net = input_kw - self.fixed_kw;
        let c = self.quadratic_per_kw;
        if c <= 0.0 || net <= 0.0 {
            return net / a;
        }
        // 2 net / (a + sqrt(a^2 + 4 c net)): the root without cancellation for small c.
        2.0 * net / (a + (a * a + 4.0 * c * net).sqrt())
    }
}
