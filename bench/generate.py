"""Write a large, valid books folder for benchmarking closebatch, deterministically.

    python bench/generate.py OUT_DIR --lines 100000 --seed 1 [--shape short] [--hledger FILE]

The Meridian group: a US parent (USD) and four subsidiaries in EUR, GBP (80 % owned), DKK and
JPY (a currency without decimals).  The folder holds master data with a ``department``
dimension and a 2026 calendar, opening trial balances at 2026-01-01 (with open items on the
bank clearing account), January 2026 journals split over one workbook per entity, the spot
rates of January (with the 2025 year-end), closing and average rates, allocation rules with a
headcount statistic, intercompany and investment eliminations with historical rates, users
and a close checklist.

About ``--lines`` journal lines are written (the last journals of each entity may go a few
lines over).  The journals are what a month of a mid-sized group looks like: domestic and
foreign-currency sales and purchase invoices, supplier payments, expenses booked to ADMIN and
allocated by the close, payroll by department, customer receipts through the bank clearing
account (``settle = Y``) matched by the bank statement lines: most by deposit reference, some
only by amount (the bank line carries its own reference), some still in transit at month end,
foreign-currency deposits realizing an exchange difference; intercompany management fees and
recharges both ways, and period-end adjustments with reversals on 1 February.  ``--shape
short`` writes the same kinds of journals two or three lines each (one revenue line an invoice,
one receipt a deposit, one or two expense lines), so there are about as many journals as lines
halved; ``--hledger FILE`` writes the same transactions (and the opening balances) as an
hledger journal.

Amounts are built in integer minor units, every foreign-currency line carries ``amount_acct``
(converted at the spot rate of its date, rounded half away from zero), and every journal is
checked to balance exactly per entity in accounting currency before it is written.
Workbooks are written with xlsxwriter directly, row by row, in ``constant_memory`` mode (the
journals are generated and written as a stream, so memory stays flat at any size), with
fixed workbook dates: the same arguments give the same bytes.
"""
from __future__ import annotations

import argparse
import random
import sys
from bisect import bisect_right
from collections import deque
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import xlsxwriter

CREATED = datetime(2026, 1, 1)
OPTIONS = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False,
           "nan_inf_to_errors": True, "constant_memory": True}
YEAR = 2026
OPENING = date(YEAR, 1, 1)
PREV_END = date(YEAR - 1, 12, 31)
JAN_END = date(YEAR, 1, 31)
REVERSE_ON = date(YEAR, 2, 1)
EXCEL_EPOCH = date(1899, 12, 30)

ENTITIES = [  # entity, name, currency, parent, ownership, consolidate, share of the lines
    ("P", "Meridian Group Inc.", "USD", None, None, "Y", 0.30),
    ("DE", "Meridian Deutschland GmbH", "EUR", "P", 1.0, "Y", 0.20),
    ("GB", "Meridian UK Ltd", "GBP", "P", 0.8, "Y", 0.20),
    ("DK", "Meridian Danmark ApS", "DKK", "P", 1.0, "Y", 0.15),
    ("JP", "Meridian Japan KK", "JPY", "P", 1.0, "Y", 0.15),
]
CURRENCY = {e[0]: e[2] for e in ENTITIES}
SUBSIDIARIES = [e[0] for e in ENTITIES if e[3]]
SCALE = {"USD": 2, "EUR": 2, "GBP": 2, "DKK": 2, "JPY": 0}  # ISO 4217 minor-unit digits
# minor units of the currency per US cent (the rough size of a local amount)
SIZE = {"USD": (1, 1), "EUR": (93, 100), "GBP": (79, 100), "DKK": (69, 10), "JPY": (3, 2)}
# foreign transaction currencies an entity books in (every pair involves USD, so that a spot,
# closing and average rate exists for each)
FOREIGN = {"P": ("EUR", "GBP", "DKK", "JPY"), "DE": ("USD",), "GB": ("USD",), "DK": ("USD",), "JP": ("USD",)}
PREPARER = {"P": "ava.reed", "DE": "jonas.weber", "GB": "ava.reed", "DK": "mette.holm", "JP": "kenji.sato"}
USERS = [("ava.reed", "controllers"), ("jonas.weber", "controllers"), ("mette.holm", "controllers"),
         ("kenji.sato", "controllers")]
DEPARTMENTS = ("SALES", "PROD", "RND", "OPS", "MKT", "ADMIN")
TARGETS = DEPARTMENTS[:-1]  # allocation destinations

