"""`kind = "fit"`: a network fits one synthetic batch in a fixed training budget.

Whether a network *can learn* is a question no count of its layers answers: the book's
sigmoid LeNet has a fine structure and stays at chance for dozens of steps, and a network
ending in a softmax trains with the loss stuck. The kernel trains a fresh network (`call`: a
factory, with its own initialisation; `name`: a deep copy of a module, each layer re-
initialised with `reset_parameters`) for `steps` steps of Adam (always Adam: the budget is
the rubric's, the optimiser is not the student's to choose) with learning rate `lr`, on the
mean cross-entropy of one batch of images: `prototypes` (classes, channels, h, w) upsampled
by nearest repetition to the size of `noise` (n, channels, H, W), image k showing prototype
k % classes plus noise[k], labelled k % classes. The kernel's side is `grader/fit_probe.py`,
shipped with the probes.

The grader rebuilds the images from its own inputs and refuses a run on others, computes the
losses before and after training itself (float64, from the returned logits and the labels it
knows: `grader/fit.py`), and passes the check iff the final loss is at most `max_final` and at
most `ratio` times the initial one. Non-finite logits fail; so does a shape that cannot be the
batch's logits. Outputs that are already probabilities get a note naming the final softmax.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, model_validator

from ..compare import CheckFailed, ensure_plain
from ..fit import losses, probabilities, upsampling
from ..inputs import FLOAT_DTYPES, Generated
from .base import CaseSpec, CheckKind, CheckSpec, InputSpec, JudgeContext

if TYPE_CHECKING:
    from ..planning import PlannedCase

_PROBE_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fit_probe.py")
FIT = "fit_batch_probe"  # the probe the kernel runs (grader/fit_probe.py)

SOFTMAX_NOTE = (
    "The network's outputs are probabilities (every row is in [0, 1] and sums to 1): it ends "
    "with a softmax. The cross-entropy takes raw scores (logits) and applies the softmax itself; "
    "a second softmax squashes the scores and training stalls. Remove the final softmax."
)


def _shape(spec: Any, key: str) -> tuple[int, ...]:
    """The shape of a rubric input that makes a float tensor; ValueError otherwise."""
    if not isinstance(spec, Generated):
        raise ValueError(f"`{key}` is a tensor the grader makes, e.g. {{ randn = [10, 1, 7, 7] }}")
    if spec.dtype not in FLOAT_DTYPES:
        raise ValueError(f"`{key}` holds images: a float dtype ({', '.join(FLOAT_DTYPES)}), not {spec.dtype}")
    return spec.result_shape


class FitCheck(CheckSpec):
    kind: Literal["fit"]
    steps: int = Field(ge=1, le=10_000, description="Adam steps on the batch (the optimiser is always Adam)")
    lr: float = Field(gt=0, description="Adam's learning rate")
    prototypes: InputSpec = Field(
        description="(classes, channels, h, w): one image per class, e.g. { rand = [10, 1, 7, 7] }"
    )
    noise: InputSpec = Field(
        description="(n, channels, H, W): added to the n images; H and W are multiples of h and w, "
        "e.g. { randn = [32, 1, 28, 28], scale = 0.3 }"
    )
    ratio: float = Field(gt=0, description="the final loss must be at most ratio x the initial loss")
    max_final: float = Field(gt=0, description="the final loss must be at most this")

    @model_validator(mode="after")
    def _one_batch(self) -> FitCheck:
        if self.probe:
            raise ValueError("a fit check trains the network from `name` or `call`, not a probe")
        given = {"args", "reference_args", "expected", "cases"} & self.model_fields_set
        if given:
            raise ValueError(
                f"a fit check's inputs are `prototypes` and `noise`: remove {', '.join(f'`{k}`' for k in sorted(given))}"
            )
        upsampling(_shape(self.prototypes, "prototypes"), _shape(self.noise, "noise"))
        # the one case: the planner draws prototypes, then noise, from the check's seeded generator
        self._cases = [CaseSpec.model_construct(_fields_set={"args"}, args=[self.prototypes, self.noise])]
        return self


class FitKind(CheckKind):
    name = "fit"
    spec = FitCheck
    kernel_source: ClassVar[str] = _PROBE_PATH
    call_args: ClassVar[bool] = False  # the case's args are the batch; the factory is called with none

    def fetch(self, check: Any) -> tuple[str, str, list[Any]]:
        return "probe", FIT, [check.target, check.call is not None, check.steps, check.lr]

    def judge(self, check: Any, case: PlannedCase, value: Any, ctx: JudgeContext) -> None:
        what = f"{check.call}()" if check.call else check.name
        ensure_plain(value, what)
        prototypes, noise = case.args
        initial, final = losses(value, prototypes, noise, what, check.steps)
        if final > check.max_final or final > check.ratio * initial:
            message = (
                f"{what}: after {check.steps} Adam steps on a synthetic batch the loss went from {initial:.4g} to "
                f"{final:.4g}; expected below {check.max_final:g} and below {check.ratio:g} x the initial loss"
            )
            if probabilities(value["final"]):
                message += "\n" + SOFTMAX_NOTE
            raise CheckFailed(message)


KIND = FitKind()
