"""The workbooks a close writes (spec section 5), built from a :class:`CloseResult`."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd

from .. import __version__, money
from ..book import Book
from . import atomic
from .writer import Column, Sheet, write_workbook

NON_MONEY = {"line", "step", "row", "balances", "lines", "count", "age_days", "items", "n", "fiscal_year", "rules",
             "rule_rows", "_row", "index", "position", "pairs", "eliminations", "items_settled", "items_open"}


def report_sheet(name: str, df: pd.DataFrame, book: Book) -> Sheet:
    """A report frame as a sheet: int64 columns are minor-unit amounts, scaled by the row's
    currency (``currency`` for ``balance``/``amount``), else the entity's accounting currency,
    and group currency for ``*_group`` columns."""
    df = df.reset_index(drop=True).copy()
    ent_ccy = book.entity_currency()
    group = book.settings.group_currency or "USD"
    cols = []
    if "entity" in df and "_acct_ccy" not in df:
        df["_acct_ccy"] = df["entity"].map(ent_ccy).fillna(group)
    for c in [c for c in df.columns if not str(c).startswith("_")]:
        s = df[c]
        if pd.api.types.is_integer_dtype(s) and c not in NON_MONEY and not pd.api.types.is_bool_dtype(s):
            if c.endswith("_group") or c.startswith("group"):
                cols.append(Column(c, "money", money.scale_of(group)))
            elif c in ("balance", "amount", "debit", "credit") and "currency" in df:
                cols.append(Column(c, "money", "currency"))
            elif "entity_currency" in df:
                cols.append(Column(c, "money", "entity_currency"))
            elif "_acct_ccy" in df:
                cols.append(Column(c, "money", "_acct_ccy"))
            else:
                cols.append(Column(c, "money", money.scale_of(group)))
        elif pd.api.types.is_bool_dtype(s):
            cols.append(Column(c, "bool"))
        elif pd.api.types.is_datetime64_any_dtype(s):
            cols.append(Column(c, "date"))
        elif c in ("rate", "share") or pd.api.types.is_float_dtype(s):
            cols.append(Column(c, "rate" if c == "rate" else "number"))
        elif pd.api.types.is_integer_dtype(s):
            cols.append(Column(c, "int"))
        else:
            cols.append(Column(c, "text"))
    return Sheet(name[:31], df, cols)


def trial_balance(book: Book, balances: pd.DataFrame, movement_keys: pd.DataFrame | None = None) -> pd.DataFrame:
    """Adjusted trial balance rows: entity, account, account_name, type, dims, currency,
    balance, balance_acct (minor units), accounting_currency."""
    dims = list(book.dims)
    key = ["entity", "account", *dims, "currency"]
    tb = balances.groupby(key, as_index=False, sort=True)[["amount", "amount_acct"]].sum()
    keep = (tb["amount"] != 0) | (tb["amount_acct"] != 0)
    if movement_keys is not None and len(movement_keys):
        moved = movement_keys[key].drop_duplicates().assign(_moved=True)
        tb = tb.merge(moved, on=key, how="left")
        keep = keep | tb["_moved"].fillna(False).astype(bool)
        tb = tb.drop(columns="_moved")
    tb = tb[keep.to_numpy()]
    acc = book.accounts.set_index("account")
    tb.insert(2, "account_name", tb["account"].map(acc["name"]).fillna(""))
    tb.insert(3, "type", tb["account"].map(acc["type"]).fillna(""))
    tb = tb.rename(columns={"amount": "balance", "amount_acct": "balance_acct"})
    tb["accounting_currency"] = tb["entity"].map(book.entity_currency()).fillna("")
    return tb.reset_index(drop=True)


def tb_sheet(book: Book, tb: pd.DataFrame, name="TrialBalance") -> Sheet:
    cols = [Column("entity"), Column("account"), Column("account_name"), Column("type"),
            *[Column(d) for d in book.dims], Column("currency"), Column("balance", "money", "currency"),
            Column("balance_acct", "money", "accounting_currency"), Column("accounting_currency")]
    return Sheet(name, tb, cols)


def journal_lines(book: Book, lines: pd.DataFrame) -> pd.DataFrame:
    """Ledger journal rows: debit/credit in transaction currency, amount_acct signed."""
    df = lines.copy()
    df["debit"] = df["amount"].clip(lower=0)
    df["credit"] = (-df["amount"]).clip(lower=0)
    df["accounting_currency"] = df["entity"].map(book.entity_currency()).fillna(book.settings.group_currency)
    return df


def journal_sheet(book: Book, df: pd.DataFrame) -> Sheet:
    cols = [Column("journal"), Column("line", "int"), Column("date", "date"), Column("entity"), Column("account"),
            *[Column(d) for d in book.dims], Column("currency"), Column("debit", "money", "currency"),
            Column("credit", "money", "currency"), Column("amount_acct", "money", "accounting_currency"),
            Column("accounting_currency"), Column("journal_type"), Column("description"), Column("counterparty"),
            Column("reference"), Column("source")]
    return Sheet("Lines", df, cols)


def findings_frame(findings) -> pd.DataFrame:
    rows = [{"severity": f.severity, "file": f.file, "sheet": f.sheet, "cell": f.cell, "column": f.column,
             "value": f.value, "message": f.message, "hint": f.hint, "rule": f.code} for f in findings]
    cols = ["severity", "file", "sheet", "cell", "column", "value", "message", "hint", "rule"]
    df = pd.DataFrame(rows, columns=cols)
    if len(df):
        df["_o"] = (df["severity"] != "error").astype(int)
        df = df.sort_values(["_o", "file", "sheet"], kind="stable").drop(columns="_o")
    return df


def write_validation(path: Path, findings, ignored=(), skipped=()) -> Path:
    """``validation.xlsx``: every finding, then what was not read (sheets that are no kind,
    folders of earlier outputs), with why."""
    df = findings_frame(findings)
    sheets = [Sheet("Validation", df, [Column("severity"), Column("file"), Column("sheet"), Column("cell"),
                                       Column("column"), Column("value"), Column("message", width=70),
                                       Column("hint", width=60), Column("rule")])]
    ign = pd.DataFrame([(f, s, "not a kind of sheet closebatch reads") for f, s in ignored] +
                       [(f, "", why) for f, why in skipped], columns=["file", "sheet", "why"])
    sheets.append(Sheet("Ignored sheets", ign, [Column("file", width=40), Column("sheet", width=24),
                                                Column("why", width=60)]))
    return write_workbook(path, sheets)


def copy_into(src: Path, folder: Path) -> Path:
    """Copy ``src`` into ``folder`` under its name, atomically (a temporary copy renamed into place)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    atomic.sweep(folder, src.name)
    fd, tmp = tempfile.mkstemp(prefix=atomic.temp_prefix(src.name), dir=folder)
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        atomic.replace(Path(tmp), folder / src.name)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return folder / src.name


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_manifest(path: Path, inputs: list, outputs: list, period: str, counts: dict, totals: dict) -> Path:
    data = {"tool": "closebatch", "version": __version__, "period": period,
            "inputs": [{"file": rel, "sha256": sha256(p)} for rel, p in inputs],
            "outputs": [{"file": p.name, "sha256": sha256(p)} for p in outputs],
            "counts": counts, "control_totals": totals}
    path.write_text(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n", encoding="utf-8")
    return path


class OutputDir:
    """Write into a temporary folder next to the output folder, then move each file into
    place with an atomic rename (flushed to disk first); a failed or killed run leaves every
    earlier file untouched or wholly replaced, never half written.  ``commit`` moves the
    files in ``order`` last (the manifest), so a manifest always describes files in place.
    Temporary folders of killed runs are swept by the next run."""

    def __init__(self, final: Path):
        self.final = Path(final)
        self.final.parent.mkdir(parents=True, exist_ok=True)
        atomic.sweep(self.final.parent, self.final.name)
        self.tmp = Path(tempfile.mkdtemp(prefix=atomic.temp_prefix(self.final.name), dir=self.final.parent))
        self.moved: list[str] = []
        self.done = False

    def path(self, name: str) -> Path:
        return self.tmp / name

    def commit(self, order: list[str] | None = None) -> list[Path]:
        """Move every file into place (``moved`` names those in place so far; ``done`` when all are)."""
        self.final.mkdir(parents=True, exist_ok=True)
        names = sorted(p.name for p in self.tmp.iterdir())
        if order:
            names = [n for n in names if n not in order] + [n for n in order if n in names]
        for n in names:
            atomic.fsync_file(self.tmp / n)
        out = []
        for n in names:
            os.replace(self.tmp / n, self.final / n)
            self.moved.append(n)
            out.append(self.final / n)
        atomic.fsync_dir(self.final)
        self.done = True
        self.discard()
        return out

    def discard(self):
        shutil.rmtree(self.tmp, ignore_errors=True)
