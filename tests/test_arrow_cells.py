"""Sheets read through fastexcel's Arrow columns give exactly the frames python-calamine's grid
gives (:mod:`closebatch.io.arrow_cells`), and every sheet the fast parse cannot prove equal
takes the plain path.

Each test reads a folder twice, with the fast path on and off, and compares sheets, frames
(values and their Python types, cell by cell), findings and their order; it also checks which
sheets took the fast path, so that a test never passes by falling back everywhere.
"""
from __future__ import annotations

import datetime as dt
import re
import sys
from pathlib import Path

import pytest
import xlsxwriter
from hypo import profile
from hypothesis import given, strategies as st

from closebatch.io import arrow_cells, guard, reader
from closebatch.io.reader import read_books

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent / "hostile"))
from craft import parts, with_sheet_xml  # noqa: E402
from test_reader_speed import assert_same, snapshot  # noqa: E402


def read_both(folder: Path, monkeypatch) -> set:
    """Read ``folder`` with and without the fast path and assert the results are the same;
    returns the (file, sheet) that took the fast path."""
    fast, load = set(), arrow_cells.load

    def recording(fx, name, head):
        cells = load(fx, name, head)
        if cells is not None:
            fast.add(name)
        return cells

    monkeypatch.setattr(arrow_cells, "load", recording)
    with_arrow = read_books(folder, jobs=1)
    monkeypatch.setattr(reader, "ARROW", False)
    plain = read_books(folder, jobs=1)
    monkeypatch.setattr(reader, "ARROW", True)
    assert_same(snapshot(with_arrow), snapshot(plain))
    return fast


def workbook(path: Path, write, date_1904: bool = False, sheet: str = "Journals") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False, "strings_to_formulas": False,
                                         "strings_to_urls": False, "date_1904": date_1904})
    ws = wb.add_worksheet(sheet)
    write(wb, ws)
    wb.close()
    return path


# text the XML escapes (carriage returns, _xHHHH_, control characters, markup) or that looks
# like something else
ESCAPES = ["a\rb", "a\r\nb", "x_x000D_y", "_x0041_", "tab\there", "\x01ctrl", "emoji 😀", "a&b<c>\"'",
           "\u00a0nbsp", "=SUM(A1)", "'quoted", "1100", "TRUE", "2026-01-31"]


def every_kind_of_cell(wb, ws, first_col: int = 0, n: int = 400):
    date = wb.add_format({"num_format": "yyyy-mm-dd"})
    stamp = wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss.000"})
    c = first_col
    ws.write_row(0, c, ["text", "amount", "date", "stamp", "flag", "blank", "spaces", "rich", "escapes"])
    for i in range(1, n + 1):
        if i in (200, 201):  # two blank rows in the middle: the rows below keep their numbers
            continue
        if i % 7:  # blank cells between the values
            ws.write_string(i, c, ["00123", "NA", " padded ", "", "é ünïcode", "a\nb", "=1+1"][i % 7])
            ws.write_number(i, c + 1, [1.5, -0.0, 0.0, 1e15 - 1, -2.675, 0.1, 123456789.123][i % 7])
            ws.write_datetime(i, c + 2, dt.datetime(2026, 1, 1) + dt.timedelta(days=i % 400), date)
            ws.write_datetime(i, c + 3, dt.datetime(2026, 3, 1, 10, 0, 0) + dt.timedelta(milliseconds=7 * i), stamp)
            ws.write_boolean(i, c + 4, i % 2 == 0)
        ws.write_string(i, c + 6, "   " if i % 3 == 0 else "x")
        ws.write_rich_string(i, c + 7, "bold ", wb.add_format({"bold": True}), "part", " plain")
        ws.write_string(i, c + 8, ESCAPES[i % len(ESCAPES)])
    ws.write_number(n + 1, c + 1, ERROR)  # an error cell reads as blank (see with_errors)
    ws.write_number(n + 3, c, ERROR)  # a row of errors only is dropped


ERROR = 987654.125  # a number written where the sheet gets an error cell (without a formula)


