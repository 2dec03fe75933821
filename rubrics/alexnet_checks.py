"""Property checks for 7.1 AlexNet, run in the grader.

What arrives here is a `grader.content.Network` (structure checks): the description of a
student's network that the grader has verified and measured itself (parameters, MACs, every
layer call's shapes). The training of `alexnet28` is a `fit` check, judged by the engine.

Every figure they are compared with comes from reference/alexnet.py, computed here.
"""

import math

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
