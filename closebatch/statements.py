"""Financial statements (spec section 3, step 9): balance sheet, income statement, statement
of comprehensive income, statement of changes in equity and cash flow statement.

Pure: frames in, :class:`Statement` tables and findings out; the workbook is
:mod:`closebatch.io.statements_writer`'s job.  A statement is made for every entity (in its
accounting currency, from the entity ledger) and for the group (in the group currency, from
the consolidation's ``Consolidated`` balances, which already hold eliminations, the
translation reserve and non-controlling interests).

**Figures.**  Every figure is a balance at a period end, before the year-end closing entries
(:class:`Snapshot`): balance-sheet accounts cumulative, Revenue/Expense accounts fiscal year
to date.  A period's *movement* on a Revenue/Expense account is its year to date less the
previous period's (the whole year to date in the first period of a fiscal year); the
entity's movement in the period being closed comes straight from the lines it posted.
Amounts are int64 minor units, debit positive (*raw*); a row shows ``sign × raw``.

**Columns.**  Balance sheet: this period end, prior period end, same period end last year.
Income statement: this period, year to date, prior period, same period last year, last year
to date.  A comparative column appears only when the ledger holds the periods it needs
(``history``: snapshots of earlier closes, loaded by the caller).

**Rows.**  Without a ``Statements`` sheet the rows follow the account types and each account's
``statement_line`` (accounts sharing a line are added): assets (shown as they stand), then
liabilities and equity (credit balances shown positive, with the profit for the period as an
equity line, since the year-end close has not moved it yet); revenue (credit positive) and
expenses, down to the profit for the period.  The group statements show the profit
attributable to owners of the parent and to non-controlling interests (the
``nci_profit_account`` holds the latter; it is not an expense of the group) and, in equity,
the ``nci_account`` apart from the owners' equity.  Lines that are zero in every column are
left out.  With a ``Statements`` sheet its rows are used as given, in ``row`` order: a row
with ``accounts`` shows ``sign ×`` their balance; a row with ``total_of`` adds the ledger
amounts (debit positive) of the rows it names and shows them with its own ``sign`` (so
``Revenue`` (sign −1) and ``Expenses`` (sign 1) total, with sign −1, to the profit); a row
with neither is a heading.

**Checks.**  The balance sheet's rows with accounts must add up, in ledger terms, to zero:
assets = liabilities + equity + profit for the period (before the year-end close).  The
income statement's rows with accounts must add up to the profit of the trial balance.  A
difference in any column is an ERROR finding (``statement-unbalanced``,
``statement-incomplete``); with a ``Statements`` sheet, an account with a balance that is in no
row, or in two, is named (``statement-account-missing``, ``statement-account-twice``).

**The first period.**  The balance sheet of the calendar's first period compares with the
opening balance sheet (the day before the calendar starts): an entity's is its closing
balances less the period's lines; the group's is a consolidation of the opening balances
(``close.opening_consolidation``), its profit or loss in retained earnings.

**Statements of movements** (IAS 1.81A-106, IAS 7; ASC 220, 230, 215).  Each close measures its
period's movements once, per unit, with :func:`period_flows`, and carries them
(``carry_statement_flows`` in ``ledger/``) with the year to date (the previous close's plus the
period's); the comparative columns of later closes are those carried figures.  Amounts are
shown credit positive for equity and profit, inflow positive for cash.

* *Comprehensive income*: the profit for the period (as the income statement), other
  comprehensive income, total comprehensive income; for the group each attributable to owners
  and to non-controlling interests (NCI).  The group's OCI is the period's translation
  difference as the consolidation reports it (``CTA``: ``cta_movement``, of which NCI
  ``cta_nci_movement``); an entity's is the movement of ``translation_reserve_account`` in its
  own books (nil for most).  Checked: the profit against the trial balance; the group owners'
  OCI against the movement of the reserve in the consolidated balance sheets.
* *Changes in equity*: a column per statement line of the Equity accounts (retained earnings
  take the profit of the year to date, since the year-end close has not moved it), the owners'
  total, NCI, total equity; rows opening, profit, OCI, total comprehensive income, other
  movements (what remains: capital, dividends, equity postings), closing; a block for the
  period and, after a fiscal year's first period, one for the year to date from the last
  year's closing.  Checked: opening and closing total against the balance sheets' equity.
* *Cash flows*, indirect method: profit before the year-end close, then the movement of every
  balance-sheet account that is not ``cash_flow = cash``, one line per activity (the account's
  ``cash_flow``: operating, investing, financing) and statement line (the accounts' names when
  one statement line is split over several activities); then the change in cash, cash at the
  start, the effect of exchange rates on cash, cash at the end.  Revaluation posted on cash
  accounts (unrealized exchange differences in profit) is taken out of operating and shown as
  the effect of exchange rates (IAS 7.28).  Checked: cash at the start and at the end against
  the cash accounts of the balance sheets.

**The group's cash flows** are measured in group currency on the consolidated balances (start:
the previous close's, carried as ``carry_group_balances``, the year's profit moved to retained
earnings at a fiscal year's start; at the calendar's first period, the opening consolidation),
so eliminated intercompany balances and flows are absent.  Each non-cash balance-sheet account's
line is its consolidated movement *less its translation difference*: for each foreign entity
and closing-rate account, ``translated movement - round(movement in the entity's currency x the
period's average rate)``.  So every line is the entity's movement at the average rate (IAS 7.25-
27) and translation differences are no cash flow.  Left out: the translation reserve (its
movement is OCI), goodwill (an investment rule's ``difference_account``: its movement is
translation), and accounts eliminated in full (nil in the group at both ends).  NCI's line is its
movement less its share of profit and of OCI: dividends to and capital from minorities.  The
effect of exchange rates on cash = the translation difference of the cash accounts (opening cash
x (closing - opening rate) + the period's cash movement x (closing - average rate)) plus the
revaluation of the entities' foreign-currency cash at the average rate.  What remains is one
operating line, "intercompany exchange differences, rounding (non-cash)": the translation
differences of eliminated intercompany balances (their counterpart, an exchange gain or loss or
an intercompany difference, is in profit) and the rounding of the average-rate translation
(minor units).  At the first period the opening consolidation may hold a reserve differing
(by rounding, or as given) from the one HistoricalRates gives, and consolidation income and
expense of the opening layer that the first close did not move to retained earnings (it moves
them: :func:`closebatch.close.consolidation_step`): both are shown on their own row ("Consolidation differences
at the start of the calendar") of the changes in equity and of the cash flows.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import money
from . import accounts
from .book import Book
from .context import Period
from .core import ERROR, WARNING, Finding

GROUP = ""  # unit code of the consolidated statements
BALANCE_SHEET, INCOME_STATEMENT = "balance_sheet", "income_statement"
KIND_TITLE = {BALANCE_SHEET: "Balance sheet", INCOME_STATEMENT: "Income statement"}
PL_TYPES = ("Revenue", "Expense")


# --------------------------------------------------------------------------- values

@dataclass(frozen=True)
class Snapshot:
    """Balances at one period end, before year-end closing entries.

    ``entity``: entity, account, amount_acct (minor units of the entity's currency);
    ``group``: account, balance_group (minor units of the group currency), None when the
    period's consolidated balances are not known; ``flows``: the period's carried figures of
    the statements of movements (:func:`period_flows`), None when its close carried none."""

    period: str
    entity: pd.DataFrame | None = None
    group: pd.DataFrame | None = None
    flows: pd.DataFrame | None = None


@dataclass(frozen=True)
class Column:
    key: str  # end, prior_end, last_year_end | period, ytd, prior, last_year, last_ytd
    caption: str  # "This period"
    period: str  # the period whose figures the column shows
    label: str  # the date of a balance ("31 Jan 2026") or the period of a movement ("2026-01")

    @property
    def title(self) -> str:
        return f"{self.caption} {self.label}"


@dataclass
class Row:
    label: str
    kind: str  # heading, line, subtotal, total
    values: list  # per column: int minor units, or None (not available)
    accounts: str = ""  # the accounts behind the row, for the reader
    indent: int = 0


@dataclass(frozen=True)
class Check:
    column: str  # the column's title, e.g. "Year to date 2026-01"
    expected_label: str
    expected: int  # from the trial balance (display terms)
    shown_label: str
    shown: int
    difference: int  # 0 when the statement is right
    severity: str = ERROR  # a difference is an error, or (where the inputs explain it) a warning


@dataclass
class Chart:
    kind: str  # trend (revenue and expenses by period) or composition (balance sheet)
    title: str
    categories: list
    series: list  # [(name, [int minor units or None per category])]


@dataclass
class Statement:
    unit: str  # entity code, GROUP for the consolidated statements
    name: str  # "Northwind Holdings Inc. (US)", "Group (consolidated)"
    kind: str  # balance_sheet | income_statement
    title: str  # "Balance sheet at 31 January 2026"
    period: str
    currency: str
    columns: list
    rows: list
    checks: list
    charts: list = field(default_factory=list)
    layout: str = "accounts"  # accounts | Statements sheet
    year_end: bool = False  # the period is the last of its fiscal year
    note: str = ""  # a remark printed under the statement

    @property
    def scale(self) -> int:
        return money.scale_of(self.currency)

    @property
    def balanced(self) -> bool:
        return all(c.difference == 0 for c in self.checks)


# --------------------------------------------------------------------------- calendar

class _Calendar:
    def __init__(self, periods: pd.DataFrame):
        p = periods.reset_index(drop=True)
        self.names = list(p["period"])
        self.fy = dict(zip(p["period"], p["fiscal_year"].astype(int)))
        self.end = dict(zip(p["period"], pd.to_datetime(p["end"])))
        self.start = dict(zip(p["period"], pd.to_datetime(p["start"])))
        self.pos = {n: i for i, n in enumerate(self.names)}

    def prev(self, name: str) -> str | None:
        i = self.pos.get(name, 0)
        return self.names[i - 1] if i > 0 else None

    def year_start(self, name: str) -> bool:
        p = self.prev(name)
        return p is None or self.fy[p] != self.fy[name]

    def of_year(self, fy: int) -> list[str]:
        return [n for n in self.names if self.fy[n] == fy]

    def last_year(self, name: str) -> str | None:
        """The period holding the date one year before ``name``'s end (31 Jan 2027: the period
        of 31 Jan 2026), when the calendar has it."""
        target = self.end[name] - pd.DateOffset(years=1)
        for n in self.names[: self.pos[name]]:
            if self.start[n] <= target <= self.end[n]:
                return n
        return None


def _date(ts) -> str:
    ts = pd.Timestamp(ts)
    return f"{ts.day} {ts:%b %Y}"


def _long_date(ts) -> str:
    ts = pd.Timestamp(ts)
    return f"{ts.day} {ts:%B %Y}"


# --------------------------------------------------------------------------- figures

class _Figures:
    """Raw balances (Series account -> int) of one unit at each period end, and movements."""

    def __init__(self, unit: str, snaps: dict, cal: _Calendar, current: str, movement: pd.Series | None,
                 pl_accounts: set):
        self.unit, self.snaps, self.cal, self.current = unit, snaps, cal, current
        self._movement, self.pl = movement, pl_accounts
        self._cache: dict = {}

    def at(self, period: str | None) -> pd.Series | None:
        if period is None:
            return None
        if period not in self._cache:
            s = self.snaps.get(period)
            out = None
            if s is not None and self.unit == GROUP and s.group is not None:
                out = s.group.groupby("account")["balance_group"].sum().astype("int64")
            elif s is not None and self.unit != GROUP and s.entity is not None:
                e = s.entity[s.entity["entity"] == self.unit]
                out = e.groupby("account")["amount_acct"].sum().astype("int64")
            self._cache[period] = out
        return self._cache[period]

    def ytd(self, period: str | None) -> pd.Series | None:
        s = self.at(period)
        return None if s is None else s[s.index.isin(self.pl)]

    def movement(self, period: str | None) -> pd.Series | None:
        if period is None:
            return None
        if period == self.current and self._movement is not None:
            return self._movement[self._movement.index.isin(self.pl)]
        now = self.ytd(period)
        if now is None or self.cal.year_start(period):
            return now
        before = self.ytd(self.cal.prev(period))
        if before is None:
            return None
        return now.sub(before, fill_value=0).astype("int64")


def _columns(kind: str, fig: _Figures, cal: _Calendar, per: str) -> list[tuple[Column, pd.Series]]:
    prior, ly = cal.prev(per), cal.last_year(per)
    if kind == BALANCE_SHEET:
        want = [("end", "This period", per, fig.at(per)), ("prior_end", "Prior period", prior, fig.at(prior)),
                ("last_year_end", "Same period last year", ly, fig.at(ly))]
        out = [(Column(k, cap, p, _date(cal.end[p])), s) for k, cap, p, s in want if s is not None]
        if prior is None and fig.at(OPENING) is not None:  # the first period: the opening balance sheet
            start = cal.start[per] - pd.Timedelta(days=1)
            out.append((Column("opening", "Opening balance", per, _date(start)), fig.at(OPENING)))
        return out
    want = [("period", "This period", per, fig.movement(per)), ("ytd", "Year to date", per, fig.ytd(per)),
            ("prior", "Prior period", prior, fig.movement(prior)),
            ("last_year", "Same period last year", ly, fig.movement(ly)),
            ("last_ytd", "Last year to date", ly, fig.ytd(ly))]
    return [(Column(k, cap, p, p), s) for k, cap, p, s in want if s is not None]


# --------------------------------------------------------------------------- layouts

@dataclass
class _Spec:
    label: str
    kind: str  # heading, line, subtotal, total
    accounts: tuple = ()
    parts: tuple = ()  # indices of the rows a total adds
    sign: int = 1
    leaf: bool = False  # counted in the statement's check
    indent: int = 0
    optional: bool = False  # left out when zero in every column
    origin: dict | None = None  # the Statements row (lineage)


def _natural(code: str):
    return (0, int(code), code) if code.isdigit() else (1, 0, code)


class _Chart:
    """The chart of accounts as the layouts need it."""

    def __init__(self, book: Book):
        acc = book.accounts.drop_duplicates("account")
        self.type = dict(zip(acc["account"], acc["type"]))
        self.name = dict(zip(acc["account"], acc["name"]))
        line = acc["statement_line"] if "statement_line" in acc else acc["name"]
        self.line = {a: (str(l) if str(l) else str(n)) for a, l, n in zip(acc["account"], line.fillna(""), acc["name"])}
        self.codes = sorted(self.type, key=_natural)
        self.pl = {a for a, t in self.type.items() if t in PL_TYPES}
        st = book.settings
        self.nci = str(st.nci_account or "")
        self.nci_profit = str(st.nci_profit_account or "")


def _lines_of(chart: _Chart, accounts, sign: int, indent=1) -> list[_Spec]:
    """One line per statement_line, in the order of their lowest account code."""
    groups: dict[str, list[str]] = {}
    for a in sorted(accounts, key=_natural):
        groups.setdefault(chart.line.get(a, a), []).append(a)
    return [_Spec(label, "line", tuple(accs), sign=sign, leaf=True, indent=indent, optional=True)
            for label, accs in groups.items()]


def _section(specs: list, heading: str, lines: list[_Spec], total: str, sign: int) -> int:
    """Append a heading, its lines and their total; returns the total's index."""
    if lines:
        specs.append(_Spec(heading, "heading"))
    start = len(specs)
    specs.extend(lines)
    specs.append(_Spec(total, "subtotal", parts=tuple(range(start, len(specs))), sign=sign))
    return len(specs) - 1


