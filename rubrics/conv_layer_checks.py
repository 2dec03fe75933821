"""Property checks for 6.2, run in the grader on values that came back from the kernel.

Each function gets the student's value (numpy arrays, numbers) and a PropertyContext,
and raises CheckFailed with a message the student can act on when the property fails.
"""

import math

import numpy as np
import torch

from grader.content import CheckFailed

MAX_PIXEL = 1e6  # has_diagonal_edge: larger pixel values are a degenerate image, not an edge


def _numbers(value, what):
    """A tensor, array or (nested) list of real numbers as a float64 array, or CheckFailed.

    Anything else a notebook may bind (strings, ragged lists, None) is the student's answer
    being wrong, never a grader problem: it fails the check with a message."""
    if isinstance(value, (list, tuple)):
        try:
            value = np.asarray(value)
        except ValueError:
            raise CheckFailed(f"{what} should be a tensor of numbers, not a ragged list") from None
    if not isinstance(value, np.ndarray):
        raise CheckFailed(f"{what} should be a tensor, not {type(value).__name__}")
    if value.dtype.kind not in "biuf":
        raise CheckFailed(f"{what} should hold real numbers, not values of dtype {value.dtype}")
    return value.astype(np.float64)


def _as_2d_kernel(value, what):
    array = _numbers(value, what)
    if array.ndim == 1:
        array = array.reshape(1, -1)
    if array.ndim != 2 or array.shape[0] != 1 or array.shape[1] == 0:
        raise CheckFailed(f"{what} should be a 1 x k kernel along the width, got shape {tuple(array.shape)}")
    return array


def _apply_rows(kernel, samples, reference):
    """Cross-correlate a row of samples with a 1 x k kernel using the reference corr2d."""
    out = reference.corr2d(torch.tensor(samples.reshape(1, -1)), torch.tensor(kernel))
    return out.numpy().reshape(-1)


def has_diagonal_edge(value, ctx):
    """Both K = [[1, -1]] and K.T respond to the image: each gives at least one non-zero
    entry, every response is finite, and the image's values are moderate.

    Entries are tested one by one, never through a sum: the sum of the absolute responses
    of an image of nans is nan and of an image of huge values inf, both "not 0". (The
    engine refuses nan and inf in the image itself before this runs.) Values are kept within
    MAX_PIXEL so that a difference of two pixels is exact in float32 and cannot overflow;
    a diagonal edge between 0 and 1, or 0 and 255, is far inside it.
    """
    if not isinstance(value, np.ndarray) or value.ndim != 2:
        raise CheckFailed(f"{ctx.what} should be a 2-D tensor, got {getattr(value, 'shape', type(value).__name__)}")
    if value.dtype.kind != "f":
        raise CheckFailed(f"{ctx.what} should hold floats (dtype {value.dtype})")
    if min(value.shape) < 2:
        raise CheckFailed(f"{ctx.what} is too small to contain a diagonal edge: shape {value.shape}")
    X = np.asarray(value, dtype=np.float64)
    if not np.isfinite(X).all() or np.abs(X).max() > MAX_PIXEL:
        raise CheckFailed(
            f"{ctx.what} has values beyond +-{MAX_PIXEL:g} (or not finite); draw the edge between moderate "
            "values such as 0 and 1"
        )
    X = torch.tensor(X)
    K = torch.tensor([[1.0, -1.0]], dtype=torch.float64)
    for which, kernel in (("K", K), ("K.T", K.T)):
        response = ctx.reference.corr2d(X, kernel).numpy()
        if not np.isfinite(response).all():
            raise CheckFailed(f"{ctx.what}: {which} gives non-finite values on it")
        if np.count_nonzero(response) == 0:
            raise CheckFailed(
                f"{ctx.what} has no diagonal edge: {which} gives all zeros on it (a diagonal edge changes value "
                "both along rows and along columns)"
            )


def second_derivative(value, ctx):
    kernel = _as_2d_kernel(value, ctx.what)
    k = kernel.shape[1]
    x = np.arange(-(k + 3), k + 4, dtype=np.float64)
    for degree, poly, want in ((0, 5.0 + 0 * x, 0.0), (1, 2.0 * x - 1.0, 0.0), (2, 3.0 * x**2, 6.0)):
        got = _apply_rows(kernel, poly, ctx.reference)
        if not np.allclose(got, want, atol=1e-6):
            shape = {0: "a constant", 1: "the line 2x - 1", 2: "3x^2"}[degree]
            raise CheckFailed(
                f"{ctx.what} applied along a row that follows {shape} gives {got[0]:.6g}, expected {want:g} (the second derivative)"
            )


