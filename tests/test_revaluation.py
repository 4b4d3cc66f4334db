"""Close step 5, foreign-currency revaluation: small books, hand-computed figures.

Amounts in expectations are integer minor units (cents, yen, fils) of the currency named.
"""
from dataclasses import replace

import pandas as pd
import pytest

from builders import ACCOUNTS, make_book, state_for
from closebatch.context import LedgerState
from closebatch.core import ERROR, WARNING, concat_lines
from closebatch.steps.revaluation import revalue

RATES = ["from", "to", "date", "rate", "type"]
TB = ["entity", "account", "currency", "balance", "balance_acct"]
US1 = [["entity", "name", "currency"], ["US1", "US Inc", "USD"]]


def close(book, name, **ctx_changes):
    ctx, state = state_for(book, name)
    ctx = replace(ctx, **ctx_changes) if ctx_changes else ctx
    result = revalue(ctx, state)
    assert_sound(ctx, state, result)
    return ctx, state, result


def next_close(book, prev_ctx, prev_state, prev_result, name):
    """Close ``name`` on the ledger left by the previous close: its generated lines dated in
    its period are folded into the opening balances, later ones (reversals) are posted in
    this period."""
    end = prev_ctx.period.end
    gen = prev_result.lines
    opening = prev_state.add(gen[gen["date"] <= end]).balances()
    ctx, fresh = state_for(book, name)
    lines = concat_lines([gen[gen["date"] > end], fresh.lines], book.dims).reset_index(drop=True)
    state = LedgerState(book.dims, opening, lines, {}, fresh.settle_accounts)
    result = revalue(ctx, state)
    assert_sound(ctx, state, result)
    return ctx, state, result


def assert_sound(ctx, state, result):
    """Invariants every revaluation result must keep."""
    lines = result.lines
    assert lines["amount"].dtype == "int64" and lines["amount_acct"].dtype == "int64"
    assert set(lines["journal_type"]) <= {"revaluation", "reversal"}
    # every generated journal balances exactly per entity in accounting currency
    assert (lines.groupby(["journal", "entity"])["amount_acct"].sum() == 0).all()
    for _, g in lines.groupby("journal"):
        assert list(g["line"]) == list(range(1, len(g) + 1))
        assert g["entity"].nunique() == 1
    rev = lines[lines["journal_type"] == "revaluation"]
    assert (rev["date"] == ctx.period.end).all()
    assert rev["journal"].str.match(rf"^REV-{ctx.period.name}-").all()
    cur = ctx.book.entity_currency()
    acct_ccy = rev["entity"].map(cur)
    on_balance = rev["currency"] != acct_ccy
    assert (rev.loc[on_balance, "amount"] == 0).all()
    offset = rev[~on_balance]
    assert (offset["amount"] == offset["amount_acct"]).all()
    assert (offset["counterparty"] == "").all() and (offset["reference"] == "").all()
    # the trial balance still sums to zero per entity
    tb = state.add(lines).balances()
    assert (tb.groupby("entity")["amount_acct"].sum() == 0).all()
    tb = state.add(lines[lines["date"] <= ctx.period.end]).balances()
    assert (tb.groupby("entity")["amount_acct"].sum() == 0).all()


def rows(lines, *extra):
    cols = ["journal", "line", "entity", "account", *extra, "currency", "amount", "amount_acct",
            "counterparty", "reference"]
    return [tuple(r) for r in lines[cols].itertuples(index=False)]


def balance_acct(result_state_lines, state, account, entity="US1"):
    tb = state.add(result_state_lines).balances()
    return int(tb.loc[(tb["entity"] == entity) & (tb["account"] == account), "amount_acct"].sum())


# --------------------------------------------------------------------------- acceptance case

