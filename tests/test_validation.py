"""Each validation rule names the cell it is about (spec sections 2 and 3, step 1)."""
from __future__ import annotations

import pytest

from books import D, J, OPENING, master, months, write_books
from closebatch.io.reader import read_books
from closebatch.validate import load_book


def findings_for(tmp_path, books):
    write_books(books, tmp_path / "b")
    book, findings = load_book(read_books(tmp_path / "b"))
    return book, findings


def cells(findings, sheet=None, severity="error"):
    return {f.cell for f in findings if f.severity == severity and (sheet is None or f.sheet == sheet)}


def codes(findings):
    return {f.code for f in findings if f.is_error}


def base(journals=None, **extra):
    books = {"master.xlsx": master(), "opening.xlsx": OPENING}
    if journals is not None:
        books["journals.xlsx"] = {"Journals": [J] + journals}
    books.update(extra)
    return books


def test_clean_books_have_no_findings(tmp_path):
    book, f = findings_for(tmp_path, base([["J1", D(2026, 1, 5), "E1", "1000", "USD", 100, None],
                                           ["J1", D(2026, 1, 5), "E1", "4000", "USD", None, 100]]))
    assert [x for x in f if x.is_error] == []
    assert list(book.journals["amount_acct"]) == [10000, -10000]
    assert list(book.journals["source"]) == ["journals.xlsx!Journals!2", "journals.xlsx!Journals!3"]


def test_not_a_number_and_unknown_account_and_unbalanced(tmp_path):
    _, f = findings_for(tmp_path, base([
        ["J1", D(2026, 1, 5), "E1", "1000", "USD", 100, None],
        ["J1", D(2026, 1, 5), "E1", "4000", "USD", None, 99],
        ["J2", D(2026, 1, 6), "E1", "9999", "USD", 5, None],
        ["J2", D(2026, 1, 6), "E1", "4000", "USD", None, 5],
        ["J3", D(2026, 1, 6), "E1", "1000", "USD", "twelve", None],
        ["J3", D(2026, 1, 6), "E1", "4000", "USD", None, 12]]))
    assert cells(f, "Journals") == {"A2", "D4", "F6"}
    unbalanced = next(x for x in f if x.code == "journal-unbalanced")
    assert "J1" in unbalanced.message and "1.00" in unbalanced.message
    assert next(x for x in f if x.cell == "F6").value == "twelve"


def test_missing_required_column_and_blank_value(tmp_path):
    _, f = findings_for(tmp_path, base(None, **{"journals.xlsx": {"Journals": [
        ["journal", "date", "entity", "account", "debit", "credit"],
        ["J1", D(2026, 1, 5), None, "1000", 1, None]]}}))
    assert "missing-column" in codes(f)
    assert any(x.code == "blank" and x.cell == "C2" for x in f)


def test_unknown_entity_currency_counterparty(tmp_path):
    _, f = findings_for(tmp_path, base(None, **{"journals.xlsx": {"Journals": [
        J + ["counterparty"],
        ["J1", D(2026, 1, 5), "XX", "1000", "USD", 1, None, None],
        ["J1", D(2026, 1, 5), "E1", "1000", "ABC", 1, None, None],
        ["J1", D(2026, 1, 5), "E1", "4000", "USD", None, 1, "NOPE"]]}}))
    assert {"C2", "E3", "H4"} <= cells(f, "Journals")


def test_debit_credit_rules(tmp_path):
    _, f = findings_for(tmp_path, base([
        ["J1", D(2026, 1, 5), "E1", "1000", "USD", 5, 5],
        ["J1", D(2026, 1, 5), "E1", "4000", "USD", None, None],
        ["J2", D(2026, 1, 5), "E1", "1000", "USD", -5, None],
        ["J2", D(2026, 1, 5), "E1", "4000", "USD", None, -5]]))
    assert {"F2", "F3", "F4", "G5"} <= cells(f, "Journals")


def test_dates_outside_calendar_and_bad_dates(tmp_path):
    _, f = findings_for(tmp_path, base([
        ["J1", D(2027, 1, 5), "E1", "1000", "USD", 5, None],
        ["J1", D(2027, 1, 5), "E1", "4000", "USD", None, 5],
        ["J2", "5th of Jan", "E1", "1000", "USD", 5, None],
        ["J2", "2026-01-05", "E1", "4000", "USD", None, 5]]))
    assert {"B2", "B3", "B4"} <= cells(f, "Journals")


