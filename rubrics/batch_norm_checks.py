"""Property checks for 7.5 batch normalisation, run in the grader on what the probes
(rubrics/batch_norm_probes.py) and the structure kind sent back.

Every expected value is recomputed here with reference/batch_norm.py from the check's own
inputs. When a value is wrong, the known mistakes are tried in turn (each is a function of
the reference computing that wrong answer from the same inputs) and the first one that
matches is named under the failure: the unbiased variance in the normalisation, statistics
per (channel, position) instead of per channel, the book's and PyTorch's momentum mixed up,
batch statistics in prediction mode, the moving statistics never updated.

What is accepted on purpose: the moving VARIANCE may be updated with the biased batch
variance (the book) or the unbiased one (PyTorch's running_var); moving statistics may come
back in any shape with one entry per feature / channel.
"""

import numpy as np
import torch

from grader.content import CheckFailed, compare, describe_network

UNBIASED_NORMALISATION = (
    "This is the output normalised with the UNBIASED batch variance (divided by n - 1, torch.var's "
    "default). Batch normalisation divides by n: use ((X - mean) ** 2).mean(...) or var(unbiased=False)."
)
PER_POSITION = (
    "This output has statistics per (channel, row, column), taken over the batch dimension only, as for a "
    "fully connected layer. For a convolutional (4-D) input each CHANNEL has one mean and one variance, "
    "over dims 0, 2 and 3 (batch, height, width)."
)
PREDICTION_IN_TRAINING = (
    "This is the prediction-mode output (normalised with the moving statistics). In training mode "
    "batch normalisation uses the statistics of the batch itself."
)
REVERSED_MOMENTUM = (
    "The momentum is reversed: this is PyTorch's convention (momentum weights the NEW statistic). With the "
    "book's convention moving = momentum * moving + (1 - momentum) * batch statistic, so momentum 0.9 keeps "
    "90% of the old value (PyTorch's momentum=0.1)."
)
BATCH_STATS_AS_MOVING = (
    "These are the batch statistics themselves: the moving average forgets the old value. Blend them: "
    "moving = momentum * moving + (1 - momentum) * batch statistic."
)
NOT_UPDATED = (
    "The moving statistics are unchanged: training-mode calls must update them (and the layer must keep the "
    "updated values batch_norm returns)."
)
BATCH_STATS_IN_PREDICTION = (
    "In prediction mode this normalises with the statistics of the batch it is given. Prediction must use the "
    "moving statistics collected during training (so that a prediction does not depend on the rest of the batch)."
)


def _t(x):
    return torch.as_tensor(np.asarray(x), dtype=torch.float64)


def _tol(ctx):
    return float(ctx.options.get("rtol", 1e-4)), float(ctx.options.get("atol", 1e-4))


def _matches(value, expected, rtol, atol):
    try:
        compare(value, expected, mode="allclose", rtol=rtol, atol=atol, what="")
    except CheckFailed:
        return False
    return True


def _check(value, expected, ctx, what, mistakes=()):
    """compare(), and on failure the first known mistake (reference value, message) that the
    value matches, named under the failure."""
    rtol, atol = _tol(ctx)
    try:
        compare(value, expected, mode="allclose", rtol=rtol, atol=atol, what=what)
    except CheckFailed as failure:
        for wrong, message in mistakes:
            try:
                candidate = wrong()
            except Exception:  # not computable for these inputs: not this mistake
                continue
            if _matches(value, candidate, rtol, atol):
                raise CheckFailed(f"{failure}\n{message}") from None
        raise


def _result(value, keys, what):
    if not isinstance(value, dict) or not set(keys) <= set(value):
        raise CheckFailed(f"{what}: the probe returned nothing usable")
    return value


def _per_channel(value, channels, what):
    """A moving statistic as one float64 value per feature / channel (any shape with that many
    entries), or CheckFailed saying how many it has."""
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "fiu":
        raise CheckFailed(f"{what} is {type(value).__name__}, expected a tensor with one entry per channel")
    if value.size != channels:
        raise CheckFailed(
            f"{what} has {value.size} entries (shape {tuple(value.shape)}), expected {channels}: one per feature of "
            "a 2-D input, one per channel of a 4-D input"
        )
    return value.reshape(-1).astype(np.float64)


