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
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import checklist, money
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
from .io.store import Store, fingerprint
from .io.writer import Sheet, write_workbook
from .validate import load_book

EXIT_OK, EXIT_ERRORS, EXIT_USAGE, EXIT_BLOCKED = 0, 1, 2, 3
CLOSED = ("On hold", "Permanently closed")


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


def load(books: Path, exclude=(), progress=None, jobs=None):
    """Read and validate a books folder.  ``progress(stage, done, total, name)``, if given,
    hears about long stages (see :func:`_stage_progress`)."""
    _system_allocator()
    read = read_books(Path(books), exclude=exclude, progress=_stage_progress(progress, "Reading workbooks"),
                      jobs=parallel.default_jobs() if jobs is None else jobs)
    _stage(progress, "Validating")
    book, findings = load_book(read)
    return read, book, findings


def effective_statuses(book: Book, store: Store) -> tuple[dict, pd.DataFrame]:
    """Each period's status: the ledger's record where there is one, else the Periods sheet;
    Permanently closed in either is final."""
    persisted, history = store.statuses()
    out = {}
    for _, r in book.periods.iterrows():  # one per period
        p, sheet_status = r["period"], r["status"] or "Open"
        st = persisted.get(p, sheet_status)
        if "Permanently closed" in (sheet_status, persisted.get(p)):
            st = "Permanently closed"
        out[p] = st
    return out, history


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


def _closed_period_lines(book: Book, statuses: dict, store: Store, period: str, pretend=(),
                         only: str | None = None) -> list[Finding]:
    """Lines dated in a closed scope are refused unless that close posted exactly them (spec
    section 4); a line a close posted that comes back changed is refused wherever it is dated.

    A closed scope is a period that is not Open and that closebatch closed (``ledger/`` has its
    workbook, or its History shows it leaving Open), or an entity closed with ``close
    --entity`` in a period still Open.  A period closed outside closebatch has no record of
    its lines: they are taken as they are, as the ledger the next close starts from.
    ``pretend`` treats Open periods as closed and ``only`` keeps the findings about one
    period (the checks of ``closebatch period P hold``).
    A line is *changed* when a close posted a line with the same journal, line and entity
    (dated in that closed scope, or from the same workbook) with a different fingerprint;
    any other line dated in a closed scope is *new*.  Lines of a closed scope no longer in
    the folder are fine: the ledger keeps them."""
    j = book.journals
    if not len(j):
        return []
    dims = list(book.dims)
    scopes = _closed_scopes(book, statuses, store, pretend)
    if not scopes["periods"] and not scopes["entities"]:
        return []
    posted = scopes["posted"]
    pers = book.periods
    idx = np.searchsorted(pers["start"].to_numpy(), j["date"].to_numpy(), side="right") - 1
    per_of = np.where(idx >= 0, pers["period"].to_numpy()[np.clip(idx, 0, len(pers) - 1)], "")
    ent = j["entity"].to_numpy()
    closed_p, closed_e = scopes["periods"], scopes["entities"]
    in_scope = pd.Series(per_of).isin(closed_p).to_numpy().copy()
    if closed_e:
        in_scope |= pd.MultiIndex.from_arrays([per_of, ent]).isin(list(closed_e))
    fp = fingerprint(j, dims).to_numpy()
    known = pd.MultiIndex.from_arrays([per_of, fp]).isin(list(zip(posted["period"], posted["fingerprint"]))) \
        if len(posted) else np.zeros(len(j), dtype=bool)
    flagged = in_scope & ~known
    if only is not None:
        flagged &= per_of == only
    # lines a close posted that now sit outside any closed scope (e.g. their date was changed)
    if len(posted) and (~in_scope).any():
        here = pd.DataFrame({"journal": j["journal"].to_numpy(), "line": j["line"].to_numpy(), "entity": ent,
                             "_file": j["_file"].to_numpy(), "_fp": fp, "_pos": np.arange(len(j))})[~in_scope]
        hit = here.merge(posted[["journal", "line", "entity", "_file", "fingerprint", "period"]],
                         on=["journal", "line", "entity", "_file"])
        hit = hit[(hit["_fp"] != hit["fingerprint"]) & ((hit["period"] == only) if only is not None else True)]
        moved = hit["_pos"].to_numpy()
        flagged[moved] = True
    out = []
    for i in np.flatnonzero(flagged):  # only the refused lines
        r = j.iloc[i]
        key = (posted["journal"] == r["journal"]) & (posted["line"] == r["line"]) & (posted["entity"] == r["entity"]) \
            if len(posted) else pd.Series([], dtype=bool)
        cands = posted[key] if len(posted) else posted
        before = cands[cands["period"] == per_of[i]]
        if not len(before):
            before = cands[cands["_file"] == r["_file"]]
        if len(before):
            out.append(_changed_line(book, r, before.iloc[0], scopes["label"]))
        else:
            p = per_of[i]
            label = scopes["label"].get((p, r["entity"])) or scopes["label"].get(p, p)
            out.append(book.finding(r, "date", f"Journal {r['journal']} line {r['line']} ({r['entity']}) is a new line "
                                    f"dated {r['date']:%Y-%m-%d}, in {label}; that close did not post it.",
                                    hint=f"Date the line in an open period, or reopen {p} first (closebatch period "
                                         f"BOOKS {p} open) if that is allowed.", code="closed-period"))
    return out


