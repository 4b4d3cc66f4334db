"""The group as the consolidation of one period sees it, read once from the book: a frozen
:class:`Group` (who is in it, how it is owned, the chart, the account settings, the
elimination rules, the historical rates, the closing and average rates), and the small values
every part of the consolidation shares (:class:`Posted`, :class:`Need`, :func:`entry`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType
from typing import Mapping

import numpy as np
import pandas as pd

from ... import accounts
from ...core import ERROR, WARNING, Finding
from ...money import fmt, scale_of, to_minor

JOURNAL_TYPE = "elimination"
PROFIT_TYPES = ("Revenue", "Expense")
ONE = Decimal(1)
# the account settings the consolidation may need, checked (set, and in the chart) when needed
ACCOUNT_SETTINGS = ("translation_reserve_account", "nci_account", "nci_profit_account", "retained_earnings_account")


@dataclass(frozen=True)
class Entity:
    code: str
    currency: str
    parent: str
    direct: Decimal  # ownership the parent holds
    effective: Decimal  # product of the ownerships up to the top
    included: bool
    source: str
    row: dict = field(repr=False, compare=False)


@dataclass(frozen=True)
class Rule:
    name: str
    kind: str  # intercompany or investment
    accounts: frozenset
    counters: frozenset
    difference: str
    entity: str
    counterparty: str
    description: str
    source: str
    row: dict = field(repr=False, compare=False)


@dataclass(frozen=True)
class Need:
    """Something a part of the consolidation needed: an account setting (``what`` is the
    key, ``why`` says what for) or a rate (``what`` is ``(currency, rate type)``)."""

    kind: str  # "setting" or "rate"
    what: object
    why: str = ""


@dataclass(frozen=True)
class Posted:
    """What a part of the consolidation returns: consolidation-layer rows (see :func:`entry`),
    findings and needs.  Parts are added up with ``+``."""

    rows: tuple = ()
    findings: tuple = ()
    needs: tuple = ()

    def __add__(self, other: "Posted") -> "Posted":
        return Posted(self.rows + other.rows, self.findings + other.findings, self.needs + other.needs)


def entry(dims, journal, entity, account, amount, *, counterparty="", dimv=None, description="", source="", rule="",
          kind="", role="", balance=None, cumulative=0) -> dict:
    """One consolidation-layer row.  ``cumulative``: the part of ``amount`` measured from
    balances kept since inception (balance-sheet accounts) rather than from the fiscal
    year's income and expenses; on a Revenue/Expense account that part is income or expense
    of the year it arose in (see :func:`.eliminate.earlier_years`)."""
    return dict(journal=journal, entity=entity, account=account, counterparty=counterparty, amount=int(amount),
                description=description, source=source, rule=rule, kind=kind, role=role, balance_group=balance,
                cumulative=int(cumulative), **{d: (dimv or {}).get(d, "") for d in dims})


def sum_by(frame: pd.DataFrame, key: list, value: str) -> dict:
    """``value`` summed by ``key`` over a frame of a handful of rows (an entity's balances of
    a few accounts), as ``{key tuple: int}`` in key order: what ``groupby(key, sort=True)``
    gives, rows with a missing key left out as it leaves them, without its cost per call."""
    sums: dict = {}
    for *k, v in zip(*(frame[c].tolist() for c in key), frame[value].tolist()):
        if any(x is None or x != x for x in k):
            continue
        k = tuple(k)
        sums[k] = sums.get(k, 0) + int(v)
    return dict(sorted(sums.items()))


def share(amount: int, factor: Decimal) -> int:
    """``amount × factor`` rounded half away from zero to a minor unit."""
    return int((Decimal(int(amount)) * factor).to_integral_value(ROUND_HALF_UP))


class Rates:
    """Closing and average rate of each foreign currency into the group currency (looked
    up once; read only afterwards)."""

    def __init__(self, book, per, gcur, currencies):
        from ...rates import lookup

        self.per, self.gcur = per, gcur
        table: dict[tuple[str, str], dict] = {}
        if currencies:
            for rtype in ("closing", "average"):
                res = lookup(book.rates, currencies, [gcur] * len(currencies), per.end, rtype,
                             period_start=per.start, period_end=per.end)
                for cur, r in zip(currencies, res.to_dict("records")):
                    table[(cur, rtype)] = r
        self._table = MappingProxyType(table)

    def get(self, cur: str, rtype: str) -> dict:
        if cur == self.gcur:
            return {"rate": 1.0, "inverse": False, "source": "", "used_type": "same currency", "found": True,
                    "stale": False}
        return dict(self._table.get((cur, rtype), {"rate": np.nan, "inverse": False, "source": "", "used_type": "",
                                                    "found": False, "stale": False}))

    def effective(self, cur, rtype) -> float:
        r = self.get(cur, rtype)
        return (1.0 / r["rate"] if r["inverse"] else r["rate"]) if r["found"] else np.nan

    def findings(self, tr, needed) -> list[Finding]:
        """A missing rate the translation (``tr``) or another part (``needed``: (currency,
        type) pairs) used is an error; a stale closing rate a warning."""
        used = tr[(tr["movement_acct"] != 0) & (tr["currency"] != self.gcur)]
        kinds = np.where(used["translation"] == "closing", "closing", "average")
        out = []
        for cur, rtype in sorted(set(zip(used["currency"], kinds)) | set(needed)):
            r = self.get(cur, rtype)
            date = self.per.end.date().isoformat()
            if not r["found"]:
                within = f" dated within {self.per.name}" if rtype == "average" else ""
                out.append(Finding(ERROR, f"No {rtype} rate {cur}→{self.gcur}{within} for {date}: the "
                                   f"consolidation cannot translate {cur} balances.",
                                   hint=f"Add a Rates row from {cur} to {self.gcur}, type {rtype}, dated "
                                   f"{'within the period' if rtype == 'average' else 'on or before ' + date}.",
                                   sheet="Rates", code="rate-missing", value=f"{cur}/{self.gcur} {rtype} {date}"))
            elif r.get("stale"):
                out.append(Finding(WARNING, f"The closing rate {cur}→{self.gcur} used for {date} is dated "
                                   f"before {self.per.name} starts.", hint="Add this period's closing rate.",
                                   sheet="Rates", code="rate-stale", value=str(r.get("source", ""))))
        return out


@dataclass(frozen=True)
class Group:
    """Everything the consolidation of one period knows about the group before it looks at
    a balance.  Read once by :func:`read_group`; never changed."""

    book: object
    period: object
    dims: tuple
    currency: str  # the group currency
    entities: Mapping[str, Entity]
    included: tuple  # the consolidated entities, in Entities order
    chart: pd.DataFrame  # by account: name, type, translation, statement_line
    rules: tuple  # Rule
    historical: pd.DataFrame  # entity, account, rate, amount_group, source
    opening_reserve: Mapping[str, int]  # entity -> translation reserve at the calendar's start
    rates: Rates
    settings: Mapping[str, tuple]  # key -> (account or "", finding when it is needed and not usable)
    tolerance: int  # rounding_tolerance in minor units of the group currency

    @property
    def scale(self) -> int:
        return scale_of(self.currency)

    def account(self, key: str) -> str:
        """The account a setting names, or "" when it is not set or not in the chart."""
        return self.settings.get(key, ("", None))[0]

    def foreign(self) -> list[str]:
        return sorted({self.entities[e].currency for e in self.included if self.entities[e].currency != self.currency})

    def setting_findings(self, needs) -> list[Finding]:
        """A finding for each account setting that was needed and is not usable (once per
        setting, saying what first needed it)."""
        out, seen = [], set()
        for n in needs:
            if n.kind != "setting" or n.what in seen:
                continue
            seen.add(n.what)
            account, problem = self.settings.get(n.what, ("", None))
            if problem is not None:
                out.append(problem(n.why))
        return out


def read_group(book, per) -> tuple[Group | None, list[Finding]]:
    """The :class:`Group` of ``book`` for period ``per``, with the findings about the sheets
    it reads (Entities, Eliminations, HistoricalRates, the group currency); None without a
    group currency."""
    findings: list[Finding] = []
    gcur = _group_currency(book, findings)
    if not gcur:
        return None, findings
    ents = _structure(book, findings)
    inc = tuple(e for e, i in ents.items() if i.included)
    chart = _chart(book)
    hist = _historical_table(book, ents, chart, gcur, findings)
    rules = tuple(_rules(book, ents, chart, findings))
    settings = _settings(book, chart)
    reserve = settings["translation_reserve_account"][0]
    opening_reserve = _opening_reserve(book, hist, reserve, findings)
    foreign = sorted({ents[e].currency for e in inc if ents[e].currency != gcur})
    tol = int(Decimal(book.settings.rounding_tolerance).scaleb(scale_of(gcur)).to_integral_value(ROUND_HALF_UP))
    return Group(book, per, tuple(book.dims), gcur, MappingProxyType(ents), inc, chart, rules, hist,
                 MappingProxyType(opening_reserve), Rates(book, per, gcur, foreign), MappingProxyType(settings),
                 tol), findings


def structural_needs(g: Group) -> list[Need]:
    """The settings the group's shape needs whatever its balances."""
    needs = []
    foreign = g.foreign()
    if foreign:
        needs.append(Need("setting", "translation_reserve_account", "the group has entities in another currency "
                          f"than {g.currency} ({', '.join(foreign)})"))
    ents = g.entities
    if any(ents[e].effective < ONE for e in g.included) or any(
            r.kind == "investment" and r.counterparty in ents and ents[r.counterparty].direct < ONE for r in g.rules):
        needs += [Need("setting", "nci_account", "an entity is owned below 100%"),
                  Need("setting", "nci_profit_account", "an entity is owned below 100%")]
    return needs