def _sections(chart: _Chart, accounts, types) -> dict[str, list[str]]:
    """Accounts of ``types`` by the section their statement line goes to: a line shared by
    accounts of several types (FX gains and losses on one "Foreign exchange result" line) is
    one line, netted, in the section of its lowest account code."""
    accs = sorted((a for a in accounts if chart.type.get(a) in types), key=_natural)
    home: dict[str, str] = {}
    out: dict[str, list[str]] = {t: [] for t in types}
    for a in accs:
        line = chart.line.get(a, a)
        home.setdefault(line, chart.type[a])
        out[home[line]].append(a)
    return out


def _default_balance_sheet(chart: _Chart, accounts: set, group: bool) -> list[_Spec]:
    sections = _sections(chart, [a for a in accounts if not (group and chart.nci and a == chart.nci)],
                         ("Asset", "Liability", "Equity"))
    by = lambda t: sections[t]
    specs: list[_Spec] = []
    _section(specs, "Assets", _lines_of(chart, by("Asset"), 1), "Total assets", 1)
    liab = _section(specs, "Liabilities", _lines_of(chart, by("Liability"), -1), "Total liabilities", -1)
    nci = group and chart.nci and chart.nci in accounts
    equity = _lines_of(chart, by("Equity"), -1)
    profit_label = "Profit for the period attributable to owners" if nci else "Profit for the period"
    equity.append(_Spec(profit_label, "line", tuple(sorted(chart.pl & accounts, key=_natural)), sign=-1, leaf=True,
                        indent=1, optional=True))
    specs.append(_Spec("Equity", "heading"))
    start = len(specs)
    specs.extend(equity)
    if nci:
        specs.append(_Spec("Equity attributable to owners of the parent", "subtotal",
                           parts=tuple(range(start, len(specs))), sign=-1))
        owners = len(specs) - 1
        specs.append(_Spec("Non-controlling interests", "line", (chart.nci,), sign=-1, leaf=True, indent=1))
        specs.append(_Spec("Total equity", "subtotal", parts=(owners, len(specs) - 1), sign=-1))
    else:
        specs.append(_Spec("Total equity", "subtotal", parts=tuple(range(start, len(specs))), sign=-1))
    eq_total = len(specs) - 1
    specs.append(_Spec("Total liabilities and equity", "total", parts=(liab, eq_total), sign=-1))
    return specs


def _default_income_statement(chart: _Chart, accounts: set, group: bool, has_nci: bool) -> list[_Spec]:
    specs: list[_Spec] = []
    skip = chart.nci_profit if group else None
    sections = _sections(chart, [a for a in accounts if a != skip], PL_TYPES)
    rev = _section(specs, "Revenue", _lines_of(chart, sections["Revenue"], -1), "Total revenue", -1)
    exp = _section(specs, "Expenses", _lines_of(chart, sections["Expense"], 1), "Total expenses", 1)
    specs.append(_Spec("Profit for the period", "total", parts=(rev, exp), sign=-1))
    if group and has_nci:
        specs.append(_Spec("Profit attributable to:", "heading"))
        specs.append(_Spec("Owners of the parent", "line", tuple(sorted(chart.pl | {chart.nci_profit}, key=_natural)),
                           sign=-1, indent=1))
        specs.append(_Spec("Non-controlling interests", "line", (chart.nci_profit,), sign=1, indent=1))
    return specs


def _account_set(spec: str, chart: _Chart) -> tuple[list[str], list[str]]:
    """Accounts named by a code, a range ``4000-4999`` or a list of either
    (:func:`closebatch.accounts.select`)."""
    sel = accounts.select(spec, chart.codes)
    return list(sel.accounts), list(sel.bad)


def _text(v) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def _where(book: Book, r: dict, column: str) -> dict:
    if r.get("_file") is not None and r.get("_row") is not None:
        try:
            return book.locate(r, column)
        except Exception:  # noqa: BLE001 - lineage of a hand-built frame
            pass
    return {"sheet": "Statements", "column": column}


