"""``close_status.xlsx``: the close workspace in one workbook (spec section 5).

Sheets:

* ``Summary``: the period, its status after the run and the day it is as of; four tiles
  (tasks done, remaining, overdue, blocked: big bold numbers on coloured fills, labels on
  row 4 and numbers on row 5); the lock's outcome; progress per area, per owner and per
  entity (each table under a bold heading, with a data bar on the share done).
* ``Tasks``: the checklist, one row per task with its due date and the done, blocked and
  overdue flags; rows are coloured by conditional formatting (done green, overdue red,
  blocked amber), so the colours follow if someone edits a flag.
* ``Steps``: each automated step with its outcome, lines, the tasks standing for it and its
  figures in words; ``Figures``: the same figures one per row (money as numbers with the
  currency's digits); ``Blockers``: what keeps the period from being put on hold.

Like every output it is written by xlsxwriter with formulas off and a fixed creation date,
so the same inputs give the same bytes.
"""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pandas as pd

from .reader import column_letter
from .writer import Book, Column, Sheet

TILES = (("done", "Done", "#C6EFCE", "#006100"), ("remaining", "Remaining", "#DDEBF7", "#1F4E78"),
         ("overdue", "Overdue", "#FFC7CE", "#9C0006"), ("blocked", "Blocked", "#FFEB9C", "#9C5700"))
GREEN, RED, AMBER = ("#C6EFCE", "#006100"), ("#FFC7CE", "#9C0006"), ("#FFEB9C", "#9C5700")
TASK_SHEET_COLUMNS = [Column("task"), Column("name", width=40), Column("area"), Column("owner"), Column("entity"),
                      Column("due", "int", header="due (working days)"), Column("due_date", "date"),
                      Column("depends_on"), Column("status", width=24), Column("done", "bool"),
                      Column("blocked", "bool"), Column("blocked_by"), Column("overdue", "bool"),
                      Column("days_overdue", "int"), Column("required", "bool"), Column("step"), Column("outcome"),
                      Column("figures", width=60), Column("source")]


def write_close_status(path: Path, cl, blockers: pd.DataFrame, entities: pd.DataFrame, heading: dict) -> Path:
    """Write the workspace.  ``cl`` is a :class:`closebatch.checklist.Checklist`;
    ``blockers`` a frame (kind, entity, file, sheet, cell, message, hint); ``entities`` the
    per-entity progress; ``heading``: period, status, lock, seal (texts: the seal of the close,
    see :mod:`closebatch.seal`)."""
    book = Book(path)
    try:
        _summary(book, cl, entities, heading, len(blockers))
        _tasks(book, cl.tasks)
        book.write(Sheet("Steps", cl.steps, [Column("step"), Column("title", width=34), Column("outcome"),
                                             Column("lines", "int"), Column("errors", "int"),
                                             Column("warnings", "int"), Column("tasks"),
                                             Column("figures", width=80)]))
        _figures(book, cl.figures)
        book.write(Sheet("Blockers", blockers, [Column("kind"), Column("entity"), Column("file"), Column("sheet"),
                                                Column("cell"), Column("message", width=80),
                                                Column("hint", width=60)]))
    finally:
        book.close()
    return Path(path)


