//! The metered load of a meter, by kind: which load models make it up ([`LoadParams`]), and the
//! block helper the models share.
//!
//! Input: the meter [`Kind`], the [`Calendar`], the plan RNG (constants) and the load RNG
//! (per-slot randomness). Output: average kW per slot, added into a caller-owned buffer.
//! Invariant: the rig of a mining kind is *not* part of this: the meter plan renders it separately,
//! so that a bypassed rig can go to the feeder only.

use rand::Rng as _;

use super::business::{CommercialParams, FarmParams, FlatBase, GrowParams, ShopParams};
use super::calendar::Calendar;
use super::household::{HeatingParams, HouseholdParams, StorageParams};
use super::kinds::Kind;
use super::rig::log_uniform;
use super::seed::Rng;

/// Base load of premises that hold only a rig (`mining_pure`): router, a light, a fan. DOMAIN.md
/// calls it a "tiny base"; far below the ~0.2 kW of an occupied home.
pub const PURE_BASE_KW: (f64, f64) = (0.02, 0.06);
/// Offices, lighting and ancillaries of a registered site (kW), beside its rig.
pub const SITE_BASE_KW: (f64, f64) = (0.5, 3.0);

/// The load models of one meter, all constants drawn.
#[derive(Debug, Clone)]
pub enum LoadParams {
    Household(HouseholdParams),
    ElectricHeating(HouseholdParams, HeatingParams),
    StorageHeating(HouseholdParams, StorageParams),
    Commercial(CommercialParams),
    Shop(ShopParams),
    GrowOp(GrowParams, Option<HouseholdParams>),
    Farm(FarmParams),
    Flat(FlatBase),
}

impl LoadParams {
    /// Draws the load of a meter of `kind`. Mining kinds with a household get a household; a
    /// rig-only premises or a registered site gets a flat base.
    pub fn draw(kind: Kind, cal: &Calendar, r: &mut Rng) -> Self {
        match kind {
            Kind::HouseholdElectricHeating => {
                let h = HouseholdParams::draw(cal, r);
                LoadParams::ElectricHeating(h, HeatingParams::draw(r))
            }
            Kind::HouseholdStorageHeating => {
                let h = HouseholdParams::draw(cal, r);
                LoadParams::StorageHeating(h, StorageParams::draw(r))
            }
            Kind::Commercial => LoadParams::Commercial(CommercialParams::draw(r)),
            Kind::Commercial24x7 => LoadParams::Shop(ShopParams::draw(r)),
            Kind::GrowOp => {
                let g = GrowParams::draw(cal, r);
                // Half of grow-ops are in a lived-in house.
                let home = r.gen_bool(0.5).then(|| HouseholdParams::draw(cal, r));
                LoadParams::GrowOp(g, home)
            }
            Kind::Agricultural => LoadParams::Farm(FarmParams::draw(r)),
            Kind::MiningPure => LoadParams::Flat(FlatBase {
                kw: log_uniform(r, PURE_BASE_KW.0, PURE_BASE_KW.1),
            }),
            Kind::RegisteredMiner => LoadParams::Flat(FlatBase {
                kw: log_uniform(r, SITE_BASE_KW.0, SITE_BASE_KW.1),
            }),
            _ => LoadParams::Household(HouseholdParams::draw(cal, r)),
        }
    }

    /// A rough peak (kW) for sizing the contracted capacity of business premises.
    pub fn peak_kw(&self) -> f64 {
        match self {
            LoadParams::Household(h)
            | LoadParams::ElectricHeating(h, _)
            | LoadParams::StorageHeating(h, _) => h.base_kw + 10.0 * h.scale_kw,
            LoadParams::Commercial(c) => c.peak_kw(),
            LoadParams::Shop(s) => s.peak_kw(),
            LoadParams::GrowOp(g, _) => g.peak_kw(),
            LoadParams::Farm(f) => f.peak_kw(),
            LoadParams::Flat(b) => b.kw,
        }
    }

    /// Adds the metered load (kW per slot) into `out`.
    pub fn render(&self, cal: &Calendar, r: &mut Rng, out: &mut [f64]) {
        match self {
            LoadParams::Household(h) => h.render(cal, r, out),
            LoadParams::ElectricHeating(h, heat) => {
                h.render(cal, r, out);
                heat.render(h, cal, r, out);
            }
            LoadParams::StorageHeating(h, store) => {
                h.render(cal, r, out);
                store.render(h, cal, r, out);
            }
            LoadParams::Commercial(c) => c.render(cal, r, out),
            LoadParams::Shop(s) => s.render(cal, r, out),
            LoadParams::GrowOp(g, home) => {
                g.render(cal, r, out);
                if let Some(h) = home {
                    h.render(cal, r, out);
                }
            }
            LoadParams::Farm(f) => f.render(cal, r, out),
            LoadParams::Flat(b) => b.render(cal, r, out),
        }
    }
}

/// Adds `kw` for `len` slots starting at fractional slot `start` (each slot gets `kw` times the
/// share of it covered). Parts outside the buffer are dropped.
pub fn add_block(out: &mut [f64], start: f64, len: f64, kw: f64) {
    if !(len > 0.0 && start.is_finite()) {
        return;
    }
    let end = start + len;
    let first = start.floor().max(0.0) as usize;
    let mut s = first;
    while (s as f64) < end && s < out.len() {
        let overlap = end.min(s as f64 + 1.0) - start.max(s as f64);
        if overlap > 0.0 {
            out[s] += kw * overlap;
        }
        s += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_spread_over_partial_slots() {
        let mut v = vec![0.0; 4];
        add_block(&mut v, 0.5, 2.0, 2.0);
        assert_eq!(v, vec![1.0, 2.0, 1.0, 0.0]);
        add_block(&mut v, 3.5, 5.0, 1.0);
        assert_eq!(v[3], 0.5);
        add_block(&mut v, -1.0, 1.5, 1.0);
        assert_eq!(v[0], 1.5);
        let total: f64 = v.iter().sum();
        add_block(&mut v, 1.0, 0.0, 9.0);
        assert_eq!(v.iter().sum::<f64>(), total);
    }
}
