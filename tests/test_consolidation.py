"""Consolidation (spec section 3, step 8): golden books with hand-computed group figures.

Amounts in the comments are in currency units; the step works in minor units (cents), so the
helpers below divide by 100.  Sign convention: debit +, credit −.
"""
from decimal import Decimal

import pandas as pd
import pytest

from builders import make_book, months, state_for
from closebatch.core import ERROR, WARNING, make_lines
from closebatch.steps.consolidation import consolidate

T = pd.Timestamp
ENT = ["entity", "name", "currency", "parent", "ownership"]
TB = ["entity", "account", "currency", "balance", "balance_acct", "counterparty"]
J = ["journal", "date", "entity", "account", "currency", "debit", "credit", "amount_acct", "counterparty"]
ELIM = ["rule", "type", "entity", "counterparty", "account", "counter_account", "difference_account"]
HIST = ["entity", "account", "rate", "amount_group"]
RATES = ["from", "to", "date", "rate", "type"]


def units(minor) -> Decimal:
    return Decimal(int(minor)) / 100


def consolidated(res) -> dict:
    rep = res.reports["Consolidated"]
    assert rep["balance_group"].sum() == 0, "the consolidated trial balance must sum to exactly zero"
    return {a: units(b) for a, b in zip(rep["account"], rep["balance_group"])}


def row(report, **match) -> dict:
    df = report
    for k, v in match.items():
        df = df[df[k] == v]
    assert len(df) == 1, f"expected one row for {match}, got {len(df)}"
    return df.iloc[0].to_dict()


def codes(res, severity=None) -> list[str]:
    return [f.code for f in res.findings if severity is None or f.severity == severity]


# --------------------------------------------------------------------------- the public case

def public_book(**kw):
    args = dict(
        entities=[ENT, ["P", "Parent Inc", "USD", "", 1.0], ["S", "Sub GmbH", "EUR", "P", 1.0]],
        settings={"group_currency": "USD"},
        opening=[TB, ["P", "1000", "USD", 37800, 37800, ""], ["P", "1300", "USD", 1200, 1200, "S"],
                 ["P", "1600", "USD", 11000, 11000, "S"], ["P", "3000", "USD", -50000, -50000, ""],
                 ["S", "1000", "EUR", 11000, 11000, ""], ["S", "2300", "USD", -1200, -1000, "P"],
                 ["S", "3000", "EUR", -10000, -10000, ""]],
        journals=[J, ["S1", T(2026, 1, 12), "S", "1000", "EUR", 2000, None, None, ""],
                  ["S1", T(2026, 1, 12), "S", "4000", "EUR", None, 2000, None, ""]],
        rates=[RATES, ["EUR", "USD", T(2026, 1, 1), 1.10, "spot"], ["EUR", "USD", T(2026, 1, 31), 1.25, "closing"],
               ["EUR", "USD", T(2026, 1, 31), 1.20, "average"]],
        eliminations=[ELIM, ["IC", "intercompany", None, None, "1300", "2300", "7950"],
                      ["INV", "investment", "P", "S", "1600", "3000", "1700"]],
        historical_rates=[HIST, ["S", "3000", 1.10, None]])
    args.update(kw)
    return make_book(**args)


def public_state(book):
    """January, with S's revaluation of its USD payable posted before consolidation:
    −1200 USD at 1.25 (inverse of EUR→USD) = −960 EUR, was −1000 EUR: +40 on 2300, gain −40 on 7900."""
    ctx, st = state_for(book, "2026-01")
    reval = make_lines((), journal="REV-2026-01-S", date=T(2026, 1, 31), entity=["S", "S"], account=["2300", "7900"],
                       currency=["USD", "EUR"], amount=[0, -4000], amount_acct=[4000, -4000], counterparty=["P", ""],
                       journal_type="revaluation")
    return ctx, st.add(reval)


