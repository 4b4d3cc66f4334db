"""The period rules in memory (closebatch.periods): statuses, the cascade, stale closes, the
frozen calendar, the History's rows and the record of the seal — no file, no clock."""
from __future__ import annotations

import datetime as dt

import pandas as pd

from closebatch import periods, seal
from closebatch.periods import OPEN, ON_HOLD, PERMANENT

ORDER = ["2026-01", "2026-02", "2026-03", "2026-04"]
NOW = dt.datetime(2026, 3, 2, 9, 30, 0)


def calendar(statuses=None):
    statuses = statuses or {}
    starts = pd.to_datetime(["2026-01-01", "2026-02-01", "2026-03-01", "2026-04-01"])
    ends = pd.to_datetime(["2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30"])
    return pd.DataFrame({"period": ORDER, "start": starts, "end": ends, "status": [statuses.get(p, "") for p in ORDER],
                         "_file": "master.xlsx", "_sheet": "Periods", "_row": [2, 3, 4, 5]})


class FakeBook:
    """What the calendar rules read of a book: its Periods and where their cells are."""

    def __init__(self, cal):
        self.periods = cal
        self.columns = {("master.xlsx", "Periods"): {"period": "A", "start": "B", "end": "C"}}

    def finding(self, row, column, message, hint="", code=""):
        from closebatch.core import Finding

        letter = self.columns[("master.xlsx", "Periods")].get(column, "")
        return Finding("error", message, hint, file=row["_file"], sheet=row["_sheet"], cell=f"{letter}{row['_row']}",
                       code=code)


def seals(rows):
    return pd.DataFrame(rows, columns=seal.SEAL_COLUMNS, dtype=object).fillna("")


def test_the_record_wins_over_the_sheet_and_permanently_closed_is_final():
    cal = calendar({"2026-01": ON_HOLD, "2026-02": PERMANENT})
    got = periods.effective_statuses(cal, {"2026-01": OPEN, "2026-02": OPEN, "2026-03": ON_HOLD})
    assert got == {"2026-01": OPEN, "2026-02": PERMANENT, "2026-03": ON_HOLD, "2026-04": OPEN}
    # a record in doubt (its seal broke): the most closed status anything shows counts
    got = periods.effective_statuses(cal, {"2026-01": OPEN}, doubtful={"2026-01": [OPEN, PERMANENT, ""]})
    assert got["2026-01"] == PERMANENT


def test_reopening_carries_every_later_period_on_hold_along():
    st = {"2026-01": ON_HOLD, "2026-02": ON_HOLD, "2026-03": OPEN, "2026-04": OPEN}
    d = periods.plan_change(ORDER, st, "2026-01", "open", "ann")
    assert d.refusal is None
    assert [(c.period, c.old, c.new, c.event) for c in d.changes] == [
        ("2026-01", ON_HOLD, OPEN, "status"), ("2026-02", ON_HOLD, OPEN, "cascade")]
    assert "reopened with 2026-01" in d.changes[1].note and "2026-02" in d.message


def test_a_later_permanently_closed_period_makes_reopening_impossible():
    st = {"2026-01": ON_HOLD, "2026-02": PERMANENT, "2026-03": OPEN, "2026-04": OPEN}
    st["2026-01"] = PERMANENT
    d = periods.plan_change(ORDER, st, "2026-01", "open", "ann")
    assert d.refusal and "Permanently closed" in d.refusal and not d.changes
    st = {"2026-01": ON_HOLD, "2026-02": ON_HOLD, "2026-03": PERMANENT, "2026-04": OPEN}
    d = periods.plan_change(ORDER, st, "2026-02", "open", "ann")
    assert d.refusal and "later period 2026-03 is Permanently closed" in d.refusal


