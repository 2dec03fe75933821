"""Benchmark: d2l-grader against its peers nbgrader and otter-grader, same class, same checks, one run.

All three tools grade the class `bench/batch_speed.py` builds from reference/conv-layer.ipynb
(mostly correct, some wrong, some broken, one in 20 an unusable file) with the checks of
rubrics/conv-layer.toml, and every whole command is timed with a wall clock:

* d2l-grader: `grader grade CLASS --assignment conv-layer --out DIR -j 1`, and `-j 2`.
* nbgrader 0.9.6: `nbgrader autograde conv_layer` on a course folder holding the class
  (`submitted/<student>/conv_layer/conv-layer.ipynb`), and the class split in two course
  folders graded by two `nbgrader autograde` side by side (its "2 processes" figure). The
  assignment is made once, untimed: a source notebook (the student cells as autograded
  answers, then one locked test cell per check) turned into the release by
  `nbgrader generate_assignment`; each submission is that release with the student's cells.
* otter-grader 7.0.0: `otter run -a autograder.zip -o DIR NOTEBOOK` for each notebook, one
  after another, and the class split over two such loops side by side. `otter grade` grades in
  Docker containers only (otter/grade/containers.py: an image built per assignment from a base
  pulled from a registry), so it is not timed; `otter run` is otter's own path without a
  container. The tests (one file per check) are packed once, untimed, by `otter generate`.

    python bench/peers.py [--submissions 40] [--repeat 3] [--peers nbgrader,otter] [--cache DIR] [--keep]

Each peer runs in a venv of its own under --cache (default ~/.cache/d2l-grader-bench/), made
on first use with python3.11 and `pip install torch==2.13.0+cpu numpy <peer>` (the +cpu pin
exists only as PyTorch's CPU build, so pip can never pick a CUDA one; where no local wheel or
index has it, pip is asked again with PyTorch's CPU index) and reused while its versions are
right. otter-grader also gets ipykernel: it runs the notebook in a Jupyter kernel but does not
depend on one. A peer that cannot be installed or run is reported in one line and the others
go on.

The same checks. The peers' tests are generated from the rubric by this file, check by check:
the same ids, points, inputs, tolerances and comparison rules (shapes never broadcast, nan and
inf never match, `equal` is exact), with expected values computed by reference/conv_layer.py
in this process and written into the tests. Where a check's inputs are the student's own values
(Y_diag is judged against corr2d of the student's X_diag) and for the property checks (any
diagonal image, any second-derivative stencil), the test carries kernel-side code of ours doing
what rubrics/conv_layer_checks.py does (`_peers_*` below), with the same tolerances and the
same extra random inputs (drawn here, by the generator d2l-grader seeds for that check). Each
check is all or nothing in every tool: an nbgrader test cell or an otter test case scores its
points when it raises nothing. Before any ratio is printed the scores are compared per
submission and per check, and every disagreement is printed: a timing is only fair between
tools that grade alike. What cannot be made identical:

* Hidden checks with random inputs: d2l-grader draws them per submission (seeded by the
  notebook's hash, so one student's leaked inputs are worth nothing to another). The peers'
  tests are fixed files, the same for everyone, so they carry the rubric's draws without that
  salt: same shapes and distribution, other numbers. An answer right on some inputs of a shape
  and wrong on others could score differently; none in this class does.
* An unusable file ("{ not a notebook"): d2l-grader records 0 points with a reason; nbgrader and
  otter fail on it, record nothing (counted as 0 here) and exit 1, which is printed.

The class follows make_submissions' pattern of 20 (12 correct, 5 wrong, 2 broken, 1 unusable),
so a class under 20 has no wrong, broken or unusable notebook: the agreement of the scores means
most from 20 submissions on. Not the same either, and not scored: d2l-grader runs each notebook
in a confined kernel with limits on every call of the student's code, as `grader grade` does;
the peers run plain Jupyter kernels.

The machine is shared: another tenant's burst can slow any one run by half. Each path is
therefore timed `--repeat` times, all paths taking turns, and the best run of each is compared
(as `timeit` does: interference only ever adds time); the median is printed beside it, and every
run. Per notebook means the whole command's wall time divided by the class size, start-up
included, unusable files included, for every tool. Set-up that a course does once per
assignment (generate_assignment, otter generate, the venvs) is not timed.
"""

from __future__ import annotations

import argparse
import csv
import inspect
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import nbformat
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "bench"))

ASSIGNMENT = "conv-layer"  # d2l-grader's id
NB_ASSIGNMENT = "conv_layer"  # nbgrader's assignment folder
NOTEBOOK = "conv-layer.ipynb"
NBGRADER = "nbgrader"
OTTER = "otter"
D2L = "d2l-grader"


@dataclass(frozen=True)
class Peer:
    name: str
    label: str
    packages: tuple[str, ...]  # besides torch and numpy


PEERS = {
    NBGRADER: Peer(NBGRADER, "nbgrader 0.9.6", ("nbgrader==0.9.6",)),
    # otter-grader does not depend on ipykernel, yet it runs the notebook in a Jupyter kernel
    OTTER: Peer(OTTER, "otter-grader 7.0.0", ("otter-grader==7.0.0", "ipykernel")),
}


# ----------------------------------------------------------------------------- kernel side
# These functions never run in this process: their source is copied into nbgrader's test
# cells and otter's test files, and runs in the student's kernel after the notebook's cells.
# They import inside their bodies and carry a `_peers_` prefix, so the notebook's own names
# (np, torch, X, ...) are neither shadowed nor relied on.


def _peers_plain(value):
    """A value as d2l-grader's harness ships it out of the kernel: a tensor becomes a numpy array."""
    import torch

    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        if value.dtype == torch.bfloat16:
            value = value.to(torch.float32)
        return value.numpy()
    return value


def _peers_fetch(ns, name):
    """The notebook's value of `name`; a missing name fails the check."""
    if name not in ns:
        raise AssertionError(f"{name} is not defined")
    return ns[name]