def _closed_scopes(book: Book, statuses: dict, store: Store, pretend=()) -> dict:
    """The closed periods and entities whose lines are known, with what their closes posted."""
    frames, periods, entities, label = [], set(), set(), {}
    _, history = store.statuses()
    locked = history[(history["from"].astype(str) == "Open") & (history["to"].astype(str) != "Open")] \
        if len(history) and "from" in history else history
    recorded = set(locked["period"].astype(str)) if len(locked) else set()  # closed by closebatch once
    for p in book.periods["period"]:
        st = statuses.get(p, "Open")
        if st == "Open" and p not in pretend:
            continue
        if not store.has(p) and p not in recorded:
            continue  # closed outside closebatch: its lines are the ledger we start from
        periods.add(p)
        label[p] = f"{p}, which is {st}" if st != "Open" else f"{p} as its last close posted it"
        got = store.posted(p)
        if got is not None and len(got):
            frames.append(got.assign(period=p))
    closed, posted = store.entity_closes()
    if len(closed):
        for p, e in zip(closed["period"], closed["entity"]):
            if statuses.get(p) == "Open" and p not in periods:
                entities.add((p, e))
                label[(p, e)] = f"{p}, for which entity {e} was closed (the period itself is still Open)"
        keep = [(p, e) in entities for p, e in zip(posted["period"], posted["entity"])] if len(posted) else []
        if len(posted) and any(keep):
            frames.append(posted[np.array(keep, dtype=bool)])
    cols = ["period", "journal", "line", "date", "entity", "account", *book.dims, "currency", "amount",
            "amount_acct", "source", "fingerprint"]
    if frames:
        allp = pd.concat([f.reindex(columns=cols) for f in frames], ignore_index=True)
        allp["line"] = pd.to_numeric(allp["line"], errors="coerce").fillna(0).astype("int64")
        allp["_file"] = allp["source"].fillna("").astype(str).str.rsplit("!", n=2).str[0]
    else:
        allp = pd.DataFrame(columns=cols + ["_file"])
    return {"periods": periods, "entities": entities, "posted": allp, "label": label}


def _changed_line(book: Book, r, before, labels: dict) -> Finding:
    """A line a close posted that comes back different: name what changed, at its cell."""
    ent_ccy = book.entity_currency()
    acct_ccy = ent_ccy.get(r["entity"], "")
    diffs, first = [], None

    def amt(v, ccy):
        return f"{money.fmt(int(v), money.scale_of(ccy))} {ccy}".strip()

    checks = [("date", lambda v: f"{pd.Timestamp(v):%Y-%m-%d}"), ("account", str),
              *[(d, lambda v: str(v) or "(blank)") for d in book.dims], ("currency", str)]
    for col, show in checks:
        old, new = before.get(col), r[col]
        if col == "date":
            same = pd.Timestamp(old) == pd.Timestamp(new) if not pd.isna(old) else False
        else:
            same = str("" if old is None or (isinstance(old, float) and pd.isna(old)) else old) == str(new)
        if not same:
            diffs.append(f"{col} {show(old)} → {show(new)}")
            first = first or col
    if int(before["amount"]) != int(r["amount"]) or str(before["currency"]) != str(r["currency"]):
        diffs.append(f"amount {amt(before['amount'], before['currency'])} → {amt(r['amount'], r['currency'])}")
        first = first or ("debit" if int(r["amount"]) > 0 else "credit")
    if int(before["amount_acct"]) != int(r["amount_acct"]):
        diffs.append(f"amount_acct {amt(before['amount_acct'], acct_ccy)} → {amt(r['amount_acct'], acct_ccy)}")
        first = first or ("amount_acct" if bool(r.get("given_acct", False)) else
                          ("debit" if int(r["amount"]) > 0 else "credit"))
    p = before["period"]
    label = labels.get((p, r["entity"])) or labels.get(p, p)
    what = "; ".join(diffs) or "a detail of the line"
    return book.finding(r, first or "date", f"Journal {r['journal']} line {r['line']} ({r['entity']}) changed since "
                        f"the close of {label}: {what}. The closed ledger keeps it as it was posted "
                        f"(from {before['source']}).",
                        hint=f"Put the line back as it was when {p} was closed and post the correction as a new "
                             f"journal in an open period, or reopen {p} first (closebatch period BOOKS {p} open) if "
                             "that is allowed.", code="changed-after-close")