def test_hold_and_permanent_closure_need_the_earlier_periods_closed():
    st = {"2026-01": OPEN, "2026-02": OPEN, "2026-03": OPEN, "2026-04": OPEN}
    assert "earlier period 2026-01 is Open" in periods.plan_change(ORDER, st, "2026-02", "hold", "ann").refusal
    st = {"2026-01": ON_HOLD, "2026-02": ON_HOLD, "2026-03": OPEN, "2026-04": OPEN}
    d = periods.plan_change(ORDER, st, "2026-02", "close-permanently", "ann")
    assert "earlier period 2026-01 is On hold" in d.refusal
    d = periods.plan_change(ORDER, st, "2026-03", "hold", "ann", hold_refusal="Refused: stale.")
    assert d.refusal == "Refused: stale."
    d = periods.plan_change(ORDER, st, "2026-01", "close-permanently", "ann")
    assert [(c.period, c.new) for c in d.changes] == [("2026-01", PERMANENT)]
    assert periods.plan_change(ORDER, st, "2026-01", "hold", "ann").message == "Period 2026-01 is already On hold."
    assert "members" in periods.plan_change(ORDER, st, "2026-01", "open", "bob", denied="only members").refusal


def test_a_close_that_started_from_an_earlier_seal_of_the_previous_period_is_stale():
    s = seals([{"period": "2026-01", "close_seal": "bbb", "started_from": ""},
               {"period": "2026-02", "close_seal": "ccc", "started_from": "aaa"}])
    why = periods.stale(s, "2026-02")
    assert why and "2026-01 was closed again since" in why
    assert periods.stale(s, "2026-01") is None
    s.loc[1, "started_from"] = "bbb"
    assert periods.stale(s, "2026-02") is None
    refusal, _ = periods.hold_refusal("2026-02", True, pd.DataFrame(), periods.stale(
        seals([{"period": "2026-01", "close_seal": "bbb"}, {"period": "2026-02", "close_seal": "c",
                                                             "started_from": "aaa"}]), "2026-02"), [])
    assert "stale" in refusal and "closebatch close --period 2026-02" in refusal
    refusal, _ = periods.hold_refusal("2026-02", False, pd.DataFrame(), None, [])
    assert "has not been closed yet" in refusal
    hist = pd.DataFrame([periods.history_row("2026-02", OPEN, OPEN, "ann", NOW, "close", "close", 2)])
    refusal, _ = periods.hold_refusal("2026-02", True, hist, None, [])
    assert "2 blocker(s)" in refusal


def test_the_calendar_of_sealed_periods_is_frozen():
    s = seals([{"period": "2026-01", "start": "2026-01-01", "end": "2026-01-31"},
               {"period": "2026-02", "start": "2026-02-01", "end": "2026-02-28"}])
    assert periods.calendar_findings(FakeBook(calendar()), s) == []
    shortened = calendar()
    shortened.loc[0, "end"] = pd.Timestamp("2026-01-15")
    got = periods.calendar_findings(FakeBook(shortened), s)
    assert [(f.code, f.cell) for f in got] == [("calendar-frozen", "C2")]
    assert "2026-01-31" in got[0].message and "2026-01-15" in got[0].message
    renamed = calendar()
    renamed.loc[0, "period"] = "2026-1"
    got = periods.calendar_findings(FakeBook(renamed), s)
    assert len(got) == 1 and "Period 2026-01" in got[0].message and "no longer in the Periods sheet" in got[0].message
    inserted = pd.concat([calendar().iloc[:1].assign(period="2025-12", start=pd.Timestamp("2025-12-01"),
                                                     end=pd.Timestamp("2025-12-31")), calendar()], ignore_index=True)
    s2 = seals([{"period": "2026-01", "start": "2026-01-01", "end": "2026-01-31"}])
    got = periods.calendar_findings(FakeBook(inserted), s2)
    assert [f.code for f in got] == ["calendar-frozen"] and "2025-12" in got[0].message


def test_history_rows_take_the_time_they_are_given_and_keep_no_control_characters():
    row = periods.history_row("2026-01", OPEN, ON_HOLD, "ann\x1b[2J", NOW, "why\nnot")
    assert row["when"] == "2026-03-02 09:30:00" and row["user"] == "ann [2J" and row["note"] == "why not"
    h = periods.add_history(pd.DataFrame(columns=["period", "from", "to", "user", "when", "note"]), [row])
    assert list(h.columns) == periods.HISTORY_COLUMNS and len(h) == 1
    assert periods.last_close(h, "2026-01") is None


