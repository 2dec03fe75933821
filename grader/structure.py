"""A network's structure, verified and measured in the grader (part of the content API).

The kernel describes a network as plain data (`grader/network_probe.py`): its modules with
their hyper-parameters and parameter shapes, and the calls of its leaf layers with input and
output shapes. Nothing in that description is taken on trust. `verify` rebuilds every
torch.nn layer the network called on the meta device from its hyper-parameters, requires the
rebuilt layer's parameter shapes and its output shape on the described input to be the
described ones, and counts parameters and multiply-accumulates (MACs) itself, with torch's
`FlopCounterMode` on the rebuilt layers. A layer the notebook wrote itself cannot be
rebuilt: its parameters count as described, its output shape is taken as described, and its
operations are not counted (`Layer.torch` says which is which).

What a forged description could achieve is therefore only the description of some network
that really has the counts the grader computes: the verdict is about that network.
"""

from __future__ import annotations

import inspect
import json
import math
from dataclasses import dataclass, field
from typing import Any

from .compare import CheckFailed
from .network_probe import MAX_CALLS, MAX_MODULES

_LAYERS: dict[str, Any] = {}  # (layer class, hyper-parameters) -> the layer rebuilt on the meta device
_CONTAINERS = frozenset({"Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict"})


@dataclass(frozen=True)
class Module:
    """One module of the network, in definition order (`named_modules`)."""

    path: str  # "" for the network itself, "features.3" for a layer inside it
    type: str  # the class name
    torch: bool  # torch.nn's own class of that name (a notebook's class called Conv2d is not)
    params: dict[str, list[int]]  # own parameters (not those of submodules), by name
    trainable: dict[str, bool]  # requires_grad of each own parameter

    @property
    def parameters(self) -> int:
        return sum(math.prod(shape) for shape in self.params.values())

    @property
    def trainable_parameters(self) -> int:
        return sum(math.prod(shape) for key, shape in self.params.items() if self.trainable.get(key, True))


@dataclass(frozen=True)
class Layer:
    """One call of a leaf module, in the order the calls ran."""

    path: str
    type: str
    torch: bool
    config: dict[str, Any]  # the layer's hyper-parameters (torch.nn layers only)
    inputs: list[Any]  # the shape of each input
    output: Any  # the output's shape (a list of ints), or a list of them for a tuple output
    parameters: int  # the module's own parameters
    macs: int  # multiply-accumulates of this call (torch.nn layers only; 0 otherwise)


@dataclass
class Network:
    """What a structure check judges: the verified description of one network on one input."""

    input: list[int]
    output: Any
    layers: list[Layer]
    modules: list[Module] = field(default_factory=list)

    @property
    def parameters(self) -> int:
        """Every parameter of every module, each module counted once."""
        return sum(m.parameters for m in self.modules)

    @property
    def trainable_parameters(self) -> int:
        return sum(m.trainable_parameters for m in self.modules)

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    def types(self) -> list[str]:
        """The class names of the leaf layers, in the order they ran."""
        return [layer.type for layer in self.layers]

    def count(self, kind: str) -> int:
        """How many calls of layers of class `kind` ran."""
        return sum(1 for layer in self.layers if layer.type == kind)

    def params_of(self, *kinds: str) -> int:
        """Parameters of the modules of these classes (each module once, however often it ran)."""
        return sum(m.parameters for m in self.modules if m.type in kinds)

    def macs_of(self, *kinds: str) -> int:
        return sum(layer.macs for layer in self.layers if layer.type in kinds)

    def shapes(self) -> list[Any]:
        """The output shape of each leaf call, in order."""
        return [layer.output for layer in self.layers]

    def within(self, prefix: str) -> list[Layer]:
        """The calls of layers inside the module at `prefix` (e.g. "3.0": a block), in order."""
        start = prefix + "."
        return [layer for layer in self.layers if layer.path.startswith(start)]


def _shape(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in value)


def _shapes(value: Any) -> bool:
    """A shape, a list of shapes (or None for a non-tensor item of a tuple), or None."""
    return value is None or _shape(value) or (isinstance(value, list) and all(v is None or _shape(v) for v in value))


def _malformed(what: str) -> CheckFailed:
    return CheckFailed(f"{what}: the network could not be described")


def _modules(value: Any, what: str) -> list[dict[str, Any]]:
    modules = value.get("modules")
    if not isinstance(modules, list) or not modules:
        raise _malformed(what)
    for m in modules:
        if not (
            isinstance(m, dict)
            and isinstance(m.get("path"), str)
            and isinstance(m.get("type"), str)
            and isinstance(m.get("torch"), bool)
            and isinstance(m.get("leaf"), bool)
            and isinstance(m.get("config"), dict)
            and isinstance(m.get("params"), dict)
            and all(isinstance(k, str) and _shape(s) for k, s in m["params"].items())
            and isinstance(m.get("trainable"), dict)
            and all(isinstance(t, bool) for t in m["trainable"].values())
        ):
            raise _malformed(what)
    return modules


def _rebuild(module: dict[str, Any], what: str) -> Any:
    """The torch.nn layer the description names, on the meta device, from its hyper-parameters."""
    import torch

    kind = getattr(torch.nn, module["type"], None)
    if not isinstance(kind, type):
        raise CheckFailed(f"{what}: the description names a torch.nn.{module['type']} that torch.nn lacks")
    try:
        signature = inspect.signature(kind)
    except (TypeError, ValueError):
        raise CheckFailed(f"{what}: layer {module['path']} ({module['type']}) cannot be rebuilt") from None
    config = {k: tuple(v) if isinstance(v, list) else v for k, v in module["config"].items()}
    kwargs = {k: v for k, v in config.items() if k in signature.parameters}
    if "device" in signature.parameters:
        kwargs["device"] = "meta"
    try:
        with torch.device("meta"):
            return kind(**kwargs)
    except Exception as exc:
        raise CheckFailed(
            f"{what}: layer {module['path'] or '(the network)'} ({module['type']}) cannot be rebuilt from its "
            f"hyper-parameters ({type(exc).__name__}: {exc})"
        ) from None


