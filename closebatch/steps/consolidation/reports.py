"""The consolidation's reports: the translation reserve per entity with its labelled figures
and analysis (``CTA``), goodwill (``Goodwill``), the consolidated balances
(``Consolidated``) and the consolidation worksheet (``Worksheet``)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ...money import convert, scale_of
from .group import ONE, Group, code, share


def reserve_figures(g: Group, tr: pd.DataFrame, cta: pd.Series, rows) -> pd.DataFrame:
    """Each entity's part of the group's translation reserve, in group currency, ledger sign
    (a credit, negative, is a translation gain):

    * ``translation``: the translation of the entity's trial balance (the balancing figure,
      plus what its own books hold on the reserve account), less the translation difference on
      its investments in subsidiaries that the eliminations take back (an eliminated
      investment has no translation difference in the group);
    * ``goodwill``: the translation difference on goodwill on the entity (held in its currency);
    * ``total``: the two together, before the non-controlling interests' share."""
    inc, reserve = list(g.included), g.account("translation_reserve_account")
    own = tr.loc[tr["account"] == reserve].groupby("entity")["amount_group"].sum() if reserve else pd.Series(dtype="int64")
    df = pd.DataFrame(list(rows)) if rows else pd.DataFrame(columns=["entity", "account", "role", "amount"])
    on_reserve = df[(df["account"] == reserve)] if reserve else df.iloc[0:0]

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


CTA_CARRY = "cta"
CTA_FIGURES = ("cta_total", "cta_goodwill", "cta_nci_share", "cta_owners_share", "cta_movement")


def cta_report(g: Group, tr: pd.DataFrame, figs: pd.DataFrame, nci: pd.DataFrame, carried):
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
    ents, inc, rates, gcur, per, opening_reserve = (g.entities, list(g.included), g.rates, g.currency, g.period,
                                                    g.opening_reserve)
    nci_cta = dict(zip(nci["entity"], nci["cta_nci_share"])) if len(nci) else {}
    c = (carried or {}).get(CTA_CARRY)
    before: dict = {}
    if c is not None and len(c):
        c = c[c["period"].map(code) != per.name]
        for r in c.to_dict("records"):
            before[(code(r["entity"]), code(r["figure"]))] = int(pd.to_numeric(r["amount_group"], errors="coerce")
                                                                  or 0)
    rows, carry = [], []
    # the columns read here, split by entity once (filtering the whole frame per entity cost milliseconds)
    narrow = tr[[c for c in ("entity", "account", "translation", "balance_acct", "amount_group", "rate_type", "rate",
                             "rate_source") if c in tr.columns]]
    by_entity = dict(tuple(narrow.groupby("entity", sort=False))) if len(narrow) else {}
    for e in inc:
        cur = ents[e].currency
        t = by_entity.get(e, narrow.iloc[0:0])
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
            nci_start = share(at_start, factor) if factor > 0 else 0
        inv_elim = int(f["investment_eliminated"])
        rows.append([e, cur, -h_acct, -h_group, ratio(h_group, h_acct), opening_rate_source(h),
                     rates.effective(cur, "closing"),
                     rate_source(cl), na_effect, -p_acct, -p_group, ratio(p_group, p_acct), rate_source(av),
                     pl_effect, inv_elim, translation - na_effect - pl_effect - inv_elim, translation, goodwill, total,
                     gain_or_loss(total), nci_share, total - nci_share, at_start,
                     total - at_start, gain_or_loss(total - at_start), nci_start, nci_share - nci_start])
        carry += [[e, fig, v, per.name, per.fiscal_year] for fig, v in
                  (("translation", translation), ("goodwill", goodwill), ("total", total), ("nci_share", nci_share))]
    cols = ["entity", "currency", "opening_net_assets_acct", "opening_net_assets_group", "opening_rate",
            "opening_rate_source", "closing_rate", "closing_rate_source", "cta_net_assets", "profit_ytd_acct", "profit_ytd_group",
            "average_rate", "average_rate_source", "cta_profit", "cta_investment_eliminated", "cta_unexplained",
            "cta_translation", "cta_goodwill", "cta_total", "cta_total_is", "cta_nci_share", "cta_owners_share",
            "cta_at_start", "cta_movement", "cta_movement_is", "cta_nci_at_start", "cta_nci_movement"]
    df = pd.DataFrame(rows, columns=cols)
    for k in cols[2:]:
        if k not in ("opening_rate", "closing_rate", "average_rate", "closing_rate_source", "average_rate_source",
                     "opening_rate_source", "cta_total_is", "cta_movement_is"):
            df[k] = df[k].astype("int64")
    cf = pd.DataFrame(carry, columns=["entity", "figure", "amount_group", "period", "fiscal_year"])
    cf["amount_group"] = cf["amount_group"].astype("int64")
    cf["fiscal_year"] = cf["fiscal_year"].astype("int64")
    return df, cf


