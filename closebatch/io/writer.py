"""Writing output workbooks with xlsxwriter: readable, reproducible, never formulas.

Every workbook is opened with ``strings_to_formulas``/``strings_to_urls`` off and every text
cell is written with ``write_string``, so a description such as ``=HYPERLINK(...)`` stays
text.  Workbook properties carry a fixed date, so the same inputs give the same bytes.
Sheets are written row by row (never through ``DataFrame.to_excel``), with column formats,
a frozen header row, an autofilter and widths fitted to the content.
"""
from __future__ import annotations

import datetime as dt
import math
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
    """How to write one column.  ``kind``: text, int, date, money, rate, bool, number.
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


def _fmt_money(scale: int) -> str:
    dec = "." + "0" * scale if scale > 0 else ""
    return f"#,##0{dec};-#,##0{dec};0{dec}" if scale else "#,##0;-#,##0;0"


class Book:
    """A workbook being written: caches formats, writes sheets."""

    def __init__(self, path: Path, title: str | None = None):
        self.path = Path(path)
        self.wb = xlsxwriter.Workbook(str(self.path), OPTIONS)
        self.wb.set_properties({"created": FIXED_DATE, "author": "closebatch",
                                "title": title if title is not None else self.path.stem})
        self.wb.set_calc_mode("auto")
        self._formats = {}
        self.header = self.fmt(bold=True, bg_color="#DDEBF7", border=1, text_wrap=True, valign="top")
        self.title = self.fmt(bold=True, font_size=13)

    def fmt(self, **props):
        key = tuple(sorted(props.items()))
        if key not in self._formats:
            self._formats[key] = self.wb.add_format(props)
        return self._formats[key]

    def money_fmt(self, scale: int, bold=False):
        return self.fmt(num_format=_fmt_money(int(scale)), bold=bold)

    def write(self, sheet: Sheet):
        ws = self.wb.add_worksheet(sheet.name[:31])
        df = sheet.frame
        cols = sheet.columns or [Column(c, _guess(df[c])) for c in df.columns]
        top = 0
        if sheet.title:
            ws.write_string(0, 0, excel_text(sheet.title), self.title)
            top = 1
        n = min(len(df), MAX_ROWS - top)
        date_fmt = self.fmt(num_format="yyyy-mm-dd")
        rate_fmt = self.fmt(num_format="0.000000###")
        int_fmt = self.fmt(num_format="0")
        pct_fmt = self.fmt(num_format="0.00%")
        for j, c in enumerate(cols):
            ws.write_string(top, j, excel_text(str(c.header or c.name)), self.header)
        widths = [len(c.header or c.name) + 2 for c in cols]
        for j, c in enumerate(cols):
            s = df[c.name] if c.name in df else pd.Series([None] * len(df), dtype=object)
            if c.kind == "money":
                scale = (money.scales(df[c.scale].to_numpy()) if isinstance(c.scale, str)
                         else np.full(len(df), int(c.scale), dtype="int64"))
                vals = money.from_minor(s.fillna(0).to_numpy(dtype="int64"), scale)
                uniform = len(set(scale[:n].tolist())) <= 1
                f_col = self.money_fmt(int(scale[0]) if len(scale) else 2)
                ws.set_column(j, j, None, f_col)
                for i in range(n):
                    ws.write_number(top + 1 + i, j, float(vals[i]), f_col if uniform else self.money_fmt(int(scale[i])))
                widths[j] = max(widths[j], min(18, max((len(f"{v:,.2f}") for v in vals[:200]), default=8) + 2))
            elif c.kind in ("number", "rate", "int"):
                f = {"rate": rate_fmt, "int": int_fmt}.get(c.kind, self.fmt(num_format="#,##0.########"))
                vals = pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64")
                for i in range(n):
                    v = vals[i]
                    if not math.isnan(v):
                        ws.write_number(top + 1 + i, j, float(v), f)
                widths[j] = max(widths[j], 12)
            elif c.kind == "pct":
                vals = pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64")
                for i in range(n):
                    if not math.isnan(vals[i]):
                        ws.write_number(top + 1 + i, j, float(vals[i]), pct_fmt)
                widths[j] = max(widths[j], 10)
            elif c.kind == "date":
                vals = excel_serials(s)
                for i in range(n):
                    if vals[i] == vals[i]:  # not NaN
                        ws.write_number(top + 1 + i, j, vals[i], date_fmt)
                widths[j] = max(widths[j], 11)
            elif c.kind == "bool":
                vals = s.to_numpy()
                for i in range(n):
                    ws.write_string(top + 1 + i, j, "Y" if bool(vals[i]) else "N")
            else:
                vals = s.to_numpy(dtype=object)
                longest = 0
                for i in range(n):
                    v = vals[i]
                    if v is None or (isinstance(v, float) and math.isnan(v)):
                        continue
                    t = str(v)
                    if t:
                        ws.write_string(top + 1 + i, j, excel_text(t))
                        if i < 500:
                            longest = max(longest, len(t))
                widths[j] = max(widths[j], min(60, longest + 2))
            ws.set_column(j, j, c.width or widths[j])
        if sheet.totals and n:
            r = top + 1 + n
            ws.write_string(r, 0, "Total", self.fmt(bold=True, top=1))
            for j, c in enumerate(cols):
                if c.name in sheet.totals:
                    scale = c.scale if isinstance(c.scale, int) else 2
                    total = int(df[c.name].fillna(0).to_numpy(dtype="int64").sum())
                    ws.write_number(r, j, float(money.from_minor(np.array([total]), scale)[0]),
                                    self.fmt(num_format=_fmt_money(scale), bold=True, top=1))
        if sheet.freeze:
            ws.freeze_panes(top + 1, 0)
        if cols:
            ws.autofilter(top, 0, top + max(n, 1), len(cols) - 1)
        return ws

    def close(self):
        self.wb.close()


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
    workbook's properties, so a file written under a temporary name still gets its own."""
    book = Book(path, title)
    for s in sheets:
        book.write(s)
    book.close()
    return Path(path)