def _members(book: Book, group: str) -> set[str]:
    """The users of a group (Users sheet), compared without case and surrounding spaces."""
    users = book.users
    if not len(users):
        return set()
    return {str(u).strip().casefold() for u, g in zip(users["user"], users["group"])
            if str(g).strip().casefold() == group.strip().casefold()}


def _access(book: Book, period_row, user: str) -> str | None:
    """Why ``user`` may not close, reopen or post into the period (None when they may)."""
    group = str(period_row.get("access_group", "") or "").strip()
    if not group:
        return None
    if str(user).strip().casefold() not in _members(book, group):
        return (f"period {period_row['period']} may be closed, reopened and posted into only by members of "
                f"{group!r} (Users sheet), and {user!r} is not one")
    return None


def close_books(books: Path, period: str | None = None, out: Path | None = None, entities=(), no_lock=False,
                dry_run=False, user: str | None = None, progress=None, today: dt.date | None = None,
                jobs: int | None = None) -> Outcome:
    """Close ``period`` of the books folder (spec section 3).  ``jobs``: processes that read
    and write workbooks side by side (default: one per CPU core; 1 for none)."""
    books = Path(books)
    missing = _missing_books(books) or _out_refusal(books, out)
    if missing:
        return missing
    user = run_user(user)
    today = today or dt.date.today()
    with BooksLock(books):
        return _close(books, period, out, tuple(entities), no_lock, dry_run, user, progress, today, jobs)


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

    @property
    def stopped(self) -> bool:
        """Errors that stop the close before it writes anything but validation.xlsx."""
        return any(f.is_error for f in self.reported)


def _check(books: Path, period, out_root, entities, user, progress, today, jobs, closing: bool) -> Checked:
    """Everything the close of ``period`` checks before it writes, for ``close`` and ``validate``
    alike: the books read and validated, the period chosen and its control (refusals), lines
    dated in closed periods, and the close's steps run (pure: nothing is written) so that their
    own checks (rates, historical rates, allocation and elimination rules, statements) are
    found in the same pass.  While the books have errors the steps run on the part that passed
    (:func:`closebatch.validate.usable`).  One problem gives one finding: a step's finding at a
    cell validation already named is dropped, and so are the checks of the whole
    (:data:`CONSEQUENTIAL`: the statements do not balance) while an error of the books or of
    another step stands (beside an error in the statements' own definitions they say by how
    much)."""
    from .money import AmountOverflow
    from .validate import usable

    read, book, findings = load(books, exclude=(out_root,) if out_root else (), progress=progress, jobs=jobs)
    chk = Checked(read, book, list(findings), list(findings))
    if book is None or not len(book.periods):
        chk.note = "There is no usable Periods sheet, so the close of a period could not be checked further."
        return chk
    store = Store(books, book.entity_currency(), book.settings.group_currency)
    statuses, history = effective_statuses(book, store)
    chk.store, chk.statuses, chk.history = store, statuses, history
    if period is None:
        period = next((p for p in book.periods["period"] if statuses.get(p) == "Open"), None)
        if period is None:
            if closing:
                chk.refusal = _refuse("Every period of the calendar is closed; there is nothing to close.", findings)
            else:
                chk.note = "Every period of the calendar is closed, so only the books themselves were checked."
            return chk
    if period not in statuses:
        chk.refusal = _refuse(f"Period {period} is not in the Periods sheet.", findings)
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
        denied = _access(book, book.periods.iloc[per.index], user)
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
    findings = findings + _closed_period_lines(book, statuses, store, period)
    findings += _prepared_by(book, per, statuses)
    had_errors = any(f.is_error for f in findings)
    chk.findings, chk.reported = list(findings), list(findings)
    if any(f.code == "period-code" for f in findings):
        chk.note = "The close's own checks were not run: a period code is not a name (see above)."
        return chk
    prev = book.periods["period"].iloc[per.index - 1] if per.index > 0 else None
    hist = History()
    if prev is not None and store.has(prev):
        hist.previous = store.load(prev)
    hist.scheduled = _scheduled(book, store, per)
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
    chk.statements, st_findings = statements.build(book, per, result.balances, group=group, movement=result.lines,
                                                   history=load_comparatives(books, book, per),
                                                   flows=result.carry.get(statements.FLOWS))
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


