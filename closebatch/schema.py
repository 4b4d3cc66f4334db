"""Column definitions of every sheet kind of the books format (spec section 2).

One table drives parsing, validation, the templates and the docs.  A column is *required*
when its header must be present; ``value_required`` when each row must fill it.
"""
from __future__ import annotations

from dataclasses import dataclass

TEXT, CODE, CCY, NUM, INT, DATE, YN, PCT, ENUM = "text", "code", "currency", "number", "integer", "date", "Y/N", \
    "percent", "choice"


@dataclass(frozen=True)
class Col:
    name: str
    type: str = TEXT
    required: bool = False  # the header must be present
    value_required: bool = False  # every row must fill it
    default: object = None
    allowed: tuple = ()
    note: str = ""


#: The lines of the cash flow statement an account's movement belongs to (Accounts ``cash_flow``).
CASH_FLOW_CLASSES = ("cash", "operating", "investing", "financing")

from .registry import TASK_STEPS  # noqa: E402 - the steps a task may stand for: the registry's

SCHEMAS: dict[str, list[Col]] = {
    "Settings": [Col("key", TEXT, True, True, note="setting name, e.g. group_currency"),
                 Col("value", TEXT, True, note="the setting's value")],
    "Entities": [Col("entity", CODE, True, True, note="entity code"), Col("name", TEXT, True, True),
                 Col("currency", CCY, True, True, note="ISO 4217 accounting currency"),
                 Col("parent", CODE, note="entity code of the parent; blank at the top of the group"),
                 Col("ownership", PCT, default=1.0, note="share the parent holds, 80% or 0.8; default 100%"),
                 Col("consolidate", YN, default=True, note="Y/N, default Y")],
    "Accounts": [Col("account", CODE, True, True), Col("name", TEXT, True, True),
                 Col("type", ENUM, True, True, allowed=("Asset", "Liability", "Equity", "Revenue", "Expense")),
                 Col("revalue", YN, default=False), Col("settle", YN, default=False),
                 Col("translation", ENUM, allowed=("closing", "average", "historical")),
                 Col("revaluation_rate_type", ENUM, allowed=("spot", "closing", "average")),
                 Col("statement_line", TEXT), Col("control", ENUM, allowed=("AR", "AP", "Inventory")),
                 Col("cash_flow", ENUM, allowed=CASH_FLOW_CLASSES,
                     note="cash, operating, investing or financing; default operating for Asset/Liability, "
                          "financing for Equity")],
    "Periods": [Col("period", CODE, True, True), Col("start", DATE, True, True), Col("end", DATE, True, True),
                Col("fiscal_year", INT), Col("status", ENUM, default="Open",
                                               allowed=("Open", "On hold", "Permanently closed")),
                Col("access_group", TEXT)],
    "TrialBalance": [Col("entity", CODE, True, True), Col("account", CODE, True, True),
                     Col("currency", CCY, True, True), Col("balance", NUM, True, True), Col("balance_acct", NUM),
                     Col("counterparty", CODE), Col("reference", CODE)],
    "Journals": [Col("journal", CODE, True, True), Col("line", INT), Col("date", DATE, True, True),
                 Col("entity", CODE, True, True), Col("account", CODE, True, True), Col("currency", CCY, True, True),
                 Col("debit", NUM, True), Col("credit", NUM, True), Col("amount_acct", NUM), Col("description", TEXT),
                 Col("reference", CODE), Col("counterparty", CODE),
                 Col("type", ENUM, default="daily", allowed=("daily", "adjustment")), Col("posted", YN, default=True),
                 Col("reverse_on", DATE), Col("prepared_by", TEXT)],
    "Rates": [Col("from", CCY, True, True), Col("to", CCY, True, True), Col("date", DATE, True, True),
              Col("rate", NUM, True, True), Col("type", ENUM, default="spot", allowed=("spot", "closing", "average"))],
    "Allocations": [Col("rule", CODE, True, True), Col("step", INT, default=1), Col("entity", CODE),
                    Col("source_account", TEXT, True, True), Col("method", ENUM, True, True,
                                                                  allowed=("fixed_percent", "fixed_weight", "equal",
                                                                           "basis")),
                    Col("basis", TEXT), Col("destination_account", CODE, True, True), Col("value", NUM),
                    Col("offset_account", CODE)],
    "Statistics": [Col("name", TEXT, True, True), Col("entity", CODE), Col("period", CODE),
                   Col("value", NUM, True, True)],
    "Eliminations": [Col("rule", CODE, True, True), Col("type", ENUM, default="intercompany",
                                                        allowed=("intercompany", "investment")),
                     Col("account", TEXT, True, True), Col("counter_account", TEXT, True, True),
                     Col("difference_account", CODE, True, True), Col("entity", CODE), Col("counterparty", CODE),
                     Col("description", TEXT)],
    "HistoricalRates": [Col("entity", CODE, True, True), Col("account", CODE, True, True), Col("rate", NUM),
                        Col("amount_group", NUM)],
    "Subledgers": [Col("entity", CODE, True, True), Col("module", ENUM, True, True, allowed=("AR", "AP", "Inventory")),
                   Col("control_account", CODE, True, True), Col("balance_acct", NUM, True, True),
                   Col("period", CODE)],
    "Tasks": [Col("task", CODE, True, True), Col("name", TEXT, True, True), Col("area", TEXT), Col("owner", TEXT),
              Col("due", INT, default=0), Col("depends_on", TEXT),
              Col("status", ENUM, default="Not started", allowed=("Not started", "In progress", "Done")),
              Col("required", YN, default=True), Col("step", ENUM, allowed=TASK_STEPS),
              Col("review", YN, default=False, note="Y: the task needs a reviewer's sign-off (Checklist)"),
              Col("entity", CODE, note="the entity the task is for; blank = the group")],
    "Checklist": [Col("task", CODE, True, True, note="task id from the Tasks sheet"),
                  Col("period", CODE, True, True, note="period code"),
                  Col("status", ENUM, True, default="Not started", allowed=("Not started", "In progress", "Done")),
                  Col("prepared_by", TEXT, note="user who did the task"), Col("prepared_on", DATE),
                  Col("reviewed_by", TEXT, note="reviewer, someone other than the preparer"),
                  Col("reviewed_on", DATE), Col("note", TEXT)],
    "Users": [Col("user", TEXT, True, True), Col("group", TEXT, True, True)],
    "Statements": [Col("statement", ENUM, True, True, allowed=("balance_sheet", "income_statement")),
                   Col("row", INT, True, True), Col("label", TEXT, True, True), Col("accounts", TEXT),
                   Col("sign", INT, default=1), Col("total_of", TEXT)],
}

# Kinds with dimension columns (spec: Settings `dimensions`).
DIMENSION_KINDS = ("TrialBalance", "Journals", "Allocations", "Statistics")


def columns_for(kind: str, dims=()) -> list[Col]:
    cols = list(SCHEMAS[kind])
    if kind in DIMENSION_KINDS:
        at = next((i for i, c in enumerate(cols) if c.name in ("currency", "method", "value")), len(cols))
        extra = [Col(d, CODE, note=f"dimension {d}") for d in dims]
        if kind == "Allocations":
            extra += [Col(f"to_{d}", CODE, note=f"destination {d}") for d in dims]
        cols = cols[:at] + extra + cols[at:]
    return cols
