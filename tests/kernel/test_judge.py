"""The judge: the warm parent's child that computes verdicts, so the grader never imports torch.

What must hold: verdicts are the same as when the grader judges itself (the portable backend
does, and tests/kernel/test_sandbox.py grades one corpus through both and compares), the
grader process stays without torch, and a judge that dies costs no verdict.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psutil

from grader.course import load_course
from grader.grading import Grader
from tests.kernel.conftest import TEST_LIMITS
from tests.kernels import run_cells

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "examples", "submission.ipynb")
FULL = load_course().get("conv-layer").max_score  # the example's assignment; the example scores 16 of it


def test_a_grader_with_a_warm_parent_never_imports_torch():
    program = (
        "import sys\n"
        "from grader.api import grade_notebook\n"
        "result = grade_notebook(sys.argv[1])\n"
        "print(result.score, result.max_score, 'torch' in sys.modules, result.sandbox.get('backend'))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", program, EXAMPLE], capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["16.0", str(FULL), "False", "forkserver"]


def _warm_parent(grader: Grader) -> psutil.Process:
    """The warm parent's own process (under bubblewrap's, when there is one)."""
    top = psutil.Process(grader.backend._server._proc.pid)
    for process in [top, *top.children(recursive=True)]:
        command = process.cmdline()
        if command and "bwrap" not in os.path.basename(command[0]) and "grader.forkserver" in command:
            return process
    raise AssertionError("no warm parent")


def _children_once_idle(parent: psutil.Process) -> list[psutil.Process]:
    """The warm parent's children once the last notebook's kernel has been reaped (the judge
    stays between notebooks)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            children = [c for c in parent.children() if c.status() != psutil.STATUS_ZOMBIE]
        except psutil.NoSuchProcess:  # a keeper exited while we looked
            children = [None, None]
        if len(children) <= 1 or time.monotonic() > deadline:
            return children
        time.sleep(0.05)


def test_a_judge_that_dies_costs_no_verdict_and_is_replaced(course):
    with Grader(TEST_LIMITS, course=course) as grader:
        first = grader.grade(EXAMPLE)
        parent = _warm_parent(grader)
        (judge,) = _children_once_idle(parent)
        judge.kill()
        judge.wait(10)
        again = grader.grade(EXAMPLE)  # judged here this once: the judge did not answer
        third = grader.grade(EXAMPLE)  # a new judge
        (replacement,) = _children_once_idle(parent)
    assert first.score == 16.0 and first.max_score == FULL
    assert [c.to_dict() for c in again.checks] == [c.to_dict() for c in first.checks]
    assert [c.to_dict() for c in third.checks] == [c.to_dict() for c in first.checks]
    assert replacement.pid != judge.pid


def test_no_kernel_sees_or_reaches_the_judge_or_its_course_copies(course):
    with Grader(TEST_LIMITS, course=course) as grader:
        grader.grade(EXAMPLE)  # the judge is up, holding its copies of the course files
        folder = grader._judge.folder
        copies = sorted(os.path.join(d, n) for d, _, names in os.walk(folder) for n in names)
        assert any(p.endswith(os.path.join("reference", "conv_layer.py")) for p in copies)
        probe = f"""
import glob, os, socket
seen = sorted(glob.glob(os.path.join(os.path.dirname(os.getcwd()), '*')))
reach = []
for path in {[folder, os.path.dirname(copies[0]), *copies]!r}:
    for how, attempt in (('list', os.listdir), ('read', lambda p: open(p, 'rb').read(1))):
        try:
            attempt(path)
            reach.append(how + ' ' + path)
        except OSError:
            pass
try:
    socket.socket(socket.AF_UNIX).connect({os.path.join(folder, "judge.sock")!r})
    reach.append('connected')
except OSError:
    pass
"""
        execution, values = run_cells(grader, [probe], ["seen", "reach"])
    assert not execution.errors
    assert values["reach"] == []
    assert not [p for p in values["seen"] if p.startswith(folder)]
