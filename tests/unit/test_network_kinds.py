"""The structure and gradient check kinds, end to end without a kernel.

A small course is written in tmp_path (a rubric, its reference, its checks), planned, and its
request run by the harness in this process on a namespace the test writes (the "notebook"),
exactly as the kernel's harness cell would run it; the JSON that comes back is judged by the
engine. The kernel tier grades real notebooks with these kinds (tests/kernel/test_lenet.py and
the chapter-7 assignments).
"""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from grader import harness
from grader.compare import CheckFailed
from grader.content import describe_network
from grader.judging import evaluate
from grader.planning import plan
from grader.rubric import RubricError, load_rubric
from grader.structure import verify

ALEXNET = """
def alexnet(classes=10):
    return nn.Sequential(
        nn.Conv2d(1, 96, kernel_size=11, stride=4, padding=1), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(96, 256, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(256, 384, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 384, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2), nn.Flatten(),
        nn.Linear(6400, 4096), nn.ReLU(), nn.Dropout(p=0.5),
        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(p=0.5),
        nn.Linear(4096, classes),
    )
"""

REFERENCE = f"""
import torch
from torch import nn
{ALEXNET}

def conv(x, w, b, stride, padding):
    return torch.nn.functional.conv2d(x, w, b, stride=stride, padding=padding)


def conv_bias_forgotten(x, w, b, stride, padding):
    return torch.nn.functional.conv2d(x, w, b.detach(), stride=stride, padding=padding)
"""

CHECKS = """
from grader.content import CheckFailed


def fc_heavy(net, ctx):
    share = net.params_of("Linear") / net.parameters
    if share < ctx.options["at_least"]:
        raise CheckFailed(f"{ctx.what}: only {share:.0%} of the parameters are in linear layers")
"""

RUBRIC = """
[assignment]
id = "nets"
title = "Networks"
section = "7.1"
v1_section = "8.1"
notebook = "nets.ipynb"
reference = "nets"
checks = "nets_checks"

[[exercise]]
id = "ex1"
title = "Exercise 1"
v1 = 2

[[check]]
id = "alexnet-counts"
exercise = "ex1"
kind = "structure"
points = 2
call = "alexnet"
input = [1, 1, 224, 224]
reference = "alexnet"
match = ["parameters", "macs", "output", "layers"]

[[check]]
id = "alexnet-literals"
exercise = "ex1"
kind = "structure"
points = 1
call = "alexnet"
input = [1, 1, 224, 224]
expect = { parameters = 46764746, macs = 938146176, output = [1, 10], counts = { Conv2d = 5, Linear = 3 } }
property = "fc_heavy"
options = { at_least = 0.9 }

[[check]]
id = "built-net"
exercise = "ex1"
kind = "structure"
points = 1
name = "net"
input = [2, 1, 224, 224]
reference = "alexnet"
match = ["parameters", "shapes"]

[[check]]
id = "conv-grads"
exercise = "ex1"
kind = "gradient"
points = 2
call = "conv_grads"
args = [{ randn = [2, 3, 6, 5] }, { randn = [4, 3, 3, 2] }, { randn = [4] }, 2, 1, { randn = [2, 4, 3, 3] }]
reference = "conv"
wrt = [0, 1, 2]
upstream = 5
names = ["out", "dx", "dW", "db"]

[[check.diagnoses]]
reference = "conv_bias_forgotten"
message = "The bias got no gradient: db is the upstream gradient summed over the batch and the positions."
"""

AUTOGRAD_CONV = """
def conv_grads(x, w, b, stride, padding, dout):
    x, w, b = (t.double().requires_grad_() for t in (x, w, b))
    out = torch.nn.functional.conv2d(x, w, b, stride=stride, padding=padding)
    out.backward(dout.double())
    return [out, x.grad, w.grad, b.grad]
"""


