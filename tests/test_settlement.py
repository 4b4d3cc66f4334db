"""Settlement of open items (books format, section 3 step 4), with hand-computed figures.

Amounts in assertions are minor units (cents).  ``1100`` (receivables) and ``2000``
(payables) are settlement accounts in these books; ``7920``/``7930`` take realized FX
gains/losses.
"""
import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as hs

from builders import ACCOUNTS, make_book, state_for
from hypo import profile
from closebatch.context import LedgerState
from closebatch.core import ERROR, WARNING, balance_key, make_lines
from closebatch.steps.settlement import settle

SETTLE = {"1100", "1500", "2000"}
ACCS = [ACCOUNTS[0]] + [r[:4] + [r[0] in SETTLE] for r in ACCOUNTS[1:]]
DE = [["entity", "name", "currency"], ["DE", "Germany GmbH", "EUR"]]
US = [["entity", "name", "currency"], ["US", "US Inc", "USD"]]
JH = ["journal", "date", "entity", "account", "currency", "debit", "credit", "amount_acct", "reference"]
TB = ["entity", "account", "currency", "balance", "balance_acct", "reference"]


def book(entities, journals=None, opening=None, **settings):
    return make_book(entities, accounts=ACCS, journals=[JH] + journals if journals else None,
                     opening=[TB] + opening if opening else None, settings=settings or None)


def opening_items(b):
    """What the runner passes at the first close: the settle-account lines of the opening."""
    return b.opening[b.opening["account"].isin(SETTLE)].reset_index(drop=True)


def run(b, name="2026-01", open_items=None, carried_lines=None):
    ctx, st = state_for(b, name)
    if carried_lines is not None:  # fold earlier closes' generated lines into the opening
        st = fold(st, carried_lines)
    res = settle(ctx, st, opening_items(b) if open_items is None else open_items)
    check_invariants(st, res)
    return ctx, st, res


def fold(st, lines):
    key = balance_key(st.dims)
    op = pd.concat([st.opening, lines[key + ["amount", "amount_acct"]]], ignore_index=True)
    op = op.groupby(key, as_index=False, sort=True)[["amount", "amount_acct"]].sum()
    return LedgerState(st.dims, op, st.lines, st.carried, st.settle_accounts)


def check_invariants(st, res):
    """Ledger balance of every settle account = carried open items (both currencies);
    trial balance, generated journals and settled groups all net to zero."""
    after = st.add(res.lines)
    bal = after.balances()
    k = ["entity", "account", "currency"]
    ledger = bal[bal["account"].isin(SETTLE)].groupby(k)[["amount", "amount_acct"]].sum()
    carry = res.carry["open_items"].groupby(k)[["amount", "amount_acct"]].sum()
    both = ledger.join(carry.add_suffix("_open"), how="outer").fillna(0)
    assert (both["amount"] == both["amount_open"]).all(), both
    assert (both["amount_acct"] == both["amount_acct_open"]).all(), both
    assert (bal.groupby("entity")["amount_acct"].sum() == 0).all()
    if len(res.lines):
        assert (res.lines.groupby(["journal", "entity"])["amount_acct"].sum() == 0).all()
        assert (res.lines["journal_type"] == "settlement").all()
    s = res.reports["Settled"]
    if len(s):
        assert (s.groupby("settlement_id")[["amount", "amount_acct"]].sum() == 0).all().all()


def settled_ids(res):
    s = res.reports["Settled"]
    return {r: sorted(set(g["settlement_id"])) for r, g in s[s["origin"] != "generated"].groupby("reference")}


def test_reference_group_settles_together_in_local_currency():
    b = book(DE, [
        ["J1", "2026-01-05", "DE", "1100", "EUR", 500, None, None, "INV-1"],
        ["J1", "2026-01-05", "DE", "4000", "EUR", None, 500, None, ""],
        ["J2", "2026-01-20", "DE", "1000", "EUR", 300, None, None, ""],
        ["J2", "2026-01-20", "DE", "1100", "EUR", None, 300, None, "INV-1"],
        ["J3", "2026-01-25", "DE", "1000", "EUR", 200, None, None, ""],
        ["J3", "2026-01-25", "DE", "1100", "EUR", None, 200, None, "INV-1"],
    ])
    _, _, res = run(b)
    s = res.reports["Settled"]
    assert list(s["settlement_id"]) == ["S-2026-01-000001"] * 3
    assert list(s["match"]) == ["reference"] * 3
    assert list(s["amount"]) == [50000, -30000, -20000]
    assert list(s["realized_acct"]) == [0, 0, 0]
    assert len(res.lines) == 0 and len(res.reports["Open"]) == 0 and len(res.carry["open_items"]) == 0
    assert res.findings == []


