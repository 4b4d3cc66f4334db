"""A close killed at any moment (before, while and after writing its outputs and ledger/)
leaves every workbook in place whole — the earlier outputs and ledger untouched — and a
sealed ledger that verifies, as the old seal or the new one; the next run succeeds, giving
the same bytes as a close that was never interrupted.  Every commit point is tested
deterministically: the run stops dead there (``CLOSEBATCH_STOP_AT``), or, in process, the
move of a file fails."""
from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import openpyxl
import pytest

from books import D, read_sheet, write_books
from closebatch import app
from closebatch.io import atomic
from closebatch.io.lock import LOCK_NAME
from craft import JX, good_books

# its books are built once (module fixtures): every test of the module runs on one worker
pytestmark = pytest.mark.xdist_group('test_crash_safety')

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


def _no_leftovers(books: Path) -> None:
    for folder in (books, books / "out", books / "out" / "2026-02", books / "ledger"):
        left = [p.name for p in folder.iterdir() if ".tmp-" in p.name or ".pending-" in p.name
                or p.name.startswith(LOCK_NAME + ".")]
        assert not left, f"left in {folder}: {left}"
    assert not (books / LOCK_NAME).exists()


def _run(books: Path, *args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "closebatch", *args], capture_output=True, text=True, timeout=180,
                          env=env)


def _settle(books: Path, reference: dict, january: dict) -> str:
    """After a run died: the chain verifies (the old head or the new one) and January is
    untouched; then the next command finishes the job: a close if February stayed Open
    (giving the reference's bytes), else any command that moves a committed seal's files
    into place.  Returns the status February had after the death."""
    check = app.verify(books)
    assert not [f for f in check.findings if f.code.startswith("ledger")], [f.message for f in check.findings]
    status = _intact(books, january)
    assert status in ("Open", "On hold")
    (books / LOCK_NAME).unlink(missing_ok=True)  # (a dead process's lock is stale; in-process it is released)
    res = app.close_books(books, period="2026-02", user="ann", today=TODAY)
    if status == "Open":
        assert res.exit_code == 0, [f.message for f in res.findings] + [res.message]
    else:
        assert res.exit_code == 1 and "On hold" in res.message  # refused: already closed; the files are in place
    assert _snapshot(books, "2026-02") == reference
    assert app.verify(books).exit_code == 0
    _no_leftovers(books)
    return status


@pytest.mark.parametrize("point", sorted(atomic.POINTS))
def test_close_stopped_dead_at_each_commit_point(pristine, tmp_path, point):
    """Deterministic kills: the run stops dead (``os._exit``) at each named commit point of a
    close; whatever it leaves verifies, as the old seal or the new one, and the next command
    ends where an uninterrupted close ends."""
    books0, reference, _ = pristine
    books = shutil.copytree(books0, tmp_path / "books")
    january = _snapshot(books, "2026-01")
    r = _run(books, CMD[0], str(books), *CMD[1:], env=dict(os.environ, **{atomic.STOP_AT: point}))
    assert r.returncode == atomic.STOPPED, f"the close never reached {point}: {r.returncode} {r.stderr}"
    status = _settle(books, reference, january)
    before_commit = point in ("ledger-written", "outputs-moving", "outputs-moved", "ledger-staged")
    assert status == ("Open" if before_commit else "On hold"), point


@pytest.mark.parametrize("point", ["ledger-staged", "sealed", "in-place"])
def test_status_change_stopped_dead_keeps_a_chain_that_verifies(pristine, tmp_path, point):
    """``period P open`` stopped at the commit points of the seal: the old status or the new
    one, never a broken chain."""
    books0, _, _ = pristine
    books = shutil.copytree(books0, tmp_path / "books")
    before = app.verify(books)
    assert before.exit_code == 0, [f.message for f in before.findings]
    r = _run(books, "period", str(books), "2026-01", "open", "--user", "ann",
             env=dict(os.environ, **{atomic.STOP_AT: point}))
    assert r.returncode == atomic.STOPPED, r.stderr
    after = app.verify(books)
    assert after.exit_code == 0, [f.message for f in after.findings]
    status = {x["period"]: x["status"] for x in read_sheet(books / "ledger" / "periods.xlsx", "Status")}
    assert status["2026-01"] == ("On hold" if point == "ledger-staged" else "Open")


def test_every_commit_point_is_documented_and_checked():
    """The names a test can stop at are exactly the ones the code stops at."""
    import re

    root = Path(app.__file__).parent
    used = set()
    for path in root.rglob("*.py"):
        used |= set(re.findall(r"""(?:checkpoint|stop)\(["']([a-z-]+)["']\)""", path.read_text()))
    assert used == set(atomic.POINTS)
    with pytest.raises(ValueError):
        atomic.checkpoint("no-such-point")


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
    assert points.index("manifest.json") < points.index("periods.xlsx") < points.index("2026-02.xlsx")
    outputs = [k for k, n in enumerate(points) if n.endswith(".xlsx") and n not in ("periods.xlsx", "2026-02.xlsx")
               and not n.startswith(".")]
    # each kind of commit point: the ledger's data, the first and the last output moved, the
    # manifest, the status (moves of the outputs in between are alike)
    chosen = sorted({outputs[0], outputs[-1]} | {k for k, n in enumerate(points)
                                                 if n in ("periods.xlsx", "2026-02.xlsx", "manifest.json")
                                                 or n.startswith(".2026-02.xlsx.pending-")})
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
        _settle(books, reference, january)


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
    assert "period 2026-01" in r.stderr
    assert not (books / "out" / "2026-02").exists() and not (books / "ledger" / "2026-02.xlsx").exists()
