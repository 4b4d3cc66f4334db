"""Validate is the whole pre-check (spec section 3, step 1): it runs the close's own checks on
the same code path, every error comes in one pass, a close that stops reports only what
stopped it, and the input that used to slip through (a period code that is a path, outputs
read back, a journal posted in part, an entity code no sheet name can hold) is refused or
handled at its root."""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from books import D, GROUP_80, J, J80, OPENING, master, months, partly_owned_group, read_sheet, write_books
from closebatch import app

RATES = {"Rates": [["from", "to", "date", "rate", "type"],  # January's average rate is missing
                   ["EUR", "USD", D(2026, 1, 31), 1.25, "closing"],
                   ["EUR", "USD", D(2026, 2, 28), 1.30, "closing"], ["EUR", "USD", D(2026, 2, 28), 1.28, "average"]]}
ALLOC = {"Allocations": [["rule", "entity", "source_account", "method", "destination_account", "value"],
                         ["RENT", "P", "6100", "fixed_percent", "6200", 60]]}
BAD_CELL = {"Journals": [J80, ["X1", D(2026, 1, 12), "P", "1000", "USD", "twelve", None, None, None],
                         ["X1", D(2026, 1, 12), "P", "4000", "USD", None, 12, None, None]]}
GROUP = dict(GROUP_80, Eliminations=GROUP_80["Eliminations"] + [["IC2", "intercompany", None, None, "1300", "2399",
                                                                 "7950"]])


def four_errors(folder: Path) -> Path:
    """A bad cell, a missing average rate, an allocation rule and an elimination rule."""
    return partly_owned_group(folder, {"rates.xlsx": RATES, "alloc.xlsx": ALLOC, "bad.xlsx": BAD_CELL,
                                       "group.xlsx": GROUP})


def found(outcome):
    return sorted((f.code, f.where()) for f in outcome.findings)


def test_validate_finds_in_one_pass_every_error_the_close_finds(tmp_path):
    books = four_errors(tmp_path / "b")
    v = app.validate_books(books)
    assert v.exit_code == 1 and v.period == "2026-01"
    assert found(v) == [("allocation-percent-total", "alloc.xlsx!Allocations!F2"),
                        ("bad-type", "bad.xlsx!Journals!F2"),
                        ("elimination-rule-invalid", "group.xlsx!Eliminations!F4"),
                        ("rate-missing", "rates.xlsx!Rates")]  # the missing rate names its workbook
    c = app.close_books(books, user="ann")
    assert c.exit_code == 1 and found(c) == found(v)
    assert sorted(p.name for p in (books / "out" / "2026-01").iterdir()) == ["validation.xlsx"]
    assert not (books / "ledger").exists()


def test_once_every_reported_error_is_fixed_the_close_goes_through(tmp_path):
    """No second round of errors."""
    books = four_errors(tmp_path / "b")
    assert len(app.validate_books(books).errors) == 4
    RATES["Rates"].append(["EUR", "USD", D(2026, 1, 31), 1.20, "average"])
    try:
        write_books({"rates.xlsx": RATES, "group.xlsx": GROUP_80,
                     "alloc.xlsx": {"Allocations": [ALLOC["Allocations"][0], ["RENT", "P", "6100", "fixed_percent",
                                                                              "6200", 100]]}}, books)
    finally:
        RATES["Rates"].pop()
    (books / "bad.xlsx").unlink()
    assert app.validate_books(books).errors == []
    assert app.close_books(books, user="ann").exit_code in (0, 3)


