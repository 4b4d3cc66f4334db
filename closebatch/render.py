"""What a close writes: every output workbook, close_status.xlsx and the manifest
(:func:`write_outputs`), and validation.xlsx alone when the books have errors."""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pandas as pd

from . import checklist, money, registry, statements
from .book import Book
from .close import CloseResult
from .core import concat_lines
from .io import memory, outputs, parallel
from .io.consolidation_writer import write_consolidation
from .io.journal_report import write_ledger_journal
from .io.statements_writer import write_statements
from .io.status_writer import write_close_status
from .io.writer import Sheet, write_workbook
from .ledger import load_comparatives
from .outcome import EXIT_ERRORS, Outcome, stage, stage_progress


def write_validation(dirs: list, findings, read, progress=None) -> list:
    """Write validation.xlsx alone into each of ``dirs`` (once, then copied); every other file
    there stays as it was."""
    stage(progress, "Writing validation.xlsx")
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


def validation_only(dirs: list, findings, read, period: str, progress=None) -> Outcome:
    written = write_validation(dirs, findings, read, progress)
    n = sum(f.is_error for f in findings)
    return Outcome(EXIT_ERRORS, message=f"The books have {n} error(s); nothing was closed. See "
                   f"{Path(dirs[0]) / 'validation.xlsx'}.", findings=findings, out_dir=Path(dirs[0]), written=written,
                   period=period)


def summary(result: CloseResult) -> dict:
    types = result.lines["journal_type"].value_counts().to_dict() if len(result.lines) else {}
    return {"lines": int(len(result.lines)), "by_type": {k: int(v) for k, v in types.items()},
            "steps": {k: v.figures for k, v in result.steps.items()}}


def _line_parts(result: CloseResult) -> list[pd.DataFrame]:
    """The lines of the ledger journal: posted, year-end closing, consolidation layer."""
    return [f for f in (result.lines, result.year_end, result.eliminations) if f is not None and len(f)]


def _all_lines(result: CloseResult, dims) -> pd.DataFrame:
    return concat_lines(_line_parts(result), dims)


def write_outputs(od, book: Book, result: CloseResult, findings, read, period, blockers, staged=None, jobs=None,
                  progress=None, sts=None, sealer=None, seal_note: str = "", started_from: str = "",
                  store=None, early=None) -> list[str]:
    """Write every output workbook into ``od`` (and ``staged``, the period's ledger data
    files, under temporary names), then seal the data files (``sealer()`` returns the close
    seal, "" when nothing is sealed) and write close_status.xlsx and the manifest, which
    carry that seal.  What each workbook holds is decided here, in this process (the ledger
    journal's rows, as big as the period, are gathered by the process that writes them); the
    writing itself is shared out over ``jobs`` processes.  ``sts``: the statements (the close computes
    them with its checks, see :func:`check_close`).  ``early``: the ledger journal begun while
    the steps ran (:class:`closebatch.io.journal_report.EarlyJournal`), finished by its own
    process beside the other workbooks (or here, if it could not be)."""
    stage(progress, "Writing")
    n_lines = sum(len(f) for f in _line_parts(result))
    early = early if early is not None and early.started else None
    try:
        hand_over(early, od, result)  # (unless the caller has)
        tasks, journal, ledger_task = _output_tasks(od, book, result, findings, read, period, staged, sts, store)
        if early is None:
            tasks.insert(1, journal)  # (after the adjusted trial balance, as it always was)
        # What validation and the steps freed, malloc keeps unless asked: given back before the
        # writing processes are forked (at 1M lines the closing process then holds about 280 MB
        # less as the ledger journal starts, and its peak is about 80 MB lower)
        memory.give_back()

        def ledger_seal() -> dict:
            sealed = sealer() if sealer is not None else ""
            return {"period": period, "seal": sealed, "started_from": started_from if sealed else "",
                    "note": seal_note if not sealed else "the seal of this close: its tables in ledger/ and, through "
                    "the seal it started from, every earlier close (closebatch verify BOOKS checks them)"}

        # close_status.xlsx carries the seal: it is written once the ledger data is sealed
        status = parallel.Task("close_status.xlsx", 0, lambda: write_status(
            od.path("close_status.xlsx"), book, result, blockers, ledger_seal(), _relative(read_root(read), od.final)))
        status_written = False
        if early is not None:
            count, done = len(tasks) + 1, 0
            tick = stage_progress(progress, "Writing")

            def ticked(_done=0, _total=0, name=""):
                nonlocal done
                done += 1
                if tick:
                    tick(done, count, name)

            status_written = _beside(early, tasks, jobs, ticked, ledger_task, status)
            if not early.result():  # it could not finish: written here, the same bytes
                journal.run()
            ticked(name=journal.name)
        else:
            parallel.run(tasks, jobs, stage_progress(progress, "Writing"))
    except BaseException:
        if early is not None:
            early.close()  # ended before the caller removes the folder it writes into
        raise
    seal_of = ledger_seal()
    if not status_written:
        status.run()
    written = sorted(p.name for p in od.tmp.iterdir())
    inputs = [(p.relative_to(read_root(read)).as_posix() if read_root(read) else p.name, p) for p in read.files]
    debit = sum(int(f["amount_acct"].clip(lower=0).sum()) for f in _line_parts(result))
    totals = {"lines": n_lines, "debit_acct": money.fmt(debit, 2) if n_lines else "0.00"}
    outputs.write_manifest(od.path("manifest.json"), inputs, [od.path(n) for n in written], period,
                           {"lines": int(len(result.lines)), "findings": len(findings), "blockers": len(blockers)},
                           totals, seal_of)
    return written


