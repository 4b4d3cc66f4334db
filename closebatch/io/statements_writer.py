"""``statements.xlsx``: the statements of :mod:`closebatch.statements` as a workbook to send.

One sheet per statement (the group's first, then each entity's balance sheet and income
statement), formatted for reading and printing: accounting number formats with the
currency's minor unit (negatives in brackets, zero as a dash), bold totals with rules above
(and a double rule under the grand total), headings, indented lines, frozen column headers,
no gridlines, and a print setup that fits the statement to the page width, repeats its column
headers and names the entity, statement and period in the page header and footer.  The
accounts behind each line stand in a grey column beside the statement (outside the print
area).  Charts (xlsxwriter): the balance sheet's composition, and revenue and expenses by
period where the fiscal year has several closed periods; their figures are on the
``Chart data`` sheet.  ``Checks`` lists every statement's check, column by column.

Every cell is a value (text through ``write_string``), never a formula; the workbook carries
the fixed properties of :mod:`closebatch.io.writer`, so the same statements give the same
bytes.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from .. import money
from ..statements import (BALANCE_SHEET, CASH_FLOW, CHANGES_IN_EQUITY, COMPREHENSIVE_INCOME, GROUP,
                          INCOME_STATEMENT, Statement)
from .writer import Book, Column, Sheet, excel_text, fit, sheet_name

LABEL_WIDTH = 46
AMOUNT_WIDTH = 16
FIRST_ROW = 5  # column headers on row 5 (index 4), the statement below


def accounting_format(scale: int) -> str:
    """Accounting style for a currency with ``scale`` decimals: 1,234.50  (1,234.50)  -"""
    num = "#,##0" + ("." + "0" * scale if scale > 0 else "")
    return f'{num}_);({num});"-"_);@_)'


def _header_text(s: str) -> str:
    """Text for a page header/footer: ``&`` is a control character there."""
    return s.replace("&", "&&")[:80]


#: The words of each statement in its sheet's name (a reader looks for them).
SHEET_WORDS = {BALANCE_SHEET: "Balance sheet", INCOME_STATEMENT: "Income statement",
               COMPREHENSIVE_INCOME: "Comprehensive income", CHANGES_IN_EQUITY: "Changes in equity",
               CASH_FLOW: "Cash flow"}
OK_TEXT = {BALANCE_SHEET: "Checked: total assets equal total liabilities and equity in every column.",
           INCOME_STATEMENT: "Checked: the profit for the period agrees with the trial balance in every column.",
           COMPREHENSIVE_INCOME: "Checked: profit agrees with the income statement, OCI with the reserve.",
           CHANGES_IN_EQUITY: "Checked: opening and closing agree with the balance sheets' equity.",
           CASH_FLOW: "Checked: cash at the start and at the end agrees with the balance sheets."}


def sheet_names(statements: list[Statement]) -> list[str]:
    """Unique, legal sheet names (:func:`closebatch.io.writer.sheet_name`): "Group Balance
    sheet", "US Cash flow", the entity code cut to leave room for the statement's name (whose
    words a reader looks for).  Apostrophes go too (the charts name the sheet in formulas)."""
    out: list[str] = []
    for st in statements:
        unit = "Group" if st.unit == GROUP else re.sub(r"'", "_", st.unit)
        kind = SHEET_WORDS[st.kind]
        unit = sheet_name(unit)  # legal characters first, then cut to fit beside the statement's name
        out.append(sheet_name(f"{fit(unit, 31 - len(kind) - 1)} {kind}", out))
    return out


class _Writer:
    def __init__(self, path: Path, cells: int | None = None):
        self.book = Book(path, cells=cells)
        self.wb = self.book.wb
        f = self.book.fmt
        self.f_name = f(bold=True, font_size=14)
        self.f_title = f(bold=True, font_size=12)
        self.f_note = f(italic=True, font_color="#595959")
        self.f_head = f(bold=True, align="right", valign="bottom", text_wrap=True, bottom=1)
        self.f_head_label = f(bold=True, valign="bottom", bottom=1)
        self.f_acc_head = f(italic=True, font_color="#808080", font_size=8, valign="bottom", bottom=1)
        self.f_acc = f(font_color="#808080", font_size=8)
        self.f_heading = f(bold=True)
        self.f_line = f(indent=1)
        self.f_sub = f(bold=True)
        self.f_total = f(bold=True)
        self.f_ok = f(italic=True, font_color="#375623")
        self.f_bad = f(bold=True, font_color="#C00000")

    def amount(self, scale: int, kind: str):
        props = {"num_format": accounting_format(scale)}
        if kind in ("subtotal", "total"):
            props.update(bold=True, top=1)
        if kind == "total":
            props.update(bottom=6)
        return self.book.fmt(**props)


def write_statements(path: Path, statements: list[Statement], period: str, group_name: str = "") -> Path:
    """Write ``statements.xlsx``; ``group_name`` names the group in the page footer."""
    w = _Writer(path, cells=sum((len(st.rows) + len(st.checks) + 6) * (len(st.columns) + 2) for st in statements))
    names = sheet_names(statements)
    sheets = [(st, w.wb.add_worksheet(n)) for st, n in zip(statements, names)]
    if not statements:
        ws = w.wb.add_worksheet("Statements")
        ws.write_string(0, 0, f"No balances to report for {period}.", w.f_note)
        ws.fit_to_pages(1, 0)
    checks = w.wb.add_worksheet("Checks")
    data = w.wb.add_worksheet("Chart data")
    data_row = [0]
    for (st, ws), name in zip(sheets, names):
        last = _statement_sheet(w, ws, st, group_name)
        last = _charts(w, ws, data, data_row, st, name, last)
        _print_setup(ws, st, last, group_name)
    _checks_sheet(w, checks, statements, names)
    data.set_column(0, 0, 28)
    data.set_column(1, 4, AMOUNT_WIDTH)
    data.hide_gridlines(2)
    data.fit_to_pages(1, 0)
    data.repeat_rows(0)  # its first table's heading on every page (a long sheet of chart figures)
    data.set_footer("&LChart data&RPage &P of &N")
    w.book.close()
    return Path(path)


def _statement_sheet(w: _Writer, ws, st: Statement, group_name: str) -> int:
    """The statement on its sheet; returns the last row written."""
    ncol = len(st.columns)
    ws.hide_gridlines(2)
    ws.write_string(0, 0, excel_text(st.name), w.f_name)
    ws.write_string(1, 0, st.title, w.f_title)
    note = f"Amounts in {st.currency}"
    if st.year_end:
        note += ", before the year-end closing entries"
    if st.layout != "accounts":
        note += "; rows as defined in the Statements sheet"
    ws.write_string(2, 0, note, w.f_note)
    head = FIRST_ROW - 1
    ws.write_string(head, 0, "", w.f_head_label)
    for j, col in enumerate(st.columns):
        ws.write_string(head, 1 + j, f"{col.caption}\n{col.label}" if col.label else col.caption, w.f_head)
    ws.write_string(head, ncol + 2, "Accounts", w.f_acc_head)
    ws.set_row(head, 45 if st.kind == CHANGES_IN_EQUITY else 30)
    longest = max([len(r.label) + 2 * r.indent for r in st.rows] + [20])
    ws.set_column(0, 0, min(60, max(LABEL_WIDTH, longest + 2)))
    ws.set_column(1, ncol, AMOUNT_WIDTH)
    ws.set_column(ncol + 1, ncol + 1, 2)
    ws.set_column(ncol + 2, ncol + 2, 28)
    r = FIRST_ROW
    after_total = False
    for row in st.rows:
        if row.kind == "heading":
            if r > FIRST_ROW and not after_total:
                r += 1  # a blank line before each section
            ws.write_string(r, 0, excel_text(row.label), w.f_heading)
        else:
            label_fmt = {"line": w.f_line, "subtotal": w.f_sub, "total": w.f_total}[row.kind]
            if row.kind == "line" and row.indent > 1:
                label_fmt = w.book.fmt(indent=row.indent)
            ws.write_string(r, 0, excel_text(row.label), label_fmt)
            f = w.amount(st.scale, row.kind)
            for j, v in enumerate(row.values):
                if v is None:
                    ws.write_blank(r, 1 + j, None, f)
                else:
                    ws.write_number(r, 1 + j, float(money.from_minor(np.array([v]), st.scale)[0]), f)
            if row.accounts:
                ws.write_string(r, ncol + 2, row.accounts, w.f_acc)
            if row.kind == "total":
                r += 1  # air after a grand total
        after_total = row.kind == "total"
        r += 1
    r += 1
    for line in st.note.split("\n") if st.note else []:
        ws.write_string(r, 0, excel_text(line), w.f_note)
        r += 1
    bad = [c for c in st.checks if c.difference]
    if bad:
        word = "NOT BALANCED" if st.kind in (BALANCE_SHEET, INCOME_STATEMENT) else "DOES NOT AGREE"
        text = f"{word}: " + "; ".join(f"{c.column}: difference {money.fmt(c.difference, st.scale)} "
                                       f"{st.currency}" for c in bad) + " (see the Checks sheet)."
        ws.write_string(r, 0, text, w.f_bad)
    else:
        ws.write_string(r, 0, OK_TEXT[st.kind], w.f_ok)
    ws.freeze_panes(FIRST_ROW, 1)
    return r


def _print_setup(ws, st: Statement, last: int, group_name: str) -> None:
    ncol = len(st.columns)
    ws.print_area(0, 0, last, ncol)
    ws.repeat_rows(FIRST_ROW - 1)
    ws.fit_to_pages(1, 0)
    if ncol > 5:
        ws.set_landscape()
    else:
        ws.set_portrait()
    ws.center_horizontally()
    ws.set_margins(left=0.6, right=0.6, top=0.9, bottom=0.8)
    kind = SHEET_WORDS[st.kind]
    ws.set_header(f"&L&B{_header_text(st.name)}&R{_header_text(kind)} {_header_text(st.period)}")
    footer_left = _header_text(group_name) if group_name else ""
    ws.set_footer(f"&L{footer_left}&C{_header_text(st.currency)}&RPage &P of &N")


def _width_px(st: Statement) -> int:
    """The printed statement's width in pixels (label column and amount columns)."""
    longest = max([len(r.label) + 2 * r.indent for r in st.rows] + [20])
    label = min(60, max(LABEL_WIDTH, longest + 2))
    return int(label * 7 + 5 + len(st.columns) * (AMOUNT_WIDTH * 7 + 5))


