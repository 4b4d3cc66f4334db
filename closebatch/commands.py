"""The commands besides ``validate`` and ``close``: ``status``, ``period``, ``verify``,
``checklist`` and ``init`` (spec section 6)."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from . import checklist, periods
from .close import period_of
from .core import Finding
from .io import atomic
from .io.lock import BooksLock
from .io.store import Store
from .check import load
from .ledger import commit_ledger, closed_lines, entities_closed, entity_closes_after, ledger_state, seal_refusal
from .outcome import EXIT_ERRORS, EXIT_OK, EXIT_USAGE, Outcome, missing_books, refuse, run_user
from .periods import ACTIONS


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
        lines += _checklist_lines(cl, book, closed=statuses[shown] != "Open")
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
            return refuse("No usable Periods sheet in the books folder.", findings)
        store = Store(books, book.entity_currency(), book.settings.group_currency)
        state = ledger_state(store, book, writable=True, now=now)
        statuses, history = state.statuses, state.history
        if period not in statuses:
            return refuse(f"Period {period} is not in the Periods sheet.")
        new = ACTIONS[action]
        blocking = state.blocking(period, own=new == "Open", cascade=new == "Open")
        if blocking:
            return seal_refusal(state, blocking, period)
        per = period_of(book, period)
        denied = periods.access(book.users, book.periods.iloc[per.index], user)
        order = list(book.periods["period"])
        hold_why, hold_findings = None, []
        if statuses[period] == "Open" and new != "Open" and not denied:
            changed = closed_lines(book, state, pretend=(period,), only=period)
            hold_why, hold_findings = periods.hold_refusal(period, period in state.closed_here(), history,
                                                           periods.stale(state.seals, period), changed)
        resolving = [b.finding.message for b in state.breaks if b.period and (b.period == period or (
            b.period in order and order.index(b.period) > order.index(period)))]
        note = f"closebatch period {action}" + (f" (after the seal broke: {resolving[0]})" if resolving else "")
        decision = periods.plan_change(order, statuses, period, action, user, denied=denied, hold_refusal=hold_why,
                                       hold_findings=hold_findings, note=note)
        if decision.refusal:
            return refuse(decision.refusal, decision.findings)
        ents = entities_closed(store, period)
        if not decision.changes:
            if new == "Open" and ents:
                staged = entity_closes_after(store, book, period, None, user, None, now)
                row = periods.history_row(period, "Open", "Open", user, now, "closebatch period open: entities "
                                          f"{', '.join(sorted(ents))} reopened", entities=",".join(sorted(ents)))
                commit_ledger(state, book, statuses, periods.add_history(history, [row]), staged=[staged],
                              entities=True, touched=[period])
                return Outcome(EXIT_OK, message=f"Period {period}: entities {', '.join(sorted(ents))} reopened; the "
                               f"period stays Open (by {user}).")
            return Outcome(EXIT_OK, message=decision.message)
        statuses = dict(statuses)
        rows = []
        for c in decision.changes:
            statuses[c.period] = c.new
            rows.append(periods.history_row(c.period, c.old, c.new, user, now, c.note, event=c.event))
        staged = entity_closes_after(store, book, period, None, user, None, now) if ents else None
        commit_ledger(state, book, statuses, periods.add_history(history, rows), staged=[staged],
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
            elif atomic.file_sha256(path) != sha:
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


def _checklist_lines(cl, book, closed: bool = False) -> list[str]:
    """The checklist as ``status`` prints it: the counts, progress by area, owner and entity,
    every task with its sign-offs (names in full), and the persons' required tasks that are
    not done, each at the cell where it is signed (they block the lock; whether an automated
    step blocks it is for the close to say)."""
    s = cl.summary
    out = [f"\nClose checklist of {cl.period} as of {cl.today:%Y-%m-%d} (period end {cl.period_end:%Y-%m-%d}): "
           f"{s['done']} done, {s['remaining']} remaining, {s['overdue']} overdue, {s['blocked']} blocked "
           f"(of {s['total']})",
           "  (automated tasks count as done when closebatch close runs their step without errors"
           + ("; statuses and sign-offs from the Checklist)" if cl.v11 else "; statuses from the Tasks sheet)")]
    by_entity = checklist.progress(cl.tasks, "entity", blank="(group)")
    for title, df, key in (("by area", cl.by_area, "area"), ("by owner", cl.by_owner, "owner"),
                           ("by entity", by_entity, "entity")):
        if len(df):
            out.append(f"  {title}: " + ", ".join(f"{r[key]} {r['done']}/{r['tasks']}" for _, r in df.iterrows()))
    wn = max([8, *cl.tasks["name"].str.len()])
    wo = max([8, *cl.tasks["owner"].str.len()])
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
        out.append(f"  [{'x' if r['done'] else ' '}] {r['task']:<8} {r['name']:<{wn}} {r['owner']:<{wo}} "
                   f"due {r['due_date']:%Y-%m-%d}  {r['status']}{auto}" + (f"  {'; '.join(flags)}" if flags else "")
                   + (f"  ({', '.join(signed)})" if signed else ""))
    blocking = [f for f, step in zip(checklist.task_blocker_findings(book, cl), cl.open_required()["step"]) if not step]
    if blocking and not closed:
        out.append(f"  {len(blocking)} required task(s) of persons not done: they block the lock")
        for f in blocking:
            out.append(f"    {f.file}!{f.sheet}!{f.cell}: {f.message}")
    return out


def checklist_workbook(books: Path, period: str | None = None) -> Outcome:
    """Write ``Checklist PERIOD.xlsx`` into the books folder: the ``Checklist`` rows of
    ``period`` (default: the next period to close) ready to fill in, one per task a person
    signs (see :func:`closebatch.io.checklist_writer.write_checklist`).  A new file: one that
    exists is never overwritten (exit 1)."""
    from .io.checklist_writer import checklist_rows, write_checklist

    books = Path(books)
    missing = missing_books(books)
    if missing:
        return missing
    read, book, findings = load(books)
    if book is None or not len(book.periods):
        return Outcome(EXIT_ERRORS, message="No usable Periods sheet in the books folder.", findings=findings)
    store = Store(books, book.entity_currency(), book.settings.group_currency)
    state = ledger_state(store, book)
    blocking = state.blocking()
    if blocking:  # the statuses come from the seal: a broken one is trusted by no command
        return seal_refusal(state, blocking)
    if not len(book.tasks):
        return Outcome(EXIT_ERRORS, message="The books have no Tasks sheet (the recurring close checklist): add one "
                       "first (closebatch init makes a blank template).", findings=findings)
    statuses = state.statuses
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
