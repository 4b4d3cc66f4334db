"""statements.xlsx: balance sheet and income statement per entity and for the group.

The group used end to end: P (USD) owns 80% of S (EUR), acquired on 1 January 2026.

Hand computation for January (closing 1.25, average 1.20; acquisition rate 1.10):

* P (USD): cash 29,990 + 1,000 sale = 30,990; intercompany receivable 1,000 EUR booked at
  1,100 and revalued at 1.25 = 1,250 (unrealized gain 150); investment 10,010; share capital
  41,100.  Total assets 42,250 = share capital 41,100 + profit 1,150 (revenue 1,000 + FX gain
  150).
* S (EUR): cash 11,980 + 2,000 sale - 500 rent = 13,480; intercompany payable 980; share
  capital 10,000; retained earnings 1,000; profit 2,000 - 500 = 1,500.  Total assets 13,480 =
  980 + 10,000 + 1,000 + 1,500.
* Group (USD): cash 30,990 + 13,480 x 1.25 = 47,840; goodwill 10,010 - 80% x 12,100 = 330 USD
  = 300 EUR, at 1.25 = 375; total assets 48,215.  Intercompany: 1,250 - 980 x 1.25 = 25 not
  cancelled, to 7950 (an expense); 22 of it (1,100 - 980 x 1.10) was there at the start of the
  calendar, so it is retained earnings, and January's expense is 3.  Revenue 1,000 + 2,000 x
  1.20 = 3,400, FX gain 150, rent 500 x 1.20 = 600: profit 3,400 + 150 - 600 - 3 = 2,947, of
  which NCI 20% x 1,800 = 360 and owners 2,587.  Equity: share capital 41,100, retained
  earnings -22, translation reserve 1,425, profit attributable to owners 2,587 (= 45,090
  owners' equity) and NCI 3,125: total 48,215.
"""
from __future__ import annotations

import zipfile
from decimal import Decimal

import numpy as np
import openpyxl
import pandas as pd
import pytest

from books import norm, partly_owned_group, read_sheet
from builders import make_book, months, period
from closebatch import app, statements

# Row definitions: one statement line per account range, the profit for the period on the
# balance sheet as the Revenue/Expense range with sign -1.
DEFINITIONS = [["statement", "row", "label", "accounts", "sign", "total_of"],
               ["balance_sheet", 10, "Assets", None, None, None],
               ["balance_sheet", 20, "Cash", "1000-1099", 1, None],
               ["balance_sheet", 30, "Other assets", "1100-1999", 1, None],
               ["balance_sheet", 40, "Total assets", None, 1, "20, 30"],
               ["balance_sheet", 50, "Liabilities", "2000-2999", -1, None],
               ["balance_sheet", 60, "Equity", "3000-3999", -1, None],
               ["balance_sheet", 70, "Profit for the period", "4000-9999", -1, None],
               ["balance_sheet", 80, "Total equity and liabilities", None, -1, "50, 60, 70"],
               ["income_statement", 10, "Income", "4000-4999, 7900, 7920", -1, None],
               ["income_statement", 20, "Costs", "5000-7899, 7910, 7930-9999", 1, None],
               ["income_statement", 30, "Result", None, -1, "10, 20"]]


def group_books(tmp_path, extra=None):
    return partly_owned_group(tmp_path / "books", extra)


def statement(path, sheet) -> dict:
    """{label: [values of the amount columns]} of one statement sheet (rows below the header)."""
    wb = openpyxl.load_workbook(path)
    ws = wb[sheet]
    header = [c.value for c in ws[5]]
    ncol = sum(1 for h in header[1:] if h and h != "Accounts")
    out = {}
    for row in ws.iter_rows(min_row=6, values_only=True):
        if row[0] and any(v is not None for v in row[1:1 + ncol]):
            out[row[0]] = [Decimal(str(v)) if v is not None else None for v in row[1:1 + ncol]]
    return out


def headers(path, sheet) -> list[str]:
    wb = openpyxl.load_workbook(path)
    return [c.value for c in wb[sheet][5] if c.value]  # the label column's header is blank


def tb_by(path, entity=None) -> dict:
    """The adjusted trial balance, by account: an entity's balance_acct, or the group's."""
    if entity is None:
        rows = read_sheet(path / "adjusted_trial_balance.xlsx", "Consolidated")
        return {r["account"]: Decimal(str(r["balance_group"])) for r in rows}
    rows = read_sheet(path / "adjusted_trial_balance.xlsx", "TrialBalance")
    out = {}
    for r in rows:
        if r["entity"] == entity:
            out[r["account"]] = out.get(r["account"], 0) + Decimal(str(r["balance_acct"]))
    return out


