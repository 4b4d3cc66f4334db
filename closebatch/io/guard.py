"""Defences applied to a workbook before any parser sees it (the field notes' "Untrusted files").

An ``.xlsx`` is a zip of XML parts.  A hostile or damaged one can try to exhaust memory or
time in the parser (python-calamine, which builds every sheet as a dense grid of cells) or
in :mod:`closebatch.io.formulas`.  :func:`inspect` reads the file once, cheaply, and returns a
:class:`~closebatch.core.Finding` naming the file when it must not be parsed:

* **Not a zip / damaged / encrypted**: an OLE2 compound file (a password-protected workbook,
  or an old ``.xls`` renamed), text, a truncated download, a zip without ``xl/workbook.xml``.
* **Zip bombs**: too many parts, a declared uncompressed total above
  :data:`MAX_UNCOMPRESSED`, a large part compressed more than :data:`MAX_RATIO` to 1 (real
  sheets compress about 8 to 15 to 1), all checked on the zip directory before inflating
  anything.  Every part is then inflated here with :mod:`zlib`, a chunk at a time: a part
  that holds more data than it declares, or whose checksum is wrong, is refused, so the
  declared sizes the checks trusted are the real ones.
* **XML entities**: a document type declaration (``<!DOCTYPE``/``<!ENTITY``) in any part.
  Excel never writes one; it is how "billion laughs" and external-entity attacks are built.
  (calamine and defusedxml reject entities too; this makes the refusal a clear finding.)
* **Sheets beyond Excel's limits**: a cell (or a ``<dimension>`` claim) past XFD1048576, or
  a sheet whose cells span more than :data:`MAX_CELLS` positions: calamine would allocate
  the whole rectangle (one far cell at XFD20000 is 327 million cells, 10 GB).

Only the sheets closebatch will read get the cell-extent scan: one pass of RE2 (Arrow's
regular expressions) per chunk of XML proves the usual chunk (Excel's spelling, columns A to
Z, rows below a million; no document type, no formula) within the limits, a few Python
searches decide on a chunk where it finds something, and only unusual chunks have their
references collected (together under half the time calamine then takes).  The scan also counts the
cells the sheet holds, so that the reader can tell a sheet whose cells fill its used range
from one with a stray value far away (:attr:`SheetScan.sparse`).  Limits are module constants
so tests can lower them.

For a sheet it reads, the scan also notes the text of row 1 when every cell there is text
(:attr:`SheetScan.row_one`): the reader's fast parse takes a sheet's header from its first
row that holds anything, and checks it against this note that row 1 is that row.

The other sheets are looked at only as much as the run report needs: their visibility (from
``workbook.xml``) and the values of their first row (:attr:`SheetScan.header`), so that a
sheet holding a kind's columns under another name can be named.
"""
from __future__ import annotations

import re
import struct
import zlib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from defusedxml import ElementTree as ET

from ..core import ERROR, Finding
from .deflate import crc32

MAX_UNCOMPRESSED = 2_000_000_000  # bytes of XML in one workbook (a million-line sheet is ~0.5 GB)
MAX_RATIO = 100  # compression ratio of a part larger than RATIO_FLOOR
RATIO_FLOOR = 1_000_000
MAX_ENTRIES = 10_000
MAX_INDEX_PART = 16_000_000  # workbook.xml and its relationships, which are parsed whole
MAX_TAG = 16_000_000  # bytes of XML without a single '>' (no real tag or cell is that long)
EXCEL_ROWS, EXCEL_COLS = 1_048_576, 16_384
MAX_CELLS = 32_000_000  # rows x columns of one sheet's used range (~1 GB in calamine)
CHUNK = 1 << 22
PLAIN = True  # one RE2 pass (via Arrow) first; False: the Python searches alone (tests compare the two)

OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
      "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
      "rel": "http://schemas.openxmlformats.org/package/2006/relationships"}
