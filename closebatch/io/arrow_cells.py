"""A sheet's cells through fastexcel (Arrow columns), exactly as python-calamine gives them.

fastexcel parses with calamine too, but keeps the shared strings borrowed and hands over one
Arrow column per sheet column: at a million lines it is about a third faster than
python-calamine's grid of Python values, and the columns turn into Python values a column at
a time.  It is used only where its result is provably the one python-calamine gives, and
:func:`load` returns None everywhere else, so that the reader takes the plain path:

* **Types.** Every column's type is guessed from all of its cells, strictly: a column holding
  numbers and text (or dates and numbers...) raises, rather than being coerced (fastexcel's
  default would turn a stray ``"abc"`` in a number column into a blank).  Every cell that did
  not convert to its column's type is listed by fastexcel; any such cell means None, but
  for error cells (``#N/A``...), which fastexcel leaves blank as python-calamine does.  Only
  columns of text, numbers, Y/N (booleans) and date-times are taken; whole-number (which
  xlsx files never hold), date-only, duration columns mean None.
* **Dates.** A date-time between 1900-03-01 and 9999-12-31 is what python-calamine gives: a
  ``date`` when its time is midnight, else a ``datetime`` (to the millisecond, both read
  calamine's conversion).  Any earlier one (Excel's 1900 leap-year bug, times of day without a
  date) means None.
* **Row 1.** fastexcel takes a sheet's header from its first row holding a value.  The guard
  noted row 1's text (:attr:`closebatch.io.guard.SheetScan.row_one`); the header must be
  exactly that text, column for column, so that the first data row is row 2.  Column
  positions are fastexcel's absolute ones (a sheet whose column A is empty keeps its letters).

Blanks (empty cells, error cells, empty text) are None, as the reader makes them.
"""
from __future__ import annotations

import datetime as dt
import logging
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# fastexcel logs each column whose type it could not guess (all blank) before falling back
# to text; that is its answer, not a problem of the books.
logging.getLogger("fastexcel").setLevel(logging.ERROR)

# fastexcel's word for an error cell (#N/A, #DIV/0!...) in a column of another type
_ERROR_CELL = re.compile(r"Expected [a-z]+ but got 'Error\([A-Za-z0-9]+\)'")
_EPOCH = dt.datetime(1970, 1, 1)
_MS_MIN = int((dt.datetime(1900, 3, 1) - _EPOCH) / dt.timedelta(milliseconds=1))
_MS_MAX = int((dt.datetime(9999, 12, 31, 23, 59, 59, 999000) - _EPOCH) / dt.timedelta(milliseconds=1))


class Cells:
    """A sheet's data rows (row 2 down) as Arrow columns at their 0-based column positions,
    with row 1's text (``head``: position -> text)."""

    def __init__(self, batch: pa.RecordBatch, positions: list[int], head: dict):
        self.batch, self.positions, self.head = batch, positions, head

    @property
    def rows(self) -> int:
        return self.batch.num_rows

    def width(self) -> int:
        return max([p + 1 for p in self.positions] + [p + 1 for p in self.head])

    def column(self, position: int):
        """The column at ``position`` (an Arrow array), or None when the sheet has none there."""
        try:
            return self.batch.column(self.positions.index(position))
        except ValueError:
            return None


def load(reader, name: str, head: dict | None):
    """The sheet ``name`` of fastexcel's ``reader`` as :class:`Cells`, or None when the fast
    parse cannot be proved equal to python-calamine's (see the module's notes).  ``head``: the
    guard's row 1."""
    if not head or not any(head.values()):
        return None
    from fastexcel import FastExcelError

    try:
        sheet = reader.load_sheet(name, header_row=0, schema_sample_rows=None, dtype_coercion="strict")
        columns = sheet.available_columns()
        batch, errors = sheet.to_arrow_with_errors()
    except FastExcelError:
        return None
    if errors is not None and not all(_ERROR_CELL.fullmatch(e.detail) for e in errors.errors):
        return None  # a cell that would not convert (an error cell is null, a blank to python-calamine too)
    positions = [c.absolute_index for c in columns]
    for c in columns:  # the header is row 1's text, column for column (see the module's notes)
        text = head.get(c.absolute_index, "")
        if c.name != text if c.column_name_from == "looked_up" else text != "":
            return None
    if any(text and position not in positions for position, text in head.items()):
        return None
    for column in batch.columns:
        t = column.type
        if pa.types.is_timestamp(t):
            if t.unit != "ms" or t.tz is not None:  # what _datetime reads
                return None
            if column.null_count < len(column):
                ms = column.cast(pa.int64())
                low, high = pc.min_max(ms).values()
                if low.as_py() < _MS_MIN or high.as_py() > _MS_MAX:
                    return None
        elif not (is_text(t) or pa.types.is_float64(t) or pa.types.is_boolean(t) or pa.types.is_null(t)):
            return None
    return Cells(batch, positions, head)


def is_text(t) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def blank(column) -> np.ndarray:
    """Which cells of an Arrow column are blank (null, or empty text)."""
    out = column.is_null()
    if is_text(column.type):
        out = pc.or_(out, pc.equal(column, "")).fill_null(True)
    return out.to_numpy(zero_copy_only=False)


def values(column, n: int) -> tuple[np.ndarray, tuple | None]:
    """The cells of an Arrow column (``n`` blanks when there is none) as Python values in an
    object array, blanks None, and for text and date columns their codes: ``(codes, uniques)``
    with ``uniques.take(codes)`` equal to the values (else None).  Text and date columns hold
    one object per distinct value."""
    if column is None:
        return np.full(n, None, dtype=object), None
    t = column.type
    if pa.types.is_null(t):
        return values(None, len(column))
    if is_text(t) or pa.types.is_timestamp(t):
        codes = pc.dictionary_encode(column)
        if pa.types.is_timestamp(t):
            distinct = np.array([_datetime(ms) for ms in codes.dictionary.cast(pa.int64()).to_pylist()] + [None],
                                dtype=object)
        else:
            distinct = np.append(codes.dictionary.to_numpy(zero_copy_only=False).astype(object), None)
            distinct[:-1][distinct[:-1] == ""] = None
        at = codes.indices.fill_null(len(distinct) - 1).to_numpy(zero_copy_only=False)
        return distinct.take(at), (at, distinct)
    out = column.to_numpy(zero_copy_only=False).astype(object)  # floats (-0.0 kept), booleans
    if column.null_count:
        out[column.is_null().to_numpy(zero_copy_only=False)] = None
    return out, None


def _datetime(ms: int):
    """A date-time as python-calamine gives it: a date at midnight, else a datetime."""
    d = _EPOCH + dt.timedelta(milliseconds=ms)
    return d.date() if (d.hour, d.minute, d.second, d.microsecond) == (0, 0, 0, 0) else d
