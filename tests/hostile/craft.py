"""Helpers for the hostile-file tests: a small valid books folder, and ways to rebuild a
workbook's zip with parts replaced, added or lied about.  Every hostile file is made here,
inside the tests; nothing binary is committed."""
from __future__ import annotations

import shutil
import struct
import time
import zipfile
import zlib
from pathlib import Path

from click.testing import CliRunner

from books import D, master, write_books
from closebatch.cli import main

JX = ["journal", "date", "entity", "account", "currency", "debit", "credit", "description", "reference"]


def good_books(folder: Path, **extra) -> Path:
    """One USD entity, an opening balance, two journals, a EUR rate."""
    books = {
        "master.xlsx": master(),
        "opening.xlsx": {"TrialBalance": [["entity", "account", "currency", "balance"],
                                          ["E1", "1000", "USD", 5000], ["E1", "3000", "USD", -5000]]},
        "journals.xlsx": {"Journals": [JX,
                                       ["S1", D(2026, 1, 10), "E1", "1100", "EUR", 200, None, "EUR invoice", "INV-1"],
                                       ["S1", D(2026, 1, 10), "E1", "4000", "USD", None, 216.84, "EUR invoice", ""],
                                       ["C1", D(2026, 1, 12), "E1", "6100", "USD", 1200, None, "Rent", ""],
                                       ["C1", D(2026, 1, 12), "E1", "1000", "USD", None, 1200, "Rent", ""]]},
        "rates.xlsx": {"Rates": [["from", "to", "date", "rate", "type"],
                                 ["EUR", "USD", D(2026, 1, 1), 1.0842, "spot"],
                                 ["EUR", "USD", D(2026, 1, 31), 1.0842, "closing"],
                                 ["EUR", "USD", D(2026, 2, 28), 1.0842, "closing"]]},
    }
    books.update(extra)
    return write_books(books, folder)


def parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {i.filename: z.read(i.filename) for i in z.infolist()}


def rezip(src: Path, dst: Path, replace: dict | None = None, drop=(), level: int = 6) -> Path:
    """``src`` rebuilt as ``dst`` with some parts replaced (or added) and some dropped."""
    replace = replace or {}
    with zipfile.ZipFile(src) as zi, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as zo:
        names = [i.filename for i in zi.infolist()]
        for n in names:
            if n in drop:
                continue
            zo.writestr(n, replace.get(n, zi.read(n)))
        for n, data in replace.items():
            if n not in names:
                zo.writestr(n, data)
    return dst


SHEET = "xl/worksheets/sheet1.xml"


def with_sheet_xml(src: Path, dst: Path, edit) -> Path:
    """``dst``: ``src`` with its first sheet's XML passed through ``edit(bytes) -> bytes``."""
    return rezip(src, dst, {SHEET: edit(parts(src)[SHEET])})


def lie_about_size(path: Path, part: str, declared: int) -> None:
    """Make the zip directory declare ``declared`` bytes for ``part`` (and a checksum that
    matches that many bytes), while the compressed data still inflates to the whole part:
    the zip bomb that fools a reader trusting the directory."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo(part)
        real = z.read(part)
    crc = zlib.crc32(real[:declared]) & 0xFFFFFFFF
    local = info.header_offset
    struct.pack_into("<I", data, local + 14, crc)
    struct.pack_into("<I", data, local + 22, declared)
    pos = directory_entry(data, part)
    struct.pack_into("<I", data, pos + 16, crc)
    struct.pack_into("<I", data, pos + 24, declared)
    path.write_bytes(bytes(data))


def directory_entry(data, part: str) -> int:
    """Where ``part``'s entry in a zip file's central directory starts."""
    name, pos = part.encode(), 0
    while True:
        pos = data.find(b"PK\x01\x02", pos)
        assert pos >= 0, "central directory entry not found"
        n = struct.unpack_from("<H", data, pos + 28)[0]
        if bytes(data[pos + 46:pos + 46 + n]) == name:
            return pos
        pos += 4


def cli(*args):
    """Run the CLI in-process; return (exit code, output, seconds).  Fails on any exception
    other than the ``SystemExit`` the CLI ends with, and on a traceback in the output.  (How
    long it took is for a reader of a failure; no test fails on it: a hostile file's cost is
    checked by the memory it takes, see ``tests/test_discovery.py``.)"""
    t = time.monotonic()
    r = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=True)
    took = time.monotonic() - t
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert "Traceback" not in r.output and "internal error" not in r.output, r.output
    return r.exit_code, r.output, took


def copy_books(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst
