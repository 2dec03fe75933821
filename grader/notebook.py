"""Reading a submitted notebook: validation, assignment detection, free-text answers.

Everything a student can get wrong about the *file* is caught here and becomes one
clear sentence (`UnusableNotebook`), before any kernel is started.
"""

from __future__ import annotations

import ast
import json
import os
import re
from typing import Any

import nbformat

from .course import Course, UnknownAssignment
from .results import ManualItem
from .rubric import Rubric

MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024
METADATA_KEY = "d2l_grader"
ANSWER_PLACEHOLDER = "*Your answer here.*"  # what starter answer cells hold until the student writes


class UnusableNotebook(ValueError):
    """The file cannot be graded; str() is the one-line reason."""


def load(path: str) -> Any:
    """Read and validate a notebook (nbformat 4), or raise UnusableNotebook."""
    if not os.path.isfile(path):
        raise UnusableNotebook(f"{path}: no such file")
    size = os.path.getsize(path)
    if size > MAX_NOTEBOOK_BYTES:
        raise UnusableNotebook(
            f"{path}: the notebook is {size // 2**20} MiB, larger than the {MAX_NOTEBOOK_BYTES // 2**20} MiB limit (clear its outputs and try again)"
        )
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        raw = json.loads(text)
    except UnicodeDecodeError:
        raise UnusableNotebook(f"{path}: not a notebook (the file is not UTF-8 text)") from None
    except json.JSONDecodeError as exc:
        raise UnusableNotebook(f"{path}: not a notebook (invalid JSON at line {exc.lineno}: {exc.msg})") from None
    if not isinstance(raw, dict) or ("cells" not in raw and "worksheets" not in raw):
        raise UnusableNotebook(f"{path}: not a notebook (a JSON file without cells)")
    major = raw.get("nbformat")
    if major != 4:
        raise UnusableNotebook(
            f"{path}: notebook format {major} is not supported; open and save it in a current Jupyter (format 4)"
        )
    captured: dict[str, Any] = {}
    try:  # nbformat validates while reading; we only ask it to hand the error over
        nb = nbformat.reads(text, as_version=nbformat.NO_CONVERT, capture_validation_error=captured)
    except nbformat.ValidationError as exc:
        raise UnusableNotebook(f"{path}: the notebook is malformed ({_short(exc.message)})") from None
    except Exception as exc:  # anything nbformat chokes on is the file's fault
        raise UnusableNotebook(f"{path}: the notebook is malformed ({type(exc).__name__})") from None
    if captured.get("ValidationError") is not None:
        raise UnusableNotebook(f"{path}: the notebook is malformed ({_short(captured['ValidationError'].message)})")
    if not any(c.cell_type == "code" and c.source.strip() for c in nb.cells):
        raise UnusableNotebook(f"{path}: the notebook has no code cells to grade")
    return nb


def _short(text: str) -> str:
    return text.splitlines()[0][:200] if text else "invalid structure"


def defined_names(nb: Any) -> set[str]:
    """Top-level names the code cells bind, found without running anything."""
    names: set[str] = set()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        source = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    for sub in ast.walk(target):
                        if isinstance(sub, ast.Name):
                            names.add(sub.id)
    return names


def detect_assignment(nb: Any, path: str, course: Course) -> Rubric:
    """Metadata first, then the file name, then the names the notebook defines."""
    rubrics = course.assignments
    meta = nb.metadata.get(METADATA_KEY, {})
    if isinstance(meta, dict) and meta.get("assignment"):
        wanted = str(meta["assignment"])
        try:
            return course.get(wanted)
        except UnknownAssignment as exc:
            raise UnknownAssignment(f"the notebook names assignment {wanted!r}: {exc}") from None
    stem = _normalise(os.path.splitext(os.path.basename(path))[0])
    for rubric in rubrics.values():
        candidates = [rubric.id, os.path.splitext(rubric.notebook)[0], *rubric.aliases]
        if any(_normalise(c) and _normalise(c) in stem for c in candidates):
            return rubric
    names = defined_names(nb)
    scored = sorted(((len(names & r.names()) / max(1, len(r.names())), r.id) for r in rubrics.values()), reverse=True)
    if scored and scored[0][0] >= 0.5 and (len(scored) == 1 or scored[1][0] < scored[0][0]):
        return rubrics[scored[0][1]]
    raise UnknownAssignment(
        f"cannot tell which assignment this notebook is; pass --assignment with one of: {_choices(rubrics)}"
    )


def _normalise(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _choices(rubrics: dict[str, Rubric]) -> str:
    return ", ".join(sorted(rubrics))


def collect_manual(nb: Any, rubric: Rubric) -> list[ManualItem]:
    """Free-text answers from cells tagged `{"d2l_grader": {"answer": "<item id>"}}`."""
    answers: dict[str, list[str]] = {}
    for cell in nb.cells:
        meta = cell.metadata.get(METADATA_KEY, {})
        if isinstance(meta, dict) and isinstance(meta.get("answer"), str):
            answers.setdefault(meta["answer"], []).append(cell.source.strip())
    items = []
    for spec in rubric.manual:
        text = "\n\n".join(a for a in answers.get(spec.id, []) if a and a != ANSWER_PLACEHOLDER)
        items.append(
            ManualItem(id=spec.id, exercise=spec.exercise, prompt=spec.prompt, answer=text, max_score=spec.points)
        )
    return items
