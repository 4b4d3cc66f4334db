"""The library behind the commands: read, validate, close, persist, write.

This is the only layer that ties files to the pure parts: :mod:`closebatch.io` reads and
writes, :mod:`closebatch.validate` types the books, :mod:`closebatch.close` computes.  Every
function returns an :class:`Outcome` with the exit status of spec section 5; none of them
prints or exits (the CLI does).
"""
from __future__ import annotations

import datetime as dt
import getpass
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from . import checklist, money, periods, registry, seal
from .book import Book
from .close import CloseResult, History, period_of, run_close
from .core import ERROR, Finding, StepResult, concat_lines, empty_lines, line_columns
from .io import outputs, parallel
from .io.lock import BooksLock
from .io.reader import read_books
from .io.status_writer import write_close_status
from . import statements
from .io.journal_report import write_ledger_journal
from .io.consolidation_writer import write_consolidation
from .io.statements_writer import write_statements
from .io import atomic
from .io.store import Store
from .periods import fingerprint
from .io.writer import Sheet, write_workbook
from .validate import load_book

EXIT_OK, EXIT_ERRORS, EXIT_USAGE, EXIT_BLOCKED = 0, 1, 2, 3
CLOSED = periods.CLOSED
ACTIONS = periods.ACTIONS
HISTORY_COLUMNS = periods.HISTORY_COLUMNS


@dataclass
class Outcome:
    exit_code: int
    message: str = ""
    findings: list = field(default_factory=list)
    blockers: list = field(default_factory=list)
    out_dir: Path | None = None
    written: list = field(default_factory=list)
    period: str = ""
    summary: dict = field(default_factory=dict)
    # seconds per phase of a close (read, validate, close, statements, write, persist), and
    # under ``steps`` each step's own (:attr:`closebatch.close.CloseResult.timings`)
    timings: dict = field(default_factory=dict)

    @property
    def errors(self):
        return [f for f in self.findings if f.is_error]

    @property
    def warnings(self):
        return [f for f in self.findings if not f.is_error]


def run_user(user: str | None) -> str:
    if user:
        return user
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001
        return os.environ.get("USER", "unknown")


def _system_allocator() -> None:
    """Have Arrow (pandas' text columns) allocate through the system's malloc rather than its
    bundled mimalloc: validating a million lines is ~0.6 s (20 %) faster, the time mimalloc
    spends faulting in pages it had given back (measured; see bench/results.md)."""
    import pyarrow as pa

    if pa.default_memory_pool().backend_name != "system":
        pa.set_memory_pool(pa.system_memory_pool())


def load(books: Path, exclude=(), progress=None, jobs=None, timings: dict | None = None):
    """Read and validate a books folder.  ``progress(stage, done, total, name)``, if given,
    hears about long stages (see :func:`_stage_progress`); ``timings``, if given, gets the
    seconds of ``read`` and ``validate``."""
    _system_allocator()
    started = time.perf_counter()
    read = read_books(Path(books), exclude=exclude, progress=_stage_progress(progress, "Reading workbooks"),
                      jobs=parallel.default_jobs() if jobs is None else jobs)
    _stage(progress, "Validating")
    validating = time.perf_counter()
    book, findings = load_book(read)
    if timings is not None:
        timings["read"] = validating - started
        timings["validate"] = time.perf_counter() - validating
    return read, book, findings



# --------------------------------------------------------------------------- the ledger's state

@dataclass
class LedgerState:
    """``ledger/`` as a command sees it, checked: each period's effective status, the
    History, the sealed records (``Seals``), what breaks the chain, and the store to load the
    closed periods' data through."""

    store: Store
    statuses: dict
    history: pd.DataFrame
    seals: pd.DataFrame
    breaks: list  # seal.Break
    calendar: list  # Finding: the frozen calendar
    version: int
    head: str = ""

    def record(self, period: str) -> dict | None:
        got = self.seals[self.seals["period"] == period]
        return got.iloc[0].to_dict() if len(got) else None

    def closed_here(self) -> set:
        """The periods closebatch closed (the ledger holds the data of their last close)."""
        if self.version == 2:
            return set(self.seals.loc[self.seals["close_seal"] != "", "period"])
        return {p for p in self.statuses if self.store.has(p)}

    def close_seal(self, period: str) -> str:
        rec = self.record(period)
        return rec["close_seal"] if rec else ""

    def blocking(self, period: str | None = None, own: bool = False, cascade: bool = False) -> list:
        """The breaks that stop a command about ``period``: all of them, except breaks of
        ``period`` itself when the command seals it anew (``own``: closing it again, or
        reopening it) and of later periods that are Open (or On hold, when reopening carries
        them along: ``cascade``), whose data the command does not use."""
        order = list(self.statuses)
        out = list(self.calendar)
        for b in self.breaks:
            q = b.period
            if period is not None and q and q in self.statuses:
                if own and q == period and self.statuses[q] != periods.PERMANENT:
                    continue
                if order.index(q) > order.index(period) and (
                        self.statuses[q] == periods.OPEN or (cascade and self.statuses[q] == periods.ON_HOLD)):
                    continue
            out.append(b.finding)
        return out


def ledger_state(store: Store, book: Book, writable: bool = False, now: dt.datetime | None = None) -> LedgerState:
    """Read and check ``ledger/``.  ``writable`` (under the books' lock): move the files of a
    committed seal into place, and seal a ledger of an earlier version (migrate it)."""
    led = store.ledger()
    if writable and led.version == 2 and (led.pending or led.sweep):
        store.recover()
        led = store.ledger(refresh=True)
    if writable and led.version == 1:
        missing = [p for p in led.status if p not in set(book.periods["period"])]
        if missing:
            cal = [Finding("error", f"ledger/periods.xlsx has period {missing[0]}, which is not in the Periods sheet.",
                           hint=f"Put period {missing[0]} back in the Periods sheet as it was when it was closed.",
                           code="calendar-frozen")]
            return LedgerState(store, {}, led.history, pd.DataFrame(columns=seal.SEAL_COLUMNS), [], cal, 1)
        _migrate(store, book, now or dt.datetime.now())
        led = store.ledger(refresh=True)
    seals = led.seals
    if led.version == 2:
        recorded = dict(zip(seals["period"], seals["status"]))
        doubtful: dict = {}
        hist = led.history
        for b in led.breaks:
            p = b.period
            if p:
                h = hist[hist["period"].astype(str) == p] if "period" in hist else hist.iloc[0:0]
                doubtful.setdefault(p, []).extend([led.status.get(p, ""), *(h["to"].astype(str).tail(1) if len(h)
                                                                             and "to" in h else [])])
        if any(not b.period for b in led.breaks):  # the record as a whole is in doubt: the most closed counts
            for p in set(led.status) | set(recorded):
                doubtful.setdefault(p, []).extend([led.status.get(p, ""), recorded.get(p, "")])
        statuses = periods.effective_statuses(book.periods, recorded, doubtful)
        cal = periods.calendar_findings(book, seals)
    else:
        statuses = periods.effective_statuses(book.periods, led.status)
        cal = []
    return LedgerState(store, statuses, led.history, seals, list(led.breaks), cal, led.version, led.head)


