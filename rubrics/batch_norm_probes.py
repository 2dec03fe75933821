"""Kernel-side probes for 7.5 batch normalisation (run INSIDE the student's kernel).

They call the student's functions and modules on the grader's tensors and send back plain
data only: outputs, moving statistics, gradients, parameters. There are no expected values
here and nothing computed here is trusted as one: rubrics/batch_norm_checks.py and the
gradient kind recompute everything from the same inputs with reference/batch_norm.py.

The two modes are set the way both the book and PyTorch can see them: a training call runs
with gradients enabled (the book's `batch_norm` tests `torch.is_grad_enabled()`) and, for a
module, after `.train()`; a prediction call runs under `torch.no_grad()` and, for a module,
after `.eval()`. So a layer that looks at `self.training` and one that looks at the grad
mode both behave as intended.

Everything runs on the CPU rather than `ctx.device()`: the tensors hold a few hundred numbers
(a GPU round trip would cost more than the arithmetic), and the gradient checks compare at
float64 precision, which is simplest to keep exact on one device.

Library objects are taken as they were before any student cell ran (`ctx.original`), so a
notebook that rebinds `torch.no_grad` or `nn.BatchNorm2d` does not change what a probe
builds. That is defence in depth only; what comes back is judged in the grader.
"""


def _out(ctx, value):
    """A tensor detached and on the CPU (plain data); anything else as it is."""
    if isinstance(value, ctx.library("torch.Tensor")):
        return value.detach().cpu()
    return value


def _triple(result, what):
    if not isinstance(result, (tuple, list)) or len(result) != 3:
        got = f"{len(result)} values" if isinstance(result, (tuple, list)) else type(result).__name__
        raise TypeError(f"{what} should return three values (Y, moving_mean, moving_var), it returned {got}")
    return result


def _as_parameter(ctx, t):
    return ctx.library("torch.nn.Parameter")(ctx.library("torch.clone")(t))


# ------------------------------------------------------------------ section: batch_norm
def batch_norm_call(ctx, mode, X, gamma, beta, moving_mean, moving_var, eps, momentum):
    """One call of the student's batch_norm in training mode ("train": gradients enabled,
    gamma and beta are parameters) or prediction mode ("predict": under torch.no_grad()).
    Returns Y and the moving statistics it returned."""
    batch_norm = ctx.get("batch_norm")
    clone = ctx.library("torch.clone")
    if mode == "predict":
        with ctx.library("torch.no_grad")():
            result = batch_norm(X, gamma, beta, clone(moving_mean), clone(moving_var), eps, momentum)
    else:
        with ctx.library("torch.enable_grad")():
            result = batch_norm(
                X,
                _as_parameter(ctx, gamma),
                _as_parameter(ctx, beta),
                clone(moving_mean),
                clone(moving_var),
                eps,
                momentum,
            )
    Y, new_mean, new_var = _triple(result, "batch_norm")
    return {"Y": _out(ctx, Y), "moving_mean": _out(ctx, new_mean), "moving_var": _out(ctx, new_var)}


def batch_norm_grads(ctx, X, gamma, beta, moving_mean, moving_var, eps, momentum, upstream):
    """Autograd through the student's batch_norm in training mode: [Y, dX, dgamma, dbeta] for
    the upstream gradient dL/dY the grader chose."""
    batch_norm = ctx.get("batch_norm")
    clone = ctx.library("torch.clone")
    with ctx.library("torch.enable_grad")():
        leaves = [clone(t).requires_grad_(True) for t in (X, gamma, beta)]
        result = batch_norm(*leaves, clone(moving_mean), clone(moving_var), eps, momentum)
        Y = _triple(result, "batch_norm")[0]
        if not isinstance(Y, ctx.library("torch.Tensor")) or not Y.requires_grad:
            raise TypeError("batch_norm's Y does not depend on X, gamma and beta through autograd")
        if tuple(Y.shape) != tuple(upstream.shape):
            raise ValueError(f"batch_norm's Y has shape {tuple(Y.shape)}, expected {tuple(upstream.shape)} (X's)")
        grads = ctx.library("torch.autograd").grad(Y, leaves, upstream, allow_unused=True)
    for name, g in zip(("X", "gamma", "beta"), grads, strict=True):
        if g is None:
            raise ValueError(f"batch_norm's Y does not depend on {name} (autograd finds no gradient)")
    return [_out(ctx, Y)] + [_out(ctx, g) for g in grads]


