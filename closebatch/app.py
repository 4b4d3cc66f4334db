"""The library behind the commands: read, validate, close, persist, write.

This is the only layer that ties files to the pure parts: :mod:`closebatch.io` reads and
writes, :mod:`closebatch.validate` types the books, :mod:`closebatch.close` computes.  Every
function returns an :class:`Outcome` with the exit status of spec section 5; none of them
prints or exits (the CLI does).
"""
from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import money
from .book import Book
from .close import CloseResult, History, period_of, run_close
from .core import ERROR, WARNING, Finding, concat_lines, line_columns
from .io import outputs
from .io.lock import BooksLock
from .io.reader import read_books
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


def load(books: Path, exclude=(), progress=None):
    read = read_books(Path(books), exclude=exclude, progress=progress)
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


def validate_books(books: Path, out: Path | None = None, progress=None) -> Outcome:
    books = Path(books)
    out = Path(out) if out else books / "out"
    read, book, findings = load(books, exclude=(out,), progress=progress)
    od = outputs.OutputDir(out)
    try:
        outputs.write_validation(od.path("validation.xlsx"), findings, read.ignored)
        written = od.commit()
    except BaseException:
        od.discard()
        raise
    errs = [f for f in findings if f.is_error]
    return Outcome(EXIT_ERRORS if errs else EXIT_OK, findings=findings, out_dir=out, written=written,
                   message=f"{len(errs)} error(s), {len(findings) - len(errs)} warning(s)")


def _refuse(msg: str, findings=()) -> Outcome:
    return Outcome(EXIT_ERRORS, message=msg, findings=list(findings))


def _closed_period_lines(book: Book, statuses: dict, store: Store, period: str) -> list[Finding]:
    """Lines dated in a period that is not Open are refused unless that period's close
    posted exactly them (spec section 4)."""
    j = book.journals
    if not len(j):
        return []
    pers = book.periods
    idx = np.searchsorted(pers["start"].to_numpy(), j["date"].to_numpy(), side="right") - 1
    per_of = pers["period"].to_numpy()[np.clip(idx, 0, len(pers) - 1)]
    closed = np.array([statuses.get(p, "Open") != "Open" for p in per_of]) & (idx >= 0)
    if not closed.any():
        return []
    out = []
    dims = book.dims
    fp = fingerprint(j[closed], dims)
    sub = j[closed].assign(_fp=fp.to_numpy(), _period=per_of[closed])
    for p, grp in sub.groupby("_period"):
        known = set()
        if store.has(p):
            posted = store.load(p).get("Posted")
            if posted is not None and len(posted):
                known = set(posted["fingerprint"].astype(str))
        bad = grp[~grp["_fp"].isin(known)]
        for _, r in bad.iterrows():  # only lines that are refused
            out.append(book.finding(r, "date", f"Journal {r['journal']} line {r['line']} is dated in {p}, which is "
                                    f"{statuses[p]}; it was not part of that period's close (new or changed since).",
                                    hint=f"Date the line in an open period, or reopen {p} first (closebatch period "
                                         f"BOOKS {p} open) if that is allowed.", code="closed-period"))
    return out


def _access(book: Book, period_row, user: str) -> str | None:
    group = str(period_row.get("access_group", "") or "")
    if not group:
        return None
    users = book.users
    members = set(users.loc[users["group"] == group, "user"]) if len(users) else set()
    if user not in members:
        return f"period {period_row['period']} may be closed only by members of {group!r}, and {user!r} is not one"
    return None


def close_books(books: Path, period: str | None = None, out: Path | None = None, entities=(), no_lock=False,
                dry_run=False, user: str | None = None, progress=None) -> Outcome:
    books = Path(books)
    user = run_user(user)
    with BooksLock(books):
        return _close(books, period, out, tuple(entities), no_lock, dry_run, user, progress)


