"""Reference solutions for d2l 7.5 "Batch Normalization" (d2l v1.0: 8.5), PyTorch.

Run only in the grader process, to compute expected values and to name known mistakes;
never sent to a kernel. Everything is computed in float64.

Conventions (stated in the notebook):

* `batch_norm(X, gamma, beta, moving_mean, moving_var, eps, momentum)` normalises a 2-D
  input (N, D) per feature (over dim 0) and a 4-D input (N, C, H, W) per channel (over
  dims 0, 2, 3). In training mode it uses the batch mean and the BIASED batch variance
  (divide by the number of values), as PyTorch's BatchNorm does for its output.
* The book's momentum: `moving = momentum * moving + (1 - momentum) * batch statistic`
  (momentum 0.9 keeps 90% of the old value). PyTorch's `momentum=0.1` is the weight of the
  NEW statistic: the same average, written the other way round.
* The moving variance may be updated with the biased batch variance (the book) or the
  unbiased one (PyTorch's running_var, n / (n - 1) times larger): both are accepted.
* Prediction mode (the book: gradients switched off) normalises with the moving statistics
  and leaves them unchanged.
"""

import torch
import torch.nn.functional as F
from torch import nn

EPS = 1e-5
BOOK_MOMENTUM = 0.9  # the book's: the weight of the OLD moving statistic
TORCH_MOMENTUM = 0.1  # PyTorch's equivalent: the weight of the NEW batch statistic


def _t(x):
    return torch.as_tensor(x, dtype=torch.float64)


def _axes(X):
    if X.dim() == 2:
        return (0,)
    if X.dim() == 4:
        return (0, 2, 3)
    raise ValueError(f"batch normalisation here takes 2-D or 4-D inputs, not {X.dim()}-D")


def _like_channels(t, X):
    """A per-feature / per-channel tensor (any shape with C entries) shaped to broadcast
    against X: (1, C) or (1, C, 1, 1)."""
    shape = (1, X.shape[1]) + (1,) * (X.dim() - 2)
    return _t(t).reshape(shape)


def count_per_channel(X):
    """How many values each feature / channel's statistics are computed from."""
    X = _t(X)
    n = 1
    for axis in _axes(X):
        n *= X.shape[axis]
    return n


def batch_stats(X, unbiased=False):
    """Batch mean and variance per feature (2-D) or per channel (4-D), keepdim."""
    X = _t(X) if not torch.is_tensor(X) else X
    axes = _axes(X)
    mean = X.mean(dim=axes, keepdim=True)
    var = ((X - mean) ** 2).mean(dim=axes, keepdim=True)
    if unbiased:
        n = count_per_channel(X)
        var = var * n / (n - 1)
    return mean, var


# ------------------------------------------------------------------ section: batch_norm
def batch_norm_train(X, gamma, beta, moving_mean=None, moving_var=None, eps=EPS, momentum=BOOK_MOMENTUM):
    """Training-mode output: batch statistics, biased variance. Differentiable in X, gamma
    and beta (the gradient checks differentiate it); the moving statistics do not matter."""
    X = X if torch.is_tensor(X) else _t(X)
    mean, var = batch_stats(X)
    return _like_channels(gamma, X) * (X - mean) / torch.sqrt(var + float(eps)) + _like_channels(beta, X)


def batch_norm_predict(X, gamma, beta, moving_mean, moving_var, eps=EPS, momentum=BOOK_MOMENTUM):
    """Prediction-mode output: the moving statistics instead of the batch's."""
    X = _t(X)
    mean, var = _like_channels(moving_mean, X), _like_channels(moving_var, X)
    return _like_channels(gamma, X) * (X - mean) / torch.sqrt(var + float(eps)) + _like_channels(beta, X)


def moving_update(X, moving_mean, moving_var, momentum, unbiased=False, reversed_momentum=False):
    """The moving statistics after one training call, flattened to one value per channel.

    `reversed_momentum`: a known mistake, PyTorch's meaning of momentum in the book's
    formula (the new statistic weighted by momentum)."""
    X = _t(X)
    mean, var = batch_stats(X, unbiased=unbiased)
    keep = 1.0 - float(momentum) if reversed_momentum else float(momentum)
    new_mean = keep * _t(moving_mean).reshape(-1) + (1.0 - keep) * mean.reshape(-1)
    new_var = keep * _t(moving_var).reshape(-1) + (1.0 - keep) * var.reshape(-1)
    return new_mean, new_var