_NS = rb"(?:[A-Za-z_][\w.-]*:)?"
# Patterns for any spelling of an r attribute (slow: they try every whitespace) ...
_ANY = rb"""\sr\s*=\s*["']"""
# ... and for Excel's own spelling ` r="A1"` (fast: a literal prefix), used when a chunk has no other.
_CANON = rb' r="'
_DTD = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.I)
_DIM = re.compile(rb"<" + _NS + rb"""dimension\s+ref\s*=\s*["']([^"']*)["']""")
_FORMULA = [re.compile(rb"<f[\s>/]"), re.compile(rb":f[\s>/]")]
_CELL = re.compile(rb"<" + _NS + rb"c[\s>/]")
_CELL_REF = re.compile(rb"<" + _NS + rb"""c\s[^>]*?(?<=\s)r\s*=\s*["'][A-Za-z]+\d""")  # a cell tag with its own r
# An r attribute not spelt ` r="` (white space around =, a single quote, white space other
# than a space before the r), or a prefixed <x:c> tag: the chunk then takes the slow patterns.
_NONCANON = re.compile(rb'r(?:\s+=|=(?!")|(?<=[\t\n\r\f\v]r)=)')
_PREFIXED_C = re.compile(rb":c[\s>/]")
# The usual chunk (no _NONCANON, no _PREFIXED_C), proven with two more searches: every ` r="`
# holds at most one capital letter and 1 to 6 digits (so every position is within A1:Z999999),
# and every cell tag starts with such a reference.  Rows of a million and more, columns past
# Z, odd spellings: the full patterns.
_UNUSUAL_REF = re.compile(rb' r="(?![A-Z]?[1-9][0-9]{0,5}")')
_CELL_WITHOUT_REF = re.compile(rb'<c(?! r="[A-Z][1-9])[\s>/]')
USUAL_ROWS, USUAL_COLS = 999_999, 26
# The same searches as RE2 patterns (byte for byte: Arrow runs them on binary data in Latin-1
# mode; RE2 has no look-around, so each "not followed by" is spelt as its complement, with
# ``$`` for a chunk that ends there; ``[\t-\r ]`` is Python's ``\s``, which RE2's lacks \v).
# They are asked once per chunk, together, whether anything is unusual: most chunks hold
# nothing, and one RE2 pass costs about a fifth of the Python searches it stands for
# (tests/test_reader_speed.py proves each one matches where its Python pattern does).
_WS = rb"[\t-\r ]"
_RE2 = {
    "dtd": rb"<![Dd][Oo][Cc][Tt][Yy][Pp][Ee]|<![Ee][Nn][Tt][Ii][Tt][Yy]",
    "formula": rb"[<:]f(?:" + _WS + rb"|[>/])",
    "noncanon": rb'r' + _WS + rb'+=|r=(?:[^"]|$)|[\t-\r]r=',
    "prefixed_c": rb":c(?:" + _WS + rb"|[>/])",
    "unusual_ref": rb' r="(?:[^A-Z1-9]|$|[A-Z](?:[^1-9]|$)|[A-Z]?[1-9][0-9]{0,5}(?:[^0-9"]|$)|[A-Z]?[1-9][0-9]{6})',
    "cell_without_ref": rb'<c(?:[\t-\r>/]| (?:[^r]|$|r(?:[^=]|$)|r=(?:[^"]|$)|r="(?:[^A-Z]|$)|r="[A-Z](?:[^1-9]|$)))',
    # and one more for the quick pass alone: a row tag without its own number (<row>, <rowBreaks>)
    "row_without_number": rb'<row(?:[^ ]|$| (?:[^r]|$|r(?:[^=]|$)|r=(?:[^"]|$)|r="(?:[^1-9]|$)))',
}
_SPECIAL = {seek_formulas: "|".join(v.decode("ascii") for k, v in _RE2.items() if seek_formulas or k != "formula")
            for seek_formulas in (True, False)}


def _patterns(prefix: bytes) -> dict:
    q = rb'"' if prefix == _CANON else rb"""["']"""
    rows = {n: re.compile(prefix + rb"[A-Za-z]*0*([1-9]\d{%d})" % (n - 1) + q) for n in range(7, 0, -1)}
    rows[7] = re.compile(prefix + rb"[A-Za-z]*0*([1-9]\d{6,})" + q)  # 8 digits and more are beyond Excel
    return {"wide": re.compile(prefix + rb"[A-Za-z]{2}"), "letters": re.compile(prefix + rb"([A-Za-z]+)0*\d"),
            "odd": re.compile(prefix + rb"""[^"'<>]*&"""), "rows": rows}


