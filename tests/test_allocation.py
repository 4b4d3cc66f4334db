"""Close step 6, allocations: every method and basis, steps, rounding and each error.

Amounts below are integer minor units (cents; yen for JPY), computed by hand.
"""
from __future__ import annotations

import pandas as pd
import pytest

from builders import make_book, state_for
from closebatch.core import ERROR, line_columns
from closebatch.steps.allocation import allocate, parse_accounts

D = pd.Timestamp
ENT = [["entity", "name", "currency"], ["US1", "US One", "USD"]]
TWO = [["entity", "name", "currency", "parent", "ownership"], ["US1", "US One", "USD", None, None],
       ["JP1", "Japan", "JPY", "US1", 1.0]]
HDR = ["rule", "step", "entity", "source_account", "department", "method", "basis", "destination_account",
       "to_department", "value", "offset_account"]
J = ["journal", "date", "entity", "account", "department", "currency", "debit", "credit"]
STATS = [["name", "entity", "period", "department", "value"]]


def R(rule, src, method, dest, to=None, value=None, step=1, entity="US1", dept="ADMIN", basis=None, offset=None):
    return [rule, step, entity, src, dept, method, basis, dest, to, value, offset]


def post(*items, entity="US1", currency="USD", day=5):
    """Journals rows: each (account, department, amount) against cash 1000."""
    rows = []
    for n, (account, dept, amount) in enumerate(items):
        j = f"J{entity}{n}"
        rows.append([j, D(2026, 1, day), entity, account, dept, currency, amount if amount > 0 else None,
                     -amount if amount < 0 else None])
        rows.append([j, D(2026, 1, day), entity, "1000", None, currency, -amount if amount < 0 else None,
                     amount if amount > 0 else None])
    return rows


def run(rules, journals, statistics=None, entities=ENT, closing=(), opening=None):
    book = make_book(entities, settings={"dimensions": ["department"]}, journals=[J, *journals],
                     allocations=[HDR, *rules], statistics=statistics or STATS, opening=opening)
    ctx, state = state_for(book, "2026-01")
    ctx.entities = tuple(closing)
    res = allocate(ctx, state)
    return res, state


def tb(res, state):
    """Closing balances (amount_acct) by (entity, account, department), zeros dropped."""
    b = state.add(res.lines).balances()
    b = b[b["amount_acct"] != 0]
    return {(e, a, d): int(v) for e, a, d, v in zip(b["entity"], b["account"], b["department"], b["amount_acct"])}


def balanced(res):
    lines = res.lines
    assert list(lines.columns) == line_columns(("department",))
    assert (lines["journal_type"] == "allocation").all()
    assert lines["journal"].str.startswith("ALLOC-").all()
    assert (lines.groupby(["journal", "entity"])["amount_acct"].sum() == 0).all()
    assert (lines["amount_acct"] != 0).all()
    assert lines.groupby("journal")["line"].apply(lambda s: list(s) == list(range(1, len(s) + 1))).all()


def dest(res, rule=None):
    """{(account, department): amount} of the destination lines (of one rule)."""
    rep = res.reports["Lines"]
    rep = rep[rep["kind"] == "destination"]
    if rule:
        rep = rep[rep["rule"] == rule]
    return {(a, d): int(v) for a, d, v in zip(rep["destination_account"], rep["to_department"], rep["amount"])}


def only(res, code):
    errs = [f for f in res.findings if f.code == code]
    assert len(errs) == 1, res.findings
    f = errs[0]
    assert f.severity == ERROR and f.file == "test.xlsx" and f.sheet == "allocations"
    return f


# --------------------------------------------------------------------------- the public case