def by_type(tb: dict, *types) -> Decimal:
    kinds = {"1": "Asset", "2": "Liability", "3": "Equity", "4": "Revenue", "5": "Expense", "6": "Expense",
             "7": None, "8": "Expense", "9": "Expense"}
    rev = {"7900", "7920"}
    t = lambda a: "Revenue" if a in rev else ("Expense" if a[0] == "7" else kinds[a[0]])
    return sum((v for a, v in tb.items() if t(a) in types), Decimal(0))


def test_default_statements_match_the_trial_balance_for_every_entity_and_the_group(tmp_path):
    books = group_books(tmp_path)
    res = app.close_books(books, period="2026-01", user="ann")
    assert res.exit_code == 0, [f.message for f in res.findings]
    out = books / "out" / "2026-01"
    path = out / "statements.xlsx"
    wb = openpyxl.load_workbook(path)
    kinds = ["Balance sheet", "Income statement", "Comprehensive income", "Changes in equity", "Cash flow"]
    assert wb.sheetnames == [f"{u} {k}" for u in ("Group", "P", "S") for k in kinds] + ["Checks", "Chart data"]

    # the first period of the calendar: this period end, and the opening balance sheet
    p_bs = statement(path, "P Balance sheet")
    assert headers(path, "P Balance sheet")[:2] == ["This period\n31 Jan 2026", "Opening balance\n31 Dec 2025"]
    assert p_bs["Total assets"] == [Decimal("42250"), Decimal("41100")]
    assert p_bs["Intercompany receivable"] == [Decimal("1250"), Decimal("1100")]
    assert p_bs["Share capital"] == [Decimal("41100")] * 2  # a credit, shown positive
    assert p_bs["Profit for the period"] == [Decimal("1150"), 0]
    assert p_bs["Total liabilities"] == [0, 0]
    assert p_bs["Total liabilities and equity"] == [Decimal("42250"), Decimal("41100")]
    p_is = statement(path, "P Income statement")
    assert headers(path, "P Income statement")[:2] == ["This period\n2026-01", "Year to date\n2026-01"]
    assert p_is["Revenue"] == [Decimal("1000")] * 2 and p_is["Unrealized FX gain"] == [Decimal("150")] * 2
    assert p_is["Total revenue"] == [Decimal("1150")] * 2 and p_is["Total expenses"] == [0, 0]
    assert p_is["Profit for the period"] == [Decimal("1150")] * 2

    s_bs = statement(path, "S Balance sheet")  # in EUR
    assert s_bs["Total assets"] == [Decimal("13480"), Decimal("11980")]
    assert s_bs["Total liabilities"] == [Decimal("980")] * 2
    assert s_bs["Total equity"] == [Decimal("12500"), Decimal("11000")]
    assert s_bs["Total liabilities and equity"] == [Decimal("13480"), Decimal("11980")]
    s_is = statement(path, "S Income statement")
    assert s_is["Total revenue"] == [Decimal("2000")] * 2 and s_is["Rent"] == [Decimal("500")] * 2
    assert s_is["Profit for the period"] == [Decimal("1500")] * 2

    # the group at the start: S at 1.10 (the rate its opening equity stands at: no closing rate of
    # 31 Dec 2025 is given): cash 29,990 + 11,980 x 1.10 = 43,168; goodwill 10,010 - 80% x 12,100 =
    # 330; the intercompany balances (1,100 against 980 x 1.10 = 1,078) leave 22 in retained
    # earnings; NCI 20% x 12,100 = 2,420.  That difference arose before the calendar: it stays
    # in retained earnings, and January's intercompany difference is what arose in January:
    # 25 at its end (1,250 against 980 x 1.25 = 1,225) less the 22 of before = 3
    g_bs = statement(path, "Group Balance sheet")
    assert g_bs["Cash"] == [Decimal("47840"), Decimal("43168")] and g_bs["Goodwill"] == [Decimal("375"), 330]
    assert g_bs["Total assets"] == [Decimal("48215"), Decimal("43498")]
    assert g_bs["Translation reserve"] == [Decimal("1425"), 0]
    assert g_bs["Retained earnings"] == [Decimal("-22"), Decimal("-22")]
    assert g_bs["Profit for the period attributable to owners"] == [Decimal("2587"), 0]
    assert g_bs["Equity attributable to owners of the parent"] == [Decimal("45090"), Decimal("41078")]
    assert g_bs["Non-controlling interests"] == [Decimal("3125"), Decimal("2420")]
    assert g_bs["Total equity"] == [Decimal("48215"), Decimal("43498")]
    assert g_bs["Total liabilities and equity"] == [Decimal("48215"), Decimal("43498")]
    g_is = statement(path, "Group Income statement")
    assert g_is["Total revenue"] == [Decimal("3550")] * 2
    assert g_is["Intercompany difference"] == [Decimal("3")] * 2
    assert g_is["Total expenses"] == [Decimal("603")] * 2  # 600 rent + 3; the NCI share is no expense
    assert g_is["Profit for the period"] == [Decimal("2947")] * 2
    assert g_is["Owners of the parent"] == [Decimal("2587")] * 2
    assert g_is["Non-controlling interests"] == [Decimal("360")] * 2

    # the same totals straight from the adjusted trial balance
    for sheet, tb in (("P", tb_by(out, "P")), ("S", tb_by(out, "S")), ("Group", tb_by(out))):
        bs, is_ = statement(path, f"{sheet} Balance sheet"), statement(path, f"{sheet} Income statement")
        assert bs["Total assets"][0] == by_type(tb, "Asset")
        assert bs["Total liabilities and equity"][0] == -by_type(tb, "Liability", "Equity", "Revenue", "Expense")
        # the group's profit for the period is before the NCI share (8900, a debit)
        profit = -by_type(tb, "Revenue", "Expense") + (tb.get("8900", 0) if sheet == "Group" else 0)
        assert is_["Profit for the period"][1] == profit
    checks = read_sheet(path, "Checks")
    # balance sheet 3 units x 2 columns, income statement 3 x 2, comprehensive income 3 x 2 (profit)
    # + the group's reserve in 2 columns, changes in equity 3 x 2 (opening, closing), cash flow
    # 3 x 2 columns x 2 (cash at the start and at the end)
    assert len(checks) == 6 + 6 + 8 + 6 + 12 and {c["result"] for c in checks} == {"OK"}
    steps = {r["step"]: r for r in read_sheet(out / "close_status.xlsx", "Steps")}
    assert steps["statements"]["outcome"] == "done" and "balanced: yes" in steps["statements"]["figures"]


