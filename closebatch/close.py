"""The close runner: chains the pure steps of spec section 3 for one period.

:func:`run_close` is pure too: it takes the validated book, the period, and what the ledger
remembers of earlier closes (:class:`History`), and returns a :class:`CloseResult` with every
line posted, the closing balances, each step's result and the blockers of the lock.  Reading
and writing files is :mod:`closebatch.app`'s job.

Order: the period's posted lines (given, scheduled from earlier closes, automatic reversals)
→ journals posted check → settlement → revaluation → subledgers (against the control accounts
as settlement and revaluation left them) → allocation → consolidation → the statements'
checks → year-end close.  Each step sees the ledger as the steps before it left it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from types import MappingProxyType

import numpy as np
import pandas as pd

from . import money
from . import statements as statements_
from .book import Book
from .context import CloseContext, LedgerState, Period
from .core import ERROR, WARNING, Finding, StepResult, balance_key, concat_lines, empty_lines, line_columns, make_lines
from .steps import consolidation

POSTING_TYPES = ("daily", "adjustment")


@dataclass
class History:
    """What the ledger remembers of earlier closes, as the runner needs it."""

    previous: dict | None = None  # frames of the previous period's ledger workbook (Balances, Lines, carry_*)
    scheduled: pd.DataFrame | None = None  # generated lines of earlier closes dated after their period


@dataclass
class CloseResult:
    period: Period
    lines: pd.DataFrame  # every line posted in the period (given and generated, not eliminations)
    balances: pd.DataFrame  # closing balances per balance key, before year-end closing entries
    steps: dict = field(default_factory=dict)  # name -> StepResult
    findings: list = field(default_factory=list)
    blockers: list = field(default_factory=list)  # Finding: what stops the lock
    scheduled: pd.DataFrame | None = None  # generated lines dated after the period
    year_end: pd.DataFrame | None = None  # closing entries (at the year-end period)
    eliminations: pd.DataFrame | None = None  # consolidation-layer lines (group currency)
    posted_inputs: pd.DataFrame | None = None  # the input lines consumed (for fingerprints)
    carry: dict = field(default_factory=dict)  # name -> frame for the next close
    timings: dict = field(default_factory=dict)  # step name -> seconds it took (for the benchmark)

    @property
    def errors(self) -> list:
        return [f for f in self.findings if f.is_error]


def period_of(book: Book, name: str) -> Period:
    p = book.periods.reset_index(drop=True)
    i = int(np.flatnonzero((p["period"] == name).to_numpy())[0])
    r = p.iloc[i]
    return Period(name=name, start=pd.Timestamp(r["start"]), end=pd.Timestamp(r["end"]),
                  fiscal_year=int(r["fiscal_year"]), index=i, year_end=bool(r["year_end"]),
                  year_start=i == 0 or int(p["fiscal_year"].iloc[i - 1]) != int(r["fiscal_year"]))


def _in(df: pd.DataFrame, per: Period, col="date") -> np.ndarray:
    d = df[col]
    return ((d >= per.start) & (d <= per.end)).to_numpy()


def _opening(book: Book, per: Period, history: History) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Balances at the period's start and the open items of settlement accounts."""
    dims = book.dims
    key = balance_key(dims)
    settle = set(book.accounts.loc[book.accounts["settle"], "account"])
    if per.index == 0 or history.previous is None:
        # first period (or earlier periods closed outside closebatch): the opening trial
        # balance plus every posted line dated before the period
        op = book.opening
        before = book.journals[(book.journals["date"] < per.start) & book.journals["posted"]] if len(book.journals) \
            else book.journals
        parts = [op, before]
        items = concat_lines([op[op["account"].isin(settle)], before[before["account"].isin(settle)]], dims)
        bal = _earlier_years_closed(book, per, concat_lines(parts, dims))
        return bal[key + ["amount", "amount_acct"]], items
    prev = history.previous
    parts = [prev["Balances"]]
    if "YearEnd" in prev and len(prev["YearEnd"]):
        parts.append(prev["YearEnd"])
    bal = pd.concat([p[key + ["amount", "amount_acct"]] for p in parts], ignore_index=True)
    bal = bal.groupby(key, as_index=False, sort=True)[["amount", "amount_acct"]].sum()
    items = prev.get("carry_open_items")
    if items is None or not len(items):
        items = empty_lines(dims)
    else:
        items = _as_lines(items, dims)
    return bal, items


