"""Translation of each entity's trial balance into the group currency (see the package's
docstring): the previous close's translated balances (``carry["group_ytd"]``), each balance
at its rate type, HistoricalRates the first time an entity's equity is translated, and the
translated trial balance with its balancing translation difference."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd

from ...context import LedgerState
from ...core import ERROR, WARNING, Finding
from ...money import convert, fmt, scale_of, scales
from .group import JOURNAL_TYPE, PROFIT_TYPES, Group, Need, code, where

CARRY = "group_ytd"


def translate(g: Group, state: LedgerState) -> tuple[pd.DataFrame, list[Finding], list[Need]]:
    """Every consolidated entity's balances translated (one row per entity, account,
    dimensions and counterparty; see :func:`_translate` for the columns), with the findings
    of the translation and what it needed."""
    findings: list[Finding] = []
    st = without_eliminations(state)
    findings += unknown_counterparties(g, st)
    carry, needs = _read_carry(g, state.carried)
    tr = _translate(g, st, carry, findings)
    return tr, findings, needs


def without_eliminations(state: LedgerState) -> LedgerState:
    """The entity ledger only: consolidation-layer lines never enter an entity's balances."""
    lines = state.lines
    if len(lines) and "journal_type" in lines and (lines["journal_type"] == JOURNAL_TYPE).any():
        lines = lines[lines["journal_type"] != JOURNAL_TYPE].reset_index(drop=True)
        return LedgerState(state.dims, state.opening, lines, state.carried, state.settle_accounts)
    return state


def unknown_counterparties(g: Group, st: LedgerState) -> list[Finding]:
    book, ents = g.book, g.entities
    bal = st.balances()
    if not (set(bal["counterparty"].unique()) - set(ents) - {""}):  # the usual case, seen in one pass
        return []
    bal = bal[bal["entity"].isin(g.included) & (bal["counterparty"] != "") & ~bal["counterparty"].isin(list(ents))]
    if not len(bal):
        return []
    sources = pd.concat([f for f in (st.lines, book.opening) if len(f)], ignore_index=True) \
        if len(st.lines) or len(book.opening) else pd.DataFrame()
    out = []
    for (e, a, c), _ in bal.groupby(["entity", "account", "counterparty"], sort=True):
        loc = {}
        if len(sources):
            hit = sources[(sources["entity"] == e) & (sources["account"] == a) & (sources["counterparty"] == c)]
            if len(hit):
                loc = where(book, hit.iloc[0], "counterparty")
        out.append(Finding(ERROR, f"{e} account {a} has a balance with counterparty {c}, which is not an entity "
                           "of the group.", hint=f"Correct the counterparty, or add {c} to the Entities sheet.",
                           code="counterparty-unknown", value=c, **loc))
    return out