def test_amount_match_pairs_items_with_different_references():
    b = book(DE, [
        ["J1", "2026-01-04", "DE", "1100", "EUR", 250, None, None, "INV-2"],
        ["J1", "2026-01-04", "DE", "4000", "EUR", None, 250, None, ""],
        ["J2", "2026-01-06", "DE", "1100", "EUR", 70, None, None, "INV-3"],
        ["J2", "2026-01-06", "DE", "4000", "EUR", None, 70, None, ""],
        ["J3", "2026-01-15", "DE", "1000", "EUR", 250, None, None, ""],
        ["J3", "2026-01-15", "DE", "1100", "EUR", None, 250, None, "PAY-9"],
    ])
    _, _, res = run(b)
    s = res.reports["Settled"]
    assert list(s["reference"]) == ["INV-2", "PAY-9"]
    assert list(s["match"]) == ["amount", "amount"]
    assert set(s["settlement_id"]) == {"S-2026-01-000001"}
    o = res.reports["Open"]
    assert list(o["reference"]) == ["INV-3"] and list(o["amount"]) == [7000]
    assert list(o["age_days"]) == [25]  # 31 Jan - 6 Jan
    assert len(res.reports["Unmatched"]) == 0 and res.findings == []  # a lone invoice is just open


def test_amount_match_pairs_oldest_first():
    b = book(DE, [
        ["J1", "2026-01-10", "DE", "1100", "EUR", 100, None, None, "B"],
        ["J1", "2026-01-10", "DE", "4000", "EUR", None, 100, None, ""],
        ["J2", "2026-01-03", "DE", "1100", "EUR", 100, None, None, "A"],
        ["J2", "2026-01-03", "DE", "4000", "EUR", None, 100, None, ""],
        ["J3", "2026-01-20", "DE", "1000", "EUR", 100, None, None, ""],
        ["J3", "2026-01-20", "DE", "1100", "EUR", None, 100, None, "C"],
        # same date: the row listed first goes first
        ["J4", "2026-01-12", "DE", "2000", "EUR", None, 40, None, "X1"],
        ["J4", "2026-01-12", "DE", "2000", "EUR", None, 40, None, "X2"],
        ["J4", "2026-01-12", "DE", "6100", "EUR", 80, None, None, ""],
        ["J5", "2026-01-28", "DE", "2000", "EUR", 40, None, None, ""],
        ["J5", "2026-01-28", "DE", "1000", "EUR", None, 40, None, ""],
    ])
    _, _, res = run(b)
    assert settled_ids(res) == {"A": ["S-2026-01-000001"], "C": ["S-2026-01-000001"],
                                "X1": ["S-2026-01-000002"], "": ["S-2026-01-000002"]}
    o = res.reports["Open"]
    assert list(zip(o["account"], o["reference"], o["amount"], o["age_days"])) == \
        [("1100", "B", 10000, 21), ("2000", "X2", -4000, 19)]


def test_foreign_currency_groups_realize_gain_and_loss():
    b = book(US, [
        ["J1", "2026-01-05", "US", "1100", "EUR", 1000, None, 1100, "INV-G"],
        ["J1", "2026-01-05", "US", "4000", "USD", None, 1100, None, ""],
        ["J2", "2026-01-08", "US", "1100", "EUR", 500, None, 560, "INV-L"],
        ["J2", "2026-01-08", "US", "4000", "USD", None, 560, None, ""],
        ["J3", "2026-01-20", "US", "1010", "EUR", 1000, None, 1120, ""],
        ["J3", "2026-01-20", "US", "1100", "EUR", None, 1000, -1120, "INV-G"],
        ["J4", "2026-01-22", "US", "1010", "EUR", 500, None, 545, ""],
        ["J4", "2026-01-22", "US", "1100", "EUR", None, 500, -545, "INV-L"],
    ])
    _, _, res = run(b)
    ln = res.lines
    assert list(ln["journal"]) == ["SETL-2026-01-US"] * 4
    assert list(ln["line"]) == [1, 2, 3, 4]
    assert list(ln["account"]) == ["1100", "7920", "1100", "7930"]
    assert list(ln["currency"]) == ["EUR", "USD", "EUR", "USD"]
    assert list(ln["amount"]) == [0, -2000, 0, 1500]
    assert list(ln["amount_acct"]) == [2000, -2000, -1500, 1500]
    assert list(ln["reference"]) == ["INV-G", "INV-G", "INV-L", "INV-L"]
    assert list(ln["source"]) == ["settlement S-2026-01-000001"] * 2 + ["settlement S-2026-01-000002"] * 2
    assert (ln["date"] == pd.Timestamp("2026-01-31")).all()
    s = res.reports["Settled"]
    g = s[s["settlement_id"] == "S-2026-01-000001"]
    assert list(g["amount_acct"]) == [110000, -112000, 2000]  # invoice, payment, difference line
    assert list(g["origin"]) == ["period", "period", "generated"]
    assert set(g["realized_acct"]) == {-2000}  # a gain (credit) of 20.00 USD
    assert set(s.loc[s["settlement_id"] == "S-2026-01-000002", "realized_acct"]) == {1500}
    assert res.figures["settled_groups"] == 2 and res.figures["realized_lines"] == 4