def _peers_student(ns, name):
    """A student value as an input of the reference: through numpy, back as a tensor."""
    import numpy as np
    import torch

    value = _peers_plain(_peers_fetch(ns, name))
    return torch.from_numpy(np.array(value)) if isinstance(value, np.ndarray) else value


def _peers_array(values, dtype, shape):
    import numpy as np

    return np.array(values, dtype=dtype).reshape(shape)


def _peers_tensor(values, dtype, shape):
    """A check input as the student's function receives it from d2l-grader: a tensor."""
    import torch

    return torch.from_numpy(_peers_array(values, dtype, shape))


def _peers_finite(value, what):
    """Refuse nan and inf anywhere in the value (d2l-grader does so before a property check)."""
    import math

    import numpy as np

    value = _peers_plain(value)
    if isinstance(value, np.ndarray):
        assert value.dtype.kind not in "fc" or bool(np.isfinite(value).all()), f"{what} holds nan or inf"
    elif isinstance(value, float):
        assert math.isfinite(value), f"{what} is not finite"
    elif isinstance(value, list | tuple):
        for item in value:
            _peers_finite(item, what)


def _peers_floats(value, what):
    """A tensor, array or regular nested list of real numbers, as float64; anything else fails."""
    import numpy as np

    value = _peers_plain(value)
    if isinstance(value, list | tuple):
        value = np.asarray(value)  # a ragged list raises: the check fails
    assert isinstance(value, np.ndarray), f"{what} should be a tensor, not {type(value).__name__}"
    assert value.dtype.kind in "biuf", f"{what} should hold real numbers, not {value.dtype}"
    return value.astype(np.float64)


def _peers_number(value):
    return isinstance(value, int | float) and not isinstance(value, bool)


def _peers_match(got, want, exact, rtol, atol):
    """Assert that `got` matches `want` by d2l-grader's rules: a number against a number (a
    one-element array counts as one), otherwise equal shapes (no broadcasting), real numbers,
    finite values only, then exact equality or np.isclose's |g - w| <= atol + rtol * |w|."""
    import math

    import numpy as np

    got, want = _peers_plain(got), _peers_plain(want)
    if isinstance(got, np.generic):
        got = got.item()
    if _peers_number(want):
        if isinstance(got, np.ndarray) and got.size == 1 and got.dtype.kind in "iuf":
            got = got.reshape(()).item()
        assert _peers_number(got), f"got {type(got).__name__}, expected a number"
        assert math.isfinite(got), f"got {got!r}: nan and inf never match"
        close = not exact and abs(got - want) <= atol + rtol * abs(want)
        assert got == want or close, f"got {got!r}, expected {want!r}"
        return
    assert isinstance(want, np.ndarray), f"cannot compare with a {type(want).__name__}"
    if _peers_number(got):
        got = np.asarray(got)
    assert isinstance(got, np.ndarray), f"got {type(got).__name__}, expected an array of shape {want.shape}"
    assert got.shape == want.shape, f"got shape {got.shape}, expected {want.shape}"
    assert got.dtype.kind in "biuf", f"got dtype {got.dtype}, expected numbers"
    if got.size == 0:
        return
    assert bool(np.isfinite(want).all()), "the expected value is not finite for these inputs"
    g, w = got.astype(np.float64), want.astype(np.float64)
    ok = (g == w) if exact else np.isclose(g, w, rtol=rtol, atol=atol)
    ok &= np.isfinite(g)
    assert bool(ok.all()), f"{int((~ok).sum())} of {ok.size} values differ"


def _peers_corr2d(X, K):
    """Valid 2-D cross-correlation, the reference's definition, in the dtype torch promotes X and K to."""
    import torch

    X, K = torch.as_tensor(X), torch.as_tensor(K)
    dtype = torch.promote_types(X.dtype, K.dtype)
    X, K = X.to(dtype), K.to(dtype)
    kh, kw = K.shape
    oh, ow = X.shape[0] - kh + 1, X.shape[1] - kw + 1
    if oh < 1 or ow < 1:
        raise ValueError(f"a {kh}x{kw} kernel does not fit an input of shape {tuple(X.shape)}")
    out = torch.zeros((oh, ow), dtype=dtype)
    for a in range(kh):
        for b in range(kw):
            out += K[a, b] * X[a : a + oh, b : b + ow]
    return out


def _peers_reference(name, *args):
    """The reference functions a check applies to the student's own values, in the kernel."""
    import torch

    if name == "corr2d":
        return _peers_corr2d(*args)
    if name == "corr2d_of_transpose":
        X, K = args
        return _peers_corr2d(torch.as_tensor(X).T, K)
    raise NameError(f"no kernel-side reference {name}")


def _peers_exception(value, exception, pattern):
    """The name holds a caught exception of that class (or a subclass) whose message matches."""
    import re

    assert isinstance(value, BaseException), f"expected the caught exception, got {type(value).__name__}"
    names = [c.__name__ for c in type(value).__mro__]
    assert exception in names, f"a {names[0]}, expected a {exception}"
    assert pattern is None or re.search(pattern, str(value)), "not the error this exercise produces"


def _peers_has_diagonal_edge(value, max_pixel):
    """A 2-D float image of moderate values to which both [[1, -1]] and its transpose respond."""
    import numpy as np
    import torch

    _peers_finite(value, "the image")
    X = _peers_plain(value)
    assert isinstance(X, np.ndarray) and X.ndim == 2, "the image should be a 2-D tensor"
    assert X.dtype.kind == "f", f"the image should hold floats, not {X.dtype}"
    assert min(X.shape) >= 2, f"an image of shape {X.shape} is too small for a diagonal edge"
    X = X.astype(np.float64)
    assert np.abs(X).max() <= max_pixel, f"the image has values beyond {max_pixel:g}"
    K = torch.tensor([[1.0, -1.0]], dtype=torch.float64)
    for kernel in (K, K.T):
        response = _peers_corr2d(torch.from_numpy(X), kernel).numpy()
        assert bool(np.isfinite(response).all()), "a response is not finite"
        assert np.count_nonzero(response) > 0, "no diagonal edge: a kernel gives all zeros"