def _migrate(store: Store, book: Book, now: dt.datetime) -> None:
    """Seal a ledger written by an earlier version: its data as it is now (trusted on this
    first use), each close taken to have started from the one before it."""
    led = store.ledger()
    statuses = periods.effective_statuses(book.periods, led.status)
    tables, closes, previous = [], {}, ""
    for p in book.periods["period"]:
        path = store.dir / f"{p}.xlsx"
        if not path.exists():
            continue
        mine = store.seal_file(p, path.name)
        start, end = [f"{pd.Timestamp(v):%Y-%m-%d}" for v in
                      book.periods.loc[book.periods["period"] == p, ["start", "end"]].iloc[0]]
        cs = seal.close_seal(p, start, end, previous, mine)
        closes[p] = (previous, cs)
        previous = cs
        tables += mine
    ents = store.dir / "closed_entities.xlsx"
    if ents.exists():
        tables += store.seal_file("", ents.name)
    rows = periods.record_rows(book.periods, statuses, led.history, pd.DataFrame(columns=seal.SEAL_COLUMNS), closes,
                               touched=[p for p, s in led.status.items() if p in statuses])
    sheets = seal.build(rows, periods.add_history(led.history, []), tables,
                        {"sealed_from_earlier_version": f"{now:%Y-%m-%d %H:%M:%S}"})
    store.commit(sheets)


def _seal_refusal(state: LedgerState, blocking: list, period: str | None = None) -> Outcome:
    n = len(blocking)
    what = "the calendar of sealed periods changed" if all(f.code == "calendar-frozen" for f in blocking) else \
        "the ledger's seal is broken"
    msg = f"Refused: {what} ({n} problem(s), listed above); nothing was closed or persisted."
    perm = sorted({b.period for b in state.breaks if b.period and state.statuses.get(b.period) == periods.PERMANENT
                   and b.finding in blocking})
    if perm:
        msg += (f" Period {', '.join(perm)} is Permanently closed: it can never be reopened, only restored from a "
                "backup.")
    return Outcome(EXIT_ERRORS, message=msg, findings=list(blocking))


def _commit(state: LedgerState, book: Book, statuses: dict, history: pd.DataFrame, closes=None, staged=(),
            touched=(), entities: bool = False) -> None:
    """Seal and persist: the new statuses and History, the records of every period (``closes``:
    period -> (started_from, close_seal) of a close made now), the tables of ``staged`` (sealed
    already) in place of the period's earlier ones (with ``entities``, the entity closes'
    tables too, by those staged, if any)."""
    closes = closes or {}
    old = state.store.ledger().tables if state.version == 2 else []
    replaced = set(closes)
    keep = [t for t in old if t.period not in replaced and not (t.period == "" and entities)]
    new = [t for s in staged if s is not None for t in s.seals]
    rows = periods.record_rows(book.periods, statuses, history, state.seals, closes, touched)
    led = state.store.ledger()
    extra = {k: v for k, v in (led.record.chain.items() if led.record is not None else [])
             if k not in ("format", "periods", "entities", "head")}
    sheets = seal.build(rows, history, keep + new, extra)
    state.store.commit(sheets, [s for s in staged if s is not None])


def validate_books(books: Path, out: Path | None = None, progress=None, jobs=None, period: str | None = None,
                   user: str | None = None, today: dt.date | None = None) -> Outcome:
    """Step 1 of the close of ``period`` (default: the earliest Open one) alone: everything a
    close of it would check, in one pass, on the same code path (:func:`_check`); writes
    ``validation.xlsx`` into ``out`` (default ``BOOKS/out``, where a close without ``--out``
    also leaves its report) and nothing else.  Exit 0 or 1."""
    books = Path(books)
    missing = _missing_books(books) or _out_refusal(books, out)
    if missing:
        return missing
    out = Path(out) if out else books / "out"
    try:
        chk = _check(books, period, out if Path(out).resolve() != (books / "out").resolve() else None, (),
                     run_user(user), progress, today or dt.date.today(), jobs, closing=False)
    except BaseException as e:
        e.closebatch_persisted = "Nothing was written."
        raise
    if chk.refusal is not None:
        return chk.refusal
    findings = chk.reported + chk.late  # the close names these in its report too (and leaves the period Open)
    written = _write_validation([out], findings, chk.read, progress)
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


def _missing_books(books: Path) -> Outcome | None:
    if Path(books).is_dir():
        return None
    what = "is not a folder" if Path(books).exists() else "does not exist"
    return Outcome(EXIT_ERRORS, message=f"The books folder {books} {what}; nothing was read or written. Give the folder "
                   "that holds the books' workbooks (closebatch init NEW_FOLDER makes one).")


def _refuse(msg: str, findings=()) -> Outcome:
    return Outcome(EXIT_ERRORS, message=msg, findings=list(findings))


def close_books(books: Path, period: str | None = None, out: Path | None = None, entities=(), no_lock=False,
                dry_run=False, user: str | None = None, progress=None, today: dt.date | None = None,
                jobs: int | None = None, now: dt.datetime | None = None) -> Outcome:
    """Close ``period`` of the books folder (spec section 3).  ``jobs``: processes that read
    and write workbooks side by side (default: one per CPU core; 1 for none).  ``now``: the
    time the History records (default: the clock)."""
    books = Path(books)
    missing = _missing_books(books) or _out_refusal(books, out)
    if missing:
        return missing
    user = run_user(user)
    today = today or dt.date.today()
    now = now or dt.datetime.now()
    with BooksLock(books):
        return _close(books, period, out, tuple(entities), no_lock, dry_run, user, progress, today, jobs, now)


def _stage_progress(progress, stage: str):
    """``progress(stage, done, total, name)`` as the ``(done, total, name)`` callback of one stage."""
    if progress is None:
        return None
    return lambda done, total, name: progress(stage, done, total, name)


def _stage(progress, stage: str) -> None:
    """Tell ``progress`` that a stage of unknown length starts (``total`` 0)."""
    if progress is not None:
        progress(stage, 0, 0, "")


def shell_path(path: Path) -> str:
    """A path as it would be typed in a command line (quoted when it needs to be)."""
    import shlex

    return shlex.quote(str(path))


def period_dir(books: Path, period: str) -> Path | None:
    """``BOOKS/out/PERIOD``, or None for a period code that is not a name (never a path)."""
    from .validate import safe_period_code

    return Path(books) / "out" / period if safe_period_code(period) else None


