"""Reporters turn GradeResults into text for people and files for machines.

Each reporter only reads results; none of them runs or scores anything.
"""

from __future__ import annotations

from collections.abc import Callable

from ..results import GradeResult

Renderer = Callable[..., str]

# Formats that hand a total to a grading platform. They are told the assignment's points, so
# a file that could not be graded at all (no checks in the result) still counts 0 out of the
# real total rather than 0/0, which GitHub Classroom would silently ignore.
TOTAL_FORMATS = ("gradescope", "github")


def renderers() -> dict[str, Renderer]:
    from . import github, gradescope, json_report, junit, text

    return {
        "text": text.render,
        "json": json_report.render,
        "junit": junit.render,
        "gradescope": gradescope.render,
        "github": github.render,
    }


def render(fmt: str, result: GradeResult, max_score: float | None = None) -> str:
    """Render `result` as `fmt`; `max_score` is the assignment's points when known."""
    renderer = renderers()[fmt]
    if fmt in TOTAL_FORMATS:
        return renderer(result, max_score=max_score)
    return renderer(result)


FORMATS = tuple(renderers())