FX = "Foreign exchange result"
ACCOUNTS = [  # account, name, type, revalue, settle, statement_line
    ("1000", "Bank", "Asset", "N", "N", "Cash and cash equivalents"),
    ("1010", "Bank foreign currency", "Asset", "Y", "N", "Cash and cash equivalents"),
    ("1100", "Trade receivables", "Asset", "Y", "N", None),
    ("1300", "Intercompany receivables", "Asset", "Y", "N", None),
    ("1400", "Prepaid expenses", "Asset", "N", "N", None),
    ("1500", "Bank clearing", "Asset", "Y", "Y", "Cash and cash equivalents"),
    ("1610", "Investment in Meridian Deutschland GmbH", "Asset", "N", "N", "Investments in subsidiaries"),
    ("1620", "Investment in Meridian UK Ltd", "Asset", "N", "N", "Investments in subsidiaries"),
    ("1630", "Investment in Meridian Danmark ApS", "Asset", "N", "N", "Investments in subsidiaries"),
    ("1640", "Investment in Meridian Japan KK", "Asset", "N", "N", "Investments in subsidiaries"),
    ("1700", "Goodwill", "Asset", "N", "N", None),
    ("1800", "Equipment", "Asset", "N", "N", "Property and equipment"),
    ("1810", "Accumulated depreciation", "Asset", "N", "N", "Property and equipment"),
    ("2000", "Trade payables", "Liability", "Y", "N", None),
    ("2100", "Accrued expenses", "Liability", "N", "N", None),
    ("2300", "Intercompany payables", "Liability", "Y", "N", None),
    ("2400", "Payroll liabilities", "Liability", "N", "N", None),
    ("3000", "Share capital", "Equity", "N", "N", None),
    ("3100", "Retained earnings", "Equity", "N", "N", None),
    ("3900", "Translation reserve", "Equity", "N", "N", None),
    ("3950", "Non-controlling interests", "Equity", "N", "N", None),
    ("4000", "Revenue", "Revenue", "N", "N", None),
    ("4100", "Intercompany income", "Revenue", "N", "N", "Other operating income"),
    ("5000", "Cost of sales", "Expense", "N", "N", None),
    ("6000", "Salaries", "Expense", "N", "N", "Staff costs"),
    ("6100", "Rent", "Expense", "N", "N", "Premises"),
    ("6200", "IT costs", "Expense", "N", "N", None),
    ("6300", "Professional fees", "Expense", "N", "N", None),
    ("6400", "Marketing", "Expense", "N", "N", None),
    ("6500", "Intercompany charges", "Expense", "N", "N", "Other operating expenses"),
    ("6800", "Depreciation", "Expense", "N", "N", None),
    ("6900", "Utilities and office", "Expense", "N", "N", "Premises"),
    ("7900", "Unrealized FX gain", "Revenue", "N", "N", FX),
    ("7910", "Unrealized FX loss", "Expense", "N", "N", FX),
    ("7920", "Realized FX gain", "Revenue", "N", "N", FX),
    ("7930", "Realized FX loss", "Expense", "N", "N", FX),
    ("7950", "Intercompany difference", "Expense", "N", "N", None),
    ("8900", "Profit attributable to non-controlling interests", "Expense", "N", "N", None),
    ("9990", "Rounding", "Expense", "N", "N", FX),
]
SHAPES = ("mix", "short")
INVESTMENT = {"DE": "1610", "GB": "1620", "DK": "1630", "JP": "1640"}

SETTINGS = [
    ("group_currency", "USD"), ("dimensions", "department"),
    ("unrealized_gain_account", "7900"), ("unrealized_loss_account", "7910"),
    ("realized_gain_account", "7920"), ("realized_loss_account", "7930"),
    ("retained_earnings_account", "3100"), ("translation_reserve_account", "3900"),
    ("nci_account", "3950"), ("nci_profit_account", "8900"), ("rounding_account", "9990"),
    ("rounding_tolerance", "0.05"), ("reverse_revaluation", "N"), ("revaluation_rate_type", "closing"),
]

#: Column layouts: (header, cell kind).  Kinds: code, text, amount (value in minor units,
#: scaled by the row's currency), rate, number, integer, date (a datetime.date).
LAYOUT = {
    "Settings": [("key", "code"), ("value", "code")],
    "Entities": [("entity", "code"), ("name", "text"), ("currency", "code"), ("parent", "code"),
                 ("ownership", "number"), ("consolidate", "code")],
    "Accounts": [("account", "code"), ("name", "text"), ("type", "code"), ("revalue", "code"),
                 ("settle", "code"), ("statement_line", "text")],
    "Periods": [("period", "code"), ("start", "date"), ("end", "date"), ("fiscal_year", "integer"),
                ("status", "code")],
    "Users": [("user", "code"), ("group", "code")],
    "TrialBalance": [("entity", "code"), ("account", "code"), ("department", "code"), ("currency", "code"),
                     ("balance", "amount"), ("balance_acct", "amount"), ("counterparty", "code"),
                     ("reference", "code")],
    "Journals": [("journal", "code"), ("line", "integer"), ("date", "date"), ("entity", "code"),
                 ("account", "code"), ("department", "code"), ("currency", "code"), ("debit", "amount"),
                 ("credit", "amount"), ("amount_acct", "amount"), ("description", "text"), ("reference", "code"),
                 ("counterparty", "code"), ("type", "code"), ("posted", "code"), ("reverse_on", "date"),
                 ("prepared_by", "code")],
    "Rates": [("from", "code"), ("to", "code"), ("date", "date"), ("rate", "rate"), ("type", "code")],
    "Allocations": [("rule", "code"), ("step", "integer"), ("entity", "code"), ("source_account", "code"),
                    ("department", "code"), ("method", "code"), ("basis", "code"),
                    ("destination_account", "code"), ("to_department", "code"), ("value", "number"),
                    ("offset_account", "code")],
    "Statistics": [("name", "code"), ("entity", "code"), ("period", "code"), ("department", "code"),
                   ("value", "number")],
    "Eliminations": [("rule", "code"), ("type", "code"), ("account", "code"), ("counter_account", "code"),
                     ("difference_account", "code"), ("entity", "code"), ("counterparty", "code"),
                     ("description", "text")],
    "HistoricalRates": [("entity", "code"), ("account", "code"), ("rate", "rate"), ("amount_group", "amount")],
    "Tasks": [("task", "code"), ("name", "text"), ("area", "text"), ("owner", "code"), ("due", "integer"),
              ("depends_on", "code"), ("status", "code"), ("required", "code"), ("step", "code")],
}

