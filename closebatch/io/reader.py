"""Reading a books folder (spec section 1).

Workbooks are recognised by their sheet names, never their file names.  Every kind's rows
from every workbook are concatenated into one raw frame of Python values with normalised
column names and four lineage columns: ``_file`` (path relative to the books folder),
``_sheet`` (the sheet's name as written), ``_row`` (the Excel row number) and ``source``
(``file!sheet!row``).  Typing and validation happen later (:mod:`closebatch.validate`).

Reading uses python-calamine, which keeps text as text (``"00123"`` stays a string) and
rejects XML entities.  Cells are Python values in object columns, blanks (empty and error
cells) are None; a text or date column of few distinct values holds one object per value
(cheaper in memory, equal in every other way), and ``_file``/``_sheet`` one string per
sheet.  Every workbook is guarded (:mod:`closebatch.io.guard`) before calamine opens it.
calamine parses without holding the interpreter's lock, so ``read_books(jobs=2)`` runs the
guard, the parse and the building of frames of different workbooks at the same time.
"""
from __future__ import annotations

import datetime as dt
import gc
import os
import re
import threading
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api.types import infer_dtype

from ..cells import column_letter
from ..core import ERROR, WARNING, Finding
from . import arrow_cells, guard, parallel

KINDS = ("Settings", "Entities", "Accounts", "Periods", "TrialBalance", "Journals", "Rates", "Allocations",
         "Statistics", "Eliminations", "HistoricalRates", "Subledgers", "Tasks", "Checklist", "Users", "Statements")
_KIND_BY_NAME = {k.lower(): k for k in KINDS}
# Friendly aliases for sheet names (an extension of the contract; the spec's names always work).
_KIND_BY_NAME.update({"trial balance": "TrialBalance", "trial_balance": "TrialBalance", "journal": "Journals",
                      "historical rates": "HistoricalRates", "historical_rates": "HistoricalRates",
                      "exchange rates": "Rates", "subledger": "Subledgers"})
UNIQUE_KINDS = ("Settings", "Entities", "Accounts", "Periods", "Allocations", "Eliminations", "HistoricalRates",
                "Tasks", "Users", "Statements")
SKIP_DIRS = {"out", "ledger", "__pycache__"}
EXCEL_SUFFIXES = (".xlsx", ".xlsm")
OTHER_SPREADSHEETS = {".xls": "an old binary Excel file", ".xlsb": "a binary Excel workbook",
                      ".ods": "an OpenDocument spreadsheet", ".csv": "a CSV file", ".numbers": "a Numbers file"}


def norm_header(h) -> str:
    """``'Balance Acct'``, ``'balance-acct'``, ``'BALANCE_ACCT'`` -> ``'balance_acct'``."""
    s = str(h if h is not None else "").strip().lower()
    s = re.sub(r"[\s\-_]+", "_", s)
    return s.strip("_")


@dataclass
class RawSheet:
    kind: str
    file: str
    sheet: str
    frame: pd.DataFrame  # normalised columns (object values) + lineage
    letters: dict  # normalised column -> Excel letter
    # Columns of few distinct values, as the reader found them: column -> (codes, uniques) with
    # ``uniques.take(codes)`` equal to the frame's column, value for value (blanks None).
    # Validation types such a column once per distinct value without looking for them again.
    coded: dict = field(default_factory=dict)
    # Text columns of more distinct values, as fastexcel gave them: column -> Arrow text array,
    # equal to the frame's column where that is not blank (a blank is null or empty text).
    texts: dict = field(default_factory=dict)

    def release(self) -> None:
        """Let the cells go (the sheet keeps its name, columns and letters, with no rows)."""
        self.frame = self.frame.iloc[:0].copy()
        self.coded, self.texts = {}, {}


_LINEAGE = ("_row", "_file", "_sheet", "source")  # the columns the reader adds to a sheet's

#: The most distinct values a column is kept coded with (:attr:`RawSheet.coded`); columns of
#: more (journal numbers, descriptions) are typed column-wide, without their distinct values.
MAX_CODED = 32_767


