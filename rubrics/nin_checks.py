"""Property checks for 7.3 NiN, run in the grader.

The structure checks hand over a `grader.content.Network`: the description of a student's
network that the grader has verified and measured itself. `same_layers` compares its layer
calls with the reference variant's (reference/nin.py), described by the same code, and names
the usual mistakes before it falls back to the first difference.
"""

import torch

from grader.content import CheckFailed, describe_network

GLOBAL_POOLS = ("AdaptiveAvgPool2d", "AvgPool2d")


def _reference_network(ctx, shape):
    factory = getattr(ctx.reference, ctx.options["reference"])
    with torch.device("meta"):
        reference = factory()
    return describe_network(reference, shape)


def _is_global_pool(layer):
    """An average pooling whose output is 1x1: the book's nn.AdaptiveAvgPool2d((1, 1)), or an
    nn.AvgPool2d whose window covers the whole (here 5x5) map — the same operation at this
    input size, so either is accepted."""
    out = layer.output
    return (
        layer.type in GLOBAL_POOLS
        and isinstance(out, list)
        and len(out) == 4
        and out[2:] == [1, 1]
        and isinstance(layer.inputs[0], list)
    )


def _signature(net):
    """(type, output shape) of every layer call, with a global average pooling named as one."""
    return [("GlobalAvgPool" if _is_global_pool(layer) else layer.type, layer.output) for layer in net.layers]


def _diagnose(net, ref, name):
    """A sentence naming a known mistake, or None."""
    got, want = net.count, ref.count
    if got("Linear") > want("Linear") and not any(_is_global_pool(layer) for layer in net.layers):
        return (
            f"{name} ends in a fully connected layer where NiN has its global average pooling: the last NiN "
            "block already makes one channel per class, and averaging each channel over the image gives the "
            "class scores without a single weight"
        )
    if got("Conv2d") == want("Conv2d") and got("ReLU") < want("ReLU"):
        return (
            f"{name} runs {got('ReLU')} ReLUs, the reference runs {want('ReLU')}: in a NiN block every "
            "convolution, the 1x1 ones included, is followed by a ReLU (two 1x1 convolutions in a row "
            "without a non-linearity between them are a single linear map)"
        )
    if got("Dropout") != want("Dropout"):
        return f"{name} runs {got('Dropout')} Dropout layer(s); NiN has one, after the third max pooling"
    if got("Conv2d") != want("Conv2d"):
        return (
            f"{name} runs {got('Conv2d')} convolutions, the reference runs {want('Conv2d')} "
            f"({want('Conv2d') // 4} per NiN block, four blocks)"
        )
    return None


def same_layers(net, ctx):
    """The layer calls (types, in the order they run) and every call's output shape equal the
    reference variant's (`options.reference`, a function of reference/nin.py). A global average
    pooling may be nn.AdaptiveAvgPool2d((1, 1)) or an nn.AvgPool2d over the whole map."""
    ref = _reference_network(ctx, net.input)
    got, want = _signature(net), _signature(ref)
    if [t for t, _ in got] != [t for t, _ in want]:
        diagnosis = _diagnose(net, ref, ctx.what)
        if diagnosis:
            raise CheckFailed(diagnosis)
        for i, ((g, _), (w, _)) in enumerate(zip(got, want, strict=False)):
            if g != w:
                raise CheckFailed(f"{ctx.what}: layer {i + 1} (in the order the layers run) is {g}, expected {w}")
        raise CheckFailed(f"{ctx.what}: {len(got)} layers run, expected {len(want)}")
    for i, ((kind, g), (_, w)) in enumerate(zip(got, want, strict=True)):
        if g != w:
            raise CheckFailed(
                f"{ctx.what}: layer {i + 1} ({kind}) outputs {_shape(g)}, expected {_shape(w)} "
                "(check that layer's kernel size, stride and padding, and the ones before it)"
            )


def _shape(shape):
    return "(" + ", ".join(str(d) for d in shape) + ")" if isinstance(shape, list) else str(shape)