def _defined(book: Book, kind: str, chart: _Chart, findings: list) -> list[_Spec] | None:
    """The Statements sheet's rows of ``kind`` as specs, or None when it defines none."""
    d = book.statements
    if d is None or not len(d) or "statement" not in d:
        return None
    d = d[d["statement"].astype(str).str.strip().str.lower() == kind]
    if not len(d):
        return None
    recs = sorted(d.to_dict("records"), key=lambda r: int(r["row"]))
    index = {int(r["row"]): i for i, r in enumerate(recs)}
    specs = []
    for r in recs:
        accounts, total_of = _text(r.get("accounts")), _text(r.get("total_of"))
        sign = r.get("sign")
        sign = 1 if sign is None or (isinstance(sign, float) and np.isnan(sign)) else int(sign)
        if sign not in (1, -1):
            findings.append(Finding(WARNING, f"Statements row {r['row']} ({kind}): sign {sign} is neither 1 nor -1; "
                                    f"{1 if sign > 0 else -1} is used.", hint="Write 1 to show the ledger amount, "
                                    "-1 to show credit balances positive.", code="statement-sign",
                                    value=str(sign), **_where(book, r, "sign")))
            sign = 1 if sign > 0 else -1
        label = _text(r.get("label"))
        if accounts and total_of:
            findings.append(Finding(ERROR, f"Statements row {r['row']} ({kind}, {label}) gives both accounts and "
                                    "total_of.", hint="A row shows either accounts or a total of other rows: clear "
                                    "one of the two cells.", code="statement-row-invalid", value=total_of,
                                    **_where(book, r, "total_of")))
        if accounts:
            accs, bad = _account_set(accounts, chart)
            if bad:
                findings.append(Finding(ERROR, f"Statements row {r['row']} ({kind}, {label}): {', '.join(bad)} "
                                        "is not an account or range of the chart of accounts.",
                                        hint="Name accounts of the Accounts sheet: a code, a range such as "
                                             "4000-4999, or a comma-separated list.", code="statement-row-invalid",
                                        value=accounts, **_where(book, r, "accounts")))
            specs.append(_Spec(label, "line", tuple(accs), sign=sign, leaf=True, indent=1, origin=r))
        elif total_of:
            parts, bad = [], []
            for t in [x.strip() for x in re.split(r"[,;]", total_of) if x.strip()]:
                try:
                    n = int(float(t))
                except ValueError:
                    n = None
                (parts if n in index else bad).append(index.get(n, t))
            if bad:
                findings.append(Finding(ERROR, f"Statements row {r['row']} ({kind}, {label}): total_of names "
                                        f"{', '.join(map(str, bad))}, which is not a {kind} row.",
                                        hint="List row numbers of the same statement, e.g. 10, 20.",
                                        code="statement-row-invalid", value=total_of, **_where(book, r, "total_of")))
            specs.append(_Spec(label, "total", parts=tuple(parts), sign=sign, origin=r))
        else:
            specs.append(_Spec(label, "heading", origin=r))
    return specs


# --------------------------------------------------------------------------- evaluation

def _raw(specs: list[_Spec], fig: pd.Series, findings: list, book: Book, kind: str) -> list[int]:
    out: dict[int, int] = {}
    # whole minor units (the usual figures) as a lookup: a reindex per line cost a quarter of a millisecond
    exact = fig.to_dict() if pd.api.types.is_integer_dtype(fig.dtype) else None

    def value(i: int, seen: frozenset) -> int:
        if i in out:
            return out[i]
        s = specs[i]
        if i in seen:
            findings.append(Finding(ERROR, f"Statements row {s.origin.get('row') if s.origin else i} ({kind}) "
                                    "totals itself through total_of.", hint="Remove the loop from total_of.",
                                    code="statement-row-invalid", **(_where(book, s.origin, "total_of")
                                                                       if s.origin else {})))
            return 0
        if s.kind == "line" and exact is not None:
            v = sum(int(exact.get(a, 0)) for a in s.accounts)
        elif s.kind == "line":
            v = int(fig.reindex(list(s.accounts)).fillna(0).sum()) if s.accounts else 0
        elif s.kind in ("subtotal", "total"):
            v = sum(value(j, seen | {i}) for j in s.parts)
        else:
            v = 0
        out[i] = v
        return v

    return [value(i, frozenset()) for i in range(len(specs))]


def _statement(unit: str, name: str, kind: str, currency: str, per: Period, specs: list[_Spec],
               cols: list[tuple[Column, pd.Series]], scope: set, layout: str, chart: _Chart, book: Book,
               findings: list) -> Statement:
    raws = []
    loops: list = []
    for _, fig in cols:
        raws.append(_raw(specs, fig, loops if not raws else [], book, kind))
    findings.extend({(f.message, f.cell): f for f in loops}.values())
    rows = []
    for i, s in enumerate(specs):
        vals = [None if s.kind == "heading" else s.sign * r[i] for r in raws]
        if s.optional and all(not v for v in vals):
            continue
        accs = _describe(s.accounts) if s.kind == "line" else ""
        rows.append(Row(s.label, s.kind, vals, accs, s.indent))
    if layout == "accounts":  # a heading whose lines were all zero goes too
        rows = [r for k, r in enumerate(rows)
                if not (r.kind == "heading" and (k + 1 == len(rows) or rows[k + 1].kind != "line"))]
    checks = []
    for (col, fig), raw in zip(cols, raws):
        leaves = sum(raw[i] for i, s in enumerate(specs) if s.leaf)
        if kind == BALANCE_SHEET:
            # assets - (liabilities + equity + profit) = the sum of the rows' ledger amounts
            assets = int(fig[fig.index.map(lambda a: chart.type.get(a, "") == "Asset").to_numpy(bool)].sum())
            checks.append(Check(col.title, "Total assets (trial balance)", assets,
                                "Liabilities, equity and profit (rows of the statement)", assets - leaves, leaves))
        else:
            tb_profit = -int(fig[fig.index.isin(scope)].sum())
            checks.append(Check(col.title, "Profit for the period (trial balance)", tb_profit,
                                "Profit for the period (rows of the statement)", -leaves, tb_profit + leaves))
    title = f"{KIND_TITLE[kind]} at {_long_date(per.end)}" if kind == BALANCE_SHEET else \
        f"{KIND_TITLE[kind]} for the period ended {_long_date(per.end)}"
    return Statement(unit, name, kind, title, per.name, currency, [c for c, _ in cols], rows, checks, [], layout,
                     per.year_end)


def _describe(accounts) -> str:
    """Account codes as a short text: runs of consecutive chart codes are not guessed, only listed."""
    accs = list(accounts)
    if len(accs) > 6:
        return f"{accs[0]} … {accs[-1]} ({len(accs)} accounts)"
    return ", ".join(accs)


def _coverage(kind: str, specs: list[_Spec], figs: dict, chart: _Chart, book: Book, findings: list) -> None:
    """Accounts with a balance in no row, or in two rows, of a Statements-sheet layout."""
    rows_of: dict[str, list[_Spec]] = {}
    for s in specs:
        if s.kind == "line":
            for a in s.accounts:
                rows_of.setdefault(a, []).append(s)
    wanted = ("Asset", "Liability", "Equity") if kind == BALANCE_SHEET else PL_TYPES
    pl_in_bs = kind == BALANCE_SHEET and any(a in chart.pl for a in rows_of)
    first = next((s.origin for s in specs if s.origin), None)
    missing: dict[str, list[str]] = {}
    twice: dict[str, list[str]] = {}
    for unit, series in figs.items():
        for fig in series:
            for a, v in fig[fig != 0].items():
                t = chart.type.get(a, "")
                if t in wanted or (pl_in_bs and t in PL_TYPES):
                    n = len(rows_of.get(a, []))
                    if n == 0:
                        missing.setdefault(a, [])
                        if unit not in missing[a]:
                            missing[a].append(unit)
                    elif n > 1:
                        twice.setdefault(a, [])
    for a, units in missing.items():
        who = ", ".join(u or "the group" for u in units)
        findings.append(Finding(ERROR, f"Account {a} ({chart.name.get(a, '')}) has a balance ({who}) but is in no "
                                f"{kind} row of the Statements sheet, so the {KIND_TITLE[kind].lower()} would not "
                                "add up.", hint=f"Add {a} to the accounts of one {kind} row.",
                                code="statement-account-missing", value=a,
                                **(_where(book, first, "accounts") if first else {"sheet": "Statements"})))
    for a in twice:
        rows = rows_of[a]
        nums = ", ".join(str(s.origin.get("row")) for s in rows if s.origin)
        findings.append(Finding(ERROR, f"Account {a} ({chart.name.get(a, '')}) is in {kind} rows {nums} of the "
                                "Statements sheet: its balance would be counted twice.",
                                hint=f"Keep {a} in the accounts of one {kind} row only.",
                                code="statement-account-twice", value=a, **_where(book, rows[-1].origin, "accounts")))
    if kind == BALANCE_SHEET and not pl_in_bs:
        for unit, series in figs.items():
            if any(int(f[f.index.isin(chart.pl)].sum()) for f in series):
                findings.append(Finding(ERROR, "The balance_sheet rows of the Statements sheet do not show the profit "
                                        "for the period (the Revenue and Expense accounts), which belongs to equity "
                                        "until the year-end close.", hint="Add a balance_sheet row such as 'Profit "
                                        "for the period' with the Revenue and Expense accounts (e.g. 4000-9999) and "
                                        "sign -1.", code="statement-account-missing",
                                        **(_where(book, first, "accounts") if first else {"sheet": "Statements"})))
                break