_FAST, _SLOW = _patterns(_CANON), _patterns(_ANY)
# The precise pass: every row and cell tag, attributes parsed with their quotes, in order.
_TAG = re.compile(rb"<" + _NS + rb"""(row|c)((?:\s+[^\s=>/]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(/?)>(\s*</)?""")
_ATTR_R = re.compile(rb"""(?:^|\s)r\s*=\s*["']([A-Za-z]*)(\d*)["']""")
MAX_PRECISE = 300_000_000  # bytes of sheet XML the precise pass will walk
# A sheet is read as a dense grid (calamine, fast) when its used range is small, or at most
# DENSE_RATIO positions per cell it holds; otherwise cell by cell (memory follows the cells).
DENSE_FLOOR = 1 << 20
DENSE_RATIO = 16
MAX_HEADER = 1 << 20  # bytes of XML looked at for the first row of a sheet closebatch does not read
_ROW_NUMBER = re.compile(rb'<row r="([1-9][0-9]*)"')
_CELL_ROW = re.compile(rb'<c r="[A-Z]([1-9][0-9]*)"')
_FIRST_ROW = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row\b[^>]*?(?:/>|>.*?</(?:[A-Za-z_][\w.-]*:)?row>)", re.S)
_ROW_ONE_REF = re.compile(rb"([A-Z]{1,3})1")
MAX_HEADER_STRING = 1 << 16  # row 1's shared strings are looked up only among the first ones
_ROW_R = re.compile(rb"""\sr\s*=\s*["']([0-9]+)["']""")
_HEAD_CELL = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?c\b([^>]*?)(?:/>|>(.*?)</(?:[A-Za-z_][\w.-]*:)?c>)", re.S)
_ATTR = re.compile(rb"""([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_V = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?v\b[^>]*>(.*?)</(?:[A-Za-z_][\w.-]*:)?v>", re.S)
_T = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?t\b[^>]*>(.*?)</(?:[A-Za-z_][\w.-]*:)?t>", re.S)

class Refused(Exception):
    """A reason not to parse the workbook (becomes the finding)."""

    def __init__(self, message: str, hint: str, code: str = "hostile-file", sheet: str = ""):
        super().__init__(message)
        self.message, self.hint, self.code, self.sheet = message, hint, code, sheet


REMOVE = "Remove it from the books folder and ask the sender for the real workbook."
RESAVE = "Open it in Excel and save it again as an Excel Workbook (.xlsx), or replace it with an intact copy."


@dataclass
class SheetScan:
    """What the scan learnt about a sheet: for a sheet closebatch will read (``wanted``) its
    extent, cells and formulas; for any other, its first row."""

    part: str
    rows: int = 0  # highest row number of a cell (1-based; an upper bound)
    cols: int = 0  # highest column number of a cell (an upper bound, USUAL_COLS when that was proof enough)
    formulas: bool = False  # the XML has <f> elements
    cells: int = 0  # cell elements in the XML
    state: str = "visible"  # visible, hidden or veryHidden (workbook.xml)
    wanted: bool = True  # a sheet closebatch reads (scanned); else only ``header`` is known
    header: list | None = None  # a sheet closebatch does not read: the text of its row 1
    # a sheet closebatch reads: its row 1 when every cell there is text, ``{column index
    # (0-based): text}``, else None (see :func:`_row_one`); the reader checks its fast parse against it
    row_one: dict | None = None

    @property
    def sparse(self) -> bool:
        """True when the sheet's used range is large and mostly empty (a stray value far from
        the data): read it cell by cell, so memory follows the cells it holds."""
        positions = self.rows * self.cols
        return positions > DENSE_FLOOR and positions > DENSE_RATIO * max(self.cells, 1)


def column_number(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


def inspect(path: Path, rel: str, wanted) -> tuple[Finding | None, dict[str, SheetScan]]:
    """``(finding, {sheet: SheetScan})`` for a workbook; ``wanted(sheet_name)`` says which
    sheets will be read.  A finding means: do not parse this file at all."""
    try:
        return None, _inspect(Path(path), wanted)
    except Refused as r:
        who = f"Sheet {r.sheet} of {rel}" if r.sheet else rel
        return Finding(ERROR, f"{who} {r.message}", hint=r.hint,
                       file=rel, sheet=r.sheet, code=r.code), {}
    except (zipfile.BadZipFile, zlib.error, EOFError, struct.error, ValueError, KeyError, IndexError,
            NotImplementedError, RuntimeError, StopIteration, ET.ParseError) as e:
        return Finding(ERROR, f"{rel} is not a valid Excel workbook: it is damaged, or another kind of file named "
                       f".xlsx ({type(e).__name__}: {str(e)[:200]}).", hint=RESAVE, file=rel, code="not-excel"), {}


def _inspect(path: Path, wanted) -> dict[str, SheetScan]:
    with open(path, "rb") as fh:
        head = fh.read(8)
        if head.startswith(OLE2):
            raise Refused("is password-protected (encrypted), or an old .xls file saved under an .xlsx name; "
                          "either way it is not an Excel Workbook (.xlsx) that closebatch can read.",
                          "Open it in Excel, remove the password (File > Info > Protect Workbook > Encrypt with "
                          "Password, clear it) and save it as an Excel Workbook (.xlsx).", code="encrypted")
        if not head.startswith(b"PK"):
            raise Refused("is not an Excel workbook: it is damaged, or another kind of file (text, CSV, HTML) named "
                          ".xlsx.", RESAVE, code="not-excel")
        _check_directory_size(fh)
        with zipfile.ZipFile(fh) as z:
            infos = z.infolist()
            _check_declared(infos)
            sheets, strings_part = _sheet_parts(fh, infos)
            scans = {}
            by_part, others = {}, {}
            for name, (part, state) in sheets.items():
                scans[name] = SheetScan(part, state=state, wanted=bool(wanted(name)))
                (by_part if scans[name].wanted else others).setdefault(part, []).append(name)
            heads = {}
            for info in infos:
                if info.is_dir():
                    continue
                targets = by_part.get(info.filename)
                if targets:
                    _scan_sheet(fh, info, scans[targets[0]], targets[0])
                    for other in targets[1:]:
                        scans[other] = _same_part(scans[targets[0]], scans[other])
                else:
                    xml = info.filename.lower().endswith((".xml", ".rels", ".vml"))
                    head = b"" if info.filename in others else None
                    for chunk in _inflate(fh, info):
                        if xml and _DTD.search(chunk):
                            _dtd(info.filename)
                        if head is not None and len(head) < MAX_HEADER:
                            head += chunk[:MAX_HEADER]
                    if head is not None:
                        heads[info.filename] = head
            _headers(fh, infos, scans, heads, strings_part)
            return scans


def _same_part(scan: SheetScan, other: SheetScan) -> SheetScan:
    """Two sheet names pointing at one part share its scan (each keeps its own visibility)."""
    from dataclasses import replace

    return replace(scan, state=other.state)


def _check_directory_size(fh) -> None:
    """Refuse an absurd zip directory before ``zipfile`` builds an object per entry."""
    fh.seek(0, 2)
    size = fh.tell()
    fh.seek(max(0, size - 65_557))
    tail = fh.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        return  # zipfile will say what is wrong
    entries, cd_size = struct.unpack("<xxxxxxxxxxHI", tail[at:at + 16])
    if (entries != 0xFFFF and entries > MAX_ENTRIES) or (cd_size != 0xFFFFFFFF and cd_size > MAX_ENTRIES * 1024):
        raise Refused(f"holds {entries:,} parts, far more than any workbook ({MAX_ENTRIES:,}).", REMOVE)


def _check_declared(infos) -> None:
    if len(infos) > MAX_ENTRIES:
        raise Refused(f"holds {len(infos):,} parts, far more than any workbook ({MAX_ENTRIES:,}).", REMOVE)
    names = set()
    total = 0
    for i in infos:
        if i.filename in names:
            raise Refused(f"holds two parts named {i.filename}; Excel never writes that, and parsers disagree "
                          "about which one counts.", REMOVE)
        names.add(i.filename)
        total += i.file_size
        if i.flag_bits & 0x1:
            raise Refused(f"has an encrypted part {i.filename} (a zip password), which Excel never uses.", REMOVE,
                          code="encrypted")
        if i.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise Refused(f"has a part {i.filename} that uses a compression method Excel does not write "
                          f"(method {i.compress_type}).", RESAVE, code="not-excel")
        big = i.file_size > RATIO_FLOOR
        if big and (i.compress_size == 0 or i.file_size / i.compress_size > MAX_RATIO):
            ratio = i.file_size / i.compress_size if i.compress_size else float("inf")
            raise Refused(f"has a part {i.filename} that would inflate from {i.compress_size:,} to "
                          f"{i.file_size:,} bytes (a ratio of {ratio:,.0f} to 1; real sheets compress about 10 to 1): it looks like a zip "
                          "bomb and was not opened.", REMOVE)
    if total > MAX_UNCOMPRESSED:
        raise Refused(f"would inflate to {total:,} bytes, more than closebatch reads from one workbook "
                      f"({MAX_UNCOMPRESSED:,}): it looks like a zip bomb and was not opened.", REMOVE)
    if not any(n == "xl/workbook.xml" or n.endswith("/workbook.xml") for n in names):
        raise Refused("is a zip file but not an Excel workbook (it has no xl/workbook.xml).",
                      "Save the data as an Excel Workbook (.xlsx).", code="not-excel")


def _inflate(fh, info):
    """The part's bytes, a chunk at a time, inflated here and checked: never more than the
    declared size, and exactly the declared size and checksum at the end."""
    fh.seek(info.header_offset)
    local = fh.read(30)
    if len(local) != 30 or local[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"bad local header for {info.filename}")
    n, m = struct.unpack("<HH", local[26:30])
    fh.seek(info.header_offset + 30 + n + m)
    left, produced, crc = info.compress_size, 0, 0
    d = zlib.decompressobj(-15) if info.compress_type == zipfile.ZIP_DEFLATED else None
    while left > 0 and not (d is not None and d.eof):
        raw = fh.read(min(CHUNK, left))
        if not raw:
            raise zipfile.BadZipFile(f"{info.filename} is truncated")
        left -= len(raw)
        buf = raw
        while buf:
            out = d.decompress(buf, CHUNK) if d is not None else buf
            buf = d.unconsumed_tail if d is not None else b""
            produced += len(out)
            if produced > info.file_size:
                raise Refused(f"has a part {info.filename} that holds more data than it declares ({info.file_size:,} "
                              "bytes): a disguised zip bomb.", REMOVE)
            crc = crc32(out, crc)  # (ISA-L's when installed: the same checksum, six times as fast)
            if out:
                yield out
            if d is not None and d.eof:
                break
    if produced != info.file_size or (crc & 0xFFFFFFFF) != info.CRC:
        raise zipfile.BadZipFile(f"{info.filename} is damaged (size or checksum does not match)")


def _read_small(fh, info, what: str) -> bytes:
    if info.file_size > MAX_INDEX_PART:
        raise Refused(f"has a {what} of {info.file_size:,} bytes, absurd for a workbook.", REMOVE)
    data = b"".join(_inflate(fh, info))
    if _DTD.search(data):
        _dtd(info.filename)
    return data


def _sheet_parts(fh, infos) -> tuple[dict[str, tuple[str, str]], str]:
    """``({sheet name: (part, visibility)}, shared strings part)`` read from workbook.xml and
    its relationships (the shared strings part is "" when there is none)."""
    import posixpath

    by_name = {i.filename: i for i in infos}
    wb_name = "xl/workbook.xml" if "xl/workbook.xml" in by_name else \
        next(n for n in by_name if n.endswith("/workbook.xml"))
    base = wb_name.rsplit("/", 1)[0]
    rels_name = f"{base}/_rels/workbook.xml.rels"
    wb = ET.fromstring(_read_small(fh, by_name[wb_name], "workbook.xml"))
    if rels_name not in by_name:
        return {}, ""
    rels = ET.fromstring(_read_small(fh, by_name[rels_name], "workbook.xml.rels"))

    def part(t: str) -> str:
        return t.lstrip("/") if t.startswith("/") else posixpath.normpath(posixpath.join(base, t))

    target = {r.get("Id"): r.get("Target") or "" for r in rels.findall("rel:Relationship", NS)}
    strings = next((part(r.get("Target") or "") for r in rels.findall("rel:Relationship", NS)
                    if str(r.get("Type") or "").endswith("/sharedStrings") and r.get("Target")), "")
    out = {}
    for s in wb.findall("m:sheets/m:sheet", NS):
        name = s.get("name") or ""
        t = target.get(s.get(f"{{{NS['r']}}}id"), "")
        if not t:
            continue
        out[name] = (part(t), s.get("state") or "visible")
    return out, strings


def _headers(fh, infos, scans: dict, heads: dict, strings_part: str) -> None:
    """Fill in ``header`` of the sheets closebatch does not read: the text of their row 1
    (shared strings looked up in one streamed pass that stops at the last one needed).  Best
    effort: a first row that cannot be made out leaves ``header`` None.  The shared strings of
    the read sheets' :attr:`SheetScan.row_one` are looked up in the same pass (a row whose
    strings are not all found, or lie far down the list, becomes None)."""
    rows, wanted_strings = {}, set()
    for name, scan in scans.items():
        if scan.wanted:
            if scan.row_one:
                wanted_strings |= {v for kind, v in scan.row_one.values() if kind == "s" and v < MAX_HEADER_STRING}
            continue
        if scan.part not in heads:
            continue
        cells = _first_row(heads[scan.part])
        if cells is None:
            continue
        rows[name] = cells
        wanted_strings |= {v for kind, v in cells if kind == "s"}
    strings = {}
    if wanted_strings and strings_part:
        info = next((i for i in infos if i.filename == strings_part), None)
        if info is not None:
            strings = _shared_strings(fh, info, wanted_strings)
    for name, cells in rows.items():
        scans[name].header = [strings.get(v, "") if kind == "s" else v for kind, v in cells]
    for scan in scans.values():
        if scan.wanted and scan.row_one is not None:
            cells = scan.row_one
            if any(kind == "s" and v not in strings for kind, v in cells.values()):
                scan.row_one = None
            else:
                scan.row_one = {c: strings[v] if kind == "s" else v for c, (kind, v) in cells.items()}


def _row_one(xml: bytes) -> dict | None:
    """The cells of row 1 in the first chunk of a sheet's XML, ``{column index: ("s", shared
    string index) or ("t", inline text)}``, or None unless every cell of row 1 that holds a
    value is text with a reference of its own (or row 1 is not found whole in the chunk)."""
    found = _row_cells(xml)
    if found is None or found[0] != 1:
        return None
    out = {}
    for attrs, body in found[1]:
        ref = _ROW_ONE_REF.fullmatch(attrs.get(b"r", b""))
        if ref is None or b"<rPh" in body:
            return None
        t = attrs.get(b"t", b"n")
        if t == b"s":
            v = _V.search(body)
            if v is None:
                continue  # no value: not a cell to calamine
            if not v.group(1).strip().isdigit():
                return None
            out[column_number(ref.group(1).decode("ascii")) - 1] = ("s", int(v.group(1)))
        elif t == b"inlineStr":
            out[column_number(ref.group(1).decode("ascii")) - 1] = ("t", _inline_text(body))
        elif _V.search(body) or b"<is" in body:
            return None  # a number, date, Y/N, error or formula on row 1
    return out


def _first_row(xml: bytes) -> list | None:
    """The cells of row 1 in a sheet's XML, as ``("s", index)`` for a shared string and
    ``("v", text)`` otherwise (None when the first row cannot be found)."""
    import html

    found = _row_cells(xml)
    if found is None:
        start = xml.find(b"sheetData")
        return None if start < 0 or (xml.find(b"/sheetData", start) < 0 and len(xml) >= MAX_HEADER) else []
    number, cells = found
    if number is not None and number != 1:
        return []  # row 1 is empty
    out = []
    for attrs, body in cells:
        t = attrs.get(b"t", b"")
        if t == b"s":
            v = _V.search(body)
            if v and v.group(1).strip().isdigit():
                out.append(("s", int(v.group(1))))
            continue
        if t == b"inlineStr":
            out.append(("v", _inline_text(body)))
        else:
            v = _V.search(body)
            out.append(("v", html.unescape((v.group(1) if v else b"").decode("utf-8", "replace"))))
    return out


def _row_cells(xml: bytes) -> tuple | None:
    """``(number, cells)`` of the first row element of a sheet's XML: its ``r`` (None when it
    has none) and its cells as ``(attributes, body)`` pairs; None when no first row is found."""
    start = xml.find(b"sheetData")
    m = _FIRST_ROW.search(xml, start) if start >= 0 else None
    if m is None:
        return None
    row = m.group(0)
    r = _ROW_R.search(row[:row.find(b">") + 1])
    cells = [({a: (v1 if v1 is not None else v2) for a, v1, v2 in _ATTR.findall(c.group(1))}, c.group(2) or b"")
             for c in _HEAD_CELL.finditer(row)]
    return (int(r.group(1)) if r else None), cells


def _inline_text(body: bytes) -> str:
    """The text of an inline string cell's body (its ``<t>`` elements, unescaped)."""
    import html

    return html.unescape(b"".join(_T.findall(body)).decode("utf-8", "replace"))


