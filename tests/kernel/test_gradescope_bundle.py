"""The Gradescope bundle at work: the zip is unpacked into a fake /autograder (AUTOGRADER_ROOT)
and its run_autograder is run on real submissions with the bundle's engine on this
environment's interpreter (AUTOGRADER_PYTHON), as Gradescope would run it after setup.sh —
which stands for Gradescope because this environment is installed from the same lock as the
bundle's requirements.txt (checked here). The README's dry run is run as typed. setup.sh
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
from grader.course import load_course

NB = "conv-layer.ipynb"
FULL = load_course().get("conv-layer").max_score  # the bundle holds this checkout's course
ROOT = Path(__file__).resolve().parents[2]

# README.md, "Gradescope", typed in a checkout after the README's "Two commands": build the zip
# to upload, then try that zip. Kept here verbatim (the README shows these very lines).
README_BUILD = ".venv/bin/grader gradescope-bundle conv-layer --out autograder.zip"
README_DRY_RUN = """\
AG="$(mktemp -d)" && .venv/bin/python -m zipfile -e autograder.zip "$AG/source" && mkdir "$AG/submission" \\
  && cp examples/submission.ipynb "$AG/submission/conv-layer.ipynb" \\
  && AUTOGRADER_ROOT="$AG" AUTOGRADER_PYTHON="$PWD/.venv/bin/python" bash "$AG/source/run_autograder" \\
  && cat "$AG/results/results.json"
