"""The Gradescope bundle at work: the zip is unpacked into a fake /autograder (AUTOGRADER_ROOT)
and its run_autograder is run on real submissions with the grader of this environment, as
Gradescope would run it after setup.sh — which stands for Gradescope because this environment
is installed from the same lock as the bundle's requirements.txt (checked here). setup.sh
itself is run on request (D2L_GRADER_TEST_SETUP_SH=1): it installs from PyPI and PyTorch's
CPU index, minutes of downloads."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import jsonschema
import pytest
from ci_schemas import GRADESCOPE_SCHEMA
from click.testing import CliRunner
from nbfactory import variant
from packaging.version import Version

from grader import cli, environment

NB = "conv-layer.ipynb"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("bundle") / "autograder.zip"
    result = CliRunner().invoke(cli.main, ["gradescope-bundle", "conv-layer", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def _unpack(bundle, root: Path) -> None:
    """Unpack the bundle as Gradescope does."""
    (root / "source").mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(bundle) as zf:
        zf.extractall(root / "source")
    for script in ("setup.sh", "run_autograder"):
        os.chmod(root / "source" / script, 0o755)
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")


def _autograder(bundle, tmp_path, submission: dict[str, bytes], prepare=None):
    """Unpack the bundle as Gradescope does, add a submission, run run_autograder.
    `prepare(submission_folder, root)` may add what bytes cannot say (links, FIFOs)."""
    root = tmp_path / "autograder"
    _unpack(bundle, root)
    (root / "submission").mkdir()
    for name, data in submission.items():
        (root / "submission" / name).write_bytes(data)
    if prepare is not None:
        prepare(root / "submission", root)
    env = {
        **os.environ,
        "AUTOGRADER_ROOT": str(root),
        "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
    }
    env.pop("D2L_GRADER_COURSE", None)
    run = subprocess.run([str(root / "run_autograder")], cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    data = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(data, GRADESCOPE_SCHEMA)
    return root, data, run


def test_run_autograder_uses_the_bundled_rubric(bundle, tmp_path):
    """A wrong answer, graded with the bundle's own rubric edited to make that check worth 5:
    the score follows the bundled course content, not the grader's own folder."""
    notebook = variant(NB, tmp_path, {"    return d + 1": "    return d"}, name="student.ipynb")
    # Gradescope keeps the uploaded name; the notebook is found even when it is not conv-layer.ipynb
    with zipfile.ZipFile(bundle) as zf:
        rubric = zf.read("course/rubrics/conv-layer.toml").decode()
    block = 'id = "min-kernel-size"\nexercise = "ex4"\npoints = 1\n'
    assert block in rubric
    edited = tmp_path / "edited.zip"
    with zipfile.ZipFile(bundle) as src, zipfile.ZipFile(edited, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "course/rubrics/conv-layer.toml":
                data = rubric.replace(block, block.replace("points = 1", "points = 5")).encode()
            dst.writestr(info, data)
    _, data, run = _autograder(edited, tmp_path, {"student.ipynb": Path(notebook).read_bytes()})
    assert "grading student.ipynb" in run.stdout
    assert (data["score"], sum(t["max_score"] for t in data["tests"])) == (19, 24)
    (failed,) = [t for t in data["tests"] if t["status"] == "failed"]
    assert (failed["name"], failed["max_score"]) == ("ex4: min-kernel-size", 5)
    assert {t["status"] for t in data["tests"] if t is not failed} == {"passed"}


def test_run_autograder_explains_a_file_that_is_not_json(bundle, tmp_path):
    _, data, _ = _autograder(bundle, tmp_path, {NB: b"{ this is not json"})
    (test,) = data["tests"]
    assert (data["score"], test["status"], test["max_score"]) == (0, "failed", 20)
    assert "not a notebook" in test["output"]


def test_run_autograder_without_a_notebook_still_writes_results(bundle, tmp_path):
    _, data, _ = _autograder(bundle, tmp_path, {"answers.txt": b"I forgot the notebook"})
    (test,) = data["tests"]
    assert (data["score"], test["status"], test["max_score"]) == (0, "failed", 20)
    assert "No notebook" in test["output"] and NB in test["output"]


def test_run_autograder_writes_results_even_if_the_grader_cannot_start(bundle, tmp_path):
    root = tmp_path / "autograder"
    (root / "venv" / "bin").mkdir(parents=True)
    fake = root / "venv" / "bin" / "grader"  # first on run_autograder's PATH
    fake.write_text("#!/bin/sh\nexit 3\n")
    fake.chmod(0o755)
    notebook = variant(NB, tmp_path)
    _, data, _ = _autograder(bundle, tmp_path, {NB: Path(notebook).read_bytes()})
    assert data["score"] == 0 and "exit code 3" in data["tests"][0]["output"]


def _link_to_reference(folder, root, name=NB):
    (folder / name).symlink_to(root / "source" / "course" / "reference" / NB)


@pytest.mark.parametrize(
    ("prepare", "refused"),
    [
        (_link_to_reference, f"{NB} is a symbolic link"),
        (lambda folder, root: (folder / NB).symlink_to("/etc/shadow"), f"{NB} is a symbolic link"),
        (lambda folder, root: os.mkfifo(folder / NB), f"{NB} is not a regular file"),
        (lambda folder, root: (folder / NB).mkdir(), f"{NB} is not a regular file"),
        (
            lambda folder, root: os.link(root / "source" / "course" / "reference" / NB, folder / NB),
            f"{NB} has several hard links",
        ),
        (lambda folder, root: _link_to_reference(folder, root, "other.ipynb"), "other.ipynb is a symbolic link"),
    ],
)
def test_run_autograder_refuses_links_and_special_files(bundle, tmp_path, prepare, refused):
    """A submission is read, never followed: the bundle's own reference notebook behind a link
    would score 20/20."""
    _, data, run = _autograder(bundle, tmp_path, {}, prepare)
    (test,) = data["tests"]
    assert (data["score"], test["status"], test["max_score"]) == (0, "failed", 20)
    assert test["output"].startswith(refused), test["output"]
    assert f"not graded: {refused}" in run.stdout


def test_run_autograder_grades_the_real_notebook_beside_a_linked_one(bundle, tmp_path):
    notebook = variant(NB, tmp_path, {"    return d + 1": "    return d"})
    _, data, run = _autograder(
        bundle, tmp_path, {NB: Path(notebook).read_bytes()}, lambda f, r: _link_to_reference(f, r, "copy.ipynb")
    )
    assert data["score"] == 19 and "not graded: copy.ipynb is a symbolic link" in run.stdout


def test_this_environment_is_the_bundles_lock(bundle):
    """The tests above grade with this environment in place of the venv setup.sh builds from
    the bundle's requirements.txt: they speak for Gradescope only if the two are the same."""
    with zipfile.ZipFile(bundle) as zf:
        locked = environment.pins(zf.read("requirements.txt").decode())
    drift = {}
    for name, version in locked.items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = "not installed"
        if installed == "not installed" or Version(installed) != Version(version):
            drift[name] = f"{installed}, locked {version}"
    assert not drift, (
        f"this environment is not the grader's lock ({environment.LOCK_PATH}): {drift}; install with "
        "`pip install -c requirements/dev.txt -e '.[test,dask,lint]'` (requirements/README.md)"
    )


@pytest.mark.skipif(
    os.environ.get("D2L_GRADER_TEST_SETUP_SH") != "1",
    reason="downloads the whole lock (PyPI, PyTorch's CPU index): set D2L_GRADER_TEST_SETUP_SH=1",
)
@pytest.mark.timeout(1500)
def test_setup_sh_builds_a_venv_from_the_lock_that_grades(bundle, tmp_path):
    """What Gradescope does with the zip, start to end: setup.sh, then run_autograder with the
    venv setup.sh made (first on run_autograder's PATH)."""
    root = tmp_path / "autograder"
    _unpack(bundle, root)
    env = {**os.environ, "AUTOGRADER_ROOT": str(root)}
    env.pop("D2L_GRADER_COURSE", None)
    env.pop("VIRTUAL_ENV", None)
    setup = subprocess.run(
        ["bash", str(root / "source" / "setup.sh")], env=env, capture_output=True, text=True, timeout=1400
    )
    assert setup.returncode == 0, setup.stdout[-3000:] + setup.stderr[-3000:]
    freeze = subprocess.run(
        [str(root / "venv" / "bin" / "python"), "-m", "pip", "freeze", "--all"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    installed = {k: v for k, v in environment.pins(freeze).items() if k not in ("d2l-grader", "pip")}
    with zipfile.ZipFile(bundle) as zf:
        assert installed == environment.pins(zf.read("requirements.txt").decode())
    notebook = variant(NB, tmp_path)
    _, data, _ = _autograder(bundle, tmp_path, {NB: Path(notebook).read_bytes()})
    assert (data["score"], sum(t["max_score"] for t in data["tests"])) == (20, 20)
