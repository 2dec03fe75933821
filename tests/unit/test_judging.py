"""Planning and judging, without a kernel.

A small course is written to tmp_path. The kernel is replaced by the harness's own
kernel-side `_fetch_one`, run in this process on the JSON request (so what a check sees is
exactly what crosses the boundary); error statuses and malformed values are written by hand.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from grader import harness, plaindata
from grader.inputs import kernel_seed
from grader.judging import HIDDEN_FAILED, evaluate
from grader.planning import Plan, plan
from grader.results import ERROR, FAILED, PASSED
from grader.rubric import Rubric, load_rubric

REFERENCE = """
import torch

CALLS = []


def double(x):
    CALLS.append(x)
    return x * 2


def halve(x):
    return x / 2


def pair(n):
    return (n, n + 1)


def broken(x):
    raise RuntimeError("the reference is broken")
"""

CHECKS = """
from grader.content import CheckFailed

SEEN = []


def positive(value, ctx):
    SEEN.append((value, ctx))
    if not value > 0:
        raise CheckFailed(f"{ctx.what} should be positive, got {value}")


def buggy(value, ctx):
    return 1 / 0
"""

PROBES = """
def type_name(ctx, name):
    return type(ctx.get(name)).__name__
"""

SECRET = 987654.25  # a literal expected value: it must never be sent to the kernel

RUBRIC = f"""
[assignment]
id = "mini"
title = "Mini"
section = "1.1"
notebook = "mini.ipynb"
reference = "mini"
checks = "mini_checks"
probes = "mini_probes"
seed = 5

[[exercise]]
id = "ex1"
title = "Exercise 1"

[[check]]
id = "double-public"
exercise = "ex1"
points = 1
description = "double on a small tensor"
call = "double"
args = [{{ tensor = [1.0, 2.0] }}]

[[check]]
id = "double-hidden"
exercise = "ex1"
points = 2
hidden = true
call = "double"
cases = [
  {{ args = [{{ randn = [3] }}] }},
  {{ args = [{{ randn = [2, 2] }}] }},
  {{ args = [{{ randn = [4], dtype = "float64" }}] }},
]

[[check]]
id = "answer"
exercise = "ex1"
points = 1
name = "answer"
cases = [{{ expected = {SECRET} }}, {{ expected = {SECRET} }}]

[[check]]
id = "caught"
exercise = "ex1"
kind = "exception"
points = 1
name = "err"
exception = "ValueError"
match = "bad .* input"

[[check]]
id = "x-positive"
exercise = "ex1"
kind = "property"
points = 1
name = "x"
property = "positive"
options = {{ limit = 3 }}

[[check]]
id = "y-halves-x"
exercise = "ex1"
points = 1
name = "y"
reference = "halve"
args = [{{ student = "x" }}]

[[check]]
id = "z-doubles-x"
exercise = "ex1"
points = 1
name = "z"
reference = "double"
args = [{{ student = "x" }}]

[[check]]
id = "pair"
exercise = "ex1"
points = 1
call = "pair"
args = [3]

[[check]]
id = "net-type"
exercise = "ex1"
points = 1
probe = "type_name"
needs = ["net"]
args = ["net"]
expected = "Net"

[[manual]]
id = "why"
exercise = "ex1"
prompt = "Why?"
"""


class Net:
    pass


def notebook() -> dict[str, Any]:
    """A notebook that answers every check of the mini rubric correctly."""
    return {
        "double": lambda x: x * 2,
        "answer": SECRET,
        "err": ValueError("a bad shaped input"),
        "x": 2.5,
        "y": 1.25,
        "z": 5.0,
        "pair": lambda n: (n, n + 1),
        "net": Net(),
    }


@pytest.fixture
def mini(tmp_path: Path):
    """build(extra_checks=..., reference=..., checks=...) -> the loaded mini rubric."""

    def build(extra_checks: str = "", reference: str = REFERENCE, checks: str = CHECKS) -> Rubric:
        (tmp_path / "rubrics").mkdir(exist_ok=True)
        (tmp_path / "reference").mkdir(exist_ok=True)
        (tmp_path / "reference" / "mini.py").write_text(reference, encoding="utf-8")
        (tmp_path / "rubrics" / "mini_checks.py").write_text(checks, encoding="utf-8")
        (tmp_path / "rubrics" / "mini_probes.py").write_text(PROBES, encoding="utf-8")
        path = tmp_path / "rubrics" / "mini.toml"
        path.write_text(RUBRIC + textwrap.dedent(extra_checks), encoding="utf-8")
        return load_rubric(str(path), str(tmp_path))

    return build


def kernel(the_plan: Plan, namespace: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """What the harness would send back for a notebook whose names are `namespace`."""
    request = json.loads(json.dumps(the_plan.request("token", call_timeout=10)))
    probes: dict[str, Any] = {}
    exec(compile(request["probes"], "<grader-probes>", "exec"), probes)
    harness._new_run()
    return {
        entry["key"]: json.loads(json.dumps(harness._fetch_one(entry, namespace, probes)))
        for entry in request["fetches"]
    }


def ok(value: Any) -> dict[str, Any]:
    harness._new_run()
    return {"status": "ok", "value": json.loads(json.dumps(harness._encode(value)))}


def grade(rubric: Rubric, namespace: dict[str, Any] | None = None, **answers: dict[str, Any]) -> dict[str, Any]:
    """Verdicts by check id; `answers` replaces the kernel's answer for fetches of a target."""
    the_plan = plan(rubric)
    fetched = kernel(the_plan, notebook() if namespace is None else namespace)
    for fetch in the_plan.fetches:
        if fetch.target in answers:
            fetched[fetch.key] = answers[fetch.target]
    return {r.id: r for r in evaluate(the_plan, fetched, None)}