def test_a_stopped_close_reports_no_finding_of_a_step_that_posted_nothing(tmp_path):
    """The intercompany balances of P and S do not cancel: a completed close posts the
    difference to 7950 and says so; a close stopped by an error posted nothing and says nothing
    of it."""
    books = partly_owned_group(tmp_path / "b", {"bad.xlsx": BAD_CELL})
    stopped = app.close_books(books, period="2026-01", user="ann")
    assert stopped.exit_code == 1 and [f.code for f in stopped.findings] == ["bad-type"]
    assert not any("posted to" in f.message for f in stopped.findings)
    in_report = read_sheet(books / "out" / "2026-01" / "validation.xlsx", "Validation")
    assert [r["rule"] for r in in_report] == ["bad-type"]
    (books / "bad.xlsx").unlink()
    done = app.close_books(books, period="2026-01", user="ann")
    assert done.exit_code == 0 and any("posted to 7950" in f.message for f in done.warnings)


def test_validate_and_close_leave_the_latest_report_in_the_same_place(tmp_path):
    books = partly_owned_group(tmp_path / "b", {"bad.xlsx": BAD_CELL})
    assert app.validate_books(books).exit_code == 1
    first = read_sheet(books / "out" / "validation.xlsx", "Validation")
    assert [r["rule"] for r in first] == ["bad-type"]
    (books / "bad.xlsx").unlink()
    assert app.close_books(books, period="2026-01", user="ann").exit_code == 0
    latest = books / "out" / "validation.xlsx"
    assert latest.read_bytes() == (books / "out" / "2026-01" / "validation.xlsx").read_bytes()
    assert [r["rule"] for r in read_sheet(latest, "Validation") if r["severity"] == "error"] == []


@pytest.mark.parametrize("code, dry_run", [("..", False), ("../../x", True), ("../x", False)])
def test_a_period_code_never_becomes_a_path(tmp_path, code, dry_run):
    per = months(2026, 1, 2)
    per[1][0] = code
    books = write_books({"master.xlsx": master(periods=per), "opening.xlsx": OPENING,
                         "statements.xlsx": {"Notes": [["note"], ["an input workbook named like an output"]]}},
                        tmp_path / "root" / "deep" / "b")
    before = {p: p.read_bytes() for p in books.iterdir()}
    res = app.close_books(books, user="ann", dry_run=dry_run)
    assert res.exit_code == 1 and [f.cell for f in res.errors if f.code == "period-code"] == ["A2"]
    assert {p: p.read_bytes() for p in books.iterdir() if p.is_file()} == before
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()
                  and p.parent != books) == ["root/deep/b/out/validation.xlsx"]


def test_outputs_of_an_earlier_close_are_not_read_back_wherever_they_went(tmp_path):
    books = write_books({"master.xlsx": master(), "opening.xlsx": OPENING}, tmp_path / "b")
    for _ in range(2):
        res = app.close_books(books, period="2026-01", out=books / "reports", no_lock=True, user="ann")
        assert res.exit_code == 0, [f.message for f in res.findings]
        tb = read_sheet(books / "reports" / "adjusted_trial_balance.xlsx", "TrialBalance")
        assert {r["account"]: Decimal(str(r["balance"])) for r in tb} == {"1000": Decimal(1000), "3000": Decimal(-1000)}
    res = app.close_books(books, period="2026-01", no_lock=True, user="ann")  # the default place: also fine
    assert res.exit_code == 0


@pytest.mark.parametrize("where", [".", "..", "ledger", "journals"])
def test_out_is_never_the_books_folder_or_a_folder_of_its_inputs(tmp_path, where):
    books = write_books({"master.xlsx": master(), "opening.xlsx": OPENING}, tmp_path / "b")
    write_books({"jan.xlsx": {"Journals": [J]}}, books / "journals")
    before = sorted(p.relative_to(books).as_posix() for p in books.rglob("*"))
    res = app.close_books(books, period="2026-01", out=books / where, user="ann")
    assert res.exit_code == app.EXIT_USAGE and "--out" in res.message and "Refused" in res.message
    assert sorted(p.relative_to(books).as_posix() for p in books.rglob("*")) == before


