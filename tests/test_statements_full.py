"""The full set of statements: comprehensive income, changes in equity and cash flows.

The group, computed by hand: P (USD) owns 80% of S (EUR), acquired on 1 January 2026 (the
start of the calendar).  Rates EUR→USD: 31 Dec 2025 closing 1.10 (the acquisition rate, also
in HistoricalRates); January closing 1.25, average 1.20; February closing 1.30, average 1.28.

Opening (1 Jan): P cash 20,320, investment in S 9,680, share capital 30,000.  S cash 12,000
EUR, payables 2,000, share capital 8,000, retained earnings 2,000 (equity at acquisition
10,000 EUR = 11,000 USD).  Goodwill 9,680 - 80% x 11,000 = 880 USD = 800 EUR; NCI 2,200.
Group opening balance sheet: cash 20,320 + 12,000 x 1.10 = 33,520, goodwill 880, payables
2,200, share capital 30,000, NCI 2,200 (total equity 32,200).

January: P sells for 1,000 USD cash; S sells for 2,000 EUR cash, pays rent 500 and a supplier
500.
* S: cash 13,000 at 1.25 = 16,250; payables 1,500 at 1.25 = 1,875; profit 1,500 at 1.20 =
  1,800.  Translation difference 10,000 x (1.25 - 1.10) + 1,500 x (1.25 - 1.20) = 1,575; on
  goodwill 800 x (1.25 - 1.10) = 120.  OCI 1,695: NCI 20% x 1,575 = 315, owners 1,380.
* Profit 2,800 (P 1,000, S 1,800): NCI 360, owners 2,440.  NCI 2,200 + 360 + 315 = 2,875.
* Cash flow: profit 2,800; payables: 500 EUR paid at 1.20 = -600 (the change of the
  consolidated payables, -325 ... +... , net of their translation difference of 275); cash
  33,520 + 2,200 + effect of rates on S's cash 12,000 x 0.15 + 1,000 x 0.05 = 1,850 = 37,570.

February: P issues shares for 5,000 USD cash (a capital injection); S pays a dividend of 1,000
EUR, 800 to P (P's dividend income 800 EUR = 1,024 USD, eliminated against S's retained
earnings) and 200 to the minority; S buys equipment for 2,000 EUR; S sells for 1,000 EUR cash.
* Profit 1,280 (S's sale at 1.28; P's dividend income eliminated): NCI 20% = 256, owners 1,024.
* S's translation difference to date 9,000 x 1.30 - 9,720 + 2,500 x 1.30 - 3,080 = 2,150, on
  goodwill 800 x 0.20 = 160: total 2,310, 615 in February; NCI 20% x 2,150 = 430 (115 in
  February); owners 500.
* NCI: 2,875 + 256 + 115 - 256 (20% of the dividend of 1,280) = 2,990.
* Cash flow: profit 1,280; equipment -2,000 x 1.28 = -2,560 (its translation difference 40 is
  not a cash flow); share capital +5,000; dividends to NCI -256; effect of rates on S's cash
  13,000 x 0.05 - 2,000 x 0.02 = 610; cash 37,570 + 3,464 + 610 = 41,644.  The 1,024 paid by S
  to P is absent.
"""
from __future__ import annotations

import zipfile
from decimal import Decimal

import openpyxl

from books import D, master, write_books
from closebatch import app

