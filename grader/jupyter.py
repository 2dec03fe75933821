"""`grader.check("ex3")` inside a notebook: one exercise's public checks, on the live kernel's names.

While a student works, the fastest feedback is on the objects they just defined, without
saving the notebook or starting another kernel. So the checks' calls run here, in the
student's own kernel (theirs to break: it is their session), through the same harness code a
graded kernel runs, and only plain data leaves it. Planning (which inputs) and judging
(against the reference) happen in a separate grader process (`grader.judge_server`), which
never runs the notebook's code; it stays up between checks, so only the first check of a
session waits for it to import torch and the course. Hidden checks never run here.

The random generators the checks seed (torch, numpy, random) are put back afterwards, so a
check changes nothing in the student's session but what their own functions do when called.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from typing import Any

from .results import GradeResult


class CheckError(RuntimeError):
    """The check could not run (no notebook, an unknown exercise, a grader process that died)."""


class CheckReport:
    """What `grader.check` returns: shown as the exercise's table in the notebook."""

    def __init__(self, result: GradeResult) -> None:
        self.result = result

    @property
    def score(self) -> float:
        return self.result.score

    @property
    def max_score(self) -> float:
        return self.result.max_score

    @property
    def passed(self) -> bool:
        return self.result.all_passed

    def __repr__(self) -> str:
        from .reporters import text

        return text.render(self.result).rstrip("\n")

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


class _JudgeProcess:
    """The grader process of this kernel's checks (started on the first check)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[str] | None = None

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            for attempt in (1, 2):  # a process that died since the last check is started again, once
                proc = self._running()
                try:
                    assert proc.stdin is not None and proc.stdout is not None
                    proc.stdin.write(json.dumps(request) + "\n")
                    proc.stdin.flush()
                    line = proc.stdout.readline()
                except (BrokenPipeError, OSError):
                    line = ""
                if line:
                    reply: dict[str, Any] = json.loads(line)
                    return reply
                self.close()
                if attempt == 2 or request.get("op") == "judge":  # its plan died with it
                    raise CheckError("the grader process stopped (start the check again)")
        raise AssertionError("unreachable")

    def _running(self) -> subprocess.Popen[str]:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "grader.judge_server"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                env={k: v for k, v in os.environ.items() if not k.startswith("JPY_")},
            )
        return self._proc

    def close(self) -> None:
        if self._proc is not None:
            try:
                self._proc.kill()
                self._proc.wait()
            except OSError:
                pass
            self._proc = None


_judge = _JudgeProcess()


def check(exercise: str, assignment: str | None = None) -> CheckReport:
    """Run the public checks of `exercise` (e.g. "ex3") on what this kernel defines now.

    `assignment`: the assignment id (default: from the notebook's metadata or file name when
    Jupyter says which notebook this is, else from the names the kernel defines). Raises
    `CheckError` with a one-line reason when the check cannot run at all.
    """
    namespace = _user_namespace()
    planned = _judge.ask(
        {
            "op": "plan",
            "exercise": exercise,
            "assignment": assignment,
            "notebook": os.environ.get("JPY_SESSION_NAME"),
            "names": [n for n in namespace if isinstance(n, str) and not n.startswith("_")],
        }
    )
    if "error" in planned:
        raise CheckError(planned["error"])
    results = _run_fetches(planned["request"], namespace)
    judged = _judge.ask({"op": "judge", "token": planned["token"], "results": results})
    if "error" in judged:
        raise CheckError(judged["error"])
    return CheckReport(GradeResult.from_dict(judged["result"]))


def _user_namespace() -> dict[str, Any]:
    try:
        from IPython import get_ipython
    except ImportError:
        get_ipython = None
    shell = get_ipython() if get_ipython is not None else None
    if shell is None:
        raise CheckError(
            "grader.check runs inside a Jupyter notebook; in a terminal use `grader check NOTEBOOK --exercise ID`"
        )
    return shell.user_ns


def _run_fetches(request: dict[str, Any], namespace: dict[str, Any]) -> dict[str, Any]:
    """The harness's fetches on the live namespace, as plain JSON-ready data."""
    from . import harness

    saved = _random_states()
    try:
        results: dict[str, Any] = harness.fetch_all(request, namespace)
        return results
    finally:
        _restore_random_states(saved)


def _random_states() -> dict[str, Any]:
    import random

    import numpy as np
    import torch

    return {"random": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}


def _restore_random_states(saved: dict[str, Any]) -> None:
    import random

    import numpy as np
    import torch

    random.setstate(saved["random"])
    np.random.set_state(saved["numpy"])
    torch.set_rng_state(saved["torch"])