def coded(codes: np.ndarray, uniques: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``(codes, uniques)`` as :attr:`RawSheet.coded` keeps them (codes in the smallest integer
    type), or None when there are too many distinct values to keep."""
    if len(uniques) > MAX_CODED:
        return None
    return codes.astype(np.int8 if len(uniques) <= 127 else np.int16), uniques


@dataclass
class ReadResult:
    sheets: list = field(default_factory=list)  # RawSheet
    findings: list = field(default_factory=list)
    ignored: list = field(default_factory=list)  # (file, sheet) read but not a known kind
    skipped: list = field(default_factory=list)  # (folder, why) not read at all (earlier outputs)
    files: list = field(default_factory=list)  # Path of every workbook read
    root: Path | None = None  # the books folder

    def frames(self, kind: str) -> list[RawSheet]:
        return [s for s in self.sheets if s.kind == kind]


def discover(folder: Path, exclude: tuple = ()) -> tuple[list[Path], list[Finding], list]:
    """Workbooks of the books folder, sorted by relative path, with the findings and the
    folders skipped (``(relative path, why)``) on the way (spec section 1).

    Skipped: hidden files and folders, the tool's own ``out/`` and ``ledger/`` folders, any
    folder holding a closebatch ``manifest.json`` (an earlier close's outputs, wherever
    ``--out`` put them) and the folders in ``exclude``.  An Excel owner file ``~$X.xlsx`` is
    skipped with a warning that ``X.xlsx`` is open in Excel.  A symbolic link is never
    followed: one that resolves outside the books folder is an error, one inside earns a
    warning (what it points to is read where it is)."""
    folder = Path(folder)
    root = folder.resolve()
    found, findings, skipped, owners = [], [], [], []
    excluded = {Path(p).resolve() for p in exclude}
    if is_output_folder(folder):
        findings.append(Finding(ERROR, f"{folder} holds a closebatch manifest.json: it is the output folder of a close, "
                                "not a books folder, so nothing in it is read.", hint="Give the folder that holds the "
                                "input workbooks.", code="output-folder"))
        return [], findings, [(".", "an earlier close's outputs (manifest.json)")]
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        here = Path(dirpath)
        keep = []
        for d in sorted(dirnames):
            p = here / d
            rel = p.relative_to(folder).as_posix()
            if d.startswith(".") or d.startswith("~$") or d.lower() in SKIP_DIRS:
                continue
            if p.is_symlink():
                findings.append(_link(p, rel, root, "folder"))
                continue
            if p.resolve() in excluded:
                continue
            if is_output_folder(p):
                skipped.append((rel, "an earlier close's outputs (manifest.json): never read as input"))
                continue
            keep.append(d)
        dirnames[:] = keep
        for name in sorted(filenames):
            p = here / name
            rel = p.relative_to(folder).as_posix()
            suffix = p.suffix.lower()
            if name.startswith("~$"):
                if suffix in EXCEL_SUFFIXES:
                    owners.append((here, name, rel))
                continue
            if name.startswith("."):
                continue
            if p.is_symlink():
                if suffix in EXCEL_SUFFIXES or suffix in OTHER_SPREADSHEETS:
                    findings.append(_link(p, rel, root, "file"))
                continue
            if not p.is_file():
                continue
            if suffix in EXCEL_SUFFIXES:
                found.append(p)
            elif suffix in OTHER_SPREADSHEETS:
                findings.append(Finding(ERROR, f"{rel} is {OTHER_SPREADSHEETS[suffix]}, which closebatch does not "
                                        "read.", hint="Open it in Excel and save it as an Excel Workbook (.xlsx), then "
                                        "remove the original from the books folder.", file=rel,
                                        code="unsupported-file"))
    found.sort(key=lambda p: p.relative_to(folder).as_posix())
    names = {p.relative_to(folder).as_posix() for p in found}
    for here, name, rel in owners:
        findings.append(_owner_file(folder, here, name, rel, names))
    return found, findings, skipped


def is_output_folder(path: Path) -> bool:
    """True for a folder holding a closebatch ``manifest.json`` (the outputs of a close)."""
    m = Path(path) / "manifest.json"
    try:
        if not m.is_file() or m.stat().st_size > 50_000_000:
            return False
        with open(m, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    return re.search(rb'"tool"\s*:\s*"closebatch"', head) is not None


def _link(p: Path, rel: str, root: Path, what: str) -> Finding:
    """A symbolic link in the books folder: never followed; an error when it leads outside."""
    try:
        target = p.resolve()
        inside = target.is_relative_to(root)
    except (OSError, RuntimeError):  # a loop, or a broken link
        target, inside = None, False
    if not inside:
        return Finding(ERROR, f"{rel} is a symbolic link to {target or 'nowhere'}, outside the books folder; "
                       "closebatch reads only what is inside the books folder.", hint=f"Copy the {what} into the books "
                       "folder (or remove the link).", file=rel, code="link-outside")
    shown = target.relative_to(root).as_posix() or "."
    return Finding(WARNING, f"{rel} is a symbolic link to {shown} in the books folder; links are not followed, so it is "
                   f"read (if at all) as {shown}.", hint="Remove the link to silence this warning.", file=rel,
                   code="link")


def _owner_file(folder: Path, here: Path, name: str, rel: str, read: set) -> Finding:
    """``~$X.xlsx`` is the owner file Excel keeps beside ``X.xlsx`` while it is open (for a long
    name, Excel drops its first two characters)."""
    rest = name[2:]
    candidates = [p for p in sorted(read) if Path(p).parent == here.relative_to(folder) and
                  (Path(p).name == rest or Path(p).name[2:] == rest)] if rest else []
    target = candidates[0] if candidates else (here / rest).relative_to(folder).as_posix()
    return Finding(WARNING, f"{target} is open in Excel ({rel}, the owner file Excel keeps while a workbook is "
                   "open, is present): changes not yet saved are not read.", hint=f"Save and close {Path(target).name} "
                   "in Excel, then run again.", file=target, code="open-in-excel")


def kind_of(sheet: str) -> str | None:
    """The kind a sheet of this name holds (case and surrounding spaces ignored), or None."""
    return _KIND_BY_NAME.get(str(sheet).strip().lower())


def _wanted(sheet: str) -> bool:
    """True for a sheet closebatch reads."""
    return sheet.strip().lower() in _KIND_BY_NAME


def _inspect(path: Path, rel: str) -> tuple[Finding | None, dict]:
    """The guard's verdict on a workbook (see :mod:`closebatch.io.guard`)."""
    return guard.inspect(path, rel, _wanted)


def _parser_failure(e: BaseException) -> bool:
    """True for an exception a parser may raise on a bad file (anything but an interrupt).
    python-calamine turns a Rust panic into ``PanicException``, a ``BaseException``."""
    return not isinstance(e, (KeyboardInterrupt, SystemExit, GeneratorExit))


# Kinds of column (pandas' infer_dtype) that cannot hold NaN, and those whose equal values may
# share one object: equality within them is identity of value (not so across kinds: True == 1.0,
# and -0.0 == 0.0).
_NEVER_NAN = frozenset({"string", "boolean", "date", "datetime", "time", "timedelta", "empty"})
_SHAREABLE = frozenset({"string", "date", "datetime"})
_SAMPLE, _FEW = 1000, 100  # a column is shared when its first _SAMPLE cells hold at most _FEW values


def _grid(rows: list) -> np.ndarray:
    """calamine's rows (equally long lists) as one 2-D object array; ragged rows are padded
    with blanks."""
    grid = np.array(rows, dtype=object)
    if grid.ndim != 2:
        width = max(map(len, rows), default=0)
        grid = np.empty((len(rows), width), dtype=object)
        grid[:] = ""
        for i, r in enumerate(rows):
            grid[i, :len(r)] = r
    return grid


def _shared(col: np.ndarray) -> tuple[np.ndarray, tuple | None]:
    """``col`` with equal values as one object each (None stays None), and its codes
    (:func:`coded`)."""
    codes, uniques = pd.factorize(col)
    uniques = np.append(np.asarray(uniques, dtype=object), None)
    return uniques.take(codes), coded(codes, uniques)


def _repeat(value: str, n: int) -> np.ndarray:
    """``n`` references to the one object ``value`` (``np.full`` would make ``n`` copies)."""
    out = np.empty(n, dtype=object)
    out.fill(value)
    return out


def _header(head: list, rel: str, sheet: str, findings: list, anything) -> tuple[list, dict, list] | None:
    """``(names, letters, kept positions)`` of a sheet whose row 1 holds ``head``, or None
    for a sheet without a header (a finding when ``anything()`` says the sheet holds a value)."""
    header = [norm_header(h) for h in head]
    if not any(header):  # nothing on row 1, or only blanks and spaces
        if anything():
            findings.append(Finding(ERROR, f"Sheet {sheet} has no header on row 1.",
                                    hint="Put the column names on row 1, with the data below them.", file=rel,
                                    sheet=sheet, cell="A1", code="no-header"))
        return None
    width = max(i for i, h in enumerate(header) if h) + 1
    header = header[:width]
    letters, keep = {}, []
    for i, h in enumerate(header):
        if not h:
            continue
        if h in letters:
            findings.append(Finding(ERROR, f"Column {h!r} appears twice in the header of sheet {sheet} "
                                    f"({letters[h]}1 and {column_letter(i)}1).", hint="Rename or delete one of them.",
                                    file=rel, sheet=sheet, cell=f"{column_letter(i)}1", column=h, value=str(head[i]),
                                    code="duplicate-column"))
            continue
        letters[h] = column_letter(i)
        keep.append(i)
    return header, letters, keep


def _sheet_frame(grid: np.ndarray, rel: str, sheet: str, kind: str, findings: list,
                 numbers=None) -> RawSheet | None:
    """The sheet's frame from its cells (row 1 the header), or None for a sheet without one.
    ``numbers``: the Excel row number of each row of ``grid`` (default: 1, 2, 3...)."""
    found = _header(list(grid[0]) if len(grid) else [], rel, sheet, findings,
                    lambda: bool(grid.size and ((grid != "") & np.not_equal(grid, None)).any()))
    if found is None:
        return None
    header, letters, keep = found
    body = grid[1:] if keep == list(range(grid.shape[1])) else grid[1:, keep]  # the data rows' kept columns
    blank = body == ""  # calamine reads empty and error cells as ""
    kinds = []
    for j in range(body.shape[1]):
        kinds.append(infer_dtype(body[:, j], skipna=False))
        if kinds[-1] not in _NEVER_NAN:
            blank[:, j] |= pd.isna(body[:, j])
    filled = ~blank.all(axis=1)
    body[blank] = None
    del blank
    excel_rows = np.flatnonzero(filled) + 2 if numbers is None else np.asarray(numbers[1:], dtype="int64")[filled]
    if len(excel_rows) < len(body):
        body = body[filled]
    names = [header[i] for i in keep]
    codes = {}
    for j, k in enumerate(kinds):
        if k in _SHAREABLE and len(set(body[:_SAMPLE, j])) <= _FEW:
            body[:, j], codes[names[j]] = _shared(body[:, j])
    df = pd.DataFrame(body, columns=names, dtype=object, copy=False)
    return _raw_sheet(df, excel_rows, rel, sheet, kind, letters, codes)


def _raw_sheet(df: pd.DataFrame, excel_rows: np.ndarray, rel: str, sheet: str, kind: str, letters: dict,
               codes: dict) -> RawSheet:
    """The sheet with its cells ``df`` and the lineage columns added; ``codes``: column ->
    :func:`coded` (or None)."""
    # Lineage (replacing any same-named column of the sheet, as before).  Object columns, so
    # that _file and _sheet are one shared string and concat() does not copy them per row.
    df["_row"] = excel_rows.astype("int64")
    for name, values in (("_file", _repeat(rel, len(df))), ("_sheet", _repeat(sheet, len(df)))):
        df[name] = pd.Series(values, dtype=object, copy=False)
    # ``file!sheet!row``, made by Arrow (as ``str``: a lines frame's text)
    df["source"] = pd.Series(pc.binary_join_element_wise(f"{rel}!{sheet}!", pa.array(excel_rows, pa.int64())
                                                         .cast(pa.string()), ""), dtype="str", index=df.index)
    return RawSheet(kind=kind, file=rel, sheet=sheet, frame=df, letters=letters,
                    coded={c: v for c, v in codes.items()  # (a column the lineage replaced is not kept)
                           if v is not None and c not in _LINEAGE})


def _arrow_frame(cells: arrow_cells.Cells, rel: str, sheet: str, kind: str, findings: list) -> RawSheet | None:
    """The sheet's frame from fastexcel's columns (:mod:`closebatch.io.arrow_cells`): the same
    frame :func:`_sheet_frame` makes of python-calamine's grid."""
    head = [cells.head.get(i, "") for i in range(cells.width())]
    found = _header(head, rel, sheet, findings, lambda: True)
    if found is None:
        return None
    header, letters, keep = found
    n = cells.rows
    columns = [cells.column(p) for p in keep]
    blanks = [arrow_cells.blank(c) for c in columns if c is not None]
    filled = ~np.logical_and.reduce(blanks) if blanks else np.zeros(n, dtype=bool)
    rows = None if filled.all() else np.flatnonzero(filled)
    cols, codes, texts = {}, {}, {}
    for p, c in zip(keep, columns):
        if c is not None and rows is not None:
            c = c.take(pa.array(rows))
        cols[header[p]], found = arrow_cells.values(c, n if rows is None else len(rows))
        codes[header[p]] = coded(*found) if found is not None else None
        if codes[header[p]] is None and c is not None and arrow_cells.is_text(c.type):
            texts[header[p]] = c
    df = pd.DataFrame(cols, dtype=object, copy=False)
    sheet_ = _raw_sheet(df, (np.arange(n) if rows is None else rows) + 2, rel, sheet, kind, letters, codes)
    sheet_.texts = {c: v for c, v in texts.items() if c not in _LINEAGE}
    return sheet_


def _fast_cells(path: Path, fast: list, name: str, scan) -> arrow_cells.Cells | None:
    """The sheet through fastexcel, when that is proved equal to python-calamine's parse (else
    None, and the reader parses it as before).  ``fast``: a box for the workbook's fastexcel
    reader, opened at the first sheet that may take this path."""
    if not ARROW or scan.formulas or not scan.row_one:
        return None
    try:
        if not fast:
            import fastexcel

            fast.append(fastexcel.read_excel(str(path)))
        return arrow_cells.load(fast[0], name, scan.row_one)
    except BaseException as e:  # noqa: BLE001 - the plain parse decides what is wrong with the sheet
        if not _parser_failure(e):
            raise
        return None


#: Whether sheets may be read through fastexcel (:mod:`closebatch.io.arrow_cells`); off, every
#: sheet takes python-calamine's grid (tests compare the two).
ARROW = True

_gc_lock = threading.Lock()
_gc_state = {"readers": 0, "was_enabled": True}


@contextmanager
def _gc_paused():
    """Pause the cyclic garbage collector while millions of cell objects are made (it would
    walk them again and again; none of them is in a cycle).  Safe across reader threads: the
    collector comes back, as it was, when the last of them is done."""
    with _gc_lock:
        if _gc_state["readers"] == 0:
            _gc_state["was_enabled"] = gc.isenabled()
            gc.disable()
        _gc_state["readers"] += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_state["readers"] -= 1
            if _gc_state["readers"] == 0 and _gc_state["was_enabled"]:
                gc.enable()


def read_workbook(path: Path, rel: str, result: ReadResult) -> None:
    """Guard one workbook, then parse it if the guard let it through; its sheets, findings
    and ignored sheets go to ``result``."""
    _take(_load(path, rel, lambda: _inspect(path, rel)), path, rel, result)


def _load(path: Path, rel: str, inspection):
    """Reading a workbook, up to calamine's parse of its sheets, as events for :func:`_take`
    (which alone changes the result, so the order of findings never depends on threads):
    ``("finding", Finding)``, ``("opened", sheets with formulas)``, ``("ignored", sheet)``
    and ``("sheet", name, kind, [CalamineSheet])`` (:func:`_take` takes the sheet out of its
    box, so calamine's copy of the cells goes as soon as it is read).  ``inspection()``
    gives the guard's verdict (:func:`_inspect`, here or from another thread); nothing is
    parsed unless it passed."""
    from python_calamine import CalamineWorkbook

    try:
        bad, scans = inspection()
    except OSError as e:
        yield "finding", Finding(ERROR, f"{rel} could not be opened: {e.strerror or e}.",
                                 hint="Close it in Excel (or any program holding it), check that you may read it, "
                                      "and run again.", file=rel, code="unreadable")
        return
    if bad:
        yield "finding", bad
        return
    try:
        wb = CalamineWorkbook.from_path(str(path))
    except BaseException as e:  # noqa: BLE001 - any reader failure becomes a finding
        if not _parser_failure(e):
            raise
        yield "finding", Finding(ERROR, f"{rel} could not be read: {_short(e)}.",
                                 hint="Open it in Excel and save it again as an Excel Workbook (.xlsx).", file=rel,
                                 code="unreadable")
        return
    fast = []
    try:
        yield "opened", {n for n in wb.sheet_names if _wanted(n) and n in scans and scans[n].formulas}
        for name in wb.sheet_names:
            kind = _KIND_BY_NAME.get(name.strip().lower())
            scan = scans.get(name)
            if kind is None:
                yield "ignored", name, scan.header if scan is not None else None
            elif scan is None or not scan.wanted:  # never parse a sheet the guard did not check
                yield "finding", Finding(ERROR, f"Sheet {name} of {rel} could not be located in the workbook's "
                                         "parts, so it was not read.", hint="Open the workbook in Excel and save it "
                                         "again.", file=rel, sheet=name, code="unreadable")
            else:
                if scan.state != "visible":
                    yield "finding", _hidden_sheet(rel, name, kind, scan.state)
                if scan.sparse:  # a stray value far away: cell by cell, not calamine's dense grid
                    yield "sheet", name, kind, [_Sparse(path, name)]
                    continue
                cells = _fast_cells(path, fast, name, scan)  # Arrow columns, without the interpreter's lock
                if cells is not None:
                    yield "sheet", name, kind, [cells]
                    continue
                try:
                    box = [wb.get_sheet_by_name(name)]  # the parse, without holding the interpreter's lock
                except BaseException as e:  # noqa: BLE001
                    if not _parser_failure(e):
                        raise
                    yield "finding", _unreadable_sheet(rel, name, e)
                    continue
                yield "sheet", name, kind, box
    finally:
        wb.close()


def _hidden_sheet(rel: str, name: str, kind: str, state: str) -> Finding:
    how = "very hidden (visible only in the VBA editor)" if state.lower() == "veryhidden" else "hidden"
    return Finding(WARNING, f"Sheet {name} of {rel} is {how}; closebatch reads it as {kind} all the same.",
                   hint="Unhide it (right-click a sheet tab > Unhide) to see what is read, or delete it if it "
                        "should not count.", file=rel, sheet=name, code="hidden-sheet")


def looks_like(header) -> str | None:
    """The kind whose required columns a sheet's header row holds (the most specific one), or None."""
    from ..schema import SCHEMAS

    have = {norm_header(h) for h in header or () if h not in (None, "")}
    best, size = None, 0
    for kind in KINDS:
        need = {c.name for c in SCHEMAS[kind] if c.required}
        if need and need <= have and len(need) > size:
            best, size = kind, len(need)
    return best


class _Sparse:
    """A sheet whose used range is mostly empty, read cell by cell (openpyxl's streaming
    parser) into the rows that hold something, so memory follows the cells it holds rather
    than the rectangle from A1 to its farthest cell.  Values as calamine gives them: numbers
    as floats, date-only cells as dates, error cells and blanks as ""."""

    def __init__(self, path: Path, name: str):
        self.path, self.name = path, name

    def grid(self) -> tuple[np.ndarray, list]:
        """``(grid, excel rows)``: row 1 (the header) and every row with a value within the
        header's columns (all of them when row 1 is empty), and their Excel row numbers."""
        import warnings

        import openpyxl
        from openpyxl.worksheet._reader import WorkSheetParser

        rows: dict[int, dict[int, object]] = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wb = openpyxl.load_workbook(self.path, read_only=True, data_only=True, keep_links=False)
        try:
            ws = wb[self.name]
            with ws._get_source() as src:
                parser = WorkSheetParser(src, ws._shared_strings, data_only=True, epoch=wb.epoch,
                                         date_formats=wb._date_formats, timedelta_formats=wb._timedelta_formats)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    for _, row in parser.parse():
                        for c in row:
                            v = _calamine_value(c["value"], c["data_type"])
                            if v != "":
                                rows.setdefault(c["row"], {})[c["column"]] = v
        finally:
            wb.close()
        head = rows.pop(1, {})
        width = max(head, default=0)
        if width == 0:  # no header: the reader reports it when anything else is there
            anything = next((v for r in rows.values() for v in r.values()), "")
            return _grid([[""], [anything]]), [1, 2]
        numbers = [1] + sorted(r for r, cells in rows.items() if any(c <= width for c in cells))
        grid = np.empty((len(numbers), width), dtype=object)
        grid[:] = ""
        for i, r in enumerate(numbers):
            for c, v in (head if r == 1 else rows[r]).items():
                if c <= width:
                    grid[i, c - 1] = v
        return grid, numbers


def _calamine_value(v, data_type: str):
    if v is None or data_type == "e":
        return ""
    if isinstance(v, str):
        return "" if not v.strip() else v
    if isinstance(v, bool):
        return v
    if isinstance(v, int):
        return float(v)
    if isinstance(v, dt.datetime) and (v.hour, v.minute, v.second, v.microsecond) == (0, 0, 0, 0):
        return v.date()
    return v


def _unreadable_sheet(rel: str, name: str, e: BaseException) -> Finding:
    return Finding(ERROR, f"Sheet {name} of {rel} could not be read: {_short(e)}.",
                   hint="Open the workbook in Excel, check the sheet, and save it again.", file=rel, sheet=name,
                   code="unreadable")


def _take(events, path: Path, rel: str, result: ReadResult) -> None:
    """Apply :func:`_load`'s events to ``result``: frames of the parsed sheets (formulas
    without a cached value read as their text), findings, ignored sheets."""
    from .formulas import uncached_formulas

    formulas: dict = {}
    for event, *args in events:
        if event == "finding":
            result.findings.append(args[0])
        elif event == "opened":
            result.files.append(path)
            formulas = uncached_formulas(path, args[0])
        elif event == "ignored":
            name, header = args
            result.ignored.append((rel, name))
            kind = looks_like(header)
            if kind is not None:
                result.findings.append(Finding(
                    WARNING, f"Sheet {name} of {rel} is not read: its name is not a kind closebatch reads, but its "
                    f"header row holds the columns of {kind}. It looks like {kind}: rename the sheet to read it.",
                    hint=f"If its rows belong to the books, rename the sheet {kind}; if they do not, this warning "
                         "can be ignored.", file=rel, sheet=name, cell="A1",
                    code="looks-like-kind"))
        else:
            name, kind, box = args
            sheet = box.pop()
            if isinstance(sheet, arrow_cells.Cells):  # no formulas: nothing to fill in
                with _gc_paused():
                    raw = _arrow_frame(sheet, rel, name, kind, result.findings)
                del sheet
                if raw is not None:
                    result.sheets.append(raw)
                continue
            numbers = None
            try:
                with _gc_paused():
                    if isinstance(sheet, _Sparse):
                        grid, numbers = sheet.grid()
                    else:
                        grid = _grid(sheet.to_python(skip_empty_area=False))
            except BaseException as e:  # noqa: BLE001
                if not _parser_failure(e):
                    raise
                result.findings.append(_unreadable_sheet(rel, name, e))
                continue
            finally:
                del sheet
            at = {r: i for i, r in enumerate(numbers)} if numbers is not None else None
            for r0, c0, text in formulas.get(name, []):
                i = r0 if at is None else at.get(r0 + 1, grid.shape[0])
                if i < grid.shape[0] and c0 < grid.shape[1] and grid[i, c0] in ("", None):
                    grid[i, c0] = text
                    if r0 > 0:
                        result.findings.append(Finding(
                            WARNING, f"The formula {text} has no calculated value saved in the workbook, so it is "
                            "read as its text.", hint="Open the workbook in Excel and save it, so that the "
                            "formula's result is stored, or type the value.", file=rel, sheet=name,
                            cell=f"{column_letter(c0)}{r0 + 1}", value=text, code="uncached-formula"))
            with _gc_paused():
                raw = _sheet_frame(grid, rel, name, kind, result.findings, numbers)
            del grid
            if raw is not None:
                result.sheets.append(raw)


def _read_in_threads(paths: list[Path], rels: list[str], jobs: int, progress, result: ReadResult) -> None:
    """Read the workbooks as a pipeline: forked processes guard them (one per job, each
    taking its share of the workbooks one after the other, :func:`guard_shares`;
    :class:`closebatch.io.parallel.InChild`; where there is no fork, one thread), ``jobs``
    threads parse those already guarded (calamine, without holding the interpreter's lock;
    ``jobs - 1`` beside a guarding thread) and this thread turns each parsed workbook into
    frames as soon as it is parsed (which holds the lock), with at most ``jobs`` workbooks
    parsed or being parsed at a time (their cells wait in calamine's memory).  The guard is
    half of reading's work that holds the lock (regular expressions over every sheet's XML):
    in processes of their own the guards no longer take turns with the frames, and a second
    parse fits beside them (at 1M lines on two cores: 14.0-14.4 s against 15.6-16.1 s with a
    guarding thread and one parse, for about 70 MB more at the peak).  Two guards keep both
    cores at work while the largest workbook waits for its verdict, and taking a workbook as
    soon as it is parsed keeps a parsing thread from waiting for an earlier, larger one (at
    1M lines: 7.9 s against 8.7 s, at 200k 1.5 s against 1.9 s).  The largest workbooks go
    first, so that the last step is short; each workbook's sheets and findings are kept apart
    and added in folder order, so the result is the one a single job gives."""
    def size(p: Path) -> int:
        try:
            return p.stat().st_size
        except OSError:
            return 0

    parts = [ReadResult() for _ in paths]
    sizes = [size(p) for p in paths]
    order = sorted(range(len(paths)), key=lambda i: -sizes[i])
    shares = guard_shares([sizes[i] for i in order], jobs if parallel.can_fork() else 1)
    guards = [parallel.InChild(_inspect, [(paths[order[k]], rels[order[k]]) for k in share]) for share in shares]
    guarding = [ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"closebatch-guard{g}")
                for g in range(len(guards))]
    forked = all(g.forked for g in guards)
    parsing = ThreadPoolExecutor(max_workers=jobs if forked else max(1, jobs - 1),
                                 thread_name_prefix="closebatch-parse")
    try:
        inspected = {order[k]: guarding[g].submit(guards[g].next)  # each guard's verdicts in its order
                     for g, share in enumerate(shares) for k in share}
        parsed: dict = {}  # future -> workbook

        def parse(k: int) -> None:  # the k-th workbook in order, all of its sheets
            if k < len(order):
                i = order[k]
                parsed[parsing.submit(lambda: list(_load(paths[i], rels[i], inspected[i].result)))] = i

        for k in range(jobs):
            parse(k)
        for k in range(len(order)):  # each as soon as it is parsed: a parse never waits for an earlier one's turn
            done = wait(parsed, return_when=FIRST_COMPLETED).done
            finished = next(f for f in parsed if f in done)  # (the first submitted of those done)
            i = parsed.pop(finished)
            if progress:
                progress(k, len(paths), rels[i])
            events = finished.result()
            parse(k + jobs)
            _take(events, paths[i], rels[i], parts[i])
    finally:
        parsing.shutdown(cancel_futures=True)
        for pool in guarding:
            pool.shutdown(cancel_futures=True)
        for g in guards:
            g.close()
    for part in parts:
        result.sheets += part.sheets
        result.findings += part.findings
        result.ignored += part.ignored
        result.files += part.files


