"""Step 1 of the close: type and validate every sheet, collecting every problem in one pass.

:func:`load_book` turns the raw sheets of :mod:`closebatch.io.reader` into a typed
:class:`~closebatch.book.Book` plus a list of :class:`~closebatch.core.Finding`.  It never
stops at the first problem: cells that will not type are reported and left out of the
cross-row checks (journal balances, references) so one bad cell gives one finding.

Validation runs in two phases, as the field notes advise: first each cell is typed
(:mod:`closebatch.parse`) and per-column value rules run (:func:`_value_rules`); then the
cross-row rules run on the rows whose types passed.

Everything is vectorised over the million lines a book may hold: Python runs per distinct
value (parsing) or per finding, never per cell.  The text columns of the two kinds that become
lines frames (TrialBalance, Journals) are typed straight to ``str``, the dtype of a lines frame,
so they are converted once; the other kinds keep object columns.
"""
from __future__ import annotations

import operator
from decimal import Decimal, InvalidOperation

import numpy as np
import pandas as pd
import pyarrow as pa

from . import money, rates as rates_mod
from .book import Book, Settings
from .cells import cell_ref
from .core import ERROR, WARNING, Finding, make_lines
from .io.reader import ReadResult, concat, norm_header
from .parse import combined, expected, is_text, parse, too_large
from .schema import columns_for

ACCOUNT_SETTINGS = ("unrealized_gain_account", "unrealized_loss_account", "realized_gain_account",
                    "realized_loss_account", "retained_earnings_account", "translation_reserve_account",
                    "nci_account", "nci_profit_account", "rounding_account")
KNOWN_SETTINGS = ACCOUNT_SETTINGS + ("group_currency", "dimensions", "rounding_tolerance", "reverse_revaluation",
                                     "revaluation_rate_type")
DEFAULT_TRANSLATION = {"Asset": "closing", "Liability": "closing", "Revenue": "average", "Expense": "average",
                       "Equity": "historical"}
LINE_KINDS = ("TrialBalance", "Journals")  # the kinds that become lines frames


class Checker:
    """Collects findings about the book's cells.  ``release``: let each sheet's cells go once
    they are typed (:meth:`closebatch.io.reader.RawSheet.release`)."""

    def __init__(self, letters: dict, release: bool = False):
        self.letters = letters  # (file, sheet) -> {column: letter}
        self.findings: list[Finding] = []
        self.release = release

    def cell(self, file, sheet, row, column) -> str:
        return cell_ref(self.letters, file, sheet, int(row), column) or f"row {int(row)}"

    def rows(self, df: pd.DataFrame, mask, column: str, message, hint: str, severity=ERROR, code="",
             value_col=None) -> None:
        """A finding for every row of ``df`` where ``mask`` holds.  ``message`` may be a
        callable of the row (a Series) or a format string with ``{value}`` and row fields."""
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        sub = df[mask]
        vc = value_col or column
        for _, r in sub.iterrows():  # findings only: one per bad row
            value = r.get(vc, "")
            value = "" if value is None or (isinstance(value, float) and np.isnan(value)) else value
            text = message(r) if callable(message) else _format(message, value, r)
            self.findings.append(Finding(severity, text, hint=hint, file=r["_file"], sheet=r["_sheet"],
                                         cell=self.cell(r["_file"], r["_sheet"], r["_row"], column), column=column,
                                         value=str(value), code=code))

    def add(self, f: Finding) -> None:
        self.findings.append(f)


def _format(message: str, value, r) -> str:
    """``message`` with ``{value}`` and ``{column}`` fields of the row filled in; a message
    whose braces come from the books (a dimension named ``{x}``) falls back to ``{value}`` only."""
    fields = {k: r[k] for k in r.index if isinstance(k, str)}
    fields["value"] = value
    try:
        return message.format(**fields)
    except (KeyError, IndexError, ValueError, AttributeError, TypeError):
        return message.replace("{value}", str(value))


def _typed(kind: str, sheets: list, dims, chk: Checker) -> pd.DataFrame:
    """Type every known column of a kind's sheets (concatenated); report missing required columns
    and bad cells.  The frame keeps the raw columns' order (typed in place), then the absent known
    columns, then ``_ok``: whether every cell of the row typed."""
    raw = concat(sheets)
    text = "str" if kind in LINE_KINDS else object
    typed = {}
    ok = np.ones(len(raw), dtype=bool)
    present_by_sheet = {(s.file, s.sheet): s.letters for s in sheets if len(s.frame)}  # the sheets with rows
    coded, texts = _coded(sheets), _texts(sheets)
    if text is object and "source" in raw:  # (the reader gives it as ``str``)
        raw["source"] = raw["source"].astype(object)
    if text == "str":  # the lineage of lines as ``str`` (as lines frames hold it), one name a sheet
        with_rows = [s for s in sheets if len(s.frame)]
        sheet_no = np.repeat(np.arange(len(with_rows)), [len(s.frame) for s in with_rows])
        for c, names in (("_file", [s.file for s in with_rows]), ("_sheet", [s.sheet for s in with_rows])):
            raw[c] = pd.Series(pd.array(names, dtype="str").take(sheet_no), index=raw.index)
        if raw["source"].dtype == "str":  # in one piece, not a piece a sheet: a later take would join them each time
            raw["source"] = pd.Series(pa.chunked_array(pa.array(raw["source"].array)).combine_chunks(), dtype="str",
                                      index=raw.index)
    if chk.release:  # ``raw`` holds the cells now
        for s in sheets:
            s.release()
    for col in columns_for(kind, dims):
        if col.required:
            for (f, s), letters in present_by_sheet.items():
                if col.name not in letters:
                    chk.add(Finding(ERROR, f"Sheet {s} has no column {col.name!r}, which is required.",
                                    hint=f"Add a column headed {col.name} on row 1 ({expected(col)}).", file=f,
                                    sheet=s, cell="1", column=col.name, code="missing-column"))
        cells = raw[col.name] if col.name in raw else pd.Series(None, index=raw.index, dtype=object)
        values, bad = parse(cells, col, text, combined(coded[col.name]) if col.name in coded else None,
                            _joined(texts[col.name]) if col.name in texts else None)
        if bad.any():
            huge = bad & too_large(cells, col)
            limit = "1,000,000,000,000,000 (15 digits, the most Excel keeps exactly)" if col.type == "number" \
                else "1,000,000,000"
            chk.rows(raw, huge, col.name, f"{{value}} is too large for column {col.name}: it must stay below {limit}.",
                     hint="Check the cell for a typing or export error.", code="too-large")
            chk.rows(raw, bad & ~huge, col.name, f"{{value}} is not {expected(col)} (column {col.name}).",
                     hint=f"Enter {expected(col)} in this cell.", code="bad-type")
        if col.value_required:
            blank = values.isna().to_numpy() & ~bad
            if is_text(col):
                blank |= (values == "").to_numpy() & ~bad
            if blank.any():
                chk.rows(raw, blank, col.name, f"{col.name} is empty; every {kind} row needs one.",
                         hint=f"Fill in {col.name} ({expected(col)}).", code="blank")
            bad = bad | blank
        ok &= ~bad
        typed[col.name] = values
    return pd.DataFrame({**dict(raw.items()), **typed, "_ok": ok}, index=raw.index, copy=False)


