//! Meter kinds (the label vocabulary), tariffs, the hidden-rig mix, and the population: which
//! meter index gets which kind.
//!
//! Input: validated shares (see `params`) and the run seed. Output: one [`Kind`] per meter index.
//! Invariants: the number of meters of each kind is exact (cumulative rounding of the shares, so
//! the counts always sum to the number of meters), and the assignment is a seeded shuffle, so it
//! does not depend on chunking or threads. The kind strings are the `labels.csv` contract shared
//! with `../shared/peers/gen_region.py`.

use rand::Rng as _;

use super::seed::{rng, Stream};

/// What a meter is (the `kind` column of `labels.csv`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Household,
    HouseholdElectricHeating,
    HouseholdStorageHeating,
    Commercial,
    Commercial24x7,
    GrowOp,
    Agricultural,
    RegisteredMiner,
    MiningPure,
    MiningMixed,
    MiningNight,
    MiningIntermittent,
    MiningGrowth,
    MiningSmall,
    MiningBypass,
}

impl Kind {
    /// Every kind, in label order.
    pub const ALL: [Kind; 15] = [
        Kind::Household,
        Kind::HouseholdElectricHeating,
        Kind::HouseholdStorageHeating,
        Kind::Commercial,
        Kind::Commercial24x7,
        Kind::GrowOp,
        Kind::Agricultural,
        Kind::RegisteredMiner,
        Kind::MiningPure,
        Kind::MiningMixed,
        Kind::MiningNight,
        Kind::MiningIntermittent,
        Kind::MiningGrowth,
        Kind::MiningSmall,
        Kind::MiningBypass,
    ];

    /// The hidden (unregistered) rig kinds, in `--mining-mix` order.
    pub const HIDDEN_RIGS: [Kind; 7] = [
        Kind::MiningPure,
        Kind::MiningMixed,
        Kind::MiningNight,
        Kind::MiningIntermittent,
        Kind::MiningGrowth,
        Kind::MiningSmall,
        Kind::MiningBypass,
    ];

    /// The `labels.csv` string.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Household => "household",
            Kind::HouseholdElectricHeating => "household_electric_heating",
            Kind::HouseholdStorageHeating => "household_storage_heating",
            Kind::Commercial => "commercial",
            Kind::Commercial24x7 => "commercial_24x7",
            Kind::GrowOp => "grow_op",
            Kind::Agricultural => "agricultural",
            Kind::RegisteredMiner => "registered_miner",
            Kind::MiningPure => "mining_pure",
            Kind::MiningMixed => "mining_mixed",
            Kind::MiningNight => "mining_night",
            Kind::MiningIntermittent => "mining_intermittent",
            Kind::MiningGrowth => "mining_growth",
            Kind::MiningSmall => "mining_small",
            Kind::MiningBypass => "mining_bypass",
        }
    }

    /// The short name used in `--mining-mix` (`mixed=0.3,...`), for hidden rig kinds.
    pub fn mix_key(self) -> Option<&'static str> {
        self.as_str().strip_prefix("mining_")
    }

    /// Whether the meter's premises hold a rig (`is_mining`), registered or not.
    pub fn is_mining(self) -> bool {
        self == Kind::RegisteredMiner || Kind::HIDDEN_RIGS.contains(&self)
    }
}

/// Tariff class of a meter (`meters.csv`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tariff {
    Residential,
    Commercial,
    Agricultural,
}

impl Tariff {
    pub fn as_str(self) -> &'static str {
        match self {
            Tariff::Residential => "residential",
            Tariff::Commercial => "commercial",
            Tariff::Agricultural => "agricultural",
        }
    }
}

/// Relative weights of the hidden rig kinds, in [`Kind::HIDDEN_RIGS`] order (normalised on use).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct MiningMix(pub [f64; 7]);

impl MiningMix {
    /// The default split of hidden rigs. DOMAIN.md gives no field shares; this puts most weight on
    /// rigs added to a household (the common home setup), and enough of each evasion pattern
    /// (night tariff, intermittent, growth, small units, bypass) for every kind to be evaluated.
    pub const DEFAULT_TEXT: &'static str =
        "mixed=0.30,pure=0.15,small=0.15,night=0.10,intermittent=0.10,growth=0.10,bypass=0.10";

    /// Parses `key=weight,...`; keys not given get weight 0. Errors name the bad part.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut w = [0.0; 7];
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?} is not key=weight"))?;
            let i = Kind::HIDDEN_RIGS
                .iter()
                .position(|kind| kind.mix_key() == Some(k.trim()))
                .ok_or_else(|| {
                    format!(
                        "{k:?} is not a rig kind (use {})",
                        Kind::HIDDEN_RIGS
                            .iter()
                            .filter_map(|k| k.mix_key())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })?;
            let x: f64 = v
                .trim()
                .parse()
                .map_err(|_| format!("{v:?} (for {k}) is not a number"))?;
            if !(x.is_finite() && x >= 0.0) {
                return Err(format!("weight {x} for {k} must be >= 0"));
            }
            w[i] = x;
        }
        if w.iter().sum::<f64>() <= 0.0 {
            return Err("at least one weight must be positive".into());
        }
        Ok(MiningMix(w))
    }

    /// Weights normalised to sum to 1.
    pub fn shares(&self) -> [f64; 7] {
        let total: f64 = self.0.iter().sum();
        self.0.map(|x| x / total)
    }

    /// Draws a kind among those allowed by `keep`, proportionally to the weights.
    pub fn draw(&self, rng: &mut impl rand::Rng, keep: impl Fn(Kind) -> bool) -> Option<Kind> {
        let w: Vec<f64> = Kind::HIDDEN_RIGS
            .iter()
            .zip(self.0)
            .map(|(&k, x)| if keep(k) { x } else { 0.0 })
            .collect();
        let total: f64 = w.iter().sum();
        if total <= 0.0 {
            return None;
        }
        let mut u = rng.gen::<f64>() * total;
        for (k, x) in Kind::HIDDEN_RIGS.iter().zip(&w) {
            if u < *x {
                return Some(*k);
            }
            u -= x;
        }
        Kind::HIDDEN_RIGS
            .iter()
            .rev()
            .zip(w.iter().rev())
            .find(|(_, x)| **x > 0.0)
            .map(|(k, _)| *k)
    }
}

