"""The library behind the commands: load, validate, run, render, commit.

This layer only orchestrates a close (:func:`close_books`) and its check
(:func:`validate_books`): :mod:`closebatch.check` reads, validates and runs the steps
(pure) in one pass, :mod:`closebatch.render` writes the outputs, :mod:`closebatch.ledger`
checks and commits the sealed ledger, :mod:`closebatch.commands` holds the other commands.
Every function returns an :class:`Outcome` with the exit status of spec section 5; none of
them prints or exits (the CLI does).
"""
from __future__ import annotations

import datetime as dt
import gc
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from . import periods, seal
from .check import check_close, load, out_refusal, period_dir
from .commands import change_period, checklist_workbook, init_books, status, verify
from .core import StepResult, empty_lines
from .io import atomic, outputs
from .io.lock import BooksLock
from .ledger import ledger_inputs, ledger_state, persist_close, stage_ledger
from .outcome import EXIT_BLOCKED, EXIT_ERRORS, EXIT_OK, EXIT_USAGE, Outcome, missing_books, run_user, stage
from .render import hand_over, summary, validation_only, write_outputs, write_validation

__all__ = ["EXIT_OK", "EXIT_ERRORS", "EXIT_USAGE", "EXIT_BLOCKED", "Outcome", "load", "validate_books", "close_books",
           "status", "change_period", "verify", "checklist_workbook", "init_books", "ledger_state", "ledger_inputs",
           "stage_ledger", "write_outputs"]

CLOSED = periods.CLOSED


ACTIONS = periods.ACTIONS


HISTORY_COLUMNS = periods.HISTORY_COLUMNS


