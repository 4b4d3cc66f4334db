"""The sealed ledger (spec section 4) through the files, as someone who edits them by hand
would try it: every kind of tampering is named by period (and table, row, cell where it can
be) and stops every command until it is resolved; a workbook saved again unchanged still
verifies; stale closes, the reopen cascade, a ledger of an earlier version, permissions."""
from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import stat

import openpyxl
import pandas as pd
import pyarrow as pa
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from books import D, master, months, read_sheet, write_books
from closebatch import app
from closebatch.cli import main
from closebatch.io import parallel, store as store_mod

# its books are built once (module fixtures): every test of the module runs on one worker
pytestmark = pytest.mark.xdist_group('test_sealed_ledger')

J = ["journal", "date", "entity", "account", "currency", "debit", "credit"]
JAN_DAY, FEB_DAY, MAR_DAY = D(2026, 1, 31), D(2026, 2, 28), D(2026, 3, 31)


def journals(jan=100, feb=50, mar=None, sale=None):
    rows = [J, ["J1", D(2026, 1, 20), "E1", "1000", "USD", jan, None], ["J1", D(2026, 1, 20), "E1", "4000", "USD", None, jan],
            ["R1", D(2026, 1, 22), "E1", "1100", "USD", 700, None], ["R1", D(2026, 1, 22), "E1", "4000", "USD", None, 700],
            ["J2", D(2026, 2, 10), "E1", "1000", "USD", feb, None], ["J2", D(2026, 2, 10), "E1", "4000", "USD", None, feb]]
    if mar is not None:
        rows += [["J3", D(2026, 3, 10), "E1", "1000", "USD", mar, None],
                 ["J3", D(2026, 3, 10), "E1", "4000", "USD", None, mar]]
    if sale is not None:
        rows += [sale]
    return {"journals.xlsx": {"Journals": rows}}


def close(books, period, **kw):
    res = app.close_books(books, period=period, user="ann", today=D(2026, 4, 2), **kw)
    return res


@pytest.fixture(scope="module")
def sealed(tmp_path_factory):
    """January and February closed and On hold; March and April to close."""
    root = tmp_path_factory.mktemp("sealed")
    books = write_books({
        "master.xlsx": master(periods=months(2026, 1, 4)),
        "tb.xlsx": {"TrialBalance": [["entity", "account", "currency", "balance"], ["E1", "1000", "USD", 1000],
                                     ["E1", "1100", "USD", 2000000], ["E1", "3000", "USD", -2001000]]},
        **journals(mar=25),
    }, root / "books")
    for p in ("2026-01", "2026-02"):
        res = close(books, p)
        assert res.exit_code == 0, [f.message for f in res.findings]
    assert app.verify(books).exit_code == 0
    return books


@pytest.fixture
def books(sealed, tmp_path):
    return shutil.copytree(sealed, tmp_path / "books")


def snapshot(books):
    return {p.relative_to(books).as_posix(): p.read_bytes() for p in sorted(books.rglob("*")) if p.is_file()
            and p.parts[-2] in ("out", "ledger", *[d.name for d in (books / "out").iterdir()])}


def refused(books, period="2026-03"):
    """Every command stops: the close writes nothing, changes nothing; verify and status name
    the break."""
    before = snapshot(books)
    res = close(books, period)
    assert res.exit_code == 1, res.message
    assert "nothing was closed or persisted" in res.message
    assert snapshot(books) == before
    v = app.verify(books)
    assert v.exit_code == 1
    assert app.status(books).exit_code == 1
    chk = app.checklist_workbook(books)  # even a file to fill in: its statuses would come from the seal
    assert chk.exit_code == 1 and chk.message.startswith("Refused") and not chk.written
    return res.findings


def edit(path, sheet, cell, value):
    wb = openpyxl.load_workbook(path)
    wb[sheet][cell] = value
    wb.save(path)


def column_of(path, sheet, name):
    wb = openpyxl.load_workbook(path, read_only=True)
    header = next(wb[sheet].iter_rows(max_row=1, values_only=True))
    wb.close()
    return openpyxl.utils.get_column_letter(list(header).index(name) + 1)


def balances_row(path, account):
    rows = read_sheet(path, "Balances")
    return next(i + 2 for i, r in enumerate(rows) if r["account"] == account)


# --------------------------------------------------------------------------- tampering