def _close(books, period, out, entities, no_lock, dry_run, user, progress, today=None, jobs=None) -> Outcome:
    today = today or dt.date.today()
    out_root = Path(out) if out else None
    try:
        chk = _check(books, period, out_root, entities, user, progress, today, jobs, closing=True)
    except BaseException as e:
        e.closebatch_persisted = "Nothing was written: the close had not begun to write."
        raise
    if chk.refusal is not None:
        return chk.refusal
    latest = books / "out"  # the books' latest validation report, unless the outputs go elsewhere
    if chk.period is None:
        return _validation_only([out_root or latest], chk.reported, chk.read, "", progress)
    period, book, store, result = chk.period, chk.book, chk.store, chk.result
    out_dir = out_root or period_dir(books, period)
    if chk.stopped or result is None:
        dirs = [d for d in (out_dir, None if out_root else latest) if d is not None]
        return _validation_only(dirs, chk.reported, chk.read, period, progress)
    statuses, history, run_entities, closed_before = chk.statuses, chk.history, chk.run_entities, chk.closed_before
    completing = chk.completing
    findings = chk.findings + chk.late  # the period stays Open and validation.xlsx names the late ones
    blockers = chk.blockers + chk.late
    all_entities = list(book.entities["entity"])
    lock = completing and not no_lock and not blockers and not dry_run
    record_entities = not completing and not no_lock and not blockers and not dry_run
    now_closed = sorted(set(closed_before) | set(run_entities)) if record_entities else sorted(closed_before)
    if lock:
        state, status_after = "put On hold", "On hold"
    else:
        status_after = "Open"
        state = "left Open"
        if record_entities:
            rest = [e for e in all_entities if e not in now_closed]
            state += f": entities {', '.join(run_entities)} are closed; still to close: {', '.join(rest)}"
        elif not completing and not dry_run and not no_lock:
            state += f": entities {', '.join(run_entities)} were not closed because of the blockers"
    result.steps["lock"] = StepResult(lines=empty_lines(book.dims), figures={
        "status": status_after, "as_of": f"{today:%Y-%m-%d}", "blockers": len(blockers),
        "entities_closed": ", ".join(all_entities if lock else now_closed),
        "outcome": "dry run" if dry_run else ("--no-lock" if no_lock else ("On hold" if lock else "left Open")),
        "state": ("dry run, nothing persisted: " if dry_run else "") + state + (f" ({len(blockers)} blocker(s))"
                                                                              if blockers else "")})
    # Crash safety: the period's ledger data first (alone it is what a --no-lock close leaves),
    # then the outputs, and last the decision (On hold, or the entities closed), so a run
    # killed at any point leaves the period Open and a rerun finishes the close.
    # The outputs and the period's ledger workbook are written side by side (in parallel
    # with ``jobs`` > 1) under temporary names; then the ledger workbook is renamed into place,
    # then the outputs.  What was persisted when something fails is said in the message.
    saved = Persisted(books, out_dir, period, dry_run)
    try:
        od = outputs.OutputDir(out_dir)
        saved.outputs = od
        _stage(progress, "Preparing the ledger record")
        staged = _stage_ledger(store, book, result) if not dry_run and completing else None
        try:
            _write_outputs(od, book, result, findings, chk.read, period, blockers, staged, jobs, progress,
                           chk.statements)
            _stage(progress, "Saving")
            if staged is not None:
                staged.commit()
                saved.ledger = True
            written = od.commit(order=["manifest.json"])
        except BaseException:
            od.discard()
            raise
        finally:
            if staged is not None:
                staged.discard()
        if out_root is None:
            outputs.copy_into(out_dir / "validation.xlsx", latest)
        if not dry_run:
            if completing and lock:
                set_status(store, statuses, history, period, "On hold", user, "closed by closebatch close")
                saved.decided = True
                if closed_before:
                    _save_entities_closed(store, book, period, None, user, None)
            elif record_entities:
                _save_entities_closed(store, book, period, run_entities, user, result)
                saved.decided = True
        if not dry_run and not lock:
            what = (f"entities {', '.join(run_entities)} closed" if record_entities else
                    f"left Open with {len(blockers)} blocker(s)" if blockers else "left Open (--no-lock)")
            _record(store, book, period, user,
                    f"closebatch close{' --entity ' + ','.join(run_entities) if run_entities else ''}: {what}",
                    event="close", blockers=len(blockers), entities=",".join(run_entities))
            saved.decided = True
    except BaseException as e:
        e.closebatch_persisted = saved.describe()  # the CLI says what was and was not persisted
        raise
    code = EXIT_BLOCKED if blockers else EXIT_OK
    msg = f"Closed {period}{' (dry run: nothing persisted)' if dry_run else ''}"
    if run_entities:
        msg += f" for {', '.join(run_entities)}"
    elif entities:
        msg += f" for every entity ({', '.join(sorted(set(closed_before) - set(entities)))} closed earlier)"
    msg += f"; the period is {state}."
    return Outcome(code, message=msg, findings=findings, blockers=blockers, out_dir=out_dir, written=written,
                   period=period, summary=_summary(result))