def test_opening_item_with_reference_settles_in_january():
    b = book(US, opening=[
        ["US", "1100", "EUR", 200, 230, "OB-7"],
        ["US", "3000", "USD", -230, None, ""],
    ], journals=[
        ["J1", "2026-01-14", "US", "1010", "EUR", 200, None, 210, ""],
        ["J1", "2026-01-14", "US", "1100", "EUR", None, 200, -210, "OB-7"],
    ])
    _, _, res = run(b)
    s = res.reports["Settled"]
    assert list(s["origin"]) == ["carried", "period", "generated"]
    assert s["source"].iloc[0] == "test.xlsx!TrialBalance!2"
    assert list(s["amount_acct"]) == [23000, -21000, -2000]
    assert list(res.lines["account"]) == ["1100", "7930"]  # received less than carried: a loss
    assert list(res.lines["amount_acct"]) == [-2000, 2000]
    assert len(res.carry["open_items"]) == 0


def test_item_open_after_january_is_carried_and_settled_in_february():
    b = book(US, [
        ["J1", "2026-01-10", "US", "1100", "EUR", 300, None, 330, "INV-9"],
        ["J1", "2026-01-10", "US", "4000", "USD", None, 330, None, ""],
        ["J2", "2026-01-11", "US", "1100", "EUR", 50, None, 54, "INV-8"],
        ["J2", "2026-01-11", "US", "4000", "USD", None, 54, None, ""],
        ["J3", "2026-01-25", "US", "1010", "EUR", 50, None, 53, ""],
        ["J3", "2026-01-25", "US", "1100", "EUR", None, 50, -53, "INV-8"],
        ["J4", "2026-02-12", "US", "1010", "EUR", 300, None, 324, ""],
        ["J4", "2026-02-12", "US", "1100", "EUR", None, 300, -324, "INV-9"],
    ])
    _, _, jan = run(b, "2026-01")
    assert list(jan.lines["amount_acct"]) == [-100, 100]  # INV-8: 54 carried, 53 received
    carry = jan.carry["open_items"]
    assert list(zip(carry["reference"], carry["amount"], carry["amount_acct"])) == [("INV-9", 30000, 33000)]
    assert list(jan.reports["Open"]["age_days"]) == [21]

    _, _, feb = run(b, "2026-02", open_items=carry, carried_lines=jan.lines)
    s = feb.reports["Settled"]
    assert set(s["settlement_id"]) == {"S-2026-02-000001"}
    assert list(s["origin"]) == ["carried", "period", "generated"]
    assert list(feb.lines["journal"]) == ["SETL-2026-02-US"] * 2
    assert list(feb.lines["account"]) == ["1100", "7930"]
    assert list(feb.lines["amount_acct"]) == [-600, 600]
    assert len(feb.carry["open_items"]) == 0


