"""Points for nothing: the attacks of the verdict-integrity issue, written as a student would,
each graded in a real kernel and shown to gain nothing it did not earn.

The rules they pin (README, "Security model"; the rubrics' docstrings):

* nan and inf never pass: not in a comparison, not in a property check (the engine refuses them
  before the property function runs), and a property tests entries, never a sum;
* nothing the kernel computes is trusted as an expected value: the data and every weight an
  expected value depends on are the grader's own inputs, and what comes back from a probe is
  checked against them in the grader (recomputed losses, replayed SGD, unchanged networks);
* probes build their objects from the library as it was before any student cell ran, and
  see the ATen operators a function runs, whatever name led to them;
* one odd value costs only its own check.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import nbformat
import pytest
from nbfactory import lost, variant

from grader.course import course_root


def grade(grader, rubrics, assignment, path):
    return grader.grade(path, rubrics[assignment])


def starter(notebook: str, out_dir, append: list[str], name: str | None = None) -> str:
    """The starter notebook a student begins from (exercises/), with code cells appended."""
    nb = nbformat.read(os.path.join(course_root(), "exercises", notebook), as_version=4)
    for source in append:
        nb.cells.append(nbformat.v4.new_code_cell(source))
    path = os.path.join(str(out_dir), name or notebook)
    nbformat.write(nb, path)
    return path


def scores(result) -> dict[str, float]:
    return {c.id: c.score for c in result.checks}


# ----------------------------------------------------------------------------- 6.2: a degenerate X_diag
X_DIAG_CHECKS = {"x-diag-has-diagonal-edge", "y-diag", "y-diag-transposed-image", "y-diag-transposed-kernel"}
X_DIAG = "X_diag = torch.tril(torch.ones(6, 6))"
DEGENERATE = {
    "all-nan": "X_diag = torch.full((6, 6), float('nan'))",
    "all-inf": "X_diag = torch.full((6, 6), float('inf'))",
    # +-3e38 side by side: every difference overflows float32 (the sum of |response| was inf, "not 0")
    "huge": "X_diag = torch.where((torch.arange(6)[:, None] + torch.arange(6)) % 2 == 0, 3e38, -3e38)",
}


@pytest.mark.parametrize("kind", sorted(DEGENERATE))
def test_a_degenerate_x_diag_gains_nothing_from_the_starter(grader, rubrics, tmp_path, kind):
    """The issue's attack: from the starter, X_diag and the three Y's filled with what a
    degenerate image gives (nan, or inf), so that every expected value is as degenerate."""
    fill = "float('nan')" if kind != "huge" else "float('inf')"
    attack = f"""
import torch
{DEGENERATE[kind]}
Y_diag = torch.full((6, 5), {fill})
Y_diag_XT = torch.full((6, 5), {fill})
Y_diag_KT = torch.full((5, 6), {fill})
"""
    baseline = grade(grader, rubrics, "conv-layer", starter("conv-layer.ipynb", tmp_path, [], name="plain.ipynb"))
    result = grade(grader, rubrics, "conv-layer", starter("conv-layer.ipynb", tmp_path, [attack]))
    assert {c: scores(result)[c] for c in X_DIAG_CHECKS} == dict.fromkeys(X_DIAG_CHECKS, 0)
    assert result.score == baseline.score == 0


@pytest.mark.parametrize("kind", sorted(DEGENERATE))
def test_a_degenerate_x_diag_loses_every_check_derived_from_it(grader, rubrics, tmp_path, kind):
    """A solved notebook whose Y's are computed honestly, by its own corr2d, from a degenerate
    X_diag: every X_diag-derived check scores 0, and nothing else moves."""
    result = grade(grader, rubrics, "conv-layer", variant("conv-layer.ipynb", tmp_path, {X_DIAG: DEGENERATE[kind]}))
    assert lost(result) == dict.fromkeys(X_DIAG_CHECKS, 1)
    messages = {c.id: c.message for c in result.checks}
    if kind != "huge":
        assert messages["x-diag-has-diagonal-edge"].startswith("X_diag holds a non-finite value (")


def test_a_large_but_sound_image_loses_only_the_edge_check(grader, rubrics, tmp_path):
    """Finite, but far beyond any pixel value: not an edge image (has_diagonal_edge keeps values
    within 1e6). The Y's are then honest cross-correlations of it, and pass as such."""
    result = grade(grader, rubrics, "conv-layer", variant("conv-layer.ipynb", tmp_path, {X_DIAG: X_DIAG + " * 1e30"}))
    assert lost(result) == {"x-diag-has-diagonal-edge": 1}


