"""Kernel-side probes for 6.6 (run INSIDE the student's kernel).

They exercise the student's objects and send back plain data only (numbers, strings, lists,
dicts, tensors). There are no expected values here, and nothing these probes compute is
used as one: the grader (rubrics/lenet_checks.py, with reference/lenet.py) recomputes every
expected value from inputs it chose itself and checks what comes back for consistency.

How the rules of the game shape them:

* The data, and every weight a check's expected values depend on, come from the grader as
  probe arguments (the rubric's seeded inputs). Probes build their own objects (the tiny net
  handed to `train`, the LeNet handed to `get_activations`) from the library as it was before
  any student cell ran (`ctx.library`), so a notebook that rebinds `nn.Conv2d` or
  `nn.CrossEntropyLoss` does not change them. That is defence in depth only: code in the kernel can reach anything
  in its own process, which is why the grader verifies what comes back.
* A probe hands the student's function its objects, then reports what it sees afterwards
  (parameters after `train`, parameters before and after `get_activations`); the grader
  checks those against its own inputs. (Exercise 2's training is a `fit` check: the engine's
  own probe, grader/fit_probe.py.)
* Keep every probe fast: each call has a time limit of a few seconds. The harness seeds
  torch, numpy and random before each probe call, so everything below is repeatable.
"""


def _module(ctx, name):
    value = ctx.get(name)
    if not isinstance(value, ctx.library("torch.nn.Module")):
        raise TypeError(
            f"`{name}` should be a torch.nn.Module (e.g. an nn.Sequential), not a value of type {type(value).__name__}"
        )
    return value


def _copy(ctx, net):
    """Work on a copy so that probing never changes the student's own network."""
    try:
        return ctx.library("copy.deepcopy")(net)
    except Exception:
        return net


def _pair(value):
    return list(value) if isinstance(value, (tuple, list)) else [value, value]


def _snapshot(ctx, net):
    """Every parameter and buffer of a network, as detached copies, by state_dict key."""
    clone, detach = ctx.library("torch.clone"), ctx.library("torch.detach")
    state = ctx.library("torch.nn.Module").state_dict(net)
    return {key: clone(detach(value)) for key, value in state.items()}


def describe_net(ctx, name, shape):
    """Leaf layers in the order they run on zeros(shape), with output shapes, and parameter counts.

    `torch` says whether a layer is exactly the torch.nn class of its name (a class of the
    notebook's own that calls itself MaxPool2d is not one). Hooks, module listing and
    parameters go through torch.nn.Module's own methods, not the network's."""
    module_class = ctx.library("torch.nn.Module")
    tensor_class = ctx.library("torch.Tensor")
    net = _copy(ctx, _module(ctx, name))
    layers, hooks = [], []

    def record(module, inputs, output):
        kind = type(module)
        try:
            torch_class = ctx.library("torch.nn." + kind.__name__)
        except Exception:  # not a name of torch.nn
            torch_class = None
        entry = {
            "type": kind.__name__,
            "module": kind.__module__,
            "torch": kind is torch_class,
            "shape": list(output.shape) if isinstance(output, tensor_class) else None,
        }
        if "Pool" in kind.__name__:
            entry["kernel_size"] = _pair(getattr(module, "kernel_size", None))
            entry["stride"] = _pair(getattr(module, "stride", None))
            entry["padding"] = _pair(getattr(module, "padding", 0))
        layers.append(entry)

    for m in module_class.modules(net):
        if not list(module_class.children(m)):
            hooks.append(module_class.register_forward_hook(m, record))
    try:
        with ctx.library("torch.no_grad")():
            module_class.eval(net)
            net(ctx.library("torch.zeros")(tuple(shape)))
    finally:
        for h in hooks:
            h.remove()
    parameters = list(module_class.parameters(net))
    return {
        "layers": layers,
        "parameters": int(sum(p.numel() for p in parameters)),
        "param_shapes": [list(p.shape) for p in parameters],
    }


def output_shape(ctx, name, n):
    """Shape of the output for a batch of n random 1x28x28 images (evaluation mode)."""
    net = _copy(ctx, _module(ctx, name))
    with ctx.library("torch.no_grad")():
        ctx.library("torch.nn.Module").eval(net)
        out = net(ctx.library("torch.randn")(n, 1, 28, 28))
    return list(out.shape) if isinstance(out, ctx.library("torch.Tensor")) else type(out).__name__