def acceptance_book(**settings):
    return make_book(
        US1, settings=settings,
        opening=[TB, ["US1", "1010", "EUR", 500, 1000], ["US1", "1100", "GBP", 200, 250],
                 ["US1", "3000", "USD", -1250, None]],
        rates=[RATES, ["EUR", "USD", "2026-01-31", 1.666667, "closing"],
               ["GBP", "USD", "2026-01-31", 1.30, "closing"],
               ["EUR", "USD", "2026-02-28", 2.5, "closing"],
               ["GBP", "USD", "2026-02-28", 1.20, "closing"]])


def test_acceptance_january():
    ctx, state, result = close(acceptance_book(), "2026-01")
    assert rows(result.lines) == [
        ("REV-2026-01-US1", 1, "US1", "1010", "EUR", 0, -16667, "", ""),  # 500 × 1.666667 = 833.33
        ("REV-2026-01-US1", 2, "US1", "7910", "USD", 16667, 16667, "", ""),
        ("REV-2026-01-US1", 3, "US1", "1100", "GBP", 0, 1000, "", ""),  # 200 × 1.30 = 260.00
        ("REV-2026-01-US1", 4, "US1", "7900", "USD", -1000, -1000, "", ""),
    ]
    assert (result.lines["date"] == pd.Timestamp("2026-01-31")).all()
    assert set(result.lines["journal_type"]) == {"revaluation"}
    assert result.lines["description"].iloc[0] == "Revaluation of EUR 500.00 at 1.666667 (closing)"
    assert result.lines["source"].iloc[0] == "revaluation: rate test.xlsx!Rates!2"
    assert result.lines["source"].iloc[3] == "revaluation: rate test.xlsx!Rates!3"
    assert result.findings == []

    rep = result.reports["Revaluation"]
    assert list(rep.columns) == ["entity", "account", "counterparty", "reference", "currency", "entity_currency",
                                 "balance", "balance_acct", "rate", "rate_type", "inverse", "rate_date",
                                 "rate_source", "revalued_acct", "adjustment", "posted", "rate_applied",
                                 "rate_text", "rate_quoted", "result", "account_posted"]
    assert rep[["account", "balance", "balance_acct", "revalued_acct", "adjustment"]].values.tolist() == [
        ["1010", 50000, 100000, 83333, -16667], ["1100", 20000, 25000, 26000, 1000]]
    assert rep["rate"].tolist() == [1.666667, 1.30]
    assert rep["rate_type"].tolist() == ["closing", "closing"]
    assert rep["rate_source"].tolist() == ["test.xlsx!Rates!2", "test.xlsx!Rates!3"]
    assert rep["adjustment"].dtype == "int64"
    # the schedule explains itself: the rate applied with its direction, the account posted
    assert rep["rate_text"].tolist() == ["1 EUR = 1.666667 USD", "1 GBP = 1.3 USD"]
    assert rep["result"].tolist() == ["loss", "gain"]
    assert rep["account_posted"].tolist() == ["7910", "7900"]

    tot = result.reports["Totals"]
    assert tot[["entity", "currency", "gains", "losses", "net"]].values.tolist() == [["US1", "USD", 1000, 16667, -15667]]
    assert result.figures == {"balances_revalued": 2, "gains": {"US1": 1000}, "losses": {"US1": 16667}}


def test_acceptance_february_posts_only_the_change():
    book = acceptance_book()
    jan = close(book, "2026-01")
    ctx, state, result = next_close(book, *jan, "2026-02")
    rep = result.reports["Revaluation"].set_index("account")
    assert rep.loc["1010", "balance_acct"] == 83333 and rep.loc["1010", "adjustment"] == 41667  # 1250.00 − 833.33
    assert rep.loc["1100", "balance_acct"] == 26000 and rep.loc["1100", "adjustment"] == -2000  # 240.00 − 260.00
    assert rows(result.lines) == [
        ("REV-2026-02-US1", 1, "US1", "1010", "EUR", 0, 41667, "", ""),
        ("REV-2026-02-US1", 2, "US1", "7900", "USD", -41667, -41667, "", ""),
        ("REV-2026-02-US1", 3, "US1", "1100", "GBP", 0, -2000, "", ""),
        ("REV-2026-02-US1", 4, "US1", "7910", "USD", 2000, 2000, "", ""),
    ]
    assert balance_acct(result.lines, state, "1010") == 125000
    assert balance_acct(result.lines, state, "1100") == 24000


