"""The project end to end: the README's example, `grader verify`, and the starter notebooks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from grader.course import load_course

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_PATH = str(ROOT / "examples" / "submission.ipynb")
CONV_LAYER = load_course().get("conv-layer")  # the example's assignment


def test_example_submission_is_graded_with_its_two_mistakes(tmp_path):
    # under a temp folder as deep as a test runner's or macOS's, where a kernel's socket paths
    # would pass the 107-byte limit of a Unix socket's name
    deep = tmp_path / ("t" * 90)
    deep.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "grader", "check", "examples/submission.ipynb"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TMPDIR": str(deep)},
    )
    assert proc.returncode == 1, proc.stderr
    # 16 of the assignment's points: its two mistakes cost 4, and it has none of the v1.0-only
    # exercise's kernels (edge_kernel, blur_kernel), as README.md says
    assert f"Score: 16/{CONV_LAYER.max_score:g}" in proc.stdout
    assert "conv_matrix" in proc.stdout and "min_kernel_size" in proc.stdout


def test_verify_gives_every_reference_notebook_full_marks(course):
    proc = subprocess.run(
        [sys.executable, "-m", "grader", "verify"], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("ok   ") == len(course.assignments)


@pytest.mark.parametrize("assignment", list(load_course().assignments))
def test_starter_notebooks_score_nothing_but_run(assignment, grader, course):
    rubric = course.get(assignment)
    result = grader.grade(course.starter_notebook(rubric))
    assert result.usable and result.assignment == assignment
    assert result.score == 0 and result.max_score == rubric.max_score
    assert not [e for e in result.errors if e.kind in ("kernel-died", "internal-error", "harness-failed")]
    assert all(not m.answer for m in result.manual), "placeholders are not answers"


def test_a_broken_rubric_costs_only_its_own_assignment(tmp_path, course):
    """A typo in lenet.toml: `list` names it and exits 1, conv-layer still grades through `check`."""
    import os
    import shutil

    for folder in ("rubrics", "reference", "exercises"):
        shutil.copytree(Path(course.root, folder), tmp_path / folder)
    lenet = tmp_path / "rubrics" / "lenet.toml"
    lenet.write_text(lenet.read_text(encoding="utf-8").replace("points = 2\n", "pionts = 2\n", 1), encoding="utf-8")
    env = {**os.environ, "D2L_GRADER_COURSE": str(tmp_path)}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "grader", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
        )

    listed = run("list")
    assert listed.returncode == 1 and "unknown key `pionts`" in listed.stderr and "lenet.toml" in listed.stderr
    assert "conv-layer" in listed.stdout and "\nlenet " not in listed.stdout
    checked = run("check", EXAMPLE_PATH, "--format", "json")
    assert checked.returncode == 1, checked.stderr  # graded: two checks fail, as always
    assert '"score": 16.0' in checked.stdout
    assert "a rubric could not be loaded: lenet.toml" in checked.stderr


def test_check_of_one_exercise_runs_its_public_checks_only(grader):
    """`grader check --exercise ex3` while a student works on exercise 3: ex3's public checks
    (the example has a wrong conv_matrix), none of its hidden ones, no other exercise."""
    result = grader.grade(EXAMPLE_PATH, exercise="ex3")
    assert (result.assignment, result.exercise) == ("conv-layer", "ex3")
    assert {c.id: c.status for c in result.checks} == {
        "corr2d-matmul-example": "passed",
        "conv-matrix-example": "failed",
    }
    assert (result.score, result.max_score) == (1.0, 2.0)
    assert [m.id for m in result.manual] == ["ex3-form"]


def test_check_of_an_exercise_the_assignment_lacks_is_one_line_and_exit_2():
    proc = subprocess.run(
        [sys.executable, "-m", "grader", "check", "examples/submission.ipynb", "--exercise", "ex9"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stderr
    exercises = ", ".join(e.id for e in CONV_LAYER.exercises)  # section, ex1, ..., as the rubric lists them
    assert (
        proc.stderr.strip().splitlines()[-1] == f"grader: no exercise 'ex9' in conv-layer; its exercises: {exercises}"
    )
    assert "Traceback" not in proc.stderr


def test_a_student_without_root_grades_the_reference_at_full_marks_on_the_portable_backend():
    """A student's own machine: `grader check` as an ordinary user (here `nobody`) with the
    portable backend gives the reference notebook every point, and says which protections are off."""
    import json

    from kernels import unprivileged_python

    found = unprivileged_python()
    if found is None:
        pytest.skip("no interpreter the unprivileged user nobody can run with these packages")
    python, env = found
    notebook = ROOT / "reference" / "conv-layer.ipynb"
    command = f"cd /tmp && {python} -m grader check {notebook} --backend portable --format json"
    proc = subprocess.run(
        ["su", "-s", "/bin/sh", "nobody", "-c", command], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    full = CONV_LAYER.max_score
    assert (result["assignment"], result["score"], result["max_score"]) == ("conv-layer", full, full)
    assert result["errors"] == [] and result["sandbox"]["backend"] == "portable"
    assert result["warnings"], "the portable backend says which protections are off"
