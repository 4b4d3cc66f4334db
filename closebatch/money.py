"""Exact money: integer minor units, commercial rounding, currency conversion.

Amounts live as int64 counts of a currency's minor unit (cents, yen, fils).  They are
converted from the floats a workbook holds once, on reading, and back to decimals only when
written.  Rounding is half away from zero, like Excel's ROUND, never banker's rounding.

A conversion multiplies by a rate (or divides by it, for an inverse rate, without rounding
the inverse first).  It is computed in float64 and then checked: when the exact product lies
within a hair of a rounding boundary (a tie), that value is recomputed exactly with
:class:`decimal.Decimal`, so ``2.675 -> 2.68`` holds whatever binary floats make of it.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, localcontext
from functools import lru_cache

import numpy as np
import pandas as pd

_OVERRIDES = {"CLF": 4, "UYW": 4}
MAX_MINOR = 10 ** 15  # the largest amount taken from a workbook, in minor units (15 digits, exact in Excel)
_LIMIT = 2.0 ** 62  # what int64 arithmetic holds with room for sums


class AmountOverflow(ValueError):
    """A computed amount beyond what closebatch holds exactly (a hostile rate or amount)."""


@lru_cache(maxsize=None)
def scale_of(currency: str) -> int:
    """Digits of the currency's minor unit (ISO 4217): JPY 0, KWD/BHD 3, most 2."""
    code = str(currency).strip().upper()
    if code in _OVERRIDES:
        return _OVERRIDES[code]
    try:
        from babel.numbers import get_currency_precision

        return int(get_currency_precision(code))
    except Exception:  # an unknown code: validation reports it; use 2 meanwhile
        return 2


def scales(currencies) -> np.ndarray:
    """Vector of minor-unit digits for an array of currency codes (looked up once per code)."""
    if not isinstance(currencies, (pd.Series, pd.Index, pd.api.extensions.ExtensionArray)):
        currencies = np.asarray(currencies, dtype=object)
    codes, uniq = pd.factorize(currencies, use_na_sentinel=False)
    return np.array([scale_of(c) for c in uniq], dtype="int64")[codes]


_POW10 = np.array([10.0 ** k for k in range(23)])  # exact doubles, as np.power gives them


def _power10(scale) -> np.ndarray | float:
    """10 ** ``scale`` (floats), by table for the digits of a currency's minor unit."""
    s = np.asarray(scale)
    if s.dtype.kind in "iu" and (not s.size or (s.min() >= 0 and s.max() < len(_POW10))):
        return _POW10[s]
    return np.power(10.0, np.asarray(scale, dtype="float64"))


def round_half_away(x: np.ndarray) -> np.ndarray:
    """Round float values half away from zero to integers (as float)."""
    x = np.asarray(x, dtype="float64")
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def to_minor(values, scale) -> tuple[np.ndarray, np.ndarray]:
    """Decimal amounts (floats as read from Excel) to int64 minor units.

    Returns ``(minor, too_precise)`` where ``too_precise`` flags values with more decimals
    than the currency has (they are rounded half away from zero, and should be reported).
    """
    v = np.asarray(values, dtype="float64")
    factor = _power10(scale)
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = v * factor
        minor = round_half_away(scaled)
        tol = np.maximum(1e-6, np.abs(scaled) * 1e-12)
        too_precise = np.abs(scaled - minor) > tol
        fits = np.isfinite(minor) & (np.abs(minor) < _LIMIT)  # never a wrapped int64: validation bounds the rest
    return np.where(fits, minor, 0).astype("int64"), too_precise & fits


def too_large(values, scale) -> np.ndarray:
    """Amounts of :data:`MAX_MINOR` minor units or more (or not finite)."""
    v = np.asarray(values, dtype="float64")
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = np.abs(v) * _power10(scale)
    return ~np.isfinite(scaled) | (scaled >= MAX_MINOR)


def from_minor(minor, scale) -> np.ndarray:
    """Minor units back to decimal floats (for writing; exact to 15 significant digits)."""
    m = np.asarray(minor, dtype="int64")
    s = np.asarray(scale, dtype="int64")
    out = m.astype("float64") / np.power(10.0, s.astype("float64"))
    # float division by a power of ten is correctly rounded to the nearest double, which is
    # what Excel shows; nothing more to do.
    return out


def _exact(rate) -> Decimal:
    return Decimal(repr(float(rate)))


def convert(amount_minor, rate, from_scale, to_scale, inverse=False) -> np.ndarray:
    """Convert minor units of one currency into minor units of another.

    ``result = round_half_away(amount × rate)`` (or ``amount ÷ rate`` when ``inverse``),
    with the rate as written in the rates workbook.  Vectorised; exact at ties.
    """
    a = np.asarray(amount_minor, dtype="int64")
    n = a.shape[0]
    r = np.broadcast_to(np.asarray(rate, dtype="float64"), (n,))
    inv = np.broadcast_to(np.asarray(inverse, dtype=bool), (n,))
    fs = np.broadcast_to(np.asarray(from_scale, dtype="int64"), (n,))
    ts = np.broadcast_to(np.asarray(to_scale, dtype="int64"), (n,))
    shift = np.power(10.0, (ts - fs).astype("float64"))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        x = np.where(inv, a / r, a * r) * shift
    with np.errstate(invalid="ignore", over="ignore"):
        out = round_half_away(x)
        frac = np.abs(x) - np.floor(np.abs(x))
    near_tie = np.abs(frac - 0.5) < np.maximum(1e-7, np.abs(x) * 1e-14)
    for i in np.flatnonzero(near_tie & np.isfinite(x)):  # rare: exact ties only
        out[i] = float(_exact_convert(int(a[i]), float(r[i]), int(fs[i]), int(ts[i]), bool(inv[i])))
    out = np.where(np.isfinite(out), out, 0)  # a missing (0) inverse rate gives 0, as the steps expect
    big = np.abs(out) >= _LIMIT
    if big.any():
        i = int(np.flatnonzero(big)[0])
        raise AmountOverflow(f"converting {fmt(int(a[i]), int(fs[i]))} at the rate {r[i]!r} gives an amount beyond "
                             "what closebatch holds exactly (about 10^18 minor units); check that rate and that amount")
    return out.astype("int64")


def _exact_convert(amount: int, rate: float, fs: int, ts: int, inverse: bool) -> int:
    with localcontext() as ctx:
        ctx.prec = 60
        value = Decimal(amount) / _exact(rate) if inverse else Decimal(amount) * _exact(rate)
        value = value.scaleb(ts - fs)
        return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def fmt(minor: int, scale: int) -> str:
    """A minor-unit amount as a plain decimal string, e.g. ``fmt(-16667, 2) == '-166.67'``."""
    d = Decimal(int(minor)).scaleb(-int(scale))
    return f"{d:.{int(scale)}f}"
