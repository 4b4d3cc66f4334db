"""Tables written a block at a time (``closebatch.io.fastcells``) are the bytes xlsxwriter
writes cell by cell: the same file, whatever the text, numbers, formats, blanks and links."""
from __future__ import annotations

import io
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, strategies as st
from python_calamine import CalamineWorkbook

from closebatch.io import deflate, fastcells, writer
from conftest import deflaters
from closebatch.io.journal_report import write_ledger_journal
from closebatch.io.outputs import journal_lines
from closebatch.io.writer import Book, Column, Sheet, write_workbook

HOSTILE = ["=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2", "@SUM(A1)", "plain", "", None, "a & b < c > d \"q\"",
           "tab\there", "line\nbreak", " leading", "trailing ", "\u00a0nbsp", "ctrl\x01\x1f", "_x0041_ literal",
           "emoji \U0001F600", "\ufffe odd", "x" * 40, "carriage\r", "ünïcødé €"]


def frame(n: int = 57) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    text = [HOSTILE[i % len(HOSTILE)] for i in range(n)]
    ccy = np.where(np.arange(n) % 5 == 3, "JPY", np.where(np.arange(n) % 7 == 0, "KWD", "USD"))
    amount = rng.integers(-10**9, 10**9, n)
    amount[:6] = [7, -7, 0, 10**15 + 1, 5, -10**12]
    num = rng.normal(size=n) * 1e6
    num[:5] = [np.nan, -0.0, 1e16, 0.07, 1 / 3]
    dates = pd.Series(pd.to_datetime("2026-01-01") + pd.to_timedelta(np.arange(n) % 40, unit="D"))
    dates[4] = pd.NaT
    links = [(f"'Lines'!A{i + 2}:C{i + 3}", f"rows {i + 2}-{i + 3}") if i % 4 else None for i in range(n)]
    return pd.DataFrame({
        "text": pd.Series(text, dtype="str"), "obj": pd.Series([t if i % 3 else i for i, t in enumerate(text)],
                                                               dtype=object),
        "ccy": pd.Series(ccy, dtype="str"), "amount": amount, "scaled": amount // 3, "num": num,
        "rate": np.linspace(0.5, 2, n), "int": np.arange(n), "pct": np.linspace(0, 1, n), "date": dates,
        "flag": np.arange(n) % 2 == 0, "link": links,
    })


COLUMNS = [Column("text"), Column("obj"), Column("ccy"), Column("amount", "money", "ccy"), Column("scaled", "money", 0),
           Column("num", "number"), Column("rate", "rate"), Column("int", "int"), Column("pct", "pct"),
           Column("date", "date"), Column("flag", "bool"), Column("link", "link"), Column("missing")]


@pytest.fixture(autouse=True)
def every_block_in_one_go(monkeypatch):
    """The block writer on every block, however small, in streamed workbooks however small (a
    close writes a small block cell by cell, :data:`closebatch.io.writer.FAST_FROM`, and a
    small workbook in memory, :data:`closebatch.io.writer.IN_MEMORY_CELLS`)."""
    monkeypatch.setattr(writer, "FAST_FROM", 0)
    monkeypatch.setattr(writer, "IN_MEMORY_CELLS", -1)


def write_both(tmp_path, monkeypatch, write) -> tuple[bytes, bytes]:
    out = {}
    for mode in (True, False):
        monkeypatch.setattr(writer, "CELL_BY_CELL", mode)
        folder = tmp_path / ("cells" if mode else "block")
        folder.mkdir(exist_ok=True)
        path = folder / "book.xlsx"
        write(path)
        out[mode] = path.read_bytes()
    return out[True], out[False]


def differing_parts(a: bytes, b: bytes) -> list:
    za, zb = zipfile.ZipFile(io.BytesIO(a)), zipfile.ZipFile(io.BytesIO(b))
    assert za.namelist() == zb.namelist()
    return [n for n in za.namelist() if za.read(n) != zb.read(n)]