def planned(the_plan: Plan, check_id: str):
    (found,) = [c for c in the_plan.checks if c.spec.id == check_id]
    return found


# ============================================================================= planning
def test_a_name_check_fetches_once_however_many_cases(mini):
    the_plan = plan(mini())
    answer = planned(the_plan, "answer")
    assert len(answer.cases) == 2
    assert answer.cases[0].fetch is answer.cases[1].fetch
    assert [f for f in the_plan.fetches if f.target == "answer"] == [answer.cases[0].fetch]
    assert answer.cases[0].fetch.kind == "name" and answer.cases[0].fetch.args is None


def test_a_call_check_fetches_once_per_case(mini):
    the_plan = plan(mini())
    check = planned(the_plan, "double-hidden")
    fetches = [case.fetch for case in check.cases]
    assert len({id(f) for f in fetches}) == 3
    assert [f.kind for f in fetches] == ["call"] * 3
    assert [f.args[0].shape for f in fetches] == [(3,), (2, 2), (4,)]
    assert [f.args[0].dtype for f in fetches] == [np.float32, np.float32, np.float64]
    assert {f.seed for f in fetches} == {kernel_seed(5, "double-hidden")}
    for case, fetch in zip(check.cases, fetches, strict=True):
        assert case.args is fetch.args


def test_student_values_are_fetched_once_per_name_and_shared(mini):
    the_plan = plan(mini())
    y, z = planned(the_plan, "y-halves-x"), planned(the_plan, "z-doubles-x")
    assert set(y.students) == set(z.students) == {"x"}
    shared = y.students["x"]
    assert z.students["x"] is shared
    assert (shared.kind, shared.target, shared.args, shared.seed) == ("name", "x", None, 0)
    assert sum(f is shared for f in the_plan.fetches) == 1
    assert planned(the_plan, "answer").students == {}


def test_fetch_keys_are_unique_and_every_fetch_is_in_the_request(mini):
    the_plan = plan(mini())
    keys = [f.key for f in the_plan.fetches]
    assert len(set(keys)) == len(keys)
    used = {case.fetch.key for c in the_plan.checks for case in c.cases}
    used |= {f.key for c in the_plan.checks for f in c.students.values()}
    assert used == set(keys)


def test_the_request_carries_inputs(mini):
    the_plan = plan(mini())
    request = json.loads(json.dumps(the_plan.request("tok", call_timeout=7)))
    assert request["token"] == "tok"
    assert request["probes"] == PROBES
    entries = {e["key"]: e for e in request["fetches"]}
    for fetch in the_plan.fetches:
        entry = entries[fetch.key]
        assert (entry["kind"], entry["name"], entry["seed"]) == (fetch.kind, fetch.target, fetch.seed)
        assert ("args" in entry) == (fetch.kind != "name")
        assert entry.get("time_limit") == (None if fetch.kind == "name" else 7)
        if fetch.args is not None:
            decoded = plaindata.decode(entry["args"])
            assert len(decoded) == len(fetch.args)
            for sent, made in zip(decoded, fetch.args, strict=True):
                if isinstance(made, np.ndarray):
                    np.testing.assert_array_equal(sent, made)
                    assert sent.dtype == made.dtype
                else:
                    assert sent == made


