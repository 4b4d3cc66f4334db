"""The seal of the ledger (spec section 4, "The ledger is sealed"): tables in a canonical
form, their SHA-256 digests, and the hash chain over the closed periods.

Everything here is pure: values in, digests and findings out.  :mod:`closebatch.io.store`
reads the files and hands their cell values to these functions.

**Canonical form of a table.**  A table is sealed by its *values*, not by the bytes of its
file, so a workbook opened and saved again unchanged (Excel, LibreOffice) still verifies.
The canonical form of a table is:

* its column names, in stored order (columns with an empty header are not part of it);
* its rows, in stored order; a row whose every cell is blank is not part of it (a reader
  skips it too);
* each cell as text, the way the ledger reads the value back: a blank (empty cell, empty
  text, NaN) is ``""``; text is itself; a whole number is its digits (``1200``, ``-5``; a
  float with no fraction counts as a whole number: ``1200.0`` is ``1200``); another number
  is its value to 15 significant digits, the precision a workbook keeps (``0.1``,
  ``1234.56``: an amount written as a decimal is its exact decimal value); a date is ISO
  ``YYYY-MM-DD`` and a date with a time of day ``YYYY-MM-DD HH:MM:SS``; a Y/N flag is the
  text ``Y``/``N`` it is written as, a true boolean ``TRUE``/``FALSE``.

In a workbook every value is a cell; in a Parquet file (large tables) amounts are stored as
integers of minor units, so their canonical text is those digits (and its rows are numbered
from 1 in messages, a workbook's as Excel numbers them).

**Digest of a table** (:func:`table_seal`): SHA-256 over ``closebatch-table-1``, the number of
columns and each column name, the number of rows, then column after column the UTF-8 byte
length of each cell (4 bytes, little-endian) followed by the cells' UTF-8 bytes, one after
the other.  Each text is preceded by its byte length (8 bytes, little-endian), so no value
can be confused with a separator.  Beside it, to *name* what changed when a digest no longer
matches: a short digest per column and per block of rows (a row per block for tables of up
to 4,000 rows, else 4,000 blocks of equal size).

**The chain** (:func:`close_seal`, :func:`period_seal`, :func:`head`).  A close of a period
is sealed by its *close seal*: a digest of the period's code, start and end, all the seal
keeps of every table it persisted (name, file, sheet, rows, columns, digest, the short
digests, the SHA-256 of the file as written), and the close seal of the previous period's
close it started from.  The close seal is what ``manifest.json`` and
``close_status.xlsx`` print: it is the same for the same inputs and the same earlier closes,
and it commits, through the seal it started from, to every earlier close.  Each period the
ledger knows of then gets its *seal*: a digest of its code, dates, status, the digest of its
History rows, its close seal and the seal of the period before it.  The *head* seals the
whole record, ``ledger/periods.xlsx`` sheet by sheet (each sheet's canonical digest).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import math
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .cells import column_letter
from .core import ERROR, Finding

FORMAT = "closebatch ledger 2"
MAX_BLOCKS = 4000
SHORT = 8  # hex digits of a column's or a block's digest


# --------------------------------------------------------------------------- canonical form

def cell_text(v) -> str:
    """The canonical text of one cell value (see the module's docstring)."""
    if v is None:
        return ""
    t = type(v)
    if t is str:
        return v
    if t is bool or isinstance(v, np.bool_):
        return "TRUE" if v else "FALSE"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        v = float(v)
        if math.isnan(v):
            return ""
        if v.is_integer() and abs(v) < 2.0 ** 53:
            return str(int(v))
        return format(v, ".15g")
    if isinstance(v, dt.datetime):
        if (v.hour, v.minute, v.second, v.microsecond) == (0, 0, 0, 0):
            return v.date().isoformat()
        return v.isoformat(sep=" ")
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, np.datetime64):
        return cell_text(None if np.isnat(v) else v.astype("datetime64[us]").item())
    return str(v)


@dataclass(frozen=True)
class Column:
    """One column in canonical form: cell byte lengths and the cells' bytes, back to back."""

    lengths: np.ndarray  # uint32, one per row
    offsets: np.ndarray  # int64, rows + 1, from 0
    data: object  # bytes-like: the cells' UTF-8 bytes, back to back