def _earlier_years_closed(book: Book, per: Period, lines: pd.DataFrame) -> pd.DataFrame:
    """Revenue/Expense lines of fiscal years before ``per``'s, moved to retained earnings.

    Used when a period starts from the opening trial balance and the posted lines before it
    (no ledger record of the previous close): the income statement of a new fiscal year starts
    at zero, as the year-end close of section 3, step 9 would have left it.  Each such line is
    re-keyed to ``retained_earnings_account`` in the entity's currency, dimensions,
    counterparty and reference dropped (without the setting nothing moves; the year-end close
    reports the missing setting)."""
    re_acct = book.settings.retained_earnings_account
    if not len(lines) or not re_acct:
        return lines
    pers = book.periods
    fy_start = pd.Timestamp(pers.loc[pers["fiscal_year"] == per.fiscal_year, "start"].min())
    types = lines["account"].map(book.account_type())
    known = lines["date"] >= pd.Timestamp(pers["start"].min())  # dated in the calendar: its year is known
    old = (known & (lines["date"] < fy_start) & types.isin(["Revenue", "Expense"])).to_numpy()
    if not old.any():
        return lines
    lines = lines.copy()
    ent_ccy = book.entity_currency()
    lines.loc[old, "account"] = re_acct
    lines.loc[old, "currency"] = lines.loc[old, "entity"].map(ent_ccy).to_numpy()
    lines.loc[old, "amount"] = lines.loc[old, "amount_acct"].to_numpy()
    for c in [*book.dims, "counterparty", "reference"]:
        lines.loc[old, c] = ""
    return lines


def _as_lines(df: pd.DataFrame, dims) -> pd.DataFrame:
    cols = line_columns(dims)
    df = df.copy()
    for c in cols:
        if c not in df:
            df[c] = 0 if c in ("amount", "amount_acct", "line") else ""
    df["date"] = pd.to_datetime(df["date"]).astype("datetime64[ns]")
    return df[cols]


def reversals(lines: pd.DataFrame, dims) -> pd.DataFrame:
    """Automatic reversing entries of lines with ``reverse_on`` (spec section 3, step 7)."""
    src = lines[lines["reverse_on"].notna()]
    if not len(src):
        return empty_lines(dims)
    return make_lines(dims, journal=(src["journal"] + "-R").to_numpy(), line=src["line"].to_numpy(),
                      date=src["reverse_on"].to_numpy(), entity=src["entity"].to_numpy(),
                      account=src["account"].to_numpy(), currency=src["currency"].to_numpy(),
                      amount=-src["amount"].to_numpy(), amount_acct=-src["amount_acct"].to_numpy(),
                      counterparty=src["counterparty"].to_numpy(), reference=src["reference"].to_numpy(),
                      journal_type="reversal", description=("Reversal: " + src["description"]).to_numpy(),
                      source=("reversal of " + src["source"]).to_numpy(), **{d: src[d].to_numpy() for d in dims})


def subledger_differences(ctx: CloseContext, state: LedgerState) -> list[Finding]:
    """Step 3: each AR/AP/Inventory subledger balance against its control account."""
    book, per = ctx.book, ctx.period
    sl = book.subledgers
    if not len(sl):
        return []
    sl = sl[(sl["period"] == "") | (sl["period"] == per.name)]
    if ctx.entities:
        sl = sl[sl["entity"].isin(ctx.entities)]
    bal = state.balances().groupby(["entity", "account"])["amount_acct"].sum()
    ent_ccy = book.entity_currency()
    out = []
    for _, r in sl.iterrows():  # one per subledger row
        ccy = ent_ccy.get(r["entity"], "USD")
        scale = money.scale_of(ccy)
        want = int(money.to_minor([r["balance_acct"]], scale)[0][0])
        got = int(bal.get((r["entity"], r["control_account"]), 0))
        if want != got:
            out.append(book.finding(r, "balance_acct", f"The {r['module']} subledger of {r['entity']} shows "
                                    f"{money.fmt(want, scale)} {ccy} but control account {r['control_account']} holds "
                                    f"{money.fmt(got, scale)}: a difference of {money.fmt(want - got, scale)}.",
                                    hint="Find the postings missing on one side (or the wrong subledger total) and "
                                         "correct them; the period cannot be put on hold until they agree.",
                                    severity=WARNING, code="subledger-difference"))
    return out


