"""The ``closebatch`` command: a thin click layer over :mod:`closebatch.app`."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from . import __version__, app
from .io.lock import BooksBusy

books_arg = click.argument("books", type=click.Path(file_okay=False, path_type=Path))
quiet_opt = click.option("--quiet", "-q", is_flag=True, help="No progress display.")


def _progress(quiet: bool):
    if quiet or not sys.stderr.isatty():
        return None

    def show(done, total, name):
        if total:
            click.echo(f"\rReading workbooks {done}/{total} {name[:50]:<50}", nl=done == total, err=True)
    return show


def _report(outcome: app.Outcome, limit: int = 20) -> None:
    errs, warns = outcome.errors, outcome.warnings
    for f in (errs + warns)[:limit]:
        where = f.where()
        click.echo(f"{f.severity.upper():7} {where + ': ' if where else ''}{f.message}"
                   + (f"\n        fix: {f.hint}" if f.hint and f.is_error else ""), err=True)
    if len(errs) + len(warns) > limit:
        click.echo(f"... and {len(errs) + len(warns) - limit} more in validation.xlsx", err=True)
    for b in outcome.blockers:
        click.echo(f"BLOCKER {b.where() + ': ' if b.where() else ''}{b.message}", err=True)
    if outcome.message:
        click.echo(outcome.message)
    if outcome.out_dir and outcome.written:
        click.echo(f"Wrote {len(outcome.written)} file(s) to {outcome.out_dir}")


def _run(fn, *args, **kw) -> None:
    try:
        outcome = fn(*args, **kw)
    except BooksBusy as e:
        click.echo(f"closebatch: {e}. Wait for it to finish, or remove the lock file if that run has died.", err=True)
        sys.exit(app.EXIT_ERRORS)
    except PermissionError as e:
        click.echo(f"closebatch: cannot write {e.filename}: permission denied (is it open in Excel?). Close it and "
                   "run again.", err=True)
        sys.exit(app.EXIT_ERRORS)
    except OSError as e:
        click.echo(f"closebatch: {e.strerror or e} ({e.filename or ''}).", err=True)
        sys.exit(app.EXIT_ERRORS)
    except Exception as e:  # noqa: BLE001 - a bug must still not greet a user with a traceback
        if os.environ.get("CLOSEBATCH_DEBUG"):
            raise
        click.echo(f"closebatch: an internal error stopped the run ({type(e).__name__}: {e}). Nothing was persisted "
                   "for an unfinished close. Please report this with the books folder; set CLOSEBATCH_DEBUG=1 to see "
                   "the details.", err=True)
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
@quiet_opt
def close(books, period, out, entities, no_lock, dry_run, user, quiet):
    """Close a period for every entity: validate, settle, revalue, allocate, consolidate, report."""
    _run(app.close_books, books, period=period, out=out, entities=entities, no_lock=no_lock, dry_run=dry_run,
         user=user, progress=_progress(quiet))


@main.command()
@books_arg
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Output folder (default BOOKS/out).")
@quiet_opt
def validate(books, out, quiet):
    """Read and validate every workbook; write validation.xlsx."""
    _run(app.validate_books, books, out=out, progress=_progress(quiet))


@main.command()
@books_arg
def status(books):
    """Show the calendar with each period's status."""
    _run(app.status, books)


@main.command()
@books_arg
@click.argument("period")
@click.argument("action", type=click.Choice(["open", "hold", "close-permanently"]))
@click.option("--user", help="Run as this user (default: the operating-system user).")
def period(books, period, action, user):
    """Change a period's status: open (reopen), hold, close-permanently."""
    _run(app.change_period, books, period, action, user=user)


@main.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
def init(folder):
    """Create a new books folder from the blank templates."""
    _run(app.init_books, folder)


if __name__ == "__main__":  # pragma: no cover
    main()