def _charts(w: _Writer, ws, data, data_row: list, st: Statement, sheet_name: str, last: int) -> int:
    """The statement's charts, below it and inside its print area (scaled to its width); their
    figures on ``Chart data``.  Returns the last row the charts cover."""
    row = last + 2
    for ch in st.charts:
        top = data_row[0]
        data.write_string(top, 0, f"{sheet_name}: {ch.title}", w.f_heading)
        data.write_string(top + 1, 0, "", w.book.header)
        for j, (name, _) in enumerate(ch.series):
            data.write_string(top + 1, 1 + j, name or "(base)", w.book.header)
        f = w.amount(st.scale, "line")
        for i, cat in enumerate(ch.categories):
            data.write_string(top + 2 + i, 0, str(cat))
            for j, (_, vals) in enumerate(ch.series):
                v = vals[i]
                if v is not None:
                    data.write_number(top + 2 + i, 1 + j, float(money.from_minor(np.array([v]), st.scale)[0]), f)
        first, lastc = top + 2, top + 1 + len(ch.categories)
        data_row[0] = lastc + 2
        if ch.kind == "composition":
            chart = w.wb.add_chart({"type": "column", "subtype": "stacked"})
            colors = ["#2F5597", "#C55A11", "#548235"]
            chart.set_x_axis({"name": ""})
        elif ch.kind == "waterfall":
            chart = w.wb.add_chart({"type": "column", "subtype": "stacked"})
            colors = [None, "#2F5597", "#548235", "#C00000"]
        else:
            chart = w.wb.add_chart({"type": "column"})
            colors = ["#2F5597", "#C55A11"]
        for j, (name, _) in enumerate(ch.series):
            series = {"name": ["Chart data", top + 1, 1 + j],
                      "categories": ["Chart data", first, 0, lastc, 0],
                      "values": ["Chart data", first, 1 + j, lastc, 1 + j], "gap": 80}
            color = colors[j % len(colors)]
            if color is None:  # the invisible base of a floating column
                series.update({"fill": {"none": True}, "border": {"none": True}})
            else:
                series["fill"] = {"color": color}
            chart.add_series(series)
        chart.set_title({"name": ch.title, "name_font": {"size": 11, "bold": True}})
        chart.set_y_axis({"num_format": "#,##0", "major_gridlines": {"visible": True,
                                                                     "line": {"color": "#D9D9D9"}}})
        if ch.kind == "waterfall":
            chart.set_legend({"position": "bottom", "delete_series": [0]})
        else:
            chart.set_legend({"position": "bottom"})
        scale = max(0.6, min(1.3, _width_px(st) / 480))
        ws.insert_chart(row, 0, chart, {"x_scale": scale, "y_scale": 1.0, "object_position": 1})
        row += 16
    return row - 1 if st.charts else last


