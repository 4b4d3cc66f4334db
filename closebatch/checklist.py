"""The close checklist (the Tasks sheet) as of a day: due dates, dependencies, progress.

Everything here is pure: the tasks frame, the period end, *today* and the outcomes of the
automated steps go in; a :class:`Checklist` (the task table with its flags, the summary
tiles, progress per area, owner and entity, each step's outcome and figures) and findings
come out.  Only :mod:`closebatch.app` and :mod:`closebatch.cli` read the clock.

Rules (spec section 2, Tasks; decisions where the spec is silent are marked *decision*):

* ``due`` counts working days (Monday to Friday; *decision*: no holiday calendar) from the
  period's last working day: ``0`` is the period end, or the Friday before it when it falls on
  a weekend; ``-2`` is two working days before that; ``3`` three working days after it.
* A task is *done* when its status is ``Done``.  A task that stands for an automated step
  (``step``) follows that step's outcome when the close ran it: done when the step ran
  without errors (journals posted: no unposted line; subledgers: no difference; lock: the
  period was put on hold), not done otherwise, whatever the sheet says.
* A task not done is *blocked* while a task it depends on is not done, and *overdue* when
  its due date is before today (a task due today is not overdue).
* A ``depends_on`` id that is not a task, and tasks that depend on each other in a circle,
  are errors naming the ``depends_on`` cells.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import pandas as pd

from . import money
from .core import WARNING, Finding

DONE = "Done"
STEP_ORDER = ("journals_posted", "subledgers", "settlement", "revaluation", "allocation", "consolidation",
              "statements", "year_end", "lock")
STEP_TITLES = {"journals_posted": "Journals posted", "subledgers": "Subledgers tied to control accounts",
               "settlement": "Settlement of open items", "revaluation": "Foreign-currency revaluation",
               "allocation": "Allocations", "consolidation": "Consolidation", "statements": "Statements",
               "year_end": "Year-end close", "lock": "Lock (period put on hold)"}
# figures of the steps that are money, in minor units: per entity (accounting currency) or group
MONEY_BY_ENTITY = ("gains", "losses", "profit_for_year")
MONEY_GROUP = ("consolidated_total",)
# per entity, in group currency: the translation reserve, each figure labelled (consolidation)
MONEY_GROUP_BY_ENTITY = ("cta_total", "cta_goodwill", "cta_nci_share", "cta_owners_share", "cta_movement")
TASK_COLUMNS = ["task", "name", "area", "owner", "entity", "due", "due_date", "depends_on", "status", "done",
                "blocked", "blocked_by", "overdue", "days_overdue", "required", "step", "outcome", "figures", "source"]
PROGRESS_COLUMNS = ["tasks", "done", "remaining", "overdue", "blocked", "progress"]


# --------------------------------------------------------------------------- working days

def working_day(period_end, offset: int) -> dt.date:
    """The due date ``offset`` working days from the period's last working day."""
    end = np.datetime64(pd.Timestamp(period_end).date(), "D")
    return pd.Timestamp(np.busday_offset(end, int(offset), roll="backward")).date()


def working_days_between(start: dt.date, end: dt.date) -> int:
    """Working days after ``start`` up to and including ``end`` (0 when end <= start)."""
    if end <= start:
        return 0
    return int(np.busday_count(np.datetime64(start, "D") + 1, np.datetime64(end, "D") + 1))


# --------------------------------------------------------------------------- the tasks frame