def _shared_strings(fh, info, wanted: set) -> dict:
    """``{index: text}`` of the shared strings in ``wanted``, streamed, stopping after the
    highest one."""
    from xml.etree.ElementTree import XMLPullParser

    last, out, i = max(wanted), {}, -1
    parser = XMLPullParser(events=("end",))
    try:
        for chunk in _inflate(fh, info):
            parser.feed(chunk)
            for _, el in parser.read_events():
                tag = el.tag.rsplit("}", 1)[-1]
                if tag != "si":
                    continue
                i += 1
                if i in wanted:
                    out[i] = "".join(t.text or "" for t in el.iter() if t.tag.rsplit("}", 1)[-1] == "t")
                el.clear()
                if i >= last:
                    return out
    except Exception:  # noqa: BLE001 - header text is a courtesy; a damaged part is found elsewhere
        return out
    return out


def _dtd(part: str):
    raise Refused(f"has a part {part} that declares XML entities (a <!DOCTYPE>); Excel never writes one, and it is how "
                  "entity-expansion ('billion laughs') and external-entity attacks are built. The workbook was not "
                  "read.", REMOVE)


def _scan_sheet(fh, info, scan: SheetScan, sheet: str) -> None:
    """Highest row and column of any cell, refusing a sheet beyond Excel's grid or too big
    to hold as one rectangle.  A quick pass proves each usual chunk (see :func:`_usual`) within
    columns A to Z and takes its last row from the row tags, and takes positions from the ``r``
    attributes of the other chunks wherever they are (an upper bound: it counts cells without
    a value too); only when that bound is over the limit, or some cells have no ``r`` (their
    position follows the previous cell's), does a precise pass walk the cells as calamine will."""
    rows, cols, unreferenced = _extent(fh, info, scan, sheet)
    if rows > EXCEL_ROWS or cols > EXCEL_COLS:
        raise Refused(f"has cells reaching row {rows:,} and column {cols:,}, beyond Excel's limits ({EXCEL_ROWS:,} "
                      f"rows by {EXCEL_COLS:,} columns): the file is damaged or was not made by Excel.", RESAVE,
                      sheet=sheet)
    if unreferenced or rows * cols > MAX_CELLS:
        if info.file_size > MAX_PRECISE:
            _too_big(rows, cols, sheet)
        rows, cols = _precise(fh, info, sheet)
    if rows * cols > MAX_CELLS:
        _too_big(rows, cols, sheet)
    scan.rows, scan.cols = rows, cols


