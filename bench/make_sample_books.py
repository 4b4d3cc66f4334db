"""Write the demo books folder of the Northwind group, deterministically.

    python bench/make_sample_books.py sample_books

The group: Northwind Holdings Inc. (US, USD, the parent), Northwind Danmark ApS (DK, DKK,
100 % owned) and Northwind UK Ltd (UK, GBP, 80 % owned).  The folder holds master data,
opening balances at 2026-01-01, January 2026 journals (one workbook per entity), the rates of
2026, allocation rules and statistics, elimination rules, historical rates, a close checklist
and users.  Amounts are built in integer cents and every journal is checked to balance per
entity in accounting currency (lines without ``amount_acct`` converted at the spot rate)
before anything is written.  A seeded random generator and fixed workbook dates make the
bytes reproducible: running the script twice gives identical files.
"""
from __future__ import annotations

import argparse
import random
import sys
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext
from pathlib import Path

import xlsxwriter

SEED = 2026
CREATED = datetime(2026, 1, 1)
OPTIONS = {"strings_to_formulas": False, "strings_to_urls": False, "nan_inf_to_errors": True}
YEAR = 2026
OPENING = date(YEAR, 1, 1)
JAN_END = date(YEAR, 1, 31)
REVERSE_ON = date(YEAR, 2, 1)

ENTITIES = [  # entity, name, currency, parent, ownership, consolidate
    ("US", "Northwind Holdings Inc.", "USD", None, None, "Y"),
    ("DK", "Northwind Danmark ApS", "DKK", "US", 1.0, "Y"),
    ("UK", "Northwind UK Ltd", "GBP", "US", 0.8, "Y"),
]
CURRENCY = {e[0]: e[2] for e in ENTITIES}
USERS = [("lisa.morgan", "controllers"), ("jonas.holm", "controllers")]
PREPARER = {"US": "lisa.morgan", "DK": "jonas.holm", "UK": "lisa.morgan"}
DEPARTMENTS = ("SALES", "PROD", "ADMIN")

FX_GROUP = "Foreign exchange result"
ACCOUNTS = [  # account, name, type, revalue, settle, statement_line
    ("1000", "Bank", "Asset", "N", "N", "Cash and cash equivalents"),
    ("1010", "Bank EUR", "Asset", "Y", "N", "Cash and cash equivalents"),
    ("1100", "Trade receivables", "Asset", "Y", "N", None),
    ("1300", "Intercompany receivables", "Asset", "Y", "N", None),
    ("1400", "Prepaid expenses", "Asset", "N", "N", None),
    ("1500", "Bank clearing", "Asset", "N", "Y", "Cash and cash equivalents"),
    ("1610", "Investment in Northwind Danmark ApS", "Asset", "N", "N", "Investments in subsidiaries"),
    ("1620", "Investment in Northwind UK Ltd", "Asset", "N", "N", "Investments in subsidiaries"),
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
    ("4100", "Management fee income", "Revenue", "N", "N", "Other operating income"),
    ("5000", "Cost of sales", "Expense", "N", "N", None),
    ("6000", "Salaries", "Expense", "N", "N", "Staff costs"),
    ("6100", "Rent", "Expense", "N", "N", "Premises"),
    ("6200", "IT costs", "Expense", "N", "N", None),
    ("6300", "Professional fees", "Expense", "N", "N", None),
    ("6400", "Marketing", "Expense", "N", "N", None),
    ("6500", "Management fees", "Expense", "N", "N", "Other operating expenses"),
    ("6800", "Depreciation", "Expense", "N", "N", None),
    ("6900", "Utilities and office", "Expense", "N", "N", "Premises"),
    ("7900", "Unrealized FX gain", "Revenue", "N", "N", FX_GROUP),
    ("7910", "Unrealized FX loss", "Expense", "N", "N", FX_GROUP),
    ("7920", "Realized FX gain", "Revenue", "N", "N", FX_GROUP),
    ("7930", "Realized FX loss", "Expense", "N", "N", FX_GROUP),
    ("7950", "Intercompany difference", "Expense", "N", "N", None),
    ("8900", "Profit attributable to non-controlling interests", "Expense", "N", "N", None),
    ("9990", "Rounding", "Expense", "N", "N", FX_GROUP),
]

#: cash_flow of the accounts that do not take the default (operating for assets and liabilities,
#: financing for equity): the bank accounts are cash, investments and equipment are investing;
#: accumulated depreciation stays operating (depreciation is added back to profit).
CASH_FLOW = {"1000": "cash", "1010": "cash", "1500": "cash", "1610": "investing", "1620": "investing",
             "1800": "investing", "1810": "operating"}

SETTINGS = [
    ("group_currency", "USD"),
    ("dimensions", "department"),
    ("unrealized_gain_account", "7900"),
    ("unrealized_loss_account", "7910"),
    ("realized_gain_account", "7920"),
    ("realized_loss_account", "7930"),
    ("retained_earnings_account", "3100"),
    ("translation_reserve_account", "3900"),
    ("nci_account", "3950"),
    ("nci_profit_account", "8900"),
    ("rounding_account", "9990"),
    ("rounding_tolerance", 0.05),
    ("reverse_revaluation", "N"),
    ("revaluation_rate_type", "closing"),
]

