"""``close_status.xlsx``: the close workspace of a period in one workbook (spec section 5).

Sheets:

* ``Summary``: the period, its status after the run and the day it is as of; five tiles
  (tasks done, remaining, overdue, blocked by a task they depend on, and the blockers of the
  lock: big bold numbers on coloured fills); the lock's outcome and the ledger's seal; the
  blockers of the lock, each linked to its row on ``Blockers``; the sign-offs (who prepared
  and who reviewed what, and when); progress per area, per owner and per entity (each table
  under a bold heading, with a data bar on the share done; an entity's automated steps
  count as its tasks), and per entity its figures, each money column beside its currency.
* ``Tasks``: the checklist of the period, one row per task with its due date, status, the
  sign-offs, what it waits for and the done, blocked and overdue flags; rows are coloured by
  conditional formatting (done green, overdue red, blocked amber), so the colours follow if
  someone edits a flag.  The columns a reviewer prints come first (the print area); the
  task's details (area, dependencies, figures, source row) stand beside it.
* ``Steps``: each automated step with its outcome, lines, warnings, the tasks standing for it
  and its figures in words; ``Figures``: the same figures one per row, typed (an amount with
  its currency, a count, or a text); ``Blockers``: what keeps the period from being put on
  hold, each with a link to the input cell it names.

Like every output it is written by xlsxwriter with formulas off and a fixed creation date,
so the same inputs give the same bytes; every sheet is print-ready.
"""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path, PurePosixPath

import pandas as pd

from .. import money
from .reader import column_letter
from .writer import Book, Column, Sheet, excel_text, print_setup

TILES = (("done", "Done", "#C6EFCE", "#006100"), ("remaining", "Remaining", "#DDEBF7", "#1F4E78"),
         ("overdue", "Overdue", "#FFC7CE", "#9C0006"), ("blocked", "Blocked tasks", "#FFEB9C", "#9C5700"),
         ("blockers", "Lock blockers", "#F8CBAD", "#843C0C"))
GREEN, RED, AMBER = ("#C6EFCE", "#006100"), ("#FFC7CE", "#9C0006"), ("#FFEB9C", "#9C5700")
# the columns a reviewer prints, then the task's details (outside the print area)
TASK_PRINTED = [Column("task", "code"), Column("name", width=30), Column("owner", "code"), Column("entity", "code"),
                Column("due_date", "date"), Column("status", width=24), Column("done", "flag"),
                Column("review", "flag"), Column("prepared_by", "code"), Column("prepared_on", "date"),
                Column("reviewed_by", "code"), Column("reviewed_on", "date"), Column("waiting_for", width=22),
                Column("blocked_by", "code"), Column("overdue", "flag"), Column("required", "flag")]
TASK_DETAILS = [Column("step", "code"), Column("outcome", width=24), Column("done_by", width=30),
                Column("days_overdue", "count"), Column("area", width=18), Column("due", "count"),
                Column("depends_on", "code"), Column("blocked", "flag"), Column("note", width=40),
                Column("source", "code")]
TASK_SHEET_COLUMNS = TASK_PRINTED + TASK_DETAILS
STEP_COLUMNS = [Column("step", "code"), Column("title", width=34), Column("outcome", width=22),
                Column("lines", "count"), Column("errors", "count"), Column("warnings", "count"),
                Column("tasks", "code"), Column("figures", width=70)]
PROGRESS = [Column("tasks", "count"), Column("done", "count"), Column("remaining", "count"),
            Column("overdue", "count"), Column("blocked", "count"), Column("progress", "percent")]
ENTITY_TABLE = [Column("entity", "code"), Column("name"), Column("closed", "code"), Column("blockers", "count"),
                *PROGRESS]
ENTITY_FIGURES = [Column("entity", "code"), Column("accounting_currency", "code"),
                  Column("fx_gains", "money", "accounting_currency", header="FX gains"),
                Column("fx_losses", "money", "accounting_currency", header="FX losses"),
                Column("profit_for_year", "money", "accounting_currency"), Column("group_currency", "code"),
                Column("cta", "money", "group_currency", header="CTA")]
SIGNOFF_TABLE = [Column("task", "code"), Column("name"), Column("status"), Column("prepared_by", "code"),
                 Column("prepared_on", "date"), Column("reviewed_by", "code"), Column("reviewed_on", "date")]
