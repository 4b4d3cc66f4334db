"""Consolidation across fiscal years (spec section 3, step 8, "Across periods and years"):
books closed through the ledger over a year-end, with group figures computed by hand.

Every case closes December 2026 (the last period of fiscal year 2026) and then January 2027
(and sometimes February) through ``ledger/``, as a user would.  Sign convention: debit +,
credit −; amounts in currency units.
"""
from __future__ import annotations

from decimal import Decimal

import pytest

from books import ACCOUNTS, D, master, months, read_sheet, write_books
from closebatch import app

GJ = ["journal", "date", "entity", "account", "currency", "debit", "credit", "counterparty"]
PERIODS = months(2026, 12, 12) + months(2027, 1, 2)[1:]


def close(books, period):
    res = app.close_books(books, period=period, user="ann")
    assert res.exit_code == 0, [f.message for f in res.errors] + [b.message for b in res.blockers]
    return books / "out" / period


def group(out) -> dict:
    rows = read_sheet(out / "adjusted_trial_balance.xlsx", "Consolidated")
    g = {r["account"]: Decimal(str(r["balance_group"])) for r in rows}
    assert sum(g.values()) == 0
    return {a: v for a, v in g.items() if v}


def worksheet(out) -> list[list]:
    """The Worksheet's rows below its header (row 4)."""
    import openpyxl

    wb = openpyxl.load_workbook(out / "consolidation.xlsx", read_only=True)
    ws = wb["Worksheet"]
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    wb.close()
    return rows


def journal_register(out) -> list[dict]:
    return read_sheet(out / "ledger_journal.xlsx", "By journal")


# --------------------------------------------------------------------------- intercompany