def test_a_folder_fresh_from_init_closes_into_no_made_up_folder(tmp_path):
    books = tmp_path / "new"
    assert app.init_books(books).exit_code == 0
    res = app.close_books(books, user="ann")
    assert res.exit_code == 1 and res.errors
    assert sorted(p.relative_to(books / "out").as_posix() for p in (books / "out").rglob("*")) == ["validation.xlsx"]


def test_a_missing_books_folder_is_named_and_nothing_is_created(tmp_path):
    for fn in (app.close_books, app.validate_books):
        res = fn(tmp_path / "nowhere")
        assert res.exit_code == 1 and "nowhere does not exist" in res.message
    assert not (tmp_path / "nowhere").exists()


def test_a_journal_posted_in_part_stops_the_close_at_its_rows(tmp_path):
    """It used to pass, and the close then found that 'the balance sheet does not balance'."""
    JP = J + ["posted"]
    books = write_books({"master.xlsx": master(), "opening.xlsx": OPENING, "j.xlsx": {"Journals": [
        JP, ["J1", D(2026, 1, 5), "E1", "1000", "USD", 100, None, "N"],
        ["J1", D(2026, 1, 5), "E1", "6100", "USD", 50, None, "N"],
        ["J1", D(2026, 1, 5), "E1", "4000", "USD", None, 150, "Y"]]}}, tmp_path / "b")
    res = app.close_books(books, period="2026-01", user="ann")
    assert res.exit_code == 1 and [(f.code, f.where()) for f in res.errors] == [("posted-in-part", "j.xlsx!Journals!H4")]


def test_an_amount_acct_that_disagrees_on_a_same_currency_line_stops_the_close(tmp_path):
    JA = J + ["amount_acct"]
    books = write_books({"master.xlsx": master(), "opening.xlsx": OPENING, "j.xlsx": {"Journals": [
        JA, ["J1", D(2026, 1, 5), "E1", "1000", "USD", 100, None, 999],
        ["J1", D(2026, 1, 5), "E1", "4000", "USD", None, 100, None]]}}, tmp_path / "b")
    res = app.close_books(books, period="2026-01", user="ann")
    assert [(f.code, f.cell) for f in res.errors] == [("acct-mismatch", "H2")]


@pytest.mark.parametrize("code", ["E😀", "Société Générale Deutschland 😀 GmbH", "A[1]:B*?/\\'"])
def test_any_entity_code_that_validates_gets_legal_sheet_names(tmp_path, code):
    books = write_books({"master.xlsx": master(entities=((code, "Entity", "USD", None, None),)),
                         "opening.xlsx": {"TrialBalance": [["entity", "account", "currency", "balance"],
                                                           [code, "1000", "USD", 10], [code, "3000", "USD", -10]]}},
                        tmp_path / "b")
    res = app.close_books(books, period="2026-01", user="ann")
    assert res.exit_code == 0, [f.message for f in res.findings]
    names = openpyxl.load_workbook(books / "out" / "2026-01" / "statements.xlsx", read_only=True).sheetnames
    assert all(sum(2 if ord(c) > 0xFFFF else 1 for c in n) <= 31 for n in names)
    assert len({n.lower() for n in names}) == len(names)


def test_a_conversion_beyond_what_closebatch_holds_is_a_finding(tmp_path):
    rates = {"Rates": [["from", "to", "date", "rate", "type"], ["EUR", "USD", D(2026, 1, 1), 1e14, "spot"],
                       ["EUR", "USD", D(2026, 1, 31), 1e14, "closing"]]}
    jr = {"Journals": [J + ["amount_acct"], ["J1", D(2026, 1, 5), "E1", "1100", "EUR", 1e6, None, 1e6],
                       ["J1", D(2026, 1, 5), "E1", "4000", "USD", None, 1e6, None]]}
    books = write_books({"master.xlsx": master(), "opening.xlsx": OPENING, "rates.xlsx": rates, "j.xlsx": jr},
                        tmp_path / "b")
    for res in (app.validate_books(books), app.close_books(books, user="ann")):
        assert res.exit_code == 1 and "amount-overflow" in {f.code for f in res.errors}


