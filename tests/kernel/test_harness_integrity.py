"""The harness and its results against a notebook that watches or rewrites them.

The harness runs as a silent execution (no IPython pre/post-cell hooks fire for it), its
results travel on two channels that must agree (the execute reply and a digest on IOPub),
and what the notebook prints while the checks call it goes nowhere. Each attack here gains
nothing: no points, no inputs, no grader memory.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from nbfactory import lost, variant

NB = "conv-layer.ipynb"


def grade(grader, rubrics, path):
    return grader.grade(path, rubrics["conv-layer"])


def test_a_pre_run_cell_hook_never_sees_the_harness(grader, rubrics, tmp_path):
    """A hook that would learn the hidden inputs (and the token) from the harness cell's source
    sees nothing: min_kernel_size stays right only if the hook never fired for the harness."""
    spy = """
import IPython
SEEN = []
def _spy(info):
    if (info.raw_cell or '').startswith('exec(compile('):  # how the harness cell begins
        SEEN.append(info.raw_cell)
ip = IPython.get_ipython()
ip.events.register('pre_run_cell', _spy)
ip.events.register('post_run_cell', lambda result: _spy(result.info))
def min_kernel_size(d):
    return d + 1 if not SEEN else d
"""
    result = grade(grader, rubrics, variant(NB, tmp_path, append=[spy]))
    assert result.errors == [] and lost(result) == {}


@pytest.mark.parametrize(
    "attack, why",
    [
        (  # drop the result message: the execute reply alone is not believed
            "import IPython.display as d\n_real = d.publish_display_data\n"
            "d.publish_display_data = lambda data, *a, **k: None if any('d2l-grader' in m for m in data) else _real(data, *a, **k)",
            "no result message beside the results",
        ),
        (  # publish it twice
            "import IPython.display as d\n_real = d.publish_display_data\n"
            "def _twice(data, *a, **k):\n    _real(data, *a, **k)\n    _real(data, *a, **k)\nd.publish_display_data = _twice",
            "more than one result message",
        ),
        (  # rewrite the digest
            "import IPython.display as d\n_real = d.publish_display_data\n"
            "def _forge(data, *a, **k):\n    data = {m: (dict(v, sha256='0' * 64) if 'd2l-grader' in m else v) for m, v in data.items()}\n"
            "    _real(data, *a, **k)\nd.publish_display_data = _forge",
            "the two channels disagree",
        ),
        (  # rewrite the execute reply's results
            "import IPython\nip = IPython.get_ipython()\n_real = ip.user_expressions\n"
            "def _forge(expressions):\n    out = _real(expressions)\n"
            "    for v in out.values():\n        v.get('data', {}).pop('application/json', None)\n    return out\n"
            "ip.user_expressions = _forge",
            "the execute reply holds no results",
        ),
    ],
)
def test_rewriting_one_channel_of_the_results_is_noticed(grader, rubrics, tmp_path, attack, why):
    result = grade(grader, rubrics, variant(NB, tmp_path, append=[attack]))
    failed = [e for e in result.errors if e.kind == "harness-failed"]
    assert failed and "tampered" in failed[0].message and why in failed[0].message, result.errors
    assert result.score == 0 and {c.status for c in result.checks} == {"error"}


def test_what_a_checked_function_prints_goes_nowhere(grader, rubrics, tmp_path):
    """60 MB printed while a check calls the function: the check is judged, the print dropped
    in the kernel (the grader neither receives nor keeps it)."""
    noisy = "def min_kernel_size(d):\n    for _ in range(600):\n        print('x' * 100_000)\n    return d + 1"
    path = variant(NB, tmp_path, append=[noisy])
    started = time.monotonic()
    result = grade(grader, rubrics, path)
    assert result.errors == [] and lost(result) == {}
    assert time.monotonic() - started < 60  # generous: 60 MB never crosses, so this takes seconds


def test_a_notebook_of_another_assignment_is_told_so(grader, rubrics, course):
    pooling = course.starter_notebook(course.get("pooling"))
    result = grade(grader, rubrics, pooling)
    (problem,) = [e for e in result.errors if e.kind == "wrong-assignment"]
    assert problem.message.startswith("this is the pooling notebook; this assignment is conv-layer")
    assert result.status == "error" and result.score == 0


def test_ctrl_c_during_check_stops_with_130_and_one_line(tmp_path):
    slow = variant(NB, tmp_path, append=["import time\ntime.sleep(60)"])
    proc = subprocess.Popen(
        [sys.executable, "-m", "grader", "check", slow],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    time.sleep(8)  # the notebook is running
    os.killpg(proc.pid, signal.SIGINT)  # a terminal's Ctrl-C reaches the whole process group
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    assert err.strip().splitlines() == ["grader: interrupted; nothing was graded"]
    assert "Traceback" not in err and out == ""
