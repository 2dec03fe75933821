"""What every check kind shares: the common rubric keys, and the interface a kind implements.

A check has two independent halves. *What to fetch* from the student's kernel is common
to all kinds: a name to read (`name`), a function to call on each case's inputs (`call`),
or a rubric probe to run (`probe`). *How to judge* what came back is the kind's own: a
`value` check compares with the reference, an `exception` check inspects a caught
exception, a `property` check hands the value to a function of the rubric's checks module.

A kind is one module in `grader/kinds/`: a pydantic model of its extra rubric keys
(subclass of `CheckSpec`, so unknown keys are refused and the rubric's JSON Schema knows
them) and a `CheckKind` that validates cross-references at load time and judges one case.
Nothing else in the engine names a kind.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, WithJsonSchema, model_validator

from ..inputs import InputError, Sequence, json_schema, parse_spec

if TYPE_CHECKING:
    from types import ModuleType

    import numpy as np

    from ..planning import PlannedCase

_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def _input(value: Any) -> Any:
    try:
        return parse_spec(value)
    except InputError as exc:
        raise ValueError(str(exc)) from None


def _literal(value: Any) -> Any:
    """An `expected` value: TOML values, with `{ tuple = [...] }` for tuples."""
    if isinstance(value, dict):
        if set(value) != {"tuple"} or not isinstance(value["tuple"], list):
            raise ValueError("an expected value is a TOML value, or { tuple = [...] } for a tuple")
        return Sequence("tuple", tuple(_literal(v) for v in value["tuple"]))
    if isinstance(value, list):
        return [_literal(v) for v in value]
    return value


INPUT_PLACEHOLDER = "x-d2l-grader-input"  # replaced by a $ref to the input schema (grader.rubric.json_schema)
InputSpec = Annotated[Any, BeforeValidator(_input), WithJsonSchema({INPUT_PLACEHOLDER: True})]
LiteralSpec = Annotated[
    Any,
    BeforeValidator(_literal),
    WithJsonSchema({"description": "a TOML value, or { tuple = [...] }"}),
]
Identifier = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
Key = Annotated[str, Field(pattern=_KEY.pattern)]


class Strict(BaseModel):
    """Every rubric table: unknown keys are errors, types are not coerced."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class CaseSpec(Strict):
    """One set of inputs (a check passes only if every case passes)."""

    args: list[InputSpec] = Field(default_factory=list, description="inputs passed to the student's function")
    reference_args: list[InputSpec] | None = Field(
        None, description="inputs for the reference instead (drawn after args from the same generator)"
    )
    expected: LiteralSpec = Field(None, description="the expected value, instead of calling the reference")

    @property
    def has_expected(self) -> bool:
        return "expected" in self.model_fields_set


class CheckSpec(Strict):
    """The keys every check has, whatever its kind."""

    id: Key = Field(description="unique within the rubric; shown to students")
    exercise: str = Field(description="the [[exercise]] this check belongs to")
    points: float = Field(ge=0)
    kind: str = "value"
    hidden: bool = Field(False, description="students see only name, points and pass/fail")
    description: str = ""
    name: Identifier | None = Field(None, description="read the value bound to this name")
    call: Identifier | None = Field(None, description="call this student function with each case's args")
    probe: Identifier | None = Field(None, description="run this function of the rubric's probes module in the kernel")
    needs: list[Identifier] = Field(default_factory=list, description="names a probe uses (assignment detection)")
    args: list[InputSpec] | None = None
    reference_args: list[InputSpec] | None = None
    expected: LiteralSpec = None
    cases: list[CaseSpec] | None = Field(None, min_length=1)

    _cases: list[CaseSpec] = PrivateAttr(default_factory=list)

    @model_validator(mode="after")
    def _one_target_and_cases(self) -> CheckSpec:
        targets = [k for k in ("name", "call", "probe") if getattr(self, k)]
        if len(targets) != 1:
            raise ValueError("give exactly one of `name`, `call` or `probe`")
        single: set[str] = {k for k in ("args", "expected", "reference_args") if k in self.model_fields_set}
        if self.cases is not None:
            if single:
                raise ValueError("give either `cases` or `args`/`expected`/`reference_args`, not both")
            self._cases = list(self.cases)
        else:  # the values are parsed specs already: build the one case without validating twice
            self._cases = [CaseSpec.model_construct(_fields_set=set(single), **{k: getattr(self, k) for k in single})]
        return self

    # -- what the engine reads
    @property
    def all_cases(self) -> list[CaseSpec]:
        return self._cases

    @property
    def target(self) -> str:
        return self.name or self.call or self.probe or "?"

    @property
    def fetch_kind(self) -> str:
        """How the kernel produces the value: "name", "call" or "probe"."""
        return "name" if self.name else "call" if self.call else "probe"