@dataclass
class Persisted:
    """What a close has persisted so far, for the message when something stops it (a full disk,
    a permission, an interruption): the period's ledger workbook, the outputs (renamed into
    place one by one) and the decision (the period's status, or the history of the close)."""

    books: Path
    out_dir: Path
    period: str
    dry_run: bool = False
    ledger: bool = False
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
        ledger = f"ledger/{self.period}.xlsx"
        if not self.ledger and not moved:
            return (f"Nothing was persisted: ledger/ and the outputs in {out} are as they were, and {self.period} is "
                    "still Open.")
        if not self.decided:
            done = [f"the period's ledger workbook ({ledger})"] if self.ledger else []
            if moved:
                done.append(f"{_names(moved)} in {out}" + ("" if getattr(self.outputs, "done", False) else
                                                             " (the other outputs there are as they were)"))
            return (f"Persisted: {' and '.join(done)}; {self.period} is still Open, as nothing decided it: run the "
                    "close again to finish.")
        return (f"Everything was persisted: the outputs in {out}, the ledger ({ledger}) and the period's status; "
                "only what came after failed.")


def _names(names: list) -> str:
    return ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")


def _entities_closed(store: Store, period: str) -> dict:
    """Entities closed with ``close --entity`` for ``period``: entity -> "by USER at WHEN"."""
    closed, _ = store.entity_closes()
    if not len(closed):
        return {}
    c = closed[closed["period"] == period]
    return {e: f"by {u} at {w}" for e, u, w in zip(c["entity"], c["user"], c["when"])}


def _save_entities_closed(store: Store, book: Book, period: str, entities, user: str, result) -> None:
    """Record ``entities`` as closed for ``period`` with the fingerprints of the lines their
    close consumed; with ``entities`` None, forget the period's entity closes."""
    closed, posted = store.entity_closes()
    keep_c = closed["period"] != period if entities is None else \
        ~((closed["period"] == period) & closed["entity"].isin(list(entities)))
    keep_p = posted["period"] != period if entities is None else \
        ~((posted["period"] == period) & posted["entity"].isin(list(entities)))
    closed, posted = closed[keep_c.to_numpy(dtype=bool)], posted[keep_p.to_numpy(dtype=bool)]
    if entities is not None:
        when = dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
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
    store.write_entity_closes(closed.reset_index(drop=True), posted.reset_index(drop=True))


def _prepared_by(book: Book, per, statuses) -> list[Finding]:
    """Lines posted into a period with an access group must be prepared by its members; a
    line with no ``prepared_by`` counts as prepared by the run's user, whom the close has
    already checked."""
    group = str(book.periods.iloc[per.index].get("access_group", "") or "").strip()
    j = book.journals
    if not group or not len(j) or "prepared_by" not in j:
        return []
    members = _members(book, group)
    inside = ((j["date"] >= per.start) & (j["date"] <= per.end)).to_numpy()
    who = j["prepared_by"].fillna("").astype(str).str.strip()
    bad = inside & (who != "").to_numpy() & ~who.str.casefold().isin(members).to_numpy()
    return [book.finding(r, "prepared_by", f"Journal {r['journal']} line {r['line']} was prepared by "
                         f"{r['prepared_by']}, who is not a member of {group!r}, the only group that may post into "
                         f"{per.name}.", hint="Have a member of the group prepare the line, or add the user to the "
                         "group in the Users sheet.", code="access-group") for _, r in j[bad].iterrows()]


