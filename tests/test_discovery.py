"""Nothing in a books folder is skipped in silence, and nothing closebatch wrote is read back
(spec section 1): owner files of workbooks open in Excel, sheets that look like a kind under
another name, hidden sheets, symbolic links, folders of earlier outputs; and a sheet with a
stray value far from its data is read in memory that follows its cells."""
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from books import D, J, OPENING, master, write_books
from closebatch.io import guard
from closebatch.io.reader import read_books


def findings(read, code):
    return [f for f in read.findings if f.code == code]


def test_owner_file_of_a_workbook_open_in_excel_is_a_warning_naming_the_workbook(tmp_path):
    books = write_books({"master.xlsx": master(), "Journals Jan final v2.xlsx": {"Journals": [J]}}, tmp_path / "b")
    (books / "~$master.xlsx").write_bytes(b"\x05owner")
    (books / "~$urnals Jan final v2.xlsx").write_bytes(b"\x05owner")  # Excel drops 2 characters of a long name
    read = read_books(books)
    got = {(f.file, f.severity) for f in findings(read, "open-in-excel")}
    assert got == {("master.xlsx", "warning"), ("Journals Jan final v2.xlsx", "warning")}
    assert all("open in Excel" in f.message and "not read" in f.message for f in findings(read, "open-in-excel"))
    assert [p.name for p in read.files] == ["Journals Jan final v2.xlsx", "master.xlsx"]  # the owner files are not read


def test_sheet_named_otherwise_whose_header_holds_a_kinds_columns_is_named(tmp_path):
    books = write_books({"master.xlsx": master(),
                         "jan.xlsx": {"Sheet1": [J, ["J1", D(2026, 1, 5), "E1", "1000", "USD", 1, None]],
                                      "Notes": [["who", "what"], ["ann", "check rent"]]}}, tmp_path / "b")
    read = read_books(books)
    (f,) = findings(read, "looks-like-kind")
    assert (f.file, f.sheet, f.severity) == ("jan.xlsx", "Sheet1", "warning")
    assert "looks like Journals: rename the sheet to read it" in f.message
    assert ("jan.xlsx", "Notes") in read.ignored and ("jan.xlsx", "Sheet1") in read.ignored


def test_header_of_an_ignored_sheet_in_shared_strings_is_read(tmp_path):
    """xlsxwriter (like Excel) keeps text in the shared strings table."""
    import xlsxwriter

    books = tmp_path / "b"
    books.mkdir()
    wb = xlsxwriter.Workbook(str(books / "x.xlsx"))
    wb.add_worksheet("Kurse").write_row(0, 0, ["From", "To", "Date", "Rate", "Type"])
    wb.add_worksheet("Other").write_row(0, 0, ["a", "b"])
    wb.close()
    (f,) = findings(read_books(books), "looks-like-kind")
    assert f.sheet == "Kurse" and "looks like Rates" in f.message


@pytest.mark.parametrize("state, word", [("hidden", "is hidden"), ("veryHidden", "very hidden")])
def test_hidden_sheet_of_a_known_kind_is_read_with_a_warning(tmp_path, state, word):
    books = write_books({"rates.xlsx": {"Rates": [["from", "to", "date", "rate"], ["EUR", "USD", D(2026, 1, 1), 1.1]],
                                       "Front": [["x"]]}}, tmp_path / "b")
    wb = openpyxl.load_workbook(books / "rates.xlsx")
    wb["Rates"].sheet_state = state
    wb.save(books / "rates.xlsx")
    read = read_books(books)
    (f,) = findings(read, "hidden-sheet")
    assert (f.file, f.sheet, f.severity) == ("rates.xlsx", "Rates", "warning") and word in f.message
    assert len(read.frames("Rates")[0].frame) == 1  # read all the same


def test_symbolic_links_are_never_followed_and_outside_the_folder_are_errors(tmp_path):
    outside = write_books({"elsewhere.xlsx": {"Journals": [J]}}, tmp_path / "outside")
    books = write_books({"master.xlsx": master()}, tmp_path / "b")
    os.symlink(outside / "elsewhere.xlsx", books / "linked.xlsx")
    os.symlink(outside, books / "linked folder")
    os.symlink(books / "master.xlsx", books / "again.xlsx")
    read = read_books(books)
    errors = {(f.file, f.code) for f in read.findings if f.is_error}
    assert errors == {("linked.xlsx", "link-outside"), ("linked folder", "link-outside")}
    (inside,) = findings(read, "link")
    assert inside.file == "again.xlsx" and inside.severity == "warning" and "master.xlsx" in inside.message
    assert [p.name for p in read.files] == ["master.xlsx"]


