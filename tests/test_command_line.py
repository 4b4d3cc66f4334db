"""The command line behaves like git and hledger: results on standard output; findings,
refusals and errors on standard error; colour only on a terminal and never with NO_COLOR;
help in full with examples and exit codes; -V; close-permanently confirmed; imports lazy."""
from __future__ import annotations

import io
import subprocess
import sys

import pytest
from click.testing import CliRunner

from books import D, J, OPENING, master, write_books
from closebatch import app, cli
from closebatch.cli import main

COMMANDS = ["close", "validate", "status", "period", "init"]


def run(*args, **kw):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False, **kw)


def clean_books(folder):
    return write_books({"master.xlsx": master(), "opening.xlsx": OPENING}, folder)


def test_results_go_to_stdout_and_findings_and_refusals_to_stderr(tmp_path):
    books = clean_books(tmp_path / "b")
    r = run("close", books, "--period", "2026-01", "--quiet")
    assert r.exit_code == 0
    assert "Closed 2026-01" in r.stdout and "Wrote" in r.stdout and r.stderr == ""
    again = run("close", books, "--period", "2026-01", "--quiet")
    assert again.exit_code == 1 and again.stdout == "" and "On hold" in again.stderr  # a refusal
    write_books({"bad.xlsx": {"Journals": [J, ["J1", D(2026, 2, 5), "E1", "1000", "USD", "ten", None]]}}, books)
    bad = run("validate", books, "--quiet")
    assert bad.exit_code == 1 and bad.stdout == ""
    assert "bad.xlsx!Journals!F2" in bad.stderr and "1 error(s)" in bad.stderr


def test_no_colour_off_a_terminal_or_with_no_color(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert cli.color_enabled(Tty()) and not cli.color_enabled(io.StringIO())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not cli.color_enabled(Tty())


def test_findings_carry_no_escape_codes_when_not_on_a_terminal(tmp_path):
    books = clean_books(tmp_path / "b")
    write_books({"bad.xlsx": {"Journals": [J, ["J1", D(2026, 1, 5), "E1", "1000", "USD", "ten", None]]}}, books)
    r = run("validate", books)
    assert "\x1b[" not in r.output and "ERROR" in r.stderr


def test_help_is_whole_with_examples_and_exit_codes():
    top = run("--help")
    assert top.exit_code == 0 and "…" not in top.output
    listing = " ".join(top.output.split())
    for c in COMMANDS:
        assert " ".join(main.commands[c].short_help.split()) in listing, c  # whole, never cut
    for c in COMMANDS:
        h = run(c, "--help").output
        assert "Example" in h and "Exit status" in h, c
        assert "…" not in h and "%Y" not in h, c
    assert "YYYY-MM-DD" in run("status", "--help").output


@pytest.mark.parametrize("flag", ["-V", "--version"])
def test_version(flag):
    r = run(flag)
    assert r.exit_code == 0 and r.stdout.strip() == f"closebatch {cli.__version__}"


def test_version_and_help_import_nothing_heavy():
    """``--version`` and ``--help`` must answer at once: the library is imported when a command runs."""
    script = ("import sys, atexit; "
              "atexit.register(lambda: print(sorted(m for m in ('pandas', 'numpy', 'pyarrow', 'openpyxl', 'pandera') "
              "if m in sys.modules), file=sys.stderr)); "
              "from closebatch.__main__ import main; sys.argv = ['closebatch'] + sys.argv[1:]; main()")
    for args in (["--version"], ["--help"], ["close", "--help"]):
        proc = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0 and proc.stderr.strip().splitlines()[-1] == "[]", (args, proc.stderr)


def test_close_permanently_needs_yes_off_a_terminal(tmp_path):
    books = clean_books(tmp_path / "b")
    assert run("close", books, "--period", "2026-01", "--quiet").exit_code == 0
    r = run("period", books, "2026-01", "close-permanently")
    assert r.exit_code == 2 and "--yes" in r.stderr
    assert "On hold" in app.status(books).message
    r = run("period", books, "2026-01", "close-permanently", "--yes")
    assert r.exit_code == 0 and "Permanently closed" in r.stdout


def test_close_permanently_asks_on_a_terminal(tmp_path, monkeypatch):
    books = clean_books(tmp_path / "b")
    assert run("close", books, "--period", "2026-01", "--quiet").exit_code == 0
    monkeypatch.setattr(cli, "_interactive", lambda: True)
    no = run("period", books, "2026-01", "close-permanently", input="n\n")
    assert no.exit_code == 1 and "can never be reopened" in no.output
    assert "Permanently" not in app.status(books).message
    yes = run("period", books, "2026-01", "close-permanently", input="y\n")
    assert yes.exit_code == 0 and "Permanently closed" in yes.stdout


def test_a_missing_books_folder_is_a_usage_error_naming_it(tmp_path):
    for cmd in ("close", "validate", "status"):
        r = run(cmd, tmp_path / "nowhere")
        assert r.exit_code == 2 and "nowhere" in r.stderr and "does not exist" in r.stderr
    r = run("period", tmp_path / "nowhere", "2026-01", "open")
    assert r.exit_code == 2
    assert not (tmp_path / "nowhere").exists()


def test_progress_shows_the_stage_and_its_seconds_past_two(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(cli.time, "monotonic", lambda: clock[0])
    out = io.StringIO()
    p = cli.Progress(out)
    p("Reading workbooks", 3, 11, "Journals DE.xlsx")
    assert out.getvalue().endswith("Reading workbooks… 3/11 Journals DE.xlsx")
    p("Consolidation")
    clock[0] += 5
    p._draw()
    assert out.getvalue().endswith("Consolidation…  5 s")
    p.close()
    assert out.getvalue().endswith("\r\x1b[K")