@pytest.fixture
def course(tmp_path: Path) -> Path:
    (tmp_path / "rubrics").mkdir()
    (tmp_path / "reference").mkdir()
    (tmp_path / "rubrics" / "nets.toml").write_text(RUBRIC, encoding="utf-8")
    (tmp_path / "rubrics" / "nets_checks.py").write_text(CHECKS, encoding="utf-8")
    (tmp_path / "reference" / "nets.py").write_text(REFERENCE, encoding="utf-8")
    return tmp_path


def grade(root: Path, notebook: str) -> dict[str, str]:
    """Every check's status, or its message when it did not pass, for a 'notebook' run here."""
    rubric = load_rubric(str(root / "rubrics" / "nets.toml"), str(root))
    the_plan = plan(rubric)
    namespace: dict = {}
    exec("import torch\nfrom torch import nn\n" + textwrap.dedent(notebook), namespace)
    fetched = json.loads(json.dumps(harness.fetch_all(the_plan.request("t" * 32, 30), namespace)))
    return {
        r.id: "passed" if r.status == "passed" else f"{r.status}: {r.message}"
        for r in evaluate(the_plan, fetched, None)
    }


SOLVED = ALEXNET + "\nnet = alexnet()\n" + AUTOGRAD_CONV


def test_a_right_notebook_passes_every_check(course):
    assert set(grade(course, SOLVED).values()) == {"passed"}


def test_the_figures_are_the_ones_computed_by_hand():
    """46,764,746 parameters and 0.94 GMAC: the formula for every conv and linear layer, by hand."""
    namespace: dict = {"nn": nn}
    exec(ALEXNET, namespace)
    net = describe_network(namespace["alexnet"], [1, 1, 224, 224])
    convs = [(1, 96, 11, 54), (96, 256, 5, 26), (256, 384, 3, 12), (384, 384, 3, 12), (384, 256, 3, 12)]
    linears = [(6400, 4096), (4096, 4096), (4096, 10)]
    conv_macs = sum(o * s * s * i * k * k for i, o, k, s in convs)
    assert net.macs == conv_macs + sum(i * o for i, o in linears) == 938_146_176
    assert net.parameters == sum(o * i * k * k + o for i, o, k, _ in convs) + sum(i * o + o for i, o in linears)
    assert net.parameters == 46_764_746 and net.output == [1, 10]
    assert net.macs_of("Conv2d") == conv_macs and round(net.params_of("Linear") / net.parameters, 2) == 0.92
    assert net.count("Conv2d") == 5 and net.types()[:3] == ["Conv2d", "ReLU", "MaxPool2d"]


WITH_1000_CLASSES = 46_764_746 + 4096 * 990 + 990  # the last layer's 990 more outputs


def test_a_wrong_network_loses_each_measure_with_a_message(course):
    verdicts = grade(course, SOLVED.replace("classes=10", "classes=1000"))
    want = WITH_1000_CLASSES
    assert verdicts["alexnet-counts"] == (
        f"failed: alexnet(): parameters {want:,}, expected 46,764,746 (the reference network's)"
    )
    assert verdicts["built-net"] == f"failed: net: parameters {want:,}, expected 46,764,746 (the reference network's)"
    assert (
        verdicts["alexnet-literals"]
        == f"failed: alexnet(): parameters {want:,}, expected 46,764,746 (the rubric's figure)"
    )


def test_a_network_that_cannot_run_on_the_input_says_on_which(course):
    verdicts = grade(course, SOLVED.replace("nn.Conv2d(1, 96", "nn.Conv2d(3, 96"))
    assert verdicts["alexnet-counts"].startswith(
        "error: alexnet raised RuntimeError: it cannot run on an input of shape (1, 1, 224, 224):"
    )


def test_figures_that_are_another_checks_answer_can_be_kept_back(course):
    path = course / "rubrics" / "nets.toml"
    path.write_text(path.read_text().replace('property = "fc_heavy"', 'property = "fc_heavy"\nreveal = false'))
    message = grade(course, SOLVED.replace("classes=10", "classes=1000"))["alexnet-literals"]
    assert message == f"failed: alexnet(): parameters {WITH_1000_CLASSES:,}, which is not the rubric's figure"


