"""The workbooks a close writes (spec section 5), built from a :class:`CloseResult`."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from .. import __version__
from ..book import Book
from . import atomic
from .writer import Column, Sheet, write_workbook

# --------------------------------------------------------------------------- declared column kinds
#
# Every column of every report table is declared here: its kind (see writer.Column) and, for
# money, the column holding its currency.  The writer renders from the declaration and never
# guesses; a column that is not declared is an error (tests close the sample books and write
# every report).  Money in the accounting currency of the row's entity is shown with an
# ``accounting_currency`` column, money in the group currency with a ``group_currency``
# column; either is added to the table when the step's frame has none.

ACCT, GROUP, TXN = ("money", "accounting_currency"), ("money", "group_currency"), ("money", "currency")
_KINDS = {
    "code": ("entity", "account", "counterparty", "reference", "currency", "entity_currency", "accounting_currency",
             "group_currency", "type", "rate_type", "translation", "rule", "journal", "role", "parent",
             "measured_in", "settlement_id", "match", "journal_type", "origin", "settlement_group", "kind",
             "source_account", "destination_account", "offset_account", "basis", "figure", "period", "method",
             "module", "control_account", "account_posted", "result", "cta_total_is", "cta_movement_is",
             "severity", "cell", "column", "sheet", "step_name"),
    "text": ("account_name", "name", "description", "source", "rate_source", "base_source", "closing_rate_source",
             "average_rate_source", "opening_rate_source", "rate_text", "rate_quoted", "note", "file", "value",
             "message", "hint", "why"),
    "date": ("date", "rate_date"),
    "flag": ("inverse", "posted"),
    "count": ("line", "step", "balances", "sources", "age_days", "lines", "items", "rules"),
    "rate": ("rate", "rate_applied", "opening_rate", "closing_rate", "average_rate"),
    "percent": ("share", "ownership", "effective_ownership", "nci_share"),
    "number": ("basis_value",),
    "year": ("fiscal_year",),
}
KINDS: dict = {c: k for k, cols in _KINDS.items() for c in cols}
KINDS.update({c: TXN for c in ("balance", "amount", "debit", "credit", "source_amount", "allocated_amount",
                               "goodwill", "remaining", "opening", "closing")})
KINDS.update({c: ACCT for c in ("balance_acct", "amount_acct", "revalued_acct", "adjustment", "realized_acct",
                                "base_acct", "movement_acct", "remaining_acct", "opening_acct", "debit_acct",
                                "credit_acct", "closing_acct", "difference_acct")})
KINDS.update({c: GROUP for c in ("balance_group", "amount_group", "base_group", "investment_group",
                                 "equity_at_acquisition_group", "nci_at_acquisition_group",
                                 "goodwill_at_measurement_group", "goodwill_group", "translation_difference_group",
                                 "opening_net_assets_group", "profit_ytd_group", "cta_net_assets", "cta_profit",
                                 "cta_investment_eliminated", "cta_unexplained", "cta_translation", "cta_goodwill",
                                 "cta_total", "cta_nci_share", "cta_owners_share", "cta_at_start", "cta_movement",
                                 "cta_nci_at_start", "cta_nci_movement", "nci_profit", "nci_equity",
                                 "post_acquisition_equity")})
KINDS.update({"opening_net_assets_acct": ("money", "currency"), "profit_ytd_acct": ("money", "currency")})

# per table: kinds that differ from the vocabulary, and the columns written, in order
# (None: the frame's own order); "{dims}" stands for the dimension columns
TABLES: dict = {
    ("revaluation", "Revaluation"): {
        "kinds": {"balance_acct": ("money", "entity_currency"), "revalued_acct": ("money", "entity_currency"),
                  "adjustment": ("money", "entity_currency")},
        # the rate applied (accounting currency per unit), not the quote: the quote is in rate_source
        "rename": {"rate": "rate_as_quoted", "rate_applied": "rate"},
        "order": ["entity", "account", "{dims}", "counterparty", "reference", "currency", "balance",
                  "entity_currency", "balance_acct", "rate", "rate_text", "rate_date", "rate_source",
                  "revalued_acct", "adjustment", "result", "account_posted"],
        "caption": "Revaluation at the closing rate: adjustment = balance × rate − balance acct (gain > 0, loss < 0)"},
    ("revaluation", "Totals"): {"kinds": {"gains": ("money", "currency"), "losses": ("money", "currency"),
                                          "net": ("money", "currency")},
                                "caption": "Unrealized FX gains and losses per entity (accounting currency)"},
    ("consolidation", "CTA"): {"caption": "Translation reserve (CTA) per entity, group currency: a credit "
                                          "(negative) is a gain, a debit (positive) a loss"},
}


def report_sheet(name: str, df: pd.DataFrame, book: Book, step: str = "") -> Sheet:
    """A report frame as a sheet, every column written by its declared kind (:data:`KINDS`,
    :data:`TABLES`): money in minor units with its currency column beside it.  A column that is
    not declared is an error: nothing is guessed from a column's name or type."""
    spec = TABLES.get((step, name), {})
    df = df.reset_index(drop=True).rename(columns=spec.get("rename", {}))
    if step == "revaluation" and name == "Revaluation" and len(df):  # the source row with its quote and type
        df = df.assign(rate_source=[f"{s} ({t}: {q})" if s else t for s, t, q in
                                    zip(df["rate_source"], df["rate_type"], df["rate_quoted"])])
    kinds = {**KINDS, **{d: "code" for d in book.dims}, **{f"to_{d}": "code" for d in book.dims},
             **spec.get("kinds", {})}
    names = [c for c in df.columns if not str(c).startswith("_")]
    if spec.get("order"):  # the columns shown, in the order a reviewer reads them
        order = []
        for c in spec["order"]:
            order += list(book.dims) if c == "{dims}" else [c]
        names = [c for c in order if c in df.columns]
    undeclared = [c for c in names if c not in kinds]
    if undeclared:
        raise KeyError(f"report {step or '?'}/{name}: the kind of column(s) {', '.join(map(str, undeclared))} "
                       "is not declared (closebatch.io.outputs.KINDS)")
    df = add_currency_columns(df, book, [kinds[c] for c in names])
    cols, placed = [], set()
    for c in names:
        k = kinds[c]
        if isinstance(k, tuple):
            ccy = k[1]
            if ccy not in names and ccy not in placed:  # an added currency column, before its first amount
                cols.append(Column(ccy, "code"))
                placed.add(ccy)
            cols.append(Column(c, "money", ccy))
        else:
            cols.append(Column(c, k))
    return Sheet(name[:31], df, cols, words=True, caption=spec.get("caption", ""))


