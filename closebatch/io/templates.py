"""Blank, formatted workbooks for every sheet kind of the books format (``closebatch init``).

Each template is one workbook named after its kind (``Journals.xlsx``) holding a sheet of
that name and an ``About`` sheet (the reader ignores sheets it does not know).  Row 1 carries
every column of the contract in the contract's order; required columns look different from
optional ones, and each header has a note explaining the column.  Code columns are formatted
as text so Excel keeps leading zeros and does not turn ``2026-01`` into a date; enumerated
columns get a drop-down list.  Dimension columns are not in the templates: they depend on the
``dimensions`` setting, and the ``About`` sheet says how to add them.

The bytes are deterministic: the same code writes the same files.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import NamedTuple

import xlsxwriter


class Column(NamedTuple):
    """One column of a sheet kind.

    ``value`` is the kind of value the column holds and decides the cell format:
    ``code`` and ``text`` (text format, so leading zeros survive), ``number``, ``amount``,
    ``rate``, ``integer``, ``percent``, ``date``, ``yn`` (Y/N drop-down) and ``choice``
    (drop-down of ``allowed``).
    """

    name: str
    required: bool
    note: str
    value: str
    allowed: tuple[str, ...] = ()


_C = Column
YN = ("Y", "N")
RATE_TYPES = ("spot", "closing", "average")
from ..registry import TASK_STEPS  # noqa: E402 - the steps a task may stand for

#: Every sheet kind of the books format (spec section 2), in the spec's order, with its
#: columns in the spec's order.  Dimension columns (from the ``dimensions`` setting) are not
#: listed: they are the user's own.
COLUMNS: dict[str, list[Column]] = {
    "Settings": [
        _C("key", True, "Setting name, one of the keys listed below (e.g. group_currency). Text.", "code"),
        _C("value", True, "The setting's value. Blank = the default noted on the key.", "code"),
    ],
    "Entities": [
        _C("entity", True, "Entity code (text), e.g. US. Used in every other sheet.", "code"),
        _C("name", True, "Legal name of the entity. Text.", "text"),
        _C("currency", True, "Accounting currency of the entity: ISO 4217 code, e.g. USD.", "code"),
        _C("parent", False, "Entity code of the parent. Blank for the top of the group.", "code"),
        _C("ownership", False, "Share the parent holds, 80% or 0.8. Default 100%.", "percent"),
        _C("consolidate", False, "Y/N: include the entity in the consolidation. Default Y.", "yn", YN),
    ],
    "Accounts": [
        _C("account", True, "Account code (text, e.g. 1100); the chart is shared by all entities.", "code"),
        _C("name", True, "Account name. Text.", "text"),
        _C("type", True, "One of Asset, Liability, Equity, Revenue, Expense.", "choice",
           ("Asset", "Liability", "Equity", "Revenue", "Expense")),
        _C("revalue", False, "Y/N: revalue foreign-currency balances at period end. Default N.", "yn", YN),
        _C("settle", False, "Y/N: open items on this account are settled by reference. Default N.", "yn", YN),
        _C("translation", False, "closing, average or historical. Default by type: Asset/Liability closing, "
                                 "Revenue/Expense average, Equity historical.", "choice",
           ("closing", "average", "historical")),
        _C("revaluation_rate_type", False, "spot, closing or average: overrides the revaluation_rate_type "
                                           "setting for this account. Blank = the setting.", "choice", RATE_TYPES),
        _C("statement_line", False, "Label grouping the account in the statements. Default the account name.",
           "text"),
        _C("control", False, "AR, AP or Inventory: the account is the control account of that subledger. "
                             "Blank = none.", "choice", ("AR", "AP", "Inventory")),
        _C("cash_flow", False, "cash, operating, investing or financing: the line of the cash flow statement the "
                               "account's movement belongs to (cash = the account is cash). Default operating for "
                               "Asset/Liability, financing for Equity; Revenue/Expense make up profit.", "choice",
           ("cash", "operating", "investing", "financing")),
    ],
    "Periods": [
        _C("period", True, "Period name (text), e.g. 2026-01.", "code"),
        _C("start", True, "First day of the period (date). Periods do not overlap and leave no gap.", "date"),
        _C("end", True, "Last day of the period (date).", "date"),
        _C("fiscal_year", False, "Fiscal year (number). Default the year of end; the last period of a fiscal "
                                 "year is its year-end period.", "integer"),
        _C("status", False, "Initial status: Open, On hold or Permanently closed. Default Open.", "choice",
           ("Open", "On hold", "Permanently closed")),
        _C("access_group", False, "Users group (see Users) allowed to close and post into the period. "
                                  "Blank = anyone.", "code"),
    ],
    "TrialBalance": [
        _C("entity", True, "Entity code. Each entity's opening balances sum to zero in accounting currency.",
           "code"),
        _C("account", True, "Account code (text).", "code"),
        _C("currency", True, "Transaction currency of the balance: ISO 4217 code.", "code"),
        _C("balance", True, "Opening balance in transaction currency, signed: debit positive, credit "
                            "negative.", "amount"),
        _C("balance_acct", False, "Balance in the entity's accounting currency, signed. Required when currency "
                                  "differs from the entity's; else it equals balance.", "amount"),
        _C("counterparty", False, "Entity code of the other entity of an intercompany balance.", "code"),
        _C("reference", False, "Open item (document number) on a settlement account (settle = Y).", "code"),
    ],
    "Journals": [
        _C("journal", True, "Journal number (text). A journal balances per entity in accounting currency.",
           "code"),
        _C("line", False, "Line number within the journal (number).", "integer"),
        _C("date", True, "Posting date (date).", "date"),
        _C("entity", True, "Entity code.", "code"),
        _C("account", True, "Account code (text).", "code"),
        _C("currency", True, "Transaction currency: ISO 4217 code.", "code"),
        _C("debit", True, "Debit amount in transaction currency, non-negative. Exactly one of debit and credit "
                          "is non-zero.", "amount"),
        _C("credit", True, "Credit amount in transaction currency, non-negative. Exactly one of debit and "
                           "credit is non-zero.", "amount"),
        _C("amount_acct", False, "Signed amount in the entity's accounting currency (debit positive). Blank = "
                                 "converted at the spot rate of date.", "amount"),
        _C("description", False, "Free text.", "text"),
        _C("reference", False, "Document number: the settlement key on settle = Y accounts.", "code"),
        _C("counterparty", False, "Entity code of the other entity on intercompany lines.", "code"),
        _C("type", False, "daily, or adjustment (a manual period-end adjustment). Default daily.", "choice",
           ("daily", "adjustment")),
        _C("posted", False, "Y/N: the line is posted. Default Y; unposted lines block the lock.", "yn", YN),
        _C("reverse_on", False, "Date: an automatic reversing entry is generated on that date. Blank = none.",
           "date"),
        _C("prepared_by", False, "User who prepared the line (text).", "code"),
    ],
    "Rates": [
        _C("from", True, "Currency converted from: ISO 4217 code.", "code"),
        _C("to", True, "Currency converted to: ISO 4217 code.", "code"),
        _C("date", True, "Date the rate is effective from; the latest entry dated on or before a date "
                         "applies.", "date"),
        _C("rate", True, "1 from = rate to (number).", "rate"),
        _C("type", False, "spot, closing or average. Default spot. An average rate is dated within its "
                          "period.", "choice", RATE_TYPES),
    ],
    "Allocations": [
        _C("rule", True, "Rule name; rows sharing a rule form one rule, one row per destination line.", "code"),
        _C("step", False, "Rules run in step order (number); a later step sees earlier postings. Default 1.",
           "integer"),
        _C("entity", False, "Entity code. Blank = every entity.", "code"),
        _C("source_account", True, "Account, range (6000-6999) or comma-separated list whose period movement "
                                   "is allocated.", "code"),
        _C("method", True, "fixed_percent, fixed_weight, equal or basis.", "choice",
           ("fixed_percent", "fixed_weight", "equal", "basis")),
        _C("basis", False, "For method basis: a statistic name from Statistics, or ledger:ACCOUNTS for account "
                           "balances.", "code"),
        _C("destination_account", True, "Account receiving this row's share. Add to_<dimension> columns for "
                                        "the destination's dimensions.", "code"),
        _C("value", False, "Percent for fixed_percent (a rule's rows sum to 100), weight for fixed_weight "
                           "(number).", "number"),
        _C("offset_account", False, "Account credited with the allocated amount. Default the source "
                                    "account.", "code"),
    ],
    "Statistics": [
        _C("name", True, "Statistic name used as an allocation basis, e.g. headcount or floor_area.", "code"),
        _C("entity", False, "Entity code. Blank = any entity.", "code"),
        _C("period", False, "Period name, e.g. 2026-01. Blank = every period.", "code"),
        _C("value", True, "The statistic's value (number).", "number"),
    ],
    "Eliminations": [
        _C("rule", True, "Rule name (text).", "code"),
        _C("type", False, "intercompany (default) or investment.", "choice", ("intercompany", "investment")),
        _C("account", True, "intercompany: the account at one entity; investment: the parent's investment "
                            "account.", "code"),
        _C("counter_account", True, "intercompany: the mirror account at the counterparty; investment: the "
                                    "subsidiary's equity accounts (list or range).", "code"),
        _C("difference_account", True, "Receives what does not cancel (intercompany) or the goodwill "
                                       "(investment).", "code"),
        _C("entity", False, "investment: the parent entity code.", "code"),
        _C("counterparty", False, "investment: the subsidiary's entity code.", "code"),
        _C("description", False, "Free text.", "text"),
    ],
    "HistoricalRates": [
        _C("entity", True, "Entity code of a foreign-currency entity.", "code"),
        _C("account", True, "Equity account code (text).", "code"),
        _C("rate", False, "Historical rate, entity currency to group currency. Give rate or amount_group, not "
                          "both.", "rate"),
        _C("amount_group", False, "Translated opening balance in group currency, signed (e.g. retained "
                                  "earnings). Give rate or amount_group, not both.", "amount"),
    ],
    "Subledgers": [
        _C("entity", True, "Entity code.", "code"),
        _C("module", True, "AR, AP or Inventory.", "choice", ("AR", "AP", "Inventory")),
        _C("control_account", True, "The control account the subledger ties to.", "code"),
        _C("balance_acct", True, "Subledger total at period end, signed, in accounting currency.", "amount"),
        _C("period", False, "Period name, e.g. 2026-01.", "code"),
    ],
    "Tasks": [
        _C("task", True, "Task id (text).", "code"),
        _C("name", True, "What has to be done.", "text"),
        _C("area", False, "Area of the close, e.g. Treasury.", "text"),
        _C("owner", False, "User responsible (text).", "code"),
        _C("due", False, "Working days relative to period end, e.g. -2 or 3 (number). Default 0.", "integer"),
        _C("depends_on", False, "Comma-separated task ids that must be done first.", "code"),
        _C("status", False, "Not started, In progress or Done: the status of the period being closed, for books "
                            "without a Checklist (v1). With a Checklist, each period's status is there.", "choice",
           ("Not started", "In progress", "Done")),
        _C("required", False, "Y/N: the period is not put on hold while a required task is not done. "
                              "Default Y.", "yn", YN),
        _C("step", False, "Automated step this task stands for (the close does it when the step runs without "
                          "errors): " + ", ".join(TASK_STEPS) + ". Blank: a person's task, done when a person "
                          "marks it Done.", "choice", TASK_STEPS),
        _C("review", False, "Y/N: the task also needs a reviewer's sign-off in the Checklist, by someone other "
                            "than the preparer. Default N.", "yn", YN),
        _C("entity", False, "Entity code the task is for (its progress); blank = the group.", "code"),
    ],
    "Checklist": [
        _C("task", True, "Task id from the Tasks sheet.", "code"),
        _C("period", True, "Period code, e.g. 2026-01: the statuses and sign-offs of that period.", "code"),
        _C("status", True, "Not started, In progress or Done (a person's task). An automated task is done by the "
                           "close: sign its review only.", "choice", ("Not started", "In progress", "Done")),
        _C("prepared_by", False, "Who did the task (a user).", "code"),
        _C("prepared_on", False, "The day it was done (a date).", "date"),
        _C("reviewed_by", False, "Who reviewed it: someone other than the preparer.", "code"),
        _C("reviewed_on", False, "The day it was reviewed (a date).", "date"),
        _C("note", False, "Anything the reviewer should know.", "text"),
    ],
    "Users": [
        _C("user", True, "User name (text), e.g. the operating-system login.", "code"),
        _C("group", True, "Group the user belongs to (one row per user and group).", "code"),
    ],
    "Statements": [
        _C("statement", True, "balance_sheet or income_statement.", "choice", ("balance_sheet", "income_statement")),
        _C("row", True, "Row number within the statement (number).", "integer"),
        _C("label", True, "Text shown on the row.", "text"),
        _C("accounts", False, "Accounts summed on the row: range (4000-4999) or comma-separated list.", "code"),
        _C("sign", False, "1 or -1: display sign. Default 1.", "choice", ("1", "-1")),
        _C("total_of", False, "Comma-separated row numbers this row totals.", "code"),
    ],
}

#: What each kind holds (spec section 1), for the About sheet.
PURPOSE: dict[str, str] = {
    "Settings": "key/value settings of the group (one per books folder)",
    "Entities": "the legal entities, their currencies and ownership (one per books folder)",
    "Accounts": "the chart of accounts, shared by all entities (one per books folder)",
    "Periods": "the ledger calendar (one per books folder)",
    "TrialBalance": "opening balances at the start of the calendar's first period (several workbooks allowed)",
    "Journals": "journal lines: daily postings and manual period-end adjustments (several workbooks allowed)",
    "Rates": "exchange rates (several workbooks allowed)",
    "Allocations": "ledger allocation rules (one per books folder)",
    "Statistics": "statistical bases for allocations, e.g. headcount (several workbooks allowed)",
    "Eliminations": "intercompany elimination rules (one per books folder)",
    "HistoricalRates": "historical rates / translated amounts for equity (one per books folder)",
    "Subledgers": "AR/AP/Inventory subledger balances tied to control accounts (several workbooks allowed)",
    "Tasks": "the recurring close checklist: persons' tasks and automated steps (one per books folder)",
    "Checklist": "each period's task statuses and sign-offs (several workbooks allowed: closebatch checklist "
                 "writes one per period)",
    "Users": "users and their groups, for period access (one per books folder)",
    "Statements": "optional row definitions for the financial statements (one per books folder)",
}

#: The Settings keys (spec section 2), with meaning and default, pre-filled in the template.
SETTINGS_KEYS: list[tuple[str, str, str]] = [
    ("group_currency", "Currency of the consolidated statements.", "the currency of the entity with no parent"),
    ("dimensions", "Comma-separated financial dimension names, e.g. department, cost_center; each becomes an "
                   "optional column in Journals, TrialBalance, Allocations, Statistics.", "none"),
    ("unrealized_gain_account", "Account for unrealized FX revaluation gains.",
     "none; required if anything is revalued"),
    ("unrealized_loss_account", "Account for unrealized FX revaluation losses.",
     "none; required if anything is revalued"),
    ("realized_gain_account", "Account for realized FX gains from settlements.",
     "none; required if a settled group has one"),
    ("realized_loss_account", "Account for realized FX losses from settlements.",
     "none; required if a settled group has one"),
    ("retained_earnings_account", "Year-end close target.", "none; required at year end"),
    ("translation_reserve_account", "Currency translation adjustment (CTA, in equity).",
     "none; required when consolidating foreign entities"),
    ("nci_account", "Non-controlling interest (equity line).",
     "none; required when an ownership is below 100%"),
    ("nci_profit_account", "Non-controlling interests' share of profit.",
     "none; required when an ownership is below 100%"),
    ("rounding_account", "Penny differences from currency conversion.", "none; required if one occurs"),
    ("rounding_tolerance", "Largest conversion difference per journal that may go to rounding_account "
                           "(accounting currency).", "0.05"),
    ("reverse_revaluation", "Y/N: also post the reversal of each revaluation on the first day of the next "
                            "period; with N the next revaluation posts only the change.", "N"),
    ("revaluation_rate_type", "Rate type used to revalue: spot, closing or average.", "closing"),
]

CONTRACT = "the books format v1 (books.md in the closebatch documentation), section 2"
CREATED = datetime(2026, 1, 1)
OPTIONS = {"strings_to_formulas": False, "strings_to_urls": False, "nan_inf_to_errors": True}
_LAST_ROW = 1_048_575  # validations and formats cover the whole column below the header

_NUM_FORMATS = {"code": "@", "text": "@", "amount": "#,##0.00;-#,##0.00", "number": "#,##0.####",
                "rate": "0.0000######", "integer": "0", "percent": "0.00%", "date": "yyyy-mm-dd",
                "yn": "@", "choice": "@"}
_WIDTHS = {"code": 14, "text": 30, "amount": 16, "number": 12, "rate": 14, "integer": 9, "percent": 11,
           "date": 12, "yn": 10, "choice": 16}


def write_templates(folder: Path) -> list[Path]:
    """Write one blank template workbook per sheet kind into ``folder``; return their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return [write_template(kind, folder / f"{kind}.xlsx") for kind in COLUMNS]