def _out_refusal(books: Path, out) -> Outcome | None:
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
    before it writes anything (:func:`_check`)."""

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

    @property
    def stopped(self) -> bool:
        """Errors that stop the close before it writes anything but validation.xlsx."""
        return any(f.is_error for f in self.reported)


def _check(books: Path, period, out_root, entities, user, progress, today, jobs, closing: bool,
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
                chk.refusal = _seal_refusal(state, findings + blocking)
            elif closing:
                chk.refusal = _refuse("Every period of the calendar is closed; there is nothing to close.", findings)
            else:
                chk.note = "Every period of the calendar is closed, so only the books themselves were checked."
            return chk
    if period not in statuses:
        chk.refusal = _refuse(f"Period {period} is not in the Periods sheet.", findings)
        return chk
    blocking = state.blocking(period, own=True)
    if blocking:
        chk.refusal = _seal_refusal(state, blocking, period)
        return chk
    per = period_of(book, period)
    if statuses[period] != "Open":
        chk.refusal = _refuse(f"Period {period} is {statuses[period]}; it cannot be closed again"
                              + (f" (reopen it first with: closebatch period {shell_path(books)} {shell_path(period)} "
                                 "open)." if statuses[period] == "On hold" else ", ever."), findings)
        return chk
    earlier = [p for p in book.periods["period"].iloc[:per.index] if statuses.get(p) == "Open"]
    if earlier:
        chk.refusal = _refuse(f"Period {period} cannot be closed while earlier period {earlier[0]} is still Open; "
                              f"close {earlier[0]} first.", findings)
        return chk
    if closing:
        denied = periods.access(book.users, book.periods.iloc[per.index], user)
        if denied:
            chk.refusal = _refuse(f"Refused: {denied}.", findings)
            return chk
        for ent in entities:
            if ent not in set(book.entities["entity"]):
                chk.refusal = _refuse(f"Entity {ent} (given with --entity) is not in the Entities sheet.", findings)
                return chk
    chk.period, chk.per = period, per
    # mass close: the entities closed earlier for this period, and whether this run completes it
    all_entities = list(book.entities["entity"])
    chk.closed_before = _entities_closed(store, period)
    chk.completing = not entities or set(all_entities) <= set(chk.closed_before) | set(entities)
    chk.run_entities = () if chk.completing else tuple(entities)
    _stage(progress, "Checking closed periods")
    hist, chk.started_from, posted = ledger_inputs(state, book, per)
    findings = findings + _closed_period_lines(book, state, posted=posted)
    findings += periods.preclosed_lines(book, statuses, state.closed_here())
    findings += periods.prepared_by(book, per)
    had_errors = any(f.is_error for f in findings)
    chk.findings, chk.reported = list(findings), list(findings)
    if any(f.code == "period-code" for f in findings):
        chk.note = "The close's own checks were not run: a period code is not a name (see above)."
        return chk
    started = time.perf_counter()
    try:
        result = run_close(usable(book) if had_errors else book, per, hist, user=user, entities=chk.run_entities,
                           stage=lambda name: _stage(progress, name))
    except AmountOverflow as e:
        result = None
        chk.findings.append(Finding(ERROR, f"The close of {period} cannot convert an amount: {e}.",
                                    hint="Correct the rate (or the amount) in the books.", sheet="Rates",
                                    code="amount-overflow"))
        chk.reported.append(chk.findings[-1])
    except Exception:  # noqa: BLE001 - a step tripping over books that have errors: they come first
        if not had_errors:
            raise
        result = None
        chk.note = ("The close's own checks (rates, rules, statements) could not run past the errors above: fix them "
                    "and validate again.")
    if result is None:
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
    _stage(progress, "Statements")
    group = statements.group_balances(result.steps.get("consolidation"))
    started = time.perf_counter()
    chk.statements, st_findings = statements.build(book, per, result.balances, group=group, movement=result.lines,
                                                   history=load_comparatives(books, book, per, store),
                                                   flows=result.carry.get(statements.FLOWS))
    timings["statements"] = time.perf_counter() - started
    seen = {(f.code, f.message) for f in chk.findings}
    chk.late = [f for f in st_findings if f.is_error and (f.code, f.message) not in seen]  # comparative columns only
    chk.blockers = list(result.blockers) + _task_blockers(book, result, today,
                                                          None if chk.completing else chk.run_entities)
    return chk


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


def _close(books, period, out, entities, no_lock, dry_run, user, progress, today=None, jobs=None,
           now=None) -> Outcome:
    today = today or dt.date.today()
    now = now or dt.datetime.now()
    out_root = Path(out) if out else None
    try:
        chk = _check(books, period, out_root, entities, user, progress, today, jobs, closing=True, now=now)
    except BaseException as e:
        e.closebatch_persisted = "Nothing was written: the close had not begun to write."
        raise
    if chk.refusal is not None:
        return chk.refusal
    latest = books / "out"  # the books' latest validation report, unless the outputs go elsewhere
    if chk.period is None:
        return _validation_only([out_root or latest], chk.reported, chk.read, "", progress)
    period, book, store, result, ledger = chk.period, chk.book, chk.store, chk.result, chk.state
    per = chk.per
    out_dir = out_root or period_dir(books, period)
    if chk.stopped or result is None:
        dirs = [d for d in (out_dir, None if out_root else latest) if d is not None]
        return _validation_only(dirs, chk.reported, chk.read, period, progress)
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
        _stage(progress, "Preparing the ledger record")
        staged = _stage_ledger(store, book, result) if not dry_run and completing else None
        try:
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
            _write_outputs(od, book, result, findings, chk.read, period, blockers, staged, jobs, progress,
                           chk.statements, sealer=sealer, seal_note=seal_note, started_from=chk.started_from,
                           store=store)
            chk.timings["write"] = time.perf_counter() - started
            started = time.perf_counter()  # persisting: the outputs moved into place, the ledger committed
            atomic.checkpoint("ledger-written")
            _stage(progress, "Saving")
            written = od.commit(order=["manifest.json"], stop=atomic.checkpoint)
            atomic.checkpoint("outputs-moved")
            if not dry_run:
                _persist_close(ledger, book, period, user, now, result, staged, chk.started_from, close_seal, lock,
                               completing, record_entities, run_entities, closed_before, blockers)
                saved.decided = True
            chk.timings["persist"] = time.perf_counter() - started
            if out_root is None:  # the books' latest validation report: a copy, after what matters
                outputs.copy_into(out_dir / "validation.xlsx", latest)
        except BaseException:
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
                   period=period, summary=_summary(result), timings=chk.timings)


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


def _persist_close(state: LedgerState, book: Book, period: str, user: str, now: dt.datetime, result, staged,
                   started_from: str, close_seal: str, lock: bool, completing: bool, record_entities: bool,
                   run_entities, closed_before, blockers) -> None:
    """The close's decision, sealed in one commit: the period's data (when every entity is
    closed), its status (On hold when nothing blocks the lock) and History, the entities
    closed so far."""
    statuses, history = dict(state.statuses), state.history
    rows = []
    ents = None
    if lock:
        rows.append(periods.history_row(period, statuses[period], "On hold", user, now, "closed by closebatch close"))
        statuses[period] = "On hold"
    else:
        what = (f"entities {', '.join(run_entities)} closed" if record_entities else
                f"left Open with {len(blockers)} blocker(s)" if blockers else "left Open (--no-lock)")
        rows.append(periods.history_row(
            period, statuses[period], statuses[period], user, now,
            f"closebatch close{' --entity ' + ','.join(run_entities) if run_entities else ''}: {what}",
            event="close", blockers=len(blockers), entities=",".join(run_entities)))
    if completing and closed_before:
        ents = _entity_closes_after(state.store, book, period, None, user, None, now)
    elif record_entities:
        ents = _entity_closes_after(state.store, book, period, run_entities, user, result, now)
    closes = {period: (started_from, close_seal)} if staged is not None else {}
    _commit(state, book, statuses, periods.add_history(history, rows), closes, [staged, ents],
            entities=bool(completing and closed_before) or record_entities, touched=[period])


def ledger_inputs(state: LedgerState, book: Book, per) -> tuple[History, str, dict]:
    """What a close of ``per`` takes from the (checked) ledger: the previous period's tables and
    the lines earlier closes scheduled into ``per`` (:class:`closebatch.close.History`), the
    close seal it starts from, and the ``Posted`` table of each closed period (its lines are
    frozen)."""
    store = state.store
    prev = book.periods["period"].iloc[per.index - 1] if per.index > 0 else None
    hist = History()
    started_from = ""
    if prev is not None and store.has(prev):
        # what the close starts from: the closing balances, the year-end entries, the carried frames
        hist.previous = store.load(prev, lambda t: t in ("Balances", "YearEnd") or t.startswith("carry_"))
        started_from = state.close_seal(prev)
    hist.scheduled = _scheduled(book, store, per)
    return hist, started_from, _closed_posted(state, book)


def _closed_posted(state: LedgerState, book: Book, pretend=()) -> dict:
    """The ``Posted`` table of each period closebatch closed that is not Open (or in ``pretend``)."""
    statuses = state.statuses
    closed = state.closed_here()
    cols = ["journal", "line", "date", "entity", "account", *book.dims, "currency", "amount", "amount_acct", "source",
            "fingerprint"]
    return {p: state.store.posted(p, cols) for p in book.periods["period"]
            if p in closed and (statuses.get(p, "Open") != "Open" or p in pretend)}


def _closed_period_lines(book: Book, state: LedgerState, pretend=(), only: str | None = None,
                         posted: dict | None = None) -> list[Finding]:
    """The lines of closed scopes that are new or changed (see
    :func:`closebatch.periods.closed_period_lines`), the ledger's records loaded for it."""
    statuses = state.statuses
    if posted is None:
        posted = _closed_posted(state, book, pretend)
    ent_closed, ent_posted = state.store.entity_closes()
    scopes = periods.closed_scopes(book, statuses, posted, ent_closed, ent_posted, pretend)
    return periods.closed_period_lines(book, statuses, scopes, only)