def test_intercompany_differences_in_both_directions_carry_into_retained_earnings(tmp_path):
    """P (USD) owns S and T (USD, 100%).  Opening: P 1300 receivable from S 1,000 and S's
    payable 1,000 (they agree).  December: S books a 400 charge from P that P has not invoiced
    (S: rent 400 / payable to P 400), and P invoices T 500 that T has not booked (P:
    receivable from T 500 / revenue 500); P also sells 300 outside the group.

    December, the group: pair P/S: receivable 1,000 against payable 1,400: difference −400 to
    7950; pair P/T: receivable 500 against nothing: +500 to 7950.  7950 = +100.  Profit:
    300 + 500 − 400 − 100 = 300 (only the outside sale).

    January 2027: T books the payable (rent 500); P sells 200 outside.  Pair P/T now agrees:
    what it did to 7950 (+500) arose in 2026, so 2027 takes it back (−500) and retained
    earnings hold it; pair P/S still differs by −400, all of it from 2026: 7950 shows nothing
    of it, retained earnings hold it.  7950 = −500 (against T's rent 500: nil in the group).
    Retained earnings: P's 2026 profit −800, S's +400, earlier years' differences −400 + 500:
    −300 = the group's 2026 profit.

    February: P invoices S the 400 (receivable / revenue 400): the P/S difference is gone, and
    February takes back the −400 of 2026: 7950 year to date = −500 + 400 = −100; revenue
    200 + 400 = 600; the group's profit to date 200 (the outside sale)."""
    books = write_books({
        "master.xlsx": master(entities=(("P", "Parent", "USD", None, None), ("S", "Sub S", "USD", "P", 1),
                                        ("T", "Sub T", "USD", "P", 1)),
                              settings_extra=[["group_currency", "USD"]], periods=PERIODS),
        "opening.xlsx": {"TrialBalance": [
            ["entity", "account", "currency", "balance", "counterparty"],
            ["P", "1000", "USD", 10000, None], ["P", "1300", "USD", 1000, "S"], ["P", "1600", "USD", 7000, None],
            ["P", "3000", "USD", -18000, None],
            ["S", "1000", "USD", 6000, None], ["S", "2300", "USD", -1000, "P"], ["S", "3000", "USD", -5000, None],
            ["T", "1000", "USD", 2000, None], ["T", "3000", "USD", -2000, None]]},
        "journals.xlsx": {"Journals": [
            GJ,
            ["S-1", D(2026, 12, 15), "S", "6100", "USD", 400, None, None],
            ["S-1", D(2026, 12, 15), "S", "2300", "USD", None, 400, "P"],
            ["P-1", D(2026, 12, 16), "P", "1300", "USD", 500, None, "T"],
            ["P-1", D(2026, 12, 16), "P", "4000", "USD", None, 500, None],
            ["P-2", D(2026, 12, 10), "P", "1000", "USD", 300, None, None],
            ["P-2", D(2026, 12, 10), "P", "4000", "USD", None, 300, None],
            ["T-1", D(2027, 1, 12), "T", "6100", "USD", 500, None, None],
            ["T-1", D(2027, 1, 12), "T", "2300", "USD", None, 500, "P"],
            ["P-3", D(2027, 1, 10), "P", "1000", "USD", 200, None, None],
            ["P-3", D(2027, 1, 10), "P", "4000", "USD", None, 200, None],
            ["P-4", D(2027, 2, 5), "P", "1300", "USD", 400, None, "S"],
            ["P-4", D(2027, 2, 5), "P", "4000", "USD", None, 400, None]]},
        "group.xlsx": {"Eliminations": [
            ["rule", "type", "account", "counter_account", "difference_account", "entity", "counterparty"],
            ["IC-BAL", "intercompany", "1300", "2300", "7950", None, None],
            ["INV-S", "investment", "1600", "3000", "1700", "P", "S"],
            ["INV-T", "investment", "1600", "3000", "1700", "P", "T"]]},
    }, tmp_path / "books")
    dec = group(close(books, "2026-12"))
    assert dec["7950"] == 100 and dec["4000"] == -800 and dec["6100"] == 400
    assert sum(v for a, v in dec.items() if a[0] in "4567") == -300  # the group's profit
    assert "3100" not in dec

    jan_out = close(books, "2027-01")
    jan = group(jan_out)
    assert jan["3100"] == -300  # the group's 2026 profit
    assert jan["7950"] == -500 and jan["6100"] == 500 and jan["4000"] == -200
    assert sum(v for a, v in jan.items() if a[0] in "4567") == -200
    # every journal of the ledger journal balances (the register's difference column)
    assert all(Decimal(str(r["difference"] or 0)) == 0 for r in journal_register(jan_out) if r["journal"])

    feb = group(close(books, "2027-02"))
    assert feb["3100"] == -300 and feb["7950"] == -100 and feb["4000"] == -600 and feb["6100"] == 500
    assert sum(v for a, v in feb.items() if a[0] in "4567") == -200


# --------------------------------------------------------------------------- bargain purchase

def test_bargain_purchase_gain_is_income_of_its_year_only(tmp_path):
    """P pays 4,000 for all of S, whose equity at acquisition is 5,000: a bargain purchase gain
    of 1,000 (difference account 4900, a Revenue account), measured at the first close
    (December 2026).  In 2027 it is part of retained earnings, not income again."""
    accounts = ACCOUNTS + [["4900", "Bargain purchase gain", "Revenue", "N", "N"]]
    books = write_books({
        "master.xlsx": master(entities=(("P", "Parent", "USD", None, None), ("S", "Sub", "USD", "P", 1)),
                              settings_extra=[["group_currency", "USD"]], periods=PERIODS, accounts=accounts),
        "opening.xlsx": {"TrialBalance": [
            ["entity", "account", "currency", "balance"],
            ["P", "1000", "USD", 6000], ["P", "1600", "USD", 4000], ["P", "3000", "USD", -10000],
            ["S", "1000", "USD", 5000], ["S", "3000", "USD", -5000]]},
        "group.xlsx": {"Eliminations": [
            ["rule", "type", "account", "counter_account", "difference_account", "entity", "counterparty"],
            ["INV", "investment", "1600", "3000", "4900", "P", "S"]]},
    }, tmp_path / "books")
    dec = group(close(books, "2026-12"))
    assert dec == {"1000": 11000, "3000": -10000, "4900": -1000}
    jan = group(close(books, "2027-01"))
    assert jan == {"1000": 11000, "3000": -10000, "3100": -1000}
    feb = group(close(books, "2027-02"))
    assert feb == jan


