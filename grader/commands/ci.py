"""`grader init-ci github` and `grader gradescope-bundle`: grading in CI and on Gradescope."""

from __future__ import annotations

import os

import click

from .common import fail, load_course_or_fail, rubric_or_fail


@click.command("init-ci")
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
    from .. import ci

    rubric = rubric_or_fail(load_course_or_fail(), assignment_id)
    try:
        path = ci.write_github_workflow(directory, rubric, notebook, force)
    except (ci.CIError, OSError) as exc:
        fail(str(exc))
    lock = os.path.join(directory, ci.LOCK_PATH)
    click.echo(
        f"wrote {path} and {lock} (the pinned environment it installs); "
        "edit the lines marked EDIT (where the course publishes the grader and its rubrics)"
    )


@click.command("gradescope-bundle")
@click.argument("assignment_id", metavar="ID")
@click.option(
    "--out", default="autograder.zip", show_default=True, type=click.Path(dir_okay=False), help="Zip file to write."
)
def gradescope_bundle(assignment_id: str, out: str) -> None:
    """Build a Gradescope autograder zip for assignment ID."""
    from .. import bundle

    rubric = rubric_or_fail(load_course_or_fail(), assignment_id)
    try:
        names = bundle.write(rubric, out)
    except (bundle.BundleError, OSError) as exc:
        fail(str(exc))
    click.echo(
        f"wrote {out}: {len(names)} files, assignment {rubric.id} ({rubric.max_score:g} points); "
        "upload it as the autograder on Gradescope's Ubuntu 22.04 base image"
    )
