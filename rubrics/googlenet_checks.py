"""Property checks for 7.4 GoogLeNet, run in the grader.

Three sorts of values arrive here:

* a `grader.content.Network` (structure checks): the description of a student's network that
  the grader has verified and measured itself;
* what the probe `inception_path_labels` (rubrics/googlenet_probes.py) sent back: the path
  label of every output channel of a small Inception block;
* a number the student claims (`min_side`, `min_side_paper_head`): the claim is RUN here, on
  the reference network built on the meta device — it must work at that size and fail one
  pixel below.

Every expected figure comes from reference/googlenet.py, computed here.
"""

import math

from grader.content import CheckFailed

PATH_NAMES = {
    1: "path 1 (1x1)",
    2: "path 2 (1x1 then 3x3)",
    3: "path 3 (1x1 then 5x5)",
    4: "path 4 (3x3 max pooling then 1x1)",
}


# ------------------------------------------------------------------ the Inception block
def _runs(labels):
    """[(label, how many consecutive channels)] of a list of labels."""
    runs = []
    for label in labels:
        if runs and runs[-1][0] == label:
            runs[-1][1] += 1
        else:
            runs.append([label, 1])
    return [tuple(r) for r in runs]


def path_order(value, ctx):
    """The block's output channels come from the four paths in the book's order (1x1, 3x3,
    5x5, pooling), with c1, c2[1], c3[1] and c4 channels.

    Why the order counts although every order has the same parameters and operations: the
    order is part of the block's definition. The layer after the block sees channel i as a
    particular feature; the same weights (the book's, the paper's, a saved model's) only fit a
    block that puts each path's channels where the definition says, and later sections build
    on the book's order. So a permuted block is a different block, and it loses this one
    point only (its size checks pass)."""
    config = ctx.args[0]
    want = [int(v) for v in ctx.reference.inception_path_channels(*config)]
    unlabelled = value.get("unlabelled") if isinstance(value, dict) else None
    labels = value.get("labels") if isinstance(value, dict) else None
    if not isinstance(labels, list) or not all(isinstance(v, (int, float)) for v in labels):
        raise CheckFailed(f"{ctx.what}: the block's output could not be read")
    if unlabelled:
        raise CheckFailed(
            f"{ctx.what}: convolutions without a bias (out_channels {unlabelled}); the book's Inception "
            "convolutions have biases, and this check reads each path through them"
        )
    got = [round(v) if math.isclose(v, round(v), abs_tol=1e-4) else v for v in labels]
    if got == want:
        return
    got_runs, want_runs = _runs(got), _runs(want)
    layout = _layout(got_runs)
    if all(v in PATH_NAMES for v in got) and sorted(got_runs) == sorted(want_runs):
        raise CheckFailed(
            f"{ctx.what}: the paths are concatenated in the order {layout}. The channel counts are right, but "
            "the book's block concatenates path 1, 2, 3, 4 in this order: the next layer's weights refer to "
            "channels by position, so a permuted block does not fit weights made for the book's."
        )
    raise CheckFailed(
        f"{ctx.what}: for Inception{_config_text(config)} the output channels come from {layout}; expected "
        f"{_layout(want_runs)}. A path's last convolution with the wrong number of output channels (not c1, "
        "c2[1], c3[1] or c4) shows up here as another path or as none; c2[0] and c3[0] are the channels "
        "inside paths 2 and 3"
    )


def _layout(runs):
    """'path 1 (1x1) x 2, path 2 (...) x 4, ...' (label 0 or another value: from no path's end)."""
    return ", ".join(f"{PATH_NAMES.get(label, 'no path')} x {n}" for label, n in runs)


def _config_text(config):
    in_channels, c1, c2, c3, c4 = config
    return f"({in_channels}, {c1}, ({c2[0]}, {c2[1]}), ({c3[0]}, {c3[1]}), {c4})"


