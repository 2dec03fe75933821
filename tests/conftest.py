"""Shared by both tiers: helper imports, the course, and the tier marker.

Tests in tests/unit/ run without a kernel and make the fast inner loop
(`pytest -m "not kernel"`); tests in tests/kernel/ start real kernels and are marked
`kernel` here, by folder, so no test can forget its mark.

Expensive fixtures (a graded class, the sandbox's attack notebooks per backend) are
session-scoped, never module-scoped, even when one module alone uses them. An xdist worker
runs other modules' tests between the tests of one module (its queue mixes them), and pytest
tears a module fixture down whenever the next test belongs to another module: the sandbox
fixture was built twice per backend that way, ~60 s of worker time per run. A session
fixture is built once per worker and parameter.
"""

from __future__ import annotations

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from grader.course import Course, load_course  # noqa: E402


def pytest_ignore_collect(collection_path, config: pytest.Config) -> bool | None:
    """`-m "not kernel"` (the inner loop, CI's unit tier) would import every kernel-tier module
    only to deselect its tests: skip the folder instead (a few seconds per xdist worker)."""
    if (config.getoption("markexpr", "") or "").strip() == "not kernel":
        kernel_dir = os.path.join(HERE, "kernel")
        if str(collection_path) == kernel_dir or str(collection_path).startswith(kernel_dir + os.sep):
            return True
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    kernel_dir = os.path.join(HERE, "kernel") + os.sep
    for item in items:
        if str(item.path).startswith(kernel_dir):
            item.add_marker(pytest.mark.kernel)


@pytest.fixture(scope="session")
def course() -> Course:
    return load_course()


@pytest.fixture(scope="session")
def rubrics(course):
    """The course's assignments by id."""
    return course.assignments
