"""An independent reference for ecomm's `anomalies` (see src/metrics/anomalies.rs), in pandas.

Reads a raw UserBehavior CSV, keeps the rows ecomm keeps (exact duplicates once, valid behaviours,
local dates in [FROM, TO] in Beijing time), and prints the anomalies as JSON:
{"events": N, "flagged": N, "top": [{series, behavior, date, hour, value, median, z}, ...]}.

Usage: python anomalies.py CSV FROM TO
"""
import json
import sys

import numpy as np
import pandas as pd

csv, start, end = sys.argv[1], sys.argv[2], sys.argv[3]
df = pd.read_csv(csv, header=None, names=["user", "item", "cat", "b", "ts"])
df = df[df["b"].isin(["pv", "fav", "cart", "buy"])].drop_duplicates()
local = pd.to_datetime(df["ts"], unit="s", utc=True).dt.tz_convert("Asia/Shanghai")
df = df.assign(date=local.dt.strftime("%Y-%m-%d"), hour=local.dt.hour)
df = df[(df["date"] >= start) & (df["date"] <= end)]
dates = [d.strftime("%Y-%m-%d") for d in pd.date_range(start, end, freq="D")]
behaviors = ["pv", "fav", "cart", "buy"]


def robust(x, base):
    base = np.asarray(base, dtype=float)
    m = float(np.median(base))
    dev = np.abs(base - m)
    mad = float(np.median(dev))
    scale = 1.4826 * mad if mad > 0 else 1.2533 * float(dev.mean())
    if scale == 0:
        return None
    return m, (x - m) / scale


found = []


def scan(series, hour, values):
    for b, v in values.items():
        for i, x in enumerate(v):
            r = robust(x, v[:i] + v[i + 1:])
            if r is None:
                continue
            m, z = r
            if abs(z) >= 3.5 and abs(x - m) >= 0.5 * m and m >= 20:
                found.append({"series": series, "behavior": b, "date": dates[i], "hour": hour, "value": int(x), "median": m, "z": z})


counts = df.groupby(["date", "hour", "b"]).size()
daily = df.groupby(["date", "b"]).size()
uv = df.groupby("date")["user"].nunique()
if len(dates) - 1 >= 6:
    values = {b: [int(daily.get((d, b), 0)) for d in dates] for b in behaviors}
    values["uv"] = [int(uv.get(d, 0)) for d in dates]
    scan("daily", None, values)
if len(dates) - 1 >= 4:
    for h in range(24):
        scan("hourly", h, {b: [int(counts.get((d, h, b), 0)) for d in dates] for b in behaviors})
order = ["pv", "fav", "cart", "buy", "uv"]
found.sort(key=lambda a: (-abs(a["z"]), a["series"] != "daily", a["date"], -1 if a["hour"] is None else a["hour"], order.index(a["behavior"])))
print(json.dumps({"events": int(len(df)), "flagged": len(found), "top": found[:20]}))