ACCOUNTS = [
    ["account", "name", "type", "revalue", "settle", "statement_line", "cash_flow"],
    ["1000", "Cash", "Asset", "N", "N", "Cash and cash equivalents", "cash"],
    ["1600", "Investment in subsidiaries", "Asset", "N", "N", None, "investing"],
    ["1700", "Goodwill", "Asset", "N", "N", None, None],
    ["1800", "Equipment", "Asset", "N", "N", None, "investing"],
    ["2000", "Payables", "Liability", "N", "N", None, None],
    ["3000", "Share capital", "Equity", "N", "N", None, None],
    ["3100", "Retained earnings", "Equity", "N", "N", None, None],
    ["3900", "Translation reserve", "Equity", "N", "N", None, None],
    ["3950", "Non-controlling interests", "Equity", "N", "N", None, None],
    ["4000", "Revenue", "Revenue", "N", "N", None, None],
    ["4500", "Dividend income", "Revenue", "N", "N", None, None],
    ["6100", "Rent", "Expense", "N", "N", None, None],
    ["7900", "Unrealized FX gain", "Revenue", "N", "N", None, None],
    ["7910", "Unrealized FX loss", "Expense", "N", "N", None, None],
    ["7920", "Realized FX gain", "Revenue", "N", "N", None, None],
    ["7930", "Realized FX loss", "Expense", "N", "N", None, None],
    ["7950", "Intercompany difference", "Expense", "N", "N", None, None],
    ["8900", "Profit attributable to non-controlling interests", "Expense", "N", "N", None, None],
    ["9990", "Rounding", "Expense", "N", "N", None, None],
]
J = ["journal", "date", "entity", "account", "currency", "debit", "credit", "amount_acct", "counterparty"]


def books(tmp_path, extra=None):
    b = {"master.xlsx": master(entities=(("P", "Parent Inc", "USD", None, None), ("S", "Sub GmbH", "EUR", "P", "80%")),
                               settings_extra=[["group_currency", "USD"]], accounts=ACCOUNTS),
         "opening.xlsx": {"TrialBalance": [
             ["entity", "account", "currency", "balance", "counterparty"],
             ["P", "1000", "USD", 20320, None], ["P", "1600", "USD", 9680, "S"], ["P", "3000", "USD", -30000, None],
             ["S", "1000", "EUR", 12000, None], ["S", "2000", "EUR", -2000, None],
             ["S", "3000", "EUR", -8000, None], ["S", "3100", "EUR", -2000, None]]},
         "journals.xlsx": {"Journals": [
             J,
             ["P1", D(2026, 1, 10), "P", "1000", "USD", 1000, None, None, None],
             ["P1", D(2026, 1, 10), "P", "4000", "USD", None, 1000, None, None],
             ["S1", D(2026, 1, 15), "S", "1000", "EUR", 2000, None, None, None],
             ["S1", D(2026, 1, 15), "S", "4000", "EUR", None, 2000, None, None],
             ["S2", D(2026, 1, 20), "S", "6100", "EUR", 500, None, None, None],
             ["S2", D(2026, 1, 20), "S", "1000", "EUR", None, 500, None, None],
             ["S3", D(2026, 1, 25), "S", "2000", "EUR", 500, None, None, None],
             ["S3", D(2026, 1, 25), "S", "1000", "EUR", None, 500, None, None],
             # February: a capital injection into P, S's dividend, S's equipment, S's sale
             ["P2", D(2026, 2, 3), "P", "1000", "USD", 5000, None, None, None],
             ["P2", D(2026, 2, 3), "P", "3000", "USD", None, 5000, None, None],
             ["S4", D(2026, 2, 10), "S", "3100", "EUR", 800, None, None, "P"],
             ["S4", D(2026, 2, 10), "S", "3100", "EUR", 200, None, None, None],
             ["S4", D(2026, 2, 10), "S", "1000", "EUR", None, 1000, None, None],
             ["P3", D(2026, 2, 10), "P", "1000", "USD", 1024, None, None, None],
             ["P3", D(2026, 2, 10), "P", "4500", "EUR", None, 800, -1024, "S"],
             ["S5", D(2026, 2, 12), "S", "1800", "EUR", 2000, None, None, None],
             ["S5", D(2026, 2, 12), "S", "1000", "EUR", None, 2000, None, None],
             ["S6", D(2026, 2, 20), "S", "1000", "EUR", 1000, None, None, None],
             ["S6", D(2026, 2, 20), "S", "4000", "EUR", None, 1000, None, None]]},
         "rates.xlsx": {"Rates": [["from", "to", "date", "rate", "type"],
                                  ["EUR", "USD", D(2025, 12, 31), 1.10, "closing"],
                                  ["EUR", "USD", D(2026, 1, 31), 1.25, "closing"],
                                  ["EUR", "USD", D(2026, 1, 31), 1.20, "average"],
                                  ["EUR", "USD", D(2026, 2, 28), 1.30, "closing"],
                                  ["EUR", "USD", D(2026, 2, 28), 1.28, "average"]]},
         "group.xlsx": {"Eliminations": [["rule", "type", "entity", "counterparty", "account", "counter_account",
                                          "difference_account"],
                                         ["DIV", "intercompany", None, None, "4500", "3100", "7950"],
                                         ["INV", "investment", "P", "S", "1600", "3000-3100", "1700"]],
                        "HistoricalRates": [["entity", "account", "rate", "amount_group"], ["S", "3000", 1.10, None],
                                            ["S", "3100", 1.10, None]]}}
    b.update(extra or {})
    return write_books(b, tmp_path / "books")