def sums_its_input(value, ctx):
    n = int(ctx.args[0])
    kernel = _numbers(value, ctx.what) if isinstance(value, np.ndarray) else None
    if kernel is None or kernel.shape != (1, n):
        raise CheckFailed(
            f"{ctx.what} should return a kernel of shape (1, {n}), got {getattr(value, 'shape', type(value).__name__)}"
        )
    for _ in range(3):
        x = ctx.rng.standard_normal(n)
        got = ctx.reference.corr2d(torch.tensor(x.reshape(1, n)), torch.tensor(kernel)).reshape(-1)
        if got.numel() != 1 or not math.isclose(got.item(), x.sum(), rel_tol=1e-6, abs_tol=1e-9):
            raise CheckFailed(
                f"{ctx.what}: corr2d(x.reshape(1, {n}), kernel) gives {got.reshape(-1)[0].item():.6g}, but x.sum() is {x.sum():.6g}"
            )


def differentiates(value, ctx):
    d = int(ctx.args[0])
    if not isinstance(value, np.ndarray):
        raise CheckFailed(f"{ctx.what} should return a tensor, not {type(value).__name__}")
    value = _numbers(value, ctx.what)
    kernel = value.reshape(1, -1) if value.ndim in (1, 2) and (value.ndim == 1 or value.shape[0] == 1) else None
    if kernel is None or kernel.shape[1] != d + 1:
        raise CheckFailed(f"{ctx.what} should have length {d + 1}, got shape {tuple(value.shape)}")
    x = np.arange(0, 3 * d + 6, dtype=np.float64)
    for p in range(d + 1):
        got = _apply_rows(kernel, x**p, ctx.reference)
        want = float(math.factorial(d)) if p == d else 0.0
        if not np.allclose(got, want, atol=1e-6 * max(1.0, want)):
            raise CheckFailed(f"{ctx.what} applied to x^{p} gives {got[0]:.6g}, expected {want:g}")


def conv_matrix_reproduces_corr2d(value, ctx):
    K, (nh, nw) = ctx.args
    kh, kw = K.shape
    oh, ow = nh - kh + 1, nw - kw + 1
    if not isinstance(value, np.ndarray) or value.shape != (oh * ow, nh * nw):
        got = getattr(value, "shape", type(value).__name__)
        raise CheckFailed(f"{ctx.what} returned shape {got}, expected ({oh * ow}, {nh * nw})")
    W = _numbers(value, ctx.what)
    for _ in range(3):
        X = ctx.rng.standard_normal((nh, nw))
        want = ctx.reference.corr2d(torch.tensor(X), torch.tensor(K, dtype=torch.float64)).numpy()
        got = (W @ X.reshape(-1)).reshape(oh, ow)
        if not np.allclose(got, want, rtol=1e-4, atol=1e-4):
            raise CheckFailed(f"{ctx.what}: (W @ X.reshape(-1)).reshape({oh}, {ow}) differs from corr2d(X, K)")


# ----------------------------------------------------------------------------- d2l v1.0 only
MAX_KERNEL = 15  # edge_kernel / blur_kernel: larger kernels are not what these exercises ask for


def _kernel_2d(value, what):
    """The student's kernel as a 2-D float64 array of moderate size, or CheckFailed."""
    if not isinstance(value, (np.ndarray, list, tuple)):
        raise CheckFailed(f"{what} should return a 2-D tensor, not {type(value).__name__}")
    array = _numbers(value, what)
    if array.ndim != 2 or 0 in array.shape:
        raise CheckFailed(f"{what} should return a 2-D kernel of shape (k_h, k_w), got shape {tuple(array.shape)}")
    if max(array.shape) > MAX_KERNEL:
        raise CheckFailed(
            f"{what} returned a {array.shape[0]} x {array.shape[1]} kernel; keep it within {MAX_KERNEL} x {MAX_KERNEL}"
        )
    return array


def _ramp(shape, slope_x, slope_y, offset):
    """An image whose brightness grows by slope_x per column and slope_y per row (a linear ramp)."""
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float64)
    return slope_x * cols + slope_y * rows + offset


def _response(image, kernel, reference):
    return reference.corr2d(torch.tensor(image), torch.tensor(kernel)).numpy()