def test_a_balanced_edit_of_a_closed_periods_balances_is_named_by_table_row_and_cell(books):
    """The issue's case: 1,000,000 moved from receivables to cash in January's Balances."""
    led = books / "ledger" / "2026-01.xlsx"
    col = column_of(led, "Balances", "amount")
    cash, recv = balances_row(led, "1000"), balances_row(led, "1100")
    wb = openpyxl.load_workbook(led)
    ws = wb["Balances"]
    ws[f"{col}{cash}"] = ws[f"{col}{cash}"].value + 1_000_000
    ws[f"{col}{recv}"] = ws[f"{col}{recv}"].value - 1_000_000
    wb.save(led)
    found = refused(books)
    assert len(found) == 1 and found[0].code == "ledger-seal"
    f = found[0]
    assert (f.file, f.sheet) == ("ledger/2026-01.xlsx", "Balances")
    assert "period 2026-01" in f.message and f"row {min(cash, recv)}" in f.message and "column amount" in f.message
    assert "Restore" in f.hint and "reopen" in f.hint
    r = CliRunner().invoke(main, ["verify", str(books)])
    assert r.exit_code == 1 and "ledger/2026-01.xlsx!Balances" in r.output and "BROKEN" in r.output


def test_one_changed_cell_is_named(books):
    led = books / "ledger" / "2026-02.xlsx"
    col = column_of(led, "Posted", "description")
    edit(led, "Posted", f"{col}3", "something else")
    (f,) = refused(books)
    assert (f.file, f.sheet, f.cell) == ("ledger/2026-02.xlsx", "Posted", f"{col}3") and "2026-02" in f.message


def test_a_deleted_row_a_deleted_table_and_a_deleted_file_are_named(books):
    led = books / "ledger" / "2026-01.xlsx"
    wb = openpyxl.load_workbook(led)
    wb["Balances"].delete_rows(3)
    wb.save(led)
    (f,) = refused(books)
    assert "Balances table of period 2026-01" in f.message and "row(s) were sealed" in f.message

    wb = openpyxl.load_workbook(led)
    del wb["Lines"]
    wb.save(led)
    msgs = [f.message for f in refused(books)]
    assert any("The Lines table of period 2026-01 is missing" in m for m in msgs)

    led.unlink()
    (f,) = refused(books)
    assert f.file == "ledger/2026-01.xlsx" and "is missing" in f.message and "period 2026-01" in f.message


def test_deleting_periods_xlsx_reopens_nothing(books):
    (books / "ledger" / "periods.xlsx").unlink()
    (f,) = refused(books, "2026-01")
    assert "periods.xlsx" in f.message and "missing" in f.message
    assert app.change_period(books, "2026-01", "open", user="ann").exit_code == 1


def test_editing_a_status_never_reopens_a_permanently_closed_period(books):
    assert app.change_period(books, "2026-01", "close-permanently", user="ann").exit_code == 0
    path = books / "ledger" / "periods.xlsx"
    row = next(i + 2 for i, r in enumerate(read_sheet(path, "Status")) if r["period"] == "2026-01")
    edit(path, "Status", f"B{row}", "Open")
    found = refused(books, "2026-01")
    assert any(f.sheet == "Status" and f.cell == f"B{row}" and "Permanently closed" in f.message for f in found)
    assert "Permanently closed" in next(ln for ln in app.status(books).message.splitlines()
                                        if ln.startswith("2026-01"))
    again = app.change_period(books, "2026-01", "open", user="ann")
    assert again.exit_code == 1 and "Permanently closed" in again.message
    # the Seals sheet edited too (without computing its seal): still caught, still Permanently closed
    row = next(i + 2 for i, r in enumerate(read_sheet(path, "Seals")) if r["period"] == "2026-01")
    edit(path, "Seals", f"D{row}", "Open")
    found = refused(books, "2026-01")
    assert any(f.sheet == "Seals" and "2026-01" in f.message for f in found)
    assert app.change_period(books, "2026-01", "open", user="ann").exit_code == 1


def test_history_edits_and_row_deletions_are_caught(books):
    path = books / "ledger" / "periods.xlsx"
    edit(path, "History", "D2", "mallory")
    (f,) = [f for f in refused(books) if "History" in f.message]
    assert "History of period 2026-01" in f.message