def period_lines(book: Book, per: Period, history: History, entities: tuple = ()) -> tuple:
    """The period's lines as the steps start: ``(given, posted, later)``, ``given`` the
    posted input lines dated in the period, ``posted`` those plus the automatic reversals and
    the lines earlier closes scheduled into the period (the first lines of
    :attr:`CloseResult.lines`, whatever the steps post), ``later`` the reversals dated after
    the period (scheduled for their own)."""
    dims = book.dims
    j = book.journals
    if entities:
        j = j[j["entity"].isin(entities)]
    inside = _in(j, per) if len(j) else np.zeros(0, bool)
    given = j[inside & j["posted"].to_numpy()]
    revs = reversals(given, dims)
    scheduled_in = history.scheduled if history.scheduled is not None else empty_lines(dims)
    if len(scheduled_in) and entities:
        scheduled_in = scheduled_in[scheduled_in["entity"].isin(entities)]
    generated_now = concat_lines([revs, scheduled_in], dims)
    now = generated_now[_in(generated_now, per)] if len(generated_now) else generated_now
    later = concat_lines([revs[revs["date"] > per.end]], dims) if len(revs) else empty_lines(dims)
    return given, concat_lines([given, now], dims), later


def run_close(book: Book, per: Period, history: History, user: str = "", entities: tuple = (),
              stage=None, lines: tuple | None = None) -> CloseResult:
    """Close ``per``: every step of :data:`closebatch.registry.STEPS`, in the spec's order, on
    the ledger as the steps before it left it.  ``stage(name)``, if given, hears as each step
    starts (progress on a terminal).

    The runner builds the period's posted lines (the given lines, the lines earlier closes
    scheduled into the period, the automatic reversals), then runs each step: the lines a step
    posts in the period enter the ledger the next step sees (those dated later are scheduled
    for their own period); a step that fails becomes an error naming it, never a crash; each
    step's time is recorded (``CloseResult.timings``).  Last, each step's ``finish`` completes
    its result with what the later steps did.  ``lines``: :func:`period_lines` of the same
    arguments, when the caller has them already."""
    from .registry import STEPS

    stage = stage or (lambda name: None)
    dims = book.dims
    ctx = CloseContext(book=book, period=per, user=user, entities=tuple(entities))
    opening, open_items = _opening(book, per, history)
    settle = frozenset(book.accounts.loc[book.accounts["settle"], "account"])

    if entities:
        opening = opening[opening["entity"].isin(entities)]
        open_items = open_items[open_items["entity"].isin(entities)]
    given, posted, later = lines if lines is not None else period_lines(book, per, history, entities)
    state = LedgerState(dims, opening, posted, _carried(history), settle, open_items)

    steps: dict[str, StepResult] = {}
    timings: dict[str, float] = {}
    findings: list[Finding] = []
    blockers: list[Finding] = []
    for st in STEPS:
        if st.run is None:
            continue
        if st.stage:
            stage(st.stage)
        started = time.perf_counter()
        res = _run_step(st, replace(ctx, earlier=MappingProxyType(dict(steps))), state)
        timings[st.name] = time.perf_counter() - started
        steps[st.name] = res
        if st.posts and len(res.lines):
            dated_now = _in(res.lines, per)
            later = concat_lines([later, res.lines[~dated_now]], dims)
            state = state.add(res.lines[dated_now])
    done = replace(ctx, earlier=MappingProxyType(dict(steps)))
    for st in STEPS:
        if st.finish is not None and st.name in steps:
            steps[st.name] = st.finish(done, steps[st.name], steps)
    carry = {}
    for st in STEPS:
        if st.name in steps:
            findings.extend(steps[st.name].findings)
            blockers.extend(f for f in steps[st.name].findings if f.code in st.blocks)
            carry.update(steps[st.name].carry)
    empty = StepResult(empty_lines(dims))
    return CloseResult(period=per, lines=state.lines, balances=state.balances(), steps=steps, findings=findings,
                       blockers=blockers, scheduled=later, year_end=steps.get("year_end", empty).lines,
                       eliminations=steps.get("consolidation", empty).lines, posted_inputs=given, carry=carry,
                       timings=timings)