def _entities_closed(store: Store, period: str) -> dict:
    """Entities closed with ``close --entity`` for ``period``: entity -> "by USER at WHEN"."""
    closed, _ = store.entity_closes()
    if not len(closed):
        return {}
    c = closed[closed["period"] == period]
    return {e: f"by {u} at {w}" for e, u, w in zip(c["entity"], c["user"], c["when"])}


def _entity_closes_after(store: Store, book: Book, period: str, entities, user: str, result, now: dt.datetime):
    """The entity closes' workbook after recording ``entities`` as closed for ``period`` with
    the fingerprints of the lines their close consumed (with ``entities`` None: after
    forgetting the period's entity closes), staged, written and sealed; None when no entity
    close is left (the file goes)."""
    closed, posted = store.entity_closes()
    keep_c = closed["period"] != period if entities is None else \
        ~((closed["period"] == period) & closed["entity"].isin(list(entities)))
    keep_p = posted["period"] != period if entities is None else \
        ~((posted["period"] == period) & posted["entity"].isin(list(entities)))
    closed, posted = closed[keep_c.to_numpy(dtype=bool)], posted[keep_p.to_numpy(dtype=bool)]
    if entities is not None:
        when = now.strftime("%Y-%m-%d %H:%M:%S")
        new_c = pd.DataFrame({"period": period, "entity": list(entities), "user": user, "when": when})
        dims = list(book.dims)
        inp = result.posted_inputs
        cols = ["journal", "line", "date", "entity", "account", *dims, "currency", "amount", "amount_acct", "source"]
        new_p = inp[cols].assign(fingerprint=fingerprint(inp, dims).to_numpy(), period=period) if len(inp) else \
            pd.DataFrame(columns=cols + ["fingerprint", "period"])
        new_p = new_p[["period"] + cols + ["fingerprint"]]
        closed = pd.concat([closed, new_c], ignore_index=True) if len(closed) else new_c
        posted = pd.concat([posted.reindex(columns=new_p.columns), new_p], ignore_index=True) if len(posted) \
            else new_p
    staged = store.stage_entity_closes(closed.reset_index(drop=True), posted.reset_index(drop=True))
    if staged is None:
        return None
    try:
        staged.write()
        staged.seal()
    except BaseException:
        staged.discard()
        raise
    return staged


def _task_blockers(book: Book, result: CloseResult, today=None, entities=None) -> list[Finding]:
    """Required checklist tasks that are not done block the lock (the lock task itself aside).
    With ``entities`` (a close of some entities) only tasks of those entities count."""
    if not len(book.tasks):
        return []
    cl = checklist.build(book.tasks, result.period.name, result.period.end, today or dt.date.today(),
                         checklist.step_outcomes(book, result), checklist=book.checklist)
    return checklist.task_blocker_findings(book, cl, entities)


def _scheduled(book: Book, store: Store, per) -> pd.DataFrame | None:
    """Generated lines of earlier closes dated in this period (reversals and the like)."""
    frames = []
    for p in book.periods["period"].iloc[:per.index]:
        s = store.sheet(p, "Scheduled")
        if s is not None and len(s):
            frames.append(s)
    if not frames:
        return None
    from .close import _as_lines

    df = pd.concat([_as_lines(f, book.dims) for f in frames], ignore_index=True)
    return df[(df["date"] >= per.start) & (df["date"] <= per.end)]


def _write_validation(dirs: list, findings, read, progress=None) -> list:
    """Write validation.xlsx alone into each of ``dirs`` (once, then copied); every other file
    there stays as it was."""
    _stage(progress, "Writing validation.xlsx")
    first = Path(dirs[0])
    od = None
    try:
        od = outputs.OutputDir(first)
        outputs.write_validation(od.path("validation.xlsx"), findings, read.ignored, read.skipped)
        written = od.commit()
    except BaseException as e:
        if od is not None:
            od.discard()
        e.closebatch_persisted = f"validation.xlsx was not written into {first}; nothing else was written."
        raise
    for d in dirs[1:]:
        try:
            outputs.copy_into(first / "validation.xlsx", Path(d))
        except BaseException as e:
            e.closebatch_persisted = (f"validation.xlsx was written into {first} but not into {d}; nothing else was "
                                      "written.")
            raise
    return written