# --------------------------------------------------------------------------- a foreign intermediate parent

def test_three_levels_goodwill_measured_once_in_the_subsidiarys_currency(tmp_path):
    """P (USD) owns H (GBP), which owns S (EUR); all 100%.  H's investment in S is 10,000 GBP,
    acquired at 1.25 (HistoricalRates H 1600 rate 1.25: 12,500 USD); S's share capital
    10,000 EUR at 1.10 (11,000 USD).  Goodwill = 12,500 − 11,000 = 1,500 USD, held in EUR at
    1.10: 1,363.64 EUR.  EUR/USD stays at 1.10; GBP/USD closes December at 1.30 and January
    at 1.40.

    Goodwill stays 1,363.64 EUR × 1.10 = 1,500.00 USD in both years (it used to drift with
    the GBP rate of H's investment).  H's investment at 1.30 (13,000) and 1.40 (14,000) makes
    H's own translation difference −500 and −1,500 (its share capital stands at 1.25); the
    elimination takes that back (the investment is gone from the group), so the group's
    translation reserve is nil: S's net assets are EUR at an unchanged rate."""
    rates = {"Rates": [["from", "to", "date", "rate", "type"],
                       ["EUR", "USD", D(2026, 12, 31), 1.10, "closing"], ["EUR", "USD", D(2026, 12, 31), 1.10, "average"],
                       ["GBP", "USD", D(2026, 12, 31), 1.30, "closing"], ["GBP", "USD", D(2026, 12, 31), 1.30, "average"],
                       ["EUR", "USD", D(2027, 1, 31), 1.10, "closing"], ["EUR", "USD", D(2027, 1, 31), 1.10, "average"],
                       ["GBP", "USD", D(2027, 1, 31), 1.40, "closing"], ["GBP", "USD", D(2027, 1, 31), 1.40, "average"]]}
    books = write_books({
        "master.xlsx": master(entities=(("P", "Parent", "USD", None, None), ("H", "Holding", "GBP", "P", 1),
                                        ("S", "Sub", "EUR", "H", 1)),
                              settings_extra=[["group_currency", "USD"]], periods=PERIODS),
        "opening.xlsx": {"TrialBalance": [
            ["entity", "account", "currency", "balance", "counterparty"],
            ["P", "1000", "USD", 1000, None], ["P", "1600", "USD", 12500, "H"], ["P", "3000", "USD", -13500, None],
            ["H", "1600", "GBP", 10000, "S"], ["H", "3000", "GBP", -10000, None],
            ["S", "1000", "EUR", 10000, None], ["S", "3000", "EUR", -10000, None]]},
        "rates.xlsx": rates,
        "group.xlsx": {
            "Eliminations": [["rule", "type", "account", "counter_account", "difference_account", "entity",
                              "counterparty"],
                             ["INV-H", "investment", "1600", "3000", "1700", "P", "H"],
                             ["INV-S", "investment", "1600", "3000", "1700", "H", "S"]],
            "HistoricalRates": [["entity", "account", "rate", "amount_group"], ["H", "3000", 1.25, None],
                                ["H", "1600", 1.25, None], ["S", "3000", 1.10, None]]},
    }, tmp_path / "books")
    dec_out = close(books, "2026-12")
    assert group(dec_out) == {"1000": 12000, "1700": 1500, "3000": -13500}
    gw = {r["rule"]: r for r in read_sheet(dec_out / "consolidation.xlsx", "Goodwill")}
    assert gw["INV-S"]["goodwill"] == pytest.approx(1363.64) and gw["INV-S"]["currency"] == "EUR"
    assert gw["INV-S"]["measured_in"] == "2026-12" and gw["INV-H"]["goodwill_group"] == 0
    cta = {r["entity"]: r for r in read_sheet(dec_out / "consolidation.xlsx", "CTA")}
    # H: its own −500 taken back with the investment
    assert cta["H"]["cta_investment_eliminated"] == 500 and cta["H"]["cta_translation"] == 0
    jan_out = close(books, "2027-01")
    assert group(jan_out) == {"1000": 12000, "1700": 1500, "3000": -13500}
    cta = {r["entity"]: r for r in read_sheet(jan_out / "consolidation.xlsx", "CTA")}
    assert cta["H"]["cta_investment_eliminated"] == 1500 and cta["H"]["cta_total"] == 0
    gw = {r["rule"]: r for r in read_sheet(jan_out / "consolidation.xlsx", "Goodwill")}
    assert gw["INV-S"]["measured_in"] == "2026-12" and gw["INV-S"]["goodwill_group"] == 1500