def test_the_request_is_the_same_on_every_run(mini):
    rubric = mini()
    assert plan(rubric).request("t", 10) == plan(rubric).request("t", 10)


def _arrays(data: Any) -> list[np.ndarray]:
    if isinstance(data, dict):
        if "__ndarray__" in data:
            return [np.asarray(plaindata.decode(data))]
        return [a for v in data.values() for a in _arrays(v)]
    if isinstance(data, list):
        return [a for v in data for a in _arrays(v)]
    return []


def _reference_outputs(the_plan: Plan) -> list[np.ndarray]:
    from grader.judging import _to_torch

    reference = the_plan.rubric.load_reference()
    outputs = []
    for check in the_plan.checks:
        function = getattr(check.spec, "reference_function", None)
        for case in check.cases:
            if function and not check.students:
                output = getattr(reference, function)(*_to_torch(case.reference_args))
                outputs += [np.asarray(o) for o in (output if isinstance(output, tuple) else (output,))]
    return outputs


def test_the_request_never_carries_expected_values(mini):
    rubric = mini()
    the_plan = plan(rubric)
    evaluate(the_plan, kernel(the_plan, notebook()), None)  # expected values are computed and cached now
    text = json.dumps(the_plan.request("t", 10))
    assert str(SECRET) not in text and '"Net"' not in text
    outputs = _reference_outputs(the_plan)
    assert len(outputs) >= 5
    for sent in _arrays(json.loads(text)):
        for output in outputs:
            assert not (sent.shape == output.shape and np.allclose(sent, output)), (sent, output)


def test_the_real_rubrics_requests_carry_no_reference_output(course):
    rubric = course.get("conv-layer")
    the_plan = plan(rubric)
    outputs = [o for o in _reference_outputs(the_plan) if o.size > 1]
    assert len(outputs) >= 5
    sent = _arrays(json.loads(json.dumps(the_plan.request("t", 10))))
    assert len(sent) >= 10
    for array in sent:
        for output in outputs:
            assert not (array.shape == output.shape and np.allclose(array, output))


def test_probe_source_is_sent_only_when_the_rubric_has_probes(course):
    assert plan(course.get("conv-layer")).request("t", 10)["probes"] == ""
    assert "def " in plan(course.get("pooling")).request("t", 10)["probes"]


def test_reference_args_are_drawn_after_args(mini):
    rubric = mini(
        """
        [[check]]
        id = "ref-args"
        exercise = "ex1"
        points = 1
        call = "double"
        args = [{ randn = [3] }]
        reference_args = [{ randn = [3] }]
        """
    )
    check = planned(plan(rubric), "ref-args")
    case = check.cases[0]
    assert not np.array_equal(case.args[0], case.reference_args[0])
    again = planned(plan(rubric), "ref-args").cases[0]
    np.testing.assert_array_equal(case.reference_args[0], again.reference_args[0])
    assert case.fetch.args is case.args


# ============================================================================= judging
def test_a_correct_notebook_passes_every_check(mini):
    rubric = mini()
    results = list(grade(rubric).values())
    assert [r.id for r in results] == [c.id for c in rubric.checks]
    assert [(r.id, r.status, r.message) for r in results if r.status != PASSED] == []
    assert [r.score for r in results] == [c.points for c in rubric.checks]
    assert [r.max_score for r in results] == [c.points for c in rubric.checks]
    assert results[0].description == "double on a small tensor"
    assert [r.hidden for r in results] == [c.hidden for c in rubric.checks]


def test_wrong_answers_fail_with_messages_a_student_can_act_on(mini):
    namespace = {**notebook(), "double": lambda x: x * 3, "answer": 1, "pair": lambda n: (n, n + 2), "z": 4.0}
    results = grade(mini(), namespace)
    assert results["double-public"].status == FAILED
    assert results["double-public"].message == (
        "double: values differ at [0]: got 3, expected 2 (rtol 1e-05, atol 1e-06) (2 of 2 elements differ)\n"
        "called as double([1., 2.])"  # the inputs of a public call: the student can rerun it
    )
    assert results["answer"].message == f"answer (case 1) is 1, expected {SECRET!r} (rtol 1e-05, atol 1e-06)"
    assert results["pair"].message == "pair(3)[1] is 5, expected 4 (rtol 1e-05, atol 1e-06)"
    assert results["z-doubles-x"].message == "z is 4.0, expected 5.0 (rtol 1e-05, atol 1e-06)"
    assert all(results[c].score == 0 for c in ("double-public", "answer", "pair", "z-doubles-x"))