def test_public_case_wholly_owned_eur_subsidiary():
    book = public_book()
    res = consolidate(*public_state(book))
    assert codes(res) == []
    # S translated:  1000  13000 EUR × 1.25 closing        = 16250
    #                2300   −960 EUR × 1.25                =  −1200
    #                3000 −10000 EUR × 1.10 historical     = −11000
    #                4000  −2000 EUR × 1.20 average        =  −2400
    #                7900    −40 EUR × 1.20                =    −48
    #                sum 1602, so CTA = −1602
    # IC: P 1300 (S) 1200 and S 2300 (P) −1200 cancel; INV: 11000 investment against
    # 11000 equity at acquisition (10000 EUR × 1.10), goodwill 0.
    c = consolidated(res)
    assert c["1000"] == 37800 + 16250 == 54050
    assert c["1300"] == 0 and c["2300"] == 0 and c["1600"] == 0
    assert c["3000"] == -50000
    assert c["4000"] == -2400
    assert c["7900"] == -48
    assert c["3900"] == -1602
    assert "1700" not in c  # no goodwill
    assert set(res.lines["journal_type"]) == {"elimination"}
    assert set(res.lines["currency"]) == {"USD"}
    assert (res.lines["amount"] == res.lines["amount_acct"]).all()
    assert (res.lines["date"] == T(2026, 1, 31)).all()
    elim = res.lines[res.lines["journal"].str.startswith("ELIM-")]
    assert elim.groupby("journal")["amount"].sum().eq(0).all()
    assert set(elim["journal"]) == {"ELIM-IC-2026-01", "ELIM-INV-2026-01"}
    assert set(elim["source"]) == {"test.xlsx!eliminations!2", "test.xlsx!eliminations!3"}
    # translation differences are not a journal: every consolidation journal balances
    assert not res.lines["journal"].str.startswith("CTA-").any()
    assert res.lines.groupby("journal")["amount"].sum().eq(0).all()

    tr = res.reports["Translation"]
    r = row(tr, entity="S", account="3000")
    assert (r["rate_type"], r["rate"], units(r["amount_group"])) == ("historical", 1.10, -11000)
    r = row(tr, entity="S", account="2300")
    assert (r["rate_type"], r["rate"], r["rate_source"], units(r["amount_group"])) == \
        ("closing", 1.25, "test.xlsx!Rates!3", -1200)
    assert row(tr, entity="P", account="1000")["rate_type"] == "same currency"

    # CTA analysis: opening net assets 10000 EUR × (1.25 − 1.10) = 1500 → −1500 (a credit);
    # profit YTD 2040 EUR × (1.25 − 1.20) = 102 → −102; nothing unexplained.
    a = row(res.reports["CTA"], entity="S")
    assert units(a["opening_net_assets_acct"]) == 10000 and a["opening_rate"] == pytest.approx(1.10)
    assert units(a["cta_net_assets"]) == -1500
    assert units(a["profit_ytd_acct"]) == 2040 and a["average_rate"] == pytest.approx(1.20)
    assert units(a["cta_profit"]) == -102
    assert a["cta_unexplained"] == 0 and units(a["cta_translation"]) == -1602
    assert units(a["cta_total"]) == -1602 and a["cta_total_is"] == "gain"
    assert a["closing_rate_source"] == "test.xlsx!Rates!3" and a["average_rate_source"] == "test.xlsx!Rates!4"
    # the first close starts from an opening reserve of zero (none given): all of it arose now
    assert a["cta_at_start"] == 0 and units(a["cta_movement"]) == -1602
    assert res.figures["cta_total"] == {"S": -160200}
    ws = res.reports["Worksheet"]
    assert row(ws, account="3900")["entity:S"] == -160200 and row(ws, kind="check")["consolidated"] == 0
    assert res.figures["eliminations"] == 4

    carry = res.carry["group_ytd"]
    assert list(carry.columns) == ["entity", "account", "counterparty", "translation", "fiscal_year", "period",
                                   "amount_acct", "amount_group"]
    r = row(carry, entity="S", account="4000")
    assert (r["fiscal_year"], r["period"], r["amount_acct"], r["amount_group"]) == (2026, "2026-01", -200000, -240000)


# --------------------------------------------------------------------------- 80%, two periods

