"""Formula injection: text that looks like a formula (=, +, -, @, tab, CR first) in any
input field is written to every output and ledger workbook as text, never as a formula."""
from __future__ import annotations

from pathlib import Path

import openpyxl

from books import ACCOUNTS, SETTINGS, D, months, write_books
from closebatch import app

EVIL = ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(1,2)", "\t=1+1", "\r=2+2", '=HYPERLINK("http://x.invalid","y")',
        "=1+1"]
P, S = "=P", "+S"


def hostile_books(folder: Path) -> Path:
    accounts = [list(r) for r in ACCOUNTS]
    accounts[0] = accounts[0] + ["statement_line"]
    for i, r in enumerate(accounts[1:], start=1):
        r[1] = EVIL[i % len(EVIL)] + " " + r[1]
        r.append("@" + r[1])
    J = ["journal", "date", "entity", "account", "currency", "debit", "credit", "amount_acct", "description",
         "reference", "counterparty", "dept"]
    books = {
        "master.xlsx": {
            "Settings": SETTINGS + [["dimensions", "dept"]],
            "Entities": [["entity", "name", "currency", "parent", "ownership"],
                         [P, EVIL[0], "USD", None, None], [S, EVIL[1], "EUR", P, 1.0]],
            "Accounts": accounts, "Periods": months(),
            "Tasks": [["task", "name", "area", "owner", "due", "status", "required"],
                      ["=T1", EVIL[3], EVIL[2], "+owner", 0, "Done", "Y"]],
            "=SUM(1)": [["not", "a", "known", "sheet"]]},
        "opening.xlsx": {"TrialBalance": [["entity", "account", "currency", "balance", "balance_acct"],
                                          [P, "1000", "USD", 5000, None], [P, "3000", "USD", -5000, None],
                                          [S, "1000", "EUR", 1000, None], [S, "3000", "EUR", -1000, None]]},
        "=evil.xlsx": {"Journals": [J,
                                    ["=J1", D(2026, 1, 10), P, "6100", "USD", 100, None, None, EVIL[4], EVIL[6],
                                     "", "=D1"],
                                    ["=J1", D(2026, 1, 10), P, "1000", "USD", None, 100, None, EVIL[5], "@ref", "",
                                     "-D2"],
                                    ["+J2", D(2026, 1, 11), S, "6200", "EUR", 50, None, None, EVIL[0], "", "", "=D1"],
                                    ["+J2", D(2026, 1, 11), S, "1000", "EUR", None, 50, None, EVIL[7], "", "", "=D1"]]},
        "rates.xlsx": {"Rates": [["from", "to", "date", "rate", "type"],
                                 ["EUR", "USD", D(2026, 1, 1), 1.08, "spot"],
                                 ["EUR", "USD", D(2026, 1, 31), 1.10, "closing"],
                                 ["EUR", "USD", D(2026, 1, 31), 1.09, "average"]],
                       "HistoricalRates": [["entity", "account", "rate"], [S, "3000", 1.05]]},
    }
    return write_books(books, folder)


def formula_cells(folder: Path) -> tuple[list, set]:
    """Every formula cell of every workbook under ``folder``, and every text value."""
    bad, texts, n = [], set(), 0
    for path in sorted(folder.rglob("*.xlsx")):
        wb = openpyxl.load_workbook(path)  # not read-only: data_type tells a formula from text
        n += 1
        for ws in wb.worksheets:
            for row in ws.iter_rows():
                for c in row:
                    if c.data_type == "f":
                        bad.append(f"{path.name}!{ws.title}!{c.coordinate}: {c.value!r}")
                    elif isinstance(c.value, str):
                        texts.add(c.value)
    assert n, f"no workbook under {folder}"
    return bad, texts


def test_no_output_or_ledger_cell_is_a_formula(tmp_path):
    books = hostile_books(tmp_path / "books")
    res = app.close_books(books, period="2026-01", user="ann")
    assert res.exit_code in (0, 3), [f.message for f in res.errors]
    out = books / "out" / "2026-01"
    names = {p.name for p in out.iterdir()}
    assert {"adjusted_trial_balance.xlsx", "ledger_journal.xlsx", "consolidation.xlsx", "close_status.xlsx",
            "validation.xlsx"} <= names
    for folder in (out, books / "ledger"):
        bad, texts = formula_cells(folder)
        assert not bad, bad
    _, texts = formula_cells(out)
    joined = "\n".join(texts)
    # (text cells are trimmed on reading: a leading tab or CR goes, the "=" stays text)
    for evil in (EVIL[0], EVIL[6], "=1+1", "=2+2", "=J1", "=D1", "=evil.xlsx!Journals!2", "=SUM(1)", "+owner"):
        assert evil in joined, evil
    _, ledger = formula_cells(books / "ledger")
    assert EVIL[6] in ledger  # the reference kept as text in the ledger's Lines
    # February reads January's ledger back: the text round-trips unchanged
    feb = app.close_books(books, period="2026-02", user="ann")
    assert feb.exit_code in (0, 3), [f.message for f in feb.errors]
    bad, _ = formula_cells(books / "out" / "2026-02")
    assert not bad, bad


def test_validation_report_values_are_text(tmp_path):
    books = hostile_books(tmp_path / "books")
    write_books({"bad.xlsx": {"Journals": [["journal", "date", "entity", "account", "currency", "debit", "credit"],
                                           ["=B1", "=TODAY()", P, "=A1", "USD", "=1+1", None],
                                           ["=B1", D(2026, 1, 5), P, "1000", "@USD", None, "+5"]]}}, books)
    res = app.validate_books(books)
    assert res.exit_code == 1
    bad, texts = formula_cells(books / "out")
    assert not bad, bad
    assert {"=TODAY()", "=1+1", "@USD"} <= texts
