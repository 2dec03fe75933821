"""Build test notebooks in code: the reference notebook with edits, or cells from scratch.

`variant()` insists that every text it replaces is really there, so a test can never
silently stop testing what it claims when the reference notebook changes.
"""

from __future__ import annotations

import os

import nbformat

from grader.course import course_root


def reference_path(notebook: str) -> str:
    """The solved notebook of the course under test ($D2L_GRADER_COURSE or the bundled one)."""
    return os.path.join(course_root(), "reference", notebook)


def variant(
    notebook: str,
    out_dir,
    replace: dict[str, str] | None = None,
    append: list[str] | None = None,
    name: str | None = None,
    keep_metadata: bool = True,
) -> str:
    """Copy reference/<notebook>, replacing code text and appending code cells."""
    nb = nbformat.read(reference_path(notebook), as_version=4)
    for old, new in (replace or {}).items():
        hits = [c for c in nb.cells if c.cell_type == "code" and old in c.source]
        assert hits, f"{old!r} not found in the code of reference/{notebook}"
        for cell in hits:
            cell.source = cell.source.replace(old, new)
    for source in append or []:
        nb.cells.append(nbformat.v4.new_code_cell(source))
    if not keep_metadata:
        nb.metadata.pop("d2l_grader", None)
    path = os.path.join(str(out_dir), name or notebook)
    nbformat.write(nb, path)
    return path


def notebook_of(cells: list[str]) -> nbformat.NotebookNode:
    """A notebook whose code cells are `cells` (a string starting with '#md ' becomes markdown)."""
    nb = nbformat.v4.new_notebook()
    for source in cells:
        if source.startswith("#md "):
            nb.cells.append(nbformat.v4.new_markdown_cell(source[4:]))
        else:
            nb.cells.append(nbformat.v4.new_code_cell(source))
    return nb


def from_cells(out_dir, cells: list[str], name: str = "submission.ipynb", assignment: str | None = None) -> str:
    """`notebook_of(cells)` written to `out_dir/name`, with our metadata naming `assignment` if given."""
    nb = notebook_of(cells)
    if assignment:
        nb.metadata["d2l_grader"] = {"assignment": assignment}
    path = os.path.join(str(out_dir), name)
    nbformat.write(nb, path)
    return path


def statuses(result) -> dict[str, str]:
    return {c.id: c.status for c in result.checks}


def lost(result) -> dict[str, float]:
    """Points lost per check (only checks that lost points)."""
    return {c.id: c.max_score - c.score for c in result.checks if c.score < c.max_score}