def _peers_row_response(kernel, samples):
    """A 1 x k kernel cross-correlated with one row of samples."""
    import torch

    return _peers_corr2d(torch.tensor(samples.reshape(1, -1)), torch.tensor(kernel)).numpy().reshape(-1)


def _peers_second_derivative(value):
    """A 1 x k kernel mapping constants and lines to 0 and 3x^2 to 6."""
    import numpy as np

    _peers_finite(value, "the kernel")
    kernel = _peers_floats(value, "the kernel")
    if kernel.ndim == 1:
        kernel = kernel.reshape(1, -1)
    assert kernel.ndim == 2 and kernel.shape[0] == 1 and kernel.shape[1] > 0, "not a 1 x k kernel"
    k = kernel.shape[1]
    x = np.arange(-(k + 3), k + 4, dtype=np.float64)
    for samples, want in ((5.0 + 0 * x, 0.0), (2.0 * x - 1.0, 0.0), (3.0 * x**2, 6.0)):
        assert np.allclose(_peers_row_response(kernel, samples), want, atol=1e-6), "not a second derivative"


def _peers_sums_its_input(value, n, draws):
    """A (1, n) kernel with corr2d(x.reshape(1, n), kernel) == x.sum() for the given x."""
    import math

    import numpy as np
    import torch

    _peers_finite(value, "the kernel")
    value = _peers_plain(value)
    assert isinstance(value, np.ndarray), f"the kernel should be a tensor, not {type(value).__name__}"
    kernel = _peers_floats(value, "the kernel")
    assert kernel.shape == (1, n), f"the kernel has shape {kernel.shape}, expected (1, {n})"
    for x in draws:
        x = np.array(x, dtype=np.float64)
        got = _peers_corr2d(torch.tensor(x.reshape(1, n)), torch.tensor(kernel)).reshape(-1)
        assert got.numel() == 1 and math.isclose(got.item(), x.sum(), rel_tol=1e-6, abs_tol=1e-9), "not the sum"


def _peers_differentiates(value, d):
    """A kernel of length d + 1 mapping samples of x^p to 0 for p < d and of x^d to d!."""
    import math

    import numpy as np

    _peers_finite(value, "the kernel")
    value = _peers_plain(value)
    assert isinstance(value, np.ndarray), f"the kernel should be a tensor, not {type(value).__name__}"
    value = _peers_floats(value, "the kernel")
    row = value.ndim == 1 or (value.ndim == 2 and value.shape[0] == 1)
    assert row and value.size == d + 1, f"the kernel has shape {value.shape}, expected length {d + 1}"
    kernel = value.reshape(1, -1)
    x = np.arange(0, 3 * d + 6, dtype=np.float64)
    for p in range(d + 1):
        want = float(math.factorial(d)) if p == d else 0.0
        got = _peers_row_response(kernel, x**p)
        assert np.allclose(got, want, atol=1e-6 * max(1.0, want)), f"x^{p} does not give {want:g}"


def _peers_reproduces_corr2d(value, kernel_shape, in_shape, samples):
    """W of shape (oh * ow, nh * nw) with (W @ X.reshape(-1)).reshape(oh, ow) == corr2d(X, K)."""
    import numpy as np

    _peers_finite(value, "W")
    (kh, kw), (nh, nw) = kernel_shape, in_shape
    oh, ow = nh - kh + 1, nw - kw + 1
    value = _peers_plain(value)
    assert isinstance(value, np.ndarray) and value.shape == (oh * ow, nh * nw), "W has the wrong shape"
    W = _peers_floats(value, "W")
    for X, want in samples:
        got = (W @ X.reshape(-1)).reshape(oh, ow)
        assert np.allclose(got, want, rtol=1e-4, atol=1e-4), "W @ X.reshape(-1) differs from corr2d(X, K)"


def _peers_kernel_2d(value, what):
    """A 2-D kernel of real numbers, at most 15 x 15 (the limit of the v1.0 kernel exercises)."""
    _peers_finite(value, what)
    kernel = _peers_floats(value, what)
    assert kernel.ndim == 2 and 0 not in kernel.shape, f"{what} should be a 2-D kernel, got shape {kernel.shape}"
    assert max(kernel.shape) <= 15, f"{what} is larger than 15 x 15"
    return kernel


def _peers_ramp(shape, slope_x, slope_y, offset):
    """Brightness growing by slope_x per column and slope_y per row."""
    import numpy as np

    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float64)
    return slope_x * cols + slope_y * rows + offset


def _peers_response(image, kernel):
    import torch

    return _peers_corr2d(torch.from_numpy(image), torch.from_numpy(kernel)).numpy()


def _peers_detects_edges_across(value, v):
    """An edge detector for edges orthogonal to v: no response to a flat image or to a ramp
    along (v2, -v1), a response everywhere to a ramp along v (tolerances relative to sum |K|)."""
    import numpy as np

    kernel = _peers_kernel_2d(value, "the edge kernel")
    u = np.asarray(v, dtype=np.float64) / np.linalg.norm(v)
    weight = np.abs(kernel).sum()
    assert weight > 0, "the edge kernel is all zeros"
    shape = (kernel.shape[0] + 4, kernel.shape[1] + 4)
    assert np.abs(_peers_response(np.ones(shape), kernel)).max() <= 1e-6 * weight, "it responds to a flat image"
    across = _peers_ramp(shape, u[1], -u[0], 2.0)
    tolerance = 1e-5 * weight * (1.0 + np.abs(across).max())
    assert np.abs(_peers_response(across, kernel)).max() <= tolerance, "it responds to edges parallel to v"
    along = _peers_response(_peers_ramp(shape, u[0], u[1], -1.0), kernel)
    assert np.abs(along).min() >= 1e-3 * weight, "it misses edges orthogonal to v"


