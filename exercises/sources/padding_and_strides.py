"""Source of exercises/padding-and-strides.ipynb and reference/padding-and-strides.ipynb (d2l 6.3; d2l v1.0: 7.3)."""

from grader.content import answer, code, md

ASSIGNMENT = "padding-and-strides"
NOTEBOOK = "padding-and-strides.ipynb"

CELLS = [
    md("""
# 6.3 Padding and Stride — exercises

This notebook follows section 6.3 of *Dive into Deep Learning* (d2l v0.17 numbering, the same
as d2l-zh; section 7.3 in d2l v1.0), plus the three exercises that d2l v1.0 added to the
section, at the end. The exercises are restated in our own words; each heading also gives the
exercise's number in v1.0. Define the names each exercise asks for; the grader looks them up
by name, so keep the names exactly as written and run the notebook top to bottom before you
submit. Free-text answers go in the cells marked *Your answer here*.

Check your work at any time with `grader check padding-and-strides.ipynb`.
"""),
    md("""
## The setting

`nn.Conv2d(..., kernel_size=(k_h, k_w), padding=(p_h, p_w), stride=(s_h, s_w))` adds `p_h`
rows of zeros at the top **and** `p_h` at the bottom (and `p_w` columns on the left and on the
right), then moves the kernel `s_h` rows down and `s_w` columns right at a time, keeping only
windows that fit entirely inside the padded input.

The helper below measures what PyTorch actually does: it runs a one-channel `nn.Conv2d` on an
image of the given height and width and returns the output's `(height, width)`.
"""),
    code("""
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def measured_shape(in_hw, **conv_args):
    layer = nn.Conv2d(1, 1, **conv_args)
    with torch.no_grad():
        return tuple(layer(torch.zeros((1, 1) + tuple(in_hw))).shape[2:])


# the section's examples on an 8x8 input
(measured_shape((8, 8), kernel_size=3, padding=1),
 measured_shape((8, 8), kernel_size=(5, 3), padding=(2, 1)),
 measured_shape((8, 8), kernel_size=3, padding=1, stride=2))
"""),
    md("""
## Exercise 1 (6.3, ex. 1; v1.0 ex. 1) — the last example, by calculation

The section ends with an `8 x 8` input, kernel `(3, 5)`, padding `(0, 1)` and stride `(3, 4)`.

* Write `conv_out_shape(in_hw, kernel, padding, stride)`: every argument is an `(h, w)` pair
  (padding per side, as above); return the output's `(height, width)` as a **tuple of two
  Python ints** (not a `torch.Size`), computed with a formula — no layer.
* Set `last_example_shape` to the output shape of the last example, as a tuple of two ints,
  and compare it with `measured_shape`.
"""),
    code(
        """
def conv_out_shape(in_hw, kernel, padding, stride):
    ...


last_example_shape = ...
""",
        """
def conv_out_shape(in_hw, kernel, padding, stride):
    return tuple((n + 2 * p - k) // s + 1 for n, k, p, s in zip(in_hw, kernel, padding, stride))


last_example_shape = conv_out_shape((8, 8), (3, 5), (0, 1), (3, 4))
last_example_shape, measured_shape((8, 8), kernel_size=(3, 5), padding=(0, 1), stride=(3, 4))
""",
    ),
    md("Show the calculation for the last example, one dimension at a time:"),
    answer(
        "ex1-calculation",
        """
Height: 8 + 2*0 = 8 rows after padding; the kernel needs 3, so it fits at starting rows 0..5;
with stride 3 those are rows 0 and 3, giving floor((8 + 0 - 3) / 3) + 1 = 1 + 1 = 2.
Width: 8 + 2*1 = 10 columns; the kernel needs 5, so it fits at columns 0..5; with stride 4
those are columns 0 and 4, giving floor((8 + 2 - 5) / 4) + 1 = 1 + 1 = 2.
The output is 2 x 2, which matches what nn.Conv2d produces.
""",
    ),
    md("""
## Exercise 2 (6.3, ex. 2; not in v1.0) — other combinations

Try other inputs, kernels, paddings and strides with `measured_shape` and make sure
`conv_out_shape` always agrees with it (the grader compares them on a grid of non-square
cases you do not see). Note what you observe.
"""),
    code(
        """
# Try some combinations here.
""",
        """
combos = [((7, 7), (3, 3), (1, 1), (2, 2)), ((8, 8), (3, 3), (0, 0), (3, 3)), ((7, 10), (3, 2), (1, 0), (2, 3))]
for in_hw, k, p, s in combos:
    assert tuple(conv_out_shape(in_hw, k, p, s)) == measured_shape(in_hw, kernel_size=k, padding=p, stride=s)
[conv_out_shape(*c) for c in combos]
""",
    ),
    answer(
        "ex2-observations",
        """
With stride 1, padding p = (k - 1) / 2 per side (odd k) keeps the size. With stride s and that
padding the size becomes ceil(n / s), e.g. 8 -> 4 for s = 2 and 7 -> 4. When n + 2p - k is not
a multiple of s, the last rows or columns that do not make a full step are simply dropped
(the formula floors): 8x8 with k = 3, p = 0, s = 3 gives 2, not 3.
""",
    ),
    md("""
## Exercise 3 (6.3, ex. 3; v1.0 ex. 2) — a stride of 2 on audio

What does a stride of 2 correspond to for an audio signal? Write `conv1d_stride2(x, k)`:
the valid 1-D cross-correlation of a 1-D tensor `x` with a 1-D kernel `k`
(`out[i] = sum_j x[i + j] * k[j]`) moving two samples at a time, i.e. keeping outputs
0, 2, 4, ... of the stride-1 cross-correlation.
"""),
    code(
        """
def conv1d_stride2(x, k):
    ...
""",
        """
def conv1d_stride2(x, k):
    m = len(k)
    return torch.stack([(x[i:i + m] * k).sum() for i in range(0, len(x) - m + 1, 2)])


conv1d_stride2(torch.arange(8.0), torch.tensor([1.0, 2.0, -1.0]))
""",
    ),
    answer(
        "ex3-audio",
        """
It halves the sampling rate of the output: the filter is evaluated at every second sample, so
the result is the filtered signal downsampled by 2 (a 16 kHz input gives an 8 kHz output).
The kernel acts as the anti-aliasing filter before decimation; frequencies above the new
Nyquist limit alias unless the kernel removes them.
""",
    ),
    md("""
## Exercise 4 (6.3, ex. 4; v1.0 ex. 4) — what strides save

What are the computational benefits of a stride larger than 1? Write
`stride_cost_ratio(s_h, s_w)`: for a large input, how many times fewer output values (and so
multiply-adds) a convolution with stride `(s_h, s_w)` computes than the same convolution with
stride 1.
"""),
    code(
        """
def stride_cost_ratio(s_h, s_w):
    ...
""",
        """
def stride_cost_ratio(s_h, s_w):
    return s_h * s_w
""",
    ),
    answer(
        "ex4-benefits",
        """
Each output costs the same k_h * k_w * c_i multiply-adds, and stride (s_h, s_w) produces about
1 / (s_h * s_w) as many outputs, so the layer is s_h * s_w times cheaper; the smaller output
also makes every later layer cheaper and uses less memory for activations and gradients, and
the receptive field grows faster with depth. The price is lost resolution (and aliasing).
""",
    ),
    md("""
## v1.0 Exercise 3 (7.3, d2l v1.0 only) — mirror padding

Instead of zeros, pad with a mirror image of the border. We use the *reflect* convention: the
mirror is placed on the edge element itself, so the edge is **not** repeated —
`[1, 2, 3, 4]` padded by 2 becomes `[3, 2, 1, 2, 3, 4, 3, 2]` (numpy's `mode="reflect"`,
not `mode="symmetric"`).

Write `mirror_pad(X, p)`: for a 1-D tensor, add `p` mirrored values at each end; for a 2-D
tensor (an image), pad both the height and the width by `p` on every side. You may assume
`0 <= p < ` the length of every dimension.
"""),
    code(
        """
def mirror_pad(X, p):
    ...
""",
        """
def _reflect_dim(X, p, dim):
    n = X.shape[dim]
    before = X.narrow(dim, 1, p).flip(dim)
    after = X.narrow(dim, n - 1 - p, p).flip(dim)
    return torch.cat([before, X, after], dim=dim)


def mirror_pad(X, p):
    for dim in range(X.dim()):
        X = _reflect_dim(X, p, dim)
    return X


mirror_pad(torch.tensor([1.0, 2.0, 3.0, 4.0]), 2)
""",
    ),
    md("""
## v1.0 Exercise 5 (7.3, d2l v1.0 only) — what strides do statistically

Besides saving computation, what might a stride larger than 1 be good for statistically?
"""),
    answer(
        "v1-ex5-statistics",
        """
A stride larger than 1 summarises neighbouring positions, whose outputs are strongly
correlated, so the next layer sees fewer, less redundant values: fewer activations (and, in a
network that ends in a dense layer, fewer parameters) to fit from the same data, less
overfitting, and some invariance to small shifts of the input. Each unit of the following
layers also covers a larger part of the image (the receptive field grows faster), so the
network reaches global context with fewer layers. The price is aliasing: detail finer than
the stride is lost or folded into coarser patterns unless the kernel smooths first.
""",
    ),
    md("""
## v1.0 Exercise 6 (7.3, d2l v1.0 only) — a stride of 1/2

A stride of 2 skips every other position: the output is half as large. A "stride of 1/2"
goes the other way and makes the output about twice as large. Make it precise as follows: every
input pixel `X[i, j]` adds a copy of the kernel scaled by `X[i, j]` into the output, with the
copy's top-left corner at `(2 i, 2 j)`; overlapping copies add up. The output has shape
`(2 (n_h - 1) + k_h, 2 (n_w - 1) + k_w)`.

Write `conv_stride_half(X, K)` for a 2-D input `X` of shape `(n_h, n_w)` and a 2-D kernel `K`
of shape `(k_h, k_w)` using an **ordinary stride-1 convolution** (`F.conv2d`, or your own
cross-correlation) on a **spread-out** input: put the pixels of `X` two apart, with zeros in
between, and work out the padding and the orientation of the kernel that give exactly the
output above. PyTorch has this operation built in; you may use it to test your function, but
the grader also runs your function with PyTorch's transposed convolutions
(`F.conv_transpose2d`, `nn.ConvTranspose2d`, and the backward pass of a convolution) switched off.
"""),
    code(
        """
def conv_stride_half(X, K):
    ...
""",
        """
def conv_stride_half(X, K):
    n_h, n_w = X.shape
    k_h, k_w = K.shape
    spread = torch.zeros((2 * n_h - 1, 2 * n_w - 1))
    spread[::2, ::2] = X  # the pixels two apart, zeros in between
    # pad k - 1 on every side so that each pixel meets every kernel entry; turn the kernel
    # by 180 degrees because the cross-correlation reads it the other way round
    padded = F.pad(spread, (k_w - 1, k_w - 1, k_h - 1, k_h - 1))
    return F.conv2d(padded[None, None], K.flip(0, 1)[None, None])[0, 0]


X3, K3 = torch.arange(9.0).reshape(3, 3), torch.tensor([[1.0, 2.0], [0.0, -1.0]])
conv_stride_half(X3, K3), F.conv_transpose2d(X3[None, None], K3[None, None], stride=2)[0, 0]
""",
    ),
    md("What does a stride of 1/2 correspond to, and when would you want one?"),
    answer(
        "v1-ex6-stride-half",
        """
It is a transposed convolution (sometimes called a fractionally strided convolution, or loosely
a "deconvolution") with stride 2: zeros inserted between the input pixels, then an ordinary
convolution, which is the same as the gradient of a stride-2 convolution with respect to its
input. It upsamples, with a kernel that is learned: the output has twice the resolution of the
input. It is used wherever a network must go from a coarse feature map back to a fine one:
the decoder of semantic segmentation networks (FCN, U-Net), generators of GANs and
autoencoders, super-resolution. Kernels whose size is not a multiple of the stride overlap
unevenly and can leave checkerboard artefacts; resizing followed by a convolution avoids them.
""",
    ),
]
