"""The project end to end: the README's example, `grader verify`, and the starter notebooks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from grader.course import load_course

ROOT = Path(__file__).resolve().parents[2]


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