TASKS = [  # task, name, area, owner, due, depends_on, status, required, step
    ["T01", "All January journals entered and posted", "General ledger", "ava.reed", -1, None, "Not started", "Y",
     "journals_posted"],
    ["T02", "Bank reconciliations signed off", "Treasury", "jonas.weber", 1, None, "Done", "Y", None],
    ["T03", "Settle bank clearing open items", "Treasury", "jonas.weber", 1, "T01,T02", "Not started", "Y",
     "settlement"],
    ["T04", "Revalue foreign-currency balances", "General ledger", "ava.reed", 2, "T03", "Not started", "Y",
     "revaluation"],
    ["T05", "Allocate rent, IT and utilities to departments", "Cost accounting", "mette.holm", 3, "T04",
     "Not started", "Y", "allocation"],
    ["T06", "Intercompany reconciliation and consolidation", "Group reporting", "ava.reed", 4, "T04,T05",
     "Not started", "Y", "consolidation"],
    ["T07", "Review financial statements", "Group reporting", "ava.reed", 5, "T06", "Not started", "Y",
     "statements"],
    ["T08", "Put January on hold", "Group reporting", "ava.reed", 5, "T07", "Not started", "Y", "lock"],
]


# --------------------------------------------------------------------------------------------
# money and rates

def serial(d: date) -> int:
    return (d - EXCEL_EPOCH).days