def partly_owned_book():
    """P (USD) owns 80% of S (EUR).

    Opening 1 Jan:  P 1000 29990, 1300 1000 EUR = 1100 USD (S), 1600 10010 (S), 3000 −41100
                    S 1000 11980, 2300 −980 EUR (P), 3000 −10000, 3100 −1000
    HistoricalRates: S 3000 at 1.10; S 3100 amount_group −1100.
    Equity at acquisition 11000 EUR = 12100 USD; NCI 20% = 2420; goodwill 10010 − 0.8 × 12100 = 330
    (= 300 EUR at 1.10).  P's receivable (1000 EUR) and S's payable (980 EUR) differ by 20 EUR.
    """
    journals = [J,
                ["P1", T(2026, 1, 10), "P", "1000", "USD", 1000, None, None, ""],
                ["P1", T(2026, 1, 10), "P", "4000", "USD", None, 1000, None, ""],
                ["S1", T(2026, 1, 15), "S", "1000", "EUR", 2000, None, None, ""],
                ["S1", T(2026, 1, 15), "S", "4000", "EUR", None, 2000, None, ""],
                ["S2", T(2026, 1, 20), "S", "6100", "EUR", 500, None, None, ""],
                ["S2", T(2026, 1, 20), "S", "1000", "EUR", None, 500, None, ""],
                # P's revaluation of its EUR receivable: 1000 × 1.25 − 1100 = +150
                ["REV1", T(2026, 1, 31), "P", "1300", "EUR", None, None, 150, "S"],
                ["REV1", T(2026, 1, 31), "P", "7900", "USD", None, 150, None, ""],
                ["P2", T(2026, 2, 10), "P", "1000", "USD", 500, None, None, ""],
                ["P2", T(2026, 2, 10), "P", "4000", "USD", None, 500, None, ""],
                ["S3", T(2026, 2, 10), "S", "1000", "EUR", 1000, None, None, ""],
                ["S3", T(2026, 2, 10), "S", "4000", "EUR", None, 1000, None, ""],
                ["S4", T(2026, 2, 20), "S", "6200", "EUR", 200, None, None, ""],
                ["S4", T(2026, 2, 20), "S", "1000", "EUR", None, 200, None, ""],
                # 1000 × 1.30 − 1250 = +50
                ["REV2", T(2026, 2, 28), "P", "1300", "EUR", None, None, 50, "S"],
                ["REV2", T(2026, 2, 28), "P", "7900", "USD", None, 50, None, ""]]
    return make_book(
        [ENT, ["P", "Parent Inc", "USD", "", 1.0], ["S", "Sub GmbH", "EUR", "P", 0.8]],
        settings={"group_currency": "USD"},
        opening=[TB, ["P", "1000", "USD", 29990, 29990, ""], ["P", "1300", "EUR", 1000, 1100, "S"],
                 ["P", "1600", "USD", 10010, 10010, "S"], ["P", "3000", "USD", -41100, -41100, ""],
                 ["S", "1000", "EUR", 11980, 11980, ""], ["S", "2300", "EUR", -980, -980, "P"],
                 ["S", "3000", "EUR", -10000, -10000, ""], ["S", "3100", "EUR", -1000, -1000, ""]],
        journals=journals,
        rates=[RATES, ["EUR", "USD", T(2026, 1, 31), 1.25, "closing"], ["EUR", "USD", T(2026, 1, 31), 1.20, "average"],
               ["EUR", "USD", T(2026, 2, 28), 1.30, "closing"], ["EUR", "USD", T(2026, 2, 28), 1.28, "average"]],
        eliminations=[ELIM, ["IC", "intercompany", None, None, "1300", "2300", "7950"],
                      ["INV", "investment", "P", "S", "1600", "3000-3100", "1700"]],
        historical_rates=[HIST, ["S", "3000", 1.10, None], ["S", "3100", None, -1100]])


