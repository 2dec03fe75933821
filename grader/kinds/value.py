"""`kind = "value"` (the default): compare the answer with the reference's, or with a literal.

The expected value of each case is `reference(*args)` computed in the grader (a `call`
check defaults to the reference function of the same name), or the case's literal
`expected`. Comparison reports the shape that differs or the first differing element with
both values and the tolerance; nan and inf never match unless `allow_nonfinite = true`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, PrivateAttr, model_validator

from ..compare import CheckFailed, compare, ensure_plain
from .base import (
    CheckKind,
    CheckSpec,
    Identifier,
    JudgeContext,
    ModuleNames,
    Strict,
    first_diagnosis,
    reference_problems,
)


class Diagnosis(Strict):
    """A known wrong answer: when the student's value matches it, the message names the mistake."""

    reference: Identifier = Field(
        description="reference-module function computing this wrong answer from the check's own inputs"
    )
    message: str = Field(
        min_length=1, description="one or two sentences naming the misconception, shown under the failure"
    )


class ValueCheck(CheckSpec):
    kind: Literal["value"] = "value"
    reference: Identifier | None = Field(None, description="reference function computing the expected value")
    compare: Literal["allclose", "equal"] = "allclose"
    rtol: float = Field(1e-5, ge=0)
    atol: float = Field(1e-6, ge=0)
    allow_nonfinite: bool = Field(
        False,
        description="let nan match nan and inf match inf of the same sign, at the same positions "
        "(otherwise a nan or inf never matches)",
    )

    singleton_dims: Literal["exact", "ignore"] = Field(
        "exact",
        description="'ignore': an answer whose shape differs from the expected one only by dimensions "
        "of size 1 (a (1, 1, L) tensor for (L,)) is compared without them, and its result says so",
    )
    diagnoses: list[Diagnosis] = Field(
        default_factory=list,
        description="known wrong answers, tried in order when the value is wrong (never shown for hidden checks)",
    )

    _reference: str | None = PrivateAttr(None)

    @model_validator(mode="after")
    def _expected_from_somewhere(self) -> ValueCheck:
        self._reference = self.reference or self.call
        if self._reference is None and not all(c.has_expected for c in self.all_cases):
            raise ValueError("a value check on a name or probe needs `expected` or `reference`")
        return self

    @property
    def reference_function(self) -> str | None:
        """The reference function the expected values come from (None: literals only)."""
        return None if all(c.has_expected for c in self.all_cases) else self._reference


class ValueKind(CheckKind):
    name = "value"
    spec = ValueCheck
    uses_expected = True

    def validate(self, check: Any, modules: ModuleNames) -> list[str]:
        return super().validate(check, modules) + reference_problems(modules, check, check.reference_function)

    def judge(self, check: Any, case: Any, value: Any, ctx: JudgeContext) -> None:
        ensure_plain(value, ctx.what)
        assert ctx.expected is not None
        expected = ctx.expected(case)
        if check.singleton_dims == "ignore":
            value, expected = _without_singletons(value, expected, ctx)
        try:
            self._compare(check, value, expected, ctx.what)
        except CheckFailed as failure:
            diagnosis = self._diagnose(check, case, value, ctx)
            if diagnosis is None:
                raise
            raise CheckFailed(f"{failure}\n{diagnosis}") from None

    @staticmethod
    def _compare(check: Any, value: Any, expected: Any, what: str) -> None:
        compare(
            value,
            expected,
            mode=check.compare,
            rtol=check.rtol,
            atol=check.atol,
            what=what,
            allow_nonfinite=check.allow_nonfinite,
        )

    def _diagnose(self, check: Any, case: Any, value: Any, ctx: JudgeContext) -> str | None:
        """The message of the first known wrong answer `value` matches (same tolerance), if any.
        A wrong answer the reference cannot compute for these inputs is simply not a match."""
        reference_value = ctx.reference_value
        if reference_value is None:
            return None
        return first_diagnosis(
            check.diagnoses, lambda function: self._compare(check, value, reference_value(case, function), ctx.what)
        )


KIND = ValueKind()


def _without_singletons(value: Any, expected: Any, ctx: JudgeContext) -> tuple[Any, Any]:
    """Both with their size-1 dimensions dropped, when that is all that tells their shapes apart
    (noted for the student); otherwise both unchanged, and the comparison reports the shape."""
    import numpy as np

    got, want = getattr(value, "shape", None), getattr(expected, "shape", None)
    if got is None or want is None or tuple(got) == tuple(want):
        return value, expected
    squeezed = [d for d in got if d != 1], [d for d in want if d != 1]
    if squeezed[0] != squeezed[1]:
        return value, expected
    ctx.notes.append(f"{ctx.what}: shape {tuple(got)} accepted as {tuple(want)} (dimensions of size 1 ignored)")
    return np.asarray(value).reshape(tuple(want)), expected
