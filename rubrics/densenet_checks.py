"""Property checks for 7.7, run in the grader.

Most functions here get a verified `grader.content.Network` from a `structure` check (layers
in the order they ran, hyper-parameters, parameters and MACs counted by the grader) and
compare it with reference/densenet.py. They do what `match` cannot: accept either convention
for convolution biases where the notebook allows both, and name the mistake behind a wrong
count by comparing it with the counts of known wrong networks (a transition that keeps the
channels, dense layers without the bottleneck). `dense_block_growth` judges the plan of a
dense block's channels sent by the probe `dense_block_plan` (rubrics/densenet_probes.py).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from grader.content import CheckFailed

_CONVS = ("Conv1d", "Conv2d", "Conv3d")


# ------------------------------------------------------------------ counting
def _conv_biases(net: Any) -> int:
    """Parameters in the biases of the convolutions of a described network."""
    return sum(shape[0] for m in net.modules if m.type in _CONVS for key, shape in m.params.items() if key == "bias")


def _module_conv_biases(module: torch.nn.Module) -> int:
    return sum(m.bias.numel() for m in module.modules() if isinstance(m, torch.nn.Conv2d) and m.bias is not None)


def _reference(ctx: Any, name: str, args: list[Any], shape: list[int] | None = None) -> dict[str, Any]:
    """Parameters (all, and without convolution biases) of a reference network built on the
    meta device; with `shape`, also its output shape and multiply-accumulates on a meta input
    of that shape (torch's FlopCounterMode over the whole forward pass: the same operations
    the structure kind counts layer by layer, convolutions and matrix products)."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        net = getattr(ctx.reference, name)(*args)
    total = sum(p.numel() for p in net.parameters())
    measures: dict[str, Any] = {"parameters": total, "no_bias": total - _module_conv_biases(net)}
    if shape is not None:
        counter = FlopCounterMode(display=False)
        with torch.device("meta"), counter, torch.no_grad():
            net.eval()
            out = net(torch.zeros(shape))
        measures["output"] = list(out.shape)
        measures["macs"] = int(counter.get_total_flops()) // 2
    return measures


def _shape_text(shape: Any) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")" if isinstance(shape, list) else str(shape)


def _count_failure(
    ctx: Any, what: str, got: int, ignore_bias: bool, want: dict[str, Any] | None = None
) -> CheckFailed | None:
    """None when `got` parameters are the reference's (options as in like_reference), else
    the failure, naming the known mistake whose network has that count."""
    options = ctx.options
    args = list(ctx.args[1:] if options.get("named") else ctx.args)
    want = want or _reference(ctx, options["reference"], args)
    expected = want["no_bias"] if ignore_bias else want["parameters"]
    if got == expected:
        return None
    counted = " (not counting the convolutions' biases)" if ignore_bias else ""
    message = f"{what}: {got:,} parameters{counted}, expected {expected:,}"
    for function, because in options.get("mistakes", []):
        wrong = _reference(ctx, function, args)
        if got == (wrong["no_bias"] if ignore_bias else wrong["parameters"]):
            return CheckFailed(f"{message}. {because}")
    return CheckFailed(message)


def like_reference(net: Any, ctx: Any) -> None:
    """The network has the reference's parameter count, output shape and (with macs = true)
    multiply-accumulates. Options: reference = the function, called with the check's args;
    ignore_conv_bias = compare the counts without the convolutions' biases; mistakes =
    [[function, message], ...]: known wrong networks, built with the same args, whose counts
    a wrong answer's is compared with to name its mistake."""
    ignore_bias = bool(ctx.options.get("ignore_conv_bias", False))
    want = _reference(ctx, ctx.options["reference"], list(ctx.args), net.input)
    got = net.parameters - (_conv_biases(net) if ignore_bias else 0)
    failed = _count_failure(ctx, ctx.what, got, ignore_bias, want)
    if failed is not None:
        raise failed
    if net.output != want["output"]:
        raise CheckFailed(f"{ctx.what}: output shape {_shape_text(net.output)}, expected {_shape_text(want['output'])}")
    if ctx.options.get("macs") and net.macs != want["macs"]:
        raise CheckFailed(f"{ctx.what}: {net.macs:,} multiply-accumulates, expected {want['macs']:,}")


