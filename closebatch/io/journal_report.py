"""``ledger_journal.xlsx``: every line posted in the period, as a reviewer reads it.

* ``Lines``: the plain table of spec section 5 (header on row 1, one row per line, filters,
  frozen header), sorted by journal type (in the order of
  :data:`closebatch.registry.JOURNAL_TYPES`: daily, adjustment, revaluation, … year_end), then
  journal, entity and line.  No subtotal rows, so any reader can take it as a table.
* ``By journal``: the register of journals, in the same order: one row per journal with its
  subtotal (debits and credits in accounting currency, their difference), its number of
  lines, first date, description and source, and a link to its rows on ``Lines`` (so a
  reviewer filters the register, e.g. on a non-zero difference, and clicks through to the
  lines).  A journal is one journal number of one entity; the consolidation layer's journals
  (type ``elimination``, in the group currency) are one journal per number.  At the bottom
  a total per accounting currency (the consolidation layer's apart, in group currency; every
  journal balances: translation differences are not a journal but the translated trial
  balance's own, shown in ``consolidation.xlsx``).  Each line is written once (in ``Lines``),
  which keeps a million-line journal to one sheet of cells rather than two.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .. import money
from ..book import Book
from ..registry import JOURNAL_TYPES
from .outputs import journal_sheet
from .reader import column_letter
from .writer import Book as XBook
from .writer import Column, Sheet

GROUP_TYPES = ("elimination",)


def sort_order(lines: pd.DataFrame) -> np.ndarray:
    """The positions of ``lines`` by journal type (spec order), journal, entity, line;
    stable otherwise (the order :func:`sort_lines` puts them in)."""
    order = {t: i for i, t in enumerate(JOURNAL_TYPES)}
    keys = pd.DataFrame({"_t": lines["journal_type"].map(order).fillna(len(order)).astype(int).to_numpy(),
                         "journal_type": lines["journal_type"].to_numpy(), "journal": lines["journal"].to_numpy(),
                         "entity": lines["entity"].to_numpy(), "line": lines["line"].to_numpy(),
                         "_o": np.arange(len(lines))})
    keys = keys.sort_values(["_t", "journal_type", "journal", "entity", "line", "_o"], kind="stable")
    return keys["_o"].to_numpy()


def sort_lines(lines: pd.DataFrame) -> pd.DataFrame:
    """Lines by journal type (spec order), journal, entity, line; stable otherwise."""
    if not len(lines):
        return lines
    return lines.take(sort_order(lines)).reset_index(drop=True)


def write_ledger_journal(path: Path, book: Book, lines) -> Path:
    """``lines``: :func:`closebatch.io.outputs.journal_lines` output (debit, credit,
    accounting_currency added to a lines frame), or a function that returns it (then only
    its sorted copy is held while writing).  The frame is sorted once (one copy of it); the
    consolidation layer's accounting currency is set on that copy."""
    df = sort_lines(lines() if callable(lines) else lines)
    gcur = book.settings.group_currency or ""
    if len(df) and gcur:
        layer = df["journal_type"].isin(GROUP_TYPES).to_numpy()
        if layer.any():  # consolidation lines are in the group currency
            df["accounting_currency"] = df["accounting_currency"].where(~layer, gcur)
    lines_sheet = journal_sheet(book, df)
    xb = XBook(path, stream=True, cells=lines_sheet.cells * 2)  # the lines and about as much register
    xb.write(lines_sheet)
    reg, totals = journal_register(df, len(lines_sheet.columns))
    del lines_sheet, df  # written: not held while the workbook is packed
    ws = xb.write(Sheet("By journal", reg, REGISTER_COLUMNS, words=True))
    _grand_totals(xb, ws, xb.next_row, totals)
    ws.freeze_panes(1, 3)
    del reg
    xb.close()
    return Path(path)


REGISTER_COLUMNS = [
    Column("journal_type", width=12), Column("journal", width=16), Column("entity", width=8),
    Column("date", "date"), Column("lines", "int", width=7), Column("debit_acct", "money", "accounting_currency"),
    Column("credit_acct", "money", "accounting_currency"), Column("difference", "money", "accounting_currency"),
    Column("accounting_currency", width=11), Column("description", width=40), Column("source", width=40),
    Column("in_lines", "link", header="lines in Lines", width=16)]