def test_revaluing_again_posts_nothing_but_lists_the_balances():
    ctx, state, result = close(acceptance_book(), "2026-01")
    again = revalue(ctx, state.add(result.lines))
    assert len(again.lines) == 0 and again.findings == []
    rep = again.reports["Revaluation"]
    assert rep["adjustment"].tolist() == [0, 0] and rep["posted"].tolist() == [False, False]
    assert again.figures == {"balances_revalued": 2, "gains": {"US1": 0}, "losses": {"US1": 0}}


# --------------------------------------------------------------------------- gains and losses

def test_gain_and_loss_on_assets_and_liabilities():
    book = make_book(
        US1,
        opening=[TB, ["US1", "1010", "EUR", 500, 1000], ["US1", "1100", "GBP", 200, 200],
                 ["US1", "2000", "EUR", -400, -440], ["US1", "2000", "GBP", -100, -120],
                 ["US1", "3000", "USD", -640, None]],
        rates=[RATES, ["EUR", "USD", "2026-01-31", 1.2, "closing"], ["GBP", "USD", "2026-01-31", 1.1, "closing"]])
    ctx, state, result = close(book, "2026-01")
    assert rows(result.lines) == [
        ("REV-2026-01-US1", 1, "US1", "1010", "EUR", 0, -40000, "", ""),  # asset loss: 600 − 1000
        ("REV-2026-01-US1", 2, "US1", "7910", "USD", 40000, 40000, "", ""),
        ("REV-2026-01-US1", 3, "US1", "1100", "GBP", 0, 2000, "", ""),  # asset gain: 220 − 200
        ("REV-2026-01-US1", 4, "US1", "7900", "USD", -2000, -2000, "", ""),
        ("REV-2026-01-US1", 5, "US1", "2000", "EUR", 0, -4000, "", ""),  # liability loss: −480 + 440
        ("REV-2026-01-US1", 6, "US1", "7910", "USD", 4000, 4000, "", ""),
        ("REV-2026-01-US1", 7, "US1", "2000", "GBP", 0, 1000, "", ""),  # liability gain: −110 + 120
        ("REV-2026-01-US1", 8, "US1", "7900", "USD", -1000, -1000, "", ""),
    ]
    assert result.figures == {"balances_revalued": 4, "gains": {"US1": 3000}, "losses": {"US1": 44000}}
    assert balance_acct(result.lines, state, "7900") == -3000
    assert balance_acct(result.lines, state, "7910") == 44000


def test_inverse_rate_divides():
    book = make_book(US1, opening=[TB, ["US1", "1010", "EUR", 500, 1000], ["US1", "3000", "USD", -1000, None]],
                     rates=[RATES, ["USD", "EUR", "2026-01-31", 0.6, "closing"]])
    ctx, state, result = close(book, "2026-01")
    rep = result.reports["Revaluation"]
    assert rep["inverse"].tolist() == [True] and rep["rate"].tolist() == [0.6]
    # the rate applied is the other way round, and says so; the quote is shown as written
    assert rep["rate_applied"].tolist() == [1 / 0.6]
    cur, acct = rep["currency"].iloc[0], rep["entity_currency"].iloc[0]
    assert rep["rate_text"].tolist() == [f"1 {cur} = 1.666667 {acct}"]
    assert rep["rate_quoted"].tolist() == [f"1 {acct} = 0.6 {cur}"]
    assert rep["revalued_acct"].tolist() == [83333]  # 500 ÷ 0.6 = 833.333…
    assert rows(result.lines)[0] == ("REV-2026-01-US1", 1, "US1", "1010", "EUR", 0, -16667, "", "")
    assert result.lines["description"].iloc[0] == "Revaluation of EUR 500.00 at 1/0.6 (closing)"
    assert result.lines["source"].iloc[0] == "revaluation: rate test.xlsx!Rates!2 (inverse)"
    assert result.findings == []


