"""`grader export canvas|moodle`: a batch's gradebook as an LMS grade-import file."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from .common import fail, write_report

F = TypeVar("F", bound=Callable[..., Any])


@click.group()
def export() -> None:
    """Turn a batch gradebook (grades.csv from `grader grade`) into an LMS grade-import CSV."""


def _export(
    lms: str,
    gradebook: str,
    output: str | None,
    render_csv: Callable[[Any], str],
    extra_problems: Callable[[Any], list[str]] | None = None,
) -> None:
    import os

    from ..export import ExportError, gradebook_path, problems, read_gradebook

    try:
        rows = read_gradebook(gradebook)
        text = render_csv(rows)
    except ExportError as exc:
        fail(str(exc))
    for line in problems(rows) + (extra_problems(rows) if extra_problems else []):
        click.echo(f"grader: warning: {line}", err=True)
    if output == "-":
        click.echo(text, nl=False)
        return
    target = output or os.path.join(os.path.dirname(os.path.abspath(gradebook_path(gradebook))), f"{lms}.csv")
    write_report(target, text)
    click.echo(f"wrote {target}")


_EXPORT_OPTIONS = [
    click.argument("gradebook", type=click.Path(exists=True)),
    click.option("--assignment-name", required=True, metavar="NAME", help="The grade column's name in the LMS."),
    click.option(
        "--skip-errors",
        is_flag=True,
        help="Leave out students whose notebook could not be graded (status error/timeout).",
    ),
    click.option(
        "--output",
        "-o",
        metavar="FILE",
        help="Where to write (default: <lms>.csv beside the gradebook; '-' for stdout).",
    ),
]


def export_options(func: F) -> F:
    for option in reversed(_EXPORT_OPTIONS):
        func = option(func)
    return func


@export.command("canvas")
@export_options
@click.option(
    "--id-column",
    type=click.Choice(["sis-login", "sis-user", "canvas-id"]),
    default="sis-login",
    show_default=True,
    help="Canvas column that holds the grader's student name.",
)
def export_canvas(gradebook: str, assignment_name: str, skip_errors: bool, output: str | None, id_column: str) -> None:
    """Canvas gradebook import (Student, ID, SIS User ID, SIS Login ID, Section, NAME)."""
    from ..export import canvas_csv

    _export("canvas", gradebook, output, lambda rows: canvas_csv(rows, assignment_name, id_column, skip_errors))


@export.command("moodle")
@export_options
@click.option(
    "--id-field",
    type=click.Choice(["email", "idnumber", "username"]),
    default="email",
    show_default=True,
    help="Moodle user field the grader's student names are.",
)
def export_moodle(gradebook: str, assignment_name: str, skip_errors: bool, output: str | None, id_field: str) -> None:
    """Moodle CSV grade import (identifier column, grade column)."""
    from ..export import moodle_csv, moodle_problems

    _export(
        "moodle",
        gradebook,
        output,
        lambda rows: moodle_csv(rows, assignment_name, id_field, skip_errors),
        lambda rows: moodle_problems(rows, id_field),
    )