def test_swapped_period_files_are_named(books):
    a, b = books / "ledger" / "2026-01.xlsx", books / "ledger" / "2026-02.xlsx"
    tmp = books / "ledger" / "x"
    a.rename(tmp)
    b.rename(a)
    tmp.rename(b)
    found = refused(books)
    assert any("ledger/2026-01.xlsx" in f.message and "sealed for period 2026-02" in f.message for f in found)


def test_a_renamed_period_is_refused_and_a_line_in_it_is_not_posted(books):
    cal = months(2026, 1, 4)
    cal[1][0] = "2026-1"
    write_books({"master.xlsx": master(periods=cal),
                 **journals(mar=25, sale=["N1", D(2026, 1, 25), "E1", "1000", "USD", 5, None])}, books)
    res = close(books, None)
    assert res.exit_code == 1
    assert any(f.code == "calendar-frozen" and "2026-01" in f.message for f in res.findings)
    assert not (books / "out" / "2026-1").exists() and not (books / "ledger" / "2026-1.xlsx").exists()
    assert app.change_period(books, "2026-1", "hold", user="ann").exit_code == 1


def test_shortening_a_closed_period_is_refused(books):
    cal = months(2026, 1, 4)
    cal[1][2] = D(2026, 1, 15)
    cal[2][1] = D(2026, 1, 16)
    write_books({"master.xlsx": master(periods=cal)}, books)
    res = close(books, "2026-03")
    assert res.exit_code == 1
    f = next(f for f in res.findings if f.code == "calendar-frozen")
    assert f.cell == "C2" and "2026-01-31" in f.message and "2026-01-15" in f.message
    assert not (books / "out" / "2026-03").exists()


