"""`--format gradescope`: the `results.json` a Gradescope autograder must leave behind.

One test per check (hidden checks become visible `after_published`, with the generic message
they already carry). The file is produced for every outcome: when the notebook could not be
run at all, it holds one failing test that says why, as Gradescope asks, instead of nothing.
"""

from __future__ import annotations

import json
from typing import Any

from ..results import PASSED, CheckResult, GradeResult


def render(result: GradeResult) -> str:
    return json.dumps(results_json(result), indent=2) + "\n"


def results_json(result: GradeResult) -> dict[str, Any]:
    tests: list[dict[str, Any]] = []
    numbers: dict[str, int] = {}
    # A file that could not be run is one failing test saying why (as Gradescope asks), not one
    # failure per check repeating the same reason; it still counts 0 out of the full total.
    for check in result.checks if result.usable else []:
        exercise_no = numbers.setdefault(check.exercise, len(numbers) + 1)
        count = sum(1 for t in tests if t["number"].startswith(f"{exercise_no}."))
        tests.append(
            {
                "name": f"{check.exercise}: {check.id}" + (" (hidden)" if check.hidden else ""),
                "number": f"{exercise_no}.{count + 1}",
                "score": check.score,
                "max_score": check.max_score,
                "status": "passed" if check.status == PASSED else "failed",
                "output": _check_output(check),
                "visibility": "after_published" if check.hidden else "visible",
            }
        )
    if not result.usable or not result.checks:
        tests.append(
            {
                "name": "notebook",
                "number": "0",
                "score": 0.0,
                "max_score": result.max_score,
                "status": "failed",
                "output": _not_graded(result),
                "visibility": "visible",
            }
        )
    return {
        "score": result.score,
        "execution_time": round(result.execution_time, 3),
        "output": _overall_output(result),
        "tests": tests,
    }


def _check_output(check: CheckResult) -> str:
    if check.status == PASSED:
        return f"passed: {check.description}" if check.description else "passed"
    prefix = "could not be evaluated: " if check.status == "error" else ""
    return prefix + (check.message or "failed")


def _not_graded(result: GradeResult) -> str:
    reasons = [e.message for e in result.errors] or ["the notebook could not be graded"]
    return "Your notebook could not be graded: " + "; ".join(reasons)


def _overall_output(result: GradeResult) -> str:
    lines = [f"{result.assignment or 'unknown assignment'}: {result.score:g}/{result.max_score:g} points."]
    if result.errors:
        lines.append("Problems while running your notebook:")
        lines.extend(f"  - {e.message}" for e in result.errors)
    if result.manual:
        lines.append("Collected for manual grading (scored later by your instructor):")
        for item in result.manual:
            state = f"{len(item.answer)} characters" if item.answer.strip() else "no answer found"
            lines.append(f"  - {item.id} ({item.exercise}): {state}")
    return "\n".join(lines)