/// Share of all meters for each kind except `Household` (the remainder).
#[derive(Debug, Clone, serde::Serialize)]
pub struct PopulationShares {
    pub registered_miner: f64,
    pub mining: f64,
    pub mining_mix: MiningMix,
    pub commercial: f64,
    /// Share of commercial meters that are 24x7 refrigeration shops.
    pub commercial_24x7: f64,
    pub grow_op: f64,
    pub agricultural: f64,
    pub electric_heating: f64,
    pub storage_heating: f64,
}

impl PopulationShares {
    /// (kind, share of all meters), households excluded.
    pub fn kind_shares(&self) -> Vec<(Kind, f64)> {
        let mut v = vec![
            (Kind::RegisteredMiner, self.registered_miner),
            (Kind::Commercial24x7, self.commercial * self.commercial_24x7),
            (
                Kind::Commercial,
                self.commercial * (1.0 - self.commercial_24x7),
            ),
            (Kind::GrowOp, self.grow_op),
            (Kind::Agricultural, self.agricultural),
            (Kind::HouseholdElectricHeating, self.electric_heating),
            (Kind::HouseholdStorageHeating, self.storage_heating),
        ];
        for (k, s) in Kind::HIDDEN_RIGS.iter().zip(self.mining_mix.shares()) {
            v.push((*k, self.mining * s));
        }
        v
    }

    /// Sum of the non-household shares (must be <= 1).
    pub fn total(&self) -> f64 {
        self.kind_shares().iter().map(|(_, s)| s).sum()
    }
}

/// Exact count of each kind for `n` meters: cumulative rounding, so that the counts sum to `n`
/// and each is within one of `share * n`.
pub fn kind_counts(shares: &PopulationShares, n: usize) -> Vec<(Kind, usize)> {
    let mut out = Vec::new();
    let (mut cum, mut placed) = (0.0f64, 0usize);
    for (kind, share) in shares.kind_shares() {
        cum += share;
        let upto = ((cum * n as f64).round() as usize).min(n);
        out.push((kind, upto.saturating_sub(placed)));
        placed = placed.max(upto);
    }
    out.push((Kind::Household, n - placed));
    out
}

/// The kind of every meter index: `kind_counts` laid out, then shuffled (Fisher-Yates) with the
/// run's population stream.
pub fn assign_kinds(shares: &PopulationShares, n: usize, seed: u64) -> Vec<Kind> {
    let mut kinds = Vec::with_capacity(n);
    for (k, c) in kind_counts(shares, n) {
        kinds.extend(std::iter::repeat_n(k, c));
    }
    let mut r = rng(seed, Stream::Population, 0);
    for i in (1..kinds.len()).rev() {
        let j = r.gen_range(0..=i);
        kinds.swap(i, j);
    }
    kinds
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shares() -> PopulationShares {
        PopulationShares {
            registered_miner: 0.0005,
            mining: 0.015,
            mining_mix: MiningMix::parse(MiningMix::DEFAULT_TEXT).unwrap(),
            commercial: 0.04,
            commercial_24x7: 0.2,
            grow_op: 0.005,
            agricultural: 0.005,
            electric_heating: 0.06,
            storage_heating: 0.04,
        }
    }

    #[test]
    fn counts_are_exact_and_sum_to_n() {
        for n in [0, 1, 7, 5000, 123_457] {
            let c = kind_counts(&shares(), n);
            assert_eq!(c.iter().map(|x| x.1).sum::<usize>(), n);
        }
        let c: std::collections::HashMap<Kind, usize> =
            kind_counts(&shares(), 100_000).into_iter().collect();
        assert_eq!(c[&Kind::RegisteredMiner], 50);
        assert_eq!(c[&Kind::Commercial24x7], 800);
        assert_eq!(c[&Kind::MiningMixed], 450);
    }

    #[test]
    fn every_kind_appears_in_5000_meters() {
        let kinds = assign_kinds(&shares(), 5000, 1);
        for k in Kind::ALL {
            assert!(kinds.contains(&k), "{k:?} missing");
        }
    }

    #[test]
    fn mix_parsing() {
        let m = MiningMix::parse("pure=1, bypass=3").unwrap();
        assert_eq!(m.shares()[0], 0.25);
        assert_eq!(m.shares()[6], 0.75);
        assert!(MiningMix::parse("asic=1").unwrap_err().contains("asic"));
        assert!(MiningMix::parse("pure=-1").is_err());
        assert!(MiningMix::parse("pure=0").is_err());
        assert!(MiningMix::parse("pure").is_err());
    }

    #[test]
    fn draw_respects_the_filter() {
        let m = MiningMix::parse(MiningMix::DEFAULT_TEXT).unwrap();
        let mut r = rng(1, Stream::Plan, 0);
        for _ in 0..200 {
            let k = m.draw(&mut r, |k| k != Kind::MiningBypass).unwrap();
            assert_ne!(k, Kind::MiningBypass);
        }
        assert_eq!(m.draw(&mut r, |_| false), None);
    }
}