def _text(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        if np.isnan(v):
            return ""
        if v.is_integer():
            return str(int(v))
    return str(v).strip()


def _normalise(tasks: pd.DataFrame) -> pd.DataFrame:
    """Typed task columns with their defaults (the loader's frame, or a test's)."""
    t = tasks.reset_index(drop=True).copy()
    n = len(t)
    for c in ("task", "name", "area", "owner", "entity", "depends_on", "status", "step", "source"):
        t[c] = [_text(v) for v in t[c]] if c in t else [""] * n
    t["status"] = t["status"].replace("", "Not started")
    t["due"] = pd.to_numeric(t["due"], errors="coerce").fillna(0).astype("int64") if "due" in t else 0
    if "required" in t:
        t["required"] = [True if v is None or (isinstance(v, float) and np.isnan(v)) or v == "" else
                         (v if isinstance(v, (bool, np.bool_)) else str(v).strip().upper() in ("Y", "YES", "TRUE", "1"))
                         for v in t["required"]]
    else:
        t["required"] = True
    t["required"] = t["required"].astype(bool)
    return t


def dependencies(value: str) -> list[str]:
    """The task ids of a ``depends_on`` cell (comma- or semicolon-separated)."""
    return [p.strip() for p in re.split(r"[,;]", value or "") if p.strip()]


def task_findings(book) -> list[Finding]:
    """Errors of the Tasks sheet's dependencies: unknown task ids and circles."""
    raw = book.tasks
    if not len(raw):
        return []
    t = _normalise(raw)
    ids = set(t["task"])
    first = {}
    for i, tid in enumerate(t["task"]):
        first.setdefault(tid, i)
    out = []
    graph: dict[str, list[str]] = {}
    for i, r in t.iterrows():  # one per task
        deps = dependencies(r["depends_on"])
        for d in deps:
            if d not in ids:
                out.append(book.finding(raw.iloc[i], "depends_on", f"Task {r['task']} depends on {d}, which is not a "
                                        "task of the Tasks sheet.", hint=f"Correct the id {d!r} or add that task.",
                                        code="task-unknown-dependency"))
        if first[r["task"]] == i:
            graph[r["task"]] = [d for d in deps if d in ids]
    for cycle in _cycles(graph):
        rows = [raw.iloc[first[tid]] for tid in cycle]
        cells = ", ".join(_where(book, row, "depends_on") for row in rows)
        path = " → ".join(list(cycle) + [cycle[0]])
        out.append(book.finding(rows[0], "depends_on", f"Tasks {path} depend on each other in a circle ({cells}): "
                                "none of them can ever start.", hint="Remove one of the dependencies so the tasks "
                                "can be done in some order.", code="task-cycle"))
    return out


def _where(book, row, column) -> str:
    loc = book.locate(row, column)
    return "!".join(p for p in (loc["file"], loc["sheet"], loc["cell"]) if p)


def _cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Each circle of dependencies once (strongly connected components with a loop), with
    its tasks in sheet order starting from the first; iterative Tarjan."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    comps: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            deps = graph.get(node, [])
            if i < len(deps):
                work.append((node, i + 1))
                nxt = deps[i]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                if len(comp) > 1 or node in graph.get(node, []):
                    comps.append(comp)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    order = {t: i for i, t in enumerate(graph)}
    out = []
    for comp in comps:
        members = set(comp)
        start = min(comp, key=order.get)
        # walk the circle from the first task, following dependencies inside the component
        path, seen, node = [start], {start}, start
        while True:
            nxt = next((d for d in graph[node] if d in members and d not in seen), None)
            if nxt is None:
                break
            path.append(nxt)
            seen.add(nxt)
            node = nxt
        path += sorted(members - seen, key=order.get)
        out.append(path)
    return sorted(out, key=lambda p: order[p[0]])


# --------------------------------------------------------------------------- step outcomes

@dataclass(frozen=True)
class StepOutcome:
    """What an automated step of the close did, for the checklist."""

    step: str
    outcome: str  # "done", "errors", "not run", "blocked", "On hold", "left Open", …
    ok: bool  # a task standing for the step counts as done
    lines: int = 0
    errors: int = 0
    warnings: int = 0
    figures: tuple = ()  # (figure, entity, value, unit): value an int, a Decimal (money) or text

    @property
    def summary(self) -> str:
        return figures_text(self.figures)


def figures_text(figures) -> str:
    parts: dict[str, list[str]] = {}
    for fig, ent, val, unit in figures:
        shown = f"{_show(val)}{' ' + unit if unit else ''}"
        parts.setdefault(fig.replace("_", " "), []).append(f"{ent} {shown}" if ent else shown)
    return "; ".join(f"{k}: {', '.join(v)}" for k, v in parts.items())


def _show(v) -> str:
    if isinstance(v, Decimal):
        return f"{v:,}"
    return str(v)


def _money(minor: int, ccy: str) -> Decimal:
    scale = money.scale_of(ccy) if ccy else 2
    return Decimal(int(minor)).scaleb(-scale)


def flatten_figures(step: str, figures: dict, ent_ccy: dict, group_ccy: str) -> tuple:
    """A step's ``figures`` dict as (figure, entity, value, unit) rows; money in minor units
    becomes a Decimal of its currency."""
    rows = []
    for k, v in figures.items():
        if isinstance(v, dict):
            for e in sorted(v):
                x = v[e]
                if k in MONEY_GROUP_BY_ENTITY and isinstance(x, (int, np.integer)):
                    rows.append((k, str(e), _money(int(x), group_ccy), group_ccy))
                elif k in MONEY_BY_ENTITY and isinstance(x, (int, np.integer)):
                    ccy = ent_ccy.get(e, group_ccy)
                    rows.append((k, str(e), _money(int(x), ccy), ccy))
                else:
                    rows.append((k, str(e), x if isinstance(x, (int, str, Decimal)) else str(x), ""))
        elif k in MONEY_GROUP and isinstance(v, (int, np.integer)):
            rows.append((k, "", _money(int(v), group_ccy), group_ccy))
        elif isinstance(v, (bool, np.bool_)):
            rows.append((k, "", "yes" if v else "no", ""))
        elif isinstance(v, (int, np.integer)):
            rows.append((k, "", int(v), ""))
        else:
            rows.append((k, "", str(v), ""))
    return tuple(rows)


def step_outcomes(book, result, lock: StepOutcome | None = None) -> dict[str, StepOutcome]:
    """The outcome of each step of a close (a :class:`closebatch.close.CloseResult`),
    including the checks of steps 2 and 3 (from its blockers) and, when given, the lock."""
    ent_ccy = book.entity_currency()
    gcur = book.settings.group_currency
    out = {}
    unposted = [b for b in result.blockers if b.code == "unposted"]
    posted = result.posted_inputs
    out["journals_posted"] = StepOutcome(
        "journals_posted", "done" if not unposted else "blocked", not unposted,
        figures=(("lines_posted", "", int(len(posted)) if posted is not None else 0, ""),
                 ("unposted_journals", "", len(unposted), "")))
    diffs = [b for b in result.blockers if b.code == "subledger-difference"]
    sl = book.subledgers
    n_sl = int(((sl["period"].fillna("") == "") | (sl["period"] == result.period.name)).sum()) if len(sl) else 0
    out["subledgers"] = StepOutcome("subledgers", "done" if not diffs else "blocked", not diffs,
                                    figures=(("subledger_balances", "", n_sl, ""), ("differences", "", len(diffs), "")))
    for name, r in result.steps.items():
        if name in ("lock",):
            continue
        errs = sum(f.is_error for f in r.findings)
        warns = len(r.findings) - errs
        word = "errors" if errs else ("not the year end" if name == "year_end" and not result.period.year_end
                                      else "done")
        out[name] = StepOutcome(name, word, not errs, lines=int(len(r.lines)), errors=errs,
                                warnings=warns, figures=flatten_figures(name, r.figures, ent_ccy, gcur))
    if "statements" not in out:
        # the statements of a close are written with its outputs
        out["statements"] = StepOutcome("statements", "done", True)
    if lock is not None:
        out["lock"] = lock
    return {k: out[k] for k in sorted(out, key=lambda s: (STEP_ORDER.index(s) if s in STEP_ORDER else 99, s))}


# --------------------------------------------------------------------------- the checklist

@dataclass
class Checklist:
    period: str
    period_end: dt.date
    today: dt.date
    tasks: pd.DataFrame  # TASK_COLUMNS
    steps: pd.DataFrame  # step, title, outcome, lines, errors, warnings, tasks, figures
    figures: pd.DataFrame  # step, figure, entity, value, unit
    by_area: pd.DataFrame
    by_owner: pd.DataFrame
    summary: dict = field(default_factory=dict)  # total, done, remaining, overdue, blocked
    findings: list = field(default_factory=list)

    def open_required(self, entities=None) -> pd.DataFrame:
        """Required tasks not done that block the lock: manual tasks, and tasks of steps the
        close did not run (a step that ran and failed is a blocker of its own; the lock task
        waits for the lock).  With ``entities``, only the tasks of those entities (a close
        of some entities)."""
        t = self.tasks
        m = t["required"] & ~t["done"] & (t["step"] != "lock") & (t["outcome"] == "")
        if entities is not None:
            m &= t["entity"].isin(list(entities))
        return t[m]


def build(tasks: pd.DataFrame, period: str, period_end, today, outcomes: dict | None = None) -> Checklist:
    """The checklist of ``period`` as of ``today``.  ``outcomes`` (from
    :func:`step_outcomes`) are None when no close ran (``closebatch status``): automated
    tasks then keep the status the sheet gives them."""
    end = pd.Timestamp(period_end).date()
    today = pd.Timestamp(today).date()
    outcomes = outcomes or {}
    t = _normalise(tasks) if len(tasks) else _normalise(pd.DataFrame(columns=["task", "name"]))
    n = len(t)
    due_date = [working_day(end, d) for d in t["due"]]
    auto = [outcomes.get(s) if s else None for s in t["step"]]
    done = np.array([(o.ok if o is not None else st == DONE) for o, st in zip(auto, t["status"])], dtype=bool)
    first = {}
    for i, tid in enumerate(t["task"]):
        first.setdefault(tid, i)
    blocked_by = []
    for i in range(n):
        deps = [d for d in dependencies(t["depends_on"].iloc[i]) if d in first]
        blocked_by.append(", ".join(d for d in deps if not done[first[d]]) if not done[i] else "")
    blocked = np.array([bool(b) for b in blocked_by], dtype=bool)
    overdue = np.array([not done[i] and due_date[i] < today for i in range(n)], dtype=bool)
    days_over = [working_days_between(due_date[i], today) if overdue[i] else 0 for i in range(n)]
    table = pd.DataFrame({
        "task": t["task"], "name": t["name"], "area": t["area"], "owner": t["owner"], "entity": t["entity"],
        "due": t["due"].astype("int64"), "due_date": pd.to_datetime(pd.Series(due_date, dtype=object)),
        "depends_on": t["depends_on"],
        "status": [("Done (automated)" if o.ok else f"{st} (step: {o.outcome})") if o is not None else st
                   for o, st in zip(auto, t["status"])],
        "done": done, "blocked": blocked, "blocked_by": blocked_by, "overdue": overdue,
        "days_overdue": pd.Series(days_over, dtype="int64"), "required": t["required"].to_numpy(dtype=bool),
        "step": t["step"], "outcome": [o.outcome if o is not None else "" for o in auto],
        "figures": [o.summary if o is not None else "" for o in auto], "source": t["source"]},
        columns=TASK_COLUMNS)
    steps_rows, fig_rows = [], []
    for name, o in outcomes.items():
        ids = ", ".join(t.loc[t["step"] == name, "task"])
        steps_rows.append({"step": name, "title": STEP_TITLES.get(name, name), "outcome": o.outcome,
                           "lines": o.lines, "errors": o.errors, "warnings": o.warnings, "tasks": ids,
                           "figures": o.summary})
        fig_rows += [{"step": name, "figure": f, "entity": e, "value": v, "unit": u} for f, e, v, u in o.figures]
    steps = pd.DataFrame(steps_rows, columns=["step", "title", "outcome", "lines", "errors", "warnings", "tasks",
                                              "figures"])
    figures = pd.DataFrame(fig_rows, columns=["step", "figure", "entity", "value", "unit"])
    return Checklist(period=period, period_end=end, today=today, tasks=table, steps=steps, figures=figures,
                     by_area=progress(table, "area"), by_owner=progress(table, "owner"), summary=summary(table))


def summary(table: pd.DataFrame) -> dict:
    """The tiles: tasks done, remaining, overdue and blocked."""
    n, d = len(table), int(table["done"].sum())
    return {"total": n, "done": d, "remaining": n - d, "overdue": int(table["overdue"].sum()),
            "blocked": int(table["blocked"].sum())}


def progress(table: pd.DataFrame, by: str, blank: str = "(none)") -> pd.DataFrame:
    """Tasks, done, remaining, overdue, blocked and the share done per value of ``by``."""
    if not len(table):
        return pd.DataFrame(columns=[by, *PROGRESS_COLUMNS])
    key = table[by].replace("", blank)
    g = table.assign(_k=key).groupby("_k", sort=True)
    df = pd.DataFrame({"tasks": g.size(), "done": g["done"].sum(), "overdue": g["overdue"].sum(),
                       "blocked": g["blocked"].sum()}).astype("int64")
    df["remaining"] = df["tasks"] - df["done"]
    df["progress"] = (df["done"] / df["tasks"]).astype(float)
    df = df.reset_index().rename(columns={"_k": by})
    return df[[by, *PROGRESS_COLUMNS]]


def entity_progress(table: pd.DataFrame, entities: pd.DataFrame, closed: dict, blockers_by_entity: dict,
                    figures: pd.DataFrame) -> pd.DataFrame:
    """Per entity: whether it is closed for the period, its tasks (an ``entity`` column of
    the Tasks sheet; tasks without one belong to the group), its blockers, and the money
    figures of the steps (revaluation gains and losses, CTA, profit for the year)."""
    rows = []
    prog = progress(table[table["entity"] != ""], "entity").set_index("entity") if len(table) else None
    for _, e in entities.iterrows():  # one per entity
        code = e["entity"]
        row = {"entity": code, "name": e.get("name", ""), "currency": e.get("currency", ""),
               "closed": closed.get(code, "no"), "blockers": int(blockers_by_entity.get(code, 0))}
        for c in PROGRESS_COLUMNS:
            row[c] = (prog.loc[code, c] if prog is not None and code in prog.index else (0.0 if c == "progress" else 0))
        for fig, name in (("gains", "gains"), ("losses", "losses"), ("cta_total", "cta"),
                          ("profit_for_year", "profit_for_year")):
            hit = figures[(figures["figure"] == fig) & (figures["entity"] == code)] if len(figures) else figures
            row[name] = hit["value"].iloc[0] if len(hit) else None
        rows.append(row)
    cols = ["entity", "name", "currency", "closed", "blockers", *PROGRESS_COLUMNS, "gains", "losses", "cta",
            "profit_for_year"]
    return pd.DataFrame(rows, columns=cols)


def finding_entities(findings, frames) -> list[str]:
    """The entity each finding is about, found from its file, sheet and row in ``frames``
    (frames with ``entity`` and lineage columns); "" when none.  Only the rows findings
    point at are looked at (a handful among a million journal lines)."""
    wanted: dict = {}
    for i, f in enumerate(findings):
        m = re.search(r"(\d+)$", f.cell or "")
        if m:
            wanted.setdefault((f.file, f.sheet, int(m.group(1))), []).append(i)
    out = [""] * len(findings)
    if not wanted:
        return out
    rows = sorted({r for _, _, r in wanted})
    where = {}
    for df in frames:
        if df is None or not len(df) or "entity" not in df or "_row" not in df:
            continue
        hit = df[df["_row"].isin(rows).to_numpy()]
        for f, s, r, e in zip(hit["_file"], hit["_sheet"], hit["_row"], hit["entity"]):
            where.setdefault((f, s, int(r)), _text(e))
    for key, idx in wanted.items():
        for i in idx:
            out[i] = where.get(key, "")
    return out


def task_blocker_findings(book, cl: Checklist, entities=None) -> list[Finding]:
    """A blocker (a warning) for each required task that is not done."""
    raw = book.tasks.reset_index(drop=True)
    out = []
    for i, r in cl.open_required(entities).iterrows():
        why = f"is {r['status']}" + (f", waiting for {r['blocked_by']}" if r["blocked_by"] else "")
        who = f"; owner {r['owner']}" if r["owner"] else ""
        out.append(book.finding(raw.iloc[i], "status", f"Required task {r['task']} ({r['name']}) {why}{who}, due "
                                f"{r['due_date']:%Y-%m-%d}.", hint="Finish the task and set its status to Done, or "
                                "mark it required = N.", severity=WARNING, code="task-open"))
    return out


__all__ = ["Checklist", "StepOutcome", "build", "dependencies", "entity_progress", "finding_entities",
           "flatten_figures", "progress", "step_outcomes", "summary", "task_blocker_findings", "task_findings",
           "working_day", "working_days_between"]
