"""The persisted ledger: ``BOOKS/ledger/``, files a person can open, sealed (spec section 4).

* ``ledger/periods.xlsx``: ``Status`` (each sealed period's status), ``History`` (every
  change: period, from, to, who, when, why), ``Seals`` (one row per period the ledger knows
  of, in calendar order: its code, start and end, status, the digest of its History rows,
  the close seal of its last close and the one that close started from, and its seal in the
  chain), ``Tables`` (every persisted table: where it is, its rows, columns and digests) and
  ``Chain`` (the format, the number of sealed periods, the digest of the entity closes and
  the head of the chain).  See :mod:`closebatch.seal`.
* ``ledger/PERIOD.xlsx`` for each period closebatch closed: ``Balances`` (closing balances
  per entity, account, dimensions, counterparty, reference and currency, in transaction and
  accounting currency, before any year-end closing entries), ``Lines`` (every line the close
  generated: reversals, settlement, revaluation, allocation; the given lines are in
  ``Posted``), ``Scheduled`` (generated lines dated after the period, e.g. reversals, posted
  by the close of their own period), ``Posted`` (each input line the close consumed, with
  its fingerprint), ``YearEnd`` and one ``carry_NAME`` sheet per frame a step carries forward.
  A table of more than :data:`LARGE_ROWS` rows is kept as Parquet beside the workbook,
  ``ledger/PERIOD.TABLE.parquet`` (a million posted lines: a workbook takes a minute to write
  and seconds to read; Parquet a second), its amounts as integers of minor units.
* ``ledger/closed_entities.xlsx`` while a period is being closed entity by entity
  (``close --entity``): ``Closed`` (period, entity, user, when) and ``Posted`` (the
  fingerprints of the input lines those closes consumed, with the period).

In workbooks, amounts are written as decimals (so a person can read them) and read back into
exact minor units with the currency's digits: ``amount`` by ``currency``, ``amount_acct`` by
the entity's currency, ``amount_group`` by the group currency.

**Commits.**  Files are written under temporary names, flushed, and renamed; nothing of a
close is trusted before ``periods.xlsx`` records it.  A close's data files are first moved to
*pending* names (``.PERIOD.xlsx.pending-SHA.xlsx``, SHA the start of their SHA-256); then
``periods.xlsx`` is replaced (the commit: the seal now names those bytes); then the pending
files are renamed into place.  A run killed before the commit leaves the old chain (its
pending files are swept); a run killed after it leaves the new chain, whose pending files
the next command moves into place (until then the check finds them under their pending
name).  Files are created with the permissions of the user's umask, like the outputs.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import money, seal
from . import atomic
from .atomic import file_sha256
from .writer import Column, Sheet, continuation_of, write_workbook

LEDGER = "ledger"
STATUS_FILE = seal.PERIODS_FILE
ENTITIES_FILE = "closed_entities.xlsx"
CLOSED_COLUMNS = ["period", "entity", "user", "when"]
LARGE_ROWS = 10_000  # a table longer than this is kept as Parquet
HISTORY_COLUMNS = ["period", "from", "to", "user", "when", "note", "event", "blockers", "entities"]
MONEY = ("amount", "balance", "amount_acct", "balance_acct", "amount_group", "balance_group")
PARQUET_NOTE = ("closebatch ledger table. Amount columns (amount, balance, amount_acct, balance_acct, amount_group, "
                "balance_group) are integers of the currency's minor unit (cents): amount and balance of the "
                "row's currency, *_acct of the entity's accounting currency, *_group of the group currency.")


class LedgerUnreadable(Exception):
    """A workbook of ``ledger/`` that cannot be read (damaged, or re-saved into something else)."""

    def __init__(self, path: Path, why: str):
        self.path = Path(path)
        why = why.rstrip(".")
        super().__init__(f"{self.path.parent.name}/{self.path.name} cannot be read ({why}). It is closebatch's record "
                         "of the closes; nothing was changed. Restore it from a backup, or reopen and close the "
                         "period again if its record is lost")


# --------------------------------------------------------------------------- reading workbooks

@dataclass
class RawTable:
    """A sheet (with its continuation sheets) as cell values: header, rows, and each row's
    place (sheet, Excel row)."""

    names: list
    rows: list
    where: list

    def frame(self) -> pd.DataFrame:
        header = [str(h) if h is not None else "" for h in self.names]
        body = [r + [""] * (len(header) - len(r)) if len(r) < len(header) else r[:len(header)] for r in self.rows]
        df = pd.DataFrame(body, columns=header, dtype=object) if body else pd.DataFrame(columns=header, dtype=object)
        return df.loc[:, [h for h in header if h]]

    def canonical(self) -> seal.Canonical:
        return seal.from_cells(self.names, self.rows, self.where)


def _read_raw(path: Path, only=None) -> dict[str, RawTable]:
    from python_calamine import CalamineWorkbook

    from . import guard

    bad, _ = guard.inspect(path, path.name, lambda name: only is None or name in only
                           or continuation_of(name, only) is not None)
    if bad:
        raise LedgerUnreadable(path, bad.message.rstrip("."))
    out: dict[str, RawTable] = {}
    try:
        wb = CalamineWorkbook.from_path(str(path))
    except Exception as e:  # noqa: BLE001
        raise LedgerUnreadable(path, str(e)[:200]) from e
    names = list(wb.sheet_names)
    try:
        for name in names:
            base = continuation_of(name, names) or name  # a table too long for one sheet goes on
            if only is not None and base not in only:
                continue
            try:
                rows = wb.get_sheet_by_name(name).to_python(skip_empty_area=False)
            except Exception as e:  # noqa: BLE001
                raise LedgerUnreadable(path, f"sheet {name}: {str(e)[:200]}") from e
            if base in out:
                out[base].rows.extend(rows[1:])
                out[base].where.extend((name, i + 2) for i in range(len(rows) - 1))
            else:
                out[base] = RawTable(list(rows[0]) if rows else [], list(rows[1:]),
                                     [(name, i + 2) for i in range(max(0, len(rows) - 1))])
    finally:
        wb.close()
    return out


def _read_sheets(path: Path, only=None) -> dict[str, pd.DataFrame]:
    return {k: v.frame() for k, v in _read_raw(path, only).items()}


def money_columns(df: pd.DataFrame, ent_ccy: dict, group_ccy: str) -> list[Column]:
    cols = []
    for c in df.columns:
        if c in ("amount", "balance") and "currency" in df:
            cols.append(Column(c, "money", "currency"))
        elif c in ("amount_acct", "balance_acct") and "entity" in df:
            cols.append(Column(c, "money", "_acct_ccy"))
        elif c in ("amount_group", "balance_group"):
            cols.append(Column(c, "money", money.scale_of(group_ccy) if group_ccy else 2))
        elif c == "date" or pd.api.types.is_datetime64_any_dtype(df[c]):
            cols.append(Column(c, "date"))
        elif pd.api.types.is_bool_dtype(df[c]):
            cols.append(Column(c, "bool"))
        elif pd.api.types.is_integer_dtype(df[c]) or pd.api.types.is_float_dtype(df[c]):
            cols.append(Column(c, "number"))
        else:
            cols.append(Column(c, "text"))
    return cols


def _to_sheet(name: str, df: pd.DataFrame, ent_ccy: dict, group_ccy: str) -> Sheet:
    df = df.reset_index(drop=True)
    if "entity" in df:
        df = df.assign(_acct_ccy=df["entity"].map(ent_ccy).fillna(""))
    cols = money_columns(df.drop(columns=["_acct_ccy"], errors="ignore"), ent_ccy, group_ccy)
    return Sheet(name[:31], df, cols)


def _text_value(v) -> str:
    return "" if v is None else (str(int(v)) if isinstance(v, float) and v.is_integer() else str(v))


def _from_sheet(df: pd.DataFrame, ent_ccy: dict, group_ccy: str) -> pd.DataFrame:
    """Decimals back to minor units; blanks to ""; dates to datetime64."""
    df = df.copy()
    for c in df.columns:
        if c in MONEY:
            if c in ("amount", "balance"):
                scale = money.scales(df["currency"].to_numpy())
            elif c in ("amount_acct", "balance_acct"):
                scale = money.scales(df["entity"].map(ent_ccy).fillna("USD").to_numpy())
            else:
                scale = money.scale_of(group_ccy) if group_ccy else 2
            vals = pd.to_numeric(df[c].replace("", 0), errors="coerce").fillna(0).to_numpy(dtype="float64")
            df[c] = money.to_minor(vals, scale)[0]
        elif c in ("date", "reverse_on", "rate_date"):
            df[c] = pd.to_datetime(df[c].replace("", None)).astype("datetime64[ns]")
        elif c in ("line", "fiscal_year"):
            df[c] = pd.to_numeric(df[c], errors="coerce").fillna(0).astype("int64")
        else:
            df[c] = df[c].map(_text_value)
    return df


# --------------------------------------------------------------------------- Parquet

def _to_arrow(df: pd.DataFrame):
    """A ledger frame as an Arrow table for Parquet: amounts as int64 minor units, dates as
    dates, flags as Y/N, text as text (blanks ""), other numbers as they are."""
    import pyarrow as pa

    arrays, names = [], []
    for c in df.columns:
        s = df[c]
        if c in MONEY or (pd.api.types.is_integer_dtype(s) and not pd.api.types.is_bool_dtype(s)):
            arr = pa.array(s.fillna(0).to_numpy(dtype="int64"), type=pa.int64())
        elif c in ("date", "reverse_on", "rate_date") or pd.api.types.is_datetime64_any_dtype(s):
            d = pd.to_datetime(s).astype("datetime64[ns]")
            if (d.dropna() == d.dropna().dt.normalize()).all():
                arr = pa.array(d.to_numpy().astype("datetime64[D]"), type=pa.date32(), mask=d.isna().to_numpy())
            else:
                arr = pa.array(d.to_numpy(), type=pa.timestamp("ns"), mask=d.isna().to_numpy())
        elif pd.api.types.is_bool_dtype(s):
            arr = pa.array(np.where(s.to_numpy(dtype=bool), "Y", "N"), type=pa.large_string())
        elif pd.api.types.is_float_dtype(s):
            arr = pa.array(s.to_numpy(dtype="float64"), type=pa.float64())
        else:
            arr = _arrow_text(s)
        arrays.append(arr)
        names.append(str(c))
    return pa.Table.from_arrays(arrays, names=names).replace_schema_metadata({"closebatch": PARQUET_NOTE})


def _arrow_text(s: pd.Series):
    """A text column as an Arrow string array, blanks as ""."""
    import pyarrow as pa

    s = s.fillna("") if s.isna().any() else s
    try:
        return pa.array(s, type=pa.large_string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # not all text: each value as its text
        return pa.array(s.map(_text_value), type=pa.large_string())


def _write_parquet(path: Path, table) -> None:
    import pyarrow.parquet as pq

    pq.write_table(table, str(path), compression="zstd", use_dictionary=False, row_group_size=1 << 20)


def _read_parquet(path: Path, columns=None):
    import pyarrow.parquet as pq

    try:
        return pq.read_table(str(path), columns=columns)
    except Exception as e:  # noqa: BLE001
        raise LedgerUnreadable(path, str(e)[:200]) from e


def _from_arrow(table) -> pd.DataFrame:
    """An Arrow table of the ledger typed as :func:`_from_sheet` types a workbook's, column by
    column without a Python object per cell: amounts, ``line`` and ``fiscal_year`` int64,
    dates datetime64[ns], text ``str`` (blanks "")."""
    import pyarrow as pa
    import pyarrow.compute as pc

    cols, names = [], []
    for c in table.column_names:
        col = table.column(c)
        typ = col.type
        if c in MONEY or (c in ("line", "fiscal_year") and pa.types.is_integer(typ)):
            col = pc.fill_null(col, 0) if col.null_count else col
        elif pa.types.is_date32(typ) or pa.types.is_timestamp(typ):
            col = pc.cast(col, pa.timestamp("ns"))
        elif c in ("line", "fiscal_year"):
            col = pa.chunked_array([pd.to_numeric(pd.Series(col.to_pylist()), errors="coerce").fillna(0)
                                    .astype("int64").to_numpy()])
        elif pa.types.is_string(typ) or pa.types.is_large_string(typ):
            col = pc.fill_null(col, "") if col.null_count else col
        else:
            col = pa.chunked_array([pa.array([_text_value(v) for v in col.to_pylist()], type=pa.large_string())])
        cols.append(col)
        names.append(c)
    text = pd.StringDtype("pyarrow", na_value=np.nan)
    df = pa.Table.from_arrays(cols, names=names).to_pandas(
        split_blocks=True, self_destruct=True,
        types_mapper=lambda t: text if pa.types.is_string(t) or pa.types.is_large_string(t) else None)
    for c in df.columns:
        if df[c].dtype.kind == "M" and str(df[c].dtype) != "datetime64[ns]":
            df[c] = df[c].astype("datetime64[ns]")
    return df


# --------------------------------------------------------------------------- files

def pending_name(final: str, sha: str) -> str:
    """The name a data file waits under until the seal that names it is committed."""
    return f".{final}.pending-{sha[:16]}{Path(final).suffix}"


_PENDING = re.compile(r"^\.(.+)\.pending-([0-9a-f]{16})(\.[a-z]+)?$")


def is_data_file(name: str) -> bool:
    return not name.startswith(".") and name != STATUS_FILE and (name.endswith(".xlsx") or name.endswith(".parquet"))


def period_of_file(name: str, periods) -> str | None:
    """The period a data file of ``ledger/`` belongs to (``PERIOD.xlsx``,
    ``PERIOD.TABLE.parquet``), among ``periods``; None when none matches."""
    if name == ENTITIES_FILE:
        return ""
    for p in sorted(periods, key=len, reverse=True):
        if name == f"{p}.xlsx" or (name.startswith(f"{p}.") and name.endswith(".parquet")):
            return p
    return None


class Deferred:
    """A frame to stage that is made only when its file is written (possibly in a writing
    process, beside the others): ``make()`` gives it; its length (and width, for estimates)
    are known beforehand."""

    def __init__(self, rows: int, columns: int, make):
        self.rows, self.columns, self.make = rows, columns, make

    def __len__(self) -> int:
        return self.rows


def _made(df):
    return df.make() if isinstance(df, Deferred) else df


#: A value of a Parquet table costs about this share of a workbook cell to stage: written,
#: fingerprinted (the posted lines) and sealed (measured at 200k lines: 1.4 s for 3.5M values
#: against 0.6 s for a workbook of 0.7M cells; writing the Parquet file alone is far cheaper)
PARQUET_SHARE = 2


@dataclass
class StagedFile:
    final: str  # name inside ledger/
    tmp: Path
    sheets: list = field(default_factory=list)  # Sheet, for a workbook
    table: object = None  # an Arrow table, for a Parquet file
    tables: dict = field(default_factory=dict)  # table name -> sheet ("" for Parquet)
    build: object = None  # makes ``sheets`` or ``table`` (from Deferred frames) when first needed
    estimate: int = 0  # cells, for a file not built yet

    @property
    def cells(self) -> int:
        if self.build is not None:
            return self.estimate
        if self.table is not None:
            return self.table.num_rows * self.table.num_columns // PARQUET_SHARE
        return sum(s.cells for s in self.sheets)

    def built(self) -> "StagedFile":
        if self.build is not None:
            build, self.build = self.build, None
            build(self)
        return self


class Staged:
    """The data files of one close (or of the entity closes), written under temporary names
    (possibly in another process: :meth:`write`), then read back and sealed (:meth:`seal`),
    then moved to their pending names (:meth:`pend`), then committed by :meth:`Store.commit`."""

    def __init__(self, folder: Path, period: str, files: list[StagedFile]):
        self.dir, self.period, self.files = folder, period, files
        self.seals: list = []
        self.sealed_by: Path | None = None  # where write() leaves its seals for the process that forked it

    @property
    def cells(self) -> int:
        return sum(f.cells for f in self.files)

    @property
    def final(self) -> Path:
        return self.dir / self.files[0].final

    def write(self) -> None:
        """Write the files (making their deferred frames).  With :meth:`seal_beside`, seal
        them too, and leave the seals in that file (for :meth:`seal` in another process)."""
        for f in self.files:
            f.built()
            if f.table is not None:
                _write_parquet(f.tmp, f.table)
            else:
                write_workbook(f.tmp, f.sheets, title=Path(f.final).stem)
        if self.sealed_by is not None:
            import pickle

            seals = self._seal()
            with open(self.sealed_by, "wb") as fh:
                pickle.dump([(f.final, file_sha256(f.tmp)) for f in self.files], fh)
                pickle.dump(seals, fh)

    def seal_beside(self) -> None:
        """Have :meth:`write` seal the files as soon as they are written: the process that
        writes them (a writing process forked by :func:`closebatch.io.parallel.run`) seals them,
        and :meth:`seal` takes its seals, instead of making the deferred frames and reading the
        files back itself."""
        import tempfile

        fd, name = tempfile.mkstemp(prefix="closebatch-seals-", suffix=".pickle")
        os.close(fd)
        self.sealed_by = Path(name)

    def seal(self) -> list:
        """Read the written files back the way every later command reads them, and seal each
        table (:class:`closebatch.seal.TableSeal`); the seals :meth:`write` made, when they are
        there and the files are still the ones it sealed."""
        if self.sealed_by is not None:
            seals = self._seals_beside()
            if seals is not None:
                self.seals = seals
                return seals
        return self._seal()

    def _seals_beside(self) -> list | None:
        import pickle

        try:
            with open(self.sealed_by, "rb") as fh:
                files = pickle.load(fh)
                seals = pickle.load(fh)
        except Exception:  # noqa: BLE001 - not written (the writing failed): sealed here
            return None
        if files != [(f.final, file_sha256(f.tmp)) for f in self.files]:
            return None
        return seals

    def _seal(self) -> list:
        out = []
        for f in self.files:
            f.built()
            sha = file_sha256(f.tmp)
            probe = [seal.TableSeal(self.period, table, f.final, sheet, 0, "", "") for table, sheet in f.tables.items()]
            if f.table is not None:  # a Parquet file holds its Arrow table exactly (its types round-trip): no need
                # to read it back; its text is made a column at a time (all of it at once: 0.3 GB at 1M lines)
                out += [seal.columns_seal(f.table.column_names, f.table.num_rows, seal.arrow_columns(f.table),
                                          self.period, t.table, f.final, t.sheet, sha) for t in probe]
                continue
            canon = _canonical_all(f.tmp, probe)
            for t in probe:
                if isinstance(canon[t.table], str):
                    raise LedgerUnreadable(f.tmp, f"{t.table}: {canon[t.table]}")
                out.append(seal.table_seal(canon[t.table], self.period, t.table, f.final, t.sheet, sha))
        self.seals = out
        return out

    def pend(self) -> list:
        """Move each written file to its pending name; returns ``(pending, final)`` names."""
        out = []
        for f in self.files:
            sha = file_sha256(f.tmp)
            name = pending_name(f.final, sha)
            atomic.replace(f.tmp, self.dir / name, sync_dir=False)
            f.tmp = self.dir / name
            out.append((name, f.final))
        atomic.fsync_dir(self.dir)
        return out

    def discard(self) -> None:
        for f in self.files:
            if os.path.exists(f.tmp) and ".tmp-" in f.tmp.name:
                os.unlink(f.tmp)
        if self.sealed_by is not None and self.sealed_by.exists():
            os.unlink(self.sealed_by)


def _canonical_all(path: Path, tables) -> dict:
    """The canonical form of each sealed table of one file as it is now (table -> Canonical,
    or the text of why it is not there)."""
    if path.suffix == ".parquet":
        canon = seal.from_arrow(_read_parquet(path))
        return {t.table: canon for t in tables}
    raw = _read_raw(path)
    return {t.table: raw[t.sheet].canonical() if t.sheet in raw else f"has no sheet {t.sheet}" for t in tables}


# --------------------------------------------------------------------------- the store

@dataclass
class Ledger:
    """What ``ledger/`` holds, as read and checked."""

    record: seal.Record | None  # periods.xlsx (None when there is none)
    version: int  # 0 nothing persisted, 1 an unsealed ledger of an earlier version, 2 sealed
    breaks: list = field(default_factory=list)  # seal.Break
    pending: list = field(default_factory=list)  # (pending name, final name) to move into place
    sweep: list = field(default_factory=list)  # files to remove (superseded, or pending of no seal)

    @property
    def seals(self) -> pd.DataFrame:
        if self.record is None or self.version < 2:
            return pd.DataFrame(columns=seal.SEAL_COLUMNS, dtype=object)
        return self.record.frame("Seals", seal.SEAL_COLUMNS).astype(str)

    @property
    def tables(self) -> list:
        if self.record is None or self.version < 2:
            return []
        return seal.tables_of(self.record.frame("Tables", seal.TABLE_COLUMNS).astype(str))

    @property
    def history(self) -> pd.DataFrame:
        if self.record is None:
            return pd.DataFrame(columns=HISTORY_COLUMNS)
        return self.record.frame("History", ["period", "from", "to", "user", "when", "note"])

    @property
    def status(self) -> dict:
        if self.record is None:
            return {}
        st = self.record.frame("Status", ["period", "status"])
        return dict(zip(st["period"].astype(str), st["status"].astype(str)))

    @property
    def head(self) -> str:
        return self.record.chain.get("head", "") if self.record is not None else ""


class Store:
    """Read and write ``BOOKS/ledger/``."""

    def __init__(self, books: Path, ent_ccy: dict | None = None, group_ccy: str = ""):
        self.dir = Path(books) / LEDGER
        self.ent_ccy = ent_ccy or {}
        self.group_ccy = group_ccy
        self._ledger: Ledger | None = None

    # -- the record and its check
    def read_record(self) -> seal.Record | None:
        path = self.dir / STATUS_FILE
        if not path.exists():
            return None
        raw = _read_raw(path)
        sheets, canon, rows = {}, {}, {}
        for name, t in raw.items():
            c = t.canonical()
            canon[name] = c
            names = _unique(c.names)  # (a header edited into a duplicate stays a column of its own)
            texts = {n: [c_.decode("utf-8", "surrogatepass") for c_ in _split(col)] for col, n in zip(c.columns, names)}
            sheets[name] = pd.DataFrame(texts, columns=names, dtype=object)
            rows[name] = [r for _, r in c.where]
        return seal.Record(sheets, canon, rows)

    def data_files(self) -> list[str]:
        if not self.dir.exists():
            return []
        return sorted(p.name for p in self.dir.iterdir() if is_data_file(p.name) and p.is_file())

    def ledger(self, refresh: bool = False) -> Ledger:
        """``ledger/`` read and its chain checked (cached; ``refresh`` reads it again)."""
        if self._ledger is None or refresh:
            self._ledger = self._check()
        return self._ledger

    def _check(self) -> Ledger:
        record = self.read_record()
        files = self.data_files()
        if record is None:
            if files:
                return Ledger(None, 0, [seal.broken("", "ledger/periods.xlsx, the record and seal of the closes, is "
                                                        f"missing, but ledger/ holds the data of closes "
                                                        f"({', '.join(files[:3])}{'…' if len(files) > 3 else ''}).",
                                                    "ledger/periods.xlsx")])
            return Ledger(None, 0)
        if "Seals" not in record.sheets or "Chain" not in record.sheets:
            return Ledger(record, 1)
        led = Ledger(record, 2)
        tables = led.tables
        seals_df = led.seals
        closed = set(seals_df.loc[seals_df["close_seal"] != "", "period"])
        now: dict = {}
        by_file: dict = {}
        for t in tables:
            by_file.setdefault(t.file, []).append(t)
        referenced = set(by_file)
        others = {p.name for p in self.dir.iterdir()} if self.dir.exists() else set()
        for name, ts in by_file.items():
            sha = ts[0].file_sha256
            if not is_data_file(name) or "/" in name or "\\" in name:  # not a name closebatch writes
                for t in ts:
                    now[(t.period, t.table)] = f"is not a file closebatch writes ({name!r})"
                continue
            path = self.dir / name
            got = file_sha256(path) if path.exists() else None
            if got == sha:
                for t in ts:
                    now[(t.period, t.table)] = seal.UNCHANGED
                continue
            pend = pending_name(name, sha)
            if pend in others and file_sha256(self.dir / pend) == sha:
                led.pending.append((pend, name))
                for t in ts:
                    now[(t.period, t.table)] = seal.UNCHANGED
                continue
            if got is None:
                for t in ts:
                    now[(t.period, t.table)] = "is missing"
                continue
            try:
                got_tables = _canonical_all(path, ts)
            except LedgerUnreadable as e:
                why = str(e).split(" cannot be read (", 1)[-1].split("). It is closebatch", 1)[0]
                got_tables = {t.table: f"cannot be read ({why[:160]})" for t in ts}
            for t in ts:
                now[(t.period, t.table)] = got_tables[t.table]
        stray = []
        known = set(seals_df["period"])
        for name in files:
            if name in referenced:
                continue
            p = period_of_file(name, known)
            if (p is not None and p in closed) or (name == ENTITIES_FILE and not [t for t in tables if t.period == ""]):
                led.sweep.append(name)  # superseded by a later close (or forgotten entity closes)
            else:
                stray.append(name)
        wanted = {pending_name(f, t[0].file_sha256) for f, t in by_file.items()}
        led.sweep += sorted(n for n in others if _PENDING.match(n) and n not in wanted)
        led.breaks = seal.check(record, now, stray)
        return led

    def recover(self) -> None:
        """Move the pending files of the committed seal into place and remove superseded
        files (run under the books' lock)."""
        led = self.ledger()
        if not led.pending and not led.sweep:
            return
        for pend, final in led.pending:
            atomic.replace(self.dir / pend, self.dir / final, sync_dir=False)
        for name in led.sweep:
            try:
                (self.dir / name).unlink()
            except OSError:
                pass
        atomic.fsync_dir(self.dir)
        led.pending, led.sweep = [], []

    # -- statuses and history (as persisted)
    def statuses(self) -> tuple[dict, pd.DataFrame]:
        """``({period: status}, history)`` as persisted (empty when nothing was closed yet)."""
        led = self.ledger()
        return led.status, led.history

    # -- writing the record
    def commit(self, sheets: dict, staged=(), stop=atomic.checkpoint) -> Path:
        """Commit a new ``periods.xlsx`` (``sheets``: name -> frame of text, the head in its
        ``Chain`` sheet) together with the data files of ``staged`` (already written and sealed):
        the data files go to their pending names, then ``periods.xlsx`` is replaced (the
        commit), then the pending files are renamed into place and the files the new seal no
        longer names are removed."""
        self.dir.mkdir(parents=True, exist_ok=True)
        atomic.sweep(self.dir, STATUS_FILE)
        tmp = atomic.temp_file(self.dir, STATUS_FILE, ".xlsx")
        try:
            write_workbook(tmp, [Sheet(n, df, [Column(c) for c in df.columns], freeze=True)
                                 for n, df in sheets.items()], title="periods")
            self._check_written(tmp, sheets)
            moves = []
            for s in staged:
                moves += s.pend()
            stop("ledger-staged")
            atomic.replace(tmp, self.dir / STATUS_FILE)
        finally:
            if tmp.exists():
                tmp.unlink()
        stop("sealed")
        self._ledger = None
        for k, (pend, final) in enumerate(moves):
            atomic.replace(self.dir / pend, self.dir / final, sync_dir=False)
            if k == 0:
                stop("moving-into-place")
        atomic.fsync_dir(self.dir)
        led = self.ledger(refresh=True)
        if led.sweep or led.pending:
            self.recover()
        stop("in-place")
        return self.dir / STATUS_FILE

    def _check_written(self, tmp: Path, sheets: dict) -> None:
        """Read the new periods.xlsx back and make sure it seals what it should: a ledger that
        would not verify is never committed."""
        raw = _read_raw(tmp)
        for name, df in sheets.items():
            if seal.table_digest(raw[name].canonical()) != seal.table_digest(seal.from_frame(df)):
                raise RuntimeError(f"ledger/periods.xlsx sheet {name} does not read back as written")

    # -- the data of closed periods (through the seal)
    def _layout(self, period: str) -> dict:
        """table -> (file, sheet) of a period's tables."""
        led = self.ledger()
        if led.version == 2:
            mine = [t for t in led.tables if t.period == period]
            final = {pend: final for pend, final in led.pending}
            back = {v: k for k, v in final.items()}
            return {t.table: (back.get(t.file, t.file), t.sheet) for t in mine}
        path = self.dir / f"{period}.xlsx"
        if not path.exists():
            return {}
        return {"*": (path.name, "*")}

    def has(self, period: str) -> bool:
        return bool(self._layout(period))

    def load(self, period: str, tables=None) -> dict[str, pd.DataFrame]:
        """A closed period's tables (``tables``: a predicate of the table name, to load only some)."""
        layout = self._layout(period)
        if "*" in layout:
            got = self._load(layout, ["*"])
            return {k: v for k, v in got.items() if tables is None or tables(k)}
        return self._load(layout, [n for n in layout if tables is None or tables(n)])

    def sheet(self, period: str, name: str, columns=None) -> pd.DataFrame | None:
        """One table of a closed period, read alone, or None (``columns``: the columns wanted,
        where the table has them; a hint, the other columns may come too)."""
        layout = self._layout(period)
        if name not in layout and "*" not in layout:
            return None
        return self._load(layout, [name], columns).get(name)

    def _load(self, layout: dict, names: list, columns=None) -> dict[str, pd.DataFrame]:
        out = {}
        if "*" in layout:  # an unsealed ledger of an earlier version: the workbook's sheets
            f, _ = layout["*"]
            only = None if names == ["*"] else tuple(names)
            return {k: _from_sheet(v, self.ent_ccy, self.group_ccy)
                    for k, v in _read_sheets(self.dir / f, only=only).items()}
        wb: dict = {}
        for name in names:
            f, sheet = layout[name]
            if sheet:
                wb.setdefault(f, []).append((name, sheet))
            else:
                path = self.dir / f
                if columns is not None:
                    import pyarrow.parquet as pq

                    have = pq.read_schema(str(path)).names
                    columns = [c for c in have if c in set(columns)]
                out[name] = _from_arrow(_read_parquet(path, columns))
        for f, pairs in wb.items():
            got = _read_sheets(self.dir / f, only=tuple(s for _, s in pairs))
            for name, sheet in pairs:
                if sheet in got:
                    out[name] = _from_sheet(got[sheet], self.ent_ccy, self.group_ccy)
        return {n: out[n] for n in names if n in out}

    def posted(self, period: str, columns=None) -> pd.DataFrame | None:
        """The ``Posted`` table of a closed period (the input lines its close consumed, with
        their fingerprints), or None."""
        return self.sheet(period, "Posted", columns)

    def period_balances(self, period: str) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
        """A closed period's closing balances for comparatives: ``Balances`` summed per
        entity and account (entity, account, amount_acct; before year-end closing entries)
        and the consolidated balances the close carried (account, balance_group), or None
        where the ledger has no such table."""
        layout = self._layout(period)
        if not layout:
            return None, None
        want = [n for n in ("Balances", "carry_group_balances") if n in layout or "*" in layout]
        sheets = self._load(layout, want) if "*" not in layout else {
            k: _from_sheet(v, self.ent_ccy, self.group_ccy)
            for k, v in _read_sheets(self.dir / layout["*"][0], only=("Balances", "carry_group_balances")).items()}
        ent = grp = None
        b = sheets.get("Balances")
        if b is not None and "entity" in b:
            ent = b.groupby(["entity", "account"], as_index=False, sort=True)["amount_acct"].sum() if len(b) else \
                pd.DataFrame({"entity": [], "account": [], "amount_acct": pd.Series([], dtype="int64")})
        g = sheets.get("carry_group_balances")
        if g is not None and "balance_group" in g:
            grp = g.groupby("account", as_index=False, sort=True)["balance_group"].sum()
        return ent, grp

    # -- entities closed in a period that is still Open (close --entity)
    def entity_closes(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """``(closed, posted)``: the entities closed per period, and the fingerprints of the
        input lines their closes consumed (``period`` column on both)."""
        empty = (pd.DataFrame(columns=CLOSED_COLUMNS), pd.DataFrame(columns=["period", "entity", "fingerprint"]))
        led = self.ledger()
        if led.version == 2:
            mine = [t for t in led.tables if t.period == ""]
            if not mine:
                return empty
            got = self._load({t.table: (dict((f, p) for p, f in led.pending).get(t.file, t.file), t.sheet)
                              for t in mine}, [t.table for t in mine])
        else:
            path = self.dir / ENTITIES_FILE
            if not path.exists():
                return empty
            got = {k: _from_sheet(v, self.ent_ccy, self.group_ccy) for k, v in _read_sheets(path).items()}
        return got.get("Closed", empty[0]), got.get("Posted", empty[1])

    def stage_entity_closes(self, closed: pd.DataFrame, posted: pd.DataFrame) -> Staged | None:
        """The entity closes' workbook to commit with the next seal (None when no entity is
        closed: the file goes)."""
        if not len(closed):
            return None
        return self._stage("", [(ENTITIES_FILE, [("Closed", closed[CLOSED_COLUMNS]), ("Posted", posted)])])

    # -- a closed period's data
    def stage(self, period: str, frames: dict[str, pd.DataFrame]) -> Staged:
        """A closed period's data files to write under temporary names now (possibly in
        another process), seal, and commit with the seal: the tables in ``PERIOD.xlsx``, a
        table longer than :data:`LARGE_ROWS` rows in ``PERIOD.TABLE.parquet``."""
        small = [(n, df) for n, df in frames.items() if len(df) <= LARGE_ROWS]
        large = [(n, df) for n, df in frames.items() if len(df) > LARGE_ROWS]
        files = [(f"{period}.xlsx", small)] + [(f"{period}.{n}.parquet", df) for n, df in large]
        return self._stage(period, files)

    def _stage(self, period: str, files: list) -> Staged:
        self.dir.mkdir(parents=True, exist_ok=True)
        out = []
        for final, content in files:
            atomic.sweep(self.dir, final)
            if isinstance(content, list):
                out.append(StagedFile(final, atomic.temp_file(self.dir, final, ".xlsx"),
                                      tables={name: name[:31] for name, _ in content}))
                self._sheets(out[-1], content)
            else:
                out.append(StagedFile(final, atomic.temp_file(self.dir, final, ".parquet"),
                                      tables={final[len(period) + 1:-len(".parquet")]: ""}))
                self._table(out[-1], content)
        return Staged(self.dir, period, out)

    def _sheets(self, f: StagedFile, content: list) -> None:
        def build(f: StagedFile) -> None:
            f.sheets = [_to_sheet(name, _made(df), self.ent_ccy, self.group_ccy) for name, df in content]

        if any(isinstance(df, Deferred) for _, df in content):
            f.build = build
            f.estimate = sum(len(df) * (df.columns if isinstance(df, Deferred) else len(df.columns))
                             for _, df in content)
        else:
            build(f)

    def _table(self, f: StagedFile, content) -> None:
        def build(f: StagedFile) -> None:
            f.table = _to_arrow(_made(content))

        if isinstance(content, Deferred):
            f.build, f.estimate = build, len(content) * content.columns // PARQUET_SHARE
        else:
            build(f)

    def seal_file(self, period: str, name: str) -> list:
        """Seal the tables of a data file already in place (a ledger of an earlier version)."""
        path = self.dir / name
        sha = file_sha256(path)
        return [seal.table_seal(raw.canonical(), period, table, name, table, sha)
                for table, raw in _read_raw(path).items()]

    def save(self, period: str, frames: dict[str, pd.DataFrame]) -> Path:
        """Write a period's data files straight into place, unsealed (a ledger of an earlier
        version, as tests build one)."""
        staged = self.stage(period, frames)
        try:
            staged.write()
            for f in staged.files:
                atomic.replace(f.tmp, self.dir / f.final)
        finally:
            staged.discard()
        self._ledger = None
        return self.dir / f"{period}.xlsx"


def _unique(names) -> list[str]:
    out, seen = [], set()
    for n in names:
        m, k = n, 2
        while m in seen:
            m, k = f"{n} ({k})", k + 1
        seen.add(m)
        out.append(m)
    return out


def _split(col: seal.Column) -> list[bytes]:
    offs = col.offsets.tolist()
    data = bytes(col.data)
    return [data[offs[i]:offs[i + 1]] for i in range(len(offs) - 1)]
