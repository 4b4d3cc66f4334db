"""The ``By journal`` register, found from the runs of the sorted ledger journal, is the one
grouping the lines by journal gives: the same journals in the same order, the same sums,
dates, descriptions, sources and links."""
from __future__ import annotations

import numpy as np
import pandas as pd

from closebatch.io.journal_report import GROUP_TYPES, REGISTER_COLUMNS, journal_register, register_links, sort_lines
from closebatch.io.reader import column_letter


def by_grouping(df: pd.DataFrame, width: int) -> pd.DataFrame:
    """The register as a pandas grouping computes it (the reference)."""
    acct = df["amount_acct"].to_numpy(dtype="int64")
    group_layer = df["journal_type"].isin(GROUP_TYPES).to_numpy()
    g = pd.DataFrame({"journal_type": df["journal_type"].to_numpy(dtype=object),
                      "journal": df["journal"].to_numpy(dtype=object),
                      "entity": np.where(group_layer, "", df["entity"].to_numpy(dtype=object)),
                      "accounting_currency": df["accounting_currency"].to_numpy(dtype=object),
                      "date": df["date"].to_numpy(), "debit_acct": np.clip(acct, 0, None),
                      "credit_acct": np.clip(-acct, 0, None), "description": df["description"].to_numpy(dtype=object),
                      "source": df["source"].to_numpy(dtype=object), "_pos": np.arange(len(df))})
    key = ["journal_type", "journal", "entity", "accounting_currency"]
    reg = g.groupby(key, sort=False, dropna=False).agg(
        date=("date", "min"), lines=("_pos", "size"), debit_acct=("debit_acct", "sum"),
        credit_acct=("credit_acct", "sum"), description=("description", "first"), source=("source", "first"),
        first=("_pos", "min"), last=("_pos", "max")).reset_index()
    reg["difference"] = reg["debit_acct"] - reg["credit_acct"]
    last_col = column_letter(width - 1)
    a, b = reg["first"].to_numpy() + 2, reg["last"].to_numpy() + 2
    reg["in_lines"] = [(f"'Lines'!A{x}:{last_col}{y}", f"rows {x}-{y}" if y > x else f"row {x}")
                       for x, y in zip(a.tolist(), b.tolist())]
    return reg[[c.name for c in REGISTER_COLUMNS]]


def lines(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    journal = np.sort(rng.integers(0, n // 2, n))
    types = np.array(["daily", "adjustment", "revaluation", "elimination"])[rng.integers(0, 4, n) * (rng.random(n) < .3)]
    entity = np.array(["P", "DE", "JP"])[rng.integers(0, 3, n)]
    desc = np.array(["Invoice", None, "Sale & co", ""], dtype=object)[rng.integers(0, 4, n)]
    dates = pd.Series(pd.to_datetime("2026-01-01") + pd.to_timedelta(rng.integers(0, 30, n), unit="D"))
    dates[rng.random(n) < .05] = pd.NaT
    df = pd.DataFrame({
        "journal": pd.Series([f"J{j:05d}" for j in journal], dtype="str"), "line": np.arange(n) % 3 + 1,
        "date": dates, "entity": pd.Series(entity, dtype="str"),
        "accounting_currency": pd.Series(np.where(entity == "JP", "JPY", np.where(entity == "DE", "EUR", "USD")),
                                         dtype="str"),
        "amount_acct": rng.integers(-10**6, 10**6, n), "journal_type": pd.Series(types, dtype="str"),
        "description": pd.Series(desc, dtype="str"),
        "source": pd.Series(np.where(rng.random(n) < .1, None, "Journals.xlsx"), dtype="str")})
    layer = df["journal_type"].isin(GROUP_TYPES)
    df.loc[layer, "accounting_currency"] = "USD"
    return sort_lines(df)


def test_the_register_is_the_grouping_of_the_lines():
    for seed in range(5):
        df = lines(3000, seed)
        reg, totals = journal_register(df)
        ref = by_grouping(df, 16)
        assert len(reg) == len(ref)
        for c in ref.columns:  # the links as the register's sheet makes them, a block at a time
            got = register_links(reg, 16) if c == "in_lines" else reg[c].tolist()
            want = ref[c].tolist()
            norm = lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NaT else v  # noqa: E731
            assert [norm(v) for v in got] == [norm(v) for v in want], (seed, c)
        assert int(totals["debit_acct"].sum()) == int(reg["debit_acct"].sum())
        assert int(totals["lines"].sum()) == len(df)


def test_an_empty_ledger_journal_has_an_empty_register():
    reg, totals = journal_register(lines(10, 1).iloc[:0])
    assert len(reg) == 0 and len(totals) == 0


def test_the_sort_order_is_python_s_order_of_the_keys():
    """``sort_order`` (integer codes, one lexsort) puts the lines where sorting their keys as
    Python objects puts them: journal type in the spec's order (an unknown one last), then
    journal, entity and line by Python's comparison, the original order among equals."""
    from closebatch.io.journal_report import sort_order
    from closebatch.registry import JOURNAL_TYPES

    texts = ["", " ", "B", "a", "a10", "a2", "é", "ä", "ß", "Ω", "😀", "\u00a0x", "~", "J1", "J10", "J2"]
    for seed in range(8):
        rng = np.random.default_rng(seed)
        n = 400
        df = pd.DataFrame({
            "journal_type": pd.Series(rng.choice(list(JOURNAL_TYPES) + ["other", "Daily"], n), dtype="str"),
            "journal": pd.Series(rng.choice(texts, n), dtype="str"), "entity": pd.Series(rng.choice(texts[:6], n),
                                                                                         dtype="str"),
            "line": rng.integers(0, 4, n)})
        rank = {t: i for i, t in enumerate(JOURNAL_TYPES)}
        want = sorted(range(n), key=lambda i: (rank.get(df["journal_type"][i], len(rank)), df["journal_type"][i],
                                               df["journal"][i], df["entity"][i], int(df["line"][i]), i))
        assert sort_order(df).tolist() == want


def test_the_register_through_the_sort_order_is_the_register_of_the_sorted_lines():
    """``journal_register(lines, order)`` on the lines as they come is the register of
    the lines sorted (how the ledger journal finds it without a sorted copy)."""
    from closebatch.io.journal_report import sort_order

    for seed in range(4):
        df = lines(2000, seed)
        shuffled = df.sample(frac=1, random_state=seed).reset_index(drop=True)
        want = journal_register(sort_lines(shuffled))
        got = journal_register(shuffled, sort_order(shuffled))
        pd.testing.assert_frame_equal(got[0], want[0])
        pd.testing.assert_frame_equal(got[1], want[1])