def _coded(sheets: list) -> dict:
    """Column -> the ``(codes, uniques)`` of each sheet (:attr:`closebatch.io.reader.RawSheet.coded`;
    a sheet without the column is blank there), for the columns the reader coded in every sheet
    that has them."""
    blank = np.array([None], dtype=object)
    return _each_sheet(sheets, "coded", lambda n: (np.zeros(n, dtype=np.int8), blank))


def _texts(sheets: list) -> dict:
    """Column -> its text in each sheet as Arrow has it (null where a sheet lacks the column),
    for the columns fastexcel gave as text in every sheet that has them
    (:attr:`closebatch.io.reader.RawSheet.texts`)."""
    return _each_sheet(sheets, "texts", lambda n: pa.nulls(n, pa.large_string()))


def _each_sheet(sheets: list, side: str, absent) -> dict:
    """Column -> what each sheet with rows holds of it in its ``side`` dict (``absent(rows)``
    for a sheet without the column), for the columns every sheet that has them holds there."""
    sheets = [s for s in sheets if len(s.frame)]
    names = {c for s in sheets for c in getattr(s, side)}
    return {c: [getattr(s, side)[c] if c in getattr(s, side) else absent(len(s.frame)) for s in sheets]
            for c in names if all(c in getattr(s, side) or c not in s.frame.columns for s in sheets)}


def _joined(parts: list):
    """One Arrow text array of ``parts`` (:func:`_texts`)."""
    return pa.concat_arrays([p.cast(pa.large_string()) for p in parts])


#: The value rules' comparisons, by the name of Pandera's built-in check that states them.
_COMPARE = {"gt": operator.gt, "ge": operator.ge}


def _value_rules(df: pd.DataFrame, rules: dict, chk: Checker) -> None:
    """Per-column value rules on the rows whose cells typed; each failure reported at its cell.
    ``rules`` maps a column to ``(checks, message, hint)``, a check being the name and bound of
    one of Pandera's built-in checks (``("gt", 0)``: ``pa.Check.gt(0)``); a blank cell passes.
    Each check is first evaluated on its whole column as the plain comparison it states
    (vectorised); the Pandera schema then validates lazily the rows that failed one, and its
    failure cases are mapped back to cells.  A clean book never pays for the schema machinery,
    nor for importing Pandera (a quarter of a second at every command)."""
    if not len(df) or not rules:
        return
    ok = df["_ok"].to_numpy()
    suspect = np.zeros(len(df), dtype=bool)
    for col, (checks, _message, _hint) in rules.items():
        values = df[col].to_numpy()
        idx = np.flatnonzero(ok & pd.notna(values))
        for name, bound in checks:
            passed = _COMPARE[name](values[idx], bound)
            suspect[idx[~passed]] = True
    if not suspect.any():
        return
    import pandera.pandas as pa

    sub = df[suspect]
    schema = pa.DataFrameSchema({c: pa.Column(None, checks=[getattr(pa.Check, name)(bound) for name, bound in checks],
                                              nullable=True, unique=False)
                                 for c, (checks, _m, _h) in rules.items()}, strict=False)
    try:
        schema.validate(sub, lazy=True)
    except pa.errors.SchemaErrors as e:
        fc = e.failure_cases
        fc = fc[fc["index"].notna()]
        for col, index, value in fc[["column", "index", "failure_case"]].itertuples(index=False):  # failures only
            r = sub.loc[int(index)]
            _checks, message, hint = rules[col]
            chk.add(Finding(ERROR, message.format(value=value), hint=hint, file=r["_file"], sheet=r["_sheet"],
                            cell=chk.cell(r["_file"], r["_sheet"], r["_row"], col), column=col, value=str(value),
                            code="bad-value"))
        df.loc[fc["index"].astype(int).unique(), "_ok"] = False


def _duplicates(df: pd.DataFrame, key: list, chk: Checker, what: str) -> None:
    sub = df[df["_ok"]]
    dup = sub.duplicated(key, keep="first")
    if dup.any():
        first = sub[~dup].set_index(key)["source"] if len(key) > 1 else sub[~dup].set_index(key[0])["source"]
        def msg(r):
            k = tuple(r[c] for c in key) if len(key) > 1 else r[key[0]]
            return f"{what} {k if len(key) > 1 else repr(k)} appears twice (first at {first.get(k, '?')})."
        chk.rows(sub, dup.to_numpy(), key[0], msg, hint=f"Each {what} may appear only once: delete or rename one.",
                 code="duplicate")


def _settings(sheets: list, chk: Checker) -> tuple[Settings, dict]:
    df = _typed("Settings", sheets, (), chk)
    df["key"] = df["key"].map(norm_header)
    _duplicates(df, ["key"], chk, "Setting")
    values, origin = {}, {}
    for _, r in df[df["_ok"]].iterrows():  # a handful of settings rows
        values[r["key"]] = r["value"]
        origin[r["key"]] = (r["_file"], r["_sheet"], int(r["_row"]))
        if r["key"] not in KNOWN_SETTINGS:
            chk.add(Finding(WARNING, f"Unknown setting {r['key']!r} is ignored.",
                            hint="Check the spelling against the list of settings in the books format.",
                            file=r["_file"], sheet=r["_sheet"], cell=chk.cell(r["_file"], r["_sheet"], r["_row"], "key"),
                            column="key", value=r["key"], code="unknown-setting"))
    kw = {k: values.get(k, "") for k in ACCOUNT_SETTINGS}

    def bad(key, why, hint):
        f, s, row = origin[key]
        chk.add(Finding(ERROR, f"Setting {key}: {why}", hint=hint, file=f, sheet=s, cell=chk.cell(f, s, row, "value"),
                        column="value", value=str(values.get(key, "")), code="bad-setting"))
    tol = Decimal("0.05")
    if values.get("rounding_tolerance", ""):
        try:
            tol = Decimal(str(values["rounding_tolerance"]))
            if tol < 0:
                raise InvalidOperation
        except InvalidOperation:
            bad("rounding_tolerance", "is not a non-negative number.", "Enter an amount such as 0.05.")
            tol = Decimal("0.05")
    rev = values.get("reverse_revaluation", "").strip().lower()
    if rev not in ("", "y", "yes", "true", "1", "n", "no", "false", "0"):
        bad("reverse_revaluation", "must be Y or N.", "Enter Y or N.")
    rtype = (values.get("revaluation_rate_type", "") or "closing").strip().lower()
    if rtype not in ("spot", "closing", "average"):
        bad("revaluation_rate_type", "must be spot, closing or average.", "Enter closing (the usual choice).")
        rtype = "closing"
    dims = _dimensions(values.get("dimensions", ""), bad)
    st = Settings(group_currency=values.get("group_currency", "").strip().upper(), dimensions=dims,
                  rounding_tolerance=tol, reverse_revaluation=rev in ("y", "yes", "true", "1"),
                  revaluation_rate_type=rtype, origin=origin, **kw)
    return st, origin


