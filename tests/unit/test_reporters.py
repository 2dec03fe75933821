"""Every output format, fed hand-made results (no kernel).

Each report is read back with a parser that is not the one that wrote it: ElementTree and
tests/junit.xsd for JUnit, the JSON Schemas of tests/ci_schemas.py for Gradescope and the
GitHub Classroom runner result, csv/json/regular expressions for the rest.
"""

from __future__ import annotations

import base64
import json
import os
import re
import xml.etree.ElementTree as ET

import jsonschema
import pytest
import xmlschema
from ci_schemas import GRADESCOPE_SCHEMA, RUNNER_SCHEMA
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import grader.warm_parent
from grader import cli
from grader.reporters import FORMATS, github, render, renderers, text
from grader.results import ERROR, FAILED, PASSED, UNUSABLE_KINDS, CheckResult, GradeResult, ManualItem, NotebookError

XSD = xmlschema.XMLSchema(os.path.join(os.path.dirname(os.path.dirname(__file__)), "junit.xsd"))
HIDDEN_MESSAGE = "hidden check failed (its inputs and expected values are not shown)"
# Workflow commands as the runner parses them: ::kind title=...::data
ANNOTATION = re.compile(r"^::(error|warning|notice)(?: title=([^:]*))?::(.*)$")
# What a terminal or a log would act on (kept: tab, newline).
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


@pytest.fixture(autouse=True)
def outside_github_actions(monkeypatch):
    """`render("github", ...)` reads os.environ: never append to a real runner's files."""
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


# ----------------------------------------------------------------------------- hand-made results
def check(
    check_id: str,
    exercise: str = "ex1",
    status: str = PASSED,
    *,
    points: float = 1.0,
    hidden: bool = False,
    message: str = "",
    description: str = "",
) -> CheckResult:
    score = points if status == PASSED else 0.0
    return CheckResult(check_id, exercise, score, points, status, hidden, message, description)


def graded() -> GradeResult:
    """A notebook that ran: passed, failed, hidden and unevaluable checks, free text, a timeout.

    4 of 7 points: `shape` (2) and `secret-ok` (2) passed.
    """
    return GradeResult(
        assignment="demo",
        notebook="alice.ipynb",
        max_score=7.0,
        checks=[
            check("shape", "ex1", PASSED, points=2, description="output shape of corr2d"),
            check("values", "ex1", FAILED, message="expected 3.0 at [0, 1], got 2.0 (atol 1e-05)"),
            check("secret", "ex2", FAILED, hidden=True, message=HIDDEN_MESSAGE),
            check("secret-ok", "ex2", PASSED, points=2, hidden=True),
            check("missing", "ex3", ERROR, message="the notebook does not define corr2d_matmul"),
        ],
        manual=[
            ManualItem("why-linear", "ex1", "Explain why.", "Because a convolution is linear.", 2.0),
            ManualItem("proof", "ex3", "Prove it.", "", 1.0),
        ],
        errors=[NotebookError("cell-timeout", "cell 4 exceeded the 60 s time limit", 4)],
        execution_time=1.23456,
    )


def unusable(max_score: float = 17.5) -> GradeResult:
    """A file that could not be read at all, for a known assignment: 0 out of its total."""
    return GradeResult(
        assignment="demo",
        notebook="broken.ipynb",
        max_score=max_score,
        errors=[NotebookError("invalid-notebook", "broken.ipynb: not a notebook (invalid JSON at line 1)")],
    )


def unknown_assignment() -> GradeResult:
    return GradeResult(
        assignment=None,
        notebook="mystery.ipynb",
        errors=[NotebookError("unknown-assignment", "cannot tell which assignment mystery.ipynb is")],
    )


# ----------------------------------------------------------------------------- readers
def junit_root(result: GradeResult) -> ET.Element:
    """The JUnit report, schema-validated, with its counts checked against its test cases."""
    xml = render("junit", result)
    XSD.validate(xml)
    root = ET.fromstring(xml.encode("utf-8"))
    assert root.tag == "testsuites"
    for suite in root.iter("testsuite"):
        cases = suite.findall("testcase")
        assert int(suite.get("tests")) == len(cases)
        for outcome, count in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
            assert int(suite.get(count)) == sum(1 for c in cases if c.find(outcome) is not None)
    return root


def junit_outcomes(root: ET.Element) -> dict[tuple[str, str], str]:
    out = {}
    for case in root.iter("testcase"):
        kind = next((k for k in ("failure", "error", "skipped") if case.find(k) is not None), "passed")
        out[(case.get("classname"), case.get("name"))] = kind
    return out


