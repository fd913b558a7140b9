# %% [markdown]
# # Quick look at a gridsleuth matrix (percent-format notebook)
#
# Loads `matrix.parquet` written by `gridsleuth ingest --write-matrix` and the run's
# `data_quality.csv`, and prints the figures an analyst checks first. Run it as a script or open
# it in Jupyter (jupytext). The rendering beside it, `matrix_quicklook.md`, is its output on the
# committed sample region:
#
#     cargo run --release -- ingest --config data-samples/region.toml --write-matrix -o out/sample
#     python notebooks-export/matrix_quicklook.py out/sample > notebooks-export/matrix_quicklook.md

# %%
import sys

import polars as pl

run = sys.argv[1] if len(sys.argv) > 1 else "out/sample"
m = pl.read_parquet(f"{run}/matrix.parquet")
dq = pl.read_csv(f"{run}/data_quality.csv")

# %% [markdown]
# ## Shape and span (missing slots are absent rows, never zeros)

# %%
print("## Shape and span\n")
print(f"- rows: {m.height:,}; meters: {m['meter_id'].n_unique():,}")
print(f"- span: {m['timestamp'].min()} .. {m['timestamp'].max()}")
print(f"- estimated readings: {m['estimated'].sum():,}")
print(f"- data-quality records: {dq.height:,}\n")

# %% [markdown]
# ## Regional load per day (MWh) and the flattest meters (lowest coefficient of variation)

# %%
daily = (m.group_by(pl.col("timestamp").dt.date().alias("day"))
          .agg(mwh=pl.col("kwh").sum() / 1000).sort("day"))
print("## Regional load per day\n")
print("| day | MWh |\n|---|---|")
for day, mwh in daily.iter_rows():
    print(f"| {day} | {mwh:.2f} |")
per_meter = (m.group_by("meter_id")
              .agg(mean_kw=pl.col("kwh").mean() * 2, cv=pl.col("kwh").std() / pl.col("kwh").mean())
              .filter(pl.col("mean_kw") > 1.0).sort("cv").head(10))
print("\n## Flattest meters above 1 kW mean\n")
print("| meter_id | mean kW | CV |\n|---|---|---|")
for mid, kw, cv in per_meter.iter_rows():
    print(f"| {mid} | {kw:.2f} | {cv:.3f} |")
