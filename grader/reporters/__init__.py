"""Reporters turn GradeResults into text for people and files for machines.

Each reporter only reads results; none of them runs or scores anything.
"""

from __future__ import annotations

from collections.abc import Callable

from ..results import GradeResult

Renderer = Callable[..., str]


def renderers() -> dict[str, Renderer]:
    from . import github, gradescope, json_report, junit, text

    return {
        "text": text.render,
        "json": json_report.render,
        "junit": junit.render,
        "gradescope": gradescope.render,
        "github": github.render,
    }


def render(fmt: str, result: GradeResult) -> str:
    """Render `result` as `fmt` (one of FORMATS)."""
    return renderers()[fmt](result)


# Named here rather than taken from renderers(), which imports every reporter (rich,
# junitparser): the CLI needs the names to parse its options before it starts any work.
FORMATS = ("text", "json", "junit", "gradescope", "github")