HEADCOUNT = {"US": {"SALES": 14, "PROD": 22, "ADMIN": 9},
             "DK": {"SALES": 6, "PROD": 11, "ADMIN": 4},
             "UK": {"SALES": 8, "PROD": 5, "ADMIN": 3}}

CUSTOMERS = {
    "US": ["Acme Retail", "Bluebird Foods", "Cedar Logistics", "Delta Outfitters", "Evergreen Markets",
           "Fairway Supply", "Granite Hardware", "Harbor Grocers"],
    "DK": ["Nordlys A/S", "Havn Handel ApS", "Skov Design", "Fjord Fiskeri", "Bølge Retail"],
    "UK": ["Thames Traders", "Pennine Stores", "Cotswold Goods", "Mersey Wholesale", "Solent Supplies"],
}
EUR_CUSTOMERS = ["Rhein Handel GmbH", "Lumière SARL", "Van Dijk BV"]
SUPPLIERS = {
    "US": ["Midwest Components", "Pacific Packaging", "Summit Plastics"],
    "DK": ["Jysk Emballage", "Dansk Stål A/S", "Øresund Plast"],
    "UK": ["Clyde Components", "Severn Packaging", "Humber Metals"],
}
SCALE = {"USD": 1, "DKK": 7, "GBP": Decimal("0.8")}  # rough size of local amounts vs USD

#: Workbook column layouts: (header, cell kind).  Kinds: code/text (text), amount, rate,
#: number, integer, percent, date.
LAYOUT = {
    "Settings": [("key", "code"), ("value", "code")],
    "Entities": [("entity", "code"), ("name", "text"), ("currency", "code"), ("parent", "code"),
                 ("ownership", "percent"), ("consolidate", "code")],
    "Accounts": [("account", "code"), ("name", "text"), ("type", "code"), ("revalue", "code"),
                 ("settle", "code"), ("translation", "code"), ("revaluation_rate_type", "code"),
                 ("statement_line", "text"), ("control", "code"), ("cash_flow", "code")],
    "Periods": [("period", "code"), ("start", "date"), ("end", "date"), ("fiscal_year", "integer"),
                ("status", "code"), ("access_group", "code")],
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
              ("depends_on", "code"), ("required", "code"), ("step", "code"), ("review", "code")],
    "Checklist": [("task", "code"), ("period", "code"), ("status", "code"), ("prepared_by", "code"),
                  ("prepared_on", "date"), ("reviewed_by", "code"), ("reviewed_on", "date"), ("note", "text")],
}


# --------------------------------------------------------------------------------------------
# money and rates

def cents(value) -> int:
    """A decimal amount (str, int or Decimal) as integer cents."""
    return int((Decimal(str(value)) * 100).to_integral_value(ROUND_HALF_UP))


def convert(amount_cents: int, rate: Decimal, inverse: bool = False) -> int:
    """Convert cents at ``rate`` (or 1 / rate), rounding half away from zero (2-digit currencies)."""
    with localcontext() as ctx:
        ctx.prec = 60
        value = Decimal(amount_cents) / rate if inverse else Decimal(amount_cents) * rate
        return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def make_rates(rng: random.Random) -> list[tuple]:
    """Rates of 2026: a gently drifting daily series per currency, published as spot on the 1st
    and the 15th, closing on the last day and average (the mean of the month) on the last day."""
    eur, gbp = [Decimal("1.0785")], [Decimal("1.2700")]
    day, days = OPENING, [OPENING]
    while day < date(YEAR, 12, 31):
        day += timedelta(days=1)
        days.append(day)
        shock = _noise(rng)
        eur.append(eur[-1] * (1 + Decimal(str(round(0.00008 + 0.0025 * shock, 8)))))
        gbp.append(gbp[-1] * (1 + Decimal(str(round(0.00002 + 0.0018 * (0.5 * shock + 0.85 * _noise(rng)), 8)))))
    peg = Decimal("7.4604")
    series = {"EUR": [e.quantize(Decimal("0.0001")) for e in eur],
              "GBP": [g.quantize(Decimal("0.0001")) for g in gbp],
              "DKK": [(e / peg).quantize(Decimal("0.000001")) for e in eur]}
    digits = {"EUR": Decimal("0.0001"), "GBP": Decimal("0.0001"), "DKK": Decimal("0.000001")}
    rows = []
    for ccy in ("EUR", "DKK", "GBP"):
        values = dict(zip(days, series[ccy]))
        for m in range(1, 13):
            month = [d for d in days if d.month == m]
            rows.append((ccy, "USD", month[0], values[month[0]], "spot"))
            rows.append((ccy, "USD", month[14], values[month[14]], "spot"))
            rows.append((ccy, "USD", month[-1], values[month[-1]], "closing"))
            mean = sum(values[d] for d in month) / len(month)
            rows.append((ccy, "USD", month[-1], mean.quantize(digits[ccy], ROUND_HALF_UP), "average"))
    return rows


