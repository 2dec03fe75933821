"""The pipe kernel (the default: IPython's shell over one socket) and ipykernel (over ZeroMQ) give
every notebook the same result: verdicts, errors and their messages, the sandbox's report.

The corpus is `grader grade`'s (correct, wrong, broken, hostile, unusable), and beside it the
notebooks whose meaning depends on the kernel's side of the protocol: output past the limit,
displays and results, sys.exit, input() and getpass(), magics and shell escapes, top-level await, syntax and
runtime errors, an interrupted cell followed by more cells, and a cell that ignores the
interrupt.
"""

from __future__ import annotations

import pytest
from nbfactory import variant

from grader.grading import Grader
from grader.limits import Limits
from tests.kernel.test_batch import NB, comparable, corpus

pytestmark = pytest.mark.xdist_group("test_kernel_protocols")

EXTRAS = {
    "flood": ["for i in range(20000):\n    print('x' * 40)"],
    "shows": [
        "from IPython.display import HTML, display\ndisplay(HTML('<b>shown</b>'), display_id='one')\n"
        "get_ipython().display_pub.clear_output(wait=True)\n41 + 1"
    ],
    "exits": ["import sys\nsys.exit(2)"],
    "asks": ["name = input('your name? ')"],
    "secret": ["import getpass\nword = getpass.getpass()"],
    "magic": ["%time x = 1\n!echo hello\nfiles = !echo a b"],
    "waits": ["import asyncio\nawait asyncio.sleep(0)\nawaited = True"],
    "typo": ["def broken(:\n    pass"],
    "raises": ["raise ValueError('boom')"],
    "stuck": ["while True:\n    pass", "after = 1"],
    "deaf": ["import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"],
    "both": ["import sys\nprint('out')\nprint('err', file=sys.stderr)\nprint('out again')\nraise KeyError('k')"],
}


def _graded(folder, protocol: str, monkeypatch) -> dict[str, dict]:
    monkeypatch.setenv("D2L_GRADER_KERNEL_PROTOCOL", protocol)
    made = corpus(folder)
    for name, cells in EXTRAS.items():
        made[name] = variant(NB, folder, append=cells, name=f"{name}.ipynb")
    limits = Limits(cell_timeout=2, output=200_000, total_output=800_000)
    with Grader(limits) as grader:
        assert grader.backend.protocol == protocol
        return {student: comparable(grader.grade(path, "conv-layer").to_dict()) for student, path in made.items()}


def test_pipe_kernels_and_ipykernels_give_every_notebook_the_same_result(tmp_path, monkeypatch):
    pipe = _graded(tmp_path / "class", "pipe", monkeypatch)
    jupyter = _graded(tmp_path / "class", "jupyter", monkeypatch)  # the same files, written again
    for student in pipe:
        assert pipe[student] == jupyter[student], student
    kinds = {student: {e["kind"] for e in result["errors"]} for student, result in pipe.items()}
    assert "output-limit" in kinds["flood"]
    assert "cell-timeout" in kinds["stuck"] and "cell-timeout" in kinds["deaf"]
    assert not kinds["shows"] and not kinds["magic"] and not kinds["waits"]
    messages = {student: " ".join(e["message"] for e in result["errors"]) for student, result in pipe.items()}
    assert "SystemExit" in messages["exits"]
    assert "StdinNotImplementedError" in messages["asks"] and "StdinNotImplementedError" in messages["secret"]
    assert "(line 1 of the cell)" in messages["typo"]
    assert "ValueError: boom" in messages["raises"] and "KeyError" in messages["both"]
    assert "ignored the interrupt" in messages["deaf"] and "ignored" not in messages["stuck"]