def _validation_only(dirs: list, findings, read, period: str, progress=None) -> Outcome:
    written = _write_validation(dirs, findings, read, progress)
    n = sum(f.is_error for f in findings)
    return Outcome(EXIT_ERRORS, message=f"The books have {n} error(s); nothing was closed. See "
                   f"{Path(dirs[0]) / 'validation.xlsx'}.", findings=findings, out_dir=Path(dirs[0]), written=written,
                   period=period)


def _summary(result: CloseResult) -> dict:
    types = result.lines["journal_type"].value_counts().to_dict() if len(result.lines) else {}
    return {"lines": int(len(result.lines)), "by_type": {k: int(v) for k, v in types.items()},
            "steps": {k: v.figures for k, v in result.steps.items()}}


def _all_lines(result: CloseResult, dims) -> pd.DataFrame:
    return concat_lines([result.lines, result.year_end, result.eliminations], dims)


def _write_outputs(od, book: Book, result: CloseResult, findings, read, period, blockers, staged=None, jobs=None,
                   progress=None, sts=None, sealer=None, seal_note: str = "", started_from: str = "",
                   store=None) -> list[str]:
    """Write every output workbook into ``od`` (and ``staged``, the period's ledger data
    files, under temporary names), then seal the data files (``sealer()`` returns the close
    seal, "" when nothing is sealed) and write close_status.xlsx and the manifest, which
    carry that seal.  What each workbook holds is decided here, in this process; the writing
    itself is shared out over ``jobs`` processes.  ``sts``: the statements (the close computes
    them with its checks, see :func:`_check`)."""
    _stage(progress, "Writing")
    dims = book.dims
    tasks: list[parallel.Task] = []

    def table(name: str, sheets: list[Sheet]) -> None:
        tasks.append(parallel.Task(name, sum(s.cells for s in sheets), lambda: write_workbook(od.path(name), sheets)))

    tb = outputs.trial_balance(book, result.balances, result.lines, period=result.period)
    sheets = [outputs.tb_sheet(book, tb)]
    cons = result.steps.get("consolidation")
    if cons is not None and "Consolidated" in cons.reports:
        sheets.append(outputs.consolidated_sheet(book, cons.reports["Consolidated"]))
    sheets.append(outputs.tb_totals(book, tb))
    table("adjusted_trial_balance.xlsx", sheets)
    lines = outputs.journal_lines(book, _all_lines(result, dims))
    tasks.append(parallel.Task("ledger_journal.xlsx", len(lines) * (18 + len(dims)),
                               lambda: write_ledger_journal(od.path("ledger_journal.xlsx"), book, lines)))
    if sts is None:
        group = statements.group_balances(result.steps.get("consolidation"))
        sts, _ = statements.build(book, result.period, result.balances, group=group, movement=result.lines,
                                  history=load_comparatives(read_root(read), book, result.period, store),
                                  flows=result.carry.get(statements.FLOWS))
    tasks.append(parallel.Task("statements.xlsx", 10_000, lambda: write_statements(
        od.path("statements.xlsx"), sts, period, group_name=_group_name(book))))
    for st in registry.STEPS:  # each step's schedules in its workbook
        step, fname = st.name, st.workbook
        r = result.steps.get(step)
        if r is None or not fname:
            continue
        reports = {k: v for k, v in r.reports.items() if not k.startswith("_")}
        if not reports:
            reports = {step.capitalize(): pd.DataFrame({"note": [f"Nothing to report for {step} in {period}."]})}
        if st.writer == "consolidation" and "Worksheet" in reports:
            cells = sum(len(v) * max(1, len(v.columns)) for v in reports.values())
            tasks.append(parallel.Task(fname, cells, lambda reports=reports, fname=fname: write_consolidation(
                od.path(fname), book, reports, period)))
            continue
        table(fname, [outputs.report_sheet(k, v, book, step) for k, v in reports.items()])
    if result.period.year_end and result.year_end is not None:
        ye = outputs.journal_lines(book, result.year_end)
        opening = concat_lines([result.balances.assign(journal="", line=0, date=result.period.end, journal_type="",
                                                       description="", source=""), result.year_end], dims)
        ob = outputs.trial_balance(book, opening[["entity", "account", *dims, "counterparty", "reference", "currency",
                                                  "amount", "amount_acct"]])
        table("year_end.xlsx", [Sheet("Closing", ye, outputs.journal_sheet(book, ye).columns),
                                outputs.tb_sheet(book, ob, "Opening")])
    tasks.append(parallel.Task("validation.xlsx", 10 * len(findings), lambda: outputs.write_validation(
        od.path("validation.xlsx"), findings, read.ignored, read.skipped)))
    if staged is not None:
        tasks.append(parallel.Task(f"ledger/{staged.final.name}", staged.cells, staged.write))
    parallel.run(tasks, jobs, _stage_progress(progress, "Writing"))
    sealed = sealer() if sealer is not None else ""
    ledger_seal = {"period": period, "seal": sealed, "started_from": started_from if sealed else "",
                   "note": seal_note if not sealed else "the seal of this close: its tables in ledger/ and, through "
                   "the seal it started from, every earlier close (closebatch verify BOOKS checks them)"}
    _write_status(od.path("close_status.xlsx"), book, result, blockers, ledger_seal,
                  _relative(read_root(read), od.final))
    written = sorted(p.name for p in od.tmp.iterdir())
    inputs = [(p.relative_to(read_root(read)).as_posix() if read_root(read) else p.name, p) for p in read.files]
    totals = {"lines": int(len(lines)), "debit_acct": money.fmt(int(lines["amount_acct"].clip(lower=0).sum()), 2)
              if len(lines) else "0.00"}
    outputs.write_manifest(od.path("manifest.json"), inputs, [od.path(n) for n in written], period,
                           {"lines": int(len(result.lines)), "findings": len(findings), "blockers": len(blockers)},
                           totals, ledger_seal)
    return written




def _relative(books: Path | None, out_dir: Path) -> str:
    """The books folder as seen from the output folder (``../..`` for ``BOOKS/out/P``), for
    links from an output to the input cell a finding names; "" when there is none."""
    if books is None:
        return ""
    try:
        return os.path.relpath(Path(books).resolve(), Path(out_dir).resolve())
    except ValueError:  # another drive
        return str(Path(books).resolve())


def read_root(read) -> Path | None:
    return getattr(read, "root", None)


def _group_name(book: Book) -> str:
    top = book.entities[book.entities["parent"].fillna("") == ""]
    return str(top["name"].iloc[0]) if len(top) else ""