def _task_blockers(book: Book, result: CloseResult, today=None, entities=None) -> list[Finding]:
    """Required checklist tasks that are not done block the lock (the lock task itself aside).
    With ``entities`` (a close of some entities) only tasks of those entities count."""
    if not len(book.tasks):
        return []
    cl = checklist.build(book.tasks, result.period.name, result.period.end, today or dt.date.today(),
                         checklist.step_outcomes(book, result))
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
                   progress=None, sts=None) -> list[str]:
    """Write every output workbook into ``od`` (and ``staged``, the period's ledger workbook,
    under its temporary name), then the manifest.  What each workbook holds is decided here,
    in this process; the writing itself is shared out over ``jobs`` processes."""
    _stage(progress, "Writing")
    dims = book.dims
    tasks: list[parallel.Task] = []

    def table(name: str, sheets: list[Sheet]) -> None:
        tasks.append(parallel.Task(name, sum(s.cells for s in sheets), lambda: write_workbook(od.path(name), sheets)))

    tb = outputs.trial_balance(book, result.balances, result.lines)
    sheets = [outputs.tb_sheet(book, tb)]
    cons = result.steps.get("consolidation")
    if cons is not None and "Consolidated" in cons.reports:
        sheets.append(outputs.report_sheet("Consolidated", cons.reports["Consolidated"], book))
    table("adjusted_trial_balance.xlsx", sheets)
    lines = outputs.journal_lines(book, _all_lines(result, dims))
    tasks.append(parallel.Task("ledger_journal.xlsx", len(lines) * (18 + len(dims)),
                               lambda: write_ledger_journal(od.path("ledger_journal.xlsx"), book, lines)))
    if sts is None:  # (the close computes them with its checks: see _check)
        group = statements.group_balances(result.steps.get("consolidation"))
        sts, _ = statements.build(book, result.period, result.balances, group=group, movement=result.lines,
                                  history=load_comparatives(read_root(read), book, result.period),
                                  flows=result.carry.get(statements.FLOWS))
    tasks.append(parallel.Task("statements.xlsx", 10_000, lambda: write_statements(
        od.path("statements.xlsx"), sts, period, group_name=_group_name(book))))
    for step, fname in (("revaluation", "revaluation.xlsx"), ("settlement", "settlement.xlsx"),
                        ("allocation", "allocation.xlsx"), ("consolidation", "consolidation.xlsx")):
        r = result.steps.get(step)
        if r is None:
            continue
        reports = {k: v for k, v in r.reports.items() if not k.startswith("_")}
        if not reports:
            reports = {step.capitalize(): pd.DataFrame({"note": [f"Nothing to report for {step} in {period}."]})}
        if step == "consolidation" and "Worksheet" in reports:
            cells = sum(len(v) * max(1, len(v.columns)) for v in reports.values())
            tasks.append(parallel.Task(fname, cells, lambda reports=reports, fname=fname: write_consolidation(
                od.path(fname), book, reports, period)))
            continue
        table(fname, [outputs.report_sheet(k, v, book) for k, v in reports.items()])
    if result.period.year_end and result.year_end is not None:
        ye = outputs.journal_lines(book, result.year_end)
        opening = concat_lines([result.balances.assign(journal="", line=0, date=result.period.end, journal_type="",
                                                       description="", source=""), result.year_end], dims)
        ob = outputs.trial_balance(book, opening[["entity", "account", *dims, "counterparty", "reference", "currency",
                                                  "amount", "amount_acct"]])
        table("year_end.xlsx", [Sheet("Closing", ye, outputs.journal_sheet(book, ye).columns),
                                outputs.tb_sheet(book, ob, "Opening")])
    tasks.append(parallel.Task("close_status.xlsx", 10_000, lambda: _write_status(
        od.path("close_status.xlsx"), book, result, blockers)))
    tasks.append(parallel.Task("validation.xlsx", 10 * len(findings), lambda: outputs.write_validation(
        od.path("validation.xlsx"), findings, read.ignored, read.skipped)))
    if staged is not None:
        tasks.append(parallel.Task(f"ledger/{staged.final.name}", staged.cells, staged.write))
    parallel.run(tasks, jobs, _stage_progress(progress, "Writing"))
    written = sorted(p.name for p in od.tmp.iterdir())
    inputs = [(p.relative_to(read_root(read)).as_posix() if read_root(read) else p.name, p) for p in read.files]
    totals = {"lines": int(len(lines)), "debit_acct": money.fmt(int(lines["amount_acct"].clip(lower=0).sum()), 2)
              if len(lines) else "0.00"}
    outputs.write_manifest(od.path("manifest.json"), inputs, [od.path(n) for n in written], period,
                           {"lines": int(len(result.lines)), "findings": len(findings), "blockers": len(blockers)},
                           totals)
    return written


def read_root(read) -> Path | None:
    return getattr(read, "root", None)


def _group_name(book: Book) -> str:
    top = book.entities[book.entities["parent"].fillna("") == ""]
    return str(top["name"].iloc[0]) if len(top) else ""


def load_comparatives(books: Path | None, book: Book, per) -> dict:
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
    store = Store(books, book.entity_currency(), book.settings.group_currency)
    out = {}
    for p in [n for n in names[:i] if n in wanted]:
        ent, grp = store.period_balances(p)
        if ent is not None:
            out[p] = statements.Snapshot(p, ent, grp, store.sheet(p, f"carry_{statements.FLOWS}"))
    return out


def _write_status(path: Path, book: Book, result: CloseResult, blockers) -> None:
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
    cl = checklist.build(book.tasks, result.period.name, result.period.end, today, outcomes)
    ents = checklist.finding_entities(blockers, [book.journals, book.subledgers, book.tasks])
    by_entity: dict = {}
    for e in ents:
        if e:
            by_entity[e] = by_entity.get(e, 0) + 1
    bframe = pd.DataFrame({"kind": [b.code for b in blockers], "entity": ents, "file": [b.file for b in blockers],
                           "sheet": [b.sheet for b in blockers], "cell": [b.cell for b in blockers],
                           "message": [b.message for b in blockers], "hint": [b.hint for b in blockers]},
                          columns=["kind", "entity", "file", "sheet", "cell", "message", "hint"])
    closed = {e.strip(): "yes" for e in str(lf.get("entities_closed", "")).split(",") if e.strip()}
    ent_table = checklist.entity_progress(cl.tasks, book.entities, closed, by_entity, cl.figures)
    heading = {"period": result.period.name, "status": lf.get("status", "Open"), "lock": lf.get("state", "")}
    write_close_status(path, cl, bframe, ent_table, heading)


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