def test_a_folder_holding_a_closebatch_manifest_is_never_read(tmp_path):
    books = write_books({"master.xlsx": master(), "opening.xlsx": OPENING}, tmp_path / "b")
    reports = write_books({"adjusted_trial_balance.xlsx": OPENING}, books / "reports" / "2026-01")
    (reports / "manifest.json").write_text(json.dumps({"tool": "closebatch", "version": "0.1.0"}))
    other = write_books({"more.xlsx": OPENING}, books / "archive")
    (other / "manifest.json").write_text(json.dumps({"tool": "something else"}))
    read = read_books(books)
    assert sorted(p.relative_to(books).as_posix() for p in read.files) == ["archive/more.xlsx", "master.xlsx",
                                                                           "opening.xlsx"]
    assert read.skipped == [("reports/2026-01", "an earlier close's outputs (manifest.json): never read as input")]


def test_an_output_folder_given_as_the_books_folder_is_an_error(tmp_path):
    out = write_books({"adjusted_trial_balance.xlsx": OPENING}, tmp_path / "out")
    (out / "manifest.json").write_text(json.dumps({"tool": "closebatch"}))
    read = read_books(out)
    assert read.files == [] and [f.code for f in read.findings] == ["output-folder"]


def _far_books(folder: Path, n: int = 4, far: bool = True) -> Path:
    folder.mkdir(parents=True)
    for i in range(n):
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.title = "Journals"
        ws.append(J)
        ws.append(["J1", dt.date(2026, 1, 5), "E1", "1000", "USD", 100, None])
        if far:
            ws["AD1048576"] = " "
        wb.save(folder / f"j{i}.xlsx")
    return folder


def test_a_stray_value_far_away_is_read_cell_by_cell(tmp_path):
    books = _far_books(tmp_path / "b", 1)
    _, scans = guard.inspect(books / "j0.xlsx", "j0.xlsx", lambda n: True)
    assert (scans["Journals"].rows, scans["Journals"].cols, scans["Journals"].sparse) == (1048576, 30, True)
    (sheet,) = read_books(books).sheets
    assert list(sheet.frame["_row"]) == [2] and sheet.frame["journal"].tolist() == ["J1"]


def _peak_kb(books: Path) -> int:
    """Peak memory (kB) of reading ``books`` with four jobs, in a fresh interpreter and its children."""
    script = ("import resource, sys; from closebatch.io.reader import read_books; "
              f"r = read_books({str(books)!r}, jobs=4); assert len(r.sheets) == 4, r.findings; "
              "print(max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "
              "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout.split()[-1])


def test_memory_follows_the_cells_not_the_used_range_whatever_the_jobs(tmp_path):
    """Four 5 KB workbooks with a space at AD1048576 took 1.6 GB (4.5 GB with --jobs 4).

    Measured against the same books without the far cell, so the interpreter and its
    libraries (whose size depends on the machine) do not count: a 31M-cell grid would.
    """
    far = _peak_kb(_far_books(tmp_path / "far"))
    near = _peak_kb(_far_books(tmp_path / "near", far=False))
    assert far - near < 100_000, (far, near)


def test_cell_by_cell_reading_gives_the_frames_the_grid_gives(tmp_path, monkeypatch):
    """The sparse path types cells exactly as calamine does (numbers as floats, dates,
    booleans, blanks, error cells, formulas without a cached value, rows left empty)."""
    rows = [["journal", "date", "entity", "account", "currency", "debit", "credit", "posted", "description"],
            ["J1", dt.date(2026, 1, 5), "E1", 1000, "USD", 100, None, True, "rent"],
            [None] * 9,
            ["J1", dt.datetime(2026, 1, 5, 10, 30), "E1", "4000", "USD", None, 100.25, False, None],
            ["J2", "2026-01-07", "E1", "00123", "USD", "#N/A", 3, "Y", "  "]]
    books = write_books({"j.xlsx": {"Journals": rows}}, tmp_path / "b")
    wb = openpyxl.load_workbook(books / "j.xlsx")
    wb["Journals"]["I4"] = '=A2&"x"'  # a formula without a cached value
    wb.save(books / "j.xlsx")
    dense = read_books(books)
    monkeypatch.setattr(guard, "DENSE_FLOOR", 0)
    monkeypatch.setattr(guard, "DENSE_RATIO", 0)
    sparse = read_books(books)
    assert guard.inspect(books / "j.xlsx", "j", lambda n: True)[1]["Journals"].sparse
    pd.testing.assert_frame_equal(dense.sheets[0].frame, sparse.sheets[0].frame)
    assert dense.findings == sparse.findings and len(dense.findings) == 1  # the uncached formula
    assert list(sparse.sheets[0].frame["_row"]) == [2, 4, 5]