def _reserved_columns() -> set:
    from .core import line_columns
    from .schema import SCHEMAS

    names = {c.name for cols in SCHEMAS.values() for c in cols} | set(line_columns(()))
    return names | {"source", "fingerprint", "posted", "period", "balance", "balance_acct", "amount_group",
                    "journal_type", "origin", "reverse_on", "prepared_by", "converted", "given_acct"}


def _dimensions(text: str, bad) -> tuple[str, ...]:
    """The ``dimensions`` setting: names that can be columns next to the format's own
    (a letter first, then letters, digits or underscores; not a column the format already
    has; each once).  A name that cannot be is reported and left out."""
    import re

    out: list[str] = []
    reserved = _reserved_columns()
    for raw in str(text or "").split(","):
        d = norm_header(raw)
        if not d:
            continue
        why = ("is not a usable column name (start with a letter; then letters, digits or underscores)"
               if not re.fullmatch(r"[^\W\d_]\w{0,30}", d) else
               "is already a column of the books format" if d in reserved or d.startswith("to_") else
               "is given twice" if d in out else "")
        if why:
            bad("dimensions", f"the dimension {raw.strip()!r} {why}.", "Name each dimension once, e.g. department, "
                "cost_center; names such as account or date are taken.")
            continue
        out.append(d)
    return tuple(out)


def _lines(kind: str, df: pd.DataFrame, book_ctx: dict, chk: Checker, dims) -> pd.DataFrame:
    """TrialBalance or Journals rows (typed, text as ``str``) -> a lines frame with minor units."""
    ent_ccy = book_ctx["entity_currency"]
    at, entities = pd.factorize(df["entity"], use_na_sentinel=False)
    currencies = [ent_ccy.get(e, "") for e in entities]
    acct_ccy = pd.Series(pd.array(currencies, dtype="str").take(at), index=df.index)
    ccy = df["currency"]
    tx_scale = money.scales(ccy)
    ac_scale = money.scales([c or "USD" for c in currencies]).take(at)
    if kind == "TrialBalance":
        value = df["balance"].fillna(0).to_numpy(dtype="float64")
        given = df["balance_acct"].notna().to_numpy()
        acct_value = df["balance_acct"].to_numpy(dtype="float64")
        amount_col, acct_col = "balance", "balance_acct"
    else:
        value = df["debit"].fillna(0).to_numpy(dtype="float64") - df["credit"].fillna(0).to_numpy(dtype="float64")
        given = df["amount_acct"].notna().to_numpy()
        acct_value = df["amount_acct"].to_numpy(dtype="float64")
        amount_col, acct_col = ("debit", "amount_acct")
    big = money.too_large(value, tx_scale) | (given & money.too_large(np.nan_to_num(acct_value), ac_scale))
    ok = df["_ok"].to_numpy()
    chk.rows(df, big & ok, amount_col if kind == "TrialBalance" else "debit",
             lambda r: f"The amount of this line is too large: closebatch takes amounts below "
                       f"{money.fmt(money.MAX_MINOR, money.scale_of(r['currency']))} {r['currency']} (15 digits, the "
                       "most Excel keeps exactly).", hint="Check the cell for a typing or export error.",
             code="too-large")
    ok = ok & ~big
    amount, prec = money.to_minor(value, tx_scale)
    chk.rows(df, prec & ok, amount_col,
             lambda r: f"{r[amount_col] if kind == 'TrialBalance' else value_of(r)} has more decimals than "
                       f"{r['currency']} allows ({money.scale_of(r['currency'])}).",
             hint="Round the amount to the currency's minor unit.", code="too-precise")
    acct_minor, prec2 = money.to_minor(np.nan_to_num(acct_value), ac_scale)
    chk.rows(df, prec2 & given & ok, acct_col,
             lambda r: f"{r[acct_col]} has more decimals than the accounting currency allows.",
             hint="Round the amount to the accounting currency's minor unit.", code="too-precise")
    ok &= ~prec & ~(prec2 & given)
    foreign = ((ccy != acct_ccy) & (acct_ccy != "")).to_numpy()
    converted = np.zeros(len(df), dtype=bool)
    if kind == "TrialBalance":
        need = foreign & ~given & ok
        has_col = all("balance_acct" in chk.letters.get((f, sh), {}) for f, sh in
                      df[["_file", "_sheet"]].drop_duplicates().itertuples(index=False))
        chk.rows(df, need, "balance_acct" if has_col else "currency", lambda r: f"The {r['currency']} balance of {r['entity']} {r['account']} needs "
                 f"balance_acct: {r['entity']} keeps its books in {ent_ccy.get(r['entity'], '?')}.",
                 hint="Enter the balance in the entity's accounting currency in balance_acct.", code="missing-acct")
        ok &= ~need
        same = ~foreign & given & ok & (acct_minor != amount)
        chk.rows(df, same, "balance_acct", lambda r: f"balance_acct {r['balance_acct']} differs from balance "
                 f"{r['balance']}, though the currency is the accounting currency.",
                 hint="Make them equal, or leave balance_acct blank.", code="acct-mismatch")
        amount_acct = np.where(given, acct_minor, amount)
    else:
        same = ~foreign & given & ok & (acct_minor != amount)
        chk.rows(df, same, "amount_acct", lambda r: f"amount_acct {r['amount_acct']:g} differs from the line's amount "
                 f"{value_of(r, signed=True)} (debit − credit), though {r['currency']} is the accounting currency of "
                 f"{r['entity']}.", hint="Make amount_acct equal the debit (positive) or the credit (negative), or "
                 "leave it blank.", code="acct-mismatch")
        ok &= ~same
        amount_acct = np.where(given, acct_minor, np.where(foreign, 0, amount))
        conv = foreign & ~given & ok
        if conv.any():
            lk = rates_mod.lookup(book_ctx["rates"], ccy[conv].to_numpy(dtype=object),
                                  acct_ccy[conv].to_numpy(dtype=object), df["date"].to_numpy()[conv], "spot")
            found = lk["found"].to_numpy()
            idx = np.flatnonzero(conv)
            miss = np.zeros(len(df), dtype=bool)
            miss[idx[~found]] = True
            chk.rows(df, miss, "currency", lambda r: f"No spot rate {r['currency']}→{ent_ccy.get(r['entity'])} on or "
                     f"before {r['date']:%Y-%m-%d} to convert this line (journal {r['journal']}).",
                     hint="Add a spot rate for the pair dated on or before the line's date to a Rates sheet, or "
                          "enter amount_acct.", code="missing-rate")
            amount_acct[idx[found]] = money.convert(amount[idx[found]], lk["rate"].to_numpy()[found],
                                                    tx_scale[idx[found]], ac_scale[idx[found]],
                                                    lk["inverse"].to_numpy()[found])
            converted[idx[found]] = True
            ok &= ~miss
    if kind == "Journals":
        jtype = df["type"].where(df["type"] != "", "daily")
        journal = df["journal"]
        line = df["line"].to_numpy(dtype="float64")
        if np.isnan(line).any():  # unnumbered lines are numbered 1, 2, ... within their journal
            line = np.where(np.isnan(line), df.groupby("journal").cumcount().to_numpy() + 1, line)
        line = line.astype("int64")
        date = df["date"]
        description = df["description"]
    else:
        jtype, journal, line = "opening", "OPENING", np.arange(1, len(df) + 1)
        date = book_ctx["first_start"]
        description = None
    lines = make_lines(dims, journal=journal, line=line, date=date, entity=df["entity"], account=df["account"],
                       currency=ccy, amount=amount, amount_acct=amount_acct, counterparty=df["counterparty"],
                       reference=df["reference"], journal_type=jtype, description=description, source=df["source"],
                       **{d: df[d] for d in dims})
    for c in ("_file", "_sheet"):  # (``str`` already, see _typed)
        lines[c] = df[c].array
    lines["_row"] = df["_row"].to_numpy()
    lines["_ok"] = ok
    lines["given_acct"] = given | ~foreign
    lines["converted"] = converted
    if kind == "Journals":
        lines["posted"] = df["posted"].to_numpy(dtype=bool)
        lines["reverse_on"] = df["reverse_on"].to_numpy()
        lines["prepared_by"] = df["prepared_by"].array
        lines["debit"] = df["debit"].to_numpy()
        lines["credit"] = df["credit"].to_numpy()
    return lines