def add_currency_columns(df: pd.DataFrame, book: Book, kinds) -> pd.DataFrame:
    """The currency columns the money columns of ``kinds`` name, added when the frame has none:
    ``accounting_currency`` (the row's entity's currency) and ``group_currency``."""
    wanted = {k[1] for k in kinds if isinstance(k, tuple)}
    group = book.settings.group_currency or ""
    if "group_currency" in wanted and "group_currency" not in df:
        df = df.assign(group_currency=group)
    if "accounting_currency" in wanted and "accounting_currency" not in df:
        ccy = df["entity"].map(book.entity_currency()).fillna(group) if "entity" in df else group
        df = df.assign(accounting_currency=ccy)
    return df


def trial_balance(book: Book, balances: pd.DataFrame, movement_keys: pd.DataFrame | None = None,
                  period=None) -> pd.DataFrame:
    """Adjusted trial balance rows: entity, account, account_name, type, dims, currency,
    balance, balance_acct (minor units), accounting_currency; with ``period`` (and the
    period's lines as ``movement_keys``) also opening_acct, debit_acct and credit_acct: the
    balance at the start of the period and the period's debits and credits, in accounting
    currency (opening + debit − credit = balance_acct, the closing balance)."""
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
    if period is not None:
        tb = _movements(tb, movement_keys, key, period)
    return tb.reset_index(drop=True)