HISTORY_COLUMNS = ["period", "from", "to", "user", "when", "note", "event", "blockers", "entities"]


def set_status(store: Store, statuses: dict, history: pd.DataFrame, period: str, new: str, user: str, note: str,
               event: str = "status", blockers="", entities: str = ""):
    """Set a period's status in ``ledger/periods.xlsx`` and add the change to its History
    (period, from, to, who, when, why)."""
    old = statuses.get(period, "Open")
    statuses = dict(statuses)
    statuses[period] = new
    row = pd.DataFrame([{"period": period, "from": old, "to": new, "user": user,
                         "when": dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S"), "note": note, "event": event,
                         "blockers": str(blockers), "entities": entities}], columns=HISTORY_COLUMNS)
    if len(history):
        history = pd.concat([history.reindex(columns=list(dict.fromkeys([*history.columns, *HISTORY_COLUMNS])))
                             .fillna(""), row], ignore_index=True)
    else:
        history = row
    store.write_statuses(statuses, history)
    return statuses, history


def _record(store: Store, book: Book, period: str, user: str, note: str, **kw) -> None:
    """Add an event that leaves the status as it is to the History (e.g. a close that left
    the period Open), with the statuses as ``ledger/`` has them now."""
    statuses, history = effective_statuses(book, store)
    set_status(store, statuses, history, period, statuses.get(period, "Open"), user, note, **kw)


def _last_close(history: pd.DataFrame, period: str):
    """The History row of the last close of ``period`` that left it Open (None when the last
    close locked it or there is none)."""
    if not len(history) or "period" not in history:
        return None
    h = history[history["period"].astype(str) == period]
    for _, r in h.iloc[::-1].iterrows():  # newest first
        if str(r.get("event", "")) == "close":
            return r
        if str(r.get("to", "")) != "Open":  # a lock (or a status change) came after any close
            return None
    return None


def status(books: Path, today: dt.date | None = None) -> Outcome:
    """The calendar with each period's status and its history, and the close checklist of
    the open period as of ``today`` (spec section 6)."""
    today = today or dt.date.today()
    read, book, findings = load(books)
    if book is None or not len(book.periods):
        return Outcome(EXIT_ERRORS, message="No usable Periods sheet in the books folder.", findings=findings)
    store = Store(books, book.entity_currency(), book.settings.group_currency)
    statuses, history = effective_statuses(book, store)
    closed_ents, _ = store.entity_closes()
    lines = [f"{'period':<10} {'start':<10} {'end':<10} {'status':<19} closed in ledger"]
    for _, r in book.periods.iterrows():  # one per period
        p = r["period"]
        ents = sorted(closed_ents.loc[closed_ents["period"] == p, "entity"]) if len(closed_ents) else []
        extra = f"   entities closed: {', '.join(ents)} of {len(book.entities)}" \
            if ents and statuses[p] == "Open" else ""
        lines.append(f"{p:<10} {r['start']:%Y-%m-%d} {r['end']:%Y-%m-%d} {statuses[p]:<19} "
                     f"{'yes' if store.has(p) else '':<3}{extra}".rstrip())
    if len(history):
        lines.append("\nChanges (ledger/periods.xlsx, History):")
        h = history.tail(10)
        if len(history) > 10:
            lines.append(f"  ... {len(history) - 10} earlier change(s)")
        for _, r in h.iterrows():  # at most ten
            move = f"{r['from']} -> {r['to']}" if r["from"] != r["to"] else f"stays {r['to']}"
            lines.append(f"  {r['when']}  {r['period']:<8} {move:<28} by {r['user']}: {r['note']}")
    nxt = next((p for p in book.periods["period"] if statuses[p] == "Open"), None)
    if nxt:
        lines.append(f"\nNext period to close: {nxt}")
    if len(book.tasks) and nxt:
        per = period_of(book, nxt)
        cl = checklist.build(book.tasks, nxt, per.end, today)
        lines += _checklist_lines(cl)
        findings = findings + checklist.task_findings(book)
    errs = [f for f in findings if f.is_error]
    if errs:
        lines.append(f"\nThe books have {len(errs)} error(s): run closebatch validate for the list.")
    return Outcome(EXIT_OK, message="\n".join(lines))


