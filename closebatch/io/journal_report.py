"""``ledger_journal.xlsx``: every line posted in the period, as a reviewer reads it.

* ``Lines``: the plain table of spec section 5 (header on row 1, one row per line, filters,
  frozen header), sorted by journal type (in the order of
  :data:`closebatch.core.JOURNAL_TYPES`: daily, adjustment, revaluation, … year_end), then
  journal, entity and line.  No subtotal rows, so any reader can take it as a table.
* ``By journal``: the same lines grouped by journal, each journal followed by a bold subtotal
  row (debits and credits in accounting currency, the difference, the number of lines), the
  detail rows one outline level down (Excel's +/- buttons fold a journal to its subtotal),
  with filters and each line's source.  A journal is one journal number of one entity; the
  consolidation layer's journals (type ``elimination``, in the group currency) are one
  journal per number.  At the bottom a total per accounting currency (the consolidation
  layer's apart: its CTA journals balance the translated trial balance, not themselves).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .. import money
from ..book import Book
from ..core import JOURNAL_TYPES
from .outputs import journal_sheet
from .writer import MAX_ROWS, excel_serials, excel_text
from .writer import Book as XBook

GROUP_TYPES = ("elimination",)


def sort_lines(lines: pd.DataFrame) -> pd.DataFrame:
    """Lines by journal type (spec order), journal, entity, line; stable otherwise."""
    if not len(lines):
        return lines
    order = {t: i for i, t in enumerate(JOURNAL_TYPES)}
    key = lines["journal_type"].map(order).fillna(len(order)).astype(int)
    df = lines.assign(_t=key.to_numpy(), _o=np.arange(len(lines)))
    df = df.sort_values(["_t", "journal_type", "journal", "entity", "line", "_o"], kind="stable")
    return df.drop(columns=["_t", "_o"]).reset_index(drop=True)


def write_ledger_journal(path: Path, book: Book, lines: pd.DataFrame) -> Path:
    """``lines``: :func:`closebatch.io.outputs.journal_lines` output (debit, credit,
    accounting_currency added to a lines frame)."""
    df = lines.copy()
    gcur = book.settings.group_currency or ""
    if len(df) and gcur:
        layer = df["journal_type"].isin(GROUP_TYPES).to_numpy()
        df.loc[layer, "accounting_currency"] = gcur  # consolidation lines are in the group currency
    df = sort_lines(df)
    xb = XBook(path)
    xb.write(journal_sheet(book, df))
    _by_journal(xb, book, df)
    xb.close()
    return Path(path)


def _by_journal(xb: XBook, book: Book, df: pd.DataFrame) -> None:
    ws = xb.wb.add_worksheet("By journal")
    dims = list(book.dims)
    names = dict(zip(book.accounts["account"], book.accounts["name"]))
    cols = ["journal_type", "journal", "entity", "line", "date", "account", "account_name", *dims, "counterparty",
            "currency", "debit", "credit", "debit_acct", "credit_acct", "accounting_currency", "description",
            "source"]
    widths = {"journal_type": 12, "journal": 16, "entity": 8, "line": 6, "date": 11, "account": 9,
              "account_name": 28, "counterparty": 12, "currency": 9, "debit": 14, "credit": 14, "debit_acct": 14,
              "credit_acct": 14, "accounting_currency": 11, "description": 40, "source": 40}
    for j, c in enumerate(cols):
        ws.write_string(0, j, c, xb.header)
        ws.set_column(j, j, widths.get(c, 12))
    ci = {c: j for j, c in enumerate(cols)}
    date_fmt = xb.fmt(num_format="yyyy-mm-dd")
    bold = xb.fmt(bold=True, top=1)
    n = len(df)
    if n:
        acct = df["amount_acct"].to_numpy(dtype="int64")
        dr_acct, cr_acct = np.clip(acct, 0, None), np.clip(-acct, 0, None)
        tscale = money.scales(df["currency"].to_numpy())
        ascale = money.scales(df["accounting_currency"].to_numpy())
        debit = money.from_minor(df["debit"].to_numpy(dtype="int64"), tscale)
        credit = money.from_minor(df["credit"].to_numpy(dtype="int64"), tscale)
        dr_v, cr_v = money.from_minor(dr_acct, ascale), money.from_minor(cr_acct, ascale)
        unit = np.where(df["journal_type"].isin(GROUP_TYPES).to_numpy(), "", df["entity"].to_numpy(dtype=object))
        key = (df["journal_type"].astype(str) + "\x00" + df["journal"].astype(str) + "\x00"
               + pd.Series(unit, index=df.index).astype(str)).to_numpy()
        bounds = np.flatnonzero(key[1:] != key[:-1]) + 1
        starts = np.concatenate([[0], bounds])
        ends = np.concatenate([bounds, [n]])
    else:
        starts = ends = np.array([], dtype=int)
    r = 1
    totals: dict[str, list[int]] = {}
    text_cols = ["journal_type", "journal", "entity", "account", *dims, "counterparty", "currency",
                 "accounting_currency", "description", "source"]
    text = {c: df[c].astype(str).to_numpy(dtype=object) for c in text_cols if c in df}
    lines_no = df["line"].to_numpy(dtype="int64") if n else []
    serials = excel_serials(df["date"]) if n else None
    int_fmt = xb.fmt(num_format="0")
    money_fmts = {sc: xb.money_fmt(sc) for sc in range(5)}
    for s, e in zip(starts, ends):
        if r + (e - s) + 1 > MAX_ROWS:
            ws.write_string(r, ci["description"], "The ledger journal is too long for one sheet: see Lines.")
            break
        for i in range(s, e):
            for c in text_cols:
                v = text[c][i]
                if v:
                    ws.write_string(r, ci[c], excel_text(v))
            ws.write_number(r, ci["line"], int(lines_no[i]), int_fmt)
            if serials[i] == serials[i]:  # not NaN
                ws.write_number(r, ci["date"], serials[i], date_fmt)
            ws.write_string(r, ci["account_name"], str(names.get(text["account"][i], "")))
            tf, af = money_fmts[tscale[i]], money_fmts[ascale[i]]
            ws.write_number(r, ci["debit"], float(debit[i]), tf)
            ws.write_number(r, ci["credit"], float(credit[i]), tf)
            ws.write_number(r, ci["debit_acct"], float(dr_v[i]), af)
            ws.write_number(r, ci["credit_acct"], float(cr_v[i]), af)
            ws.set_row(r, None, None, {"level": 1})
            r += 1
        # the journal's subtotal, per accounting currency (one, unless a journal mixes entities)
        ccys = text["accounting_currency"][s:e]
        for ccy in dict.fromkeys(ccys):
            m = ccys == ccy
            dsum, csum = int(dr_acct[s:e][m].sum()), int(cr_acct[s:e][m].sum())
            sc = money.scale_of(ccy)
            af = xb.fmt(num_format=_fmt(sc), bold=True, top=1)
            for c in ("journal_type", "journal"):
                ws.write_string(r, ci[c], text[c][s], bold)
            if text["journal_type"][s] not in GROUP_TYPES:
                ws.write_string(r, ci["entity"], text["entity"][s], bold)
            for c in ("line", "date", "account", "account_name", *dims, "counterparty", "currency", "debit",
                      "credit", "source"):
                ws.write_blank(r, ci[c], None, bold)
            ws.write_number(r, ci["debit_acct"], float(money.from_minor(np.array([dsum]), sc)[0]), af)
            ws.write_number(r, ci["credit_acct"], float(money.from_minor(np.array([csum]), sc)[0]), af)
            ws.write_string(r, ci["accounting_currency"], ccy, bold)
            k = int(m.sum())
            diff = "" if dsum == csum else f"; debits less credits {money.fmt(dsum - csum, sc)}"
            ws.write_string(r, ci["description"], f"Total of journal {text['journal'][s]}: {k} line"
                            f"{'s' * (k != 1)}{diff}", bold)
            t = totals.setdefault((text["journal_type"][s] in GROUP_TYPES, ccy), [0, 0, 0])
            t[0] += dsum
            t[1] += csum
            t[2] += k
            r += 1
    grand = xb.fmt(bold=True, top=1, bottom=6)
    for (layer, ccy), (dsum, csum, k) in sorted(totals.items()):
        sc = money.scale_of(ccy)
        ws.write_string(r, ci["journal_type"], "Total", grand)
        ws.write_number(r, ci["debit_acct"], float(money.from_minor(np.array([dsum]), sc)[0]),
                        xb.fmt(num_format=_fmt(sc), bold=True, top=1, bottom=6))
        ws.write_number(r, ci["credit_acct"], float(money.from_minor(np.array([csum]), sc)[0]),
                        xb.fmt(num_format=_fmt(sc), bold=True, top=1, bottom=6))
        ws.write_string(r, ci["accounting_currency"], ccy, grand)
        what = f"All consolidation journals ({ccy}, group currency)" if layer else f"All entity journals in {ccy}"
        ws.write_string(r, ci["description"], f"{what}: {k} lines", grand)
        r += 1
    ws.outline_settings(True, False, True, False)  # subtotal rows below their lines
    ws.freeze_panes(1, 3)
    ws.autofilter(0, 0, max(r - 1, 1), len(cols) - 1)


def _fmt(scale: int) -> str:
    dec = "." + "0" * scale if scale > 0 else ""
    return f"#,##0{dec};-#,##0{dec};0{dec}"
