//! Each feeder's loss curve fitted to its own data, so that the residual of a clean feeder stays
//! flat when its load changes (a cold spell, a holiday) instead of leaving a false step.
//!
//! Model, per usable slot `s` (kW): `input_s = P_s + fixed_kw + a P_s + b P_s^2` with the
//! delivered power `P_s = metered_s + h_k`, where `h_k` is the hidden (unmetered) load of the
//! residual segment `k` holding `s` (segments: the residual's steps, see [`super::steps`]).
//! `a` is the load-proportional share, `b` the I^2 R term (kW per kW^2), `fixed_kw` the
//! configured no-load losses. The segment levels are fitted jointly with the curve, so a step
//! being searched for (a bypassed rig) is not bent into the loss curve, and a hidden load
//! running from the start stays in the residual (a constant is a segment level, never a loss:
//! no-load losses are configured, not fitted, because a flat loss and a flat rig look alike).
//!
//! Method: Gauss-Newton on `(a, b, h_1..h_K)` jointly (the levels and the curve are strongly
//! correlated when the load moves little, so they are solved together, not in turn), each round
//! reweighted with Huber's weights (k = 1.345, scale from the MAD; iteratively reweighted least
//! squares, Huber 1964, Holland & Welsch 1977), so slots spoiled by badly estimated missing
//! readings or a rig's own outage do not pull the curve. Bounds: `a, b >= 0` (a coefficient
//! that goes negative is held at 0 and the rest refitted), and losses at most `max_share` of
//! the input (beyond it the curve is scaled down to the bound and the levels refitted). The
//! level before the first step is kept free only when it comes out at `min_level_kw` or more (a
//! hidden load the balance would report); else it is held at 0 and the fit redone.
//!
//! Input: per-slot input and metered kW, which slots to fit on, the segment cuts (slot
//! indices). Output: a [`CurveFit`] or why none is possible ([`NoFit`]).

use super::losses::LossCurve;
use crate::grid_analysis::regression::ols;
use crate::stats::{mad, median_mut, MAD_TO_SD};

/// Huber's tuning constant: 95% efficiency under Gaussian noise.
pub const HUBER_K: f64 = 1.345;
/// Gauss-Newton rounds (each reweighted): the model is linear in the curve and nearly linear
/// in the levels, so a handful usually suffice.
pub const MAX_ROUNDS: usize = 50;
/// The metered load's coefficient of variation over the fit slots below which a curve cannot be
/// told from a constant hidden load (a feeder whose load hardly moves): the fixed model is used.
pub const MIN_FIT_LOAD_CV: f64 = 0.05;
/// Fewest slots to fit on.
pub const MIN_FIT_SLOTS: usize = 96;
/// Default upper bound of fitted losses, as a share of the feeder's input: distribution
/// feeders lose a few percent (DOMAIN.md); more than this is not physics.
pub const DEFAULT_FIT_MAX_SHARE: f64 = 0.15;
/// Default fewest used days to fit on; with fewer, the fixed model is used.
pub const DEFAULT_FIT_MIN_DAYS: usize = 7;

/// How each feeder's losses are modelled (the `[balance]` keys `loss_fit`,
/// `loss_fit_max_share`, `loss_fit_min_days`).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct LossFitSettings {
    /// Fit each feeder's curve; `false`: the fixed model on every feeder.
    pub fit: bool,
    /// Fitted losses may take at most this share of the input (0..=[`super::MAX_LOSS_SHARE`]).
    pub max_share: f64,
    /// A feeder with fewer used days gets the fixed model.
    pub min_days: usize,
}

impl Default for LossFitSettings {
    fn default() -> Self {
        LossFitSettings {
            fit: true,
            max_share: DEFAULT_FIT_MAX_SHARE,
            min_days: DEFAULT_FIT_MIN_DAYS,
        }
    }
}

/// Where a feeder's loss curve came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LossSource {
    /// Fitted to the feeder's data.
    Fitted,
    /// Fitted, with the loss share held at `max_share`.
    FittedAtBound,
    /// The fixed model, as configured (`loss_fit = false`).
    Fixed,
    /// The fixed model because the feeder's data could not carry a fit.
    FixedFallback,
}

