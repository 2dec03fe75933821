"""Property checks for "Convolution and pooling layers from scratch", run in the grader."""

import numpy as np
import torch
import torch.nn.functional as F

from grader.content import CheckFailed, compare, shape_text


def dense_equals_separable(value, ctx):
    """The student's dense kernel, used as an ordinary convolution, must do what the
    depthwise-then-pointwise pair does, on an input the grader draws here (ctx.rng).

    This is the property the exercise is about (a separable convolution is a dense one with a
    constrained kernel), checked on its own: a kernel that is right in value passes it, and
    the message says what the convolution got wrong rather than which weight differs."""
    depthwise_w, pointwise_w = (torch.as_tensor(np.asarray(a), dtype=torch.float64) for a in ctx.args[:2])
    c_in, k = depthwise_w.shape[0], depthwise_w.shape[-1]
    c_out = pointwise_w.shape[0]
    if not isinstance(value, np.ndarray) or value.shape != (c_out, c_in, k, k):
        shown = shape_text(value.shape) if isinstance(value, np.ndarray) else type(value).__name__
        raise CheckFailed(
            f"{ctx.what} returned {shown}; a dense kernel for {c_in} -> {c_out} channels with "
            f"{k}x{k} windows has shape {shape_text((c_out, c_in, k, k))}"
        )
    padding = int(ctx.options.get("padding", 0))
    batch, height, width = (int(n) for n in ctx.options.get("input", [2, 6, 5]))
    x = torch.from_numpy(ctx.rng.standard_normal((batch, c_in, height, width)))
    dense = torch.from_numpy(np.asarray(value, dtype=np.float64))
    convolved = F.conv2d(x, dense, padding=padding).numpy()
    expected = ctx.reference.separable_conv(x, depthwise_w, pointwise_w, padding)
    compare(
        convolved,
        expected,
        mode="allclose",
        rtol=float(ctx.options.get("rtol", 1e-5)),
        atol=float(ctx.options.get("atol", 1e-5)),
        what=f"F.conv2d(x, your dense kernel, padding={padding}) compared with depthwise then pointwise",
    )
