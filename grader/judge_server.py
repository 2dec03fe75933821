"""The grader side of `grader.check` in Jupyter: plans and judges outside the student's kernel.

A student checking one exercise while working runs the checks' calls in their own kernel
(`grader.jupyter`), but nothing computed there is trusted to say what is right: this
process, started by the kernel with `python -m grader.judge_server`, loads the course, plans
the exercise's public checks (inputs only go to the kernel, never an expected value),
and judges the plain data the kernel sends back with the reference, exactly as a batch does.
It never imports or runs anything of the notebook's. It stays up between checks, so only the
first check of a session pays for importing torch and the course.

Protocol: JSON lines. {"op": "plan", "exercise", "assignment", "notebook", "names"} is
answered with {"token", "assignment", "request"} (the harness request of `planning.Plan`);
{"op": "judge", "token", "results"} with {"result": GradeResult as JSON}. Any failure is
{"error": one line}.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from collections import OrderedDict
from typing import Any

from .course import Course, UnknownAssignment, load_course
from .limits import Limits
from .planning import Plan, plan
from .results import GradeResult
from .rubric import Rubric

_KEPT_PLANS = 8  # plans waiting for their results (a check abandoned halfway leaves one behind)


class JudgeServer:
    """Plans and judges one exercise's public checks at a time (see the module docstring)."""

    def __init__(self, course: Course, limits: Limits | None = None) -> None:
        self.course = course
        self.limits = limits or Limits()
        self._plans: dict[tuple[str, str], Plan] = {}
        self._waiting: OrderedDict[str, tuple[Plan, str]] = OrderedDict()

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        try:
            if request.get("op") == "plan":
                return self._plan(request)
            if request.get("op") == "judge":
                return self._judge(request)
            return {"error": f"unknown request {request.get('op')!r}"}
        except (LookupError, ValueError) as exc:  # unknown assignment or exercise, a bad request
            return {"error": str(exc)}
        except Exception as exc:  # a bug of ours or of the course: one line, never a traceback
            return {"error": f"internal error: {type(exc).__name__}: {exc}"}

    def _rubric(self, request: dict[str, Any]) -> Rubric:
        """The assignment named, else the one the notebook's metadata or file names, else the
        one whose names the kernel defines."""
        if request.get("assignment"):
            return self.course.get(str(request["assignment"]))
        from . import notebook

        path = request.get("notebook")
        if isinstance(path, str) and path.endswith(".ipynb") and os.path.isfile(path):
            try:
                return notebook.detect_assignment(notebook.load(path), path, self.course)
            except (notebook.UnusableNotebook, UnknownAssignment):
                pass
        found = notebook.assignment_by_names({str(n) for n in request.get("names", [])}, self.course)
        if found is None:
            choices = ", ".join(sorted(self.course.assignments))
            raise LookupError(f"cannot tell which assignment this is; pass assignment= with one of: {choices}")
        return found

    def _plan(self, request: dict[str, Any]) -> dict[str, Any]:
        rubric = self._rubric(request)
        exercise = str(request.get("exercise", ""))
        key = (rubric.id, exercise)
        if key not in self._plans:
            self._plans[key] = plan(rubric.public_part(exercise))  # public checks: no salt, shared inputs
        the_plan = self._plans[key]
        token = secrets.token_hex(16)
        self._waiting[token] = (the_plan, exercise)
        while len(self._waiting) > _KEPT_PLANS:
            self._waiting.popitem(last=False)
        return {"token": token, "assignment": rubric.id, "request": the_plan.request(token, self.limits.call_timeout)}

    def _judge(self, request: dict[str, Any]) -> dict[str, Any]:
        from .judging import evaluate

        waiting = self._waiting.pop(str(request.get("token")), None)
        if waiting is None:
            raise ValueError("these results answer no check this server planned")
        the_plan, exercise = waiting
        results = request.get("results")
        if not isinstance(results, dict):
            raise ValueError("the results are not a JSON object")
        rubric = the_plan.rubric
        result = GradeResult(assignment=rubric.id, notebook="this notebook", max_score=rubric.max_score)
        result.exercise = exercise
        result.checks = evaluate(the_plan, results, None, self.limits.judge_timeout)
        return {"result": result.to_dict()}


def serve() -> None:
    out = sys.stdout
    sys.stdout = sys.stderr  # whatever a course module prints must not break the protocol
    try:
        server: JudgeServer | None = JudgeServer(load_course())
        problem = ""
    except Exception as exc:  # an unusable course: every request is told why
        server, problem = None, f"{type(exc).__name__}: {exc}"
    for line in sys.stdin:
        try:
            request = json.loads(line)
        except ValueError:
            reply: dict[str, Any] = {"error": "a request that is not JSON"}
        else:
            reply = server.handle(request) if server is not None else {"error": problem}
        out.write(json.dumps(reply) + "\n")
        out.flush()


if __name__ == "__main__":
    serve()