# --------------------------------------------------------------------------- reading the sheets

def _group_currency(book, findings) -> str:
    gcur = str(book.settings.group_currency or "").strip().upper()
    if not gcur and len(book.entities):
        top = book.entities[book.entities["parent"].fillna("") == ""]
        gcur = str(top["currency"].iloc[0]).strip().upper() if len(top) else ""
    if not gcur:
        findings.append(Finding(ERROR, "No group currency: group_currency is not set and no entity is at the top of "
                                "the group.", hint="Add group_currency to the Settings sheet.", sheet="Settings",
                                code="no-group-currency"))
    return gcur


def _ownership(v) -> Decimal | None:
    if v is None or (isinstance(v, float) and np.isnan(v)) or v == "":
        return ONE
    try:
        if isinstance(v, str):
            t = v.strip()
            d = Decimal(t[:-1]) / 100 if t.endswith("%") else Decimal(t)
        else:
            d = Decimal(repr(float(v)))
    except Exception:
        return None
    return d if Decimal(0) <= d <= ONE else None


def _yes(v, default=True) -> bool:
    if v is None or (isinstance(v, float) and np.isnan(v)) or v == "":
        return default
    if isinstance(v, str):
        return v.strip().lower() in ("y", "yes", "true", "1")
    return bool(v)


