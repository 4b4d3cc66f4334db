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

import atexit
import os
import pickle
import select
import shutil
import signal
import struct
import tempfile
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from .. import money
from ..book import Book
from ..core import INPUT_JOURNAL_TYPES, concat_lines
from ..registry import JOURNAL_TYPES
from . import deflate, fastcells, memory, outputs, parallel
from .outputs import journal_sheet
from .reader import column_letter
from .writer import BLOCK, Column, Sheet
from .writer import Book as XBook

GROUP_TYPES = ("elimination",)


def sort_order(lines: pd.DataFrame) -> np.ndarray:
    """The positions of ``lines`` by journal type (spec order), journal, entity, line;
    stable otherwise (the order :func:`sort_lines` puts them in).  Text is sorted by its
    characters' code points (as Python compares it), through integer codes: no Python
    object per line."""
    def codes(column: str) -> np.ndarray:
        c, _ = pd.factorize(lines[column], sort=True)  # codes in the order of the sorted values
        c = c.astype(np.int64)
        c[c < 0] = c.max(initial=-1) + 1  # a missing value after every value
        return c

    line = lines["line"].to_numpy(dtype=np.int64)
    return np.lexsort([np.arange(len(lines)), line, codes("entity"), codes("journal"), codes("journal_type"),
                       _kind(lines)])


def _kind(lines: pd.DataFrame) -> np.ndarray:
    """Each line's journal type's place in the spec's order (an unknown type after them all)."""
    rank = {t: i for i, t in enumerate(JOURNAL_TYPES)}
    codes, types = pd.factorize(lines["journal_type"])  # a handful of types: mapped once each
    places = np.array([rank.get(t, len(rank)) for t in types] + [len(rank)], dtype=np.int64)
    return places[codes]  # (a missing type, code -1, takes the last place)


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
    df = _group_layer(book, lines() if callable(lines) else lines)
    order = sort_order(df) if len(df) else np.zeros(0, dtype=np.int64)
    lines_sheet = replace(journal_sheet(book, df), order=order)
    del df
    xb = XBook(path, stream=True, cells=lines_sheet.cells * 2)  # the lines and about as much register
    return _write(xb, lines_sheet)


def _group_layer(book: Book, df: pd.DataFrame) -> pd.DataFrame:
    """The lines with the consolidation layer's accounting currency: the group's."""
    gcur = book.settings.group_currency or ""
    if len(df) and gcur:
        layer = df["journal_type"].isin(GROUP_TYPES).to_numpy()
        if layer.any():  # consolidation lines are in the group currency
            df = df.copy(deep=False)  # (the caller's frame keeps its own column)
            df["accounting_currency"] = df["accounting_currency"].where(~layer, gcur)
    return df


def _write(xb: XBook, lines_sheet: Sheet) -> Path:
    """``Lines`` (waiting for its last rows, if it is a waiting sheet), then the register."""
    width = len(lines_sheet.columns)
    xb.write(lines_sheet)
    done, xb.written = xb.written, None
    reg, totals = journal_register(done.frame, done.order)
    del lines_sheet, done  # written: not held while the workbook is packed
    memory.give_back()  # ... nor kept by malloc while the register is written
    links = replace(REGISTER_COLUMNS[-1], make=lambda block: register_links(block, width))
    ws = xb.write(Sheet("By journal", reg, [*REGISTER_COLUMNS[:-1], links], words=True))
    xb.written = None
    _grand_totals(xb, ws, xb.next_row, totals)
    ws.freeze_panes(1, 3)
    del reg
    xb.close()
    return xb.path


#: Begin the ledger journal while the steps run (:class:`EarlyJournal`); False: after them.
EARLY = os.environ.get("CLOSEBATCH_EARLY_JOURNAL", "1") not in ("", "0")

#: The journal types no step of the close posts, which sort before those that one does
#: (:data:`closebatch.registry.JOURNAL_TYPES`): lines of these types posted before the
#: steps run are the first rows of ``Lines``, whatever the steps post.
FIRST_TYPES = INPUT_JOURNAL_TYPES + ("reversal",)


