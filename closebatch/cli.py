"""The ``closebatch`` command: a thin click layer over :mod:`closebatch.app`."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from . import __version__, app
from .io.lock import BooksBusy
from .io.store import LedgerUnreadable
from .money import AmountOverflow

books_arg = click.argument("books", type=click.Path(file_okay=False, path_type=Path))
quiet_opt = click.option("--quiet", "-q", is_flag=True, help="No progress display.")
jobs_opt = click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
                        help="Processes that read and write workbooks side by side (default: the number of CPU "
                             "cores; 1 for none).")
today_opt = click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]),
                         help="Take this day (YYYY-MM-DD) as today for due and overdue tasks (default: the clock).")


def _day(value):
    return value.date() if value is not None else None


def _progress(quiet: bool):
    if quiet or not sys.stderr.isatty():
        return None

    def show(stage, done, total, name):
        if total:
            click.echo(f"\r{stage} {done}/{total} {_safe(name)[:50]:<50}", nl=done == total, err=True)
    return show


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


def _report(outcome: app.Outcome, limit: int = 20) -> None:
    errs, warns = outcome.errors, outcome.warnings
    for f in (errs + warns)[:limit]:
        where = _safe(f.where())
        click.echo(f"{f.severity.upper():7} {where + ': ' if where else ''}{_safe(f.message)}"
                   + (f"\n        fix: {_safe(f.hint)}" if f.hint and f.is_error else ""), err=True)
    if len(errs) + len(warns) > limit:
        click.echo(f"... and {len(errs) + len(warns) - limit} more in validation.xlsx", err=True)
    for b in outcome.blockers:
        click.echo(f"BLOCKER {_safe(b.where()) + ': ' if b.where() else ''}{_safe(b.message)}", err=True)
    if outcome.message:
        click.echo(_safe(outcome.message, keep_newlines=True))
    if outcome.out_dir and outcome.written:
        click.echo(f"Wrote {len(outcome.written)} file(s) to {outcome.out_dir}")


def _run(fn, *args, **kw) -> None:
    try:
        outcome = fn(*args, **kw)
    except BooksBusy as e:
        click.echo(f"closebatch: {_safe(e)}. Wait for it to finish, or remove the lock file if that run has died.",
                   err=True)
        sys.exit(app.EXIT_ERRORS)
    except PermissionError as e:
        click.echo(f"closebatch: cannot access {_safe(e.filename)}: permission denied (is it open in Excel?). Close "
                   "it and run again.", err=True)
        sys.exit(app.EXIT_ERRORS)
    except OSError as e:
        click.echo(f"closebatch: {_safe(e.strerror or e)} ({_safe(e.filename or '')}).", err=True)
        sys.exit(app.EXIT_ERRORS)
    except LedgerUnreadable as e:
        click.echo(f"closebatch: {_safe(e)}.", err=True)
        sys.exit(app.EXIT_ERRORS)
    except AmountOverflow as e:
        click.echo(f"closebatch: {_safe(e)}. Nothing was persisted.", err=True)
        sys.exit(app.EXIT_ERRORS)
    except KeyboardInterrupt:
        click.echo("closebatch: interrupted. An unfinished close changes nothing: the outputs and the ledger are as "
                   "they were, or wholly replaced.", err=True)
        sys.exit(app.EXIT_ERRORS)
    except (SystemExit, GeneratorExit):
        raise
    except BaseException as e:  # noqa: BLE001 - a bug (or a parser's panic) must not greet a user with a traceback
        if os.environ.get("CLOSEBATCH_DEBUG"):
            raise
        click.echo(f"closebatch: an internal error stopped the run ({type(e).__name__}: {_safe(e)}). Nothing was "
                   "persisted for an unfinished close. Please report this with the books folder; set "
                   "CLOSEBATCH_DEBUG=1 to see the details.", err=True)
        sys.exit(app.EXIT_ERRORS)
    _report(outcome)
    sys.exit(outcome.exit_code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="closebatch")
def main():
    """Close the general ledger at period end from the Excel workbooks in BOOKS."""


@main.command()
@books_arg
@click.option("--period", "-p", help="Period to close (default: the earliest Open period).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Output folder (default BOOKS/out/PERIOD).")
@click.option("--entity", "entities", multiple=True, help="Close only this entity (repeatable).")
@click.option("--no-lock", is_flag=True, help="Close but leave the period Open.")
@click.option("--dry-run", is_flag=True, help="Write every output but persist and lock nothing.")
@click.option("--user", help="Run as this user (default: the operating-system user).")
@today_opt
@jobs_opt
@quiet_opt
def close(books, period, out, entities, no_lock, dry_run, user, today, jobs, quiet):
    """Close a period for every entity: validate, settle, revalue, allocate, consolidate, report."""
    _run(app.close_books, books, period=period, out=out, entities=entities, no_lock=no_lock, dry_run=dry_run,
         user=user, progress=_progress(quiet), today=_day(today), jobs=jobs)


@main.command()
@books_arg
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Output folder (default BOOKS/out).")
@jobs_opt
@quiet_opt
def validate(books, out, jobs, quiet):
    """Read and validate every workbook; write validation.xlsx."""
    _run(app.validate_books, books, out=out, progress=_progress(quiet), jobs=jobs)


@main.command()
@books_arg
@today_opt
def status(books, today):
    """Show the calendar with each period's status and history, and the open period's checklist."""
    _run(app.status, books, today=_day(today))


@main.command()
@books_arg
@click.argument("period")
@click.argument("action", type=click.Choice(["open", "hold", "close-permanently"]))
@click.option("--user", help="Run as this user (default: the operating-system user).")
def period(books, period, action, user):
    """Change a period's status: open (reopen), hold, close-permanently."""
    _run(app.change_period, books, period, action, user=user)


@main.command()
@books_arg
def verify(books):
    """Check the sealed ledger's chain and each output folder against its manifest."""
    _run(app.verify, books)


@main.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
def init(folder):
    """Create a new books folder from the blank templates."""
    _run(app.init_books, folder)


if __name__ == "__main__":  # pragma: no cover
    main()
