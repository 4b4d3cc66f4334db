"""Consolidation of an 80%-owned EUR subsidiary over two closes, through the ledger.

Hand computation for January (closing 1.25, average 1.20, acquisition rate 1.10):
S's cash 13,480 EUR x 1.25 = 16,850; with P's 30,990 the group holds 47,840.  Revenue:
P 1,000 + S 2,000 x 1.20 = 3,400.  S's profit 1,500 EUR x 1.20 = 1,800, of which 20% = 360
is attributable to NCI.  Equity at acquisition 11,000 + 1,100 = 12,100; NCI 20% = 2,420;
goodwill 10,010 - 80% x 12,100 = 330 USD = 300 EUR, retranslated at 1.25 = 375 (+45 CTA).
S's translated trial balance is off by 1,725 (its CTA), of which 20% = 345 moves to NCI:
the reserve is -1,725 + 345 - 45 = -1,425 and NCI -2,420 - 360 - 345 = -3,125.
"""
from __future__ import annotations

from decimal import Decimal

from books import D, master, read_sheet, write_books
from closebatch import app

J = ["journal", "date", "entity", "account", "currency", "debit", "credit", "amount_acct", "counterparty"]


def consolidated(out):
    rows = read_sheet(out / "adjusted_trial_balance.xlsx", "Consolidated")
    return {r["account"]: Decimal(str(r["balance_group"])) for r in rows}


def test_partly_owned_foreign_subsidiary_two_periods(tmp_path):
    books = write_books({
        "master.xlsx": master(entities=(("P", "Parent", "USD", None, None), ("S", "Sub", "EUR", "P", "80%")),
                              settings_extra=[["group_currency", "USD"]]),
        "opening.xlsx": {"TrialBalance": [
            ["entity", "account", "currency", "balance", "balance_acct", "counterparty"],
            ["P", "1000", "USD", 29990, 29990, None], ["P", "1300", "EUR", 1000, 1100, "S"],
            ["P", "1600", "USD", 10010, 10010, "S"], ["P", "3000", "USD", -41100, -41100, None],
            ["S", "1000", "EUR", 11980, 11980, None], ["S", "2300", "EUR", -980, -980, "P"],
            ["S", "3000", "EUR", -10000, -10000, None], ["S", "3100", "EUR", -1000, -1000, None]]},
        "journals.xlsx": {"Journals": [
            J,
            ["P1", D(2026, 1, 10), "P", "1000", "USD", 1000, None, None, None],
            ["P1", D(2026, 1, 10), "P", "4000", "USD", None, 1000, None, None],
            ["S1", D(2026, 1, 15), "S", "1000", "EUR", 2000, None, None, None],
            ["S1", D(2026, 1, 15), "S", "4000", "EUR", None, 2000, None, None],
            ["S2", D(2026, 1, 20), "S", "6100", "EUR", 500, None, None, None],
            ["S2", D(2026, 1, 20), "S", "1000", "EUR", None, 500, None, None],
            ["P2", D(2026, 2, 10), "P", "1000", "USD", 500, None, None, None],
            ["P2", D(2026, 2, 10), "P", "4000", "USD", None, 500, None, None],
            ["S3", D(2026, 2, 10), "S", "1000", "EUR", 1000, None, None, None],
            ["S3", D(2026, 2, 10), "S", "4000", "EUR", None, 1000, None, None],
            ["S4", D(2026, 2, 20), "S", "6200", "EUR", 200, None, None, None],
            ["S4", D(2026, 2, 20), "S", "1000", "EUR", None, 200, None, None]]},
        "rates.xlsx": {"Rates": [["from", "to", "date", "rate", "type"],
                                 ["EUR", "USD", D(2026, 1, 31), 1.25, "closing"],
                                 ["EUR", "USD", D(2026, 1, 31), 1.20, "average"],
                                 ["EUR", "USD", D(2026, 2, 28), 1.30, "closing"],
                                 ["EUR", "USD", D(2026, 2, 28), 1.28, "average"]]},
        "group.xlsx": {
            "Eliminations": [["rule", "type", "entity", "counterparty", "account", "counter_account",
                              "difference_account"],
                             ["IC", "intercompany", None, None, "1300", "2300", "7950"],
                             ["INV", "investment", "P", "S", "1600", "3000-3100", "1700"]],
            "HistoricalRates": [["entity", "account", "rate", "amount_group"], ["S", "3000", 1.10, None],
                                ["S", "3100", None, -1100]]},
    }, tmp_path / "books")
    assert app.close_books(books, period="2026-01", user="ann").exit_code == 0
    jan = consolidated(books / "out" / "2026-01")
    assert jan["1000"] == 47840 and jan["4000"] == -3400 and jan["8900"] == 360
    assert jan["3900"] == -1425 and jan["3950"] == -3125 and jan["1600"] == 0
    assert sum(jan.values()) == 0
    assert app.close_books(books, period="2026-02", user="ann").exit_code == 0
    feb = consolidated(books / "out" / "2026-02")
    # February: revenue 3,400 + 500 + 1,000 x 1.28 = 5,180; IT 200 x 1.28 = 256;
    # S's profit YTD 1,800 + 800 x 1.28 = 2,824, 20% = 564.80
    assert feb["4000"] == Decimal("-5180") and feb["6200"] == 256 and feb["8900"] == Decimal("564.80")
    assert feb["1000"] == 50054 and feb["3950"] == -3458 and feb["3900"] == Decimal("-1952.80")
    assert sum(feb.values()) == 0
