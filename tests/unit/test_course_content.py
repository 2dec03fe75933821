"""Course content without a kernel: property functions, references and probes, run in this process.

The probes are the rubric's own source, executed here the way the harness executes it in a
kernel, with a `ProbeContext` over a namespace the test writes (the "notebook"). What a probe
returns goes through the harness's encoder and the grader's decoder, so each property function
sees exactly what it would see after a real kernel. The kernel tier (tests/kernel/) runs the
same attacks as notebooks; these tests pin the rules one by one, fast.
"""

from __future__ import annotations

import copy
import math
import re
import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from grader import harness, plaindata
from grader.compare import CheckFailed
from grader.content import ProbeContext
from grader.kinds.base import JudgeContext, ModuleNames
from grader.kinds.property import PropertyCheck, PropertyContext, PropertyKind, first_nonfinite
from grader.planning import plan

# One worker runs this module: its optimizers (6.6) and dispatch modes (6.5's probes) make torch
# import its compiler stack, ~1.1-1.4 CPU-s once per process that does either.
pytestmark = pytest.mark.xdist_group("course-content")


# ----------------------------------------------------------------------------- helpers
class Course:
    """One assignment's modules and planned inputs, by check id."""

    def __init__(self, rubric):
        self.rubric = rubric
        self.reference = rubric.load_reference()
        self.checks = rubric.load_checks()
        self.probes: dict = {}
        exec(compile(rubric.probes_source() or "", f"<{rubric.id} probes>", "exec"), self.probes)
        self.planned = {p.spec.id: p for p in plan(rubric).checks}

    def args(self, check_id: str, case: int = 0) -> list:
        return self.planned[check_id].cases[case].args

    def probe(self, check_id: str, namespace: dict, case: int = 0):
        """Run the check's probe on its planned inputs, as the harness would; return the decoded value."""
        spec = self.planned[check_id].spec
        args = [torch.from_numpy(np.array(a)) if isinstance(a, np.ndarray) else a for a in self.args(check_id, case)]
        torch.manual_seed(0)
        harness._new_run()  # each probe call is one harness run, with the whole shipping budget
        return plaindata.decode(harness._encode(self.probes[spec.probe](ProbeContext(namespace), *args)))

    def judge(self, check_id: str, value, case: int = 0) -> None:
        """The check's property function on `value` (raises CheckFailed when it fails)."""
        spec = self.planned[check_id].spec
        ctx = PropertyContext(
            args=self.args(check_id, case),
            reference=self.reference,
            rng=np.random.default_rng(0),
            options=dict(spec.options),
            what=spec.target,
        )
        getattr(self.checks, spec.property)(value, ctx)

    def verdict(self, check_id: str, namespace: dict, case: int = 0) -> str:
        """ "passed", or the failure message."""
        try:
            self.judge(check_id, self.probe(check_id, namespace, case), case)
        except CheckFailed as exc:
            return str(exc)
        return "passed"


@pytest.fixture(scope="session")
def conv(rubrics):
    return Course(rubrics["conv-layer"])


@pytest.fixture(scope="session")
def pooling(rubrics):
    return Course(rubrics["pooling"])


@pytest.fixture(scope="session")
def lenet(rubrics):
    return Course(rubrics["lenet"])


# ----------------------------------------------------------------------------- the engine: non-finite values
@pytest.mark.parametrize(
    "value, found",
    [
        (np.array([[1.0, 2.0], [np.nan, 3.0]]), ("[1, 0]", "nan")),
        (np.array([1.0, -np.inf], dtype=np.float32), ("[1]", "-inf")),
        (np.array([1 + 0j, complex(0, np.inf)]), ("[1]", "infj")),
        ({"losses": [1.0, 2.0, math.nan]}, ("['losses'][2]", "nan")),
        ((1, [2.0, {"x": np.array([math.inf])}]), ("[1][1]['x'][0]", "inf")),
        (math.inf, ("", "inf")),
    ],
)
def test_the_first_nonfinite_element_is_named(value, found):
    where, shown = first_nonfinite(value)
    assert where == found[0] and found[1] in shown


@pytest.mark.parametrize(
    "value",
    [np.zeros((0, 3)), np.arange(6), np.array([True]), 10**400, "nan", [1, 2.5, "inf"], {"a": None}, 1e308],
)
def test_finite_values_pass(value):
    assert first_nonfinite(value) is None