def size(rng: random.Random, low_usd: int, high_usd: int, ccy: str, step: int = 1) -> int:
    """A random amount between low and high USD-equivalent, in minor units of ``ccy``."""
    usd_cents = rng.randrange(low_usd * 100, high_usd * 100)
    if step > 1:
        usd_cents = usd_cents // (step * 100) * step * 100
    num, den = SIZE[ccy]
    return max(1, usd_cents * num // den)


def business_days() -> list[date]:
    """The working days of January 2026 (New Year's Day off)."""
    return [d for d in (date(YEAR, 1, k) for k in range(2, 32)) if d.weekday() < 5]


# Published pairs: CCY -> USD, except the yen, published as USD -> JPY (so inverse lookups
# are exercised).  Start value, decimals and daily volatility.
PUBLISHED = {"EUR": ("EUR", "USD", "1.0810", 4, 0.0030), "GBP": ("GBP", "USD", "1.2710", 4, 0.0025),
             "DKK": ("DKK", "USD", "0.144900", 6, 0.0030), "JPY": ("USD", "JPY", "149.20", 2, 0.0035)}


class Rates:
    """The Rates sheet rows, and spot conversion exactly as the books format looks rates up."""

    def __init__(self, rng: random.Random):
        days = business_days()
        self.rows = []  # (from, to, date, Decimal rate, type)
        self.spot: dict[tuple, tuple[list, list]] = {}
        self.closing, self.average = {}, {}
        for ccy in ("EUR", "GBP", "DKK", "JPY"):
            frm, to, start, digits, vol = PUBLISHED[ccy]
            q = Decimal(1).scaleb(-digits)
            value = Decimal(start)
            series = [(PREV_END, value)]
            for d in days:
                shock = sum(rng.random() for _ in range(4)) - 2.0
                value = (value * (1 + Decimal(repr(round(vol * shock, 6))))).quantize(q, ROUND_HALF_UP)
                series.append((d, value))
            self.rows.append((frm, to, PREV_END, series[0][1], "closing"))
            for d, v in series:
                self.rows.append((frm, to, d, v, "spot"))
            mean = (sum(v for _, v in series[1:]) / len(days)).quantize(q, ROUND_HALF_UP)
            self.rows.append((frm, to, JAN_END, series[-1][1], "closing"))
            self.rows.append((frm, to, JAN_END, mean, "average"))
            self.spot[(frm, to)] = ([d for d, _ in series], [v for _, v in series])
            self.closing[ccy], self.average[ccy] = series[-1][1], mean

    def rate(self, frm: str, to: str, day: date) -> tuple[Decimal, bool]:
        for pair, inverse in (((frm, to), False), ((to, frm), True)):
            if pair in self.spot:
                dates, values = self.spot[pair]
                i = bisect_right(dates, day) - 1
                if i >= 0:
                    return values[i], inverse
        raise KeyError(f"no spot rate {frm}/{to} on {day}")

    def convert(self, amount: int, frm: str, to: str, day: date) -> int:
        """Minor units of ``frm`` to minor units of ``to`` at the spot rate of ``day``."""
        if frm == to:
            return amount
        rate, inverse = self.rate(frm, to, day)
        value = (Decimal(amount) / rate if inverse else Decimal(amount) * rate).scaleb(SCALE[to] - SCALE[frm])
        return int(value.quantize(Decimal(1), ROUND_HALF_UP))

    def to_usd(self, ccy: str) -> Decimal:
        """An indicative historical rate (CCY -> USD) for equity, a little off today's."""
        frm, to, start, digits, _ = PUBLISHED[ccy]
        r = Decimal(start) if frm == ccy else 1 / Decimal(start)
        return (r * Decimal("0.94")).quantize(Decimal(1).scaleb(-(8 if ccy == "JPY" else digits)),
                                              ROUND_HALF_UP)


# --------------------------------------------------------------------------------------------
# journals

class Line:
    __slots__ = ("account", "amount", "currency", "acct", "department", "reference", "counterparty", "description")

    def __init__(self, account, amount, currency, acct, department=None, reference=None, counterparty=None,
                 description=None):
        self.account, self.amount, self.currency, self.acct = account, amount, currency, acct
        self.department, self.reference, self.counterparty = department, reference, counterparty
        self.description = description


class Entity:
    """Generates one entity's January journals as a stream of rows, in minor units."""

    def __init__(self, code: str, target: int, rng: random.Random, rates: Rates, intercompany: list,
                 opening_items: list, shape: str = "mix"):
        self.e, self.ccy, self.target, self.rng, self.rates = code, CURRENCY[code], target, rng, rates
        self.short = shape == "short"  # two or three lines a journal
        self.days = business_days()
        self.intercompany = intercompany  # (day index, Line list, description) of this entity
        self.opening_items = opening_items  # (reference, amount) on the clearing account
        self.lines_written = 0
        self.number = 0
        self.seq = {}
        self.pending = deque()  # bank statements due: (day index, lines, description)
        self.counts = {}

    def next_ref(self, prefix: str) -> str:
        n = self.seq.get(prefix, 0) + 1
        self.seq[prefix] = n
        return f"{prefix}-{self.e}-{n:06d}"

    # a journal is (date, description, type, reverse_on, [Line])
    def rows(self):
        """Yield journal rows (Journals layout, amounts in minor units) until about ``target``
        lines are written; then the month-end flush: due statements, intercompany, adjustments."""
        days = self.days
        e = self.e
        # opening clearing items: all but the last cleared by the bank on the first day
        for ref, amount in self.opening_items[:-1]:
            yield from self.journal(days[0], f"Bank statement {ref}", [
                Line("1000", amount, self.ccy, None), Line("1500", -amount, self.ccy, None, reference=ref)])
        ic = sorted(self.intercompany, key=lambda x: x[0])
        reserve = 10 + sum(len(x[1]) for x in ic)  # period-end adjustments and intercompany
        payroll_every = max(40, self.target // 60) if not self.short else max(400, self.target // 8)
        k = 0
        while self.lines_written < self.target - reserve:
            di = min(len(days) - 1, self.lines_written * len(days) // max(1, self.target - reserve))
            while self.pending and self.pending[0][0] <= di:
                due, lines, desc = self.pending.popleft()
                yield from self.journal(days[due], desc, lines)
            while ic and ic[0][0] <= di:
                _, lines, desc = ic.pop(0)
                yield from self.journal(days[di], desc, lines)
            k += 1
            if k % payroll_every == 0:
                yield from self.payroll(di)
                continue
            r = self.rng.random()
            if r < 0.22:
                yield from self.sale(di, self.ccy)
            elif r < 0.28:
                yield from self.sale(di, self.rng.choice(FOREIGN[e]))
            elif r < 0.50:
                yield from self.deposit(di)
            elif r < 0.68:
                yield from self.purchase(di, self.ccy)
            elif r < 0.72:
                yield from self.purchase(di, self.rng.choice(FOREIGN[e]))
            elif r < 0.82:
                yield from self.payment(di)
            else:
                yield from self.expenses(di)
        last = len(days) - 1
        for _, lines, desc in ic:
            yield from self.journal(days[last], desc, lines)
        # statements due after the last working day are in transit: their receipts stay open
        for due, lines, desc in self.pending:
            if due <= last:
                yield from self.journal(days[due], desc, lines)
        self.counts["in_transit"] = sum(due > last for due, _, _ in self.pending)
        yield from self.period_end()

    def journal(self, day: date, description: str, lines: list, kind: str = "daily", reverse_on=None):
        total = 0
        for ln in lines:
            total += ln.acct if ln.acct is not None else ln.amount
            assert ln.amount != 0 and (ln.currency == self.ccy) == (ln.acct is None), (self.e, description)
        if total:
            raise AssertionError(f"{self.e} journal {description!r} is off by {total} minor units")
        self.number += 1
        number = f"{self.e}26-{self.number:07d}"
        ds = serial(day)
        ro = serial(reverse_on) if reverse_on else None
        prep = PREPARER[self.e]
        for i, ln in enumerate(lines, start=1):
            a = ln.amount
            yield [number, i, ds, self.e, ln.account, ln.department, ln.currency, a if a > 0 else None,
                   -a if a < 0 else None, ln.acct, ln.description or description, ln.reference, ln.counterparty,
                   kind, "Y", ro, prep]
        self.lines_written += len(lines)

    def fx(self, amount: int, ccy: str, di: int) -> int | None:
        """amount_acct of a line in ``ccy`` (None for the accounting currency)."""
        return None if ccy == self.ccy else self.rates.convert(amount, ccy, self.ccy, self.days[di])

    def sale(self, di: int, ccy: str):
        rng = self.rng
        ref = self.next_ref("INV")
        count = (1 if rng.random() < 0.8 else 2) if self.short else rng.randrange(1, 4)
        parts = [size(rng, 300, 9000, ccy) for _ in range(count)]
        lines = [Line("4000", -p, ccy, None if ccy == self.ccy else -self.fx(p, ccy, di),
                      department=rng.choice(("SALES", "SALES", "MKT")), description=f"Sale {ref}") for p in parts]
        acct = None if ccy == self.ccy else -sum(ln.acct for ln in lines)
        lines.insert(0, Line("1100", sum(parts), ccy, acct, reference=ref))
        self.counts["sales"] = self.counts.get("sales", 0) + 1
        yield from self.journal(self.days[di], f"Invoice {ref}", lines)

    def purchase(self, di: int, ccy: str):
        rng = self.rng
        ref = self.next_ref("SI")
        account, dept = rng.choice((("5000", "PROD"), ("5000", "OPS"), ("6400", "MKT"), ("6300", "ADMIN"),
                                    ("6200", "RND")))
        cost = size(rng, 200, 7000, ccy)
        acct = self.fx(cost, ccy, di)
        yield from self.journal(self.days[di], f"Supplier invoice {ref}", [
            Line(account, cost, ccy, acct, department=dept),
            Line("2000", -cost, ccy, None if acct is None else -acct, reference=ref)])

    def payment(self, di: int):
        ref = self.next_ref("PAY")
        pay = size(self.rng, 500, 12000, self.ccy, step=10)
        yield from self.journal(self.days[di], f"Supplier payment {ref}", [
            Line("2000", pay, self.ccy, None, reference=ref), Line("1000", -pay, self.ccy, None)])

    def expenses(self, di: int):
        """Rent, IT and utilities booked to ADMIN (allocated at the close), other costs by department."""
        rng = self.rng
        lines = []
        for _ in range((1 if rng.random() < 0.8 else 2) if self.short else rng.randrange(1, 5)):
            account = rng.choice(("6100", "6200", "6900", "6300", "6900"))
            dept = "ADMIN" if account in ("6100", "6200", "6900") or rng.random() < 0.5 else rng.choice(TARGETS)
            lines.append(Line(account, size(rng, 50, 4000, self.ccy), self.ccy, None, department=dept))
        credit = rng.choice(("1000", "2100"))
        lines.append(Line(credit, -sum(ln.amount for ln in lines), self.ccy, None))
        yield from self.journal(self.days[di], "Operating expenses", lines)

    def payroll(self, di: int):
        rng = self.rng
        lines = [Line("6000", size(rng, 20000, 90000, self.ccy), self.ccy, None, department=d,
                      description=f"Salaries {d}") for d in DEPARTMENTS]
        gross = sum(ln.amount for ln in lines)
        withheld = gross * 27 // 100
        lines += [Line("2400", -withheld, self.ccy, None, description="Payroll taxes and withholdings"),
                  Line("1000", -(gross - withheld), self.ccy, None, description="Net pay")]
        yield from self.journal(self.days[di], "Payroll", lines)

    def deposit(self, di: int):
        """Customer receipts into the bank clearing account under one deposit reference; the
        bank statement line clears them one or two working days later."""
        rng = self.rng
        foreign = rng.random() < 0.12
        ccy = rng.choice(FOREIGN[self.e]) if foreign else self.ccy
        ref = self.next_ref("DEP")
        total = 0
        n = 1 if self.short else rng.choice((1, 1, 1, 2, 2, 3))
        book_day = max(0, di - rng.randrange(0, 6))  # the receivable's booking date
        for _ in range(n):
            amount = size(rng, 300, 15000, ccy)
            total += amount
            acct = None if not foreign else self.rates.convert(amount, ccy, self.ccy, self.days[book_day])
            inv = self.next_ref("RCPT")
            yield from self.journal(self.days[di], f"Receipt {inv}", [
                Line("1500", amount, ccy, acct, reference=ref),
                Line("1100", -amount, ccy, None if acct is None else -acct, reference=inv)])
        due = di + rng.choice((1, 1, 2))
        fate = rng.random()
        if fate < 0.03:
            self.counts["never_cleared"] = self.counts.get("never_cleared", 0) + 1
            return  # the bank has not credited it yet
        bank_ref = ref if (n > 1 or fate >= 0.07) else self.next_ref("BNK")  # ~4%: matched by amount only
        if foreign:
            acct = self.rates.convert(total, ccy, self.ccy, self.days[min(due, len(self.days) - 1)])
            lines = [Line("1010", total, ccy, acct), Line("1500", -total, ccy, -acct, reference=bank_ref)]
        else:
            lines = [Line("1000", total, ccy, None), Line("1500", -total, ccy, None, reference=bank_ref)]
        self.pending.append((due, lines, f"Bank statement deposit {ref}"))

    def period_end(self):
        rng, c = self.rng, self.ccy
        dep = [size(rng, 4000, 30000, c) for _ in DEPARTMENTS[:3]]
        lines = [Line("6800", a, c, None, department=d) for a, d in zip(dep, DEPARTMENTS)]
        lines.append(Line("1810", -sum(dep), c, None))
        yield from self.journal(JAN_END, "Depreciation January", lines, kind="adjustment")
        audit, power = size(rng, 3000, 12000, c, step=100), size(rng, 1500, 5000, c)
        yield from self.journal(JAN_END, "Accruals January (audit, utilities)", [
            Line("6300", audit, c, None, department="ADMIN", description="Audit fee accrual"),
            Line("6900", power, c, None, department="ADMIN", description="Utilities accrual"),
            Line("2100", -(audit + power), c, None, description="Accruals January")],
            kind="adjustment", reverse_on=REVERSE_ON)


def intercompany(rng: random.Random, rates: Rates, lines: int) -> dict:
    """Both sides of the intercompany journals: the parent's management fees (USD) and each
    subsidiary's recharges to the parent (in its currency).  ``{entity: [(day index, lines,
    description)]}``."""
    days = business_days()
    out = {e: [] for e in CURRENCY}
    per_sub = 1 + lines // 50000
    for sub in SUBSIDIARIES:
        sc = CURRENCY[sub]
        for k in range(per_sub):
            di = min(len(days) - 1, (k + 1) * len(days) // (per_sub + 1))
            day = days[di]
            usd = size(rng, 5000, 40000, "USD", step=10)
            ref = f"MF-{sub}-{k + 1:04d}"
            local = rates.convert(usd, "USD", sc, day)
            out["P"].append((di, [Line("1300", usd, "USD", None, counterparty=sub, reference=ref),
                                  Line("4100", -usd, "USD", None, department="ADMIN", counterparty=sub)],
                             f"Management fee {ref}"))
            out[sub].append((di, [Line("6500", usd, "USD", local, department="ADMIN", counterparty="P"),
                                  Line("2300", -usd, "USD", -local, counterparty="P", reference=ref)],
                             f"Management fee {ref} from the parent"))
            amt = size(rng, 2000, 15000, sc)
            ref = f"RC-{sub}-{k + 1:04d}"
            usd = rates.convert(amt, sc, "USD", day)
            out[sub].append((di, [Line("1300", amt, sc, None, counterparty="P", reference=ref),
                                  Line("4100", -amt, sc, None, department="OPS", counterparty="P")],
                             f"Shared services recharge {ref}"))
            out["P"].append((di, [Line("6500", amt, sc, usd, department="OPS", counterparty=sub),
                                  Line("2300", -amt, sc, -usd, counterparty=sub, reference=ref)],
                             f"Shared services recharge {ref}"))
    return out


# --------------------------------------------------------------------------------------------
# opening balances and group data

def opening(rng: random.Random, rates: Rates) -> tuple[list, dict, list]:
    """Opening trial balance rows (minor units), the clearing open items per entity, and the
    historical rates rows of the subsidiaries' equity."""
    rows = []
    items = {}

    def add(e, account, amount, ccy=None, acct=None, counterparty=None, reference=None):
        rows.append([e, account, None, ccy or CURRENCY[e], amount, acct, counterparty, reference])

    def total(e):
        return sum(r[5] if r[5] is not None else r[4] for r in rows if r[0] == e)

    historical, equity_group = [], {}
    ic = {}
    for e in SUBSIDIARIES:
        c = CURRENCY[e]
        for account, lo, hi in (("1000", 900_000, 2_000_000), ("1100", 500_000, 1_500_000),
                                ("1400", 20_000, 90_000), ("1800", 800_000, 2_500_000),
                                ("1810", -700_000, -200_000), ("2000", -900_000, -300_000),
                                ("2100", -200_000, -50_000), ("2400", -150_000, -40_000)):
            amount = size(rng, min(abs(lo), abs(hi)), max(abs(lo), abs(hi)), c, step=100)
            add(e, account, amount if lo > 0 else -amount)
        usd = size(rng, 100_000, 400_000, "USD", step=1000)
        ic[e] = usd
        add(e, "2300", -usd, "USD", -rates.convert(usd, "USD", c, PREV_END), counterparty="P")
        items[e] = [(f"OPEN-{e}-{k + 1:03d}", size(rng, 1000, 20000, c)) for k in range(4)]
        for ref, amount in items[e]:
            add(e, "1500", amount, reference=ref)
        share = -size(rng, 500_000, 1_000_000, c, step=1000)
        add(e, "3000", share)
        retained = -total(e)
        add(e, "3100", retained)
        rate = rates.to_usd(c)
        retained_group = int((Decimal(retained) * rates.to_usd(c) * Decimal("1.03")).scaleb(2 - SCALE[c])
                             .quantize(Decimal(1), ROUND_HALF_UP))
        historical.append([e, "3000", rate, None])
        historical.append([e, "3100", None, retained_group])
        share_group = int((Decimal(share) * rate).scaleb(2 - SCALE[c]).quantize(Decimal(1), ROUND_HALF_UP))
        equity_group[e] = -(share_group + retained_group)
    p = "P"
    for account, amount in (("1000", 4_500_000), ("1100", 2_100_000), ("1400", 150_000), ("1800", 3_200_000),
                            ("1810", -900_000), ("2000", -1_400_000), ("2100", -300_000), ("2400", -260_000),
                            ("3000", -9_000_000)):
        add(p, account, amount * 100)
    for ccy in ("EUR", "GBP"):
        for account, amount in (("1010", 250_000), ("1100", 120_000), ("2000", -80_000)):
            a = size(rng, amount if amount > 0 else -amount, (amount if amount > 0 else -amount) + 1, ccy)
            a = a if amount > 0 else -a
            add(p, account, a, ccy, rates.convert(a, ccy, "USD", PREV_END))
    for e in SUBSIDIARIES:
        add(p, "1300", ic[e], counterparty=e)
    items[p] = [(f"OPEN-P-{k + 1:03d}", size(rng, 1000, 20000, "USD")) for k in range(5)]
    for ref, amount in items[p]:
        add(p, "1500", amount, reference=ref)
    ownership = {e[0]: e[4] for e in ENTITIES}
    for e in SUBSIDIARIES:
        goodwill = size(rng, 50_000, 400_000, "USD", step=1000)
        invest = int(Decimal(repr(ownership[e])) * equity_group[e]) // 100_000 * 100_000 + goodwill
        add(p, INVESTMENT[e], invest, counterparty=e)
    add(p, "3100", -total(p))
    return rows, items, historical


def periods() -> list[list]:
    rows = []
    for m in range(1, 13):
        start = date(YEAR, m, 1)
        end = date(YEAR + (m == 12), m % 12 + 1, 1) - timedelta(days=1)
        rows.append([f"{YEAR}-{m:02d}", start, end, YEAR, "Open"])
    return rows


def allocation_rows() -> tuple[list, list]:
    rules = [["RENT", 1, None, "6100", "ADMIN", "basis", "headcount", "6100", d, None, None] for d in TARGETS]
    rules += [["IT", 2, None, "6200", "ADMIN", "equal", None, "6200", d, None, None] for d in TARGETS]
    rules += [["UTIL", 3, None, "6900", "ADMIN", "fixed_percent", None, "6900", d, v, None]
              for d, v in (("PROD", 50), ("OPS", 30), ("SALES", 20))]
    heads = {"SALES": 14, "PROD": 31, "RND": 12, "OPS": 9, "MKT": 6}
    stats = [["headcount", e, None, d, heads[d] + 3 * i + (j % 3)]
             for i, e in enumerate(CURRENCY) for j, d in enumerate(TARGETS)]
    return rules, stats


def elimination_rows() -> list:
    rows = [["IC-BALANCES", "intercompany", "1300", "2300", "7950", None, None,
             "Intercompany receivables against payables"],
            ["IC-CHARGES", "intercompany", "4100", "6500", "7950", None, None,
             "Management fees and recharges between group entities"]]
    for e in SUBSIDIARIES:
        rows.append([f"INV-{e}", "investment", INVESTMENT[e], "3000,3100", "1700", "P", e,
                     f"Investment in {next(x[1] for x in ENTITIES if x[0] == e)}"])
    return rows


# --------------------------------------------------------------------------------------------
# the same transactions as an hledger journal

class Hledger:
    """The opening balances and January journals as an hledger journal, to time ``hledger
    bal`` on the same transactions: one transaction per journal (per entity), each posting to
    ``ENTITY:ACCOUNT`` (``:DEPARTMENT`` when it has one) in its currency, a foreign-currency
    line at its cost in the entity's currency (``@@``), so each balances as the close checks it."""

    def __init__(self, path: Path):
        self.fh = open(path, "w", encoding="utf-8", newline="\n")
        self.transactions = 0

    @staticmethod
    def amount(minor: int, ccy: str) -> str:
        s = SCALE[ccy]
        sign = "-" if minor < 0 else ""
        whole, frac = divmod(abs(minor), 10 ** s)
        return f"{ccy} {sign}{whole}" + (f".{frac:0{s}d}" if s else "")

    def posting(self, entity, account, department, ccy, minor, acct) -> str:
        name = f"{entity}:{account}" + (f":{department}" if department else "")
        text = f"    {name}  {self.amount(minor, ccy)}"
        if acct is not None and ccy != CURRENCY[entity]:
            text += f" @@ {self.amount(abs(acct), CURRENCY[entity])}"
        return text

    def opening(self, rows) -> None:
        by_entity = {}
        for e, account, department, ccy, balance, acct, *_ in rows:
            by_entity.setdefault(e, []).append(self.posting(e, account, department, ccy, balance, acct))
        for e, postings in by_entity.items():
            self.fh.write(f"{OPENING.isoformat()} Opening balances {e}\n" + "\n".join(postings) + "\n\n")
            self.transactions += 1

    def journals(self, rows):
        """Pass the Journals rows through, writing one transaction per journal."""
        current, head, postings = None, "", []
        for row in rows:
            number, _line, ds, e, account, dept, ccy, debit, credit, acct, desc = row[:11]
            if number != current:
                if postings:
                    self.fh.write(head + "\n".join(postings) + "\n\n")
                    self.transactions += 1
                current, postings = number, []
                day = EXCEL_EPOCH + timedelta(days=ds)
                head = f"{day.isoformat()} ({number}) {desc}\n"
            postings.append(self.posting(e, account, dept, ccy, debit if debit is not None else -credit, acct))
            yield row
        if postings:
            self.fh.write(head + "\n".join(postings) + "\n\n")
            self.transactions += 1

    def close(self) -> None:
        self.fh.close()


# --------------------------------------------------------------------------------------------
# writing

class Writer:
    """One workbook in constant-memory mode; sheets are written row by row, in order."""

    def __init__(self, path: Path):
        self.path = path
        self.wb = xlsxwriter.Workbook(str(path), OPTIONS)
        self.wb.set_properties({"title": path.stem, "author": "closebatch bench", "company": "Meridian",
                                "created": CREATED})
        f = self.wb.add_format
        self.fmt = {"code": f({"num_format": "@"}), "text": f({"num_format": "@"}),
                    "amount2": f({"num_format": "#,##0.00;-#,##0.00"}), "amount0": f({"num_format": "#,##0;-#,##0"}),
                    "rate": f({"num_format": "0.0000######"}), "number": f({"num_format": "0.####"}),
                    "integer": f({"num_format": "0"}), "date": f({"num_format": "yyyy-mm-dd"})}
        self.header = f({"bold": True, "bg_color": "#DDEBF7", "border": 1})

    def sheet(self, name: str, rows) -> int:
        """Write ``rows`` (an iterable of lists in LAYOUT order; amounts in minor units of the
        row's currency, dates as ``date`` or Excel serials).  Returns the number of rows."""
        layout = LAYOUT[name]
        ws = self.wb.add_worksheet(name)
        for c, (col, kind) in enumerate(layout):
            width = max(len(col) + 3, {"text": 30, "date": 12, "amount": 15, "rate": 12}.get(kind, 10))
            ws.set_column(c, c, width)
        ws.freeze_panes(1, 0)
        for c, (col, _) in enumerate(layout):
            ws.write_string(0, c, col, self.header)
        names = [col for col, _ in layout]
        ccy_col = names.index("currency") if "currency" in names else None
        acct_cols = {names.index(c) for c in ("amount_acct", "balance_acct") if c in names}
        ent_col = names.index("entity") if "entity" in names else None
        ws_string, ws_number = ws.write_string, ws.write_number
        fmts = [self.fmt.get(kind, self.fmt["code"]) for _, kind in layout]
        kinds = [kind for _, kind in layout]
        r = 0
        for row in rows:
            r += 1
            assert len(row) == len(layout), (name, row)
            scale = SCALE.get(row[ccy_col], 2) if ccy_col is not None else 2
            for c, v in enumerate(row):
                if v is None:
                    continue
                kind = kinds[c]
                if kind == "amount":
                    s = scale
                    if c in acct_cols:
                        s = SCALE[CURRENCY[row[ent_col]]] if ent_col is not None and name != "HistoricalRates" else 2
                    rc = ws_number(r, c, v / 10 ** s if s else float(v), self.fmt["amount2" if s else "amount0"])
                elif kind == "date":
                    rc = ws_number(r, c, serial(v) if isinstance(v, date) else v, fmts[c])
                elif isinstance(v, str):
                    rc = ws_string(r, c, v, fmts[c])
                else:
                    rc = ws_number(r, c, float(v), fmts[c])
                if rc:
                    raise ValueError(f"{self.path.name}!{name} row {r + 1}: xlsxwriter returned {rc}")
        ws.autofilter(0, 0, max(r, 1), len(layout) - 1)
        return r

    def close(self):
        self.wb.close()


SHEET_LINES = 1_000_000  # an entity's journal lines per workbook; more go on in "Journals E Jan (2).xlsx"...


def _parts(rows, limit: int):
    """The journal rows ``rows`` in parts of about ``limit`` rows, each ending where a journal
    ends (a journal is never split over two workbooks: its number would be found in both).
    Each part is an iterator to be used up before the next is taken."""
    it = iter(rows)
    state = {"next": next(it, None)}

    def part():
        n = 0
        while state["next"] is not None:
            row = state["next"]
            if n >= limit and row[1] == 1:  # a new journal's first line, past the limit
                return
            yield row
            n += 1
            state["next"] = next(it, None)

    while state["next"] is not None:
        yield part()


def write(path: Path, sheets: dict) -> int:
    w = Writer(path)
    n = sum(w.sheet(name, rows) for name, rows in sheets.items())
    w.close()
    return n


def generate(folder: Path, lines: int = 10_000, seed: int = 1, shape: str = "mix", hledger: Path | None = None) -> dict:
    """Write the books folder; returns a summary (files, journal lines per entity, counts).
    ``shape``: ``mix`` (invoices of one to three revenue lines, receipts, payroll, expenses of
    up to five lines: about 2.5 lines a journal) or ``short`` (two or three lines a journal,
    as invoice and payment postings are).  ``hledger``: also write the opening balances and
    the journals there as an hledger journal."""
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {', '.join(SHAPES)}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    rates = Rates(random.Random(rng.getrandbits(64)))
    tb, items, historical = opening(random.Random(rng.getrandbits(64)), rates)
    ic = intercompany(random.Random(rng.getrandbits(64)), rates, lines)
    entity_seeds = {e: rng.getrandbits(64) for e in CURRENCY}
    files = []

    def out(name):
        files.append(folder / name)
        return folder / name

    write(out("Master data.xlsx"), {
        "Settings": [list(s) for s in SETTINGS],
        "Entities": [list(e[:6]) for e in ENTITIES],
        "Accounts": [list(a) for a in ACCOUNTS],
        "Periods": periods(),
        "Users": [list(u) for u in USERS],
    })
    write(out("Opening balances 2026.xlsx"), {"TrialBalance": tb})
    ledger = Hledger(Path(hledger)) if hledger else None
    if ledger:
        ledger.opening(tb)
    write(out("Rates 2026.xlsx"), {"Rates": [list(r) for r in rates.rows]})
    rules, stats = allocation_rows()
    write(out("Allocations.xlsx"), {"Allocations": rules, "Statistics": stats})
    write(out("Group consolidation.xlsx"), {"Eliminations": elimination_rows(), "HistoricalRates": historical})
    write(out("Close checklist.xlsx"), {"Tasks": TASKS})
    summary = {"files": files, "lines": {}, "counts": {}}
    for code, *_, share in ENTITIES:
        ent = Entity(code, max(60, int(lines * share)), random.Random(entity_seeds[code]), rates, ic[code],
                     items[code], shape)
        rows = ent.rows() if ledger is None else ledger.journals(ent.rows())
        n = 0
        for k, part in enumerate(_parts(rows, SHEET_LINES), start=1):  # a sheet holds about a million lines
            n += write(out(f"Journals {code} Jan.xlsx" if k == 1 else f"Journals {code} Jan ({k}).xlsx"),
                       {"Journals": part})
        summary["lines"][code] = n
        summary["counts"][code] = dict(ent.counts, journals=ent.number)
    summary["total_lines"] = sum(summary["lines"].values())
    summary["journals"] = sum(c["journals"] for c in summary["counts"].values())
    if ledger:
        ledger.close()
        summary["hledger_transactions"] = ledger.transactions
    return summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="books folder to write (created if missing)")
    parser.add_argument("--lines", type=int, default=10_000, help="about this many journal lines (default 10000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--shape", choices=SHAPES, default="mix",
                        help="mix (about 2.5 lines a journal, default) or short (two or three lines a journal)")
    parser.add_argument("--hledger", type=Path, help="also write the same transactions as an hledger journal here")
    args = parser.parse_args(argv)
    if args.lines < 300:
        parser.error("--lines must be at least 300")
    s = generate(args.folder, args.lines, args.seed, args.shape, args.hledger)
    for p in s["files"]:
        print(p)
    print(f"{s['journals']} journals")
    print(f"{s['total_lines']} journal lines: " + ", ".join(f"{e} {n}" for e, n in s["lines"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
