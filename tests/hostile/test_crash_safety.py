"""A close killed at any moment (before, while and after writing its outputs and ledger/)
leaves every workbook in place whole — the earlier outputs and ledger untouched — and the
next run succeeds, giving the same bytes as a close that was never interrupted."""
from __future__ import annotations

import datetime as dt
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import openpyxl
import pytest

from books import D, read_sheet, write_books
from closebatch import app
from closebatch.io.lock import LOCK_NAME
from craft import JX, good_books

TODAY = dt.date(2026, 2, 28)
FEB = {"feb.xlsx": {"Journals": [JX,
                                 ["F1", D(2026, 2, 3), "E1", "1000", "EUR", 200, None, "EUR receipt", ""],
                                 ["F1", D(2026, 2, 3), "E1", "1100", "EUR", None, 200, "EUR receipt", "INV-1"],
                                 ["F2", D(2026, 2, 9), "E1", "6200", "USD", 310, None, "IT", ""],
                                 ["F2", D(2026, 2, 9), "E1", "1000", "USD", None, 310, "IT", ""]]}}
CMD = ["close", "--period", "2026-02", "--user", "ann", "--today", str(TODAY), "--quiet"]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """Books with January closed (the earlier outputs and ledger) and February to close;
    and the reference: February closed without interruption."""
    root = tmp_path_factory.mktemp("crash")
    books = good_books(root / "pristine")
    write_books(FEB, books)
    assert app.close_books(books, period="2026-01", user="ann", today=dt.date(2026, 1, 31)).exit_code == 0
    ref = shutil.copytree(books, root / "reference")
    t = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "closebatch", CMD[0], str(ref), *CMD[1:]], capture_output=True,
                       text=True, timeout=120)
    took = time.monotonic() - t
    assert r.returncode == 0, r.stderr
    return books, _snapshot(ref, "2026-02"), took


def _snapshot(books: Path, period: str) -> dict:
    out = {f"out/{p.name}": p.read_bytes() for p in (books / "out" / period).iterdir()}
    out[f"ledger/{period}.xlsx"] = (books / "ledger" / f"{period}.xlsx").read_bytes()
    return out


def _intact(books: Path, january: dict) -> str:
    """Every workbook in place opens; January's outputs and ledger are untouched; returns
    February's status."""
    for path in sorted(list((books / "out").rglob("*.xlsx")) + list((books / "ledger").glob("*.xlsx"))):
        if any(part.startswith(".") for part in path.relative_to(books).parts):
            continue  # a killed run's temporary files: not in place, swept by the next run
        wb = openpyxl.load_workbook(path, read_only=True)
        for ws in wb.worksheets:
            for _ in ws.iter_rows(values_only=True):
                pass
        wb.close()
    for path in (books / "out").rglob("manifest.json"):
        if not any(part.startswith(".") for part in path.relative_to(books).parts):
            json.loads(path.read_text())
    assert _snapshot(books, "2026-01") == january, "January's outputs or ledger changed"
    status = {r["period"]: r["status"] for r in read_sheet(books / "ledger" / "periods.xlsx", "Status")}
    return status.get("2026-02", "Open")


def _stage(books: Path, pid: int) -> str:
    """How far the run got, judged by what it left."""
    if any(p.name.startswith(f".2026-02.tmp-{pid}-") for p in (books / "out").iterdir()):
        return "writing outputs"
    if (books / "ledger" / "2026-02.xlsx").exists():
        status = {r["period"]: r["status"] for r in read_sheet(books / "ledger" / "periods.xlsx", "Status")}
        return "finished" if status.get("2026-02") == "On hold" else "ledger data saved, not yet locked"
    return "before writing"


