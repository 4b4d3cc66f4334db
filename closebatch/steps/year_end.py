"""Year-end close (spec section 3, step 9).

At the last period of a fiscal year every Revenue and Expense balance is moved to
``retained_earnings_account``, per entity, with dimensions dropped on the retained-earnings
side.  The closing entries are dated the period end and carried into the next fiscal year,
which therefore opens with balance-sheet accounts only; the year-end period's own trial
balance and statements show the balances before them.

Journal ``YE-<fiscal year>-<entity>``: one line per Revenue/Expense balance (its dimensions,
counterparty and transaction currency kept, the amounts reversed) and one line per entity on
``retained_earnings_account`` in the entity's currency for the profit.  The runner persists
them as the ``YearEnd`` sheet of ``ledger/PERIOD.xlsx``, rewritten by every close of the
period, so re-closing a reopened year-end period replaces the earlier entries; the next
period's opening adds them to the closing balances.  ``retained_earnings_account`` must be
an Equity account of the chart (an error otherwise, and when it is not set).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..core import ERROR, Finding, StepResult, make_lines
from ..context import CloseContext, LedgerState


def close_year(ctx: CloseContext, state: LedgerState) -> StepResult:
    book, per = ctx.book, ctx.period
    dims = book.dims
    if not per.year_end:
        return StepResult(make_lines(dims))
    types = book.account_type()
    bal = state.balances()
    pl = bal[bal["account"].map(types).isin(["Revenue", "Expense"]) &
             ((bal["amount"] != 0) | (bal["amount_acct"] != 0))]
    if ctx.entities:
        pl = pl[pl["entity"].isin(ctx.entities)]
    if not len(pl):
        return StepResult(make_lines(dims))
    re_acct = book.settings.retained_earnings_account
    if not re_acct:
        f, s, _ = book.settings.origin.get("retained_earnings_account", ("", "Settings", 0))
        return StepResult(make_lines(dims), [Finding(
            ERROR, f"{per.name} is the last period of fiscal year {per.fiscal_year}, and no "
            "retained_earnings_account is set to close the income statement into.",
            hint="Add retained_earnings_account (an Equity account) to the Settings sheet.", file=f, sheet="Settings",
            code="no-retained-earnings")])
    if types.get(re_acct) != "Equity":
        why = "is not in the chart of accounts" if re_acct not in types else f"is a {types[re_acct]} account"
        return StepResult(make_lines(dims), [Finding(
            ERROR, f"retained_earnings_account {re_acct} {why}; the year-end close of {per.name} moves the income "
            "statement into it, so it must be an Equity account.", hint="Set retained_earnings_account to the "
            "Equity account that holds retained earnings.", value=re_acct, code="retained-earnings-invalid",
            **book.locate_setting("retained_earnings_account"))])
    pl = pl.sort_values(["entity", "account", *dims, "counterparty", "currency"], kind="stable")
    ent_ccy = book.entity_currency()
    journal = "YE-" + str(per.fiscal_year) + "-" + pl["entity"]
    close_lines = make_lines(dims, journal=journal.to_numpy(), date=per.end, entity=pl["entity"].to_numpy(),
                             account=pl["account"].to_numpy(), currency=pl["currency"].to_numpy(),
                             amount=-pl["amount"].to_numpy(), amount_acct=-pl["amount_acct"].to_numpy(),
                             counterparty=pl["counterparty"].to_numpy(), journal_type="year_end",
                             description="Close " + pl["account"] + " to retained earnings",
                             source=f"year-end close {per.fiscal_year}", **{d: pl[d].to_numpy() for d in dims})
    re = pl.groupby("entity", sort=True)["amount_acct"].sum()
    re_lines = make_lines(dims, journal=("YE-" + str(per.fiscal_year) + "-" + re.index.to_series()).to_numpy(),
                          date=per.end, entity=re.index.to_numpy(), account=re_acct,
                          currency=np.array([ent_ccy[e] for e in re.index], dtype=object),
                          amount=re.to_numpy(), amount_acct=re.to_numpy(), journal_type="year_end",
                          description=f"Profit for fiscal year {per.fiscal_year} to retained earnings",
                          source=f"year-end close {per.fiscal_year}")
    lines = pd.concat([close_lines, re_lines], ignore_index=True)
    lines = lines.sort_values(["journal"], kind="stable").reset_index(drop=True)
    lines["line"] = lines.groupby("journal").cumcount().to_numpy() + 1
    profit = (-re).to_dict()
    return StepResult(lines, figures={"profit_for_year": profit, "closing_lines": len(lines)})
