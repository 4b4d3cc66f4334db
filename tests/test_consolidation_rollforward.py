"""Property: the consolidated balance sheet rolls forward across a year-end (spec section 3,
step 8, "Across periods and years").

Random groups (a parent, a subsidiary and a sub-subsidiary in random currencies and
ownerships, intercompany balances that do not agree, investments with goodwill or a bargain
purchase) close December 2026, the last period of their fiscal year, then January 2027 with
no postings and the same closing rates.  Whatever December did, January must show:

* no income or expense (the year starts again at zero, and nothing of 2026 comes back);
* the same assets and liabilities;
* consolidated equity = December's equity + December's profit: retained earnings grew by the
  owners' profit, non-controlling interests and the translation reserve are unchanged.

The closes run through the pure runner, January starting from what December's close leaves
for the ledger (balances, year-end entries, carries), as the app hands it over.
"""
from __future__ import annotations

import pandas as pd
from hypo import profile
from hypothesis import given
from hypothesis import strategies as st

from builders import ACCOUNTS, make_book, months, period
from closebatch.close import History, run_close

T = pd.Timestamp
ENT = ["entity", "name", "currency", "parent", "ownership"]
TB = ["entity", "account", "currency", "balance", "counterparty"]
J = ["journal", "date", "entity", "account", "currency", "debit", "credit", "counterparty"]
ELIM = ["rule", "type", "entity", "counterparty", "account", "counter_account", "difference_account"]
CHART = ACCOUNTS + [["4900", "Bargain purchase gain", "Revenue", False, False]]
PERIODS = months(2026, 12, 12) + months(2027, 1, 1)[1:]


@st.composite
def groups(draw):
    ccys = ["USD", "EUR", "GBP"]
    s_ccy, t_ccy = draw(st.sampled_from(ccys)), draw(st.sampled_from(ccys))
    s_own, t_own = draw(st.sampled_from([1.0, 0.8, 0.6])), draw(st.sampled_from([1.0, 0.75]))
    t_parent = draw(st.sampled_from(["P", "S"]))
    amount = st.integers(100, 20000)
    entities = [ENT, ["P", "Parent", "USD", "", 1.0], ["S", "Sub", s_ccy, "P", s_own],
                ["T", "Sub-sub", t_ccy, t_parent, t_own]]
    ccy = {"P": "USD", "S": s_ccy, "T": t_ccy}
    rate = st.sampled_from([0.8, 0.95, 1.1, 1.25, 1.3333, 1.47])
    closing = {c: draw(rate) for c in ("EUR", "GBP")}
    hist = {c: draw(rate) for c in ("EUR", "GBP")}
    rates = [["from", "to", "date", "rate", "type"]]
    for c in ("EUR", "GBP"):
        rates += [[c, "USD", T(2026, 12, 31), closing[c], "closing"],
                  [c, "USD", T(2026, 12, 31), draw(rate), "average"],
                  [c, "USD", T(2027, 1, 31), closing[c], "closing"],
                  [c, "USD", T(2027, 1, 31), draw(rate), "average"]]
    opening = [TB]
    historical = [["entity", "account", "rate", "amount_group"]]
    eliminations = [ELIM, ["IC", "intercompany", "", "", "1300", "2300", "7950"]]
    equity = {}
    for e in ("S", "T"):
        sc, re_ = draw(amount), draw(st.integers(0, 5000))
        equity[e] = sc + re_
        opening += [[e, "3000", ccy[e], -sc, ""], [e, "3100", ccy[e], -re_, ""]]
        if ccy[e] != "USD":
            historical += [[e, "3000", hist[ccy[e]], None], [e, "3100", hist[ccy[e]], None]]
    # investments: at, above or below the share of equity (a bargain purchase to 4900)
    for parent, sub, own in (("P", "S", s_own), (t_parent, "T", t_own)):
        rate_sub = hist.get(ccy[sub], 1.0)
        share = equity[sub] * rate_sub / hist.get(ccy[parent], 1.0) * own
        inv = max(1, int(share * draw(st.sampled_from([0.8, 1.0, 1.3]))))
        opening.append([parent, "1600", ccy[parent], inv, sub])
        if ccy[parent] != "USD":
            historical.append([parent, "1600", hist[ccy[parent]], None])
        eliminations.append([f"INV-{sub}", "investment", parent, sub, "1600", "3000-3100",
                             "4900" if inv < share else "1700"])
    # intercompany balances that need not agree
    ic = [("P", "S"), ("S", "T"), ("P", "T")]
    for a, b in draw(st.lists(st.sampled_from(ic), max_size=3, unique=True)):
        opening += [[a, "1300", ccy[a], draw(amount), b], [b, "2300", ccy[b], -draw(amount), a]]
    journals = [J]
    for k in range(draw(st.integers(1, 8))):
        e = draw(st.sampled_from(["P", "S", "T"]))
        m = draw(amount)
        acct, other = draw(st.sampled_from([("4000", "1000"), ("6100", "1000"), ("6200", "2300"),
                                            ("4000", "1300")]))
        cp = draw(st.sampled_from([x for x in "PST" if x != e])) if other in ("1300", "2300") else ""
        sign = 1 if acct[0] == "6" else -1
        day = T(2026, 12, draw(st.integers(1, 28)))
        journals += [[f"J{k}", day, e, acct, ccy[e], m if sign > 0 else None, m if sign < 0 else None, ""],
                     [f"J{k}", day, e, other, ccy[e], m if sign < 0 else None, m if sign > 0 else None, cp]]
    # each entity's opening balances on cash, the parent's share capital what is left
    for e in "PST":
        total = sum(r[3] for r in opening[1:] if r[0] == e)
        cash = draw(st.integers(0, 3000))
        opening.append([e, "1000", ccy[e], cash, ""])
        if e == "P":
            opening.append([e, "3000", ccy[e], -total - cash, ""])
        else:  # the subsidiaries' equity is what their investment rules measured: cash closes the gap
            opening[-1][3] = -total
    return make_book(entities, accounts=CHART, periods=PERIODS, settings={"group_currency": "USD"},
                     opening=opening, journals=journals, rates=rates, eliminations=eliminations,
                     historical_rates=historical)