# ------------------------------------------------------------------ section: batch_norm
def train_output(value, ctx):
    """Y of one training-mode call equals the batch-statistics normalisation (biased variance)."""
    value = _result(value, ("Y",), "batch_norm")
    _, X, gamma, beta, mm, mv, eps, momentum = ctx.args
    ref = ctx.reference
    args = (X, gamma, beta, mm, mv, eps, momentum)
    expected = ref.batch_norm_train(_t(X), gamma, beta, mm, mv, eps, momentum)
    _check(
        value["Y"],
        expected,
        ctx,
        "batch_norm's Y in training mode",
        [
            (lambda: ref.batch_norm_train_unbiased(*args), UNBIASED_NORMALISATION),
            (lambda: ref.batch_norm_train_per_position(*args) if np.ndim(X) == 4 else None, PER_POSITION),
            (lambda: ref.batch_norm_predict(*args), PREDICTION_IN_TRAINING),
        ],
    )


def moving_statistics(value, ctx):
    """The moving statistics one training-mode call returns: the book's momentum average of
    the old ones and the batch mean and variance (biased or unbiased variance)."""
    value = _result(value, ("moving_mean", "moving_var"), "batch_norm")
    _, X, _, _, mm, mv, _, momentum = ctx.args
    ref = ctx.reference
    channels = np.shape(X)[1]
    got_mean = _per_channel(value["moving_mean"], channels, "the moving_mean batch_norm returns")
    got_var = _per_channel(value["moving_var"], channels, "the moving_var batch_norm returns")
    want_mean, want_var = ref.moving_update(X, mm, mv, momentum)
    _, want_var_unbiased = ref.moving_update(X, mm, mv, momentum, unbiased=True)
    reversed_mean, reversed_var = ref.moving_update(X, mm, mv, momentum, reversed_momentum=True)
    batch_mean, batch_var = (s.reshape(-1) for s in ref.batch_stats(_t(X)))
    mistakes_mean = [
        (lambda: reversed_mean, REVERSED_MOMENTUM),
        (lambda: batch_mean, BATCH_STATS_AS_MOVING),
        (lambda: _t(mm).reshape(-1), NOT_UPDATED),
    ]
    _check(got_mean, want_mean, ctx, "the moving_mean batch_norm returns", mistakes_mean)
    rtol, atol = _tol(ctx)
    if not _matches(got_var, want_var_unbiased, rtol, atol):
        _, unbiased_reversed = ref.moving_update(X, mm, mv, momentum, unbiased=True, reversed_momentum=True)
        mistakes_var = [
            (lambda: reversed_var, REVERSED_MOMENTUM),
            (lambda: unbiased_reversed, REVERSED_MOMENTUM),
            (lambda: batch_var, BATCH_STATS_AS_MOVING),
            (lambda: _t(mv).reshape(-1), NOT_UPDATED),
        ]
        _check(
            got_var,
            want_var,
            ctx,
            "the moving_var batch_norm returns (the book's biased update; PyTorch's unbiased one is accepted too)",
            mistakes_var,
        )


def prediction_output(value, ctx):
    """Under torch.no_grad(): Y uses the moving statistics, which come back unchanged."""
    value = _result(value, ("Y", "moving_mean", "moving_var"), "batch_norm")
    _, X, gamma, beta, mm, mv, eps, momentum = ctx.args
    ref = ctx.reference
    args = (X, gamma, beta, mm, mv, eps, momentum)
    _check(
        value["Y"],
        ref.batch_norm_predict(*args),
        ctx,
        "batch_norm's Y in prediction mode (under torch.no_grad())",
        [(lambda: ref.batch_norm_train(_t(X), gamma, beta), BATCH_STATS_IN_PREDICTION)],
    )
    channels = np.shape(X)[1]
    for key, old in (("moving_mean", mm), ("moving_var", mv)):
        got = _per_channel(value[key], channels, f"the {key} batch_norm returns in prediction mode")
        if not _matches(got, _t(old).reshape(-1), 0.0, 1e-6):
            raise CheckFailed(
                f"batch_norm changed {key} in prediction mode (under torch.no_grad()): prediction only reads the "
                "moving statistics; they are updated in training mode"
            )


