"""Close step 8: consolidation into the group currency.

The group's figures are the sum of every consolidated entity's trial balance, translated into
``group_currency``, plus a consolidation layer of journals that never enter an entity's books
(journal type ``elimination``, in the group currency).

**Who is consolidated.**  Every entity whose ``consolidate`` flag is Y and whose parents up
the chain are all consolidated (a holding left out takes its subsidiaries with it).  The
*effective* ownership of an entity is the product of the ``ownership`` of every level up to
the top (P → S 80% → T 75%: T is 60% the group's).

**Translation** (per entity, account, dimension values and counterparty; the currency of the
transaction no longer matters, only ``balance_acct``)::

    closing     amount_group = round(balance_acct × closing rate at the period end)
    average     amount_group = carried_group + round(movement_acct × the period's average rate)
    historical  same as average, but the first time an entity is consolidated the opening
                balance is translated by HistoricalRates (``rate``, or ``amount_group`` given)

``carried_group`` is what this step translated at the previous close (``carry["group_ytd"]``)
and ``movement_acct = balance_acct − carried_acct``, so each period's movement is translated at
that period's average rate and the year to date accumulates.  Revenue and Expense rows of an
earlier fiscal year are not carried: at the first close of a new year their carried amounts
(accounting and group currency) are added to the entity's ``retained_earnings_account`` —
the books' own year-end close moved the accounting-currency profit there, and this makes the
group-currency retained earnings follow at the rates the profit was translated at.  An entity
in the group currency translates at 1.

**Translation reserve (CTA).**  Per entity the balancing figure ``−Σ amount_group`` on
``translation_reserve_account``.  It is not a journal: it is the translated trial balance's
own, shown in the entity's column of the ``Worksheet`` and in the ``CTA`` report, whose
figures each say what they are (translation, of which goodwill, total, NCI share, owners'
share, at the start and the period's movement).  Its analysis::

    cta = net assets effect + profit effect + unexplained
    net assets effect = round(H × closing) − H_group   (H: the historical-rate accounts, i.e.
                        the opening net assets with sign reversed, H_group at the rates they
                        stand in the group books: opening_rate = H_group / H)
    profit effect     = round(P × closing) − P_group   (P: the average-rate accounts, i.e. the
                        profit for the year to date, at its accumulated average_rate)

so ``opening net assets × (closing − opening rate) + profit YTD × (closing − average)``; the
unexplained remainder is rounding (and any account translated at an unusual rate type).
Amounts in reports and lines follow the ledger sign (debit +, credit −): a CTA of −1602 is a
credit, a translation gain.

**Eliminations** (``Eliminations`` sheet, journal ``ELIM-<rule>-<period>``):

* ``intercompany``: for every ordered pair (e, c) the rule covers, the group-currency balance
  of ``account`` at e with counterparty c and of ``counter_account`` at c with counterparty e
  are reversed, each balance once.  What does not cancel, per unordered pair, goes to
  ``difference_account`` (on the rule's entity, else the first of the pair); above
  ``rounding_tolerance`` it is a warning naming both sides.
* ``investment``: the parent's investment (its ``account`` balance with counterparty = the
  subsidiary; the blank-counterparty balance when it has none) is reversed; the subsidiary's
  equity at acquisition (its opening TrialBalance balances of ``counter_account``, translated
  by HistoricalRates) is reversed in full; ``(1 − ownership) × equity`` goes to
  ``nci_account``; goodwill = investment − equity + NCI (= investment − ownership × equity,
  exactly balancing) is debited to ``difference_account``.  Goodwill is measured once, at the
  first close that consolidates the investment (``carry["goodwill"]``), and held in the
  subsidiary's currency; later closes translate it at the closing rate, the difference
  against ``translation_reserve_account``.  Negative goodwill is an error unless
  ``difference_account`` is a Revenue account (a bargain purchase gain, not retranslated).

**Earlier fiscal years.**  Consolidation income and expense measured on balances kept since
inception (an intercompany difference on balance-sheet accounts, a bargain purchase gain) is
income or expense of the year it arose in; from the next fiscal year on that part is moved to
``retained_earnings_account`` (``carry["consolidation_profit"]``).

**Non-controlling interests** (proportionate method, journal ``NCI-<period>``): for an entity
whose effective ownership is below 100%, ``(1 − effective)`` of its translated profit for the
year to date is debited to ``nci_profit_account`` and credited to ``nci_account``; the same
share of its CTA is moved from ``translation_reserve_account`` to ``nci_account``; and the same
share of its post-acquisition equity movements (its Equity accounts' group amounts less equity
at acquisition, e.g. earlier years' profit in retained earnings) is moved to ``nci_account``.
Shares of money round half away from zero to the group currency's minor unit.

**Layout.**  :mod:`.group` reads the book once into a frozen :class:`.group.Group`;
:mod:`.translate`, :mod:`.eliminate`, :mod:`.nci` and :mod:`.reports` are functions of it that
return values (rows as :class:`.group.Posted`, frames, findings, the settings and rates they
needed); :func:`consolidate` chains them.
"""
from __future__ import annotations

