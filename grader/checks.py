"""From a rubric to kernel requests, and from kernel answers to verdicts.

`plan()` turns the rubric into the list of fetches sent to the harness (names to read,
functions to call on generated inputs) — inputs only, never expected values.
`evaluate()` judges what came back, entirely in the grader process: it computes the
expected values with the reference solutions, compares, and runs property checks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np

from . import plaindata
from .compare import Mismatch, compare, describe, ensure_plain
from .inputs import kernel_seed, materialize, rng_for, student_refs, substitute
from .plaindata import StudentException, Unsupported
from .results import ERROR, FAILED, PASSED, CheckResult
from .rubric import Check, Rubric

CheckFailed = Mismatch  # the name property functions raise


@dataclass
class PropertyContext:
    """What a property function in a rubric's checks module gets besides the value."""

    args: list[Any]
    reference: ModuleType
    rng: np.random.Generator
    options: dict[str, Any]
    what: str
    students: dict[str, Any] = field(default_factory=dict)


@dataclass
class PreparedCase:
    key: str
    args: list[Any]
    reference_args: list[Any]
    expected: Any
    has_expected: bool


@dataclass
class Plan:
    rubric: Rubric
    fetches: list[dict[str, Any]]
    cases: dict[str, list[PreparedCase]]
    probes: str = ""
    _expected_cache: dict[str, Any] = field(default_factory=dict)

    def request(self, token: str, call_timeout: int) -> dict[str, Any]:
        fetches = [dict(f, time_limit=call_timeout) for f in self.fetches]
        return {"token": token, "fetches": fetches, "probes": self.probes}


def plan(rubric: Rubric) -> Plan:
    """Inputs for every case, and the fetches that ask the kernel for the student's values."""
    fetches: list[dict[str, Any]] = []
    names: set[str] = set()
    cases: dict[str, list[PreparedCase]] = {}
    for check in rubric.checks:
        prepared = []
        for i, case in enumerate(check.cases):
            rng = rng_for(rubric.seed, check.id, i)
            args = [materialize(a, rng) for a in case.args]
            ref_args = [materialize(a, rng) for a in case.reference_args] if case.reference_args is not None else args
            names.update(student_refs(args) + student_refs(ref_args))
            # A name is read once per check; a call or probe runs once per case.
            key = f"{check.id}#0" if check.name else f"{check.id}#{i}"
            prepared.append(PreparedCase(key, args, ref_args, case.expected, case.has_expected))
            if check.name and i > 0:
                continue
            fetch: dict[str, Any] = {"key": key, "name": check.target, "seed": kernel_seed(rubric.seed, check.id)}
            if check.name:
                fetch["kind"] = "name"
            else:
                fetch["kind"] = "call" if check.call else "probe"
                fetch["args"] = plaindata.encode(args)
            fetches.append(fetch)
        cases[check.id] = prepared
    for name in sorted(names):
        fetches.append({"key": f"name:{name}", "kind": "name", "name": name, "seed": 0})
    return Plan(rubric, fetches, cases, probes=rubric.probes_source())


class _Unavailable(Exception):
    """The check cannot be judged (name missing, function raised, kernel gone)."""


def evaluate(the_plan: Plan, fetched: dict[str, dict] | None, unavailable: str | None) -> list[CheckResult]:
    rubric = the_plan.rubric
    reference = rubric.load_reference()
    checks_module = rubric.load_checks()
    results = []
    for check in rubric.checks:
        status, message = _judge(check, the_plan, fetched, unavailable, reference, checks_module)
        if check.hidden and status == FAILED:
            message = "hidden check failed (its inputs and expected values are not shown)"
        results.append(
            CheckResult(
                id=check.id,
                exercise=check.exercise,
                score=check.points if status == PASSED else 0.0,
                max_score=check.points,
                status=status,
                hidden=check.hidden,
                message=message,
                description=check.description,
            )
        )
    return results


def _judge(check: Check, the_plan: Plan, fetched, unavailable, reference, checks_module) -> tuple[str, str]:
    if fetched is None:
        return ERROR, unavailable or "the notebook could not be run"
    try:
        students = {
            name[len("name:") :]: _value(fetched[name], name[len("name:") :], check.hidden)
            for name in fetched
            if name.startswith("name:") and name[len("name:") :] in _refs_of(the_plan, check)
        }
        for n, case in enumerate(the_plan.cases[check.id]):
            value = _value(fetched[case.key], check.target, check.hidden, called=bool(check.call or check.probe))
            _judge_case(check, case, n, value, students, reference, checks_module, the_plan)
    except _Unavailable as exc:
        return ERROR, str(exc)
    except Mismatch as exc:
        return FAILED, str(exc)
    return PASSED, ""