def guard_shares(sizes: list[int], guards: int) -> list[list[int]]:
    """The workbooks (positions in ``sizes``, largest first) each of at most ``guards``
    guarding processes takes, in order: each next workbook to the guard with the fewest bytes
    so far (ties to the lower one).  The largest workbook's verdict alone takes about a
    second at 1M lines: with one guard a core waited for it."""
    shares: list[list[int]] = [[] for _ in range(max(1, min(guards, len(sizes))))]
    load = [0] * len(shares)
    for k, n in enumerate(sizes):
        g = min(range(len(shares)), key=lambda j: (load[j], j))
        shares[g].append(k)
        load[g] += n
    return [s for s in shares if s]


def _short(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text[:300]


def read_books(folder: Path, exclude: tuple = (), progress=None, jobs: int | None = None) -> ReadResult:
    """Read every workbook of a books folder.  ``progress(done, total, name)`` is called per file.

    ``jobs`` > 1 reads workbooks in a pipeline of threads (see :func:`_read_in_threads`);
    the result (sheets, findings, their order) is the same as with one job, only ``progress``
    hears of the files in the order they are read, the largest first."""
    folder = Path(folder)
    result = ReadResult(root=folder)
    if not folder.is_dir():
        result.findings.append(Finding(ERROR, f"{folder} is not a folder.", hint="Give the path of the books folder.",
                                       code="no-books"))
        return result
    paths, findings, skipped = discover(folder, exclude)
    result.findings.extend(findings)
    result.skipped.extend(skipped)
    rels = [p.relative_to(folder).as_posix() for p in paths]
    if jobs is None or jobs <= 1 or len(paths) <= 1:
        for i, (p, rel) in enumerate(zip(paths, rels)):
            if progress:
                progress(i, len(paths), rel)
            read_workbook(p, rel, result)
    else:
        _read_in_threads(paths, rels, jobs, progress, result)
    if progress:
        progress(len(paths), len(paths), "")
    for kind in UNIQUE_KINDS:
        sheets = result.frames(kind)
        if len(sheets) > 1:
            names = ", ".join(f"{s.file}!{s.sheet}" for s in sheets)
            result.findings.append(Finding(ERROR, f"There may be only one {kind} sheet in the books folder; found "
                                           f"{len(sheets)}: {names}.", hint=f"Keep one {kind} sheet and remove the "
                                           "others (or merge their rows into it).", file=sheets[1].file,
                                           sheet=sheets[1].sheet, code="duplicate-kind"))
    result.findings.extend(_repeated_sheets(result.sheets))
    return result


def _content_key(s: RawSheet, rows: np.ndarray | None = None) -> str:
    """A hash of the sheet's cells (``rows``: of those rows only)."""
    import hashlib

    cols = sorted(c for c in s.frame.columns if c not in ("_file", "_sheet", "_row", "source"))
    h = hashlib.sha256("\x1f".join(cols).encode())
    values = (s.frame if rows is None else s.frame.iloc[rows])[cols].astype(str)
    h.update(pd.util.hash_pandas_object(values, index=False).to_numpy().tobytes())
    return h.hexdigest()


_ENDS = 16  # rows at each end of a sheet compared before the whole sheet is


def _repeated_sheets(sheets: list[RawSheet]) -> list[Finding]:
    """A sheet that repeats another workbook's sheet of the same kind row for row: the same
    workbook dropped in twice under two names, whose rows would otherwise count twice
    (an opening trial balance twice still sums to zero).  Only sheets of equal shape are
    compared, and whole only when their first and last rows are the same, so this costs
    nothing in the usual case (two journals of the same length took 0.3 s at 200k lines)."""
    out = []
    by_shape: dict = {}
    for s in sheets:
        if s.kind in UNIQUE_KINDS or not len(s.frame):
            continue
        cols = frozenset(c for c in s.frame.columns if c not in ("_file", "_sheet", "_row", "source"))
        by_shape.setdefault((s.kind, len(s.frame), cols), []).append(s)
    for (kind, n, _), group in by_shape.items():
        if len(group) < 2:
            continue
        # sheets whose first and last rows differ differ: only the others are hashed whole
        ends = np.unique(np.r_[0:min(n, _ENDS), max(n - _ENDS, 0):n])
        alike: dict = {}
        for s in group:
            alike.setdefault(_content_key(s, ends), []).append(s)
        twins = {id(s) for same in alike.values() if len(same) > 1 for s in same}
        group = [s for s in group if id(s) in twins]  # (in their order)
        seen: dict = {}
        for s in group:
            first = seen.setdefault(_content_key(s), s)
            if first is not s and first.file != s.file:
                out.append(Finding(ERROR, f"The {kind} sheet of {s.file} repeats the {kind} sheet of {first.file} "
                                   f"row for row ({n} rows): the same workbook seems to have been dropped in twice, "
                                   "and its rows would count twice.",
                                   hint=f"Remove {s.file} (or {first.file}) from the books folder.", file=s.file,
                                   sheet=s.sheet, code="duplicate-workbook"))
    return out


def concat(sheets: list[RawSheet]) -> pd.DataFrame:
    """One frame of a kind's rows from several sheets (columns unioned; missing = None)."""
    frames = [s.frame for s in sheets]
    if not frames:
        return pd.DataFrame({"_file": pd.Series([], dtype=object), "_sheet": pd.Series([], dtype=object),
                             "_row": pd.Series([], dtype="int64"), "source": pd.Series([], dtype="str")})
    df = pd.concat(frames, ignore_index=True, sort=False)
    # (only the columns that are not object already: a no-op astype costs milliseconds a sheet)
    other = {c: object for c in df.columns if c not in ("_row", "source") and df[c].dtype != object}
    return df.astype(other) if other else df