def test_public_case_rent_by_headcount_and_it_equally():
    rules = [R("RENT", "6100", "basis", "6100", "SALES", basis="headcount"),
             R("RENT", "6100", "basis", "6100", "PROD", basis="headcount"),
             R("IT", "6200", "equal", "6200", "SALES"),
             R("IT", "6200", "equal", "6200", "PROD"),
             R("IT", "6200", "equal", "6200", "ADMIN")]
    stats = [["name", "entity", "department", "value"], ["headcount", "US1", "SALES", 6],
             ["headcount", "US1", "PROD", 3]]
    opening = [["entity", "account", "department", "currency", "balance"],
               ["US1", "1000", None, "USD", 20000], ["US1", "3000", None, "USD", -20000]]
    res, state = run(rules, post(("6100", "ADMIN", 9000), ("6200", "ADMIN", 100)), stats, opening=opening)
    assert res.findings == []
    balanced(res)
    t = tb(res, state)
    assert t[("US1", "6100", "SALES")] == 600000 and t[("US1", "6100", "PROD")] == 300000
    assert ("US1", "6100", "ADMIN") not in t
    assert (t[("US1", "6200", "SALES")], t[("US1", "6200", "PROD")], t[("US1", "6200", "ADMIN")]) == (3334, 3333, 3333)
    rent = res.lines[res.lines["journal"] == "ALLOC-RENT-2026-01"]
    assert list(rent["account"] + " " + rent["department"]) == ["6100 SALES", "6100 PROD", "6100 ADMIN"]
    assert list(rent["amount_acct"]) == [600000, 300000, -900000]
    assert (rent["description"] == "Allocation RENT step 1: 6100 ADMIN 9000.00 by headcount").all()
    assert (rent["source"] == "allocation rule RENT (test.xlsx!allocations!2-3)").all()
    assert (rent["date"] == D(2026, 1, 31)).all() and (rent["currency"] == "USD").all()
    it = res.lines[res.lines["journal"] == "ALLOC-IT-2026-01"]
    assert list(it["amount_acct"]) == [3334, 3333, 3333, -10000]
    assert it["description"].iloc[0] == "Allocation IT step 1: 6200 ADMIN 100.00 equally"
    rep = res.reports["Lines"]
    assert len(rep) == 7
    r0 = rep.iloc[0]
    assert (r0["rule"], r0["step"], r0["entity"], r0["source_account"], r0["department"], r0["source_amount"],
            r0["destination_account"], r0["to_department"], r0["basis_value"], r0["amount"], r0["currency"]) == \
        ("RENT", 1, "US1", "6100", "ADMIN", 900000, "6100", "SALES", 6.0, 600000, "USD")
    assert r0["share"] == pytest.approx(2 / 3)
    assert list(rep["kind"]) == ["destination", "destination", "offset"] * 1 + ["destination"] * 3 + ["offset"]
    summary = res.reports["Summary"].set_index("rule")
    assert summary.loc["RENT", "source_amount"] == summary.loc["RENT", "allocated_amount"] == 900000
    assert summary.loc["IT", "source_amount"] == summary.loc["IT", "allocated_amount"] == 10000
    assert res.figures == {"rules": 2, "lines": 7}


# --------------------------------------------------------------------------- methods

def test_fixed_percent():
    rules = [R("P", "6100", "fixed_percent", "6100", "SALES", 50),
             R("P", "6100", "fixed_percent", "6100", "PROD", 30),
             R("P", "6100", "fixed_percent", "5000", None, 20)]
    res, state = run(rules, post(("6100", "ADMIN", 1000)))
    assert res.findings == []
    balanced(res)
    assert dest(res) == {("6100", "SALES"): 50000, ("6100", "PROD"): 30000, ("5000", "ADMIN"): 20000}
    assert tb(res, state)[("US1", "5000", "ADMIN")] == 20000  # a blank to_department keeps ADMIN


def test_fixed_percent_typed_as_excel_percent_cells():
    rules = [R("P", "6100", "fixed_percent", "6100", "SALES", 0.6),
             R("P", "6100", "fixed_percent", "6100", "PROD", "40%")]  # text "40%" is 40, not 0.4
    res, _ = run(rules, post(("6100", "ADMIN", 1000)))
    assert [f.code for f in res.findings] == ["allocation-percent-total"]  # 0.6 + 40 is neither 1 nor 100
    rules = [R("P", "6100", "fixed_percent", "6100", "SALES", 0.6),
             R("P", "6100", "fixed_percent", "6100", "PROD", 0.4)]
    res, _ = run(rules, post(("6100", "ADMIN", 1000)))
    assert res.findings == []
    assert dest(res) == {("6100", "SALES"): 60000, ("6100", "PROD"): 40000}


def test_fixed_weight_rounds_half_away_from_zero():
    # 100.01 × 2/4 = 50.005 -> 50.01; × 1/4 = 25.0025 -> 25.00 twice; total 100.01, no remainder
    rules = [R("W", "6100", "fixed_weight", "6100", "SALES", 2),
             R("W", "6100", "fixed_weight", "6100", "PROD", 1),
             R("W", "6100", "fixed_weight", "6100", "ADMIN", 1)]
    res, _ = run(rules, post(("6100", "ADMIN", 100.01)))
    assert res.findings == []
    balanced(res)
    assert dest(res) == {("6100", "SALES"): 5001, ("6100", "PROD"): 2500, ("6100", "ADMIN"): 2500}