def with_errors(path: Path) -> None:
    """The cells holding ERROR become error cells (#N/A), as a saved formula's result would be."""
    tmp = path.with_suffix(".tmp")
    with_sheet_xml(path, tmp, lambda xml: re.sub(rb'(<c r="[A-Z]+[0-9]+"(?: s="[0-9]+")?)><v>987654.125</v>',
                                                 rb'\1 t="e"><v>#N/A</v>', xml))
    tmp.replace(path)


def test_every_kind_of_cell_takes_the_fast_path(tmp_path, monkeypatch):
    for name, write, sheet, is_1904 in [
            ("cells.xlsx", every_kind_of_cell, "Journals", False),
            ("from column C.xlsx", lambda wb, ws: every_kind_of_cell(wb, ws, first_col=2), "Rates", False),
            ("1904.xlsx", every_kind_of_cell, "Statistics", True)]:
        with_errors(workbook(tmp_path / "b" / name, write, date_1904=is_1904, sheet=sheet))
    assert b't="e"' in parts(tmp_path / "b" / "cells.xlsx")["xl/worksheets/sheet1.xml"]
    assert read_both(tmp_path / "b", monkeypatch) == {"Journals", "Rates", "Statistics"}
    frame = read_books(tmp_path / "b").sheets[0].frame
    rows = set(frame["_row"])
    assert {200, 203, 401} <= rows and not {201, 202, 402} & rows  # blank rows and a row of errors dropped


def test_the_books_of_the_other_tests_take_the_fast_path(tmp_path, monkeypatch):
    from books import OPENING, master, write_books
    from test_reader_speed import journal_rows

    J = ["journal", "date", "entity", "account", "currency", "debit", "credit"]
    folder = write_books({"master.xlsx": master(), "opening.xlsx": OPENING,
                          "journal.xlsx": {"Journals": [J] + journal_rows("E1", 300)}}, tmp_path / "b")
    assert read_both(folder, monkeypatch) >= {"Journals", "Settings", "Entities", "Accounts", "TrialBalance"}


# Sheets the fast parse cannot prove equal to python-calamine's: each must take the plain path.
def _mixed_column(wb, ws):
    ws.write_row(0, 0, ["reference", "amount"])
    for i in range(1, 50):
        ws.write(i, 0, i if i % 2 else f"INV-{i}")
        ws.write_number(i, 1, i)


def _early_date(wb, ws):
    ws.write_row(0, 0, ["date", "amount"])
    ws.write_datetime(1, 0, dt.datetime(1900, 1, 1), wb.add_format({"num_format": "yyyy-mm-dd"}))
    ws.write_number(1, 1, 1)


def _time_of_day(wb, ws):
    ws.write_row(0, 0, ["when", "amount"])
    ws.write_datetime(1, 0, dt.datetime(1899, 12, 31, 10, 30), wb.add_format({"num_format": "hh:mm"}))
    ws.write_number(1, 1, 1)


def _huge_date(wb, ws):
    ws.write_row(0, 0, ["date", "amount"])
    ws.write_number(1, 0, 1e10, wb.add_format({"num_format": "yyyy-mm-dd"}))
    ws.write_number(1, 1, 1)


def _duplicate_header(wb, ws):
    ws.write_row(0, 0, ["rate", "rate", "from"])
    ws.write_row(1, 0, [1.1, 1.2, "EUR"])


def _number_in_header(wb, ws):
    ws.write_row(0, 0, ["account", 2026])
    ws.write_row(1, 0, ["1000", 5])


def _header_on_row_2(wb, ws):
    ws.write_row(1, 0, ["from", "to"])
    ws.write_row(2, 0, ["EUR", "USD"])


def _formula(wb, ws):
    ws.write_row(0, 0, ["from", "rate"])
    ws.write_row(1, 0, ["EUR"])
    ws.write_formula(1, 1, "=1+1", None, 2)


