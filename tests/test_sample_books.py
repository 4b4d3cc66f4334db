"""The demo books in sample_books/: reproducible from the script, and balanced as the spec requires.

The balance checks read the workbooks with openpyxl and recompute everything independently of
closebatch: opening trial balances sum to zero per entity in accounting currency, and every
journal balances per entity in accounting currency, lines without ``amount_acct`` converted at
the latest spot rate dated on or before the line's date (direct pair, else its inverse),
rounded half away from zero to cents.
"""
from __future__ import annotations

import importlib.util
from collections import defaultdict
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, localcontext
from pathlib import Path

import openpyxl
import pytest

# its books are built once (module fixtures): every test of the module runs on one worker
pytestmark = pytest.mark.xdist_group('test_sample_books')

ROOT = Path(__file__).resolve().parents[1]
BOOKS = ROOT / "sample_books"
SCRIPT = ROOT / "bench" / "make_sample_books.py"


def _generator():
    spec = importlib.util.spec_from_file_location("make_sample_books", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_regenerates_byte_identical(tmp_path):
    written = _generator().make_books(tmp_path)
    names = sorted(p.name for p in written)
    committed = sorted(p.name for p in BOOKS.iterdir() if p.is_file() and not p.name.startswith((".", "~$")))
    assert names == committed, "sample_books/ differs from what the script writes: rerun it"
    for p in written:
        assert p.read_bytes() == (BOOKS / p.name).read_bytes(), f"{p.name} differs: rerun the script"


# ---------------------------------------------------------------------------------------------
# reading the books as a user would have written them

def _sheets(kind: str):
    """Rows (dicts keyed by header) of every sheet named ``kind`` in the books folder."""
    rows = []
    for path in sorted(BOOKS.glob("*.xlsx")):
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        for ws in wb.worksheets:
            if ws.title.strip().lower() != kind.lower():
                continue
            it = ws.iter_rows(values_only=True)
            header = [str(h).strip().lower() if h is not None else "" for h in next(it)]
            for n, values in enumerate(it, start=2):
                if any(v is not None for v in values):
                    rows.append(dict(zip(header, values), _where=f"{path.name}!{ws.title}!{n}"))
        wb.close()
    return rows


def _cents(value) -> int:
    if value is None:
        return 0
    return int((Decimal(repr(float(value))) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _day(value) -> date:
    return value.date() if isinstance(value, datetime) else value


@pytest.fixture(scope="module")
def currency():
    entities = _sheets("Entities")
    assert {e["entity"] for e in entities} == {"US", "DK", "UK"}
    return {e["entity"]: e["currency"] for e in entities}


@pytest.fixture(scope="module")
def spot():
    entries = sorted(((r["from"], r["to"], _day(r["date"]), r["rate"]) for r in _sheets("Rates")
                      if (r.get("type") or "spot") == "spot"), key=lambda r: r[2])

    def convert(amount: int, frm: str, to: str, day: date) -> int:
        if frm == to:
            return amount
        for pair, inverse in (((frm, to), False), ((to, frm), True)):
            found = [r for r in entries if (r[0], r[1]) == pair and r[2] <= day]
            if found:
                rate = Decimal(repr(float(found[-1][3])))
                with localcontext() as ctx:
                    ctx.prec = 60
                    value = Decimal(amount) / rate if inverse else Decimal(amount) * rate
                    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))
        raise AssertionError(f"no spot rate {frm}/{to} on {day}")

    return convert


def test_rates_cover_2026():
    rates = _sheets("Rates")
    for ccy in ("EUR", "DKK", "GBP"):
        for kind in ("spot", "closing", "average"):
            months = {_day(r["date"]).month for r in rates if r["from"] == ccy and r["to"] == "USD"
                      and r["type"] == kind}
            assert months == set(range(1, 13)), (ccy, kind)
    eur = [r["rate"] for r in rates if r["from"] == "EUR"]
    assert 1.0 < min(eur) and max(eur) < 1.2


def test_opening_trial_balance_sums_to_zero_per_entity(currency):
    rows = _sheets("TrialBalance")
    total = defaultdict(int)
    for r in rows:
        if r.get("balance_acct") is None:
            assert r["currency"] == currency[r["entity"]], f"{r['_where']}: foreign balance without balance_acct"
            total[r["entity"]] += _cents(r["balance"])
        else:
            total[r["entity"]] += _cents(r["balance_acct"])
    assert set(total) == {"US", "DK", "UK"}
    assert dict(total) == {e: 0 for e in total}


def test_intercompany_opening_balances_mirror(currency):
    ic = [(r["entity"], r["account"], r["counterparty"], r["currency"], _cents(r["balance"]))
          for r in _sheets("TrialBalance") if r.get("counterparty") and r["account"] in ("1300", "2300")]
    assert ic
    for entity, account, cp, ccy, amount in ic:
        mirror = "2300" if account == "1300" else "1300"
        assert (cp, mirror, entity, ccy, -amount) in ic


def test_every_journal_balances_per_entity(currency, spot):
    lines = _sheets("Journals")
    assert len(lines) >= 200
    assert {ln["entity"] for ln in lines} == {"US", "DK", "UK"}
    total = defaultdict(int)
    converted = 0
    for ln in lines:
        debit, credit = _cents(ln.get("debit")), _cents(ln.get("credit"))
        assert debit >= 0 and credit >= 0 and (debit == 0) != (credit == 0), ln["_where"]
        acct_ccy = currency[ln["entity"]]
        if ln.get("amount_acct") is not None:
            acct = _cents(ln["amount_acct"])
        else:
            acct = spot(debit - credit, ln["currency"], acct_ccy, _day(ln["date"]))
            converted += ln["currency"] != acct_ccy
        total[(ln["journal"], ln["entity"])] += acct
    assert converted >= 4, "the demo should have foreign lines converted at the spot rate"
    unbalanced = {k: v for k, v in total.items() if v}
    assert not unbalanced


def test_journals_show_the_features(currency):
    lines = _sheets("Journals")
    assert any(ln.get("type") == "adjustment" and _day(ln.get("reverse_on")) == date(2026, 2, 1) for ln in lines)
    assert {ln.get("department") for ln in lines if ln["account"] == "6000"} == {"SALES", "PROD", "ADMIN"}
    clearing = [ln for ln in lines if ln["account"] == "1500"]
    assert len({ln["reference"] for ln in clearing}) >= 10
    assert all(_day(ln["date"]).month == 1 for ln in lines)
