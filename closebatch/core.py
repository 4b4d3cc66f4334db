"""The data model shared by every part of closebatch.

Nothing here touches a file, the clock or a global: these are values.

* A :class:`Finding` is one problem (or warning) found anywhere in a run, with the place it
  came from (file, sheet, cell) and a plain-English hint.  Steps return findings; they never
  raise for bad input.
* A *lines frame* is a :class:`pandas.DataFrame` of journal lines in the canonical layout
  :func:`line_columns` describes.  Given journals, opening balances and every generated line
  (revaluation, settlement, allocation, elimination, year-end, reversal) share it, so the
  ledger is simply their concatenation.

Money in a lines frame is exact: ``amount`` is the signed amount in integer minor units of
``currency`` (the transaction currency), ``amount_acct`` the signed amount in integer minor
units of the entity's accounting currency.  Debit positive, credit negative.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

ERROR = "error"
WARNING = "warning"

# Journal types of the lines the books give (spec section 5, ledger_journal.xlsx); the close's
# own are its steps' (closebatch.registry.JOURNAL_TYPES lists them all, in the ledger's order).
INPUT_JOURNAL_TYPES = ("opening", "daily", "adjustment")


@dataclass(frozen=True)
class Finding:
    """One problem found in the books, located as precisely as we can."""

    severity: str  # ERROR or WARNING
    message: str  # what is wrong, with the numbers
    hint: str = ""  # how to fix it, in plain English
    file: str = ""
    sheet: str = ""
    cell: str = ""  # e.g. "D6"
    column: str = ""
    value: str = ""
    code: str = ""  # a short machine-readable name of the rule, e.g. "journal-unbalanced"

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def where(self) -> str:
        parts = [p for p in (self.file, self.sheet, self.cell) if p]
        return "!".join(parts)


def errors(findings) -> list[Finding]:
    return [f for f in findings if f.is_error]


# Text key columns of a lines frame (blank is "", never NaN, so that groupby keeps them).
BASE_TEXT = ("journal", "entity", "account")
TAIL_TEXT = ("currency", "counterparty", "reference", "journal_type", "description", "source")


def line_columns(dims: tuple[str, ...] | list[str]) -> list[str]:
    """Column order of a lines frame for the book's dimensions."""
    return ["journal", "line", "date", "entity", "account", *dims, "currency", "amount",
            "amount_acct", "counterparty", "reference", "journal_type", "description", "source"]


def balance_key(dims) -> list[str]:
    """The columns a ledger balance is kept by (spec: entity, account, dimensions,
    counterparty, reference, currency)."""
    return ["entity", "account", *dims, "counterparty", "reference", "currency"]


_EMPTY_DTYPES = {"line": "int64", "amount": "int64", "amount_acct": "int64", "date": "datetime64[s]"}


def empty_lines(dims) -> pd.DataFrame:
    """A lines frame with no rows: text columns of ``object`` dtype (the dtype pandas gives a
    column of no values), ``line`` and the amounts ``int64``, ``date`` a datetime column (as
    :func:`pandas.to_datetime` gives it for no values)."""
    return pd.DataFrame({c: np.empty(0, dtype=_EMPTY_DTYPES.get(c, object)) for c in line_columns(dims)})


def _text(v, n: int):
    """A text column of a lines frame: ``str`` dtype, blanks as "" (no rows: object, the dtype
    pandas gives a column of no values)."""
    if n == 0:
        return np.empty(0, dtype=object)
    if v is None or isinstance(v, str):
        return pd.array(["" if v is None else v], dtype="str").take(np.zeros(n, dtype=np.intp))
    dtype = getattr(v, "dtype", None)
    if isinstance(dtype, pd.StringDtype) or dtype == object:
        out = pd.array(v, dtype="str")  # text already (kept as is), or Python values (converted once)
    else:
        out = pd.array(pd.Series(list(v), dtype=object), dtype="str")
    return out.fillna("") if out.isna().any() else out


def _dates(v, n: int) -> np.ndarray:
    """The date column of a lines frame (``datetime64[ns]``); a scalar broadcasts."""
    if v is None or isinstance(v, str) or not hasattr(v, "__len__"):
        one = pd.to_datetime(pd.Series([v], dtype=object)).astype("datetime64[ns]").to_numpy()
        return np.repeat(one, n)
    dtype = getattr(v, "dtype", None)
    if not (isinstance(dtype, np.dtype) and dtype.kind == "M"):  # dates as Python values or text
        v = pd.to_datetime(pd.Series(list(v), dtype=object))
    return pd.Series(v).astype("datetime64[ns]").to_numpy()


def make_lines(dims, **cols) -> pd.DataFrame:
    """Build a lines frame from column arrays; missing text columns become "".

    ``amount`` and ``amount_acct`` must be integer minor units.  Scalars broadcast.
    """
    n = max((len(v) for v in cols.values() if hasattr(v, "__len__") and not isinstance(v, str)), default=0)
    out = {}
    for c in line_columns(dims):
        v = cols.get(c)
        if c in ("amount", "amount_acct"):
            arr = np.zeros(n, dtype="int64") if v is None else np.broadcast_to(np.asarray(v, dtype="int64"), (n,))
            out[c] = np.array(arr, dtype="int64")
        elif c == "line":
            out[c] = np.arange(1, n + 1, dtype="int64") if v is None else np.broadcast_to(np.asarray(v, dtype="int64"), (n,)).copy()
        elif c == "date":
            out[c] = _dates(v, n)
        else:
            out[c] = _text(v, n)
    return pd.DataFrame(out)


def concat_lines(frames, dims) -> pd.DataFrame:
    frames = [f for f in frames if f is not None and len(f)]
    if not frames:
        return empty_lines(dims)
    cols = line_columns(dims)
    return pd.concat([f[cols] for f in frames], ignore_index=True)


@dataclass
class StepResult:
    """What a close step returns: new journal lines, findings, and report tables.

    ``reports`` maps a sheet name to a frame the writer puts into the step's workbook;
    ``figures`` holds the step's headline numbers for the close checklist; ``carry`` holds
    frames the runner persists in ``ledger/`` and hands to the next close as
    ``LedgerState.carried`` (amount columns in int64 minor units: ``amount`` of ``currency``,
    ``amount_acct`` of the entity's currency, ``amount_group`` of the group currency);
    ``shared`` holds what a later step of the same close may use (``CloseContext.earlier``)
    and nothing writes or persists.
    """

    lines: pd.DataFrame
    findings: list[Finding] = field(default_factory=list)
    reports: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: dict[str, object] = field(default_factory=dict)
    carry: dict[str, pd.DataFrame] = field(default_factory=dict)
    shared: dict[str, object] = field(default_factory=dict)
