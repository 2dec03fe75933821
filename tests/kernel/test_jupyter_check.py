"""`grader.check("ex3")` in a real Jupyter kernel (nbclient), as a student calls it while working."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]


def run(extra_cells: list[str], tmp_path) -> list:
    """The reference conv-layer notebook's code, then `extra_cells`; the executed extra cells."""
    reference = nbformat.read(ROOT / "reference" / "conv-layer.ipynb", as_version=4)
    cells = [nbformat.v4.new_code_cell(c.source) for c in reference.cells if c.cell_type == "code"]
    extra = [nbformat.v4.new_code_cell(source) for source in extra_cells]
    nb = nbformat.v4.new_notebook(cells=cells + extra)
    client = NotebookClient(
        nb, kernel_name="python3", timeout=120, allow_errors=True, resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    return extra


def text_of(cell) -> str:
    return "".join(o.get("text", "") or o.get("data", {}).get("text/plain", "") for o in cell.outputs)


def test_check_prints_the_exercise_table_from_the_live_kernel(tmp_path, rubrics):
    passing, failing, score, unknown = run(
        [
            'import grader\ngrader.check("ex3")',
            # the student changes an answer and checks again, without saving or restarting
            'def conv_matrix(K, in_shape):\n    return torch.zeros(4, 9)\n\ngrader.check("ex3")',
            'grader.check("ex3").score',
            'grader.check("ex9")',
        ],
        tmp_path,
    )
    report = text_of(passing)
    assert report.splitlines()[0] == "this notebook — assignment conv-layer, exercise ex3 (its public checks only)"
    assert "corr2d-matmul-example" in report and "conv-matrix-example" in report
    assert "(hidden)" not in report and "Score, exercise ex3's public checks: 2/2" in report
    again = text_of(failing)
    assert "failed" in again and "called as conv_matrix(" in again
    assert text_of(score).strip() == "1.0"
    (error,) = [o for o in unknown.outputs if o.output_type == "error"]
    exercises = ", ".join(e.id for e in rubrics["conv-layer"].exercises)  # section, ex1, ..., as the rubric lists them
    assert (error.ename, error.evalue) == ("CheckError", f"no exercise 'ex9' in conv-layer; its exercises: {exercises}")


def test_checks_left_in_a_handed_in_notebook_do_nothing_while_it_is_graded(grader, rubrics, tmp_path):
    """Students keep their `grader.check("ex3")` cells: graded, those are no-ops, not cell errors,
    and the engine itself stays out of the kernel's reach."""
    from nbfactory import variant

    path = variant(
        "conv-layer.ipynb",
        tmp_path,
        append=[
            'import grader\nassert grader.check("ex3") is None',
            "try:\n    import grader.api\nexcept ModuleNotFoundError:\n    engine_reachable = False\n"
            "else:\n    engine_reachable = True\nassert not engine_reachable",
        ],
    )
    result = grader.grade(path, rubrics["conv-layer"])
    assert result.errors == [] and result.score == result.max_score, result.errors