impl LossSource {
    pub fn name(self) -> &'static str {
        match self {
            LossSource::Fitted => "fitted",
            LossSource::FittedAtBound => "fitted_at_bound",
            LossSource::Fixed => "fixed",
            LossSource::FixedFallback => "fixed_fallback",
        }
    }
}

/// One feeder's technical losses as used in its balance.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FeederLosses {
    pub curve: LossCurve,
    pub source: LossSource,
    /// Why the fixed model was used, for [`LossSource::FixedFallback`].
    pub fallback: Option<String>,
    /// Losses over input energy, used days.
    pub share: f64,
    /// `quadratic_per_kw` x the mean delivery: the I^2 R share at mean load, comparable with
    /// the fixed model's `loss_quadratic`.
    pub quadratic_at_mean: f64,
}

impl FeederLosses {
    /// "fitted 2.9% + 0.0010/kW x P^2 (4.1% of input)" and the like.
    pub fn text(&self) -> String {
        let c = &self.curve;
        let mut s = format!(
            "{} losses {:.1}% x P + {:.5}/kW x P^2",
            match self.source {
                LossSource::Fitted | LossSource::FittedAtBound => "fitted",
                LossSource::Fixed | LossSource::FixedFallback => "fixed",
            },
            100.0 * c.linear,
            c.quadratic_per_kw
        );
        if c.fixed_kw > 0.0 {
            s.push_str(&format!(" + {:.2} kW", c.fixed_kw));
        }
        s.push_str(&format!(" ({:.1}% of input", 100.0 * self.share));
        if self.source == LossSource::FittedAtBound {
            s.push_str(", at the bound");
        }
        s.push(')');
        if let Some(why) = &self.fallback {
            s.push_str(&format!(": {why}"));
        }
        s
    }
}

/// A fitted curve.
#[derive(Debug, Clone, PartialEq)]
pub struct CurveFit {
    pub curve: LossCurve,
    /// The bound on the loss share was reached (the unconstrained fit wanted more losses).
    pub at_bound: bool,
    /// Hidden load of each segment (kW) as fitted.
    pub levels: Vec<f64>,
    pub slots: usize,
}

/// Why no curve was fitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoFit {
    TooFewSlots,
    SteadyLoad,
}

impl NoFit {
    pub fn text(self) -> &'static str {
        match self {
            NoFit::TooFewSlots => "too few usable slots to fit the loss curve",
            NoFit::SteadyLoad => {
                "the metered load hardly varies, so losses cannot be told from a constant \
                 hidden load"
            }
        }
    }
}

/// The parameters of the fit: the curve's two coefficients and the segment levels.
#[derive(Debug, Clone)]
struct Params {
    a: f64,
    b: f64,
    levels: Vec<f64>,
}

/// The problem: the fit slots, the segment of each, and the data.
struct Problem<'a> {
    input_kw: &'a [f64],
    metered_kw: &'a [f64],
    slots: Vec<usize>,
    seg: Vec<usize>,
    fixed_kw: f64,
    /// Scale floor of the Huber weights (kW).
    floor: f64,
    /// The level before the first step is fitted (else held at its value).
    free_first: bool,
}

