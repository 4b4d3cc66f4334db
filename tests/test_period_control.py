"""Period control end to end: statuses and their history, access groups, the blockers of
the lock, edits after the lock, the close workspace (close_status.xlsx) and mass close."""
from __future__ import annotations

import datetime as dt

import openpyxl
from click.testing import CliRunner

from books import D, master, write_books
from closebatch import app
from closebatch.cli import main

TODAY = dt.date(2026, 2, 3)  # a Tuesday; January ends on Saturday the 31st
JH = ["journal", "line", "date", "entity", "account", "currency", "debit", "credit", "posted", "prepared_by"]
TASKS = ["task", "name", "area", "owner", "due", "depends_on", "status", "required", "step"]


def periods(access="controllers"):
    rows = [["period", "start", "end", "fiscal_year", "status", "access_group"]]
    for m in (1, 2, 3):
        start = D(2026, m, 1)
        end = D(2026, m + 1, 1) - dt.timedelta(days=1)
        rows.append([f"2026-{m:02d}", start, end, 2026, "Open", access if m == 1 else None])
    return rows


def journals(prepared_c1="ann", u1_posted="N", c1_debit=50):
    return [JH,
            ["S1", 1, D(2026, 1, 10), "E1", "1100", "EUR", 200, None, "Y", "ann"],
            ["S1", 2, D(2026, 1, 10), "E1", "4000", "USD", None, 216, "Y", "ann"],
            ["C1", 1, D(2026, 1, 12), "E1", "6100", "USD", c1_debit, None, "Y", prepared_c1],
            ["C1", 2, D(2026, 1, 12), "E1", "1000", "USD", None, c1_debit, "Y", prepared_c1],
            ["U1", 1, D(2026, 1, 20), "E1", "6200", "USD", 30, None, u1_posted, "ann"],
            ["U1", 2, D(2026, 1, 20), "E1", "1000", "USD", None, 30, u1_posted, "ann"]]


def tasks(t2="Not started"):
    return [TASKS,
            ["T1", "January journals posted", "General ledger", "ann", -1, None, "Not started", "Y", "journals_posted"],
            ["T2", "Bank reconciliation", "Treasury", "cid", 1, None, t2, "Y", None],
            ["T3", "Revalue", "General ledger", "ann", 2, "T1", "Not started", "Y", "revaluation"],
            ["T4", "Cash forecast", "Treasury", "cid", 5, "T2", "In progress", "N", None],
            ["T5", "Put January on hold", "General ledger", "ann", 3, "T2,T3", "Not started", "Y", "lock"]]


def make_books(tmp_path, **kw):
    m = master(periods=periods())
    m["Users"] = [["user", "group"], ["ann", "controllers"], ["Cid", "Controllers"], ["bob", "staff"]]
    return write_books({
        "master.xlsx": m,
        "opening.xlsx": {"TrialBalance": [["entity", "account", "currency", "balance"],
                                          ["E1", "1000", "USD", 1000], ["E1", "3000", "USD", -1000]]},
        "journals.xlsx": {"Journals": journals(**{k: v for k, v in kw.items() if k != "ar"})},
        "rates.xlsx": {"Rates": [["from", "to", "date", "rate", "type"],
                                 ["EUR", "USD", D(2026, 1, 1), 1.08, "spot"],
                                 ["EUR", "USD", D(2026, 1, 31), 1.10, "closing"],
                                 ["EUR", "USD", D(2026, 2, 28), 1.10, "closing"]]},
        "subledgers.xlsx": {"Subledgers": [["entity", "module", "control_account", "balance_acct", "period"],
                                           ["E1", "AR", "1100", kw.get("ar", 200), "2026-01"]]},
        "checklist.xlsx": {"Tasks": tasks()},
    }, tmp_path / "books")


def sheet_rows(path, sheet):
    wb = openpyxl.load_workbook(path)
    rows = [list(r) for r in wb[sheet].iter_rows(values_only=True)]
    wb.close()
    return rows


def table(path, sheet):
    """A table's rows by header, headers normalised as the contract reads them ("Days overdue"
    is ``days_overdue``)."""
    rows = sheet_rows(path, sheet)
    return [dict(zip([norm(h) for h in rows[0]], r)) for r in rows[1:]]


def norm(h) -> str:
    return str(h or "").strip().lower().replace(" ", "_").replace("-", "_")