def _peers_blurs(value, k):
    """A k x k blur: non-negative weights adding up to 1, centred, keeping at most half of
    white noise's variance (the sum of the squared weights)."""
    import numpy as np

    kernel = _peers_kernel_2d(value, "the blur kernel")
    assert kernel.shape == (k, k), f"shape {kernel.shape}, expected ({k}, {k})"
    assert kernel.min() >= -1e-7, "negative weights"
    assert abs(kernel.sum() - 1.0) <= 1e-5, "the weights do not add up to 1"
    image = _peers_ramp((k + 4, k + 4), 0.7, -1.3, 2.0)
    got = _peers_response(image, kernel)
    centre = (k - 1) // 2
    want = image[centre : centre + got.shape[0], centre : centre + got.shape[1]]
    assert np.allclose(got, want, rtol=0, atol=1e-4 * np.abs(image).max()), "it moves the image"
    assert (kernel**2).sum() <= 0.5, "it hardly blurs"


KERNEL_FUNCTIONS = [
    _peers_plain,
    _peers_fetch,
    _peers_student,
    _peers_array,
    _peers_tensor,
    _peers_finite,
    _peers_floats,
    _peers_number,
    _peers_match,
    _peers_corr2d,
    _peers_reference,
    _peers_exception,
    _peers_has_diagonal_edge,
    _peers_row_response,
    _peers_second_derivative,
    _peers_sums_its_input,
    _peers_differentiates,
    _peers_reproduces_corr2d,
    _peers_kernel_2d,
    _peers_ramp,
    _peers_response,
    _peers_detects_edges_across,
    _peers_blurs,
]
KERNEL_REFERENCES = ("corr2d", "corr2d_of_transpose")  # what _peers_reference knows


def kernel_source() -> str:
    return "\n\n".join(inspect.getsource(f) for f in KERNEL_FUNCTIONS)


# ----------------------------------------------------------------------------- the checks
@dataclass
class PeerCheck:
    """One rubric check as test code: statements run with `_peers_ns` bound to the notebook's namespace."""

    id: str
    exercise: str
    points: float
    hidden: bool
    description: str
    lines: list[str]


def _source(value: Any, as_tensor: bool) -> str:
    """Python source that rebuilds an input (as a tensor) or an expected value (as an array)."""
    from grader.compare import to_numpy
    from grader.plaindata import StudentRef

    value = to_numpy(value)
    if isinstance(value, StudentRef):
        return f"_peers_student(_peers_ns, {value.name!r})"
    if isinstance(value, np.ndarray):
        maker = "_peers_tensor" if as_tensor else "_peers_array"
        return f"{maker}({value.ravel().tolist()!r}, {str(value.dtype)!r}, {tuple(value.shape)!r})"
    if isinstance(value, tuple | list):
        items = [_source(v, as_tensor) for v in value]
        if isinstance(value, list):
            return "[" + ", ".join(items) + "]"
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    if isinstance(value, float) and not math.isfinite(value):
        return f"float({str(value)!r})"
    if value is None or isinstance(value, bool | int | float | str):
        return repr(value)
    raise SystemExit(f"peers.py cannot write a {type(value).__name__} into a test")


def _as_torch(value: Any) -> Any:
    """Inputs as the reference gets them in d2l-grader: arrays as tensors, in lists and tuples too."""
    import torch

    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.array(value))
    if isinstance(value, tuple | list):
        return type(value)(_as_torch(v) for v in value)
    return value


def build_checks() -> list[PeerCheck]:
    """The rubric's checks, each as peer test code (see the module docstring)."""
    import torch

    from grader.api import load_course
    from grader.inputs import rng_for, student_refs
    from grader.planning import plan as make_plan

    rubric = load_course().get(ASSIGNMENT)
    reference = rubric.load_reference()
    checks_module = rubric.load_checks()

    def unsupported(spec: Any, what: str) -> SystemExit:
        return SystemExit(f"peers.py has no peer version of {what} (check {spec.id}); add one before timing")

    checks = []
    for planned in make_plan(rubric).checks:  # no salt: the inputs every peer test carries
        spec = planned.spec
        if spec.fetch_kind == "probe":
            raise unsupported(spec, "probe checks")

        def fetched(case: Any, spec: Any = spec) -> str:
            get = f"_peers_fetch(_peers_ns, {spec.target!r})"
            if spec.fetch_kind == "call":
                return f"{get}({', '.join(_source(a, True) for a in case.args)})"
            return get

        def property_rng(case: Any, spec: Any = spec) -> np.random.Generator:
            return rng_for(rubric.seed, spec.id + "/property", case.number)  # d2l-grader's ctx.rng

        lines = []
        for case in planned.cases:
            if spec.kind == "value":
                if case.has_expected or spec.singleton_dims != "exact" or spec.allow_nonfinite:
                    raise unsupported(spec, "literal expected values, singleton_dims or allow_nonfinite")
                function = spec.reference_function
                if student_refs(case.reference_args):
                    if function not in KERNEL_REFERENCES:
                        raise unsupported(spec, f"the reference {function} on student values")
                    args = ", ".join(_source(a, True) for a in case.reference_args)
                    want = f"_peers_reference({function!r}, {args})"
                else:
                    want = _source(getattr(reference, function)(*_as_torch(case.reference_args)), False)
                exact = spec.compare == "equal"
                lines.append(
                    f"_peers_match({fetched(case)}, {want}, exact={exact}, rtol={spec.rtol!r}, atol={spec.atol!r})"
                )
            elif spec.kind == "exception":
                if spec.fetch_kind != "name":
                    raise unsupported(spec, "exception checks on calls")
                lines.append(f"_peers_exception({fetched(case)}, {spec.exception!r}, {spec.match!r})")
            elif spec.kind == "property" and spec.property == "has_diagonal_edge":
                lines.append(f"_peers_has_diagonal_edge({fetched(case)}, {checks_module.MAX_PIXEL!r})")
            elif spec.kind == "property" and spec.property == "second_derivative":
                lines.append(f"_peers_second_derivative({fetched(case)})")
            elif spec.kind == "property" and spec.property == "sums_its_input":
                n = int(case.args[0])
                rng = property_rng(case)
                draws = [rng.standard_normal(n).tolist() for _ in range(3)]
                lines.append(f"_peers_sums_its_input({fetched(case)}, {n}, {draws!r})")
            elif spec.kind == "property" and spec.property == "differentiates":
                lines.append(f"_peers_differentiates({fetched(case)}, {int(case.args[0])})")
            elif spec.kind == "property" and spec.property == "conv_matrix_reproduces_corr2d":
                K, in_shape = case.args
                rng = property_rng(case)
                samples = []
                for _ in range(3):
                    X = rng.standard_normal(tuple(in_shape))
                    want = reference.corr2d(torch.tensor(X), torch.tensor(K, dtype=torch.float64))
                    samples.append(f"({_source(X, False)}, {_source(want, False)})")
                shapes = f"{tuple(K.shape)!r}, {tuple(in_shape)!r}"
                lines.append(f"_peers_reproduces_corr2d({fetched(case)}, {shapes}, [{', '.join(samples)}])")
            elif spec.kind == "property" and spec.property == "detects_edges_across":
                v = [float(x) for x in case.args[0]]
                lines.append(f"_peers_detects_edges_across({fetched(case)}, {v!r})")
            elif spec.kind == "property" and spec.property == "blurs":
                lines.append(f"_peers_blurs({fetched(case)}, {int(case.args[0])})")
            else:
                raise unsupported(spec, f"{spec.kind} checks with property {getattr(spec, 'property', None)}")
        checks.append(PeerCheck(spec.id, spec.exercise, float(spec.points), spec.hidden, spec.description, lines))
    return checks


