"""Property checks for 6.6, run in the grader on the plain data the probes sent back.

The probes (rubrics/lenet_probes.py) run in the student's kernel and only describe what the
student's objects did; every judgement happens here, against reference/lenet.py.
"""

import math

import numpy as np
import torch

from grader.content import CheckFailed, compare


def _summary(value, what):
    if not isinstance(value, dict) or not isinstance(value.get("layers"), list):
        raise CheckFailed(f"{what}: the network could not be described")
    return value


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
    others = [layer["type"] for layer in pools if layer["type"] != "MaxPool2d"]
    if others:
        raise CheckFailed(f"{name} still uses {', '.join(others)}: every pooling layer should be a MaxPool2d")
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


def book_parameter_count(value, ctx):
    name = _net_name(ctx)
    got = _summary(value, name)["parameters"]
    want = ctx.reference.book_lenet_summary()["parameters"]
    if got != want:
        raise CheckFailed(f"{name} has {got:,} parameters, expected {want:,} (the book's LeNet; pooling adds none)")


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


def fits_synthetic_batch(value, ctx):
    """After the probe's fixed training budget the loss is low: below `max_final` and below
    `ratio` times the loss before training."""
    if not isinstance(value, dict) or not all(isinstance(value.get(k), (int, float)) for k in ("initial", "final")):
        raise CheckFailed(f"{_net_name(ctx)}: training produced no loss values")
    name = _net_name(ctx)
    initial, final = float(value["initial"]), float(value["final"])
    ratio, max_final = float(ctx.options["ratio"]), float(ctx.options["max_final"])
    if not math.isfinite(final) or final > max_final or final > ratio * initial:
        raise CheckFailed(
            f"{name}: after {value.get('steps')} Adam steps on a synthetic batch the loss went from {initial:.4g} to "
            f"{final:.4g}; expected below {max_final:g} and below {ratio:g} x the initial loss"
        )


# ------------------------------------------------------------------ exercise 3
def _train_result(value):
    if not isinstance(value, dict) or "initial" not in value or "final" not in value:
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


def _changed(value):
    return any(
        not np.array_equal(np.asarray(value["initial"][k]), np.asarray(value["final"][k])) for k in value["initial"]
    )


def trains_on_given_data(value, ctx):
    """train() runs on the loader it is given, changes the parameters and lowers the loss."""
    value = _train_result(value)
    num_epochs = int(ctx.args[1])
    losses = _losses(value["returned"], num_epochs)
    if not all(math.isfinite(v) for v in losses):
        raise CheckFailed(f"train returned non-finite losses {losses}")
    if not _changed(value):
        raise CheckFailed("train did not change the parameters of the network it was given")
    if not losses[-1] < losses[0]:
        raise CheckFailed(
            f"the epoch losses {[f'{v:.4g}' for v in losses]} do not decrease on a tiny learnable data set"
        )


def _replay(value, ctx):
    num_epochs, lr = int(ctx.args[1]), float(ctx.args[2])
    batches = [(np.asarray(b[0]), np.asarray(b[1])) for b in value["batches"]]
    return ctx.reference.train_sgd(value["initial"], batches, num_epochs, lr)


def matches_minibatch_sgd(value, ctx):
    """The parameters after train() are those of minibatch SGD on mean cross-entropy."""
    value = _train_result(value)
    want, _ = _replay(value, ctx)
    rtol, atol = float(ctx.options["rtol"]), float(ctx.options["atol"])
    for key, expected in want.items():
        if key not in value["final"]:
            raise CheckFailed(f"train: parameter {key} is missing after training")
        try:
            compare(
                value["final"][key],
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
    """The returned losses are the average loss per example of each epoch (checked with lr = 0)."""
    value = _train_result(value)
    num_epochs = int(ctx.args[1])
    losses = _losses(value["returned"], num_epochs)
    _, want = _replay(value, ctx)
    rtol, atol = float(ctx.options["rtol"]), float(ctx.options["atol"])
    if not np.allclose(losses, want, rtol=rtol, atol=atol):
        raise CheckFailed(
            f"train returned the losses {[f'{v:.6g}' for v in losses]}, expected {[f'{v:.6g}' for v in want]} "
            f"(the average loss per example in each epoch; rtol {rtol:g}, atol {atol:g})"
        )


# ------------------------------------------------------------------ exercise 4
def _activation_pair(value):
    if not isinstance(value, dict) or "A1" not in value or "A2" not in value:
        raise CheckFailed("get_activations: the probe returned nothing usable")
    pair = []
    for key in ("A1", "A2"):
        a = value[key]
        if not isinstance(a, np.ndarray):
            raise CheckFailed(f"get_activations should return two tensors, {key} is a {type(a).__name__}")
        pair.append(a)
    return pair


def activation_shapes(value, ctx):
    A1, A2 = _activation_pair(value)
    n = ctx.args[0].shape[0]
    for key, got, want in (("A1", A1, (n, 6, 28, 28)), ("A2", A2, (n, 16, 10, 10))):
        if tuple(got.shape) != want:
            raise CheckFailed(
                f"get_activations: {key} has shape {_shape_text(got.shape)}, expected {_shape_text(want)} "
                "(the output of the block's activation, before its pooling)"
            )


def activation_values(value, ctx):
    """Recompute both activations from the probe's input and the network's own weights."""
    A1, A2 = _activation_pair(value)
    X, activation, pool = ctx.args
    params = {k: torch.from_numpy(np.array(v)) for k, v in value["params"].items()}
    want1, want2 = ctx.reference.activations(torch.from_numpy(np.array(X)), params, activation, pool)
    rtol, atol = float(ctx.options["rtol"]), float(ctx.options["atol"])
    compare(A1, want1, mode="allclose", rtol=rtol, atol=atol, what="get_activations: A1")
    compare(A2, want2, mode="allclose", rtol=rtol, atol=atol, what="get_activations: A2")
