"""Cell references: the one place that turns a column and an Excel row into ``B17``.

Every finding names the cell it is about.  Input rows keep their file, sheet and Excel row
(``_file``, ``_sheet``, ``_row``, or a ``source`` of ``file!sheet!row``), and the reader records
each sheet's column letters by normalised header; these helpers put the two together.
"""
from __future__ import annotations


def column_letter(j: int) -> str:
    """The letter(s) of the ``j``-th column: 0 → A, 25 → Z, 26 → AA."""
    out = ""
    j += 1
    while j:
        j, r = divmod(j - 1, 26)
        out = chr(65 + r) + out
    return out


def cell_ref(letters: dict, file: str, sheet: str, row, column: str) -> str:
    """``B17`` for ``column`` of Excel ``row`` of ``file!sheet`` (``letters``: (file, sheet) →
    {column: letter}); ``row 17`` when the sheet has no such column; "" without a row."""
    if row in (None, "", 0):
        return ""
    letter = letters.get((file, sheet), {}).get(column, "")
    return f"{letter}{int(row)}" if letter else f"row {int(row)}"


def parse_source(source) -> tuple[str, str, int] | None:
    """``(file, sheet, row)`` of a ``file!sheet!row`` source (file and sheet names may hold
    ``!``: the last two parts are sheet and row), or None for a generated line."""
    parts = str(source or "").rsplit("!", 2)
    if len(parts) != 3 or not parts[2].isdigit():
        return None
    return parts[0], parts[1], int(parts[2])
