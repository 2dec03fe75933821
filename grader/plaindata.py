"""Grader-side codec for the plain data that crosses the kernel boundary.

Inputs go to the kernel as JSON with arrays as base64 `.npy`; results come back the same
way. Decoding never unpickles, never evaluates anything and never trusts a size it was
told: an array's header must describe exactly the bytes that follow, nesting, lengths and
sizes are bounded by the harness's own limits, so a hostile kernel can at worst send
malformed data, which becomes a `Malformed` value and a failed check.

The encodings (the harness, `grader/harness.py`, writes them; `decode` reads them):

    None, bool, int, str, finite float     JSON as is
    nan, inf, -inf                         {"__float__": "nan" | "inf" | "-inf"}
    complex                                {"__complex__": [real, imag]}, each part a float as above
    list / tuple                           {"__seq__": "list" | "tuple", "items": [...]}
    dict (str keys)                        {"__dict__": {...}}
    tensor / array                         {"__ndarray__": base64 .npy, "origin": "torch" | "numpy",
                                            "dtype": the student's own dtype name}
    exception object                       {"__exception__": {"type", "mro", "message"}}
    anything else                          {"__unsupported__": what it was}

Arrays are bool, (u)int8-64, float16/32/64 or complex64/128, in native byte order. A torch
dtype numpy lacks is widened exactly in the kernel: bfloat16 and float8 arrive as float32,
complex32 as complex64, and `TaggedArray.source_dtype` keeps the tensor's own dtype name.
Numpy scalars arrive as the Python scalar of the same value.
"""

from __future__ import annotations

import base64
import functools
import io
import math
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from .harness import ARRAY_DTYPES, MAX_ARRAY_BYTES, MAX_DEPTH, MAX_ITEMS, MAX_STRING_CHARS

