"""Reference solutions for d2l 6.4 "Multiple Input and Multiple Output Channels" (PyTorch).

Run only in the grader process, to compute expected values; never sent to a kernel.
Written for clarity over speed: each function is the textbook definition.
"""

import torch
import torch.nn.functional as F


def corr2d(X, K):
    """Valid 2-D cross-correlation of a 2-D input with a 2-D kernel."""
    X = torch.as_tensor(X)
    K = torch.as_tensor(K)
    kh, kw = K.shape
    oh, ow = X.shape[0] - kh + 1, X.shape[1] - kw + 1
    out = torch.zeros((oh, ow), dtype=torch.promote_types(X.dtype, K.dtype))
    for i in range(oh):
        for j in range(ow):
            out[i, j] = (X[i : i + kh, j : j + kw] * K).sum()
    return out


def compose_kernels(K1, K2):
    """The single kernel Kc with corr2d(corr2d(X, K1), K2) == corr2d(X, Kc): the full 2-D
    *convolution* of K1 and K2, Kc[u, v] = sum K1[a, b] * K2[u - a, v - b]."""
    K1 = torch.as_tensor(K1, dtype=torch.float64)
    K2 = torch.as_tensor(K2, dtype=torch.float64)
    (a, b), (c, d) = K1.shape, K2.shape
    Kc = torch.zeros((a + c - 1, b + d - 1), dtype=torch.float64)
    for i in range(a):
        for j in range(b):
            Kc[i : i + c, j : j + d] += K1[i, j] * K2
    return Kc


def conv_output_hw(h, w, k_h, k_w, p_h, p_w, s_h, s_w):
    """Output height and width, measured on F.conv2d (per-side padding, partial steps dropped)."""
    out = F.conv2d(torch.zeros(1, 1, h, w), torch.zeros(1, 1, k_h, k_w), padding=(p_h, p_w), stride=(s_h, s_w))
    return int(out.shape[2]), int(out.shape[3])


def conv_cost(c_i, h, w, c_o, k_h, k_w, p_h, p_w, s_h, s_w):
    """(multiplications, additions) of a forward pass without bias.

    Each of the c_o * o_h * o_w outputs is a sum of c_i * k_h * k_w products (padded zeros
    are multiplied like any other value): c_i * k_h * k_w multiplications and one fewer
    additions.
    """
    o_h, o_w = conv_output_hw(h, w, k_h, k_w, p_h, p_w, s_h, s_w)
    outputs = c_o * o_h * o_w
    products = c_i * k_h * k_w
    return outputs * products, outputs * (products - 1)


def corr2d_multi_in_out_matmul(X, K):
    """Multi-channel cross-correlation, X (c_i, h, w) and K (c_o, c_i, k_h, k_w) -> (c_o, o_h, o_w)."""
    X = torch.as_tensor(X)
    K = torch.as_tensor(K)
    return F.conv2d(X.unsqueeze(0), K.to(X.dtype)).squeeze(0)


def block_diagonal_conv1x1(X, blocks):
    """The 1x1 convolution whose c x c channel-mixing matrix is block diagonal, blocks[g] its
    g-th (m x m) diagonal block: a grouped convolution, nn.Conv2d(c, c, 1, groups=b)."""
    X = torch.as_tensor(X, dtype=torch.float64)
    blocks = torch.as_tensor(blocks, dtype=torch.float64)
    b, m, _ = blocks.shape
    return F.conv2d(X.unsqueeze(0), blocks.reshape(b * m, m, 1, 1), groups=b).squeeze(0)


def block_diagonal_mults(c, b):
    """Multiplications of one product of a c x c block-diagonal matrix (b blocks of c/b x c/b)
    with a vector: b * (c/b)^2 = c^2 / b, b times fewer than the dense c^2."""
    m = int(c) // int(b)
    return int(b) * m * m


# ----------------------------------------------------------------------------- known mistakes
# Wrong answers students give, from the same inputs as the checks that list them under
# `diagnoses` (rubrics/channels.toml).


def conv_cost_one_addition_per_product(c_i, h, w, c_o, k_h, k_w, p_h, p_w, s_h, s_w):
    """As many additions as multiplications (each product added to a running sum from zero)."""
    multiplications, _ = conv_cost(c_i, h, w, c_o, k_h, k_w, p_h, p_w, s_h, s_w)
    return multiplications, multiplications


def conv_cost_padding_once(c_i, h, w, c_o, k_h, k_w, p_h, p_w, s_h, s_w):
    """The output size with the padding counted once (as a total over both sides)."""
    o_h, o_w = (h + p_h - k_h) // s_h + 1, (w + p_w - k_w) // s_w + 1
    products = c_i * k_h * k_w
    return c_o * o_h * o_w * products, c_o * o_h * o_w * (products - 1)