def _extent(fh, info, scan: SheetScan, sheet: str) -> tuple[int, int, bool]:
    """One pass over a sheet part: ``(max row, max column, some cell has no reference)``,
    checking entities, the dimension claim and every reference on the way, and noting
    formulas and the number of cells in ``scan``."""
    rows = cols = 0
    unreferenced = False
    first = True
    scan.cells = 0
    for data in _tag_chunks(fh, info, sheet):
        plain = _plain(data, not scan.formulas)
        if not plain and _DTD.search(data):
            _dtd(info.filename)
        if first:
            first = False
            scan.row_one = _row_one(data)
            dim = _DIM.search(data)
            if dim:
                _check_dimension(dim.group(1).decode("ascii", "replace"), sheet)
        if plain or _usual(data):
            if b' r="' in data:
                # the exact last row (from the row tags, or every cell's reference when some
                # row tag has no number of its own); columns only bounded by Z
                numbers = _ROW_NUMBER.findall(data)
                if not plain and len(numbers) != data.count(b"<row"):
                    numbers = _CELL_ROW.findall(data)
                if numbers:
                    top = len(max(numbers, key=len))
                    rows = max(rows, int(max(n for n in numbers if len(n) == top)))
                cols = max(cols, USUAL_COLS)
                scan.cells += data.count(b'<c r="')
        else:
            r, c, u, n = _scan_chunk(data, sheet)
            rows, cols, unreferenced = max(rows, r), max(cols, c), unreferenced or u
            scan.cells += n
        if not plain and not scan.formulas and any(rx.search(data) for rx in _FORMULA):
            scan.formulas = True
    return rows, cols, unreferenced


