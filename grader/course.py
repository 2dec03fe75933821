"""A course: the content (exercises/, reference/, rubrics/, course.toml) the engine grades with.

The engine is separate from the content so a course can keep its own rubrics: set
`D2L_GRADER_COURSE` to a folder with `rubrics/` and `reference/`, or pass a path to
`load_course()`. By default the content beside the `grader` package is used.

Each assignment is loaded on its own: a broken rubric is reported (with its file, check
and key) in `Course.problems`, and every other assignment still loads and grades.
Chapter names, assignment lists and totals come from here, never from engine code.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field

import pydantic
from pydantic import Field

from .kinds.base import Strict
from .rubric import Rubric, RubricError, describe_error, load_rubric, rubric_paths

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

COURSE_ENV = "D2L_GRADER_COURSE"


class CourseError(ValueError):
    """The course folder cannot be used at all; str() is the one-line reason."""


class UnknownAssignment(LookupError):
    """No usable assignment of that id; str() names the known ones (or why it is broken)."""


class ChapterSpec(Strict):
    number: str = Field(min_length=1, description="the chapter's number, e.g. 6")
    title: str = Field(min_length=1)
    v1_number: str | None = Field(None, min_length=1, description="the same chapter's number in d2l v1.0, e.g. 7")


class CourseSpec(Strict):
    title: str = Field(min_length=1)
    numbering: str = Field("", description="which edition's section numbers the rubrics use")


class CourseFile(Strict):
    """`course.toml` at the course root (optional)."""

    course: CourseSpec
    chapter: list[ChapterSpec] = Field(default_factory=list)


def package_dir() -> str:
    return os.path.dirname(os.path.abspath(__file__))


def course_root(path: str | None = None) -> str:
    """The course folder: `path`, else $D2L_GRADER_COURSE, else the content beside the engine."""
    if path:
        return os.path.abspath(path)
    env = os.environ.get(COURSE_ENV)
    if env:
        return os.path.abspath(env)
    return os.path.dirname(package_dir())


def section_key(section: str) -> tuple[tuple[int, int, str], ...]:
    """'6.10' after '6.9': sections sort by their numbers (numbers before words, never compared)."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"[.\s]+", section))


@dataclass
class Course:
    root: str
    title: str
    numbering: str = ""
    chapters: dict[str, str] = field(default_factory=dict)  # number -> title
    v1_chapters: dict[str, str] = field(default_factory=dict)  # d2l v1.0's number -> title
    assignments: dict[str, Rubric] = field(default_factory=dict)  # id -> rubric, in section order
    problems: dict[str, str] = field(default_factory=dict)  # rubric file -> why it did not load

    def get(self, assignment_id: str) -> Rubric:
        if assignment_id in self.assignments:
            return self.assignments[assignment_id]
        for path, problem in self.problems.items():
            if os.path.splitext(os.path.basename(path))[0] == assignment_id:
                raise UnknownAssignment(f"assignment {assignment_id!r} could not be loaded: {problem}")
        raise UnknownAssignment(f"unknown assignment {assignment_id!r}; known: {', '.join(self.assignments) or 'none'}")

    def chapter_of(self, rubric: Rubric) -> str:
        number = rubric.section.split(".")[0]
        return self.chapters.get(number, "")

    def reference_notebook(self, rubric: Rubric) -> str:
        return os.path.join(self.root, "reference", rubric.notebook)

    def starter_notebook(self, rubric: Rubric) -> str:
        return os.path.join(self.root, "exercises", rubric.notebook)


def load_course(path: str | None = None) -> Course:
    """Load a course; each rubric on its own (see `Course.problems`)."""
    root = course_root(path)
    where = f"{COURSE_ENV}={root}" if not path and os.environ.get(COURSE_ENV) else root
    if not os.path.isdir(os.path.join(root, "rubrics")):
        raise CourseError(f"{where}: not a course folder (it has no rubrics/ folder)")
    spec = _course_file(root)
    course = Course(
        root=root,
        title=spec.course.title if spec else os.path.basename(root),
        numbering=spec.course.numbering if spec else "",
        chapters={c.number: c.title for c in spec.chapter} if spec else {},
        v1_chapters={c.v1_number: c.title for c in spec.chapter if c.v1_number} if spec else {},
    )
    loaded: list[Rubric] = []
    for rubric_path in rubric_paths(root):
        try:
            rubric = load_rubric(rubric_path, root)
        except RubricError as exc:
            course.problems[rubric_path] = str(exc)
            continue
        if any(r.id == rubric.id for r in loaded):
            course.problems[rubric_path] = f"{os.path.basename(rubric_path)}: assignment id {rubric.id!r} is used twice"
            continue
        loaded.append(rubric)
    course.assignments = {r.id: r for r in sorted(loaded, key=lambda r: (section_key(r.section), r.id))}
    return course


def _course_file(root: str) -> CourseFile | None:
    path = os.path.join(root, "course.toml")
    if not os.path.exists(path):
        return None
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CourseError(f"{path}: {exc}") from None
    try:
        return CourseFile.model_validate(data)
    except pydantic.ValidationError as exc:
        raise CourseError(f"{path}: " + "; ".join(describe_error(e, data) for e in exc.errors())) from None
