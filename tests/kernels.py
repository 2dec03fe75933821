"""Run code cells in real confined kernels and read names back as plain data (kernel-tier tests).

The cells run exactly as a student's would: a kernel from the grader's own backend (same
policy, same confinement), the cells executed by the grader's own nbclient driver, then the
harness reads the names. `run_together` runs several notebooks at the same time, for attacks
between neighbours.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import nbformat

from grader import plaindata
from grader.execute import Execution, execute_notebook
from grader.grading import Grader
from grader.limits import Limits


async def _run(grader: Grader, cells: list[str], names: list[str], limits: Limits | None) -> tuple[Execution, dict]:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    request = {
        "token": "t0k3n",
        "slot": "_d2l_grader_results_t0k3n",
        "fetches": [{"key": n, "kind": "name", "name": n} for n in names],
        "probes": "",
    }
    grader.start()
    kernel = await grader.backend.start_kernel(grader.new_scratch())
    execution = await execute_notebook(nb, kernel=kernel, limits=limits or grader.limits, harness_request=request)
    values: dict[str, Any] = {}
    for name in names:
        entry = (execution.fetched or {}).get(name, {})
        values[name] = plaindata.decode(entry["value"]) if entry.get("status") == "ok" else None
    return execution, values


def run_cells(
    grader: Grader, cells: list[str], names: list[str], limits: Limits | None = None
) -> tuple[Execution, dict[str, Any]]:
    return asyncio.run(_run(grader, cells, names, limits))


def run_together(grader: Grader, *notebooks: tuple[list[str], list[str]]) -> list[tuple[Execution, dict[str, Any]]]:
    """Run several (cells, names) notebooks in kernels alive at the same time."""

    async def all_of() -> list[tuple[Execution, dict[str, Any]]]:
        return list(await asyncio.gather(*(_run(grader, cells, names, None) for cells, names in notebooks)))

    return asyncio.run(all_of())


def outputs_text(execution: Execution) -> str:
    """Everything a run produced that a report could show (errors, sandbox report)."""
    return repr(execution.errors) + repr(execution.sandbox) + repr(execution.fetched)


# ----------------------------------------------------------------------------- as another user
_DRIVER = """
import json, sys
sys.path.insert(0, sys.argv[1])
from kernels import run_cells, run_together
from grader.grading import Grader
from grader.limits import Limits
from grader.policy import SandboxPolicy
spec = json.load(sys.stdin)
limits = Limits(**spec["limits"])
with Grader(limits, policy=SandboxPolicy.from_limits(limits, spec["backend"])) as grader:
    runs = run_together(grader, *[(n["cells"], n["names"]) for n in spec["notebooks"]])
print(json.dumps([{"sandbox": e.sandbox, "errors": repr(e.errors), "values": v} for e, v in runs], default=repr))
"""


@functools.cache
def unprivileged_python() -> tuple[str, dict[str, str]] | None:
    """An interpreter an unprivileged user can run with this environment's packages: the
    system's python of the same minor version, with our site-packages on PYTHONPATH (a
    venv's own interpreter usually lives below a home folder others cannot enter)."""
    import os
    import site
    import subprocess
    import sys

    python = f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}"
    if os.geteuid() != 0 or not os.path.exists(python):
        return None
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": "/tmp",
        "LANG": "C.UTF-8",
        "PYTHONPATH": os.pathsep.join([repo, *site.getsitepackages()]),
        "D2L_GRADER_COURSE": os.environ.get("D2L_GRADER_COURSE", repo),
    }
    probe = subprocess.run(
        ["su", "-s", "/bin/sh", "nobody", "-c", f"{python} -c 'import torch, grader.api'"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return (python, env) if probe.returncode == 0 else None


def run_as_nobody(
    backend: str, limits: Limits, *notebooks: tuple[list[str], list[str]], extra_env: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """Run notebooks like `run_together`, in a grader running as the unprivileged user nobody."""
    import dataclasses
    import json
    import os
    import shlex
    import subprocess

    found = unprivileged_python()
    assert found is not None
    python, env = found
    spec = {
        "backend": backend,
        "limits": dataclasses.asdict(limits),
        "notebooks": [{"cells": cells, "names": names} for cells, names in notebooks],
    }
    tests = os.path.dirname(os.path.abspath(__file__))
    command = f"cd /tmp && {python} -c {shlex.quote(_DRIVER)} {shlex.quote(tests)}"
    proc = subprocess.run(
        ["su", "-s", "/bin/sh", "nobody", "-c", command],
        input=json.dumps(spec),
        env={**env, **(extra_env or {})},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.splitlines()[-1])