@dataclass(frozen=True)
class Canonical:
    """A table in canonical form, with where each of its rows is (for messages)."""

    names: tuple
    columns: tuple  # Column
    where: object = ()  # per row: (sheet, row number) as a person finds it; or a callable of the row index

    @property
    def rows(self) -> int:
        if self.columns:
            return len(self.columns[0].lengths)
        return 0 if callable(self.where) else len(self.where)

    def place(self, i: int) -> tuple:
        return self.where(i) if callable(self.where) else self.where[i]


def _column(texts) -> Column:
    """A canonical column from its cells' texts (a list of str, or an Arrow string array
    without nulls)."""
    arr = texts if isinstance(texts, (pa.Array, pa.ChunkedArray)) else pa.array(texts, type=pa.large_string())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    if arr.null_count:
        arr = arr.fill_null("")
    n = len(arr)
    if not n:
        return Column(np.zeros(0, dtype="<u4"), np.zeros(1, dtype="<i8"), b"")
    bufs = arr.buffers()
    width = "<i8" if pa.types.is_large_string(arr.type) else "<i4"
    offs = np.frombuffer(bufs[1], dtype=width)[arr.offset:arr.offset + n + 1].astype("<i8")
    data = memoryview(bufs[2])[int(offs[0]):int(offs[-1])] if bufs[2] is not None else b""
    offs = offs - offs[0]
    return Column(np.diff(offs).astype("<u4"), offs, data)


def from_cells(names, rows, where=None) -> Canonical:
    """The canonical form of a table given as cell values: ``names`` the header, ``rows``
    lists of values (as a workbook reader returns them); rows whose every cell is blank are
    left out.  ``where`` gives each row's place (sheet, row number)."""
    names = [str(n) if n is not None else "" for n in names]
    keep_cols = [j for j, n in enumerate(names) if n != ""]
    texts = [[cell_text(r[j]) if j < len(r) else "" for j in keep_cols] for r in rows]
    keep = [i for i, t in enumerate(texts) if any(t)]
    texts = [texts[i] for i in keep]
    places = tuple((where[i] for i in keep)) if where is not None else tuple(("", i + 2) for i in keep)
    cols = tuple(_column([t[k] for t in texts]) for k in range(len(keep_cols)))
    return Canonical(tuple(names[j] for j in keep_cols), cols, places)


def from_arrow(table: pa.Table, sheet: str = "") -> Canonical:
    """The canonical form of an Arrow table (a Parquet file of the ledger): text as is,
    integers as their digits, dates ISO, other values cell by cell (:func:`cell_text`)."""
    return Canonical(tuple(table.column_names), tuple(arrow_columns(table)),
                     lambda i: (sheet, i + 1 if not sheet else i + 2))


def arrow_columns(table: pa.Table):
    """The canonical columns of an Arrow table (see :func:`from_arrow`), made one at a time."""
    for name in table.column_names:
        c = table.column(name)
        c = c.combine_chunks() if c.num_chunks != 1 else c.chunk(0)
        typ = c.type
        if pa.types.is_string(typ) or pa.types.is_large_string(typ):
            txt = c
        elif pa.types.is_integer(typ) or pa.types.is_date32(typ):
            txt = pc.cast(c, pa.string())
        elif pa.types.is_boolean(typ):
            txt = pc.if_else(c, "TRUE", "FALSE")
        elif pa.types.is_null(typ):
            txt = pa.array([""] * len(c), type=pa.large_string())
        else:
            txt = pa.array([cell_text(v) for v in c.to_pylist()], type=pa.large_string())
        yield _column(txt)


def from_frame(df) -> Canonical:
    """The canonical form of a frame of text (the sheets of ``ledger/periods.xlsx``, all
    written as text)."""
    names = [str(c) for c in df.columns]
    rows = df.astype(object).where(df.notna(), None).values.tolist() if len(df.columns) else []
    return from_cells(names, rows)


# --------------------------------------------------------------------------- digests

def _u64(n: int) -> bytes:
    return int(n).to_bytes(8, "little")