def _summary(book: Book, cl, entities: pd.DataFrame, heading: dict, n_blockers: int) -> None:
    ws = book.wb.add_worksheet("Summary")
    ws.set_column(0, 3, 18)
    ws.set_column(4, 12, 12)
    ws.write_string(0, 0, f"Close status of {heading.get('period', cl.period)}", book.fmt(bold=True, font_size=16))
    ws.write_string(1, 0, f"Period end {cl.period_end:%Y-%m-%d}; as of {cl.today:%Y-%m-%d}; the period is "
                          f"{heading.get('status', '')}.", book.fmt(italic=True))
    for j, (key, label, fill, font) in enumerate(TILES):
        ws.write_string(3, j, label, book.fmt(bold=True, align="center", bg_color=fill, font_color=font, border=1,
                                              font_size=12))
        ws.write_number(4, j, int(cl.summary.get(key, 0)),
                        book.fmt(bold=True, font_size=28, align="center", valign="vcenter", bg_color=fill,
                                 font_color=font, border=1, num_format="0"))
    ws.set_row(4, 46)
    ws.write_string(5, 0, f"of {cl.summary.get('total', 0)} tasks", book.fmt(italic=True))
    ws.write_string(6, 0, "Lock", book.fmt(bold=True))
    ws.write_string(6, 1, heading.get("lock", ""))
    ws.write_string(7, 0, "Blockers", book.fmt(bold=True))
    ws.write_number(7, 1, n_blockers, book.fmt(bold=True, font_color=RED[1] if n_blockers else GREEN[1]))
    ws.write_string(8, 0, "Ledger seal", book.fmt(bold=True))
    ws.write_string(8, 1, heading.get("seal", "") or "")
    row = 10
    for title, df, key in (("Progress by area", cl.by_area, "area"), ("Progress by owner", cl.by_owner, "owner"),
                           ("Progress by entity", entities, "entity")):
        row = _table(book, ws, row, title, df, key) + 1


def _table(book: Book, ws, row: int, title: str, df: pd.DataFrame, key: str) -> int:
    ws.write_string(row, 0, title, book.fmt(bold=True, font_size=13))
    row += 1
    cols = list(df.columns)
    for j, c in enumerate(cols):
        ws.write_string(row, j, c, book.header)
    pct = book.fmt(num_format="0%")
    first = row + 1
    for i, rec in enumerate(df.itertuples(index=False)):
        r = first + i
        for j, c in enumerate(cols):
            _cell(book, ws, r, j, c, rec[j], pct)
    if len(df) and "progress" in cols:
        j = cols.index("progress")
        ws.conditional_format(first, j, first + len(df) - 1, j,
                              {"type": "data_bar", "bar_color": "#63BE7B", "min_type": "num", "min_value": 0,
                               "max_type": "num", "max_value": 1})
    if not len(df):
        ws.write_string(first, 0, "(none)", book.fmt(italic=True))
        return first + 1
    return first + len(df)


def _cell(book: Book, ws, r, j, col, v, pct) -> None:
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return
    if col == "progress":
        ws.write_number(r, j, float(v), pct)
    elif isinstance(v, Decimal):
        ws.write_number(r, j, float(v), book.money_fmt(_digits(v)))
    elif isinstance(v, (bool,)):
        ws.write_string(r, j, "Y" if v else "N")
    elif isinstance(v, (int, float)) and not isinstance(v, bool):
        ws.write_number(r, j, float(v), book.fmt(num_format="#,##0"))
    elif hasattr(v, "item") and not isinstance(v, str):  # numpy scalars
        _cell(book, ws, r, j, col, v.item(), pct)
    else:
        ws.write_string(r, j, str(v))


def _tasks(book: Book, tasks: pd.DataFrame) -> None:
    ws = book.write(Sheet("Tasks", tasks, TASK_SHEET_COLUMNS))
    n = len(tasks)
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


def _figures(book: Book, figures: pd.DataFrame) -> None:
    ws = book.wb.add_worksheet("Figures")
    cols = ["step", "figure", "entity", "value", "unit"]
    for j, c in enumerate(cols):
        ws.write_string(0, j, c, book.header)
    for i, rec in enumerate(figures.itertuples(index=False), start=1):
        ws.write_string(i, 0, rec.step)
        ws.write_string(i, 1, rec.figure)
        if rec.entity:
            ws.write_string(i, 2, rec.entity)
        v = rec.value
        if isinstance(v, Decimal):
            ws.write_number(i, 3, float(v), book.money_fmt(_digits(v)))
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            ws.write_number(i, 3, float(v), book.fmt(num_format="#,##0"))
        else:
            ws.write_string(i, 3, str(v))
        if rec.unit:
            ws.write_string(i, 4, rec.unit)
    ws.set_column(0, 2, 18)
    ws.set_column(3, 3, 16)
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, max(len(figures), 1), len(cols) - 1)


def _digits(v: Decimal) -> int:
    """Decimal places of a money figure (a Decimal keeps its currency's digits)."""
    exp = v.as_tuple().exponent
    return max(0, -exp) if isinstance(exp, int) else 2


