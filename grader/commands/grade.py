"""`grader grade`: the instructor's batch command (progress bar, gradebook, summary)."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

if TYPE_CHECKING:
    from ..batch import BatchOutcome
    from ..rubric import Rubric

from .common import fail, limit_options, load_course_or_fail, make_limits, rubric_or_fail, warn_once


@click.command()
@click.argument("submissions", type=click.Path(file_okay=False))
@click.option("--assignment", "assignment_id", required=True, metavar="ID", help="Assignment id (see `grader list`).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option(
    "-j", "--jobs", type=click.IntRange(min=1), default=2, show_default=True, help="Notebooks graded at once."
)
@click.option(
    "--resume/--no-resume",
    default=True,
    show_default=True,
    help="Skip submissions already graded (same notebook, same rubric).",
)
@click.option(
    "--dask",
    "dask_address",
    metavar="ADDRESS",
    help="Grade on a Dask distributed scheduler (e.g. tcp://scheduler:8786).",
)
@limit_options
def grade(
    submissions: str,
    assignment_id: str,
    out_dir: str,
    jobs: int,
    resume: bool,
    dask_address: str | None,
    **limits: object,
) -> None:
    """Grade every submission in SUBMISSIONS (notebooks, or one folder per student)."""
    from ..forkserver import ForkServer

    # The warm parent takes ~2 s to import torch: start it before our own heavy imports.
    server = None if dask_address or not os.path.isdir(submissions) else ForkServer()
    from .. import batch
    from ..grading import Grader

    lim = make_limits(**limits)  # type: ignore[arg-type]
    grader = None
    client = None
    try:
        course = load_course_or_fail()
        rubric = rubric_or_fail(course, assignment_id)
        if server is not None:
            grader = Grader(lim, course=course, hide=(submissions,), server=server)
        try:
            found = batch.discover(submissions, rubric)
        except FileNotFoundError as exc:
            fail(str(exc))
        if not found:
            fail(f"{submissions}: no .ipynb files or student folders found")
        writer = batch.BatchWriter(out_dir, rubric)
        console = Console(stderr=True)
        counts = {"errors": 0, "timeouts": 0}
        progress = Progress(
            TextColumn("[bold]grading"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        task = progress.add_task("grading", total=len(found), status="")

        def on_start(total: int, skipped: int) -> None:
            progress.update(task, completed=skipped, status=f"{skipped} already graded" if skipped else "")

        def on_done(record: batch.BatchRecord) -> None:
            warn_once(record.result.warnings)
            status = record.result.status
            if status == "error":
                counts["errors"] += 1
            elif status == "timeout":
                counts["timeouts"] += 1
            progress.update(task, advance=1, status=f"errors {counts['errors']}, timeouts {counts['timeouts']}")

        if dask_address:
            try:
                grade_one, client = batch.dask_grader(dask_address, rubric, lim)
            except ImportError:
                fail("--dask needs the dask extra: pip install 'd2l-grader[dask]'")
        else:
            grade_one = batch.LocalGrading(grader, rubric, jobs)
        with progress:
            outcome = asyncio.run(
                batch.run_batch(
                    found, rubric, writer, grade_one, jobs=jobs, resume=resume, on_start=on_start, on_done=on_done
                )
            )
    finally:
        if grader is not None:
            grader.close()
        elif server is not None:
            server.close()
        if client is not None:
            client.close()
    _final_table(console, rubric, outcome, out_dir)
    sys.exit(0)


def _final_table(console: Console, rubric: Rubric, outcome: BatchOutcome, out_dir: str) -> None:
    from ..reporters.summary import pass_rates

    records = list(outcome.records.values())
    table = Table(
        title=f"{rubric.id}: {len(records)} submissions ({outcome.graded} graded now, {outcome.skipped} resumed)"
    )
    table.add_column("exercise")
    table.add_column("check")
    table.add_column("pass rate", justify="right")
    rates = pass_rates(rubric, records)
    for check in rubric.checks:
        table.add_row(check.exercise, check.id + (" (hidden)" if check.hidden else ""), f"{100 * rates[check.id]:.0f}%")
    console.print(table)
    if records:
        mean = sum(r.result.score for r in records) / len(records)
        console.print(f"mean score {mean:.2f}/{rubric.max_score:g}; results in {os.path.join(out_dir, 'grades.csv')}")
