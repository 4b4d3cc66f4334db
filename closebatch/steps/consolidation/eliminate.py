"""The consolidation layer's eliminations (``Eliminations`` sheet, journal
``ELIM-<rule>-<period>``): intercompany balances, investments against equity at
acquisition with goodwill measured once, and the move of consolidation income and expense of
earlier fiscal years into retained earnings.  Every function returns its rows (see
:func:`.group.entry`), findings and needs as a :class:`.group.Posted`; none changes its
arguments."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd

from ...core import ERROR, WARNING, Finding, empty_lines, make_lines
from ...money import convert, fmt, scale_of
from .group import (JOURNAL_TYPE, ONE, PROFIT_TYPES, Group, Need, Posted, Rule, code, dimv, entry, share,
                    sum_by, where)
from .translate import historical


def intercompany(g: Group, rule: Rule, tr: pd.DataFrame) -> Posted:
    """``rule`` (type intercompany): for every unordered pair of entities, the balances of
    ``account`` at one with the other as counterparty and of ``counter_account`` at the other
    are reversed; what does not cancel goes to ``difference_account`` (on the rule's entity,
    else the first of the pair), with a warning above ``rounding_tolerance``."""
    inc, per, dims, gcur, tol, book = set(g.included), g.period, list(g.dims), g.currency, g.tolerance, g.book
    rows, findings = [], []
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
        return Posted()
    sel["role"] = np.where(a[a | b], "account", "counter_account")
    first = np.where(sel["entity"] < sel["counterparty"], sel["entity"], sel["counterparty"])
    second = np.where(sel["entity"] < sel["counterparty"], sel["counterparty"], sel["entity"])
    sel["pair"] = pd.Series(first, index=sel.index) + "|" + pd.Series(second, index=sel.index)
    journal = f"ELIM-{rule.name}-{per.name}"
    g_scale = scale_of(gcur)
    col = {c: sel[c].tolist() for c in ("entity", "account", "counterparty", "amount_group", "type", "role", *dims)}
    ents_, accts, cps, amounts, types, roles = (col[c] for c in ("entity", "account", "counterparty", "amount_group",
                                                                 "type", "role"))
    of_pair: dict = {}  # each pair's balances (a handful), in their order
    for i, p in enumerate(sel["pair"].tolist()):
        of_pair.setdefault(p, []).append(i)
    for pair in sorted(of_pair):
        x, y = pair.split("|")
        at = of_pair[pair]
        for i in at:
            e, acc, c, amount = ents_[i], accts[i], cps[i], int(amounts[i])
            rows.append(entry(dims, journal, e, acc, -amount, counterparty=c, dimv={d: col[d][i] for d in dims},
                              description=f"Eliminate {e} {acc} with {c}", source=rule.source, rule=rule.name,
                              kind=rule.kind, role=roles[i], balance=amount))
        diff = sum(int(amounts[i]) for i in at)
        # the part measured on balance-sheet balances (kept since inception), not on the year's P&L
        since_inception = sum(int(amounts[i]) for i in at if types[i] not in PROFIT_TYPES)
        if not diff and not since_inception:
            continue
        owner = rule.entity if rule.entity in (x, y) else x
        other = y if owner == x else x
        rows.append(entry(dims, journal, owner, rule.difference, diff, counterparty=other,
                description=f"Intercompany difference {x}/{y}", source=rule.source, rule=rule.name, kind=rule.kind,
                role="difference", cumulative=since_inception))
        if abs(diff) > tol:
            sides = sum_by(sel.iloc[at], ["entity", "account", "counterparty"], "amount_group")
            named = "; ".join(f"{e} {acc} with {c}: {fmt(v, g_scale)} {gcur}" for (e, acc, c), v in sides.items())
            findings.append(Finding(WARNING, f"Elimination rule {rule.name}: the intercompany balances of {x} and "
                                        f"{y} do not cancel ({named}); the difference {fmt(diff, g_scale)} {gcur} is "
                                        f"posted to {rule.difference}.", hint="Reconcile the two sides (timing, "
                                        "missing invoice, a wrong counterparty) and post the correction in the books.",
                                        code="intercompany-difference", value=fmt(diff, g_scale),
                                        **where(book, rule.row, "rule")))
    return Posted(tuple(rows), tuple(findings))


@dataclass(frozen=True)
class Measured:
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


def read_measured(carried) -> dict[str, Measured]:
    """The goodwill measurements of earlier closes (``carry["goodwill"]``), by rule."""
    c = (carried or {}).get(GOODWILL)
    if c is None or not len(c):
        return {}
    out = {}
    num = lambda v: int(pd.to_numeric(v, errors="coerce") or 0)  # noqa: E731
    for rule, grp in c.groupby(c["rule"].map(code), sort=True):
        f = {str(r["figure"]): r for r in grp.to_dict("records")}
        if not {"goodwill", "investment", "equity_at_acquisition", "nci_at_acquisition"} <= set(f):
            continue
        gw, inv, eq, nci = f["goodwill"], f["investment"], f["equity_at_acquisition"], f["nci_at_acquisition"]
        out[rule] = Measured(rule, code(inv["entity"]), code(gw["entity"]), str(gw.get("period", "")),
                             num(gw.get("fiscal_year", 0)), str(inv["currency"]), str(gw["currency"]),
                             num(inv["amount"]), num(inv["amount_group"]), num(eq["amount"]),
                             num(eq["amount_group"]), num(nci["amount_group"]), num(gw["amount_group"]),
                             num(gw["amount"]))
    return out


def measured_frame(measured: list[Measured], gcur: str) -> pd.DataFrame:
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


def _measure(rule, inv_acct, accounts, eq, equity, equity_acct, ents, hist, rates, gcur, per) -> Measured:
    """Goodwill of ``rule``'s investment, measured now (the first close that consolidates it),
    at acquisition: the parent's opening investment (``inv_acct``, its currency, on
    ``accounts``) in group currency at its HistoricalRates rate (a row for the parent and the
    investment account) if one is given, else at this close's closing rate; the
    non-controlling share of the equity at acquisition; goodwill = investment − equity + NCI,
    held in the subsidiary's currency at the rate its equity at acquisition stands at (its
    historical rate), or at the closing rate when there is none."""
    parent, sub = rule.entity, rule.counterparty
    pcur, scur = ents[parent].currency, ents[sub].currency
    g_scale, s_scale = scale_of(gcur), scale_of(scur)
    investment = inv_acct
    if pcur != gcur:
        h = hist[(hist["entity"] == parent) & hist["account"].isin(list(accounts))] if len(hist) else hist
        cl = rates.get(pcur, "closing")
        if len(h) and not h["rate"].isna().all():
            investment = int(convert([inv_acct], float(h["rate"].dropna().iloc[0]), scale_of(pcur), g_scale)[0])
        elif len(h) and not h["amount_group"].isna().all():
            investment = int(h["amount_group"].dropna().sum())
        else:
            investment = int(convert([inv_acct], cl["rate"], scale_of(pcur), g_scale, cl["inverse"])[0]) \
                if cl["found"] else 0
    nci = share(equity, ONE - ents[sub].direct)
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
    return Measured(rule.name, parent, sub, per.name, per.fiscal_year, pcur, scur, inv_acct, investment,
                     equity_acct, equity, nci, goodwill, held)


def investment(g: Group, rule: Rule, tr: pd.DataFrame, measured: dict) -> tuple[Posted, Measured | None,
                                                                                 pd.DataFrame | None]:
    """Eliminate ``rule``'s investment against the subsidiary's equity at acquisition, with
    NCI and goodwill as measured once (:func:`_measure`).  Returns the rows, the measurement
    and the subsidiary's equity at acquisition (for the non-controlling interests), or no
    measurement when an entity of the rule is left out of the group.

    Later closes eliminate the investment at its current translated amount and keep the
    measured equity, NCI and goodwill: the difference a foreign parent's moving rate makes
    on its investment goes back to the translation reserve (it was in that parent's CTA),
    and goodwill held in the subsidiary's currency is translated at the closing rate, its
    difference to the translation reserve too."""
    book, ents, inc, hist, rates, chart, per, gcur = (g.book, g.entities, set(g.included), g.historical, g.rates,
                                                      g.chart, g.period, g.currency)
    dims = list(g.dims)
    rows, findings, needs = [], [], []
    parent, sub = rule.entity, rule.counterparty
    if parent not in inc or sub not in inc:
        return Posted(), None, None  # a left-out entity: nothing of it is in the group
    key = ["entity", "account", *dims, "counterparty"]
    journal = f"ELIM-{rule.name}-{per.name}"
    g_scale = scale_of(gcur)

    def post(entity, account, amount, **kw):
        if int(amount) or kw.get("cumulative"):
            rows.append(entry(dims, journal, entity, account, amount, source=rule.source, rule=rule.name,
                              kind=rule.kind, **kw))

    if ents[sub].parent != parent:
        findings.append(Finding(WARNING, f"Investment rule {rule.name}: the parent of {sub} in the Entities sheet "
                                f"is {ents[sub].parent or '(none)'}, not {parent}; {sub}'s ownership "
                                f"({ents[sub].direct:%}) is used.", code="investment-parent",
                                **where(book, rule.row, "entity")))
    held = tr[(tr["entity"] == parent) & tr["account"].isin(rule.accounts)]
    inv = held[held["counterparty"] == sub]
    if not len(inv):
        inv = held[held["counterparty"] == ""]
    investment_now = int(inv["amount_group"].sum())

    op = book.opening
    eq = op[(op["entity"] == sub) & op["account"].isin(rule.counters)] if len(op) else op
    if len(eq):
        sums = {k: v for k, v in sum_by(eq, key, "amount_acct").items() if v}
        eq = pd.DataFrame({**{c: [k[i] for k in sums] for i, c in enumerate(key)},
                           "acct": np.array(list(sums.values()), dtype="int64")}, columns=[*key, "acct"])
    scur, pcur = ents[sub].currency, ents[parent].currency
    if len(eq):
        eq["currency"] = scur
        if scur == gcur:
            eq["group"] = eq["acct"]
            eq["rate"] = 1.0
        else:
            h = historical(eq, hist, rates, gcur, [], book)  # a missing row is reported by the translation
            eq["group"], eq["rate"] = h["group"].to_numpy(), h["rate"].to_numpy()
    else:
        eq = pd.DataFrame({**{k: [] for k in key}, "acct": [], "group": [], "rate": []})
    acq = eq[key + ["group"]].rename(columns={"group": "acq_group"})
    equity = -int(eq["group"].sum())  # a positive amount
    equity_acct = -int(eq["acct"].sum())

    m = measured.get(rule.name)
    if m is not None and (m.parent, m.sub) != (parent, sub):
        findings.append(Finding(WARNING, f"Investment rule {rule.name} now names {parent}'s investment in {sub}; "
                                f"its goodwill was measured in {m.period} for {m.parent}'s investment in {m.sub}, "
                                "and is measured again now.", code="goodwill-remeasured",
                                **where(book, rule.row, "rule")))
        m = None
    if m is None:
        # the investment at acquisition: the parent's opening balance (what the period added is a
        # later purchase or a capital contribution, not part of the acquisition)
        opened = op[(op["entity"] == parent) & op["account"].isin(rule.accounts)] if len(op) else op
        at_acq = opened[opened["counterparty"] == sub] if len(opened) else opened
        if not len(at_acq) and len(opened):
            at_acq = opened[opened["counterparty"] == ""]
        inv_open = int(at_acq["amount_acct"].sum()) if len(at_acq) else 0
        m = _measure(rule, inv_open, list(inv["account"]) or sorted(rule.accounts), eq, equity, equity_acct, ents,
                     hist, rates, gcur, per)
    pl_difference = chart.loc[rule.difference, "type"] in PROFIT_TYPES

    for _, r in inv.iterrows():  # the investment's balances: a handful
        post(parent, r["account"], -r["amount_group"], counterparty=r["counterparty"], dimv=dimv(r, dims),
             description=f"Eliminate {parent}'s investment in {sub}", role="investment",
             balance=int(r["amount_group"]))
    for _, r in eq.iterrows():
        post(sub, r["account"], -int(r["group"]), counterparty=r["counterparty"], dimv=dimv(r, dims),
             description=f"Eliminate {sub}'s equity at acquisition", role="equity_at_acquisition",
             balance=int(r["group"]))
    if m.nci_group:
        needs.append(Need("setting", "nci_account", f"{sub} is owned {ents[sub].direct:%}"))
        post(sub, g.account("nci_account"), -m.nci_group, description=f"Non-controlling interests in {sub}'s "
             f"equity at acquisition ({ONE - ents[sub].direct:%})", role="nci_at_acquisition")
    if m.goodwill_group < 0 and chart.loc[rule.difference, "type"] != "Revenue":
        findings.append(Finding(ERROR, f"Investment rule {rule.name}: {parent}'s investment in {sub} "
                                f"({fmt(m.investment_group, g_scale)} {gcur}) is below its share of {sub}'s equity "
                                f"at acquisition ({fmt(m.equity_group - m.nci_group, g_scale)} {gcur}): negative "
                                f"goodwill of {fmt(-m.goodwill_group, g_scale)} {gcur}.", hint="Check the "
                                "investment and the equity at acquisition; a bargain purchase is recognised only "
                                "when difference_account is a Revenue account.", code="negative-goodwill",
                                value=fmt(m.goodwill_group, g_scale),
                                **where(book, rule.row, "difference_account")))
    what = "Goodwill" if m.goodwill_group > 0 else "Bargain purchase"
    post(sub, rule.difference, m.goodwill_group, counterparty=parent,
         description=f"{what} on {sub}, measured in {m.period}", role="goodwill",
         cumulative=m.goodwill_group if pl_difference else 0)

    # capital the subsidiary received since acquisition (the rule's counter accounts other than
    # retained earnings and the reserves): the parent's share is eliminated against the growth
    # of its investment; the non-controlling share goes to NCI with the subsidiary's other
    # post-acquisition equity movements (:func:`.nci.nci`)
    not_capital = {g.account(k) for k in ("retained_earnings_account", "translation_reserve_account", "nci_account")}
    capital = sorted(set(rule.counters) - not_capital)
    now_cap = sum_by(tr[(tr["entity"] == sub) & tr["account"].isin(capital)], key, "amount_group")
    acq_cap = sum_by(eq[eq["account"].isin(capital)], key, "group") if len(eq) else {}
    received = {k: now_cap.get(k, 0) - acq_cap.get(k, 0) for k in sorted(now_cap.keys() | acq_cap.keys())}
    parent_part = 0
    for k, v in received.items():  # the subsidiary's capital accounts: a handful
        if not v:
            continue
        part = share(int(v), ents[sub].direct)
        parent_part -= part
        r = dict(zip(key, k))
        post(sub, r["account"], -part, counterparty=r["counterparty"], dimv=dimv(r, dims),
             description=f"Eliminate {parent}'s share of the capital {sub} received since acquisition",
             role="capital_since_acquisition", balance=int(v))

    # what the measured figures no longer cover: a foreign parent's rate moved (translation),
    # or the investment or the equity at acquisition changed since goodwill was measured
    booked = -investment_now + equity - m.nci_group + m.goodwill_group + parent_part
    translated = 0
    if booked and pcur != gcur:
        cl = rates.get(pcur, "closing")
        if cl["found"]:
            translated = int(convert([m.investment_acct], cl["rate"], scale_of(pcur), g_scale, cl["inverse"])[0]) \
                - m.investment_group
    if translated:
        needs.append(Need("setting", "translation_reserve_account", f"{parent}'s investment in {sub} is held in "
                          f"{pcur}"))
        reserve = g.account("translation_reserve_account")
        if reserve:
            post(parent, reserve, translated, counterparty=sub, description=f"Translation difference on "
                 f"{parent}'s investment in {sub} since goodwill was measured ({m.period})",
                 role="investment_translation")
        else:
            translated = 0
    rest = -booked - translated
    if rest and parent_part and abs(rest) * 20 <= abs(parent_part) and (pcur != gcur or scur != gcur):
        # the investment grew with the capital contributed, at the rate the parent paid; the
        # subsidiary's capital stands at its own historical rate: an exchange difference
        needs.append(Need("setting", "translation_reserve_account", f"capital contributed to {sub} is translated"))
        reserve = g.account("translation_reserve_account")
        if reserve:
            post(parent, reserve, rest, counterparty=sub, description=f"Exchange difference on the capital {parent} "
                 f"contributed to {sub} since acquisition", role="investment_translation")
            rest = 0
    if rest:
        post(sub, rule.difference, rest, counterparty=parent, description=f"Change in {parent}'s investment in "
             f"{sub} or in its equity at acquisition since goodwill was measured ({m.period})",
             role="investment_change", cumulative=rest if pl_difference else 0)
        findings.append(Finding(WARNING, f"Investment rule {rule.name}: {parent}'s investment in {sub} or {sub}'s "
                                f"equity at acquisition is not what it was when goodwill was measured in "
                                f"{m.period} (investment {fmt(m.investment_acct, scale_of(pcur))} {pcur}, equity "
                                f"{fmt(m.equity_acct, scale_of(scur))} {scur}); goodwill is not measured again, and "
                                f"the difference {fmt(rest, g_scale)} {gcur} is posted to {rule.difference}.",
                                hint="A change of ownership (a further purchase or a disposal) is not handled by "
                                "the consolidation; account for it by hand, or correct the investment or the "
                                "opening balances if they were wrong.", code="investment-changed",
                                value=fmt(rest, g_scale), **where(book, rule.row, "account")))

    if m.goodwill_group > 0 and scur != gcur and m.goodwill_sub:
        needs.append(Need("rate", (scur, "closing")))
        cl = rates.get(scur, "closing")
        if cl["found"]:
            now = int(convert([m.goodwill_sub], cl["rate"], scale_of(scur), g_scale, cl["inverse"])[0])
            diff = now - m.goodwill_group
            needs.append(Need("setting", "translation_reserve_account", f"goodwill on {sub} is held in {scur}"))
            reserve = g.account("translation_reserve_account")
            if diff and reserve:
                post(sub, rule.difference, diff, counterparty=parent, description=f"Goodwill on {sub} "
                     f"({fmt(m.goodwill_sub, scale_of(scur))} {scur}) at the closing rate", role="goodwill_translation")
                post(sub, reserve, -diff, counterparty=parent, description=f"Translation difference on goodwill on "
                     f"{sub}", role="goodwill_reserve")
    return Posted(tuple(rows), tuple(findings), tuple(needs)), m, acq


PROFIT_CARRY = "consolidation_profit"


def earlier_years(g: Group, rows: tuple, carried) -> tuple[Posted, pd.DataFrame]:
    """Consolidation income and expense measured on balances kept since inception (an
    intercompany difference on balance-sheet accounts, a bargain purchase gain) is income or
    expense of the fiscal year in which it arose: what of it arose in earlier fiscal years is
    moved from its Revenue/Expense account to ``retained_earnings_account`` (journal of its
    rule).  Such a difference is the group's own, so it is the owners' part: the
    non-controlling interests' share of profit is measured on each entity's own translated
    profit, and their share of earlier years' on its retained earnings (:func:`_nci`).

    The part of earlier years is what the last close of the previous fiscal year measured,
    carried in ``carry["consolidation_profit"]`` (``cumulative``: measured to date;
    ``earlier_years``: of it, before this fiscal year).  Returns the moving rows and this
    close's carry."""
    chart, per, dims, rules = g.chart, g.period, list(g.dims), g.rules
    new, needs = [], []
    key = ["rule", "entity", "account", *dims, "counterparty"]
    cols = key + ["figure", "amount_group", "period", "fiscal_year"]
    pl = set(chart.index[chart["type"].isin(PROFIT_TYPES)])
    now = pd.DataFrame([r for r in rows if r["cumulative"] and r["account"] in pl])
    if len(now):
        now = now.groupby(key, as_index=False, sort=True)["cumulative"].sum()
    else:
        now = pd.DataFrame({**{k: pd.Series([], dtype=object) for k in key}, "cumulative": pd.Series([], dtype="int64")})
    c = (carried or {}).get(PROFIT_CARRY)
    if c is not None and len(c) and set(cols) <= set(c.columns):
        c = c.copy()
        for k in key + ["figure", "period"]:
            c[k] = c[k].map(code)
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
        needs.append(Need("setting", "retained_earnings_account", "consolidation income and expense of earlier "
                          "fiscal years goes to retained earnings"))
        re_acct = g.account("retained_earnings_account")
        by_name = {r.name: r for r in rules}
        for _, r in moving.iterrows():  # one per rule, entity and account: a handful
            rule = by_name.get(r["rule"])
            src, kind = (rule.source, rule.kind) if rule else ("", "")
            journal = f"ELIM-{r['rule']}-{per.name}"
            amt = int(r["earlier"])
            new.append(entry(dims, journal, r["entity"], r["account"], -amt, counterparty=r["counterparty"],
                             dimv=dimv(r, dims), description=f"{r['rule']}: the part of {r['account']} that arose "
                             f"before fiscal year {per.fiscal_year}", source=src, rule=r["rule"], kind=kind,
                             role="earlier_years"))
            if re_acct:
                new.append(entry(dims, journal, r["entity"], re_acct, amt, description=f"{r['rule']}: "
                                 f"{r['account']} of earlier fiscal years, in retained earnings", source=src,
                                 rule=r["rule"], kind=kind, role="earlier_years"))
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
    carry = df.sort_values(["rule", "figure", *key[1:]], kind="stable")[cols].reset_index(drop=True)
    return Posted(tuple(new), (), tuple(needs)), carry


def lines(g: Group, rows) -> pd.DataFrame:
    """The consolidation layer's rows with an amount, as a lines frame (group currency, dated
    the period end, journal type ``elimination``)."""
    dims = list(g.dims)
    df = pd.DataFrame([r for r in rows if r["amount"]])
    if not len(df):
        return empty_lines(dims)
    line = df.groupby("journal", sort=False).cumcount().to_numpy() + 1
    return make_lines(dims, journal=df["journal"].to_numpy(), line=line, date=g.period.end,
                      entity=df["entity"].to_numpy(), account=df["account"].to_numpy(), currency=g.currency,
                      amount=df["amount"].to_numpy(), amount_acct=df["amount"].to_numpy(),
                      counterparty=df["counterparty"].to_numpy(), journal_type=JOURNAL_TYPE,
                      description=df["description"].to_numpy(), source=df["source"].to_numpy(),
                      **{d: df[d].to_numpy() for d in dims})


def report(g: Group, rows) -> pd.DataFrame:
    """The ``Eliminations`` report: every elimination row with an amount."""
    cols = ["rule", "type", "journal", "role", "entity", "account", *g.dims, "counterparty", "balance_group",
            "amount_group", "description", "source"]
    keep = [r for r in rows if r["journal"].startswith("ELIM-") and r["amount"]]
    if not keep:
        return pd.DataFrame({c: [] for c in cols})
    df = pd.DataFrame(keep).rename(columns={"kind": "type", "amount": "amount_group"})
    df["balance_group"] = pd.array(df["balance_group"], dtype="Int64")
    return df[cols].reset_index(drop=True)
