"""The Python API (grader.api) as its users call it: a script, pytest, and a Jupyter cell."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from grader.api import Grader, GradeResult, grade_notebook, load_course

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = str(ROOT / "examples" / "submission.ipynb")
FULL = load_course().get("conv-layer").max_score  # the example's assignment; the example scores 16 of it


def readme_api_example() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Python API", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n(.+?)\n```", section, re.S)
    return code


def test_readme_python_api_example_runs_as_written():
    proc = subprocess.run(
        [sys.executable, "-c", readme_api_example()], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert f"16.0 / {FULL}" in proc.stdout  # as print() writes the two floats
    assert "min-kernel-size failed" in proc.stdout


def test_grade_notebook_returns_the_result_and_prints_nothing(capfd):
    result = grade_notebook(EXAMPLE)
    assert isinstance(result, GradeResult)
    assert (result.assignment, result.score, result.max_score) == ("conv-layer", 16.0, FULL)
    assert result.execution_time > 0
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # warnings travel in result.warnings, never on stderr


def test_one_grader_grades_many_notebooks_and_takes_ids_or_rubrics(tmp_path):
    course = load_course()
    starter = course.starter_notebook(course.get("conv-layer"))
    with Grader(course=course) as grader:
        first = grader.grade(EXAMPLE, "conv-layer")
        second = grader.grade(starter, course.get("conv-layer"))
        unknown = grader.grade(EXAMPLE, "no-such-assignment")
    assert (first.score, second.score) == (16.0, 0.0)
    assert not unknown.usable and "unknown assignment 'no-such-assignment'" in unknown.errors[0].message


def test_grade_notebook_works_inside_a_running_jupyter_kernel(tmp_path):
    """A cell of a real notebook calls the API while the kernel's own event loop is running."""
    cell = f"from grader.api import grade_notebook\nresult = grade_notebook({EXAMPLE!r})\nprint(result.score)"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell)])
    NotebookClient(nb, kernel_name="python3", timeout=240, resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = nb.cells[0].outputs
    assert [o.get("ename") for o in outputs if o.output_type == "error"] == []
    assert "".join(o.get("text", "") for o in outputs if o.output_type == "stream").strip() == "16.0"


def test_a_grader_whose_warm_parent_was_killed_starts_another_one():
    """A Grader kept for a whole Jupyter session (or a test session) outlives its warm parent
    when that is killed (the OOM killer, a stray kill): the next notebook gets a new one."""
    with Grader() as grader:
        assert grader.grade(EXAMPLE).score == 16.0
        grader.kill()  # the warm parent, and with it every kernel
        deadline = time.monotonic() + 30
        while grader.alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not grader.alive()
        again = grader.grade(EXAMPLE)
        assert (again.score, again.errors) == (16.0, []), again.errors
        assert grader.alive()