class EarlyJournal:
    """The ledger journal begun while the close's steps run.

    Its ``Lines`` are sorted by journal type first, and the period's given lines (of
    :data:`FIRST_TYPES`, nearly all of them) sort before any line a step posts.  So a forked
    child process takes the lines posted before the steps (``posted``: the period's lines
    as the steps start), and writes their rows into the workbook, a block at a time, while
    this process runs the steps on its other core.  When the close's lines are known
    (:meth:`hand_over`), the child is sent the rest, makes the whole journal as
    :func:`write_ledger_journal` does, checks that the rows it wrote are its first rows in
    order (they are unless a step posted a line of a first type), and writes the rest of the
    workbook into place.  :meth:`result` says whether it did; when it did not (it could not
    fork, its check failed, it met an error), the caller writes the journal itself, the same
    bytes.  The child's temporary files are in a folder of their own, removed by
    :meth:`close`, which also ends a child that is still at work (the close stopped before
    writing).  Started only when the first rows fill more than a block (below that there is
    little to gain) and the machine has a core to spare."""

    def __init__(self, book: Book, posted: pd.DataFrame, name: str = "ledger_journal.xlsx"):
        self.count = len(posted)
        self.pid = self.report = self.inbox = None
        self.sender = None
        self.why = ""  # what the child said when it did not write the journal
        self.tmp = None
        first = posted["journal_type"].isin(FIRST_TYPES).to_numpy() if len(posted) else np.zeros(0, bool)
        if not EARLY or int(first.sum()) <= BLOCK or not parallel.can_fork():
            return
        self.tmp = tempfile.mkdtemp(prefix="closebatch-journal-")
        inbox_r, inbox_w = os.pipe()
        # What reading and validation freed goes back to the system before the fork: pages
        # this process holds then are the child's too, and become the child's alone when this
        # process gives them back later (the peak of both together)
        memory.give_back()

        def body(w: int) -> int:
            os.close(inbox_w)
            return _early(book, posted, first, Path(self.tmp) / name, inbox_r, w)

        try:
            self.pid, self.report = parallel._fork(body)
        except OSError:
            os.close(inbox_r)
            os.close(inbox_w)
            self.close()
            return
        os.close(inbox_r)
        self.inbox = inbox_w
        atexit.register(self.close)  # (a close that stopped on an exception leaves no files)

    @property
    def started(self) -> bool:
        return self.pid is not None

    @property
    def waiting(self) -> bool:
        """Whether the child still waits to be handed the close's lines."""
        return self.inbox is not None

    def hand_over(self, path: Path, lines: pd.DataFrame, others: list) -> None:
        """Send the child the close's lines past those it has (``lines``: the period's posted
        lines, which start with the ``posted`` it was given; ``others``: the year-end and
        consolidation lines) and where to write; a thread sends them, as the child takes
        them only when it has written its rows.  Once only: later calls do nothing."""
        if self.inbox is None:
            return
        tail = [lines.iloc[self.count:], *[f for f in others if f is not None and len(f)]]
        data = pickle.dumps((str(path), tail), protocol=pickle.HIGHEST_PROTOCOL)
        fd, self.inbox = self.inbox, None

        def send() -> None:
            try:
                parallel._write_all(fd, struct.pack("<Q", len(data)) + data)
            except OSError:  # the child is gone: its report says so
                pass
            finally:
                os.close(fd)

        self.sender = threading.Thread(target=send, daemon=True)
        self.sender.start()

    def done(self) -> bool:
        """Whether the child has finished (it has reported, or ended), without waiting."""
        if self.report is None:
            return True
        return bool(select.select([self.report], [], [], 0)[0])

    def result(self) -> bool:
        """Wait for the child: True when it has written the workbook."""
        if self.report is None:
            return False
        with os.fdopen(self.report, "rb") as fh:
            self.report = None
            said = fh.read()
        _, status = os.waitpid(self.pid, 0)
        self.pid = None
        if self.sender is not None:
            self.sender.join()
        if said == b"ok\n" and status == 0:
            return True
        self.why = said.decode("utf-8", "replace").strip() or f"the process ended with status {status}"
        return False

    def close(self) -> None:
        """End the child if it is still at work, and remove its temporary files."""
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
            self.pid = None
        for fd in (self.inbox, self.report):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.inbox = self.report = None
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None
        atexit.unregister(self.close)


class _Stopped(Exception):
    """The close stopped before writing: nothing was handed over."""


def _early(book: Book, posted: pd.DataFrame, first: np.ndarray, path: Path, inbox: int, w: int) -> int:
    """The child of :class:`EarlyJournal`: reports ``ok`` when it has written the journal."""
    with os.fdopen(inbox, "rb") as fh:
        def finished() -> Sheet:
            head = fh.read(8)
            if len(head) < 8:
                raise _Stopped
            final, tail = pickle.loads(fh.read(struct.unpack("<Q", head)[0]))
            fastcells.THREADS, deflate.THREADS = threads  # the steps are done: both cores
            df = _group_layer(book, outputs.journal_lines(book, concat_lines([posted, *tail], book.dims)))
            given_at = np.flatnonzero(first)  # (the posted lines are the journal's first rows)
            rest = np.flatnonzero(np.concatenate([~first, np.ones(len(df) - len(first), bool)]))
            kind = _kind(df)
            if len(rest) and kind[rest].min() > kind[given_at].max():
                # every other line sorts after the given ones by its type alone: the order is
                # theirs, then the others' among themselves (the whole sorted: seconds at 10M)
                order = np.concatenate([given_at[known], rest[sort_order(df.iloc[rest])]])
            else:
                order = sort_order(df)
                if not np.array_equal(order[:len(known)], given_at[known]):
                    raise ValueError("a line posted by a step sorts among the given lines")
            xb.path = Path(final)
            xb.wb.filename = final
            return replace(sheet, frame=df, order=order, wait=None)

        # beside the steps, which have a core of their own: the rows built on one thread and
        # deflated on one more (both threads each: the steps slowed by a quarter)
        threads = fastcells.THREADS, deflate.THREADS
        fastcells.THREADS = deflate.THREADS = 1
        try:
            given = outputs.journal_lines(book, posted if first.all() else posted[first])
            known = sort_order(given)
            sheet = replace(journal_sheet(book, given), order=known, wait=finished)
            del given
            xb = XBook(path, stream=True, tmpdir=str(path.parent))
            _write(xb, sheet)
        except _Stopped:
            return 0
        except BaseException as e:  # noqa: BLE001 - the parent writes the journal itself
            os.write(w, f"redo {type(e).__name__}: {str(e)[:200]}\n".encode("utf-8", "replace"))
            return 1
    os.write(w, b"ok\n")
    return 0


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

