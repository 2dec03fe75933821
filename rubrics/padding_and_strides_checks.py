"""Property checks for 6.3, run in the grader on values that came back from the kernel."""

import numpy as np
import torch

from grader.content import CheckFailed, compare


def _squeezed(value, shape):
    """The value without leading size-1 dimensions when that gives the expected shape: the
    (1, 1, H, W) of F.conv2d is the same answer as (H, W), as the value checks of this rubric
    accept it (`singleton_dims = "ignore"`)."""
    if isinstance(value, np.ndarray) and value.shape != shape and value.size == int(np.prod(shape)):
        trimmed = value
        while trimmed.ndim > len(shape) and trimmed.shape[0] == 1:
            trimmed = trimmed[0]
        if trimmed.shape == shape:
            return trimmed
    return value


def matches_reference(value, ctx):
    """Compare with `reference.<options.reference>(*args[1:])`, computed here, after checking
    that the function used no ruled-out operation (rubrics/padding_and_strides_probes.py).

    The probe's first argument is the name of the student's function, not an input of the
    computation. Tolerances come from options (rtol, atol)."""
    what = ctx.options.get("label", ctx.what)
    if not isinstance(value, dict) or set(value) != {"value", "ruled_out", "raised"}:
        raise CheckFailed(f"{what}: the probe sent back nothing usable")
    ruled_out = value["ruled_out"]
    if not isinstance(ruled_out, list) or not all(isinstance(op, str) for op in ruled_out):
        raise CheckFailed(f"{what}: the probe sent back nothing usable")
    if ruled_out:
        stopped = " (it stopped the function)" if value["raised"] else ""
        raise CheckFailed(
            f"{what}: the function uses PyTorch's {', '.join(ruled_out[:3])}{stopped}; this exercise asks you to "
            "build the stride of 1/2 yourself, from an ordinary convolution on a spread-out input"
        )
    args = [torch.from_numpy(np.array(a)) if isinstance(a, np.ndarray) else a for a in ctx.args[1:]]
    expected = getattr(ctx.reference, ctx.options["reference"])(*args)
    compare(
        _squeezed(value["value"], tuple(expected.shape)),
        expected,
        mode="allclose",
        rtol=float(ctx.options["rtol"]),
        atol=float(ctx.options["atol"]),
        what=what,
    )