def load_comparatives(books: Path | None, book: Book, per, store: Store | None = None) -> dict:
    """Snapshots (:class:`closebatch.statements.Snapshot`) of the closed periods the
    statements of ``per`` compare with, from ``ledger/``: the prior period and the one before
    it, the same period last year and the one before it (movements need the previous period's
    year to date), every earlier period of the fiscal year (the revenue and expense chart), and
    the last period of the previous fiscal year (the balances the year to date starts from);
    with each, the figures of the statements of movements its close carried.  Periods the
    ledger does not hold are left out."""
    if books is None:
        return {}
    names = list(book.periods["period"])
    fy = dict(zip(book.periods["period"], book.periods["fiscal_year"].astype(int)))
    i = names.index(per.name)
    this_year = [p for p in names[:i] if fy[p] == per.fiscal_year]
    last_year = [p for p in names if fy[p] == per.fiscal_year - 1]
    k = len(this_year)
    wanted = set(this_year) | set(names[max(0, i - 2):i])
    first = names.index(this_year[0]) if this_year else i
    if first > 0:
        wanted.add(names[first - 1])
    if k < len(last_year):
        j = names.index(last_year[k])
        wanted |= set(names[max(0, j - 1):j + 1])
    store = store or Store(books, book.entity_currency(), book.settings.group_currency)
    out = {}
    for p in [n for n in names[:i] if n in wanted]:
        ent, grp = store.period_balances(p)
        if ent is not None:
            out[p] = statements.Snapshot(p, ent, grp, store.sheet(p, f"carry_{statements.FLOWS}"))
    return out


def _write_status(path: Path, book: Book, result: CloseResult, blockers, ledger_seal: dict | None = None,
                  books_root: Path | None = None) -> None:
    """``close_status.xlsx``: the checklist as of the run's day, each step's outcome with its
    figures, the blockers (see :mod:`closebatch.io.status_writer`)."""
    lock_step = result.steps.get("lock")
    lf = lock_step.figures if lock_step is not None else {}
    today = pd.Timestamp(lf["as_of"]).date() if lf.get("as_of") else dt.date.today()
    lock = checklist.StepOutcome("lock", lf.get("outcome", ""), lf.get("status") == "On hold",
                                 figures=checklist.flatten_figures(
                                     "lock", {k: v for k, v in lf.items() if k not in ("outcome", "as_of", "state")},
                                     {}, "")) if lf else None
    outcomes = checklist.step_outcomes(book, result, lock)
    cl = checklist.build(book.tasks, result.period.name, result.period.end, today, outcomes,
                         checklist=book.checklist)
    ents = checklist.finding_entities(blockers, [book.journals, book.subledgers, book.tasks] +
                                      ([book.checklist] if book.checklist is not None else []))
    by_entity: dict = {}
    for e, b in zip(ents, blockers):
        if e:
            by_entity.setdefault(e, []).append(b.code)
    bframe = pd.DataFrame({"kind": [b.code for b in blockers], "entity": ents, "file": [b.file for b in blockers],
                           "sheet": [b.sheet for b in blockers], "cell": [b.cell for b in blockers],
                           "message": [b.message for b in blockers], "hint": [b.hint for b in blockers]},
                          columns=["kind", "entity", "file", "sheet", "cell", "message", "hint"])
    closed = {e.strip(): "yes" for e in str(lf.get("entities_closed", "")).split(",") if e.strip()}
    ent_table = checklist.entity_progress(cl.tasks, book.entities, closed, by_entity, cl.figures, outcomes,
                                          profit_for_year(book, result.balances), book.settings.group_currency or "")
    heading = {"period": result.period.name, "status": lf.get("status", "Open"), "lock": lf.get("state", ""),
               "seal": (ledger_seal or {}).get("seal") or (ledger_seal or {}).get("note", ""),
               "books": books_root}
    write_close_status(path, cl, bframe, ent_table, heading)


def profit_for_year(book: Book, balances: pd.DataFrame) -> dict:
    """Per entity, the profit for the fiscal year to date in accounting currency (minor units):
    the Revenue and Expense balances, credit (negative) being profit."""
    if balances is None or not len(balances):
        return {}
    kind = balances["account"].map(book.account_type())
    pl = balances[kind.isin(["Revenue", "Expense"]).to_numpy()]
    got = pl.groupby("entity", sort=True)["amount_acct"].sum()
    out = {str(e): -int(v) for e, v in got.items()}
    return {str(e): out.get(str(e), 0) for e in book.entities["entity"]}


def _stage_ledger(store: Store, book: Book, result: CloseResult):
    """The period's ledger workbook (:class:`closebatch.io.store.Staged`), to be written
    beside the outputs and renamed into place before them."""
    dims = book.dims
    key = ["entity", "account", *dims, "counterparty", "reference", "currency"]
    posted = result.posted_inputs
    cols = ["journal", "line", "date", "entity", "account", *dims, "currency", "amount", "amount_acct",
            "counterparty", "reference", "journal_type", "description", "source"]
    fp = posted[cols].assign(fingerprint=fingerprint(posted, dims).to_numpy()) if len(posted) else \
        pd.DataFrame(columns=cols + ["fingerprint"])
    frames = {"Balances": result.balances[key + ["amount", "amount_acct"]],
              # the given lines are in Posted (with their fingerprints): Lines holds what the close generated
              "Lines": result.lines.loc[~result.lines["journal_type"].isin(("daily", "adjustment")), line_columns(dims)],
              "Scheduled": result.scheduled[line_columns(dims)] if result.scheduled is not None else
              result.lines.iloc[0:0][line_columns(dims)],
              "Posted": fp}
    if result.year_end is not None and len(result.year_end):
        frames["YearEnd"] = result.year_end[line_columns(dims)]
    for name, df in result.carry.items():
        frames[f"carry_{name}"] = df
    return store.stage(result.period.name, frames)


