"""Kernel-side training on one synthetic batch, for `kind = "fit"` checks (runs INSIDE the kernel).

The fit kind ships this file's source with the rubric's probes, and asks the kernel for
`fit_batch_probe(ctx, name, is_call, steps, lr, prototypes, noise)`. It gets a fresh network
(`is_call`: the student's factory `name()`, with its own initialisation; otherwise a deep copy
of the module `name`, every layer re-initialised with its `reset_parameters`, so the
student's own network is never touched and earlier training does not count), builds the
images from the grader's tensors, and fits them with Adam on the mean cross-entropy for
`steps` steps on `ctx.device()`.

It returns the images it trained on and the network's outputs (logits) on them before and
after training, in evaluation mode, on the CPU. Nothing here is a verdict: the grader
(`grader/fit.py`) rebuilds the images from its own tensors, refuses a run on others, and
computes both losses itself. Every library object comes from `ctx.library` (as it was
before any student cell ran), so a notebook that rebinds `torch.optim.Adam` or
`F.cross_entropy` changes nothing. Like the harness, this file must stay self-contained
(stdlib and torch): the grader package is not importable in the kernel. The harness seeds
torch before the call, so a run is repeatable.
"""


def _network(ctx, name, is_call):
    """A network to train: a fresh one from the factory, or a re-initialised copy of the module."""
    module_class = ctx.library("torch.nn.Module")
    target = ctx.get(name)
    if is_call:
        if not callable(target):
            raise TypeError(f"`{name}` should be a function that returns a network, not a {type(target).__name__}")
        net = target()
        if not isinstance(net, module_class):
            raise TypeError(f"{name}() should return a torch.nn.Module, not a value of type {type(net).__name__}")
        return net
    if not isinstance(target, module_class):
        raise TypeError(
            f"`{name}` should be a torch.nn.Module (e.g. an nn.Sequential), not a value of type {type(target).__name__}"
        )
    try:
        net = ctx.library("copy.deepcopy")(target)
    except Exception as exc:
        raise TypeError(f"`{name}` cannot be copied to be trained ({type(exc).__name__}: {exc})") from None
    for module in module_class.modules(net):
        reset = getattr(module, "reset_parameters", None)
        if callable(reset):
            reset()
    return net


def _images(ctx, prototypes, noise):
    """Image k: prototype k % classes, upsampled by nearest repetition to the noise's size,
    plus noise[k]; label k % classes (grader/fit.py's `synthetic_batch`, with torch)."""
    repeat, arange = ctx.library("torch.repeat_interleave"), ctx.library("torch.arange")
    index_select, add = ctx.library("torch.index_select"), ctx.library("torch.add")
    remainder = ctx.library("torch.remainder")
    rows, columns = noise.shape[2] // prototypes.shape[2], noise.shape[3] // prototypes.shape[3]
    upsampled = repeat(repeat(prototypes, rows, dim=2), columns, dim=3)
    labels = remainder(arange(noise.shape[0]), prototypes.shape[0])
    return add(index_select(upsampled, 0, labels), noise), labels


def _logits(output, tensor_class, n, classes):
    """The output is (n, k >= classes): scores the cross-entropy can take for these labels."""
    return (
        isinstance(output, tensor_class) and output.dim() == 2 and output.shape[0] == n and output.shape[1] >= classes
    )


def _cpu(value, tensor_class):
    return tensor_class.cpu(value) if isinstance(value, tensor_class) else value


def fit_batch_probe(ctx, name, is_call, steps, lr, prototypes, noise):
    """Train a fresh `name` for `steps` Adam steps (learning rate `lr`) on the synthetic batch;
    {"images", "initial", "final"}: the images and the logits before and after, on the CPU."""
    module_class = ctx.library("torch.nn.Module")
    tensor_class = ctx.library("torch.Tensor")
    no_grad = ctx.library("torch.no_grad")
    cross_entropy = ctx.library("torch.nn.functional.cross_entropy")
    device = ctx.device()
    net = _network(ctx, name, is_call)
    module_class.to(net, device)
    X, y = _images(ctx, prototypes, noise)
    X_device, y_device = tensor_class.to(X, device), tensor_class.to(y, device)
    with no_grad():  # also gives lazy layers their sizes before the optimiser sees them
        module_class.eval(net)
        initial = net(X_device)
    if not _logits(initial, tensor_class, X.shape[0], prototypes.shape[0]):
        # no cross-entropy to train on: the grader names the shape (as it would after training)
        return {"images": X, "initial": _cpu(initial, tensor_class), "final": _cpu(initial, tensor_class)}
    optimizer = ctx.library("torch.optim.Adam")(module_class.parameters(net), lr=lr)
    module_class.train(net)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = cross_entropy(net(X_device), y_device)
        loss.backward()
        optimizer.step()
    with no_grad():
        module_class.eval(net)
        final = net(X_device)
    return {"images": X, "initial": _cpu(initial, tensor_class), "final": _cpu(final, tensor_class)}