def test_partly_owned_subsidiary_january():
    book = partly_owned_book()
    jan = consolidate(*state_for(book, "2026-01"))
    # S translated: 1000 13480 × 1.25 = 16850; 2300 −980 × 1.25 = −1225; 3000 −11000; 3100 −1100;
    #               4000 −2000 × 1.20 = −2400; 6100 500 × 1.20 = 600; sum 1725 → CTA −1725.
    # IC: P 1300 1250 against S 2300 −1225: difference 25 to 7950 (a warning, above 0.05).
    # INV: −10010 investment, +11000 +1100 equity, −2420 NCI, +330 goodwill; goodwill 300 EUR now
    #      at 1.25 = 375: +45 on 1700 against −45 on 3900.
    # NCI 20%: profit 1800 → 360 (8900 +360 / 3950 −360); CTA −1725 → −345 moved (3900 +345 / 3950 −345).
    c = consolidated(jan)
    assert c == {"1000": 47840, "1300": 0, "1600": 0, "1700": 375, "2300": 0, "3000": -41100, "3100": 0,
                 "3900": -1425, "3950": -3125, "4000": -3400, "6100": 600, "7900": -150, "7950": 25, "8900": 360}
    # NCI equals 20% of S's net assets at the closing rate: (16850 − 1225) × 0.2 = 3125.
    assert [f.code for f in jan.findings] == ["intercompany-difference"]
    w = jan.findings[0]
    assert w.severity == WARNING and "P 1300 with S: 1250.00 USD" in w.message and "S 2300 with P: -1225.00 USD" \
        in w.message and "25.00" in w.message and w.sheet == "eliminations" and w.cell == "row 2"
    e = jan.reports["Eliminations"]
    assert units(row(e, role="difference")["amount_group"]) == 25
    assert units(row(e, role="goodwill")["amount_group"]) == 330
    assert units(row(e, role="goodwill_translation")["amount_group"]) == 45
    assert units(row(e, role="nci_at_acquisition")["amount_group"]) == -2420
    a = row(jan.reports["CTA"], entity="S")
    # net assets 11000 EUR at 1.10 (12100) now at 1.25: −1650; profit 1500 EUR × (1.25 − 1.20): −75
    assert [units(a[k]) for k in ("cta_net_assets", "cta_profit", "cta_unexplained", "cta_translation",
                                  "cta_goodwill", "cta_total", "cta_nci_share", "cta_owners_share")] == \
        [-1650, -75, 0, -1725, -45, -1770, -345, -1425]
    n = row(jan.reports["NCI"], entity="S")
    assert n["effective_ownership"] == pytest.approx(0.8)
    assert [units(n[k]) for k in ("profit_ytd_group", "nci_profit", "cta_translation", "cta_nci_share",
                                  "nci_equity")] == [1800, 360, -1725, -345, 0]
    for j, g in jan.lines.groupby("journal"):
        assert g["amount"].sum() == 0, j


def test_partly_owned_subsidiary_february_from_the_carry():
    book = partly_owned_book()
    jan = consolidate(*state_for(book, "2026-01"))
    ctx, st = state_for(book, "2026-02", carried=jan.carry)
    feb = consolidate(ctx, st)
    # S translated: 1000 14280 × 1.30 = 18564; 2300 −980 × 1.30 = −1274; 3000 −11000; 3100 −1100 (carried);
    #   4000 −2400 carried + (−1000 × 1.28 = −1280) = −3680; 6100 600 carried + 0; 6200 200 × 1.28 = 256;
    #   sum 2366 → CTA −2366.
    # IC: 1300 1300 against −1274: difference 26.  Goodwill 300 EUR × 1.30 = 390: +60.
    # NCI: profit 3680 − 600 − 256 = 2824 × 20% = 564.80; CTA −2366 × 20% = −473.20 (exact in cents).
    c = consolidated(feb)
    assert c == {"1000": 50054, "1300": 0, "1600": 0, "1700": 390, "2300": 0, "3000": -41100, "3100": 0,
                 "3900": Decimal("-1952.80"), "3950": Decimal("-3458.00"), "4000": -1500 - 3680, "6100": 600,
                 "6200": 256, "7900": -200, "7950": 26, "8900": Decimal("564.80")}
    assert c["3900"] == -2366 - 60 + Decimal("473.20") and c["3950"] == -2420 - Decimal("564.80") - Decimal("473.20")
    assert c["3950"] == -3458  # 20% of (18564 − 1274)
    r = row(feb.reports["Translation"], entity="S", account="4000")
    assert [units(r[k]) for k in ("base_acct", "base_group", "movement_acct", "amount_group")] == \
        [-2000, -2400, -1000, -3680]
    assert (r["rate_type"], r["rate"], r["base_source"]) == ("average", 1.28, "carried from 2026-01")
    # CTA analysis: 11000 EUR × (1.30 − 1.10) = 2200 → −2200; profit YTD 2300 EUR at the accumulated
    # average 2824/2300: 2300 × 1.30 − 2824 = 166 → −166.
    a = row(feb.reports["CTA"], entity="S")
    assert [units(a[k]) for k in ("cta_net_assets", "profit_ytd_acct", "profit_ytd_group", "cta_profit",
                                  "cta_unexplained", "cta_translation", "cta_goodwill", "cta_nci_share")] == \
        [-2200, 2300, 2824, -166, 0, -2366, -60, Decimal("-473.20")]
    assert a["average_rate"] == pytest.approx(2824 / 2300)
    assert feb.figures["cta_total"] == {"S": -242600}  # −2366 on S's balances, −60 on goodwill
    # the period's translation difference: from January's total −1770 to −2426
    assert [units(a[k]) for k in ("cta_at_start", "cta_movement", "cta_nci_at_start", "cta_nci_movement")] == \
        [-1770, -656, -345, Decimal("-128.20")]

    # Without January's carry, all of February's year to date would be at February's average.
    alone = consolidate(*state_for(book, "2026-02"))
    assert consolidated(alone)["4000"] == -1500 - 3840