def tiles(path):
    """The Summary's tiles (the row of labels above the row of counts)."""
    rows = sheet_rows(path, "Summary")
    i = next(k for k, r in enumerate(rows) if "Done" in r)
    return {k: v for k, v in zip(rows[i], rows[i + 1]) if k}


def status_line(books, period):
    return next(line for line in app.status(books, today=TODAY).message.splitlines() if line.startswith(period))


def test_a_period_from_open_to_permanently_closed(tmp_path):
    books = make_books(tmp_path, prepared_c1="bob")
    assert "Open" in status_line(books, "2026-01")

    # access group: bob is not a controller; he may not close January
    refused = app.close_books(books, period="2026-01", user="bob", today=TODAY)
    assert refused.exit_code == 1
    assert "2026-01" in refused.message and "'controllers'" in refused.message and "'bob'" in refused.message
    # nor may ann post bob's journal into it: the cell of prepared_by is named
    res = app.close_books(books, period="2026-01", user="ann", today=TODAY)
    assert res.exit_code == 1
    bad = [f for f in res.errors if f.code == "access-group"]
    assert [(f.file, f.cell) for f in bad] == [("journals.xlsx", "J4"), ("journals.xlsx", "J5")]
    assert "bob" in bad[0].message and "2026-01" in bad[0].message
    write_books({"journals.xlsx": {"Journals": journals()}}, books)

    # close with blockers: unposted journal, subledger difference, a required manual task
    res = app.close_books(books, period="2026-01", user="ann", today=TODAY)
    assert res.exit_code == app.EXIT_BLOCKED, [f.message for f in res.errors]
    kinds = sorted(b.code for b in res.blockers)
    assert kinds == ["subledger-difference", "task-open", "unposted"]
    unposted = next(b for b in res.blockers if b.code == "unposted")
    assert (unposted.file, unposted.cell) == ("journals.xlsx", "I6")
    diff = next(b for b in res.blockers if b.code == "subledger-difference")
    assert "a difference of -20.00" in diff.message and diff.file == "subledgers.xlsx"
    task = next(b for b in res.blockers if b.code == "task-open")
    assert task.cell == "G3" and "T2" in task.message and "due 2026-02-02" in task.message
    assert "left Open" in res.message and "Open" in status_line(books, "2026-01")
    out = books / "out" / "2026-01" / "close_status.xlsx"
    # T1 (unposted lines) and T2 are overdue; T4 waits for T2; the lock task waits for T2
    assert tiles(out) == {"Done": 1, "Remaining": 4, "Overdue": 2, "Blocked tasks": 2, "Lock blockers": 3}
    listed = {t["task"]: t for t in table(out, "Tasks")}
    assert (listed["T1"]["done"], listed["T1"]["overdue"], listed["T1"]["days_overdue"]) == ("N", "Y", 3)
    assert (listed["T3"]["done"], listed["T3"]["status"]) == ("Y", "Done (automated)")
    steps = {r["step"]: r for r in table(out, "Steps")}  # each automated step's figures, beside its task
    assert steps["revaluation"]["figures"] == "balances revalued: 1; gains: E1 4.00 USD; losses: E1 0.00 USD"
    assert steps["revaluation"]["tasks"] == "T3"
    assert (listed["T5"]["blocked"], listed["T5"]["blocked_by"], listed["T5"]["outcome"]) == ("Y", "T2", "left Open")
    assert listed["T2"]["due_date"].date() == D(2026, 2, 2)
    blockers = table(out, "Blockers")
    assert sorted((b["kind"], b["entity"]) for b in blockers) == [
        ("subledger-difference", "E1"), ("task-open", None), ("unposted", "E1")]  # a task of the group
    summary = sheet_rows(out, "Summary")
    assert next(r for r in summary if r[0] == "Lock")[:2] == ["Lock", "left Open (3 blocker(s))"]
    # the conditional formats colour the task rows: done green, overdue red, blocked amber
    wb = openpyxl.load_workbook(out)
    col = {norm(c.value): c.column_letter for c in wb["Tasks"][1]}
    rules = [(r.formula[0], r.dxf.fill.bgColor.rgb) for cf in wb["Tasks"].conditional_formatting for r in cf.rules]
    assert rules == [(f'${col["done"]}2="Y"', "FFC6EFCE"), (f'${col["overdue"]}2="Y"', "FFFFC7CE"),
                     (f'${col["blocked"]}2="Y"', "FFFFEB9C")]
    assert wb["Summary"]["A5"].font.b and wb["Summary"]["A5"].font.sz == 28
    wb.close()
    # the period cannot be put on hold by hand past its blockers
    held = app.change_period(books, "2026-01", "hold", user="ann")
    assert held.exit_code == 1 and "2026-01" in held.message and "3 blocker(s)" in held.message

    # fix: post U1, correct the subledger, finish the bank reconciliation
    write_books({"journals.xlsx": {"Journals": journals(u1_posted="Y")},
                 "subledgers.xlsx": {"Subledgers": [["entity", "module", "control_account", "balance_acct", "period"],
                                                    ["E1", "AR", "1100", 220, "2026-01"]]},
                 "checklist.xlsx": {"Tasks": tasks(t2="Done")}}, books)
    res = app.close_books(books, period="2026-01", user="Cid", today=TODAY)  # a member, whatever the case
    assert res.exit_code == 0, [b.message for b in res.blockers] + [f.message for f in res.errors]
    assert "On hold" in status_line(books, "2026-01")
    assert tiles(out) == {"Done": 4, "Remaining": 1, "Overdue": 0, "Blocked tasks": 0, "Lock blockers": 0}
    steps = {r["step"]: r for r in table(out, "Steps")}
    assert steps["lock"]["outcome"] == "On hold" and steps["lock"]["tasks"] == "T5"
    assert steps["journals_posted"]["figures"] == "lines posted: 6; unposted journals: 0"
    # money in its own column beside its currency, counts in theirs
    figures = {(r["step"], r["figure"], r["entity"]): r for r in table(out, "Figures")}
    assert (figures[("revaluation", "gains", "E1")]["amount"], figures[("revaluation", "gains", "E1")]["currency"]) \
        == (4.0, "USD")
    assert figures[("revaluation", "balances_revalued", None)]["count"] == 1
    assert figures[("subledgers", "differences", None)]["count"] == 0
    assert table(out, "Blockers") == []
    assert next(r for r in sheet_rows(out, "Summary") if r[0] == "Lock")[:2] == ["Lock", "put On hold"]

    # late lines: a new one, a changed one, one moved out of January
    late = journals(u1_posted="Y", c1_debit=55) + [["L1", 1, D(2026, 1, 25), "E1", "6100", "USD", 5, None, "Y", "ann"],
                                                   ["L1", 2, D(2026, 1, 25), "E1", "1000", "USD", None, 5, "Y", "ann"]]
    late[5][2] = late[6][2] = D(2026, 2, 2)  # U1 moved into February
    write_books({"journals.xlsx": {"Journals": late}}, books)
    res = app.close_books(books, period="2026-02", user="ann", today=TODAY)
    assert res.exit_code == 1
    found = {(f.code, f.cell) for f in res.errors}
    assert ("changed-after-close", "G4") in found and ("changed-after-close", "H5") in found
    assert ("changed-after-close", "C6") in found and ("changed-after-close", "C7") in found
    assert ("closed-period", "C8") in found and ("closed-period", "C9") in found
    changed = next(f for f in res.errors if f.cell == "G4")
    assert "changed since the close of 2026-01, which is On hold: amount 50.00 USD → 55.00 USD" in changed.message
    moved = next(f for f in res.errors if f.cell == "C6")
    assert "date 2026-01-20 → 2026-02-02" in moved.message
    new = next(f for f in res.errors if f.cell == "C8")
    assert "new line" in new.message and "2026-01" in new.message
    assert not (books / "out" / "2026-02" / "ledger_journal.xlsx").exists()
    # lines of the closed period no longer in the folder are fine
    write_books({"journals.xlsx": {"Journals": journals(u1_posted="Y")[:5]}}, books)
    assert app.close_books(books, period="2026-02", user="ann", dry_run=True, today=TODAY).exit_code == 0
    write_books({"journals.xlsx": {"Journals": journals(u1_posted="Y")}}, books)

    # reopen: not by bob; ann may
    denied = app.change_period(books, "2026-01", "open", user="bob")
    assert denied.exit_code == 1 and "2026-01" in denied.message and "'bob'" in denied.message
    assert app.change_period(books, "2026-01", "open", user="ann").exit_code == 0
    assert "Open" in status_line(books, "2026-01")
    # re-close
    assert app.close_books(books, period="2026-01", user="ann", today=TODAY).exit_code == 0
    # permanently closed: never reopened, whatever a command or the Periods sheet says
    assert app.change_period(books, "2026-01", "close-permanently", user="ann").exit_code == 0
    again = app.change_period(books, "2026-01", "open", user="ann")
    assert again.exit_code == 1 and "2026-01" in again.message and "Permanently closed" in again.message
    assert app.close_books(books, period="2026-01", user="ann", today=TODAY).exit_code == 1
    assert "Permanently closed" in status_line(books, "2026-01")  # the Periods sheet still says Open
    held = app.change_period(books, "2026-01", "hold", user="ann")
    assert held.exit_code == 1 and "Permanently closed" in held.message

    # every change is in ledger/periods.xlsx with who and when, and status shows it
    history = table(books / "ledger" / "periods.xlsx", "History")
    assert [(h["from"], h["to"], h["user"]) for h in history] == [
        ("Open", "Open", "ann"), ("Open", "On hold", "Cid"), ("On hold", "Open", "ann"), ("Open", "On hold", "ann"),
        ("On hold", "Permanently closed", "ann")]
    assert history[0]["blockers"] == "3" and all(h["when"] for h in history)
    shown = app.status(books, today=TODAY).message
    assert "On hold -> Permanently closed" in shown and "by ann: closebatch period close-permanently" in shown


