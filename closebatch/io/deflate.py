"""A worksheet's rows deflated as they are written, for the zip part that will hold them.

In constant-memory mode xlsxwriter writes each finished row of a worksheet into a temporary
file, copies that file into the sheet's XML part when the workbook closes, and the zip file
then reads the part back and deflates it.  A million-line ledger journal is about a
gigabyte of XML, so it went through the disk three times before it was deflated, on one
thread, after everything else.

:class:`DeflatedRows` takes the rows' bytes as they come instead, cuts them into pieces of
:data:`PIECE` bytes and deflates each piece on a background thread (zlib lets go of the
interpreter's lock) while the next rows are built; only the deflated pieces go to the
temporary file.  When the workbook is packed, the sheet's part is the deflated XML before
the rows, the pieces as they are, and the deflated XML after them: one raw deflate stream
(every piece but the last ends with a sync flush, as ``pigz`` does), with the CRC-32 of the
whole part combined from the pieces' own (:func:`crc32_combine`).  The pieces fall where the
data does (every :data:`PIECE` bytes of the rows, whoever wrote them), so the same rows give
the same bytes whatever the threads do, and whether the rows were written cell by cell or in
blocks.

The bytes of the rows are the ones xlsxwriter's copy would have put in the part, including
its one change to them (reading the temporary file back as text turned a carriage return,
``\\r\\n`` or alone, into ``\\n``).

**The deflater.**  With the optional ``fast`` extra installed (python-isal: Intel's ISA-L,
whose ``isal_zlib`` is zlib's interface) every part is deflated by ISA-L at its level 1:
about 1 GB/s against zlib's 300 MB/s at level 1, into a file of the same size (within 1 %),
and its CRC-32 about six times as fast.  Without it, zlib (:data:`CODEC`).  Either writes
standard raw deflate that every reader inflates; the same rows give the same bytes with the
same deflater, but the two deflaters' bytes differ (so do zlib's own builds'), which is why
the ledger is sealed by its values, not its files' bytes.
"""
from __future__ import annotations

import codecs
import os
import zlib
from collections import deque
from concurrent.futures import ThreadPoolExecutor

import numpy as np

PIECE = 4 << 20  # bytes of rows deflated at a time
THREADS = 2  # ... on this many threads
_SCAN = 1 << 20  # bytes searched for a carriage return at a time
LEVEL = 1  # zlib's level (xlsxwriter's default is 6: level 1 is four times as fast, 30 % larger), ISA-L's

try:  # ISA-L's deflate, when the ``fast`` extra is installed (see the module's notes)
    from isal import isal_zlib as CODEC
except ImportError:  # pragma: no cover - the extra is part of the test install
    CODEC = zlib

_POLY = 0xEDB88320  # CRC-32, reflected


def _multmodp(a: int, b: int) -> int:
    """``a`` times ``b`` modulo the CRC-32 polynomial (bit-reflected, as zlib's ``multmodp``)."""
    m, p = 1 << 31, 0
    while True:
        if a & m:
            p ^= b
            if not a & (m - 1):
                return p
        m >>= 1
        b = (b >> 1) ^ _POLY if b & 1 else b >> 1


def _powers() -> list[int]:
    """x^(2^k) modulo the polynomial, k = 0..31."""
    out, p = [], 1 << 30  # x^1
    for _ in range(32):
        out.append(p)
        p = _multmodp(p, p)
    return out


_X2N = _powers()


def _x2nmodp(n: int, k: int) -> int:
    """x^(n * 2^k) modulo the polynomial."""
    p = 1 << 31  # x^0
    while n:
        if n & 1:
            p = _multmodp(_X2N[k & 31], p)
        n >>= 1
        k += 1
    return p


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """The CRC-32 of ``a + b`` from ``crc32(a)``, ``crc32(b)`` and ``len(b)`` (zlib's own
    ``crc32_combine``, which Python's zlib module does not offer)."""
    return _multmodp(_x2nmodp(len2, 3), crc1) ^ crc2


def compressor(level: int | None = None):
    """A raw deflate compressor of :data:`CODEC` (``compress``, ``flush``), at :data:`LEVEL`."""
    return CODEC.compressobj(LEVEL if level is None else level, zlib.DEFLATED, -15)


def deflate(data: bytes, last: bool, level: int | None = None) -> bytes:
    """``data`` as raw deflate, ended by a sync flush (``last``: by the end of the stream)."""
    c = compressor(level)
    return c.compress(data) + c.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)


def crc32(data, value: int = 0) -> int:
    """zlib's CRC-32 of ``data`` (continuing ``value``), by :data:`CODEC`."""
    return CODEC.crc32(data, value)


def _has_cr(data, view: memoryview) -> bool:
    """True when the bytes hold a carriage return (searched without copying them: a
    megabyte at a time through NumPy, five times as fast as a regular expression)."""
    if isinstance(data, (bytes, bytearray)):
        return b"\r" in data
    a = np.frombuffer(view, dtype=np.uint8)
    return any(bool((a[i:i + _SCAN] == 13).any()) for i in range(0, len(a), _SCAN))


