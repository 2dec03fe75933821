"""Source of exercises/conv-from-scratch.ipynb and reference/conv-from-scratch.ipynb.

An assignment of our own after chapter 6 of d2l (not a section of the book): convolution and
pooling layers written by hand, with their backward passes, in the im2col style.
"""

from grader.content import code, md

ASSIGNMENT = "conv-from-scratch"
NOTEBOOK = "conv-from-scratch.ipynb"

CELLS = [
    md("""
# Convolution and pooling layers from scratch

This notebook goes with chapter 6 of *Dive into Deep Learning* (convolutional networks), but
it is not one of the book's sections: you build the layers of that chapter yourself, forward
**and** backward, the way deep learning libraries did before they called cuDNN. Define the
names each exercise asks for; the grader looks them up by name, so keep the names exactly as
written and run the notebook top to bottom before you submit.

Check your work at any time with `grader check conv-from-scratch.ipynb`.

**The rules of the game.** Use tensors (or numpy arrays), indexing, loops and arithmetic.
PyTorch's own convolutions (`F.conv1d`, `F.conv2d`, `nn.Conv2d`, ...), `F.unfold` / `F.fold`
(`nn.Unfold` / `nn.Fold`) and pooling (`F.max_pool2d`, `F.avg_pool2d`, ...) are for
*checking* your work in this notebook, not for your answers: the grader switches them off
while it runs your im2col, col2im, corr1d and your layers, and a call that reaches one raises
an error. `Tensor.unfold` and `torch.as_strided` (views of sliding windows) are allowed.
Your layers' `backward` methods run with autograd switched off (`torch.no_grad()`): write the
gradients yourself.
"""),
    code("""
import math

import torch
import torch.nn.functional as F
"""),
    md("""
## Exercise 1 — im2col

A convolution is a matrix product in disguise: copy every window the kernel visits into one
row of a matrix, and the convolution becomes that matrix times the flattened kernels. The
copying step is called **im2col** ("image to columns").

Write `im2col(X, kh, kw, stride=1, padding=0)` for a batch `X` of shape `(N, C, H, W)` and a
window of `kh` rows and `kw` columns. Pad `X` with `padding` zeros on every side, slide the
window with step `stride` in both directions, and return a matrix of shape
`(N * out_h * out_w, C * kh * kw)`, where `out_h = (H + 2 * padding - kh) // stride + 1` (and
the same for `out_w` with `W` and `kw`). The layout, exactly:

* **rows** are ordered `(n, i, j)`: row `n * out_h * out_w + i * out_w + j` is the window of
  output position `(i, j)` of example `n`;
* **columns** are ordered `(c, u, v)`: column `c * kh * kw + u * kw + v` holds
  `X_padded[n, c, i * stride + u, j * stride + v]` — all of channel 0's window, then all of
  channel 1's, and so on.

This is `F.unfold`'s content with the windows moved to the rows: while you work, compare with
`F.unfold(X, (kh, kw), stride=stride, padding=padding).transpose(1, 2).reshape(-1, C * kh * kw)`.
"""),
    code(
        """
def im2col(X, kh, kw, stride=1, padding=0):
    # TODO: (N, C, H, W) -> (N * out_h * out_w, C * kh * kw), rows (n, i, j), columns (c, u, v)
    ...
""",
        """
def im2col(X, kh, kw, stride=1, padding=0):
    N, C, H, W = X.shape
    Xp = F.pad(X, (padding, padding, padding, padding))
    out_h = (H + 2 * padding - kh) // stride + 1
    out_w = (W + 2 * padding - kw) // stride + 1
    # cols[n, c, u, v, i, j] = Xp[n, c, i * stride + u, j * stride + v]: one strided slice per offset
    cols = torch.zeros((N, C, kh, kw, out_h, out_w), dtype=X.dtype)
    for u in range(kh):
        for v in range(kw):
            cols[:, :, u, v] = Xp[:, :, u:u + stride * out_h:stride, v:v + stride * out_w:stride]
    # rows (n, i, j), columns (c, u, v)
    return cols.permute(0, 4, 5, 1, 2, 3).reshape(N * out_h * out_w, C * kh * kw)


X = torch.randn(2, 3, 5, 6)
torch.allclose(im2col(X, 3, 2, stride=2, padding=1),
               F.unfold(X, (3, 2), stride=2, padding=1).transpose(1, 2).reshape(-1, 3 * 3 * 2))
""",
    ),
    md("""
## Exercise 2 — col2im, the adjoint of im2col

The backward pass of im2col goes the other way: it receives a gradient for every entry of the
column matrix and must turn it into a gradient for every pixel of `X`. A pixel that sits in
several windows was copied into several rows, so its gradient is the **sum** of the gradients
of all its copies. In linear-algebra terms, col2im is the *adjoint* (the transpose) of im2col:
for every `X` and every column matrix `Y` of the right shape,
`(im2col(X, ...) * Y).sum() == (X * col2im(Y, X.shape, ...)).sum()`.

Write `col2im(cols, X_shape, kh, kw, stride=1, padding=0)`, where `cols` has im2col's shape
and layout and `X_shape = (N, C, H, W)` is the shape of the image it came from. Add every
entry of `cols` into the pixel it was copied from; entries that were copied from the padding
are dropped. Return a tensor of shape `X_shape`. (It is `F.fold` after undoing the layout of
Exercise 1.)
"""),
    code(
        """
def col2im(cols, X_shape, kh, kw, stride=1, padding=0):
    # TODO: the adjoint of im2col: add each entry into its pixel, drop the padding
    ...
""",
        """
def col2im(cols, X_shape, kh, kw, stride=1, padding=0):
    N, C, H, W = X_shape
    out_h = (H + 2 * padding - kh) // stride + 1
    out_w = (W + 2 * padding - kw) // stride + 1
    cols = cols.reshape(N, out_h, out_w, C, kh, kw).permute(0, 3, 4, 5, 1, 2)  # (N, C, kh, kw, out_h, out_w)
    img = torch.zeros((N, C, H + 2 * padding, W + 2 * padding), dtype=cols.dtype)
    for u in range(kh):
        for v in range(kw):
            # += : a pixel in several windows collects the gradient of every copy
            img[:, :, u:u + stride * out_h:stride, v:v + stride * out_w:stride] += cols[:, :, u, v]
    return img[:, :, padding:padding + H, padding:padding + W]


X, Y = torch.randn(2, 3, 5, 6, dtype=torch.float64), torch.randn(70, 18, dtype=torch.float64)
torch.isclose((im2col(X, 3, 2, 1, 1) * Y).sum(), (X * col2im(Y, X.shape, 3, 2, 1, 1)).sum())
""",
    ),
    md("""
## Exercise 3 — a convolution layer with its backward pass

Write a class `Convolution(W, b, stride=1, pad=0)` for kernels `W` of shape
`(FN, C, FH, FW)` (`FN` output channels) and a bias `b` of shape `(FN,)`:

* `forward(x)` takes `x` of shape `(N, C, H, W)` and returns the cross-correlation of `x` with
  the kernels, plus the bias, shape `(N, FN, out_h, out_w)` — what
  `F.conv2d(x, W, b, stride=stride, padding=pad)` returns. Use your `im2col`: with the
  windows in rows, the whole layer is one matrix product.
* `backward(dout)` takes the gradient of the loss with respect to the output (shape of the
  output) and returns `dx`, the gradient with respect to `x` (shape of `x`). It also stores
  the gradients of the parameters in the attributes `self.dW` (shape of `W`) and `self.db`
  (shape of `b`). Remember what `forward` saw (its columns, the shape of `x`) on `self`.

The grader builds your layer with its own `W`, `b`, calls `forward` and then `backward` with
its own `dout`, and compares `dx`, `dW`, `db` with PyTorch's autograd. Every example of the
batch contributes to `dW` and `db`.
"""),
    code(
        """
class Convolution:
    def __init__(self, W, b, stride=1, pad=0):
        self.W, self.b, self.stride, self.pad = W, b, stride, pad

    def forward(self, x):
        # TODO
        ...

    def backward(self, dout):
        # TODO: return dx; store self.dW and self.db
        ...
""",
        """
class Convolution:
    def __init__(self, W, b, stride=1, pad=0):
        self.W, self.b, self.stride, self.pad = W, b, stride, pad

    def forward(self, x):
        FN, C, FH, FW = self.W.shape
        N, _, H, W = x.shape
        out_h = (H + 2 * self.pad - FH) // self.stride + 1
        out_w = (W + 2 * self.pad - FW) // self.stride + 1
        self.x_shape = tuple(x.shape)
        self.col = im2col(x, FH, FW, self.stride, self.pad)  # (N * out_h * out_w, C * FH * FW)
        self.col_W = self.W.reshape(FN, -1).T  # (C * FH * FW, FN)
        out = self.col @ self.col_W + self.b  # rows (n, i, j), one column per output channel
        return out.reshape(N, out_h, out_w, FN).permute(0, 3, 1, 2)

    def backward(self, dout):
        FN, C, FH, FW = self.W.shape
        dout = dout.permute(0, 2, 3, 1).reshape(-1, FN)  # the rows of forward's product
        self.db = dout.sum(dim=0)
        self.dW = (dout.T @ self.col).reshape(FN, C, FH, FW)
        dcol = dout @ self.col_W.T
        return col2im(dcol, self.x_shape, FH, FW, self.stride, self.pad)


x = torch.randn(2, 3, 7, 6, dtype=torch.float64, requires_grad=True)
W = torch.randn(4, 3, 3, 2, dtype=torch.float64, requires_grad=True)
b = torch.randn(4, dtype=torch.float64, requires_grad=True)
layer = Convolution(W.detach(), b.detach(), stride=2, pad=1)
out = layer.forward(x.detach())
dout = torch.randn_like(out)
dx = layer.backward(dout)
F.conv2d(x, W, b, stride=2, padding=1).backward(dout)
[torch.allclose(mine, autograd) for mine, autograd in ((dx, x.grad), (layer.dW, W.grad), (layer.db, b.grad))]
""",
    ),
    md("""
## Exercise 4 — max and average pooling layers

Write two classes with the same interface, `MaxPool(pool_h, pool_w, stride=1, pad=0)` and
`AvgPool(pool_h, pool_w, stride=1, pad=0)`: `forward(x)` for `x` of shape `(N, C, H, W)`
pools every channel on its own with a `pool_h x pool_w` window, step `stride` and `pad` cells
of padding on every side (output size as in Exercise 1); `backward(dout)` returns `dx`.
They must agree with PyTorch's `F.max_pool2d(x, (pool_h, pool_w), stride, pad)` and
`F.avg_pool2d(x, (pool_h, pool_w), stride, pad)`, and with their gradients, which means:

* **Max pooling pads with minus infinity**: a padded cell never wins, even when every real
  value of the window is negative.
* **Average pooling pads with zeros that count**: a window is always divided by
  `pool_h * pool_w`, padded cells included (PyTorch's `count_include_pad=True`).
* **Ties in max pooling**: when a window's maximum appears more than once, the whole gradient
  of that window goes to the **first** maximum in row-major order (top row first, then left to
  right) — what PyTorch does. `torch.argmax` returns the first one.
* Windows may overlap (`stride < pool_h`): then a cell collects gradient from every window
  that uses it.

Hint: your `im2col` and `col2im` do most of the work here too.
"""),
    code(
        """
class MaxPool:
    def __init__(self, pool_h, pool_w, stride=1, pad=0):
        self.pool_h, self.pool_w, self.stride, self.pad = pool_h, pool_w, stride, pad

    def forward(self, x):
        # TODO
        ...

    def backward(self, dout):
        # TODO: return dx
        ...


class AvgPool:
    def __init__(self, pool_h, pool_w, stride=1, pad=0):
        self.pool_h, self.pool_w, self.stride, self.pad = pool_h, pool_w, stride, pad

    def forward(self, x):
        # TODO
        ...

    def backward(self, dout):
        # TODO: return dx
        ...
""",
        """
class MaxPool:
    def __init__(self, pool_h, pool_w, stride=1, pad=0):
        self.pool_h, self.pool_w, self.stride, self.pad = pool_h, pool_w, stride, pad

    def forward(self, x):
        N, C, H, W = x.shape
        p = self.pad
        out_h = (H + 2 * p - self.pool_h) // self.stride + 1
        out_w = (W + 2 * p - self.pool_w) // self.stride + 1
        xp = F.pad(x, (p, p, p, p), value=float('-inf'))  # padding never wins
        # one row per (n, i, j, c) window
        col = im2col(xp, self.pool_h, self.pool_w, self.stride).reshape(-1, self.pool_h * self.pool_w)
        self.x_shape, self.argmax = tuple(x.shape), col.argmax(dim=1)  # argmax: the first maximum
        out = col.max(dim=1).values
        return out.reshape(N, out_h, out_w, C).permute(0, 3, 1, 2)

    def backward(self, dout):
        N, C = self.x_shape[:2]
        dout = dout.permute(0, 2, 3, 1).reshape(-1)  # the rows of forward's windows
        dmax = torch.zeros((dout.numel(), self.pool_h * self.pool_w), dtype=dout.dtype)
        dmax[torch.arange(dout.numel()), self.argmax] = dout
        dcol = dmax.reshape(-1, C * self.pool_h * self.pool_w)
        return col2im(dcol, self.x_shape, self.pool_h, self.pool_w, self.stride, self.pad)


class AvgPool:
    def __init__(self, pool_h, pool_w, stride=1, pad=0):
        self.pool_h, self.pool_w, self.stride, self.pad = pool_h, pool_w, stride, pad

    def forward(self, x):
        N, C, H, W = x.shape
        out_h = (H + 2 * self.pad - self.pool_h) // self.stride + 1
        out_w = (W + 2 * self.pad - self.pool_w) // self.stride + 1
        self.x_shape = tuple(x.shape)
        col = im2col(x, self.pool_h, self.pool_w, self.stride, self.pad).reshape(-1, self.pool_h * self.pool_w)
        return col.mean(dim=1).reshape(N, out_h, out_w, C).permute(0, 3, 1, 2)

    def backward(self, dout):
        N, C = self.x_shape[:2]
        size = self.pool_h * self.pool_w
        dout = dout.permute(0, 2, 3, 1).reshape(-1, 1)
        dcol = (dout / size).expand(-1, size).reshape(-1, C * size)  # every cell gets 1 / size
        return col2im(dcol, self.x_shape, self.pool_h, self.pool_w, self.stride, self.pad)


x = torch.randint(0, 3, (2, 2, 5, 5)).double().requires_grad_()
layer = MaxPool(3, 3, stride=1)
out = layer.forward(x.detach())
dout = torch.randn_like(out)
F.max_pool2d(x, 3, stride=1).backward(dout)
torch.allclose(layer.backward(dout), x.grad)
""",
    ),
    md("""
## Exercise 5 — full, valid and same padding

For a stride-1 convolution along one dimension with a kernel of `k` taps, write
`get_padding(k, mode)` returning a tuple `(pad_before, pad_after)`:

* `'valid'`: no padding; only windows that lie entirely inside the input.
* `'full'`: every window that overlaps the input in at least one cell, so the output has
  `n + k - 1` entries.
* `'same'`: the output has as many entries as the input, `k - 1` padded cells in all. For an
  odd `k` they split evenly. For an even `k` one side gets one more: put it on the side
  PyTorch's `F.conv2d(..., padding='same')` puts it. Find out which by experiment (compare
  `F.conv2d(x, w, padding='same')` with `F.conv2d(F.pad(x, ...), w)` for a 2x2 or 4x4 kernel).

With a stride `s > 1`, TensorFlow's `'SAME'` keeps `ceil(n / s)` outputs instead. Write
`same_output_size(n, k, s)` returning that number, and `same_padding_total(n, k, s)`, the
padding (both sides together) such a layer needs: the last window starts at
`(same_output_size(n, k, s) - 1) * s` and covers `k` cells, and the padding can never be
negative. Both return Python ints.
"""),
    code(
        """
def get_padding(k, mode):
    ...


def same_output_size(n, k, s):
    ...


def same_padding_total(n, k, s):
    ...
""",
        """
def get_padding(k, mode):
    if mode == 'valid':
        return (0, 0)
    if mode == 'full':
        return (k - 1, k - 1)
    if mode == 'same':
        # PyTorch (like TensorFlow) puts the extra row/column at the end: bottom / right
        return ((k - 1) // 2, k - 1 - (k - 1) // 2)
    raise ValueError(mode)


def same_output_size(n, k, s):
    return math.ceil(n / s)


def same_padding_total(n, k, s):
    return max((same_output_size(n, k, s) - 1) * s + k - n, 0)


x, w = torch.randn(1, 1, 6, 6), torch.randn(1, 1, 4, 4)
before, after = get_padding(4, 'same')
(before, after), torch.allclose(F.conv2d(x, w, padding='same'),
                                F.conv2d(F.pad(x, (before, after, before, after)), w), atol=1e-6)
""",
    ),
    md("""
## Exercise 6 — 1-D cross-correlation

Write `corr1d(x, k, stride=1, padding=0)` for a 1-D signal `x` of length `n` and a 1-D kernel
`k` of length `m`: pad `x` with `padding` zeros at both ends, slide `k` with step `stride`, and
return the 1-D tensor of the sums `sum_t x_padded[i * stride + t] * k[t]` — cross-correlation
(no flip of the kernel), what
`F.conv1d(x.reshape(1, 1, -1), k.reshape(1, 1, -1), stride=stride, padding=padding).reshape(-1)`
gives.
"""),
    code(
        """
def corr1d(x, k, stride=1, padding=0):
    ...
""",
        """
def corr1d(x, k, stride=1, padding=0):
    x = F.pad(x, (padding, padding))
    m = len(k)
    n_out = (len(x) - m) // stride + 1
    return torch.stack([(x[i * stride:i * stride + m] * k).sum() for i in range(n_out)])


x, k = torch.randn(11), torch.randn(4)
torch.allclose(corr1d(x, k, 2, 2), F.conv1d(x.reshape(1, 1, -1), k.reshape(1, 1, -1), stride=2, padding=2).reshape(-1))
""",
    ),
    md("""
## Exercise 7 — depthwise-separable convolution

A depthwise-separable convolution (MobileNet, Xception) replaces one `k x k` convolution from
`c_in` to `c_out` channels by two cheaper ones: a **depthwise** `k x k` convolution, one kernel
per input channel and no mixing of channels (`groups=c_in`, weights of shape
`(c_in, 1, k, k)`), then a **pointwise** `1 x 1` convolution that mixes the channels (weights
`(c_out, c_in, 1, 1)`). Ignore biases throughout; stride 1 and SAME padding, so both
convolutions produce an `h x w` output.

1. Write `dws_params(c_in, c_out, k)`, the number of weights of the pair, and
   `dws_macs(c_in, c_out, k, h, w)`, its multiply-accumulates for an `h x w` output.
2. Write `dws_cost_ratio(c_in, c_out, k)`: the pair's multiply-accumulates divided by those
   of a standard `k x k` convolution from `c_in` to `c_out` channels on the same output. Simplify
   it: it depends on only two of the three numbers.
3. The pair is still a linear, translation-invariant map from `c_in` to `c_out` channels, so it
   is *some* ordinary convolution. Write `dws_to_dense(depthwise_w, pointwise_w)` returning
   that convolution's kernel, shape `(c_out, c_in, k, k)`: `F.conv2d(x, dense)` must equal
   `F.conv2d(F.conv2d(x, depthwise_w, groups=c_in), pointwise_w)` (with any padding, the same
   for both first convolutions).
"""),
    code(
        """
def dws_params(c_in, c_out, k):
    ...


def dws_macs(c_in, c_out, k, h, w):
    ...


def dws_cost_ratio(c_in, c_out, k):
    ...


def dws_to_dense(depthwise_w, pointwise_w):
    ...
""",
        """
def dws_params(c_in, c_out, k):
    return c_in * k * k + c_in * c_out  # depthwise + pointwise


def dws_macs(c_in, c_out, k, h, w):
    return h * w * dws_params(c_in, c_out, k)  # every weight once per output position


def dws_cost_ratio(c_in, c_out, k):
    # h w (c_in k^2 + c_in c_out) / (h w c_in c_out k^2)
    return 1 / c_out + 1 / k ** 2


def dws_to_dense(depthwise_w, pointwise_w):
    # output channel o sees input channel i through its depthwise kernel, scaled by P[o, i]
    return pointwise_w[:, :, 0, 0][:, :, None, None] * depthwise_w[:, 0][None]


D, P, x = torch.randn(4, 1, 3, 3), torch.randn(6, 4, 1, 1), torch.randn(2, 4, 6, 5)
torch.allclose(F.conv2d(x, dws_to_dense(D, P), padding=1),
               F.conv2d(F.conv2d(x, D, padding=1, groups=4), P), atol=1e-5)
""",
    ),
]