def status(books: Path, today: dt.date | None = None, period: str | None = None) -> Outcome:
    """The calendar with each period's status and its history, and the close checklist of
    ``period`` (default: the next period to close) as of ``today`` (spec section 6)."""
    today = today or dt.date.today()
    read, book, findings = load(books)
    if book is None or not len(book.periods):
        return Outcome(EXIT_ERRORS, message="No usable Periods sheet in the books folder.", findings=findings)
    store = Store(books, book.entity_currency(), book.settings.group_currency)
    state = ledger_state(store, book)
    statuses, history = state.statuses, state.history
    closed_ents, _ = store.entity_closes()
    closed_here = state.closed_here()
    lines = [f"{'period':<10} {'start':<10} {'end':<10} {'status':<19} closed in ledger"]
    for _, r in book.periods.iterrows():  # one per period
        p = r["period"]
        ents = sorted(closed_ents.loc[closed_ents["period"] == p, "entity"]) if len(closed_ents) else []
        extra = f"   entities closed: {', '.join(ents)} of {len(book.entities)}" \
            if ents and statuses[p] == "Open" else ""
        stale = periods.stale(state.seals, p) if p in closed_here and statuses[p] == "Open" else None
        extra += "   stale: close it again" if stale else ""
        lines.append(f"{p:<10} {r['start']:%Y-%m-%d} {r['end']:%Y-%m-%d} {statuses[p]:<19} "
                     f"{'yes' if p in closed_here else '':<3}{extra}".rstrip())
    if len(history):
        lines.append("\nChanges (ledger/periods.xlsx, History):")
        h = history.tail(10)
        if len(history) > 10:
            lines.append(f"  ... {len(history) - 10} earlier change(s)")
        for _, r in h.iterrows():  # at most ten
            move = f"{r['from']} -> {r['to']}" if r["from"] != r["to"] else f"stays {r['to']}"
            lines.append(f"  {r['when']}  {r['period']:<8} {move:<28} by {r['user']}: {r['note']}")
    if state.version == 2:
        lines.append(f"\nLedger sealed; head {state.head}." if not state.breaks else
                     "\nThe ledger's seal is BROKEN: run closebatch verify BOOKS for the details.")
    elif state.version == 1:
        lines.append("\nThe ledger was written by an earlier version and is not sealed yet; the next close or period "
                     "command seals it.")
    nxt = next((p for p in book.periods["period"] if statuses[p] == "Open"), None)
    if nxt:
        lines.append(f"\nNext period to close: {nxt}")
    if period is not None and period not in statuses:
        return Outcome(EXIT_ERRORS, message=f"Period {period} is not in the Periods sheet.")
    shown = period or nxt
    if len(book.tasks) and shown:
        per = period_of(book, shown)
        cl = checklist.build(book.tasks, shown, per.end, today, checklist=book.checklist,
                             closed=statuses[shown] != "Open")
        lines += _checklist_lines(cl)
    errs = [f for f in findings if f.is_error]
    if errs:
        lines.append(f"\nThe books have {len(errs)} error(s): run closebatch validate for the list.")
    blocking = state.blocking()
    if blocking:
        return Outcome(EXIT_ERRORS, message="\n".join(lines), findings=blocking)
    return Outcome(EXIT_OK, message="\n".join(lines))


def change_period(books: Path, period: str, action: str, user: str | None = None,
                  now: dt.datetime | None = None) -> Outcome:
    """Change a period's status under the rules of spec section 4 (see
    :func:`closebatch.periods.plan_change`); on an Open period ``open`` forgets the entities
    closed with ``close --entity``.  Every change is sealed with its History row in
    ``ledger/periods.xlsx``.  Reopening a period whose seal is broken is allowed (unless it
    is Permanently closed): closing it again from the inputs seals it anew."""
    books = Path(books)
    user = run_user(user)
    now = now or dt.datetime.now()
    with BooksLock(books):
        read, book, findings = load(books)
        if book is None or not len(book.periods):
            return _refuse("No usable Periods sheet in the books folder.", findings)
        store = Store(books, book.entity_currency(), book.settings.group_currency)
        state = ledger_state(store, book, writable=True, now=now)
        statuses, history = state.statuses, state.history
        if period not in statuses:
            return _refuse(f"Period {period} is not in the Periods sheet.")
        new = ACTIONS[action]
        blocking = state.blocking(period, own=new == "Open", cascade=new == "Open")
        if blocking:
            return _seal_refusal(state, blocking, period)
        per = period_of(book, period)
        denied = periods.access(book.users, book.periods.iloc[per.index], user)
        order = list(book.periods["period"])
        hold_why, hold_findings = None, []
        if statuses[period] == "Open" and new != "Open" and not denied:
            changed = _closed_period_lines(book, state, pretend=(period,), only=period)
            hold_why, hold_findings = periods.hold_refusal(period, period in state.closed_here(), history,
                                                           periods.stale(state.seals, period), changed)
        resolving = [b.finding.message for b in state.breaks if b.period and (b.period == period or (
            b.period in order and order.index(b.period) > order.index(period)))]
        note = f"closebatch period {action}" + (f" (after the seal broke: {resolving[0]})" if resolving else "")
        decision = periods.plan_change(order, statuses, period, action, user, denied=denied, hold_refusal=hold_why,
                                       hold_findings=hold_findings, note=note)
        if decision.refusal:
            return _refuse(decision.refusal, decision.findings)
        ents = _entities_closed(store, period)
        if not decision.changes:
            if new == "Open" and ents:
                staged = _entity_closes_after(store, book, period, None, user, None, now)
                row = periods.history_row(period, "Open", "Open", user, now, "closebatch period open: entities "
                                          f"{', '.join(sorted(ents))} reopened", entities=",".join(sorted(ents)))
                _commit(state, book, statuses, periods.add_history(history, [row]), staged=[staged],
                        entities=True, touched=[period])
                return Outcome(EXIT_OK, message=f"Period {period}: entities {', '.join(sorted(ents))} reopened; the "
                               f"period stays Open (by {user}).")
            return Outcome(EXIT_OK, message=decision.message)
        statuses = dict(statuses)
        rows = []
        for c in decision.changes:
            statuses[c.period] = c.new
            rows.append(periods.history_row(c.period, c.old, c.new, user, now, c.note, event=c.event))
        staged = _entity_closes_after(store, book, period, None, user, None, now) if ents else None
        _commit(state, book, statuses, periods.add_history(history, rows), staged=[staged],
                entities=bool(ents), touched=[c.period for c in decision.changes])
        head = store.ledger(refresh=True).head
        return Outcome(EXIT_OK, message=decision.message + f" Ledger sealed; head {head}.")


def verify(books: Path) -> Outcome:
    """Check the sealed ledger's chain and each output folder ``BOOKS/out/PERIOD/`` against its
    ``manifest.json`` (spec section 6): exit 0 when intact, 1 naming what changed."""
    books = Path(books)
    store = Store(books)
    led = store.ledger()
    lines, findings = [], list(b.finding for b in led.breaks)
    if led.version == 0 and not led.breaks:
        lines.append("ledger/: nothing closed yet.")
    elif led.version == 1:
        findings.append(Finding("error", "ledger/ was written by an earlier version of closebatch and is not sealed "
                                "yet, so it cannot be verified.", hint="Run any closebatch close or period command "
                                "once: it seals the ledger as it stands.", file="ledger/periods.xlsx",
                                code="ledger-unsealed"))
    elif led.version == 2:
        seals = led.seals
        lines.append(f"ledger/: {len(seals)} period(s) in the seal; "
                     + ("chain intact." if not led.breaks else f"the chain is BROKEN ({len(led.breaks)} problem(s))."))
        for r in seals.to_dict("records"):
            closed = f"close seal {r['close_seal']}" if r["close_seal"] else "not closed by closebatch"
            stale = periods.stale(seals, r["period"])
            lines.append(f"  {r['period']:<10} {r['start']} to {r['end']}  {r['status']:<19} {closed}"
                         + ("  (stale: it must be closed again)" if stale else ""))
        lines.append(f"  head {led.head}")
        if led.pending:
            lines.append(f"  {len(led.pending)} file(s) of the last commit wait under their pending names; the next "
                         "close or period command moves them into place.")
    out_lines, out_findings = _verify_outputs(books, led)
    return Outcome(EXIT_ERRORS if findings or out_findings else EXIT_OK, message="\n".join(lines + out_lines),
                   findings=findings + out_findings)