def _checks_sheet(w: _Writer, ws, statements: list[Statement], names: list[str]) -> None:
    rows = []
    for st, name in zip(statements, names):
        for c in st.checks:
            rows.append({"sheet": name, "statement": st.title, "entity": st.name, "column": c.column,
                         "currency": st.currency, "check": c.expected_label, "expected": c.expected,
                         "against": c.shown_label, "shown": c.shown, "difference": c.difference,
                         "result": "OK" if not c.difference else ("NOT BALANCED" if c.severity == "error"
                                                                  else "DIFFERS (warning)")})
    cols = ["sheet", "statement", "entity", "column", "currency", "check", "expected", "against", "shown",
            "difference", "result"]
    df = pd.DataFrame(rows, columns=cols)
    for c in ("expected", "shown", "difference"):
        df[c] = df[c].astype("int64")
    # reuse the table writer on this sheet: write_workbook's Book.write makes its own sheet, so
    # write the same layout by hand through a Sheet description
    spec = Sheet("Checks", df, [Column("sheet", width=24), Column("statement", width=48), Column("entity", width=30),
                                Column("column"), Column("currency"), Column("check", width=36),
                                Column("expected", "money", "currency"), Column("against", width=46),
                                Column("shown", "money", "currency"), Column("difference", "money", "currency"),
                                Column("result")])
    _table(w, ws, spec)


def _table(w: _Writer, ws, sheet: Sheet) -> None:
    """A plain table (header on row 1, filters, frozen header) on an existing worksheet."""
    df, cols = sheet.frame, sheet.columns
    for j, c in enumerate(cols):
        ws.write_string(0, j, c.header or c.name, w.book.header)
        ws.set_column(j, j, c.width or 14)
    for i, rec in enumerate(df.to_dict("records")):
        for j, c in enumerate(cols):
            v = rec[c.name]
            if c.kind == "money":
                scale = money.scale_of(rec[c.scale]) if isinstance(c.scale, str) else int(c.scale)
                ws.write_number(1 + i, j, float(money.from_minor(np.array([int(v)]), scale)[0]),
                                w.book.money_fmt(scale))
            else:
                ws.write_string(1 + i, j, excel_text(str(v)))
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, max(len(df), 1), len(cols) - 1)
    ws.repeat_rows(0)
    ws.fit_to_pages(1, 0)
    ws.set_landscape()
    ws.set_footer(f"&L{_header_text(sheet.name)}&RPage &P of &N")
