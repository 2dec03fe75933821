"""`kind = "property"`: a function of the rubric's checks module judges the value.

For answers that are right in more than one way (any diagonal image, any second-derivative
stencil): `property = "fn"` names `fn(value, ctx)` in the checks module, which raises
`CheckFailed(message)` (from `grader.content`). `ctx` is a `PropertyContext`.

Non-finite values are refused before the function runs, like `compare` refuses them: a nan
or an inf anywhere in the value, or in a student value the check's inputs name
(`{ student = "X_diag" }`), fails the check with a message naming the first one. A property
function tests a few facts about a value; with nan every comparison is false and every sum
is nan, so "the sum is not 0" or "the loss did not go up" would hold of nothing at all.
A check whose answers may legitimately hold nan or inf sets `allow_nonfinite = true` in its
`options`.
"""

from __future__ import annotations

import cmath
import math
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Literal

import numpy as np
from pydantic import Field

from ..compare import CheckFailed, ensure_plain
from ..inputs import substitute
from .base import CheckKind, CheckSpec, Identifier, JudgeContext, ModuleNames, property_problems

ALLOW_NONFINITE = "allow_nonfinite"  # the options key that lets nan and inf through


@dataclass
class PropertyContext:
    """What a property function gets besides the value (part of the content API)."""

    args: list[Any]  # the case's inputs, student values substituted
    reference: ModuleType  # the assignment's reference module
    rng: np.random.Generator  # seeded per (rubric, check, case): reproducible extra inputs
    options: dict[str, Any]  # the check's `options` table
    what: str  # how to name the checked thing in a message
    students: dict[str, Any] = field(default_factory=dict)  # values named by { student = ... } inputs


class PropertyCheck(CheckSpec):
    kind: Literal["property"]
    property: Identifier = Field(description="function of the rubric's checks module: fn(value, ctx)")
    # `allow_nonfinite = true` in options lets nan and inf reach the function (see the module docstring)
    options: dict[str, Any] = Field(default_factory=dict, description="handed to the function as ctx.options")


class PropertyKind(CheckKind):
    name = "property"
    spec = PropertyCheck

    def validate(self, check: Any, modules: ModuleNames) -> list[str]:
        problems = super().validate(check, modules) + property_problems(modules, check.property, "property checks need")
        if ALLOW_NONFINITE in check.options and not isinstance(check.options[ALLOW_NONFINITE], bool):
            problems.append(f"options.{ALLOW_NONFINITE} must be true or false")
        return problems

    def judge(self, check: Any, case: Any, value: Any, ctx: JudgeContext) -> None:
        ensure_plain(value, ctx.what)
        if check.options.get(ALLOW_NONFINITE) is not True:
            refuse_nonfinite(value, ctx.what)
            for name, student in ctx.students.items():
                refuse_nonfinite(student, name)
        function = getattr(ctx.checks_module, check.property)
        function(
            value,
            PropertyContext(
                args=substitute(case.args, ctx.students),
                reference=ctx.reference,
                rng=ctx.rng,
                options=dict(check.options),
                what=ctx.what,
                students=ctx.students,
            ),
        )


def refuse_nonfinite(value: Any, what: str) -> None:
    """Raise CheckFailed naming the first nan or inf in `value` (arrays, numbers, and lists,
    tuples and dicts of them, as decoded from the kernel), if there is one."""
    found = first_nonfinite(value)
    if found is not None:
        where, shown = found
        at = f" at {where}" if where else ""
        raise CheckFailed(f"{what} holds a non-finite value ({shown}{at}); nan and inf never pass a check")


def first_nonfinite(value: Any, path: str = "") -> tuple[str, str] | None:
    """(where, the value as text) of the first non-finite number in `value`, or None.

    Depth is bounded by what the codec decodes (the harness's MAX_DEPTH), so recursing is safe.
    """
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "fc" or value.size == 0:
            return None
        bad = ~np.isfinite(value)
        if not bad.any():
            return None
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        return path + "[" + ", ".join(str(i) for i in index) + "]", _text(value[index].item())
    if isinstance(value, (float, np.floating)):
        return None if math.isfinite(value) else (path, _text(float(value)))
    if isinstance(value, (complex, np.complexfloating)):
        return None if cmath.isfinite(value) else (path, _text(complex(value)))
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            found = first_nonfinite(item, f"{path}[{i}]")
            if found is not None:
                return found
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            found = first_nonfinite(item, f"{path}[{key!r}]")
            if found is not None:
                return found
    return None


def _text(number: float | complex) -> str:
    return repr(number) if isinstance(number, complex) else str(number)


KIND = PropertyKind()