def tiny_net(ctx):
    """The small network handed to the student's train() (reference/lenet.py: tiny_net)."""
    nn = {k: ctx.library("torch.nn." + k) for k in ("Sequential", "Conv2d", "ReLU", "Flatten", "Linear")}
    return nn["Sequential"](
        nn["Conv2d"](1, 2, kernel_size=3), nn["ReLU"](), nn["Flatten"](), nn["Linear"](2 * 2 * 2, 3)
    )


def _load(ctx, net, tensors):
    """Copy the grader's tensors into the network's parameters, in state_dict order."""
    state = ctx.library("torch.nn.Module").state_dict(net)
    if len(state) != len(tensors):
        raise ValueError(f"the probe got {len(tensors)} tensors for {len(state)} parameters")
    with ctx.library("torch.no_grad")():
        for value, tensor in zip(state.values(), tensors, strict=True):
            value.copy_(tensor)


class _Batches:
    """A re-iterable loader without len(): all train() may rely on is `for X, y in loader`."""

    def __init__(self, batches):
        self._batches = tuple(batches)

    def __iter__(self):
        return iter(self._batches)


def run_train(ctx, loader_kind, num_epochs, lr, X, y, *initial):
    """Call the student's train(net, loader, num_epochs, lr) on the tiny net, its weights set
    to the grader's `initial` tensors, and the grader's data (X, y) in minibatches of 4, the
    same ones reference/lenet.py's `train_batches` makes (a list of batches, or a DataLoader).

    Returns train()'s return value and the network's parameters afterwards. The grader
    replays and recomputes everything else from its own inputs."""
    train = ctx.get("train")
    net = tiny_net(ctx)
    _load(ctx, net, initial)
    X = ctx.library("torch.clone")(X)
    X[:, 0, 1, 1] += 2.0 * y  # make the classes separable (reference: train_batches)
    if loader_kind == "dataloader":
        dataset = ctx.library("torch.utils.data.TensorDataset")(X, y)
        loader = ctx.library("torch.utils.data.DataLoader")(dataset, batch_size=4, shuffle=False)
    else:
        loader = _Batches([(X[i : i + 4], y[i : i + 4]) for i in range(0, len(y), 4)])
    returned = train(net, loader, num_epochs, lr)
    tensor_class = ctx.library("torch.Tensor")
    if isinstance(returned, (list, tuple)):
        returned = [float(v) if isinstance(v, tensor_class) and v.numel() == 1 else v for v in returned]
    return {"returned": returned, "final": _snapshot(ctx, net)}


def lenet_for_activations(ctx, activation, pool):
    """A book-layout LeNet with the given activation and pooling, built from the originals."""
    nn = {k: ctx.library("torch.nn." + k) for k in ("Sequential", "Conv2d", "Flatten", "Linear", activation, pool)}
    act, pooling = nn[activation], nn[pool]
    return nn["Sequential"](
        nn["Conv2d"](1, 6, kernel_size=5, padding=2),
        act(),
        pooling(kernel_size=2, stride=2),
        nn["Conv2d"](6, 16, kernel_size=5),
        act(),
        pooling(kernel_size=2, stride=2),
        nn["Flatten"](),
        nn["Linear"](400, 120),
        act(),
        nn["Linear"](120, 84),
        act(),
        nn["Linear"](84, 10),
    )


def activations(ctx, X, activation, pool, *conv_weights):
    """Call get_activations(net, X), then get_activations(net, X with its images in reverse
    order), on a book-layout LeNet whose two convolutions carry the grader's weights
    (conv1.weight, conv1.bias, conv2.weight, conv2.bias).

    Returns both pairs of outputs, and every parameter of the network before the first call
    and after the second: the grader recomputes the activations from its own weights and
    fails a get_activations that changes the network it is handed."""
    get_activations = ctx.get("get_activations")
    net = lenet_for_activations(ctx, activation, pool)
    with ctx.library("torch.no_grad")():
        for layer, weight, bias in ((net[0], *conv_weights[:2]), (net[3], *conv_weights[2:])):
            layer.weight.copy_(weight)
            layer.bias.copy_(bias)
    before = _snapshot(ctx, net)
    flipped = ctx.library("torch.flip")(X, [0])
    outputs = []
    for images in (X, flipped):
        with ctx.library("torch.no_grad")():
            out = get_activations(net, images)
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise TypeError(f"get_activations should return a pair (A1, A2), got {type(out).__name__}")
        outputs.append(list(out))
    return {
        "A1": outputs[0][0],
        "A2": outputs[0][1],
        "reversed": outputs[1],
        "before": before,
        "after": _snapshot(ctx, net),
    }