def write_template(kind: str, path: Path) -> Path:
    """Write the blank template of one sheet kind to ``path``."""
    wb = xlsxwriter.Workbook(str(path), OPTIONS)
    wb.set_properties({"title": f"closebatch {kind} template", "author": "closebatch", "created": CREATED,
                       "comments": f"Blank {kind} sheet of the books format"})
    f = _formats(wb)
    ws = wb.add_worksheet(kind)
    columns = COLUMNS[kind]
    for i, col in enumerate(columns):
        width = max(_WIDTHS[col.value], len(col.name) + 4)
        ws.set_column(i, i, width, f[col.value])
        ws.write_string(0, i, col.name, f["required" if col.required else "optional"])
        ws.write_comment(0, i, _note(col), {"author": "closebatch", "x_scale": 2.2, "y_scale": 1.6})
        if col.allowed:
            _check(ws.data_validation(1, i, _LAST_ROW, i, {
                "validate": "list", "source": list(col.allowed), "ignore_blank": True,
                # Y/N columns also accept Yes/No/True/False/1/0: warn, never refuse
                "error_type": "warning" if col.value == "yn" else "stop",
                "error_title": f"{col.name}", "error_message": _note(col)[:255],
                "input_title": col.name[:32], "input_message": ", ".join(col.allowed)[:255]}))
        elif col.value == "integer":
            _check(ws.data_validation(1, i, _LAST_ROW, i, {
                "validate": "integer", "criteria": "between", "minimum": -1_000_000, "maximum": 1_000_000_000,
                "ignore_blank": True, "error_type": "warning", "error_message": "A whole number is expected."}))
    ws.set_row(0, 20)
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, 0, len(columns) - 1)
    if kind == "Settings":
        _settings_rows(ws, f)
    _about(wb, kind, f)
    from .writer import close_workbook

    close_workbook(wb)
    return path


