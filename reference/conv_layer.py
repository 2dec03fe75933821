"""Reference solutions for d2l 6.2 "Convolutions for Images" (PyTorch).

Run only in the grader process, to compute expected values; never sent to a kernel.
Written for clarity over speed: each function is the textbook definition.
"""

import math

import torch


def corr2d(X, K):
    """Valid 2-D cross-correlation of a 2-D input with a 2-D kernel.

    Y[i, j] = sum over (a, b) of X[i + a, j + b] * K[a, b], over every position where the
    kernel fits; written with unfold so the grader's many reference calls stay cheap.
    """
    X = torch.as_tensor(X)
    K = torch.as_tensor(K)
    dtype = torch.promote_types(X.dtype, K.dtype)
    kh, kw = K.shape
    windows = X.to(dtype).unfold(0, kh, 1).unfold(1, kw, 1)  # (oh, ow, kh, kw)
    return (windows * K.to(dtype)).sum(dim=(-1, -2))


def corr2d_matmul(X, K):
    """The same cross-correlation as one matrix product over unfolded patches (im2col)."""
    X = torch.as_tensor(X)
    K = torch.as_tensor(K)
    kh, kw = K.shape
    patches = X.unfold(0, kh, 1).unfold(1, kw, 1)  # (oh, ow, kh, kw)
    oh, ow = patches.shape[:2]
    return (patches.reshape(oh * ow, kh * kw) @ K.reshape(-1)).reshape(oh, ow)


def conv_matrix(K, in_shape):
    """W with (W @ X.reshape(-1)).reshape(oh, ow) == corr2d(X, K), row-major throughout."""
    K = torch.as_tensor(K)
    nh, nw = in_shape
    kh, kw = K.shape
    oh, ow = nh - kh + 1, nw - kw + 1
    W = torch.zeros((oh * ow, nh * nw), dtype=K.dtype)
    for i in range(oh):
        for j in range(ow):
            for a in range(kh):
                for b in range(kw):
                    W[i * ow + j, (i + a) * nw + (j + b)] = K[a, b]
    return W


def diagonal_image(n=6):
    """An n x n image whose lower-left triangle is 1: a diagonal edge."""
    return torch.tril(torch.ones(n, n))


def second_derivative_kernel():
    return torch.tensor([[1.0, -2.0, 1.0]])


def integral_kernel(n):
    return torch.ones((1, n))


def min_kernel_size(d):
    return d + 1


def derivative_kernel(d):
    """Forward difference of order d: coefficients (-1)^(d-k) * C(d, k)."""
    return torch.tensor([float((-1) ** (d - k) * math.comb(d, k)) for k in range(d + 1)])


def edge_kernel(v):
    """A 3x3 detector of edges orthogonal to v = (v1, v2) (v1 along the width, v2 along the
    height): the Sobel pair steered by v, v1 * d/dx + v2 * d/dy. Its response to an image whose
    brightness is a ramp a * col + b * row + c is 8 * (v1 * a + v2 * b): zero for a ramp along
    (v2, -v1), i.e. for edges parallel to v."""
    v1, v2 = (float(t) for t in v)
    smooth = torch.tensor([1.0, 2.0, 1.0], dtype=torch.float64)
    diff = torch.tensor([-1.0, 0.0, 1.0], dtype=torch.float64)
    d_dx = torch.outer(smooth, diff)  # rows smooth, columns differentiate
    return v1 * d_dx + v2 * d_dx.T


def blur_kernel(k, sigma=1.0):
    """A k x k Gaussian blur: non-negative, sums to 1, centred (it does not move the image)."""
    offsets = torch.arange(k, dtype=torch.float64) - (k - 1) / 2
    g = torch.exp(-(offsets**2) / (2 * sigma**2))
    kernel = torch.outer(g, g)
    return kernel / kernel.sum()


def corr2d_of_transpose(X, K):
    """What Y_diag_XT should be: the kernel applied to the transposed image."""
    return corr2d(torch.as_tensor(X).T, K)


# ----------------------------------------------------------------------------- known mistakes
# Wrong answers students give, computed from the same inputs as the checks that list them
# under `diagnoses` (rubrics/conv-layer.toml): an answer equal to one is told which mistake it is.


def corr2d_flipped(X, K):
    """True convolution: K turned by 180 degrees before it slides over X."""
    return corr2d(X, torch.as_tensor(K).flip(0, 1))


def corr2d_of_transpose_flipped(X, K):
    """Y_diag_XT from a corr2d that flips its kernel."""
    return corr2d_flipped(torch.as_tensor(X).T, K)


def corr2d_kernel_not_transposed(X, K_column):
    """corr2d(X, K) where corr2d(X, K.T) was asked (the column kernel back in a row)."""
    return corr2d(X, torch.as_tensor(K_column).T)


def conv_matrix_column_major(K, in_shape):
    """W whose rows read each window column by column: K[a, b] at column (j + b) * n_h + (i + a)."""
    W = conv_matrix(K, in_shape)
    nh, nw = in_shape
    return W.reshape(-1, nh, nw).transpose(1, 2).reshape(W.shape[0], nh * nw)


def min_kernel_size_one_short(d):
    """d taps for a derivative of order d."""
    return d