@contextmanager
def fewer_collections(first: int = 10_000):
    """Python's cyclic garbage collector runs less often while a command runs: a close's
    frames, arrays and lists are freed by reference counting as they go, and the collector's
    frequent passes (by default every 700 new container objects) only cost time; measured, a
    close of two small entities takes 7–10 % less CPU.  Thresholds already higher are kept;
    the previous ones are restored afterwards."""
    before = gc.get_threshold()
    gc.set_threshold(max(before[0], first), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


@fewer_collections()
def validate_books(books: Path, out: Path | None = None, progress=None, jobs=None, period: str | None = None,
                   user: str | None = None, today: dt.date | None = None) -> Outcome:
    """Step 1 of the close of ``period`` (default: the earliest Open one) alone: everything a
    close of it would check, in one pass, on the same code path (:func:`check_close`); writes
    ``validation.xlsx`` into ``out`` (default ``BOOKS/out``, where a close without ``--out``
    also leaves its report) and nothing else.  Exit 0 or 1."""
    books = Path(books)
    missing = missing_books(books) or out_refusal(books, out)
    if missing:
        return missing
    out = Path(out) if out else books / "out"
    try:
        chk = check_close(books, period, out if Path(out).resolve() != (books / "out").resolve() else None, (),
                          run_user(user), progress, today or dt.date.today(), jobs, closing=False)
    except BaseException as e:
        e.closebatch_persisted = "Nothing was written."
        raise
    if chk.refusal is not None:
        return chk.refusal
    findings = chk.reported + chk.late  # the close names these in its report too (and leaves the period Open)
    written = write_validation([out], findings, chk.read, progress)
    errs = [f for f in findings if f.is_error]
    what = f" for the close of {chk.period}" if chk.period else ""
    msg = f"{len(errs)} error(s), {len(findings) - len(errs)} warning(s){what}."
    if not errs and chk.blockers:
        msg += (f" A close would be written but leave {chk.period} Open: {len(chk.blockers)} blocker(s) stop the "
                "lock (listed above).")
    elif chk.note:
        msg += " " + chk.note
    return Outcome(EXIT_ERRORS if errs else EXIT_OK, findings=findings, out_dir=out, written=written,
                   message=msg, period=chk.period or "", blockers=[] if errs else chk.blockers)


@fewer_collections()
def close_books(books: Path, period: str | None = None, out: Path | None = None, entities=(), no_lock=False,
                dry_run=False, user: str | None = None, progress=None, today: dt.date | None = None,
                jobs: int | None = None, now: dt.datetime | None = None) -> Outcome:
    """Close ``period`` of the books folder (spec section 3).  ``jobs``: processes that read
    and write workbooks side by side (default: one per CPU core; 1 for none).  ``now``: the
    time the History records (default: the clock)."""
    books = Path(books)
    missing = missing_books(books) or out_refusal(books, out)
    if missing:
        return missing
    user = run_user(user)
    today = today or dt.date.today()
    now = now or dt.datetime.now()
    with BooksLock(books):
        return _close(books, period, out, tuple(entities), no_lock, dry_run, user, progress, today, jobs, now)


def _close(books, period, out, entities, no_lock, dry_run, user, progress, today=None, jobs=None,
           now=None) -> Outcome:
    today = today or dt.date.today()
    now = now or dt.datetime.now()
    out_root = Path(out) if out else None
    try:
        chk = check_close(books, period, out_root, entities, user, progress, today, jobs, closing=True, now=now)
    except BaseException as e:
        e.closebatch_persisted = "Nothing was written: the close had not begun to write."
        raise
    try:
        return _finish(books, out_root, entities, dry_run, no_lock, user, progress, today, jobs, now, chk)
    finally:
        chk.close()


def _finish(books, out_root, entities, dry_run, no_lock, user, progress, today, jobs, now, chk) -> Outcome:
    """The close once checked: its outputs written, its ledger persisted."""
    if chk.refusal is not None:
        return chk.refusal
    latest = books / "out"  # the books' latest validation report, unless the outputs go elsewhere
    if chk.period is None:
        return validation_only([out_root or latest], chk.reported, chk.read, "", progress)
    period, book, store, result, ledger = chk.period, chk.book, chk.store, chk.result, chk.state
    per = chk.per
    out_dir = out_root or period_dir(books, period)
    if chk.stopped or result is None:
        dirs = [d for d in (out_dir, None if out_root else latest) if d is not None]
        return validation_only(dirs, chk.reported, chk.read, period, progress)
    run_entities, closed_before, completing = chk.run_entities, chk.closed_before, chk.completing
    findings = chk.findings + chk.late  # the period stays Open and validation.xlsx names the late ones
    blockers = chk.blockers + chk.late
    all_entities = list(book.entities["entity"])
    lock = completing and not no_lock and not blockers and not dry_run
    record_entities = not completing and not no_lock and not blockers and not dry_run
    now_closed = sorted(set(closed_before) | set(run_entities)) if record_entities else sorted(closed_before)
    if lock:
        state_text, status_after = "put On hold", "On hold"
    else:
        status_after = "Open"
        state_text = "left Open"
        if record_entities:
            rest = [e for e in all_entities if e not in now_closed]
            state_text += f": entities {', '.join(run_entities)} are closed; still to close: {', '.join(rest)}"
        elif not completing and not dry_run and not no_lock:
            state_text += f": entities {', '.join(run_entities)} were not closed because of the blockers"
    result.steps["lock"] = StepResult(lines=empty_lines(book.dims), figures={
        "status": status_after, "as_of": f"{today:%Y-%m-%d}", "blockers": len(blockers),
        "entities_closed": ", ".join(all_entities if lock else now_closed),
        "outcome": "dry run" if dry_run else ("--no-lock" if no_lock else ("On hold" if lock else "left Open")),
        "state": ("dry run, nothing persisted: " if dry_run else "") + state_text + (f" ({len(blockers)} blocker(s))"
                                                                                   if blockers else "")})
    # Crash safety: the outputs and the period's data files are written under temporary
    # names (side by side, in parallel with ``jobs`` > 1); the data files are read back and
    # sealed, and the seal goes into close_status.xlsx and the manifest; then the outputs are
    # moved into place (the manifest last); then the seal is committed (ledger/periods.xlsx,
    # with the period's status and History), and last the data files are moved into place.
    # A run killed before the commit leaves the ledger as it was (the period Open), one killed
    # after it the new seal, whose data files the next command moves into place if needed.
    # What was persisted when something fails is said in the message.
    saved = Persisted(books, out_dir, period, dry_run)
    close_seal = ""
    try:
        od = outputs.OutputDir(out_dir)
        saved.outputs = od
        stage(progress, "Preparing the ledger record")
        staged = None
        try:
            hand_over(chk.early, od, result)  # before the ledger record is prepared
            staged = stage_ledger(store, book, result) if not dry_run and completing else None
            def sealer():
                nonlocal close_seal
                if staged is None:
                    return ""
                tables = staged.seal()
                close_seal = seal.close_seal(period, f"{per.start:%Y-%m-%d}", f"{per.end:%Y-%m-%d}",
                                             chk.started_from, tables)
                return close_seal

            seal_note = "dry run: nothing sealed" if dry_run else (
                "entities closed: the period is sealed when its last entity is closed" if not completing else "")
            started = time.perf_counter()
            write_outputs(od, book, result, findings, chk.read, period, blockers, staged, jobs, progress,
                          chk.statements, sealer=sealer, seal_note=seal_note, started_from=chk.started_from,
                          store=store, early=chk.early)
            chk.timings["write"] = time.perf_counter() - started
            started = time.perf_counter()  # persisting: the outputs moved into place, the ledger committed
            atomic.checkpoint("ledger-written")
            stage(progress, "Saving")
            written = od.commit(order=["manifest.json"], stop=atomic.checkpoint)
            atomic.checkpoint("outputs-moved")
            if not dry_run:
                persist_close(ledger, book, period, user, now, result, staged, chk.started_from, close_seal, lock,
                              completing, record_entities, run_entities, closed_before, blockers)
                saved.decided = True
            chk.timings["persist"] = time.perf_counter() - started
            if out_root is None:  # the books' latest validation report: a copy, after what matters
                outputs.copy_into(out_dir / "validation.xlsx", latest)
        except BaseException:
            if chk.early is not None:
                chk.early.close()  # ended before its folder is removed
            od.discard()
            raise
        finally:
            if staged is not None:
                staged.discard()
    except BaseException as e:
        e.closebatch_persisted = saved.describe()  # the CLI says what was and was not persisted
        raise
    code = EXIT_BLOCKED if blockers else EXIT_OK
    msg = f"Closed {period}{' (dry run: nothing persisted)' if dry_run else ''}"
    if run_entities:
        msg += f" for {', '.join(run_entities)}"
    elif entities:
        msg += f" for every entity ({', '.join(sorted(set(closed_before) - set(entities)))} closed earlier)"
    msg += f"; the period is {state_text}."
    if close_seal:
        msg += f" Sealed: {close_seal}."
    return Outcome(code, message=msg, findings=findings, blockers=blockers, out_dir=out_dir, written=written,
                   period=period, summary=summary(result), timings=chk.timings)


@dataclass
class Persisted:
    """What a close has persisted so far, for the message when something stops it (a full disk,
    a permission, an interruption): the outputs (renamed into place one by one) and the
    decision (the sealed ledger: the period's data, status and History, committed at once)."""

    books: Path
    out_dir: Path
    period: str
    dry_run: bool = False
    outputs: object = None  # the OutputDir, whose ``moved`` names the outputs in place
    decided: bool = False

    def describe(self) -> str:
        moved = list(getattr(self.outputs, "moved", []) or [])
        out = f"{self.out_dir}"
        if self.dry_run:
            if not moved:
                return f"Nothing was persisted (a dry run), and the outputs in {out} are as they were."
            return (f"Nothing was persisted (a dry run); of the outputs in {out}, {_names(moved)} were replaced, the "
                    "others are as they were.")
        if not moved and not self.decided:
            return (f"Nothing was persisted: ledger/ and the outputs in {out} are as they were, and {self.period} is "
                    "still Open.")
        if not self.decided:
            done = f"{_names(moved)} in {out}" + ("" if getattr(self.outputs, "done", False) else
                                                 " (the other outputs there are as they were)")
            return (f"Persisted: {done}; ledger/ is as it was and {self.period} is still Open, as nothing decided it: "
                    "run the close again to finish.")
        return (f"Everything was persisted: the outputs in {out} and the ledger (ledger/, sealed) with the period's "
                "status; only what came after failed.")


def _names(names: list) -> str:
    return ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