def _property_check(options=None) -> PropertyCheck:
    return PropertyCheck.model_validate(
        {
            "id": "c",
            "exercise": "e",
            "points": 1.0,
            "kind": "property",
            "name": "X",
            "property": "record",
            "options": options or {},
        }
    )


class _Checks:
    def __init__(self):
        self.seen: list = []

    def record(self, value, ctx):
        self.seen.append(value)


def _judge(check, value, students=None):
    checks = _Checks()
    case = type("Case", (), {"args": []})()
    ctx = JudgeContext(
        what="X", reference=None, checks_module=checks, students=students or {}, rng=np.random.default_rng(0)
    )
    PropertyKind().judge(check, case, value, ctx)
    return checks.seen


def test_a_property_function_never_sees_nan_or_inf():
    with pytest.raises(CheckFailed, match=r"X holds a non-finite value \(nan at \[0, 1\]\)"):
        _judge(_property_check(), np.array([[0.0, np.nan]]))
    with pytest.raises(CheckFailed, match=r"X_diag holds a non-finite value \(inf at \[0\]\)"):
        _judge(_property_check(), 1.0, students={"X_diag": np.array([np.inf])})
    assert _judge(_property_check(), np.array([1.0])) != []


def test_allow_nonfinite_lets_them_through():
    value = np.array([np.nan])
    assert len(_judge(_property_check({"allow_nonfinite": True}), value)) == 1


def test_allow_nonfinite_must_be_a_bool():
    modules = ModuleNames(reference=frozenset(), checks=frozenset({"record"}), probes=None)
    problems = PropertyKind().validate(_property_check({"allow_nonfinite": "yes"}), modules)
    assert problems == ["options.allow_nonfinite must be true or false"]
    assert PropertyKind().validate(_property_check({"allow_nonfinite": False}), modules) == []


# ----------------------------------------------------------------------------- 6.2: X_diag, kernels
def _has_edge(conv, image):
    ctx = PropertyContext(args=[], reference=conv.reference, rng=np.random.default_rng(0), options={}, what="X_diag")
    conv.checks.has_diagonal_edge(image, ctx)


@pytest.mark.parametrize(
    "image",
    [
        np.tril(np.ones((6, 6), dtype=np.float32)),
        np.triu(np.ones((5, 7), dtype=np.float32)),
        np.eye(6) * 255.0,
    ],
)
def test_diagonal_edges_pass(conv, image):
    _has_edge(conv, image)


CHECKER = np.where(np.indices((6, 6)).sum(0) % 2 == 0, 3e38, -3e38).astype(np.float32)


@pytest.mark.parametrize(
    "image, reason",
    [
        (np.full((6, 6), np.nan, dtype=np.float32), "not finite"),
        (np.full((6, 6), np.inf, dtype=np.float32), "not finite"),
        (CHECKER, "beyond"),  # its differences overflow: the sum of |response| was inf, "not 0"
        (np.tril(np.ones((6, 6))) * 1e300, "beyond"),
        (np.zeros((6, 6), dtype=np.float32), "no diagonal edge"),
        (np.repeat(np.array([[1.0, 1.0, 1.0, 0.0, 0.0, 0.0]], dtype=np.float32), 6, 0), "K.T gives all zeros"),
    ],
)
def test_degenerate_images_fail(conv, image, reason):
    with pytest.raises(CheckFailed, match=reason):
        _has_edge(conv, image)


@pytest.mark.parametrize("value", [["one", "two"], [[1.0, "a"]], [[1.0, 2.0], [3.0]], None, "121", np.array([1 + 1j])])
def test_an_odd_kernel_fails_its_check_instead_of_breaking_the_grader(conv, value):
    ctx = PropertyContext(args=[], reference=conv.reference, rng=np.random.default_rng(0), options={}, what="K")
    with pytest.raises(CheckFailed, match="K should"):
        conv.checks.second_derivative(value, ctx)


def test_other_kernel_checks_refuse_strings_with_a_message(conv):
    ctx = PropertyContext(args=[2], reference=conv.reference, rng=np.random.default_rng(0), options={}, what="k")
    for fn in (conv.checks.sums_its_input, conv.checks.differentiates):
        with pytest.raises(CheckFailed, match="real numbers"):
            fn(np.array([["a", "b"]]), ctx)