def close(folder, period):
    res = app.close_books(folder, period=period, user="ann")
    assert res.exit_code == 0, [f.message for f in res.findings]
    assert not [f for f in res.findings if f.code.startswith("statement")], [f.message for f in res.findings]
    return folder / "out" / period / "statements.xlsx"


def rows(path, sheet) -> list[tuple[str, list]]:
    """(label, amounts) of every row of a statement sheet below its header (row 5)."""
    ws = openpyxl.load_workbook(path)[sheet]
    header = [c.value for c in ws[5]]
    n = sum(1 for h in header[1:] if h and h != "Accounts")
    out = []
    for r in ws.iter_rows(min_row=6, values_only=True):
        if r[0] and any(v is not None for v in r[1:1 + n]):
            out.append((r[0], [Decimal(str(v)) if v is not None else None for v in r[1:1 + n]]))
    return out


def table(path, sheet) -> dict:
    return dict(rows(path, sheet))


def headers(path, sheet) -> list:
    return [c.value for c in openpyxl.load_workbook(path)[sheet][5] if c.value]


def blocks(path, sheet) -> dict:
    """Changes in equity: {block heading: {row label: amounts}}."""
    ws = openpyxl.load_workbook(path)[sheet]
    out, cur = {}, None
    for r in ws.iter_rows(min_row=6, values_only=True):
        if r[0] and all(v is None for v in r[1:]):
            cur = out.setdefault(r[0], {})
        elif r[0] and cur is not None and any(isinstance(v, (int, float)) for v in r[1:]):
            cur[r[0]] = [Decimal(str(v)) for v in r[1:] if isinstance(v, (int, float))]
    return out


def n(*xs):
    return [Decimal(str(x)) for x in xs]