def detects_edges_across(value, ctx):
    """value = edge_kernel(v) must detect edges orthogonal to v = (v1, v2) (v1 along the
    width, v2 along the height): respond to brightness that changes along v, and not at all to
    brightness that changes along w = (v2, -v1) (edges parallel to v) or to a flat image.

    Judged on linear ramps, where any kernel's response is exact and the same everywhere:
    on a ramp of gradient g plus an offset c it is (g . p + c) * sum(K) + g . m, with m the
    kernel's first moment (sum of K[a, b] * (b, a)). So a detector must have sum(K) = 0 and m
    parallel to v; nothing else about it (size, centring, smoothing across the edge, sign,
    scale) is prescribed: a 2x2 forward difference, a central difference and a steered Sobel
    kernel all pass. Tolerances are relative to sum(|K|), so the kernel's scale does not matter.
    """
    v = np.asarray(ctx.args[0], dtype=np.float64).reshape(-1)
    u = v / np.linalg.norm(v)
    w = np.array([u[1], -u[0]])
    K = _kernel_2d(value, ctx.what)
    weight = np.abs(K).sum()
    if weight == 0:
        raise CheckFailed(f"{ctx.what} is all zeros: it responds to nothing")
    shape = (K.shape[0] + 4, K.shape[1] + 4)
    v_text = f"({v[0]:.3g}, {v[1]:.3g})"
    flat = _response(np.ones(shape), K, ctx.reference)
    if np.abs(flat).max() > 1e-6 * weight:
        raise CheckFailed(
            f"{ctx.what} responds to an image of constant brightness (its entries add up to {K.sum():.4g}, "
            "not 0): a flat region has no edge"
        )
    across = _ramp(shape, w[0], w[1], 2.0)
    tol = 1e-5 * weight * (1.0 + np.abs(across).max())
    got = _response(across, K, ctx.reference)
    if np.abs(got).max() > tol:
        raise CheckFailed(
            f"{ctx.what} responds ({np.abs(got).max():.3g}) to brightness that changes along "
            f"({w[0]:.3g}, {w[1]:.3g}), i.e. to edges that run parallel to v = {v_text}; it should respond only "
            "to changes along v (edges orthogonal to v)"
        )
    along = _response(_ramp(shape, u[0], u[1], -1.0), K, ctx.reference)
    if np.abs(along).min() < 1e-3 * weight:
        raise CheckFailed(
            f"{ctx.what} does not respond to brightness that changes along v = {v_text} (edges orthogonal to v)"
        )


def blurs(value, ctx):
    """value = blur_kernel(k) must be a k x k blur: non-negative weights that add up to 1
    (a flat image keeps its brightness), centred (a linear ramp comes out unchanged, so the
    image is not moved), and spread out: white noise keeps at most half of its variance,
    which for independent pixels is exactly the sum of the squared weights (a box filter
    keeps 1 / k^2 of it, a Gaussian with sigma = 1 about 1/8 at k = 3; a single 1 keeps all)."""
    k = int(ctx.args[0])
    K = _kernel_2d(value, ctx.what)
    if K.shape != (k, k):
        raise CheckFailed(f"{ctx.what} returned shape {tuple(K.shape)}, expected ({k}, {k})")
    if K.min() < -1e-7:
        raise CheckFailed(
            f"{ctx.what} has negative weights (the smallest is {K.min():.3g}): a blur averages its window, "
            "negative weights sharpen"
        )
    total = K.sum()
    if abs(total - 1.0) > 1e-5:
        raise CheckFailed(
            f"{ctx.what}: the weights add up to {total:.4g}, not 1, so a flat image changes brightness "
            f"(a constant c becomes {total:.4g} * c)"
        )
    image = _ramp((k + 4, k + 4), 0.7, -1.3, 2.0)
    centre = (k - 1) // 2
    got = _response(image, K, ctx.reference)
    want = image[centre : centre + got.shape[0], centre : centre + got.shape[1]]
    if not np.allclose(got, want, rtol=0, atol=1e-4 * np.abs(image).max()):
        rows, cols = np.mgrid[0:k, 0:k]
        raise CheckFailed(
            f"{ctx.what} moves the image: its weights are centred at row {(K * rows).sum():.3g}, column "
            f"{(K * cols).sum():.3g}, not at the middle of the window ({centre}, {centre})"
        )
    kept = (K**2).sum()
    if kept > 0.5:
        raise CheckFailed(
            f"{ctx.what} hardly blurs: white noise keeps {kept:.0%} of its variance through it (the sum of the "
            "squared weights); spread the weight so that at least half of it goes"
        )
