"""`grader init-ci github`: the GitHub Actions workflow for a student repository template.

The workflow installs CPU-only torch and the grader at the versions of the grader's lock
(written next to it as .github/grader-requirements.txt, see grader/environment.py), fetches
the course's rubrics and reference from a repository students cannot see, grades the notebook
with `--format github` (after refusing a notebook that is a link, lies in a linked folder or
is not a regular, singly-linked file), hands the points to GitHub Classroom through
`classroom-resources/autograding-grading-reporter` (partial credit: one test per check) and
keeps the JSON and JUnit reports as an artifact.
Those reports carry what `grader check` shows a student: hidden checks' inputs never appear.
"""

from __future__ import annotations

import json
import os
import re

from . import environment
from .files import write_atomic
from .rubric import Rubric

WORKFLOW_PATH = os.path.join(".github", "workflows", "grade.yml")
# The grader's lock, written beside the workflow: `pip install -c` keeps every package at its version.
LOCK_PATH = os.path.join(".github", "grader-requirements.txt")
# A placeholder the instructor replaces with where the course publishes the grader.
GRADER_PACKAGE = "d2l-grader @ git+https://github.com/YOUR-COURSE/d2l-grader@v0.1.0"
COURSE_REPOSITORY = "YOUR-COURSE/d2l-course-content"
_SAFE_NOTEBOOK = re.compile(r"^[A-Za-z0-9_.\- /]+\.ipynb$")


class CIError(ValueError):
    """The workflow cannot be written as asked; str() is the one-line reason."""


_TEMPLATE = """\
# GitHub Classroom autograding for "{assignment}" ({title}), written by `grader init-ci github`.
#
# Edit the two places marked EDIT before you use this repository as an assignment template:
#   1. GRADER_PACKAGE: where your course publishes the grader, pinned to a tag or commit.
#   2. The "Fetch the rubric" step: the private repository holding your rubrics/ and
#      reference/ folders, and an organisation secret COURSE_CONTENT_TOKEN (a fine-grained
#      token with read access to it) shared with the student repositories.
# {lock_path}, written with this file, is the grader's lock: every package at the
# version the grader grades with. It must come from the same release as GRADER_PACKAGE: when you
# move GRADER_PACKAGE to another release, replace it with that release's
# grader/grading-requirements.txt.
# Reports show students what `grader check` shows them; hidden checks' inputs never appear.
# Anything this workflow can read, a student who edits it can read too: see "Using it in CI"
# in the grader's README before relying on hidden checks for credit.
name: Autograding Tests
on:
  push:
  workflow_dispatch:
  repository_dispatch:
permissions:
  checks: write
  actions: read
  contents: read
jobs:
  run-autograding-tests:
    name: Autograding Tests
    runs-on: ubuntu-latest
    if: github.actor != 'github-classroom[bot]'
    timeout-minutes: 30
    env:
      # EDIT: the grader as your course publishes it (pin a tag or a commit).
      GRADER_PACKAGE: {package}
      NOTEBOOK: {notebook}
      ASSIGNMENT: {assignment_json}
      D2L_GRADER_COURSE: ${{{{ github.workspace }}}}/.course
    steps:
      - name: Check out the submission
        uses: actions/checkout@v4
      - name: Fetch the rubric and reference (kept out of the student's repository)
        uses: actions/checkout@v4
        with:
          repository: {course_repository}  # EDIT
          ref: main  # EDIT: pin the course release
          token: ${{{{ secrets.COURSE_CONTENT_TOKEN }}}}
          path: .course
          sparse-checkout: |
            rubrics
            reference
      - name: Set up Python
        uses: actions/setup-python@v5
        with:
          python-version: "3.11"
      - name: Install the grader (locked versions, CPU-only torch)
        run: |
          python -m pip install --upgrade pip
          python -m pip install {torch_pip_args}
          python -m pip install -c {lock_path} "$GRADER_PACKAGE"
          python -m pip install {d2l_pip_args}
      - name: Refuse a notebook that is a link
        # Graded are only the student's own files: a committed symbolic link (say, to the course
        # checkout's reference notebook), a notebook inside a linked folder, or anything but a
        # regular file with a single name is refused before anything reads it.
        run: |
          if [ ! -e "$NOTEBOOK" ] && [ ! -L "$NOTEBOOK" ]; then
            exit 0  # missing: grader check reports it, with 0 points
          fi
          resolved="$(realpath -e -- "$NOTEBOOK" 2>/dev/null || true)"
          expected="$(realpath -m -s -- "$(pwd -P)/$NOTEBOOK")"
          if [ -L "$NOTEBOOK" ] || [ "$resolved" != "$expected" ]; then
            echo "::error file=$NOTEBOOK::$NOTEBOOK is a symbolic link (or lies in a linked folder): the grader never follows links. Commit the notebook file itself."
            exit 1
          fi
          if [ ! -f "$NOTEBOOK" ]; then
            echo "::error file=$NOTEBOOK::$NOTEBOOK is not a regular file. Commit the notebook file itself."
            exit 1
          fi
          if [ "$(stat -c %h -- "$NOTEBOOK")" != 1 ]; then
            echo "::error file=$NOTEBOOK::$NOTEBOOK has several hard links. Commit a plain copy of the notebook."
            exit 1
          fi
      - name: Grade the notebook
        id: grader
        run: >-
          grader check "$NOTEBOOK" --assignment "$ASSIGNMENT" --format github --exit-zero
          --report json=grading/result.json --report junit=grading/junit.xml
      - name: Report the points to GitHub Classroom
        if: ${{{{ always() && steps.grader.outputs.result != '' }}}}
        uses: classroom-resources/autograding-grading-reporter@v1
        env:
          GRADER_RESULTS: ${{{{ steps.grader.outputs.result }}}}
          GITHUB_TOKEN: ${{{{ secrets.GITHUB_TOKEN }}}}
        with:
          runners: grader
      - name: Keep the JSON and JUnit reports
        if: ${{{{ always() }}}}
        uses: actions/upload-artifact@v4
        with:
          name: grading-report
          path: grading/
          if-no-files-found: ignore
"""


