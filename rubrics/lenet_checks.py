"""Property checks for 6.6, run in the grader on the plain data the probes sent back.

The probes (rubrics/lenet_probes.py) run in the student's kernel and only describe what the
student's objects did; every judgement happens here, against reference/lenet.py.
"""

import math

import numpy as np
import torch

from grader.content import CheckFailed, compare


def _summary(value, what):
    """The probe's description of a network, checked for internal consistency: the parameter
    count is the sum of the parameter shapes it lists."""
    if not isinstance(value, dict) or not isinstance(value.get("layers"), list):
        raise CheckFailed(f"{what}: the network could not be described")
    layers, shapes, count = value["layers"], value.get("param_shapes"), value.get("parameters")
    if not all(isinstance(layer, dict) and isinstance(layer.get("type"), str) for layer in layers):
        raise CheckFailed(f"{what}: the network could not be described")
    if (
        not isinstance(shapes, list)
        or not all(isinstance(s, list) and all(isinstance(d, int) and d >= 0 for d in s) for s in shapes)
        or not isinstance(count, int)
        or count != sum(math.prod(s) for s in shapes)
    ):
        raise CheckFailed(f"{what}: the description of the network is inconsistent (parameter count and shapes)")
    return value


def _is_torch(layer, name):
    """The layer is torch.nn's own class `name` (a class of the notebook's that calls itself so is not)."""
    return layer["type"] == name and layer.get("torch") is True


def _shape_text(shape):
    return "(" + ", ".join(str(s) for s in shape) + ")"


def _net_name(ctx):
    return ctx.args[0] if ctx.args and isinstance(ctx.args[0], str) else ctx.what


# ------------------------------------------------------------------ exercise 1
def two_max_pools(value, ctx):
    """Exactly two MaxPool2d(kernel_size=2, stride=2) layers (no padding) and no other pooling."""
    name = _net_name(ctx)
    layers = _summary(value, name)["layers"]
    pools = [layer for layer in layers if "Pool" in layer["type"]]
    others = [layer["type"] for layer in pools if not _is_torch(layer, "MaxPool2d")]
    if others:
        raise CheckFailed(f"{name} still uses {', '.join(others)}: every pooling layer should be a torch.nn.MaxPool2d")
    if len(pools) != 2:
        raise CheckFailed(
            f"{name} runs {len(pools)} MaxPool2d layer(s), expected exactly 2 (one after each convolution block)"
        )
    for i, layer in enumerate(pools, 1):
        if layer["kernel_size"] != [2, 2] or layer["stride"] != [2, 2] or layer["padding"] != [0, 0]:
            raise CheckFailed(
                f"{name}: MaxPool2d number {i} has kernel_size {layer['kernel_size']}, stride {layer['stride']}, "
                f"padding {layer['padding']}; expected a 2x2 window, stride 2, no padding"
            )


def book_shapes(value, ctx):
    """The distinct output shapes, in order, are the book's LeNet's for a (1, 1, 28, 28) input."""
    name = _net_name(ctx)
    ref = ctx.reference
    got = ref.distinct_shapes(_summary(value, name)["layers"])
    want = ref.distinct_shapes(ref.book_lenet_summary()["layers"])
    for i, (g, w) in enumerate(zip(got, want, strict=False)):
        if g != w:
            before = f" after {_shape_text(want[i - 1])}" if i else ""
            raise CheckFailed(
                f"{name}: on a (1, 1, 28, 28) input the shape{before} is {_shape_text(g)}, expected {_shape_text(w)}"
            )
    if len(got) != len(want):
        raise CheckFailed(
            f"{name} goes through {len(got)} distinct shapes, the book's LeNet through {len(want)}: "
            f"{' -> '.join(_shape_text(s) for s in want)}"
        )


def book_activations(value, ctx):
    """The activation layers, in order, are the book's (only the pooling was to change)."""
    name = _net_name(ctx)
    ref = ctx.reference
    got = [layer["type"] for layer in _summary(value, name)["layers"] if ref.is_activation(layer)]
    want = [layer["type"] for layer in ref.book_lenet_summary()["layers"] if ref.is_activation(layer)]
    if got != want:
        raise CheckFailed(f"{name} uses the activations {got}, expected the book's {want}: change only the pooling")


# ------------------------------------------------------------------ exercise 2
def differs_from_book(value, ctx):
    name = _net_name(ctx)
    summary = _summary(value, name)
    book = ctx.reference.book_lenet_summary()
    same_layers = [layer["type"] for layer in summary["layers"]] == [layer["type"] for layer in book["layers"]]
    if same_layers and summary["param_shapes"] == book["param_shapes"]:
        raise CheckFailed(
            f"{name} has exactly the layers and parameter shapes of the book's LeNet; change the architecture"
        )