def _structure(book, findings) -> dict[str, Entity]:
    """Entities with their direct and effective ownership and whether they are consolidated."""
    rows = {code(r["entity"]): r for r in book.entities.to_dict("records")}
    direct, own_flag = {}, {}
    for e, r in rows.items():
        d = _ownership(r.get("ownership"))
        if d is None:
            findings.append(Finding(ERROR, f"Ownership of {e} is not a share between 0% and 100%.",
                                    hint="Write it as 80% or 0.8.", code="ownership-invalid",
                                    value=str(r.get("ownership")), **where(book, r, "ownership")))
            d = ONE
        direct[e] = ONE if code(r.get("parent")) == "" else d
        own_flag[e] = _yes(r.get("consolidate"))
    memo: dict[str, tuple[Decimal, bool]] = {}

    def walk(e, seen):
        if e in memo:
            return memo[e]
        p = code(rows[e].get("parent"))
        if p == "" or p not in rows or p in seen:
            if p and p in seen:
                findings.append(Finding(ERROR, f"The parent chain of {e} loops back to itself.",
                                        hint="Give every entity a parent higher up the group, and the top none.",
                                        code="ownership-cycle", **where(book, rows[e], "parent")))
            memo[e] = (direct[e], own_flag[e])
        else:
            pe, pinc = walk(p, seen | {e})
            memo[e] = (direct[e] * pe, own_flag[e] and pinc)
        return memo[e]

    out = {}
    for e, r in rows.items():
        eff, inc = walk(e, frozenset())
        out[e] = Entity(e, str(r.get("currency", "")).strip().upper(), code(r.get("parent")), direct[e], eff,
                        inc, str(r.get("source", "")), r)
    return out


