"""Close step 4: settlement of open items on accounts with ``settle = Y``.

An *open item* is a line on a settlement account (a receivable, a payable, a clearing
account) that nothing has offset yet.  At the first close the open items are the
TrialBalance lines of settlement accounts; at later closes they are the items this step
carried forward from the previous close.  Together with the period's lines on settlement
accounts they are matched, in the order the books format states:

1. **By reference.**  Items with the same entity, account, currency and non-blank
   ``reference`` whose transaction amounts net to zero are settled together, all of them
   (a reference group is never settled in part).
2. **By amount.**  Of the items left, a debit of ``+A`` and a credit of ``-A`` with the same
   entity, account and currency are paired, oldest first: the k-th debit of ``A`` (by date,
   then input order) with the k-th credit of ``A``.  The reference does not matter here.
3. **Residue.**  A group of items of one entity, account, currency and reference (blank
   included) whose items all have a zero transaction amount — revaluation lines left behind
   when the items they revalued were settled — is settled as well (match kind
   ``residual``), so its exchange difference is realized instead of lingering.

A settled group's transaction amounts net to zero; its accounting-currency amounts need
not (the rate moved between invoice and payment).  The difference ``S`` (the group's
``amount_acct`` total) is realized: a line on the settled account, in the group's
transaction currency, with ``amount`` 0 and ``amount_acct`` ``-S`` brings the group to zero
in both currencies, and the offset line of ``S`` in the entity's accounting currency goes to
``realized_gain_account`` (``S < 0``: a credit, a gain) or ``realized_loss_account``
(``S > 0``: a debit, a loss).  The difference line belongs to the settled group, so it is
never carried: after the step, the ledger balance of every settlement account is exactly
the total of the items carried forward, in both currencies.

Decisions where the books format is silent:

* Every line on a settlement account takes part, whatever its journal type (only lines of
  the entities being closed; other entities' items are carried untouched).  "Oldest" is
  by date, then input order (carried items first, then the period's lines as posted).
* An amount pair takes the reference of its oldest item that has one (else blank).  The
  difference line takes the dimensions and counterparty of the group's oldest item; the
  realized gain/loss line takes the same dimensions, no counterparty.
* If the realized account a group needs is not set, that group is left open (an error
  names the setting), so the ledger still equals the open items.
* ``Unmatched`` lists the reference groups still open that hold both debits and credits
  but do not net to zero (something was applied, not all of it); a lone open invoice is
  just open.
* Reports keep money in int64 minor units: ``amount``/``remaining`` in ``currency``,
  ``*_acct`` in the entity's accounting currency.  ``realized_acct`` is the amount posted
  to the P&L: negative a gain, positive a loss.

Everything is vectorised (group-by, sort, merge); there is no loop over items, so a
million open items settle in seconds.  Money is int64 minor units throughout.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from ..context import CloseContext, LedgerState
from ..core import ERROR, WARNING, Finding, StepResult, concat_lines, empty_lines, line_columns, make_lines
from ..money import fmt, scale_of

JOURNAL_TYPE = "settlement"
GROUP_KEY = ["entity", "account", "currency", "reference"]
MAX_SOURCES = 20  # source rows named in one finding message


def settle(ctx: CloseContext, state: LedgerState, open_items: pd.DataFrame) -> StepResult:
    """Settle the open items carried into ``ctx.period`` together with the period's lines.

    ``open_items`` is a lines frame of the items still open at the period's start (the
    runner builds it from ``state.carried["open_items"]``, or at the first close from the
    settlement-account lines of ``book.opening``).

    Returns the realized-difference lines, findings (errors for a missing realized account,
    warnings for reference groups that do not net to zero) and the reports ``Settled``,
    ``Open`` and ``Unmatched``, and ``carry["open_items"]`` (the lines frame the next close
    starts from).
    """
    book, per = ctx.book, ctx.period
    dims = tuple(book.dims)
    items = _items(ctx, state, open_items)
    in_scope = np.ones(len(items), dtype=bool) if not ctx.entities else \
        items["entity"].isin(ctx.entities).to_numpy()

    gid = np.full(len(items), -1, dtype="int64")  # settlement group of each item, -1 = open
    kind = np.full(len(items), "", dtype=object)
    _match_reference(items, in_scope, gid, kind)
    _match_amount(items, in_scope, gid, kind)
    _match_residue(items, in_scope, gid, kind)

    groups = _groups(items, gid, kind)
    findings = _check_accounts(ctx, groups)
    left_open = groups["blocked"].to_numpy()
    if left_open.any():  # no realized account to post to: the whole group stays open
        gid[np.isin(gid, groups.index[left_open])] = -1
        groups = groups[~left_open]
    groups = _number(groups, per.name)

    lines = _difference_lines(ctx, groups)
    settled_mask = gid >= 0
    settled = _settled_report(items[settled_mask], gid[settled_mask], kind[settled_mask], groups, lines, dims)
    still_open = items[~settled_mask]
    still_open = still_open.sort_values(GROUP_KEY + ["date", "_pos"], kind="stable")
    unmatched, warnings = _unmatched(ctx, still_open[in_scope[still_open["_pos"].to_numpy()]])
    findings += warnings

    cols = line_columns(dims)
    carry = still_open[cols].reset_index(drop=True)
    open_report = still_open[cols + ["origin"]].reset_index(drop=True)
    open_report["age_days"] = (per.end - open_report["date"]).dt.days.astype("int64")

    figures = {
        "settled_groups": int(len(groups)),
        "settled_items": int(settled_mask.sum()),
        "open_items": int(len(carry)),
        "unmatched_references": int(unmatched["settlement_group"].nunique()) if len(unmatched) else 0,
        "realized_lines": int(len(lines)),
    }
    return StepResult(lines=lines, findings=findings,
                      reports={"Settled": settled, "Open": open_report, "Unmatched": unmatched},
                      figures=figures, carry={"open_items": carry})


def run(ctx: CloseContext, state: LedgerState) -> StepResult:
    """Step 4 as the runner calls it: :func:`settle` with the open items of ``state``."""
    items = state.open_items if state.open_items is not None else empty_lines(ctx.book.dims)
    return settle(ctx, state, items)


def finish(ctx: CloseContext, res: StepResult, steps: dict) -> StepResult:
    """The open items as the period ends: the lines later steps posted on settlement accounts
    (revaluation of open items, allocations) are open items too, so the carried items, and the
    ``Open`` report, keep equalling the ledger balance of each settlement account."""
    dims = ctx.book.dims
    per = ctx.period
    settle_accounts = set(ctx.book.accounts.loc[ctx.book.accounts["settle"], "account"])
    later = [steps[n].lines for n in ("revaluation", "allocation") if n in steps]
    after = concat_lines(later, dims)
    if len(after):
        after = after[after["account"].isin(settle_accounts) & (after["date"] >= per.start)
                      & (after["date"] <= per.end)]
    if not len(after) or "open_items" not in res.carry:
        return res
    carry = dict(res.carry)
    carry["open_items"] = concat_lines([carry["open_items"], after], dims)
    reports = dict(res.reports)
    rep = reports.get("Open")
    if rep is not None:
        extra = after.assign(origin="period")
        extra["age_days"] = (per.end - extra["date"]).dt.days.astype("int64")
        rep = pd.concat([rep, extra[list(rep.columns)]], ignore_index=True)
        order = ["entity", "account", "currency", "reference", "date"]
        reports["Open"] = rep.sort_values(order, kind="stable").reset_index(drop=True)
    return replace(res, reports=reports, carry=carry)


# --- input -----------------------------------------------------------------------------

def _items(ctx: CloseContext, state: LedgerState, open_items: pd.DataFrame) -> pd.DataFrame:
    """Carried open items followed by the period's lines on settlement accounts.

    Every line on a settlement account takes part, whatever its journal type: a line left
    out of matching would have to be carried anyway, or the open items would stop adding up
    to the ledger balance.  Lines with a zero transaction amount (revaluations) only join
    reference groups and residues; they never pair by amount.
    """
    dims = tuple(ctx.book.dims)
    settle_accounts = state.settle_accounts or frozenset(
        ctx.book.accounts.loc[ctx.book.accounts["settle"].astype(bool), "account"])
    period_lines = state.lines
    if len(period_lines):
        period_lines = period_lines[period_lines["account"].isin(settle_accounts)]
    carried = concat_lines([open_items], dims)
    posted = concat_lines([period_lines], dims)
    items = pd.concat([carried.assign(origin="carried"), posted.assign(origin="period")], ignore_index=True)
    for c in ("journal", "entity", "account", *dims, "currency", "counterparty", "reference", "journal_type",
              "description", "source"):
        items[c] = items[c].fillna("").astype(str)
    items["date"] = pd.to_datetime(items["date"]).astype("datetime64[ns]")
    items["amount"] = items["amount"].astype("int64")
    items["amount_acct"] = items["amount_acct"].astype("int64")
    items["_pos"] = np.arange(len(items), dtype="int64")  # input order: ties of date go oldest-listed first
    return items


# --- matching --------------------------------------------------------------------------

def _next_gid(gid: np.ndarray) -> int:
    return int(gid.max()) + 1 if len(gid) else 0


def _match_reference(items, in_scope, gid, kind) -> None:
    """Reference groups (non-blank reference) netting to zero in transaction currency."""
    cand = in_scope & (items["reference"].to_numpy() != "")
    if not cand.any():
        return
    sub = items.loc[cand, GROUP_KEY + ["amount"]]
    g = sub.groupby(GROUP_KEY, sort=False).ngroup().to_numpy()
    net = pd.Series(sub["amount"].to_numpy()).groupby(g).sum().to_numpy()  # ngroup numbers 0..n-1
    ok = net[g] == 0
    rows = np.flatnonzero(cand)[ok]
    gid[rows] = _next_gid(gid) + g[ok]
    kind[rows] = "reference"


def _match_amount(items, in_scope, gid, kind) -> None:
    """Pair the k-th debit of +A with the k-th credit of -A per entity/account/currency/|A|."""
    amount = items["amount"].to_numpy()
    cand = in_scope & (gid < 0) & (amount != 0)
    if not cand.any():
        return
    rows = np.flatnonzero(cand)
    sub = items.iloc[rows]
    bucket = sub.assign(_abs=np.abs(amount[rows])).groupby(["entity", "account", "currency", "_abs"],
                                                           sort=False).ngroup().to_numpy()
    debit = (amount[rows] > 0).astype("int64")
    date = sub["date"].to_numpy().astype("int64")
    order = np.lexsort((sub["_pos"].to_numpy(), date, debit, bucket))
    key = (bucket * 2 + debit)[order]
    start = np.r_[True, key[1:] != key[:-1]]
    run_start = np.maximum.accumulate(np.where(start, np.arange(len(key)), 0))
    rank = np.arange(len(key)) - run_start  # k-th item of its sign in its bucket, oldest first
    side = pd.DataFrame({"bucket": bucket[order], "rank": rank, "row": rows[order]})
    is_debit = debit[order] == 1
    pairs = side[is_debit].merge(side[~is_debit], on=["bucket", "rank"], suffixes=("_dr", "_cr"))
    if not len(pairs):
        return
    first = _next_gid(gid)
    new = first + np.arange(len(pairs), dtype="int64")
    gid[pairs["row_dr"].to_numpy()] = new
    gid[pairs["row_cr"].to_numpy()] = new
    kind[pairs["row_dr"].to_numpy()] = "amount"
    kind[pairs["row_cr"].to_numpy()] = "amount"


def _match_residue(items, in_scope, gid, kind) -> None:
    """Groups left with only zero transaction amounts: nothing is open any more, only an
    exchange difference."""
    cand = in_scope & (gid < 0)
    if not cand.any():
        return
    sub = items.loc[cand, GROUP_KEY + ["amount"]]
    g = sub.groupby(GROUP_KEY, sort=False).ngroup().to_numpy()
    nonzero = pd.Series(sub["amount"].to_numpy() != 0).groupby(g).any().to_numpy()
    ok = ~nonzero[g]
    rows = np.flatnonzero(cand)[ok]
    gid[rows] = _next_gid(gid) + g[ok]
    kind[rows] = "residual"


# --- settled groups ----------------------------------------------------------------------

def _groups(items: pd.DataFrame, gid: np.ndarray, kind: np.ndarray) -> pd.DataFrame:
    """One row per settled group: key, kind, the oldest item (its dimensions and
    counterparty go on the difference line), reference and ``diff`` (acct total)."""
    settled = np.flatnonzero(gid >= 0)
    date = items["date"].to_numpy(dtype="datetime64[ns]").view("int64")
    date = np.where(date == np.iinfo("int64").min, np.iinfo("int64").max, date)  # a missing date last, as pandas
    # the settled items in group order, each group's oldest first (ties: the first listed), as
    # positions: only each group's first item is taken from the frame
    at = settled[np.lexsort((items["_pos"].to_numpy()[settled], date[settled], gid[settled]))]
    starts = np.flatnonzero(np.r_[True, gid[at][1:] != gid[at][:-1]]) if len(at) else np.zeros(0, dtype="int64")
    first = at[starts]
    head = items.iloc[first].assign(_gid=gid[first], _kind=kind[first]).set_index("_gid")
    # reference: the group's own, or for an amount pair the oldest item's that has one
    ref = items["reference"].to_numpy(dtype=object)
    has = at[ref[at] != ""]
    ref_first = has[np.r_[True, gid[has][1:] != gid[has][:-1]]] if len(has) else has
    with_ref = pd.Series(ref[ref_first], index=gid[ref_first], dtype=object)
    g = head.drop(columns=["amount", "amount_acct", "reference"])
    g["reference"] = with_ref.reindex(g.index).fillna("").astype(str)
    amounts = items["amount_acct"].to_numpy(dtype="int64")[at]
    g["diff"] = np.add.reduceat(amounts, starts).astype("int64") if len(at) else np.zeros(0, dtype="int64")
    g["blocked"] = False
    return g


def _check_accounts(ctx: CloseContext, groups: pd.DataFrame) -> list[Finding]:
    """An error for each realized account that is needed but not set; the groups that need
    it are marked ``blocked`` (left open) so the ledger still adds up."""
    st = ctx.book.settings
    cur = ctx.book.entity_currency()
    out = []
    for key, need in (("realized_gain_account", groups["diff"] < 0), ("realized_loss_account", groups["diff"] > 0)):
        if getattr(st, key) or not need.any():
            continue
        groups.loc[need, "blocked"] = True
        per_entity = groups[need].groupby("entity")["diff"].agg(["sum", "count"])
        what = "; ".join(f"{e}: {int(n)} group(s), {fmt(int(t), scale_of(cur.get(e, '')))} {cur.get(e, '')}"
                         for e, (t, n) in per_entity.iterrows())
        label = "gain" if key == "realized_gain_account" else "loss"
        out.append(Finding(
            severity=ERROR, code="settlement-realized-account-missing", value="", **ctx.book.locate_setting(key),
            message=f"Settlement needs {key} (realized FX {label}) but it is not set; the settled groups "
                    f"with a realized {label} were left open ({what}).",
            hint=f"Add a row '{key}' with the account that takes realized exchange {label}es to the "
                 f"Settings sheet, then close the period again."))
    return out


def _number(groups: pd.DataFrame, period_name: str) -> pd.DataFrame:
    """Settlement ids ``S-<period>-000001``, in entity, account, currency, reference, date order."""
    g = groups.sort_values(["entity", "account", "currency", "reference", "date", "_pos"], kind="stable")
    seq = np.arange(1, len(g) + 1, dtype="int64")
    return g.assign(_seq=seq, settlement_id=[f"S-{period_name}-{i:06d}" for i in seq])


def _difference_lines(ctx: CloseContext, groups: pd.DataFrame) -> pd.DataFrame:
    """Two lines per group with an exchange difference, one journal per entity: on the
    settled account (amount 0, amount_acct -S) and on the realized account (S, in the
    entity's accounting currency).  Lines come in settlement id order, which is entity
    order, so they are in (journal, line) order too."""
    dims = tuple(ctx.book.dims)
    st = ctx.book.settings
    per = ctx.period
    g = groups[groups["diff"] != 0]
    if not len(g):
        return make_lines(dims)
    n = len(g)
    diff = g["diff"].to_numpy()
    gain = diff < 0
    entity = g["entity"].to_numpy(dtype=object)
    ids = g["settlement_id"].to_numpy(dtype=object)
    refs = g["reference"].to_numpy(dtype=object)
    where = np.where(refs != "", " (reference " + refs + ")", "")
    k = g.groupby("entity", sort=False).cumcount().to_numpy()
    both = lambda a, b: np.column_stack([a, b]).ravel()  # noqa: E731  interleave per group
    text = lambda a: np.asarray(a, dtype=object)  # noqa: E731
    cols = {
        "journal": both(*[("SETL-" + per.name + "-" + entity)] * 2),
        "line": both(2 * k + 1, 2 * k + 2).astype("int64"),
        "date": np.full(2 * n, np.datetime64(per.end, "ns")),
        "entity": both(entity, entity),
        "account": both(text(g["account"]), np.where(gain, st.realized_gain_account, st.realized_loss_account)),
        **{d: both(text(g[d]), text(g[d])) for d in dims},
        "currency": both(text(g["currency"]),
                         text(g["entity"].map(ctx.book.entity_currency()).fillna(g["currency"]))),
        "amount": both(np.zeros(n, dtype="int64"), diff).astype("int64"),
        "amount_acct": both(-diff, diff).astype("int64"),
        "counterparty": both(text(g["counterparty"]), np.full(n, "", dtype=object)),
        "reference": both(refs, refs),
        "journal_type": np.full(2 * n, JOURNAL_TYPE, dtype=object),
        "description": both("Realized FX difference, settlement " + ids + where,
                            np.where(gain, "Realized FX gain, settlement ", "Realized FX loss, settlement ")
                            + ids + where),
        "source": both(*["settlement " + ids] * 2),
    }
    out = pd.DataFrame({c: cols[c] for c in line_columns(dims)})
    out["date"] = out["date"].astype("datetime64[ns]")
    return out


# --- reports -----------------------------------------------------------------------------

def _settled_report(items, gid, kind, groups, lines, dims) -> pd.DataFrame:
    """Each settled item, then its group's difference line, with the settlement id, the
    match kind and the group's realized difference (+ loss, - gain, accounting currency)."""
    cols = line_columns(dims)
    by_gid = groups[["_seq", "settlement_id", "diff", "_kind"]]
    parts = [items[cols + ["origin"]].assign(_seq=by_gid["_seq"].reindex(gid).to_numpy(),
                                             _pos=items["_pos"].to_numpy(),
                                             settlement_id=by_gid["settlement_id"].reindex(gid).to_numpy(),
                                             match=kind, realized_acct=by_gid["diff"].reindex(gid).to_numpy())]
    if len(lines):
        # _difference_lines: one pair per group with a difference, in _seq order, the line on
        # the settled account first
        g = by_gid[by_gid["diff"] != 0]
        parts.append(lines.iloc[0::2][cols].assign(origin="generated", _seq=g["_seq"].to_numpy(),
                                                   _pos=np.iinfo("int64").max,
                                                   settlement_id=g["settlement_id"].to_numpy(),
                                                   match=g["_kind"].to_numpy(), realized_acct=g["diff"].to_numpy()))
    rep = pd.concat(parts, ignore_index=True)
    order = np.lexsort((rep["_pos"].to_numpy(), rep["date"].to_numpy(), rep["_seq"].to_numpy()))
    rep = rep.take(order)
    rep["realized_acct"] = rep["realized_acct"].astype("int64")
    return rep[["settlement_id", "match", *cols, "origin", "realized_acct"]].reset_index(drop=True)


def _unmatched(ctx: CloseContext, open_items: pd.DataFrame) -> tuple[pd.DataFrame, list[Finding]]:
    """Reference groups still open that hold both debits and credits but do not net to
    zero: something was applied to the reference, not all of it.  (A lone invoice waiting
    for its payment is simply open, not unmatched.)"""
    cols = line_columns(ctx.book.dims)
    ref = open_items[open_items["reference"] != ""]
    empty = pd.DataFrame(columns=["settlement_group", *cols, "remaining", "remaining_acct"])
    if not len(ref):
        return empty, []
    g = ref.groupby(GROUP_KEY, sort=False).ngroup().to_numpy()
    a = pd.Series(ref["amount"].to_numpy())
    has_dr = (a > 0).groupby(g).any().to_numpy()
    has_cr = (a < 0).groupby(g).any().to_numpy()
    net = a.groupby(g).sum().to_numpy()
    sel = (has_dr & has_cr & (net != 0))[g]
    if not sel.any():
        return empty, []
    rows = ref[sel]
    gg = rows.groupby(GROUP_KEY, sort=True)
    summary = gg.agg(remaining=("amount", "sum"), remaining_acct=("amount_acct", "sum"),
                     sources=("source", list)).reset_index()
    summary["settlement_group"] = [f"{e}/{ac}/{c}/{r}" for e, ac, c, r in
                                   summary[GROUP_KEY].itertuples(index=False)]
    rep = rows[cols].merge(summary[GROUP_KEY + ["settlement_group", "remaining", "remaining_acct"]], on=GROUP_KEY)
    rep = rep.sort_values(GROUP_KEY + ["date"], kind="stable")
    rep = rep[["settlement_group", *cols, "remaining", "remaining_acct"]].reset_index(drop=True)
    findings = []
    for e, acc, c, r, rem, _, srcs, _ in summary[GROUP_KEY + ["remaining", "remaining_acct", "sources",
                                                              "settlement_group"]].itertuples(index=False):
        shown = ", ".join(srcs[:MAX_SOURCES]) + (f" and {len(srcs) - MAX_SOURCES} more" if len(srcs) > MAX_SOURCES else "")
        file, sheet, cell = _where(ctx, srcs[0])
        findings.append(Finding(
            severity=WARNING, code="settlement-reference-unbalanced", file=file, sheet=sheet, cell=cell,
            column="reference", value=r,
            message=f"Reference {r} on account {acc} of entity {e} does not net to zero: "
                    f"{fmt(int(rem), scale_of(c))} {c} remains open over {len(srcs)} rows ({shown}).",
            hint=f"Post the missing part (payment, credit note or write-off) with reference {r}, or correct "
                 f"the reference on the rows listed; the items stay open until they net to zero."))
    return rep, findings


def _where(ctx: CloseContext, source: str) -> tuple[str, str, str]:
    """File, sheet and reference cell of a ``file!sheet!row`` source ("" when generated)."""
    w = ctx.book.locate_source(source, "reference")
    return w.get("file", ""), w.get("sheet", ""), w.get("cell", "")