def _unbalanced(st: Statement, book: Book) -> Finding | None:
    bad = [c for c in st.checks if c.difference]
    if not bad:
        return None
    c = bad[0]
    sc = st.scale
    cols = ", ".join(b.column for b in bad)
    where = {"sheet": "Statements"} if st.layout != "accounts" else {}
    if st.kind not in (BALANCE_SHEET, INCOME_STATEMENT):
        worst = ERROR if any(b.severity == ERROR for b in bad) else WARNING
        c = next(b for b in bad if b.severity == worst)
        hint = ("The opening translation reserve (HistoricalRates, translation_reserve_account, amount_group) does "
                "not match the opening balance sheet at the rate of the start of the calendar; see the Checks sheet."
                if worst == WARNING else "See the Checks sheet of statements.xlsx; the statement does not agree with "
                "the balance sheet it explains.")
        return Finding(worst, f"The {KIND_TITLE[st.kind].lower()} of {st.name} does not agree ({cols}): "
                       f"{c.shown_label} {money.fmt(c.shown, sc)} {st.currency}, {c.expected_label} "
                       f"{money.fmt(c.expected, sc)} (difference {money.fmt(c.difference, sc)}) in {c.column}.",
                       hint=hint, code="statement-disagrees", value=money.fmt(c.difference, sc))
    if st.kind == BALANCE_SHEET:
        return Finding(ERROR, f"The balance sheet of {st.name} does not balance ({cols}): assets less liabilities, "
                       f"equity and profit for the period leave {money.fmt(c.difference, sc)} {st.currency} in "
                       f"{c.column} (total assets per trial balance {money.fmt(c.expected, sc)}).",
                       hint="Every account with a balance must be in exactly one row; see the other findings, or "
                            "the Checks sheet of statements.xlsx.", code="statement-unbalanced",
                       value=money.fmt(c.difference, sc), **where)
    return Finding(ERROR, f"The income statement of {st.name} does not add up ({cols}): its rows give a profit of "
                   f"{money.fmt(c.shown, sc)} {st.currency} in {c.column}, the trial balance "
                   f"{money.fmt(c.expected, sc)}.", hint="Every Revenue and Expense account with a balance must be in "
                   "exactly one row; see the other findings.", code="statement-incomplete",
                   value=money.fmt(c.difference, sc), **where)


# --------------------------------------------------------------------------- charts

def _trend(fig: _Figures, cal: _Calendar, per: Period, chart: _Chart, group: bool) -> Chart | None:
    """Revenue and expenses of each period of the fiscal year so far (two periods at least)."""
    cats, rev, exp = [], [], []
    skip = chart.nci_profit if group else None
    for p in cal.of_year(per.fiscal_year):
        if cal.pos[p] > cal.pos[per.name]:
            break
        m = fig.movement(p)
        if m is None:
            continue
        types = m.index.map(lambda a: chart.type.get(a, ""))
        cats.append(p)
        rev.append(-int(m[types == "Revenue"].sum()))
        exp.append(int(m[(types == "Expense") & (m.index != skip)].sum()))
    if len(cats) < 2:
        return None
    return Chart("trend", f"Revenue and expenses by period, fiscal year {per.fiscal_year}", cats,
                 [("Revenue", rev), ("Expenses", exp)])


def _composition(fig: pd.Series, chart: _Chart, per: Period) -> Chart:
    types = fig.index.map(lambda a: chart.type.get(a, ""))
    assets = int(fig[types == "Asset"].sum())
    liab = -int(fig[types == "Liability"].sum())
    equity = -int(fig[types.isin(["Equity", *PL_TYPES])].sum())
    return Chart("composition", f"Balance sheet at {_date(per.end)}", ["Assets", "Liabilities and equity"],
                 [("Assets", [assets, None]), ("Liabilities", [None, liab]), ("Equity", [None, equity])])


# --------------------------------------------------------------------------- entry points

def entity_balances(balances: pd.DataFrame) -> pd.DataFrame:
    """entity, account, amount_acct from a balances or lines frame."""
    if balances is None or not len(balances):
        return pd.DataFrame({"entity": pd.Series([], dtype=object), "account": pd.Series([], dtype=object),
                             "amount_acct": pd.Series([], dtype="int64")})
    return balances.groupby(["entity", "account"], as_index=False, sort=True)["amount_acct"].sum()


def build(book: Book, per: Period, balances: pd.DataFrame, *, group: pd.DataFrame | None = None,
          movement: pd.DataFrame | None = None, history: dict | None = None,
          entities=(), flows: pd.DataFrame | None = None) -> tuple[list[Statement], list[Finding]]:
    """Every statement of the close of ``per``.

    ``balances``: the period-end balances (a lines or balances frame with entity, account,
    amount_acct), before year-end closing entries; ``group``: the consolidation's
    ``Consolidated`` frame (account, balance_group), None without a consolidation;
    ``movement``: the lines posted in the period (for the entities' "this period"); ``history``:
    :class:`Snapshot` of earlier periods by name (comparatives and charts); ``entities``: limit
    the entity statements to these (a partial close); ``flows``: this period's figures of the
    statements of movements (:func:`period_flows`); without them only the balance sheet and
    the income statement are made.
    """
    findings: list[Finding] = []
    cal = _Calendar(book.periods)
    chart = _Chart(book)
    snaps = dict(history or {})
    carried = _FlowIndex()
    snaps[per.name] = Snapshot(per.name, entity_balances(balances),
                               group[["account", "balance_group"]] if group is not None and len(group) else None,
                               flows)
    opening = _opening_snapshot(cal, per, snaps)
    if opening is not None:
        snaps[OPENING] = opening
    acc = _Accounts(book)
    ent_ccy = book.entity_currency()
    names = dict(zip(book.entities["entity"], book.entities["name"]))
    present = set(snaps[per.name].entity["entity"])
    order = [e for e in book.entities["entity"] if e in present and (not entities or e in entities)]
    units = ([GROUP] if snaps[per.name].group is not None else []) + order
    top = book.entities[book.entities["parent"].fillna("") == ""]
    gcur = book.settings.group_currency or (str(top["currency"].iloc[0]) if len(top) else "")
    group_name = f"{top['name'].iloc[0]} (consolidated)" if len(top) == 1 else "Group (consolidated)"
    mov = entity_balances(movement) if movement is not None else None
    defined = {k: _defined(book, k, chart, findings) for k in (BALANCE_SHEET, INCOME_STATEMENT)}
    statements: list[Statement] = []
    used: dict = {BALANCE_SHEET: {}, INCOME_STATEMENT: {}}
    for unit in units:
        group_unit = unit == GROUP
        m = None
        if mov is not None and not group_unit:
            sub = mov[mov["entity"] == unit]
            m = sub.groupby("account")["amount_acct"].sum().astype("int64")
        fig = _Figures(unit, snaps, cal, per.name, m, chart.pl)
        name = group_name if group_unit else f"{names.get(unit, unit)} ({unit})"
        ccy = gcur if group_unit else ent_ccy.get(unit, gcur)
        for kind in (BALANCE_SHEET, INCOME_STATEMENT):
            cols = _columns(kind, fig, cal, per.name)
            if not cols:
                continue
            figs = [s for _, s in cols]
            accounts = set().union(*[set(s[s != 0].index) for s in figs])
            nci_any = bool(group_unit and chart.nci_profit and any(
                int(f.get(chart.nci_profit, 0)) or int(f.get(chart.nci, 0)) for f in figs))
            if defined[kind] is not None:
                specs, layout = defined[kind], "Statements sheet"
                used[kind][unit] = figs
                scope = chart.pl
            elif kind == BALANCE_SHEET:
                specs, layout, scope = _default_balance_sheet(chart, accounts, group_unit), "accounts", chart.pl
            else:
                specs = _default_income_statement(chart, accounts, group_unit, nci_any)
                layout = "accounts"
                scope = chart.pl - ({chart.nci_profit} if group_unit else set())
            st = _statement(unit, name, kind, ccy, per, specs, cols, scope, layout, chart, book, findings)
            if kind == BALANCE_SHEET:
                st.charts.append(_composition(cols[0][1], chart, per))
            else:
                tr = _trend(fig, cal, per, chart, group_unit)
                if tr is not None:
                    st.charts.append(tr)
            statements.append(st)
        statements.extend(_movements(unit, name, ccy, per, cal, fig, snaps, chart, acc, carried))
    for kind in (BALANCE_SHEET, INCOME_STATEMENT):
        if defined[kind] is not None:
            _coverage(kind, defined[kind], used[kind], chart, book, findings)
    for st in statements:
        f = _unbalanced(st, book)
        if f is not None:
            findings.append(f)
    return statements, findings


def group_balances(consolidation) -> pd.DataFrame | None:
    """The consolidation step's ``Consolidated`` balances when the group has two entities or
    more (the statements of a one-entity group would repeat the entity's), else None."""
    if consolidation is None or int(consolidation.figures.get("consolidated_entities", 0) or 0) < 2:
        return None
    return consolidation.reports.get("Consolidated")


# =========================================================================== the full set
#
# Comprehensive income, changes in equity and cash flows are statements of *movements*.  Each
# close measures its period's movements once, per unit (each entity, and the group), as
# :func:`period_flows`, and carries them in ``ledger/`` (``carry_statement_flows``): the period's
# figures and the fiscal year's to date (the previous close's year to date plus this period's).
# The statements of later closes take their comparative columns from those carried figures, so
# every figure is measured once, at the close of its period, with that period's rates.

COMPREHENSIVE_INCOME, CHANGES_IN_EQUITY, CASH_FLOW = "comprehensive_income", "changes_in_equity", "cash_flow"
KIND_TITLE.update({COMPREHENSIVE_INCOME: "Statement of comprehensive income",
                   CHANGES_IN_EQUITY: "Statement of changes in equity", CASH_FLOW: "Cash flow statement"})
