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

from books import D, partly_owned_group, read_sheet
from closebatch import app

J = ["journal", "date", "entity", "account", "currency", "debit", "credit", "amount_acct", "counterparty"]


def consolidated(out):
    rows = read_sheet(out / "adjusted_trial_balance.xlsx", "Consolidated")
    return {r["account"]: Decimal(str(r["balance_group"])) for r in rows}


def test_partly_owned_foreign_subsidiary_two_periods(tmp_path):
    it = {"Journals": [J, ["S4", D(2026, 2, 20), "S", "6200", "EUR", 200, None, None, None],
                       ["S4", D(2026, 2, 20), "S", "1000", "EUR", None, 200, None, None]]}
    books = partly_owned_group(tmp_path / "books", {"it.xlsx": it})
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
