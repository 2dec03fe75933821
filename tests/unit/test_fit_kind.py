"""The fit check kind, end to end without a kernel.

A small course is written in tmp_path (a rubric with two fit checks: a factory and a module),
planned, and its request run by the harness in this process on a namespace the test writes
(the "notebook"), exactly as the kernel's harness cell would run it; the JSON that comes back
(optionally forged on the way) is judged by the engine. The kernel tier grades real notebooks
with this kind (tests/kernel/test_lenet.py, tests/kernel/test_alexnet.py).
"""

from __future__ import annotations

import json
import math
import re
import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from grader import harness, plaindata
from grader.compare import CheckFailed
from grader.fit import cross_entropy, losses, synthetic_batch
from grader.judging import evaluate
from grader.planning import plan
from grader.rubric import RubricError, load_rubric

# one worker runs the training tests: Adam makes torch import its compiler stack once per process
pytestmark = pytest.mark.xdist_group("course-content")

RUBRIC = """
[assignment]
id = "fits"
title = "Fitting"
section = "6.6"
notebook = "fits.ipynb"
reference = "fits"

[[exercise]]
id = "ex1"
title = "Exercise 1"

[[check]]
id = "factory-fits"
exercise = "ex1"
kind = "fit"
points = 2
call = "make_net"
steps = 30
lr = 3e-3
prototypes = { rand = [10, 1, 7, 7] }
noise = { randn = [32, 1, 28, 28], scale = 0.3 }
ratio = 0.5
max_final = 1.15

[[check]]
id = "module-fits"
prototypes = { randn = [4, 1, 7, 7] }           # 4 classes, upsampled 2x vertically, 3x horizontally
noise = { randn = [16, 1, 14, 21], scale = 0.3 }
exercise = "ex1"
kind = "fit"
name = "net"                                     # a copy, re-initialised
points = 1
steps = 30
max_final = 1.15
lr = 3e-3
ratio = 0.5
"""

RELU_LENET = """
def make_net():
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, kernel_size=5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )


net = nn.Sequential(nn.Flatten(), nn.Linear(14 * 21, 64), nn.ReLU(), nn.Linear(64, 4))
"""

SIGMOID_LENET = RELU_LENET.replace("nn.ReLU(), nn.MaxPool2d(2)", "nn.Sigmoid(), nn.AvgPool2d(2)").replace(
    "nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU()",
    "nn.Linear(400, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid()",
)


@pytest.fixture
def course(tmp_path: Path) -> Path:
    (tmp_path / "rubrics").mkdir()
    (tmp_path / "reference").mkdir()
    (tmp_path / "rubrics" / "fits.toml").write_text(RUBRIC, encoding="utf-8")
    (tmp_path / "reference" / "fits.py").write_text("", encoding="utf-8")
    return tmp_path


def grade(root: Path, notebook: str, forge: Callable[[dict], None] | None = None) -> dict[str, str]:
    """Every check's status, or its message when it did not pass, for a 'notebook' run here;
    `forge` edits each training run's value on its way back from the kernel."""
    rubric = load_rubric(str(root / "rubrics" / "fits.toml"), str(root))
    the_plan = plan(rubric)
    namespace: dict = {}
    exec("import torch\nfrom torch import nn\n" + textwrap.dedent(notebook), namespace)
    fetched = harness.fetch_all(the_plan.request("t" * 32, 30), namespace)
    if forge is not None:
        for entry in fetched.values():
            if entry.get("status") == "ok":
                value = plaindata.decode(entry["value"])
                forge(value)
                harness._new_run()  # arrays go back as the kernel sends them: plain numpy arrays
                entry["value"] = harness._encode({k: np.array(v) for k, v in value.items()})
    fetched = json.loads(json.dumps(fetched))
    return {
        r.id: "passed" if r.status == "passed" else f"{r.status}: {r.message}"
        for r in evaluate(the_plan, fetched, None)
    }


def first_line(message: str) -> str:
    return message.split("\n")[0]


# ----------------------------------------------------------------------------- verdicts
def test_networks_that_learn_pass(course):
    assert grade(course, RELU_LENET) == {"factory-fits": "passed", "module-fits": "passed"}


def test_the_books_sigmoid_lenet_cannot_learn_in_the_budget(course):
    message = first_line(grade(course, SIGMOID_LENET)["factory-fits"])
    found = re.fullmatch(
        r"failed: make_net\(\): after 30 Adam steps on a synthetic batch the loss went from (\S+) to (\S+); "
        r"expected below 1\.15 and below 0\.5 x the initial loss",
        message,
    )
    assert found, message
    initial, final = (float(v) for v in found.groups())
    assert abs(initial - math.log(10)) < 0.1 and final > 2.0


