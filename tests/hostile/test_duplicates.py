"""The same workbook dropped in twice, or a journal spread over two periods: an error
naming both files, through the command line, and nothing is closed."""
from __future__ import annotations

import shutil

from books import D, write_books
from craft import JX, cli, good_books


def test_same_journals_workbook_under_two_names(tmp_path):
    books = good_books(tmp_path / "books")
    shutil.copy(books / "journals.xlsx", books / "journals (copy).xlsx")
    rc, out, _ = cli("close", books, "--period", "2026-01", "--user", "ann", "--quiet")
    assert rc == 1
    assert "Journal S1 appears in 2 workbooks: journals (copy).xlsx, journals.xlsx" in out
    assert "dropped in twice" in out
    assert not (books / "ledger").exists()
    assert sorted(p.name for p in (books / "out" / "2026-01").iterdir()) == ["validation.xlsx"]


def test_same_opening_balance_workbook_under_two_names(tmp_path):
    """Each copy sums to zero, so without this check the balances would silently double."""
    books = good_books(tmp_path / "books")
    shutil.copy(books / "opening.xlsx", books / "Opening balances.xlsx")
    rc, out, _ = cli("validate", books, "--quiet")
    assert rc == 1
    assert "repeats the TrialBalance sheet of Opening balances.xlsx" in out and "opening.xlsx" in out


def test_same_journal_in_two_periods_and_two_workbooks(tmp_path):
    books = good_books(tmp_path / "books")
    write_books({"feb.xlsx": {"Journals": [JX, ["C1", D(2026, 2, 3), "E1", "6100", "USD", 10, None, "again", ""],
                                           ["C1", D(2026, 2, 3), "E1", "1000", "USD", None, 10, "again", ""]]}},
                books)
    rc, out, _ = cli("validate", books, "--quiet")
    assert rc == 1
    assert "Journal C1 appears in 2 workbooks: feb.xlsx, journals.xlsx" in out
    assert "Journal C1 has lines dated in 2 different periods" in out


def test_same_journal_in_two_periods_of_one_workbook(tmp_path):
    books = good_books(tmp_path / "books")
    write_books({"more.xlsx": {"Journals": [JX, ["X1", D(2026, 1, 31), "E1", "6100", "USD", 10, None, "", ""],
                                            ["X1", D(2026, 2, 1), "E1", "1000", "USD", None, 10, "", ""]]}}, books)
    rc, out, _ = cli("close", books, "--period", "2026-01", "--user", "ann", "--quiet")
    assert rc == 1
    assert "more.xlsx!Journals!B2: Journal X1 has lines dated in 2 different periods" in out