BLOCKER_COLUMNS = [Column("kind", "code"), Column("entity", "code"), Column("message", width=70),
                   Column("where", "link", width=34), Column("hint", width=50), Column("file", width=26),
                   Column("sheet", "code"), Column("cell", "code")]
SUMMARY_WIDTHS = [20, 30, 12, 12, 12, 12, 12, 12, 12, 12]
MAX_LISTED = 12  # blockers listed on the Summary (the rest on Blockers)


def write_close_status(path: Path, cl, blockers: pd.DataFrame, entities: pd.DataFrame, heading: dict) -> Path:
    """Write the workspace.  ``cl`` is a :class:`closebatch.checklist.Checklist`;
    ``blockers`` a frame (kind, entity, file, sheet, cell, message, hint); ``entities`` the
    per-entity progress (:func:`closebatch.checklist.entity_progress`); ``heading``: period,
    status, lock, seal (texts: the seal of the close, see :mod:`closebatch.seal`) and books
    (the books folder as seen from the output folder, for links to input cells)."""
    book = Book(path, title=f"Close status {heading.get('period', cl.period)}",
                cells=10 * (len(blockers) + len(cl.tasks) + len(cl.steps) + len(entities) + 20))
    try:
        _summary(book, cl, entities, heading, blockers)
        _tasks(book, cl.tasks)
        book.write(Sheet("Steps", cl.steps, STEP_COLUMNS, words=True, caption="Automated steps of the close"))
        book.write(Sheet("Figures", figures_table(cl.figures), [
            Column("step", "code"), Column("figure", "code"), Column("entity", "code"), Column("currency", "code"),
            Column("amount", "money", "currency"), Column("count", "count"), Column("text", width=40)],
            words=True, caption="Figures of the steps"))
        book.write(Sheet("Blockers", blocker_table(blockers, heading.get("books", "")), BLOCKER_COLUMNS, words=True,
                         caption="What keeps the period from being put on hold"))
    finally:
        book.close()
    return Path(path)


def figures_table(figures: pd.DataFrame) -> pd.DataFrame:
    """The steps' figures typed: an amount (minor units) with its currency, a count, or a text."""
    rows = []
    for rec in figures.itertuples(index=False):
        v, unit = rec.value, rec.unit or ""
        row = {"step": rec.step, "figure": rec.figure, "entity": rec.entity, "currency": "", "amount": None,
               "count": None, "text": ""}
        if isinstance(v, Decimal):
            row["currency"] = unit
            row["amount"] = int(v.scaleb(money.scale_of(unit) if unit else 2))
        elif isinstance(v, (int,)) and not isinstance(v, bool) or hasattr(v, "dtype"):
            row["count"] = int(v)
        else:
            row["text"] = str(v)
        rows.append(row)
    df = pd.DataFrame(rows, columns=["step", "figure", "entity", "currency", "amount", "count", "text"])
    df["amount"] = pd.array(df["amount"], dtype="Int64")
    return df


def blocker_table(blockers: pd.DataFrame, books: str) -> pd.DataFrame:
    """The blockers with ``where``: a link to the input cell each names (relative to the output
    folder, so it opens the books' own workbook), or None."""
    df = blockers.reset_index(drop=True).copy()
    links = []
    for f, s, c in zip(df.get("file", []), df.get("sheet", []), df.get("cell", [])):
        f, s, c = str(f or ""), str(s or ""), str(c or "")
        if f and books and not f.startswith(("ledger", "out")):
            target = str(PurePosixPath(*Path(books).parts, *PurePosixPath(f).parts)) if books != "." else f
            cell = c if c and c[:1].isalpha() else "A" + "".join(ch for ch in c if ch.isdigit()) if c else "A1"
            links.append((f"external:{target}#'{s}'!{cell}", f"{f}!{s}!{c}" if s else f))
        else:
            links.append(None)
    df["where"] = links
    return df


# --------------------------------------------------------------------------- Summary