impl Problem<'_> {
    /// Input error of slot `j` (kW): measured minus modelled input.
    fn error(&self, p: &Params, j: usize) -> f64 {
        let s = self.slots[j];
        let d = self.metered_kw[s] + p.levels[self.seg[j]];
        self.input_kw[s] - self.fixed_kw - (1.0 + p.a) * d - p.b * d * d
    }

    /// Robust scale of the errors: 1.4826 x MAD, floored.
    fn scale(&self, p: &Params) -> f64 {
        let e: Vec<f64> = (0..self.slots.len()).map(|j| self.error(p, j)).collect();
        let mut sorted = e.clone();
        median_mut(&mut sorted)
            .and_then(|m| mad(&e, m))
            .map_or(self.floor, |d| (MAD_TO_SD * d).max(self.floor))
    }

    /// Huber weights of the current errors.
    fn weights(&self, p: &Params) -> Vec<f64> {
        let scale = self.scale(p);
        (0..self.slots.len())
            .map(|j| self.error(p, j))
            .map(|ej| {
                let u = ej.abs() / (HUBER_K * scale);
                if u <= 1.0 {
                    1.0
                } else {
                    1.0 / u
                }
            })
            .collect()
    }

    /// Robust Gauss-Newton from `p`: the free coefficients (`free_a`, `free_b`) and the levels
    /// minimise the Huber-weighted squared input error; the others stay as they are.
    fn solve(&self, mut p: Params, free_a: bool, free_b: bool) -> Params {
        let k = p.levels.len();
        for _ in 0..MAX_ROUNDS {
            let w = self.weights(&p);
            let mut x = Vec::with_capacity(self.slots.len());
            let mut y = Vec::with_capacity(self.slots.len());
            for (j, &s) in self.slots.iter().enumerate() {
                let sw = w[j].sqrt();
                let d = self.metered_kw[s] + p.levels[self.seg[j]];
                let mut row = Vec::with_capacity(k + 2);
                if free_a {
                    row.push(sw * d);
                }
                if free_b {
                    row.push(sw * d * d);
                }
                for seg in usize::from(!self.free_first)..k {
                    row.push(if seg == self.seg[j] {
                        sw * (1.0 + p.a + 2.0 * p.b * d)
                    } else {
                        0.0
                    });
                }
                x.push(row);
                y.push(sw * self.error(&p, j));
            }
            let Some(fit) = ols(&x, &y) else {
                break;
            };
            let mut c = fit.beta.iter();
            let mut step = 0.0f64;
            if free_a {
                let d = c.next().copied().unwrap_or(0.0);
                p.a += d;
                step = step.max(d.abs());
            }
            if free_b {
                let d = c.next().copied().unwrap_or(0.0);
                p.b += d;
                step = step.max(d.abs() * 100.0);
            }
            for l in p.levels.iter_mut().skip(usize::from(!self.free_first)) {
                let d = c.next().copied().unwrap_or(0.0);
                *l += d;
                step = step.max(d.abs() * 1e-3);
            }
            if step < 1e-9 {
                break;
            }
        }
        p
    }

    /// The fit under the bounds `a, b >= 0` and losses <= `budget` (kW summed over the fit
    /// slots), from zero, with `k` levels. Returns the parameters and whether the budget binds.
    fn bounded(&self, k: usize, budget: f64) -> (Params, bool) {
        let n = self.slots.len() as f64;
        let start = Params {
            a: 0.0,
            b: 0.0,
            levels: vec![0.0; k],
        };
        // Unconstrained, then on the boundary of a, b >= 0 where the optimum leaves it.
        let mut p = self.solve(start.clone(), true, true);
        if p.a < 0.0 || p.b < 0.0 {
            let only_b = self.solve(
                Params {
                    a: 0.0,
                    ..start.clone()
                },
                false,
                true,
            );
            let only_a = self.solve(
                Params {
                    b: 0.0,
                    ..start.clone()
                },
                true,
                false,
            );
            p = match (only_b.b >= 0.0, only_a.a >= 0.0) {
                (true, true) => {
                    // Compared on the robust (Huber) loss at the unconstrained fit's scale: a few
                    // wild slots must not pick the shape.
                    let scale = self.scale(&p);
                    let cost = |q: &Params| -> f64 {
                        (0..self.slots.len())
                            .map(|j| {
                                let u = self.error(q, j).abs() / (HUBER_K * scale);
                                if u <= 1.0 {
                                    u * u
                                } else {
                                    2.0 * u - 1.0
                                }
                            })
                            .sum()
                    };
                    if cost(&only_b) <= cost(&only_a) {
                        only_b
                    } else {
                        only_a
                    }
                }
                (true, false) => only_b,
                (false, true) => only_a,
                (false, false) => self.solve(start.clone(), false, false),
            };
        }
        // Losses may take at most `max_share` of the input over the fit slots: beyond it, the curve
        // is scaled down to the bound and the levels refitted under it.
        let losses = |q: &Params| -> f64 {
            self.slots
                .iter()
                .zip(&self.seg)
                .map(|(&s, &k)| {
                    let d = (self.metered_kw[s] + q.levels[k]).max(0.0);
                    self.fixed_kw + q.a * d + q.b * d * d
                })
                .sum()
        };
        let mut at_bound = false;
        let total = losses(&p);
        if total > budget {
            let variable = total - self.fixed_kw * n;
            let f = if variable > 0.0 {
                ((budget - self.fixed_kw * n) / variable).max(0.0)
            } else {
                0.0
            };
            p = self.solve(
                Params {
                    a: p.a * f,
                    b: p.b * f,
                    levels: p.levels,
                },
                false,
                false,
            );
            at_bound = true;
        }
        (p, at_bound)
    }
}

