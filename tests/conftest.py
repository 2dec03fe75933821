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
import signal
import sys
import threading

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


@pytest.hookimpl(wrapper=True)
def pytest_collection(session: pytest.Session):
    """pytest keeps each test module's assertion-rewritten code in `__pycache__` (gitignored)
    unless the interpreter writes no bytecode: with PYTHONDONTWRITEBYTECODE=1, as on this
    machine, every worker rewrote all ~130 test modules on every run, ~3 CPU-s each time
    (half the unit tier's collection). So collection writes bytecode: of the test modules, and
    of the engine's modules first imported then (`__pycache__` too). Nothing is written after."""
    keep = sys.dont_write_bytecode
    sys.dont_write_bytecode = False
    try:
        return (yield)
    finally:
        sys.dont_write_bytecode = keep


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """`-n auto` (pyproject's addopts): a worker per core, plus one when kernel tests run.

    A kernel test spends part of its time waiting: on sleeping notebooks, time limits, signals,
    a grader's start-up across processes. With a worker per core those waits left the cores
    ~14% idle, and a third worker on this 2-core machine took the whole suite from 267 to 244 s
    (measured back to back). The unit tier never waits, and each extra worker costs it ~7 s of
    collection: a worker per core there. PYTEST_XDIST_AUTO_NUM_WORKERS still decides if set."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    cores = len(os.sched_getaffinity(0)) or 1
    return cores if (config.getoption("markexpr", "") or "").strip() == "not kernel" else cores + 1


@pytest.fixture(scope="session", autouse=True)
def ctrl_c_as_in_a_terminal():
    """The commands tests start get SIGINT as a terminal's foreground job does.

    A suite started in the background of a non-interactive shell (`cmd &` in a script) has
    SIGINT ignored, as POSIX shells do for such jobs, and Unix keeps an ignored signal ignored
    across fork and exec: every `grader` the tests start would then ignore the Ctrl-C a test
    sends it, and rightly so (Python leaves an inherited SIG_IGN alone). So the worker takes
    Python's own handler back, and what it starts sees SIGINT as a terminal would send it."""
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    yield


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