# ------------------------------------------------------------------ section: the BatchNorm module
def _module_value(value, ctx):
    value = _result(value, ("train", "moving_mean", "moving_var", "eval"), "BatchNorm")
    num_dims, gamma, beta, *batches = ctx.args
    if not isinstance(value["train"], list) or len(value["train"]) != len(batches) - 1:
        raise CheckFailed("BatchNorm: the probe returned nothing usable")
    return value, int(num_dims), gamma, beta, batches


def module_training(value, ctx):
    """In training mode each call's output is the batch normalisation of that batch with the
    layer's gamma and beta (what nn.BatchNorm1d/2d outputs in training mode)."""
    value, num_dims, gamma, beta, batches = _module_value(value, ctx)
    ref = ctx.reference
    expected = ref.module_run(num_dims, gamma, beta, batches[:-1], batches[-1])["train"]
    for i, (got, want, X) in enumerate(zip(value["train"], expected, batches, strict=False)):
        args = (X, gamma, beta, None, None, ref.EPS, ref.BOOK_MOMENTUM)
        _check(
            got,
            want,
            ctx,
            f"BatchNorm({len(np.ravel(gamma))}, {num_dims})'s output on training batch {i + 1}",
            [
                (lambda a=args: ref.batch_norm_train_unbiased(*a), UNBIASED_NORMALISATION),
                (lambda a=args, X=X: ref.batch_norm_train_per_position(*a) if np.ndim(X) == 4 else None, PER_POSITION),
            ],
        )


def module_moving_statistics(value, ctx):
    """After the training calls the layer's moving statistics are nn.BatchNorm's running
    statistics (momentum 0.9 in the book's sense = 0.1 in PyTorch's), with the variance
    averaged from the unbiased (PyTorch) or the biased (book) batch variances."""
    value, num_dims, gamma, beta, batches = _module_value(value, ctx)
    ref = ctx.reference
    channels = len(np.ravel(gamma))
    torch_run = ref.module_run(num_dims, gamma, beta, batches[:-1], batches[-1])
    book_run = ref.module_run(num_dims, gamma, beta, batches[:-1], batches[-1], unbiased_running=False)
    wrong = ref.module_run_reversed_momentum(num_dims, gamma, beta, batches[:-1], batches[-1])
    steps = len(batches) - 1
    mean = _per_channel(value["moving_mean"], channels, "BatchNorm's moving_mean")
    _check(
        mean,
        torch_run["moving_mean"],
        ctx,
        f"BatchNorm's moving_mean after {steps} training calls",
        [
            (lambda: wrong["moving_mean"], REVERSED_MOMENTUM),
            (lambda: torch.zeros(channels), NOT_UPDATED),
        ],
    )
    var = _per_channel(value["moving_var"], channels, "BatchNorm's moving_var")
    rtol, atol = _tol(ctx)
    if not _matches(var, torch_run["moving_var"], rtol, atol):
        _check(
            var,
            book_run["moving_var"],
            ctx,
            f"BatchNorm's moving_var after {steps} training calls (the book's biased update; PyTorch's "
            "unbiased one is accepted too)",
            [
                (lambda: wrong["moving_var"], REVERSED_MOMENTUM),
                (lambda: torch.ones(channels), NOT_UPDATED),
            ],
        )


def module_evaluation(value, ctx):
    """In evaluation mode the output normalises with the moving statistics the layer holds
    (whichever variance convention it uses: that is the other check's business)."""
    value, num_dims, gamma, beta, batches = _module_value(value, ctx)
    ref = ctx.reference
    channels = len(np.ravel(gamma))
    X = batches[-1]
    try:
        mean = _per_channel(value["moving_mean"], channels, "BatchNorm's moving_mean")
        var = _per_channel(value["moving_var"], channels, "BatchNorm's moving_var")
    except CheckFailed as failure:
        raise CheckFailed(f"{failure}; the evaluation-mode output cannot be checked without them") from None
    if (var < 0).any():
        raise CheckFailed("BatchNorm's moving_var has negative entries; a variance cannot be negative")
    _check(
        value["eval"],
        ref.batch_norm_predict(X, gamma, beta, mean, var),
        ctx,
        f"BatchNorm({channels}, {num_dims})'s output in evaluation mode (normalised with its moving statistics)",
        [(lambda: ref.batch_norm_train(_t(X), gamma, beta), BATCH_STATS_IN_PREDICTION)],
    )