def test_a_workbook_saved_again_unchanged_still_verifies(books):
    for name in ("2026-01.xlsx", "periods.xlsx"):
        path = books / "ledger" / name
        before = path.read_bytes()
        wb = openpyxl.load_workbook(path)
        wb.save(path)
        assert path.read_bytes() != before
    v = app.verify(books)
    assert v.exit_code == 0, [f.message for f in v.findings]
    assert close(books, "2026-03").exit_code == 0


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
def test_workbooks_saved_again_by_libreoffice_still_verify(books, tmp_path):
    import subprocess

    ledger = books / "ledger"
    names = ["2026-01.xlsx", "2026-02.xlsx", "periods.xlsx"]
    r = subprocess.run(["soffice", f"-env:UserInstallation=file://{tmp_path / 'profile'}", "--headless", "--calc",
                        "--convert-to", "xlsx", "--outdir", str(tmp_path / "saved"), *[str(ledger / n) for n in names]],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    for n in names:
        assert (tmp_path / "saved" / n).read_bytes() != (ledger / n).read_bytes()
        shutil.copy(tmp_path / "saved" / n, ledger / n)
    v = app.verify(books)
    assert v.exit_code == 0, [f.message for f in v.findings]


def test_a_break_is_resolved_by_reopening_and_closing_again(books):
    led = books / "ledger" / "2026-02.xlsx"
    col = column_of(led, "Balances", "amount")
    edit(led, "Balances", f"{col}2", 123456)
    refused(books)
    res = app.change_period(books, "2026-02", "open", user="ann")
    assert res.exit_code == 0, res.message
    assert app.verify(books).exit_code == 1  # February's data is still not what was sealed ...
    assert close(books, "2026-02").exit_code == 0  # ... until it is closed again from the inputs
    assert app.verify(books).exit_code == 0
    hist = read_sheet(books / "ledger" / "periods.xlsx", "History")
    assert "after the seal broke" in hist[-2]["note"]
    assert close(books, "2026-03").exit_code == 0


def test_outputs_are_checked_against_their_manifest(books):
    out = books / "out" / "2026-01"
    (out / "revaluation.xlsx").unlink()
    with open(out / "statements.xlsx", "ab") as fh:
        fh.write(b"\0")
    v = app.verify(books)
    assert v.exit_code == 1
    assert {(f.code, f.file) for f in v.findings} == {("output-missing", "out/2026-01/revaluation.xlsx"),
                                                     ("output-changed", "out/2026-01/statements.xlsx")}
    assert "out/2026-02: 9 of 9 file(s)" in v.message


# --------------------------------------------------------------------------- the chain

def test_the_seal_of_each_close_is_printed_and_chained(books):
    seals = read_sheet(books / "ledger" / "periods.xlsx", "Seals")
    jan, feb = seals[0], seals[1]
    assert feb["started_from"] == jan["close_seal"] and jan["started_from"] is None
    man = json.loads((books / "out" / "2026-02" / "manifest.json").read_text())
    assert man["ledger_seal"]["seal"] == feb["close_seal"] and man["ledger_seal"]["started_from"] == jan["close_seal"]
    summary = {r[0]: r[1] for r in openpyxl.load_workbook(books / "out" / "2026-02" / "close_status.xlsx")
               ["Summary"].iter_rows(values_only=True) if r[0]}
    assert summary["Ledger seal"] == feb["close_seal"]
    r = CliRunner().invoke(main, ["verify", str(books)])
    assert r.exit_code == 0 and feb["close_seal"] in r.output and "chain intact" in r.output


def test_the_same_close_gives_the_same_seal(books, tmp_path):
    again = shutil.copytree(books, tmp_path / "again")
    for b in (books, again):
        assert app.change_period(b, "2026-02", "open", user="ann").exit_code == 0
    first = close(books, "2026-02", now=dt.datetime(2026, 3, 1, 8))
    second = close(again, "2026-02", now=dt.datetime(2026, 3, 5, 17))
    seal_of = lambda b: read_sheet(b / "ledger" / "periods.xlsx", "Seals")[1]["close_seal"]  # noqa: E731
    assert seal_of(books) == seal_of(again) and "Sealed:" in first.message and "Sealed:" in second.message
    for name in ("close_status.xlsx", "manifest.json"):
        assert (books / "out" / "2026-02" / name).read_bytes() == (again / "out" / "2026-02" / name).read_bytes()


def test_reopening_cascades_to_later_periods_on_hold(books):
    res = app.change_period(books, "2026-01", "open", user="ann")
    assert res.exit_code == 0 and "2026-02" in res.message
    hist = read_sheet(books / "ledger" / "periods.xlsx", "History")
    assert [(h["period"], h["from"], h["to"], h["event"]) for h in hist[-2:]] == [
        ("2026-01", "On hold", "Open", "status"), ("2026-02", "On hold", "Open", "cascade")]
    assert close(books, "2026-03").exit_code == 1  # January is Open again
    assert close(books, "2026-01").exit_code == 0
    assert close(books, "2026-02").exit_code == 0 and close(books, "2026-03").exit_code == 0
    assert app.change_period(books, "2026-03", "close-permanently", user="ann").exit_code == 1  # earlier on hold
    for p in ("2026-01", "2026-02", "2026-03"):
        assert app.change_period(books, p, "close-permanently", user="ann").exit_code == 0
    res = app.change_period(books, "2026-04", "open", user="ann")
    assert res.exit_code == 0 and "already Open" in res.message


def test_a_stale_close_cannot_be_put_on_hold(books):
    """The issue's case: February closed with --no-lock; January reopened, corrected (+200) and
    closed again; February's close started from the old January: hold refuses it."""
    assert app.change_period(books, "2026-01", "open", user="ann").exit_code == 0
    assert close(books, "2026-02", no_lock=True).exit_code == 1  # January is Open
    assert close(books, "2026-01", no_lock=True).exit_code == 0
    assert app.change_period(books, "2026-01", "hold", user="ann").exit_code == 0
    assert close(books, "2026-02", no_lock=True).exit_code == 0
    assert app.change_period(books, "2026-01", "open", user="ann").exit_code == 0  # February is Open: no cascade
    write_books(journals(jan=300, mar=25), books)
    assert close(books, "2026-01").exit_code == 0
    held = app.change_period(books, "2026-02", "hold", user="ann")
    assert held.exit_code == 1 and "stale" in held.message and "2026-01 was closed again" in held.message
    assert "stale" in next(ln for ln in app.status(books).message.splitlines() if ln.startswith("2026-02"))
    assert close(books, "2026-02").exit_code == 0
    assert close(books, "2026-03").exit_code == 0
    tb = read_sheet(books / "out" / "2026-03" / "adjusted_trial_balance.xlsx", "TrialBalance")
    assert {r["account"]: r["balance"] for r in tb}["1000"] == 1000 + 300 + 50 + 25


# --------------------------------------------------------------------------- closed lines in another order

def test_a_closed_journal_sorted_again_is_not_refused(books):
    """No ``line`` column: lines are numbered by their order, so a closed journal whose rows
    were sorted again still matches what its close posted; a changed line is still named."""
    rows = journals(mar=25)["journals.xlsx"]["Journals"]
    resorted = [rows[0], rows[2], rows[1], rows[4], rows[3], *rows[5:]]
    write_books({"journals.xlsx": {"Journals": resorted}}, books)
    res = close(books, "2026-03")
    assert res.exit_code == 0, [f.message for f in res.findings]
    changed = [list(r) for r in resorted]
    changed[1][6] = 101  # J1's credit line, now on row 2
    changed[2][5] = 101  # and its debit line, on row 3
    write_books({"journals.xlsx": {"Journals": changed}}, books)
    res = app.change_period(books, "2026-03", "open", user="ann")
    assert res.exit_code == 0
    res = close(books, "2026-03")
    assert res.exit_code == 1
    assert {f.code for f in res.errors} == {"changed-after-close"}
    assert sorted(f.cell for f in res.errors) == ["F3", "G2"]
    assert "100.00 USD → -101.00 USD" in res.errors[0].message and "Journals!3" in res.errors[0].message


# --------------------------------------------------------------------------- files

def test_ledger_files_get_the_permissions_of_the_outputs(sealed, tmp_path):
    old = os.umask(0o022)
    try:
        books = shutil.copytree(sealed, tmp_path / "books")
        assert close(books, "2026-03").exit_code == 0
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (books / "ledger").iterdir()}
    out = stat.S_IMODE((books / "out" / "2026-03" / "adjusted_trial_balance.xlsx").stat().st_mode)
    assert out == 0o644 and modes["2026-03.xlsx"] == 0o644 and modes["periods.xlsx"] == 0o644


