"""Property checks for 6.4, run in the grader on values that came back from the kernel.

Each function gets the student's value (numpy arrays, numbers) and a PropertyContext,
and raises CheckFailed with a message the student can act on when the property fails.
"""

import numpy as np
import torch

from grader.content import CheckFailed


def composes_two_kernels(value, ctx):
    """value = compose_kernels(K1, K2) must satisfy corr2d(corr2d(X, K1), K2) == corr2d(X, value)."""
    K1, K2 = (np.asarray(k, dtype=np.float64) for k in ctx.args)
    want_shape = (K1.shape[0] + K2.shape[0] - 1, K1.shape[1] + K2.shape[1] - 1)
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "biuf":
        raise CheckFailed(f"{ctx.what} should return a 2-D tensor, not {getattr(value, 'dtype', type(value).__name__)}")
    if value.shape != want_shape:
        raise CheckFailed(f"{ctx.what} returned shape {tuple(value.shape)}, expected {want_shape}")
    Kc = torch.tensor(np.asarray(value, dtype=np.float64))
    corr2d = ctx.reference.corr2d
    for _ in range(3):
        X = torch.tensor(ctx.rng.standard_normal((want_shape[0] + 3, want_shape[1] + 4)))
        twice = corr2d(corr2d(X, torch.tensor(K1)), torch.tensor(K2))
        once = corr2d(X, Kc)
        if not torch.allclose(once, twice, rtol=1e-4, atol=1e-4):
            diff = (once - twice).abs().max().item()
            raise CheckFailed(
                f"{ctx.what}: corr2d(X, Kc) differs from corr2d(corr2d(X, K1), K2) on a random X "
                f"(largest difference {diff:.3g}; rtol 1e-4, atol 1e-4)"
            )


def boolean_answer(value, ctx):
    """A yes/no answer: a bool, or a one-element bool tensor (as (A == B).all() gives)."""
    want = bool(ctx.options["expected"])
    if isinstance(value, np.ndarray) and value.size == 1 and value.dtype.kind == "b":
        value = bool(value.reshape(()).item())
    if not isinstance(value, (bool, np.bool_)):
        raise CheckFailed(f"{ctx.what} should be True or False, not {getattr(value, 'dtype', type(value).__name__)}")
    if bool(value) != want:
        raise CheckFailed(f"{ctx.what} is {bool(value)}, which is not the right answer")


def mixes_groups(value, ctx):
    """value = channel_shuffle(X, b) must reorder the c channels of X (a permutation: every
    channel once, unchanged) so that each of the b consecutive groups of m = c / b channels
    draws on as many groups of the input as it can: all b of them when m >= b, else m
    different ones. Then the next block-diagonal (grouped) layer mixes information across
    the groups of the previous one. Any such permutation passes (ShuffleNet's transpose is one).

    The grader's X is random, so its channels are distinct; they are matched exactly, since a
    permutation copies values without arithmetic."""
    X = np.asarray(ctx.args[0], dtype=np.float64)
    b = int(ctx.args[1])
    c = X.shape[0]
    m = c // b
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "biuf":
        raise CheckFailed(f"{ctx.what} should return a tensor, not {getattr(value, 'dtype', type(value).__name__)}")
    if value.shape != X.shape:
        raise CheckFailed(
            f"{ctx.what} returned shape {tuple(value.shape)}, expected {tuple(X.shape)} (the same channels, reordered)"
        )
    Y = np.asarray(value, dtype=np.float64)
    flat_x = X.reshape(c, -1)
    source = []
    for k, channel in enumerate(Y.reshape(c, -1)):
        matches = [i for i in range(c) if np.array_equal(channel, flat_x[i])]
        if not matches:
            raise CheckFailed(
                f"{ctx.what}: output channel {k} is none of the input's channels (reorder them, do not mix them)"
            )
        source.append(matches[0])
    if sorted(source) != list(range(c)):
        missing = sorted(set(range(c)) - set(source))
        raise CheckFailed(
            f"{ctx.what}: input channel {missing[0]} is missing from the output (each channel must appear once)"
        )
    want = min(b, m)
    for q in range(b):
        groups = sorted({source[k] // m for k in range(q * m, (q + 1) * m)})
        if len(groups) < want:
            names = ", ".join(str(g) for g in groups)
            raise CheckFailed(
                f"{ctx.what}: output group {q} (channels {q * m}..{(q + 1) * m - 1}) takes its channels from input "
                f"group(s) {names} only; it can draw on {want} different groups, so that the next block-diagonal layer "
                "mixes the groups"
            )