@pytest.mark.parametrize("block,piece,chunk", [(writer.BLOCK, fastcells.PIECE, writer.DEFLATE_CHUNK), (7, 2, 999),
                                               (50, 4, 1 << 12)])
def test_a_table_is_the_same_file_both_ways(tmp_path, monkeypatch, block, piece, chunk):
    """Whole blocks, or small ones built in pieces on threads and deflated in pieces."""
    monkeypatch.setattr(writer, "BLOCK", block)
    monkeypatch.setattr(fastcells, "PIECE", piece)
    monkeypatch.setattr(writer, "DEFLATE_CHUNK", chunk)
    monkeypatch.setattr(deflate, "PIECE", chunk)
    df = frame()

    def write(path):
        write_workbook(path, [Sheet("Lines", df, COLUMNS, title="Title & <more>", totals=["amount"]),
                              Sheet("Empty", df.iloc[:0], COLUMNS), Sheet("Few", df[["text", "num", "date"]],
                                                            [Column("text", "code"), Column("num", "number"),
                                                             Column("date", "date")])])

    cells, block_ = write_both(tmp_path, monkeypatch, write)
    assert differing_parts(cells, block_) == []
    assert cells == block_


def test_small_blocks_cell_by_cell_after_whole_ones_give_the_same_file(tmp_path, monkeypatch):
    """A table's full blocks in one go and its last, small one cell by cell (as a close writes
    a long table): the same file as every cell through xlsxwriter."""
    monkeypatch.setattr(writer, "BLOCK", 7)
    monkeypatch.setattr(writer, "FAST_FROM", 7 * len(COLUMNS))
    df = frame(24)  # blocks of 7, 7, 7 and 3 rows
    seen = []
    real = fastcells.write_rows
    monkeypatch.setattr(fastcells, "write_rows", lambda *a, **k: (seen.append(a[3]), real(*a, **k))[1])
    cells, block_ = write_both(tmp_path, monkeypatch, lambda p: write_workbook(p, [Sheet("Lines", df, COLUMNS)]))
    assert seen == [7, 7, 7]  # the last block went cell by cell
    assert cells == block_, differing_parts(cells, block_)


def test_continuation_sheets_and_the_limit_of_links(tmp_path, monkeypatch):
    monkeypatch.setattr(writer, "MAX_ROWS", 20)
    monkeypatch.setattr(writer, "MAX_LINKS", 9)
    monkeypatch.setattr(writer, "BLOCK", 6)
    df = frame(70)

    def write(path):
        write_workbook(path, [Sheet("Lines", df, COLUMNS, totals=["amount"])])

    cells, block_ = write_both(tmp_path, monkeypatch, write)
    assert cells == block_, differing_parts(cells, block_)
    wb = CalamineWorkbook.from_path(str(tmp_path / "block" / "book.xlsx"))
    assert wb.sheet_names == ["Lines", "Lines (2)", "Lines (3)", "Lines (4)"]


def test_two_columns_of_links_are_the_same_file_both_ways(tmp_path, monkeypatch):
    monkeypatch.setattr(writer, "BLOCK", 9)
    df = frame(40)
    cols = [Column("link", "link", header="first"), *COLUMNS]

    cells, block_ = write_both(tmp_path, monkeypatch, lambda p: write_workbook(p, [Sheet("Lines", df, cols)]))
    assert cells == block_, differing_parts(cells, block_)


