"""The ledger journal begun while the close's steps run (``journal_report.EarlyJournal``):
the same file as the one written after them, whatever the steps post, and nothing left
behind when the close stops before writing."""
from __future__ import annotations

import datetime as dt
import zlib
import io
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from python_calamine import CalamineWorkbook

from books import ACCOUNTS_CASH, master, months
from builders import make_book
from closebatch import app
from closebatch.core import concat_lines
from closebatch.io import journal_report, parallel, writer
from closebatch.io.journal_report import EarlyJournal, write_ledger_journal
from closebatch.io.outputs import journal_lines
from closebatch.io.writer import Book, Column, Sheet
from test_fast_cells import COLUMNS, differing_parts, frame
from test_statements import group_books

needs_fork = pytest.mark.skipif(not parallel.can_fork(), reason="the early journal needs fork (Linux)")


def small_blocks(monkeypatch, block: int) -> None:
    monkeypatch.setattr(writer, "BLOCK", block)
    monkeypatch.setattr(journal_report, "BLOCK", block)
    monkeypatch.setattr(writer, "FAST_FROM", 0)  # the block writer on every block, however small
    monkeypatch.setattr(writer, "IN_MEMORY_CELLS", -1)


@pytest.mark.parametrize("known,rows", [(0, 57), (5, 57), (6, 57), (12, 57), (20, 57), (30, 57), (40, 57), (57, 57),
                                        (12, 12), (6, 6), (20, 20), (40, 40)])
@pytest.mark.parametrize("max_rows,block", [(writer.MAX_ROWS, 6), (20, 6), (writer.MAX_ROWS, writer.BLOCK),
                                            (20, 12)])
def test_a_sheet_that_waits_for_its_last_rows_is_the_sheet_written_at_once(tmp_path, monkeypatch, known, rows,
                                                                           max_rows, block):
    """The first ``known`` of ``rows`` rows written from a frame of their own, the rest once
    the finished sheet is given (mid-block, at a block's end, when the known rows fill whole
    continuation sheets, or none at all): the file of the finished sheet written in one go,
    its widest amount among the late rows, no sheet more or less, and the next sheet's
    formats numbered alike."""
    small_blocks(monkeypatch, block)
    monkeypatch.setattr(writer, "MAX_ROWS", max_rows)
    df = frame(57).iloc[:rows]
    order = np.random.default_rng(5).permutation(len(df))
    df.loc[order[-1], "amount"] = -(10 ** 14)  # the widest amount comes last
    first = df.take(order[:known]).reset_index(drop=True)
    calls = []

    def finished() -> Sheet:
        calls.append(1)
        return Sheet("Lines", df, COLUMNS, order=order)

    other = Sheet("Other", df.iloc[:9], [Column("text", "code"), Column("amount", "money", "ccy")])
    files = {}
    for how, sheet in (("at once", Sheet("Lines", df, COLUMNS, order=order)),
                       ("waiting", Sheet("Lines", first, COLUMNS, order=np.arange(known), wait=finished))):
        path = tmp_path / how / "t.xlsx"
        path.parent.mkdir()
        b = Book(path, stream=True)
        b.write(sheet)
        assert b.written.wait is None and len(b.written.order) == len(df)
        b.write(other)
        b.close()
        files[how] = path.read_bytes()
    assert calls == [1]
    assert files["waiting"] == files["at once"], differing_parts(files["waiting"], files["at once"])


def test_a_sheet_that_waits_needs_an_order_and_no_totals(tmp_path):
    df = frame(9)
    b = Book(tmp_path / "t.xlsx", stream=True)
    with pytest.raises(ValueError, match="wait"):
        b.write(Sheet("Lines", df, COLUMNS, wait=lambda: None))
    with pytest.raises(ValueError, match="wait"):
        b.write(Sheet("Lines", df, COLUMNS, order=np.arange(9), totals=["amount"], wait=lambda: None))
    b.close()


def _close_both_ways(books: Path, tmp_path: Path, monkeypatch, period: str) -> tuple[dict, dict, list]:
    """The close's outputs with the ledger journal begun early and written after the steps,
    and what the early journal's process said (True: it wrote the file)."""
    said = []
    real = EarlyJournal.result
    monkeypatch.setattr(EarlyJournal, "result", lambda self: said.append(real(self)) or said[-1])
    outs = {}
    for early in (True, False):
        monkeypatch.setattr(journal_report, "EARLY", early)
        out = tmp_path / f"out-{early}"
        res = app.close_books(books, period=period, out=out, dry_run=True, user="ann", jobs=2)
        assert res.exit_code == 0, [f.message for f in res.errors]
        outs[early] = {p.name: p.read_bytes() for p in sorted(out.iterdir())}
    return outs[True], outs[False], said


