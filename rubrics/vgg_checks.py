"""Property checks for 7.2 VGG, run in the grader.

Values arrive as plain data (a `conv_arch` the notebook defined) or as a
`grader.content.Network` (structure checks: a student's network, described in the kernel,
verified and measured in the grader). Everything they are compared with comes from
reference/vgg.py, computed here.
"""

import torch

from grader.content import CheckFailed, describe_network

# The configurations of Table 1 in Simonyan & Zisserman (2014) that `conv_arch` can express,
# by the name a student would know them by (the reference module holds the tuples).
KNOWN = {"VGG11_ARCH": "VGG-11 (A)", "VGG13_ARCH": "VGG-13 (B)", "VGG16_ARCH": "VGG-16 (D)", "VGG19_ARCH": "VGG-19 (E)"}


def _name(ctx):
    return ctx.options.get("label") or ctx.what


def _pairs(value, name):
    """A conv_arch as a list of (num_convs, out_channels) pairs of ints, or CheckFailed.

    Lists and tuples alike: ((2, 64), ...) and [[2, 64], ...] are the same answer."""
    if not isinstance(value, (list, tuple)) or not value:
        raise CheckFailed(f"{name} should be a sequence of (num_convs, out_channels) pairs, one per block")
    pairs = []
    for block in value:
        if (
            not isinstance(block, (list, tuple))
            or len(block) != 2
            or not all(isinstance(n, int) and not isinstance(n, bool) for n in block)
        ):
            raise CheckFailed(
                f"{name} should be a sequence of (num_convs, out_channels) pairs of integers, one per block; "
                f"found {block!r}"
            )
        pairs.append((int(block[0]), int(block[1])))
    return pairs


def is_paper_arch(value, ctx):
    """The conv_arch of one configuration of the VGG paper's Table 1 (`options.arch` names it in
    the reference module). A different configuration of the table is named in the message."""
    name = _name(ctx)
    wanted = ctx.options["arch"]
    want = [tuple(block) for block in getattr(ctx.reference, wanted)]
    got = _pairs(value, name)
    if got == want:
        return
    depth = sum(n for n, _ in want) + 3
    message = f"{name} = {got} is not {KNOWN[wanted]}: expected {len(want)} blocks with {want}"
    for other, label in KNOWN.items():
        if other != wanted and got == [tuple(block) for block in getattr(ctx.reference, other)]:
            raise CheckFailed(f"{message}\nThis is {label} of the paper's Table 1.")
    if got == [(c, n) for n, c in want]:
        raise CheckFailed(f"{message}\nEach pair is (num_convs, out_channels): the number of convolutions comes first.")
    layers = sum(n for n, _ in got) + 3
    if layers != depth:
        raise CheckFailed(
            f"{message}\nThe name counts the weight layers: {depth} = {depth - 3} convolutions + 3 fully "
            f"connected layers; this one has {layers - 3} convolutions, so {layers} weight layers."
        )
    raise CheckFailed(message)


def fc_input_for_96(net, ctx):
    """The first fully connected layer takes what the blocks leave of a 96x96 image (512 x 3 x 3),
    and the network has the parameters of the reference's 96x96 VGG-11.

    Both figures come from the reference network (`options.reference`), described here by the
    same code that described the student's."""
    name = _name(ctx)
    with torch.device("meta"):
        reference = describe_network(getattr(ctx.reference, ctx.options["reference"])(), net.input)
    want = _first_linear_inputs(reference)
    got = _first_linear_inputs(net)
    if got is None:
        raise CheckFailed(f"{name}: no nn.Linear layer was found in the network")
    if got != want:
        message = (
            f"{name}: the first fully connected layer takes {got:,} features; at 96x96 the five blocks leave "
            f"512 x 3 x 3 = {want:,}"
        )
        if got == 512 * 7 * 7:
            message += (
                " (25,088 = 512 x 7 x 7 is what they leave of a 224x224 image: resizing or pooling the features "
                "back to 7 x 7 keeps the 224 network's 103 million weights in this layer, which is what the "
                "smaller input should save)"
            )
        raise CheckFailed(message)
    if net.parameters != reference.parameters:
        raise CheckFailed(
            f"{name}: {net.parameters:,} parameters; VGG-11 at 96x96 (1 channel, 10 classes) has "
            f"{reference.parameters:,}"
        )


def _first_linear_inputs(net):
    for layer in net.layers:
        if layer.type == "Linear":
            return layer.config.get("in_features")
    return None
