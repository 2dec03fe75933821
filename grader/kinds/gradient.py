"""`kind = "gradient"`: a forward output and its gradients, checked against torch autograd.

For a layer written from scratch (a convolution's `backward`, a pooling layer's, batch
norm's), the question is whether the student's gradients are the true ones. The kernel's
fetch (`call` or `probe`) returns a list `[out, g_1, ..., g_k]`: the forward output, then the
gradients of `sum(out * upstream)` with respect to the reference's arguments listed in `wrt`,
in that order. Whether those came from a hand-written backward or from autograd through the
student's forward is the probe's business; either way the grader does not trust them.

The expected values are computed here: the reference function (differentiable torch code,
trusted) runs on float64 copies of the grader's own inputs, and `torch.autograd.grad` gives
the gradients for the same upstream gradient (`args[upstream]`, or ones: the gradient of
`out.sum()`). Every entry is compared in turn (shape, then `allclose` within `rtol`/`atol`),
and the message names the first entry that differs (`names` labels them: out, dx, dW, ...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field, model_validator

from ..compare import CheckFailed, compare, ensure_plain
from ..inputs import substitute
from .base import CheckKind, CheckSpec, Identifier, JudgeContext, ModuleNames, first_diagnosis, reference_problems
from .property import refuse_nonfinite
from .value import Diagnosis

if TYPE_CHECKING:
    from ..planning import PlannedCase


class GradientCheck(CheckSpec):
    kind: Literal["gradient"]
    reference: Identifier = Field(description="reference function, differentiable with torch (run in float64)")
    wrt: list[int] = Field(min_length=1, description="indices of the reference's arguments to differentiate")
    upstream: int | None = Field(
        None, ge=0, description="index into `args` of the upstream gradient (not passed to the reference)"
    )
    names: list[str] = Field(default_factory=list, description="how messages call out and each gradient")
    rtol: float = Field(1e-5, ge=0)
    atol: float = Field(1e-6, ge=0)
    diagnoses: list[Diagnosis] = Field(
        default_factory=list,
        description="known wrong backward passes: a differentiable reference function whose output and "
        "gradients the wrong answer has (e.g. max pooling that sends ties to the last maximum); never shown "
        "for hidden checks",
    )

    @model_validator(mode="after")
    def _consistent(self) -> GradientCheck:
        if self.name:
            raise ValueError("a gradient check calls something: give `call` or `probe`, not `name`")
        if any(i < 0 for i in self.wrt) or len(set(self.wrt)) != len(self.wrt):
            raise ValueError("`wrt` lists distinct argument indices (0 is the first argument)")
        if self.names and len(self.names) != 1 + len(self.wrt):
            raise ValueError(
                f"`names` labels the output and each of the {len(self.wrt)} gradients: give {1 + len(self.wrt)}"
            )
        for case in self.all_cases:
            count = len(case.args)
            if self.upstream is not None and self.upstream >= count:
                raise ValueError(f"`upstream` = {self.upstream}, but a case has only {count} args")
            given = case.reference_args if case.reference_args is not None else case.args
            usable = len(given) - (1 if case.reference_args is None and self.upstream is not None else 0)
            if any(i >= usable for i in self.wrt):
                raise ValueError(f"`wrt` names argument {max(self.wrt)}, but the reference gets only {usable}")
        return self

    def labels(self) -> list[str]:
        return self.names or ["out", *(f"d{i}" for i in self.wrt)]


def expected(check: GradientCheck, reference: Any, args: list[Any], reference_args: list[Any] | None) -> list[Any]:
    """[out, gradients...] of the reference on float64 copies of the grader's inputs."""
    import torch

    def tensor(value: Any, grad: bool) -> Any:
        if isinstance(value, np.ndarray) and value.dtype.kind in "fiub":
            t = torch.from_numpy(np.array(value, dtype=np.float64))
            return t.requires_grad_(grad)
        if grad:
            raise CheckFailed(f"the rubric differentiates a {type(value).__name__}: `wrt` must name arrays")
        return value

    # without reference_args the reference gets the student's arguments minus the upstream gradient
    given = [a for i, a in enumerate(args) if i != check.upstream] if reference_args is None else list(reference_args)
    inputs = [tensor(a, i in check.wrt) for i, a in enumerate(given)]
    out = reference(*inputs)
    upstream = (
        torch.ones_like(out)
        if check.upstream is None
        else torch.from_numpy(np.array(args[check.upstream], dtype=np.float64))
    )
    grads = torch.autograd.grad(out, [inputs[i] for i in check.wrt], upstream, allow_unused=True)
    entries = [out, *(torch.zeros_like(inputs[i]) if g is None else g for i, g in zip(check.wrt, grads, strict=True))]
    return [e.detach().numpy() for e in entries]


class GradientKind(CheckKind):
    name = "gradient"
    spec = GradientCheck

    def validate(self, check: Any, modules: ModuleNames) -> list[str]:
        return super().validate(check, modules) + reference_problems(modules, check, check.reference)

    def judge(self, check: Any, case: PlannedCase, value: Any, ctx: JudgeContext) -> None:
        from ..planning import cached, has_cached

        ensure_plain(value, ctx.what)
        labels = check.labels()
        if not isinstance(value, (list, tuple)) or len(value) != len(labels):
            raise CheckFailed(
                f"{ctx.what} should give {len(labels)} tensors ({', '.join(labels)}), "
                f"got {len(value) if isinstance(value, (list, tuple)) else type(value).__name__}"
            )
        refuse_nonfinite(list(value), ctx.what)
        if not has_cached(case):
            case.cached_expected = self._expected(check, case, ctx, check.reference)
        try:
            self._compare(check, labels, value, cached(case), ctx.what)
        except CheckFailed as failure:
            message = first_diagnosis(
                check.diagnoses,
                lambda function: self._compare(
                    check, labels, value, self._expected(check, case, ctx, function), ctx.what
                ),
            )
            if message is None:
                raise
            raise CheckFailed(f"{failure}\n{message}") from None

    @staticmethod
    def _expected(check: Any, case: PlannedCase, ctx: JudgeContext, function: str) -> list[Any]:
        return expected(
            check,
            getattr(ctx.reference, function),
            substitute(case.args, ctx.students),
            None if case.reference_args is case.args else substitute(case.reference_args, ctx.students),
        )

    @staticmethod
    def _compare(check: Any, labels: list[str], value: Any, want: list[Any], what: str) -> None:
        for label, got, entry in zip(labels, value, want, strict=True):
            compare(got, entry, mode="allclose", rtol=check.rtol, atol=check.atol, what=f"{what}: {label}")


KIND = GradientKind()