def journal_register(df: pd.DataFrame, width: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per journal of the sorted ledger journal ``df``, in its order: the journal's
    debits and credits in accounting currency (its subtotal), their difference, its number
    of lines, its first date, description and source, and a link to its rows on the
    ``Lines`` sheet (``width`` columns wide).  A journal is a journal number of one entity
    (the consolidation layer's journals: of the group).  Also the totals per layer and
    accounting currency.

    ``df`` being sorted, a journal's lines are consecutive: the register is found where the
    key (type, journal, entity, accounting currency) changes from one line to the next, and
    its sums by ``reduceat`` over those runs; no Python object per line.  The description
    and source are each journal's first non-blank ones, its date the earliest."""
    if not len(df):
        return pd.DataFrame({c.name: [] for c in REGISTER_COLUMNS}), pd.DataFrame(
            columns=["_layer", "accounting_currency", "debit_acct", "credit_acct", "lines"])
    n = len(df)
    group_layer = df["journal_type"].isin(GROUP_TYPES).to_numpy()
    entity = df["entity"].where(~group_layer, "") if group_layer.any() else df["entity"]
    change = np.zeros(n, dtype=bool)
    change[0] = True
    for key in (df["journal_type"], df["journal"], entity, df["accounting_currency"]):
        change[1:] |= _differs(key)
    first = np.flatnonzero(change)
    last = np.append(first[1:], n) - 1
    acct = df["amount_acct"].to_numpy(dtype="int64")
    debit = np.add.reduceat(np.clip(acct, 0, None), first)
    credit = np.add.reduceat(np.clip(-acct, 0, None), first)
    dates = df["date"].to_numpy().astype("datetime64[ns]")
    stamp = dates.view("int64").copy()
    nat = np.isnat(dates)
    stamp[nat] = np.iinfo("int64").max  # the earliest date that is one
    earliest = np.minimum.reduceat(stamp, first)
    at = lambda col: col.take(first).reset_index(drop=True)  # noqa: E731 - each journal's first line's
    reg = pd.DataFrame({
        "journal_type": at(df["journal_type"]), "journal": at(df["journal"]), "entity": at(entity),
        "date": np.where(earliest == np.iinfo("int64").max, np.datetime64("NaT"), earliest.view("datetime64[ns]")),
        "lines": (last - first + 1).astype("int64"), "debit_acct": debit, "credit_acct": credit,
        "difference": debit - credit, "accounting_currency": at(df["accounting_currency"]),
        "description": _first_present(df["description"], first, last),
        "source": _first_present(df["source"], first, last)})
    last_col = column_letter(width - 1)
    a, b = first + 2, last + 2  # Excel rows, below the header
    reg["in_lines"] = [(f"'Lines'!A{x}:{last_col}{y}", f"rows {x}-{y}" if y > x else f"row {x}")
                       for x, y in zip(a.tolist(), b.tolist())]
    reg["_layer"] = group_layer[first]
    totals = reg.groupby(["_layer", "accounting_currency"], sort=True).agg(
        debit_acct=("debit_acct", "sum"), credit_acct=("credit_acct", "sum"), lines=("lines", "sum")).reset_index()
    return reg[[c.name for c in REGISTER_COLUMNS]], totals


def _differs(s: pd.Series) -> np.ndarray:
    """Whether each value after the first differs from the one before it (two blanks are
    the same key, as grouping has them)."""
    v = s.reset_index(drop=True)
    prev = v.shift(1)
    ne = v.ne(prev).fillna(True).to_numpy(dtype=bool)
    return (ne & ~(v.isna().to_numpy() & prev.isna().to_numpy()))[1:]


def _first_present(s: pd.Series, first: np.ndarray, last: np.ndarray) -> pd.Series:
    """Each run's first value that is not missing (missing when there is none)."""
    present = np.flatnonzero(s.notna().to_numpy())
    if not len(present):
        return s.take(first).reset_index(drop=True)
    k = np.searchsorted(present, first)
    pos = present[np.minimum(k, len(present) - 1)]
    ok = (k < len(present)) & (pos <= last)
    return s.take(np.where(ok, pos, first)).reset_index(drop=True).where(ok)


def _grand_totals(xb: XBook, ws, row: int, totals: pd.DataFrame) -> None:
    """Below the register: the total per accounting currency, the consolidation layer's apart
    (its translation-reserve journals balance the translated trial balance, not themselves)."""
    col = {c.name: j for j, c in enumerate(REGISTER_COLUMNS)}
    grand = xb.fmt(bold=True, top=1, bottom=6)
    for layer, ccy, dsum, csum, k in totals[["_layer", "accounting_currency", "debit_acct", "credit_acct",
                                             "lines"]].itertuples(index=False):  # one per currency
        sc = money.scale_of(ccy)
        amount = xb.money_fmt(sc, bold=True, top=1, bottom=6)
        ws.write_string(row, col["journal_type"], "Total", grand)
        ws.write_number(row, col["lines"], int(k), xb.fmt(num_format="0", bold=True, top=1, bottom=6))
        for name, v in (("debit_acct", dsum), ("credit_acct", csum), ("difference", dsum - csum)):
            ws.write_number(row, col[name], float(money.from_minor(np.array([v]), sc)[0]), amount)
        ws.write_string(row, col["accounting_currency"], ccy, grand)
        what = f"All consolidation journals ({ccy}, group currency)" if layer else f"All entity journals in {ccy}"
        ws.write_string(row, col["description"], f"{what}: {k} lines", grand)
        row += 1