def _close(books, period, out, entities, no_lock, dry_run, user, progress) -> Outcome:
    out_root = Path(out) if out else None
    read, book, findings = load(books, exclude=(out_root,) if out_root else (), progress=progress)
    if book is None or not len(book.periods):
        return _validation_only(out_root or books / "out" / "unknown", findings, read, "")
    store = Store(books, book.entity_currency(), book.settings.group_currency)
    statuses, history = effective_statuses(book, store)
    if period is None:
        period = next((p for p in book.periods["period"] if statuses.get(p) == "Open"), None)
        if period is None:
            return _refuse("Every period of the calendar is closed; there is nothing to close.", findings)
    if period not in statuses:
        return _refuse(f"Period {period} is not in the Periods sheet.", findings)
    out_dir = out_root or books / "out" / period
    per = period_of(book, period)
    if statuses[period] != "Open":
        return _refuse(f"Period {period} is {statuses[period]}; it cannot be closed again"
                       + (" (reopen it first with: closebatch period BOOKS " + period + " open)."
                          if statuses[period] == "On hold" else ", ever."), findings)
    earlier = [p for p in book.periods["period"].iloc[:per.index] if statuses.get(p) == "Open"]
    if earlier:
        return _refuse(f"Period {period} cannot be closed while earlier period {earlier[0]} is still Open; close "
                       f"{earlier[0]} first.", findings)
    prow = book.periods.iloc[per.index]
    denied = _access(book, prow, user)
    if denied:
        return _refuse(f"Refused: {denied}.", findings)
    for ent in entities:
        if ent not in set(book.entities["entity"]):
            return _refuse(f"Entity {ent} (given with --entity) is not in the Entities sheet.", findings)
    findings = findings + _closed_period_lines(book, statuses, store, period)
    findings += _prepared_by(book, per, statuses)
    if any(f.is_error for f in findings):
        return _validation_only(out_dir, findings, read, period)

    prev = book.periods["period"].iloc[per.index - 1] if per.index > 0 else None
    hist = History()
    if prev is not None and store.has(prev):
        hist.previous = store.load(prev)
    hist.scheduled = _scheduled(book, store, per)
    result = run_close(book, per, hist, user=user, entities=entities)
    findings = findings + result.findings
    if any(f.is_error for f in findings):
        return _validation_only(out_dir, findings, read, period)

    blockers = list(result.blockers) + _task_blockers(book, result)
    od = outputs.OutputDir(out_dir)
    try:
        written_names = _write_outputs(od, book, result, findings, read, period, blockers)
        partial = bool(entities) and set(entities) != set(book.entities["entity"])
        lock = not no_lock and not blockers and not dry_run and not partial
        if not dry_run:
            _persist(store, book, result, statuses, history, user, lock)
        written = od.commit(order=["manifest.json"])
    except BaseException:
        od.discard()
        raise
    code = EXIT_BLOCKED if blockers else EXIT_OK
    state = "put On hold" if lock else "left Open"
    if partial and not dry_run:
        state += " (only some entities were closed: close all of them to put it on hold)"
    msg = f"Closed {period}{' (dry run: nothing persisted)' if dry_run else ''}; the period is {state}."
    return Outcome(code, message=msg, findings=findings, blockers=blockers, out_dir=out_dir, written=written,
                   period=period, summary=_summary(result))


def _prepared_by(book: Book, per, statuses) -> list[Finding]:
    """Lines posted into a period with an access group must be prepared by its members."""
    group = str(book.periods.iloc[per.index].get("access_group", "") or "")
    j = book.journals
    if not group or not len(j) or "prepared_by" not in j:
        return []
    members = set(book.users.loc[book.users["group"] == group, "user"]) if len(book.users) else set()
    inside = ((j["date"] >= per.start) & (j["date"] <= per.end)).to_numpy()
    bad = inside & (j["prepared_by"] != "").to_numpy() & ~j["prepared_by"].isin(members).to_numpy()
    return [book.finding(r, "prepared_by", f"{r['prepared_by']} is not a member of {group!r}, the only group that "
                         f"may post into {per.name}.", hint="Have a member of the group prepare the line, or add the "
                         "user to the group in the Users sheet.", code="access-group") for _, r in j[bad].iterrows()]


def _task_blockers(book: Book, result: CloseResult) -> list[Finding]:
    t = book.tasks
    if not len(t):
        return []
    automated_ok = {name for name, r in result.steps.items() if not any(f.is_error for f in r.findings)}
    automated_ok |= {"journals_posted"} if not any(b.code == "unposted" for b in result.blockers) else set()
    automated_ok |= {"subledgers"} if not any(b.code == "subledger-difference" for b in result.blockers) else set()
    automated_ok |= {"statements"}
    out = []
    for _, r in t.iterrows():  # one per task
        done = r["status"] == "Done" or (r["step"] and r["step"] in automated_ok)
        if r["required"] and not done and r["step"] != "lock":
            out.append(book.finding(r, "status", f"Required task {r['task']} ({r['name']}) is {r['status']}.",
                                    hint="Finish the task and set its status to Done, or mark it required = N.",
                                    severity=WARNING, code="task-open"))
    return out


