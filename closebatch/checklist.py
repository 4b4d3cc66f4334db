"""The close checklist (the Tasks sheet) as of a day: due dates, dependencies, progress.

Everything here is pure: the tasks frame, the period end, *today* and the outcomes of the
automated steps go in; a :class:`Checklist` (the task table with its flags, the summary
tiles, progress per area, owner and entity, each step's outcome and figures) and findings
come out.  Only :mod:`closebatch.app` and :mod:`closebatch.cli` read the clock.

Rules (spec section 2, Tasks; decisions where the spec is silent are marked *decision*):

* ``due`` counts working days (Monday to Friday; *decision*: no holiday calendar) from the
  period's last working day: ``0`` is the period end, or the Friday before it when it falls on
  a weekend; ``-2`` is two working days before that; ``3`` three working days after it.
* ``Tasks`` is the recurring list.  With a ``Checklist`` sheet (spec v1.1) each period has its
  own statuses and sign-offs: a task without a Checklist row for the period is Not started,
  so a new period starts afresh.  Without any Checklist sheet, ``Tasks.status`` is the status
  of the period being closed (v1).
* A task that stands for an automated step (``step``) is done by the close when that step ran
  without errors (journals posted: no unposted line; subledgers: no difference; lock: the
  period was put on hold), whatever a sheet says; a person's task (no ``step``) is done only
  when a person marks it Done.  With a Checklist, a task with ``review`` = Y is done only when
  it is also reviewed: ``reviewed_by`` and ``reviewed_on`` filled in, by someone other than
  ``prepared_by`` (*decision*: a review needs a preparer to be told apart from, so a Done
  task under review names its preparer; for an automated task the preparer is the close).
* When no close runs (``closebatch status``), an automated task is done when its period is
  closed (On hold or Permanently closed: the lock needs every step clean), and otherwise
  waits for the close.
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

from . import money, registry
from .core import WARNING, Finding

DONE = "Done"
STEP_ORDER = registry.STEP_NAMES
STEP_TITLES = {s.name: s.title for s in registry.STEPS}
TASK_COLUMNS = ["task", "name", "area", "owner", "entity", "due", "due_date", "depends_on", "status", "done",
                "blocked", "blocked_by", "overdue", "days_overdue", "required", "step", "outcome", "figures", "source",
                "done_by", "review", "prepared_by", "prepared_on", "reviewed_by", "reviewed_on", "note", "waiting_for"]
SIGNOFF_COLUMNS = ["status", "prepared_by", "prepared_on", "reviewed_by", "reviewed_on", "note"]
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
    t["required"] = _yes_no(t, "required", True)
    t["review"] = _yes_no(t, "review", False)
    return t


def _yes_no(t: pd.DataFrame, col: str, default: bool) -> np.ndarray:
    if col not in t:
        return np.full(len(t), default, dtype=bool)
    return np.array([default if v is None or (isinstance(v, float) and np.isnan(v)) or v == "" else
                     (bool(v) if isinstance(v, (bool, np.bool_)) else str(v).strip().upper() in ("Y", "YES", "TRUE",
                                                                                                 "1"))
                     for v in t[col]], dtype=bool)


def _day(v):
    """A sign-off date as a date (None when blank)."""
    if v is None or v == "":
        return None
    try:
        ts = pd.Timestamp(v)
    except (TypeError, ValueError):
        return None
    return None if pd.isna(ts) else ts.date()


def signoffs(checklist: pd.DataFrame | None, period: str) -> dict:
    """The Checklist rows of ``period``: task id -> {status, prepared_by, prepared_on,
    reviewed_by, reviewed_on, note, row} (``row`` the lineage of the sheet row)."""
    if checklist is None or not len(checklist):
        return {}
    c = checklist[checklist["period"].map(_text) == str(period)]
    out = {}
    for r in c.to_dict("records"):
        out.setdefault(_text(r.get("task")), {
            "status": _text(r.get("status")) or "Not started", "prepared_by": _text(r.get("prepared_by")),
            "prepared_on": _day(r.get("prepared_on")), "reviewed_by": _text(r.get("reviewed_by")),
            "reviewed_on": _day(r.get("reviewed_on")), "note": _text(r.get("note")), "row": r})
    return out


def review_gap(sign: dict, automated: bool) -> str:
    """Why a task under review is not reviewed ("" when it is): no reviewer, no date, or the
    reviewer is the preparer."""
    by, on, prep = sign.get("reviewed_by", ""), sign.get("reviewed_on"), sign.get("prepared_by", "")
    if not by:
        return "waiting for a reviewer's sign-off"
    if on is None:
        return f"reviewed by {by} without a date (reviewed_on)"
    if not automated and not prep:
        return "the review needs a preparer's sign-off (prepared_by) to be told apart from"
    if prep and by.strip().lower() == prep.strip().lower():
        return f"reviewed by its own preparer {by}; a review needs someone else"
    return ""


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


def checklist_findings(book) -> list[Finding]:
    """The Checklist's rows checked against the Tasks and Users sheets: a task id that is not
    a task (error); a sign-off by someone who is not in Users (warning, when Users has rows);
    a review by the task's own preparer, or a task under review marked Done without one
    (warning: the task stays not done)."""
    cl = book.checklist
    if cl is None or not len(cl):
        return []
    tasks = _normalise(book.tasks) if len(book.tasks) else _normalise(pd.DataFrame(columns=["task", "name"]))
    ids = set(tasks["task"])
    review = dict(zip(tasks["task"], tasks["review"]))
    step = dict(zip(tasks["task"], tasks["step"]))
    users = {str(u).strip().lower() for u in book.users["user"]} if len(book.users) else set()
    out = []
    for i, r in cl.reset_index(drop=True).iterrows():
        tid = _text(r["task"])
        if tid not in ids:
            out.append(book.finding(r, "task", f"Checklist row for task {tid} ({_text(r['period'])}): {tid} is not a "
                                    "task of the Tasks sheet.", hint="Use a task id from the Tasks sheet.",
                                    code="checklist-unknown-task"))
            continue
        for col in ("prepared_by", "reviewed_by"):
            who = _text(r.get(col))
            if who and users and who.lower() not in users:
                out.append(book.finding(r, col, f"Task {tid} ({_text(r['period'])}) is signed by {who}, who is not in "
                                        "the Users sheet.", hint=f"Add {who} to Users, or correct the name.",
                                        severity=WARNING, code="checklist-unknown-user"))
        sign = {k: (_day(r.get(k)) if k.endswith("_on") else _text(r.get(k))) for k in SIGNOFF_COLUMNS}
        if review.get(tid) and (sign["status"] == DONE or step.get(tid)) and (sign["reviewed_by"] or
                                                                             sign["status"] == DONE):
            gap = review_gap(sign, bool(step.get(tid)))
            if gap:
                out.append(book.finding(r, "reviewed_by", f"Task {tid} ({_text(r['period'])}) needs a review: {gap}; "
                                        "it does not count as done.", hint="Have someone other than the preparer "
                                        "review it and fill in reviewed_by and reviewed_on.", severity=WARNING,
                                        code="checklist-review"))
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
            kind = registry.figure_kind(step, k)
            for e in sorted(v):
                x = v[e]
                if kind == "money_group_by_entity" and isinstance(x, (int, np.integer)):
                    rows.append((k, str(e), _money(int(x), group_ccy), group_ccy))
                elif kind == "money_acct_by_entity" and isinstance(x, (int, np.integer)):
                    ccy = ent_ccy.get(e, group_ccy)
                    rows.append((k, str(e), _money(int(x), ccy), ccy))
                else:
                    rows.append((k, str(e), x if isinstance(x, (int, str, Decimal)) else str(x), ""))
        elif registry.figure_kind(step, k) == "money_group" and isinstance(v, (int, np.integer)):
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
    for name, r in result.steps.items():
        if name in ("lock",):
            continue
        st = registry.step(name)
        errs = sum(f.is_error for f in r.findings)
        warns = len(r.findings) - errs
        blocked = st is not None and any(f.code in st.blocks for f in r.findings)
        word = "errors" if errs else "blocked" if blocked else (
            "not the year end" if name == "year_end" and not result.period.year_end else "done")
        out[name] = StepOutcome(name, word, not errs and not blocked, lines=int(len(r.lines)), errors=errs,
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
    v11: bool = False  # statuses and sign-offs from a Checklist sheet

    def open_required(self, entities=None) -> pd.DataFrame:
        """Required tasks not done that block the lock: manual tasks, and tasks of steps the
        close did not run (a step that ran and failed is a blocker of its own; the lock task
        waits for the lock).  With ``entities``, only the tasks of those entities (a close
        of some entities)."""
        t = self.tasks
        reviewing = (t["step"] != "") & t["waiting_for"].str.contains("review", regex=False)
        m = t["required"] & ~t["done"] & (t["step"] != "lock") & ((t["outcome"] == "") | reviewing)
        if entities is not None:
            m &= t["entity"].isin(list(entities))
        return t[m]


def build(tasks: pd.DataFrame, period: str, period_end, today, outcomes: dict | None = None,
          checklist: pd.DataFrame | None = None, closed: bool = False) -> Checklist:
    """The checklist of ``period`` as of ``today``.  ``outcomes`` (from :func:`step_outcomes`)
    are None when no close ran (``closebatch status``): automated tasks are then done when the
    period is ``closed``.  ``checklist``: the Checklist sheets (None: the books have none, and
    ``Tasks.status`` is the period's status, as in v1)."""
    end = pd.Timestamp(period_end).date()
    today = pd.Timestamp(today).date()
    ran = outcomes is not None
    outcomes = outcomes or {}
    t = _normalise(tasks) if len(tasks) else _normalise(pd.DataFrame(columns=["task", "name"]))
    n = len(t)
    v11 = checklist is not None
    signs = signoffs(checklist, period) if v11 else {}
    due_date = [working_day(end, d) for d in t["due"]]
    done, status, done_by, waiting, outcome_text, figs = [], [], [], [], [], []
    for i in range(n):
        tid, step, review = t["task"].iloc[i], t["step"].iloc[i], bool(t["review"].iloc[i]) and v11
        sign = signs.get(tid, {"status": "Not started"} if v11 else {"status": t["status"].iloc[i]})
        o = outcomes.get(step) if step else None
        if step and v11:
            ok = o.ok if o is not None else (closed and not ran)
            gap = review_gap(sign, True) if review and ok else ""
            d = ok and not gap
            word = ("Done (by the close" + (", reviewed" if review else "") + ")" if d else
                    "Done by the close, " + gap if ok else
                    (f"Not done (step: {o.outcome})" if o is not None else "Waits for the close"))
            who = "closebatch close" + (f"; reviewed by {sign.get('reviewed_by')}" if review and d else "")
            wait = gap if ok else ("the close" if o is None else f"step {step}: {o.outcome}")
        elif step:  # v1: the step's outcome when the close ran it, else the sheet
            d = o.ok if o is not None else sign["status"] == DONE
            word = ("Done (automated)" if o.ok else f"{sign['status']} (step: {o.outcome})") if o is not None \
                else sign["status"]
            who, wait = ("closebatch close" if o is not None and o.ok else ""), ""
        else:
            marked = sign["status"] == DONE
            gap = review_gap(sign, False) if review and marked else ""
            d = marked and not gap
            word = sign["status"] + (", reviewed" if review and d else f" ({gap})" if gap else "")
            who = sign.get("prepared_by", "") + (f"; reviewed by {sign.get('reviewed_by')}" if review and d else "")
            wait = gap or ("" if d else (sign.get("prepared_by") or t["owner"].iloc[i] or "a person"))
        done.append(bool(d))
        status.append(word)
        done_by.append(who if d else "")
        waiting.append("" if d else wait)
        outcome_text.append(_outcome_text(o) if o is not None else "")
        figs.append(o.summary if o is not None else "")
    done = np.array(done, dtype=bool)
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
    col = lambda k: [signs.get(tid, {}).get(k) or ("" if not k.endswith("_on") else None)  # noqa: E731
                     for tid in t["task"]]
    table = pd.DataFrame({
        "task": t["task"], "name": t["name"], "area": t["area"], "owner": t["owner"], "entity": t["entity"],
        "due": t["due"].astype("int64"), "due_date": pd.to_datetime(pd.Series(due_date, dtype=object)),
        "depends_on": t["depends_on"], "status": status,
        "done": done, "blocked": blocked, "blocked_by": blocked_by, "overdue": overdue,
        "days_overdue": pd.Series(days_over, dtype="int64"), "required": np.asarray(t["required"], dtype=bool),
        "step": t["step"], "outcome": outcome_text, "figures": figs, "source": t["source"], "done_by": done_by,
        "review": np.asarray(t["review"], dtype=bool) & v11, "prepared_by": col("prepared_by"),
        "prepared_on": pd.to_datetime(pd.Series(col("prepared_on"), dtype=object)),
        "reviewed_by": col("reviewed_by"), "reviewed_on": pd.to_datetime(pd.Series(col("reviewed_on"), dtype=object)),
        "note": col("note"), "waiting_for": waiting},
        columns=TASK_COLUMNS)
    steps_rows, fig_rows = [], []
    for name, o in outcomes.items():
        ids = ", ".join(t.loc[t["step"] == name, "task"])
        steps_rows.append({"step": name, "title": STEP_TITLES.get(name, name), "outcome": _outcome_text(o),
                           "lines": o.lines, "errors": o.errors, "warnings": o.warnings, "tasks": ids,
                           "figures": o.summary})
        fig_rows += [{"step": name, "figure": f, "entity": e, "value": v, "unit": u} for f, e, v, u in o.figures]
    steps = pd.DataFrame(steps_rows, columns=["step", "title", "outcome", "lines", "errors", "warnings", "tasks",
                                              "figures"])
    figures = pd.DataFrame(fig_rows, columns=["step", "figure", "entity", "value", "unit"])
    return Checklist(period=period, period_end=end, today=today, tasks=table, steps=steps, figures=figures,
                     by_area=progress(table, "area"), by_owner=progress(table, "owner"), summary=summary(table),
                     v11=v11)


def _outcome_text(o: StepOutcome) -> str:
    """A step's outcome with its warnings counted: a step that ran clean with warnings says so."""
    if o.warnings and o.outcome == "done":
        return f"done, {o.warnings} warning(s)"
    return o.outcome


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


ENTITY_STEPS = ("journals_posted", "subledgers", "settlement", "revaluation", "allocation", "consolidation",
                "statements")
STEP_BLOCKERS = {"journals_posted": ("unposted",), "subledgers": ("subledger-difference",)}
ENTITY_COLUMNS = ["entity", "name", "closed", "blockers", *PROGRESS_COLUMNS, "accounting_currency", "fx_gains",
                  "fx_losses", "profit_for_year", "group_currency", "cta"]


def entity_progress(table: pd.DataFrame, entities: pd.DataFrame, closed: dict, blockers_by_entity: dict,
                    figures: pd.DataFrame, outcomes: dict | None = None, profit: dict | None = None,
                    group_currency: str = "") -> pd.DataFrame:
    """Per entity: whether it is closed for the period, its blockers, its progress and its
    figures.  Its tasks are the Tasks rows with its ``entity`` and the close's automated steps
    (:data:`ENTITY_STEPS`, each counted once per entity: done when the step ran without
    errors and without a blocker of that entity, e.g. an unposted journal of it).  Money is in
    minor units with its currency beside it: the revaluation's unrealized gains and losses
    and the profit for the year in the entity's accounting currency, the translation reserve
    (CTA; a credit, negative, is a gain) in the group currency.  ``blockers_by_entity``:
    entity -> the codes of its blockers."""
    outcomes = outcomes or {}
    profit = profit or {}
    rows = []
    for _, e in entities.iterrows():  # one per entity
        code, ccy = e["entity"], str(e.get("currency", "") or "")
        mine = table[table["entity"] == code] if len(table) else table
        codes = list(blockers_by_entity.get(code, []))
        is_closed = closed.get(code, "no") == "yes"
        auto = [is_closed or (o.ok and not any(c in codes for c in STEP_BLOCKERS.get(s, ())))
                for s, o in outcomes.items() if s in ENTITY_STEPS]
        n = len(mine) + len(auto)
        d = int(mine["done"].sum()) + sum(auto) if n else 0
        row = {"entity": code, "name": e.get("name", ""), "closed": "yes" if is_closed else "no",
               "blockers": len(codes), "tasks": n, "done": d, "remaining": n - d,
               "overdue": int(mine["overdue"].sum()) if len(mine) else 0,
               "blocked": int(mine["blocked"].sum()) if len(mine) else 0, "progress": d / n if n else 0.0,
               "accounting_currency": ccy, "group_currency": group_currency}
        for fig, name, cur in (("gains", "fx_gains", ccy), ("losses", "fx_losses", ccy),
                               ("cta_total", "cta", group_currency)):
            hit = figures[(figures["figure"] == fig) & (figures["entity"] == code)] if len(figures) else figures
            v = hit["value"].iloc[0] if len(hit) else None
            row[name] = _minor(v, cur) if isinstance(v, (Decimal, int, np.integer)) else None
        row["profit_for_year"] = int(profit[code]) if code in profit else None
        rows.append(row)
    df = pd.DataFrame(rows, columns=ENTITY_COLUMNS)
    for c in ("fx_gains", "fx_losses", "profit_for_year", "cta"):
        df[c] = pd.array(df[c], dtype="Int64")
    return df


def _minor(v, ccy: str) -> int:
    """A money figure (a Decimal of its currency, or minor units) in minor units."""
    if isinstance(v, Decimal):
        return int(v.scaleb(money.scale_of(ccy) if ccy else 2))
    return int(v)


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
    signs = signoffs(book.checklist, cl.period) if cl.v11 else {}
    out = []
    for i, r in cl.open_required(entities).iterrows():
        why = (f"is {r['status']}" if not r["step"] else f"is not done ({r['status']})") + \
            (f", waiting for {r['blocked_by']}" if r["blocked_by"] else "")
        who = f"; owner {r['owner']}" if r["owner"] else ""
        reviewing = "review" in r["waiting_for"]
        row, column = raw.iloc[i], "task" if cl.v11 else "status"  # v1.1: the status is the Checklist's
        if r["task"] in signs:  # the period's own row of the Checklist, where it is to be signed
            row, column = signs[r["task"]]["row"], "reviewed_by" if reviewing else "status"
        out.append(book.finding(row, column, f"Required task {r['task']} ({r['name']}) {why}{who}, due "
                                f"{r['due_date']:%Y-%m-%d}.", hint=("Have it reviewed: fill in reviewed_by and "
                                "reviewed_on in the Checklist." if reviewing else
                                "Finish the task and mark it Done in the Checklist (closebatch checklist writes one), "
                                "or mark it required = N." if cl.v11 else "Finish the task and set its status to "
                                "Done, or mark it required = N."), severity=WARNING, code="task-open"))
    return out


__all__ = ["Checklist", "StepOutcome", "build", "checklist_findings", "dependencies", "entity_progress", "finding_entities",
           "flatten_figures", "progress", "step_outcomes", "summary", "task_blocker_findings", "task_findings",
           "working_day", "working_days_between"]