def test_a_final_softmax_is_named(course):
    message = grade(course, RELU_LENET.replace("nn.Linear(84, 10),", "nn.Linear(84, 10), nn.Softmax(dim=1),"))
    assert message["factory-fits"].startswith("failed: make_net(): after 30 Adam steps")
    assert (
        "it ends with a softmax" in message["factory-fits"] and "Remove the final softmax." in message["factory-fits"]
    )
    assert "softmax" not in grade(course, SIGMOID_LENET)["factory-fits"]


def test_the_students_module_is_trained_as_a_reinitialised_copy(course):
    """`name`: a deep copy, every layer reset, so the notebook's own net is untouched and
    weights it brought along (here: zeros everywhere, which cannot learn) do not count."""
    notebook = RELU_LENET + "\nwith torch.no_grad():\n    for p in net.parameters():\n        p.zero_()\n"
    namespace: dict = {}
    exec("import torch\nfrom torch import nn\n" + notebook, namespace)
    assert grade(course, notebook)["module-fits"] == "passed"
    assert all(not p.any() for p in namespace["net"].parameters())


def test_what_is_not_a_network_is_named(course):
    verdicts = grade(course, RELU_LENET.replace("def make_net():", "def _unused():") + "\nmake_net = 3\nnet = 4\n")
    assert verdicts["factory-fits"] == (
        "error: make_net raised TypeError: `make_net` should be a function that returns a network, not a int"
    )
    assert verdicts["module-fits"].startswith("error: net raised TypeError: `net` should be a torch.nn.Module")
    assert grade(course, "")["factory-fits"] == "error: name `make_net` is not defined in your notebook"


def test_an_output_that_is_not_the_batchs_logits_is_refused(course):
    verdicts = grade(course, RELU_LENET.replace("nn.Linear(84, 10),", "nn.Linear(84, 5),"))
    assert first_line(verdicts["factory-fits"]) == (
        "failed: make_net(): on a batch of 32 images the output is (32, 5), expected (32, 10)"
    )


def test_a_failure_does_not_show_the_batch_as_the_factorys_arguments(course):
    assert "called as" not in grade(course, SIGMOID_LENET)["factory-fits"]


# ----------------------------------------------------------------------------- forged runs
def _zeroed(value: dict) -> None:
    value["images"] = value["images"] * 0


def test_a_run_on_other_images_is_refused(course):
    verdicts = grade(course, RELU_LENET, _zeroed)
    message = "the network was not trained on the grader's images (the kernel changed them)"
    assert {k: first_line(v) for k, v in verdicts.items()} == {
        "factory-fits": f"failed: make_net(): {message}",
        "module-fits": f"failed: net: {message}",
    }


def test_claimed_logits_are_judged_by_the_graders_own_loss(course):
    def claim_nothing(value: dict) -> None:
        value["final"] = np.zeros_like(value["final"])  # the loss of all-zero logits is ln(classes)

    verdicts = grade(course, RELU_LENET, claim_nothing)
    assert "to 2.303; expected below 1.15" in verdicts["factory-fits"]
    assert "to 1.386; expected below 1.15" in verdicts["module-fits"]


@pytest.mark.parametrize(
    ("key", "words"),
    [("initial", "hold nan or inf before training"), ("final", "hold nan or inf after 30 Adam steps")],
)
def test_nonfinite_logits_fail(course, key, words):
    def poison(value: dict) -> None:
        value[key] = value[key].copy()
        value[key][3, 1] = np.nan if key == "initial" else np.inf

    verdicts = grade(course, RELU_LENET, poison)
    assert verdicts["factory-fits"].startswith("failed: make_net(): the outputs (logits) on the synthetic batch")
    assert words in verdicts["factory-fits"]


def test_a_network_with_nan_outputs_fails(course):
    notebook = RELU_LENET.replace("nn.Linear(84, 10),", "nn.Linear(84, 10), nn.Threshold(1e9, float('nan')),")
    assert "hold nan or inf before training" in grade(course, notebook)["factory-fits"]


def test_a_malformed_answer_is_refused():
    prototypes, noise = np.ones((2, 1, 2, 2), np.float32), np.zeros((4, 1, 4, 4), np.float32)
    for value in (None, {"images": 1}, [1, 2]):
        with pytest.raises(CheckFailed, match="training produced nothing usable"):
            losses(value, prototypes, noise, "net", 5)