def test_what_a_reader_sees(tmp_path, monkeypatch):
    """Text stays text (never a formula), numbers and dates are numbers with their formats,
    links point into the workbook, the header row is frozen."""
    monkeypatch.setattr(writer, "CELL_BY_CELL", False)
    monkeypatch.setattr(writer, "DEFLATE_CHUNK", 2048)  # the sheet deflated in pieces still reads as one
    monkeypatch.setattr(deflate, "PIECE", 2048)
    monkeypatch.setattr(fastcells, "PIECE", 3)
    df = frame(25)
    path = tmp_path / "t.xlsx"
    write_workbook(path, [Sheet("Lines", df, COLUMNS)])
    import openpyxl

    ws = openpyxl.load_workbook(path)["Lines"]
    assert ws.freeze_panes == "A2"
    assert ws["A2"].value == HOSTILE[0] and ws["A2"].data_type == "s"  # the formula-looking text, as text
    assert ws["A3"].value == "+1+1" and ws["A5"].value == "@SUM(A1)"
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("Lines").to_python()
    assert rows[14][0] == "ctrl\x01\x1f" and rows[15][0] == "_x0041_ literal"  # escaped as Excel does, read back
    assert ws["A12"].value == " leading" and ws["A13"].value == "trailing "
    assert ws["A8"].value is None  # empty text is a blank cell
    assert ws["D3"].value == pytest.approx(-0.07) and ws["D3"].number_format == "#,##0.00;-#,##0.00;0.00"
    assert ws["D5"].number_format == "#,##0;-#,##0;0"  # a JPY amount: no decimals
    assert ws["D9"].number_format == "#,##0.000;-#,##0.000;0.000"  # KWD: three
    assert ws["J2"].is_date and ws["J2"].value.date().isoformat() == "2026-01-01"
    assert ws["J6"].value is None  # NaT: blank
    assert ws["F2"].value is None and ws["F5"].value == pytest.approx(0.07)
    assert ws["K2"].value == "Y" and ws["K3"].value == "N"
    assert ws["L3"].hyperlink.location == "'Lines'!A3:C4" and ws["L3"].value == "rows 3-4"
    assert ws["L2"].value is None and ws["L2"].hyperlink is None


def test_the_ledger_journal_is_the_same_file_both_ways(tmp_path, monkeypatch):
    from test_statements import group_books  # a small group with every kind of journal

    from closebatch import app

    books = group_books(tmp_path / "books")
    outcome = app.close_books(books, period="2026-01", user="t", jobs=1, dry_run=True)
    assert outcome.exit_code in (0, 3)
    _, book, _ = app.load(books)
    lines = pd.DataFrame({
        "journal": ["J2", "J1", "J1", "E1"], "line": [1, 1, 2, 1], "date": pd.to_datetime(["2026-01-05"] * 4),
        "entity": ["P", "P", "P", "P"], "account": ["1000", "1000", "4000", "1000"], "currency": ["USD"] * 4,
        "amount": [100, 250, -250, 5], "amount_acct": [100, 250, -250, 5], "journal_type": ["daily", "daily",
                                                                                            "daily", "elimination"],
        "description": ["=1+1", "Sale & co", None, "x"], "counterparty": [None] * 4, "reference": ["R1", "", "", ""],
        "source": ["Journals.xlsx!Journals:2"] * 4})
    for d in book.dims:
        lines[d] = None
    jl = journal_lines(book, lines)
    cells, block_ = write_both(tmp_path, monkeypatch, lambda p: write_ledger_journal(p, book, jl))
    assert cells == block_, differing_parts(cells, block_)


def test_reruns_are_byte_identical(tmp_path, monkeypatch):
    monkeypatch.setattr(writer, "CELL_BY_CELL", False)
    monkeypatch.setattr(writer, "DEFLATE_CHUNK", 1000)
    monkeypatch.setattr(deflate, "PIECE", 1000)
    monkeypatch.setattr(fastcells, "PIECE", 3)
    df = frame(40)
    paths = [tmp_path / "a.xlsx", tmp_path / "b.xlsx"]
    for p in paths:
        write_workbook(p, [Sheet("Lines", df, COLUMNS)], title="same")
    assert paths[0].read_bytes() == paths[1].read_bytes()


def test_a_worksheet_the_block_writer_does_not_cover_is_written_cell_by_cell(tmp_path, monkeypatch):
    """A sheet with a row height set (or not in constant-memory mode) takes the cell-by-cell
    path, and the file is still complete."""
    monkeypatch.setattr(writer, "CELL_BY_CELL", False)
    df = frame(12)
    book = Book(tmp_path / "plain.xlsx", stream=False)  # not constant-memory
    book.write(Sheet("Lines", df, COLUMNS))
    book.close()
    wb = CalamineWorkbook.from_path(str(tmp_path / "plain.xlsx"))
    rows = wb.get_sheet_by_name("Lines").to_python()
    assert len(rows) == 13 and rows[1][0] == HOSTILE[0]