def test_a_failed_public_call_shows_its_inputs_and_a_hidden_one_never_does(mini):
    rubric = mini(
        """
        [[check]]
        id = "double-matrix"
        exercise = "ex1"
        points = 1
        call = "double"
        args = [{ arange = 30, shape = [5, 6] }]

        [[check]]
        id = "double-of-x"
        exercise = "ex1"
        points = 1
        call = "double"
        args = [{ student = "x" }]
        """
    )
    results = grade(rubric, {**notebook(), "double": lambda x: x * 3})
    assert results["double-matrix"].message.splitlines()[-1] == (
        "called as double([[ 0.,  1., ...,  4.,  5.], [ 6.,  7., ..., 10., 11.], ..., "
        "[18., 19., ..., 22., 23.], [24., 25., ..., 28., 29.]] (shape (5, 6), float32))"
    )
    assert results["double-of-x"].message.splitlines()[-1] == "called as double(your `x`)"
    assert results["double-hidden"].message == HIDDEN_FAILED
    assert "called as" not in results["pair"].message  # pair(3): the label shows the inputs already


DIAGNOSED_DOUBLE = """
[[check]]
id = "double-diagnosed"
exercise = "ex1"
points = 1
call = "double"
args = [{ tensor = [1.0, 2.0] }]

[[check.diagnoses]]
reference = "broken"
message = "never: computing this wrong answer fails, so it is skipped"

[[check.diagnoses]]
reference = "halve"
message = "This halves where it should double."

[[check.diagnoses]]
reference = "double"
message = "never: a right answer is not a mistake (the check passes first)"
"""


@pytest.mark.parametrize(
    "student, message",
    [
        (lambda x: x / 2, "double: values differ at [0]: got 0.5, expected 2"),  # a known mistake: named
        (lambda x: x * 3, "double: values differ at [0]: got 3, expected 2"),  # unknown: the plain failure
    ],
)
def test_a_known_wrong_answer_is_named_under_its_failure(mini, student, message):
    results = grade(mini(DIAGNOSED_DOUBLE), {**notebook(), "double": student})
    lines = results["double-diagnosed"].message.splitlines()
    assert lines[0].startswith(message)
    named = [line for line in lines if "halves" in line or line.startswith("never")]
    assert named == (["This halves where it should double."] if "0.5" in message else [])
    assert lines[-1] == "called as double([1., 2.])"  # the inputs still come last


def test_a_diagnosis_is_never_shown_for_a_hidden_check(mini):
    rubric = mini(DIAGNOSED_DOUBLE.replace('points = 1\ncall = "double"', 'points = 1\nhidden = true\ncall = "double"'))
    assert [c.hidden for c in rubric.checks if c.id == "double-diagnosed"] == [True]
    results = grade(rubric, {**notebook(), "double": lambda x: x / 2})
    assert results["double-diagnosed"].message == HIDDEN_FAILED


SINGLETONS = """
[[check]]
id = "double-any-singletons"
exercise = "ex1"
points = 1
call = "double"
args = [{ tensor = [1.0, 2.0] }]
singleton_dims = "ignore"
"""


@pytest.mark.parametrize("hidden", [False, True])
def test_extra_size_one_dimensions_pass_with_a_note_only_where_the_rubric_allows_them(mini, hidden):
    extra = SINGLETONS.replace("points = 1\n", "points = 1\nhidden = true\n") if hidden else SINGLETONS
    rubric = mini(extra)
    batched = {**notebook(), "double": lambda x: (x * 2)[None, None]}  # shape (1, 1, 2) for (2,)
    results = grade(rubric, batched)
    allowed = results["double-any-singletons"]
    assert allowed.status == PASSED
    # the note tells the shape of the expected value: never for a hidden check
    assert allowed.message == (
        "" if hidden else "double: shape (1, 1, 2) accepted as (2,) (dimensions of size 1 ignored)"
    )
    assert results["double-public"].status == FAILED and "shape" in results["double-public"].message  # "exact"
    other = grade(rubric, {**notebook(), "double": lambda x: (x * 2).repeat(2)})  # (4,): not a singleton matter
    assert other["double-any-singletons"].status == FAILED
    wrong = grade(rubric, {**notebook(), "double": lambda x: (x * 3)[None]})  # right shape after all, wrong values
    assert wrong["double-any-singletons"].status == FAILED