# ----------------------------------------------------------------------------- 6.2 (d2l v1.0): edge and blur kernels
def _kernel_verdict(conv, fn, value, args):
    ctx = PropertyContext(args=args, reference=conv.reference, rng=np.random.default_rng(0), options={}, what="k")
    try:
        getattr(conv.checks, fn)(value, ctx)
    except CheckFailed as exc:
        return str(exc)
    return "passed"


def _forward_difference(v):
    return np.array([[-v[0] - v[1], v[0]], [v[1], 0.0]], dtype=np.float32)


def _central_difference(v):
    k = np.zeros((3, 3), dtype=np.float32)
    k[1, 0], k[1, 2], k[0, 1], k[2, 1] = -v[0], v[0], -v[1], v[1]
    return k


DIRECTIONS = [(1.0, 0.0), (0.0, -1.0), (0.6, 0.8), (-0.8, 0.6), (3.0, -4.0), (-1e-3, 2e-3)]


@pytest.mark.parametrize("v", DIRECTIONS)
def test_edge_detectors_of_any_design_and_scale_pass(conv, v):
    for kernel in (
        _forward_difference(v),
        _central_difference(v) * 100,
        conv.reference.edge_kernel(v).numpy().astype(np.float32),
    ):
        assert _kernel_verdict(conv, "detects_edges_across", kernel, [v]) == "passed", kernel


@pytest.mark.parametrize(
    "kernel, reason",
    [
        (
            _forward_difference((0.8, -0.6)),
            "responds \\(1\\) to brightness that changes along \\(0.8, -0.6\\), i.e. to edges that run parallel",
        ),
        (np.array([[1.0, 1.0]]), "constant brightness"),
        (np.zeros((3, 3)), "all zeros"),
        (np.array([-1.0, 1.0]), "2-D kernel"),
        (np.ones((16, 16)), "within 15 x 15"),
        ("sobel", "should return a 2-D tensor"),
    ],
)
def test_edge_detector_mistakes_are_named(conv, kernel, reason):
    """(0.8, -0.6) is (v2, -v1) for v = (0.6, 0.8): a detector of the edges parallel to v."""
    assert re.search(reason, _kernel_verdict(conv, "detects_edges_across", kernel, [(0.6, 0.8)]))


def test_an_edge_detector_that_ignores_v_fails_somewhere(conv):
    verdicts = [_kernel_verdict(conv, "detects_edges_across", _forward_difference((1.0, 0.0)), [v]) for v in DIRECTIONS]
    assert verdicts[0] == "passed" and all("responds" in m for m in verdicts[1:]), verdicts


@pytest.mark.parametrize(
    "kernel, reason",
    [
        (np.full((3, 3), 1 / 9), "passed"),
        (np.outer([0.25, 0.5, 0.25], [0.25, 0.5, 0.25]), "passed"),
        (np.ones((3, 3)), "add up to 9"),
        (np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]]), "negative weights"),
        (np.array([[0, 0, 0], [0, 0.5, 0.5], [0, 0, 0]]), "moves the image"),
        (np.outer([0.05, 0.9, 0.05], [0.05, 0.9, 0.05]), "hardly blurs"),
        (np.full((5, 5), 1 / 25), "expected \\(3, 3\\)"),
    ],
)
def test_blur_kernels(conv, kernel, reason):
    assert re.search(reason, _kernel_verdict(conv, "blurs", kernel, [3]))


# ----------------------------------------------------------------------------- 6.3 (d2l v1.0): a stride of 1/2
@pytest.fixture(scope="session")
def padding(rubrics):
    return Course(rubrics["padding-and-strides"])


def spread_and_correlate(X, K):
    (n_h, n_w), (k_h, k_w) = X.shape, K.shape
    spread = torch.zeros((2 * n_h - 1, 2 * n_w - 1))
    spread[::2, ::2] = X
    padded = F.pad(spread, (k_w - 1, k_w - 1, k_h - 1, k_h - 1))
    return F.conv2d(padded[None, None], K.flip(0, 1)[None, None])[0, 0]


def _transposed_by_autograd(X, K):
    (n_h, n_w), (k_h, k_w) = X.shape, K.shape
    x = torch.zeros((1, 1, 2 * (n_h - 1) + k_h, 2 * (n_w - 1) + k_w), requires_grad=True)
    (grad,) = torch.autograd.grad(F.conv2d(x, K[None, None], stride=2), x, X[None, None])
    return grad[0, 0]


