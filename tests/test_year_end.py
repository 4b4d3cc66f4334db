"""The year-end close (spec section 3, step 9) over two fiscal years, through the ledger.

One USD entity, calendar November 2026 to January 2027 (fiscal years = calendar years).
Opening at 1 November: cash 5,000 = share capital 4,000 + retained earnings 1,000.
November: sale 800.  December: sale 1,200, rent 300.  January: rent 250.

* December's trial balance and statements show the balances *before* the closing entries:
  revenue 2,000, rent 300, retained earnings still 1,000, profit for the year 1,700.
* The closing entries (year_end.xlsx, Closing) debit revenue 2,000, credit rent 300 and credit
  retained earnings 1,700; the next year's opening (Opening): cash 6,700, share capital 4,000,
  retained earnings 2,700, and no Revenue/Expense account.
* January starts from that opening: retained earnings 2,700, and an income statement that
  starts again at zero (rent 250 for the month and the year to date).
"""
from __future__ import annotations

from decimal import Decimal

import openpyxl

from books import D, master, months, read_sheet, write_books
from closebatch import app

J = ["journal", "date", "entity", "account", "currency", "debit", "credit", "description"]
# February 2027 is in the calendar so that January is not the calendar's last period (which
# would make it a year-end period)
PERIODS = months(2026, 11, 12) + months(2027, 1, 2)[1:]


def books_two_years(tmp_path):
    return write_books({
        "master.xlsx": master(periods=PERIODS),
        "opening.xlsx": {"TrialBalance": [["entity", "account", "currency", "balance"],
                                          ["E1", "1000", "USD", 5000], ["E1", "3000", "USD", -4000],
                                          ["E1", "3100", "USD", -1000]]},
        "journals.xlsx": {"Journals": [
            J,
            ["N1", D(2026, 11, 5), "E1", "1000", "USD", 800, None, "November sale"],
            ["N1", D(2026, 11, 5), "E1", "4000", "USD", None, 800, "November sale"],
            ["D1", D(2026, 12, 5), "E1", "1000", "USD", 1200, None, "December sale"],
            ["D1", D(2026, 12, 5), "E1", "4000", "USD", None, 1200, "December sale"],
            ["D2", D(2026, 12, 9), "E1", "6100", "USD", 300, None, "December rent"],
            ["D2", D(2026, 12, 9), "E1", "1000", "USD", None, 300, "December rent"],
            ["J1", D(2027, 1, 9), "E1", "6100", "USD", 250, None, "January rent"],
            ["J1", D(2027, 1, 9), "E1", "1000", "USD", None, 250, "January rent"]]},
    }, tmp_path / "books")


def tb(out, sheet="TrialBalance", book="adjusted_trial_balance.xlsx") -> dict:
    return {r["account"]: Decimal(str(r["balance_acct"])) for r in read_sheet(out / book, sheet)}


def closing(out) -> dict:
    """The closing entries by (entity, account), in accounting currency."""
    return {(r["entity"], r["account"]): Decimal(str(r["amount_acct"]))
            for r in read_sheet(out / "year_end.xlsx", "Closing")}


def group_tb(out) -> dict:
    return {r["account"]: Decimal(str(r["balance_group"]))
            for r in read_sheet(out / "adjusted_trial_balance.xlsx", "Consolidated")}


def rows(path, sheet) -> dict:
    ws = openpyxl.load_workbook(path)[sheet]
    return {r[0]: [v for v in r[1:] if isinstance(v, (int, float))] for r in ws.iter_rows(min_row=6, values_only=True)
            if r[0]}


def close(books, period):
    res = app.close_books(books, period=period, user="ann")
    assert res.exit_code == 0, [f.message for f in res.findings]
    return books / "out" / period