# --------------------------------------------------------------------------- three levels

def test_three_level_group_uses_effective_ownership():
    """P (USD) → S (USD) 80% → T (EUR) 75%: T is 60% the group's, 40% non-controlling.

    INV1: P's 8000 against S's equity 10000: NCI 2000, goodwill 8000 − 0.8 × 10000 = 0.
    INV2: S's 9000 against T's equity 10000 EUR × 1.20 = 12000: NCI 25% = 3000, goodwill 0.
    January: T sells 1000 EUR (avg 1.20 → −1200), S sells 500 USD.
    T: 1000 11000 × 1.25 = 13750, 3000 −12000, 4000 −1200: CTA −550.
    NCI: S 20% of 500 = 100; T 40% of 1200 = 480 and 40% of −550 = −220.
    """
    book = make_book(
        [ENT, ["P", "Parent", "USD", "", 1.0], ["S", "Holding", "USD", "P", 0.8], ["T", "Op GmbH", "EUR", "S", 0.75]],
        settings={"group_currency": "USD"},
        opening=[TB, ["P", "1000", "USD", 2000, 2000, ""], ["P", "1600", "USD", 8000, 8000, "S"],
                 ["P", "3000", "USD", -10000, -10000, ""], ["S", "1000", "USD", 1000, 1000, ""],
                 ["S", "1600", "USD", 9000, 9000, "T"], ["S", "3000", "USD", -10000, -10000, ""],
                 ["T", "1000", "EUR", 10000, 10000, ""], ["T", "3000", "EUR", -10000, -10000, ""]],
        journals=[J, ["T1", T(2026, 1, 5), "T", "1000", "EUR", 1000, None, None, ""],
                  ["T1", T(2026, 1, 5), "T", "4000", "EUR", None, 1000, None, ""],
                  ["S1", T(2026, 1, 5), "S", "1000", "USD", 500, None, None, ""],
                  ["S1", T(2026, 1, 5), "S", "4000", "USD", None, 500, None, ""]],
        rates=[RATES, ["EUR", "USD", T(2026, 1, 31), 1.25, "closing"], ["EUR", "USD", T(2026, 1, 31), 1.20, "average"]],
        eliminations=[ELIM, ["INV1", "investment", "P", "S", "1600", "3000", "1700"],
                      ["INV2", "investment", "S", "T", "1600", "3000", "1700"]],
        historical_rates=[HIST, ["T", "3000", 1.20, None]])
    res = consolidate(*state_for(book, "2026-01"))
    assert codes(res) == []
    c = consolidated(res)
    assert c == {"1000": 2000 + 1500 + 13750, "1600": 0, "3000": -10000, "3900": -550 + 220,
                 "3950": -2000 - 3000 - 100 - 480 - 220, "4000": -1700, "8900": 580}
    # NCI 5800 = 25% of T's 13750 + 20% of (S's 1500 cash + 75% of 13750)
    assert c["3950"] == -(Decimal("0.25") * 13750 + Decimal("0.2") * (1500 + Decimal("0.75") * 13750))
    nci = res.reports["NCI"].set_index("entity")
    assert nci.loc["T", "effective_ownership"] == pytest.approx(0.6)
    assert nci.loc["T", "nci_share"] == pytest.approx(0.4)
    assert [units(nci.loc["T", k]) for k in ("nci_profit", "cta_nci_share")] == [480, -220]
    assert units(nci.loc["S", "nci_profit"]) == 100