def _verify_outputs(books: Path, led) -> tuple[list, list]:
    """Each ``out/PERIOD/`` with a manifest: every output it lists, compared by SHA-256."""
    import json

    lines, findings = [], []
    out = books / "out"
    folders = sorted(p for p in out.iterdir() if p.is_dir() and (p / "manifest.json").exists()) \
        if out.is_dir() else []
    closes = dict(zip(led.seals["period"], led.seals["close_seal"])) if led.version == 2 else {}
    for folder in folders:
        rel = f"out/{folder.name}"
        try:
            man = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
            listed = [(str(o["file"]), str(o["sha256"])) for o in man.get("outputs", [])]
        except (ValueError, KeyError, TypeError, OSError) as e:
            findings.append(Finding("error", f"{rel}/manifest.json cannot be read ({type(e).__name__}).",
                                    hint="Close the period again to write its outputs anew.", file=f"{rel}/manifest.json",
                                    code="output-changed"))
            continue
        bad = 0
        for name, sha in listed:
            path = folder / name
            if "/" in name or "\\" in name or name.startswith("."):
                continue
            if not path.exists():
                bad += 1
                findings.append(Finding("error", f"{rel}/{name} is missing (listed in its manifest.json).",
                                        hint="Close the period again, or restore the file from a backup.",
                                        file=f"{rel}/{name}", code="output-missing"))
            elif outputs.sha256(path) != sha:
                bad += 1
                findings.append(Finding("error", f"{rel}/{name} changed since the close wrote it (its SHA-256 is not "
                                        "the one in manifest.json).", hint="Close the period again, or restore the "
                                        "file from a backup.", file=f"{rel}/{name}", code="output-changed"))
        sealed = (man.get("ledger_seal") or {}).get("seal", "") if isinstance(man.get("ledger_seal"), dict) else ""
        note = ""
        if sealed and closes.get(str(man.get("period", ""))) not in (None, sealed):
            note = (f"; written by an earlier close of {man.get('period')} (seal {sealed[:12]}), the ledger holds a "
                    f"later one ({closes[str(man.get('period'))][:12]})")
        lines.append(f"{rel}: {len(listed) - bad} of {len(listed)} file(s) as in manifest.json{note}.")
    return lines, findings


def _checklist_lines(cl) -> list[str]:
    s = cl.summary
    out = [f"\nClose checklist of {cl.period} as of {cl.today:%Y-%m-%d} (period end {cl.period_end:%Y-%m-%d}): "
           f"{s['done']} done, {s['remaining']} remaining, {s['overdue']} overdue, {s['blocked']} blocked "
           f"(of {s['total']})",
           "  (automated tasks count as done when closebatch close runs their step without errors"
           + ("; statuses and sign-offs from the Checklist)" if cl.v11 else "; statuses from the Tasks sheet)")]
    for title, df, key in (("by area", cl.by_area, "area"), ("by owner", cl.by_owner, "owner")):
        if len(df):
            out.append(f"  {title}: " + ", ".join(f"{r[key]} {r['done']}/{r['tasks']}" for _, r in df.iterrows()))
    for _, r in cl.tasks.iterrows():  # one per task
        flags = []
        if r["overdue"]:
            flags.append(f"OVERDUE {r['days_overdue']} working day(s)")
        if r["blocked"]:
            flags.append(f"BLOCKED by {r['blocked_by']}")
        auto = f" [step {r['step']}]" if r["step"] else ""
        signed = []
        if r["prepared_by"]:
            signed.append(f"prepared by {r['prepared_by']}" + (f" on {r['prepared_on']:%Y-%m-%d}"
                                                                if pd.notna(r["prepared_on"]) else ""))
        if r["reviewed_by"]:
            signed.append(f"reviewed by {r['reviewed_by']}" + (f" on {r['reviewed_on']:%Y-%m-%d}"
                                                                if pd.notna(r["reviewed_on"]) else ""))
        out.append(f"  [{'x' if r['done'] else ' '}] {r['task']:<8} {r['name'][:40]:<40} {r['owner'][:14]:<14} "
                   f"due {r['due_date']:%Y-%m-%d}  {r['status']}{auto}" + (f"  {'; '.join(flags)}" if flags else "")
                   + (f"  ({', '.join(signed)})" if signed else ""))
    return out


def checklist_workbook(books: Path, period: str | None = None) -> Outcome:
    """Write ``Checklist PERIOD.xlsx`` into the books folder: the ``Checklist`` rows of
    ``period`` (default: the next period to close) ready to fill in, one per task a person
    signs (see :func:`closebatch.io.checklist_writer.write_checklist`).  A new file: one that
    exists is never overwritten (exit 1)."""
    from .io.checklist_writer import checklist_rows, write_checklist

    books = Path(books)
    missing = _missing_books(books)
    if missing:
        return missing
    read, book, findings = load(books)
    if book is None or not len(book.periods):
        return Outcome(EXIT_ERRORS, message="No usable Periods sheet in the books folder.", findings=findings)
    if not len(book.tasks):
        return Outcome(EXIT_ERRORS, message="The books have no Tasks sheet (the recurring close checklist): add one "
                       "first (closebatch init makes a blank template).", findings=findings)
    store = Store(books, book.entity_currency(), book.settings.group_currency)
    statuses = ledger_state(store, book).statuses
    if period is None:
        period = next((p for p in book.periods["period"] if statuses.get(p) == "Open"), None)
        if period is None:
            return Outcome(EXIT_ERRORS, message="Every period of the calendar is closed; give --period.")
    if period not in statuses:
        return Outcome(EXIT_ERRORS, message=f"Period {period} is not in the Periods sheet.")
    from .validate import safe_period_code

    if not safe_period_code(period):
        return Outcome(EXIT_ERRORS, message=f"Period code {period!r} is not a name; it cannot name a file.")
    path = books / f"Checklist {period}.xlsx"
    if path.exists():
        return Outcome(EXIT_ERRORS, message=f"{path.name} exists already in the books folder; it is never overwritten. "
                       "Fill in that one, or move it away to write a new one.")
    per = period_of(book, period)
    rows = checklist_rows(book, period, per.end)
    write_checklist(path, rows, period, book.users["user"].tolist() if len(book.users) else ())
    return Outcome(EXIT_OK, written=[path], period=period,
                   message=f"Wrote {path} ({len(rows)} task(s) to sign for {period}). Mark each task Done with who "
                           "prepared it and when; a task marked review needs a second person's reviewed_by and "
                           "reviewed_on. The next close and closebatch status read it.")


def init_books(folder: Path) -> Outcome:
    """A new books folder made from the blank templates."""
    from .io.templates import write_templates

    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        return Outcome(EXIT_USAGE, message=f"{folder} is not empty; give a new folder for the books.")
    folder.mkdir(parents=True, exist_ok=True)
    paths = write_templates(folder)
    return Outcome(EXIT_OK, message=f"Created {len(paths)} blank workbooks in {folder}. Fill them in, then run "
                   f"closebatch validate {folder}.")

