"""Fuzzing the reader and the validation: random mutations of valid books (cell types,
blanks, odd headers, unicode, huge numbers, negative zero, dates as text in several
formats, inserted and duplicated rows, deleted columns, odd settings) never give a
traceback: ``closebatch validate`` ends with exit 0 or 1, and a dry-run close with 0, 1 or 3.

Reproducible: hypothesis runs derandomized (the same examples every run)."""
from __future__ import annotations

import datetime as dt
import shutil
import warnings

import openpyxl
import pytest
from hypo import profile
from hypothesis import given, strategies as st
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from craft import cli, good_books

ODD_TEXT = ["", " ", "=1+1", "@SUM(1)", "\u202e", "NaN", "None", "N/A", "null", "#DIV/0!", "#N/A", "1,234.56", "(100)",
            "1e400", "-0", "٣٤", "１００", "USD ", " usd", "EUR\u00a0", "😀", "a\nb", "x" * 300, "E1", "1000", "USD", "JPY",
            "KWD", "Y", "N", "yes", "{x}", "{0}", "a{b"]
DATE_TEXT = ["05/01/2026", "2026-1-5", "Jan 5, 2026", "20260105", "2026-01-05T00:00:00", "2026-02-30", "31.01.2026",
             "0000-00-00", "9999-12-31", "1899-12-31", "2026-01-05 13:45", "  2026-01-31  "]
NUMBERS = [-0.0, 1e308, -1e308, 1e20, 9.3e18, 1e15, 999999999999999.0, 99999999999999.99, 5e-324, 0.005, 100.005,
           1 / 3, 0.1 + 0.2, 1e-7, 0, 1, -5, 45322, 45322.5, 3_000_000, 2 ** 70, -2 ** 63, float("nan"), float("inf")]
HEADERS = ["", None, "{x}", "Debit", "DEBIT ", "debit", "amount acct", "=1", 5, "😀", "journal", "date", "value", "_row",
           "source", "a{0}b"]
SETTINGS = [("dimensions", "{x}"), ("dimensions", "dept,dept"), ("dimensions", "journal"), ("group_currency", "XXX"),
            ("rounding_tolerance", "1e400"), ("rounding_tolerance", "-1"), ("reverse_revaluation", "maybe"),
            ("revaluation_rate_type", "😀"), ("dimensions", "dept"), ("group_currency", "")]

values = st.one_of(
    st.none(),
    st.sampled_from(ODD_TEXT + DATE_TEXT),
    st.sampled_from(NUMBERS),
    st.text(max_size=12).map(lambda t: ILLEGAL_CHARACTERS_RE.sub("", t)),
    st.integers(min_value=-2 ** 70, max_value=2 ** 70),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.booleans(),
    st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31)),
    st.datetimes(min_value=dt.datetime(1800, 1, 1), max_value=dt.datetime(2300, 1, 1)),
)
FILES = ["master.xlsx", "opening.xlsx", "journals.xlsx", "rates.xlsx"]
mutation = st.one_of(
    st.tuples(st.just("cell"), st.sampled_from(FILES), st.integers(0, 9), st.integers(1, 40), st.integers(1, 12),
              values),
    st.tuples(st.just("header"), st.sampled_from(FILES), st.integers(0, 9), st.integers(1, 12),
              st.sampled_from(HEADERS)),
    st.tuples(st.just("insert-row"), st.sampled_from(FILES), st.integers(0, 9), st.integers(2, 30)),
    st.tuples(st.just("duplicate-row"), st.sampled_from(FILES), st.integers(0, 9), st.integers(1, 30)),
    st.tuples(st.just("delete-column"), st.sampled_from(FILES), st.integers(0, 9), st.integers(1, 12)),
    st.tuples(st.just("setting"), st.sampled_from(SETTINGS)),
)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return good_books(tmp_path_factory.mktemp("fuzz") / "base")


def apply(books, muts) -> None:
    for m in muts:
        if m[0] == "setting":
            path, sheet = books / "master.xlsx", "Settings"
        else:
            path = books / m[1]
        wb = openpyxl.load_workbook(path)
        ws = wb[sheet] if m[0] == "setting" else wb.worksheets[m[2] % len(wb.worksheets)]
        if m[0] == "cell":
            ws.cell(m[3], m[4]).value = m[5]
        elif m[0] == "header":
            ws.cell(1, m[3]).value = m[4]
        elif m[0] == "insert-row":
            ws.insert_rows(min(m[3], ws.max_row + 1))
        elif m[0] == "duplicate-row":
            ws.append([c.value for c in ws[min(m[3], ws.max_row)]])
        elif m[0] == "delete-column":
            ws.delete_cols(m[3])
        elif m[0] == "setting":
            ws.append(list(m[1]))
        wb.save(path)


@profile(15, 80)
@given(muts=st.lists(mutation, min_size=1, max_size=4))
def test_mutated_books_never_give_a_traceback(base, tmp_path_factory, muts):
    books = shutil.copytree(base, tmp_path_factory.mktemp("m") / "books")
    try:
        apply(books, muts)
    except (ValueError, TypeError, OverflowError):  # openpyxl cannot write that value: not our case
        return
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # an overflow or invalid cast would be silent otherwise
        rc, out, _ = cli("validate", books, "--quiet")
        assert rc in (0, 1), out
        rc, out, _ = cli("close", books, "--period", "2026-01", "--dry-run", "--user", "ann", "--quiet")
        assert rc in (0, 1, 3), out
