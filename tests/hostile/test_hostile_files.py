"""Hostile and broken workbooks: each is refused with a finding naming the file (exit 1),
before it can cost memory or time, never with a traceback; good workbooks next to it are
still read, and earlier outputs are left as they were."""
from __future__ import annotations

import zipfile

import openpyxl
import pytest
import xlsxwriter

from books import D, read_sheet
from closebatch import app
from closebatch.io import guard
from closebatch.io.reader import ReadResult, read_workbook
from closebatch.io.writer import MAX_TEXT, excel_text
from craft import JX, SHEET, cli, directory_entry, good_books, lie_about_size, parts, rezip, with_sheet_xml

LOL = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
       + b"".join(b'<!ENTITY lol%d "%s">' % (i, b"".join(b"&lol%s;" % (b"" if i == 1 else str(i - 1).encode())
                                                              for _ in range(10))) for i in range(1, 10)) + b"]>")
XXE = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'


def refused(books, name, *words, code=None):
    """Validate: exit 1, the file named on the terminal and in validation.xlsx."""
    rc, out, took = cli("validate", books, "--quiet")
    assert rc == 1, out
    assert name in out, out
    rows = [r for r in read_sheet(books / "out" / "validation.xlsx", "Validation") if r["file"] == name]
    assert rows, f"no finding names {name}"
    text = " ".join(str(r["message"]) + " " + str(r["hint"]) for r in rows)
    for w in words:
        assert w.lower() in text.lower(), text
    if code:
        assert code in {r["rule"] for r in rows}
    # the good workbooks beside it were read: their sheets produce no error
    assert not [r for r in read_sheet(books / "out" / "validation.xlsx", "Validation")
                if r["severity"] == "error" and r["file"] not in (name, "")]
    return rows


def strip_decl(xml: bytes) -> bytes:
    return xml.split(b"?>", 1)[1] if xml.startswith(b"<?xml") else xml


# --------------------------------------------------------------------------- zip bombs

def test_zip_bomb_by_ratio_is_refused_before_inflating(tmp_path):
    books = good_books(tmp_path / "books")
    src = books / "rates.xlsx"
    # 30 MB of sheet XML that compresses to ~30 kB (1000:1): real sheets compress ~10:1
    xml = strip_decl(parts(src)[SHEET]).replace(b"</sheetData>", b"</sheetData>" + b" " * 30_000_000)
    rezip(src, books / "bomb.xlsx", {SHEET: xml}, level=9)
    assert (books / "bomb.xlsx").stat().st_size < 200_000
    refused(books, "bomb.xlsx", "zip bomb", "ratio", code="hostile-file")


def test_zip_bomb_by_declared_size_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(guard, "MAX_UNCOMPRESSED", 2_000_000)  # a 2 GB limit, scaled down
    books = good_books(tmp_path / "books")
    src = books / "rates.xlsx"
    rows = b"".join(b'<row r="%d"><c r="A%d" t="inlineStr"><is><t>row %d padding text</t></is></c></row>'
                    % (i, i, i) for i in range(5, 60_000))
    rezip(src, books / "big.xlsx", {SHEET: parts(src)[SHEET].replace(b"</sheetData>", rows + b"</sheetData>")})
    refused(books, "big.xlsx", "would inflate to", "zip bomb")


def test_part_that_lies_about_its_size_is_refused(tmp_path):
    """The directory says 2 kB (with a checksum of those 2 kB, so zipfile is satisfied);
    the data inflates to 3 MB.  A reader trusting the directory would inflate it all."""
    books = good_books(tmp_path / "books")
    src = books / "rates.xlsx"
    xml = parts(src)[SHEET].replace(b"</sheetData>", b"</sheetData>" + b"<!-- x -->" * 300_000)
    rezip(src, books / "liar.xlsx", {SHEET: xml})
    lie_about_size(books / "liar.xlsx", SHEET, 2000)
    with zipfile.ZipFile(books / "liar.xlsx") as z:  # zipfile alone is fooled
        assert len(z.read(SHEET)) == 2000
    refused(books, "liar.xlsx", "more data than it declares")


def test_too_many_parts(tmp_path, monkeypatch):
    monkeypatch.setattr(guard, "MAX_ENTRIES", 50)
    books = good_books(tmp_path / "books")
    rezip(books / "rates.xlsx", books / "many.xlsx", {f"xl/junk/{i}.xml": b"<x/>" for i in range(60)})
    refused(books, "many.xlsx", "parts")


# --------------------------------------------------------------------------- XML entities

