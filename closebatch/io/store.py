"""The persisted ledger: ``BOOKS/ledger/``, workbooks a person can open.

* ``ledger/periods.xlsx``: ``Status`` (each period's status as the tool last set it) and
  ``History`` (every change: period, from, to, who, when, why).
* ``ledger/PERIOD.xlsx`` for each closed period: ``Balances`` (closing balances per entity,
  account, dimensions, counterparty, reference and currency, in transaction and accounting
  currency, before any year-end closing entries), ``Lines`` (every line the close posted:
  given and generated), ``Scheduled`` (generated lines dated after the period, e.g. reversals,
  posted by the close of their own period), ``Posted`` (a fingerprint of each input line the
  close consumed) and one ``carry_NAME`` sheet per frame a step carries forward.

Amounts are written as decimals (so a person can read them) and read back into exact minor
units with the currency's digits: ``amount`` by ``currency``, ``amount_acct`` by the entity's
currency, ``amount_group`` by the group currency.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from .. import money
from .writer import Column, Sheet, write_workbook

LEDGER = "ledger"
STATUS_FILE = "periods.xlsx"


def _read_sheets(path: Path) -> dict[str, pd.DataFrame]:
    from python_calamine import CalamineWorkbook

    out = {}
    wb = CalamineWorkbook.from_path(str(path))
    try:
        for name in wb.sheet_names:
            rows = wb.get_sheet_by_name(name).to_python(skip_empty_area=False)
            if not rows:
                out[name] = pd.DataFrame()
                continue
            header = [str(h) for h in rows[0]]
            body = [r + [""] * (len(header) - len(r)) for r in rows[1:]]
            df = pd.DataFrame(body, columns=header, dtype=object) if body else pd.DataFrame(columns=header, dtype=object)
            out[name] = df.loc[:, [h for h in header if h]]
    finally:
        wb.close()
    return out


def money_columns(df: pd.DataFrame, ent_ccy: dict, group_ccy: str) -> list[Column]:
    cols = []
    for c in df.columns:
        if c in ("amount", "balance") and "currency" in df:
            cols.append(Column(c, "money", "currency"))
        elif c in ("amount_acct", "balance_acct") and "entity" in df:
            cols.append(Column(c, "money", "_acct_ccy"))
        elif c in ("amount_group", "balance_group"):
            cols.append(Column(c, "money", money.scale_of(group_ccy) if group_ccy else 2))
        elif c == "date" or pd.api.types.is_datetime64_any_dtype(df[c]):
            cols.append(Column(c, "date"))
        elif pd.api.types.is_bool_dtype(df[c]):
            cols.append(Column(c, "bool"))
        elif pd.api.types.is_integer_dtype(df[c]) or pd.api.types.is_float_dtype(df[c]):
            cols.append(Column(c, "number"))
        else:
            cols.append(Column(c, "text"))
    return cols


def _to_sheet(name: str, df: pd.DataFrame, ent_ccy: dict, group_ccy: str) -> Sheet:
    df = df.reset_index(drop=True)
    if "entity" in df:
        df = df.assign(_acct_ccy=df["entity"].map(ent_ccy).fillna(""))
    cols = money_columns(df.drop(columns=["_acct_ccy"], errors="ignore"), ent_ccy, group_ccy)
    return Sheet(name[:31], df, cols)


def _from_sheet(df: pd.DataFrame, ent_ccy: dict, group_ccy: str) -> pd.DataFrame:
    """Decimals back to minor units; blanks to ""; dates to datetime64."""
    df = df.copy()
    for c in df.columns:
        if c in ("amount", "balance", "amount_acct", "balance_acct", "amount_group", "balance_group"):
            if c in ("amount", "balance"):
                scale = money.scales(df["currency"].to_numpy())
            elif c in ("amount_acct", "balance_acct"):
                scale = money.scales(df["entity"].map(ent_ccy).fillna("USD").to_numpy())
            else:
                scale = money.scale_of(group_ccy) if group_ccy else 2
            vals = pd.to_numeric(df[c].replace("", 0), errors="coerce").fillna(0).to_numpy(dtype="float64")
            df[c] = money.to_minor(vals, scale)[0]
        elif c in ("date", "reverse_on", "rate_date"):
            df[c] = pd.to_datetime(df[c].replace("", None)).astype("datetime64[ns]")
        elif c in ("line", "fiscal_year"):
            df[c] = pd.to_numeric(df[c], errors="coerce").fillna(0).astype("int64")
        else:
            df[c] = df[c].map(lambda v: "" if v is None else (str(int(v)) if isinstance(v, float) and v.is_integer()
                                                            else str(v)))
    return df


def fingerprint(lines: pd.DataFrame, dims) -> pd.Series:
    """A short hash of what identifies an input line (spec section 4): journal, line, date,
    entity, account, dimensions, currency and amounts."""
    cols = ["journal", "line", "date", "entity", "account", *dims, "currency", "amount", "amount_acct"]
    if not len(lines):
        return pd.Series([], dtype=object)
    key = lines[cols].astype(str).agg("|".join, axis=1)
    return key.map(lambda s: hashlib.sha256(s.encode()).hexdigest()[:16])


class Store:
    """Read and write ``BOOKS/ledger/``."""

    def __init__(self, books: Path, ent_ccy: dict | None = None, group_ccy: str = ""):
        self.dir = Path(books) / LEDGER
        self.ent_ccy = ent_ccy or {}
        self.group_ccy = group_ccy

    # -- statuses
    def statuses(self) -> tuple[dict, pd.DataFrame]:
        """``({period: status}, history)`` as persisted (empty when nothing was closed yet)."""
        path = self.dir / STATUS_FILE
        if not path.exists():
            return {}, pd.DataFrame(columns=["period", "from", "to", "user", "when", "note"])
        sheets = _read_sheets(path)
        st = sheets.get("Status", pd.DataFrame(columns=["period", "status"]))
        hist = sheets.get("History", pd.DataFrame(columns=["period", "from", "to", "user", "when", "note"]))
        return dict(zip(st["period"].astype(str), st["status"].astype(str))), hist

    def write_statuses(self, statuses: dict, history: pd.DataFrame) -> None:
        st = pd.DataFrame({"period": list(statuses), "status": list(statuses.values())})
        self._atomic(STATUS_FILE, [Sheet("Status", st), Sheet("History", history.astype(str))])

    # -- closed periods
    def has(self, period: str) -> bool:
        return (self.dir / f"{period}.xlsx").exists()

    def load(self, period: str) -> dict[str, pd.DataFrame]:
        sheets = _read_sheets(self.dir / f"{period}.xlsx")
        return {k: _from_sheet(v, self.ent_ccy, self.group_ccy) for k, v in sheets.items()}

    def save(self, period: str, frames: dict[str, pd.DataFrame]) -> Path:
        sheets = [_to_sheet(name, df, self.ent_ccy, self.group_ccy) for name, df in frames.items()]
        return self._atomic(f"{period}.xlsx", sheets)

    def remove(self, period: str) -> None:
        p = self.dir / f"{period}.xlsx"
        if p.exists():
            p.unlink()

    def _atomic(self, name: str, sheets: list[Sheet]) -> Path:
        self.dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".xlsx", dir=self.dir)
        os.close(fd)
        try:
            write_workbook(Path(tmp), sheets)
            os.replace(tmp, self.dir / name)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return self.dir / name