def _chart(book) -> pd.DataFrame:
    acc = book.accounts.copy()
    acc["account"] = acc["account"].map(code)
    default = {"Asset": "closing", "Liability": "closing", "Revenue": "average", "Expense": "average",
               "Equity": "historical"}
    given = acc["translation"] if "translation" in acc else pd.Series([""] * len(acc), index=acc.index)
    given = given.fillna("").astype(str).str.strip().str.lower()
    acc["translation"] = [t if t in ("closing", "average", "historical") else default.get(ty, "closing")
                          for t, ty in zip(given, acc["type"])]
    return acc.drop_duplicates("account").set_index("account")


def _settings(book, chart) -> dict[str, tuple]:
    """Each account setting the consolidation may need: ``(account, problem)``, ``problem``
    being None when the setting is usable, else a function of the reason it is needed that
    makes the finding."""
    out = {}
    for key in ACCOUNT_SETTINGS:
        v = code(getattr(book.settings, key, ""))
        loc = {k: v for k, v in book.locate_setting(key).items() if k != "column"}
        if not v:
            out[key] = ("", lambda why, key=key, loc=loc: Finding(
                ERROR, f"{key} is not set, and it is needed because {why}.",
                hint=f"Add a Settings row with key {key} and an account of the chart.", code="setting-missing",
                column="value", **loc))
        elif v not in chart.index:
            out[key] = ("", lambda why, key=key, v=v, loc=loc: Finding(
                ERROR, f"{key} is {v}, which is not in the chart of accounts.",
                hint=f"Add account {v} to the Accounts sheet or correct the setting.",
                code="setting-unknown-account", column="value", value=v, **loc))
        else:
            out[key] = (v, None)
    return out


def code(v) -> str:
    """An account or entity code as text (a number read from Excel, 3000.0, becomes "3000")."""
    if v is None:
        return ""
    if isinstance(v, float):
        if np.isnan(v):
            return ""
        return str(int(v)) if v.is_integer() else repr(v)
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    return str(v).strip()


def _number(v):
    """A float from a cell (number, or text like "1.10"); None when blank; NaN when not a number."""
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    if isinstance(v, str):
        t = v.strip().replace(",", "")
        if not t:
            return None
        try:
            return float(t)
        except ValueError:
            return float("nan")
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def where(book, row, column="") -> dict:
    """File, sheet and cell of an input row for a finding (``row`` with lineage, or with a
    ``source`` of ``file!sheet!row``)."""
    try:
        return book.locate(row, column)
    except Exception:
        return book.locate_source(row.get("source", "") if hasattr(row, "get") else "", column)


def text(v) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    return str(v)


def _historical_table(book, ents, chart, gcur, findings) -> pd.DataFrame:
    """HistoricalRates, typed: entity, account, rate (float or NaN), amount_group (int or NaN), source."""
    cols = ["entity", "account", "rate", "amount_group", "source"]
    h = book.historical_rates
    if h is None or not len(h):
        return pd.DataFrame({c: [] for c in cols})
    rows = []
    seen = set()
    for r in h.to_dict("records"):
        e, a = code(r.get("entity")), code(r.get("account"))
        rate, amt = _number(r.get("rate")), _number(r.get("amount_group"))
        bad = None
        if e not in ents:
            bad = ("entity", f"HistoricalRates names entity {e or '(blank)'}, which is not in the Entities sheet.")
        elif a not in chart.index:
            bad = ("account", f"HistoricalRates names account {a or '(blank)'}, which is not in the chart of accounts.")
        elif rate is not None and np.isnan(rate):
            bad = ("rate", f"The historical rate of {e} {a} is not a number.")
        elif amt is not None and np.isnan(amt):
            bad = ("amount_group", f"amount_group of {e} {a} is not a number.")
        elif rate is not None and amt is not None:
            bad = ("rate", f"HistoricalRates gives both a rate and an amount_group for {e} {a}; give one of them.")
        elif rate is None and amt is None:
            bad = ("rate", f"HistoricalRates gives neither a rate nor an amount_group for {e} {a}.")
        elif rate is not None and rate <= 0:
            bad = ("rate", f"The historical rate of {e} {a} must be above zero.")
        elif (e, a) in seen:
            bad = ("account", f"HistoricalRates has more than one row for {e} {a}; the first is used.")
        if bad:
            findings.append(Finding(ERROR, bad[1], hint="Give one row per entity and account with either rate "
                                    f"({ents[e].currency if e in ents else 'entity currency'} → {gcur}) or "
                                    "amount_group (the translated opening balance).", code="historical-rate-invalid",
                                    value=text(r.get(bad[0])), **where(book, r, bad[0])))
            continue
        seen.add((e, a))
        minor = np.nan
        if amt is not None:
            m, too_precise = to_minor([amt], scale_of(gcur))
            minor = float(m[0])
            if too_precise[0]:
                findings.append(Finding(WARNING, f"amount_group of {e} {a} has more decimals than {gcur} has; "
                                        "it is rounded.", code="historical-rate-precision", value=text(amt),
                                        **where(book, r, "amount_group")))
        rows.append([e, a, np.nan if rate is None else rate, minor, str(r.get("source", ""))])
    return pd.DataFrame(rows, columns=cols) if rows else pd.DataFrame({c: [] for c in cols})