def test_duplicates_and_calendar_gap(tmp_path):
    per = months(2026, 1, 3)
    per[2][1] = D(2026, 2, 3)  # February starts late: a gap
    books = base([])
    books["master.xlsx"] = master(entities=(("E1", "One", "USD", None, None), ("E1", "Again", "USD", None, None)),
                                  periods=per)
    _, f = findings_for(tmp_path, books)
    assert "A3" in cells(f, "Entities")
    assert any(x.code == "calendar-gap" and x.sheet == "Periods" and x.cell == "C2" for x in f)


def test_opening_balance_must_sum_to_zero_and_needs_acct_for_foreign(tmp_path):
    books = base([])
    books["opening.xlsx"] = {"TrialBalance": [["entity", "account", "currency", "balance"],
                                              ["E1", "1000", "USD", 1000], ["E1", "3000", "USD", -900],
                                              ["E1", "1010", "EUR", 50]]}
    _, f = findings_for(tmp_path, books)
    assert "A2" in cells(f, "TrialBalance")
    assert "C4" in cells(f, "TrialBalance")  # no balance_acct column: the currency cell


def test_missing_spot_rate_names_the_pair(tmp_path):
    _, f = findings_for(tmp_path, base([["J1", D(2026, 1, 5), "E1", "1100", "EUR", 100, None],
                                        ["J1", D(2026, 1, 5), "E1", "4000", "USD", None, 110]]))
    miss = next(x for x in f if x.code == "missing-rate")
    assert miss.cell == "E2" and "EUR" in miss.message and "USD" in miss.message


def test_conversion_difference_within_tolerance_goes_to_rounding(tmp_path):
    rates = {"Rates": [["from", "to", "date", "rate", "type"], ["EUR", "USD", D(2026, 1, 1), 1.0834, "spot"]]}
    book, f = findings_for(tmp_path, base([["J1", D(2026, 1, 5), "E1", "1100", "EUR", 100.01, None],
                                           ["J1", D(2026, 1, 5), "E1", "4000", "USD", None, 108.33]],
                                          **{"rates.xlsx": rates}))
    assert [x for x in f if x.is_error] == []
    # 100.01 EUR x 1.0834 = 108.350834 -> 108.35; the journal is off by 0.02 -> rounding line
    j = book.journals
    assert list(j["amount_acct"]) == [10835, -10833, -2]
    assert j.iloc[2]["account"] == "9990"


def test_conversion_difference_beyond_tolerance_is_an_error(tmp_path):
    rates = {"Rates": [["from", "to", "date", "rate", "type"], ["EUR", "USD", D(2026, 1, 1), 1.1, "spot"]]}
    _, f = findings_for(tmp_path, base([["J1", D(2026, 1, 5), "E1", "1100", "EUR", 100, None],
                                        ["J1", D(2026, 1, 5), "E1", "4000", "USD", None, 100]],
                                       **{"rates.xlsx": rates}))
    assert any(x.code == "journal-unbalanced" and x.cell == "A2" for x in f)


def test_too_many_decimals(tmp_path):
    _, f = findings_for(tmp_path, base([["J1", D(2026, 1, 5), "E1", "1000", "USD", 1.005, None],
                                        ["J1", D(2026, 1, 5), "E1", "4000", "USD", None, 1.005]]))
    assert "too-precise" in codes(f)


def test_same_journal_in_two_workbooks_names_both(tmp_path):
    rows = [J, ["J1", D(2026, 1, 5), "E1", "1000", "USD", 1, None], ["J1", D(2026, 1, 5), "E1", "4000", "USD", None, 1]]
    books = base(None, **{"a.xlsx": {"Journals": rows}, "copy of a.xlsx": {"Journals": rows}})
    _, f = findings_for(tmp_path, books)
    dup = next(x for x in f if x.code == "duplicate-journal")
    assert "a.xlsx" in dup.message and "copy of a.xlsx" in dup.message


