"""An independent reference for ecomm's `clv` (see src/metrics/clv.rs): the `lifetimes` package.

Usage:
  python clv.py events CSV FROM TO
      Reads a raw UserBehavior CSV, keeps the rows ecomm keeps (exact duplicates once, valid
      behaviours, local dates in [FROM, TO] in Beijing time), computes per buyer x (purchase days
      - 1), t_x and T in days (T to TO), fits lifetimes' BetaGeoFitter (penalizer 0) and prints
      {"params": {r, alpha, a, b, stopped}, "buyers": {user_id: [x, t_x, T, p_alive, exp_7d, exp_30d]}}
      ("stopped" holds BFGS's message where it stopped short of a maximum: see Fitter).
  python clv.py cdnow
      Fits the CDNOW summary that the lifetimes wheel ships (Fader, Hardie & Lee 2005) and prints
      {"csv": its path, "params": {...}, "customers": [[x, t_x, T, p_alive, exp_39]]}.
  python clv.py closed GRID_JSON
      For each [r, alpha, a, b, x, t_x, T, t] of the grid, prints FHL's closed form of
      E[Y(t) | x, t_x, T] with SciPy's hyp2f1 (as lifetimes computes it) and P(alive):
      [[expected, p_alive], ...].
"""
import contextlib
import json
import os
import sys
import warnings

import numpy as np
import pandas as pd
from scipy.special import hyp2f1

warnings.simplefilter("ignore")
import lifetimes  # noqa: E402
from autograd import value_and_grad  # noqa: E402
from lifetimes import BetaGeoFitter  # noqa: E402
from lifetimes.utils import ConvergenceError  # noqa: E402
from scipy.optimize import minimize  # noqa: E402

STOPPED = []


class Fitter(BetaGeoFitter):
    """lifetimes' BetaGeoFitter (penalizer 0, its own likelihood, gradient, start and BFGS call), except
    that BFGS stopping with "precision loss" returns the point it reached instead of raising: on data
    without dropout the likelihood has no maximum (it rises towards a -> 0), and lifetimes' optimiser
    stops there once the steps no longer change the likelihood. The point is recorded in STOPPED."""

    def _fit(self, minimizing_function_args, initial_params, params_size, disp, tol=1e-7, bounds=None, **kwargs):
        try:
            # lifetimes prints the optimiser's result before it raises: keep stdout for the JSON.
            with contextlib.redirect_stdout(sys.stderr):
                return super()._fit(minimizing_function_args, initial_params, params_size, disp, tol, bounds, **kwargs)
        except ConvergenceError:
            pass
        # The same call as lifetimes' _fit (which prints the result and raises).
        x0 = 0.1 * np.ones(params_size) if initial_params is None else initial_params
        out = minimize(
            value_and_grad(self._negative_log_likelihood), jac=True, method=None, tol=tol, x0=x0,
            args=minimizing_function_args, options={"disp": disp, **kwargs}, bounds=bounds,
        )
        if "precision loss" not in str(out.message):
            raise ConvergenceError(str(out.message))
        STOPPED.append(str(out.message))
        # lifetimes only uses the Hessian for standard errors, which do not exist at such a point.
        return out.x, out.fun, np.eye(params_size)


def fitted(x, t_x, T):
    bgf = Fitter(penalizer_coef=0.0)
    bgf.fit(x, t_x, T)
    p = bgf.params_
    return bgf, {"r": float(p["r"]), "alpha": float(p["alpha"]), "a": float(p["a"]), "b": float(p["b"]), "stopped": STOPPED[:1]}


def events(csv, start, end):
    df = pd.read_csv(csv, header=None, names=["user", "item", "cat", "b", "ts"])
    df = df[df["b"].isin(["pv", "fav", "cart", "buy"])].drop_duplicates()
    local = pd.to_datetime(df["ts"], unit="s", utc=True).dt.tz_convert("Asia/Shanghai").dt.strftime("%Y-%m-%d")
    df = df.assign(day=local)
    buys = df[(df["day"] >= start) & (df["day"] <= end) & (df["b"] == "buy")][["user", "day"]].drop_duplicates()
    days = pd.to_datetime(buys["day"])
    g = buys.assign(d=days).groupby("user")["d"].agg(["count", "min", "max"])
    x = g["count"] - 1
    t_x = (g["max"] - g["min"]).dt.days
    T = (pd.Timestamp(end) - g["min"]).dt.days
    bgf, params = fitted(x, t_x, T)
    alive = np.asarray(bgf.conditional_probability_alive(x, t_x, T))
    e7 = np.asarray(bgf.conditional_expected_number_of_purchases_up_to_time(7, x, t_x, T))
    e30 = np.asarray(bgf.conditional_expected_number_of_purchases_up_to_time(30, x, t_x, T))
    out = {}
    for i, u in enumerate(g.index):
        out[str(int(u))] = [int(x.iloc[i]), int(t_x.iloc[i]), int(T.iloc[i]), float(alive[i]), float(e7[i]), float(e30[i])]
    print(json.dumps({"params": params, "buyers": out}))


def cdnow():
    path = os.path.join(os.path.dirname(lifetimes.__file__), "datasets", "cdnow_customers_summary.csv")
    d = pd.read_csv(path, index_col=[0])
    x, t_x, T = d["frequency"], d["recency"], d["T"]
    bgf, params = fitted(x, t_x, T)
    alive = np.asarray(bgf.conditional_probability_alive(x, t_x, T))
    e39 = np.asarray(bgf.conditional_expected_number_of_purchases_up_to_time(39, x, t_x, T))
    rows = [[int(a), float(b), float(c), float(p), float(e)] for a, b, c, p, e in zip(x, t_x, T, alive, e39)]
    print(json.dumps({"csv": path, "params": params, "customers": rows}))


def closed(grid):
    out = []
    for r, alpha, a, b, x, t_x, T, t in grid:
        z = t / (alpha + T + t)
        hyp = hyp2f1(r + x, b + x, a + b + x - 1, z)
        first = (a + b + x - 1) / (a - 1)
        second = 1 - hyp * ((alpha + T) / (alpha + t + T)) ** (r + x)
        denominator = 1 + (x > 0) * (a / (b + x - 1)) * ((alpha + T) / (alpha + t_x)) ** (r + x)
        out.append([float(first * second / denominator), float(1 / denominator)])
    print(json.dumps(out))


if sys.argv[1] == "events":
    events(sys.argv[2], sys.argv[3], sys.argv[4])
elif sys.argv[1] == "cdnow":
    cdnow()
else:
    closed(json.loads(sys.argv[2]))