def _points(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


# ----------------------------------------------------------------------------- venvs
class PeerUnavailable(Exception):
    """A peer cannot be set up or read here; the message says why."""


INSTALLED = """
import sys
from importlib import metadata

for requirement in sys.argv[1:]:
    name, _, version = requirement.partition("==")
    try:
        found = metadata.version(name)
    except metadata.PackageNotFoundError:
        sys.exit(1)
    if version and found != version:
        sys.exit(1)
"""


def ensure_venv(cache: str, peer: Peer) -> str | None:
    """The peer's venv folder, made or completed on first use and reused afterwards;
    None (and one line saying why) if it cannot be installed."""
    from grader.environment import TORCH_CPU_INDEX, TORCH_CPU_REQUIREMENT

    folder = os.path.join(cache, peer.name)
    python = os.path.join(folder, "bin", "python")
    requirements = [TORCH_CPU_REQUIREMENT, "numpy", *peer.packages]
    if os.path.exists(python) and subprocess.run([python, "-c", INSTALLED, *requirements]).returncode == 0:
        print(f"{peer.label}: venv {folder} (reused)")
        return folder
    base = shutil.which("python3.11")
    if base is None:
        print(f"{peer.label}: skipped, no python3.11 on PATH to make its venv with")
        return None
    print(f"{peer.label}: installing {' '.join(requirements)} into {folder} (once) ...", flush=True)
    os.makedirs(cache, exist_ok=True)
    started = time.perf_counter()

    def run(command: list[str]) -> subprocess.CompletedProcess[str]:
        # niced: the machine is shared, and an install is not what is measured
        return subprocess.run(["nice", "-n", "10", *command], capture_output=True, text=True)

    result = run([base, "-m", "venv", folder])
    if result.returncode == 0:
        pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *requirements]
        result = run(pip)
        if result.returncode != 0 and TORCH_CPU_REQUIREMENT in result.stderr:  # no +cpu wheel: PyTorch's CPU index
            result = run([*pip, "--extra-index-url", TORCH_CPU_INDEX])
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("WARNING")]
        print(f"{peer.label}: skipped, its venv could not be installed ({(lines or ['no message'])[-1].strip()})")
        return None
    print(f"{peer.label}: installed in {time.perf_counter() - started:.0f} s")
    return folder


def venv_env(venv: str) -> dict[str, str]:
    """The environment of an activated venv: peers run helpers (nbgrader: `alembic`) by name."""
    return {**os.environ, "VIRTUAL_ENV": venv, "PATH": os.path.join(venv, "bin") + os.pathsep + os.environ["PATH"]}


# ----------------------------------------------------------------------------- timed paths
@dataclass
class Command:
    argv: list[str]
    cwd: str
    log: str
    env: dict[str, str] | None = None


@dataclass
class TimedPath:
    """One way of grading the class: what to run (prepared afresh, untimed, before each run) and how to read its scores."""

    label: str  # printed
    short: str  # in ratios
    tool: str
    prepare: Callable[[int], list[list[Command]]]  # run number -> groups run side by side, each in order
    collect: Callable[[int], dict[str, dict[str, float]]]  # run number -> student -> check id -> points
    runs: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    scores: list[dict[str, dict[str, float]]] = field(default_factory=list)


def peer_path(
    tool: str,
    command: str,
    units: str,
    processes: int,
    prepare: Callable[[int], list[list[Command]]],
    collect: Callable[[int], dict[str, dict[str, float]]],
) -> TimedPath:
    """A peer's path, labelled "<command>, serial" or "<command>, N <units> side by side"."""
    what = "serial" if processes == 1 else f"{processes} {units} side by side"
    short = "serial" if processes == 1 else f"{processes}-process"
    return TimedPath(f"{command}, {what}", f"{tool}'s {short} figure", tool, prepare, collect)


def run_groups(groups: list[list[Command]]) -> tuple[float, list[str]]:
    """Wall seconds from the first command's start until every group is done (each group runs its
    commands one after another, the groups side by side), and the commands that exited non-zero."""
    failed: list[str] = []

    def run_group(commands: list[Command]) -> None:
        for command in commands:
            with open(command.log, "a") as log:
                try:
                    code = subprocess.run(
                        command.argv, cwd=command.cwd, env=command.env, stdout=log, stderr=subprocess.STDOUT
                    ).returncode
                except OSError as exc:
                    code = -1
                    log.write(f"could not start: {exc}\n")
            if code != 0:
                failed.append(f"{os.path.basename(command.argv[0])} exited {code} (log: {command.log})")

    threads = [threading.Thread(target=run_group, args=(group,)) for group in groups]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, failed


