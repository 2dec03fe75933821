"""Source of exercises/conv-layer.ipynb and reference/conv-layer.ipynb (d2l 6.2; d2l v1.0: 7.2)."""

from grader.content import answer, code, md

ASSIGNMENT = "conv-layer"
NOTEBOOK = "conv-layer.ipynb"

CELLS = [
    md("""
# 6.2 Convolutions for Images — exercises

This notebook follows section 6.2 of *Dive into Deep Learning* (d2l v0.17 numbering, the same
as d2l-zh; section 7.2 in d2l v1.0). The exercises are restated in our own words, in v0.17's
order, each heading also giving its number in v1.0; the kernels only v1.0 asks for come last.
Define the names each exercise asks for; the grader looks them up by name, so keep the names
exactly as written and run the notebook top to bottom before you submit.

Check your work at any time with `grader check conv-layer.ipynb`.
"""),
    md("""
## The setting

A 2-D cross-correlation slides a small kernel `K` over an input `X` and, at every position
where the kernel fits completely, multiplies the overlapping entries and adds them up. With an
input of shape `(n_h, n_w)` and a kernel of shape `(k_h, k_w)` the output has shape
`(n_h - k_h + 1, n_w - k_w + 1)`.

**Section code.** Write `corr2d(X, K)` for 2-D tensors `X` and `K`.
"""),
    code(
        """
import torch
from torch import nn


def corr2d(X, K):
    # TODO: 2-D cross-correlation of X with K
    ...
""",
        """
import torch
from torch import nn


def corr2d(X, K):
    h, w = K.shape
    out = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1))
    for row in range(out.shape[0]):
        for col in range(out.shape[1]):
            out[row, col] = (X[row:row + h, col:col + w] * K).sum()
    return out
""",
    ),
    md("""
A layer that learns its kernel wraps `corr2d` and adds a scalar bias. This is the layer the
section trains to recover the edge detector `[[1, -1]]`; Exercise 2 uses it.
"""),
    code("""
class Conv2D(nn.Module):
    def __init__(self, kernel_size):
        super().__init__()
        self.weight = nn.Parameter(torch.rand(kernel_size))
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return corr2d(x, self.weight) + self.bias


# The section's toy image: a dark stripe in the middle, and the edge kernel.
X = torch.ones((6, 8))
X[:, 2:6] = 0
K = torch.tensor([[1.0, -1.0]])
Y = corr2d(X, K)
Y
"""),
    md("""
## Exercise 1 (6.2, ex. 1; v1.0 ex. 1) — an image with diagonal edges

Make a 2-D float tensor `X_diag` that contains a *diagonal* edge (for instance a triangle of
ones). Then compute, with the edge kernel `K = [[1., -1.]]` from above:

* `Y_diag = corr2d(X_diag, K)`
* `Y_diag_XT = corr2d(X_diag.T, K)` (the image transposed)
* `Y_diag_KT = corr2d(X_diag, K.T)` (the kernel transposed)
"""),
    code(
        """
X_diag = ...
Y_diag = ...
Y_diag_XT = ...
Y_diag_KT = ...
""",
        """
X_diag = torch.tril(torch.ones(6, 6))
Y_diag = corr2d(X_diag, K)
Y_diag_XT = corr2d(X_diag.T, K)
Y_diag_KT = corr2d(X_diag, K.T)
Y_diag, Y_diag_XT, Y_diag_KT
""",
    ),
    md(
        "In your own words: what does `K` pick up on your image, and what changes when you transpose the image, or the kernel?"
    ),
    answer(
        "ex1-observations",
        """
K responds wherever neighbouring pixels in a row differ, so on the triangle it marks every
step of the staircase edge (+1 or -1 along the diagonal). Transposing the image mirrors the
triangle, so the responses move to the transposed positions and flip sign. Transposing the
kernel makes it compare vertical neighbours instead; on a diagonal edge it still fires, along
the diagonal, because the edge changes both along rows and along columns.
""",
    ),
    md("""
## Exercise 2 (6.2, ex. 2; v1.0 ex. 3) — the gradient error of the hand-written `Conv2D`

Train the section's `Conv2D((1, 2))` the way the book trains `nn.Conv2d`: with input
`X.reshape((1, 1, 6, 8))`, target `Y.reshape((1, 1, 6, 7))`, a squared-error loss and a
backward pass. It fails. Catch the exception and store the exception object itself in
`conv2d_error`.
"""),
    code(
        """
conv2d_error = None
# TODO: train Conv2D((1, 2)) on 4-D tensors inside try/except and keep the exception
""",
        """
conv2d_error = None
layer = Conv2D(kernel_size=(1, 2))
X4 = X.reshape((1, 1, 6, 8))
Y4 = Y.reshape((1, 1, 6, 7))
try:
    for step in range(10):
        Y_hat = layer(X4)
        loss = (Y_hat - Y4) ** 2
        layer.zero_grad()
        loss.sum().backward()
        layer.weight.data[:] -= 3e-2 * layer.weight.grad
except Exception as err:
    conv2d_error = err
conv2d_error
""",
    ),
    md("What error do you get, and why does the hand-written layer fail on a 4-D input?"),
    answer(
        "ex2-explanation",
        """
A RuntimeError: the size of tensor a (0) must match the size of tensor b (7). `corr2d` reads
only `shape[0]` and `shape[1]` of its input, which are the batch and channel sizes (1, 1) of
the 4-D tensor, so it builds a (1, 0) output, and the loss cannot broadcast it against the
(1, 1, 6, 7) target. The error appears before any gradient is computed.
""",
    ),
    md("""
## Exercise 3 (6.2, ex. 3; v1.0 ex. 4) — cross-correlation as one matrix product

Rewrite the operation as a matrix multiplication in two ways:

* `corr2d_matmul(X, K)`: rearrange the *input* — gather every `k_h x k_w` patch of `X` as a
  row of a matrix (im2col) — and multiply by the flattened kernel.
* `conv_matrix(K, in_shape)`: rearrange the *kernel* into a matrix `W` of shape
  `(o_h * o_w, n_h * n_w)` so that `(W @ X.reshape(-1)).reshape(o_h, o_w)` equals
  `corr2d(X, K)` for every `X` of shape `in_shape = (n_h, n_w)`. Use row-major
  (`reshape`) order for both the input and the output.
"""),
    code(
        """
def corr2d_matmul(X, K):
    ...


def conv_matrix(K, in_shape):
    ...
""",
        """
def corr2d_matmul(X, K):
    kh, kw = K.shape
    oh, ow = X.shape[0] - kh + 1, X.shape[1] - kw + 1
    rows = [X[i:i + kh, j:j + kw].reshape(-1) for i in range(oh) for j in range(ow)]
    return (torch.stack(rows) @ K.reshape(-1)).reshape(oh, ow)


def conv_matrix(K, in_shape):
    nh, nw = in_shape
    kh, kw = K.shape
    oh, ow = nh - kh + 1, nw - kw + 1
    W = torch.zeros((oh * ow, nh * nw))
    for i in range(oh):
        for j in range(ow):
            block = torch.zeros((nh, nw))
            block[i:i + kh, j:j + kw] = K
            W[i * ow + j] = block.reshape(-1)
    return W
""",
    ),
    md("Describe the form of `W`: which entries are non-zero, and how do neighbouring rows relate?"),
    answer(
        "ex3-form",
        """
Each row of W holds the kernel's entries, laid out with the input's row stride, and zeros
elsewhere: row i*o_w + j puts K[a, b] at column (i + a) * n_w + (j + b). Consecutive rows are
the same pattern shifted one column to the right, with a larger jump at each new output row,
so W is sparse with a block-Toeplitz structure.
""",
    ),
    md("""
## Exercise 4 (6.2, ex. 4; v1.0 ex. 2.2 and 2.4) — design kernels by hand

Kernels below act along the width (shape `1 x k`), on rows of samples taken at unit spacing.

* `K_second_derivative`: a `1 x k` tensor that estimates the second derivative: on a row
  following a constant or a straight line it gives 0, and on a row following `3 x**2` it gives 6.
* `integral_kernel(n)`: a `1 x n` kernel such that `corr2d(x.reshape(1, n), integral_kernel(n))`
  equals `x.sum()` (the discrete integral over the window).
* `min_kernel_size(d)`: the smallest kernel width that can produce a derivative of order `d`.
* `derivative_kernel(d)`: a 1-D tensor of that length that maps samples of `x**p` to 0 for
  every `p < d`, and samples of `x**d` to `d!` (a finite difference of order `d`).
"""),
    code(
        """
K_second_derivative = ...


def integral_kernel(n):
    ...


def min_kernel_size(d):
    ...


def derivative_kernel(d):
    ...
""",
        """
import math

K_second_derivative = torch.tensor([[1.0, -2.0, 1.0]])


def integral_kernel(n):
    return torch.ones((1, n))


def min_kernel_size(d):
    return d + 1


def derivative_kernel(d):
    # forward difference applied d times: binomial coefficients with alternating signs
    return torch.tensor([float((-1) ** (d - k) * math.comb(d, k)) for k in range(d + 1)])
""",
    ),
    md("What is the form of a second-derivative kernel, and of an integral kernel?"),
    answer(
        "ex4-kernels",
        """
A second derivative is the difference of two neighbouring first differences, giving
[1, -2, 1] (wider stencils such as [-1, 16, -30, 16, -1] / 12 are more accurate). An integral
over a window is the sum of the samples in it, a kernel of all ones.
""",
    ),
    md("""
## v1.0 Exercise 2.1 and 2.3 (7.2, d2l v1.0 only) — an edge detector for any direction, and a blur

Coordinates: a direction `v = (v1, v2)` has `v1` along the **width** (the column index grows)
and `v2` along the **height** (the row index grows), so `(1, 0)` points right and `(0, 1)` down.

* `edge_kernel(v)`: a 2-D kernel (any size up to 15 x 15) that detects edges *orthogonal* to
  `v`, that is edges running in the direction `(v2, -v1)`: it must respond where the
  brightness changes along `v`, and give exactly 0 where the brightness changes only along
  `(v2, -v1)` (edges parallel to `v`) and on flat regions. `v` is any non-zero pair of floats,
  not necessarily of length 1. The grader tries it, through `corr2d`, on images whose
  brightness is a linear ramp in various directions.
* `blur_kernel(k)`: for an odd `k >= 3`, a `k x k` blur kernel: weights that are not negative
  and add up to 1 (a flat image keeps its brightness), centred on the middle of the window (a
  linear ramp comes out unchanged: the image is not shifted), and spread out enough that white
  noise loses at least half of its variance (the sum of the squared weights is at most 1/2).
"""),
    code(
        """
def edge_kernel(v):
    ...


def blur_kernel(k):
    ...
""",
        """
def edge_kernel(v):
    # the directional derivative along v: v1 * d/dx + v2 * d/dy, with forward differences
    v1, v2 = float(v[0]), float(v[1])
    return torch.tensor([[-v1 - v2, v1], [v2, 0.0]])


def blur_kernel(k):
    # a box filter: every pixel of the window weighs the same
    return torch.full((k, k), 1.0 / k**2)


ramp = torch.arange(6.0).repeat(6, 1)  # brightness grows to the right: a vertical edge
corr2d(ramp, edge_kernel((1.0, 0.0))), corr2d(ramp, edge_kernel((0.0, 1.0))), corr2d(ramp, blur_kernel(3))
""",
    ),
    md("""
How did you build the edge detector? Which structures in an image respond most strongly to a
second-derivative kernel (Exercise 4)? Why might you want to blur an image?
"""),
    answer(
        "v1-ex2-kernels",
        """
A change of brightness along v is the directional derivative v1 * d/dx + v2 * d/dy, so the
detector is v1 times a horizontal difference kernel plus v2 times a vertical one (forward
differences here; steered Sobel kernels do the same with smoothing across the edge). On a
brightness ramp along (v2, -v1) the two differences cancel exactly.
A second-derivative kernel responds to changes of slope: thin lines, ridges, corners, isolated
dots and the two sides of every edge (with opposite signs), and to noise; flat regions and
linear ramps give 0. A blur suppresses noise and fine detail before differentiating (edge
detection on a smoothed image, as in Canny or Laplacian of Gaussian), removes high
frequencies before downsampling (anti-aliasing), or hides detail on purpose.
""",
    ),
]