def _plain(data: bytes, seek_formulas: bool) -> bool:
    """True when one RE2 pass finds none of the searches in ``_RE2`` in the chunk: no document
    type, no formula (when still sought), and a usual chunk.  False when it finds one, or when
    Arrow cannot run RE2: the Python searches then decide, as they always could."""
    if not PLAIN or USUAL_ROWS * USUAL_COLS > MAX_CELLS:
        return False
    try:
        chunk = pa.Array.from_buffers(pa.large_binary(), 1, [None, pa.py_buffer(np.array([0, len(data)], np.int64)),
                                                             pa.py_buffer(data)])
        return not pc.match_substring_regex(chunk, _SPECIAL[seek_formulas])[0].as_py()
    except (NotImplementedError, pa.ArrowException):
        return False


def _usual(data: bytes) -> bool:
    """True when every reference of the chunk is spelt ` r="` and within A1:Z999999, and
    every cell tag starts with one (the chunks Excel and most writers produce), so that the
    chunk is within the grid and its cells are at most USUAL_ROWS x USUAL_COLS."""
    return (USUAL_ROWS * USUAL_COLS <= MAX_CELLS and not _NONCANON.search(data) and not _PREFIXED_C.search(data)
            and not _UNUSUAL_REF.search(data) and not _CELL_WITHOUT_REF.search(data))