def test_statements_sheet_rows(tmp_path):
    books = group_books(tmp_path, {"layout.xlsx": {"Statements": DEFINITIONS}})
    res = app.close_books(books, period="2026-01", user="ann")
    assert res.exit_code == 0, [f.message for f in res.findings]
    path = books / "out" / "2026-01" / "statements.xlsx"
    g_bs = statement(path, "Group Balance sheet")
    # other assets: goodwill 375 (1300 and 1600 eliminated); equity 41,100 - 22 + 1,425 + 3,125;
    # profit of the Revenue/Expense range, the NCI share (8900) included: 2,587.  The opening
    # balance sheet: cash 43,168, goodwill 330, equity 41,100 - 22 + 2,420 (see the first test)
    assert g_bs == {"Cash": [Decimal("47840"), Decimal("43168")], "Other assets": [Decimal("375"), Decimal("330")],
                    "Total assets": [Decimal("48215"), Decimal("43498")], "Liabilities": [0, 0],
                    "Equity": [Decimal("45628"), Decimal("43498")], "Profit for the period": [Decimal("2587"), 0],
                    "Total equity and liabilities": [Decimal("48215"), Decimal("43498")]}
    g_is = statement(path, "Group Income statement")
    # costs 600 + 3 + 360 (8900 is in the range 5000-7899, 7910, 7930-9999)
    assert g_is == {"Income": [Decimal("3550")] * 2, "Costs": [Decimal("963")] * 2, "Result": [Decimal("2587")] * 2}
    s_bs = statement(path, "S Balance sheet")
    assert s_bs["Liabilities"] == [Decimal("980")] * 2 and s_bs["Equity"] == [Decimal("11000")] * 2
    assert s_bs["Total assets"] == s_bs["Total equity and liabilities"] == [Decimal("13480"), Decimal("11980")]
    assert statement(path, "P Income statement")["Result"] == [Decimal("1150")] * 2
    assert {c["result"] for c in read_sheet(path, "Checks")} == {"OK"}
    ws = openpyxl.load_workbook(path)["Group Balance sheet"]
    assert "rows as defined in the Statements sheet" in ws["A3"].value


