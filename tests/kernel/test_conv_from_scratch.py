"""conv-from-scratch: the reference scores 100%, alternative correct answers pass, and each
plausible wrong answer loses exactly the points of the checks that should catch it.

The reference notebook's layers reuse its im2col and col2im, so a mistake there would also
break the layers. The variants that get im2col or col2im wrong therefore also swap in the
layers written with loops (LOOP_LAYERS, itself an alternative that must pass), so that each
loses exactly its own exercise's points; where a cascade is the point (a floor in
same_output_size feeds same_padding_total), the expected loss says so.
"""

from __future__ import annotations

from assignment_suite import missing_names_test, standard_tests
from nbfactory import variant

NB = "conv-from-scratch.ipynb"


test_missing_names_are_reported_not_crashed = missing_names_test(
    "conv-from-scratch",
    {
        "im2col-example": "im2col",
        "conv-backward-dx": "Convolution",
        "maxpool-backward-ties": "MaxPool",
    },
    all_errors=False,
)


def test_switched_off_operations_are_named(grader, rubrics, tmp_path):
    """A wrapper of PyTorch's own operation fails with a message that names it (public checks)."""
    path = variant(
        NB,
        tmp_path,
        {
            "def im2col(X, kh, kw, stride=1, padding=0):\n    N, C, H, W = X.shape": IM2COL_UNFOLD,
            "        self.x_shape = tuple(x.shape)\n        self.col = im2col(": "        return F.conv2d(x, self.W, self.b, stride=self.stride, padding=self.pad)\n        self.x_shape = tuple(x.shape)\n        self.col = im2col(",
        },
    )
    messages = {c.id: c.message for c in grade(grader, rubrics, path).checks}
    assert "F.unfold (aten::im2col) is switched off in this check" in messages["im2col-example"]
    assert "PyTorch's convolution (aten::convolution) is switched off" in messages["conv-forward"]


# ----------------------------------------------------------------------------- alternatives
IM2COL_WINDOW_LOOPS = """
def im2col(X, kh, kw, stride=1, padding=0):
    # one row per window, windows in (n, i, j) order; each row is the window flattened (c, u, v)
    N, C, H, W = X.shape
    Xp = F.pad(X, (padding, padding, padding, padding))
    out_h = (H + 2 * padding - kh) // stride + 1
    out_w = (W + 2 * padding - kw) // stride + 1
    rows = []
    for n in range(N):
        for i in range(out_h):
            for j in range(out_w):
                rows.append(Xp[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw].reshape(-1))
    return torch.stack(rows)


def _unused_im2col(X, kh, kw, stride=1, padding=0):
    N, C, H, W = X.shape"""

IM2COL_TENSOR_UNFOLD = """
def im2col(X, kh, kw, stride=1, padding=0):
    # Tensor.unfold: a view of the sliding windows, (N, C, out_h, out_w, kh, kw)
    C = X.shape[1]
    windows = F.pad(X, (padding,) * 4).unfold(2, kh, stride).unfold(3, kw, stride)
    return windows.permute(0, 2, 3, 1, 4, 5).reshape(-1, C * kh * kw)


def _unused_im2col(X, kh, kw, stride=1, padding=0):
    N, C, H, W = X.shape"""

COL2IM_WINDOW_LOOPS = """
def col2im(cols, X_shape, kh, kw, stride=1, padding=0):
    N, C, H, W = X_shape
    out_h = (H + 2 * padding - kh) // stride + 1
    out_w = (W + 2 * padding - kw) // stride + 1
    img = torch.zeros((N, C, H + 2 * padding, W + 2 * padding), dtype=cols.dtype)
    row = 0
    for n in range(N):
        for i in range(out_h):
            for j in range(out_w):
                img[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw] += cols[row].reshape(C, kh, kw)
                row += 1
    return img[:, :, padding:padding + H, padding:padding + W]


def _unused_col2im(cols, X_shape, kh, kw, stride=1, padding=0):
    N, C, H, W = X_shape"""

