"""The close workspace per period (books format v1.1: Tasks and Checklist) and workbooks that
print: end to end through the library, and over every sheet of every output of a close."""
from __future__ import annotations

import shutil
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from books import D, OPENING, master, read_sheet, write_books
from closebatch import app
from closebatch.cli import main
from closebatch.io.reader import norm_header
from closebatch.io.writer import readable

# its books are built once (module fixtures): every test of the module runs on one worker
pytestmark = pytest.mark.xdist_group('test_workspace')

TASKS = {"Tasks": [
    ["task", "name", "owner", "due", "depends_on", "required", "step", "review"],
    ["BANK", "Bank reconciliation", "ann", 1, None, "Y", None, "Y"],
    ["ACCR", "Accruals", "bob", 1, None, "Y", None, "N"],
    ["POST", "Journals posted", "ann", 0, None, "Y", "journals_posted", "N"],
    ["FS", "Review the statements", "ann", 3, "BANK", "Y", "statements", "Y"],
    ["LOCK", "Put the period on hold", "ann", 3, "FS", "Y", "lock", "N"],
]}
USERS = {"Users": [["user", "group"], ["ann", "controllers"], ["bob", "controllers"], ["cid", "controllers"]]}
CL = ["task", "period", "status", "prepared_by", "prepared_on", "reviewed_by", "reviewed_on", "note"]


def books_with(tmp_path, checklist_rows=None) -> Path:
    books = {"master.xlsx": {**master(), **USERS}, "opening.xlsx": OPENING, "tasks.xlsx": TASKS}
    if checklist_rows is not None:
        books["Checklist.xlsx"] = {"Checklist": [CL] + checklist_rows}
    return write_books(books, tmp_path / "books")


def signed(period, month):
    """Every person's task of ``period`` done and reviewed by someone else."""
    return [["BANK", period, "Done", "bob", D(2026, month, 2), "ann", D(2026, month, 3), None],
            ["ACCR", period, "Done", "bob", D(2026, month, 2), None, None, None],
            ["FS", period, "Not started", None, None, "cid", D(2026, month, 4), "reviewed the statements"]]


def tasks_of(books, period):
    rows = read_sheet(books / "out" / period / "close_status.xlsx", "Tasks")
    return {r["task"]: r for r in rows}


def test_checklist_across_three_periods_with_sign_offs_and_a_missing_review(tmp_path):
    """January signed and reviewed: it locks.  February starts afresh (nothing carried over from
    January's sign-offs); its bank reconciliation is reviewed by its own preparer, which does
    not count, so the lock is blocked, naming the Checklist cell; once someone else reviews
    it, February locks.  March has no Checklist rows: every person's task is Not started."""
    books = books_with(tmp_path, signed("2026-01", 2) + [
        ["BANK", "2026-02", "Done", "bob", D(2026, 3, 2), "bob", D(2026, 3, 2), None],
        ["ACCR", "2026-02", "Done", "bob", D(2026, 3, 2), None, None, None],
        ["FS", "2026-02", "Not started", None, None, "cid", D(2026, 3, 4), None]])
    jan = app.close_books(books, period="2026-01", user="ann", today=D(2026, 2, 5))
    assert jan.exit_code == 0, [f.message for f in jan.findings + jan.blockers]
    t = tasks_of(books, "2026-01")
    assert t["BANK"]["done"] == "Y" and t["BANK"]["prepared_by"] == "bob" and t["BANK"]["reviewed_by"] == "ann"
    assert t["FS"]["done"] == "Y" and "reviewed" in t["FS"]["status"]
    assert t["POST"]["status"].startswith("Done (by the close")

    feb = app.close_books(books, period="2026-02", user="ann", today=D(2026, 3, 5))
    assert feb.exit_code == 3
    msgs = [b.message for b in feb.blockers]
    assert any("BANK" in m and "its own preparer" in m for m in msgs), msgs
    bank = next(b for b in feb.blockers if "BANK" in b.message)
    assert bank.file == "Checklist.xlsx" and bank.cell.startswith("F")  # the reviewed_by cell of its row
    t = tasks_of(books, "2026-02")
    assert t["BANK"]["done"] == "N" and t["ACCR"]["done"] == "Y"
    assert t["FS"]["done"] == "Y" and t["LOCK"]["done"] == "N"

    wb = openpyxl.load_workbook(books / "Checklist.xlsx")
    ws = wb["Checklist"]
    for row in ws.iter_rows(min_row=2):
        if row[0].value == "BANK" and row[1].value == "2026-02":
            row[5].value = "ann"
    wb.save(books / "Checklist.xlsx")
    feb = app.close_books(books, period="2026-02", user="ann", today=D(2026, 3, 5))
    assert feb.exit_code == 0, [b.message for b in feb.blockers]

    mar = app.status(books, today=D(2026, 4, 1), period="2026-03")
    assert mar.exit_code == 0
    assert "0 done" in mar.message and "statuses and sign-offs from the Checklist" in mar.message
    feb_status = app.status(books, today=D(2026, 4, 1), period="2026-02")
    assert "reviewed by ann" in feb_status.message and "5 done" in feb_status.message