# ------------------------------------------------------------------ section: the BatchNorm module
def _set_affine(ctx, layer, gamma, beta):
    """Copy the grader's gamma and beta into the layer's own (any shape with C entries)."""
    with ctx.library("torch.no_grad")():
        for name, value in (("gamma", gamma), ("beta", beta)):
            target = getattr(layer, name, None)
            if not isinstance(target, ctx.library("torch.Tensor")):
                raise AttributeError(f"BatchNorm has no tensor `{name}`: keep the book's names gamma and beta")
            if target.numel() != value.numel():
                raise ValueError(f"BatchNorm.{name} has {target.numel()} entries, expected {value.numel()}")
            target.copy_(value.reshape(target.shape))


def module_run(ctx, num_dims, gamma, beta, *batches):
    """BatchNorm(C, num_dims) with the grader's gamma and beta: one training call per batch
    but the last (outputs recorded), the moving statistics it then holds, and its output on
    the last batch in evaluation mode."""
    module_class = ctx.library("torch.nn.Module")
    layer = ctx.get("BatchNorm")(gamma.numel(), num_dims)
    if not isinstance(layer, module_class):
        raise TypeError(f"BatchNorm(...) should be an nn.Module, not a {type(layer).__name__}")
    _set_affine(ctx, layer, gamma, beta)
    module_class.train(layer)
    outputs = []
    with ctx.library("torch.enable_grad")():
        for X in batches[:-1]:
            outputs.append(_out(ctx, layer(X)))
    stats = {}
    for name in ("moving_mean", "moving_var"):
        if not hasattr(layer, name):
            raise AttributeError(f"BatchNorm has no `{name}`: keep the book's names moving_mean and moving_var")
        stats[name] = _out(ctx, getattr(layer, name))
    module_class.eval(layer)
    with ctx.library("torch.no_grad")():
        test = _out(ctx, layer(batches[-1]))
    return {"train": outputs, "moving_mean": stats["moving_mean"], "moving_var": stats["moving_var"], "eval": test}