# The layers with loops over output positions: no im2col, no col2im.
LOOP_CONVOLUTION = """
class Convolution:
    def __init__(self, W, b, stride=1, pad=0):
        self.W, self.b, self.stride, self.pad = W, b, stride, pad

    def forward(self, x):
        FN, C, FH, FW = self.W.shape
        p, s = self.pad, self.stride
        self.xp = F.pad(x, (p, p, p, p))
        N, _, Hp, Wp = self.xp.shape
        out = torch.zeros((N, FN, (Hp - FH) // s + 1, (Wp - FW) // s + 1), dtype=x.dtype)
        for i in range(out.shape[2]):
            for j in range(out.shape[3]):
                window = self.xp[:, :, i * s:i * s + FH, j * s:j * s + FW]
                out[:, :, i, j] = torch.einsum('nchw,fchw->nf', window, self.W) + self.b
        return out

    def backward(self, dout):
        FN, C, FH, FW = self.W.shape
        p, s = self.pad, self.stride
        dxp = torch.zeros_like(self.xp)
        self.dW = torch.zeros_like(self.W)
        self.db = dout.sum(dim=(0, 2, 3))
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                window = self.xp[:, :, i * s:i * s + FH, j * s:j * s + FW]
                self.dW += torch.einsum('nf,nchw->fchw', dout[:, :, i, j], window)
                dxp[:, :, i * s:i * s + FH, j * s:j * s + FW] += torch.einsum('nf,fchw->nchw', dout[:, :, i, j], self.W)
        return dxp[:, :, p:dxp.shape[2] - p, p:dxp.shape[3] - p]


class _UnusedConvolution:
    def __init__"""

LOOP_POOLS = """
class MaxPool:
    def __init__(self, pool_h, pool_w, stride=1, pad=0):
        self.pool_h, self.pool_w, self.stride, self.pad = pool_h, pool_w, stride, pad

    def forward(self, x):
        p, s, ph, pw = self.pad, self.stride, self.pool_h, self.pool_w
        self.xp = F.pad(x, (p, p, p, p), value=float('-inf'))
        N, C, Hp, Wp = self.xp.shape
        out = torch.empty((N, C, (Hp - ph) // s + 1, (Wp - pw) // s + 1), dtype=x.dtype)
        self.arg = torch.empty(out.shape, dtype=torch.long)
        for i in range(out.shape[2]):
            for j in range(out.shape[3]):
                window = self.xp[:, :, i * s:i * s + ph, j * s:j * s + pw].reshape(N, C, -1)
                out[:, :, i, j] = window.amax(dim=-1)
                self.arg[:, :, i, j] = window.argmax(dim=-1)
        return out

    def backward(self, dout):
        p, s, ph, pw = self.pad, self.stride, self.pool_h, self.pool_w
        dxp = torch.zeros(self.xp.shape, dtype=dout.dtype)
        N, C = dout.shape[:2]
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                g = torch.zeros((N, C, ph * pw), dtype=dout.dtype)
                g.scatter_(2, self.arg[:, :, i, j, None], dout[:, :, i, j, None])
                dxp[:, :, i * s:i * s + ph, j * s:j * s + pw] += g.reshape(N, C, ph, pw)
        return dxp[:, :, p:dxp.shape[2] - p, p:dxp.shape[3] - p]


class AvgPool:
    def __init__(self, pool_h, pool_w, stride=1, pad=0):
        self.pool_h, self.pool_w, self.stride, self.pad = pool_h, pool_w, stride, pad

    def forward(self, x):
        p, s, ph, pw = self.pad, self.stride, self.pool_h, self.pool_w
        xp = F.pad(x, (p, p, p, p))
        self.padded_shape = xp.shape
        N, C, Hp, Wp = xp.shape
        out = torch.empty((N, C, (Hp - ph) // s + 1, (Wp - pw) // s + 1), dtype=x.dtype)
        for i in range(out.shape[2]):
            for j in range(out.shape[3]):
                out[:, :, i, j] = xp[:, :, i * s:i * s + ph, j * s:j * s + pw].sum(dim=(2, 3)) / (ph * pw)
        return out

    def backward(self, dout):
        p, s, ph, pw = self.pad, self.stride, self.pool_h, self.pool_w
        dxp = torch.zeros(self.padded_shape, dtype=dout.dtype)
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                dxp[:, :, i * s:i * s + ph, j * s:j * s + pw] += dout[:, :, i, j, None, None] / (ph * pw)
        return dxp[:, :, p:dxp.shape[2] - p, p:dxp.shape[3] - p]


class _UnusedMaxPool:
    def __init__"""

LOOP_LAYERS = {  # in this order: LOOP_POOLS brings a class AvgPool of its own
    "class AvgPool:": "class _UnusedAvgPool:",
    "class Convolution:\n    def __init__": LOOP_CONVOLUTION,
    "class MaxPool:\n    def __init__": LOOP_POOLS,
}

