# %% [markdown]
# # A run directory in a notebook (percent-format notebook)
#
# Loads what `gridsleuth run` writes for analysts: `features.parquet` (every feature of every
# meter, its cluster and score), `scores.csv`, `suspects.csv` and, with feeders, `feeders.csv`.
# The rendering beside it, `run_quicklook.md`, is its output on the committed sample region:
#
#     cargo run --release -- run --config data-samples/region.toml -o out/sample
#     python notebooks-export/run_quicklook.py out/sample > notebooks-export/run_quicklook.md

# %%
import os
import sys

import polars as pl

run = sys.argv[1] if len(sys.argv) > 1 else "out/sample"
f = pl.read_parquet(f"{run}/features.parquet")
s = pl.read_csv(f"{run}/scores.csv", schema_overrides={"meter_id": pl.String})

# %% [markdown]
# ## Clusters: size, median floor and shape, how many meters were flagged

# %%
by = (f.join(s.select("meter_id", "flagged"), on="meter_id")
      .group_by("cluster")
      .agg(meters=pl.len(), rig_likeness=pl.col("cluster_rig_likeness").first(),
           floor_kw=pl.col("base_after_kw").median(), mean_kw=pl.col("mean_after_kw").median(),
           daily_pattern=(pl.col("acf_day_after").clip(0) * pl.col("diurnal_amp_after")).median(),
           flagged=pl.col("flagged").sum())
      .sort("rig_likeness", descending=True))
print("## Clusters\n")
print("| cluster | meters | rig-likeness | median floor kW | median mean kW | daily pattern | flagged |")
print("|---|---|---|---|---|---|---|")
for r in by.iter_rows(named=True):
    print(f"| {r['cluster']} | {r['meters']} | {r['rig_likeness']:.2f} | {r['floor_kw']:.2f} | {r['mean_kw']:.2f} | {r['daily_pattern']:.2f} | {r['flagged']} |")

# %% [markdown]
# ## The ranked suspects: estimated rig, onset, and the first reason

# %%
sus = pl.read_csv(f"{run}/suspects.csv", schema_overrides={"meter_id": pl.String})
print("\n## Suspects\n")
print("| rank | meter | score | rig kW | devices | onset | excess kWh | first reason |")
print("|---|---|---|---|---|---|---|---|")
for r in sus.head(15).iter_rows(named=True):
    reason = r["reasons"].split("; ")[0]
    print(f"| {r['rank']} | {r['meter_id']} | {r['score']:.3f} | {r['est_rig_kw']:.1f} | {r['est_devices']} | {r['onset']} | {r['excess_kwh']:.0f} | {reason} |")

# %% [markdown]
# ## Feeders: hidden load the meters do not see

# %%
if os.path.exists(f"{run}/feeders.csv"):
    fd = pl.read_csv(f"{run}/feeders.csv", schema_overrides={"feeder_id": pl.String})
    print("\n## Feeders\n")
    print("| feeder | flagged | hidden kW | since | residual share | meters |")
    print("|---|---|---|---|---|---|")
    for r in fd.iter_rows(named=True):
        print(f"| {r['feeder_id']} | {r['flagged']} | {r['hidden_kw']} | {r['step_date'] or '-'} | {r['residual_share']:.3f} | {r['meters']} |")
