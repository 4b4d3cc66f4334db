"""Step 1 of a close: read, validate and run the steps without writing (:func:`check_close`),
the one pass ``validate`` and ``close`` share, so that every problem is found at once."""
from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from . import checklist, periods, statements
from .book import Book
from .close import CloseResult, period_lines, period_of, run_close
from .core import ERROR, Finding
from .io import memory, parallel
from .io.journal_report import EarlyJournal
from .io.reader import read_books
from .io.store import Store
from .validate import load_book
from .ledger import entities_closed, closed_lines, ledger_inputs, ledger_state, load_comparatives, seal_refusal
from .outcome import EXIT_USAGE, Outcome, refuse, shell_path, stage, stage_progress


def _system_allocator() -> None:
    """Have Arrow (pandas' text columns) allocate through the system's malloc rather than its
    bundled mimalloc: validating a million lines is ~0.6 s (20 %) faster, the time mimalloc
    spends faulting in pages it had given back (measured; see bench/results.md)."""
    import pyarrow as pa

    if pa.default_memory_pool().backend_name != "system":
        pa.set_memory_pool(pa.system_memory_pool())
    memory.few_arenas()


def load(books: Path, exclude=(), progress=None, jobs=None, timings: dict | None = None):
    """Read and validate a books folder.  ``progress(stage, done, total, name)``, if given,
    hears about long stages (see :func:`closebatch.outcome.stage_progress`); ``timings``, if
    given, gets the seconds of ``read`` and ``validate``.  The cells read are let go once
    validated: the ``ReadResult`` returned names the files and sheets read, with no rows."""
    _system_allocator()
    started = time.perf_counter()
    read = read_books(Path(books), exclude=exclude, progress=stage_progress(progress, "Reading workbooks"),
                      jobs=parallel.default_jobs() if jobs is None else jobs)
    stage(progress, "Validating")
    validating = time.perf_counter()
    book, findings = load_book(read, release=True)
    if timings is not None:
        timings["read"] = validating - started
        timings["validate"] = time.perf_counter() - validating
    return read, book, findings


def period_dir(books: Path, period: str) -> Path | None:
    """``BOOKS/out/PERIOD``, or None for a period code that is not a name (never a path)."""
    from .validate import safe_period_code

    return Path(books) / "out" / period if safe_period_code(period) else None


def out_refusal(books: Path, out) -> Outcome | None:
    """``--out`` may not be the books folder (or hold it), ``ledger/``, or a folder of the books
    holding input workbooks: outputs never replace what the user dropped in."""
    if out is None:
        return None
    from .io.reader import discover

    o, b = Path(out).resolve(), Path(books).resolve()
    why = ""
    if o == b or b.is_relative_to(o):
        why = "is the books folder, or holds it"
    elif o.is_relative_to(b / "ledger"):
        why = "is inside ledger/, closebatch's record of the closes"
    elif o.is_relative_to(b):
        inputs = [p for p in discover(Path(books))[0] if p.resolve().is_relative_to(o)]
        if inputs:
            why = f"holds input workbooks ({inputs[0].relative_to(books).as_posix()})"
    if not why:
        return None
    return Outcome(EXIT_USAGE, message=f"Refused: --out {out} {why}; outputs must never replace or mix with the books' "
                   f"workbooks. Give a folder of its own, e.g. {Path(books) / 'reports'}.")



# checks of the whole, when inputs were set aside
CONSEQUENTIAL = ("statement-unbalanced", "statement-incomplete", "statement-disagrees")


@dataclass
class Checked:
    """Step 1 of the close of a period: everything read, and every finding a close would make
    before it writes anything (:func:`check_close`)."""

    read: object
    book: Book | None
    findings: list  # of the books, of lines in closed periods, and every finding of the steps
    reported: list  # what a run that writes nothing else reports: every error, and the books' own warnings
    period: str | None = None
    per: object = None
    store: Store | None = None
    state: object = None  # the checked ledger (LedgerState)
    started_from: str = ""  # the close seal of the previous period the close starts from
    statuses: dict = field(default_factory=dict)
    history: pd.DataFrame | None = None
    result: CloseResult | None = None
    statements: list | None = None  # the statements with their comparatives
    late: list = field(default_factory=list)  # errors of the comparatives (they block the lock, not the close)
    blockers: list = field(default_factory=list)
    refusal: Outcome | None = None
    note: str = ""
    run_entities: tuple = ()
    closed_before: dict = field(default_factory=dict)
    completing: bool = True
    timings: dict = field(default_factory=dict)  # seconds per phase (see Outcome.timings)
    early: object = None  # the ledger journal begun while the steps ran (EarlyJournal), for the close to finish

    def close(self) -> None:
        """End what the check started and the close did not finish (the early ledger journal)."""
        if self.early is not None:
            self.early.close()
            self.early = None

    @property
    def stopped(self) -> bool:
        """Errors that stop the close before it writes anything but validation.xlsx."""
        return any(f.is_error for f in self.reported)


