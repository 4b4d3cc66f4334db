"""The close checklist as a pure function: working-day due dates, dependencies, circles,
overdue as of a fixed day, automated steps' outcomes and the summaries."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest

from builders import make_book
from closebatch import checklist
from closebatch.checklist import StepOutcome, build, working_day

D = dt.date
HEAD = ["task", "name", "area", "owner", "due", "depends_on", "status", "required", "step"]
LETTERS = {c: chr(ord("A") + i) for i, c in enumerate(HEAD)}


def tasks(*rows):
    return pd.DataFrame([dict(zip(HEAD, r)) for r in rows], columns=HEAD)


def book_with(*rows):
    book = make_book([["entity", "name", "currency"], ["E1", "One", "USD"]],
                     tasks=[HEAD] + [list(r) for r in rows])
    book.columns[("test.xlsx", "tasks")] = LETTERS
    return book


@pytest.mark.parametrize("end, due, expected", [
    # 31 January 2026 is a Saturday: the period's last working day is Friday the 30th
    (D(2026, 1, 31), 0, D(2026, 1, 30)),
    (D(2026, 1, 31), -1, D(2026, 1, 29)),
    (D(2026, 1, 31), -2, D(2026, 1, 28)),
    (D(2026, 1, 31), 1, D(2026, 2, 2)),  # the weekend is skipped
    (D(2026, 1, 31), 3, D(2026, 2, 4)),
    # 31 May 2026 is a Sunday
    (D(2026, 5, 31), 0, D(2026, 5, 29)),
    (D(2026, 5, 31), 1, D(2026, 6, 1)),
    # 31 March 2026 is a Tuesday: due 0 is the period end itself
    (D(2026, 3, 31), 0, D(2026, 3, 31)),
    (D(2026, 3, 31), -2, D(2026, 3, 27)),  # back over the weekend to Friday
    (D(2026, 3, 31), 3, D(2026, 4, 3)),
    (D(2026, 3, 31), 5, D(2026, 4, 7)),
])
def test_due_dates_count_working_days_from_the_period_end(end, due, expected):
    assert working_day(end, due) == expected


def test_dependencies_block_until_done():
    t = tasks(["A", "Reconcile bank", "Treasury", "ann", 0, "", "Done", "Y", ""],
              ["B", "Accruals", "GL", "bob", 0, "A", "Not started", "Y", ""],
              ["C", "Review", "GL", "bob", 0, "B", "In progress", "Y", ""],
              ["D", "Report", "GL", "ann", 0, "A; C", "Not started", "N", ""],
              ["E", "Done early", "GL", "ann", 0, "C", "Done", "Y", ""])
    cl = build(t, "2026-03", D(2026, 3, 31), D(2026, 3, 1))
    got = cl.tasks.set_index("task")
    assert got["blocked"].to_dict() == {"A": False, "B": False, "C": True, "D": True, "E": False}
    assert got.loc["C", "blocked_by"] == "B"
    assert got.loc["D", "blocked_by"] == "C"  # A is done
    assert got.loc["E", "blocked_by"] == ""  # a done task is never blocked
    assert checklist.dependencies("T01, T02;T03") == ["T01", "T02", "T03"]


def test_overdue_as_of_a_fixed_day():
    t = tasks(["A", "Before", "GL", "ann", -2, "", "Not started", "Y", ""],  # due Fri 27 Mar
              ["B", "On the day", "GL", "ann", 0, "", "In progress", "Y", ""],  # due Tue 31 Mar
              ["C", "Done late", "GL", "ann", -2, "", "Done", "Y", ""],
              ["D", "After", "GL", "bob", 3, "", "Not started", "Y", ""])  # due Fri 3 Apr
    cl = build(t, "2026-03", D(2026, 3, 31), D(2026, 3, 31))
    got = cl.tasks.set_index("task")
    assert got["due_date"].dt.date.to_dict() == {"A": D(2026, 3, 27), "B": D(2026, 3, 31), "C": D(2026, 3, 27),
                                                  "D": D(2026, 4, 3)}
    assert got["overdue"].to_dict() == {"A": True, "B": False, "C": False, "D": False}
    assert got.loc["A", "days_overdue"] == 2  # Monday 30 and Tuesday 31 March
    later = build(t, "2026-03", D(2026, 3, 31), D(2026, 4, 6)).tasks.set_index("task")
    assert later["overdue"].to_dict() == {"A": True, "B": True, "C": False, "D": True}
    assert later.loc["D", "days_overdue"] == 1  # Monday 6 April; the weekend does not count
    assert build(t, "2026-03", D(2026, 3, 31), D(2026, 4, 6)).summary == {
        "total": 4, "done": 1, "remaining": 3, "overdue": 3, "blocked": 0}


def test_a_circle_of_dependencies_is_an_error_naming_the_cells():
    book = book_with(["T1", "One", "", "", 0, "T3", "Not started", "Y", ""],
                     ["T2", "Two", "", "", 0, "T1", "Not started", "Y", ""],
                     ["T3", "Three", "", "", 0, "T2", "Not started", "Y", ""],
                     ["T4", "Self", "", "", 0, "T4", "Not started", "Y", ""],
                     ["T5", "Fine", "", "", 0, "T1", "Not started", "Y", ""])
    found = checklist.task_findings(book)
    cycles = [f for f in found if f.code == "task-cycle"]
    assert len(cycles) == 2 and all(f.is_error for f in cycles)
    first = cycles[0]
    assert first.cell == "F2" and first.column == "depends_on"
    assert "T1 → T3 → T2 → T1" in first.message
    assert "test.xlsx!tasks!F2" in first.message and "test.xlsx!tasks!F3" in first.message \
        and "test.xlsx!tasks!F4" in first.message
    assert "F6" not in first.message  # T5 only waits for the circle
    assert cycles[1].cell == "F5" and "T4 → T4" in cycles[1].message
    # the tasks in a circle are blocked, and so is the one waiting for them
    cl = build(book.tasks, "2026-01", D(2026, 1, 31), D(2026, 1, 30))
    assert cl.tasks["blocked"].tolist() == [True, True, True, True, True]


def test_an_unknown_task_in_depends_on_is_an_error():
    book = book_with(["T1", "One", "", "", 0, "", "Done", "Y", ""],
                     ["T2", "Two", "", "", 0, "T1, T9", "Not started", "Y", ""])
    found = checklist.task_findings(book)
    assert [(f.code, f.cell, f.severity) for f in found] == [("task-unknown-dependency", "F3", "error")]
    assert "T9" in found[0].message
    assert build(book.tasks, "2026-01", D(2026, 1, 31), D(2026, 1, 30)).tasks["blocked"].tolist() == [False, False]


def test_automated_tasks_follow_their_steps_outcome():
    t = tasks(["T1", "Post journals", "GL", "ann", -1, "", "Not started", "Y", "journals_posted"],
              ["T2", "Revalue", "GL", "ann", 1, "T1", "Not started", "Y", "revaluation"],
              ["T3", "Allocate", "Costs", "bob", 2, "T2", "Done", "Y", "allocation"],
              ["T4", "Lock", "GL", "ann", 3, "T2, T3", "Not started", "Y", "lock"],
              ["T5", "Forecast", "Treasury", "bob", 3, "", "In progress", "N", ""])
    outcomes = {"journals_posted": StepOutcome("journals_posted", "done", True),
                "revaluation": StepOutcome("revaluation", "done", True, lines=2,
                                           figures=(("gains", "E1", Decimal("4.00"), "USD"),)),
                "allocation": StepOutcome("allocation", "blocked", False),
                "lock": StepOutcome("lock", "left Open", False)}
    cl = build(t, "2026-01", D(2026, 1, 31), D(2026, 2, 2), outcomes)
    got = cl.tasks.set_index("task")
    assert got["done"].to_dict() == {"T1": True, "T2": True, "T3": False, "T4": False, "T5": False}
    assert got.loc["T2", "status"] == "Done (automated)"
    assert got.loc["T2", "figures"] == "gains: E1 4.00 USD"
    assert got.loc["T3", "status"] == "Done (step: blocked)"  # the step decides, not the sheet
    assert got.loc["T4", "blocked_by"] == "T3"
    # only manual tasks (and steps that did not run) become blockers of their own
    assert list(cl.open_required()["task"]) == []
    assert cl.steps.set_index("step").loc["revaluation", "tasks"] == "T2"
    assert cl.figures.to_dict("records") == [{"step": "revaluation", "figure": "gains", "entity": "E1",
                                              "value": Decimal("4.00"), "unit": "USD"}]
    # without a close (closebatch status) the sheet's statuses count
    plain = build(t, "2026-01", D(2026, 1, 31), D(2026, 2, 2)).tasks.set_index("task")
    assert plain["done"].to_dict() == {"T1": False, "T2": False, "T3": True, "T4": False, "T5": False}


def test_progress_per_area_and_owner():
    t = tasks(["A", "a", "GL", "ann", 0, "", "Done", "Y", ""],
              ["B", "b", "GL", "bob", -3, "", "Not started", "Y", ""],
              ["C", "c", "Treasury", "bob", 0, "B", "Not started", "Y", ""],
              ["D", "d", "", "", 0, "", "Done", "N", ""])
    cl = build(t, "2026-03", D(2026, 3, 31), D(2026, 3, 31))
    area = cl.by_area.set_index("area")
    assert area.loc["GL", ["tasks", "done", "remaining", "overdue", "blocked"]].tolist() == [2, 1, 1, 1, 0]
    assert area.loc["Treasury", ["tasks", "done", "blocked"]].tolist() == [1, 0, 1]
    assert area.loc["(none)", "progress"] == 1.0
    owner = cl.by_owner.set_index("owner")
    assert owner.loc["bob", ["tasks", "done", "overdue", "blocked"]].tolist() == [2, 0, 1, 1]
    assert cl.summary == {"total": 4, "done": 2, "remaining": 2, "overdue": 1, "blocked": 1}


def test_figures_of_steps_are_flattened_with_their_currencies():
    rows = checklist.flatten_figures("revaluation", {"balances_revalued": 3, "gains": {"E1": 400, "JP": 1200},
                                                     "losses": {"E1": 0}},
                                     {"E1": "USD", "JP": "JPY"}, "USD")
    assert rows == (("balances_revalued", "", 3, ""), ("gains", "E1", Decimal("4.00"), "USD"),
                    ("gains", "JP", Decimal("1200"), "JPY"), ("losses", "E1", Decimal("0.00"), "USD"))
    cons = checklist.flatten_figures("consolidation", {"eliminations": 2, "cta_total": {"S": -123456},
                                                       "consolidated_total": 0}, {"S": "GBP"}, "EUR")
    assert cons == (("eliminations", "", 2, ""), ("cta_total", "S", Decimal("-1234.56"), "EUR"),
                    ("consolidated_total", "", Decimal("0.00"), "EUR"))
    assert checklist.figures_text(rows) == "balances revalued: 3; gains: E1 4.00 USD, JP 1,200 JPY; losses: E1 0.00 USD"