def test_an_account_left_out_of_the_rows_is_an_error_and_nothing_unbalanced_is_written(tmp_path):
    rows = [r for r in DEFINITIONS if r[2] != "Other assets"] + [["balance_sheet", 30, "Receivables", "1100-1599",
                                                                  1, None]]
    books = group_books(tmp_path, {"layout.xlsx": {"Statements": rows}})
    res = app.close_books(books, period="2026-01", user="ann")
    assert res.exit_code == 1
    codes = {f.code for f in res.errors}
    assert {"statement-account-missing", "statement-unbalanced"} <= codes
    missing = [f for f in res.errors if f.code == "statement-account-missing"]
    assert {f.value for f in missing} == {"1600", "1700"}  # P's investment, the group's goodwill
    assert all(f.file == "layout.xlsx" and f.sheet == "Statements" for f in missing)
    unbalanced = {f.message.split(" does not")[0] for f in res.errors if f.code == "statement-unbalanced"}
    assert unbalanced == {"The balance sheet of Parent Inc (consolidated)", "The balance sheet of Parent Inc (P)"}
    assert any("375.00 USD" in f.message for f in res.errors if f.code == "statement-unbalanced")
    out = books / "out" / "2026-01"
    assert sorted(p.name for p in out.iterdir()) == ["validation.xlsx"]
    assert any(r["rule"] == "statement-account-missing" for r in read_sheet(out / "validation.xlsx", "Validation"))


def test_the_balance_check_of_an_unbalanced_trial_balance_is_an_error():
    """Pure: cash 100.00 against share capital 90.00 leaves 10.00 (1000 minor units)."""
    book = make_book([["entity", "name", "currency"], ["E1", "One", "USD"]], periods=months(2026, 1, 2))
    per = period(book, "2026-01")
    bal = pd.DataFrame({"entity": ["E1", "E1", "E1"], "account": ["1000", "3000", "4000"],
                        "amount_acct": np.array([10000, -9000, -500], dtype="int64")})
    sts, findings = statements.build(book, per, bal)
    bs = next(s for s in sts if s.kind == statements.BALANCE_SHEET)
    assert not bs.balanced and bs.checks[0].difference == 500  # 100 - 90 - 5 profit
    err = [f for f in findings if f.code == "statement-unbalanced"]
    assert len(err) == 1 and err[0].is_error and "5.00 USD" in err[0].message
    is_ = next(s for s in sts if s.kind == statements.INCOME_STATEMENT)
    assert is_.balanced and [r.values for r in is_.rows if r.label == "Profit for the period"] == [[500, 500]]


def test_workbook_has_no_formulas_has_charts_and_reads_well(tmp_path):
    books = group_books(tmp_path)
    assert app.close_books(books, period="2026-01", user="ann").exit_code == 0
    assert app.close_books(books, period="2026-02", user="ann").exit_code == 0
    path = books / "out" / "2026-02" / "statements.xlsx"
    wb = openpyxl.load_workbook(path)
    assert not [c for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.data_type == "f"]
    with zipfile.ZipFile(path) as z:
        charts = [n for n in z.namelist() if n.startswith("xl/charts/chart")]
        xml = " ".join(z.read(n).decode() for n in charts)
    # a composition chart per balance sheet (3), a revenue/expense chart per income statement
    # now that January and February are closed (3), a waterfall of cash per cash flow statement (3)
    assert len(charts) == 9 and "Revenue and expenses by period" in xml and "Cash, this period 2026-02" in xml
    ws = wb["Group Income statement"]
    assert ws.freeze_panes == "B6"
    assert "&P" in ws.oddFooter.right.text and "Parent Inc (consolidated)" in ws.oddHeader.left.text
    # one page wide (fitToWidth defaults to 1), as many pages tall as it needs
    assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToWidth in (None, 1) \
        and ws.page_setup.fitToHeight == 0
    total = next(r for r in ws.iter_rows(min_row=6) if r[0].value == "Profit for the period")
    assert total[0].font.b and total[1].font.b and "(" in total[1].number_format
    # February: this period, year to date, prior period (January)
    assert headers(path, "Group Income statement")[:3] == ["This period\n2026-02", "Year to date\n2026-02",
                                                           "Prior period\n2026-01"]
    g = statement(path, "Group Income statement")
    # revenue Feb 500 + 1,000 x 1.28 = 1,780; year to date 3,400 + 1,780 = 5,180; January 3,400
    assert g["Revenue"] == [Decimal("1780"), Decimal("5180"), Decimal("3400")]
    bs = statement(path, "Group Balance sheet")
    assert headers(path, "Group Balance sheet") == ["This period\n28 Feb 2026", "Prior period\n31 Jan 2026",
                                                    "Accounts"]
    assert bs["Total assets"][1] == Decimal("48215")  # January's balance sheet, from the ledger


