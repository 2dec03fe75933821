"""Reference for "Convolution and pooling layers from scratch" (after d2l chapter 6).

Run only in the grader process, to compute expected values; never sent to a kernel. The
student writes these operations by hand; here we may use PyTorch's own (`F.unfold`,
`F.fold`, `F.conv2d`, `F.max_pool2d`, ...) because the reference is trusted, and a value
computed two independent ways (the student's loops, PyTorch's kernels) is the check.

Everything is computed in float64 on the CPU. Conventions (the notebook states them):

* `im2col(X, kh, kw, stride, padding)` for X of shape (N, C, H, W) returns a matrix of shape
  (N * out_h * out_w, C * kh * kw). Row `n * out_h * out_w + i * out_w + j` is the window of
  output position (i, j) of example n; column `c * kh * kw + u * kw + v` holds
  X_padded[n, c, i * stride + u, j * stride + v] (zero padding on every side).
* `col2im` is its adjoint: every entry of a column matrix is ADDED to the pixel it came from.
* Pooling pads max pooling with -inf (a padded cell never wins) and average pooling with zeros
  that count in the mean (PyTorch's `count_include_pad=True`); ties in max pooling send the
  gradient to the first maximum of the window in row-major order (what PyTorch's CPU kernel does).
* SAME padding with an even kernel puts the extra row/column at the END (bottom/right): checked
  below against `F.conv2d(padding="same")` in `same_padding_matches_pytorch`.
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F


def _t(x) -> torch.Tensor:
    """A float64 tensor (inputs arrive as float32 tensors or numpy arrays). Not detached: the
    gradient checks differentiate the reference through it."""
    return torch.as_tensor(x).to(torch.float64)


def output_size(n: int, k: int, stride: int = 1, padding: int = 0) -> int:
    """floor((n + 2 * padding - k) / stride) + 1: positions of a k-window on a padded n."""
    return (int(n) + 2 * int(padding) - int(k)) // int(stride) + 1


# ----------------------------------------------------------------------------- exercise 1
def im2col(X, kh, kw, stride=1, padding=0):
    """F.unfold gives (N, C*kh*kw, L) with columns (c, u, v) and windows (i, j); put the
    windows of all examples in rows instead."""
    X = _t(X)
    C = X.shape[1]
    cols = F.unfold(X, (int(kh), int(kw)), stride=int(stride), padding=int(padding))
    return cols.transpose(1, 2).reshape(-1, C * int(kh) * int(kw))


def _loop_im2col(X, kh, kw, stride=1, padding=0):
    """The definition written out as loops: an independent check of the layout above."""
    X = F.pad(_t(X), (padding,) * 4)
    N, C, H, W = X.shape
    oh, ow = (H - kh) // stride + 1, (W - kw) // stride + 1
    out = torch.zeros(N * oh * ow, C * kh * kw, dtype=torch.float64)
    for n in range(N):
        for i in range(oh):
            for j in range(ow):
                window = X[n, :, i * stride : i * stride + kh, j * stride : j * stride + kw]
                out[n * oh * ow + i * ow + j] = window.reshape(-1)
    return out


def im2col_channels_last(X, kh, kw, stride=1, padding=0):
    """Known mistake: the columns ordered (u, v, c) instead of (c, u, v)."""
    X = _t(X)
    C = X.shape[1]
    kh, kw = int(kh), int(kw)
    cols = im2col(X, kh, kw, stride, padding)
    return cols.reshape(-1, C, kh, kw).permute(0, 2, 3, 1).reshape(-1, C * kh * kw)


# ----------------------------------------------------------------------------- exercise 2
def col2im(cols, X_shape, kh, kw, stride=1, padding=0):
    """The adjoint of im2col: F.fold sums every column entry into its pixel, and drops the
    entries that fall on the padding."""
    N, C, H, W = (int(s) for s in X_shape)
    kh, kw, stride, padding = int(kh), int(kw), int(stride), int(padding)
    L = output_size(H, kh, stride, padding) * output_size(W, kw, stride, padding)
    cols = _t(cols).reshape(N, L, C * kh * kw).transpose(1, 2)
    return F.fold(cols, (H, W), (kh, kw), stride=stride, padding=padding)


def col2im_overwrites(cols, X_shape, kh, kw, stride=1, padding=0):
    """Known mistake: each window ASSIGNED to its place (windows in row order), so where
    windows overlap the last one wins instead of the sum."""
    N, C, H, W = (int(s) for s in X_shape)
    kh, kw, stride, padding = int(kh), int(kw), int(stride), int(padding)
    oh, ow = output_size(H, kh, stride, padding), output_size(W, kw, stride, padding)
    cols = _t(cols).reshape(N, oh, ow, C, kh, kw)
    img = torch.zeros(N, C, H + 2 * padding, W + 2 * padding, dtype=torch.float64)
    for i in range(oh):
        for j in range(ow):
            img[:, :, i * stride : i * stride + kh, j * stride : j * stride + kw] = cols[:, i, j]
    return img[:, :, padding : padding + H, padding : padding + W]


def col2im_overwrites_by_offset(cols, X_shape, kh, kw, stride=1, padding=0):
    """Known mistake, the vectorised form: one strided slice per kernel offset (u, v),
    assigned with `=` where it must be `+=`."""
    N, C, H, W = (int(s) for s in X_shape)
    kh, kw, stride, padding = int(kh), int(kw), int(stride), int(padding)
    oh, ow = output_size(H, kh, stride, padding), output_size(W, kw, stride, padding)
    cols = _t(cols).reshape(N, oh, ow, C, kh, kw).permute(0, 3, 4, 5, 1, 2)  # (N, C, kh, kw, oh, ow)
    img = torch.zeros(N, C, H + 2 * padding, W + 2 * padding, dtype=torch.float64)
    for u in range(kh):
        for v in range(kw):
            img[:, :, u : u + stride * oh : stride, v : v + stride * ow : stride] = cols[:, :, u, v]
    return img[:, :, padding : padding + H, padding : padding + W]


# ----------------------------------------------------------------------------- exercise 3
def conv_forward(x, W, b, stride=1, pad=0):
    """The layer's output; differentiable, so the gradient checks take dx, dW, db from it."""
    return F.conv2d(_t(x), _t(W), _t(b), stride=int(stride), padding=int(pad))