def test_exact_ties_are_not_lost_to_binary_floats():
    # 0.03 by weights 0.2, 0.7, 3.3 (total 4.2): exactly 1/7, 1/2 and 33/14 of a cent -> 0, 1, 2 (the
    # half rounds away from zero), total 3, no remainder.  In floats 3 × 0.7 ÷ 4.2 is 0.4999…, which
    # would round to 0 and push the cent onto the largest line (0, 0, 3).  Zero lines are not generated.
    rules = [R("W", "6100", "fixed_weight", "6100", "SALES", 0.2),
             R("W", "6100", "fixed_weight", "6100", "PROD", 0.7),
             R("W", "6100", "fixed_weight", "6100", "ADMIN", 3.3)]
    res, _ = run(rules, post(("6100", "ADMIN", 0.03)))
    assert res.findings == []
    assert dest(res) == {("6100", "PROD"): 1, ("6100", "ADMIN"): 2}
    balanced(res)


def test_basis_statistic_prefers_the_most_specific_row():
    stats = STATS + [["headcount", None, None, "SALES", 1],          # any entity: less specific
                     ["headcount", "US1", None, "SALES", 6],         # this one
                     ["Headcount", None, "2026-01", "PROD", 3],      # names match case-insensitively
                     ["headcount", "US1", "2026-02", "PROD", 100],   # another period
                     ["headcount", "US1", None, None, 50]]           # no department: not PROD's
    rules = [R("H", "6100", "basis", "6100", "SALES", basis="headcount"),
             R("H", "6100", "basis", "6100", "PROD", basis="headcount")]
    res, _ = run(rules, post(("6100", "ADMIN", 900)), stats)
    assert res.findings == []
    assert dest(res) == {("6100", "SALES"): 60000, ("6100", "PROD"): 30000}
    rep = res.reports["Lines"]
    assert list(rep["basis_value"].iloc[:2]) == [6.0, 3.0]


def test_basis_ledger_uses_balances_of_the_destinations():
    # revenue (credit) SALES 300, PROD 100: rent 1000 goes 3:1; the basis sign cancels out
    rules = [R("L", "6100", "basis", "6100", "SALES", basis="ledger:4000-4999"),
             R("L", "6100", "basis", "6100", "PROD", basis="ledger:4000-4999")]
    res, _ = run(rules, post(("6100", "ADMIN", 1000), ("4000", "SALES", -300), ("4000", "PROD", -100)))
    assert res.findings == []
    balanced(res)
    assert dest(res) == {("6100", "SALES"): 75000, ("6100", "PROD"): 25000}
    rep = res.reports["Lines"]
    assert list(rep["basis_value"].iloc[:2]) == [-300.0, -100.0]
    assert list(rep["share"].iloc[:2]) == [0.75, 0.25]


def test_range_and_list_sources_allocate_each_balance_separately():
    journals = post(("6100", "ADMIN", 90), ("6200", "ADMIN", 30), ("5000", "ADMIN", 12), ("6100", "SALES", 999))
    for spec in ("6000-6999", "6100, 6200", "6200;6100-6100"):
        rules = [R("G", spec, "fixed_percent", "6100", "PROD", 100)]
        res, state = run(rules, journals)
        assert res.findings == [], spec
        balanced(res)
        src = res.reports["Lines"]
        assert list(src.loc[src["kind"] == "offset", "source_account"]) == ["6100", "6200"]
        t = tb(res, state)
        assert t[("US1", "6100", "PROD")] == 12000
        assert ("US1", "6200", "ADMIN") not in t and t[("US1", "5000", "ADMIN")] == 1200
        assert t[("US1", "6100", "SALES")] == 99900  # another department: not selected
    assert parse_accounts("5000, 6000-6199", ["1000", "5000", "6100", "6200"]) == (["5000", "6100"], [])
    assert parse_accounts("7000-7999, 12", ["1000", "6100"]) == ([], ["7000-7999", "12"])


