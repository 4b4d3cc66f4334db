"""The ``closebatch`` command: a thin click layer over :mod:`closebatch.app`.

It follows the habits of git and hledger: results go to standard output; findings, refusals
and errors to standard error, in colour on a terminal (never with ``NO_COLOR`` set); exit
status 0 done, 1 errors or refused, 2 wrong usage, 3 closed but left Open, 130 interrupted.
Only click is imported up front: the library (pandas and the rest) is imported when a command
runs, so ``--version`` and ``--help`` answer at once.
"""
from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import click

from . import __version__

EXIT_INTERRUPTED = 130

EXIT_STATUS = """\b
Exit status:
  0    done: closed (and put On hold unless --no-lock), or validated clean
  1    the books have errors (see validation.xlsx), or the command was refused
  2    wrong usage
  3    closed and written, but the period stays Open: something blocks the lock
  130  interrupted (Ctrl-C); nothing half-written is left behind"""

books_arg = click.argument("books", type=click.Path(exists=True, file_okay=False, path_type=Path))
quiet_opt = click.option("--quiet", "-q", is_flag=True, help="No progress display.")
jobs_opt = click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
                        help="Processes that read and write workbooks side by side (default: the number of CPU "
                             "cores; 1 for none).")
today_opt = click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), metavar="YYYY-MM-DD",
                         help="Take this day as today for due and overdue tasks (default: the clock).")
user_opt = click.option("--user", metavar="NAME", help="Run as this user (default: the operating-system user).")


def _day(value):
    return value.date() if value is not None else None


def color_enabled(stream=None) -> bool:
    """Colour only on a terminal, and never with ``NO_COLOR`` set (https://no-color.org)."""
    stream = stream or sys.stderr
    if os.environ.get("NO_COLOR", ""):
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _paint(text: str, **style) -> str:
    return click.style(text, **style) if color_enabled() else text


class Progress:
    """What the run is doing, on one line of a terminal's standard error: the stage, its count
    (``Reading workbooks 3/11 Journals DE.xlsx``) and, past two seconds, the seconds it has
    taken, redrawn every half second so that no stage looks stuck."""

    SHOW_AFTER = 2.0

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.stage, self.detail, self.started = "", "", time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def __call__(self, stage: str, done: int = 0, total: int = 0, name: str = "") -> None:
        with self._lock:
            if stage != self.stage:
                self.stage, self.started = stage, time.monotonic()
            self.detail = f"{done}/{total} {_safe(name)}".rstrip() if total else ""
            self._draw()
        if self._ticker is None:
            self._ticker = threading.Thread(target=self._tick, name="closebatch-progress", daemon=True)
            self._ticker.start()

    def _tick(self) -> None:
        while not self._stop.wait(0.5):
            with self._lock:
                self._draw()

    def _draw(self) -> None:
        took = time.monotonic() - self.started
        text = f"{self.stage}… {self.detail}".rstrip() + (f"  {took:.0f} s" if took >= self.SHOW_AFTER else "")
        try:
            self.stream.write("\r\x1b[K" + text[:100])
            self.stream.flush()
        except (OSError, ValueError):
            pass

    def close(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=1)
        with self._lock:
            if self.stage:
                try:
                    self.stream.write("\r\x1b[K")
                    self.stream.flush()
                except (OSError, ValueError):
                    pass
            self.stage = ""


def _progress(quiet: bool):
    if quiet or not sys.stderr.isatty():
        return None
    return Progress()


_BIDI = {0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069, 0x200E, 0x200F}


def _safe(text: str, keep_newlines: bool = False) -> str:
    """Text from the books (cell values, sheet and file names) as the terminal should show
    it: control characters (escape sequences, carriage returns) and bidirectional overrides
    escaped, so a hostile cell cannot rewrite the screen or fake a line of the report."""
    text = str(text)
    if text.isprintable():
        return text
    out = []
    for ch in text:
        o = ord(ch)
        if ch == "\n" and keep_newlines:
            out.append(ch)
        elif o < 32 or 127 <= o < 160 or o in _BIDI:
            out.append(f"\\x{o:02x}" if o < 256 else f"\\u{o:04x}")
        else:
            out.append(ch)
    return "".join(out)