def test_cli_status_today_and_refusals(tmp_path):
    books = make_books(tmp_path)
    runner = CliRunner()
    r = runner.invoke(main, ["status", str(books), "--today", "2026-02-03"])
    assert r.exit_code == 0
    assert "Close checklist of 2026-01 as of 2026-02-03" in r.output
    assert "0 done, 5 remaining, 2 overdue, 3 blocked (of 5)" in r.output
    assert "T3" in r.output and "BLOCKED by T1" in r.output and "OVERDUE 3 working day(s)" in r.output
    r = runner.invoke(main, ["close", str(books), "--user", "ann", "--today", "2026-02-03", "-q"])
    assert r.exit_code == 3
    assert "BLOCKER journals.xlsx!Journals!I6" in r.output and "Required task T2" in r.output
    r = runner.invoke(main, ["period", str(books), "2026-01", "hold", "--user", "ann"])
    assert r.exit_code == 1 and "2026-01" in r.output
    r = runner.invoke(main, ["period", str(books), "2026-02", "hold", "--user", "ann"])
    assert r.exit_code == 1 and "2026-02" in r.output and "earlier period 2026-01 is Open" in r.output
    r = runner.invoke(main, ["close", str(books), "--today", "3 Feb"])
    assert r.exit_code == 2


def test_no_lock_then_hold_by_hand(tmp_path):
    books = make_books(tmp_path, u1_posted="Y", ar=220)
    write_books({"checklist.xlsx": {"Tasks": tasks(t2="Done")}}, books)
    assert app.close_books(books, period="2026-01", user="ann", no_lock=True, today=TODAY).exit_code == 0
    # a line changed since that close: putting it on hold is refused
    write_books({"journals.xlsx": {"Journals": journals(u1_posted="Y", c1_debit=51)}}, books)
    held = app.change_period(books, "2026-01", "hold", user="ann")
    assert held.exit_code == 1 and "new or changed since its last close" in held.message
    assert [f.cell for f in held.findings] == ["G4", "H5"]  # debit of one line, credit of the other
    write_books({"journals.xlsx": {"Journals": journals(u1_posted="Y")}}, books)
    assert app.change_period(books, "2026-01", "hold", user="ann").exit_code == 0
    assert "On hold" in status_line(books, "2026-01")
    # February may not be closed permanently while January is only on hold
    assert app.close_books(books, period="2026-02", user="ann", today=TODAY).exit_code == 0
    perm = app.change_period(books, "2026-02", "close-permanently", user="ann")
    assert perm.exit_code == 1 and "earlier period 2026-01 is On hold" in perm.message


