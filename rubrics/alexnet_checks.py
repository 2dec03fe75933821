"""Property checks for 7.1 AlexNet, run in the grader.

Two sorts of values arrive here:

* a `grader.content.Network` (structure checks): the description of a student's network that
  the grader has verified and measured itself (parameters, MACs, every layer call's shapes);
* what the probes of rubrics/alexnet_probes.py sent back (the training of `alexnet28`).

Every figure they are compared with comes from reference/alexnet.py, computed here.
"""

import math

import numpy as np
import torch

from grader.content import CheckFailed, describe_network

IMAGE = [1, 1, 224, 224]


def _name(ctx):
    return ctx.options.get("label") or ctx.what


def _per_image(net, total):
    """A count for the whole batch the network ran on, per image."""
    batch = net.input[0] if net.input else 1
    return total / max(1, batch)


def _book_alexnet(ctx):
    """The book's AlexNet as the grader describes it (the same measurement as the student's)."""
    with torch.device("meta"):
        reference = ctx.reference.alexnet()
    return describe_network(reference, IMAGE)


# ------------------------------------------------------------------ the section's AlexNet
def book_dropout(net, ctx):
    """Dropout with p = 0.5 after each of the two hidden fully connected layers, and nowhere else.

    Read from the layer calls in the order they ran: the Dropout layers must come after the
    first and the second Linear layer, before the next one. Only torch.nn.Dropout counts
    (a dropout written into `forward` cannot be seen; the notebook asks for layers)."""
    name = _name(ctx)
    order = [layer for layer in net.layers if layer.type in ("Linear", "Dropout")]
    kinds = ["Dropout" if layer.type == "Dropout" else "Linear" for layer in order]
    want = ["Linear", "Dropout", "Linear", "Dropout", "Linear"]
    if kinds != want:
        shown = " -> ".join(kinds) or "no Linear or Dropout layers"
        raise CheckFailed(
            f"{name}: the fully connected part runs {shown}; the book's is Linear -> Dropout -> Linear -> "
            "Dropout -> Linear (an nn.Dropout layer after each hidden fully connected layer)"
        )
    for layer in order:
        if layer.type == "Dropout":
            p = layer.config.get("p")
            if not layer.torch or not isinstance(p, (int, float)) or not math.isclose(float(p), 0.5):
                raise CheckFailed(f"{name}: {layer.path} drops with p = {p}; the book's AlexNet uses nn.Dropout(0.5)")


# ------------------------------------------------------------------ exercise 2: cheaper AlexNets
def cheaper_than_alexnet(net, ctx):
    """Per image, at most `options.mac_fraction` of the book's AlexNet's MACs at 224x224, and
    (when `options.fewer_parameters`) fewer parameters than it has.

    The book's figures come from the reference network, measured here by the same code that
    measured the student's network."""
    name = _name(ctx)
    book = _book_alexnet(ctx)
    fraction = float(ctx.options.get("mac_fraction", 1.0))
    macs = _per_image(net, net.macs)
    if net.macs <= 0:
        raise CheckFailed(f"{name}: no convolution or linear layer of torch.nn was found in the network")
    if macs > fraction * book.macs or macs >= book.macs:  # "fewer": strictly, at any fraction
        bound = "fewer" if fraction == 1.0 else f"at most {fraction:g} x the"
        raise CheckFailed(
            f"{name}: {macs:,.0f} multiply-accumulates per image; expected {bound} MACs than the book's "
            f"AlexNet at 224x224 ({book.macs:,})"
        )
    if ctx.options.get("fewer_parameters") and net.parameters >= book.parameters:
        raise CheckFailed(
            f"{name}: {net.parameters:,} parameters; a simplified AlexNet should have fewer than the book's "
            f"{book.parameters:,}"
        )