def test_negative_source_and_remainder_to_the_first_row_on_ties():
    # a credit of 100.00 equally over 3: -33.33 each, remainder -0.01 on the first row
    rules = [R("C", "6100", "equal", "6100", t) for t in ("SALES", "PROD", "ADMIN")]
    res, state = run(rules, post(("6100", "ADMIN", -100)))
    balanced(res)
    assert dest(res) == {("6100", "SALES"): -3334, ("6100", "PROD"): -3333, ("6100", "ADMIN"): -3333}
    assert res.lines["amount_acct"].iloc[-1] == 10000


def test_remainder_goes_to_the_largest_line():
    # 1.00 by 1:1:4 -> 0.1667, 0.1667, 0.6667 -> 17, 17, 67 (sum 101): -1 on the largest, 66
    rules = [R("W", "6100", "fixed_weight", "6100", t, v) for t, v in (("SALES", 1), ("PROD", 1), ("ADMIN", 4))]
    res, _ = run(rules, post(("6100", "ADMIN", 1)))
    balanced(res)
    assert dest(res) == {("6100", "SALES"): 17, ("6100", "PROD"): 17, ("6100", "ADMIN"): 66}


def test_multi_step_chain_sees_earlier_steps():
    # listed first, but runs second: PRD allocates 6100 PROD, which includes what ADM posts in step 1
    rules = [R("PRD", "6100", "fixed_percent", "5000", None, 100, step=2.0, dept="PROD"),
             R("ADM", "6100", "fixed_weight", "6100", "PROD", 2, step=1),
             R("ADM", "6100", "fixed_weight", "6100", "SALES", 1, step=None)]
    res, state = run(rules, post(("6100", "ADMIN", 900), ("6100", "PROD", 300)))
    assert res.findings == []
    balanced(res)
    assert dest(res, "ADM") == {("6100", "PROD"): 60000, ("6100", "SALES"): 30000}
    assert dest(res, "PRD") == {("5000", "PROD"): 90000}
    t = tb(res, state)
    assert t[("US1", "5000", "PROD")] == 90000 and t[("US1", "6100", "SALES")] == 30000
    assert ("US1", "6100", "PROD") not in t and ("US1", "6100", "ADMIN") not in t
    assert list(res.lines["journal"].unique()) == ["ALLOC-ADM-2026-01", "ALLOC-PRD-2026-01"]
    assert res.lines["description"].iloc[-1] == "Allocation PRD step 2: 6100 PROD 900.00 by fixed percent"


def test_a_source_without_movement_posts_nothing():
    opening = [["entity", "account", "department", "currency", "balance"],
               ["US1", "6100", "ADMIN", "USD", 500], ["US1", "3000", None, "USD", -500]]
    journals = post(("6200", "ADMIN", 40), ("6200", "ADMIN", -40))  # nets to zero in the period
    rules = [R("A", "6100", "equal", "6100", "SALES"), R("B", "6200", "equal", "6200", "SALES")]
    res, _ = run(rules, journals, opening=opening)
    assert res.findings == [] and len(res.lines) == 0 and len(res.reports["Lines"]) == 0
    assert res.figures == {"rules": 2, "lines": 0}


def test_offset_account():
    rules = [R("O", "6100", "equal", "6100", "SALES", offset="6200"),
             R("O", "6100", "equal", "6100", "PROD")]
    res, state = run(rules, post(("6100", "ADMIN", 90)))
    assert res.findings == []
    balanced(res)
    t = tb(res, state)
    assert t[("US1", "6100", "ADMIN")] == 9000  # the source stays
    assert t[("US1", "6200", "ADMIN")] == -9000  # credited on the offset account, source dims
    assert (t[("US1", "6100", "SALES")], t[("US1", "6100", "PROD")]) == (4500, 4500)


def test_blank_entity_runs_for_every_entity_in_its_currency_or_the_closed_ones():
    journals = post(("6100", "ADMIN", 90)) + post(("6100", "ADMIN", 1000), entity="JP1", currency="JPY")
    rules = [R("E", "6100", "equal", "6100", t, entity=None) for t in ("SALES", "PROD", "ADMIN")]
    res, state = run(rules, journals, entities=TWO)
    assert res.findings == []
    balanced(res)
    t = tb(res, state)
    assert [t[("JP1", "6100", d)] for d in ("SALES", "PROD", "ADMIN")] == [334, 333, 333]  # yen: no decimals
    assert [t[("US1", "6100", d)] for d in ("SALES", "PROD", "ADMIN")] == [3000, 3000, 3000]
    jp = res.lines[res.lines["entity"] == "JP1"]
    assert (jp["currency"] == "JPY").all() and jp["description"].iloc[0].endswith("6100 ADMIN 1000 equally")
    s = res.reports["Summary"]
    assert list(zip(s["entity"], s["currency"], s["source_amount"])) == [("JP1", "JPY", 1000), ("US1", "USD", 9000)]
    res, _ = run(rules, journals, entities=TWO, closing=("JP1",))
    assert set(res.lines["entity"]) == {"JP1"}


