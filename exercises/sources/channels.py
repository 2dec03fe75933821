"""Source of exercises/channels.ipynb and reference/channels.ipynb (d2l 6.4; d2l v1.0: 7.4)."""

from grader.content import answer, code, md

ASSIGNMENT = "channels"
NOTEBOOK = "channels.ipynb"

CELLS = [
    md("""
# 6.4 Multiple Input and Multiple Output Channels — exercises

This notebook follows section 6.4 of *Dive into Deep Learning* (d2l v0.17 numbering, the same
as d2l-zh; section 7.4 in d2l v1.0). The exercises are restated in our own words, in v0.17's
order, each heading also giving its number in v1.0; the two exercises only v1.0 has come last.
Define the names each exercise asks for; the grader looks them up by name, so keep the names
exactly as written and run the notebook top to bottom before you submit. Free-text answers go in the cells marked
*Your answer here*.

Check your work at any time with `grader check channels.ipynb`.
"""),
    md("""
## The setting

With `c_i` input channels, an input `X` has shape `(c_i, h, w)` and one output channel needs a
kernel of shape `(c_i, k_h, k_w)`: cross-correlate each input channel with its own kernel slice
and add the `c_i` results. With `c_o` output channels the kernel has shape
`(c_o, c_i, k_h, k_w)` and the output `(c_o, o_h, o_w)`. The helpers below implement this
with loops (you may use them everywhere in this notebook).
"""),
    code("""
import torch
import torch.nn.functional as F


def corr2d(X, K):
    # valid 2-D cross-correlation of one channel
    kh, kw = K.shape
    out = torch.zeros((X.shape[0] - kh + 1, X.shape[1] - kw + 1))
    for r in range(out.shape[0]):
        for c in range(out.shape[1]):
            out[r, c] = (X[r:r + kh, c:c + kw] * K).sum()
    return out


def corr2d_multi_in(X, K):
    # one output channel: add up the per-channel cross-correlations
    return sum(corr2d(x, k) for x, k in zip(X, K))


def corr2d_multi_in_out(X, K):
    # one output channel per kernel K[o]
    return torch.stack([corr2d_multi_in(X, k) for k in K])


def corr2d_multi_in_out_1x1(X, K):
    # a 1x1 kernel only mixes channels: one matrix product over all pixels
    c_i, h, w = X.shape
    c_o = K.shape[0]
    return (K.reshape(c_o, c_i) @ X.reshape(c_i, h * w)).reshape(c_o, h, w)
"""),
    md("""
## Exercise 1 (6.4, ex. 1; v1.0 ex. 1) — two kernels in a row

Apply a kernel `K1` of shape `(k1_h, k1_w)` and then a kernel `K2` of shape `(k2_h, k2_w)`,
with no nonlinearity in between (single channel, no padding, stride 1).

1. Prove that the result can be computed by one cross-correlation with a single kernel.
2. Write `compose_kernels(K1, K2)`, returning that kernel `Kc` of shape
   `(k1_h + k2_h - 1, k1_w + k2_w - 1)` such that
   `corr2d(corr2d(X, K1), K2)` equals `corr2d(X, Kc)` for every `X`. (Careful: test it with
   kernels that are not symmetric.)
3. Is the converse true: can every kernel be split into two smaller ones?
"""),
    code(
        """
def compose_kernels(K1, K2):
    ...
""",
        """
def compose_kernels(K1, K2):
    (a, b), (c, d) = K1.shape, K2.shape
    Kc = torch.zeros((a + c - 1, b + d - 1))
    for i in range(c):
        for j in range(d):
            Kc[i:i + a, j:j + b] += K2[i, j] * K1
    return Kc


K1_demo, K2_demo = torch.tensor([[1.0, 2.0], [0.0, -1.0]]), torch.tensor([[1.0, -1.0, 3.0]])
X_demo = torch.randn(6, 7)
torch.allclose(corr2d(corr2d(X_demo, K1_demo), K2_demo), corr2d(X_demo, compose_kernels(K1_demo, K2_demo)), atol=1e-5)
""",
    ),
    md("Your proof, and your answer about the converse:"),
    answer(
        "ex1-proof",
        """
Write Z = corr2d(X, K1) and Y = corr2d(Z, K2). Then
Y[i, j] = sum_{c,d} K2[c, d] Z[i + c, j + d] = sum_{c,d} sum_{a,b} K2[c, d] K1[a, b] X[i + c + a, j + d + b].
Grouping the terms by u = a + c and v = b + d gives Y[i, j] = sum_{u,v} Kc[u, v] X[i + u, j + v]
with Kc[u, v] = sum_{a,b} K1[a, b] K2[u - a, v - b]: a single cross-correlation whose kernel is
the full convolution of K1 and K2, with u in 0..k1_h + k2_h - 2, i.e. of shape
(k1_h + k2_h - 1, k1_w + k2_w - 1).
The converse is false in general: a (k1_h + k2_h - 1) x (k1_w + k2_w - 1) kernel has more free
entries than the two factors together (e.g. a 3x3 kernel has 9, two 2x2 kernels 8), so most
kernels cannot be factored (just as most polynomials in two variables do not factor).
""",
    ),
    md("""
## Exercise 2 (6.4, ex. 2; v1.0 ex. 2) — what a layer costs

Take an input of shape `(c_i, h, w)`, a kernel of shape `(c_o, c_i, k_h, k_w)`, padding
`(p_h, p_w)` and stride `(s_h, s_w)`.

Write `conv_cost(c_i, h, w, c_o, k_h, k_w, p_h, p_w, s_h, s_w)` returning the pair
`(multiplications, additions)` of the forward pass, **as two Python ints**, with these
conventions (the grader uses exactly these):

* no bias;
* padding is *per side*, as in `nn.Conv2d`: `p_h` zero rows at the top and `p_h` at the
  bottom; the output has the size `nn.Conv2d` gives (a last partial step is dropped);
* padded zeros are multiplied like any other value (no skipping);
* every output value is the sum of `c_i * k_h * k_w` products, which takes
  `c_i * k_h * k_w` multiplications and `c_i * k_h * k_w - 1` additions.

Also answer in words: how much memory does the forward pass need, how much the backward
pass, and what does backpropagation cost?
"""),
    code(
        """
def conv_cost(c_i, h, w, c_o, k_h, k_w, p_h, p_w, s_h, s_w):
    ...
""",
        """
def conv_cost(c_i, h, w, c_o, k_h, k_w, p_h, p_w, s_h, s_w):
    o_h = (h + 2 * p_h - k_h) // s_h + 1
    o_w = (w + 2 * p_w - k_w) // s_w + 1
    per_output = c_i * k_h * k_w
    outputs = c_o * o_h * o_w
    return outputs * per_output, outputs * (per_output - 1)


conv_cost(3, 8, 8, 2, 3, 3, 0, 0, 1, 1)
""",
    ),
    answer(
        "ex2-memory",
        """
Forward memory: the input c_i*(h + 2p_h)*(w + 2p_w) values (padded), the weights
c_o*c_i*k_h*k_w, and the output c_o*o_h*o_w (times 4 bytes in float32); the input must be
kept for the backward pass. Backward memory: the gradient of the output (c_o*o_h*o_w), the
gradient of the weights (c_o*c_i*k_h*k_w) and the gradient of the input (c_i*h*w), on top of
the stored activations. Backpropagation costs about twice the forward pass: the weight
gradient and the input gradient each need c_o*o_h*o_w*c_i*k_h*k_w multiply-adds (each is
again a correlation of the same size).
""",
    ),
    md("""
## Exercise 3 (6.4, ex. 3; v1.0 ex. 3) — doubling

By what factor does the number of operations grow when both the number of input channels and
the number of output channels double? Set `cost_factor_double_channels` to that number. Then
explain in words what happens when the padding doubles instead.
"""),
    code(
        """
cost_factor_double_channels = ...
""",
        """
cost_factor_double_channels = 4
conv_cost(6, 8, 8, 4, 3, 3, 1, 1, 1, 1)[0] / conv_cost(3, 8, 8, 2, 3, 3, 1, 1, 1, 1)[0]
""",
    ),
    answer(
        "ex3-padding",
        """
Doubling c_i and c_o multiplies the multiplications by 2 * 2 = 4 (and the additions by a
little more than 4). Doubling the padding from p to 2p only enlarges the output: o_h grows
from (h + 2p - k_h)/s_h + 1 to (h + 4p - k_h)/s_h + 1, so the cost grows by the ratio of the
output areas; for a large image with small padding that is only slightly more, not twice.
""",
    ),
    md("""
## Exercise 4 (6.4, ex. 4; not in v1.0) — a 1x1 kernel

With `k_h = k_w = 1` (no padding, stride 1), what is the cost of the forward pass? Make sure
`conv_cost` gives `c_o * c_i * h * w` multiplications in this case.
"""),
    code(
        """
# Try conv_cost on a 1x1 kernel here.
""",
        """
c_i, h, w, c_o = 4, 5, 6, 3
conv_cost(c_i, h, w, c_o, 1, 1, 0, 0, 1, 1), c_o * c_i * h * w
""",
    ),
    md("""
## Exercise 5 (6.4, ex. 5; v1.0 ex. 4) — are the two results the same?

The section computes a 1x1 convolution twice, once with the loops of `corr2d_multi_in_out`
and once as a matrix product with `corr2d_multi_in_out_1x1`. The cell below does that on a
fixed random input (seeded, so that everyone sees the same numbers) with 16 input channels.

Are `Y1` and `Y2` exactly (bit for bit) equal? Set `Y1_equals_Y2_exactly` to `True` or `False`
and explain why. How should two such results be compared?
"""),
    code(
        """
torch.manual_seed(6404)
X = torch.normal(0, 1, (16, 6, 6))
K = torch.normal(0, 1, (8, 16, 1, 1))
Y1 = corr2d_multi_in_out_1x1(X, K)
Y2 = corr2d_multi_in_out(X, K)
torch.allclose(Y1, Y2, rtol=1e-5, atol=1e-5)
""",
        """
torch.manual_seed(6404)
X = torch.normal(0, 1, (16, 6, 6))
K = torch.normal(0, 1, (8, 16, 1, 1))
Y1 = corr2d_multi_in_out_1x1(X, K)
Y2 = corr2d_multi_in_out(X, K)
torch.allclose(Y1, Y2, rtol=1e-5, atol=1e-5), torch.equal(Y1, Y2), (Y1 - Y2).abs().max()
""",
    ),
    code(
        """
Y1_equals_Y2_exactly = ...
""",
        """
Y1_equals_Y2_exactly = False
""",
    ),
    answer(
        "ex5-why",
        """
Mathematically both compute the same sums, but in floating point the order of the additions
matters: the loops add the per-channel results one channel at a time, while the matrix
product (a BLAS kernel) accumulates in its own order, in blocks or with fused multiply-adds.
The rounding differs, so the results agree only to about 1e-7 relative (float32); for a few
channels they can happen to coincide, but nothing guarantees it. Compare them with a
tolerance, e.g. torch.allclose(Y1, Y2, rtol=1e-5, atol=1e-5), never with == or a fixed
absolute threshold on the summed difference.
""",
    ),
    md("""
## Exercise 6 (6.4, ex. 6; v1.0 ex. 5) — any kernel as one matrix product

The 1x1 case is a single matrix product. Do the same for any kernel size: write
`corr2d_multi_in_out_matmul(X, K)` for `X` of shape `(c_i, h, w)` and `K` of shape
`(c_o, c_i, k_h, k_w)` that gathers every `(c_i, k_h, k_w)` window of `X` as one column of a
matrix (im2col) and multiplies it by `K` reshaped to `(c_o, c_i * k_h * k_w)`. The result,
of shape `(c_o, o_h, o_w)`, must equal `corr2d_multi_in_out(X, K)` (no padding, stride 1).
"""),
    code(
        """
def corr2d_multi_in_out_matmul(X, K):
    ...
""",
        """
def corr2d_multi_in_out_matmul(X, K):
    c_i, h, w = X.shape
    c_o, _, kh, kw = K.shape
    oh, ow = h - kh + 1, w - kw + 1
    columns = torch.stack([X[:, i:i + kh, j:j + kw].reshape(-1) for i in range(oh) for j in range(ow)], dim=1)
    return (K.reshape(c_o, -1) @ columns).reshape(c_o, oh, ow)


X6, K6 = torch.randn(3, 5, 7), torch.randn(4, 3, 2, 3)
torch.allclose(corr2d_multi_in_out_matmul(X6, K6), corr2d_multi_in_out(X6, K6), atol=1e-5)
""",
    ),
    md("""
## v1.0 Exercise 6 (7.4, d2l v1.0 only) — computing several output columns per strip

A fast `k x k` convolution can sweep across the input in vertical strips. One way reads a
strip `k` columns wide and computes the single output column it determines; another reads a
strip `k + Delta` columns wide and computes `Delta` output columns from it. Why is the second
one preferable? Is there a limit to how large `Delta` should be?
"""),
    answer(
        "v1-ex6-strips",
        """
Each output column needs k input columns, and neighbouring output columns share k - 1 of them.
With 1-wide output strips every input column is read k times; with Delta-wide output strips a
strip of k + Delta columns serves Delta outputs, so each input value is read (k + Delta) / Delta
times instead of k: far less memory traffic per multiply-add, and the values already loaded
(in registers, cache or shared memory) are reused. Delta is limited by that fast memory: the
strip (k + Delta columns by the rows in flight) and the Delta partial outputs must fit, or they
spill and the savings are lost; the gain also flattens once (k + Delta) / Delta is close to 1,
and Delta cannot usefully exceed the output width (nor leave too little parallel work).
""",
    ),
    md("""
## v1.0 Exercise 7 (7.4, d2l v1.0 only) — block-diagonal channel mixing

A 1x1 convolution multiplies the channel vector of every pixel by a `c x c` matrix (see
`corr2d_multi_in_out_1x1`). Restrict that matrix to be **block diagonal**: `b` blocks of size
`m x m` on the diagonal (`c = b * m`) and zeros elsewhere, so output channels `g*m .. g*m + m - 1`
depend only on input channels `g*m .. g*m + m - 1`.

* `block_diagonal_conv1x1(X, blocks)`: `X` of shape `(c, h, w)`, `blocks` of shape `(b, m, m)`
  (`blocks[g]` is the `g`-th diagonal block); return the `(c, h, w)` result of applying the
  block-diagonal matrix to every pixel's channel vector. (PyTorch calls this a *grouped*
  convolution: `nn.Conv2d(c, c, 1, groups=b)`.)
* `block_diagonal_mults(c, b)`: the number of multiplications of one product of such a matrix
  with a vector of length `c` (the dense matrix takes `c * c`), as an int.
* `channel_shuffle(X, b)`: the groups never exchange information, however many such layers
  are stacked. Return `X` with its channels **reordered** (not mixed) so that every group of
  `m` consecutive output channels draws on as many input groups as possible: on all `b` of
  them when `m >= b`, otherwise on `m` different ones. Putting it between two block-diagonal
  layers lets the second one mix the groups of the first.
"""),
    code(
        """
def block_diagonal_conv1x1(X, blocks):
    ...


def block_diagonal_mults(c, b):
    ...


def channel_shuffle(X, b):
    ...
""",
        """
def block_diagonal_conv1x1(X, blocks):
    c = X.shape[0]
    W = torch.block_diag(*blocks)  # the (c, c) matrix, zeros off the diagonal blocks
    return corr2d_multi_in_out_1x1(X, W.reshape(c, c, 1, 1))


def block_diagonal_mults(c, b):
    m = c // b
    return b * m * m  # b blocks, each an m x m product: c * c / b


def channel_shuffle(X, b):
    # view the channels as a (b, m) table, read it column by column
    c, h, w = X.shape
    return X.reshape(b, c // b, h, w).transpose(0, 1).reshape(c, h, w)


X7, blocks7 = torch.randn(6, 4, 4), torch.randn(3, 2, 2)
print(torch.allclose(block_diagonal_conv1x1(X7, blocks7),
                     F.conv2d(X7[None], blocks7.reshape(6, 2, 1, 1), groups=3)[0], atol=1e-5))
block_diagonal_mults(64, 8), channel_shuffle(torch.arange(6.0).reshape(6, 1, 1), 3).flatten()
""",
    ),
    md(
        "How much faster is the block-diagonal product? What do you lose with `b` blocks, and how can you win some of it back?"
    ),
    answer(
        "v1-ex7-blocks",
        """
The dense product takes c^2 multiplications, the block-diagonal one b (c/b)^2 = c^2 / b: b
times fewer operations and parameters (and in practice somewhat less than b times faster,
since small blocks use the hardware less well). The downside is that the groups are
independent: an output channel only sees the c/b input channels of its own group, and
stacking such layers never mixes the groups, so the layer is much less expressive. Shuffling
the channels between grouped layers (ShuffleNet) lets every group of the next layer see all
groups of the previous one; alternating with dense 1x1 layers, or learning a permutation,
also helps. Each fix only partly restores what the dense matrix can represent.
""",
    ),
]
