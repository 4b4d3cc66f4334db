"""Typing raw cell values column by column, with a finding for every cell that will not type.

:func:`parse` takes an object Series of raw cell values (str, float, int, bool, date,
datetime, or None for blank) and returns ``(typed, bad)``: the typed Series and a boolean
mask of the cells that are not blank but could not be read as the column's type.

Every type depends on the cell's value alone.  Numbers, and text whose cells are mostly
distinct (journal numbers, descriptions), are typed column-wide; any other column is typed
once per distinct value (:func:`distinct`) and spread back to its cells, since a column of a
million cells usually holds a few hundred values.  The ``to_*`` functions read as per-cell
rules.
"""
from __future__ import annotations

import datetime as dt
from functools import lru_cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api.types import infer_dtype

from .schema import CCY, CODE, DATE, ENUM, INT, NUM, PCT, TEXT, YN

EXCEL_EPOCH = pd.Timestamp("1899-12-30")
# Bounds of what a cell may hold (a hostile or mistyped value must become a finding, not an
# overflow): Excel keeps 15 significant digits, so a larger number is not exact anyway; whole
# numbers (line numbers, years, days) stay far below that; dates stay inside what the
# arithmetic of dates can represent.
MAX_NUMBER = 1e15
MAX_INT = 1e9
DATE_MIN, DATE_MAX = pd.Timestamp("1900-01-01"), pd.Timestamp("2199-12-31")
_SERIAL_MAX = (DATE_MAX - EXCEL_EPOCH).days
_YES = {"y", "yes", "true", "1", "1.0"}
_NO = {"n", "no", "false", "0", "0.0"}
# infer_dtype kinds whose values may be factorized together: values of these kinds that are
# equal to Python (a str and a str subclass, a float and a numpy float, a datetime and a
# Timestamp) type alike.  Other columns (True next to 1, 1 next to 1.0) are split by type.
_ONE_KIND = frozenset({"string", "empty", "floating", "integer", "date", "datetime"})
# What str.strip() removes from ASCII text (Python's whitespace below 128).
_ASCII_SPACE = "".join(c for c in map(chr, range(128)) if c.isspace())
# infer_dtype kinds holding numbers only (no text, no True/False): typed without a closer look.
_NUMBERS = frozenset({"empty", "floating", "integer", "mixed-integer-float"})


def _types(s: pd.Series) -> pd.Series:
    return s.map(type)


def _blank(s: pd.Series) -> np.ndarray:
    return s.isna().to_numpy()


def _each(s: pd.Series, fn) -> pd.Series:
    """``fn`` of every value of ``s``, as an object Series (``Series.map`` would infer a dtype)."""
    return pd.Series(np.fromiter(map(fn, s), dtype=object, count=len(s)), index=s.index, dtype=object)


def distinct(s: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """``(codes, values)``: the distinct values of ``s`` and, per cell, the position of its value.

    Values are grouped by their Python type first, so ``True``, ``1`` and ``1.0`` (equal to
    Python, different in a cell) stay apart.  Every blank cell (None, NaN) points to the last
    value, which is None."""
    cells = s.to_numpy(dtype=object)
    if infer_dtype(cells, skipna=True) in _ONE_KIND:
        codes, values = pd.factorize(cells)
        values = list(values)
    else:
        types, _ = pd.factorize(_types(s))
        codes = np.empty(len(cells), dtype="intp")
        values = []
        for t in range(types.max(initial=-1) + 1):
            mask = types == t
            c, v = pd.factorize(cells[mask])
            codes[mask] = np.where(c < 0, -1, c + len(values))
            values.extend(v)
    codes[codes < 0] = len(values)
    return codes, pd.Series(values + [None], dtype=object)


def combined(parts: list) -> tuple[np.ndarray, pd.Series]:
    """:func:`distinct` of the concatenation of columns given as ``(codes, uniques)`` each
    (``uniques.take(codes)`` a column), from their distinct values alone: the same values, each
    cell pointing to its own."""
    offsets = np.cumsum([0] + [len(u) for _, u in parts[:-1]])
    at, values = distinct(pd.Series(np.concatenate([u for _, u in parts]), dtype=object))
    return at.take(np.concatenate([c.astype(np.intp) + o for (c, _), o in zip(parts, offsets)])), values


def _stripped(s: pd.Series, given=None) -> pd.Series | None:
    """:func:`to_code` of a column of text and blanks, straight to ``str``, or None if the
    column holds other values.  ``given``: the column's text as Arrow already has it (blanks
    null or empty).  Arrow trims the ASCII text (exactly as str.strip() does), Python strips
    the rest."""
    if given is not None:
        text = given.cast(pa.large_string()).fill_null("")
    else:
        try:  # Arrow takes text and blanks only, in one pass over the cells
            text = pa.array(s.to_numpy(dtype=object), type=pa.large_string(), from_pandas=True).fill_null("")
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return None
    out = pc.utf8_trim(text, characters=_ASCII_SPACE)
    other = pc.invert(pc.string_is_ascii(text))
    if pc.any(other).as_py():
        out = pc.replace_with_mask(out, other, pa.array([v.strip() for v in text.filter(other).to_pylist()],
                                                        type=text.type))
    return pd.Series(out, index=s.index, dtype="str")


def _code(v) -> str:
    if isinstance(v, str):
        return v.strip()
    if v is None or pd.isna(v):  # any blank (None, NaN, NaT...), as :func:`distinct` takes them
        return ""
    if isinstance(v, bool):
        return "Y" if v else "N"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else repr(v)
    if isinstance(v, (dt.datetime, pd.Timestamp)):
        return v.strftime("%Y-%m-%d") if (v.hour, v.minute, v.second) == (0, 0, 0) else v.isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v).strip()