def _run_step(st, ctx: CloseContext, state: LedgerState) -> StepResult:
    """``st.run(ctx, state)``; an exception becomes an error naming the step (the close stops
    before writing anything, and says why), never a traceback."""
    try:
        return st.run(ctx, state)
    except money.AmountOverflow as e:
        message, hint, code = (f"The {st.title.lower()} step of {ctx.period.name} cannot convert an amount: {e}.",
                               "Correct the rate (or the amount) in the books.", "amount-overflow")
    except Exception as e:  # noqa: BLE001 - a step's bug must reach the user as a finding
        message, hint, code = (f"The {st.title.lower()} step of {ctx.period.name} stopped: {type(e).__name__}: "
                               f"{str(e)[:300]}.", "This is a fault of closebatch, not of the books: report it with "
                               "the books folder (or the smallest books that show it).", "step-failed")
    return StepResult(empty_lines(ctx.book.dims), [Finding(ERROR, message, hint=hint, code=code, value=st.name)])


def journals_posted(ctx: CloseContext, state: LedgerState) -> StepResult:
    """Step 2: unposted lines dated in the period are listed; they block the lock."""
    book, per = ctx.book, ctx.period
    j = book.journals
    if ctx.entities and len(j):
        j = j[j["entity"].isin(ctx.entities)]
    inside = _in(j, per) if len(j) else np.zeros(0, bool)
    unposted = j[inside & ~j["posted"].to_numpy()] if len(j) else j
    out = []
    for _, r in unposted.drop_duplicates("journal").iterrows():  # one finding per unposted journal
        n = int((unposted["journal"] == r["journal"]).sum())
        out.append(book.finding(r, "posted", f"Journal {r['journal']} ({n} line{'s' * (n != 1)}) dated in "
                                f"{per.name} is not posted.", hint="Post it (posted = Y) or move it to a later "
                                "period before the period can be put on hold.", severity=WARNING, code="unposted"))
    given = int(state.lines["journal_type"].isin(POSTING_TYPES).sum()) if len(state.lines) else 0
    return StepResult(empty_lines(book.dims), out, figures={"lines_posted": given, "unposted_journals": len(out)})


def subledgers(ctx: CloseContext, state: LedgerState) -> StepResult:
    """Step 3: each subledger against its control account, as settlement and revaluation left
    it (a subledger is kept at period-end rates)."""
    found = subledger_differences(ctx, state)
    sl = ctx.book.subledgers
    n = int(((sl["period"].fillna("") == "") | (sl["period"] == ctx.period.name)).sum()) if len(sl) else 0
    return StepResult(empty_lines(ctx.book.dims), found, figures={"subledger_balances": n, "differences": len(found)})


def consolidation_step(ctx: CloseContext, state: LedgerState) -> StepResult:
    """Step 8, consolidation (:func:`closebatch.steps.consolidation.consolidate`).  At the
    calendar's first close nothing is carried yet, so an intercompany difference the opening
    balances already hold would be charged to the first period's profit: it is given to the
    step as arisen in earlier fiscal years (the ``consolidation_profit`` of a consolidation
    of the opening balances, :func:`opening_consolidation`), so the step moves it to retained
    earnings, where the opening balance sheet has it.  (Goodwill or a bargain purchase gain is
    measured at the first close that consolidates the investment: it arises then.)  The
    opening consolidation is shared with the statements (``StepResult.shared``)."""
    if not _seeds(ctx.period, state):
        return consolidation.consolidate(ctx, state)
    found: list[Finding] = []
    op = opening_consolidation(ctx.book, ctx.period, ctx.entities, found)
    seed = op[5] if op is not None else None
    if seed is not None and len(seed):  # intercompany differences: a bargain purchase arises at this close
        el = ctx.book.eliminations
        ic = set(el.loc[el["type"].astype(str).str.strip().str.lower() == "intercompany", "rule"].astype(str)) \
            if len(el) and {"rule", "type"} <= set(el.columns) else set()
        seed = seed[seed["rule"].astype(str).isin(ic).to_numpy()]
    if seed is not None and len(seed):
        seed = seed.assign(fiscal_year=ctx.period.fiscal_year - 1, period=OPENING_PERIOD)
        state = state.with_carried({**state.carried, consolidation.PROFIT_CARRY: seed})
    res = consolidation.consolidate(ctx, state)
    return replace(res, shared={"opening_consolidation": (op, found), "seeded": _cumulative(seed)})


