"""Kernel-side probes for 6.6 (run INSIDE the student's kernel).

They exercise the student's objects on small synthetic inputs and return plain data only
(numbers, strings, lists, dicts, tensors). There are no expected values here: the grader
judges what comes back (rubrics/lenet_checks.py, with reference/lenet.py). The harness
seeds torch, numpy and random before each probe call, so everything below is repeatable.
Keep every probe fast: each call has a time limit of a few seconds. Each probe gets the
harness's ProbeContext first: `ctx.get(name)` reads the student's value (and reports
"name `...` is not defined in your notebook" when it is missing).
"""


def _module(ctx, name):
    import torch

    value = ctx.get(name)
    if not isinstance(value, torch.nn.Module):
        raise TypeError(
            f"`{name}` should be a torch.nn.Module (e.g. an nn.Sequential), not a value of type {type(value).__name__}"
        )
    return value


def _copy(net):
    """Work on a copy so that probing never changes the student's own network."""
    import copy

    try:
        return copy.deepcopy(net)
    except Exception:
        return net


def _pair(value):
    return list(value) if isinstance(value, (tuple, list)) else [value, value]


def describe_net(ctx, name, shape):
    """Leaf layers in the order they run on zeros(shape), with output shapes, and parameter counts."""
    import torch

    net = _copy(_module(ctx, name))
    layers, hooks = [], []

    def record(module, inputs, output):
        entry = {
            "type": type(module).__name__,
            "module": type(module).__module__,
            "shape": list(output.shape) if isinstance(output, torch.Tensor) else None,
        }
        if "Pool" in type(module).__name__:
            entry["kernel_size"] = _pair(getattr(module, "kernel_size", None))
            entry["stride"] = _pair(getattr(module, "stride", None))
            entry["padding"] = _pair(getattr(module, "padding", 0))
        layers.append(entry)

    for m in net.modules():
        if not list(m.children()):
            hooks.append(m.register_forward_hook(record))
    try:
        with torch.no_grad():
            net.eval()(torch.zeros(tuple(shape)))
    finally:
        for h in hooks:
            h.remove()
    return {
        "layers": layers,
        "parameters": int(sum(p.numel() for p in net.parameters())),
        "param_shapes": [list(p.shape) for p in net.parameters()],
    }


def output_shape(ctx, name, n):
    """Shape of the output for a batch of n random 1x28x28 images (evaluation mode)."""
    import torch

    net = _copy(_module(ctx, name))
    with torch.no_grad():
        out = net.eval()(torch.randn(n, 1, 28, 28))
    return list(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__


def _synthetic_batch(n, classes=10):
    """n noisy 28x28 images of `classes` random blocky prototypes, labels 0..classes-1."""
    import torch
    import torch.nn.functional as F

    prototypes = F.interpolate(torch.rand(classes, 1, 7, 7), size=28, mode="nearest")
    y = torch.arange(n) % classes
    return prototypes[y] + 0.3 * torch.randn(n, 1, 28, 28), y


def train_briefly(ctx, name, steps, lr, n):
    """Re-initialise a copy of the net (PyTorch default init), then fit one synthetic batch with Adam.

    Returns the loss on the batch before and after training (both in evaluation mode).
    """
    import torch

    net = _copy(_module(ctx, name))
    for m in net.modules():
        if hasattr(m, "reset_parameters") and callable(m.reset_parameters):
            m.reset_parameters()
    X, y = _synthetic_batch(n)
    loss = torch.nn.CrossEntropyLoss()
    with torch.no_grad():
        initial = loss(net.eval()(X), y).item()
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    net.train()
    for _ in range(steps):
        optimizer.zero_grad()
        batch_loss = loss(net(X), y)
        batch_loss.backward()
        optimizer.step()
    with torch.no_grad():
        final = loss(net.eval()(X), y).item()
    return {"initial": initial, "final": final, "steps": steps}


class _Batches:
    """A re-iterable loader without len(): all train() may rely on is `for X, y in loader`."""

    def __init__(self, batches):
        self._batches = batches

    def __iter__(self):
        return iter(self._batches)


def run_train(ctx, loader_kind, num_epochs, lr):
    """Call the student's train() on a tiny net and 3 batches of 4 tiny images (3 classes).

    Returns the initial and final parameters, the batches and train()'s return value, so that
    the grader can replay minibatch SGD with the reference.
    """
    import torch
    from torch import nn

    train = ctx.get("train")
    net = nn.Sequential(nn.Conv2d(1, 2, kernel_size=3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 2 * 2, 3))
    X = torch.randn(12, 1, 4, 4)
    y = torch.arange(12) % 3
    X[:, 0, 1, 1] += 2.0 * y  # make the classes separable
    batches = [(X[i : i + 4], y[i : i + 4]) for i in range(0, 12, 4)]
    if loader_kind == "dataloader":
        loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=4, shuffle=False)
    else:
        loader = _Batches(batches)
    initial = {k: v.detach().clone() for k, v in net.state_dict().items()}
    returned = train(net, loader, num_epochs, lr)
    if isinstance(returned, (list, tuple)):
        returned = [float(v) if isinstance(v, torch.Tensor) and v.numel() == 1 else v for v in returned]
    return {
        "returned": returned,
        "initial": initial,
        "final": {k: v.detach().clone() for k, v in net.state_dict().items()},
        "batches": [[bx, by] for bx, by in batches],
    }


def activations(ctx, X, activation, pool):
    """Call get_activations(net, X) on a freshly initialised book-layout LeNet; return its
    outputs and the weights of the two convolutions, for the grader to recompute."""
    import torch
    from torch import nn

    get_activations = ctx.get("get_activations")
    act = getattr(nn, activation)
    pooling = getattr(nn, pool)
    net = nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2),
        act(),
        pooling(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5),
        act(),
        pooling(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(400, 120),
        act(),
        nn.Linear(120, 84),
        act(),
        nn.Linear(84, 10),
    )
    with torch.no_grad():
        out = get_activations(net, X)
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise TypeError(f"get_activations should return a pair (A1, A2), got {type(out).__name__}")
    A1, A2 = out
    return {
        "A1": A1,
        "A2": A2,
        "params": {
            "conv1.weight": net[0].weight.detach(),
            "conv1.bias": net[0].bias.detach(),
            "conv2.weight": net[3].weight.detach(),
            "conv2.bias": net[3].bias.detach(),
        },
    }