def value_of(r, signed: bool = False) -> str:
    d, c = r.get("debit"), r.get("credit")
    debit = d is not None and not (isinstance(d, float) and np.isnan(d)) and d != 0
    if signed:
        return f"{d:g}" if debit else f"{-c:g}"
    return str(d if debit else c)


def safe_period_code(code) -> bool:
    """A period code is a name, never a path (spec section 2, Periods): letters, digits,
    space, ``-``, ``_`` and ``.``, at most 31 characters, not ``.`` or ``..``."""
    import re

    code = str(code)
    return re.fullmatch(r"[\w .-]{1,31}", code) is not None and code not in (".", "..")


MIN_RATE = 1 / 1e15  # the inverse of the largest number a cell may hold
PLAUSIBLE_RATES = (1e-6, 1e6)


def _rate_magnitudes(rts: pd.DataFrame, chk: Checker) -> None:
    """A rate below :data:`MIN_RATE` is refused as a rate of 10^15 or more is (its inverse
    would be one); a rate outside :data:`PLAUSIBLE_RATES` earns a warning."""
    if not len(rts):
        return
    ok = rts["_ok"].to_numpy() & rts["rate"].notna().to_numpy() & (rts["rate"] > 0).to_numpy()
    rate = rts["rate"].to_numpy(dtype="float64")
    tiny = ok & (rate < MIN_RATE)
    chk.rows(rts, tiny, "rate", "Rate {value} is too small: closebatch takes rates from 10^-15 to 10^15 (its inverse "
             "would be too large to convert with).", hint="Check the cell for a typing or export error.",
             code="too-small")
    rts.loc[tiny, "_ok"] = False
    odd = ok & ~tiny & ((rate < PLAUSIBLE_RATES[0]) | (rate > PLAUSIBLE_RATES[1]))
    chk.rows(rts, odd, "rate", lambda r: f"Rate {r['rate']:g} ({r['from']}→{r['to']}) is implausible: 1 {r['from']} "
             f"= {r['rate']:g} {r['to']}; real exchange rates lie between 0.000001 and 1,000,000.",
             hint="Check the direction (from → to) and the units of the rate.", severity=WARNING,
             code="implausible-rate")


def _opening_twice(opening: pd.DataFrame, chk: Checker, dims) -> None:
    """The same opening balance (entity, account, dimensions, currency, counterparty,
    reference) in two TrialBalance sheets is an error naming both cells, whatever the rows'
    order or the sheets' other columns; the second is left out of the close."""
    if not len(opening):
        return
    key = ["entity", "account", *dims, "currency", "counterparty", "reference"]
    ok = opening["_ok"].to_numpy()
    sub = opening.loc[ok, key + ["_file", "_sheet", "_row", "amount"]]
    sheet = pd.factorize(pd.MultiIndex.from_arrays([sub["_file"], sub["_sheet"]]))[0]
    sub = sub.assign(_s=sheet)
    firsts = sub.drop_duplicates(key + ["_s"])  # each balance once per sheet
    again = firsts.duplicated(key, keep="first")
    if not again.any():
        return
    first = firsts[~again].set_index(key)
    dups = firsts[again.to_numpy()]
    for _, r in dups.iterrows():  # duplicates only
        f = first.loc[tuple(r[c] for c in key)]
        where = f"{f['_file']}!{f['_sheet']}!{chk.cell(f['_file'], f['_sheet'], f['_row'], 'balance')}"
        what = " ".join(str(r[c]) for c in ["entity", "account", *dims, "currency", "counterparty", "reference"]
                        if str(r[c]))
        chk.add(Finding(ERROR, f"The opening balance {what} is given in two TrialBalance sheets: here and at {where}. "
                        "Both would count, doubling the balance.", hint="Keep the balance in one TrialBalance sheet "
                        "(remove the duplicate workbook or row).", file=r["_file"], sheet=r["_sheet"],
                        cell=chk.cell(r["_file"], r["_sheet"], r["_row"], "balance"), column="balance",
                        value=str(money.fmt(int(r["amount"]), money.scale_of(r["currency"]))), code="opening-twice"))
    cols = key + ["_file", "_sheet"]
    again_rows = pd.MultiIndex.from_frame(opening[cols]).isin(pd.MultiIndex.from_frame(dups[cols]))
    opening.loc[again_rows, "_ok"] = False  # the later sheets' copies are left out


def _posted_in_part(journals: pd.DataFrame, pairs: np.ndarray, chk: Checker, aside: list) -> None:
    """All lines of a journal (per entity) share one ``posted`` value; a journal posted in
    part is an error naming its rows (a mask of its lines is added to ``aside``).  ``pairs``:
    each line's journal and entity as one integer (:func:`_journal_codes`)."""
    if not len(journals):
        return
    posted = journals["posted"].to_numpy(dtype=bool)
    count, yes = np.bincount(pairs), np.bincount(pairs, weights=posted)
    mixed = (yes > 0) & (yes < count)
    if not mixed.any():
        return
    rows = mixed[pairs]
    sub = journals[rows]
    for _, lines in sub.groupby(pairs[rows], sort=False):  # one finding per journal posted in part
        yes = lines[lines["posted"].to_numpy(dtype=bool)]
        no = lines[~lines["posted"].to_numpy(dtype=bool)]
        odd = (yes if len(yes) <= len(no) else no).iloc[0]
        show = lambda part: ", ".join(str(int(x)) for x in part["_row"])  # noqa: E731
        chk.add(Finding(ERROR, f"Journal {odd['journal']} ({odd['entity']}) is posted in part: posted = Y on row(s) "
                        f"{show(yes)} of {odd['_sheet']}, N on row(s) {show(no)}. A journal is posted whole or not at "
                        "all.", hint="Give every line of the journal the same posted value.", file=odd["_file"],
                        sheet=odd["_sheet"], cell=chk.cell(odd["_file"], odd["_sheet"], odd["_row"], "posted"),
                        column="posted", value="Y" if bool(odd["posted"]) else "N", code="posted-in-part"))
    aside.append(rows)