def _piece(data: bytes, last: bool, level: int | None) -> tuple[bytes, int, int]:
    return deflate(data, last, level), crc32(data), len(data)


class Pieces:
    """Bytes deflated ``size`` bytes at a time on :data:`THREADS` threads, each piece a raw
    deflate of its own ended by a sync flush (the last, with ``finish(last=True)``, by the end
    of the stream): what ``pigz`` does.  The pieces fall where the data does, so the same bytes
    give the same output whatever the threads do, and any reader inflates the pieces as one
    stream.  :meth:`feed` and :meth:`finish` return the pieces finished so far, in order, as
    ``(deflated, crc32, size)``; at most :data:`THREADS` wait to be deflated."""

    def __init__(self, size: int | None = None, level: int | None = None):
        self.size, self.level = size or PIECE, level
        self.pending: list = []
        self.pending_size = 0
        self.futures: deque = deque()
        self.pool = None
        self.threads = 0  # the pool's

    def feed(self, data) -> list:
        """Take ``data`` (any buffer: only ``size`` bytes at a time are copied out of it)."""
        view = memoryview(data).cast("B")
        done = []
        while len(view) >= self.size - self.pending_size:
            need = self.size - self.pending_size
            done += self._submit(b"".join([*self.pending, view[:need]]), False)
            self.pending, self.pending_size = [], 0
            view = view[need:]
        if len(view):
            self.pending.append(bytes(view))
            self.pending_size += len(view)
        return done

    def finish(self, last: bool) -> list:
        """Deflate what is left (``last``: ending the stream, even with nothing left) and
        wait for every piece."""
        rest = b"".join(self.pending)
        self.pending, self.pending_size = [], 0
        done = self._submit(rest, last) if rest or last else []
        while self.futures:
            done.append(self.futures.popleft().result())
        self.close()
        return done

    def _submit(self, piece: bytes, last: bool) -> list:
        if self.pool is not None and self.threads != THREADS:  # (changed since: the pieces queued finish)
            self.pool.shutdown(wait=False)
            self.pool = None
        if self.pool is None:
            self.pool, self.threads = ThreadPoolExecutor(THREADS, thread_name_prefix="closebatch-deflate"), THREADS
        self.futures.append(self.pool.submit(_piece, piece, last, self.level))
        done = []
        while len(self.futures) > THREADS or (self.futures and self.futures[0].done()):
            done.append(self.futures.popleft().result())
        return done

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True)
            self.pool = None


class _Bytes:
    """The ``buffer`` of :class:`DeflatedRows`: where bytes are written."""

    def __init__(self, rows: "DeflatedRows"):
        self.write = rows.feed


class DeflatedRows:
    """A worksheet's row file (written as text by xlsxwriter, as bytes through ``buffer`` by
    :mod:`closebatch.io.fastcells`) kept deflated in ``path`` (:class:`Pieces` of
    :data:`PIECE` bytes).  :meth:`finish` ends it; then ``size`` and ``crc`` are those of the
    rows' bytes and ``path`` holds their deflated pieces, to be copied as they are."""

    def __init__(self, path: str):
        self.path = path
        self.out = open(path, "wb")  # noqa: SIM115 - closed by finish() or close()
        self.buffer = _Bytes(self)
        self.pieces = Pieces()
        self.carried = b""  # a carriage return at the end of what came: its line end may follow
        self.size = self.crc = self.compressed = 0

    def write(self, text: str) -> int:
        self.feed(text.encode("utf-8"))
        return len(text)

    def flush(self) -> None:
        pass

    def feed(self, data) -> None:
        """Take ``data`` (bytes, or a buffer such as a block of rows built by Arrow)."""
        if not len(data):
            return
        view = memoryview(data).cast("B")
        if self.carried or _has_cr(data, view):  # (never in rows xlsxwriter or the block writer build)
            text = self.carried + bytes(view)
            self.carried = b""
            if text.endswith(b"\r"):
                text, self.carried = text[:-1], b"\r"
            view = text.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        self._take(self.pieces.feed(view))

    def _take(self, done: list) -> None:
        for packed, crc, size in done:
            self.out.write(packed)
            self.crc = crc32_combine(self.crc, crc, size)
            self.size += size
            self.compressed += len(packed)

    def finish(self) -> None:
        """Deflate what is left and wait for every piece."""
        if self.carried:
            self._take(self.pieces.feed(b"\n"))
            self.carried = b""
        self._take(self.pieces.finish(last=False))
        self.close()

    def inflate_into(self, fh) -> None:
        """Write the rows, inflated, as text into ``fh`` (after :meth:`finish`)."""
        inflater = zlib.decompressobj(-15)
        decoder = codecs.getincrementaldecoder("utf-8")()
        with open(self.path, "rb") as src:
            while piece := src.read(1 << 20):
                fh.write(decoder.decode(inflater.decompress(piece)))
        fh.write(decoder.decode(inflater.flush(), final=True))

    def close(self) -> None:
        self.pieces.close()
        if not self.out.closed:
            self.out.close()

    def discard(self) -> None:
        self.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass
