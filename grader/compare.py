"""Comparison of a student's value with an expected one, in the grader process.

Messages say what a student can act on: the shape that differs, or the first element
that differs with both values and the tolerance used.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .plaindata import StudentException, Unsupported


class CheckFailed(Exception):
    """The student's answer is wrong; the message says how, in words a student can act on.

    Raised by comparisons here and by property functions of course content (which import
    it from `grader.content`).
    """


def to_numpy(value: Any) -> Any:
    """Reference code returns torch tensors; compare them as numpy arrays."""
    torch: Any
    try:
        import torch
    except ImportError:  # pragma: no cover - the grading environment has torch
        torch = None
    if torch is not None and isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    if isinstance(value, (list, tuple)):
        return type(value)(to_numpy(v) for v in value)
    return value


def shape_text(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {shape_text(value.shape)}"
    if isinstance(value, StudentException):
        return f"a {value.type} exception"
    if isinstance(value, Unsupported):
        return value.what
    return f"a {type(value).__name__}"


def ensure_plain(value: Any, what: str) -> None:
    if isinstance(value, Unsupported) and value.what == "still `...`":
        raise CheckFailed(f"{what} is still `...`: replace it with your answer")
    if isinstance(value, Unsupported):
        raise CheckFailed(
            f"{what} is {value.what}, which is not plain data (use a tensor, array, number, str, bool, or a list/tuple/dict of those)"
        )


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def compare(got: Any, expected: Any, *, mode: str, rtol: float, atol: float, what: str, path: str = "") -> None:
    """Raise Mismatch unless `got` matches `expected`."""
    expected = to_numpy(expected)
    ensure_plain(got, what)
    label = f"{what}{path}"
    if isinstance(expected, np.ndarray) or (isinstance(got, np.ndarray) and _is_number(expected)):
        _compare_arrays(got, np.asarray(expected), mode, rtol, atol, label)
        return
    if isinstance(expected, (list, tuple)):
        if not isinstance(got, (list, tuple)):
            raise CheckFailed(
                f"{label} returned {describe(got)}, expected a {type(expected).__name__} of {len(expected)} items"
            )
        if len(got) != len(expected):
            raise CheckFailed(f"{label} has {len(got)} items, expected {len(expected)}")
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            compare(g, e, mode=mode, rtol=rtol, atol=atol, what=what, path=f"{path}[{i}]")
        return
    if isinstance(expected, bool) or isinstance(got, bool):
        if isinstance(got, np.ndarray) and got.size == 1 and got.dtype.kind == "b":
            got = bool(got.reshape(()))  # a 0-d bool tensor such as (Y1 == Y2).all()
        if not isinstance(got, (bool, np.bool_)) or bool(got) != expected:
            raise CheckFailed(f"{label} is {got!r}, expected {expected!r}")
        return
    if _is_number(expected):
        if isinstance(got, np.ndarray) and got.size == 1:
            got = got.reshape(()).item()
        if not _is_number(got):
            raise CheckFailed(f"{label} is {describe(got)}, expected a number")
        if mode == "equal" and got != expected:
            raise CheckFailed(f"{label} is {got!r}, expected {expected!r}")
        if not np.isclose(got, expected, rtol=rtol, atol=atol):
            raise CheckFailed(f"{label} is {got!r}, expected {expected!r} (rtol {rtol:g}, atol {atol:g})")
        return
    if got != expected:
        raise CheckFailed(f"{label} is {got!r}, expected {expected!r}")


def _compare_arrays(got: Any, expected: np.ndarray, mode: str, rtol: float, atol: float, label: str) -> None:
    if _is_number(got):
        got = np.asarray(got)
    if not isinstance(got, np.ndarray):
        raise CheckFailed(f"{label} returned {describe(got)}, expected an array of shape {shape_text(expected.shape)}")
    got = np.asarray(got)
    if got.shape != expected.shape:
        raise CheckFailed(f"{label} returned shape {shape_text(got.shape)}, expected {shape_text(expected.shape)}")
    if got.dtype.kind not in "biuf" or expected.dtype.kind not in "biuf":
        raise CheckFailed(f"{label} has dtype {got.dtype}, expected numbers")
    g = got.astype(np.float64)
    e = expected.astype(np.float64)
    if mode == "equal":
        bad = ~((g == e) | (np.isnan(g) & np.isnan(e)))
        tol_text = "exact"
    else:
        bad = ~np.isclose(g, e, rtol=rtol, atol=atol, equal_nan=True)
        tol_text = f"rtol {rtol:g}, atol {atol:g}"
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        where = "[" + ", ".join(str(i) for i in index) + "]"
        count = int(bad.sum())
        more = f" ({count} of {bad.size} elements differ)" if count > 1 else ""
        raise CheckFailed(
            f"{label}: values differ at {where}: got {g[index]:.6g}, expected {e[index]:.6g} ({tol_text}){more}"
        )