HALF_STRIDE_ROUTES = {
    "functional": lambda X, K: F.conv_transpose2d(X[None, None], K[None, None], stride=2)[0, 0],
    "module": lambda X, K: _module_with(K)(X[None, None])[0, 0],
    "gradient of a strided convolution": _transposed_by_autograd,
}


def _module_with(K):
    layer = nn.ConvTranspose2d(1, 1, tuple(K.shape), stride=2, bias=False)
    with torch.no_grad():
        layer.weight.copy_(K[None, None])
    return layer


@pytest.mark.parametrize("route", sorted(HALF_STRIDE_ROUTES))
def test_every_route_to_a_transposed_convolution_is_seen(padding, route):
    X, K = torch.randn(3, 3), torch.randn(3, 3)
    assert torch.allclose(HALF_STRIDE_ROUTES[route](X, K), spread_and_correlate(X, K), atol=1e-5)  # it works
    message = padding.verdict("stride-half-by-hand", {"conv_stride_half": HALF_STRIDE_ROUTES[route]})
    assert "the function uses PyTorch's" in message and "ordinary convolution on a spread-out input" in message


def test_an_ordinary_convolution_or_a_scatter_passes(padding):
    def by_fold(X, K):
        (n_h, n_w), (k_h, k_w) = X.shape, K.shape
        columns = (K.reshape(-1, 1) * X.reshape(1, -1))[None]
        return F.fold(columns, (2 * (n_h - 1) + k_h, 2 * (n_w - 1) + k_w), (k_h, k_w), stride=2)[0, 0]

    for fn in (spread_and_correlate, by_fold, lambda X, K: spread_and_correlate(X, K)[None, None]):
        assert padding.verdict("stride-half-by-hand", {"conv_stride_half": fn}) == "passed"
    message = padding.verdict("stride-half-by-hand", {"conv_stride_half": lambda X, K: spread_and_correlate(X, K.T)})
    assert "values differ" in message


# ----------------------------------------------------------------------------- 6.4 (d2l v1.0): channel shuffle
def _shuffle_verdict(channels, order, case):
    X = channels.args("channel-shuffle", case)[0]
    try:
        channels.judge("channel-shuffle", np.asarray(X)[order], case)
    except CheckFailed as exc:
        return str(exc)
    return "passed"


def test_any_permutation_that_mixes_the_groups_passes(rubrics):
    channels = Course(rubrics["channels"])
    assert [channels.args("channel-shuffle", i)[1] for i in range(4)] == [2, 3, 2, 3]
    # case 2: 8 channels, 2 groups of 4; case 3: 6 channels, 3 groups of 2
    assert _shuffle_verdict(channels, [0, 4, 1, 5, 2, 6, 3, 7], 2) == "passed"
    assert _shuffle_verdict(channels, [4, 0, 5, 1, 6, 2, 7, 3], 2) == "passed"
    assert _shuffle_verdict(channels, [0, 2, 4, 1, 3, 5], 3) == "passed"
    assert _shuffle_verdict(channels, [0, 3, 2, 5, 4, 1], 3) == "passed"  # group q: entry j of group (q + j) mod 3
    assert "takes its channels from input group(s) 0 only" in _shuffle_verdict(channels, list(range(8)), 2)
    assert "takes its channels from input group(s) 1 only" in _shuffle_verdict(channels, [0, 4, 2, 3, 1, 5], 3)
    assert "missing" in _shuffle_verdict(channels, [0, 4, 1, 5, 2, 6, 3, 3], 2)
    X = np.asarray(channels.args("channel-shuffle", 2)[0])
    with pytest.raises(CheckFailed, match="none of the input's channels"):
        channels.judge("channel-shuffle", X[[0, 4, 1, 5, 2, 6, 3, 7]] * 2, 2)
    with pytest.raises(CheckFailed, match="expected \\(8, 2, 3\\)"):
        channels.judge("channel-shuffle", X[:4], 2)


# ----------------------------------------------------------------------------- 6.5: pooling switched off
def conv_avg(X, pool_size):
    p_h, p_w = pool_size
    K = torch.full((X.shape[0], 1, p_h, p_w), 1.0 / (p_h * p_w))
    return F.conv2d(X.unsqueeze(0), K, stride=(p_h, p_w), groups=X.shape[0]).squeeze(0)


SAVED_AVG = F.avg_pool2d
SAVED_AMAX = torch.Tensor.amax
LAYER = nn.AvgPool2d((2, 3))


