"""Typing a column gives what typing each of its cells alone gives.

:func:`closebatch.parse.parse` takes shortcuts on big columns: it types a column of few
distinct values once per value, text through Arrow, numbers in one pass, and text for lines
frames straight to ``str``.  Whatever the shortcut, every cell must come out as the per-cell
rules of the books format say (a column of one cell takes no shortcut that another cell could
influence).  Cells are the Python values the reader produces (calamine: text, numbers, Y/N,
dates, date-times, times, durations; blanks as None).

Reproducible: hypothesis runs derandomized (the same examples every run).
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from hypo import profile
from hypothesis import given, strategies as st

from closebatch.parse import combined, is_text, parse
from closebatch.schema import SCHEMAS

# One column of each type (and default) of the books format.
COLUMNS = list({(c.type, c.default, c.allowed): c for cols in SCHEMAS.values() for c in cols}.values())
SPECIAL = ["", " ", " x ", "\u3000pad\u3000", "\x1fz\x1f", "\xa0nb\xa0", "Ünïcödé ", "ß", "a\tb", "eur", " USD ", "ABC",
           "(12.5)", " 7 ", "1,5", "1e3", "1.0", "0", "Y", "no", "TRUE", "Maybe", "80%", " 50 % ", "150%", "2026-01-20",
           " 2026-01-20", "2026-01-20 10:00", "2026-13-01", "1899-01-01", "Adjustment", "daily", "AR", "on hold",
           "Permanently closed", 0.0, -0.0, 1.0, 1.5, -5.25, 1e15, 999999999999999.0, 1e10, 46035.0, 46035, 0, 1, 12,
           -7, 10**15, 2**63, True, False, dt.date(2026, 1, 15), dt.date(1800, 1, 1), dt.date(2300, 1, 1),
           dt.datetime(2026, 1, 15, 10, 30), dt.datetime(2026, 2, 3), dt.time(1, 2), dt.timedelta(days=1)]
cells = st.one_of(st.none(), st.sampled_from(SPECIAL), st.text(max_size=5),
                  st.floats(min_value=-1e17, max_value=1e17, allow_nan=False), st.integers(-10**16, 10**16),
                  st.booleans(), st.dates(dt.date(1850, 1, 1), dt.date(2250, 12, 31)),
                  st.datetimes(dt.datetime(1850, 1, 1), dt.datetime(2250, 12, 31)))


@st.composite
def columns(draw):
    """Columns of mostly distinct values, and columns of a few values repeated."""
    values = draw(st.lists(cells, min_size=1, max_size=6))
    if draw(st.booleans()):
        return values
    return [values[i] for i in draw(st.lists(st.integers(0, len(values) - 1), min_size=len(values) * 5,
                                             max_size=80))]


def equal(whole: pd.Series, alone: pd.Series) -> bool:
    if whole.dtype != alone.dtype:
        return False
    a, b = whole.to_numpy(dtype=object), alone.to_numpy(dtype=object)
    return all((pd.isna(x) and pd.isna(y)) or (type(x) is type(y) and x == y) for x, y in zip(a, b))


@profile(10, 60)
@given(values=columns())
def test_a_column_types_as_its_cells_alone(values):
    s = pd.Series(values, dtype=object)
    for col in COLUMNS:
        for text in (object, "str"):
            typed, bad = parse(s, col, text)
            alone = {}  # each distinct cell typed alone (True, 1 and 1.0 are distinct cells)
            for v in values:
                alone.setdefault((type(v), repr(v)), parse(pd.Series([v], dtype=object), col, text))
            cell = [alone[type(v), repr(v)] for v in values]
            assert list(bad) == [bool(b[0]) for _, b in cell], (col, text, values)
            assert equal(typed, pd.concat([t for t, _ in cell], ignore_index=True)), (col, text, values)
            if text == "str" and is_text(col):
                assert equal(typed, parse(s, col)[0].astype("str")), (col, values)


@profile(10, 60)
@given(values=columns(), cuts=st.lists(st.integers(0, 80), max_size=3), absent=st.booleans())
def test_a_column_coded_in_parts_types_as_the_whole(values, cuts, absent):
    """A kind's column from several sheets, each coded by the reader (its distinct values, the
    same value possibly in several sheets, True, 1 and 1.0 apart), types as the column does."""
    bounds = sorted({0, len(values), *(min(c, len(values)) for c in cuts)})
    parts = []
    for a, b in zip(bounds, bounds[1:]):
        codes, uniques = pd.factorize(pd.Series(values[a:b], dtype=object).map(lambda v: (type(v), v)))
        uniques = np.array([v for _, v in uniques] + [None], dtype=object)
        parts.append((np.where(codes < 0, len(uniques) - 1, codes).astype(np.int8), uniques))
    if absent:  # a sheet without the column: blank there
        parts.append((np.zeros(3, dtype=np.int8), np.array([None], dtype=object)))
    s = pd.Series(np.concatenate([u.take(c.astype(np.intp)) for c, u in parts]), dtype=object)  # as concat gives
    for col in COLUMNS:
        for text in (object, "str"):
            typed, bad = parse(s, col, text, combined(parts))
            whole, whole_bad = parse(s, col, text)
            assert list(bad) == list(whole_bad) and equal(typed, whole), (col, text, values)


def test_blanks_of_every_kind_type_as_blank():
    s = pd.Series([None, np.nan, pd.NA, pd.NaT, "x"], dtype=object)
    code = next(c for c in SCHEMAS["Journals"] if c.name == "journal")
    for text in (object, "str"):
        typed, bad = parse(s, code, text)
        assert list(typed) == ["", "", "", "", "x"] and not bad.any()


def test_a_choice_is_an_allowed_value_in_any_case_and_a_blank_its_default():
    from closebatch.parse import to_enum

    s = pd.Series([" on HOLD ", "", None, "x", 1.0, "Open", np.nan], index=range(5, 12), dtype=object)
    for default, blank in (("Open", "Open"), (None, "")):
        out, bad = to_enum(s, ("Open", "On hold"), default)
        assert out.tolist() == ["On hold", blank, blank, "", "", "Open", blank] and list(out.index) == list(s.index)
        assert out.dtype == object and bad.tolist() == [False, False, False, True, True, False, False]
