"""The student-facing report: a table per exercise, points, and why each check failed."""

from __future__ import annotations

import io
import re

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..results import GradeResult

_MARK = {"passed": "[green]passed[/]", "failed": "[red]failed[/]", "error": "[yellow]error[/]"}
# Terminal control characters, C0 and C1 (colour codes, clear-screen, bell in student output), and lone
# surrogates (not encodable) have no place in a report printed to a terminal or written as UTF-8.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def _plain(text: str) -> str:
    """Text from outside (messages, file names, ids) shown as itself: never as Rich markup."""
    return escape(_CONTROL.sub("", text))


def render(result: GradeResult, width: int = 100) -> str:
    buf = io.StringIO()
    console = Console(  # force_jupyter=False: inside a notebook rich would display, not write to `buf`
        file=buf,
        width=width,
        force_terminal=False,
        force_jupyter=False,
        color_system=None,
        highlight=False,
        emoji=False,
    )
    title = result.assignment or "unknown assignment"
    part = f", exercise [bold]{_plain(result.exercise)}[/] (its public checks only)" if result.exercise else ""
    console.print(f"[bold]{_plain(result.notebook)}[/] — assignment [bold]{_plain(title)}[/]{part}")
    for error in result.errors:
        console.print(f"  ! {_plain(error.message)}")
    exercises: dict[str, list] = {}
    for check in result.checks:
        exercises.setdefault(check.exercise, []).append(check)
    for exercise, checks in exercises.items():
        got = sum(c.score for c in checks)
        total = sum(c.max_score for c in checks)
        table = Table(
            title=f"{_plain(exercise)}: {got:g}/{total:g}", title_justify="left", expand=True, show_lines=False
        )
        table.add_column("check", no_wrap=True)
        table.add_column("points", justify="right", no_wrap=True)
        table.add_column("result", no_wrap=True)
        table.add_column("why", ratio=1)
        for c in checks:
            name = _plain(c.id) + (" (hidden)" if c.hidden else "")
            # what the check is about (the rubric's description), then why it failed
            why = "\n".join(_plain(t) for t in (c.description, c.message) if t)  # a passed check's note too
            table.add_row(name, f"{c.score:g}/{c.max_score:g}", _MARK.get(c.status, _plain(c.status)), why)
        console.print(table)
    if result.manual:
        console.print("Collected for manual grading:")
        for item in result.manual:
            state = f"{len(item.answer)} characters" if item.answer.strip() else "no answer found"
            state += f": {_plain(item.found)}" if item.found else ""  # which cells, or where it looked
            console.print(f"  - {_plain(item.id)} ({_plain(item.exercise)}): {state}")
    # Always: a notebook that could not be run still counts 0 out of the assignment's total.
    label = f"Score, exercise {_plain(result.exercise)}'s public checks" if result.exercise else "Score"
    console.print(f"[bold]{label}: {result.score:g}/{result.max_score:g}[/]")
    return buf.getvalue().rstrip() + "\n"
