"""Kernel-side probes for 6.5 (run INSIDE the student's kernel; no expected values here).

`with_pooling_disabled` calls one of the student's functions while PyTorch's pooling
operations and its max/min/mean reductions are switched off, and returns what the function
returned together with the operations it tried to use. The grader compares the value with
the reference and fails the check when any ruled-out operation was used
(rubrics/pooling_checks.py). It is how the rubric tells "average/max pooling built from
convolutions" apart from "called the pooling layer".

Why a dispatch mode and not patched attributes: replacing `F.avg_pool2d`, `torch.max`, ...
only catches code that looks the name up while the probe runs. A reference saved earlier
(`ap = F.avg_pool2d`), an `nn.AvgPool2d` layer, `getattr(torch, "max")`, a Tensor method or
`torch._C._nn.avg_pool2d` all end in the same ATen operator, and a
`torch.utils._python_dispatch.TorchDispatchMode` sees every ATen operator that runs on this
thread, whatever Python name led to it. The mode is taken from the library as it was before
any student cell ran (`ctx.original`), where the kernel remembers that module.

What the probe cannot see, by design, and why that is acceptable: code that leaves PyTorch
(numpy on `X.numpy()`, Python's `max` over `.tolist()`), that runs the pooling on another
thread, or that disables the probe's mode on purpose. None of that is a saved reference or a
slip: it is deliberate work around the exercise inside the student's own process, where
nothing can be enforced (see the README's security model), and the value it returns is still
judged in the grader against the reference.
"""

# ATen operators (schema names without the "aten::" prefix) that compute a pooling, a max, a
# min (max of the negation), a mean, or an order statistic (sorting gives the max). Every
# operator whose name contains "pool" is ruled out as well (max_pool2d_with_indices,
# _adaptive_avg_pool2d, mkldnn_max_pool2d, ...); "unpool" scatters and is not a pooling.
_RULED_OUT_OPS = frozenset(
    (
        "max",
        "amax",
        "maximum",
        "fmax",
        "argmax",
        "min",
        "amin",
        "minimum",
        "fmin",
        "argmin",
        "aminmax",
        "_aminmax",
        "cummax",
        "cummin",
        "_cummax_helper",
        "_cummin_helper",
        "mean",
        "nanmean",
        "var_mean",
        "std_mean",
        "sort",
        "argsort",
        "msort",
        "topk",
        "kthvalue",
        "median",
        "nanmedian",
        "mode",
    )
)
# clamp with a *tensor* bound is an elementwise maximum/minimum of two tensors (with a number
# as the bound it is a ReLU-like threshold, which the exercise allows).
_RULED_OUT_OVERLOADS = frozenset((("clamp", "Tensor"), ("clamp", "Tensor_out"), ("clamp_min", "Tensor")))
_RULED_OUT_OVERLOADS |= frozenset((("clamp_max", "Tensor"), ("clamp_min", "Tensor_out"), ("clamp_max", "Tensor_out")))


def _is_ruled_out(name, overload):
    """Whether the ATen operator `name` (with that overload) is one the exercise rules out."""
    if name.startswith("aten::"):
        name = name[len("aten::") :]
    else:
        return False
    base = name.rstrip("_")  # in-place variants (clamp_min_) share the rule
    if "pool" in base and "unpool" not in base:
        return True
    return base in _RULED_OUT_OPS or (base, overload) in _RULED_OUT_OVERLOADS


def with_pooling_disabled(ctx, name, *args):
    """Call `name(*args)` with pooling, max/min and mean switched off.

    Returns {"value": what the function returned (None if it raised), "ruled_out": the
    ruled-out operators it tried, in order of first use, "raised": the error it raised when a
    ruled-out operator stopped it, else ""}. An error the function raises for another reason
    propagates (the check then reports it as raised)."""
    advice = "build the pooling from convolutions (and ReLU)"
    return ctx.call_switched_off(_label, advice, ctx.get(name), *args)


def _label(schema, args):
    """The operator's name without its namespace when the exercise rules it out, else None."""
    return schema.name[len("aten::") :] if _is_ruled_out(schema.name, schema.overload_name) else None