def load_book(read: ReadResult, release: bool = False) -> tuple[Book | None, list[Finding]]:
    """Type and validate everything read.  Returns ``(book, findings)``; ``book`` is None only
    when the master data (entities, accounts, periods) is too broken to go on.  ``release``:
    let the cells of each kind of sheet go as soon as they are typed (``read`` then names the
    sheets read, with no rows; the book holds what it needs), so a million journal lines are
    never held twice."""
    letters = {(s.file, s.sheet): s.letters for s in read.sheets}
    chk = Checker(letters, release)
    chk.findings.extend(read.findings)
    for kind in ("Entities", "Accounts", "Periods"):
        if not read.frames(kind):
            chk.add(Finding(ERROR, f"No {kind} sheet was found in the books folder.",
                            hint=f"Add a workbook with a sheet named {kind} (see templates/{kind}.xlsx, or run "
                                 "closebatch init).", sheet=kind, code="missing-sheet"))
        elif not any(len(s.frame) for s in read.frames(kind)):
            s = read.frames(kind)[0]
            chk.add(Finding(ERROR, f"The {kind} sheet has no rows.", hint=f"Fill in the {kind} sheet below its "
                            "header row.", file=s.file, sheet=s.sheet, cell="A2", code="empty-sheet"))
    settings, origin = _settings(read.frames("Settings"), chk)
    dims = settings.dimensions

    # --- master data
    ents = _typed("Entities", read.frames("Entities"), dims, chk)
    _duplicates(ents, ["entity"], chk, "Entity")
    accs = _typed("Accounts", read.frames("Accounts"), dims, chk)
    _duplicates(accs, ["account"], chk, "Account")
    accs["translation"] = np.where(accs["translation"] == "", accs["type"].map(DEFAULT_TRANSLATION).fillna(""),
                                   accs["translation"])
    accs["statement_line"] = np.where(accs["statement_line"] == "", accs["name"], accs["statement_line"])
    pers = _typed("Periods", read.frames("Periods"), dims, chk)
    _duplicates(pers, ["period"], chk, "Period")
    chk.rows(pers, pers["_ok"].to_numpy() & ~pers["period"].map(safe_period_code).to_numpy(dtype=bool), "period",
             "Period code {value!r} cannot be used: a period code is a name, never a path (letters, digits, spaces, "
             "-, _ and ., at most 31 characters, not . or ..); it names the period's output folder and its workbook "
             "in ledger/.", hint="Rename the period, e.g. 2026-02.", code="period-code")
    entity_set = set(ents.loc[ents["_ok"], "entity"])
    account_set = set(accs.loc[accs["_ok"], "account"])
    ent_ccy = dict(zip(ents.loc[ents["_ok"], "entity"], ents.loc[ents["_ok"], "currency"]))

    chk.rows(ents, (ents["parent"] != "") & ~ents["parent"].isin(entity_set) & ents["_ok"], "parent",
             "Parent {value!r} is not an entity of the Entities sheet.", hint="Use an entity code from the entity "
             "column, or leave parent blank for the top of the group.", code="unknown-entity")
    chk.rows(ents, (ents["parent"] == ents["entity"]) & ents["_ok"], "parent", "An entity cannot be its own parent.",
             hint="Leave parent blank for the top of the group.", code="bad-parent")
    tops = ents[(ents["parent"] == "") & ents["_ok"]]
    if len(ents) and len(tops) != 1 and not settings.group_currency:
        chk.add(Finding(ERROR, f"The group has {len(tops)} entities without a parent, so the group currency is not "
                        "clear.", hint="Give every entity but the top one a parent, or set group_currency in Settings.",
                        sheet="Entities", code="group-currency"))
    group_currency = settings.group_currency or (tops["currency"].iloc[0] if len(tops) else "")
    if settings.group_currency and settings.group_currency not in money_iso():
        f, s, row = origin["group_currency"]
        chk.add(Finding(ERROR, f"group_currency {settings.group_currency!r} is not an ISO 4217 currency code.",
                        hint="Enter a code such as USD or EUR.", file=f, sheet=s, cell=chk.cell(f, s, row, "value"),
                        column="value", value=settings.group_currency, code="bad-setting"))
    settings = _replace(settings, group_currency=group_currency)
    for key in ACCOUNT_SETTINGS:
        v = getattr(settings, key)
        if v and account_set and v not in account_set:
            f, s, row = origin[key]
            chk.add(Finding(ERROR, f"Setting {key} names account {v!r}, which is not in the Accounts sheet.",
                            hint="Use an account code from the chart of accounts.", file=f, sheet=s,
                            cell=chk.cell(f, s, row, "value"), column="value", value=v, code="unknown-account"))

    # --- the calendar
    pers = pers.sort_values("start", kind="stable").reset_index(drop=True)
    good = pers["_ok"].to_numpy()
    chk.rows(pers, good & (pers["end"] < pers["start"]).to_numpy(), "end", "Period {period} ends before it starts.",
             hint="Correct the start or end date.", code="bad-period")
    pg = pers[good]
    if len(pg) > 1:
        nxt = pg["start"].shift(-1)
        gap = (nxt.notna() & (nxt != pg["end"] + pd.Timedelta(days=1))).to_numpy()
        chk.rows(pg, gap, "end", lambda r: f"Period {r['period']} ends {r['end']:%Y-%m-%d} but the next period does "
                 f"not start the day after: periods must not overlap or leave a gap.",
                 hint="Make each period start the day after the previous one ends.", code="calendar-gap")
    pers["fiscal_year"] = pers["fiscal_year"].fillna(pers["end"].dt.year).fillna(0).astype("int64") if len(pers) else \
        pers["fiscal_year"]
    pers["year_end"] = (pers["fiscal_year"] != pers["fiscal_year"].shift(-1)).to_numpy() if len(pers) else []
    if len(pers):
        # The calendar's last period ends a fiscal year only when that year looks complete:
        # it spans about a year, or it ends on 31 December.
        last = pers.index[-1]
        fy_start = pers.loc[pers["fiscal_year"] == pers.at[last, "fiscal_year"], "start"].min()
        end = pers.at[last, "end"]
        pers.at[last, "year_end"] = bool(pd.notna(end) and pd.notna(fy_start) and
                                         ((end - fy_start).days >= 360 or (end.month, end.day) == (12, 31)))
    first_start = pg["start"].iloc[0] if len(pg) else pd.Timestamp("1900-01-01")
    last_end = pg["end"].iloc[-1] if len(pg) else pd.Timestamp("1900-01-01")
    period_set = set(pg["period"])

    # --- rates
    rts = _typed("Rates", read.frames("Rates"), dims, chk)
    _value_rules(rts, {"rate": ([("gt", 0)], "Rate {value} must be greater than zero.",
                                "Enter 1 unit of `from` in `to`, e.g. 1.0842.")}, chk)
    _rate_magnitudes(rts, chk)
    rg = rts[rts["_ok"]]
    clash = rg.duplicated(["from", "to", "date", "type"], keep=False) & \
        ~rg.duplicated(["from", "to", "date", "type", "rate"], keep=False)
    chk.rows(rg, clash.to_numpy(), "rate", lambda r: f"Two different {r['type']} rates {r['from']}→{r['to']} dated "
             f"{r['date']:%Y-%m-%d}.", hint="Keep one rate per pair, type and date.", code="duplicate-rate")
    rates = rg[["from", "to", "date", "rate", "type", "source"]].reset_index(drop=True)

    # --- opening balances and journals
    ctx = {"entity_currency": ent_ccy, "rates": rates, "first_start": first_start}
    tb = _typed("TrialBalance", read.frames("TrialBalance"), dims, chk)
    jr = _typed("Journals", read.frames("Journals"), dims, chk)
    _value_rules(jr, {"debit": ([("ge", 0)], "Debit {value} is negative.", "Debits and credits are "
                                "positive: put a negative debit in the credit column as a positive amount."),
                      "credit": ([("ge", 0)], "Credit {value} is negative.", "Debits and credits are "
                                 "positive: put a negative credit in the debit column as a positive amount.")}, chk)
    _references(tb, "TrialBalance", chk, entity_set, account_set, dims)
    _references(jr, "Journals", chk, entity_set, account_set, dims)
    _journal_lines(jr, chk, first_start, last_end)
    opening = _lines("TrialBalance", tb, ctx, chk, dims) if len(tb) else make_lines(dims)
    journals = _lines("Journals", jr, ctx, chk, dims) if len(jr) else _empty_journals(dims)
    del tb, jr  # the lines frames hold what is needed of them
    _opening_sums(opening, chk, ent_ccy)
    _opening_twice(opening, chk, dims)
    _total_bound([opening, journals], chk)
    numbers = pd.factorize(journals["journal"])  # journal numbers as integer codes, for the checks below
    entities = pd.factorize(journals["entity"])
    aside: list = []
    journals = _balance_journals(journals, numbers[0], entities[0], chk, settings, ent_ccy, dims, aside)
    codes, pairs = _journal_codes(journals, numbers, entities)
    _journal_identity(journals, codes, numbers[1], pairs, chk, pg)
    _posted_in_part(journals, pairs, chk, aside)
    for mask in aside:  # lines of journals with an error: not ``_ok``, left out of the close's checks
        journals.loc[np.pad(mask, (0, len(journals) - len(mask))), "_ok"] = False

    # --- the other kinds: typed; their rules are checked by the steps that use them
    others = {}
    for kind, key in (("Allocations", None), ("Statistics", None), ("Eliminations", None),
                      ("HistoricalRates", ["entity", "account"]), ("Subledgers", None), ("Tasks", ["task"]),
                      ("Checklist", ["task", "period"]), ("Users", ["user", "group"]),
                      ("Statements", ["statement", "row"])):
        df = _typed(kind, read.frames(kind), dims, chk)
        if key:
            _duplicates(df, key, chk, kind[:-1] if kind.endswith("s") else kind)
        _references(df, kind, chk, entity_set, account_set, dims, period_set)
        others[kind] = df
    st = others["Statistics"]
    chk.rows(st, st["_ok"].to_numpy() & (st["value"] < 0).to_numpy(), "value",
             lambda r: f"Statistic {r['name']} is negative ({r['value']:g}): an allocation by it gives its destination a "
                       "negative share (and the others more than the whole).",
             hint="Check the value; a basis is a count or a size, zero or more.", severity=WARNING,
             code="negative-statistic")
    hr = others["HistoricalRates"]
    both = hr["_ok"] & hr["rate"].notna() & hr["amount_group"].notna()
    neither = hr["_ok"] & hr["rate"].isna() & hr["amount_group"].isna()
    chk.rows(hr, both, "rate", "Give either rate or amount_group, not both.", hint="Clear one of the two cells.",
             code="historical-both")
    chk.rows(hr, neither, "rate", "Give a rate or an amount_group.", hint="Enter the historical rate (entity "
             "currency → group currency) or the translated amount.", code="historical-none")

    book = Book(settings=settings, entities=_clean(ents), accounts=_clean(accs), periods=_clean(pers),
                opening=opening, journals=journals, rates=rates,
                allocations=_clean(others["Allocations"]), statistics=_clean(others["Statistics"]),
                eliminations=_clean(others["Eliminations"]), historical_rates=_clean(others["HistoricalRates"]),
                subledgers=_clean(others["Subledgers"]), tasks=_clean(others["Tasks"]), users=_clean(others["Users"]),
                statements=_clean(others["Statements"]), columns=letters,
                checklist=_clean(others["Checklist"]) if read.frames("Checklist") else None)
    from .checklist import checklist_findings, task_findings  # dependency cycles, unknown task ids, sign-offs

    chk.findings.extend(task_findings(book))
    chk.findings.extend(checklist_findings(book))
    return book, chk.findings


