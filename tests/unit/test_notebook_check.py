"""`grader.check` in a notebook, without a kernel: its judge (grader.judge_server) in this
process, and the kernel side's fetches run on a namespace the test writes. The kernel tier
(tests/kernel/test_jupyter_check.py) runs the same through a real Jupyter kernel."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch

from grader import jupyter
from grader.judge_server import JudgeServer


@pytest.fixture(scope="session")
def server(course):
    return JudgeServer(course)


@pytest.fixture(scope="session")
def answers(rubrics):
    """A namespace with the reference's answers to conv-layer's exercise 3."""
    reference = rubrics["conv-layer"].load_reference()
    return {name: getattr(reference, name) for name in ("corr2d", "corr2d_matmul", "conv_matrix")}


def check(server, namespace, exercise="ex3", assignment="conv-layer"):
    """What `grader.check(exercise)` does, with `server` in place of the grader process."""
    planned = server.handle({"op": "plan", "exercise": exercise, "assignment": assignment, "names": sorted(namespace)})
    assert "error" not in planned, planned
    results = json.loads(json.dumps(jupyter._run_fetches(planned["request"], namespace)))  # plain data only
    return server.handle({"op": "judge", "token": planned["token"], "results": results})


def test_the_reference_answers_pass_every_public_check_of_the_exercise_and_nothing_else(server, answers, rubrics):
    result = check(server, answers)["result"]
    rubric = rubrics["conv-layer"]
    assert [c["id"] for c in result["checks"]] == [c.id for c in rubric.checks if c.exercise == "ex3" and not c.hidden]
    assert all(c["status"] == "passed" and not c["hidden"] for c in result["checks"])
    assert (result["assignment"], result["exercise"], result["score"]) == ("conv-layer", "ex3", 2.0)


def test_a_wrong_answer_fails_with_its_inputs_and_the_request_carries_no_expected_value(server, answers):
    def transposed(K, in_shape):
        return answers["conv_matrix"](torch.as_tensor(K).T, in_shape)

    planned = server.handle({"op": "plan", "exercise": "ex3", "assignment": "conv-layer"})
    expected = answers["conv_matrix"](torch.arange(4.0).reshape(2, 2), (3, 3)).tolist()
    assert json.dumps(expected) not in json.dumps(planned["request"])
    result = check(server, {**answers, "conv_matrix": transposed})["result"]
    failed = [c for c in result["checks"] if c["status"] != "passed"]
    assert [c["id"] for c in failed] == ["conv-matrix-example"]
    assert failed[0]["message"].splitlines()[-1].startswith("called as conv_matrix([[0., 1.], [2., 3.]]")


def test_the_assignment_is_found_by_the_names_the_kernel_defines_or_named(server, rubrics):
    for rubric in rubrics.values():
        names = [*sorted(rubric.names()), "torch", "np"]
        found = server.handle({"op": "plan", "exercise": rubric.exercises[-1].id, "names": names})
        assert found.get("assignment") == rubric.id, found
    nothing = server.handle({"op": "plan", "exercise": "ex3", "names": ["x", "y"]})
    assert nothing["error"].startswith("cannot tell which assignment this is; pass assignment= with one of: ")
    unknown = server.handle({"op": "plan", "exercise": "ex3", "assignment": "nope"})
    assert unknown["error"].startswith("unknown assignment 'nope'")


@pytest.mark.parametrize(
    "request_, error",
    [
        (
            {"op": "plan", "exercise": "ex9", "assignment": "conv-layer"},
            "no exercise 'ex9' in conv-layer; its exercises: ",
        ),
        ({"op": "judge", "token": "forged", "results": {}}, "these results answer no check this server planned"),
        ({"op": "shutdown"}, "unknown request 'shutdown'"),
    ],
)
def test_a_request_it_cannot_answer_gets_one_line(server, request_, error):
    reply = server.handle(request_)
    assert reply["error"].startswith(error) and "\n" not in reply["error"]


def test_results_are_judged_once_for_the_plan_they_answer(server, answers):
    planned = server.handle({"op": "plan", "exercise": "ex3", "assignment": "conv-layer"})
    results = json.loads(json.dumps(jupyter._run_fetches(planned["request"], answers)))
    assert "result" in server.handle({"op": "judge", "token": planned["token"], "results": results})
    again = server.handle({"op": "judge", "token": planned["token"], "results": results})
    assert again == {"error": "these results answer no check this server planned"}


def test_checking_leaves_the_sessions_random_generators_as_they_were(server, answers):
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    before = (random.random(), np.random.rand(), torch.rand(1).item())
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    check(server, answers)  # the harness seeds all three before each call
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == before


def test_outside_a_notebook_it_says_where_it_runs():
    with pytest.raises(jupyter.CheckError, match=r"^grader.check runs inside a Jupyter notebook; in a terminal use"):
        jupyter.check("ex3")
