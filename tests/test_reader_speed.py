"""The reader's fast paths give exactly what the plain ones give.

* ``read_books(jobs=2)`` (a pipeline: a guarding thread, a parsing thread, frames) returns
  the same sheets, frames, findings, ignored sheets and order as ``jobs=1``.
* The frames keep the contract validation relies on: cells as Python values in object
  columns (text stays text, numbers stay numbers, even far down a column), blanks and error
  cells as None, blank rows dropped with the Excel row numbers kept, lineage columns.
* The guard's quick pass (a few searches proving a chunk usual) refuses exactly what the
  full patterns refuse, wherever the odd reference sits in a large sheet.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import sys
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
import xlsxwriter
from hypo import profile
from hypothesis import given, strategies as st

from books import D, J, OPENING, master, write_books
from closebatch.io import guard, parallel, reader
from closebatch.io.reader import read_books

# its books are built once (module fixtures): every test of the module runs on one worker
pytestmark = pytest.mark.xdist_group('test_reader_speed')

sys.path.insert(0, str(Path(__file__).parent / "hostile"))
from craft import SHEET, rezip, with_sheet_xml  # noqa: E402


def journal_rows(entity: str, n: int) -> list:
    rows = []
    for k in range(n):
        amount = round(10 + k * 1.37, 2)
        rows.append([f"{entity}{k // 2}", D(2026, 1, 1 + k % 28), entity, "1000" if k % 2 else "4000", "USD",
                     None if k % 2 else amount, amount if k % 2 else None])
    return rows


def assert_coded(read) -> None:
    """Every column the reader coded (``RawSheet.coded``) is its frame's column, value for value
    and type for type: validation types such a column from its codes alone; so is every text
    column it kept as Arrow text (``RawSheet.texts``), blank for blank."""
    for s in read.sheets:
        for c, (codes, uniques) in s.coded.items():
            assert codes.dtype.itemsize <= 2 and len(codes) == len(s.frame) and len(uniques) <= reader.MAX_CODED
            given = uniques.take(codes.astype(np.intp))
            cells = s.frame[c].to_numpy(dtype=object)
            assert [(type(v), v) for v in given] == [(type(v), v) for v in cells], (s.file, s.sheet, c)
        for c, text in s.texts.items():  # text columns as fastexcel gave them: the frame's, blanks null or ""
            assert c in s.frame.columns and c not in s.coded and len(text) == len(s.frame)
            assert [v if v != "" else None for v in text.to_pylist()] == s.frame[c].tolist(), (s.file, s.sheet, c)


def snapshot(read) -> dict:
    assert_coded(read)
    return {"findings": read.findings, "ignored": read.ignored, "files": read.files,
            "sheets": [(s.kind, s.file, s.sheet, s.letters) for s in read.sheets],
            "frames": [s.frame for s in read.sheets]}


def assert_same(a: dict, b: dict) -> None:
    assert {k: v for k, v in a.items() if k != "frames"} == {k: v for k, v in b.items() if k != "frames"}
    for x, y in zip(a["frames"], b["frames"]):
        pd.testing.assert_frame_equal(x, y)
        for c in x.columns:  # the same Python types cell by cell, not just equal values (True == 1.0)
            assert [type(v) for v in x[c]] == [type(v) for v in y[c]], c


# --------------------------------------------------------------------------- jobs=2 is jobs=1

@pytest.fixture(scope="module")
def mixed_folder(tmp_path_factory) -> Path:
    """Workbooks of several sizes, with every kind of finding the reader makes itself."""
    folder = tmp_path_factory.mktemp("mixed") / "books"
    big = journal_rows("E1", 3000)
    write_books({
        "master.xlsx": master(),
        "opening.xlsx": OPENING,
        "a big journal.xlsx": {"Journals": [J] + big, "Notes": [["anything"]]},
        "b small journal.xlsx": {"Journals": [J] + journal_rows("E1", 40)[:20] + [[None] * 7]
                                 + journal_rows("E1", 40)[20:]},
        "c copy of the big one.xlsx": {"Journals": [J] + big},  # a repeated workbook
        "d second settings.xlsx": {"Settings": [["key", "value"], ["rounding_account", "9990"]]},
        "e duplicate column.xlsx": {"Rates": [["from", "to", "date", "rate", "rate"],
                                              ["EUR", "USD", D(2026, 1, 31), 1.08, 1.09]]},
        "f no header.xlsx": {"Statistics": [[None, None], ["x", 1]]},
    }, folder)
    wb = openpyxl.load_workbook(folder / "b small journal.xlsx")
    wb["Journals"]["F3"] = "=1+1"  # a formula without a cached value
    wb.save(folder / "b small journal.xlsx")
    good = folder / "opening.xlsx"
    with_sheet_xml(good, folder / "g far cell.xlsx",  # refused by the guard
                   lambda x: x.replace(b"</sheetData>", b'<row r="20000"><c r="XFD20000"><v>1</v></c></row>'
                                                        b"</sheetData>"))
    (folder / "h broken.xlsx").write_bytes(good.read_bytes()[:500])
    (folder / "i data.csv").write_text("journal,date\n")
    return folder


@pytest.mark.parametrize("jobs", [2, 3])
def test_parallel_read_equals_a_single_job(mixed_folder, jobs):
    calls_1, calls_n = [], []
    one = read_books(mixed_folder, jobs=1, progress=lambda *a: calls_1.append(a))
    many = read_books(mixed_folder, jobs=jobs, progress=lambda *a: calls_n.append(a))
    assert {f.code for f in one.findings} >= {"duplicate-kind", "duplicate-workbook", "duplicate-column", "no-header",
                                               "hostile-file", "not-excel", "unsupported-file", "uncached-formula"}
    assert ("a big journal.xlsx", "Notes") in one.ignored
    assert_same(snapshot(one), snapshot(many))
    # progress: one call per workbook (in the order they are finished) and a last one
    assert [c[:2] for c in calls_n] == [c[:2] for c in calls_1] and calls_n[-1] == calls_1[-1]
    assert sorted(c[2] for c in calls_n) == sorted(c[2] for c in calls_1)


@profile(200, 1000)
@given(sizes=st.lists(st.integers(0, 10**8), max_size=12).map(lambda xs: sorted(xs, reverse=True)),
       guards=st.integers(1, 4))
def test_guard_shares_give_each_workbook_to_the_guard_with_the_fewest_bytes(sizes, guards):
    """Every workbook goes to exactly one guard, each guard takes its share largest first,
    and each next workbook goes to the guard with the fewest bytes so far: no guard holds
    more than the least loaded one plus one workbook."""
    shares = reader.guard_shares(sizes, guards)
    assert sorted(k for share in shares for k in share) == list(range(len(sizes)))
    assert len(shares) <= max(1, guards) and all(shares)
    assert all(share == sorted(share) for share in shares)
    if sizes:
        assert shares[0][0] == 0  # the largest workbook is guarded first
        loads = [sum(sizes[k] for k in share) for share in shares]
        assert max(loads) - min(loads) <= sizes[0]
    assert reader.guard_shares(sizes, 1) == ([list(range(len(sizes)))] if sizes else [])


def test_parallel_read_guards_each_workbook_before_parsing_it(mixed_folder, monkeypatch, tmp_path):
    """The guard runs in a process of its own (where there is fork): the events go to a file
    both processes append to, in the order they happen."""
    import gc
    import json

    import python_calamine

    log = tmp_path / "events.log"
    inspect, open_workbook = guard.inspect, python_calamine.CalamineWorkbook.from_path

    def record(*event):
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(json.dumps([*event, os.getpid()]) + "\n")

    def guarded(path, rel, wanted):
        out = inspect(path, rel, wanted)
        record("guarded", Path(path).name, out[0] is None)
        return out

    class Workbook:
        @staticmethod
        def from_path(path):
            record("opened", Path(path).name)
            return open_workbook(path)

    monkeypatch.setattr(guard, "inspect", guarded)
    monkeypatch.setattr(python_calamine, "CalamineWorkbook", Workbook)
    read_books(mixed_folder, jobs=2)
    assert gc.isenabled()
    logged = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    events = [tuple(e[:-1]) for e in logged]
    if parallel.can_fork():  # guarded in other processes (two: one a job), opened in this one
        guards = {pid for kind, *_, pid in logged if kind == "guarded"}
        assert guards == {pid for *_, pid in logged} - {os.getpid()} and len(guards) == 2
    opened = [e[1] for e in events if e[0] == "opened"]
    assert opened and len(opened) == len(set(opened))
    for name in opened:
        assert events.index(("guarded", name, True)) < events.index(("opened", name))
    assert not {name for kind, name, *ok in events if kind == "guarded" and not ok[0]} & set(opened)


# --------------------------------------------------------------------------- the frame contract

def test_cells_keep_their_python_values(tmp_path):
    f = tmp_path / "b" / "journals.xlsx"
    f.parent.mkdir()
    wb = xlsxwriter.Workbook(str(f), {"strings_to_numbers": False, "strings_to_formulas": False})
    ws = wb.add_worksheet("Journals")
    date = wb.add_format({"num_format": "yyyy-mm-dd"})
    ws.write_row(0, 0, ["code", "amount", "when", "flag", "note"])
    n = 3000
    for i in range(1, n + 1):
        ws.write_string(i, 0, ["00123", "NA", "N/A", "null", "None", "0"][i % 6])
        ws.write_number(i, 1, [1.5, -0.0, 0.0, 1.0][i % 4])
        ws.write_datetime(i, 2, dt.datetime(2026, 1, 1 + i % 28), date)
        ws.write_boolean(i, 3, i % 2 == 0)
        ws.write_string(i, 4, "same text")
    ws.write_string(n + 1, 1, "abc")  # text far down a number column
    ws.write_formula(n + 2, 1, "=1/0", None, "#DIV/0!")  # an error cell reads as blank
    ws.write_formula(n + 2, 0, "=NA()", None, "#N/A")
    ws.write_string(n + 2, 4, "")
    ws.write_boolean(n + 2, 3, True)
    ws.write_formula(n + 3, 0, "=NA()", None, "#N/A")  # a row of blanks and errors is dropped
    ws.write_number(n + 4, 1, 7)
    wb.close()
    read = read_books(f.parent, jobs=1)
    df = read.sheets[0].frame
    assert list(df.columns) == ["code", "amount", "when", "flag", "note", "_row", "_file", "_sheet", "source"]
    assert all(df[c].dtype == object for c in df.columns if c not in ("_row", "source"))
    assert df["_row"].dtype == "int64" and df["source"].dtype == "str"  # (made by Arrow, as lines frames hold text)
    assert df["code"].iloc[:6].tolist() == ["NA", "N/A", "null", "None", "0", "00123"]
    amounts = df["amount"].tolist()
    assert [type(v) for v in amounts[:n]] == [float] * n and amounts[n] == "abc"
    assert [str(v) for v in amounts[:4]] == ["-0.0", "0.0", "1.0", "1.5"]  # -0.0 keeps its sign
    assert df["when"].iloc[0] == dt.date(2026, 1, 2)
    assert df["flag"].iloc[:2].tolist() == [False, True] and type(df["flag"].iloc[0]) is bool
    assert df.iloc[n + 1][["code", "amount", "when", "flag", "note"]].tolist() == [None, None, None, True, None]
    assert df["_row"].tolist() == list(range(2, n + 4)) + [n + 5]
    assert df["source"].iloc[-1] == f"journals.xlsx!Journals!{n + 5}"
    # a column of a few repeated texts holds one object per value; lineage too
    assert len({id(v) for v in df["note"].iloc[:n]}) == 1
    assert len({id(v) for v in df["_file"]}) == 1 and df["_file"].iloc[0] == "journals.xlsx"


def test_sharing_never_merges_values_of_different_types():
    values = [True, 1.0, 1, -0.0, 0.0, "1", dt.date(2026, 1, 1), dt.datetime(2026, 1, 1), ""]
    grid = np.empty((1 + 50 * len(values), 2), dtype=object)
    grid[0] = ["mixed", "text"]
    grid[1:, 0] = values * 50
    grid[1:, 1] = ["" if v is True else "a" for v in values] * 50  # never blank where "mixed" is
    raw = reader._sheet_frame(grid, "x.xlsx", "Journals", "Journals", [])
    got = raw.frame["mixed"].tolist()
    assert [(type(v), str(v)) for v in got] == [(type(v), str(v)) if v != "" else (type(None), "None")
                                                for v in values * 50]
    assert raw.frame["text"].tolist() == [None if v is True else "a" for v in values] * 50


# --------------------------------------------------------------------------- the guard's quick pass

USUAL = b'<row r="%d"><c r="A%d" t="inlineStr"><is><t>entry %d</t></is></c><c r="B%d"><v>%d.5</v></c></row>'
# Odd rows, each put somewhere in a sheet of usual ones ("%d" is its row number).  Several are
# caught by one check of the quick pass only, so that every check is needed.
ODD = {
    "row beyond the grid": b'<row r="2000000"><c r="A5"><v>1</v></c></row>',
    "cell beyond the grid": b'<row r="%d"><c r="A2000000"><v>1</v></c></row>',
    "column beyond the grid": b'<row r="%d"><c r="XFE7"><v>1</v></c></row>',
    "far cell": b'<row r="%d"><c r="XFD20000"><v>1</v></c></row>',
    "lower case": b'<row r="%d"><c r="xfd20000"><v>1</v></c></row>',
    "leading zeros": b'<row r="%d"><c r="A0002000000"><v>1</v></c></row>',
    "entity": b'<row r="%d"><c r="&#88;FD20000"><v>1</v></c></row>',
    "tab before r": b'<row r="%d"><c\tr="XFD20000"><v>1</v></c></row>',
    "tab before a row's r": b'<row\tr="2000000"><c r="A5"><v>1</v></c></row>',
    "new line before a row's r": b'<row\nr="2000000"><c r="A5"><v>1</v></c></row>',
    "single quotes": b"<row r=\"%d\"><c r='XFD20000'><v>1</v></c></row>",
    "a row's single quotes": b"<row r='2000000'><c r=\"A5\"><v>1</v></c></row>",
    "spaces around =": b'<row r="%d"><c r = "XFD20000"><v>1</v></c></row>',
    "a row's space before =": b'<row r ="2000000"><c r="A5"><v>1</v></c></row>',
    "prefixed cell": b'<row r="%d"><x:c r="XFD20000"><x:v>1</x:v></x:c></row>',
    "cells without r": b'<row r="20000">' + b"<c><v>1</v></c>" * 2000 + b"</row>",
    "prefixed cells without r": b'<row r="20000">' + b"<x:c><x:v>1</x:v></x:c>" * 2000 + b"</row>",
    "r not first": b'<row r="%d"><c s="0" r="XFD20000"><v>1</v></c></row>',
    "row number only": b'<row r="%d"><c r="20000"><v>1</v></c></row>',
    "a wide column, within limits": b'<row r="%d"><c r="AZ5"><v>1</v></c></row>',
    "seven digits, within the grid": b'<row r="%d"><c r="B1000000"><v>1</v></c></row>',
    "a formula": b'<row r="%d"><c r="C5"><f>1+1</f></c></row>',
    "a prefixed formula": b'<row r="%d"><c r="C5"><x:f>1+1</x:f></c></row>',
    "style-only far cell": b'<row r="%d"><c r="XFD50000" s="0"/></row>',
    "nothing odd": b"",
}
ACCEPTED = {"row number only", "a wide column, within limits", "seven digits, within the grid", "a formula",
            "a prefixed formula", "style-only far cell", "nothing odd"}


def sheet_xml(template: bytes, n: int, at: int) -> bytes:
    rows = [USUAL % (i, i, i, i, i) for i in range(2, n + 2)]
    rows.insert(at, template % (at + 2) if b"%d" in template else template)
    return (b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            b'xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            b'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheetData>'
            + b"".join(rows) + b"</sheetData></worksheet>")


@pytest.fixture(scope="module")
def small_workbook(tmp_path_factory) -> Path:
    return write_books({"rates.xlsx": {"Rates": [["from", "to"], ["EUR", "USD"]]}},
                       tmp_path_factory.mktemp("g") / "b") / "rates.xlsx"


def guard_outcome(path: Path) -> tuple:
    bad, scans = guard.inspect(path, "x.xlsx", lambda name: True)
    return (bad.message, bad.code) if bad else None, {k: v.formulas for k, v in scans.items()}


@pytest.mark.parametrize("odd", sorted(ODD))
@profile(3, 12)
@given(n=st.integers(1, 400), where=st.floats(0, 1), chunk=st.sampled_from([512, 4096, 1 << 22]))
def test_quick_pass_refuses_what_the_full_patterns_refuse(small_workbook, tmp_path, monkeypatch, odd, n, where, chunk):
    monkeypatch.setattr(guard, "CHUNK", chunk)  # small chunks: the odd row lands in a middle one
    f = rezip(small_workbook, tmp_path / "odd.xlsx", {SHEET: sheet_xml(ODD[odd], n, int(where * n))})
    quick = guard_outcome(f)
    with monkeypatch.context() as m:
        m.setattr(guard, "_usual", lambda data: False)
        assert quick == guard_outcome(f)
    assert (quick[0] is None) == (odd in ACCEPTED), quick


@pytest.mark.parametrize("odd", sorted(ODD))
def test_one_pass_and_python_searches_agree_on_every_odd_sheet(small_workbook, tmp_path, monkeypatch, odd):
    """The RE2 pass (guard.PLAIN) only ever skips Python searches that would find nothing: the
    outcome and the scan are the same with it and without it."""
    monkeypatch.setattr(guard, "CHUNK", 4096)
    f = rezip(small_workbook, tmp_path / "odd.xlsx", {SHEET: sheet_xml(ODD[odd], 300, 150)})
    scans = {}
    for plain in (True, False):
        monkeypatch.setattr(guard, "PLAIN", plain)
        bad, found = guard.inspect(f, "x.xlsx", lambda name: True)
        scans[plain] = ((bad.message, bad.code) if bad else None,
                        {k: (v.rows, v.cols, v.cells, v.formulas, v.row_one) for k, v in found.items()})
    assert scans[True] == scans[False]


# Each RE2 search against the Python search it stands for (the row one has none in the guard:
# the Python path counts row tags instead).
PYTHON_OF = {"dtd": [guard._DTD], "formula": guard._FORMULA, "noncanon": [guard._NONCANON],
             "prefixed_c": [guard._PREFIXED_C], "unusual_ref": [guard._UNUSUAL_REF],
             "cell_without_ref": [guard._CELL_WITHOUT_REF], "row_without_number": [re.compile(rb'<row(?! r="[1-9])')]}
TOKENS = [b"<c", b"<row", b' r="', b"r", b"=", b'"', b"'", b" ", b"\t", b"\v", b"\n", b"\r", b"\f", b"A", b"Z",
          b"a", b"AB", b"0", b"1", b"9", b"5", b"123456", b"1234567", b">", b"/", b":", b"f", b"<f", b":c", b"c", b"<",
          b"<!", b"DOCTYPE", b"doctype", b"EnTiTy", b"ENTIT", b"\x80", b"\xff", b"\xe9", b"\xc3\xa9", b"\x00", b"&",
          b"<x:c", b"<rowBreaks", b'<c r="A1"', b'<row r="2"', b"</c>", b"r=", b"r =", b"\tr=", b" r=", b"r='",
          b"<!DOCTYPE", b"<!entity", b"<!DocType", b"<!ENTITX", b'<c r="', b'<row r="', b'<c r="A', b'r="A0"']
# Edge cases at the end of a chunk (where a "not followed by" holds in Python) and near misses.
EDGES = [b"", b"r=", b"r", b' r="', b' r="A', b' r="A1', b' r="1234567', b' r="123456"', b' r="A123456"', b' r="0"',
         b"<c", b"<c ", b"<c r", b"<c r=", b'<c r="', b'<c r="A', b'<c r="A1"', b'<c r="AA1"', b"<c\v", b"<c>", b"<col>",
         b"<row", b"<row ", b'<row r="', b'<row r="1"', b'<row r="0"', b"<rows", b"<!doctype", b"<!ENTIT", b"<f",
         b"<f>", b":f ", b"<fx", b":c/", b":cx", b"r\v=", b"\vr=", b" r=", b"r='A1'", b'r="', b"\xe9r=\xe9"]


def test_every_one_pass_search_matches_where_its_python_search_does():
    assert set(PYTHON_OF) == set(guard._RE2)
    check_one_pass(EDGES)


@profile(60, 400)
@given(texts=st.lists(st.one_of(st.lists(st.sampled_from(TOKENS), max_size=12).map(b"".join), st.binary(max_size=24)),
                      min_size=1, max_size=64))
def test_one_pass_searches_find_exactly_what_the_python_ones_find(texts):
    check_one_pass(texts)


def check_one_pass(texts: list) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc
    batch = pa.array(texts, pa.large_binary())
    for name, pattern in guard._RE2.items():
        found = pc.match_substring_regex(batch, pattern.decode("ascii")).to_pylist()
        assert found == [any(rx.search(t) for rx in PYTHON_OF[name]) for t in texts], name
    for seek, pattern in guard._SPECIAL.items():
        names = [n for n in guard._RE2 if seek or n != "formula"]
        assert pc.match_substring_regex(batch, pattern).to_pylist() == [
            any(rx.search(t) for n in names for rx in PYTHON_OF[n]) for t in texts]


def test_tall_sheet_with_one_wide_cell_takes_exact_rows(small_workbook, tmp_path, monkeypatch):
    """Usual chunks only bound rows by 999,999; next to a column AZ that bound is over the
    limit, so the sheet's exact extent is taken instead (and it is accepted, as before)."""
    monkeypatch.setattr(guard, "CHUNK", 4096)
    monkeypatch.setattr(guard, "MAX_PRECISE", 0)  # the precise pass would refuse outright
    f = rezip(small_workbook, tmp_path / "wide.xlsx", {SHEET: sheet_xml(ODD["a wide column, within limits"], 300, 150)})
    bad, scans = guard.inspect(f, "wide.xlsx", lambda name: True)
    assert bad is None and (scans["Rates"].rows, scans["Rates"].cols) == (301, 52)


