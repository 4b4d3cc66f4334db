"""Reading a books folder (spec section 1).

Workbooks are recognised by their sheet names, never their file names.  Every kind's rows
from every workbook are concatenated into one raw frame of Python values with normalised
column names and four lineage columns: ``_file`` (path relative to the books folder),
``_sheet`` (the sheet's name as written), ``_row`` (the Excel row number) and ``source``
(``file!sheet!row``).  Typing and validation happen later (:mod:`closebatch.validate`).

Reading uses python-calamine, which keeps text as text (``"00123"`` stays a string) and
rejects XML entities.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..core import ERROR, WARNING, Finding

KINDS = ("Settings", "Entities", "Accounts", "Periods", "TrialBalance", "Journals", "Rates", "Allocations",
         "Statistics", "Eliminations", "HistoricalRates", "Subledgers", "Tasks", "Users", "Statements")
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


def column_letter(i: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


@dataclass
class RawSheet:
    kind: str
    file: str
    sheet: str
    frame: pd.DataFrame  # normalised columns (object values) + lineage
    letters: dict  # normalised column -> Excel letter


@dataclass
class ReadResult:
    sheets: list = field(default_factory=list)  # RawSheet
    findings: list = field(default_factory=list)
    ignored: list = field(default_factory=list)  # (file, sheet) read but not a known kind
    files: list = field(default_factory=list)  # Path of every workbook read
    root: Path | None = None  # the books folder

    def frames(self, kind: str) -> list[RawSheet]:
        return [s for s in self.sheets if s.kind == kind]


def discover(folder: Path, exclude: tuple = ()) -> tuple[list[Path], list[Finding]]:
    """Workbooks of the books folder, sorted by relative path; skips lock files, hidden
    files and folders, the tool's own ``out/`` and ``ledger/`` folders."""
    found, findings = [], []
    excluded = {Path(p).resolve() for p in exclude}
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder)
        if any(part.startswith(".") or part.startswith("~$") for part in rel.parts):
            continue
        if any(part.lower() in SKIP_DIRS for part in rel.parts[:-1]):
            continue
        if any(p.resolve().is_relative_to(x) for x in excluded):
            continue
        if not p.is_file():
            continue
        suffix = p.suffix.lower()
        if suffix in EXCEL_SUFFIXES:
            found.append(p)
        elif suffix in OTHER_SPREADSHEETS:
            findings.append(Finding(ERROR, f"{rel.as_posix()} is {OTHER_SPREADSHEETS[suffix]}, which closebatch does not "
                                    "read.", hint="Open it in Excel and save it as an Excel Workbook (.xlsx), then remove "
                                    "the original from the books folder.", file=rel.as_posix(), code="unsupported-file"))
    return found, findings


def check_zip(path: Path, rel: str) -> Finding | None:
    """Refuse a workbook that is not a zip, is damaged, encrypted, or would inflate absurdly
    (see :mod:`closebatch.io.guard`)."""
    from . import guard

    return guard.inspect(path, rel, lambda name: name.strip().lower() in _KIND_BY_NAME)[0]


def _parser_failure(e: BaseException) -> bool:
    """True for an exception a parser may raise on a bad file (anything but an interrupt).
    python-calamine turns a Rust panic into ``PanicException``, a ``BaseException``."""
    return not isinstance(e, (KeyboardInterrupt, SystemExit, GeneratorExit))


def _sheet_frame(rows: list, rel: str, sheet: str, kind: str, findings: list) -> RawSheet | None:
    if not rows or not any(v not in ("", None) for v in rows[0]):
        if rows and any(any(v not in ("", None) for v in r) for r in rows):
            findings.append(Finding(ERROR, f"Sheet {sheet} has no header on row 1.",
                                    hint="Put the column names on row 1, with the data below them.", file=rel,
                                    sheet=sheet, cell="A1", code="no-header"))
        return None
    header = [norm_header(h) for h in rows[0]]
    width = max(i for i, h in enumerate(header) if h) + 1
    header = header[:width]
    letters, keep = {}, []
    for i, h in enumerate(header):
        if not h:
            continue
        if h in letters:
            findings.append(Finding(ERROR, f"Column {h!r} appears twice in the header of sheet {sheet} "
                                    f"({letters[h]}1 and {column_letter(i)}1).", hint="Rename or delete one of them.",
                                    file=rel, sheet=sheet, cell=f"{column_letter(i)}1", column=h, value=str(rows[0][i]),
                                    code="duplicate-column"))
            continue
        letters[h] = column_letter(i)
        keep.append(i)
    body = [r[:width] + [""] * (width - len(r)) if len(r) < width else r[:width] for r in rows[1:]]
    arr = np.array(body, dtype=object).reshape(len(body), width) if body else np.empty((0, width), dtype=object)
    arr = arr[:, keep]
    cols = [header[i] for i in keep]
    df = pd.DataFrame(arr, columns=cols, dtype=object)
    blank = (df == "") | df.isna()
    df = df.mask(blank, None)
    nonempty = ~blank.all(axis=1).to_numpy()
    df["_row"] = np.arange(2, len(df) + 2, dtype="int64")
    df = df[nonempty].reset_index(drop=True)
    df["_file"] = rel
    df["_sheet"] = sheet
    df["source"] = rel + "!" + sheet + "!" + df["_row"].astype(str)
    return RawSheet(kind=kind, file=rel, sheet=sheet, frame=df, letters=letters)


