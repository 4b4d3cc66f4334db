"""The validated books: typed frames and settings that the close steps compute with.

:func:`closebatch.validate.load_book` builds a :class:`Book` from the raw sheets read by
:mod:`closebatch.io.reader`.  Every frame built from an input sheet keeps three lineage
columns, ``_file``, ``_sheet``, ``_row`` (the Excel row number), and ``source``
(``file!sheet!row``), so any finding can point at the cell it is about with
:meth:`Book.locate`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import pandas as pd

from .cells import cell_ref, parse_source
from .core import ERROR, Finding

ACCOUNT_TYPES = ("Asset", "Liability", "Equity", "Revenue", "Expense")
BALANCE_SHEET_TYPES = ("Asset", "Liability", "Equity")
PROFIT_TYPES = ("Revenue", "Expense")
STATUSES = ("Open", "On hold", "Permanently closed")


@dataclass(frozen=True)
class Settings:
    """The Settings sheet, typed.  Account settings are "" when not given."""

    group_currency: str = ""
    dimensions: tuple[str, ...] = ()
    unrealized_gain_account: str = ""
    unrealized_loss_account: str = ""
    realized_gain_account: str = ""
    realized_loss_account: str = ""
    retained_earnings_account: str = ""
    translation_reserve_account: str = ""
    nci_account: str = ""
    nci_profit_account: str = ""
    rounding_account: str = ""
    rounding_tolerance: Decimal = Decimal("0.05")
    reverse_revaluation: bool = False
    revaluation_rate_type: str = "closing"
    # key -> (file, sheet, row) of the Settings row that set it, for findings
    origin: dict = field(default_factory=dict, compare=False)


@dataclass
class Book:
    """Everything the user dropped in, validated and typed.

    Frames (all with lineage columns ``_file``, ``_sheet``, ``_row``, ``source``):

    * ``entities``: entity, name, currency, parent ("" at the top), ownership (float, 0..1,
      share the parent holds), consolidate (bool)
    * ``accounts``: account, name, type, revalue, settle (bool), translation
      (closing/average/historical), revaluation_rate_type ("" = the setting),
      statement_line, control ("", AR, AP, Inventory)
    * ``periods``: period, start, end (datetime64[ns]), fiscal_year (int), status,
      access_group, plus ``year_end`` (bool: last period of its fiscal year), in calendar order
    * ``opening``: a lines frame (see :mod:`closebatch.core`) of the TrialBalance, journal_type
      ``opening``, dated the first period's start
    * ``journals``: a lines frame of every Journals line with extra columns ``posted`` (bool),
      ``reverse_on`` (datetime64, NaT when blank), ``prepared_by``, ``debit``/``credit``
      (minor units, as given), ``given_acct`` (bool: amount_acct was given), ``period``
    * ``rates``: from, to, date, rate (float as written), type, source
    * ``allocations``, ``statistics``, ``eliminations``, ``historical_rates``,
      ``subledgers``, ``tasks``, ``users``, ``statements``: the sheets with typed columns
      (empty frames when absent)
    * ``checklist``: the Checklist sheets (task, period, status, prepared_by, prepared_on,
      reviewed_by, reviewed_on, note), or None when the books have none
    """

    settings: Settings
    entities: pd.DataFrame
    accounts: pd.DataFrame
    periods: pd.DataFrame
    opening: pd.DataFrame
    journals: pd.DataFrame
    rates: pd.DataFrame
    allocations: pd.DataFrame
    statistics: pd.DataFrame
    eliminations: pd.DataFrame
    historical_rates: pd.DataFrame
    subledgers: pd.DataFrame
    tasks: pd.DataFrame
    users: pd.DataFrame
    statements: pd.DataFrame
    # (file, sheet) -> {normalised column name -> Excel column letter}
    columns: dict = field(default_factory=dict)
    # each period's task statuses and sign-offs (spec v1.1); None when the books have no
    # Checklist sheet (then Tasks.status is the status of the period being closed, as in v1)
    checklist: pd.DataFrame | None = None

    @property
    def dims(self) -> tuple[str, ...]:
        return self.settings.dimensions

    def entity_currency(self) -> dict[str, str]:
        return dict(zip(self.entities["entity"], self.entities["currency"]))

    def account_type(self) -> dict[str, str]:
        return dict(zip(self.accounts["account"], self.accounts["type"]))

    def locate(self, row, column: str = "") -> dict:
        """File, sheet and cell of ``row`` (a Series or dict with lineage) and ``column``."""
        f, s, r = row["_file"], row["_sheet"], int(row["_row"])
        return {"file": f, "sheet": s, "cell": cell_ref(self.columns, f, s, r, column), "column": column}

    def locate_source(self, source, column: str = "", sheet: str = "") -> dict:
        """File, sheet and cell of the input row a ``file!sheet!row`` source names (just
        ``sheet`` when the source is not one: a generated line)."""
        got = parse_source(source)
        if got is None:
            return {"sheet": sheet, "column": column} if sheet else {"column": column}
        f, s, r = got
        return {"file": f, "sheet": s, "cell": cell_ref(self.columns, f, s, r, column), "column": column}

    def locate_setting(self, key: str, column: str = "value") -> dict:
        """File, sheet and cell of the Settings row that sets ``key`` (the Settings sheet when
        no row does)."""
        f, s, r = (self.settings.origin or {}).get(key, ("", "Settings", 0))
        return {"file": f, "sheet": s or "Settings", "cell": cell_ref(self.columns, f, s, r, column),
                "column": column}

    def finding(self, row, column: str, message: str, hint: str = "", severity: str = ERROR,
                code: str = "", value=None) -> Finding:
        """A finding about ``row``'s ``column`` cell."""
        if value is None:
            value = row.get(column, "") if hasattr(row, "get") else ""
        return Finding(severity=severity, message=message, hint=hint, value=_text(value), code=code,
                       **self.locate(row, column))


def _text(v) -> str:
    if v is None:
        return ""
    try:
        if pd.isna(v):
            return ""
    except (TypeError, ValueError):
        pass
    return str(v)
