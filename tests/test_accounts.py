"""One account selector for every sheet (Allocations, Statements, Eliminations): the syntax
and its one ordering rule (closebatch.accounts)."""
from hypothesis import given
from hypothesis import strategies as st

from closebatch import accounts
from closebatch.statements import _account_set as statements_set
from closebatch.steps.allocation import parse_accounts
from closebatch.steps.consolidation.group import account_set as consolidation_set

CHART = ["1000", "1100", "3000", "3100", "3900", "4000", "6100", "6200", "10000", "A-1", "A10", "A11", "A2", "B1"]


def names(spec):
    return list(accounts.select(spec, CHART).accounts)


def test_codes_ranges_and_lists_in_chart_order():
    assert names("6100") == ["6100"]
    assert names("6200, 1000") == ["1000", "6200"]  # chart order, each once
    assert names("3000;3100") == ["3000", "3100"]  # a semicolon separates too
    assert names("3000-3999") == ["3000", "3100", "3900"]
    assert names("900-1100") == ["1000", "1100"]  # numbers compare as numbers: not 10000
    assert names("4000-6999, 6100") == ["4000", "6100", "6200"]
    assert names("A-1") == ["A-1"]  # a code of the chart wins over a range
    assert names("A10-A2") == ["A10", "A11", "A2"]  # text compares as text
    assert names(" 1000 ,, 1100 ") == ["1000", "1100"]


def test_items_that_name_nothing_say_why():
    sel = accounts.select("9999, 3999-3000, 1-2-3, 7000-7999, 1000", CHART)
    assert sel.accounts == ("1000",)
    assert sel.bad == ("9999", "3999-3000", "1-2-3", "7000-7999")
    assert sel.problem() == ("9999 (not an account of the chart); 3999-3000 (the range runs backwards); "
                             "1-2-3 (not a range LO-HI); 7000-7999 (no account of the chart is in that range)")


@given(st.lists(st.sampled_from(CHART + ["3000-3999", "A10-A2", "9999", "1000-1100", "6100;6200"]), max_size=5))
def test_every_sheet_reads_a_spec_alike(items):
    spec = ", ".join(items)
    want, bad = names(spec), list(accounts.select(spec, CHART).bad)
    assert parse_accounts(spec, CHART) == (want, bad)
    import pandas as pd

    class Chart:  # the statements' chart: codes in natural order
        codes = CHART
    assert statements_set(spec, Chart) == (want, bad)
    assert consolidation_set(spec, pd.DataFrame(index=CHART)) == (frozenset(want), bad)