def test_the_reopen_hint_names_the_books_folder(tmp_path):
    books = write_books({"master.xlsx": master(), "opening.xlsx": OPENING}, tmp_path / "my books")
    assert app.close_books(books, period="2026-01", user="ann").exit_code == 0
    res = app.close_books(books, period="2026-01", user="ann")
    assert res.exit_code == 1 and f"closebatch period '{books}' 2026-01 open" in res.message
    assert "BOOKS" not in res.message


def test_validate_checks_the_period_it_is_given_and_refuses_one_that_cannot_be_closed(tmp_path):
    books = write_books({"master.xlsx": master(), "opening.xlsx": OPENING}, tmp_path / "b")
    assert app.validate_books(books, period="2026-02").exit_code == 1  # January is still Open
    assert app.close_books(books, period="2026-01", user="ann").exit_code == 0
    ok = app.validate_books(books)
    assert ok.exit_code == 0 and ok.period == "2026-02" and "2026-02" in ok.message
    assert app.validate_books(books, period="2026-01").exit_code == 1  # On hold


def test_every_stage_is_announced_to_the_progress_display(tmp_path):
    books = partly_owned_group(tmp_path / "b")
    seen = []
    res = app.close_books(books, period="2026-01", user="ann", progress=lambda stage, *a: seen.append(stage))
    assert res.exit_code == 0
    stages = list(dict.fromkeys(seen))
    assert stages == ["Reading workbooks", "Validating", "Checking closed periods", "Settlement", "Revaluation",
                      "Subledgers", "Allocation", "Consolidation", "Statements", "Year-end",
                      "Preparing the ledger record", "Writing", "Saving"]


def test_sheet_names_count_utf16_units_and_never_change_a_legal_name():
    from closebatch.io.writer import sheet_name, units

    assert sheet_name("Lines") == "Lines" and sheet_name("History") == "History"
    assert sheet_name("😀" * 20) == "😀" * 15 and units(sheet_name("a" + "😀" * 20)) == 31
    assert sheet_name("a[b]:c*d?e/f\\g") == "a_b__c_d_e_f_g" and sheet_name("'x'") == "_x_"
    assert sheet_name("Data", ["data", "Data (2)"]) == "Data (3)" and sheet_name("") == "Sheet"


def test_one_problem_gives_one_finding(tmp_path):
    """A setting naming no account is found by validation (at its cell) and by the consolidation
    that needs it; a missing setting stops the consolidation, whose unbalanced statements are
    then no news."""
    m = master(entities=(("P", "Parent Inc", "USD", None, None), ("S", "Sub GmbH", "EUR", "P", "80%")),
               settings_extra=[["group_currency", "USD"]])
    settings = [r for r in m["Settings"] if r[0] != "nci_account"]
    books = partly_owned_group(tmp_path / "b", {"master.xlsx": dict(m, Settings=settings + [["nci_account", "3999"]])})
    v = app.validate_books(books)
    assert [(f.code, f.cell) for f in v.errors] == [("unknown-account", "B11")]
    write_books({"master.xlsx": dict(m, Settings=settings)}, books)
    v = app.validate_books(books)
    assert [f.code for f in v.errors] == ["setting-missing"]


def test_a_step_tripping_over_books_with_errors_leaves_their_report(tmp_path, monkeypatch):
    """The books have errors and a step raises on them: the close reports the errors it found
    (validation.xlsx), says its own checks could not run, and does not crash."""
    from closebatch import check

    def trips(*a, **k):
        raise KeyError("a column the errors left out")

    monkeypatch.setattr(check, "run_close", trips)
    books = partly_owned_group(tmp_path / "b", {"bad.xlsx": BAD_CELL})
    res = app.close_books(books, period="2026-01", user="ann")
    assert res.exit_code == 1 and ("bad-type", "bad.xlsx!Journals!F2") in found(res)
    assert [p.name for p in res.written] == ["validation.xlsx"]
