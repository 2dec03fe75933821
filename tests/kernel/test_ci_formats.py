"""`grader check --format junit|gradescope|github`, `--output`, `--report` and `--exit-zero`.

Every file is read back with a parser that is not the one that wrote it (ElementTree and an
XSD for JUnit, a JSON Schema of Gradescope's results.json, the classroom reporter's own way of
decoding and totalling the GitHub result), for four notebooks: the reference (full marks), one
wrong answer (min-kernel-size: one point lost), a file that is not JSON, and a kernel that dies.
The totals come from conv-layer's rubric (FULL), so a change of its content changes no test here.
"""

from __future__ import annotations

import base64
import json
import os
import re
import xml.etree.ElementTree as ET

import jsonschema
import nbformat
import pytest
import xmlschema
from ci_schemas import GRADESCOPE_SCHEMA, RUNNER_SCHEMA
from click.testing import CliRunner
from nbfactory import reference_path, variant

from grader import cli
from grader.course import load_course
from grader.reporters import FORMATS, github, render
from grader.results import GradeResult

# its module fixtures grade many notebooks: computed once, on one xdist worker (--dist loadgroup)
pytestmark = pytest.mark.xdist_group("test_ci_formats")

NB = "conv-layer.ipynb"
HIDDEN_MESSAGE = "hidden check failed (its inputs and expected values are not shown)"
FULL = load_course().get("conv-layer").max_score  # the reference's score and every report's total
WRONG = FULL - 1  # the failing notebook loses min-kernel-size, worth 1 point (asserted in `graded`)
XSD = xmlschema.XMLSchema(os.path.join(os.path.dirname(os.path.dirname(__file__)), "junit.xsd"))


# ----------------------------------------------------------------------------- notebooks
def _dying_notebook(out_dir) -> str:
    nb = nbformat.read(reference_path(NB), as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell("import os; os._exit(1)"))
    path = os.path.join(str(out_dir), "dies.ipynb")
    nbformat.write(nb, path)
    return path


# session, not module: see "Expensive fixtures" in tests/conftest.py
@pytest.fixture(scope="session")
def graded(grader, rubrics, tmp_path_factory) -> dict[str, GradeResult]:
    """Each kind of notebook graded once for the whole module."""
    rubric = rubrics["conv-layer"]
    folder = tmp_path_factory.mktemp("ci-notebooks")
    not_json = folder / "not-json.ipynb"
    not_json.write_text("this is not JSON {", encoding="utf-8")
    paths = {
        "passing": variant(NB, folder, name="passing.ipynb"),
        "failing": variant(NB, folder, {"    return d + 1": "    return d"}, name="failing.ipynb"),
        "hidden-failing": variant(
            NB,
            folder,
            {"float((-1) ** (d - k) * math.comb(d, k))": "float((-1) ** k * math.comb(d, k))"},
            name="hidden-failing.ipynb",
        ),
        "not-json": str(not_json),
        "dies": _dying_notebook(folder),
    }
    results = {kind: grader.grade(path, rubric) for kind, path in paths.items()}
    # what the rest of this module relies on
    assert results["passing"].score == results["passing"].max_score == rubric.max_score == FULL
    assert {c.id: c.max_score - c.score for c in results["failing"].checks if c.score < c.max_score} == {
        "min-kernel-size": 1
    }
    # an unreadable file still counts 0 out of the assignment's points
    unreadable = results["not-json"]
    assert not unreadable.usable and unreadable.checks == [] and (unreadable.score, unreadable.max_score) == (0, FULL)
    assert [e.kind for e in results["dies"].errors] == ["kernel-died"]
    return results


# ----------------------------------------------------------------------------- JUnit
def _junit(result: GradeResult) -> ET.Element:
    text = render("junit", result)
    XSD.validate(text)  # raises with the offending element if the file breaks the schema
    root = ET.fromstring(text.encode("utf-8"))
    assert root.tag == "testsuites"
    for suite in root.iter("testsuite"):
        cases = suite.findall("testcase")
        assert int(suite.get("tests")) == len(cases)
        assert int(suite.get("failures")) == sum(1 for c in cases if c.find("failure") is not None)
        assert int(suite.get("errors")) == sum(1 for c in cases if c.find("error") is not None)
        assert int(suite.get("skipped")) == sum(1 for c in cases if c.find("skipped") is not None)
    return root


def _outcomes(root: ET.Element) -> dict[tuple[str, str], str]:
    out = {}
    for case in root.iter("testcase"):
        kind = next((k for k in ("failure", "error", "skipped") if case.find(k) is not None), "passed")
        out[(case.get("classname"), case.get("name"))] = kind
    return out