def halves(items: list[str], parts: int) -> list[list[str]]:
    """Interleaved, so each part gets the same mix of correct, wrong and broken notebooks."""
    return [items[i::parts] for i in range(parts)]


def d2l_paths(work: str, class_dir: str, check_ids: list[str], processes: tuple[int, ...] = (1, 2)) -> list[TimedPath]:
    grader = os.path.join(os.path.dirname(sys.executable), "grader")
    base = [grader] if os.path.exists(grader) else [sys.executable, "-m", "grader"]
    paths = []
    for jobs in processes:

        def out(run: int, jobs: int = jobs) -> str:
            return os.path.join(work, "runs", f"d2l-j{jobs}-{run}")

        def prepare(run: int, jobs: int = jobs, out: Callable[[int], str] = out) -> list[list[Command]]:
            shutil.rmtree(out(run), ignore_errors=True)
            argv = [*base, "grade", class_dir, "--assignment", ASSIGNMENT, "--out", out(run), "-j", str(jobs)]
            return [[Command(argv, ROOT, out(run) + ".log")]]

        def collect(run: int, out: Callable[[int], str] = out) -> dict[str, dict[str, float]]:
            scores = {}
            with open(os.path.join(out(run), "grades.csv"), newline="") as f:
                for row in csv.DictReader(f):
                    scores[row["student"]] = {i: float(row[i] or 0) for i in check_ids}
            return scores

        paths.append(TimedPath(f"d2l-grader `grader grade -j {jobs}`", f"d2l-grader -j {jobs}", D2L, prepare, collect))
    return paths


# ----------------------------------------------------------------------------- nbgrader
NBGRADER_SCORES = """
import json, sys
from nbgrader.api import Gradebook, MissingEntry

db, assignment, notebook, *students = sys.argv[1:]
scores = {}
with Gradebook(db) as gb:
    for student in students:
        try:
            submission = gb.find_submission_notebook(notebook, assignment, student)
        except MissingEntry:
            continue
        scores[student] = {grade.name: grade.score or 0.0 for grade in submission.grades}
print(json.dumps(scores))
"""


def _nbgrader_meta(grade_id: str, *, solution: bool = False, grade: bool = False, points: float = 0) -> dict:
    meta: dict[str, Any] = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": not solution,
        "schema_version": 3,
        "solution": solution,
        "task": False,
    }
    if grade:
        meta["points"] = _points(points)
    return meta


def nbgrader_paths(
    venv: str,
    work: str,
    class_dir: str,
    students: list[str],
    checks: list[PeerCheck],
    processes: tuple[int, ...] = (1, 2),
) -> list[TimedPath]:
    """Make the assignment (source -> release), the submissions, and the timed paths (one per
    number of processes)."""
    bin_dir, env = os.path.join(venv, "bin"), venv_env(venv)
    folder = os.path.join(work, "nbgrader")
    template = os.path.join(folder, "course")
    source = nbformat.read(os.path.join(ROOT, "reference", NOTEBOOK), as_version=4)
    for index, cell in enumerate(source.cells):
        if cell.cell_type == "code":  # the student's cells: autograded answers (a stub in the release)
            cell.metadata["nbgrader"] = _nbgrader_meta(f"answer-{index:02d}", solution=True)
    helpers = nbformat.v4.new_code_cell(kernel_source())
    helpers.metadata["nbgrader"] = _nbgrader_meta("peers-helpers")
    source.cells.append(helpers)
    for check in checks:
        body = ["_peers_ns = globals()", *check.lines]
        if check.hidden:  # stripped from the release, put back by autograde
            body = ["### BEGIN HIDDEN TESTS", *body, "### END HIDDEN TESTS"]
        unit = "point" if check.points == 1 else "points"
        head = f"# {check.id} ({check.exercise}, {_points(check.points)} {unit}): {check.description}"
        cell = nbformat.v4.new_code_cell("\n".join([head, *body]))
        cell.metadata["nbgrader"] = _nbgrader_meta(check.id, grade=True, points=check.points)
        source.cells.append(cell)
    os.makedirs(os.path.join(template, "source", NB_ASSIGNMENT))
    nbformat.write(source, os.path.join(template, "source", NB_ASSIGNMENT, NOTEBOOK))
    result = subprocess.run(
        [os.path.join(bin_dir, "nbgrader"), "generate_assignment", NB_ASSIGNMENT, f"--CourseDirectory.root={template}"],
        cwd=template,
        env=env,
        capture_output=True,
        text=True,
    )
    release_path = os.path.join(template, "release", NB_ASSIGNMENT, NOTEBOOK)
    if result.returncode != 0 or not os.path.exists(release_path):
        raise PeerUnavailable(f"`nbgrader generate_assignment` failed: {result.stderr.strip()[-300:]}")
    release = nbformat.read(release_path, as_version=4)

    submissions = os.path.join(folder, "submissions")
    os.makedirs(submissions)
    for student in students:
        path = os.path.join(class_dir, f"{student}.ipynb")
        target = os.path.join(submissions, f"{student}.ipynb")
        try:
            own = nbformat.read(path, as_version=4)
        except Exception:
            shutil.copy(path, target)  # the unusable file, as it is
            continue
        submission = nbformat.from_dict(release)
        for index, cell in enumerate(submission.cells):
            if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
                cell.source = own.cells[index].source
        nbformat.write(submission, target)

    def course(run: int, processes: int, part: int) -> str:
        return os.path.join(work, "runs", f"nbgrader-{processes}p-{run}", f"course{part}")

    def make(processes: int) -> TimedPath:
        def prepare(run: int) -> list[list[Command]]:
            groups = []
            for part, names in enumerate(halves(students, processes)):
                root = course(run, processes, part)
                shutil.copytree(template, root)
                for student in names:
                    target = os.path.join(root, "submitted", student, NB_ASSIGNMENT)
                    os.makedirs(target)
                    shutil.copy(os.path.join(submissions, f"{student}.ipynb"), os.path.join(target, NOTEBOOK))
                argv = [os.path.join(bin_dir, "nbgrader"), "autograde", NB_ASSIGNMENT, f"--CourseDirectory.root={root}"]
                groups.append([Command(argv, root, root + ".log", env)])
            return groups

        def collect(run: int) -> dict[str, dict[str, float]]:
            scores: dict[str, dict[str, float]] = {}
            for part, names in enumerate(halves(students, processes)):
                db = "sqlite:///" + os.path.join(course(run, processes, part), "gradebook.db")
                argv = [os.path.join(bin_dir, "python"), "-c", NBGRADER_SCORES, db, NB_ASSIGNMENT, NOTEBOOK[:-6]]
                result = subprocess.run([*argv, *names], env=env, capture_output=True, text=True)
                if result.returncode != 0:
                    raise PeerUnavailable(f"nbgrader's gradebook could not be read: {result.stderr.strip()[-300:]}")
                scores.update(json.loads(result.stdout))
            return scores

        return peer_path(NBGRADER, "nbgrader `nbgrader autograde`", "processes", processes, prepare, collect)

    return [make(p) for p in processes]


