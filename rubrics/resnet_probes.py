"""Kernel-side probes for 7.6 (run INSIDE the student's kernel).

A residual block's structure (its layers, their order, parameter counts, shapes) is judged by
`kind = "structure"` checks, which never run the block on real numbers. What the structure
cannot show is the wiring between the layers: where the ReLUs are (as functions they are not
layers) and where the shortcut is added. `trace_block` runs one block on the grader's input
and reports every leaf layer's call: its hyper-parameters, the tensor it received and the
tensor it returned, plus the block's output. There are no expected values here: the grader
(rubrics/resnet_checks.py) checks the relations between those tensors (the input of each
layer is the previous layer's output, or its ReLU; the output is the right sum), and the
block's input is the grader's own tensor, checked on return.
"""

_CONFIG = ("in_channels", "out_channels", "kernel_size", "stride", "padding", "groups", "dilation", "num_features")


def _plain(value):
    if isinstance(value, (tuple, list)):
        return [int(v) for v in value]
    return value if isinstance(value, (bool, int)) else None


def trace_block(ctx, name, args, X):
    """Build `name(*args)` (the student's block class), run it in training mode on X (on
    ctx.device()), and return its leaf calls in order, {type, torch, parameters, config, input,
    output},
    with the block's output and the input it was run on, all on the CPU. A block that raises
    is reported with its error and the calls made before it, not as a failed probe.

    Each tensor is cloned when it is seen: a block that adds the shortcut in place
    (`Y += X`) must not change what was recorded for the layer that produced Y."""
    nn = __import__("torch.nn").nn
    module_class = ctx.library("torch.nn.Module")
    tensor_class = ctx.library("torch.Tensor")
    clone, detach = ctx.library("torch.clone"), ctx.library("torch.detach")
    factory = ctx.get(name)
    if not callable(factory):
        raise TypeError(f"`{name}` should be a class (or function) that builds a block, not a {type(factory).__name__}")
    block = factory(*args)
    if not isinstance(block, module_class):
        raise TypeError(f"{name}(...) should be a torch.nn.Module, not a value of type {type(block).__name__}")
    device = ctx.device()
    module_class.to(block, device)
    module_class.train(block)

    def cpu(value):
        return clone(detach(value)).cpu() if isinstance(value, tensor_class) else None

    calls, hooks = [], []
    for module in module_class.modules(block):
        if list(module_class.children(module)):
            continue
        kind = type(module)
        own = sum(p.numel() for p in module_class.parameters(module, recurse=False))

        def record(module, inputs, output, _kind=kind, _own=int(own)):
            calls.append(
                {
                    "type": _kind.__name__,
                    "torch": getattr(nn, _kind.__name__, None) is _kind,
                    "parameters": _own,
                    "config": {k: _plain(getattr(module, k)) for k in _CONFIG if hasattr(module, k)},
                    "input": cpu(inputs[0]) if inputs else None,
                    "output": cpu(output),
                }
            )

        hooks.append(module_class.register_forward_hook(module, record))
    X = ctx.library("torch.Tensor").to(X, device)
    seen = cpu(X)
    error = None
    try:
        with ctx.library("torch.no_grad")():
            out = block(X)
    except Exception as exc:  # a block that cannot run: the calls so far let the grader say why
        out, error = None, f"{type(exc).__name__}: {exc}"[:500]
    finally:
        for hook in hooks:
            hook.remove()
    return {"input": seen, "calls": calls, "output": cpu(out), "error": error}