def _movements(tb: pd.DataFrame, lines: pd.DataFrame | None, key: list, period) -> pd.DataFrame:
    """Opening, debit and credit (accounting currency) of each trial balance row from the
    period's lines: debit and credit are the lines' positive and negative amounts, and the
    opening balance what the closing balance was before them."""
    if lines is not None and len(lines):
        inside = (lines["date"] >= pd.Timestamp(period.start)) & (lines["date"] <= pd.Timestamp(period.end))
        ln = lines.loc[inside.to_numpy(), key + ["amount_acct"]]
        a = ln["amount_acct"].to_numpy(dtype="int64")
        mv = ln[key].assign(debit_acct=a.clip(min=0), credit_acct=(-a).clip(min=0))
        mv = mv.groupby(key, as_index=False, sort=False)[["debit_acct", "credit_acct"]].sum()
        tb = tb.merge(mv, on=key, how="left")
    else:
        tb = tb.assign(debit_acct=0, credit_acct=0)
    tb["debit_acct"] = tb["debit_acct"].fillna(0).astype("int64")
    tb["credit_acct"] = tb["credit_acct"].fillna(0).astype("int64")
    tb["opening_acct"] = tb["balance_acct"].astype("int64") - tb["debit_acct"] + tb["credit_acct"]
    return tb


def tb_sheet(book: Book, tb: pd.DataFrame, name="TrialBalance") -> Sheet:
    """The trial balance: per row the balance in its transaction currency and, in the entity's
    accounting currency, the opening balance, the period's debits and credits, and the
    closing balance (``balance_acct``) when the frame has them."""
    moves = [Column("opening_acct", "money", "accounting_currency"), Column("debit_acct", "money",
                                                                             "accounting_currency"),
             Column("credit_acct", "money", "accounting_currency")] if "opening_acct" in tb else []
    cols = [Column("entity", "code"), Column("account", "code"), Column("account_name"), Column("type", "code"),
            *[Column(d, "code") for d in book.dims], Column("currency", "code"),
            Column("balance", "money", "currency"), Column("accounting_currency", "code"), *moves,
            Column("balance_acct", "money", "accounting_currency")]
    caption = ("Adjusted trial balance: opening + debit − credit = balance acct (closing), in accounting currency"
               if moves else "Balances")
    return Sheet(name, tb, cols, words=True, caption=caption)


def tb_totals(book: Book, tb: pd.DataFrame) -> Sheet:
    """``Totals``: per entity, the trial balance's opening balance, debits, credits and closing
    balance in accounting currency, and whether it sums to zero (it must).  A sheet of its own,
    so filtering the trial balance still works."""
    cols = [c for c in ("opening_acct", "debit_acct", "credit_acct", "balance_acct") if c in tb]
    t = tb.groupby(["entity", "accounting_currency"], as_index=False, sort=True)[cols].sum() if len(tb) else \
        pd.DataFrame(columns=["entity", "accounting_currency", *cols])
    names = dict(zip(book.entities["entity"], book.entities["name"]))
    t.insert(1, "name", t["entity"].map(names).fillna(""))
    t["rows"] = tb.groupby(["entity", "accounting_currency"], sort=True).size().to_numpy() if len(tb) else []
    zero = (t["balance_acct"] == 0) & ((t["opening_acct"] == 0) if "opening_acct" in t else True)
    t["check"] = np.where(zero, "OK: sums to zero", "NOT ZERO: the trial balance does not balance")
    spec = [Column("entity", "code"), Column("name"), Column("accounting_currency", "code"), Column("rows", "count"),
            *[Column(c, "money", "accounting_currency") for c in cols], Column("check")]
    return Sheet("Totals", t, spec, words=True, caption="Trial balance totals per entity: each must be zero")