def _summary(book: Book, cl, entities: pd.DataFrame, heading: dict, blockers: pd.DataFrame) -> None:
    ws = book.wb.add_worksheet("Summary")
    for j, w in enumerate(SUMMARY_WIDTHS):
        ws.set_column(j, j, w)
    period = heading.get("period", cl.period)
    ws.write_string(0, 0, excel_text(f"Close workspace {period}"), book.fmt(bold=True, font_size=16))
    mode = ("statuses and sign-offs from the Checklist" if cl.v11 else
            "statuses from the Tasks sheet (no Checklist)")
    ws.write_string(1, 0, excel_text(f"Period end {cl.period_end:%Y-%m-%d}; as of {cl.today:%Y-%m-%d}; the period is "
                                     f"{heading.get('status', '')}. Tasks: {mode}; automated tasks are done when "
                                     "their step of the close ran without errors."), book.fmt(italic=True))
    counts = dict(cl.summary, blockers=len(blockers))
    for j, (key, label, fill, font) in enumerate(TILES):
        col = 2 * j
        ws.merge_range(3, col, 3, col + 1, label, book.fmt(bold=True, align="center", bg_color=fill,
                                                         font_color=font, border=1, font_size=12))
        ws.merge_range(4, col, 4, col + 1, int(counts.get(key, 0)), book.fmt(
            bold=True, font_size=28, align="center", valign="vcenter", bg_color=fill, font_color=font, border=1,
            num_format="0"))
    ws.set_row(4, 46)
    ws.write_string(5, 0, excel_text(f"of {cl.summary.get('total', 0)} tasks. Blocked tasks wait for a task they depend "
                                     "on; lock blockers keep the period from being put on hold (listed below)."),
                    book.fmt(italic=True, font_color="#595959"))
    label = book.fmt(bold=True)
    ws.write_string(7, 0, "Lock", label)
    ws.write_string(7, 1, excel_text(heading.get("lock", "")))
    ws.write_string(8, 0, "Ledger seal", label)
    ws.write_string(8, 1, excel_text(heading.get("seal", "") or ""))
    row = 10
    row = _blocker_list(book, ws, row, blockers) + 1
    signed = cl.tasks[(cl.tasks["prepared_by"] != "") | (cl.tasks["reviewed_by"] != "")] if len(cl.tasks) else \
        cl.tasks
    if cl.v11:
        row = _table(book, ws, row, "Sign-offs", signed, SIGNOFF_TABLE) + 1
    row = _table(book, ws, row, "Progress by area", cl.by_area, [Column("area", width=18), *PROGRESS]) + 1
    row = _table(book, ws, row, "Progress by owner", cl.by_owner, [Column("owner", "code"), *PROGRESS]) + 1
    row = _table(book, ws, row, "Progress by entity (its tasks and the close's automated steps)", entities,
                 ENTITY_TABLE) + 1
    row = _table(book, ws, row, "Figures by entity (FX gains and losses, profit: accounting currency; CTA: group "
                 "currency, a credit is a gain)", entities, ENTITY_FIGURES)
    ws.hide_gridlines(2)
    print_setup(ws, book.name, "Summary", header_row=1, wide=True)
    ws.print_area(0, 0, row, len(SUMMARY_WIDTHS) - 1)


