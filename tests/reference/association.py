"""An independent reference for ecomm's `association` (see src/metrics/association.rs): mlxtend.

Reads a raw UserBehavior CSV, keeps the rows ecomm keeps (exact duplicates once, valid behaviours,
local dates in [FROM, TO] in Beijing time), builds each user's basket (categories with a buy),
and runs mlxtend's apriori (pairs) and association_rules. Prints JSON:
{"baskets": N, "multi": N, "rules": [{antecedent, consequent, n_both, support, confidence, lift, leverage}, ...]}
with every ordered pair whose pair count is at least MIN.

Usage: python association.py CSV FROM TO MIN
"""
import json
import sys

import pandas as pd
from mlxtend.frequent_patterns import apriori, association_rules
from mlxtend.preprocessing import TransactionEncoder

csv, start, end, least = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
df = pd.read_csv(csv, header=None, names=["user", "item", "cat", "b", "ts"])
df = df[df["b"].isin(["pv", "fav", "cart", "buy"])].drop_duplicates()
local = pd.to_datetime(df["ts"], unit="s", utc=True).dt.tz_convert("Asia/Shanghai").dt.strftime("%Y-%m-%d")
df = df[(local >= start) & (local <= end) & (df["b"] == "buy")]
baskets = df.groupby("user")["cat"].apply(lambda s: sorted(set(s))).tolist()
n = len(baskets)
te = TransactionEncoder()
onehot = pd.DataFrame(te.fit(baskets).transform(baskets), columns=te.columns_)
# Itemsets in at least `least` baskets (a hair under, so float rounding keeps the boundary).
frequent = apriori(onehot, min_support=(least - 0.5) / n, use_colnames=True, max_len=2)
try:
    rules = association_rules(frequent, num_itemsets=n, metric="lift", min_threshold=0.0)
except TypeError:  # mlxtend before 0.23.2 has no num_itemsets
    rules = association_rules(frequent, metric="lift", min_threshold=0.0)
out = []
for _, r in rules.iterrows():
    (a,), (c,) = tuple(r["antecedents"]), tuple(r["consequents"])
    out.append({
        "antecedent": int(a), "consequent": int(c), "n_both": int(round(r["support"] * n)),
        "support": float(r["support"]), "confidence": float(r["confidence"]),
        "lift": float(r["lift"]), "leverage": float(r["leverage"]),
    })
print(json.dumps({"baskets": n, "multi": int(sum(len(b) >= 2 for b in baskets)), "rules": out}))