def test_two_years_retained_earnings_and_a_fresh_income_statement(tmp_path):
    books = books_two_years(tmp_path)
    close(books, "2026-11")
    assert not (books / "out" / "2026-11" / "year_end.xlsx").exists()  # not a year-end period
    dec = close(books, "2026-12")
    # before the closing entries
    assert tb(dec) == {"1000": 6700, "3000": -4000, "3100": -1000, "4000": -2000, "6100": 300}
    assert closing(dec) == {("E1", "4000"): 2000, ("E1", "6100"): -300, ("E1", "3100"): -1700}
    assert {r["journal"] for r in read_sheet(dec / "year_end.xlsx", "Closing")} == {"YE-2026-E1"}
    assert tb(dec, "Opening", "year_end.xlsx") == {"1000": 6700, "3000": -4000, "3100": -2700}
    lines = read_sheet(dec / "ledger_journal.xlsx", "Lines")
    assert [r["journal_type"] for r in lines].count("year_end") == 3
    bs = rows(dec / "statements.xlsx", "E1 Balance sheet")
    # December and November columns: profit for the year to date still in its own line
    assert bs["Retained earnings"] == [1000, 1000] and bs["Profit for the period"] == [1700, 800]
    assert bs["Total liabilities and equity"] == [6700, 5800]
    is_ = rows(dec / "statements.xlsx", "E1 Income statement")
    # this period (December), year to date, prior period (November)
    assert is_["Revenue"] == [1200, 2000, 800] and is_["Profit for the period"] == [900, 1700, 800]
    ws = openpyxl.load_workbook(dec / "statements.xlsx")["E1 Balance sheet"]
    assert ws["A3"].value == "Amounts in USD, before the year-end closing entries"

    jan = close(books, "2027-01")
    assert tb(jan) == {"1000": 6450, "3000": -4000, "3100": -2700, "6100": 250}
    assert not (jan / "year_end.xlsx").exists()
    is_ = rows(jan / "statements.xlsx", "E1 Income statement")
    # January, year to date, prior period (December's movement): the new year starts at zero
    assert is_["Rent"] == [250, 250, 300] and is_["Profit for the period"] == [-250, -250, 900]
    assert "Revenue" in is_ and is_["Revenue"] == [0, 0, 1200]
    bs = rows(jan / "statements.xlsx", "E1 Balance sheet")
    assert bs["Retained earnings"] == [2700, 1000] and bs["Profit for the period"] == [-250, 1700]


def test_reclosing_the_year_end_replaces_the_closing_entries(tmp_path):
    books = books_two_years(tmp_path)
    for p in ("2026-11", "2026-12", "2027-01"):
        close(books, p)
    # a late accrual for December: reopening December reopens January, which is On hold, with it
    reopened = app.change_period(books, "2026-12", "open", user="ann")
    assert reopened.exit_code == 0 and "2027-01" in reopened.message
    write_books({"late.xlsx": {"Journals": [J, ["L1", D(2026, 12, 30), "E1", "6200", "USD", 100, None, "accrual"],
                                            ["L1", D(2026, 12, 30), "E1", "2100", "USD", None, 100, "accrual"]]}},
                books)
    dec = close(books, "2026-12")
    # profit 2,000 - 300 - 100 = 1,600: the earlier 1,700 entries are gone, not added to
    assert closing(dec) == {("E1", "4000"): 2000, ("E1", "6100"): -300, ("E1", "6200"): -100,
                            ("E1", "3100"): -1600}
    ledger = openpyxl.load_workbook(books / "ledger" / "2026-12.xlsx", read_only=True)
    ye = list(ledger["YearEnd"].iter_rows(values_only=True))
    assert len(ye) == 1 + 4
    jan = close(books, "2027-01")
    assert tb(jan) == {"1000": 6450, "2100": -100, "3000": -4000, "3100": -2600, "6100": 250}


def test_a_year_closed_outside_closebatch_opens_the_next_with_its_profit_in_retained_earnings(tmp_path):
    """December 2026 was closed in the old system (status Permanently closed, no ledger record):
    the opening trial balance at 1 December holds 500 of revenue of fiscal year 2026, which
    belongs in retained earnings when January 2027 is closed."""
    periods = [PERIODS[0] + ["status"], PERIODS[2] + ["Permanently closed"], PERIODS[3] + ["Open"],
               PERIODS[4] + ["Open"]]
    books = write_books({
        "master.xlsx": master(periods=periods),
        "opening.xlsx": {"TrialBalance": [["entity", "account", "currency", "balance"],
                                          ["E1", "1000", "USD", 5500], ["E1", "3000", "USD", -4000],
                                          ["E1", "3100", "USD", -1000], ["E1", "4000", "USD", -500]]},
        "journals.xlsx": {"Journals": [J, ["J1", D(2027, 1, 9), "E1", "6100", "USD", 250, None, "January rent"],
                                       ["J1", D(2027, 1, 9), "E1", "1000", "USD", None, 250, "January rent"]]},
    }, tmp_path / "books")
    jan = close(books, "2027-01")
    assert tb(jan) == {"1000": 5250, "3000": -4000, "3100": -1500, "6100": 250}


