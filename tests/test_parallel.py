"""Writing workbooks in several processes: the same files as one process, errors reported
with the task that failed, nothing left running."""
from __future__ import annotations

import os

import pytest

from test_statements import group_books
from closebatch import app
from closebatch.io import parallel
from closebatch.io.parallel import Task

needs_fork = pytest.mark.skipif(not parallel.can_fork(), reason="parallel writing needs fork (Linux)")


def test_groups_balance_by_cost_largest_first():
    tasks = [Task(n, c, lambda: None) for n, c in (("a", 1), ("b", 10), ("c", 6), ("d", 5), ("e", 1))]
    got = [[t.name for t in g] for g in parallel.groups(tasks, 2)]
    assert got == [["b", "a", "e"], ["c", "d"]]  # loads 12 and 11
    assert [[t.name for t in g] for g in parallel.groups(tasks, 1)] == [["b", "c", "d", "a", "e"]]
    assert len(parallel.groups(tasks[:1], 4)) == 1  # no empty groups


@needs_fork
def test_every_task_runs_once_and_progress_counts_them(tmp_path):
    tasks = [Task(f"t{i}", i + 1, lambda i=i: (tmp_path / f"t{i}").write_text(str(os.getpid())))
             for i in range(5)]
    seen = []
    parallel.run(tasks, jobs=3, progress=lambda done, total, name: seen.append((done, total, name)))
    pids = {(tmp_path / f"t{i}").read_text() for i in range(5)}
    assert len(pids) == 3 and str(os.getpid()) in pids  # this process and two children
    assert [d for d, _, _ in seen] == [1, 2, 3, 4, 5] and {n for _, _, n in seen} == {f"t{i}" for i in range(5)}
    assert all(t == 5 for _, t, _ in seen)



def _pid_and(x):
    return os.getpid(), x * 2


def _fails_on_three(x):
    if x == 3:
        raise ValueError(f"no {x}")
    return x, os.getpid()


@needs_fork
def test_calls_in_a_child_come_back_in_order_with_what_this_process_would_get():
    """InChild: the calls run in another process, the results come back in order; a call
    that raises there is made again here, so the caller sees this process's own exception."""
    work = parallel.InChild(_pid_and, [(i,) for i in range(5)])
    try:
        got = [work.next() for _ in range(5)]
    finally:
        work.close()
    assert work.forked and [x for _, x in got] == [0, 2, 4, 6, 8]
    assert {pid for pid, _ in got} != {os.getpid()} and len({pid for pid, _ in got}) == 1
    work = parallel.InChild(_fails_on_three, [(i,) for i in range(5)])
    try:
        assert [work.next()[0] for _ in range(3)] == [0, 1, 2]
        with pytest.raises(ValueError, match="no 3"):
            work.next()
        x, pid = work.next()  # the child went on after the failure
        assert x == 4 and pid != os.getpid()
    finally:
        work.close()


@needs_fork
def test_what_the_child_cannot_deliver_is_computed_here(monkeypatch):
    """A result that does not pickle, a child that died, no fork at all: computed here."""
    import threading

    unpicklable = parallel.InChild(lambda x: (os.getpid(), threading.Lock()), [(1,), (2,)])
    try:
        got = [unpicklable.next() for _ in range(2)]
    finally:
        unpicklable.close()
    assert [pid for pid, _ in got] == [os.getpid()] * 2
    parent = os.getpid()

    def dies_at_two(x):  # the child kills itself at its third call
        if x == 2 and os.getpid() != parent:
            os.kill(os.getpid(), 9)
        return os.getpid(), x * 2

    work = parallel.InChild(dies_at_two, [(i,) for i in range(4)])
    try:
        got = [work.next() for _ in range(4)]
    finally:
        work.close()
    assert [x for _, x in got] == [0, 2, 4, 6]
    assert got[0][0] != parent and [pid for pid, _ in got[2:]] == [parent, parent]
    monkeypatch.setattr(parallel, "can_fork", lambda: False)
    here = parallel.InChild(_pid_and, [(5,)])
    assert not here.forked and here.next() == (os.getpid(), 10)
    here.close()