KINDS = (BALANCE_SHEET, INCOME_STATEMENT, COMPREHENSIVE_INCOME, CHANGES_IN_EQUITY, CASH_FLOW)
CASH, OPERATING, INVESTING, FINANCING = "cash", "operating", "investing", "financing"
ACTIVITIES = (OPERATING, INVESTING, FINANCING)
OPENING = "(opening)"  # the history key of the balances at the start of the calendar
FLOWS = "statement_flows"  # the carry's name
FLOW_COLUMNS = ["unit", "basis", "figure", "cls", "item", "currency", "amount"]
NCI_COLUMN = "Non-controlling interests"


def cash_flow_class(accounts: pd.DataFrame) -> dict:
    """Each account's ``cash_flow`` (Accounts sheet), blank = the default of its type:
    operating for Asset/Liability, financing for Equity, "" for Revenue/Expense (profit)."""
    default = {"Asset": OPERATING, "Liability": OPERATING, "Equity": FINANCING}
    given = accounts["cash_flow"].fillna("").astype(str).str.strip().str.lower() if "cash_flow" in accounts else \
        pd.Series("", index=accounts.index)
    return {a: (g if g and t not in PL_TYPES else default.get(t, ""))
            for a, t, g in zip(accounts["account"], accounts["type"], given)}


@dataclass
class GroupMovement:
    """What the group's statements of movements need from the consolidation of a period.

    Balances are Series account -> int minor units of the group currency, ledger sign.
    ``translation`` and ``translation_open``: entity, account, currency, translation,
    ``acct`` (balance in the entity's currency) and ``group`` (translated), at the period end
    and at its start; ``average``: currency -> (rate, inverse), the period's average rate;
    ``oci`` and ``oci_nci``: the period's translation differences (the CTA report's
    ``cta_movement`` and ``cta_nci_movement``, summed over the entities; ledger sign, a credit
    is a gain); ``start_differences``: at the first period of the calendar, the profit or loss
    the opening consolidation holds (intercompany differences at the start) that the first
    close did not move to retained earnings (nil when it did); ``reserve_gap`` and
    ``reserve_gap_nci``: at the first period, the translation reserve the opening balance sheet holds (owners' part, and the
    non-controlling interests' share) less the one the consolidation measures the first
    period's translation differences from (HistoricalRates): the rounding of the opening
    translation, or an opening reserve given at odds with the opening rate."""

    close: pd.Series
    open: pd.Series
    translation: pd.DataFrame
    translation_open: pd.DataFrame
    average: dict
    oci: int = 0
    oci_nci: int = 0
    first: bool = False  # the opening is the calendar's (a consolidation of the opening balances)
    start_differences: int = 0
    reserve_gap: int = 0  # owners' part (ledger sign)
    reserve_gap_nci: int = 0  # non-controlling interests' part (ledger sign)


class _Accounts:
    """The chart as the statements of movements need it."""

    def __init__(self, book: Book):
        acc = book.accounts.drop_duplicates("account")
        self.type = dict(zip(acc["account"], acc["type"]))
        self.name = dict(zip(acc["account"], acc["name"]))
        line = acc["statement_line"] if "statement_line" in acc else acc["name"]
        self.line = {a: (str(l) if str(l) and str(l) != "nan" else str(n))
                     for a, l, n in zip(acc["account"], line.fillna(""), acc["name"])}
        self.cls = cash_flow_class(acc)
        self.codes = sorted(self.type, key=_natural)
        self.pl = {a for a, t in self.type.items() if t in PL_TYPES}
        self.cash = {a for a, c in self.cls.items() if c == CASH}
        st = book.settings
        self.re = str(st.retained_earnings_account or "")
        self.reserve = str(st.translation_reserve_account or "")
        self.nci = str(st.nci_account or "")
        self.nci_profit = str(st.nci_profit_account or "")
        el = book.eliminations
        self.goodwill = set()
        if el is not None and len(el) and "difference_account" in el:
            kind = el["type"].fillna("intercompany").astype(str).str.lower() if "type" in el else \
                pd.Series("intercompany", index=el.index)
            self.goodwill = {str(a) for a in el.loc[kind == "investment", "difference_account"]
                             if self.type.get(str(a)) == "Asset"}

    def equity_column(self, a: str) -> str:
        """The changes-in-equity column of an Equity, Revenue or Expense account: its statement
        line; profit (Revenue/Expense) goes to the retained earnings column."""
        if a in self.pl:
            return self.line.get(self.re, "Retained earnings") if self.re else "Retained earnings"
        return self.line.get(a, a)

    def labels(self, accounts) -> dict:
        """(activity, label) of each non-cash balance-sheet account: its statement line, or, when
        the line's accounts are split over several activities, the accounts' names."""
        by_line: dict = {}
        for a in accounts:
            by_line.setdefault(self.line.get(a, a), set()).add(self.cls.get(a, OPERATING) or OPERATING)
        out = {}
        for a in accounts:
            cls = self.cls.get(a, OPERATING) or OPERATING
            line = self.line.get(a, a)
            out[a] = (cls, line if len(by_line[line]) == 1 else self.name.get(a, a))
        return out


def _series(df: pd.DataFrame | None, value: str) -> pd.Series:
    if df is None or not len(df):
        return pd.Series(dtype="int64")
    return df.groupby("account")[value].sum().astype("int64")


def roll_year(balances: pd.Series, book: Book) -> pd.Series:
    """Balances at a fiscal year end as the next year opens: every Revenue/Expense balance in
    ``retained_earnings_account`` (what the year-end close does), for balances that never went
    through it (the consolidated balances)."""
    re = str(book.settings.retained_earnings_account or "")
    types = dict(zip(book.accounts["account"], book.accounts["type"]))
    pl = balances.index.map(lambda a: types.get(a, "") in PL_TYPES).to_numpy(bool)
    if not re or not pl.any():
        return balances
    out = balances[~pl].copy()
    out.loc[re] = int(out.get(re, 0)) + int(balances[pl].sum())
    return out.astype("int64")


def _reval_on_cash(movement: pd.DataFrame | None, cash: set) -> pd.Series:
    """Per entity: the revaluation (and reversal of revaluation) posted in the period on cash
    accounts, in the entity's currency: exchange differences on cash, not cash flows."""
    if movement is None or not len(movement) or not cash:
        return pd.Series(dtype="int64")
    m = movement[movement["account"].isin(cash)]
    rev = (m["journal_type"] == "revaluation") | m["journal"].astype(str).str.startswith("REVREV-")
    return m[rev].groupby("entity")["amount_acct"].sum().astype("int64")


def _rows(unit: str, ccy: str, figure: str, items) -> list:
    return [[unit, "period", figure, cls, line, ccy, int(v)] for cls, line, v in items]


def _cash_flows(acc: _Accounts, d: pd.Series, open_: pd.Series, close: pd.Series, profit: int, reval: int,
                fx: pd.Series | None = None, group: GroupMovement | None = None) -> list:
    """The period's cash flow figures of one unit as (cls, line, amount), amounts in display
    terms (an inflow, an increase of cash, positive).  ``d``: each account's movement (ledger
    sign); ``fx``: the translation differences included in it (group); ``reval``: exchange
    differences on cash posted to profit (revaluation)."""
    items = [("profit", "Profit for the period", profit)]
    cash_accts = sorted(a for a in set(d.index) | set(open_.index) | set(close.index) if a in acc.cash)
    skip = set(acc.cash)
    if group is not None:
        skip |= {acc.reserve, acc.nci, acc.nci_profit} | acc.goodwill
    lines: dict = {}
    bs = [a for a in d.index if acc.type.get(a) in ("Asset", "Liability", "Equity") and a not in skip]
    labels = acc.labels(bs)
    fx = fx if fx is not None else pd.Series(dtype="int64")
    for a in bs:
        v = -(int(d.get(a, 0)) - int(fx.get(a, 0)))
        if group is not None and a == acc.re and group.first:
            v -= group.start_differences
        if group is not None and int(open_.get(a, 0)) == 0 and int(close.get(a, 0)) == 0:
            continue  # eliminated in full: its translation differences are non-cash
        lines[labels[a]] = lines.get(labels[a], 0) + v
    for (cls, label), v in lines.items():
        items.append((cls, label, v))
    if group is not None and acc.nci:
        gap = group.reserve_gap_nci if group.first else 0
        t = -(int(d.get(acc.nci, 0)) + int(d.get(acc.nci_profit, 0)) - group.oci_nci + gap)
        items.append((acc.cls.get(acc.nci) or FINANCING, NCI_COLUMN, t))
    cash_open = int(open_.reindex(cash_accts).fillna(0).sum()) if cash_accts else 0
    cash_close = int(close.reindex(cash_accts).fillna(0).sum()) if cash_accts else 0
    fx_cash = int(fx.reindex(cash_accts).fillna(0).sum()) if cash_accts else 0
    items.append(("adjust", "fx", -reval))
    if group is not None and group.first and group.start_differences:
        items.append(("adjust", "start", group.start_differences))
    items.append(("cash", "fx", fx_cash + reval))
    shown = sum(v for c, _, v in items if c != "cash")
    if group is not None:
        items.append(("adjust", "consolidation", (cash_close - cash_open) - shown - (fx_cash + reval)))
    items.append(("cash", "open", cash_open))
    items.append(("cash", "close", cash_close))
    return items