def test_junit_reference_has_one_passing_testcase_per_check(graded, rubrics):
    root = _junit(graded["passing"])
    outcomes = _outcomes(root)
    rubric = rubrics["conv-layer"]
    checks = {(f"conv-layer.{c.exercise}", c.id) for c in rubric.checks}
    assert {k for k, v in outcomes.items() if v == "passed"} == checks
    assert {k for k, v in outcomes.items() if v == "skipped"} == {
        (f"conv-layer.{m.exercise}", m.id) for m in rubric.manual
    }
    assert "error" not in outcomes.values() and "failure" not in outcomes.values()
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert (props["score"], props["max_score"]) == (f"{FULL:g}", f"{FULL:g}")


def test_junit_wrong_answer_is_one_failure_with_the_students_message(graded):
    root = _junit(graded["failing"])
    failures = [c for c in root.iter("testcase") if c.find("failure") is not None]
    assert [(c.get("classname"), c.get("name")) for c in failures] == [("conv-layer.ex4", "min-kernel-size")]
    expected = next(c.message for c in graded["failing"].checks if c.id == "min-kernel-size")
    assert expected and failures[0].find("failure").get("message") == expected
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["score"] == f"{WRONG:g}"


def test_junit_hidden_failure_shows_only_the_generic_message(graded):
    root = _junit(graded["hidden-failing"])
    case = next(c for c in root.iter("testcase") if c.get("name") == "derivative-kernel-orders")
    failure = case.find("failure")
    assert failure.get("message") == HIDDEN_MESSAGE and not (failure.text or "").strip()


def test_junit_not_json_is_a_notebook_error(graded):
    root = _junit(graded["not-json"])
    (case,) = root.iter("testcase")
    assert case.get("name") == "notebook"
    assert case.find("error").get("type") == "invalid-notebook"
    assert "not a notebook" in case.find("error").get("message")


def test_junit_dead_kernel_errors_every_check_and_the_notebook(graded, rubrics):
    outcomes = _outcomes(_junit(graded["dies"]))
    assert outcomes.pop(("conv-layer.notebook", "notebook")) == "error"
    checks = {(f"conv-layer.{c.exercise}", c.id) for c in rubrics["conv-layer"].checks}
    assert {k for k, v in outcomes.items() if v == "error"} == checks


def test_junit_survives_control_characters_in_messages():
    from grader.results import CheckResult

    result = GradeResult(
        "conv-layer",
        "x.ipynb",
        checks=[CheckResult("c", "ex1", 0, 1, "failed", False, "got \x1b[31m<red>\x00 & more", "")],
    )
    root = _junit(result)
    assert root.find(".//failure").get("message") == "got \ufffd[31m<red>\ufffd & more"


# ----------------------------------------------------------------------------- Gradescope
def _gradescope(result: GradeResult) -> dict:
    data = json.loads(render("gradescope", result))
    jsonschema.validate(data, GRADESCOPE_SCHEMA)
    assert data["score"] == sum(t["score"] for t in data["tests"])
    return data


def test_gradescope_reference_scores_full_marks(graded):
    data = _gradescope(graded["passing"])
    assert data["score"] == sum(t["max_score"] for t in data["tests"]) == FULL
    assert {t["status"] for t in data["tests"]} == {"passed"}
    assert len({t["number"] for t in data["tests"]}) == len(data["tests"])
    assert "ex1-observations" in data["output"]  # free-text items are listed for the student


def test_gradescope_wrong_answer_loses_one_point(graded):
    data = _gradescope(graded["failing"])
    assert data["score"] == WRONG
    failed = [t for t in data["tests"] if t["status"] == "failed"]
    assert [(t["name"], t["score"], t["max_score"]) for t in failed] == [("ex4: min-kernel-size", 0, 1)]
    assert failed[0]["output"] == next(c.message for c in graded["failing"].checks if c.id == "min-kernel-size")


def test_gradescope_hidden_checks_are_published_later_and_say_nothing(graded):
    data = _gradescope(graded["hidden-failing"])
    hidden = {c.id for c in graded["hidden-failing"].checks if c.hidden}
    for test in data["tests"]:
        check_id = test["name"].split(": ", 1)[1].removesuffix(" (hidden)")
        assert test["visibility"] == ("after_published" if check_id in hidden else "visible")
    (failed,) = [t for t in data["tests"] if t["status"] == "failed"]
    assert failed["output"] == HIDDEN_MESSAGE and failed["visibility"] == "after_published"


def test_gradescope_unreadable_file_is_one_failing_test_out_of_the_full_total(graded):
    data = _gradescope(graded["not-json"])
    (test,) = data["tests"]
    assert (test["status"], test["score"], test["max_score"], data["score"]) == ("failed", 0, FULL, 0)
    assert "not a notebook" in test["output"]


