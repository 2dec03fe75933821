"""`--format gradescope`: the `results.json` a Gradescope autograder must leave behind.

One test per check (hidden checks become visible `after_published`, with the generic message
they already carry). The file is produced for every outcome: when the notebook could not be
run at all, it holds one failing test that says why, as Gradescope asks, instead of nothing.
"""

from __future__ import annotations

import json
from typing import Any

from ..results import PASSED, GradeResult


def render(result: GradeResult, max_score: float | None = None) -> str:
    """`max_score`: the assignment's points, used only when the result has no checks."""
    return json.dumps(results_json(result, max_score), indent=2) + "\n"


def results_json(result: GradeResult, max_score: float | None = None) -> dict[str, Any]:
    tests: list[dict[str, Any]] = []
    numbers: dict[str, int] = {}
    for check in result.checks:
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
    if not result.checks:
        tests.append(
            {
                "name": "notebook",
                "number": "0",
                "score": 0.0,
                "max_score": float(max_score or 0.0),
                "status": "failed",
                "output": _not_graded(result),
                "visibility": "visible",
            }
        )
    return {
        "score": result.score,
        "execution_time": round(result.execution_time, 3),
        "output": _overall_output(result, max_score),
        "tests": tests,
    }


def _check_output(check) -> str:  # type: ignore[no-untyped-def]
    if check.status == PASSED:
        return f"passed: {check.description}" if check.description else "passed"
    prefix = "could not be evaluated: " if check.status == "error" else ""
    return prefix + (check.message or "failed")


def _not_graded(result: GradeResult) -> str:
    reasons = [e.message for e in result.errors] or ["the notebook could not be graded"]
    return "Your notebook could not be graded: " + "; ".join(reasons)


def _overall_output(result: GradeResult, max_score: float | None) -> str:
    total = result.max_score if result.checks else float(max_score or 0.0)
    lines = [f"{result.assignment or 'unknown assignment'}: {result.score:g}/{total:g} points."]
    if result.errors:
        lines.append("Problems while running your notebook:")
        lines.extend(f"  - {e.message}" for e in result.errors)
    if result.manual:
        lines.append("Collected for manual grading (scored later by your instructor):")
        for item in result.manual:
            state = f"{len(item.answer)} characters" if item.answer.strip() else "no answer found"
            lines.append(f"  - {item.id} ({item.exercise}): {state}")
    return "\n".join(lines)