def _check_params(module: dict[str, Any], rebuilt: Any, what: str) -> dict[str, list[int]]:
    got = {key: list(p.shape) for key, p in rebuilt.named_parameters(recurse=False)}
    if got != module["params"]:
        raise CheckFailed(
            f"{what}: layer {module['path']} ({module['type']}) does not have the parameters its hyper-parameters "
            f"give: they make {got}, it has {module['params']} (build a layer with the hyper-parameters you want "
            "rather than changing an existing layer's attributes or parameters)"
        )
    return got


def _run(rebuilt: Any, module: dict[str, Any], inputs: list[Any], expected: Any, label: str, what: str) -> int:
    """The MACs of one call of a rebuilt layer on meta inputs; its output shape must be `expected`."""
    if not inputs or not all(_shape(s) for s in inputs):
        raise CheckFailed(f"{what}: layer {label} was called on something other than tensors")
    key = json.dumps([module["type"], module["config"], inputs], sort_keys=True)
    outcome = _CALLS.get(key)
    if outcome is None:
        outcome = _call(rebuilt, inputs)
        if len(_CALLS) >= _CALLS_KEPT:
            _CALLS.clear()
        _CALLS[key] = outcome
    shape, macs, error = outcome
    if error:
        raise CheckFailed(
            f"{what}: the description of layer {label} is inconsistent: it cannot take inputs of shape "
            f"{inputs} ({error})"
        )
    if shape != expected:
        raise CheckFailed(
            f"{what}: the description of layer {label} is inconsistent: on {inputs} it outputs {shape}, "
            f"the description says {expected}"
        )
    return macs


# (layer class, hyper-parameters, input shapes) -> (output shape, MACs, error): ResNet and
# DenseNet run the same layer on the same shapes many times, and checks share networks
_CALLS: dict[str, tuple[Any, int, str]] = {}
_CALLS_KEPT = 20_000


def _call(rebuilt: Any, inputs: list[Any]) -> tuple[Any, int, str]:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    tensors = [torch.empty(tuple(s), device="meta") for s in inputs]
    counter = FlopCounterMode(display=False)
    try:
        with counter, torch.no_grad():
            rebuilt.eval()
            out = rebuilt(*tensors)
    except Exception as exc:
        return None, 0, f"{type(exc).__name__}: {exc}"
    shape = list(out.shape) if isinstance(out, torch.Tensor) else None
    return shape, int(counter.get_total_flops()) // 2, ""


def verify(value: Any, what: str) -> Network:
    """The `Network` a kernel's description names, rebuilt and counted here; CheckFailed
    (saying what is wrong) when the description is malformed or inconsistent."""
    if not isinstance(value, dict) or not _shape(value.get("input")) or not _shapes(value.get("output")):
        raise _malformed(what)
    raw_modules = _modules(value, what)
    calls = value.get("calls")
    if not isinstance(calls, list):
        raise _malformed(what)
    if len(raw_modules) > MAX_MODULES or len(calls) > MAX_CALLS:
        raise CheckFailed(
            f"{what}: the network is too large to describe ({len(raw_modules):,} modules, {len(calls):,} layer "
            f"calls; at most {MAX_MODULES:,} and {MAX_CALLS:,})"
        )
    rebuilt: dict[int, Any] = {}
    modules = []
    for number, m in enumerate(raw_modules):
        if m["torch"] and m["leaf"] is True and m["type"] not in _CONTAINERS:
            key = json.dumps([m["type"], m["config"]], sort_keys=True)
            if key not in _LAYERS:
                if len(_LAYERS) >= _CALLS_KEPT:
                    _LAYERS.clear()
                _LAYERS[key] = _rebuild(m, what)
            rebuilt[number] = _LAYERS[key]
            _check_params(m, rebuilt[number], what)
        modules.append(Module(m["path"], m["type"], m["torch"], dict(m["params"]), dict(m["trainable"])))
    layers = []
    for call in calls:
        if not isinstance(call, dict) or not isinstance(call.get("module"), int) or isinstance(call["module"], bool):
            raise _malformed(what)
        number = call["module"]
        if not 0 <= number < len(raw_modules) or raw_modules[number]["leaf"] is not True:
            raise _malformed(what)
        inputs, output = call.get("inputs"), call.get("output")
        if not isinstance(inputs, list) or not all(_shapes(s) for s in inputs) or not _shapes(output):
            raise _malformed(what)
        m = raw_modules[number]
        label = f"{m['path']} ({m['type']})"
        macs = _run(rebuilt[number], m, inputs, output, label, what) if number in rebuilt else 0
        config = dict(m["config"]) if m["torch"] else {}
        layers.append(Layer(m["path"], m["type"], m["torch"], config, inputs, output, modules[number].parameters, macs))
    return Network(list(value["input"]), value["output"], layers, modules)


def describe_network(net: Any, input_shape: Any, *args: Any) -> Network:
    """The verified `Network` of a network the grader builds (a reference): `net` is a module,
    or a function returning one, called with `args` under `torch.device("meta")`. It is
    described by the very code that describes the student's, then verified and counted the
    same way."""
    import torch

    from .harness import ProbeContext
    from .network_probe import describe_network_probe

    is_call = not isinstance(net, torch.nn.Module)
    description = describe_network_probe(ProbeContext({"net": net}), "net", is_call, list(input_shape), *args)
    return verify(description, getattr(net, "__name__", type(net).__name__))