def hand_over(early, od, result: CloseResult) -> None:
    """Give the early ledger journal's process the close's last lines, once, as soon as they
    are known: it goes on with the journal while the rest is prepared.  What validation and
    the steps freed is given back first, as that process now builds the whole journal."""
    if early is not None and early.started and early.waiting:
        memory.give_back()
        early.hand_over(od.path("ledger_journal.xlsx"), result.lines, [result.year_end, result.eliminations])


def _output_tasks(od, book: Book, result: CloseResult, findings, read, period, staged, sts, store):
    """The workbooks to write, as tasks: ``(tasks, journal, ledger)``, the ledger journal's
    task apart (its own process may be writing it) and the period's ledger data's among the
    tasks (None without it).  What each holds is decided here; writing is the tasks' work."""
    dims = book.dims
    tasks: list[parallel.Task] = []

    def table(name: str, sheets: list[Sheet]) -> None:
        tasks.append(parallel.Task(name, sum(s.cells for s in sheets),
                                   lambda: write_workbook(od.path(name), sheets)))

    tb = outputs.trial_balance(book, result.balances, result.lines, period=result.period)
    sheets = [outputs.tb_sheet(book, tb)]
    cons = result.steps.get("consolidation")
    if cons is not None and "Consolidated" in cons.reports:
        sheets.append(outputs.consolidated_sheet(book, cons.reports["Consolidated"]))
    sheets.append(outputs.tb_totals(book, tb))
    table("adjusted_trial_balance.xlsx", sheets)
    n_lines = sum(len(f) for f in _line_parts(result))
    journal = parallel.Task("ledger_journal.xlsx", n_lines * (18 + len(dims)), lambda: write_ledger_journal(
        od.path("ledger_journal.xlsx"), book, lambda: outputs.journal_lines(book, _all_lines(result, dims))))
    if sts is None:
        group = statements.group_balances(result.steps.get("consolidation"))
        sts, _ = statements.build(book, result.period, result.balances, group=group, movement=result.lines,
                                  history=load_comparatives(read_root(read), book, result.period, store),
                                  flows=result.carry.get(statements.FLOWS))
    tasks.append(parallel.Task("statements.xlsx", 10_000, lambda: write_statements(
        od.path("statements.xlsx"), sts, period, group_name=group_name(book))))
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
        ob = outputs.trial_balance(book, opening[["entity", "account", *dims, "counterparty", "reference",
                                                  "currency", "amount", "amount_acct"]])
        table("year_end.xlsx", [Sheet("Closing", ye, outputs.journal_sheet(book, ye).columns),
                                outputs.tb_sheet(book, ob, "Opening")])
    tasks.append(parallel.Task("validation.xlsx", 10 * len(findings), lambda: outputs.write_validation(
        od.path("validation.xlsx"), findings, read.ignored, read.skipped)))
    ledger_task = None
    if staged is not None:  # written, and sealed, by the process that writes it (see Staged.seal_beside)
        staged.seal_beside()
        ledger_task = parallel.Task(f"ledger/{staged.final.name}", staged.cells, staged.write)
        tasks.append(ledger_task)
    return tasks, journal, ledger_task


def _beside(early, tasks: list, jobs, tick, ledger=None, after=None) -> bool:
    """The other workbooks, while the early ledger journal's process finishes: that process
    is one of the ``jobs`` writing ones, so they are written here, the costliest first; once
    it is done, what is left is shared out over ``jobs`` processes (at 200k lines the journal
    is done first; at 10M, three processes on two cores slowed it, the longest task, by a
    sixth).  ``after``: a task that needs the ``ledger`` task done (close_status.xlsx, which
    carries the seal), shared out with the others when that is written by then; returns
    whether it was run."""
    pending = sorted(tasks, key=lambda t: -t.cost)
    while pending:
        if len(pending) > 1 and early.done():
            ready = after is not None and (ledger is None or ledger not in pending)
            parallel.run(pending + ([after] if ready else []), jobs, tick if not ready else _untick(tick, after))
            return ready
        t = pending.pop(0)
        t.run()
        tick(name=t.name)
    return False


def _untick(tick, task):
    """``tick`` for every task but ``task`` (a task not counted in the progress shown)."""
    def ticked(done=0, total=0, name=""):
        if name != task.name:
            tick(done, total, name)
    return ticked


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


def group_name(book: Book) -> str:
    top = book.entities[book.entities["parent"].fillna("") == ""]
    return str(top["name"].iloc[0]) if len(top) else ""


def write_status(path: Path, book: Book, result: CloseResult, blockers, ledger_seal: dict | None = None,
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