def test_reference_group_not_netting_is_listed_and_left_open():
    b = book(DE, [
        ["J1", "2026-01-02", "DE", "1100", "EUR", 1000, None, None, "INV-P"],
        ["J1", "2026-01-02", "DE", "4000", "EUR", None, 1000, None, ""],
        ["J2", "2026-01-15", "DE", "1000", "EUR", 600, None, None, ""],
        ["J2", "2026-01-15", "DE", "1100", "EUR", None, 600, None, "INV-P"],
    ])
    _, _, res = run(b)
    assert len(res.reports["Settled"]) == 0 and len(res.lines) == 0
    assert list(res.reports["Open"]["amount"]) == [100000, -60000]
    u = res.reports["Unmatched"]
    assert list(u["amount"]) == [100000, -60000]
    assert set(u["remaining"]) == {40000}
    [w] = res.findings
    assert w.severity == WARNING and w.value == "INV-P" and w.sheet == "Journals"
    assert "400.00 EUR" in w.message
    assert "test.xlsx!Journals!2" in w.message and "test.xlsx!Journals!5" in w.message


def test_no_partial_settlement_of_a_reference_group():
    # +600 +400 -700 (net +300): no subset settles by reference, and no exact offset exists
    b = book(DE, [
        ["J1", "2026-01-02", "DE", "1100", "EUR", 600, None, None, "INV-Q"],
        ["J1", "2026-01-02", "DE", "1100", "EUR", 400, None, None, "INV-Q"],
        ["J1", "2026-01-02", "DE", "4000", "EUR", None, 1000, None, ""],
        ["J2", "2026-01-15", "DE", "1000", "EUR", 700, None, None, ""],
        ["J2", "2026-01-15", "DE", "1100", "EUR", None, 700, None, "INV-Q"],
    ])
    _, _, res = run(b)
    assert len(res.reports["Settled"]) == 0
    assert list(res.carry["open_items"]["amount"]) == [60000, 40000, -70000]
    assert set(res.reports["Unmatched"]["remaining"]) == {30000}


def test_missing_realized_account_is_an_error_and_the_group_stays_open():
    b = book(US, [
        ["J1", "2026-01-05", "US", "1100", "EUR", 1000, None, 1100, "INV-G"],
        ["J1", "2026-01-05", "US", "4000", "USD", None, 1100, None, ""],
        ["J2", "2026-01-20", "US", "1010", "EUR", 1000, None, 1120, ""],
        ["J2", "2026-01-20", "US", "1100", "EUR", None, 1000, -1120, "INV-G"],
    ], realized_gain_account="")
    _, _, res = run(b)
    [e] = res.findings
    assert e.severity == ERROR and e.sheet == "Settings" and e.column == "value"
    assert "realized_gain_account" in e.message and "-20.00 USD" in e.message
    assert len(res.lines) == 0 and len(res.reports["Settled"]) == 0
    assert len(res.carry["open_items"]) == 2


def test_revaluation_residue_is_realized_with_its_item():
    b = book(US, [["J1", "2026-02-10", "US", "1010", "EUR", 100, None, 104, ""],
                  ["J1", "2026-02-10", "US", "1100", "EUR", None, 100, -104, "PAY-1"]],
             opening=[["US", "1100", "EUR", 100, 107, "INV-R"], ["US", "3000", "USD", -107, None, ""]])
    # carried from January: the invoice (110.00) and its revaluation (-3.00) at 31 January
    carried = make_lines((), journal=["OPENING", "REVAL-2026-01-US"], date=["2026-01-01", "2026-01-31"],
                         entity="US", account="1100", currency="EUR", amount=[10000, 0], amount_acct=[11000, -300],
                         reference="INV-R", journal_type=["opening", "revaluation"])
    _, _, res = run(b, "2026-02", open_items=carried)
    s = res.reports["Settled"]
    assert list(s.drop_duplicates("settlement_id")["match"]) == ["amount", "residual"]
    # amount pair: carried 110.00, received 104.00 -> loss 6.00; residue: revaluation -3.00 -> gain 3.00
    assert list(res.lines["account"]) == ["1100", "7930", "1100", "7920"]
    assert list(res.lines["amount_acct"]) == [-600, 600, 300, -300]
    assert list(res.lines["reference"]) == ["INV-R"] * 4  # the pair takes its oldest item's reference
    assert len(res.carry["open_items"]) == 0


def test_random_book_keeps_the_ledger_equal_to_the_open_items():
    rng = np.random.default_rng(7)
    n = 3000
    amt = rng.choice([100, 250, 999], n) * rng.choice([-1, 1], n)
    rows = [["J%d" % i, f"2026-01-{1 + i % 28:02d}", "US", "1100", "EUR", max(a, 0) or None,
             max(-a, 0) or None, a * (1.1 + (i % 5) / 100), f"R{rng.integers(0, 900)}"] for i, a in enumerate(amt)]
    rows += [["J%d" % i, r[1], "US", "1010", "EUR", r[6], r[5], -r[7], ""] for i, r in enumerate(rows)]
    _, _, res = run(book(US, rows))
    kinds = set(res.reports["Settled"]["match"])
    assert kinds == {"reference", "amount"}
    assert res.figures["settled_items"] + res.figures["open_items"] == n


