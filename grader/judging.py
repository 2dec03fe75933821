"""From what the kernel sent back to verdicts, entirely in the grader process.

Each check is judged by its kind (see `grader.kinds`) on values decoded from plain data;
expected values come from the reference solutions, computed here on the grader's own
inputs. Judging one check can never sink the others: whatever a check's judging raises
becomes that check's `error` with a message (pytest's `CallInfo.from_call` idea), and the
rest of the notebook is still graded.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import numpy as np

from . import plaindata
from .compare import CheckFailed
from .inputs import StudentRef, rng_for, student_refs, substitute
from .kinds.base import JudgeContext
from .planning import Plan, PlannedCase, PlannedCheck, has_cached
from .results import ERROR, FAILED, PASSED, CheckResult

HIDDEN_FAILED = "hidden check failed (its inputs and expected values are not shown)"


class Unavailable(Exception):
    """The check cannot be judged (name missing, function raised, kernel gone)."""


class JudgeTimeout(BaseException):
    """Judging one check took longer than its limit (not an Exception: property code can't catch it)."""


@contextlib.contextmanager
def _deadline(seconds: float | None) -> Iterator[None]:
    """Interrupt the block after `seconds` of wall-clock time, in the main thread only (where
    Python delivers signals); elsewhere (a Dask worker's thread, Jupyter) the block runs unbounded,
    and what crosses from the kernel is bounded in size instead.

    An alarm someone else set (pytest-timeout, an embedding application) is nested, not
    disabled: if it is due first it is left alone; otherwise it is re-armed afterwards with
    what remains of it."""
    usable = (
        seconds is not None
        and seconds > 0
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    outer = signal.getitimer(signal.ITIMER_REAL)[0] if usable else 0.0
    if not usable or (outer and outer <= seconds):  # type: ignore[operator]
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise JudgeTimeout()

    started = time.monotonic()
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)  # type: ignore[arg-type]
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer:
            signal.setitimer(signal.ITIMER_REAL, max(outer - (time.monotonic() - started), 1e-3))


def evaluate(
    plan: Plan,
    fetched: dict[str, dict[str, Any]] | None,
    unavailable: str | None,
    time_limit: float | None = None,
) -> list[CheckResult]:
    """One verdict per check of the plan's rubric, in rubric order; judging one check may take
    at most `time_limit` seconds (where the process can enforce it: the main thread)."""
    modules: tuple[ModuleType, ModuleType | None] | None = None
    problem = ""
    if fetched is not None:
        try:
            modules = (plan.rubric.load_reference(), plan.rubric.load_checks())
        except Exception as exc:  # a broken course module costs the checks, not the grader
            problem = f"the grader could not load this assignment's course modules ({type(exc).__name__}: {exc})"
    results = []
    for planned in plan.checks:
        spec = planned.spec
        if fetched is None:
            status, message = ERROR, unavailable or "the notebook could not be run"
        elif modules is None:
            status, message = ERROR, problem
        else:
            status, message = _judge_isolated(planned, plan, fetched, *modules, time_limit=time_limit)
        if spec.hidden and status == FAILED:
            message = HIDDEN_FAILED
        elif spec.hidden and status == PASSED:
            message = ""  # a note would tell the shape of a hidden expected value
        results.append(
            CheckResult(
                id=spec.id,
                exercise=spec.exercise,
                score=float(spec.points) if status == PASSED else 0.0,
                max_score=float(spec.points),
                status=status,
                hidden=spec.hidden,
                message=message,
                description=spec.description,
            )
        )
    return results


def _judge_isolated(
    planned: PlannedCheck,
    plan: Plan,
    fetched: dict[str, dict[str, Any]],
    reference: ModuleType,
    checks: ModuleType | None,
    time_limit: float | None = None,
) -> tuple[str, str]:
    try:
        with _deadline(time_limit):
            return _judge(planned, plan, fetched, reference, checks)
    except JudgeTimeout:
        return ERROR, f"the grader gave up judging this check after {time_limit:g} s (the answer is too large to judge)"
    except (Exception, SystemExit) as exc:  # a bug in a property function, the reference, or the engine
        detail = type(exc).__name__ if planned.spec.hidden else f"{type(exc).__name__}: {str(exc)[:300]}"
        return (
            ERROR,
            f"the grader could not judge this check ({detail}): a problem of the grader or the rubric, not of your answer",
        )


def _judge(
    planned: PlannedCheck,
    plan: Plan,
    fetched: dict[str, dict[str, Any]],
    reference: ModuleType,
    checks: ModuleType | None,
) -> tuple[str, str]:
    spec = planned.spec
    case: PlannedCase | None = None
    notes: list[str] = []  # what a kind accepted with a remark (a passed check still says it)
    try:
        students = {name: _value(fetched.get(f.key), name, spec.hidden) for name, f in planned.students.items()}

        def expected(case: PlannedCase) -> Any:
            return _expected(planned, case, students, reference)

        def reference_value(case: PlannedCase, function: str) -> Any:
            return _call_reference(getattr(reference, function), case, students)

        for case in planned.cases:
            value = _value(fetched.get(case.fetch.key), spec.target, spec.hidden)
            ctx = JudgeContext(
                what=_label(planned, case),
                reference=reference,
                checks_module=checks,
                students=students,
                rng=rng_for(plan.rubric.seed, spec.id + "/property", case.number),
                expected=expected,
                reference_value=reference_value,
                notes=notes,
            )
            planned.kind.judge(spec, case, value, ctx)
    except Unavailable as exc:
        return ERROR, str(exc)
    except CheckFailed as exc:
        inputs = _inputs(planned, case) if case is not None else ""
        return FAILED, f"{exc}\n{inputs}" if inputs else str(exc)
    return PASSED, "; ".join(dict.fromkeys(notes))


def _inputs(planned: PlannedCheck, case: PlannedCase) -> str:
    """The inputs a failed public call was given, so the student can rerun it: arrays in short
    form (numpy's summarised printing), names of the student's own values as such. Empty for
    hidden checks, for checks that call nothing, and where the label already shows them."""
    spec = planned.spec
    if spec.hidden or not spec.call or not planned.kind.call_args or not case.args or _simple(case.args):
        return ""
    shown = ", ".join(_show(a) for a in case.args)
    return f"called as {spec.call}({shown})"[:1500]


def _show(arg: Any) -> str:
    if isinstance(arg, StudentRef):
        return f"your `{arg.name}`"
    if isinstance(arg, np.ndarray):
        body = np.array2string(arg, threshold=24, edgeitems=2, precision=4, separator=", ", max_line_width=10_000)
        body = " ".join(line.strip() for line in body.splitlines())  # one line: rows stay readable in a table
        return f"{body} (shape {tuple(arg.shape)}, {arg.dtype})" if arg.ndim > 1 else body
    if isinstance(arg, list | tuple):
        inner = ", ".join(_show(a) for a in arg)
        return f"[{inner}]" if isinstance(arg, list) else f"({inner}{',' if len(arg) == 1 else ''})"
    return repr(arg)[:200]


def _simple(args: list[Any]) -> bool:
    return all(
        isinstance(a, bool | int | float | str) or (isinstance(a, tuple) and all(isinstance(x, int) for x in a))
        for a in args
    )


def _value(entry: dict[str, Any] | None, what: str, hidden: bool) -> Any:
    if not isinstance(entry, dict):
        raise Unavailable(f"{what}: the checks' results have no answer for it")
    status = entry.get("status")
    if status == "missing":
        raise Unavailable(f"name `{entry.get('name', what)}` is not defined in your notebook")
    if status == "raised":
        error = str(entry.get("error", "an exception"))
        if hidden:
            error = error.split(":")[0]
        raise Unavailable(f"{what} raised {error}")
    if status != "ok":
        raise Unavailable(f"{what}: {str(entry.get('error', 'could not be evaluated'))[:300]}")
    try:
        return plaindata.decode(entry.get("value"))
    except plaindata.Malformed as exc:
        raise Unavailable(f"{what}: the value came back malformed ({exc})") from None


def _label(planned: PlannedCheck, case: PlannedCase) -> str:
    """How a message names what was checked: `min_kernel_size(3)` when the call is short
    and public, otherwise the name (with the case number when there are several)."""
    spec = planned.spec
    if spec.call and planned.kind.call_args and not spec.hidden and _simple(case.args):
        return f"{spec.call}({', '.join(repr(a) for a in case.args)})"
    return spec.target if len(planned.cases) == 1 else f"{spec.target} (case {case.number + 1})"


def _expected(planned: PlannedCheck, case: PlannedCase, students: dict[str, Any], reference: ModuleType) -> Any:
    """The expected value of one case: its literal, or the reference on the grader's inputs."""
    if case.has_expected:
        return _literal(case.expected)
    cacheable = not student_refs(case.reference_args)
    if cacheable and has_cached(case):
        return case.cached_expected
    function = getattr(reference, planned.spec.reference_function)
    try:
        expected = _call_reference(function, case, students)
    except Exception as exc:
        if cacheable:
            raise  # our own inputs broke our own reference: a grader problem, reported as such
        # only student-derived inputs (their own X_diag, say) can make the reference fail
        raise CheckFailed(
            f"the reference {planned.spec.reference_function} cannot be applied to your inputs ({type(exc).__name__}: {exc})"
        ) from None
    if cacheable:
        case.cached_expected = expected
    return expected


def _call_reference(function: Callable[..., Any], case: PlannedCase, students: dict[str, Any]) -> Any:
    """A reference-module function on the case's reference inputs (the student's values put in)."""
    return function(*[_to_torch(a) for a in substitute(case.reference_args, students)])


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
    """TOML lists of numbers are compared as arrays; `{ tuple = [...] }` as tuples."""
    from .inputs import Sequence

    if isinstance(value, Sequence):
        return tuple(_literal(v) for v in value.items)
    if (
        isinstance(value, list)
        and value
        and all(isinstance(v, int | float | list) and not isinstance(v, bool) for v in value)
    ):
        return np.array(value, dtype=np.float64)
    return value