def check_close(books: Path, period, out_root, entities, user, progress, today, jobs, closing: bool,
                now: dt.datetime | None = None) -> Checked:
    """Everything the close of ``period`` checks before it writes, for ``close`` and ``validate``
    alike: the books read and validated, the period chosen and its control (refusals), lines
    dated in closed periods, and the close's steps run (pure: nothing is written) so that their
    own checks (rates, historical rates, allocation and elimination rules, statements) are
    found in the same pass.  While the books have errors the steps run on the part that passed
    (:func:`closebatch.validate.usable`).  One problem gives one finding: a step's finding at a
    cell validation already named is dropped, and so are the checks of the whole
    (:data:`CONSEQUENTIAL`: the statements do not balance) while an error of the books or of
    another step stands (beside an error in the statements' own definitions they say by how
    much).  The ledger is trusted only when its seal holds (:func:`ledger_state`): a break
    that touches the period is a refusal, before anything else is checked."""
    from .money import AmountOverflow
    from .validate import usable

    timings: dict = {}
    read, book, findings = load(books, exclude=(out_root,) if out_root else (), progress=progress, jobs=jobs,
                                timings=timings)
    chk = Checked(read, book, list(findings), list(findings), timings=timings)
    if book is None or not len(book.periods):
        chk.note = "There is no usable Periods sheet, so the close of a period could not be checked further."
        return chk
    store = Store(books, book.entity_currency(), book.settings.group_currency)
    state = ledger_state(store, book, writable=closing, now=now)
    statuses, history = state.statuses, state.history
    chk.store, chk.state, chk.statuses, chk.history = store, state, statuses, history
    if period is None:
        period = next((p for p in book.periods["period"] if statuses.get(p) == "Open"), None)
        if period is None:
            blocking = state.blocking()
            if blocking:
                chk.refusal = seal_refusal(state, findings + blocking)
            elif closing:
                chk.refusal = refuse("Every period of the calendar is closed; there is nothing to close.", findings)
            else:
                chk.note = "Every period of the calendar is closed, so only the books themselves were checked."
            return chk
    if period not in statuses:
        chk.refusal = refuse(f"Period {period} is not in the Periods sheet.", findings)
        return chk
    blocking = state.blocking(period, own=True)
    if blocking:
        chk.refusal = seal_refusal(state, blocking, period)
        return chk
    per = period_of(book, period)
    if statuses[period] != "Open":
        chk.refusal = refuse(f"Period {period} is {statuses[period]}; it cannot be closed again"
                              + (f" (reopen it first with: closebatch period {shell_path(books)} {shell_path(period)} "
                                 "open)." if statuses[period] == "On hold" else ", ever."), findings)
        return chk
    earlier = [p for p in book.periods["period"].iloc[:per.index] if statuses.get(p) == "Open"]
    if earlier:
        chk.refusal = refuse(f"Period {period} cannot be closed while earlier period {earlier[0]} is still Open; "
                              f"close {earlier[0]} first.", findings)
        return chk
    if closing:
        denied = periods.access(book.users, book.periods.iloc[per.index], user)
        if denied:
            chk.refusal = refuse(f"Refused: {denied}.", findings)
            return chk
        for ent in entities:
            if ent not in set(book.entities["entity"]):
                chk.refusal = refuse(f"Entity {ent} (given with --entity) is not in the Entities sheet.", findings)
                return chk
    chk.period, chk.per = period, per
    # mass close: the entities closed earlier for this period, and whether this run completes it
    all_entities = list(book.entities["entity"])
    chk.closed_before = entities_closed(store, period)
    chk.completing = not entities or set(all_entities) <= set(chk.closed_before) | set(entities)
    chk.run_entities = () if chk.completing else tuple(entities)
    stage(progress, "Checking closed periods")
    hist, chk.started_from, posted = ledger_inputs(state, book, per)
    findings = findings + closed_lines(book, state, posted=posted)
    findings += periods.preclosed_lines(book, statuses, state.closed_here())
    findings += periods.prepared_by(book, per)
    had_errors = any(f.is_error for f in findings)
    chk.findings, chk.reported = list(findings), list(findings)
    if any(f.code == "period-code" for f in findings):
        chk.note = "The close's own checks were not run: a period code is not a name (see above)."
        return chk
    started = time.perf_counter()
    lines = None
    if closing and not had_errors and _spare_core(jobs):
        # the ledger journal's given lines are written while the steps run (EarlyJournal)
        lines = period_lines(book, per, hist, chk.run_entities)
        chk.early = EarlyJournal(book, lines[1])
    try:
        result = run_close(usable(book) if had_errors else book, per, hist, user=user, entities=chk.run_entities,
                           stage=lambda name: stage(progress, name), lines=lines)
    except AmountOverflow as e:
        result = None
        chk.findings.append(Finding(ERROR, f"The close of {period} cannot convert an amount: {e}.",
                                    hint="Correct the rate (or the amount) in the books.", sheet="Rates",
                                    code="amount-overflow"))
        chk.reported.append(chk.findings[-1])
    except Exception:  # noqa: BLE001 - a step tripping over books that have errors: they come first
        if not had_errors:
            chk.close()
            raise
        result = None
        chk.note = ("The close's own checks (rates, rules, statements) could not run past the errors above: fix them "
                    "and validate again.")
    except BaseException:
        chk.close()
        raise
    if result is None:
        chk.close()
        return chk
    chk.result = result
    timings["close"] = time.perf_counter() - started
    timings["steps"] = dict(result.timings)
    known = {_problem(f) for f in findings if f.is_error and f.cell}
    steps = [_locate(f, read, book) for f in result.findings]
    steps = [f for f in steps if not (f.is_error and f.cell and _problem(f) in known)]  # one problem, one finding
    if had_errors or any(f.is_error and not f.code.startswith("statement") for f in steps):
        steps = [f for f in steps if f.code not in CONSEQUENTIAL]  # the whole is off because a part is
    chk.findings += steps
    chk.reported += [f for f in steps if f.is_error]
    if chk.stopped:
        return chk
    stage(progress, "Statements")
    group = statements.group_balances(result.steps.get("consolidation"))
    started = time.perf_counter()
    history = load_comparatives(books, book, per, store)
    made = result.steps["statements"].shared.get("statements") if "statements" in result.steps else None
    if not history and made is not None:  # nothing to compare with: the statements step's own, its checks passed
        chk.statements, st_findings = made, []
    else:
        chk.statements, st_findings = statements.build(book, per, result.balances, group=group,
                                                       movement=result.lines, history=history,
                                                       flows=result.carry.get(statements.FLOWS))
    timings["statements"] = time.perf_counter() - started
    seen = {(f.code, f.message) for f in chk.findings}
    chk.late = [f for f in st_findings if f.is_error and (f.code, f.message) not in seen]  # comparative columns only
    chk.blockers = list(result.blockers) + task_blockers(book, result, today,
                                                         None if chk.completing else chk.run_entities)
    return chk


