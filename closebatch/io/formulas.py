"""Formula cells that carry no cached value (spec section 1).

python-calamine reads a formula cell as its cached value; a workbook written by a program
that does not calculate (openpyxl, some exporters) has none, and the cell would read as
blank.  This module finds those cells in the sheet XML (parsed with defusedxml) so the reader
can use the formula's text instead, with a warning.  Sheets without any ``<f>`` element are
not parsed at all.
"""
from __future__ import annotations

import posixpath
import re
import zipfile

from defusedxml import ElementTree as ET

NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
      "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
      "rel": "http://schemas.openxmlformats.org/package/2006/relationships"}
_REF = re.compile(r"([A-Z]+)(\d+)")


def _sheet_paths(z: zipfile.ZipFile) -> dict[str, str]:
    wb = ET.fromstring(z.read("xl/workbook.xml"))
    rels = ET.fromstring(z.read("xl/_rels/workbook.xml.rels"))
    target = {r.get("Id"): r.get("Target") for r in rels.findall("rel:Relationship", NS)}
    out = {}
    for s in wb.findall("m:sheets/m:sheet", NS):
        t = target.get(s.get(f"{{{NS['r']}}}id"), "")
        if t:
            out[s.get("name")] = t.lstrip("/") if t.startswith("/") else posixpath.normpath(posixpath.join("xl", t))
    return out


def col_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


def uncached_formulas(path, sheets: set[str]) -> dict[str, list[tuple[int, int, str]]]:
    """``{sheet: [(row0, col0, "=FORMULA"), ...]}`` for formula cells without a cached value.

    The sheet XML is streamed (``iterparse``, each row dropped once read), so a large sheet
    costs time, not memory.  Only sheets the guard saw ``<f>`` elements in are passed here.
    """
    out: dict = {}
    if not sheets:
        return out
    c_tag, row_tag = f"{{{NS['m']}}}c", f"{{{NS['m']}}}row"
    try:
        with zipfile.ZipFile(path) as z:
            paths = _sheet_paths(z)
            for name in sorted(sheets):
                p = paths.get(name)
                if not p or p not in z.namelist():
                    continue
                with z.open(p) as fh:
                    for _, el in ET.iterparse(fh, events=("end",)):
                        if el.tag == c_tag:
                            f = el.find("m:f", NS)
                            if f is None or not f.text:
                                continue
                            v = el.find("m:v", NS)
                            if v is not None and (v.text or "") != "":
                                continue
                            m = _REF.fullmatch(el.get("r", ""))
                            if m:
                                out.setdefault(name, []).append((int(m.group(2)) - 1, col_index(m.group(1)),
                                                                 "=" + f.text))
                        elif el.tag == row_tag:
                            el.clear()
    except (KeyError, zipfile.BadZipFile, ET.ParseError, ValueError, EOFError, OSError, RuntimeError):
        return {}
    return out
