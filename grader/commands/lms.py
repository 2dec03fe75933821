"""`grader export canvas|moodle`: a batch's gradebook as an LMS grade-import file.

Exit codes: 0 the file was written (students it could not place are listed on stderr, one line
each), 1 no student could be placed (nothing written), 2 unusable input (gradebook, roster,
Gradescope metadata) with a one-line reason.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from .common import fail, write_report

F = TypeVar("F", bound=Callable[..., Any])


@click.group()
def export() -> None:
    """Turn a batch gradebook (grades.csv from `grader grade`) into an LMS grade-import CSV."""


def _lookup(roster: str | None, submissions: str | None, classroom_prefix: str | None) -> Any:
    """The roster and Gradescope metadata, or exit 2 with why they cannot be read."""
    from ..export import Lookup
    from ..roster import GRADESCOPE_METADATA, RosterError, read_gradescope_metadata, read_roster

    metadata = None
    if submissions:
        path = os.path.join(submissions, GRADESCOPE_METADATA) if os.path.isdir(submissions) else submissions
        if os.path.exists(path):
            try:
                metadata = read_gradescope_metadata(path)
            except RosterError as exc:
                fail(str(exc))
    try:
        entries = read_roster(roster) if roster else None
    except RosterError as exc:
        fail(str(exc))
    return Lookup(roster=entries, classroom_prefix=classroom_prefix, gradescope=metadata)


def _export(
    lms: str, gradebook: str, output: str | None, lookup: Any, plan: Callable[..., Any], render: Callable[..., str]
) -> None:
    from dataclasses import replace

    from ..export import ExportError, gradebook_path, points_possible, problems, read_gradebook, recorded_names

    try:
        rows = read_gradebook(gradebook)
        maximum = points_possible(rows)
        lookup = replace(lookup, recorded=recorded_names(gradebook, [row.student for row in rows]))
        placed = plan(rows, lookup)
    except ExportError as exc:
        fail(str(exc))
    warnings = [f"grader: warning: {line}" for line in problems(rows) + placed.unplaced + placed.clashes]
    warnings += [f"grader: note: {line}" for line in placed.notes]
    if placed.considered and not placed.placed:
        for line in warnings:
            click.echo(line, err=True)
        click.echo("grader: no student could be placed in the import file; nothing written", err=True)
        sys.exit(1)
    text = render(placed, maximum)
    if output == "-":
        click.echo(text, nl=False)
    else:  # written first: a file that cannot be written is the one line the instructor sees
        target = output or os.path.join(os.path.dirname(os.path.abspath(gradebook_path(gradebook))), f"{lms}.csv")
        write_report(target, text)
        click.echo(f"wrote {target}")
    for line in warnings:
        click.echo(line, err=True)


_EXPORT_OPTIONS = [
    click.argument("gradebook", type=click.Path(exists=True)),
    click.option("--assignment-name", required=True, metavar="NAME", help="The grade column's name in the LMS."),
    click.option(
        "--roster",
        type=click.Path(dir_okay=False),
        metavar="CSV",
        help="Students and their LMS identifiers (a Canvas gradebook export, a Moodle participants export, ...).",
    ),
    click.option(
        "--submissions",
        type=click.Path(exists=True),
        metavar="PATH",
        help="The folder that was graded, for its Gradescope submission_metadata.yml (or that file).",
    ),
    click.option(
        "--classroom-prefix",
        metavar="NAME",
        help="GitHub Classroom: the assignment prefix of the <prefix>-<username> repositories.",
    ),
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
    help="Canvas column for student ids that are no LMS download name (a Canvas download name gives ID).",
)
def export_canvas(
    gradebook: str,
    assignment_name: str,
    roster: str | None,
    submissions: str | None,
    classroom_prefix: str | None,
    skip_errors: bool,
    output: str | None,
    id_column: str,
) -> None:
    """Canvas gradebook import (Student, ID, SIS User ID, SIS Login ID, Section, NAME)."""
    from ..export import plan_canvas, render_canvas

    _export(
        "canvas",
        gradebook,
        output,
        _lookup(roster, submissions, classroom_prefix),
        lambda rows, lookup: plan_canvas(rows, id_column, skip_errors, lookup),
        lambda plan, maximum: render_canvas(plan, assignment_name, maximum),
    )


@export.command("moodle")
@export_options
@click.option(
    "--id-field",
    type=click.Choice(["email", "idnumber", "username", "participant"]),
    default="email",
    show_default=True,
    help="Moodle user field to match on; 'participant' writes the assignment's grading worksheet instead.",
)
def export_moodle(
    gradebook: str,
    assignment_name: str,
    roster: str | None,
    submissions: str | None,
    classroom_prefix: str | None,
    skip_errors: bool,
    output: str | None,
    id_field: str,
) -> None:
    """Moodle CSV grade import (identifier column, grade column), or the grading worksheet."""
    from ..export import plan_moodle, render_moodle

    _export(
        "moodle",
        gradebook,
        output,
        _lookup(roster, submissions, classroom_prefix),
        lambda rows, lookup: plan_moodle(rows, id_field, skip_errors, lookup),
        lambda plan, maximum: render_moodle(plan, assignment_name, id_field),
    )