def _formats(wb) -> dict:
    f = {k: wb.add_format({"num_format": v}) for k, v in _NUM_FORMATS.items()}
    f["required"] = wb.add_format({"bold": True, "font_color": "#FFFFFF", "bg_color": "#1F4E78", "border": 1,
                                   "num_format": "@"})
    f["optional"] = wb.add_format({"bold": False, "font_color": "#1F1F1F", "bg_color": "#DDEBF7", "border": 1,
                                   "num_format": "@"})
    f["title"] = wb.add_format({"bold": True, "font_size": 14})
    f["bold"] = wb.add_format({"bold": True})
    f["wrap"] = wb.add_format({"text_wrap": True, "valign": "top"})
    f["key"] = wb.add_format({"num_format": "@", "font_color": "#1F4E78"})
    return f


def _note(col: Column) -> str:
    status = "Required." if col.required else "Optional."
    return f"{col.name} ({status}) {col.note}"


def _settings_rows(ws, f) -> None:
    """Pre-fill the Settings keys with empty values; meaning and default go in a note."""
    for r, (key, meaning, default) in enumerate(SETTINGS_KEYS, start=1):
        ws.write_string(r, 0, key, f["key"])
        ws.write_comment(r, 0, f"{meaning} Default: {default}.", {"author": "closebatch", "x_scale": 2.2,
                                                                   "y_scale": 1.4})
        if key == "reverse_revaluation":
            _check(ws.data_validation(r, 1, r, 1, {"validate": "list", "source": list(YN),
                                                   "error_type": "warning"}))
        elif key == "revaluation_rate_type":
            _check(ws.data_validation(r, 1, r, 1, {"validate": "list", "source": list(RATE_TYPES)}))
    ws.set_column(0, 0, 30, f["code"])
    ws.set_column(1, 1, 30, f["code"])