# --------------------------------------------------------------------------- the opening translation reserve

def test_opening_translation_reserve_is_where_the_first_close_starts(tmp_path):
    """S (EUR, 100%) comes into the calendar with a translation reserve of −300 USD (a gain of
    earlier years), given in HistoricalRates beside its share capital at 1.10 (11,000 USD) and
    retained earnings of −1,000 EUR as −1,100 USD.  December closes at 1.15: S's net assets
    11,000 EUR are 12,650 USD against 12,100 of equity, a reserve of −550.  The close starts
    from −300, so −250 arose in December.  January closes at 1.20: 13,200 against 12,100,
    −1,100, of which −550 arose in January."""
    books = write_books({
        "master.xlsx": master(entities=(("P", "Parent", "USD", None, None), ("S", "Sub", "EUR", "P", 1)),
                              settings_extra=[["group_currency", "USD"]], periods=PERIODS),
        "opening.xlsx": {"TrialBalance": [
            ["entity", "account", "currency", "balance", "balance_acct"],
            ["P", "1000", "USD", 1000, None], ["P", "3000", "USD", -1000, None],
            ["S", "1000", "EUR", 11000, None], ["S", "3000", "EUR", -10000, None], ["S", "3100", "EUR", -1000, None]]},
        "rates.xlsx": {"Rates": [["from", "to", "date", "rate", "type"],
                                 ["EUR", "USD", D(2026, 12, 31), 1.15, "closing"],
                                 ["EUR", "USD", D(2026, 12, 31), 1.15, "average"],
                                 ["EUR", "USD", D(2027, 1, 31), 1.20, "closing"],
                                 ["EUR", "USD", D(2027, 1, 31), 1.20, "average"]]},
        "group.xlsx": {"HistoricalRates": [["entity", "account", "rate", "amount_group"], ["S", "3000", 1.10, None],
                                           ["S", "3100", None, -1100], ["S", "3900", None, -300]]},
    }, tmp_path / "books")
    dec_out = close(books, "2026-12")
    assert group(dec_out)["3900"] == -550
    cta = {r["entity"]: r for r in read_sheet(dec_out / "consolidation.xlsx", "CTA")}
    assert cta["S"]["cta_at_start"] == -300 and cta["S"]["cta_movement"] == -250 and cta["S"]["cta_total"] == -550
    assert cta["S"]["cta_total_is"] == "gain"
    jan_out = close(books, "2027-01")
    # January: 11,000 × 1.20 = 13,200 against 12,100: −1,100; the movement from December's −550
    cta = {r["entity"]: r for r in read_sheet(jan_out / "consolidation.xlsx", "CTA")}
    assert cta["S"]["cta_at_start"] == -550 and cta["S"]["cta_movement"] == -550 and cta["S"]["cta_total"] == -1100
    assert group(jan_out)["3900"] == -1100


# --------------------------------------------------------------------------- the worksheet