def test_large_tables_go_to_parquet_and_are_sealed_too(sealed, tmp_path, monkeypatch):
    monkeypatch.setattr(store_mod, "LARGE_ROWS", 1)
    books = shutil.copytree(sealed, tmp_path / "books")
    assert close(books, "2026-03").exit_code == 0
    posted = books / "ledger" / "2026-03.Posted.parquet"
    assert posted.exists()
    tables = {(t["period"], t["table"]): t for t in read_sheet(books / "ledger" / "periods.xlsx", "Tables")}
    assert tables[("2026-03", "Posted")]["file"] == "2026-03.Posted.parquet"
    assert app.verify(books).exit_code == 0
    assert close(books, "2026-04").exit_code == 0  # April starts from March's Parquet tables
    tb = read_sheet(books / "out" / "2026-04" / "adjusted_trial_balance.xlsx", "TrialBalance")
    assert {r["account"]: r["balance"] for r in tb}["1000"] == 1000 + 100 + 50 + 25
    import pyarrow.parquet as pq

    t = pq.read_table(posted)
    amounts = t.column("amount").to_pylist()
    amounts[0] += 1
    pq.write_table(t.set_column(t.column_names.index("amount"), "amount", __import__("pyarrow").array(amounts)),
                   posted)
    v = app.verify(books)
    assert v.exit_code == 1
    assert any("Posted table of period 2026-03" in f.message and "row 1 changed (column amount)" in f.message
               for f in v.findings)


def test_a_ledger_of_an_earlier_version_is_sealed_on_first_use(books):
    """A v1 ledger (periods.xlsx with Status and History only) still reads: verify says it
    is not sealed, the next close seals it as it stands."""
    path = books / "ledger" / "periods.xlsx"
    wb = openpyxl.load_workbook(path)
    for name in ("Seals", "Tables", "Chain"):
        del wb[name]
    wb.save(path)
    v = app.verify(books)
    assert v.exit_code == 1 and v.findings[0].code == "ledger-unsealed"
    assert "On hold" in next(ln for ln in app.status(books).message.splitlines() if ln.startswith("2026-02"))
    res = close(books, "2026-03")
    assert res.exit_code == 0, [f.message for f in res.findings]
    v = app.verify(books)
    assert v.exit_code == 0, [f.message for f in v.findings]
    chain = {r["key"]: r["value"] for r in read_sheet(path, "Chain")}
    assert "sealed_from_earlier_version" in chain
    seals = read_sheet(path, "Seals")
    assert [(s["period"], s["status"]) for s in seals] == [("2026-01", "On hold"), ("2026-02", "On hold"),
                                                          ("2026-03", "On hold")]
    assert seals[1]["started_from"] == seals[0]["close_seal"] and seals[2]["started_from"] == seals[1]["close_seal"]


# --------------------------------------------------------------------------- any edit