@pytest.mark.parametrize("where", ["sheet", "sharedStrings", "formula"])
def test_billion_laughs_is_refused(tmp_path, where):
    books = good_books(tmp_path / "books")
    src = books / "rates.xlsx"
    if where == "sharedStrings":  # xlsxwriter writes shared strings (openpyxl inline ones)
        wb = xlsxwriter.Workbook(str(tmp_path / "ss.xlsx"))
        wb.add_worksheet("Rates").write_row(0, 0, ["from", "to", "date", "rate", "type"])
        wb.close()
        ss = strip_decl(parts(tmp_path / "ss.xlsx")["xl/sharedStrings.xml"]).replace(b"<t>from</t>", b"<t>&lol9;</t>")
        rezip(tmp_path / "ss.xlsx", books / "laughs.xlsx", {"xl/sharedStrings.xml": LOL + ss})
    else:
        cell = b"<t>&lol9;</t>" if where == "sheet" else b"<t>from</t></is><f>&lol9;</f><is><t>x</t>"
        with_sheet_xml(src, books / "laughs.xlsx", lambda x: LOL + strip_decl(x).replace(b"<t>from</t>", cell, 1))
    refused(books, "laughs.xlsx", "entities", "DOCTYPE")


def test_external_entity_is_refused(tmp_path):
    books = good_books(tmp_path / "books")
    with_sheet_xml(books / "rates.xlsx", books / "xxe.xlsx",
                   lambda x: XXE + strip_decl(x).replace(b"<t>from</t>", b"<t>&xxe;</t>", 1))
    rows = refused(books, "xxe.xlsx", "entities")
    assert "root:" not in str(rows)


# --------------------------------------------------------------------------- damaged and foreign files

@pytest.mark.parametrize("kind", ["truncated", "bad-crc", "bad-xml", "text", "empty", "pdf", "zip-not-excel",
                                  "html"])
