"""Kernel-side probes for 7.1 (run INSIDE the student's kernel).

They exercise the student's factories and send back plain data only; there are no expected
values here, and nothing they compute is used as one: rubrics/alexnet_checks.py judges what
comes back against reference/alexnet.py, in the grader. The networks' structure (parameters,
MACs, shapes) is not measured here at all: the `structure` kind does that in the grader.

* `io_channels` reads two hyper-parameters (what the first convolution takes in, what the last
  fully connected layer puts out) even when the network cannot run on the grader's input, so
  that an ImageNet-shaped AlexNet (3 channels in, 1000 classes out) is named as such.
* `train_briefly` trains a network fresh from the student's factory on one synthetic batch made
  from the grader's tensors, and returns the images and logits: the grader computes the losses.

The library objects a probe uses come from `ctx.original` (as they were before any student
cell ran), so a notebook that rebinds `torch.optim.Adam` or `cross_entropy` changes nothing
here. The harness seeds torch before each probe call, so a run is repeatable.
"""


def _build(ctx, name, device=None):
    """Call the student's factory `name()` (on `device`, e.g. "meta") and check it made a module."""
    factory = ctx.get(name)
    if not callable(factory):
        raise TypeError(f"`{name}` should be a function that returns a network, not a {type(factory).__name__}")
    if device is None:
        net = factory()
    else:
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


def synthetic_images(ctx, prototypes, noise):
    """n images of blocky class prototypes plus noise, labels 0..classes-1 in turn:
    prototypes (classes, 1, 7, 7) are upsampled 4x (nearest) to 28x28. The same
    construction as reference/alexnet.py's `synthetic_batch`, from the grader's tensors."""
    repeat, arange = ctx.library("torch.repeat_interleave"), ctx.library("torch.arange")
    index_select, add = ctx.library("torch.index_select"), ctx.library("torch.add")
    remainder = ctx.library("torch.remainder")
    images = repeat(repeat(prototypes, 4, dim=2), 4, dim=3)
    y = remainder(arange(noise.shape[0]), prototypes.shape[0])
    return add(index_select(images, 0, y), noise), y


def train_briefly(ctx, name, steps, lr, prototypes, noise):
    """Build a fresh network with the student's factory `name()` (its own initialisation), then
    fit one synthetic batch with Adam on the mean cross-entropy, on `ctx.device()`.

    Returns the images it trained on and the network's outputs (logits) on them before and
    after training, in evaluation mode (dropout off), on the CPU: the grader computes the
    losses itself, with labels it knows, and checks that the images are the ones it sent."""
    module_class = ctx.library("torch.nn.Module")
    device = ctx.device()
    net = _build(ctx, name)
    module_class.to(net, device)
    X, y = synthetic_images(ctx, prototypes, noise)
    X_dev, y_dev = X.to(device), y.to(device)
    cross_entropy = ctx.library("torch.nn.functional.cross_entropy")
    no_grad = ctx.library("torch.no_grad")
    with no_grad():  # also gives lazy layers their sizes before the optimiser sees them
        module_class.eval(net)
        initial = net(X_dev)
    optimizer = ctx.library("torch.optim.Adam")(module_class.parameters(net), lr=lr)
    module_class.train(net)
    for _ in range(steps):
        optimizer.zero_grad()
        batch_loss = cross_entropy(net(X_dev), y_dev)
        batch_loss.backward()
        optimizer.step()
    with no_grad():
        module_class.eval(net)
        final = net(X_dev)
    return {"images": X, "initial": initial.cpu(), "final": final.cpu(), "steps": steps}