def _no_leftovers(books: Path) -> None:
    for folder in (books, books / "out", books / "out" / "2026-02", books / "ledger"):
        left = [p.name for p in folder.iterdir() if ".tmp-" in p.name or p.name.startswith(LOCK_NAME + ".")]
        assert not left, f"left in {folder}: {left}"
    assert not (books / LOCK_NAME).exists()


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")
def test_close_killed_at_random_moments(pristine, tmp_path):
    books0, reference, took = pristine
    books = shutil.copytree(books0, tmp_path / "books")
    january = _snapshot(books, "2026-01")
    rng = random.Random(20260228)
    kills = finished = 0
    seen = set()
    deadline = time.monotonic() + 30
    while (kills < 30 and time.monotonic() < deadline) or kills < 8:
        # mostly in the last part of the run, where the files are written
        delay = rng.uniform(0, 0.5 * took) if rng.random() < 0.25 else rng.uniform(0.5 * took, took)
        p = subprocess.Popen([sys.executable, "-m", "closebatch", CMD[0], str(books), *CMD[1:]],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            p.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGKILL)
            p.wait()
            kills += 1
        else:
            assert p.returncode == 0, p.stderr.read()
        p.stderr.close()
        seen.add(_stage(books, p.pid))
        if _intact(books, january) == "On hold":  # the run got to the end
            finished += 1
            assert _snapshot(books, "2026-02") == reference
            shutil.rmtree(books)
            books = shutil.copytree(books0, tmp_path / "books")
    assert kills >= 8
    assert len(seen) >= 2, f"the kills all landed at the same stage: {seen}"
    print(f"{kills} kills, {finished} runs finished; stages seen: {sorted(seen)}")
    if _intact(books, january) == "Open":
        r = subprocess.run([sys.executable, "-m", "closebatch", CMD[0], str(books), *CMD[1:]], capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 0, r.stderr  # a dead run's lock is taken over
    assert _snapshot(books, "2026-02") == reference
    _no_leftovers(books)


class Crash(BaseException):
    """Stands for the process dying: not an Exception, so nothing handles it but cleanup."""


def test_crash_at_every_commit_point(pristine, tmp_path, monkeypatch):
    """In-process and deterministic: the run dies at each kind of file move of the close."""
    books0, reference, _ = pristine
    real = os.replace
    calls = []

    def counting(src, dst, *a, **k):
        calls.append(Path(dst).name)
        return real(src, dst, *a, **k)

    monkeypatch.setattr(os, "replace", counting)
    probe = shutil.copytree(books0, tmp_path / "probe")
    assert app.close_books(probe, period="2026-02", user="ann", today=TODAY).exit_code == 0
    points = list(calls)
    assert "periods.xlsx" in points and "2026-02.xlsx" in points and "manifest.json" in points
    outputs = [k for k, n in enumerate(points) if n.endswith(".xlsx") and n not in ("periods.xlsx", "2026-02.xlsx")]
    # each kind of commit point: the ledger's data, the first and the last output moved, the
    # manifest, the status (moves of the outputs in between are alike)
    chosen = sorted({outputs[0], outputs[-1]} | {k for k, n in enumerate(points)
                                                 if n in ("periods.xlsx", "2026-02.xlsx", "manifest.json")})
    for k in chosen:
        name = points[k]
        books = shutil.copytree(books0, tmp_path / f"k{k}")
        january = _snapshot(books, "2026-01")
        n = [0]

        def dying(src, dst, *a, **kw):
            if n[0] == k:
                raise Crash(f"died before moving {name}")
            n[0] += 1
            return real(src, dst, *a, **kw)

        monkeypatch.setattr(os, "replace", dying)
        with pytest.raises(Crash):
            app.close_books(books, period="2026-02", user="ann", today=TODAY)
        monkeypatch.setattr(os, "replace", real)
        assert _intact(books, january) == "Open", f"crash before moving {name}: the period must stay Open"
        (books / LOCK_NAME).unlink(missing_ok=True)  # (in-process the lock is released; a dead process's is stale)
        assert app.close_books(books, period="2026-02", user="ann", today=TODAY).exit_code == 0, name
        assert _snapshot(books, "2026-02") == reference, f"crash before moving {name}"
        _no_leftovers(books)


def test_damaged_ledger_workbook_is_named_not_a_traceback(pristine, tmp_path):
    """ledger/ holds workbooks a person can open (and damage): a close that needs one that
    cannot be read stops with its name, and changes nothing."""
    books0, _, _ = pristine
    books = shutil.copytree(books0, tmp_path / "books")
    f = books / "ledger" / "2026-01.xlsx"
    f.write_bytes(f.read_bytes()[:2000])
    r = subprocess.run([sys.executable, "-m", "closebatch", CMD[0], str(books), *CMD[1:]], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 1
    assert "ledger/2026-01.xlsx cannot be read" in r.stderr and "Traceback" not in r.stderr
    assert not (books / "out" / "2026-02").exists() and not (books / "ledger" / "2026-02.xlsx").exists()