def test_a_part_deflated_in_pieces_inflates_to_the_same_bytes(tmp_path, monkeypatch):
    import zlib

    data = b"".join(b"<row r=\"%d\"><c r=\"A%d\"><v>%d</v></c></row>" % (i, i, i * 7) for i in range(20000))
    for chunk in (1000, 4096, len(data) + 1):
        monkeypatch.setattr(writer, "DEFLATE_CHUNK", chunk)
        d = writer._ChunkedDeflate(1)
        out = b"".join(d.compress(data[k:k + 8192]) for k in range(0, len(data), 8192)) + d.flush()
        assert zlib.decompress(out, -15) == data


def test_amounts_print_as_xlsxwriter_prints_them():
    """The decimal digits of an amount in minor units, where they are what ``.16G`` prints,
    else Python's ``.16G`` itself: the same text either way, for every scale and size."""
    rng = np.random.default_rng(3)
    minor = np.concatenate([rng.integers(-10**k, 10**k, 4000) for k in range(1, 18)]
                           + [np.array([7, -7, 1, 10, 100, 1000, -10**14, 10**15 - 1, 10**15 + 3, 0])])
    for sc in (0, 1, 2, 3, 4, 6):
        scale = np.full(len(minor), sc)
        values = minor / 10.0 ** sc
        valid = np.ones(len(minor), dtype=bool)
        valid[::97] = False
        got = fastcells._number_text(values, valid, minor, scale).to_pylist()
        want = [("%.16G" % x) if ok else None for x, ok in zip(values.tolist(), valid.tolist())]
        assert got == want, sc


def print_ready_frame(n: int = 23) -> pd.DataFrame:
    """Long text that wraps (rows of several lines), blank amounts, every number kind."""
    words = "the quick brown fox jumps over the lazy dog and & <keeps> running "
    long = [(words * (1 + i % 4))[: 20 + 37 * (i % 5)] if i % 3 else None for i in range(n)]
    long[2] = "=SUM(A1:A9) " + "y" * 130  # a formula-looking text that wraps: text all the same
    amount = pd.Series([None if i % 6 == 1 else (i - 9) * 12345 for i in range(n)], dtype=object)
    return pd.DataFrame({
        "entity_code": pd.Series([f"E{i % 3}" for i in range(n)], dtype="str"),
        "long_description_of_the_line": pd.Series(long, dtype="str"), "amount_acct": amount,
        "line_count": np.arange(n) * 1001, "fiscal_year": np.full(n, 2026), "share_pct": np.linspace(0, 1, n),
        "statistic_value": np.linspace(-5, 5, n) / 7, "rate_to_group": np.linspace(0.1, 30, n),
        "when": pd.Series(pd.to_datetime("2026-01-31") - pd.to_timedelta(np.arange(n), unit="D")),
        "reviewed": np.arange(n) % 3 == 0})


PRINT_COLUMNS = [Column("entity_code", "code"), Column("long_description_of_the_line", "text"),
                 Column("amount_acct", "money", 2),
                 Column("line_count", "count", header="Number of lines posted in the period"), Column("fiscal_year", "year"),
                 Column("share_pct", "percent"), Column("statistic_value", "number"),
                 Column("rate_to_group", "rate"), Column("when", "date"), Column("reviewed", "flag")]


def write_print_ready(path):
    book = Book(path, title="Print & ready", stream=True)
    book.write(Sheet("Wrapped", print_ready_frame(), PRINT_COLUMNS, words=True, totals=["amount_acct"],
                     caption="Lines <wrapped>"))
    book.write(Sheet("Titled", print_ready_frame(9), PRINT_COLUMNS[:4], title="A title above", words=True))
    ws = book.write(Sheet("Charted", print_ready_frame(6)[["entity_code", "line_count"]],
                          [Column("entity_code", "code"), Column("line_count", "count")]))
    chart = book.wb.add_chart({"type": "column"})
    chart.add_series({"values": "='Charted'!$B$2:$B$7"})
    ws.insert_chart("D2", chart)
    book.close()