def _read_carry(g: Group, carried) -> tuple[pd.DataFrame, list[Need]]:
    """The previous close's translated balances, with a new fiscal year's roll of profit into
    retained earnings.  Columns: key, base_acct, base_group, base_period, rolled."""
    dims, per, chart = list(g.dims), g.period, g.chart
    key = ["entity", "account", *dims, "counterparty"]
    cols = key + ["base_acct", "base_group", "base_period", "rolled"]
    c = (carried or {}).get(CARRY)
    if c is None or not len(c):
        return pd.DataFrame({k: pd.Series([], dtype=object) for k in cols}), []
    c = c.copy()
    for k in key + ["period"]:
        c[k] = c[k].map(code) if k in c else ""
    for k in ("amount_acct", "amount_group"):
        c[k] = pd.to_numeric(c[k], errors="coerce").fillna(0).round().astype("int64") if k in c else 0
    fy = c["fiscal_year"] if "fiscal_year" in c else pd.Series(per.fiscal_year, index=c.index)
    c["fiscal_year"] = pd.to_numeric(fy, errors="coerce").fillna(per.fiscal_year).astype("int64")
    c = c[c["period"] != per.name]  # never one's own earlier result (a re-close)
    types = c["account"].map(chart["type"]).fillna("")
    prior_pl = c[(c["fiscal_year"] < per.fiscal_year) & types.isin(PROFIT_TYPES)]
    keep = c.drop(index=prior_pl.index)
    keep = keep.assign(rolled=False)
    needs = []
    if len(prior_pl):
        needs.append(Need("setting", "retained_earnings_account", f"fiscal year {per.fiscal_year} begins and the "
                          "translated profit of the year before must roll into retained earnings"))
        re_acct = g.account("retained_earnings_account")
        if re_acct:
            roll = prior_pl.groupby("entity", as_index=False)[["amount_acct", "amount_group"]].sum()
            roll = roll.assign(account=re_acct, counterparty="", period=prior_pl["period"].iloc[0], rolled=True,
                               **{d: "" for d in dims})
            keep = pd.concat([keep, roll[key + ["amount_acct", "amount_group", "period", "rolled"]]],
                             ignore_index=True)
    keep = keep.groupby(key, as_index=False, sort=True).agg(
        base_acct=("amount_acct", "sum"), base_group=("amount_group", "sum"), base_period=("period", "first"),
        rolled=("rolled", "any"))
    return keep[cols], needs


def _translate(g: Group, st: LedgerState, carry: pd.DataFrame, findings: list) -> pd.DataFrame:
    book, ents, inc, chart, hist, rates, gcur = (g.book, g.entities, list(g.included), g.chart, g.historical,
                                                 g.rates, g.currency)
    dims = list(g.dims)
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
        h = historical(sub, hist, rates, gcur, findings, book)
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


def historical(sub: pd.DataFrame, hist: pd.DataFrame, rates, gcur, findings, book) -> pd.DataFrame:
    """Opening balances (column ``acct``) translated by HistoricalRates: ``group``, ``rate``, ``source``.

    A ``rate`` row converts each balance; an ``amount_group`` row is spread over the account's
    balances in proportion to them (remainder to the largest).  A balance with no row is an
    error, and is translated at the closing rate meanwhile."""
    sub = sub.reset_index(drop=True)
    # each balance's HistoricalRates row (one at most per entity and account: the table is checked so)
    row = {k: i for i, k in enumerate(zip(hist["entity"], hist["account"]))}
    at = np.array([row.get(k, -1) for k in zip(sub["entity"], sub["account"])], dtype="int64")
    found = at >= 0
    acct = sub["acct"].to_numpy(dtype="int64")
    rate = np.where(found, hist["rate"].to_numpy(dtype="float64")[at] if len(hist) else np.nan, np.nan)
    amt = np.where(found, hist["amount_group"].to_numpy(dtype="float64")[at] if len(hist) else np.nan, np.nan)
    given = hist["source"].to_numpy(dtype=object)[at] if len(hist) else np.full(len(sub), None, dtype=object)
    src = np.array(["" if not f or v is None or v != v else str(v) for f, v in zip(found, given)], dtype=object)
    group = convert(acct, np.where(np.isnan(rate), 1.0, rate), scales(sub["currency"]), scale_of(gcur))
    shown = rate.copy()
    by_amount = ~np.isnan(amt)
    if by_amount.any():
        runs: dict = {}  # the balances of each entity and account, in order of appearance
        for i, e, a in zip(np.flatnonzero(by_amount), sub["entity"].to_numpy(object)[by_amount],
                           sub["account"].to_numpy(object)[by_amount]):
            if e == e and a == a and e is not None and a is not None:  # (a missing key is no group)
                runs.setdefault((e, a), []).append(i)
        cur_of = sub["currency"].to_numpy(object)
        for (e, a), at_rows in runs.items():
            idx = np.array(at_rows, dtype="int64")
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
            shown[idx] = (target / 10 ** scale_of(gcur)) / (total / 10 ** scale_of(str(cur_of[idx[0]])))
    missing = np.isnan(rate) & ~by_amount & (acct != 0)
    if missing.any():
        for (e, a), g in sub[missing].groupby(["entity", "account"], sort=True):
            loc = {}
            op = book.opening
            hit = op[(op["entity"] == e) & (op["account"] == a)] if len(op) else op
            if len(hit):
                loc = where(book, hit.iloc[0], "account")
            cur = str(g["currency"].iloc[0])
            total = int(acct[g.index.to_numpy()].sum())
            findings.append(Finding(ERROR, f"{e} account {a} has an opening balance of {fmt(total, scale_of(cur))} "
                                    f"{cur} to translate at a historical rate, and HistoricalRates has no row for it.",
                                    hint=f"Add a HistoricalRates row: entity {e}, account {a}, with the rate "
                                    f"{cur}→{gcur} of the day it arose, or its amount_group in {gcur}.",
                                    code="historical-rate-missing", value=f"{e} {a}", **loc))
        idx = np.flatnonzero(missing)
        cl = [rates.get(c, "closing") for c in sub["currency"].to_numpy()[idx]]
        group[idx] = convert(acct[idx], [r["rate"] if r["found"] else 0.0 for r in cl],
                             scales(sub["currency"].to_numpy()[idx]), scale_of(gcur), [r["inverse"] for r in cl])
        src[idx] = "no HistoricalRates row: closing rate used"
        shown[idx] = np.nan
    src = np.where((src == "") & (acct == 0), "", src)
    return pd.DataFrame({"group": group.astype("int64"), "rate": shown, "source": src})