# ----------------------------------------------------------------------------- the engine's batch
def test_the_batch_is_the_prototypes_upsampled_plus_noise():
    prototypes = np.arange(2 * 1 * 2 * 3, dtype=np.float32).reshape(2, 1, 2, 3)
    noise = np.full((5, 1, 4, 9), 0.5, np.float32)
    images, labels = synthetic_batch(prototypes, noise)
    assert labels.tolist() == [0, 1, 0, 1, 0] and images.shape == (5, 1, 4, 9) and images.dtype == np.float32
    assert images[3, 0, 3, 8] == prototypes[1, 0, 1, 2] + 0.5 and images[0, 0, 0, 2] == prototypes[0, 0, 0, 0] + 0.5
    nearest = torch.nn.functional.interpolate(torch.from_numpy(prototypes), size=(4, 9), mode="nearest")
    assert np.array_equal(images[:2], nearest.numpy() + 0.5)


def test_the_loss_is_the_mean_cross_entropy_in_float64():
    rng = np.random.default_rng(0)
    logits, labels = (rng.standard_normal((6, 4)) * 30).astype(np.float32), np.array([0, 1, 2, 3, 0, 1])
    want = torch.nn.functional.cross_entropy(torch.from_numpy(logits).double(), torch.from_numpy(labels)).item()
    assert math.isclose(cross_entropy(logits, labels), want, rel_tol=1e-12)
    assert math.isclose(cross_entropy(np.zeros((32, 10)), np.arange(32) % 10), math.log(10))


def test_the_probe_builds_the_graders_batch(course):
    """The kernel's images (torch, float32) are the grader's (numpy) bit for bit."""
    rubric = load_rubric(str(course / "rubrics" / "fits.toml"), str(course))
    case = plan(rubric).checks[1].cases[0]
    namespace: dict = {}
    exec("import torch\nfrom torch import nn\n" + RELU_LENET, namespace)
    fetched = harness.fetch_all(plan(rubric).request("t" * 32, 30), namespace)
    value = plaindata.decode(fetched[case.fetch.key]["value"])
    assert np.array_equal(value["images"], synthetic_batch(*case.args)[0])


# ----------------------------------------------------------------------------- rubric validation
def first_check_with(course: Path, change: dict[str, str | None]) -> str:
    """The error of loading the rubric after the first check's keys are changed (TOML text;
    None removes the key)."""
    path = course / "rubrics" / "fits.toml"
    first, second = path.read_text().split('[[check]]\nid = "module-fits"')
    lines = [line for line in first.splitlines() if line.split(" = ")[0] not in change]
    lines += [f"{key} = {text}" for key, text in change.items() if text is not None]
    path.write_text("\n".join(lines) + '\n\n[[check]]\nid = "module-fits"' + second)
    with pytest.raises(RubricError) as info:
        load_rubric(str(path), str(course))
    return str(info.value)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"epsilon": "1"}, "unknown key `epsilon`"),
        ({"call": None, "probe": '"make_net"'}, "not a probe"),
        ({"args": "[1]"}, "remove `args`"),
        ({"expected": "1"}, "remove `expected`"),
        ({"noise": "{ randn = [32, 1, 30, 28] }"}, "not a whole multiple"),
        ({"noise": "{ randn = [32, 3, 28, 28] }"}, "give both the same"),
        ({"prototypes": "{ rand = [10, 7, 7] }"}, "(classes, channels, h, w)"),
        ({"prototypes": '{ student = "protos" }'}, "a tensor the grader makes"),
        ({"prototypes": '{ ones = [10, 1, 7, 7], dtype = "int64" }'}, "float dtype"),
        ({"steps": "0"}, "steps"),
        ({"lr": "0"}, "lr"),
        ({"ratio": None}, "ratio"),
        ({"name": '"net"'}, "exactly one of"),
    ],
)
def test_rubric_mistakes_are_reported(course, change, words):
    assert words in first_check_with(course, change)


def test_the_batch_is_drawn_from_the_checks_own_generator(course):
    """prototypes, then noise, from the (seed, check, case 0) generator: the draws a probe
    check with `args = [..., prototypes, noise]` made, so converted rubrics keep their inputs."""
    from grader.inputs import rng_for

    rubric = load_rubric(str(course / "rubrics" / "fits.toml"), str(course))
    planned = plan(rubric).checks[0]
    rng = rng_for(rubric.seed, "factory-fits", 0)
    prototypes = rng.random((10, 1, 7, 7)).astype(np.float32)
    noise = rng.standard_normal((32, 1, 28, 28)).astype(np.float32) * 0.3
    assert np.array_equal(planned.cases[0].args[0], prototypes) and np.array_equal(planned.cases[0].args[1], noise)
    assert planned.cases[0].fetch.args[:4] == ["make_net", True, 30, 3e-3]
