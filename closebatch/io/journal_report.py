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


def sort_lines(lines: pd.DataFrame) -> pd.DataFrame:
    """Lines by journal type (spec order), journal, entity, line; stable otherwise."""
    if not len(lines):
        return lines
    order = {t: i for i, t in enumerate(JOURNAL_TYPES)}
    key = lines["journal_type"].map(order).fillna(len(order)).astype(int)
    df = lines.assign(_t=key.to_numpy(), _o=np.arange(len(lines)))
    df = df.sort_values(["_t", "journal_type", "journal", "entity", "line", "_o"], kind="stable")
    return df.drop(columns=["_t", "_o"]).reset_index(drop=True)


def write_ledger_journal(path: Path, book: Book, lines: pd.DataFrame) -> Path:
    """``lines``: :func:`closebatch.io.outputs.journal_lines` output (debit, credit,
    accounting_currency added to a lines frame)."""
    df = lines.copy()
    gcur = book.settings.group_currency or ""
    if len(df) and gcur:
        layer = df["journal_type"].isin(GROUP_TYPES).to_numpy()
        df.loc[layer, "accounting_currency"] = gcur  # consolidation lines are in the group currency
    df = sort_lines(df)
    xb = XBook(path, stream=True)
    lines_sheet = journal_sheet(book, df)
    xb.write(lines_sheet)
    reg, totals = journal_register(df, len(lines_sheet.columns))
    ws = xb.write(Sheet("By journal", reg, REGISTER_COLUMNS))
    _grand_totals(xb, ws, xb.next_row, totals)
    ws.freeze_panes(1, 3)
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
    accounting currency."""
    if not len(df):
        return pd.DataFrame({c.name: [] for c in REGISTER_COLUMNS}), pd.DataFrame(
            columns=["_layer", "accounting_currency", "debit_acct", "credit_acct", "lines"])
    acct = df["amount_acct"].to_numpy(dtype="int64")
    group_layer = df["journal_type"].isin(GROUP_TYPES).to_numpy()
    g = pd.DataFrame({"journal_type": df["journal_type"].to_numpy(dtype=object),
                      "journal": df["journal"].to_numpy(dtype=object),
                      "entity": np.where(group_layer, "", df["entity"].to_numpy(dtype=object)),
                      "accounting_currency": df["accounting_currency"].to_numpy(dtype=object),
                      "date": df["date"].to_numpy(), "debit_acct": np.clip(acct, 0, None),
                      "credit_acct": np.clip(-acct, 0, None), "description": df["description"].to_numpy(dtype=object),
                      "source": df["source"].to_numpy(dtype=object), "_pos": np.arange(len(df)),
                      "_layer": group_layer})
    key = ["journal_type", "journal", "entity", "accounting_currency"]
    reg = g.groupby(key, sort=False, dropna=False).agg(
        date=("date", "min"), lines=("_pos", "size"), debit_acct=("debit_acct", "sum"),
        credit_acct=("credit_acct", "sum"), description=("description", "first"), source=("source", "first"),
        first=("_pos", "min"), last=("_pos", "max"), _layer=("_layer", "first")).reset_index()
    reg["difference"] = reg["debit_acct"] - reg["credit_acct"]
    last_col = column_letter(width - 1)
    first_row, last_row = reg["first"].to_numpy() + 2, reg["last"].to_numpy() + 2  # Excel rows, below the header
    reg["in_lines"] = [(f"'Lines'!A{a}:{last_col}{b}", f"rows {a}-{b}" if b > a else f"row {a}")
                       for a, b in zip(first_row.tolist(), last_row.tolist())]
    totals = reg.groupby(["_layer", "accounting_currency"], sort=True).agg(
        debit_acct=("debit_acct", "sum"), credit_acct=("credit_acct", "sum"), lines=("lines", "sum")).reset_index()
    return reg[[c.name for c in REGISTER_COLUMNS]], totals


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

