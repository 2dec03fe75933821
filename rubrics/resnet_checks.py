"""Property checks for 7.6, run in the grader.

Two sources of evidence:

* `structure` checks hand these functions a verified `grader.content.Network` (layers in the
  order they ran, with their hyper-parameters): `block_order` and `blocks_in_network` check
  which layers with parameters a residual block calls, and in which order;
* the probe `trace_block` (rubrics/resnet_probes.py) sends back the tensors each layer of one
  block received and returned on the grader's input: `block_wiring` checks that each layer
  gets the previous one's output (through a ReLU where the design has one) and that the
  block returns the right sum, and names the known mistakes (reference/resnet.py).

Activations hold no parameters and may be functions (F.relu) or modules (nn.ReLU): the
order checks look only at layers with parameters; the wiring check sees the ReLUs through
the tensors.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from grader.content import CheckFailed

ATOL = 1e-5  # float32 activations of a small block, compared in float64
RTOL = 1e-5


# ------------------------------------------------------------------ layers, uniformly
def _layer(kind: str, torch_class: bool, parameters: int, config: dict[str, Any]) -> dict[str, Any]:
    return {"type": kind, "torch": torch_class, "parameters": parameters, "config": config}


def _from_network(net: Any, layers: list[Any] | None = None) -> list[dict[str, Any]]:
    return [_layer(x.type, x.torch, x.parameters, x.config) for x in (net.layers if layers is None else layers)]


def _with_parameters(layers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The calls of layers that hold parameters (convolutions, batch norms, ...), in order."""
    return [x for x in layers if isinstance(x.get("parameters"), int) and x["parameters"] > 0]


def _pair(value: Any) -> Any:
    return list(value) if isinstance(value, (list, tuple)) else [value, value]


