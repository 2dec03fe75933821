"""Kernel-side probes for 7.1 (run INSIDE the student's kernel).

They exercise the student's factories and send back plain data only; there are no expected
values here, and nothing they compute is used as one: rubrics/alexnet_checks.py judges what
comes back against reference/alexnet.py, in the grader. The networks' structure (parameters,
MACs, shapes) is not measured here at all: the `structure` kind does that in the grader.

`io_channels` reads two hyper-parameters (what the first convolution takes in, what the last
fully connected layer puts out) even when the network cannot run on the grader's input, so that
an ImageNet-shaped AlexNet (3 channels in, 1000 classes out) is named as such. The training of
`alexnet28` is a `fit` check: the engine's own probe (grader/fit_probe.py) runs it.

The library objects a probe uses come from `ctx.library` (as they were before any student
cell ran), so a notebook that rebinds them changes nothing here.
"""


def _build(ctx, name, device):
    """Call the student's factory `name()` on `device` (e.g. "meta") and check it made a module."""
    factory = ctx.get(name)
    if not callable(factory):
        raise TypeError(f"`{name}` should be a function that returns a network, not a {type(factory).__name__}")
    with ctx.library("torch.device")(device):
        net = factory()
    if not isinstance(net, ctx.library("torch.nn.Module")):
        raise TypeError(f"{name}() should return a torch.nn.Module, not a value of type {type(net).__name__}")
    return net


def io_channels(ctx, name, shape):
    """(in_channels of the first convolution, out_features of the last fully connected layer).

    Built on the meta device. Lazy layers (nn.LazyConv2d, nn.LazyLinear: d2l v1.0's style)
    learn their sizes from a first call, so the network is run once on a meta tensor of
    `shape` first; a network that cannot run on it (3 input channels) is read as it is."""
    module_class = ctx.library("torch.nn.Module")
    net = _build(ctx, name, "meta")
    try:
        with ctx.library("torch.no_grad")():
            module_class.eval(net)
            net(ctx.library("torch.zeros")(tuple(shape), device="meta"))
    except Exception:  # read the hyper-parameters as they are
        pass
    convs = [m for m in module_class.modules(net) if hasattr(m, "in_channels") and hasattr(m, "kernel_size")]
    linears = [m for m in module_class.modules(net) if hasattr(m, "out_features") and hasattr(m, "in_features")]
    first = int(convs[0].in_channels) if convs else None
    last = int(linears[-1].out_features) if linears else None
    return (first, last)
