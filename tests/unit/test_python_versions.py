"""Students run `grader check` on Python 3.10 to 3.13 (pyproject's requires-python); the lock
and CI use 3.11. So the engine must not use what 3.10 lacks, nor what 3.12/3.13 removed.

vermin (a well-kept static checker of the minimum Python version a file needs) finds APIs and
syntax newer than 3.10; each interpreter pyenv has here compiles every engine file; and the
behaviours that differ between versions without an API changing are pinned here."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grader.lateness import from_iso

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENGINE = os.path.join(ROOT, "grader")
SUPPORTED = ("3.10", "3.11", "3.12", "3.13")


def test_requires_python_is_the_supported_range():
    try:
        import tomllib
    except ImportError:  # pragma: no cover - 3.10
        import tomli as tomllib
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        assert tomllib.load(f)["project"]["requires-python"] == ">=3.10,<3.14"


def test_the_engine_needs_nothing_newer_than_python_3_10():
    vermin = shutil.which("vermin", path=os.path.dirname(sys.executable)) or shutil.which("vermin")
    if vermin is None:
        pytest.skip("vermin is not installed (pip install -e '.[test]')")
    proc = subprocess.run(
        [vermin, "--target=3.10-", "--no-tips", "--violations", "--quiet", ENGINE],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _interpreter(version: str) -> str | None:
    """That Python, if this machine has one that runs (pyenv's own copies first: its shims
    exist for every version and fail for those not selected)."""
    pyenv = sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}.*/bin/python")))
    for candidate in [*pyenv, shutil.which(f"python{version}")]:
        if candidate and subprocess.run([candidate, "--version"], capture_output=True).returncode == 0:
            return candidate
    return None


@pytest.mark.parametrize("version", SUPPORTED)
def test_every_engine_file_compiles_on_each_supported_python(version, tmp_path):
    python = _interpreter(version)
    if python is None:
        pytest.skip(f"no Python {version} on this machine")
    code = (
        "import pathlib, sys\n"
        "for path in sorted(pathlib.Path(sys.argv[1]).rglob('*.py')):\n"
        "    compile(path.read_text(encoding='utf-8'), str(path), 'exec')\n"
    )
    proc = subprocess.run([python, "-c", code, ENGINE], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


@given(
    st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1)),
    st.sampled_from(["minutes", "seconds", "milliseconds", "microseconds"]),
    st.one_of(st.none(), st.integers(min_value=-14 * 60, max_value=14 * 60)),
)
def test_times_read_the_same_on_every_python(moment, spec, offset_minutes):
    """What `fromisoformat` reads on 3.11+, `from_iso` reads on 3.10 too (LMS exports write `Z`)."""
    if offset_minutes is not None:
        moment = moment.replace(tzinfo=timezone(timedelta(minutes=offset_minutes)))
    text = moment.isoformat(timespec=spec)
    assert from_iso(text) == datetime.fromisoformat(text)
    if offset_minutes == 0:
        assert from_iso(text.replace("+00:00", "Z")) == from_iso(text)


def test_the_engine_imports_where_linux_only_modules_are_missing():
    """On Windows `grader check` runs the portable backend: importing the engine must not need
    resource, fcntl, pwd or the C library's Linux calls (they load only for the fork server)."""
    code = (
        "import sys\n"
        "for name in ('resource', 'fcntl', 'pwd', 'grp', 'termios'):\n"
        "    sys.modules[name] = None  # importing them raises ImportError, as on Windows\n"
        "import grader.api, grader.grading, grader.cli, grader.commands.check, grader.judge_server, grader.jupyter\n"
        "from grader.policy import SandboxPolicy\n"
        "from grader.limits import Limits\n"
        "policy = SandboxPolicy.from_limits(Limits())\n"
        "print(policy.with_backend('auto').chosen_backend() in ('forkserver', 'portable'))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "True", proc.stderr
