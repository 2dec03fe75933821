"""From a rubric to the questions asked of the student's kernel.

`plan()` runs once per rubric: it makes every case's inputs from the rubric's generators
and turns each check into `Fetch`es — a name to read, or a function or probe to call on
the case's inputs. A planned case holds its fetch *object*; the opaque key a fetch
carries only names it inside the request, so planning and judging share objects, never
string conventions. Inputs only: expected values are never part of a plan's request.
"""

from __future__ import annotations

import json
import os
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
        """What the harness cell carries: inputs and fetches only (never an expected value)."""
        return {
            "token": token,
            "slot": f"_d2l_grader_results_{token[:12]}",  # where the harness leaves its results
            "fetches": [f.to_request(call_timeout) for f in self.fetches],
            "probes": self.probes,
        }


def plan(rubric: Rubric, salt: str = "", base: Plan | None = None) -> Plan:
    """Inputs for every case, and the fetches that ask the kernel for the student's values.

    `salt` (the submission's hash) gives each submission hidden inputs of its own: a hidden
    check's random inputs are drawn from (rubric seed, check, case, salt), so an input that
    leaks from one kernel is worth nothing to anyone else, and regrading the same notebook
    draws the same ones. Public checks never depend on the salt; with `base` (the unsalted
    plan of the same rubric) their planned cases are shared, expected values cached included.
    Fetch keys are fixed by position, so shared and new fetches never collide.
    """
    fetches: list[Fetch] = []
    by_name: dict[str, Fetch] = {}
    shared: dict[tuple[str, ...], Fetch] = {}  # questions of kinds whose fetches are shareable
    reused = {p.spec.id: p for p in base.checks} if base is not None else {}

    def new_fetch(key: str, kind: str, target: str, args: list[Any] | None, seed: int) -> Fetch:
        fetch = Fetch(key, kind, target, args, seed)
        fetches.append(fetch)
        return fetch

    planned = []
    for index, check in enumerate(rubric.checks):
        own_salt = salt if check.hidden else ""
        previous = reused.get(check.id)
        if previous is not None and not own_salt:
            planned.append(previous)
            fetches += list(dict.fromkeys(c.fetch for c in previous.cases))
            for name, fetch in previous.students.items():
                if name not in by_name:
                    by_name[name] = fetch
                    fetches.append(fetch)
            continue
        seed = kernel_seed(rubric.seed, check.id)
        cases: list[PlannedCase] = []
        refs: set[str] = set()
        read_once: Fetch | None = None
        kind = kinds.get(check.kind)
        fetch_kind, target, leading = kind.fetch(check)
        for number, case in enumerate(check.all_cases):
            rng = rng_for(rubric.seed, check.id, number, own_salt)
            args = [materialize(a, rng) for a in case.args]
            reference_args = args if case.reference_args is None else [materialize(a, rng) for a in case.reference_args]
            refs.update(student_refs(args) + student_refs(reference_args))
            asked = [*leading, *args] if leading else args  # the case's own inputs, the very list
            if fetch_kind == "name":  # a name is read once, however many cases judge it
                read_once = read_once or new_fetch(f"c{index}", "name", target, None, seed)
                fetch = read_once
            elif kind.shares_fetches:
                question = (kind.name, fetch_kind, target, json.dumps(plaindata.encode(asked), sort_keys=True))
                if question not in shared:
                    shared[question] = new_fetch(f"c{index}.{number}", fetch_kind, target, asked, 0)
                fetch = shared[question]
            else:
                fetch = new_fetch(f"c{index}.{number}", fetch_kind, target, asked, seed)
            cases.append(PlannedCase(number, args, reference_args, case.expected, case.has_expected, fetch))
        students = {}
        for name in sorted(refs):
            if name not in by_name:
                by_name[name] = new_fetch(f"n.{name}", "name", name, None, 0)
            students[name] = by_name[name]
        planned.append(PlannedCheck(check, kind, cases, students))
    probes = base.probes if base is not None else probes_source(rubric)  # a salted plan: the same rubric
    return Plan(rubric, planned, list(dict.fromkeys(fetches)), probes=probes)


def probes_source(rubric: Rubric) -> str:
    """What the kernel executes before its fetches: the rubric's probes, then the kernel-side
    files of the kinds its checks use (e.g. the structure kind's network description).

    A kind's file runs in a namespace of its own and only its public functions join the
    probes', so its helpers can never replace a probe module's helpers of the same name."""
    parts = [rubric.probes_source()]
    for path in dict.fromkeys(kinds.get(c.kind).kernel_source for c in rubric.checks):
        if path:
            with open(path, encoding="utf-8") as f:
                source = f.read()
            parts.append(
                f"_kind_namespace = {{}}\n"
                f"exec(compile({source!r}, {os.path.basename(path)!r}, 'exec'), _kind_namespace)\n"
                "globals().update({k: v for k, v in _kind_namespace.items() if k.endswith('_probe')})\n"
                "del _kind_namespace"
            )
    return "\n\n".join(p for p in parts if p)


def salted(rubric: Rubric) -> bool:
    """Whether any hidden check draws random inputs (and so needs a plan per submission)."""
    return any(c.hidden and _random(c) for c in rubric.checks)


def _random(check: Any) -> bool:
    from .inputs import Generated, Sequence

    def walk(value: Any) -> bool:
        if isinstance(value, Generated):
            return value.generator in ("randn", "rand", "randint")
        if isinstance(value, Sequence):
            return any(walk(v) for v in value.items)
        if isinstance(value, list):
            return any(walk(v) for v in value)
        return False

    return any(walk(a) for case in check.all_cases for a in [*case.args, *(case.reference_args or [])])


def cached(case: PlannedCase) -> Any:
    """The expected value computed earlier for this case, or None when there is none yet."""
    return None if case.cached_expected is _NOT_COMPUTED else case.cached_expected


def has_cached(case: PlannedCase) -> bool:
    return case.cached_expected is not _NOT_COMPUTED