def _matches(entry: tuple, layer: dict[str, Any]) -> bool:
    """Does a called layer fit one entry of a block recipe (reference/resnet.py)?"""
    config = layer.get("config") or {}
    if layer.get("type") != entry[0] or layer.get("torch") is not True:
        return False
    if entry[0] == "BatchNorm2d":
        return config.get("num_features") == entry[1]
    _, cin, cout, k, stride = entry
    return (
        config.get("in_channels") == cin
        and config.get("out_channels") == cout
        and _pair(config.get("kernel_size")) == [k, k]
        and (stride is None or _pair(config.get("stride")) == [stride, stride])
        and _pair(config.get("padding")) == [k // 2, k // 2]
        and config.get("groups", 1) == 1
        and _pair(config.get("dilation", 1)) == [1, 1]
    )


def _entry_text(entry: tuple) -> str:
    if entry[0] == "BatchNorm2d":
        return f"BatchNorm2d({entry[1]})"
    _, cin, cout, k, stride = entry
    return f"Conv2d({cin} -> {cout}, {k}x{k}{'' if stride in (None, 1) else f', stride {stride}'})"


def _layer_text(layer: dict[str, Any]) -> str:
    config = layer.get("config") or {}
    own = "" if layer.get("torch") else " (the notebook's own class)"
    if layer.get("type") == "BatchNorm2d":
        return f"BatchNorm2d({config.get('num_features')}){own}"
    if layer.get("type") == "Conv2d":
        k, stride = _pair(config.get("kernel_size")), _pair(config.get("stride"))
        extra = "" if stride == [1, 1] else f", stride {stride[0] if stride[0] == stride[1] else stride}"
        if _pair(config.get("padding")) != [k[0] // 2, k[1] // 2]:
            extra += f", padding {config.get('padding')}"
        size = f"{k[0]}x{k[1]}"
        return f"Conv2d({config.get('in_channels')} -> {config.get('out_channels')}, {size}{extra}){own}"
    return f"{layer.get('type')}{own}"


def split_shortcut(layers: list[dict[str, Any]], main: list[tuple], shortcut: tuple | None):
    """(main-path layers in recipe order, shortcut layer or None) when the layers with
    parameters are exactly the recipe's main path, in order, plus (anywhere in the call
    order: before, after or in between) the shortcut convolution; None otherwise."""
    if shortcut is None:
        candidates = [(layers, None)]
    else:
        candidates = [
            (layers[:j] + layers[j + 1 :], layers[j]) for j in range(len(layers)) if _matches(shortcut, layers[j])
        ]
    for rest, cut in candidates:
        if len(rest) == len(main) and all(_matches(e, x) for e, x in zip(main, rest, strict=True)):
            return rest, cut
    return None


def _recipe(ctx: Any, kind: str, args: list[Any]):
    return ctx.reference.RECIPES[kind](*args)


def _order_failure(what: str, layers: list[dict[str, Any]], main: list[tuple], shortcut: tuple | None) -> str:
    got = ", ".join(_layer_text(x) for x in layers)
    want = ", ".join(_entry_text(e) for e in main)
    if shortcut is not None:
        want += f", and (anywhere in that order) the shortcut's {_entry_text(shortcut)}"
    ran = f"the layers with parameters run in the order {got}" if layers else "no layer with parameters runs"
    message = f"{what}: {ran}; expected {want}"
    hint = _known_order_mistake(layers, main, shortcut)
    return message + (f". {hint}" if hint else "")


def _known_order_mistake(layers, main, shortcut) -> str:
    """Name an order that belongs to the other kind of block: the original order (convolution
    first) where a pre-activation block is expected, and the other way round."""
    got = [x["type"] for x in _without(layers, shortcut)]
    want = [e[0] for e in main]
    if got == want or sorted(got) != sorted(want) or not got:
        return ""
    if want[0] == "BatchNorm2d" and got[0] == "Conv2d":
        return (
            "This is the original order (convolution, then batch normalisation); a pre-activation block "
            "starts with batch normalisation and ReLU and ends with a convolution"
        )
    if want[0] == "Conv2d" and got[0] == "BatchNorm2d":
        return "This is the pre-activation order; this block starts with a convolution, its batch norm comes after it"
    return ""


def _without(layers, shortcut):
    if shortcut is None:
        return layers
    for j, x in enumerate(layers):
        if _matches(shortcut, x):
            return layers[:j] + layers[j + 1 :]
    return layers


def _call_text(args: list[Any]) -> str:
    return ", ".join(repr(a) for a in args)


# ------------------------------------------------------------------ structure properties
def block_order(net: Any, ctx: Any) -> None:
    """The block's layers with parameters are its recipe's, in order (options: block =
    "residual" | "bottleneck" | "preact"); the shortcut convolution may run anywhere."""
    kind = ctx.options["block"]
    main, shortcut = _recipe(ctx, kind, list(ctx.args))
    layers = _with_parameters(_from_network(net))
    if split_shortcut(layers, main, shortcut) is None:
        raise CheckFailed(_order_failure(ctx.what, layers, main, shortcut))


def blocks_in_network(net: Any, ctx: Any) -> None:
    """Every module of the notebook's block class (options: type = its class name, block =
    its recipe, count = how many the network must have) calls its layers in the recipe's
    order; its channels, shortcut and stride are read from the layers it calls."""
    kind, type_name, count = ctx.options["block"], ctx.options["type"], ctx.options["count"]
    blocks = [m for m in net.modules if m.type == type_name and not m.torch]
    if len(blocks) != count:
        raise CheckFailed(f"{ctx.what}: {len(blocks)} {type_name} block(s), expected {count}")
    for block in blocks:
        calls = net.within(block.path)
        layers = _with_parameters(_from_network(net, calls))
        convs = [x for x in layers if x["type"] == "Conv2d"]
        if not calls or not convs or not calls[0].inputs or not isinstance(calls[0].inputs[0], list):
            raise CheckFailed(f"{ctx.what}: block {block.path} ({type_name}) runs no convolution")
        cin = calls[0].inputs[0][1]
        cout = max(x["config"].get("out_channels", 0) for x in convs)
        one_by_one = any(_pair(x["config"].get("kernel_size")) == [1, 1] for x in convs)
        main, shortcut = _recipe(ctx, kind, [cin, cout, one_by_one, None])
        if split_shortcut(layers, main, shortcut) is None:
            raise CheckFailed(_order_failure(f"{ctx.what}, block {block.path}", layers, main, shortcut))


# ------------------------------------------------------------------ the traced wiring
def _array(value: Any, what: str) -> np.ndarray:
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "fiu":
        raise CheckFailed(f"{what}: the block's layers returned something other than tensors")
    return value.astype(np.float64)


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=RTOL, atol=ATOL))


def _ordinal(i: int) -> str:
    return ["first", "second", "third", "fourth", "fifth", "sixth"][i] if i < 6 else f"number {i + 1}"


