"""`--format junit`: JUnit XML for the test-report views of GitLab, Jenkins and GitHub actions.

One <testcase> per check (classname `assignment.exercise`, name = check id): a failed check
carries <failure>, a check that could not be evaluated carries <error>, both with the
student-facing message (hidden checks already have a generic one). Free-text items appear as
<skipped> ("collected for manual grading"), and notebook-level problems as a testcase named
`notebook` with <error>, so a broken notebook is never a silently green report.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from junitparser import Error, Failure, JUnitXml, Properties, Property, Skipped, TestCase, TestSuite
from junitparser.junitparser import SystemErr

from ..results import ERROR, FAILED, GradeResult, NotebookError

# Characters XML 1.0 cannot carry at all (student text may contain any of them).
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _clean(text: str) -> str:
    return _ILLEGAL.sub("\ufffd", text)


def render(result: GradeResult) -> str:
    assignment = result.assignment or "unknown-assignment"
    suite = TestSuite(_clean(assignment))
    properties = Properties()
    for name, value in (
        ("notebook", result.notebook),
        ("score", f"{result.score:g}"),
        ("max_score", f"{result.max_score:g}"),
        ("status", result.status),
    ):
        properties.add_property(Property(name, _clean(value)))
    suite.append(properties)

    for check in result.checks:
        case = TestCase(_clean(check.id), _clean(f"{assignment}.{check.exercise}"), 0.0)
        if check.status == FAILED:
            case.result = [Failure(_clean(check.message), "failed")]
        elif check.status == ERROR:
            case.result = [Error(_clean(check.message), "error")]
        points = f"{check.score:g}/{check.max_score:g} points" + (" (hidden check)" if check.hidden else "")
        case.system_out = _clean(f"{points}\n{check.description}".strip())
        suite.add_testcase(case)

    for item in result.manual:
        case = TestCase(_clean(item.id), _clean(f"{assignment}.{item.exercise}"), 0.0)
        state = "answered" if item.answer.strip() else "no answer found"
        case.result = [Skipped(f"collected for manual grading ({state})", "manual")]
        suite.add_testcase(case)

    if result.errors:
        case = TestCase("notebook", _clean(f"{assignment}.notebook"), 0.0)
        first = result.errors[0]
        error = Error(_clean(first.message), _clean(first.kind))
        error.text = _clean("\n".join(_describe(e) for e in result.errors))
        case.result = [error]
        suite.add_testcase(case)
        suite.append(SystemErr(_clean("\n".join(_describe(e) for e in result.errors))))

    xml = JUnitXml("d2l-grader")
    xml.add_testsuite(suite)
    suite.update_statistics()
    xml.update_statistics()
    # Checks are judged together after one notebook run: the time belongs to the suite.
    suite.time = xml.time = round(result.execution_time, 3)
    root = ET.fromstring(xml.tostring())
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _describe(error: NotebookError) -> str:
    where = f" (cell {error.cell})" if error.cell is not None else ""
    return f"{error.kind}{where}: {error.message}"