def money_iso():
    from .parse import _iso_currencies

    return _iso_currencies()


def _replace(settings: Settings, **kw) -> Settings:
    from dataclasses import replace

    return replace(settings, **kw)


def _clean(df: pd.DataFrame) -> pd.DataFrame:
    """Keep the rows whose cells all typed; the findings already name the others."""
    if "_ok" not in df:
        return df
    return df[df["_ok"].astype(bool)].drop(columns="_ok").reset_index(drop=True)


def _empty_journals(dims) -> pd.DataFrame:
    j = make_lines(dims)
    for c, dt_ in (("posted", bool), ("reverse_on", "datetime64[ns]"), ("prepared_by", object), ("debit", float),
                   ("credit", float), ("given_acct", bool), ("converted", bool), ("_ok", bool), ("_file", object),
                   ("_sheet", object), ("_row", "int64")):
        j[c] = pd.Series([], dtype=dt_)
    return j


def _references(df, kind, chk, entity_set, account_set, dims, period_set=None) -> None:
    if not len(df):
        return
    ok = df["_ok"].to_numpy()
    ent_hint = "Use an entity code from the Entities sheet."
    acc_hint = "Use an account code from the Accounts sheet, or add the account there."
    for col in ("entity", "counterparty", "parent"):
        if col in df and (kind != "Entities"):
            bad = ok & (df[col] != "").to_numpy() & ~df[col].isin(entity_set).to_numpy()
            what = "Counterparty" if col == "counterparty" else "Entity"
            chk.rows(df, bad, col, what + " {value!r} is not in the Entities sheet.", hint=ent_hint,
                     code="unknown-entity")
            if col == "entity":
                df.loc[bad, "_ok"] = False
    for col in ("account", "control_account", "difference_account", "destination_account", "offset_account"):
        if col in df and kind not in ("Accounts", "Eliminations") or (kind == "Eliminations" and col ==
                                                                       "difference_account"):
            if col not in df:
                continue
            bad = ok & (df[col] != "").to_numpy() & ~df[col].isin(account_set).to_numpy()
            chk.rows(df, bad, col, "Account {value!r} is not in the chart of accounts.", hint=acc_hint,
                     code="unknown-account")
            if kind in ("TrialBalance", "Journals"):
                df.loc[bad, "_ok"] = False
    if period_set is not None and "period" in df:
        bad = ok & (df["period"] != "").to_numpy() & ~df["period"].isin(period_set).to_numpy()
        chk.rows(df, bad, "period", "Period {value!r} is not in the Periods sheet.",
                 hint="Use a period code from the Periods sheet.", code="unknown-period")