def _about(wb, kind: str, f) -> None:
    ws = wb.add_worksheet("About")
    ws.set_column(0, 0, 24)
    ws.set_column(1, 1, 11)
    ws.set_column(2, 2, 100, f["wrap"])
    lines = [
        (f"closebatch: {kind} template", f["title"]),
        (f"The sheet '{kind}' holds {PURPOSE[kind]}. Fill it from row 2; keep the headers on row 1.", None),
        ("File names are free: closebatch recognises a workbook by its sheet names. This About sheet is "
         "ignored.", None),
        ("Sign convention everywhere: debit positive, credit negative.", None),
        ("Dark headers are required columns; light headers are optional. Hover a header for its note.", None),
        ("Financial dimensions named in Settings (dimensions) are added as extra columns, e.g. department"
         + (" (and to_department for the destination in Allocations)" if kind == "Allocations" else "") + ".",
         None),
        ("Dates are real Excel dates or YYYY-MM-DD text. Y/N columns accept Y, Yes, True, 1 / N, No, False, 0.",
         None),
        (f"The full contract: {CONTRACT}. Check the books with: closebatch validate BOOKS", None),
    ]
    for r, (text, fmt) in enumerate(lines):
        ws.write_string(r, 0, text, fmt) if fmt else ws.write_string(r, 0, text)
    r = len(lines) + 1
    ws.write_row(r, 0, ["column", "required", "meaning"], f["bold"])
    for col in COLUMNS[kind]:
        r += 1
        ws.write_string(r, 0, col.name)
        ws.write_string(r, 1, "required" if col.required else "optional")
        ws.write_string(r, 2, col.note)
    if kind == "Settings":
        r += 2
        ws.write_row(r, 0, ["key", "default", "meaning"], f["bold"])
        for key, meaning, default in SETTINGS_KEYS:
            r += 1
            ws.write_string(r, 0, key)
            ws.write_string(r, 1, default, f["wrap"])
            ws.write_string(r, 2, meaning)


def _check(rc: int) -> None:
    if rc not in (0, None):
        raise ValueError(f"xlsxwriter refused a template element (return code {rc})")