from ...context import CloseContext, LedgerState
from ...core import StepResult, empty_lines
from . import eliminate, reports, translate
from .eliminate import GOODWILL, PROFIT_CARRY, measured_frame, read_measured
from .group import JOURNAL_TYPE, Posted, read_group, structural_needs
from .nci import nci
from .reports import CTA_CARRY, CTA_FIGURES
from .translate import CARRY

REPORTS = ("Worksheet", "Consolidated", "Translation", "Eliminations", "Goodwill", "CTA", "NCI")  # their order

__all__ = ["CARRY", "CTA_CARRY", "GOODWILL", "JOURNAL_TYPE", "PROFIT_CARRY", "consolidate"]


def consolidate(ctx: CloseContext, state: LedgerState, *, detail: bool = True) -> StepResult:
    """Translate, eliminate and attribute to non-controlling interests (spec section 3, step 8).

    Returns the consolidation-layer lines (eliminations and NCI, group currency; every
    journal balances), findings, the reports ``Worksheet``, ``Consolidated``,
    ``Translation``, ``Eliminations``, ``Goodwill``, ``CTA`` and ``NCI``, figures, and the
    carries the next close starts from: ``group_ytd`` (the translated balances),
    ``goodwill`` (each investment's measurement), ``consolidation_profit`` (consolidation
    income and expense measured since inception, with the part of earlier fiscal years) and
    ``cta`` (each entity's translation reserve).  ``detail=False`` leaves out the reports
    only a reader needs (``Worksheet``, ``Eliminations``, ``Goodwill``): a consolidation made
    for its figures alone (the opening balance sheet's) costs less.
    """
    g, findings = read_group(ctx.book, ctx.period)
    if g is None:
        return StepResult(empty_lines(ctx.book.dims), findings)
    tr, found, needs = translate.translate(g, state)
    findings += found
    cta, found = translate.balancing(g, tr)
    findings += found

    posted = Posted(needs=tuple(structural_needs(g)) + tuple(needs))
    measured, acq = [], {}
    before = read_measured(state.carried)
    for rule in g.rules:
        if rule.kind == "intercompany":
            posted += eliminate.intercompany(g, rule, tr)
        else:
            p, m, eq = eliminate.investment(g, rule, tr, before)
            posted += p
            if m is not None:
                measured.append(m)
                acq[rule.counterparty] = eq
    figs = reports.reserve_figures(g, tr, cta, posted.rows)
    p, nci_report = nci(g, tr, figs["translation"], acq)
    posted += p
    p, profit_carry = eliminate.earlier_years(g, posted.rows, state.carried)
    posted += p
    findings += list(posted.findings)
    findings += g.setting_findings(posted.needs)
    findings += g.rates.findings(tr, [n.what for n in posted.needs if n.kind == "rate"])

    lines = eliminate.lines(g, posted.rows)
    cta_report, cta_carry = reports.cta_report(g, tr, figs, nci_report, state.carried)
    tb = translate.translated(g, tr, cta)
    consolidated = reports.consolidated(g, tb, lines)
    figures = {"consolidated_entities": len(g.included),
               "eliminations": int(lines["journal"].str.startswith("ELIM-").sum()) if len(lines) else 0,
               "consolidated_total": int(consolidated["balance_group"].sum()) if len(consolidated) else 0}
    shown = cta_report[(cta_report["currency"] != g.currency) | (cta_report["cta_total"] != 0)]
    for label in CTA_FIGURES:
        figures[label] = {e: int(v) for e, v in zip(shown["entity"], shown[label])}
    report = {"Consolidated": consolidated, "Translation": translate.translation_report(g, tr), "CTA": cta_report,
              "NCI": nci_report}
    if detail:
        report.update(Worksheet=reports.worksheet(g, tb, posted.rows), Eliminations=eliminate.report(g, posted.rows),
                      Goodwill=reports.goodwill_report(g, measured))
    report = {k: report[k] for k in REPORTS if k in report}
    carries = {CARRY: translate.carry_out(g, tr), GOODWILL: measured_frame(measured, g.currency),
               PROFIT_CARRY: profit_carry, CTA_CARRY: cta_carry}
    return StepResult(lines, findings, report, figures, carries)