@pytest.mark.parametrize("block", [writer.BLOCK, 5])
def test_a_print_ready_table_with_wrapped_rows_is_the_same_file_both_ways(tmp_path, monkeypatch, block):
    """Main's print-ready tables: headers in words that wrap (the header row's height), long
    text wrapping with each row as high as its lines, every cell at the top of its row, blank
    amounts, each number kind's format, print setup and a chart's print area."""
    monkeypatch.setattr(writer, "BLOCK", block)
    monkeypatch.setattr(fastcells, "PIECE", 2)
    blocks = []
    real = fastcells.write_rows
    monkeypatch.setattr(fastcells, "write_rows", lambda *a, **k: (blocks.append(a[1]), real(*a, **k))[1])
    cells, block_ = write_both(tmp_path, monkeypatch, write_print_ready)
    assert blocks, "the block writer wrote the sheets (no fall back for heights)"
    assert cells == block_, differing_parts(cells, block_)


def test_print_setup_and_heights_come_out(tmp_path, monkeypatch):
    import openpyxl

    monkeypatch.setattr(writer, "CELL_BY_CELL", False)
    monkeypatch.setattr(writer, "BLOCK", 5)
    path = tmp_path / "p.xlsx"
    write_print_ready(path)
    wb = openpyxl.load_workbook(path)
    ws = wb["Wrapped"]
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:J24"
    assert ws.print_title_rows == "$1:$1"
    assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToWidth in (None, 1)
    assert ws.page_setup.fitToHeight == 0 and ws.page_setup.orientation == "landscape"
    assert ws.oddHeader.left.text == "&BPrint && ready"  # the workbook's name, "&" escaped in a page header
    assert ws.row_dimensions[1].height == 45  # "Number of lines posted in the period" wraps in three lines
    assert ws["B4"].value.startswith("=SUM(") and ws["B4"].data_type == "s"  # text, never a formula
    assert ws["B4"].alignment.wrap_text and ws.row_dimensions[4].height == 45  # 142 characters, 3 lines
    assert ws.row_dimensions[3].height == 30 and ws.row_dimensions[5].height is None  # 57 characters; none
    assert ws["C3"].value is None and ws["C2"].value == pytest.approx(-1111.05)  # a missing amount stays blank
    assert ws["C2"].number_format == "#,##0.00;-#,##0.00;0.00" and ws["C2"].alignment.vertical == "top"
    assert ws["D3"].number_format == "#,##0" and ws["E2"].number_format == "0" and ws["F2"].number_format == "0.00%"
    assert ws["H2"].number_format == "0.000000###" and ws["I2"].is_date
    assert ws["A25"].value == "Total"
    assert wb["Titled"].print_title_rows == "$1:$2" and wb["Titled"].freeze_panes == "A3"
    assert wb["Titled"].page_setup.orientation == "portrait"
    assert wb["Charted"].print_area == "'Charted'!$A$1:$K$16"  # the chart beside the table prints


def _as_read(path) -> dict:
    """Every sheet as a reader sees it: the cells' values (calamine; openpyxl leaves Excel's
    ``_xHHHH_`` escapes undone in text stored in the cells, not in shared strings); each
    written cell's number format, bold, fill and hyperlink, the frozen panes, the filter and
    the column widths (openpyxl)."""
    import openpyxl

    wb = openpyxl.load_workbook(path)
    cal = CalamineWorkbook.from_path(str(path))
    out = {}
    for ws in wb.worksheets:
        styles = {c.coordinate: (c.number_format, c.font.b, c.fill.fgColor.rgb,
                                 c.hyperlink.location if c.hyperlink else None)
                  for row in ws.iter_rows() for c in row if c.value is not None or c.hyperlink}
        widths = {k: d.width for k, d in ws.column_dimensions.items()}
        values = cal.get_sheet_by_name(ws.title).to_python()
        out[ws.title] = (values, styles, ws.freeze_panes, ws.auto_filter.ref, widths)
    return out


