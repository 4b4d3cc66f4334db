"""Exchange-rate lookup, exactly as the books format states it.

The rate for a date is the latest entry of the wanted type with ``date`` on or before that
date.  Lookup order: the direct pair of the type, else its inverse (1 ÷ rate, applied as a
division so nothing is rounded in between).  For ``closing``, only when neither exists, the
``spot`` lookup (direct, else inverse) is used and reported.  An ``average`` rate is the
latest ``average`` entry dated within the period.  The same currency converts at 1.

Everything is vectorised (one sorted search over every query, :func:`_latest`): one call looks up a
million lines.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

RATE_COLUMNS = ["from", "to", "date", "rate", "type", "source"]


def empty_rates() -> pd.DataFrame:
    return pd.DataFrame({"from": pd.Series([], dtype=object), "to": pd.Series([], dtype=object),
                         "date": pd.Series([], dtype="datetime64[ns]"), "rate": pd.Series([], dtype="float64"),
                         "type": pd.Series([], dtype=object), "source": pd.Series([], dtype=object)})


def _latest(keys_r: np.ndarray, dates_r: np.ndarray, keys_q: np.ndarray, dates_q: np.ndarray) -> np.ndarray:
    """For each query (key, date), the position among the rate rows (key, date) of the latest
    row of the same key dated on or before the date (of rows on the same date, the last one
    given), or -1.  Dates are ``datetime64[ns]``; a row or query without a date never matches.

    Vectorised: keys become integer codes, dates dense ranks, and each (code, rank) one
    sortable integer, so one ``searchsorted`` answers every query."""
    nq = len(keys_q)
    out = np.full(nq, -1, dtype=np.int64)
    if not nq or not len(keys_r):
        return out
    codes, _ = pd.factorize(np.concatenate([keys_r, keys_q]))
    code_r, code_q = codes[:len(keys_r)].astype(np.int64), codes[len(keys_r):].astype(np.int64)
    stamps = np.concatenate([dates_r, dates_q]).astype("datetime64[ns]")
    known = ~np.isnat(stamps)
    ranks = np.zeros(len(stamps), dtype=np.int64)
    distinct, inverse = np.unique(stamps[known].astype(np.int64), return_inverse=True)
    ranks[known] = inverse.ravel()
    width = len(distinct) + 1
    rank_r, rank_q = ranks[:len(keys_r)], ranks[len(keys_r):]
    ok_r, ok_q = known[:len(keys_r)], known[len(keys_r):]
    rows = np.flatnonzero(ok_r)
    combined = code_r[rows] * width + rank_r[rows]
    order = np.lexsort((rows, combined))  # by key and date; rows of one day in the order given
    sorted_rows, sorted_comb = rows[order], combined[order]
    want = code_q * width + rank_q
    at = np.searchsorted(sorted_comb, want, side="right") - 1
    hit = (at >= 0) & ok_q
    hit[hit] = sorted_comb[at[hit]] // width == code_q[hit]
    out[hit] = sorted_rows[at[hit]]
    return out


def lookup(rates: pd.DataFrame, frm, to, dates, rtype: str = "spot",
           period_start=None, period_end=None) -> pd.DataFrame:
    """Look up one rate per query row.

    Returns a frame aligned with the inputs, columns: ``rate`` (float, as written),
    ``inverse`` (divide instead of multiply), ``rate_date``, ``source`` (file!sheet!row),
    ``used_type`` (the type actually used), ``found`` (bool), ``stale`` (a closing rate
    dated before ``period_start``), ``fallback`` (closing fell back to spot).  A query or a
    rate without a date finds nothing.
    """
    frm = pd.Series(np.asarray(frm, dtype=object)).astype(str).to_numpy(dtype=object)
    to = pd.Series(np.asarray(to, dtype=object)).astype(str).to_numpy(dtype=object)
    n = len(frm)
    qdate = np.asarray(pd.to_datetime(dates if np.ndim(dates) else [dates]), dtype="datetime64[ns]")
    qdate = np.broadcast_to(qdate, (n,)) if np.ndim(dates) == 0 else qdate
    qkey = frm + "/" + to if n else np.empty(0, dtype=object)
    rate = np.full(n, np.nan)
    inverse = np.zeros(n, dtype=bool)
    rate_date = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    source = np.full(n, "", dtype=object)
    used = np.full(n, "", dtype=object)
    same = frm == to
    rate[same] = 1.0
    used[same] = "same currency"
    if rates is None or not len(rates):
        rates = empty_rates()
    r_from = rates["from"].astype(str).to_numpy(dtype=object)
    r_to = rates["to"].astype(str).to_numpy(dtype=object)
    r_type = rates["type"].to_numpy(dtype=object)
    r_date = rates["date"].to_numpy(dtype="datetime64[ns]")
    r_rate = pd.to_numeric(rates["rate"], errors="coerce").to_numpy(dtype="float64")
    r_source = rates["source"].to_numpy(dtype=object) if "source" in rates else np.full(len(rates), "", dtype=object)
    start = np.datetime64(pd.Timestamp(period_start), "ns") if period_start is not None else None
    order = [(rtype, False), (rtype, True)]
    if rtype == "closing":
        order += [("spot", False), ("spot", True)]
    for t, inv in order:
        todo = np.flatnonzero(np.isnan(rate))
        if not len(todo):
            break
        sel = np.flatnonzero(r_type == t)
        if not len(sel):
            continue
        keys = (r_to[sel] + "/" + r_from[sel]) if inv else (r_from[sel] + "/" + r_to[sel])
        at = _latest(keys, r_date[sel], qkey[todo], qdate[todo])
        got = at >= 0
        pos = sel[np.maximum(at, 0)]  # the rate row of each query (meaningful where got)
        if rtype == "average" and start is not None:
            got &= r_date[pos] >= start  # the latest average is dated within the period
        got &= ~np.isnan(r_rate[pos])
        idx, pos = todo[got], pos[got]
        rate[idx] = r_rate[pos]
        inverse[idx] = inv
        rate_date[idx] = r_date[pos]
        source[idx] = r_source[pos]
        used[idx] = t
    found = ~np.isnan(rate)
    stale = (used == "closing") & (rate_date < start) if start is not None and rtype == "closing" \
        else np.zeros(n, dtype=bool)
    return pd.DataFrame({"rate": rate, "inverse": inverse, "rate_date": rate_date, "source": source,
                         "used_type": used, "found": found, "fallback": (rtype == "closing") & (used == "spot"),
                         "stale": stale})
