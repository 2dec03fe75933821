"""How a cell's exception reads in the report (grader.execute's classification)."""

from __future__ import annotations

import pytest

from grader.execute import _classify_cell_error
from grader.limits import Limits


@pytest.mark.parametrize(
    "ename, evalue, said",
    [
        ("SyntaxError", "invalid syntax (2478712745.py, line 2)", "SyntaxError: invalid syntax (line 2 of the cell)"),
        (
            "SyntaxError",
            "unterminated string literal (detected at line 1) (/tmp/ipykernel_7/3062536318.py, line 1)",
            "SyntaxError: unterminated string literal (detected at line 1) (line 1 of the cell)",
        ),
        (
            "IndentationError",
            "expected an indented block after 'for' statement on line 1 (<ipython-input-4-9f2>, line 2)",
            "IndentationError: expected an indented block after 'for' statement on line 1 (line 2 of the cell)",
        ),
        # a file of the student's own keeps its name; other errors are left as they are
        ("SyntaxError", "invalid syntax (helpers.py, line 2)", "SyntaxError: invalid syntax (helpers.py, line 2)"),
        ("ValueError", "bad (2478712745.py, line 2)", "ValueError: bad (2478712745.py, line 2)"),
    ],
)
def test_a_syntax_error_names_the_line_of_the_cell_not_ipythons_file(ename, evalue, said):
    error = _classify_cell_error(3, ename, evalue, Limits())
    assert (error.kind, error.message, error.cell) == ("cell-error", f"cell 3 raised {said}", 3)