def test_entities_with_consolidate_n_and_their_subsidiaries_are_left_out():
    book = make_book(
        [ENT + ["consolidate"], ["P", "Parent", "USD", "", 1.0, True], ["S", "Dormant", "USD", "P", 1.0, False],
         ["T", "Below S", "EUR", "S", 1.0, True]],
        opening=[TB, ["P", "1000", "USD", 700, 700, ""], ["P", "1300", "USD", 300, 300, "S"],
                 ["P", "3000", "USD", -1000, -1000, ""], ["S", "1000", "USD", 500, 500, ""],
                 ["S", "2300", "USD", -300, -300, "P"], ["S", "3000", "USD", -200, -200, ""],
                 ["T", "1000", "EUR", 100, 100, ""], ["T", "3000", "EUR", -100, -100, ""]],
        eliminations=[ELIM, ["IC", "intercompany", None, None, "1300", "2300", "7950"]])
    res = consolidate(*state_for(book, "2026-01"))
    assert codes(res) == []  # no rate or HistoricalRates needed for T: it is not consolidated
    # Only P: the receivable from S stays, as S is outside the consolidated group.
    assert consolidated(res) == {"1000": 700, "1300": 300, "3000": -1000}
    assert set(res.reports["Translation"]["entity"]) == {"P"}
    assert len(res.lines) == 0
    assert res.figures["consolidated_entities"] == 1


# --------------------------------------------------------------------------- a new fiscal year

def year_roll_book(closed: bool):
    """S (EUR, 100%) across the year end; ``closed`` adds the books' year-end close (4000 → 3100)."""
    periods = months(2026, 12, 12) + months(2027, 1, 1)[1:]
    journals = [J, ["S1", T(2026, 12, 10), "S", "1000", "EUR", 1000, None, None, ""],
                ["S1", T(2026, 12, 10), "S", "4000", "EUR", None, 1000, None, ""]]
    if closed:
        journals += [["YE", T(2026, 12, 31), "S", "4000", "EUR", 1000, None, None, ""],
                     ["YE", T(2026, 12, 31), "S", "3100", "EUR", None, 1000, None, ""]]
    return make_book(
        [ENT, ["P", "Parent", "USD", "", 1.0], ["S", "Sub", "EUR", "P", 1.0]], periods=periods,
        opening=[TB, ["P", "1000", "USD", 100, 100, ""], ["P", "3000", "USD", -100, -100, ""],
                 ["S", "1000", "EUR", 11000, 11000, ""], ["S", "3000", "EUR", -10000, -10000, ""],
                 ["S", "3100", "EUR", -1000, -1000, ""]],
        journals=journals,
        rates=[RATES, ["EUR", "USD", T(2026, 12, 31), 1.25, "closing"],
               ["EUR", "USD", T(2026, 12, 31), 1.20, "average"],
               ["EUR", "USD", T(2027, 1, 31), 1.30, "closing"], ["EUR", "USD", T(2027, 1, 31), 1.28, "average"]],
        historical_rates=[HIST, ["S", "3000", 1.10, None], ["S", "3100", None, -1100]])