# im2col, col2im, the layers and corr1d in numpy (sliding_window_view, np.add.at, np.correlate),
# defined again at the end of the notebook: the grader uses the last definitions.
NUMPY_VERSIONS = """
import numpy as np


def im2col(X, kh, kw, stride=1, padding=0):
    X = np.asarray(X)
    C = X.shape[1]
    Xp = np.pad(X, [(0, 0), (0, 0), (padding, padding), (padding, padding)])
    windows = np.lib.stride_tricks.sliding_window_view(Xp, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]
    return windows.transpose(0, 2, 3, 1, 4, 5).reshape(-1, C * kh * kw)


def col2im(cols, X_shape, kh, kw, stride=1, padding=0):
    N, C, H, W = X_shape
    out_h = (H + 2 * padding - kh) // stride + 1
    out_w = (W + 2 * padding - kw) // stride + 1
    cols = np.asarray(cols).reshape(N, out_h, out_w, C, kh, kw)
    img = np.zeros((N, C, H + 2 * padding, W + 2 * padding), dtype=cols.dtype)
    r = (np.arange(out_h)[:, None] * stride + np.arange(kh))[None, :, None, None, :, None]
    q = (np.arange(out_w)[:, None] * stride + np.arange(kw))[None, None, :, None, None, :]
    n = np.arange(N)[:, None, None, None, None, None]
    c = np.arange(C)[None, None, None, :, None, None]
    np.add.at(img, (n, c, r, q), cols)
    return img[:, :, padding:padding + H, padding:padding + W]


class Convolution:
    def __init__(self, W, b, stride=1, pad=0):
        self.W, self.b, self.stride, self.pad = np.asarray(W), np.asarray(b), stride, pad

    def forward(self, x):
        x = np.asarray(x)
        FN, C, FH, FW = self.W.shape
        N, _, H, W = x.shape
        out_h = (H + 2 * self.pad - FH) // self.stride + 1
        out_w = (W + 2 * self.pad - FW) // self.stride + 1
        self.x_shape = x.shape
        self.col = im2col(x, FH, FW, self.stride, self.pad)
        self.col_W = self.W.reshape(FN, -1).T
        return (self.col @ self.col_W + self.b).reshape(N, out_h, out_w, FN).transpose(0, 3, 1, 2)

    def backward(self, dout):
        FN, C, FH, FW = self.W.shape
        dout = np.asarray(dout).transpose(0, 2, 3, 1).reshape(-1, FN)
        self.db = np.sum(dout, axis=0)
        self.dW = (self.col.T @ dout).T.reshape(FN, C, FH, FW)
        return col2im(dout @ self.col_W.T, self.x_shape, FH, FW, self.stride, self.pad)


class MaxPool:
    def __init__(self, pool_h, pool_w, stride=1, pad=0):
        self.pool_h, self.pool_w, self.stride, self.pad = pool_h, pool_w, stride, pad

    def forward(self, x):
        x = np.asarray(x)
        N, C, H, W = x.shape
        p, ph, pw = self.pad, self.pool_h, self.pool_w
        out_h = (H + 2 * p - ph) // self.stride + 1
        out_w = (W + 2 * p - pw) // self.stride + 1
        xp = np.pad(x, [(0, 0), (0, 0), (p, p), (p, p)], constant_values=-np.inf)
        col = im2col(xp, ph, pw, self.stride).reshape(-1, ph * pw)
        self.x_shape, self.arg = x.shape, np.argmax(col, axis=1)
        return np.max(col, axis=1).reshape(N, out_h, out_w, C).transpose(0, 3, 1, 2)

    def backward(self, dout):
        C, size = self.x_shape[1], self.pool_h * self.pool_w
        dout = np.asarray(dout).transpose(0, 2, 3, 1).reshape(-1)
        dmax = np.zeros((dout.size, size), dtype=dout.dtype)
        dmax[np.arange(dout.size), self.arg] = dout
        return col2im(dmax.reshape(-1, C * size), self.x_shape, self.pool_h, self.pool_w, self.stride, self.pad)


class AvgPool:
    def __init__(self, pool_h, pool_w, stride=1, pad=0):
        self.pool_h, self.pool_w, self.stride, self.pad = pool_h, pool_w, stride, pad

    def forward(self, x):
        x = np.asarray(x)
        N, C, H, W = x.shape
        out_h = (H + 2 * self.pad - self.pool_h) // self.stride + 1
        out_w = (W + 2 * self.pad - self.pool_w) // self.stride + 1
        self.x_shape = x.shape
        col = im2col(x, self.pool_h, self.pool_w, self.stride, self.pad).reshape(-1, self.pool_h * self.pool_w)
        return col.mean(axis=1).reshape(N, out_h, out_w, C).transpose(0, 3, 1, 2)

    def backward(self, dout):
        C, size = self.x_shape[1], self.pool_h * self.pool_w
        dout = np.asarray(dout).transpose(0, 2, 3, 1).reshape(-1, 1)
        dcol = np.repeat(dout / size, size, axis=1).reshape(-1, C * size)
        return col2im(dcol, self.x_shape, self.pool_h, self.pool_w, self.stride, self.pad)


def corr1d(x, k, stride=1, padding=0):
    # np.correlate does not flip its second argument: cross-correlation
    xp = np.pad(np.asarray(x), padding)
    return np.correlate(xp, np.asarray(k), mode='valid')[::stride]


def dws_params(c_in, c_out, k):"""