def test_same_books_same_statement_bytes(tmp_path):
    books = group_books(tmp_path)
    a, b = tmp_path / "a", tmp_path / "b"
    assert app.close_books(books, period="2026-01", out=a, dry_run=True, user="ann").exit_code == 0
    assert app.close_books(books, period="2026-01", out=b, dry_run=True, user="ann").exit_code == 0
    for name in ("statements.xlsx", "ledger_journal.xlsx"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_ledger_journal_by_journal_with_subtotals(tmp_path):
    books = group_books(tmp_path)
    assert app.close_books(books, period="2026-01", user="ann").exit_code == 0
    path = books / "out" / "2026-01" / "ledger_journal.xlsx"
    lines = read_sheet(path, "Lines")
    assert list(lines[0])[:5] == ["journal", "line", "date", "entity", "account"]
    types = [r["journal_type"] for r in lines]
    order = ["daily", "revaluation", "elimination"]
    assert types == sorted(types, key=order.index)  # sorted by journal type, no subtotal rows
    assert all(r["source"] for r in lines)
    wb = openpyxl.load_workbook(path)
    ws = wb["By journal"]
    rows = list(ws.iter_rows(values_only=True))
    head = rows[0]
    col = {norm(h): i for i, h in enumerate(head)}  # headers in words, read back as names
    # the register: one row per journal, in the order of Lines, with its subtotal
    s2 = [r for r in rows if r[col["journal"]] == "S2"]
    assert len(s2) == 1
    s2 = s2[0]
    # rent 500 EUR: two lines, 500 debit / 500 credit, no difference
    assert (s2[col["lines"]], s2[col["debit_acct"]], s2[col["credit_acct"]], s2[col["difference"]]) == (2, 500, 500, 0)
    first = next(i for i, r in enumerate(lines) if r["journal"] == "S2") + 2  # Excel row on Lines
    assert s2[col["lines_in_lines"]] == f"rows {first}-{first + 1}"
    link = ws.cell(row=1 + rows.index(s2), column=col["lines_in_lines"] + 1).hyperlink
    assert link.location == f"'Lines'!A{first}:{_last_col(wb)}{first + 1}"
    body = [r for r in rows[1:] if r[col["journal_type"]] != "Total"]
    assert sum(r[col["lines"]] for r in body) == len(lines)
    assert [(r[col["journal_type"]], r[col["journal"]]) for r in body] == list(dict.fromkeys(
        (r["journal_type"], r["journal"]) for r in lines))  # same order as Lines (one entity per journal here)
    totals = [r for r in rows if r[col["journal_type"]] == "Total"]
    assert totals and all(r[col["debit_acct"]] == r[col["credit_acct"]] for r in totals if "entity" in
                          r[col["description"]])
    assert ws.auto_filter.ref.startswith("A1:")


def _last_col(wb) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(wb["Lines"].max_column)


@pytest.fixture
def sample_close(tmp_path):
    import shutil
    from pathlib import Path

    books = tmp_path / "sample"
    shutil.copytree(Path(__file__).resolve().parents[1] / "sample_books", books)
    res = app.close_books(books, period="2026-01", user="ann")
    assert res.exit_code in (0, 3), [f.message for f in res.errors]
    return books / "out" / "2026-01"


def test_sample_books_statements_balance(sample_close):
    path = sample_close / "statements.xlsx"
    assert path.exists()
    checks = read_sheet(path, "Checks")
    assert checks and {c["result"] for c in checks} == {"OK"}
    tb = tb_by(sample_close)
    g = statement(path, "Group Balance sheet")
    assert g["Total assets"] == g["Total liabilities and equity"]
    assert g["Total assets"][0] == by_type(tb, "Asset")
    for e in ("US", "DK", "UK"):
        bs = statement(path, f"{e} Balance sheet")
        assert bs["Total assets"] == bs["Total liabilities and equity"]
        assert bs["Total assets"][0] == by_type(tb_by(sample_close, e), "Asset")
    # the cash flow ends at the balance sheet's cash (the accounts marked cash_flow = cash)
    cf = statement(path, "Group Cash flow")
    assert cf["Cash at the end of the period"][0] == g["Cash and cash equivalents"][0]
    assert cf["Cash at the beginning of the period"][0] == g["Cash and cash equivalents"][1]
