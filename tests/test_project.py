"""The project as a newcomer meets it: README commands, CI, content in sync, all six assignments."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import nbformat
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def readme_commands() -> list[str]:
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    section = text.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section)


def test_ci_runs_the_readme_test_command():
    install_and_grade, install_and_test = readme_commands()
    assert "grader check examples/submission.ipynb" in install_and_grade
    assert "pytest" in install_and_test
    assert install_and_test in open(os.path.join(ROOT, ".ci", "run"), encoding="utf-8").read()


def test_example_submission_is_graded_with_its_two_mistakes():
    proc = subprocess.run(
        [sys.executable, "-m", "grader", "check", "examples/submission.ipynb"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1, proc.stderr
    assert "Score: 16/20" in proc.stdout
    assert "conv_matrix" in proc.stdout and "min_kernel_size" in proc.stdout


def test_list_shows_the_six_assignments_of_the_chapter():
    proc = subprocess.run(
        [sys.executable, "-m", "grader", "list"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0
    ids = [line.split()[0] for line in proc.stdout.splitlines() if line and not line.startswith(" ")]
    assert ids == ["why-conv", "conv-layer", "padding-and-strides", "channels", "pooling", "lenet"]


def test_verify_gives_every_reference_notebook_full_marks():
    proc = subprocess.run(
        [sys.executable, "-m", "grader", "verify"], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("ok   ") == 6


def test_starter_and_solved_notebooks_are_built_from_their_sources(tmp_path):
    sys.path.insert(0, os.path.join(ROOT, "exercises"))
    import build_notebooks

    sources = os.path.join(ROOT, "exercises", "sources")
    for name in sorted(os.listdir(sources)):
        if name.endswith(".py") and not name.startswith("_"):
            for built in build_notebooks.build(os.path.join(sources, name), root=str(tmp_path)):
                committed = os.path.join(ROOT, os.path.relpath(built, str(tmp_path)))
                a = nbformat.read(built, as_version=4)
                b = nbformat.read(committed, as_version=4)
                assert [(c.cell_type, c.source, c.metadata) for c in a.cells] == [
                    (c.cell_type, c.source, c.metadata) for c in b.cells
                ], committed
                assert a.metadata == b.metadata


@pytest.mark.parametrize(
    "notebook", sorted(n for n in os.listdir(os.path.join(ROOT, "exercises")) if n.endswith(".ipynb"))
)
def test_starter_notebooks_score_nothing_but_run(notebook, grader, rubrics):
    result = grader.grade(os.path.join(ROOT, "exercises", notebook))
    assert result.usable and result.assignment in rubrics
    assert result.score == 0
    assert not [e for e in result.errors if e.kind in ("kernel-died", "internal-error", "harness-failed")]
    assert all(not m.answer for m in result.manual), "placeholders are not answers"
