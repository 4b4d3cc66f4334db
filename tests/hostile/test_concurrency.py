"""Two runs on the same books: one works, the other is told the books are busy, by whom
and since when; a lock left by a dead run is taken over."""
from __future__ import annotations

import json
import multiprocessing as mp
import os
import socket
import subprocess
import sys
import time

import pytest

from closebatch import app
from closebatch.io.lock import LOCK_NAME, BooksBusy, BooksLock
from craft import cli, good_books


def _close_cmd(books, *extra):
    return [sys.executable, "-m", "closebatch", "close", str(books), "--period", "2026-01", "--user", "ann", "--quiet",
            *extra]


def test_second_close_says_the_books_are_busy(tmp_path):
    books = good_books(tmp_path / "books")
    lock = books / LOCK_NAME
    for attempt in range(3):
        first = subprocess.Popen(_close_cmd(books), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        holder = None
        while time.monotonic() < deadline and first.poll() is None:
            try:
                holder = json.loads(lock.read_text())
                break
            except (OSError, ValueError):
                time.sleep(0.005)
        if holder is None:  # it finished before we looked: try again on fresh books
            first.communicate()
            books = good_books(tmp_path / f"books{attempt}")
            lock = books / LOCK_NAME
            continue
        rc, out, _ = cli("close", books, "--period", "2026-01", "--user", "bob", "--quiet")
        still_running = first.poll() is None
        stdout, stderr = first.communicate(timeout=120)
        assert first.returncode == 0, stderr
        if not still_running and "busy" not in out:
            continue  # (a slow machine: the first run ended in between)
        assert rc == 1
        assert "the books are busy" in out
        assert f"pid {first.pid}" in out and f"started {holder['started']}" in out
        assert holder["pid"] == first.pid and holder["host"] == socket.gethostname()
        break
    else:
        pytest.fail("could not overlap two closes")
    assert not lock.exists()  # released by the run that held it
    assert "Closed 2026-01" in stdout


def test_stale_lock_of_a_dead_run_is_taken_over(tmp_path):
    books = good_books(tmp_path / "books")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (books / LOCK_NAME).write_text(json.dumps({"pid": int(dead.stdout), "host": socket.gethostname(),
                                               "started": "2026-01-31 23:59:59"}))
    rc, out, _ = cli("close", books, "--period", "2026-01", "--user", "ann", "--quiet")
    assert rc == 0, out
    assert not (books / LOCK_NAME).exists()


def test_lock_of_a_live_run_on_another_host_holds(tmp_path):
    books = good_books(tmp_path / "books")
    (books / LOCK_NAME).write_text(json.dumps({"pid": 1, "host": "elsewhere.example", "user": "carol",
                                               "started": "2026-02-01 09:00:00"}))
    with pytest.raises(BooksBusy) as e:
        app.close_books(books, period="2026-01", user="ann")
    assert "pid 1 on elsewhere.example, user carol, started 2026-02-01 09:00:00" in str(e.value)


def test_empty_lock_file_holds_briefly_then_is_stale(tmp_path):
    """An empty lock (a run killed between creating and writing it) is not taken over at
    once — it may be a run that is just starting — but once it is old."""
    books = good_books(tmp_path / "books")
    lock = books / LOCK_NAME
    lock.write_text("")
    with pytest.raises(BooksBusy):
        with BooksLock(books):
            pass
    old = time.time() - 3600
    os.utime(lock, (old, old))
    with BooksLock(books):
        assert json.loads(lock.read_text())["pid"] == os.getpid()
    assert not lock.exists()


def _hold(books, hold, q):
    try:
        with BooksLock(books):
            start = time.monotonic()
            time.sleep(hold)
            q.put(("held", start, time.monotonic()))
    except BooksBusy:
        q.put(("busy", 0, 0))


def test_racing_processes_never_hold_the_lock_together(tmp_path):
    """Processes racing for the lock (some over a stale one): never two holders at once."""
    books = good_books(tmp_path / "books")
    ctx = mp.get_context("spawn" if sys.platform == "win32" else "fork")
    for round_ in range(3):
        if round_:
            (books / LOCK_NAME).write_text(json.dumps({"pid": 999_999_999, "host": socket.gethostname(),
                                                       "started": "long ago"}))
        q = ctx.Queue()
        procs = [ctx.Process(target=_hold, args=(books, 0.3, q)) for _ in range(6)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(30)
        got = [q.get(timeout=5) for _ in procs]
        held = sorted((s, e) for k, s, e in got if k == "held")
        assert held, got
        for (s1, e1), (s2, e2) in zip(held, held[1:]):
            assert s2 >= e1, f"two holders at once: {held}"
        assert not (books / LOCK_NAME).exists()
