"""Building an assignment's starter and solved notebooks from one source file.

Each `exercises/sources/<module>.py` defines ASSIGNMENT (the rubric id), NOTEBOOK (file
name) and CELLS, a list made with the content API's cell constructors:

    md(text)                      a markdown cell, the same in both notebooks
    code(starter, solution=None)  a code cell; the solved notebook uses `solution` if given
    answer(item_id, solution)     a tagged markdown answer cell for a free-text item

`build()` writes `exercises/<NOTEBOOK>` (starter) and `reference/<NOTEBOOK>` (solved), so the
two can never drift apart. Run it with `grader build-notebooks`.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

from .notebook import ANSWER_PLACEHOLDER, METADATA_KEY

Cell = tuple[str, str, str | None, str | None]  # (kind, text, solution, answer item id)


def md(text: str) -> Cell:
    return ("md", text.strip("\n"), None, None)


def code(starter: str, solution: str | None = None) -> Cell:
    return ("code", starter.strip("\n"), None if solution is None else solution.strip("\n"), None)


def answer(item_id: str, solution: str = "", prompt: str = ANSWER_PLACEHOLDER) -> Cell:
    return ("answer", prompt, solution.strip("\n"), item_id)


def notebooks(source_path: str) -> tuple[str, Any, Any]:
    """(file name, starter notebook, solved notebook) of one source file."""
    import nbformat

    spec = importlib.util.spec_from_file_location("d2l_course_source", source_path)
    if spec is None or spec.loader is None:
        raise ValueError(f"{source_path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    built = []
    for solved in (False, True):
        cells = []
        for kind, text, solution, item in module.CELLS:
            if kind == "md":
                cells.append(nbformat.v4.new_markdown_cell(text))
            elif kind == "code":
                cells.append(nbformat.v4.new_code_cell(solution if solved and solution is not None else text))
            else:
                cell = nbformat.v4.new_markdown_cell(solution if solved and solution else text)
                cell.metadata[METADATA_KEY] = {"answer": item}
                cells.append(cell)
        nb = nbformat.v4.new_notebook(cells=cells)
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.metadata[METADATA_KEY] = {"assignment": module.ASSIGNMENT}
        for i, cell in enumerate(nb.cells):  # stable ids keep diffs readable
            cell["id"] = f"{module.ASSIGNMENT}-{i:02d}"
        built.append(nb)
    return module.NOTEBOOK, built[0], built[1]


def build(source_path: str, course_root: str) -> list[str]:
    """Write the starter (exercises/) and solved (reference/) notebooks of one source."""
    import nbformat

    name, starter, solved = notebooks(source_path)
    written = []
    for folder, nb in (("exercises", starter), ("reference", solved)):
        path = os.path.join(course_root, folder, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        nbformat.write(nb, path)
        written.append(path)
    return written


def sources(course_root: str) -> list[str]:
    folder = os.path.join(course_root, "exercises", "sources")
    if not os.path.isdir(folder):
        return []
    return [os.path.join(folder, n) for n in sorted(os.listdir(folder)) if n.endswith(".py") and not n.startswith("_")]