def _changed(v):
    """A value that reads back differently from ``v``."""
    if v is None or v == "":
        return "x"
    if isinstance(v, bool):
        return not v
    if isinstance(v, (int, float)):
        return v + 1
    if isinstance(v, dt.datetime):
        return v + dt.timedelta(days=1)
    return f"{v}x"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_edit_of_a_sealed_ledger_is_detected(sealed, tmp_path_factory, data):
    """Whatever cell of whatever ledger workbook is changed, cleared, or whatever row or sheet
    is added or removed (saved the way a person's spreadsheet program saves it), verify finds
    a break and names the file."""
    books = shutil.copytree(sealed, tmp_path_factory.mktemp("edit") / "books")
    name = data.draw(st.sampled_from(["periods.xlsx", "2026-01.xlsx", "2026-02.xlsx"]), label="file")
    path = books / "ledger" / name
    wb = openpyxl.load_workbook(path)
    ws = wb[data.draw(st.sampled_from(wb.sheetnames), label="sheet")]
    kind = data.draw(st.sampled_from(["value", "clear", "delete row", "insert row", "delete sheet"]), label="edit")
    row = data.draw(st.integers(1, max(1, ws.max_row)), label="row")
    col = data.draw(st.integers(1, max(1, ws.max_column)), label="column")
    if kind == "value":
        ws.cell(row, col).value = _changed(ws.cell(row, col).value)
    elif kind == "clear":
        assume(ws.cell(row, col).value not in (None, ""))
        ws.cell(row, col).value = None
    elif kind == "delete row":
        assume(ws.max_row >= 1 and any(c.value not in (None, "") for c in ws[row]))
        ws.delete_rows(row)
    elif kind == "insert row":
        ws.insert_rows(row)
        ws.cell(row, col).value = "x"
    else:
        assume(len(wb.sheetnames) > 1)
        del wb[ws.title]
    wb.save(path)
    v = app.verify(books)
    assert v.exit_code == 1, f"{kind} in {name}!{ws.title} row {row} column {col} went unnoticed"
    assert any(name in f.message or f.file == f"ledger/{name}" for f in v.findings), [f.message for f in v.findings]


@pytest.mark.skipif(not parallel.can_fork(), reason="needs fork")
@pytest.mark.parametrize("large", [5, 10_000])
def test_the_writing_process_seals_what_it_wrote_and_this_one_takes_its_seals(tmp_path, monkeypatch, large):
    """A close's data files are made (their deferred frames), written and sealed by the process
    that writes them; the closing process takes those seals (without making the frames),
    which are the seals it would make itself, and makes its own when a file changed since."""
    monkeypatch.setattr(store_mod, "LARGE_ROWS", large)  # Posted in a Parquet file, or a sheet of the workbook
    n = 40
    made = []
    posted = pd.DataFrame({"journal": [f"J{i}" for i in range(n)], "line": range(n), "entity": ["P"] * n,
                           "account": ["1000"] * n, "currency": ["USD"] * n, "amount": range(n),
                           "amount_acct": range(n), "fingerprint": [f"{i:016x}" for i in range(n)]})
    store = store_mod.Store(tmp_path / "books", {"P": "USD"}, "USD")
    balances = posted[["entity", "account", "currency", "amount", "amount_acct"]].head(3)
    staged = store.stage("2026-01", {"Balances": balances,
                                     "Posted": store_mod.Deferred(n, 8, lambda: made.append(1) or posted)})
    assert any(f.build is not None for f in staged.files)
    staged.seal_beside()
    sidecar = staged.sealed_by
    # the costlier task stays here, the data files go to the writing process
    parallel.run([parallel.Task("here", 10**9, lambda: None), parallel.Task("ledger", staged.cells, staged.write)],
                 jobs=2)
    seals = staged.seal()
    assert not made and any(f.build is not None for f in staged.files)  # nothing made in this process
    assert seals == staged._seal() and made == [1]  # what this process makes itself
    assert {s.table for s in seals} == {"Balances", "Posted"} and all(s.file_sha256 for s in seals)
    changed = staged.files[-1].tmp
    if changed.suffix == ".parquet":
        import pyarrow.parquet as pq

        pq.write_table(pa.table({"x": [1]}), str(changed))
        assert staged.seal() != seals  # the file is not the one sealed: sealed afresh
    staged.discard()
    assert not sidecar.exists()