def test_status_prints_progress_by_entity_and_the_persons_tasks_that_block_the_lock(tmp_path):
    """The terminal's checklist: progress by area, owner and entity; every name in full; the
    persons' required tasks not done, each at the cell where it is signed."""
    books = books_with(tmp_path, [["BANK", "2026-01", "Done", "bob", D(2026, 2, 2), None, None, None]])
    res = app.status(books, today=D(2026, 2, 3), period="2026-01")
    assert res.exit_code == 0, res.message
    assert "by entity: (group) 0/5" in res.message
    assert "Review the statements" in res.message
    assert "2 required task(s) of persons not done: they block the lock" in res.message
    lines = res.message.splitlines()
    bank = next(x for x in lines if x.strip().startswith("Checklist.xlsx!Checklist!") and "BANK" in x)
    assert "needs a review" in bank or "review" in bank
    assert any(x.strip().startswith("tasks.xlsx!Tasks!") and "ACCR" in x for x in lines), lines


def test_books_without_a_checklist_keep_v1(tmp_path):
    """Without a Checklist sheet, Tasks.status is the period's status and review is not asked."""
    books = write_books({"master.xlsx": master(), "opening.xlsx": OPENING, "tasks.xlsx": {"Tasks": [
        ["task", "name", "status", "step", "review"], ["A", "Reconcile", "Done", None, "Y"],
        ["B", "Lock", None, "lock", None]]}}, tmp_path / "books")
    res = app.close_books(books, period="2026-01", user="ann", today=D(2026, 2, 5))
    assert res.exit_code == 0, [b.message for b in res.blockers]
    assert tasks_of(books, "2026-01")["A"]["done"] == "Y"


def test_checklist_command_writes_a_new_workbook_and_never_overwrites(tmp_path):
    books = books_with(tmp_path, [])
    r = CliRunner().invoke(main, ["checklist", str(books), "--period", "2026-02"])
    assert r.exit_code == 0, r.output
    path = books / "Checklist 2026-02.xlsx"
    rows = read_sheet(path, "Checklist")
    # persons' tasks and automated tasks under review; automated tasks without one are the close's
    assert [(x["task"], x["period"], x["status"]) for x in rows] == [
        ("BANK", "2026-02", "Not started"), ("ACCR", "2026-02", "Not started"), ("FS", "2026-02", "Not started")]
    before = path.read_bytes()
    again = CliRunner().invoke(main, ["checklist", str(books), "--period", "2026-02"])
    assert again.exit_code == 1 and "never overwritten" in again.output
    assert path.read_bytes() == before
    # the new workbook is read as the period's Checklist: it validates clean
    res = app.validate_books(books)
    assert not res.errors, [f.message for f in res.errors]


def test_a_checklist_row_for_an_unknown_task_is_an_error(tmp_path):
    books = books_with(tmp_path, [["NOPE", "2026-01", "Done", "bob", D(2026, 2, 2), None, None, None]])
    res = app.validate_books(books)
    assert any(f.code == "checklist-unknown-task" and f.cell == "A2" for f in res.errors)


# --------------------------------------------------------------------------- every output prints

@pytest.fixture(scope="module")
def sample_close(tmp_path_factory):
    """The sample close of January before the statements review (T10) was signed: the sample
    books carry that sign-off; without it the lock has one blocker (the README's picture)."""
    books = tmp_path_factory.mktemp("ws") / "sample"
    shutil.copytree(Path(__file__).resolve().parents[1] / "sample_books", books)
    cl = books / "Checklist 2026-01.xlsx"
    wb = openpyxl.load_workbook(cl)
    ws = wb["Checklist"]
    ws.delete_rows(next(c.row for c in ws["A"] if c.value == "T10"))
    wb.save(cl)
    res = app.close_books(books, period="2026-01", user="ann", today=D(2026, 2, 4))
    assert res.exit_code in (0, 3), [f.message for f in res.errors]
    return books / "out" / "2026-01"


def workbooks(folder):
    for p in sorted(folder.glob("*.xlsx")):
        wb = openpyxl.load_workbook(p)
        yield p, wb


def test_every_sheet_of_every_output_is_print_ready(sample_close):
    bad = []
    for p, wb in workbooks(sample_close):
        for ws in wb.worksheets:
            pr = ws.sheet_properties.pageSetUpPr
            where = f"{p.name}!{ws.title}"
            if not (pr is not None and pr.fitToPage and ws.page_setup.fitToWidth in (1, None)):
                bad.append(f"{where}: not fitted to the page width")
            if ws.max_row > 1 and not ws.print_title_rows:
                bad.append(f"{where}: no repeated header row")
            if "&P" not in (ws.oddFooter.right.text or "") + (ws.oddFooter.center.text or ""):
                bad.append(f"{where}: no page number in the footer")
            if ws._charts:  # a chart lies inside the print area
                area = ws.print_area
                assert area, where
                last_col = openpyxl.utils.column_index_from_string(
                    str(area[0] if isinstance(area, list) else area).split(":")[-1].replace("$", "").rstrip(
                        "0123456789").split("!")[-1])
                for ch in ws._charts:
                    assert ch.anchor._from.col < last_col, f"{where}: a chart outside the print area"
    assert not bad, bad