OTHER_FORMULAS = {
    "        return ((k - 1) // 2, k - 1 - (k - 1) // 2)": "        return ((k - 1) // 2, k // 2)",
    "    return math.ceil(n / s)": "    return (n + s - 1) // s",
    # TensorFlow's own formula, by cases on n % s
    "    return max((same_output_size(n, k, s) - 1) * s + k - n, 0)": "    return max(k - s, 0) if n % s == 0 else max(k - n % s, 0)",
    "    x = F.pad(x, (padding, padding))\n    m = len(k)\n    n_out = (len(x) - m) // stride + 1\n    return torch.stack([(x[i * stride:i * stride + m] * k).sum() for i in range(n_out)])": "    return F.pad(x, (padding, padding)).unfold(0, len(k), stride) @ k",
    "    return 1 / c_out + 1 / k ** 2": "    return dws_macs(c_in, c_out, k, 1, 1) / (c_in * c_out * k * k)",
    "    return pointwise_w[:, :, 0, 0][:, :, None, None] * depthwise_w[:, 0][None]": "    return torch.einsum('oi,ihw->oihw', pointwise_w.flatten(1), depthwise_w.flatten(0, 1))",
}

IM2COL_DEF = "def im2col(X, kh, kw, stride=1, padding=0):\n    N, C, H, W = X.shape"
COL2IM_DEF = "def col2im(cols, X_shape, kh, kw, stride=1, padding=0):\n    N, C, H, W = X_shape"

ALTERNATIVES = {
    "im2col-window-loops": {IM2COL_DEF: IM2COL_WINDOW_LOOPS},
    "im2col-tensor-unfold": {IM2COL_DEF: IM2COL_TENSOR_UNFOLD},
    "col2im-window-loops": {COL2IM_DEF: COL2IM_WINDOW_LOOPS},
    "layers-by-loops": LOOP_LAYERS,
    "numpy-versions": {"def dws_params(c_in, c_out, k):": NUMPY_VERSIONS},
    "other-formulas": OTHER_FORMULAS,
}


# ----------------------------------------------------------------------------- wrong answers
IM2COL_UNFOLD = """
def im2col(X, kh, kw, stride=1, padding=0):
    C = X.shape[1]
    return F.unfold(X, (kh, kw), stride=stride, padding=padding).transpose(1, 2).reshape(-1, C * kh * kw)


def _unused_im2col(X, kh, kw, stride=1, padding=0):
    N, C, H, W = X.shape"""

COL2IM_FOLD = """
def col2im(cols, X_shape, kh, kw, stride=1, padding=0):
    N, C, H, W = X_shape
    cols = cols.reshape(N, -1, C * kh * kw).transpose(1, 2)
    return F.fold(cols, (H, W), (kh, kw), stride=stride, padding=padding)


def _unused_col2im(cols, X_shape, kh, kw, stride=1, padding=0):
    N, C, H, W = X_shape"""

CORR1D_SOURCE = "    x = F.pad(x, (padding, padding))\n    m = len(k)\n    n_out = (len(x) - m) // stride + 1\n    return torch.stack([(x[i * stride:i * stride + m] * k).sum() for i in range(n_out)])"