def test_account_rate_type_overrides_the_setting():
    accounts = [ACCOUNTS[0] + ["revaluation_rate_type"]] + [
        r + (["average"] if r[0] == "1100" else [""]) for r in ACCOUNTS[1:]]
    opening = [TB, ["US1", "1010", "EUR", 100, 100], ["US1", "1100", "EUR", 100, 100],
               ["US1", "3000", "USD", -200, None]]
    rates = [RATES, ["EUR", "USD", "2026-01-31", 1.3, "closing"], ["EUR", "USD", "2026-01-15", 1.25, "average"],
             ["EUR", "USD", "2026-01-31", 1.1, "spot"]]
    book = make_book(US1, accounts=accounts, opening=opening, rates=rates)
    rep = close(book, "2026-01")[2].reports["Revaluation"].set_index("account")
    assert rep.loc["1010", "rate_type"] == "closing" and rep.loc["1010", "adjustment"] == 3000
    assert rep.loc["1100", "rate_type"] == "average" and rep.loc["1100", "adjustment"] == 2500
    # the setting changes the default, not the account's own type
    book2 = make_book(US1, accounts=accounts, settings={"revaluation_rate_type": "spot"}, opening=opening,
                      rates=rates)
    rep2 = close(book2, "2026-01")[2].reports["Revaluation"].set_index("account")
    assert rep2.loc["1010", "rate_type"] == "spot" and rep2.loc["1010", "adjustment"] == 1000
    assert rep2.loc["1100", "rate_type"] == "average" and rep2.loc["1100", "adjustment"] == 2500


# --------------------------------------------------------------------------- rate findings

def test_closing_falls_back_to_spot_with_a_warning():
    book = make_book(US1, opening=[TB, ["US1", "1010", "EUR", 500, 1000], ["US1", "3000", "USD", -1000, None]],
                     rates=[RATES, ["EUR", "USD", "2026-01-30", 1.5, "spot"]])
    ctx, state, result = close(book, "2026-01")
    assert rows(result.lines)[0] == ("REV-2026-01-US1", 1, "US1", "1010", "EUR", 0, -25000, "", "")  # 750 − 1000
    assert result.reports["Revaluation"]["rate_type"].tolist() == ["spot"]
    assert result.lines["description"].iloc[0] == "Revaluation of EUR 500.00 at 1.5 (spot)"
    [f] = result.findings
    assert f.severity == WARNING and f.code == "revaluation-closing-from-spot"
    assert (f.file, f.sheet, f.cell, f.column) == ("test.xlsx", "Rates", "row 2", "type")
    assert "EUR→USD" in f.message and "2026-01-31" in f.message and "1.5" in f.message
    assert f.hint


def test_stale_closing_rate_warns():
    book = make_book(US1, opening=[TB, ["US1", "1010", "EUR", 500, 1000], ["US1", "3000", "USD", -1000, None]],
                     rates=[RATES, ["EUR", "USD", "2026-01-31", 1.8, "closing"]])
    ctx, state, result = close(book, "2026-02")
    assert result.reports["Revaluation"]["adjustment"].tolist() == [-10000]  # 900 − 1000
    [f] = result.findings
    assert f.severity == WARNING and f.code == "revaluation-rate-stale"
    assert (f.sheet, f.cell, f.column, f.value) == ("Rates", "row 2", "date", "2026-01-31")
    assert "2026-02-01" in f.message and "EUR→USD" in f.message


