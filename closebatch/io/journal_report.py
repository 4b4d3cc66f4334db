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

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from .. import money
from ..book import Book
from ..registry import JOURNAL_TYPES
from . import memory
from .outputs import journal_sheet
from .reader import column_letter
from .writer import Book as XBook
from .writer import Column, Sheet

GROUP_TYPES = ("elimination",)


def sort_order(lines: pd.DataFrame) -> np.ndarray:
    """The positions of ``lines`` by journal type (spec order), journal, entity, line;
    stable otherwise (the order :func:`sort_lines` puts them in).  Text is sorted by its
    characters' code points (as Python compares it), through integer codes: no Python
    object per line."""
    rank = {t: i for i, t in enumerate(JOURNAL_TYPES)}

    def codes(column: str) -> np.ndarray:
        c, _ = pd.factorize(lines[column], sort=True)  # codes in the order of the sorted values
        c = c.astype(np.int64)
        c[c < 0] = c.max(initial=-1) + 1  # a missing value after every value
        return c

    kind = lines["journal_type"].map(rank).fillna(len(rank)).astype(int).to_numpy()
    line = lines["line"].to_numpy(dtype=np.int64)
    return np.lexsort([np.arange(len(lines)), line, codes("entity"), codes("journal"), codes("journal_type"), kind])


def sort_lines(lines: pd.DataFrame) -> pd.DataFrame:
    """Lines by journal type (spec order), journal, entity, line; stable otherwise."""
    if not len(lines):
        return lines
    return lines.take(sort_order(lines)).reset_index(drop=True)


def write_ledger_journal(path: Path, book: Book, lines) -> Path:
    """``lines``: :func:`closebatch.io.outputs.journal_lines` output (debit, credit,
    accounting_currency added to a lines frame), or a function that returns it.  The lines
    are never copied whole in their sorted order: ``Lines`` takes them a block at a time in
    that order (:attr:`closebatch.io.writer.Sheet.order`), and the register is found through
    the order (:func:`journal_register`)."""
    df = lines() if callable(lines) else lines
    order = sort_order(df) if len(df) else np.zeros(0, dtype=np.int64)
    gcur = book.settings.group_currency or ""
    if len(df) and gcur:
        layer = df["journal_type"].isin(GROUP_TYPES).to_numpy()
        if layer.any():  # consolidation lines are in the group currency
            df = df.copy(deep=False)  # (the caller's frame keeps its own column)
            df["accounting_currency"] = df["accounting_currency"].where(~layer, gcur)
    lines_sheet = replace(journal_sheet(book, df), order=order)
    width = len(lines_sheet.columns)
    reg, totals = journal_register(df, order)
    xb = XBook(path, stream=True, cells=lines_sheet.cells * 2)  # the lines and about as much register
    xb.write(lines_sheet)
    del lines_sheet, df  # written: not held while the workbook is packed
    memory.give_back()  # ... nor kept by malloc while the register is built
    links = replace(REGISTER_COLUMNS[-1], make=lambda block: register_links(block, width))
    ws = xb.write(Sheet("By journal", reg, [*REGISTER_COLUMNS[:-1], links], words=True))
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
    Column("in_lines", "link", header="lines in Lines", width=16)]  # (made from _from and _to: register_links)