def _tag_chunks(fh, info, sheet):
    """The part's XML in chunks that end just after a ``>`` (so no attribute is split)."""
    carry = b""
    for chunk in _inflate(fh, info):
        data = carry + chunk
        cut = data.rfind(b">") + 1
        if cut == 0:
            if len(data) > MAX_TAG:
                raise Refused(f"has {len(data):,} bytes of XML without a tag end.", REMOVE, sheet=sheet)
            carry = data
            continue
        carry = data[cut:]
        yield data[:cut]
    if carry.strip():
        yield carry


def _scan_chunk(data: bytes, sheet: str) -> tuple[int, int, bool, int]:
    """``(max row, max column, some cell has no reference of its own, cells)`` of a chunk
    (the maxima are upper bounds)."""
    fast = not _NONCANON.search(data) and not _PREFIXED_C.search(data)
    pat = _FAST if fast else _SLOW
    if pat["odd"].search(data):
        raise Refused("spells cell references with character entities, which Excel never does.", REMOVE, sheet=sheet)
    rows = cols = 0
    for n, rx in pat["rows"].items():
        found = rx.findall(data)
        if found:
            top = max(found, key=len)
            rows = int(max(x for x in found if len(x) == len(top))) if n == 7 else int(max(found))
            break  # same digit count: the byte order is the numeric order
    if rows:
        cols = 26  # single letters: at most Z
    if pat["wide"].search(data):
        letters = {x.upper() for x in pat["letters"].findall(data)}
        cols = max(cols, max((column_number(x.decode("ascii")) for x in letters), default=0))
    if rows > EXCEL_ROWS or cols > EXCEL_COLS:
        raise Refused(f"has a cell beyond Excel's limits ({EXCEL_ROWS:,} rows by {EXCEL_COLS:,} columns, "
                      f"A1:XFD1048576): it names row {rows:,}, column {cols:,}. The file is damaged or was not made "
                      "by Excel.", RESAVE, sheet=sheet)
    cells, refs = data.count(b"<c"), data.count(b'<c r="') if fast else -1
    if cells != refs:  # <col>, <cfRule> ... or cells without r: count exactly
        cells, refs = len(_CELL.findall(data)), len(_CELL_REF.findall(data))
    return rows, cols, cells > refs, cells