def test_missing_rate_is_an_error_and_that_balance_is_not_posted():
    book = make_book(US1, opening=[TB, ["US1", "1010", "EUR", 500, 1000], ["US1", "1100", "GBP", 200, 250],
                                   ["US1", "3000", "USD", -1250, None]],
                     rates=[RATES, ["GBP", "USD", "2026-01-31", 1.30, "closing"],
                            ["EUR", "USD", "2026-02-01", 1.5, "closing"]])  # too late
    ctx, state, result = close(book, "2026-01")
    [f] = result.findings
    assert f.severity == ERROR and f.is_error and f.code == "revaluation-rate-missing"
    assert "EUR→USD" in f.message and "closing" in f.message and "2026-01-31" in f.message and "US1" in f.message
    assert f.hint == "add a closing rate for EUR→USD dated on or before 2026-01-31 to a Rates sheet"
    assert f.sheet == "Rates" and f.cell == ""
    assert set(result.lines["account"]) == {"1100", "7900"}
    assert result.reports["Revaluation"]["account"].tolist() == ["1100"]


def test_missing_gain_account_is_an_error_on_settings():
    book = make_book(US1, settings={"unrealized_gain_account": ""},
                     opening=[TB, ["US1", "1010", "EUR", 500, 1000], ["US1", "1100", "GBP", 200, 250],
                              ["US1", "3000", "USD", -1250, None]],
                     rates=[RATES, ["EUR", "USD", "2026-01-31", 1.666667, "closing"],
                            ["GBP", "USD", "2026-01-31", 1.30, "closing"]])
    ctx, state, result = close(book, "2026-01")
    [f] = result.findings
    assert f.severity == ERROR and f.code == "revaluation-account-missing"
    assert (f.sheet, f.column) == ("Settings", "value") and "unrealized_gain_account" in f.message
    assert "unrealized_gain_account" in f.hint
    assert set(result.lines["account"]) == {"1010", "7910"}  # the loss is still posted
    assert result.reports["Revaluation"]["posted"].tolist() == [True, False]


def test_missing_loss_account_not_needed_without_losses():
    book = make_book(US1, settings={"unrealized_loss_account": ""},
                     opening=[TB, ["US1", "1100", "GBP", 200, 250], ["US1", "3000", "USD", -250, None]],
                     rates=[RATES, ["GBP", "USD", "2026-01-31", 1.30, "closing"]])
    assert close(book, "2026-01")[2].findings == []


# --------------------------------------------------------------------------- minor units and rounding

def test_jpy_accounting_currency_rounds_to_whole_yen_half_away_from_zero():
    book = make_book([["entity", "name", "currency"], ["JP1", "Japan KK", "JPY"]],
                     opening=[TB, ["JP1", "1100", "USD", 100.50, 15000], ["JP1", "1010", "EUR", 1, 160],
                              ["JP1", "2000", "EUR", -1, -160], ["JP1", "3000", "JPY", -15000, None]],
                     rates=[RATES, ["USD", "JPY", "2026-01-31", 150.5, "closing"],
                            ["EUR", "JPY", "2026-01-31", 162.5, "closing"]])
    ctx, state, result = close(book, "2026-01")
    rep = result.reports["Revaluation"].set_index("account")
    assert rep.loc["1100", "revalued_acct"] == 15125  # 100.50 × 150.5 = 15125.25
    assert rep.loc["1010", "revalued_acct"] == 163  # 1.00 × 162.5 = 162.5 → 163
    assert rep.loc["2000", "revalued_acct"] == -163  # −162.5 → −163
    assert rep["adjustment"].to_dict() == {"1010": 3, "1100": 125, "2000": -3}
    offsets = result.lines[result.lines["currency"] == "JPY"]
    assert offsets[["account", "amount", "amount_acct"]].values.tolist() == [
        ["7900", -3, -3], ["7900", -125, -125], ["7910", 3, 3]]
    assert result.lines["description"].iloc[2] == "Revaluation of USD 100.50 at 150.5 (closing)"