def test_a_small_workbook_built_in_memory_reads_as_the_streamed_one(tmp_path, monkeypatch):
    """A workbook of at most ``IN_MEMORY_CELLS`` cells is built in memory (text in the shared
    strings table instead of in its cells): a reader sees the same cells, formats, links and
    panes as in the streamed file, and the same books give the same bytes."""
    df = frame(20)
    sheets = [Sheet("Lines", df, COLUMNS, title="Title & <more>", totals=["amount"]), Sheet("Empty", df.iloc[:0], COLUMNS)]
    cells = sum(s.cells for s in sheets)
    monkeypatch.setattr(writer, "IN_MEMORY_CELLS", cells)
    small = [write_workbook((tmp_path / f"mem{i}").mkdir() or tmp_path / f"mem{i}" / "t.xlsx", sheets)
             for i in range(2)]
    monkeypatch.setattr(writer, "IN_MEMORY_CELLS", cells - 1)
    streamed = write_workbook(tmp_path / "t.xlsx", sheets)
    with zipfile.ZipFile(small[0]) as z:
        assert "xl/sharedStrings.xml" in z.namelist()  # built in memory, not streamed
    with zipfile.ZipFile(streamed) as z:
        assert "xl/sharedStrings.xml" not in z.namelist()
    assert small[0].read_bytes() == small[1].read_bytes()
    assert _as_read(small[0]) == _as_read(streamed)