def _equity_rows(acc: _Accounts, open_: pd.Series, close: pd.Series, d: pd.Series, group: GroupMovement | None) -> list:
    """The period's changes in equity of one unit as (row, column, amount), display terms
    (credit positive): opening, profit, oci, start (group, first period), other, closing."""
    is_group = group is not None
    cols: dict = {}
    accounts = [a for a in set(open_.index) | set(close.index)
                if acc.type.get(a) in ("Equity", *PL_TYPES) and not (is_group and a == acc.nci)]
    for a in sorted(accounts, key=_natural):
        cols.setdefault(acc.equity_column(a), []).append(a)
    if is_group and acc.reserve and group.oci != group.oci_nci:
        cols.setdefault(acc.equity_column(acc.reserve), [])
    rc = acc.equity_column(acc.re) if acc.re else "Retained earnings"
    res_col = acc.line.get(acc.reserve, "") if acc.reserve else ""
    pl = [a for a in d.index if a in acc.pl]
    profit_owners = -int(d.reindex(pl).fillna(0).sum()) if pl else 0
    out = []
    for c, accs in cols.items():
        op = -int(open_.reindex(accs).fillna(0).sum())
        cl = -int(close.reindex(accs).fillna(0).sum())
        profit = profit_owners if c == rc else 0
        if is_group:
            oci = -(group.oci - group.oci_nci) if c == res_col else 0
        else:
            oci = -int(d.get(acc.reserve, 0)) if acc.reserve and acc.reserve in accs else 0
        start = 0
        if is_group and group.first:
            start = (group.start_differences if c == rc else 0) + (group.reserve_gap if c == res_col else 0)
        out += [("opening", c, op), ("profit", c, profit), ("oci", c, oci), ("start", c, start),
                ("other", c, cl - op - profit - oci - start), ("closing", c, cl)]
    if is_group and acc.nci and (acc.nci in open_.index or acc.nci in close.index or group.oci_nci
                                 or int(d.get(acc.nci_profit, 0))):
        op, cl = -int(open_.get(acc.nci, 0)), -int(close.get(acc.nci, 0))
        profit, oci = int(d.get(acc.nci_profit, 0)), -group.oci_nci
        start = group.reserve_gap_nci if group.first else 0
        out += [("opening", NCI_COLUMN, op), ("profit", NCI_COLUMN, profit), ("oci", NCI_COLUMN, oci),
                ("start", NCI_COLUMN, start), ("other", NCI_COLUMN, cl - op - profit - oci - start),
                ("closing", NCI_COLUMN, cl)]
    return out


def _group_fx(g: GroupMovement, book: Book) -> pd.Series:
    """Translation differences per account (group currency, ledger sign) of the foreign
    entities' closing-rate balances: the change of the translated balance less the change of
    the balance in the entity's currency at the period's average rate (IAS 7.25-28)."""
    key = ["entity", "account"]
    now = g.translation.groupby(key, as_index=False).agg(acct=("acct", "sum"), group=("group", "sum"),
                                                         currency=("currency", "first"),
                                                         translation=("translation", "first"))
    was = g.translation_open.groupby(key, as_index=False).agg(acct0=("acct", "sum"), group0=("group", "sum"))
    m = now.merge(was, on=key, how="outer")
    for c in ("acct", "group", "acct0", "group0"):
        m[c] = m[c].fillna(0).astype("int64")
    cur = m["entity"].map(book.entity_currency()).fillna("")
    m["currency"] = cur
    gcur = book.settings.group_currency
    foreign = (cur != gcur).to_numpy() & (m["account"].map(closing_rate_accounts(book)).fillna(False).to_numpy(bool))
    m = m[foreign]
    if not len(m):
        return pd.Series(dtype="int64")
    rate = m["currency"].map(lambda c: g.average.get(c, (np.nan, False))[0]).to_numpy(dtype="float64")
    inv = m["currency"].map(lambda c: g.average.get(c, (np.nan, False))[1]).to_numpy(dtype=bool)
    flow = money.convert((m["acct"] - m["acct0"]).to_numpy(dtype="int64"), np.where(np.isnan(rate), 0.0, rate),
                         money.scales(m["currency"]), money.scale_of(gcur), inv)
    fx = (m["group"] - m["group0"]).to_numpy(dtype="int64") - flow
    return pd.Series(fx, index=m["account"].to_numpy()).groupby(level=0).sum().astype("int64")


def closing_rate_accounts(book: Book) -> dict:
    """account -> True when it is translated at the closing rate."""
    acc = book.accounts.drop_duplicates("account")
    default = {"Asset": "closing", "Liability": "closing"}
    tr = acc["translation"].fillna("").astype(str) if "translation" in acc else pd.Series("", index=acc.index)
    return {a: ((t or default.get(ty, "")) == "closing") for a, t, ty in zip(acc["account"], tr, acc["type"])}


def period_flows(book: Book, per: Period, balances: pd.DataFrame, movement: pd.DataFrame, *,
                 group: GroupMovement | None = None, previous: pd.DataFrame | None = None,
                 entities=()) -> pd.DataFrame:
    """The period's figures of the statements of movements, per unit, and the year to date
    (``basis`` period / ytd); columns :data:`FLOW_COLUMNS`, amounts int minor units of the
    unit's currency (``currency``), display terms.  ``balances``: the entities' balances at the
    period end (before the year-end close); ``movement``: the lines posted in the period
    (entity opening = closing - movement); ``group``: the consolidation's movements, or None;
    ``previous``: the previous close's carried flows (its year to date), None when it has none.

    Figures (``figure``/``cls``/``line``): ``cf`` (cash flow: profit, one line per activity and
    statement line, adjustments, cash at the start and end and the effect of exchange rates),
    ``equity`` (changes in equity: a row per ``cls``, a column per ``line``), ``ci``
    (comprehensive income: profit, profit_nci, oci, oci_nci) and, at the first period of the
    calendar, ``opening`` (the group's consolidated balances at the start, ledger sign)."""
    acc = _Accounts(book)
    ent_ccy = book.entity_currency()
    eb = entity_balances(balances)
    mv = entity_balances(movement)
    reval = _reval_on_cash(movement, acc.cash)
    rows: list = []
    units = [e for e in book.entities["entity"] if e in set(eb["entity"]) and (not entities or e in entities)]
    for e in units:
        close = _series(eb[eb["entity"] == e], "amount_acct")
        d = _series(mv[mv["entity"] == e], "amount_acct")
        open_ = close.sub(d, fill_value=0).astype("int64")
        ccy = ent_ccy.get(e, "")
        profit = -int(d.reindex([a for a in d.index if a in acc.pl]).fillna(0).sum())
        g_val = int(reval.get(e, 0))
        rows += _rows(e, ccy, "cf", _cash_flows(acc, d, open_, close, profit, g_val))
        rows += _rows(e, ccy, "equity", _equity_rows(acc, open_, close, d, None))
        oci = -int(d.get(acc.reserve, 0)) if acc.reserve else 0
        rows += _rows(e, ccy, "ci", [("ci", "profit", profit), ("ci", "profit_nci", 0), ("ci", "oci", oci),
                                     ("ci", "oci_nci", 0)])
        if per.index == 0:  # the calendar's first period: the opening balance sheet
            rows += [[e, "period", "opening", "", a, ccy, int(v)] for a, v in open_.items() if v]
    if group is not None:
        gcur = book.settings.group_currency
        close, open_ = group.close, group.open
        d = close.sub(open_, fill_value=0).astype("int64")
        fx = _group_fx(group, book)
        g_reval = 0
        for e, v in reval.items():  # revaluation of the entities' cash, at the period's average rate
            cur = ent_ccy.get(e, gcur)
            if cur == gcur:
                g_reval += int(v)
            else:
                r, inv = group.average.get(cur, (np.nan, False))
                g_reval += int(money.convert([int(v)], 0.0 if np.isnan(r) else r, money.scale_of(cur),
                                             money.scale_of(gcur), inv)[0])
        pl = [a for a in d.index if a in acc.pl and a != acc.nci_profit]
        profit = -int(d.reindex(pl).fillna(0).sum()) if pl else 0
        rows += _rows(GROUP, gcur, "cf", _cash_flows(acc, d, open_, close, profit, g_reval, fx, group))
        rows += _rows(GROUP, gcur, "equity", _equity_rows(acc, open_, close, d, group))
        nci_profit = int(d.get(acc.nci_profit, 0)) if acc.nci_profit else 0
        rows += _rows(GROUP, gcur, "ci", [("ci", "profit", profit), ("ci", "profit_nci", nci_profit),
                                          ("ci", "oci", -group.oci), ("ci", "oci_nci", -group.oci_nci)])
        if group.first:
            rows += [[GROUP, "period", "opening", "", a, gcur, int(v)] for a, v in open_.items() if v]
            rows += [[GROUP, "period", "ci", "ci", "reserve_gap", gcur, int(group.reserve_gap)]]
    df = pd.DataFrame(rows, columns=FLOW_COLUMNS)
    df["amount"] = df["amount"].astype("int64")
    return pd.concat([df, _year_to_date(df, per, previous)], ignore_index=True)


def _year_to_date(now: pd.DataFrame, per: Period, previous: pd.DataFrame | None) -> pd.DataFrame:
    """This period's figures added to the previous close's year to date (the period's own at a
    fiscal year's first period); none when the previous close carried no year to date."""
    cur = now[now["figure"] != "opening"]
    if per.year_start:
        return cur.assign(basis="ytd")
    if previous is None or not len(previous):
        return now.iloc[0:0]
    prev = previous[previous["basis"] == "ytd"].copy()
    if not len(prev):
        return now.iloc[0:0]
    prev["amount"] = pd.to_numeric(prev["amount"], errors="coerce").fillna(0).astype("int64")
    for c in ("unit", "figure", "cls", "item", "currency"):
        prev[c] = prev[c].fillna("").astype(str)
    cur = cur[cur["unit"].isin(set(prev["unit"]))]  # a unit the previous close did not carry has no year to date
    key = ["unit", "figure", "cls", "item"]
    fixed_now = ((cur["figure"] == "cf") & (cur["cls"] == "cash") & (cur["item"] == "close")) | \
        ((cur["figure"] == "equity") & (cur["cls"] == "closing"))
    fixed_prev = ((prev["figure"] == "cf") & (prev["cls"] == "cash") & (prev["item"].isin(["open"]))) | \
        ((prev["figure"] == "equity") & (prev["cls"] == "opening"))
    add_now = cur[~fixed_now & ~(((cur["figure"] == "cf") & (cur["cls"] == "cash") & (cur["item"] == "open"))
                                 | ((cur["figure"] == "equity") & (cur["cls"] == "opening")))]
    add_prev = prev[~fixed_prev & ~(((prev["figure"] == "cf") & (prev["cls"] == "cash") & (prev["item"] == "close"))
                                    | ((prev["figure"] == "equity") & (prev["cls"] == "closing")))]
    ccy = dict(zip(cur["unit"], cur["currency"]))
    parts = [cur[fixed_now], prev[fixed_prev & prev["unit"].isin(set(cur["unit"]))], add_now,
             add_prev[add_prev["unit"].isin(set(cur["unit"]))]]
    allp = pd.concat([p[key + ["amount"]] for p in parts], ignore_index=True)
    out = allp.groupby(key, as_index=False, sort=False)["amount"].sum()
    out["basis"] = "ytd"
    out["currency"] = out["unit"].map(ccy).fillna("")
    out["amount"] = out["amount"].astype("int64")
    return out[FLOW_COLUMNS]


