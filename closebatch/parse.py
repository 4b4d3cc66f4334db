"""Typing raw cell values column by column, with a finding for every cell that will not type.

Each parser takes an object Series of raw cell values (str, float, int, bool, date,
datetime, or None for blank) and returns ``(typed, bad)``: the typed Series and a boolean
mask of the cells that are not blank but could not be read as the column's type.
"""
from __future__ import annotations

import datetime as dt
from functools import lru_cache

import numpy as np
import pandas as pd

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


def _types(s: pd.Series) -> pd.Series:
    return s.map(type)


def _blank(s: pd.Series) -> np.ndarray:
    return s.isna().to_numpy()


def by_value(s: pd.Series, fn) -> pd.Series:
    """``s.map(fn)``, calling ``fn`` once per distinct value instead of once per cell.

    Values are grouped by their Python type first, so ``True``, ``1`` and ``1.0`` (equal to
    Python, different in a cell) never share a result."""
    out = np.empty(len(s), dtype=object)
    types = s.map(type).to_numpy()
    for t in pd.unique(types):
        mask = types == t
        codes, uniques = pd.factorize(s[mask], use_na_sentinel=True)
        mapped = np.empty(len(uniques) + 1, dtype=object)
        mapped[:len(uniques)] = [fn(u) for u in uniques]
        if (codes < 0).any():
            mapped[-1] = fn(None)
        out[mask] = mapped[codes]
    return pd.Series(out, index=s.index, dtype=object)


def to_code(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Codes are text: a number typed into a code cell (1100.0) becomes '1100'."""
    def one(v):
        if v is None or (isinstance(v, float) and np.isnan(v)):
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
    return by_value(s, one), np.zeros(len(s), dtype=bool)


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


def to_number(s: pd.Series):
    blank = _blank(s)
    types = _types(s)
    isbool = types.eq(bool).to_numpy()
    isstr = types.eq(str).to_numpy()
    txt = s
    if isstr.any():
        txt = s.copy()
        txt[isstr] = s[isstr].astype(str).str.strip().str.replace(r"^\((.*)\)$", r"-\1", regex=True)
    num = pd.to_numeric(txt.where(~isbool, None), errors="coerce").astype("float64")
    vals = num.fillna(0).to_numpy()
    bad = (num.isna().to_numpy() & ~blank) | isbool | ~np.isfinite(vals) | (np.abs(vals) >= MAX_NUMBER)
    num[bad] = np.nan
    return num, bad


def too_large(s: pd.Series, col) -> np.ndarray:
    """Cells holding a number beyond what the column takes (for a clearer message)."""
    if col.type not in (NUM, INT):
        return np.zeros(len(s), dtype=bool)
    txt = s.map(lambda v: v.strip() if isinstance(v, str) else (None if isinstance(v, bool) else v))
    with np.errstate(all="ignore"):
        num = pd.to_numeric(txt, errors="coerce").astype("float64").to_numpy()
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
        years = by_value(s, lambda v: getattr(v, "year", 0)).to_numpy(dtype="int64")
        is_dt = is_dt & (years >= DATE_MIN.year) & (years <= DATE_MAX.year)
    if is_dt.any():
        out[is_dt] = pd.to_datetime(by_value(s[is_dt], lambda v: dt.datetime(v.year, v.month, v.day))) \
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
    m = by_value(s, one)
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
    num = by_value(s, one).astype("float64")
    bad = num.isna().to_numpy() | (num <= 0).to_numpy() | (num > 1).to_numpy()
    return num.where(~bad, default), bad


def to_enum(s: pd.Series, allowed: tuple, default):
    code, _ = to_code(s)
    canon = {a.lower(): a for a in allowed}
    low = code.str.lower()
    out = low.map(canon)
    blank = (code == "").to_numpy()
    bad = out.isna().to_numpy() & ~blank
    out = out.where(~blank, default if default is not None else "").fillna("")
    return out.astype(object), bad


def parse(s: pd.Series, col) -> tuple[pd.Series, np.ndarray]:
    if col.type in (TEXT, CODE):
        return to_code(s)
    if col.type == CCY:
        return to_currency(s)
    if col.type == NUM:
        return to_number(s)
    if col.type == INT:
        return to_int(s)
    if col.type == DATE:
        return to_date(s)
    if col.type == YN:
        return to_yn(s, col.default)
    if col.type == PCT:
        return to_pct(s, col.default)
    if col.type == ENUM:
        return to_enum(s, col.allowed, col.default)
    raise ValueError(col.type)


def expected(col) -> str:
    """How to fill a column, for messages."""
    return {TEXT: "text", CODE: "a code (text)", CCY: "a three-letter ISO 4217 currency code such as USD",
            NUM: "a number", INT: "a whole number",
            DATE: "a date (an Excel date or YYYY-MM-DD, from 1900 to 2199)",
            YN: "Y or N", PCT: "a share such as 80% or 0.8 (more than 0, at most 100%)",
            ENUM: "one of " + ", ".join(col.allowed)}[col.type]