def junit_properties(root: ET.Element) -> dict[str, str]:
    return {p.get("name"): p.get("value") for p in root.iter("property")}


def gradescope_data(result: GradeResult) -> dict:
    data = json.loads(render("gradescope", result))
    jsonschema.validate(data, GRADESCOPE_SCHEMA)
    return data


def decode_output_line(line: str) -> dict:
    assert line.startswith("result=")
    payload = json.loads(base64.b64decode(line[len("result=") :], validate=True).decode("utf-8"))
    jsonschema.validate(payload, RUNNER_SCHEMA)
    return payload


def github_in_actions(result: GradeResult, tmp_path) -> tuple[str, dict, str]:
    """Render as in a workflow step whose files already hold an earlier step's lines."""
    out, summary = tmp_path / "github_output", tmp_path / "step_summary"
    out.write_text("earlier=kept\n", encoding="utf-8")
    summary.write_text("# earlier step\n", encoding="utf-8")
    printed = github.render(result, environ={"GITHUB_OUTPUT": str(out), "GITHUB_STEP_SUMMARY": str(summary)})
    earlier, line = out.read_text(encoding="utf-8").splitlines()
    assert earlier == "earlier=kept"
    markdown = summary.read_text(encoding="utf-8")
    assert markdown.startswith("# earlier step\n")
    return printed, decode_output_line(line), markdown.removeprefix("# earlier step\n")


def annotations(printed: str) -> list[tuple[str, str, str]]:
    found = []
    for line in printed.rstrip("\n").split("\n"):  # the runner splits on LF only
        match = ANNOTATION.match(line)
        assert match, f"not a workflow command: {line!r}"
        found.append(match.groups())
    return found


def _text_points(report: str) -> tuple[str, str]:
    (match,) = re.findall(r"^Score: (\S+)/(\S+)$", report, re.MULTILINE)
    return match


def _json_points(report: str) -> tuple[str, str]:
    data = json.loads(report)
    return f"{data['score']:g}", f"{data['max_score']:g}"


def _junit_points(report: str) -> tuple[str, str]:
    XSD.validate(report)
    props = junit_properties(ET.fromstring(report.encode("utf-8")))
    return props["score"], props["max_score"]


def _gradescope_points(report: str) -> tuple[str, str]:
    data = json.loads(report)
    jsonschema.validate(data, GRADESCOPE_SCHEMA)
    assert data["score"] == sum(t["score"] for t in data["tests"])
    return f"{data['score']:g}", f"{sum(t['max_score'] for t in data['tests']):g}"


def _github_points(report: str) -> tuple[str, str]:
    """What GitHub Classroom's reporter totals, which must agree with the printed notice."""
    payload = decode_output_line(next(line for line in report.split("\n") if line.startswith("result=")))
    total = f"{sum(t['score'] for t in payload['tests']):g}", f"{payload['max_score']:g}"
    notice = next(line for line in report.split("\n") if line.startswith("::notice"))
    assert notice.endswith(f"::Points {total[0]}/{total[1]}")
    return total


POINTS_IN = {
    "text": _text_points,
    "json": _json_points,
    "junit": _junit_points,
    "gradescope": _gradescope_points,
    "github": _github_points,
}


# ----------------------------------------------------------------------------- every format
def test_every_format_has_a_reader_here():
    assert set(FORMATS) == set(POINTS_IN) == set(renderers())


@pytest.mark.parametrize("fmt", FORMATS)
def test_graded_notebook_reports_its_score_out_of_the_total_in_every_format(fmt):
    assert POINTS_IN[fmt](render(fmt, graded())) == ("4", "7")


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("kind", UNUSABLE_KINDS)
def test_unusable_notebook_counts_zero_of_the_full_total_in_every_format(fmt, kind):
    result = unusable(17.5)
    result.errors = [NotebookError(kind, f"could not be graded ({kind})")]
    assert not result.usable and result.checks == []
    assert POINTS_IN[fmt](render(fmt, result)) == ("0", "17.5")


@pytest.mark.parametrize("fmt", FORMATS)
def test_unknown_assignment_is_zero_of_zero_and_says_why_in_every_format(fmt):
    report = render(fmt, unknown_assignment())
    assert POINTS_IN[fmt](report) == ("0", "0")
    if fmt == "github":  # the reason travels in the encoded runner result
        line = next(x for x in report.split("\n") if x.startswith("result="))
        report = json.dumps(decode_output_line(line))
    assert "cannot tell which assignment mystery.ipynb is" in report