def _precise(fh, info, sheet: str) -> tuple[int, int]:
    """Rows and columns of the cells that hold something, positioned as calamine does: a
    cell's ``r``, else the previous cell's column + 1; a row's ``r``, else the previous row + 1."""
    row, col, rows, cols = 0, 0, 0, 0
    for data in _tag_chunks(fh, info, sheet):
        for m in _TAG.finditer(data):
            r = _ATTR_R.search(m.group(2))
            if m.group(1) == b"row":
                row = int(r.group(2)) if r and r.group(2) else row + 1
                col = 0
                continue
            if r and r.group(1) and r.group(2):
                col = column_number(r.group(1).decode("ascii"))
                cell_row = int(r.group(2))
            else:
                col += 1
                cell_row = row
            if m.group(3) or m.group(4):  # <c/> or <c ...></c>: no value, calamine skips it
                continue
            rows, cols = max(rows, cell_row), max(cols, col)
            if rows > EXCEL_ROWS or cols > EXCEL_COLS:
                raise Refused(f"has a cell at row {cell_row:,}, column {col:,}, beyond Excel's limits "
                              f"({EXCEL_ROWS:,} rows by {EXCEL_COLS:,} columns): the file is damaged or was not made "
                              "by Excel.", RESAVE, sheet=sheet)
    return rows, cols


def _too_big(rows: int, cols: int, sheet: str):
    raise Refused(f"has cells spanning {rows:,} rows by {cols:,} columns ({rows * cols:,} positions), more than "
                  f"closebatch reads from one sheet ({MAX_CELLS:,}): a stray value far from the data, or a hostile "
                  "file.", "Delete the rows and columns beyond the data (select them, right-click > Delete) and save "
                  "the workbook, or split the sheet into several workbooks.", sheet=sheet)


def _check_dimension(ref: str, sheet: str) -> None:
    for part in ref.split(":"):
        m = re.fullmatch(r"\$?([A-Za-z]{1,7})\$?(\d{1,12})", part.strip())
        if m and (column_number(m.group(1)) > EXCEL_COLS or int(m.group(2)) > EXCEL_ROWS):
            raise Refused(f"claims a used range of {ref}, beyond Excel's limits (A1:XFD1048576): the file is "
                          "damaged or was not made by Excel.", RESAVE, sheet=sheet)