def test_the_record_covers_the_calendar_up_to_the_last_period_the_ledger_knows():
    cal = calendar({"2026-01": PERMANENT})
    st = {"2026-01": PERMANENT, "2026-02": ON_HOLD, "2026-03": OPEN, "2026-04": OPEN}
    rows = periods.record_rows(cal, st, pd.DataFrame(columns=periods.HISTORY_COLUMNS), seals([]),
                               {"2026-02": ("", "c2")})
    assert [(r["period"], r["status"], r["closed_by"], r["close_seal"]) for r in rows] == [
        ("2026-01", PERMANENT, "before closebatch", ""), ("2026-02", ON_HOLD, "closebatch", "c2")]
    # a sealed period keeps its sealed dates
    old = seals([{"period": "2026-01", "start": "2025-12-31", "end": "2026-01-31", "close_seal": "c1"}])
    rows = periods.record_rows(cal, st, pd.DataFrame(columns=periods.HISTORY_COLUMNS), old, {})
    assert rows[0]["start"] == "2025-12-31" and rows[0]["close_seal"] == "c1"


def test_fingerprints_are_the_hash_of_the_values_joined_as_text_as_ledgers_hold_them():
    """A line's fingerprint is the first 16 hex digits of the SHA-256 of its journal, line,
    date, entity, account, dimensions, currency and amounts as text joined by ``|``: the
    definition every sealed ledger's ``Posted`` table was written with, so it must not drift."""
    import hashlib

    import pandas as pd

    from closebatch.periods import fingerprint

    text = {"journal": ["J1", "ÆØÅ-2"], "entity": ["US", "DK"], "account": ["1000", "0400"],
            "department": ["", "SALES"], "currency": ["USD", "DKK"]}
    lines = pd.DataFrame({**{k: pd.Series(v, dtype="str") for k, v in text.items()}, "line": [1, 12],
                          "date": pd.to_datetime(["2026-01-05", "2026-12-31"]),
                          "amount": [12345, -99], "amount_acct": [12345, -15]}).set_axis([7, 3])
    got = fingerprint(lines, ["department"])
    want = [hashlib.sha256(t.encode()).hexdigest()[:16] for t in
            ["J1|1|2026-01-05|US|1000||USD|12345|12345", "ÆØÅ-2|12|2026-12-31|DK|0400|SALES|DKK|-99|-15"]]
    assert got.tolist() == want and list(got.index) == [7, 3]
    many = pd.concat([lines] * 5, ignore_index=True)  # hashed a block of lines at a time: the same
    import closebatch.periods as periods_mod

    periods_mod.FINGERPRINT_BLOCK, block = 3, periods_mod.FINGERPRINT_BLOCK
    try:
        assert fingerprint(many, ["department"]).tolist() == want * 5
    finally:
        periods_mod.FINGERPRINT_BLOCK = block


def test_fingerprints_print_numbers_and_dates_as_pandas_does():
    """Arrow prints the whole numbers and the dates of a line (days) for the fingerprint; the
    digits are those of the definition (``astype(str)``, joined by ``|``), for days, times of
    day, a missing date and numbers of any size and sign."""
    import hashlib

    import numpy as np
    import pandas as pd

    from closebatch.periods import fingerprint

    def definition(lines, dims):
        cols = ["journal", "line", "date", "entity", "account", *dims, "currency", "amount", "amount_acct"]
        text = ["|".join(v) for v in zip(*(lines[c].astype(str).fillna("") for c in cols))]
        return [hashlib.sha256(t.encode()).hexdigest()[:16] for t in text]

    n = 9
    base = {"journal": pd.Series([f"J{i}" for i in range(n)], dtype="str"), "line": np.arange(-4, 5) * 10**12,
            "entity": pd.Series(["US"] * n, dtype="str"), "account": pd.Series(["1000"] * n, dtype="str"),
            "currency": pd.Series(["USD"] * n, dtype="str"),
            "amount": np.array([0, -1, 1, 2**62, -2**62, 99, -99, 10**15, -10**15], dtype="int64"),
            "amount_acct": np.arange(n, dtype="int64")}
    days = pd.to_datetime(["1900-01-01", "2026-01-05", "2199-12-31"] * 3)
    for dates in (days, days + pd.Timedelta(hours=10), pd.Series(days).where(np.arange(n) != 4)):
        for unit in ("s", "ns"):
            lines = pd.DataFrame({**base, "date": pd.Series(dates).astype(f"datetime64[{unit}]")})
            assert fingerprint(lines, []).tolist() == definition(lines, []), (unit, dates[:2])
