"""The blank templates: one workbook per sheet kind, every spec column, notes, drop-downs, stable bytes."""
from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from closebatch.io.templates import COLUMNS, write_templates

# Required (bold) columns of every sheet kind, copied from the spec (books.md section 2).
SPEC_REQUIRED = {
    "Settings": ["key", "value"],
    "Entities": ["entity", "name", "currency"],
    "Accounts": ["account", "name", "type"],
    "Periods": ["period", "start", "end"],
    "TrialBalance": ["entity", "account", "currency", "balance"],
    "Journals": ["journal", "date", "entity", "account", "currency", "debit", "credit"],
    "Rates": ["from", "to", "date", "rate"],
    "Allocations": ["rule", "source_account", "method", "destination_account"],
    "Statistics": ["name", "value"],
    "Eliminations": ["rule", "account", "counter_account", "difference_account"],
    "HistoricalRates": ["entity", "account"],
    "Subledgers": ["entity", "module", "control_account", "balance_acct"],
    "Tasks": ["task", "name"],
    "Checklist": ["task", "period", "status"],
    "Users": ["user", "group"],
    "Statements": ["statement", "row", "label"],
}


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> list[Path]:
    return write_templates(tmp_path_factory.mktemp("templates"))


def test_one_workbook_per_kind(generated):
    assert [p.name for p in generated] == [f"{k}.xlsx" for k in SPEC_REQUIRED]
    assert list(COLUMNS) == list(SPEC_REQUIRED)


@pytest.mark.parametrize("kind", list(SPEC_REQUIRED))
def test_header_notes_and_formats(generated, kind):
    wb = openpyxl.load_workbook(generated[list(SPEC_REQUIRED).index(kind)])
    assert wb.sheetnames == [kind, "About"]
    ws = wb[kind]
    header = [c.value for c in ws[1]]
    assert header == [c.name for c in COLUMNS[kind]]
    for col in SPEC_REQUIRED[kind]:
        assert col in header, f"{kind}: required column {col} missing"
    for cell in ws[1]:
        assert cell.comment is not None and len(cell.comment.text) > 10, f"{kind}!{cell.coordinate} has no note"
        assert cell.font.b == (cell.value in SPEC_REQUIRED[kind]), f"{kind}!{cell.coordinate} bold mismatch"
    assert ws.freeze_panes == "A2"


def _validation(ws, column: str):
    letter = openpyxl.utils.get_column_letter([c.value for c in ws[1]].index(column) + 1)
    for dv in ws.data_validations.dataValidation:
        if any(r.min_col == r.max_col == openpyxl.utils.column_index_from_string(letter) for r in dv.sqref.ranges):
            return dv
    return None


def test_drop_downs(generated):
    journals = openpyxl.load_workbook(generated[list(SPEC_REQUIRED).index("Journals")])["Journals"]
    dv = _validation(journals, "type")
    assert dv is not None and dv.type == "list" and dv.formula1 == '"daily,adjustment"'
    accounts = openpyxl.load_workbook(generated[list(SPEC_REQUIRED).index("Accounts")])["Accounts"]
    dv = _validation(accounts, "type")
    assert dv is not None and dv.formula1 == '"Asset,Liability,Equity,Revenue,Expense"'
    assert _validation(accounts, "revalue").formula1 == '"Y,N"'


def test_code_columns_are_text_and_dates_are_dates(generated):
    wb = openpyxl.load_workbook(generated[list(SPEC_REQUIRED).index("Journals")])
    ws = wb["Journals"]
    index = {c.value: c.column for c in ws[1]}

    def column_format(name):  # column formats live in <col min max> ranges
        for dim in ws.column_dimensions.values():
            if dim.min <= index[name] <= dim.max:
                return dim.number_format
        return None

    for name in ("journal", "account", "entity", "currency", "reference", "counterparty"):
        assert column_format(name) == "@", name
    assert column_format("date") == column_format("reverse_on") == "yyyy-mm-dd"
    assert column_format("debit") != "@"


def test_settings_prefilled_with_keys(generated):
    ws = openpyxl.load_workbook(generated[0])["Settings"]
    keys = [r[0] for r in ws.iter_rows(min_row=2, values_only=True)]
    assert keys[:2] == ["group_currency", "dimensions"]
    assert {"rounding_tolerance", "reverse_revaluation", "revaluation_rate_type", "nci_profit_account"} <= set(keys)
    assert all(r[1] is None for r in ws.iter_rows(min_row=2, values_only=True))
    assert "0.05" in ws["A" + str(keys.index("rounding_tolerance") + 2)].comment.text


def test_same_bytes_twice(generated, tmp_path):
    again = write_templates(tmp_path)
    for a, b in zip(generated, again):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_agrees_with_schema_if_present():
    """The reader's schema (closebatch.schema) and the templates name the same columns."""
    schema = pytest.importorskip("closebatch.schema")
    for kind, cols in schema.SCHEMAS.items():
        assert [c.name for c in cols] == [c.name for c in COLUMNS[kind]], kind
        assert [c.name for c in cols if c.required] == [c.name for c in COLUMNS[kind] if c.required], kind
