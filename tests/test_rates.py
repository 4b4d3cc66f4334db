"""The rate lookup (``closebatch.rates.lookup``) against the books format's rule, written out
query by query in plain Python: the latest rate of the type dated on or before the date (of
two on one day, the one given last); the direct pair, else its inverse; ``closing`` falls back
to ``spot``; an ``average`` rate must be dated within the period; the same currency is 1."""
from __future__ import annotations

import numpy as np
import pandas as pd
from hypo import profile
from hypothesis import given, strategies as st

from closebatch.rates import lookup

CCY = ["USD", "EUR", "GBP", "JPY"]
DAYS = list(pd.to_datetime(["2025-12-31", "2026-01-01", "2026-01-15", "2026-01-31", "2026-02-28"]))


def expected(rows: list, frm: str, to: str, day, rtype: str, start) -> tuple:
    """(rate, inverse, used type, row) by the rule, or (None, False, "", None)."""
    if frm == to:
        return 1.0, False, "same currency", None
    order = [(rtype, False), (rtype, True)] + ([("spot", False), ("spot", True)] if rtype == "closing" else [])
    for t, inv in order:
        pair = (to, frm) if inv else (frm, to)
        best = None
        for i, r in enumerate(rows):  # the last of the latest day wins
            if (r[0], r[1]) == pair and r[4] == t and r[2] <= day and (best is None or r[2] >= rows[best][2]):
                best = i
        if best is None:
            continue
        r = rows[best]
        if t == "average" and start is not None and r[2] < start:
            continue
        if np.isnan(r[3]):
            continue
        return r[3], inv, t, best
    return None, False, "", None


row = st.tuples(st.sampled_from(CCY), st.sampled_from(CCY), st.sampled_from(DAYS),
                st.sampled_from([1.25, 0.8, 7.45, 150.0, float("nan")]), st.sampled_from(["spot", "closing", "average"]))


@profile(150, 1500)
@given(rows=st.lists(row.filter(lambda r: r[0] != r[1]), max_size=12),
       queries=st.lists(st.tuples(st.sampled_from(CCY), st.sampled_from(CCY), st.sampled_from(DAYS)), min_size=1,
                        max_size=8),
       rtype=st.sampled_from(["spot", "closing", "average"]), start=st.sampled_from([None, DAYS[1], DAYS[4]]))
def test_each_query_gets_the_rate_the_rule_gives(rows, queries, rtype, start):
    rates = pd.DataFrame([[*r, f"rates.xlsx!Rates!{i + 2}"] for i, r in enumerate(rows)],
                         columns=["from", "to", "date", "rate", "type", "source"])
    got = lookup(rates, [q[0] for q in queries], [q[1] for q in queries], [q[2] for q in queries], rtype,
                 period_start=start)
    assert len(got) == len(queries)
    for k, (frm, to, day) in enumerate(queries):
        rate, inv, used, at = expected(rows, frm, to, day, rtype, start)
        g = got.iloc[k]
        assert bool(g["found"]) == (rate is not None), (frm, to, day)
        if rate is None:
            assert np.isnan(g["rate"]) and g["used_type"] == ""
            continue
        assert (g["rate"], bool(g["inverse"]), g["used_type"]) == (rate, inv, used)
        assert g["source"] == ("" if at is None else f"rates.xlsx!Rates!{at + 2}")
        assert bool(g["fallback"]) == (rtype == "closing" and used == "spot")
        assert bool(g["stale"]) == (rtype == "closing" and used == "closing" and start is not None
                                    and rows[at][2] < start)


def test_a_query_without_a_date_and_a_rate_without_one_find_nothing():
    rates = pd.DataFrame({"from": ["EUR", "EUR"], "to": ["USD", "USD"], "date": [pd.NaT, DAYS[0]],
                          "rate": [1.5, 1.25], "type": ["spot", "spot"], "source": ["a", "b"]})
    got = lookup(rates, ["EUR", "EUR"], ["USD", "USD"], [DAYS[3], pd.NaT], "spot")
    assert got["rate"].iloc[0] == 1.25 and got["source"].iloc[0] == "b"
    assert not got["found"].iloc[1]


def test_a_million_queries_in_one_call():
    n = 1_000_000
    rates = pd.DataFrame({"from": ["EUR", "GBP"], "to": ["USD", "USD"], "date": [DAYS[0], DAYS[2]],
                          "rate": [1.25, 1.3], "type": ["closing", "closing"], "source": ["a", "b"]})
    frm = np.where(np.arange(n) % 3 == 0, "GBP", "EUR").astype(object)
    got = lookup(rates, frm, np.full(n, "USD", dtype=object), DAYS[3], "closing")
    assert got["found"].all() and got["rate"].to_numpy()[::3].tolist() == [1.3] * len(range(0, n, 3))
