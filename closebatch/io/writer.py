"""Writing output workbooks with xlsxwriter: readable, reproducible, never formulas.

Every workbook is opened with ``strings_to_formulas``/``strings_to_urls`` off and every text
cell is written with ``write_string``, so a description such as ``=HYPERLINK(...)`` stays
text.  Workbook properties carry a fixed date, so the same inputs give the same bytes.
Sheets are written row by row (never through ``DataFrame.to_excel``), with column formats,
a frozen header row, an autofilter and widths fitted to the content.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xlsxwriter

from .. import money

FIXED_DATE = dt.datetime(2000, 1, 1)
OPTIONS = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False,
           "nan_inf_to_errors": True}
MAX_ROWS = 1_048_575  # data rows below a header
BLOCK = 50_000  # rows turned into cell values at a time
MAX_TEXT = 32_767  # characters in a cell, as Excel counts them (UTF-16 code units)


def excel_text(t: str) -> str:
    """``t`` cut to what one Excel cell holds: 32,767 UTF-16 code units (a character
    outside the Basic Multilingual Plane, such as an emoji, counts twice), never splitting
    a surrogate pair.  Shorter text is returned unchanged."""
    if len(t) <= MAX_TEXT // 2:
        return t
    units = t.encode("utf-16-le", "surrogatepass")
    if len(units) <= 2 * MAX_TEXT:
        return t
    return units[:2 * MAX_TEXT].decode("utf-16-le", "ignore")


@dataclass
class Column:
    """How to write one column.  ``kind``: text, int, date, money, rate, pct, bool, number,
    link (each value a ``(location, text)`` pair such as ``("'Lines'!A5", "rows 5-9")``).
    For money columns ``scale`` is an int or the name of a column holding a currency code
    (minor-unit amounts are then divided by that currency's digits)."""

    name: str
    kind: str = "text"
    scale: object = 2
    width: float | None = None
    header: str | None = None


@dataclass
class Sheet:
    name: str
    frame: pd.DataFrame
    columns: list = field(default_factory=list)  # Column; default: every column as text/number
    title: str = ""  # an optional title line above the table (then the header is on row 2)
    totals: list = field(default_factory=list)  # money columns to total at the bottom
    freeze: bool = True

    @property
    def cells(self) -> int:
        """Rows times columns: what writing the sheet costs."""
        return len(self.frame) * max(1, len(self.columns or self.frame.columns))


def _fmt_money(scale: int) -> str:
    dec = "." + "0" * scale if scale > 0 else ""
    return f"#,##0{dec};-#,##0{dec};0{dec}" if scale else "#,##0;-#,##0;0"


class Book:
    """A workbook being written: caches formats, writes sheets.

    ``stream=True`` opens the workbook in xlsxwriter's constant-memory mode: each row goes
    to disk as soon as the next one starts, so a million-line sheet costs no memory; every
    sheet of such a workbook must then be written top to bottom (which :meth:`write` does).
    Text is stored inline in the cells instead of in a shared-strings table."""

    def __init__(self, path: Path, title: str | None = None, stream: bool = False):
        self.path = Path(path)
        self.wb = xlsxwriter.Workbook(str(self.path), {**OPTIONS, "constant_memory": bool(stream)})
        self.wb.set_properties({"created": FIXED_DATE, "author": "closebatch",
                                "title": title if title is not None else self.path.stem})
        self.wb.set_calc_mode("auto")
        self._formats = {}
        self._links: dict[str, int] = {}  # links written per worksheet
        self.header = self.fmt(bold=True, bg_color="#DDEBF7", border=1, text_wrap=True, valign="top")
        self.title = self.fmt(bold=True, font_size=13)

    def fmt(self, **props):
        key = tuple(sorted(props.items()))
        if key not in self._formats:
            self._formats[key] = self.wb.add_format(props)
        return self._formats[key]

    def money_fmt(self, scale: int, bold=False, **props):
        """The number format of amounts with ``scale`` decimals (plus other ``props``)."""
        return self.fmt(num_format=_fmt_money(int(scale)), bold=bold, **props)

    def write(self, sheet: Sheet):
        """Write ``sheet`` on a new worksheet, row after row: each column is first turned
        into a list of cell values (None for a blank cell) with its format, whole-column
        (vectorised), and the rows are then written cell by cell.  A frame longer than a
        worksheet holds goes on over continuation sheets (``Lines (2)``, ``Lines (3)``, …;
        :func:`continuation_of` reads the name back), never cut off.  Returns the last
        worksheet; :attr:`next_row` is the first row below what was written on it."""
        df = sheet.frame
        room = MAX_ROWS - (1 if sheet.title else 0) - (1 if sheet.totals else 0)
        starts = list(range(0, len(df), room)) or [0]
        for k, start in enumerate(starts):
            name = sheet.name[:31] if k == 0 else continued(sheet.name, k + 1)
            ws = self._write_part(ws_name=name, sheet=sheet, df=df.iloc[start:start + room],
                                  last=k == len(starts) - 1)
        return ws

    def _write_part(self, ws_name: str, sheet: Sheet, df: pd.DataFrame, last: bool):
        ws = self.wb.add_worksheet(sheet_name(ws_name, (w.name for w in self.wb.worksheets())))
        cols = sheet.columns or [Column(c, _guess(df[c])) for c in df.columns]
        top = 0
        if sheet.title:
            ws.write_string(0, 0, excel_text(sheet.title), self.title)
            top = 1
        n = len(df)
        # a block of rows at a time: the cell values of a whole million-row sheet as Python
        # objects would take gigabytes
        for start in range(0, max(n, 1), BLOCK):
            block = df.iloc[start:start + BLOCK]
            plans = [self._plan(ws, c, block, len(block)) for c in cols]
            if start == 0:  # widths from the first block
                for j, (c, plan) in enumerate(zip(cols, plans)):
                    ws.set_column(j, j, c.width or max(len(c.header or c.name) + 2, plan[3]))
                    ws.write_string(top, j, excel_text(str(c.header or c.name)), self.header)
            write_cells(ws, top + 1 + start, [(j, p[0], p[1], p[2]) for j, p in enumerate(plans)], len(block))
        self.next_row = top + 1 + n
        if sheet.totals and last and len(sheet.frame):
            r = self.next_row
            ws.write_string(r, 0, "Total", self.fmt(bold=True, top=1))
            for j, c in enumerate(cols):
                if c.name in sheet.totals:
                    scale = c.scale if isinstance(c.scale, int) else 2
                    total = int(sheet.frame[c.name].fillna(0).to_numpy(dtype="int64").sum())
                    ws.write_number(r, j, float(money.from_minor(np.array([total]), scale)[0]),
                                    self.money_fmt(scale, bold=True, top=1))
            self.next_row += 1
        if sheet.freeze:
            ws.freeze_panes(top + 1, 0)
        if cols:
            ws.autofilter(top, 0, top + max(n, 1), len(cols) - 1)
        return ws

    def _plan(self, ws, c: Column, df: pd.DataFrame, n: int):
        """``(values, write, format, width)`` of one column's first ``n`` cells: ``values`` a
        list (None = leave the cell blank), ``write`` the worksheet method, ``format`` one
        format for the column or None when each value is a ``(value, format)`` pair."""
        s = df[c.name].iloc[:n] if c.name in df else pd.Series([None] * n, dtype=object)
        if c.kind == "money":
            scale = (money.scales(df[c.scale].iloc[:n].to_numpy()) if isinstance(c.scale, str)
                     else np.full(n, int(c.scale), dtype="int64"))
            vals = money.from_minor(s.fillna(0).to_numpy(dtype="int64"), scale)
            width = min(18, max((len(f"{v:,.2f}") for v in vals[:200].tolist()), default=8) + 2)
            kinds = np.unique(scale)
            if len(kinds) <= 1:
                f = self.money_fmt(int(kinds[0]) if len(kinds) else 2)
                return vals.tolist(), ws.write_number, f, width
            fmts = {int(k): self.money_fmt(int(k)) for k in kinds}
            pairs = list(zip(vals.tolist(), [fmts[k] for k in scale.tolist()]))
            return pairs, lambda r, j, v, _f: ws.write_number(r, j, v[0], v[1]), None, width
        if c.kind in ("number", "rate", "int", "pct"):
            f = {"rate": self.fmt(num_format="0.000000###"), "int": self.fmt(num_format="0"),
                 "pct": self.fmt(num_format="0.00%")}.get(c.kind) or self.fmt(num_format="#,##0.########")
            vals = pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64")
            return _blank_nan(vals), ws.write_number, f, 10 if c.kind == "pct" else 12
        if c.kind == "date":
            return _blank_nan(np.asarray(excel_serials(s), dtype="float64")), ws.write_number, \
                self.fmt(num_format="yyyy-mm-dd"), 11
        if c.kind == "link":  # values: (location in this workbook, text) pairs, or None
            return s.tolist(), self._link_writer(ws), self.fmt(font_color="blue", underline=1), 14
        if c.kind == "bool":
            return np.where(s.fillna(False).to_numpy(dtype=bool), "Y", "N").tolist(), ws.write_string, None, 0
        vals = text_cells(s)
        longest = max((len(t) for t in vals[:500] if t is not None), default=0)
        return vals, ws.write_string, None, min(60, longest + 2)

    def _link_writer(self, ws):
        """Write ``(location, text)`` as a link within the workbook; past Excel's limit of
        links on a sheet (counted across the blocks of a sheet), the text alone."""
        def write(r, j, v, f):
            count = self._links[ws.name] = self._links.get(ws.name, 0) + 1
            if count <= MAX_LINKS:
                ws.write_url(r, j, f"internal:{v[0]}", f, excel_text(v[1]))
            else:
                ws.write_string(r, j, excel_text(v[1]))
        return write

    def close(self):
        close_workbook(self.wb)


def close_workbook(wb) -> None:
    """Close an xlsxwriter workbook (which writes the file); a file system error (a full disk,
    a permission) comes out as the ``OSError`` it is, not wrapped in xlsxwriter's own."""
    from xlsxwriter.exceptions import FileCreateError

    try:
        wb.close()
    except FileCreateError as e:
        cause = e.args[0] if e.args and isinstance(e.args[0], OSError) else e.__context__
        if isinstance(cause, OSError):
            raise cause from None
        raise


_ILLEGAL_IN_SHEET_NAME = re.compile(r"[\[\]:*?/\\\x00-\x1f]")


def units(text: str) -> int:
    """Length of ``text`` as Excel counts it (UTF-16 code units: an emoji counts 2)."""
    return sum(2 if ord(c) > 0xFFFF else 1 for c in text)


def fit(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-16 units, never inside a character."""
    out, n = [], 0
    for c in text:
        w = 2 if ord(c) > 0xFFFF else 1
        if n + w > limit:
            break
        out.append(c)
        n += w
    return "".join(out)


def sheet_name(text: str, taken=()) -> str:
    """A legal worksheet name made from ``text`` (an entity code, a report's name): at most 31
    UTF-16 units, none of ``[ ] : * ? /`` nor a backslash or control characters, no apostrophe
    at either end, and not one of ``taken`` (compared without case; ``Name (2)``, ``Name (3)``…
    then).  A legal, free name is kept as it is."""
    name = _ILLEGAL_IN_SHEET_NAME.sub("_", str(text))
    name = fit(name, 31)
    if name.startswith("'"):
        name = "_" + name[1:]
    if name.endswith("'"):
        name = name[:-1] + "_"
    if not name.strip():
        name = "Sheet"
    seen = {str(t).lower() for t in taken}
    base, k = name, 2
    while name.lower() in seen:
        suffix = f" ({k})"
        name = fit(base, 31 - len(suffix)) + suffix
        k += 1
    return name


def continued(name: str, k: int) -> str:
    """The name of the ``k``-th sheet (k >= 2) a too-long table goes on over: ``Lines (2)``."""
    suffix = f" ({k})"
    return name[:31 - len(suffix)] + suffix


_CONTINUED = re.compile(r"^(.*) \((\d+)\)$")


def continuation_of(name: str, names) -> str | None:
    """The sheet among ``names`` that sheet ``name`` continues (see :func:`continued`), or None."""
    m = _CONTINUED.match(name)
    if not m or int(m.group(2)) < 2:
        return None
    base = m.group(1)
    if base in names:
        return base
    if len(name) < 31:  # the base name was not shortened to make room for the suffix
        return None
    return next((n for n in names if n.startswith(base) and not _CONTINUED.match(n)), None)


def write_cells(ws, first_row: int, plans: list, n: int) -> None:
    """Write ``n`` rows from ``first_row`` down: ``plans`` holds per column ``(column index,
    values, write, format)`` as :meth:`Book._plan` makes them.  Row by row, so it suits a
    constant-memory worksheet; a None value leaves its cell blank."""
    for i in range(n):
        r = first_row + i
        for j, vals, write, f in plans:
            v = vals[i]
            if v is not None:
                write(r, j, v, f)


MAX_LINKS = 65_530  # hyperlinks Excel keeps on one worksheet


def _blank_nan(vals: np.ndarray) -> list:
    """Floats as a list with None where the value is NaN (a blank cell)."""
    out = vals.astype(object)
    out[np.isnan(vals)] = None
    return out.tolist()


def text_cells(s: pd.Series) -> list:
    """A column as the text of its cells: None for a missing or empty value, other values
    as ``str``, each cut to what one Excel cell holds (:func:`excel_text`)."""
    arr = s.to_numpy(dtype=object)
    missing = pd.isna(arr)
    out = [None if m else (v if type(v) is str else str(v)) or None for v, m in zip(arr.tolist(), missing.tolist())]
    if any(t is not None and len(t) > MAX_TEXT // 2 for t in out):
        out = [t if t is None else excel_text(t) for t in out]
    return out


def excel_serials(dates: pd.Series) -> list:
    """Dates as Excel serial day numbers (floats; NaN for blanks), to write as numbers with a
    date format: the same cell Excel holds, without a datetime object per cell."""
    d = pd.to_datetime(dates).astype("datetime64[ns]")
    days = (d - pd.Timestamp("1899-12-30")).dt.total_seconds().to_numpy() / 86400.0
    days = np.where(d.to_numpy() < np.datetime64("1900-03-01"), days - 1, days)  # Excel's 1900 leap day
    return days.tolist()


def _guess(s: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(s):
        return "bool"
    if pd.api.types.is_datetime64_any_dtype(s):
        return "date"
    if pd.api.types.is_numeric_dtype(s):
        return "number"
    return "text"


def write_workbook(path: Path, sheets: list[Sheet], title: str | None = None) -> Path:
    """Write ``sheets`` to ``path``; ``title`` (default: the file's stem) goes into the
    workbook's properties, so a file written under a temporary name still gets its own.
    Written in constant-memory mode: each sheet is a table written top to bottom."""
    book = Book(path, title, stream=True)
    for s in sheets:
        book.write(s)
    book.close()
    return Path(path)
