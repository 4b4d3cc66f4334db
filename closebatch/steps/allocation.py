"""Close step 6: ledger allocations (spreading shared costs over departments, accounts…).

An allocation rule is a group of ``Allocations`` rows sharing ``rule``; each row is one
destination line.  A rule takes every matching *source balance* and moves its **movement
in the period** (accounting currency) to its destinations::

    destination_i = round(source × share_i)      share_i = weight_i ÷ Σ weights
    remainder     = source − Σ destination_i     → the destination largest in absolute
                                                   amount (ties: the first row)
    offset        = −source                      on offset_account (default: the source
                                                   account), with the source's dimensions

so every source balance moves exactly, and each journal balances per entity.

Source balances are kept as :meth:`closebatch.context.LedgerState.movement` keeps them (per
entity, account, dimensions, counterparty, reference, currency); each non-zero one is
allocated separately.  A source is selected by ``entity`` (blank: every entity, restricted
to the entities being closed), ``source_account`` (one account, a range ``6000-6999``, or a
comma-separated list of either) and the source dimension filters (blank: any value).

Weights, by ``method``:

* ``fixed_percent``: ``value`` is a percentage; a rule's percentages total 100 (a total of 1
  is read as Excel percent cells, 60% = 0.6);
* ``fixed_weight``: ``value`` is a weight;
* ``equal``: every destination weighs 1;
* ``basis`` with a statistic name: the destination's ``Statistics`` row of that name.  A row
  matches when its entity and period are blank or equal the destination's, and each of its
  dimension columns is blank or equal to the destination's dimension (the ``to_`` value, or
  the source's value where ``to_`` is blank).  The most specific matching row wins (a given
  dimension outranks a given entity, which outranks a given period); ties: the first row;
* ``basis`` with ``ledger:ACCOUNTS``: the destination's balance of ACCOUNTS (accounting
  currency, at this point of the close) in its entity, filtered by its non-blank dimensions.

Rules run in ``step`` order (within a step in order of first appearance).  Rules of one step
all see the ledger as it stood before the step; a later step sees what earlier steps posted.

Lines go to journal ``ALLOC-<rule>-<period>``, journal type ``allocation``, dated the period
end.  Destination lines are in the entity's accounting currency, keep the source's
counterparty and carry no reference; the offset line mirrors the source balance (its
dimensions, counterparty, reference and currency, transaction and accounting amounts), so an
offset on the source account clears it in both currencies.  Zero-amount lines are not
generated.

Decisions where the books format is silent (see the module's tests):

* Rule-level columns (``step``, ``entity``, ``source_account``, source dimension filters,
  ``method``, ``basis``, ``offset_account``) may be given on any row of the rule and left
  blank on the others; two different non-blank values are an error.
* A range ``LO-HI`` holds the chart's accounts between LO and HI, compared as numbers when
  all three are digits, else as text of the same length.  An item that is itself an account
  code is an account, never a range.  List items are separated by ``,`` or ``;``.
* A rule with an error posts nothing; other rules still run.  Statistics and basis totals are
  checked only for entities where the rule has something to allocate.
* A source balance selected by two rules of the same step is an error (it would be moved
  twice); it stays with the first rule.  A rule posting (destination or explicit offset) into
  another same-step rule's sources is an error (a cycle: put that rule in a later step).
* Signed weights are allowed; only their total must not be zero.
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pandas as pd

from .. import accounts
from ..book import Book
from ..context import CloseContext, LedgerState, Period
from ..core import Finding, StepResult, balance_key, concat_lines, empty_lines, make_lines
from ..money import round_half_away, scale_of

JOURNAL_TYPE = "allocation"
METHODS = ("fixed_percent", "fixed_weight", "equal", "basis")
RULE_COLUMNS = ("step", "entity", "source_account", "method", "basis", "offset_account")
_BY = {"fixed_percent": "by fixed percent", "fixed_weight": "by fixed weight", "equal": "equally"}


# --------------------------------------------------------------------------- cell values

def _txt(v) -> str:
    """A cell as text: blank (None, NaN, NaT, "") is ""; 6100.0 is "6100"."""
    if v is None or v is pd.NaT:
        return ""
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, (float, np.floating)):
        if not math.isfinite(v):
            return ""
        return str(int(v)) if float(v).is_integer() else repr(float(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    try:
        if pd.isna(v):
            return ""
    except (TypeError, ValueError):
        pass
    return str(v).strip()


def _number(v) -> float | None:
    """A numeric cell as float; NaN when blank; None when it is not a number."""
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float, np.integer, np.floating)):
        f = float(v)
        return float("nan") if math.isnan(f) else (f if math.isfinite(f) else None)
    t = _txt(v)
    if t == "":
        return float("nan")
    try:
        f = float(t.rstrip("%").replace(",", "").strip())
    except ValueError:
        return None
    return f if math.isfinite(f) else None


def _step(v) -> int | None | bool:
    """A step cell: None when blank, the integer, or False when it is not a whole number."""
    f = _number(v)
    if f is None:
        return False
    if math.isnan(f):
        return None
    return int(f) if f.is_integer() else False


def _texts(df: pd.DataFrame, col: str) -> pd.Series:
    if col not in df:
        return pd.Series([""] * len(df), index=df.index, dtype=object)
    return df[col].map(_txt).astype(object)


def _rows_text(rows) -> str:
    """Excel rows as compact ranges: [2, 3, 4, 7] -> '2-4,7'."""
    rows = sorted(set(int(r) for r in rows))
    parts, i = [], 0
    while i < len(rows):
        j = i
        while j + 1 < len(rows) and rows[j + 1] == rows[j] + 1:
            j += 1
        parts.append(str(rows[i]) if i == j else f"{rows[i]}-{rows[j]}")
        i = j + 1
    return ",".join(parts)


def _fmt(minor: pd.Series, scale: pd.Series) -> pd.Series:
    """Vectorised minor units -> '9000.00' text."""
    m = minor.astype("int64").to_numpy()
    s = scale.astype("int64").to_numpy()
    out = np.empty(len(m), dtype=object)
    for sc in np.unique(s):  # a handful of currency scales
        k = s == sc
        a = np.abs(m[k])
        whole = pd.Series(a // 10 ** int(sc)).astype(str)
        text = whole if sc == 0 else whole + "." + pd.Series(a % 10 ** int(sc)).astype(str).str.zfill(int(sc))
        out[k] = np.where(m[k] < 0, "-", "") + text.to_numpy(dtype=object)
    return pd.Series(out, index=minor.index, dtype=object)


# --------------------------------------------------------------------------- account specs

def parse_accounts(spec: str, chart) -> tuple[list[str], list[str]]:
    """The chart accounts an account spec (``6100``, ``6000-6999``, ``6100, 6200-6299``)
    names, in chart order, and the items that name nothing (:func:`closebatch.accounts.select`)."""
    sel = accounts.select(spec, chart)
    return list(sel.accounts), list(sel.bad)


# --------------------------------------------------------------------------- the rules

class _Plan:
    """The Allocations sheet read into rule heads, destination rows and account sets."""

    def __init__(self, book: Book, period: Period):
        self.book = book
        self.dims = tuple(book.dims)
        self.period = period
        self.findings: list[Finding] = []
        self.failed: set[str] = set()
        a = book.allocations if book.allocations is not None else pd.DataFrame()
        a = a.reset_index(drop=True)
        if len(a):
            for c, d in (("_file", ""), ("_sheet", "Allocations")):
                if c not in a:
                    a[c] = d
            if "_row" not in a:
                a["_row"] = np.arange(2, len(a) + 2)
        self.raw = a
        self._read()
        self._read_statistics()
        if len(self.rows):
            self._check()

    # -- findings
    def err(self, i, column, message, hint="", code="", **kw):
        self.findings.append(self.book.finding(self.raw.loc[i], column, message, hint, code=code, **kw))

    def fail(self, rule, i, column, message, hint="", code=""):
        self.failed.add(rule)
        self.err(i, column, message, hint, code)

    # -- reading
    def _read(self):
        a, dims = self.raw, self.dims
        r = pd.DataFrame(index=a.index)
        r["rule"] = _texts(a, "rule")
        for c in ("entity", "source_account", "method", "basis", "destination_account", "offset_account"):
            r[c] = _texts(a, c)
        r["method"] = r["method"].str.lower().str.replace(r"[ -]", "_", regex=True)
        for d in dims:
            r["s_" + d] = _texts(a, d)
            r["to_" + d] = _texts(a, "to_" + d)
        steps = a["step"] if "step" in a else pd.Series([None] * len(a), index=a.index)
        values = a["value"] if "value" in a else pd.Series([None] * len(a), index=a.index)
        r["step_raw"] = pd.Series([_step(v) for v in steps], index=a.index, dtype=object)
        r["value"] = values.map(_number)
        r["file"], r["sheet"], r["row"] = a.get("_file", ""), a.get("_sheet", ""), a.get("_row", 0)
        for i in r.index[r["rule"] == ""]:
            self.err(i, "rule", "This Allocations row has no rule name, so it belongs to no rule.",
                     "Give every row the name of its rule in the rule column.", "allocation-missing-rule")
        r = r[r["rule"] != ""].copy()
        r["pos"] = r.groupby("rule", sort=False).cumcount()
        self.rows = r

    def _read_statistics(self):
        s = self.book.statistics if self.book.statistics is not None else pd.DataFrame()
        s = s.reset_index(drop=True)
        per = self.period
        out = pd.DataFrame(index=s.index)
        out["name"] = _texts(s, "name").str.casefold()
        out["s_entity"] = _texts(s, "entity")

        def period_of(v):
            if _txt(v) == "":
                return ""
            if isinstance(v, pd.Timestamp) or hasattr(v, "year") and hasattr(v, "month"):
                ts = pd.Timestamp(v)
                return per.name if per.start <= ts <= per.end else ts.strftime("%Y-%m-%d")
            return _txt(v)

        out["s_period"] = (s["period"].map(period_of) if "period" in s else pd.Series("", index=s.index)).astype(object)
        for d in self.dims:
            out["s_" + d] = _texts(s, d)
        stat = (s["value"] if "value" in s else pd.Series([None] * len(s), index=s.index)).map(_number)
        out["stat"] = stat.map(lambda v: float("nan") if v is None else v).astype(float)
        out["stat_pos"] = np.arange(len(s))
        bad = stat.map(lambda v: v is None).astype(bool)
        for i in out.index[bad]:
            self.findings.append(self.book.finding(
                s.loc[i], "value", f"Statistic '{_txt(s.loc[i].get('name'))}' has value "
                f"'{_txt(s.loc[i].get('value'))}', which is not a number; the row is ignored.",
                "Type a plain number.", code="allocation-bad-statistic"))
        self.names = set(out.loc[out["name"] != "", "name"])
        self.stats = out.loc[((out["name"] != "") & out["stat"].notna()).astype(bool)]

    # -- static checks
    def _check(self):
        r, dims, book = self.rows, self.dims, self.book
        chart = list(book.accounts["account"].astype(str))
        entities = set(book.entities["entity"].astype(str))

        for i in r.index[r["step_raw"].map(lambda v: v is False)]:
            self.fail(r.at[i, "rule"], i, "step", f"Rule {r.at[i, 'rule']}: step '{_txt(self.raw.at[i, 'step'])}' "
                      "is not a whole number.", "Give the step as 1, 2, 3…", "allocation-bad-step")
        r["step_txt"] = r["step_raw"].map(lambda v: "" if v is None or v is False else str(v))

        # rule-level columns: one value per rule, blank rows inherit it
        cols = [("step_txt", "step"), ("entity", "entity"), ("source_account", "source_account"),
                ("method", "method"), ("basis", "basis"), ("offset_account", "offset_account")] + \
               [("s_" + d, d) for d in dims]
        for c, name in cols:
            v = r[c]
            first = v.where(v != "").groupby(r["rule"], sort=False).transform("first")
            first = first.fillna("").astype(object)
            for i in r.index[(v != "") & (v != first)]:
                self.fail(r.at[i, "rule"], i, name,
                          f"Rule {r.at[i, 'rule']}: {name} '{v[i]}' differs from '{first[i]}' given on an "
                          "earlier row of the same rule.",
                          f"All rows of a rule share its {name}: repeat the same value or leave it blank.",
                          "allocation-inconsistent-rule")
            r["r_" + c] = first
        r["r_step"] = r["r_step_txt"].map(lambda t: int(t) if t else 1)
        self.rows = r

        heads = r.drop_duplicates("rule").copy()
        heads["order"] = np.arange(len(heads))
        self.heads = heads.set_index("rule", drop=False)
        sel, bsel = [], []
        known = set(chart)
        for rule, rows in r.groupby("rule", sort=False):  # one pass per rule, not per line
            h, i = self.heads.loc[rule], rows.index[0]
            first_of = lambda col: rows.index[rows[col] != ""][0] if (rows[col] != "").any() else i

            ent = h["r_entity"]
            if ent and ent not in entities:
                self.fail(rule, first_of("entity"), "entity", f"Rule {rule}: entity {ent} is not in Entities.",
                          "Use an entity code from the Entities sheet, or leave it blank for every entity.",
                          "allocation-unknown-entity")
            spec = h["r_source_account"]
            if not spec:
                self.fail(rule, i, "source_account", f"Rule {rule} has no source_account.",
                          "Name the account(s) to allocate: 6100, a range 6000-6999 or a list 6100, 6200.",
                          "allocation-missing-account")
            else:
                accts, bad = parse_accounts(spec, chart)
                if bad:
                    self.fail(rule, first_of("source_account"), "source_account",
                              f"Rule {rule}: source account {', '.join(bad)} is not in the chart of accounts.",
                              "Use account codes from the Accounts sheet (ranges must contain at least one).",
                              "allocation-unknown-account")
                sel += [(rule, ac) for ac in accts]
            off = h["r_offset_account"]
            if off and off not in known:
                self.fail(rule, first_of("offset_account"), "offset_account",
                          f"Rule {rule}: offset account {off} is not in the chart of accounts.",
                          "Use one account code from the Accounts sheet, or leave it blank to credit the "
                          "source account.", "allocation-unknown-account")
            for j in rows.index:
                dest = rows.at[j, "destination_account"]
                if dest not in known:
                    self.fail(rule, j, "destination_account",
                              f"Rule {rule}: destination account '{dest}' is not in the chart of accounts."
                              if dest else f"Rule {rule}: this row has no destination_account.",
                              "Give one account code from the Accounts sheet per row.",
                              "allocation-unknown-account")
            method, basis = h["r_method"], h["r_basis"]
            if method not in METHODS:
                self.fail(rule, first_of("method"), "method",
                          f"Rule {rule}: unknown method '{method}'." if method else f"Rule {rule} has no method.",
                          "Use fixed_percent, fixed_weight, equal or basis.", "allocation-unknown-method")
            elif method == "basis":
                if not basis:
                    self.fail(rule, i, "basis", f"Rule {rule}: method basis needs a basis.",
                              "Give a statistic name from Statistics, or ledger:ACCOUNTS.", "allocation-missing-basis")
                elif basis.lower().startswith("ledger:"):
                    accts, bad = parse_accounts(basis[len("ledger:"):], chart)
                    if bad or not accts:
                        self.fail(rule, first_of("basis"), "basis",
                                  f"Rule {rule}: basis {basis} names no account of the chart"
                                  + (f" ({', '.join(bad)})." if bad else "."),
                                  "Write ledger: followed by accounts, a range or a list, e.g. ledger:4000-4999.",
                                  "allocation-unknown-account")
                    bsel += [(rule, ac) for ac in accts]
                elif basis.casefold() not in self.names:
                    self.fail(rule, first_of("basis"), "basis",
                              f"Rule {rule}: there is no statistic named '{basis}' in Statistics.",
                              "Add Statistics rows of that name, or correct the basis.", "allocation-unknown-statistic")
            elif method in ("fixed_percent", "fixed_weight"):
                v = rows["value"]
                bad_rows = rows.index[v.map(lambda x: x is None or math.isnan(x))]
                for j in bad_rows:
                    self.fail(rule, j, "value",
                              f"Rule {rule}: value '{_txt(self.raw.at[j, 'value']) if 'value' in self.raw else ''}' "
                              f"is not a number; {method} needs a {'percentage' if method == 'fixed_percent' else 'weight'} "
                              "on every row.", "Type a plain number in value.", "allocation-bad-value")
                if not len(bad_rows):
                    total = float(v.sum())
                    where = f"rows {_rows_text(rows['row'])}"
                    if method == "fixed_percent" and not (abs(total - 100) < 1e-9 or
                                                          (abs(total - 1) < 1e-12 and (v.abs() <= 1).all())):
                        self.fail(rule, rows.index[0], "value",
                                  f"Rule {rule}: the percentages of {where} total {total:g}, not 100.",
                                  "Make the rule's percentages add up to exactly 100.", "allocation-percent-total")
                    elif method == "fixed_weight" and total == 0:
                        self.fail(rule, rows.index[0], "value", f"Rule {rule}: the weights of {where} sum to zero.",
                                  "Give weights whose total is not zero.", "allocation-zero-basis")
        self.sel = pd.DataFrame(sel, columns=["rule", "account"], dtype=object)
        self.bsel = pd.DataFrame(bsel, columns=["rule", "account"], dtype=object)
        # percentages typed as Excel percent cells (0.6) are scaled to 100
        if len(r):
            pct = r["r_method"] == "fixed_percent"
            tot = r["value"].where(pct).groupby(r["rule"]).transform("sum")
            frac = pct & ((tot - 1).abs() < 1e-12)
            r.loc[frac, "value"] = r.loc[frac, "value"] * 100
            self.rows = r

    def source_text(self, rule) -> str:
        rows = self.rows[self.rows["rule"] == rule]
        parts = [f"{f}!{s}!{_rows_text(g['row'])}" for (f, s), g in rows.groupby(["file", "sheet"], sort=False)]
        return f"allocation rule {rule} ({'; '.join(parts)})"


# --------------------------------------------------------------------------- the step

def allocate(ctx: CloseContext, state: LedgerState) -> StepResult:
    """Run the Allocations rules step by step on ``state`` and return the allocation lines.

    Reports: ``Lines`` (one row per generated line with its rule, source balance, basis value
    and share) and ``Summary`` (per rule and entity, the source and allocated amounts).
    """
    book, dims = ctx.book, tuple(ctx.book.dims)
    plan = _Plan(book, ctx.period)
    lines_out, report_out = [], []
    if not len(plan.rows):
        return _result(plan, dims, lines_out, report_out)
    heads = plan.heads
    for step in sorted(heads["r_step"].unique()):
        names = [r for r in heads.loc[heads["r_step"] == step, "rule"] if r not in plan.failed]
        _cycles(plan, names)
        names = [r for r in names if r not in plan.failed]
        if not names:
            continue
        src = _sources(plan, names, state, ctx.entities)
        if not len(src):
            continue
        x = _weights(plan, src, state)
        if not len(x):
            continue
        lines, report = _post(plan, src[src["src_id"].isin(x["src_id"])], x, ctx, step)
        lines_out.append(lines)
        report_out.append(report)
        state = state.add(lines)
    return _result(plan, dims, lines_out, report_out)


def _result(plan, dims, lines_out, report_out) -> StepResult:
    lines = concat_lines(lines_out, dims) if lines_out else empty_lines(dims)
    cols = ["rule", "step", "entity", "source_account", *dims, "source_amount", "kind", "destination_account",
            *["to_" + d for d in dims], "basis", "basis_value", "share", "amount", "currency", "journal", "line",
            "source"]
    rep = pd.concat(report_out, ignore_index=True)[cols] if report_out else pd.DataFrame({c: [] for c in cols})
    dest = rep[rep["kind"] == "destination"]
    if len(rep):
        src = rep[rep["kind"] == "offset"].groupby(["rule", "step", "entity", "currency"], sort=False).agg(
            sources=("amount", "size"), source_amount=("source_amount", "sum"))
        alloc = dest.groupby(["rule", "step", "entity", "currency"], sort=False)["amount"].sum().rename("allocated_amount")
        summary = src.join(alloc).fillna({"allocated_amount": 0}).reset_index()
        summary["allocated_amount"] = summary["allocated_amount"].astype("int64")
    else:
        summary = pd.DataFrame({c: [] for c in ("rule", "step", "entity", "currency", "sources", "source_amount",
                                                 "allocated_amount")})
    n_rules = int(plan.rows["rule"].nunique()) if len(plan.rows) else 0
    return StepResult(lines=lines, findings=plan.findings, reports={"Lines": rep, "Summary": summary},
                      figures={"rules": n_rules, "lines": int(len(lines))})


def _cycles(plan: _Plan, names: list[str]) -> None:
    """A rule posting into the sources of another rule of the same step is an error."""
    if len(names) < 2:
        return
    r, dims = plan.rows, plan.dims
    mine = r[r["rule"].isin(names)]
    post = mine[["rule", "destination_account", "r_entity", *["to_" + d for d in dims]]].copy()
    post["col"] = "destination_account"
    post["i"] = post.index
    for d in dims:  # a blank to_ keeps the source's value (the rule's filter; blank = any)
        post["to_" + d] = post["to_" + d].where(post["to_" + d] != "", mine["r_s_" + d])
    heads = plan.heads.loc[names]
    offs = heads[(heads["r_offset_account"] != "") & (heads["r_offset_account"] != heads["r_source_account"])]
    if len(offs):
        o = pd.DataFrame({"rule": offs["rule"], "destination_account": offs["r_offset_account"],
                          "r_entity": offs["r_entity"], "col": "offset_account",
                          "i": [r.index[(r["rule"] == n) & (r["offset_account"] != "")][0] for n in offs["rule"]]})
        for d in dims:
            o["to_" + d] = offs["r_s_" + d]
        post = pd.concat([post, o], ignore_index=True)
    sel = plan.sel[plan.sel["rule"].isin(names)].rename(columns={"rule": "other", "account": "destination_account"})
    m = post.merge(sel, on="destination_account")
    m = m[m["rule"] != m["other"]]
    if not len(m):
        return
    oh = plan.heads
    m = m.assign(o_entity=m["other"].map(oh["r_entity"]))
    ok = (m["r_entity"] == "") | (m["o_entity"] == "") | (m["r_entity"] == m["o_entity"])
    for d in dims:
        f = m["other"].map(oh["r_s_" + d])
        ok &= (m["to_" + d] == "") | (f == "") | (m["to_" + d] == f)
    for _, c in m[ok].drop_duplicates(["i", "other"]).iterrows():
        where = " ".join([c["destination_account"], *[c["to_" + d] for d in dims if c["to_" + d]]])
        plan.fail(c["rule"], c["i"], c["col"],
                  f"Rule {c['rule']} posts to {where}, which rule {c['other']} of the same step allocates: "
                  "a cycle (the other rule would not see what this one posts).",
                  f"Put rule {c['other']} in a later step than {c['rule']}, or change the destination.",
                  "allocation-cycle")


def _sources(plan: _Plan, names: list[str], state: LedgerState, entities) -> pd.DataFrame:
    """Every (rule, source balance) pair of the step: non-zero period movements that match."""
    dims = plan.dims
    key = balance_key(dims)
    sel = plan.sel[plan.sel["rule"].isin(names)]
    mv = state.movement()
    # (only the rules' source accounts: the merge below keeps no other, in the same order)
    keep = (mv["amount_acct"] != 0) & mv["account"].isin(sel["account"].unique())
    if entities:
        keep &= mv["entity"].isin(list(entities))
    mv = mv[keep]
    heads = plan.heads.loc[names, ["rule", "order", "r_entity", "r_step", *["r_s_" + d for d in dims]]]
    src = mv.merge(sel, on="account").merge(heads.reset_index(drop=True), on="rule")
    ok = (src["r_entity"] == "") | (src["r_entity"] == src["entity"])
    for d in dims:
        ok &= (src["r_s_" + d] == "") | (src["r_s_" + d] == src[d])
    src = src[ok].sort_values(["order", *key], kind="stable").reset_index(drop=True)
    dup = src.duplicated(key, keep="first")
    if dup.any():
        first = src[~dup].set_index(key)["rule"]
        for _, d in src[dup].drop_duplicates(["rule"]).iterrows():
            other = first.loc[tuple(d[k] for k in key)]
            bal = " ".join([d["entity"], d["account"], *[d[x] for x in dims if d[x]]])
            i = plan.rows.index[plan.rows["rule"] == d["rule"]][0]
            plan.err(i, "source_account",
                     f"Rule {d['rule']} selects the balance {bal}, which rule {other} of the same step already "
                     "allocates; it is allocated once, by rule " + str(other) + ".",
                     "Narrow the source filters so each balance belongs to one rule per step, or use another step.",
                     "allocation-overlap")
        src = src[~dup].reset_index(drop=True)
    src["src_id"] = np.arange(len(src))
    return src


def _weights(plan: _Plan, src: pd.DataFrame, state: LedgerState) -> pd.DataFrame:
    """Source × destination rows with weight ``w``, ``basis_value`` and rounded ``amt``."""
    dims, r = plan.dims, plan.rows
    dest = r[["rule", "pos", "destination_account", "value", *["to_" + d for d in dims]]].copy()
    dest["i"] = dest.index
    x = src[["src_id", "rule", "entity", "account", *dims, "amount_acct"]].merge(dest, on="rule")
    x = x.sort_values(["src_id", "pos"], kind="stable").reset_index(drop=True)
    for d in dims:
        x["e_" + d] = x["to_" + d].where(x["to_" + d] != "", x[d])
    method = x["rule"].map(plan.heads["r_method"])
    basis = x["rule"].map(plan.heads["r_basis"])
    ledger = (method == "basis") & basis.str.lower().str.startswith("ledger:")
    stat = (method == "basis") & ~ledger
    w = pd.Series(np.nan, index=x.index)
    w[method.isin(["fixed_percent", "fixed_weight"])] = x["value"]
    w[method == "equal"] = 1.0
    bv = w.copy()
    drop = pd.Series(False, index=x.index)

    if stat.any():
        got = _statistics(plan, x[stat], basis[stat])
        w[stat] = got
        bv[stat] = got
        missing = stat & w.isna()
        for _, m in x[missing].drop_duplicates(["i", "entity", *["e_" + d for d in dims]]).iterrows():
            dd = ", ".join(f"{d} {m['e_' + d]}" for d in dims if m["e_" + d])
            plan.fail(m["rule"], m["i"], "basis",
                      f"Rule {m['rule']}: no '{basis[_]}' statistic for entity {m['entity']}"
                      + (f", {dd}" if dd else "") + f" in period {plan.period.name}.",
                      "Add that row to Statistics (blank entity or period = any).", "allocation-missing-statistic")
        drop |= x["src_id"].isin(x.loc[missing, "src_id"])
    if ledger.any():
        bal = state.balances()
        lb = bal.merge(plan.bsel, on="account")[["rule", "entity", *dims, "amount_acct"]]
        q = x.loc[ledger, ["rule", "entity", *["e_" + d for d in dims]]].assign(xid=x.index[ledger])
        m = q.merge(lb, on=["rule", "entity"])
        ok = pd.Series(True, index=m.index)
        for d in dims:
            ok &= (m["e_" + d] == "") | (m["e_" + d] == m[d])
        got = m[ok].groupby("xid")["amount_acct"].sum()
        w[ledger] = pd.Series(x.index[ledger], index=x.index[ledger]).map(got).fillna(0).astype(float)
        scale = x.loc[ledger, "entity"].map(plan.book.entity_currency()).map(scale_of).astype(float)
        bv[ledger] = w[ledger] / np.power(10.0, scale)
    x["w"], x["basis_value"] = w, bv
    x = x[~drop & ~x["rule"].isin(plan.failed)]
    total = x.groupby("src_id")["w"].transform("sum")
    zero = total == 0
    if zero.any():
        for _, z in x[zero].drop_duplicates(["rule", "entity"]).iterrows():
            plan.fail(z["rule"], plan.rows.index[plan.rows["rule"] == z["rule"]][0],
                      "basis" if plan.heads.at[z["rule"], "r_method"] == "basis" else "value",
                      f"Rule {z['rule']}: the basis {plan.heads.at[z['rule'], 'r_basis'] or ''} sums to zero over "
                      f"the rule's destinations for entity {z['entity']}, so nothing can be shared out.",
                      "Check the statistics or balances the rule is based on.", "allocation-zero-basis")
        keep = ~x["rule"].isin(plan.failed)
        x, total = x[keep], total[keep]
    x = x.reset_index(drop=True)
    total = total.to_numpy(dtype=float)
    x["share"] = x["w"].to_numpy(dtype=float) / total
    x["amt"] = _shares(x["amount_acct"].to_numpy(dtype="int64"), x["w"].to_numpy(dtype=float), total,
                       x["src_id"].to_numpy())
    return x


def _statistics(plan: _Plan, x: pd.DataFrame, names: pd.Series) -> pd.Series:
    """Each destination's statistic value (NaN when none matches)."""
    dims = plan.dims
    q = x[["entity", *["e_" + d for d in dims]]].assign(name=names.str.casefold(), xid=x.index)
    m = q.merge(plan.stats, on="name")
    ok = ((m["s_entity"] == "") | (m["s_entity"] == m["entity"])) & \
         ((m["s_period"] == "") | (m["s_period"] == plan.period.name))
    score = (m["s_entity"] != "").astype(int) * 2 + (m["s_period"] != "").astype(int)
    for d in dims:
        ok &= (m["s_" + d] == "") | (m["s_" + d] == m["e_" + d])
        score += (m["s_" + d] != "").astype(int) * 4
    m = m.assign(score=score)[ok]
    best = m.sort_values(["xid", "score", "stat_pos"], ascending=[True, False, True], kind="stable")
    best = best.drop_duplicates("xid").set_index("xid")["stat"]
    return pd.Series(x.index.map(best), index=x.index, dtype=float)


