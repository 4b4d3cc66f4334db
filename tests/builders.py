"""Build small, typed books in tests without workbooks.

``make_book`` takes plain lists of rows (header first, like a sheet) and returns a
:class:`closebatch.book.Book` with the same typed columns and lineage the loader gives, so a
step can be tested as the pure function it is.  Amounts in ``opening``/``journals`` rows are
decimals; they are turned into minor units here.
"""
from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd

from closebatch.book import Book, Settings
from closebatch.context import CloseContext, LedgerState, Period
from closebatch.core import balance_key, make_lines
from closebatch.money import scales, to_minor

ACCOUNTS = [
    ["account", "name", "type", "revalue", "settle"],
    ["1000", "Cash", "Asset", False, False],
    ["1010", "Bank EUR", "Asset", True, False],
    ["1100", "Receivables", "Asset", True, False],
    ["1300", "Intercompany receivable", "Asset", True, False],
    ["1500", "Bank clearing", "Asset", False, True],
    ["1600", "Investment in subsidiaries", "Asset", False, False],
    ["1700", "Goodwill", "Asset", False, False],
    ["2000", "Payables", "Liability", True, False],
    ["2300", "Intercompany payable", "Liability", True, False],
    ["3000", "Share capital", "Equity", False, False],
    ["3100", "Retained earnings", "Equity", False, False],
    ["3900", "Translation reserve", "Equity", False, False],
    ["3950", "Non-controlling interests", "Equity", False, False],
    ["4000", "Revenue", "Revenue", False, False],
    ["5000", "Cost of sales", "Expense", False, False],
    ["6100", "Rent", "Expense", False, False],
    ["6200", "IT costs", "Expense", False, False],
    ["7900", "Unrealized FX gain", "Revenue", False, False],
    ["7910", "Unrealized FX loss", "Expense", False, False],
    ["7920", "Realized FX gain", "Revenue", False, False],
    ["7930", "Realized FX loss", "Expense", False, False],
    ["7950", "Intercompany difference", "Expense", False, False],
    ["8900", "Profit attributable to non-controlling interests", "Expense", False, False],
    ["9990", "Rounding", "Expense", False, False],
]

SETTINGS = dict(unrealized_gain_account="7900", unrealized_loss_account="7910",
                realized_gain_account="7920", realized_loss_account="7930",
                retained_earnings_account="3100", translation_reserve_account="3900",
                nci_account="3950", nci_profit_account="8900", rounding_account="9990")


def frame(rows, sheet="Sheet", file="test.xlsx") -> pd.DataFrame:
    """A frame from [header, row, ...] with lineage columns (Excel rows from 2)."""
    header, body = rows[0], rows[1:]
    df = pd.DataFrame([list(r) for r in body], columns=list(header), dtype=object)
    df["_file"] = file
    df["_sheet"] = sheet
    df["_row"] = np.arange(2, len(df) + 2, dtype="int64")
    df["source"] = df["_file"] + "!" + df["_sheet"] + "!" + df["_row"].astype(str)
    return df


def months(year=2026, first=1, last=12):
    rows = [["period", "start", "end", "fiscal_year", "status", "access_group"]]
    for m in range(first, last + 1):
        start = pd.Timestamp(year, m, 1)
        end = start + pd.offsets.MonthEnd(0)
        rows.append([f"{year}-{m:02d}", start, end, year, "Open", ""])
    return rows


def _lines(rows, entities: pd.DataFrame, dims, sheet, journal_type, date=None):
    df = frame(rows, sheet=sheet)
    cur = dict(zip(entities["entity"], entities["currency"]))
    n = len(df)
    get = lambda c, d="": df[c].fillna(d).to_numpy() if c in df else np.full(n, d, dtype=object)
    if "balance" in df:
        value = df["balance"].astype(float).to_numpy()
        acct = df["balance_acct"] if "balance_acct" in df else pd.Series([None] * n)
    else:
        value = df.get("debit", pd.Series([0] * n)).fillna(0).astype(float).to_numpy() - \
            df.get("credit", pd.Series([0] * n)).fillna(0).astype(float).to_numpy()
        acct = df["amount_acct"] if "amount_acct" in df else pd.Series([None] * n)
    ccy = get("currency")
    ent = get("entity")
    acct_ccy = np.array([cur[e] for e in ent], dtype=object)
    amount, _ = to_minor(value, scales(ccy))
    acct = pd.Series(acct.to_numpy(), dtype=object)
    acct_val = np.where(acct.isna(), value, acct.fillna(0).astype(float))
    same = ccy == acct_ccy
    if (acct.isna() & ~same).any():
        raise ValueError("test rows in a foreign currency need balance_acct/amount_acct")
    amount_acct, _ = to_minor(acct_val, scales(acct_ccy))
    dates = df["date"] if "date" in df else pd.Series([date] * n)
    out = make_lines(dims, journal=get("journal", "OPENING"), line=np.arange(1, n + 1), date=pd.to_datetime(dates),
                     entity=ent, account=get("account"), currency=ccy, amount=amount, amount_acct=amount_acct,
                     counterparty=get("counterparty"), reference=get("reference"),
                     journal_type=get("type", journal_type) if "type" in df else journal_type,
                     description=get("description"), source=df["source"].to_numpy(),
                     **{d: get(d) for d in dims})
    for c in ("_file", "_sheet", "_row"):
        out[c] = df[c].to_numpy()
    return out


