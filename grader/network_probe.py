"""Kernel-side description of a network, for `kind = "structure"` checks (runs INSIDE the kernel).

The structure kind ships this file's source with the rubric's probes, and asks the kernel
for `describe_network_probe(ctx, name, is_call, shape, *args)`. It builds the student's
network (a factory is called under `torch.device("meta")`, so a VGG of 130 million
parameters allocates nothing), runs it once on a meta tensor of `shape`, and describes it
as plain data: every module (class, whether it is torch.nn's own class, its hyper-
parameters, its own parameter shapes) and every call of a leaf module (input and output
shapes), in the order the calls ran.

Nothing here counts parameters or operations, and nothing is trusted: the grader
(`grader/structure.py`) rebuilds each torch.nn layer from its hyper-parameters, checks the
description against the rebuilt layers, and counts everything itself. Like the harness,
this file must stay self-contained (stdlib and torch): the grader package is not
importable in the kernel. The grader also runs it on its own reference networks, through
`grader.content.describe_network`, so both sides are described by the same code.
"""

MAX_MODULES = 5000  # a description longer than this is refused (ResNet-152 has ~500 modules)
MAX_CALLS = 20000


def _plain(value):
    """A hyper-parameter as plain data (tuples become lists), or None when it is not plain."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (tuple, list)) and all(v is None or isinstance(v, (bool, int, float)) for v in value):
        return list(value)
    return None


def _shapes(value, tensor_class):
    """The shape of a tensor, or of each tensor of a tuple or list (one level deep), or None."""
    if isinstance(value, tensor_class):
        return list(value.shape)
    if isinstance(value, (tuple, list)):
        return [list(v.shape) if isinstance(v, tensor_class) else None for v in value]
    return None


def _config(module, nn):
    """torch.nn's own hyper-parameters of a layer: its `__constants__`, and whether it has a bias."""
    kind = type(module)
    config = {}
    for key in getattr(kind, "__constants__", ()):
        if isinstance(key, str) and hasattr(module, key):
            value = _plain(getattr(module, key))
            if value is not None or getattr(module, key) is None:
                config[key] = value
    try:
        takes_bias = "bias" in __import__("inspect").signature(kind).parameters
    except (TypeError, ValueError):
        takes_bias = False
    if takes_bias:
        config["bias"] = getattr(module, "bias", None) is not None
    return config


def _recorder(number, calls, tensor_class):
    """A forward hook that records one call of module `number`: its input and output shapes."""

    def record(module, inputs, output):
        if len(calls) <= MAX_CALLS:  # one more than allowed marks the overflow
            calls.append(
                {
                    "module": number,
                    "inputs": [_shapes(x, tensor_class) for x in inputs],
                    "output": _shapes(output, tensor_class),
                }
            )

    return record


def _meta_copy(ctx, target, module_class):
    """A copy of the notebook's module whose parameters and buffers are on the meta device from
    the start: deepcopy is handed them ready-made, so a VGG the notebook built with real weights
    (half a gigabyte) is not copied in memory on its way to being described. Anything else the
    module holds is copied as deepcopy copies it; the notebook's own module is left as it was."""
    if not isinstance(target, module_class):
        return target  # refused by the caller, with the type named
    torch = __import__("torch")
    parameter = ctx.library("torch.nn.Parameter")
    memo = {}
    for tensor in [*module_class.parameters(target), *module_class.buffers(target)]:
        meta = torch.empty_like(tensor, device="meta")
        memo[id(tensor)] = (
            parameter(meta, requires_grad=tensor.requires_grad) if isinstance(tensor, parameter) else meta
        )
    return ctx.library("copy.deepcopy")(target, memo)


def describe_network_probe(ctx, name, is_call, shape, *args):
    """Build `name` (or call it with `args`), run it on a meta tensor of `shape`, describe it."""
    torch = __import__("torch")
    module_class = ctx.library("torch.nn.Module")
    tensor_class = ctx.library("torch.Tensor")
    nn = __import__("torch.nn").nn
    target = ctx.get(name)
    if is_call:
        if not callable(target):
            raise TypeError(f"`{name}` should be a function that returns a network, not a {type(target).__name__}")
        with torch.device("meta"):
            net = target(*args)
    else:
        net = _meta_copy(ctx, target, module_class)
    if not isinstance(net, module_class):
        what = f"{name}(...)" if is_call else f"`{name}`"
        raise TypeError(f"{what} should be a torch.nn.Module, not a value of type {type(net).__name__}")
    module_class.to(net, "meta")
    modules: list = []
    hooks: list = []
    calls: list = []
    # at most one more than allowed: a network that lists millions of modules is not walked to the end
    named = list(__import__("itertools").islice(module_class.named_modules(net), MAX_MODULES + 1))
    if len(named) > MAX_MODULES:
        raise ValueError(f"the network has more than {MAX_MODULES} modules")
    for number, (_, module) in enumerate(named):
        if not list(module_class.children(module)):
            hooks.append(module_class.register_forward_hook(module, _recorder(number, calls, tensor_class)))
    try:
        with torch.device("meta"), ctx.library("torch.no_grad")():
            module_class.eval(net)
            output = net(ctx.library("torch.zeros")(tuple(shape), device="meta"))
    except Exception as exc:
        where = "(" + ", ".join(str(d) for d in shape) + ")"
        raise RuntimeError(f"it cannot run on an input of shape {where}: {type(exc).__name__}: {exc}") from None
    finally:
        for hook in hooks:
            hook.remove()
    if len(calls) > MAX_CALLS:
        raise ValueError(f"the network runs more than {MAX_CALLS} layers on one input")
    for path, module in named:  # described after the call: lazy layers have become Conv2d, Linear
        kind = type(module)
        is_torch = getattr(nn, kind.__name__, None) is kind
        own = list(module_class.named_parameters(module, recurse=False))
        modules.append(
            {
                "path": path,
                "type": kind.__name__,
                "torch": is_torch,
                "leaf": not list(module_class.children(module)),
                "config": _config(module, nn) if is_torch else {},
                "params": {key: list(p.shape) for key, p in own},
                "trainable": {key: bool(p.requires_grad) for key, p in own},
            }
        )
    return {"input": list(shape), "output": _shapes(output, tensor_class), "modules": modules, "calls": calls}
