"""Reporters turn GradeResults into text for people and files for machines.

Each reporter only reads results; none of them runs or scores anything.
"""
from __future__ import annotations

from typing import Callable

from ..results import GradeResult

Renderer = Callable[[GradeResult], str]


def renderers() -> dict[str, Renderer]:
    from . import json_report, text

    return {"text": text.render, "json": json_report.render}


FORMATS = tuple(renderers())
