"""The seal in memory (closebatch.seal): the canonical form of a table, its digest (pinned: a
change of the form would break every ledger already sealed), naming what changed, and the
chain built and checked without a file."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa

from closebatch import seal


def test_each_value_has_one_canonical_text():
    cases = [(None, ""), ("", ""), ("a b", "a b"), (" =1+1", " =1+1"), (5, "5"), (5.0, "5"), (-0.0, "0"),
             (float("nan"), ""), (0.1, "0.1"), (0.1 + 0.2, "0.3"), (1234.56, "1234.56"), (-0.01, "-0.01"),
             (1e20, "1e+20"), (np.int64(7), "7"), (np.float64(2.5), "2.5"), (True, "TRUE"), (np.bool_(False), "FALSE"),
             (dt.date(2026, 1, 31), "2026-01-31"), (dt.datetime(2026, 1, 31), "2026-01-31"),
             (dt.datetime(2026, 1, 31, 13, 5), "2026-01-31 13:05:00"), (np.datetime64("2026-02-01"), "2026-02-01")]
    for value, text in cases:
        assert seal.cell_text(value) == text, value


def test_the_digest_of_a_table_is_pinned():
    """The canonical form is a format: these digests must never change."""
    canon = seal.from_cells(["journal", "amount", "date"], [["J1", 12.5, dt.date(2026, 1, 31)], ["J2", -3, None]])
    assert seal.table_digest(canon) == "814aa8c43d94c9c45ddd83a0397e8af43d3b30c65486ab68a72977fd213c9e00"
    assert seal.digest_fields("x", "a", "") == "5c8e4f32681f830f2c94e98a68eec32596adc509662a7a0144bf564b2f9b6c37"


def test_blank_rows_and_unnamed_columns_are_not_part_of_a_table():
    a = seal.from_cells(["a", "b"], [["x", 1], ["y", 2]])
    b = seal.from_cells(["a", "b", None], [["x", 1, "note"], [None, None, None], ["", "", ""], ["y", 2.0]])
    assert seal.table_digest(a) == seal.table_digest(b)
    assert [w[1] for w in b.where] == [2, 5]  # the rows as a person finds them
    # ... but a blank cell in a row is a value, and so is the order of the rows
    assert seal.table_digest(seal.from_cells(["a", "b"], [["x", None], ["y", 2]])) != seal.table_digest(a)
    assert seal.table_digest(seal.from_cells(["a", "b"], [["y", 2], ["x", 1]])) != seal.table_digest(a)
    # nothing a cell holds can pass for a separator
    assert seal.table_digest(seal.from_cells(["a", "b"], [["x1", ""]])) != \
        seal.table_digest(seal.from_cells(["a", "b"], [["x", "1"]]))


def test_a_parquet_table_reads_like_the_same_workbook_cells():
    rows = [["J1", 1, dt.date(2026, 1, 31), "E1"], ["J2", -250, dt.date(2026, 2, 1), ""]]
    names = ["journal", "amount", "date", "entity"]
    t = pa.table({"journal": ["J1", "J2"], "amount": pa.array([1, -250], pa.int64()),
                  "date": pa.array([dt.date(2026, 1, 31), dt.date(2026, 2, 1)], pa.date32()), "entity": ["E1", ""]})
    assert seal.table_digest(seal.from_arrow(t)) == seal.table_digest(seal.from_cells(names, rows))


def _sealed(rows):
    canon = seal.from_cells(["entity", "account", "amount"], rows, [("Balances", i + 2) for i in range(len(rows))])
    return seal.table_seal(canon, "2026-01", "Balances", "2026-01.xlsx", "Balances", "f" * 64)


def test_what_changed_is_named_by_row_column_and_cell():
    rows = [["E1", "1000", 10.5], ["E1", "1100", -10.5], ["E2", "1000", 3]]
    t = _sealed(rows)
    edited = [list(r) for r in rows]
    edited[1][2] = -11.5
    what, cell = seal.where_changed(t, seal.from_cells(["entity", "account", "amount"], edited,
                                                       [("Balances", i + 2) for i in range(3)]))
    assert what == "row 3 of sheet Balances changed (column amount)" and cell == "C3"
    what, cell = seal.where_changed(t, seal.from_cells(["entity", "account", "amount"], rows[:1] + rows[2:],
                                                       [("Balances", i + 2) for i in range(2)]))
    assert what.startswith("3 row(s) were sealed, it has 2; the first change is at row 3") and cell == ""
    what, _ = seal.where_changed(t, seal.from_cells(["entity", "account", "amount", "x"], [r + [1] for r in rows]))
    assert "column(s) x added" in what


def test_a_large_table_is_located_to_a_block_of_rows():
    n = 10_000
    t = pa.table({"k": pa.array(np.arange(n), pa.int64())})
    sealed = seal.table_seal(seal.from_arrow(t), "2026-01", "Posted", "p.parquet", "")
    assert seal.block_size(n) == 3 and len(sealed.blocks) == -(-n // 3) * seal.SHORT
    vals = np.arange(n)
    vals[7777] = -1
    what, _ = seal.where_changed(sealed, seal.from_arrow(pa.table({"k": pa.array(vals, pa.int64())})))
    assert what == "row 7777 to row 7779 changed (column k)"  # a Parquet table's rows count from 1


def _record(sheets):
    canon = {n: seal.from_frame(df) for n, df in sheets.items()}
    return seal.Record({n: df.astype(str) for n, df in sheets.items()}, canon,
                       {n: [w[1] for w in c.where] for n, c in canon.items()})


def test_the_chain_built_in_memory_checks_and_every_kind_of_change_breaks_it():
    jan = _sealed([["E1", "1000", 10]])
    rows = [{"period": "2026-01", "start": "2026-01-01", "end": "2026-01-31", "status": "On hold",
             "closed_by": "closebatch", "started_from": "",
             "close_seal": seal.close_seal("2026-01", "2026-01-01", "2026-01-31", "", [jan])}]
    history = pd.DataFrame([{"period": "2026-01", "from": "Open", "to": "On hold", "user": "ann",
                             "when": "2026-02-01 10:00:00", "note": "closed"}])
    sheets = seal.build(rows, history, [jan])
    same = {("2026-01", "Balances"): seal.UNCHANGED}
    assert seal.check(_record(sheets), same) == []

    def broken(sheet, row, col, value):
        s = {n: df.copy() for n, df in sheets.items()}
        s[sheet].loc[row, col] = value
        return [b.period for b in seal.check(_record(s), same)]

    assert broken("Status", 0, "status", "Open") == ["2026-01"]
    assert broken("History", 0, "user", "mallory") == ["2026-01"]
    assert broken("Seals", 0, "status", "Open") == ["2026-01", "2026-01"]  # its seal, and the Status disagrees
    assert broken("Tables", 0, "rows", "2") == ["2026-01"]
    assert broken("Chain", 3, "value", "0" * 64) == [""]  # the head
    table_now = seal.from_cells(["entity", "account", "amount"], [["E1", "1000", 11]])
    got = seal.check(_record(sheets), {("2026-01", "Balances"): table_now})
    assert [b.finding.cell for b in got] == ["C2"] and "Balances table of period 2026-01" in got[0].finding.message
    got = seal.check(_record(sheets), same, stray=["2026-02.xlsx"])
    assert [b.period for b in got] == [""] and "2026-02.xlsx" in got[0].finding.message


def test_an_arrow_tables_seal_is_made_a_column_at_a_time_with_the_same_digests():
    """``columns_seal`` over ``arrow_columns`` (one column's text at a time) gives the seal the
    whole canonical table gives, pinned (digests made before the seal was streamed)."""
    import datetime as dt
    import hashlib

    import pyarrow as pa

    n = 4097  # several blocks of rows
    t = pa.table({"a": pa.array([f"x{i % 97}" for i in range(n)], type=pa.large_string()),
                  "n": pa.array([i * 7919 - 10**9 for i in range(n)]),
                  "d": pa.array([dt.date(2026, 1, 1 + i % 28) for i in range(n)], type=pa.date32()),
                  "e": pa.array([None if i % 3 else "é" for i in range(n)], type=pa.string())})
    streamed = seal.columns_seal(t.column_names, n, seal.arrow_columns(t), "2026-01", "Posted", "f.parquet", "", "sha")
    assert streamed == seal.table_seal(seal.from_arrow(t), "2026-01", "Posted", "f.parquet", "", "sha")
    assert streamed.digest == "eb4cff72ff9fbfdb421541c92a3c2931a4d2c110f31ef4155dc7b29128af8cdf"
    assert streamed.column_digests == "da235eda2d736c40bd75bb5e0ad88f07"
    assert hashlib.sha256(streamed.blocks.encode()).hexdigest() == \
        "d54e5652cf2bc7b5ed491541387ac796724e804b1b23793d0ef96beea830fa4f"
    canon = seal.from_arrow(t)
    assert seal.table_digest(canon) == streamed.digest and "".join(seal.block_digests(canon)) == streamed.blocks
