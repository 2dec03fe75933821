"""Property checks for 6.5, run in the grader on values that came back from the kernel."""

import numpy as np
import torch

from grader.content import CheckFailed, compare


def matches_reference(value, ctx):
    """Compare with `reference.<options.reference>(*args[options.skip:])`, computed here.

    Used for the `with_pooling_disabled` probe, whose first argument is the name of the
    student's function rather than an input of the computation, and which reports the
    ruled-out operations the function tried (rubrics/pooling_probes.py): any of them fails
    the check, whatever the value. Tolerances come from options (rtol, atol).
    """
    what = ctx.options.get("label", ctx.what)
    if not isinstance(value, dict) or set(value) != {"value", "ruled_out", "raised"}:
        raise CheckFailed(f"{what}: the probe sent back nothing usable")
    ruled_out = value["ruled_out"]
    if not isinstance(ruled_out, list) or not all(isinstance(op, str) for op in ruled_out):
        raise CheckFailed(f"{what}: the probe sent back nothing usable")
    if ruled_out:
        shown = ", ".join(ruled_out[:5]) + (", ..." if len(ruled_out) > 5 else "")
        stopped = " (it stopped the function)" if value["raised"] else ""
        raise CheckFailed(
            f"{what}: the function uses PyTorch's {shown}{stopped}; this exercise asks for the pooling to be "
            "built from convolutions (and ReLU), without pooling, max, min or mean"
        )
    fn = getattr(ctx.reference, ctx.options["reference"])
    args = ctx.args[int(ctx.options.get("skip", 0)) :]
    args = [torch.from_numpy(np.array(a)) if isinstance(a, np.ndarray) else a for a in args]
    expected = fn(*args)
    compare(
        value["value"],
        expected,
        mode="allclose",
        rtol=float(ctx.options["rtol"]),
        atol=float(ctx.options["atol"]),
        what=what,
    )
