"""How hard the property tests try: quick by default (CI, a developer's run), thorough when
``CLOSEBATCH_TESTS=thorough`` is set (before a release, or after changing a step).

Every property test runs a fixed, derandomized sequence of examples, so a run never depends
on luck or on timing; the thorough profile runs more of them."""
from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

THOROUGH = os.environ.get("CLOSEBATCH_TESTS", "").strip().lower() == "thorough"


def profile(quick: int, thorough: int, **kw) -> settings:
    """Hypothesis settings with ``quick`` examples, or ``thorough`` ones in the thorough profile;
    derandomized, no deadline, no example database."""
    return settings(max_examples=thorough if THOROUGH else quick, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture], **kw)