def _spare_core(jobs: int | None) -> bool:
    """Whether the close may write beside the steps: more than one process allowed and a
    process can be forked."""
    return (parallel.default_jobs() if jobs is None else int(jobs)) > 1 and parallel.can_fork()


def _problem(f: Finding) -> tuple:
    """What a finding is about: the cell's row, column and value (a step that finds again what
    validation found at the same cell says nothing new)."""
    import re

    m = re.search(r"(\d+)$", f.cell or "")
    return f.file, f.sheet, int(m.group(1)) if m else f.cell, f.column, f.value


def _locate(f: Finding, read, book: Book) -> Finding:
    """A step's finding as precisely located as the books allow: ``row 12`` becomes the cell
    (``B12``) when its column is known; a finding about a kind of sheet as a whole (``Rates``:
    a rate is missing) names the workbook that holds that sheet, when the books hold one."""
    from dataclasses import replace

    from .io.reader import kind_of

    if f.file and f.cell.startswith("row ") and f.column:
        letter = book.columns.get((f.file, f.sheet), {}).get(f.column, "")
        if letter:
            return replace(f, cell=letter + f.cell[4:])
    if f.file or not f.sheet:
        return f
    kind = kind_of(f.sheet)
    sheets = read.frames(kind) if kind else []
    if len(sheets) != 1:
        return f
    return replace(f, file=sheets[0].file, sheet=sheets[0].sheet)


def task_blockers(book: Book, result: CloseResult, today=None, entities=None) -> list[Finding]:
    """Required checklist tasks that are not done block the lock (the lock task itself aside).
    With ``entities`` (a close of some entities) only tasks of those entities count."""
    if not len(book.tasks):
        return []
    cl = checklist.build(book.tasks, result.period.name, result.period.end, today or dt.date.today(),
                         checklist.step_outcomes(book, result), checklist=book.checklist)
    return checklist.task_blocker_findings(book, cl, entities)
