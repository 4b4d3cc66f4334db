"""A state made by ``LedgerState.add`` derives its balances and movement from the sums its
parent had computed (the parent's sums and the added lines summed again): the same frames,
to the dtype, as summing every line afresh, whichever sums were computed before each add."""
from __future__ import annotations

import pandas as pd
from hypo import profile
from hypothesis import given, strategies as st

from closebatch.context import LedgerState
from closebatch.core import balance_key, make_lines

DIMS = ("dept",)
SETTLE = frozenset({"1500"})

line = st.tuples(st.sampled_from(["E1", "E2"]), st.sampled_from(["1000", "1500", "4000", "6100"]),
                 st.sampled_from(["", "D1", "D2"]), st.sampled_from(["", "E2"]), st.sampled_from(["", "R1", "R2"]),
                 st.sampled_from(["USD", "EUR"]), st.integers(-10**12, 10**12))


def lines_of(rows) -> pd.DataFrame:
    cols = list(zip(*rows)) if rows else [[]] * 7
    return make_lines(DIMS, journal="J", date=pd.Timestamp("2026-01-15"), entity=list(cols[0]),
                      account=list(cols[1]), dept=list(cols[2]), counterparty=list(cols[3]),
                      reference=list(cols[4]), currency=list(cols[5]), amount=list(cols[6]),
                      amount_acct=[a // 2 for a in cols[6]])


def summed(state: LedgerState, what: str) -> pd.DataFrame:
    """Every line summed afresh, as the books format says: per balance key, the reference
    kept on settlement accounts only."""
    key = balance_key(DIMS)
    parts = ([state.opening] if what == "balances" else []) + [state.lines]
    df = pd.concat([p[key + ["amount", "amount_acct"]] for p in parts], ignore_index=True)
    df["reference"] = df["reference"].where(df["account"].isin(SETTLE), "")
    return df.groupby(key, sort=True, as_index=False, dropna=False)[["amount", "amount_acct"]].sum()


@profile(40, 300)
@given(opening=st.lists(line, max_size=8), first=st.lists(line, max_size=10),
       adds=st.lists(st.tuples(st.lists(line, max_size=5), st.sets(st.sampled_from(["balances", "movement"]))),
                     max_size=4))
def test_sums_of_an_added_state_are_the_sums_of_all_its_lines(opening, first, adds):
    op = lines_of(opening)
    op = op[balance_key(DIMS) + ["amount", "amount_acct"]]
    state = LedgerState(DIMS, op, lines_of(first), {}, SETTLE)
    for rows, before in adds:
        for what in sorted(before):  # the sums a step asked for before its lines were posted
            getattr(state, what)()
        state = state.add(lines_of(rows))
        for what in ("balances", "movement"):
            got, want = getattr(state, what)(), summed(state, what)
            if len(want) or len(got):
                pd.testing.assert_frame_equal(got, want, check_dtype=False)
                assert [str(t) for t in got.dtypes] == [str(t) for t in getattr(LedgerState(
                    DIMS, state.opening, state.lines, {}, SETTLE), what)().dtypes]


def test_an_added_state_sums_its_parents_sums_not_every_line(monkeypatch):
    rows = [("E1", "1000" if i % 2 else "4000", "", "", "", "USD", i) for i in range(1, 501)]
    state = LedgerState(DIMS, lines_of([])[balance_key(DIMS) + ["amount", "amount_acct"]], lines_of(rows), {}, SETTLE)
    state.balances(), state.movement()
    summed = []
    real = LedgerState._sum
    monkeypatch.setattr(LedgerState, "_sum", lambda self, parts: (summed.append(sum(map(len, parts))),
                                                                  real(self, parts))[1])
    child = state.add(lines_of([("E1", "6100", "", "", "", "USD", 7), ("E1", "1000", "", "", "", "USD", -7)]))
    bal, mov = child.balances(), child.movement()
    assert summed == [4, 4]  # two sums and two added lines, each time
    assert len(child.lines) == 502
    assert bal.loc[bal["account"] == "6100", "amount"].tolist() == [7]
    assert mov["amount"].sum() == sum(range(1, 501))
    assert child._memo["parent"][0] == {}  # the parent's sums are let go once derived


def test_a_state_with_other_carried_frames_shares_its_sums(monkeypatch):
    from dataclasses import replace

    rows = [("E1", "1000" if i % 2 else "4000", "", "", "", "USD", i) for i in range(1, 101)]
    state = LedgerState(DIMS, lines_of([])[balance_key(DIMS) + ["amount", "amount_acct"]], lines_of(rows), {}, SETTLE)
    bal, mov = state.balances(), state.movement()
    sums = []
    real = LedgerState._sum
    monkeypatch.setattr(LedgerState, "_sum", lambda self, parts: (sums.append(1), real(self, parts))[1])
    other = state.with_carried({"x": pd.DataFrame({"a": [1]})})
    assert other.carried.keys() == {"x"} and state.carried == {}
    pd.testing.assert_frame_equal(other.balances(), bal)
    pd.testing.assert_frame_equal(other.movement(), mov)
    pd.testing.assert_frame_equal(mov, summed(state, "movement"))
    assert sums == []  # nothing summed again
    replace(state, carried={}).balances()
    assert sums  # as a state made by replace() would