def two_entities(tmp_path):
    m = master(entities=(("E1", "One", "USD", None, None), ("E2", "Two", "USD", "E1", None)))
    J = ["journal", "line", "date", "entity", "account", "currency", "debit", "credit"]
    return write_books({
        "master.xlsx": m,
        "opening.xlsx": {"TrialBalance": [["entity", "account", "currency", "balance"],
                                          ["E1", "1000", "USD", 1000], ["E1", "3000", "USD", -1000],
                                          ["E2", "1000", "USD", 500], ["E2", "3000", "USD", -500]]},
        "e1.xlsx": {"Journals": [J, ["A1", 1, D(2026, 1, 5), "E1", "6100", "USD", 10, None],
                                 ["A1", 2, D(2026, 1, 5), "E1", "1000", "USD", None, 10]]},
        "e2.xlsx": {"Journals": [J, ["B1", 1, D(2026, 1, 6), "E2", "6100", "USD", 20, None],
                                 ["B1", 2, D(2026, 1, 6), "E2", "1000", "USD", None, 20]]},
    }, tmp_path / "books")


def test_mass_close_entity_by_entity(tmp_path):
    books = two_entities(tmp_path)
    J = ["journal", "line", "date", "entity", "account", "currency", "debit", "credit"]
    res = app.close_books(books, period="2026-01", entities=["E1"], user="ann", today=TODAY)
    assert res.exit_code == 0
    assert "for E1" in res.message and "still to close: E2" in res.message
    line = status_line(books, "2026-01")
    assert "Open" in line and "entities closed: E1 of 2" in line
    assert not (books / "ledger" / "2026-01.xlsx").exists()  # the period's ledger waits for every entity
    # E1 is closed for January: its lines are frozen, E2's are not
    write_books({"e1.xlsx": {"Journals": [J, ["A1", 1, D(2026, 1, 5), "E1", "6100", "USD", 11, None],
                                          ["A1", 2, D(2026, 1, 5), "E1", "1000", "USD", None, 11]]},
                 "e2.xlsx": {"Journals": [J, ["B1", 1, D(2026, 1, 6), "E2", "6100", "USD", 25, None],
                                          ["B1", 2, D(2026, 1, 6), "E2", "1000", "USD", None, 25]]}}, books)
    res = app.close_books(books, period="2026-01", entities=["E2"], user="ann", today=TODAY)
    assert res.exit_code == 1
    assert {(f.file, f.code) for f in res.errors} == {("e1.xlsx", "changed-after-close")}
    assert "for which entity E1 was closed" in res.errors[0].message
    write_books({"e1.xlsx": {"Journals": [J, ["A1", 1, D(2026, 1, 5), "E1", "6100", "USD", 10, None],
                                          ["A1", 2, D(2026, 1, 5), "E1", "1000", "USD", None, 10]]}}, books)
    # closing the last entity completes the period: every entity is closed, it goes on hold
    res = app.close_books(books, period="2026-01", entities=["E2"], user="ann", today=TODAY)
    assert res.exit_code == 0, [f.message for f in res.errors]
    assert "every entity (E1 closed earlier)" in res.message and "put On hold" in res.message
    assert "On hold" in status_line(books, "2026-01")
    assert not (books / "ledger" / "closed_entities.xlsx").exists()
    tb = table(books / "out" / "2026-01" / "adjusted_trial_balance.xlsx", "TrialBalance")
    assert {(r["entity"], r["account"]): r["balance_acct"] for r in tb if r["account"] == "1000"} == {
        ("E1", "1000"): 990, ("E2", "1000"): 475}
    summary = sheet_rows(books / "out" / "2026-01" / "close_status.xlsx", "Summary")
    head = next(r for r in summary if r[:3] == ["Entity", "Name", "Closed"])  # progress by entity
    ents = {}
    for r in summary[summary.index(head) + 1:]:
        if r[0] not in ("E1", "E2"):
            break
        ents[r[0]] = dict(zip(head, r))
    assert ents["E1"]["Closed"] == "yes" and ents["E2"]["Closed"] == "yes"
    # February starts from both entities' balances
    feb = app.close_books(books, period="2026-02", user="ann", today=TODAY)
    assert feb.exit_code == 0
    tb = table(books / "out" / "2026-02" / "adjusted_trial_balance.xlsx", "TrialBalance")
    assert {(r["entity"], r["account"]): r["balance_acct"] for r in tb if r["account"] == "1000"} == {
        ("E1", "1000"): 990, ("E2", "1000"): 475}