# --------------------------------------------------------------------------- statements of movements

class _Flows:
    """One unit's carried figures of one column, as lookups."""

    def __init__(self, df: pd.DataFrame):
        self.df = df
        self.v = {(f, c, l): int(a) for f, c, l, a in zip(df["figure"], df["cls"], df["item"], df["amount"])}

    def get(self, figure: str, cls: str, line: str) -> int:
        return self.v.get((figure, cls, line), 0)

    def of(self, figure: str) -> pd.DataFrame:
        return self.df[self.df["figure"] == figure]


def _flow_parts(df: pd.DataFrame) -> dict:
    """A carried flows table as :class:`_Flows` by ``(unit, basis)``: its columns made text and
    whole amounts once (where they are not), its rows kept in order."""
    d = df
    if d["unit"].dtype != object or d["amount"].dtype != "int64":
        d = d.copy()
        for c in ("unit", "basis", "figure", "cls", "item"):
            d[c] = d[c].fillna("").astype(str)
        d["amount"] = pd.to_numeric(d["amount"], errors="coerce").fillna(0).astype("int64")
    units = d["unit"].fillna("").astype(str).to_numpy()
    return {key: _Flows(sub) for key, sub in d.groupby([units, d["basis"].to_numpy()], sort=False)}


class _FlowIndex:
    """The carried flows of each table asked for, split once by unit and basis (each statement
    of movements of each unit asks for the same few tables)."""

    def __init__(self):
        self.parts: dict = {}

    def of(self, df: pd.DataFrame | None, unit: str, basis: str) -> _Flows | None:
        if df is None or not len(df):
            return None
        kept = self.parts.get(id(df))
        if kept is None or kept[0] is not df:
            kept = self.parts[id(df)] = (df, _flow_parts(df))
        return kept[1].get((unit, basis))


def _flow_columns(kind: str, unit: str, per: Period, cal: _Calendar, snaps: dict, now: pd.DataFrame | None,
                  flows: _FlowIndex):
    prior, ly = cal.prev(per.name), cal.last_year(per.name)
    hist = lambda p: snaps[p].flows if p in snaps and snaps[p] is not None else None  # noqa: E731
    want = [("period", "This period", per.name, flows.of(now, unit, "period"))]
    if kind != CHANGES_IN_EQUITY or not per.year_start:  # a year's first period: its year to date is the period
        want.append(("ytd", "Year to date", per.name, flows.of(now, unit, "ytd")))
    if kind != CHANGES_IN_EQUITY:
        want += [("prior", "Prior period", prior, flows.of(hist(prior), unit, "period") if prior else None),
                 ("last_year", "Same period last year", ly, flows.of(hist(ly), unit, "period") if ly else None),
                 ("last_ytd", "Last year to date", ly, flows.of(hist(ly), unit, "ytd") if ly else None)]
    return [(Column(k, cap, p, p), f) for k, cap, p, f in want if f is not None]


def _start_of(cal: _Calendar, col: Column) -> str | None:
    """The snapshot key of the balances a column's movements start from."""
    p = col.period
    if col.key in ("ytd", "last_ytd"):
        first = cal.of_year(cal.fy[p])[0]
        return cal.prev(first) or OPENING
    return cal.prev(p) or OPENING


def _bs_figure(fig: _Figures, key: str | None) -> pd.Series | None:
    return fig.at(key) if key else None


def _equity_total(s: pd.Series, chart: _Chart) -> int:
    t = s.index.map(lambda a: chart.type.get(a, "")).to_numpy(dtype=object)
    return -int(s[np.isin(t, ["Equity", *PL_TYPES])].sum())


def _comprehensive(unit, name, ccy, per, cal, fig, cols, chart, acc, nci_any) -> Statement:
    group = unit == GROUP
    g = lambda line: [c.get("ci", "ci", line) for _, c in cols]  # noqa: E731
    profit, p_nci, oci, o_nci = g("profit"), g("profit_nci"), g("oci"), g("oci_nci")
    tci = [a + b for a, b in zip(profit, oci)]
    rows = [Row("Profit for the period", "subtotal", profit),
            Row("Other comprehensive income", "heading", [None] * len(cols)),
            Row("Items that may be reclassified to profit or loss:", "line", [None] * len(cols), indent=1),
            Row("Exchange differences on translating foreign operations" if group else
                "Exchange differences and other reserve movements", "line", oci,
                acc.reserve if acc.reserve else "", indent=2),
            Row("Other comprehensive income for the period", "subtotal", oci),
            Row("Total comprehensive income for the period", "total", tci)]
    if group and nci_any:
        rows += [Row("Profit attributable to:", "heading", [None] * len(cols)),
                 Row("Owners of the parent", "line", [a - b for a, b in zip(profit, p_nci)], indent=1),
                 Row("Non-controlling interests", "line", p_nci, indent=1),
                 Row("Total comprehensive income attributable to:", "heading", [None] * len(cols)),
                 Row("Owners of the parent", "line", [t - a - b for t, a, b in zip(tci, p_nci, o_nci)], indent=1),
                 Row("Non-controlling interests", "line", [a + b for a, b in zip(p_nci, o_nci)], indent=1)]
    checks = []
    scope = chart.pl - ({chart.nci_profit} if group else set())
    for (col, fl), pr, oc, on in zip(cols, profit, oci, o_nci):
        tb = fig.movement(col.period) if col.key in ("period", "prior", "last_year") else fig.ytd(col.period)
        if tb is not None:
            expected = -int(tb[tb.index.isin(scope)].sum())
            checks.append(Check(col.title, "Profit for the period (income statement)", expected,
                                "Profit for the period (comprehensive income)", pr, pr - expected))
        if group and acc.reserve:
            end, start = fig.at(col.period), _bs_figure(fig, _start_of(cal, col))
            if end is not None and start is not None:
                from_opening = _start_of(cal, col) == OPENING
                gap = fl.get("ci", "ci", "reserve_gap") if from_opening else 0  # the reserve the OCI starts from
                moved = -(int(end.get(acc.reserve, 0)) - (int(start.get(acc.reserve, 0)) - gap))
                owners = oc - on
                label = "Movement of the translation reserve (balance sheet" + \
                    (", from the reserve at the start as HistoricalRates gives it)" if gap else ")")
                checks.append(Check(col.title, label, moved, "Other comprehensive income attributable to owners",
                                    owners, owners - moved))
    title = f"{KIND_TITLE[COMPREHENSIVE_INCOME]} for the period ended {_long_date(per.end)}"
    return Statement(unit, name, COMPREHENSIVE_INCOME, title, per.name, ccy, [c for c, _ in cols], rows, checks, [],
                     "accounts", per.year_end)


def _equity_columns(cols, acc: _Accounts) -> list[str]:
    """The changes-in-equity columns, in the order of their lowest account code."""
    labels = set()
    for _, f in cols:
        labels |= set(f.of("equity")["item"])
    labels.discard(NCI_COLUMN)
    first = {}
    for a in acc.codes:
        if acc.type.get(a) == "Equity" or a in acc.pl:
            first.setdefault(acc.equity_column(a), len(first))
    return sorted(labels, key=lambda l: (first.get(l, 10 ** 6), l))


def _changes_in_equity(unit, name, ccy, per, cal, fig, cols, chart, acc) -> Statement:
    group = unit == GROUP
    lines = _equity_columns(cols, acc)
    nci = group and any(NCI_COLUMN in set(f.of("equity")["item"]) for _, f in cols)
    headers = list(lines) + (["Attributable to owners", NCI_COLUMN] if nci else []) + \
        ["Total equity"]
    columns = [Column(f"c{i}", h, per.name, "") for i, h in enumerate(headers)]
    rows: list[Row] = []
    checks: list[Check] = []
    for col, f in cols:
        def vals(row):
            own = [f.get("equity", row, l) for l in lines]
            out = own + ([sum(own), f.get("equity", row, NCI_COLUMN)] if nci else [])
            return out + [sum(own) + (f.get("equity", row, NCI_COLUMN) if nci else 0)]
        start_key = _start_of(cal, col)
        start_date = cal.start[cal.of_year(cal.fy[col.period])[0]] if col.key == "ytd" else cal.start[col.period]
        op, pr, oc, st, ot = (vals(r) for r in ("opening", "profit", "oci", "start", "other"))
        tci = [a + b for a, b in zip(pr, oc)]
        closing = [a + b + c + d for a, b, c, d in zip(op, tci, st, ot)]
        block = "Year to date" if col.key == "ytd" else "This period"
        label = f"fiscal year {cal.fy[col.period]} to {_date(cal.end[col.period])}" if col.key == "ytd" else col.period
        rows.append(Row(f"{block}: {label}", "heading", [None] * len(headers)))
        rows.append(Row(f"Balance at {_long_date(start_date)}", "subtotal", op))
        rows.append(Row("Profit for the period", "line", pr, indent=1))
        rows.append(Row("Other comprehensive income", "line", oc, indent=1))
        rows.append(Row("Total comprehensive income for the period", "subtotal", tci))
        if any(st):
            rows.append(Row("Consolidation differences at the start of the calendar", "line", st, indent=1))
        rows.append(Row("Other movements (capital, dividends: posted directly to equity)", "line", ot, indent=1))
        rows.append(Row(f"Balance at {_long_date(cal.end[col.period])}", "total", closing))
        end = fig.at(col.period)
        if end is not None:
            expected = _equity_total(end, chart)
            checks.append(Check(col.title, f"Total equity, balance sheet at {_date(cal.end[col.period])}", expected,
                                "Closing balance (opening and movements)", closing[-1], closing[-1] - expected))
        start = _bs_figure(fig, start_key)
        if start is not None:
            expected = _equity_total(start, chart)
            checks.append(Check(col.title, f"Total equity, balance sheet at {_date(start_date - pd.Timedelta(days=1))}",
                                expected, "Opening balance", op[-1], op[-1] - expected))
    title = f"{KIND_TITLE[CHANGES_IN_EQUITY]} for the period ended {_long_date(per.end)}"
    return Statement(unit, name, CHANGES_IN_EQUITY, title, per.name, ccy, columns, rows, checks, [], "accounts",
                     per.year_end)