def _fallback(X, pool_size):
    try:
        return F.avg_pool2d(X, pool_size)
    except RuntimeError:
        return conv_avg(X, pool_size)


def _in_a_thread(X, pool_size):
    out = []
    worker = threading.Thread(target=lambda: out.append(F.avg_pool2d(X, pool_size)))
    worker.start()
    worker.join()
    return out[0]


AVG_ROUTES = {
    "saved reference": lambda X, p: SAVED_AVG(X, p),
    "layer built earlier": lambda X, p: LAYER(X),
    "module built inside": lambda X, p: nn.AvgPool2d(p)(X),
    "private binding": lambda X, p: torch._C._nn.avg_pool2d(X, p),
    "adaptive pooling": lambda X, p: F.adaptive_avg_pool2d(X, (X.shape[1] // p[0], X.shape[2] // p[1])),
    "mean of windows": lambda X, p: X.unfold(1, p[0], p[0]).unfold(2, p[1], p[1]).mean(dim=(-1, -2)),
    "mean via getattr": lambda X, p: getattr(torch, "me" + "an")(
        X.unfold(1, p[0], p[0]).unfold(2, p[1], p[1]), (-1, -2)
    ),
    "tries pooling, falls back": _fallback,
}


@pytest.mark.parametrize("route", sorted(AVG_ROUTES))
def test_every_route_to_pooling_or_mean_is_seen(pooling, route):
    message = pooling.verdict("avg-conv-is-a-convolution", {"avg_pool_via_conv": AVG_ROUTES[route]})
    assert "the function uses PyTorch's" in message and "without pooling, max, min or mean" in message


def _windows(X):
    return X.unfold(1, 2, 2).unfold(2, 2, 2).reshape(*X.shape[:1], X.shape[1] // 2, X.shape[2] // 2, 4)


MAX_ROUTES = {
    "torch.max via getattr on a string": lambda X: getattr(torch, "ma" + "x")(_windows(X), dim=-1).values,
    "saved Tensor.amax": lambda X: SAVED_AMAX(_windows(X), dim=-1),
    "max of the negation's min": lambda X: -torch.amin(-_windows(X), dim=-1),
    "elementwise minimum": lambda X: -torch.minimum(-_windows(X)[..., 0], -_windows(X)[..., 1:].amax(-1)),
    "sorting": lambda X: _windows(X).sort(dim=-1).values[..., -1],
    "top-k": lambda X: _windows(X).topk(1, dim=-1).values[..., 0],
    "clamp with a tensor bound": lambda X: torch.clamp(
        torch.clamp(_windows(X)[..., 0], min=_windows(X)[..., 1]),
        min=torch.clamp(_windows(X)[..., 2], min=_windows(X)[..., 3]),
    ),
    "max pooling layer": lambda X: nn.MaxPool2d(2)(X),
}


@pytest.mark.parametrize("route", sorted(MAX_ROUTES))
def test_every_route_to_a_max_is_seen(pooling, route):
    assert MAX_ROUTES[route](torch.rand(1, 4, 6)).shape == (1, 2, 3)  # the route itself works
    message = pooling.verdict("max-relu-is-convolutions", {"max_pool_via_conv_relu": MAX_ROUTES[route]})
    assert "the function uses PyTorch's" in message


def relu_max(X):
    a, b, c, d = (_windows(X)[..., k] for k in range(4))

    def m(x, y):
        return F.relu(x - y) + F.relu(y) - F.relu(-y)

    return m(m(a, b), m(c, d))


def test_convolutions_and_relu_pass(pooling):
    assert pooling.verdict("avg-conv-is-a-convolution", {"avg_pool_via_conv": conv_avg}) == "passed"
    assert pooling.verdict("max-relu-is-convolutions", {"max_pool_via_conv_relu": relu_max}) == "passed"
    assert torch.max(torch.tensor([1.0, 3.0])) == 3.0  # nothing stays switched off


def test_a_wrong_convolution_still_fails_on_its_value(pooling):
    message = pooling.verdict("avg-conv-is-a-convolution", {"avg_pool_via_conv": lambda X, p: conv_avg(X, p) * 2})
    assert "values differ" in message


def test_what_the_probe_does_not_see_is_documented(pooling):
    """Work on another thread is out of a dispatch mode's reach (the probe's docstring says
    so); the value is still judged against the reference, so it earns no more than a
    correct answer would."""
    assert "another" in pooling.probes["__doc__"] and "thread" in pooling.probes["__doc__"]
    value = pooling.probe("avg-conv-is-a-convolution", {"avg_pool_via_conv": _in_a_thread})
    assert value["ruled_out"] == []


def test_a_probe_result_of_the_wrong_form_fails(pooling):
    for value in (np.zeros((1, 2, 2)), {"value": 1}, {"value": 1, "ruled_out": "none", "raised": ""}):
        with pytest.raises(CheckFailed, match="nothing usable"):
            pooling.judge("avg-conv-is-a-convolution", value)


# ----------------------------------------------------------------------------- 6.6: train()
def book_train(net, train_iter, num_epochs, lr):
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    loss = nn.CrossEntropyLoss()
    history = []
    for _ in range(num_epochs):
        total, count = 0.0, 0
        for X, y in train_iter:
            optimizer.zero_grad()
            batch_loss = loss(net(X), y)
            batch_loss.backward()
            optimizer.step()
            total += batch_loss.item() * len(y)
            count += len(y)
        history.append(total / count)
    return history


def noise_and_a_decreasing_list(net, train_iter, num_epochs, lr):
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.5 * torch.randn_like(p))
    return [3.0 - i for i in range(num_epochs)]


def zeroed_weights(net, train_iter, num_epochs, lr):
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
    return [3.0 - i for i in range(num_epochs)]


def losses_of_a_copy(net, train_iter, num_epochs, lr):
    """Trains a copy and reports its losses; the network it was given never changes."""
    return book_train(copy.deepcopy(net), train_iter, num_epochs, lr)


TRAIN_CHECKS = ("train-uses-its-data", "train-is-minibatch-sgd", "train-epoch-losses")


@pytest.mark.parametrize(
    "train, passes",
    [
        (book_train, set(TRAIN_CHECKS)),
        (noise_and_a_decreasing_list, set()),
        (zeroed_weights, set()),
        (losses_of_a_copy, {"train-epoch-losses"}),  # with lr = 0 its numbers are right, and earned
    ],
)
def test_train_is_judged_on_the_graders_own_losses(lenet, train, passes):
    verdicts = {check: lenet.verdict(check, {"train": train}) for check in TRAIN_CHECKS}
    assert {c for c, v in verdicts.items() if v == "passed"} == passes, verdicts


def test_a_decreasing_list_without_training_is_told_why(lenet):
    message = lenet.verdict("train-uses-its-data", {"train": noise_and_a_decreasing_list})
    assert message.startswith("train did not fit the data it was given: the network's loss on it was")


def test_the_replay_never_runs_longer_than_the_rubric_planned(lenet):
    value = lenet.probe("train-is-minibatch-sgd", {"train": book_train})
    value["final"] = {**value["final"], **{f"extra{i}": np.zeros(1) for i in range(1000)}}
    with pytest.raises(CheckFailed, match="missing or renamed"):
        lenet.judge("train-is-minibatch-sgd", value)
    value = lenet.probe("train-epoch-losses", {"train": book_train})
    value["returned"] = [1.0] * 100_000
    with pytest.raises(CheckFailed, match="100000 losses for 2 epochs"):
        lenet.judge("train-epoch-losses", value)
    state = lenet.reference.tiny_state(lenet.args("train-is-minibatch-sgd")[5:])
    batches = lenet.reference.train_batches(*lenet.args("train-is-minibatch-sgd")[3:5])
    with pytest.raises(ValueError, match="at most"):
        lenet.reference.train_sgd(state, batches, lenet.reference.MAX_EPOCHS + 1, 0.1)
    with pytest.raises(ValueError, match="at most"):
        lenet.reference.train_sgd(state, batches * 100, 1, 0.1)


def test_a_probe_here_does_not_depend_on_what_earlier_tests_shipped(lenet, monkeypatch):
    """Each probe call is one harness run: a budget spent by earlier tests in this worker
    (CI once failed five tests this way, depending on xdist's order) is not carried over."""
    monkeypatch.setattr(harness, "_budget", [0])  # nothing left from "earlier runs"
    assert lenet.verdict("train-epoch-losses", {"train": book_train}) == "passed"


def test_a_final_parameter_of_another_shape_fails_with_a_message(lenet):
    value = lenet.probe("train-is-minibatch-sgd", {"train": book_train})
    value["final"]["0.weight"] = np.zeros((1000, 1000))
    with pytest.raises(CheckFailed, match=r"parameter 0.weight no longer has shape \(2, 1, 3, 3\)"):
        lenet.judge("train-is-minibatch-sgd", value)


# ----------------------------------------------------------------------------- 6.6: get_activations
def book_activations(net, X):
    A1 = net[1](net[0](X))
    return A1, net[4](net[3](net[2](A1)))


def zero_then_constants(net, X):
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
    A1 = net[1](net[0](X))
    return A1, net[4](net[3](net[2](A1)))


def right_values_then_zeroed(net, X):
    out = book_activations(net, X)
    with torch.no_grad():
        net[0].weight.zero_()
    return out


EARLIER = nn.Sequential(
    nn.Conv2d(1, 6, 5, padding=2), nn.Sigmoid(), nn.AvgPool2d(2, 2), nn.Conv2d(6, 16, 5), nn.Sigmoid()
)

ACTIVATION_CHECKS = ("activations-shapes", "activations-values", "activations-other-network")


@pytest.mark.parametrize(
    "get_activations, passes",
    [
        (book_activations, set(ACTIVATION_CHECKS)),
        (zero_then_constants, set()),
        (right_values_then_zeroed, set()),
        (lambda net, X: (torch.zeros(len(X), 6, 28, 28), torch.zeros(len(X), 16, 10, 10)), set()),
        (lambda net, X: (torch.rand(len(X), 6, 28, 28), torch.rand(len(X), 16, 10, 10)), set()),
        # a LeNet's activations of the images, from an earlier network: the shapes are earned
        (lambda net, X: book_activations(EARLIER, X), {"activations-shapes"}),
    ],
)
def test_activations_are_recomputed_from_the_graders_weights(lenet, get_activations, passes):
    verdicts = {check: lenet.verdict(check, {"get_activations": get_activations}) for check in ACTIVATION_CHECKS}
    assert {c for c, v in verdicts.items() if v == "passed"} == passes, verdicts


def test_changing_the_network_is_named(lenet):
    message = lenet.verdict("activations-values", {"get_activations": right_values_then_zeroed})
    assert message == "get_activations changed the network it was given (parameter 0.weight): it should only read it"


# ----------------------------------------------------------------------------- 6.6: training a copy
def improved():
    return nn.Sequential(
        nn.Conv2d(1, 16, 5, padding=2), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 5), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(800, 120), nn.ReLU(), nn.Linear(120, 10),
    )  # fmt: skip


def fit_run(lenet, namespace):
    """The fit check's kernel side on its planned inputs, as the harness would run it; the decoded value."""
    from grader.fit_probe import fit_batch_probe

    fetch = lenet.planned["improved-trains"].cases[0].fetch
    args = [torch.from_numpy(np.array(a)) if isinstance(a, np.ndarray) else a for a in fetch.args]
    torch.manual_seed(0)
    harness._new_run()
    return plaindata.decode(harness._encode(fit_batch_probe(ProbeContext(namespace), *args)))


def fit_judge(lenet, value):
    """The fit kind's verdict on `value` (raises CheckFailed when it fails)."""
    planned = lenet.planned["improved-trains"]
    ctx = JudgeContext("improved_lenet", lenet.reference, lenet.checks, {}, np.random.default_rng(0))
    planned.kind.judge(planned.spec, planned.cases[0], value, ctx)


def test_the_loss_of_a_trained_copy_is_computed_in_the_grader(lenet):
    fit_judge(lenet, fit_run(lenet, {"improved_lenet": improved()}))
    value = fit_run(lenet, {"improved_lenet": improved()})
    value["final"] = np.zeros_like(value["final"])  # claims nothing: the loss is ln 10
    with pytest.raises(CheckFailed, match=r"the loss went from .* to 2\.303"):
        fit_judge(lenet, value)
    value = fit_run(lenet, {"improved_lenet": improved()})
    value["images"] = value["images"] * 0
    with pytest.raises(CheckFailed, match="not trained on the grader's images"):
        fit_judge(lenet, value)


def test_the_engine_builds_the_fit_checks_batch(lenet):
    from grader.fit import cross_entropy, synthetic_batch

    prototypes, noise = lenet.args("improved-trains")
    X, y = synthetic_batch(prototypes, noise)
    assert X.shape == (32, 1, 28, 28) and y.tolist() == [i % 10 for i in range(32)]
    assert math.isclose(cross_entropy(np.zeros((32, 10)), y), math.log(10))