def test_a_diagnosis_names_the_mistake_when_the_network_is_that_wrong_one(course):
    path = course / "rubrics" / "nets.toml"
    path.write_text(
        path.read_text().replace(
            'match = ["parameters", "macs", "output", "layers"]\n',
            'match = ["parameters", "output"]\n\n[[check.diagnoses]]\nreference = "alexnet_1000"\n'
            'message = "ImageNet habit: 1000 classes, Fashion-MNIST has 10."\n',
            1,
        )
    )
    reference = course / "reference" / "nets.py"
    reference.write_text(reference.read_text() + "\n\ndef alexnet_1000():\n    return alexnet(1000)\n")
    message = grade(course, SOLVED.replace("classes=10", "classes=1000"))["alexnet-counts"]
    assert message.startswith(f"failed: alexnet(): parameters {WITH_1000_CLASSES:,}, expected 46,764,746")
    assert message.endswith("\nImageNet habit: 1000 classes, Fashion-MNIST has 10.")


def test_an_extra_layer_is_named_by_its_position(course):
    wrong = SOLVED.replace("nn.Flatten(),", "nn.Flatten(), nn.Identity(),")
    verdicts = grade(course, wrong)
    assert verdicts["alexnet-counts"] == (
        "failed: alexnet(): layer 15 (in the order the layers run) is Identity, expected Linear "
        "(the reference network's)"
    )


def test_a_property_and_literal_counts_judge_the_grader_measured_network(course):
    few_linear = SOLVED.replace(
        "nn.Linear(6400, 4096), nn.ReLU(), nn.Dropout(p=0.5),\n        nn.Linear(4096, 4096),",
        "nn.Linear(6400, 16), nn.ReLU(), nn.Dropout(p=0.5),\n        nn.Linear(16, 4096),",
    )
    message = grade(course, few_linear)["alexnet-literals"]
    assert message.startswith("failed: alexnet(): parameters 3,") and "expected 46,764,746" in message


def test_gradients_are_checked_entry_by_entry(course):
    assert grade(course, SOLVED)["conv-grads"] == "passed"
    no_batch_sum = AUTOGRAD_CONV.replace(
        "return [out, x.grad, w.grad, b.grad]", "return [out, x.grad, w.grad / 2, b.grad]"
    )
    message = grade(course, ALEXNET + "\nnet = alexnet()\n" + no_batch_sum)["conv-grads"]
    assert message.startswith("failed: conv_grads: dW") and "differ" in message
    too_few = AUTOGRAD_CONV.replace("return [out, x.grad, w.grad, b.grad]", "return [out, x.grad, w.grad]")
    assert grade(course, ALEXNET + "\nnet = alexnet()\n" + too_few)["conv-grads"].startswith(
        "failed: conv_grads should give 4 tensors (out, dx, dW, db), got 3\ncalled as conv_grads("
    )
    no_db = AUTOGRAD_CONV.replace("return [out, x.grad, w.grad, b.grad]", "return [out, x.grad, w.grad, b.grad * 0]")
    message = grade(course, ALEXNET + "\nnet = alexnet()\n" + no_db)["conv-grads"]
    assert message.startswith("failed: conv_grads: db") and "The bias got no gradient" in message
    assert "The bias got no gradient" not in grade(course, ALEXNET + "\nnet = alexnet()\n" + no_batch_sum)["conv-grads"]
    nan_grad = AUTOGRAD_CONV.replace(
        "return [out, x.grad, w.grad, b.grad]", "return [out, x.grad * float('nan'), w.grad, b.grad]"
    )
    assert "non-finite" in grade(course, ALEXNET + "\nnet = alexnet()\n" + nan_grad)["conv-grads"]