def test_a_hidden_failure_gets_the_generic_message(mini):
    results = grade(mini(), {**notebook(), "double": lambda x: x * 3})
    assert results["double-hidden"].status == FAILED
    assert results["double-hidden"].message == HIDDEN_FAILED
    assert results["double-hidden"].score == 0


def test_a_missing_name_is_an_error(mini):
    namespace = notebook()
    del namespace["answer"], namespace["double"], namespace["net"]
    results = grade(mini(), namespace)
    assert results["answer"].status == ERROR
    assert results["answer"].message == "name `answer` is not defined in your notebook"
    assert results["double-public"].message == "name `double` is not defined in your notebook"
    assert results["net-type"].message == "name `net` is not defined in your notebook"  # raised by the probe
    assert results["caught"].status == PASSED


def test_a_missing_student_value_errors_the_checks_that_use_it(mini):
    namespace = notebook()
    del namespace["x"]
    results = grade(mini(), namespace)
    for check in ("x-positive", "y-halves-x", "z-doubles-x"):
        assert (results[check].status, results[check].message) == (
            ERROR,
            "name `x` is not defined in your notebook",
        )
    assert results["answer"].status == PASSED


def test_a_raised_exception_is_an_error_whose_detail_hidden_checks_drop(mini):
    def raises(x):
        raise ValueError("secret detail of the input")

    results = grade(mini(), {**notebook(), "double": raises})
    assert results["double-public"].status == ERROR
    assert results["double-public"].message == "double raised ValueError: secret detail of the input"
    assert results["double-hidden"].status == ERROR
    assert results["double-hidden"].message == "double raised ValueError"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"status": "error", "error": "took longer than 10 s"}, "double: took longer than 10 s"),
        ({"status": "error"}, "double: could not be evaluated"),
        ({"status": "weird"}, "double: could not be evaluated"),
        (None, "double: the checks' results have no answer for it"),
        ({"status": "ok", "value": {"__ndarray__": "not base64!"}}, "double: the value came back malformed"),
        ({"status": "ok", "value": {"__what__": 1}}, "double: the value came back malformed (unknown value encoding)"),
    ],
)
def test_error_statuses_and_malformed_values(mini, entry, message):
    results = grade(mini(), double=entry)
    assert results["double-public"].status == ERROR
    assert results["double-public"].message.startswith(message)
    assert results["double-public"].score == 0
    assert results["answer"].status == PASSED


def test_status_per_verdict_for_hand_made_values(mini):
    results = grade(mini(), answer=ok(SECRET), x=ok(-1.0), err=ok(KeyError("bad input")))
    assert results["answer"].status == PASSED
    assert (results["x-positive"].status, results["x-positive"].message) == (FAILED, "x should be positive, got -1.0")
    assert (results["caught"].status, results["caught"].message) == (FAILED, "err is a KeyError, expected a ValueError")


def test_unavailable_notebook_errors_every_check(mini):
    rubric = mini()
    the_plan = plan(rubric)
    results = evaluate(the_plan, None, "the notebook timed out")
    assert [(r.status, r.message, r.score) for r in results] == [(ERROR, "the notebook timed out", 0.0)] * len(
        rubric.checks
    )
    assert {r.message for r in evaluate(the_plan, None, None)} == {"the notebook could not be run"}


def test_still_ellipsis_fails_with_a_hint(mini):
    results = grade(mini(), {**notebook(), "answer": ..., "x": ...})
    assert results["answer"].message == "answer (case 1) is still `...`: replace it with your answer"
    assert results["x-positive"].message == "x is still `...`: replace it with your answer"
    assert results["answer"].status == results["x-positive"].status == FAILED


def test_unsupported_value_fails(mini):
    results = grade(mini(), {**notebook(), "answer": object()})
    assert results["answer"].status == FAILED
    assert results["answer"].message.startswith("answer (case 1) is an object of type object, which is not plain data")


# ----------------------------------------------------------------------------- exception checks
@pytest.mark.parametrize(
    ("value", "status", "message"),
    [
        (ValueError("a bad shaped input"), PASSED, ""),
        (UnicodeError("a bad unicode input"), PASSED, ""),  # a subclass of ValueError
        (TypeError("a bad shaped input"), FAILED, "err is a TypeError, expected a ValueError"),
        (
            ValueError("something else"),
            FAILED,
            "err has the message 'something else', which is not the error this exercise produces",
        ),
        ("a bad shaped input", FAILED, "err should hold the exception object you caught, but it is a str"),
        (object(), FAILED, "err should hold the exception object you caught, but it is an object of type object"),
    ],
)
def test_exception_checks(mini, value, status, message):
    result = grade(mini(), {**notebook(), "err": value})["caught"]
    assert (result.status, result.message) == (status, message)