def consolidated_sheet(book: Book, df: pd.DataFrame) -> Sheet:
    return report_sheet("Consolidated", df, book, "consolidation")


def journal_lines(book: Book, lines: pd.DataFrame) -> pd.DataFrame:
    """Ledger journal rows: debit/credit in transaction currency, amount_acct signed.  (A
    shallow copy: the columns added are the new frame's own, pandas copies on write.)"""
    df = lines.copy(deep=False)
    df["debit"] = df["amount"].clip(lower=0)
    df["credit"] = (-df["amount"]).clip(lower=0)
    df["accounting_currency"] = df["entity"].map(book.entity_currency()).fillna(book.settings.group_currency)
    return df


def journal_sheet(book: Book, df: pd.DataFrame) -> Sheet:
    cols = [Column("journal", "code"), Column("line", "count"), Column("date", "date"), Column("entity", "code"),
            Column("account", "code"), *[Column(d, "code") for d in book.dims], Column("currency", "code"),
            Column("debit", "money", "currency"), Column("credit", "money", "currency"),
            Column("amount_acct", "money", "accounting_currency"), Column("accounting_currency", "code"),
            Column("journal_type", "code"), Column("description"), Column("counterparty", "code"),
            Column("reference", "code"), Column("source")]
    return Sheet("Lines", df, cols, words=True, caption="Every line posted in the period")


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
    sheets = [Sheet("Validation", df, [Column("severity", "code"), Column("file", width=28),
                                       Column("sheet", "code"), Column("cell", "code"), Column("column", "code"),
                                       Column("value", width=20), Column("message", width=60),
                                       Column("hint", width=45), Column("rule", "code")],
                    words=True, caption="Every error and warning, with where it is")]
    ign = pd.DataFrame([(f, s, "not a kind of sheet closebatch reads") for f, s in ignored] +
                       [(f, "", why) for f, why in skipped], columns=["file", "sheet", "why"])
    sheets.append(Sheet("Ignored sheets", ign, [Column("file", width=40), Column("sheet", width=24),
                                                Column("why", width=60)], words=True))
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


def write_manifest(path: Path, inputs: list, outputs: list, period: str, counts: dict, totals: dict,
                   ledger_seal: dict | None = None) -> Path:
    """``manifest.json``: tool, period, inputs and outputs with SHA-256, counts, control
    totals, and ``ledger_seal``: the seal of the close (see :mod:`closebatch.seal`)."""
    data = {"tool": "closebatch", "version": __version__, "period": period,
            "inputs": [{"file": rel, "sha256": atomic.file_sha256(p)} for rel, p in inputs],
            "outputs": [{"file": p.name, "sha256": atomic.file_sha256(p)} for p in outputs],
            "counts": counts, "control_totals": totals}
    if ledger_seal is not None:
        data["ledger_seal"] = ledger_seal
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

    def commit(self, order: list[str] | None = None, stop=None) -> list[Path]:
        """Move every file into place, those in ``order`` last (``moved`` names those in place so
        far; ``done`` when all are); ``stop(point)`` is called at the commit points (see
        :func:`closebatch.io.atomic.checkpoint`)."""
        self.final.mkdir(parents=True, exist_ok=True)
        names = sorted(p.name for p in self.tmp.iterdir())
        if order:
            names = [n for n in names if n not in order] + [n for n in order if n in names]
        for n in names:
            atomic.fsync_file(self.tmp / n)
        out = []
        for k, n in enumerate(names):
            os.replace(self.tmp / n, self.final / n)
            self.moved.append(n)
            out.append(self.final / n)
            if k == 0 and stop is not None:
                stop("outputs-moving")
        atomic.fsync_dir(self.final)
        self.done = True
        self.discard()
        return out

    def discard(self):
        shutil.rmtree(self.tmp, ignore_errors=True)