def test_a_blocked_entity_is_not_closed_and_reopen_forgets_entities(tmp_path):
    books = two_entities(tmp_path)
    J = ["journal", "line", "date", "entity", "account", "currency", "debit", "credit", "posted"]
    write_books({"e2.xlsx": {"Journals": [J, ["B1", 1, D(2026, 1, 6), "E2", "6100", "USD", 20, None, "N"],
                                          ["B1", 2, D(2026, 1, 6), "E2", "1000", "USD", None, 20, "N"]]}}, books)
    res = app.close_books(books, period="2026-01", entities=["E2"], user="ann", today=TODAY)
    assert res.exit_code == 3 and "were not closed because of the blockers" in res.message
    assert "entities closed" not in status_line(books, "2026-01")
    assert app.close_books(books, period="2026-01", entities=["E1"], user="ann", today=TODAY).exit_code == 0
    assert "entities closed: E1 of 2" in status_line(books, "2026-01")
    reopened = app.change_period(books, "2026-01", "open", user="ann")
    assert reopened.exit_code == 0 and "entities E1 reopened" in reopened.message
    assert "entities closed" not in status_line(books, "2026-01")


def test_a_circle_of_tasks_stops_the_close_naming_the_cells(tmp_path):
    books = make_books(tmp_path, u1_posted="Y", ar=220)
    circle = tasks()
    circle[1][5] = "T5"  # T1 waits for the lock task, which waits (through T3) for T1
    write_books({"checklist.xlsx": {"Tasks": circle}}, books)
    res = app.close_books(books, period="2026-01", user="ann", today=TODAY)
    assert res.exit_code == 1
    cyc = [f for f in res.errors if f.code == "task-cycle"]
    assert len(cyc) == 1 and cyc[0].cell == "F2"
    assert "T1 → T5 → T3 → T1" in cyc[0].message and "checklist.xlsx!Tasks!F6" in cyc[0].message
    assert not (books / "out" / "2026-01" / "close_status.xlsx").exists()


