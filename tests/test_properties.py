"""Property-based tests: random valid books close with the ledger's invariants intact.

A generated case is a group of 1 to 3 entities (accounting currencies among USD, EUR, JPY and
KWD: 2, 2, 0 and 3 decimals), random exchange rates, an opening trial balance and random
journals balanced per entity in accounting currency, with foreign-currency lines on
revalued and settlement accounts and some payments of earlier invoices by reference.  For
every case, the close of January (the pure runner, in memory) gives:

* every journal — given or generated — balanced to the minor unit per entity in
  accounting currency;
* every entity's trial balance summing to zero, and the consolidated one too;
* every settlement account's balance equal to its open items carried forward;
* no errors.

A few cases also go through files and the whole application: closing them twice gives the
same bytes, and the adjusted trial balance written equals the pure runner's balances.

CI is reproducible: hypothesis runs derandomized (the same examples every run).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

import pandas as pd
from hypo import profile
from hypothesis import given, strategies as st

from books import read_sheet, write_books
from builders import SETTINGS, make_book, months, period
from closebatch import app
from closebatch.close import History, run_close
from closebatch.money import convert, scale_of

CURRENCIES = ("USD", "EUR", "JPY", "KWD")
UNIT_VALUE = {"USD": (1.0, 1.0), "EUR": (0.9, 1.4), "JPY": (0.004, 0.012), "KWD": (2.8, 3.6)}  # in USD
SETTLE = {"1100", "2000"}
REVALUE = {"1010", "1100", "2000"}
ACCOUNTS = [["account", "name", "type", "revalue", "settle"]] + [
    [a, n, t, a in REVALUE, a in SETTLE] for a, n, t in [
        ("1000", "Cash", "Asset"), ("1010", "Bank foreign", "Asset"), ("1100", "Receivables", "Asset"),
        ("2000", "Payables", "Liability"), ("3000", "Share capital", "Equity"), ("3100", "Retained earnings", "Equity"),
        ("3900", "Translation reserve", "Equity"), ("3950", "Non-controlling interests", "Equity"),
        ("4000", "Revenue", "Revenue"), ("6100", "Rent", "Expense"), ("6200", "IT costs", "Expense"),
        ("7900", "Unrealized FX gain", "Revenue"), ("7910", "Unrealized FX loss", "Expense"),
        ("7920", "Realized FX gain", "Revenue"), ("7930", "Realized FX loss", "Expense"),
        ("8900", "Profit attributable to NCI", "Expense"), ("9990", "Rounding", "Expense")]]
TB = ["entity", "account", "currency", "balance", "balance_acct", "reference"]
J = ["journal", "date", "entity", "account", "currency", "debit", "credit", "amount_acct", "reference"]
RATES = ["from", "to", "date", "rate", "type"]
D1, D15, D31 = dt.date(2026, 1, 1), dt.date(2026, 1, 15), dt.date(2026, 1, 31)


def dec(minor: int, ccy: str) -> float:
    """Minor units as the decimal a workbook holds."""
    return float(Decimal(int(minor)).scaleb(-scale_of(ccy)))


@dataclass
class Case:
    entities: list
    opening: list = field(default_factory=list)
    journals: list = field(default_factory=list)
    rates: list = field(default_factory=list)
    historical: list = field(default_factory=list)

    def book(self):
        book = make_book([["entity", "name", "currency", "parent", "ownership"]] + self.entities, accounts=ACCOUNTS,
                         opening=[TB] + self.opening, journals=[J] + self.journals if self.journals else None,
                         rates=[RATES] + self.rates, historical_rates=[["entity", "account", "rate", "amount_group"]]
                         + self.historical)
        if "posted" not in book.journals:  # (the builder leaves these out when there are no journals)
            book.journals["posted"] = pd.Series([], dtype=bool)
            book.journals["reverse_on"] = pd.Series([], dtype="datetime64[ns]")
        return book

    def files(self, folder):
        ts = lambda rows, i: [r[:i] + [r[i].date() if hasattr(r[i], "date") else r[i]] + r[i + 1:] for r in rows]
        return write_books({
            "master.xlsx": {"Settings": [["key", "value"]] + [[k, v] for k, v in SETTINGS.items()],
                            "Entities": [["entity", "name", "currency", "parent", "ownership"]] + self.entities,
                            "Accounts": ACCOUNTS,
                            "Periods": [r[:4] for r in months()]},
            "opening.xlsx": {"TrialBalance": [TB] + self.opening},
            "journals.xlsx": {"Journals": [J] + ts(self.journals, 1)},
            "rates.xlsx": {"Rates": [RATES] + ts(self.rates, 2),
                           "HistoricalRates": [["entity", "account", "rate", "amount_group"]] + self.historical},
        }, folder)


class Rates:
    """One rate per ordered pair (stored one way; the other way is its inverse), per type
    and date, as rates.lookup reads them."""

    def __init__(self, draw, used):
        value = {c: draw(st.floats(*UNIT_VALUE[c])) for c in used}
        self.table = {}
        self.rows = []
        for i, a in enumerate(used):
            for b in used[i + 1:]:
                for when, kind, jitter in ((D1, "spot", 1.0), (D15, "spot", draw(st.floats(0.9, 1.1))),
                                           (D31, "closing", draw(st.floats(0.85, 1.15))),
                                           (D31, "average", draw(st.floats(0.95, 1.05)))):
                    r = float(f"{value[a] / value[b] * jitter:.6g}")
                    self.table[(a, b, when, kind)] = r
                    self.rows.append([a, b, pd.Timestamp(when), r, kind])

    def to_acct(self, minor: int, frm: str, to: str, when) -> int:
        if frm == to:
            return minor
        if (frm, to, when, "spot") in self.table:
            return int(convert([minor], self.table[(frm, to, when, "spot")], scale_of(frm), scale_of(to))[0])
        return int(convert([minor], self.table[(to, frm, when, "spot")], scale_of(frm), scale_of(to), True)[0])


amounts = st.integers(1, 2_000_000)


@st.composite
def cases(draw) -> Case:
    n = draw(st.integers(1, 3))
    ccy = [draw(st.sampled_from(CURRENCIES)) for _ in range(n)]
    names = ["P", "S1", "S2"][:n]
    entities = [[e, f"Entity {e}", c, "" if i == 0 else "P", 1.0 if i == 0 else draw(st.sampled_from([1.0, 1.0, 0.8]))]
                for i, (e, c) in enumerate(zip(names, ccy))]
    used = sorted(set(ccy) | set(draw(st.lists(st.sampled_from(CURRENCIES), max_size=2))))
    rates = Rates(draw, used)
    case = Case(entities, rates=rates.rows)
    invoices = []  # (entity, account, currency, minor, reference) still open
    for e, c in zip(names, ccy):
        total = 0
        for account in ("1000", "1010", "1100", "2000"):
            if account != "1000" and not draw(st.booleans()):
                continue
            cur = draw(st.sampled_from(used)) if account in REVALUE else c
            m = draw(amounts) * (1 if account != "2000" else -1)
            acct = rates.to_acct(m, cur, c, D1)
            ref = f"OB-{e}-{account}" if account in SETTLE else ""
            case.opening.append([e, account, cur, dec(m, cur), dec(acct, c) if cur != c else None, ref])
            total += acct
            if account in SETTLE:
                invoices.append((e, account, cur, m, ref))
        case.opening.append([e, "3000", c, dec(-total, c), None, ""])
        if e != "P" and c != ccy[0]:
            case.historical.append([e, "3000", float(f"{rates.to_acct(10 ** 6, c, ccy[0], D1) / 10 ** 6:.6g}") or 1.0,
                                    None])
    for j in range(draw(st.integers(0, 8))):
        k = draw(st.integers(0, n - 1))
        e, c = names[k], ccy[k]
        when = draw(st.sampled_from([D1, D15]))
        day = pd.Timestamp(when) + pd.Timedelta(days=draw(st.integers(0, 13)))
        lines = []
        pay = [i for i in invoices if i[0] == e]
        if pay and draw(st.booleans()):  # settle an open item: the same reference, the opposite amount
            inv = draw(st.sampled_from(pay))
            invoices.remove(inv)
            _, account, cur, m, ref = inv
            lines.append((account, cur, -m, rates.to_acct(-m, cur, c, when), ref))
        for _ in range(draw(st.integers(0 if lines else 1, 3))):
            account = draw(st.sampled_from(["1010", "1100", "2000", "4000", "6100", "6200"]))
            cur = draw(st.sampled_from(used)) if account in REVALUE else c
            m = draw(amounts) * draw(st.sampled_from([1, -1]))
            ref = f"INV-{draw(st.integers(1, 3))}" if account in SETTLE else ""
            lines.append((account, cur, m, rates.to_acct(m, cur, c, when), ref))
            if account in SETTLE:
                invoices.append((e, account, cur, m, ref))
        rest = -sum(x[3] for x in lines)
        if rest:
            lines.append(("1000", c, rest, rest, ""))
        for account, cur, m, acct, ref in lines:
            case.journals.append([f"J{j}", day, e, account, cur, dec(m, cur) if m > 0 else None,
                                  dec(-m, cur) if m < 0 else None, dec(acct, c) if cur != c else None, ref])
    return case


def check_invariants(book, result) -> None:
    assert not result.errors, [f.message for f in result.errors]
    ent_ccy = book.entity_currency()
    lines = result.lines
    # every journal, given or generated, balances per entity in accounting currency
    off = lines.groupby(["journal", "entity"])["amount_acct"].sum()
    assert (off == 0).all(), off[off != 0]
    # lines in the accounting currency carry the same amount twice
    same = (lines["currency"] == lines["entity"].map(ent_ccy)).to_numpy()
    assert (lines["amount"].to_numpy()[same] == lines["amount_acct"].to_numpy()[same]).all()
    # every trial balance sums to zero
    tb = result.balances.groupby("entity")["amount_acct"].sum()
    assert (tb == 0).all(), tb
    # settlement accounts equal their open items, in both currencies
    key = ["entity", "account", "currency"]
    bal = result.balances[result.balances["account"].isin(SETTLE)].groupby(key)[["amount", "amount_acct"]].sum()
    items = result.carry["open_items"]
    items = items[items["account"].isin(SETTLE)].groupby(key)[["amount", "amount_acct"]].sum()
    both = bal.join(items.add_suffix("_open"), how="outer").fillna(0)
    assert (both["amount"] == both["amount_open"]).all(), both
    assert (both["amount_acct"] == both["amount_acct_open"]).all(), both
    # settled groups net to zero in both currencies once realized
    settled = result.steps["settlement"].reports["Settled"]
    if len(settled):
        assert (settled.groupby("settlement_id")[["amount", "amount_acct"]].sum() == 0).all().all()
    # consolidation: the group's trial balance sums to zero, and so does each elimination journal
    cons = result.steps["consolidation"].reports["Consolidated"]
    assert int(cons["balance_group"].sum()) == 0, cons
    # every consolidation journal balances too: translation differences are not a journal
    elim = result.eliminations
    if elim is not None and len(elim):
        assert (elim.groupby("journal")["amount_acct"].sum() == 0).all()
    # the worksheet adds across to the consolidated balances, and every column sums to zero
    ws = result.steps["consolidation"].reports.get("Worksheet")
    if ws is not None and len(ws):
        money_cols = [c for c in ws.columns if c not in ("kind", "type", "statement_line", "account", "account_name")]
        check = ws[ws["kind"] == "check"].iloc[0]
        assert all(int(check[c]) == 0 for c in money_cols), check
        acc = ws[ws["kind"] == "account"].set_index("account")
        parts = [c for c in money_cols if c.startswith("rule:")] + ["entities_total", "nci"]
        assert (acc[parts].sum(axis=1) == acc["consolidated"]).all()
        assert dict(acc["consolidated"][acc["consolidated"] != 0]) == \
            {a: b for a, b in zip(cons["account"], cons["balance_group"]) if b}


@profile(25, 300)
@given(case=cases())
def test_close_keeps_the_ledger_invariants(case):
    book = case.book()
    result = run_close(book, period(book, "2026-01"), History(), user="prop")
    check_invariants(book, result)


@profile(3, 8)
@given(case=cases())
def test_through_files_same_bytes_and_same_balances(tmp_path_factory, case):
    books = case.files(tmp_path_factory.mktemp("prop") / "books")
    a, b = books.parent / "a", books.parent / "b"
    first = app.close_books(books, period="2026-01", out=a, dry_run=True, user="prop", today=D31)
    assert first.exit_code in (0, 3), [f.message for f in first.errors]
    second = app.close_books(books, period="2026-01", out=b, dry_run=True, user="prop", today=D31)
    assert second.exit_code == first.exit_code
    assert sorted(p.name for p in a.iterdir()) == sorted(p.name for p in b.iterdir())
    for p in sorted(a.iterdir()):
        assert p.read_bytes() == (b / p.name).read_bytes(), p.name
    # the workbook written is the pure runner's result
    book = case.book()
    pure = run_close(book, period(book, "2026-01"), History(), user="prop")
    want = pure.balances.groupby(["entity", "account"])["amount_acct"].sum()
    want = {k: v for k, v in want.items() if v}
    ent_ccy = book.entity_currency()
    got = {}
    for r in read_sheet(a / "adjusted_trial_balance.xlsx", "TrialBalance"):
        scale = scale_of(ent_ccy[r["entity"]])
        got[(r["entity"], r["account"])] = got.get((r["entity"], r["account"]), 0) + \
            int(Decimal(str(r["balance_acct"])).scaleb(scale))
    assert {k: v for k, v in got.items() if v} == want
