"""Schedules and checks see the ledger as it stands after revaluation (spec section 3, steps
3 to 5): the settlement ``Open`` sheet adds up to the ledger balance, and a subledger kept at
period-end rates ties out to its revalued control account."""
from __future__ import annotations

from builders import ACCOUNTS, make_book, period
from closebatch.close import History, run_close

# 1100 is a receivables control account kept per open item (settle) and revalued; 1500 too.
ACCTS = [ACCOUNTS[0] + ["control"]] + [r + (["AR"] if r[0] == "1100" else [""]) for r in ACCOUNTS[1:]]
ACCTS = [r if r[0] != "1100" else ["1100", "Receivables", "Asset", True, True, "AR"] for r in ACCTS]
RATES = [["from", "to", "date", "rate", "type"], ["EUR", "USD", "2026-01-01", 1.10, "spot"],
         ["EUR", "USD", "2026-01-31", 1.20, "closing"]]
OPENING = [["entity", "account", "currency", "balance", "balance_acct", "reference"],
           ["E1", "1100", "EUR", 100, 110, "INV-1"], ["E1", "3000", "USD", -110, -110, ""]]
JOURNALS = [["journal", "date", "entity", "account", "currency", "debit", "credit", "amount_acct", "reference"],
            ["S1", "2026-01-10", "E1", "1100", "EUR", 50, None, 55, "INV-2"],
            ["S1", "2026-01-10", "E1", "4000", "USD", None, 55, -55, ""]]


def book_with(subledger_acct: float):
    return make_book([["entity", "name", "currency"], ["E1", "One", "USD"]], accounts=ACCTS, opening=OPENING,
                     journals=JOURNALS, rates=RATES,
                     subledgers=[["entity", "module", "control_account", "balance_acct", "period"],
                                 ["E1", "AR", "1100", subledger_acct, "2026-01"]])


def test_open_items_sheet_adds_up_to_the_revalued_ledger_balance():
    book = book_with(180)
    result = run_close(book, period(book, "2026-01"), History())
    open_items = result.steps["settlement"].reports["Open"]
    ledger = result.balances.loc[result.balances["account"] == "1100", "amount_acct"].sum()
    # 150 EUR at the closing rate 1.20 = 180.00 USD; booked at 110 + 55 = 165.00, revalued by 15.00
    assert ledger == 18000
    assert open_items.loc[open_items["account"] == "1100", "amount_acct"].sum() == ledger
    assert set(open_items["journal_type"]) >= {"revaluation"}
    assert int(result.carry["open_items"]["amount_acct"].sum()) == ledger


def test_a_subledger_at_period_end_rates_ties_out_after_revaluation():
    book = book_with(180)
    result = run_close(book, period(book, "2026-01"), History())
    assert [b.code for b in result.blockers] == []
    wrong = book_with(170)
    blockers = run_close(wrong, period(wrong, "2026-01"), History()).blockers
    assert [(b.code, b.sheet) for b in blockers] == [("subledger-difference", "subledgers")]
    assert "10.00" in blockers[0].message


def test_each_step_is_announced_in_order():
    book = book_with(180)
    seen = []
    run_close(book, period(book, "2026-01"), History(), stage=seen.append)
    assert seen == ["Settlement", "Revaluation", "Subledgers", "Allocation", "Consolidation", "Statements",
                    "Year-end"]
