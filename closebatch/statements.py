"""Financial statements (spec section 3, step 9): balance sheet and income statement.

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
    period's consolidated balances are not known."""

    period: str
    entity: pd.DataFrame | None = None
    group: pd.DataFrame | None = None


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
        return [(Column(k, cap, p, _date(cal.end[p])), s) for k, cap, p, s in want if s is not None]
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
        if s.kind == "line":
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
          entities=()) -> tuple[list[Statement], list[Finding]]:
    """Every statement of the close of ``per``.

    ``balances``: the period-end balances (a lines or balances frame with entity, account,
    amount_acct), before year-end closing entries; ``group``: the consolidation's
    ``Consolidated`` frame (account, balance_group), None without a consolidation;
    ``movement``: the lines posted in the period (for the entities' "this period"); ``history``:
    :class:`Snapshot` of earlier periods by name (comparatives and charts); ``entities``: limit
    the entity statements to these (a partial close).
    """
    findings: list[Finding] = []
    cal = _Calendar(book.periods)
    chart = _Chart(book)
    snaps = dict(history or {})
    snaps[per.name] = Snapshot(per.name, entity_balances(balances),
                               group[["account", "balance_group"]] if group is not None and len(group) else None)
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
