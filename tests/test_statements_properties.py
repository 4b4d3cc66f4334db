"""Property: on random books over two periods, every statement agrees with the balance sheets.

The random groups of ``test_properties`` (1 to 3 entities in USD, EUR, JPY and KWD, some
owned 80%, random rates, journals with foreign-currency lines and settlements), with the cash
accounts marked, closed for January and then for February (new rates, a capital injection and
a payment per entity) through the pure runner, the second close starting from what the first
carried.  For each close and each unit (entity or group), every check of every statement is
nil, and, computed here from the balances: the cash flow statement's cash at the end is the
balance sheet's cash; the changes in equity close at the balance sheet's total equity; the
comprehensive income's profit is the trial balance's.
"""
from __future__ import annotations

import datetime as dt

import pandas as pd
from hypothesis import HealthCheck, given, settings, strategies as st

import test_properties as tp
from builders import make_book, period
from closebatch import statements
from closebatch.close import History, run_close

ACCOUNTS = [tp.ACCOUNTS[0] + ["cash_flow"]] + [r + [{"1000": "cash", "1010": "cash", "1100": "operating",
                                                       "3000": "financing"}.get(r[0], "")] for r in tp.ACCOUNTS[1:]]
F28 = dt.date(2026, 2, 28)


@st.composite
def two_periods(draw):
    case = draw(tp.cases())
    rows = []
    for a, b, when, r, kind in case.rates:
        if kind in ("closing", "average"):
            rows.append([a, b, pd.Timestamp(F28), float(f"{r * draw(st.floats(0.9, 1.1)):.6g}"), kind])
    case.rates = case.rates + rows
    feb = []
    for k, (e, _, c, _, _) in enumerate(case.entities):
        m = draw(tp.amounts)
        feb += [[f"F{k}", pd.Timestamp(2026, 2, 5), e, "1000", c, tp.dec(m, c), None, None, ""],
                [f"F{k}", pd.Timestamp(2026, 2, 5), e, "3000", c, None, tp.dec(m, c), None, ""]]
        p = draw(tp.amounts)
        feb += [[f"G{k}", pd.Timestamp(2026, 2, 9), e, "6100", c, tp.dec(p, c), None, None, ""],
                [f"G{k}", pd.Timestamp(2026, 2, 9), e, "1000", c, None, tp.dec(p, c), None, ""]]
    case.journals = case.journals + feb
    return case


def _book(case):
    book = make_book([["entity", "name", "currency", "parent", "ownership"]] + case.entities, accounts=ACCOUNTS,
                     opening=[tp.TB] + case.opening, journals=[tp.J] + case.journals, rates=[tp.RATES] + case.rates,
                     historical_rates=[["entity", "account", "rate", "amount_group"]] + case.historical)
    return book


def _check(book, per, result, history):
    assert not result.errors, [f.message for f in result.errors]
    flows = result.carry[statements.FLOWS]
    group = statements.group_balances(result.steps["consolidation"])
    sts, findings = statements.build(book, per, result.balances, group=group, movement=result.lines,
                                     history=history, flows=flows)
    assert not [f for f in findings if f.is_error], [f.message for f in findings if f.is_error]
    kinds = {(s.unit, s.kind) for s in sts}
    units = set(result.balances["entity"]) | ({statements.GROUP} if group is not None else set())
    for u in units:
        for k in statements.KINDS:
            assert (u, k) in kinds, (u, k)
    cash = {"1000", "1010"}
    for s in sts:
        assert all(c.difference == 0 for c in s.checks), (s.unit, s.kind, [c for c in s.checks if c.difference])
        if s.unit == statements.GROUP:
            bal = group.groupby("account")["balance_group"].sum()
        else:
            b = result.balances[result.balances["entity"] == s.unit]
            bal = b.groupby("account")["amount_acct"].sum()
        types = bal.index.map(dict(zip(book.accounts["account"], book.accounts["type"])))
        row = {r.label: r.values for r in s.rows}
        if s.kind == statements.CASH_FLOW:
            assert row["Cash at the end of the period"][0] == int(bal[bal.index.isin(cash)].sum())
            body = [r for r in s.rows if r.kind == "subtotal" and r.label.startswith("Net cash")]
            assert sum(r.values[0] for r in body) + row["Cash at the beginning of the period"][0] + \
                row["Effect of exchange rate changes on cash"][0] == row["Cash at the end of the period"][0]
        elif s.kind == statements.CHANGES_IN_EQUITY:
            closing = [r for r in s.rows if r.kind == "total"][0]
            assert closing.values[-1] == -int(bal[types.isin(["Equity", "Revenue", "Expense"])].sum())
        elif s.kind == statements.COMPREHENSIVE_INCOME:
            pl = types.isin(["Revenue", "Expense"]) & ~((s.unit == statements.GROUP) & (bal.index == "8900"))
            assert row["Profit for the period"][1] == -int(bal[pl].sum())  # year to date


@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=two_periods())
def test_every_statement_agrees_with_the_balance_sheets(case):
    book = _book(case)
    jan, feb = period(book, "2026-01"), period(book, "2026-02")
    first = run_close(book, jan, History(), user="prop")
    _check(book, jan, first, {})
    prev = {"Balances": first.balances, **{f"carry_{k}": v for k, v in first.carry.items()}}
    second = run_close(book, feb, History(previous=prev), user="prop")
    group = first.carry.get("group_balances")
    snap = statements.Snapshot("2026-01", statements.entity_balances(first.balances),
                               group[["account", "balance_group"]] if group is not None else None,
                               first.carry[statements.FLOWS])
    _check(book, feb, second, {"2026-01": snap})
