"""Kernel-side probes for 6.3 (run INSIDE the student's kernel; no expected values here).

`without_transposed_convolution` calls one of the student's functions while PyTorch's own
transposed convolution is switched off, and returns what the function returned together with
the operations it tried to use. The grader compares the value with the reference and fails
the check when any ruled-out operation was used (rubrics/padding_and_strides_checks.py). It is
how the rubric tells "a stride of 1/2 built from an ordinary convolution on a spread-out
input" apart from "called F.conv_transpose2d", which is the answer itself.

Ruled out, whatever Python name leads to them (a `TorchDispatchMode` sees the ATen operators
that run on this thread, as in 6.5's pooling probe): `aten::convolution` (and
`_convolution`) with `transposed=True`, which F.conv_transpose2d and nn.ConvTranspose2d end in,
any operator named like a transposed convolution, and `convolution_backward`, the gradient of
a convolution with respect to its input, which is the same operation reached through autograd.
Everything else is allowed: F.conv2d, padding, indexing, loops, `F.fold` (col2im).

What the probe cannot see, by design: code that leaves PyTorch (numpy) or runs the operation
on another thread. That is deliberate work around the exercise in the student's own process
(see the README's security model); the value it returns is still judged in the grader.
"""

_CONVOLUTIONS = frozenset(("convolution", "_convolution", "convolution_overrideable", "_convolution_mode"))
_TRANSPOSED_ARG = 6  # aten::convolution(input, weight, bias, stride, padding, dilation, transposed, ...)


def _is_ruled_out(schema, args):
    name = schema.name
    if not name.startswith("aten::"):
        return None
    base = name[len("aten::") :].rstrip("_")
    if "conv_transpose" in base or base == "convolution_backward" or base.startswith("convolution_backward"):
        return base
    if base in _CONVOLUTIONS and len(args) > _TRANSPOSED_ARG and args[_TRANSPOSED_ARG] is True:
        return "transposed convolution"
    return None


def without_transposed_convolution(ctx, name, *args):
    """Call `name(*args)` with transposed convolutions switched off.

    Returns {"value": what the function returned (None if it raised), "ruled_out": the
    ruled-out operations it tried, in order of first use, "raised": the error it raised when a
    ruled-out operation stopped it, else ""}. An error the function raises for another reason
    propagates (the check then reports it as raised)."""
    advice = "spread the input out and use an ordinary convolution"
    return ctx.call_switched_off(_is_ruled_out, advice, ctx.get(name), *args)