def make_book(entities, accounts=ACCOUNTS, periods=None, settings=None, opening=None, journals=None,
              rates=None, **sheets) -> Book:
    """A Book from sheet-like rows.  ``entities`` rows: entity, name, currency[, parent, ownership]."""
    s = dict(SETTINGS)
    s.update(settings or {})
    dims = tuple(s.pop("dimensions", ()))
    ents = frame(entities, "Entities")
    for c, d in (("parent", ""), ("ownership", 1.0), ("consolidate", True)):
        if c not in ents:
            ents[c] = d
    ents["parent"] = ents["parent"].fillna("")
    ents["ownership"] = ents["ownership"].fillna(1.0).astype(float)
    if not s.get("group_currency"):
        s["group_currency"] = ents.loc[ents["parent"] == "", "currency"].iloc[0]
    accs = frame(accounts, "Accounts")
    for c, d in (("revalue", False), ("settle", False), ("translation", ""), ("revaluation_rate_type", ""),
                 ("statement_line", ""), ("control", "")):
        if c not in accs:
            accs[c] = d
    default_translation = {"Asset": "closing", "Liability": "closing", "Revenue": "average",
                           "Expense": "average", "Equity": "historical"}
    accs["translation"] = [t or default_translation[ty] for t, ty in zip(accs["translation"].fillna(""), accs["type"])]
    accs["statement_line"] = [l or n for l, n in zip(accs["statement_line"].fillna(""), accs["name"])]
    pers = frame(periods or months(), "Periods")
    for c in ("start", "end"):
        pers[c] = pd.to_datetime(pers[c]).astype("datetime64[ns]")
    pers["fiscal_year"] = pers["fiscal_year"].astype(int)
    pers["year_end"] = pers["fiscal_year"] != pers["fiscal_year"].shift(-1)
    first = pers["start"].iloc[0]
    op = _lines(opening, ents, dims, "TrialBalance", "opening", first) if opening else make_lines(dims)
    jr = _lines(journals, ents, dims, "Journals", "daily") if journals else make_lines(dims)
    if journals:
        jr["posted"] = True
        jr["reverse_on"] = pd.NaT
    rt = frame(rates or [["from", "to", "date", "rate", "type"]], "Rates")
    if len(rt):
        rt["date"] = pd.to_datetime(rt["date"]).astype("datetime64[ns]")
        rt["rate"] = rt["rate"].astype(float)
        rt["type"] = rt["type"].fillna("spot")
    else:
        rt = pd.DataFrame({"from": [], "to": [], "date": pd.Series([], dtype="datetime64[ns]"),
                           "rate": pd.Series([], dtype=float), "type": [], "source": []})
    kinds = ("allocations", "statistics", "eliminations", "historical_rates", "subledgers", "tasks", "users",
             "statements")
    extra = {k: frame(sheets[k], k) if k in sheets else pd.DataFrame() for k in kinds}
    return Book(settings=Settings(dimensions=dims, **{k: (Decimal(str(v)) if k == "rounding_tolerance" else v)
                                                      for k, v in s.items()}),
                entities=ents, accounts=accs, periods=pers, opening=op, journals=jr, rates=rt, **extra)


def period(book: Book, name: str) -> Period:
    p = book.periods.reset_index(drop=True)
    i = int(p.index[p["period"] == name][0])
    r = p.iloc[i]
    return Period(name=name, start=r["start"], end=r["end"], fiscal_year=int(r["fiscal_year"]), index=i,
                  year_end=bool(r["year_end"]), year_start=i == 0 or p["fiscal_year"].iloc[i - 1] != r["fiscal_year"])


def state_for(book: Book, name: str, carried=None) -> tuple[CloseContext, LedgerState]:
    """Context and state for closing ``name`` straight from the opening balance and the
    journals dated in that period (earlier periods' journals are folded into the opening)."""
    per = period(book, name)
    key = balance_key(book.dims)
    before = book.journals[book.journals["date"] < per.start] if len(book.journals) else book.journals
    inside = book.journals[(book.journals["date"] >= per.start) & (book.journals["date"] <= per.end)] \
        if len(book.journals) else book.journals
    opening = pd.concat([book.opening[key + ["amount", "amount_acct"]], before[key + ["amount", "amount_acct"]]])
    opening = opening.groupby(key, as_index=False, sort=True)[["amount", "amount_acct"]].sum()
    settle = frozenset(book.accounts.loc[book.accounts["settle"].astype(bool), "account"])
    return CloseContext(book=book, period=per), LedgerState(book.dims, opening, inside.reset_index(drop=True),
                                                           carried or {}, settle)