CF_ADJUST = {"fx": "Exchange differences on foreign-currency cash (non-cash)",
             "start": "Consolidation differences at the start (non-cash)",
             "consolidation": "Intercompany exchange differences, rounding (non-cash)"}
CF_HEADING = {OPERATING: "Cash flows from operating activities", INVESTING: "Cash flows from investing activities",
              FINANCING: "Cash flows from financing activities"}
CF_TOTAL = {OPERATING: "Net cash from operating activities", INVESTING: "Net cash from investing activities",
            FINANCING: "Net cash from financing activities"}


def _cash_flow(unit, name, ccy, per, cal, fig, cols, chart, acc) -> Statement:
    n = len(cols)
    rows: list[Row] = []
    flows = [f for _, f in cols]
    keys: dict = {c: [] for c in ACTIVITIES}
    for f in flows:
        cf = f.of("cf")
        for c, l in zip(cf["cls"], cf["item"]):
            if c in keys and l not in keys[c] and not (c == OPERATING and l == "profit"):
                keys[c].append(l)
    order = {acc.line.get(a, a): i for i, a in enumerate(acc.codes)}
    order.update({acc.name.get(a, a): i for i, a in enumerate(acc.codes) if acc.name.get(a, a) not in order})
    totals = {}
    for cls in ACTIVITIES:
        rows.append(Row(CF_HEADING[cls], "heading", [None] * n))
        start = len(rows)
        if cls == OPERATING:
            rows.append(Row("Profit for the period", "line", [f.get("cf", "profit", "Profit for the period")
                                                               for f in flows], indent=1))
            for k in ("fx", "start", "consolidation"):
                v = [f.get("cf", "adjust", k) for f in flows]
                if any(v):
                    rows.append(Row(CF_ADJUST[k], "line", v, indent=1))
        items = sorted((x for x in keys[cls] if x != "Profit for the period"), key=lambda x: (order.get(x, 10 ** 6), x))
        for l in items:
            v = [f.get("cf", cls, l) for f in flows]
            if any(v):
                rows.append(Row(f"Change in {l}" if cls == OPERATING else l, "line", v, indent=1))
        tot = [sum(r.values[j] for r in rows[start:]) for j in range(n)]
        totals[cls] = tot
        rows.append(Row(CF_TOTAL[cls], "subtotal", tot))
    net = [sum(totals[c][j] for c in ACTIVITIES) for j in range(n)]
    opening = [f.get("cf", "cash", "open") for f in flows]
    fxc = [f.get("cf", "cash", "fx") for f in flows]
    end = [a + b + c for a, b, c in zip(opening, net, fxc)]
    rows.append(Row("Net increase (decrease) in cash", "subtotal", net))
    rows.append(Row("Cash at the beginning of the period", "line", opening))
    rows.append(Row("Effect of exchange rate changes on cash", "line", fxc))
    rows.append(Row("Cash at the end of the period", "total", end))
    checks = []
    for (col, _), e, o in zip(cols, end, opening):
        snap = fig.at(col.period)
        if snap is not None:
            expected = int(snap[snap.index.isin(acc.cash)].sum())
            checks.append(Check(col.title, f"Cash accounts, balance sheet at {_date(cal.end[col.period])}", expected,
                                "Cash at the end of the period (rows)", e, e - expected))
        start = _bs_figure(fig, _start_of(cal, col))
        if start is not None:
            expected = int(start[start.index.isin(acc.cash)].sum())
            checks.append(Check(col.title, "Cash accounts, balance sheet at the start", expected,
                                "Cash at the beginning of the period", o, o - expected))
    title = f"{KIND_TITLE[CASH_FLOW]} for the period ended {_long_date(per.end)}"
    st = Statement(unit, name, CASH_FLOW, title, per.name, ccy, [c for c, _ in cols], rows, checks, [], "accounts",
                   per.year_end)
    if not acc.cash:
        st.note = ("No account is marked cash_flow = cash in the Accounts sheet:\nthere is no cash to explain, and "
                   "every movement above nets to nil.")
    chart_ = _waterfall(cols[0][0], opening[0], [totals[c][0] for c in ACTIVITIES], fxc[0], end[0]) \
        if acc.cash else None
    if chart_ is not None:
        st.charts.append(chart_)
    return st


def _waterfall(col: Column, opening: int, acts: list, fx: int, end: int) -> Chart | None:
    """Cash from the start to the end of the column's period: floating columns (an invisible
    base under each movement)."""
    cats = ["Cash at start", "Operating", "Investing", "Financing", "Exchange rates", "Cash at end"]
    moves = list(acts) + [fx]
    base, up, down, level = [None], [None], [None], opening
    for m in moves:
        lo, hi = sorted((level, level + m))
        if lo < 0:
            return None
        base.append(lo)
        up.append(m if m > 0 else None)
        down.append(-m if m < 0 else None)
        level += m
    if opening < 0 or end < 0:
        return None
    base.append(None), up.append(None), down.append(None)
    cash = [opening, None, None, None, None, end]
    return Chart("waterfall", f"Cash, {col.title.lower()}", cats,
                 [("", base), ("Cash", cash), ("Increase", up), ("Decrease", down)])


def _opening_snapshot(cal: _Calendar, per: Period, snaps: dict) -> Snapshot | None:
    """The balances at the start of the calendar, from the first period's carried flows
    (``opening`` figures), when the statements need them (the fiscal year of ``per`` is the
    calendar's first)."""
    first = cal.names[0]
    if cal.fy[first] != per.fiscal_year:
        return None
    s = snaps.get(first)
    if s is None or s.flows is None or not len(s.flows):
        return None
    f = s.flows
    o = f[(f["figure"] == "opening") & (f["basis"] == "period")]
    if not len(o):
        return None
    amt = pd.to_numeric(o["amount"], errors="coerce").fillna(0).astype("int64")
    unit = o["unit"].fillna("").astype(str)
    g = o[unit == GROUP]
    e = o[unit != GROUP]
    ent = pd.DataFrame({"entity": e["unit"].to_numpy(dtype=object), "account": e["item"].to_numpy(dtype=object),
                        "amount_acct": amt[unit != GROUP].to_numpy(dtype="int64")})
    grp = pd.DataFrame({"account": g["item"].to_numpy(dtype=object),
                        "balance_group": amt[unit == GROUP].to_numpy(dtype="int64")}) if len(g) else None
    return Snapshot(OPENING, ent, grp)


def _movements(unit: str, name: str, ccy: str, per: Period, cal: _Calendar, fig: _Figures, snaps: dict,
               chart: _Chart, acc: _Accounts, flows: _FlowIndex) -> list[Statement]:
    """The statements of movements of one unit, from the carried flows (none without them)."""
    now = snaps[per.name].flows
    out = []
    for kind in (COMPREHENSIVE_INCOME, CHANGES_IN_EQUITY, CASH_FLOW):
        cols = _flow_columns(kind, unit, per, cal, snaps, now, flows)
        if not cols:
            continue
        if kind == COMPREHENSIVE_INCOME:
            nci_any = unit == GROUP and any(f.get("ci", "ci", "profit_nci") or f.get("ci", "ci", "oci_nci")
                                            for _, f in cols)
            out.append(_comprehensive(unit, name, ccy, per, cal, fig, cols, chart, acc, nci_any))
        elif kind == CHANGES_IN_EQUITY:
            out.append(_changes_in_equity(unit, name, ccy, per, cal, fig, cols, chart, acc))
        else:
            out.append(_cash_flow(unit, name, ccy, per, cal, fig, cols, chart, acc))
    return out


def flow_findings(book: Book, per: Period, flows: pd.DataFrame, group: GroupMovement | None) -> list[Finding]:
    """Warnings about the statements of movements of a close: no account is marked cash."""
    out = []
    acc = _Accounts(book)
    if not acc.cash and len(flows):
        where: dict = {"sheet": "Accounts", "column": "cash_flow"}
        a = book.accounts
        if len(a) and {"_file", "_sheet", "_row"} <= set(a.columns):
            try:
                loc = book.locate(a.iloc[0], "cash_flow")
                where = {"file": loc["file"], "sheet": loc["sheet"], "column": "cash_flow"}
            except Exception:  # noqa: BLE001 - a hand-built frame
                pass
        out.append(Finding(WARNING, "No account of the Accounts sheet is marked cash_flow = cash: the cash flow "
                           "statements have no cash to explain (every movement in them nets to nil).",
                           hint="Mark the bank and cash accounts with cash_flow = cash in the Accounts sheet (add "
                                "the column if it is missing).", code="no-cash-accounts", **where))
    return out
