"""d2l-grader: grade Jupyter notebooks of a d2l.ai course, safely and exactly.

In a notebook, `import grader; grader.check("ex3")` runs one exercise's public checks on
what the kernel defines now (see `grader.jupyter`); everything else is `grader.api`.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def check(exercise: str, assignment: str | None = None) -> Any:
    """One exercise's public checks on this notebook's live names (`grader.jupyter.check`)."""
    from .jupyter import check as run

    return run(exercise, assignment)