def _seeds(per: Period, state: LedgerState) -> bool:
    """Whether the consolidation of ``per`` starts from the opening balances' consolidation
    income and expense (the calendar's first close, with nothing carried)."""
    c = state.carried.get(consolidation.PROFIT_CARRY)
    return per.index == 0 and (c is None or not len(c))


def _cumulative(carry: pd.DataFrame | None) -> int:
    """The consolidation income and expense measured to date in a ``consolidation_profit`` carry."""
    if carry is None or not len(carry):
        return 0
    return int(pd.to_numeric(carry.loc[carry["figure"] == "cumulative", "amount_group"]).sum())


def statements_check(ctx: CloseContext, state: LedgerState) -> StepResult:
    """Step 9, statements: the period's figures of the statements of movements (carried, so
    later closes compare with them) and every statement's checks on the period's own figures
    (a failed check is an error, so nothing unbalanced is ever written; the workbook with its
    comparatives is written by the app; where there is nothing to compare with, these are its
    statements, ``shared["statements"]``).  The consolidated balances are carried in the ledger,
    as the group's comparatives of later closes."""
    book, per = ctx.book, ctx.period
    cons = ctx.earlier.get("consolidation") or StepResult(empty_lines(book.dims))
    group = cons.reports.get("Consolidated")
    findings: list[Finding] = []
    gm = None
    if statements_.group_balances(cons) is not None:
        gm = _group_movement(ctx, state, cons, findings)
    flows = statements_.period_flows(book, per, state.balances(), state.lines, group=gm,
                                     previous=state.carried.get(statements_.FLOWS), entities=ctx.entities)
    sts, st_findings = statements_.build(book, per, state.balances(), group=statements_.group_balances(cons),
                                         movement=state.lines, entities=ctx.entities, flows=flows)
    findings += st_findings
    findings += statements_.flow_findings(book, per, flows, gm)
    carry = {statements_.FLOWS: flows}
    if group is not None and len(group):
        carry["group_balances"] = group[["account", "account_name", "type", "balance_group"]].reset_index(drop=True)
    figures = {"statements": len(sts), "balanced": "yes" if all(s.balanced for s in sts) else "no"}
    shared = {} if ctx.entities else {"statements": sts}  # the workbook's, where nothing earlier compares
    return StepResult(empty_lines(book.dims), findings, figures=figures, carry=carry, shared=shared)


def _translation_frame(df: pd.DataFrame | None, acct: str, group: str) -> pd.DataFrame:
    cols = ["entity", "account", "currency", "translation", "acct", "group"]
    if df is None or not len(df):
        return pd.DataFrame({c: pd.Series([], dtype="int64" if c in ("acct", "group") else object) for c in cols})
    out = pd.DataFrame({"entity": df["entity"].astype(str).to_numpy(), "account": df["account"].astype(str).to_numpy(),
                        "currency": df["currency"].to_numpy() if "currency" in df else "",
                        "translation": df["translation"].to_numpy() if "translation" in df else "",
                        "acct": pd.to_numeric(df[acct], errors="coerce").fillna(0).astype("int64").to_numpy(),
                        "group": pd.to_numeric(df[group], errors="coerce").fillna(0).astype("int64").to_numpy()})
    return out