def test_damaged_or_foreign_file_named_xlsx(tmp_path, kind):
    books = good_books(tmp_path / "books")
    good = (books / "rates.xlsx").read_bytes()
    bad = books / "bad.xlsx"
    if kind == "truncated":
        bad.write_bytes(good[:len(good) * 2 // 3])
    elif kind == "bad-crc":
        with zipfile.ZipFile(books / "rates.xlsx") as z:
            info = z.getinfo(SHEET)
        data = bytearray(good)
        at = info.header_offset + 30 + len(SHEET) + 40  # inside the sheet's compressed data
        data[at] ^= 0xFF
        bad.write_bytes(bytes(data))
    elif kind == "bad-xml":
        with_sheet_xml(books / "rates.xlsx", bad, lambda x: x[:len(x) // 2])
    elif kind == "text":
        bad.write_text("journal,date,entity\nJ1,2026-01-05,E1\n")
    elif kind == "empty":
        bad.write_bytes(b"")
    elif kind == "pdf":
        bad.write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n")
    elif kind == "zip-not-excel":
        with zipfile.ZipFile(bad, "w") as z:
            z.writestr("readme.txt", "not a workbook")
    elif kind == "html":
        bad.write_text("<html><body><table><tr><td>journal</td></tr></table></body></html>")
    refused(books, "bad.xlsx", "Excel")


def test_password_protected_workbook(tmp_path):
    books = good_books(tmp_path / "books")
    # an encrypted workbook is an OLE2 compound file, not a zip
    (books / "secret.xlsx").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504) + b"EncryptionInfo" * 10)
    refused(books, "secret.xlsx", "password", "remove the password", code="encrypted")


@pytest.mark.parametrize("name,what", [("old.xls", "old binary Excel"), ("data.csv", "CSV"),
                                       ("calc.ods", "OpenDocument"), ("bin.xlsb", "binary Excel")])
def test_other_spreadsheet_formats_say_what_to_do(tmp_path, name, what):
    books = good_books(tmp_path / "books")
    (books / name).write_bytes(b"journal,date\nJ1,2026-01-05\n")
    refused(books, name, what, "save it as an Excel Workbook (.xlsx)")


# --------------------------------------------------------------------------- sheets beyond Excel's limits

@pytest.mark.parametrize("xml,words", [
    (b'<row r="20000"><c r="XFD20000"><v>1</v></c></row>', ("spanning", "Delete the rows and columns")),
    (b'<row r="3"><c r="A999999999"><v>1</v></c></row>', ("beyond Excel's limits",)),
    (b'<row r="3"><c r="XFE3"><v>1</v></c></row>', ("beyond Excel's limits",)),
    (b'<row r="9"><c x=">" r = \'xfd20000\'><v>1</v></c></row>', ("spanning",)),
    (b'<row r="20000">' + b"<c><v>1</v></c>" * 2000 + b"</row>", ("spanning",)),
])
def test_sheet_beyond_limits_is_refused_without_allocating_it(tmp_path, xml, words):
    """One far cell would make the parser allocate the whole rectangle (XFD20000: 10 GB)."""
    books = good_books(tmp_path / "books")
    with_sheet_xml(books / "rates.xlsx", books / "far.xlsx",
                   lambda x: x.replace(b"</sheetData>", xml + b"</sheetData>"))
    rc, out, took = cli("validate", books, "--quiet")
    assert rc == 1 and "far.xlsx" in out
    rows = [r for r in read_sheet(books / "out" / "validation.xlsx", "Validation") if r["file"] == "far.xlsx"]
    assert rows and rows[0]["sheet"] == "Rates"
    assert all(w in rows[0]["message"] + rows[0]["hint"] for w in words), rows[0]


def test_dimension_claims(tmp_path):
    """A <dimension> beyond the grid is refused; a huge but possible one is not trusted
    (only the real cells are read), so the workbook reads fine and fast."""
    books = good_books(tmp_path / "books")
    src = books / "rates.xlsx"
    with_sheet_xml(src, books / "claims.xlsx",
                   lambda x: x.replace(b'<dimension ref="A1:E4"', b'<dimension ref="A1:ZZZZ99999999"'))
    refused(books, "claims.xlsx", "beyond Excel's limits")
    (books / "claims.xlsx").unlink()
    (books / "out" / "validation.xlsx").unlink()
    huge = with_sheet_xml(src, tmp_path / "huge.xlsx",
                          lambda x: x.replace(b'<dimension ref="A1:E4"', b'<dimension ref="A1:XFD1048576"'))
    src.unlink()
    huge.rename(src)
    rc, out, took = cli("validate", books, "--quiet")
    assert rc == 0, out


def test_style_only_cell_far_away_is_harmless(tmp_path):
    """A formatted but empty cell far from the data (Excel writes these) is not a value."""
    res = ReadResult()
    books = good_books(tmp_path / "books")
    f = with_sheet_xml(books / "rates.xlsx", tmp_path / "styled.xlsx", lambda x: x.replace(
        b"</sheetData>", b'<row r="50000"><c r="XFD50000" s="0"/></row></sheetData>'))
    read_workbook(f, "styled.xlsx", res)
    assert not res.findings and len(res.sheets[0].frame) == 3


# --------------------------------------------------------------------------- long text, macros

def test_cell_of_32767_characters_reads_and_writes_back(tmp_path):
    long = "Ü" + "x" * (MAX_TEXT - 1)
    books = good_books(tmp_path / "books")
    j = books / "journals.xlsx"
    wb = openpyxl.load_workbook(j)
    wb["Journals"]["H2"] = long
    wb.save(j)
    res = app.close_books(books, period="2026-01", user="ann", no_lock=True)
    assert res.exit_code == 0, [f.message for f in res.findings]
    lines = read_sheet(books / "out" / "2026-01" / "ledger_journal.xlsx", "Lines")
    assert long in {r["description"] for r in lines}
    ledger = read_sheet(books / "ledger" / "2026-01.xlsx", "Posted")  # the given lines live in Posted
    assert long in {r["description"] for r in ledger}


def test_text_longer_than_excel_allows_is_cut_at_the_limit(tmp_path):
    """A hostile file can hold more than Excel's 32,767 characters in a cell; outputs keep
    exactly the first 32,767 (as Excel counts: an emoji is two)."""
    assert excel_text("a" * 40_000) == "a" * MAX_TEXT
    assert excel_text("😀" * 20_000) == "😀" * (MAX_TEXT // 2)
    assert excel_text("short") == "short"
    books = good_books(tmp_path / "books")
    j = books / "journals.xlsx"
    wb = openpyxl.load_workbook(j)
    wb["Journals"]["H2"] = "y" * 50_000
    wb.save(j)
    res = app.close_books(books, period="2026-01", user="ann", dry_run=True)
    assert res.exit_code == 0, [f.message for f in res.findings]
    lines = read_sheet(books / "out" / "2026-01" / "ledger_journal.xlsx", "Lines")
    assert "y" * MAX_TEXT in {r["description"] for r in lines}


def test_macro_enabled_workbook_is_read_as_values_only(tmp_path):
    books = good_books(tmp_path / "books")
    (books / "journals.xlsx").unlink()
    vba = tmp_path / "vbaProject.bin"
    vba.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)
                    + b"Attribute VB_Name\nSub Auto_Open()\nShell \"calc.exe\"\nEnd Sub\n")
    wb = xlsxwriter.Workbook(str(books / "journals.xlsm"), {"strings_to_formulas": False})
    ws = wb.add_worksheet("Journals")
    ws.write_row(0, 0, JX)
    date = wb.add_format({"num_format": "yyyy-mm-dd"})
    for i, (acct, dr, cr) in enumerate([("6100", 50, None), ("1000", None, 50)], start=1):
        ws.write_row(i, 0, ["M1", None, "E1", acct, "USD", dr, cr, "from a macro workbook", ""])
        ws.write_datetime(i, 1, D(2026, 1, 20), date)
    ws.write_formula(1, 7, '=WEBSERVICE("http://example.invalid")', None, "cached value")  # never evaluated
    wb.add_vba_project(str(vba))
    wb.close()
    assert "xl/vbaProject.bin" in parts(books / "journals.xlsm")
    rc, out, _ = cli("validate", books, "--quiet")
    assert rc == 0, out
    res = app.close_books(books, period="2026-01", user="ann", dry_run=True)
    lines = read_sheet(books / "out" / "2026-01" / "ledger_journal.xlsx", "Lines")
    assert {r["source"] for r in lines if r["journal"] == "M1"} == {"journals.xlsm!Journals!2",
                                                                     "journals.xlsm!Journals!3"}
    assert {r["description"] for r in lines if r["journal"] == "M1"} == {"cached value", "from a macro workbook"}
    assert res.exit_code == 0


# --------------------------------------------------------------------------- a hostile file stops a close

def test_hostile_file_stops_the_close_and_keeps_earlier_outputs(tmp_path):
    books = good_books(tmp_path / "books")
    assert app.close_books(books, period="2026-01", user="ann", no_lock=True).exit_code == 0
    out = books / "out" / "2026-01"
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.name != "validation.xlsx"}
    ledger = (books / "ledger" / "2026-01.xlsx").read_bytes()
    with_sheet_xml(books / "rates.xlsx", books / "far.xlsx",
                   lambda x: x.replace(b"</sheetData>", b'<row r="20000"><c r="XFD20000"><v>1</v></c></row>'
                                                        b"</sheetData>"))
    rc, output, _ = cli("close", books, "--period", "2026-01", "--user", "ann", "--quiet")
    assert rc == 1 and "far.xlsx" in output
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.name != "validation.xlsx"} == before
    assert (books / "ledger" / "2026-01.xlsx").read_bytes() == ledger