def parts(data: bytes) -> dict:
    """Every part of a workbook, inflated (zipfile checks each part's CRC-32 and size)."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {n: z.read(n) for n in z.namelist()}


def test_the_test_install_has_the_fast_deflater():
    """The ``fast`` extra is part of the test install, so both deflaters are tested."""
    assert deflate.CODEC is not zlib and len(deflaters()) == 2


def test_either_deflater_writes_the_same_workbook_and_the_same_bytes_again(tmp_path, monkeypatch):
    """zlib and ISA-L write workbooks whose parts inflate to the same bytes (the deflated
    bytes differ); each writes the same file twice; a large part (in pieces side by side)
    and a small one both go through the deflater chosen."""
    monkeypatch.setattr(writer, "DEFLATE_CHUNK", 4096)  # the styles and the sheet in pieces
    df = frame(400)
    sheets = [Sheet("Lines", df, COLUMNS, title="Title", totals=["amount"])]
    files = {}
    for c in deflaters():
        monkeypatch.setattr(deflate, "CODEC", c)
        for k in (1, 2):
            (tmp_path / f"{c.__name__}{k}").mkdir()
            files[c.__name__, k] = write_workbook(tmp_path / f"{c.__name__}{k}" / "t.xlsx", sheets).read_bytes()
    for c in deflaters():
        assert files[c.__name__, 1] == files[c.__name__, 2]
        assert parts(files[c.__name__, 1]) == parts(files[deflaters()[0].__name__, 1])
    if len(deflaters()) == 2:
        assert files[deflaters()[0].__name__, 1] != files[deflaters()[1].__name__, 1]
    for c in deflaters():  # each small part is the chosen deflater's, at the writer's level
        for name, raw, data in raw_parts(files[c.__name__, 1]):
            if len(data) < 4096:
                packer = c.compressobj(writer.COMPRESS_LEVEL, zlib.DEFLATED, -15)
                assert raw == packer.compress(data) + packer.flush(), name


def raw_parts(data: bytes) -> list:
    """``(name, deflated bytes, inflated bytes)`` of every part of a workbook."""
    import struct

    out = []
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for info in z.infolist():
            names, extra = struct.unpack("<HH", data[info.header_offset + 26:info.header_offset + 30])
            start = info.header_offset + 30 + names + extra
            out.append((info.filename, data[start:start + info.compress_size], z.read(info)))
    return out


@pytest.mark.parametrize("piece", [deflate.PIECE, 7, 1])
def test_rows_deflated_as_written_are_xlsxwriters_sheet(tmp_path, monkeypatch, piece, codec):
    """A streamed sheet's rows are deflated as they are written (:class:`closebatch.io.deflate.
    DeflatedRows`) and packed as they are: every part inflates to the bytes of xlsxwriter's own
    worksheet, whatever falls at the pieces' ends, carriage returns included (xlsxwriter's text
    copy turns them into line ends), and the zip's sizes and CRC-32s check out."""
    import xlsxwriter.worksheet

    monkeypatch.setattr(deflate, "PIECE", piece)
    df = frame(30)
    df["text"] = df["text"].astype(object).where(df.index % 3 != 1, "cr\r lf\n crlf\r\n end\r")
    sheets = [Sheet("Lines", df, COLUMNS, title="Title", totals=["amount"]), Sheet("Empty", df.iloc[:0], COLUMNS)]
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    ours = write_workbook(tmp_path / "a" / "t.xlsx", sheets)
    monkeypatch.setattr(writer, "_Worksheet", xlsxwriter.worksheet.Worksheet)
    theirs = write_workbook(tmp_path / "b" / "t.xlsx", sheets)
    assert parts(ours.read_bytes()) == parts(theirs.read_bytes())
    assert _as_read(ours) == _as_read(theirs)
    assert not writer._DEFLATED and not list((tmp_path / "a").glob("tmp*"))


def test_a_carriage_return_in_the_rows_is_kept_as_a_text_copy_reads_it(tmp_path, monkeypatch, codec):
    """Deflated rows keep the text copy's one change: ``\\r\\n`` and a lone ``\\r`` become
    ``\\n``, also when a ``\\r\\n`` falls across two writes or two pieces."""
    import xlsxwriter.worksheet

    rows = '<row r="1"><c t="inlineStr"><is><t>a\r\nb\rc\r</t></is></c></row>\r\n<row r="2"/>\r'
    ws = xlsxwriter.worksheet.Worksheet()  # xlsxwriter's own text copy
    ws.dim_rowmin = 0
    ws.row_data_fh_closed = False
    ws.row_data_filename = str(tmp_path / "rows.xml")
    with open(ws.row_data_filename, "w", encoding="utf-8", newline="") as f:
        f.write(rows)
    ws.row_data_fh = open(ws.row_data_filename, "a+", encoding="utf-8")
    sheet = tmp_path / "sheet.xml"
    ws.fh = open(sheet, "w", encoding="utf-8")
    ws._write_optimized_sheet_data()
    ws.fh.close()
    expected = sheet.read_bytes().removeprefix(b"<sheetData>").removesuffix(b"</sheetData>")
    assert b"\r" not in expected
    data = rows.encode()
    for piece in (1, 2, 3, 5, 1 << 20):
        for step in (1, 2, 7, len(data)):
            monkeypatch.setattr(deflate, "PIECE", piece)
            d = deflate.DeflatedRows(str(tmp_path / f"rows-{piece}-{step}"))
            for k in range(0, len(data), step):
                (d.buffer.write if k % 2 else d.write)(data[k:k + step] if k % 2 else data[k:k + step].decode())
            d.finish()
            packed = Path(d.path).read_bytes()
            assert zlib.decompress(packed + deflate.deflate(b"", True), -15) == expected
            assert d.size == len(expected) and d.crc == zlib.crc32(expected) and d.compressed == len(packed)
            d.discard()


@given(st.binary(max_size=300), st.binary(max_size=300), st.binary(max_size=300))
def test_crc32_combine_is_the_crc_of_the_concatenation(a, b, c):
    crc = deflate.crc32_combine(deflate.crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)), zlib.crc32(c), len(c))
    assert crc == zlib.crc32(a + b + c)


def test_crc32_combine_over_long_lengths():
    a, b = b"x" * 1000, bytes(range(256)) * 5000
    assert deflate.crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(a + b)


def test_a_part_past_the_zip64_limit_is_written_as_zip64(tmp_path, monkeypatch):
    """A sheet whose rows would pass 4 GB gets ZIP64 sizes (here with the limit lowered)."""
    monkeypatch.setattr(zipfile, "ZIP64_LIMIT", 5000)
    monkeypatch.setattr(writer, "IN_MEMORY_CELLS", -1)
    df = frame(300)
    path = tmp_path / "t.xlsx"
    book = Book(path, stream=True)
    book.write(Sheet("Lines", df, COLUMNS))
    book.wb.use_zip64()  # (xlsxwriter refuses a part past the limit otherwise)
    book.close()
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("xl/worksheets/sheet1.xml")
        assert info.file_size > 5000 and info.extra  # the ZIP64 extra field
        assert z.testzip() is None
    monkeypatch.undo()
    assert _as_read(path) == _as_read(write_workbook(tmp_path / "u.xlsx", [Sheet("Lines", df, COLUMNS)]))


@pytest.mark.parametrize("max_rows,block", [(writer.MAX_ROWS, writer.BLOCK), (20, 6)])
def test_a_sheet_written_in_an_order_is_the_sheet_of_the_frame_sorted(tmp_path, monkeypatch, max_rows, block):
    """``Sheet.order`` (the rows taken a block at a time in that order, as the ledger journal
    writes ``Lines``) gives the file of the frame sorted beforehand, continuation sheets,
    widths and totals included."""
    monkeypatch.setattr(writer, "MAX_ROWS", max_rows)
    monkeypatch.setattr(writer, "BLOCK", block)
    df = frame(57)
    order = np.random.default_rng(3).permutation(len(df))
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    ordered = write_workbook(tmp_path / "a" / "t.xlsx", [Sheet("Lines", df, COLUMNS, totals=["amount"], order=order)])
    presorted = write_workbook(tmp_path / "b" / "t.xlsx", [Sheet("Lines", df.take(order).reset_index(drop=True),
                                                                 COLUMNS, totals=["amount"])])
    assert ordered.read_bytes() == presorted.read_bytes(), differing_parts(ordered.read_bytes(),
                                                                           presorted.read_bytes())


def test_rows_taken_chunk_by_chunk_equal_pandas_take():
    """``take_rows`` (each Arrow column of several chunks taken a chunk at a time) gives what
    ``DataFrame.take`` gives: values, blanks, dtypes, index, in the order asked, repeats too."""
    from closebatch.io.writer import take_rows

    parts = [pd.DataFrame({"text": pd.array([None if i % 7 == 0 else f"t{i}" for i in range(k, k + n)], dtype="str"),
                           "amount": np.arange(k, k + n, dtype="int64"), "flag": np.arange(n) % 2 == 0,
                           "date": pd.date_range("2026-01-01", periods=n, freq="h"),
                           "any": pd.Series([("x", i) for i in range(n)], dtype=object)})
             for k, n in ((0, 5), (5, 1), (6, 40), (46, 17))]
    df = pd.concat(parts, ignore_index=True)
    assert df["text"].array.__arrow_array__().num_chunks == 4
    rng = np.random.default_rng(3)
    for pos in (rng.permutation(len(df)), rng.integers(0, len(df), 200), np.array([], dtype=np.int64),
                np.array([62, 0, 5, 5, 62])):
        got, want = take_rows(df, pos), df.take(pos)
        pd.testing.assert_frame_equal(got, want)


@pytest.mark.parametrize("at", [None, 0, 5, (1 << 20) - 1, 1 << 20, 3 * (1 << 20) + 7, 3 * (1 << 20) + 99])
def test_a_carriage_return_is_found_anywhere_in_a_buffer(at):
    """Rows handed over as a buffer (Arrow's) are searched for a carriage return a megabyte at
    a time without copying them: found wherever it is, chunk ends included."""
    import pyarrow as pa

    data = bytearray(b"x" * (3 * (1 << 20) + 100))
    if at is not None:
        data[at] = 13
    buf = pa.py_buffer(bytes(data))
    assert deflate._has_cr(buf, memoryview(buf).cast("B")) is (at is not None)