def test_journal_in_two_periods(tmp_path):
    _, f = findings_for(tmp_path, base([["J1", D(2026, 1, 31), "E1", "1000", "USD", 1, None],
                                        ["J1", D(2026, 2, 1), "E1", "4000", "USD", None, 1]]))
    assert "journal-periods" in codes(f)


def test_bad_yes_no_ownership_and_settings_account(tmp_path):
    books = base([])
    books["master.xlsx"] = master(entities=(("P", "Parent", "USD", None, None), ("S", "Sub", "EUR", "P", "180%")),
                                  settings_extra=[["nci_account", "3999"]])
    books["master.xlsx"]["Accounts"] = books["master.xlsx"]["Accounts"] + [["1234", "Odd", "Asset", "maybe", "N"]]
    _, f = findings_for(tmp_path, books)
    assert "E3" in cells(f, "Entities")
    assert "D26" in cells(f, "Accounts")
    assert any(x.sheet == "Settings" and x.column == "value" and x.value == "3999" for x in f)


def test_other_file_kinds_are_named(tmp_path):
    books = base([])
    books["old.xls"] = b"\xd0\xcf\x11\xe0junk"
    books["broken.xlsx"] = b"this is not a zip"
    books["data.csv"] = b"a,b\n1,2\n"
    _, f = findings_for(tmp_path, books)
    named = {x.file for x in f if x.is_error}
    assert {"old.xls", "broken.xlsx", "data.csv"} <= named


def test_sheet_names_and_headers_are_forgiving_and_unknown_sheets_listed(tmp_path):
    write_books({"master.xlsx": master(), "x.xlsx": {" journals ": [
        ["Journal", "DATE", "Entity", "Account", "Currency", "Debit", "Credit", "My Note"],
        ["J1", D(2026, 1, 5), "E1", 1000, "usd", 1, None, "x"], [None] * 8,
        ["J1", D(2026, 1, 5), "E1", "4000", "USD", None, 1, "y"]], "Notes": [["anything"]]}}, tmp_path / "b")
    read = read_books(tmp_path / "b")
    book, f = load_book(read)
    assert [x for x in f if x.is_error] == []
    assert ("x.xlsx", "Notes") in read.ignored
    assert list(book.journals["account"]) == ["1000", "4000"]
    assert list(book.journals["_row"]) == [2, 4]
    assert list(book.journals["currency"]) == ["USD", "USD"]


def test_formula_without_cached_value_is_read_as_text_with_warning(tmp_path):
    import openpyxl

    write_books(base([["J1", D(2026, 1, 5), "E1", "1000", "USD", 2, None],
                      ["J1", D(2026, 1, 5), "E1", "4000", "USD", None, 2]]), tmp_path / "b")
    wb = openpyxl.load_workbook(tmp_path / "b" / "journals.xlsx")
    wb["Journals"]["F2"] = "=1+1"  # openpyxl stores no cached value
    wb.save(tmp_path / "b" / "journals.xlsx")
    book, f = load_book(read_books(tmp_path / "b"))
    warn = next(x for x in f if x.code == "uncached-formula")
    assert warn.cell == "F2" and warn.severity == "warning" and warn.value == "=1+1"
    assert any(x.is_error and x.cell == "F2" for x in f)  # "=1+1" is not a number


@pytest.mark.parametrize("last,expected", [(3, False), (12, True)])
def test_last_period_is_a_year_end_only_when_the_year_is_complete(tmp_path, last, expected):
    books = base([])
    books["master.xlsx"] = master(periods=months(2026, 1, last))
    book, _ = findings_for(tmp_path, books)
    assert bool(book.periods["year_end"].iloc[-1]) is expected
    assert not book.periods["year_end"].iloc[:-1].any()


@pytest.mark.parametrize("code", ["..", ".", "../../x", "2026/02", "a\\b", "Q1:2026", "P" * 32])
def test_a_period_code_that_could_be_a_path_is_an_error_at_its_cell(tmp_path, code):
    per = months(2026, 1, 3)
    per[2][0] = code
    books = base([])
    books["master.xlsx"] = master(periods=per)
    _, f = findings_for(tmp_path, books)
    bad = [x for x in f if x.code == "period-code"]
    assert [(x.sheet, x.cell, x.value) for x in bad] == [("Periods", "A3", code)]