@needs_fork
def test_the_automatic_choice_forks_only_for_writing_that_pays(tmp_path, monkeypatch):
    """With no number of processes given, small writing stays in this process; writing of
    SMALL estimated cells or more is shared out over the machine's cores."""
    monkeypatch.setattr(parallel, "default_jobs", lambda: 2)

    def pids(costs):
        tasks = [Task(f"t{i}", c, lambda i=i: (tmp_path / f"t{i}").write_text(str(os.getpid())))
                 for i, c in enumerate(costs)]
        parallel.run(tasks)
        return {(tmp_path / f"t{i}").read_text() for i in range(len(costs))}

    assert pids([parallel.SMALL // 2 - 1, parallel.SMALL // 2]) == {str(os.getpid())}
    assert len(pids([parallel.SMALL // 2, parallel.SMALL // 2])) == 2


@needs_fork
def test_a_failing_task_in_a_child_is_named(tmp_path):
    def boom():
        raise ValueError("disk full, say")

    tasks = [Task("big.xlsx", 100, lambda: (tmp_path / "big").write_text("x")), Task("bad.xlsx", 50, boom)]
    with pytest.raises(parallel.WriteFailed, match=r"bad\.xlsx: ValueError: disk full, say"):
        parallel.run(tasks, jobs=2)
    assert (tmp_path / "big").exists()  # the other group still ran; no child is left
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)


def test_an_error_in_this_process_is_raised_as_is():
    def boom():
        raise KeyError("x")

    with pytest.raises(KeyError):
        parallel.run([Task("a", 10, boom), Task("b", 1, lambda: None)], jobs=2)


def test_one_job_or_many_write_the_same_bytes(tmp_path):
    books = group_books(tmp_path)
    outs = {}
    for jobs in (1, 2):
        out = tmp_path / f"out{jobs}"
        res = app.close_books(books, period="2026-01", out=out, dry_run=True, user="ann", jobs=jobs)
        assert res.exit_code == 0, [f.message for f in res.errors]
        outs[jobs] = {p.name: p.read_bytes() for p in sorted(out.iterdir())}
    assert outs[1].keys() == outs[2].keys() and "ledger_journal.xlsx" in outs[1]
    for name in outs[1]:
        assert outs[1][name] == outs[2][name], name


@needs_fork
def test_children_die_with_the_process_that_forked_them(tmp_path):
    """A close killed while its children write must not leave them running (they would go on
    writing temporary files after the next run swept them)."""
    import signal
    import subprocess
    import sys
    import time

    script = f"""
import os, time
from closebatch.io import parallel
def slow():
    open({str(tmp_path / 'child.pid')!r}, 'w').write(str(os.getpid()))
    time.sleep(60)
parallel.run([parallel.Task('a', 2, lambda: time.sleep(60)), parallel.Task('b', 1, slow)], jobs=2)
"""
    proc = subprocess.Popen([sys.executable, "-c", script])
    pidfile = tmp_path / "child.pid"
    deadline = time.monotonic() + 300  # as long as a loaded machine may take: the loop ends when the file is there
    while not (pidfile.exists() and pidfile.read_text()) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    child = int(pidfile.read_text())
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 300  # the kernel kills it at once; the bound only ends a failing test
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(child):
        os.kill(child, signal.SIGKILL)
        pytest.fail("the child outlived the process that forked it")


def _alive(pid: int) -> bool:
    """Running (a zombie waiting to be reaped does not count)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_table_longer_than_a_sheet_goes_on_over_continuation_sheets(tmp_path, monkeypatch):
    """Nothing is cut off at Excel's row limit: the rows go on in ``Posted (2)``, … and the
    ledger reads them back as one table."""
    import pandas as pd

    from closebatch.io import store as store_mod
    from closebatch.io import writer

    monkeypatch.setattr(writer, "MAX_ROWS", 5)
    df = pd.DataFrame({"journal": [f"J{i}" for i in range(12)], "fingerprint": [f"f{i:02d}" for i in range(12)]})
    st = store_mod.Store(tmp_path)
    st.save("2026-01", {"Posted": df, "Balances": df.head(2)})
    import openpyxl

    names = openpyxl.load_workbook(tmp_path / "ledger" / "2026-01.xlsx").sheetnames
    assert names == ["Posted", "Posted (2)", "Posted (3)", "Balances"]
    back = st.posted("2026-01")
    assert back["journal"].tolist() == df["journal"].tolist() and back["fingerprint"].tolist() == df["fingerprint"].tolist()
    assert len(st.load("2026-01")["Balances"]) == 2
    assert writer.continued("x" * 40, 2) == "x" * 27 + " (2)"
    assert writer.continuation_of("x" * 27 + " (2)", ["x" * 31, "y"]) == "x" * 31
    assert writer.continuation_of("Report (1)", ["Report"]) is None


def test_writing_in_blocks_of_rows_gives_the_same_bytes(tmp_path, monkeypatch):
    """Sheets are turned into cell values a block of rows at a time (memory); the block size
    changes no cell."""
    import pandas as pd

    from closebatch.io import writer

    df = pd.DataFrame({"code": ["007", None, "A", "=1+1", "", "x" * 50, "B", "C"],
                       "amount": [100, -250, 0, 5, 7, 1, 2, 3], "currency": ["USD", "JPY", "KWD", "USD", "EUR",
                                                                            "USD", "USD", "USD"],
                       "date": pd.to_datetime(["2026-01-31"] * 7 + [None]),
                       "link": [("'S'!A2", "row 2")] * 8})
    cols = [writer.Column("code"), writer.Column("amount", "money", "currency"), writer.Column("currency"),
            writer.Column("date", "date"), writer.Column("link", "link")]
    writer.write_workbook(tmp_path / "whole.xlsx", [writer.Sheet("S", df, cols, totals=["amount"])])
    monkeypatch.setattr(writer, "BLOCK", 3)
    writer.write_workbook(tmp_path / "blocks.xlsx", [writer.Sheet("S", df, cols, totals=["amount"])],
                          title="whole")
    import openpyxl

    def cells(path):
        ws = openpyxl.load_workbook(path)["S"]
        return [(c.coordinate, c.value, c.number_format, c.hyperlink.location if c.hyperlink else None)
                for row in ws.iter_rows() for c in row]
    # (column widths come from the first block's values: 50,000 rows in use, 3 here)
    assert cells(tmp_path / "whole.xlsx") == cells(tmp_path / "blocks.xlsx")
