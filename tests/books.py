"""Write small books folders for tests: {"file.xlsx": {"Sheet": [header, row, ...]}}."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl

D = dt.date

ACCOUNTS = [
    ["account", "name", "type", "revalue", "settle"],
    ["1000", "Cash", "Asset", "N", "N"],
    ["1010", "Bank EUR", "Asset", "Y", "N"],
    ["1100", "Receivables", "Asset", "Y", "N"],
    ["1300", "Intercompany receivable", "Asset", "Y", "N"],
    ["1500", "Bank clearing", "Asset", "N", "Y"],
    ["1600", "Investment in subsidiaries", "Asset", "N", "N"],
    ["1700", "Goodwill", "Asset", "N", "N"],
    ["2000", "Payables", "Liability", "Y", "N"],
    ["2100", "Accruals", "Liability", "N", "N"],
    ["2300", "Intercompany payable", "Liability", "Y", "N"],
    ["3000", "Share capital", "Equity", "N", "N"],
    ["3100", "Retained earnings", "Equity", "N", "N"],
    ["3900", "Translation reserve", "Equity", "N", "N"],
    ["3950", "Non-controlling interests", "Equity", "N", "N"],
    ["4000", "Revenue", "Revenue", "N", "N"],
    ["6100", "Rent", "Expense", "N", "N"],
    ["6200", "IT costs", "Expense", "N", "N"],
    ["7900", "Unrealized FX gain", "Revenue", "N", "N"],
    ["7910", "Unrealized FX loss", "Expense", "N", "N"],
    ["7920", "Realized FX gain", "Revenue", "N", "N"],
    ["7930", "Realized FX loss", "Expense", "N", "N"],
    ["7950", "Intercompany difference", "Expense", "N", "N"],
    ["8900", "Profit attributable to non-controlling interests", "Expense", "N", "N"],
    ["9990", "Rounding", "Expense", "N", "N"],
]

# The same chart with its cash accounts marked (the cash of the cash flow statements).
ACCOUNTS_CASH = [ACCOUNTS[0] + ["cash_flow"]] + [r + ["cash" if r[0] in ("1000", "1010") else None]
                                                 for r in ACCOUNTS[1:]]

SETTINGS = [
    ["key", "value"],
    ["unrealized_gain_account", "7900"],
    ["unrealized_loss_account", "7910"],
    ["realized_gain_account", "7920"],
    ["realized_loss_account", "7930"],
    ["retained_earnings_account", "3100"],
    ["translation_reserve_account", "3900"],
    ["nci_account", "3950"],
    ["nci_profit_account", "8900"],
    ["rounding_account", "9990"],
]


def months(year=2026, first=1, last=12):
    rows = [["period", "start", "end", "fiscal_year"]]
    for m in range(first, last + 1):
        start = D(year, m, 1)
        end = D(year + (m == 12), m % 12 + 1, 1) - dt.timedelta(days=1)
        rows.append([f"{year}-{m:02d}", start, end, year])
    return rows


def master(entities=(("E1", "Entity One", "USD", None, None),), settings_extra=(), periods=None, accounts=None):
    return {"Settings": SETTINGS + [list(r) for r in settings_extra],
            "Entities": [["entity", "name", "currency", "parent", "ownership"]] + [list(e) for e in entities],
            "Accounts": accounts or ACCOUNTS_CASH, "Periods": periods or months()}


OPENING = {"TrialBalance": [["entity", "account", "currency", "balance"],
                            ["E1", "1000", "USD", 1000], ["E1", "3000", "USD", -1000]]}
J = ["journal", "date", "entity", "account", "currency", "debit", "credit"]


def write_books(books: dict, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, sheets in books.items():
        if isinstance(sheets, bytes):
            (folder / name).write_bytes(sheets)
            continue
        wb = openpyxl.Workbook()
        wb.remove(wb.active)
        for sheet, rows in sheets.items():
            ws = wb.create_sheet(sheet)
            for row in rows:
                ws.append(list(row))
                for cell in ws[ws.max_row]:
                    if isinstance(cell.value, str) and cell.value.startswith("="):
                        cell.data_type = "s"
        wb.save(folder / name)
    return folder


def read_sheet(path: Path, sheet: str) -> list[dict]:
    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    rows = list(wb[sheet].iter_rows(values_only=True))
    wb.close()
    header = [norm(h) for h in rows[0]] if rows else []
    return [dict(zip(header, r)) for r in rows[1:]]


def norm(h) -> str:
    """A header as the contract reads it back: case, spaces, ``-`` and ``_`` ignored
    (``Balance acct`` -> ``balance_acct``)."""
    import re

    return re.sub(r"[\s\-_]+", "_", str(h if h is not None else "").strip().lower()).strip("_")


# A USD parent P owning 80% of a EUR subsidiary S, with intercompany balances, January and
# February journals, closing and average rates, and both kinds of elimination rule.
J80 = ["journal", "date", "entity", "account", "currency", "debit", "credit", "amount_acct", "counterparty"]
OPENING_80 = {"TrialBalance": [
    ["entity", "account", "currency", "balance", "balance_acct", "counterparty"],
    ["P", "1000", "USD", 29990, 29990, None], ["P", "1300", "EUR", 1000, 1100, "S"],
    ["P", "1600", "USD", 10010, 10010, "S"], ["P", "3000", "USD", -41100, -41100, None],
    ["S", "1000", "EUR", 11980, 11980, None], ["S", "2300", "EUR", -980, -980, "P"],
    ["S", "3000", "EUR", -10000, -10000, None], ["S", "3100", "EUR", -1000, -1000, None]]}
JOURNALS_80 = {"Journals": [
    J80,
    ["P1", D(2026, 1, 10), "P", "1000", "USD", 1000, None, None, None],
    ["P1", D(2026, 1, 10), "P", "4000", "USD", None, 1000, None, None],
    ["S1", D(2026, 1, 15), "S", "1000", "EUR", 2000, None, None, None],
    ["S1", D(2026, 1, 15), "S", "4000", "EUR", None, 2000, None, None],
    ["S2", D(2026, 1, 20), "S", "6100", "EUR", 500, None, None, None],
    ["S2", D(2026, 1, 20), "S", "1000", "EUR", None, 500, None, None],
    ["P2", D(2026, 2, 10), "P", "1000", "USD", 500, None, None, None],
    ["P2", D(2026, 2, 10), "P", "4000", "USD", None, 500, None, None],
    ["S3", D(2026, 2, 10), "S", "1000", "EUR", 1000, None, None, None],
    ["S3", D(2026, 2, 10), "S", "4000", "EUR", None, 1000, None, None]]}
RATES_80 = {"Rates": [["from", "to", "date", "rate", "type"],
                   ["EUR", "USD", D(2026, 1, 31), 1.25, "closing"], ["EUR", "USD", D(2026, 1, 31), 1.20, "average"],
                   ["EUR", "USD", D(2026, 2, 28), 1.30, "closing"], ["EUR", "USD", D(2026, 2, 28), 1.28, "average"]]}
GROUP_80 = {"Eliminations": [["rule", "type", "entity", "counterparty", "account", "counter_account",
                           "difference_account"],
                          ["IC", "intercompany", None, None, "1300", "2300", "7950"],
                          ["INV", "investment", "P", "S", "1600", "3000-3100", "1700"]],
         "HistoricalRates": [["entity", "account", "rate", "amount_group"], ["S", "3000", 1.10, None],
                             ["S", "3100", None, -1100]]}


def partly_owned_group(folder: Path, extra: dict | None = None) -> Path:
    books = {"master.xlsx": master(entities=(("P", "Parent Inc", "USD", None, None),
                                             ("S", "Sub GmbH", "EUR", "P", "80%")),
                                   settings_extra=[["group_currency", "USD"]], accounts=ACCOUNTS_CASH),
             "opening.xlsx": OPENING_80, "journals.xlsx": JOURNALS_80, "rates.xlsx": RATES_80, "group.xlsx": GROUP_80}
    books.update(extra or {})
    return write_books(books, folder)
