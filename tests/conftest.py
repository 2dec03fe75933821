"""Shared fixtures: one warm Grader for the whole session, notebooks built in code."""
from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from grader.grading import Grader  # noqa: E402
from grader.limits import Limits  # noqa: E402
from grader.rubric import load_all  # noqa: E402

# Small limits keep adversarial tests fast; normal notebooks finish far inside them.
TEST_LIMITS = Limits(cell_timeout=10, timeout=60, harness_timeout=30, call_timeout=5, memory=1024**3)


@pytest.fixture(scope="session")
def grader() -> Grader:
    """One fork server for every test that grades (kernels are still fresh per notebook)."""
    with Grader(TEST_LIMITS) as g:
        yield g


@pytest.fixture(scope="session")
def rubrics():
    return load_all()