def test_usual_chunks_are_bounded_within_the_limits():
    assert guard.USUAL_ROWS * guard.USUAL_COLS <= guard.MAX_CELLS
    assert guard._usual(sheet_xml(b"", 50, 0))
    assert not guard._usual(sheet_xml(ODD["tab before r"], 50, 25))


def test_repeated_sheets_are_found_whole_and_others_by_their_ends(monkeypatch):
    """Sheets of the same kind and shape: the same rows are a repeated workbook, rows that differ
    anywhere (the middle too) are not; sheets whose first or last rows differ are never hashed
    whole."""
    def sheet(name: str, change_at=None) -> reader.RawSheet:
        frame = pd.DataFrame({"journal": [f"J{i}" for i in range(100)], "amount": [float(i) for i in range(100)],
                              "_file": name, "_sheet": "Journals", "_row": range(2, 102), "source": "x"})
        if change_at is not None:
            frame.loc[change_at, "amount"] = -1.0
        return reader.RawSheet("Journals", name, "Journals", frame, {})

    whole = []
    real = reader._content_key
    monkeypatch.setattr(reader, "_content_key", lambda s, rows=None: (whole.append(s.file) if rows is None else None,
                                                                      real(s, rows))[1])
    found = reader._repeated_sheets([sheet("a.xlsx"), sheet("b.xlsx"), sheet("c.xlsx", change_at=50),
                                     sheet("d.xlsx", change_at=0), sheet("e.xlsx", change_at=99)])
    assert [(f.code, f.file) for f in found] == [("duplicate-workbook", "b.xlsx")]
    assert whole == ["a.xlsx", "b.xlsx", "c.xlsx"]  # d and e differ at an end: never hashed whole