def _group_movement(ctx: CloseContext, state: LedgerState, cons: StepResult, findings: list):
    """What the group's statements of movements need (:class:`closebatch.statements.GroupMovement`):
    the consolidated balances now and at the period's start (the previous close's, carried;
    at a fiscal year's start with the year's profit in retained earnings; at the calendar's first
    period a consolidation of the opening balances, :func:`opening_consolidation`), the
    translated balances at both ends, the period's average rates and translation differences.
    None, with a warning, when the start is not known (the previous period was closed outside
    closebatch)."""
    book, per = ctx.book, ctx.period
    gcur = book.settings.group_currency or _top_currency(book)
    close = cons.reports["Consolidated"].groupby("account")["balance_group"].sum().astype("int64")
    cta = cons.reports.get("CTA")
    oci = int(cta["cta_movement"].sum()) if cta is not None and len(cta) else 0
    oci_nci = int(cta["cta_nci_movement"].sum()) if cta is not None and len(cta) else 0
    now = _translation_frame(cons.reports.get("Translation"), "balance_acct", "amount_group")
    first, gap, gap_nci, start_diff = per.index == 0, 0, 0, 0
    prev = state.carried.get("group_balances")
    if first:
        made = cons.shared.get("opening_consolidation")
        if made is not None:
            op, found = made
            findings += found
        else:
            op = opening_consolidation(book, per, ctx.entities, findings)
        if op is None:
            return None
        opening, was, gap, gap_nci, start_diff, _ = op
        start_diff -= int(cons.shared.get("seeded", 0))  # what the consolidation moved to retained earnings
    elif prev is not None and len(prev) and "balance_group" in prev:
        opening = pd.to_numeric(prev["balance_group"], errors="coerce").fillna(0).astype("int64")
        opening = pd.Series(opening.to_numpy(), index=prev["account"].astype(str).to_numpy()).groupby(level=0).sum()
        if per.year_start:
            opening = statements_.roll_year(opening, book)
        was = _translation_frame(state.carried.get(consolidation.CARRY), "amount_acct", "amount_group")
    else:
        findings.append(Finding(WARNING, f"The group's comprehensive income, changes in equity and cash flow "
                                f"statements of {per.name} are not made: the consolidated balances at its start "
                                "(the previous close's) are not in the ledger.", hint="Close the previous period "
                                "with closebatch first (reopen and close it again).", code="statements-no-opening"))
        return None
    foreign = sorted({c for c in book.entities["currency"] if c != gcur})
    avg = {}
    if foreign:
        from .rates import lookup
        res = lookup(book.rates, foreign, [gcur] * len(foreign), per.end, "average", period_start=per.start,
                     period_end=per.end)
        avg = {c: (float(r) if f else np.nan, bool(i)) for c, r, i, f in zip(foreign, res["rate"], res["inverse"],
                                                                              res["found"])}
    return statements_.GroupMovement(close=close, open=opening.astype("int64"), translation=now,
                                     translation_open=was, average=avg, oci=oci, oci_nci=oci_nci, first=first,
                                     start_differences=start_diff, reserve_gap=gap, reserve_gap_nci=gap_nci)


def _top_currency(book: Book) -> str:
    top = book.entities[book.entities["parent"].fillna("") == ""]
    return str(top["currency"].iloc[0]) if len(top) else ""


OPENING_PERIOD = "opening"