# known mistakes, as values the property checks compare against
def batch_norm_train_unbiased(X, gamma, beta, moving_mean, moving_var, eps, momentum):
    """Normalising with the unbiased batch variance (torch.var's default)."""
    X = X if torch.is_tensor(X) else _t(X)
    mean, var = batch_stats(X, unbiased=True)
    return _like_channels(gamma, X) * (X - mean) / torch.sqrt(var + float(eps)) + _like_channels(beta, X)


def batch_norm_train_per_position(X, gamma, beta, moving_mean, moving_var, eps, momentum):
    """A 4-D input normalised like a fully connected one: statistics over dim 0 only, one per
    (channel, row, column) instead of one per channel."""
    X = X if torch.is_tensor(X) else _t(X)
    mean = X.mean(dim=0, keepdim=True)
    var = ((X - mean) ** 2).mean(dim=0, keepdim=True)
    return _like_channels(gamma, X) * (X - mean) / torch.sqrt(var + float(eps)) + _like_channels(beta, X)


def batch_norm_train_detached(X, gamma, beta, moving_mean=None, moving_var=None, eps=EPS, momentum=BOOK_MOMENTUM):
    """The right output, but the batch mean and variance treated as constants (computed from a
    detached X): the gradient for X misses their dependence on X."""
    X = X if torch.is_tensor(X) else _t(X)
    mean, var = batch_stats(X.detach())
    return _like_channels(gamma, X) * (X - mean) / torch.sqrt(var + float(eps)) + _like_channels(beta, X)


# ------------------------------------------------------------------ section: the BatchNorm module
def module_run(num_dims, gamma, beta, batches, test_X, unbiased_running=True):
    """What a BatchNorm layer with affine parameters gamma, beta does: one training step per
    batch (outputs recorded), then the running statistics, then the output on test_X in
    evaluation mode. unbiased_running=True is exactly torch.nn.BatchNorm1d/2d (momentum 0.1 =
    the book's 0.9); False is the book's own layer (biased variance in the moving average)."""
    gamma, beta = _t(gamma).reshape(-1), _t(beta).reshape(-1)
    channels = gamma.numel()
    if unbiased_running:
        layer = (nn.BatchNorm2d if int(num_dims) == 4 else nn.BatchNorm1d)(
            channels, eps=EPS, momentum=TORCH_MOMENTUM, dtype=torch.float64
        )
        with torch.no_grad():
            layer.weight.copy_(gamma)
            layer.bias.copy_(beta)
        layer.train()
        with torch.no_grad():
            outputs = [layer(_t(X)) for X in batches]
            running = (layer.running_mean.clone(), layer.running_var.clone())
            layer.eval()
            test = layer(_t(test_X))
        return {"train": outputs, "moving_mean": running[0], "moving_var": running[1], "eval": test}
    mean, var = torch.zeros(channels, dtype=torch.float64), torch.ones(channels, dtype=torch.float64)
    outputs = []
    for X in batches:
        outputs.append(batch_norm_train(_t(X), gamma, beta))
        mean, var = moving_update(X, mean, var, BOOK_MOMENTUM)
    test = batch_norm_predict(test_X, gamma, beta, mean, var)
    return {"train": outputs, "moving_mean": mean, "moving_var": var, "eval": test}


def module_run_reversed_momentum(num_dims, gamma, beta, batches, test_X):
    """A known mistake: the layer passes PyTorch's momentum (0.1) to the book's formula."""
    gamma, beta = _t(gamma).reshape(-1), _t(beta).reshape(-1)
    mean = torch.zeros(gamma.numel(), dtype=torch.float64)
    var = torch.ones(gamma.numel(), dtype=torch.float64)
    for X in batches:
        mean, var = moving_update(X, mean, var, BOOK_MOMENTUM, reversed_momentum=True)
    return {"moving_mean": mean, "moving_var": var}


# ------------------------------------------------------------------ section: the concise LeNet
def lenet_bn():
    """The section's LeNet with batch normalisation after every convolution and every hidden
    fully connected layer (torch.nn's layers), for 28x28 inputs (no padding: 16 x 4 x 4)."""
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5),
        nn.BatchNorm2d(6),
        nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5),
        nn.BatchNorm2d(16),
        nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 4 * 4, 120),
        nn.BatchNorm1d(120),
        nn.Sigmoid(),
        nn.Linear(120, 84),
        nn.BatchNorm1d(84),
        nn.Sigmoid(),
        nn.Linear(84, 10),
    )


