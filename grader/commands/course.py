"""Commands about the course itself: `list`, `verify`, `schema`, `build-notebooks`."""

from __future__ import annotations

import json
import os
import sys

import click

from .common import fail, load_course_or_fail, write_report


@click.command("list")
def list_assignments() -> None:
    """List assignments, their exercises and points (exit 1 if a rubric does not load)."""
    course = load_course_or_fail()
    numbering = f" ({course.numbering})" if course.numbering else ""
    click.echo(f"# {course.title}{numbering}")
    chapter = None
    for rubric in course.assignments.values():
        number = rubric.section.split(".")[0]
        if number != chapter:
            chapter = number
            click.echo(f"## {number} {course.chapters.get(number, '')}".rstrip())
        click.echo(f"{rubric.id:<22} {rubric.section:<5} {rubric.title} — {rubric.max_score:g} points")
        for exercise in rubric.exercises:
            points = sum(c.points for c in rubric.checks if c.exercise == exercise.id)
            manual = sum(1 for m in rubric.manual if m.exercise == exercise.id)
            extra = f", {manual} free-text item(s)" if manual else ""
            click.echo(f"    {exercise.id:<10} {points:>4g} pts{extra}  {exercise.title}")
    for problem in course.problems.values():
        click.echo(f"grader: rubric not loaded: {problem}", err=True)
    sys.exit(1 if course.problems else 0)


@click.command()
@click.argument("assignment_ids", nargs=-1, metavar="[ID]...")
def verify(assignment_ids: tuple[str, ...]) -> None:
    """Grade every reference notebook; fail unless each scores 100%."""
    from ..grading import Grader
    from .common import rubric_or_fail

    course = load_course_or_fail()
    chosen = [rubric_or_fail(course, a) for a in assignment_ids] or list(course.assignments.values())
    failures = 0
    if not assignment_ids:
        for problem in course.problems.values():
            click.echo(f"FAIL {problem}")
            failures += 1
    with Grader(course=course) as grader:
        for rubric in chosen:
            path = course.reference_notebook(rubric)
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


@click.command()
@click.option("--output", "-o", metavar="FILE", help="Write the schema to FILE instead of stdout.")
def schema(output: str | None) -> None:
    """Print the JSON Schema of rubric files (for editor completion of rubrics/*.toml)."""
    from ..rubric import json_schema

    text = json.dumps(json_schema(), indent=2) + "\n"
    if output:
        write_report(output, text)
    else:
        click.echo(text, nl=False)


@click.command("build-notebooks")
@click.option("--check", "check_only", is_flag=True, help="Only check that the committed notebooks are up to date.")
@click.argument("notebooks", nargs=-1, metavar="[NOTEBOOK]...")
def build_notebooks(check_only: bool, notebooks: tuple[str, ...]) -> None:
    """Write each assignment's starter and solved notebooks from exercises/sources/
    (only the NOTEBOOKs named, e.g. `alexnet.ipynb`, when some are given)."""
    import nbformat

    from .. import authoring

    course = load_course_or_fail()
    sources = authoring.sources(course.root)
    if not sources:
        fail(f"{course.root}: no notebook sources in exercises/sources/")
    built = [authoring.notebooks(source) for source in sources]
    unknown = sorted(set(notebooks) - {name for name, _, _ in built})
    if unknown:
        fail(f"no notebook source for {', '.join(unknown)}; there are: {', '.join(name for name, _, _ in built)}")
    stale = []
    for name, starter, solved in built:
        if notebooks and name not in notebooks:
            continue
        for folder, nb in (("exercises", starter), ("reference", solved)):
            path = os.path.join(course.root, folder, name)
            if check_only:
                try:
                    current = nbformat.read(path, as_version=4)
                except OSError:
                    stale.append(path)
                    continue
                same = [(c.cell_type, c.source, c.metadata) for c in current.cells] == [
                    (c.cell_type, c.source, c.metadata) for c in nb.cells
                ] and current.metadata == nb.metadata
                if not same:
                    stale.append(path)
            else:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                nbformat.write(nb, path)
                click.echo(f"wrote {os.path.relpath(path, course.root)}")
    for path in stale:
        click.echo(f"out of date: {os.path.relpath(path, course.root)} (run `grader build-notebooks`)", err=True)
    sys.exit(1 if stale else 0)