def _names(main: list[tuple]) -> list[str]:
    """How messages name each main-path layer: "the second convolution (Conv2d(3 -> 6, 3x3))"."""
    seen: dict[str, int] = {}
    names = []
    for entry in main:
        n = seen.get(entry[0], 0)
        seen[entry[0]] = n + 1
        noun = "convolution" if entry[0] == "Conv2d" else "batch norm"
        names.append(f"the {_ordinal(n)} {noun} ({_entry_text(entry)})")
    return names


def _run_failure(what: str, error: str, layers: list[dict[str, Any]], shortcut: tuple | None, shape) -> str:
    """The message for a block that raised: when it should have a 1x1 shortcut convolution and
    ran none, that is why (the input cannot be added to a main path of another shape)."""
    message = f"{what} cannot run on an input of shape {tuple(shape)} ({error})"
    if shortcut is not None and not any(_matches(shortcut, x) for x in layers):
        message += (
            f". With use_1x1conv=True the shortcut must be a 1x1 convolution ({_entry_text(shortcut)}): it gives "
            "the input the main path's channels, height and width, so that the two can be added"
        )
    return message


def block_wiring(value: Any, ctx: Any) -> None:
    """From the traced calls of one block on the grader's input X: the first main-path layer
    gets X; every later one gets the previous one's output (after a convolution) or its ReLU
    (after a batch norm); the shortcut convolution gets X (a pre-activation block may give it
    the ReLU of the first batch norm instead); and the output is reference.block_output."""
    kind = ctx.options["block"]
    name, args, X = ctx.args
    what = f"{name}({_call_text(list(args))})"
    if not isinstance(value, dict) or not isinstance(value.get("calls"), list):
        raise CheckFailed(f"{what}: the block could not be traced")
    X = np.asarray(X, dtype=np.float64)
    if not _same(_array(value.get("input"), what), X):
        raise CheckFailed(f"{what}: the block was not run on the grader's input (the kernel changed it)")
    if not all(isinstance(c, dict) for c in value["calls"]):
        raise CheckFailed(f"{what}: the block could not be traced")
    main, shortcut = _recipe(ctx, kind, list(args))
    layers = _with_parameters(value["calls"])
    if value.get("error") is not None:
        raise CheckFailed(_run_failure(what, str(value["error"]), layers, shortcut, X.shape))
    split = split_shortcut(layers, main, shortcut)
    if split is None:
        raise CheckFailed(_order_failure(what, layers, main, shortcut))
    calls, cut = split
    names = _names(main)
    outputs = [_array(c.get("output"), what) for c in calls]
    for i, call in enumerate(calls):
        got = _array(call.get("input"), what)
        if i == 0:
            want, text = X, "the block's input"
        elif main[i - 1][0] == "Conv2d":
            want, text = outputs[i - 1], f"the output of {names[i - 1]}"
        else:
            want, text = _relu(outputs[i - 1]), f"the ReLU of the output of {names[i - 1]}"
        if not _same(got, want):
            hint = ""
            if main[i - 1][0] == "BatchNorm2d" and i and _same(got, outputs[i - 1]):
                hint = ": the ReLU between them is missing"
            elif i and main[i - 1][0] == "Conv2d" and _same(got, _relu(outputs[i - 1])):
                hint = ": there should be no ReLU between them"
            raise CheckFailed(f"{what}: {names[i]} does not get {text}{hint}")
    shortcut_out = None
    if cut is not None:
        shortcut_out = _array(cut.get("output"), what)
        fed = _array(cut.get("input"), what)
        allowed = [X] + ([_relu(outputs[0])] if kind == "preact" else [])
        if not any(_same(fed, a) for a in allowed):
            raise CheckFailed(f"{what}: the shortcut's 1x1 convolution does not get the block's input")
    roles = {"shortcut": shortcut_out}
    roles["bn_last" if main[-1][0] == "BatchNorm2d" else "conv_last"] = outputs[-1]
    out = _array(value.get("output"), what)
    want = ctx.reference.block_output(kind, X, roles).numpy()
    if out.shape != want.shape:
        raise CheckFailed(f"{what}: the output has shape {tuple(out.shape)}, expected {tuple(want.shape)}")
    if not _same(out, want):
        for wrong, message in ctx.reference.block_mistakes(kind, X, roles):
            if _same(out, wrong.numpy()):
                raise CheckFailed(f"{what}: the output is wrong: {message}")
        expected = (
            "the last convolution's output plus the shortcut"
            if kind == "preact"
            else ("ReLU(the last batch norm's output + the shortcut)")
        )
        raise CheckFailed(f"{what}: the output is not {expected}")
