"""Writing output workbooks with xlsxwriter: readable, reproducible, never formulas.

Every workbook is opened with ``strings_to_formulas``/``strings_to_urls`` off and every text
cell is written with ``write_string``, so a description such as ``=HYPERLINK(...)`` stays
text.  Workbook properties carry a fixed date, so the same inputs give the same bytes.
Sheets are written row by row (never through ``DataFrame.to_excel``), with column formats,
a frozen header row, an autofilter and widths fitted to the content.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import xlsxwriter

from .. import money
from . import fastcells
from .fastcells import Cells

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
                    ws.set_column(j, j, c.width or max(len(c.header or c.name) + 2, plan[1]))
                    ws.write_string(top, j, excel_text(str(c.header or c.name)), self.header)
            write_cells(ws, top + 1 + start, [(j, p[0]) for j, p in enumerate(plans)], len(block))
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
        """``(cells, width)`` of one column's first ``n`` cells: ``cells`` a
        :class:`~closebatch.io.fastcells.Cells` (the values, whole-column, with their format
        or formats), ``width`` the column's width fitted to them."""
        s = df[c.name].iloc[:n] if c.name in df else pd.Series([None] * n, dtype=object)
        if c.kind == "money":
            scale = (money.scales(df[c.scale].iloc[:n].to_numpy()) if isinstance(c.scale, str)
                     else np.full(n, int(c.scale), dtype="int64"))
            minor = s.fillna(0).to_numpy(dtype="int64")
            vals = np.asarray(money.from_minor(minor, scale), dtype="float64")
            width = min(18, max((len(f"{v:,.2f}") for v in vals[:200].tolist()), default=8) + 2)
            kinds = np.unique(scale)
            if len(kinds) <= 1:
                f = self.money_fmt(int(kinds[0]) if len(kinds) else 2)
                return Cells("number", vals, f, minor=minor, scale=scale), width
            fmts = [self.money_fmt(int(k)) for k in kinds]
            return Cells("number", vals, formats=fmts, pick=np.searchsorted(kinds, scale), minor=minor,
                         scale=scale), width
        if c.kind in ("number", "rate", "int", "pct"):
            f = {"rate": self.fmt(num_format="0.000000###"), "int": self.fmt(num_format="0"),
                 "pct": self.fmt(num_format="0.00%")}.get(c.kind) or self.fmt(num_format="#,##0.########")
            vals = pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64")
            return Cells("number", vals, f), 10 if c.kind == "pct" else 12
        if c.kind == "date":
            return Cells("number", np.asarray(excel_serials(s), dtype="float64"), self.fmt(num_format="yyyy-mm-dd")), 11
        if c.kind == "link":  # values: (location in this workbook, text) pairs, or None
            return Cells("link", s.tolist(), self.fmt(font_color="blue", underline=1), link=_Links(self, ws)), 14
        if c.kind == "bool":
            return Cells("string", pa.array(np.where(s.fillna(False).to_numpy(dtype=bool), "Y", "N"),
                                            pa.large_string())), 0
        vals = text_array(s)
        longest = max((len(t) for t in vals[:500].to_pylist() if t is not None), default=0)
        return Cells("string", vals), min(60, longest + 2)

    def close(self):
        close_workbook(self.wb)


class _Links:
    """Links within the workbook on one worksheet: ``(location, text)`` written as a link,
    and past Excel's limit of links on a sheet (counted across the blocks of a sheet) as the
    text alone, without the link format."""

    def __init__(self, book: Book, ws):
        self.book, self.ws = book, ws

    def take(self, count: int) -> int:
        """Count ``count`` more links on the sheet; how many of them are within the limit."""
        before = self.book._links.get(self.ws.name, 0)
        self.book._links[self.ws.name] = before + count
        return max(0, min(count, MAX_LINKS - before))

    def plain_text(self, v) -> str:
        return excel_text(v[1])

    def __call__(self, r: int, j: int, v, f) -> None:
        if self.take(1):
            self.ws.write_url(r, j, f"internal:{v[0]}", f, self.plain_text(v))
        else:
            self.ws.write_string(r, j, self.plain_text(v))


#: zlib level of the parts of every workbook written here (xlsxwriter's default is 6): level 1
#: deflates the XML of a large sheet four times as fast, into a file about 30 % larger.
COMPRESS_LEVEL = 1


#: Parts at least this large are deflated in :data:`DEFLATE_CHUNK` pieces on two threads.
DEFLATE_CHUNK = 4 << 20
DEFLATE_THREADS = 2


