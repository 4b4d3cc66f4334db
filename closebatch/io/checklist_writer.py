"""``Checklist PERIOD.xlsx``: a period's Checklist sheet, ready to fill in (``closebatch checklist``).

One row per task a person signs in the period: every person's task (no ``step``) and every
automated task with ``review`` = Y (the close does it; a reviewer signs it off).  Each row
starts Not started with empty sign-offs, whatever an earlier period's checklist says: a new
period starts afresh.  Beside the contract's columns (task, period, status, prepared_by,
prepared_on, reviewed_by, reviewed_on, note) stand the task's name, owner, due date
and whether it needs a review, so whoever fills it in need not look them up; the reader keeps
such columns for lineage and otherwise ignores them.  The status cells offer the three
statuses, the date cells take dates, the name cells offer the users of the Users sheet, and
every header carries a note saying what goes below it.  The file is printable as a sign-off
sheet.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..checklist import _normalise, working_day
from .writer import Book, Column, Sheet

STATUSES = ["Not started", "In progress", "Done"]
COLUMNS = [Column("task", "code"), Column("name", width=40), Column("owner", "code"), Column("due_date", "date"), Column("review", "code", width=8), Column("period", "code"),
           Column("status", "code", width=13), Column("prepared_by", "code", width=14),
           Column("prepared_on", "date", width=12), Column("reviewed_by", "code", width=14),
           Column("reviewed_on", "date", width=12), Column("note", width=40)]
NOTES = {
    "task": "The task's id in the Tasks sheet.",
    "name": "What the task is (from Tasks; for reading only).",
    "review": "Y: the task needs a reviewer's sign-off, by someone other than the preparer.",
    "status": "Not started, In progress or Done. An automated task is done by the close: sign its review only.",
    "prepared_by": "Who did the task (a user of the Users sheet).",
    "prepared_on": "The day it was done (a date).",
    "reviewed_by": "Who reviewed it: someone other than the preparer.",
    "reviewed_on": "The day it was reviewed (a date).",
    "note": "Anything the reviewer should know.",
}


def checklist_rows(book, period: str, period_end) -> pd.DataFrame:
    """The rows of ``period``'s checklist: the tasks a person signs, Not started."""
    t = _normalise(book.tasks)
    keep = (t["step"] == "") | t["review"]
    t = t[keep.to_numpy()].reset_index(drop=True)
    return pd.DataFrame({
        "task": t["task"], "name": t["name"], "owner": t["owner"],
        "due_date": pd.to_datetime(pd.Series([working_day(period_end, d) for d in t["due"]], dtype=object)),
        "review": ["Y" if r else "N" for r in t["review"]], "period": period, "status": "Not started",
        "prepared_by": "", "prepared_on": pd.NaT, "reviewed_by": "", "reviewed_on": pd.NaT,
        "note": ["automated (step " + s + "): the close does it; sign the review" if s else "" for s in t["step"]]},
        columns=[c.name for c in COLUMNS])


def write_checklist(path: Path, rows: pd.DataFrame, period: str, users=()) -> Path:
    """Write the checklist workbook (a new file: the caller checks that none exists)."""
    book = Book(path, title=f"Checklist {period}")
    try:
        ws = book.write(Sheet("Checklist", rows, COLUMNS, words=True, caption=f"Close checklist {period}: sign-offs"))
        n = max(len(rows), 1)
        names = [c.name for c in COLUMNS]
        j = names.index("status")
        ws.data_validation(1, j, n, j, {"validate": "list", "source": STATUSES,
                                        "error_message": "Not started, In progress or Done."})
        date = book.fmt(num_format="yyyy-mm-dd")
        for c in ("prepared_on", "reviewed_on"):
            k = names.index(c)
            ws.set_column(k, k, 12, date)
            ws.data_validation(1, k, n, k, {"validate": "date", "criteria": ">", "value": pd.Timestamp("2000-01-01"),
                                            "error_message": "A date, e.g. 2026-02-03."})
        who = sorted({str(u) for u in users if str(u).strip()})
        if who and sum(len(u) + 1 for u in who) < 250:
            for c in ("prepared_by", "reviewed_by"):
                k = names.index(c)
                ws.data_validation(1, k, n, k, {"validate": "list", "source": who, "error_type": "warning",
                                                "error_message": "Not a user of the Users sheet."})
        for c, text in NOTES.items():
            ws.write_comment(0, names.index(c), text, {"x_scale": 1.6})
    finally:
        book.close()
    return Path(path)