# ------------------------------------------------------------------ exercise 1: batch norm
def batch_norm_after_every_conv(net, ctx):
    """Every convolution call is directly followed by an nn.BatchNorm2d over its output
    channels (before the ReLU), there are as many convolutions as in the book's GoogLeNet, and
    the output is (N, 10). Conv biases may be kept or dropped, so the parameter count is not
    compared."""
    batch = net.input[0]
    if net.output != [batch, 10]:
        raise CheckFailed(f"{ctx.what}: output shape {net.output}, expected {[batch, 10]}")
    want = int(ctx.reference.conv_count())
    got = net.count("Conv2d")
    if got != want:
        raise CheckFailed(f"{ctx.what}: {got} convolutions run, the book's GoogLeNet has {want}")
    layers = net.layers
    for i, layer in enumerate(layers):
        if layer.type != "Conv2d":
            continue
        after = layers[i + 1] if i + 1 < len(layers) else None
        channels = layer.config.get("out_channels")
        if after is None or after.type != "BatchNorm2d" or not after.torch:
            found = after.type if after is not None else "nothing"
            raise CheckFailed(
                f"{ctx.what}: the convolution {layer.path} is followed by {found}; put an nn.BatchNorm2d right "
                "after every convolution (before its ReLU)"
            )
        if after.config.get("num_features") != channels:
            raise CheckFailed(
                f"{ctx.what}: {after.path} normalises {after.config.get('num_features')} channels, but the "
                f"convolution before it outputs {channels}"
            )


# ------------------------------------------------------------------ exercise 2: minimum size
def min_side_claim(value, ctx):
    """RUN the claim: the reference network (`options.network`, on the meta device) must map a
    1 x 1 x s x s input to (1, 10) at s = the claimed side, and fail at s - 1. `options.hint`
    says, for a claim that is too large, what the student overlooked."""
    factory = getattr(ctx.reference, ctx.options["network"])
    label = ctx.options.get("label", "the network")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise CheckFailed(f"{ctx.what} should be a whole number of pixels, got {type(value).__name__}")
    if value < 1:
        raise CheckFailed(f"{ctx.what} = {value}: an image has at least one pixel")
    if value > ctx.reference.MAX_SIDE:
        raise CheckFailed(f"{ctx.what} = {value}: {label} already works on much smaller images")
    if not ctx.reference.runs_at(factory, value):
        raise CheckFailed(
            f"{ctx.what} = {value}: {label} fails on a {value}x{value} image (a pooling or convolution window "
            "no longer fits, or the head does not get one value per channel)"
        )
    if ctx.reference.runs_at(factory, value - 1):
        raise CheckFailed(
            f"{ctx.what} = {value}: {label} also works on a {value - 1}x{value - 1} image, so {value} is not the "
            f"minimum ({ctx.options['hint']})"
        )


# ------------------------------------------------------------------ 28x28 design
def inception_sees_3x3(net, ctx):
    """At the check's input size: output (N, 10); at least `options.blocks` modules whose class
    is called Inception run; and every one of them gets a feature map of at least
    `options.min_side` x `options.min_side` (3: what the book's last blocks see at 96x96)."""
    batch = net.input[0]
    if net.output != [batch, 10]:
        raise CheckFailed(f"{ctx.what}: output shape {net.output} on {net.input}, expected {[batch, 10]}")
    need = int(ctx.options["min_side"])
    blocks = [m.path for m in net.modules if "Inception" in m.type and m.path]
    if len(blocks) < int(ctx.options["blocks"]):
        raise CheckFailed(
            f"{ctx.what}: {len(blocks)} Inception block(s) (modules of your Inception class); keep the book's "
            f"{ctx.options['blocks']}"
        )
    for path in blocks:
        for layer in net.within(path):
            shape = layer.inputs[0] if layer.inputs else None
            if isinstance(shape, list) and len(shape) == 4 and min(shape[2:]) < need:
                side = "x".join(str(d) for d in shape[2:])
                raise CheckFailed(
                    f"{ctx.what}: on a {'x'.join(str(d) for d in net.input[2:])} image the Inception block "
                    f"{path} works on a {side} feature map; every block should see at least {need}x{need} "
                    "(downsample less in the stem or between the stages)"
                )
