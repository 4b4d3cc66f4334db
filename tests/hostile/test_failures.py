"""Failures of the operating system and interruptions: a full disk or a refused permission at
any stage of a close is named with its path and with exactly what was and was not persisted
(never "an internal error"); Ctrl-C at any moment exits 130 without a traceback."""
from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from books import read_sheet
from closebatch import app
from closebatch.cli import main
from closebatch.io import outputs, parallel, writer
from craft import good_books

PERIOD = "2026-01"
SAMPLE = Path(__file__).resolve().parents[2] / "sample_books"


def full(path) -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))


def close(books, *extra):
    r = CliRunner().invoke(main, ["close", str(books), "--period", PERIOD, "--user", "ann", "--quiet", *extra])
    assert "Traceback" not in r.output and "internal error" not in r.output, r.output
    return r


def status_of(books) -> str:
    line = next(x for x in app.status(books).message.splitlines() if x.startswith(PERIOD))
    return line.split()[3] + (" " + line.split()[4] if line.split()[3] == "On" else "")


def test_disk_full_while_writing_the_outputs_persists_nothing(tmp_path, monkeypatch):
    books = good_books(tmp_path / "b")

    def no_space(wb):
        raise full(wb.filename)

    monkeypatch.setattr(writer, "close_workbook", no_space)
    r = close(books, "--jobs", "1")
    assert r.exit_code == 1
    assert "the disk is full" in r.stderr and ".xlsx" in r.stderr
    assert f"Nothing was persisted: ledger/ and the outputs in {books / 'out' / PERIOD} are as they were" in r.stderr
    assert not (books / "ledger" / f"{PERIOD}.xlsx").exists() and not (books / "out" / PERIOD).exists()
    assert status_of(books) == "Open"


def test_disk_full_in_a_writing_process_is_the_same_message(tmp_path, monkeypatch):
    books = good_books(tmp_path / "b")
    monkeypatch.setattr(writer, "close_workbook", lambda wb: (_ for _ in ()).throw(full(wb.filename)))
    r = close(books, "--jobs", "2")
    assert r.exit_code == 1 and "the disk is full" in r.stderr and "Nothing was persisted" in r.stderr


def test_disk_full_while_moving_the_outputs_into_place_says_what_is_there(tmp_path, monkeypatch):
    books = good_books(tmp_path / "b")

    def two_then_full(self, order=None, stop=None):
        self.final.mkdir(parents=True, exist_ok=True)
        for n in sorted(p.name for p in self.tmp.iterdir())[:2]:
            os.replace(self.tmp / n, self.final / n)
            self.moved.append(n)
        raise full(self.final / "consolidation.xlsx")

    monkeypatch.setattr(outputs.OutputDir, "commit", two_then_full)
    r = close(books)
    assert r.exit_code == 1 and "the disk is full" in r.stderr
    # the sealed ledger is committed after the outputs: it is as it was
    assert "Persisted: adjusted_trial_balance.xlsx, allocation.xlsx in" in r.stderr
    assert "the other outputs there are as they were" in r.stderr and f"ledger/ is as it was and {PERIOD} is " \
        "still Open" in r.stderr
    assert not (books / "ledger" / f"{PERIOD}.xlsx").exists() and status_of(books) == "Open"
    monkeypatch.undo()
    assert close(books).exit_code == 0  # the rerun finishes the close
    assert status_of(books) == "On hold"


def test_a_refused_permission_after_the_outputs_names_the_path_and_what_was_saved(tmp_path, monkeypatch):
    books = good_books(tmp_path / "b")

    def denied(src, folder):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(Path(folder) / "validation.xlsx"))

    monkeypatch.setattr(outputs, "copy_into", denied)
    r = close(books)
    assert r.exit_code == 1
    assert f"permission denied for {books / 'out' / 'validation.xlsx'}" in r.stderr
    # the copy of the report comes last: the close itself was persisted
    assert "Everything was persisted" in r.stderr and status_of(books) == "On hold"
    assert (books / "out" / PERIOD / "manifest.json").exists()