def _report(outcome, limit: int = 20) -> None:
    """Findings, blockers, refusals and errors on standard error; results on standard output."""
    errs, warns = outcome.errors, outcome.warnings
    for f in (errs + warns)[:limit]:
        where = _safe(f.where())
        label = _paint("ERROR  ", fg="red", bold=True) if f.is_error else _paint("WARNING", fg="yellow")
        click.echo(f"{label} {where + ': ' if where else ''}{_safe(f.message)}"
                   + (f"\n        fix: {_safe(f.hint)}" if f.hint and f.is_error else ""), err=True)
    if len(errs) + len(warns) > limit:
        click.echo(f"... and {len(errs) + len(warns) - limit} more in validation.xlsx", err=True)
    for b in outcome.blockers:
        click.echo(f"{_paint('BLOCKER', fg='magenta')} {_safe(b.where()) + ': ' if b.where() else ''}"
                   f"{_safe(b.message)}", err=True)
    result = outcome.exit_code in (0, 3)  # done (or done, left Open): a result; else an error or a refusal
    if outcome.message:
        text = _safe(outcome.message, keep_newlines=True)
        click.echo(text if result else _paint(text, bold=True), err=not result)
    if outcome.out_dir and outcome.written:
        click.echo(f"Wrote {len(outcome.written)} file(s) to {outcome.out_dir}", err=not result)


def _fail(message: str, persisted: str = "") -> None:
    click.echo(_paint("closebatch:", fg="red", bold=True) + " " + message + (f" {persisted}" if persisted else ""),
               err=True)


def _os_error(e: OSError) -> str:
    """An operating-system error in plain words, naming the path."""
    import errno as errno_

    path = e.filename or ""
    what = _safe(e.strerror or str(e))
    if e.errno in (errno_.ENOSPC, errno_.EDQUOT):
        return f"the disk is full: writing {_safe(path)} failed ({what}). Free some space and run again."
    if isinstance(e, PermissionError):
        excel = " (is it open in Excel?)" if str(path).lower().endswith((".xlsx", ".xlsm")) else ""
        return f"permission denied for {_safe(path)}{excel}. Check that you may read and write there, and run again."
    if isinstance(e, FileNotFoundError):
        return f"{_safe(path)} does not exist ({what})."
    return f"{what}: {_safe(path)}." if path else f"{what}."


def _run(name: str, *args, **kw) -> None:
    """Run ``app.NAME(*args, **kw)``, report its outcome and exit with its status; every failure
    becomes a message (with what was persisted, when a close got that far), never a traceback."""
    from . import app
    from .io.lock import BooksBusy
    from .io.store import LedgerUnreadable
    from .money import AmountOverflow

    progress = kw.get("progress")
    try:
        try:
            outcome = getattr(app, name)(*args, **kw)
        finally:
            if progress is not None:
                progress.close()
    except KeyboardInterrupt as e:
        _fail("interrupted.", getattr(e, "closebatch_persisted", ""))
        sys.exit(EXIT_INTERRUPTED)
    except (SystemExit, GeneratorExit):
        raise
    except BaseException as e:  # noqa: BLE001 - a bug (or a parser's panic) must not greet a user with a traceback
        persisted = getattr(e, "closebatch_persisted", "")
        if isinstance(e, BooksBusy):
            _fail(f"{_safe(e)}. Wait for it to finish, or remove the lock file if that run has died.")
        elif isinstance(e, OSError):
            _fail(_os_error(e), persisted)
        elif isinstance(e, LedgerUnreadable):
            _fail(f"{_safe(e)}.", persisted)
        elif isinstance(e, AmountOverflow):
            _fail(f"{_safe(e)}.", persisted or "Nothing was persisted.")
        else:
            if os.environ.get("CLOSEBATCH_DEBUG"):
                raise
            _fail(f"an internal error stopped the run ({type(e).__name__}: {_safe(e)}).",
                  (persisted + " " if persisted else "") + "Please report this with the books folder; set "
                  "CLOSEBATCH_DEBUG=1 to see the details.")
        sys.exit(1)
    _report(outcome)
    sys.exit(outcome.exit_code)


CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT, epilog="""\b
Examples:
  closebatch init books                  a new books folder from the blank templates
  closebatch validate books              check everything the next close needs
  closebatch close books                 close the earliest Open period
  closebatch status books                the calendar and the close checklist
  closebatch checklist books -p 2026-02  a Checklist workbook to fill in for February

""" + EXIT_STATUS + """

Run 'closebatch COMMAND --help' for the options of a command. The books format is described in
the books.md contract and the README.""")
@click.version_option(__version__, "-V", "--version", prog_name="closebatch", message="%(prog)s %(version)s")
def main():
    """Close the general ledger at period end from the Excel workbooks in a books folder.

    Finance staff drop workbooks (opening balances, journals, rates, rules) into the books
    folder; closebatch validates them, closes a period (settlement, revaluation, allocation,
    consolidation, statements) and writes workbooks to review. Every problem is named by file,
    sheet and cell, with a hint to fix it; the books' workbooks are never modified."""


@main.command(short_help="Close a period: validate, settle, revalue, allocate, consolidate, report.",
              epilog="""\b
Examples:
  closebatch close books                         the earliest Open period
  closebatch close books --period 2026-02 --no-lock
  closebatch close books --dry-run --out preview    a preview, nothing persisted
  closebatch close books --entity DE --entity GB close two entities first

""" + EXIT_STATUS)
@books_arg
@click.option("--period", "-p", metavar="PERIOD", help="Period to close (default: the earliest Open period).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Output folder (default BOOKS/out/PERIOD). Never the books folder itself.")
@click.option("--entity", "entities", multiple=True, metavar="ENTITY", help="Close only this entity (repeatable).")
@click.option("--no-lock", is_flag=True, help="Close but leave the period Open.")
@click.option("--dry-run", is_flag=True, help="Write every output but persist and lock nothing.")
@user_opt
@today_opt
@jobs_opt
@quiet_opt
def close(books, period, out, entities, no_lock, dry_run, user, today, jobs, quiet):
    """Close a period for every entity.

    Reads and validates every workbook in BOOKS and stops at any error, writing only
    validation.xlsx; otherwise runs every step of the close, writes its workbooks into
    BOOKS/out/PERIOD (or --out DIR), records the close in BOOKS/ledger/ and puts the period
    On hold, unless something blocks the lock. A copy of validation.xlsx is kept in BOOKS/out,
    where validate writes it too, so the latest report is always there."""
    _run("close_books", books, period=period, out=out, entities=entities, no_lock=no_lock, dry_run=dry_run,
         user=user, progress=_progress(quiet), today=_day(today), jobs=jobs)


@main.command(short_help="Check everything the close of a period needs; write validation.xlsx.",
              epilog="""\b
Examples:
  closebatch validate books                   the next close (the earliest Open period)
  closebatch validate books --period 2026-03

\b
Exit status:
  0    no errors: the close would go through (blockers of the lock are listed)
  1    errors (listed, and in validation.xlsx), or refused
  2    wrong usage
  130  interrupted""")
@books_arg
@click.option("--period", "-p", metavar="PERIOD", help="Check the close of this period (default: the earliest Open).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Folder for validation.xlsx (default BOOKS/out).")
@jobs_opt
@quiet_opt
def validate(books, period, out, jobs, quiet):
    """Run every check the close of a period would make, in one pass, and write nothing but
    validation.xlsx (into BOOKS/out, where close leaves its copy too).

    The checks are the close's own: the cells of every workbook, lines dated in closed
    periods, and the close's steps (rates of revaluation and translation, historical rates,
    allocation and elimination rules, statements), run without writing anything."""
    _run("validate_books", books, out=out, progress=_progress(quiet), jobs=jobs, period=period)


@main.command(short_help="Show the calendar with each period's status, and the open period's checklist.",
              epilog="""\b
Examples:
  closebatch status books
  closebatch status books --period 2026-01
  closebatch status books --today 2026-02-03

\b
Exit status:
  0    shown
  1    the books cannot be read
  2    wrong usage""")
@books_arg
@click.option("--period", "-p", metavar="PERIOD", help="Show the checklist of this period (default: the next period "
              "to close).")
@today_opt
def status(books, period, today):
    """Show the calendar with each period's status and history, and the close checklist of a
    period (default: the next one to close): done, remaining, overdue and blocked tasks, and
    who signed what and when."""
    _run("status", books, today=_day(today), period=period)


