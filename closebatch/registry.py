"""The close's steps as data: one registry that the runner loops over and that every list of
steps derives from (the checklist's order and titles, the ``step`` values a task may name, the
journal types of the ledger journal, the workbooks a close writes, the kinds of the figures).

Each :class:`Step` is run as ``run(ctx, state) -> StepResult`` in the order of :data:`STEPS`
(spec section 3); ``ctx.earlier`` holds the results of the steps before it.  (The runner,
:func:`closebatch.close.run_close`, imports this module when it runs: this module imports
the steps' modules, the runner among them.)  A step's
``finish(ctx, result, steps)``, when it has one, completes its result once every step has run
(settlement's open items take in what later steps posted on them).  Steps with no ``run`` are
the close's own checks or decisions (the lock), recorded by the runner or the app.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from .core import INPUT_JOURNAL_TYPES


@dataclass(frozen=True)
class Step:
    name: str  # also the value of a task's ``step`` column
    title: str  # as the checklist shows it
    run: Callable | None = None  # (CloseContext, LedgerState) -> StepResult
    finish: Callable | None = None  # (CloseContext, StepResult, steps) -> StepResult, after every step
    journal_type: str = ""  # the journal type of the lines it posts ("" when it posts none)
    workbook: str = ""  # the output workbook of its reports ("" when none)
    writer: str = "report"  # how the app writes that workbook: "report" (its tables) or a dedicated writer
    figures: dict = field(default_factory=dict)  # figure -> kind (see FIGURE_KINDS)
    blocks: tuple = ()  # codes of its findings that block the lock (warnings)
    posts: bool = False  # its lines enter the entities' ledger (those dated after the period wait for it)
    stage: str = ""  # what the progress display says while it runs ("" says nothing)
    task: bool = True  # a task of the checklist may stand for it


# the kinds of a step's figures: how the checklist shows them
FIGURE_KINDS = {
    "count": "a number of things",
    "text": "a word or phrase",
    "money_acct_by_entity": "per entity, minor units of its accounting currency",
    "money_group": "minor units of the group currency",
    "money_group_by_entity": "per entity, minor units of the group currency",
}


def _steps() -> tuple[Step, ...]:
    from . import close
    from .steps import allocation, consolidation, revaluation, settlement, year_end

    return (
        Step("journals_posted", "Journals posted", run=close.journals_posted, blocks=("unposted",),
             figures={"lines_posted": "count", "unposted_journals": "count"}),
        Step("settlement", "Settlement of open items", run=settlement.run, finish=settlement.finish,
             journal_type="settlement", workbook="settlement.xlsx", posts=True, stage="Settlement",
             figures={"settled_groups": "count", "settled_items": "count", "open_items": "count",
                      "unmatched_references": "count", "realized_lines": "count"}),
        Step("revaluation", "Foreign-currency revaluation", run=revaluation.revalue, journal_type="revaluation",
             workbook="revaluation.xlsx", posts=True, stage="Revaluation",
             figures={"balances_revalued": "count", "gains": "money_acct_by_entity",
                      "losses": "money_acct_by_entity"}),
        Step("subledgers", "Subledgers tied to control accounts", run=close.subledgers, stage="Subledgers",
             blocks=("subledger-difference",), figures={"subledger_balances": "count", "differences": "count"}),
        Step("allocation", "Allocations", run=allocation.allocate, journal_type="allocation",
             workbook="allocation.xlsx", posts=True, stage="Allocation", figures={"rules": "count", "lines": "count"}),
        Step("consolidation", "Consolidation", run=consolidation.consolidate, journal_type="elimination",
             workbook="consolidation.xlsx", writer="consolidation", stage="Consolidation",
             figures={"consolidated_entities": "count", "eliminations": "count", "consolidated_total": "money_group",
                      **{k: "money_group_by_entity" for k in consolidation.CTA_FIGURES}}),
        Step("statements", "Statements", run=close.statements_check, stage="Statements",
             figures={"statements": "count", "balanced": "text"}),
        Step("year_end", "Year-end close", run=year_end.close_year, journal_type="year_end", stage="Year-end",
             task=False,
             figures={"profit_for_year": "money_acct_by_entity", "closing_lines": "count"}),
        Step("lock", "Lock (period put on hold)",
             figures={"status": "text", "blockers": "count", "entities_closed": "text"}),
    )


STEPS: tuple[Step, ...] = _steps()
STEP_NAMES = tuple(s.name for s in STEPS)
TASK_STEPS = tuple(s.name for s in STEPS if s.task)  # the values of a task's ``step`` column
# the ledger journal's order of journal types: the input's, the reversals the close generates,
# then each step's
JOURNAL_TYPES = INPUT_JOURNAL_TYPES + ("reversal",) + tuple(s.journal_type for s in STEPS if s.journal_type)
FIGURES = {s.name: s.figures for s in STEPS}


def step(name: str) -> Step | None:
    return next((s for s in STEPS if s.name == name), None)


def figure_kind(step_name: str, figure: str) -> str:
    """The kind of a step's figure (FIGURE_KINDS); "count" for an int, "text" otherwise when
    the step does not declare it."""
    return FIGURES.get(step_name, {}).get(figure, "")