def _text(h, s: str) -> None:
    b = str(s).encode("utf-8", "surrogatepass")
    h.update(_u64(len(b)))
    h.update(b)


def digest_fields(tag: str, *fields) -> str:
    """SHA-256 (hex) of ``tag`` and each field as text, each preceded by its byte length."""
    h = hashlib.sha256()
    _text(h, tag)
    h.update(_u64(len(fields)))
    for f in fields:
        _text(h, "" if f is None else f)
    return h.hexdigest()


def table_digest(canon: Canonical) -> str:
    """The SHA-256 of a table's canonical form (see the module's docstring)."""
    return _digests(canon.names, canon.rows, canon.columns, parts=False)[0]


def column_digests(canon: Canonical) -> list[str]:
    return _digests(canon.names, canon.rows, canon.columns)[1]


def block_size(rows: int) -> int:
    return max(1, -(-rows // MAX_BLOCKS))


def block_digests(canon: Canonical) -> list[str]:
    """A short digest of each block of rows (:func:`block_size` rows each): SHA-256 over, column
    after column, the block's cell lengths and bytes."""
    return _digests(canon.names, canon.rows, canon.columns)[2]


def _digests(names, rows: int, columns, parts: bool = True) -> tuple[str, list[str], list[str]]:
    """``(table digest, column digests, block digests)`` of a table of ``rows`` rows whose
    canonical ``columns`` (an iterable, consumed one column at a time, so that a table of a
    million rows never has all of its text at once) are headed ``names``; without ``parts``,
    the table digest only (the others empty)."""
    table = hashlib.sha256()
    _text(table, "closebatch-table-1")
    table.update(_u64(len(names)))
    for n in names:
        _text(table, n)
    table.update(_u64(rows))
    size = block_size(rows)
    starts = list(range(0, rows, size)) + [rows]
    blocks = [hashlib.sha256() for _ in starts[1:]] if parts else []
    cols = []
    for col in columns:
        lengths, data = col.lengths.tobytes(), col.data
        table.update(lengths)
        table.update(data)
        if not parts:
            continue
        h = hashlib.sha256(lengths)
        h.update(data)
        cols.append(h.hexdigest()[:SHORT])
        lv, dv = memoryview(lengths), memoryview(data)
        offs = col.offsets[starts].tolist()  # each column's block boundaries once, as Python ints
        for b, a, z, oa, oz in zip(blocks, starts[:-1], starts[1:], offs[:-1], offs[1:]):
            b.update(lv[4 * a:4 * z])
            b.update(dv[oa:oz])
    return table.hexdigest(), cols, [b.hexdigest()[:SHORT] for b in blocks]


@dataclass(frozen=True)
class TableSeal:
    """What the seal keeps of one persisted table."""

    period: str  # "" for the entity closes of an Open period (closed_entities.xlsx)
    table: str
    file: str  # file name inside ledger/
    sheet: str  # sheet of a workbook ("" for a Parquet file)
    rows: int
    columns: str  # the column names, comma-separated
    digest: str
    column_digests: str = ""  # SHORT hex digits per column, back to back
    blocks: str = ""  # SHORT hex digits per block of rows, back to back
    file_sha256: str = ""  # the file's bytes when sealed: if they are unchanged, so are the values

    def place(self) -> str:
        return f"ledger/{self.file}" + (f", sheet {self.sheet}" if self.sheet else "")


TABLE_COLUMNS = ["period", "table", "file", "sheet", "rows", "columns", "digest", "column_digests", "blocks",
                 "file_sha256"]


def table_seal(canon: Canonical, period: str, table: str, file: str, sheet: str, file_sha256: str = "") -> TableSeal:
    return columns_seal(canon.names, canon.rows, canon.columns, period, table, file, sheet, file_sha256)


def columns_seal(names, rows: int, columns, period: str, table: str, file: str, sheet: str,
                 file_sha256: str = "") -> TableSeal:
    """:func:`table_seal` of a table given as its canonical columns, made and consumed one at a
    time (:func:`arrow_columns`)."""
    digest, cols, blocks = _digests(names, rows, columns)
    return TableSeal(period, table, file, sheet, rows, ", ".join(names), digest, "".join(cols), "".join(blocks),
                     file_sha256)


def close_seal(period: str, start: str, end: str, started_from: str, tables) -> str:
    """The seal of one close of a period: its code and dates, every field of each table it
    persisted (:class:`TableSeal`) and the close seal of the previous period's close it
    started from ("" when it started from the opening balances)."""
    fields = [period, start, end, started_from]
    for t in sorted(tables, key=lambda t: t.table):
        fields += [t.table, t.file, t.sheet, str(t.rows), t.columns, t.digest, t.column_digests, t.blocks,
                   t.file_sha256]
    return digest_fields("closebatch-close-1", *fields)


SEAL_COLUMNS = ["period", "start", "end", "status", "closed_by", "history_rows", "history_digest", "started_from",
                "close_seal", "seal"]


def period_seal(rec: dict, previous: str) -> str:
    """The seal of a period's record (a row of the ``Seals`` sheet) chained to the seal of the
    period before it."""
    return digest_fields("closebatch-period-1", *[rec.get(c, "") for c in SEAL_COLUMNS[:-1]], previous)


def head(sheets: dict) -> str:
    """The head of the chain: a digest of every sheet of ``ledger/periods.xlsx`` (name ->
    canonical form), the ``Chain`` sheet without its ``head`` row."""
    return digest_fields("closebatch-head-1", *[f"{name}:{table_digest(sheets[name])}" for name in sorted(sheets)])


# --------------------------------------------------------------------------- naming a change

def _short(s: str) -> list[str]:
    return [s[i:i + SHORT] for i in range(0, len(s), SHORT)]


def where_changed(sealed: TableSeal, now: Canonical) -> tuple[str, str]:
    """In words, what of a table differs from what was sealed (its columns, its number of
    rows, the rows and columns whose digests no longer match), and the cell when one cell
    alone is named."""
    names = [n.strip() for n in sealed.columns.split(",")] if sealed.columns else []
    parts, cell = [], ""
    if list(now.names) != names:
        gone = [n for n in names if n not in now.names]
        new = [n for n in now.names if n not in names]
        bits = ([f"column(s) {', '.join(gone)} removed"] if gone else []) + \
               ([f"column(s) {', '.join(new)} added"] if new else [])
        parts.append("; ".join(bits) or "its columns were reordered")
    if now.rows != sealed.rows:
        parts.append(f"{sealed.rows} row(s) were sealed, it has {now.rows}")
    changed_cols = [n for n, a, b in zip(names, _short(sealed.column_digests), column_digests(now)) if a != b] \
        if list(now.names) == names else []
    size = block_size(sealed.rows)
    old = _short(sealed.blocks)
    new_blocks = block_digests(now) if block_size(now.rows) == size else []
    bad = [k for k in range(max(len(old), len(new_blocks)))
           if k >= len(old) or k >= len(new_blocks) or old[k] != new_blocks[k]]
    if bad and new_blocks:
        places = []
        for k in bad[:3]:
            r0 = k * size
            if r0 >= now.rows:
                places.append(f"rows after {_place(now, now.rows - 1)}" if now.rows else "its rows")
                continue
            r1 = min(now.rows, r0 + size) - 1
            places.append(_place(now, r0) if r0 == r1 else f"{_place(now, r0)} to {_place(now, r1)}")
        more = f" and {len(bad) - 3} more place(s)" if len(bad) > 3 else ""
        first = "the first change is at " if now.rows != sealed.rows else ""
        cols = f" (column {', '.join(changed_cols)})" if changed_cols and len(changed_cols) <= 3 else ""
        parts.append(f"{first}{'; '.join(places)}{more} changed{cols}")
        if len(bad) == 1 and size == 1 and len(changed_cols) == 1 and now.rows == sealed.rows:
            cell = f"{column_letter(list(now.names).index(changed_cols[0]))}{now.place(bad[0] * size)[1]}"
    elif changed_cols:
        parts.append(f"column {', '.join(changed_cols)} changed")
    return "; ".join(parts) or "its values changed", cell


def _place(canon: Canonical, i: int) -> str:
    sheet, row = canon.place(i)
    return f"row {row}" + (f" of sheet {sheet}" if sheet else "")


@dataclass(frozen=True)
class Break:
    """A break of the chain: the period it concerns ("" when it concerns the whole record)
    and the finding that names it."""

    period: str
    finding: Finding


def broken(period: str, message: str, file: str = "", sheet: str = "", cell: str = "", hint: str = "") -> Break:
    return Break(period, Finding(ERROR, message, hint or RESTORE_HINT, file=file, sheet=sheet, cell=cell,
                                 code="ledger-seal"))


RESTORE_HINT = ("Restore ledger/ from a backup taken after the last close; or, for a period that is not Permanently "
                "closed, reopen it and close it again from the inputs (closebatch period BOOKS PERIOD open), which "
                "seals it anew.")
PERIODS_FILE = "periods.xlsx"


@dataclass
class Record:
    """``ledger/periods.xlsx`` as read: each sheet as text and in canonical form."""

    sheets: dict  # name -> DataFrame of text
    canon: dict  # name -> Canonical
    rows: dict = field(default_factory=dict)  # name -> [Excel row of each frame row]

    def frame(self, name: str, columns) -> "object":
        import pandas as pd

        df = self.sheets.get(name)
        if df is None:
            return pd.DataFrame(columns=list(columns), dtype=object)
        for c in columns:
            if c not in df:
                df = df.assign(**{c: ""})
        return df

    @property
    def chain(self) -> dict:
        df = self.sheets.get("Chain")
        if df is None or "key" not in df or "value" not in df:
            return {}
        return dict(zip(df["key"].astype(str), df["value"].astype(str)))

    def head_sheets(self) -> dict:
        """The canonical sheets the head seals: every sheet, ``Chain`` without its ``head`` row."""
        out = dict(self.canon)
        df = self.sheets.get("Chain")
        if df is not None and "key" in df:
            out["Chain"] = from_frame(df[df["key"].astype(str) != "head"])
        return out


def history_canon(history, period: str) -> Canonical:
    """The History rows of one period in canonical form."""
    if "period" not in history:
        return from_frame(history.iloc[0:0])
    return from_frame(history[history["period"].astype(str) == period])


def entity_tables_digest(tables) -> str:
    """A digest of the tables of the entity closes of an Open period (their rows of ``Tables``)."""
    fields = []
    for t in sorted(tables, key=lambda t: t.table):
        fields += [t.table, t.file, t.sheet, str(t.rows), t.columns, t.digest, t.column_digests, t.blocks,
                   t.file_sha256]
    return digest_fields("closebatch-entities-1", *fields)


def tables_of(df) -> list:
    """The ``Tables`` sheet as :class:`TableSeal` values."""
    out = []
    for r in df.to_dict("records"):
        try:
            rows = int(str(r.get("rows", "")).strip() or 0)
        except ValueError:
            rows = -1
        out.append(TableSeal(str(r.get("period", "")), str(r.get("table", "")), str(r.get("file", "")),
                             str(r.get("sheet", "")), rows, str(r.get("columns", "")), str(r.get("digest", "")),
                             str(r.get("column_digests", "")), str(r.get("blocks", "")),
                             str(r.get("file_sha256", ""))))
    return out


def close_seal_of(rec: dict, tables) -> str:
    """The close seal of a ``Seals`` row from its fields and its rows of ``Tables``, or "" for
    a period closebatch did not close."""
    mine = [t for t in tables if t.period == rec.get("period")]
    if not mine and not rec.get("close_seal"):
        return ""
    return close_seal(rec.get("period", ""), rec.get("start", ""), rec.get("end", ""), rec.get("started_from", ""),
                      mine)


def check(record: Record, now: dict, stray=()) -> list:
    """Check the chain: ``record`` is ``ledger/periods.xlsx`` as read; ``now`` maps each sealed
    table's ``(period, table)`` to its canonical form as the files hold it now, to
    :data:`UNCHANGED` when its file is byte for byte the one sealed, or to the text of why it
    cannot be read; ``stray`` names data files in ``ledger/`` no seal accounts for.
    Returns the breaks (:class:`Break`), the first of each kind per period."""
    out: list = []
    seals = record.frame("Seals", SEAL_COLUMNS).astype(str)
    tables = tables_of(record.frame("Tables", TABLE_COLUMNS).astype(str))
    status = record.frame("Status", ["period", "status"]).astype(str)
    history = record.frame("History", ["period"]).astype(str)
    chain = record.chain
    rows = record.rows
    by_digest: dict = {}
    unreadable: set = set()  # files already named as missing or unreadable
    for t in tables:
        by_digest.setdefault(t.digest, []).append(t)
    known = set(seals["period"])
    previous = ""
    status_of = dict(zip(status["period"], status["status"]))
    status_row = {p: i for i, p in enumerate(status["period"])}
    for i, rec in enumerate(seals.to_dict("records")):
        p = rec["period"]
        excel = rows.get("Seals", [])[i] if i < len(rows.get("Seals", [])) else i + 2
        if period_seal(rec, previous) != rec["seal"]:
            out.append(broken(p, f"The seal record of period {p} changed (ledger/periods.xlsx, sheet Seals, row "
                                 f"{excel}): it no longer matches its seal.", "ledger/periods.xlsx", "Seals",
                              f"row {excel}"))
        previous = rec["seal"]
        now_status = status_of.get(p)
        if now_status != rec["status"]:
            k = status_row.get(p)
            cell = f"B{rows.get('Status', [])[k]}" if k is not None and k < len(rows.get("Status", [])) else ""
            out.append(broken(p, f"The status of period {p} changed: it was sealed as {rec['status']}, "
                                 f"ledger/periods.xlsx now says {now_status or 'nothing'}.",
                              "ledger/periods.xlsx", "Status", cell))
        h = history_canon(history, p)
        if str(h.rows) != rec["history_rows"] or table_digest(h) != rec["history_digest"]:
            what = (f"{rec['history_rows']} row(s) were sealed, it has {h.rows}" if str(h.rows) != rec["history_rows"]
                    else "a row changed")
            out.append(broken(p, f"The History of period {p} changed (ledger/periods.xlsx, sheet History): {what}.",
                              "ledger/periods.xlsx", "History"))
        if close_seal_of(rec, tables) != rec["close_seal"]:
            out.append(broken(p, f"The record of the tables of period {p} changed (ledger/periods.xlsx, sheets "
                                 "Seals and Tables): it no longer matches the period's close seal.",
                              "ledger/periods.xlsx", "Tables"))
        for t in [t for t in tables if t.period == p]:
            b = _table_break(t, now.get((p, t.table)), by_digest, unreadable)
            if b is not None:
                out.append(b)
    ents = [t for t in tables if t.period == ""]
    if entity_tables_digest(ents) != chain.get("entities", entity_tables_digest([])):
        out.append(broken("", "The record of the entity closes changed (ledger/periods.xlsx, sheet Tables).",
                          "ledger/periods.xlsx", "Tables"))
    for t in ents:
        b = _table_break(t, now.get(("", t.table)), by_digest, unreadable)
        if b is not None:
            out.append(b)
    for p in sorted(set(status["period"]) - known):
        out.append(broken("", f"ledger/periods.xlsx gives period {p} a status ({status_of[p]}) but no seal.",
                          "ledger/periods.xlsx", "Status"))
    if "period" in history:
        for p in sorted(set(history["period"]) - known):
            out.append(broken("", f"ledger/periods.xlsx has History rows of period {p} but no seal.",
                              "ledger/periods.xlsx", "History"))
    for f in stray:
        out.append(broken("", f"ledger/{f} holds the data of a close, but no seal in ledger/periods.xlsx "
                              "accounts for it (was periods.xlsx replaced by an older copy, or the file copied in?).",
                          f"ledger/{f}", hint="If the file does not belong to this books folder, move it out of "
                                             "ledger/; if periods.xlsx was replaced by an older copy, restore the "
                                             "newer one from a backup."))
    if chain.get("format") != FORMAT or str(len(seals)) != chain.get("periods", ""):
        out.append(broken("", "The Chain sheet of ledger/periods.xlsx changed (its format or number of sealed "
                              "periods).", "ledger/periods.xlsx", "Chain"))
    if head(record.head_sheets()) != chain.get("head") and not [b for b in out if b.finding.file ==
                                                                 "ledger/periods.xlsx"]:
        out.append(broken("", "ledger/periods.xlsx changed: it no longer matches the head of its seal.",
                          "ledger/periods.xlsx"))
    return out


UNCHANGED = "<unchanged>"  # what :func:`check` is told of a table whose file is byte for byte the one sealed


def _table_break(t: TableSeal, now, by_digest: dict, unreadable: set):
    who = f"period {t.period}" if t.period else "the entity closes"
    if now is UNCHANGED:
        return None
    if isinstance(now, str) and now.startswith("has no sheet"):
        return broken(t.period, f"The {t.table} table of {who} is missing: ledger/{t.file} {now}.",
                      f"ledger/{t.file}", t.sheet)
    if now is None or isinstance(now, str):
        if t.file in unreadable:
            return None
        unreadable.add(t.file)
        why = now or "it is missing"
        return broken(t.period, f"ledger/{t.file} {why}: the tables of {who} it holds cannot be checked against "
                                "their seal.", f"ledger/{t.file}")
    if table_digest(now) == t.digest:
        return None
    d = table_digest(now)
    twins = [o for o in by_digest.get(d, []) if (o.period, o.table) != (t.period, t.table)]
    if twins:
        o = twins[0]
        return broken(t.period, f"{t.place()} holds the {o.table} table sealed for "
                                f"{'period ' + o.period if o.period else 'the entity closes'}, not the {t.table} "
                                f"table of {who} (files swapped or copied?).", f"ledger/{t.file}", t.sheet)
    what, cell = where_changed(t, now)
    return broken(t.period, f"The {t.table} table of {who} changed since it was sealed ({t.place()}): {what}.",
                  f"ledger/{t.file}", t.sheet, cell)


# --------------------------------------------------------------------------- building the record

def build(rows: list, history, tables: list, extra: dict | None = None) -> dict:
    """The sheets of ``ledger/periods.xlsx`` (name -> frame of text) for ``rows`` (the
    ``Seals`` rows without their History digests and seals: period, start, end, status,
    closed_by, started_from, close_seal), the History and every persisted table: the History
    digest and the seal of each row, the ``Status`` and ``Tables`` sheets, and the ``Chain``
    sheet with the head.  ``extra``: more ``Chain`` rows (e.g. when an earlier version's
    ledger was sealed)."""
    import pandas as pd

    hist = history.astype(str) if len(history) else history.astype(object)
    out_rows, previous = [], ""
    for r in rows:
        h = history_canon(hist, r["period"])
        rec = {c: str(r.get(c, "")) for c in SEAL_COLUMNS[:-1]}
        rec["history_rows"], rec["history_digest"] = str(h.rows), table_digest(h)
        rec["seal"] = period_seal(rec, previous)
        previous = rec["seal"]
        out_rows.append(rec)
    seals = pd.DataFrame(out_rows, columns=SEAL_COLUMNS, dtype=object)
    status = pd.DataFrame({"period": [r["period"] for r in out_rows], "status": [r["status"] for r in out_rows]},
                          dtype=object)
    order = {r["period"]: i for i, r in enumerate(out_rows)}
    ordered = sorted(tables, key=lambda t: (order.get(t.period, -1), t.file, t.table))
    tab = pd.DataFrame([[t.period, t.table, t.file, t.sheet, str(t.rows), t.columns, t.digest, t.column_digests,
                         t.blocks, t.file_sha256] for t in ordered], columns=TABLE_COLUMNS, dtype=object)
    chain = [("format", FORMAT), ("periods", str(len(out_rows))),
             ("entities", entity_tables_digest([t for t in tables if t.period == ""]))]
    chain += [(k, str(v)) for k, v in (extra or {}).items()]
    sheets = {"Status": status, "History": hist, "Seals": seals, "Tables": tab,
              "Chain": pd.DataFrame(chain, columns=["key", "value"], dtype=object)}
    h = head({name: from_frame(df) for name, df in sheets.items()})
    sheets["Chain"] = pd.DataFrame(chain + [("head", h)], columns=["key", "value"], dtype=object)
    return sheets