# ------------------------------------------------------------------ parameters without running
def _expected_shapes(entry: dict[str, Any]) -> dict[str, list[int]] | None:
    """The parameter shapes torch.nn's own layer of this type and configuration has (bias
    and affine parameters optional), or None for a type not known here."""
    c = entry.get("config") or {}
    kind = entry.get("type")
    try:
        if kind == "Conv2d":
            k = list(c["kernel_size"])
            return {"weight": [c["out_channels"], c["in_channels"] // c["groups"], *k], "bias": [c["out_channels"]]}
        if kind == "BatchNorm2d":
            return {"weight": [c["num_features"]], "bias": [c["num_features"]]}
        if kind == "Linear":
            return {"weight": [c["out_features"], c["in_features"]], "bias": [c["out_features"]]}
    except (KeyError, TypeError, ZeroDivisionError):
        return {}
    return None


def planned_parameters(value: Any, ctx: Any) -> None:
    """From the probe `module_plan` (every module with parameters, with its configuration and
    parameter shapes): the shapes of torch.nn's convolutions, batch norms and linear layers
    must be the ones their configuration gives; the count (here, from the shapes; without
    the convolutions' biases with ignore_conv_bias) must be the reference's. Options as in
    like_reference, the reference called with the args after the function's name."""
    name = ctx.args[0]
    what = f"{name}({', '.join(repr(a) for a in ctx.args[1:])})"
    if not isinstance(value, list) or not all(
        isinstance(e, dict) and isinstance(e.get("params"), dict) and isinstance(e.get("type"), str) for e in value
    ):
        raise CheckFailed(f"{what}: the network could not be described")
    total = conv_bias = 0
    for entry in value:
        params = entry["params"]
        if not all(isinstance(s, list) and all(isinstance(d, int) and d >= 0 for d in s) for s in params.values()):
            raise CheckFailed(f"{what}: the network could not be described")
        expected = _expected_shapes(entry) if entry.get("torch") is True else None
        if expected is not None and (
            "weight" not in params or any(k not in expected or expected[k] != s for k, s in params.items())
        ):
            raise CheckFailed(
                f"{what}: the description of a {entry['type']} layer is inconsistent with its configuration"
            )
        for key, shape in params.items():
            size = math.prod(shape)
            total += size
            if key == "bias" and entry["type"] in _CONVS:
                conv_bias += size
    ignore_bias = bool(ctx.options.get("ignore_conv_bias", False))
    failed = _count_failure(ctx, what, total - (conv_bias if ignore_bias else 0), ignore_bias)
    if failed is not None:
        raise failed


# ------------------------------------------------------------------ the transition block
def transition_layers(net: Any, ctx: Any) -> None:
    """transition_block(input_channels, num_channels): BatchNorm2d(input_channels), ReLU,
    Conv2d(input_channels -> num_channels, 1x1), AvgPool2d(2, stride 2), in that order; the
    output keeps the batch, has num_channels channels and half the height and width."""
    cin, cout = ctx.args[:2]
    layers = net.layers
    convs = [x for x in layers if x.type == "Conv2d"]
    if len(convs) == 1 and convs[0].config.get("out_channels") == cin and cin != cout:
        raise CheckFailed(
            f"{ctx.what}: the 1x1 convolution keeps the {cin} input channels: a transition block reduces them "
            f"to num_channels ({cout}); that, and the pooling, is what keeps a DenseNet small"
        )
    if any(x.type == "MaxPool2d" for x in layers):
        raise CheckFailed(
            f"{ctx.what}: the transition uses max pooling; the section's (and the paper's) is average pooling"
        )
    got = [x.type for x in layers]
    want = ["BatchNorm2d", "ReLU", "Conv2d", "AvgPool2d"]
    if got != want or not all(x.torch for x in layers):
        raise CheckFailed(
            f"{ctx.what}: the layers run in the order {', '.join(got)}; expected torch.nn's {', '.join(want)}"
        )
    bn, _, conv, pool = layers
    if bn.config.get("num_features") != cin:
        raise CheckFailed(f"{ctx.what}: the batch norm has {bn.config.get('num_features')} features, expected {cin}")
    config = conv.config
    if (config.get("in_channels"), config.get("out_channels"), config.get("kernel_size")) != (cin, cout, [1, 1]):
        raise CheckFailed(
            f"{ctx.what}: the convolution maps {config.get('in_channels')} to {config.get('out_channels')} channels "
            f"with a {config.get('kernel_size')} kernel; expected a 1x1 convolution from {cin} to {cout}"
        )
    if pool.config.get("kernel_size") not in (2, [2, 2]) or pool.config.get("stride") not in (2, [2, 2]):
        raise CheckFailed(f"{ctx.what}: the average pooling should have a 2x2 window and stride 2")
    n, _, h, w = net.input
    if net.output != [n, cout, h // 2, w // 2]:
        raise CheckFailed(
            f"{ctx.what}: output shape {_shape_text(net.output)}, expected {_shape_text([n, cout, h // 2, w // 2])}"
        )


# ------------------------------------------------------------------ the dense block's channels
def dense_block_growth(value: Any, ctx: Any) -> None:
    """DenseBlock(num_convs, input_channels, num_channels) defines num_convs convolutions
    (and batch norms); convolution i takes input_channels + i * num_channels channels and
    produces num_channels (the growth rate)."""
    name, num_convs, cin, k = ctx.args
    what = f"{name}({num_convs}, {cin}, {k})"
    if not isinstance(value, list) or not all(isinstance(x, list) and x and isinstance(x[0], str) for x in value):
        raise CheckFailed(f"{what}: the block could not be described")
    convs = [x[1:] for x in value if x[0] == "Conv2d" and len(x) == 3]
    norms = [x[1] for x in value if x[0] == "BatchNorm2d" and len(x) == 2]
    if len(convs) != num_convs:
        raise CheckFailed(f"{what} defines {len(convs)} convolution(s), expected {num_convs} (one per conv block)")
    ins, outs = [c[0] for c in convs], [c[1] for c in convs]
    want = [cin + i * k for i in range(num_convs)]
    if ins != want:
        message = f"{what}: the conv blocks take {ins} input channels, expected {want}"
        if ins == [cin] * num_convs:
            message += (
                ". Every conv block is built for the block's input alone, but conv block i also gets the outputs "
                "of the i blocks before it: input_channels + i * num_channels"
            )
        elif ins == [cin * (i + 1) for i in range(num_convs)]:
            message += (
                ". The growth is applied to the input channels: each conv block adds num_channels channels (the "
                "growth rate), so conv block i gets input_channels + i * num_channels, not (i + 1) * input_channels"
            )
        elif ins == [k * (i + 1) for i in range(num_convs)] or ins == [k * i for i in range(num_convs)]:
            message += ". The block's own input is left out of the count: it is concatenated with every output"
        raise CheckFailed(message)
    if outs != [k] * num_convs:
        raise CheckFailed(
            f"{what}: the conv blocks produce {outs} channels; each should add num_channels = {k} (the growth rate)"
        )
    if norms != want:
        raise CheckFailed(
            f"{what}: the batch norms have {norms} features, expected {want} (one before each convolution)"
        )


# ------------------------------------------------------------------ the dense MLP
def dense_mlp_inputs(net: Any, ctx: Any) -> None:
    """DenseMLP(num_inputs, num_layers, growth, ...): the linear layers, in call order, take
    num_inputs + i * growth features (i = 0 .. num_layers)."""
    n, layers, growth = ctx.args[:3]
    got = [x.config.get("in_features") for x in net.layers if x.type == "Linear"]
    want = [n + i * growth for i in range(layers + 1)]
    if got != want:
        message = f"{ctx.what}: the linear layers take {got} input features, expected {want}"
        if got == [n] + [growth] * layers:
            message += (
                ": each layer sees only the previous layer's output; in a dense MLP it sees the input and "
                "every earlier layer's output, concatenated"
            )
        raise CheckFailed(message)