def test_retained_earnings_must_be_an_equity_account(tmp_path):
    settings = master(periods=PERIODS)
    settings["Settings"] = [r if r[0] != "retained_earnings_account" else [r[0], "4000"] for r in settings["Settings"]]
    books = write_books({
        "master.xlsx": settings,
        "opening.xlsx": {"TrialBalance": [["entity", "account", "currency", "balance"],
                                          ["E1", "1000", "USD", 5000], ["E1", "3000", "USD", -5000]]},
        "journals.xlsx": {"Journals": [J, ["D1", D(2026, 12, 5), "E1", "1000", "USD", 1200, None, "sale"],
                                       ["D1", D(2026, 12, 5), "E1", "4000", "USD", None, 1200, "sale"]]},
    }, tmp_path / "books")
    close(books, "2026-11")
    res = app.close_books(books, period="2026-12", user="ann")
    assert res.exit_code == 1
    assert [f.code for f in res.errors] == ["retained-earnings-invalid"]
    assert "4000" in res.errors[0].message and res.errors[0].sheet == "Settings"


# --------------------------------------------------------------------------- the group

GJ = ["journal", "date", "entity", "account", "currency", "debit", "credit", "counterparty"]


def test_consolidated_two_years_retained_earnings_roll_forward(tmp_path):
    """P (USD) owns 80% of S (EUR) from 1 December 2026.  Opening: P cash 30,990, investment
    10,010, share capital 41,000; S cash 11,000 EUR, share capital 10,000 (historical rate
    1.10), retained earnings 1,000 (1,100 USD).  December (closing 1.25, average 1.20): P sells
    1,000; S sells 2,000 EUR and pays rent 500 EUR.  January 2027 (closing 1.30, average 1.28):
    S sells 1,000 EUR; P pays rent 200.

    December, the group: cash 30,990 + 1,000 + 12,500 x 1.25 = 47,615; goodwill 10,010 -
    80% x 12,100 = 330 USD = 300 EUR, at 1.25 = 375.  Profit 1,000 + 1,500 x 1.20 = 2,800, of
    which NCI 20% x 1,800 = 360, owners 2,440.  Retained earnings 0 (S's are pre-acquisition).

    January: S's translated retained earnings roll forward by its 2026 profit at the rates it
    was translated at (1,100 + 1,800 = 2,900 USD), P's by 1,000.  Group retained earnings =
    P 1,000 + S 2,900 - 1,100 at acquisition - NCI's 20% of the post-acquisition 1,800 (360) =
    2,440: the owners' 2026 profit.  NCI = 20% of S's net assets 13,500 x 1.30 = 3,510.
    Translation reserve: 80% of S's CTA 2,370 (13,500 x 1.30 = 17,550 against 11,000 + 1,100
    + 1,800 + 1,280 at historical and average rates) = 1,896, plus goodwill 300 x (1.30 - 1.10)
    = 60: 1,956.  Profit for January: 1,280 - 200 = 1,080, NCI 256, owners 824.
    """
    periods = months(2026, 12, 12) + months(2027, 1, 2)[1:]
    books = write_books({
        "master.xlsx": master(entities=(("P", "Parent Inc", "USD", None, None), ("S", "Sub GmbH", "EUR", "P", "80%")),
                              settings_extra=[["group_currency", "USD"]], periods=periods),
        "opening.xlsx": {"TrialBalance": [
            ["entity", "account", "currency", "balance", "counterparty"],
            ["P", "1000", "USD", 30990, None], ["P", "1600", "USD", 10010, "S"], ["P", "3000", "USD", -41000, None],
            ["S", "1000", "EUR", 11000, None], ["S", "3000", "EUR", -10000, None],
            ["S", "3100", "EUR", -1000, None]]},
        "journals.xlsx": {"Journals": [
            GJ,
            ["P1", D(2026, 12, 10), "P", "1000", "USD", 1000, None, None],
            ["P1", D(2026, 12, 10), "P", "4000", "USD", None, 1000, None],
            ["S1", D(2026, 12, 15), "S", "1000", "EUR", 2000, None, None],
            ["S1", D(2026, 12, 15), "S", "4000", "EUR", None, 2000, None],
            ["S2", D(2026, 12, 20), "S", "6100", "EUR", 500, None, None],
            ["S2", D(2026, 12, 20), "S", "1000", "EUR", None, 500, None],
            ["S3", D(2027, 1, 12), "S", "1000", "EUR", 1000, None, None],
            ["S3", D(2027, 1, 12), "S", "4000", "EUR", None, 1000, None],
            ["P2", D(2027, 1, 14), "P", "6100", "USD", 200, None, None],
            ["P2", D(2027, 1, 14), "P", "1000", "USD", None, 200, None]]},
        "rates.xlsx": {"Rates": [["from", "to", "date", "rate", "type"],
                                 ["EUR", "USD", D(2026, 12, 31), 1.25, "closing"],
                                 ["EUR", "USD", D(2026, 12, 31), 1.20, "average"],
                                 ["EUR", "USD", D(2027, 1, 31), 1.30, "closing"],
                                 ["EUR", "USD", D(2027, 1, 31), 1.28, "average"]]},
        "group.xlsx": {
            "Eliminations": [["rule", "type", "entity", "counterparty", "account", "counter_account",
                              "difference_account"], ["INV", "investment", "P", "S", "1600", "3000-3100", "1700"]],
            "HistoricalRates": [["entity", "account", "rate", "amount_group"], ["S", "3000", 1.10, None],
                                ["S", "3100", None, -1100]]},
    }, tmp_path / "books")
    dec = close(books, "2026-12")
    g = group_tb(dec)
    assert g["1000"] == 47615 and g["1700"] == 375 and g["3100"] == 0
    assert g["4000"] == -3400 and g["6100"] == 600 and g["8900"] == 360
    assert closing(dec) == {("P", "4000"): 1000, ("P", "3100"): -1000,  # P's profit 1,000 USD
                            ("S", "4000"): 2000, ("S", "6100"): -500, ("S", "3100"): -1500}  # S's 1,500 EUR
    s_dec = rows(dec / "statements.xlsx", "Group Income statement")
    assert s_dec["Profit for the period"] == [2800, 2800]
    assert s_dec["Owners of the parent"] == [2440, 2440] and s_dec["Non-controlling interests"] == [360, 360]

    jan = close(books, "2027-01")
    g = group_tb(jan)
    assert g["3100"] == -2440  # the owners' 2026 profit
    assert g["3950"] == -3510 and g["3900"] == -1956 and g["1700"] == 390
    assert g["1000"] == 49340  # 31,790 + 13,500 x 1.30
    assert g["4000"] == -1280 and g["6100"] == 200 and g["8900"] == 256  # the year starts again at zero
    assert sum(g.values()) == 0
    # the entities' own books: retained earnings hold their 2026 profit (S's in EUR)
    own = read_sheet(jan / "adjusted_trial_balance.xlsx", "TrialBalance")
    assert {r["entity"]: r["balance_acct"] for r in own if r["account"] == "3100"} == {"P": -1000, "S": -2500}
    bs = rows(jan / "statements.xlsx", "Group Balance sheet")
    # January and December columns
    assert bs["Retained earnings"] == [2440, 0]
    assert bs["Profit for the period attributable to owners"] == [824, 2440]
    assert bs["Non-controlling interests"] == [3510, 3125]
    assert bs["Total assets"] == bs["Total liabilities and equity"] == [49730, 47990]
    is_ = rows(jan / "statements.xlsx", "Group Income statement")
    assert is_["Profit for the period"] == [1080, 1080, 2800]
    assert is_["Owners of the parent"] == [824, 824, 2440] and is_["Non-controlling interests"] == [256, 256, 360]