def opening_consolidation(book: Book, first: Period, entities=(), findings: list | None = None):
    """The consolidated balance sheet at the start of the calendar: the consolidation step run
    on the opening balances (the TrialBalance and the posted lines dated before the first
    period), as of the day before the calendar starts.

    Assets and liabilities of a foreign entity are translated at the closing rate of that day
    (Rates); where Rates has none, at the rate at which the entity's opening equity stands in
    the group (its equity at HistoricalRates plus its opening translation reserve, over its
    equity in its own currency), the rate the consolidation's first translation difference is
    measured from.  Returns (balances with the opening profit or loss in retained earnings,
    the translated balances, the reserve gap (owners' part and the non-controlling interests'),
    the profit or loss of the opening consolidation layer, and its ``consolidation_profit``
    carry), or None when it cannot be made."""
    findings = findings if findings is not None else []
    day = first.start - pd.Timedelta(days=1)
    p0 = Period(name=OPENING_PERIOD, start=day, end=day, fiscal_year=first.fiscal_year, index=-1, year_end=False,
                year_start=True)
    opening, _ = _opening(book, first, History())
    if entities:
        opening = opening[opening["entity"].isin(entities)]
    settle = frozenset(book.accounts.loc[book.accounts["settle"], "account"])
    state = LedgerState(book.dims, opening, empty_lines(book.dims), {}, settle)
    ctx = CloseContext(book=book, period=p0, entities=tuple(entities))
    try:
        res = consolidation.consolidate(ctx, state, detail=False)
        missing = sorted({f.value.split("/")[0] for f in res.findings if f.code == "rate-missing" and f.value})
        if missing:
            book = _implied_rates(book, res, missing, day, first)
            res = consolidation.consolidate(CloseContext(book=book, period=p0, entities=tuple(entities)), state,
                                            detail=False)
    except Exception as e:  # noqa: BLE001 - the statements go on without the group's opening
        findings.append(Finding(WARNING, f"The group's opening balance sheet at {day.date()} could not be "
                                f"consolidated ({type(e).__name__}: {str(e)[:160]}); the group's statements of "
                                "movements of the first period are not made.", code="statements-no-opening"))
        return None
    if "Consolidated" not in res.reports:
        return None
    bal = res.reports["Consolidated"].groupby("account")["balance_group"].sum().astype("int64")
    pl = set(book.accounts.loc[book.accounts["type"].isin(["Revenue", "Expense"]), "account"])
    layer = res.lines
    start_diff = int(layer.loc[layer["account"].isin(pl), "amount"].sum()) if len(layer) else 0
    cta = res.reports.get("CTA")
    total_gap = int(cta["cta_movement"].sum()) if cta is not None and len(cta) else 0
    gap_nci = int(cta["cta_nci_movement"].sum()) if cta is not None and len(cta) else 0
    gap = total_gap - gap_nci
    if total_gap and cta is not None:
        gcur = book.settings.group_currency or _top_currency(book)
        sc = money.scale_of(gcur)
        who = ", ".join(f"{r['entity']} {money.fmt(-int(r['cta_total']), sc)} (HistoricalRates "
                        f"{money.fmt(-int(r['cta_at_start']), sc)})" for _, r in cta.iterrows() if r["cta_movement"])
        many = len(cta) * 2 + 2  # a minor unit of rounding per translated balance is no news
        if abs(total_gap) > many:
            findings.append(Finding(WARNING, f"The group's opening balance sheet at {day.date()}, translated at the "
                                    f"closing rates of that day, holds a translation reserve (credit) of {who} "
                                    f"{gcur}: the opening reserve given differs by {money.fmt(-total_gap, sc)} "
                                    f"{gcur}. The "
                                    "first period's other comprehensive income is measured from the reserve given, "
                                    "so the difference shows in the first period's changes in equity.",
                                    hint="Give each foreign entity's translation reserve at the start of the calendar "
                                    "as a HistoricalRates row (translation_reserve_account, amount_group).",
                                    sheet="HistoricalRates", code="opening-reserve-differs",
                                    value=money.fmt(-total_gap, sc)))
    return statements_.roll_year(bal, book), _translation_frame(res.reports.get("Translation"), "balance_acct",
                                                                "amount_group"), gap, gap_nci, start_diff, \
        res.carry.get(consolidation.PROFIT_CARRY)


def _implied_rates(book: Book, res: StepResult, currencies: list, day, first: Period) -> Book:
    """``book`` with a closing (and average) rate on ``day`` for each of ``currencies``: the rate
    at which the entities' opening equity stands in the group (see :func:`opening_consolidation`),
    else the first period's closing rate."""
    import dataclasses

    from .rates import lookup

    gcur = book.settings.group_currency or _top_currency(book)
    cta = res.reports.get("CTA")
    rows = []
    for cur in currencies:
        rate = np.nan
        if cta is not None and len(cta):
            c = cta[cta["currency"] == cur]
            acct = int(c["opening_net_assets_acct"].sum())
            grp = int(c["opening_net_assets_group"].sum()) - int(c["cta_at_start"].sum())
            if acct:
                rate = (grp / 10 ** money.scale_of(gcur)) / (acct / 10 ** money.scale_of(cur))
        if not np.isfinite(rate) or rate <= 0:
            r = lookup(book.rates, [cur], [gcur], first.end, "closing")
            if bool(r["found"].iloc[0]):
                rate = float(r["rate"].iloc[0])
                rate = 1.0 / rate if bool(r["inverse"].iloc[0]) else rate
        if np.isfinite(rate) and rate > 0:
            for rtype in ("closing", "average"):
                rows.append({"from": cur, "to": gcur, "date": day, "rate": rate, "type": rtype,
                             "source": "implied by the opening equity at HistoricalRates"})
    if not rows:
        return book
    extra = pd.DataFrame(rows)
    rates = pd.concat([book.rates, extra], ignore_index=True) if len(book.rates) else extra
    rates["date"] = pd.to_datetime(rates["date"]).astype("datetime64[ns]")
    return dataclasses.replace(book, rates=rates)


def _carried(history: History) -> dict:
    if history.previous is None:
        return {}
    return {k[len("carry_"):]: v for k, v in history.previous.items() if k.startswith("carry_")}
