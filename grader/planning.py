"""From a rubric to the questions asked of the student's kernel.

`plan()` runs once per rubric: it makes every case's inputs from the rubric's generators
and turns each check into `Fetch`es — a name to read, or a function or probe to call on
the case's inputs. A planned case holds its fetch *object*; the opaque key a fetch
carries only names it inside the request, so planning and judging share objects, never
string conventions. Inputs only: expected values are never part of a plan's request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import kinds, plaindata
from .inputs import kernel_seed, materialize, rng_for, student_refs
from .kinds.base import CheckKind
from .rubric import Rubric

_NOT_COMPUTED = object()


@dataclass(eq=False)
class Fetch:
    """One question for the kernel's harness."""

    key: str  # unique within a request; meaningless otherwise
    kind: str  # "name" (read a value), "call" (call a student function), "probe" (run a rubric probe)
    target: str
    args: list[Any] | None = None  # materialized inputs, for call and probe
    seed: int = 0  # the kernel reseeds its generators with this before the fetch

    def to_request(self, call_timeout: int) -> dict[str, Any]:
        entry: dict[str, Any] = {"key": self.key, "kind": self.kind, "name": self.target, "seed": self.seed}
        if self.args is not None:
            entry["args"] = plaindata.encode(self.args)
        if self.kind != "name":
            entry["time_limit"] = call_timeout
        return entry


@dataclass(eq=False)
class PlannedCase:
    number: int  # 0-based position in the check's cases
    args: list[Any]
    reference_args: list[Any]
    expected: Any
    has_expected: bool
    fetch: Fetch
    cached_expected: Any = field(default=_NOT_COMPUTED, repr=False)  # reference output, when inputs are ours


@dataclass(eq=False)
class PlannedCheck:
    spec: Any  # the rubric's CheckSpec (a kind's subclass)
    kind: CheckKind
    cases: list[PlannedCase]
    students: dict[str, Fetch]  # student values this check's inputs name, by name


@dataclass
class Plan:
    rubric: Rubric
    checks: list[PlannedCheck]
    fetches: list[Fetch]
    probes: str = ""

    def request(self, token: str, call_timeout: int) -> dict[str, Any]:
        return {"token": token, "fetches": [f.to_request(call_timeout) for f in self.fetches], "probes": self.probes}


def plan(rubric: Rubric) -> Plan:
    """Inputs for every case, and the fetches that ask the kernel for the student's values."""
    fetches: list[Fetch] = []
    by_name: dict[str, Fetch] = {}

    def new_fetch(kind: str, target: str, args: list[Any] | None, seed: int) -> Fetch:
        fetch = Fetch(f"f{len(fetches)}", kind, target, args, seed)
        fetches.append(fetch)
        return fetch

    planned = []
    for check in rubric.checks:
        seed = kernel_seed(rubric.seed, check.id)
        cases: list[PlannedCase] = []
        refs: set[str] = set()
        read_once: Fetch | None = None
        for number, case in enumerate(check.all_cases):
            rng = rng_for(rubric.seed, check.id, number)
            args = [materialize(a, rng) for a in case.args]
            reference_args = args if case.reference_args is None else [materialize(a, rng) for a in case.reference_args]
            refs.update(student_refs(args) + student_refs(reference_args))
            if check.fetch_kind == "name":  # a name is read once, however many cases judge it
                read_once = read_once or new_fetch("name", check.target, None, seed)
                fetch = read_once
            else:
                fetch = new_fetch(check.fetch_kind, check.target, args, seed)
            cases.append(PlannedCase(number, args, reference_args, case.expected, case.has_expected, fetch))
        students = {}
        for name in sorted(refs):
            if name not in by_name:
                by_name[name] = new_fetch("name", name, None, 0)
            students[name] = by_name[name]
        planned.append(PlannedCheck(check, kinds.get(check.kind), cases, students))
    return Plan(rubric, planned, fetches, probes=rubric.probes_source())


def cached(case: PlannedCase) -> Any:
    """The expected value computed earlier for this case, or None when there is none yet."""
    return None if case.cached_expected is _NOT_COMPUTED else case.cached_expected


def has_cached(case: PlannedCase) -> bool:
    return case.cached_expected is not _NOT_COMPUTED