def test_gradescope_dead_kernel_fails_every_check_and_says_why(graded):
    data = _gradescope(graded["dies"])
    assert data["score"] == 0 and sum(t["max_score"] for t in data["tests"]) == FULL
    assert {t["status"] for t in data["tests"] if t["max_score"]} == {"failed"}  # free-text items keep their own status
    assert "the kernel died in cell 1" in data["output"]


# ----------------------------------------------------------------------------- GitHub
ANNOTATION = re.compile(r"^::(error|warning|notice)(?: title=([^:]*))?::(.*)$")


def _classroom_total(encoded: str) -> tuple[float, float]:
    """The reporter's arithmetic: decode base64 JSON, sum test scores if max_score is set."""
    results = json.loads(base64.b64decode(encoded).decode("utf-8"))
    jsonschema.validate(results, RUNNER_SCHEMA)
    if not results["max_score"]:
        return 0, 0
    return sum(t["score"] for t in results["tests"]), results["max_score"]


def _github(result: GradeResult, tmp_path) -> tuple[dict, list[tuple[str, str, str]], str]:
    out, summary = tmp_path / "github_output", tmp_path / "step_summary"
    out.write_text("earlier=kept\n", encoding="utf-8")
    summary.write_text("# earlier step\n", encoding="utf-8")
    stdout = github.render(result, environ={"GITHUB_OUTPUT": str(out), "GITHUB_STEP_SUMMARY": str(summary)})
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "earlier=kept" and len(lines) == 2 and lines[1].startswith("result=")
    payload = json.loads(base64.b64decode(lines[1][len("result=") :]))
    jsonschema.validate(payload, RUNNER_SCHEMA)
    annotations = []
    for line in stdout.splitlines():
        match = ANNOTATION.match(line)
        assert match, f"not a workflow command: {line!r}"
        annotations.append(match.groups())
    markdown = summary.read_text(encoding="utf-8")
    assert markdown.startswith("# earlier step\n")
    return payload, annotations, markdown


def test_github_reference_passes_with_full_points(graded, tmp_path):
    payload, annotations, markdown = _github(graded["passing"], tmp_path)
    assert payload["status"] == "pass" and payload["max_score"] == FULL
    assert {t["status"] for t in payload["tests"]} == {"pass"}
    encoded = base64.b64encode(json.dumps(payload).encode()).decode()
    assert _classroom_total(encoded) == (FULL, FULL)
    assert annotations == [("notice", "Autograding conv-layer", f"Points {FULL:g}/{FULL:g}")]
    assert f"{FULL:g}/{FULL:g} points" in markdown and "| min-kernel-size | ex4 | 1/1 | passed |" in markdown


def test_github_wrong_answer_gives_partial_credit(graded, tmp_path):
    payload, annotations, markdown = _github(graded["failing"], tmp_path)
    assert payload["status"] == "fail"
    assert [t["name"] for t in payload["tests"] if t["status"] != "pass"] == ["min-kernel-size"]
    assert _classroom_total(base64.b64encode(json.dumps(payload).encode()).decode()) == (WRONG, FULL)
    assert annotations[-1] == ("notice", "Autograding conv-layer", f"Points {WRONG:g}/{FULL:g}")
    assert [(kind, title) for kind, title, _ in annotations[:-1]] == [("error", "min-kernel-size (0/1 points)")]
    assert "| min-kernel-size | ex4 | 0/1 | failed |" in markdown


def test_github_not_json_reports_zero_out_of_the_full_total(graded, tmp_path):
    payload, annotations, _ = _github(graded["not-json"], tmp_path)
    assert payload["status"] == "error" and payload["max_score"] == FULL
    (test,) = payload["tests"]
    assert test["status"] == "error" and "not a notebook" in test["message"]
    assert _classroom_total(base64.b64encode(json.dumps(payload).encode()).decode()) == (0, FULL)
    assert annotations[0][:2] == ("error", "notebook") and annotations[-1][2] == f"Points 0/{FULL:g}"


def test_github_dead_kernel_is_an_error(graded, tmp_path):
    payload, annotations, markdown = _github(graded["dies"], tmp_path)
    assert payload["status"] == "error" and {t["status"] for t in payload["tests"]} == {"error"}
    assert ("error", "notebook", "the kernel died in cell 1 (exit code 1)") in annotations
    assert "kernel-died" in markdown


def test_github_without_actions_variables_prints_where_the_result_would_go(graded):
    text = github.render(graded["failing"], environ={})
    assert f"::notice title=Autograding conv-layer::Points {WRONG:g}/{FULL:g}" in text.splitlines()
    assert "GITHUB_OUTPUT is not set" in text and "GITHUB_STEP_SUMMARY is not set" in text
    encoded = next(line for line in text.splitlines() if line.startswith("result="))[len("result=") :]
    assert _classroom_total(encoded) == (WRONG, FULL)


