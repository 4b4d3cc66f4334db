"""Writing a block of cells in one go: the XML xlsxwriter would write, built column-wise.

xlsxwriter turns every cell into XML in Python, a few microseconds per cell, so a
million-line ledger journal spends a minute and a half in it.  In constant-memory mode it
writes each finished row of a worksheet as ``<row><c/>…</row>`` into a temporary file and
copies that file into the sheet at the end.  :func:`write_rows` builds the same rows for a
whole block of a table at once with Arrow's string kernels (cell references, styles, escaped
text, numbers as text) and appends them to that file, then leaves the worksheet as if it
had written them itself: its dimensions, its last row, the hyperlinks of the block.
Everything else in the workbook (styles, column widths, the header, frozen panes, filters,
print setup, links, document properties) is still xlsxwriter's.

The bytes are xlsxwriter's own: numbers as ``f"{x:.16G}"``, text escaped as it escapes it
(``&<>``; control characters as ``_xHHHH_``; ``xml:space="preserve"`` for leading or
trailing white space), formats numbered in the order xlsxwriter would first meet them, and
the test suite compares whole files written both ways.  :func:`usable` says when a worksheet
is in a state this covers (constant-memory, no row formats or heights below the rows
already written, no comments); otherwise the caller writes cell by cell, with the same
result.  A block's rows may have heights of their own (:func:`write_rows`' ``heights``), as
``set_row`` would give them.

Text always goes in as an inline string (``t="inlineStr"``): never a formula, whatever it
starts with.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from xlsxwriter.url import Url
from xlsxwriter.utility import xl_col_to_name
from xlsxwriter.xmlwriter import XMLwriter

#: Text xlsxwriter rewrites beyond ``&<>`` (control characters, literal ``_xHHHH_``,
#: U+FFFE/U+FFFF): such cells are escaped by xlsxwriter's own function, one by one.
_SPECIAL = r"_x[0-9a-fA-F]{4}_|[\x{0}-\x{8}\x{b}-\x{1f}\x{fffe}\x{ffff}]"
_WHITESPACE = re.compile(r"\s")
MAX_TEXT = 32_767  # characters in a cell
_SAFE_INT = 1e15  # integral floats below this print as their integer digits with .16G
THREADS = 2  # a block's rows are built in this many pieces side by side
PIECE = 8192  # ... each of at least this many rows


@dataclass
class Cells:
    """One column of a block of rows, as :meth:`closebatch.io.writer.Book._plan` makes it.

    ``kind``: ``number`` (``values`` a float64 array, NaN for a blank cell), ``string``
    (``values`` an Arrow string array, null for a blank cell) or ``link`` (``values`` a list
    of ``(location, text)`` pairs or None, written by ``link``).  ``fmt`` is the format of
    every cell, or, when ``formats`` is given, ``pick`` holds each cell's index into it."""

    kind: str
    values: object
    fmt: object = None
    formats: list | None = None
    pick: np.ndarray | None = None
    minor: np.ndarray | None = None  # for amounts: the minor units the values were made from
    scale: np.ndarray | None = None  # ... and their scales (values = minor / 10**scale)
    link: object = None  # for links: ``take(count)`` (how many may be links) and ``plain_text(value)``

    def __len__(self) -> int:
        return len(self.values)

    def cell_list(self) -> list:
        """The values as a list (None for a blank cell), for writing cell by cell."""
        if self.kind == "number":
            out = self.values.astype(object)
            out[np.isnan(self.values)] = None
            return out.tolist()
        if self.kind == "string":
            return self.values.to_pylist()
        return list(self.values)

    def format_list(self, n: int) -> list:
        if self.formats is None:
            return [self.fmt] * n
        return [self.formats[k] for k in self.pick[:n].tolist()]