def test_difference_line_takes_the_oldest_items_dimensions_and_other_entities_wait():
    ents = [["entity", "name", "currency"], ["US", "US Inc", "USD"], ["CA", "Canada Inc", "CAD"]]
    h = JH + ["department"]
    b = make_book(ents, accounts=ACCS, settings={"dimensions": ("department",)}, journals=[h,
        ["J1", "2026-01-03", "US", "1100", "EUR", 100, None, 110, "X", "SALES"],
        ["J1", "2026-01-03", "US", "4000", "USD", None, 110, None, "", "SALES"],
        ["J2", "2026-01-09", "US", "1010", "EUR", 100, None, 107, "", ""],
        ["J2", "2026-01-09", "US", "1100", "EUR", None, 100, -107, "X", ""],
        ["J3", "2026-01-03", "CA", "1100", "CAD", 100, None, None, "X", ""],
        ["J3", "2026-01-03", "CA", "4000", "CAD", None, 100, None, "", ""],
        ["J4", "2026-01-09", "CA", "1000", "CAD", 100, None, None, "", ""],
        ["J4", "2026-01-09", "CA", "1100", "CAD", None, 100, None, "X", ""]])
    ctx, st = state_for(b, "2026-01")
    ctx.entities = ("US",)  # closing US only: CA's items are carried untouched
    res = settle(ctx, st, opening_items(b))
    check_invariants(st, res)
    assert list(zip(res.lines["account"], res.lines["department"], res.lines["amount_acct"])) == \
        [("1100", "SALES", -300), ("7930", "SALES", 300)]
    assert set(res.reports["Settled"]["entity"]) == {"US"}
    assert list(res.carry["open_items"]["entity"]) == ["CA", "CA"]


def _groups_by_sorting(items, gid, kind):
    """The settled groups as pandas finds them by sorting the whole frame (what
    ``settlement._groups`` computed before it worked on positions)."""
    mask = gid >= 0
    s = items[mask].assign(_gid=gid[mask], _kind=kind[mask]).sort_values(["_gid", "date", "_pos"], kind="stable")
    head = s.drop_duplicates("_gid").set_index("_gid")
    diff = s.groupby("_gid")["amount_acct"].sum()
    with_ref = s[s["reference"] != ""].drop_duplicates("_gid").set_index("_gid")["reference"]
    g = head.drop(columns=["amount", "amount_acct", "reference"])
    g["reference"] = with_ref.reindex(g.index).fillna("").astype(str)
    g["diff"] = diff.reindex(g.index).astype("int64")
    g["blocked"] = False
    return g


@profile(200, 2000)
@given(hs.lists(hs.tuples(hs.integers(-1, 6), hs.integers(0, 3), hs.sampled_from(["", "", "INV-1", "INV-2"]),
                          hs.integers(-10_000, 10_000)), max_size=40))
def test_settled_groups_are_those_of_sorting_every_item(rows):
    """Each settled group's first item (oldest, then first listed), its reference (its own or
    its oldest item's that has one), and its difference, found on positions, are what sorting
    every settled item finds (random groups, dates with ties, blank references)."""
    from closebatch.steps import settlement

    n = len(rows)
    items = pd.DataFrame({
        "entity": "DE", "account": "1100", "currency": "EUR",
        "reference": pd.Series([r[2] for r in rows], dtype="str"),
        "date": pd.to_datetime([f"2026-01-{1 + r[1]:02d}" for r in rows]).astype("datetime64[ns]"),
        "amount": np.array([r[3] for r in rows], dtype="int64"),
        "amount_acct": np.array([2 * r[3] for r in rows], dtype="int64"),
        "_pos": np.arange(n, dtype="int64")})
    gid = np.array([r[0] for r in rows], dtype="int64")
    kind = np.array(["reference" if r[0] % 2 else "amount" for r in rows], dtype=object)
    got, want = settlement._groups(items, gid, kind), _groups_by_sorting(items, gid, kind)
    pd.testing.assert_frame_equal(got, want, check_index_type=len(want) > 0)