def _checklist_lines(cl) -> list[str]:
    s = cl.summary
    out = [f"\nClose checklist of {cl.period} as of {cl.today:%Y-%m-%d} (period end {cl.period_end:%Y-%m-%d}): "
           f"{s['done']} done, {s['remaining']} remaining, {s['overdue']} overdue, {s['blocked']} blocked "
           f"(of {s['total']})",
           "  (automated tasks count as done when closebatch close runs their step without errors)"]
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
        out.append(f"  [{'x' if r['done'] else ' '}] {r['task']:<8} {r['name'][:40]:<40} {r['owner'][:14]:<14} "
                   f"due {r['due_date']:%Y-%m-%d}  {r['status']}{auto}" + (f"  {'; '.join(flags)}" if flags else ""))
    return out


ACTIONS = {"open": "Open", "hold": "On hold", "close-permanently": "Permanently closed"}


def change_period(books: Path, period: str, action: str, user: str | None = None) -> Outcome:
    """Change a period's status under the rules of spec section 4.

    * ``open`` reopens an On hold period (not while a later period is closed); on an Open
      period it forgets the entities closed with ``close --entity``.
    * ``hold`` and ``close-permanently`` need every earlier period closed (permanently, for
      ``close-permanently``).  An Open period must have been closed by ``closebatch close``
      with nothing blocking the lock, and its lines must be the ones that close posted.
    * Permanently closed never changes; a period with an access group is changed only by its
      members.  Every change is added to the History in ``ledger/periods.xlsx``."""
    books = Path(books)
    user = run_user(user)
    with BooksLock(books):
        read, book, findings = load(books)
        if book is None or not len(book.periods):
            return _refuse("No usable Periods sheet in the books folder.", findings)
        store = Store(books, book.entity_currency(), book.settings.group_currency)
        statuses, history = effective_statuses(book, store)
        if period not in statuses:
            return _refuse(f"Period {period} is not in the Periods sheet.")
        new = ACTIONS[action]
        old = statuses[period]
        if old == "Permanently closed":
            return _refuse(f"Refused: period {period} is Permanently closed and can never be reopened or changed.")
        per = period_of(book, period)
        denied = _access(book, book.periods.iloc[per.index], user)
        if denied:
            return _refuse(f"Refused: {denied}.")
        order = list(book.periods["period"])
        i = order.index(period)
        ents = _entities_closed(store, period)
        if old == new:
            if new == "Open" and ents:
                _save_entities_closed(store, book, period, None, user, None)
                set_status(store, statuses, history, period, "Open", user, "closebatch period open: entities "
                           f"{', '.join(sorted(ents))} reopened", entities=",".join(sorted(ents)))
                return Outcome(EXIT_OK, message=f"Period {period}: entities {', '.join(sorted(ents))} reopened; the "
                               f"period stays Open (by {user}).")
            return Outcome(EXIT_OK, message=f"Period {period} is already {new}.")
        if new == "Open":
            later = [p for p in order[i + 1:] if statuses[p] != "Open"]
            if later:
                return _refuse(f"Refused: period {period} cannot be reopened while later period {later[0]} is "
                               f"{statuses[later[0]]}; reopen the later periods first.")
        else:
            open_before = [p for p in order[:i] if statuses[p] == "Open"]
            if open_before:
                return _refuse(f"Refused: period {period} cannot be put {new} while earlier period {open_before[0]} "
                               "is Open.")
            if new == "Permanently closed":
                held = [p for p in order[:i] if statuses[p] != "Permanently closed"]
                if held:
                    return _refuse(f"Refused: period {period} cannot be closed permanently while earlier period "
                                   f"{held[0]} is {statuses[held[0]]}; close the earlier periods permanently first.")
            if old == "Open":
                refusal = _hold_refusal(book, store, statuses, history, period)
                if refusal is not None:
                    return refusal
        set_status(store, statuses, history, period, new, user, f"closebatch period {action}")
        if ents:
            _save_entities_closed(store, book, period, None, user, None)
        return Outcome(EXIT_OK, message=f"Period {period}: {old} -> {new} (by {user}).")


def _hold_refusal(book: Book, store: Store, statuses: dict, history: pd.DataFrame, period: str) -> Outcome | None:
    """Why an Open period may not be put on hold by hand (None when it may): it must have
    been closed, without blockers, from the lines the folder holds now."""
    if not store.has(period):
        return _refuse(f"Refused: period {period} has not been closed yet; run closebatch close first.")
    last = _last_close(history, period)
    if last is not None and str(last.get("blockers", "")) not in ("", "0"):
        return _refuse(f"Refused: the last close of period {period} found {last['blockers']} blocker(s); fix them "
                       f"and run closebatch close --period {period}, which puts it on hold.")
    changed = _closed_period_lines(book, statuses, store, period, pretend=(period,), only=period)
    if changed:
        return _refuse(f"Refused: {len(changed)} line(s) dated in period {period} are new or changed since its last "
                       f"close; run closebatch close --period {period} again.", changed)
    return None


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