# ----------------------------------------------------------------------------- otter
def otter_paths(
    venv: str,
    work: str,
    class_dir: str,
    students: list[str],
    checks: list[PeerCheck],
    processes: tuple[int, ...] = (1, 2),
) -> list[TimedPath]:
    """Write the tests (one file per check), pack them with `otter generate`, and the timed paths
    (one per number of processes)."""
    bin_dir, env = os.path.join(venv, "bin"), venv_env(venv)
    ids = [c.id for c in checks]
    folder = os.path.join(work, "otter")
    tests = os.path.join(folder, "tests")
    os.makedirs(tests)
    helpers = kernel_source()
    for check in checks:
        body = "\n".join("    " + line for line in ["_peers_ns = env", *check.lines])
        text = (
            f'"""{check.id} ({check.exercise}): {check.description}"""\n\n'
            "OK_FORMAT = False\n\n"
            "from otter.test_files import test_case\n\n"
            f"name = {check.id!r}\n"
            f"points = {_points(check.points)!r}\n\n\n"
            f"{helpers}\n\n"
            f"@test_case(points={_points(check.points)!r}, hidden={check.hidden!r})\n"
            f"def test_check(env):\n{body}\n"
        )
        with open(os.path.join(tests, f"{check.id}.py"), "w") as f:
            f.write(text)
    result = subprocess.run(
        [os.path.join(bin_dir, "otter"), "generate", "--no-requirements", "--no-environment"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
    )
    autograder = os.path.join(folder, "autograder.zip")
    if result.returncode != 0 or not os.path.exists(autograder):
        raise PeerUnavailable(f"`otter generate` failed: {(result.stderr or result.stdout).strip()[-300:]}")

    def out(run: int, processes: int, student: str) -> str:
        return os.path.join(work, "runs", f"otter-{processes}p-{run}", student)

    def make(processes: int) -> TimedPath:
        def prepare(run: int) -> list[list[Command]]:
            groups = []
            for names in halves(students, processes):
                commands = []
                for student in names:
                    folder = out(run, processes, student)
                    os.makedirs(folder)
                    notebook = os.path.join(class_dir, f"{student}.ipynb")
                    argv = [
                        os.path.join(bin_dir, "otter"),
                        "run",
                        "-a",
                        autograder,
                        "-o",
                        folder,
                        "--no-logo",
                        notebook,
                    ]
                    commands.append(Command(argv, folder, folder + ".log", env))
                groups.append(commands)
            return groups

        def collect(run: int) -> dict[str, dict[str, float]]:
            scores = {}
            for student in students:
                try:
                    with open(os.path.join(out(run, processes, student), "results.json")) as f:
                        results = json.load(f)
                except FileNotFoundError:
                    continue  # otter refused the file
                tests = {t.get("name"): t.get("score") for t in results.get("tests", [])}
                scores[student] = {i: float(tests.get(i) or 0) for i in ids}
            return scores

        return peer_path(OTTER, "otter `otter run` per notebook", "loops", processes, prepare, collect)

    return [make(p) for p in processes]


# ----------------------------------------------------------------------------- report
def compare_scores(
    checks: list[PeerCheck], tools: dict[str, dict[str, dict[str, float]]], students: list[str]
) -> tuple[int, int]:
    """Print every disagreement; return (submissions whose totals differ, whose per-check scores differ)."""
    ids = [c.id for c in checks]
    names = list(tools)
    total_mismatches = check_mismatches = 0
    totals_line = []
    for student in students:
        per_tool = {t: tools[t].get(student, {}) for t in names}
        totals = {t: sum(per_tool[t].get(i, 0.0) for i in ids) for t in names}
        differing = [i for i in ids if len({per_tool[t].get(i, 0.0) for t in names}) > 1]
        if len(set(totals.values())) > 1:
            total_mismatches += 1
        if differing:
            check_mismatches += 1
            detail = "; ".join(
                f"{i}: " + ", ".join(f"{t} {per_tool[t].get(i, 0.0):g}" for t in names) for i in differing
            )
            shown = ", ".join(f"{t} {totals[t]:g}" for t in names)
            print(f"  MISMATCH {student}: totals {shown}; {detail}")
        ungraded = [t for t in names if student not in tools[t]]
        mark = "*" if ungraded else ""
        totals_line.append(f"{student} {'/'.join(f'{totals[t]:g}' for t in names)}{mark}")
    print(f"  totals per submission ({' / '.join(names)}; * = a tool recorded nothing, counted 0):")
    for start in range(0, len(totals_line), 6):
        print("    " + ", ".join(totals_line[start : start + 6]))
    return total_mismatches, check_mismatches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--submissions", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each path; the best counts")
    parser.add_argument("--peers", default="nbgrader,otter", help="comma-separated: nbgrader, otter")
    parser.add_argument("--cache", default=os.path.expanduser("~/.cache/d2l-grader-bench"), help="the peers' venvs")
    parser.add_argument("--keep", action="store_true", help="leave the work folder for inspection")
    parser.add_argument(
        "--processes",
        default="1,2",
        help="comma-separated: time each tool serially (1) and/or with the class split over two (2)",
    )
    args = parser.parse_args()
    try:
        processes = tuple(sorted({int(p) for p in args.processes.split(",") if p.strip()}))
    except ValueError:
        processes = ()
    if not processes or not set(processes) <= {1, 2}:
        parser.error("--processes takes 1, 2 or 1,2")
    wanted = [p.strip() for p in args.peers.split(",") if p.strip()]
    unknown = sorted(set(wanted) - set(PEERS))
    if unknown:
        parser.error(f"unknown peer(s) {', '.join(unknown)}; choose from {', '.join(PEERS)}")
    if args.submissions < 2:
        parser.error("--submissions must be at least 2 (the class is split over 2 processes)")

    from batch_speed import make_submissions

    checks = build_checks()
    check_ids = [c.id for c in checks]
    work = tempfile.mkdtemp(prefix="peers-")
    try:
        os.makedirs(os.path.join(work, "runs"))
        class_dir = os.path.join(work, "class")
        make_submissions(class_dir, args.submissions)
        students = sorted(name[:-6] for name in os.listdir(class_dir) if name.endswith(".ipynb"))
        rolls = [i % 20 for i in range(args.submissions)]  # make_submissions' pattern
        mix = [sum(r < 12 for r in rolls), sum(12 <= r < 17 for r in rolls), sum(17 <= r < 19 for r in rolls)]
        print(
            f"submissions: {args.submissions} conv-layer notebooks ({mix[0]} correct, {mix[1]} wrong, {mix[2]} broken, "
            f"{rolls.count(19)} unusable); checks: {len(checks)} of rubrics/conv-layer.toml, "
            f"{sum(c.points for c in checks):g} points, {sum(c.hidden for c in checks)} hidden"
        )
        paths = d2l_paths(work, class_dir, check_ids, processes)
        for name in wanted:
            peer = PEERS[name]
            venv = ensure_venv(args.cache, peer)
            if venv is None:
                continue
            try:
                if name == NBGRADER:
                    paths += nbgrader_paths(venv, work, class_dir, students, checks, processes)
                else:
                    print(
                        f"{peer.label}: `otter grade` grades in Docker containers only, so `otter run` "
                        "(no container) is timed, once per notebook"
                    )
                    paths += otter_paths(venv, work, class_dir, students, checks, processes)
            except PeerUnavailable as exc:
                print(f"{peer.label}: skipped, {exc}")

        for run in range(max(1, args.repeat)):  # the paths take turns, so all meet the same load
            for path in list(paths):
                if path not in paths:
                    continue  # its tool was dropped earlier in this round
                try:
                    groups = path.prepare(run)
                    elapsed, failed = run_groups(groups)
                    scores = path.collect(run)
                    if path.tool != D2L and not scores:
                        note = failed[0] if failed else "no results"
                        raise PeerUnavailable(f"{path.label} recorded no grade at all ({note}; --keep keeps the logs)")
                except PeerUnavailable as exc:
                    print(f"{path.tool}: dropped, {exc}")
                    paths = [p for p in paths if p.tool != path.tool]
                    continue
                if path.tool == D2L and failed:
                    raise SystemExit(f"grader grade failed: {failed[0]}")
                path.runs.append(elapsed)
                path.failures += failed
                path.scores.append(scores)

        # ------------------------------------------------------------ same grades?
        print("scores (per check, every submission; the timings below compare tools only where these agree):")
        tools: dict[str, dict[str, dict[str, float]]] = {}
        for path in paths:
            for scores in path.scores:
                first = tools.setdefault(path.tool, scores)
                if scores != first:
                    print(f"  {path.label}: scores differ between runs of the same tool")
        total_mismatches, check_mismatches = compare_scores(checks, tools, students)
        names = " = ".join(tools)
        if len(tools) < 2:
            print("  no peer ran, nothing to compare")
        elif total_mismatches == 0 and check_mismatches == 0:
            print(f"  totals agree ({names}) on all {len(students)} submissions, and so does every check")
        else:
            print(
                f"  totals DISAGREE on {total_mismatches} of {len(students)} submissions; per-check scores on "
                f"{check_mismatches}: the ratios below compare unlike work"
            )
        for path in paths:
            if path.failures:
                runs = len(path.runs)
                why = " (it does on an unusable file)" if rolls.count(19) else ""
                where = path.failures[0] if args.keep else path.failures[0].split(" (log:")[0]
                print(f"  {path.label}: {len(path.failures)} command(s) in {runs} run(s) exited non-zero{why}: {where}")

        # ------------------------------------------------------------ timings
        n = args.submissions
        print(
            f"timings (whole commands, wall clock; s/notebook = seconds / {n}; best and median of "
            f"{max(1, args.repeat)} run(s), every run in brackets):"
        )
        width = max(len(p.label) for p in paths)
        for path in paths:
            best, median = min(path.runs) / n, statistics.median(path.runs) / n
            every = ", ".join(f"{r / n:.3f}" for r in path.runs)
            print(
                f"  {path.label:<{width}}  best {min(path.runs):7.2f} s = {best:.3f} s/notebook, "
                f"median {median:.3f}  [runs: {every}]"
            )
        print("ratios (best runs; medians in brackets):")
        ours = {p.short: p for p in paths if p.tool == D2L}
        for path in paths:
            if path.tool == D2L:
                continue
            mine = ours["d2l-grader -j 1"] if "serial" in path.label else ours["d2l-grader -j 2"]
            ratio = min(path.runs) / min(mine.runs)
            medians = statistics.median(path.runs) / statistics.median(mine.runs)
            print(f"  {mine.short} is {ratio:.1f}x {path.short} ({medians:.1f}x)")
    finally:
        if args.keep:
            print(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