def _shares(src: np.ndarray, w: np.ndarray, total: np.ndarray, sid: np.ndarray) -> np.ndarray:
    """round_half_away(src × w ÷ total) per line, then each source's remainder on its line of
    largest absolute amount (first on ties).  Rows are ordered by source, then row."""
    raw = src.astype(float) * w / total
    out = round_half_away(raw)
    frac = np.abs(raw) - np.floor(np.abs(raw))
    near = np.abs(frac - 0.5) < np.maximum(1e-9, np.abs(raw) * 1e-13)
    for i in np.flatnonzero(near):  # exact ties only: recompute with fractions
        ws = [Fraction(repr(float(v))) for v in w[sid == sid[i]]]
        q = Fraction(int(src[i])) * Fraction(repr(float(w[i]))) / sum(ws)
        out[i] = math.copysign(math.floor(abs(q) + Fraction(1, 2)), q)
    out = out.astype("int64")
    f = pd.DataFrame({"sid": sid, "amt": out, "abs": np.abs(out)})
    rem = pd.Series(src, index=f.index).groupby(f["sid"]).first() - f.groupby("sid")["amt"].sum()
    at = f.groupby("sid")["abs"].idxmax()
    out[at.to_numpy()] += rem.loc[at.index].to_numpy()
    return out


