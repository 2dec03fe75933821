"""What several commands share: limit flags, the one-line failure, reports, the course.

Exit codes: 0 success (for `check`: all checks passed), 1 something failed (a check, a
verification), 2 unusable input or an internal error — always with a one-line reason on
stderr, never a traceback.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import click

from ..limits import Limits, parse_size

F = TypeVar("F", bound=Callable[..., Any])


class SizeType(click.ParamType):
    name = "SIZE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        try:
            return parse_size(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class SecondsType(click.FloatRange):
    """A positive, finite number of seconds (FloatRange alone lets 'nan' and 'inf' through)."""

    def __init__(self) -> None:
        super().__init__(min=0, min_open=True)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        seconds = super().convert(value, param, ctx)
        if not math.isfinite(seconds):
            self.fail(f"{value!r} is not a finite number of seconds", param, ctx)
        return seconds


SIZE = SizeType()
SECONDS = SecondsType()


def limit_options(func: F) -> F:
    """The resource-limit flags shared by `check` and `grade`."""
    defaults = Limits()
    options = [
        click.option(
            "--cell-timeout",
            type=SECONDS,
            default=defaults.cell_timeout,
            show_default=True,
            metavar="SECONDS",
            help="Time limit for one cell.",
        ),
        click.option(
            "--timeout",
            type=SECONDS,
            default=defaults.timeout,
            show_default=True,
            metavar="SECONDS",
            help="Time limit for the whole notebook.",
        ),
        click.option(
            "--memory-limit", type=SIZE, default="4GiB", show_default=True, help="Memory the notebook may allocate."
        ),
        click.option(
            "--output-limit",
            type=SIZE,
            default="1MiB",
            show_default=True,
            help="Output kept per cell (4x that per notebook).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def backend_option(func: F) -> F:
    """`--backend`: where kernels come from (the same choice for every path of a run)."""
    from ..policy import BACKENDS

    return click.option(
        "--backend",
        type=click.Choice(BACKENDS),
        default="auto",
        show_default=True,
        help="Kernels from the Linux fork server (namespaces, control groups) or a plain portable ipykernel.",
    )(func)


def make_policy(limits: Limits, backend: str) -> Any:
    from ..policy import SandboxPolicy

    return SandboxPolicy.from_limits(limits, backend)


def make_limits(cell_timeout: float, timeout: float, memory_limit: int, output_limit: int) -> Limits:
    return Limits(
        cell_timeout=cell_timeout,
        timeout=timeout,
        memory=memory_limit,
        output=output_limit,
        total_output=4 * output_limit,
    )


def fail(message: str) -> NoReturn:
    """The one-line reason on stderr, exit 2."""
    click.echo(f"grader: {message}", err=True)
    sys.exit(2)


def write_report(path: str, text: str) -> None:
    """Write a whole report or nothing (a platform may read the file as soon as it exists)."""
    from ..files import write_atomic

    try:
        write_atomic(path, text)
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror or exc}")


def load_course_or_fail(strict: bool = False) -> Any:
    """The course, or exit 2 with why it cannot be used. `strict`: a broken rubric fails too."""
    from ..course import CourseError, load_course

    try:
        course = load_course()
    except CourseError as exc:
        fail(str(exc))
    if strict and course.problems:
        fail("; ".join(course.problems.values()))
    return course


def rubric_or_fail(course: Any, assignment_id: str) -> Any:
    """The assignment named `assignment_id`, or exit 2 naming the known ones (or its problem)."""
    from ..course import UnknownAssignment

    try:
        return course.get(assignment_id)
    except UnknownAssignment as exc:
        fail(str(exc))


_WARNED: set[str] = set()


def warn_once(messages: list[str]) -> None:
    """Say each warning about the run once per process (a batch has many results)."""
    for message in messages:
        if message not in _WARNED:
            _WARNED.add(message)
            click.echo(f"grader: warning: {message}", err=True)