def _empty_text_header(wb, ws):
    ws.write_row(0, 0, ["from", "to"])
    ws.write_row(1, 0, ["EUR", "USD"])
    ws.write_string(0, 3, "")
    ws.write_string(2, 3, "stray")


def _only_spaces_header(wb, ws):
    ws.write_string(0, 0, "   ")
    ws.write_row(1, 0, ["EUR", "USD"])


PLAIN = {"mixed column": _mixed_column, "date before March 1900": _early_date, "time of day": _time_of_day,
         "date beyond the calendar": _huge_date, "duplicate header": _duplicate_header,
         "number in the header": _number_in_header, "header on row 2": _header_on_row_2, "formula": _formula}


@pytest.mark.parametrize("case", sorted(PLAIN))
def test_sheets_it_cannot_prove_take_the_plain_path(tmp_path, monkeypatch, case):
    workbook(tmp_path / "b" / "rates.xlsx", PLAIN[case], sheet="Rates")
    assert read_both(tmp_path / "b", monkeypatch) == set()


@pytest.mark.parametrize("write", [_empty_text_header, _only_spaces_header])
def test_odd_headers_read_alike_either_way(tmp_path, monkeypatch, write):
    workbook(tmp_path / "b" / "rates.xlsx", write, sheet="Rates")
    read_both(tmp_path / "b", monkeypatch)
    codes = [f.code for f in read_books(tmp_path / "b").findings]
    assert codes == (["no-header"] if write is _only_spaces_header else [])  # spaces are no header


def test_row_one_is_what_the_guard_saw(tmp_path):
    path = workbook(tmp_path / "b" / "x.xlsx", lambda wb, ws: (ws.write_row(0, 1, ["a", "b & c"]),
                                                                ws.write_number(0, 4, 5)), sheet="Rates")
    _, scans = guard.inspect(path, "x.xlsx", lambda name: True)
    assert scans["Rates"].row_one is None  # a number on row 1
    path = workbook(tmp_path / "c" / "x.xlsx", lambda wb, ws: ws.write_row(0, 1, ["a", "b & c"]), sheet="Rates")
    _, scans = guard.inspect(path, "x.xlsx", lambda name: True)
    assert scans["Rates"].row_one == {1: "a", 2: "b & c"}


CELL = st.one_of(st.none(), st.text(max_size=6), st.floats(allow_nan=False, allow_infinity=False, width=64),
                 st.integers(-10**9, 10**9), st.booleans(),
                 st.datetimes(min_value=dt.datetime(1899, 12, 1), max_value=dt.datetime(2200, 1, 1)))


@profile(15, 200)
@given(columns=st.lists(st.tuples(st.sampled_from(["text", "number", "date", "flag", "any"]),
                                  st.lists(CELL, min_size=0, max_size=12)), min_size=1, max_size=4))
def test_any_sheet_reads_alike_either_way(tmp_path_factory, columns):
    """Columns of one kind of value (the fast path) or of any (mostly the plain one)."""
    folder = tmp_path_factory.mktemp("h") / "b"

    def write(wb, ws):
        date = wb.add_format({"num_format": "yyyy-mm-dd hh:mm"})
        for j, (kind, cells) in enumerate(columns):
            ws.write_string(0, j, f"c{j}")
            for i, v in enumerate(cells, start=1):
                if kind == "text":
                    v = v if isinstance(v, str) else None
                elif kind == "number":
                    v = float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None
                elif kind == "date":
                    v = v if isinstance(v, dt.datetime) and v >= dt.datetime(1900, 3, 1) else None
                elif kind == "flag":
                    v = v if isinstance(v, bool) else None
                if v is None:
                    continue
                if isinstance(v, dt.datetime):
                    ws.write_datetime(i, j, v, date)
                elif isinstance(v, bool):
                    ws.write_boolean(i, j, v)
                elif isinstance(v, str):
                    ws.write_string(i, j, v)
                else:
                    ws.write_number(i, j, v)

    workbook(folder / "s.xlsx", write, sheet="Statistics")
    with pytest.MonkeyPatch.context() as mp:
        read_both(folder, mp)
