"""`kind = "property"`: a function of the rubric's checks module judges the value.

For answers that are right in more than one way (any diagonal image, any second-derivative
stencil): `property = "fn"` names `fn(value, ctx)` in the checks module, which raises
`CheckFailed(message)` (from `grader.content`). `ctx` is a `PropertyContext`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Literal

import numpy as np
from pydantic import Field

from ..compare import ensure_plain
from ..inputs import substitute
from .base import CheckKind, CheckSpec, Identifier, JudgeContext, ModuleNames


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
    options: dict[str, Any] = Field(default_factory=dict, description="handed to the function as ctx.options")


class PropertyKind(CheckKind):
    name = "property"
    spec = PropertyCheck

    def validate(self, check: Any, modules: ModuleNames) -> list[str]:
        problems = super().validate(check, modules)
        if modules.checks is None:
            problems.append("property checks need `checks` (a module in rubrics/) in [assignment]")
        elif "checks" not in modules.unreadable and check.property not in modules.checks:
            problems.append(f"property {check.property!r} is not defined in the checks module")
        return problems

    def judge(self, check: Any, case: Any, value: Any, ctx: JudgeContext) -> None:
        ensure_plain(value, ctx.what)
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


KIND = PropertyKind()
