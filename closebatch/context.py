"""What a close step receives: the book, the period being closed and the ledger state.

A step is a pure function ``step(ctx: CloseContext, state: LedgerState) -> StepResult``.
It reads no file, no clock and no global; it returns new journal lines (a lines frame, see
:mod:`closebatch.core`), findings, report tables and, in ``StepResult.carry``, frames the
runner persists in ``ledger/`` and hands back to the next close as ``state.carried``.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Mapping

import pandas as pd

from .book import Book
from .core import balance_key, concat_lines


@dataclass(frozen=True)
class Period:
    name: str
    start: pd.Timestamp
    end: pd.Timestamp
    fiscal_year: int
    index: int  # position in the calendar (0 = first period)
    year_end: bool  # last period of its fiscal year
    year_start: bool  # first period of its fiscal year


@dataclass
class CloseContext:
    book: Book
    period: Period
    user: str = ""
    entities: tuple[str, ...] = ()  # entities being closed (all when empty)
    earlier: Mapping = field(default_factory=dict)  # step name -> StepResult of the steps run before


@dataclass
class LedgerState:
    """The ledger as a step sees it.

    * ``opening``: balances at the period's start by :func:`closebatch.core.balance_key`
      with int64 ``amount`` and ``amount_acct`` (Revenue/Expense are fiscal year to date, so
      they are zero at the start of a fiscal year).
    * ``lines``: every line posted in the period so far, given and generated (a lines frame).
    * ``carried``: frames a step persisted at the previous close (``StepResult.carry``),
      by name; empty at the first close.
    """

    dims: tuple[str, ...]
    opening: pd.DataFrame
    lines: pd.DataFrame
    carried: dict = field(default_factory=dict)
    settle_accounts: frozenset = frozenset()  # accounts whose balances are kept per reference
    open_items: pd.DataFrame | None = None  # the settlement accounts' items open at the period's start
    # balances() and movement() of this state, computed once (a state is never changed: add()
    # and dataclasses.replace() make a new one, which starts without them; with_carried()
    # makes one that shares them)
    _memo: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def _keyed(self, df: pd.DataFrame) -> pd.DataFrame:
        key = balance_key(self.dims)
        df = df[key + ["amount", "amount_acct"]]
        blank = ~df["account"].isin(self.settle_accounts) & (df["reference"] != "")
        if blank.any():
            df = df.copy()
            df.loc[blank, "reference"] = ""
        return df

    def balances(self) -> pd.DataFrame:
        """Balances at this point of the close: opening plus the period's lines, per key.

        ``reference`` is kept only on settlement accounts (elsewhere it is a document
        number, not part of the balance).  Computed once per state, as the opening's sums
        plus the period's movement (each computed once per close, see :meth:`add`); each
        caller gets its own frame (a shallow copy: pandas copies on write)."""
        if "balances" not in self._memo:
            self._memo["balances"] = self._balances()
        return self._memo["balances"].copy(deep=False)

    def _balances(self) -> pd.DataFrame:
        derived = self._from_parent("balances")
        if derived is not None:
            return derived
        if "opening" not in self._memo:  # the same at every state of a close
            self._memo["opening"] = self._sum([self._keyed(self.opening)])
        if not len(self.lines):
            return self._memo["opening"]
        return self._sum([self._memo["opening"], self.movement()])  # both summed already: few rows

    def _sum(self, parts: list) -> pd.DataFrame:
        df = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
        return df.groupby(balance_key(self.dims), sort=True, as_index=False, dropna=False)[
            ["amount", "amount_acct"]].sum()

    def _from_parent(self, what: str) -> pd.DataFrame | None:
        """``what`` (balances or movement) of a state made by :meth:`add`, from its parent's,
        when the parent has computed them: the parent's sums and the added lines summed
        again (a few rows instead of every line of the period).  None otherwise."""
        parent = self._memo.get("parent")
        if parent is None or not len(parent[0].get(what, ())):
            return None
        base, added = parent[0].pop(what), parent[1]  # the parent's sums are no longer held here
        return base if not len(added) else self._sum([base, self._keyed(added)])

    def movement(self) -> pd.DataFrame:
        """The period's movement per key (sum of the period's lines); computed once per state."""
        if "movement" not in self._memo:
            self._memo["movement"] = self._movement()
        return self._memo["movement"].copy(deep=False)

    def _movement(self) -> pd.DataFrame:
        key = balance_key(self.dims)
        if not len(self.lines):
            return self.opening[key + ["amount", "amount_acct"]].iloc[0:0]
        derived = self._from_parent("movement")
        if derived is not None:
            return derived
        return self._sum([self._keyed(self.lines)])

    def with_carried(self, carried: dict) -> "LedgerState":
        """This state with other ``carried`` frames.  Balances and movement do not depend on
        what is carried: the new state shares this one's sums (computed once for both)."""
        other = replace(self, carried=carried)
        other._memo = self._memo
        return other

    def add(self, new_lines: pd.DataFrame) -> "LedgerState":
        """A new state with ``new_lines`` posted.  It keeps the sums this state has computed so
        far (not this state), to derive its own from them (:meth:`_from_parent`)."""
        lines = concat_lines([self.lines, new_lines], self.dims)
        child = LedgerState(self.dims, self.opening, lines, self.carried, self.settle_accounts, self.open_items)
        sums = {k: self._memo[k] for k in ("balances", "movement") if k in self._memo}
        child._memo["parent"] = (sums, lines.iloc[len(self.lines):])
        if "opening" in self._memo:
            child._memo["opening"] = self._memo["opening"]
        return child
