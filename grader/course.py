"""Where the course content (exercises/, reference/, rubrics/) lives.

The engine is separate from the content so a course can keep its own rubrics: set
`D2L_GRADER_COURSE` to a folder with `rubrics/` and `reference/`. By default the
content beside the `grader` package (this repository) is used.
"""

from __future__ import annotations

import os


def course_root() -> str:
    env = os.environ.get("D2L_GRADER_COURSE")
    if env:
        return os.path.abspath(env)
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def package_dir() -> str:
    return os.path.dirname(os.path.abspath(__file__))