def _opening_reserve(book, hist, reserve: str, findings) -> dict[str, int]:
    """The translation reserve of each entity at the start of the calendar: a HistoricalRates
    row of ``translation_reserve_account`` with ``amount_group`` (default zero)."""
    if not reserve or not len(hist):
        return {}
    out = {}
    for r in hist[hist["account"] == reserve].to_dict("records"):
        if np.isnan(r["amount_group"]):
            findings.append(Finding(WARNING, f"HistoricalRates gives a rate for {r['entity']}'s translation reserve "
                                    f"({reserve}); the opening translation reserve is an amount, so the row is used "
                                    "only to translate a balance the entity's own books hold on that account.",
                                    hint=f"Give the reserve of {r['entity']} at the start of the calendar as "
                                    "amount_group (in group currency) instead of a rate.",
                                    code="opening-reserve-rate", **where(book, r, "rate")))
            continue
        out[r["entity"]] = int(r["amount_group"])
    return out


def account_set(spec: str, chart) -> tuple[frozenset, list[str]]:
    """Accounts named by a code, a range ``3000-3999`` or a list of either
    (:func:`closebatch.accounts.select`)."""
    sel = accounts.select(spec, chart.index)
    return frozenset(sel.accounts), list(sel.bad)


def _rules(book, ents, chart, findings) -> list[Rule]:
    el = book.eliminations
    if el is None or not len(el):
        return []
    out = []
    for r in el.to_dict("records"):
        name = code(r.get("rule"))
        kind = (code(r.get("type")) or "intercompany").lower()
        problems = []
        if not name:
            problems.append(("rule", "An Eliminations row has no rule name."))
        if kind not in ("intercompany", "investment"):
            problems.append(("type", f"Elimination rule {name}: type {kind!r} is neither intercompany nor "
                                     "investment."))
        sets = {}
        for col in ("account", "counter_account", "difference_account"):
            spec = code(r.get(col))
            s, bad = account_set(spec, chart) if spec else (frozenset(), [])
            if not spec:
                problems.append((col, f"Elimination rule {name}: {col} is blank."))
            elif bad:
                problems.append((col, f"Elimination rule {name}: {col} {', '.join(bad)} is not in the chart of "
                                      "accounts."))
            elif col == "difference_account" and len(s) != 1:
                problems.append((col, f"Elimination rule {name}: difference_account must be one account."))
            sets[col] = s
        ent, cp = code(r.get("entity")), code(r.get("counterparty"))
        for col, v in (("entity", ent), ("counterparty", cp)):
            if v and v not in ents:
                problems.append((col, f"Elimination rule {name}: {col} {v} is not in the Entities sheet."))
        if kind == "investment" and (not ent or not cp):
            problems.append(("entity" if not ent else "counterparty",
                             f"Investment rule {name} needs the parent (entity) and the subsidiary (counterparty)."))
        if problems:
            for col, msg in problems:
                findings.append(Finding(ERROR, msg, hint="Correct the Eliminations row; the rule is skipped.",
                                        code="elimination-rule-invalid", value=text(r.get(col)),
                                        **where(book, r, col)))
            continue
        out.append(Rule(name, kind, sets["account"], sets["counter_account"], next(iter(sets["difference_account"])),
                        ent, cp, text(r.get("description")), str(r.get("source", "")), r))
    return out


def dimv(row, dims) -> dict:
    return {d: row[d] for d in dims}


__all__ = ["Entity", "Group", "Need", "Posted", "Rates", "Rule", "entry", "fmt", "read_group", "share"]
