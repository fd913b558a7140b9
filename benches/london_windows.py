#!/usr/bin/env python3
"""Real baselines for quality: London homes cut into 28-day windows on one common grid.

Each of the Low Carbon London homes (../shared/data/london-households, half-hourly, 2013)
gives one meter per 28-day window of its year (meter id `LCLid_wNN`), shifted onto the
first window's dates by whole weeks so weekdays still line up. 25 homes x 13 windows gives
~300 real household series, enough to measure ranking quality once `gridsleuth synth
--inject-into` has put rigs into some of them. Windows with under 90% of their readings are
skipped (the homes joined the trial at different times).

    python benches/london_windows.py --out DIR [--homes ../shared/data/london-households]

Writes DIR/readings.csv (meter_id,timestamp,kwh) and DIR/meters.csv.
"""

import argparse
import glob
import os
from datetime import datetime, timedelta, timezone

import polars as pl

START = datetime(2013, 1, 7, tzinfo=timezone.utc)  # a Monday
WINDOW = timedelta(days=28)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--homes", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "london-households"))
    p.add_argument("--out", required=True)
    a = p.parse_args()
    paths = sorted(glob.glob(os.path.join(a.homes, "MAC*.csv")))
    if not paths:
        # The repository does not ship the Low Carbon London files (UK Power Networks, via the
        # London Datastore, UK OGL): they are read from ../shared/data beside the checkout.
        raise SystemExit(f"no MAC*.csv in {a.homes}: put the Low Carbon London homes there or pass --homes")
    frames = []
    for path in paths:
        df = pl.read_csv(path, schema_overrides={"energy(kWh/hh)": pl.String})
        df = df.select(
            pl.col("LCLid").alias("home"),
            pl.col("tstp").str.to_datetime("%Y-%m-%d %H:%M:%S%.f", time_zone="UTC").alias("ts"),
            pl.col("energy(kWh/hh)").str.strip_chars().cast(pl.Float64, strict=False).alias("kwh"),
        ).drop_nulls()
        for w in range(13):
            lo, hi = START + w * WINDOW, START + (w + 1) * WINDOW
            part = df.filter((pl.col("ts") >= lo) & (pl.col("ts") < hi))
            if part.height < 0.9 * 28 * 48:
                continue
            frames.append(part.select(
                (pl.col("home") + f"_w{w:02d}").alias("meter_id"),
                (pl.col("ts") - pl.duration(days=28 * w)).dt.strftime("%Y-%m-%dT%H:%M:%SZ").alias("timestamp"),
                "kwh",
            ))
    out = pl.concat(frames).sort("meter_id", "timestamp")
    os.makedirs(a.out, exist_ok=True)
    out.write_csv(os.path.join(a.out, "readings.csv"))
    meters = out.select("meter_id").unique().sort("meter_id").with_columns(
        pl.lit("residential").alias("tariff"), pl.lit("false").alias("registered_miner"))
    meters.write_csv(os.path.join(a.out, "meters.csv"))
    print(f"{meters.height} home-windows, {out.height} readings")


if __name__ == "__main__":
    main()
