"""Build the starter notebooks (exercises/) and solved notebooks (reference/) from one source.

Each `exercises/sources/<module>.py` defines ASSIGNMENT (the rubric id), NOTEBOOK (file
name) and CELLS, a list of cells:
  md(text)                      a markdown cell, same in both notebooks
  code(starter, solution=None)  a code cell; the solved notebook uses `solution` if given
  answer(item_id, solution)     a tagged markdown answer cell for a free-text item
Keeping one source means the starter and the solution can never drift apart.

Run: python exercises/build_notebooks.py
"""

from __future__ import annotations

import importlib.util
import os
import sys

import nbformat

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def md(text):
    return ("md", text.strip("\n"), None, None)


def code(starter, solution=None):
    return ("code", starter.strip("\n"), None if solution is None else solution.strip("\n"), None)


def answer(item_id, solution="", prompt="*Your answer here.*"):
    return ("answer", prompt, solution.strip("\n"), item_id)


def build(module_path: str, root: str = ROOT) -> list[str]:
    spec = importlib.util.spec_from_file_location("source", module_path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["exercises_build"] = sys.modules[__name__]
    spec.loader.exec_module(module)
    written = []
    for solved, folder in ((False, "exercises"), (True, "reference")):
        cells = []
        for kind, text, solution, item in module.CELLS:
            if kind == "md":
                cells.append(nbformat.v4.new_markdown_cell(text))
            elif kind == "code":
                cells.append(nbformat.v4.new_code_cell(solution if solved and solution is not None else text))
            else:
                cell = nbformat.v4.new_markdown_cell(solution if solved and solution else text)
                cell.metadata["d2l_grader"] = {"answer": item}
                cells.append(cell)
        nb = nbformat.v4.new_notebook(cells=cells)
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.metadata["d2l_grader"] = {"assignment": module.ASSIGNMENT}
        for i, cell in enumerate(nb.cells):  # stable ids keep diffs readable
            cell["id"] = f"{module.ASSIGNMENT}-{i:02d}"
        path = os.path.join(root, folder, module.NOTEBOOK)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        nbformat.write(nb, path)
        written.append(path)
    return written


def main() -> None:
    folder = os.path.join(HERE, "sources")
    for name in sorted(os.listdir(folder)):
        if name.endswith(".py") and not name.startswith("_"):
            for path in build(os.path.join(folder, name)):
                print("wrote", os.path.relpath(path, ROOT))


if __name__ == "__main__":
    main()
