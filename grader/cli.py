"""The `grader` command line. Commands are thin: parse options, call the library, print.

Exit codes of `check`: 0 all checks passed, 1 some failed, 2 unusable input or an
internal error (always with a one-line reason on stderr).
"""

from __future__ import annotations

import sys

import click

from . import __version__
from .limits import Limits, parse_size
from .reporters import FORMATS


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


def _parse_reports(ctx, param, values):  # type: ignore[no-untyped-def]
    reports = []
    for value in values:
        fmt, sep, path = value.partition("=")
        if not sep or fmt not in FORMATS or not path:
            raise click.BadParameter(f"{value!r}: expected FORMAT=FILE with FORMAT one of {', '.join(FORMATS)}")
        reports.append((fmt, path))
    return reports


def write_report(path: str, text: str) -> None:
    """Write a whole report or nothing (a platform may read the file as soon as it exists)."""
    import os
    import tempfile

    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".grader-")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror or exc}")


@main.command()
@click.argument("notebook", type=click.Path(dir_okay=False))
@click.option(
    "--assignment", "assignment_id", metavar="ID", help="Assignment id (default: detected from the notebook)."
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
def check(
    notebook: str,
    assignment_id: str | None,
    fmt: str,
    output: str | None,
    reports: list[tuple[str, str]],
    exit_zero: bool,
    **limits: object,
) -> None:
    """Grade one NOTEBOOK and explain every check."""
    import os

    from . import grading
    from . import notebook as notebook_file
    from .reporters import render
    from .results import GradeResult, NotebookError
    from .rubric import RubricError, load_all

    lim = make_limits(**limits)  # type: ignore[arg-type]
    grader = grading.Grader(lim)
    try:
        notebook_file.load(notebook)
    except notebook_file.UnusableNotebook:
        pass  # graded below into a proper result; just do not warm up a kernel for it
    else:
        grader.start()  # the fork server imports torch while we load the rubrics
    try:
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
            result = grading.grade_notebook(notebook, rubric, lim, grader=grader)
        except Exception as exc:  # a bug of ours: still reported, still one line, still exit 2
            result = GradeResult(
                assignment_id,
                os.path.basename(notebook),
                errors=[NotebookError("internal-error", f"internal error: {type(exc).__name__}: {exc}")],
            )
    finally:
        grader.close()
    known = rubrics.get(result.assignment or "")
    max_score = known.max_score if known else None
    for report_fmt, path in reports:
        write_report(path, render(report_fmt, result, max_score))
    text = render(fmt, result, max_score)
    if output:
        write_report(output, text)
    else:
        click.echo(text, nl=False)
    if not result.usable:
        click.echo(f"grader: {result.errors[0].message}", err=True)
        sys.exit(2)
    sys.exit(0 if exit_zero or result.all_passed else 1)


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


# ----------------------------------------------------------------------------- CI and LMS
def load_rubric(assignment_id: str):  # type: ignore[no-untyped-def]
    """The rubric named `assignment_id`, or exit 2 with the known ids."""
    from .rubric import RubricError, load_all

    try:
        rubrics = load_all()
    except RubricError as exc:
        fail(str(exc))
    if assignment_id not in rubrics:
        fail(f"unknown assignment {assignment_id!r}; known: {', '.join(sorted(rubrics))}")
    return rubrics[assignment_id]


@main.command("init-ci")
@click.argument("platform", type=click.Choice(["github"]))
@click.argument("directory", default=".", type=click.Path(file_okay=False))
@click.option("--assignment", "assignment_id", required=True, metavar="ID", help="Assignment the repository is for.")
@click.option(
    "--notebook",
    metavar="NAME",
    help="The notebook's path in the student repository (default: the assignment's notebook).",
)
@click.option("--force", is_flag=True, help="Overwrite an existing workflow file.")
def init_ci(platform: str, directory: str, assignment_id: str, notebook: str | None, force: bool) -> None:
    """Write the autograding workflow into a student repository template DIRECTORY (default: .)."""
    from . import ci

    rubric = load_rubric(assignment_id)
    try:
        path = ci.write_github_workflow(directory, rubric, notebook, force)
    except (ci.CIError, OSError) as exc:
        fail(str(exc))
    click.echo(f"wrote {path}; edit the lines marked EDIT (where the course publishes the grader and its rubrics)")


@main.command("gradescope-bundle")
@click.argument("assignment_id", metavar="ID")
@click.option(
    "--out", default="autograder.zip", show_default=True, type=click.Path(dir_okay=False), help="Zip file to write."
)
def gradescope_bundle(assignment_id: str, out: str) -> None:
    """Build a Gradescope autograder zip for assignment ID."""
    from . import bundle

    rubric = load_rubric(assignment_id)
    try:
        names = bundle.write(rubric, out)
    except (bundle.BundleError, OSError) as exc:
        fail(str(exc))
    click.echo(
        f"wrote {out}: {len(names)} files, assignment {rubric.id} ({rubric.max_score:g} points); "
        "upload it as the autograder on Gradescope's Ubuntu 22.04 base image"
    )


@main.group()
def export() -> None:
    """Turn a batch gradebook (grades.csv from `grader grade`) into an LMS grade-import CSV."""


def _export(lms: str, gradebook: str, output: str | None, render_csv, extra_problems=None) -> None:  # type: ignore[no-untyped-def]
    import os

    from .export import ExportError, gradebook_path, problems, read_gradebook

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


def export_options(func):  # type: ignore[no-untyped-def]
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
    from .export import canvas_csv

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
    from .export import moodle_csv, moodle_problems

    _export(
        "moodle",
        gradebook,
        output,
        lambda rows: moodle_csv(rows, assignment_name, id_field, skip_errors),
        lambda rows: moodle_problems(rows, id_field),
    )


def entry() -> None:
    """Console entry point: `main`, then leave without the interpreter's slow teardown.

    A process that has imported torch spends ~0.5 s in interpreter finalisation. Every
    command has written and flushed its files by the time it exits, so we flush the
    standard streams and logging, and end the process directly.
    """
    import logging
    import os

    try:
        main(standalone_mode=True)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        logging.shutdown()
    finally:
        os._exit(code)


if __name__ == "__main__":
    entry()
