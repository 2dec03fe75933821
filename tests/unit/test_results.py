"""The result objects: their JSON form round-trips, and the derived verdicts mean what they say.

Batch resume, Dask workers and the gradebook all rebuild results from JSON, so a result must
come back from `to_dict()` -> JSON text -> `from_dict()` exactly as it was.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.results import (
    ERROR,
    FAILED,
    PASSED,
    SCHEMA_VERSION,
    STATUSES,
    UNUSABLE_KINDS,
    CheckResult,
    GradeResult,
    ManualItem,
    NotebookError,
)

# Every character JSON can carry, lone surrogates and control characters included.
_any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=20)
_points = st.floats(min_value=0, max_value=100, allow_nan=False, allow_infinity=False)
_json_leaf = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False) | _any_text
_json = st.recursive(
    _json_leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_any_text, inner, max_size=3),
    max_leaves=8,
)
ERROR_KINDS = [*UNUSABLE_KINDS, "cell-timeout", "notebook-timeout", "kernel-died", "cell-error", "memory-limit"]

check_results = st.builds(
    CheckResult,
    id=_any_text,
    exercise=_any_text,
    score=_points,
    max_score=_points,
    status=st.sampled_from(STATUSES),
    hidden=st.booleans(),
    message=_any_text,
    description=_any_text,
)
manual_items = st.builds(
    ManualItem, id=_any_text, exercise=_any_text, prompt=_any_text, answer=_any_text, max_score=_points
)
notebook_errors = st.builds(
    NotebookError, kind=st.sampled_from(ERROR_KINDS), message=_any_text, cell=st.none() | st.integers(1, 10_000)
)
grade_results = st.builds(
    GradeResult,
    assignment=st.none() | _any_text,
    notebook=_any_text,
    max_score=_points,
    checks=st.lists(check_results, max_size=4),
    manual=st.lists(manual_items, max_size=3),
    errors=st.lists(notebook_errors, max_size=3),
    sandbox=st.dictionaries(_any_text, _json, max_size=4),
    warnings=st.lists(_any_text, max_size=3),
    execution_time=st.floats(min_value=0, max_value=1e6, allow_nan=False),
)
FAST = settings(max_examples=60, deadline=None, database=None)


def _through_json(result: GradeResult) -> GradeResult:
    return GradeResult.from_dict(json.loads(json.dumps(result.to_dict())))


# ----------------------------------------------------------------------------- round trip
@FAST
@given(grade_results)
def test_a_result_comes_back_from_its_json_form_unchanged(result):
    again = _through_json(result)
    assert again == result
    assert again.to_dict() == result.to_dict()
    assert (again.score, again.status, again.usable, again.all_passed) == (
        result.score,
        result.status,
        result.usable,
        result.all_passed,
    )


def test_the_json_form_carries_every_field_and_its_schema_version():
    result = GradeResult(
        assignment="demo",
        notebook="alice.ipynb",
        max_score=20.0,
        checks=[CheckResult("c", "ex1", 1.0, 1.0, PASSED, True, "", "d")],
        manual=[ManualItem("m", "ex1", "Why?", "Because.", 2.0)],
        errors=[NotebookError("memory-limit", "cell 3 exceeded the memory limit (4 GiB)", 3)],
        sandbox={"network": "isolated", "uid": None},
        warnings=["no separate user: the process limit counts all your processes"],
        execution_time=2.5,
        exercise="ex1",
    )
    data = json.loads(json.dumps(result.to_dict()))
    assert data == {
        "schema_version": SCHEMA_VERSION,
        "assignment": "demo",
        "notebook": "alice.ipynb",
        "score": 1.0,
        "max_score": 20.0,
        "status": "ok",
        "checks": [
            {
                "id": "c",
                "exercise": "ex1",
                "score": 1.0,
                "max_score": 1.0,
                "status": "passed",
                "hidden": True,
                "message": "",
                "description": "d",
            }
        ],
        "manual": [
            {"id": "m", "exercise": "ex1", "prompt": "Why?", "answer": "Because.", "max_score": 2.0, "found": ""}
        ],
        "errors": [{"kind": "memory-limit", "message": "cell 3 exceeded the memory limit (4 GiB)", "cell": 3}],
        "sandbox": {"network": "isolated", "uid": None},
        "warnings": ["no separate user: the process limit counts all your processes"],
        "execution_time": 2.5,
        "exercise": "ex1",
    }
    assert GradeResult.from_dict(data).to_dict() == data


def test_stored_score_and_status_are_not_trusted_when_read_back():
    data = GradeResult("demo", "x.ipynb", 2.0, checks=[CheckResult("c", "ex1", 0.0, 2.0, FAILED, False)]).to_dict()
    data["score"], data["status"] = 2.0, "ok"
    data["errors"] = [{"kind": "kernel-died", "message": "the kernel died in cell 1", "cell": 1}]
    again = GradeResult.from_dict(data)
    assert (again.score, again.status) == (0.0, "error")


@pytest.mark.parametrize("version", [0, SCHEMA_VERSION + 1, str(SCHEMA_VERSION), None])
def test_a_result_of_another_schema_version_is_refused(version):
    data = GradeResult("demo", "x.ipynb", 1.0).to_dict()
    data["schema_version"] = version
    with pytest.raises(ValueError, match=f"result schema version {version!r}, this grader reads {SCHEMA_VERSION}"):
        GradeResult.from_dict(data)


def test_the_max_score_of_an_unreadable_file_survives_the_round_trip():
    result = GradeResult("demo", "x.ipynb", 17.5, errors=[NotebookError("invalid-notebook", "x.ipynb: no such file")])
    again = _through_json(result)
    assert (again.score, again.max_score, again.usable) == (0, 17.5, False)


# ----------------------------------------------------------------------------- derived verdicts
def _checks(*scores: float) -> list[CheckResult]:
    return [CheckResult(f"c{i}", "ex1", s, 1.0, PASSED if s else FAILED, False) for i, s in enumerate(scores)]


def test_score_is_the_sum_of_the_checks_without_float_noise():
    assert 0.1 + 0.2 != 0.3
    assert GradeResult("demo", "x.ipynb", 3.0, checks=_checks(0.1, 0.2)).score == 0.3
    assert GradeResult("demo", "x.ipynb", 3.0).score == 0


@pytest.mark.parametrize("kind", UNUSABLE_KINDS)
def test_a_file_that_could_not_be_graded_is_not_usable_and_counts_as_an_error(kind):
    result = GradeResult("demo", "x.ipynb", 5.0, errors=[NotebookError(kind, "why")])
    assert not result.usable and not result.all_passed and result.status == "error"


@pytest.mark.parametrize(
    "kinds, status",
    [
        ([], "ok"),
        (["cell-error"], "ok"),
        (["memory-limit"], "ok"),
        (["output-limit"], "ok"),
        (["cell-timeout"], "timeout"),
        (["notebook-timeout"], "timeout"),
        (["kernel-died"], "error"),
        (["cell-timeout", "kernel-died"], "error"),
        (["notebook-timeout", "invalid-notebook"], "error"),
    ],
)
def test_gradebook_status_is_error_over_timeout_over_ok(kinds, status):
    result = GradeResult("demo", "x.ipynb", 1.0, errors=[NotebookError(k, "m") for k in kinds])
    assert result.status == status


@pytest.mark.parametrize("kind", ["cell-timeout", "notebook-timeout", "kernel-died", "cell-error", "memory-limit"])
def test_problems_while_running_leave_the_notebook_usable(kind):
    assert GradeResult("demo", "x.ipynb", 1.0, errors=[NotebookError(kind, "m", 2)]).usable


@pytest.mark.parametrize(
    "statuses, all_passed",
    [([PASSED, PASSED], True), ([PASSED, FAILED], False), ([PASSED, ERROR], False)],
)
def test_all_passed_needs_every_check_passed(statuses, all_passed):
    checks = [CheckResult(f"c{i}", "ex1", 1.0, 1.0, s, False) for i, s in enumerate(statuses)]
    assert GradeResult("demo", "x.ipynb", 2.0, checks=checks).all_passed is all_passed


@FAST
@given(grade_results)
def test_an_unusable_result_is_never_all_passed_and_always_an_error(result):
    if not result.usable:
        assert result.status == "error" and not result.all_passed
    assert result.status in ("ok", "timeout", "error")
