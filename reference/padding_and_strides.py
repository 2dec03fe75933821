"""Reference solutions for d2l 6.3 "Padding and Stride" (PyTorch).

Run only in the grader process, to compute expected values; never sent to a kernel.
Shapes are measured on a real nn.Conv2d so that the rubric cannot drift from PyTorch.
"""

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def conv_out_shape(in_hw, kernel, padding, stride):
    """(h, w) of the output of nn.Conv2d(kernel_size=kernel, padding=padding, stride=stride)
    on an in_hw input: padding is per side, as in PyTorch. Measured, not computed."""
    layer = nn.Conv2d(1, 1, kernel_size=tuple(kernel), padding=tuple(padding), stride=tuple(stride), bias=False)
    with torch.no_grad():
        out = layer(torch.zeros((1, 1, *tuple(int(n) for n in in_hw))))
    return tuple(int(n) for n in out.shape[2:])


def conv1d_stride2(x, k):
    """Valid 1-D cross-correlation with stride 2: every second output of the stride-1 one."""
    x = torch.as_tensor(x, dtype=torch.float64)
    k = torch.as_tensor(k, dtype=torch.float64)
    return F.conv1d(x[None, None], k[None, None], stride=2)[0, 0]


def stride_cost_ratio(s_h, s_w):
    """Stride (s_h, s_w) computes one output in every s_h * s_w of the stride-1 layer."""
    return s_h * s_w


def mirror_pad(X, p):
    """Reflect padding by p on every side of a 1-D or 2-D tensor, the edge not repeated:
    [1, 2, 3, 4] padded by 2 is [3, 2, 1, 2, 3, 4, 3, 2] (numpy's mode='reflect')."""
    X = np.asarray(torch.as_tensor(X).numpy())
    return torch.from_numpy(np.pad(X, int(p), mode="reflect"))


def conv_stride_half(X, K):
    """A "stride of 1/2" on a 2-D input: the transposed convolution with stride 2. Each input
    pixel X[i, j] adds X[i, j] * K into the output block whose top-left corner is (2i, 2j);
    the output has shape (2 (n_h - 1) + k_h, 2 (n_w - 1) + k_w)."""
    X = torch.as_tensor(X, dtype=torch.float64)
    K = torch.as_tensor(K, dtype=torch.float64)
    return F.conv_transpose2d(X[None, None], K[None, None], stride=2)[0, 0]


# ----------------------------------------------------------------------------- known mistakes
# Wrong answers students give, from the same inputs as the checks that list them under
# `diagnoses` (rubrics/padding-and-strides.toml).


def conv_out_shape_padding_once(in_hw, kernel, padding, stride):
    """The padding counted once, as if `padding` were the total over both sides."""
    return tuple(
        (int(n) + int(p) - int(k)) // int(s) + 1 for n, k, p, s in zip(in_hw, kernel, padding, stride, strict=True)
    )


def conv_out_shape_rounded_up(in_hw, kernel, padding, stride):
    """A last, partial step counted: the division rounded up instead of down."""
    return tuple(
        -(-(int(n) + 2 * int(p) - int(k)) // int(s)) + 1
        for n, k, p, s in zip(in_hw, kernel, padding, stride, strict=True)
    )
