"""Shared fixtures: one warm Grader for the whole session, notebooks built in code."""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from grader.grading import Grader
from grader.limits import Limits
from grader.rubric import load_all

# Generous limits: normal notebooks finish far inside them even on a loaded 2-core CI machine
# (the adversarial tests in test_hostile.py use their own, small limits).
TEST_LIMITS = Limits(cell_timeout=20, timeout=120, harness_timeout=60, call_timeout=15, memory=1024**3)


@pytest.fixture(scope="session")
def grader() -> Grader:
    """One fork server for every test that grades (kernels are still fresh per notebook)."""
    with Grader(TEST_LIMITS) as g:
        yield g


@pytest.fixture(scope="session")
def rubrics():
    return load_all()