def usable(ws) -> bool:
    """Whether :func:`write_rows` writes this worksheet exactly as xlsxwriter would: in
    constant-memory mode, with row settings (``set_row``) only on rows up to the one pending
    (the header, written before the block), no comments, the default row height."""
    return bool(getattr(ws, "constant_memory", False)) and not ws.comments \
        and ws.default_row_height == ws.original_row_height and not getattr(ws, "row_data_fh_closed", True) \
        and hasattr(ws, "table") and hasattr(ws, "hyperlinks") and hasattr(ws, "previous_row") \
        and getattr(ws, "excel_version", 2007) == 2007 \
        and (not ws.row_info or max(ws.row_info) <= ws.previous_row)


def write_rows(ws, first_row: int, columns: list, n: int, heights: np.ndarray | None = None) -> None:
    """Write ``n`` rows from ``first_row`` down, ``columns`` being ``(column index, Cells)``
    in increasing column order, into the constant-memory worksheet ``ws``; ``heights`` (or
    None) the height of each row in points, 0 for the default, as ``ws.set_row(row, height)``
    would set it (a row given a height must hold a cell: a wrapped text sets it)."""
    if n <= 0:
        return
    if first_row > ws.previous_row:  # xlsxwriter's pending row (the header) goes out first
        ws._write_single_row(first_row)
    elif first_row < ws.previous_row or ws.table:
        raise ValueError(f"rows from {first_row + 1} on cannot follow row {ws.previous_row + 1}")
    rownums = pc.cast(pa.array(np.arange(first_row + 1, first_row + n + 1, dtype=np.int64)), pa.large_string())
    present = np.zeros(n, dtype=bool)
    used_cols = []
    first_seen = []  # (row, column, format): the order xlsxwriter would number formats in
    parts = []
    for j, cells in columns:
        valid = _valid(cells, n)
        if not valid.any():
            continue
        present |= valid
        used_cols.append(j)
        fmts, pick = _formats_of(ws, j, cells, n)
        for k, f in enumerate(fmts):
            if f is not None:
                rows = np.flatnonzero(valid & (pick == k)) if pick is not None else np.flatnonzero(valid)
                if len(rows):
                    first_seen.append((int(rows[0]), j, f))
        parts.append((j, cells, valid, fmts, pick))
    for _, _, f in sorted(first_seen, key=lambda x: (x[0], x[1])):
        f._get_xf_index()
    links = {j: _link_texts(ws, first_row, j, cells, valid) for j, cells, valid, _, _ in parts if cells.kind == "link"}
    styles = {j: _style_attr(fmts, pick) for j, _, _, fmts, pick in parts}
    row_attrs = _row_attrs(ws, first_row, heights, present, n)
    cuts = list(range(0, n, max(PIECE, -(-n // THREADS)))) + [n]
    pieces = list(zip(cuts[:-1], cuts[1:]))
    if len(pieces) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(THREADS) as pool:  # Arrow's kernels let go of the interpreter's lock
            built = list(pool.map(lambda lh: _rows_xml(parts, links, styles, rownums, present, row_attrs, *lh),
                                  pieces))
    else:
        built = [_rows_xml(parts, links, styles, rownums, present, row_attrs, 0, n)]
    rows = pa.chunked_array(built, pa.large_string())
    _append(ws, rows)
    if present.any():
        hit = np.flatnonzero(present)
        ws._check_dimensions(first_row + int(hit[0]), min(used_cols))
        ws._check_dimensions(first_row + int(hit[-1]), max(used_cols))
    ws.previous_row = first_row + n - 1
    ws.table.clear()


def _row_attrs(ws, first_row: int, heights, present, n: int):
    """The attributes after ``r`` of each ``<row>`` of the block (`` ht="30" customHeight="1"``
    where a row has a height of its own), as xlsxwriter's ``_write_row`` puts them; "" when
    no row has one.  The heights are kept in the worksheet's row sizes (which place charts
    and images), as ``set_row`` keeps them."""
    if heights is None:
        return ""
    h = np.asarray(heights[:n])
    rows = np.flatnonzero(h)
    if not len(rows):
        return ""
    if not present[rows].all():
        raise ValueError("a row given a height holds no cell")
    kinds = np.unique(h)
    attrs = []
    for points in kinds.tolist():
        if not points:
            attrs.append("")
            continue
        pixels = int(points * 4.0 / 3.0 + 0.5)  # as set_row stores it
        if pixels == ws.default_row_height:
            attrs.append("")
        else:
            attrs.append(f' ht="{pixels * 0.75:.16g}" customHeight="1"')
        ws.row_sizes.update(dict.fromkeys((first_row + rows[h[rows] == points]).tolist(), [pixels, False]))
    if not any(attrs):
        return ""
    return pa.array(np.asarray(attrs, dtype=object)[np.searchsorted(kinds, h)], pa.large_string())


def _rows_xml(parts, links, styles, rownums, present, row_attrs, lo: int, hi: int) -> pa.Array:
    """The ``<row>`` elements of rows ``lo`` to ``hi`` of the block ("" for a row without
    a cell)."""
    nums = rownums.slice(lo, hi - lo)
    pieces = ['<row r="', nums, '"', row_attrs if isinstance(row_attrs, str) else row_attrs.slice(lo, hi - lo), '>']
    for j, cells, valid, _fmts, pick in parts:
        v = valid[lo:hi]
        if not v.any():
            continue
        link = links.get(j)
        style = styles[j]
        cell = _cell_pieces(j, cells, v, style if isinstance(style, str) else style.slice(lo, hi - lo), nums, lo,
                            None if link is None else (link[0].slice(lo, hi - lo), link[1][lo:hi]))
        if v.all():  # inline in the row: one copy of its bytes
            pieces += cell
        else:  # a blank cell is no element: null where blank, then nothing
            pieces.append(_join(*cell, "").fill_null(""))
    rows = _join(*pieces, "</row>", "")
    if not present[lo:hi].all():  # a row without a cell is not written at all
        rows = pc.if_else(pa.array(present[lo:hi]), rows, pa.scalar("", pa.large_string()))
    return rows


def _join(*parts) -> pa.Array:
    """Element-wise concatenation of Arrow string arrays and Python strings (the last
    argument is the separator, as for ``binary_join_element_wise``)."""
    args = [pa.scalar(p, pa.large_string()) if isinstance(p, str) else p for p in parts]
    return pc.binary_join_element_wise(*args)


def _valid(cells: Cells, n: int) -> np.ndarray:
    if cells.kind == "number":
        return ~np.isnan(cells.values[:n])
    if cells.kind == "string":
        return ~np.asarray(cells.values.is_null().to_numpy(zero_copy_only=False))[:n]
    return np.fromiter((v is not None for v in cells.values[:n]), dtype=bool, count=n)


def _formats_of(ws, j: int, cells: Cells, n: int):
    """The formats of a column's cells: a list and, when there are several, each cell's
    index into it.  A cell without a format takes its column's (``set_column``), as xlsxwriter
    does."""
    if cells.formats is not None:
        return list(cells.formats), np.asarray(cells.pick[:n])
    f = cells.fmt
    if f is None and j in ws.col_info:
        f = ws.col_info[j].column_format
    return [f], None


def _style_attr(fmts, pick):
    """`` s="N"`` per cell (or one for the column); "" for a cell without a format."""
    attrs = [f' s="{f._get_xf_index()}"' if f is not None else "" for f in fmts]
    if pick is None:
        return attrs[0]
    return pa.array(np.asarray(attrs, dtype=object)[pick], pa.large_string())


def _cell_pieces(j, cells: Cells, valid, style, rownums, lo: int, link=None) -> list:
    """What the ``<c>`` elements of one column's rows ``lo`` on are joined from (null where
    a cell is blank)."""
    n = len(valid)
    ref = '<c r="' + xl_col_to_name(j)
    if cells.kind == "number":
        minor = None if cells.minor is None else cells.minor[lo:lo + n]
        scale = None if cells.scale is None else cells.scale[lo:lo + n]
        return [ref, rownums, '"', style, "><v>", _number_text(cells.values[lo:lo + n], valid, minor, scale),
                "</v></c>"]
    if cells.kind == "link":
        texts, plain = link
        if plain.any():  # past the links a sheet holds: plain text, no format
            style = pc.if_else(pa.array(plain), pa.scalar("", pa.large_string()),
                               style if isinstance(style, pa.Array) else pa.scalar(style, pa.large_string()))
    else:
        texts = cells.values.slice(lo, n)
    return [ref, rownums, '"', _string_tail(texts, style)]


def _string_tail(texts, style) -> pa.Array:
    """`` s="N" t="inlineStr"><is><t>TEXT</t></is></c>`` of each text (null for a null).  A
    column of few distinct values (entities, accounts, currencies, sources) is escaped once
    per value."""
    arr = texts if isinstance(texts, pa.Array) else pa.array(texts, pa.large_string())
    if arr.type != pa.large_string():
        arr = arr.cast(pa.large_string())
    if isinstance(style, str) and len(arr) >= 64:
        enc = pc.dictionary_encode(arr)
        if len(enc.dictionary) * 4 <= len(arr):
            escaped, preserve = _escape(enc.dictionary)
            tail = _join(style, ' t="inlineStr"><is><t', preserve, ">", escaped, "</t></is></c>", "")
            return tail.take(enc.indices)
    escaped, preserve = _escape(arr)
    return _join(style, ' t="inlineStr"><is><t', preserve, ">", escaped, "</t></is></c>", "")


def _number_text(values: np.ndarray, valid: np.ndarray, minor=None, scale=None) -> pa.Array:
    """``f"{x:.16G}"`` of every value (null where blank): integral values of a safe size as
    integers; amounts given in minor units (``minor``, ``scale``) as their exact decimals
    where that is provably what ``.16G`` prints; the others through Python's own formatting
    (the same digits, not merely the same number)."""
    v = np.where(valid, values, 0.0)
    integral = (v == np.floor(v)) & (np.abs(v) < _SAFE_INT) & ~((v == 0) & np.signbit(v))
    text = pc.cast(pa.array(np.where(integral, v, 0.0).astype(np.int64)), pa.large_string())
    rest = ~integral
    if minor is not None and rest.any() and _LONG_DOUBLE:
        ok, exact = _decimal_text(v, minor, scale, rest)
        if ok.any():
            text = pc.replace_with_mask(text, pa.array(ok), exact)
            rest &= ~ok
    if rest.any():
        fixed = pa.array(["%.16G" % x for x in v[rest].tolist()], pa.large_string())
        text = pc.replace_with_mask(text, pa.array(rest), fixed)
    if not valid.all():
        text = pc.if_else(pa.array(valid), text, pa.scalar(None, pa.large_string()))
    return text


#: 64-bit mantissas (x87 extended precision) make the test in :func:`_decimal_text` exact.
_LONG_DOUBLE = np.finfo(np.longdouble).nmant >= 63
_P10 = 10 ** np.arange(19, dtype=np.int64)
_P10_LD = np.array([np.longdouble(10) ** k for k in range(19)] + [np.longdouble(10) ** k for k in range(-40, 0)])


def _decimal_text(v: np.ndarray, minor: np.ndarray, scale: np.ndarray, rest: np.ndarray) -> tuple:
    """For the amounts at ``rest`` (``v`` = ``minor`` / 10**``scale``, rounded to the nearest
    double): where ``.16G`` of the double is the amount's own decimal digits, and those
    digits (in the order of the positions).  It is when the amount has at most 15
    significant digits and the double lies within less than half a unit of the 16th digit
    of it; the distance is measured in 64-bit-mantissa arithmetic with a margin far above
    its rounding error, and .16G writes it without an exponent (down to 0.0001).  The others (about one in twenty, e.g. 0.07, which ``.16G`` prints
    as 0.07000000000000001) are left to Python."""
    ok = np.zeros(len(v), dtype=bool)
    idx = np.flatnonzero(rest)
    m = np.asarray(minor, dtype=np.int64)[idx]
    s = np.asarray(scale, dtype=np.int64)[idx]
    am = np.abs(m)
    fits = (am > 0) & (am < _P10[15]) & (s >= 0) & (s <= 18)
    s = np.where(fits, s, 0)
    am = np.where(fits, am, 1)
    digits = np.searchsorted(_P10, am, side="right")  # number of digits of am
    e = digits - 1 - s  # the amount's decimal exponent
    ld = np.longdouble
    amount = am.astype(ld) / _P10_LD[s]
    unit = _P10_LD[np.clip(e - 15, -40, 18)]  # negative indexes: 10**-40 … 10**-1
    near = np.abs(np.abs(v[idx]).astype(ld) - amount) < ld(0.49) * unit
    good = fits & near & (e >= -4) & (am != _P10[digits - 1]) & (np.sign(m) == np.sign(v[idx]))
    ok[idx[good]] = True
    am, s, neg = am[good], s[good], m[good] < 0
    p = _P10[s]
    whole = pc.cast(pa.array(am // p), pa.large_string())
    frac = pc.utf8_rtrim(pc.utf8_slice_codeunits(pc.cast(pa.array(am % p + p), pa.large_string()), 1), "0")
    sign = pa.array(np.where(neg, "-", ""), pa.large_string())
    return ok, _join(sign, whole, ".", frac, "")


def _escape(texts: pa.Array) -> tuple:
    """Text as xlsxwriter puts it in an inline string, and the `` xml:space="preserve"``
    attribute where it keeps leading or trailing white space."""
    arr = texts
    special = pc.fill_null(pc.match_substring_regex(arr, _SPECIAL), False)
    if pc.any(special).as_py():  # control characters and their look-alikes: xlsxwriter's own escape
        idx = np.flatnonzero(special.to_numpy(zero_copy_only=False))
        out = np.asarray(arr.to_numpy(zero_copy_only=False), dtype=object)
        out[idx] = [XMLwriter._escape_control_characters(s) for s in out[idx].tolist()]
        arr = pa.array(out, pa.large_string())
    if pc.any(pc.fill_null(pc.match_substring_regex(arr, "[&<>]"), False)).as_py():
        for a, b in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
            arr = pc.replace_substring(arr, a, b)
    preserve = pc.or_(_edge_space(pc.utf8_slice_codeunits(arr, 0, 1)), _edge_space(pc.utf8_slice_codeunits(arr, -1)))
    attr = pc.if_else(pc.fill_null(preserve, False), pa.scalar(' xml:space="preserve"', pa.large_string()),
                      pa.scalar("", pa.large_string()))
    return arr, attr


def _edge_space(chars: pa.Array) -> pa.Array:
    """Whether each one-character string is white space as Python's ``\\s`` has it."""
    uniq = [c for c in pc.unique(chars.drop_null()).to_pylist() if c and _WHITESPACE.match(c)]
    return pc.is_in(chars, value_set=pa.array(uniq, chars.type))


def _link_texts(ws, first_row, j, cells: Cells, valid) -> tuple:
    """The links of the block, up to the sheet's limit (``cells.link.take``; the rest are
    plain text without the link format), kept on the worksheet for its ``<hyperlinks>``
    element (:func:`_hyperlinks_xml`), as ``write_url`` with an ``internal:`` location would
    have them.  Returns the text of each cell and which cells are plain."""
    rows = np.flatnonzero(valid)
    allowed = cells.link.take(len(rows))
    values = [cells.values[i] for i in rows.tolist()]
    texts = pa.array([str(v[1]) for v in values], pa.large_string())
    if len(texts) and (pc.max(pc.utf8_length(texts)).as_py() or 0) > MAX_TEXT // 2:
        texts = pa.array([cells.link.plain_text(v) for v in values], pa.large_string())
    plain = np.zeros(len(valid), dtype=bool)
    plain[rows[allowed:]] = True
    if allowed:
        linked = rows[:allowed]
        first, last = first_row + int(linked[0]), first_row + int(linked[-1])
        if ws._check_dimensions(first, j) or ws._check_dimensions(last, j):
            raise ValueError(f"links at rows {first + 1}-{last + 1}, column {j + 1} are outside the worksheet")
        ws.hlink_count += allowed
        locations = pa.array([str(v[0]) for v in values[:allowed]], pa.large_string())
        _keep_links(ws, first_row + linked, j, locations, texts.slice(0, allowed))
    full = pa.array([None] * len(valid), pa.large_string()) if len(rows) < len(valid) else None
    if full is not None:
        texts = pc.replace_with_mask(full, pa.array(valid), texts)
    return texts, plain


def _keep_links(ws, rows: np.ndarray, col: int, locations: pa.Array, texts: pa.Array) -> None:
    """Keep links for the worksheet's ``<hyperlinks>`` element, and have it write them."""
    kept = getattr(ws, "_closebatch_links", None)
    if kept is None:
        kept = ws._closebatch_links = []
        own = ws._write_hyperlinks

        def write_hyperlinks():
            if ws.hyperlinks or len({c for _, c, _, _ in kept}) > 1:  # xlsxwriter orders them: in its own form
                for r, c, loc, text in kept:
                    for k, row in enumerate(r.tolist()):
                        url = Url("internal:" + loc[k].as_py())
                        url._text = text[k].as_py()
                        ws.hyperlinks[row][c] = url
                return own()
            ws.fh.write("<hyperlinks>")
            for part in sorted(kept, key=lambda x: (int(x[0][0]), x[1])):
                _append_array(ws, _hyperlinks_xml(*part))
            ws.fh.write("</hyperlinks>")

        ws._write_hyperlinks = write_hyperlinks
    kept.append((np.asarray(rows), col, locations, texts))


def _hyperlinks_xml(rows: np.ndarray, col: int, locations: pa.Array, texts: pa.Array) -> pa.Array:
    """``<hyperlink ref="L2" location="…" display="…"/>`` of each link, as xlsxwriter writes
    an internal link (attributes escaped as it escapes them)."""
    nums = pc.cast(pa.array(rows + 1), pa.large_string())
    return _join('<hyperlink ref="' + xl_col_to_name(col), nums, '" location="', _escape_attribute(locations),
                 '" display="', _escape_attribute(texts), '"/>', "")


def _escape_attribute(values: pa.Array) -> pa.Array:
    for a, b in (("&", "&amp;"), ('"', "&quot;"), ("<", "&lt;"), (">", "&gt;"), ("\n", "&#xA;")):
        values = pc.replace_substring(values, a, b)
    return values


def _append(ws, rows) -> None:
    """Append the rows' XML to the worksheet's row file, where xlsxwriter's own go."""
    for chunk in rows.chunks if isinstance(rows, pa.ChunkedArray) else [rows]:
        _append_array(ws, chunk)


def _append_array(ws, rows: pa.Array) -> None:
    rows = rows.cast(pa.large_string()) if rows.type != pa.large_string() else rows
    if rows.offset or rows.null_count:
        rows = pa.concat_arrays([rows.fill_null("")])
    offsets = np.frombuffer(rows.buffers()[1], dtype=np.int64, count=len(rows) + 1, offset=rows.offset * 8)
    data = rows.buffers()[2]
    chunk = memoryview(data)[int(offsets[0]):int(offsets[-1])] if data is not None else b""
    fh = ws.fh
    raw = getattr(fh, "buffer", None)
    if raw is not None:
        fh.flush()
        raw.write(chunk)
    else:
        fh.write(bytes(chunk).decode("utf-8"))