def test_github_annotations_escape_newlines_and_colons():
    from grader.results import CheckResult

    result = GradeResult(
        "conv-layer", "x.ipynb", checks=[CheckResult("a:b,c", "ex1", 0, 1, "failed", False, "line 1\nline 2 100%", "")]
    )
    lines = github.render(result, environ={}).splitlines()
    assert lines[0] == "::error title=a%3Ab%2Cc (0/1 points)::line 1%0Aline 2 100%25"


# ----------------------------------------------------------------------------- the CLI
@pytest.fixture
def run_check(monkeypatch, graded):
    """`grader check` with grading replaced by a finished result (the CLI's own logic only)."""
    import grader.grading

    def run(kind: str, *args: str, env: dict[str, str] | None = None):
        def fake(self, path, assignment=None, own_files=None, exercise=None):
            if kind == "crash":
                raise RuntimeError("boom")
            return graded[kind]

        monkeypatch.setattr(grader.grading.Grader, "grade", fake)
        return CliRunner().invoke(
            cli.main, ["check", "whatever.ipynb", *args], env=env or {"GITHUB_OUTPUT": "", "GITHUB_STEP_SUMMARY": ""}
        )

    return run


def test_every_new_format_is_offered():
    assert {"text", "json", "junit", "gradescope", "github"} <= set(FORMATS)


@pytest.mark.parametrize("kind, code", [("passing", 0), ("failing", 1), ("dies", 1), ("not-json", 2)])
def test_exit_codes_are_unchanged(run_check, kind, code):
    assert run_check(kind, "--format", "json").exit_code == code


@pytest.mark.parametrize("kind, code", [("passing", 0), ("failing", 0), ("dies", 0), ("not-json", 2), ("crash", 2)])
def test_exit_zero_only_forgives_graded_notebooks(run_check, kind, code):
    assert run_check(kind, "--exit-zero", "--format", "json").exit_code == code


def test_output_writes_the_report_to_a_file_not_stdout(run_check, tmp_path):
    target = tmp_path / "results" / "results.json"
    result = run_check(
        "failing", "--assignment", "conv-layer", "--format", "gradescope", "--output", str(target), "--exit-zero"
    )
    assert result.exit_code == 0 and result.stdout == ""
    assert json.loads(target.read_text())["score"] == WRONG


def test_unusable_file_still_gets_a_gradescope_file_and_one_line_on_stderr(run_check, tmp_path):
    target = tmp_path / "results.json"
    result = run_check(
        "not-json", "--assignment", "conv-layer", "--format", "gradescope", "--output", str(target), "--exit-zero"
    )
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "not a notebook" in result.stderr
    data = json.loads(target.read_text())
    jsonschema.validate(data, GRADESCOPE_SCHEMA)
    assert (data["score"], data["tests"][0]["max_score"]) == (0, FULL)


def test_internal_error_still_writes_the_file_and_exits_2(run_check, tmp_path):
    target = tmp_path / "results.json"
    result = run_check("crash", "--assignment", "conv-layer", "--format", "gradescope", "--output", str(target))
    assert result.exit_code == 2
    assert result.stderr.strip() == "grader: internal error: RuntimeError: boom"
    data = json.loads(target.read_text())
    assert data["score"] == 0 and "internal error" in data["tests"][0]["output"]


def test_report_writes_more_formats_from_the_same_run(run_check, tmp_path):
    result = run_check(
        "failing",
        "--format",
        "text",
        "--report",
        f"json={tmp_path / 'r.json'}",
        "--report",
        f"junit={tmp_path / 'r.xml'}",
    )
    assert result.exit_code == 1 and f"Score: {WRONG:g}/{FULL:g}" in result.stdout
    assert json.loads((tmp_path / "r.json").read_text())["score"] == WRONG
    XSD.validate(str(tmp_path / "r.xml"))


def test_report_rejects_an_unknown_format(run_check, tmp_path):
    result = run_check("passing", "--report", f"pdf={tmp_path / 'r.pdf'}")
    assert result.exit_code == 2 and "FORMAT=FILE" in result.output


def test_github_format_in_the_cli_appends_to_the_actions_files(run_check, tmp_path):
    out = tmp_path / "out"
    env = {"GITHUB_OUTPUT": str(out), "GITHUB_STEP_SUMMARY": str(tmp_path / "summary")}
    result = run_check("failing", "--assignment", "conv-layer", "--format", "github", "--exit-zero", env=env)
    assert result.exit_code == 0
    assert f"::notice title=Autograding conv-layer::Points {WRONG:g}/{FULL:g}" in result.stdout.splitlines()
    (line,) = out.read_text().splitlines()
    assert _classroom_total(line[len("result=") :]) == (WRONG, FULL)
