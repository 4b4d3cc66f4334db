"""Close step 8: consolidation into the group currency.

The group's figures are the sum of every consolidated entity's trial balance, translated into
``group_currency``, plus a consolidation layer of journals that never enter an entity's books
(journal type ``elimination``, in the group currency).

**Who is consolidated.**  Every entity whose ``consolidate`` flag is Y and whose parents up
the chain are all consolidated (a holding left out takes its subsidiaries with it).  The
*effective* ownership of an entity is the product of the ``ownership`` of every level up to
the top (P → S 80% → T 75%: T is 60% the group's).

**Translation** (per entity, account, dimension values and counterparty; the currency of the
transaction no longer matters, only ``balance_acct``)::

    closing     amount_group = round(balance_acct × closing rate at the period end)
    average     amount_group = carried_group + round(movement_acct × the period's average rate)
    historical  same as average, but the first time an entity is consolidated the opening
                balance is translated by HistoricalRates (``rate``, or ``amount_group`` given)

``carried_group`` is what this step translated at the previous close (``carry["group_ytd"]``)
and ``movement_acct = balance_acct − carried_acct``, so each period's movement is translated at
that period's average rate and the year to date accumulates.  Revenue and Expense rows of an
earlier fiscal year are not carried: at the first close of a new year their carried amounts
(accounting and group currency) are added to the entity's ``retained_earnings_account`` —
the books' own year-end close moved the accounting-currency profit there, and this makes the
group-currency retained earnings follow at the rates the profit was translated at.  An entity
in the group currency translates at 1.

**Translation reserve (CTA).**  Per entity the balancing figure ``−Σ amount_group``, posted on
``translation_reserve_account`` (journal ``CTA-<period>``; it balances the translated trial
balance, not itself).  Its analysis (report ``CTA``)::

    cta = net assets effect + profit effect + unexplained
    net assets effect = round(H × closing) − H_group   (H: the historical-rate accounts, i.e.
                        the opening net assets with sign reversed, H_group at the rates they
                        stand in the group books: opening_rate = H_group / H)
    profit effect     = round(P × closing) − P_group   (P: the average-rate accounts, i.e. the
                        profit for the year to date, at its accumulated average_rate)

so ``opening net assets × (closing − opening rate) + profit YTD × (closing − average)``; the
unexplained remainder is rounding (and any account translated at an unusual rate type).
Amounts in reports and lines follow the ledger sign (debit +, credit −): a CTA of −1602 is a
credit, a translation gain.

**Eliminations** (``Eliminations`` sheet, journal ``ELIM-<rule>-<period>``):

* ``intercompany``: for every ordered pair (e, c) the rule covers, the group-currency balance
  of ``account`` at e with counterparty c and of ``counter_account`` at c with counterparty e
  are reversed, each balance once.  What does not cancel, per unordered pair, goes to
  ``difference_account`` (on the rule's entity, else the first of the pair); above
  ``rounding_tolerance`` it is a warning naming both sides.
* ``investment``: the parent's investment (its ``account`` balance with counterparty = the
  subsidiary; the blank-counterparty balance when it has none) is reversed; the subsidiary's
  equity at acquisition (its opening TrialBalance balances of ``counter_account``, translated
  by HistoricalRates) is reversed in full; ``(1 − ownership) × equity`` goes to
  ``nci_account``; goodwill = investment − equity + NCI (= investment − ownership × equity,
  exactly balancing) is debited to ``difference_account``.  Positive goodwill is held in the
  subsidiary's currency at the acquisition rate and retranslated at the closing rate, the
  difference against ``translation_reserve_account``.  Negative goodwill is an error unless
  ``difference_account`` is a Revenue account (a bargain purchase gain, not retranslated).

**Non-controlling interests** (proportionate method, journal ``NCI-<period>``): for an entity
whose effective ownership is below 100%, ``(1 − effective)`` of its translated profit for the
year to date is debited to ``nci_profit_account`` and credited to ``nci_account``; the same
share of its CTA is moved from ``translation_reserve_account`` to ``nci_account``; and the same
share of its post-acquisition equity movements (its Equity accounts' group amounts less equity
at acquisition, e.g. earlier years' profit in retained earnings) is moved to ``nci_account``.
Shares of money round half away from zero to the group currency's minor unit.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd

from .. import accounts
from ..context import CloseContext, LedgerState
from ..core import ERROR, WARNING, Finding, StepResult, empty_lines, make_lines
from ..money import convert, fmt, scale_of, scales, to_minor

JOURNAL_TYPE = "elimination"
CARRY = "group_ytd"
PROFIT_TYPES = ("Revenue", "Expense")
ONE = Decimal(1)


def consolidate(ctx: CloseContext, state: LedgerState) -> StepResult:
    """Translate, eliminate and attribute to non-controlling interests (spec section 3, step 8).

    Returns the consolidation-layer lines (eliminations and NCI, group currency; every
    journal balances), findings, the reports ``Worksheet``, ``Consolidated``,
    ``Translation``, ``Eliminations``, ``Goodwill``, ``CTA`` and ``NCI``, figures, and the
    carries the next close starts from: ``group_ytd`` (the translated balances),
    ``goodwill`` (each investment's measurement), ``consolidation_profit`` (consolidation
    income and expense measured since inception, with the part of earlier fiscal years) and
    ``cta`` (each entity's translation reserve).
    """
    book, per = ctx.book, ctx.period
    dims = list(book.dims)
    out = _Out(dims)
    gcur = _group_currency(book, out.findings)
    if not gcur:
        return StepResult(empty_lines(dims), out.findings)
    ents = _structure(book, out.findings)
    inc = [e for e, i in ents.items() if i.included]
    chart = _chart(book)
    cfg = _Settings(book, chart, out.findings)
    hist = _historical_table(book, ents, chart, gcur, out.findings)
    rules = _rules(book, ents, chart, out.findings)
    st = _without_eliminations(state)
    _unknown_counterparties(book, st, ents, inc, out.findings)

    foreign = sorted({ents[e].currency for e in inc if ents[e].currency != gcur})
    if foreign:
        cfg.need("translation_reserve_account", "the group has entities in another currency than "
                 f"{gcur} ({', '.join(foreign)})")
    if any(ents[e].effective < ONE for e in inc) or any(
            r.kind == "investment" and r.counterparty in ents and ents[r.counterparty].direct < ONE for r in rules):
        cfg.need("nci_account", "an entity is owned below 100%")
        cfg.need("nci_profit_account", "an entity is owned below 100%")

    rates = _Rates(book, per, gcur, foreign)
    carry = _read_carry(state.carried, dims, per, chart, cfg, out.findings)
    reserve = cfg.get("translation_reserve_account")
    opening_reserve = _opening_reserve(book, hist, reserve, out.findings)
    tr = _translate(book, st, ents, inc, chart, carry, hist, rates, gcur, per, dims, out.findings)
    rates.report_missing(tr, out.findings)

    g_scale = scale_of(gcur)
    cta = (-tr.groupby("entity")["amount_group"].sum()).reindex(inc, fill_value=0).astype("int64")
    for e in inc:
        if cta[e] and ents[e].currency == gcur:
            out.findings.append(Finding(WARNING, f"The trial balance of {e} ({gcur}) does not balance: "
                                        f"{fmt(-cta[e], g_scale)} {gcur}; the difference is shown on the "
                                        "translation reserve.", hint=f"Correct the books of {e}.",
                                        code="consolidation-unbalanced", **_where(book, ents[e].row, "entity")))

    acq: dict[str, pd.DataFrame] = {}
    measured_before = _read_measured(state.carried)
    measured: list[_Measured] = []
    tol = int(Decimal(book.settings.rounding_tolerance).scaleb(g_scale).to_integral_value(ROUND_HALF_UP))
    for rule in rules:
        if rule.kind == "intercompany":
            _intercompany(rule, tr, set(inc), per, dims, gcur, tol, out, book)
        else:
            m = _investment(rule, tr, book, ents, set(inc), hist, rates, cfg, chart, per, dims, gcur, acq,
                            measured_before, out)
            if m is not None:
                measured.append(m)

    reserve_figs = _reserve_figures(tr, cta, out, inc, reserve)
    nci_report = _nci(tr, ents, inc, reserve_figs, acq, chart, cfg, per, dims, out)
    profit_carry = _earlier_years(out, state.carried, rules, chart, cfg, per, dims)

    lines = out.lines(per, gcur)
    cta_report, cta_carry = _cta_report(tr, ents, inc, reserve_figs, nci_report, state.carried, opening_reserve,
                                        rates, gcur, per)
    translated = _translated(tr, cta, reserve, dims)
    consolidated = _consolidated(translated, lines, book)
    worksheet = _worksheet(translated, out.rows, inc, rules, chart)
    figures = {"consolidated_entities": len(inc),
               "eliminations": int(lines["journal"].str.startswith("ELIM-").sum()) if len(lines) else 0,
               "consolidated_total": int(consolidated["balance_group"].sum()) if len(consolidated) else 0}
    foreign_inc = [e for e in inc if ents[e].currency != gcur or cta_report.set_index("entity").loc[e, "cta_total"]]
    for label in CTA_FIGURES:
        vals = dict(zip(cta_report["entity"], cta_report[label]))
        figures[label] = {e: int(vals[e]) for e in foreign_inc if e in vals}
    reports = {"Worksheet": worksheet, "Consolidated": consolidated, "Translation": _translation_report(tr, dims),
               "Eliminations": out.report(), "Goodwill": _goodwill_report(measured, rates, gcur),
               "CTA": cta_report, "NCI": nci_report}
    carries = {CARRY: _carry_out(tr, dims, per), GOODWILL: _measured_frame(measured, gcur),
               PROFIT_CARRY: profit_carry, CTA_CARRY: cta_carry}
    return StepResult(lines, out.findings, reports, figures, carries)


# --------------------------------------------------------------------------- the group

@dataclass(frozen=True)
class _Entity:
    code: str
    currency: str
    parent: str
    direct: Decimal  # ownership the parent holds
    effective: Decimal  # product of the ownerships up to the top
    included: bool
    source: str
    row: dict


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


def _structure(book, findings) -> dict[str, _Entity]:
    """Entities with their direct and effective ownership and whether they are consolidated."""
    rows = {_code(r["entity"]): r for r in book.entities.to_dict("records")}
    direct, own_flag = {}, {}
    for e, r in rows.items():
        d = _ownership(r.get("ownership"))
        if d is None:
            findings.append(Finding(ERROR, f"Ownership of {e} is not a share between 0% and 100%.",
                                    hint="Write it as 80% or 0.8.", code="ownership-invalid",
                                    value=str(r.get("ownership")), **_where(book, r, "ownership")))
            d = ONE
        direct[e] = ONE if _code(r.get("parent")) == "" else d
        own_flag[e] = _yes(r.get("consolidate"))
    memo: dict[str, tuple[Decimal, bool]] = {}

    def walk(e, seen):
        if e in memo:
            return memo[e]
        p = _code(rows[e].get("parent"))
        if p == "" or p not in rows or p in seen:
            if p and p in seen:
                findings.append(Finding(ERROR, f"The parent chain of {e} loops back to itself.",
                                        hint="Give every entity a parent higher up the group, and the top none.",
                                        code="ownership-cycle", **_where(book, rows[e], "parent")))
            memo[e] = (direct[e], own_flag[e])
        else:
            pe, pinc = walk(p, seen | {e})
            memo[e] = (direct[e] * pe, own_flag[e] and pinc)
        return memo[e]

    out = {}
    for e, r in rows.items():
        eff, inc = walk(e, frozenset())
        out[e] = _Entity(e, str(r.get("currency", "")).strip().upper(), _code(r.get("parent")), direct[e], eff,
                         inc, str(r.get("source", "")), r)
    return out


def _chart(book) -> pd.DataFrame:
    acc = book.accounts.copy()
    acc["account"] = acc["account"].map(_code)
    default = {"Asset": "closing", "Liability": "closing", "Revenue": "average", "Expense": "average",
               "Equity": "historical"}
    given = acc["translation"] if "translation" in acc else pd.Series([""] * len(acc), index=acc.index)
    given = given.fillna("").astype(str).str.strip().str.lower()
    acc["translation"] = [t if t in ("closing", "average", "historical") else default.get(ty, "closing")
                          for t, ty in zip(given, acc["type"])]
    return acc.drop_duplicates("account").set_index("account")


class _Settings:
    """Account settings, each checked (set, and in the chart) the first time it is needed."""

    def __init__(self, book, chart, findings):
        self.book, self.chart, self.findings = book, chart, findings
        self.checked: dict[str, str] = {}

    def need(self, key: str, why: str) -> str:
        if key in self.checked:
            return self.checked[key]
        v = _code(getattr(self.book.settings, key, ""))
        f, s, r = self.book.settings.origin.get(key, ("", "Settings", 0))
        where = dict(file=f, sheet=s or "Settings", cell=f"row {r}" if r else "")
        if not v:
            self.findings.append(Finding(ERROR, f"{key} is not set, and it is needed because {why}.",
                                         hint=f"Add a Settings row with key {key} and an account of the chart.",
                                         code="setting-missing", column="value", **where))
        elif v not in self.chart.index:
            self.findings.append(Finding(ERROR, f"{key} is {v}, which is not in the chart of accounts.",
                                         hint=f"Add account {v} to the Accounts sheet or correct the setting.",
                                         code="setting-unknown-account", column="value", value=v, **where))
            v = ""
        self.checked[key] = v
        return v

    def get(self, key: str) -> str:
        return self.checked.get(key, "")


# --------------------------------------------------------------------------- input sheets

def _code(v) -> str:
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


def _where(book, row, column="") -> dict:
    try:
        return book.locate(row, column)
    except Exception:
        parts = str(row.get("source", "") if hasattr(row, "get") else "").split("!")
        if len(parts) == 3:
            return {"file": parts[0], "sheet": parts[1], "cell": f"row {parts[2]}", "column": column}
        return {"column": column}


def _historical_table(book, ents, chart, gcur, findings) -> pd.DataFrame:
    """HistoricalRates, typed: entity, account, rate (float or NaN), amount_group (int or NaN), source."""
    cols = ["entity", "account", "rate", "amount_group", "source"]
    h = book.historical_rates
    if h is None or not len(h):
        return pd.DataFrame({c: [] for c in cols})
    rows = []
    seen = set()
    for r in h.to_dict("records"):
        e, a = _code(r.get("entity")), _code(r.get("account"))
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
                                    value=_text(r.get(bad[0])), **_where(book, r, bad[0])))
            continue
        seen.add((e, a))
        minor = np.nan
        if amt is not None:
            m, too_precise = to_minor([amt], scale_of(gcur))
            minor = float(m[0])
            if too_precise[0]:
                findings.append(Finding(WARNING, f"amount_group of {e} {a} has more decimals than {gcur} has; "
                                        "it is rounded.", code="historical-rate-precision", value=_text(amt),
                                        **_where(book, r, "amount_group")))
        rows.append([e, a, np.nan if rate is None else rate, minor, str(r.get("source", ""))])
    return pd.DataFrame(rows, columns=cols) if rows else pd.DataFrame({c: [] for c in cols})


def _text(v) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    return str(v)


@dataclass
class _Rule:
    name: str
    kind: str
    accounts: frozenset
    counters: frozenset
    difference: str
    entity: str
    counterparty: str
    description: str
    source: str
    row: dict = field(repr=False)


def _account_set(spec: str, chart) -> tuple[frozenset, list[str]]:
    """Accounts named by a code, a range ``3000-3999`` or a list of either
    (:func:`closebatch.accounts.select`)."""
    sel = accounts.select(spec, chart.index)
    return frozenset(sel.accounts), list(sel.bad)


def _rules(book, ents, chart, findings) -> list[_Rule]:
    el = book.eliminations
    if el is None or not len(el):
        return []
    out = []
    for r in el.to_dict("records"):
        name = _code(r.get("rule"))
        kind = (_code(r.get("type")) or "intercompany").lower()
        problems = []
        if not name:
            problems.append(("rule", "An Eliminations row has no rule name."))
        if kind not in ("intercompany", "investment"):
            problems.append(("type", f"Elimination rule {name}: type {kind!r} is neither intercompany nor "
                                     "investment."))
        sets = {}
        for col in ("account", "counter_account", "difference_account"):
            spec = _code(r.get(col))
            s, bad = _account_set(spec, chart) if spec else (frozenset(), [])
            if not spec:
                problems.append((col, f"Elimination rule {name}: {col} is blank."))
            elif bad:
                problems.append((col, f"Elimination rule {name}: {col} {', '.join(bad)} is not in the chart of "
                                      "accounts."))
            elif col == "difference_account" and len(s) != 1:
                problems.append((col, f"Elimination rule {name}: difference_account must be one account."))
            sets[col] = s
        ent, cp = _code(r.get("entity")), _code(r.get("counterparty"))
        for col, v in (("entity", ent), ("counterparty", cp)):
            if v and v not in ents:
                problems.append((col, f"Elimination rule {name}: {col} {v} is not in the Entities sheet."))
        if kind == "investment" and (not ent or not cp):
            problems.append(("entity" if not ent else "counterparty",
                             f"Investment rule {name} needs the parent (entity) and the subsidiary (counterparty)."))
        if problems:
            for col, msg in problems:
                findings.append(Finding(ERROR, msg, hint="Correct the Eliminations row; the rule is skipped.",
                                        code="elimination-rule-invalid", value=_text(r.get(col)),
                                        **_where(book, r, col)))
            continue
        out.append(_Rule(name, kind, sets["account"], sets["counter_account"], next(iter(sets["difference_account"])),
                         ent, cp, _text(r.get("description")), str(r.get("source", "")), r))
    return out


# --------------------------------------------------------------------------- ledger

def _without_eliminations(state: LedgerState) -> LedgerState:
    """The entity ledger only: consolidation-layer lines never enter an entity's balances."""
    lines = state.lines
    if len(lines) and "journal_type" in lines and (lines["journal_type"] == JOURNAL_TYPE).any():
        lines = lines[lines["journal_type"] != JOURNAL_TYPE].reset_index(drop=True)
        return LedgerState(state.dims, state.opening, lines, state.carried, state.settle_accounts)
    return state


def _unknown_counterparties(book, st, ents, inc, findings):
    bal = st.balances()
    bal = bal[bal["entity"].isin(inc) & (bal["counterparty"] != "") & ~bal["counterparty"].isin(list(ents))]
    if not len(bal):
        return
    sources = pd.concat([f for f in (st.lines, book.opening) if len(f)], ignore_index=True) \
        if len(st.lines) or len(book.opening) else pd.DataFrame()
    for (e, a, c), _ in bal.groupby(["entity", "account", "counterparty"], sort=True):
        where = {}
        if len(sources):
            hit = sources[(sources["entity"] == e) & (sources["account"] == a) & (sources["counterparty"] == c)]
            if len(hit):
                where = _where(book, hit.iloc[0], "counterparty")
        findings.append(Finding(ERROR, f"{e} account {a} has a balance with counterparty {c}, which is not an entity "
                                "of the group.", hint=f"Correct the counterparty, or add {c} to the Entities sheet.",
                                code="counterparty-unknown", value=c, **where))


class _Rates:
    """Closing and average rate of each foreign currency into the group currency."""

    def __init__(self, book, per, gcur, currencies):
        from ..rates import lookup

        self.per, self.gcur = per, gcur
        self.table: dict[tuple[str, str], dict] = {}
        if currencies:
            for rtype in ("closing", "average"):
                res = lookup(book.rates, currencies, [gcur] * len(currencies), per.end, rtype,
                             period_start=per.start, period_end=per.end)
                for cur, r in zip(currencies, res.to_dict("records")):
                    self.table[(cur, rtype)] = r
        self.needed: set[tuple[str, str]] = set()

    def get(self, cur: str, rtype: str) -> dict:
        if cur == self.gcur:
            return {"rate": 1.0, "inverse": False, "source": "", "used_type": "same currency", "found": True,
                    "stale": False}
        return self.table.get((cur, rtype), {"rate": np.nan, "inverse": False, "source": "", "used_type": "",
                                             "found": False, "stale": False})

    def effective(self, cur, rtype) -> float:
        r = self.get(cur, rtype)
        return (1.0 / r["rate"] if r["inverse"] else r["rate"]) if r["found"] else np.nan

    def report_missing(self, tr, findings):
        used = tr[(tr["movement_acct"] != 0) & (tr["currency"] != self.gcur)]
        kinds = np.where(used["translation"] == "closing", "closing", "average")
        need = set(zip(used["currency"], kinds)) | self.needed
        for cur, rtype in sorted(need):
            r = self.get(cur, rtype)
            date = self.per.end.date().isoformat()
            if not r["found"]:
                within = f" dated within {self.per.name}" if rtype == "average" else ""
                findings.append(Finding(ERROR, f"No {rtype} rate {cur}→{self.gcur}{within} for {date}: the "
                                        f"consolidation cannot translate {cur} balances.",
                                        hint=f"Add a Rates row from {cur} to {self.gcur}, type {rtype}, dated "
                                        f"{'within the period' if rtype == 'average' else 'on or before ' + date}.",
                                        sheet="Rates", code="rate-missing", value=f"{cur}/{self.gcur} {rtype} {date}"))
            elif r.get("stale"):
                findings.append(Finding(WARNING, f"The closing rate {cur}→{self.gcur} used for {date} is dated "
                                        f"before {self.per.name} starts.", hint="Add this period's closing rate.",
                                        sheet="Rates", code="rate-stale", value=str(r.get("source", ""))))


def _read_carry(carried, dims, per, chart, cfg, findings) -> pd.DataFrame:
    """The previous close's translated balances, with a new fiscal year's roll of profit into
    retained earnings.  Columns: key, base_acct, base_group, base_period, rolled."""
    key = ["entity", "account", *dims, "counterparty"]
    cols = key + ["base_acct", "base_group", "base_period", "rolled"]
    c = (carried or {}).get(CARRY)
    if c is None or not len(c):
        return pd.DataFrame({k: pd.Series([], dtype=object) for k in cols})
    c = c.copy()
    for k in key + ["period"]:
        c[k] = c[k].map(_code) if k in c else ""
    for k in ("amount_acct", "amount_group"):
        c[k] = pd.to_numeric(c[k], errors="coerce").fillna(0).round().astype("int64") if k in c else 0
    fy = c["fiscal_year"] if "fiscal_year" in c else pd.Series(per.fiscal_year, index=c.index)
    c["fiscal_year"] = pd.to_numeric(fy, errors="coerce").fillna(per.fiscal_year).astype("int64")
    c = c[c["period"] != per.name]  # never one's own earlier result (a re-close)
    types = c["account"].map(chart["type"]).fillna("")
    prior_pl = c[(c["fiscal_year"] < per.fiscal_year) & types.isin(PROFIT_TYPES)]
    keep = c.drop(index=prior_pl.index)
    keep = keep.assign(rolled=False)
    if len(prior_pl):
        re_acct = cfg.need("retained_earnings_account",
                           f"fiscal year {per.fiscal_year} begins and the translated profit of the year before "
                           "must roll into retained earnings")
        if re_acct:
            roll = prior_pl.groupby("entity", as_index=False)[["amount_acct", "amount_group"]].sum()
            roll = roll.assign(account=re_acct, counterparty="", period=prior_pl["period"].iloc[0], rolled=True,
                               **{d: "" for d in dims})
            keep = pd.concat([keep, roll[key + ["amount_acct", "amount_group", "period", "rolled"]]],
                             ignore_index=True)
    keep = keep.groupby(key, as_index=False, sort=True).agg(
        base_acct=("amount_acct", "sum"), base_group=("amount_group", "sum"), base_period=("period", "first"),
        rolled=("rolled", "any"))
    return keep[cols]


# --------------------------------------------------------------------------- translation

def _translate(book, st, ents, inc, chart, carry, hist, rates, gcur, per, dims, findings) -> pd.DataFrame:
    key = ["entity", "account", *dims, "counterparty"]
    bal = st.balances()
    bal = bal[bal["entity"].isin(inc)]
    tb = bal.groupby(key, as_index=False, sort=True)["amount_acct"].sum()
    tb = tb.rename(columns={"amount_acct": "balance_acct"})
    op = st.opening[st.opening["entity"].isin(inc)] if len(st.opening) else st.opening
    op = op.groupby(key, as_index=False, sort=True)["amount_acct"].sum().rename(columns={"amount_acct": "opening_acct"})
    carried_entities = set(carry["entity"])
    carry = carry[carry["entity"].isin(inc)]
    tb = tb.merge(op, on=key, how="outer").merge(carry, on=key, how="outer")
    for c in ("balance_acct", "opening_acct", "base_acct", "base_group"):
        tb[c] = tb[c].fillna(0).astype("int64")
    tb["base_period"] = tb["base_period"].fillna("")
    tb["rolled"] = tb["rolled"].fillna(False).astype(bool)
    tb = tb.sort_values(key, kind="stable").reset_index(drop=True)

    cur = tb["entity"].map({e: ents[e].currency for e in inc}).to_numpy(dtype=object)
    tb["currency"] = cur
    tb["type"] = tb["account"].map(chart["type"]).fillna("")
    tb["translation"] = tb["account"].map(chart["translation"]).fillna("closing")
    same = cur == gcur
    close = (tb["translation"] == "closing").to_numpy()
    hist_acc = (tb["translation"] == "historical").to_numpy()
    has_carry = tb["entity"].isin(carried_entities).to_numpy()
    first_hist = hist_acc & ~has_carry & ~same

    n = len(tb)
    base_acct = np.where(close | same, 0, np.where(has_carry, tb["base_acct"], 0)).astype("int64")
    base_group = np.where(close | same, 0, np.where(has_carry, tb["base_group"], 0)).astype("int64")
    carried_from = "carried from " + tb["base_period"].astype(str)
    base_source = np.where(close | same | ~has_carry, "", carried_from).astype(object)
    base_source = np.where(tb["rolled"].to_numpy() & ~close & ~same,
                           base_source + " + prior-year profit rolled into retained earnings", base_source)
    hist_rate = np.full(n, np.nan)
    if first_hist.any():
        sub = tb.loc[first_hist, key + ["opening_acct", "currency"]].rename(columns={"opening_acct": "acct"})
        h = _historical(sub, hist, rates, gcur, findings, book)
        idx = np.flatnonzero(first_hist)
        base_acct[idx] = sub["acct"].to_numpy(dtype="int64")
        base_group[idx] = h["group"].to_numpy(dtype="int64")
        base_source[idx] = h["source"].to_numpy(dtype=object)
        hist_rate[idx] = h["rate"].to_numpy(dtype="float64")
    movement = tb["balance_acct"].to_numpy(dtype="int64") - base_acct

    rtype = np.where(close, "closing", "average")
    pairs = pd.Series(cur, dtype=object) + "|" + pd.Series(rtype, dtype=object)
    info = {}  # one lookup per currency and rate type, mapped onto the balances
    for p in pd.unique(pairs):
        r = rates.get(*p.split("|"))
        info[p] = (r["rate"] if r["found"] else np.nan, bool(r["inverse"]), r["used_type"] or p.split("|")[1],
                   str(r["source"] or "") + (" (inverse)" if r["inverse"] else ""))
    rate = pairs.map({k: v[0] for k, v in info.items()}).to_numpy(dtype="float64")
    inverse = pairs.map({k: v[1] for k, v in info.items()}).to_numpy(dtype=bool)
    used = pairs.map({k: v[2] for k, v in info.items()}).to_numpy(dtype=object)
    source = pairs.map({k: v[3] for k, v in info.items()}).to_numpy(dtype=object)
    moved = convert(movement, np.where(np.isnan(rate), 0.0, rate), scales(cur), scale_of(gcur), inverse)
    tb["base_acct"], tb["base_group"], tb["base_source"] = base_acct, base_group, base_source
    tb["movement_acct"] = movement
    only_hist = first_hist & (movement == 0)  # nothing moved: the historical rate alone
    tb["rate_type"] = np.where(same, "same currency", np.where(
        only_hist, "historical", np.where(first_hist, "historical + " + used, used)))
    tb["rate"] = np.where(only_hist, hist_rate, np.where(inverse, 1.0 / np.where(rate == 0, np.nan, rate), rate))
    tb["rate_source"] = np.where(only_hist, base_source, source)
    tb["amount_group"] = base_group + moved
    return tb


def _historical(sub: pd.DataFrame, hist: pd.DataFrame, rates, gcur, findings, book) -> pd.DataFrame:
    """Opening balances (column ``acct``) translated by HistoricalRates: ``group``, ``rate``, ``source``.

    A ``rate`` row converts each balance; an ``amount_group`` row is spread over the account's
    balances in proportion to them (remainder to the largest).  A balance with no row is an
    error, and is translated at the closing rate meanwhile."""
    sub = sub.reset_index(drop=True)
    m = sub[["entity", "account"]].merge(hist, on=["entity", "account"], how="left")
    acct = sub["acct"].to_numpy(dtype="int64")
    rate = m["rate"].to_numpy(dtype="float64")
    amt = m["amount_group"].to_numpy(dtype="float64")
    src = np.array(["" if v is None or v != v else str(v) for v in m["source"].astype(object)], dtype=object)
    group = convert(acct, np.where(np.isnan(rate), 1.0, rate), scales(sub["currency"]), scale_of(gcur))
    shown = rate.copy()
    by_amount = ~np.isnan(amt)
    if by_amount.any():
        for (e, a), g in sub[by_amount].groupby(["entity", "account"], sort=False):
            idx = g.index.to_numpy()
            total, target = int(acct[idx].sum()), int(amt[idx[0]])
            if total == 0:
                group[idx] = 0
                if target:
                    findings.append(Finding(WARNING, f"amount_group of {e} {a} is given, but its opening balance is "
                                            "zero; it is not used.", code="historical-amount-unused",
                                            value=str(target)))
                continue
            share = np.array([int((Decimal(target) * int(x) / total).to_integral_value(ROUND_HALF_UP))
                              for x in acct[idx]], dtype="int64")
            share[np.argmax(np.abs(acct[idx]))] += target - int(share.sum())
            group[idx] = share
            shown[idx] = (target / 10 ** scale_of(gcur)) / (total / 10 ** scale_of(str(g["currency"].iloc[0])))
    missing = np.isnan(rate) & ~by_amount & (acct != 0)
    if missing.any():
        for (e, a), g in sub[missing].groupby(["entity", "account"], sort=True):
            where = {}
            op = book.opening
            hit = op[(op["entity"] == e) & (op["account"] == a)] if len(op) else op
            if len(hit):
                where = _where(book, hit.iloc[0], "account")
            cur = str(g["currency"].iloc[0])
            total = int(acct[g.index.to_numpy()].sum())
            findings.append(Finding(ERROR, f"{e} account {a} has an opening balance of {fmt(total, scale_of(cur))} "
                                    f"{cur} to translate at a historical rate, and HistoricalRates has no row for it.",
                                    hint=f"Add a HistoricalRates row: entity {e}, account {a}, with the rate "
                                    f"{cur}→{gcur} of the day it arose, or its amount_group in {gcur}.",
                                    code="historical-rate-missing", value=f"{e} {a}", **where))
        idx = np.flatnonzero(missing)
        cl = [rates.get(c, "closing") for c in sub["currency"].to_numpy()[idx]]
        group[idx] = convert(acct[idx], [r["rate"] if r["found"] else 0.0 for r in cl],
                             scales(sub["currency"].to_numpy()[idx]), scale_of(gcur), [r["inverse"] for r in cl])
        src[idx] = "no HistoricalRates row: closing rate used"
        shown[idx] = np.nan
    src = np.where((src == "") & (acct == 0), "", src)
    return pd.DataFrame({"group": group.astype("int64"), "rate": shown, "source": src})


# --------------------------------------------------------------------------- the consolidation layer

class _Out:
    """Collects the consolidation-layer lines and their report rows."""

    def __init__(self, dims):
        self.dims = dims
        self.rows: list[dict] = []
        self.findings: list[Finding] = []

    def add(self, journal, entity, account, amount, *, counterparty="", dimv=None, description="", source="",
            rule="", kind="", role="", balance=None, cumulative=0):
        """One consolidation-layer line.  ``cumulative``: the part of ``amount`` measured
        from balances kept since inception (balance-sheet accounts) rather than from the
        fiscal year's income and expenses; on a Revenue/Expense account that part is income
        or expense of the year it arose in (see :func:`_earlier_years`)."""
        amount = int(amount)
        if amount == 0 and not cumulative:
            return
        self.rows.append(dict(journal=journal, entity=entity, account=account, counterparty=counterparty,
                              amount=amount, description=description, source=source, rule=rule, kind=kind,
                              role=role, balance_group=balance, cumulative=int(cumulative),
                              **{d: (dimv or {}).get(d, "") for d in self.dims}))

    def lines(self, per, gcur) -> pd.DataFrame:
        if not self.rows:
            return empty_lines(self.dims)
        df = pd.DataFrame(self.rows)
        df = df[df["amount"] != 0]
        if not len(df):
            return empty_lines(self.dims)
        line = df.groupby("journal", sort=False).cumcount().to_numpy() + 1
        return make_lines(self.dims, journal=df["journal"].to_numpy(), line=line, date=per.end,
                          entity=df["entity"].to_numpy(), account=df["account"].to_numpy(), currency=gcur,
                          amount=df["amount"].to_numpy(), amount_acct=df["amount"].to_numpy(),
                          counterparty=df["counterparty"].to_numpy(), journal_type=JOURNAL_TYPE,
                          description=df["description"].to_numpy(), source=df["source"].to_numpy(),
                          **{d: df[d].to_numpy() for d in self.dims})

    def report(self) -> pd.DataFrame:
        cols = ["rule", "type", "journal", "role", "entity", "account", *self.dims, "counterparty", "balance_group",
                "amount_group", "description", "source"]
        rows = [r for r in self.rows if r["journal"].startswith("ELIM-") and r["amount"]]
        if not rows:
            return pd.DataFrame({c: [] for c in cols})
        df = pd.DataFrame(rows).rename(columns={"kind": "type", "amount": "amount_group"})
        df["balance_group"] = pd.array(df["balance_group"], dtype="Int64")
        return df[cols].reset_index(drop=True)


def _dimv(row, dims) -> dict:
    return {d: row[d] for d in dims}


def _intercompany(rule, tr, inc, per, dims, gcur, tol, out, book):
    cp, ent = tr["counterparty"], tr["entity"]
    valid = cp.isin(inc) & (cp != ent) & (tr["amount_group"] != 0)
    a = valid & tr["account"].isin(rule.accounts)
    b = valid & tr["account"].isin(rule.counters)
    if rule.entity:
        a &= ent == rule.entity
        b &= cp == rule.entity
    if rule.counterparty:
        a &= cp == rule.counterparty
        b &= ent == rule.counterparty
    sel = tr[a | b].copy()
    if not len(sel):
        return
    sel["role"] = np.where(a[a | b], "account", "counter_account")
    first = np.where(sel["entity"] < sel["counterparty"], sel["entity"], sel["counterparty"])
    second = np.where(sel["entity"] < sel["counterparty"], sel["counterparty"], sel["entity"])
    sel["pair"] = pd.Series(first, index=sel.index) + "|" + pd.Series(second, index=sel.index)
    journal = f"ELIM-{rule.name}-{per.name}"
    g_scale = scale_of(gcur)
    for pair, g in sel.groupby("pair", sort=True):
        x, y = pair.split("|")
        for _, r in g.iterrows():  # the pair's balances: a handful
            out.add(journal, r["entity"], r["account"], -r["amount_group"], counterparty=r["counterparty"],
                    dimv=_dimv(r, dims), description=f"Eliminate {r['entity']} {r['account']} with {r['counterparty']}",
                    source=rule.source, rule=rule.name, kind=rule.kind, role=r["role"], balance=int(r["amount_group"]))
        diff = int(g["amount_group"].sum())
        # the part measured on balance-sheet balances (kept since inception), not on the year's P&L
        since_inception = int(g.loc[~g["type"].isin(PROFIT_TYPES), "amount_group"].sum())
        if not diff and not since_inception:
            continue
        owner = rule.entity if rule.entity in (x, y) else x
        other = y if owner == x else x
        out.add(journal, owner, rule.difference, diff, counterparty=other,
                description=f"Intercompany difference {x}/{y}", source=rule.source, rule=rule.name, kind=rule.kind,
                role="difference", cumulative=since_inception)
        if abs(diff) > tol:
            sides = g.groupby(["entity", "account", "counterparty"], sort=True)["amount_group"].sum()
            named = "; ".join(f"{e} {acc} with {c}: {fmt(v, g_scale)} {gcur}" for (e, acc, c), v in sides.items())
            out.findings.append(Finding(WARNING, f"Elimination rule {rule.name}: the intercompany balances of {x} and "
                                        f"{y} do not cancel ({named}); the difference {fmt(diff, g_scale)} {gcur} is "
                                        f"posted to {rule.difference}.", hint="Reconcile the two sides (timing, "
                                        "missing invoice, a wrong counterparty) and post the correction in the books.",
                                        code="intercompany-difference", value=fmt(diff, g_scale),
                                        **_where(book, rule.row, "rule")))


def _share(amount: int, factor: Decimal) -> int:
    return int((Decimal(int(amount)) * factor).to_integral_value(ROUND_HALF_UP))


@dataclass(frozen=True)
class _Measured:
    """An investment's goodwill as measured once, at the first close that consolidated it
    (spec section 3, step 8): amounts in minor units; equity taken as a positive amount."""

    rule: str
    parent: str
    sub: str
    period: str
    fiscal_year: int
    parent_currency: str
    sub_currency: str
    investment_acct: int  # the investment in the parent's currency
    investment_group: int  # ... in group currency, at its HistoricalRates rate or that close's closing rate
    equity_acct: int  # the subsidiary's equity at acquisition, in its currency
    equity_group: int  # ... at its historical rates
    nci_group: int  # the non-controlling share of that equity
    goodwill_group: int  # investment − equity + NCI (negative: a bargain purchase)
    goodwill_sub: int  # the same in the subsidiary's currency: what later closes translate


GOODWILL = "goodwill"


def _read_measured(carried) -> dict[str, _Measured]:
    """The goodwill measurements of earlier closes (``carry["goodwill"]``), by rule."""
    c = (carried or {}).get(GOODWILL)
    if c is None or not len(c):
        return {}
    out = {}
    num = lambda v: int(pd.to_numeric(v, errors="coerce") or 0)  # noqa: E731
    for rule, g in c.groupby(c["rule"].map(_code), sort=True):
        f = {str(r["figure"]): r for r in g.to_dict("records")}
        if not {"goodwill", "investment", "equity_at_acquisition", "nci_at_acquisition"} <= set(f):
            continue
        gw, inv, eq, nci = f["goodwill"], f["investment"], f["equity_at_acquisition"], f["nci_at_acquisition"]
        out[rule] = _Measured(rule, _code(inv["entity"]), _code(gw["entity"]), str(gw.get("period", "")),
                              num(gw.get("fiscal_year", 0)), str(inv["currency"]), str(gw["currency"]),
                              num(inv["amount"]), num(inv["amount_group"]), num(eq["amount"]),
                              num(eq["amount_group"]), num(nci["amount_group"]), num(gw["amount_group"]),
                              num(gw["amount"]))
    return out


def _measured_frame(measured: list[_Measured], gcur: str) -> pd.DataFrame:
    """``carry["goodwill"]``: one row per figure of each measurement, with its currency."""
    cols = ["rule", "figure", "entity", "counterparty", "currency", "amount", "amount_group", "period",
            "fiscal_year"]
    rows = []
    for m in sorted(measured, key=lambda m: m.rule):
        rows += [[m.rule, "goodwill", m.sub, m.parent, m.sub_currency, m.goodwill_sub, m.goodwill_group],
                 [m.rule, "investment", m.parent, m.sub, m.parent_currency, m.investment_acct, m.investment_group],
                 [m.rule, "equity_at_acquisition", m.sub, m.parent, m.sub_currency, m.equity_acct, m.equity_group],
                 [m.rule, "nci_at_acquisition", m.sub, m.parent, gcur, m.nci_group, m.nci_group]]
        rows[-4:] = [r + [m.period, m.fiscal_year] for r in rows[-4:]]
    df = pd.DataFrame(rows, columns=cols)
    for c in ("amount", "amount_group", "fiscal_year"):
        df[c] = df[c].astype("int64")
    return df


def _measure(rule, inv, investment_now, eq, equity, equity_acct, ents, hist, rates, gcur, per) -> _Measured:
    """Goodwill of ``rule``'s investment, measured now (the first close that consolidates it):
    the investment in group currency at its HistoricalRates rate (a row for the parent and the
    investment account) if one is given, else at this close's closing rate; the
    non-controlling share of the equity at acquisition; goodwill = investment − equity + NCI,
    held in the subsidiary's currency at the rate its equity at acquisition stands at (its
    historical rate), or at the closing rate when there is none."""
    parent, sub = rule.entity, rule.counterparty
    pcur, scur = ents[parent].currency, ents[sub].currency
    g_scale, s_scale = scale_of(gcur), scale_of(scur)
    inv_acct = int(inv["balance_acct"].sum())
    investment = investment_now
    if pcur != gcur and len(hist):
        h = hist[(hist["entity"] == parent) & hist["account"].isin(list(inv["account"]))]
        if len(h) and not h["rate"].isna().all():
            investment = int(convert([inv_acct], float(h["rate"].dropna().iloc[0]), scale_of(pcur), g_scale)[0])
        elif len(h) and not h["amount_group"].isna().all():
            investment = int(h["amount_group"].dropna().sum())
    nci = _share(equity, ONE - ents[sub].direct)
    goodwill = investment - equity + nci
    if scur == gcur:
        held = goodwill
    else:
        rates_used = eq["rate"].to_numpy(dtype="float64") if len(eq) else np.array([])
        if equity_acct and len(rates_used) and np.all(rates_used == rates_used[0]) and not np.isnan(rates_used[0]):
            held = int(convert([goodwill], rates_used[0], g_scale, s_scale, inverse=True)[0])
        elif equity_acct and equity:  # amount_group rows: the rate the equity as a whole stands at
            held = int((Decimal(goodwill) * Decimal(equity_acct) / Decimal(equity)).to_integral_value(ROUND_HALF_UP))
        else:
            cl = rates.get(scur, "closing")
            held = int(convert([goodwill], cl["rate"], g_scale, s_scale, not cl["inverse"])[0]) if cl["found"] else 0
    return _Measured(rule.name, parent, sub, per.name, per.fiscal_year, pcur, scur, inv_acct, investment,
                     equity_acct, equity, nci, goodwill, held)


def _investment(rule, tr, book, ents, inc, hist, rates, cfg, chart, per, dims, gcur, acq, measured, out):
    """Eliminate ``rule``'s investment against the subsidiary's equity at acquisition, with
    NCI and goodwill as measured once (:func:`_measure`); returns the measurement (None when
    an entity of the rule is left out of the group).

    Later closes eliminate the investment at its current translated amount and keep the
    measured equity, NCI and goodwill: the difference a foreign parent's moving rate makes
    on its investment goes back to the translation reserve (it was in that parent's CTA),
    and goodwill held in the subsidiary's currency is translated at the closing rate, its
    difference to the translation reserve too."""
    parent, sub = rule.entity, rule.counterparty
    if parent not in inc or sub not in inc:
        return None  # a left-out entity: nothing of it is in the group
    key = ["entity", "account", *dims, "counterparty"]
    journal = f"ELIM-{rule.name}-{per.name}"
    g_scale = scale_of(gcur)
    if ents[sub].parent != parent:
        out.findings.append(Finding(WARNING, f"Investment rule {rule.name}: the parent of {sub} in the Entities sheet "
                                    f"is {ents[sub].parent or '(none)'}, not {parent}; {sub}'s ownership "
                                    f"({ents[sub].direct:%}) is used.", code="investment-parent",
                                    **_where(book, rule.row, "entity")))
    held = tr[(tr["entity"] == parent) & tr["account"].isin(rule.accounts)]
    inv = held[held["counterparty"] == sub]
    if not len(inv):
        inv = held[held["counterparty"] == ""]
    investment_now = int(inv["amount_group"].sum())

    op = book.opening
    eq = op[(op["entity"] == sub) & op["account"].isin(rule.counters)] if len(op) else op
    if len(eq):
        eq = eq.groupby(key, as_index=False, sort=True)["amount_acct"].sum().rename(columns={"amount_acct": "acct"})
        eq = eq[eq["acct"] != 0].reset_index(drop=True)
    scur, pcur = ents[sub].currency, ents[parent].currency
    if len(eq):
        eq["currency"] = scur
        if scur == gcur:
            eq["group"] = eq["acct"]
            eq["rate"] = 1.0
        else:
            h = _historical(eq, hist, rates, gcur, [], book)  # a missing row is reported by the translation
            eq["group"], eq["rate"] = h["group"].to_numpy(), h["rate"].to_numpy()
    else:
        eq = pd.DataFrame({**{k: [] for k in key}, "acct": [], "group": [], "rate": []})
    acq[sub] = eq[key + ["group"]].rename(columns={"group": "acq_group"})
    equity = -int(eq["group"].sum())  # a positive amount
    equity_acct = -int(eq["acct"].sum())

    m = measured.get(rule.name)
    if m is not None and (m.parent, m.sub) != (parent, sub):
        out.findings.append(Finding(WARNING, f"Investment rule {rule.name} now names {parent}'s investment in {sub}; "
                                    f"its goodwill was measured in {m.period} for {m.parent}'s investment in {m.sub}, "
                                    "and is measured again now.", code="goodwill-remeasured",
                                    **_where(book, rule.row, "rule")))
        m = None
    if m is None:
        m = _measure(rule, inv, investment_now, eq, equity, equity_acct, ents, hist, rates, gcur, per)
    pl_difference = chart.loc[rule.difference, "type"] in PROFIT_TYPES

    for _, r in inv.iterrows():
        out.add(journal, parent, r["account"], -r["amount_group"], counterparty=r["counterparty"], dimv=_dimv(r, dims),
                description=f"Eliminate {parent}'s investment in {sub}", source=rule.source, rule=rule.name,
                kind=rule.kind, role="investment", balance=int(r["amount_group"]))
    for _, r in eq.iterrows():
        out.add(journal, sub, r["account"], -int(r["group"]), counterparty=r["counterparty"], dimv=_dimv(r, dims),
                description=f"Eliminate {sub}'s equity at acquisition", source=rule.source, rule=rule.name,
                kind=rule.kind, role="equity_at_acquisition", balance=int(r["group"]))
    if m.nci_group:
        nci_acct = cfg.need("nci_account", f"{sub} is owned {ents[sub].direct:%}")
        out.add(journal, sub, nci_acct or "", -m.nci_group, description=f"Non-controlling interests in {sub}'s "
                f"equity at acquisition ({ONE - ents[sub].direct:%})", source=rule.source, rule=rule.name,
                kind=rule.kind, role="nci_at_acquisition")
    if m.goodwill_group < 0 and chart.loc[rule.difference, "type"] != "Revenue":
        out.findings.append(Finding(ERROR, f"Investment rule {rule.name}: {parent}'s investment in {sub} "
                                    f"({fmt(m.investment_group, g_scale)} {gcur}) is below its share of {sub}'s equity "
                                    f"at acquisition ({fmt(m.equity_group - m.nci_group, g_scale)} {gcur}): negative "
                                    f"goodwill of {fmt(-m.goodwill_group, g_scale)} {gcur}.", hint="Check the "
                                    "investment and the equity at acquisition; a bargain purchase is recognised only "
                                    "when difference_account is a Revenue account.", code="negative-goodwill",
                                    value=fmt(m.goodwill_group, g_scale),
                                    **_where(book, rule.row, "difference_account")))
    what = "Goodwill" if m.goodwill_group > 0 else "Bargain purchase"
    out.add(journal, sub, rule.difference, m.goodwill_group, counterparty=parent,
            description=f"{what} on {sub}, measured in {m.period}", source=rule.source, rule=rule.name,
            kind=rule.kind, role="goodwill", cumulative=m.goodwill_group if pl_difference else 0)

    # what the measured figures no longer cover: a foreign parent's rate moved (translation),
    # or the investment or the equity at acquisition changed since goodwill was measured
    booked = -investment_now + equity - m.nci_group + m.goodwill_group
    translated = 0
    if booked and pcur != gcur:
        cl = rates.get(pcur, "closing")
        if cl["found"]:
            translated = int(convert([m.investment_acct], cl["rate"], scale_of(pcur), g_scale, cl["inverse"])[0]) \
                - m.investment_group
    reserve = ""
    if translated:
        reserve = cfg.need("translation_reserve_account", f"{parent}'s investment in {sub} is held in {pcur}")
        if reserve:
            out.add(journal, parent, reserve, translated, counterparty=sub, description=f"Translation difference on "
                    f"{parent}'s investment in {sub} since goodwill was measured ({m.period})", source=rule.source,
                    rule=rule.name, kind=rule.kind, role="investment_translation")
        else:
            translated = 0
    rest = -booked - translated
    if rest:
        out.add(journal, sub, rule.difference, rest, counterparty=parent,
                description=f"Change in {parent}'s investment in {sub} or in its equity at acquisition since goodwill "
                f"was measured ({m.period})", source=rule.source, rule=rule.name, kind=rule.kind,
                role="investment_change", cumulative=rest if pl_difference else 0)
        out.findings.append(Finding(WARNING, f"Investment rule {rule.name}: {parent}'s investment in {sub} or {sub}'s "
                                    f"equity at acquisition is not what it was when goodwill was measured in "
                                    f"{m.period} (investment {fmt(m.investment_acct, scale_of(pcur))} {pcur}, equity "
                                    f"{fmt(m.equity_acct, scale_of(scur))} {scur}); goodwill is not measured again, and "
                                    f"the difference {fmt(rest, g_scale)} {gcur} is posted to {rule.difference}.",
                                    hint="A change of ownership (a further purchase or a disposal) is not handled by "
                                    "the consolidation; account for it by hand, or correct the investment or the "
                                    "opening balances if they were wrong.", code="investment-changed",
                                    value=fmt(rest, g_scale), **_where(book, rule.row, "account")))

    if m.goodwill_group > 0 and scur != gcur and m.goodwill_sub:
        cl = rates.get(scur, "closing")
        rates.needed.add((scur, "closing"))
        if not cl["found"]:
            return m
        now = int(convert([m.goodwill_sub], cl["rate"], scale_of(scur), g_scale, cl["inverse"])[0])
        diff = now - m.goodwill_group
        reserve = cfg.need("translation_reserve_account", f"goodwill on {sub} is held in {scur}")
        if diff and reserve:
            out.add(journal, sub, rule.difference, diff, counterparty=parent,
                    description=f"Goodwill on {sub} ({fmt(m.goodwill_sub, scale_of(scur))} {scur}) at the closing "
                    "rate", source=rule.source, rule=rule.name, kind=rule.kind, role="goodwill_translation")
            out.add(journal, sub, reserve, -diff, counterparty=parent,
                    description=f"Translation difference on goodwill on {sub}", source=rule.source, rule=rule.name,
                    kind=rule.kind, role="goodwill_reserve")
    return m


def _nci(tr, ents, inc, figs, acq, chart, cfg, per, dims, out) -> pd.DataFrame:
    """Non-controlling interests (proportionate method, journal ``NCI-<period>``) of every
    entity owned below 100%: their share of its profit for the year to date, of its
    translation reserve (``figs["translation"]``, see :func:`_reserve_figures`; goodwill's is
    the parent's alone) and of its post-acquisition equity movements."""
    key = ["entity", "account", *dims, "counterparty"]
    cols = ["entity", "parent", "ownership", "effective_ownership", "nci_share", "profit_ytd_group", "nci_profit",
            "cta_translation", "cta_nci_share", "post_acquisition_equity", "nci_equity", "source"]
    rows = []
    nci_acct, profit_acct = cfg.get("nci_account"), cfg.get("nci_profit_account")
    reserve = cfg.get("translation_reserve_account")
    journal = f"NCI-{per.name}"
    for e in inc:
        ent = ents[e]
        factor = ONE - ent.effective
        if factor <= 0 or not nci_acct or not profit_acct:
            continue
        t = tr[tr["entity"] == e]
        profit = -int(t.loc[t["type"].isin(PROFIT_TYPES), "amount_group"].sum())
        nci_profit = _share(profit, factor)
        out.add(journal, e, profit_acct, nci_profit, description=f"Profit of {e} attributable to non-controlling "
                f"interests ({factor:%})", source=ent.source, rule="NCI", kind="nci", role="nci_profit")
        out.add(journal, e, nci_acct, -nci_profit, description=f"Non-controlling interests' share of {e}'s profit",
                source=ent.source, rule="NCI", kind="nci", role="nci_profit")
        translation = int(figs.loc[e, "translation"])
        nci_cta = _share(translation, factor) if reserve else 0
        out.add(journal, e, reserve, -nci_cta, description=f"Non-controlling interests' share of {e}'s translation "
                "reserve", source=ent.source, rule="NCI", kind="nci", role="nci_cta")
        out.add(journal, e, nci_acct, nci_cta, description=f"Non-controlling interests' share of {e}'s translation "
                "reserve", source=ent.source, rule="NCI", kind="nci", role="nci_cta")
        eq = t[(t["type"] == "Equity") & ~t["account"].isin([reserve, nci_acct])][key + ["amount_group"]]
        base = acq.get(e)
        if base is not None and len(base):
            eq = eq.merge(base, on=key, how="outer")
        else:
            eq = eq.assign(acq_group=0)
        eq = eq.fillna({"amount_group": 0, "acq_group": 0})
        post = eq["amount_group"].astype("int64") - eq["acq_group"].astype("int64")
        moved = 0
        for (_, r), p in zip(eq.iterrows(), post):
            s = _share(int(p), factor)
            moved += s
            out.add(journal, e, r["account"], -s, counterparty=r["counterparty"], dimv=_dimv(r, dims),
                    description=f"Non-controlling interests' share of {e}'s post-acquisition {r['account']}",
                    source=ent.source, rule="NCI", kind="nci", role="nci_equity")
        out.add(journal, e, nci_acct, moved, description=f"Non-controlling interests' share of {e}'s "
                "post-acquisition equity", source=ent.source, rule="NCI", kind="nci", role="nci_equity")
        rows.append([e, ent.parent, float(ent.direct), float(ent.effective), float(factor), profit, nci_profit,
                     translation, nci_cta, int(post.sum()), moved, ent.source])
    df = pd.DataFrame(rows, columns=cols)
    for c in ("profit_ytd_group", "nci_profit", "cta_translation", "cta_nci_share", "post_acquisition_equity",
              "nci_equity"):
        df[c] = df[c].astype("int64")
    return df


# --------------------------------------------------------------------------- reports and carry

def _opening_reserve(book, hist, reserve: str, findings) -> dict[str, int]:
    """The translation reserve of each entity at the start of the calendar: a HistoricalRates
    row of ``translation_reserve_account`` with ``amount_group`` (default zero)."""
    if not reserve or not len(hist):
        return {}
    rows = hist[hist["account"] == reserve]
    out = {}
    for r in rows.to_dict("records"):
        if np.isnan(r["amount_group"]):
            findings.append(Finding(WARNING, f"HistoricalRates gives a rate for {r['entity']}'s translation reserve "
                                    f"({reserve}); the opening translation reserve is an amount, so the row is used "
                                    "only to translate a balance the entity's own books hold on that account.",
                                    hint=f"Give the reserve of {r['entity']} at the start of the calendar as "
                                    "amount_group (in group currency) instead of a rate.",
                                    code="opening-reserve-rate", **_where(book, r, "rate")))
            continue
        out[r["entity"]] = int(r["amount_group"])
    return out


def _reserve_figures(tr, cta, out, inc, reserve) -> pd.DataFrame:
    """Each entity's part of the group's translation reserve, in group currency, ledger sign
    (a credit, negative, is a translation gain):

    * ``translation``: the translation of the entity's trial balance (the balancing figure,
      plus what its own books hold on the reserve account), less the translation difference on
      its investments in subsidiaries that the eliminations take back (an eliminated
      investment has no translation difference in the group);
    * ``goodwill``: the translation difference on goodwill on the entity (held in its currency);
    * ``total``: the two together, before the non-controlling interests' share."""
    own = tr.loc[tr["account"] == reserve].groupby("entity")["amount_group"].sum() if reserve else pd.Series(dtype="int64")
    rows = pd.DataFrame(out.rows) if out.rows else pd.DataFrame(columns=["entity", "account", "role", "amount"])
    on_reserve = rows[(rows["account"] == reserve)] if reserve else rows.iloc[0:0]

    def role_sum(role):
        return on_reserve[on_reserve["role"] == role].groupby("entity")["amount"].sum()

    inv, gw = role_sum("investment_translation"), role_sum("goodwill_reserve")
    df = pd.DataFrame(index=pd.Index(inc, name="entity"))
    df["translation"] = (cta.reindex(inc, fill_value=0) + own.reindex(inc, fill_value=0)
                         + inv.reindex(inc, fill_value=0)).astype("int64")
    df["goodwill"] = gw.reindex(inc, fill_value=0).astype("int64")
    df["total"] = df["translation"] + df["goodwill"]
    df["investment_eliminated"] = inv.reindex(inc, fill_value=0).astype("int64")
    return df


PROFIT_CARRY = "consolidation_profit"


def _earlier_years(out, carried, rules, chart, cfg, per, dims) -> pd.DataFrame:
    """Consolidation income and expense measured on balances kept since inception (an
    intercompany difference on balance-sheet accounts, a bargain purchase gain) is income or
    expense of the fiscal year in which it arose: what of it arose in earlier fiscal years is
    moved from its Revenue/Expense account to ``retained_earnings_account`` (journal of its
    rule).  Such a difference is the group's own, so it is the owners' part: the
    non-controlling interests' share of profit is measured on each entity's own translated
    profit, and their share of earlier years' on its retained earnings (:func:`_nci`).

    The part of earlier years is what the last close of the previous fiscal year measured,
    carried in ``carry["consolidation_profit"]`` (``cumulative``: measured to date;
    ``earlier_years``: of it, before this fiscal year).  Returns this close's carry."""
    key = ["rule", "entity", "account", *dims, "counterparty"]
    cols = key + ["figure", "amount_group", "period", "fiscal_year"]
    pl = set(chart.index[chart["type"].isin(PROFIT_TYPES)])
    now = pd.DataFrame([r for r in out.rows if r["cumulative"] and r["account"] in pl])
    if len(now):
        now = now.groupby(key, as_index=False, sort=True)["cumulative"].sum()
    else:
        now = pd.DataFrame({**{k: pd.Series([], dtype=object) for k in key}, "cumulative": pd.Series([], dtype="int64")})
    c = (carried or {}).get(PROFIT_CARRY)
    if c is not None and len(c) and set(cols) <= set(c.columns):
        c = c.copy()
        for k in key + ["figure", "period"]:
            c[k] = c[k].map(_code)
        c["amount_group"] = pd.to_numeric(c["amount_group"], errors="coerce").fillna(0).astype("int64")
        c["fiscal_year"] = pd.to_numeric(c["fiscal_year"], errors="coerce").fillna(per.fiscal_year).astype("int64")
        c = c[c["period"] != per.name]
        take = np.where(c["fiscal_year"] < per.fiscal_year, c["figure"] == "cumulative", c["figure"] == "earlier_years")
        prior = c[take].groupby(key, as_index=False, sort=True)["amount_group"].sum() \
            .rename(columns={"amount_group": "earlier"})
    else:
        prior = pd.DataFrame({**{k: pd.Series([], dtype=object) for k in key}, "earlier": pd.Series([], dtype="int64")})
    m = now.merge(prior, on=key, how="outer")
    m["cumulative"] = m["cumulative"].fillna(0).astype("int64")
    m["earlier"] = m["earlier"].fillna(0).astype("int64")
    m = m.sort_values(key, kind="stable").reset_index(drop=True)
    moving = m[m["earlier"] != 0]
    if len(moving):
        re_acct = cfg.need("retained_earnings_account", "consolidation income and expense of earlier fiscal years "
                           "goes to retained earnings")
        by_name = {r.name: r for r in rules}
        for _, r in moving.iterrows():  # one per rule, entity and account: a handful
            rule = by_name.get(r["rule"])
            src, kind = (rule.source, rule.kind) if rule else ("", "")
            journal = f"ELIM-{r['rule']}-{per.name}"
            amt = int(r["earlier"])
            out.add(journal, r["entity"], r["account"], -amt, counterparty=r["counterparty"], dimv=_dimv(r, dims),
                    description=f"{r['rule']}: the part of {r['account']} that arose before fiscal year "
                    f"{per.fiscal_year}", source=src, rule=r["rule"], kind=kind, role="earlier_years")
            if re_acct:
                out.add(journal, r["entity"], re_acct, amt, description=f"{r['rule']}: {r['account']} of earlier "
                        "fiscal years, in retained earnings", source=src, rule=r["rule"], kind=kind,
                        role="earlier_years")
    parts = []
    for fig, col in (("cumulative", "cumulative"), ("earlier_years", "earlier")):
        part = m.loc[m[col] != 0, key + [col]].rename(columns={col: "amount_group"})
        parts.append(part.assign(figure=fig))
    df = pd.concat(parts, ignore_index=True) if any(len(p) for p in parts) else \
        pd.DataFrame({**{k: pd.Series([], dtype=object) for k in key + ["figure"]},
                      "amount_group": pd.Series([], dtype="int64")})
    df = df.assign(period=per.name, fiscal_year=per.fiscal_year)
    df["amount_group"] = df["amount_group"].astype("int64")
    df["fiscal_year"] = df["fiscal_year"].astype("int64")
    return df.sort_values(["rule", "figure", *key[1:]], kind="stable")[cols].reset_index(drop=True)


CTA_CARRY = "cta"
CTA_FIGURES = ("cta_total", "cta_goodwill", "cta_nci_share", "cta_owners_share", "cta_movement")


def _cta_report(tr, ents, inc, figs, nci, carried, opening_reserve, rates, gcur, per):
    """The translation reserve per entity (report ``CTA``) and its carry.

    Each figure says what it is (group currency, ledger sign: a credit, negative, is a
    gain): ``cta_translation`` (the entity's trial balance, see :func:`_reserve_figures`),
    ``cta_goodwill`` (of which on goodwill), ``cta_total``, ``cta_nci_share`` and
    ``cta_owners_share`` (what stands in the consolidated reserve); ``cta_at_start`` (the
    previous close's total, or at the first close the opening reserve given in
    HistoricalRates) and ``cta_movement``, the period's translation difference (other
    comprehensive income), with the non-controlling interests' part.

    The analysis explains ``cta_translation`` as it stands: the historical-rate accounts
    (opening net assets, sign reversed) at the closing rate against the rates they stand at
    in the group, the profit for the year to date at the closing rate against its accumulated
    average rates, the investments eliminated, and what is left (rounding, unusual rate
    types)."""
    nci_cta = dict(zip(nci["entity"], nci["cta_nci_share"])) if len(nci) else {}
    c = (carried or {}).get(CTA_CARRY)
    before: dict = {}
    if c is not None and len(c):
        c = c[c["period"].map(_code) != per.name]
        for r in c.to_dict("records"):
            before[(_code(r["entity"]), _code(r["figure"]))] = int(pd.to_numeric(r["amount_group"], errors="coerce")
                                                                  or 0)
    rows, carry = [], []
    for e in inc:
        cur = ents[e].currency
        t = tr[tr["entity"] == e]
        h = t[t["translation"] == "historical"]
        p = t[t["translation"] == "average"]
        h_acct, h_group = int(h["balance_acct"].sum()), int(h["amount_group"].sum())
        p_acct, p_group = int(p["balance_acct"].sum()), int(p["amount_group"].sum())
        cl, av = rates.get(cur, "closing"), rates.get(cur, "average")
        rate = cl["rate"] if cl["found"] else 0.0
        to_group = lambda x: int(convert([x], rate, scale_of(cur), scale_of(gcur), cl["inverse"])[0])  # noqa: E731
        na_effect = to_group(h_acct) - h_group
        pl_effect = to_group(p_acct) - p_group
        ratio = lambda g, a: (g / 10 ** scale_of(gcur)) / (a / 10 ** scale_of(cur)) if a else np.nan  # noqa: E731
        f = figs.loc[e]
        translation, goodwill, total = int(f["translation"]), int(f["goodwill"]), int(f["total"])
        nci_share = int(nci_cta.get(e, 0))
        factor = ONE - ents[e].effective
        if (e, "total") in before:
            at_start, nci_start = before[(e, "total")], before.get((e, "nci_share"), 0)
        else:
            at_start = opening_reserve.get(e, 0)
            nci_start = _share(at_start, factor) if factor > 0 else 0
        inv_elim = int(f["investment_eliminated"])
        rows.append([e, cur, -h_acct, -h_group, ratio(h_group, h_acct), rates.effective(cur, "closing"),
                     _rate_source(cl), na_effect, -p_acct, -p_group, ratio(p_group, p_acct), _rate_source(av),
                     pl_effect, inv_elim, translation - na_effect - pl_effect - inv_elim, translation, goodwill, total,
                     "gain" if total < 0 else ("loss" if total > 0 else ""), nci_share, total - nci_share, at_start,
                     total - at_start, nci_start, nci_share - nci_start])
        carry += [[e, fig, v, per.name, per.fiscal_year] for fig, v in
                  (("translation", translation), ("goodwill", goodwill), ("total", total), ("nci_share", nci_share))]
    cols = ["entity", "currency", "opening_net_assets_acct", "opening_net_assets_group", "opening_rate",
            "closing_rate", "closing_rate_source", "cta_net_assets", "profit_ytd_acct", "profit_ytd_group",
            "average_rate", "average_rate_source", "cta_profit", "cta_investment_eliminated", "cta_unexplained",
            "cta_translation", "cta_goodwill", "cta_total", "cta_total_is", "cta_nci_share", "cta_owners_share",
            "cta_at_start", "cta_movement", "cta_nci_at_start", "cta_nci_movement"]
    df = pd.DataFrame(rows, columns=cols)
    for k in cols[2:]:
        if k not in ("opening_rate", "closing_rate", "average_rate", "closing_rate_source", "average_rate_source",
                     "cta_total_is"):
            df[k] = df[k].astype("int64")
    cf = pd.DataFrame(carry, columns=["entity", "figure", "amount_group", "period", "fiscal_year"])
    cf["amount_group"] = cf["amount_group"].astype("int64")
    cf["fiscal_year"] = cf["fiscal_year"].astype("int64")
    return df, cf


def _rate_source(r: dict) -> str:
    if not r.get("found"):
        return ""
    if r.get("used_type") == "same currency":
        return "same currency"
    src = str(r.get("source") or "")
    return src + (" (inverse)" if r.get("inverse") else "")


def _goodwill_report(measured: list[_Measured], rates, gcur) -> pd.DataFrame:
    """Each investment's goodwill: as measured once, and translated at this close."""
    cols = ["rule", "parent", "entity", "measured_in", "investment_group", "equity_at_acquisition_group",
            "nci_at_acquisition_group", "goodwill_at_measurement_group", "currency", "goodwill", "closing_rate",
            "goodwill_group", "translation_difference_group"]
    rows = []
    for m in measured:
        if m.sub_currency == gcur or m.goodwill_group <= 0:
            now, rate = m.goodwill_group, 1.0 if m.sub_currency == gcur else np.nan
        else:
            cl = rates.get(m.sub_currency, "closing")
            now = int(convert([m.goodwill_sub], cl["rate"], scale_of(m.sub_currency), scale_of(gcur),
                              cl["inverse"])[0]) if cl["found"] else m.goodwill_group
            rate = rates.effective(m.sub_currency, "closing")
        rows.append([m.rule, m.parent, m.sub, m.period, m.investment_group, m.equity_group, m.nci_group,
                     m.goodwill_group, m.sub_currency, m.goodwill_sub, rate, now, now - m.goodwill_group])
    df = pd.DataFrame(rows, columns=cols)
    for k in ("investment_group", "equity_at_acquisition_group", "nci_at_acquisition_group",
              "goodwill_at_measurement_group", "goodwill", "goodwill_group", "translation_difference_group"):
        df[k] = df[k].astype("int64")
    return df


def _translation_report(tr, dims) -> pd.DataFrame:
    cols = ["entity", "account", *dims, "counterparty", "currency", "type", "translation", "balance_acct",
            "base_acct", "base_group", "base_source", "movement_acct", "rate_type", "rate", "rate_source",
            "amount_group"]
    return tr[cols].reset_index(drop=True)


def _translated(tr, cta, reserve, dims) -> pd.DataFrame:
    """Every entity's trial balance in group currency (entity, account, amount_group): the
    translated balances, and the balancing translation difference on the reserve account.
    The translation difference is not a journal: it is the translated trial balance's own."""
    t = tr.groupby(["entity", "account"], as_index=False, sort=True)["amount_group"].sum()
    if reserve:
        c = cta[cta != 0]
        t = pd.concat([t, pd.DataFrame({"entity": c.index.to_numpy(dtype=object), "account": reserve,
                                        "amount_group": c.to_numpy(dtype="int64")})], ignore_index=True)
        t = t.groupby(["entity", "account"], as_index=False, sort=True)["amount_group"].sum()
    t["amount_group"] = t["amount_group"].astype("int64")
    return t


def _consolidated(translated, lines, book) -> pd.DataFrame:
    parts = [translated[["account", "amount_group"]]]
    if len(lines):
        parts.append(lines[["account", "amount"]].rename(columns={"amount": "amount_group"}))
    s = pd.concat(parts, ignore_index=True).groupby("account", sort=True)["amount_group"].sum().astype("int64")
    acc = book.accounts.assign(account=book.accounts["account"].map(_code)).drop_duplicates("account")
    acc = acc.set_index("account")
    return pd.DataFrame({"account": s.index.to_numpy(dtype=object),
                         "account_name": s.index.map(acc["name"]).fillna("").to_numpy(dtype=object),
                         "type": s.index.map(acc["type"]).fillna("").to_numpy(dtype=object),
                         "balance_group": s.to_numpy(dtype="int64")})


TYPE_LABELS = {"Asset": "Assets", "Liability": "Liabilities", "Equity": "Equity", "Revenue": "Revenue",
               "Expense": "Expenses"}


def _worksheet(translated, rows: list[dict], inc, rules, chart) -> pd.DataFrame:
    """The consolidation worksheet (spec section 5, ``consolidation.xlsx`` ``Worksheet``):
    accounts as rows, grouped by type and statement line with subtotals; columns: each entity
    translated into group currency (its translation difference included, so it sums to zero),
    their sum, one column per elimination rule, NCI, and the consolidated total.  Every row adds
    across and every column sums to zero (the last row).

    Columns: ``kind`` (account, subtotal, total, check), ``type``, ``statement_line``,
    ``account``, ``account_name``, then the money columns (int64 minor units of the group
    currency) whose headers are in ``df.attrs["headers"]``."""
    ent_cols = [f"entity:{e}" for e in inc]
    rule_names = list(dict.fromkeys(r.name for r in rules))
    rule_cols = [f"rule:{n}" for n in rule_names]
    money_cols = ent_cols + ["entities_total"] + rule_cols + ["nci", "consolidated"]
    headers = {**{f"entity:{e}": e for e in inc}, "entities_total": "Sum of entities",
               **{f"rule:{n}": f"Elimination {n}" for n in rule_names}, "nci": "Non-controlling interests",
               "consolidated": "Consolidated"}
    t = translated.assign(col="entity:" + translated["entity"].astype(str))
    parts = [t[["account", "col", "amount_group"]]]
    if rows:
        r = pd.DataFrame(rows)
        r = r[r["amount"] != 0]
        col = np.where(r["journal"].str.startswith("NCI-"), "nci", "rule:" + r["rule"].astype(str))
        parts.append(pd.DataFrame({"account": r["account"].to_numpy(dtype=object), "col": col,
                                   "amount_group": r["amount"].to_numpy(dtype="int64")}))
    long = pd.concat(parts, ignore_index=True)
    extra = sorted(set(long["col"]) - set(money_cols))  # a rule column of a rule no longer given
    for c in extra:
        headers[c] = "Elimination " + c.split(":", 1)[-1]
    rule_cols += extra
    money_cols = ent_cols + ["entities_total"] + rule_cols + ["nci", "consolidated"]
    wide = long.pivot_table(index="account", columns="col", values="amount_group", aggfunc="sum", fill_value=0)
    wide = wide.reindex(columns=money_cols, fill_value=0).astype("int64")
    wide["entities_total"] = wide[ent_cols].sum(axis=1) if ent_cols else 0
    wide["consolidated"] = wide[["entities_total", *rule_cols, "nci"]].sum(axis=1)
    wide = wide[(wide != 0).any(axis=1)]

    ch = chart.copy()
    ch["order"] = np.arange(len(ch))
    line = ch["statement_line"].fillna("").astype(str).str.strip() if "statement_line" in ch else \
        pd.Series("", index=ch.index)
    ch["line"] = np.where(line == "", ch["name"].fillna("").astype(str), line)
    known = [a for a in ch.index if a in wide.index]
    unknown = sorted(set(wide.index) - set(known))
    out_rows = []

    def emit(kind, typ, stline, account, name, values):
        out_rows.append({"kind": kind, "type": typ, "statement_line": stline, "account": account,
                         "account_name": name, **{c: int(v) for c, v in zip(money_cols, values)}})

    for typ in ("Asset", "Liability", "Equity", "Revenue", "Expense"):
        accts = [a for a in known if ch.loc[a, "type"] == typ]
        if not accts:
            continue
        lines_order = list(dict.fromkeys(ch.loc[accts, "line"]))
        for ln in lines_order:
            members = [a for a in accts if ch.loc[a, "line"] == ln]
            for a in members:
                emit("account", typ, ln, a, ch.loc[a, "name"], wide.loc[a, money_cols].to_numpy())
            if len(members) > 1:
                emit("subtotal", typ, ln, "", f"Total {ln}", wide.loc[members, money_cols].sum().to_numpy())
        emit("total", typ, "", "", f"Total {TYPE_LABELS[typ].lower()}", wide.loc[accts, money_cols].sum().to_numpy())
    for a in unknown:  # not in the chart (reported elsewhere): shown, never dropped
        emit("account", "", "", a, "(not in the chart of accounts)", wide.loc[a, money_cols].to_numpy())
    emit("check", "", "", "", "Total (every column sums to zero)", wide[money_cols].sum().to_numpy())
    df = pd.DataFrame(out_rows, columns=["kind", "type", "statement_line", "account", "account_name", *money_cols])
    for c in money_cols:
        df[c] = df[c].astype("int64")
    df.attrs["headers"] = headers
    return df


def _carry_out(tr, dims, per) -> pd.DataFrame:
    """What the next close starts from: every translated balance of this close."""
    keep = tr[(tr["balance_acct"] != 0) | (tr["amount_group"] != 0)]
    df = pd.DataFrame({
        **{c: keep[c].to_numpy(dtype=object) for c in ["entity", "account", *dims, "counterparty"]},
        "translation": keep["translation"].to_numpy(dtype=object),
        "fiscal_year": np.full(len(keep), per.fiscal_year, dtype="int64"),
        "period": np.full(len(keep), per.name, dtype=object),
        "amount_acct": keep["balance_acct"].to_numpy(dtype="int64"),
        "amount_group": keep["amount_group"].to_numpy(dtype="int64"),
    })
    return df.reset_index(drop=True)