def translated(g: Group, tr: pd.DataFrame, cta: pd.Series) -> pd.DataFrame:
    """Every entity's trial balance in group currency (entity, account, amount_group): the
    translated balances, and the balancing translation difference on the reserve account.
    The translation difference is not a journal: it is the translated trial balance's own."""
    reserve = g.account("translation_reserve_account")
    t = tr.groupby(["entity", "account"], as_index=False, sort=True)["amount_group"].sum()
    if reserve:
        c = cta[cta != 0]
        t = pd.concat([t, pd.DataFrame({"entity": c.index.to_numpy(dtype=object), "account": reserve,
                                        "amount_group": c.to_numpy(dtype="int64")})], ignore_index=True)
        t = t.groupby(["entity", "account"], as_index=False, sort=True)["amount_group"].sum()
    t["amount_group"] = t["amount_group"].astype("int64")
    return t


def balancing(g: Group, tr: pd.DataFrame) -> tuple[pd.Series, list[Finding]]:
    """Each entity's translation difference: the figure that makes its translated trial
    balance sum to zero (``−Σ amount_group``).  On an entity in the group currency it can
    only come from books that do not balance: a warning."""
    inc = list(g.included)
    cta = (-tr.groupby("entity")["amount_group"].sum()).reindex(inc, fill_value=0).astype("int64")
    out = []
    for e in inc:
        if cta[e] and g.entities[e].currency == g.currency:
            out.append(Finding(WARNING, f"The trial balance of {e} ({g.currency}) does not balance: "
                               f"{fmt(-cta[e], g.scale)} {g.currency}; the difference is shown on the "
                               "translation reserve.", hint=f"Correct the books of {e}.",
                               code="consolidation-unbalanced", **where(g.book, g.entities[e].row, "entity")))
    return cta, out


def carry_out(g: Group, tr: pd.DataFrame) -> pd.DataFrame:
    """What the next close starts from: every translated balance of this close."""
    dims, per = list(g.dims), g.period
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


def translation_report(g: Group, tr: pd.DataFrame) -> pd.DataFrame:
    cols = ["entity", "account", *g.dims, "counterparty", "currency", "type", "translation", "balance_acct",
            "base_acct", "base_group", "base_source", "movement_acct", "rate_type", "rate", "rate_source",
            "amount_group"]
    return tr[cols].reset_index(drop=True)