@needs_fork
@pytest.mark.parametrize("calendar", ["year", "year-end"])
def test_the_ledger_journal_begun_beside_the_steps_is_the_same_file(tmp_path, monkeypatch, calendar):
    """A group in two currencies with eliminations; closed in January of a full year, and in a
    January that ends the fiscal year (year-end closing lines too): every output the same
    bytes, the early journal's process having written the ledger journal."""
    small_blocks(monkeypatch, 2)
    extra = None
    if calendar == "year-end":  # a fiscal year of one month, and February the next one's first
        periods = months(2026, 1, 1) + [["2026-02", dt.date(2026, 2, 1), dt.date(2026, 2, 28), 2027]]
        extra = {"master.xlsx": master(entities=(("P", "Parent Inc", "USD", None, None),
                                                 ("S", "Sub GmbH", "EUR", "P", "80%")),
                                       settings_extra=[["group_currency", "USD"]], periods=periods,
                                       accounts=ACCOUNTS_CASH)}
    books = group_books(tmp_path, extra)
    early, plain, said = _close_both_ways(books, tmp_path, monkeypatch, "2026-01")
    assert said == [True]
    assert early.keys() == plain.keys() and "ledger_journal.xlsx" in early
    for name in plain:
        assert early[name] == plain[name], name
    if calendar == "year-end":
        rows = CalamineWorkbook.from_filelike(io.BytesIO(early["ledger_journal.xlsx"])).get_sheet_by_name(
            "Lines").to_python()
        at = [str(h).lower() for h in rows[0]].index("journal type")
        types = {r[at] for r in rows[1:]}
        assert {"daily", "year_end", "elimination"} <= types


def _book_and_lines():
    ents = [["entity", "name", "currency"], ["E1", "One", "USD"]]
    rows = [["journal", "date", "entity", "account", "currency", "debit", "credit"]]
    for k in range(6):
        rows += [[f"J{k:02d}", pd.Timestamp(2026, 1, 5 + k), "E1", "1000", "USD", 100 + k, None],
                 [f"J{k:02d}", pd.Timestamp(2026, 1, 5 + k), "E1", "4000", "USD", None, 100 + k]]
    book = make_book(ents, journals=rows)
    return book, book.journals


@needs_fork
@pytest.mark.parametrize("tail_type,journal,written", [("revaluation", "R1", True), ("daily", "A00", False),
                                                       ("daily", "Z99", True)])
def test_a_step_line_among_the_given_lines_is_left_to_the_close(tmp_path, monkeypatch, tail_type, journal, written):
    """The early process checks that the rows it wrote are the first rows of the whole
    journal.  A line a step posted of a given type that sorts among them (here a "daily"
    journal A00) fails the check: the process says so and writes nothing; the caller writes
    the journal.  One that sorts after them (a later journal, or a step's own type) does not."""
    small_blocks(monkeypatch, 2)
    monkeypatch.setattr(journal_report.tempfile, "tempdir", str(tmp_path))
    book, posted = _book_and_lines()
    tail = posted.iloc[:2].copy()
    tail["journal"], tail["journal_type"] = journal, tail_type
    lines = concat_lines([posted, tail], book.dims)
    ej = EarlyJournal(book, posted)
    assert ej.started
    target = tmp_path / "out" / "ledger_journal.xlsx"
    target.parent.mkdir()
    ej.hand_over(target, lines, [None])
    assert ej.result() is written
    assert ("sorts among the given lines" in ej.why) is not written
    ej.close()
    assert not list(tmp_path.glob("closebatch-journal-*"))
    assert target.exists() is written
    if written:
        ref = write_ledger_journal(tmp_path / "ledger_journal.xlsx", book, journal_lines(book, lines))
        assert target.read_bytes() == ref.read_bytes()


@needs_fork
def test_an_early_journal_not_handed_over_is_ended_and_leaves_no_files(tmp_path, monkeypatch):
    small_blocks(monkeypatch, 2)
    monkeypatch.setattr(journal_report.tempfile, "tempdir", str(tmp_path))
    book, posted = _book_and_lines()
    ej = EarlyJournal(book, posted)
    pid = ej.pid
    assert ej.started and list(tmp_path.glob("closebatch-journal-*"))
    ej.close()
    assert not ej.started and not list(tmp_path.glob("closebatch-journal-*"))
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # ended and reaped


def test_no_early_journal_for_a_few_lines_or_one_process(monkeypatch):
    book, posted = _book_and_lines()
    assert not EarlyJournal(book, posted).started  # 12 lines: less than a block
    monkeypatch.setattr(journal_report, "BLOCK", 2)
    monkeypatch.setattr(parallel, "can_fork", lambda: False)
    assert not EarlyJournal(book, posted).started


