"""Period control (spec section 4) as pure rules: statuses, history, the calendar and the
fingerprints of posted lines in; decisions and findings out.

Nothing here reads a file or the clock: :mod:`closebatch.app` loads the ledger
(:mod:`closebatch.io.store`), passes what it holds to these functions together with the
time of the run, and saves what they decide.

* **Statuses** (:func:`effective_statuses`): the ledger's sealed record of a period where
  there is one, else the ``Periods`` sheet's initial status; Permanently closed in either is
  final.
* **Closed periods' lines** (:func:`closed_period_lines`): a line dated in a period that is
  not Open is refused unless that period's close posted exactly it; a line a close posted
  that comes back changed is refused wherever it is now dated.  Lines are matched by their
  fingerprint (journal, line, date, entity, account, dimensions, currency, amounts); lines of
  a sheet without a ``line`` column are numbered by their order, so those are matched by
  their content whatever order their rows are in now.  A line dated in a period given as On
  hold or Permanently closed before closebatch first closed it is an error
  (:func:`preclosed_lines`).
* **The frozen calendar** (:func:`calendar_findings`): a period the ledger has sealed keeps
  its code, start and end.
* **Status changes** (:func:`plan_change`): what ``closebatch period P open|hold|close-
  permanently`` may do, including the cascade (reopening a period reopens every later period
  that is On hold) and the refusal of a stale close (:func:`stale`).
* **The record** (:func:`record_rows`): which periods the seal covers and with what.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import money
from .core import ERROR, Finding

OPEN, ON_HOLD, PERMANENT = "Open", "On hold", "Permanently closed"
CLOSED = (ON_HOLD, PERMANENT)
RANK = {OPEN: 0, ON_HOLD: 1, PERMANENT: 2}
ACTIONS = {"open": OPEN, "hold": ON_HOLD, "close-permanently": PERMANENT}
HISTORY_COLUMNS = ["period", "from", "to", "user", "when", "note", "event", "blockers", "entities"]


# --------------------------------------------------------------------------- fingerprints

def fingerprint(lines: pd.DataFrame, dims) -> pd.Series:
    """A short hash of what identifies an input line (spec section 4): journal, line, date,
    entity, account, dimensions, currency and amounts."""
    import pyarrow as pa
    import pyarrow.compute as pc

    cols = ["journal", "line", "date", "entity", "account", *dims, "currency", "amount", "amount_acct"]
    if not len(lines):
        return pd.Series([], dtype=object)
    text = pa.large_string()
    # each value as the text it always was hashed as, a column at a time (as Python objects,
    # one column of them is alive at a time: all of them at once were 0.6 GB at 1M lines)
    arrays = [pc.fill_null(_as_text(lines[c]).cast(text), pa.scalar("", text)) for c in cols]
    # one pass in Arrow; as bytes (its UTF-8), which are what is hashed: no text objects made
    joined = pc.binary_join_element_wise(*arrays, pa.scalar("|", text)).cast(pa.large_binary())
    del arrays
    sha = hashlib.sha256
    out = []
    for start in range(0, len(joined), FINGERPRINT_BLOCK):
        out += [sha(k).hexdigest()[:16] for k in joined.slice(start, FINGERPRINT_BLOCK).to_pylist()]
    return pd.Series(out, index=lines.index, dtype=object)


def _as_text(values: pd.Series):
    """``values.astype(str)`` as Arrow text: whole numbers and dates (days, as lines hold them)
    printed by Arrow, which prints them the same (``-99``, ``2026-01-05``), anything else by pandas."""
    import pyarrow as pa

    kind = values.dtype.kind if isinstance(values.dtype, np.dtype) else ""
    if kind and kind in "iu":
        return pa.array(values.to_numpy()).cast(pa.string())
    if kind == "M":
        days = values.to_numpy()
        whole = days.astype("datetime64[D]")
        if len(days) and not np.isnat(days).any() and (days == whole).all() and \
                whole.min() >= np.datetime64("1000-01-01") and whole.max() <= np.datetime64("9999-12-31"):
            return pa.array(whole).cast(pa.string())  # YYYY-MM-DD
    return pa.array(values.astype(str), from_pandas=True)


FINGERPRINT_BLOCK = 65_536  # lines hashed at a time (their joined text as Python objects)


# --------------------------------------------------------------------------- statuses and history

def most_closed(statuses) -> str:
    """The most closed of some statuses (Permanently closed > On hold > Open)."""
    known = [s for s in statuses if s in RANK]
    return max(known, key=RANK.get) if known else OPEN


def effective_statuses(calendar: pd.DataFrame, recorded: dict, doubtful: dict | None = None) -> dict:
    """Each period's status: ``recorded`` (the ledger's sealed record) where there is one,
    else the Periods sheet's initial status; Permanently closed in either is final.  For the
    periods in ``doubtful`` (whose record no longer matches its seal) the most closed of
    every status the ledger shows for them counts, so no edit of ``ledger/`` reopens one."""
    doubtful = doubtful or {}
    out = {}
    for p, sheet_status in zip(calendar["period"], calendar["status"]):
        sheet_status = sheet_status or OPEN
        st = recorded.get(p, sheet_status)
        if p in doubtful:
            st = most_closed([st, *doubtful[p]])
        if PERMANENT in (sheet_status, st):
            st = PERMANENT
        out[p] = st
    return out


def _clean(text) -> str:
    """Text for the History: control characters (which a cell cannot keep) as spaces."""
    s = "" if text is None else str(text)
    return s if s.isprintable() else "".join(c if c.isprintable() else " " for c in s)


def history_row(period: str, old: str, new: str, user: str, when: dt.datetime, note: str, event: str = "status",
                blockers="", entities: str = "") -> dict:
    """One row of the History: period, from, to, who, when (the run's time), why."""
    return {"period": period, "from": old, "to": new, "user": _clean(user), "when": when.strftime("%Y-%m-%d %H:%M:%S"),
            "note": _clean(note), "event": event, "blockers": str(blockers), "entities": _clean(entities)}


def add_history(history: pd.DataFrame, rows: list[dict]) -> pd.DataFrame:
    """``history`` with ``rows`` added at the end (every value text)."""
    new = pd.DataFrame(rows, columns=HISTORY_COLUMNS)
    if not len(history):
        return new.astype(str) if len(new) else pd.DataFrame(columns=HISTORY_COLUMNS)
    cols = list(dict.fromkeys([*history.columns, *HISTORY_COLUMNS]))
    return pd.concat([history.reindex(columns=cols).fillna(""), new.reindex(columns=cols).fillna("")],
                     ignore_index=True).astype(str)


def last_close(history: pd.DataFrame, period: str):
    """The History row of the last close of ``period`` that left it Open (None when the last
    close locked it or there is none)."""
    if not len(history) or "period" not in history:
        return None
    h = history[history["period"].astype(str) == period]
    for _, r in h.iloc[::-1].iterrows():  # newest first
        if str(r.get("event", "")) == "close":
            return r
        if str(r.get("to", "")) != OPEN:  # a lock (or a status change) came after any close
            return None
    return None


# --------------------------------------------------------------------------- access groups

def members(users: pd.DataFrame, group: str) -> set[str]:
    """The users of a group (Users sheet), compared without case and surrounding spaces."""
    if not len(users):
        return set()
    return {str(u).strip().casefold() for u, g in zip(users["user"], users["group"])
            if str(g).strip().casefold() == group.strip().casefold()}


def access(users: pd.DataFrame, period_row, user: str) -> str | None:
    """Why ``user`` may not close, reopen or post into the period (None when they may)."""
    group = str(period_row.get("access_group", "") or "").strip()
    if not group:
        return None
    if str(user).strip().casefold() not in members(users, group):
        return (f"period {period_row['period']} may be closed, reopened and posted into only by members of "
                f"{group!r} (Users sheet), and {user!r} is not one")
    return None


def prepared_by(book, per) -> list[Finding]:
    """Lines posted into a period with an access group must be prepared by its members; a
    line with no ``prepared_by`` counts as prepared by the run's user, whom the close has
    already checked."""
    group = str(book.periods.iloc[per.index].get("access_group", "") or "").strip()
    j = book.journals
    if not group or not len(j) or "prepared_by" not in j:
        return []
    allowed = members(book.users, group)
    inside = ((j["date"] >= per.start) & (j["date"] <= per.end)).to_numpy()
    who = j["prepared_by"].fillna("").astype(str).str.strip()
    bad = inside & (who != "").to_numpy() & ~who.str.casefold().isin(allowed).to_numpy()
    return [book.finding(r, "prepared_by", f"Journal {r['journal']} line {r['line']} was prepared by "
                         f"{r['prepared_by']}, who is not a member of {group!r}, the only group that may post into "
                         f"{per.name}.", hint="Have a member of the group prepare the line, or add the user to the "
                         "group in the Users sheet.", code="access-group") for _, r in j[bad].iterrows()]


# --------------------------------------------------------------------------- the calendar

def _iso(v) -> str:
    return "" if v is None or (not isinstance(v, str) and pd.isna(v)) else f"{pd.Timestamp(v):%Y-%m-%d}"


def calendar_findings(book, seals: pd.DataFrame) -> list[Finding]:
    """The frozen calendar: each period the ledger has sealed must still be in ``Periods``
    under its code with its start and end; no period may be added before one."""
    out = []
    if not len(seals):
        return out
    cal = book.periods
    rows = {p: r for p, r in zip(cal["period"], cal.to_dict("records"))}
    order = list(cal["period"])
    for rec in seals.to_dict("records"):
        p = rec["period"]
        r = rows.get(p)
        if r is None:
            out.append(Finding(ERROR, f"Period {p} ({rec['start']} to {rec['end']}) is sealed in the ledger but no "
                                      "longer in the Periods sheet: a closed period's code cannot change.",
                               hint=f"Put period {p} back in the Periods sheet as it was (code {p}, start "
                                    f"{rec['start']}, end {rec['end']}).", code="calendar-frozen"))
            continue
        for col in ("start", "end"):
            if _iso(r[col]) != rec[col]:
                out.append(book.finding(r, col, f"Period {p} was sealed with {col} {rec[col]}; the Periods sheet "
                                        f"now says {_iso(r[col])}. A closed period's dates cannot change.",
                                        hint=f"Put the {col} of {p} back to {rec[col]}.", code="calendar-frozen"))
    sealed = set(seals["period"])
    if sealed and not out:
        last = max(order.index(p) for p in sealed if p in order)
        for p in order[:last]:
            if p not in sealed:
                r = rows[p]
                out.append(book.finding(r, "period", f"Period {p} comes before periods the ledger has sealed; a "
                                        "period cannot be added before closed ones.",
                                        hint=f"Remove period {p} from the Periods sheet, or restore the calendar "
                                             "as it was when the later periods were closed.", code="calendar-frozen"))
    return out


# --------------------------------------------------------------------------- stale closes

def previous_record(seals: pd.DataFrame, period: str) -> dict | None:
    """The sealed record of the period just before ``period``, or None."""
    recs = seals.to_dict("records")
    idx = [i for i, r in enumerate(recs) if r["period"] == period]
    if not idx or idx[0] == 0:
        return None
    return recs[idx[0] - 1]


def stale(seals: pd.DataFrame, period: str) -> str | None:
    """Why the last close of ``period`` is stale (None when it is not): it started from an
    earlier close of the previous period than the one that now stands."""
    mine = seals[seals["period"] == period]
    if not len(mine) or not mine["close_seal"].iloc[0]:
        return None
    started = mine["started_from"].iloc[0]
    prev = previous_record(seals, period)
    now = prev["close_seal"] if prev is not None else ""
    if started == now:
        return None
    what = (f"period {prev['period']} was closed again since (its seal is now {now[:12]})" if prev is not None and now
            else "the period before it is no longer as it was")
    return (f"the last close of period {period} started from an earlier close of the period before it "
            f"({started[:12] or 'the opening balances'}); {what}")


# --------------------------------------------------------------------------- status changes

@dataclass
class Change:
    period: str
    old: str
    new: str
    note: str
    event: str = "status"


@dataclass
class Decision:
    """What a ``closebatch period`` command does: a refusal (with findings), or the changes
    to record (the period and the later ones a reopening carries along)."""

    refusal: str | None = None
    findings: list = field(default_factory=list)
    changes: list = field(default_factory=list)  # Change
    message: str = ""


def plan_change(order: list, statuses: dict, period: str, action: str, user: str, *, denied: str | None = None,
                hold_refusal: str | None = None, hold_findings=(), note: str = "") -> Decision:
    """Decide a status change (spec section 4).

    * ``open`` reopens an On hold period and every later period that is On hold (the
      cascade); a later Permanently closed period makes it impossible.
    * ``hold`` and ``close-permanently`` need every earlier period closed (permanently, for
      ``close-permanently``); from Open they also need the period's last close to stand
      (``hold_refusal``, computed by the caller with :func:`hold_refusal`).
    * Permanently closed never changes; a period with an access group is changed only by its
      members (``denied``)."""
    if period not in statuses:
        return Decision(f"Period {period} is not in the Periods sheet.")
    new = ACTIONS[action]
    old = statuses[period]
    if old == PERMANENT:
        return Decision(f"Refused: period {period} is Permanently closed and can never be reopened or changed.")
    if denied:
        return Decision(f"Refused: {denied}.")
    i = order.index(period)
    note = note or f"closebatch period {action}"
    if old == new:
        return Decision(message=f"Period {period} is already {new}.")
    if new == OPEN:
        later = order[i + 1:]
        perm = [p for p in later if statuses[p] == PERMANENT]
        if perm:
            return Decision(f"Refused: period {period} cannot be reopened: later period {perm[0]} is Permanently "
                            "closed, and a reopened period would change the balances it was closed from.")
        cascade = [p for p in later if statuses[p] == ON_HOLD]
        changes = [Change(period, old, OPEN, note)] + [
            Change(p, ON_HOLD, OPEN, f"reopened with {period} ({note})", "cascade") for p in cascade]
        msg = f"Period {period}: {old} -> Open (by {user})."
        if cascade:
            msg += f" Reopened with it, being later and On hold: {', '.join(cascade)}."
        return Decision(changes=changes, message=msg)
    open_before = [p for p in order[:i] if statuses[p] == OPEN]
    if open_before:
        return Decision(f"Refused: period {period} cannot be put {new} while earlier period {open_before[0]} is Open.")
    if new == PERMANENT:
        held = [p for p in order[:i] if statuses[p] != PERMANENT]
        if held:
            return Decision(f"Refused: period {period} cannot be closed permanently while earlier period {held[0]} is "
                            f"{statuses[held[0]]}; close the earlier periods permanently first.")
    if old == OPEN and hold_refusal:
        return Decision(hold_refusal, list(hold_findings))
    return Decision(changes=[Change(period, old, new, note)], message=f"Period {period}: {old} -> {new} (by {user}).")


def hold_refusal(period: str, has_data: bool, history: pd.DataFrame, stale_why: str | None,
                 changed: list) -> tuple[str | None, list]:
    """Why an Open period may not be put on hold by hand (None when it may): it must have
    been closed, without blockers, from the lines the folder holds now, and from the close of
    the previous period that now stands."""
    if not has_data:
        return f"Refused: period {period} has not been closed yet; run closebatch close first.", []
    last = last_close(history, period)
    if last is not None and str(last.get("blockers", "")) not in ("", "0"):
        return (f"Refused: the last close of period {period} found {last['blockers']} blocker(s); fix them and run "
                f"closebatch close --period {period}, which puts it on hold."), []
    if stale_why:
        return (f"Refused: {stale_why}. That close is stale: run closebatch close --period {period} again."), []
    if changed:
        return (f"Refused: {len(changed)} line(s) dated in period {period} are new or changed since its last close; "
                f"run closebatch close --period {period} again."), list(changed)
    return None, []


# --------------------------------------------------------------------------- lines of closed periods

def period_of_dates(calendar: pd.DataFrame, dates) -> np.ndarray:
    """The period each date falls in ("" before the calendar)."""
    idx = np.searchsorted(calendar["start"].to_numpy(), np.asarray(dates), side="right") - 1
    return np.where(idx >= 0, calendar["period"].to_numpy()[np.clip(idx, 0, len(calendar) - 1)], "")


@dataclass
class Scopes:
    """The closed scopes whose lines are known: periods (not Open, closed by closebatch) and
    entities closed with ``close --entity`` in an Open period, with what their closes posted."""

    periods: set = field(default_factory=set)
    entities: set = field(default_factory=set)
    posted: pd.DataFrame | None = None
    label: dict = field(default_factory=dict)


def closed_scopes(book, statuses: dict, posted: dict, entity_closed: pd.DataFrame, entity_posted: pd.DataFrame,
                  pretend=()) -> Scopes:
    """The closed periods and entities whose lines are known, with what their closes posted.
    ``posted``: period -> the ``Posted`` table of each period closebatch closed (None where
    the ledger holds none); ``pretend`` treats those Open periods as closed."""
    frames, scopes = [], Scopes()
    for p in book.periods["period"]:
        st = statuses.get(p, OPEN)
        if st == OPEN and p not in pretend:
            continue
        if p not in posted:
            continue  # not closed by closebatch: see preclosed_lines
        scopes.periods.add(p)
        scopes.label[p] = f"{p}, which is {st}" if st != OPEN else f"{p} as its last close posted it"
        got = posted[p]
        if got is not None and len(got):
            frames.append(got.assign(period=p))
    if len(entity_closed):
        for p, e in zip(entity_closed["period"], entity_closed["entity"]):
            if statuses.get(p) == OPEN and p not in scopes.periods:
                scopes.entities.add((p, e))
                scopes.label[(p, e)] = f"{p}, for which entity {e} was closed (the period itself is still Open)"
        keep = [(p, e) in scopes.entities for p, e in zip(entity_posted["period"], entity_posted["entity"])] \
            if len(entity_posted) else []
        if len(entity_posted) and any(keep):
            frames.append(entity_posted[np.array(keep, dtype=bool)])
    cols = ["period", "journal", "line", "date", "entity", "account", *book.dims, "currency", "amount",
            "amount_acct", "source", "fingerprint"]
    if frames:
        allp = pd.concat([f.reindex(columns=cols) for f in frames], ignore_index=True)
        allp["line"] = pd.to_numeric(allp["line"], errors="coerce").fillna(0).astype("int64")
        allp["_file"] = allp["source"].fillna("").astype(str).str.rsplit("!", n=2).str[0]
    else:
        allp = pd.DataFrame(columns=cols + ["_file"])
    scopes.posted = allp
    return scopes


def _unnumbered(book, j: pd.DataFrame) -> np.ndarray:
    """Lines of a sheet without a ``line`` column: numbered by their order within the journal."""
    sheets = {k for k, cols in book.columns.items() if "line" not in cols}
    if not sheets:
        return np.zeros(len(j), dtype=bool)
    return pd.MultiIndex.from_arrays([j["_file"].to_numpy(), j["_sheet"].to_numpy()]).isin(list(sheets))


def _content_known(j: pd.DataFrame, per_of: np.ndarray, cand: np.ndarray, posted: pd.DataFrame, dims) -> np.ndarray:
    """Of the candidate lines (unnumbered, not known by fingerprint), those whose content
    (journal, date, entity, account, dimensions, currency, amounts; not the line number) a
    close of their period posted: matched as a multiset, so rows in another order are known
    and an extra copy of a line is not."""
    out = np.zeros(len(j), dtype=bool)
    if not cand.any() or not len(posted):
        return out
    key = ["journal", "date", "entity", "account", *dims, "currency", "amount", "amount_acct"]
    mine = j.loc[:, key].assign(period=per_of).reset_index(drop=True)
    mine["_pos"] = np.arange(len(j))
    mine = mine[cand | _same_key_any(mine, cand, key)]
    theirs = posted.loc[:, ["period", *key]].copy()
    for c in ("amount", "amount_acct"):
        theirs[c] = pd.to_numeric(theirs[c], errors="coerce").fillna(0).astype("int64")
        mine[c] = mine[c].astype("int64")
    theirs["date"] = pd.to_datetime(theirs["date"]).astype("datetime64[ns]")
    for c in ["journal", "entity", "account", *dims, "currency", "period"]:
        theirs[c] = theirs[c].astype(str)
        mine[c] = mine[c].astype(str)
    count = theirs.groupby(["period", *key], sort=False).size().rename("_n").reset_index()
    mine = mine.sort_values("_pos", kind="stable")
    mine["_k"] = mine.groupby(["period", *key], sort=False).cumcount()
    hit = mine.merge(count, on=["period", *key], how="left")
    ok = hit["_k"].to_numpy() < hit["_n"].fillna(0).to_numpy()
    out[hit["_pos"].to_numpy()[ok]] = True
    return out & cand


def _same_key_any(mine: pd.DataFrame, cand: np.ndarray, key) -> np.ndarray:
    """Every line sharing a candidate's journal (so copies of a line are counted together)."""
    journals = set(mine.loc[cand, "journal"])
    return mine["journal"].isin(journals).to_numpy()


def closed_period_lines(book, statuses: dict, scopes: Scopes, only: str | None = None) -> list[Finding]:
    """Lines dated in a closed scope are refused unless that close posted exactly them (spec
    section 4); a line a close posted that comes back changed is refused wherever it is dated.
    ``only`` keeps the findings about one period (the checks of ``closebatch period P hold``).

    A line is *changed* when a close posted a line with the same journal, line and entity
    (dated in that closed scope, or from the same workbook) with a different fingerprint;
    any other line dated in a closed scope is *new*.  Lines of a closed scope no longer in
    the folder are fine: the ledger keeps them."""
    j = book.journals
    if not len(j) or (not scopes.periods and not scopes.entities):
        return []
    dims = list(book.dims)
    posted = scopes.posted
    per_of = period_of_dates(book.periods, j["date"].to_numpy())
    ent = j["entity"].to_numpy()
    in_scope = pd.Series(per_of).isin(scopes.periods).to_numpy().copy()
    if scopes.entities:
        in_scope |= pd.MultiIndex.from_arrays([per_of, ent]).isin(list(scopes.entities))
    fp = fingerprint(j, dims).to_numpy()
    known = pd.MultiIndex.from_arrays([per_of, fp]).isin(list(zip(posted["period"], posted["fingerprint"]))) \
        if len(posted) else np.zeros(len(j), dtype=bool)
    unnumbered = _unnumbered(book, j)
    known |= _content_known(j, per_of, in_scope & ~known & unnumbered, posted, dims)
    flagged = in_scope & ~known
    if only is not None:
        flagged &= per_of == only
    # lines a close posted that now sit outside any closed scope (e.g. their date was changed)
    if len(posted) and (~in_scope).any():
        here = pd.DataFrame({"journal": j["journal"].to_numpy(), "line": j["line"].to_numpy(), "entity": ent,
                             "_file": j["_file"].to_numpy(), "_fp": fp, "_pos": np.arange(len(j))})[~in_scope & ~unnumbered]
        hit = here.merge(posted[["journal", "line", "entity", "_file", "fingerprint", "period"]],
                         on=["journal", "line", "entity", "_file"])
        hit = hit[(hit["_fp"] != hit["fingerprint"]) & ((hit["period"] == only) if only is not None else True)]
        flagged[hit["_pos"].to_numpy()] = True
    out = []
    for i in np.flatnonzero(flagged):  # only the refused lines
        r = j.iloc[i]
        key = (posted["journal"] == r["journal"]) & (posted["entity"] == r["entity"]) if len(posted) \
            else pd.Series([], dtype=bool)
        if len(posted) and not unnumbered[i]:
            key &= posted["line"] == r["line"]
        cands = posted[key] if len(posted) else posted
        before = cands[cands["period"] == per_of[i]]
        if not len(before):
            before = cands[cands["_file"] == r["_file"]]
        if len(before) and unnumbered[i]:
            before = _leftover(before, j, per_of, dims, r)
        if len(before):
            out.append(changed_line(book, r, before.iloc[0], scopes.label))
        else:
            p = per_of[i]
            label = scopes.label.get((p, r["entity"])) or scopes.label.get(p, p)
            out.append(book.finding(r, "date", f"Journal {r['journal']} line {r['line']} ({r['entity']}) is a new line "
                                    f"dated {r['date']:%Y-%m-%d}, in {label}; that close did not post it.",
                                    hint=f"Date the line in an open period, or reopen {p} first (closebatch period "
                                         f"BOOKS {p} open) if that is allowed.", code="closed-period"))
    return out


def _leftover(before: pd.DataFrame, j: pd.DataFrame, per_of, dims, r) -> pd.DataFrame:
    """Of the posted lines of an unnumbered line's journal, those no line of the folder
    matches any more (the line's earlier self is one of them), the likeliest first: the same
    account, dimensions and currency, the same side, the same number."""
    key = ["date", "account", *dims, "currency", "amount", "amount_acct"]
    same = j[(j["journal"] == r["journal"]) & (j["entity"] == r["entity"])]
    have = set(map(tuple, same[key].astype(str).to_numpy().tolist()))
    b = before.copy()
    b["date"] = pd.to_datetime(b["date"]).astype("datetime64[ns]")
    mask = [tuple(x) not in have for x in b[key].astype(str).to_numpy().tolist()]  # a journal's lines only
    left = b[np.array(mask, dtype=bool)] if len(b) else b
    if not len(left):
        return left
    score = sum((left[c].astype(str) == str(r[c])).astype(int) * w
                for c, w in (("account", 8), *[(d, 4) for d in dims], ("currency", 4)))
    score = score + (np.sign(left["amount"].astype("int64")) == np.sign(int(r["amount"]))).astype(int) * 2
    score = score + (left["line"].astype("int64") == int(r["line"])).astype(int)
    return left.iloc[np.argsort(-score.to_numpy(), kind="stable")]


def changed_line(book, r, before, labels: dict) -> Finding:
    """A line a close posted that comes back different: name what changed, at its cell."""
    ent_ccy = book.entity_currency()
    acct_ccy = ent_ccy.get(r["entity"], "")
    diffs, first = [], None

    def amt(v, ccy):
        return f"{money.fmt(int(v), money.scale_of(ccy))} {ccy}".strip()

    checks = [("date", lambda v: f"{pd.Timestamp(v):%Y-%m-%d}"), ("account", str),
              *[(d, lambda v: str(v) or "(blank)") for d in book.dims], ("currency", str)]
    for col, show in checks:
        old, new = before.get(col), r[col]
        if col == "date":
            same = pd.Timestamp(old) == pd.Timestamp(new) if not pd.isna(old) else False
        else:
            same = str("" if old is None or (isinstance(old, float) and pd.isna(old)) else old) == str(new)
        if not same:
            diffs.append(f"{col} {show(old)} → {show(new)}")
            first = first or col
    if int(before["amount"]) != int(r["amount"]) or str(before["currency"]) != str(r["currency"]):
        diffs.append(f"amount {amt(before['amount'], before['currency'])} → {amt(r['amount'], r['currency'])}")
        first = first or ("debit" if int(r["amount"]) > 0 else "credit")
    if int(before["amount_acct"]) != int(r["amount_acct"]):
        diffs.append(f"amount_acct {amt(before['amount_acct'], acct_ccy)} → {amt(r['amount_acct'], acct_ccy)}")
        first = first or ("amount_acct" if bool(r.get("given_acct", False)) else
                          ("debit" if int(r["amount"]) > 0 else "credit"))
    p = before["period"]
    label = labels.get((p, r["entity"])) or labels.get(p, p)
    what = "; ".join(diffs) or "a detail of the line"
    return book.finding(r, first or "date", f"Journal {r['journal']} line {r['line']} ({r['entity']}) changed since "
                        f"the close of {label}: {what}. The closed ledger keeps it as it was posted "
                        f"(from {before['source']}).",
                        hint=f"Put the line back as it was when {p} was closed and post the correction as a new "
                             f"journal in an open period, or reopen {p} first (closebatch period BOOKS {p} open) if "
                             "that is allowed.", code="changed-after-close")


def preclosed_lines(book, statuses: dict, closed_by_closebatch: set) -> list[Finding]:
    """Lines dated in a period that is On hold or Permanently closed although closebatch never
    closed it (given so in ``Periods`` before closebatch first closed it): errors, since no
    close of closebatch accounts for them."""
    j = book.journals
    pre = {p for p, st in statuses.items() if st != OPEN and p not in closed_by_closebatch}
    if not len(j) or not pre:
        return []
    per_of = period_of_dates(book.periods, j["date"].to_numpy())
    bad = pd.Series(per_of).isin(pre).to_numpy()
    out = []
    for i in np.flatnonzero(bad):  # only the refused lines
        r = j.iloc[i]
        p = per_of[i]
        out.append(book.finding(r, "date", f"Journal {r['journal']} line {r['line']} ({r['entity']}) is dated "
                                f"{r['date']:%Y-%m-%d}, in period {p}, which was {statuses[p]} before closebatch "
                                "first closed it: no close of closebatch accounts for its lines.",
                                hint=f"Carry the balances of {p} and earlier in the TrialBalance (or remove the "
                                     f"line), or, if {p} is only On hold, reopen it (closebatch period BOOKS {p} "
                                     "open) and close it with closebatch.", code="closed-before-closebatch"))
    return out


# --------------------------------------------------------------------------- the record

def record_rows(calendar: pd.DataFrame, statuses: dict, history: pd.DataFrame, sealed: pd.DataFrame,
                closes: dict, touched=()) -> list[dict]:
    """The rows of the ``Seals`` sheet: every period of the calendar up to the last one the
    ledger knows anything of (a close, a History row, a sealed record, or ``touched`` by this
    command), in calendar order.  A sealed period keeps its sealed code and dates; ``closes``
    maps a period closed now to ``(started_from, close_seal)``; other periods keep theirs."""
    order = list(calendar["period"])
    old = {r["period"]: r for r in sealed.to_dict("records")} if len(sealed) else {}
    stated = set(old) | set(closes) | set(touched)
    if len(history) and "period" in history:
        stated |= set(history["period"].astype(str))
    idx = [order.index(p) for p in stated if p in order]
    if not idx:
        return []
    dates = {p: (_iso(s), _iso(e)) for p, s, e in zip(calendar["period"], calendar["start"], calendar["end"])}
    rows = []
    for p in order[:max(idx) + 1]:
        o = old.get(p, {})
        start, end = (o["start"], o["end"]) if o else dates[p]
        started, cs = closes.get(p, (o.get("started_from", ""), o.get("close_seal", "")))
        if p in closes:
            start, end = dates[p]
        st = statuses.get(p, OPEN)
        by = "closebatch" if cs else ("before closebatch" if st != OPEN else "")
        rows.append({"period": p, "start": start, "end": end, "status": st, "closed_by": by, "started_from": started,
                     "close_seal": cs})
    return rows
