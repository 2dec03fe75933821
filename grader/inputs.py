"""Check inputs: the tables a rubric writes (`{ randn = [6, 8] }`), validated once, made reproducibly.

One declarative catalogue (`GENERATORS`) drives three things, so they cannot disagree:
validation when a rubric is loaded (every mistake is found then, never while grading a
student), the JSON Schema instructors' editors complete from, and `materialize`, which
turns a validated spec into a value.

Every check draws its random inputs from a generator seeded by (rubric seed, check id,
case number), so inputs are the same on every run and adding a check never changes the
inputs of another. A hidden check's generator also takes the submission's hash (`salt`):
its random inputs are that notebook's own, so one student's leaked inputs are worth nothing
to another, and regrading the same notebook still draws the same ones. Inputs a rubric
writes out as fixed values are the rubric's, the same for everyone: they are secret only
where the rubric is.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from .plaindata import StudentRef

DTYPES: dict[str, Any] = {
    "float32": np.float32,
    "float64": np.float64,
    "int64": np.int64,
    "int32": np.int32,
    "bool": np.bool_,
}
FLOAT_DTYPES = ("float32", "float64")


class InputError(ValueError):
    """An input table is malformed; str() says what to write instead."""


@dataclass(frozen=True)
class GeneratorKind:
    """One kind of input table: its argument and the modifiers it accepts."""

    argument: str  # "shape", "numbers", "int", "randint", "name", "inputs"
    help: str
    modifiers: tuple[str, ...] = ()
    dtypes: tuple[str, ...] = tuple(DTYPES)


GENERATORS: dict[str, GeneratorKind] = {
    "tensor": GeneratorKind("numbers", "a tensor with these (nested) values", ("dtype", "shape")),
    "array": GeneratorKind("numbers", "the same as tensor", ("dtype", "shape")),
    "randn": GeneratorKind("shape", "standard normal values of this shape", ("dtype", "shape", "scale"), FLOAT_DTYPES),
    "rand": GeneratorKind("shape", "uniform values in [0, 1) of this shape", ("dtype", "shape", "scale"), FLOAT_DTYPES),
    "randint": GeneratorKind("randint", "[low, high, [shape]]: integers in [low, high)", ("dtype", "shape")),
    "arange": GeneratorKind("int", "0, 1, ..., n - 1", ("dtype", "shape")),
    "ones": GeneratorKind("shape", "ones of this shape", ("dtype", "shape")),
    "zeros": GeneratorKind("shape", "zeros of this shape", ("dtype", "shape")),
    "student": GeneratorKind("name", "the student's own value of this name", ()),
    "tuple": GeneratorKind("inputs", "a tuple of inputs", ()),
    "list": GeneratorKind("inputs", "a list of inputs", ()),
}


@dataclass(frozen=True)
class Generated:
    """A validated input table (other than student/tuple/list)."""

    generator: str
    argument: Any
    dtype: str = "float32"
    shape: tuple[int, ...] | None = None
    scale: float = 1.0

    @property
    def result_shape(self) -> tuple[int, ...]:
        """The shape of the array this table makes (it was validated when parsed)."""
        if self.shape is not None:
            return self.shape
        kind = GENERATORS[self.generator].argument
        if kind == "shape":
            return tuple(self.argument)
        if kind == "randint":
            return tuple(self.argument[2])
        if kind == "int":
            return (int(self.argument),)
        return tuple(np.shape(self.argument))  # numbers


@dataclass(frozen=True)
class Sequence:
    """A validated `{ tuple = [...] }` or `{ list = [...] }`."""

    kind: str  # "tuple" or "list"
    items: tuple[Any, ...]


def parse_spec(value: Any) -> Any:
    """Validate one input as a rubric writes it; return its spec (raises InputError)."""
    if isinstance(value, bool | int | float | str):
        if isinstance(value, float) and not math.isfinite(value):
            return value  # TOML's inf / nan are legitimate inputs
        return value
    if isinstance(value, list):
        return [_nested(parse_spec, v, f"[{i + 1}]") for i, v in enumerate(value)]  # 1-based, as in messages
    if not isinstance(value, dict):
        raise InputError(f"{type(value).__name__} is not an input")
    present = [k for k in value if k in GENERATORS]
    if len(present) != 1:
        raise InputError(
            "an input table needs exactly one of "
            + ", ".join(GENERATORS)
            + (f" (it has {', '.join(present)})" if present else "")
        )
    name = present[0]
    kind = GENERATORS[name]
    unknown = sorted(set(value) - {name} - set(kind.modifiers))
    if unknown:
        allowed = ", ".join(kind.modifiers) or "nothing else"
        raise InputError(f"unknown key(s) {', '.join(unknown)} in a {name} table (it takes {allowed})")
    argument = value[name]
    if name == "student":
        if not isinstance(argument, str) or not argument.isidentifier():
            raise InputError('student takes the name of a value in the notebook, e.g. { student = "X_diag" }')
        return StudentRef(argument)
    if name in ("tuple", "list"):
        if not isinstance(argument, list):
            raise InputError(f"{name} takes a list of inputs")
        return Sequence(name, tuple(_nested(parse_spec, v, f"{name}[{i + 1}]") for i, v in enumerate(argument)))
    dtype = value.get("dtype", "float32")
    if dtype not in kind.dtypes:
        raise InputError(f"{name}: dtype must be one of {', '.join(kind.dtypes)}, not {dtype!r}")
    scale = value.get("scale", 1.0)
    if isinstance(scale, bool) or not isinstance(scale, int | float) or not math.isfinite(scale):
        raise InputError(f"{name}: scale must be a finite number")
    size = _argument_size(name, kind, argument)
    shape = None
    if "shape" in value:
        shape = _shape(value["shape"], f"{name}: shape")
        if math.prod(shape) != size:
            raise InputError(f"{name}: cannot reshape {size} values to shape {list(shape)}")
    if name in ("randn", "rand", "ones", "zeros"):
        argument = _shape(argument, name)
    elif name == "randint":
        argument = (int(argument[0]), int(argument[1]), _shape(argument[2], "randint shape"))
    return Generated(name, argument, dtype, shape, float(scale))


def _nested(parse: Any, value: Any, where: str) -> Any:
    try:
        return parse(value)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None


def _shape(value: Any, what: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in value):
        raise InputError(f"{what} takes a shape: a list of sizes >= 0, e.g. [6, 8]")
    return tuple(value)


def _argument_size(name: str, kind: GeneratorKind, argument: Any) -> int:
    """Check the generator's own argument; return how many values it makes."""
    if kind.argument == "shape":
        return math.prod(_shape(argument, name))
    if kind.argument == "int":
        if not isinstance(argument, int) or isinstance(argument, bool) or argument < 0:
            raise InputError(f"{name} takes a count >= 0, e.g. {{ arange = 9 }}")
        return argument
    if kind.argument == "randint":
        if (
            not isinstance(argument, list)
            or len(argument) != 3
            or not all(isinstance(n, int) and not isinstance(n, bool) for n in argument[:2])
        ):
            raise InputError("randint takes [low, high, [shape]], e.g. { randint = [0, 10, [3, 4]] }")
        if argument[0] >= argument[1]:
            raise InputError(f"randint: low ({argument[0]}) must be below high ({argument[1]})")
        return math.prod(_shape(argument[2], "randint shape"))
    # numbers: a (nested) list of numbers with a regular shape
    try:
        array = np.array(argument, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{name} takes a (nested) list of numbers with a regular shape") from None
    if array.dtype.hasobject or not isinstance(argument, list | int | float):
        raise InputError(f"{name} takes a (nested) list of numbers")
    return int(array.size)


# ----------------------------------------------------------------------------- values
def rng_for(seed: int, check_id: str, case: int, salt: str = "") -> np.random.Generator:
    """The generator of one case's random inputs; `salt` (a submission's hash) makes a hidden
    check's inputs that submission's own."""
    entropy = [seed, zlib.crc32(check_id.encode()), case]
    if salt:
        entropy.append(int(salt[:16], 16) if _is_hex(salt[:16]) else zlib.crc32(salt.encode()))
    return np.random.default_rng(entropy)


def _is_hex(text: str) -> bool:
    try:
        int(text, 16)
    except ValueError:
        return False
    return True


def kernel_seed(seed: int, check_id: str) -> int:
    """The seed the kernel uses before calling the student's code for this check."""
    return (seed * 1_000_003 + zlib.crc32(check_id.encode())) % (2**31)


def materialize(spec: Any, rng: np.random.Generator) -> Any:
    """Make one value from a validated spec (see `parse_spec`)."""
    if isinstance(spec, list):
        return [materialize(v, rng) for v in spec]
    if isinstance(spec, Sequence):
        items = [materialize(v, rng) for v in spec.items]
        return tuple(items) if spec.kind == "tuple" else items
    if not isinstance(spec, Generated):
        return spec  # plain values and StudentRef
    dtype = DTYPES[spec.dtype]
    name, arg = spec.generator, spec.argument
    value: np.ndarray
    if name in ("tensor", "array"):
        value = np.array(arg, dtype=dtype)
    elif name == "randn":
        value = rng.standard_normal(arg).astype(dtype) * spec.scale
    elif name == "rand":
        value = rng.random(arg).astype(dtype) * spec.scale
    elif name == "randint":
        low, high, shape = arg
        value = rng.integers(low, high, size=shape).astype(dtype)
    elif name == "arange":
        value = np.arange(arg).astype(dtype)
    elif name == "ones":
        value = np.ones(arg, dtype=dtype)
    else:  # zeros; the catalogue has no other generator
        value = np.zeros(arg, dtype=dtype)
    value = value.astype(dtype, copy=False)  # scale must not promote float32 to float64
    if spec.shape is not None:
        value = value.reshape(spec.shape)
    return value


def student_refs(value: Any) -> list[str]:
    """Names of student values an input refers to."""
    if isinstance(value, StudentRef):
        return [value.name]
    if isinstance(value, list | tuple):
        return [n for v in value for n in student_refs(v)]
    return []


def substitute(value: Any, students: dict[str, Any]) -> Any:
    """Replace StudentRef placeholders with the values fetched from the kernel."""
    if isinstance(value, StudentRef):
        return students[value.name]
    if isinstance(value, tuple):
        return tuple(substitute(v, students) for v in value)
    if isinstance(value, list):
        return [substitute(v, students) for v in value]
    return value


# ----------------------------------------------------------------------------- schema
def json_schema() -> dict[str, Any]:
    """The JSON Schema of one input, generated from the catalogue (for rubric editors)."""
    argument_schemas: dict[str, Any] = {
        "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
        "numbers": {"type": ["array", "number"]},
        "int": {"type": "integer", "minimum": 0},
        "randint": {
            "type": "array",
            "minItems": 3,
            "maxItems": 3,
            "prefixItems": [
                {"type": "integer"},
                {"type": "integer"},
                {"type": "array", "items": {"type": "integer", "minimum": 0}},
            ],
        },
        "name": {"type": "string"},
        "inputs": {"type": "array", "items": {"$ref": "#/$defs/Input"}},
    }
    modifier_schemas: dict[str, Any] = {
        "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}, "description": "reshape to this shape"},
        "scale": {"type": "number", "description": "multiply the values by this"},
    }
    tables = []
    for name, kind in GENERATORS.items():
        properties: dict[str, Any] = {name: {**argument_schemas[kind.argument], "description": kind.help}}
        for modifier in kind.modifiers:
            if modifier == "dtype":
                properties["dtype"] = {"enum": list(kind.dtypes), "default": "float32"}
            else:
                properties[modifier] = modifier_schemas[modifier]
        tables.append({"type": "object", "required": [name], "properties": properties, "additionalProperties": False})
    return {
        "anyOf": [
            {"type": ["boolean", "integer", "number", "string"]},
            {"type": "array", "items": {"$ref": "#/$defs/Input"}},
            *tables,
        ]
    }