def test_retained_earnings_roll_forward_by_the_translated_profit():
    dec = consolidate(*state_for(year_roll_book(False), "2026-12"))
    # December: 1000 12000 × 1.25 = 15000; 3000 −11000; 3100 −1100; 4000 −1000 × 1.20 = −1200; CTA −1700.
    assert consolidated(dec) == {"1000": 100 + 15000, "3000": -100 - 11000, "3100": -1100, "3900": -1700,
                                 "4000": -1200}
    ctx, st = state_for(year_roll_book(True), "2027-01", carried=dec.carry)
    jan = consolidate(ctx, st)
    assert codes(jan) == []
    # January 2027: 3100 = −1100 + last year's translated profit −1200 = −2300 (not −2000 EUR × 1.28);
    # 1000 12000 × 1.30 = 15600; CTA −(15600 − 11000 − 2300) = −2300.
    c = consolidated(jan)
    assert c["3100"] == -2300 and c["3900"] == -2300 and c["1000"] == 15700 and c.get("4000", 0) == 0
    r = row(jan.reports["Translation"], entity="S", account="3100")
    assert [units(r[k]) for k in ("base_acct", "base_group", "movement_acct")] == [-2000, -2300, 0]
    assert "rolled into retained earnings" in r["base_source"]
    # All of the reserve is the net assets' rate change: 12000 EUR × 1.30 − 13300 = 2300.
    assert units(row(jan.reports["CTA"], entity="S")["cta_net_assets"]) == -2300


def test_year_roll_without_retained_earnings_account_is_an_error():
    dec = consolidate(*state_for(year_roll_book(False), "2026-12"))
    book = year_roll_book(True)
    book.settings = type(book.settings)(**{**book.settings.__dict__, "retained_earnings_account": ""})
    jan = consolidate(*state_for(book, "2027-01", carried=dec.carry))
    f = [f for f in jan.findings if f.code == "setting-missing"]
    assert len(f) == 1 and f[0].severity == ERROR and "retained_earnings_account" in f[0].message


# --------------------------------------------------------------------------- findings

def test_equity_without_historical_rate_is_an_error():
    res = consolidate(*public_state(public_book(historical_rates=[HIST])))
    f = [f for f in res.findings if f.code == "historical-rate-missing"]
    assert len(f) == 1 and f[0].severity == ERROR
    assert "S account 3000" in f[0].message and "-10000.00 EUR" in f[0].message
    assert "HistoricalRates row: entity S, account 3000" in f[0].hint
    assert (f[0].sheet, f[0].cell) == ("TrialBalance", "row 8")
    assert consolidated(res)  # still balanced: translated at the closing rate meanwhile


def test_counterparty_that_is_not_an_entity_is_an_error():
    book = public_book(opening=[TB, ["P", "1000", "USD", 37800, 37800, ""], ["P", "1300", "USD", 1200, 1200, "X"],
                                ["P", "1600", "USD", 11000, 11000, "S"], ["P", "3000", "USD", -50000, -50000, ""],
                                ["S", "1000", "EUR", 11000, 11000, ""], ["S", "2300", "USD", -1200, -1000, "P"],
                                ["S", "3000", "EUR", -10000, -10000, ""]])
    res = consolidate(*public_state(book))
    f = [f for f in res.findings if f.code == "counterparty-unknown"]
    assert len(f) == 1 and f[0].severity == ERROR and "counterparty X" in f[0].message
    assert (f[0].sheet, f[0].cell, f[0].value) == ("TrialBalance", "row 3", "X")


def test_missing_rates_are_errors_naming_pair_type_and_date():
    res = consolidate(*public_state(public_book(rates=[RATES])))
    f = {f.value: f for f in res.findings if f.code == "rate-missing"}
    assert set(f) == {"EUR/USD closing 2026-01-31", "EUR/USD average 2026-01-31"}
    assert all(x.severity == ERROR for x in f.values())
    assert "No closing rate EUR→USD for 2026-01-31" in f["EUR/USD closing 2026-01-31"].message


def test_closing_rate_from_before_the_period_is_a_warning():
    rates = [RATES, ["EUR", "USD", T(2025, 12, 31), 1.25, "closing"], ["EUR", "USD", T(2026, 1, 31), 1.20, "average"]]
    res = consolidate(*public_state(public_book(rates=rates)))
    assert codes(res) == ["rate-stale"] and res.findings[0].severity == WARNING
    assert consolidated(res)["3900"] == -1602


@pytest.mark.parametrize("key", ["translation_reserve_account", "nci_account", "nci_profit_account"])
def test_settings_accounts_missing_when_needed(key):
    res = consolidate(*state_for(partly_owned_book_with({key: ""}), "2026-01"))
    f = [f for f in res.findings if f.code == "setting-missing"]
    assert len(f) == 1 and f[0].severity == ERROR and key in f[0].message