def _noise(rng: random.Random) -> float:
    """A bell-shaped shock in about [-1.7, 1.7] from uniform draws (stable across Python versions)."""
    return sum(rng.random() for _ in range(4)) - 2.0


class SpotRates:
    """Spot lookup as the spec has it: latest direct entry dated on or before, else the inverse."""

    def __init__(self, rates):
        self.entries = sorted((r for r in rates if r[4] == "spot"), key=lambda r: r[2])

    def rate(self, frm: str, to: str, day: date) -> tuple[Decimal, bool]:
        for pair, inverse in (((frm, to), False), ((to, frm), True)):
            found = [r for r in self.entries if (r[0], r[1]) == pair and r[2] <= day]
            if found:
                return found[-1][3], inverse
        raise KeyError(f"no spot rate {frm}/{to} on {day}")

    def convert(self, amount_cents: int, frm: str, to: str, day: date) -> int:
        if frm == to:
            return amount_cents
        rate, inverse = self.rate(frm, to, day)
        return convert(amount_cents, rate, inverse)


# --------------------------------------------------------------------------------------------
# journals

class Journals:
    """Builds journal lines in cents and checks every journal balances per entity."""

    def __init__(self, spot: SpotRates):
        self.spot = spot
        self.journals: dict[str, list[list[dict]]] = {e: [] for e in CURRENCY}
        self._open: list[dict] = []

    def journal(self, entity: str, day: date, description: str, kind: str = "daily", reverse_on=None):
        self.close()
        self._head = dict(date=day, entity=entity,
                          description=description, type=kind, reverse_on=reverse_on,
                          prepared_by=PREPARER[entity])
        return self

    def line(self, account: str, amount: int, currency: str | None = None, acct: int | None = None,
             department: str | None = None, reference: str | None = None, counterparty: str | None = None,
             description: str | None = None):
        """A line of ``amount`` cents (debit positive); ``acct`` = amount_acct in cents, or None."""
        assert amount != 0
        h = self._head
        self._open.append(dict(h, account=account, amount=amount, currency=currency or CURRENCY[h["entity"]],
                               acct=acct, department=department, reference=reference,
                               counterparty=counterparty, description=description or h["description"]))
        return self

    def close(self) -> None:
        """Check the journal being built balances in accounting currency, then keep it."""
        if not self._open:
            return
        entity = self._open[0]["entity"]
        total = sum(self.acct_of(ln) for ln in self._open)
        if total != 0:
            raise AssertionError(f"journal {self._open[0]['description']!r} is off by {total} cents")
        self.journals[entity].append(self._open)
        self._open = []

    def acct_of(self, ln: dict) -> int:
        if ln["acct"] is not None:
            return ln["acct"]
        return self.spot.convert(ln["amount"], ln["currency"], CURRENCY[ln["entity"]], ln["date"])

    def rows(self, entity: str) -> list[list]:
        """The entity's lines, journals numbered in date order (US26-0001, ...)."""
        out = []
        ordered = sorted(self.journals[entity], key=lambda lines: lines[0]["date"])  # stable
        for number, lines in enumerate(ordered, start=1):
            for i, ln in enumerate(lines, start=1):
                out.append(self._row(f"{entity}{YEAR % 100}-{number:04d}", i, ln))
        return out

    @staticmethod
    def _row(journal: str, line: int, ln: dict) -> list:
        a = ln["amount"]
        return [journal, line, ln["date"], ln["entity"], ln["account"], ln["department"], ln["currency"],
                _dec(a) if a > 0 else None, _dec(-a) if a < 0 else None,
                _dec(ln["acct"]) if ln["acct"] is not None else None, ln["description"], ln["reference"],
                ln["counterparty"], ln["type"], "Y", ln["reverse_on"], ln["prepared_by"]]


def _dec(c: int) -> Decimal:
    return Decimal(c).scaleb(-2)


def business_days() -> list[date]:
    """The working days of January 2026 (New Year's Day off)."""
    days = [date(YEAR, 1, d) for d in range(2, 32)]
    return [d for d in days if d.weekday() < 5]


def next_business(day: date) -> date:
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def money(rng: random.Random, low: int, high: int, entity: str, step: int = 1) -> int:
    """Random cents between low and high USD-equivalent (scaled to the entity's currency)."""
    scale = SCALE[CURRENCY[entity]]
    lo, hi = int(low * scale), int(high * scale)
    return rng.randrange(lo, hi) // step * step * 100 + (rng.randrange(100) if step == 1 else 0)


def make_journals(rng: random.Random, spot: SpotRates, opening_items: dict) -> Journals:
    j = Journals(spot)
    days = business_days()
    for e in ("US", "DK", "UK"):
        _daily_entity(j, rng, e, days, opening_items[e])
    _eur_activity(j, rng, days)
    _intercompany(j, spot)
    for e in ("US", "DK", "UK"):
        _period_end(j, rng, e)
    j.close()
    return j


def _daily_entity(j: Journals, rng: random.Random, e: str, days: list[date], opening_items: list) -> None:
    ccy = CURRENCY[e]
    n_sales = {"US": 14, "DK": 11, "UK": 10}[e]
    invoices = []
    for k in range(n_sales):
        day = days[min(len(days) - 1, k * len(days) // n_sales + rng.randrange(2))]
        customer = rng.choice(CUSTOMERS[e])
        number = f"INV-{e}-{26000 + k + 1}"
        parts = [money(rng, 1500, 28000, e) for _ in range(rng.randrange(1, 4))]
        j.journal(e, day, f"Invoice {number} {customer}")
        j.line("1100", sum(parts), reference=number)
        for p in parts:
            j.line("4000", -p, department="SALES")
        invoices.append((day, number, customer, sum(parts)))

    # customer receipts go through the bank clearing account: the receipt (clearing debit, by
    # deposit reference) and the bank statement line (clearing credit) settle each other
    paid = invoices[: {"US": 9, "DK": 7, "UK": 6}[e]]
    deposit = 0
    for i in range(0, len(paid), 2):
        batch = paid[i:i + 2]
        deposit += 1
        ref = f"DEP-{e}-26{deposit:03d}"
        day = min(next_business(max(d for d, *_ in batch) + timedelta(days=3)), date(YEAR, 1, 28))
        for _, number, customer, amount in batch:
            j.journal(e, day, f"Receipt {number} {customer}")
            j.line("1500", amount, reference=ref).line("1100", -amount, reference=number)
        if i + 2 < len(paid) or e != "US":  # the last US deposit is dated in February: still open
            total = sum(a for *_, a in batch)
            bank_day = min(next_business(day + timedelta(days=1)), date(YEAR, 1, 30))
            j.journal(e, bank_day, f"Bank statement deposit {ref}")
            j.line("1000", total).line("1500", -total, reference=ref)
    # a receipt whose bank line carries another reference: paired by amount when settling
    _, number, customer, amount = invoices[len(paid)]
    j.journal(e, days[-6], f"Receipt {number} {customer}")
    j.line("1500", amount, reference=f"DEP-{e}-26{deposit + 1:03d}").line("1100", -amount, reference=number)
    j.journal(e, days[-5], "Bank statement deposit")
    j.line("1000", amount).line("1500", -amount, reference=f"BNK-{e}-0126")
    # a late receipt not yet on the bank statement: stays open
    _, number, customer, amount = invoices[len(paid) + 1]
    j.journal(e, days[-1], f"Receipt {number} {customer}")
    j.line("1500", amount, reference=f"DEP-{e}-26{deposit + 2:03d}").line("1100", -amount, reference=number)
    # opening open items: all but the last are cleared by the bank statement on the first days
    for ref, amount in opening_items[:-1]:
        j.journal(e, days[0], f"Bank statement {ref}")
        j.line("1000", amount).line("1500", -amount, reference=ref)

    # supplier invoices
    for k in range({"US": 10, "DK": 8, "UK": 7}[e]):
        day = days[rng.randrange(len(days))]
        supplier = rng.choice(SUPPLIERS[e])
        number = f"SI-{e}-{5100 + k}"
        cost = money(rng, 2500, 24000, e)
        account, dept = ("5000", "PROD") if k % 3 else ("6400", "SALES")
        j.journal(e, day, f"Supplier invoice {number} {supplier}")
        j.line(account, cost, department=dept).line("2000", -cost, reference=number)
    # supplier payments of opening payables
    for k in range({"US": 6, "DK": 4, "UK": 4}[e]):
        pay = money(rng, 3000, 20000, e, step=10)
        j.journal(e, days[3 + 3 * k], f"Payment run {k + 1}")
        j.line("2000", pay).line("1000", -pay)

    # rent (booked to ADMIN, allocated by headcount), IT (allocated equally), professional fees
    rent = {"US": cents(38500), "DK": cents(214000), "UK": cents(21750)}[e]
    j.journal(e, days[0], "Office rent January")
    j.line("6100", rent, department="ADMIN").line("2000", -rent, reference=f"RENT-{e}-2601")
    for k, vendor in enumerate(("Cloud hosting", "Office software licences", "IT support contract")):
        it = money(rng, 1800, 9500, e)
        j.journal(e, days[2 + 5 * k], f"{vendor} January")
        j.line("6200", it, department="ADMIN").line("2000", -it, reference=f"IT-{e}-{2601 + k}")
    fees = money(rng, 2000, 6000, e, step=50)
    j.journal(e, days[8], "Legal counsel retainer")
    j.line("6300", fees, department="ADMIN").line("2000", -fees, reference=f"LAW-{e}-2601")

    # salaries by department: gross to expense, withholdings to payroll liabilities, net paid
    per_head = {"USD": 8200, "DKK": 52000, "GBP": 5100}[ccy]
    j.journal(e, days[-2], "Payroll January")
    gross_total = 0
    for dept in DEPARTMENTS:
        gross = cents(per_head * HEADCOUNT[e][dept]) + rng.randrange(-250_000, 250_000)
        gross_total += gross
        j.line("6000", gross, department=dept, description=f"Salaries January {dept}")
    withheld = gross_total * 27 // 100
    j.line("2400", -withheld, description="Payroll taxes and withholdings")
    j.line("1000", -(gross_total - withheld), description="Net pay")


def _eur_activity(j: Journals, rng: random.Random, days: list[date]) -> None:
    """EUR business of the US entity."""
    # EUR invoices in whole hundreds of EUR: amount_acct blank, converted at the spot rate of
    # the invoice date; every line converts exactly, so the journal balances after conversion
    for k, day in enumerate((days[1], days[6], days[9], days[15])):
        customer = EUR_CUSTOMERS[k % len(EUR_CUSTOMERS)]
        number = f"INV-US-E{k + 1:03d}"
        parts = [rng.randrange(20, 160) * 10000 for _ in range(1 + k % 2)]
        j.journal("US", day, f"Invoice {number} {customer}")
        j.line("1100", sum(parts), "EUR", reference=number)
        for p in parts:
            j.line("4000", -p, "EUR", department="SALES")
    # an EUR supplier invoice booked at the supplier's invoice rate (amount_acct given)
    cost = cents("8437.60")
    usd = convert(cost, Decimal("1.0791"))
    j.journal("US", days[4], "Supplier invoice SI-US-E77 Rhein Handel GmbH")
    j.line("5000", cost, "EUR", usd, department="PROD").line("2000", -cost, "EUR", -usd, reference="SI-US-E77")
    # an opening EUR receivable collected through the clearing account at its book rate; the
    # bank credits it at the day's spot rate: the settled group carries a realized FX difference
    eur = cents(30000)
    book = convert(eur, Decimal("1.0785"))
    j.journal("US", days[5], "Receipt Lumière SARL opening invoice")
    j.line("1500", eur, "EUR", book, reference="EUR-DEP-0109")
    j.line("1100", -eur, "EUR", -book, reference="INV-US-E2025-41")
    bank_day = days[10]  # after the mid-month spot rate: the EUR is worth more than at booking
    at_spot = j.spot.convert(eur, "EUR", "USD", bank_day)
    j.journal("US", bank_day, "Bank statement EUR deposit EUR-DEP-0109")
    j.line("1010", eur, "EUR", at_spot).line("1500", -eur, "EUR", -at_spot, reference="EUR-DEP-0109")
    # a partly paid EUR payable, the FX difference realized by the preparer in the journal
    eur = cents(12000)
    book, at_spot = convert(eur, Decimal("1.0785")), j.spot.convert(eur, "EUR", "USD", days[12])
    j.journal("US", days[12], "Payment Van Dijk BV (EUR)")
    j.line("2000", eur, "EUR", book, reference="SI-US-E2025-88").line("1010", -eur, "EUR", -at_spot)
    diff = at_spot - book
    j.line("7930" if diff > 0 else "7920", diff, "USD", diff, description="Realized FX on payment")


def _intercompany(j: Journals, spot: SpotRates) -> None:
    """Management fees charged by the parent, and a service recharge from the UK."""
    day = date(YEAR, 1, 30)
    for sub, usd in (("DK", cents(25000)), ("UK", cents(18000))):
        j.journal("US", day, f"Management fee January {sub}")
        j.line("1300", usd, "USD", counterparty=sub, reference=f"MF-{sub}-2601")
        j.line("4100", -usd, "USD", counterparty=sub)
        local = spot.convert(usd, "USD", CURRENCY[sub], day)
        j.journal(sub, day, "Management fee January from US")
        j.line("6500", usd, "USD", local, department="ADMIN", counterparty="US")
        j.line("2300", -usd, "USD", -local, counterparty="US", reference=f"MF-{sub}-2601")
    gbp = cents(6000)
    j.journal("UK", day, "Shared services recharge to US")
    j.line("1300", gbp, counterparty="US", reference="RC-UK-2601").line("4100", -gbp, counterparty="US")
    usd = spot.convert(gbp, "GBP", "USD", day)
    j.journal("US", day, "Shared services recharge from UK")
    j.line("6500", gbp, "GBP", usd, department="ADMIN", counterparty="UK")
    j.line("2300", -gbp, "GBP", -usd, counterparty="UK", reference="RC-UK-2601")


def _period_end(j: Journals, rng: random.Random, e: str) -> None:
    """Manual period-end adjustments: depreciation, and accruals reversed on 1 February."""
    dep = {"US": (cents(9800), cents(4200)), "DK": (cents(51000), cents(17500)),
           "UK": (cents(6100), cents(2400))}[e]
    j.journal(e, JAN_END, "Depreciation January", kind="adjustment")
    j.line("6800", dep[0], department="PROD").line("6800", dep[1], department="ADMIN")
    j.line("1810", -(dep[0] + dep[1]))
    audit = money(rng, 4000, 12000, e, step=100)
    power = money(rng, 1500, 5000, e)
    j.journal(e, JAN_END, "Accruals January (audit, utilities)", kind="adjustment", reverse_on=REVERSE_ON)
    j.line("6300", audit, department="ADMIN", description="Audit fee accrual")
    j.line("6900", power, department="PROD", description="Utilities accrual")
    j.line("2100", -(audit + power), description="Accruals January")


# --------------------------------------------------------------------------------------------
# opening balances and group data

def make_opening(spot: SpotRates) -> tuple[dict, dict, dict]:
    """Opening trial balances per entity (rows), their clearing open items, and the subsidiaries'
    opening retained earnings (cents, accounting currency)."""
    tb = {e: [] for e in CURRENCY}

    def add(e, account, balance, currency=None, acct=None, counterparty=None, reference=None):
        tb[e].append(dict(entity=e, account=account, currency=currency or CURRENCY[e], balance=balance,
                          acct=acct, counterparty=counterparty, reference=reference))

    eur = Decimal("1.0785")
    items = {"US": [("DEP-2025-118", cents(12500)), ("DEP-2025-121", cents(8300)),
                    ("DEP-2025-124", cents(2150))],
             "DK": [("DEP-2025-311", cents(64250)), ("DEP-2025-317", cents(18900))],
             "UK": [("BACS-2025-77", cents(4250)), ("BACS-2025-80", cents("1100.50"))]}
    # Denmark: payable to the parent in USD
    dk_ic = cents(-150000)
    dk_ic_acct = spot.convert(dk_ic, "USD", "DKK", OPENING)
    for account, amount in (("1000", "3215400.00"), ("1100", "2148760.00"), ("1400", "96000.00"),
                            ("1800", "1402500.00"), ("1810", "-351200.00"), ("2000", "-983400.00"),
                            ("2100", "-212600.00"), ("2400", "-187300.00"), ("3000", "-2000000.00")):
        add("DK", account, cents(amount))
    add("DK", "2300", dk_ic, "USD", dk_ic_acct, counterparty="US")
    # United Kingdom: receivable from the parent in GBP
    uk_ic = cents(60000)
    for account, amount in (("1000", "641250.00"), ("1100", "384900.00"), ("1400", "22800.00"),
                            ("1800", "521000.00"), ("1810", "-140300.00"), ("2000", "-295600.00"),
                            ("2100", "-88150.00"), ("2400", "-47350.00"), ("3000", "-500000.00")):
        add("UK", account, cents(amount))
    add("UK", "1300", uk_ic, counterparty="US")
    for e in ("DK", "UK"):
        for ref, amount in items[e]:
            add(e, "1500", amount, reference=ref)
    retained = {}
    for e in ("DK", "UK"):
        retained[e] = -sum(r["acct"] if r["acct"] is not None else r["balance"] for r in tb[e])
        add(e, "3100", retained[e])
    # the parent
    investment = {}
    for e, share_rate, re_rate, goodwill in (("DK", "0.1521", "0.1468", 148000), ("UK", "1.4850", "1.3120", 196000)):
        share = next(r["balance"] for r in tb[e] if r["account"] == "3000")
        equity = -(convert(share, Decimal(share_rate)) + convert(retained[e], Decimal(re_rate)))
        ownership = Decimal(str(next(x[4] for x in ENTITIES if x[0] == e)))
        investment[e] = cents(((ownership * _dec(equity) + goodwill) / 1000).to_integral_value() * 1000)
    for account, amount in (("1000", "1254830.00"), ("1100", "421675.00"), ("1400", "36000.00"),
                            ("1800", "860000.00"), ("1810", "-215400.00"), ("2000", "-310250.00"),
                            ("2100", "-64000.00"), ("2400", "-58120.00"), ("3000", "-3000000.00")):
        add("US", account, cents(amount))
    add("US", "1010", cents(180000), "EUR", convert(cents(180000), eur))
    add("US", "1100", cents(75000), "EUR", convert(cents(75000), eur))
    add("US", "2000", cents(-42000), "EUR", convert(cents(-42000), eur))
    add("US", "1300", -dk_ic, "USD", counterparty="DK")
    add("US", "2300", -uk_ic, "GBP", spot.convert(-uk_ic, "GBP", "USD", OPENING), counterparty="UK")
    for ref, amount in items["US"]:
        add("US", "1500", amount, reference=ref)
    add("US", "1610", investment["DK"], counterparty="DK")
    add("US", "1620", investment["UK"], counterparty="UK")
    add("US", "3100", -sum(r["acct"] if r["acct"] is not None else r["balance"] for r in tb["US"]))
    order = [a[0] for a in ACCOUNTS]
    for e in tb:
        tb[e].sort(key=lambda r: (order.index(r["account"]), r["currency"] != CURRENCY[e]))
    return tb, items, retained


def historical_rates(retained: dict) -> list[list]:
    return [["DK", "3000", Decimal("0.1521"), None],
            ["DK", "3100", None, _dec(convert(retained["DK"], Decimal("0.1468")))],
            ["UK", "3000", Decimal("1.4850"), None],
            ["UK", "3100", None, _dec(convert(retained["UK"], Decimal("1.3120")))]]


def periods() -> list[list]:
    rows = []
    for m in range(1, 13):
        start = date(YEAR, m, 1)
        end = date(YEAR + (m == 12), m % 12 + 1, 1) - timedelta(days=1)
        rows.append([f"{YEAR}-{m:02d}", start, end, YEAR, "Open", None])
    return rows


# The recurring close checklist: persons' tasks (no step: done when a person signs them in the
# period's Checklist) and automated tasks (a step: done by the close; with review = Y a
# person also signs the review).
TASKS = [  # task, name, area, owner, due, depends_on, required, step, review
    ["T01", "All journals entered and posted", "General ledger", "lisa.morgan", -1, None, "Y", "journals_posted",
     "N"],
    ["T02", "Bank reconciliations signed off", "Treasury", "jonas.holm", 1, None, "Y", None, "Y"],
    ["T03", "Settle bank clearing open items", "Treasury", "jonas.holm", 1, "T01,T02", "Y", "settlement", "N"],
    ["T04", "Revalue foreign-currency balances", "General ledger", "lisa.morgan", 2, "T03", "Y", "revaluation", "N"],
    ["T05", "Review accruals and reversing entries", "General ledger", "lisa.morgan", 2, "T01", "Y", None, "Y"],
    ["T06", "Allocate rent and IT costs to departments", "Cost accounting", "jonas.holm", 3, "T04", "Y",
     "allocation", "N"],
    ["T07", "Consolidate the group", "Group reporting", "lisa.morgan", 4, "T04,T06", "Y", "consolidation", "N"],
    ["T08", "Reconcile intercompany balances with the counterparties", "Group reporting", "jonas.holm", 4, "T07", "Y",
     None, "Y"],
    ["T09", "Update the cash forecast", "Treasury", "jonas.holm", 4, "T02", "N", None, "N"],
    ["T10", "Review financial statements", "Group reporting", "lisa.morgan", 5, "T07,T08", "Y", "statements", "Y"],
    ["T11", "Put the period on hold", "Group reporting", "lisa.morgan", 5, "T10", "Y", "lock", "N"],
]

# January's checklist as the team left it before the close: the persons' tasks signed (the
# intercompany reconciliation and the bank reconciliation reviewed by the other controller),
# the cash forecast still in progress; the review of the statements waits for the close.
CHECKLIST = [  # task, period, status, prepared_by, prepared_on, reviewed_by, reviewed_on, note
    ["T02", "2026-01", "Done", "jonas.holm", date(2026, 2, 2), "lisa.morgan", date(2026, 2, 2), None],
    ["T05", "2026-01", "Done", "lisa.morgan", date(2026, 2, 2), "jonas.holm", date(2026, 2, 3), None],
    ["T08", "2026-01", "Done", "jonas.holm", date(2026, 2, 4), "lisa.morgan", date(2026, 2, 4),
     "IC-FEES differences of 69.98 and 13.79 USD agreed with DK and UK: timing of the fee invoices"],
    ["T09", "2026-01", "In progress", "jonas.holm", None, None, None, None],
    ["T10", "2026-01", "Done", None, None, "jonas.holm", date(2026, 2, 5),
     "Statements reviewed; remove this row to see the close stop short of the lock"],
]

README = """\
# Sample books: the Northwind group

A demo books folder for closebatch, generated by `bench/make_sample_books.py` (do not edit the
workbooks by hand; change the script and run `python bench/make_sample_books.py sample_books`).

The group closes in USD:

| entity | name | currency | owned by |
|---|---|---|---|
| US | Northwind Holdings Inc. | USD | (parent) |
| DK | Northwind Danmark ApS | DKK | US, 100% |
| UK | Northwind UK Ltd | GBP | US, 80% |

Inside: master data (`Master data.xlsx`), opening balances at 2026-01-01 per entity, January
2026 journals per entity (sales, purchases, rent, payroll by department, bank clearing, EUR
invoices, intercompany management fees, period-end adjustments with reversals), the 2026
exchange rates, allocation rules with a headcount statistic, elimination rules with historical
rates, the close checklist (`Tasks`: persons' tasks, and automated tasks that the close does)
and January's sign-offs (`Checklist 2026-01.xlsx`).

Close January:

    closebatch close sample_books --period 2026-01

The results go to `sample_books/out/2026-01/`; the ledger the next close starts from goes to
`sample_books/ledger/`. Both are ignored by git. Every required task of January is signed
(T10, the review of the financial statements, by jonas.holm), so the close puts January on
hold. Take T10's row out of `Checklist 2026-01.xlsx` and the close leaves January Open (exit
status 3) with a blocker that names the cell to sign.
`closebatch checklist sample_books --period 2026-02` then writes February's checklist.
"""


# --------------------------------------------------------------------------------------------
# writing

def write_workbook(path: Path, sheets: dict[str, list[list]]) -> Path:
    """Write ``{sheet kind: rows}`` with the layout of :data:`LAYOUT` (header row first)."""
    wb = xlsxwriter.Workbook(str(path), OPTIONS)
    wb.set_properties({"title": path.stem, "author": "closebatch sample books", "company": "Northwind",
                       "created": CREATED})
    fmt = {"code": wb.add_format({"num_format": "@"}), "text": wb.add_format({"num_format": "@"}),
           "amount": wb.add_format({"num_format": "#,##0.00;-#,##0.00"}),
           "rate": wb.add_format({"num_format": "0.0000######"}), "number": wb.add_format({"num_format": "0.####"}),
           "integer": wb.add_format({"num_format": "0"}), "percent": wb.add_format({"num_format": "0%"}),
           "date": wb.add_format({"num_format": "yyyy-mm-dd"})}
    header = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    for name, rows in sheets.items():
        layout = LAYOUT[name]
        ws = wb.add_worksheet(name)
        for c, (col, kind) in enumerate(layout):
            width = max(len(col) + 3, {"text": 34, "date": 12, "amount": 15, "rate": 12}.get(kind, 10))
            ws.set_column(c, c, width, fmt[kind])
            ws.write_string(0, c, col, header)
        for r, row in enumerate(rows, start=1):
            assert len(row) == len(layout), (name, row)
            for c, ((col, kind), value) in enumerate(zip(layout, row)):
                if value is None:
                    continue
                if isinstance(value, date):
                    rc = ws.write_datetime(r, c, datetime(value.year, value.month, value.day), fmt[kind])
                elif isinstance(value, str):
                    rc = ws.write_string(r, c, value, fmt[kind])
                else:
                    rc = ws.write_number(r, c, float(value), fmt[kind])
                if rc:
                    raise ValueError(f"{path.name}!{name} row {r + 1}: xlsxwriter returned {rc}")
        ws.freeze_panes(1, 0)
        ws.autofilter(0, 0, max(len(rows), 1), len(layout) - 1)
    wb.close()
    return path


def make_books(folder: Path) -> list[Path]:
    """Write the sample books into ``folder``; return the files written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(SEED)
    rates = make_rates(rng)
    spot = SpotRates(rates)
    tb, items, retained = make_opening(spot)
    journals = make_journals(rng, spot, items)
    written = [
        write_workbook(folder / "Master data.xlsx", {
            "Settings": [list(s) for s in SETTINGS],
            "Entities": [list(e) for e in ENTITIES],
            "Accounts": [[a, n, t, rv, st, None, None, sl, None, CASH_FLOW.get(a)] for a, n, t, rv, st, sl in ACCOUNTS],
            "Periods": periods(),
            "Users": [list(u) for u in USERS],
        }),
    ]
    for e in CURRENCY:
        rows = [[r["entity"], r["account"], None, r["currency"], _dec(r["balance"]),
                 _dec(r["acct"]) if r["acct"] is not None else None, r["counterparty"], r["reference"]]
                for r in tb[e]]
        written.append(write_workbook(folder / f"Opening balances {e} 2026.xlsx", {"TrialBalance": rows}))
    for e in CURRENCY:
        written.append(write_workbook(folder / f"Journals {e} Jan.xlsx", {"Journals": journals.rows(e)}))
    written.append(write_workbook(folder / "Rates 2026.xlsx", {"Rates": [list(r) for r in rates]}))
    allocations = [["RENT", 1, None, "6100", "ADMIN", "basis", "headcount", "6100", d, None, None]
                   for d in ("SALES", "PROD")]
    allocations += [["IT", 2, None, "6200", "ADMIN", "equal", None, "6200", d, None, None] for d in DEPARTMENTS]
    statistics = [["headcount", e, None, d, n] for e, by in HEADCOUNT.items() for d, n in by.items()]
    written.append(write_workbook(folder / "Allocations.xlsx", {"Allocations": allocations,
                                                                 "Statistics": statistics}))
    written.append(write_workbook(folder / "Group consolidation.xlsx", {
        "Eliminations": [
            ["IC-BALANCES", "intercompany", "1300", "2300", "7950", None, None,
             "Intercompany receivables against payables"],
            ["IC-FEES", "intercompany", "4100", "6500", "7950", None, None,
             "Management fees and recharges between group entities"],
            ["INV-DK", "investment", "1610", "3000,3100", "1700", "US", "DK", "Investment in Northwind Danmark ApS"],
            ["INV-UK", "investment", "1620", "3000,3100", "1700", "US", "UK", "Investment in Northwind UK Ltd"],
        ],
        "HistoricalRates": historical_rates(retained),
    }))
    written.append(write_workbook(folder / "Close checklist.xlsx", {"Tasks": TASKS}))
    written.append(write_workbook(folder / "Checklist 2026-01.xlsx", {"Checklist": CHECKLIST}))
    readme = folder / "README.md"
    readme.write_text(README, encoding="utf-8")
    written.append(readme)
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="books folder to write (created if missing)")
    args = parser.parse_args(argv)
    for path in make_books(args.folder):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