# ------------------------------------------------------------------ exercise 3
def _train_result(value):
    if not isinstance(value, dict) or "returned" not in value or "final" not in value:
        raise CheckFailed("train: the probe returned nothing usable")
    return value


def _losses(returned, num_epochs):
    if not isinstance(returned, (list, tuple)):
        raise CheckFailed(
            f"train should return the list of average training losses per epoch, it returned {type(returned).__name__}"
        )
    if len(returned) != num_epochs:
        raise CheckFailed(f"train returned {len(returned)} losses for {num_epochs} epochs; expected one per epoch")
    out = []
    for v in returned:
        if isinstance(v, np.ndarray) and v.size == 1:
            v = v.reshape(()).item()
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise CheckFailed(f"train should return numbers (one loss per epoch), got {type(v).__name__}")
        out.append(float(v))
    return out


class _Run:
    """One train() run as the grader sees it: its own inputs from the check's arguments
    (loader kind, epochs, lr, X, y, the tiny net's initial tensors) and what came back."""

    def __init__(self, value, ctx):
        self.value = _train_result(value)
        _, num_epochs, lr, X, y, *initial = ctx.args
        self.num_epochs, self.lr = int(num_epochs), float(lr)
        self.reference = ctx.reference
        self.initial = ctx.reference.tiny_state(initial)
        self.batches = ctx.reference.train_batches(X, y)
        self.final = self._final_state(self.value["final"])

    def _final_state(self, final):
        """The parameters after train(), with exactly the tiny net's keys and shapes."""
        if not isinstance(final, dict) or set(final) != set(self.initial):
            raise CheckFailed("train: the network's parameters are missing or renamed after training")
        state = {}
        for key, want in self.initial.items():
            got = final[key]
            if not isinstance(got, np.ndarray) or got.shape != tuple(want.shape) or got.dtype.kind not in "fiu":
                raise CheckFailed(f"train: parameter {key} no longer has shape {_shape_text(want.shape)}")
            state[key] = torch.from_numpy(np.array(got, dtype=np.float64))
        return state

    def replay(self):
        return self.reference.train_sgd(self.initial, self.batches, self.num_epochs, self.lr)


def trains_on_given_data(value, ctx):
    """train() fits the data it is given: the loss of the network after train(), computed here
    on the grader's batches, is below `ratio` times the loss before; and train() reports
    `num_epochs` decreasing losses.

    The returned list alone proves nothing (any decreasing numbers would do), and neither does
    a change of the parameters (noise would do): what counts is the grader's own loss of the
    parameters train() left behind, on the data it was handed."""
    run = _Run(value, ctx)
    losses = _losses(run.value["returned"], run.num_epochs)
    before = run.reference.loss_on(run.initial, run.batches)
    after = run.reference.loss_on(run.final, run.batches)
    ratio = float(ctx.options["ratio"])
    if not math.isfinite(after) or after > ratio * before:
        raise CheckFailed(
            f"train did not fit the data it was given: the network's loss on it was {before:.4g} before train "
            f"and is {after:.4g} after (expected below {ratio:g} x {before:.4g})"
        )
    if not losses[-1] < losses[0]:
        raise CheckFailed(
            f"the epoch losses {[f'{v:.4g}' for v in losses]} do not decrease on a tiny learnable data set"
        )


def matches_minibatch_sgd(value, ctx):
    """The parameters after train() are those of minibatch SGD on mean cross-entropy, replayed
    here from the grader's initial parameters and batches."""
    run = _Run(value, ctx)
    want, _ = run.replay()
    rtol, atol = float(ctx.options["rtol"]), float(ctx.options["atol"])
    for key, expected in want.items():
        try:
            compare(
                run.value["final"][key],
                expected,
                mode="allclose",
                rtol=rtol,
                atol=atol,
                what=f"parameter {key} after train",
            )
        except CheckFailed as exc:
            raise CheckFailed(
                f"{exc}: not one SGD step with learning rate lr per minibatch of the mean cross-entropy loss"
            ) from None


def reports_epoch_losses(value, ctx):
    """The returned losses are the average loss per example of each epoch (checked with lr = 0),
    recomputed here from the grader's initial parameters and batches."""
    run = _Run(value, ctx)
    losses = _losses(run.value["returned"], run.num_epochs)
    _, want = run.replay()
    rtol, atol = float(ctx.options["rtol"]), float(ctx.options["atol"])
    if not np.allclose(losses, want, rtol=rtol, atol=atol):
        raise CheckFailed(
            f"train returned the losses {[f'{v:.6g}' for v in losses]}, expected {[f'{v:.6g}' for v in want]} "
            f"(the average loss per example in each epoch; rtol {rtol:g}, atol {atol:g})"
        )


