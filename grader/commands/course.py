"""Commands about the course itself: `list`, `verify`, `schema`, `build-notebooks`."""

from __future__ import annotations

import json
import os
import sys

import click

from ..course import Course
from ..rubric import ExerciseSpec, Rubric
from .common import fail, load_course_or_fail, write_report


@click.command("list")
@click.option(
    "--numbering",
    type=click.Choice(["v0.17", "v1"]),
    default="v0.17",
    show_default=True,
    help="Section and exercise numbers of d2l v0.17 (= d2l-zh 2.0) or of d2l v1.0.",
)
def list_assignments(numbering: str) -> None:
    """List assignments, their exercises and points (exit 1 if a rubric does not load)."""
    course = load_course_or_fail()
    if numbering == "v1":
        _list_v1(course)
    else:
        edition = f" ({course.numbering})" if course.numbering else ""
        click.echo(f"# {course.title}{edition}")
        chapter = None
        for rubric in course.assignments.values():
            number = rubric.section.split(".")[0]
            if number != chapter:
                chapter = number
                click.echo(f"## {number} {course.chapters.get(number, '')}".rstrip())
            click.echo(f"{rubric.id:<22} {rubric.section:<5} {rubric.title} — {rubric.max_score:g} points")
            for exercise in rubric.exercises:
                click.echo(f"    {exercise.id:<10} {_exercise_line(rubric, exercise)}  {exercise.title}")
    for problem in course.problems.values():
        click.echo(f"grader: rubric not loaded: {problem}", err=True)
    sys.exit(1 if course.problems else 0)


def _exercise_line(rubric: Rubric, exercise: ExerciseSpec) -> str:
    points = sum(c.points for c in rubric.checks if c.exercise == exercise.id)
    manual = sum(1 for m in rubric.manual if m.exercise == exercise.id)
    return f"{points:>4g} pts" + (f", {manual} free-text item(s)" if manual else "")


def _list_v1(course: Course) -> None:
    """The same assignments under d2l v1.0's numbers: sections and exercise numbers as that
    edition prints them; what v1.0 lacks is listed last, and said to be so."""
    from ..course import section_key

    click.echo(f"# {course.title} (d2l v1.0 numbering)")
    in_v1 = sorted(
        (r for r in course.assignments.values() if r.v1_section), key=lambda r: section_key(r.v1_section or "")
    )
    chapter = None
    for rubric in in_v1:
        section = rubric.v1_section or ""
        number = section.split(".")[0]
        if number != chapter:
            chapter = number
            click.echo(f"## {number} {course.v1_chapters.get(number, '')}".rstrip())
        click.echo(
            f"{rubric.id:<22} {section:<5} {rubric.title} — {rubric.max_score:g} points (v0.17: {rubric.section})"
        )
        # the section's own code first (both editions have it), then v1.0's exercise order
        for exercise in sorted(rubric.exercises, key=lambda e: (e.id != "section", e.v1 is None, e.v1 or 0)):
            if exercise.v1 is not None:
                where = f"ex. {exercise.v1}"
            else:
                where = "section code" if exercise.id == "section" else "not in v1.0"
            click.echo(f"    {exercise.id:<10} {where:<12} {_exercise_line(rubric, exercise)}  {exercise.title}")
    rest = [r for r in course.assignments.values() if not r.v1_section]
    if rest:
        click.echo("## not in d2l v1.0")
        for rubric in rest:
            click.echo(f"{rubric.id:<22} {rubric.section:<5} {rubric.title} — {rubric.max_score:g} points")


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
