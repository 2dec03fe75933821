"""`kind = "structure"`: a network's parameters, operations, shapes and layers, measured in the grader.

Grading a modern CNN by training it is out of reach (one SGD step of VGG-11 at 224x224 takes
20 s on a 2-core machine); its structure is not. The kernel builds the student's network
(`call`: a factory, called under `torch.device("meta")`, so it allocates nothing; or `name`:
a module the notebook built, copied to the meta device), runs it once on a meta tensor of
shape `input` and describes it as plain data (`grader/network_probe.py`, shipped with the
probes). The grader verifies the description and counts parameters and multiply-
accumulates itself (`grader/structure.py`), then judges it:

* `reference` + `match`: the same measures of the reference network (the reference-module
  function, called with the case's `reference_args`, also on the meta device) must agree:
  "parameters", "macs" (within `rtol`), "output" shape, "layers" (leaf classes in call
  order), "shapes" (each leaf call's output shape), "trainable" (trainable parameters);
* `expect`: literal values of the same measures, and `counts` of layer classes;
* `property`: a function `fn(net, ctx)` of the checks module, `net` a `grader.content.Network`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, model_validator

from ..compare import CheckFailed
from ..structure import Network, describe_network, verify
from .base import (
    CheckKind,
    CheckSpec,
    Identifier,
    JudgeContext,
    ModuleNames,
    Strict,
    first_diagnosis,
    property_problems,
    reference_problems,
)
from .property import PropertyContext
from .value import Diagnosis

if TYPE_CHECKING:
    from ..planning import PlannedCase

_PROBE_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "network_probe.py")
DESCRIBE = "describe_network_probe"  # the probe the kernel runs (grader/network_probe.py)

Measure = Literal["parameters", "macs", "output", "layers", "shapes", "trainable"]


class Expect(Strict):
    parameters: int | None = Field(None, ge=0)
    trainable: int | None = Field(None, ge=0, description="parameters with requires_grad")
    macs: int | None = Field(None, ge=0, description="multiply-accumulates of conv and linear layers")
    output: list[int] | None = Field(None, description="the output's shape")
    counts: dict[str, int] = Field(default_factory=dict, description="calls of leaf layers by class name")


class StructureCheck(CheckSpec):
    kind: Literal["structure"]
    input: list[int] = Field(min_length=1, description="the input shape the network runs on (a meta tensor)")
    reference: Identifier | None = Field(None, description="reference function returning the expected network")
    match: list[Measure] = Field(default_factory=list, description="measures that must equal the reference's")
    expect: Expect | None = None
    property: Identifier | None = Field(None, description="function of the checks module: fn(net, ctx)")
    options: dict[str, Any] = Field(default_factory=dict, description="handed to the property as ctx.options")
    rtol: float = Field(0.0, ge=0, description="relative tolerance for macs")
    reveal: bool = Field(
        True,
        description="messages show the expected figures; false where they are another check's answer "
        "(a count the student is asked to compute)",
    )
    diagnoses: list[Diagnosis] = Field(
        default_factory=list,
        description="known wrong networks: a reference function building one; a network whose `match` "
        "measures are all that one's gets its message (never shown for hidden checks)",
    )

    @model_validator(mode="after")
    def _something_to_judge(self) -> StructureCheck:
        if self.probe:
            raise ValueError("a structure check builds the network from `name` or `call`, not a probe")
        if any(d < 1 for d in self.input):
            raise ValueError("`input` is a shape: positive sizes")
        if self.match and not self.reference:
            raise ValueError("`match` compares with a `reference` network: name the reference function")
        if not (self.match or self.expect or self.property):
            raise ValueError("a structure check needs `match` (with `reference`), `expect` or `property`")
        if self.diagnoses and not self.match:
            raise ValueError("diagnoses compare the `match` measures with a wrong network's: give `match`")
        return self


def _text(measure: str, value: Any) -> str:
    if isinstance(value, int) and measure in ("parameters", "macs", "trainable"):
        return f"{value:,}"
    if isinstance(value, list) and value and all(isinstance(v, int) for v in value):
        return "(" + ", ".join(str(v) for v in value) + ")"
    return str(value)


def _measure(net: Network, measure: str) -> Any:
    if measure == "layers":
        return net.types()
    if measure == "shapes":
        return net.shapes()
    if measure == "trainable":
        return net.trainable_parameters
    return getattr(net, measure)


_NAMES = {
    "layers": "layers",
    "shapes": "layer output shapes",
    "parameters": "parameters",
    "trainable": "trainable parameters",
    "macs": "multiply-accumulates",
    "output": "output shape",
}


def _differs(
    measure: str, got: Any, want: Any, what: str, rtol: float, source: str, reveal: bool = True
) -> CheckFailed | None:
    if measure == "macs" and isinstance(got, int) and isinstance(want, int):
        if abs(got - want) <= rtol * abs(want):
            return None
        if not reveal:
            return CheckFailed(f"{what}: {got:,} multiply-accumulates, which is not {source}")
        tolerance = f" (within {rtol:g} relative)" if rtol else ""
        return CheckFailed(f"{what}: {got:,} multiply-accumulates, expected {want:,}{tolerance} ({source})")
    if got == want:
        return None
    if not reveal:
        if measure in ("layers", "shapes"):
            return CheckFailed(f"{what}: its {_NAMES[measure]} are not {source}")
        return CheckFailed(f"{what}: {_NAMES[measure]} {_text(measure, got)}, which is not {source}")
    if measure in ("layers", "shapes"):
        return _first_difference(measure, got, want, what, source)
    return CheckFailed(f"{what}: {_NAMES[measure]} {_text(measure, got)}, expected {_text(measure, want)} ({source})")


def _first_difference(measure: str, got: list[Any], want: list[Any], what: str, source: str) -> CheckFailed:
    noun = "layer" if measure == "layers" else "layer output shape"
    for i, (g, w) in enumerate(zip(got, want, strict=False)):
        if g != w:
            return CheckFailed(
                f"{what}: {noun} {i + 1} (in the order the layers run) is {_text(measure, g)}, "
                f"expected {_text(measure, w)} ({source})"
            )
    return CheckFailed(f"{what}: {len(got)} layers run, expected {len(want)} ({source})")


def _mismatch(check: Any, net: Network, want: Network, what: str, source: str) -> CheckFailed | None:
    """The first `match` measure in which `net` differs from `want`, as a failure, or None."""
    for measure in check.match:
        failed = _differs(
            measure, _measure(net, measure), _measure(want, measure), what, check.rtol, source, check.reveal
        )
        if failed is not None:
            return failed
    return None


class StructureKind(CheckKind):
    name = "structure"
    spec = StructureCheck
    kernel_source: ClassVar[str] = _PROBE_PATH
    shares_fetches: ClassVar[bool] = True  # describing a network on the meta device draws nothing at random

    def fetch(self, check: Any) -> tuple[str, str, list[Any]]:
        return "probe", DESCRIBE, [check.target, check.call is not None, list(check.input)]

    def validate(self, check: Any, modules: ModuleNames) -> list[str]:
        problems = super().validate(check, modules) + reference_problems(modules, check, check.reference)
        if check.property:
            problems += property_problems(modules, check.property, "a structure check's `property` needs")
        return problems

    def judge(self, check: Any, case: PlannedCase, value: Any, ctx: JudgeContext) -> None:
        net = verify(value, ctx.what)
        if check.match:
            failed = _mismatch(check, net, self._reference(check, case, ctx), ctx.what, "the reference network's")
            if failed is not None:

                def matches(function: str) -> None:  # the wrong network's measures are the student's
                    wrong = describe_network(getattr(ctx.reference, function), check.input, *case.reference_args)
                    mismatch = _mismatch(check, net, wrong, ctx.what, "")
                    if mismatch is not None:
                        raise mismatch

                message = first_diagnosis(check.diagnoses, matches)
                raise failed if message is None else CheckFailed(f"{failed}\n{message}")
        if check.expect is not None:
            self._expected(check, net, ctx.what)
        if check.property:
            getattr(ctx.checks_module, check.property)(
                net,
                PropertyContext(
                    args=list(case.args),
                    reference=ctx.reference,
                    rng=ctx.rng,
                    options=dict(check.options),
                    what=ctx.what,
                    students=ctx.students,
                ),
            )

    @staticmethod
    def _reference(check: Any, case: PlannedCase, ctx: JudgeContext) -> Network:
        """The reference network's description, computed once per planned case."""
        from ..planning import cached, has_cached

        if not has_cached(case):
            factory = getattr(ctx.reference, check.reference)
            case.cached_expected = describe_network(factory, check.input, *case.reference_args)
        return cached(case)

    @staticmethod
    def _expected(check: Any, net: Network, what: str) -> None:
        expect = check.expect
        for measure in ("parameters", "trainable", "macs", "output"):
            want = getattr(expect, measure)
            if want is not None:
                failed = _differs(
                    measure, _measure(net, measure), want, what, check.rtol, "the rubric's figure", check.reveal
                )
                if failed is not None:
                    raise failed
        for kind, want in expect.counts.items():
            got = net.count(kind)
            if got != want:
                expected = f", expected {want}" if check.reveal else ""
                raise CheckFailed(f"{what}: {got} {kind} layer(s) run{expected}")


KIND = StructureKind()