def test_jpy_and_kwd_transaction_currencies():
    book = make_book(US1, opening=[TB, ["US1", "1010", "JPY", 10000, 66], ["US1", "1100", "KWD", 1.002, 3],
                                   ["US1", "3000", "USD", -69, None]],
                     rates=[RATES, ["JPY", "USD", "2026-01-31", 0.006667, "closing"],
                            ["KWD", "USD", "2026-01-31", 2.5, "closing"]])
    ctx, state, result = close(book, "2026-01")
    rep = result.reports["Revaluation"].set_index("account")
    assert rep.loc["1010", "balance"] == 10000 and rep.loc["1010", "revalued_acct"] == 6667  # ¥10,000 → 66.67
    assert rep.loc["1100", "balance"] == 1002 and rep.loc["1100", "revalued_acct"] == 251  # 2.505 → 2.51
    assert rep["adjustment"].to_dict() == {"1010": 67, "1100": -49}
    assert result.lines["description"].tolist()[::2] == [
        "Revaluation of JPY 10000 at 0.006667 (closing)", "Revaluation of KWD 1.002 at 2.5 (closing)"]


def test_kwd_accounting_currency_has_three_decimals():
    book = make_book([["entity", "name", "currency"], ["KW1", "Kuwait", "KWD"]],
                     opening=[TB, ["KW1", "1100", "USD", 100.01, 30], ["KW1", "3000", "KWD", -30, None]],
                     rates=[RATES, ["USD", "KWD", "2026-01-31", 0.3075, "closing"]])
    ctx, state, result = close(book, "2026-01")
    rep = result.reports["Revaluation"]
    assert rep["balance_acct"].tolist() == [30000]
    assert rep["revalued_acct"].tolist() == [30753]  # 100.01 × 0.3075 = 30.753075
    assert rows(result.lines) == [("REV-2026-01-KW1", 1, "KW1", "1100", "USD", 0, 753, "", ""),
                                  ("REV-2026-01-KW1", 2, "KW1", "7900", "KWD", -753, -753, "", "")]


def test_ties_round_half_away_from_zero():
    book = make_book(US1, opening=[TB, ["US1", "1010", "EUR", 1, 1], ["US1", "2000", "EUR", -1, -1],
                                   ["US1", "1100", "GBP", 1, 1], ["US1", "2000", "GBP", -1, -1],
                                   ["US1", "3000", "USD", 0, None]],
                     rates=[RATES, ["EUR", "USD", "2026-01-31", 1.005, "closing"],  # not exact in binary
                            ["GBP", "USD", "2026-01-31", 1.125, "closing"]])  # exact in binary
    ctx, state, result = close(book, "2026-01")
    rep = result.reports["Revaluation"]
    got = {(a, c): (r, d) for a, c, r, d in rep[["account", "currency", "revalued_acct", "adjustment"]].values}
    assert got == {("1010", "EUR"): (101, 1), ("2000", "EUR"): (-101, -1),  # 100.5 → 101, −100.5 → −101
                   ("1100", "GBP"): (113, 13), ("2000", "GBP"): (-113, -13)}  # 112.5 → 113 (not 112)


# --------------------------------------------------------------------------- reversal

def test_reversal_lines_are_dated_next_day_and_negated():
    ctx, state, result = close(acceptance_book(reverse_revaluation=True), "2026-01")
    rev = result.lines[result.lines["journal_type"] == "reversal"]
    fwd = result.lines[result.lines["journal_type"] == "revaluation"]
    assert len(fwd) == 4 and len(rev) == 4
    assert (rev["date"] == pd.Timestamp("2026-02-01")).all()
    assert set(rev["journal"]) == {"REVREV-2026-01-US1"}
    assert rev["line"].tolist() == [1, 2, 3, 4]
    assert rev["account"].tolist() == fwd["account"].tolist()
    assert rev["amount_acct"].tolist() == [16667, -16667, -1000, 1000]
    assert rev["amount"].tolist() == (-fwd["amount"]).tolist()
    assert rev["description"].iloc[0] == "Reversal of revaluation of EUR 500.00 at 1.666667 (closing)"
    assert rev["source"].iloc[0] == "reversal of REV-2026-01-US1 line 1"


