"""`--format github`: report to a GitHub Actions step (GitHub Classroom autograding).

Three outputs, all from the same result:

* `result=<base64 JSON>` appended to the file named by `$GITHUB_OUTPUT`, in the format of the
  classroom-resources runners (`version`, `status` pass|fail|error, `max_score`, `tests` with
  `name`, `status`, `score`, `message`, `test_code`, `filename`, `line_no`, `duration` in ms),
  so `classroom-resources/autograding-grading-reporter` totals the points with partial credit;
* a Markdown table appended to `$GITHUB_STEP_SUMMARY`;
* `::error` / `::warning` / `::notice` workflow-command lines, returned as the text to print,
  ending with `Points X/Y`.

Outside GitHub Actions (variables unset) the annotations are still printed, with a note saying
where the result would have gone.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Mapping
from typing import Any

from ..results import ERROR, FAILED, PASSED, GradeResult

_STATUS = {PASSED: "pass", FAILED: "fail", ERROR: "error"}
# Terminal control characters, C0 and C1 (colour codes in student output), have no place in a log line, and
# lone surrogates cannot be written as UTF-8 (the summary file, the log).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def render(result: GradeResult, environ: Mapping[str, str] | None = None) -> str:
    """Append the result and summary to the files GitHub names; return the annotation lines."""
    env = os.environ if environ is None else environ
    lines = annotation_lines(result)
    line = output_line(result)
    output_file = env.get("GITHUB_OUTPUT")
    if output_file:
        _append(output_file, line + "\n")
    else:
        lines.append(
            "GITHUB_OUTPUT is not set (not running in GitHub Actions); in a workflow step this line "
            "would be appended to it for the autograding-grading-reporter action:"
        )
        lines.append(line)
    summary_file = env.get("GITHUB_STEP_SUMMARY")
    if summary_file:
        _append(summary_file, summary_markdown(result))
    else:
        lines.append("GITHUB_STEP_SUMMARY is not set; the Markdown summary of the checks was not written.")
    return "\n".join(lines) + "\n"


def overall_status(result: GradeResult) -> str:
    if not result.usable or not result.checks or any(c.status == ERROR for c in result.checks):
        return "error"
    if any(c.status == FAILED for c in result.checks):
        return "fail"
    return "pass"


def payload(result: GradeResult) -> dict[str, Any]:
    """The runner result that the autograding-grading-reporter action decodes and totals."""
    tests = [
        {
            "name": check.id,
            "status": _STATUS.get(check.status, "error"),
            "score": check.score,
            "message": check.message,
            "test_code": check.description,
            "filename": result.notebook,
            "line_no": 0,
            "duration": 0,
        }
        for check in result.checks
    ]
    if not result.checks:  # never an empty list: the reporter divides by its length
        tests.append(
            {
                "name": "notebook",
                "status": "error",
                "score": 0,
                "message": "; ".join(e.message for e in result.errors) or "the notebook could not be graded",
                "test_code": f"grader check {result.notebook}",
                "filename": result.notebook,
                "line_no": 0,
                "duration": round(result.execution_time * 1000),
            }
        )
    return {
        "version": 1,
        "status": overall_status(result),
        "max_score": result.max_score,
        "tests": tests,
    }


def output_line(result: GradeResult) -> str:
    encoded = base64.b64encode(json.dumps(payload(result)).encode("utf-8")).decode("ascii")
    return f"result={encoded}"


def annotation_lines(result: GradeResult) -> list[str]:
    lines = []
    for error in result.errors:
        kind = "error" if not result.usable or error.kind in ("kernel-died", "internal-error") else "warning"
        lines.append(_command(kind, "notebook", error.message))
    for check in result.checks:
        if check.status != PASSED:
            title = f"{check.id} (0/{check.max_score:g} points)"
            lines.append(_command("error", title, check.message or check.status))
    points = f"Points {result.score:g}/{result.max_score:g}"
    lines.append(_command("notice", f"Autograding {result.assignment or ''}".strip(), points))
    return lines


def summary_markdown(result: GradeResult) -> str:
    total = result.max_score
    out = [f"### {result.assignment or 'unknown assignment'}: {result.score:g}/{total:g} points", ""]
    if result.errors:
        out.extend(f"- **{e.kind}**: {_cell(e.message)}" for e in result.errors)
        out.append("")
    if result.checks:
        out.append("| check | exercise | points | result | why |")
        out.append("|---|---|---|---|---|")
        for c in result.checks:
            name = c.id + (" (hidden)" if c.hidden else "")
            why = "" if c.status == PASSED else _cell(c.message)
            out.append(f"| {name} | {c.exercise} | {c.score:g}/{c.max_score:g} | {c.status} | {why} |")
        out.append("")
    if result.manual:
        out.append(
            "Collected for manual grading: "
            + ", ".join(f"{m.id} ({'answered' if m.answer.strip() else 'no answer found'})" for m in result.manual)
        )
        out.append("")
    return "\n".join(out) + "\n"


def _cell(text: str) -> str:
    text = _CONTROL.sub("", text)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", "<br>")


def _command(kind: str, title: str, message: str) -> str:
    """A workflow command line, escaped as GitHub's toolkit escapes data and properties."""
    message, title = _CONTROL.sub("", message), _CONTROL.sub("", title)
    data = message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    prop = title.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A").replace(":", "%3A").replace(",", "%2C")
    return f"::{kind} title={prop}::{data}"


def _append(path: str, text: str) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(text)