# --------------------------------------------------------------------------- what validation takes from the reader

SAMPLE = Path(__file__).resolve().parent.parent / "sample_books"
ODD_TEXT = ["  padded ", "\u3000wide\u3000", "\xa0nbsp\xa0", "Ünïcödé ", "", " ", "tab\t", "=SUM(A1)", "J 1", "J 1 "]


@pytest.mark.parametrize("books", ["mixed", "sample"])
def test_validation_takes_the_same_from_the_readers_codes_and_text(mixed_folder, tmp_path, monkeypatch, books):
    """What validation makes of a column given its codes (``RawSheet.coded``) or its Arrow text
    (``RawSheet.texts``) is what it makes of the cells alone: the same book, frame for frame,
    and the same findings.  Every text column is coded (the usual limit), or none is and the
    text columns are given as Arrow text (a limit of 0), or those of more than two values are."""
    from closebatch.validate import load_book

    folder = tmp_path / "b"
    if books == "mixed":
        import shutil

        shutil.copytree(mixed_folder, folder)
    else:
        import shutil

        shutil.copytree(SAMPLE, folder)
    rows = [[f"T{i % 5}{ODD_TEXT[i % len(ODD_TEXT)]}", D(2026, 1, 5), "E1" if books == "mixed" else "US1",
             "1000" if i % 2 else "4000", "USD", None if i % 2 else 10.0, 10.0 if i % 2 else None,
             ODD_TEXT[(i * 3) % len(ODD_TEXT)], ODD_TEXT[(i * 7) % len(ODD_TEXT)] or None] for i in range(60)]
    write_books({"odd text.xlsx": {"Journals": [J + ["description", "reference"]] + rows}}, folder)

    def book_of(limit, side=True):
        monkeypatch.setattr(reader, "MAX_CODED", limit)
        read = read_books(folder, jobs=1)
        assert_coded(read)
        given = {"coded": sum(len(s.coded) for s in read.sheets), "texts": sum(len(s.texts) for s in read.sheets)}
        if not side:
            for s in read.sheets:
                s.coded, s.texts = {}, {}
        book, findings = load_book(read)
        return book, findings, given

    plain, plain_findings, _ = book_of(32_767, side=False)
    for limit in (32_767, 0, 2):
        book, findings, given = book_of(limit)
        assert (given["coded"] > 0) == (limit > 0) and (given["texts"] > 0) == (limit < 32_767), (limit, given)
        assert findings == plain_findings
        for name in ("journals", "opening", "accounts", "entities", "rates"):
            pd.testing.assert_frame_equal(getattr(book, name), getattr(plain, name), obj=f"{name} ({limit})")