def _refs_of(the_plan: Plan, check: Check) -> set[str]:
    return {n for c in the_plan.cases[check.id] for n in student_refs(c.args) + student_refs(c.reference_args)}


def _value(entry: dict[str, Any], what: str, hidden: bool, called: bool = False) -> Any:
    status = entry.get("status")
    if status == "missing":
        raise _Unavailable(f"name `{entry.get('name', what)}` is not defined in your notebook")
    if status == "raised":
        error = str(entry.get("error", "an exception"))
        if hidden:
            error = error.split(":")[0]
        raise _Unavailable(f"{what} raised {error}")
    if status != "ok":
        raise _Unavailable(f"{what}: {str(entry.get('error', 'could not be evaluated'))[:300]}")
    try:
        return plaindata.decode(entry.get("value"))
    except plaindata.Malformed as exc:
        raise _Unavailable(f"{what}: the value came back malformed ({exc})") from None


def _judge_case(check, case, n, value, students, reference, checks_module, the_plan) -> None:
    where = _label(check, case, n, len(the_plan.cases[check.id]))
    if check.kind == "exception":
        _judge_exception(check, value, where)
        return
    ensure_plain(value, where)
    if check.kind == "property":
        fn = getattr(checks_module, check.prop)
        ctx = PropertyContext(
            args=substitute(case.args, students),
            reference=reference,
            rng=rng_for(the_plan.rubric.seed, check.id + "/property", n),
            options=check.options,
            what=where,
            students=students,
        )
        fn(value, ctx)
        return
    expected = _expected(check, case, students, reference, the_plan)
    compare(value, expected, mode=check.compare, rtol=check.rtol, atol=check.atol, what=where)


def _label(check: Check, case: PreparedCase, n: int, cases: int) -> str:
    """How a message names what was checked: `min_kernel_size(3)` when the call is short
    and public, otherwise the name (with the case number when there are several)."""
    simple = all(
        isinstance(a, (bool, int, float, str)) or (isinstance(a, tuple) and all(isinstance(x, int) for x in a))
        for a in case.args
    )
    if check.call and not check.hidden and simple:
        return f"{check.call}({', '.join(repr(a) for a in case.args)})"
    return check.target if cases == 1 else f"{check.target} (case {n + 1})"


def _expected(check, case, students, reference, the_plan) -> Any:
    if case.has_expected:
        return _literal(case.expected)
    ref_args = substitute(case.reference_args, students)
    cacheable = not student_refs(case.reference_args)
    if cacheable and case.key in the_plan._expected_cache:
        return the_plan._expected_cache[case.key]
    fn = getattr(reference, check.reference)
    try:
        expected = fn(*[_to_torch(a) for a in ref_args])
    except Exception as exc:
        # Only student-derived inputs (their own X_diag, say) can make the reference fail.
        raise Mismatch(
            f"the reference {check.reference} cannot be applied to your inputs ({type(exc).__name__}: {exc})"
        ) from None
    if cacheable:
        the_plan._expected_cache[case.key] = expected
    return expected


def _to_torch(value: Any) -> Any:
    import torch

    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.array(value))
    if isinstance(value, list):
        return [_to_torch(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_to_torch(v) for v in value)
    return value


def _literal(value: Any) -> Any:
    """TOML lists of numbers are compared as arrays; tables as tuples."""
    if isinstance(value, dict) and "tuple" in value:
        return tuple(_literal(v) for v in value["tuple"])
    if (
        isinstance(value, list)
        and value
        and all(isinstance(v, (int, float, list)) and not isinstance(v, bool) for v in value)
    ):
        return np.array(value, dtype=np.float64)
    return value


def _judge_exception(check: Check, value: Any, where: str) -> None:
    if isinstance(value, Unsupported) or not isinstance(value, StudentException):
        raise Mismatch(f"{where} should hold the exception object you caught, but it is {describe(value)}")
    if check.exception not in value.bases:
        raise Mismatch(f"{where} is a {value.type}, expected a {check.exception}")
    if check.match and not re.search(check.match, value.message):
        shown = value.message if len(value.message) < 200 else value.message[:200] + "..."
        raise Mismatch(f"{where} has the message {shown!r}, which is not the error this exercise produces")
