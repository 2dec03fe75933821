"""Grader-side codec for the plain data that crosses the kernel boundary.

Inputs go to the kernel as JSON with arrays as base64 `.npy`; results come back the same
way. Decoding never unpickles (`allow_pickle=False`) and never evaluates anything, so
a hostile kernel can at worst send malformed data, which becomes a `Malformed` value
and a failed check.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class StudentException:
    """An exception object the student's notebook stored under a name."""

    type: str
    bases: tuple[str, ...]  # the exception class and its base classes, by name
    message: str


@dataclass(frozen=True)
class Unsupported:
    """A value that is not plain data (a custom class, an object array, ...)."""

    what: str


class Malformed(ValueError):
    """The kernel sent something that does not follow the result schema."""


def encode(value: Any) -> Any:
    """Encode grader-made inputs (numpy arrays become torch tensors in the kernel)."""
    if isinstance(value, StudentRef):
        return {"__student__": value.name}
    if isinstance(value, np.ndarray):
        buf = io.BytesIO()
        np.lib.format.write_array(buf, np.ascontiguousarray(value), allow_pickle=False)
        return {"__ndarray__": base64.b64encode(buf.getvalue()).decode("ascii"), "origin": "torch"}
    if isinstance(value, tuple):
        return {"__seq__": "tuple", "items": [encode(v) for v in value]}
    if isinstance(value, list):
        return {"__seq__": "list", "items": [encode(v) for v in value]}
    if isinstance(value, dict):
        return {"__dict__": {str(k): encode(v) for k, v in value.items()}}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return {"__float__": "nan" if value != value else ("inf" if value > 0 else "-inf")}
    return value


@dataclass(frozen=True)
class StudentRef:
    """An argument that names a value in the student's namespace (e.g. their X_diag)."""

    name: str


def decode(data: Any, depth: int = 0) -> Any:
    """Decode a value sent by the kernel; raise Malformed on anything off-schema."""
    if depth > 25:
        raise Malformed("value nested too deeply")
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):  # plain JSON lists only appear in hand-made data
        return [decode(v, depth + 1) for v in data]
    if not isinstance(data, dict):
        raise Malformed(f"unexpected JSON value of type {type(data).__name__}")
    if "__ndarray__" in data:
        return _decode_array(data)
    if "__seq__" in data:
        items = data.get("items")
        if not isinstance(items, list):
            raise Malformed("sequence without items")
        values = [decode(v, depth + 1) for v in items]
        return tuple(values) if data["__seq__"] == "tuple" else values
    if "__dict__" in data:
        inner = data["__dict__"]
        if not isinstance(inner, dict):
            raise Malformed("dict without entries")
        return {str(k): decode(v, depth + 1) for k, v in inner.items()}
    if "__float__" in data:
        return float(data["__float__"])
    if "__exception__" in data:
        exc = data["__exception__"]
        if not isinstance(exc, dict):
            raise Malformed("exception without details")
        return StudentException(
            type=str(exc.get("type", "")),
            bases=tuple(str(n) for n in exc.get("mro", []) if isinstance(n, str)),
            message=str(exc.get("message", "")),
        )
    if "__unsupported__" in data:
        return Unsupported(str(data["__unsupported__"]))
    raise Malformed("unknown value encoding")


def _decode_array(data: dict) -> np.ndarray:
    try:
        raw = base64.b64decode(data["__ndarray__"], validate=True)
        array = np.lib.format.read_array(io.BytesIO(raw), allow_pickle=False)
    except Exception as exc:  # any decoding problem is the kernel's fault, not ours
        raise Malformed(f"undecodable array ({type(exc).__name__})") from None
    if array.dtype.hasobject:
        raise Malformed("object array")
    return TaggedArray.wrap(array, str(data.get("origin", "numpy")))


class TaggedArray(np.ndarray):
    """A numpy array that remembers whether the student returned a torch tensor."""

    origin: str = "numpy"

    @classmethod
    def wrap(cls, array: np.ndarray, origin: str) -> TaggedArray:
        out = np.asarray(array).view(cls)
        out.origin = origin
        return out

    def __array_finalize__(self, obj: Any) -> None:
        self.origin = getattr(obj, "origin", "numpy")