def fits_synthetic_batch(value, ctx):
    """After the probe's fixed training budget the loss is low: below `max_final` and below
    `ratio` times the loss before training.

    The losses are computed here, from the network's outputs (logits) on the training images
    and the labels the grader knows, with the grader's own cross-entropy: a notebook that
    replaces the loss in its kernel changes nothing. The images the probe trained on must be
    the grader's (rebuilt here from the same prototypes and noise)."""
    name = f"{ctx.args[0]}()"
    _, steps, _, prototypes, noise = ctx.args
    images, labels = ctx.reference.synthetic_batch(torch.from_numpy(prototypes), torch.from_numpy(noise))
    n, classes = len(labels), prototypes.shape[0]
    if not isinstance(value, dict) or not {"images", "initial", "final"} <= set(value):
        raise CheckFailed(f"{name}: training produced nothing usable")
    got_images = value["images"]
    if (
        not isinstance(got_images, np.ndarray)
        or got_images.shape != tuple(images.shape)
        or not np.allclose(got_images, images.numpy(), rtol=0, atol=1e-6)
    ):
        raise CheckFailed(f"{name}: the network was not trained on the grader's images (the kernel changed them)")
    losses = []
    for key in ("initial", "final"):
        logits = value[key]
        # (n, k) with k >= classes: cross-entropy is defined (the output's width is another check's job)
        if (
            not isinstance(logits, np.ndarray)
            or logits.ndim != 2
            or logits.shape[0] != n
            or logits.shape[1] < classes
            or logits.dtype.kind not in "fiu"
        ):
            got = str(tuple(logits.shape)) if isinstance(logits, np.ndarray) else type(logits).__name__
            raise CheckFailed(f"{name}: on a batch of {n} images the output is {got}, expected ({n}, {classes})")
        losses.append(ctx.reference.cross_entropy(logits, labels))
    initial, final = losses
    ratio, max_final = float(ctx.options["ratio"]), float(ctx.options["max_final"])
    if not math.isfinite(final) or final > max_final or final > ratio * initial:
        message = (
            f"{name}: after {steps} Adam steps on one synthetic batch the loss went from {initial:.4g} to "
            f"{final:.4g}; expected below {max_final:g} and below {ratio:g} x the initial loss"
        )
        if _probabilities(value["final"]):
            message += (
                "\nThe network's outputs are probabilities (every row is in [0, 1] and sums to 1): it ends "
                "with a softmax. The cross-entropy takes raw scores (logits) and applies the softmax itself; "
                "a second softmax squashes the scores and training stalls. Remove the final softmax."
            )
        raise CheckFailed(message)


def _probabilities(logits):
    """Each row is a probability distribution (the mark of a final softmax layer)."""
    rows = np.asarray(logits, dtype=np.float64)
    return bool(rows.size) and bool(np.all(rows >= 0) and np.all(rows <= 1) and np.allclose(rows.sum(1), 1, atol=1e-4))


# ------------------------------------------------------------------ exercise 5: LeNet with ReLU and dropout
def relu_and_dropout(net, ctx):
    """Every activation is a ReLU (no sigmoid or tanh left), and there is at least one
    nn.Dropout with 0 < p < 1."""
    name = _name(ctx)
    left = sorted({layer.type for layer in net.layers if layer.type in ("Sigmoid", "Tanh")})
    if left:
        raise CheckFailed(f"{name}: still uses {', '.join(left)}; every activation should be a ReLU")
    if net.count("ReLU") == 0:
        raise CheckFailed(f"{name}: has no nn.ReLU layer; the exercise applies ReLU to LeNet")
    drops = [layer for layer in net.layers if layer.type == "Dropout" and layer.torch]
    if not drops:
        raise CheckFailed(f"{name}: has no nn.Dropout layer; the exercise applies dropout to LeNet")
    for layer in drops:
        p = layer.config.get("p")
        if not isinstance(p, (int, float)) or not 0 < float(p) < 1:
            raise CheckFailed(f"{name}: {layer.path} drops with p = {p}; a useful dropout has 0 < p < 1")