def _journal_lines(jr, chk, first_start, last_end) -> None:
    """Each journal line has a debit or a credit (not both), a date inside the calendar and a
    reversal date after it."""
    if not len(jr):
        return
    d, c = jr["debit"].fillna(0), jr["credit"].fillna(0)
    ok = jr["_ok"].to_numpy()
    both = ok & (d != 0).to_numpy() & (c != 0).to_numpy()
    none = ok & (d == 0).to_numpy() & (c == 0).to_numpy()
    chk.rows(jr, both, "debit", "The line has both a debit ({debit}) and a credit ({credit}).",
             hint="Put the amount in one column only; split it into two lines if both are meant.", code="debit-credit")
    chk.rows(jr, none, "debit", "The line has neither a debit nor a credit.",
             hint="Enter the amount as a debit or a credit, or delete the line.", code="debit-credit")
    jr.loc[both | none, "_ok"] = False
    out = ok & ((jr["date"] < first_start) | (jr["date"] > last_end)).to_numpy()
    chk.rows(jr, out, "date", lambda r: f"Date {r['date']:%Y-%m-%d} is outside the calendar "
             f"({first_start:%Y-%m-%d} to {last_end:%Y-%m-%d}).", hint="Correct the date, or add the period to "
             "the Periods sheet.", code="outside-calendar")
    rv = jr["reverse_on"]
    bad_rev = ok & rv.notna().to_numpy() & ((rv <= jr["date"]) | (rv > last_end)).to_numpy()
    chk.rows(jr, bad_rev, "reverse_on", lambda r: f"reverse_on {r['reverse_on']:%Y-%m-%d} must be after the line's "
             f"date {r['date']:%Y-%m-%d} and inside the calendar.", hint="Enter the date the reversal should post, "
             "usually the first day of the next period.", code="bad-reverse-on")
    jr.loc[out | bad_rev, "_ok"] = False


def _total_bound(frames, chk) -> None:
    """Sums of int64 minor units must not overflow: the books' amounts together stay below
    about 10^18 minor units (each is below 10^15 already)."""
    total = sum(float(np.abs(f[c].to_numpy(dtype="float64")).sum()) for f in frames if len(f)
                for c in ("amount", "amount_acct"))
    if total >= 2.0 ** 60:
        chk.add(Finding(ERROR, f"The amounts of the books add up to {total:.3g} minor units, beyond what closebatch "
                        "adds up exactly.", hint="Look for amounts typed with extra digits, or an export in the wrong "
                        "unit.", code="too-large"))


def _opening_sums(opening, chk, ent_ccy) -> None:
    if not len(opening):
        return
    ok = opening[opening["_ok"]]
    sums = ok.groupby("entity")["amount_acct"].sum()
    for ent, total in sums[sums != 0].items():
        first = ok[ok["entity"] == ent].iloc[0]
        ccy = ent_ccy.get(ent, "")
        chk.add(Finding(ERROR, f"The opening trial balance of {ent} does not sum to zero: it is off by "
                        f"{money.fmt(total, money.scale_of(ccy))} {ccy} (debits positive, credits negative).",
                        hint="Correct the balances so that debits equal credits (in balance_acct for foreign-currency "
                             "rows).", file=first["_file"], sheet=first["_sheet"],
                        cell=chk.cell(first["_file"], first["_sheet"], first["_row"], "entity"), column="entity",
                        value=ent, code="opening-unbalanced"))


def _balance_journals(lines, journal_codes, entity_codes, chk, settings, ent_ccy, dims, aside: list) -> pd.DataFrame:
    """Every journal balances per entity in accounting currency.  A difference within the
    rounding tolerance that comes only from conversion goes to the rounding account (one
    generated line per journal and entity); anything else is an error.  Journals with a line
    whose cells did not type are left out (their findings are already made).  A mask of the
    lines of the journals that do not balance is added to ``aside``."""
    if not len(lines):
        return lines
    acct = lines["amount_acct"].to_numpy()
    parts = pd.DataFrame({"ok": lines["_ok"].to_numpy(), "diff": acct, "debits": np.maximum(acct, 0),
                          "credits": -np.minimum(acct, 0), "conv": lines["converted"].to_numpy(),
                          "last": lines["line"].to_numpy(), "first": np.arange(len(lines))})
    # grouped by journal and entity as integer codes (much faster than by text), sorted below
    agg = parts.groupby([journal_codes, entity_codes], sort=False) \
        .agg(ok=("ok", "all"), diff=("diff", "sum"), debits=("debits", "sum"), credits=("credits", "sum"),
             conv=("conv", "any"), last=("last", "max"), first=("first", "min"))
    agg = agg[agg["ok"].to_numpy() & (agg["diff"] != 0).to_numpy()]
    if not len(agg):
        return lines
    first = lines.iloc[agg["first"].to_numpy()]
    agg = agg.assign(journal=first["journal"].to_numpy(), entity=first["entity"].to_numpy()) \
        .sort_values(["journal", "entity"]).reset_index(drop=True)
    first = lines.iloc[agg["first"].to_numpy()].reset_index(drop=True)
    ccy = agg["entity"].map(ent_ccy).fillna("USD").to_numpy()
    tol_minor = np.array([int(settings.rounding_tolerance.scaleb(s)) for s in range(4)])[money.scales(ccy)]
    rounding = agg["conv"].to_numpy() & (np.abs(agg["diff"].to_numpy()) <= tol_minor)
    wrong = np.flatnonzero(~rounding | (rounding & (settings.rounding_account == "")))
    if len(wrong):  # journals that do not balance are set aside (after the other journal checks)
        aside.append(pd.MultiIndex.from_arrays([lines["journal"], lines["entity"]]).isin(
            pd.MultiIndex.from_arrays([agg["journal"].to_numpy()[wrong], agg["entity"].to_numpy()[wrong]])))
    for i in wrong:  # errors only
        r, f = agg.iloc[i], first.iloc[i]
        scale = money.scale_of(ccy[i])
        amt = money.fmt(r["diff"], scale)
        where = dict(file=f["_file"], sheet=f["_sheet"], cell=chk.cell(f["_file"], f["_sheet"], f["_row"], "journal"),
                     column="journal", value=r["journal"])
        if rounding[i]:
            chk.add(Finding(ERROR, f"Journal {r['journal']} ({r['entity']}) is off by {amt} {ccy[i]} from currency "
                            "conversion, and no rounding_account is set.", hint="Add rounding_account to Settings.",
                            code="no-rounding-account", **where))
            continue
        dr, cr = money.fmt(r["debits"], scale), money.fmt(r["credits"], scale)
        why = " (more than the rounding tolerance)" if r["conv"] else ""
        chk.add(Finding(ERROR, f"Journal {r['journal']} does not balance for entity {r['entity']}: debits {dr}, "
                        f"credits {cr}, difference {amt} {ccy[i]}{why}.",
                        hint="Correct the amounts so that debits equal credits for each entity (in accounting "
                             "currency: see amount_acct).", code="journal-unbalanced", **where))
    if not settings.rounding_account or not rounding.any():
        return lines
    a, f = agg[rounding], first[rounding]
    add = make_lines(dims, journal=a["journal"].to_numpy(), line=a["last"].to_numpy() + 1, date=f["date"].to_numpy(),
                     entity=a["entity"].to_numpy(), account=settings.rounding_account, currency=ccy[rounding],
                     amount=-a["diff"].to_numpy(), amount_acct=-a["diff"].to_numpy(),
                     journal_type=f["journal_type"].to_numpy(),
                     description="Rounding difference from currency conversion",
                     source=("rounding of journal " + a["journal"] + " (" + f["source"] + ")").to_numpy())
    for c in lines.columns:
        if c not in add:
            add[c] = f[c].to_numpy() if c in f else None
    add["converted"] = False
    add["given_acct"] = True
    return pd.concat([lines, add[lines.columns]], ignore_index=True)


