"""Kernel-side probes for "Convolution and pooling layers from scratch" (run INSIDE the
student's kernel; no expected values here).

The assignment asks for convolution, im2col/col2im and pooling written with indexing, loops
and arithmetic. Each probe calls the student's code with PyTorch's own implementations of
those operations switched off: every convolution (F.conv1d/conv2d, nn.Conv2d, conv_transpose,
torch.nn.grad's helpers), F.unfold and F.fold (ATen's im2col and col2im) and every pooling
(max_pool2d and its backward, avg_pool2d, max_unpool2d, adaptive pooling). A call that reaches
one raises a RuntimeError naming it, so a wrapper of F.unfold cannot pass the im2col checks.
The grader then compares what comes back with the reference (value checks) or with autograd of
the reference (gradient checks); nothing computed here is trusted.

Why a dispatch mode and not patched attributes (the same reasoning as rubrics/pooling_probes.py):
`F.unfold`, a saved `unfold = F.unfold`, `nn.Unfold`, `torch._C._nn.im2col` all end in the
ATen operator `im2col`, and a `TorchDispatchMode` sees every ATen operator that runs on this
thread, whatever name led to it. The mode class is taken from the library as it was before any
student cell ran (`ctx.original`). Tensor.unfold and as_strided stay allowed: they are views,
and arranging their windows into the asked layout is the exercise. Code that leaves PyTorch on
purpose (numpy's sliding_window_view, a hand-made loop) is allowed too; its values are judged.

The layers' backward passes run with autograd switched off (`torch.no_grad`): the exercise is
to write them by hand, so calling `torch.autograd.grad` on a graph saved in forward fails. In
the gradient probes the forward pass is NOT restricted, only the backward pass: whether the
forward pass is hand-made is the forward checks' business, and a student whose forward pass
calls F.conv2d but whose backward pass is right keeps the backward points.
"""

# ATen operator names (without their namespace) that are switched off: anything whose name has
# a "conv..." part (conv2d, _conv_depthwise2d, slow_conv3d, mkldnn_convolution, ...; not
# "_convert_..."), im2col/col2im (F.unfold/F.fold), and every pooling (its name has "pool").
_UNFOLD_FOLD = {"im2col": "F.unfold (aten::im2col)", "col2im": "F.fold (aten::col2im)"}


def _ruled_out(qualified_name):
    """How to name the operator in a message, or "" when it is allowed."""
    base = qualified_name.split("::")[-1].strip("_")
    if base in _UNFOLD_FOLD:
        return _UNFOLD_FOLD[base]
    if "pool" in base:
        return "PyTorch's pooling (aten::" + base + ")"
    for part in base.split("_"):
        if (part.startswith("conv") and not part.startswith("conver")) or part.startswith("qconv"):
            return "PyTorch's convolution (aten::" + base + ")"
    return ""


def _by_hand(ctx, function, *args):
    """`function(*args)` with autograd and PyTorch's convolution, unfold/fold and pooling
    switched off. A ruled-out operator raises inside the student's code; if the code catches
    that and returns anyway, the probe raises after it: a value that needed one is refused."""
    off = ctx.switched_off(lambda schema, args: _ruled_out(schema.name), "write it with indexing, loops and arithmetic")
    with ctx.library("torch.no_grad")(), off:
        value = function(*args)
    if off.used:
        raise RuntimeError(", ".join(off.used) + " is switched off in this check, and the code used it")
    return value


def _free(ctx, function, *args):
    """`function(*args)` with autograd switched off (nothing else)."""
    with ctx.library("torch.no_grad")():
        return function(*args)


# ----------------------------------------------------------------------------- exercises 1, 2, 6
def im2col_by_hand(ctx, X, kh, kw, stride, padding):
    """The student's im2col(X, kh, kw, stride, padding) without F.unfold or a convolution."""
    return _by_hand(ctx, ctx.get("im2col"), X, kh, kw, stride, padding)


def col2im_by_hand(ctx, cols, X_shape, kh, kw, stride, padding):
    """The student's col2im(cols, X_shape, kh, kw, stride, padding) without F.fold."""
    return _by_hand(ctx, ctx.get("col2im"), cols, X_shape, kh, kw, stride, padding)


def corr1d_by_hand(ctx, x, k, stride, padding):
    """The student's corr1d(x, k, stride, padding) without F.conv1d."""
    return _by_hand(ctx, ctx.get("corr1d"), x, k, stride, padding)


# ----------------------------------------------------------------------------- exercise 3
def _layer(ctx, name, *args):
    """An instance of the student's layer class, built from the grader's arguments."""
    return ctx.get(name)(*args)


def conv_forward_by_hand(ctx, x, W, b, stride, pad):
    """Convolution(W, b, stride, pad).forward(x), with convolutions and F.unfold switched off."""
    layer = _layer(ctx, "Convolution", W, b, stride, pad)
    return _by_hand(ctx, layer.forward, x)


def _conv_backward(ctx, x, W, b, stride, pad, dout):
    """(out, dx, layer): forward unrestricted, backward by hand."""
    layer = _layer(ctx, "Convolution", W, b, stride, pad)
    out = _free(ctx, layer.forward, x)
    dx = _by_hand(ctx, layer.backward, dout)
    return out, dx, layer


def conv_dx(ctx, x, W, b, stride, pad, dout):
    """[out, dx] of the student's Convolution layer for the grader's upstream gradient."""
    out, dx, _ = _conv_backward(ctx, x, W, b, stride, pad, dout)
    return [out, dx]


def conv_param_grads(ctx, x, W, b, stride, pad, dout):
    """[out, dW, db]: the gradients the layer stored in backward (attributes dW and db)."""
    out, _, layer = _conv_backward(ctx, x, W, b, stride, pad, dout)
    for attribute in ("dW", "db"):
        if not hasattr(layer, attribute):
            raise AttributeError(f"after backward, the Convolution layer has no attribute `{attribute}`")
    return [out, layer.dW, layer.db]


# ----------------------------------------------------------------------------- exercise 4
def max_pool_forward_by_hand(ctx, x, pool_h, pool_w, stride, pad):
    layer = _layer(ctx, "MaxPool", pool_h, pool_w, stride, pad)
    return _by_hand(ctx, layer.forward, x)


def avg_pool_forward_by_hand(ctx, x, pool_h, pool_w, stride, pad):
    layer = _layer(ctx, "AvgPool", pool_h, pool_w, stride, pad)
    return _by_hand(ctx, layer.forward, x)


def _pool_grads(ctx, name, x, pool_h, pool_w, stride, pad, dout):
    layer = _layer(ctx, name, pool_h, pool_w, stride, pad)
    out = _free(ctx, layer.forward, x)
    return [out, _by_hand(ctx, layer.backward, dout)]


def max_pool_grads(ctx, x, pool_h, pool_w, stride, pad, dout):
    """[out, dx] of the student's MaxPool layer for the grader's upstream gradient."""
    return _pool_grads(ctx, "MaxPool", x, pool_h, pool_w, stride, pad, dout)


def avg_pool_grads(ctx, x, pool_h, pool_w, stride, pad, dout):
    """[out, dx] of the student's AvgPool layer for the grader's upstream gradient."""
    return _pool_grads(ctx, "AvgPool", x, pool_h, pool_w, stride, pad, dout)