# the affine parameters (gamma and beta) of lenet_bn's batch-norm layers: 2 x (6 + 16 + 120 + 84)
LENET_BN_AFFINE = 2 * (6 + 16 + 120 + 84)
BN_TYPES = ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "BatchNorm")


# ------------------------------------------------------------------ exercise 1: the bias before BN
def layer_bn(X, W, b):
    """A fully connected (W is 2-D) or 3x3-padded convolutional (W is 4-D, padding 1) layer
    with bias, then batch normalisation in training mode with gamma = 1, beta = 0."""
    X = X if torch.is_tensor(X) else _t(X)
    Z = F.linear(X, W, b) if W.dim() == 2 else F.conv2d(X, W, b, padding=W.shape[-1] // 2)
    mean, var = batch_stats(Z)
    return (Z - mean) / torch.sqrt(var + EPS)


def layer_bn_eval(X, W, b):
    """A known mistake: batch normalisation in evaluation mode with fresh running statistics
    (mean 0, variance 1), where it is an affine map and the bias does matter."""
    X = X if torch.is_tensor(X) else _t(X)
    Z = F.linear(X, W, b) if W.dim() == 2 else F.conv2d(X, W, b, padding=W.shape[-1] // 2)
    return Z / (1.0 + EPS) ** 0.5


def conv_bn_relu(in_channels, out_channels):
    """A 3x3 convolution (padding 1) WITHOUT bias, batch normalisation, ReLU: the bias would
    be removed by the batch mean, and beta shifts the output instead."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
    )


# ------------------------------------------------------------------ exercise 5: fixed gamma and beta
def small_bn_net_sgd(params, X, y, steps, lr):
    """SGD on the probe's small network (rubrics/batch_norm_probes.py: small_bn_net) with the
    batch-norm layers' gamma fixed at 1 and beta at 0: the parameters after `steps` steps of
    full-batch SGD on the mean cross-entropy. `params`: conv weight, conv bias, linear weight,
    linear bias, output weight, output bias (the grader's initial values)."""
    conv_w, conv_b, fc_w, fc_b, out_w, out_b = (_t(p).clone().requires_grad_() for p in params)
    X, y = _t(X), torch.as_tensor(y, dtype=torch.int64)
    trained = [conv_w, conv_b, fc_w, fc_b, out_w, out_b]
    for _ in range(int(steps)):
        Z = F.conv2d(X, conv_w, conv_b, padding=1)
        Z = torch.relu(batch_norm_train(Z, torch.ones(Z.shape[1]), torch.zeros(Z.shape[1])))
        Z = F.linear(Z.flatten(1), fc_w, fc_b)
        Z = torch.relu(batch_norm_train(Z, torch.ones(Z.shape[1]), torch.zeros(Z.shape[1])))
        loss = F.cross_entropy(F.linear(Z, out_w, out_b), y)
        grads = torch.autograd.grad(loss, trained)
        with torch.no_grad():
            for p, g in zip(trained, grads, strict=True):
                p -= float(lr) * g
    return [p.detach() for p in trained]


# ------------------------------------------------------------------ exercise 6 (v0.17): PyTorch's momentum
def book_momentum():
    """A known mistake: the book's momentum passed to PyTorch unchanged."""
    return BOOK_MOMENTUM


# ------------------------------------------------------------------ v1.0 exercise 4: "lite" batch norm
def center_only(X):
    """Only the batch mean removed (per feature / per channel)."""
    X = _t(X)
    mean, _ = batch_stats(X)
    return X - mean


def scale_only(X, eps=EPS):
    """Only divided by the batch standard deviation (biased variance around the batch mean,
    plus eps); the mean is not removed."""
    X = _t(X)
    _, var = batch_stats(X)
    return X / torch.sqrt(var + float(eps))


def scale_only_uncentred(X, eps=EPS):
    """A known mistake: divided by the root mean square (the second moment about zero), not by
    the standard deviation."""
    X = _t(X)
    square = (X**2).mean(dim=_axes(X), keepdim=True)
    return X / torch.sqrt(square + float(eps))


def center_only_overall(X):
    """A known mistake: one mean over the whole batch, not one per feature / channel."""
    X = _t(X)
    return X - X.mean()
