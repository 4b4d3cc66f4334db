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

from ..context import CloseContext, LedgerState
from ..core import ERROR, WARNING, Finding, StepResult, empty_lines, make_lines
from ..money import convert, fmt, scale_of, scales, to_minor

JOURNAL_TYPE = "elimination"
CARRY = "group_ytd"
PROFIT_TYPES = ("Revenue", "Expense")
ONE = Decimal(1)


def consolidate(ctx: CloseContext, state: LedgerState) -> StepResult:
    """Translate, eliminate and attribute to non-controlling interests (spec section 3, step 8).

    Returns the consolidation-layer lines (CTA, eliminations, NCI; group currency), findings,
    the reports ``Consolidated``, ``Translation``, ``Eliminations``, ``CTA`` and ``NCI``,
    figures, and ``carry["group_ytd"]`` (the translated balances, for the next close).
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
    tr = _translate(book, st, ents, inc, chart, carry, hist, rates, gcur, per, dims, out.findings)
    rates.report_missing(tr, out.findings)

    g_scale = scale_of(gcur)
    cta = (-tr.groupby("entity")["amount_group"].sum()).reindex(inc, fill_value=0).astype("int64")
    reserve = cfg.get("translation_reserve_account")
    for e in inc:
        if cta[e] and ents[e].currency == gcur:
            out.findings.append(Finding(WARNING, f"The trial balance of {e} ({gcur}) does not balance: "
                                        f"{fmt(-cta[e], g_scale)} {gcur}; the difference is shown on the "
                                        "translation reserve.", hint=f"Correct the books of {e}.",
                                        code="consolidation-unbalanced", **_where(book, ents[e].row, "entity")))
        if cta[e] and reserve:
            out.add(f"CTA-{per.name}", e, reserve, int(cta[e]), description=f"Translation reserve of {e}",
                    source=ents[e].source, rule="CTA", kind="translation", role="translation_reserve")

    acq: dict[str, pd.DataFrame] = {}
    goodwill_cta: dict[str, int] = {}
    tol = int(Decimal(book.settings.rounding_tolerance).scaleb(g_scale).to_integral_value(ROUND_HALF_UP))
    for rule in rules:
        if rule.kind == "intercompany":
            _intercompany(rule, tr, set(inc), per, dims, gcur, tol, out, book)
        else:
            _investment(rule, tr, book, ents, set(inc), hist, rates, cfg, chart, per, dims, gcur, acq,
                        goodwill_cta, out)

    nci_report = _nci(tr, ents, inc, cta, acq, chart, cfg, per, dims, out)

    lines = out.lines(per, gcur)
    cta_report = _cta_report(tr, ents, inc, cta, goodwill_cta, nci_report, rates, gcur)
    consolidated = _consolidated(tr, lines, book)
    figures = {"consolidated_entities": len(inc),
               "eliminations": int(lines["journal"].str.startswith("ELIM-").sum()) if len(lines) else 0,
               "consolidated_total": int(consolidated["balance_group"].sum()) if len(consolidated) else 0}
    for e in inc:
        if ents[e].currency != gcur:
            figures[f"cta_{e}"] = fmt(int(cta[e]) + goodwill_cta.get(e, 0), g_scale)
    reports = {"Consolidated": consolidated, "Translation": _translation_report(tr, dims),
               "Eliminations": out.report(), "CTA": cta_report, "NCI": nci_report}
    return StepResult(lines, out.findings, reports, figures, {CARRY: _carry_out(tr, dims, per)})


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
    """Accounts named by a code, a range ``3000-3999`` or a comma-separated list of either."""
    found, bad = set(), []
    codes = list(chart.index)
    for item in [p.strip() for p in str(spec).split(",") if p.strip()]:
        if item in chart.index:
            found.add(item)
            continue
        if "-" in item:
            lo, hi = [x.strip() for x in item.split("-", 1)]
            if lo.isdigit() and hi.isdigit():
                hit = [c for c in codes if c.isdigit() and int(lo) <= int(c) <= int(hi)]
            else:
                hit = [c for c in codes if lo <= c <= hi]
            if hit:
                found.update(hit)
                continue
        bad.append(item)
    return frozenset(found), bad


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
            rule="", kind="", role="", balance=None):
        amount = int(amount)
        if amount == 0:
            return
        self.rows.append(dict(journal=journal, entity=entity, account=account, counterparty=counterparty,
                              amount=amount, description=description, source=source, rule=rule, kind=kind,
                              role=role, balance_group=balance, **{d: (dimv or {}).get(d, "") for d in self.dims}))

    def lines(self, per, gcur) -> pd.DataFrame:
        if not self.rows:
            return empty_lines(self.dims)
        df = pd.DataFrame(self.rows)
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
        rows = [r for r in self.rows if r["journal"].startswith("ELIM-")]
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
        if not diff:
            continue
        owner = rule.entity if rule.entity in (x, y) else x
        other = y if owner == x else x
        out.add(journal, owner, rule.difference, diff, counterparty=other,
                description=f"Intercompany difference {x}/{y}", source=rule.source, rule=rule.name, kind=rule.kind,
                role="difference")
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


def _investment(rule, tr, book, ents, inc, hist, rates, cfg, chart, per, dims, gcur, acq, goodwill_cta, out):
    parent, sub = rule.entity, rule.counterparty
    if parent not in inc or sub not in inc:
        return  # a left-out entity: nothing of it is in the group
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
    investment = int(inv["amount_group"].sum())

    op = book.opening
    eq = op[(op["entity"] == sub) & op["account"].isin(rule.counters)] if len(op) else op
    if len(eq):
        eq = eq.groupby(key, as_index=False, sort=True)["amount_acct"].sum().rename(columns={"amount_acct": "acct"})
        eq = eq[eq["acct"] != 0].reset_index(drop=True)
    scur = ents[sub].currency
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
    nci = _share(equity, ONE - ents[sub].direct)
    goodwill = investment - equity + nci

    for _, r in inv.iterrows():
        out.add(journal, parent, r["account"], -r["amount_group"], counterparty=r["counterparty"], dimv=_dimv(r, dims),
                description=f"Eliminate {parent}'s investment in {sub}", source=rule.source, rule=rule.name,
                kind=rule.kind, role="investment", balance=int(r["amount_group"]))
    for _, r in eq.iterrows():
        out.add(journal, sub, r["account"], -int(r["group"]), counterparty=r["counterparty"], dimv=_dimv(r, dims),
                description=f"Eliminate {sub}'s equity at acquisition", source=rule.source, rule=rule.name,
                kind=rule.kind, role="equity_at_acquisition", balance=int(r["group"]))
    if nci:
        nci_acct = cfg.need("nci_account", f"{sub} is owned {ents[sub].direct:%}")
        out.add(journal, sub, nci_acct or "", -nci, description=f"Non-controlling interests in {sub}'s equity at "
                f"acquisition ({ONE - ents[sub].direct:%})", source=rule.source, rule=rule.name, kind=rule.kind,
                role="nci_at_acquisition")
    if goodwill < 0 and chart.loc[rule.difference, "type"] != "Revenue":
        out.findings.append(Finding(ERROR, f"Investment rule {rule.name}: {parent}'s investment in {sub} "
                                    f"({fmt(investment, g_scale)} {gcur}) is below its share of {sub}'s equity at "
                                    f"acquisition ({fmt(equity - nci, g_scale)} {gcur}): negative goodwill of "
                                    f"{fmt(-goodwill, g_scale)} {gcur}.", hint="Check the investment and the equity "
                                    "at acquisition; a bargain purchase is recognised only when difference_account "
                                    "is a Revenue account.", code="negative-goodwill", value=fmt(goodwill, g_scale),
                                    **_where(book, rule.row, "difference_account")))
    out.add(journal, sub, rule.difference, goodwill, counterparty=parent,
            description=("Goodwill" if goodwill > 0 else "Bargain purchase") + f" on {sub} at acquisition",
            source=rule.source, rule=rule.name, kind=rule.kind, role="goodwill")

    if goodwill > 0 and scur != gcur and equity_acct:
        rates_used = eq["rate"].to_numpy(dtype="float64")
        cl = rates.get(scur, "closing")
        rates.needed.add((scur, "closing"))
        if len(rates_used) and np.all(rates_used == rates_used[0]) and not np.isnan(rates_used[0]):
            held_sub = int(convert([goodwill], rates_used[0], g_scale, scale_of(scur), inverse=True)[0])
        else:  # amount_group rows: the rate the equity as a whole was translated at
            held_sub = int((Decimal(goodwill) * equity_acct / equity).to_integral_value(ROUND_HALF_UP))
        if not cl["found"]:
            return
        now = int(convert([held_sub], cl["rate"], scale_of(scur), g_scale, cl["inverse"])[0])
        diff = now - goodwill
        reserve = cfg.need("translation_reserve_account", f"goodwill on {sub} is held in {scur}")
        if diff and reserve:
            out.add(journal, sub, rule.difference, diff, counterparty=parent,
                    description=f"Goodwill on {sub} ({fmt(held_sub, scale_of(scur))} {scur}) at the closing rate",
                    source=rule.source, rule=rule.name, kind=rule.kind, role="goodwill_translation")
            out.add(journal, sub, reserve, -diff, counterparty=parent,
                    description=f"Translation difference on goodwill on {sub}", source=rule.source, rule=rule.name,
                    kind=rule.kind, role="translation_reserve")
            goodwill_cta[sub] = goodwill_cta.get(sub, 0) - diff


def _nci(tr, ents, inc, cta, acq, chart, cfg, per, dims, out) -> pd.DataFrame:
    key = ["entity", "account", *dims, "counterparty"]
    cols = ["entity", "parent", "ownership", "effective_ownership", "nci_share", "profit_ytd_group", "nci_profit",
            "cta_group", "nci_cta", "post_acquisition_equity", "nci_equity", "source"]
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
        nci_cta = _share(int(cta[e]), factor) if reserve else 0
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
                     int(cta[e]), nci_cta, int(post.sum()), moved, ent.source])
    df = pd.DataFrame(rows, columns=cols)
    for c in ("profit_ytd_group", "nci_profit", "cta_group", "nci_cta", "post_acquisition_equity", "nci_equity"):
        df[c] = df[c].astype("int64")
    return df


# --------------------------------------------------------------------------- reports and carry

def _cta_report(tr, ents, inc, cta, goodwill_cta, nci, rates, gcur) -> pd.DataFrame:
    nci_cta = dict(zip(nci["entity"], nci["nci_cta"])) if len(nci) else {}
    rows = []
    for e in inc:
        cur = ents[e].currency
        t = tr[tr["entity"] == e]
        h = t[t["translation"] == "historical"]
        p = t[t["translation"] == "average"]
        h_acct, h_group = int(h["balance_acct"].sum()), int(h["amount_group"].sum())
        p_acct, p_group = int(p["balance_acct"].sum()), int(p["amount_group"].sum())
        closing = rates.effective(cur, "closing")
        cl = rates.get(cur, "closing")
        rate = cl["rate"] if cl["found"] else 0.0
        to_group = lambda x: int(convert([x], rate, scale_of(cur), scale_of(gcur), cl["inverse"])[0])
        na_effect = to_group(h_acct) - h_group
        pl_effect = to_group(p_acct) - p_group
        ratio = lambda g, a: (g / 10 ** scale_of(gcur)) / (a / 10 ** scale_of(cur)) if a else np.nan
        c = int(cta[e])
        rows.append([e, cur, -h_acct, -h_group, ratio(h_group, h_acct), closing, na_effect, -p_acct, -p_group,
                     ratio(p_group, p_acct), pl_effect, c - na_effect - pl_effect, c, goodwill_cta.get(e, 0),
                     -int(nci_cta.get(e, 0)), c + goodwill_cta.get(e, 0) - int(nci_cta.get(e, 0))])
    cols = ["entity", "currency", "opening_net_assets_acct", "opening_net_assets_group", "opening_rate",
            "closing_rate", "cta_net_assets", "profit_ytd_acct", "profit_ytd_group", "average_rate", "cta_profit",
            "cta_unexplained", "cta", "cta_goodwill", "cta_to_nci", "cta_group"]
    df = pd.DataFrame(rows, columns=cols)
    for c in cols[2:]:
        if c not in ("opening_rate", "closing_rate", "average_rate"):
            df[c] = df[c].astype("int64")
    return df


def _translation_report(tr, dims) -> pd.DataFrame:
    cols = ["entity", "account", *dims, "counterparty", "currency", "type", "translation", "balance_acct",
            "base_acct", "base_group", "base_source", "movement_acct", "rate_type", "rate", "rate_source",
            "amount_group"]
    return tr[cols].reset_index(drop=True)


def _consolidated(tr, lines, book) -> pd.DataFrame:
    parts = [tr[["account", "amount_group"]]]
    if len(lines):
        parts.append(lines[["account", "amount"]].rename(columns={"amount": "amount_group"}))
    s = pd.concat(parts, ignore_index=True).groupby("account", sort=True)["amount_group"].sum().astype("int64")
    acc = book.accounts.assign(account=book.accounts["account"].map(_code)).drop_duplicates("account")
    acc = acc.set_index("account")
    return pd.DataFrame({"account": s.index.to_numpy(dtype=object),
                         "account_name": s.index.map(acc["name"]).fillna("").to_numpy(dtype=object),
                         "type": s.index.map(acc["type"]).fillna("").to_numpy(dtype=object),
                         "balance_group": s.to_numpy(dtype="int64")})


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