# ----------------------------------------------------------------------------- exercise 4
def max_pool(x, pool_h, pool_w, stride=1, pad=0):
    """PyTorch's max pooling: -inf padding; its backward sends a tie to the first maximum."""
    return F.max_pool2d(_t(x), (int(pool_h), int(pool_w)), stride=int(stride), padding=int(pad))


def avg_pool(x, pool_h, pool_w, stride=1, pad=0):
    """PyTorch's average pooling: zero padding that counts in the mean (count_include_pad)."""
    return F.avg_pool2d(_t(x), (int(pool_h), int(pool_w)), stride=int(stride), padding=int(pad))


def max_pool_zero_padded(x, pool_h, pool_w, stride=1, pad=0):
    """Known mistake: max pooling on a zero-padded input (a padded 0 beats negative values)."""
    x = F.pad(_t(x), (int(pad),) * 4)
    return F.max_pool2d(x, (int(pool_h), int(pool_w)), stride=int(stride))


# ----------------------------------------------------------------------------- exercise 5
def get_padding(k, mode):
    """(before, after) for one dimension of a stride-1 convolution with a k-tap kernel.

    'valid' pads nothing, 'full' pads k - 1 on each side (every partial overlap), 'same'
    pads k - 1 in all so the output keeps the input's size; for an even k the odd row goes
    at the END, as in PyTorch's padding='same' (and TensorFlow's)."""
    k = int(k)
    if mode == "valid":
        return (0, 0)
    if mode == "full":
        return (k - 1, k - 1)
    if mode == "same":
        return ((k - 1) // 2, k - 1 - (k - 1) // 2)
    raise ValueError(f"unknown mode {mode!r}")


def get_padding_extra_first(k, mode):
    """Known mistake: SAME's odd row at the start (top/left) instead of the end."""
    before, after = get_padding(k, mode)
    return (after, before)


def same_padding_matches_pytorch(k: int, n: int = 7) -> bool:
    """What fixes the side in `get_padding`: padding by hand with it, then a valid
    convolution, equals PyTorch's own padding='same' (for a kernel that sees its whole
    window, so any side mismatch shows)."""
    x = torch.arange(float(n * n), dtype=torch.float64).reshape(1, 1, n, n) ** 1.5
    w = torch.arange(1.0, k * k + 1, dtype=torch.float64).reshape(1, 1, k, k)
    before, after = get_padding(k, "same")
    by_hand = F.conv2d(F.pad(x, (before, after, before, after)), w)
    with warnings.catch_warnings():  # PyTorch warns that an even kernel needs a padded copy
        warnings.simplefilter("ignore", UserWarning)
        pytorch = F.conv2d(x, w, padding="same")
    return bool(torch.allclose(by_hand, pytorch))


def same_output_size(n, k, s):
    """TensorFlow-style SAME with stride s: ceil(n / s) outputs, whatever k is."""
    return -(-int(n) // int(s))


def same_padding_total(n, k, s):
    """The padding (both sides together) that SAME needs: the last window starts at
    (out - 1) * s and ends k - 1 later; never negative (k < s can leave input unread)."""
    n, k, s = int(n), int(k), int(s)
    return max((same_output_size(n, k, s) - 1) * s + k - n, 0)


def same_output_size_floor(n, k, s):
    """Known mistake: floor(n / s), dropping a partial last step."""
    return int(n) // int(s)


def same_padding_total_unclamped(n, k, s):
    """Known mistake: the formula without max(..., 0) goes negative when k < s."""
    n, k, s = int(n), int(k), int(s)
    return (same_output_size(n, k, s) - 1) * s + k - n


def same_padding_total_stride_one(n, k, s):
    """Known mistake: k - 1, the stride-1 answer, whatever the stride."""
    return int(k) - 1


# ----------------------------------------------------------------------------- exercise 6
def corr1d(x, k, stride=1, padding=0):
    """1-D cross-correlation (no kernel flip) of a vector with a kernel, zero padding."""
    out = F.conv1d(_t(x).reshape(1, 1, -1), _t(k).reshape(1, 1, -1), stride=int(stride), padding=int(padding))
    return out.reshape(-1)


def corr1d_flipped(x, k, stride=1, padding=0):
    """Known mistake: true convolution (the kernel reversed before it slides)."""
    return corr1d(x, _t(k).flip(0), stride, padding)


# ----------------------------------------------------------------------------- exercise 7
def conv_params(c_in, c_out, k):
    """Weights of a k x k convolution from c_in to c_out channels (no bias)."""
    return int(c_in) * int(c_out) * int(k) ** 2


def conv_macs(c_in, c_out, k, h, w):
    """Multiply-accumulates for an h x w output (stride 1, SAME padding): one per weight per
    output position."""
    return int(h) * int(w) * conv_params(c_in, c_out, k)


def dws_params(c_in, c_out, k):
    """Depthwise (one k x k kernel per input channel) plus pointwise (1 x 1, c_in -> c_out)."""
    return int(c_in) * int(k) ** 2 + int(c_in) * int(c_out)


def dws_macs(c_in, c_out, k, h, w):
    return int(h) * int(w) * dws_params(c_in, c_out, k)


def dws_cost_ratio(c_in, c_out, k):
    """dws_macs / conv_macs = 1 / c_out + 1 / k**2 (the same for parameters)."""
    return 1.0 / int(c_out) + 1.0 / int(k) ** 2


def dws_macs_pointwise_once(c_in, c_out, k, h, w):
    """Known mistake: the pointwise step counted once, not once per output position."""
    return int(h) * int(w) * int(c_in) * int(k) ** 2 + int(c_in) * int(c_out)


def dws_to_dense(depthwise_w, pointwise_w):
    """The dense kernel of "depthwise then pointwise": W[o, i] = P[o, i] * D[i]."""
    D, P = _t(depthwise_w), _t(pointwise_w)
    return P[:, :, 0, 0][:, :, None, None] * D[:, 0][None]


def separable_conv(x, depthwise_w, pointwise_w, padding=0):
    """Depthwise (groups = c_in) then pointwise convolution, as PyTorch runs them."""
    D = _t(depthwise_w)
    h = F.conv2d(_t(x), D, padding=int(padding), groups=D.shape[0])
    return F.conv2d(h, _t(pointwise_w))