def _scheduled(book: Book, store: Store, per) -> pd.DataFrame | None:
    """Generated lines of earlier closes dated in this period (reversals and the like)."""
    frames = []
    for p in book.periods["period"].iloc[:per.index]:
        if store.has(p):
            s = store.load(p).get("Scheduled")
            if s is not None and len(s):
                frames.append(s)
    if not frames:
        return None
    from .close import _as_lines

    df = pd.concat([_as_lines(f, book.dims) for f in frames], ignore_index=True)
    return df[(df["date"] >= per.start) & (df["date"] <= per.end)]


def _validation_only(out_dir: Path, findings, read, period: str) -> Outcome:
    od = outputs.OutputDir(out_dir)
    try:
        outputs.write_validation(od.path("validation.xlsx"), findings, read.ignored)
        written = od.commit()
    except BaseException:
        od.discard()
        raise
    n = sum(f.is_error for f in findings)
    return Outcome(EXIT_ERRORS, message=f"The books have {n} error(s); nothing was closed. See "
                   f"{out_dir / 'validation.xlsx'}.", findings=findings, out_dir=out_dir, written=written, period=period)


def _summary(result: CloseResult) -> dict:
    types = result.lines["journal_type"].value_counts().to_dict() if len(result.lines) else {}
    return {"lines": int(len(result.lines)), "by_type": {k: int(v) for k, v in types.items()},
            "steps": {k: v.figures for k, v in result.steps.items()}}


def _all_lines(result: CloseResult, dims) -> pd.DataFrame:
    return concat_lines([result.lines, result.year_end, result.eliminations], dims)


def _write_outputs(od, book: Book, result: CloseResult, findings, read, period, blockers) -> list[str]:
    dims = book.dims
    tb = outputs.trial_balance(book, result.balances, result.lines)
    sheets = [outputs.tb_sheet(book, tb)]
    cons = result.steps.get("consolidation")
    if cons is not None and "Consolidated" in cons.reports:
        sheets.append(outputs.report_sheet("Consolidated", cons.reports["Consolidated"], book))
    write_workbook(od.path("adjusted_trial_balance.xlsx"), sheets)
    lines = outputs.journal_lines(book, _all_lines(result, dims))
    write_workbook(od.path("ledger_journal.xlsx"), [outputs.journal_sheet(book, lines)])
    for step, fname in (("revaluation", "revaluation.xlsx"), ("settlement", "settlement.xlsx"),
                        ("allocation", "allocation.xlsx"), ("consolidation", "consolidation.xlsx")):
        r = result.steps.get(step)
        if r is None:
            continue
        reports = {k: v for k, v in r.reports.items() if not k.startswith("_")}
        if not reports:
            reports = {step.capitalize(): pd.DataFrame({"note": [f"Nothing to report for {step} in {period}."]})}
        write_workbook(od.path(fname), [outputs.report_sheet(k, v, book) for k, v in reports.items()])
    if result.period.year_end and result.year_end is not None:
        ye = outputs.journal_lines(book, result.year_end)
        opening = concat_lines([result.balances.assign(journal="", line=0, date=result.period.end, journal_type="",
                                                       description="", source=""), result.year_end], dims)
        ob = outputs.trial_balance(book, opening[["entity", "account", *dims, "counterparty", "reference", "currency",
                                                  "amount", "amount_acct"]])
        write_workbook(od.path("year_end.xlsx"), [Sheet("Closing", ye, outputs.journal_sheet(book, ye).columns),
                                                  outputs.tb_sheet(book, ob, "Opening")])
    _write_status(od.path("close_status.xlsx"), book, result, blockers)
    outputs.write_validation(od.path("validation.xlsx"), findings, read.ignored)
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


def _write_status(path: Path, book: Book, result: CloseResult, blockers) -> None:
    steps = []
    for name, r in result.steps.items():
        errs = sum(f.is_error for f in r.findings)
        figs = "; ".join(f"{k}: {v}" for k, v in r.figures.items())
        steps.append({"step": name, "outcome": "errors" if errs else "done", "lines": int(len(r.lines)),
                      "figures": figs})
    sheets = [Sheet("Steps", pd.DataFrame(steps, columns=["step", "outcome", "lines", "figures"])),
              Sheet("Blockers", outputs.findings_frame(blockers))]
    if len(book.tasks):
        t = book.tasks.drop(columns=[c for c in book.tasks.columns if c.startswith("_")] + ["source"], errors="ignore")
        sheets.append(Sheet("Tasks", t))
    write_workbook(path, sheets)