EX1 = {"im2col-example": 1, "im2col-stride-padding": 2, "im2col-general": 2}
EX2 = {"col2im-overlap": 2, "col2im-general": 2}
CONV_DX = {"conv-backward-dx": 2, "conv-backward-dx-strided": 1}
CONV_PARAMS = {"conv-backward-params": 2, "conv-backward-params-strided": 1}
MAX_TIES = {"maxpool-backward-ties": 2, "maxpool-backward-padded": 1}
CORR1D = {"corr1d-example": 1, "corr1d-stride-padding": 2, "corr1d-general": 1}

WRONG = {
    # exercise 1 (with LOOP_LAYERS, so that only im2col's own checks see the mistake)
    "im2col-channels-last": (
        {"cols.permute(0, 4, 5, 1, 2, 3)": "cols.permute(0, 4, 5, 2, 3, 1)", **LOOP_LAYERS},
        EX1,
    ),
    # exercises 1, 2, 6: PyTorch's own operations behind the student's names
    "wrappers-of-unfold-fold-conv1d": (
        {
            IM2COL_DEF: IM2COL_UNFOLD,
            COL2IM_DEF: COL2IM_FOLD,
            CORR1D_SOURCE: "    return F.conv1d(x.reshape(1, 1, -1), k.reshape(1, 1, -1), stride=stride, padding=padding).reshape(-1)",
            **LOOP_LAYERS,
        },
        {**EX1, "col2im-no-overlap": 1, **EX2, **CORR1D},
    ),
    # exercise 2: `=` where col2im must add (the vectorised form, then the window loops)
    "col2im-assigns": (
        {
            "img[:, :, u:u + stride * out_h:stride, v:v + stride * out_w:stride] += cols": "img[:, :, u:u + stride * out_h:stride, v:v + stride * out_w:stride] = cols",
            **LOOP_LAYERS,
        },
        EX2,
    ),
    "col2im-window-loops-assign": (
        {COL2IM_DEF: COL2IM_WINDOW_LOOPS.replace("] += cols[row]", "] = cols[row]"), **LOOP_LAYERS},
        EX2,
    ),
    # exercise 3
    "conv-layer-calls-pytorch": (  # forward by F.conv2d, dx by torch.nn.grad (both convolutions)
        {
            "        out = self.col @ self.col_W + self.b  # rows (n, i, j), one column per output channel\n        return out.reshape(N, out_h, out_w, FN).permute(0, 3, 1, 2)": "        return F.conv2d(x, self.W, self.b, stride=self.stride, padding=self.pad)",
            "        dout = dout.permute(0, 2, 3, 1).reshape(-1, FN)  # the rows of forward's product": "        dout4 = dout\n        dout = dout.permute(0, 2, 3, 1).reshape(-1, FN)",
            "        return col2im(dcol, self.x_shape, FH, FW, self.stride, self.pad)": "        return torch.nn.grad.conv2d_input(self.x_shape, self.W, dout4, stride=self.stride, padding=self.pad)",
        },
        # backward raises (a convolution is switched off) after storing dW and db: all its checks fail
        {"conv-forward": 1, "conv-forward-stride-pad": 2, **CONV_DX, **CONV_PARAMS},
    ),
    "conv-dW-last-example-only": (  # dW from the last example of the batch instead of the sum
        {
            "        self.dW = (dout.T @ self.col).reshape(FN, C, FH, FW)": "        L = dout.shape[0] // self.x_shape[0]\n        self.dW = (dout[-L:].T @ self.col[-L:]).reshape(FN, C, FH, FW)"
        },
        CONV_PARAMS,
    ),
    # db summed over the output channels' axis instead of the rows; average pooling's backward
    # forgets to divide by the window's size
    "conv-db-wrong-axis-and-avg-undivided": (
        {"self.db = dout.sum(dim=0)": "self.db = dout.sum(dim=1)", "(dout / size).expand": "dout.expand"},
        {**CONV_PARAMS, "avgpool-backward": 2, "avgpool-backward-padded": 1},
    ),
    # exercise 4
    "maxpool-tie-to-last": (
        {"col.argmax(dim=1)  # argmax: the first maximum": "col.shape[1] - 1 - col.flip(1).argmax(dim=1)"},
        MAX_TIES,
    ),
    "maxpool-tie-to-all": (
        {
            "self.x_shape, self.argmax = tuple(x.shape), col.argmax(dim=1)": "self.x_shape, self.argmax, self.col = tuple(x.shape), col.argmax(dim=1), col",
            "        dmax[torch.arange(dout.numel()), self.argmax] = dout": "        dmax = (self.col == self.col.max(dim=1, keepdim=True).values) * dout[:, None]",
        },
        MAX_TIES,
    ),
    # max pooling padded with zeros; average pooling divides by the cells inside the input only
    "pool-padding-conventions": (
        {
            "value=float('-inf')": "value=0.0",
            "        return col.mean(dim=1).reshape(N, out_h, out_w, C).permute(0, 3, 1, 2)": "        inside = im2col(torch.ones_like(x), self.pool_h, self.pool_w, self.stride, self.pad)\n        counts = inside.reshape(-1, self.pool_h * self.pool_w).sum(dim=1)\n        return (col.sum(dim=1) / counts).reshape(N, out_h, out_w, C).permute(0, 3, 1, 2)",
        },
        {
            "maxpool-forward-padded": 1,
            "maxpool-backward-padded": 1,
            "avgpool-forward-padded": 1,
            "avgpool-backward-padded": 1,
        },
    ),
    # exercise 5
    "same-extra-first": (
        {"        return ((k - 1) // 2, k - 1 - (k - 1) // 2)": "        return (k - 1 - (k - 1) // 2, (k - 1) // 2)"},
        {"padding-same-even": 1},
    ),
    "same-output-floor": (  # same_padding_total uses same_output_size: it goes wrong too
        {"    return math.ceil(n / s)": "    return n // s"},
        {"same-output-size": 1, "same-padding-total": 2},
    ),
    "same-padding-unclamped": (
        {
            "    return max((same_output_size(n, k, s) - 1) * s + k - n, 0)": "    return (same_output_size(n, k, s) - 1) * s + k - n"
        },
        {"same-padding-total": 2},
    ),
    "same-padding-stride-one": (
        {"    return max((same_output_size(n, k, s) - 1) * s + k - n, 0)": "    return k - 1"},
        {"same-padding-total": 2},
    ),
    # exercise 6
    "corr1d-flipped": ({"* k).sum()": "* k.flip(0)).sum()"}, CORR1D),
    # exercise 7
    "dws-macs-pointwise-once": (
        {"    return h * w * dws_params(c_in, c_out, k)": "    return h * w * c_in * k * k + c_in * c_out"},
        {"dws-macs": 1},
    ),
    "dws-ratio-and-dense-reshape": (  # 1 / k for 1 / k^2; the pointwise weights read as (c_in, c_out)
        {
            "    return 1 / c_out + 1 / k ** 2": "    return 1 / c_out + 1 / k",
            "pointwise_w[:, :, 0, 0][:, :, None, None]": "pointwise_w.reshape(pointwise_w.shape[1], -1).T[:, :, None, None]",
        },
        {"dws-cost-ratio": 1, "dws-to-dense": 1, "dws-to-dense-convolves": 2},
    ),
}


