"""The Python API: grade notebooks from a script, from pytest, or from a Jupyter cell.

    from grader.api import grade_notebook
    result = grade_notebook("examples/submission.ipynb")
    print(result.score, "/", result.max_score)
    for check in result.checks:
        print(check.id, check.status, check.message)

`grade_notebook` starts a warm kernel parent, grades one notebook and stops it. To grade
several, keep one `Grader` (a context manager) and call `grade()` on each: the parent's
start-up (importing torch, ~2 s) is paid once. Both work inside a running event loop,
e.g. a Jupyter kernel. Nothing is printed: problems with the notebook are in
`result.errors`, problems with the run (protections this machine lacks) in
`result.warnings`. Everything here is stable; other modules of `grader` are internals.
"""

from __future__ import annotations

from .course import Course, CourseError, UnknownAssignment, load_course
from .grading import Grader
from .limits import Limits
from .results import CheckResult, GradeResult, ManualItem, NotebookError
from .rubric import Rubric, RubricError

__all__ = [
    "CheckResult",
    "Course",
    "CourseError",
    "GradeResult",
    "Grader",
    "Limits",
    "ManualItem",
    "NotebookError",
    "Rubric",
    "RubricError",
    "UnknownAssignment",
    "grade_notebook",
    "load_course",
]


def grade_notebook(
    path: str,
    assignment: str | Rubric | None = None,
    limits: Limits | None = None,
    course: Course | str | None = None,
    exercise: str | None = None,
) -> GradeResult:
    """Grade one notebook and return its result (what `grader check` reports).

    `assignment`: an assignment id or a `Rubric` (default: detected from the notebook's
    metadata, file name or names). `limits`: resource limits (default `Limits()`).
    `course`: a `Course` or its folder (default: $D2L_GRADER_COURSE, else the bundled one).
    `exercise`: only that exercise's public checks (`grader check --exercise`).
    Never raises for anything the notebook does; raises `CourseError` for an unusable course.
    """
    the_course = load_course(course) if isinstance(course, str) or course is None else course
    with Grader(limits, course=the_course) as grader:
        return grader.grade(path, assignment, exercise=exercise)