/// Fits the loss curve of one feeder (see the module doc). `fit[s]` says which slots to use
/// (usable slots of used days); `cuts` are the slots where a new residual segment begins.
pub fn fit_curve(
    input_kw: &[f64],
    metered_kw: &[f64],
    fit: &[bool],
    cuts: &[usize],
    fixed_kw: f64,
    max_share: f64,
    min_level_kw: f64,
) -> Result<CurveFit, NoFit> {
    let slots: Vec<usize> = (0..input_kw.len())
        .filter(|&s| fit[s] && input_kw[s].is_finite() && metered_kw[s].is_finite())
        .collect();
    if slots.len() < MIN_FIT_SLOTS {
        return Err(NoFit::TooFewSlots);
    }
    let n = slots.len() as f64;
    let m_mean = slots.iter().map(|&s| metered_kw[s]).sum::<f64>() / n;
    let m_sd = (slots
        .iter()
        .map(|&s| (metered_kw[s] - m_mean).powi(2))
        .sum::<f64>()
        / n)
        .sqrt();
    if !(m_mean > 0.0 && m_sd >= MIN_FIT_LOAD_CV * m_mean) {
        return Err(NoFit::SteadyLoad);
    }
    let seg: Vec<usize> = slots
        .iter()
        .map(|&s| cuts.iter().filter(|&&c| c <= s).count())
        .collect();
    let input_sum: f64 = slots.iter().map(|&s| input_kw[s]).sum();
    let mut pr = Problem {
        input_kw,
        metered_kw,
        slots,
        seg,
        fixed_kw,
        floor: 1e-4 * input_sum / n + 1e-3,
        free_first: true,
    };
    let mut p = pr.bounded(cuts.len() + 1, max_share * input_sum);
    // A hidden load before the first step is kept only when it is one the balance would report:
    // a level below `min_level_kw` (or negative, which no hidden load is) trades a sliver of
    // fit for a biased curve (the level and the curve's slope are nearly collinear, and errors
    // of estimated readings, which move against the load, pull them apart).
    if p.0.levels[0] < min_level_kw {
        pr.free_first = false;
        p = pr.bounded(cuts.len() + 1, max_share * input_sum);
    }
    let (p, at_bound) = p;
    Ok(CurveFit {
        curve: LossCurve {
            fixed_kw,
            linear: p.a,
            quadratic_per_kw: p.b,
        },
        at_bound,
        levels: p.levels,
        slots: pr.slots.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A household-like feeder load (kW) at slot `s` of 48 a day.
    fn load(s: usize) -> f64 {
        let h = (s % 48) as f64 / 2.0;
        let day = (s / 48) as f64;
        20.0 + 12.0 * (std::f64::consts::TAU * (h - 13.0) / 24.0).sin().max(-0.6)
            + 3.0 * ((day * 1.7).sin())
            + 0.5 * ((s * 7919 % 17) as f64 / 17.0)
    }

    fn forward(curve: &LossCurve, m: &[f64], hidden: &[f64]) -> Vec<f64> {
        m.iter()
            .zip(hidden)
            .map(|(m, h)| m + h + curve.losses_kw(m + h))
            .collect()
    }

    #[test]
    fn recovers_linear_quadratic_and_both_with_a_step() {
        let n = 48 * 30;
        let m: Vec<f64> = (0..n).map(load).collect();
        let onset = 48 * 12 + 17;
        let hidden: Vec<f64> = (0..n).map(|s| if s >= onset { 6.6 } else { 0.0 }).collect();
        for (a, b) in [(0.05, 0.0), (0.0, 0.002), (0.03, 0.001)] {
            let truth = LossCurve {
                fixed_kw: 0.0,
                linear: a,
                quadratic_per_kw: b,
            };
            let input = forward(&truth, &m, &hidden);
            let fit = vec![true; n];
            let got = fit_curve(&input, &m, &fit, &[onset], 0.0, 0.15, 1.0).unwrap();
            assert!((got.curve.linear - a).abs() < 1e-6, "{got:?}");
            assert!((got.curve.quadratic_per_kw - b).abs() < 1e-8, "{got:?}");
            assert!(got.levels[0].abs() < 1e-4 && (got.levels[1] - 6.6).abs() < 1e-4);
            assert!(!got.at_bound);
        }
    }

    #[test]
    fn a_flat_hidden_load_from_the_start_stays_a_level_not_a_loss() {
        let n = 48 * 20;
        let m: Vec<f64> = (0..n).map(load).collect();
        let truth = LossCurve {
            fixed_kw: 0.0,
            linear: 0.03,
            quadratic_per_kw: 0.001,
        };
        let input = forward(&truth, &m, &vec![9.75; n]);
        let got = fit_curve(&input, &m, &vec![true; n], &[], 0.0, 0.15, 1.0).unwrap();
        assert!((got.levels[0] - 9.75).abs() < 1e-3, "{got:?}");
        assert!((got.curve.linear - 0.03).abs() < 1e-4, "{got:?}");
    }

    #[test]
    fn the_share_bound_and_the_sign_bounds_hold() {
        let n = 48 * 20;
        let m: Vec<f64> = (0..n).map(load).collect();
        // 30% proportional "losses": more than the 15% bound allows.
        let big = LossCurve {
            fixed_kw: 0.0,
            linear: 0.3,
            quadratic_per_kw: 0.0,
        };
        let input = forward(&big, &m, &vec![0.0; n]);
        let got = fit_curve(&input, &m, &vec![true; n], &[], 0.0, 0.15, 1.0).unwrap();
        assert!(got.at_bound, "{got:?}");
        let losses: f64 = m.iter().map(|&p| got.curve.losses_kw(p)).sum();
        assert!(losses <= 0.15 * input.iter().sum::<f64>() * (1.0 + 1e-9));
        // Input below the metered sum: no negative losses.
        let less: Vec<f64> = m.iter().map(|v| v * 0.98).collect();
        let got = fit_curve(&less, &m, &vec![true; n], &[], 0.0, 0.15, 1.0).unwrap();
        assert!(got.curve.linear >= 0.0 && got.curve.quadratic_per_kw >= 0.0);
    }

    #[test]
    fn wild_slots_do_not_pull_the_curve() {
        let n = 48 * 20;
        let m: Vec<f64> = (0..n).map(load).collect();
        let truth = LossCurve {
            fixed_kw: 0.0,
            linear: 0.03,
            quadratic_per_kw: 0.001,
        };
        let mut input = forward(&truth, &m, &vec![0.0; n]);
        // 2% of slots off by +-15 kW (a badly estimated large meter, a feeder meter glitch).
        for s in (0..n).filter(|s| s % 50 == 7) {
            input[s] += if s % 100 == 7 { 15.0 } else { -15.0 };
        }
        let got = fit_curve(&input, &m, &vec![true; n], &[], 0.0, 0.15, 1.0).unwrap();
        assert!((got.curve.linear - 0.03).abs() < 0.003, "{got:?}");
        assert!((got.curve.quadratic_per_kw - 0.001).abs() < 1e-4, "{got:?}");
    }

    #[test]
    fn degenerate_inputs_are_refused() {
        let n = 48 * 10;
        let flat = vec![20.0; n];
        let input: Vec<f64> = flat.iter().map(|v| v * 1.04).collect();
        assert_eq!(
            fit_curve(&input, &flat, &vec![true; n], &[], 0.0, 0.15, 1.0),
            Err(NoFit::SteadyLoad)
        );
        let m: Vec<f64> = (0..n).map(load).collect();
        let few: Vec<bool> = (0..n).map(|s| s < 40).collect();
        assert_eq!(
            fit_curve(&input, &m, &few, &[], 0.0, 0.15, 1.0),
            Err(NoFit::TooFewSlots)
        );
    }
}