def test_names_of_every_kind_are_period_codes():
    from closebatch.validate import safe_period_code

    assert all(safe_period_code(c) for c in ("2026-01", "FY26 P1", "2026.01", "Jän_26", "P" * 31))


def test_amount_acct_on_a_line_in_the_entitys_own_currency_must_equal_debit_minus_credit(tmp_path):
    JA = J + ["amount_acct"]
    _, f = findings_for(tmp_path, base(None, **{"journals.xlsx": {"Journals": [
        JA,
        ["J1", D(2026, 1, 5), "E1", "1000", "USD", 100, None, 999],
        ["J1", D(2026, 1, 5), "E1", "4000", "USD", None, 100, -100],
        ["J2", D(2026, 1, 6), "E1", "1000", "USD", 50, None, 50],
        ["J2", D(2026, 1, 6), "E1", "4000", "USD", None, 50, 50]]}}))
    bad = [x for x in f if x.code == "acct-mismatch"]
    assert [(x.cell, x.value) for x in bad] == [("H2", "999.0"), ("H5", "50.0")]
    assert "100" in bad[0].message and "-50" in bad[1].message
    assert "journal-unbalanced" not in codes(f)  # not a second finding about the same cell


def test_the_same_opening_balance_in_two_sheets_is_an_error_naming_both_cells(tmp_path):
    tb = [["entity", "account", "currency", "balance"], ["E1", "1000", "USD", 1000], ["E1", "3000", "USD", -1000]]
    resorted = [["comment", "balance", "currency", "account", "entity"], ["again", -1000, "USD", "3000", "E1"],
                [None, 1000, "USD", "1000", "E1"]]
    book, f = findings_for(tmp_path, base([], **{"opening.xlsx": {"TrialBalance": tb},
                                                 "opening copy.xlsx": {"TrialBalance": resorted}}))
    twice = sorted((x.file, x.cell) for x in f if x.code == "opening-twice")
    assert twice == [("opening.xlsx", "D2"), ("opening.xlsx", "D3")]
    assert all("opening copy.xlsx!TrialBalance!" in x.message for x in f if x.code == "opening-twice")


def test_a_balance_split_over_rows_of_one_sheet_is_fine(tmp_path):
    tb = [["entity", "account", "currency", "balance"], ["E1", "1000", "USD", 600], ["E1", "1000", "USD", 400],
          ["E1", "3000", "USD", -1000]]
    _, f = findings_for(tmp_path, base([], **{"opening.xlsx": {"TrialBalance": tb}}))
    assert codes(f) == set()


def test_a_journal_posted_in_part_is_an_error_naming_its_rows(tmp_path):
    JP = J + ["posted"]
    _, f = findings_for(tmp_path, base(None, **{"journals.xlsx": {"Journals": [
        JP,
        ["J1", D(2026, 1, 5), "E1", "1000", "USD", 100, None, "N"],
        ["J1", D(2026, 1, 5), "E1", "6100", "USD", 50, None, "N"],
        ["J1", D(2026, 1, 5), "E1", "4000", "USD", None, 150, "Y"],
        ["J2", D(2026, 1, 6), "E1", "1000", "USD", 5, None, "N"],
        ["J2", D(2026, 1, 6), "E1", "4000", "USD", None, 5, "N"]]}}))
    (bad,) = [x for x in f if x.is_error]
    assert (bad.code, bad.cell) == ("posted-in-part", "H4")
    assert "rows 4" in bad.message.replace("row(s)", "rows") and "2, 3" in bad.message


def test_a_negative_statistic_is_a_warning(tmp_path):
    stats = {"Statistics": [["name", "entity", "value"], ["headcount", "E1", 12], ["headcount", "E1", -3]]}
    _, f = findings_for(tmp_path, base([], **{"stats.xlsx": stats}))
    (w,) = [x for x in f if x.code == "negative-statistic"]
    assert (w.severity, w.cell) == ("warning", "C3")