def journal_register(df: pd.DataFrame, order: np.ndarray | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per journal of the ledger journal ``df`` sorted (``order``: its rows'
    positions in the sorted order; None: ``df`` is sorted), in that order: the journal's
    debits and credits in accounting currency (its subtotal), their difference, its number
    of lines, its first date, description and source, and the Excel rows of its lines on the
    ``Lines`` sheet (``_from``, ``_to``: :func:`register_links` makes its link from them).
    A journal is a journal number of one entity
    (the consolidation layer's journals: of the group).  Also the totals per layer and
    accounting currency.

    Sorted, a journal's lines are consecutive: the register is found where the key (type,
    journal, entity, accounting currency) changes from one line to the next (compared as
    integer codes), and its sums by ``reduceat`` over those runs; no Python object per line,
    and no sorted copy of the lines' text.  The description and source are each journal's
    first non-blank ones, its date the earliest."""
    if not len(df):
        return pd.DataFrame({c: [] for c in REGISTER}), pd.DataFrame(
            columns=["_layer", "accounting_currency", "debit_acct", "credit_acct", "lines"])
    n = len(df)
    pos = np.arange(n) if order is None else np.asarray(order)  # sorted position -> row of df
    layer_rows = df["journal_type"].isin(GROUP_TYPES).to_numpy()
    group_layer = layer_rows[pos]
    entity = df["entity"].where(~layer_rows, "") if layer_rows.any() else df["entity"]
    change = np.zeros(n, dtype=bool)
    change[0] = True
    for key in (df["journal_type"], df["journal"], entity, df["accounting_currency"]):
        c = pd.factorize(key)[0][pos]  # a blank is -1: two blanks are the same key, as grouping has them
        change[1:] |= c[1:] != c[:-1]
    first = np.flatnonzero(change)
    last = np.append(first[1:], n) - 1
    acct = df["amount_acct"].to_numpy(dtype="int64")[pos]
    debit = np.add.reduceat(np.clip(acct, 0, None), first)
    credit = np.add.reduceat(np.clip(-acct, 0, None), first)
    dates = df["date"].to_numpy().astype("datetime64[ns]")[pos]
    stamp = dates.view("int64").copy()
    nat = np.isnat(dates)
    stamp[nat] = np.iinfo("int64").max  # the earliest date that is one
    earliest = np.minimum.reduceat(stamp, first)
    at = lambda col: col.take(pos[first]).reset_index(drop=True)  # noqa: E731 - each journal's first line's
    reg = pd.DataFrame({
        "journal_type": at(df["journal_type"]), "journal": at(df["journal"]), "entity": at(entity),
        "date": np.where(earliest == np.iinfo("int64").max, np.datetime64("NaT"), earliest.view("datetime64[ns]")),
        "lines": (last - first + 1).astype("int64"), "debit_acct": debit, "credit_acct": credit,
        "difference": debit - credit, "accounting_currency": at(df["accounting_currency"]),
        "description": _first_present(df["description"], first, last, pos),
        "source": _first_present(df["source"], first, last, pos)})
    reg["_from"], reg["_to"] = first + 2, last + 2  # its lines' Excel rows, below the header
    reg["_layer"] = group_layer[first]
    totals = reg.groupby(["_layer", "accounting_currency"], sort=True).agg(
        debit_acct=("debit_acct", "sum"), credit_acct=("credit_acct", "sum"), lines=("lines", "sum")).reset_index()
    return reg[REGISTER], totals


#: The register's columns: each written one but its link, and the rows its link spans.
REGISTER = [c.name for c in REGISTER_COLUMNS[:-1]] + ["_from", "_to"]


def register_links(reg: pd.DataFrame, width: int) -> list:
    """Each register row's link to its lines on ``Lines`` (``width`` columns wide): a
    ``(location, text)`` pair.  Made a block at a time as the register is written: as Python
    objects, the links of a million-line ledger journal took about 90 MB."""
    last_col = column_letter(width - 1)
    return [(f"'Lines'!A{x}:{last_col}{y}", f"rows {x}-{y}" if y > x else f"row {x}")
            for x, y in zip(reg["_from"].tolist(), reg["_to"].tolist())]


def _first_present(s: pd.Series, first: np.ndarray, last: np.ndarray, pos: np.ndarray) -> pd.Series:
    """Each run's first value that is not missing (missing when there is none); runs of
    sorted positions, ``pos`` their rows of ``s``."""
    present = np.flatnonzero(s.notna().to_numpy()[pos])
    if not len(present):
        return s.take(pos[first]).reset_index(drop=True)
    k = np.searchsorted(present, first)
    at = present[np.minimum(k, len(present) - 1)]
    ok = (k < len(present)) & (at <= last)
    return s.take(pos[np.where(ok, at, first)]).reset_index(drop=True).where(ok)


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