def test_worksheet_puts_the_entities_side_by_side_and_adds_across(tmp_path):
    from books import partly_owned_group

    books = partly_owned_group(tmp_path / "books")
    out = close(books, "2026-01")
    rows = worksheet(out)
    head = next(i for i, r in enumerate(rows) if r and r[0] == "Account")
    header = rows[head]
    assert header[:2] == ["Account", "Name"] and header[2].startswith("P ") and header[3].startswith("S ")
    assert header[4:] == ["Sum of entities", "Elimination IC", "Elimination INV", "Non-controlling interests",
                          "Consolidated"]
    body = [r for r in rows[head + 1:] if r and any(isinstance(v, (int, float)) for v in r[2:])]
    for r in body:  # every row adds across
        assert r[4] == pytest.approx(r[2] + r[3]), r
        assert r[8] == pytest.approx(r[4] + r[5] + r[6] + r[7]), r
    last = body[-1]
    assert last[1].startswith("Total (every column") and all(v == 0 for v in last[2:])
    cons = {r["account"]: r["balance_group"] for r in read_sheet(out / "adjusted_trial_balance.xlsx",
                                                                 "Consolidated")}
    by_account = {r[0]: r[8] for r in body if r[0]}
    assert {a: v for a, v in by_account.items() if v} == {a: v for a, v in cons.items() if v}
    # S's column holds its translation difference: the entity's trial balance sums to zero
    assert by_account["3900"] == cons["3900"]
    import openpyxl

    ws = openpyxl.load_workbook(out / "consolidation.xlsx")["Worksheet"]
    assert ws.page_setup.orientation == "landscape" and ws.sheet_properties.pageSetUpPr.fitToPage
    assert ws.print_title_rows and ws.freeze_panes == "C5"


# --------------------------------------------------------------------------- capital contributed after acquisition

def test_capital_injection_into_a_subsidiary_is_eliminated_not_goodwill(tmp_path):
    """P owns 80% of S (USD), bought for 4,000 against S's equity of 5,000: NCI 1,000, goodwill
    nil.  In December S issues 1,000 of new share capital: P pays its 800 (investment +800), the
    minority its 200.  The group: cash 9,200 + 6,000 = 15,200; S's share capital is gone
    (5,000 at acquisition and P's 800 eliminated, the minority's 200 moved to NCI); NCI = 20%
    of S's 6,000 = 1,200; no goodwill and no warning.  January carries it unchanged."""
    books = write_books({
        "master.xlsx": master(entities=(("P", "Parent", "USD", None, None), ("S", "Sub", "USD", "P", "80%")),
                              settings_extra=[["group_currency", "USD"]], periods=PERIODS),
        "opening.xlsx": {"TrialBalance": [
            ["entity", "account", "currency", "balance", "counterparty"],
            ["P", "1000", "USD", 10000, None], ["P", "1600", "USD", 4000, "S"], ["P", "3000", "USD", -14000, None],
            ["S", "1000", "USD", 5000, None], ["S", "3000", "USD", -5000, None]]},
        "journals.xlsx": {"Journals": [
            GJ,
            ["P-1", D(2026, 12, 5), "P", "1600", "USD", 800, None, "S"],
            ["P-1", D(2026, 12, 5), "P", "1000", "USD", None, 800, None],
            ["S-1", D(2026, 12, 5), "S", "1000", "USD", 1000, None, None],
            ["S-1", D(2026, 12, 5), "S", "3000", "USD", None, 1000, None]]},
        "group.xlsx": {"Eliminations": [
            ["rule", "type", "account", "counter_account", "difference_account", "entity", "counterparty"],
            ["INV", "investment", "1600", "3000", "1700", "P", "S"]]},
    }, tmp_path / "books")
    res = app.close_books(books, period="2026-12", user="ann")
    assert res.exit_code == 0 and not [f for f in res.findings if f.code == "investment-changed"]
    assert group(books / "out" / "2026-12") == {"1000": 15200, "3000": -14000, "3950": -1200}
    assert group(close(books, "2027-01")) == {"1000": 15200, "3000": -14000, "3950": -1200}