_DTYPES = frozenset(np.dtype(name) for name in ARRAY_DTYPES)
_NONFINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
# the .npy header (numpy caps it at 10,000 bytes by default) and base64's 4/3
_MAX_ARRAY_TEXT = 4 * ((MAX_ARRAY_BYTES + 10_000) // 3 + 1)


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


@dataclass(frozen=True)
class StudentRef:
    """An argument that names a value in the student's namespace (e.g. their X_diag)."""

    name: str


# ----------------------------------------------------------------------------- to the kernel
def encode(value: Any) -> Any:
    """Encode grader-made inputs: numpy arrays become torch tensors in the kernel, tuples
    stay tuples, and `StudentRef`s name the student's values."""
    if isinstance(value, StudentRef):
        return {"__student__": value.name}
    if isinstance(value, np.ndarray):
        dtype = value.dtype.newbyteorder("=")
        if dtype not in _DTYPES:
            raise TypeError(f"cannot send an array of dtype {value.dtype} to the kernel")
        return {"__ndarray__": _npy_text(value.astype(dtype, copy=False)), "origin": "torch"}
    if isinstance(value, tuple):
        return {"__seq__": "tuple", "items": [encode(v) for v in value]}
    if isinstance(value, list):
        return {"__seq__": "list", "items": [encode(v) for v in value]}
    if isinstance(value, dict):
        return {"__dict__": {str(k): encode(v) for k, v in value.items()}}
    if isinstance(value, np.generic):
        return encode(value.item())
    if isinstance(value, float):
        return _float_json(value)
    if isinstance(value, complex):
        return {"__complex__": [_float_json(value.real), _float_json(value.imag)]}
    if value is None or isinstance(value, (bool, int, str)):
        return value
    raise TypeError(f"cannot send a {type(value).__name__} to the kernel")


def _float_json(x: float) -> Any:
    if math.isfinite(x):
        return float(x)
    return {"__float__": "nan" if x != x else ("inf" if x > 0 else "-inf")}


def _npy_text(array: np.ndarray) -> str:
    buf = io.BytesIO()
    # np.asarray(order="C") keeps a 0-d array 0-d (np.ascontiguousarray would make it 1-d)
    np.lib.format.write_array(buf, np.asarray(array, order="C"), allow_pickle=False)
    return base64.b64encode(buf.getvalue()).decode("ascii")


# ----------------------------------------------------------------------------- from the kernel
def decode(data: Any, depth: int = 0) -> Any:
    """Decode a value sent by the kernel; raise Malformed on anything off-schema.

    Nesting is bounded by the harness's MAX_DEPTH (one level more holds its "nested too
    deeply" marker), so decoding never recurses deeper than that, and every length is
    bounded by the harness's own caps.
    """
    if depth > MAX_DEPTH + 1:
        raise Malformed("value nested too deeply")
    if data is None or isinstance(data, (bool, int, float)):
        return data
    if isinstance(data, str):
        return _text(data, "a string")
    if isinstance(data, list):  # plain JSON lists only appear in hand-made data
        return [decode(v, depth + 1) for v in _items(data)]
    if not isinstance(data, dict):
        raise Malformed(f"unexpected JSON value of type {type(data).__name__}")
    if "__ndarray__" in data:
        return _decode_array(data)
    if "__seq__" in data:
        items = data.get("items")
        if data["__seq__"] not in ("list", "tuple") or not isinstance(items, list):
            raise Malformed("sequence without items")
        values = [decode(v, depth + 1) for v in _items(items)]
        return tuple(values) if data["__seq__"] == "tuple" else values
    if "__dict__" in data:
        inner = data["__dict__"]
        if not isinstance(inner, dict):
            raise Malformed("dict without entries")
        _items(inner)
        return {_text(k, "a key"): decode(v, depth + 1) for k, v in inner.items()}
    if "__float__" in data:
        return _nonfinite(data["__float__"])
    if "__complex__" in data:
        parts = data["__complex__"]
        if not isinstance(parts, list) or len(parts) != 2:
            raise Malformed("complex number without two parts")
        return complex(*(_float_part(p) for p in parts))
    if "__exception__" in data:
        exc = data["__exception__"]
        if not isinstance(exc, dict):
            raise Malformed("exception without details")
        mro = exc.get("mro", [])
        if not isinstance(mro, list):
            raise Malformed("exception with a malformed class list")
        return StudentException(
            type=_text(exc.get("type", ""), "an exception type"),
            bases=tuple(_text(n, "an exception class") for n in _items(mro)),
            message=_text(exc.get("message", ""), "an exception message"),
        )
    if "__unsupported__" in data:
        return Unsupported(_text(data["__unsupported__"], "a description"))
    raise Malformed("unknown value encoding")


def _items(container: list | dict) -> list | dict:
    if len(container) > MAX_ITEMS:
        raise Malformed(f"more than {MAX_ITEMS} items")
    return container


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise Malformed(f"{what} that is not a string")
    if len(value) > MAX_STRING_CHARS:
        raise Malformed(f"{what} longer than {MAX_STRING_CHARS} characters")
    return value


def _nonfinite(name: Any) -> float:
    if not isinstance(name, str) or name not in _NONFINITE:
        raise Malformed("a float that is not nan, inf or -inf")
    return _NONFINITE[name]


def _float_part(part: Any) -> float:
    if isinstance(part, dict) and set(part) == {"__float__"}:
        return _nonfinite(part["__float__"])
    if isinstance(part, (int, float)) and not isinstance(part, bool):
        try:
            value = float(part)
        except OverflowError:
            raise Malformed("a complex part too large for a float") from None
        if math.isfinite(value):
            return value
    raise Malformed("a complex part that is not a float")


def _decode_array(data: dict) -> TaggedArray:
    text = data["__ndarray__"]
    origin = data.get("origin", "numpy")
    source = data.get("dtype")
    if not isinstance(text, str) or len(text) > _MAX_ARRAY_TEXT:
        raise Malformed("array data that is not a string of at most the size allowed")
    if origin not in ("torch", "numpy"):
        raise Malformed("array of unknown origin")
    if source is not None and (not isinstance(source, str) or len(source) > 40):
        raise Malformed("array with a malformed dtype name")
    try:
        raw = base64.b64decode(text, validate=True)
        array = _read_npy(raw)
    except Malformed:
        raise
    except Exception as exc:  # any decoding problem is the kernel's fault, not ours
        raise Malformed(f"undecodable array ({type(exc).__name__})") from None
    return TaggedArray.wrap(array, origin, source or str(array.dtype))


def _read_npy(raw: bytes) -> np.ndarray:
    """Parse `.npy` bytes, checking the header against the data before allocating anything
    (np.lib.format.read_array would allocate whatever shape the header claims)."""
    offset = _header_end(raw)
    head = raw[:offset]
    shape, fortran, dtype = _parsed_header(head) if offset <= _CACHED_HEADER else _parse_header(head)
    count = math.prod(shape)
    if count * dtype.itemsize != len(raw) - offset:
        raise Malformed("array whose data does not match its header")
    flat = np.frombuffer(raw, dtype=dtype, count=count, offset=offset)
    array = flat.reshape(shape, order="F" if fortran else "C")
    return np.array(array, dtype=dtype.newbyteorder("="), order="C")  # a writable native copy


_MAGIC = b"\x93NUMPY"
_CACHED_HEADER = 512  # bytes: numpy pads a header to 64; a real one is 128 unless the shape is very long


def _header_end(raw: bytes) -> int:
    """Where the header of `.npy` bytes ends (its length is in the preamble)."""
    if raw[:6] != _MAGIC or len(raw) < 12:
        raise Malformed("array data that is not .npy")
    version = (raw[6], raw[7])
    if version == (1, 0):
        return 10 + struct.unpack_from("<H", raw, 8)[0]
    if version == (2, 0):
        return 12 + struct.unpack_from("<I", raw, 8)[0]
    raise Malformed(f"unsupported .npy version {version}")


@functools.lru_cache(maxsize=256)
def _parsed_header(head: bytes) -> tuple[tuple[int, ...], bool, np.dtype]:
    """`_parse_header`, remembered: a class's kernels send the same few headers again and
    again, and numpy parses each with ast.literal_eval (~70 us, a third of judging's decoding).
    The key is the whole header, preamble included, so equal keys parse equally; a header
    that is refused raises, and nothing is remembered for it."""
    return _parse_header(head)


def _parse_header(head: bytes) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, Fortran order, dtype) of a `.npy` header (preamble included), read by numpy and
    checked: a dtype the harness can send, a shape of non-negative ints, nothing after it."""
    stream = io.BytesIO(head)
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
    else:
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
    if stream.tell() != len(head):
        raise Malformed("array whose header is cut short")
    if dtype not in _DTYPES and dtype.newbyteorder("=") not in _DTYPES:
        raise Malformed(f"array of dtype {dtype}")
    if not all(isinstance(n, int) and n >= 0 for n in shape):
        raise Malformed("array with a malformed shape")
    return tuple(shape), bool(fortran), dtype


class TaggedArray(np.ndarray):
    """A numpy array that remembers whether the student returned a torch tensor (`origin`)
    and the dtype they returned (`source_dtype`, e.g. "bfloat16" for an array of float32)."""

    origin: str = "numpy"
    source_dtype: str = ""

    @classmethod
    def wrap(cls, array: np.ndarray, origin: str, source_dtype: str = "") -> TaggedArray:
        out = np.asarray(array).view(cls)
        out.origin = origin
        out.source_dtype = source_dtype or str(out.dtype)
        return out

    def __array_finalize__(self, obj: Any) -> None:
        self.origin = getattr(obj, "origin", "numpy")
        self.source_dtype = getattr(obj, "source_dtype", "")
