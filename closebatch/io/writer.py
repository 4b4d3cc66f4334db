"""Writing output workbooks with xlsxwriter: readable, reproducible, never formulas.

Every workbook is opened with ``strings_to_formulas``/``strings_to_urls`` off and every text
cell is written with ``write_string``, so a description such as ``=HYPERLINK(...)`` stays
text.  Workbook properties carry a fixed date, so the same inputs give the same bytes.
Sheets are written row by row (never through ``DataFrame.to_excel``), with column formats,
a frozen header row, an autofilter and widths fitted to the content.

Every column declares its kind (:class:`Column`); the writer renders from the kind and never
guesses from a column's name.  Headers are written as words (``Balance acct``,
``Opening net assets group``) that normalise back to the column's name when a sheet is read
(case, spaces, ``-`` and ``_`` are ignored).

Every sheet is print-ready (:func:`print_setup`): fitted to the page width, landscape when
the table is wide, the header row repeated on every page, the workbook, sheet and page
number in the page header and footer; long text wraps in a column of readable width, and a
number column is as wide as its widest value (never ``###``).  :meth:`Book.close` gives the
same setup to any sheet written by hand without one, and widens a print area to take in the
sheet's charts.

A table's cells are planned a column at a time (:class:`~closebatch.io.fastcells.Cells`) and
written a block of rows at a time by :mod:`closebatch.io.fastcells`, which builds the very
XML xlsxwriter would write for them (byte for byte; row heights included); where it cannot
(a worksheet not in constant-memory mode), cell by cell through xlsxwriter.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import xlsxwriter
import xlsxwriter.worksheet

from .. import money
from . import deflate, fastcells
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


KINDS = ("money", "count", "rate", "date", "code", "text", "flag", "percent", "year", "number", "link")
ALIASES = {"int": "count", "bool": "flag", "pct": "percent"}
ACRONYMS = {"cta": "CTA", "nci": "NCI", "fx": "FX", "id": "ID", "ytd": "YTD", "iso": "ISO", "ar": "AR", "ap": "AP"}
TEXT_WIDTH = 50  # characters: longer text wraps
WIDE = 110  # characters of column widths past which a sheet prints landscape


def readable(name: str) -> str:
    """A column name as a header a reader understands: ``opening_net_assets_group`` ->
    ``Opening net assets group``, ``cta_nci_share`` -> ``CTA NCI share``.  It normalises
    back to ``name`` (see :func:`closebatch.io.reader.norm_header`)."""
    words = [w for w in re.split(r"[_\s]+", str(name)) if w]
    out = [ACRONYMS.get(w.lower(), w) for w in words]
    if out and out[0] == words[0]:
        out[0] = out[0][:1].upper() + out[0][1:]
    return " ".join(out)


@dataclass
class Column:
    """How to write one column, declared by its ``kind``:

    * ``money``: minor-unit amounts; ``scale`` names the column holding each row's currency
      code (amounts are divided by that currency's digits), or is a fixed number of digits;
    * ``count`` (whole numbers), ``year`` (no thousands separator), ``rate`` (an exchange
      rate, up to 9 decimals), ``percent``, ``number`` (any other quantity, e.g. a statistic);
    * ``date``; ``flag`` (Y/N); ``code`` (an identifier, never wrapped); ``text`` (wrapped
      when long); ``link`` (each value a ``(location, text)`` pair such as
      ``("'Lines'!A5", "rows 5-9")``).

    ``int``, ``bool`` and ``pct`` are accepted for ``count``, ``flag`` and ``percent``.
    ``header`` defaults to the name, or to :func:`readable` of it on a sheet with ``words``.
    ``make``: for a link column, a function of a block of the frame's rows giving their pairs
    (the column itself need not be in the frame: a block's pairs are made as it is written)."""

    name: str
    kind: str = "text"
    scale: object = 2
    width: float | None = None
    header: str | None = None
    make: object = None

    def __post_init__(self):
        self.kind = ALIASES.get(self.kind, self.kind)
        if self.kind not in KINDS:
            raise ValueError(f"column {self.name!r}: unknown kind {self.kind!r} (one of {', '.join(KINDS)})")

    def title(self, words: bool = False) -> str:
        return self.header or (readable(self.name) if words else self.name)


@dataclass
class Sheet:
    name: str
    frame: pd.DataFrame
    columns: list = field(default_factory=list)  # Column; default: every column as text/number
    title: str = ""  # an optional title line above the table (then the header is on row 2)
    totals: list = field(default_factory=list)  # money columns to total at the bottom
    freeze: bool = True
    caption: str = ""  # what the table is, in the printed page header (default: the sheet's name)
    words: bool = False  # headers as words (readable()); the ledger's own tables keep the names
    order: np.ndarray | None = None  # the frame's rows in this order (positions), taken a block at a time
    # A sheet written while its last rows are still being made (the ledger journal's lines
    # while the close's steps run): ``order`` holds the rows known so far, which are the first
    # rows of the finished sheet; ``wait()`` returns the finished sheet (its whole frame and
    # order), and is called when a block needs a row past them, or at the end
    wait: Callable[[], "Sheet"] | None = None

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
    Text is stored inline in the cells instead of in a shared-strings table.  A workbook of
    at most :data:`IN_MEMORY_CELLS` ``cells`` (the caller's count, when it knows it) is built
    in memory instead, whether streamed or not: no temporary file per sheet and per part of
    the package (a third of what writing a small workbook costs).  ``tmpdir``: where its
    temporary files go (default: the system's)."""

    def __init__(self, path: Path, title: str | None = None, stream: bool = False, cells: int | None = None,
                 tmpdir: str | None = None):
        self.path = Path(path)
        small = cells is not None and cells <= IN_MEMORY_CELLS
        self.wb = xlsxwriter.Workbook(str(self.path), {**OPTIONS, "constant_memory": bool(stream) and not small,
                                                       "in_memory": small, **({"tmpdir": tmpdir} if tmpdir else {})})
        self.wb.worksheet_class = _Worksheet
        self.wb.set_properties({"created": FIXED_DATE, "author": "closebatch",
                                "title": title if title is not None else self.path.stem})
        self.wb.set_calc_mode("auto")
        self.name = title if title is not None else self.path.stem
        self._top = False  # cells aligned to the top (a sheet with wrapped text)
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
        worksheet; :attr:`next_row` is the first row below what was written on it, and
        :attr:`written` the sheet as written (a waiting sheet: the finished one)."""
        room = MAX_ROWS - (1 if sheet.title else 0) - (1 if sheet.totals else 0)
        if sheet.wait is not None and (sheet.order is None or sheet.totals):
            raise ValueError(f"sheet {sheet.name!r}: only a sheet of ordered rows without totals can wait for rows")
        self.written = sheet
        k = start = 0
        while True:
            name = sheet.name[:31] if k == 0 else continued(sheet.name, k + 1)
            if sheet.order is None:
                last = start + room >= len(sheet.frame)
                ws = self._write_part(ws_name=name, sheet=sheet, df=sheet.frame.iloc[start:start + room], last=last)
            else:
                if sheet.wait is not None and start and start >= len(sheet.order):
                    sheet = self.written = sheet.wait()  # the rows known so far filled the sheets so far
                    if start >= len(sheet.order):
                        return ws
                part = sheet
                if sheet.wait is not None and start + room <= len(sheet.order):
                    part = replace(sheet, wait=None)  # a continuation sheet's worth of rows known: written at once
                last = start + room >= len(sheet.order) and sheet.wait is None
                ws = self._write_part(ws_name=name, sheet=part, df=sheet.frame, last=last,
                                      rows=np.asarray(sheet.order)[start:start + room], first=start, room=room)
                sheet = self.written  # (finished while the part was written, if it waited)
                last = start + room >= len(sheet.order) and sheet.wait is None
            if last:
                return ws
            k, start = k + 1, start + room

    def _write_part(self, ws_name: str, sheet: Sheet, df: pd.DataFrame, last: bool, rows: np.ndarray | None = None,
                    first: int = 0, room: int = MAX_ROWS):
        """``df`` on a new worksheet, a block of rows at a time; with ``rows`` (positions, in the
        order written: the sheet's order from position ``first``, at most ``room`` of them),
        those rows of ``df``, only a block of them ever taken out of it.  A waiting sheet
        (:attr:`Sheet.wait`) is waited for when a block needs rows past ``rows`` (or when they
        are all written): the rest of the part is then written from the finished sheet
        (:attr:`written`), and the widths of its amounts are those of all its rows."""
        ws = self.wb.add_worksheet(sheet_name(ws_name, (w.name for w in self.wb.worksheets())))
        if not sheet.columns and len(df.columns):
            raise ValueError(f"sheet {sheet.name!r}: declare the kind of each column (Column), none is guessed")
        cols = sheet.columns
        top = 0
        if sheet.title:
            ws.write_string(0, 0, excel_text(sheet.title), self.title)
            top = 1
        n = len(df) if rows is None else len(rows)
        keep = [c for c in dict.fromkeys([c.name for c in cols] + [c.scale for c in cols
                                                                   if isinstance(c.scale, str)]) if c in df]
        if rows is not None:  # only the columns written are taken, a block at a time
            df = df[keep]
        waiting = sheet.wait
        start = 0
        widths, formats = [], []  # per column (from the first block)
        # a block of rows at a time: the cell values of a whole million-row sheet as Python
        # objects would take gigabytes
        while start < max(n, 1) or waiting is not None:
            if waiting is not None and start + BLOCK > n:
                done = waiting()  # the finished sheet: its first rows are those written so far
                waiting = None
                self.written = done
                rows = np.asarray(done.order)[first:first + room]
                df = done.frame[keep]
                n = len(rows)
                if start > 0 and n > BLOCK:  # the widest amount of all the part's rows (as at once)
                    for j, c in enumerate(cols):
                        if c.kind == "money" and c.name in df:
                            w = max(widths[j], self._money_widest(df[c.name], rows))
                            if w != widths[j]:
                                widths[j] = w
                                ws.set_column(j, j, w, formats[j])
                if start >= max(n, 1):
                    break
            if rows is None:
                block = df.iloc[start:start + BLOCK]
            else:
                pos = rows[start:start + BLOCK]
                block = take_rows(df, pos).set_axis(pd.RangeIndex(start, start + len(pos)))
            self._top = start > 0 and self._top
            plans = [self._plan(ws, c, block, len(block)) for c in cols]
            if start == 0 and not self._top and any(p[2] is not None for p in plans):
                self._top = True  # a sheet with wrapped text: every cell at the top of its row
                plans = [self._plan(ws, c, block, len(block)) for c in cols]
            if start == 0:  # widths from the first block (money: from the whole column)
                for j, (c, plan) in enumerate(zip(cols, plans)):
                    title = c.title(sheet.words)
                    w = max(c.width or 0, plan[1], _header_width(title))
                    if c.kind == "money" and c.name in df and n > len(block):  # the widest of all blocks
                        w = max(w, self._money_widest(df[c.name], rows))
                    widths.append(w)
                    formats.append(plan[2])
                    ws.set_column(j, j, w, plan[2])
                    ws.write_string(top, j, excel_text(title), self.header)
                lines = max((_wrapped_lines(c.title(sheet.words), w) for c, w in zip(cols, widths)), default=1)
                if lines > 1:  # a header that wraps gets the height of its lines (no row overlaps it)
                    ws.set_row(top, 15 * lines)
            write_cells(ws, top + 1 + start, [(j, p[0]) for j, p in enumerate(plans)], len(block),
                        _heights(plans, widths))
            start += BLOCK
        if sheet.wait is not None:
            sheet = self.written  # finished
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
        print_setup(ws, self.name, sheet.caption or ws_name, header_row=top, wide=sum(widths) > WIDE)
        return ws

    @staticmethod
    def _money_widest(s: pd.Series, rows: np.ndarray | None) -> int:
        """The width of a money column's widest amount (of ``rows``, or all)."""
        amounts = s.fillna(0).to_numpy(dtype="int64")
        amounts = amounts if rows is None else amounts[rows]
        return len(f"{int(np.abs(amounts).max()):,}") + 4 if len(amounts) else 0

    def _plan(self, ws, c: Column, df: pd.DataFrame, n: int):
        """``(cells, width, column_format)`` of one column's first ``n`` cells: ``cells`` a
        :class:`~closebatch.io.fastcells.Cells` (the values, whole-column, with their format
        or formats; NaN or null = leave the cell blank), ``width`` the column's width fitted
        to them, ``column_format`` (or None) set on the whole column (wrapping)."""
        s = df[c.name].iloc[:n] if c.name in df else pd.Series([None] * n, dtype=object)
        va = {"valign": "top"} if self._top else {}
        if c.kind == "money":
            if isinstance(c.scale, str) and c.scale not in df:
                raise KeyError(f"money column {c.name!r}: its currency column {c.scale!r} is not in the table")
            scale = (money.scales(df[c.scale].iloc[:n].to_numpy()) if isinstance(c.scale, str)
                     else np.full(n, int(c.scale), dtype="int64"))
            minor = s.fillna(0).to_numpy(dtype="int64")
            vals = np.asarray(money.from_minor(minor, scale), dtype="float64")
            width = _money_width(vals)
            if s.dtype == object or pd.api.types.is_extension_array_dtype(s):
                blank = s.isna().to_numpy()
                if blank.any():  # a figure that is not there stays blank, not 0
                    vals = np.where(blank, np.nan, vals)
            kinds = np.unique(scale)
            if len(kinds) <= 1:
                f = self.money_fmt(int(kinds[0]) if len(kinds) else 2, **va)
                return Cells("number", vals, f, minor=minor, scale=scale), width, None
            fmts = [self.money_fmt(int(k), **va) for k in kinds]
            return Cells("number", vals, formats=fmts, pick=np.searchsorted(kinds, scale), minor=minor,
                         scale=scale), width, None
        if c.kind in ("count", "year", "rate", "percent", "number"):
            f = self.fmt(num_format=NUMBER_FORMATS[c.kind], **va)
            vals = pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64")
            return Cells("number", vals, f), _number_width(c.kind, vals), None
        if c.kind == "date":
            return Cells("number", np.asarray(excel_serials(s), dtype="float64"),
                         self.fmt(num_format="yyyy-mm-dd", **va)), 11, None
        if c.kind == "link":  # values: (location in this workbook, text) pairs, or None
            pairs = c.make(df.iloc[:n]) if c.make is not None else s.tolist()
            return Cells("link", pairs, self.fmt(font_color="blue", underline=1, **va), link=_Links(self, ws)), 14, None
        top = self.fmt(valign="top") if self._top else None
        if c.kind == "flag":
            return Cells("string", pa.array(np.where(s.fillna(False).to_numpy(dtype=bool), "Y", "N"),
                                            pa.large_string()), top), 0, None
        vals = text_array(s)
        head = vals.slice(0, 2000)
        longest = (pc.max(pc.utf8_length(head)).as_py() or 0) if len(head) else 0
        if c.kind == "code":
            return Cells("string", vals, top), min(40, longest + 2), None
        limit = c.width or TEXT_WIDTH
        if longest + 2 > limit:  # long text wraps in a column of readable width
            wrap = self.fmt(text_wrap=True, valign="top")
            return Cells("string", vals, wrap), limit, wrap
        return Cells("string", vals, top), longest + 2, None

    def close(self):
        for ws in self.wb.worksheets():
            if not ws.fit_page:  # a sheet written by hand without a print setup
                # the frozen rows are its header; without any, its first row is repeated
                print_setup(ws, self.name, ws.name, header_row=ws.panes[0] - 1 if ws.panes and ws.panes[0] else 0)
            include_charts(ws)
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


#: Deflate level of the parts of every workbook written here (xlsxwriter's default is 6): zlib's
#: level 1 deflates the XML of a large sheet four times as fast, into a file about 30 % larger;
#: ISA-L's (the ``fast`` extra, :data:`closebatch.io.deflate.CODEC`) about as large, 3.5 times faster still.
COMPRESS_LEVEL = deflate.LEVEL


#: Parts at least this large are deflated in :data:`DEFLATE_CHUNK` pieces side by side.
DEFLATE_CHUNK = 4 << 20


class _Worksheet(xlsxwriter.worksheet.Worksheet):
    """xlsxwriter's worksheet, whose rows, in constant-memory mode, are deflated as they are
    written (:class:`closebatch.io.deflate.DeflatedRows`) and go into the zip file as they are
    (:class:`_ZipFile`): not through a temporary file three times (written, copied into the
    sheet's XML, read back to be deflated).  The sheet's XML holds :data:`ROWS` where the rows
    go until it is packed."""

    def _initialize(self, init_data) -> None:
        super()._initialize(init_data)
        if self.constant_memory and self.row_data_fh is not None:
            self.row_data_fh.close()
            self.row_data_fh = self.fh = deflate.DeflatedRows(self.row_data_filename)

    def _write_optimized_sheet_data(self) -> None:
        rows = self.row_data_fh
        if not isinstance(rows, deflate.DeflatedRows) or self.row_data_fh_closed:
            return super()._write_optimized_sheet_data()
        if self.dim_rowmin is None:  # no rows: an empty sheetData
            rows.discard()
            return super()._write_optimized_sheet_data()
        self._xml_start_tag("sheetData")
        rows.finish()
        name = getattr(self.fh, "name", None)
        if isinstance(name, str):
            self.fh.write(ROWS)
            _DEFLATED[os.path.abspath(name)] = rows
        else:  # a part in memory (never so in constant-memory mode): the rows as text
            rows.inflate_into(self.fh)
            rows.discard()
        self._xml_end_tag("sheetData")


#: Where a sheet's deflated rows go in its XML part (a NUL never appears in XML).
ROWS = "\x00closebatch: the deflated rows\x00"
_DEFLATED: dict = {}  # the path of a sheet's XML part -> its DeflatedRows, until packed


class _ZipFile(zipfile.ZipFile):
    """The zip file xlsxwriter writes a workbook into: parts deflated at
    :data:`COMPRESS_LEVEL` by :data:`closebatch.io.deflate.CODEC`, a large part in pieces side
    by side (:class:`_ChunkedDeflate`)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("compresslevel", COMPRESS_LEVEL)
        super().__init__(*args, **kwargs)

    _raw = False  # True while a part of deflated rows is opened

    def write(self, filename, arcname=None, compress_type=None, compresslevel=None):
        """As :meth:`zipfile.ZipFile.write`, copying the part in 1 MB reads, not 8 KB ones; a
        sheet's part with deflated rows (:data:`ROWS`) as :meth:`_write_rows_part` writes it."""
        rows = _DEFLATED.pop(os.path.abspath(filename), None) if isinstance(filename, (str, os.PathLike)) else None
        if rows is not None:
            try:
                return self._write_rows_part(filename, arcname, rows)
            finally:
                rows.discard()
        if not self.fp or self._writing or compress_type is not None or compresslevel is not None:
            return super().write(filename, arcname, compress_type, compresslevel)
        zinfo = zipfile.ZipInfo.from_file(filename, arcname, strict_timestamps=self._strict_timestamps)
        if zinfo.is_dir():
            return super().write(filename, arcname)
        zinfo.compress_type = self.compression
        zinfo._compresslevel = self.compresslevel
        with open(filename, "rb") as src, self.open(zinfo, "w") as dest:
            shutil.copyfileobj(src, dest, 1 << 20)

    def _write_rows_part(self, filename, arcname, rows: deflate.DeflatedRows) -> None:
        """The sheet's XML before its rows, deflated; the rows' deflated pieces as they are;
        the XML after them, deflated to the end of the stream.  The entry's size and CRC-32
        are the whole part's (combined from the three), as if it had been deflated whole."""
        with open(filename, "rb") as fh:
            head, mark, tail = fh.read().partition(ROWS.encode("utf-8"))
        if not mark:
            raise ValueError(f"{arcname}: the place of the sheet's rows is missing from its XML")
        zinfo = zipfile.ZipInfo.from_file(filename, arcname, strict_timestamps=self._strict_timestamps)
        zinfo.compress_type = zipfile.ZIP_DEFLATED
        zinfo._compresslevel = deflate.LEVEL
        zinfo.file_size = len(head) + rows.size + len(tail)  # (so that a part past 4 GB is opened as ZIP64)
        crc = deflate.crc32_combine(deflate.crc32(head), rows.crc, rows.size)
        crc = deflate.crc32_combine(crc, deflate.crc32(tail), len(tail))
        packed = deflate.deflate(head, False)
        self._raw = True
        try:
            dest = self.open(zinfo, "w")
        finally:
            self._raw = False
        with dest:
            dest._compressor = _Ending(deflate.deflate(tail, True))  # what close() writes last
            dest._fileobj.write(packed)
            with open(rows.path, "rb") as src:
                shutil.copyfileobj(src, dest._fileobj, 1 << 20)
            dest._file_size, dest._crc = zinfo.file_size, crc
            dest._compress_size = len(packed) + rows.compressed

    def _open_to_write(self, zinfo, force_zip64=False):
        dest = super()._open_to_write(zinfo, force_zip64)
        if not self._raw and zinfo.compress_type == zipfile.ZIP_DEFLATED and \
                getattr(dest, "_compressor", None) is not None:  # every part by the same deflater
            big = zinfo.file_size >= DEFLATE_CHUNK and deflate.THREADS > 1
            dest._compressor = _ChunkedDeflate(COMPRESS_LEVEL) if big else deflate.compressor(COMPRESS_LEVEL)
        return dest


class _Ending:
    """The compressor of a part whose deflated bytes are written directly: its last bytes."""

    def __init__(self, ending: bytes):
        self.ending = ending

    def compress(self, data) -> bytes:  # never given data
        raise AssertionError("a part of deflated rows takes no more data")

    def flush(self, mode=None) -> bytes:
        return self.ending


class _ChunkedDeflate:
    """zipfile's compressor for a large part: :class:`closebatch.io.deflate.Pieces` of
    :data:`DEFLATE_CHUNK` bytes side by side, the last ending the stream."""

    def __init__(self, level: int):
        self.pieces = deflate.Pieces(DEFLATE_CHUNK, level)

    def compress(self, data) -> bytes:
        return b"".join(packed for packed, _, _ in self.pieces.feed(data))

    def flush(self, mode=None) -> bytes:
        return b"".join(packed for packed, _, _ in self.pieces.finish(last=True))


NUMBER_FORMATS = {"count": "#,##0", "year": "0", "rate": "0.000000###", "percent": "0.00%",
                  "number": "#,##0.########"}


def _wrapped_lines(text: str, width: float) -> int:
    """How many lines ``text`` takes when wrapped at spaces in a column ``width`` characters wide."""
    room = max(1, int(width) - 1)
    lines, used = 1, 0
    for word in str(text).split():
        need = len(word) if not used else used + 1 + len(word)
        if used and need > room:
            lines, used = lines + 1, len(word)
        else:
            used = need
    return lines


def take_rows(df: pd.DataFrame, pos: np.ndarray) -> pd.DataFrame:
    """``df.take(pos)``, with every Arrow column of several chunks taken chunk by chunk
    (:func:`take_chunked`): pyarrow joins a column's chunks before taking from it, a copy of
    the whole column for each block of a sheet written in an order (the ledger's lines are a
    concatenation of every workbook's and step's; at 10M lines 0.45 s a column a block)."""
    out = {}
    for name in df.columns:
        s = df[name]
        arr = s.array
        chunked = arr.__arrow_array__() if isinstance(arr, pd.arrays.ArrowExtensionArray) else None
        if isinstance(chunked, pa.ChunkedArray) and chunked.num_chunks > 1:
            out[name] = pd.Series(pd.array(take_chunked(chunked, pos), dtype=s.dtype), name=name)
        else:
            out[name] = s.take(pos).reset_index(drop=True)
    return pd.DataFrame(out, columns=df.columns, copy=False).set_axis(df.index.take(pos))


def take_chunked(arr: pa.ChunkedArray, pos: np.ndarray) -> pa.Array:
    """``arr.take(pos)`` one chunk at a time, in the order of ``pos``: the time follows the
    rows taken, not the column's length."""
    starts = np.concatenate([[0], np.cumsum([len(c) for c in arr.chunks])]).astype(np.int64)
    pos = np.asarray(pos, dtype=np.int64)
    which = np.searchsorted(starts, pos, side="right") - 1
    order = np.argsort(which, kind="stable")  # the rows by chunk, each chunk's in the order of pos
    by_chunk, chunk_of = pos[order], which[order]
    parts = [arr.chunk(k).take(pa.array(by_chunk[chunk_of == k] - starts[k])) for k in np.unique(chunk_of)]
    taken = pa.concat_arrays(parts) if parts else pa.array([], type=arr.type)
    back = np.empty_like(order)
    back[order] = np.arange(len(order))
    return taken.take(pa.array(back))


def _header_width(title: str) -> int:
    """A header wraps at spaces: the column must hold its longest word (and not too many lines)."""
    longest = max((len(w) for w in title.split()), default=0)
    return max(longest + 2, min(len(title) + 2, 16))


def _money_width(vals: np.ndarray) -> int:
    """Characters to show the widest amount of a column with its thousands separators and sign."""
    if not len(vals):
        return 10
    big = float(np.nanmax(np.abs(vals))) if len(vals) else 0.0
    return len(f"{big:,.2f}") + 4  # minus sign, a possible third decimal, padding


def _number_width(kind: str, vals: np.ndarray) -> int:
    finite = vals[np.isfinite(vals)] if len(vals) else vals
    big = float(np.max(np.abs(finite))) if len(finite) else 0.0
    if kind == "rate":
        return max(12, len(f"{big:.0f}") + 12)
    if kind == "percent":
        return 10
    if kind == "year":
        return 8
    return max(8, len(f"{big:,.0f}") + (10 if kind == "number" else 3))


def escape_header(text: str) -> str:
    """Text for a page header or footer: ``&`` is a control character there."""
    return str(text).replace("&", "&&")


def print_setup(ws, workbook: str, caption: str, header_row: int | None = 0, wide: bool = False) -> None:
    """Make a worksheet print-ready: fitted to the page width (as many pages down as it
    takes), landscape when ``wide``, the rows down to ``header_row`` repeated on every page,
    the workbook and what the sheet holds in the page header, the page number of the
    total in the footer, and modest margins."""
    ws.fit_to_pages(1, 0)
    if wide:
        ws.set_landscape()
    else:
        ws.set_portrait()
    if header_row is not None and header_row >= 0 and not ws.repeat_row_range:
        ws.repeat_rows(0, header_row) if header_row > 0 else ws.repeat_rows(0)
    if not ws.header:
        ws.set_header(f"&L&B{escape_header(workbook)}&R{escape_header(caption)}")
    if not ws.footer:
        ws.set_footer("&L&F&RPage &P of &N")
    ws.set_margins(left=0.4, right=0.4, top=0.75, bottom=0.6)


_AREA = re.compile(r"\$([A-Z]+)\$(\d+):\$([A-Z]+)\$(\d+)$")


def include_charts(ws) -> None:
    """Widen ``ws``'s print area so that it takes in every chart on the sheet (a chart placed
    beside a table would otherwise not print).  Without a print area the used range prints,
    and a chart is then taken in by an area from A1 to the chart's far corner."""
    if not getattr(ws, "charts", None):
        return
    last_row = last_col = 0
    m = _AREA.search(ws.print_area_range or "")
    if m:
        last_col, last_row = _column_index(m.group(3)), int(m.group(4)) - 1
    else:
        last_row, last_col = ws.dim_rowmax or 0, ws.dim_colmax or 0
    for row, col, chart, x_off, y_off, x_scale, y_scale, anchor, *_ in ws.charts:
        width, height = chart.width * x_scale, chart.height * y_scale
        # the worksheet's own arithmetic of where an object ends (column widths and row heights)
        pos = ws._position_object_pixels(col, row, x_off, y_off, width, height, anchor)
        last_col, last_row = max(last_col, pos[4]), max(last_row, pos[5])
    ws.print_area(0, 0, last_row, last_col)


def _column_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


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


LINE_HEIGHT = 15  # points of a line of text at the default font


def _heights(plans: list, widths: list) -> np.ndarray | None:
    """Per row, the height in points that shows every line of its wrapped cells (0: the
    default height); None when no column wraps.  Spreadsheet programs do not all grow a row
    to its wrapped text by themselves, so the writer sets it."""
    wrapped = [(p[0], w) for p, w in zip(plans, widths) if p[2] is not None]
    if not wrapped:
        return None
    n = len(wrapped[0][0])
    lines = np.ones(n, dtype="int64")
    for cells, w in wrapped:
        chars = max(1, int(w) - 1)
        length = pc.fill_null(pc.utf8_length(cells.values.slice(0, n)), 0).to_numpy(zero_copy_only=False)
        lines = np.maximum(lines, -(-np.asarray(length, dtype="int64") // chars))
    lines = np.minimum(lines, 20)
    heights = np.where(lines > 1, LINE_HEIGHT * lines, 0)
    return heights if heights.any() else None


def write_cells(ws, first_row: int, plans: list, n: int, heights: np.ndarray | None = None) -> None:
    """Write ``n`` rows from ``first_row`` down: ``plans`` holds per column ``(column index,
    cells)``, ``cells`` a :class:`~closebatch.io.fastcells.Cells` as :meth:`Book._plan` makes
    it; a blank value leaves its cell blank; ``heights`` (or None) the height of each row in
    points, 0 where it is the default.  A constant-memory worksheet gets the whole block at
    once (:mod:`closebatch.io.fastcells`, the bytes xlsxwriter would write); any other, a
    block of fewer than :data:`FAST_FROM` cells (where building it column-wise costs more
    than it saves), or with :data:`CELL_BY_CELL` set, cell by cell through xlsxwriter, row by
    row: the same bytes either way."""
    if not CELL_BY_CELL and n * len(plans) >= FAST_FROM and fastcells.usable(ws):
        fastcells.write_rows(ws, first_row, plans, n, heights)
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
    rows_high = set(np.flatnonzero(heights[:n]).tolist()) if heights is not None else ()
    for i in range(n):
        r = first_row + i
        if i in rows_high:
            ws.set_row(r, int(heights[i]))
        for j, vals, write, fmts in cols:
            v = vals[i]
            if v is not None:
                write(r, j, v, fmts[i])


#: Write every cell through xlsxwriter's API (the reference the block writer is tested
#: against; also set by ``CLOSEBATCH_CELL_BY_CELL=1`` in the environment).
CELL_BY_CELL = os.environ.get("CLOSEBATCH_CELL_BY_CELL", "") not in ("", "0")


#: Cells (rows times columns) from which a block is written in one go: below it, writing
#: cell by cell is as fast or faster (measured: about even at 140 cells, block 4 times
#: faster at 20,000).
FAST_FROM = 200
#: The most cells a workbook built in memory may hold (see :class:`Book`).
IN_MEMORY_CELLS = 1_000

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


def write_workbook(path: Path, sheets: list[Sheet], title: str | None = None) -> Path:
    """Write ``sheets`` to ``path``; ``title`` (default: the file's stem) goes into the
    workbook's properties, so a file written under a temporary name still gets its own.
    Written in constant-memory mode: each sheet is a table written top to bottom."""
    book = Book(path, title, stream=True, cells=sum(s.cells for s in sheets))
    for s in sheets:
        book.write(s)
    book.close()
    return Path(path)
