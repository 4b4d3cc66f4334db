"""``ledger/`` as the commands use it: read and check the sealed ledger (:class:`LedgerState`),
what a close takes from it, and the one commit that seals a decision.  The rules themselves
are pure (:mod:`closebatch.periods`, :mod:`closebatch.seal`); :mod:`closebatch.io.store`
loads and saves."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from . import periods, seal, statements
from .book import Book
from .close import CloseResult, History
from .core import Finding, line_columns
from .io.store import Deferred, Store
from .periods import fingerprint
from .outcome import EXIT_ERRORS, Outcome


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


def seal_refusal(state: LedgerState, blocking: list, period: str | None = None) -> Outcome:
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


def commit_ledger(state: LedgerState, book: Book, statuses: dict, history: pd.DataFrame, closes=None, staged=(),
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


def persist_close(state: LedgerState, book: Book, period: str, user: str, now: dt.datetime, result, staged,
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
        ents = entity_closes_after(state.store, book, period, None, user, None, now)
    elif record_entities:
        ents = entity_closes_after(state.store, book, period, run_entities, user, result, now)
    closes = {period: (started_from, close_seal)} if staged is not None else {}
    commit_ledger(state, book, statuses, periods.add_history(history, rows), closes, [staged, ents],
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


def closed_lines(book: Book, state: LedgerState, pretend=(), only: str | None = None,
                         posted: dict | None = None) -> list[Finding]:
    """The lines of closed scopes that are new or changed (see
    :func:`closebatch.periods.closed_period_lines`), the ledger's records loaded for it."""
    statuses = state.statuses
    if posted is None:
        posted = _closed_posted(state, book, pretend)
    ent_closed, ent_posted = state.store.entity_closes()
    scopes = periods.closed_scopes(book, statuses, posted, ent_closed, ent_posted, pretend)
    return periods.closed_period_lines(book, statuses, scopes, only)


def entities_closed(store: Store, period: str) -> dict:
    """Entities closed with ``close --entity`` for ``period``: entity -> "by USER at WHEN"."""
    closed, _ = store.entity_closes()
    if not len(closed):
        return {}
    c = closed[closed["period"] == period]
    return {e: f"by {u} at {w}" for e, u, w in zip(c["entity"], c["user"], c["when"])}


def entity_closes_after(store: Store, book: Book, period: str, entities, user: str, result, now: dt.datetime):
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


def stage_ledger(store: Store, book: Book, result: CloseResult):
    """The period's ledger workbook (:class:`closebatch.io.store.Staged`), to be written
    beside the outputs and renamed into place before them."""
    dims = book.dims
    key = ["entity", "account", *dims, "counterparty", "reference", "currency"]
    posted = result.posted_inputs
    cols = ["journal", "line", "date", "entity", "account", *dims, "currency", "amount", "amount_acct",
            "counterparty", "reference", "journal_type", "description", "source"]
    # the fingerprints (a hash a line, seconds at a million lines) are made when the file is
    # written, by the process that writes it
    fp = Deferred(len(posted), len(cols) + 1, lambda: posted[cols].assign(
        fingerprint=fingerprint(posted, dims).to_numpy())) if len(posted) else \
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