def _journal_codes(lines: pd.DataFrame, numbers: tuple, entities: tuple) -> tuple[np.ndarray, np.ndarray]:
    """Each line's journal number as an integer, and its journal and entity as one integer
    (from 0), from ``pd.factorize`` of the given lines' journal numbers and entities (``lines``
    may end with rounding lines, of those journals and entities)."""
    def extended(found, column):
        codes, uniques = found
        if len(codes) == len(column):
            return codes
        return np.concatenate([codes, uniques.get_indexer(column.iloc[len(codes):])])

    codes = extended(numbers, lines["journal"]).astype(np.int64)
    pairs, _ = pd.factorize(codes * (len(entities[1]) + 1) + extended(entities, lines["entity"]))
    return codes, pairs  # (numbered from 0 in order of appearance: as many as there are pairs)


def _journal_identity(lines, codes, journals, pairs, chk, periods) -> None:
    """The same journal number in two workbooks, or in two periods, is an error; so is a line
    number given twice within a journal and entity.  ``codes``, ``journals``, ``pairs``: each
    line's journal number as an integer, the journal numbers, each line's journal and entity as
    an integer (:func:`_journal_codes`)."""
    if not len(lines) or not len(periods):
        return
    ok_rows = lines["_ok"].to_numpy()
    ok = lines.loc[ok_rows, ["journal", "entity", "line", "date", "_file", "_sheet", "_row"]]
    journal = codes[ok_rows]
    file, files = pd.factorize(ok["_file"])
    period = np.searchsorted(periods["start"].to_numpy(), ok["date"].to_numpy(), side="right") - 1
    # per journal (code): its first line, and the first and last workbook and period it names
    span = pd.DataFrame({"file": file, "period": period, "pos": np.arange(len(ok))}).groupby(journal) \
        .agg(["min", "max"])
    first = span[("pos", "min")]
    several = lambda c: span.index[(span[(c, "min")] != span[(c, "max")]).to_numpy()]  # noqa: E731
    by_name = lambda js: sorted(js, key=lambda j: journals[j])  # noqa: E731 - findings in journal order
    in_files = _values_per(journal, file, several("file"))
    for j in by_name(in_files):
        names = sorted(files[list(in_files[j])])
        f = ok.iloc[first.at[j]]
        chk.add(Finding(ERROR, f"Journal {journals[j]} appears in {len(names)} workbooks: {', '.join(names)}. The same "
                        "workbook may have been dropped in twice.", hint="Remove the duplicate workbook, or renumber "
                        "one of the journals.", file=f["_file"], sheet=f["_sheet"],
                        cell=chk.cell(f["_file"], f["_sheet"], f["_row"], "journal"), column="journal",
                        value=journals[j], code="duplicate-journal"))
    in_periods = _values_per(journal, period, several("period"))
    for j in by_name(in_periods):
        f = ok.iloc[first.at[j]]
        chk.add(Finding(ERROR, f"Journal {journals[j]} has lines dated in {len(in_periods[j])} different periods.",
                        hint="A journal belongs to one period: split it into one journal per period.",
                        file=f["_file"], sheet=f["_sheet"], cell=chk.cell(f["_file"], f["_sheet"], f["_row"], "date"),
                        column="date", value=journals[j], code="journal-periods"))
    in_one_file = np.ones(len(journals), dtype=bool)
    in_one_file[list(in_files)] = False
    dup = _twice(pairs[ok_rows], ok["line"].to_numpy()) & in_one_file[journal]
    chk.rows(ok, dup, "line", lambda r: f"Journal {r['journal']} has line {r['line']} twice.",
             hint="Number the lines of a journal uniquely, or leave the line column blank.", code="duplicate-line")


def _twice(pairs: np.ndarray, line: np.ndarray) -> np.ndarray:
    """Which lines repeat an earlier line's (journal and entity, line number)."""
    line = line.astype(np.int64)
    low = int(line.min(initial=0))
    span = int(line.max(initial=0)) - low + 1
    if len(pairs) and int(pairs.max()) < (1 << 62) // span:  # both as one integer
        return pd.Series(pairs * span + (line - low)).duplicated(keep="first").to_numpy()
    return pd.DataFrame({"pair": pairs, "line": line}).duplicated(keep="first").to_numpy()


def _values_per(codes: np.ndarray, values: np.ndarray, wanted: np.ndarray) -> dict:
    """For each code in ``wanted``, the set of ``values`` its rows hold."""
    if not len(wanted):
        return {}
    pairs = pd.DataFrame({"code": codes, "value": values}).drop_duplicates()
    pairs = pairs[np.isin(pairs["code"].to_numpy(), wanted)]
    return {code: set(v) for code, v in pairs.groupby("code")["value"]}


def usable(book: Book) -> Book:
    """The part of the books the close's steps can run on while errors stand: the opening
    rows and the whole journals (per entity) whose every line passed validation.  Validation
    runs the steps on it, so their own checks (rates, rules, statements) are reported in the
    same pass as the errors of the cells."""
    from dataclasses import replace

    j, op = book.journals, book.opening
    if "_ok" in j and len(j) and not j["_ok"].all():
        key = pd.MultiIndex.from_arrays([j["journal"], j["entity"]])
        j = j[~key.isin(key[~j["_ok"].to_numpy(dtype=bool)])].reset_index(drop=True)
    if "_ok" in op and len(op) and not op["_ok"].all():
        op = op[op["_ok"].to_numpy(dtype=bool)].reset_index(drop=True)
    return replace(book, journals=j, opening=op)
