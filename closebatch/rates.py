"""Exchange-rate lookup, exactly as the books format states it.

The rate for a date is the latest entry of the wanted type with ``date`` on or before that
date.  Lookup order: the direct pair of the type, else its inverse (1 ÷ rate, applied as a
division so nothing is rounded in between).  For ``closing``, only when neither exists, the
``spot`` lookup (direct, else inverse) is used and reported.  An ``average`` rate is the
latest ``average`` entry dated within the period.  The same currency converts at 1.

Everything is vectorised with :func:`pandas.merge_asof`: one call looks up a million lines.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

RATE_COLUMNS = ["from", "to", "date", "rate", "type", "source"]


def empty_rates() -> pd.DataFrame:
    return pd.DataFrame({"from": pd.Series([], dtype=object), "to": pd.Series([], dtype=object),
                         "date": pd.Series([], dtype="datetime64[ns]"), "rate": pd.Series([], dtype="float64"),
                         "type": pd.Series([], dtype=object), "source": pd.Series([], dtype=object)})


def _asof(q: pd.DataFrame, rates: pd.DataFrame, rtype: str, inverse: bool) -> pd.DataFrame:
    """For each query row (qfrom, qto, qdate), the latest rate of ``rtype`` on or before qdate."""
    r = rates[rates["type"] == rtype]
    if inverse:
        r = r.rename(columns={"from": "to", "to": "from"})
    r = r[["from", "to", "date", "rate", "source"]].rename(columns={"date": "rate_date"})
    r = r.assign(rate_date=r["rate_date"].astype("datetime64[ns]"))
    r = r.assign(_k=r["from"].astype(str) + "/" + r["to"].astype(str)).sort_values("rate_date", kind="stable")
    left = q.assign(_k=q["qfrom"].astype(str) + "/" + q["qto"].astype(str))
    left = left.assign(qdate=left["qdate"].astype("datetime64[ns]")).sort_values("qdate", kind="stable")
    m = pd.merge_asof(left, r[["_k", "rate_date", "rate", "source"]], left_on="qdate", right_on="rate_date",
                      by="_k", direction="backward", allow_exact_matches=True)
    return m.set_index("_pos").reindex(q["_pos"])


def lookup(rates: pd.DataFrame, frm, to, dates, rtype: str = "spot",
           period_start=None, period_end=None) -> pd.DataFrame:
    """Look up one rate per query row.

    Returns a frame aligned with the inputs, columns: ``rate`` (float, as written),
    ``inverse`` (divide instead of multiply), ``rate_date``, ``source`` (file!sheet!row),
    ``used_type`` (the type actually used), ``found`` (bool), ``stale`` (a closing rate
    dated before ``period_start``), ``fallback`` (closing fell back to spot).
    """
    frm = pd.Series(np.asarray(frm, dtype=object)).astype(str)
    to = pd.Series(np.asarray(to, dtype=object)).astype(str)
    n = len(frm)
    dates = pd.Series(pd.to_datetime(np.broadcast_to(np.asarray(dates, dtype="datetime64[ns]"), (n,))))
    q = pd.DataFrame({"qfrom": frm.to_numpy(), "qto": to.to_numpy(), "qdate": dates.to_numpy(), "_pos": np.arange(n)})
    out = pd.DataFrame({"rate": np.full(n, np.nan), "inverse": np.zeros(n, bool),
                        "rate_date": pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns]"),
                        "source": np.full(n, "", dtype=object), "used_type": np.full(n, "", dtype=object)})
    same = (frm == to).to_numpy()
    out.loc[same, "rate"] = 1.0
    out.loc[same, "used_type"] = "same currency"
    if rates is None or not len(rates):
        rates = empty_rates()
    order = [(rtype, False), (rtype, True)]
    if rtype == "closing":
        order += [("spot", False), ("spot", True)]
    for t, inv in order:
        todo = np.isnan(out["rate"].to_numpy())
        if not todo.any():
            break
        m = _asof(q[todo], rates, t, inv)
        if rtype == "average" and period_start is not None:
            ok = m["rate_date"].to_numpy() >= np.datetime64(pd.Timestamp(period_start))
            m.loc[~ok, ["rate"]] = np.nan
        got = m["rate"].notna().to_numpy()
        idx = np.flatnonzero(todo)[got]
        out.loc[idx, "rate"] = m["rate"].to_numpy()[got]
        out.loc[idx, "inverse"] = inv
        out.loc[idx, "rate_date"] = m["rate_date"].to_numpy()[got]
        out.loc[idx, "source"] = m["source"].to_numpy()[got]
        out.loc[idx, "used_type"] = t
    out["found"] = out["rate"].notna()
    out["fallback"] = (rtype == "closing") & (out["used_type"] == "spot")
    if period_start is not None and rtype == "closing":
        out["stale"] = (out["used_type"] == "closing") & (out["rate_date"] < pd.Timestamp(period_start))
    else:
        out["stale"] = False
    return out
