"""Property checks for 6.5, run in the grader on values that came back from the kernel."""

import numpy as np
import torch

from grader.content import compare


def matches_reference(value, ctx):
    """Compare with `reference.<options.reference>(*args[options.skip:])`.

    Used for probe checks, whose first argument is the name of the student's function
    rather than an input of the computation. Tolerances come from options (rtol, atol).
    """
    fn = getattr(ctx.reference, ctx.options["reference"])
    args = ctx.args[int(ctx.options.get("skip", 0)) :]
    args = [torch.from_numpy(np.array(a)) if isinstance(a, np.ndarray) else a for a in args]
    expected = fn(*args)
    what = ctx.options.get("label", ctx.what)
    compare(
        value, expected, mode="allclose", rtol=float(ctx.options["rtol"]), atol=float(ctx.options["atol"]), what=what
    )
