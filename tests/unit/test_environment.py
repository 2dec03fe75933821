"""The grading environment: one torch version and CPU index (grader/environment.py), and locks
(grader/grading-requirements.txt, requirements/dev.txt) that agree with pyproject.toml and
with each other, so the grader, its tests, Gradescope and GitHub Actions run the same numerics."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from grader import environment

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
GRADING = environment.lock_text()
DEV = (ROOT / "requirements" / "dev.txt").read_text(encoding="utf-8")


def _requirements(*extras: str) -> list[Requirement]:
    texts = list(PROJECT["dependencies"])
    for extra in extras:
        texts += PROJECT["optional-dependencies"][extra]
    return [Requirement(t) for t in texts]


def _unsatisfied(requirements: list[Requirement], lock: str) -> list[str]:
    pins = environment.pins(lock)
    missing = []
    for req in requirements:
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue  # e.g. tomli, for Pythons older than the locks' 3.11
        version = pins.get(canonicalize_name(req.name))
        if version is None or not req.specifier.contains(version, prereleases=True):
            missing.append(f"{req} (locked: {version})")
    return missing


def test_torch_version_is_the_one_pyproject_requires_and_the_locks_pin_as_the_cpu_build():
    (torch,) = [r for r in _requirements() if r.name == "torch"]
    assert str(torch.specifier) == f"=={environment.TORCH_VERSION}"
    assert f"torch=={environment.TORCH_VERSION}+cpu" == environment.TORCH_CPU_REQUIREMENT
    for lock in (GRADING, DEV):
        assert environment.pins(lock)["torch"] == f"{environment.TORCH_VERSION}+cpu"
    assert environment.TORCH_PIP_ARGS.split() == [
        "--no-deps",
        "--index-url",
        environment.TORCH_CPU_INDEX,
        environment.TORCH_CPU_REQUIREMENT,
        environment.TORCHVISION_CPU_REQUIREMENT,
    ]


def test_torchvision_and_d2l_are_installed_the_way_the_locks_and_readme_say():
    """torchvision: pyproject and both locks pin the release the CPU build satisfies; d2l:
    installed without dependencies by the README's commands, CI, Gradescope and the workflow."""
    (torchvision,) = [r for r in _requirements() if r.name == "torchvision"]
    assert str(torchvision.specifier) == f"=={environment.TORCHVISION_VERSION}"
    assert f"torchvision=={environment.TORCHVISION_VERSION}+cpu" == environment.TORCHVISION_CPU_REQUIREMENT
    for lock in (GRADING, DEV):
        assert environment.pins(lock)["torchvision"] == environment.TORCHVISION_VERSION
        assert "d2l" not in environment.pins(lock)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme.count(f"pip install {environment.D2L_PIP_ARGS}") >= 2
    assert f"pip install {environment.D2L_PIP_ARGS}" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


@pytest.mark.parametrize(("lock", "extras"), [(GRADING, ()), (DEV, ("test", "dask", "lint"))], ids=["grading", "dev"])
def test_each_lock_satisfies_pyproject(lock, extras):
    """A dependency added to pyproject.toml without requirements/compile.sh fails here."""
    assert _unsatisfied(_requirements(*extras), lock) == []


@pytest.mark.parametrize("lock", [GRADING, DEV], ids=["grading", "dev"])
def test_locks_are_fully_pinned_and_name_no_index_or_local_path(lock):
    lines = [line for line in lock.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert lines and all(re.fullmatch(r"[a-z0-9][a-z0-9.-]*==[^\s;]+", line) for line in lines), lines
    assert "numpy" in environment.pins(lock)  # 'identical numerics' covers numpy too


def test_dev_lock_runs_the_tests_on_the_grading_versions():
    grading, dev = environment.pins(GRADING), environment.pins(DEV)
    assert {name: dev.get(name) for name in grading} == grading


def test_libraries_whose_private_methods_we_override_are_bounded_above():
    for name in ("nbclient", "jupyter-client", "ipykernel"):
        (req,) = [r for r in _requirements() if canonicalize_name(r.name) == name]
        assert any(spec.operator == "<" for spec in req.specifier), req


def test_pins_reads_name_and_version_of_pinned_lines_only():
    text = "# comment\nNumPy==2.4.6\n    # via x\ntyping_extensions==4.16.0 ; python_version < '4'\nfoo>=1\n"
    assert environment.pins(text) == {"numpy": "2.4.6", "typing-extensions": "4.16.0"}
