"""The benchmark's books generator (bench/generate.py) writes valid, closable, reproducible books.

No timing is asserted: this only keeps the generator in step with the books format, so that
``python bench/run.py`` keeps measuring a close that succeeds.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

from closebatch import app

# its books are built once (module fixtures): every test of the module runs on one worker
pytestmark = pytest.mark.xdist_group('test_bench')

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "bench" / "generate.py"
LINES = 2000


def _generator():
    spec = importlib.util.spec_from_file_location("bench_generate", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def books(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bench") / "books"
    summary = _generator().generate(folder, lines=LINES, seed=7)
    return folder, summary


def test_generates_about_the_lines_asked_for(books):
    folder, summary = books
    assert sorted(p.name for p in folder.glob("Journals *.xlsx")) == [
        "Journals DE Jan.xlsx", "Journals DK Jan.xlsx", "Journals GB Jan.xlsx", "Journals JP Jan.xlsx",
        "Journals P Jan.xlsx"]
    assert abs(summary["total_lines"] - LINES) <= LINES * 0.05


def test_validates_without_errors(books, tmp_path):
    folder, _ = books
    outcome = app.validate_books(folder, out=tmp_path / "validation")
    assert outcome.exit_code == app.EXIT_OK, [f"{f.where()}: {f.message}" for f in outcome.errors][:10]
    assert not outcome.errors


def test_closes(books, tmp_path):
    folder, _ = books
    outcome = app.close_books(folder, period="2026-01", out=tmp_path / "out", dry_run=True, user="bench")
    assert outcome.exit_code in (app.EXIT_OK, app.EXIT_BLOCKED), (
        outcome.message, [f"{f.where()}: {f.message}" for f in outcome.errors][:10])
    steps = outcome.summary["steps"]
    assert steps["settlement"]["settled_groups"] > 0 and steps["settlement"]["open_items"] > 0
    assert steps["revaluation"]["balances_revalued"] > 0
    assert steps["consolidation"]["consolidated_entities"] == 5
    assert not (folder / "ledger").exists(), "a dry run persists nothing"
    # what bench/run.py reads instead of wrapping the library's functions (no time is asserted)
    from closebatch.registry import STEPS

    assert {"read", "validate", "close", "statements", "write", "persist"} <= set(outcome.timings)
    assert set(outcome.timings["steps"]) == {st.name for st in STEPS if st.run is not None}


def test_same_arguments_same_bytes(books, tmp_path):
    folder, _ = books
    again = tmp_path / "again"
    _generator().generate(again, lines=LINES, seed=7)
    first = sorted(p.name for p in folder.glob("*.xlsx"))
    assert first == sorted(p.name for p in again.glob("*.xlsx"))
    for name in first:
        assert (folder / name).read_bytes() == (again / name).read_bytes(), f"{name} differs between two runs"


@pytest.fixture(scope="module")
def short_books(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bench-short") / "books"
    journal = folder.parent / "books.journal"
    summary = _generator().generate(folder, lines=LINES, seed=7, shape="short", hledger=journal)
    return folder, summary, journal


def test_short_journals_are_two_or_three_lines(short_books, tmp_path):
    folder, summary, _ = short_books
    assert abs(summary["total_lines"] - LINES) <= LINES * 0.05
    assert 2.0 <= summary["total_lines"] / summary["journals"] <= 2.3  # many short journals
    outcome = app.close_books(folder, period="2026-01", out=tmp_path / "out", dry_run=True, user="bench")
    assert outcome.exit_code in (app.EXIT_OK, app.EXIT_BLOCKED), (
        outcome.message, [f"{f.where()}: {f.message}" for f in outcome.errors][:10])


def test_the_hledger_journal_holds_the_same_transactions(short_books):
    """One transaction per journal and one per entity's opening balances; each balances in the
    entity's currency at the cost of its foreign-currency postings."""
    from decimal import Decimal

    folder, summary, journal = short_books
    text = journal.read_text(encoding="utf-8")
    blocks = [b for b in text.split("\n\n") if b.strip()]
    assert len(blocks) == summary["hledger_transactions"] == summary["journals"] + 5
    postings = sum(len(b.splitlines()) - 1 for b in blocks[5:])
    assert postings == summary["total_lines"]
    for block in blocks:
        total: dict = {}
        for line in block.splitlines()[1:]:
            _, amount = line.strip().split("  ", 1)
            if " @@ " in amount:
                qty, cost = amount.split(" @@ ")
                ccy, value = cost.split()
                value = Decimal(value) * (-1 if "-" in qty else 1)
            else:
                ccy, value = amount.split()
                value = Decimal(value)
            total[ccy] = total.get(ccy, 0) + value
        assert all(v == 0 for v in total.values()), block


def test_an_entity_past_a_sheets_worth_of_lines_goes_on_in_another_workbook_never_splitting_a_journal(
        tmp_path, monkeypatch):
    gen = _generator()
    monkeypatch.setattr(gen, "SHEET_LINES", 150)
    folder = tmp_path / "books"
    summary = gen.generate(folder, lines=600, seed=7)
    from closebatch.io.reader import read_books

    read = read_books(folder)
    assert not [f for f in read.findings if f.severity == "error"]
    journals = pd.concat([s.frame for s in read.frames("Journals")], ignore_index=True)
    assert len(journals) == summary["total_lines"]
    parts = journals.groupby("journal")["_file"].nunique()
    assert (parts == 1).all()  # every journal in one workbook
    per_file = journals.groupby("_file").size()
    assert any("(2)" in f for f in per_file.index) and per_file.max() < 150 + 10
