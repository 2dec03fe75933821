"""Comparison of a student's value with an expected one, in the grader process.

Messages say what a student can act on: the shape that differs, or the first element
that differs with both values and the tolerance used.

The rules:

* Arrays never broadcast: shapes must be equal (a 1-element array against a plain number is
  compared as that number). Empty arrays of equal shapes match. Real and complex arrays are
  compared by value, whatever their dtypes; `equal` is exact (no rounding through float64).
* Lists and tuples match item by item; dicts key by key (the same keys, in any order).
* Non-finite values (nan, inf, also in a real or imaginary part) never match, unless the
  check allows them (`allow_nonfinite=True`): then nan matches nan at the same position,
  inf matches inf of the same sign, and finite values are compared as usual. A non-finite
  *expected* value (only the student's own inputs can produce one) fails with its own message.
"""

from __future__ import annotations

import cmath
import json
import math
from fractions import Fraction
from typing import Any

import numpy as np

from .plaindata import StudentException, Unsupported

NONFINITE = "non-finite values never match"
_NUMERIC = "biufc"


class CheckFailed(Exception):
    """The student's answer is wrong; the message says how, in words a student can act on.

    Raised by comparisons here and by property functions of course content (which import
    it from `grader.content`).
    """


def to_numpy(value: Any) -> Any:
    """Reference code returns torch tensors; compare them as numpy arrays (bfloat16 and
    float8 as float32, complex32 as complex64, like the harness does)."""
    torch: Any
    try:
        import torch
    except ImportError:  # pragma: no cover - the grading environment has torch
        torch = None
    if torch is not None and isinstance(value, torch.Tensor):
        tensor = value.detach().cpu().resolve_conj().resolve_neg()
        try:
            return tensor.numpy()
        except TypeError:  # a dtype numpy lacks
            if tensor.is_complex():
                return tensor.to(torch.complex64).numpy()
            if tensor.is_floating_point():
                return tensor.to(torch.float32).numpy()
            raise
    if isinstance(value, tuple):
        return tuple(to_numpy(v) for v in value)
    if isinstance(value, list):
        return [to_numpy(v) for v in value]
    if isinstance(value, dict):
        return {k: to_numpy(v) for k, v in value.items()}
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
    return isinstance(v, (int, float, complex, np.integer, np.floating, np.complexfloating)) and not isinstance(v, bool)


def compare(
    got: Any,
    expected: Any,
    *,
    mode: str,
    rtol: float,
    atol: float,
    what: str,
    path: str = "",
    allow_nonfinite: bool = False,
) -> None:
    """Raise CheckFailed unless `got` matches `expected` (see the module's rules)."""
    if mode not in ("allclose", "equal"):
        raise ValueError(f"unknown comparison mode {mode!r}")
    expected = to_numpy(expected)
    label = f"{what}{path}"
    ensure_plain(got, label)
    if (
        isinstance(expected, np.ndarray)
        and expected.shape == ()
        and expected.dtype.kind == "b"
        and isinstance(got, bool)
    ):
        expected = bool(expected)  # a 0-d bool tensor expected, a bool returned
    if isinstance(expected, np.ndarray):
        _compare_arrays(got, expected, mode, rtol, atol, label, allow_nonfinite)
        return
    if isinstance(expected, (list, tuple)):
        if not isinstance(got, (list, tuple)):
            raise CheckFailed(
                f"{label} returned {describe(got)}, expected a {type(expected).__name__} of {len(expected)} items"
            )
        if len(got) != len(expected):
            raise CheckFailed(f"{label} has {len(got)} items, expected {len(expected)}")
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            compare(
                g, e, mode=mode, rtol=rtol, atol=atol, what=what, path=f"{path}[{i}]", allow_nonfinite=allow_nonfinite
            )
        return
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            raise CheckFailed(f"{label} returned {describe(got)}, expected a dict")
        for key in expected:
            if key not in got:
                raise CheckFailed(f"{label} has no key {_key(key)}")
        for key in got:
            if key not in expected:
                raise CheckFailed(f"{label} has an unexpected key {_key(key)}")
        for key, e in expected.items():
            compare(
                got[key],
                e,
                mode=mode,
                rtol=rtol,
                atol=atol,
                what=what,
                path=f"{path}[{_key(key)}]",
                allow_nonfinite=allow_nonfinite,
            )
        return
    if isinstance(expected, (bool, np.bool_)) or isinstance(got, bool):
        if isinstance(got, np.ndarray) and got.size == 1 and got.dtype.kind == "b":
            got = bool(got.reshape(()))  # a 0-d bool tensor such as (Y1 == Y2).all()
        if not isinstance(got, (bool, np.bool_)) or bool(got) != bool(expected):
            raise CheckFailed(f"{label} is {_show(got)}, expected {_show(expected)}")
        return
    if _is_number(expected):
        _compare_numbers(got, expected, mode, rtol, atol, label, allow_nonfinite)
        return
    if isinstance(expected, str) or expected is None:
        if not (got is expected or (isinstance(got, str) and isinstance(expected, str) and got == expected)):
            raise CheckFailed(f"{label} is {_show(got)}, expected {_show(expected)}")
        return
    try:  # anything else the reference made: equal only if `==` plainly says so
        same = got == expected
    except Exception:
        same = False
    if same is not True:
        raise CheckFailed(f"{label} is {_show(got)}, expected {_show(expected)}")