# ----------------------------------------------------------------------------- property checks
def test_a_property_function_gets_its_context(mini):
    rubric = mini(
        """
        [[check]]
        id = "x-positive-again"
        exercise = "ex1"
        kind = "property"
        points = 1
        call = "double"
        property = "positive"
        cases = [{ args = [{ student = "x" }] }, { args = [2] }]
        """
    )
    grade(rubric)
    checks = rubric.load_checks()
    seen = [(value, ctx) for value, ctx in checks.SEEN if ctx.what.startswith("double")]
    assert [value for value, _ in seen] == [5.0, 4]
    first, second = seen[0][1], seen[1][1]
    assert first.args == [2.5] and second.args == [2]
    assert first.students == {"x": 2.5}
    assert first.what == "double (case 1)"  # a student value in the args: named by its case
    assert second.what == "double(2)"  # short public arguments: shown as the call
    assert first.reference is rubric.load_reference()
    (x_ctx,) = [ctx for _, ctx in checks.SEEN if ctx.what == "x"]
    assert x_ctx.options == {"limit": 3}
    # the rng is seeded per (rubric, check, case): the same draws on every run
    draws = [ctx.rng.random() for _, ctx in seen]
    grade(rubric)
    again = [ctx.rng.random() for _, ctx in checks.SEEN if ctx.what.startswith("double")][2:]
    assert draws == again and draws[0] != draws[1]


@pytest.mark.parametrize("hidden", [False, True])
def test_a_property_function_that_raises_costs_only_its_check(mini, hidden):
    rubric = mini(
        f"""
        [[check]]
        id = "x-buggy"
        exercise = "ex1"
        kind = "property"
        points = 1
        hidden = {str(hidden).lower()}
        name = "x"
        property = "buggy"
        """
    )
    results = grade(rubric)
    detail = "ZeroDivisionError" if hidden else "ZeroDivisionError: division by zero"
    assert results["x-buggy"].status == ERROR
    assert (
        results["x-buggy"].message
        == f"the grader could not judge this check ({detail}): a problem of the grader or the rubric, not of your answer"
    )
    assert results["x-buggy"].score == 0
    assert all(r.status == PASSED for r in results.values() if r.id != "x-buggy")


# ----------------------------------------------------------------------------- the reference
def test_expected_values_on_the_graders_inputs_are_computed_once(mini):
    rubric = mini()
    the_plan = plan(rubric)
    fetched = kernel(the_plan, notebook())
    calls = rubric.load_reference().CALLS
    evaluate(the_plan, fetched, None)
    first = len(calls)
    assert first == 1 + 3 + 1  # double-public, the three hidden cases, z-doubles-x
    evaluate(the_plan, fetched, None)
    assert len(calls) == first + 1  # only z-doubles-x again: its input is the student's x


def test_a_reference_that_fails_on_the_students_value_fails_the_check(mini):
    results = grade(mini(), {**notebook(), "x": "abc", "y": "abc"})
    assert results["y-halves-x"].status == FAILED
    assert results["y-halves-x"].message == (
        "the reference halve cannot be applied to your inputs (TypeError: unsupported operand type(s) for /: 'str' and 'int')"
    )


def test_a_reference_that_fails_on_the_graders_inputs_is_a_grader_error(mini):
    rubric = mini(
        """
        [[check]]
        id = "uses-broken"
        exercise = "ex1"
        points = 1
        call = "double"
        reference = "broken"
        args = [1]
        """
    )
    results = grade(rubric)
    assert results["uses-broken"].status == ERROR
    assert results["uses-broken"].message == (
        "the grader could not judge this check (RuntimeError: the reference is broken): a problem of the grader or the rubric, not of your answer"
    )
    assert all(r.status == PASSED for r in results.values() if r.id != "uses-broken")


@pytest.mark.parametrize("module", ["reference", "checks"])
def test_a_course_module_that_fails_to_import_errors_every_check_without_raising(mini, module):
    broken = 'raise RuntimeError("course module is broken")\n'
    rubric = mini(**{module: broken + (REFERENCE if module == "reference" else CHECKS)})
    results = grade(rubric)
    assert {(r.status, r.message, r.score) for r in results.values()} == {
        (
            ERROR,
            "the grader could not load this assignment's course modules (RuntimeError: course module is broken)",
            0.0,
        )
    }
    assert len(results) == len(rubric.checks)
