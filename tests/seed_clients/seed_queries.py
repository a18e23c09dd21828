"""The seed project's own queries against the MySQL mirror, run the way its scripts and Streamlit
dashboard ran them: pandas.read_sql over SQLAlchemy + PyMySQL. Prints one JSON object.

Usage: python seed_queries.py mysql+pymysql://root@127.0.0.1:3306/DB FROM TO
(FROM/TO: the date filter a Streamlit date_input would send, e.g. 2017-12-01 2017-12-03)
"""
import json
import sys

import pandas as pd
from sqlalchemy import create_engine, text

url, start, end = sys.argv[1], sys.argv[2], sys.argv[3]
engine = create_engine(url + "?charset=utf8mb4")
out = {}
with engine.connect() as conn:
    everything = pd.read_sql("SELECT * FROM user_behavior", conn)
    out["rows"] = len(everything)
    out["columns"] = list(everything.columns)
    out["behavior_names"] = sorted(everything["behavior_name"].unique().tolist())

    # The funnel and the hourly chart, as the seed's analysis script builds them.
    df = pd.read_sql("SELECT hour, behavior_name, user_id FROM user_behavior", conn)
    out["users_per_stage"] = {k: int(v) for k, v in df.groupby("behavior_name")["user_id"].nunique().items()}
    out["events_per_hour"] = {str(int(k)): int(v) for k, v in df.groupby("hour").size().items()}

    # The seed's whole-window query, and the Streamlit sidebar's date filter.
    whole = pd.read_sql("SELECT * FROM user_behavior WHERE date >= '2017-11-25' AND date <= '2017-12-03'", conn)
    out["rows_2017_11_25_to_12_03"] = len(whole)
    picked = pd.read_sql(
        text("SELECT * FROM user_behavior WHERE date >= :start AND date <= :end"), conn, params={"start": start, "end": end}
    )
    out["rows_filtered"] = len(picked)
    out["users_filtered"] = int(picked["user_id"].nunique())

    summary = pd.read_sql("SELECT * FROM user_summary", conn)
    buyers = summary[summary["buy_count"] > 0]
    out["summary_rows"] = len(summary)
    out["buyers"] = len(buyers)
    out["repeat_buyers"] = int((summary["buy_count"] >= 2).sum())
    out["buy_events"] = int(summary["buy_count"].sum())
    out["last_buy_time"] = {
        str(int(r.user_id)): r.last_buy_time.strftime("%Y-%m-%d %H:%M:%S") for r in buyers.itertuples() if pd.notna(r.last_buy_time)
    }
print(json.dumps(out, ensure_ascii=False))