def ledger_after(result) -> dict:
    """What the ledger hands the next close (as ``closebatch.app`` persists it)."""
    frames = {"Balances": result.balances}
    if result.year_end is not None and len(result.year_end):
        frames["YearEnd"] = result.year_end
    frames.update({f"carry_{k}": v for k, v in result.carry.items()})
    return frames


def consolidated(result) -> pd.DataFrame:
    return result.steps["consolidation"].reports["Consolidated"].set_index("account")


@profile(6, 60)
@given(book=groups())
def test_consolidated_equity_rolls_forward_across_a_year_end(book):
    dec = run_close(book, period(book, "2026-12"), History())
    assert not dec.errors, [f.message for f in dec.errors]
    jan = run_close(book, period(book, "2027-01"), History(previous=ledger_after(dec)))
    assert not jan.errors, [f.message for f in jan.errors]
    d, j = consolidated(dec), consolidated(jan)
    d_bal = d["balance_group"]
    j_bal = j["balance_group"].reindex(d_bal.index.union(j.index), fill_value=0)
    d_bal = d_bal.reindex(j_bal.index, fill_value=0)
    types = pd.concat([d["type"], j["type"]]).groupby(level=0).first().reindex(j_bal.index)
    pl = types.isin(["Revenue", "Expense"])
    assert (j_bal[pl] == 0).all(), j_bal[pl][j_bal[pl] != 0]
    bs = types.isin(["Asset", "Liability"])
    assert (j_bal[bs] == d_bal[bs]).all(), pd.DataFrame({"dec": d_bal[bs], "jan": j_bal[bs]})
    eq = types == "Equity"
    assert j_bal[eq].sum() == d_bal[eq].sum() + d_bal[pl].sum()
    # the owners' profit went to retained earnings; NCI and the reserve stay as they were
    assert j_bal.get("3100", 0) == d_bal.get("3100", 0) + d_bal[pl].sum()
    assert j_bal.get("3950", 0) == d_bal.get("3950", 0) and j_bal.get("3900", 0) == d_bal.get("3900", 0)
    # and no translation difference arose in January: the rates did not move
    cta = jan.steps["consolidation"].reports["CTA"]
    assert (cta["cta_movement"] == 0).all(), cta[["entity", "cta_at_start", "cta_total"]]
    # every consolidation journal balances
    for res in (dec, jan):
        if res.eliminations is not None and len(res.eliminations):
            assert (res.eliminations.groupby("journal")["amount"].sum() == 0).all()