def test_settings_account_not_in_the_chart():
    res = consolidate(*state_for(partly_owned_book_with({"nci_account": "3999"}), "2026-01"))
    assert "setting-unknown-account" in codes(res, ERROR)


def partly_owned_book_with(settings):
    book = partly_owned_book()
    book.settings = type(book.settings)(**{**book.settings.__dict__, **settings})
    return book


def test_negative_goodwill_is_an_error_unless_the_difference_account_is_revenue():
    # Investment 11000 against 100% of 12000 (10000 EUR × 1.20): goodwill −1000.
    hist = [HIST, ["S", "3000", 1.20, None]]
    res = consolidate(*public_state(public_book(historical_rates=hist)))
    f = [f for f in res.findings if f.code == "negative-goodwill"]
    assert len(f) == 1 and f[0].severity == ERROR and f[0].column == "difference_account"
    assert "negative goodwill of 1000.00 USD" in f[0].message
    elim = [ELIM, ["IC", "intercompany", None, None, "1300", "2300", "7950"],
            ["INV", "investment", "P", "S", "1600", "3000", "7920"]]
    res = consolidate(*public_state(public_book(historical_rates=hist, eliminations=elim)))
    assert codes(res) == []
    c = consolidated(res)
    assert c["7920"] == -1000  # a bargain purchase gain, not retranslated
    assert c["3900"] == -(16250 - 1200 - 12000 - 2400 - 48)


def test_odd_historical_rates_and_elimination_rows_are_findings():
    hist = [HIST, ["S", "3000", "abc", None], ["S", "3100", 1.1, 5.0], ["Z", "3000", 1.1, None]]
    elim = [ELIM, ["IC", "merger", None, None, "1300", "2300", "7950"],
            ["IC2", "intercompany", None, None, "1300", "9999", "7950"],
            ["INV", "investment", "P", None, "1600", "3000", "1700"]]
    res = consolidate(*public_state(public_book(historical_rates=hist, eliminations=elim)))
    bad_hist = [f for f in res.findings if f.code == "historical-rate-invalid"]
    assert [f.column for f in bad_hist] == ["rate", "rate", "entity"]
    assert "not a number" in bad_hist[0].message and "both" in bad_hist[1].message
    assert bad_hist[0].value == "abc" and bad_hist[0].cell == "row 2"
    bad_rules = [f for f in res.findings if f.code == "elimination-rule-invalid"]
    assert [(f.cell, f.column) for f in bad_rules] == [("row 2", "type"), ("row 3", "counter_account"),
                                                       ("row 4", "counterparty")]
    assert "historical-rate-missing" in codes(res)  # S 3000's only row was unusable
    assert all(f.severity == ERROR for f in bad_hist + bad_rules)
    assert consolidated(res)  # nothing crashed, and the group still balances


def test_intercompany_rule_limited_to_one_pair_and_same_account_on_both_sides():
    """A rule with entity and counterparty touches that pair only; with account = counter_account
    each balance is still reversed once."""
    book = make_book(
        [ENT, ["P", "P", "USD", "", 1.0], ["A", "A", "USD", "P", 1.0], ["B", "B", "USD", "P", 1.0]],
        opening=[TB, ["P", "1300", "USD", 100, 100, "A"], ["P", "1300", "USD", 40, 40, "B"],
                 ["P", "3000", "USD", -140, -140, ""], ["A", "1300", "USD", -100, -100, "P"],
                 ["A", "3000", "USD", 100, 100, ""], ["B", "1300", "USD", -40, -40, "P"],
                 ["B", "3000", "USD", 40, 40, ""]],
        eliminations=[ELIM, ["CUR", "intercompany", "P", "A", "1300", "1300", "7950"]])
    res = consolidate(*state_for(book, "2026-01"))
    assert codes(res) == []
    assert consolidated(res)["1300"] == 40 - 40  # P/B still there (not eliminated), P/A gone
    assert len(res.lines) == 2 and set(res.lines["entity"]) == {"P", "A"}