def github_workflow(rubric: Rubric, notebook: str | None = None) -> str:
    """The workflow text for one assignment; `notebook` defaults to the rubric's notebook."""
    name = notebook or rubric.notebook
    if not _SAFE_NOTEBOOK.match(name) or ".." in name.split("/"):
        raise CIError(
            f"{name!r}: the notebook must be a relative .ipynb path of letters, digits, '_', '-', '.', '/' and spaces"
        )
    return _TEMPLATE.format(
        assignment=rubric.id,
        assignment_json=json.dumps(rubric.id),
        title=rubric.title.replace("\n", " "),
        notebook=json.dumps(name),
        package=json.dumps(GRADER_PACKAGE),
        course_repository=COURSE_REPOSITORY,
        torch_pip_args=environment.TORCH_PIP_ARGS,
        d2l_pip_args=environment.D2L_PIP_ARGS,
        lock_path=LOCK_PATH.replace(os.sep, "/"),
    )


def write_github_workflow(directory: str, rubric: Rubric, notebook: str | None = None, force: bool = False) -> str:
    """Write `.github/workflows/grade.yml` and the lock it installs from under `directory`.

    Returns the workflow's path. Nothing is written if either file exists, unless `force`.
    """
    text = github_workflow(rubric, notebook)
    try:
        lock = environment.lock_text()
    except FileNotFoundError as exc:
        raise CIError(str(exc)) from None
    files = {os.path.join(directory, WORKFLOW_PATH): text, os.path.join(directory, LOCK_PATH): lock}
    if not force:
        for path in files:
            if os.path.exists(path):
                raise CIError(f"{path} already exists (use --force to overwrite it)")
    for path, content in files.items():
        write_atomic(path, content)
    return os.path.join(directory, WORKFLOW_PATH)