def test_the_probe_does_not_replace_a_probe_modules_helpers(course):
    """The network description runs in a namespace of its own: only its probe joins the
    rubric's probes, so a probes module's `_shapes` (the description has a helper of that name)
    stays its own."""
    (course / "rubrics" / "nets_probes.py").write_text("def _shapes(ctx, dotted):\n    return 'mine'\n")
    text = (
        (course / "rubrics" / "nets.toml")
        .read_text()
        .replace('checks = "nets_checks"', 'checks = "nets_checks"\nprobes = "nets_probes"')
    )
    (course / "rubrics" / "nets.toml").write_text(text)
    namespace: dict = {}
    exec(plan(load_rubric(str(course / "rubrics" / "nets.toml"), str(course))).probes, namespace)
    assert namespace["_shapes"](None, "x") == "mine" and callable(namespace["describe_network_probe"])


# ----------------------------------------------------------------------------- forged descriptions
def description(net: nn.Module, shape: list[int]) -> dict:
    from grader.content import ProbeContext
    from grader.network_probe import describe_network_probe

    return json.loads(json.dumps(describe_network_probe(ProbeContext({"n": net}), "n", False, shape)))


def small() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 10))


def forged(edit) -> dict:
    value = description(small(), [1, 1, 8, 8])
    edit(value)
    return value


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (
            lambda v: v["modules"][1]["params"].update(weight=[4, 1, 1, 1]),
            "does not have the parameters its hyper-parameters give",
        ),
        (
            lambda v: v["modules"][1]["config"].update(out_channels=2),
            "does not have the parameters its hyper-parameters give",
        ),
        (lambda v: v["calls"][0].update(output=[1, 4, 7, 7]), "on [[1, 1, 8, 8]] it outputs [1, 4, 6, 6]"),
        (lambda v: v["calls"][3].update(inputs=[[1, 100]]), "cannot take inputs of shape [[1, 100]]"),
        (lambda v: v["modules"][1].update(type="Conv9d"), "a torch.nn.Conv9d that torch.nn lacks"),
        (lambda v: v["modules"][1].update(type="functional"), "torch.nn lacks"),
        (lambda v: v["modules"][1]["config"].update(kernel_size="big"), "cannot be rebuilt from its hyper-parameters"),
        (
            lambda v: v["calls"].append({"module": 0, "inputs": [[1, 1, 8, 8]], "output": [1, 10]}),
            "could not be described",
        ),
        (lambda v: v["calls"].append({"module": 99, "inputs": [], "output": None}), "could not be described"),
        (lambda v: v["calls"][0].update(module=True), "could not be described"),
        (lambda v: v["modules"][1]["params"].update(weight=[4, -1, 3, 3]), "could not be described"),
        (lambda v: v.update(modules=[]), "could not be described"),
        (lambda v: v.update(calls=[v["calls"][0]] * 20_001), "too large to describe"),
    ],
)
def test_a_forged_or_malformed_description_is_refused(edit, words):
    with pytest.raises(CheckFailed) as info:
        verify(forged(edit), "net")
    assert words in str(info.value)


def test_a_layer_of_the_notebooks_own_counts_its_parameters_but_no_operations():
    class Scale(nn.Module):  # a leaf that is not torch.nn's: not rebuilt, its shapes taken as described
        def __init__(self):
            super().__init__()
            self.gamma = nn.Parameter(torch.ones(4, 1, 1))

        def forward(self, x):
            return x * self.gamma

    net = verify(description(nn.Sequential(nn.Conv2d(1, 4, 3), Scale()), [1, 1, 8, 8]), "net")
    assert net.parameters == 4 * 9 + 4 + 4 and net.macs == 4 * 36 * 9
    assert [(layer.type, layer.torch, layer.macs) for layer in net.layers] == [
        ("Conv2d", True, 1296),
        ("Scale", False, 0),
    ]


