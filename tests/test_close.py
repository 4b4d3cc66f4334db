"""Closing books end to end through the library and the CLI, with exact figures."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest
from click.testing import CliRunner

from books import D, J, OPENING, master, read_sheet, write_books
from closebatch import app
from closebatch.cli import main

JX = ["journal", "date", "entity", "account", "currency", "debit", "credit", "amount_acct", "description", "reverse_on"]


def single_entity(tmp_path):
    """One USD entity: opening balance, journals in two workbooks, a EUR line at spot, an
    accrual reversed on the first day of February."""
    books = {
        "master.xlsx": master(),
        "opening.xlsx": {"TrialBalance": [["entity", "account", "currency", "balance"],
                                          ["E1", "1000", "USD", 5000], ["E1", "3000", "USD", -5000]]},
        "Journals sales.xlsx": {"Journals": [
            JX,
            ["S1", D(2026, 1, 10), "E1", "1100", "EUR", 200, None, None, "EUR invoice at spot", None],
            ["S1", D(2026, 1, 10), "E1", "4000", "USD", None, 216.84, None, "EUR invoice", None]]},
        "Journals costs.xlsx": {"Journals": [
            JX + ["type"],
            ["C1", D(2026, 1, 12), "E1", "6100", "USD", 1200, None, None, "Rent", None, None],
            ["C1", D(2026, 1, 12), "E1", "1000", "USD", None, 1200, None, "Rent", None, None],
            ["A1", D(2026, 1, 31), "E1", "6200", "USD", 300, None, None, "IT accrual", D(2026, 2, 1), "adjustment"],
            ["A1", D(2026, 1, 31), "E1", "2100", "USD", None, 300, None, "IT accrual", D(2026, 2, 1), "adjustment"],
            ["F1", D(2026, 2, 3), "E1", "6200", "USD", 310, None, None, "IT invoice", None, None],
            ["F1", D(2026, 2, 3), "E1", "1000", "USD", None, 310, None, "IT invoice", None, None]]},
        "rates.xlsx": {"Rates": [["from", "to", "date", "rate", "type"],
                                 ["EUR", "USD", D(2026, 1, 1), 1.0842, "spot"],
                                 ["EUR", "USD", D(2026, 1, 31), 1.0842, "closing"],
                                 ["EUR", "USD", D(2026, 2, 28), 1.0842, "closing"]]},
    }
    return write_books(books, tmp_path / "books")


def tb(path, **where):
    rows = read_sheet(path / "adjusted_trial_balance.xlsx", "TrialBalance")
    return {(r["entity"], r["account"]): Decimal(str(r["balance_acct"])) for r in rows
            if all(r[k] == v for k, v in where.items())}


def test_single_entity_two_periods_exact(tmp_path):
    books = single_entity(tmp_path)
    jan = app.close_books(books, period="2026-01", user="ann")
    assert jan.exit_code == 0, [f.message for f in jan.findings]
    got = tb(books / "out" / "2026-01")
    # 200 EUR x 1.0842 = 216.84 USD
    assert got == {("E1", "1000"): Decimal("3800"), ("E1", "1100"): Decimal("216.84"), ("E1", "2100"): Decimal("-300"),
                   ("E1", "3000"): Decimal("-5000"), ("E1", "4000"): Decimal("-216.84"),
                   ("E1", "6100"): Decimal("1200"), ("E1", "6200"): Decimal("300")}
    assert sum(got.values()) == 0
    lines = read_sheet(books / "out" / "2026-01" / "ledger_journal.xlsx", "Lines")
    assert {r["source"] for r in lines if r["journal"] == "S1"} == {"Journals sales.xlsx!Journals!2",
                                                                    "Journals sales.xlsx!Journals!3"}
    assert not [r for r in lines if r["journal_type"] == "reversal"]  # dated in February
    # February starts from January's ledger; the accrual reverses on 1 February
    feb = app.close_books(books, period="2026-02", user="ann")
    assert feb.exit_code == 0, [f.message for f in feb.findings]
    got = tb(books / "out" / "2026-02")
    assert got[("E1", "2100")] == 0
    assert got[("E1", "6200")] == Decimal("310")  # 300 accrued, reversed, 310 invoiced
    assert got[("E1", "1000")] == Decimal("3490")
    assert got[("E1", "4000")] == Decimal("-216.84")  # year to date
    rev = [r for r in read_sheet(books / "out" / "2026-02" / "ledger_journal.xlsx", "Lines")
           if r["journal_type"] == "reversal"]
    assert len(rev) == 2 and {r["date"].date() for r in rev} == {D(2026, 2, 1)}
    assert all("Journals costs.xlsx!Journals!" in r["source"] for r in rev)


def test_status_and_refusals(tmp_path):
    books = single_entity(tmp_path)
    feb_first = app.close_books(books, period="2026-02", user="ann")
    assert feb_first.exit_code == 1 and "2026-01" in feb_first.message
    assert app.close_books(books, period="2026-01", user="ann").exit_code == 0
    again = app.close_books(books, period="2026-01", user="ann")
    assert again.exit_code == 1 and "On hold" in again.message
    # a line dated in the closed period that the close did not post is refused
    write_books({"late.xlsx": {"Journals": [J, ["L1", D(2026, 1, 20), "E1", "6100", "USD", 5, None],
                                            ["L1", D(2026, 1, 20), "E1", "1000", "USD", None, 5]]}}, books)
    late = app.close_books(books, period="2026-02", user="ann")
    assert late.exit_code == 1
    assert any(f.code == "closed-period" and f.file == "late.xlsx" and f.cell == "B2" for f in late.findings)
    (books / "late.xlsx").unlink()
    assert app.change_period(books, "2026-01", "open", user="ann").exit_code == 0
    assert app.close_books(books, period="2026-01", user="ann").exit_code == 0
    assert app.change_period(books, "2026-01", "close-permanently", user="ann").exit_code == 0
    refused = app.change_period(books, "2026-01", "open", user="ann")
    assert refused.exit_code == 1 and "Permanently closed" in refused.message
    assert "2026-01    2026-01-01 2026-01-31 Permanently closed" in app.status(books).message


def test_dry_run_persists_nothing_and_no_lock_leaves_open(tmp_path):
    books = single_entity(tmp_path)
    dry = app.close_books(books, period="2026-01", dry_run=True, user="ann")
    assert dry.exit_code == 0 and (books / "out" / "2026-01" / "ledger_journal.xlsx").exists()
    assert not (books / "ledger").exists()
    assert app.close_books(books, period="2026-01", no_lock=True, user="ann").exit_code == 0
    assert "2026-01    2026-01-01 2026-01-31 Open" in app.status(books).message
    assert app.close_books(books, period="2026-01", user="ann").exit_code == 0  # re-close of an Open period


def test_errors_write_only_validation_and_keep_earlier_outputs(tmp_path):
    books = single_entity(tmp_path)
    out = tmp_path / "out"
    assert app.close_books(books, period="2026-01", out=out, no_lock=True, user="ann").exit_code == 0
    before = (out / "adjusted_trial_balance.xlsx").read_bytes()
    write_books({"bad.xlsx": {"Journals": [J, ["B1", D(2026, 1, 20), "E1", "6100", "USD", 5, None],
                                           ["B1", D(2026, 1, 20), "E1", "1000", "USD", None, 4]]}}, books)
    res = app.close_books(books, period="2026-01", out=out, user="ann")
    assert res.exit_code == 1
    assert (out / "adjusted_trial_balance.xlsx").read_bytes() == before
    rows = read_sheet(out / "validation.xlsx", "Validation")
    assert any(r["file"] == "bad.xlsx" and r["cell"] == "A2" for r in rows)


def test_same_inputs_same_bytes(tmp_path):
    books = single_entity(tmp_path)
    a, b = tmp_path / "a", tmp_path / "b"
    assert app.close_books(books, period="2026-01", out=a, dry_run=True, user="ann").exit_code == 0
    assert app.close_books(books, period="2026-01", out=b, dry_run=True, user="ann").exit_code == 0
    for p in sorted(a.iterdir()):
        assert p.read_bytes() == (b / p.name).read_bytes(), p.name
    manifest = json.loads((a / "manifest.json").read_text())
    assert {i["file"] for i in manifest["inputs"]} == {"master.xlsx", "opening.xlsx", "Journals sales.xlsx",
                                                       "Journals costs.xlsx", "rates.xlsx"}


def test_formula_like_text_is_written_as_text(tmp_path):
    books = single_entity(tmp_path)
    write_books({"x.xlsx": {"Journals": [JX, ["X1", D(2026, 1, 5), "E1", "6100", "USD", 1, None, None,
                                              "=HYPERLINK(\"http://evil\")", None],
                                         ["X1", D(2026, 1, 5), "E1", "1000", "USD", None, 1, None, "+1-2", None]]}},
                books)
    assert app.close_books(books, period="2026-01", dry_run=True, user="ann").exit_code == 0
    import openpyxl
    wb = openpyxl.load_workbook(books / "out" / "2026-01" / "ledger_journal.xlsx")
    cells = [c for row in wb["Lines"].iter_rows() for c in row]
    assert not [c for c in cells if c.data_type == "f"]
    assert any(c.value == "=HYPERLINK(\"http://evil\")" for c in cells)


def test_cli_close_validate_status_init(tmp_path):
    books = single_entity(tmp_path)
    runner = CliRunner()
    r = runner.invoke(main, ["validate", str(books)])
    assert r.exit_code == 0 and (books / "out" / "validation.xlsx").exists()
    r = runner.invoke(main, ["close", str(books), "--user", "ann", "--quiet"])
    assert r.exit_code == 0, r.output
    assert "Closed 2026-01" in r.output
    r = runner.invoke(main, ["status", str(books)])
    assert r.exit_code == 0 and "On hold" in r.output and "Next period to close: 2026-02" in r.output
    r = runner.invoke(main, ["period", str(books), "2026-01", "reopen"])
    assert r.exit_code == 2  # wrong usage
    r = runner.invoke(main, ["close", str(books), "--period", "2099-01"])
    assert r.exit_code == 1 and "2099-01" in r.output
    r = runner.invoke(main, ["init", str(tmp_path / "new")])
    assert r.exit_code == 0 and (tmp_path / "new" / "Journals.xlsx").exists()
    r = runner.invoke(main, ["validate", str(tmp_path / "new")])
    assert r.exit_code == 1 and "Traceback" not in r.output


def test_cli_bad_books_exit_1_names_cells(tmp_path):
    books = write_books({"master.xlsx": master(), "opening.xlsx": OPENING,
                         "j.xlsx": {"Journals": [J, ["J1", D(2026, 1, 5), "E1", "9999", "USD", 1, None],
                                                 ["J1", D(2026, 1, 5), "E1", "4000", "USD", None, 1]]}},
                        tmp_path / "books")
    r = CliRunner().invoke(main, ["close", str(books), "--period", "2026-01"])
    assert r.exit_code == 1
    assert "j.xlsx!Journals!D2" in r.output


def test_busy_books(tmp_path):
    from closebatch.io.lock import BooksBusy, BooksLock

    books = single_entity(tmp_path)
    with BooksLock(books):
        with pytest.raises(BooksBusy):
            app.close_books(books, period="2026-01", user="ann")
        r = CliRunner().invoke(main, ["close", str(books)])
        assert r.exit_code == 1 and "busy" in r.output
    (books / ".closebatch.lock").write_text('{"pid": 999999999, "host": null}')  # a dead holder
    assert app.close_books(books, period="2026-01", user="ann").exit_code == 0


def test_settlement_open_items_carry_through_the_ledger(tmp_path):
    JR = ["journal", "date", "entity", "account", "currency", "debit", "credit", "amount_acct", "reference"]
    books = write_books({
        "master.xlsx": master(),
        "opening.xlsx": {"TrialBalance": [["entity", "account", "currency", "balance", "reference"],
                                          ["E1", "1000", "USD", 900, None], ["E1", "1500", "USD", 100, "R1"],
                                          ["E1", "3000", "USD", -1000, None]]},
        "jan.xlsx": {"Journals": [JR,
                                  ["J1", D(2026, 1, 5), "E1", "1500", "USD", None, 100, None, "R1"],
                                  ["J1", D(2026, 1, 5), "E1", "1000", "USD", 100, None, None, None],
                                  ["J2", D(2026, 1, 9), "E1", "1500", "EUR", 200, None, 220, "R2"],
                                  ["J2", D(2026, 1, 9), "E1", "4000", "USD", None, 220, None, None]]},
        "feb.xlsx": {"Journals": [JR,
                                  ["J3", D(2026, 2, 4), "E1", "1500", "EUR", None, 200, -240, "R2"],
                                  ["J3", D(2026, 2, 4), "E1", "1000", "USD", 240, None, None, None]]},
    }, tmp_path / "books")
    assert app.close_books(books, period="2026-01", user="ann").exit_code == 0
    open_jan = read_sheet(books / "out" / "2026-01" / "settlement.xlsx", "Open")
    assert [r["reference"] for r in open_jan] == ["R2"]
    assert app.close_books(books, period="2026-02", user="ann").exit_code == 0
    got = tb(books / "out" / "2026-02")
    assert got[("E1", "1500")] == 0
    assert got[("E1", "7920")] == Decimal("-20")  # realized gain: 220 booked, 240 received
    assert sum(got.values()) == 0
    assert not read_sheet(books / "out" / "2026-02" / "settlement.xlsx", "Open")