def _post(plan: _Plan, src: pd.DataFrame, x: pd.DataFrame, ctx: CloseContext, step: int):
    """The step's lines (destinations then the offset, per source balance) and report rows."""
    dims, book, per = plan.dims, plan.book, ctx.period
    ccy = book.entity_currency()
    heads = plan.heads
    src = src.set_index("src_id", drop=False)
    rule_src = {r: plan.source_text(r) for r in src["rule"].unique()}
    by = {r: (f"by {heads.at[r, 'r_basis']}" if heads.at[r, "r_method"] == "basis" else _BY[heads.at[r, "r_method"]])
          for r in src["rule"].unique()}
    acct_ccy = src["entity"].map(ccy)
    scale = acct_ccy.map(scale_of)
    where = src["account"].astype(object)
    for d in dims:
        where = where + np.where(src[d] != "", " " + src[d], "")
    desc = ("Allocation " + src["rule"] + " step " + str(step) + ": " + where + " "
            + _fmt(src["amount_acct"], scale) + " " + src["rule"].map(by))
    journal = "ALLOC-" + src["rule"] + "-" + per.name

    s = x["src_id"]
    dl = pd.DataFrame({
        "journal": s.map(journal), "entity": x["entity"], "account": x["destination_account"],
        **{d: x["e_" + d] for d in dims},
        "currency": s.map(acct_ccy), "amount": x["amt"], "amount_acct": x["amt"],
        "counterparty": s.map(src["counterparty"]), "reference": "", "description": s.map(desc),
        "source": x["rule"].map(rule_src), "src_id": s, "pos": x["pos"],
        # report
        "rule": x["rule"], "kind": "destination", "basis_value": x["basis_value"], "share": x["share"],
        "row_source": x["i"].map(plan.rows["file"] + "!" + plan.rows["sheet"] + "!" + plan.rows["row"].astype(str)),
    })
    off = heads.loc[src["rule"], "r_offset_account"].to_numpy()
    ol = pd.DataFrame({
        "journal": journal, "entity": src["entity"], "account": np.where(off != "", off, src["account"]),
        **{d: src[d] for d in dims},
        "currency": src["currency"], "amount": -src["amount"], "amount_acct": -src["amount_acct"],
        "counterparty": src["counterparty"], "reference": src["reference"], "description": desc,
        "source": src["rule"].map(rule_src), "src_id": src["src_id"], "pos": np.iinfo("int64").max,
        "rule": src["rule"], "kind": "offset", "basis_value": np.nan, "share": -1.0,
        "row_source": "",
    }).reset_index(drop=True)
    both = pd.concat([dl, ol], ignore_index=True)
    both = both[both["amount_acct"] != 0]
    both = both.assign(order=both["rule"].map(heads["order"]))
    both = both.sort_values(["order", "src_id", "pos"], kind="stable").reset_index(drop=True)
    both["line"] = both.groupby("journal", sort=False).cumcount() + 1
    lines = make_lines(dims, journal=both["journal"].to_numpy(), line=both["line"].to_numpy(), date=per.end,
                       entity=both["entity"].to_numpy(), account=both["account"].to_numpy(),
                       **{d: both[d].to_numpy() for d in dims}, currency=both["currency"].to_numpy(),
                       amount=both["amount"].to_numpy(), amount_acct=both["amount_acct"].to_numpy(),
                       counterparty=both["counterparty"].to_numpy(), reference=both["reference"].to_numpy(),
                       journal_type=JOURNAL_TYPE, description=both["description"].to_numpy(),
                       source=both["source"].to_numpy())
    sid = both["src_id"]
    report = pd.DataFrame({
        "rule": both["rule"], "step": step, "entity": both["entity"], "source_account": sid.map(src["account"]),
        **{d: sid.map(src[d]) for d in dims}, "source_amount": sid.map(src["amount_acct"]).astype("int64"),
        "kind": both["kind"], "destination_account": both["account"], **{"to_" + d: both[d] for d in dims},
        "basis": both["rule"].map({r: heads.at[r, "r_basis"] or heads.at[r, "r_method"] for r in rule_src}),
        "basis_value": both["basis_value"].astype(float), "share": both["share"].astype(float),
        "amount": both["amount_acct"].astype("int64"), "currency": both["entity"].map(ccy),
        "journal": both["journal"], "line": both["line"],
        "source": np.where(both["row_source"] != "", both["row_source"], both["source"]),
    })
    return lines, report
