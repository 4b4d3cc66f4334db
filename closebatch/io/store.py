"""The persisted ledger: ``BOOKS/ledger/``, workbooks a person can open.

* ``ledger/periods.xlsx``: ``Status`` (each period's status as the tool last set it) and
  ``History`` (every change: period, from, to, who, when, why).
* ``ledger/PERIOD.xlsx`` for each closed period: ``Balances`` (closing balances per entity,
  account, dimensions, counterparty, reference and currency, in transaction and accounting
  currency, before any year-end closing entries), ``Lines`` (every line the close generated:
  reversals, settlement, revaluation, allocation; the given lines are in ``Posted``),
  ``Scheduled`` (generated lines dated after the period, e.g. reversals,
  posted by the close of their own period), ``Posted`` (each input line the close consumed,
  with its fingerprint) and one ``carry_NAME`` sheet per frame a step carries forward.
* ``ledger/closed_entities.xlsx`` while a period is being closed entity by entity
  (``close --entity``): ``Closed`` (period, entity, user, when) and ``Posted`` (the
  fingerprints of the input lines those closes consumed, with the period).  The rows of a
  period go when it is put on hold or reopened.

Amounts are written as decimals (so a person can read them) and read back into exact minor
units with the currency's digits: ``amount`` by ``currency``, ``amount_acct`` by the entity's
currency, ``amount_group`` by the group currency.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import pandas as pd

from .. import money
from . import atomic
from .writer import Column, Sheet, continuation_of, write_workbook

LEDGER = "ledger"
STATUS_FILE = "periods.xlsx"
ENTITIES_FILE = "closed_entities.xlsx"
CLOSED_COLUMNS = ["period", "entity", "user", "when"]


class LedgerUnreadable(Exception):
    """A workbook of ``ledger/`` that cannot be read (damaged, or re-saved into something else)."""

    def __init__(self, path: Path, why: str):
        self.path = Path(path)
        why = why.rstrip(".")
        super().__init__(f"{self.path.parent.name}/{self.path.name} cannot be read ({why}). It is closebatch's record "
                         "of the closes; nothing was changed. Restore it from a backup, or reopen and close the "
                         "period again if its record is lost")


def _read_sheets(path: Path, only=None) -> dict[str, pd.DataFrame]:
    from python_calamine import CalamineWorkbook

    from . import guard

    bad, _ = guard.inspect(path, path.name, lambda name: only is None or name in only
                           or continuation_of(name, only) is not None)
    if bad:
        raise LedgerUnreadable(path, bad.message.rstrip("."))
    out = {}
    try:
        wb = CalamineWorkbook.from_path(str(path))
    except Exception as e:  # noqa: BLE001
        raise LedgerUnreadable(path, str(e)[:200]) from e
    names = list(wb.sheet_names)
    try:
        for name in names:
            base = continuation_of(name, names) or name  # a table too long for one sheet goes on
            if only is not None and base not in only:
                continue
            try:
                rows = wb.get_sheet_by_name(name).to_python(skip_empty_area=False)
            except Exception as e:  # noqa: BLE001
                raise LedgerUnreadable(path, f"sheet {name}: {str(e)[:200]}") from e
            if not rows:
                out[name] = pd.DataFrame()
                continue
            header = [str(h) for h in rows[0]]
            body = [r + [""] * (len(header) - len(r)) for r in rows[1:]]
            df = pd.DataFrame(body, columns=header, dtype=object) if body else pd.DataFrame(columns=header, dtype=object)
            df = df.loc[:, [h for h in header if h]]
            out[base] = pd.concat([out[base], df], ignore_index=True) if base in out else df
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
    parts = lines[cols].astype(str)
    columns = [parts[c].tolist() for c in cols]
    return pd.Series([hashlib.sha256("|".join(k).encode()).hexdigest()[:16] for k in zip(*columns)],
                     index=lines.index, dtype=object)


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

    # -- entities closed in a period that is still Open (close --entity)
    def entity_closes(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """``(closed, posted)``: the entities closed per period, and the fingerprints of the
        input lines their closes consumed (``period`` column on both)."""
        path = self.dir / ENTITIES_FILE
        if not path.exists():
            return pd.DataFrame(columns=CLOSED_COLUMNS), pd.DataFrame(columns=["period", "entity", "fingerprint"])
        sheets = {k: _from_sheet(v, self.ent_ccy, self.group_ccy) for k, v in _read_sheets(path).items()}
        closed = sheets.get("Closed", pd.DataFrame(columns=CLOSED_COLUMNS))
        posted = sheets.get("Posted", pd.DataFrame(columns=["period", "entity", "fingerprint"]))
        return closed, posted

    def write_entity_closes(self, closed: pd.DataFrame, posted: pd.DataFrame) -> None:
        if not len(closed):
            p = self.dir / ENTITIES_FILE
            if p.exists():
                p.unlink()
            return
        self._atomic(ENTITIES_FILE, [_to_sheet("Closed", closed[CLOSED_COLUMNS], self.ent_ccy, self.group_ccy),
                                     _to_sheet("Posted", posted, self.ent_ccy, self.group_ccy)])

    # -- closed periods
    def has(self, period: str) -> bool:
        return (self.dir / f"{period}.xlsx").exists()

    def load(self, period: str) -> dict[str, pd.DataFrame]:
        sheets = _read_sheets(self.dir / f"{period}.xlsx")
        return {k: _from_sheet(v, self.ent_ccy, self.group_ccy) for k, v in sheets.items()}

    def sheet(self, period: str, name: str) -> pd.DataFrame | None:
        """One sheet of a closed period's workbook, read alone, or None."""
        if not self.has(period):
            return None
        got = _read_sheets(self.dir / f"{period}.xlsx", only=(name,)).get(name)
        return _from_sheet(got, self.ent_ccy, self.group_ccy) if got is not None else None

    def posted(self, period: str) -> pd.DataFrame | None:
        """The ``Posted`` sheet of a closed period (the input lines its close consumed, with
        their fingerprints), or None."""
        return self.sheet(period, "Posted")

    def period_balances(self, period: str) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
        """A closed period's closing balances for comparatives: ``Balances`` summed per
        entity and account (entity, account, amount_acct; before year-end closing entries)
        and the consolidated balances the close carried (account, balance_group), or None
        where the ledger has no such sheet."""
        if not self.has(period):
            return None, None
        sheets = _read_sheets(self.dir / f"{period}.xlsx", only=("Balances", "carry_group_balances"))
        ent = grp = None
        if "Balances" in sheets and "entity" in sheets["Balances"]:
            b = _from_sheet(sheets["Balances"], self.ent_ccy, self.group_ccy)
            ent = b.groupby(["entity", "account"], as_index=False, sort=True)["amount_acct"].sum() if len(b) else \
                pd.DataFrame({"entity": [], "account": [], "amount_acct": pd.Series([], dtype="int64")})
        g = sheets.get("carry_group_balances")
        if g is not None and "balance_group" in g:
            g = _from_sheet(g, self.ent_ccy, self.group_ccy)
            grp = g.groupby("account", as_index=False, sort=True)["balance_group"].sum()
        return ent, grp

    def save(self, period: str, frames: dict[str, pd.DataFrame]) -> Path:
        """Write a closed period's workbook and rename it into place."""
        return self._atomic(f"{period}.xlsx", self._sheets(frames))

    def stage(self, period: str, frames: dict[str, pd.DataFrame]) -> "Staged":
        """A closed period's workbook to write under a temporary name now (possibly in
        another process) and to rename into place later (:meth:`Staged.commit`)."""
        return self._stage(f"{period}.xlsx", self._sheets(frames))

    def _sheets(self, frames: dict[str, pd.DataFrame]) -> list[Sheet]:
        return [_to_sheet(name, df, self.ent_ccy, self.group_ccy) for name, df in frames.items()]

    def remove(self, period: str) -> None:
        p = self.dir / f"{period}.xlsx"
        if p.exists():
            p.unlink()

    def _atomic(self, name: str, sheets: list[Sheet]) -> Path:
        """Write a ledger workbook under a temporary name, flush it, rename it into place:
        a run killed at any moment leaves the previous file or the new one, never a part."""
        staged = self._stage(name, sheets)
        try:
            staged.write()
            return staged.commit()
        finally:
            staged.discard()

    def _stage(self, name: str, sheets: list[Sheet]) -> "Staged":
        self.dir.mkdir(parents=True, exist_ok=True)
        atomic.sweep(self.dir, name)
        fd, tmp = tempfile.mkstemp(prefix=atomic.temp_prefix(name), suffix=".xlsx", dir=self.dir)
        os.close(fd)
        return Staged(Path(tmp), self.dir / name, sheets)


class Staged:
    """A ledger workbook written under a temporary name beside its final one."""

    def __init__(self, tmp: Path, final: Path, sheets: list[Sheet]):
        self.tmp, self.final, self.sheets = tmp, final, sheets

    @property
    def cells(self) -> int:
        return sum(s.cells for s in self.sheets)

    def write(self) -> None:
        write_workbook(self.tmp, self.sheets, title=self.final.stem)

    def commit(self) -> Path:
        """Rename the written file into place (flushed first)."""
        atomic.replace(self.tmp, self.final)
        return self.final

    def discard(self) -> None:
        """Remove the temporary file if it is still there (not committed)."""
        if os.path.exists(self.tmp):
            os.unlink(self.tmp)