def test_rates_beyond_what_converts_are_refused_both_ways_and_implausible_ones_warned(tmp_path):
    rates = {"Rates": [["from", "to", "date", "rate", "type"], ["EUR", "USD", D(2026, 1, 1), 1e-300, "spot"],
                       ["GBP", "USD", D(2026, 1, 1), 1e15, "spot"], ["JPY", "USD", D(2026, 1, 1), 1e-9, "spot"],
                       ["DKK", "USD", D(2026, 1, 1), 0.15, "spot"]]}
    book, f = findings_for(tmp_path, base([], **{"rates.xlsx": rates}))
    assert sorted((x.cell, x.code) for x in f if x.is_error) == [("D2", "too-small"), ("D3", "too-large")]
    assert [(x.cell, x.severity) for x in f if x.code == "implausible-rate"] == [("D4", "warning")]
    assert sorted(book.rates["from"]) == ["DKK", "JPY"]


def test_negative_amounts_and_rates_not_above_zero_are_refused_at_their_cells(tmp_path):
    """The value rules (Pandera's checks, run on the rows that fail the plain comparison):
    each failure is an error at its cell, and a refused rate is left out; a clean row and a
    blank cell pass."""
    rates = {"Rates": [["from", "to", "date", "rate", "type"], ["EUR", "USD", D(2026, 1, 1), 0, "spot"],
                       ["GBP", "USD", D(2026, 1, 1), -1.25, "spot"], ["DKK", "USD", D(2026, 1, 1), 0.15, "spot"]]}
    book, f = findings_for(tmp_path, base([["J1", D(2026, 1, 5), "E1", "1000", "USD", -100, None],
                                           ["J1", D(2026, 1, 5), "E1", "4000", "USD", None, -100],
                                           ["J2", D(2026, 1, 6), "E1", "1000", "USD", 40, None],
                                           ["J2", D(2026, 1, 6), "E1", "4000", "USD", None, 40]],
                                          **{"rates.xlsx": rates}))
    bad = sorted((x.file, x.cell, x.value) for x in f if x.code == "bad-value")
    assert bad == [("journals.xlsx", "F2", "-100.0"), ("journals.xlsx", "G3", "-100.0"),
                   ("rates.xlsx", "D2", "0.0"), ("rates.xlsx", "D3", "-1.25")]
    msgs = {x.cell: x.message for x in f if x.code == "bad-value"}
    assert msgs["F2"] == "Debit -100.0 is negative." and msgs["D3"] == "Rate -1.25 must be greater than zero."
    assert all(x.is_error for x in f if x.code == "bad-value")
    assert list(book.rates["from"]) == ["DKK"]


def test_a_line_number_given_twice_in_a_journal_and_entity_is_an_error(tmp_path):
    """The same line number twice within a journal and entity is an error at the second;
    within another entity, or another journal, it is another line.  A journal given a rounding
    line (numbered after its last) is checked the same."""
    JL = ["journal", "line", "date", "entity", "account", "currency", "debit", "credit"]
    two = master(entities=(("E1", "Entity One", "USD", None, None), ("E2", "Entity Two", "USD", "E1", 1.0)))
    rates = {"Rates": [["from", "to", "date", "rate", "type"], ["EUR", "USD", D(2026, 1, 1), 1.0834, "spot"]]}
    _, f = findings_for(tmp_path, {"master.xlsx": two, "opening.xlsx": OPENING, "rates.xlsx": rates,
                                   "journals.xlsx": {"Journals": [
        JL,
        ["J1", 1, D(2026, 1, 5), "E1", "1000", "USD", 100, None],
        ["J1", 1, D(2026, 1, 5), "E1", "4000", "USD", None, 100],  # row 3: line 1 again
        ["J1", 1, D(2026, 1, 5), "E2", "1000", "USD", 7, None],  # another entity's line 1
        ["J1", 2, D(2026, 1, 5), "E2", "4000", "USD", None, 7],
        ["J2", 1, D(2026, 1, 6), "E1", "1100", "EUR", 100.01, None],  # off by 0.02 USD: a rounding line
        ["J2", 2, D(2026, 1, 6), "E1", "4000", "USD", None, 108.33],
        ["J3", 2, D(2026, 1, 7), "E1", "1000", "USD", 5, None],
        ["J3", 2, D(2026, 1, 7), "E1", "4000", "USD", None, 5]]}})  # row 9: line 2 again
    assert sorted((x.code, x.cell) for x in f if x.is_error) == [("duplicate-line", "B3"), ("duplicate-line", "B9")]