class _ZipFile(zipfile.ZipFile):
    """The zip file xlsxwriter writes a workbook into: parts deflated at
    :data:`COMPRESS_LEVEL`, a large part in pieces side by side (:class:`_ChunkedDeflate`)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("compresslevel", COMPRESS_LEVEL)
        super().__init__(*args, **kwargs)

    def write(self, filename, arcname=None, compress_type=None, compresslevel=None):
        """As :meth:`zipfile.ZipFile.write`, copying the part in 1 MB reads, not 8 KB ones."""
        if not self.fp or self._writing or compress_type is not None or compresslevel is not None:
            return super().write(filename, arcname, compress_type, compresslevel)
        zinfo = zipfile.ZipInfo.from_file(filename, arcname, strict_timestamps=self._strict_timestamps)
        if zinfo.is_dir():
            return super().write(filename, arcname)
        zinfo.compress_type = self.compression
        zinfo._compresslevel = self.compresslevel
        with open(filename, "rb") as src, self.open(zinfo, "w") as dest:
            shutil.copyfileobj(src, dest, 1 << 20)

    def _open_to_write(self, zinfo, force_zip64=False):
        dest = super()._open_to_write(zinfo, force_zip64)
        if zinfo.compress_type == zipfile.ZIP_DEFLATED and getattr(dest, "_compressor", None) is not None \
                and zinfo.file_size >= DEFLATE_CHUNK and DEFLATE_THREADS > 1:
            dest._compressor = _ChunkedDeflate(COMPRESS_LEVEL)
        return dest


class _ChunkedDeflate:
    """A raw deflate stream made of independently deflated pieces of :data:`DEFLATE_CHUNK`
    bytes (each ended by a sync flush, the last by the end of the stream), deflated on
    :data:`DEFLATE_THREADS` threads (zlib lets go of the interpreter's lock): what ``pigz``
    does.  The pieces fall where the data does, so the same data gives the same bytes
    whatever the threads do; any reader inflates it as one stream."""

    def __init__(self, level: int):
        from concurrent.futures import ThreadPoolExecutor

        self.level = level
        self.pending = bytearray()
        self.futures: list = []
        self.pool = ThreadPoolExecutor(DEFLATE_THREADS)

    def _deflate(self, data: bytes, last: bool) -> bytes:
        import zlib

        c = zlib.compressobj(self.level, zlib.DEFLATED, -15)
        return c.compress(data) + c.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)

    def _ready(self, wait: bool) -> bytes:
        out = []
        while self.futures and (wait or self.futures[0].done() or len(self.futures) > 2 * DEFLATE_THREADS):
            out.append(self.futures.pop(0).result())
        return b"".join(out)

    def compress(self, data) -> bytes:
        self.pending += data
        while len(self.pending) >= DEFLATE_CHUNK:
            piece = bytes(self.pending[:DEFLATE_CHUNK])
            del self.pending[:DEFLATE_CHUNK]
            self.futures.append(self.pool.submit(self._deflate, piece, False))
        return self._ready(wait=False)

    def flush(self, mode=None) -> bytes:
        try:
            self.futures.append(self.pool.submit(self._deflate, bytes(self.pending), True))
            self.pending = bytearray()
            return self._ready(wait=True)
        finally:
            self.pool.shutdown(wait=True)


def close_workbook(wb) -> None:
    """Close an xlsxwriter workbook (which writes the file, its parts deflated at
    :data:`COMPRESS_LEVEL`); a file system error (a full disk, a permission) comes out as the
    ``OSError`` it is, not wrapped in xlsxwriter's own."""
    from xlsxwriter import workbook as xw_workbook
    from xlsxwriter.exceptions import FileCreateError

    patched = getattr(xw_workbook, "ZipFile", None) is zipfile.ZipFile
    try:
        if patched:  # xlsxwriter opens its zip file by this name; only while this workbook closes
            xw_workbook.ZipFile = _ZipFile
        wb.close()
    except FileCreateError as e:
        cause = e.args[0] if e.args and isinstance(e.args[0], OSError) else e.__context__
        if isinstance(cause, OSError):
            raise cause from None
        raise
    finally:
        if patched:
            xw_workbook.ZipFile = zipfile.ZipFile


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
    cells)``, ``cells`` a :class:`~closebatch.io.fastcells.Cells` as :meth:`Book._plan` makes
    it; a blank value leaves its cell blank.  A constant-memory worksheet gets the whole
    block at once (:mod:`closebatch.io.fastcells`, the bytes xlsxwriter would write); any
    other, or with :data:`CELL_BY_CELL` set, cell by cell through xlsxwriter, row by row."""
    if not CELL_BY_CELL and fastcells.usable(ws):
        fastcells.write_rows(ws, first_row, plans, n)
        return
    cols = []
    for j, cells in plans:
        if cells.kind == "number":
            write = ws.write_number
        elif cells.kind == "link":
            write = cells.link
        else:
            write = ws.write_string
        cols.append((j, cells.cell_list()[:n], write, cells.format_list(n)))
    for i in range(n):
        r = first_row + i
        for j, vals, write, fmts in cols:
            v = vals[i]
            if v is not None:
                write(r, j, v, fmts[i])


#: Write every cell through xlsxwriter's API (the reference the block writer is tested
#: against; also set by ``CLOSEBATCH_CELL_BY_CELL=1`` in the environment).
CELL_BY_CELL = os.environ.get("CLOSEBATCH_CELL_BY_CELL", "") not in ("", "0")


MAX_LINKS = 65_530  # hyperlinks Excel keeps on one worksheet


def text_cells(s: pd.Series) -> list:
    """A column as the text of its cells: None for a missing or empty value, other values
    as ``str``, each cut to what one Excel cell holds (:func:`excel_text`)."""
    arr = s.to_numpy(dtype=object)
    missing = pd.isna(arr)
    out = [None if m else (v if type(v) is str else str(v)) or None for v, m in zip(arr.tolist(), missing.tolist())]
    if any(t is not None and len(t) > MAX_TEXT // 2 for t in out):
        out = [t if t is None else excel_text(t) for t in out]
    return out


def text_array(s: pd.Series) -> pa.Array:
    """A column as the text of its cells, an Arrow array: null for a missing or empty value,
    other values as ``str``, each cut to what one Excel cell holds (:func:`excel_text`).
    Text columns (pandas' ``str``) convert whole; others go value by value (:func:`text_cells`)."""
    if pd.api.types.is_string_dtype(s.dtype) and not pd.api.types.is_object_dtype(s.dtype):
        try:
            arr = pa.array(s, pa.large_string())
        except (pa.ArrowException, TypeError, ValueError):
            arr = None
        if arr is not None and not (len(arr) and pc.max(pc.utf8_length(arr)).as_py() or 0) > MAX_TEXT // 2:
            return pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.large_string()), arr)
    return pa.array(text_cells(s), pa.large_string())


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