"""


def test_the_readme_shows_exactly_the_tested_dry_run():
    readme = (Path(ROOT) / "README.md").read_text(encoding="utf-8")
    assert README_BUILD in readme and README_DRY_RUN in readme


# session, not module: see "Expensive fixtures" in tests/conftest.py
@pytest.fixture(scope="session")
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


def _autograder(bundle, tmp_path, submission: dict[str, bytes], prepare=None, python=sys.executable, cwd=None):
    """Unpack the bundle as Gradescope does, add a submission, run run_autograder.
    `prepare(submission_folder, root)` may add what bytes cannot say (links, FIFOs); `python`
    is AUTOGRADER_PYTHON (None: the venv setup.sh makes); `cwd` where it runs (default: root)."""
    root = tmp_path / "autograder"
    _unpack(bundle, root)
    (root / "submission").mkdir()
    for name, data in submission.items():
        (root / "submission" / name).write_bytes(data)
    if prepare is not None:
        prepare(root / "submission", root)
    env = {**os.environ, "AUTOGRADER_ROOT": str(root)}
    for name in ("D2L_GRADER_COURSE", "AUTOGRADER_PYTHON", "PYTHONPATH"):
        env.pop(name, None)
    if python is not None:
        env["AUTOGRADER_PYTHON"] = python
    run = subprocess.run(
        [str(root / "run_autograder")], cwd=cwd or root, env=env, capture_output=True, text=True, timeout=120
    )
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
    # min-kernel-size now worth 5 rather than 1: all of it lost, 4 more points in the total
    assert (data["score"], sum(t["max_score"] for t in data["tests"])) == (FULL - 1, FULL + 4)
    (failed,) = [t for t in data["tests"] if t["status"] == "failed"]
    assert (failed["name"], failed["max_score"]) == ("ex4: min-kernel-size", 5)
    assert {t["status"] for t in data["tests"] if t is not failed} == {"passed"}


def test_run_autograder_explains_a_file_that_is_not_json(bundle, tmp_path):
    _, data, _ = _autograder(bundle, tmp_path, {NB: b"{ this is not json"})
    (test,) = data["tests"]
    assert (data["score"], test["status"], test["max_score"]) == (0, "failed", FULL)
    assert "not a notebook" in test["output"]


def test_run_autograder_without_a_notebook_still_writes_results(bundle, tmp_path):
    _, data, _ = _autograder(bundle, tmp_path, {"answers.txt": b"I forgot the notebook"})
    (test,) = data["tests"]
    assert (data["score"], test["status"], test["max_score"]) == (0, "failed", FULL)
    assert "No notebook" in test["output"] and NB in test["output"]


def test_run_autograder_writes_results_even_if_the_grader_cannot_start(bundle, tmp_path):
    root = tmp_path / "autograder"
    (root / "venv" / "bin").mkdir(parents=True)
    fake = root / "venv" / "bin" / "python"  # the interpreter setup.sh would have made
    fake.write_text("#!/bin/sh\nexit 3\n")
    fake.chmod(0o755)
    notebook = variant(NB, tmp_path)
    _, data, _ = _autograder(bundle, tmp_path, {NB: Path(notebook).read_bytes()}, python=None)
    assert data["score"] == 0 and "exit code 3" in data["tests"][0]["output"]


def test_run_autograder_without_an_interpreter_says_so_and_still_writes_results(bundle, tmp_path):
    """setup.sh never ran and no AUTOGRADER_PYTHON was given (a dry run typed without it)."""
    notebook = variant(NB, tmp_path)
    _, data, run = _autograder(bundle, tmp_path, {NB: Path(notebook).read_bytes()}, python=None)
    assert data["score"] == 0 and "exit code 127" in data["tests"][0]["output"]
    assert "set AUTOGRADER_PYTHON for a dry run" in run.stdout


def test_run_autograder_grades_with_the_bundles_engine_not_the_installed_or_nearby_one(bundle, tmp_path):
    """The interpreter has this checkout's grader installed, and run_autograder is started in the
    checkout (a `grader/` package in the current folder): still the bundle's engine grades."""
    marker = "graded by the engine inside the bundle"
    edited = tmp_path / "edited.zip"
    with zipfile.ZipFile(bundle) as src, zipfile.ZipFile(edited, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "engine/grader/reporters/gradescope.py":
                old = '"output": _overall_output(result),'
                assert old.encode() in data
                data = data.replace(old.encode(), f'"output": "{marker}\\n" + _overall_output(result),'.encode())
            dst.writestr(info, data)
    notebook = variant(NB, tmp_path)
    assert (ROOT / "grader" / "__init__.py").is_file()
    _, data, run = _autograder(edited, tmp_path, {NB: Path(notebook).read_bytes()}, cwd=ROOT)
    assert data["output"].startswith(marker + "\n"), run.stdout + run.stderr
    assert data["score"] == FULL


def _without_a_grader_command(path: str) -> str:
    """PATH minus every folder holding a `grader` command: the README must not need one."""
    return os.pathsep.join(d for d in path.split(os.pathsep) if d and not os.access(os.path.join(d, "grader"), os.X_OK))


def test_the_readme_dry_run_works_as_typed_in_a_checkout(tmp_path):
    """The README's two Gradescope commands, run verbatim in this checkout with nothing
    activated: the zip to upload is built, and the dry run grades the example submission
    (16 of conv-layer's points: its mistakes and missing v1.0 kernels, see test_end_to_end.py)
    with the bundle's engine on the checkout's .venv."""
    venv = ROOT / ".venv"
    if not (venv / "bin" / "grader").is_file() or Path(sys.prefix).resolve() != venv.resolve():
        pytest.skip("the README's commands use the checkout's .venv, which is not the environment under test")
    env = {k: v for k, v in os.environ.items() if k not in ("D2L_GRADER_COURSE", "VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = _without_a_grader_command(env.get("PATH", "/usr/bin:/bin"))
    env["TMPDIR"] = str(tmp_path)  # where the dry run's `mktemp -d` makes its fake /autograder
    target = ROOT / "autograder.zip"
    kept = tmp_path / "kept-autograder.zip"
    if target.exists():  # a zip of the developer's own: put back afterwards
        shutil.move(target, kept)
    try:
        build = subprocess.run(
            ["bash", "-c", README_BUILD], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )
        assert build.returncode == 0, build.stdout + build.stderr
        dry = subprocess.run(
            ["bash", "-c", README_DRY_RUN], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
        )
    finally:
        target.unlink(missing_ok=True)
        if kept.exists():
            shutil.move(kept, target)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    (results,) = tmp_path.glob("tmp.*/results/results.json")
    assert dry.stdout.endswith(results.read_text(encoding="utf-8"))
    data = json.loads(results.read_text(encoding="utf-8"))
    jsonschema.validate(data, GRADESCOPE_SCHEMA)
    assert (data["score"], sum(t["max_score"] for t in data["tests"])) == (16, FULL), data["output"] + dry.stderr


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
    would score full marks."""
    _, data, run = _autograder(bundle, tmp_path, {}, prepare)
    (test,) = data["tests"]
    assert (data["score"], test["status"], test["max_score"]) == (0, "failed", FULL)
    assert test["output"].startswith(refused), test["output"]
    assert f"not graded: {refused}" in run.stdout


def test_run_autograder_grades_the_real_notebook_beside_a_linked_one(bundle, tmp_path):
    notebook = variant(NB, tmp_path, {"    return d + 1": "    return d"})
    _, data, run = _autograder(
        bundle, tmp_path, {NB: Path(notebook).read_bytes()}, lambda f, r: _link_to_reference(f, r, "copy.ipynb")
    )
    assert data["score"] == FULL - 1 and "not graded: copy.ipynb is a symbolic link" in run.stdout


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
    venv setup.sh made (no AUTOGRADER_PYTHON)."""
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
    _, data, _ = _autograder(bundle, tmp_path, {NB: Path(notebook).read_bytes()}, python=None)
    assert (data["score"], sum(t["max_score"] for t in data["tests"])) == (FULL, FULL)