def test_foreign_currency_source_is_allocated_in_accounting_currency():
    journals = [["JF", D(2026, 1, 5), "US1", "6100", "ADMIN", "EUR", 100, None, 110],
                ["JF", D(2026, 1, 5), "US1", "1010", None, "EUR", None, 100, -110]]
    book = make_book(ENT, settings={"dimensions": ["department"]}, journals=[J + ["amount_acct"], *journals],
                     allocations=[HDR, R("F", "6100", "equal", "6100", "SALES"), R("F", "6100", "equal", "6100", "PROD")],
                     statistics=STATS)
    ctx, state = state_for(book, "2026-01")
    res = allocate(ctx, state)
    balanced(res)
    assert list(zip(res.lines["currency"], res.lines["amount"], res.lines["amount_acct"])) == \
        [("USD", 5500, 5500), ("USD", 5500, 5500), ("EUR", -10000, -11000)]
    b = state.add(res.lines).balances()
    assert (b.loc[(b["account"] == "6100") & (b["department"] == "ADMIN"), ["amount", "amount_acct"]] == 0).all().all()


# --------------------------------------------------------------------------- errors

def test_unknown_accounts():
    rules = [R("A", "6999", "equal", "6100", "SALES"), R("A", "6999", "equal", "6100", "PROD")]
    res, _ = run(rules, post(("6100", "ADMIN", 90)))
    f = only(res, "allocation-unknown-account")
    assert (f.cell, f.column, f.value) == ("row 2", "source_account", "6999") and "6999" in f.message
    assert len(res.lines) == 0

    rules = [R("A", "6100", "equal", "6100", "SALES"), R("A", "6100", "equal", "6150", "PROD")]
    res, _ = run(rules, post(("6100", "ADMIN", 90)))
    f = only(res, "allocation-unknown-account")
    assert (f.cell, f.column) == ("row 3", "destination_account") and "6150" in f.message
    assert len(res.lines) == 0

    rules = [R("A", "6100", "equal", "6100", "SALES"), R("A", "6100", "equal", "6100", "PROD", offset="6101")]
    res, _ = run(rules, post(("6100", "ADMIN", 90)))
    f = only(res, "allocation-unknown-account")
    assert (f.cell, f.column) == ("row 3", "offset_account") and "6101" in f.message

    rules = [R("A", "6100", "basis", "6100", "SALES", basis="ledger:4500-4999")]
    res, _ = run(rules, post(("6100", "ADMIN", 90)))
    assert (only(res, "allocation-unknown-account").column) == "basis"


def test_unknown_statistic_name():
    rules = [R("H", "6100", "basis", "6100", "SALES", basis="floor_area"),
             R("H", "6100", "basis", "6100", "PROD", basis="floor_area")]
    res, _ = run(rules, post(("6100", "ADMIN", 90)), STATS + [["headcount", None, None, "SALES", 1]])
    f = only(res, "allocation-unknown-statistic")
    assert (f.cell, f.column) == ("row 2", "basis") and "floor_area" in f.message
    assert len(res.lines) == 0


def test_missing_statistic_for_a_destination_names_it_and_its_dimensions():
    rules = [R("H", "6100", "basis", "6100", "SALES", basis="headcount"),
             R("H", "6100", "basis", "6100", "PROD", basis="headcount")]
    stats = STATS + [["headcount", "US1", None, "SALES", 4], ["headcount", "US1", "2026-02", "PROD", 4]]
    res, _ = run(rules, post(("6100", "ADMIN", 90)), stats)
    f = only(res, "allocation-missing-statistic")
    assert (f.cell, f.column) == ("row 3", "basis")
    assert "'headcount'" in f.message and "US1" in f.message and "department PROD" in f.message
    assert len(res.lines) == 0