def _number_formats(ws, header_row=1):
    """Column header (normalised) -> the number formats of its cells."""
    heads = {c.column: norm_header(c.value) for c in ws[header_row] if c.value}
    out: dict = {}
    for row in ws.iter_rows(min_row=header_row + 1):
        for c in row:
            if c.column in heads and isinstance(c.value, (int, float)) and not isinstance(c.value, bool):
                out.setdefault(heads[c.column], set()).add(c.number_format)
    return out


MONEY = "#,##0.00"


def test_no_money_format_on_a_count_a_rate_or_a_year(sample_close):
    checked = 0
    for p, wb in workbooks(sample_close):
        for ws in wb.worksheets:
            if p.name in ("statements.xlsx", "close_status.xlsx") or ws.title == "Worksheet":
                continue
            for col, formats in _number_formats(ws).items():
                if col in ("line", "lines", "step", "sources", "balances", "rows", "count", "age_days", "days_overdue",
                           "due", "fiscal_year") or "rate" in col and not col.startswith("cta"):
                    checked += 1
                    assert not any(f.startswith(MONEY) for f in formats), f"{p.name}!{ws.title} {col}: {formats}"
    assert checked > 10
    summary = {r["rule"]: r for r in read_sheet(sample_close / "allocation.xlsx", "Summary")}
    assert all(isinstance(r["sources"], int) and r["sources"] >= 1 for r in summary.values())


def test_headers_are_words_that_read_back_as_the_contract_names(sample_close):
    wb = openpyxl.load_workbook(sample_close / "adjusted_trial_balance.xlsx", read_only=True)
    head = [c for c in next(wb["TrialBalance"].iter_rows(values_only=True))]
    assert "Balance acct" in head and "Account name" in head
    assert [norm_header(h) for h in head][:4] == ["entity", "account", "account_name", "type"]
    assert readable("opening_net_assets_group") == "Opening net assets group"
    assert readable("cta_nci_share") == "CTA NCI share" and norm_header(readable("cta_nci_share")) == "cta_nci_share"


def test_trial_balance_opening_debit_credit_closing_and_totals(sample_close):
    tb = read_sheet(sample_close / "adjusted_trial_balance.xlsx", "TrialBalance")
    for r in tb:
        assert round(r["opening_acct"] + r["debit_acct"] - r["credit_acct"] - r["balance_acct"], 2) == 0, r
    totals = read_sheet(sample_close / "adjusted_trial_balance.xlsx", "Totals")
    assert {t["entity"] for t in totals} == {"US", "DK", "UK"}
    for t in totals:
        assert t["balance_acct"] == 0 and t["opening_acct"] == 0 and t["check"].startswith("OK")
        assert round(t["debit_acct"] - t["credit_acct"], 2) == 0


def test_the_fx_schedules_explain_themselves(sample_close):
    rev = read_sheet(sample_close / "revaluation.xlsx", "Revaluation")
    dk = next(r for r in rev if r["entity"] == "DK" and r["account"] == "2300")
    assert dk["rate"] > 6 and dk["rate_text"].startswith("1 USD = 6.8") and dk["rate_text"].endswith("DKK")
    assert "Rates 2026.xlsx!Rates!" in dk["rate_source"] and "1 DKK = 0.146228 USD" in dk["rate_source"]
    assert dk["result"] == "gain" and dk["account_posted"] == "7900"
    cta = {r["entity"]: r for r in read_sheet(sample_close / "consolidation.xlsx", "CTA")}
    assert "HistoricalRates" in cta["DK"]["opening_rate_source"]
    assert cta["DK"]["cta_total_is"] in ("gain", "loss") and cta["DK"]["cta_movement_is"] in ("gain", "loss")


def test_the_workspace_shows_sign_offs_blockers_and_figures_with_currency(sample_close):
    wb = openpyxl.load_workbook(sample_close / "close_status.xlsx")
    text = " ".join(str(c.value) for row in wb["Summary"].iter_rows() for c in row if c.value is not None)
    assert "Sign-offs" in text and "Lock blockers" in text and "Blocked tasks" in text
    assert "Review financial statements" in text  # the blocker, on the Summary
    links = [c.hyperlink.location for row in wb["Summary"].iter_rows() for c in row if c.hyperlink]
    assert links and all("Blockers" in link for link in links)
    ents = {r: None for r in ("US", "DK", "UK")}
    for row in wb["Summary"].iter_rows(values_only=True):
        if row and row[0] in ents and isinstance(row[4], (int, float)) and row[1]:
            ents[row[0]] = row
    assert all(ents[e] is not None and ents[e][4] > 0 for e in ents), ents  # automated steps count as tasks
    tasks = {r["task"]: r for r in read_sheet(sample_close / "close_status.xlsx", "Tasks")}
    assert tasks["T08"]["prepared_by"] == "jonas.holm" and tasks["T08"]["reviewed_by"] == "lisa.morgan"
    assert tasks["T10"]["done"] == "N" and "review" in tasks["T10"]["waiting_for"]
