"""Close step 5: foreign-currency revaluation at the period end (unrealized FX).

A balance held in a currency other than the entity's accounting currency is carried at the
rates of the days it was booked.  At the period end it is restated at the closing rate::

    revalued_acct = round(balance × rate, minor unit of the accounting currency)
    adjustment    = revalued_acct − balance_acct

A balance is kept per entity, account, dimension values, counterparty, currency and, on
``settle`` accounts only, open item (``reference``), exactly as
:meth:`closebatch.context.LedgerState.balances` keeps it.  Only accounts with
``revalue = Y`` are revalued; the rate type is the account's ``revaluation_rate_type`` or,
when blank, the ``revaluation_rate_type`` setting (``closing`` by default).

Each non-zero adjustment posts two lines in the entity's journal ``REV-<period>-<entity>``:

* on the balance itself (same dimensions, counterparty and reference), in the transaction
  currency with a zero transaction amount and ``amount_acct = adjustment``;
* against ``unrealized_gain_account`` (adjustment > 0) or ``unrealized_loss_account``
  (adjustment < 0), in the accounting currency, keeping the balance's dimension values (so
  FX results can be read per department) with blank counterparty and reference.

There is no netting across balances, so every journal balances by construction.
``balance_acct`` already contains earlier revaluations, so without reversal the next close
posts only the change.  With ``reverse_revaluation`` the same lines, negated, are also
returned as journal ``REVREV-<period>-<entity>`` dated the day after the period end: the
runner posts them in the next period, whose revaluation then starts from the unrevalued
balance.  Either way the revalued balance at every period end is the same.

Balances that are zero in both currencies are not revalued (nothing to restate).  A balance
that is zero in its transaction currency but not in accounting currency is revalued to zero
without needing a rate.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..context import CloseContext, LedgerState
from ..core import ERROR, WARNING, Finding, StepResult, balance_key, concat_lines, empty_lines, make_lines
from ..money import convert, scales
from ..rates import lookup

JOURNAL_TYPE = "revaluation"
REVERSAL_TYPE = "reversal"


def revalue(ctx: CloseContext, state: LedgerState) -> StepResult:
    """Revalue every foreign-currency balance of a ``revalue`` account at the period end.

    Returns the revaluation lines (and their reversal, dated the next day, when
    ``reverse_revaluation`` is set), findings (missing rate: error; closing rate taken from
    spot or dated before the period: warning; missing gain/loss account: error), the
    ``Revaluation`` and ``Totals`` report tables and the step's figures.
    """
    dims = tuple(state.dims)
    key = balance_key(dims)
    bal = _candidates(ctx, state)
    findings: list[Finding] = []

    bal, rate_findings = _with_rates(ctx, bal)
    findings += rate_findings

    need = bal["amount"].to_numpy() != 0
    found = bal["found"].to_numpy(dtype=bool)
    bal = bal[found | ~need].reset_index(drop=True)  # missing rate: reported, nothing posted
    found = bal["found"].to_numpy(dtype=bool)

    rate = np.where(found, bal["rate"].to_numpy(dtype="float64"), 1.0)  # amount is 0 where not found
    revalued = convert(bal["amount"].to_numpy(dtype="int64"), rate, scales(bal["currency"]),
                       scales(bal["entity_currency"]), bal["inverse"].to_numpy(dtype=bool))
    adjustment = revalued - bal["amount_acct"].to_numpy(dtype="int64")

    report = pd.DataFrame({
        **{c: bal[c].to_numpy() for c in key if c != "currency"},
        "currency": bal["currency"].to_numpy(),
        "entity_currency": bal["entity_currency"].to_numpy(),
        "balance": bal["amount"].to_numpy(dtype="int64"),
        "balance_acct": bal["amount_acct"].to_numpy(dtype="int64"),
        "rate": np.where(found, bal["rate"].to_numpy(dtype="float64"), np.nan),
        "rate_type": bal["used_type"].to_numpy(),
        "inverse": bal["inverse"].to_numpy(dtype=bool),
        "rate_date": bal["rate_date"].to_numpy(),
        "rate_source": bal["source"].to_numpy(),
        "revalued_acct": revalued.astype("int64"),
        "adjustment": adjustment.astype("int64"),
    })

    post = adjustment != 0
    settings = ctx.book.settings
    for sign, setting_key, word in ((1, "unrealized_gain_account", "gain"),
                                    (-1, "unrealized_loss_account", "loss")):
        hit = post & (np.sign(adjustment) == sign)
        if hit.any() and not str(getattr(settings, setting_key) or "").strip():
            findings.append(_missing_account(ctx, setting_key, word, report[hit]))
            post &= ~hit
    report["posted"] = post
    _explain(report, settings)

    lines = _lines(ctx, report[post].reset_index(drop=True), dims)
    if settings.reverse_revaluation and len(lines):
        lines = concat_lines([lines, _reversal(ctx, lines)], dims)

    totals = _totals(report)
    figures = {
        "balances_revalued": int(len(report)),
        "gains": {e: int(v) for e, v in zip(totals["entity"], totals["gains"])},
        "losses": {e: int(v) for e, v in zip(totals["entity"], totals["losses"])},
    }
    return StepResult(lines=lines, findings=findings,
                      reports={"Revaluation": report, "Totals": totals}, figures=figures)


# --------------------------------------------------------------------------- selection

def _candidates(ctx: CloseContext, state: LedgerState) -> pd.DataFrame:
    """Balances to revalue: revalue accounts, entities in scope, foreign currency, not zero.

    Adds ``entity_currency`` and ``rate_type`` (the account's, else the setting's)."""
    book = ctx.book
    bal = state.balances()
    if ctx.entities:
        bal = bal[bal["entity"].isin(ctx.entities)]
    acc = book.accounts
    revalue_col = acc["revalue"].fillna(False).astype(bool) if "revalue" in acc else pd.Series(False, index=acc.index)
    acc = acc.loc[revalue_col]
    own_type = (acc["revaluation_rate_type"] if "revaluation_rate_type" in acc
                else pd.Series("", index=acc.index)).fillna("").astype(str).str.strip().str.lower()
    default_type = (book.settings.revaluation_rate_type or "closing").strip().lower() or "closing"
    rate_type = dict(zip(acc["account"], own_type.where(own_type != "", default_type)))

    bal = bal[bal["account"].isin(rate_type.keys())]
    bal = bal.assign(entity_currency=bal["entity"].map(book.entity_currency()),
                     rate_type=bal["account"].map(rate_type))
    # an entity missing from Entities is a validation error, not ours to report again
    foreign = bal["entity_currency"].notna() & (bal["currency"] != bal["entity_currency"])
    nonzero = (bal["amount"] != 0) | (bal["amount_acct"] != 0)
    return bal[foreign & nonzero].sort_values(balance_key(state.dims), kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- rates

def _with_rates(ctx: CloseContext, bal: pd.DataFrame) -> tuple[pd.DataFrame, list[Finding]]:
    """Look each (currency, entity currency, rate type) up once and attach the result."""
    per = ctx.period
    triple = ["currency", "entity_currency", "rate_type"]
    q = bal[triple].drop_duplicates().reset_index(drop=True)
    parts = []
    for rtype in sorted(q["rate_type"].unique()):  # one vectorised lookup per rate type
        sub = q[q["rate_type"] == rtype].reset_index(drop=True)
        got = lookup(ctx.book.rates, sub["currency"].to_numpy(), sub["entity_currency"].to_numpy(),
                     pd.Timestamp(per.end).to_datetime64(), rtype,
                     period_start=per.start, period_end=per.end)
        parts.append(pd.concat([sub, got.reset_index(drop=True)], axis=1))
    cols = ["rate", "inverse", "rate_date", "source", "used_type", "found", "fallback", "stale"]
    if parts:
        rates = pd.concat(parts, ignore_index=True)
    else:
        rates = pd.DataFrame({c: pd.Series([], dtype=object) for c in triple + cols})
    out = bal.merge(rates, on=triple, how="left", sort=False)
    out["found"] = out["found"].fillna(False).astype(bool)
    out["inverse"] = out["inverse"].fillna(False).astype(bool)
    out["fallback"] = out["fallback"].fillna(False).astype(bool)
    out["stale"] = out["stale"].fillna(False).astype(bool)
    out["source"] = out["source"].fillna("").astype(str)
    out["used_type"] = out["used_type"].fillna("").astype(str)
    out["rate_date"] = pd.to_datetime(out["rate_date"]).astype("datetime64[ns]")
    return out, _rate_findings(ctx, out)


def _rate_findings(ctx: CloseContext, bal: pd.DataFrame) -> list[Finding]:
    """One finding per pair and rate type (missing), or per rate row used (fallback, stale)."""
    per = ctx.period
    end = f"{pd.Timestamp(per.end):%Y-%m-%d}"
    start = f"{pd.Timestamp(per.start):%Y-%m-%d}"
    used = bal[bal["amount"] != 0]
    out: list[Finding] = []

    missing = used[~used["found"]]
    for (cur, acct, rtype), g in missing.groupby(["currency", "entity_currency", "rate_type"], sort=True):
        ents = ", ".join(sorted(g["entity"].unique()))
        pair = f"{cur}→{acct}"
        also = " nor a spot rate" if rtype == "closing" else ""
        if rtype == "average":
            when = f"dated between {start} and {end}"
        else:
            when = f"dated on or before {end}"
        article = "an" if rtype[:1] in "aeiou" else "a"
        out.append(Finding(
            severity=ERROR, code="revaluation-rate-missing", sheet="Rates", value=pair,
            message=(f"No {rtype} rate for {pair} {when} (nor the inverse {acct}→{cur}{',' if also else ''}"
                     f"{also}): {len(g)} balance(s) of {ents} cannot be revalued at the period end {end}."),
            hint=f"add {article} {rtype} rate for {pair} {when} to a Rates sheet"))

    fb = used[used["found"] & used["fallback"]].drop_duplicates(["currency", "entity_currency", "source"])
    for r in fb.itertuples(index=False):  # one per rate row, not per balance
        pair = f"{r.currency}→{r.entity_currency}"
        out.append(Finding(
            severity=WARNING, code="revaluation-closing-from-spot", value=pair,
            message=(f"No closing rate for {pair} dated on or before {end}; revalued at the spot rate "
                     f"{_rate_text(r.rate, r.inverse)} of {pd.Timestamp(r.rate_date):%Y-%m-%d} instead."),
            hint=f"add a closing rate for {pair} dated {end} to a Rates sheet",
            **_rate_where(ctx, r.source, "type")))

    st = used[used["found"] & used["stale"]].drop_duplicates(["currency", "entity_currency", "source"])
    for r in st.itertuples(index=False):
        pair = f"{r.currency}→{r.entity_currency}"
        out.append(Finding(
            severity=WARNING, code="revaluation-rate-stale", value=f"{pd.Timestamp(r.rate_date):%Y-%m-%d}",
            message=(f"The latest closing rate for {pair} ({_rate_text(r.rate, r.inverse)}) is dated "
                     f"{pd.Timestamp(r.rate_date):%Y-%m-%d}, before the period start {start}; "
                     f"it was used to revalue at {end}."),
            hint=f"add a closing rate for {pair} dated {end} to a Rates sheet",
            **_rate_where(ctx, r.source, "date")))
    return out


def _rate_where(ctx: CloseContext, source: str, column: str) -> dict:
    """File, sheet and cell of the Rates row whose ``source`` is given."""
    rates = ctx.book.rates
    if {"_file", "_sheet", "_row"} <= set(rates.columns) and "source" in rates:
        hit = rates[rates["source"] == source]
        if len(hit):
            return ctx.book.locate(hit.iloc[0], column)
    return ctx.book.locate_source(source, column, sheet="Rates")


def _missing_account(ctx: CloseContext, key: str, word: str, rows: pd.DataFrame) -> Finding:
    book = ctx.book
    where = book.locate_setting(key)
    ents = ", ".join(sorted(rows["entity"].unique()))
    return Finding(
        severity=ERROR, code="revaluation-account-missing", **where,
        message=(f"Setting {key} is not given, but revaluation gives an unrealized {word} on "
                 f"{len(rows)} balance(s) of {ents}; they were not posted."),
        hint=f"add a Settings row with key {key} and, as value, the account for unrealized FX "
             f"{'gains' if word == 'gain' else 'losses'} (e.g. a Revenue/Expense account)")


def _explain(report: pd.DataFrame, settings) -> None:
    """What a reviewer needs to follow each row, added to ``report`` in place:

    * ``rate_applied``: units of the accounting currency per unit of the balance's currency,
      whichever way the Rates row quotes it; ``rate_text`` says it (``1 USD = 6.838635 DKK``);
    * ``rate_quoted``: the Rates row as written (``1 DKK = 0.146228 USD``), so an inverse quote
      is seen for what it is;
    * ``result`` (``gain``, ``loss`` or blank) and ``account_posted``, the unrealized gain or
      loss account the adjustment went to (blank when nothing was posted)."""
    rate = report["rate"].to_numpy(dtype="float64")
    inverse = report["inverse"].to_numpy(dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        applied = np.where(inverse, 1.0 / rate, rate)
    report["rate_applied"] = applied
    cur, acct = report["currency"].astype(str).to_numpy(), report["entity_currency"].astype(str).to_numpy()
    report["rate_text"] = [f"1 {c} = {_plain(a)} {e}" if np.isfinite(a) else "" for c, a, e in zip(cur, applied, acct)]
    report["rate_quoted"] = [("" if not np.isfinite(r) else f"1 {e} = {_plain(r)} {c}" if inv else
                              f"1 {c} = {_plain(r)} {e}") for c, r, e, inv in zip(cur, rate, acct, inverse)]
    adj = report["adjustment"].to_numpy(dtype="int64")
    posted = report["posted"].to_numpy(dtype=bool)
    report["result"] = np.where(adj > 0, "gain", np.where(adj < 0, "loss", ""))
    gain, loss = str(settings.unrealized_gain_account or ""), str(settings.unrealized_loss_account or "")
    report["account_posted"] = np.where(posted & (adj > 0), gain, np.where(posted & (adj < 0), loss, ""))


def _plain(x: float, digits: int = 6) -> str:
    """A rate as a reader writes it: six decimals at most, no trailing zeros (6.838635, 0.6)."""
    return np.format_float_positional(round(float(x), digits), trim="-")


# --------------------------------------------------------------------------- lines

def _lines(ctx: CloseContext, rows: pd.DataFrame, dims: tuple[str, ...]) -> pd.DataFrame:
    """Two lines per adjustment: on the balance, and against the gain/loss account."""
    if not len(rows):
        return empty_lines(dims)
    per = ctx.period
    settings = ctx.book.settings
    n = len(rows)
    adj = rows["adjustment"].to_numpy(dtype="int64")
    journal = ("REV-" + per.name + "-" + rows["entity"].astype(str)).to_numpy()
    rank = rows.groupby("entity", sort=False).cumcount().to_numpy()
    desc = ("Revaluation of " + rows["currency"].astype(str) + " "
            + _amount_text(rows["balance"].to_numpy(), scales(rows["currency"]))
            + (" at " + _rate_texts(rows["rate"], rows["inverse"]) + " (" + rows["rate_type"] + ")")
            .where(rows["rate_type"] != "", " (zero balance, no rate needed)")).to_numpy()
    source = ("revaluation: rate " + rows["rate_source"]
              + np.where(rows["inverse"], " (inverse)", "")).where(rows["rate_source"] != "",
                                                                    "revaluation: zero balance").to_numpy()
    date = pd.Timestamp(per.end)
    common = dict(journal=journal, date=[date] * n, entity=rows["entity"].to_numpy(),
                  journal_type=JOURNAL_TYPE, description=desc, source=source)
    on_balance = make_lines(
        dims, line=2 * rank + 1, account=rows["account"].to_numpy(), currency=rows["currency"].to_numpy(),
        amount=np.zeros(n, dtype="int64"), amount_acct=adj, counterparty=rows["counterparty"].to_numpy(),
        reference=rows["reference"].to_numpy(), **{d: rows[d].to_numpy() for d in dims}, **common)
    offset_account = np.where(adj > 0, settings.unrealized_gain_account, settings.unrealized_loss_account)
    offset = make_lines(
        dims, line=2 * rank + 2, account=offset_account, currency=rows["entity_currency"].to_numpy(),
        amount=-adj, amount_acct=-adj, **{d: rows[d].to_numpy() for d in dims}, **common)
    both = pd.concat([on_balance, offset], ignore_index=True)
    return both.sort_values(["journal", "line"], kind="stable").reset_index(drop=True)


def _reversal(ctx: CloseContext, lines: pd.DataFrame) -> pd.DataFrame:
    """The same lines negated, dated the first day of the next period."""
    rev = lines.copy()
    rev["source"] = "reversal of " + rev["journal"] + " line " + rev["line"].astype(str)
    rev["journal"] = "REVREV-" + rev["journal"].str.slice(len("REV-"))
    rev["date"] = pd.Timestamp(ctx.period.end) + pd.Timedelta(days=1)
    rev["date"] = rev["date"].astype("datetime64[ns]")
    rev["amount"] = -rev["amount"]
    rev["amount_acct"] = -rev["amount_acct"]
    rev["journal_type"] = REVERSAL_TYPE
    rev["description"] = rev["description"].str.replace(r"^Revaluation", "Reversal of revaluation", regex=True)
    return rev


def _totals(report: pd.DataFrame) -> pd.DataFrame:
    """Per entity: sum of gains and of losses (losses as a positive amount), net, count."""
    adj = report["adjustment"]
    t = pd.DataFrame({"entity": report["entity"], "currency": report["entity_currency"],
                      "balances": 1, "gains": adj.where(adj > 0, 0), "losses": (-adj).where(adj < 0, 0)})
    t = t.groupby(["entity", "currency"], sort=True, as_index=False)[["balances", "gains", "losses"]].sum()
    t = t.astype({"balances": "int64", "gains": "int64", "losses": "int64"})
    t["net"] = t["gains"] - t["losses"]
    return t


# --------------------------------------------------------------------------- text

def _amount_text(minor: np.ndarray, scale: np.ndarray) -> pd.Series:
    """Minor units as plain decimals (``-166.67``), exactly, vectorised per scale."""
    m = np.asarray(minor, dtype="int64")
    s = np.asarray(scale, dtype="int64")
    out = pd.Series("", index=range(len(m)), dtype=object)
    for sc in np.unique(s):
        idx = np.flatnonzero(s == sc)
        a = np.abs(m[idx])
        sign = pd.Series(np.where(m[idx] < 0, "-", ""), dtype=object)
        whole = pd.Series(a // 10 ** int(sc)).astype(str)
        text = sign + whole
        if sc > 0:
            text = text + "." + pd.Series(a % 10 ** int(sc)).astype(str).str.zfill(int(sc))
        out.iloc[idx] = text.to_numpy()
    return out


def _rate_text(rate: float, inverse: bool) -> str:
    if rate is None or not np.isfinite(rate):
        return ""
    text = np.format_float_positional(float(rate), trim="-")
    return f"1/{text}" if inverse else text


def _rate_texts(rate: pd.Series, inverse: pd.Series) -> pd.Series:
    """The rate as written (``1/0.6`` for an inverse rate), formatting each distinct rate once."""
    r = rate.astype("float64").reset_index(drop=True)
    inv = inverse.astype(bool).reset_index(drop=True)
    text = r.map({v: _rate_text(v, False) for v in pd.unique(r.dropna())}).astype(object)
    text = text.where(r.notna(), "")
    return (pd.Series(np.where(inv & (text != ""), "1/", ""), dtype=object) + text)