@main.command(short_help="Write a ready-to-fill Checklist workbook for a period into the books folder.",
              epilog="""\b
Examples:
  closebatch checklist books --period 2026-02

\b
Exit status:
  0    written
  1    the books cannot be read, or the workbook exists already (it is never overwritten)
  2    wrong usage""")
@books_arg
@click.option("--period", "-p", metavar="PERIOD", help="The period of the checklist (default: the next period to "
              "close).")
def checklist(books, period):
    """Write "Checklist PERIOD.xlsx" into the books folder: a Checklist sheet with a row for
    each task a person signs in that period (persons' tasks, and automated tasks that need a
    review), Not started, with columns for the preparer's and the reviewer's sign-offs.  A new
    file: an existing one is never overwritten."""
    _run("checklist_workbook", books, period=period)


@main.command(short_help="Change a period's status: open (reopen), hold, close-permanently.",
              epilog="""\b
Examples:
  closebatch period books 2026-01 open                  reopen January
  closebatch period books 2026-01 hold
  closebatch period books 2025-12 close-permanently     asks for confirmation
  closebatch period books 2025-12 close-permanently --yes

\b
Exit status:
  0    changed (or already so)
  1    refused (the message says why)
  2    wrong usage, or close-permanently without confirmation""")
@books_arg
@click.argument("period")
@click.argument("action", type=click.Choice(["open", "hold", "close-permanently"]))
@user_opt
@click.option("--yes", "-y", is_flag=True, help="Confirm close-permanently without asking (it cannot be undone).")
def period(books, period, action, user, yes):
    """Change a period's status under the rules of the books format: reopen an On hold period,
    put it on hold, or close it permanently. A Permanently closed period can never be reopened,
    so close-permanently asks for confirmation on a terminal and needs --yes elsewhere."""
    if action == "close-permanently" and not yes:
        if not _interactive():
            raise click.UsageError(f"closing {period} permanently cannot be undone; confirm it with --yes.")
        click.confirm(f"Close {period} permanently? It can never be reopened.", abort=True, err=True)
    _run("change_period", books, period, action, user=user)


def _interactive() -> bool:
    """Someone at a terminal who can answer a question."""
    try:
        return sys.stdin.isatty() and sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


@main.command(short_help="Check the sealed ledger's chain and each output folder against its manifest.",
              epilog="""\b
Example:
  closebatch verify books

\b
Exit status:
  0    the ledger's chain and every output folder are intact
  1    something changed or is missing: each change is named""")
@books_arg
def verify(books):
    """Check BOOKS/ledger's hash chain of closed periods (every table each close sealed, the
    statuses and their history) and each output folder against its manifest.json, naming every
    period, table, row and file that changed or is missing. Nothing is written."""
    _run("verify", books)


@main.command(short_help="Create a new books folder from the blank templates.",
              epilog="""\b
Example:
  closebatch init books && closebatch validate books

\b
Exit status:
  0    created
  2    the folder exists and is not empty""")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
def init(folder):
    """Create FOLDER with one blank, formatted workbook per kind of sheet, ready to fill."""
    _run("init_books", folder)


def run(argv=None) -> None:
    """The ``closebatch`` command (and ``python -m closebatch``).  Ctrl-C is clean at any
    moment: a message, no traceback, exit status 130."""
    try:
        rv = main.main(args=argv, prog_name="closebatch", standalone_mode=False)
    except SystemExit as e:
        if e.code == EXIT_INTERRUPTED:  # the message is out: leave without waiting for threads
            _exit(EXIT_INTERRUPTED)
        raise
    except click.exceptions.Abort as e:
        if isinstance(e.__cause__ or e.__context__, KeyboardInterrupt):
            _interrupted()
        click.echo("Aborted!", err=True)
        sys.exit(1)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        _interrupted()
    sys.exit(rv if isinstance(rv, int) else 0)


def _interrupted(message: bool = True) -> None:
    """Leave at once with status 130 (no second traceback from threads ending at exit)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if message:
        try:
            _fail("interrupted.")
        except Exception:  # noqa: BLE001
            pass
    _exit(EXIT_INTERRUPTED)


def _exit(code: int) -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001
            pass
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