def to_code(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Codes are text: a number typed into a code cell (1100.0) becomes '1100'."""
    return _each(s, _code), np.zeros(len(s), dtype=bool)


@lru_cache(maxsize=1)
def _iso_currencies() -> frozenset:
    try:
        from babel.numbers import list_currencies

        return frozenset(list_currencies())
    except Exception:  # pragma: no cover
        return frozenset()


def to_currency(s: pd.Series):
    out, _ = to_code(s)
    out = out.str.upper()
    known = _iso_currencies()
    bad = ~(out.isin(known) if known else out.str.fullmatch(r"[A-Z]{3}")).to_numpy() & (out != "").to_numpy()
    return out, bad


def _floats(s: pd.Series) -> np.ndarray | None:
    """The cells as floats (blanks NaN) if they hold numbers and blanks only, else None.  Arrow
    reads them in one pass but takes True and False for 1 and 0, so the cells it read as 0 or 1
    are looked at again."""
    cells = s.to_numpy(dtype=object)
    try:
        num = pa.array(cells, type=pa.float64(), from_pandas=True).to_numpy(zero_copy_only=False, writable=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # text, dates...
        return None
    return num if infer_dtype(cells[(num == 0) | (num == 1)], skipna=True) in _NUMBERS else None


def to_number(s: pd.Series):
    num = _floats(s)
    if num is not None:  # numbers and blanks only, the usual column
        with np.errstate(invalid="ignore"):
            bad = np.isinf(num) | (np.abs(num) >= MAX_NUMBER)
        num[bad] = np.nan
        return pd.Series(num, index=s.index), bad
    blank = _blank(s)
    isbool = np.zeros(len(s), dtype=bool)
    txt = s
    if infer_dtype(s, skipna=True) not in _NUMBERS:  # text or Y/N among the numbers
        types = _types(s)
        isbool = types.eq(bool).to_numpy()
        isstr = types.eq(str).to_numpy()
        if isstr.any():
            txt = s.copy()
            txt[isstr] = s[isstr].astype(str).str.strip().str.replace(r"^\((.*)\)$", r"-\1", regex=True)
        txt = txt.where(~isbool, None)
    num = pd.to_numeric(txt, errors="coerce").to_numpy(dtype="float64", copy=True)
    with np.errstate(invalid="ignore"):
        bad = (np.isnan(num) & ~blank) | isbool | np.isinf(num) | (np.abs(num) >= MAX_NUMBER)
    num[bad] = np.nan
    return pd.Series(num, index=s.index), bad


def too_large(s: pd.Series, col) -> np.ndarray:
    """Cells holding a number beyond what the column takes (for a clearer message)."""
    if col.type not in (NUM, INT):
        return np.zeros(len(s), dtype=bool)
    txt = s.map(lambda v: v.strip() if isinstance(v, str) else (None if isinstance(v, bool) else v))
    with np.errstate(all="ignore"):
        num = pd.to_numeric(txt, errors="coerce").to_numpy(dtype="float64", copy=True)
        return np.isinf(num) | (np.abs(np.nan_to_num(num)) >= (MAX_NUMBER if col.type == NUM else MAX_INT))


def to_int(s: pd.Series):
    num, bad = to_number(s)
    frac = num.notna().to_numpy() & ((num.fillna(0) % 1 != 0) | (num.abs() >= MAX_INT)).to_numpy()
    bad = bad | frac
    return num.where(~frac), bad


def to_date(s: pd.Series):
    blank = _blank(s)
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    types = _types(s)
    is_dt = types.isin([dt.date, dt.datetime, pd.Timestamp]).to_numpy()
    if is_dt.any():
        years = _each(s, lambda v: getattr(v, "year", 0)).to_numpy(dtype="int64")
        is_dt = is_dt & (years >= DATE_MIN.year) & (years <= DATE_MAX.year)
    if is_dt.any():
        out[is_dt] = pd.to_datetime(_each(s[is_dt], lambda v: dt.datetime(v.year, v.month, v.day))) \
            .astype("datetime64[ns]")
    is_str = types.eq(str).to_numpy()
    if is_str.any():
        txt = s[is_str].astype(str).str.strip().str[:10]
        txt = txt.where(txt.str.fullmatch(r"(19|20|21)\d\d-\d\d-\d\d"), None)
        out[is_str] = pd.to_datetime(txt, format="%Y-%m-%d", errors="coerce").astype("datetime64[ns]")
    is_num = types.isin([float, int]).to_numpy()
    if is_num.any():
        serial = pd.to_numeric(s[is_num], errors="coerce")
        ok = (serial >= 1) & (serial <= _SERIAL_MAX)
        out[is_num] = (EXCEL_EPOCH + pd.to_timedelta(serial.where(ok).fillna(0).astype(int), unit="D")) \
            .where(ok.to_numpy()).astype("datetime64[ns]")
    bad = out.isna().to_numpy() & ~blank
    return out, bad


def to_yn(s: pd.Series, default):
    def one(v):
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return default
        if isinstance(v, bool):
            return v
        t = str(v).strip().lower()
        if t in _YES:
            return True
        if t in _NO:
            return False
        if t == "":
            return default
        return "bad"
    m = _each(s, one)
    bad = m.eq("bad").to_numpy()
    return m.where(~bad, default).astype(bool), bad


def to_pct(s: pd.Series, default):
    def one(v):
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return default
        if isinstance(v, bool):
            return np.nan
        if isinstance(v, (int, float)):
            return float(v)
        t = str(v).strip()
        try:
            return float(t[:-1].strip()) / 100 if t.endswith("%") else float(t)
        except ValueError:
            return np.nan
    num = _each(s, one).astype("float64")
    bad = num.isna().to_numpy() | (num <= 0).to_numpy() | (num > 1).to_numpy()
    return num.where(~bad, default), bad


def to_enum(s: pd.Series, allowed: tuple, default):
    """One of ``allowed`` whatever its case (blank: ``default``, else ""); anything else is
    bad (and ""). Value by value: it is given a column's distinct values, a handful."""
    canon = {a.lower(): a for a in allowed}
    blank_as = default if default is not None else ""
    out, bad = [], []
    for v in s:
        code = _code(v)
        hit = canon.get(code.lower()) if code else blank_as
        out.append("" if hit is None else hit)
        bad.append(hit is None)
    return pd.Series(out, index=s.index, dtype=object), np.array(bad, dtype=bool)


def _per_value(s: pd.Series, col) -> tuple[pd.Series, np.ndarray]:
    if col.type in (TEXT, CODE):
        return to_code(s)
    if col.type == CCY:
        return to_currency(s)
    if col.type == DATE:
        return to_date(s)
    if col.type == YN:
        return to_yn(s, col.default)
    if col.type == PCT:
        return to_pct(s, col.default)
    if col.type == ENUM:
        return to_enum(s, col.allowed, col.default)
    raise ValueError(col.type)


def is_text(col) -> bool:
    """Whether the column types to text."""
    return col.type in (TEXT, CODE, CCY, ENUM)


def _mostly_distinct(s: pd.Series) -> bool:
    """Whether most cells hold a value of their own (judged on the first cells): journal
    numbers, references, descriptions.  Typing them once per distinct value would not pay."""
    sample = s.iloc[:10_000]
    return len(pd.unique(sample)) > len(sample) // 4


def parse(s: pd.Series, col, text=object, codes: tuple | None = None, given=None) -> tuple[pd.Series, np.ndarray]:
    """Type a column.  Text comes back as ``text``: object, or ``"str"`` for frames that become
    lines frames (whose text columns are ``str``).  ``codes``: :func:`distinct` of ``s``, when
    known already; ``given``: the column as Arrow text, when it holds text and blanks only and
    Arrow has it already (blanks null or empty)."""
    if col.type == NUM:
        return to_number(s)
    if col.type == INT:
        return to_int(s)
    if col.type in (TEXT, CODE) and _mostly_distinct(s):  # ids and free text: typed column-wide
        typed = _stripped(s, given) if text == "str" else None
        if typed is not None:
            return typed, np.zeros(len(s), dtype=bool)
        typed, bad = to_code(s)
        return typed.astype(text), bad
    codes, values = codes if codes is not None else distinct(s)
    typed, bad = _per_value(values, col)
    if is_text(col):
        typed = typed.astype(text)
    return pd.Series(typed.array.take(codes), index=s.index, dtype=typed.dtype), bad[codes]


def expected(col) -> str:
    """How to fill a column, for messages."""
    return {TEXT: "text", CODE: "a code (text)", CCY: "a three-letter ISO 4217 currency code such as USD",
            NUM: "a number", INT: "a whole number",
            DATE: "a date (an Excel date or YYYY-MM-DD, from 1900 to 2199)",
            YN: "Y or N", PCT: "a share such as 80% or 0.8 (more than 0, at most 100%)",
            ENUM: "one of " + ", ".join(col.allowed)}[col.type]
