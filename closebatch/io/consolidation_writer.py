"""``consolidation.xlsx``: the consolidation worksheet first, then the schedules behind it.

``Worksheet`` puts the entities side by side, as a group controller reads a consolidation:
accounts as rows (grouped by type and statement line, with subtotals), each entity's trial
balance translated into the group currency, their sum, a column per elimination rule, the
non-controlling interests and the consolidated total.  Every row adds across and every column
sums to zero (the last row says so).  It is formatted for reading and printing: accounting
number formats (zero as a dash), bold subtotals with rules, frozen headers and account
columns, landscape, fitted to the page width, the header row repeated on every page, page
numbers in the footer.

The other sheets (``Consolidated``, ``Translation``, ``Eliminations``, ``Goodwill``, ``CTA``,
``NCI``) are the step's report tables, written as every report is.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .. import money
from ..book import Book as Books
from .outputs import report_sheet
from .statements_writer import accounting_format
from .writer import Book, excel_text

HEAD_ROW = 3  # the column headers (0-based): title, note, blank line above


def write_consolidation(path: Path, books: Books, reports: dict[str, pd.DataFrame], period: str) -> Path:
    """Write ``consolidation.xlsx`` from the consolidation step's reports."""
    book = Book(path, stream=True, cells=sum(df.size for df in reports.values()))
    gcur = books.settings.group_currency or ""
    ws_frame = reports.get("Worksheet")
    if ws_frame is not None:
        _worksheet(book, ws_frame, period, gcur, books)
    for name, df in reports.items():
        if name == "Worksheet" or name.startswith("_"):
            continue
        book.write(report_sheet(name, df, books, "consolidation"))
    book.close()
    return Path(path)


def _worksheet(book: Book, df: pd.DataFrame, period: str, gcur: str, books: Books) -> None:
    ws = book.wb.add_worksheet("Worksheet")
    headers = df.attrs.get("headers", {})
    money_cols = [c for c in df.columns if c not in ("kind", "type", "statement_line", "account", "account_name")]
    scale = money.scale_of(gcur) if gcur else 2
    num = accounting_format(scale)
    f = book.fmt
    f_title, f_note = f(bold=True, font_size=13), f(italic=True, font_color="#595959")
    f_head = f(bold=True, text_wrap=True, valign="bottom", align="right", bottom=1, bg_color="#DDEBF7")
    f_head_left = f(bold=True, text_wrap=True, valign="bottom", bottom=1, bg_color="#DDEBF7")
    f_section = f(bold=True, font_size=11)
    f_line = f(italic=True)
    styles = {
        "account": (f(), f(indent=2), f(num_format=num)),
        "subtotal": (f(bold=True), f(bold=True, indent=1), f(num_format=num, bold=True, top=1)),
        "total": (f(bold=True), f(bold=True), f(num_format=num, bold=True, top=1, bottom=1)),
        "check": (f(bold=True, italic=True), f(bold=True, italic=True), f(num_format=num, bold=True, top=1, bottom=6)),
    }
    totals_col = {"entities_total", "consolidated"}
    shade = f(num_format=num, bg_color="#F2F2F2")
    shade_bold = {k: f(num_format=num, bold=True, top=1, bg_color="#F2F2F2", **({"bottom": 1} if k == "total" else
                                                                                 {"bottom": 6} if k == "check" else {}))
                  for k in ("subtotal", "total", "check")}
    names = dict(zip(books.entities["entity"], books.entities["name"]))

    ws.write_string(0, 0, excel_text(f"Consolidation worksheet {period}"), f_title)
    ws.write_string(1, 0, excel_text(f"Amounts in {gcur}. Each entity's trial balance translated into {gcur} "
                                     "(its translation difference on the translation reserve); then the eliminations "
                                     "and non-controlling interests as posted. Every row adds across; every column "
                                     "sums to zero."), f_note)
    ws.write_string(HEAD_ROW, 0, "Account", f_head_left)
    ws.write_string(HEAD_ROW, 1, "Name", f_head_left)
    for j, c in enumerate(money_cols, start=2):
        label = headers.get(c, c)
        if c.startswith("entity:"):
            code = c.split(":", 1)[1]
            label = f"{code} {names.get(code, '')}".strip()
        ws.write_string(HEAD_ROW, j, excel_text(label), f_head)
    ws.set_row(HEAD_ROW, 45)
    ws.set_column(0, 0, 10)
    longest = max([len(str(t)) for t in df["account_name"]] + [20]) if len(df) else 20
    ws.set_column(1, 1, min(48, longest + 3))
    ws.set_column(2, 1 + len(money_cols), 15)

    r = HEAD_ROW + 1
    section = None
    values = df[money_cols].to_numpy(dtype="int64")
    amounts = money.from_minor(values.reshape(-1), scale).reshape(values.shape) if values.size else values
    grouped = set(df.loc[df["kind"] == "subtotal", "statement_line"])  # lines of several accounts
    line = None
    for i, d in enumerate(df[["kind", "type", "statement_line", "account", "account_name"]].to_dict("records")):
        kind = d["kind"]  # one row per account and subtotal: the chart, not the lines
        if kind == "account" and d["type"] != section:
            section = d["type"]
            label = {"Asset": "Assets", "Liability": "Liabilities", "Equity": "Equity", "Revenue": "Revenue",
                     "Expense": "Expenses"}.get(section, section or "Other")
            ws.write_string(r, 0, excel_text(label), f_section)
            r += 1
        if kind == "account" and d["statement_line"] in grouped and d["statement_line"] != line:
            ws.write_string(r, 1, excel_text(str(d["statement_line"])), f_line)
            r += 1
        line = d["statement_line"] if kind == "account" else None
        f_acc, f_name, f_num = styles.get(kind, styles["account"])
        if d["account"]:
            ws.write_string(r, 0, excel_text(str(d["account"])), f_acc)
        ws.write_string(r, 1, excel_text(str(d["account_name"])), f_name)
        for j, c in enumerate(money_cols):
            fmt = f_num
            if c in totals_col:
                fmt = shade if kind == "account" else shade_bold[kind]
            ws.write_number(r, j + 2, float(amounts[i, j]), fmt)
        r += 1
        if kind == "total":
            r += 1  # a blank line between the sections
    last = max(r - 1, HEAD_ROW)
    ws.freeze_panes(HEAD_ROW + 1, 2)
    ws.hide_gridlines(2)
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(HEAD_ROW)
    ws.repeat_columns(0, 1)
    ws.print_area(0, 0, last, 1 + len(money_cols))
    ws.set_margins(left=0.4, right=0.4, top=0.7, bottom=0.6)
    ws.set_header(f"&L&BConsolidation worksheet&R{period.replace('&', '&&')}")
    ws.set_footer(f"&LAmounts in {gcur}&RPage &P of &N")
