"""The project as a newcomer meets it: README commands, CI, notebooks in sync, the course listed,
and course content that imports only the content API."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section)


def test_ci_runs_the_readme_test_command():
    install_and_grade, install_and_test = readme_commands()
    assert "grader check examples/submission.ipynb" in install_and_grade
    assert "pytest" in install_and_test
    assert install_and_test in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def run_grader(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "grader", *args], cwd=ROOT, capture_output=True, text=True, timeout=120, env=env
    )


def test_list_shows_every_assignment_of_the_course_in_section_order(course):
    proc = run_grader("list")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    ids = [line.split()[0] for line in lines if line and not line.startswith((" ", "#"))]
    assert ids == list(course.assignments) and len(ids) >= 6
    assert lines[0] == f"# {course.title} ({course.numbering})"
    for rubric in course.assignments.values():
        assert f"{rubric.id:<22} {rubric.section:<5} {rubric.title} — {rubric.max_score:g} points" in lines


def test_starter_and_solved_notebooks_are_built_from_their_sources():
    proc = run_grader("build-notebooks", "--check")
    assert proc.returncode == 0, proc.stderr


def test_build_notebooks_check_notices_a_stale_notebook(tmp_path):
    import shutil

    for folder in ("rubrics", "reference", "exercises"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    stale = tmp_path / "exercises" / "conv-layer.ipynb"
    stale.write_text(stale.read_text(encoding="utf-8").replace("corr2d", "corr2e"), encoding="utf-8")
    proc = run_grader("build-notebooks", "--check", env={**os.environ, "D2L_GRADER_COURSE": str(tmp_path)})
    assert proc.returncode == 1
    assert proc.stderr.strip() == "out of date: exercises/conv-layer.ipynb (run `grader build-notebooks`)"


def _grader_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "grader")
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "grader":
            found.add(node.module)
    return found


def test_course_content_imports_only_the_content_api(course):
    content = [
        *Path(course.root, "rubrics").glob("*.py"),
        *Path(course.root, "reference").glob("*.py"),
        *Path(course.root, "exercises", "sources").glob("*.py"),
    ]
    assert len(content) >= 12
    offenders = {str(p.relative_to(course.root)): _grader_imports(p) - {"grader.content"} for p in content}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_guard_recognises_engine_imports(tmp_path):
    bad = tmp_path / "bad_checks.py"
    bad.write_text("import grader.compare\nfrom grader.planning import plan\nfrom grader.content import CheckFailed\n")
    assert _grader_imports(bad) == {"grader.compare", "grader.planning", "grader.content"}
