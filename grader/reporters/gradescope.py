"""`--format gradescope`: the `results.json` a Gradescope autograder must leave behind.

One test per check (hidden checks become visible `after_published`, with the generic message
they already carry). The file is produced for every outcome: when the notebook could not be
run at all, it holds one failing test that says why, as Gradescope asks, instead of nothing.

Free-text answers cannot reach Gradescope's manual grading from here: results.json can only
report autograder tests, and manually graded questions are made in Gradescope's own interface.
So each free-text item is a test worth 0 points whose output is the student's answer (or says
that none was found), visible at once: the TA reads it beside the checks, and a student sees
before the deadline that an answer is missing. Its status is `passed` when there is an
answer, `failed` when there is none; it never changes the score.
"""

from __future__ import annotations

import json
from typing import Any

from ..results import PASSED, CheckResult, GradeResult, ManualItem

# A free-text answer is shown whole up to this many characters; the notebook keeps the rest.
ANSWER_LIMIT = 20_000


def render(result: GradeResult) -> str:
    return json.dumps(results_json(result), indent=2) + "\n"


def results_json(result: GradeResult) -> dict[str, Any]:
    tests: list[dict[str, Any]] = []
    numbers: dict[str, int] = {}

    def number(exercise: str) -> str:
        """`<exercise>.<test>`: exercises numbered in order of appearance, tests within each."""
        exercise_no = numbers.setdefault(exercise, len(numbers) + 1)
        count = sum(1 for t in tests if t["number"].startswith(f"{exercise_no}."))
        return f"{exercise_no}.{count + 1}"

    # A file that could not be run is one failing test saying why (as Gradescope asks), not one
    # failure per check repeating the same reason; it still counts 0 out of the full total.
    for check in result.checks if result.usable else []:
        tests.append(
            {
                "name": f"{check.exercise}: {check.id}" + (" (hidden)" if check.hidden else ""),
                "number": number(check.exercise),
                "score": check.score,
                "max_score": check.max_score,
                "status": "passed" if check.status == PASSED else "failed",
                "output": _check_output(check),
                "visibility": "after_published" if check.hidden else "visible",
            }
        )
    for item in result.manual if result.usable else []:
        tests.append(
            {
                "name": f"{item.exercise}: {item.id} (free text, graded by hand)",
                "number": number(item.exercise),
                "score": 0.0,
                "max_score": 0.0,
                "status": "passed" if item.answer.strip() else "failed",
                "output": _manual_output(item),
                "visibility": "visible",
            }
        )
    tests.sort(key=lambda t: [int(part) for part in t["number"].split(".")])  # free text beside its exercise
    if not result.usable or not tests:
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


def _manual_output(item: ManualItem) -> str:
    plural = "" if item.max_score == 1 else "s"
    points = f" ({item.max_score:g} point{plural}, graded by hand)" if item.max_score else " (graded by hand)"
    answer = item.answer.strip() or "No answer was found in the notebook's answer cell."
    if len(answer) > ANSWER_LIMIT:
        answer = answer[:ANSWER_LIMIT] + f"\n[... {len(answer) - ANSWER_LIMIT} more characters in the notebook]"
    return f"{item.prompt}{points}\n\nAnswer:\n{answer}"


def _not_graded(result: GradeResult) -> str:
    reasons = [e.message for e in result.errors] or ["the notebook could not be graded"]
    return "Your notebook could not be graded: " + "; ".join(reasons)


def _overall_output(result: GradeResult) -> str:
    lines = [f"{result.assignment or 'unknown assignment'}: {result.score:g}/{result.max_score:g} points."]
    if result.errors:
        lines.append("Problems while running your notebook:")
        lines.extend(f"  - {e.message}" for e in result.errors)
    if result.manual:
        lines.append("Collected for manual grading (scored later by your instructor; each answer is a test below):")
        for item in result.manual:
            state = f"{len(item.answer)} characters" if item.answer.strip() else "no answer found"
            lines.append(f"  - {item.id} ({item.exercise}): {state}")
    return "\n".join(lines)
