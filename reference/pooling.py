"""Reference solutions for d2l 6.5 "Pooling" (PyTorch).

Run only in the grader process, to compute expected values; never sent to a kernel.
Every function that takes `X` expects a (C, H, W) tensor unless it says otherwise, and
pools with a stride equal to the window (PyTorch's default), dropping rows and columns
that do not fill a whole window.
"""

import torch
import torch.nn.functional as F


def _pair(pool_size):
    if isinstance(pool_size, int):
        return (pool_size, pool_size)
    p_h, p_w = pool_size
    return (int(p_h), int(p_w))


def pool2d(X, pool_size, mode="max"):
    """The section's pooling of a 2-D input: stride 1, no padding, written as loops."""
    X = torch.as_tensor(X, dtype=torch.float64)
    p_h, p_w = _pair(pool_size)
    out = torch.zeros((X.shape[0] - p_h + 1, X.shape[1] - p_w + 1), dtype=torch.float64)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            window = X[i : i + p_h, j : j + p_w]
            out[i, j] = window.max() if mode == "max" else window.mean()
    return out


def avg_pool(X, pool_size):
    """Average pooling of each channel separately (window = stride = pool_size)."""
    X = torch.as_tensor(X, dtype=torch.float64)
    return F.avg_pool2d(X.unsqueeze(0), _pair(pool_size)).squeeze(0)


def max_pool(X, pool_size):
    X = torch.as_tensor(X, dtype=torch.float64)
    return F.max_pool2d(X.unsqueeze(0), _pair(pool_size)).squeeze(0)


def max_pool_2x2(X):
    """What max_pool_via_conv_relu must return: 2x2 max pooling with stride 2."""
    return max_pool(X, (2, 2))


def max_pool_3x3(X):
    """What max_pool3x3_via_conv_relu must return: 3x3 max pooling with stride 3."""
    return max_pool(X, (3, 3))


def max_pool_relu_counts(p):
    """(channels, layers) of max pooling over a p x p window built from ReLUs as a knockout
    tournament (the construction the notebook describes), per input channel.

    Each ReLU layer is one round: the values are paired as far as possible, a pair (a, b)
    takes three units (relu(a - b), relu(b), relu(-b): max(a, b) is their sum with signs
    + + -), a value without a partner takes two (relu(e), relu(-e)). `channels` is the width
    of the widest ReLU layer (the first), `layers` the number of rounds, ceil(log2(p * p)).
    Computed by playing the rounds rather than by the closed forms, so it cannot share a slip
    with a student's formula."""
    values = int(p) * int(p)
    widths = []
    while values > 1:
        pairs, alone = divmod(values, 2)
        widths.append(3 * pairs + 2 * alone)
        values = pairs + alone
    return (max(widths), len(widths))


def min_pool(X, pool_size):
    """The minimum over each window, computed directly (not through max pooling)."""
    X = torch.as_tensor(X, dtype=torch.float64)
    p_h, p_w = _pair(pool_size)
    windows = X.unfold(1, p_h, p_h).unfold(2, p_w, p_w)  # (C, o_h, o_w, p_h, p_w)
    return windows.reshape(*windows.shape[:3], -1).min(dim=-1).values


def pool_output_size(n, window, pad, stride):
    """floor((n + 2 * pad - window) / stride) + 1."""
    return (n + 2 * pad - window) // stride + 1


def pool_cost(c, h, w, p_h, p_w, s_h, s_w):
    """Window elements visited: one per window entry, per output position, per channel.

    The window is p_h x p_w, the padding is p_h rows above and below and p_w columns on
    each side, the stride is (s_h, s_w).
    """
    o_h = pool_output_size(int(h), int(p_h), int(p_h), int(s_h))
    o_w = pool_output_size(int(w), int(p_w), int(p_w), int(s_w))
    return int(c) * o_h * o_w * int(p_h) * int(p_w)


def softmax_pool(X, pool_size, tau):
    """Each window's entries weighted by softmax(entries / tau), then summed."""
    X = torch.as_tensor(X, dtype=torch.float64)
    p_h, p_w = _pair(pool_size)
    C, H, W = X.shape
    o_h, o_w = H // p_h, W // p_w
    cols = F.unfold(X.unsqueeze(0), (p_h, p_w), stride=(p_h, p_w))  # (1, C*p_h*p_w, o_h*o_w)
    cols = cols.reshape(C, p_h * p_w, o_h * o_w)
    weights = torch.softmax(cols / float(tau), dim=1)
    return (weights * cols).sum(dim=1).reshape(C, o_h, o_w)


def avg_pool_limit(X, pool_size, tau):
    """The tau -> infinity limit of softmax pooling: average pooling (tau is ignored)."""
    return avg_pool(X, pool_size)


def max_pool_limit(X, pool_size, tau):
    """The tau -> 0 limit of softmax pooling: max pooling (tau is ignored)."""
    return max_pool(X, pool_size)


# ----------------------------------------------------------------------------- known mistakes
# Wrong answers students give, from the same inputs as the checks that list them under
# `diagnoses` (rubrics/pooling.toml).


def pool2d_avg_sums(X, pool_size, mode="max"):
    """Average pooling that sums each window instead of averaging it (max pooling unchanged)."""
    if mode == "max":
        return pool2d(X, pool_size, mode)
    p_h, p_w = _pair(pool_size)
    return pool2d(X, pool_size, "avg") * (p_h * p_w)


def pool_cost_padding_once(c, h, w, p_h, p_w, s_h, s_w):
    """The padding counted once: p_h rows in all (the book's total-padding convention) where
    this exercise pads p_h rows above and p_h below."""
    o_h = (int(h) + int(p_h) - int(p_h)) // int(s_h) + 1
    o_w = (int(w) + int(p_w) - int(p_w)) // int(s_w) + 1
    return int(c) * o_h * o_w * int(p_h) * int(p_w)


def pool_cost_without_padding(c, h, w, p_h, p_w, s_h, s_w):
    """The padding left out of the output size altogether."""
    o_h = pool_output_size(int(h), int(p_h), 0, int(s_h))
    o_w = pool_output_size(int(w), int(p_w), 0, int(s_w))
    return int(c) * o_h * o_w * int(p_h) * int(p_w)