def test_basis_summing_to_zero():
    rules = [R("Z", "6100", "basis", "6100", "SALES", basis="headcount"),
             R("Z", "6100", "basis", "6100", "PROD", basis="headcount")]
    stats = STATS + [["headcount", None, None, "SALES", 0], ["headcount", None, None, "PROD", 0]]
    res, _ = run(rules, post(("6100", "ADMIN", 90)), stats)
    f = only(res, "allocation-zero-basis")
    assert (f.cell, f.column) == ("row 2", "basis") and "Rule Z" in f.message
    assert len(res.lines) == 0
    # a ledger basis with no balances on the destinations
    rules = [R("Z", "6100", "basis", "6100", "SALES", basis="ledger:4000")]
    res, _ = run(rules, post(("6100", "ADMIN", 90)))
    assert only(res, "allocation-zero-basis").cell == "row 2"


def test_fixed_percent_not_totalling_100_names_the_rows():
    rules = [R("P", "6100", "fixed_percent", "6100", "SALES", 60),
             R("P", "6100", "fixed_percent", "6100", "PROD", 30)]
    res, _ = run(rules, post(("6100", "ADMIN", 90)))
    f = only(res, "allocation-percent-total")
    assert (f.cell, f.column) == ("row 2", "value")
    assert "rows 2-3" in f.message and "90" in f.message
    assert len(res.lines) == 0


def test_unknown_method():
    rules = [R("M", "6100", "pro_rata", "6100", "SALES")]
    res, _ = run(rules, post(("6100", "ADMIN", 90)))
    f = only(res, "allocation-unknown-method")
    assert (f.cell, f.column, f.value) == ("row 2", "method", "pro_rata")
    assert len(res.lines) == 0


def test_cycle_within_a_step_and_none_across_steps():
    rules = [R("A", "6100", "equal", "6200", "SALES"),
             R("A", "6100", "equal", "6200", "PROD"),
             R("B", "6200", "equal", "5000", None, dept="SALES")]
    res, _ = run(rules, post(("6100", "ADMIN", 90), ("6200", "SALES", 10)))
    f = only(res, "allocation-cycle")
    assert (f.cell, f.column) == ("row 2", "destination_account")
    assert "Rule A" in f.message and "rule B" in f.message and "6200 SALES" in f.message
    assert set(res.lines["journal"]) == {"ALLOC-B-2026-01"}  # B still runs
    rules[2][1] = 2
    res, state = run(rules, post(("6100", "ADMIN", 90), ("6200", "SALES", 10)))
    assert res.findings == []
    assert tb(res, state)[("US1", "5000", "SALES")] == 5500  # 10 + 45 from step 1


def test_overlapping_sources_in_one_step_are_allocated_once():
    rules = [R("A", "6100", "equal", "5000", "SALES"), R("B", "6000-6999", "equal", "5000", "PROD", dept=None)]
    res, state = run(rules, post(("6100", "ADMIN", 90), ("6200", "SALES", 10)))
    f = only(res, "allocation-overlap")
    assert f.cell == "row 3" and "rule A" in f.message and "US1 6100 ADMIN" in f.message
    balanced(res)
    t = tb(res, state)
    assert (t[("US1", "5000", "SALES")], t[("US1", "5000", "PROD")]) == (9000, 1000)


def test_inconsistent_rule_columns_and_odd_cells_do_not_crash():
    rules = [R("A", "6100", "equal", "6100", "SALES"), R("A", "6200", "equal", "6100", "PROD")]
    res, _ = run(rules, post(("6100", "ADMIN", 90)))
    f = only(res, "allocation-inconsistent-rule")
    assert (f.cell, f.column) == ("row 3", "source_account")
    rules = [R("S", "6100", "equal", "6100", "SALES", step="x"),
             R("V", 6100.0, "fixed_weight", "6100", "SALES", "abc", step=2, dept=float("nan")),
             R(None, "6100", "equal", "6100", "SALES"),
             R("N", None, None, None)]
    res, _ = run(rules, post(("6100", "ADMIN", 90)))
    codes = sorted(f.code for f in res.findings)
    assert codes == ["allocation-bad-step", "allocation-bad-value", "allocation-missing-account",
                     "allocation-missing-rule", "allocation-unknown-account", "allocation-unknown-method"]
    assert len(res.lines) == 0


def test_no_allocations_sheet():
    book = make_book(ENT, settings={"dimensions": ["department"]}, journals=[J, *post(("6100", "ADMIN", 9))])
    ctx, state = state_for(book, "2026-01")
    res = allocate(ctx, state)
    assert len(res.lines) == 0 and res.findings == [] and res.figures == {"rules": 0, "lines": 0}
    assert list(res.reports) == ["Lines", "Summary"]
