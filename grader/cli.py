"""The `grader` command line. Commands are thin: parse options, call the library, print.

Exit codes of `check`: 0 all checks passed, 1 some failed, 2 unusable input or an
internal error (always with a one-line reason on stderr).
"""
from __future__ import annotations

import sys

import click

from . import __version__
from .limits import Limits, parse_size
from .reporters import FORMATS, renderers


class SizeType(click.ParamType):
    name = "SIZE"

    def convert(self, value, param, ctx):  # type: ignore[no-untyped-def]
        if isinstance(value, int):
            return value
        try:
            return parse_size(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


SIZE = SizeType()
SECONDS = click.FloatRange(min=0, min_open=True)


def limit_options(func):  # type: ignore[no-untyped-def]
    """The resource-limit flags shared by `check` and `grade`."""
    defaults = Limits()
    options = [
        click.option("--cell-timeout", type=SECONDS, default=defaults.cell_timeout, show_default=True, metavar="SECONDS", help="Time limit for one cell."),
        click.option("--timeout", type=SECONDS, default=defaults.timeout, show_default=True, metavar="SECONDS", help="Time limit for the whole notebook."),
        click.option("--memory-limit", type=SIZE, default="4GiB", show_default=True, help="Memory the notebook may allocate."),
        click.option("--output-limit", type=SIZE, default="1MiB", show_default=True, help="Output kept per cell (4x that per notebook)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def make_limits(cell_timeout: float, timeout: float, memory_limit: int, output_limit: int) -> Limits:
    return Limits(
        cell_timeout=cell_timeout,
        timeout=timeout,
        memory=memory_limit,
        output=output_limit,
        total_output=4 * output_limit,
    )


def fail(message: str) -> None:
    click.echo(f"grader: {message}", err=True)
    sys.exit(2)


@click.group()
@click.version_option(__version__, prog_name="grader")
def main() -> None:
    """Grade the d2l.ai convolution chapter's exercises."""


@main.command()
@click.argument("notebook", type=click.Path(dir_okay=False))
@click.option("--assignment", "assignment_id", metavar="ID", help="Assignment id (default: detected from the notebook).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@limit_options
def check(notebook: str, assignment_id: str | None, fmt: str, **limits: object) -> None:
    """Grade one NOTEBOOK and explain every check."""
    from .grading import grade_notebook
    from .rubric import RubricError, load_all

    lim = make_limits(**limits)  # type: ignore[arg-type]
    try:
        rubrics = load_all()
    except RubricError as exc:
        fail(str(exc))
    rubric = None
    if assignment_id is not None:
        if assignment_id not in rubrics:
            fail(f"unknown assignment {assignment_id!r}; known: {', '.join(sorted(rubrics))}")
        rubric = rubrics[assignment_id]
    try:
        result = grade_notebook(notebook, rubric, lim)
    except Exception as exc:  # a bug of ours: still one line, still exit 2
        fail(f"internal error: {type(exc).__name__}: {exc}")
    click.echo(renderers()[fmt](result), nl=False)
    if not result.usable:
        click.echo(f"grader: {result.errors[0].message}", err=True)
        sys.exit(2)
    sys.exit(0 if result.all_passed else 1)


@main.command("list")
def list_assignments() -> None:
    """List assignments, their exercises and points."""
    from .rubric import RubricError, load_all

    try:
        rubrics = load_all()
    except RubricError as exc:
        fail(str(exc))
    for rubric in sorted(rubrics.values(), key=lambda r: r.section):
        click.echo(f"{rubric.id:<22} {rubric.section:<5} {rubric.title} — {rubric.max_score:g} points")
        for exercise in rubric.exercises:
            points = sum(c.points for c in rubric.checks if c.exercise == exercise.id)
            manual = sum(1 for m in rubric.manual if m.exercise == exercise.id)
            extra = f", {manual} free-text item(s)" if manual else ""
            click.echo(f"    {exercise.id:<10} {points:>4g} pts{extra}  {exercise.title}")


@main.command()
@click.argument("assignment_ids", nargs=-1, metavar="[ID]...")
def verify(assignment_ids: tuple[str, ...]) -> None:
    """Grade every reference notebook; fail unless each scores 100%."""
    import os

    from .course import course_root
    from .grading import Grader
    from .rubric import RubricError, load_all

    try:
        rubrics = load_all()
    except RubricError as exc:
        fail(str(exc))
    unknown = [a for a in assignment_ids if a not in rubrics]
    if unknown:
        fail(f"unknown assignment(s) {', '.join(unknown)}; known: {', '.join(sorted(rubrics))}")
    chosen = [rubrics[a] for a in assignment_ids] or sorted(rubrics.values(), key=lambda r: r.section)
    failures = 0
    with Grader() as grader:
        for rubric in chosen:
            path = os.path.join(course_root(), "reference", rubric.notebook)
            if not os.path.exists(path):
                click.echo(f"FAIL {rubric.id}: no reference notebook at reference/{rubric.notebook}")
                failures += 1
                continue
            result = grader.grade(path, rubric)
            ok = result.all_passed and result.score == result.max_score
            click.echo(f"{'ok  ' if ok else 'FAIL'} {rubric.id}: {result.score:g}/{result.max_score:g}")
            if not ok:
                failures += 1
                for error in result.errors:
                    click.echo(f"     ! {error.message}")
                for c in result.checks:
                    if c.status != "passed":
                        click.echo(f"     {c.id}: {c.status}: {c.message}")
    sys.exit(1 if failures else 0)


def _register_batch() -> None:
    from .cli_grade import grade

    main.add_command(grade)


_register_batch()


if __name__ == "__main__":
    main()