@pytest.mark.parametrize("problem", ["missing", "not JSON", "empty"])
def test_check_gives_every_format_the_assignments_total_for_a_file_it_cannot_read(
    problem, course, tmp_path, monkeypatch
):
    """`grader check NOTEBOOK --assignment ID`, one run writing every format: a notebook that is
    missing or unreadable counts 0 out of the assignment's real total in each (the total comes
    from the result, set where the assignment is known, never from a reporter)."""

    def no_kernel(self, *args, **kwargs):
        raise AssertionError("an unreadable notebook must not start a kernel")

    monkeypatch.setattr(grader.warm_parent.ForkServer, "__init__", no_kernel)
    rubric = next(iter(course.assignments.values()))
    notebook = tmp_path / "homework.ipynb"
    if problem != "missing":
        notebook.write_text("this is not JSON {" if problem == "not JSON" else "", encoding="utf-8")
    others = [fmt for fmt in FORMATS if fmt != "text"]
    args = ["check", str(notebook), "--assignment", rubric.id, "--format", "text"]
    for fmt in others:
        args += ["--report", f"{fmt}={tmp_path / fmt}"]
    run = CliRunner().invoke(cli.main, args, prog_name="grader")
    assert run.exit_code == 2, run.output  # unusable input, after every report was written
    reports = {"text": run.stdout, **{fmt: (tmp_path / fmt).read_text(encoding="utf-8") for fmt in others}}
    total = f"{rubric.max_score:g}"
    assert rubric.max_score > 0
    assert {fmt: POINTS_IN[fmt](report) for fmt, report in reports.items()} == {fmt: ("0", total) for fmt in FORMATS}


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_keeps_control_characters_and_markup_out_of_harm(fmt):
    nasty = "got \x1b[31mred\x1b[0m\x07\x00\x9b2J\x85 [/] [bold]x[/bold] :smile: \ud800 100%, a:b"
    result = GradeResult(
        "demo",
        "[red]x.ipynb",
        max_score=1.0,
        checks=[check("c", "ex1", FAILED, message=nasty)],
        errors=[NotebookError("cell-error", "cell 2 raised ValueError: [/b] \x1b[2J", 2)],
    )
    report = render(fmt, result)
    report.encode("utf-8")  # writable as a file, printable on a UTF-8 terminal
    if fmt == "json":  # the machine contract is lossless
        assert json.loads(report)["checks"][0]["message"] == nasty
    elif fmt == "junit":  # XML cannot carry these characters: replaced, never dropped silently
        failure = junit_root(result).find(".//failure")
        assert failure.get("message") == nasty.translate(
            {0x1B: "\ufffd", 0x07: "\ufffd", 0: "\ufffd", 0xD800: "\ufffd"}
        )
    elif fmt == "gradescope":
        assert gradescope_data(result)["tests"][0]["output"] == nasty
    else:  # text for people, GitHub log lines: no terminal control codes at all, the rest as written
        assert not CONTROL.search(report.replace("\n", "").replace("\t", ""))
        assert "got [31mred[0m2J [/] [bold]x[/bold] :smile:" in report
        assert "cell 2 raised ValueError: [/b] [2J" in report


# Text that has broken reporters: Rich markup, terminal codes, lone surrogates, table syntax.
TRICKY = [
    "[/]",
    "[/b]",
    "\x1b[31m",
    "\x9b2J",
    "\x85",
    "\x07",
    "\x00",
    "\ud800",
    "|",
    "\n",
    "\r\n",
    "%",
    ":",
    ",",
    ":smile:",
]
_text = st.lists(st.one_of(st.text(max_size=8), st.sampled_from(TRICKY)), max_size=4).map("".join)
_points = st.sampled_from([0.5, 1.0, 2.0, 3.0])


@st.composite
def _check_results(draw) -> CheckResult:
    status = draw(st.sampled_from([PASSED, FAILED, ERROR]))
    points = draw(_points)
    return CheckResult(
        id=draw(_text.filter(bool)),
        exercise=draw(st.sampled_from(["section", "ex1", "ex2", "ex10"])),
        score=points if status == PASSED else 0.0,
        max_score=points,
        status=status,
        hidden=draw(st.booleans()),
        message=draw(_text),
        description=draw(_text),
    )