@pytest.mark.parametrize("name", ["2026-01", "2026-02"])
def test_period_end_balances_equal_with_and_without_reversal(name):
    ends = {}
    for reverse in (False, True):
        book = acceptance_book(reverse_revaluation=reverse)
        closing = jan = close(book, "2026-01")
        if name == "2026-02":
            closing = next_close(book, *jan, name)
            # the reversal of January is posted in February, before February's revaluation
            feb_state = closing[1]
            assert (feb_state.lines["journal_type"] == "reversal").sum() == (4 if reverse else 0)
            adj = closing[2].reports["Revaluation"].set_index("account")["adjustment"].to_dict()
            assert adj == ({"1010": 41667, "1100": -2000} if not reverse else {"1010": 25000, "1100": -1000})
        ctx, state, result = closing
        lines = result.lines[result.lines["date"] <= ctx.period.end]
        tb = state.add(lines).balances().set_index("account")["amount_acct"]
        ends[reverse] = tb
    a, b = ends[False], ends[True]
    for account in ("1010", "1100", "3000"):
        assert a[account] == b[account]
    assert a.get("7900", 0) + a.get("7910", 0) == b.get("7900", 0) + b.get("7910", 0)
    if name == "2026-02":
        assert a["1010"] == 125000 and a["1100"] == 24000


# --------------------------------------------------------------------------- balances kept apart

def test_dimensions_and_counterparty_kept_per_balance_without_netting():
    tb = ["entity", "account", "department", "currency", "balance", "balance_acct", "counterparty"]
    book = make_book([["entity", "name", "currency"], ["US1", "US Inc", "USD"], ["DE1", "DE GmbH", "EUR"]],
                     settings={"dimensions": ["department"]},
                     opening=[tb, ["US1", "1100", "SALES", "EUR", 100, 110, ""],
                              ["US1", "1100", "SALES", "EUR", 100, 115, "DE1"],
                              ["US1", "1100", "OPS", "EUR", 100, 130, ""],
                              ["US1", "1100", "OPS", "EUR", 100, 120, "DE1"],
                              ["US1", "3000", "", "USD", -475, None, ""]],
                     rates=[RATES, ["EUR", "USD", "2026-01-31", 1.2, "closing"]])
    ctx, state, result = close(book, "2026-01")
    assert rows(result.lines, "department") == [
        ("REV-2026-01-US1", 1, "US1", "1100", "OPS", "EUR", 0, -1000, "", ""),
        ("REV-2026-01-US1", 2, "US1", "7910", "OPS", "USD", 1000, 1000, "", ""),
        ("REV-2026-01-US1", 3, "US1", "1100", "SALES", "EUR", 0, 1000, "", ""),
        ("REV-2026-01-US1", 4, "US1", "7900", "SALES", "USD", -1000, -1000, "", ""),
        ("REV-2026-01-US1", 5, "US1", "1100", "SALES", "EUR", 0, 500, "DE1", ""),
        ("REV-2026-01-US1", 6, "US1", "7900", "SALES", "USD", -500, -500, "", ""),
    ]
    rep = result.reports["Revaluation"]
    assert list(rep.columns[:5]) == ["entity", "account", "department", "counterparty", "reference"]
    assert rep[["department", "counterparty", "adjustment", "posted"]].values.tolist() == [
        ["OPS", "", -1000, True], ["OPS", "DE1", 0, False], ["SALES", "", 1000, True], ["SALES", "DE1", 500, True]]
    assert result.figures["balances_revalued"] == 4