def gain_or_loss(amount: int) -> str:
    """A translation difference in the ledger's sign: a credit (negative) to the reserve is a
    gain, a debit (positive) a loss."""
    return "gain" if amount < 0 else ("loss" if amount > 0 else "")


def opening_rate_source(h: pd.DataFrame) -> str:
    """Where the rate of the opening net assets comes from: the historical-rate (Equity)
    accounts it weighs, each with its rate and the row that gives it (``HistoricalRates``, or
    the retained earnings rolled forward by earlier closes)."""
    if not len(h):
        return ""
    parts = []
    for acc, rt, rate, src in zip(h["account"], h["rate_type"], h["rate"], h.get("rate_source", h["rate_type"])):
        src = "" if src is None or (isinstance(src, float) and np.isnan(src)) else str(src)
        if rt == "same currency":
            return "same currency"
        shown = np.format_float_positional(round(float(rate), 6), trim="-") if pd.notna(rate) else "amount given"
        parts.append(f"{acc} at {shown}" + (f" ({src})" if src else f" ({rt})" if rt else ""))
    return "weighted by balance: " + "; ".join(parts)


def rate_source(r: dict) -> str:
    if not r.get("found"):
        return ""
    if r.get("used_type") == "same currency":
        return "same currency"
    src = str(r.get("source") or "")
    return src + (" (inverse)" if r.get("inverse") else "")


def goodwill_report(g: Group, measured: list) -> pd.DataFrame:
    """Each investment's goodwill: as measured once, and translated at this close."""
    rates, gcur = g.rates, g.currency
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


def consolidated(g: Group, translated: pd.DataFrame, lines: pd.DataFrame) -> pd.DataFrame:
    book = g.book
    parts = [translated[["account", "amount_group"]]]
    if len(lines):
        parts.append(lines[["account", "amount"]].rename(columns={"amount": "amount_group"}))
    s = pd.concat(parts, ignore_index=True).groupby("account", sort=True)["amount_group"].sum().astype("int64")
    acc = book.accounts.assign(account=book.accounts["account"].map(code)).drop_duplicates("account")
    acc = acc.set_index("account")
    return pd.DataFrame({"account": s.index.to_numpy(dtype=object),
                         "account_name": s.index.map(acc["name"]).fillna("").to_numpy(dtype=object),
                         "type": s.index.map(acc["type"]).fillna("").to_numpy(dtype=object),
                         "balance_group": s.to_numpy(dtype="int64")})


TYPE_LABELS = {"Asset": "Assets", "Liability": "Liabilities", "Equity": "Equity", "Revenue": "Revenue",
               "Expense": "Expenses"}


def worksheet(g: Group, translated: pd.DataFrame, rows) -> pd.DataFrame:
    """The consolidation worksheet (spec section 5, ``consolidation.xlsx`` ``Worksheet``):
    accounts as rows, grouped by type and statement line with subtotals; columns: each entity
    translated into group currency (its translation difference included, so it sums to zero),
    their sum, one column per elimination rule, NCI, and the consolidated total.  Every row adds
    across and every column sums to zero (the last row).

    Columns: ``kind`` (account, subtotal, total, check), ``type``, ``statement_line``,
    ``account``, ``account_name``, then the money columns (int64 minor units of the group
    currency) whose headers are in ``df.attrs["headers"]``."""
    inc, rules, chart = list(g.included), g.rules, g.chart
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
        r = pd.DataFrame(list(rows))
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

    # the chart and the amounts as lookups (a label lookup in a frame costs tens of microseconds)
    ctype, cline, cname = ch["type"].to_dict(), ch["line"].to_dict(), ch["name"].to_dict()
    amounts = wide[money_cols].to_numpy(dtype="int64")
    at = {a: i for i, a in enumerate(wide.index)}

    def total(accounts):
        return amounts[[at[a] for a in accounts]].sum(axis=0)

    for typ in ("Asset", "Liability", "Equity", "Revenue", "Expense"):
        accts = [a for a in known if ctype[a] == typ]
        if not accts:
            continue
        lines_order = list(dict.fromkeys(cline[a] for a in accts))
        for ln in lines_order:
            members = [a for a in accts if cline[a] == ln]
            for a in members:
                emit("account", typ, ln, a, cname[a], amounts[at[a]])
            if len(members) > 1:
                emit("subtotal", typ, ln, "", f"Total {ln}", total(members))
        emit("total", typ, "", "", f"Total {TYPE_LABELS[typ].lower()}", total(accts))
    for a in unknown:  # not in the chart (reported elsewhere): shown, never dropped
        emit("account", "", "", a, "(not in the chart of accounts)", amounts[at[a]])
    emit("check", "", "", "", "Total (every column sums to zero)", amounts.sum(axis=0))
    df = pd.DataFrame(out_rows, columns=["kind", "type", "statement_line", "account", "account_name", *money_cols])
    for c in money_cols:
        df[c] = df[c].astype("int64")
    df.attrs["headers"] = headers
    return df