# ----------------------------------------------------------------------------- one odd value
def test_one_odd_value_costs_only_its_own_check(tmp_path, rubrics):
    """`K_second_derivative = ['one', 'two']` used to end in an internal error, exit 2 and 0/0:
    now that check fails with a message, the other checks keep their points, exit 1."""
    path = variant(
        "conv-layer.ipynb",
        tmp_path,
        {"K_second_derivative = torch.tensor([[1.0, -2.0, 1.0]])": "K_second_derivative = ['one', 'two']"},
    )
    proc = subprocess.run(
        [sys.executable, "-m", "grader", "check", path, "--format", "json"], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 1, proc.stderr
    data = json.loads(proc.stdout)
    failing = {c["id"]: (c["status"], c["message"]) for c in data["checks"] if c["status"] != "passed"}
    assert failing == {
        "second-derivative-kernel": ("failed", "K_second_derivative should hold real numbers, not values of dtype <U3")
    }
    rubric = rubrics["conv-layer"]
    worth = next(c.points for c in rubric.checks if c.id == "second-derivative-kernel")
    full = rubric.max_score  # every other check keeps its points
    assert (data["assignment"], data["score"], data["max_score"]) == ("conv-layer", full - worth, full)


# ----------------------------------------------------------------------------- 6.5: pooling switched off
AVG_BODY = "    return F.conv2d(X.unsqueeze(0), K, stride=(p_h, p_w), groups=channels).squeeze(0)"
MAX_BODY = "    return _relu_max(_relu_max(a, b), _relu_max(c, d))"
POOLING_ROUTES = {
    # the attack: a reference saved before the probe runs
    "saved-avg-pool2d": (
        {"def avg_pool_via_conv(X, pool_size):": "_avg = F.avg_pool2d\n\n\ndef avg_pool_via_conv(X, pool_size):"},
        {AVG_BODY: "    return _avg(X, pool_size)"},
        "avg-conv-is-a-convolution",
    ),
    "layer-built-earlier": (
        {"def avg_pool_via_conv(X, pool_size):": "_layers = {}\n\n\ndef avg_pool_via_conv(X, pool_size):"},
        {AVG_BODY: "    return _layers.setdefault(pool_size, nn.AvgPool2d(pool_size))(X)"},
        "avg-conv-is-a-convolution",
    ),
    "torch-max-by-name": (
        {},
        {MAX_BODY: "    windows = X.unfold(1, 2, 2).unfold(2, 2, 2).reshape(*X.shape[:1], X.shape[1] // 2, X.shape[2] // 2, 4)\n"
         "    return getattr(torch, 'ma' + 'x')(windows, dim=-1).values"},
        "max-relu-is-convolutions",
    ),
    "saved-tensor-method": (
        {"def max_pool_via_conv_relu(X):": "_amax = torch.Tensor.amax\n\n\ndef max_pool_via_conv_relu(X):"},
        {MAX_BODY: "    return _amax(torch.stack([a, b, c, d]), dim=0)"},
        "max-relu-is-convolutions",
    ),
    "pooling-first-then-convolutions": (
        {},
        {MAX_BODY: "    try:\n        return F.max_pool2d(X, 2)\n    except Exception:\n"
         "        return _relu_max(_relu_max(a, b), _relu_max(c, d))"},
        "max-relu-is-convolutions",
    ),
}  # fmt: skip


@pytest.mark.parametrize("route", sorted(POOLING_ROUTES))
def test_pooling_through_a_saved_reference_is_seen(grader, rubrics, tmp_path, route):
    """Each route computes the right values (so the value checks pass) with PyTorch's pooling
    or max: it loses exactly the check that asks for convolutions."""
    before, body, check = POOLING_ROUTES[route]
    result = grade(grader, rubrics, "pooling", variant("pooling.ipynb", tmp_path, {**before, **body}))
    assert lost(result) == {check: 1}
    message = {c.id: c.message for c in result.checks}[check]
    assert "the function uses PyTorch's" in message


# ----------------------------------------------------------------------------- 6.6: the starter's 9/18
LENET_ATTACK = """
import torch
from torch import nn

class _NoLoss(nn.Module):  # the loss the probe used to build from the notebook's namespace
    def forward(self, output, target):
        return output.sum() * 0

nn.CrossEntropyLoss = _NoLoss
torch.nn.functional.cross_entropy = lambda output, target, *args, **kwargs: output.sum() * 0

class _NoStep(torch.optim.Adam):
    def step(self, closure=None):
        return None

torch.optim.Adam = _NoStep

# a different architecture with the right output: it sees only the mean pixel, so it cannot fit
improved_lenet = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1, 10))


def get_activations(net, X):  # zero the weights the grader used to recompute from
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
    A1 = net[1](net[0](X))
    return A1, net[4](net[3](net[2](A1)))


def train(net, train_iter, num_epochs, lr):  # change the parameters, report decreasing numbers
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return [float(num_epochs - i) for i in range(num_epochs)]
"""


def test_the_lenet_starter_attack_earns_only_what_it_honestly_is(grader, rubrics, tmp_path):
    """9/18 from the starter before. Now: improved_lenet does map (N, 1, 28, 28) to (N, 10) and
    is not the book's network, so those 2 points are its own; nothing else is earned."""
    result = grade(grader, rubrics, "lenet", starter("lenet.ipynb", tmp_path, [LENET_ATTACK]))
    earned = {c.id for c in result.checks if c.score > 0}
    assert earned == {"improved-output-shape", "improved-differs"}, [(c.id, c.message) for c in result.checks]
    messages = {c.id: c.message for c in result.checks}
    assert messages["improved-trains"].startswith("improved_lenet: after 30 Adam steps on a synthetic batch the loss")
    assert messages["train-uses-its-data"].startswith("train did not fit the data it was given")
    assert messages["activations-shapes"].startswith("get_activations changed the network it was given")


BOOK_TRAIN = "def train(net, train_iter, num_epochs, lr):\n    optimizer = torch.optim.SGD(net.parameters(), lr=lr)"
ACTIVATIONS = "def get_activations(net, X):\n    A1 = net[1](net[0](X))\n    A2 = net[4](net[3](net[2](A1)))"


def test_train_that_grows_its_loader_and_its_answer_costs_no_grader_time(grader, rubrics, tmp_path):
    """The grader's replay used to run over the batches the kernel sent back, a list train()
    could grow (172 s at 100k batches). Now it runs over the rubric's own batches only; a
    return value of 100,000 numbers is refused by its length."""
    grow = BOOK_TRAIN.replace(
        "def train(net, train_iter, num_epochs, lr):\n",
        "def train(net, train_iter, num_epochs, lr):\n"
        "    losses = _train(net, train_iter, num_epochs, lr)\n"
        "    for owner in (train_iter, getattr(train_iter, 'dataset', None)):\n"
        "        for attr in list(getattr(owner, '__dict__', {})):\n"
        "            value = getattr(owner, attr)\n"
        "            if isinstance(value, list) and value:\n"
        "                value.extend(value * 33_000)  # in place, to 99,003 batches: whoever holds the list sees them\n"
        "            elif isinstance(value, tuple) and value:\n"
        "                setattr(owner, attr, list(value) * 100_000)\n"
        "    return [losses[0] - i * 1e-6 for i in range(99_999)]\n\n\n"
        "def _train(net, train_iter, num_epochs, lr):\n",
    )
    result = grade(grader, rubrics, "lenet", variant("lenet.ipynb", tmp_path, {BOOK_TRAIN: grow}))
    # honest SGD on the given data: the replay agrees; the reported losses are not one per epoch
    assert lost(result) == {"train-uses-its-data": 1, "train-epoch-losses": 1}
    # generous bound (a loaded 2-core machine): the attack used to block the grader for minutes
    assert result.execution_time < 120


def test_train_cannot_find_the_expected_losses_in_its_kernel(grader, rubrics, tmp_path):
    """Expected values never reach the kernel: a train() that searches its callers' frames and
    the garbage collector for a list of epoch losses, and trains nothing, finds none to copy."""
    search = """
import gc, sys


def train(net, train_iter, num_epochs, lr):
    found = []
    frame = sys._getframe(1)
    while frame is not None:
        found += [v for v in frame.f_locals.values() if isinstance(v, list)]
        frame = frame.f_back
    found += [o for o in gc.get_objects() if isinstance(o, list) and len(o) < 10]
    for candidate in found:
        if len(candidate) == num_epochs and all(isinstance(v, float) for v in candidate):
            return list(candidate)
    return [float(num_epochs - i) for i in range(num_epochs)]


def _unused_train(net, train_iter, num_epochs, lr):
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)"""
    result = grade(grader, rubrics, "lenet", variant("lenet.ipynb", tmp_path, {BOOK_TRAIN: search}))
    assert lost(result) == {"train-uses-its-data": 1, "train-is-minibatch-sgd": 2, "train-epoch-losses": 1}


ACTIVATION_ATTACKS = {
    # an earlier copy of the section's net: real activations of the images (the shapes are
    # earned), but not of the network handed over
    "cached-copy-of-an-earlier-net": (
        "import copy\n_earlier = copy.deepcopy(net)\n\n\ndef get_activations(net, X):\n"
        "    A1 = _earlier[1](_earlier[0](X))\n    A2 = _earlier[4](_earlier[3](_earlier[2](A1)))",
        {"activations-values": 2, "activations-other-network": 1},
    ),
    "first-answer-remembered": (
        "_memo = []\n\n\ndef get_activations(net, X):\n    if _memo:\n        return _memo[0]\n"
        "    A1 = net[1](net[0](X))\n    A2 = net[4](net[3](net[2](A1)))\n    _memo.append((A1, A2))",
        {"activations-shapes": 1, "activations-values": 2, "activations-other-network": 1},
    ),
    # zero-initialised convolutions everywhere, so that activations are constants it can return
    "zero-init-patched-into-the-library": (
        "nn.Conv2d.reset_parameters = lambda self: (nn.init.zeros_(self.weight), nn.init.zeros_(self.bias))\n\n\n"
        "def get_activations(net, X):\n    n = len(X)\n"
        "    A1 = torch.full((n, 6, 28, 28), 0.5) if isinstance(net[1], nn.Sigmoid) else torch.zeros(n, 6, 28, 28)\n"
        "    A2 = torch.full((n, 16, 10, 10), 0.5) if isinstance(net[1], nn.Sigmoid) else torch.zeros(n, 16, 10, 10)",
        {"activations-shapes": 1, "activations-values": 2, "activations-other-network": 1},
    ),
    "right-values-then-zeroed-weights": (
        ACTIVATIONS + "\n    with torch.no_grad():\n        net[0].weight.zero_()",
        {"activations-shapes": 1, "activations-values": 2, "activations-other-network": 1},
    ),
}


@pytest.mark.parametrize("attack", sorted(ACTIVATION_ATTACKS))
def test_get_activations_is_judged_on_the_graders_weights(grader, rubrics, tmp_path, attack):
    """(A notebook that patches the library also changes what its own other answers do: the
    zero-init patch reaches improved_lenet's re-initialisation too, so only exercise 4 is
    asserted here.)"""
    replacement, expected_loss = ACTIVATION_ATTACKS[attack]
    result = grade(grader, rubrics, "lenet", variant("lenet.ipynb", tmp_path, {ACTIVATIONS: replacement}))
    exercise4 = {k: v for k, v in lost(result).items() if k.startswith("activations-")}
    assert exercise4 == expected_loss, [(c.id, c.message) for c in result.checks if c.score < c.max_score]