def _blocker_list(book: Book, ws, row: int, blockers: pd.DataFrame) -> int:
    """The blockers of the lock, each linked to its row on the Blockers sheet."""
    ws.write_string(row, 0, "Blockers of the lock", book.fmt(bold=True, font_size=13))
    row += 1
    if not len(blockers):
        ws.write_string(row, 0, "None: nothing keeps the period from being put on hold.",
                        book.fmt(italic=True, font_color=GREEN[1]))
        return row + 1
    wrap = book.fmt(text_wrap=True, valign="top")
    link = book.fmt(font_color="blue", underline=1, valign="top")
    for i, rec in enumerate(blockers.head(MAX_LISTED).itertuples(index=False)):
        ws.write_url(row, 0, f"internal:'Blockers'!A{i + 2}", link, f"Blocker {i + 1}")
        text = excel_text(str(rec.message))
        ws.merge_range(row, 1, row, len(SUMMARY_WIDTHS) - 1, text, wrap)
        ws.set_row(row, 15 * max(1, -(-len(text) // 120)))
        row += 1
    if len(blockers) > MAX_LISTED:
        ws.write_url(row, 1, f"internal:'Blockers'!A{MAX_LISTED + 2}", link,
                     f"… and {len(blockers) - MAX_LISTED} more on the Blockers sheet")
        row += 1
    return row


def _table(book: Book, ws, row: int, title: str, df: pd.DataFrame, cols: list) -> int:
    """A small table under a bold heading: readable headers, typed cells, a data bar on the
    share done.  A table whose second column is no name leaves the wide name column (B) empty.
    Returns the row below it."""
    ws.write_string(row, 0, excel_text(title), book.fmt(bold=True, font_size=13))
    row += 1
    at = [0] + [j + (0 if cols[1].name == "name" else 1) for j in range(1, len(cols))]
    for j, c in zip(at, cols):
        ws.write_string(row, j, excel_text(c.title(True)), book.header)
    if any(len(c.title(True)) > SUMMARY_WIDTHS[j] - 1 for j, c in zip(at, cols)):
        ws.set_row(row, 30)
    first = row + 1
    if not len(df):
        ws.write_string(first, 0, "(none)", book.fmt(italic=True))
        return first + 1
    wrap = book.fmt(text_wrap=True, valign="top")
    for i, rec in enumerate(df.to_dict("records")):
        r = first + i
        lines = max([-(-len(str(rec.get(c.name) or "")) // max(1, SUMMARY_WIDTHS[j] - 1))
                     for j, c in zip(at, cols) if c.kind == "text"] + [1])
        if lines > 1:
            ws.set_row(r, 15 * lines)
        for j, c in zip(at, cols):
            _cell(book, ws, r, j, c, rec, wrap)
    names = [c.name for c in cols]
    if "progress" in names:
        j = at[names.index("progress")]
        ws.conditional_format(first, j, first + len(df) - 1, j,
                              {"type": "data_bar", "bar_color": "#63BE7B", "min_type": "num", "min_value": 0,
                               "max_type": "num", "max_value": 1})
    return first + len(df)


def _cell(book: Book, ws, r: int, j: int, c: Column, rec: dict, wrap) -> None:
    v = rec.get(c.name)
    if v is None or v is pd.NA or (isinstance(v, float) and pd.isna(v)) or v is pd.NaT:
        return
    if c.kind == "money":
        ccy = str(rec.get(c.scale, "") or "")
        scale = money.scale_of(ccy) if ccy else 2
        ws.write_number(r, j, float(Decimal(int(v)).scaleb(-scale)), book.money_fmt(scale, valign="top"))
    elif c.kind == "percent":
        ws.write_number(r, j, float(v), book.fmt(num_format="0%", valign="top"))
    elif c.kind == "count":
        ws.write_number(r, j, float(v), book.fmt(num_format="#,##0", valign="top"))
    elif c.kind == "date":
        ws.write_string(r, j, f"{pd.Timestamp(v):%Y-%m-%d}", book.fmt(valign="top"))
    elif c.kind == "flag":
        ws.write_string(r, j, "Y" if v else "N", book.fmt(valign="top"))
    else:
        ws.write_string(r, j, excel_text(str(v)), wrap if c.kind == "text" else book.fmt(valign="top"))


# --------------------------------------------------------------------------- Tasks

def _tasks(book: Book, tasks: pd.DataFrame) -> None:
    ws = book.write(Sheet("Tasks", tasks, TASK_SHEET_COLUMNS, words=True, caption="Close checklist"))
    n = len(tasks)
    # the columns a reviewer prints; the details stand beside them
    ws.print_area(0, 0, max(n, 1), len(TASK_PRINTED) - 1)
    ws.set_landscape()
    if not n:
        return
    names = [c.name for c in TASK_SHEET_COLUMNS]
    letter = {c: column_letter(i) for i, c in enumerate(names)}
    last = len(names) - 1
    rules = ((letter["done"], GREEN), (letter["overdue"], RED), (letter["blocked"], AMBER))
    for col, (fill, font) in rules:
        ws.conditional_format(1, 0, n, last, {"type": "formula", "criteria": f'=${col}2="Y"',
                                              "format": book.fmt(bg_color=fill, font_color=font),
                                              "stop_if_true": True})


__all__ = ["TASK_SHEET_COLUMNS", "blocker_table", "figures_table", "write_close_status"]