def test_january_the_first_period(tmp_path):
    folder = books(tmp_path)
    path = close(folder, "2026-01")
    names = openpyxl.load_workbook(path).sheetnames
    for unit in ("Group", "P", "S"):
        for kind in ("Balance sheet", "Income statement", "Comprehensive income", "Changes in equity", "Cash flow"):
            assert f"{unit} {kind}" in names

    # the first period compares with the opening balance sheet
    bs = table(path, "Group Balance sheet")
    assert headers(path, "Group Balance sheet")[:2] == ["This period\n31 Jan 2026", "Opening balance\n31 Dec 2025"]
    assert bs["Cash and cash equivalents"] == n(37570, 33520) and bs["Goodwill"] == n(1000, 880)
    assert bs["Total assets"] == n(38570, 34400) and bs["Non-controlling interests"] == n(2875, 2200)
    assert table(path, "S Balance sheet")["Total assets"] == n(13000, 12000)

    ci = table(path, "Group Comprehensive income")
    assert ci["Profit for the period"] == n(2800, 2800)
    assert ci["Exchange differences on translating foreign operations"] == n(1695, 1695)
    assert ci["Total comprehensive income for the period"] == n(4495, 4495)
    attributable = [v for label, v in rows(path, "Group Comprehensive income") if label in
                    ("Owners of the parent", "Non-controlling interests")]
    assert attributable == [n(2440, 2440), n(360, 360), n(3820, 3820), n(675, 675)]

    ce = blocks(path, "Group Changes in equity")
    assert headers(path, "Group Changes in equity") == [
        "Share capital", "Retained earnings", "Translation reserve", "Attributable to owners",
        "Non-controlling interests", "Total equity", "Accounts"]
    jan = ce["This period: 2026-01"]
    assert jan["Balance at 1 January 2026"] == n(30000, 0, 0, 30000, 2200, 32200)
    assert jan["Profit for the period"] == n(0, 2440, 0, 2440, 360, 2800)
    assert jan["Other comprehensive income"] == n(0, 0, 1380, 1380, 315, 1695)
    assert jan["Other movements (capital, dividends: posted directly to equity)"] == n(0, 0, 0, 0, 0, 0)
    assert jan["Balance at 31 January 2026"] == n(30000, 2440, 1380, 33820, 2875, 36695)

    cf = table(path, "Group Cash flow")
    assert cf["Profit for the period"] == n(2800, 2800)
    assert cf["Change in Payables"] == n(-600, -600)
    assert cf["Net cash from operating activities"] == n(2200, 2200)
    assert cf["Cash at the beginning of the period"] == n(33520, 33520)
    assert cf["Effect of exchange rate changes on cash"] == n(1850, 1850)
    assert cf["Cash at the end of the period"] == n(37570, 37570)
    assert not any("non-cash" in label for label in cf)  # nothing to reconcile: no intercompany balance

    s_cf = table(path, "S Cash flow")  # in EUR
    assert s_cf["Profit for the period"] == n(1500, 1500) and s_cf["Change in Payables"] == n(-500, -500)
    assert s_cf["Cash at the beginning of the period"] == n(12000, 12000)
    assert s_cf["Cash at the end of the period"] == n(13000, 13000)
    s_ce = blocks(path, "S Changes in equity")["This period: 2026-01"]
    assert s_ce["Balance at 1 January 2026"] == n(8000, 2000, 10000)
    assert s_ce["Balance at 31 January 2026"] == n(8000, 3500, 11500)
    assert table(path, "S Comprehensive income")["Other comprehensive income for the period"] == n(0, 0)


def test_february_capital_dividend_and_equipment(tmp_path):
    folder = books(tmp_path)
    close(folder, "2026-01")
    path = close(folder, "2026-02")

    ci = table(path, "Group Comprehensive income")
    assert headers(path, "Group Comprehensive income")[:3] == ["This period\n2026-02", "Year to date\n2026-02",
                                                               "Prior period\n2026-01"]
    assert ci["Profit for the period"] == n(1280, 4080, 2800)
    assert ci["Exchange differences on translating foreign operations"] == n(615, 2310, 1695)
    assert ci["Total comprehensive income for the period"] == n(1895, 6390, 4495)
    attributable = [v for label, v in rows(path, "Group Comprehensive income") if label in
                    ("Owners of the parent", "Non-controlling interests")]
    assert attributable == [n(1024, 3464, 2440), n(256, 616, 360), n(1524, 5344, 3820), n(371, 1046, 675)]

    ce = blocks(path, "Group Changes in equity")
    feb, ytd = ce["This period: 2026-02"], ce["Year to date: fiscal year 2026 to 28 Feb 2026"]
    assert feb["Balance at 1 February 2026"] == n(30000, 2440, 1380, 33820, 2875, 36695)
    assert feb["Profit for the period"] == n(0, 1024, 0, 1024, 256, 1280)
    assert feb["Other comprehensive income"] == n(0, 0, 500, 500, 115, 615)
    # the capital injection, and the dividend: only the minority's 20% leaves the group
    assert feb["Other movements (capital, dividends: posted directly to equity)"] == n(5000, 0, 0, 5000, -256, 4744)
    assert feb["Balance at 28 February 2026"] == n(35000, 3464, 1880, 40344, 2990, 43334)
    assert ytd["Balance at 1 January 2026"] == n(30000, 0, 0, 30000, 2200, 32200)
    assert ytd["Total comprehensive income for the period"] == n(0, 3464, 1880, 5344, 1046, 6390)
    assert ytd["Balance at 28 February 2026"] == feb["Balance at 28 February 2026"]
    bs = table(path, "Group Balance sheet")
    assert bs["Total equity"][0] == Decimal(43334)

    cf = table(path, "Group Cash flow")
    assert cf["Profit for the period"] == n(1280, 4080, 2800)
    assert cf["Change in Payables"] == n(0, -600, -600)
    assert cf["Equipment"] == n(-2560, -2560, 0)
    assert cf["Net cash from investing activities"] == n(-2560, -2560, 0)
    assert cf["Share capital"] == n(5000, 5000, 0) and cf["Non-controlling interests"] == n(-256, -256, 0)
    assert cf["Net cash from financing activities"] == n(4744, 4744, 0)
    assert cf["Net increase (decrease) in cash"] == n(3464, 5664, 2200)
    assert cf["Cash at the beginning of the period"] == n(37570, 33520, 33520)
    assert cf["Effect of exchange rate changes on cash"] == n(610, 2460, 1850)
    assert cf["Cash at the end of the period"] == n(41644, 41644, 37570)
    assert "Retained earnings" not in cf and "Dividend income" not in cf  # the intragroup dividend is absent

    p_cf = table(path, "P Cash flow")
    assert p_cf["Profit for the period"][0] == 1024 and p_cf["Share capital"][0] == 5000
    assert p_cf["Cash at the end of the period"][0] == 27344
    s_cf = table(path, "S Cash flow")  # EUR
    assert s_cf["Equipment"][0] == -2000 and s_cf["Retained earnings"][0] == -1000
    assert s_cf["Cash at the end of the period"] == n(11000, 11000, 13000)
    s_ce = blocks(path, "S Changes in equity")["This period: 2026-02"]
    assert s_ce["Other movements (capital, dividends: posted directly to equity)"] == n(0, -1000, -1000)

    checks = openpyxl.load_workbook(path)["Checks"]
    results = [r[10] for r in checks.iter_rows(min_row=2, values_only=True)]
    assert results and set(results) == {"OK"}
    with zipfile.ZipFile(path) as z:
        xml = " ".join(z.read(x).decode() for x in z.namelist() if x.startswith("xl/charts/chart"))
    assert "Cash, this period 2026-02" in xml  # the waterfall of cash


