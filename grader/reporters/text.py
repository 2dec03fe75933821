"""The student-facing report: a table per exercise, points, and why each check failed."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table

from ..results import PASSED, GradeResult

_MARK = {"passed": "[green]passed[/]", "failed": "[red]failed[/]", "error": "[yellow]error[/]"}


def render(result: GradeResult, width: int = 100) -> str:
    buf = io.StringIO()
    console = Console(file=buf, width=width, force_terminal=False, color_system=None, highlight=False)
    title = result.assignment or "unknown assignment"
    console.print(f"[bold]{result.notebook}[/] — assignment [bold]{title}[/]")
    for error in result.errors:
        console.print(f"  ! {error.message}")
    exercises: dict[str, list] = {}
    for check in result.checks:
        exercises.setdefault(check.exercise, []).append(check)
    for exercise, checks in exercises.items():
        got = sum(c.score for c in checks)
        total = sum(c.max_score for c in checks)
        table = Table(title=f"{exercise}: {got:g}/{total:g}", title_justify="left", expand=True, show_lines=False)
        table.add_column("check", no_wrap=True)
        table.add_column("points", justify="right", no_wrap=True)
        table.add_column("result", no_wrap=True)
        table.add_column("why", ratio=1)
        for c in checks:
            name = c.id + (" (hidden)" if c.hidden else "")
            why = "" if c.status == PASSED else c.message
            table.add_row(name, f"{c.score:g}/{c.max_score:g}", _MARK.get(c.status, c.status), why)
        console.print(table)
    if result.manual:
        console.print("Collected for manual grading:")
        for item in result.manual:
            state = f"{len(item.answer)} characters" if item.answer else "no answer found"
            console.print(f"  - {item.id} ({item.exercise}): {state}")
    if result.checks:
        console.print(f"[bold]Score: {result.score:g}/{result.max_score:g}[/]")
    return buf.getvalue().rstrip() + "\n"