# ------------------------------------------------------------------ exercise 4
def _pair_of_arrays(pair, what):
    if not isinstance(pair, (list, tuple)) or len(pair) != 2:
        raise CheckFailed(f"{what} should return a pair (A1, A2)")
    for key, a in zip(("A1", "A2"), pair, strict=True):
        if not isinstance(a, np.ndarray):
            raise CheckFailed(f"{what} should return two tensors, {key} is {type(a).__name__}")
    return list(pair)


def _activation_run(value, ctx):
    """What the probe saw, checked against the grader's inputs: A1, A2 of the right shapes for
    X, the same for the images in reverse order, and the network unchanged by the calls."""
    if not isinstance(value, dict) or not {"A1", "A2", "reversed", "before", "after"} <= set(value):
        raise CheckFailed("get_activations: the probe returned nothing usable")
    A1, A2 = _pair_of_arrays([value["A1"], value["A2"]], "get_activations")
    n = ctx.args[0].shape[0]
    for key, got, want in (("A1", A1, (n, 6, 28, 28)), ("A2", A2, (n, 16, 10, 10))):
        if tuple(got.shape) != want:
            raise CheckFailed(
                f"get_activations: {key} has shape {_shape_text(got.shape)}, expected {_shape_text(want)} "
                "(the output of the block's activation, before its pooling)"
            )
    weights = dict(zip(ctx.reference.CONV_SHAPES, ctx.args[3:7], strict=True))
    before, after = value["before"], value["after"]
    if not isinstance(before, dict) or not isinstance(after, dict) or set(before) != set(after):
        raise CheckFailed("get_activations: the probe returned nothing usable")
    for key, want in weights.items():
        name = key.replace("conv1", "0").replace("conv2", "3")
        got = before.get(name)
        if not isinstance(got, np.ndarray) or got.shape != want.shape or not np.array_equal(got, want):
            raise CheckFailed("get_activations: the network could not be given the grader's weights in your kernel")
    for key in before:
        b, a = before[key], after[key]
        if not (isinstance(b, np.ndarray) and isinstance(a, np.ndarray) and b.shape == a.shape):
            raise CheckFailed("get_activations: the probe returned nothing usable")
        if not np.array_equal(a, b):
            raise CheckFailed(
                f"get_activations changed the network it was given (parameter {key}): it should only read it"
            )
    return A1, A2, weights


def activation_shapes(value, ctx):
    """A1 and A2 have the right shapes, and they are activations of the images: computed per
    image (reversing the images reverses them) and not the same for every image.

    Tensors of the right shape alone (zeros, noise, a cached result) earn nothing."""
    A1, A2, _ = _activation_run(value, ctx)
    rev1, rev2 = _pair_of_arrays(value["reversed"], "get_activations")
    for key, got, rev in (("A1", A1, rev1), ("A2", A2, rev2)):
        if rev.shape != got.shape or not np.allclose(rev, got[::-1], rtol=1e-5, atol=1e-6):
            raise CheckFailed(
                f"get_activations: {key} for the same images in reverse order is not {key} reversed "
                "(each image's activations should depend on that image only)"
            )
        if len(got) > 1 and np.allclose(got, got[:1], rtol=1e-5, atol=1e-6):
            raise CheckFailed(f"get_activations: {key} is the same for every image; it should depend on the image")


def activation_values(value, ctx):
    """Recompute both activations here from the grader's images and weights."""
    A1, A2, weights = _activation_run(value, ctx)
    X, activation, pool = ctx.args[:3]
    params = {k: torch.from_numpy(np.array(v)) for k, v in weights.items()}
    images = torch.from_numpy(np.array(X))
    want1, want2 = ctx.reference.activations(images, params, activation, pool)
    rtol, atol = float(ctx.options["rtol"]), float(ctx.options["atol"])
    try:
        compare(A1, want1, mode="allclose", rtol=rtol, atol=atol, what="get_activations: A1")
        compare(A2, want2, mode="allclose", rtol=rtol, atol=atol, what="get_activations: A2")
    except CheckFailed as failure:
        # a known mistake, named: the convolutions' outputs before their activation
        z1, z2 = ctx.reference.pre_activations(images, params, activation, pool)
        if _matches(A1, z1, rtol, atol) or _matches(A2, z2, rtol, atol):
            raise CheckFailed(
                f"{failure}\nThese are the convolutions' outputs before the activation (pre-activations): "
                f"get_activations should return what the {activation} layers output."
            ) from None
        raise


def _matches(value, want, rtol, atol):
    try:
        compare(value, want, mode="allclose", rtol=rtol, atol=atol, what="")
    except CheckFailed:
        return False
    return True