# ----------------------------------------------------------------------------- numbers
def _compare_numbers(got: Any, expected: Any, mode: str, rtol: float, atol: float, label: str, allow: bool) -> None:
    if isinstance(got, np.ndarray) and got.size == 1 and got.dtype.kind in "iufc":
        got = got.reshape(()).item()  # a 1-element array against a number: compare the numbers
    if not _is_number(got):
        raise CheckFailed(f"{label} is {describe(got)}, expected a number")
    g, e = _python(got), _python(expected)
    if not allow and not _finite(e):
        raise CheckFailed(
            f"{label}: the expected value is not finite for your inputs (it is {_repr(e)}), and {NONFINITE}"
        )
    if not allow and not _finite(g):
        raise CheckFailed(f"{label} is {_repr(g)}, expected {_repr(e)} ({NONFINITE})")
    if _numbers_match(g, e, mode, rtol, atol):
        return
    if mode == "equal":
        raise CheckFailed(f"{label} is {_repr(g)}, expected {_repr(e)}")
    raise CheckFailed(f"{label} is {_repr(g)}, expected {_repr(e)} (rtol {rtol:g}, atol {atol:g})")


def _python(x: Any) -> Any:
    """A numpy scalar as the Python scalar of the same value (float16/32 widen exactly)."""
    return x.item() if isinstance(x, np.generic) else x


def _finite(x: int | float | complex) -> bool:
    if isinstance(x, int):
        return True
    return cmath.isfinite(x) if isinstance(x, complex) else math.isfinite(x)


def _numbers_match(g: int | float | complex, e: int | float | complex, mode: str, rtol: float, atol: float) -> bool:
    if isinstance(g, complex) or isinstance(e, complex):
        try:
            gc, ec = complex(g), complex(e)
        except OverflowError:  # an int beyond any float: no complex number equals it
            return False
        if mode == "allclose" and cmath.isfinite(gc) and cmath.isfinite(ec):
            return gc == ec or _abs(gc - ec) <= atol + rtol * _abs(ec)
        return _reals_match(gc.real, ec.real, mode, rtol, atol) and _reals_match(gc.imag, ec.imag, mode, rtol, atol)
    return _reals_match(g, e, mode, rtol, atol)


def _abs(z: complex) -> float:
    try:
        return abs(z)
    except OverflowError:  # |z| beyond the largest float
        return math.inf


def _reals_match(g: int | float, e: int | float, mode: str, rtol: float, atol: float) -> bool:
    g_nan, e_nan = isinstance(g, float) and g != g, isinstance(e, float) and e != e
    if g_nan or e_nan:
        return g_nan and e_nan
    if g == e:  # Python compares ints and floats exactly
        return True
    if mode == "equal" or (isinstance(g, float) and math.isinf(g)) or (isinstance(e, float) and math.isinf(e)):
        return False
    if isinstance(g, int) or isinstance(e, int):  # exactly, whatever the size of the int
        return abs(Fraction(g) - Fraction(e)) <= Fraction(atol) + Fraction(rtol) * abs(Fraction(e))
    return abs(g - e) <= atol + rtol * abs(e)  # np.isclose's rule, in float64 like the arrays


# ----------------------------------------------------------------------------- arrays
def _compare_arrays(
    got: Any, expected: np.ndarray, mode: str, rtol: float, atol: float, label: str, allow: bool
) -> None:
    if _is_number(got):
        number = _python(got)
        if expected.ndim == 0 and isinstance(number, int) and not -(2**63) <= number < 2**64:
            # beyond every integer dtype: compare the numbers exactly
            _compare_numbers(number, expected.item(), mode, rtol, atol, label, allow)
            return
        got = np.asarray(number)
    if not isinstance(got, np.ndarray):
        raise CheckFailed(f"{label} returned {describe(got)}, expected an array of shape {shape_text(expected.shape)}")
    if got.shape != expected.shape:
        raise CheckFailed(f"{label} returned shape {shape_text(got.shape)}, expected {shape_text(expected.shape)}")
    if got.dtype.kind not in _NUMERIC or expected.dtype.kind not in _NUMERIC:
        raise CheckFailed(f"{label} has dtype {got.dtype}, expected numbers")
    got, expected = np.asarray(got), np.asarray(expected)
    if got.size == 0:
        return
    if not allow:
        bad = ~np.isfinite(expected)
        if bad.any():
            index = _first(bad)
            raise CheckFailed(
                f"{label}: the expected value is not finite for your inputs ({_fmt(expected[index])} at {_where(index)}), and {NONFINITE}"
            )
    ok = _equal_elements(got, expected) if mode == "equal" else _close_elements(got, expected, rtol, atol)
    if not allow:
        ok &= np.isfinite(got)
    bad = ~ok
    if bad.any():
        index = _first(bad)
        g, e = got[index], expected[index]
        if not allow and not np.isfinite(g):
            note = NONFINITE
        else:
            note = "exact" if mode == "equal" else f"rtol {rtol:g}, atol {atol:g}"
        count = int(bad.sum())
        more = f" ({count} of {bad.size} elements differ)" if count > 1 else ""
        g_text, e_text = _fmt(g), _fmt(e)
        if g_text == e_text:  # six digits do not show the difference
            g_text, e_text = _fmt(g, exact=True), _fmt(e, exact=True)
        raise CheckFailed(f"{label}: values differ at {_where(index)}: got {g_text}, expected {e_text} ({note}){more}")