DIAGNOSED = {  # wrong answer -> words its checks' messages must contain (the rubric's diagnoses)
    "im2col-channels-last": {"im2col-example": "ordered (u, v, c)", "im2col-stride-padding": "ordered (u, v, c)"},
    "col2im-assigns": {"col2im-overlap": "add every entry into its pixel (+=)"},
    "col2im-window-loops-assign": {"col2im-overlap": "keeps one window's value instead of the sum"},
    "same-extra-first": {"padding-same-even": "extra row/column of an even kernel is at the start"},
    "same-output-floor": {"same-output-size": "rounds n / s down"},
    "same-padding-unclamped": {"same-padding-total": "Padding is never negative"},
    "same-padding-stride-one": {"same-padding-total": "for stride 1 only"},
    "corr1d-flipped": {"corr1d-example": "true convolution", "corr1d-stride-padding": "true convolution"},
    "dws-macs-pointwise-once": {"dws-macs": "pointwise (1x1) step is counted once"},
}

(
    grade,
    test_reference_scores_full_marks,
    test_alternative_correct_answers_pass,
    test_plausible_wrong_answer_loses_exactly_its_points,
    test_every_public_diagnosis_is_met_by_a_wrong_answer,
) = standard_tests("conv-from-scratch", NB, 47, [], ALTERNATIVES, WRONG, DIAGNOSED)