def test_every_sheet_prints_on_one_page_width(tmp_path):
    folder = books(tmp_path)
    path = close(folder, "2026-01")
    wb = openpyxl.load_workbook(path)
    for ws in wb.worksheets:
        assert ws.sheet_properties.pageSetUpPr is not None and ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert ws.page_setup.fitToHeight == 0, ws.title
        if ws.title not in ("Chart data",):
            assert ws.print_title_rows, ws.title


def test_no_cash_account_is_a_warning_naming_the_accounts_sheet(tmp_path):
    accounts = [r[:6] for r in ACCOUNTS]
    folder = books(tmp_path, {"master.xlsx": master(entities=(("P", "Parent Inc", "USD", None, None),
                                                              ("S", "Sub GmbH", "EUR", "P", "80%")),
                                                    settings_extra=[["group_currency", "USD"]], accounts=accounts)})
    res = app.close_books(folder, period="2026-01", user="ann")
    assert res.exit_code == 0
    warn = [f for f in res.findings if f.code == "no-cash-accounts"]
    assert len(warn) == 1 and warn[0].sheet == "Accounts" and warn[0].file == "master.xlsx"
    assert "cash_flow" in warn[0].hint
    cf = table(folder / "out" / "2026-01" / "statements.xlsx", "Group Cash flow")
    assert cf["Cash at the end of the period"] == n(0, 0)


def test_an_unknown_cash_flow_is_an_error_at_its_cell(tmp_path):
    accounts = [list(r) for r in ACCOUNTS]
    accounts[4][6] = "capex"  # Equipment
    folder = books(tmp_path, {"master.xlsx": master(entities=(("P", "Parent Inc", "USD", None, None),
                                                              ("S", "Sub GmbH", "EUR", "P", "80%")),
                                                    settings_extra=[["group_currency", "USD"]], accounts=accounts)})
    res = app.close_books(folder, period="2026-01", user="ann")
    assert res.exit_code == 1
    bad = [f for f in res.errors if f.sheet == "Accounts"]
    assert len(bad) == 1 and bad[0].cell == "G5" and "capex" in bad[0].message