@needs_fork
def test_a_close_that_stops_after_the_steps_leaves_no_early_journal(tmp_path, monkeypatch):
    """The steps find an error (no closing rate to translate the subsidiary): the close writes
    validation.xlsx alone, and the early journal's process and its files are gone."""
    small_blocks(monkeypatch, 2)
    monkeypatch.setattr(journal_report.tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    started = []
    real = EarlyJournal.__init__

    def spy(self, *a, **k):
        real(self, *a, **k)
        started.append(self.pid)

    monkeypatch.setattr(EarlyJournal, "__init__", spy)
    books = group_books(tmp_path, {"rates.xlsx": {"Rates": [["from", "to", "date", "rate", "type"]]}})
    res = app.close_books(books, period="2026-01", dry_run=True, user="ann", jobs=2)
    assert res.exit_code != 0 and [p.name for p in res.written] == ["validation.xlsx"]
    assert started and started[0] is not None
    with pytest.raises(ChildProcessError):
        os.waitpid(started[0], os.WNOHANG)
    assert not list((tmp_path / "tmp").iterdir())


@needs_fork
def test_a_close_that_fails_after_handing_over_leaves_no_early_journal(tmp_path, monkeypatch):
    """The journal's process is handed the last lines before the ledger record is prepared:
    when preparing it fails, the process and its files are gone, and so are the outputs."""
    small_blocks(monkeypatch, 2)
    monkeypatch.setattr(journal_report.tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    started, handed = [], []
    real_init, real_hand = EarlyJournal.__init__, EarlyJournal.hand_over

    def spy(self, *a, **k):
        real_init(self, *a, **k)
        started.append(self.pid)

    def spy_hand(self, *a, **k):
        handed.append(self.waiting)
        real_hand(self, *a, **k)

    def fail(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(EarlyJournal, "__init__", spy)
    monkeypatch.setattr(EarlyJournal, "hand_over", spy_hand)
    monkeypatch.setattr(app, "stage_ledger", fail)
    books = group_books(tmp_path)
    with pytest.raises(OSError):
        app.close_books(books, period="2026-01", user="ann", jobs=2)
    assert started and started[0] is not None and handed == [True]
    with pytest.raises(ChildProcessError):
        os.waitpid(started[0], os.WNOHANG)
    assert not list((tmp_path / "tmp").iterdir())
    assert not (books / "out" / "2026-01" / "ledger_journal.xlsx").exists()


def test_the_threads_deflating_may_change_midway(monkeypatch):
    """The early journal deflates on one thread beside the steps and on two after them: the
    pieces queued finish, the next go to a new pool, and the bytes are those of one pool."""
    from closebatch.io import deflate

    data = bytes(np.random.default_rng(1).integers(0, 40, 200_000, dtype=np.uint8))
    out = {}
    for change in (False, True):
        monkeypatch.setattr(deflate, "THREADS", 1)
        pieces = deflate.Pieces(size=7_000, level=1)
        got = pieces.feed(data[:90_000])
        if change:
            monkeypatch.setattr(deflate, "THREADS", 2)
        got += pieces.feed(data[90_000:]) + pieces.finish(last=True)
        assert pieces.pool is None
        out[change] = got
    assert out[True] == out[False]
    assert zlib.decompressobj(-15).decompress(b"".join(p for p, _, _ in out[True])) == data


class _Journal:
    """An early journal whose process is done after ``busy`` looks."""

    def __init__(self, busy: int):
        self.looks, self.busy = 0, busy

    def done(self) -> bool:
        self.looks += 1
        return self.looks > self.busy


@pytest.mark.parametrize("busy,shared", [(1, True), (0, False)])
def test_close_status_is_shared_out_only_once_the_ledger_data_is_written(monkeypatch, busy, shared):
    """close_status.xlsx carries the seal of the ledger data: it joins the workbooks shared out
    when the journal's process is done only if the ledger data is written by then (else it is
    written after them, as without the early journal)."""
    from closebatch import render

    ran = []

    def task(name, cost):
        return parallel.Task(name, cost, lambda: ran.append(name))

    monkeypatch.setattr(parallel, "can_fork", lambda: False)  # every task here, in the order given
    ledger, status = task("ledger", 10), task("status", 0)
    assert render._beside(_Journal(busy), [task("a", 5), ledger, task("b", 1)], 2, lambda *a, **k: None,
                          ledger, status) is shared
    assert ("status" in ran) is shared
    if shared:
        assert ran.index("status") > ran.index("ledger")
    assert sorted(ran) == sorted(["a", "b", "ledger"] + (["status"] if shared else []))
