"""The grading environment, in one place: torch's version and CPU index, and the lock.

Every grade must come out of the same numerics, on an instructor's machine, on Gradescope and
in GitHub Actions. So the grader runs with exactly the versions in one lock file, compiled by
pip-tools (requirements/compile.sh) for Linux, Python 3.11 and the CPU build of torch. It
ships inside this package, so `grader gradescope-bundle` (requirements.txt) and
`grader init-ci github` (.github/grader-requirements.txt) can embed it.

The lock pins torch as `torch==<TORCH_VERSION>+cpu`: only PyTorch's CPU index (and a local
CPU wheel) has that version, so a pip that cannot see the CPU build fails instead of
fetching the CUDA one from PyPI. Install torch first, alone, from TORCH_CPU_INDEX
(`pip install TORCH_PIP_ARGS`), then everything else from the lock.

This module is read by requirements/compile.sh with runpy: standard library only.
"""

from __future__ import annotations

import os
import re

TORCH_VERSION = "2.13.0"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
TORCH_CPU_REQUIREMENT = f"torch=={TORCH_VERSION}+cpu"
# torchvision's release for that torch. The lock pins it without a label (PyPI's wheel, built
# against PyPI's CUDA torch: next to the CPU torch its compiled operators cannot load, and
# grader.book makes it importable anyway); installed first from the CPU index, its CPU build
# satisfies the same pin and loads them.
TORCHVISION_VERSION = "0.28.0"
TORCHVISION_CPU_REQUIREMENT = f"torchvision=={TORCHVISION_VERSION}+cpu"
# `pip install` arguments for the CPU builds of torch and torchvision alone (their dependencies
# come from the lock).
TORCH_PIP_ARGS = f"--no-deps --index-url {TORCH_CPU_INDEX} {TORCH_CPU_REQUIREMENT} {TORCHVISION_CPU_REQUIREMENT}"
# The book's own package (`from d2l import torch as d2l`). Its 2023 pins (numpy 1.23.5,
# matplotlib 3.7.2, ...) cannot be locked beside ours, so it is installed on its own, without
# dependencies: what it imports is in pyproject.toml's dependencies, hence in the lock.
D2L_REQUIREMENT = "d2l==1.0.3"
D2L_PIP_ARGS = f"--no-deps {D2L_REQUIREMENT}"

LOCK_NAME = "grading-requirements.txt"
LOCK_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), LOCK_NAME)

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)")


def lock_text() -> str:
    """The packaged lock; FileNotFoundError (saying what to do) if this install lacks it."""
    try:
        with open(LOCK_PATH, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{LOCK_PATH}: the grader's lock file is missing from this installation; "
            "install the grader from its repository (pip install -e .) or a release that ships it"
        ) from None


def pins(text: str) -> dict[str, str]:
    """`name==version` lines of a requirements file, as {normalized name: version}."""
    found = {}
    for line in text.splitlines():
        match = _PIN.match(line.strip())
        if match:
            found[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(2)
    return found
