"""Non-controlling interests (proportionate method, journal ``NCI-<period>``)."""
from __future__ import annotations

import pandas as pd

from .group import ONE, PROFIT_TYPES, Group, Posted, dimv, entry, share


def nci(g: Group, tr: pd.DataFrame, translation: pd.Series, acq: dict) -> tuple[Posted, pd.DataFrame]:
    """For every consolidated entity owned below 100% (effective ownership), the
    non-controlling interests' share of its translated profit for the year to date (debited
    to ``nci_profit_account``), of its translation reserve (``translation``, by entity: its
    trial balance's part, see :func:`.reports.reserve_figures`; goodwill's is the parent's
    alone) and of its post-acquisition equity movements (its Equity accounts' group amounts
    less equity at acquisition, ``acq``), each credited to ``nci_account``.  Returns the rows
    and the ``NCI`` report."""
    dims = list(g.dims)
    key = ["entity", "account", *dims, "counterparty"]
    cols = ["entity", "parent", "ownership", "effective_ownership", "nci_share", "profit_ytd_group", "nci_profit",
            "cta_translation", "cta_nci_share", "post_acquisition_equity", "nci_equity", "source"]
    report, rows = [], []
    nci_acct, profit_acct = g.account("nci_account"), g.account("nci_profit_account")
    reserve = g.account("translation_reserve_account")
    journal = f"NCI-{g.period.name}"
    for e in g.included:
        ent = g.entities[e]
        factor = ONE - ent.effective
        if factor <= 0 or not nci_acct or not profit_acct:
            continue

        def post(account, amount, description, role, **kw):
            if int(amount):
                rows.append(entry(dims, journal, e, account, amount, description=description, source=ent.source,
                                  rule="NCI", kind="nci", role=role, **kw))

        t = tr[tr["entity"] == e]
        profit = -int(t.loc[t["type"].isin(PROFIT_TYPES), "amount_group"].sum())
        nci_profit = share(profit, factor)
        post(profit_acct, nci_profit, f"Profit of {e} attributable to non-controlling interests ({factor:%})",
             "nci_profit")
        post(nci_acct, -nci_profit, f"Non-controlling interests' share of {e}'s profit", "nci_profit")
        cta = int(translation.get(e, 0))
        nci_cta = share(cta, factor) if reserve else 0
        post(reserve, -nci_cta, f"Non-controlling interests' share of {e}'s translation reserve", "nci_cta")
        post(nci_acct, nci_cta, f"Non-controlling interests' share of {e}'s translation reserve", "nci_cta")
        eq = t[(t["type"] == "Equity") & ~t["account"].isin([reserve, nci_acct])][key + ["amount_group"]]
        base = acq.get(e)
        if base is not None and len(base):
            eq = eq.merge(base, on=key, how="outer")
        else:
            eq = eq.assign(acq_group=0)
        eq = eq.fillna({"amount_group": 0, "acq_group": 0})
        post_acq = eq["amount_group"].astype("int64") - eq["acq_group"].astype("int64")
        moved = 0
        for (_, r), p in zip(eq.iterrows(), post_acq):  # the entity's equity accounts: a handful
            s = share(int(p), factor)
            moved += s
            post(r["account"], -s, f"Non-controlling interests' share of {e}'s post-acquisition {r['account']}",
                 "nci_equity", counterparty=r["counterparty"], dimv=dimv(r, dims))
        post(nci_acct, moved, f"Non-controlling interests' share of {e}'s post-acquisition equity", "nci_equity")
        report.append([e, ent.parent, float(ent.direct), float(ent.effective), float(factor), profit, nci_profit,
                       cta, nci_cta, int(post_acq.sum()), moved, ent.source])
    df = pd.DataFrame(report, columns=cols)
    for c in ("profit_ytd_group", "nci_profit", "cta_translation", "cta_nci_share", "post_acquisition_equity",
              "nci_equity"):
        df[c] = df[c].astype("int64")
    return Posted(tuple(rows)), df
