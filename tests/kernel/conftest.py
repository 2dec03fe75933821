"""The kernel tier: one warm Grader for the whole session (kernels are still fresh per notebook)."""

from __future__ import annotations

import pytest

from grader.grading import Grader
from grader.limits import Limits

# Generous limits: normal notebooks finish far inside them even on a loaded 2-core CI machine
# (the adversarial tests in test_hostile.py use their own, small limits).
TEST_LIMITS = Limits(cell_timeout=20, timeout=120, harness_timeout=60, call_timeout=15, memory=1024**3)


@pytest.fixture(scope="session")
def grader(course) -> Grader:
    with Grader(TEST_LIMITS, course=course) as g:
        yield g