def _persist(store: Store, book: Book, result: CloseResult, statuses: dict, history: pd.DataFrame, user: str,
             lock: bool) -> None:
    dims = book.dims
    per = result.period
    key = ["entity", "account", *dims, "counterparty", "reference", "currency"]
    posted = result.posted_inputs
    fp = posted[["journal", "line", "date", "entity", "account", *dims, "currency", "amount", "amount_acct",
                 "source"]].assign(fingerprint=fingerprint(posted, dims).to_numpy()) if len(posted) else \
        pd.DataFrame(columns=["journal", "line", "date", "entity", "account", "currency", "amount", "amount_acct",
                              "source", "fingerprint"])
    frames = {"Balances": result.balances[key + ["amount", "amount_acct"]],
              "Lines": result.lines[line_columns(dims)],
              "Scheduled": result.scheduled[line_columns(dims)] if result.scheduled is not None else
              result.lines.iloc[0:0][line_columns(dims)],
              "Posted": fp}
    if result.year_end is not None and len(result.year_end):
        frames["YearEnd"] = result.year_end[line_columns(dims)]
    for name, df in result.carry.items():
        frames[f"carry_{name}"] = df
    store.save(per.name, frames)
    if lock:
        set_status(store, statuses, history, per.name, "On hold", user, "closed by closebatch close")


def set_status(store: Store, statuses: dict, history: pd.DataFrame, period: str, new: str, user: str, note: str):
    import datetime as dt

    old = statuses.get(period, "Open")
    statuses = dict(statuses)
    statuses[period] = new
    row = pd.DataFrame([{"period": period, "from": old, "to": new, "user": user,
                         "when": dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S"), "note": note}])
    history = pd.concat([history, row], ignore_index=True) if len(history) else row
    store.write_statuses(statuses, history)


def status(books: Path) -> Outcome:
    """The calendar with each period's status (spec section 6)."""
    read, book, findings = load(books)
    if book is None or not len(book.periods):
        return Outcome(EXIT_ERRORS, message="No usable Periods sheet in the books folder.", findings=findings)
    store = Store(books, book.entity_currency(), book.settings.group_currency)
    statuses, history = effective_statuses(book, store)
    lines = [f"{'period':<10} {'start':<10} {'end':<10} {'status':<19} closed in ledger"]
    for _, r in book.periods.iterrows():  # one per period
        p = r["period"]
        lines.append(f"{p:<10} {r['start']:%Y-%m-%d} {r['end']:%Y-%m-%d} {statuses[p]:<19} "
                     f"{'yes' if store.has(p) else ''}")
    nxt = next((p for p in book.periods["period"] if statuses[p] == "Open"), None)
    if nxt:
        lines.append(f"\nNext period to close: {nxt}")
    if len(book.tasks):
        t = book.tasks
        done = int((t["status"] == "Done").sum())
        lines.append(f"Close checklist: {done} of {len(t)} tasks done")
        for _, r in t.iterrows():  # one per task
            lines.append(f"  [{'x' if r['status'] == 'Done' else ' '}] {r['task']:<8} {r['name']:<40} "
                         f"{r['owner'] or '':<12} {r['status']}")
    errs = [f for f in findings if f.is_error]
    if errs:
        lines.append(f"\nThe books have {len(errs)} error(s): run closebatch validate for the list.")
    return Outcome(EXIT_OK, message="\n".join(lines))


ACTIONS = {"open": "Open", "hold": "On hold", "close-permanently": "Permanently closed"}


def change_period(books: Path, period: str, action: str, user: str | None = None) -> Outcome:
    """Change a period's status under the rules of spec section 4."""
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
        if old == new:
            return Outcome(EXIT_OK, message=f"Period {period} is already {new}.")
        order = list(book.periods["period"])
        i = order.index(period)
        if new != "Open":
            open_before = [p for p in order[:i] if statuses[p] == "Open"]
            if open_before:
                return _refuse(f"Refused: period {period} cannot be put {new} while earlier period {open_before[0]} "
                               "is Open.")
            if not store.has(period):
                return _refuse(f"Refused: period {period} has not been closed yet; run closebatch close first.")
        else:
            later = [p for p in order[i + 1:] if statuses[p] != "Open"]
            if later:
                return _refuse(f"Refused: period {period} cannot be reopened while later period {later[0]} is "
                               f"{statuses[later[0]]}; reopen the later periods first.")
        set_status(store, statuses, history, period, new, user, f"closebatch period {action}")
        return Outcome(EXIT_OK, message=f"Period {period}: {old} -> {new} (by {user}).")


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