def test_lines_of_a_period_closed_before_closebatch_are_errors(tmp_path):
    """Spec v1.1, section 4: a period given as On hold (or Permanently closed) in Periods before
    closebatch first closed it has no close that accounts for its lines: each line dated in it
    is an error.  Its balances come in through the TrialBalance; once closebatch has closed a
    later period, the earlier period's status is part of the seal."""
    books = make_books(tmp_path, u1_posted="Y", ar=220)
    m = master(periods=[[*r[:4], "On hold" if r[0] == "2026-01" else r[4], None] for r in periods()])
    write_books({"master.xlsx": m, "checklist.xlsx": {"Tasks": tasks(t2="Done")}}, books)
    res = app.close_books(books, user="ann", today=dt.date(2026, 3, 3))
    assert res.exit_code == 1 and res.period == "2026-02"
    assert {(f.code, f.file, f.cell) for f in res.errors} == {
        ("closed-before-closebatch", "journals.xlsx", f"C{r}") for r in range(2, 8)}
    assert "2026-01, which was On hold before closebatch first closed it" in res.errors[0].message
    assert not (books / "ledger").exists()
    # January's result carried in the opening balances instead of its lines
    write_books({"opening.xlsx": {"TrialBalance": [["entity", "account", "currency", "balance"],
                                                   ["E1", "1000", "USD", 920], ["E1", "3000", "USD", -920]]},
                 "journals.xlsx": {"Journals": [JH]}, "subledgers.xlsx": {"Subledgers": [
                     ["entity", "module", "control_account", "balance_acct", "period"]]}}, books)
    res = app.close_books(books, user="ann", today=dt.date(2026, 3, 3))
    assert res.exit_code == 0 and res.period == "2026-02", [f.message for f in res.errors]
    tb = table(books / "out" / "2026-02" / "adjusted_trial_balance.xlsx", "TrialBalance")
    assert {r["account"]: r["balance_acct"] for r in tb}["1000"] == 920
    seals = table(books / "ledger" / "periods.xlsx", "Seals")
    assert [(r["period"], r["status"], r["closed_by"]) for r in seals] == [
        ("2026-01", "On hold", "before closebatch"), ("2026-02", "On hold", "closebatch")]
    # the Periods sheet cannot reopen it any more: January stays On hold, and a line dated in it is refused
    write_books({"master.xlsx": master(periods=periods(access=None))}, books)
    assert "On hold" in status_line(books, "2026-01")
    write_books({"journals.xlsx": {"Journals": [JH, ["L1", 1, D(2026, 1, 25), "E1", "6100", "USD", 5, None, "Y", "ann"],
                                                ["L1", 2, D(2026, 1, 25), "E1", "1000", "USD", None, 5, "Y", "ann"]]}},
                books)
    res = app.close_books(books, user="ann", today=dt.date(2026, 4, 3))
    assert res.exit_code == 1 and {f.code for f in res.errors} == {"closed-before-closebatch"}