def test_a_notebook_class_named_like_a_torch_layer_is_not_torchs():
    class Conv2d(nn.Module):
        def forward(self, x):
            return x

    net = verify(description(nn.Sequential(Conv2d(), nn.Flatten()), [1, 1, 4, 4]), "net")
    assert net.layers[0].type == "Conv2d" and net.layers[0].torch is False and net.macs == 0


def test_shared_layers_count_their_parameters_once_and_their_operations_per_call():
    shared = nn.Linear(8, 8)
    net = verify(description(nn.Sequential(shared, nn.ReLU(), shared), [2, 8]), "net")
    assert net.parameters == 72 and net.macs == 2 * 2 * 64 and net.count("Linear") == 2


def test_frozen_parameters_are_not_trainable():
    bn = nn.BatchNorm2d(4)
    bn.weight.requires_grad_(False)
    bn.bias.requires_grad_(False)
    net = verify(description(nn.Sequential(nn.Conv2d(1, 4, 3, bias=False), bn), [1, 1, 5, 5]), "net")
    assert (net.parameters, net.trainable_parameters) == (36 + 8, 36)


def test_within_selects_the_calls_inside_a_block_in_order():
    net = describe_network(
        nn.Sequential(nn.Sequential(nn.BatchNorm2d(1), nn.ReLU(), nn.Conv2d(1, 1, 3)), nn.Flatten()), [1, 1, 5, 5]
    )
    assert [layer.type for layer in net.within("0")] == ["BatchNorm2d", "ReLU", "Conv2d"]
    assert math.prod(net.output) == 9


# ----------------------------------------------------------------------------- rubric validation
@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        ('match = ["parameters", "macs", "output", "layers"]', 'match = ["parameters", "flops"]', "match"),
        ('reference = "alexnet"\nmatch', 'reference = "nope"\nmatch', "reference function 'nope' is not defined"),
        (
            'call = "alexnet"\ninput = [1, 1, 224, 224]\nreference',
            'probe = "x"\ninput = [1, 1, 224, 224]\nreference',
            "not a probe",
        ),
        ("input = [1, 1, 224, 224]\nreference", "input = [1, 0, 224, 224]\nreference", "positive sizes"),
        ('reference = "alexnet"\nmatch = ["parameters", "macs", "output", "layers"]', "rtol = 0.1", "needs `match`"),
        ('property = "fc_heavy"', 'property = "nope"', "property 'nope' is not defined"),
        ('names = ["out", "dx", "dW", "db"]', 'names = ["out", "dx"]', "give 4"),
        ("wrt = [0, 1, 2]", "wrt = [0, 1, 5]", "the reference gets only 5"),
        ("upstream = 5", "upstream = 6", "only 6 args"),
        ('reference = "conv"', 'reference = "conv"\ntolerance = 1', "unknown key `tolerance`"),
        ('reference = "conv_bias_forgotten"', 'reference = "nope"', "diagnosis function 'nope' is not defined"),
        ("upstream = 5", "upstream = 5\nexpected = 1", "`expected` is not used by gradient checks"),
        ("input = [2, 1, 224, 224]", "input = [2, 1, 224, 224]\nexpected = 1", "not used by structure checks"),
        ('points = 2\ncall = "alexnet"', 'points = 2\ncall = "alexnet"\nepsilon = 1', "unknown key `epsilon`"),
    ],
)
def test_rubric_mistakes_in_the_new_kinds_are_reported(course, old, new, words):
    path = course / "rubrics" / "nets.toml"
    text = path.read_text()
    assert text.count(old) >= 1, old
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(RubricError) as info:
        load_rubric(str(path), str(course))
    assert words in str(info.value)


def test_the_v1_numbering_is_read(course):
    rubric = load_rubric(str(course / "rubrics" / "nets.toml"), str(course))
    assert rubric.v1_section == "8.1" and rubric.exercises[0].v1 == 2