def _first(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argwhere(mask)[0])


def _where(index: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(i) for i in index) + "]"


def _close_elements(g: np.ndarray, e: np.ndarray, rtol: float, atol: float) -> np.ndarray:
    """np.isclose elementwise (nan matches nan, inf matches inf of the same sign), for
    complex numbers with non-finite parts part by part."""
    with np.errstate(all="ignore"):
        if g.dtype.kind == "c" or e.dtype.kind == "c":
            gc, ec = g.astype(np.complex128), e.astype(np.complex128)
            finite = np.isfinite(gc) & np.isfinite(ec)
            parts = np.isclose(gc.real, ec.real, rtol=rtol, atol=atol, equal_nan=True)
            parts &= np.isclose(gc.imag, ec.imag, rtol=rtol, atol=atol, equal_nan=True)
            return np.where(finite, np.isclose(gc, ec, rtol=rtol, atol=atol), parts)
        return np.isclose(g.astype(np.float64), e.astype(np.float64), rtol=rtol, atol=atol, equal_nan=True)


def _equal_elements(g: np.ndarray, e: np.ndarray) -> np.ndarray:
    """Exact equality elementwise (nan matches nan), without rounding through float64."""
    if g.dtype.kind == "c" or e.dtype.kind == "c":
        return _equal_reals(np.real(g), np.real(e)) & _equal_reals(np.imag(g), np.imag(e))
    return _equal_reals(g, e)


def _equal_reals(g: np.ndarray, e: np.ndarray) -> np.ndarray:
    g_float, e_float = g.dtype.kind == "f", e.dtype.kind == "f"
    if g_float and e_float:  # float16 < float32 < float64: promotion is exact
        return (g == e) | (np.isnan(g) & np.isnan(e))
    if g_float or e_float:
        f, i = (g, e) if g_float else (e, g)
        return _float_equals_int(f.astype(np.float64), i)
    return _int_equals_int(g, e)


def _int_equals_int(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = (
        a.astype(np.uint64 if a.dtype.kind == "u" else np.int64),
        b.astype(np.uint64 if b.dtype.kind == "u" else np.int64),
    )
    if a.dtype == b.dtype:
        return a == b
    signed, unsigned = (a, b) if a.dtype == np.int64 else (b, a)
    return (signed >= 0) & (signed.astype(np.uint64) == unsigned)


def _float_equals_int(f: np.ndarray, i: np.ndarray) -> np.ndarray:
    i = i.astype(np.uint64 if i.dtype.kind == "u" else np.int64)
    candidate = f == i.astype(np.float64)  # never misses a match; may round a large int into one
    large = np.abs(i.astype(np.float64)) >= 2.0**53
    if not (candidate & large).any():
        return candidate
    low, high = (0.0, 2.0**64) if i.dtype == np.uint64 else (-(2.0**63), 2.0**63)
    with np.errstate(invalid="ignore"):
        exact = (f >= low) & (f < high) & (f.astype(i.dtype) == i)
    return np.where(large, candidate & exact, candidate)


# ----------------------------------------------------------------------------- messages
def _fmt(x: Any, exact: bool = False) -> str:
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x))
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    if isinstance(x, (complex, np.complexfloating)):
        return repr(complex(x)) if exact else f"({complex(x):.6g})"
    return repr(float(x)) if exact else f"{float(x):.6g}"


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _repr(value: Any) -> str:
    try:
        return _short(repr(value))
    except ValueError:  # an int too long for Python to write out
        return f"an int of {value.bit_length()} bits"


def _show(value: Any) -> str:
    """A value in a message: short plain values as Python writes them, others described."""
    value = _python(value)
    if value is None or isinstance(value, (bool, int, float, complex, str)):
        return _repr(value)
    return describe(value)


def _key(key: Any) -> str:
    return _short(json.dumps(key, ensure_ascii=False) if isinstance(key, str) else repr(key))