def read_workbook(path: Path, rel: str, result: ReadResult) -> None:
    from python_calamine import CalamineWorkbook

    from . import guard
    from .formulas import uncached_formulas

    try:
        bad, scans = guard.inspect(path, rel, lambda name: name.strip().lower() in _KIND_BY_NAME)
    except OSError as e:
        result.findings.append(Finding(ERROR, f"{rel} could not be opened: {e.strerror or e}.",
                                       hint="Close it in Excel (or any program holding it), check that you may read "
                                            "it, and run again.", file=rel, code="unreadable"))
        return
    if bad:
        result.findings.append(bad)
        return
    try:
        wb = CalamineWorkbook.from_path(str(path))
    except BaseException as e:  # noqa: BLE001 - any reader failure becomes a finding
        if not _parser_failure(e):
            raise
        result.findings.append(Finding(ERROR, f"{rel} could not be read: {_short(e)}.",
                                       hint="Open it in Excel and save it again as an Excel Workbook (.xlsx).",
                                       file=rel, code="unreadable"))
        return
    result.files.append(path)
    try:
        wanted = [n for n in wb.sheet_names if n.strip().lower() in _KIND_BY_NAME]
        formulas = uncached_formulas(path, {n for n in wanted if n in scans and scans[n].formulas})
        for name in wb.sheet_names:
            kind = _KIND_BY_NAME.get(name.strip().lower())
            if kind is None:
                result.ignored.append((rel, name))
                continue
            if name not in scans:  # never parse a sheet the guard did not check
                result.findings.append(Finding(ERROR, f"Sheet {name} of {rel} could not be located in the workbook's "
                                               "parts, so it was not read.", hint="Open the workbook in Excel and "
                                               "save it again.", file=rel, sheet=name, code="unreadable"))
                continue
            try:
                rows = wb.get_sheet_by_name(name).to_python(skip_empty_area=False)
            except BaseException as e:  # noqa: BLE001
                if not _parser_failure(e):
                    raise
                result.findings.append(Finding(ERROR, f"Sheet {name} of {rel} could not be read: {_short(e)}.",
                                               hint="Open the workbook in Excel, check the sheet, and save it again.",
                                               file=rel, sheet=name, code="unreadable"))
                continue
            for r0, c0, text in formulas.get(name, []):
                if r0 < len(rows) and c0 < len(rows[r0]) and rows[r0][c0] in ("", None):
                    rows[r0][c0] = text
                    if r0 > 0:
                        result.findings.append(Finding(
                            WARNING, f"The formula {text} has no calculated value saved in the workbook, so it is "
                            "read as its text.", hint="Open the workbook in Excel and save it, so that the "
                            "formula's result is stored, or type the value.", file=rel, sheet=name,
                            cell=f"{column_letter(c0)}{r0 + 1}", value=text, code="uncached-formula"))
            raw = _sheet_frame(rows, rel, name, kind, result.findings)
            if raw is not None:
                result.sheets.append(raw)
    finally:
        wb.close()


def _short(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text[:300]


def read_books(folder: Path, exclude: tuple = (), progress=None) -> ReadResult:
    """Read every workbook of a books folder.  ``progress(done, total, name)`` is called per file."""
    folder = Path(folder)
    result = ReadResult(root=folder)
    if not folder.is_dir():
        result.findings.append(Finding(ERROR, f"{folder} is not a folder.", hint="Give the path of the books folder.",
                                       code="no-books"))
        return result
    paths, findings = discover(folder, exclude)
    result.findings.extend(findings)
    for i, p in enumerate(paths):
        rel = p.relative_to(folder).as_posix()
        if progress:
            progress(i, len(paths), rel)
        read_workbook(p, rel, result)
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


def _content_key(s: RawSheet) -> str:
    import hashlib

    cols = sorted(c for c in s.frame.columns if c not in ("_file", "_sheet", "_row", "source"))
    h = hashlib.sha256("\x1f".join(cols).encode())
    values = s.frame[cols].astype(str)
    h.update(pd.util.hash_pandas_object(values, index=False).to_numpy().tobytes())
    return h.hexdigest()


def _repeated_sheets(sheets: list[RawSheet]) -> list[Finding]:
    """A sheet that repeats another workbook's sheet of the same kind row for row: the same
    workbook dropped in twice under two names, whose rows would otherwise count twice
    (an opening trial balance twice still sums to zero).  Only sheets of equal shape are
    compared, so this costs nothing in the usual case."""
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
                             "_row": pd.Series([], dtype="int64"), "source": pd.Series([], dtype=object)})
    df = pd.concat(frames, ignore_index=True, sort=False)
    return df.astype({c: object for c in df.columns if c != "_row"})