def test_the_expected_gradients_are_autograds_in_float64(course):
    rubric = load_rubric(str(course / "rubrics" / "nets.toml"), str(course))
    from grader.kinds.gradient import expected

    check = next(c for c in rubric.checks if c.id == "conv-grads")
    case = next(p for p in plan(rubric).checks if p.spec.id == "conv-grads").cases[0]
    out, _dx, _dw, db = expected(check, torch.nn.functional.conv2d, case.args, None)
    assert out.dtype == np.float64 and out.shape == (2, 4, 3, 3)
    assert np.allclose(db, case.args[5].astype(np.float64).sum(axis=(0, 2, 3)))


def test_checks_of_one_network_share_the_kernels_description(course):
    """Two structure checks of `alexnet()` on the same input ask the kernel once; a different
    input or a different network is its own question."""
    checks = {p.spec.id: p for p in plan(load_rubric(str(course / "rubrics" / "nets.toml"), str(course))).checks}
    assert checks["alexnet-counts"].cases[0].fetch is checks["alexnet-literals"].cases[0].fetch
    assert checks["built-net"].cases[0].fetch is not checks["alexnet-counts"].cases[0].fetch


def test_a_layer_met_again_is_measured_once():
    from grader import structure

    structure._CALLS.clear()
    net = describe_network(nn.Sequential(*[nn.Conv2d(4, 4, 3, padding=1) for _ in range(6)]), [1, 4, 8, 8])
    assert net.macs == 6 * 64 * 4 * 4 * 9 and len(structure._CALLS) == 1


def test_lazy_layers_as_d2l_v1_writes_them_are_measured_as_what_they_become():
    """d2l v1.0 builds its networks with nn.LazyConv2d / nn.LazyLinear, whose parameters have no
    shape until the first call: the description is taken after the network ran."""
    lazy = ALEXNET.replace("nn.Conv2d(1, 96,", "nn.LazyConv2d(96,").replace(
        "nn.Linear(6400, 4096)", "nn.LazyLinear(4096)"
    )
    namespace: dict = {"nn": nn}
    exec(lazy, namespace)
    net = describe_network(namespace["alexnet"], [1, 1, 224, 224])
    assert (net.parameters, net.macs) == (46_764_746, 938_146_176)
    assert net.types()[0] == "Conv2d" and net.count("Linear") == 3


def test_a_salted_plan_ships_the_same_kernel_code_without_reading_it_again(monkeypatch):
    """Each submission of a rubric with random hidden inputs gets a plan of its own, built on the
    rubric's unsalted one: the probes and kinds' kernel code are the base plan's, not re-read."""
    from grader import planning
    from grader.course import load_course

    lenet = load_course().get("lenet")  # this module's `course` fixture is a made-up course
    base = plan(lenet)
    monkeypatch.setattr(planning, "probes_source", lambda rubric: pytest.fail("read again"))
    assert plan(lenet, "a submission's hash", base).probes == base.probes
    assert "def fit_batch_probe" in base.probes and "def describe_network_probe" in base.probes


def test_a_module_the_notebook_built_is_described_without_copying_its_weights():
    """`name = "net"` for a network built with real weights: the copy that is described gets
    meta tensors from the start (a 1 GiB layer is not copied), and the notebook's network keeps
    its own weights on its own device."""
    import psutil

    process = psutil.Process()
    describe_network(nn.Sequential(nn.Flatten(), nn.Linear(4, 4)), [1, 4])  # imports done before measuring
    big = nn.Sequential(nn.Flatten(), nn.Linear(16_000, 16_000))  # 256 million parameters: 1 GiB of float32
    with torch.no_grad():
        big[1].weight.fill_(1.0)  # touched: really in memory
    before = process.memory_info().rss
    net = describe_network(big, [2, 1, 16_000])
    assert process.memory_info().rss - before < 256 * 2**20  # a copy would add 1,024 MiB
    assert net.parameters == 16_000 * 16_001 and net.macs == 2 * 16_000 * 16_000
    assert big[1].weight.device.type == "cpu" and bool((big[1].weight.detach()[:2, :2] == 1.0).all())