# ------------------------------------------------------------------ exercise 1: the bias before BN
def bias_grads(ctx, X, W, b, upstream):
    """The student's bias_grad_before_bn(layer, X, upstream) on a layer holding the grader's
    weights: an nn.Linear when W is 2-D, else an nn.Conv2d with a square kernel and 'same'
    padding. Returns what it returned: [Y, dL/dW, dL/db]."""
    fn = ctx.get("bias_grad_before_bn")
    if W.dim() == 2:
        layer = ctx.library("torch.nn.Linear")(W.shape[1], W.shape[0])
    else:
        layer = ctx.library("torch.nn.Conv2d")(W.shape[1], W.shape[0], W.shape[-1], padding=W.shape[-1] // 2)
    with ctx.library("torch.no_grad")():
        layer.weight.copy_(W)
        layer.bias.copy_(b)
    with ctx.library("torch.enable_grad")():
        result = fn(layer, X, upstream)
    if not isinstance(result, (tuple, list)) or len(result) != 3:
        raise TypeError("bias_grad_before_bn should return three tensors [Y, weight gradient, bias gradient]")
    return [_out(ctx, v) for v in result]


# ------------------------------------------------------------------ exercise 5: fixed gamma and beta
def small_bn_net(ctx, own):
    """Conv2d(2, 3, 3, padding 1), batch norm, ReLU, Flatten, Linear(48, 5), batch norm, ReLU,
    Linear(5, 3), for (N, 2, 4, 4) inputs. The batch-norm layers are torch.nn's, or the
    notebook's own BatchNorm when `own` is true."""
    nn = {k: ctx.library("torch.nn." + k) for k in ("Sequential", "Conv2d", "ReLU", "Flatten", "Linear")}
    if own:
        make = ctx.get("BatchNorm")
        bn2, bn1 = make(3, 4), make(5, 2)
    else:
        bn2, bn1 = ctx.library("torch.nn.BatchNorm2d")(3), ctx.library("torch.nn.BatchNorm1d")(5)
    return nn["Sequential"](
        nn["Conv2d"](2, 3, kernel_size=3, padding=1),
        bn2,
        nn["ReLU"](),
        nn["Flatten"](),
        nn["Linear"](48, 5),
        bn1,
        nn["ReLU"](),
        nn["Linear"](5, 3),
    )


def _affine_of(ctx, layer):
    """(gamma, beta) of a batch-norm layer: torch's weight/bias, or the book's gamma/beta."""
    if hasattr(layer, "gamma") or hasattr(layer, "beta"):
        return getattr(layer, "gamma", None), getattr(layer, "beta", None)
    return getattr(layer, "weight", None), getattr(layer, "bias", None)


def _describe_affine(ctx, value):
    """A gamma or beta as plain data: None when removed, else its values and requires_grad."""
    if not isinstance(value, ctx.library("torch.Tensor")):
        return None
    return {"values": _out(ctx, value).reshape(-1), "trainable": bool(value.requires_grad)}


def freeze_and_train(ctx, own, X, y, steps, lr, gamma2, gamma1, *params):
    """Build the small network with the grader's weights (the batch-norm layers get gamma2 and
    gamma1 as gamma, and -gamma as beta, so that a reset to 1 and 0 is visible), hand it to the
    student's freeze_affine, then take `steps` steps of full-batch SGD (lr) on the mean
    cross-entropy over every parameter that still requires a gradient.

    Returns, for each batch-norm layer, its gamma and beta after freeze_affine and after
    training (values and requires_grad, None when removed) and its `affine` flag; the other
    layers' parameters after training and whether they are trainable."""
    freeze = ctx.get("freeze_affine")
    module_class = ctx.library("torch.nn.Module")
    net = small_bn_net(ctx, own)
    tensor_class = ctx.library("torch.Tensor")
    with ctx.library("torch.no_grad")():
        for i, value in zip((0, 4, 7), (params[0:2], params[2:4], params[4:6]), strict=True):
            net[i].weight.copy_(value[0])
            net[i].bias.copy_(value[1])
        for i, gamma in ((1, gamma2), (5, gamma1)):
            g, b = _affine_of(ctx, net[i])
            g.copy_(gamma.reshape(g.shape))
            b.copy_(-gamma.reshape(b.shape))
    returned = freeze(net)
    if isinstance(returned, module_class):
        net = returned
    layers = list(module_class.children(net))
    if len(layers) != 8:
        raise ValueError("freeze_affine changed the layers of the network it was given")
    bn = [layers[1], layers[5]]
    frozen = [[_describe_affine(ctx, v) for v in _affine_of(ctx, layer)] for layer in bn]
    trainable = [p for p in module_class.parameters(net) if p.requires_grad]
    module_class.train(net)
    cross_entropy = ctx.library("torch.nn.functional.cross_entropy")
    if trainable:
        optimizer = ctx.library("torch.optim.SGD")(trainable, lr=lr)
        with ctx.library("torch.enable_grad")():
            for _ in range(steps):
                optimizer.zero_grad()
                cross_entropy(net(X), y).backward()
                optimizer.step()
    others = []
    for i in (0, 4, 7):
        for p in (layers[i].weight, layers[i].bias):
            others.append(
                {"values": _out(ctx, p), "trainable": bool(p.requires_grad)} if isinstance(p, tensor_class) else None
            )
    return {
        "frozen": frozen,
        "trained": [[_describe_affine(ctx, v) for v in _affine_of(ctx, layer)] for layer in bn],
        "affine": [getattr(layer, "affine", None) for layer in bn],
        "others": others,
    }