def test_disk_full_writing_the_validation_report(tmp_path, monkeypatch):
    books = good_books(tmp_path / "b")

    def no_space(path, *a, **k):
        raise full(path)

    monkeypatch.setattr(outputs, "write_validation", no_space)
    r = CliRunner().invoke(main, ["validate", str(books), "--quiet"])
    assert r.exit_code == 1 and "the disk is full" in r.stderr
    assert f"validation.xlsx was not written into {books / 'out'}; nothing else was written." in r.stderr


def test_an_os_error_in_a_writing_process_comes_back_as_itself(tmp_path):
    target = tmp_path / "x.xlsx"

    def fail():
        raise full(target)

    tasks = [parallel.Task("a", 1, lambda: None), parallel.Task("b", 1, fail)]
    if not parallel.can_fork():
        pytest.skip("no fork here")
    with pytest.raises(OSError) as e:
        parallel.run(sorted(tasks, key=lambda t: t.name), jobs=2)
    assert e.value.errno == errno.ENOSPC and e.value.filename == str(target)


def test_xlsxwriter_reports_a_file_error_as_the_os_error_it_is(tmp_path):
    import pandas as pd

    with pytest.raises(FileNotFoundError):
        writer.write_workbook(tmp_path / "no such folder" / "x.xlsx", [writer.Sheet("S", pd.DataFrame({"a": [1]}), [writer.Column("a", "count")])])


def test_ctrl_c_while_the_library_is_imported_exits_130_without_a_traceback(tmp_path):
    books = good_books(tmp_path / "b")
    script = ("import sys\n"
              "class Interrupt:\n"
              "    def find_spec(self, name, *a):\n"
              "        if name == 'pandas':\n"
              "            raise KeyboardInterrupt\n"
              "sys.meta_path.insert(0, Interrupt())\n"
              "from closebatch.__main__ import main\n"
              f"sys.argv = ['closebatch', 'close', {str(books)!r}, '--quiet']\n"
              "main()\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 130, proc.stderr
    assert "Traceback" not in proc.stderr and "interrupted" in proc.stderr
    assert not (books / ".closebatch.lock").exists()


@pytest.mark.parametrize("where", ["check.load", "app.write_outputs"])
def test_ctrl_c_during_a_close_exits_130_and_says_what_was_persisted(tmp_path, monkeypatch, where):
    books = good_books(tmp_path / "b")

    def interrupt(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(f"closebatch.{where}", interrupt)
    r = close(books)
    assert r.exit_code == 130 and "interrupted" in r.stderr
    if where == "app.write_outputs":
        assert "Nothing was persisted" in r.stderr
    monkeypatch.undo()
    assert not (books / ".closebatch.lock").exists() and status_of(books) == "Open"


@pytest.mark.parametrize("delay", [0.05, 0.3, 1.2])
def test_a_real_ctrl_c_at_any_moment_is_clean(tmp_path, delay):
    """Whenever the signal lands once closebatch's code runs (importing, reading, validating,
    closing, writing), the run ends with status 130 and a message, or had already finished;
    never a traceback.  (The signal is sent from inside the process, so that it never lands
    in the interpreter's own start-up, which no program can handle.)"""
    books = shutil.copytree(SAMPLE, tmp_path / "b")
    script = ("import os, signal, sys, threading\n"
              f"t = threading.Timer({delay}, lambda: os.kill(os.getpid(), signal.SIGINT))\n"
              "t.daemon = True\n"
              "t.start()\n"
              "from closebatch.__main__ import main\n"
              f"sys.argv = ['closebatch', 'close', {str(books)!r}, '--period', {PERIOD!r}, '--quiet']\n"
              "main()\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr, proc.stderr
    assert proc.returncode in (0, 130), (proc.returncode, proc.stderr)
    if proc.returncode == 130:
        assert "interrupted" in proc.stderr
    assert not (books / ".closebatch.lock").exists()
    for p in (books / "out").rglob("*.xlsx"):  # whatever is in place is whole
        read_sheet(p, read_sheet_names(p)[0])


def read_sheet_names(path):
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True)
    names = wb.sheetnames
    wb.close()
    return names