def test_reference_kept_on_settle_accounts_only():
    accounts = ACCOUNTS + [["1200", "Customer open items", "Asset", True, True]]
    tb = ["entity", "account", "currency", "balance", "balance_acct", "reference"]
    book = make_book(US1, accounts=accounts,
                     opening=[tb, ["US1", "1200", "EUR", 100, 110, "INV1"], ["US1", "1200", "EUR", 50, 50, "INV2"],
                              ["US1", "1100", "EUR", 100, 110, "X1"], ["US1", "1100", "EUR", 100, 110, "X2"],
                              ["US1", "3000", "USD", -380, None, ""]],
                     rates=[RATES, ["EUR", "USD", "2026-01-31", 1.2, "closing"]])
    ctx, state, result = close(book, "2026-01")
    assert rows(result.lines) == [
        ("REV-2026-01-US1", 1, "US1", "1100", "EUR", 0, 2000, "", ""),  # X1 + X2: one balance 200 / 220
        ("REV-2026-01-US1", 2, "US1", "7900", "USD", -2000, -2000, "", ""),
        ("REV-2026-01-US1", 3, "US1", "1200", "EUR", 0, 1000, "", "INV1"),
        ("REV-2026-01-US1", 4, "US1", "7900", "USD", -1000, -1000, "", ""),
        ("REV-2026-01-US1", 5, "US1", "1200", "EUR", 0, 1000, "", "INV2"),
        ("REV-2026-01-US1", 6, "US1", "7900", "USD", -1000, -1000, "", ""),
    ]


def test_only_revalue_accounts_foreign_currencies_and_selected_entities():
    book = make_book([["entity", "name", "currency"], ["US1", "US Inc", "USD"], ["DE1", "DE GmbH", "EUR"]],
                     opening=[TB, ["US1", "1100", "GBP", 100, 100], ["US1", "1000", "GBP", 100, 100],
                              ["US1", "1100", "USD", 100, None], ["US1", "3000", "USD", -300, None],
                              ["DE1", "1100", "GBP", 100, 110], ["DE1", "1100", "EUR", 100, None],
                              ["DE1", "3000", "EUR", -210, None]],
                     rates=[RATES, ["GBP", "USD", "2026-01-31", 1.3, "closing"],
                            ["GBP", "EUR", "2026-01-31", 1.15, "closing"]])
    ctx, state, result = close(book, "2026-01")
    rep = result.reports["Revaluation"]
    assert rep[["entity", "account", "currency", "adjustment"]].values.tolist() == [
        ["DE1", "1100", "GBP", 500], ["US1", "1100", "GBP", 3000]]  # 1000 is not a revalue account
    assert set(result.lines["journal"]) == {"REV-2026-01-DE1", "REV-2026-01-US1"}
    assert result.figures["gains"] == {"DE1": 500, "US1": 3000}
    assert result.reports["Totals"][["entity", "currency", "gains"]].values.tolist() == [
        ["DE1", "EUR", 500], ["US1", "USD", 3000]]

    ctx, state, result = close(book, "2026-01", entities=("DE1",))
    assert set(result.lines["entity"]) == {"DE1"}
    assert result.reports["Revaluation"]["entity"].tolist() == ["DE1"]
    assert result.lines[result.lines["account"] == "7900"]["currency"].tolist() == ["EUR"]


def test_nothing_to_revalue():
    book = make_book(US1, opening=[TB, ["US1", "1100", "USD", 100, None], ["US1", "3000", "USD", -100, None]])
    ctx, state, result = close(book, "2026-01")
    assert len(result.lines) == 0 and result.findings == [] and len(result.reports["Revaluation"]) == 0
    assert result.figures == {"balances_revalued": 0, "gains": {}, "losses": {}}


def test_zero_currency_balance_with_leftover_acct_is_cleared_without_a_rate():
    book = make_book(US1, opening=[TB, ["US1", "1100", "EUR", 0, 0.02], ["US1", "3000", "USD", -0.02, None]])
    ctx, state, result = close(book, "2026-01")
    assert result.findings == []
    assert rows(result.lines) == [("REV-2026-01-US1", 1, "US1", "1100", "EUR", 0, -2, "", ""),
                                  ("REV-2026-01-US1", 2, "US1", "7910", "USD", 2, 2, "", "")]
    assert result.lines["description"].iloc[0] == "Revaluation of EUR 0.00 (zero balance, no rate needed)"
    assert result.lines["source"].iloc[0] == "revaluation: zero balance"
    assert result.reports["Revaluation"]["rate"].isna().all()
