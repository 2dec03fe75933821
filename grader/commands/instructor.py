"""After `grader grade`: marking the free-text answers and giving each student feedback.

`grader review OUT_DIR` (a page on this machine), `grader manual export|import` (the same
marks as spreadsheets) and `grader feedback OUT_DIR` (a file per student). The work is done
in `grader.manual`, `grader.review` and `grader.feedback`; these commands parse, call, print.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import click

from .common import fail

if TYPE_CHECKING:
    from ..manual import GradedBatch

OUT_DIR = click.Path(exists=True, file_okay=False)


def _open(out_dir: str, need_items: bool = False) -> GradedBatch:
    """The batch folder, or exit 2 with why it cannot be used."""
    from ..manual import GradedBatch, ManualError

    try:
        batch = GradedBatch.open(out_dir)
    except ManualError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot read {out_dir}: {exc.strerror or exc}")
    if need_items and not batch.items:
        fail(f"assignment {batch.rubric.id!r} has no free-text ([[manual]]) items to mark")
    return batch


@click.command()
@click.argument("out_dir", type=OUT_DIR)
@click.option(
    "--port", type=click.IntRange(0, 65535), default=0, show_default=True, help="Port on 127.0.0.1 (0: any free port)."
)
@click.option("--no-browser", is_flag=True, help="Only print the address; do not open a browser.")
def review(out_dir: str, port: int, no_browser: bool) -> None:
    """Mark free-text answers in a local web page; saved to OUT_DIR/manual.json as you go."""
    from ..review import serve

    batch = _open(out_dir, need_items=True)
    try:
        serve(batch, port, open_browser=not no_browser, echo=lambda line: click.echo(line))
    except KeyboardInterrupt:
        click.echo(f"grader: review stopped; the marks are in {os.path.join(out_dir, 'manual.json')}", err=True)
        sys.exit(130)
    except OSError as exc:
        fail(f"cannot serve the review page on 127.0.0.1:{port}: {exc.strerror or exc}")


@click.group()
def manual() -> None:
    """Marks for free-text answers as spreadsheets: export them, mark, import them back."""


@manual.command("export")
@click.argument("out_dir", type=OUT_DIR)
def manual_export(out_dir: str) -> None:
    """Write OUT_DIR/manual/<item>.csv: every student's answer and mark so far, per item."""
    from ..manual import export_csv

    batch = _open(out_dir, need_items=True)
    try:
        paths = export_csv(batch)
    except OSError as exc:
        fail(f"cannot write {os.path.join(out_dir, 'manual')}: {exc.strerror or exc}")
    for path in paths:
        click.echo(f"wrote {path}")


def _out_dir_of(files: tuple[str, ...]) -> str:
    """The batch folder the files were exported from (OUT_DIR/manual/<item>.csv)."""
    parents = {os.path.dirname(os.path.abspath(f)) for f in files}
    (parent, *others) = parents
    out_dir = os.path.dirname(parent)
    if others or os.path.basename(parent) != "manual" or not os.path.isdir(os.path.join(out_dir, "results")):
        fail("cannot tell which batch these marks are for: give its folder with --out DIR")
    return out_dir


@manual.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--out", "out_dir", type=OUT_DIR, help="The batch folder (default: the one the files were exported to).")
def manual_import(files: tuple[str, ...], out_dir: str | None) -> None:
    """Merge marks from CSV files (columns student, item, points, comment) into manual.json."""
    from ..manual import ManualError, import_csv

    batch = _open(out_dir or _out_dir_of(files), need_items=True)
    try:
        count = import_csv(batch, list(files))
    except ManualError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot write the marks: {exc.strerror or exc}")
    click.echo(f"imported {count} mark(s) into {os.path.join(batch.out_dir, 'manual.json')}; grades.csv updated")


@click.command()
@click.argument("out_dir", type=OUT_DIR)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["html", "md", "both"]),
    default="both",
    show_default=True,
    help="HTML (one self-contained page each), Markdown, or both.",
)
def feedback(out_dir: str, fmt: str) -> None:
    """Write OUT_DIR/feedback/<student>.html/.md: score, checks, marks and comments, problems."""
    from ..feedback import write_feedback

    batch = _open(out_dir)
    formats = ("html", "md") if fmt == "both" else (fmt,)
    try:
        paths = write_feedback(batch, formats)
    except OSError as exc:
        fail(f"cannot write {os.path.join(out_dir, 'feedback')}: {exc.strerror or exc}")
    click.echo(
        f"wrote {len(paths)} feedback file(s) for {len(batch.students)} student(s) to {os.path.join(out_dir, 'feedback')}"
    )
