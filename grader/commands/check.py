"""`grader check NOTEBOOK`: grade one notebook and explain every check (students, CI)."""

from __future__ import annotations

import os
import sys

import click

from ..reporters import FORMATS
from .common import (
    backend_option,
    fail,
    limit_options,
    load_course_or_fail,
    make_limits,
    make_policy,
    rubric_or_fail,
    warn_once,
    write_report,
)


def _parse_reports(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> list[tuple[str, str]]:
    reports = []
    for value in values:
        fmt, sep, path = value.partition("=")
        if not sep or fmt not in FORMATS or not path:
            raise click.BadParameter(f"{value!r}: expected FORMAT=FILE with FORMAT one of {', '.join(FORMATS)}")
        reports.append((fmt, path))
    return reports


@click.command()
@click.argument("notebook", type=click.Path(dir_okay=False))
@click.option(
    "--assignment", "assignment_id", metavar="ID", help="Assignment id (default: detected from the notebook)."
)
@click.option(
    "--exercise",
    metavar="ID",
    help="Only this exercise's public checks (e.g. ex3), while you work on it; hidden checks never run.",
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option(
    "--output",
    "output",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="Write the report to FILE instead of stdout.",
)
@click.option(
    "--report",
    "reports",
    metavar="FORMAT=FILE",
    multiple=True,
    callback=_parse_reports,
    help="Also write the report in FORMAT to FILE (repeatable), from the same run.",
)
@click.option(
    "--exit-zero",
    is_flag=True,
    help="Exit 0 whenever the notebook was graded (platforms that read the score from a file).",
)
@limit_options
@backend_option
def check(
    notebook: str,
    assignment_id: str | None,
    exercise: str | None,
    fmt: str,
    output: str | None,
    reports: list[tuple[str, str]],
    exit_zero: bool,
    backend: str,
    **limits: object,
) -> None:
    """Grade one NOTEBOOK and explain every check."""
    from ..grading import Grader, not_graded

    lim = make_limits(**limits)  # type: ignore[arg-type]
    grader = Grader(lim, policy=make_policy(lim, backend))
    if _looks_like_json(notebook):  # other files are graded below into a proper result, without a kernel
        # First of all: the warm parent imports torch (~1.3 s) while we import the rest of the
        # engine and load the notebook and the course (~0.4 s, which would otherwise come first).
        grader.start()
    from ..reporters import render

    try:
        course = load_course_or_fail()
        for problem in course.problems.values():
            click.echo(f"grader: warning: a rubric could not be loaded: {problem}", err=True)
        if assignment_id is not None:
            rubric_or_fail(course, assignment_id)
        grader.course = course
        try:
            result = grader.grade(notebook, assignment_id, exercise=exercise)
        except Exception as exc:  # a bug of ours: still reported, still one line, still exit 2
            rubric = course.assignments.get(assignment_id or "")
            message = f"internal error: {type(exc).__name__}: {exc}"
            result = not_graded(rubric, os.path.basename(notebook), "internal-error", message)
    except KeyboardInterrupt:  # Ctrl-C: the kernel is killed with the grader, nothing is reported
        grader.close()
        click.echo("grader: interrupted; nothing was graded", err=True)
        sys.exit(130)
    finally:
        grader.close()
    warn_once(result.warnings)
    for report_fmt, path in reports:
        write_report(path, render(report_fmt, result))
    text = render(fmt, result)
    if output:
        write_report(output, text)
    else:
        click.echo(text, nl=False)
    if not result.usable:
        fail(result.errors[0].message)
    sys.exit(0 if exit_zero or result.all_passed else 1)


def _looks_like_json(path: str) -> bool:
    """A file staging would read (regular, not a link, its data's only name) whose first
    non-blank byte opens a JSON object: worth warming a kernel for. The full checks come later;
    this only spares files staging refuses, and obviously unusable ones, a warm parent, and never
    follows a link or opens a FIFO (which could block)."""
    from ..staging import file_problem

    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return False
    with os.fdopen(fd, "rb") as f:
        if file_problem(path, os.fstat(fd)):
            return False
        head = f.read(4096).lstrip(b" \t\r\n\xef\xbb\xbf")
    return head.startswith(b"{")
