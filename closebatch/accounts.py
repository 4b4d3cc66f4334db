"""Account specs: the one syntax every sheet uses to name several accounts.

A spec is a list of items separated by commas (or semicolons, as European Excel writes
lists): ``6100``, ``6000-6999``, ``4000-4999, 7900; 7920``.  Each item is

* a code of the chart (taken as it is, even if it holds a ``-``, such as ``A-10``), or
* a range ``LO-HI``: every chart account from LO to HI, both included.  When LO and HI are
  both all digits the range compares numbers (``900-1100`` holds ``1000``, not ``10000``) and
  holds only all-digit codes; otherwise it compares text, character by character, the order in
  which a sorted list of the chart shows the codes (``A10-A2`` holds ``A10``, ``A11`` … ``A2``).

An item that names no account of the chart (unknown code, a range that holds none, a range
that runs backwards, or not a range at all such as ``1-2-3``) is *bad*; the caller reports it
at its cell.  The accounts come back once each, in chart order.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

_SEP = re.compile(r"[,;]")


@dataclass(frozen=True)
class Selection:
    accounts: tuple[str, ...]  # the chart accounts the spec names, in chart order
    bad: tuple[str, ...]  # items that name nothing, as written
    reasons: tuple[str, ...] = ()  # why each bad item names nothing

    def __iter__(self):  # ``accounts, bad = select(...)``
        return iter((list(self.accounts), list(self.bad)))

    def problem(self) -> str:
        """The bad items with their reasons, for a finding's message."""
        return "; ".join(f"{b} ({r})" for b, r in zip(self.bad, self.reasons))


def select(spec, chart: Iterable[str]) -> Selection:
    """The accounts of ``chart`` (codes, in chart order) that ``spec`` names."""
    codes = list(dict.fromkeys(str(c) for c in chart))
    known = set(codes)
    chosen: set[str] = set()
    bad, reasons = [], []
    for item in (p.strip() for p in _SEP.split("" if spec is None else str(spec))):
        if not item:
            continue
        if item in known:
            chosen.add(item)
            continue
        parts = [p.strip() for p in item.split("-")]
        if len(parts) != 2 or not all(parts):
            bad.append(item)
            reasons.append("not an account of the chart" if len(parts) == 1 else "not a range LO-HI")
            continue
        lo, hi = parts
        numeric = lo.isdigit() and hi.isdigit()
        if (int(lo) > int(hi)) if numeric else lo > hi:
            bad.append(item)
            reasons.append("the range runs backwards")
            continue
        if numeric:
            hit = [a for a in codes if a.isdigit() and int(lo) <= int(a) <= int(hi)]
        else:
            hit = [a for a in codes if lo <= a <= hi]
        if not hit:
            bad.append(item)
            reasons.append("no account of the chart is in that range")
        chosen.update(hit)
    return Selection(tuple(a for a in codes if a in chosen), tuple(bad), tuple(reasons))