def two_parameters_per_channel(net, ctx):
    """BatchNorm(num_features, num_dims) trains exactly gamma and beta (2 x num_features
    values); the moving statistics are not parameters."""
    num_features = int(ctx.args[0])
    want = 2 * num_features
    got = net.parameters
    if got == 2 * want:
        raise CheckFailed(
            f"BatchNorm({num_features}, ...) has {got} parameters, expected {want} (gamma and beta): the moving "
            "statistics are registered as parameters, so an optimiser would train them. Keep them as plain "
            "tensors (the book) or buffers (register_buffer)."
        )
    if got != want:
        raise CheckFailed(f"BatchNorm({num_features}, ...) has {got} parameters, expected {want} (gamma and beta)")
    if net.trainable_parameters != want:
        raise CheckFailed(
            f"BatchNorm({num_features}, ...) has {net.trainable_parameters} trainable parameters, expected {want}"
        )
    if net.output != net.input:
        raise CheckFailed(f"BatchNorm's output has shape {net.output}, expected the input's {net.input}")


# ------------------------------------------------------------------ section: the concise LeNet
def _main_layers(net):
    """(type, output shape) of every leaf call but flattening, which may as well happen in a
    forward method (torch.flatten) as in an nn.Flatten layer."""
    return [(layer.type, layer.output) for layer in net.layers if layer.type != "Flatten"]


def lenet_bn_layers(net, ctx):
    """lenet_bn(): the reference's layers in the order they run, with their output shapes
    (flattening aside), its parameters and its output shape."""
    want = describe_network(ctx.reference.lenet_bn, ctx.options["input"])
    got_layers, want_layers = _main_layers(net), _main_layers(want)
    for i, (g, w) in enumerate(zip(got_layers, want_layers, strict=False)):
        if g != w:
            raise CheckFailed(
                f"lenet_bn(): layer {i + 1} (in the order the layers run, flattening aside) is {g[0]} with output "
                f"{g[1]}, expected {w[0]} with output {w[1]}"
            )
    if len(got_layers) != len(want_layers):
        raise CheckFailed(f"lenet_bn(): {len(got_layers)} layers run (flattening aside), expected {len(want_layers)}")
    if net.parameters != want.parameters:
        raise CheckFailed(f"lenet_bn(): {net.parameters:,} parameters, expected {want.parameters:,}")


# ------------------------------------------------------------------ exercise 1: a block without the bias
def block_without_bias(net, ctx):
    """conv_bn_relu(in, out): Conv2d 3x3 (padding 1) without bias, BatchNorm2d, ReLU, in that
    order: the layers, their shapes and parameters are the reference block's."""
    convs = [layer for layer in net.layers if layer.type == "Conv2d"]
    if any(layer.config.get("bias") for layer in convs):
        raise CheckFailed(
            "the convolution before the batch normalisation still has a bias: in training mode the batch mean "
            "removes it (its gradient is 0), and beta shifts the output instead. Use bias=False."
        )
    want = describe_network(ctx.reference.conv_bn_relu, ctx.options["input"], *ctx.args)
    if net.types() != want.types():
        raise CheckFailed(f"the layers run in the order {net.types()}, expected {want.types()}")
    if net.shapes() != want.shapes():
        raise CheckFailed(f"the layers' output shapes are {net.shapes()}, expected {want.shapes()}")
    if net.parameters != want.parameters:
        raise CheckFailed(f"{net.parameters:,} parameters, expected {want.parameters:,}")


# ------------------------------------------------------------------ exercise 3: not in every layer
def _is_batch_norm(layer, bn_types):
    return layer.type in bn_types


def fewer_batch_norms(net, ctx):
    """The LeNet of the section with batch normalisation after SOME of its layers: the same
    convolutions and fully connected layers (types and output shapes, in order), and at
    least one and fewer than four batch-norm layers."""
    ref = ctx.reference
    full = describe_network(ref.lenet_bn, ctx.options["input"])
    bn_types = ref.BN_TYPES
    count = sum(1 for layer in net.layers if _is_batch_norm(layer, bn_types))
    full_count = sum(1 for layer in full.layers if _is_batch_norm(layer, bn_types))
    if not 1 <= count < full_count:
        raise CheckFailed(
            f"the network runs {count} batch-norm layers; keep at least one and fewer than the section's "
            f"{full_count} (batch normalisation after some layers, not all)"
        )
    main = ("Conv2d", "Linear")
    got = [(layer.type, layer.output) for layer in net.layers if layer.type in main]
    want = [(layer.type, layer.output) for layer in full.layers if layer.type in main]
    if got != want:
        raise CheckFailed(
            f"the convolutions and fully connected layers (type, output shape) are {got}, expected the section's {want}"
        )
    if net.output != full.output:
        raise CheckFailed(f"the output has shape {net.output}, expected {full.output}")


# ------------------------------------------------------------------ exercise 5: fixed gamma and beta
AFFINE_FALSE_LATE = (
    "Setting `affine = False` on a layer that exists changes nothing: its weight and bias were created by the "
    "constructor and are still used and trained. Set requires_grad to False (after filling them with 1 and 0), "
    "or build the layer with affine=False."
)


def _fixed(entry, target, what):
    """A gamma / beta that is either removed (None) or holds `target` everywhere."""
    if entry is None:
        return
    if not isinstance(entry, dict) or not isinstance(entry.get("values"), np.ndarray):
        raise CheckFailed("freeze_affine: the probe returned nothing usable")
    if not np.allclose(entry["values"], target, rtol=0, atol=1e-6):
        shown = np.round(entry["values"][:3].astype(np.float64), 4).tolist()
        raise CheckFailed(f"{what} is {shown}..., expected {target:g} everywhere")


def affine_fixed(value, ctx):
    """After freeze_affine every batch-norm layer's gamma is 1 and its beta 0, and neither is
    trained (removed, or requires_grad False); every other parameter still trains. With
    options.replay, the other layers' parameters after training must be the grader's replay of
    the same SGD steps with gamma = 1 and beta = 0."""
    if not isinstance(value, dict) or not {"frozen", "trained", "affine", "others"} <= set(value):
        raise CheckFailed("freeze_affine: the probe returned nothing usable")
    names = ("the first batch-norm layer", "the second batch-norm layer")
    for name, frozen, trained, affine in zip(names, value["frozen"], value["trained"], value["affine"], strict=True):
        for entry, label, target in ((frozen[0], "gamma", 1.0), (frozen[1], "beta", 0.0)):
            if isinstance(entry, dict) and entry.get("trainable"):
                hint = f"\n{AFFINE_FALSE_LATE}" if affine is False else ""
                raise CheckFailed(f"freeze_affine: {name}'s {label} still requires a gradient, so it is trained{hint}")
            _fixed(entry, target, f"freeze_affine: {name}'s {label}")
        for entry, label, target in ((trained[0], "gamma", 1.0), (trained[1], "beta", 0.0)):
            _fixed(entry, target, f"after training, {name}'s {label}")
    others = value["others"]
    if not isinstance(others, list) or any(not isinstance(o, dict) for o in others):
        raise CheckFailed(
            "freeze_affine removed a parameter of a convolution or fully connected layer: only the batch-norm "
            "layers' gamma and beta are to be fixed"
        )
    if not all(o.get("trainable") for o in others):
        raise CheckFailed(
            "freeze_affine froze parameters of the convolution or the fully connected layers too: only gamma and "
            "beta of the batch-norm layers are fixed, everything else must still train"
        )
    _, X, y, steps, lr, _, _, *params = ctx.args
    # only the weights: the biases of the layers before batch normalisation get a zero gradient (exercise 1)
    for got, initial in list(zip(others, params, strict=True))[::2]:
        if np.allclose(got["values"], initial, rtol=0, atol=1e-7):
            raise CheckFailed("after freeze_affine the other layers no longer train (their weights do not change)")
    if ctx.options.get("replay"):
        want = ctx.reference.small_bn_net_sgd(params, X, y, steps, lr)
        rtol, atol = _tol(ctx)
        for i, (got, w) in enumerate(zip(others, want, strict=True)):
            if not _matches(got["values"], w, rtol, atol):
                raise CheckFailed(
                    f"after {steps} SGD steps, parameter {i + 1} of the other layers differs from training with "
                    "gamma = 1 and beta = 0 fixed: were gamma and beta set to 1 and 0 before training?"
                )