@st.composite
def _results(draw) -> GradeResult:
    errors = draw(
        st.lists(
            st.builds(
                NotebookError,
                st.sampled_from(["invalid-notebook", "internal-error", "cell-timeout", "kernel-died", "cell-error"]),
                _text,
                st.none() | st.integers(1, 40),
            ),
            max_size=2,
        )
    )
    checks = draw(st.lists(_check_results(), max_size=5))
    if any(e.kind in UNUSABLE_KINDS for e in errors):  # as the grader builds them: nothing was scored
        checks = [CheckResult(c.id, c.exercise, 0.0, c.max_score, ERROR, c.hidden, c.message) for c in checks]
    return GradeResult(
        assignment=draw(st.none() | st.sampled_from(["demo", "another-assignment"])),
        notebook=draw(_text.filter(bool)),
        max_score=sum(c.max_score for c in checks) + draw(st.sampled_from([0.0, 1.0])),
        checks=checks,
        manual=draw(st.lists(st.builds(ManualItem, _text, st.just("ex1"), _text, _text, _points), max_size=2)),
        errors=errors,
        execution_time=draw(st.floats(0, 1e5)),
    )


@settings(max_examples=30, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(_results())
def test_any_result_renders_in_every_format_and_each_file_passes_its_schema(result):
    reports = {fmt: render(fmt, result) for fmt in FORMATS}
    for report in reports.values():
        report.encode("utf-8")
    junit_root(result)
    data = gradescope_data(result)
    assert data["score"] == sum(t["score"] for t in data["tests"])
    github_lines = reports["github"].rstrip("\n").split("\n")
    decode_output_line(next(line for line in github_lines if line.startswith("result=")))
    annotations("\n".join(line for line in github_lines if line.startswith("::")))
    assert not CONTROL.search(reports["text"].replace("\n", "").replace("\t", ""))
    assert _text_points(reports["text"]) == (f"{result.score:g}", f"{result.max_score:g}")


# ----------------------------------------------------------------------------- text
def test_text_report_explains_failed_and_unevaluable_checks_and_describes_every_one():
    report = text.render(graded())
    assert "expected 3.0 at [0, 1], got 2.0 (atol 1e-05)" in report
    assert "the notebook does not define corr2d_matmul" in report
    assert "output shape of corr2d" in report  # what a check is about: shown, passed or not
    rows = {line.split("│")[1].strip(): line for line in report.splitlines() if line.count("│") > 3}
    assert set(rows) >= {"shape", "values", "secret (hidden)", "secret-ok (hidden)", "missing"}
    assert "2/2" in rows["shape"] and "passed" in rows["shape"]
    assert "0/1" in rows["missing"] and "error" in rows["missing"]


def test_text_report_totals_each_exercise_and_lists_notebook_problems():
    report = text.render(graded())
    assert report.splitlines()[0] == "alice.ipynb — assignment demo"
    assert "  ! cell 4 exceeded the 60 s time limit" in report.splitlines()
    titles = [line.strip() for line in report.splitlines() if re.fullmatch(r"\s*(ex\d+): \S+\s*", line)]
    assert titles == ["ex1: 2/3", "ex2: 2/3", "ex3: 0/1"]


def test_text_report_counts_answered_free_text_and_flags_missing_answers():
    result = graded()
    result.manual.append(ManualItem("blank", "ex2", "Say something.", "  \n ", 1.0))
    report = text.render(result)
    answer = "Because a convolution is linear."
    assert f"  - why-linear (ex1): {len(answer)} characters" in report
    assert "  - proof (ex3): no answer found" in report
    assert "  - blank (ex2): no answer found" in report  # whitespace is not an answer, in any format


def test_text_report_shows_student_text_literally_never_as_markup():
    message = "expected [1, 2], got [/] and [bold red]x[/bold red] :thumbs_up:"
    result = GradeResult("demo", "[red]hw.ipynb", 1.0, checks=[check("c", status=FAILED, message=message)])
    report = text.render(result)  # Rich raised MarkupError on '[/]' before
    assert "[red]hw.ipynb" in report
    assert "[bold red]x[/bold red]" in report and "[/]" in report and ":thumbs_up:" in report


def test_text_report_drops_terminal_control_codes_from_student_output():
    result = GradeResult(
        "demo", "x.ipynb", 1.0, checks=[check("c", status=ERROR, message="NameError \x1b[2J\x1b[31mboom\x1b[0m\x07")]
    )
    report = text.render(result)
    assert "NameError [2J[31mboom[0m" in report
    assert not CONTROL.search(report.replace("\n", ""))


def test_text_report_of_an_unusable_file_gives_the_reason_and_zero_of_the_total():
    report = text.render(unusable(20))
    assert report.splitlines() == [
        "broken.ipynb — assignment demo",
        "  ! broken.ipynb: not a notebook (invalid JSON at line 1)",
        "Score: 0/20",
    ]


# ----------------------------------------------------------------------------- JSON
def test_json_report_is_one_object_with_the_documented_fields():
    data = json.loads(render("json", graded()))
    assert {"assignment", "score", "max_score", "status", "checks", "manual", "errors", "sandbox"} <= set(data)
    assert (data["assignment"], data["score"], data["max_score"], data["status"]) == ("demo", 4, 7, "timeout")
    for c in data["checks"]:
        assert set(c) == {"id", "exercise", "score", "max_score", "status", "hidden", "message", "description"}
        assert c["status"] in ("passed", "failed", "error")
    assert data["errors"] == [{"kind": "cell-timeout", "message": "cell 4 exceeded the 60 s time limit", "cell": 4}]
    assert [m["answer"] for m in data["manual"]] == ["Because a convolution is linear.", ""]


def test_json_report_reads_back_into_the_same_result():
    result = graded()
    assert GradeResult.from_dict(json.loads(render("json", result))) == result


# ----------------------------------------------------------------------------- JUnit
def test_junit_has_one_testcase_per_check_with_its_outcome():
    outcomes = junit_outcomes(junit_root(graded()))
    assert outcomes == {
        ("demo.ex1", "shape"): "passed",
        ("demo.ex1", "values"): "failure",
        ("demo.ex2", "secret"): "failure",
        ("demo.ex2", "secret-ok"): "passed",
        ("demo.ex3", "missing"): "error",
        ("demo.ex1", "why-linear"): "skipped",
        ("demo.ex3", "proof"): "skipped",
        ("demo.notebook", "notebook"): "error",
    }


def test_junit_failure_carries_the_students_message_and_points():
    root = junit_root(graded())
    case = next(c for c in root.iter("testcase") if c.get("name") == "values")
    assert case.find("failure").get("message") == "expected 3.0 at [0, 1], got 2.0 (atol 1e-05)"
    assert case.find("system-out").text.splitlines()[0] == "0/1 points"
    hidden = next(c for c in root.iter("testcase") if c.get("name") == "secret")
    assert hidden.find("failure").get("message") == HIDDEN_MESSAGE
    assert hidden.find("system-out").text == "0/1 points (hidden check)"


def test_junit_free_text_items_are_skipped_as_answered_or_not():
    root = junit_root(graded())
    skipped = {
        c.get("name"): c.find("skipped").get("message") for c in root.iter("testcase") if c.find("skipped") is not None
    }
    assert skipped == {
        "why-linear": "collected for manual grading (answered)",
        "proof": "collected for manual grading (no answer found)",
    }


def test_junit_notebook_errors_are_an_error_testcase_and_the_suites_system_err():
    result = graded()
    result.errors.append(NotebookError("output-limit", "output of cell 7 was cut at 1 MiB", 7))
    root = junit_root(result)
    notebook = next(c for c in root.iter("testcase") if c.get("name") == "notebook")
    error = notebook.find("error")
    assert (error.get("type"), error.get("message")) == ("cell-timeout", "cell 4 exceeded the 60 s time limit")
    described = [
        "cell-timeout (cell 4): cell 4 exceeded the 60 s time limit",
        "output-limit (cell 7): output of cell 7 was cut at 1 MiB",
    ]
    assert error.text.splitlines() == described
    (suite,) = root.iter("testsuite")
    system_err = suite.find("system-err")  # was a silent no-op once: pinned
    assert system_err is not None and system_err.text.splitlines() == described


def test_junit_without_notebook_errors_has_no_notebook_testcase_and_no_system_err():
    result = graded()
    result.errors = []
    root = junit_root(result)
    assert "notebook" not in {c.get("name") for c in root.iter("testcase")}
    assert root.find("testsuite/system-err") is None


def test_junit_suite_is_the_assignment_with_its_score_and_run_time():
    root = junit_root(graded())
    (suite,) = root.iter("testsuite")
    assert suite.get("name") == "demo" and float(suite.get("time")) == 1.235 == float(root.get("time"))
    assert junit_properties(root) == {"notebook": "alice.ipynb", "score": "4", "max_score": "7", "status": "timeout"}


def test_junit_of_an_unusable_file_is_one_notebook_error_out_of_the_full_total():
    root = junit_root(unusable(20))
    assert junit_outcomes(root) == {("demo.notebook", "notebook"): "error"}
    assert junit_properties(root)["max_score"] == "20" and junit_properties(root)["status"] == "error"


def test_junit_of_an_unknown_assignment_names_the_suite_unknown_assignment():
    root = junit_root(unknown_assignment())
    assert [s.get("name") for s in root.iter("testsuite")] == ["unknown-assignment"]
    assert junit_outcomes(root) == {("unknown-assignment.notebook", "notebook"): "error"}


# ----------------------------------------------------------------------------- Gradescope
def test_gradescope_has_one_test_per_check_and_free_text_item_numbered_by_exercise():
    data = gradescope_data(graded())
    assert [(t["number"], t["name"], t["score"], t["max_score"], t["status"]) for t in data["tests"]] == [
        ("1.1", "ex1: shape", 2, 2, "passed"),
        ("1.2", "ex1: values", 0, 1, "failed"),
        ("1.3", "ex1: why-linear (free text, graded by hand)", 0, 0, "passed"),
        ("2.1", "ex2: secret (hidden)", 0, 1, "failed"),
        ("2.2", "ex2: secret-ok (hidden)", 2, 2, "passed"),
        ("3.1", "ex3: missing", 0, 1, "failed"),
        ("3.2", "ex3: proof (free text, graded by hand)", 0, 0, "failed"),
    ]
    assert data["execution_time"] == 1.235


def test_gradescope_hidden_checks_are_published_later_and_visible_ones_at_once():
    data = gradescope_data(graded())
    visibility = {t["name"]: t["visibility"] for t in data["tests"]}
    assert visibility == {
        "ex1: shape": "visible",
        "ex1: values": "visible",
        "ex1: why-linear (free text, graded by hand)": "visible",
        "ex2: secret (hidden)": "after_published",
        "ex2: secret-ok (hidden)": "after_published",
        "ex3: missing": "visible",
        "ex3: proof (free text, graded by hand)": "visible",
    }


def test_gradescope_shows_each_free_text_answer_for_the_ta_worth_no_points():
    """results.json cannot make a manually graded question: the answer travels as a 0-point test."""
    data = gradescope_data(graded())
    outputs = {t["name"]: t["output"] for t in data["tests"]}
    assert outputs["ex1: why-linear (free text, graded by hand)"] == (
        "Explain why. (2 points, graded by hand)\n\nAnswer:\nBecause a convolution is linear."
    )
    assert outputs["ex3: proof (free text, graded by hand)"] == (
        "Prove it. (1 point, graded by hand)\n\nAnswer:\nNo answer was found in the notebook's answer cell."
    )
    assert data["score"] == 4 and sum(t["max_score"] for t in data["tests"]) == 7


def test_gradescope_cuts_a_huge_free_text_answer_and_says_how_much_is_left():
    from grader.reporters.gradescope import ANSWER_LIMIT

    result = graded()
    result.manual[0].answer = "x" * (ANSWER_LIMIT + 5)
    (test,) = [t for t in gradescope_data(result)["tests"] if "why-linear" in t["name"]]
    assert test["output"].endswith("x" * 10 + "\n[... 5 more characters in the notebook]")


def test_gradescope_notebook_with_only_free_text_is_not_reported_as_ungraded():
    result = GradeResult("demo", "essay.ipynb", manual=[ManualItem("essay", "ex1", "Discuss.", "Done.", 3.0)])
    (test,) = gradescope_data(result)["tests"]
    assert (test["name"], test["status"], test["max_score"]) == ("ex1: essay (free text, graded by hand)", "passed", 0)


def test_gradescope_outputs_say_why_a_check_failed_or_could_not_be_evaluated():
    outputs = {t["name"]: t["output"] for t in gradescope_data(graded())["tests"]}
    assert outputs["ex1: shape"] == "passed: output shape of corr2d"
    assert outputs["ex2: secret-ok (hidden)"] == "passed"
    assert outputs["ex1: values"] == "expected 3.0 at [0, 1], got 2.0 (atol 1e-05)"
    assert outputs["ex2: secret (hidden)"] == HIDDEN_MESSAGE
    assert outputs["ex3: missing"] == "could not be evaluated: the notebook does not define corr2d_matmul"


def test_gradescope_overall_output_lists_problems_and_free_text_items():
    lines = gradescope_data(graded())["output"].splitlines()
    assert lines[0] == "demo: 4/7 points."
    assert "  - cell 4 exceeded the 60 s time limit" in lines
    assert f"  - why-linear (ex1): {len('Because a convolution is linear.')} characters" in lines
    assert "  - proof (ex3): no answer found" in lines


def test_gradescope_unusable_file_is_one_failing_test_saying_why():
    data = gradescope_data(unusable(20))
    (test,) = data["tests"]
    assert (test["name"], test["status"], test["score"], test["max_score"]) == ("notebook", "failed", 0, 20)
    assert test["output"] == "Your notebook could not be graded: broken.ipynb: not a notebook (invalid JSON at line 1)"
    assert data["score"] == 0


def test_gradescope_never_writes_an_empty_test_list():
    result = GradeResult("demo", "empty.ipynb", max_score=0.0)  # usable, nothing to check
    assert gradescope_data(result)["tests"][0]["name"] == "notebook"


# ----------------------------------------------------------------------------- GitHub
def test_github_appends_the_base64_result_for_the_classroom_reporter(tmp_path):
    _printed, payload, _markdown = github_in_actions(graded(), tmp_path)
    assert (payload["version"], payload["status"], payload["max_score"]) == (1, "error", 7)
    assert [(t["name"], t["status"], t["score"]) for t in payload["tests"]] == [
        ("shape", "pass", 2),
        ("values", "fail", 0),
        ("secret", "fail", 0),
        ("secret-ok", "pass", 2),
        ("missing", "error", 0),
    ]
    assert {t["filename"] for t in payload["tests"]} == {"alice.ipynb"}


@pytest.mark.parametrize(
    "statuses, overall",
    [
        ([PASSED, PASSED], "pass"),
        ([PASSED, FAILED], "fail"),
        ([FAILED, ERROR], "error"),
    ],
)
def test_github_overall_status_is_the_worst_check(statuses, overall, tmp_path):
    result = GradeResult("demo", "x.ipynb", 2.0, checks=[check(f"c{i}", status=s) for i, s in enumerate(statuses)])
    assert github_in_actions(result, tmp_path)[1]["status"] == overall


def test_github_unusable_file_is_an_error_worth_zero_of_the_total(tmp_path):
    printed, payload, markdown = github_in_actions(unusable(20), tmp_path)
    assert (payload["status"], payload["max_score"]) == ("error", 20)
    (test,) = payload["tests"]  # never empty: the reporter divides by the number of tests
    assert (test["name"], test["status"], test["score"]) == ("notebook", "error", 0)
    assert test["message"] == "broken.ipynb: not a notebook (invalid JSON at line 1)"
    assert annotations(printed) == [
        ("error", "notebook", "broken.ipynb: not a notebook (invalid JSON at line 1)"),
        ("notice", "Autograding demo", "Points 0/20"),
    ]
    assert markdown.startswith("### demo: 0/20 points\n")


def test_github_annotations_are_errors_for_lost_points_and_warnings_for_run_problems(tmp_path):
    printed, _payload, _markdown = github_in_actions(graded(), tmp_path)
    assert annotations(printed) == [
        ("warning", "notebook", "cell 4 exceeded the 60 s time limit"),
        ("error", "values (0/1 points)", "expected 3.0 at [0, 1], got 2.0 (atol 1e-05)"),
        ("error", "secret (0/1 points)", HIDDEN_MESSAGE),
        ("error", "missing (0/1 points)", "the notebook does not define corr2d_matmul"),
        ("notice", "Autograding demo", "Points 4/7"),
    ]


def test_github_dead_kernel_is_an_error_annotation():
    result = graded()
    result.errors = [NotebookError("kernel-died", "the kernel died in cell 3 (exit code 1)", 3)]
    assert annotations("\n".join(github.annotation_lines(result)))[0] == (
        "error",
        "notebook",
        "the kernel died in cell 3 (exit code 1)",
    )


def test_github_annotations_escape_what_workflow_commands_would_misread():
    result = GradeResult(
        "demo",
        "x.ipynb",
        1.0,
        checks=[check("a:b,c%d", status=FAILED, message="50% done\r\nnext: a, b\x1b[0m")],
    )
    (line, _notice) = github.annotation_lines(result)
    # data escapes %, CR, LF; properties also ':' and ','; control codes are dropped
    assert line == "::error title=a%3Ab%2Cc%25d (0/1 points)::50%25 done%0D%0Anext: a, b[0m"


def test_github_step_summary_is_a_markdown_table_that_student_text_cannot_break(tmp_path):
    result = graded()
    result.checks[1].message = "a | b\nsecond line \\ \x1b[31m"
    _printed, _payload, markdown = github_in_actions(result, tmp_path)
    lines = markdown.splitlines()
    assert lines[0] == "### demo: 4/7 points"
    assert "- **cell-timeout**: cell 4 exceeded the 60 s time limit" in lines
    table = [line for line in lines if line.startswith("|")]
    assert table[:2] == ["| check | exercise | points | result | why |", "|---|---|---|---|---|"]
    assert len(table) == 2 + len(result.checks)
    assert "| values | ex1 | 0/1 | failed | a \\| b<br>second line \\\\ [31m |" in table
    assert "| secret-ok (hidden) | ex2 | 2/2 | passed |  |" in table
    assert "Collected for manual grading: why-linear (answered), proof (no answer found)" in lines


def test_github_outside_actions_prints_the_result_line_and_writes_no_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    printed = github.render(graded(), environ={})
    lines = printed.splitlines()
    assert lines[-1] == "GITHUB_STEP_SUMMARY is not set; the Markdown summary of the checks was not written."
    assert lines[-3].startswith("GITHUB_OUTPUT is not set")
    assert decode_output_line(lines[-2])["max_score"] == 7
    assert annotations("\n".join(lines[:-3]))[-1] == ("notice", "Autograding demo", "Points 4/7")
    assert os.listdir(tmp_path) == []


def test_github_render_through_the_registry_uses_the_process_environment(tmp_path, monkeypatch):
    out = tmp_path / "out"
    monkeypatch.setenv("GITHUB_OUTPUT", str(out))
    printed = render("github", graded())
    assert "GITHUB_OUTPUT is not set" not in printed
    (line,) = out.read_text(encoding="utf-8").splitlines()
    assert decode_output_line(line)["max_score"] == 7


def test_github_summary_file_survives_a_lone_surrogate_in_a_message(tmp_path):
    result = GradeResult("demo", "x.ipynb", 1.0, checks=[check("c", status=FAILED, message="bad \ud800 text")])
    printed, payload, markdown = github_in_actions(result, tmp_path)  # UnicodeEncodeError before
    assert "| c | ex1 | 0/1 | failed | bad  text |" in markdown
    assert payload["tests"][0]["message"] == "bad \ud800 text"
    assert annotations(printed)[0] == ("error", "c (0/1 points)", "bad  text")


def test_the_text_report_of_one_exercise_says_so_in_its_title_and_score():
    result = GradeResult(
        assignment="conv-layer",
        notebook="nb.ipynb",
        max_score=2.0,
        exercise="ex3",
        checks=[
            CheckResult("conv-matrix-example", "ex3", 0.0, 1.0, FAILED, False, "values differ"),
            CheckResult("corr2d-matmul-example", "ex3", 1.0, 1.0, PASSED, False),
        ],
    )
    report = text.render(result)
    assert report.splitlines()[0] == "nb.ipynb — assignment conv-layer, exercise ex3 (its public checks only)"
    assert report.rstrip().splitlines()[-1] == "Score, exercise ex3's public checks: 1/2"
    assert GradeResult.from_dict(json.loads(json.dumps(result.to_dict()))).exercise == "ex3"
    whole = text.render(GradeResult(assignment="conv-layer", notebook="nb.ipynb", max_score=20.0))
    assert "exercise" not in whole and whole.rstrip().endswith("Score: 0/20")


def test_the_text_report_shows_what_each_check_is_about_and_then_why_it_failed():
    result = GradeResult(
        assignment="conv-layer",
        notebook="nb.ipynb",
        max_score=2.0,
        checks=[
            CheckResult("a", "ex1", 1.0, 1.0, PASSED, False, "", "corr2d on a 3x3 input"),
            CheckResult("b", "ex1", 0.0, 1.0, FAILED, False, "values differ\ncalled as f([1., 2.])", "f doubles"),
        ],
    )
    report = text.render(result, width=200)
    rows = [line for line in report.splitlines() if line.startswith("│")]
    assert "corr2d on a 3x3 input" in rows[0] and "values differ" not in rows[0]
    assert [r.split("│")[4].strip() for r in rows[1:4]] == ["f doubles", "values differ", "called as f([1., 2.])"]


def test_the_format_names_the_cli_offers_are_exactly_the_renderers():
    assert tuple(renderers()) == FORMATS
