"""Source of exercises/pooling.ipynb and reference/pooling.ipynb (d2l 6.5; d2l v1.0: 7.5)."""

from grader.content import answer, code, md

ASSIGNMENT = "pooling"
NOTEBOOK = "pooling.ipynb"

CELLS = [
    md("""
# 6.5 Pooling — exercises

This notebook follows section 6.5 of *Dive into Deep Learning* (d2l v0.17 numbering, the same
as d2l-zh; section 7.5 in d2l v1.0). The exercises are restated in our own words, in v0.17's
order, each heading also giving its number in v1.0; the part only v1.0 asks comes last.
Define the names each exercise asks for; the grader looks them up by name, so keep the names
exactly as written and run the notebook top to bottom before you submit.

Check your work at any time with `grader check pooling.ipynb`.
"""),
    md("""
## The setting

A pooling layer slides a window over its input like a convolution does, but it has no
weights: it reduces each window to one number, its maximum (max pooling) or its mean
(average pooling).

**Section code.** Write `pool2d(X, pool_size, mode='max')` for a 2-D tensor `X` and a window
`pool_size = (p_h, p_w)`. Move the window one step at a time (stride 1), use no padding, and
return the maximum of each window when `mode == 'max'` and its mean when `mode == 'avg'`. The
output has shape `(n_h - p_h + 1, n_w - p_w + 1)`.
"""),
    code(
        """
import torch
from torch import nn
import torch.nn.functional as F


def pool2d(X, pool_size, mode='max'):
    # TODO: stride-1 max or average pooling of a 2-D tensor
    ...
""",
        """
import torch
from torch import nn
import torch.nn.functional as F


def pool2d(X, pool_size, mode='max'):
    p_h, p_w = pool_size
    out = torch.zeros((X.shape[0] - p_h + 1, X.shape[1] - p_w + 1))
    for row in range(out.shape[0]):
        for col in range(out.shape[1]):
            window = X[row:row + p_h, col:col + p_w]
            out[row, col] = window.max() if mode == 'max' else window.mean()
    return out


pool2d(torch.arange(9.0).reshape(3, 3), (2, 2)), pool2d(torch.arange(9.0).reshape(3, 3), (2, 2), 'avg')
""",
    ),
    md("""
## Conventions for the exercises

Unless an exercise says otherwise, every function below

* takes a 3-D tensor `X` of shape `(C, H, W)` (channels, height, width) — no batch dimension;
* pools **each channel on its own**, so the output has the same number of channels `C`;
* uses a window `pool_size = (p_h, p_w)` (a tuple) and a **stride equal to the window**, which
  is PyTorch's default for `nn.AvgPool2d` / `nn.MaxPool2d`; rows and columns at the bottom and
  right that do not fill a whole window are dropped, so the output is
  `(C, H // p_h, W // p_w)`.

You may compare your results with `F.avg_pool2d(X, pool_size)` and `F.max_pool2d(X, pool_size)`
while you work; the grader does the same.
"""),
    md("""
## Exercise 1 (6.5, ex. 1; v1.0 ex. 1) — average pooling as a special case of convolution

Write `avg_pool_via_conv(X, pool_size)` that computes average pooling **with a convolution**
(`F.conv2d` or an `nn.Conv2d` whose weights you set). It must give the same result as
average pooling, for any number of channels and any window, including non-square ones.
The grader also runs it with PyTorch's pooling, `mean`, `max` and `min` operations (and
sorting) switched off, however your code reaches them (functions, layers, tensor methods).
"""),
    code(
        """
def avg_pool_via_conv(X, pool_size):
    ...
""",
        """
def avg_pool_via_conv(X, pool_size):
    p_h, p_w = pool_size
    channels = X.shape[0]
    # one kernel per channel (groups=channels), every weight 1 / (window size)
    K = torch.full((channels, 1, p_h, p_w), 1.0 / (p_h * p_w))
    return F.conv2d(X.unsqueeze(0), K, stride=(p_h, p_w), groups=channels).squeeze(0)


X = torch.arange(32.0).reshape(2, 4, 4)
avg_pool_via_conv(X, (2, 2)), F.avg_pool2d(X, (2, 2))
""",
    ),
    md(
        "Which convolution did you use (kernel values, input and output channels, stride)? Why must it not mix the channels?"
    ),
    answer(
        "ex1-kernel",
        """
A depthwise convolution: one p_h x p_w kernel per channel, every weight 1 / (p_h * p_w), no
bias, stride equal to the window (groups = C in F.conv2d). A kernel of shape (C, C, p_h, p_w)
filled with the same weight would add up all input channels in every output channel, which
is not what pooling does: pooling acts on each channel separately.
""",
    ),
    md("""
## Exercise 2 (6.5, ex. 2; v1.0 ex. 2 and 3.1-3.2) — max pooling from convolutions

First decide: is max pooling *itself* a convolution (a linear map with a shared kernel)? Set
`max_pool_is_conv` to `True` or `False`.

Max pooling can still be *built* from convolutions and a ReLU, thanks to the identity
`max(a, b) = relu(a - b) + relu(b) - relu(-b)`. Write `max_pool_via_conv_relu(X)` for
**2 x 2 windows with stride 2** on a `(C, H, W)` input, using only convolutions (to pick the
entries of each window) and ReLU (and additions/subtractions). It must equal
`F.max_pool2d(X, 2)`, negative values included. The grader also runs it with PyTorch's
pooling, `mean`, `max` and `min` operations (and sorting) switched off, however your code
reaches them.
"""),
    code(
        """
max_pool_is_conv = ...


def max_pool_via_conv_relu(X):
    ...
""",
        """
max_pool_is_conv = False


def _window_entry(X, i, j):
    # a stride-2 depthwise convolution whose 2x2 kernel is 1 at (i, j) and 0 elsewhere
    channels = X.shape[0]
    K = torch.zeros((channels, 1, 2, 2))
    K[:, 0, i, j] = 1.0
    return F.conv2d(X.unsqueeze(0), K, stride=2, groups=channels).squeeze(0)


def _relu_max(a, b):
    return F.relu(a - b) + F.relu(b) - F.relu(-b)


def max_pool_via_conv_relu(X):
    a, b, c, d = (_window_entry(X, i, j) for i in (0, 1) for j in (0, 1))
    return _relu_max(_relu_max(a, b), _relu_max(c, d))


X = torch.randn(2, 4, 6)
max_pool_via_conv_relu(X), F.max_pool2d(X, 2)
""",
    ),
    md("Why is max pooling not a convolution, and how does the ReLU identity get around that?"),
    answer(
        "ex2-why-not-conv",
        """
A convolution is linear in its input: conv(x + y) = conv(x) + conv(y). The maximum is not
(max(1, 0) + max(0, 1) = 2 but max(1, 1) = 1), so no kernel computes it. Convolutions can
still select the entries of each window, and relu(a - b) + relu(b) - relu(-b) = relu(a - b) + b
equals max(a, b); the non-linearity comes from the ReLU. Two such steps reduce four entries
to their maximum.
""",
    ),
    md("""
## Exercise 3 (6.5, ex. 3; v1.0 ex. 4) — the cost of a pooling layer

A pooling layer gets an input of `c` channels of size `h x w`. Its window is `p_h x p_w`, it
pads `p_h` rows at the top **and** at the bottom and `p_w` columns on the left **and** on the
right, and it moves with stride `(s_h, s_w)`. The output height and width are

    o_h = floor((h + 2 * p_h - p_h) / s_h) + 1
    o_w = floor((w + 2 * p_w - p_w) / s_w) + 1

Count the cost as the number of window entries looked at: every output position of every
channel looks at all `p_h * p_w` entries of its window. Write
`pool_cost(c, h, w, p_h, p_w, s_h, s_w)` returning that number (an int).
"""),
    code(
        """
def pool_cost(c, h, w, p_h, p_w, s_h, s_w):
    ...
""",
        """
def pool_cost(c, h, w, p_h, p_w, s_h, s_w):
    o_h = (h + 2 * p_h - p_h) // s_h + 1
    o_w = (w + 2 * p_w - p_w) // s_w + 1
    return c * o_h * o_w * p_h * p_w


pool_cost(3, 6, 8, 2, 2, 2, 2)
""",
    ),
    md("""
## Exercise 4 (6.5, ex. 4; v1.0 ex. 5) — max pooling versus average pooling

Nothing to code. Explain below why you would expect max pooling and average pooling to
behave differently.
"""),
    answer(
        "ex4-max-vs-avg",
        """
Max pooling keeps only the strongest response in each window: it reports whether a feature
is present anywhere in the window, ignores the others, and its gradient flows to a single
entry. Average pooling blends all entries: it smooths (a low-pass filter), lets weak and
strong responses dilute each other, and spreads the gradient evenly. So max pooling is more
invariant to small shifts of a sharp feature, average pooling keeps more of the overall
intensity of the window.
""",
    ),
    md("""
## Exercise 5 (6.5, ex. 5; v1.0 ex. 6) — minimum pooling

Is a separate minimum pooling layer needed? Show that an operation you already have is
enough: write `min_pool2d(X, pool_size)` that returns the minimum of every window (same
conventions as above), for inputs of any sign.
"""),
    code(
        """
def min_pool2d(X, pool_size):
    ...
""",
        """
def min_pool2d(X, pool_size):
    # min(x) = -max(-x)
    return -F.max_pool2d(-X, pool_size)


min_pool2d(torch.randn(1, 4, 4), (2, 2))
""",
    ),
    md("Do we need a separate minimum pooling layer? What can replace it?"),
    answer(
        "ex5-min-pool",
        """
No. The minimum of a window is minus the maximum of the negated window, so negating the
input, max pooling and negating the output gives min pooling with the layers we already have.
""",
    ),
    md("""
## Exercise 6 (6.5, ex. 6; v1.0 ex. 7) — softmax pooling

Besides the maximum and the mean, a window can be reduced with softmax weights: with
temperature `tau > 0`, each entry `x_i` of a window gets the weight
`exp(x_i / tau) / sum_j exp(x_j / tau)`, and the window's output is `sum_i weight_i * x_i`.

Write `softmax_pool(X, pool_size, tau)` (same conventions as above). For a very large `tau`
every weight tends to the same value and you should get average pooling; for a very small
`tau` the largest entry takes all the weight and you should get max pooling. The grader tries
`tau` from `1e-3` to `1e6`, so make it numerically stable.
"""),
    code(
        """
def softmax_pool(X, pool_size, tau):
    ...
""",
        """
def softmax_pool(X, pool_size, tau):
    p_h, p_w = pool_size
    # (C, o_h, o_w, p_h, p_w): the non-overlapping windows
    windows = X.unfold(1, p_h, p_h).unfold(2, p_w, p_w)
    windows = windows.reshape(*windows.shape[:3], p_h * p_w)
    weights = torch.softmax(windows / tau, dim=-1)  # torch.softmax subtracts the max: stable
    return (weights * windows).sum(dim=-1)


X = torch.randn(1, 4, 4)
softmax_pool(X, (2, 2), 1e6), F.avg_pool2d(X, 2), softmax_pool(X, (2, 2), 1e-3), F.max_pool2d(X, 2)
""",
    ),
    md("What does softmax pooling interpolate between, and why do you think it is not popular?"),
    answer(
        "ex6-softmax-pool",
        """
It moves from average pooling (large tau) to max pooling (small tau). It costs an exponential
per entry and a normalisation per window, needs care to stay numerically stable, adds a
hyper-parameter (or a parameter to learn), and in practice does not beat max pooling, which is
cheaper and simpler; strided convolutions have replaced pooling in many newer networks anyway.
""",
    ),
    md("""
## v1.0 Exercise 3.3 (7.5, d2l v1.0 only) — larger windows, and what the construction costs

Write `max_pool3x3_via_conv_relu(X)`: max pooling over **3 x 3 windows with stride 3** on a
`(C, H, W)` input (rows and columns that do not fill a window are dropped), built like
`max_pool_via_conv_relu`: convolutions pick the entries of each window, ReLUs (with additions
and subtractions) combine them. The grader runs it, too, with pooling, `max`, `min` and `mean`
switched off.

Then count what such a construction needs, seen as a network on **one** input channel:

* a first convolution (no ReLU) copies the `n = p * p` entries of every `p x p` window into `n`
  channels;
* each **ReLU layer** is one round of a knockout tournament: the values are paired up, as many
  pairs as possible; a pair `(a, b)` needs three ReLU units, `relu(a - b)`, `relu(b)` and
  `relu(-b)` (the next layer adds them up with signs `+ + -` to get `max(a, b)`); a value left
  without a partner goes on to the next round through two units, `relu(e)` and `relu(-e)`;
* the rounds go on until one value, the maximum, is left.

Write `max_pool_relu_counts(p)` returning the pair `(channels, layers)` for a `p x p` window
(`p >= 2`): `channels` is the number of ReLU units in the widest ReLU layer, `layers` the
number of ReLU layers.
"""),
    code(
        """
def max_pool3x3_via_conv_relu(X):
    ...


def max_pool_relu_counts(p):
    ...
""",
        """
def _window_entries(X, p):
    # one stride-p depthwise convolution per window position (a, b), its kernel 1 there
    channels = X.shape[0]
    entries = []
    for a in range(p):
        for b in range(p):
            K = torch.zeros((channels, 1, p, p))
            K[:, 0, a, b] = 1.0
            entries.append(F.conv2d(X.unsqueeze(0), K, stride=p, groups=channels).squeeze(0))
    return entries


def _pair_max(a, b):
    # relu(b - a) + relu(a) - relu(-a) = max(a, b): three ReLU units per pair
    return F.relu(b - a) + F.relu(a) - F.relu(-a)


def max_pool3x3_via_conv_relu(X):
    values = _window_entries(X, 3)
    while len(values) > 1:  # one knockout round per ReLU layer
        paired = [_pair_max(a, b) for a, b in zip(values[0::2], values[1::2])]
        values = paired + values[len(paired) * 2:]
    return values[0]


def max_pool_relu_counts(p):
    values, widths = p * p, []
    while values > 1:
        widths.append(3 * (values // 2) + 2 * (values % 2))
        values = values // 2 + values % 2
    return max(widths), len(widths)


X = torch.randn(2, 6, 9)
print(torch.allclose(max_pool3x3_via_conv_relu(X), F.max_pool2d(X, 3)))
max_pool_relu_counts(2), max_pool_relu_counts(3)
""",
    ),
    md("How many channels and layers do 2x2 and 3x3 windows need, and how does that grow with the window?"),
    answer(
        "v1-ex3-counts",
        """
A 2x2 window has 4 entries: 6 ReLU units in the first layer (two pairs) and 2 ReLU layers.
A 3x3 window has 9: 14 units in the first layer (four pairs and one value passed on) and 4
ReLU layers (9 -> 5 -> 3 -> 2 -> 1 values), after a selection convolution with 4 and 9 output
channels per input channel. In general a p x p window needs about 1.5 p^2 units in its widest
layer and ceil(log2(p^2)) ReLU layers: the width grows with the area of the window, the depth
only logarithmically. That is one reason why max pooling is provided as its own operation.
""",
    ),
]