def test_deflate_stream_damage_never_escapes(tmp_path):
    """Every single-byte corruption of a small workbook, read directly: a finding or a
    clean read, never an exception."""
    books = good_books(tmp_path / "books")
    good = (books / "rates.xlsx").read_bytes()
    step = max(1, len(good) // 400)
    bad = tmp_path / "x.xlsx"
    for at in range(0, len(good), step):
        data = bytearray(good)
        data[at] ^= 0x5A
        bad.write_bytes(bytes(data))
        res = ReadResult()
        read_workbook(bad, "x.xlsx", res)
        assert res.findings or res.sheets
        assert all(f.file == "x.xlsx" for f in res.findings)


def test_a_part_whose_checksum_does_not_match_is_refused(tmp_path, codec):
    """The guard checks each part's CRC-32 as it inflates it (by ISA-L's CRC-32 when the fast
    extra is installed, the same checksum): a sheet whose directory claims another checksum
    for the right bytes is a damaged file, never parsed."""
    import struct

    books = good_books(tmp_path / "books")
    data = bytearray((books / "rates.xlsx").read_bytes())
    with zipfile.ZipFile(books / "rates.xlsx") as z:
        info = z.getinfo(SHEET)
    wrong = (info.CRC ^ 0x1) & 0xFFFFFFFF
    struct.pack_into("<I", data, info.header_offset + 14, wrong)
    struct.pack_into("<I", data, directory_entry(data, SHEET) + 16, wrong)
    bad = tmp_path / "x.xlsx"
    bad.write_bytes(bytes(data))
    finding, scans = guard.inspect(bad, "x.xlsx", lambda s: True)
    assert finding is not None and finding.code == "not-excel" and "checksum" in finding.message and not scans
    res = ReadResult()
    read_workbook(bad, "x.xlsx", res)
    assert not res.sheets and [f.code for f in res.findings] == ["not-excel"]