@dataclass(frozen=True)
class ModuleNames:
    """Top-level names of the rubric's course modules, read without importing them."""

    reference: frozenset[str]
    checks: frozenset[str] | None  # None: the rubric has no checks module
    probes: frozenset[str] | None  # None: the rubric has no probes module
    unreadable: frozenset[str] = frozenset()  # "reference", "checks", "probes" that could not be read (reported once)


@dataclass
class JudgeContext:
    """What a kind needs to judge one case, besides the student's value."""

    what: str  # how messages name the checked thing, e.g. "corr2d(3)" or "X_diag"
    reference: ModuleType
    checks_module: ModuleType | None
    students: dict[str, Any]  # student values named by { student = ... } inputs
    rng: np.random.Generator  # seeded per (rubric, check, case) for property checks
    expected: Callable[[PlannedCase], Any] | None = None  # the engine's reference call, cached
    # another reference function on the same case's inputs (a diagnosis's known wrong answer)
    reference_value: Callable[[PlannedCase, str], Any] | None = None
    notes: list[str] = field(default_factory=list)


class CheckKind:
    """One way of judging a check. Subclasses set `name` and `spec`, and override `judge`."""

    name: ClassVar[str]
    spec: ClassVar[type[CheckSpec]]
    uses_expected: ClassVar[bool] = False  # may cases carry a literal `expected`?
    # a file of kernel-side functions this kind's fetches run, shipped with the rubric's probes
    kernel_source: ClassVar[str | None] = None
    # its fetches depend on their arguments only (no randomness): checks asking the same question
    # share one fetch, so the kernel answers it once
    shares_fetches: ClassVar[bool] = False
    # the cases' args are the arguments the student's `call` gets (a failed public check shows
    # them, so the student can rerun the call); False where they are the kind's own inputs
    call_args: ClassVar[bool] = True

    def fetch(self, check: Any) -> tuple[str, str, list[Any]]:
        """What the kernel is asked for each case: (fetch kind, target, arguments put before
        the case's own). By default the check's own `name`, `call` or `probe`."""
        return check.fetch_kind, check.target, []

    def validate(self, check: Any, modules: ModuleNames) -> list[str]:
        """Cross-reference problems of one check (unknown functions, ...), found at load time."""
        problems = []
        if not self.uses_expected and any(c.has_expected for c in check.all_cases):
            problems.append(f"`expected` is not used by {self.name} checks")
        return problems

    def judge(self, check: Any, case: PlannedCase, value: Any, ctx: JudgeContext) -> None:
        """Raise CheckFailed (content API) unless `value` is right for this case."""
        raise NotImplementedError


def reference_problems(modules: ModuleNames, check: Any, reference: str | None) -> list[str]:
    """The functions a check names in the reference module that it lacks: its `reference`, and
    the reference function of each of its diagnoses (kinds that have them)."""
    if "reference" in modules.unreadable:
        return []  # reported once, as the module
    named = [(reference, "reference"), *((d.reference, "diagnosis") for d in getattr(check, "diagnoses", []))]
    return [
        f"{what} function {function!r} is not defined in the reference module"
        for function, what in named
        if function and function not in modules.reference
    ]


def property_problems(modules: ModuleNames, function: str, who_needs: str) -> list[str]:
    """A property function the checks module must define: the module named, and the function in it.
    `who_needs` begins the message when there is no checks module ("property checks need")."""
    if modules.checks is None:
        return [f"{who_needs} `checks` (a module in rubrics/) in [assignment]"]
    if "checks" not in modules.unreadable and function not in modules.checks:
        return [f"property {function!r} is not defined in the checks module"]
    return []


def first_diagnosis(diagnoses: Iterable[Any], matches: Callable[[str], None]) -> str | None:
    """The message of the first diagnosis whose wrong answer the student's value is:
    `matches(function)` returns when it is that one's, and raises when it is not (CheckFailed) or
    when the wrong answer cannot be computed for these inputs (anything else: not a match)."""
    for diagnosis in diagnoses:
        try:
            matches(diagnosis.reference)
        except Exception:
            continue
        return str(diagnosis.message)
    return None


def input_schema() -> dict[str, Any]:
    return json_schema()
